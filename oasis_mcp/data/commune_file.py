"""The SSMSI communal file: finding it, parsing and validating it into a compact table.

The file is long (one row per commune, year and indicator: about 35,000 communes × 15 indicators ×
10 years, 5 million rows, 40 MB as ``.csv.gz``). Two layouts are known, both with the commune code
in a column whose name carries the geography year (``CODGEO_2025``):

- the current one (2025 edition): ``CODGEO_<geo>;annee;indicateur;unite_de_compte;nombre;
  taux_pour_mille;est_diffuse;insee_pop;insee_pop_millesime;insee_log;insee_log_millesime;
  complement_info_nombre;complement_info_taux``;
- the older one (2024 edition and before): ``CODGEO_<geo>;annee;classe;unité.de.compte;
  valeur.publiée;faits;tauxpourmille;complementinfoval;complementinfotaux;POP;millPOP;LOG;millLOG``
  (``annee`` may be written on two digits, ``LOG`` may have decimals).

``est_diffuse`` / ``valeur.publiée`` is ``diff`` (published) or ``ndiff`` (withheld: fewer facts
than the SSMSI's three-year small-count criterion allows). In a withheld row the count and rate
are ``NA`` and the ``complement_info_*`` columns hold the average over the department's withheld
communes (not the commune's own value). The table keeps the three apart: a published count (a
published 0 is a real 0), a withheld cell (``WITHHELD``, never 0) and a cell absent from the
file (``ABSENT``).

Reader: pandas' C parser, in chunks (gzip from the standard library); the rows are spilled to
disk and each dense array is filled in its own ``.npy`` file, so memory stays bounded (a chunk, one
array's pages: see :mod:`oasis_mcp.data.commune_store`). The Parquet twin is recognised but not
read (it would need pyarrow, a heavy runtime dependency): with only the Parquet file present, the
error says to get the CSV twin. The arrays of the first parse become the cache entry of the file
(plain ``.npy`` arrays and JSON, no pickle) in the user cache, keyed by the source file's path,
size and modification time; later starts memory-map them in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oasis_mcp import config
from oasis_mcp.data import commune_store as store
from oasis_mcp.data.indicators import catalog, edition_of_labels, indicator_by_label
from oasis_mcp.errors import DataFileError

log = logging.getLogger(__name__)

WITHHELD = -1
"""``count`` of a withheld (``ndiff``) cell."""
ABSENT = -2
"""``count`` of a commune-indicator-year that has no row in the file."""

FILE_NAME_RE = re.compile(
    r"donnee-comm[a-z]*-data\.gouv(?:-(?P<parquet>parquet))?-(?P<year>\d{4})"
    r"-geographie(?P<geo>\d{4})(?:-produit-le(?P<produced>\d{4}-\d{2}-\d{2}))?",
    re.IGNORECASE,
)
CSV_SUFFIXES = (".csv.gz", ".csv")
CODE_RE = r"^(?:\d{5}|2[AB]\d{3})$"
CHUNK_ROWS = 100_000

CURRENT_COLUMNS = (
    "annee", "indicateur", "unite_de_compte", "nombre", "taux_pour_mille", "est_diffuse",
    "insee_pop", "insee_pop_millesime", "insee_log", "insee_log_millesime",
    "complement_info_nombre", "complement_info_taux",
)
LEGACY_COLUMNS = (
    "annee", "classe", "unité.de.compte", "valeur.publiée", "faits", "tauxpourmille",
    "complementinfoval", "complementinfotaux", "POP", "millPOP", "LOG", "millLOG",
)
_LEGACY_TO_CURRENT = dict(zip(LEGACY_COLUMNS, (
    "annee", "indicateur", "unite_de_compte", "est_diffuse", "nombre", "taux_pour_mille",
    "complement_info_nombre", "complement_info_taux", "insee_pop", "insee_pop_millesime",
    "insee_log", "insee_log_millesime",
), strict=True))
HOW_TO_GET_COMMUNE_FILE = (
    "The commune level needs the SSMSI communal file of the same dataset "
    "(donnee-comm-data.gouv-<year>-geographie<year>-produit-le<date>.csv.gz, about 40 MB): "
    "run `oasis-mcp data update`, or put that file in the data directory "
    f"({config.DATA_DIR_ENV}). Departments, regions and France work without it."
)


@dataclass(frozen=True)
class CommuneFileName:
    path: Path
    data_year: int | None
    geography_year: int | None
    parquet: bool


def describe_file_name(path: Path) -> CommuneFileName:
    match = FILE_NAME_RE.search(path.name)
    parquet = path.name.lower().endswith(".parquet")
    if match is None:
        return CommuneFileName(path, None, None, parquet)
    return CommuneFileName(path, int(match["year"]), int(match["geo"]), parquet)


def find_commune_files(directory: Path) -> list[CommuneFileName]:
    """Files of the directory whose name contains ``donnee-comm`` (CSV, gzipped CSV or Parquet),
    newest data year first, CSV before Parquet."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        name = path.name.lower()
        if "donnee-comm" not in name or not path.is_file():
            continue
        if name.endswith(CSV_SUFFIXES) or name.endswith(".parquet"):
            found.append(describe_file_name(path))
    return sorted(found, key=lambda f: (-(f.data_year or 0), f.parquet, f.path.name))


