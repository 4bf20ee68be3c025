"""Checks that a downloaded edition is complete and plausible before ``data update`` installs it.

The parser (:mod:`oasis_mcp.data.parsing`) already guarantees a well-formed, rectangular table.
These checks compare the edition with what it should hold and with the edition installed before:

* **grid**: every department of the geography (all 101), every indicator of the edition's
  nomenclature, every year from the first year of the previous edition (when there is one) to the
  edition's data year, with no gap; the regional file, when present, every region;
* **zero series**: no (area, indicator) series entirely 0 where the previous edition had counts for
  it, and not every count of the file 0;
* **range**: no count above the area's population, and none above ``RANGE_FACTOR`` times the
  largest count of the previous edition's same series (series with a maximum below
  ``RANGE_FLOOR`` are compared with that floor, so that small series may move).

Each problem names its check; ``oasis-mcp data update --force`` installs anyway after printing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oasis_mcp.data.geography import areas
from oasis_mcp.data.indicators import catalog
from oasis_mcp.data.parsing import ParsedFile

RANGE_FACTOR = 10
RANGE_FLOOR = 100
_SHOWN = 3


@dataclass(frozen=True)
class Problem:
    check: str  # "grid", "zero series", "range"
    file: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.file}: {self.detail}"


def check_edition(
    data_year: int,
    departments: ParsedFile,
    regions: ParsedFile | None,
    previous: ParsedFile | None,
) -> list[Problem]:
    """The problems of a new edition (empty when it may be installed). ``previous`` is the
    departmental file of the edition installed before, if any."""
    problems = _grid(data_year, departments, previous)
    if regions is not None:
        problems += _grid(data_year, regions, None)
    problems += _zeros(departments, previous)
    problems += _range(departments, previous)
    if regions is not None:
        problems += _range(regions, None)
    return problems


def _grid(data_year: int, parsed: ParsedFile, previous: ParsedFile | None) -> list[Problem]:
    frame, name, found = parsed.frame, parsed.name, []
    expected_areas = {a.code for a in areas(parsed.level)}
    missing = sorted(expected_areas - set(frame["area"].unique()))
    if missing:
        kind = "departments" if parsed.level == "department" else "regions"
        found.append(Problem("grid", name, (
            f"{len(missing)} of the {len(expected_areas)} {kind} are missing "
            f"({_listed(missing)})")))
    labels = [ind.label_fr for ind in catalog(parsed.nomenclature)]
    absent = [label for label in labels if label not in set(frame["indicator"].unique())]
    if absent:
        found.append(Problem("grid", name, (
            f"{len(absent)} of the {len(labels)} indicators of the {parsed.nomenclature} "
            f"nomenclature are missing ({_listed(absent)})")))
    years = sorted(int(y) for y in frame["year"].unique())
    first = years[0]
    if previous is not None:
        first = min(first, previous.years[0])
    wanted = list(range(first, data_year + 1))
    lacking = [y for y in wanted if y not in set(years)]
    if lacking:
        found.append(Problem("grid", name, (
            f"years {_listed([str(y) for y in lacking])} are missing (expected every year "
            f"{first}–{data_year})")))
    return found


def _series_totals(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(["area", "indicator"], sort=True)["count"].agg(["sum", "max"])


def _zeros(parsed: ParsedFile, previous: ParsedFile | None) -> list[Problem]:
    frame = parsed.frame
    if not frame["count"].to_numpy().any():
        return [Problem("zero series", parsed.name,
                        f"every count of the file is 0 ({len(frame):,} rows)")]
    if previous is None:
        return []
    new = _series_totals(frame).add_suffix("_new")
    old = _series_totals(previous.frame).add_suffix("_old")
    both = new.join(old, how="inner")
    zero = both[(both["sum_new"] == 0) & (both["sum_old"] > 0)]
    if zero.empty:
        return []
    head = zero.head(_SHOWN)
    shown = [f"{key[0]} '{key[1]}' (previously up to {int(peak):,})"
             for key, peak in zip(head.index.tolist(), head["max_old"].tolist(), strict=True)]
    more = f" and {len(zero) - _SHOWN} more" if len(zero) > _SHOWN else ""
    return [Problem("zero series", parsed.name, (
        f"{len(zero)} series are entirely 0 where the previous edition ({previous.name}) had "
        f"counts: {', '.join(shown)}{more}"))]


def _range(parsed: ParsedFile, previous: ParsedFile | None) -> list[Problem]:
    frame, found = parsed.frame, []
    counts = frame["count"].to_numpy()
    over_pop = counts > frame["population"].to_numpy()
    if over_pop.any():
        rows = frame[over_pop].head(_SHOWN)
        shown = [f"{area} {year} '{ind}' = {count:,} (population {pop:,})"
                 for area, year, ind, count, pop in zip(
                     rows["area"].tolist(), rows["year"].tolist(), rows["indicator"].tolist(),
                     rows["count"].tolist(), rows["population"].tolist(), strict=True)]
        found.append(Problem("range", parsed.name, (
            f"{int(over_pop.sum())} counts exceed the area's population: {', '.join(shown)}")))
    if previous is None:
        return found
    old_max = previous.frame.groupby(["area", "indicator"])["count"].max()
    keys = pd.MultiIndex.from_arrays([frame["area"], frame["indicator"]])
    limit = old_max.reindex(keys).to_numpy(dtype=float)
    limit = np.maximum(limit, RANGE_FLOOR) * RANGE_FACTOR
    beyond = counts > np.nan_to_num(limit, nan=np.inf)
    if beyond.any():
        rows = frame[beyond].head(_SHOWN)
        peaks = old_max.reindex(pd.MultiIndex.from_arrays([rows["area"], rows["indicator"]]))
        shown = [
            f"{area} {year} '{ind}' = {count:,} (previous maximum {int(peak):,})"
            for area, year, ind, count, peak in zip(
                rows["area"].tolist(), rows["year"].tolist(), rows["indicator"].tolist(),
                rows["count"].tolist(), peaks.tolist(), strict=True)
        ]
        found.append(Problem("range", parsed.name, (
            f"{int(beyond.sum())} counts are more than {RANGE_FACTOR}× the largest count of the "
            f"same series in the previous edition ({previous.name}): {', '.join(shown)}")))
    return found


def _listed(items: list[str]) -> str:
    if len(items) <= 6:
        return ", ".join(items)
    return ", ".join(items[:6]) + f", … ({len(items) - 6} more)"
