"""Rolling-origin, expanding-window backtest of every candidate on one level.

Cutoffs: every year from the first year + 1 to last_year - 1. Those before ``first_eval_cutoff``
(2019) are calibration-only: their residuals feed the interval widths of later cutoffs but never the
metrics. Horizons 1 to 5, kept only when the target year is in the data (cutoffs 2019/2020 reach
h = 5 into 2024/2025).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from oasis_training.calibration import (
    calibration_scale,
    sequential_group_intervals,
    volatility_scale,
)
from oasis_training.data import Panel
from oasis_training.intervals import interval_scale, sequential_intervals
from oasis_training.metrics import coverage, mae, mase, msis, naive_scale, pooled_r2, rmse, smape
from oasis_training.models.base import Forecaster

FIRST_EVAL_CUTOFF = 2019
HORIZONS = (1, 2, 3, 4, 5)
HEADLINE_HORIZONS = (1, 2)  # the figures comparable with earlier model cards
MIN_STARTED_YEARS = 2  # a series with fewer non-zero years at the cutoff has not started
Progress = Callable[[str], None]


@dataclass
class Protocol:
    cutoffs: list[int]
    calibration_cutoffs: list[int]
    horizons: list[int]

    @classmethod
    def for_years(cls, years: np.ndarray, first_eval: int = FIRST_EVAL_CUTOFF) -> Protocol:
        first, last = int(years.min()), int(years.max())
        every = list(range(first + 1, last))
        evaluated = [c for c in every if c >= first_eval]
        return cls(evaluated, [c for c in every if c < first_eval], list(HORIZONS))


@dataclass
class CandidateResult:
    name: str
    family: str
    complexity: int
    params: dict[str, object]
    records: pd.DataFrame  # one row per (series, cutoff, horizon), calibration cutoffs included
    fit_seconds: float
    n_fallback: int
    metrics: dict[str, Any] = field(default_factory=dict)  # JSON-ready: numbers, nested dicts


def _forecast_cutoff(model: Forecaster, panel: Panel, cutoff: int) -> tuple[int, np.ndarray, int]:
    last = int(panel.years[-1])
    hs = tuple(h for h in HORIZONS if cutoff + h <= last)
    result = model.forecast(panel.upto(cutoff), hs)
    return cutoff, result.values, result.n_fallback


def run_candidate(
    model: Forecaster, panel: Panel, protocol: Protocol, n_jobs: int = 2
) -> CandidateResult:
    cutoffs = protocol.calibration_cutoffs + protocol.cutoffs
    start = time.perf_counter()
    if hasattr(model, "forecast_origins"):  # per-series fits: one task pool across all cutoffs
        last = int(panel.years[-1])
        cuts = [(panel.upto(c), tuple(h for h in HORIZONS if c + h <= last)) for c in cutoffs]
        outs = [(c, f.values, f.n_fallback)
                for c, f in zip(cutoffs, model.forecast_origins(cuts), strict=True)]
    elif model.family == "global" and n_jobs > 1:
        outs = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_forecast_cutoff)(model, panel, c) for c in cutoffs
        )
    else:
        outs = [_forecast_cutoff(model, panel, c) for c in cutoffs]
    seconds = time.perf_counter() - start
    years = panel.years
    parts = []
    fallback = 0
    for cutoff, values, n_fb in outs:
        fallback += n_fb
        ci = int(np.flatnonzero(years == cutoff)[0])
        scale = naive_scale(panel.y[:, : ci + 1])
        for j in range(values.shape[1]):
            h = j + 1
            parts.append(pd.DataFrame({
                "series": np.arange(panel.n_series), "cutoff": cutoff, "year": cutoff + h,
                "horizon": h, "y_true": panel.y[:, ci + h], "y_pred": values[:, j],
                "scale": scale, "iscale": interval_scale(panel.y[:, ci]),
                "den": panel.den[:, ci + h],
                "vscale": volatility_scale(panel.y[:, : ci + 1]),
                "cscale": calibration_scale(panel.y[:, : ci + 1], panel.national[:, : ci + 1],
                                            years[: ci + 1]),
                "history": ci + 1,
                "calib": (panel.y[:, : ci + 1] > 0).sum(axis=1) >= MIN_STARTED_YEARS,
            }))
    records = pd.concat(parts, ignore_index=True)
    return CandidateResult(model.name, model.family, model.complexity, dict(model.params),
                           records, seconds, fallback)


def pool_arrays(records: pd.DataFrame) -> dict[str, np.ndarray]:
    """A candidate's backtest residuals as extra calibration data for another level."""
    return {"cutoff": records["cutoff"].to_numpy(), "horizon": records["horizon"].to_numpy(),
            "y_true": records["y_true"].to_numpy(float),
            "y_pred": records["y_pred"].to_numpy(float),
            "scale": records["iscale"].to_numpy(float)}