def choose_commune_file(directory: Path, data_year: int | None = None) -> CommuneFileName | None:
    """The CSV communal file to read: the one of ``data_year`` when there is one, else the newest.
    None when there is no CSV communal file (a Parquet twin alone raises, saying what to get)."""
    files = find_commune_files(directory)
    csvs = [f for f in files if not f.parquet]
    if not csvs:
        if files:
            raise DataFileError(
                files[0].path.name,
                "is the Parquet twin of the communal file; this server reads the CSV twin "
                "(donnee-comm-data.gouv-<year>-geographie<year>-produit-le<date>.csv.gz, same "
                "dataset page) so as not to depend on pyarrow. Put the .csv.gz file beside it.",
            )
        return None
    same_year = [f for f in csvs if data_year is not None and f.data_year == data_year]
    return (same_year or csvs)[0]


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class CommuneTable:
    """A validated communal file as dense arrays indexed ``[commune, indicator, year]``.

    ``count`` is the published count, :data:`WITHHELD` or :data:`ABSENT`; ``rate_per_1000`` is
    NaN unless published; ``complement_count`` / ``complement_rate`` are NaN unless the SSMSI gave
    a complement (withheld cells). Populations and dwellings are per ``[commune, year]``.
    """

    name: str
    sha256: str
    layout: str  # "current" or "legacy"
    geography_year: int
    nomenclature: str
    codes: np.ndarray  # (n_c,) str, sorted
    indicators: tuple[str, ...]
    units: tuple[str, ...]
    years: np.ndarray  # (n_y,) int64, ascending
    count: np.ndarray  # int32 (n_c, n_i, n_y)
    rate_per_1000: np.ndarray  # float64 (n_c, n_i, n_y)
    complement_count: np.ndarray  # float32 (n_c, n_i, n_y)
    complement_rate: np.ndarray  # float32 (n_c, n_i, n_y)
    population: np.ndarray  # int64 (n_c, n_y), -1 unknown
    population_vintage: np.ndarray  # int16 (n_c, n_y)
    dwellings: np.ndarray  # int64 (n_c, n_y), -1 unknown
    store_dir: Path | None = field(default=None, compare=False)
    """The directory whose ``.npy`` files the arrays map (None: held in memory)."""

    @cached_property
    def position(self) -> dict[str, int]:
        return {str(code): i for i, code in enumerate(self.codes.tolist())}

    @cached_property
    def indicator_position(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.indicators)}

    @property
    def first_year(self) -> int:
        return int(self.years[0])

    @property
    def last_year(self) -> int:
        return int(self.years[-1])

    def summary(self) -> dict[str, object]:
        published = int((self.count >= 0).sum())
        withheld = int((self.count == WITHHELD).sum())
        return {
            "file": self.name, "layout": self.layout, "geography_year": self.geography_year,
            "areas": len(self.codes), "indicators": len(self.indicators),
            "first_year": self.first_year, "last_year": self.last_year,
            "cells_published": published, "cells_withheld": withheld,
            "cells_absent": int((self.count == ABSENT).sum()),
        }


