"""The query layer: pure functions over a loaded dataset and the training artifacts.

No MCP here. :func:`build_index` turns a :class:`~oasis_mcp.data.dataset.Dataset` into plain
dictionaries of ready-made pydantic rows once, at load time, so that every query is a few dictionary
lookups and a model construction (no pandas per call). Every expected failure is an
:class:`~oasis_mcp.errors.OasisError` whose message is meant for the user: unknown names list the
closest matches, years out of range give the accepted range.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from oasis_mcp.artifacts import MAX_FORECAST_YEAR, Artifacts
from oasis_mcp.data import geography
from oasis_mcp.data.coverage import FIRST_YEAR
from oasis_mcp.data.dataset import Dataset
from oasis_mcp.data.geography import Area
from oasis_mcp.data.indicators import GENERAL_CAVEATS as INDICATOR_GENERAL_CAVEATS
from oasis_mcp.data.indicators import SUMS_ARE_UPPER_BOUNDS, indicator_by_label
from oasis_mcp.data.indicators import resolution_notes as indicator_notes
from oasis_mcp.errors import OasisError
from oasis_mcp.schemas import (
    AreaInfo,
    AreaList,
    AreaRef,
    CandidateMetrics,
    ComparisonResult,
    ForecastPoint,
    ForecastResult,
    HistoryPoint,
    HistoryResult,
    HorizonAccuracy,
    IndicatorAccuracy,
    IndicatorCatalog,
    IndicatorInfo,
    IndicatorRef,
    Interval,
    Level,
    LevelLeaderboard,
    Measure,
    ModelMetricsResult,
    ModelSummary,
    RankedArea,
    ReferenceValue,
)

T = TypeVar("T")
BASE_YEAR = FIRST_YEAR
LEVEL_ORDER: tuple[Level, ...] = ("country", "region", "department")
LAST_OBSERVED_SHOWN = 3
NATIONAL_CODE = "FR"
SOURCE = (
    "SSMSI (ministère de l'Intérieur), « Bases statistiques communale, départementale et régionale "
    "de la délinquance enregistrée par la police et la gendarmerie nationales », data.gouv.fr, "
    "Licence Ouverte 2.0"
)
GENERAL_CAVEATS = (
    *INDICATOR_GENERAL_CAVEATS,
    "Rates use INSEE populations (dwellings for burglary) that lag the data year by about two "
    "years; Mayotte uses the 2017 census for every year.",
)
DERIVED_CAVEAT = (
    "Figures for this level are aggregated from departments (not published as such); rates are "
    "recomputed from summed counts and populations."
)
UPPER_BOUND_CAVEAT = (
    "'Mis en cause' counts summed over departments are upper bounds: a person implicated in "
    "several departments is counted in each."
)
FORECAST_CAVEAT = (
    "Forecasts extrapolate recorded crime; they cannot anticipate changes in law, recording "
    "practice or reporting behaviour. Read the intervals, not only the point."
)
COUNTRY_CAVEAT = "FR = all 101 departments (with overseas); FM = the 96 metropolitan departments."


class QueryError(OasisError):
    """Bad query parameters (years, horizon, filters): the message gives the accepted values."""


# ---------------------------------------------------------------------------------------------
# The index built once per dataset


@dataclass(frozen=True)
class Series:
    points: tuple[HistoryPoint, ...]
    by_year: dict[int, HistoryPoint]
    derived: bool
    upper_bound: bool


@dataclass
class DataIndex:
    """Everything the queries need, precomputed from one dataset."""

    dataset: Dataset
    edition: str
    first_year: int
    last_year: int
    labels: tuple[str, ...]
    indicator_refs: dict[str, IndicatorRef]  # official label -> ref
    indicator_caveats: dict[str, tuple[str, ...]]
    catalog: IndicatorCatalog
    series: dict[tuple[str, str, str], Series]  # (level, area code, label)
    slices: dict[tuple[str, str, int], dict[str, HistoryPoint]]  # (level, label, year) -> area
    area_lists: dict[str, tuple[AreaInfo, ...]]
    area_refs: dict[tuple[str, str], AreaRef]
    derived_levels: frozenset[str]
    _resolved: dict[tuple[str, str | None], Any]
    _lock: threading.Lock
    _memo: dict[tuple[Any, ...], tuple[object, Any]] = field(default_factory=dict)

    def memo(self, key: tuple[Any, ...], build: Callable[[], T], owner: object = None) -> T:
        """``build()`` once per key (results are immutable). ``owner`` (the artifacts a result
        was computed from) must be the very same object for a cached result to be reused."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] is owner:
            return hit[1]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            if len(self._memo) > 2048:
                self._memo.clear()
            self._memo[key] = (owner, value)
        return value

    # -- name resolution (cached: the same names come back again and again) --------------------

    def area(self, query: str, level: Level) -> Area:
        key = ("area:" + level, query)
        hit = self._resolved.get(key)
        if hit is None:
            hit = geography.resolve_area(query, level)
            self._remember(key, hit)
        return hit  # type: ignore[no-any-return]

    def indicator(self, query: str) -> str:
        """The official label of the indicator named by ``query`` (slug, label, alias…)."""
        key = ("indicator", query)
        hit = self._resolved.get(key)
        if hit is None:
            hit = self.dataset.resolve_indicator(query).label_fr
            self._remember(key, hit)
        return hit  # type: ignore[no-any-return]

    def _remember(self, key: tuple[str, str | None], value: object) -> None:
        with self._lock:
            if len(self._resolved) > 4096:
                self._resolved.clear()
            self._resolved[key] = value


