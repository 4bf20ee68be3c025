"""End-to-end tests of ``oasis-mcp serve`` over stdio: a real subprocess, the SDK client in both
connection modes, and a raw check that stdout carries JSON-RPC messages only.

No timed assertions: timeouts below only keep a broken server from hanging the suite.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

EXPECTED_TOOLS = {
    "list_regions", "list_indicators", "get_history",
    "forecast", "compare_regions", "model_metrics", "find_area",
}
STEP_TIMEOUT = 25.0  # seconds; a hang guard, not a performance assertion

pytestmark = pytest.mark.timeout(60)


def oasis_mcp_command() -> list[str]:
    """The installed ``oasis-mcp`` script next to this interpreter (not a pyenv shim), else
    ``python -m oasis_mcp.cli``."""
    beside = Path(sys.executable).with_name("oasis-mcp")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("oasis-mcp")
    return [found] if found else [sys.executable, "-m", "oasis_mcp.cli"]


def data_dir() -> Path:
    """The real SSMSI files: ``$OASIS_DATA_DIR``, else the shared directory beside the repo."""
    env = os.environ.get("OASIS_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True, scope="module")
def _require_data() -> None:
    if not any(data_dir().glob("donnee-*.csv")):
        pytest.skip(f"no SSMSI files in {data_dir()}; set OASIS_DATA_DIR")


def child_env(**extra: str) -> dict[str, str]:
    """What a desktop client would pass: a minimal environment plus the OASIS_* variables."""
    env = {k: v for k, v in os.environ.items() if k.startswith("OASIS_") or k == "PYTHONPATH"}
    env["OASIS_DATA_DIR"] = str(data_dir())
    env.update(extra)
    return env


def _params(*args: str) -> StdioServerParameters:
    command = oasis_mcp_command()
    return StdioServerParameters(command=command[0], args=[*command[1:], "serve", *args],
                                 env=child_env())


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sdk_client_lists_tools_and_calls_one(mode: str, tmp_path: Path) -> None:
    errlog_path = tmp_path / "stderr.log"

    async def scenario() -> tuple[set[str], Any, Any]:
        with errlog_path.open("w") as errlog, anyio.fail_after(STEP_TIMEOUT):
            transport = stdio_client(_params(), errlog=errlog)
            async with Client(transport, mode=mode) as client:
                tools = await client.list_tools()
                indicators = await client.call_tool("list_indicators", {})
                unknown = await client.call_tool("get_history", {"area": "Atlantis"})
                return {t.name for t in tools.tools}, indicators, unknown

    names, indicators, bad_call = anyio.run(scenario)
    assert names >= EXPECTED_TOOLS
    assert not indicators.is_error, indicators.content
    assert indicators.content or indicators.structured_content
    assert bad_call.is_error  # an invalid call is a tool error, not a crash
    stderr = errlog_path.read_text()
    assert "serving MCP over stdio" in stderr  # logs go to stderr


class _LineReader:
    """Reads a pipe line by line in a thread, so a silent server cannot block the test."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.all: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def next(self) -> str | None:
        return self.lines.get(timeout=STEP_TIMEOUT)

    def join(self) -> None:
        self._thread.join(timeout=STEP_TIMEOUT)


def _rpc(id_: int | None, method: str, params: dict[str, Any] | None = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        message["id"] = id_
    if params is not None:
        message["params"] = params
    return json.dumps(message) + "\n"


def _exchange(command: list[str], requests: list[str], want_ids: set[int]) -> tuple[list[str], str]:
    """Send requests over stdin, wait for the responses with ``want_ids``, close stdin and
    return every stdout line and the whole stderr."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", env=child_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = _LineReader(proc.stdout)
    err = _LineReader(proc.stderr)
    try:
        for request in requests:
            proc.stdin.write(request)
        proc.stdin.flush()
        seen: set[int] = set()
        while not want_ids <= seen:
            line = out.next()
            if line is None:
                break
            try:
                seen.add(json.loads(line).get("id"))
            except (json.JSONDecodeError, AttributeError):
                continue  # reported by the caller's checks
        proc.stdin.close()
        proc.wait(timeout=STEP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out.join()
    err.join()
    return out.all, "".join(err.all)


def _legacy_session(*calls: tuple[str, dict[str, Any]]) -> tuple[list[str], set[int]]:
    requests = [
        _rpc(1, "initialize", {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"},
        }),
        _rpc(None, "notifications/initialized"),
        _rpc(2, "tools/list"),
    ]
    ids = {1, 2}
    for i, (name, arguments) in enumerate(calls, start=3):
        requests.append(_rpc(i, "tools/call", {"name": name, "arguments": arguments}))
        ids.add(i)
    return requests, ids


def _assert_protocol_only(lines: list[str], want_ids: set[int]) -> list[dict[str, Any]]:
    messages = []
    for line in lines:
        assert line.strip(), "blank line on stdout"
        message = json.loads(line)  # anything that is not JSON fails here
        assert message.get("jsonrpc") == "2.0", line
        messages.append(message)
    answered = {m.get("id") for m in messages if "result" in m or "error" in m}
    assert want_ids <= answered
    return messages


# A tool that writes to stdout in every way a careless dependency could: print(), a raw write
# on file descriptor 1, and a child process inheriting it. All of it must land on stderr.
_NOISY_LAUNCHER = textwrap.dedent(
    """
    import os, subprocess, sys
    import oasis_mcp.server as server_module

    _create = server_module.create_server

    def create_server(**kwargs):
        print("noise at start-up")
        server = _create(**kwargs)

        @server.tool()
        def noisy() -> str:
            print("noise from print")
            os.write(1, b"noise from fd 1\\n")
            subprocess.run([sys.executable, "-c", "print('noise from a child')"], check=True)
            return "done"

        return server

    server_module.create_server = create_server
    from oasis_mcp.cli import main
    raise SystemExit(main(["serve"]))
    """
)


def test_stdout_carries_protocol_messages_only() -> None:
    """Raw JSON-RPC over the pipes (the legacy handshake desktop clients use): every stdout line
    is a JSON-RPC message, even when a tool, a module or a child process writes to stdout."""
    requests, ids = _legacy_session(
        ("list_indicators", {}),
        ("get_history", {"area": "Atlantis", "indicator": "nothing"}),  # a tool error
        ("no_such_tool", {}),
        ("noisy", {}),
    )
    lines, stderr = _exchange([sys.executable, "-c", _NOISY_LAUNCHER], requests, ids)
    messages = _assert_protocol_only(lines, ids)
    by_id = {m.get("id"): m for m in messages}
    assert {t["name"] for t in by_id[2]["result"]["tools"]} >= EXPECTED_TOOLS
    assert not by_id[3]["result"].get("isError"), by_id[3]
    assert by_id[4]["result"].get("isError")
    assert by_id[5].get("error") or by_id[5]["result"].get("isError")
    assert not by_id[6]["result"].get("isError"), by_id[6]
    for noise in ("noise at start-up", "noise from print", "noise from fd 1", "noise from a child"):
        assert noise in stderr
    assert "serving MCP over stdio" in stderr
