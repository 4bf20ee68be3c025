"""The query layer and the artifacts loader, without MCP: values against the data layer (and the
official regional file), name resolution, year and horizon checks, forecasts, rankings, metrics,
and every way artifacts can be missing or broken."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
import synthetic_artifacts as synthetic
from conftest import DEP_2024, DEP_2025, REG_2024

from oasis_mcp import query
from oasis_mcp.artifacts import Artifacts, load_artifacts
from oasis_mcp.data.dataset import Dataset, load_dataset
from oasis_mcp.data.geography import departments_of
from oasis_mcp.errors import ArtifactsError, LookupFailed, OasisError
from oasis_mcp.query import DataIndex, QueryError, build_index


def _edition_dir(tmp: Path, real: Path, *names: str) -> Path:
    """A data directory holding only some real files (symlinks, never copies)."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name in names:
        (tmp / name).symlink_to(real / name)
    return tmp


@pytest.fixture(scope="module")
def dataset(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_dataset(_edition_dir(tmp_path_factory.mktemp("d25"), real_data_dir, DEP_2025))


@pytest.fixture(scope="module")
def idx(dataset: Dataset) -> DataIndex:
    return build_index(dataset)


@pytest.fixture(scope="module")
def idx_2024(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataIndex:
    directory = _edition_dir(tmp_path_factory.mktemp("d24"), real_data_dir, DEP_2024, REG_2024)
    return build_index(load_dataset(directory))


@pytest.fixture(scope="module")
def art_dir(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_synthetic_artifacts(tmp_path_factory.mktemp("art"), dataset)


@pytest.fixture(scope="module")
def art(art_dir: Path) -> Artifacts:
    return load_artifacts(art_dir)


# -- history ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "area", "code"),
    [("region", "Bretagne", "53"), ("department", "2A", "2A"), ("department", "Guyane", "973"),
     ("country", "France", "FR"), ("country", "FM", "FM")],
)
def test_history_equals_the_data_layer(
    idx: DataIndex, dataset: Dataset, level: str, area: str, code: str
) -> None:
    for label in dataset.indicators:
        result = query.get_history(idx, area, label, level)  # type: ignore[arg-type]
        rows = dataset.series(level, code, label)  # type: ignore[arg-type]
        assert result.area.code == code and result.indicator.label_fr == label
        assert [p.year for p in result.points] == rows["year"].tolist()
        assert [p.count for p in result.points] == rows["count"].tolist()
        for p, r1000, r100k in zip(result.points, rows["rate_per_1000"], rows["rate_per_100k"],
                                   strict=True):
            assert p.rate_per_1000 == pytest.approx(r1000, abs=5e-8)
            assert p.rate_per_100k == pytest.approx(r100k, abs=5e-4)
        assert result.derived == bool(rows["derived"].any())
        assert result.upper_bound == bool(rows["upper_bound"].any())
        assert result.edition == dataset.edition.id


def test_region_history_is_the_sum_of_its_departments_2025(idx: DataIndex) -> None:
    for region in ("53", "76", "94", "01"):
        for label in idx.labels:
            reg = query.get_history(idx, region, label, "region")
            deps = [query.get_history(idx, d.code, label, "department")
                    for d in departments_of(region)]
            for i, point in enumerate(reg.points):
                assert point.count == sum(d.points[i].count for d in deps)
            assert reg.derived


def test_official_regions_match_department_sums_2024(idx_2024: DataIndex) -> None:
    """The 2024 edition has an official regional file: counts equal the department sums except
    for 'Mis en cause' indicators, where the regional figure can only be lower."""
    for region in ("11", "53", "93", "04"):
        for label in idx_2024.labels:
            reg = query.get_history(idx_2024, region, label, "region")
            assert not reg.derived and not reg.upper_bound
            deps = [query.get_history(idx_2024, d.code, label, "department")
                    for d in departments_of(region)]
            for i, point in enumerate(reg.points):
                total = sum(d.points[i].count for d in deps)
                if reg.indicator.unit == "Mis en cause":
                    assert point.count <= total
                else:
                    assert point.count == total


def test_country_is_the_sum_of_regions(idx: DataIndex) -> None:
    regions = [a.code for a in query.list_areas(idx, "region").areas]
    for label in idx.labels:
        fr = query.get_history(idx, "FR", label, "country")
        regs = [query.get_history(idx, r, label, "region") for r in regions]
        for i, point in enumerate(fr.points):
            assert point.count == sum(r.points[i].count for r in regs)


def test_history_year_window_and_errors(idx: DataIndex) -> None:
    result = query.get_history(idx, "Occitanie", "burglary", start_year=2019, end_year=2021)
    assert [p.year for p in result.points] == [2019, 2020, 2021]
    one = query.get_history(idx, "Occitanie", "burglary", start_year=2025)
    assert [p.year for p in one.points] == [2025]
    with pytest.raises(QueryError, match=r"2016–2025.*forecast"):
        query.get_history(idx, "Occitanie", "burglary", end_year=2027)
    with pytest.raises(QueryError, match="2016–2025"):
        query.get_history(idx, "Occitanie", "burglary", start_year=2010)
    with pytest.raises(QueryError, match="after end_year"):
        query.get_history(idx, "Occitanie", "burglary", start_year=2022, end_year=2020)


def test_history_caveats_and_flags(idx: DataIndex) -> None:
    drugs = query.get_history(idx, "Bretagne", "drug-trafficking")
    assert drugs.upper_bound and drugs.derived
    assert any("upper bound" in c for c in drugs.caveats)
    dep = query.get_history(idx, "Finistère", "drug-trafficking", "department")
    assert not dep.upper_bound and not dep.derived
    burglary = query.get_history(idx, "29", "burglary", "department")
    assert burglary.indicator.denominator == "dwellings"
    assert any("dwellings" in c for c in burglary.caveats)
    assert "SSMSI" in burglary.source


@pytest.mark.parametrize(
    ("area", "level", "code"),
    [("Brittany", "region", "53"), ("bretagne", "region", "53"), ("53", "region", "53"),
     ("PACA", "region", "93"), ("Île-de-France", "region", "11"),
     ("corse du sud", "department", "2A"), ("2a", "department", "2A"),
     ("1", "department", "01"), ("Réunion", "department", "974"),
     ("France métropolitaine", "country", "FM")],
)
def test_area_names_resolve(idx: DataIndex, area: str, level: str, code: str) -> None:
    assert query.get_history(idx, area, "homicide", level).area.code == code  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("indicator", "label"),
    [("burglary", "Cambriolages de logement"), ("cambriolages", "Cambriolages de logement"),
     ("Violences sexuelles", "Violences sexuelles"), ("car theft", "Vols de véhicule"),
     ("drug-use-afd", "Usage de stupéfiants (AFD)")],
)
def test_indicator_names_resolve(idx: DataIndex, indicator: str, label: str) -> None:
    assert query.get_history(idx, "FR", indicator, "country").indicator.label_fr == label


def test_lookup_errors_name_the_closest_matches(idx: DataIndex) -> None:
    with pytest.raises(LookupFailed) as unknown:
        query.get_history(idx, "Bretgne", "burglary")
    assert "Bretagne" in str(unknown.value) and unknown.value.suggestions
    with pytest.raises(LookupFailed) as ambiguous:
        query.get_history(idx, "Bretagne", "drugs")
    assert "Trafic" in str(ambiguous.value) and "Usage" in str(ambiguous.value)
    with pytest.raises(LookupFailed, match="department"):
        query.get_history(idx, "Gironde", "burglary", "region")


# -- lists --------------------------------------------------------------------------------------


def test_list_areas(idx: DataIndex) -> None:
    regions = query.list_areas(idx, "region")
    assert regions.count == 18 == len(regions.areas)
    assert all(a.population and a.population > 0 for a in regions.areas)
    deps = query.list_areas(idx, "department")
    assert deps.count == 101
    assert {a.region_code for a in deps.areas} == {a.code for a in regions.areas}
    countries = query.list_areas(idx, "country")
    assert [a.code for a in countries.areas] == ["FR", "FM"]
    fr = countries.areas[0].population
    assert fr == sum(a.population or 0 for a in deps.areas)
    occitanie = query.list_areas(idx, "region", region="Occitanie")
    assert occitanie.level == "department" and occitanie.count == 13
    assert occitanie.region is not None and occitanie.region.code == "76"
    with pytest.raises(QueryError, match="level='department'"):
        query.list_areas(idx, "country", region="Occitanie")


def test_list_indicators(idx: DataIndex) -> None:
    catalog = query.list_indicators(idx)
    assert len(catalog.indicators) == 18
    assert len({i.slug for i in catalog.indicators}) == 18
    assert all(i.first_year == 2016 and i.last_year == 2025 for i in catalog.indicators)
    assert catalog.caveats and catalog.edition == idx.edition


# -- compare ------------------------------------------------------------------------------------


def _no_artifacts() -> Artifacts:
    raise ArtifactsError("no artifacts in this test")


def test_compare_ranks_observed_year(idx: DataIndex) -> None:
    result = query.compare(idx, _no_artifacts, "burglary")
    assert result.year == 2025 and not result.is_forecast and result.out_of == 18
    values = [r.value for r in result.ranking]
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]
    assert [r.rank for r in result.ranking] == list(range(1, 19))
    for row in result.ranking:
        hist = query.get_history(idx, row.code, "burglary")
        by_year = {p.year: p.rate_per_100k for p in hist.points}
        assert row.value == by_year[2025]
        assert row.change_vs_previous_pct == pytest.approx(
            (by_year[2025] - by_year[2024]) / by_year[2024] * 100, abs=0.06)
        assert row.change_vs_2016_pct == pytest.approx(
            (by_year[2025] - by_year[2016]) / by_year[2016] * 100, abs=0.06)
    fr = query.get_history(idx, "FR", "burglary", "country").points[-1]
    assert result.national is not None and result.national.value == fr.rate_per_100k