def read_commune_file(path: Path, use_cache: bool = True) -> CommuneTable:
    """The validated table of a communal CSV file (``.csv`` or ``.csv.gz``), from the cache when
    the same file was parsed before (memory-mapped: see :mod:`oasis_mcp.data.commune_store`).
    A first read parses the file and writes its cache entry; with ``use_cache=False`` (or a
    cache that cannot be written) the table is built in a temporary directory and held in
    memory."""
    try:
        st = path.stat()
    except OSError as exc:
        raise DataFileError(path.name, f"cannot be read ({exc.strerror or exc})") from None
    entry = store.cache_entry(path, st) if use_cache else None
    if entry is not None and (entry / store.META_NAME).is_file():
        try:
            return _open_store(entry, path.name)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the commune cache %s (%s)", entry, exc)
    staging = store.new_staging_dir() if entry is not None else None
    table = parse_commune_file(path, store_dir=staging)
    if entry is not None and staging is not None:
        try:
            _commit(table, staging, path, entry)
        except OSError as exc:  # a cache that cannot be renamed is no reason to fail
            log.warning("could not write the commune cache %s (%s)", entry, exc)
            return _in_memory(table, staging)
        table = dataclasses.replace(table, store_dir=entry)
    return table


def cache_is_warm(path: Path) -> bool:
    """Whether :func:`read_commune_file` would read ``path`` from its cache (no parse)."""
    try:
        entry = store.cache_entry(path, path.stat())
    except OSError:
        return False
    return (entry / store.META_NAME).is_file()


def warm_cache(path: Path, table: CommuneTable) -> None:
    """Make the cache entry of ``path`` from a table already parsed from the same bytes (e.g.
    from the temp file of a download, validated before it was renamed to ``path``), so that
    :func:`read_commune_file` never parses it again: its staging directory (see
    :func:`parse_commune_file`) is renamed into place, or, for a table held in memory, its
    arrays are written."""
    if table.name != path.name:
        raise ValueError(f"the table is of {table.name}, not of {path.name}")
    entry = store.cache_entry(path, path.stat())
    if table.store_dir is not None and store.is_staging(table.store_dir):
        _commit(table, table.store_dir, path, entry)
        return
    staging = store.new_staging_dir()
    if staging is None:
        return
    try:
        for key in (*_DENSE, *_SMALL):
            store.save_array(staging, key, getattr(table, key))
        _commit(table, staging, path, entry)
    except OSError:
        store.discard(staging)
        raise


#: Per-row columns spilled to disk during the first pass, and their types.
_ROW_COLUMNS: dict[str, type[np.generic]] = {
    "code": np.int32, "indicator": np.int16, "year": np.int16, "count": np.int32,
    "rate": np.float64, "ccount": np.float32, "crate": np.float32, "pop": np.int32,
    "popv": np.int16, "log": np.int32,
}
#: Dense [commune, indicator, year] arrays: (row column, dtype, value of a cell with no row).
_DENSE: dict[str, tuple[str, type[np.generic], float]] = {
    "count": ("count", np.int32, ABSENT),
    "rate_per_1000": ("rate", np.float64, np.nan),
    "complement_count": ("ccount", np.float32, np.nan),
    "complement_rate": ("crate", np.float32, np.nan),
}
#: Arrays per commune, per year or per [commune, year] (small: built in memory).
_SMALL = ("codes", "years", "population", "population_vintage", "dwellings")


def parse_commune_file(path: Path, name: str | None = None,
                       store_dir: Path | None = None) -> CommuneTable:
    """Validate and read a communal file; ``name`` (default: the path's) is the file's official
    name, used in messages and to tell a gzipped file (``.gz``) from a plain one, e.g. when
    ``path`` is a download's temp file. Raises :class:`DataFileError`.

    Memory stays bounded (a chunk of rows, one dense array's pages): rows are spilled to disk,
    then each array is filled in its ``.npy`` file in ``store_dir`` (an empty directory, e.g.
    ``commune_store.new_staging_dir()``) and memory-mapped. Without ``store_dir`` the arrays
    are built in a temporary directory and read into memory. On failure ``store_dir`` is left
    empty."""
    name = name or path.name
    if store_dir is None:
        build = Path(tempfile.mkdtemp(prefix="oasis-commune-table-"))
        try:
            return _in_memory(_parse(path, name, build), build)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    try:
        return _parse(path, name, store_dir)
    except BaseException:
        for child in store_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        raise


