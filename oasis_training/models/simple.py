"""Simple reference forecasts: naive, drift and the shared (national) damped trend."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from oasis_training.data import Panel
from oasis_training.models.base import Forecast, clip_nonnegative, naive_values

LOCKDOWN_YEAR = 2020  # COVID-19 lockdowns (March-May and Oct-Dec 2020), known at the time


@dataclass
class Naive:
    name: str = "naive"
    family: str = "baseline"
    complexity: int = 0
    params: dict[str, object] = field(default_factory=dict)

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        return Forecast(naive_values(panel, horizons))


@dataclass
class Drift:
    name: str = "drift"
    family: str = "baseline"
    complexity: int = 1
    params: dict[str, object] = field(default_factory=dict)

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        y = panel.y
        if y.shape[1] < 2:
            return Forecast(naive_values(panel, horizons), n_fallback=y.shape[0])
        slope = (y[:, -1] - y[:, 0]) / (y.shape[1] - 1)
        values = np.column_stack([y[:, -1] + h * slope for h in horizons])
        return Forecast(clip_nonnegative(values))


def trend_growth(
    total: np.ndarray, years: np.ndarray, span: int = 2, clip: float = 0.2, lockdown: bool = True
) -> np.ndarray:
    """Average annual log growth of ``total`` (n, T) over the last ``span`` steps.

    With ``lockdown``, the lockdown year is skipped (growth is measured around it, and from a 2020
    origin the pre-lockdown growth is used). Growth is 0 where the window holds a zero total
    (e.g. a series that did not exist yet), and is clipped to ±``clip``.
    """
    keep = np.ones(len(years), dtype=bool)
    if lockdown:
        keep &= years != LOCKDOWN_YEAR
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return np.zeros(total.shape[0])
    last, first = idx[-1], idx[max(0, len(idx) - 1 - span)]
    log_total = np.log(total + 1.0)
    growth = (log_total[:, last] - log_total[:, first]) / (years[last] - years[first])
    window_zero = (total[:, idx[idx >= first]] <= 0).any(axis=1)
    growth[window_zero] = 0.0
    return np.clip(growth, -clip, clip)


@dataclass
class SharedTrend:
    """Each series keeps its smoothed share of the national total; the national total follows the
    indicator's damped recent growth. 2020 (lockdowns) is handled as a known intervention: it is
    skipped when measuring growth, and from a 2020 origin the national level is taken half-way
    between the 2020 figure and the pre-lockdown trend."""

    name: str = "shared_trend"
    family: str = "pooled"
    complexity: int = 2
    phi: float = 0.5
    span: int = 2
    weights: tuple[float, ...] = (0.6, 0.25, 0.15)
    lockdown: bool = True
    params: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.params = {"phi": self.phi, "span": self.span, "share_weights": list(self.weights),
                       "lockdown_2020": self.lockdown}

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        return Forecast(clip_nonnegative(self.predict_matrix(panel, horizons)))

    def national_forecast(self, panel: Panel, horizons: tuple[int, ...]) -> np.ndarray:
        """(n, len(horizons)) forecast of the national total of each row's indicator."""
        total, years = panel.national, panel.years
        growth = trend_growth(total, years, self.span, lockdown=self.lockdown)
        base_total = total[:, -1].copy()
        if self.lockdown and years[-1] == LOCKDOWN_YEAR and len(years) >= 2:
            before = total[:, -2]
            trend_level = before * np.exp(growth)
            blended = np.exp(0.5 * np.log(total[:, -1] + 1) + 0.5 * np.log(trend_level + 1)) - 1
            base_total = np.where(before > 0, blended, total[:, -1])
        out = []
        for h in horizons:
            damp = sum(self.phi**j for j in range(1, h + 1))
            out.append(base_total * np.exp(damp * growth))
        return np.column_stack(out)

    def predict_matrix(self, panel: Panel, horizons: tuple[int, ...]) -> np.ndarray:
        y, total = panel.y, panel.national
        share = y / np.maximum(total, 1.0)
        k = min(len(self.weights), y.shape[1])
        w = np.column_stack([self.weights[j] * (total[:, -1 - j] > 0) for j in range(k)])
        w_sum = w.sum(axis=1)
        smoothed = sum(w[:, j] * share[:, -1 - j] for j in range(k)) / np.maximum(w_sum, 1e-12)
        national = self.national_forecast(panel, horizons)
        last_total = np.maximum(total[:, -1:], 1.0)
        fallback = y[:, -1:] * national / last_total  # no usable share history: scale the level
        return np.where((w_sum > 0)[:, None], smoothed[:, None] * national, fallback)