def test_compare_measures_years_and_restriction(idx: DataIndex) -> None:
    counts = query.compare(idx, _no_artifacts, "homicide", 2019, "department", measure="count")
    assert counts.out_of == 101 and counts.year == 2019
    assert all(isinstance(r.value, float) and r.value.is_integer() for r in counts.ranking)
    # ties share a rank
    ranks = {}
    for row in counts.ranking:
        ranks.setdefault(row.value, set()).add(row.rank)
    assert all(len(r) == 1 for r in ranks.values())
    per_1000 = query.compare(idx, _no_artifacts, "homicide", 2019, measure="rate_per_1000")
    hist = query.get_history(idx, per_1000.ranking[0].code, "homicide", start_year=2019,
                             end_year=2019)
    assert per_1000.ranking[0].value == hist.points[0].rate_per_1000
    some = query.compare(idx, _no_artifacts, "burglary", areas=["Corse", "53", "Bretagne"])
    assert [r.code for r in some.ranking] == sorted(
        ["94", "53"], key=lambda c: next(r.rank for r in some.ranking if r.code == c))
    assert len(some.ranking) == 2 and some.out_of == 18
    with pytest.raises(QueryError, match="2016–2025"):
        query.compare(idx, _no_artifacts, "burglary", 2015)
    with pytest.raises(ArtifactsError):
        query.compare(idx, _no_artifacts, "burglary", 2027)
    country = query.compare(idx, _no_artifacts, "burglary", level="country")
    assert {r.code for r in country.ranking} == {"FR", "FM"}


