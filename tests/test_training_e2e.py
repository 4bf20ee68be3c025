"""End-to-end: a quick training run on a slice of the real data, and the committed artifacts."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("lightgbm")

from forecast_checks import coherence_violations, fan_violations

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
    for key in ("edition", "files", "last_year", "protocol", "git_commit", "seeds", "levels",
                "environment"):
        assert key in metrics
    assert metrics["environment"]["python"] and metrics["environment"]["libraries"]["lightgbm"]
    assert all(len(f["sha256"]) == 64 for f in metrics["files"])
    assert metrics["protocol"]["cutoffs"][0] == 2019
    assert metrics["protocol"]["horizons"] == [1, 2, 3, 4, 5]
    run_info = json.loads((quick_run / "run.json").read_text())
    assert run_info["command"][0] == "oasis-train" and "--quick" in run_info["command"]
    assert run_info["total_seconds"] > 0
    for level in ("country", "region", "department"):
        block = metrics["levels"][level]
        assert block["champion"] in block["candidates"]
        for m in block["candidates"].values():
            for key in ("mase", "smape", "mae", "rmse", "pooled_r2_rate100k", "coverage_80",
                        "coverage_95", "msis_95", "ratio_to_naive", "by_horizon", "mase_h12"):
                assert key in m
            assert "fit_seconds" not in m  # timings live in run.json (metrics are reproducible)
            assert set(m["by_horizon"]) == {"1", "2", "3", "4", "5"}
        # a slice has no complete hierarchy: not reconciled, and it says so
        assert block["champion"] == "selected"
        per = block["champion_by_indicator"]
        assert per and all(set(v["by_horizon"]) == {"1", "2", "3", "4", "5"} for v in per.values())
    assert metrics["reconciliation"]["applied"] is False
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
    # Horizons 1-5 are all backtested: every published year is calibrated (no extrapolation).
    calibrated = max(metrics["protocol"]["horizons"])
    assert metrics["last_year"] + calibrated == 2030
    assert fan_violations(fc, metrics["last_year"] + calibrated + 1) == []


REPRODUCIBLE = ("forecasts.csv.gz", "backtest.csv.gz", "metrics.json", "models/manifest.json")


@needs_data
def test_retraining_a_slice_gives_identical_bytes(tmp_path: Path) -> None:
    """Same data, code and versions: byte-identical forecasts, backtest, metrics and models."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["--data-dir", str(DATA_DIR), "--levels", "region", "--out", str(out),
                     "--quick", "--limit-areas", "2", "--no-mlflow"]) == 0
        outs.append(out)
    files = sorted(str(p.relative_to(outs[0])) for p in outs[0].rglob("*") if p.is_file())
    assert set(REPRODUCIBLE) <= set(files)
    for rel in files:
        if rel in ("run.json", "MODEL_CARD.md"):  # timings and command line differ
            continue
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


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
    assert metrics["reconciliation"]["applied"] is True
    from oasis_mcp.data.geography import areas

    region_of = {a.code: str(a.region_code) for a in areas("department")}
    assert coherence_violations(fc, region_of, tolerance=0.005) == []


def _coverage_outside(per_indicator: bool) -> list[tuple[object, ...]]:
    metrics = json.loads((REPO / "artifacts" / "metrics.json").read_text())
    outside: list[tuple[object, ...]] = []
    for level in ("region", "department"):
        block = metrics["levels"][level]
        pooled = block["candidates"][block["champion"]]
        if not per_indicator:
            if not (0.77 <= pooled["coverage_80"] <= 0.83
                    and 0.92 <= pooled["coverage_95"] <= 0.98):
                outside.append((level, "pooled", pooled["coverage_80"], pooled["coverage_95"]))
            continue
        for label, m in block["champion_by_indicator"].items():
            if not (0.70 <= m["coverage_80"] <= 0.90 and 0.88 <= m["coverage_95"] <= 0.99):
                outside.append((level, label, m["coverage_80"], m["coverage_95"]))
    return outside


@needs_data
def test_committed_intervals_pooled_coverage_is_on_target() -> None:
    """Issue 10: pooled 80 % / 95 % coverage 0.77-0.83 / 0.92-0.98 at region and department."""
    assert _coverage_outside(per_indicator=False) == []


@needs_data
@pytest.mark.xfail(strict=True, reason="issue 10 target not reached yet: total drug use (region "
                   "80 % and 95 %) and vehicle accessories theft (region 80 % and 95 %) "
                   "under-covered, fraud "
                   "over-covered at region and department level (see the model card); strict, "
                   "so this fails loudly once every indicator is inside the ranges")
def test_committed_intervals_are_calibrated_per_indicator() -> None:
    """Issue 10: every indicator's 80 % / 95 % backtest coverage at region and department level
    within 0.70-0.90 / 0.88-0.99 (the published model)."""
    assert _coverage_outside(per_indicator=True) == []


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
    # 2030 is horizon 6, beyond the backtested 1-5: extrapolated, and the fan never narrows
    assert fan_violations(fc, 2030) == []


def test_train_refuses_to_overwrite_the_shipped_artifacts(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from oasis_training.cli import SHIPPED_ARTIFACTS

    for argv in (["--quick", "--publish"], ["--out", str(SHIPPED_ARTIFACTS)],
                 ["--quick", "--out", str(SHIPPED_ARTIFACTS)],
                 ["--publish", "--limit-areas", "3"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "--publish" in capsys.readouterr().err


def test_train_without_data_says_how_to_get_it(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--data-dir", str(tmp_path / "nothing"), "--quick", "--out",
                 str(tmp_path / "out"), "--no-mlflow"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "oasis-mcp data update" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


@needs_data
def test_default_output_is_a_new_ignored_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`oasis-train --quick` in a checkout writes under training-runs/ (git-ignored), never into
    the shipped artifacts/."""
    from oasis_training.cli import SHIPPED_ARTIFACTS

    before = {p.name: p.read_bytes() for p in SHIPPED_ARTIFACTS.glob("*") if p.is_file()}
    monkeypatch.chdir(tmp_path)
    assert main(["--data-dir", str(DATA_DIR), "--levels", "region", "--quick",
                 "--limit-areas", "2", "--no-mlflow"]) == 0
    runs = list((tmp_path / "training-runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()
    assert str(runs[0].relative_to(tmp_path)) in capsys.readouterr().out
    after = {p.name: p.read_bytes() for p in SHIPPED_ARTIFACTS.glob("*") if p.is_file()}
    assert after == before
    assert "training-runs/" in (REPO / ".gitignore").read_text().splitlines()
