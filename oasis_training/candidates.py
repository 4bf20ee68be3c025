"""The list of candidates, by name."""

from __future__ import annotations

from oasis_training.models.base import Forecaster
from oasis_training.models.global_ml import global_candidates
from oasis_training.models.holt import HoltDampedGrid
from oasis_training.models.simple import Drift, Naive, SharedTrend
from oasis_training.models.statistical import PerSeries

COMBINATIONS: dict[str, list[str]] = {
    "combo_trend_boosting": ["shared_trend", "xgboost", "lightgbm"],
    "combo_trends": ["shared_trend", "shared_trend_phi08", "shared_trend_phi1"],
    "combo_trends_boosting": ["shared_trend_phi08", "xgboost", "lightgbm"],
}


# Per-series optimisers, measured on the region panel (2 shared cores, load 2–3): statsmodels ETS
# ~22 s for 324 series × 8 cutoffs, Prophet (Newton, 50 iterations) ~60 s. At department level
# (1,818 series, 5.6× more) ETS costs ~2 min and runs; Prophet would cost ~5.5 min on top of the
# rest of the run, over the 10-minute budget for the whole run, so it alone does not run there.
# Every other candidate runs at every level (the per-series ETS and the two scikit-learn
# ensembles add about 3-4 minutes at department level with horizons 1-5: measured in run.json).
PER_SERIES_LEVELS: dict[str, tuple[str, ...]] = {
    "ets_damped": ("country", "region", "department"),
    "prophet": ("country", "region"),
}
GLOBAL_LEVELS: dict[str, tuple[str, ...]] = {
    "random_forest": ("country", "region", "department"),
    "gradient_boosting": ("country", "region", "department"),
}
NOT_RUN_REASONS: dict[str, str] = {
    "prophet": "Prophet per series at department level: 1,818 series × 7 fitted cutoffs "
               "(~12,700 fits, ~5.5 min on 2 cores) would take the whole run over the 10-minute "
               "budget",
}


def per_series_names(level: str, quick: bool = False) -> tuple[str, ...]:
    """The per-series candidates (statsmodels ETS, Prophet) that run at ``level``."""
    if quick:
        return ()
    return tuple(n for n, levels in PER_SERIES_LEVELS.items() if level in levels)


def global_names(level: str) -> tuple[str, ...]:
    """The slow global candidates that run at ``level`` (the others run everywhere)."""
    return tuple(n for n, levels in GLOBAL_LEVELS.items() if level in levels)


def candidates_not_run(level: str, quick: bool = False) -> dict[str, str]:
    """The candidates left out at ``level``, with the reason (recorded in metrics.json)."""
    run = per_series_names(level, quick)
    out = {n: ("quick configuration" if quick else NOT_RUN_REASONS[n])
           for n in PER_SERIES_LEVELS if n not in run}
    out.update({n: NOT_RUN_REASONS[n] for n in GLOBAL_LEVELS if level not in GLOBAL_LEVELS[n]})
    return out


#: Damping of the shared national trend, compared by horizon (phi 0: no trend; 1: undamped).
TREND_DAMPING = {"shared_trend_flat": 0.0, "shared_trend": 0.5, "shared_trend_phi08": 0.8,
                 "shared_trend_phi1": 1.0}


def all_candidates(
    quick: bool = False, n_jobs: int = 2, per_series: tuple[str, ...] = ("ets_damped", "prophet"),
    slow_global: tuple[str, ...] = ("random_forest", "gradient_boosting"),
) -> list[Forecaster]:
    models: list[Forecaster] = [Naive(), Drift()]
    models += [SharedTrend(name=n, phi=phi) for n, phi in TREND_DAMPING.items()]
    models.append(HoltDampedGrid())
    for kind, name in (("ets", "ets_damped"), ("prophet", "prophet")):
        if name in per_series:
            models.append(PerSeries(kind, n_jobs=n_jobs))
    models.extend(m for m in global_candidates(quick=quick)
                  if m.name not in GLOBAL_LEVELS or m.name in slow_global)
    return models


def candidate_by_name(name: str, quick: bool = False, n_jobs: int = 2) -> Forecaster:
    for model in all_candidates(quick=quick, n_jobs=n_jobs):
        if model.name == name:
            return model
    raise KeyError(name)
