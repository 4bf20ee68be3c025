"""The offline question planner: a deterministic reading of a French or English question into
calls of the MCP tools (the tools' real names and argument names).

    >>> [c.name for c in plan("Évolution des cambriolages en Bretagne depuis 2016")]
    ['get_history']

It recognises intents (history, forecast, ranking, comparison, model quality, lists), areas (names,
codes and aliases of regions and departments, plus France), indicators (official labels and common
French and English words), years, ranges and horizons. Every name comes from the data layer
(:mod:`oasis_mcp.data.geography`, :mod:`oasis_mcp.data.indicators`), every year bound from
:mod:`oasis_mcp.data.coverage` and the last year of the data served. When it cannot act (no
indicator, nothing in scope, an ambiguous word), :func:`understand` returns no call and a short
message saying what it can do, with example questions; whatever it reads otherwise than written
(a typo, a city, a former region, a year out of range, a long paste) is said in ``Plan.notes``.
:func:`follow_up` reads a short follow-up ("and in Normandy?", "compared to Normandy", "et en 2030
?") with the questions before it.

Modules, by concern: :mod:`~oasis_app.planner.vocabulary` (words and tables from the data layer),
:mod:`~oasis_app.planner.reading` (a question into a reading), :mod:`~oasis_app.planner.deciding`
(a reading into calls), :mod:`~oasis_app.planner.follow_ups`, :mod:`~oasis_app.planner.messages`
(help, clarifications, notes), :mod:`~oasis_app.planner.calls` (what is returned).

Pure and light: no data is loaded, no I/O; only the static geography and indicator tables are read.
"""

from __future__ import annotations

from oasis_app.planner.calls import Intent, Language, Plan, ToolCall
from oasis_app.planner.deciding import understand
from oasis_app.planner.follow_ups import follow_up
from oasis_app.planner.messages import EXAMPLES
from oasis_app.planner.vocabulary import DEFAULT_LAST_YEAR, MAX_QUESTION_CHARS, indicator_argument

__all__ = [
    "DEFAULT_LAST_YEAR", "EXAMPLES", "MAX_QUESTION_CHARS", "Intent", "Language", "Plan", "ToolCall",
    "follow_up", "indicator_argument", "plan", "understand",
]


def plan(question: str, *, last_year: int = DEFAULT_LAST_YEAR) -> list[ToolCall]:
    """The tool calls answering ``question`` (empty when out of scope or ambiguous)."""
    return understand(question, last_year=last_year).calls