def _in_memory(table: CommuneTable, directory: Path) -> CommuneTable:
    """The table with every array read into memory (its directory may then be removed)."""
    arrays: dict[str, Any] = {k: np.array(getattr(table, k)) for k in (*_DENSE, *_SMALL)}
    shutil.rmtree(directory, ignore_errors=True)
    return dataclasses.replace(table, store_dir=None, **arrays)


def _parse(path: Path, name: str, out: Path) -> CommuneTable:
    gzipped = name.lower().endswith(".gz")
    header = _header(path, gzipped, name)
    code_cols = [c for c in header if re.fullmatch(r"CODGEO_\d{4}", c)]
    if len(code_cols) != 1:
        raise DataFileError(
            name, "expected exactly one commune code column CODGEO_<geography year> (e.g. "
            f"CODGEO_2025), found {', '.join(code_cols) or 'none'}", line=1)
    code_col = code_cols[0]
    rest = [c for c in header if c != code_col]
    if set(CURRENT_COLUMNS) <= set(rest):
        layout, rename = "current", {}
    elif set(LEGACY_COLUMNS) <= set(rest):
        layout, rename = "legacy", _LEGACY_TO_CURRENT
    else:
        missing_now = [c for c in CURRENT_COLUMNS if c not in rest]
        raise DataFileError(
            name,
            f"missing column(s) {', '.join(missing_now)}; a communal file has the columns "
            f"{code_col};{';'.join(CURRENT_COLUMNS)} (2025 edition) or "
            f"{code_col};{';'.join(LEGACY_COLUMNS)} (older editions)", line=1)
    geography_year = int(code_col[-4:])
    src = {v: k for k, v in rename.items()} if rename else {c: c for c in CURRENT_COLUMNS}
    dtypes = {code_col: "category", src["indicateur"]: "category",
              src["unite_de_compte"]: "category", src["est_diffuse"]: "category",
              src["annee"]: "int64"}
    for col in ("nombre", "taux_pour_mille", "complement_info_nombre", "complement_info_taux",
                "insee_pop", "insee_log", "insee_pop_millesime", "insee_log_millesime"):
        dtypes[src[col]] = "float64"
    seen = _Seen()
    start_line = 2
    with store.RowSpill(_ROW_COLUMNS, parent=out) as spill:
        try:
            reader = pd.read_csv(
                path, sep=";", decimal=",", dtype=dtypes, usecols=[code_col, *src.values()],
                na_values=["NA"], keep_default_na=False, chunksize=CHUNK_ROWS,
                encoding="utf-8-sig", compression="gzip" if gzipped else None,
            )
            for frame in reader:
                spill.append(_chunk(frame, name, start_line, code_col, src, seen))
                start_line += len(frame)
                del frame
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError,
                EOFError) as exc:
            if isinstance(exc, DataFileError):
                raise
            raise DataFileError(name, f"is not a readable communal CSV file ({exc})") from None
        if spill.rows == 0:
            raise DataFileError(name, "the file has a header but no data rows", line=1)
        sha256 = _sha256(path)
        return _assemble(name, sha256, layout, geography_year, spill, seen, out)


@dataclass
class _Seen:
    """What the first pass learnt: codes, labels (in order of first appearance), units, years."""

    codes: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    units_of: dict[str, str] = field(default_factory=dict)
    years: set[int] = field(default_factory=set)


def _header(path: Path, gzipped: bool, name: str) -> list[str]:
    import gzip

    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
            first = fh.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataFileError(name, f"cannot be read as (gzipped) UTF-8 text ({exc})") from None
    cols = [c.strip().strip('"') for c in first.rstrip("\r\n").split(";")]
    if len(cols) < 2:
        raise DataFileError(name, "the header is not ';'-separated: not an SSMSI communal "
                            "file", line=1)
    return cols


