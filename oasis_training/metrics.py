"""Forecast accuracy and interval metrics.

All functions take flat arrays (one entry per forecast). MASE is computed per series: each error is
divided by that series' scale (the in-sample MAE of the one-step naive forecast up to the forecast's
cutoff), the scaled errors are averaged within each series, then across series. Forecasts whose
scale is 0 are left out of MASE (and counted by the caller).
"""

from __future__ import annotations

import numpy as np


def naive_scale(history: np.ndarray) -> np.ndarray:
    """In-sample MAE of the one-step naive forecast, per row of a (n, T) history (T >= 2)."""
    if history.shape[1] < 2:
        return np.full(history.shape[0], np.nan)
    return np.mean(np.abs(np.diff(history, axis=1)), axis=1)


def mase(
    y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray, series: np.ndarray
) -> tuple[float, int]:
    """Mean over series of the mean scaled absolute error. Returns (mase, n_series_used).

    Entries whose scale is 0 or not finite are excluded.
    """
    ok = np.isfinite(scale) & (scale > 0)
    if not ok.any():
        return float("nan"), 0
    scaled = np.abs(np.asarray(y_true, float)[ok] - np.asarray(y_pred, float)[ok]) / scale[ok]
    codes, inverse = np.unique(np.asarray(series)[ok], return_inverse=True)
    sums = np.bincount(inverse, weights=scaled)
    counts = np.bincount(inverse)
    return float(np.mean(sums / counts)), len(codes)


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); a pair where both are 0 counts as a perfect forecast."""
    y_true = np.asarray(y_true, float)
    y_pred = np.asarray(y_pred, float)
    denom = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(2 * np.abs(y_pred - y_true), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * np.mean(ratio))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def pooled_r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """1 - SSE/SST over all forecasts pooled (what the seed project reported)."""
    y_true = np.asarray(y_true, float)
    sst = float(np.sum((y_true - y_true.mean()) ** 2))
    sse = float(np.sum((y_true - np.asarray(y_pred, float)) ** 2))
    return 1.0 - sse / sst if sst > 0 else float("nan")


def coverage(y_true: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of outcomes inside [lo, hi] (bounds included)."""
    y_true = np.asarray(y_true, float)
    return float(np.mean((y_true >= lo) & (y_true <= hi)))


def msis(
    y_true: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    scale: np.ndarray,
    series: np.ndarray,
    alpha: float = 0.05,
) -> float:
    """Mean scaled interval score (Gneiting & Raftery; M4), per series then averaged.

    Interval score = (hi - lo) + 2/alpha * (lo - y)+ + 2/alpha * (y - hi)+, divided by the same
    scale as MASE; zero-scale entries are excluded.
    """
    y_true = np.asarray(y_true, float)
    score = (
        (hi - lo)
        + (2 / alpha) * np.clip(lo - y_true, 0, None)
        + (2 / alpha) * np.clip(y_true - hi, 0, None)
    )
    ok = np.isfinite(scale) & (scale > 0)
    if not ok.any():
        return float("nan")
    _, inverse = np.unique(np.asarray(series)[ok], return_inverse=True)
    sums = np.bincount(inverse, weights=score[ok] / scale[ok])
    return float(np.mean(sums / np.bincount(inverse)))
