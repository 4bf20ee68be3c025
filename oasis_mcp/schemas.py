"""Pydantic models returned by the query layer and, as structured output, by the MCP tools.

They are the tools' ``outputSchema``: field names are short and stable, descriptions say what a
value means (units, derived figures, upper bounds) so a language model reads the numbers right.
Numbers are rounded for compactness: rates per 100,000 to 3 decimals, percentages to 1 decimal;
published rates per 1,000 and counts are returned as published.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema

Level = Literal["country", "region", "department"]
AreaLevel = Literal["country", "region", "department", "commune"]
"""Levels an area can be of: the commune level is served from the SSMSI communal file."""
Measure = Literal["rate_per_100k", "count", "rate_per_1000"]


def _simplify(schema: dict[str, Any], cls: type | None = None) -> None:
    """Lighter published schemas: no generated titles, and ``T | None`` as ``type: [T, null]``
    instead of ``anyOf`` (cheaper for clients to validate, shorter to read)."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        options = prop.get("anyOf")
        if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
            continue
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other.get("type"), str) and "enum" not in other and "$ref" not in other:
            del prop["anyOf"]
            prop.update({**other, "type": [other["type"], "null"], **prop})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_extra=_simplify)


def inline(tp: Any) -> WithJsonSchema:
    """The JSON schema of ``tp`` with every ``$ref`` replaced by its definition.

    Nested models are published inline rather than through ``$defs``: clients validate structured
    content against the output schema on every call, and resolving ``$ref`` there (jsonschema's
    ``referencing``) costs milliseconds per result.
    """
    schema = TypeAdapter(tp).json_schema()
    return WithJsonSchema(_deref(schema, schema.get("$defs", {})))


