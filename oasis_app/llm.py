"""Optional language-model mode: a tool-calling loop over the same MCP tools.

Enabled when ``HF_TOKEN`` is set (Hugging Face Inference Providers) or when an OpenAI-compatible
endpoint is configured (``OASIS_LLM_BASE_URL``/``OPENAI_BASE_URL`` with ``OASIS_LLM_API_KEY``/
``OPENAI_API_KEY``); ``OASIS_LLM_MODEL`` picks the model and ``OASIS_LLM=off`` disables the mode.
The model sees the MCP tools' names, descriptions and input schemas, asks for calls, gets the
tools' JSON back, and writes the answer. Any failure returns None: the caller then falls back to
the offline planner.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oasis_app.bridge import MCPBridge, ToolOutcome

log = logging.getLogger(__name__)

DEFAULT_HF_MODEL = "Qwen/Qwen2.5-72B-Instruct"
MAX_ROUNDS = 4
MAX_CALLS = 8
MAX_TOOL_TEXT = 12_000
SYSTEM_PROMPT = (
    "You are OASIS, an assistant for French recorded-crime statistics (SSMSI, police and "
    "gendarmerie, data.gouv.fr). Use the tools for every figure; never invent numbers. Answer in "
    "the language of the question (French or English) in a few sentences with the key numbers "
    "(counts and rates, years), the 80% interval for forecasts, and the data edition. Say that "
    "recorded crime is not actual crime when it matters. Areas: 18 regions, 101 departments, "
    "France ('FR') or metropolitan France ('FM') at level 'country'. If the question is out of "
    "scope, say what you can do instead."
)


@dataclass(frozen=True)
class LLMSettings:
    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    provider: str | None = None
    timeout: float = 30.0

    @property
    def label(self) -> str:
        where = self.base_url or f"Hugging Face ({self.provider or 'auto'})"
        return f"{self.model} via {where}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings | None:
        env = os.environ if env is None else env
        if env.get("OASIS_LLM", "").lower() in ("off", "0", "false", "no"):
            return None
        model = env.get("OASIS_LLM_MODEL", "").strip()
        base_url = (env.get("OASIS_LLM_BASE_URL") or env.get("OPENAI_BASE_URL") or "").strip()
        if base_url:
            key = env.get("OASIS_LLM_API_KEY") or env.get("OPENAI_API_KEY") or "unused"
            return cls(model or "default", base_url, key)
        token = (env.get("HF_TOKEN") or "").strip()
        if token:
            return cls(model or DEFAULT_HF_MODEL, None, token,
                       env.get("OASIS_LLM_PROVIDER") or "auto")
        return None


@dataclass
class LLMAnswer:
    text: str
    outcomes: list[ToolOutcome]
    model: str


def openai_tools(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """MCP tool listings as OpenAI-style function tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", "")[:1024],
                "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


def _default_client(settings: LLMSettings) -> Any:
    from huggingface_hub import InferenceClient

    if settings.base_url:
        return InferenceClient(base_url=settings.base_url, api_key=settings.api_key,
                               timeout=settings.timeout)
    return InferenceClient(provider=settings.provider, api_key=settings.api_key,  # type: ignore[arg-type]
                           timeout=settings.timeout)


class ToolCallingAssistant:
    """Runs the model ⇄ tools loop for one question."""

    def __init__(
        self,
        settings: LLMSettings,
        bridge: MCPBridge,
        client_factory: Callable[[LLMSettings], Any] = _default_client,
    ) -> None:
        self.settings = settings
        self.bridge = bridge
        self._client_factory = client_factory
        self._client: Any = None

    def run(self, question: str, history: Sequence[Mapping[str, str]] = ()) -> LLMAnswer | None:
        """The model's answer and the tool calls it made, or None on any failure."""
        try:
            return self._run(question, history)
        except Exception as exc:  # network, provider, malformed output...: fall back
            log.warning("language model unavailable (%s): %s", type(exc).__name__, exc)
            return None

    def _run(self, question: str, history: Sequence[Mapping[str, str]]) -> LLMAnswer | None:
        if self._client is None:
            self._client = self._client_factory(self.settings)
        tools = openai_tools(self.bridge.tools())
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        for turn in list(history)[-6:]:
            if turn.get("role") in ("user", "assistant") and isinstance(turn.get("content"), str):
                messages.append({"role": turn["role"], "content": turn["content"]})
        messages.append({"role": "user", "content": question})
        outcomes: list[ToolOutcome] = []
        for _ in range(MAX_ROUNDS):
            response = self._client.chat_completion(
                messages, model=self.settings.model, tools=tools, tool_choice="auto",
                temperature=0.2, max_tokens=800,
            )
            message = response.choices[0].message
            calls = list(getattr(message, "tool_calls", None) or [])
            if not calls:
                text = (message.content or "").strip()
                return LLMAnswer(text, outcomes, self.settings.model) if text else None
            messages.append({
                "role": "assistant",
                "content": message.content or "",
                "tool_calls": [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.function.name,
                                  "arguments": _arguments_text(c.function.arguments)}}
                    for c in calls
                ],
            })
            for call in calls:
                if len(outcomes) >= MAX_CALLS:
                    content = "Too many tool calls; answer with what you have."
                else:
                    outcome = self.bridge.call(call.function.name,
                                               _arguments(call.function.arguments))
                    outcomes.append(outcome)
                    content = (outcome.text or json.dumps(outcome.data))[:MAX_TOOL_TEXT] \
                        if outcome.ok else f"Error: {outcome.error}"
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "name": call.function.name, "content": content})
        log.warning("language model did not finish in %d rounds", MAX_ROUNDS)
        return None


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        value = json.loads(raw)
        if isinstance(value, dict):
            return value
        raise ValueError("tool arguments are not a JSON object")
    return {}


def _arguments_text(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw or {})
