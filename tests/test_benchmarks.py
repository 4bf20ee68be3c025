"""The benchmark scripts still run and report every figure they promise.

Smoke runs only: nothing here asserts a timing (machines are noisy; the scripts print ratios
measured side by side, and those are quoted in notes, not checked in tests).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_TOOLS = ("get_history", "forecast", "compare_regions")


def test_bench_server_inprocess_reports_every_reading(real_data_dir: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "OASIS_DATA_DIR": str(real_data_dir)}
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_server.py"), "--quick",
         "--only", "inprocess", "--rounds", "20", "--json", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())["inprocess"]
    for view in ("full_client", "client_without_output_validation"):
        tools = report[view]["tools"]
        assert set(tools) == set(DATA_TOOLS)
        for tool, figures in tools.items():
            assert figures["error"] is None, (view, tool, figures["error"])
            assert math.isfinite(figures["ratio"]) and figures["ratio"] > 0
    for tool in DATA_TOOLS:
        full = report["full_client"]["tools"][tool]
        # The client-side check was measured on a real answer, and the floor it sets is above 1.
        assert full["client_check_s"] > 0
        assert full["floor_ratio"] > 1
        echo = report["vs_same_answer_noop"][tool]
        assert echo["error"] is None, (tool, echo["error"])
        assert echo["p50_s"] > 0 and echo["echo_p50_s"] > 0
    assert "Summary (measured vs target)" in run.stdout


def test_bench_update_quick_reports_every_case(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_update.py"), "--quick"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    *lines, verdict = run.stdout.splitlines()
    assert [line.split("  ")[0].split(" (")[0] for line in lines] == [
        "download 1 MB", "API answer of 2.5 GB, no Content-Length", "load a departmental file, "
        "real grid", "server start: an edition, real size", "data update, real-size "
        "departmental file"]
    assert all(re.search(r"over imports \( *[\d.]+×\), .* over the warm-up \( *[\d.]+×\)",
                         line) for line in lines)
    assert "refused" in lines[1] and "three-levels" in lines[3] and "installed" in lines[4]
    assert re.fullmatch(r"largest ratio over the warm-up, departmental files alone: [\d.]+× "
                        r"\(.+\); target ≤ 2×: (met|NOT met)", verdict)