_last_index: tuple[Dataset, DataIndex] | None = None
_index_lock = threading.Lock()


def index_for(dataset: Dataset) -> DataIndex:
    """The index of ``dataset``, built once (the last one is kept, as :func:`load_dataset`
    keeps the last dataset)."""
    global _last_index
    with _index_lock:
        if _last_index is None or _last_index[0] is not dataset:
            _last_index = (dataset, build_index(dataset))
        return _last_index[1]


def build_index(dataset: Dataset) -> DataIndex:
    """Precompute series, year slices, area lists and the indicator catalog."""
    frame = dataset.frame
    year_col = frame["year"].to_numpy()
    derived_col = frame["derived"].to_numpy(dtype=bool)
    upper_col = frame["upper_bound"].to_numpy(dtype=bool)
    pop_col = frame["population"].to_numpy()
    # One HistoryPoint per row, built from plain Python values (validated here, once).
    year_list = year_col.tolist()
    counts = frame["count"].to_numpy().tolist()
    r1000 = _rounded(frame["rate_per_1000"].to_numpy(dtype=float), 7)
    r100k = _rounded(frame["rate_per_100k"].to_numpy(dtype=float), 3)
    if not all(isinstance(v, int) for v in (*year_list[:1], *counts[:1])):
        raise TypeError("year and count must be integer columns")

    series: dict[tuple[str, str, str], Series] = {}
    slices: dict[tuple[str, str, int], dict[str, HistoryPoint]] = {}
    population: dict[tuple[str, str], tuple[int, int]] = {}
    ind_years: dict[str, list[int]] = {}
    for key, rows in dataset._index.items():
        level, area, label = key
        rows = np.asarray(rows)
        rows = rows[np.argsort(year_col[rows], kind="stable")]
        points = tuple(
            HistoryPoint.model_construct(
                year=year_list[i], count=counts[i], rate_per_1000=r1000[i], rate_per_100k=r100k[i]
            )
            for i in rows.tolist()
        )
        by_year = {p.year: p for p in points}
        series[key] = Series(points, by_year, bool(derived_col[rows].any()),
                             bool(upper_col[rows].any()))
        for p in points:
            slices.setdefault((level, label, p.year), {})[area] = p
        last = int(rows[-1])
        year = int(year_col[last])
        if population.get((level, area), (0, 0))[0] < year:
            population[(level, area)] = (year, int(pop_col[last]))
        span = ind_years.setdefault(label, [points[0].year, points[-1].year])
        span[0] = min(span[0], points[0].year)
        span[1] = max(span[1], points[-1].year)

    refs: dict[str, IndicatorRef] = {}
    caveats: dict[str, tuple[str, ...]] = {}
    infos: list[IndicatorInfo] = []
    for ind in dataset.indicator_info:
        ref = IndicatorRef(
            slug=ind.slug, label_fr=ind.label_fr, label_en=ind.label_en, unit=ind.unit,
            denominator=str(ind.denominator),
        )
        refs[ind.label_fr] = ref
        caveats[ind.label_fr] = tuple(ind.caveats)
        first, last = ind_years.get(ind.label_fr, [dataset.first_year, dataset.last_year])
        infos.append(IndicatorInfo(**ref.model_dump(), caveats=list(ind.caveats),
                                   first_year=first, last_year=last))

    area_lists: dict[str, tuple[AreaInfo, ...]] = {}
    area_refs: dict[tuple[str, str], AreaRef] = {}
    for level in LEVEL_ORDER:
        present = {a for (lvl, a, _) in series if lvl == level}
        infos_level = []
        for place in geography.areas(level):
            area_refs[(level, place.code)] = AreaRef(code=place.code, name=place.name, level=level)
            if place.code not in present:
                continue
            pop = population.get((level, place.code))
            infos_level.append(AreaInfo(
                code=place.code, name=place.name, name_en=place.name_en, level=level,
                region_code=place.region_code, population=pop[1] if pop else None,
            ))
        area_lists[level] = tuple(infos_level)

    derived_levels = frozenset(
        lvl for (lvl, _, _), s in series.items() if s.derived
    )
    catalog = IndicatorCatalog(
        edition=dataset.edition.id, first_year=dataset.first_year, last_year=dataset.last_year,
        indicators=infos, caveats=list(GENERAL_CAVEATS),
    )
    return DataIndex(
        dataset=dataset, edition=dataset.edition.id, first_year=dataset.first_year,
        last_year=dataset.last_year, labels=tuple(dataset.indicators), indicator_refs=refs,
        indicator_caveats=caveats, catalog=catalog, series=series, slices=slices,
        area_lists=area_lists, area_refs=area_refs, derived_levels=derived_levels,
        _resolved={}, _lock=threading.Lock(),
    )


