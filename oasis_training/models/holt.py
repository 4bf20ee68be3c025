"""Damped Holt (ETS(A,Ad,N)) fitted per series by grid search, vectorised over all series.

Same model as statsmodels' ``ExponentialSmoothing(trend="add", damped_trend=True)``, but the
smoothing parameters are chosen on a fixed grid by in-sample one-step squared error for every series
at once: thousands of short series fit in milliseconds, where statsmodels' optimiser needs
0.02–0.2 s per series. Series with fewer than 3 points fall back to naive.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from oasis_training.data import Panel
from oasis_training.models.base import Forecast, clip_nonnegative, naive_values

ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
BETAS = (0.05, 0.2, 0.5)
PHIS = (0.8, 0.9, 0.98)


def _run(y: np.ndarray, alpha: float, beta: float, phi: float) -> tuple[np.ndarray, ...]:
    level = y[:, 0].copy()
    trend = y[:, 1] - y[:, 0]
    sse = np.zeros(y.shape[0])
    for t in range(1, y.shape[1]):
        pred = level + phi * trend
        sse += (y[:, t] - pred) ** 2
        new_level = alpha * y[:, t] + (1 - alpha) * pred
        trend = beta * (new_level - level) + (1 - beta) * phi * trend
        level = new_level
    return sse, level, trend


@dataclass
class HoltDampedGrid:
    name: str = "holt_damped"
    family: str = "statistical"
    complexity: int = 3
    params: dict[str, object] = field(
        default_factory=lambda: {"alphas": list(ALPHAS), "betas": list(BETAS),
                                 "phis": list(PHIS), "selection": "in-sample one-step SSE",
                                 "min_points": 3})

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        y = panel.y
        if y.shape[1] < 3:
            return Forecast(naive_values(panel, horizons), n_fallback=y.shape[0])
        best_sse = np.full(y.shape[0], np.inf)
        out = np.zeros((y.shape[0], len(horizons)))
        for alpha, beta, phi in itertools.product(ALPHAS, BETAS, PHIS):
            sse, level, trend = _run(y, alpha, beta, phi)
            better = sse < best_sse - 1e-9
            best_sse = np.where(better, sse, best_sse)
            for j, h in enumerate(horizons):
                damp = sum(phi**k for k in range(1, h + 1))
                out[better, j] = (level + damp * trend)[better]
        return Forecast(clip_nonnegative(out))
