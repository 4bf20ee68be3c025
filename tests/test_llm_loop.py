"""The language-model mode against a fake OpenAI-compatible endpoint on 127.0.0.1: the model sees
the MCP tools, asks for a call, gets the tool's JSON back and answers; on any failure the chat
falls back to the offline planner. The real ``huggingface_hub.InferenceClient`` does the HTTP."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oasis_app.bridge import MCPBridge
from oasis_app.chat import ChatEngine
from oasis_app.llm import LLMSettings, ToolCallingAssistant, openai_tools
from oasis_mcp.server import create_server

Script = Callable[[dict[str, Any], int], tuple[int, dict[str, Any]]]


class FakeModel:
    """A scripted chat-completions endpoint: ``script(request, n)`` returns (status, body)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(request)
                fake.paths.append(self.path)
                status, body = fake.script(request, len(fake.requests))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
        "system_fingerprint": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    return completion({"content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}
    ]}, finish="tool_calls")


@pytest.fixture(scope="module")
def bridge(edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[MCPBridge]:
    empty = tmp_path_factory.mktemp("no-artifacts")
    connected = MCPBridge(lambda: create_server(edition_2025_dir, empty)).start()
    yield connected
    connected.close()


def engine_for(fake: FakeModel, bridge: MCPBridge) -> ChatEngine:
    settings = LLMSettings(model="fake-model", base_url=fake.base_url, api_key="test-key",
                           timeout=10)
    return ChatEngine(bridge, llm=ToolCallingAssistant(settings, bridge))


def test_tool_calling_loop(bridge: MCPBridge) -> None:
    def script(request: dict[str, Any], n: int) -> tuple[int, dict[str, Any]]:
        if n == 1:
            return 200, tool_call("get_history", {"area": "Bretagne", "indicator": "burglary",
                                                  "level": "region", "start_year": 2016})
        tool_message = request["messages"][-1]
        points = json.loads(tool_message["content"])["points"]
        return 200, completion({"content": f"Bretagne: {points[-1]['count']} burglaries in "
                                           f"{points[-1]['year']}."})

    fake = FakeModel(script)
    try:
        turn = engine_for(fake, bridge).ask("How have burglaries evolved in Brittany?")
    finally:
        fake.close()
    assert turn.mode == "llm"
    assert [s.name for s in turn.steps] == ["get_history"] and turn.steps[0].ok
    assert turn.text == "Bretagne: 10741 burglaries in 2025."
    assert turn.chart is not None and turn.chart.traces[0]["x"][0] == 2016
    first, second = fake.requests
    assert fake.paths == ["/v1/chat/completions", "/v1/chat/completions"]
    assert first["model"] == "fake-model" and first["tool_choice"] == "auto"
    names = {t["function"]["name"] for t in first["tools"]}
    assert names == {"list_regions", "list_indicators", "get_history", "forecast",
                     "compare_regions", "model_metrics", "find_area"}
    history = next(t for t in first["tools"] if t["function"]["name"] == "get_history")
    assert {"area", "indicator"} <= set(history["function"]["parameters"]["required"])
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_history"
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["tool_call_id"] == "call_1"


def test_tool_errors_go_back_to_the_model(bridge: MCPBridge) -> None:
    def script(request: dict[str, Any], n: int) -> tuple[int, dict[str, Any]]:
        if n == 1:
            return 200, tool_call("get_history", {"area": "Atlantis", "indicator": "burglary"})
        error = request["messages"][-1]["content"]
        return 200, completion({"content": f"Sorry: {error}"})

    fake = FakeModel(script)
    try:
        turn = engine_for(fake, bridge).ask("Burglaries in Atlantis?")
    finally:
        fake.close()
    assert turn.mode == "llm" and not turn.steps[0].ok
    assert turn.text.startswith("Sorry: Error: Unknown region 'Atlantis'")


@pytest.mark.parametrize(
    "script",
    [
        lambda request, n: (500, {"error": "overloaded"}),
        lambda request, n: (200, {"nonsense": True}),
        lambda request, n: (200, tool_call("get_history", {"area": "Bretagne",
                                                           "indicator": "burglary"},
                                           call_id=f"c{n}")),  # never answers
    ],
    ids=["http-500", "malformed", "endless-tool-calls"],
)
def test_falls_back_to_the_offline_planner(bridge: MCPBridge, script: Script) -> None:
    fake = FakeModel(script)
    try:
        turn = engine_for(fake, bridge).ask("Évolution des cambriolages en Bretagne depuis 2016")
    finally:
        fake.close()
    assert turn.mode == "offline"
    assert [s.name for s in turn.steps] == ["get_history"]
    assert "Bretagne" in turn.text and "hors ligne" in turn.text
    assert turn.chart is not None


def test_unreachable_endpoint_falls_back(bridge: MCPBridge) -> None:
    settings = LLMSettings(model="m", base_url="http://127.0.0.1:9/v1", api_key="k", timeout=3)
    engine = ChatEngine(bridge, llm=ToolCallingAssistant(settings, bridge))
    turn = engine.ask("How accurate are your forecasts?")
    assert turn.mode == "offline" and "offline planner" in turn.text


def test_settings_from_environment() -> None:
    assert LLMSettings.from_env({}) is None
    hf = LLMSettings.from_env({"HF_TOKEN": "hf_x"})
    assert hf is not None and hf.base_url is None and hf.api_key == "hf_x" and hf.model
    openai = LLMSettings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
                                   "OPENAI_API_KEY": "k", "OASIS_LLM_MODEL": "m",
                                   "HF_TOKEN": "hf_x"})
    assert openai is not None and openai.base_url == "http://127.0.0.1:1/v1"
    assert (openai.model, openai.api_key) == ("m", "k")
    assert LLMSettings.from_env({"HF_TOKEN": "hf_x", "OASIS_LLM": "off"}) is None
    assert "hf_x" not in repr(hf)


def test_openai_tools_shape() -> None:
    tools = openai_tools([{"name": "t", "description": "d", "input_schema": {"type": "object"}}])
    assert tools == [{"type": "function", "function": {"name": "t", "description": "d",
                                                       "parameters": {"type": "object"}}}]
