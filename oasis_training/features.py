"""Features for the models trained across series.

Everything for an origin ``t`` is computed from the panel cut at ``t`` (``panel.upto(t)``), so a
training row or a forecast never sees a value after its origin.
"""

from __future__ import annotations

import numpy as np

from oasis_training.data import Panel
from oasis_training.models.simple import LOCKDOWN_YEAR, SharedTrend

NUMERIC_FEATURES = (
    "log_level", "log_rate", "d1", "d2", "d3", "dev3", "nat_d1", "nat_d2", "reg_d1", "reg_d2",
    "share_dev", "reg_share_dev", "vol", "prior", "origin_lockdown", "lag1_lockdown",
    "lag2_lockdown", "n_years",
)


def _diff(log_values: np.ndarray, lag: int) -> np.ndarray:
    t = log_values.shape[1]
    if t < lag + 2:
        return np.full(log_values.shape[0], np.nan)
    return log_values[:, -1 - lag] - log_values[:, -2 - lag]


def _dev3(log_values: np.ndarray) -> np.ndarray:
    k = min(3, log_values.shape[1])
    return log_values[:, -1] - log_values[:, -k:].mean(axis=1)


def origin_features(panel: Panel, horizon: int, prior: SharedTrend) -> np.ndarray:
    """(n, len(NUMERIC_FEATURES)) features at the panel's last year for one horizon."""
    y = panel.y
    ly = np.log1p(y)
    ln = np.log1p(panel.national)
    lr = np.log1p(panel.regional)
    share = np.log((y + 0.5) / (panel.national + 1.0))
    reg_share = np.log((y + 0.5) / (panel.regional + 1.0))
    rate = y[:, -1] / np.maximum(panel.den[:, -1], 1.0) * 1e5
    diffs = np.diff(ly, axis=1)
    vol = diffs.std(axis=1) if diffs.shape[1] >= 2 else np.full(y.shape[0], np.nan)
    prior_pred = prior.predict_matrix(panel, (horizon,))[:, 0]
    origin = int(panel.years[-1])
    n = y.shape[0]
    cols = [
        ly[:, -1],
        np.log1p(rate),
        _diff(ly, 0), _diff(ly, 1), _diff(ly, 2),
        _dev3(ly),
        _diff(ln, 0), _diff(ln, 1),
        _diff(lr, 0), _diff(lr, 1),
        _dev3(share),
        _dev3(reg_share),
        vol,
        np.log1p(np.clip(prior_pred, 0, None)) - ly[:, -1],
        np.full(n, float(origin == LOCKDOWN_YEAR)),
        np.full(n, float(origin - 1 == LOCKDOWN_YEAR)),
        np.full(n, float(origin - 2 == LOCKDOWN_YEAR)),
        np.full(n, float(len(panel.years))),
    ]
    return np.column_stack(cols)


def log_share(y: np.ndarray, national: np.ndarray) -> np.ndarray:
    return np.log((y + 0.5) / (national + 1.0))


def rolling_scale(panel: Panel) -> np.ndarray:
    """In-sample naive MAE at the panel's last year (floored at 1), used to weight rows."""
    y = panel.y
    if y.shape[1] < 2:
        return np.ones(y.shape[0])
    return np.maximum(np.mean(np.abs(np.diff(y, axis=1)), axis=1), 1.0)


def training_rows(
    panel: Panel, horizon: int, prior: SharedTrend
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows (X, indicator index, target, weight) for every origin whose target is inside ``panel``.

    Target: the change of the series' log share of the national total, log((y[t+h] + 0.5) /
    (N[t+h] + 1)) - log((y[t] + 0.5) / (N[t] + 1)): the common national change, which a handful of
    origins cannot teach, is left to the shared trend.
    Weight: (y[t] + 1) / scale, so that a weighted absolute error on the log scale
    approximates the scaled absolute error MASE measures.
    """
    years = panel.years
    xs, codes, targets, weights = [], [], [], []
    for t in years[1:]:
        if t + horizon > years[-1]:
            break
        cut = panel.upto(int(t))
        target_idx = int(np.flatnonzero(years == t + horizon)[0])
        xs.append(origin_features(cut, horizon, prior))
        codes.append(np.arange(panel.n_series))
        targets.append(
            log_share(panel.y[:, target_idx], panel.national[:, target_idx])
            - log_share(cut.y[:, -1], cut.national[:, -1])
        )
        weights.append((cut.y[:, -1] + 1.0) / rolling_scale(cut))
    if not xs:
        empty = np.empty((0, len(NUMERIC_FEATURES)))
        return empty, np.empty(0, int), np.empty(0), np.empty(0)
    w = np.concatenate(weights)
    w = np.minimum(w, np.quantile(w, 0.99))
    return np.vstack(xs), np.concatenate(codes), np.concatenate(targets), w / w.mean()
