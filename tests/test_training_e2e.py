"""End-to-end: a quick training run on a slice of the real data, and the committed artifacts."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("lightgbm")

from forecast_checks import fan_violations

from oasis_training.artifacts import BACKTEST_COLUMNS, FORECAST_COLUMNS
from oasis_training.cli import main

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("OASIS_DATA_DIR", REPO.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(
    not any(DATA_DIR.glob("donnee-dep-data.gouv-*.csv")), reason=f"no SSMSI data in {DATA_DIR}"
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifacts")
    code = main(["--data-dir", str(DATA_DIR), "--levels", "country,region,department",
                 "--out", str(out), "--quick", "--limit-areas", "3", "--no-mlflow"])
    assert code == 0
    return out


@needs_data
def test_quick_run_writes_every_artifact(quick_run: Path) -> None:
    for name in ("metrics.json", "backtest.csv.gz", "forecasts.csv.gz", "MODEL_CARD.md",
                 "models/manifest.json"):
        assert (quick_run / name).is_file(), name
    metrics = json.loads((quick_run / "metrics.json").read_text())
    for key in ("edition", "files", "last_year", "protocol", "git_commit", "seeds", "levels"):
        assert key in metrics
    assert metrics["protocol"]["cutoffs"][0] == 2019
    assert metrics["protocol"]["horizons"] == [1, 2]
    for level in ("country", "region", "department"):
        block = metrics["levels"][level]
        assert block["champion"] in block["candidates"]
        for m in block["candidates"].values():
            for key in ("mase", "smape", "mae", "rmse", "pooled_r2_rate100k", "coverage_80",
                        "coverage_95", "msis_95", "fit_seconds", "ratio_to_naive", "by_horizon"):
                assert key in m
            assert set(m["by_horizon"]) == {"1", "2"}
    manifest = json.loads((quick_run / "models" / "manifest.json").read_text())
    assert manifest["files"]


@needs_data
def test_quick_run_csv_columns_and_interval_order(quick_run: Path) -> None:
    bt = pd.read_csv(quick_run / "backtest.csv.gz", dtype={"area": str})
    assert list(bt.columns) == BACKTEST_COLUMNS
    fc = pd.read_csv(quick_run / "forecasts.csv.gz", dtype={"area": str})
    assert list(fc.columns) == FORECAST_COLUMNS
    assert set(fc["level"]) == {"country", "region", "department"}
    assert set(fc.loc[fc["level"] == "country", "area"]) == {"FM", "FR"}
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert set(fc["year"]) == set(range(metrics["last_year"] + 1, 2031))
    tol = 1e-6
    for prefix in ("", "rate_100k_"):
        point = fc["count"] if prefix == "" else fc["rate_100k"]
        lo95, lo80 = fc[f"{prefix}lo_95"], fc[f"{prefix}lo_80"]
        hi80, hi95 = fc[f"{prefix}hi_80"], fc[f"{prefix}hi_95"]
        assert (lo95 >= 0).all()
        assert (lo95 <= lo80 + tol).all() and (lo80 <= point + tol).all()
        assert (point <= hi80 + tol).all() and (hi80 <= hi95 + tol).all()
    # Beyond the backtested horizons (1–2) the widths are extrapolated and the fan, relative to
    # the point, never narrows; a lower bound is positive exactly when the calibrated one of the
    # last backtested year is (every point of this run is positive; a zero point has a zero
    # lower bound whatever came before).
    assert fan_violations(fc, metrics["last_year"] + 3) == []
    keys = ["level", "area", "indicator"]
    h2 = fc[fc["year"] == metrics["last_year"] + 2].set_index(keys)["lo_95"] > 0
    far = fc[fc["year"] > metrics["last_year"] + 2].set_index(keys)
    assert len(far) and h2.any() and (~h2).any()
    assert ((far["lo_95"] > 0) == h2.reindex(far.index)).all()


@needs_data
def test_quick_run_is_deterministic(quick_run: Path, tmp_path: Path) -> None:
    main(["--data-dir", str(DATA_DIR), "--levels", "region", "--out", str(tmp_path), "--quick",
          "--limit-areas", "3", "--no-mlflow"])
    first = pd.read_csv(quick_run / "forecasts.csv.gz", dtype={"area": str})
    second = pd.read_csv(tmp_path / "forecasts.csv.gz", dtype={"area": str})
    pd.testing.assert_frame_equal(
        first[first["level"] == "region"].reset_index(drop=True), second.reset_index(drop=True)
    )
    a = json.loads((quick_run / "metrics.json").read_text())["levels"]["region"]["candidates"]
    b = json.loads((tmp_path / "metrics.json").read_text())["levels"]["region"]["candidates"]
    for name in a:
        assert a[name]["mase"] == b[name]["mase"]
        assert a[name]["coverage_80"] == b[name]["coverage_80"]


@needs_data
def test_committed_artifacts_match_the_data_edition() -> None:
    path = REPO / "artifacts" / "metrics.json"
    if not path.is_file():
        pytest.skip("no committed artifacts yet")
    from oasis_training.data import load_training_data

    metrics = json.loads(path.read_text())
    info, _ = load_training_data(DATA_DIR, levels=("country",))
    assert metrics["edition"] == info.edition
    assert metrics["last_year"] == info.last_year
    assert {f["name"]: f["sha256"] for f in metrics["files"]} == {
        f["name"]: f["sha256"] for f in info.files
    }
    with gzip.open(REPO / "artifacts" / "forecasts.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
    assert header == FORECAST_COLUMNS
    assert not metrics.get("quick")
    fc = pd.read_csv(REPO / "artifacts" / "forecasts.csv.gz", dtype={"area": str})
    assert fc.groupby("level")["area"].nunique().to_dict() == {
        "country": 2, "region": 18, "department": 101}
    assert set(fc["year"]) == set(range(metrics["last_year"] + 1, 2031))
    tol = 1e-3  # values are rounded to 4 decimals
    assert (fc["lo_95"] >= 0).all()
    assert (fc["lo_95"] <= fc["lo_80"] + tol).all() and (fc["lo_80"] <= fc["count"] + tol).all()
    assert (fc["count"] <= fc["hi_80"] + tol).all() and (fc["hi_80"] <= fc["hi_95"] + tol).all()
    for level, block in metrics["levels"].items():
        assert block["champion_ratio_to_naive"] < 1.0, level  # the champion beats naive


OLDER_EDITION = "2024-geographie2024-produit-le2025-01-26"


@pytest.mark.skipif(
    not (DATA_DIR / f"donnee-dep-data.gouv-{OLDER_EDITION}.csv").is_file(),
    reason="the 2024 edition is not in the data directory",
)
def test_quick_run_follows_the_years_of_the_data(tmp_path: Path) -> None:
    """An edition whose last year is 2024: cutoffs 2019–2023, forecasts from 2025."""
    main(["--data-dir", str(DATA_DIR), "--edition", OLDER_EDITION, "--levels", "region",
          "--out", str(tmp_path), "--quick", "--limit-areas", "2", "--no-mlflow"])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["edition"] == OLDER_EDITION
    assert metrics["last_year"] == 2024
    assert metrics["protocol"]["cutoffs"] == [2019, 2020, 2021, 2022, 2023]
    fc = pd.read_csv(tmp_path / "forecasts.csv.gz")
    assert sorted(set(fc["year"])) == list(range(2025, 2031))
