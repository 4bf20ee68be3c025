"""Parsing and validation of the SSMSI departmental and regional CSV files.

The official files are UTF-8 with a BOM, ``;``-separated, every field quoted, decimals written
with a comma, and codes that must stay strings (``01``, ``2A``, ``971``). A file that breaks any
expectation raises one :class:`~oasis_mcp.errors.DataFileError` naming the file, the line and
the problem: nothing is silently turned into NaN or dropped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oasis_mcp.data.editions import FileLevel
from oasis_mcp.data.geography import areas
from oasis_mcp.data.indicators import edition_of_labels, indicator_by_label
from oasis_mcp.errors import DataFileError
from oasis_mcp.text import fold

COMMON_COLUMNS = (
    "annee",
    "indicateur",
    "unite_de_compte",
    "nombre",
    "taux_pour_mille",
    "insee_pop",
    "insee_pop_millesime",
    "insee_log",
    "insee_log_millesime",
)
COLUMNS: dict[FileLevel, tuple[str, ...]] = {
    "department": ("Code_departement", "Code_region", *COMMON_COLUMNS),
    "region": ("Code_region", *COMMON_COLUMNS),
}
CODE_COLUMN: dict[FileLevel, str] = {"department": "Code_departement", "region": "Code_region"}
INTEGER_COLUMNS = ("annee", "nombre", "insee_pop", "insee_pop_millesime", "insee_log",
                   "insee_log_millesime")
MIN_YEAR, MAX_YEAR = 2000, 2100
CHUNK_ROWS = 5_000
"""Rows the fast reader tokenizes at a time (the real departmental file has about 18,000)."""


@dataclass(frozen=True)
class ParsedFile:
    """A validated file: one row per (area, year, indicator), typed columns, and its sha256."""

    name: str
    level: FileLevel
    sha256: str
    frame: pd.DataFrame  # columns: area, region, year, indicator, unit, count, rate_per_1000,
    #                      population, population_vintage, dwellings, dwellings_vintage
    nomenclature: str  # "2025" or "2024": the indicator nomenclature of the edition

    @property
    def years(self) -> tuple[int, int]:
        return int(self.frame["year"].min()), int(self.frame["year"].max())


def read_ssmsi_file(
    path: str | Path, level: FileLevel | None = None, name: str | None = None
) -> ParsedFile:
    """Read and validate one SSMSI departmental or regional CSV file.

    ``level`` is taken from the header when not given (a ``Code_departement`` column means the
    departmental file). ``name`` is the file's name in messages (default: the path's).
    """
    path = Path(path)
    name = name or path.name
    try:
        scan = _scan(path)
        if scan.clean:
            parsed = _read_clean_file(path, scan, name, level)
            if parsed is not None:
                return parsed
        # Anything unusual: the exact checks on the whole content, which name the line.
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(name, f"cannot be read ({exc.strerror or exc})") from None
    return parse_ssmsi_bytes(raw, name, level)


@dataclass(frozen=True)
class _Scan:
    sha256: str
    newlines: int
    first_line: bytes
    clean: bool  # UTF-8, no NUL, no blank line, ends with a newline, not empty


_SCAN_CHUNK = 1 << 20


def _scan(path: Path) -> _Scan:
    """One pass over the file in 1 MiB chunks (never the whole file in memory): its sha256,
    line count and first line, and whether it is clean enough for the fast reader."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines, first, tail, clean, size = 0, b"", b"", True, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if clean:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    clean = False
                joined = tail + chunk
                if b"\x00" in chunk or b"\n\n" in joined or b"\n\r\n" in joined:
                    clean = False
            newlines += chunk.count(b"\n")
            if len(first) < 4096 and b"\n" not in first:
                first += chunk[:4096]
            tail = chunk[-2:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        clean = False
    clean = clean and size > 0 and tail.endswith(b"\n")
    return _Scan(digest.hexdigest(), newlines, first.split(b"\n", 1)[0], clean)


_RENAME: dict[FileLevel, dict[str, str]] = {
    level: {
        CODE_COLUMN[level]: "area", "annee": "year", "indicateur": "indicator",
        "unite_de_compte": "unit", "nombre": "count", "taux_pour_mille": "rate_per_1000",
        "insee_pop": "population", "insee_pop_millesime": "population_vintage",
        "insee_log": "dwellings", "insee_log_millesime": "dwellings_vintage",
        **({"Code_region": "region"} if level == "department" else {}),
    }
    for level in ("department", "region")
}


def _read_clean_file(
    path: Path, scan: _Scan, name: str, level: FileLevel | None
) -> ParsedFile | None:
    """The fast reader: pandas reads the file from disk into typed columns, renamed in place
    (no second copy of the table). None when anything is off: the caller then runs the exact
    checks on the content."""
    header = _read_header(scan.first_line.decode("utf-8-sig").rstrip("\r"), name)
    level = level or ("department" if "Code_departement" in header else "region")
    if any(col not in header for col in COLUMNS[level]) or len(header) != len(COLUMNS[level]):
        return None
    # Text columns are read as categories (a few distinct values: codes, labels, units), then
    # turned into object columns whose cells all point at those few strings: one string object
    # per distinct value, not one per cell (the table's peak memory stays near the file's size).
    dtypes: dict[str, str] = {col: "category" for col in header}
    dtypes.update({col: "int64" for col in INTEGER_COLUMNS})
    dtypes["taux_pour_mille"] = "float64"
    # In chunks of rows, each copied into columns allocated once for the whole file (its line
    # count is known from the scan): pandas' tokenizer keeps a copy of every field of what it
    # reads (about twice the text), and concatenating chunks would hold the table twice.
    rows = scan.newlines - 1
    if rows <= 0:
        return None
    columns = {col: np.empty(rows, dtype=object if dtypes[col] == "category" else dtypes[col])
               for col in header}
    done = 0
    try:
        for chunk in pd.read_csv(path, sep=";", decimal=",", dtype=dtypes, encoding="utf-8-sig",
                                 keep_default_na=False, na_filter=False, chunksize=CHUNK_ROWS):
            n = len(chunk)
            if done + n > rows:
                return None
            for col in header:
                values = chunk[col]
                if dtypes[col] == "category":
                    if values.isna().any() or (values.cat.categories == "").any():
                        return None
                    values = values.astype(object)
                columns[col][done:done + n] = values.to_numpy()
            done += n
            del chunk
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if done != rows:
        return None
    # object columns stay object (pandas 3 would infer its Arrow-backed str: another copy)
    table = pd.DataFrame({col: pd.Series(values, dtype=values.dtype, copy=False)
                          for col, values in columns.items()}, copy=False)
    del columns
    table = table.rename(columns=_RENAME[level])  # labels only: the data is not copied
    if level == "region":
        table["region"] = table["area"]
    _check_ranges(table, name)
    return _validated(table, name, level, scan.sha256)


def _validated(frame: pd.DataFrame, name: str, level: FileLevel, sha256: str) -> ParsedFile:
    nomenclature = _check_indicators(frame, name)
    _check_areas(frame, name, level)
    _check_keys(frame, name)
    return ParsedFile(name=name, level=level, sha256=sha256, frame=frame,
                      nomenclature=nomenclature)


def parse_ssmsi_bytes(raw: bytes, name: str, level: FileLevel | None = None) -> ParsedFile:
    """Validate the content of an SSMSI file given as bytes (see :func:`read_ssmsi_file`)."""
    sha256 = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, name)
    if not text.strip():
        raise DataFileError(name, "the file is empty (no header, no rows); download it again")
    header = _read_header(text, name)
    level = level or ("department" if "Code_departement" in header else "region")
    expected = COLUMNS[level]
    missing = [col for col in expected if col not in header]
    if missing:
        raise DataFileError(
            name,
            f"missing column(s) {', '.join(missing)}; a {level} file has the columns "
            f"{';'.join(expected)}",
            line=1,
        )
    frame = _read_table(text, name, header, level)
    if frame.empty:
        raise DataFileError(name, "the file has a header but no data rows", line=1)
    return _validated(frame, name, level, sha256)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # utf-8-sig counts positions after the BOM it strips: back to offsets in the file.
        offset = exc.start + (len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0)
        line = raw.count(b"\n", 0, offset) + 1
        raise DataFileError(
            name,
            f"is not UTF-8 (byte 0x{raw[offset]:02x} at offset {offset}); the official "
            "files are UTF-8 with a BOM: download the file again instead of re-saving it",
            line=line,
        ) from None


