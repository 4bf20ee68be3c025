"""The forecast and model_metrics tools on the committed artifacts: per-indicator, per-horizon
accuracy and coverage, the revision of the provisional latest year, coherent forecasts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oasis_mcp import query
from oasis_mcp.artifacts import load_artifacts
from oasis_mcp.data.dataset import load_dataset

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("OASIS_DATA_DIR", REPO.parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(
    not any(DATA_DIR.glob("donnee-dep-data.gouv-*.csv")), reason=f"no SSMSI data in {DATA_DIR}"
)


@pytest.fixture(scope="module")
def ctx() -> tuple[query.DataIndex, object]:
    art = load_artifacts(REPO / "artifacts")
    idx = query.index_for(load_dataset(DATA_DIR, edition=art.edition))
    return idx, art


def test_forecast_reports_the_indicator_per_horizon(ctx: tuple) -> None:
    idx, art = ctx
    res = query.forecast(idx, art, "Bretagne", "cambriolages", "region", 5)
    per = res.model.indicator_by_horizon
    assert [p.horizon for p in per] == [1, 2, 3, 4, 5]
    assert all(p.mase is not None and 0 < p.coverage_80 <= 1 and p.n_backtest for p in per)
    assert per[0].n_backtest > per[-1].n_backtest  # fewer cutoffs reach 5 years ahead
    assert res.model.mase_by_horizon.keys() == {"1", "2", "3", "4", "5"}
    assert any("provisional" in c and "median" in c for c in res.caveats)


def test_model_metrics_reports_per_indicator_and_per_horizon(ctx: tuple) -> None:
    idx, art = ctx
    res = query.model_metrics(idx, art, "department")
    board = res.levels[0]
    assert [h.horizon for h in board.champion_by_horizon] == [1, 2, 3, 4, 5]
    labels = {i.indicator for i in board.champion_by_indicator}
    assert "Usage de stupéfiants (AFD)" in labels and len(labels) == 18
    afd = next(i for i in board.champion_by_indicator if i.indicator.endswith("(AFD)"))
    assert afd.msis_95 is not None and len(afd.by_horizon) == 5


def test_single_department_region_gets_the_department_forecast(ctx: tuple) -> None:
    idx, art = ctx
    region = query.forecast(idx, art, "Guyane", "trafic", "region", 5)
    dep = query.forecast(idx, art, "973", "trafic", "department", 5)
    assert [p.count for p in region.forecasts] == [p.count for p in dep.forecasts]


def test_history_of_the_latest_year_says_it_is_provisional(ctx: tuple) -> None:
    idx, art = ctx
    hist = query.get_history(idx, "Bretagne", "homicides", "region")
    noted = query.with_provisional_note(hist, art, idx.last_year)
    assert len(noted.caveats) == len(hist.caveats) + 1 and "provisional" in noted.caveats[-1]
    older = query.get_history(idx, "Bretagne", "homicides", "region", end_year=idx.last_year - 1)
    assert query.with_provisional_note(older, art, idx.last_year) == older
    assert query.with_provisional_note(hist, None, idx.last_year) == hist