def _chunk(frame: pd.DataFrame, name: str, first_line: int, code_col: str,
           src: dict[str, str], seen: _Seen) -> dict[str, np.ndarray]:
    def bad(mask: np.ndarray, problem: str) -> None:
        if mask.any():
            row = int(np.argmax(mask))
            raise DataFileError(name, problem.format(row=row), line=first_line + row)

    codes = frame[code_col]
    if codes.isna().any():
        bad(codes.isna().to_numpy(), "the commune code is empty or NA")
    new_codes = [c for c in codes.cat.categories if c not in seen.codes]
    for code in new_codes:
        if not re.match(CODE_RE, code):
            rows = np.flatnonzero((codes == code).to_numpy())
            raise DataFileError(name, f"'{code}' is not a commune code (five characters: "
                                "'33063', '2A004', '97411')", line=first_line + int(rows[0]))
        seen.codes[code] = len(seen.codes)
    code_map = np.array([seen.codes[c] for c in codes.cat.categories], dtype=np.int32)
    inds = frame[src["indicateur"]]
    units = frame[src["unite_de_compte"]]
    bad(inds.isna().to_numpy() | units.isna().to_numpy(), "the indicator or its unit is empty")
    for label in inds.cat.categories:
        if label in seen.labels:
            continue
        info = indicator_by_label(label)
        if info is None:
            rows = np.flatnonzero((inds == label).to_numpy())
            known = ", ".join(f"'{i.label_fr}'" for i in catalog())
            raise DataFileError(name, f"unknown indicator '{label}' (known: {known})",
                                line=first_line + int(rows[0]))
        seen.labels[label] = len(seen.labels)
        seen.units_of[label] = info.unit
    ind_map = np.array([seen.labels[c] for c in inds.cat.categories], dtype=np.int32)
    ind_idx = ind_map[inds.cat.codes.to_numpy()]
    expected_unit = np.array([seen.units_of[lbl] for lbl in seen.labels], dtype=object)[ind_idx]
    bad(units.astype(object).to_numpy() != expected_unit,
        "the unit does not match the indicator (see the SSMSI documentation)")
    flag = frame[src["est_diffuse"]].astype(object).to_numpy()
    published = flag == "diff"
    bad(~published & (flag != "ndiff"), "est_diffuse must be 'diff' or 'ndiff'")
    years = frame[src["annee"]].to_numpy()
    years = np.where(years < 100, years + 2000, years)
    bad((years < 2000) | (years > 2100), "the year is outside 2000–2100")
    seen.years.update(int(y) for y in np.unique(years))
    count = frame[src["nombre"]].to_numpy()
    bad(published & np.isnan(count), "a published ('diff') row has no count (NA)")
    bad(published & ~np.isnan(count) & ((count < 0) | (count != np.round(count))),
        "the count must be a whole number ≥ 0")
    bad(published & (count > np.iinfo(np.int32).max), "the count is too large")
    n_stray = int((~published & ~np.isnan(count)).sum())
    if n_stray:
        log.warning("%s: %d withheld ('ndiff') rows carry a count; it is ignored (withheld)",
                    name, n_stray)
    rate = frame[src["taux_pour_mille"]].to_numpy()
    pop = frame[src["insee_pop"]].to_numpy()
    bad(pop < 0, "the population is negative")
    return {
        "code": code_map[codes.cat.codes.to_numpy()], "indicator": ind_idx,
        "year": years.astype(np.int16),
        "count": np.where(published, np.nan_to_num(count, nan=0.0), WITHHELD).astype(np.int32),
        "rate": np.where(published, rate, np.nan),
        "ccount": frame[src["complement_info_nombre"]].to_numpy(dtype=np.float32),
        "crate": frame[src["complement_info_taux"]].to_numpy(dtype=np.float32),
        "pop": np.nan_to_num(pop, nan=-1).round().astype(np.int32),
        "popv": np.nan_to_num(frame[src["insee_pop_millesime"]].to_numpy(), nan=0).astype(
            np.int16),
        "log": np.nan_to_num(frame[src["insee_log"]].to_numpy(), nan=-1).round().astype(
            np.int32),
    }