def _rounded(values: np.ndarray, digits: int) -> list[float | None]:
    """Rounded floats, NaN (zero denominator) as None."""
    out: list[float | None] = np.round(values, digits).tolist()
    return [None if v != v else v for v in out]


def _num(value: float, digits: int) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _pct(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return round((new - old) / old * 100, 1)


# ---------------------------------------------------------------------------------------------
# Queries


def list_areas(idx: DataIndex, level: Level = "region", region: str | None = None) -> AreaList:
    """Areas of a level with their latest population; ``region`` restricts to its departments."""
    region_ref: AreaRef | None = None
    items = idx.area_lists[level]
    if region is not None:
        if level == "country":
            raise QueryError(
                "The region filter lists the departments of a region; use level='department' "
                "(or omit level) with region, not level='country'."
            )
        reg = idx.area(region, "region")
        region_ref = idx.area_refs[("region", reg.code)]
        level = "department"
        items = tuple(a for a in idx.area_lists[level] if a.region_code == reg.code)
    return AreaList(level=level, region=region_ref, count=len(items), areas=list(items),
                    edition=idx.edition)


def list_indicators(idx: DataIndex) -> IndicatorCatalog:
    return idx.catalog


def _caveats(idx: DataIndex, label: str, level: str, s: Series | None) -> list[str]:
    out = list(idx.indicator_caveats.get(label, ()))
    if s is not None and not s.upper_bound:  # the caveat follows the flag (Mayotte, departments)
        out = [c for c in out if c != SUMS_ARE_UPPER_BOUNDS]
    if s is not None and s.derived:
        out.append(DERIVED_CAVEAT)
    if s is not None and s.upper_bound:
        out.append(UPPER_BOUND_CAVEAT)
    if level == "country":
        out.append(COUNTRY_CAVEAT)
    return out


def _series(idx: DataIndex, level: Level, area: Area, label: str) -> Series:
    s = idx.series.get((level, area.code, label))
    if s is None:
        raise QueryError(
            f"No data for {area.label} ({level}) and '{label}' in edition {idx.edition}."
        )
    return s


def get_history(
    idx: DataIndex,
    area: str,
    indicator: str,
    level: Level = "region",
    start_year: int | None = None,
    end_year: int | None = None,
) -> HistoryResult:
    """Yearly count and rates of one area and indicator, oldest first."""
    start = idx.first_year if start_year is None else start_year
    end = idx.last_year if end_year is None else end_year
    _check_year("start_year", start, idx)
    _check_year("end_year", end, idx)
    if start > end:
        raise QueryError(f"start_year ({start}) is after end_year ({end}).")
    found = idx.area(area, level)
    label = idx.indicator(indicator)
    s = _series(idx, level, found, label)
    points = [p for p in s.points if start <= p.year <= end]
    return HistoryResult(
        area=idx.area_refs[(level, found.code)],
        indicator=idx.indicator_refs[label],
        derived=s.derived,
        upper_bound=s.upper_bound,
        points=points,
        edition=idx.edition,
        caveats=_caveats(idx, label, level, s),
        source=SOURCE,
        warnings=[*geography.resolution_notes(area, found), *_indicator_notes(indicator, label)],
    )


def _check_year(name: str, year: int, idx: DataIndex) -> None:
    if not idx.first_year <= year <= idx.last_year:
        hint = " Use forecast for later years." if year > idx.last_year else ""
        raise QueryError(
            f"{name} {year} is outside the observed years {idx.first_year}–{idx.last_year}."
            + hint
        )


def _interval(values: Sequence[float], offset: int, digits: int, scale: float = 1.0) -> Interval:
    v = [round(x * scale, digits) for x in values[offset:offset + 5]]
    return Interval(value=v[0], lo_80=v[1], hi_80=v[2], lo_95=v[3], hi_95=v[4])


def _edition_warnings(idx: DataIndex, art: Artifacts) -> list[str]:
    if art.edition == idx.edition:
        return []
    return [
        f"The forecasts were trained on data edition {art.edition} (last observed year "
        f"{art.last_year}), but the server now serves edition {idx.edition} (last observed year "
        f"{idx.last_year}). Retrain with `oasis-train` to align them."
    ]


INDICATOR_COVERAGE_FLOOR = {"80": 0.65, "95": 0.85}
"""Below these backtest coverages an indicator's intervals get a 'too narrow' warning."""


def _indicator_summary(
    art: Artifacts, level: Level, label: str, metrics: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The champion's backtest figures for this indicator (ModelSummary fields) and warnings."""
    by_indicator, note = art.indicator_figures(level)
    figures = by_indicator.get(label)
    if not isinstance(figures, dict):
        why = f" ({note})" if note else ""
        return {}, [
            f"Backtest figures for this indicator are unavailable{why}: the coverage shown is "
            "the level-wide one, and interval coverage varies a lot between indicators."
        ]
    n = figures.get("n_forecasts")
    fields: dict[str, Any] = {
        "indicator_mase": _metric(figures.get("mase")),
        "indicator_coverage_80": _metric(figures.get("coverage_80")),
        "indicator_coverage_95": _metric(figures.get("coverage_95")),
        "indicator_n_backtest": n if isinstance(n, int) and not isinstance(n, bool) else None,
        "indicator_by_horizon": horizon_accuracy(figures.get("by_horizon")),
    }
    c80: float | None = fields["indicator_coverage_80"]
    c95: float | None = fields["indicator_coverage_95"]
    if (c80 is not None and c80 < INDICATOR_COVERAGE_FLOOR["80"]) or (
        c95 is not None and c95 < INDICATOR_COVERAGE_FLOOR["95"]
    ):
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.0%}"

        level80, level95 = _metric(metrics.get("coverage_80")), _metric(metrics.get("coverage_95"))
        return fields, [
            f"For this indicator the prediction intervals were too narrow in backtests: at "
            f"{level} level the 80% interval contained only {pct(c80)} of the actual values and "
            f"the 95% interval {pct(c95)} (over {n} backtest forecasts; all indicators: "
            f"{pct(level80)} and {pct(level95)}). Read the intervals as wider than stated: the "
            "outcome falls outside them far more often than their nominal level says."
        ]
    return fields, []


def _model_summary(
    art: Artifacts, level: Level, horizon: int, label: str
) -> tuple[ModelSummary, list[str]]:
    block = art.level_metrics(level)
    if block is None:
        return (
            ModelSummary(name="unknown", level=level, backtested=False),
            [f"The {level} level was not backtested: no accuracy figures are available for it."],
        )
    champion = str(block.get("champion") or "unknown")
    cands = block.get("candidates")
    metrics = cands.get(champion) if isinstance(cands, dict) else None
    metrics = metrics if isinstance(metrics, dict) else {}
    by_horizon = metrics.get("by_horizon")
    per_h = {
        str(h): v
        for h, m in (by_horizon.items() if isinstance(by_horizon, dict) else ())
        if isinstance(m, dict) and (v := _metric(m.get("mase"))) is not None
    }
    indicator_fields, warnings = _indicator_summary(art, level, label, metrics)
    tested = [int(h) for h in per_h if h.isdigit()] or _horizons(art)
    if tested and horizon > max(tested):
        warnings.append(
            f"Backtests covered horizons up to {max(tested)} year(s): accuracy beyond "
            f"{art.last_year + max(tested)} was not measured and is likely worse."
        )
    return (
        ModelSummary(
            name=champion, level=level, backtested=True,
            mase=_metric(metrics.get("mase")),
            ratio_to_naive=_metric(
                metrics.get("ratio_to_naive", block.get("champion_ratio_to_naive"))
            ),
            mase_by_horizon=per_h,
            coverage_80=_metric(metrics.get("coverage_80")),
            coverage_95=_metric(metrics.get("coverage_95")),
            **indicator_fields,
        ),
        warnings,
    )


def _horizons(art: Artifacts) -> list[int]:
    protocol = art.metrics.get("protocol")
    horizons = protocol.get("horizons") if isinstance(protocol, dict) else None
    if not isinstance(horizons, list):
        return []
    return [h for h in horizons if isinstance(h, int) and not isinstance(h, bool)]


def _metric(value: object, digits: int = 4) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), digits) if math.isfinite(value) else None


