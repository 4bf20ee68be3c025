"""Protocol edges of the OASIS server: server identity, completions, prompt errors.

* :data:`ICONS` and :data:`WEBSITE_URL`: shown by clients next to the server's name;
* :func:`add_completions`: ``completion/complete`` for the prompts' ``area``, ``indicator`` and
  ``level`` arguments and the ``oasis://backtest/{level}`` template;
* :func:`prompt_error`: a client's mistake in ``prompts/get`` (unknown prompt, missing or unknown
  argument) as a JSON-RPC *invalid params* error with a readable message, not a crash.

Kept apart from ``server.py`` (tools and state) so that each part stays small.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from mcp.shared.exceptions import MCPError
from mcp.types import (
    Completion,
    CompletionArgument,
    Icon,
    PromptReference,
    ResourceTemplateReference,
)
from mcp_types import INVALID_PARAMS

from oasis_mcp.text import fold

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from oasis_mcp.query import DataIndex

# The server's website in server info: the dataset's page on data.gouv.fr (the project has no
# other public page of its own). resources_text.DATASET_PAGE is this same value.
WEBSITE_URL = (
    "https://www.data.gouv.fr/datasets/bases-statistiques-communale-departementale-et-regionale-"
    "de-la-delinquance-enregistree-par-la-police-et-la-gendarmerie-nationales/"
)

# A small shield (blue, white, red stripes under a rising line): the same SVG for every size.
_ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="12" fill="#fff"/>'
    '<rect x="8" y="8" width="16" height="48" fill="#002395"/>'
    '<rect x="24" y="8" width="16" height="48" fill="#f4f4f4"/>'
    '<rect x="40" y="8" width="16" height="48" fill="#ed2939"/>'
    '<polyline points="10,46 22,38 32,42 44,24 54,18" fill="none" stroke="#111" '
    'stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>'
)
ICONS: list[Icon] = [
    Icon(
        src="data:image/svg+xml;base64," + base64.b64encode(_ICON_SVG.encode()).decode(),
        mime_type="image/svg+xml",
        sizes=["any"],
    )
]

MAX_COMPLETIONS = 100  # the spec's limit per response
PROMPT_LEVELS = ("region", "department")
BACKTEST_LEVELS = ("country", "region", "department")
BACKTEST_TEMPLATE = "oasis://backtest/{level}"

IndexGetter = Callable[[], "DataIndex | None"]


def _matches(partial: str, candidates: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """Values whose keys start with ``partial`` (folded), then, for 3 characters or more, those
    that contain it; in candidate order."""
    wanted = fold(partial)
    starts: list[str] = []
    contains: list[str] = []
    for value, keys in candidates:
        folded = [fold(k) for k in keys if k]
        if not wanted or any(k.startswith(wanted) for k in folded):
            starts.append(value)
        elif len(wanted) >= 3 and any(wanted in k for k in folded):
            contains.append(value)
    return list(dict.fromkeys(starts + contains))


def _completion(values: list[str]) -> Completion:
    return Completion(
        values=values[:MAX_COMPLETIONS],
        total=len(values),
        has_more=len(values) > MAX_COMPLETIONS,
    )


def area_candidates(idx: DataIndex) -> list[tuple[str, Sequence[str]]]:
    """Regions then departments: the name is the value; name, English name and code match."""
    out: list[tuple[str, Sequence[str]]] = []
    for level in PROMPT_LEVELS:
        for area in idx.area_lists.get(level, ()):
            out.append((area.name, (area.name, area.name_en or "", area.code)))
    return out


def indicator_candidates(idx: DataIndex) -> list[tuple[str, Sequence[str]]]:
    """Slugs (the catalog's order); a slug matches on itself and on its French/English labels."""
    return [
        (ind.slug, (ind.slug, ind.label_fr, ind.label_en or ""))
        for ind in idx.catalog.indicators
    ]


def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    index: IndexGetter,
) -> Completion:
    """Suggestions for one argument; an unknown prompt, template or argument gets none."""
    name, partial = argument.name, argument.value or ""
    if isinstance(ref, ResourceTemplateReference):
        if ref.uri == BACKTEST_TEMPLATE and name == "level":
            return _completion(_matches(partial, ((lv, (lv,)) for lv in BACKTEST_LEVELS)))
        return _completion([])
    if name == "level":
        return _completion(_matches(partial, ((lv, (lv,)) for lv in PROMPT_LEVELS)))
    if name not in ("area", "indicator"):
        return _completion([])
    idx = index()
    if idx is None:  # no data installed: nothing to suggest (the tools say what to do)
        return _completion([])
    candidates = area_candidates(idx) if name == "area" else indicator_candidates(idx)
    return _completion(_matches(partial, candidates))


def add_completions(server: MCPServer, index: IndexGetter) -> None:
    """Register the ``completion/complete`` handler (the capability follows from it)."""
    import anyio.to_thread

    @server.completion()
    async def handle_completion(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: Any,
    ) -> Completion:
        # Loading the data (first use) reads files: keep it off the event loop.
        return await anyio.to_thread.run_sync(complete, ref, argument, index)


# --- prompts/get ---------------------------------------------------------------------------


def invalid_params(message: str, **data: Any) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message, data=data or None)


def prompt_error(
    name: str,
    arguments: dict[str, Any] | None,
    known: dict[str, tuple[list[str], list[str]]],
) -> MCPError | None:
    """The client's mistake in a ``prompts/get`` request, or None if the request is well formed.

    ``known`` maps each prompt name to (required arguments, optional arguments).
    """
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return invalid_params(
            f"Unknown prompt {name[:60]!r}.{hint} Available prompts: {', '.join(sorted(known))} "
            "(prompts/list describes them).",
            prompt=name[:60],
        )
    required, optional = known[name]
    given = arguments or {}
    missing = [a for a in required if a not in given or given[a] in (None, "")]
    accepted = required + optional
    extra = [str(a)[:40] for a in given if a not in accepted]
    problems = []
    if missing:
        problems.append(f"missing required argument{'s' if len(missing) > 1 else ''} "
                        + ", ".join(f"'{a}'" for a in missing))
    if extra:
        problems.append(f"unknown argument{'s' if len(extra) > 1 else ''} "
                        + ", ".join(f"'{a}'" for a in extra))
    if not problems:
        return None
    described = ", ".join(accepted) if accepted else "no arguments"
    return invalid_params(
        f"Prompt '{name}': {'; '.join(problems)}. It accepts: {described}"
        + (f" (required: {', '.join(required)})." if required else "."),
        prompt=name, missing=missing, unknown=extra,
    )