def _read_header(text: str, name: str) -> list[str]:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataFileError(
            name, "contains NUL bytes: this is a binary file, not an SSMSI CSV file", line=line
        )
    first_line = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first_line], delimiter=";"), [])
    except csv.Error as exc:
        raise DataFileError(name, f"the header is not valid CSV ({exc})", line=1) from None
    if len(header) < 2:
        raise DataFileError(
            name,
            "the header is not ';'-separated; expected an SSMSI file such as "
            "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv",
            line=1,
        )
    duplicated = sorted({col for col in header if header.count(col) > 1})
    if duplicated:
        raise DataFileError(name, f"duplicated column(s) {', '.join(duplicated)}", line=1)
    return header


def _read_table(text: str, name: str, header: list[str], level: FileLevel) -> pd.DataFrame:
    """Fast path: let pandas type the columns. Any failure falls back to reading everything as
    text, so that the exact line and column of the problem can be reported."""
    dtypes: dict[str, str] = {col: "object" for col in header}
    dtypes.update({col: "int64" for col in INTEGER_COLUMNS})
    dtypes["taux_pour_mille"] = "float64"
    # pandas silently skips blank lines and lets a quoted field span lines: either would shift the
    # reported line numbers, so such files (and files not ending with a newline, maybe truncated)
    # take the slow path, which checks the structure line by line.
    if not text.endswith("\n") or "\n\n" in text or "\n\r\n" in text:
        return _typed_frame(_read_text_table(text, name, header), name, level)
    try:
        table = pd.read_csv(io.StringIO(text), sep=";", decimal=",", dtype=dtypes,
                            keep_default_na=False, na_filter=False)
    except (ValueError, pd.errors.ParserError):
        return _typed_frame(_read_text_table(text, name, header), name, level)
    if len(table) != text.count("\n") - 1:
        return _typed_frame(_read_text_table(text, name, header), name, level)
    text_cols = [col for col in header if col not in dtypes or dtypes[col] == "object"]
    _check_cells(table[text_cols], name, len(header))
    frame = _frame(table, {c: table[c].to_numpy() for c in INTEGER_COLUMNS},
                   table["taux_pour_mille"].to_numpy(), level)
    _check_ranges(frame, name)
    return frame