def test_compare_forecast_year(idx: DataIndex, art: Artifacts) -> None:
    result = query.compare(idx, lambda: art, "burglary", 2027, "region")
    assert result.is_forecast and result.warnings and result.out_of == 18
    for row in result.ranking[:3]:
        fc = query.forecast(idx, art, row.code, "burglary", "region", horizon=2)
        assert row.value == fc.forecasts[-1].rate_per_100k.value
    first = query.compare(idx, lambda: art, "burglary", 2026, "region")
    row = first.ranking[0]
    observed = query.get_history(idx, row.code, "burglary").points[-1].rate_per_100k
    assert row.change_vs_previous_pct == pytest.approx(
        (row.value - observed) / observed * 100, abs=0.06)  # type: ignore[operator]
    count = query.compare(idx, lambda: art, "burglary", 2030, "department", measure="count")
    assert count.out_of == 101 and count.national is not None and count.national.value


def test_the_upper_bound_caveat_follows_the_flag(idx: DataIndex, art: Artifacts) -> None:
    sums = "so regional or national sums of department figures are upper bounds"
    for result in (
        query.get_history(idx, "Mayotte", "drug-use-afd", "region"),  # one department: exact
        query.forecast(idx, art, "Mayotte", "drug-use-afd", "region", horizon=1),
        query.get_history(idx, "976", "drug-use-afd", "department"),
        query.compare(idx, lambda: art, "drug-use-afd", level="department"),
    ):
        assert not result.upper_bound
        assert not [c for c in result.caveats if sums in c or "upper bound" in c], result.caveats
    for result in (
        query.get_history(idx, "Bretagne", "drug-use-afd", "region"),
        query.forecast(idx, art, "Bretagne", "drug-use-afd", "region", horizon=1),
        query.get_history(idx, "FR", "drug-use-afd", "country"),
        query.compare(idx, lambda: art, "drug-use-afd", level="region"),  # Guadeloupe comes first
    ):
        assert result.upper_bound
        assert [c for c in result.caveats if sums in c]


