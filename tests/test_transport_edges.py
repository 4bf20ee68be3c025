"""Protocol edges of issue 11, one section per numbered finding (1 is in
``test_transport_scaleout.py``):

2. one client cannot take the server: sessions bounded per address (oldest idle closed), rate
   limit, 429/503 with Retry-After, limits settable by flags and environment;
3. prompt and resource errors are *invalid params* with readable messages, no traceback logged;
4. a 401 says why, as JSON-RPC, with ``WWW-Authenticate: Bearer`` and protected-resource metadata;
5. stdio answers every request it read before EOF; malformed lines and batches get the error the
   spec gives;
6. completions, icon and website, and only the capabilities the server honours.

Servers listen on 127.0.0.1 only. No timed assertions.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference
from test_transport_http import (
    INITIALIZE,
    MCP_HEADERS,
    STEP_TIMEOUT,
    RunningServer,
    child_env,
    data_dir,
    oasis_mcp_command,
    serve_http,
)

from oasis_mcp.server import create_server

INVALID_PARAMS = -32602
MODES = ["auto", "legacy"]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def needs_data() -> None:
    if not any(data_dir().glob("donnee-*.csv")):
        pytest.skip(f"no SSMSI files in {data_dir()}; set OASIS_DATA_DIR")


def _post(base: str, source: str, body: Any = INITIALIZE, **headers: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=STEP_TIMEOUT) as http:
        return http.post(f"{base}/mcp", json=body, headers={**MCP_HEADERS, **headers})


def _ping(base: str, source: str, session: str) -> int:
    body = {"jsonrpc": "2.0", "id": 5, "method": "ping"}
    response = _post(base, source, body, **{"mcp-session-id": session,
                                            "mcp-protocol-version": "2025-06-18"})
    return response.status_code


# --- 2. one client cannot take the server ------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, needs_data: None) -> Iterator[RunningServer]:
    with serve_http(
        tmp_path_factory.mktemp("limited"),
        "--max-sessions", "6", "--max-sessions-per-client", "3", "--rate-burst", "40",
        OASIS_MCP_RATE_LIMIT="20", OASIS_MCP_SESSION_IDLE_TIMEOUT="120",
    ) as running:
        yield running


def test_sessions_per_address_are_bounded_oldest_idle_closed(limited: RunningServer) -> None:
    ids = []
    for _ in range(5):
        response = _post(limited.base, "127.0.0.2")
        assert response.status_code == 200, response.text
        ids.append(response.headers["mcp-session-id"])
    # The two oldest were closed to make room; the three newest still work.
    assert [_ping(limited.base, "127.0.0.2", s) for s in ids] == [404, 404, 200, 200, 200]
    # Another address is not affected by the first one's sessions.
    other = _post(limited.base, "127.0.0.3")
    assert other.status_code == 200
    health = httpx.get(f"{limited.base}/health", timeout=STEP_TIMEOUT).json()
    assert health["mode"] == "sessions" and health["sessions"] <= 6
    assert "sessions: at most 6, 3 per client" in limited.stderr()


def test_full_server_answers_503_with_retry_after(limited: RunningServer) -> None:
    for i in range(4, 10):  # fill the server from other addresses (3 per address at most)
        _post(limited.base, f"127.0.0.{i}")
    refused = _post(limited.base, "127.0.0.99")
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert "full" in body["error"]["message"] and body["error"]["data"]["reason"] == "server_full"


def test_rate_limit_answers_429_with_retry_after(limited: RunningServer) -> None:
    statuses = []
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {**MCP_HEADERS, "mcp-session-id": "nope"}
    transport = httpx.HTTPTransport(local_address="127.0.0.50")
    with httpx.Client(transport=transport, timeout=STEP_TIMEOUT) as http:
        for _ in range(400):  # faster than 20/s once the burst of 40 is spent
            response = http.post(f"{limited.base}/mcp", json=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
    assert statuses[-1] == 429, statuses
    assert len(statuses) > 40  # the burst was served
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert "Too many requests" in error["message"] and "20 per second" in error["message"]
    # The limit is per address: another one is served at once.
    assert _post(limited.base, "127.0.0.51", body, **{"mcp-session-id": "nope"}).status_code == 404


def _serve_fails(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*oasis_mcp_command(), "serve", "--transport", "http", "--port", "0", *args],
        capture_output=True, text=True, timeout=STEP_TIMEOUT, env=child_env(**env),
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(("args", "env", "needle"), [
    (["--max-sessions", "0"], {}, "--max-sessions must be at least 1"),
    (["--max-sessions", "5", "--max-sessions-per-client", "9"], {}, "between 1 and --max-sessions"),
    ([], {"OASIS_MCP_RATE_LIMIT": "fast"}, "$OASIS_MCP_RATE_LIMIT must be a number"),
    (["--session-idle-timeout", "-1"], {}, "--session-idle-timeout must be a positive"),
])
def test_bad_limit_settings_are_one_line_errors(args: list[str], env: dict[str, str],
                                                needle: str) -> None:
    run = _serve_fails(*args, **env)
    assert run.returncode == 2
    assert needle in run.stderr and "Traceback" not in run.stderr


def test_stateless_flag_and_env(tmp_path: Path, needs_data: None) -> None:
    for args, env in ((["--stateless"], {}), ([], {"OASIS_MCP_STATELESS": "1"})):
        with serve_http(tmp_path, *args, **env) as running:
            response = _post(running.base, "127.0.0.1")
            assert response.status_code == 200 and "mcp-session-id" not in response.headers
            assert httpx.get(f"{running.base}/health").json()["mode"] == "stateless"


# --- 3. prompt and resource errors -------------------------------------------------------------


async def _expect_invalid_params(mode: str, call: str, *args: Any) -> MCPError:
    async with Client(create_server(data_dir=data_dir()), mode=mode) as client:
        with pytest.raises(MCPError) as caught:
            await getattr(client, call)(*args)
        return caught.value


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("call", "args", "needles"), [
    ("get_prompt", ("no_such_prompt", {}), ["Unknown prompt", "regional_briefing"]),
    ("get_prompt", ("regional_briefing_", {}), ["Did you mean 'regional_briefing'"]),
    ("get_prompt", ("regional_briefing", {}), ["missing required argument 'area'"]),
    ("get_prompt", ("compare_indicator", {"indicator": "burglary", "levle": "region"}),
     ["unknown argument 'levle'", "indicator, level"]),
    ("read_resource", ("oasis://backtest/nowhere",), ["Unknown level 'nowhere'",
                                                      "oasis://backtest/region"]),
    ("read_resource", ("oasis://nothing-here",), ["Unknown resource"]),
])
def test_client_mistakes_are_invalid_params_without_traceback(
    mode: str, call: str, args: tuple[Any, ...], needles: list[str],
    caplog: pytest.LogCaptureFixture, needs_data: None,
) -> None:
    with caplog.at_level(logging.INFO):
        error = anyio.run(_expect_invalid_params, mode, call, *args)
    assert error.error.code == INVALID_PARAMS, error.error
    for needle in needles:
        assert needle in error.error.message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_prompt_mistake_over_stdio_logs_no_traceback(needs_data: None) -> None:
    lines = [
        _rpc(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                               "clientInfo": {"name": "t", "version": "0"}}),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        _rpc(2, "prompts/get", {"name": "regional_briefing", "arguments": {}}),
    ]
    answers, stderr = _pipe(lines)
    assert answers[2]["error"]["code"] == INVALID_PARAMS
    assert "Traceback" not in stderr and " ERROR " not in stderr


# --- 4. a 401 that says why --------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory,
               needs_data: None) -> Iterator[RunningServer]:
    with serve_http(tmp_path_factory.mktemp("token"), OASIS_MCP_TOKEN="s3cret-token") as running:
        yield running


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic s3cret-token"])
def test_401_is_json_rpc_and_says_how_to_pass_the_token(with_token: RunningServer,
                                                        authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = _post(with_token.base, "127.0.0.1", **headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    metadata = f"{with_token.base}/.well-known/oauth-protected-resource"
    assert f'resource_metadata="{metadata}"' in challenge
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert "Authorization: Bearer <token>" in body["error"]["message"]
    assert "OASIS_MCP_TOKEN" in body["error"]["message"]


def test_protected_resource_metadata_names_no_authorization_server(
    with_token: RunningServer,
) -> None:
    for path in ("/.well-known/oauth-protected-resource",
                 "/.well-known/oauth-protected-resource/mcp"):
        response = httpx.get(with_token.base + path, timeout=STEP_TIMEOUT)  # no token needed
        assert response.status_code == 200
        meta = response.json()
        assert meta["resource"] == f"{with_token.base}/mcp"
        assert meta["bearer_methods_supported"] == ["header"]
        assert meta["authorization_servers"] == []


# --- 5. stdio to the letter --------------------------------------------------------------------


def _rpc(id_: int, method: str, params: dict[str, Any] | None = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


def _pipe(lines: list[str]) -> tuple[dict[Any, Any], str]:
    """A one-shot pipeline: write every line, close stdin, read everything until exit."""
    run = subprocess.run(
        [*oasis_mcp_command(), "serve"], input="\n".join(lines) + "\n", capture_output=True,
        text=True, timeout=90, env=child_env(),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    answers: dict[Any, Any] = {}
    for n, line in enumerate(run.stdout.splitlines()):
        message = json.loads(line)  # stdout carries JSON only
        if isinstance(message, list):
            answers[f"batch{n}"] = message
        else:
            answers.setdefault(message.get("id"), message)
            if message.get("id") is None:
                answers.setdefault("null", []).append(message)
    return answers, run.stderr


def _init(version: str) -> list[str]:
    return [
        _rpc(1, "initialize", {"protocolVersion": version, "capabilities": {},
                               "clientInfo": {"name": "pipe", "version": "0"}}),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ]


def test_stdio_answers_every_request_read_before_eof(needs_data: None) -> None:
    calls = [
        _rpc(10, "tools/call", {"name": "get_history",
                                "arguments": {"area": "Bretagne", "indicator": "burglary"}}),
        _rpc(11, "tools/call", {"name": "compare_regions", "arguments": {"indicator": "burglary"}}),
        _rpc(12, "tools/call", {"name": "forecast", "arguments": {
            "area": "Gironde", "level": "department", "indicator": "burglary"}}),
    ]
    answers, _ = _pipe([*_init("2025-06-18"), *calls])
    for id_ in (10, 11, 12):
        assert id_ in answers, sorted(map(str, answers))
        assert "result" in answers[id_], answers[id_]


def test_stdio_malformed_lines_get_the_spec_errors(needs_data: None) -> None:
    lines = [
        *_init("2025-06-18"),
        "this is not json",
        json.dumps({"id": 20, "method": "tools/list"}),  # no "jsonrpc"
        json.dumps({"jsonrpc": "2.0", "id": 21, "method": "tools/list", "params": [1, 2]}),
        json.dumps({"jsonrpc": "2.0", "id": 22, "method": 7}),
        json.dumps([{"jsonrpc": "2.0", "id": 23, "method": "ping"}]),  # no batches after 03-26
        _rpc(24, "ping"),
    ]
    answers, stderr = _pipe(lines)
    nulls = answers["null"]
    assert any(m["error"]["code"] == -32700 for m in nulls)  # parse error, id null
    for id_ in (20, 21, 22):
        assert answers[id_]["error"]["code"] == -32600, answers[id_]
    assert "\"jsonrpc\"" in answers[20]["error"]["message"]
    assert "params" in answers[21]["error"]["message"]
    batch_refusals = [m for m in nulls if m["error"]["code"] == -32600]
    assert batch_refusals and "batches are not supported in protocol version 2025-06-18" in \
        batch_refusals[0]["error"]["message"]
    assert 23 not in answers
    assert answers[24]["result"] == {}
    assert "Traceback" not in stderr


def test_stdio_batches_answered_in_2025_03_26(needs_data: None) -> None:
    batch = [json.loads(_rpc(30, "ping")), json.loads(_rpc(31, "prompts/list")),
             {"jsonrpc": "2.0", "method": "notifications/cancelled",
              "params": {"requestId": 999}}, {"id": 32}]
    answers, _ = _pipe([*_init("2025-03-26"), json.dumps(batch), json.dumps([])])
    arrays = [v for k, v in answers.items() if str(k).startswith("batch")]
    assert len(arrays) == 1
    by_id = {m.get("id"): m for m in arrays[0]}
    assert by_id[30]["result"] == {} and "prompts" in by_id[31]["result"]
    assert by_id[32]["error"]["code"] == -32600  # the invalid member, answered in the array
    assert any("empty batch" in m["error"]["message"] for m in answers["null"])


# --- 6. completions, identity, capabilities ----------------------------------------------------


async def _identity(mode: str) -> tuple[Any, Any, dict[str, list[str]]]:
    async with Client(create_server(data_dir=data_dir()), mode=mode) as client:
        prompt = PromptReference(type="ref/prompt", name="regional_briefing")
        indicator = PromptReference(type="ref/prompt", name="compare_indicator")
        template = ResourceTemplateReference(type="ref/resource", uri="oasis://backtest/{level}")
        asked: dict[str, tuple[PromptReference | ResourceTemplateReference, dict[str, str]]] = {
            "area:bre": (prompt, {"name": "area", "value": "bre"}),
            "area:33": (prompt, {"name": "area", "value": "33"}),
            "area:": (prompt, {"name": "area", "value": ""}),
            "indicator:camb": (indicator, {"name": "indicator", "value": "camb"}),
            "indicator:drug": (indicator, {"name": "indicator", "value": "drug"}),
            "level:d": (indicator, {"name": "level", "value": "d"}),
            "template:": (template, {"name": "level", "value": ""}),
            "template:r": (template, {"name": "level", "value": "r"}),
        }
        values = {}
        for key, (ref, argument) in asked.items():
            result = await client.complete(ref, argument)
            values[key] = result.completion.values
            assert len(result.completion.values) <= 100
        return client.server_capabilities, client.server_info, values


@pytest.mark.parametrize("mode", MODES)
def test_completions_identity_and_honest_capabilities(mode: str, needs_data: None) -> None:
    caps, info, values = anyio.run(_identity, mode)
    assert values["area:bre"] == ["Bretagne"]
    assert values["area:33"] == ["Gironde"]
    assert "Île-de-France" in values["area:"] and "Gironde" in values["area:"]
    assert values["indicator:camb"] == ["burglary"]  # matched on the French label
    assert any("drug" in v for v in values["indicator:drug"])
    assert values["level:d"] == ["department"]
    assert values["template:"] == ["country", "region", "department"]
    assert values["template:r"] == ["region"]
    assert caps.completions is not None
    # The server never sends list-changed or resource-updated notifications.
    assert not caps.tools.list_changed
    assert not caps.prompts.list_changed
    assert not caps.resources.list_changed and not caps.resources.subscribe
    assert info.website_url and info.website_url.startswith("https://www.data.gouv.fr/")
    assert info.icons and info.icons[0].mime_type == "image/svg+xml"
    assert info.icons[0].src.startswith("data:image/svg+xml;base64,")



def test_oauth_registration_fallback_says_there_is_no_oauth(with_token: RunningServer) -> None:
    """mcp-remote 0.15, given a wrong token, falls back to dynamic client registration at
    /register and prints the body of the refusal: make that body say what to do."""
    response = httpx.post(f"{with_token.base}/register", timeout=STEP_TIMEOUT,
                          json={"redirect_uris": ["http://localhost:1/cb"]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert "does not use OAuth" in body["error_description"]
    assert "Authorization: Bearer <token>" in body["error_description"]
