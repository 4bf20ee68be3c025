"""The tidy dataset: one row per (level, area, year, indicator), at department, region and country
level, built from one edition's files.

Regions come from the official regional file of the same edition when it is present; otherwise they
are aggregated from the departments and marked ``derived``. Country figures (``FR``: all 101
departments, ``FM``: the 96 metropolitan ones) are always aggregated. Aggregates of the
"Mis en cause" indicators are upper bounds (a person implicated in several departments is
counted once by the SSMSI at the higher level) and are marked ``upper_bound``. Rates of
aggregates are recomputed from summed counts and summed denominators.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from oasis_mcp import config
from oasis_mcp.data.editions import Edition, SourceFile, discover_editions, served_edition
from oasis_mcp.data.geography import METROPOLITAN_DEPARTMENT_CODES, Level
from oasis_mcp.data.indicators import Indicator, catalog, indicator_by_label, resolve_indicator
from oasis_mcp.data.parsing import ParsedFile, read_ssmsi_file
from oasis_mcp.errors import DataFileError, DataNotFoundError

log = logging.getLogger(__name__)

LEVELS: tuple[Level, ...] = ("country", "region", "department")
UPPER_BOUND_UNIT = "Mis en cause"
BURGLARY_LABEL = "Cambriolages de logement"
COUNTRY_NAMES = {"FR": "France", "FM": "France métropolitaine"}
COLUMNS = (
    "level", "area", "year", "indicator", "unit", "count", "rate_per_1000", "rate_per_100k",
    "population", "dwellings", "denominator", "derived", "upper_bound",
)


@dataclass(frozen=True)
class Dataset:
    """A loaded edition. ``frame`` has the columns of :data:`COLUMNS`, sorted by level, area,
    indicator and year."""

    edition: Edition
    frame: pd.DataFrame
    nomenclature: str
    regions_source: str  # "official" or "aggregated"
    _index: dict[tuple[str, str, str], np.ndarray] = field(repr=False, compare=False)

    @property
    def first_year(self) -> int:
        return int(self.frame["year"].min())

    @property
    def last_year(self) -> int:
        return int(self.frame["year"].max())

    @cached_property
    def indicators(self) -> tuple[str, ...]:
        """Official French labels, in catalog order."""
        present = set(self.frame["indicator"].unique())
        return tuple(ind.label_fr for ind in catalog(self.nomenclature) if ind.label_fr in present)

    @cached_property
    def indicator_info(self) -> tuple[Indicator, ...]:
        return tuple(info for label in self.indicators if (info := indicator_by_label(label)))

    def resolve_indicator(self, query: str) -> Indicator:
        """Resolve a slug, label or alias among this edition's indicators (raises LookupFailed)."""
        return resolve_indicator(query, labels=self.indicators)

    def area_codes(self, level: Level) -> list[str]:
        return sorted({a for (lvl, a, _) in self._index if lvl == level})

    def series(self, level: Level, area: str, indicator: str) -> pd.DataFrame:
        """The yearly rows of one series, oldest first (empty when unknown)."""
        rows = self._index.get((level, area, indicator))
        if rows is None:
            return self.frame.iloc[0:0]
        return self.frame.iloc[rows]

    def year_slice(self, level: Level, indicator: str, year: int) -> pd.DataFrame:
        """Every area of a level for one indicator and year."""
        f = self.frame
        mask = (f["level"].to_numpy() == level) & (f["indicator"].to_numpy() == indicator)
        mask &= f["year"].to_numpy() == year
        return f[mask]

    def latest_population(self, level: Level, area: str) -> int | None:
        """Population of the area in the last year (as published for that year)."""
        for indicator in self.indicators:
            rows = self.series(level, area, indicator)
            if len(rows):
                return int(rows["population"].to_numpy()[-1])
        return None

    def level_summary(self, level: Level) -> dict[str, int]:
        rows = self.frame[self.frame["level"] == level]
        return {
            "areas": int(rows["area"].nunique()),
            "indicators": int(rows["indicator"].nunique()),
            "first_year": int(rows["year"].min()),
            "last_year": int(rows["year"].max()),
        }

    def info(self) -> dict[str, object]:
        """Edition, files, and per level the areas, indicators and years (``data info``)."""
        return {
            "edition": self.edition.id,
            "edition_label": self.edition.label,
            "nomenclature": self.nomenclature,
            "regions": self.regions_source,
            "files": [
                {"name": f.name, "level": f.level, "sha256": f.sha256} for f in self.edition.files
            ],
            "levels": {level: self.level_summary(level) for level in LEVELS},
            "indicators": list(self.indicators),
        }