# -- forecast -----------------------------------------------------------------------------------


def test_forecast_years_intervals_and_model(idx: DataIndex, art: Artifacts) -> None:
    result = query.forecast(idx, art, "Nord", "burglary", "department", horizon=3)
    assert [p.year for p in result.forecasts] == [2026, 2027, 2028]
    for p in result.forecasts:
        for iv in (p.count, p.rate_per_100k):
            assert iv.lo_95 <= iv.lo_80 <= iv.value <= iv.hi_80 <= iv.hi_95
    assert [p.year for p in result.last_observed] == [2023, 2024, 2025]
    assert result.model.name == "lightgbm" and result.model.backtested
    assert result.model.mase == pytest.approx(1.008)
    assert result.model.mase_by_horizon == {"1": 0.84}
    assert result.training_edition == result.data_edition
    assert result.warnings == [  # the synthetic backtest covers horizon 1 only
        "Backtests covered horizons up to 1 year(s): accuracy beyond 2026 was not measured "
        "and is likely worse."]
    assert not query.forecast(idx, art, "Nord", "burglary", "department", horizon=1).warnings
    full = query.forecast(idx, art, "Nord", "burglary", "department")
    assert [p.year for p in full.forecasts] == [2026, 2027, 2028, 2029, 2030]
    for bad in (0, 6, 10):
        with pytest.raises(QueryError, match="between 1 and 5"):
            query.forecast(idx, art, "Nord", "burglary", "department", horizon=bad)
    with pytest.raises(QueryError, match="not a calendar year: for 2029 use horizon=4"):
        query.forecast(idx, art, "Nord", "burglary", "department", horizon=2029)


def test_forecast_with_stale_or_partial_artifacts(
    idx: DataIndex, dataset: Dataset, tmp_path: Path
) -> None:
    stale = load_artifacts(synthetic.write_synthetic_artifacts(
        tmp_path / "stale", dataset, edition="2024-geographie2024-produit-le2025-01-26",
        last_year=2024, levels=("country", "region"), metric_levels=("region",),
    ))
    result = query.forecast(idx, stale, "Bretagne", "homicide", horizon=6)
    assert [p.year for p in result.forecasts] == list(range(2025, 2031))
    assert any("2024-geographie2024" in w and "oasis-train" in w for w in result.warnings)
    country = query.forecast(idx, stale, "FR", "homicide", "country", horizon=1)
    assert not country.model.backtested
    assert any("not backtested" in w for w in country.warnings)
    with pytest.raises(QueryError, match="No forecast"):
        query.forecast(idx, stale, "Gironde", "homicide", "department")
    metrics = query.model_metrics(idx, stale)
    assert [b.level for b in metrics.levels] == ["region"]
    assert metrics.warnings and metrics.training_edition != metrics.data_edition
    country_metrics = query.model_metrics(idx, stale, "country")
    assert not country_metrics.levels[0].backtested


def test_model_metrics(idx: DataIndex, art: Artifacts) -> None:
    result = query.model_metrics(idx, art)
    assert [b.level for b in result.levels] == ["country", "region", "department"]
    for board in result.levels:
        mases = [c.mase for c in board.candidates]
        assert mases == sorted(mases)  # type: ignore[type-var]
        assert board.champion == "lightgbm" and board.candidates[0].name == "lightgbm"
    assert result.protocol["horizons"] == [1, 2, 3]
    assert result.last_year == 2025 and not result.warnings
    assert query.model_metrics(None, art, "region").data_edition == "unknown"


# -- artifacts loading --------------------------------------------------------------------------


def test_missing_artifacts_say_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(ArtifactsError, match=r"No trained forecasts found in .*oasis-train"):
        load_artifacts(tmp_path / "nothing-here")