def _read_text_table(text: str, name: str, header: list[str]) -> pd.DataFrame:
    _check_structure(text, name, len(header))
    try:
        table = pd.read_csv(io.StringIO(text), sep=";", dtype=object, keep_default_na=False,
                            na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataFileError(name, f"is not a valid ';'-separated CSV file: {exc}") from None
    _check_cells(table, name, len(header))
    return table


def _check_structure(text: str, name: str, n_fields: int) -> None:
    """One record per line, each with the header's number of fields, no blank line, and no quoted
    field left open at the end of the file (a download cut mid-row)."""
    reader = csv.reader(io.StringIO(text), delimiter=";", strict=True)
    line = 0
    last_line = None if text.endswith("\n") else text.count("\n") + 1
    try:
        for fields in reader:
            start, line = line + 1, reader.line_num
            last = line == last_line
            if line != start:
                raise DataFileError(name, "a quoted field spans several lines", line=start)
            if not fields:
                raise DataFileError(name, "empty line; every line must be a data row",
                                    line=line)
            if len(fields) != n_fields:
                detail = "the file is truncated" if last else "file truncated or damaged?"
                if len(fields) > n_fields:
                    detail = "a stray ';' or quote?"
                raise DataFileError(
                    name,
                    f"the row has {len(fields)} fields, the header has {n_fields} ({detail})",
                    line=line,
                )
    except csv.Error as exc:
        line = reader.line_num
        if str(exc).startswith("unexpected end of data"):
            raise DataFileError(
                name, "the file ends inside a quoted field: it is truncated (download it again)",
                line=line,
            ) from None
        raise DataFileError(name, f"malformed CSV ({exc})", line=line) from None


def _check_cells(table: pd.DataFrame, name: str, n_fields: int) -> None:
    # Rows with fewer fields than the header come back padded with missing values.
    _reject_first(table.isna().to_numpy().any(axis=1), name, lambda _: (
        f"the row has fewer than the {n_fields} fields of the header "
        "(file truncated or damaged?)"))
    empty = (table.to_numpy() == "")
    if empty.any():
        row, col = np.argwhere(empty)[0]
        raise DataFileError(
            name, f"column '{table.columns[col]}' is empty; every field must have a value",
            line=int(row) + 2,
        )


def _typed_frame(table: pd.DataFrame, name: str, level: FileLevel) -> pd.DataFrame:
    if table.empty:
        raise DataFileError(name, "the file has a header but no data rows", line=1)
    ints = {col: _to_int(table[col], name, col) for col in INTEGER_COLUMNS}
    rates = _to_decimal(table["taux_pour_mille"], name, "taux_pour_mille")
    frame = _frame(table, ints, rates, level)
    _check_ranges(frame, name)
    return frame


def _frame(
    table: pd.DataFrame, ints: dict[str, np.ndarray], rates: np.ndarray, level: FileLevel
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": table[CODE_COLUMN[level]].to_numpy(dtype=object),
            "region": table["Code_region"].to_numpy(dtype=object),
            "year": ints["annee"],
            "indicator": table["indicateur"].to_numpy(dtype=object),
            "unit": table["unite_de_compte"].to_numpy(dtype=object),
            "count": ints["nombre"],
            "rate_per_1000": rates,
            "population": ints["insee_pop"],
            "population_vintage": ints["insee_pop_millesime"],
            "dwellings": ints["insee_log"],
            "dwellings_vintage": ints["insee_log_millesime"],
        }
    )


