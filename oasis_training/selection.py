"""Nested model selection: the forecasts of cutoff c come from the candidate with the lowest MASE
on the backtest outcomes known at c (target year <= c), so a selected model is never chosen on the
years it is scored on. Before any outcome is known the default candidate is used."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from oasis_training.metrics import mase

DEFAULT = "shared_trend"


def known_mase(records: pd.DataFrame, cutoff: int) -> float:
    """MASE over the records whose outcome is known at ``cutoff`` (nan if none)."""
    known = records[records["cutoff"] + records["horizon"] <= cutoff]
    if known.empty:
        return float("nan")
    value, _ = mase(known["y_true"].to_numpy(float), known["y_pred"].to_numpy(float),
                    known["scale"].to_numpy(float), known["series"].to_numpy())
    return value


def choose(scores: dict[str, float], complexity: dict[str, int], default: str) -> str:
    finite = {n: v for n, v in scores.items() if np.isfinite(v)}
    if not finite:
        return default
    return min(finite, key=lambda n: (round(finite[n], 9), complexity.get(n, 0), n))


def nested_choices(
    records: dict[str, pd.DataFrame], cutoffs: list[int], complexity: dict[str, int],
    default: str = DEFAULT, score: Callable[[pd.DataFrame, int], float] = known_mase,
) -> dict[int, str]:
    """{cutoff: candidate chosen with the outcomes known at that cutoff}."""
    return {c: choose({n: score(r, c) for n, r in records.items()}, complexity, default)
            for c in cutoffs}


def assemble(records: dict[str, pd.DataFrame], choices: dict[int, str]) -> pd.DataFrame:
    """The records of each cutoff taken from the candidate chosen for it."""
    parts = [records[name][records[name]["cutoff"] == c] for c, name in sorted(choices.items())]
    return pd.concat(parts, ignore_index=True)