def _copy_artifacts(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("forecasts.csv.gz", "metrics.json", "MODEL_CARD.md"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _rewrite_forecasts(directory: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = directory / "forecasts.csv.gz"
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(edit(text).encode()))


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("not_gzip", "cannot be decompressed"),
        ("truncated_gzip", "cannot be decompressed"),
        ("bad_json", "not valid JSON"),
        ("json_list", "JSON object"),
        ("missing_column", "missing column"),
        ("nan_value", "missing or infinite"),
        ("text_value", "malformed"),
        ("beyond_2030", "after 2030"),
        ("duplicate_row", "duplicates"),
        ("empty", "empty"),
        ("last_year_mismatch", "last observed year"),
    ],
)
def test_corrupt_artifacts_are_reported(
    art_dir: Path, tmp_path: Path, breakage: str, message: str
) -> None:
    d = _copy_artifacts(art_dir, tmp_path / "a")
    forecasts, metrics = d / "forecasts.csv.gz", d / "metrics.json"
    if breakage == "not_gzip":
        forecasts.write_bytes(b"level,area\n")
    elif breakage == "truncated_gzip":
        forecasts.write_bytes(forecasts.read_bytes()[:200])
    elif breakage == "bad_json":
        metrics.write_text("{not json", encoding="utf-8")
    elif breakage == "json_list":
        metrics.write_text("[]", encoding="utf-8")
    elif breakage == "missing_column":
        _rewrite_forecasts(d, lambda t: t.replace(",rate_100k_hi_95", ",other", 1))
    elif breakage == "nan_value":
        _rewrite_forecasts(d, lambda t: t.replace("\n", "\nregion,53,Homicides,2026," +
                                                  ",".join(["nan"] * 10) + "\n", 1))
    elif breakage == "text_value":
        _rewrite_forecasts(d, lambda t: t + "region,53,Homicides,20x6,1,1,1,1,1,1,1,1,1,1\n")
    elif breakage == "beyond_2030":
        _rewrite_forecasts(d, lambda t: t + "region,53,Homicides,2031,1,1,1,1,1,1,1,1,1,1\n")
    elif breakage == "duplicate_row":
        _rewrite_forecasts(d, lambda t: t + t.splitlines()[1] + "\n")
    elif breakage == "empty":
        _rewrite_forecasts(d, lambda t: "")
    elif breakage == "last_year_mismatch":
        data = json.loads(metrics.read_text(encoding="utf-8"))
        data["last_year"] = 2023
        metrics.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ArtifactsError, match=message) as err:
        load_artifacts(d)
    assert "oasis-train" in str(err.value)


def test_artifacts_tolerate_extra_keys_and_missing_model_card(
    art_dir: Path, tmp_path: Path
) -> None:
    d = _copy_artifacts(art_dir, tmp_path / "a")
    (d / "MODEL_CARD.md").unlink()
    data = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
    data["levels"]["region"]["candidates"]["weird"] = {"mase": "n/a", "coverage_80": None}
    data["levels"]["commune"] = {"champion": "naive", "candidates": {}}
    data["brand_new_key"] = [1, 2, 3]
    (d / "metrics.json").write_text(json.dumps(data), encoding="utf-8")
    art = load_artifacts(d)
    assert art.model_card is None and art.edition == data["edition"]
    metrics = query.model_metrics(None, art)
    assert [b.level for b in metrics.levels] == ["country", "region", "department", "commune"]
    region = metrics.levels[1]
    assert region.candidates[-1].name == "weird" and region.candidates[-1].mase is None


def test_index_values_are_finite_or_none(idx: DataIndex) -> None:
    for s in idx.series.values():
        for p in s.points:
            for v in (p.rate_per_1000, p.rate_per_100k):
                assert v is None or math.isfinite(v)


def test_errors_are_oasis_errors() -> None:
    assert issubclass(QueryError, OasisError) and issubclass(ArtifactsError, OasisError)


def test_a_partial_indicator_name_is_said_in_every_answer(idx: DataIndex, art: Artifacts) -> None:
    """'cambriol' is read as burglaries, and each answer says so first; the full name or an
    alias gets no such note."""
    said = "'cambriol' was read as 'Cambriolages de logement'"
    history = query.get_history(idx, "Bretagne", "cambriol")
    forecast = query.forecast(idx, art, "Bretagne", "cambriol", "region", horizon=1)
    ranking = query.compare(idx, _no_artifacts, "cambriol")
    some = query.compare(idx, _no_artifacts, "cambriol", areas=["Bretagne"])
    for result in (history, forecast, ranking, some):
        assert result.warnings[0].startswith(said), result.warnings
        assert result.indicator.slug == "burglary"
    assert history.points == query.get_history(idx, "Bretagne", "burglary").points
    for name in ("burglary", "cambriolages", "Cambriolages de logement"):
        warnings = query.get_history(idx, "Bretagne", name).warnings
        assert not any("was read as" in w for w in warnings), name
