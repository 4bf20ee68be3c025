"""Coherent forecasts: the hierarchy department → region → France (and FM), and the indicator sum
``Usage de stupéfiants`` = ``(AFD)`` + ``(hors AFD)`` where the edition has both.

The bottom series are the departments' series (without the drug-use total where its two parts
exist). Every other series is a sum of bottom series (the summing matrix S, one block per
indicator group). Methods, benchmarked as candidates on the backtest:

- ``bottom_up``: S times the departments' base forecasts;
- ``top_down``: France's base forecast of each (bottom) indicator split in proportion to the
  departments' base forecasts (forecast proportions), then summed up again;
- ``wls_volatility``: WLS (MinT with a diagonal W) with W = each series' squared volatility scale;
- ``wls_residuals``: WLS with W = volatility² × the mean squared scaled backtest error of the
  series' (level, indicator, horizon) group, from residuals observed by the cutoff (MinT-diagonal
  estimated from the backtest residuals; the full MinT covariance is not estimable from 5-8
  cutoffs for 2,178 series).

A region made of one department (the overseas regions) is the same sum as that department, so
every method gives both the same reconciled point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oasis_training.data import Panel

DRUG_TOTAL = "Usage de stupéfiants"
DRUG_PARTS = ("Usage de stupéfiants (AFD)", "Usage de stupéfiants (hors AFD)")
METHODS = ("bottom_up", "top_down", "wls_volatility", "wls_residuals")
LEVEL_ORDER = ("country", "region", "department")


@dataclass(frozen=True)
class Hierarchy:
    """All series of the three levels stacked (country, region, department rows in panel order),
    and one summing block per indicator group."""

    level: np.ndarray  # (N,) level of each stacked series
    offsets: dict[str, tuple[int, int]]  # level -> (start, stop) in the stack
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (node rows, bottom rows, S block)
    top: dict[str, np.ndarray]  # bottom row -> FR row of its indicator (for top_down)

    @property
    def n(self) -> int:
        return len(self.level)


def build_hierarchy(panels: dict[str, Panel], region_of: dict[str, str]) -> Hierarchy | None:
    """The hierarchy of full panels; None when a level is missing or incomplete (slices)."""
    if any(lv not in panels for lv in LEVEL_ORDER):
        return None
    keys: list[tuple[str, str, str]] = []
    offsets: dict[str, tuple[int, int]] = {}
    for lv in LEVEL_ORDER:
        p = panels[lv]
        offsets[lv] = (len(keys), len(keys) + p.n_series)
        keys += [(lv, str(a), str(i)) for a, i in zip(p.areas, p.indicators, strict=True)]
    index = {k: j for j, k in enumerate(keys)}
    dep = panels["department"]
    deps = sorted(set(dep.areas.tolist()))
    indicators = sorted(set(dep.indicators.tolist()))
    split = DRUG_TOTAL in indicators and all(p in indicators for p in DRUG_PARTS)
    members = {("country", "FR"): deps, ("country", "FM"): [d for d in deps if len(d) == 2]}
    for d in deps:
        members.setdefault(("region", region_of[d]), []).append(d)
        members[("department", d)] = [d]
    for (lv, area), ds in members.items():
        if not ds:
            return None
        if lv != "department" and not all(k in index for k in
                                          [(lv, area, i) for i in indicators]):
            return None
    for lv in ("region", "country"):
        lo, hi = offsets[lv]
        if any((lv, keys[j][1]) not in members for j in range(lo, hi)):
            return None  # an area without departments in this panel (a slice)
    group_defs: list[tuple[list[str], list[str]]] = []  # (node indicators, bottom indicators)
    for ind in indicators:
        if split and ind in (DRUG_TOTAL, *DRUG_PARTS):
            continue
        group_defs.append(([ind], [ind]))
    if split:
        group_defs.append(([DRUG_TOTAL, *DRUG_PARTS], list(DRUG_PARTS)))
    groups = []
    top: dict[int, int] = {}
    for node_inds, bottom_inds in group_defs:
        bottoms = [index[("department", d, i)] for i in bottom_inds for d in deps]
        bpos = {b: k for k, b in enumerate(bottoms)}
        nodes, rows = [], []
        for (lv, area), ds in members.items():
            for ind in node_inds:
                parts = bottom_inds if ind == DRUG_TOTAL and split else [ind]
                row = np.zeros(len(bottoms))
                for d in ds:
                    for part in parts:
                        row[bpos[index[("department", d, part)]]] = 1.0
                nodes.append(index[(lv, area, ind)])
                rows.append(row)
        order = np.argsort(nodes)
        groups.append((np.asarray(nodes)[order], np.asarray(bottoms), np.asarray(rows)[order]))
        for i in bottom_inds:
            for d in deps:
                top[index[("department", d, i)]] = index[("country", "FR", i)]
    return Hierarchy(np.array([k[0] for k in keys]), offsets, groups,
                     {"bottom": np.array(sorted(top)), "fr": np.array([top[b] for b in
                                                                       sorted(top)])})


def reconcile(h: Hierarchy, base: np.ndarray, method: str,
              variance: np.ndarray | None = None) -> np.ndarray:
    """Reconciled forecasts of the stacked series ``base`` (N,) or (N, k) by ``method``;
    ``variance`` (same shape) is W's diagonal for the WLS methods."""
    base = np.asarray(base, float)
    squeeze = base.ndim == 1
    y = base[:, None] if squeeze else base
    out = y.copy()
    if method == "top_down":
        adjusted = y.copy()
        b, fr = h.top["bottom"], h.top["fr"]
        sums = np.zeros_like(y)
        np.add.at(sums, fr, y[b])
        ratio = np.divide(y[fr], sums[fr], out=np.ones_like(y[fr]), where=sums[fr] > 0)
        adjusted[b] = y[b] * ratio
        y_bottom_source = adjusted
    else:
        y_bottom_source = y
    for nodes, bottoms, s in h.groups:
        if method in ("bottom_up", "top_down"):
            bottom = y_bottom_source[bottoms]
        else:
            assert variance is not None
            v = np.asarray(variance, float)
            v = (v[:, None] if v.ndim == 1 else v)[nodes]
            bottom = np.empty((len(bottoms), y.shape[1]))
            for j in range(y.shape[1]):
                winv = 1.0 / np.maximum(v[:, j], 1e-9)
                a = s.T @ (s * winv[:, None])
                bottom[:, j] = np.linalg.solve(a, s.T @ (winv * y[nodes, j]))
        out[nodes] = s @ np.clip(bottom, 0, None)
    return out[:, 0] if squeeze else out


def coherence_errors(h: Hierarchy, values: np.ndarray) -> float:
    """Largest relative gap |node - sum of its bottoms| / max(node, 1) (0 when coherent)."""
    worst = 0.0
    v = np.asarray(values, float)
    v = v[:, None] if v.ndim == 1 else v
    for nodes, bottoms, s in h.groups:
        sums = s @ v[bottoms]
        gap = np.abs(v[nodes] - sums) / np.maximum(np.abs(v[nodes]), 1.0)
        worst = max(worst, float(np.max(gap)))
    return worst