def forecast(
    idx: DataIndex,
    art: Artifacts,
    area: str,
    indicator: str,
    level: Level = "region",
    horizon: int = 5,
) -> ForecastResult:
    """Point forecasts and 80/95 % intervals from the year after the last observed one."""
    max_horizon = MAX_FORECAST_YEAR - art.last_year
    if not 1 <= horizon <= max_horizon:
        raise QueryError(
            f"horizon {horizon} is out of range: forecasts run from {art.last_year + 1} to "
            f"{MAX_FORECAST_YEAR}, so horizon must be between 1 and {max_horizon}."
            + (f" horizon counts years after {art.last_year}, not a calendar year: for {horizon} "
               f"use horizon={horizon - art.last_year}."
               if art.last_year < horizon <= MAX_FORECAST_YEAR else "")
        )
    found = idx.area(area, level)
    label = idx.indicator(indicator)
    key = ("forecast", level, found.code, label, horizon, id(art))
    result = idx.memo(key, lambda: _forecast(idx, art, found, label, level, horizon), owner=art)
    return _with_warnings(result, [*geography.resolution_notes(area, found),
                                   *_indicator_notes(indicator, label)])


def _indicator_notes(query: str, label: str) -> list[str]:
    """How the indicator was read, when only part of its name was given ("cambriol")."""
    found = indicator_by_label(label)
    return indicator_notes(query, found) if found is not None else []