def _assemble(name: str, sha256: str, layout: str, geography_year: int, spill: store.RowSpill,
              seen: _Seen, out: Path) -> CommuneTable:
    """The second pass: from the spilled rows to the dense arrays in ``out``, one at a time."""
    try:
        nomenclature = edition_of_labels(list(seen.labels))
    except ValueError as exc:
        raise DataFileError(name, f"mixes two indicator nomenclatures: {exc}") from None
    # Sorted codes, catalog-ordered indicators, ascending years.
    raw_codes = np.array(list(seen.codes), dtype=object)
    code_order = np.argsort(raw_codes.astype(str))
    code_rank = np.empty(len(raw_codes), dtype=np.int64)
    code_rank[code_order] = np.arange(len(raw_codes), dtype=np.int64)
    order = {ind.label_fr: i for i, ind in enumerate(catalog(nomenclature))}
    raw_labels = list(seen.labels)
    label_order = sorted(range(len(raw_labels)), key=lambda i: order.get(raw_labels[i], 99))
    label_rank = np.empty(len(raw_labels), dtype=np.int64)
    label_rank[label_order] = np.arange(len(raw_labels), dtype=np.int64)
    years = np.array(sorted(seen.years), dtype=np.int64)
    n_c, n_i, n_y = len(raw_codes), len(raw_labels), len(years)
    n_cells = n_c * n_i * n_y
    if n_cells >= np.iinfo(np.int32).max:
        raise DataFileError(name, f"has too many communes × indicators × years ({n_cells})")
    codes = raw_codes[code_order].astype(str)
    # Each row's cell ([commune, indicator, year] flattened) and [commune, year], spilled.
    filled = np.zeros(n_cells, dtype=bool)
    population = np.full(n_c * n_y, -1, dtype=np.int64)
    vintage = np.zeros(n_c * n_y, dtype=np.int16)
    dwellings = np.full(n_c * n_y, -1, dtype=np.int64)
    cells = spill.add_column("cell", np.int32)
    for start, (c, i, y, pop, popv, dwell) in spill.blocks(
            "code", "indicator", "year", "pop", "popv", "log"):
        ci = code_rank[c]
        yi = np.searchsorted(years, y)
        cell = (ci * n_i + label_rank[i]) * n_y + yi
        twice = _first_repeat(cell, filled)
        if twice is not None:
            _duplicate(name, spill, start, cell, twice, codes, raw_labels, label_order, years,
                       n_i, n_y)
        filled[cell] = True
        cell.astype(np.int32).tofile(cells)
        cy = ci * n_y + yi
        population[cy], vintage[cy], dwellings[cy] = pop, popv, dwell
        del c, i, y, pop, popv, dwell, ci, yi, cell, cy  # one block's arrays at a time
    absent = n_cells - int(filled.sum())
    del filled
    shape = (n_c, n_i, n_y)
    for key, (column, dtype, fill) in _DENSE.items():
        store.fill_dense(out, key, shape, dtype, fill, spill, "cell", column)
    store.save_array(out, "codes", codes)
    store.save_array(out, "years", years)
    store.save_array(out, "population", population.reshape(n_c, n_y))
    store.save_array(out, "population_vintage", vintage.reshape(n_c, n_y))
    store.save_array(out, "dwellings", dwellings.reshape(n_c, n_y))
    if absent:
        log.info("%s: %d commune-indicator-years have no row (shown as not in the file)",
                 name, absent)
    labels = tuple(raw_labels[i] for i in label_order)
    return CommuneTable(
        name=name, sha256=sha256, layout=layout, geography_year=geography_year,
        nomenclature=nomenclature, indicators=labels,
        units=tuple(seen.units_of[lbl] for lbl in labels), store_dir=out,
        **store.open_arrays(out, (*_DENSE, *_SMALL)),
    )


def _first_repeat(cell: np.ndarray, filled: np.ndarray) -> int | None:
    """A cell of this block that an earlier row (this block's or an earlier one's) filled."""
    earlier = filled[cell]
    if earlier.any():
        return int(cell[np.argmax(earlier)])
    ordered = np.sort(cell)
    same = ordered[1:] == ordered[:-1]
    return int(ordered[1:][np.argmax(same)]) if same.any() else None