def _check_ranges(frame: pd.DataFrame, name: str) -> None:
    years = frame["year"].to_numpy()
    _reject_first((years < MIN_YEAR) | (years > MAX_YEAR), name,
                  lambda row: f"year {years[row]} is outside {MIN_YEAR}–{MAX_YEAR}")
    for col, source in (("count", "nombre"), ("dwellings", "insee_log")):
        values = frame[col].to_numpy()
        _reject_first(values < 0, name,
                      lambda row: f"column '{source}' is negative ({values[row]})")  # noqa: B023
    rates = frame["rate_per_1000"].to_numpy()
    _reject_first(~np.isfinite(rates) | (rates < 0), name,
                  lambda row: f"column 'taux_pour_mille' is not a valid rate ({rates[row]})")
    _reject_first(frame["population"].to_numpy() <= 0, name,
                  lambda _: "column 'insee_pop' must be a positive population")


def _reject_first(bad: np.ndarray | np.bool_, name: str, problem: Callable[[int], str]) -> None:
    """Raise for the first row where ``bad`` holds, naming its line (the header is line 1)."""
    if bad.any():
        row = int(np.argmax(bad))
        raise DataFileError(name, problem(row), line=row + 2)


def _to_int(column: pd.Series, name: str, col: str) -> np.ndarray:
    values = column.to_numpy(dtype=object).astype(str)
    ok = np.char.isdigit(np.char.lstrip(values, "-")) & (np.char.count(values, "-") <= 1)
    ok &= ~np.char.startswith(np.char.lstrip(values, "-"), "-")
    _reject_first(~ok, name, lambda row: f"column '{col}': '{values[row]}' is not a whole number")
    return values.astype(np.int64)


