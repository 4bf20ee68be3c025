"""What the planner returns: the tool calls to make and what to say with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["fr", "en"]
Intent = Literal[
    "history", "forecast", "ranking", "compare", "models", "list_areas", "list_indicators",
    "help", "clarify", "out_of_scope",
]


@dataclass(frozen=True)
class ToolCall:
    """One call of an MCP tool: the tool's name and its arguments, as sent."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Plan:
    """What the planner made of a question."""

    question: str
    language: Language
    intent: Intent
    calls: list[ToolCall]
    message: str = ""
    """Said to the user when there is no call (clarification, out of scope), or as a note."""
    suggestions: list[str] = field(default_factory=list)
    """Questions the user may click on next."""
    measure: str | None = None
    extremum: Literal["max", "min"] = "max"
    """For rankings: whether the question is about the highest or the lowest values."""
    top_n: int | None = None
    accuracy: bool = False
    """The question asks how reliable a forecast is: the answer leads with the backtest figures
    the forecast tool returns for that indicator."""
    notes: list[str] = field(default_factory=list)
    """Short remarks to add to the answer (a city read as its department, a capped horizon…)."""

