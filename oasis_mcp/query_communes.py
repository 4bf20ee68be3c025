"""Queries at commune level (pure functions over the commune level and the department index).

Withheld values (``ndiff``) are never 0 and never summed as known: a history lists its published
years in ``points`` and its withheld years apart (with the SSMSI's complement, which is the
department's average over withheld communes, not the commune's value); a ranking leaves withheld
communes unranked and says how many; sums over a department use published counts only and say
which share of the department's published total they cover.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from oasis_mcp.artifacts import Artifacts
from oasis_mcp.data import geography
from oasis_mcp.data.commune_file import ABSENT, WITHHELD
from oasis_mcp.data.commune_names import Commune, _key
from oasis_mcp.data.communes import DOUBLE_COUNTING_NOTE, CommuneLevel
from oasis_mcp.data.indicators import resolution_notes as indicator_notes
from oasis_mcp.data.indicators import resolve_indicator
from oasis_mcp.data.lookup import shown
from oasis_mcp.errors import LookupFailed
from oasis_mcp.query import (
    BASE_YEAR,
    GENERAL_CAVEATS,
    LAST_OBSERVED_SHOWN,
    SOURCE,
    DataIndex,
    QueryError,
    _pct,
)
from oasis_mcp.schemas import (
    AreaInfo,
    AreaList,
    AreaMatch,
    AreaRef,
    AreaSearchResult,
    ComparisonResult,
    ForecastPoint,
    ForecastResult,
    HistoryPoint,
    HistoryResult,
    IndicatorRef,
    Interval,
    Measure,
    ModelSummary,
    RankedArea,
    ReferenceValue,
)

DEFAULT_MIN_POPULATION = 5000
"""Rate rankings of communes leave out smaller ones by default (a village of 40 inhabitants with
one burglary would top them)."""
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FORECAST_MIN_COUNT = 30
"""A commune series is forecast only when every year is published with at least this count."""
COMMUNE_CAVEATS = (
    "Commune figures: small counts are withheld by the SSMSI (not published, never 0); a "
    "published 0 is a real 0. Facts are counted where they were recorded, which for some "
    "offences (fraud, drugs) is not where they happened; rates of small communes swing a lot.",
)
_lock = threading.Lock()
_resolved: dict[tuple[int, str], Any] = {}


def _resolve(level: CommuneLevel, query: str) -> tuple[Commune, tuple[str, ...]]:
    key = (id(level), query)
    hit = _resolved.get(key)
    if hit is None or hit[0] is not level:
        found = level.resolve(query)
        hit = (level, found.commune, found.notes)
        with _lock:
            if len(_resolved) > 4096:
                _resolved.clear()
            _resolved[key] = hit
    return hit[1], hit[2]


def _indicator(idx: DataIndex, level: CommuneLevel, query: str
               ) -> tuple[str, IndicatorRef, list[str]]:
    """The official label, its reference and how the query was read (partial names)."""
    labels = level.table.indicators
    try:
        ind = resolve_indicator(query, labels=labels)
    except LookupFailed as exc:
        try:
            other = idx.indicator(query)
        except LookupFailed:
            raise exc from None
        if other not in labels:
            raise QueryError(
                f"'{other}' is not published at commune level (the communal file has "
                f"{len(labels)} indicators: {', '.join(labels)}). Ask at level='department'."
            ) from None
        raise
    ref = idx.indicator_refs.get(ind.label_fr) or IndicatorRef(
        slug=ind.slug, label_fr=ind.label_fr, label_en=ind.label_en, unit=ind.unit,
        denominator=str(ind.denominator))
    return ind.label_fr, ref, indicator_notes(query, ind)


def _ref(c: Commune) -> AreaRef:
    return AreaRef(code=c.code, name=c.name, level="commune")


def _where(c: Commune, level: CommuneLevel) -> str:
    kind = {"arrondissement": "municipal arrondissement", "former": "former commune"}.get(
        c.kind, "commune")
    return (f"Read as the {kind} {c.described}; communal file {level.table.name} "
            f"(geography {level.table.geography_year}).")


def _denominator(level: CommuneLevel, row: int, label: str) -> np.ndarray:
    t = level.table
    return t.dwellings[row] if label == "Cambriolages de logement" else t.population[row]


def _round(value: float, digits: int) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def _series(level: CommuneLevel, row: int, label: str) -> tuple[
        list[HistoryPoint], list[tuple[int, float | None, float | None]], list[int]]:
    t = level.table
    i = t.indicator_position[label]
    counts = t.count[row, i]
    denom = _denominator(level, row, label)
    points, withheld, absent = [], [], []
    for k, year in enumerate(t.years.tolist()):
        c = int(counts[k])
        if c == WITHHELD:
            withheld.append((year, _round(t.complement_count[row, i, k], 2),
                             _round(t.complement_rate[row, i, k], 7)))
        elif c == ABSENT:
            absent.append(year)
        else:
            d = int(denom[k])
            points.append(HistoryPoint.model_construct(
                year=year, count=c, rate_per_1000=_round(t.rate_per_1000[row, i, k], 7),
                rate_per_100k=round(c / d * 100_000, 3) if d > 0 else None))
    return points, withheld, absent


def get_history(idx: DataIndex, level: CommuneLevel, area: str, indicator: str,
                start_year: int | None = None, end_year: int | None = None) -> HistoryResult:
    from oasis_mcp.schemas import WithheldYear

    t = level.table
    start = t.first_year if start_year is None else start_year
    end = t.last_year if end_year is None else end_year
    for name, year in (("start_year", start), ("end_year", end)):
        if not t.first_year <= year <= t.last_year:
            raise QueryError(f"{name} {year} is outside the years of the communal file "
                             f"{t.first_year}–{t.last_year}.")
    if start > end:
        raise QueryError(f"start_year ({start}) is after end_year ({end}).")
    commune, notes = _resolve(level, area)
    label, ref, read_as = _indicator(idx, level, indicator)
    row = t.position[commune.code]
    points, withheld, absent = _series(level, row, label)
    points = [p for p in points if start <= p.year <= end]
    withheld = [w for w in withheld if start <= w[0] <= end]
    absent = [y for y in absent if start <= y <= end]
    warnings = [*notes, *read_as, _where(commune, level)]
    n_years = end - start + 1
    if withheld:
        years = ", ".join(str(w[0]) for w in withheld)
        warnings.append(
            f"{len(withheld)} of {n_years} years are withheld by the SSMSI (small counts, "
            f"three-year criterion): {years}. They are not 0 and are not in points; the "
            "complement given for them is the department's average over its withheld communes, "
            "not this commune's figure.")
    if absent:
        warnings.append(f"No row in the communal file for {', '.join(map(str, absent))}.")
    if commune.code in ("75056", "69123", "13055"):
        warnings.append(DOUBLE_COUNTING_NOTE)
    return HistoryResult(
        area=_ref(commune), indicator=ref, derived=False, upper_bound=False, points=points,
        edition=idx.edition, caveats=[*COMMUNE_CAVEATS, *idx.indicator_caveats.get(label, ())],
        source=SOURCE, warnings=warnings,
        withheld=[WithheldYear(year=y, complement_count=c, complement_rate_per_1000=r)
                  for y, c, r in withheld],
        geography_year=t.geography_year,
    )


# ---------------------------------------------------------------------------------------------
# Rankings


def _scope(level: CommuneLevel, within: str | None) -> tuple[np.ndarray, AreaRef, list[str]]:
    """Rows of the communes of a department, region or France (arrondissements excluded)."""
    deps = level.departments
    base = ~level.arrondissement_mask
    if within is None:
        return np.flatnonzero(base), AreaRef(code="FR", name="France", level="country"), []
    try:
        found = geography.resolve_area(within, None)
    except LookupFailed as exc:
        raise QueryError(f"within: {exc}") from None
    notes = geography.resolution_notes(within, found)
    if found.level == "department":
        mask = base & (deps == found.code)
    elif found.level == "region":
        codes = [d.code for d in geography.departments_of(found.code)]
        mask = base & np.isin(deps, codes)
    elif found.code == "FM":
        mask = base & (np.char.str_len(deps) == 2)
    else:
        mask = base
    return np.flatnonzero(mask), AreaRef(code=found.code, name=found.name,
                                         level=found.level), notes


def _value(count: int, denom: int, rate: float, measure: Measure) -> float | None:
    if count < 0:
        return None
    if measure == "count":
        return float(count)
    if measure == "rate_per_1000":
        return _round(rate, 7)
    return round(count / denom * 100_000, 3) if denom > 0 else None


def compare(idx: DataIndex, level: CommuneLevel, indicator: str, year: int | None = None,
            within: str | None = None, areas: Sequence[str] | None = None,
            measure: Measure = "rate_per_100k", min_population: int | None = None,
            limit: int = DEFAULT_LIMIT) -> ComparisonResult:
    t = level.table
    year = t.last_year if year is None else year
    if not t.first_year <= year <= t.last_year:
        extra = (" Commune figures are not forecast in rankings: compare departments "
                 "(level='department') for future years." if year > t.last_year else "")
        raise QueryError(f"year {year} is outside the years of the communal file "
                         f"{t.first_year}–{t.last_year}.{extra}")
    label, ref, read_as = _indicator(idx, level, indicator)
    rows, scope, notes = _scope(level, within)
    if min_population is None:
        min_population = 0 if measure == "count" else DEFAULT_MIN_POPULATION
    i = t.indicator_position[label]
    k = int(np.searchsorted(t.years, year))
    counts = t.count[rows, i, k]
    pops = t.population[rows, k]
    wanted: set[str] | None = None
    if areas:
        found = [_resolve(level, q) for q in areas]
        wanted = {c.code for c, _ in found}
        notes += [n for _, ns in found for n in ns]
    big = pops >= min_population
    published = counts >= 0
    ranked_mask = big & published
    not_ranked = {"withheld": int((~published).sum()) - int((counts == ABSENT).sum()),
                  "below_min_population": int((published & ~big).sum()),
                  "not_in_file": int((counts == ABSENT).sum())}
    prev_k = k - 1 if k > 0 else None
    base_k = int(np.searchsorted(t.years, BASE_YEAR)) if BASE_YEAR in t.years else None

    dens = t.dwellings if label == "Cambriolages de logement" else t.population

    def value_at(rix: np.ndarray, kk: int | None, by: Measure) -> list[float | None]:
        if kk is None:
            return [None] * len(rix)
        return [_value(int(c), int(dd), float(r), by) for c, dd, r in zip(
            t.count[rix, i, kk].tolist(), dens[rix, kk].tolist(),
            t.rate_per_1000[rix, i, kk].tolist(), strict=True)]

    def ranking(mask: np.ndarray, by: Measure) -> list[RankedArea]:
        sel = rows[mask]
        vals = np.array([v if v is not None else -1.0 for v in value_at(sel, k, by)])
        order = np.argsort(-vals, kind="stable")
        ranks = np.empty(len(vals), dtype=np.int64)
        pos = 0
        for j, o in enumerate(order.tolist()):
            if j == 0 or vals[o] != vals[order[j - 1]]:
                pos = j + 1
            ranks[o] = pos
        chosen = order.tolist()
        if wanted is not None:
            chosen = [o for o in chosen if t.codes[sel[o]] in wanted]
        chosen = chosen[:limit]
        picked = sel[chosen]
        prev, base = value_at(picked, prev_k, by), value_at(picked, base_k, by)
        out = []
        for j, o in enumerate(chosen):
            r = int(sel[o])
            code = str(t.codes[r])
            v = float(vals[o])
            out.append(RankedArea(
                rank=int(ranks[o]), code=code, name=level.commune(code).label,
                value=v if v >= 0 else None,
                population=int(t.population[r, k]) if t.population[r, k] >= 0 else None,
                change_vs_previous_pct=_pct(v, prev[j]), change_vs_2016_pct=_pct(v, base[j]),
            ))
        return out

    main = ranking(ranked_mask, measure)
    count_ranking = ranking(published, "count") if measure != "count" else None
    published_sum = int(counts[published].sum())
    coverage, total = _coverage(idx, scope, label, year, published_sum)
    warnings = [*read_as, *notes]
    warnings.append(
        f"{int(ranked_mask.sum())} of {len(rows)} communes of {scope.name} ranked"
        + (f" (population ≥ {min_population:,}; pass min_population to change it)"
           if min_population else "")
        + f"; {not_ranked['withheld']} withheld by the SSMSI (small counts, not 0) are unranked.")
    if coverage is not None:
        warnings.append(
            f"The published communes add up to {published_sum:,} of the {total:,} "
            f"{'recorded in ' + scope.name if scope.level != 'country' else 'in France'} "
            f"({coverage}%); the rest is in withheld communes.")
    warnings.append(DOUBLE_COUNTING_NOTE)
    scope_value = _scope_value(idx, scope, label, year, measure)
    return ComparisonResult(
        indicator=ref, level="commune", year=year, is_forecast=False, measure=measure,
        out_of=int(ranked_mask.sum()), ranking=main, national=scope_value, derived=False,
        upper_bound=False, edition=idx.edition, warnings=warnings,
        caveats=[*COMMUNE_CAVEATS, *GENERAL_CAVEATS[:1]], within=scope,
        min_population=min_population, not_ranked=not_ranked, count_ranking=count_ranking,
        coverage_pct=coverage,
    )


def _scope_key(scope: AreaRef) -> tuple[str, str]:
    return (str(scope.level), scope.code)


def _coverage(idx: DataIndex, scope: AreaRef, label: str, year: int,
              published_sum: int) -> tuple[float | None, int]:
    s = idx.series.get((*_scope_key(scope), label))
    point = s.by_year.get(year) if s is not None else None
    if point is None or point.count <= 0:
        return None, 0
    return round(published_sum / point.count * 100, 1), point.count


def _scope_value(idx: DataIndex, scope: AreaRef, label: str, year: int,
                 measure: Measure) -> ReferenceValue | None:
    s = idx.series.get((*_scope_key(scope), label))
    if s is None:
        return None

    def at(y: int) -> float | None:
        p = s.by_year.get(y)
        if p is None:
            return None
        return float(p.count) if measure == "count" else (
            p.rate_per_100k if measure == "rate_per_100k" else p.rate_per_1000)

    v = at(year)
    return ReferenceValue(code=scope.code, name=scope.name, value=v,
                          change_vs_previous_pct=_pct(v, at(year - 1)),
                          change_vs_2016_pct=_pct(v, at(BASE_YEAR)))


def department_coverage(idx: DataIndex, level: CommuneLevel, department: str, label: str,
                        year: int) -> dict[str, float | int | None]:
    """Published communes of a department vs its published total (a check the tests make)."""
    t = level.table
    rows, scope, _ = _scope(level, department)
    i, k = t.indicator_position[label], int(np.searchsorted(t.years, year))
    counts = t.count[rows, i, k]
    published = int(counts[counts >= 0].sum())
    share, total = _coverage(idx, scope, label, year, published)
    return {"published": published, "department": total, "coverage_pct": share,
            "withheld_communes": int((counts == WITHHELD).sum())}


# ---------------------------------------------------------------------------------------------
# Lists and search


def list_communes(idx: DataIndex, level: CommuneLevel, department: str | None,
                  offset: int = 0, limit: int = 100) -> AreaList:
    if department is None:
        raise QueryError(
            "Listing communes needs a department (there are about 35,000): e.g. "
            "list_regions(level='commune', region='33') or region='Gironde'. find_area "
            "searches communes by name.")
    try:
        dep = geography.resolve_area(department, "department")
    except LookupFailed as exc:
        raise QueryError(f"Communes are listed by department: {exc}") from None
    rows = level.rows_of_department.get(dep.code, np.array([], dtype=np.int64))
    t = level.table
    items = []
    k = len(t.years) - 1
    for r in rows.tolist()[offset:offset + limit]:
        code = str(t.codes[r])
        c = level.commune(code)
        pop = int(t.population[r, k])
        items.append(AreaInfo(
            code=code, name=c.name, level="commune", region_code=dep.region_code,
            population=pop if pop >= 0 else None, department_code=dep.code,
            parent_code=c.parent if c.kind != "commune" else None))
    total = len(rows)
    nxt = offset + limit if offset + limit < total else None
    warnings = [f"Communes of {dep.label} in the communal file {t.name} (geography "
                f"{t.geography_year}), by INSEE code."]
    if dep.code in ("75", "69", "13"):
        warnings.append(DOUBLE_COUNTING_NOTE)
    if level.names is None:
        warnings.append("Commune names are unavailable (no cog/communes.json): codes only.")
    return AreaList(level="commune", count=len(items), areas=items, edition=idx.edition,
                    department=AreaRef(code=dep.code, name=dep.name, level="department"),
                    total=total, offset=offset, next_offset=nxt, warnings=warnings)


def find_areas(idx: DataIndex, level: CommuneLevel | None, query: str, limit: int = 10,
               missing_note: str | None = None) -> AreaSearchResult:
    """Areas whose name matches ``query``: regions and departments, then communes (when the
    commune level is there), best first."""
    text = " ".join(query.split())
    key = _key(text)
    if not key:
        raise QueryError("find_area needs some letters or digits to search for.")
    matches: list[AreaMatch] = []
    for lvl in ("region", "department"):
        for a in geography.areas(lvl):  # type: ignore[arg-type]
            keys = [_key(a.name), _key(a.name_en or "")]
            if key in (a.code.lower(), *keys) or any(n.startswith(key) for n in keys if n):
                matches.append(AreaMatch(code=a.code, name=a.name, level=a.level,
                                         in_data=(a.level, a.code) in idx.area_refs))
    warnings: list[str] = []
    if level is None:
        warnings.append(missing_note or "Communes are not searched: no communal file.")
    else:
        try:
            found = level.resolve(text)
            communes = [found.commune]
            warnings += found.notes
        except LookupFailed as exc:
            names = level.names
            communes = []
            for s in exc.suggestions:
                try:
                    communes.append(level.resolve(s).commune)
                except LookupFailed:
                    continue
            if names is not None and not communes:
                communes = [names.by_code[c] for c in names.by_name.get(key, [])]
            if names is not None:
                pref = [names.by_code[c] for n, cs in names.by_name.items()
                        if n.startswith(key) and n != key for c in cs][:limit]
                communes += [c for c in pref if c not in communes]
        k = len(level.table.years) - 1
        for c in communes:
            row = level.table.position.get(c.code)
            pop = int(level.table.population[row, k]) if row is not None else c.population
            matches.append(AreaMatch(code=c.code, name=c.label, level="commune",
                                     department_code=c.department,
                                     population=pop if pop is not None and pop >= 0 else None,
                                     in_data=row is not None))
    if not matches:
        warnings.append(f"Nothing matches '{shown(text)}'.")
    return AreaSearchResult(query=text, matches=matches[:limit], warnings=warnings)


# ---------------------------------------------------------------------------------------------
# Forecast: only where a run-time backtest says it beats naive


def forecast(idx: DataIndex, art: Artifacts | None, level: CommuneLevel, area: str,
             indicator: str, horizon: int) -> ForecastResult:
    t = level.table
    commune, notes = _resolve(level, area)
    label, ref, read_as = _indicator(idx, level, indicator)
    row = t.position[commune.code]
    points, withheld, absent = _series(level, row, label)
    dep = commune.department
    pointer = (f" Use forecast(area='{dep}', level='department') for the department's forecast, "
               "which is backtested.")
    if withheld or absent:
        raise QueryError(
            f"No forecast for {commune.label}: '{label}' is withheld in {len(withheld)} of "
            f"{len(t.years)} years (small counts), so there is no complete series to forecast "
            "or to backtest." + pointer)
    counts = np.array([p.count for p in points], dtype=float)
    if counts.min() < FORECAST_MIN_COUNT:
        raise QueryError(
            f"No forecast for {commune.label}: '{label}' has years with fewer than "
            f"{FORECAST_MIN_COUNT} facts (min {int(counts.min())}); such small counts are "
            "mostly noise." + pointer)
    result = _backtest(counts, horizon)
    if result is None or result["ratio"] >= 1:
        ratio = "n/a" if result is None else f"{result['ratio']:.2f}"
        raise QueryError(
            f"No forecast for {commune.label}: in a rolling-origin backtest on its own series "
            f"the 3-year moving average did not beat the naive 'same as last year' forecast "
            f"(MAE ratio {ratio}; <1 is needed), so a forecast would add nothing to the last "
            f"observed value ({int(counts[-1])} in {points[-1].year})." + pointer)
    last_year = points[-1].year
    if art is not None:
        horizon = min(horizon, max(1, max(art.years, default=last_year + horizon) - last_year))
    level_point = float(counts[-3:].mean())
    denom = _denominator(level, row, label)
    d = float(denom[-1]) if denom[-1] > 0 else float("nan")
    out = []
    for h in range(1, horizon + 1):
        q80, q95 = result["q80"][min(h, 3) - 1], result["q95"][min(h, 3) - 1]
        vals = [level_point, max(0.0, level_point - q80), level_point + q80,
                max(0.0, level_point - q95), level_point + q95]
        rate = [v / d * 100_000 if math.isfinite(d) else 0.0 for v in vals]
        out.append(ForecastPoint(
            year=last_year + h,
            count=Interval(value=round(vals[0], 1), lo_80=round(vals[1], 1),
                           hi_80=round(vals[2], 1), lo_95=round(vals[3], 1),
                           hi_95=round(vals[4], 1)),
            rate_per_100k=Interval(value=round(rate[0], 3), lo_80=round(rate[1], 3),
                                   hi_80=round(rate[2], 3), lo_95=round(rate[3], 3),
                                   hi_95=round(rate[4], 3))))
    model = ModelSummary(
        name="moving-average-3 (commune, run-time backtest)", level="commune", backtested=True,
        ratio_to_naive=round(result["ratio"], 4), mase=round(result["mase"], 4),
        indicator_n_backtest=int(result["n"]))
    warnings = [*notes, *read_as, _where(commune, level),
                f"Commune forecast: the mean of the last 3 years, with intervals from the "
                f"{int(result['n'])} errors of a rolling-origin backtest on this series (it beat "
                f"naive, MAE ratio {result['ratio']:.2f}). So few errors make the intervals "
                "rough; the department forecast is the trained model's." + pointer.strip()]
    return ForecastResult(
        area=_ref(commune), indicator=ref, forecasts=out,
        last_observed=points[-LAST_OBSERVED_SHOWN:], model=model,
        training_edition="run-time backtest", data_edition=idx.edition, upper_bound=False,
        warnings=warnings, caveats=[*COMMUNE_CAVEATS,
                                    "Forecasts extrapolate recorded crime; read the intervals."])


def _backtest(counts: np.ndarray, horizon: int) -> dict[str, Any] | None:
    """Rolling origin: from each cutoff with ≥ 3 years, forecast 1–3 years ahead with the 3-year
    mean and with the last value; MAE ratio, MASE, and absolute-error quantiles per horizon."""
    n = len(counts)
    errors: dict[int, list[float]] = {1: [], 2: [], 3: []}
    ma, naive = [], []
    for cut in range(3, n):
        for h in (1, 2, 3):
            if cut + h - 1 >= n:
                break
            actual = counts[cut + h - 1]
            pred = counts[cut - 3:cut].mean()
            ma.append(abs(actual - pred))
            naive.append(abs(actual - counts[cut - 1]))
            errors[h].append(abs(actual - pred))
    if len(ma) < 4 or sum(naive) == 0:
        return None
    scale = np.mean(np.abs(np.diff(counts)))
    q80 = [float(np.quantile(errors[h] or errors[1], 0.8)) for h in (1, 2, 3)]
    q95 = [float(np.quantile(errors[h] or errors[1], 0.95)) for h in (1, 2, 3)]
    del horizon
    return {"ratio": float(np.mean(ma) / np.mean(naive)),
            "mase": float(np.mean(ma) / scale) if scale > 0 else float("nan"),
            "n": len(ma), "q80": q80, "q95": q95}