Columns = dict[str, np.ndarray]


def build_dataset(
    edition: Edition, departments: ParsedFile, regions: ParsedFile | None = None
) -> Dataset:
    """Assemble the three levels from validated files of one edition."""
    dep = _columns(departments.frame)
    parts = [_published(dep, "department")]
    if regions is not None:
        _check_same_grid(departments, regions)
        parts.append(_published(_columns(regions.frame), "region"))
    else:
        parts.append(_aggregate(dep, dep["region"], "region"))
    parts.append(_aggregate(dep, np.full(len(dep["area"]), "FR", dtype=object), "country"))
    metro = np.isin(dep["area"], list(METROPOLITAN_DEPARTMENT_CODES))
    parts.append(_aggregate({k: v[metro] for k, v in dep.items()},
                            np.full(int(metro.sum()), "FM", dtype=object), "country"))
    columns = {col: np.concatenate([part[col] for part in parts]) for col in COLUMNS}
    level_rank = {level: i for i, level in enumerate(LEVELS)}
    order = np.lexsort((
        columns["year"],
        pd.factorize(columns["indicator"], sort=True)[0],
        pd.factorize(columns["area"], sort=True)[0],
        np.array([level_rank[lvl] for lvl in columns["level"]]),
    ))
    frame = pd.DataFrame({col: values[order] for col, values in columns.items()})
    groups: dict[tuple[str, str, str], np.ndarray] = frame.groupby(  # type: ignore[assignment]
        ["level", "area", "indicator"], sort=False
    ).indices
    index = {(str(k[0]), str(k[1]), str(k[2])): np.asarray(v) for k, v in groups.items()}
    files = [SourceFile(departments.name, edition.department_file or Path(departments.name),
                        "department", departments.sha256)]
    if regions is not None:
        files.append(SourceFile(regions.name, edition.region_file or Path(regions.name),
                                "region", regions.sha256))
    return Dataset(
        edition=replace(edition, files=tuple(files)),
        frame=frame,
        nomenclature=departments.nomenclature,
        regions_source="official" if regions is not None else "aggregated",
        _index=index,
    )


def _columns(frame: pd.DataFrame) -> Columns:
    return {col: frame[col].to_numpy(dtype=object if frame[col].dtype != np.int64
                                     and frame[col].dtype != np.float64 else None)
            for col in ("area", "region", "year", "indicator", "unit", "count",
                        "rate_per_1000", "population", "dwellings")}


def _denominator(indicator: np.ndarray, population: np.ndarray,
                 dwellings: np.ndarray) -> np.ndarray:
    return np.where(indicator == BURGLARY_LABEL, dwellings, population)


def _published(cols: Columns, level: Level) -> Columns:
    n = len(cols["area"])
    denominator = _denominator(cols["indicator"], cols["population"], cols["dwellings"])
    return {
        "level": np.full(n, level, dtype=object),
        "area": cols["area"],
        "year": cols["year"],
        "indicator": cols["indicator"],
        "unit": cols["unit"],
        "count": cols["count"],
        "rate_per_1000": cols["rate_per_1000"],
        "rate_per_100k": _rate(cols["count"], denominator, 100_000),
        "population": cols["population"],
        "dwellings": cols["dwellings"],
        "denominator": denominator,
        "derived": np.zeros(n, dtype=bool),
        "upper_bound": np.zeros(n, dtype=bool),
    }


