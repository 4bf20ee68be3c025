"""Time loading the newest edition and building the three levels (department, region, country).

Usage: OASIS_DATA_DIR=../shared/data python benchmarks/bench_data.py [--repeat N]

Prints the median and best wall time of a cold build (the dataset cache is bypassed), next to the
time of merely reading the file's bytes and of a bare ``pandas.read_csv`` of the same file, measured
side by side in the same run, so that the ratios mean something on a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pandas as pd

from oasis_mcp import config
from oasis_mcp.data.dataset import build_dataset
from oasis_mcp.data.editions import discover_editions
from oasis_mcp.data.parsing import read_ssmsi_file

TARGET_MS = 300.0


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    directory = config.data_dir()
    edition = discover_editions(directory)[0]
    assert edition.department_file is not None
    path = edition.department_file

    def full() -> object:
        deps = read_ssmsi_file(path, "department")
        regs = read_ssmsi_file(edition.region_file, "region") if edition.region_file else None
        return build_dataset(edition, deps, regs)

    def bare_read_csv() -> object:
        return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype=str)

    full()  # warm imports and the OS file cache
    results: dict[str, list[float]] = {"load + validate + 3 levels": [], "pandas.read_csv only": [],
                                       "read bytes only": []}
    for _ in range(args.repeat):  # interleaved, so that noise hits all three alike
        results["load + validate + 3 levels"] += _time(full, 1)
        results["pandas.read_csv only"] += _time(bare_read_csv, 1)
        results["read bytes only"] += _time(path.read_bytes, 1)

    print(f"edition {edition.id}: {path.name} ({path.stat().st_size:,} bytes)"
          + (f" + {edition.region_file.name}" if edition.region_file else ""))
    base = statistics.median(results["pandas.read_csv only"])
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:<28} median {med:8.1f} ms   best {min(times):8.1f} ms   "
              f"ratio to bare read_csv {med / base:5.2f}")
    med = statistics.median(results["load + validate + 3 levels"])
    verdict = "OK" if med <= TARGET_MS else "OVER TARGET"
    print(f"target ≤ {TARGET_MS:.0f} ms for the full build: {med:.1f} ms → {verdict}")


if __name__ == "__main__":
    main()