def _deref(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        out = {k: _deref(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
        if isinstance(ref, str):
            return {**_deref(defs[ref.rsplit("/", 1)[-1]], defs), **out}
        return out
    if isinstance(node, list):
        return [_deref(v, defs) for v in node]
    return node


# --- references ------------------------------------------------------------------------------


class AreaRef(_Model):
    code: str = Field(description="Official code: FR/FM (country), INSEE region, department or "
                      "commune code")
    name: str
    level: AreaLevel


class IndicatorRef(_Model):
    slug: str = Field(description="Stable identifier accepted by every tool")
    label_fr: str = Field(description="Official SSMSI label")
    label_en: str
    unit: str = Field(description="What is counted (Victime, Infraction, Mis en cause, Véhicule…)")
    denominator: str = Field(description="Rates are per inhabitants, or per dwellings for burglary")


# --- list_regions ----------------------------------------------------------------------------


class AreaInfo(_Model):
    code: str
    name: str
    name_en: str | None = None
    level: AreaLevel
    region_code: str | None = Field(None, description="Parent region (departments only)")
    population: int | None = Field(
        None, description="INSEE population used for the last data year (lags it by ~2 years)"
    )
    department_code: str | None = Field(None, description="Department (communes only)")
    parent_code: str | None = Field(
        None, description="Communes only: the commune of a municipal arrondissement (Paris, Lyon, "
        "Marseille), or the current commune of a former one"
    )


class AreaList(_Model):
    level: AreaLevel
    region: Annotated[AreaRef | None, inline(AreaRef | None)] = Field(
        None, description="The region the list is restricted to"
    )
    count: int
    areas: Annotated[list[AreaInfo], inline(list[AreaInfo])]
    edition: str = Field(description="Data edition the populations come from")
    department: Annotated[AreaRef | None, inline(AreaRef | None)] = Field(
        None, description="Communes only: the department listed"
    )
    total: int | None = Field(None, description="Communes only: how many in all (paged)")
    offset: int | None = Field(None, description="Communes only: index of the first one shown")
    next_offset: int | None = Field(
        None, description="Communes only: offset of the next page (null on the last page)"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="About the data: an older edition read on request, or a newer edition that "
        "could not be loaded",
    )


# --- list_indicators -------------------------------------------------------------------------


class IndicatorInfo(IndicatorRef):
    caveats: list[str]
    first_year: int
    last_year: int


class IndicatorCatalog(_Model):
    edition: str
    first_year: int
    last_year: int
    indicators: Annotated[list[IndicatorInfo], inline(list[IndicatorInfo])]
    caveats: list[str] = Field(description="Caveats that apply to every indicator")
    editions_available: list[str] = Field(
        default_factory=list,
        description="Editions installed on the server, newest first: the values the tools' "
        "edition argument accepts (as ids, or their data years)",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="About the data: an older edition read on request, or a newer edition that "
        "could not be loaded",
    )


# --- get_history -----------------------------------------------------------------------------


class HistoryPoint(_Model):
    year: int
    count: int
    rate_per_1000: float | None = Field(
        description="As published by the SSMSI (recomputed from summed counts for derived areas)"
    )
    rate_per_100k: float | None


class WithheldYear(_Model):
    year: int
    complement_count: float | None = Field(
        None, description="NOT this commune's count: the SSMSI's average over the department's "
        "withheld communes that year, published in its place"
    )
    complement_rate_per_1000: float | None = None


class HistoryResult(_Model):
    area: Annotated[AreaRef, inline(AreaRef)]
    indicator: Annotated[IndicatorRef, inline(IndicatorRef)]
    derived: bool = Field(
        description="True when figures are aggregated from departments, not published as such"
    )
    upper_bound: bool = Field(
        description="True for aggregated 'Mis en cause' counts: a person implicated in several "
        "departments is counted in each, so the sum overstates the true figure"
    )
    points: Annotated[list[HistoryPoint], inline(list[HistoryPoint])]
    edition: str
    caveats: list[str]
    source: str
    warnings: list[str] = Field(
        default_factory=list,
        description="How the query was read when it may not be what was meant (e.g. a number "
        "read as a region code that is also a department number)",
    )
    withheld: Annotated[list[WithheldYear], inline(list[WithheldYear])] = Field(
        default_factory=list,
        description="Communes only: years not published (small counts; never 0, not in points)",
    )
    geography_year: int | None = Field(
        None, description="Communes only: the geography (commune boundaries) of the file"
    )


# --- forecast --------------------------------------------------------------------------------


class Interval(_Model):
    value: float = Field(description="Point forecast")
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float


class ForecastPoint(_Model):
    year: int
    count: Annotated[Interval, inline(Interval)]
    rate_per_100k: Annotated[Interval, inline(Interval)]


class HorizonAccuracy(_Model):
    horizon: int = Field(description="Years after the forecast origin (1 = the next year)")
    mase: float | None = Field(None, description="Backtest MASE at this horizon (lower is better)")
    coverage_80: float | None = Field(
        None, description="Share of backtest values inside the 80% interval at this horizon"
    )
    coverage_95: float | None = Field(
        None, description="Share of backtest values inside the 95% interval at this horizon"
    )
    n_backtest: int | None = Field(None, description="Backtest forecasts behind these figures")


class ModelSummary(_Model):
    name: str = Field(description="The champion model for this level")
    level: AreaLevel
    backtested: bool
    mase: float | None = Field(
        None, description="Backtest MASE: error scaled by the in-sample one-step naive error "
        "(lower is better)"
    )
    ratio_to_naive: float | None = Field(
        None, description="MASE / the naive forecast's MASE on the same backtest (<1 beats naive)"
    )
    mase_by_horizon: dict[str, float] = Field(
        default_factory=dict, description="Backtest MASE per horizon in years ('1', '2', …)"
    )
    coverage_80: float | None = Field(
        None, description="Share of backtest values inside the 80% interval"
    )
    coverage_95: float | None = None
    indicator_mase: float | None = Field(
        None, description="Backtest MASE of the champion on this indicator alone (this level)"
    )
    indicator_coverage_80: float | None = Field(
        None, description="Share of this indicator's backtest values inside the 80% interval "
        "(coverage varies a lot by indicator; prefer it to coverage_80)"
    )
    indicator_coverage_95: float | None = Field(
        None, description="Share of this indicator's backtest values inside the 95% interval"
    )
    indicator_n_backtest: int | None = Field(
        None, description="Number of backtest forecasts behind the indicator_* figures"
    )
    indicator_by_horizon: Annotated[list[HorizonAccuracy], inline(list[HorizonAccuracy])] = Field(
        default_factory=list,
        description="This indicator's backtest MASE and interval coverage per horizon (this level)",
    )


class ForecastResult(_Model):
    area: Annotated[AreaRef, inline(AreaRef)]
    indicator: Annotated[IndicatorRef, inline(IndicatorRef)]
    forecasts: Annotated[list[ForecastPoint], inline(list[ForecastPoint])]
    last_observed: Annotated[list[HistoryPoint], inline(list[HistoryPoint])] = Field(
        description="The last observed years, for context"
    )
    model: Annotated[ModelSummary, inline(ModelSummary)]
    training_edition: str = Field(description="Data edition the model was trained on")
    data_edition: str = Field(description="Data edition currently loaded by the server")
    upper_bound: bool
    warnings: list[str]
    caveats: list[str]


# --- compare_regions -------------------------------------------------------------------------


class RankedArea(_Model):
    rank: int = Field(description="1 = highest value")
    code: str
    name: str
    value: float | None
    population: int | None = Field(None, description="Communes only: INSEE population")
    change_vs_previous_pct: float | None = Field(None, description="Change vs the previous year, %")
    change_vs_2016_pct: float | None = Field(None, description="Change vs 2016, %")


class ReferenceValue(_Model):
    code: str
    name: str
    value: float | None
    change_vs_previous_pct: float | None = None
    change_vs_2016_pct: float | None = None


class ComparisonResult(_Model):
    indicator: Annotated[IndicatorRef, inline(IndicatorRef)]
    level: AreaLevel
    year: int
    is_forecast: bool = Field(description="True when the values are point forecasts")
    measure: Measure
    out_of: int = Field(description="Number of areas ranked (areas without a value are unranked)")
    ranking: Annotated[list[RankedArea], inline(list[RankedArea])]
    national: Annotated[ReferenceValue | None, inline(ReferenceValue | None)] = Field(
        None, description="France (FR) for reference"
    )
    derived: bool
    upper_bound: bool
    edition: str
    warnings: list[str]
    caveats: list[str]
    within: Annotated[AreaRef | None, inline(AreaRef | None)] = Field(
        None, description="Communes only: the department or region whose communes are ranked"
    )
    min_population: int | None = Field(
        None, description="Communes only: communes below this population are left out"
    )
    not_ranked: dict[str, int] = Field(
        default_factory=dict,
        description="Communes only: how many were left out, by reason (withheld, "
        "below_min_population, not_in_file)",
    )
    count_ranking: Annotated[list[RankedArea] | None, inline(list[RankedArea] | None)] = Field(
        None, description="Communes only, for rate rankings: the ranking by count (all "
        "populations), beside the rate ranking"
    )
    coverage_pct: float | None = Field(
        None, description="Communes only: share of the published total of the department "
        "(region, France) that its published communes add up to (withheld communes are missing)"
    )


# --- find_area -------------------------------------------------------------------------------


class AreaMatch(_Model):
    code: str
    name: str
    level: AreaLevel
    department_code: str | None = None
    population: int | None = None
    in_data: bool = Field(description="True when the data has figures for it")


class AreaSearchResult(_Model):
    query: str
    matches: Annotated[list[AreaMatch], inline(list[AreaMatch])]
    warnings: list[str] = Field(default_factory=list)


# --- model_metrics ---------------------------------------------------------------------------


class CandidateMetrics(_Model):
    name: str
    mase: float | None = Field(None, description="Lower is better")
    ratio_to_naive: float | None = Field(None, description="<1 beats the naive forecast")
    smape: float | None = None
    coverage_80: float | None = None
    coverage_95: float | None = None
    pooled_r2_rate100k: float | None = None


class IndicatorAccuracy(_Model):
    indicator: str = Field(description="Official indicator label")
    mase: float | None = None
    coverage_80: float | None = None
    coverage_95: float | None = None
    msis_95: float | None = Field(None, description="Mean scaled interval score of the 95% "
                                  "interval (lower is better)")
    n_backtest: int | None = None
    by_horizon: Annotated[list[HorizonAccuracy], inline(list[HorizonAccuracy])] = Field(
        default_factory=list
    )


class LevelLeaderboard(_Model):
    level: str
    backtested: bool
    champion: str | None = None
    naive_mase: float | None = None
    champion_ratio_to_naive: float | None = None
    n_series: int | None = None
    n_series_excluded_zero_scale: int | None = None
    candidates: Annotated[list[CandidateMetrics], inline(list[CandidateMetrics])] = Field(
        default_factory=list, description="Best MASE first"
    )
    champion_by_horizon: Annotated[list[HorizonAccuracy], inline(list[HorizonAccuracy])] = Field(
        default_factory=list, description="The champion's backtest MASE and coverage per horizon"
    )
    champion_by_indicator: Annotated[
        list[IndicatorAccuracy], inline(list[IndicatorAccuracy])
    ] = Field(default_factory=list,
              description="The champion's backtest accuracy and coverage per indicator, overall "
                          "and per horizon")


class ModelMetricsResult(_Model):
    levels: Annotated[list[LevelLeaderboard], inline(list[LevelLeaderboard])]
    protocol: dict[str, object]
    training_edition: str
    data_edition: str
    last_year: int | None
    git_commit: str | None = None
    warnings: list[str]