def _with_warnings(result: ForecastResult, notes: list[str]) -> ForecastResult:
    """The (cached) result with per-query notes (how the area was read) first."""
    if not notes:
        return result
    return result.model_copy(update={"warnings": [*notes, *result.warnings]})


def _forecast(
    idx: DataIndex, art: Artifacts, found: Area, label: str, level: Level, horizon: int
) -> ForecastResult:
    rows = art.series.get((level, found.code, label))
    if not rows:
        raise QueryError(
            f"No forecast for {found.label} ({level}) and '{label}' in the trained artifacts "
            f"(edition {art.edition}); retrain with `oasis-train`."
        )
    last = art.last_year + horizon
    points = [
        ForecastPoint(year=year, count=_interval(v, 0, 1), rate_per_100k=_interval(v, 5, 3))
        for year, v in rows
        if year <= last
    ]
    observed = idx.series.get((level, found.code, label))
    model, warnings = _model_summary(art, level, horizon, label)
    warnings = _edition_warnings(idx, art) + warnings
    return ForecastResult(
        area=idx.area_refs[(level, found.code)],
        indicator=idx.indicator_refs[label],
        forecasts=points,
        last_observed=list(observed.points[-LAST_OBSERVED_SHOWN:]) if observed else [],
        model=model,
        training_edition=art.edition,
        data_edition=idx.edition,
        upper_bound=bool(observed and observed.upper_bound),
        warnings=warnings,
        caveats=[*_caveats(idx, label, level, observed), FORECAST_CAVEAT,
                 *provisional_notes(art, level)],
    )


