"""How much SSMSI revises the latest (provisional) year in the next edition.

The previous edition's last year is compared with the same year in the trained edition, series by
series (same level, area and indicator label; renamed indicators are left out). The relative
revision |new - old| / max(old, 1) is summarised per level; its 80 % / 95 % quantiles widen the
first forecast year's interval (half-width combined in quadrature with the revision of the last
observed value, see pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def measure_revisions(data_dir: str | Path | None, edition: str, levels: tuple[str, ...]
                      ) -> dict[str, Any]:
    """{"previous_edition", "year", "levels": {level: {n, median_abs, p80, p95, max_abs,
    largest: [...]}}}, or {"note": why not} when there is no earlier edition."""
    from oasis_mcp.data.dataset import available_editions
    from oasis_training.data import load_training_data

    editions = [e.id for e in available_editions(data_dir)]
    older = editions[editions.index(edition) + 1:] if edition in editions else []
    if not older:
        return {"note": "no earlier edition in the data folder: the revision of the latest year "
                        "is not measured"}
    prev_info, prev = load_training_data(data_dir, older[0], levels)
    _, cur = load_training_data(data_dir, edition, levels)
    year = prev_info.last_year
    out: dict[str, Any] = {"previous_edition": prev_info.edition, "year": year, "levels": {}}
    for lv in levels:
        if lv not in prev or lv not in cur:
            continue
        a, b = prev[lv], cur[lv]
        if year not in a.years or year not in b.years:
            continue
        old = pd.Series(a.y[:, list(a.years).index(year)],
                        index=pd.MultiIndex.from_arrays([a.areas, a.indicators]))
        new = pd.Series(b.y[:, list(b.years).index(year)],
                        index=pd.MultiIndex.from_arrays([b.areas, b.indicators]))
        both = old.index.intersection(new.index)
        if not len(both):
            continue
        rel: pd.Series = (new[both] - old[both]) / np.maximum(old[both], 1.0)
        absrel: pd.Series = rel.abs()
        top = absrel[old[both] >= 100].sort_values(ascending=False).head(3)
        out["levels"][lv] = {
            "n_series": len(both), "median_abs": float(absrel.median()),
            "mean": float(rel.mean()), "p80": float(absrel.quantile(0.8)),
            "p95": float(absrel.quantile(0.95)), "max_abs": float(absrel.max()),
            "largest_100_plus": [{"area": k[0], "indicator": k[1], "old": float(old[k]),
                                  "new": float(new[k])} for k in top.index],
        }
    return out