def _duplicate(name: str, spill: store.RowSpill, start: int, block: np.ndarray, cell: int,
               codes: np.ndarray, raw_labels: list[str], label_order: list[int],
               years: np.ndarray, n_i: int, n_y: int) -> None:
    lines = [start + int(r) + 2 for r in np.flatnonzero(block == cell)]
    for first, (earlier,) in spill.blocks("cell"):
        lines[:0] = [first + int(r) + 2 for r in np.flatnonzero(earlier == cell)]
    lines.sort()
    code = codes[cell // (n_i * n_y)]
    raise DataFileError(
        name, f"duplicate rows for commune {code}, indicator "
        f"'{raw_labels[label_order[(cell // n_y) % n_i]]}', year {years[cell % n_y]} "
        f"(lines {', '.join(map(str, lines[:5]))})", line=int(lines[-1]))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# The cache entry (see commune_store): meta.json and plain .npy arrays, no pickle


def _commit(table: CommuneTable, staging: Path, source: Path, entry: Path) -> None:
    """Write the table's ``meta.json`` into its complete staging directory and make that the
    cache entry of ``source``."""
    store.write_meta(staging, {
        "name": table.name, "sha256": table.sha256, "layout": table.layout,
        "geography_year": table.geography_year, "nomenclature": table.nomenclature,
        "indicators": list(table.indicators), "units": list(table.units),
        "source": str(source.resolve()),
    })
    store.commit(staging, entry, source)


def _open_store(directory: Path, name: str) -> CommuneTable:
    meta = store.read_meta(directory)
    if meta["name"] != name:
        raise ValueError("the cache is for another file")
    return CommuneTable(
        name=str(meta["name"]), sha256=str(meta["sha256"]), layout=str(meta["layout"]),
        geography_year=int(meta["geography_year"]), nomenclature=str(meta["nomenclature"]),
        indicators=tuple(str(x) for x in meta["indicators"]),
        units=tuple(str(x) for x in meta["units"]), store_dir=directory,
        **store.open_arrays(directory, (*_DENSE, *_SMALL)),
    )


def department_of(code: str) -> str:
    """The department of a commune code ('97411' -> '974', '2A004' -> '2A', '33063' -> '33')."""
    return code[:3] if code.startswith("97") else code[:2]


def departments_of(codes: Iterable[str]) -> np.ndarray:
    arr = np.asarray(list(codes), dtype=str)
    return np.where(np.char.startswith(arr, "97"), arr.astype("<U3"), arr.astype("<U2"))


@dataclass(frozen=True)
class CommuneResource:
    """The communal CSV resource of the dataset, as listed by the data.gouv.fr API."""

    url: str
    name: str
    data_year: int
    geography_year: int
    filesize: int | None


def commune_resource(payload: object) -> CommuneResource | None:
    """The newest communal CSV (``.csv.gz`` or ``.csv``) resource of a data.gouv.fr dataset JSON
    document, matched on ``donnee-comm`` in the URL's file name or the title (the Parquet twin is
    skipped); None when there is none. For ``oasis-mcp data update``: validate the download with
    :func:`parse_commune_file` before installing it."""
    resources = payload.get("resources") if isinstance(payload, dict) else None
    found: list[CommuneResource] = []
    for item in resources if isinstance(resources, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        url: str = item["url"]
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        title = str(item.get("title") or "")
        fmt = str(item.get("format") or "").lower()
        for candidate in (name, title):
            match = FILE_NAME_RE.search(candidate)
            lowered = candidate.lower()
            if (match and not match["parquet"] and "parquet" not in fmt
                    and lowered.endswith(CSV_SUFFIXES)):
                size = item.get("filesize")
                found.append(CommuneResource(
                    url, name if name.lower().endswith(CSV_SUFFIXES) else candidate,
                    int(match["year"]), int(match["geo"]),
                    size if isinstance(size, int) and size > 0 else None))
                break
    found.sort(key=lambda r: (r.data_year, r.geography_year, r.name), reverse=True)
    return found[0] if found else None