def _measure(p: HistoryPoint | None, measure: Measure) -> float | None:
    if p is None:
        return None
    if measure == "count":
        return float(p.count)
    return p.rate_per_100k if measure == "rate_per_100k" else p.rate_per_1000


def _forecast_measure(v: Sequence[float] | None, measure: Measure) -> float | None:
    if v is None:
        return None
    if measure == "count":
        return round(v[0], 1)
    if measure == "rate_per_100k":
        return round(v[5], 3)
    return round(v[5] / 100, 7)


def compare(
    idx: DataIndex,
    artifacts: Callable[[], Artifacts],
    indicator: str,
    year: int | None = None,
    level: Level = "region",
    areas: Sequence[str] | None = None,
    measure: Measure = "rate_per_100k",
) -> ComparisonResult:
    """Rank the areas of a level for one indicator and year (observed, or forecast up to 2030)."""
    year = idx.last_year if year is None else year
    label = idx.indicator(indicator)
    art: Artifacts | None = None
    if year < idx.first_year or year > MAX_FORECAST_YEAR:
        raise QueryError(
            f"year {year} is out of range: observed years are {idx.first_year}–{idx.last_year} "
            f"and forecasts run to {MAX_FORECAST_YEAR}."
        )
    is_forecast = year > idx.last_year
    if is_forecast:
        art = artifacts()
        if year not in art.years:
            raise QueryError(
                f"year {year} is neither observed ({idx.first_year}–{idx.last_year}) nor "
                f"forecast ({art.first_forecast_year}–{art.last_forecast_year})."
            )
    key = ("compare", level, label, year, measure, id(art))
    full = idx.memo(key, lambda: _ranking(idx, art, label, year, level, measure), owner=art)
    read_as = _indicator_notes(indicator, label)
    if not areas:
        return full.model_copy(update={"warnings": [*read_as, *full.warnings]}) if read_as \
            else full
    found = [(q, idx.area(q, level)) for q in areas]
    wanted = {a.code for _, a in found}
    notes = [n for q, a in found for n in geography.resolution_notes(q, a)]
    return full.model_copy(update={"ranking": [r for r in full.ranking if r.code in wanted],
                                   "warnings": [*read_as, *notes, *full.warnings]})


