"""Grouped (Mondrian) conformal intervals: per indicator and horizon, pooled across levels.

Scores are |error| / s, where s is each series' own volatility known at the cutoff
(:func:`volatility_scale`: half the mean absolute year-on-year change up to the cutoff plus 5 % of
the last value, floored by the Poisson-like sqrt(y + 1)). One quantile per (level, indicator,
horizon) group, shrunk toward the
quantile of the same indicator and horizon pooled over every level, itself shrunk toward the
horizon's quantile over all indicators, with weights n / (n + SHRINK_N) (n = residuals in the
group): small groups (country series, a young indicator) lean on the pool, large ones keep their
own width.

Sequential rule (backtest): the intervals of cutoff c, horizon h use only residuals whose target
year is <= c. A horizon without any such residual takes the quantile of the longest calibrated
horizon k, grown like a random walk's spread: q_h = q_k * sqrt(h / k) (stated rule, measured by
the backtest at long horizons). Quantiles never decrease with the horizon (running maximum).

Outcomes of the lockdown year (2020) are scored but never calibrate: a known one-off break (as the
``shared_trend`` prior treats it) would otherwise widen every later interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oasis_training.intervals import LEVELS_ALPHA, conformal_quantile

SHRINK_N = 40.0
LOCKDOWN_YEAR = 2020


def calibrates(records: pd.DataFrame) -> np.ndarray:
    """Rows whose residual may set interval widths: started series, target year not 2020."""
    year = (records["cutoff"] + records["horizon"]).to_numpy()
    return records["calib"].to_numpy(bool) & (year != LOCKDOWN_YEAR)


VOLATILITY_WEIGHT = 0.5  # of the mean absolute year-on-year change
RELATIVE_WEIGHT = 0.05  # of the last value (shocks shared by large series)


def volatility_scale(history: np.ndarray) -> np.ndarray:
    """max(0.5 * mean |y[t] - y[t-1]| + 0.05 * y[T], sqrt(y[T] + 1)) per row of a (n, T) history:
    the series' own volatility plus a relative part, floored by Poisson-like noise.

    With T < 2 the volatility part is 0. (Chosen on the backtest among: the volatility alone,
    the volatility around the mean change, 0.1 y + sqrt(y + 1), and this mix, which had the
    lowest MSIS and pooled coverage closest to nominal.)"""
    y = np.clip(np.asarray(history, float), 0, None)
    floor = np.sqrt(y[:, -1] + 1.0)
    vol = np.mean(np.abs(np.diff(y, axis=1)), axis=1) if y.shape[1] >= 2 else np.zeros(len(y))
    return np.maximum(VOLATILITY_WEIGHT * vol + RELATIVE_WEIGHT * y[:, -1], floor)


def _shrunk(own: float, n_own: int, pool: float) -> float:
    if not np.isfinite(own) or n_own == 0:
        return pool
    if not np.isfinite(pool):
        return own
    w = n_own / (n_own + SHRINK_N)
    return w * own + (1 - w) * pool


def group_quantiles(
    level: np.ndarray, indicator: np.ndarray, horizon: np.ndarray, score: np.ndarray,
    horizons: list[int], alpha: float,
) -> dict[tuple[str, str, int], float]:
    """Shrunk quantile of ``score`` per (level, indicator, horizon) for every pair present and
    every horizon of ``horizons`` (extrapolated where no residual exists)."""
    frame = pd.DataFrame({"level": level, "indicator": indicator, "h": horizon, "s": score})
    frame = frame[np.isfinite(frame["s"])]
    pairs = sorted({(str(a), str(b)) for a, b in zip(level, indicator, strict=True)})
    seen = sorted(int(h) for h in frame["h"].unique())
    by_h = {h: g["s"].to_numpy() for h, g in frame.groupby("h")}
    by_ih = {(str(i), int(h)): g["s"].to_numpy() for (i, h), g in frame.groupby(["indicator", "h"])}
    by_lih = {(str(lv), str(i), int(h)): g["s"].to_numpy()
              for (lv, i, h), g in frame.groupby(["level", "indicator", "h"])}
    out: dict[tuple[str, str, int], float] = {}
    for lv, ind in pairs:
        running = 0.0
        for h in horizons:
            if h in seen:
                q_h = conformal_quantile(by_h[h], alpha)
                s_ih = by_ih.get((ind, h), np.empty(0))
                q_ih = _shrunk(conformal_quantile(s_ih, alpha), len(s_ih), q_h)
                s_lih = by_lih.get((lv, ind, h), np.empty(0))
                q = _shrunk(conformal_quantile(s_lih, alpha), len(s_lih), q_ih)
            elif seen:
                k = max(x for x in seen if x < h) if any(x < h for x in seen) else seen[0]
                q = out[(lv, ind, k)] * np.sqrt(h / k) if k in horizons else float("inf")
            else:
                q = float("inf")
            running = max(running, q)
            out[(lv, ind, h)] = running
    return out


def sequential_group_intervals(records: pd.DataFrame) -> dict[str, np.ndarray]:
    """lo/hi at 80 % and 95 % for every record (columns level, indicator, cutoff, horizon,
    y_true, y_pred, vscale, calib), each from residuals observed by its cutoff. Rows with
    ``calib`` False (series not started at the cutoff) get intervals but never calibrate."""
    cutoff = records["cutoff"].to_numpy()
    horizon = records["horizon"].to_numpy()
    yt = records["y_true"].to_numpy(float)
    yp = records["y_pred"].to_numpy(float)
    s = records["vscale"].to_numpy(float)
    score = np.abs(yt - yp) / s
    usable = calibrates(records)
    level = records["level"].to_numpy().astype(str)
    ind = records["indicator"].to_numpy().astype(str)
    horizons = sorted(int(h) for h in np.unique(horizon))
    out = {f"{side}_{lvl}": np.full(len(yp), np.nan) for lvl in LEVELS_ALPHA
           for side in ("lo", "hi")}
    levels, lcode = np.unique(level, return_inverse=True)
    inds, icode = np.unique(ind, return_inverse=True)
    hcode = np.searchsorted(horizons, horizon)
    for c in np.unique(cutoff):
        rows = cutoff == c
        cal = usable & (cutoff + horizon <= c)
        for lvl, alpha in LEVELS_ALPHA.items():
            q = group_quantiles(level[cal], ind[cal], horizon[cal], score[cal], horizons, alpha)
            table = quantile_table(q, levels, inds, horizons)
            width = table[lcode[rows], icode[rows], hcode[rows]] * s[rows]
            out[f"lo_{lvl}"][rows] = np.clip(yp[rows] - width, 0, None)
            out[f"hi_{lvl}"][rows] = yp[rows] + width
    return out


def quantile_table(q: dict[tuple[str, str, int], float], levels: np.ndarray, inds: np.ndarray,
                   horizons: list[int]) -> np.ndarray:
    """(levels, indicators, horizons) array of ``q``, with :func:`_fallback` for absent pairs."""
    table = np.empty((len(levels), len(inds), len(horizons)))
    for a, lv in enumerate(levels):
        for b, i in enumerate(inds):
            for k, h in enumerate(horizons):
                key = (str(lv), str(i), int(h))
                table[a, b, k] = q[key] if key in q else _fallback(q, str(i), int(h))
    return table


def _fallback(q: dict[tuple[str, str, int], float], indicator: str, h: int) -> float:
    """A pair absent from the calibration set: the widest quantile of that indicator and horizon
    at any level, else of the horizon, else infinite."""
    same = [v for (_, i, hh), v in q.items() if i == indicator and hh == h]
    if same:
        return max(same)
    anyh = [v for (_, _, hh), v in q.items() if hh == h]
    return max(anyh) if anyh else float("inf")


def final_group_quantiles(records: pd.DataFrame, horizons: list[int]
                          ) -> dict[str, dict[tuple[str, str, int], float]]:
    """Quantiles per level ("80", "95") from every usable residual, for the published forecasts."""
    cal = records[calibrates(records)]
    score = np.abs(cal["y_true"].to_numpy(float) - cal["y_pred"].to_numpy(float)) / cal[
        "vscale"].to_numpy(float)
    return {lvl: group_quantiles(cal["level"].to_numpy().astype(str),
                                 cal["indicator"].to_numpy().astype(str),
                                 cal["horizon"].to_numpy(), score, horizons, alpha)
            for lvl, alpha in LEVELS_ALPHA.items()}


def widths(quantiles: dict[tuple[str, str, int], float], level: str, indicators: np.ndarray,
           horizons: list[int], scale: np.ndarray) -> np.ndarray:
    """(n, len(horizons)) half-widths q[level, indicator, h] * scale."""
    inds, code = np.unique(np.asarray(indicators).astype(str), return_inverse=True)
    table = quantile_table(quantiles, np.array([level]), inds, horizons)[0]
    return table[code] * np.asarray(scale, float)[:, None]
