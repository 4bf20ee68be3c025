"""Time the training run: `python benchmarks/bench_training.py [--full]`.

Default: the quick configuration on a slice (3 areas per level). `--full` runs the real benchmark
(all candidates, all levels) into a temporary folder and prints the wall time against the
10-minute budget. Reads the data from OASIS_DATA_DIR (default: ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from oasis_training.cli import main

BUDGET_SECONDS = 600


def run(full: bool) -> dict[str, object]:
    data_dir = os.environ.get("OASIS_DATA_DIR",
                              str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    with tempfile.TemporaryDirectory() as out:
        args = ["--data-dir", data_dir, "--out", out, "--no-mlflow"]
        if not full:
            args += ["--quick", "--limit-areas", "3"]
        load_before = os.getloadavg()
        start = time.perf_counter()
        cpu_start = os.times()
        main(args)
        seconds = time.perf_counter() - start
        cpu = os.times()
        cpu_seconds = (cpu.children_user + cpu.children_system + cpu.user + cpu.system) - (
            cpu_start.children_user + cpu_start.children_system + cpu_start.user
            + cpu_start.system)
        load_after = os.getloadavg()
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {
        "configuration": "full" if full else "quick slice",
        "wall_seconds": round(seconds, 1),
        "budget_seconds": BUDGET_SECONDS,
        "within_budget": seconds <= BUDGET_SECONDS,
        "cpu_seconds": round(cpu_seconds, 1),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "note": "the machine is shared: wall time grows with the load average; CPU seconds "
                "(this process and its workers) over 2 cores bound the time on a quiet machine",
        "champions": {lvl: (b["champion"], b["champion_ratio_to_naive"])
                      for lvl, b in metrics["levels"].items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    print(json.dumps(run(parser.parse_args().full), indent=2))
