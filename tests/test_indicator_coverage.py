"""Per-indicator backtest figures in the forecast result: interval coverage varies a lot between
indicators (total drug use: about half of the outcomes in the nominal 80 % interval), so the
forecast reports the indicator's own figures and warns when its intervals were too narrow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mcp import Client

from oasis_mcp.server import create_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PAIRS = [("department", "drug-use-afd", "Usage de stupéfiants (AFD)"),
         ("region", "drug-use-afd", "Usage de stupéfiants (AFD)"),
         ("department", "vandalism", "Destructions et dégradations volontaires"),
         ("region", "burglary", "Cambriolages de logement"),
         ("country", "homicide", "Homicides")]
AREA = {"country": "FR", "region": "Bretagne", "department": "2A"}

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not (ARTIFACTS / "backtest.csv.gz").is_file(),
                       reason="no trained artifacts in the repository"),
]


@pytest.fixture(scope="module")
def metrics() -> dict[str, Any]:
    return json.loads((ARTIFACTS / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def champion_backtest(metrics: dict[str, Any]) -> pd.DataFrame:
    bt = pd.read_csv(ARTIFACTS / "backtest.csv.gz")
    champions = {lv: b["champion"] for lv, b in metrics["levels"].items()}
    return bt[bt["model"] == bt["level"].map(champions)]


async def forecast(art: Path, data: Path, level: str, indicator: str) -> dict[str, Any]:
    server = create_server(data_dir=data, artifacts_dir=art)
    async with Client(server) as client:
        result = await client.call_tool(
            "forecast", {"area": AREA[level], "indicator": indicator, "level": level})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def expected(bt: pd.DataFrame, level: str, label: str,
             started: pd.DataFrame | None = None) -> dict[str, Any]:
    """Coverage of the champion's backtest rows; with ``started`` (area, indicator, cutoff of the
    series that had begun by the cutoff), only over those, as training scores them (metrics.json
    ``protocol.not_started``); ``n`` counts every row."""
    rows = bt[(bt["level"] == level) & (bt["indicator"] == label)]
    n = len(rows)
    if started is not None:
        rows = rows.merge(started, on=["level", "area", "indicator", "cutoff"])
    y = rows["y_true"]
    return {
        "coverage_80": float(((y >= rows["lo_80"]) & (y <= rows["hi_80"])).mean()),
        "coverage_95": float(((y >= rows["lo_95"]) & (y <= rows["hi_95"])).mean()),
        "n": n,
    }


@pytest.fixture(scope="module")
def started(real_data_dir: Path, champion_backtest: pd.DataFrame) -> pd.DataFrame:
    """The series (level, area, indicator) with at least 2 non-zero years up to each cutoff,
    from the real departmental file (regions and countries summed from departments, as the
    2025 edition has no regional file)."""
    from oasis_mcp.data.dataset import load_dataset

    hist = load_dataset(real_data_dir).frame[["level", "area", "indicator", "year", "count"]]
    keys = champion_backtest[["level", "area", "indicator", "cutoff"]].drop_duplicates()
    merged = keys.merge(hist, on=["level", "area", "indicator"])
    merged = merged[(merged["year"] <= merged["cutoff"]) & (merged["count"] > 0)]
    nonzero = merged.groupby(["level", "area", "indicator", "cutoff"]).size()
    return nonzero[nonzero >= 2].reset_index()[["level", "area", "indicator", "cutoff"]]


@pytest.mark.parametrize(("level", "indicator", "label"), PAIRS)
async def test_indicator_figures_match_the_backtest_file(
    edition_2025_dir: Path, champion_backtest: pd.DataFrame, metrics: dict[str, Any],
    started: pd.DataFrame, level: str, indicator: str, label: str,
) -> None:
    model = (await forecast(ARTIFACTS, edition_2025_dir, level, indicator))["model"]
    want = expected(champion_backtest, level, label, started)
    assert want["n"] > 0
    assert model["indicator_n_backtest"] == want["n"]
    assert model["indicator_coverage_80"] == pytest.approx(want["coverage_80"], abs=1e-4)
    assert model["indicator_coverage_95"] == pytest.approx(want["coverage_95"], abs=1e-4)
    exported = metrics["levels"][level]["champion_by_indicator"][label]
    assert model["indicator_mase"] == pytest.approx(exported["mase"], abs=1e-4)
    # the level-wide figures are still there, and differ from the indicator's
    level_metrics = metrics["levels"][level]["candidates"][metrics["levels"][level]["champion"]]
    assert model["coverage_80"] == pytest.approx(level_metrics["coverage_80"], abs=1e-4)


@pytest.mark.parametrize("level", ["region"])  # department: none is too narrow now (below)
async def test_too_narrow_intervals_are_flagged(
    edition_2025_dir: Path, metrics: dict[str, Any], level: str
) -> None:
    from oasis_mcp.data.indicators import indicator_by_label

    figures = metrics["levels"][level]["champion_by_indicator"]
    worst = min(figures, key=lambda label: figures[label]["coverage_80"])
    assert figures[worst]["coverage_80"] < 0.65, "no indicator is under-covered any more"
    narrow = await forecast(ARTIFACTS, edition_2025_dir, level, indicator_by_label(worst).slug)
    assert narrow["model"]["indicator_coverage_80"] < 0.65
    flagged = [w for w in narrow["warnings"] if "too narrow in backtests" in w]
    assert len(flagged) == 1
    c80 = narrow["model"]["indicator_coverage_80"]
    assert f"{c80:.0%}" in flagged[0] and "wider" in flagged[0]
    vandalism = await forecast(ARTIFACTS, edition_2025_dir, level, "vandalism")
    assert vandalism["model"]["indicator_coverage_80"] >= 0.65
    assert not [w for w in vandalism["warnings"] if "too narrow" in w]


async def test_an_indicator_above_the_floors_is_not_flagged(
    edition_2025_dir: Path, metrics: dict[str, Any]
) -> None:
    """At department level even the worst-covered indicator (total drug use) held at least 65 % /
    85 % of outcomes in the backtest: no 'too narrow' warning."""
    from oasis_mcp.data.indicators import indicator_by_label

    figures = metrics["levels"]["department"]["champion_by_indicator"]
    worst = min(figures, key=lambda label: figures[label]["coverage_80"])
    assert figures[worst]["coverage_80"] >= 0.65 and figures[worst]["coverage_95"] >= 0.85
    fc = await forecast(ARTIFACTS, edition_2025_dir, "department", indicator_by_label(worst).slug)
    assert fc["model"]["indicator_coverage_80"] == pytest.approx(figures[worst]["coverage_80"],
                                                                 abs=1e-4)
    assert not [w for w in fc["warnings"] if "too narrow" in w]


def copy_without(dst: Path, backtest: bytes | None, keep_exported: bool) -> Path:
    dst.mkdir()
    for name in ("forecasts.csv.gz", "MODEL_CARD.md"):
        (dst / name).write_bytes((ARTIFACTS / name).read_bytes())
    metrics = json.loads((ARTIFACTS / "metrics.json").read_text(encoding="utf-8"))
    if not keep_exported:  # artifacts trained before the per-indicator export
        for block in metrics["levels"].values():
            block.pop("champion_by_indicator", None)
    (dst / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if backtest is not None:
        (dst / "backtest.csv.gz").write_bytes(backtest)
    return dst


async def test_older_artifacts_get_the_coverage_from_the_backtest_file(
    edition_2025_dir: Path, champion_backtest: pd.DataFrame, tmp_path: Path
) -> None:
    art = copy_without(tmp_path / "old", (ARTIFACTS / "backtest.csv.gz").read_bytes(), False)
    fc = await forecast(art, edition_2025_dir, "department", "drug-use-afd")
    want = expected(champion_backtest, "department", "Usage de stupéfiants (AFD)")
    assert fc["model"]["indicator_coverage_80"] == pytest.approx(want["coverage_80"], abs=1e-4)
    assert fc["model"]["indicator_n_backtest"] == want["n"]
    assert fc["model"]["indicator_mase"] is None  # needs each series' history
    assert [w for w in fc["warnings"] if "too narrow in backtests" in w]


@pytest.mark.parametrize("backtest", [None, b"\x1f\x8b garbage", b""])
async def test_missing_or_corrupt_backtest_still_forecasts(
    edition_2025_dir: Path, tmp_path: Path, backtest: bytes | None
) -> None:
    art = copy_without(tmp_path / "no-backtest", backtest, False)
    fc = await forecast(art, edition_2025_dir, "region", "drug-use-afd")
    assert fc["forecasts"] and fc["model"]["coverage_80"] is not None  # level-wide figures
    assert fc["model"]["indicator_coverage_80"] is None
    assert [w for w in fc["warnings"] if "figures for this indicator are unavailable" in w]
