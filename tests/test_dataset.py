"""The tidy three-level dataset built from the real files, checked against independent sums."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEP_2024, DEP_2025, REAL_SHA256, REG_2024, iter_csv

from oasis_mcp.data.dataset import Dataset, load_dataset
from oasis_mcp.data.geography import METROPOLITAN_DEPARTMENT_CODES, region_of
from oasis_mcp.errors import DataNotFoundError

ED_2025 = "2025-geographie2025-produit-le2026-01-22"
ED_2024 = "2024-geographie2024-produit-le2025-01-26"
BURGLARY = "Cambriolages de logement"
OVERSEAS = {"971", "972", "973", "974", "976"}

Key = tuple[str, int]  # (indicator, year)


def _csv_sums(path: Path, keep: set[str] | None = None) -> dict[Key, tuple[int, int, int]]:
    """(count, population, dwellings) summed over departments, read with the csv module."""
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    lines = iter_csv(path.read_bytes())
    next(lines)
    for f in lines:
        if keep is not None and f[0] not in keep:
            continue
        acc = sums[(f[3], int(f[2]))]
        acc[0] += int(f[5])
        acc[1] += int(f[7])
        acc[2] += int(f[9])
    return {k: (v[0], v[1], v[2]) for k, v in sums.items()}


def _level(dataset: Dataset, level: str) -> pd.DataFrame:
    return dataset.frame[dataset.frame["level"] == level]


@pytest.fixture(scope="module")
def ds2025(real_data_dir: Path) -> Dataset:
    return load_dataset(real_data_dir)


@pytest.fixture(scope="module")
def ds2024(real_data_dir: Path) -> Dataset:
    return load_dataset(real_data_dir, edition="2024")


def test_newest_edition_is_loaded_by_default(ds2025: Dataset) -> None:
    assert ds2025.edition.id == ED_2025
    assert ds2025.nomenclature == "2025"
    assert (ds2025.first_year, ds2025.last_year) == (2016, 2025)
    assert len(ds2025.indicators) == 18
    assert ds2025.regions_source == "aggregated"  # no 2025 regional file in the shared data
    assert [(f.name, f.sha256) for f in ds2025.edition.files] == [
        (DEP_2025, REAL_SHA256[DEP_2025])]


def test_levels_2025(ds2025: Dataset) -> None:
    dep, reg, country = (_level(ds2025, lvl) for lvl in ("department", "region", "country"))
    assert dep["area"].nunique() == 101 and len(dep) == 18_180
    assert reg["area"].nunique() == 18 and len(reg) == 18 * 18 * 10
    assert sorted(country["area"].unique()) == ["FM", "FR"] and len(country) == 2 * 18 * 10
    assert not dep["derived"].any()
    assert reg["derived"].all() and country["derived"].all()
    assert set(ds2025.frame["level"]) == {"department", "region", "country"}
    # one row per (level, area, indicator, year)
    assert not ds2025.frame.duplicated(["level", "area", "indicator", "year"]).any()


@pytest.mark.parametrize("area", ["FR", "FM"])
def test_country_is_the_sum_of_its_departments(
    ds2025: Dataset, real_data_dir: Path, area: str
) -> None:
    keep = None if area == "FR" else set(METROPOLITAN_DEPARTMENT_CODES)
    if keep is not None:
        assert len(keep) == 96 and not keep & OVERSEAS
    expected = _csv_sums(real_data_dir / DEP_2025, keep)
    rows = ds2025.frame[(ds2025.frame["level"] == "country") & (ds2025.frame["area"] == area)]
    assert len(rows) == len(expected) == 180
    for row in rows.itertuples():
        count, population, dwellings = expected[(row.indicator, row.year)]
        assert (row.count, row.population, row.dwellings) == (count, population, dwellings)
        denominator = dwellings if row.indicator == BURGLARY else population
        assert row.denominator == denominator
        assert row.rate_per_1000 == pytest.approx(count / denominator * 1000, rel=1e-12)
        assert row.rate_per_100k == pytest.approx(count / denominator * 1e5, rel=1e-12)


def test_aggregated_regions_are_sums_of_their_departments(ds2025: Dataset) -> None:
    dep = _level(ds2025, "department")
    reg = _level(ds2025, "region").set_index(["area", "indicator", "year"])
    dep = dep.assign(region=[region_of(code).code for code in dep["area"]])
    sums = dep.groupby(["region", "indicator", "year"])[["count", "population", "dwellings"]].sum()
    assert len(sums) == len(reg)
    joined = pd.merge(reg, sums.rename_axis(["area", "indicator", "year"]), left_index=True,
                      right_index=True, suffixes=("", "_sum"))
    for col in ("count", "population", "dwellings"):
        assert (joined[col] == joined[f"{col}_sum"]).all(), col


SINGLE_DEPARTMENT_REGIONS = {"01", "02", "03", "04", "06"}  # overseas: region = one department


def test_upper_bound_exactly_for_mis_en_cause_aggregates(ds2025: Dataset) -> None:
    frame = ds2025.frame
    aggregated = frame["level"] != "department"
    several = ~((frame["level"] == "region") & frame["area"].isin(SINGLE_DEPARTMENT_REGIONS))
    mis_en_cause = frame["unit"] == "Mis en cause"
    assert (frame["upper_bound"] == (aggregated & several & mis_en_cause)).all()
    assert frame.loc[aggregated & mis_en_cause, "indicator"].nunique() == 4  # trafic + 3 usage
    single = frame[(frame["level"] == "region") & ~several & mis_en_cause]
    assert len(single) == 5 * 4 * 10 and not single["upper_bound"].any()


def test_department_rates(ds2025: Dataset, real_data_dir: Path) -> None:
    dep = _level(ds2025, "department").set_index(["area", "indicator", "year"])
    lines = iter_csv((real_data_dir / DEP_2025).read_bytes())
    next(lines)
    published = {(f[0], f[3], int(f[2])): float(f[6].replace(",", ".")) for f in lines}
    assert len(published) == len(dep)
    got = dep["rate_per_1000"]
    expected = pd.Series(published).reindex(got.index)
    assert np.array_equal(got.to_numpy(), expected.to_numpy())
    frame = ds2025.frame
    denominator = np.where(frame["indicator"] == BURGLARY, frame["dwellings"], frame["population"])
    assert (frame["denominator"].to_numpy() == denominator).all()
    assert np.allclose(frame["rate_per_100k"], frame["count"] / denominator * 1e5, rtol=1e-12)
    # the published per-1000 rate of departments agrees with the recomputed one (rounded to 7
    # decimals; dwellings are rounded in the files, hence the looser tolerance for burglaries)
    dep_rows = _level(ds2025, "department")
    recomputed = dep_rows["rate_per_100k"] / 100
    burglary = dep_rows["indicator"] == BURGLARY
    assert np.allclose(dep_rows.loc[~burglary, "rate_per_1000"], recomputed[~burglary],
                       atol=1e-7)
    assert np.allclose(dep_rows.loc[burglary, "rate_per_1000"], recomputed[burglary], atol=1e-3)


def test_2024_edition_uses_the_official_regional_file(ds2024: Dataset) -> None:
    assert ds2024.edition.id == ED_2024
    assert ds2024.nomenclature == "2024"
    assert ds2024.regions_source == "official"
    assert {f.name for f in ds2024.edition.files} == {DEP_2024, REG_2024}
    reg = _level(ds2024, "region")
    assert reg["area"].nunique() == 18 and len(reg) == 2_754
    assert not reg["derived"].any() and not reg["upper_bound"].any()
    assert _level(ds2024, "country")["derived"].all()
    assert len(ds2024.indicators) == 17 and (ds2024.first_year, ds2024.last_year) == (2016, 2024)


def test_aggregation_matches_the_official_2024_regional_file(
    ds2024: Dataset, real_data_dir: Path, tmp_path: Path
) -> None:
    shutil.copyfile(real_data_dir / DEP_2024, tmp_path / DEP_2024)  # departments only
    derived = load_dataset(tmp_path)
    assert derived.edition.id == ED_2024 and derived.regions_source == "aggregated"
    ours = _level(derived, "region").set_index(["area", "indicator", "year"])
    official = _level(ds2024, "region").set_index(["area", "indicator", "year"])
    assert ours["derived"].all()
    assert len(ours) == len(official) == 2_754
    joined = pd.merge(ours, official, left_index=True, right_index=True,
                      suffixes=("", "_official"))
    assert len(joined) == 2_754

    assert (joined["population"] == joined["population_official"]).all()
    mis_en_cause = joined["unit"] == "Mis en cause"
    others = joined[~mis_en_cause]
    assert (others["count"] == others["count_official"]).all()
    bounds = joined[mis_en_cause]
    assert (bounds["count"] >= bounds["count_official"]).all()
    assert (bounds["count"] > bounds["count_official"]).sum() == 198  # as SOURCES.md documents
    single = bounds.index.get_level_values("area").isin(SINGLE_DEPARTMENT_REGIONS)
    assert bounds[~single]["upper_bound"].all() and not others["upper_bound"].any()
    # a region of one department: the sum is exact, equal to the official figure
    assert not bounds[single]["upper_bound"].any()
    assert (bounds[single]["count"] == bounds[single]["count_official"]).all()
    # rates recomputed from the sums agree with the published regional rates (rounded)
    pop_based = others[others.index.get_level_values("indicator") != BURGLARY]
    assert np.allclose(pop_based["rate_per_1000"], pop_based["rate_per_1000_official"],
                       atol=1e-7)


def test_edition_can_be_named_by_id(real_data_dir: Path) -> None:
    assert load_dataset(real_data_dir, edition=ED_2024).edition.id == ED_2024


def test_unknown_edition(real_data_dir: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"No edition '2019'.*available: " + ED_2025):
        load_dataset(real_data_dir, edition="2019")


def test_missing_data_dir_says_how_to_get_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataNotFoundError) as info:
        load_dataset(tmp_path / "absent")
    message = str(info.value)
    assert str(tmp_path / "absent") in message and "does not exist" in message
    assert "oasis-mcp data update" in message and "OASIS_DATA_DIR" in message

    monkeypatch.setenv("OASIS_DATA_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match=r"No SSMSI data files in .*OASIS_DATA_DIR"):
        load_dataset()

    monkeypatch.delenv("OASIS_DATA_DIR")
    monkeypatch.setenv("OASIS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="oasis-mcp data update") as info:
        load_dataset()
    assert str(tmp_path / "cache" / "data") in str(info.value)


def test_regional_file_without_departmental_twin_is_not_an_edition(
    real_data_dir: Path, tmp_path: Path
) -> None:
    shutil.copyfile(real_data_dir / REG_2024, tmp_path / REG_2024)
    with pytest.raises(DataNotFoundError, match="oasis-mcp data update"):
        load_dataset(tmp_path)


def test_series_and_slices(ds2025: Dataset) -> None:
    series = ds2025.series("region", "53", "Homicides")
    assert list(series["year"]) == list(range(2016, 2026))
    assert series["derived"].all()
    sliced = ds2025.year_slice("department", "Homicides", 2025)
    assert len(sliced) == 101
    assert ds2025.series("department", "99", "Homicides").empty
