"""Reconciliation of the backtest and of the final forecasts across levels (see reconcile.py),
and the cross-level grouped intervals of the published forecasts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oasis_training.backtest import add_group_intervals
from oasis_training.calibration import calibrates
from oasis_training.reconcile import LEVEL_ORDER, METHODS, Hierarchy, reconcile

INTERVAL_COLUMNS = ["lo_80", "hi_80", "lo_95", "hi_95"]


def stack(h: Hierarchy, records: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One frame of every level's records with ``node`` = row in the hierarchy's stack."""
    parts = []
    for lv in LEVEL_ORDER:
        rec = records[lv].drop(columns=INTERVAL_COLUMNS, errors="ignore")
        parts.append(rec.assign(node=rec["series"].to_numpy() + h.offsets[lv][0]))
    return pd.concat(parts, ignore_index=True).sort_values(
        ["cutoff", "horizon", "node"], kind="stable").reset_index(drop=True)


def residual_variance(frame: pd.DataFrame, known_by: int | None) -> dict[tuple[str, str, int],
                                                                         float]:
    """Mean squared scaled error per (level, indicator, horizon), from the residuals whose
    outcome is known by ``known_by`` (all residuals when None)."""
    rows = calibrates(frame).copy()
    if known_by is not None:
        rows &= (frame["cutoff"] + frame["horizon"]).to_numpy() <= known_by
    part = frame[rows]
    z2 = ((part["y_true"] - part["y_pred"]) / part["vscale"]) ** 2
    grouped = z2.groupby([part["level"], part["indicator"], part["horizon"]]).mean()
    out: dict[tuple[str, str, int], float] = {}
    for key, v in grouped.items():
        parts: tuple[Any, ...] = tuple(key)  # type: ignore[arg-type]  # (level, indicator, horizon)
        out[(str(parts[0]), str(parts[1]), int(parts[2]))] = float(v)
    return out


def _variance(h: Hierarchy, levels: np.ndarray, indicators: np.ndarray, vscale: np.ndarray,
              horizon: int, method: str, var: dict[tuple[str, str, int], float]) -> np.ndarray:
    base = np.asarray(vscale, float) ** 2
    if method != "wls_residuals":
        return base
    pooled: dict[tuple[str, int], list[float]] = {}
    for (lv, _, hh), v in var.items():
        pooled.setdefault((lv, hh), []).append(v)
    factor = np.array([var.get((str(lv), str(i), horizon),
                               float(np.mean(pooled.get((str(lv), horizon), [1.0]))))
                       for lv, i in zip(levels, indicators, strict=True)])
    return base * np.maximum(factor, 1e-6)


def reconcile_backtest(h: Hierarchy, base: pd.DataFrame, method: str) -> pd.DataFrame:
    """``base`` (stacked, every node for each cutoff and horizon) reconciled by ``method``; WLS
    weights use only residuals known at each cutoff."""
    out = base.copy()
    values = out["y_pred"].to_numpy(float).copy()
    groups: dict[tuple[int, int], Any] = out.groupby(["cutoff", "horizon"]).indices  # type: ignore[assignment]
    for (c, hz), idx in groups.items():
        part = out.iloc[idx]
        if len(part) != h.n:
            raise ValueError(f"cutoff {c} horizon {hz}: {len(part)} of {h.n} series")
        order = np.argsort(part["node"].to_numpy())
        rows = np.asarray(idx)[order]
        var = residual_variance(base, int(c)) if method == "wls_residuals" else {}
        w = _variance(h, out["level"].to_numpy()[rows], out["indicator"].to_numpy()[rows],
                      out["vscale"].to_numpy(float)[rows], int(hz), method, var)
        values[rows] = reconcile(h, values[rows], method, w)
    return out.assign(y_pred=values)


def same_series_pairs(h: Hierarchy, region_of: dict[str, str], keys: pd.DataFrame
                      ) -> list[tuple[int, int]]:
    """(region node, department node) pairs of regions made of a single department."""
    dep = keys[keys["level"] == "department"]
    count: dict[str, int] = {}
    for a in dep["area"].unique():
        count[region_of[a]] = count.get(region_of[a], 0) + 1
    single = {region_of[a]: a for a in dep["area"].unique() if count[region_of[a]] == 1}
    idx: dict[tuple[str, str, str], Any] = {
        (str(r.level), str(r.area), str(r.indicator)): r.node for r in keys.itertuples()}
    return [(int(idx[("region", reg, ind)]), int(idx[("department", d, ind)]))
            for reg, d in single.items()
            for ind in keys.loc[keys["level"] == "department", "indicator"].unique()
            if ("region", reg, ind) in idx]


def copy_intervals(frame: pd.DataFrame, pairs: list[tuple[int, int]]) -> pd.DataFrame:
    """Region rows of a single-department region take the department's prediction and
    intervals (the same series: one forecast)."""
    if not pairs:
        return frame
    src = dict((r, d) for r, d in pairs)
    key = ["cutoff", "horizon"] if "cutoff" in frame else []
    lookup = frame.set_index([*key, "node"])
    cols = ["y_pred", *[c for c in INTERVAL_COLUMNS if c in frame]]
    rows = frame["node"].isin(list(src))
    target = frame.loc[rows, [*key, "node"]].copy()
    target["node"] = target["node"].map(src)
    values = lookup.loc[pd.MultiIndex.from_frame(target) if key else target["node"], cols]
    out = frame.copy()
    out.loc[rows, cols] = values.to_numpy()
    return out


def reconciled_candidates(h: Hierarchy, base: pd.DataFrame, pairs: list[tuple[int, int]]
                          ) -> dict[str, pd.DataFrame]:
    """{"base" and every method: stacked records with cross-level grouped intervals}."""
    out: dict[str, pd.DataFrame] = {}
    for method in ("base", *METHODS):
        rec = base if method == "base" else reconcile_backtest(h, base, method)
        rec = copy_intervals(rec, pairs)
        out[method] = copy_intervals(add_group_intervals(rec), pairs)
    return out


def split_levels(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(lv): g.drop(columns=["node"]).sort_values(["cutoff", "horizon", "series"],
                                                          kind="stable").reset_index(drop=True)
            for lv, g in frame.groupby("level")}


def describe_methods() -> dict[str, Any]:
    from oasis_training import reconcile as r

    return {"methods": list(METHODS), "doc": (r.__doc__ or "").strip().split("\n\n")[1]}
