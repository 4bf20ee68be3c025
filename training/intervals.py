"""Conformal prediction intervals calibrated on backtest residuals.

Absolute residuals are divided by a scale known at the cutoff, s = 0.1 * y[t] + sqrt(y[t] + 1)
(a relative part for shocks shared by large series, a Poisson-like part for small counts), so that
one quantile per horizon fits series of every size. For the forecasts of a cutoff ``c``, horizon
``h``, the quantile is taken only over residuals whose target year is <= ``c`` (i.e. from earlier
cutoffs, including calibration-only cutoffs before the first evaluated one): no evaluated outcome
ever sets its own interval width. Lower bounds are clipped at 0.
"""

from __future__ import annotations

import numpy as np

LEVELS_ALPHA = {"80": 0.20, "95": 0.05}


RELATIVE_PART = 0.1


def interval_scale(last_value: np.ndarray) -> np.ndarray:
    """Scale of the residuals of a series whose last observed value is ``last_value``."""
    y = np.clip(np.asarray(last_value, float), 0, None)
    return RELATIVE_PART * y + np.sqrt(y + 1.0)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ceil((n + 1)(1 - alpha)) / n empirical quantile of ``scores`` (inf if too few)."""
    scores = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    n = len(scores)
    if n == 0:
        return float("inf")
    k = int(np.ceil((n + 1) * (1 - alpha)))
    return float(scores[min(k, n) - 1])


def sequential_intervals(
    cutoff: np.ndarray,
    horizon: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scale: np.ndarray,
    pool: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """lo/hi for 80 % and 95 % for every record, each calibrated on strictly earlier outcomes.

    ``scale`` is the interval scale of each record (see :func:`interval_scale`). ``pool``: extra
    calibration residuals (arrays ``cutoff``, ``horizon``, ``y_true``, ``y_pred``, ``scale``, e.g.
    the same candidate's on another level) that join the calibration set under the same rule
    (target year <= the cutoff); they never get intervals themselves.
    """
    s = np.asarray(scale, float)
    score = np.abs(y_true - y_pred) / s
    cal_cutoff, cal_horizon, cal_score = cutoff, horizon, score
    if pool is not None:
        cal_cutoff = np.concatenate([cutoff, pool["cutoff"]])
        cal_horizon = np.concatenate([horizon, pool["horizon"]])
        cal_score = np.concatenate([
            score, np.abs(pool["y_true"] - pool["y_pred"]) / np.asarray(pool["scale"], float)])
    out = {f"{side}_{lvl}": np.full(len(y_pred), np.nan) for lvl in LEVELS_ALPHA
           for side in ("lo", "hi")}
    for c in np.unique(cutoff):
        for h in np.unique(horizon):
            rows = (cutoff == c) & (horizon == h)
            if not rows.any():
                continue
            calib = (cal_horizon == h) & (cal_cutoff + h <= c)
            for lvl, alpha in LEVELS_ALPHA.items():
                q = conformal_quantile(cal_score[calib], alpha)
                width = q * s[rows]
                out[f"lo_{lvl}"][rows] = np.clip(y_pred[rows] - width, 0, None)
                out[f"hi_{lvl}"][rows] = y_pred[rows] + width
    return out


def horizon_quantiles(
    horizon: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray,
    max_horizon: int,
) -> dict[str, list[float]]:
    """Quantiles per horizon 1..max_horizon from all residuals, for the final forecasts.

    Horizons beyond those backtested are extrapolated linearly from the last two (never narrower);
    the final forecasts use those widths symmetrically on the log scale (lower bound
    ``point / (1 + width / point)``), since an additive interval that wide would reach zero.
    """
    score = np.abs(y_true - y_pred) / np.asarray(scale, float)
    seen = sorted(int(h) for h in np.unique(horizon))
    result: dict[str, list[float]] = {}
    for lvl, alpha in LEVELS_ALPHA.items():
        qs = {h: conformal_quantile(score[horizon == h], alpha) for h in seen}
        last = seen[-1]
        step = qs[last] - qs[seen[-2]] if len(seen) >= 2 else 0.0
        result[lvl] = [
            qs[h] if h in qs else qs[last] + max(step, 0.0) * (h - last)
            for h in range(1, max_horizon + 1)
        ]
    return result
