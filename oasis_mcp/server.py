"""The OASIS MCP server: tools, resources and prompts over the SSMSI recorded-crime statistics.

``create_server()`` builds an :class:`~mcp.server.mcpserver.MCPServer`. Nothing is read at import or
construction: the dataset, its indexes and the training artifacts are loaded on first use, once, in
a worker thread, and shared by every session. Expected failures (unknown names, years out of range,
missing data or artifacts) reach the client as tool errors with a message saying what to do;
anything unexpected is logged to stderr with its traceback and reported without it. The server
never imports a training library.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
    ToolError,
    UnexpectedToolError,
)
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from oasis_mcp import __version__, config, protocol
from oasis_mcp.artifacts import Artifacts, load_artifacts, read_backtest, signature
from oasis_mcp.data_state import CHECK_INTERVAL, DataState, EditionNotFoundError, Snapshot
from oasis_mcp.errors import ArtifactsError, OasisError
from oasis_mcp.schemas import (
    AreaLevel,
    AreaList,
    AreaSearchResult,
    ComparisonResult,
    ForecastResult,
    HistoryResult,
    IndicatorCatalog,
    Level,
    Measure,
    ModelMetricsResult,
)

if TYPE_CHECKING:
    from oasis_mcp.data.communes import CommuneLevel
    from oasis_mcp.query import DataIndex

log = logging.getLogger(__name__)

SERVER_NAME = "oasis"
INSTRUCTIONS = (
    "French recorded-crime statistics (SSMSI, police and gendarmerie, data.gouv.fr) for France, "
    "its 18 regions and 101 departments, yearly since 2016, with forecasts to 2030. "
    "Areas and indicators can be named in French or English (codes, names, slugs, aliases). "
    "Communes (level='commune', when the communal file is installed) are named by INSEE code or "
    "by name with their department ('Saint-Denis (93)'); find_area searches names; small "
    "commune counts are withheld by the SSMSI (never 0). "
    "get_history for observed figures, compare_regions to rank areas, forecast for future years "
    "(always report the intervals and the model's backtest accuracy), model_metrics for the "
    "models' track record. Say which data edition you used and mention the caveats returned, in "
    "particular derived figures and upper bounds."
)

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

MAX_NAME = 200


def _code_as_text(value: object) -> object:
    """Models often send codes as numbers (33 for Gironde): accept them as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


AreaText = Annotated[str, BeforeValidator(_code_as_text)]
AreaArg = Annotated[
    AreaText,
    Field(
        description="Area code or name in French or English, at the given level: e.g. "
        "'Bretagne', 'Brittany', '53' (region); 'Gironde', '33', '2A' (department); "
        "'France'/'FR' or 'FM' (metropolitan France) at level 'country'.",
        max_length=MAX_NAME,
    ),
]
IndicatorArg = Annotated[
    str,
    Field(
        description="Indicator slug, official French label or alias in French or English: e.g. "
        "'burglary', 'cambriolages', 'violences sexuelles', 'drug-trafficking'. "
        "list_indicators gives the catalog.",
        max_length=MAX_NAME,
    ),
]
LevelArg = Annotated[
    Level,
    Field(description="'region' (18), 'department' (101) or 'country' (FR, FM metropolitan)"),
]
AnyLevelArg = Annotated[
    AreaLevel,
    Field(description="'region' (18), 'department' (101), 'country' (FR, FM metropolitan) or "
          "'commune' (about 35,000; INSEE code or 'Name (department)', from the communal file)"),
]
EditionArg = Annotated[
    AreaText | None,
    Field(
        description="Data edition to read: an edition id (e.g. "
        "'2024-geographie2024-produit-le2025-01-26') or its data year ('2024'). Default: the "
        "edition the server serves (normally the newest); list_indicators lists the installed "
        "ones in editions_available. Every answer names the edition it was read from.",
        max_length=80,
    ),
]
MeasureArg = Annotated[
    Measure,
    Field(
        description="'rate_per_100k' (default; compares areas of different sizes), 'count', or "
        "'rate_per_1000' as published"
    ),
]


# ---------------------------------------------------------------------------------------------
# Shared state, loaded lazily