def _ranking(
    idx: DataIndex, art: Artifacts | None, label: str, year: int, level: Level, measure: Measure
) -> ComparisonResult:
    """Every area of the level, ranked (highest first; areas without a value last)."""

    def value_at(lvl: str, code: str, y: int) -> float | None:
        if y <= idx.last_year:
            return _measure(idx.slices.get((lvl, label, y), {}).get(code), measure)
        if art is None:
            return None
        return _forecast_measure(art.by_year.get((lvl, label, y), {}).get(code), measure)

    codes = [a.code for a in idx.area_lists[level]]
    values = {code: value_at(level, code, year) for code in codes}
    ranked = sorted((v, c) for c, v in values.items() if v is not None)
    ranked.reverse()
    ranks: dict[str, int] = {}
    for pos, (v, c) in enumerate(ranked, start=1):
        ranks[c] = pos if pos == 1 or v != ranked[pos - 2][0] else ranks[ranked[pos - 2][1]]
    order = [c for _, c in ranked] + [c for c in codes if values[c] is None]
    out = []
    for code in order:
        value = values[code]
        out.append(RankedArea(
            rank=ranks.get(code, len(ranked) + 1), code=code,
            name=idx.area_refs[(level, code)].name, value=value,
            change_vs_previous_pct=_pct(value, value_at(level, code, year - 1)),
            change_vs_2016_pct=_pct(value, value_at(level, code, BASE_YEAR)),
        ))
    national_value = value_at("country", NATIONAL_CODE, year)
    national = ReferenceValue(
        code=NATIONAL_CODE, name=idx.area_refs[("country", NATIONAL_CODE)].name,
        value=national_value,
        change_vs_previous_pct=_pct(national_value, value_at("country", NATIONAL_CODE, year - 1)),
        change_vs_2016_pct=_pct(national_value, value_at("country", NATIONAL_CODE, BASE_YEAR)),
    )
    warnings: list[str] = []
    if art is not None:
        warnings += _edition_warnings(idx, art)
        warnings.append(
            f"{year} values are point forecasts (see forecast for intervals), not observations."
        )
    # The flags and caveats of the level: an upper-bound series if any (not the first area's,
    # which is a single-department region such as Guadeloupe at level region).
    level_series = [x for c in codes if (x := idx.series.get((level, c, label))) is not None]
    sample = next((x for x in level_series if x.upper_bound),
                  level_series[0] if level_series else None)
    return ComparisonResult(
        indicator=idx.indicator_refs[label], level=level, year=year, is_forecast=art is not None,
        measure=measure, out_of=len(ranked), ranking=out, national=national,
        derived=bool(sample and sample.derived), upper_bound=bool(sample and sample.upper_bound),
        edition=art.edition if art is not None else idx.edition,
        warnings=warnings, caveats=_caveats(idx, label, level, sample),
    )


def model_metrics(
    idx: DataIndex | None, art: Artifacts, level: Level | None = None
) -> ModelMetricsResult:
    """The backtest leaderboard of every level (or one), with the champion and the protocol."""
    levels_block = art.metrics.get("levels")
    known = [str(k) for k in levels_block] if isinstance(levels_block, dict) else []
    wanted = [level] if level else (
        [lvl for lvl in LEVEL_ORDER if lvl in known] + [k for k in known if k not in LEVEL_ORDER]
    )
    warnings: list[str] = []
    boards = []
    for lvl in wanted:
        block = art.level_metrics(lvl)
        if block is None:
            boards.append(LevelLeaderboard(level=lvl, backtested=False))
            warnings.append(f"The {lvl} level was not backtested.")
            continue
        cands = block.get("candidates")
        rows = [
            CandidateMetrics(
                name=str(name),
                mase=_metric(m.get("mase")), ratio_to_naive=_metric(m.get("ratio_to_naive")),
                smape=_metric(m.get("smape")), coverage_80=_metric(m.get("coverage_80")),
                coverage_95=_metric(m.get("coverage_95")),
                pooled_r2_rate100k=_metric(m.get("pooled_r2_rate100k")),
            )
            for name, m in (cands.items() if isinstance(cands, dict) else ())
            if isinstance(m, dict)
        ]
        rows.sort(key=lambda r: (r.mase is None, r.mase if r.mase is not None else 0.0, r.name))
        boards.append(LevelLeaderboard(
            level=lvl, backtested=True, champion=_text(block.get("champion")),
            naive_mase=_metric(block.get("naive_mase")),
            champion_ratio_to_naive=_metric(block.get("champion_ratio_to_naive")),
            n_series=_int(block.get("n_series")),
            n_series_excluded_zero_scale=_int(block.get("n_series_excluded_zero_scale")),
            candidates=rows,
            champion_by_horizon=_champion_by_horizon(block),
            champion_by_indicator=_champion_by_indicator(block),
        ))
    if idx is not None:
        warnings = _edition_warnings(idx, art) + warnings
    protocol = art.metrics.get("protocol")
    return ModelMetricsResult(
        levels=boards, protocol=protocol if isinstance(protocol, dict) else {},
        training_edition=art.edition, data_edition=idx.edition if idx is not None else "unknown",
        last_year=_int(art.metrics.get("last_year")),
        git_commit=_text(art.metrics.get("git_commit")),
        warnings=warnings,
    )


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- per-horizon and per-indicator backtest figures, revisions of the latest year ------------


