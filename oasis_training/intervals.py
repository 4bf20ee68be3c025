"""Conformal prediction intervals calibrated on backtest residuals.

Absolute residuals are divided by a scale known at the cutoff, s = 0.1 * y[t] + sqrt(y[t] + 1)
(a relative part for shocks shared by large series, a Poisson-like part for small counts), so that
one quantile per horizon fits series of every size. For the forecasts of a cutoff ``c``, horizon
``h``, the quantile is taken only over residuals whose target year is <= ``c`` (i.e. from earlier
cutoffs, including calibration-only cutoffs before the first evaluated one): no evaluated outcome
ever sets its own interval width. Lower bounds are clipped at 0.

The final forecasts (:func:`forecast_bounds`) keep these additive intervals at the backtested
horizons and grow them beyond, with widths extrapolated by :func:`horizon_quantiles`, so that
relative to the point they never narrow as the horizon grows.
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
    :func:`forecast_bounds` turns them into bounds.
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


def forecast_bounds(
    point: np.ndarray, width: np.ndarray, calibrated: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the final forecasts, for one interval level.

    ``point`` and ``width`` are (n_series, n_horizons) arrays for horizons 1, 2, …; ``width`` is
    the half-width ``q_h * scale``. Horizons 1..``calibrated`` (the backtested ones) get the
    calibrated, additive interval ``[max(point - width, 0), point + width]``, unchanged.

    Beyond them the widths are extrapolated, and the interval grows from the last calibrated one
    instead of switching form (an additive-then-log switch would let the lower bound step up).
    With ``G_h = hi_h / point_h``:

    - upper: ``G_h = max(G_{h-1}, 1 + width_h / point_h)``: the extrapolated width, never
      narrower relative to the point than the year before;
    - lower: ``lo_h / point_h = (lo_{h-1} / point_{h-1}) * G_{h-1} / G_h``: on the log scale the
      lower side widens by as much as the upper side, starting from the calibrated lower bound.
      A positive lower bound stays positive; one that reached 0 stays at 0.

    So both ratios to the point are monotone in the horizon (the fan never narrows). A zero
    point gets ``[0, width]`` and, at the next positive point, the ratios restart from a lower
    bound of 0 and the extrapolated upper width.
    """
    p = np.asarray(point, float)
    w = np.asarray(width, float)
    lo = np.empty_like(p)
    hi = np.empty_like(p)
    k = min(max(calibrated, 1), p.shape[1])  # horizon 1 is additive in any case
    lo[:, :k] = np.clip(p[:, :k] - w[:, :k], 0, None)
    hi[:, :k] = p[:, :k] + w[:, :k]
    for j in range(k, p.shape[1]):
        pos, prev = p[:, j] > 0, p[:, j - 1] > 0
        both = pos & prev
        safe_p = np.where(pos, p[:, j], 1.0)
        safe_prev = np.where(prev, p[:, j - 1], 1.0)
        g_prev = hi[:, j - 1] / safe_prev
        g = np.where(both, np.maximum(g_prev, 1 + w[:, j] / safe_p), 1 + w[:, j] / safe_p)
        with np.errstate(invalid="ignore"):  # g >= g_prev; an infinite width takes lo to 0
            shrink = np.where(np.isfinite(g), g_prev / g, 0.0)
        r_lo = np.where(both, lo[:, j - 1] / safe_prev * shrink, 0.0)
        hi[:, j] = np.where(pos, p[:, j] * g, w[:, j])
        lo[:, j] = np.where(pos, p[:, j] * r_lo, 0.0)
    # A missing point or width has no interval (rather than a made-up [0, width]).
    unknown = np.isnan(p) | np.isnan(w)
    lo[unknown] = np.nan
    hi[unknown] = np.nan
    return lo, hi


def nest_bounds(inner: tuple[np.ndarray, np.ndarray],
                outer: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The outer (95 %) interval widened where needed to contain the inner (80 %) one."""
    return np.minimum(outer[0], inner[0]), np.maximum(outer[1], inner[1])


def final_bounds(
    point: np.ndarray, scale: np.ndarray, quantiles: dict[str, list[float]], calibrated: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The final forecasts' (lower, upper) bounds per level ("80", "95").

    ``point`` is (n_series, n_horizons); ``scale`` the interval scale of each series
    (:func:`interval_scale`); ``quantiles`` per level and horizon (:func:`horizon_quantiles`);
    horizons 1..``calibrated`` were backtested. The 95 % interval contains the 80 % one.
    """
    bounds = {lvl: forecast_bounds(point, np.outer(scale, quantiles[lvl]), calibrated)
              for lvl in LEVELS_ALPHA}
    bounds["95"] = nest_bounds(bounds["80"], bounds["95"])  # a no-op at calibrated horizons
    return bounds