class ServerState:
    """The data (a :class:`~oasis_mcp.data_state.DataState`: the served edition's snapshot, kept
    fresh) and the artifacts, loaded on first use and shared (thread-safe).

    A missing dataset is looked for again on the next call (so data can be installed while the
    server runs), and a newly installed edition replaces the served one between requests: each
    tool takes one :class:`~oasis_mcp.data_state.Snapshot` at its start and answers from it.
    Missing or corrupt artifacts are looked for again when their files change.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
        check_interval: float = CHECK_INTERVAL,
    ) -> None:
        self.data_dir = data_dir
        self.artifacts_dir = artifacts_dir
        self.data = DataState(data_dir, check_interval=check_interval)
        self._lock = threading.Lock()
        self._artifacts: Artifacts | None = None
        self._artifacts_error: str | None = None
        self._artifacts_sig: tuple[object, ...] | None = None

    @property
    def _index(self) -> DataIndex | None:
        """The served edition's index if loaded (never loads)."""
        snap = self.data.current
        return snap.index if snap is not None else None

    def snapshot(self, edition: str | None = None) -> Snapshot:
        return self.data.snapshot(edition)

    async def snapshot_async(self, edition: str | None = None) -> Snapshot:
        """The snapshot a tool answers from; no thread hop when nothing is due."""
        if edition is None:
            snap = self.data.ready()
            if snap is not None:
                return snap
        return await anyio.to_thread.run_sync(self.data.snapshot, edition)

    def index(self) -> DataIndex:
        return self.data.snapshot().index

    def artifacts(self) -> Artifacts:
        art = self._artifacts
        if art is not None:
            return art
        with self._lock:
            if self._artifacts is not None:
                return self._artifacts
            # Resolved on every attempt: the default directory can appear after start-up.
            path = config.artifacts_dir(self.artifacts_dir)
            sig = (path, *signature(path))
            if self._artifacts_error is not None and sig == self._artifacts_sig:
                raise ArtifactsError(self._artifacts_error)
            try:
                self._artifacts = load_artifacts(path)
            except ArtifactsError as exc:
                self._artifacts_error, self._artifacts_sig = str(exc), sig
                log.warning("%s", exc)
                raise
            return self._artifacts

    def health(self) -> dict[str, object]:
        """What /health reports: what is loaded so far (never triggers a load; a changed data
        directory starts a background reload)."""
        art = self._artifacts
        return {
            "data": self.data.health(),
            "artifacts": {"loaded": art is not None, "edition": art.edition if art else None},
        }

    def maybe_index(self) -> DataIndex | None:
        try:
            return self.index()
        except OasisError:
            return None

    async def maybe_index_async(self) -> DataIndex | None:
        snap = self.data.ready()
        return snap.index if snap is not None else await anyio.to_thread.run_sync(
            self.maybe_index)

    async def index_async(self) -> DataIndex:
        return (await self.snapshot_async()).index

    async def artifacts_async(self) -> Artifacts:
        art = self._artifacts
        return art if art is not None else await anyio.to_thread.run_sync(self.artifacts)


def noted(result: BaseModel, notes: list[str]) -> BaseModel:
    """``result`` with ``notes`` (which edition answered, a newer edition that failed to load)
    appended to its warnings."""
    if not notes or "warnings" not in type(result).model_fields:
        return result
    earlier: list[str] = getattr(result, "warnings")  # noqa: B009 - any model with warnings
    return result.model_copy(update={"warnings": [*earlier, *notes]})


def forecast_edition_error(tool: str, asked: str, snap: Snapshot, art: Artifacts) -> ToolError:
    """Forecasts come from the trained artifacts, i.e. from one edition: another one asked."""
    return ToolError(
        f"{tool}: forecasts come from the trained model, fitted on edition {art.edition} "
        f"(observed years up to {art.last_year}); edition '{asked[:60]}' ({snap.id}) was asked. "
        f"Omit edition (or pass '{art.edition}') for forecasts; for the observed figures of "
        f"edition {snap.id} use get_history or compare_regions with edition='{asked[:60]}' and "
        "an observed year. Forecasts from another edition need a retrained model (oasis-train)."
    )


async def forecast_snapshot(state: ServerState, edition: str | None, art: Artifacts) -> Snapshot:
    """The snapshot a forecast reads its observed context from: the served edition, or the
    training edition when asked by name (installed or not)."""
    if edition is None:
        return await state.snapshot_async()
    try:
        snap = await state.snapshot_async(edition)
    except EditionNotFoundError:
        asked = edition.strip()
        if asked in (art.edition, art.edition.split("-", 1)[0]):
            return await state.snapshot_async()  # the training edition is no longer installed
        raise
    if snap.id != art.edition:
        raise forecast_edition_error("forecast", edition, snap, art)
    return snap


