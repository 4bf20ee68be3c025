"""One chat turn: plan (offline) or let the language model decide, call the MCP tools, answer.

:class:`ChatEngine` knows nothing about Gradio: it returns a :class:`ChatTurn` (the tool calls
with their durations, the text, the chart, suggestions); :mod:`oasis_app.ui` turns it into chat
messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from oasis_app import answers
from oasis_app.bridge import MCPBridge, ToolOutcome
from oasis_app.charts import Chart
from oasis_app.llm import ToolCallingAssistant
from oasis_app.planner import DEFAULT_LAST_YEAR, MAX_QUESTION_CHARS, follow_up, understand

log = logging.getLogger(__name__)

MAX_QUESTION = MAX_QUESTION_CHARS
"""The planner reads this much (and says so beyond); a long paste is searched for its question."""


@dataclass
class ChatTurn:
    question: str
    language: str
    steps: list[ToolOutcome]
    text: str
    chart: Chart | None = None
    suggestions: list[str] = field(default_factory=list)
    mode: Literal["offline", "llm"] = "offline"
    elapsed_ms: float = 0.0


class ChatEngine:
    def __init__(
        self,
        bridge: MCPBridge,
        *,
        llm: ToolCallingAssistant | None = None,
        last_year: int = DEFAULT_LAST_YEAR,
    ) -> None:
        self.bridge = bridge
        self.llm = llm
        self.last_year = last_year
        self._forecast_from: int | None = None
        self._forecast_from_read = False
        self._communes: bool | None = None

    @property
    def forecast_from(self) -> int | None:
        """The last year of the data the forecasts were trained on (model_metrics' last_year,
        read once): the forecast tool counts its horizon from it. None when unknown (no
        artifacts): the planner then counts from the data's last year."""
        if not self._forecast_from_read:
            self._forecast_from_read = True
            metrics = self.bridge.call("model_metrics")
            value = (metrics.data or {}).get("last_year") if metrics.ok else None
            self._forecast_from = value if isinstance(value, int) else None
        return self._forecast_from

    @forecast_from.setter
    def forecast_from(self, year: int | None) -> None:
        self._forecast_from, self._forecast_from_read = year, True

    @property
    def communes(self) -> bool:
        """Whether the server serves the commune level (its find_area tool searches communes:
        the communal file is installed), asked once."""
        if self._communes is None:
            found = self.bridge.call("find_area", {"query": "Paris", "limit": 1})
            warnings = (found.data or {}).get("warnings", []) if found.ok else []
            self._communes = found.ok and not any(
                "communes are not searched" in str(w).lower() for w in warnings)
        return self._communes

    @communes.setter
    def communes(self, served: bool) -> None:
        self._communes = served

    def ask(self, question: str, history: Sequence[Mapping[str, str]] = ()) -> ChatTurn:
        started = time.perf_counter()
        question = (question or "").strip()
        turn = None
        if self.llm is not None and question:
            turn = self._ask_model(question, history)
        if turn is None:
            turn = self._ask_planner(question, history)
            if self.llm is not None and question:
                turn.text += answers.say(
                    turn.language,
                    "\n\n_(Modèle de langage indisponible : réponse du planificateur hors ligne.)_",
                    "\n\n_(Language model unavailable: answered by the offline planner.)_",
                )
        turn.elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("chat turn (%s, %d tool calls) in %.0f ms", turn.mode, len(turn.steps),
                 turn.elapsed_ms)
        return turn

    def _ask_planner(self, question: str, history: Sequence[Mapping[str, str]] = ()) -> ChatTurn:
        # "and in Normandy?", "et en 2030 ?": a short follow-up is read with the questions before.
        previous = [m["content"] for m in history
                    if m.get("role") == "user" and isinstance(m.get("content"), str)]
        last, since, communes = self.last_year, self.forecast_from, self.communes
        plan = (follow_up(question, previous, last_year=last, forecast_from=since,
                          communes=communes)
                or understand(question, last_year=last, forecast_from=since, communes=communes))
        outcomes = [self.bridge.call(call.name, call.arguments) for call in plan.calls]
        reply = answers.compose(plan, outcomes)
        return ChatTurn(question, plan.language, outcomes, reply.text, reply.figure,
                        plan.suggestions)

    def _ask_model(self, question: str, history: Sequence[Mapping[str, str]]) -> ChatTurn | None:
        assert self.llm is not None
        result = self.llm.run(question[:MAX_QUESTION], history)
        if result is None:
            return None
        language = understand(question, last_year=self.last_year).language
        chart = answers.chart_for(result.outcomes, language)
        return ChatTurn(question, language, result.outcomes, result.text, chart, mode="llm")