def _aggregate(cols: Columns, groups: np.ndarray, level: Level) -> Columns:
    """Sum counts, populations and dwellings over ``groups`` for each indicator and year."""
    g_idx, g_keys = pd.factorize(groups)
    i_idx, i_keys = pd.factorize(cols["indicator"])
    y_idx, y_keys = pd.factorize(cols["year"])
    n_i, n_y = len(i_keys), len(y_keys)
    key = (g_idx * n_i + i_idx) * n_y + y_idx
    cells, inverse = np.unique(key, return_inverse=True)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=values.astype(np.float64)).round().astype(np.int64)

    count, population, dwellings = (total(cols[c]) for c in ("count", "population", "dwellings"))
    indicator = np.asarray(i_keys, dtype=object)[(cells // n_y) % n_i]
    unit_of = dict(zip(cols["indicator"], cols["unit"], strict=True))
    unit = np.array([unit_of[label] for label in i_keys], dtype=object)[(cells // n_y) % n_i]
    denominator = _denominator(indicator, population, dwellings)
    return {
        "level": np.full(len(cells), level, dtype=object),
        "area": np.asarray(g_keys, dtype=object)[cells // (n_y * n_i)],
        "year": np.asarray(y_keys)[cells % n_y],
        "indicator": indicator,
        "unit": unit,
        "count": count,
        "rate_per_1000": _rate(count, denominator, 1000),
        "rate_per_100k": _rate(count, denominator, 100_000),
        "population": population,
        "dwellings": dwellings,
        "denominator": denominator,
        "derived": np.ones(len(cells), dtype=bool),
        # A person implicated in several departments is counted once at the higher level, so the
        # sum is an upper bound, except over a single department (Mayotte, Guadeloupe, …).
        "upper_bound": (unit == UPPER_BOUND_UNIT) & (np.bincount(inverse) > 1),
    }


def _rate(count: np.ndarray, denominator: np.ndarray, per: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = count.astype(float) / denominator.astype(float) * per
    return np.where(denominator > 0, rate, np.nan)


def _check_same_grid(departments: ParsedFile, regions: ParsedFile) -> None:
    dep, reg = departments.frame, regions.frame
    if departments.nomenclature != regions.nomenclature or set(dep["indicator"]) != set(
        reg["indicator"]
    ):
        raise DataFileError(regions.name, f"its indicators differ from those of {departments.name}")
    if set(dep["year"]) != set(reg["year"]):
        raise DataFileError(regions.name, f"its years differ from those of {departments.name}")
    missing = set(dep["region"]) - set(reg["area"])
    if missing:
        raise DataFileError(regions.name, f"regions {', '.join(sorted(missing))} are missing")


# ---------------------------------------------------------------------------------------------
# Loading, with a small cache keyed by the files' identity on disk.

_cache: dict[tuple[object, ...], Dataset] = {}
_lock = threading.Lock()


def available_editions(data_dir: str | os.PathLike[str] | None = None) -> list[Edition]:
    """Editions found in the data directory, newest first."""
    return discover_editions(config.data_dir(data_dir))


def load_dataset(
    data_dir: str | os.PathLike[str] | None = None, edition: str | None = None
) -> Dataset:
    """Load an edition from the data directory: by default the one ``manifest.json`` names (when
    its files are there), else the newest (see :func:`~oasis_mcp.data.editions.served_edition`).

    Raises :class:`DataNotFoundError` (saying how to get data) when there is none, and
    :class:`DataFileError` when a file is invalid.
    """
    directory = config.data_dir(data_dir)
    editions = discover_editions(directory)
    if not editions:
        raise missing_data_error(data_dir)
    chosen = _choose(editions, edition, directory)
    key = (str(directory.resolve()), chosen.id, *_stat(chosen.department_file),
           *_stat(chosen.region_file))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        assert chosen.department_file is not None
        departments = read_ssmsi_file(chosen.department_file, "department")
        regions = read_ssmsi_file(chosen.region_file, "region") if chosen.region_file else None
        dataset = build_dataset(chosen, departments, regions)
        _cache.clear()
        _cache[key] = dataset
        log.info("loaded edition %s from %s", chosen.id, directory)
        return dataset


def missing_data_error(data_dir: str | os.PathLike[str] | None = None) -> DataNotFoundError:
    """The error for a data directory without any edition, saying how to get data."""
    directory = config.data_dir(data_dir)
    what = "No SSMSI data files in" if directory.is_dir() else "The data directory does not exist:"
    return DataNotFoundError(
        f"{what} {directory} (from {config.data_dir_source(data_dir)}). " + config.HOW_TO_GET_DATA
    )


def _choose(editions: list[Edition], wanted: str | None, directory: Path) -> Edition:
    if wanted is None:
        return served_edition(directory, editions)[0]
    for ed in editions:
        if wanted in (ed.id, str(ed.data_year)):
            return ed
    known = ", ".join(ed.id for ed in editions)
    raise DataNotFoundError(f"No edition '{wanted}' in {directory}; available: {known}")


def _stat(path: Path | None) -> tuple[object, ...]:
    if path is None:
        return (None,)
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)