def _to_decimal(column: pd.Series, name: str, col: str) -> np.ndarray:
    values = column.to_numpy(dtype=object).astype(str)
    dotted = np.char.replace(values, ",", ".")
    parsed = pd.to_numeric(pd.Series(dotted), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(parsed) | (np.char.count(values, ",") + np.char.count(values, ".") > 1)
    _reject_first(bad, name, lambda row: (
        f"column '{col}': '{values[row]}' is not a decimal number (expected e.g. 0,0078318)"))
    return parsed


def _check_indicators(frame: pd.DataFrame, name: str) -> str:
    codes, labels = pd.factorize(frame["indicator"].to_numpy())
    _, first_rows = np.unique(codes, return_index=True)
    expected_units = []
    for label, row in zip(labels, first_rows, strict=True):
        info = indicator_by_label(label)
        if info is None:
            raise DataFileError(
                name, f"unknown indicator '{label}'{_closest_label(label)}", line=int(row) + 2
            )
        expected_units.append(info.unit)
    units = frame["unit"].to_numpy()
    _reject_first(units != np.array(expected_units, dtype=object)[codes], name, lambda row: (
        f"indicator '{labels[codes[row]]}' has unit '{units[row]}', "
        f"expected '{expected_units[codes[row]]}'"))
    try:
        return edition_of_labels(list(labels))
    except ValueError as exc:
        raise DataFileError(name, f"mixes two indicator nomenclatures: {exc}") from None


def _closest_label(label: str) -> str:
    from difflib import get_close_matches

    from oasis_mcp.data.indicators import catalog

    known = {fold(ind.label_fr): ind.label_fr for ed in ("2025", "2024") for ind in catalog(ed)}
    close = get_close_matches(fold(label), list(known), n=3, cutoff=0.6)
    if close:
        return "; closest known: " + ", ".join(f"'{known[c]}'" for c in close)
    return "; see `oasis-mcp data info` or list_indicators for the known indicators"


def _check_areas(frame: pd.DataFrame, name: str, level: FileLevel) -> None:
    known = {a.code: a for a in areas(level)}
    codes = frame["area"].to_numpy()
    for code in pd.unique(codes):
        if code not in known:
            line = int(np.argmax(codes == code)) + 2
            sample = ", ".join(sorted(known)[:6])
            raise DataFileError(
                name,
                f"unknown {level} code '{code}' (codes are strings such as {sample}, …)",
                line=line,
            )
    if level == "department":
        idx, uniques = pd.factorize(codes)
        expected = np.array([known[c].region_code for c in uniques], dtype=object)[idx]
        regions = frame["region"].to_numpy()
        _reject_first(regions != expected, name, lambda row: (
            f"department {codes[row]} is given region {regions[row]}, "
            f"but it belongs to region {expected[row]}"))


def _check_keys(frame: pd.DataFrame, name: str) -> None:
    keys = frame[["area", "year", "indicator"]]
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = rows[0]
        same = rows[(keys.iloc[rows] == keys.iloc[first]).all(axis=1).to_numpy()]
        raise DataFileError(
            name,
            f"duplicate row for area {frame['area'].iat[first]}, year {frame['year'].iat[first]}, "
            f"indicator '{frame['indicator'].iat[first]}' (lines "
            f"{', '.join(str(r + 2) for r in same)})",
            line=int(same[-1]) + 2,
        )
    n_areas = frame["area"].nunique()
    n_years = frame["year"].nunique()
    n_ind = frame["indicator"].nunique()
    if n_areas * n_years * n_ind != len(frame):
        counts = frame.groupby(["area", "indicator"]).size()
        lacking = counts[counts < n_years]
        detail = ""
        if len(lacking):
            (area, indicator), got = lacking.index[0], int(lacking.iloc[0])
            have = set(frame.loc[(frame["area"] == area) & (frame["indicator"] == indicator),
                                 "year"])
            years = sorted(set(frame["year"]) - have)
            detail = (f": area {area}, indicator '{indicator}' has {got} of {n_years} years "
                      f"(missing {', '.join(map(str, years))})")
        else:
            pairs = frame.groupby("area")["indicator"].nunique()
            area = pairs.idxmin()
            detail = f": area {area} has {int(pairs.min())} of {n_ind} indicators"
        raise DataFileError(
            name,
            f"incomplete table, {len(frame)} rows instead of {n_areas} areas × {n_years} years "
            f"× {n_ind} indicators = {n_areas * n_years * n_ind}{detail} (file truncated?)",
        )
