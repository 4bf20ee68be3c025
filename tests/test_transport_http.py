"""``oasis-mcp serve --transport http`` on 127.0.0.1: tool calls with the SDK client, ``/health``,
Host/Origin allow-lists, the bearer token, CLI start-up errors, and mounting the MCP endpoint in
another ASGI app. Servers listen on 127.0.0.1 only, on a free port.

No timed assertions: timeouts below only keep a broken server from hanging the suite.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.datastructures import Headers

from oasis_mcp import __version__
from oasis_mcp.http_app import AccessPolicy

STEP_TIMEOUT = 25.0  # seconds; a hang guard, not a performance assertion
SPAWN_TIMEOUT = 90.0  # seconds for a server to start (a busy CI machine can take long)
TOKEN = "test-token-0123456789"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
_LISTENING = re.compile(r"streamable HTTP at (http://127\.0\.0\.1:(\d+))/mcp")

pytestmark = pytest.mark.timeout(60)


def oasis_mcp_command() -> list[str]:
    beside = Path(sys.executable).with_name("oasis-mcp")
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "oasis_mcp.cli"]


def data_dir() -> Path:
    """The real SSMSI files: ``$OASIS_DATA_DIR``, else the shared directory beside the repo."""
    env = os.environ.get("OASIS_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OASIS_MCP_")}
    env["OASIS_DATA_DIR"] = str(data_dir())
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def needs_data() -> None:
    if not any(data_dir().glob("donnee-*.csv")):
        pytest.skip(f"no SSMSI files in {data_dir()}; set OASIS_DATA_DIR")


@dataclass
class RunningServer:
    base: str
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextlib.contextmanager
def serve_http(tmp: Path, *args: str, **env: str) -> Iterator[RunningServer]:
    """Run ``oasis-mcp serve --transport http --port 0`` and wait until /health answers."""
    stderr_path = tmp / "server-stderr.log"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [*oasis_mcp_command(), "serve", "--transport", "http", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env=child_env(**env),
        )
    try:
        deadline = time.monotonic() + SPAWN_TIMEOUT
        base = None
        while base is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{stderr_path.read_text()}")
            if match := _LISTENING.search(stderr_path.read_text(errors="replace")):
                base = match.group(1)
            else:
                time.sleep(0.05)
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"/health never answered:\n{stderr_path.read_text()}")
            time.sleep(0.05)
        yield RunningServer(base, proc, stderr_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, needs_data: None) -> Iterator[RunningServer]:
    """One server for the module: token required, extra hosts/origins from flags and env."""
    with serve_http(
        tmp_path_factory.mktemp("http"),
        "--allowed-host", "mcp.example.org",
        "--allowed-origin", "https://app.example.org",
        OASIS_MCP_TOKEN=TOKEN,
        OASIS_MCP_ALLOWED_HOSTS="env-host.example:8443, other.example",
    ) as running:
        yield running


async def _call_over_http(url: str, mode: str, token: str | None) -> tuple[set[str], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with anyio.fail_after(STEP_TIMEOUT):
        async with (
            httpx2.AsyncClient(headers=headers, timeout=STEP_TIMEOUT) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            tools = await client.list_tools()
            result = await client.call_tool("list_indicators", {})
            return {t.name for t in tools.tools}, result


# --- the running server --------------------------------------------------------------------


def test_health_is_open_and_reports_status(server: RunningServer) -> None:
    response = httpx.get(f"{server.base}/health", timeout=STEP_TIMEOUT)  # no token
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["mcp_path"] == "/mcp"
    assert body["auth"] == "bearer"
    assert httpx.post(f"{server.base}/health", timeout=STEP_TIMEOUT).status_code == 405


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tool_call_with_token(server: RunningServer, mode: str) -> None:
    names, result = anyio.run(_call_over_http, server.mcp_url, mode, TOKEN)
    assert {"get_history", "forecast", "compare_regions", "list_indicators"} <= names
    assert not result.is_error, result.content


def test_health_reports_loaded_data_without_loading_it(server: RunningServer) -> None:
    anyio.run(_call_over_http, server.mcp_url, "auto", TOKEN)  # list_indicators loads the data
    body = httpx.get(f"{server.base}/health", timeout=STEP_TIMEOUT).json()
    assert body["data"]["loaded"] is True
    assert body["data"]["edition"].startswith("2025-")


def test_mcp_path_with_trailing_slash_answers_without_redirect(server: RunningServer) -> None:
    for path in ("/mcp", "/mcp/"):
        response = httpx.post(
            server.base + path, json=INITIALIZE, timeout=STEP_TIMEOUT,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 200, (path, response.text)
        assert "serverInfo" in response.text


def test_token_required(server: RunningServer) -> None:
    missing = httpx.post(server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS, timeout=STEP_TIMEOUT)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"]["data"]["reason"] == "missing_token"
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer"):
        response = httpx.post(
            server.mcp_url, json=INITIALIZE, timeout=STEP_TIMEOUT,
            headers={**MCP_HEADERS, "Authorization": wrong},
        )
        assert response.status_code == 401, wrong
        assert response.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in an exception group
        anyio.run(_call_over_http, server.mcp_url, "legacy", None)


def test_wrong_host_rejected(server: RunningServer) -> None:
    for path in ("/mcp", "/health"):
        response = httpx.post(
            server.base + path, json=INITIALIZE, timeout=STEP_TIMEOUT,
            headers={**MCP_HEADERS, "Host": "evil.example", "Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 421, path
        assert response.json()["error"]["data"]["reason"] == "host_not_allowed"
        assert "--allowed-host" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("mcp.example.org", True),  # --allowed-host
        ("mcp.example.org:8000", True),  # an entry without a port accepts any port
        ("env-host.example:8443", True),  # $OASIS_MCP_ALLOWED_HOSTS
        ("env-host.example:9999", False),
        ("other.example", True),
        ("localhost:1234", True),  # defaults
        ("[::1]:8000", True),
        ("127.0.0.2:8000", False),
        ("mcp.example.org.evil.example", False),
    ],
)
def test_allowed_hosts_from_flags_and_env(server: RunningServer, host: str, allowed: bool) -> None:
    response = httpx.get(f"{server.base}/health", headers={"Host": host}, timeout=STEP_TIMEOUT)
    assert response.status_code == (200 if allowed else 421)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.org", True),  # --allowed-origin
        ("http://localhost:6274", True),  # default (e.g. the MCP Inspector)
        ("http://127.0.0.1:3000", True),
        ("http://evil.example", False),
        ("https://app.example.org.evil.example", False),
        ("null", False),
    ],
)
def test_origin_checked(server: RunningServer, origin: str, allowed: bool) -> None:
    response = httpx.post(
        server.mcp_url, json=INITIALIZE, timeout=STEP_TIMEOUT,
        headers={**MCP_HEADERS, "Origin": origin, "Authorization": f"Bearer {TOKEN}"},
    )
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"]["data"]["reason"] == "origin_not_allowed"


def test_logs_on_stderr_only(server: RunningServer) -> None:
    assert "serving MCP over streamable HTTP" in server.stderr()
    assert "auth: bearer token" in server.stderr()
    assert TOKEN not in server.stderr()


# --- start-up errors -----------------------------------------------------------------------


def _serve_fails(*args: str) -> str:
    result = subprocess.run(
        [*oasis_mcp_command(), "serve", "--transport", "http", *args],
        capture_output=True, text=True, timeout=STEP_TIMEOUT, env=child_env(),
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_port_out_of_range(port: str) -> None:
    assert "--port" in _serve_fails("--port", port)


def test_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert "already in use" in _serve_fails("--host", "127.0.0.1", "--port", str(port))


# --- the access policy (pure) --------------------------------------------------------------

_label = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
_hostname = st.lists(_label, min_size=1, max_size=3).map(".".join)
_port = st.integers(min_value=1, max_value=65535).map(str)


def _policy(**kwargs: Any) -> AccessPolicy:
    return AccessPolicy.build(environ={}, **kwargs)


@settings(max_examples=50, deadline=None)
@given(port=_port)
def test_loopback_hosts_allowed_on_any_port(port: str) -> None:
    policy = _policy()
    for host in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]"):
        assert policy.host_allowed(f"{host}:{port}")


@settings(max_examples=50, deadline=None)
@given(host=_hostname, port=st.none() | _port)
def test_other_hosts_rejected_by_default(host: str, port: str | None) -> None:
    policy = _policy()
    header = host if port is None else f"{host}:{port}"
    assert policy.host_allowed(header) == (host == "localhost")


@settings(max_examples=50, deadline=None)
@given(host=_hostname, port=_port, other=_port)
def test_host_entry_with_port_is_exact(host: str, port: str, other: str) -> None:
    policy = _policy(allowed_hosts=[f"{host}:{port}"])
    assert policy.host_allowed(f"{host}:{port}")
    assert policy.host_allowed(f"{host}:{other}") == (port == other or host == "localhost")


def test_bind_host_and_wildcards() -> None:
    assert _policy(bind_host="192.168.1.20").host_allowed("192.168.1.20:8000")
    assert _policy(bind_host="::1").host_allowed("[::1]:8000")
    assert not _policy(bind_host="0.0.0.0").host_allowed("0.0.0.0:8000")
    assert _policy(allowed_hosts=["*"]).host_allowed("anything.example")
    assert not _policy().host_allowed(None)
    assert not _policy().host_allowed("")


def test_environment_lists_add_to_defaults() -> None:
    policy = AccessPolicy.build(environ={
        "OASIS_MCP_ALLOWED_HOSTS": " a.example , ,b.example:81",
        "OASIS_MCP_ALLOWED_ORIGINS": "https://ui.example",
    })
    assert policy.host_allowed("a.example:1") and policy.host_allowed("b.example:81")
    assert not policy.host_allowed("b.example:82")
    assert policy.host_allowed("localhost:8000")
    assert policy.origin_allowed("https://ui.example")
    assert policy.origin_allowed("http://localhost:5173")
    assert policy.origin_allowed(None)  # non-browser clients send no Origin
    assert not policy.origin_allowed("https://evil.example")


@settings(max_examples=50, deadline=None)
@given(token=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and " " not in t
                                                     and t.isprintable()),
       other=st.text(max_size=40))
def test_token_check(token: str, other: str) -> None:
    policy = _policy(token=token)
    assert policy.auth_required
    assert policy.token_valid(f"Bearer {token}")
    assert policy.token_valid(f"bearer {token}")
    assert not policy.token_valid(None)
    assert policy.token_valid(f"Bearer {other}") == (other.strip() == token)


def test_token_from_environment_and_disabled() -> None:
    assert AccessPolicy.build(environ={"OASIS_MCP_TOKEN": "abc"}).token_valid("Bearer abc")
    assert not AccessPolicy.build(environ={"OASIS_MCP_TOKEN": "abc"}).token_valid(None)
    assert not AccessPolicy.build(environ={"OASIS_MCP_TOKEN": "  "}).auth_required
    assert not AccessPolicy.build(environ={"OASIS_MCP_TOKEN": "abc"}, token="").auth_required


def test_rejection_order_and_headers() -> None:
    policy = _policy(token="t")
    wrong_host = policy.check(Headers({"host": "evil", "origin": "http://evil"}),
                              require_token=True)
    assert wrong_host is not None and wrong_host.status == 421
    wrong_origin = policy.check(Headers({"host": "localhost:1", "origin": "http://evil"}),
                                require_token=True)
    assert wrong_origin is not None and wrong_origin.status == 403
    no_token = policy.check(Headers({"host": "localhost:1"}), require_token=True)
    assert no_token is not None and no_token.status == 401
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    assert policy.check(Headers({"host": "localhost:1"}), require_token=False) is None
    assert policy.check(Headers({"host": "localhost:1", "authorization": "Bearer t"}),
                        require_token=True) is None


# --- mounting in another ASGI app ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mount_in_fastapi_app_with_catch_all(needs_data: None) -> None:
    """What the Gradio front end does: a FastAPI app whose "/" is taken by a catch-all mount."""
    fastapi = pytest.importorskip("fastapi")
    import uvicorn
    from starlette.responses import PlainTextResponse

    from oasis_mcp.http_app import mount_mcp
    from oasis_mcp.server import create_server

    started: list[str] = []

    @contextlib.asynccontextmanager
    async def app_lifespan(_app: Any) -> Any:
        started.append("app")
        yield

    app = fastapi.FastAPI(lifespan=app_lifespan)

    async def catch_all(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("ui")(scope, receive, send)

    app.mount("/", catch_all)
    endpoint = mount_mcp(app, create_server(data_dir=data_dir()), token="")
    assert endpoint.policy.auth_required is False
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                       access_log=False, lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert started == ["app"]
        assert httpx.get(f"{base}/", timeout=STEP_TIMEOUT).text == "ui"
        assert httpx.get(f"{base}/health", timeout=STEP_TIMEOUT).json()["status"] == "ok"
        names, result = anyio.run(_call_over_http, f"{base}/mcp", "legacy", None)
        assert "get_history" in names and not result.is_error
        names, _ = anyio.run(_call_over_http, f"{base}/mcp/", "auto", None)
        assert "get_history" in names
    finally:
        uv.should_exit = True
        thread.join(timeout=STEP_TIMEOUT)


# --- start-up warnings (in process, uvicorn not started) -------------------------------------


@pytest.mark.parametrize(("token", "loopback", "warned"), [
    ("", False, True), ("secret", False, False), ("", True, False),
])
def test_warning_when_exposed_without_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    token: str, loopback: bool, warned: bool,
) -> None:
    import logging

    import uvicorn

    from oasis_mcp import serve

    started: list[Any] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: started.append(sockets))
    monkeypatch.setattr(serve, "_is_loopback", lambda sock: loopback)
    monkeypatch.setenv("OASIS_MCP_TOKEN", token)
    with caplog.at_level(logging.INFO, logger="oasis_mcp.serve"):
        assert serve.run("http", "127.0.0.1", 0, data_dir=str(data_dir())) == 0
    assert len(started) == 1
    assert ("without a token" in caplog.text) is warned
    assert "serving MCP over streamable HTTP" in caplog.text
    if token:
        assert token not in caplog.text
