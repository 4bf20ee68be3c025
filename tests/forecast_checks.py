"""Checks of the shape of published forecast intervals, shared by the training tests.

The property: for every series and level (80 %, 95 %), the interval relative to the point never
narrows as the horizon grows beyond the calibrated horizons (lower / point never goes up, upper /
point never goes down), the 95 % interval contains the 80 % one, which contains the point, and
lower bounds are >= 0. It holds for counts and for rates per 100,000.
"""

from __future__ import annotations

import pandas as pd

#: Absolute slack for values rounded to 4 decimals in ``forecasts.csv.gz``.
ROUNDING = 1e-4
KEYS = ["level", "area", "indicator"]


def _columns(prefix: str) -> tuple[str, str, str, str, str]:
    point = "count" if prefix == "" else "rate_100k"
    return (point, f"{prefix}lo_80", f"{prefix}hi_80", f"{prefix}lo_95", f"{prefix}hi_95")


def fan_violations(fc: pd.DataFrame, from_year: int, slack: float = ROUNDING) -> list[str]:
    """Descriptions of the rows that break the property; ``from_year`` is the first year whose
    interval is compared with the year before (the first extrapolated year)."""
    problems: list[str] = []
    fc = fc.sort_values([*KEYS, "year"], kind="stable").reset_index(drop=True)
    for prefix in ("", "rate_100k_"):
        point, lo80, hi80, lo95, hi95 = _columns(prefix)
        order = [(lo95, lo80), (lo80, point), (point, hi80), (hi80, hi95)]
        for a, b in order:
            bad = fc[fc[a] > fc[b] + slack]
            problems += [f"{a} > {b}: {r[[*KEYS, 'year', a, b]].to_dict()}"
                         for _, r in bad.head(5).iterrows()]
        bad = fc[(fc[lo95] < 0) | (fc[lo80] < 0)]
        problems += [f"negative lower bound: {r.to_dict()}" for _, r in bad.head(5).iterrows()]
        prev = fc.groupby(KEYS, sort=False).shift(1)
        rows = (fc["year"] >= from_year) & (fc[point] > 0) & (prev[point] > 0)
        p, pp = fc[point], prev[point]
        for lvl in ("80", "95"):
            lo, hi = f"{prefix}lo_{lvl}", f"{prefix}hi_{lvl}"
            # lo / p <= lo_prev / p_prev and hi / p >= hi_prev / p_prev, cross-multiplied; the
            # slack covers rounding of each of the four values.
            lo_up = fc[lo] * pp - prev[lo] * p > slack * (fc[lo] + pp + prev[lo] + p)
            hi_down = prev[hi] * p - fc[hi] * pp > slack * (fc[hi] + pp + prev[hi] + p)
            for what, bad_rows in (("lower/point went up", lo_up), ("upper/point went down",
                                                                     hi_down)):
                sel = fc[rows & bad_rows]
                problems += [
                    f"{lo if 'lower' in what else hi} {what} in {r['year']} "
                    f"({len(sel)} rows): {r[KEYS].to_dict()}"
                    for _, r in sel.head(3).iterrows()
                ]
    return problems


def coherence_violations(fc: pd.DataFrame, region_of: dict[str, str],
                         tolerance: float = 0.005) -> list[str]:
    """Published counts that do not add up: departments vs their region, regions vs France,
    metropolitan departments vs FM, AFD + non-AFD drug use vs drug use (relative gap above
    ``tolerance``), and single-department regions that differ from their department at all."""
    problems: list[str] = []
    key = ["indicator", "year"]
    dep = fc[fc["level"] == "department"].copy()
    reg = fc[fc["level"] == "region"]
    cty = fc[fc["level"] == "country"]
    dep["region"] = dep["area"].map(region_of)

    def check(name: str, parts: pd.Series, total: pd.Series) -> None:
        total = total.astype(float)
        both = parts.index.intersection(total.index)
        if len(both) != len(total):
            problems.append(f"{name}: {len(total) - len(both)} totals without parts")
        gap = (parts[both] - total[both]).abs() / total[both].abs().clip(lower=1.0)
        bad = gap[gap > tolerance]
        problems.extend(f"{name}: {k} off by {v:.2%}" for k, v in bad.head(5).items())

    check("departments vs region", dep.groupby(["region", *key])["count"].sum(),
          reg.set_index(["area", *key])["count"])
    check("regions vs FR", reg.groupby(key)["count"].sum(),
          cty[cty["area"] == "FR"].set_index(key)["count"])
    check("departments vs FR", dep.groupby(key)["count"].sum(),
          cty[cty["area"] == "FR"].set_index(key)["count"])
    check("metropolitan departments vs FM",
          dep[dep["area"].str.len() == 2].groupby(key)["count"].sum(),
          cty[cty["area"] == "FM"].set_index(key)["count"])
    parts_labels = ["Usage de stupéfiants (AFD)", "Usage de stupéfiants (hors AFD)"]
    drug = fc[fc["indicator"].isin(parts_labels)]
    if len(drug):
        check("drug-use parts vs total", drug.groupby(["level", "area", "year"])["count"].sum(),
              fc[fc["indicator"] == "Usage de stupéfiants"].set_index(
                  ["level", "area", "year"])["count"])
    counts = dep.groupby("region")["area"].nunique()
    values = [c for c in fc.columns if c not in ("level", "area", "indicator", "year")]
    for region in counts[counts == 1].index:
        d = dep[dep["region"] == region].drop(columns="region").set_index(key)[values]
        r = reg[reg["area"] == region].set_index(key)[values]
        if not d.sort_index().equals(r.sort_index()):
            problems.append(f"single-department region {region} differs from its department")
    return problems