def query() -> ModuleType:
    """The query layer, imported on first use: it pulls in pandas and numpy, which a desktop
    client launching the server should not wait for."""
    from oasis_mcp import query as module

    return module


def commune_query() -> ModuleType:
    """The commune query layer, imported on the first commune request."""
    from oasis_mcp import query_communes as module

    return module


async def commune_level(state: ServerState, idx: DataIndex) -> CommuneLevel:
    """The commune level of the server's data directory, loaded on the first commune request
    (raises a DataNotFoundError saying how to get the communal file when there is none)."""
    from oasis_mcp.data.communes import commune_level as load

    return await anyio.to_thread.run_sync(lambda: load(state.data_dir, idx.last_year))


@contextmanager
def tool_errors(tool: str) -> Iterator[None]:
    """Expected failures become tool errors with their message; anything else is logged here
    with its traceback and reported to the client without it."""
    try:
        yield
    except ToolError:
        raise
    except OasisError as exc:
        raise ToolError(str(exc)) from None
    except Exception as exc:
        log.exception("unexpected error in tool %s", tool)
        raise ToolError(
            f"internal error in {tool} ({type(exc).__name__}); it was logged on the server, "
            "which is still running. Try other arguments, or report the problem."
        ) from None


YEAR_LIKE = 1900
"""A horizon at least this large was meant as a calendar year ("horizon=2030")."""


def horizon_as_year(value: object, last_year: int | None) -> str | None:
    """The explanation for a horizon given as a year, or None when it does not look like one."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < YEAR_LIKE:
        return None
    from oasis_mcp.artifacts import MAX_FORECAST_YEAR

    if last_year is None:
        return (
            f"horizon {value} looks like a year, but horizon counts years after the last observed "
            f"year (forecasts stop at {MAX_FORECAST_YEAR}): e.g. with 2025 data, for "
            f"{MAX_FORECAST_YEAR} use horizon={MAX_FORECAST_YEAR - 2025}"
        )
    top = MAX_FORECAST_YEAR - last_year
    if last_year < value <= MAX_FORECAST_YEAR:
        advice = f"for {value} use horizon={value - last_year}"
    else:
        advice = (
            f"forecasts cover {last_year + 1}–{MAX_FORECAST_YEAR}, i.e. horizon 1 to {top}"
            + (f"; {value} is observed: use get_history" if value <= last_year else "")
        )
    return (
        f"horizon {value} looks like a year, but horizon counts years after the last observed "
        f"year ({last_year}): {advice}"
    )


def argument_errors(tool: str, exc: ValidationError, last_year: int | None = None) -> str:
    """Arguments that fail the input schema, in one line per field: which argument, what was
    wrong, what was sent (shortened), without pydantic's headers and documentation links.
    ``last_year`` (the last observed year, when known) makes the hint for a year given as a
    horizon exact."""
    parts = []
    for err in exc.errors(include_url=False):
        name = ".".join(str(part) for part in err["loc"]) or "arguments"
        ctx = err.get("ctx") or {}
        value = err.get("input")
        as_year = horizon_as_year(value, last_year) if name == "horizon" else None
        if as_year:
            parts.append(as_year)
            continue
        if err["type"] == "missing":
            parts.append(f"{name} is required")
            continue
        if err["type"] in ("too_long", "string_too_long") and "max_length" in ctx:
            what = "characters" if isinstance(value, str) else "items"
            size = ctx.get("actual_length", len(value) if isinstance(value, (str, list)) else "?")
            parts.append(f"{name} is too long: at most {ctx['max_length']} {what}, got {size}")
            continue
        sent = repr(value)
        if len(sent) > 40:
            sent = sent[:37] + "..."
        parts.append(f"{name}: {err['msg']} (got {sent})")
    return (f"Error executing tool {tool}: invalid argument(s): " + "; ".join(parts)
            + ". The tool's input schema lists the accepted values.")


ARGUMENT_SYNONYMS: dict[str, str] = {
    "region": "area", "department": "area", "departement": "area", "zone": "area",
    "code": "area", "place": "area", "location": "area", "crime": "indicator",
    "metric": "indicator", "slug": "indicator", "offence": "indicator", "offense": "indicator",
    "year": "horizon", "years": "horizon", "until": "horizon", "regions": "areas",
    "departments": "areas", "from_year": "start_year", "to_year": "end_year", "start": "start_year",
    "end": "end_year", "unit": "measure",
}
"""Common wrong argument names -> the accepted one they usually stand for (when a tool has it)."""


def unknown_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """The error for arguments that are not in the tool's input schema (None when all are):
    which were not accepted, the tool's accepted arguments, and the closest for each."""
    accepted = list((schema.get("properties") or {}).keys())
    extra = [key for key in arguments if key not in accepted]
    if not extra:
        return None
    parts = []
    for key in extra:
        text = str(key)
        close = difflib.get_close_matches(text.lower(), accepted, n=1, cutoff=0.6)
        synonym = ARGUMENT_SYNONYMS.get(text.lower())  # first: 'region' is not 'edition'
        guess = synonym if synonym in accepted else (close[0] if close else synonym)
        shown = repr(text if len(text) <= 40 else text[:37] + "...")
        if guess in accepted and guess not in arguments:
            parts.append(f"{shown} (did you mean '{guess}'?)")
        else:
            parts.append(shown)
    noun = "argument" if len(extra) == 1 else "arguments"
    accepts = (f"{tool} accepts: {', '.join(accepted)}." if accepted
               else f"{tool} takes no arguments.")
    return f"Error executing tool {tool}: unknown {noun} {', '.join(parts)}. {accepts}"


