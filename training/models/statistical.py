"""Per-series statistical models: damped Holt (statsmodels) and Prophet, fitted in parallel.

Series too short to fit, or whose fit fails, fall back to the naive forecast (counted).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed

from training.data import Panel
from training.models.base import Forecast, clip_nonnegative


def _ets_one(y: np.ndarray, horizons: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    last = np.array([y[-1]] * len(horizons), dtype=float)
    if len(y) < 4 or np.ptp(y) == 0:
        return last, len(y) < 4
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(
                y.astype(float), trend="add", damped_trend=True,
                initialization_method="estimated",
            ).fit()
            path = fit.forecast(max(horizons))
        values = np.array([path[h - 1] for h in horizons], dtype=float)
        if not np.all(np.isfinite(values)):
            return last, True
        return values, False
    except Exception:  # statsmodels raises many kinds on degenerate inputs
        return last, True


def _prophet_one(
    y: np.ndarray, years: np.ndarray, horizons: tuple[int, ...]
) -> tuple[np.ndarray, bool]:
    import pandas as pd
    from prophet import Prophet

    last = np.array([y[-1]] * len(horizons), dtype=float)
    if len(y) < 3 or np.ptp(y) == 0:
        return last, len(y) < 3
    try:
        frame = pd.DataFrame({"ds": pd.to_datetime([f"{int(t)}-01-01" for t in years]), "y": y})
        model = Prophet(
            yearly_seasonality=False, weekly_seasonality=False, daily_seasonality=False,
            n_changepoints=min(3, len(y) - 2), uncertainty_samples=0,
        )
        model.fit(frame, algorithm="Newton")
        future = model.make_future_dataframe(
            periods=max(horizons), freq="YS", include_history=False
        )
        path = model.predict(future)["yhat"].to_numpy()
        return np.array([path[h - 1] for h in horizons], dtype=float), False
    except Exception:
        return last, True


def _quiet() -> None:
    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
        logging.getLogger(name).propagate = False
        logging.getLogger(name).disabled = True


def _chunk(kind: str, ys: np.ndarray, years: np.ndarray, horizons: tuple[int, ...]) -> list:
    if kind == "prophet":
        import prophet  # noqa: F401  (configures cmdstanpy's logger, which _quiet then silences)
    _quiet()
    if kind == "ets":
        return [_ets_one(y, horizons) for y in ys]
    return [_prophet_one(y, years, horizons) for y in ys]


@dataclass
class PerSeries:
    kind: str  # "ets" or "prophet"
    name: str = ""
    family: str = "statistical"
    complexity: int = 3
    n_jobs: int = 2
    params: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = self.name or ("ets_damped" if self.kind == "ets" else "prophet")
        if self.kind == "ets":
            self.params = {"model": "ExponentialSmoothing", "trend": "add", "damped_trend": True,
                           "min_points": 4}
        else:
            self.params = {"yearly_seasonality": False, "weekly_seasonality": False,
                           "daily_seasonality": False, "freq": "YS",
                           "n_changepoints": "min(3, n-2)",
                           "algorithm": "Newton", "min_points": 3}

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        n = panel.n_series
        chunks = np.array_split(np.arange(n), max(1, min(n, self.n_jobs * 4)))
        jobs = Parallel(n_jobs=self.n_jobs, backend="loky")(
            delayed(_chunk)(self.kind, panel.y[idx], panel.years, horizons) for idx in chunks
        )
        results = [r for chunk in jobs for r in chunk]
        values = np.vstack([r[0] for r in results])
        fallback = int(sum(r[1] for r in results))
        return Forecast(clip_nonnegative(values), n_fallback=fallback)
