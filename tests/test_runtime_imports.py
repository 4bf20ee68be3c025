"""The runtime package stays light: the server never imports training or app libraries, and
start-up (import + create_server) does not even load pandas — desktop clients pay for every import.
Checked in a fresh interpreter, so that other tests' imports do not hide anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sklearn", "xgboost", "lightgbm", "prophet", "statsmodels", "mlflow", "gradio", "plotly",
         "joblib", "torch")
REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import asyncio, json, sys
import oasis_mcp.server
server = oasis_mcp.server.create_server()
at_start = sorted(m for m in ("pandas", "numpy") if m in sys.modules)

async def calls():
    from mcp import Client
    async with Client(server) as client:
        history = await client.call_tool(
            "get_history", {"area": "Bretagne", "indicator": "burglary"})
        forecast = await client.call_tool(
            "forecast", {"area": "Bretagne", "indicator": "burglary", "horizon": 2})
        return history.is_error, forecast.is_error

history_error, forecast_error = asyncio.run(calls())
heavy = sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({"at_start": at_start, "heavy": sorted(set(heavy)),
                  "history_error": history_error, "forecast_error": forecast_error}))
"""


def _data_dir() -> Path:
    return Path(os.environ.get("OASIS_DATA_DIR") or REPO.parent / "shared" / "data")


def test_server_imports_no_training_or_app_library() -> None:
    if not _data_dir().is_dir():
        pytest.skip(f"real data not found in {_data_dir()}")
    env = {**os.environ, "OASIS_DATA_DIR": str(_data_dir())}
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{SCRIPT}"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["history_error"] is False
    assert report["forecast_error"] is False, "forecast needs the committed artifacts/"
    assert report["heavy"] == [], f"the runtime imported {report['heavy']}"
    assert report["at_start"] == [], f"import + create_server() loaded {report['at_start']}"


def test_the_server_imports_no_planner_or_app_code() -> None:
    """The chat planner lives in the app (oasis_app.planner): the runtime package holds only what
    the server needs (issue 12)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; import oasis_mcp.server, oasis_mcp.cli; "
         "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'oasis_app' "
         "or 'planner' in m or 'assistant' in m)))"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert not (REPO / "oasis_mcp" / "assistant.py").exists()