def horizon_accuracy(by_horizon: object) -> list[HorizonAccuracy]:
    """``{"1": {"mase", "coverage_80", "coverage_95", "n_forecasts"}, ...}`` as a sorted list."""
    if not isinstance(by_horizon, dict):
        return []
    out = []
    for h, m in by_horizon.items():
        if not (isinstance(m, dict) and str(h).isdigit()):
            continue
        out.append(HorizonAccuracy(
            horizon=int(h), mase=_metric(m.get("mase")),
            coverage_80=_metric(m.get("coverage_80")), coverage_95=_metric(m.get("coverage_95")),
            n_backtest=_int(m.get("n_forecasts")),
        ))
    return sorted(out, key=lambda a: a.horizon)


def _champion_by_horizon(block: dict[str, Any]) -> list[HorizonAccuracy]:
    cands = block.get("candidates")
    champ = cands.get(str(block.get("champion"))) if isinstance(cands, dict) else None
    return horizon_accuracy(champ.get("by_horizon")) if isinstance(champ, dict) else []


def _champion_by_indicator(block: dict[str, Any]) -> list[IndicatorAccuracy]:
    per = block.get("champion_by_indicator")
    if not isinstance(per, dict):
        return []
    return [
        IndicatorAccuracy(
            indicator=str(label), mase=_metric(m.get("mase")),
            coverage_80=_metric(m.get("coverage_80")), coverage_95=_metric(m.get("coverage_95")),
            msis_95=_metric(m.get("msis_95")), n_backtest=_int(m.get("n_forecasts")),
            by_horizon=horizon_accuracy(m.get("by_horizon")),
        )
        for label, m in sorted(per.items()) if isinstance(m, dict)
    ]


def provisional_notes(art: Artifacts, level: str) -> list[str]:
    """The latest observed year is provisional: how much the previous edition's latest year was
    revised in the next one (measured by training; empty when it was not measured)."""
    rev = art.metrics.get("revisions")
    per = rev.get("levels") if isinstance(rev, dict) else None
    figures = per.get(level) if isinstance(per, dict) else None
    if not isinstance(figures, dict):
        return []
    med, p95 = _metric(figures.get("median_abs")), _metric(figures.get("p95"))
    assert isinstance(rev, dict)  # per is a dict only when rev is
    year, prev = rev.get("year"), rev.get("previous_edition")
    if med is None or p95 is None:
        return []
    return [
        f"The last observed year ({art.last_year}) is provisional: the SSMSI revises it in the "
        f"next edition. Between edition {prev} and the next, {year} figures at {level} level "
        f"moved by a median {med:.1%} (95% of series within {p95:.1%}); the first forecast "
        "year's interval includes this revision."
    ]


def with_provisional_note(result: HistoryResult, art: Artifacts | None,
                          last_year: int) -> HistoryResult:
    """A history that shows the last observed year gets the measured revision note (only when the
    artifacts were trained on the edition served)."""
    if art is None or art.edition != result.edition or not any(
            p.year == last_year for p in result.points):
        return result
    notes = provisional_notes(art, result.area.level)
    return result.model_copy(update={"caveats": [*result.caveats, *notes]}) if notes else result
