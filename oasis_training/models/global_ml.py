"""Models trained across all series of a level on engineered features (see oasis_training.features).

One model per horizon predicts the change of the series' log share of the national total of its
indicator; the forecast applies it to the shared trend's national forecast:
(y[t] + 0.5) / (N[t] + 1) * exp(prediction) * (N_hat[t+h] + 1) - 0.5.
Horizons with too few training origins fall back to the shared-trend forecast (counted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oasis_training import SEED
from oasis_training.data import Panel
from oasis_training.features import log_share, origin_features, training_rows
from oasis_training.models.base import Forecast, clip_nonnegative
from oasis_training.models.simple import SharedTrend

MIN_TRAIN_ORIGINS = 2


def _one_hot(codes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(codes), n))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def make_estimator(kind: str, seed: int = SEED, quick: bool = False) -> Any:
    """A fresh, deterministic, single-threaded regressor."""
    n_trees = 80 if quick else 300
    if kind == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=3.0)
    if kind == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=60 if quick else 200, max_depth=8, min_samples_leaf=20,
            max_features=0.5, random_state=seed, n_jobs=1,
        )
    if kind == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            loss="absolute_error", n_estimators=n_trees // 2, max_depth=3, learning_rate=0.05,
            subsample=0.8, random_state=seed,
        )
    if kind == "xgboost":
        from xgboost import XGBRegressor

        return XGBRegressor(
            objective="reg:absoluteerror", n_estimators=n_trees, max_depth=4,
            learning_rate=0.03, subsample=0.8, colsample_bytree=0.8, min_child_weight=5,
            random_state=seed, n_jobs=1, tree_method="hist",
        )
    if kind == "lightgbm":
        from lightgbm import LGBMRegressor

        return LGBMRegressor(
            objective="l1", n_estimators=n_trees, learning_rate=0.03, num_leaves=15,
            min_child_samples=40, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
            random_state=seed, n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1,
        )
    raise ValueError(f"unknown model kind {kind!r}")


@dataclass
class GlobalModel:
    kind: str
    name: str = ""
    family: str = "global"
    complexity: int = 5
    quick: bool = False
    params: dict[str, object] = field(default_factory=dict)
    prior: SharedTrend = field(default_factory=SharedTrend)
    fitted: dict[int, Any] = field(default_factory=dict, repr=False)
    labels: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.kind
        est = make_estimator(self.kind, quick=self.quick)
        self.params = {k: v for k, v in est.get_params().items()
                       if isinstance(v, int | float | str | bool) or v is None}
        self.params["target"] = "change of log share of the national total"

    def _design(self, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
        if self.kind in ("lightgbm", "xgboost"):
            return np.column_stack([x, codes.astype(float)])
        filled = np.nan_to_num(x, nan=0.0)
        return np.column_stack([filled, _one_hot(codes, len(self.labels))])

    def _fit(self, x: np.ndarray, codes: np.ndarray, target: np.ndarray, w: np.ndarray) -> Any:
        est = make_estimator(self.kind, quick=self.quick)
        design = self._design(x, codes)
        if self.kind == "ridge":
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            est = make_pipeline(StandardScaler(), est)
            est.fit(design, target, ridge__sample_weight=w)
        elif self.kind == "lightgbm":
            est.fit(design, target, sample_weight=w, categorical_feature=[design.shape[1] - 1])
        else:
            est.fit(design, target, sample_weight=w)
        return est

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        self.labels = sorted(set(panel.indicators.tolist()))
        ind_codes = panel.indicator_codes(self.labels)
        out = np.empty((panel.n_series, len(horizons)))
        fallback = 0
        self.fitted = {}
        for j, h in enumerate(horizons):
            x, rows, target, w = training_rows(panel, h, self.prior)
            n_origins = len(target) // max(panel.n_series, 1)
            if n_origins < MIN_TRAIN_ORIGINS:
                out[:, j] = self.prior.predict_matrix(panel, (h,))[:, 0]
                fallback += panel.n_series
                continue
            est = self._fit(x, ind_codes[rows], target, w)
            self.fitted[h] = est
            x_now = origin_features(panel, h, self.prior)
            change = np.clip(est.predict(self._design(x_now, ind_codes)), -3, 3)
            national = self.prior.national_forecast(panel, (h,))[:, 0]
            share = log_share(panel.y[:, -1], panel.national[:, -1]) + change
            out[:, j] = np.exp(share) * (national + 1.0) - 0.5
        return Forecast(clip_nonnegative(out), n_fallback=fallback)


def global_candidates(quick: bool = False) -> list[GlobalModel]:
    kinds: list[tuple[str, int]] = [
        ("ridge", 4), ("random_forest", 6), ("gradient_boosting", 6), ("xgboost", 7),
        ("lightgbm", 7),
    ]
    return [GlobalModel(kind=k, complexity=c, quick=quick) for k, c in kinds]


ModelFactory = Callable[[], GlobalModel]
