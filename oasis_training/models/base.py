"""The interface every candidate implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from oasis_training.data import Panel


@dataclass
class Forecast:
    """Point forecasts in counts, shape (n_series, len(horizons)); rows that fell back to naive."""

    values: np.ndarray
    n_fallback: int = 0
    notes: list[str] = field(default_factory=list)


class Forecaster(Protocol):
    name: str
    family: str
    complexity: int  # lower is simpler; breaks MASE ties
    params: dict[str, object]

    def forecast(self, panel: Panel, horizons: tuple[int, ...]) -> Forecast:
        """Forecast every series of ``panel`` (already cut at the origin) ``h`` years ahead."""
        ...


def naive_values(panel: Panel, horizons: tuple[int, ...]) -> np.ndarray:
    return np.repeat(panel.y[:, -1:], len(horizons), axis=1)


def clip_nonnegative(values: np.ndarray) -> np.ndarray:
    out = np.where(np.isfinite(values), values, np.nan)
    return np.clip(out, 0.0, None)