class OasisServer(MCPServer):
    """:class:`MCPServer` whose argument-validation errors are short and readable."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        schema = self._tool_input_schema(name)
        if schema is not None and isinstance(arguments, dict):
            unknown = unknown_arguments(name, schema, arguments)
            if unknown:
                raise ToolError(unknown + await self._year_hint(name, arguments))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and not isinstance(exc, UnexpectedToolError):
                raise ToolError(
                    argument_errors(name, cause, await self._last_year(arguments))
                ) from cause
            raise

    async def _year_hint(self, name: str, arguments: dict[str, Any]) -> str:
        """For forecast(year=2030): the horizon that gives that year."""
        year = arguments.get("year")
        if name != "forecast" or "horizon" in arguments or horizon_as_year(year, None) is None:
            return ""
        hint = horizon_as_year(year, await self._last_year({"horizon": year})) or ""
        return " forecast has no year argument: " + hint.split(", but ", 1)[-1] + "."

    async def _last_year(self, arguments: dict[str, Any]) -> int | None:
        """The last year forecasts start after, only when a horizon looks like a year."""
        horizon = arguments.get("horizon") if isinstance(arguments, dict) else None
        if horizon_as_year(horizon, None) is None:
            return None
        state = getattr(self, "state", None)
        if not isinstance(state, ServerState):
            return None
        try:
            return (await state.artifacts_async()).last_year
        except Exception:  # no artifacts: the data's last year is the same in practice
            idx = await state.maybe_index_async()
            return idx.last_year if idx is not None else None

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Any = None
    ) -> Any:
        """A client's mistake (unknown prompt, missing or unknown argument) is *invalid params*
        with a readable message, logged at INFO without a traceback."""
        problem = protocol.prompt_error(name, arguments, self._prompt_signatures())
        if problem is not None:
            log.info("prompts/get %r refused: %s", name[:60], problem.error.message)
            raise problem
        return await super().get_prompt(name, arguments, context)

    def _prompt_signatures(self) -> dict[str, tuple[list[str], list[str]]]:
        out: dict[str, tuple[list[str], list[str]]] = {}
        for prompt in self._prompt_manager.list_prompts():
            args = prompt.arguments or []
            out[prompt.name] = (
                [a.name for a in args if a.required], [a.name for a in args if not a.required]
            )
        return out


def structured(model: BaseModel) -> CallToolResult:
    """The model as structured content, with the same JSON, compact, as the text block."""
    return CallToolResult(
        content=[TextContent(type="text", text=model.model_dump_json())],
        structured_content=model.model_dump(mode="json"),
    )


# ---------------------------------------------------------------------------------------------
# The server


def create_server(
    data_dir: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
) -> MCPServer:
    """Build the OASIS MCP server. Data (``data_dir``, default ``config.data_dir()``) and
    artifacts (``artifacts_dir``, default ``config.artifacts_dir()``) are read on first use."""
    state = ServerState(data_dir, artifacts_dir)
    server = OasisServer(
        SERVER_NAME,
        title="OASIS: French recorded-crime statistics",
        instructions=INSTRUCTIONS,
        version=__version__,
        website_url=protocol.WEBSITE_URL,
        icons=protocol.ICONS,
        # No subscriptions/listen: the server never sends list-changed or resource-updated
        # notifications, so the 2026 protocol must not advertise them either.
        subscriptions=False,
    )
    server.state = state  # type: ignore[attr-defined]  # for tests and benchmarks
    server.health_info = state.health  # type: ignore[attr-defined]  # read by http_app's /health

    @server.tool(
        name="list_regions",
        title="List areas (regions, departments, country)",
        annotations=READ_ONLY,
        description=(
            "List the areas of one level: the 18 regions (default), the 101 departments, or the "
            "two country aggregates (FR France, FM metropolitan France). Each area comes with its "
            "code, name, English name, parent region (departments) and latest population. Pass "
            "region to get the departments of one region (e.g. region='Occitanie'). "
            "level='commune' with department lists that department's communes (paged: offset, "
            "limit) with INSEE code, population and parent commune of arrondissements. Other "
            "tools accept names directly: call this to enumerate areas or find a code."
        ),
    )
    async def list_regions(
        level: AnyLevelArg = "region",
        region: Annotated[
            AreaText | None,
            Field(
                description="Only the departments of this region (code or name); implies "
                "level='department'",
                max_length=MAX_NAME,
            ),
        ] = None,
        department: Annotated[
            AreaText | None,
            Field(description="level='commune' only: the department whose communes are listed",
                  max_length=MAX_NAME),
        ] = None,
        offset: Annotated[int, Field(description="level='commune': first commune shown",
                                     ge=0, le=100_000)] = 0,
        limit: Annotated[int, Field(description="level='commune': communes per page",
                                    ge=1, le=1000)] = 200,
        edition: EditionArg = None,
    ) -> Annotated[CallToolResult, AreaList]:
        with tool_errors("list_regions"):
            snap = await state.snapshot_async(edition)
            result: BaseModel
            if level == "commune" or department is not None:
                communes = await commune_level(state, snap.index)
                result = commune_query().list_communes(
                    snap.index, communes, department or region, offset, limit)
            else:
                result = query().list_areas(snap.index, level, region)
            return structured(noted(result, state.data.notes(snap)))

    @server.tool(
        name="list_indicators",
        title="List crime indicators",
        annotations=READ_ONLY,
        description=(
            "The catalog of recorded-crime indicators in the loaded data edition: slug, official "
            "French label, English label, unit counted (victims, offences, persons implicated, "
            "vehicles), rate denominator (inhabitants, or dwellings for burglary), caveats and "
            "years available, and the installed data editions (editions_available) that the "
            "data tools' edition argument accepts. Call it when unsure which indicator matches "
            "the user's words."
        ),
    )
    async def list_indicators(
        edition: EditionArg = None,
    ) -> Annotated[CallToolResult, IndicatorCatalog]:
        with tool_errors("list_indicators"):
            snap = await state.snapshot_async(edition)
            editions = await anyio.to_thread.run_sync(state.data.available)
            catalog = query().list_indicators(snap.index).model_copy(
                update={"editions_available": [e.id for e in editions]})
            return structured(noted(catalog, state.data.notes(snap)))

    @server.tool(
        name="get_history",
        title="Observed yearly history",
        annotations=READ_ONLY,
        description=(
            "Observed yearly figures of one indicator for one area (region, department or "
            "country), oldest first: per year the count, the rate per 1,000 as published by the "
            "SSMSI and the rate per 100,000. Also says what is counted (unit), whether the "
            "figures are derived (aggregated from departments) or upper bounds, the data edition "
            "and caveats. Use it for trends and 'how many' questions about past years; use "
            "forecast for years after the last published one. At level='commune' the years "
            "withheld by the SSMSI (small counts) are listed in withheld, never as 0."
        ),
    )
    async def get_history(
        area: AreaArg,
        indicator: IndicatorArg,
        level: AnyLevelArg = "region",
        start_year: Annotated[
            int | None, Field(description="First year (default: first observed, 2016)",
                              ge=2000, le=2100)
        ] = None,
        end_year: Annotated[
            int | None, Field(description="Last year (default: last observed)", ge=2000, le=2100)
        ] = None,
        edition: EditionArg = None,
    ) -> Annotated[CallToolResult, HistoryResult]:
        with tool_errors("get_history"):
            snap = await state.snapshot_async(edition)
            result: BaseModel
            if level == "commune":
                communes = await commune_level(state, snap.index)
                result = commune_query().get_history(
                    snap.index, communes, area, indicator, start_year, end_year)
            else:
                result = query().get_history(
                    snap.index, area, indicator, level, start_year, end_year)
            return structured(noted(result, state.data.notes(snap)))

    @server.tool(
        name="forecast",
        title="Forecast to 2030",
        annotations=READ_ONLY,
        description=(
            "Forecast one indicator for one area for the years after the last observed one, up "
            "to 2030: per year a point forecast with 80% and 95% prediction intervals, for the "
            "count and the rate per 100,000. Also returns the model used and its backtest "
            "accuracy at this level (MASE overall and per horizon, ratio to the naive forecast "
            "where <1 beats it, interval coverage) and on this indicator alone (its MASE and "
            "interval coverage, which vary a lot between indicators), the training data edition, "
            "the last observed years for context, and warnings (one when this indicator's "
            "intervals were too narrow in backtests). Always report the intervals, not only the "
            "point forecast. At level='commune' a forecast is given only when the series is "
            "published every year, large enough, and beats naive in a backtest run on it; "
            "otherwise the error says why and points to the department forecast."
        ),
    )
    async def forecast(
        area: AreaArg,
        indicator: IndicatorArg,
        level: AnyLevelArg = "region",
        horizon: Annotated[
            int,
            Field(description="Number of years after the last observed year (forecasts stop "
                  "at 2030: with 2025 data, at most 5)", ge=1, le=10),
        ] = 5,
        edition: Annotated[
            AreaText | None,
            Field(description="Forecasts come from the trained model, i.e. from its training "
                  "edition (training_edition in the answer): only that edition (id or data "
                  "year) is accepted here; default: it, with the served edition's last "
                  "observed years", max_length=80),
        ] = None,
    ) -> Annotated[CallToolResult, ForecastResult]:
        with tool_errors("forecast"):
            if level == "commune":
                snap = await state.snapshot_async(edition)
                communes = await commune_level(state, snap.index)
                return structured(noted(commune_query().forecast(
                    snap.index, None, communes, area, indicator, horizon),
                    state.data.notes(snap)))
            art = await state.artifacts_async()
            snap = await forecast_snapshot(state, edition, art)
            result = query().forecast(snap.index, art, area, indicator, level, horizon)
            return structured(noted(result, state.data.notes(snap)))

    @server.tool(
        name="compare_regions",
        title="Rank areas on an indicator",
        annotations=READ_ONLY,
        description=(
            "Rank the areas of a level (regions by default, or departments, or FR/FM) on one "
            "indicator for one year, highest first: value, rank (1 = highest), % change vs the "
            "previous year and vs 2016, and the national figure (France) for reference. year "
            "defaults to the last observed year; a later year up to 2030 uses point forecasts "
            "and is flagged is_forecast. areas restricts the output to some areas (their ranks "
            "stay those among all areas of the level). level='commune' ranks the communes of "
            "within (a department or region; default France) for an observed year, leaving out "
            "communes below min_population (default 5,000 for rates) and withheld ones (said), "
            "with the count ranking beside the rate ranking and the share of the area's total "
            "that published communes cover."
        ),
    )
    async def compare_regions(
        indicator: IndicatorArg,
        year: Annotated[
            int | None,
            Field(description="Year to rank (default: last observed; up to 2030 = forecast)",
                  ge=2000, le=2030),
        ] = None,
        level: AnyLevelArg = "region",
        areas: Annotated[
            list[Annotated[AreaText, Field(max_length=MAX_NAME)]] | None,
            Field(description="Only these areas (codes or names at the given level)",
                  max_length=120),
        ] = None,
        measure: MeasureArg = "rate_per_100k",
        within: Annotated[
            AreaText | None,
            Field(description="level='commune': the department or region whose communes are "
                  "ranked (default: all of France)", max_length=MAX_NAME),
        ] = None,
        min_population: Annotated[
            int | None,
            Field(description="level='commune': leave out communes below this population "
                  "(default 5,000 for rates, 0 for counts)", ge=0, le=3_000_000),
        ] = None,
        limit: Annotated[
            int, Field(description="level='commune': communes shown per ranking", ge=1, le=500)
        ] = 50,
        edition: EditionArg = None,
    ) -> Annotated[CallToolResult, ComparisonResult]:
        with tool_errors("compare_regions"):
            snap = await state.snapshot_async(edition)
            idx = snap.index
            if level == "commune":
                communes = await commune_level(state, idx)
                return structured(noted(commune_query().compare(
                    idx, communes, indicator, year, within, areas, measure, min_population,
                    limit), state.data.notes(snap)))
            if year is not None and year > idx.last_year:
                art = await state.artifacts_async()
                if edition is not None and snap.id != art.edition:
                    raise forecast_edition_error("compare_regions", edition, snap, art)
            result = query().compare(idx, state.artifacts, indicator, year, level, areas, measure)
            return structured(noted(result, state.data.notes(snap)))

    @server.tool(
        name="find_area",
        title="Find an area by name",
        annotations=READ_ONLY,
        description=(
            "Search regions, departments and communes by name, code or postal code: returns "
            "the matching areas with level, code, department and population (homonyms such as "
            "Saint-Denis come with their departments). Use it when a place name may be a "
            "commune or is ambiguous, then pass the code to the other tools."
        ),
    )
    async def find_area(
        query: Annotated[str, Field(description="A name, INSEE code or postal code, e.g. "
                                    "'Saint-Denis', 'Valence, Drôme', '33063', '26000'",
                                    max_length=MAX_NAME)],
        limit: Annotated[int, Field(description="At most this many matches", ge=1,
                                    le=100)] = 10,
    ) -> Annotated[CallToolResult, AreaSearchResult]:
        with tool_errors("find_area"):
            idx = await state.index_async()
            try:
                communes: CommuneLevel | None = await commune_level(state, idx)
                missing = None
            except OasisError as exc:
                communes, missing = None, f"Communes are not searched: {exc}"
            return structured(commune_query().find_areas(idx, communes, query, limit, missing))

    @server.tool(
        name="model_metrics",
        title="Forecast model leaderboard",
        annotations=READ_ONLY,
        description=(
            "How well the forecasting models did in backtests, per level: every candidate's "
            "MASE (lower is better), ratio to the naive last-value forecast (<1 beats it), "
            "sMAPE, 80%/95% interval coverage and pooled R² on rates per 100,000, best first; "
            "the champion "
            "used by forecast; the backtest protocol and the training data edition. Use it to "
            "judge how far forecasts can be trusted."
        ),
    )
    async def model_metrics(
        level: Annotated[
            Level | None, Field(description="One level, or all backtested levels (default)")
        ] = None,
    ) -> Annotated[CallToolResult, ModelMetricsResult]:
        with tool_errors("model_metrics"):
            art = await state.artifacts_async()
            idx = await state.maybe_index_async()
            result = query().model_metrics(idx, art, level)
            snap = state.data.current
            return structured(noted(result, state.data.notes(snap)) if snap else result)

    _add_resources(server, state)
    _add_prompts(server)
    protocol.add_completions(server, state.maybe_index)
    return server


# ---------------------------------------------------------------------------------------------
# Resources


def _add_resources(server: MCPServer, state: ServerState) -> None:
    @server.resource(
        "oasis://dataset",
        name="dataset",
        title="Dataset provenance",
        description="Provenance of the loaded data: publisher, licence, edition, files with "
        "sha256, levels and years, caveats.",
        mime_type="application/json",
    )
    def dataset_resource() -> str:
        from oasis_mcp import resources_text

        with _resource_errors():
            # Checked now (not rate-limited), waiting for a reload: this document names files.
            snap = state.data.snapshot(fresh=True)
            document = resources_text.dataset_document(snap.index)
            notes = state.data.notes(snap)
            return _json({**document, "warnings": notes} if notes else document)

    @server.resource(
        "oasis://indicators",
        name="indicators",
        title="Indicator catalog",
        description="The indicators of the loaded edition with labels, units, denominators, "
        "aliases, caveats and years.",
        mime_type="application/json",
    )
    def indicators_resource() -> str:
        from oasis_mcp import resources_text

        with _resource_errors():
            return _json(resources_text.indicators_document(state.index()))

    @server.resource(
        "oasis://methodology",
        name="methodology",
        title="Methodology and model card",
        description="How forecasts are made and evaluated (the model card written by training).",
        mime_type="text/markdown",
    )
    def methodology_resource() -> str:
        from oasis_mcp import resources_text

        with _resource_errors():
            try:
                art: Artifacts | None = state.artifacts()
                problem = None
            except ArtifactsError as exc:
                art, problem = None, str(exc)
            return resources_text.methodology_document(art, problem, state.maybe_index())


    backtests: dict[tuple[int, str], tuple[Artifacts, str]] = {}

    @server.resource(
        "oasis://backtest/{level}",
        name="backtest",
        title="Backtest points of the champion",
        description="The champion model's backtest forecasts at one level (country, region or "
        "department): actual vs predicted counts with 80/95% intervals, per area, indicator, "
        "cutoff and horizon (large levels are thinned evenly).",
        mime_type="application/json",
    )
    def backtest_resource(level: str) -> str:
        if level not in ("country", "region", "department"):
            raise ResourceNotFoundError(
                f"Unknown level '{level[:40]}': use oasis://backtest/country, "
                "oasis://backtest/region or oasis://backtest/department."
            )
        with _resource_errors():
            art = state.artifacts()
            hit = backtests.get((id(art), level))
            if hit is None or hit[0] is not art:
                hit = (art, _json(read_backtest(art, level), indent=None))
                backtests[(id(art), level)] = hit
            return hit[1]


@contextmanager
def _resource_errors() -> Iterator[None]:
    try:
        yield
    except OasisError as exc:
        raise ResourceError(str(exc)) from None


def _json(data: Any, indent: int | None = 1) -> str:
    return json.dumps(data, ensure_ascii=False, indent=indent)


# ---------------------------------------------------------------------------------------------
# Prompts


def _add_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="regional_briefing",
        title="Briefing on an area",
        description="Guide the assistant through a sourced briefing on recorded crime in one "
        "region or department: trends, position among peers, outlook.",
    )
    def regional_briefing(
        area: Annotated[str, Field(description="A region or department, code or name")],
    ) -> str:
        return (
            f"Prepare a short, sourced briefing on recorded crime in {area}.\n\n"
            "1. Decide the level: a region ('region') or a department ('department'); if unsure "
            "call list_regions (with region=... to see a region's departments).\n"
            "2. Call list_indicators, then get_history for 4 to 6 indicators that matter "
            "(e.g. burglary, physical violence within and outside the family, sexual violence, "
            "drug trafficking, non-violent theft). Describe the trend since 2016 and the last "
            "year-on-year change, using rates per 100,000 (per 100,000 dwellings for burglary, "
            "per 100,000 inhabitants otherwise).\n"
            "3. Call compare_regions for those indicators (same level, areas=[this area]) to "
            "place it among its peers and against the national figure.\n"
            "4. Call forecast for two or three of them, and model_metrics for that level; give "
            "the 80% intervals and say how reliable the model was in backtests.\n"
            "5. Finish with the data edition, the caveats returned by the tools (derived "
            "figures, upper bounds, recording changes, 2020 break) and the source (SSMSI, "
            "data.gouv.fr). Never present a forecast as a fact."
        )

    @server.prompt(
        name="compare_indicator",
        title="Compare areas on an indicator",
        description="Guide the assistant through a comparison of all regions (or departments) "
        "on one indicator: ranking, changes, national reference, outlook.",
    )
    def compare_indicator(
        indicator: Annotated[str, Field(description="Indicator slug, label or alias")],
        level: Annotated[
            str, Field(description="'region' (default) or 'department'")
        ] = "region",
    ) -> str:
        return (
            f"Compare the {level}s of France on the indicator '{indicator}'.\n\n"
            "1. Call list_indicators to confirm the indicator, its unit and its caveats.\n"
            f"2. Call compare_regions(indicator='{indicator}', level='{level}') for the last "
            "observed year (rates per 100,000 inhabitants, or dwellings for burglary), and once "
            "more with year=2016 to see how the "
            "ranking moved.\n"
            "3. Present the top and bottom five with their values, changes vs the previous "
            "year and vs 2016, and the national figure.\n"
            "4. For the two or three most notable areas, call get_history to show the trend "
            "and forecast for the outlook (with intervals, and model_metrics for reliability).\n"
            "5. State the data edition, whether figures are derived or upper bounds, and the "
            "indicator's caveats; differences between areas also reflect reporting and "
            "recording practices, not only crime."
        )