def add_intervals(records: pd.DataFrame, pool: pd.DataFrame | None = None) -> pd.DataFrame:
    bounds = sequential_intervals(
        records["cutoff"].to_numpy(), records["horizon"].to_numpy(),
        records["y_true"].to_numpy(float), records["y_pred"].to_numpy(float),
        records["iscale"].to_numpy(float), None if pool is None else pool_arrays(pool),
    )
    return records.assign(**bounds)


def score(records: pd.DataFrame) -> dict[str, float | int]:
    """Metrics over the evaluated records (see oasis_training.metrics)."""
    yt = records["y_true"].to_numpy(float)
    yp = records["y_pred"].to_numpy(float)
    sc = records["scale"].to_numpy(float)
    ser = records["series"].to_numpy()
    per = 1e5 / np.maximum(records["den"].to_numpy(float), 1.0)
    m, n_used = mase(yt, yp, sc, ser)
    started = records["calib"].to_numpy(bool) if "calib" in records else np.ones(len(yt), bool)
    lo80, hi80 = records["lo_80"].to_numpy(), records["hi_80"].to_numpy()
    lo95, hi95 = records["lo_95"].to_numpy(), records["hi_95"].to_numpy()
    k = started
    return {
        "mase": m,
        "smape": smape(yt, yp),
        "mae": mae(yt * per, yp * per),
        "rmse": rmse(yt * per, yp * per),
        "pooled_r2_rate100k": pooled_r2(yt * per, yp * per),
        "coverage_80": coverage(yt[k], lo80[k], hi80[k]) if k.any() else float("nan"),
        "coverage_95": coverage(yt[k], lo95[k], hi95[k]) if k.any() else float("nan"),
        "msis_95": msis(yt[k], lo95[k], hi95[k], sc[k], ser[k]) if k.any() else float("nan"),
        "n_forecasts": len(records),
        "n_not_started": int((~k).sum()),
        "n_series_mase": n_used,
    }


def label_records(records: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Records with the ``level`` and ``indicator`` of their series (for grouped intervals)."""
    series = records["series"].to_numpy()
    return records.assign(level=panel.level, indicator=panel.indicators[series])


def add_group_intervals(records: pd.DataFrame) -> pd.DataFrame:
    """Grouped conformal intervals (see oasis_training.calibration) on labelled records."""
    return records.assign(**sequential_group_intervals(records))


def level_metrics(records: pd.DataFrame, protocol: Protocol) -> dict[str, Any]:
    """Headline metrics over every evaluated horizon, the horizons 1-2 figures comparable with
    earlier model cards (``*_h12``), and the figures per horizon."""
    ev = records[records["cutoff"].isin(protocol.cutoffs)]
    metrics: dict[str, Any] = dict(score(ev))
    head = score(ev[ev["horizon"].isin(HEADLINE_HORIZONS)])
    for key in ("mase", "coverage_80", "coverage_95", "msis_95"):
        metrics[f"{key}_h12"] = head[key]
    metrics["by_horizon"] = {str(h): score(g) for h, g in ev.groupby("horizon")}
    return metrics


def evaluate(
    result: CandidateResult, protocol: Protocol, panel: Panel
) -> dict[str, Any]:
    """Grouped conformal intervals (this level's residuals only) and metrics."""
    records = add_group_intervals(label_records(result.records, panel))
    result.records = records
    metrics = level_metrics(records, protocol)
    metrics["fit_seconds"] = round(result.fit_seconds, 3)
    metrics["n_fallback"] = result.n_fallback
    result.metrics = metrics
    return metrics


def zero_scale_series(records: pd.DataFrame, protocol: Protocol) -> int:
    ev = records[records["cutoff"].isin(protocol.cutoffs)]
    return int(ev.loc[~(ev["scale"] > 0), "series"].nunique())


def combine(name: str, members: list[CandidateResult], complexity: int = 8) -> CandidateResult:
    """Equal-weight combination (geometric mean of count + 1) of several candidates' forecasts."""
    cols = ["series", "cutoff", "year", "horizon", "y_true", "scale", "iscale", "den", "vscale",
            "cscale", "history", "calib"]
    base = members[0].records[cols]
    logs = np.mean([np.log1p(m.records["y_pred"].to_numpy(float)) for m in members], axis=0)
    records = base.assign(y_pred=np.expm1(logs))
    return CandidateResult(
        name, "combination", complexity, {"members": [m.name for m in members]}, records,
        sum(m.fit_seconds for m in members), max(m.n_fallback for m in members),
    )


def choose_champion(metrics: dict[str, dict[str, Any]], complexity: dict[str, int]) -> str:
    """Lowest MASE; ties (to 1e-9) go to the simpler model."""
    return min(metrics, key=lambda n: (round(float(metrics[n]["mase"]), 9), complexity[n]))
