"""The SSMSI parser: the real files, every kind of broken file, and arbitrary input (Hypothesis)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    DEP_2024,
    DEP_2025,
    DEP_COLUMNS,
    REAL_SHA256,
    REG_2024,
    SyntheticEdition,
    iter_csv,
    render,
    render_lines,
    row_fields,
    synthetic_edition,
    synthetic_rows,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oasis_mcp.data.parsing import ParsedFile, parse_ssmsi_bytes, read_ssmsi_file
from oasis_mcp.errors import DataFileError

NAME = "donnee-dep-data.gouv-2023-geographie2023-produit-le2024-01-15.csv"


# -- the real files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dep_2025(real_data_dir: Path) -> ParsedFile:
    return read_ssmsi_file(real_data_dir / DEP_2025)


def test_real_2025_departmental_file(dep_2025: ParsedFile) -> None:
    frame = dep_2025.frame
    assert dep_2025.name == DEP_2025
    assert dep_2025.level == "department"
    assert dep_2025.nomenclature == "2025"
    assert dep_2025.sha256 == REAL_SHA256[DEP_2025]
    assert len(frame) == 18_180
    assert frame["area"].nunique() == 101
    assert frame["indicator"].nunique() == 18
    assert dep_2025.years == (2016, 2025)
    assert sorted(frame["year"].unique()) == list(range(2016, 2026))
    assert {"01", "2A", "2B", "971", "976", "75", "06"} <= set(frame["area"])
    assert all(isinstance(code, str) for code in frame["area"].unique())
    assert frame.groupby("indicator").size().eq(1010).all()
    assert not frame.duplicated(["area", "year", "indicator"]).any()


def test_real_2025_values_match_an_independent_csv_reading(
    real_data_dir: Path, dep_2025: ParsedFile
) -> None:
    raw = (real_data_dir / DEP_2025).read_bytes()
    lines = list(iter_csv(raw))
    assert tuple(lines[0]) == DEP_COLUMNS and len(lines) == 18_181
    frame = dep_2025.frame.set_index(["area", "year", "indicator"])
    picks = random.Random(20260122).sample(range(1, len(lines)), 40)
    for i in picks:
        f = lines[i]
        row = frame.loc[(f[0], int(f[2]), f[3])]
        assert row["region"] == f[1]
        assert row["unit"] == f[4]
        assert row["count"] == int(f[5])
        assert row["rate_per_1000"] == pytest.approx(float(f[6].replace(",", ".")), abs=1e-12)
        assert row["population"] == int(f[7])
        assert row["population_vintage"] == int(f[8])
        assert row["dwellings"] == int(f[9])
        assert row["dwellings_vintage"] == int(f[10])
    # the same rows, in file order
    first = dep_2025.frame.iloc[picks[0] - 1]
    assert (first["area"], str(first["year"]), first["indicator"]) == (
        lines[picks[0]][0], lines[picks[0]][2], lines[picks[0]][3])


@pytest.mark.parametrize("chunk", [401, 997, 18_179, 18_180, 100_000])
def test_fast_reader_in_chunks_equals_the_exact_reader(
    real_data_dir: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast reader tokenizes the file in chunks copied into columns allocated once: with
    any chunk size (odd sizes, one row short of the file, the file, more) the table
    is the exact reader's, cell for cell, and its text columns stay plain object columns."""
    from oasis_mcp.data import parsing

    raw = (real_data_dir / DEP_2025).read_bytes()
    exact = parse_ssmsi_bytes(raw, DEP_2025).frame
    monkeypatch.setattr(parsing, "CHUNK_ROWS", chunk)
    fast = read_ssmsi_file(real_data_dir / DEP_2025).frame
    assert list(fast.columns) == list(exact.columns) and len(fast) == len(exact)
    for col in fast.columns:
        if exact[col].dtype.kind in "iuf":
            assert fast[col].dtype == exact[col].dtype, col
            assert (fast[col].to_numpy() == exact[col].to_numpy()).all(), col
        else:
            assert fast[col].dtype == object, col
            assert (fast[col].to_numpy() == exact[col].astype(object).to_numpy()).all(), col


@pytest.mark.parametrize(
    ("name", "level", "rows", "areas"),
    [(DEP_2024, "department", 15_453, 101), (REG_2024, "region", 2_754, 18)],
)
def test_real_2024_files(real_data_dir: Path, name: str, level: str, rows: int, areas: int) -> None:
    parsed = read_ssmsi_file(real_data_dir / name)  # level read from the header
    assert parsed.level == level
    assert parsed.nomenclature == "2024"
    assert len(parsed.frame) == rows
    assert parsed.frame["area"].nunique() == areas
    assert parsed.frame["indicator"].nunique() == 17
    assert parsed.years == (2016, 2024)
    assert parsed.sha256 == REAL_SHA256[name]


def test_real_2024_region_codes_are_strings(real_data_dir: Path) -> None:
    parsed = read_ssmsi_file(real_data_dir / REG_2024, "region")
    assert sorted(parsed.frame["area"].unique()) == [
        "01", "02", "03", "04", "06", "11", "24", "27", "28", "32", "44", "52", "53", "75", "76",
        "84", "93", "94"]


# -- broken files --------------------------------------------------------------------------------

Lines = list[list[str]]


def _lines(edition: SyntheticEdition) -> Lines:
    return [list(DEP_COLUMNS), *(row_fields(r, "department") for r in edition.rows)]


def _drop_column(lines: Lines, column: str) -> Lines:
    i = lines[0].index(column)
    return [line[:i] + line[i + 1:] for line in lines]


def _set(lines: Lines, index: int, column: str, value: str) -> Lines:
    lines[index][DEP_COLUMNS.index(column)] = value
    return lines


def _first_line_of(lines: Lines, indicator: str) -> int:
    return next(i for i, line in enumerate(lines) if line[3] == indicator)


# case -> (mutation of the lines, expected text in the message, expected line or None)
BROKEN: dict[str, tuple[Callable[[Lines], Lines], str, int | None]] = {
    "missing column": (lambda ls: _drop_column(ls, "insee_log"), "missing column(s) insee_log", 1),
    "unparsable count": (lambda ls: _set(ls, 5, "nombre", "12a"), "'12a' is not a whole number",
                         6),
    "unparsable rate": (lambda ls: _set(ls, 7, "taux_pour_mille", "0,00x1"),
                        "'0,00x1' is not a decimal number", 8),
    "unparsable population": (lambda ls: _set(ls, 9, "insee_pop", "1 234"),
                              "'1 234' is not a whole number", 10),
    "duplicate key": (lambda ls: [*ls, list(ls[3])], "duplicate row", None),  # line set below
    "unknown indicator": (lambda ls: _set(ls, 10, "indicateur", "Vols de bicyclettes"),
                          "unknown indicator 'Vols de bicyclettes'", 11),
    "wrong unit": (lambda ls: _set(ls, 2, "unite_de_compte", "Victime"),
                   "has unit 'Victime', expected 'Infraction'", 3),
    "unknown department code": (lambda ls: _set(ls, 4, "Code_departement", "99"),
                                "unknown department code '99'", 5),
    "code without leading zero": (lambda ls: _set(ls, 4, "Code_departement", "1"),
                                  "unknown department code '1'", 5),
    "wrong region of a department": (lambda ls: _set(ls, 4, "Code_region", "11"),
                                     "belongs to region", 5),
    "row with a missing field": (lambda ls: [*ls[:6], ls[6][:-1], *ls[7:]],
                                 "the row has 10 fields, the header has 11", 7),
    "row with an extra field": (lambda ls: [*ls[:6], [*ls[6], "x"], *ls[7:]],
                                "the row has 12 fields, the header has 11", 7),
    "empty cell": (lambda ls: _set(ls, 8, "insee_pop", ""), "is empty", 9),
    "year out of range": (lambda ls: _set(ls, 3, "annee", "1899"), "outside", 4),
    "negative count": (lambda ls: _set(ls, 3, "nombre", "-3"), "negative", 4),
    "missing row": (lambda ls: [*ls[:20], *ls[21:]], "incomplete table", None),
    "mixed nomenclatures": (
        # "Vols de véhicule" exists only in 2025, "Escroqueries" only in 2024
        lambda ls: [[*line[:3], "Escroqueries", *line[4:]] if line[3] == "Homicides"
                    else line for line in ls],
        "two indicator nomenclatures", None),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_names_file_and_line(synthetic: SyntheticEdition, case: str) -> None:
    mutate, expected, line = BROKEN[case]
    lines = mutate(_lines(synthetic))
    if case == "duplicate key":
        line = len(lines)
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(render_lines(lines), NAME, "department")
    error = info.value
    assert error.file == NAME
    assert expected in str(error)
    assert str(error).startswith(NAME)
    assert error.line == line
    if line is not None:
        assert f"{NAME}, line {line}:" in str(error)


def test_blank_line_is_reported_not_skipped(synthetic: SyntheticEdition) -> None:
    lines = synthetic.dep_bytes.split(b"\n")
    raw = b"\n".join([*lines[:6], b"", *lines[6:]])
    with pytest.raises(DataFileError, match="empty line") as info:
        parse_ssmsi_bytes(raw, NAME)
    assert info.value.line == 7


def test_duplicate_key_lists_both_lines(synthetic: SyntheticEdition) -> None:
    lines = _lines(synthetic)
    lines.append(list(lines[3]))
    with pytest.raises(DataFileError, match=rf"lines 4, {len(lines)}\)"):
        parse_ssmsi_bytes(render_lines(lines), NAME)


def test_truncated_mid_row(synthetic: SyntheticEdition) -> None:
    raw = synthetic.dep_bytes
    cut = raw.index(b"Homicides", len(raw) // 2) + 4  # inside a quoted field
    truncated = raw[:cut]
    last_line = truncated.count(b"\n") + 1
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(truncated, NAME, "department")
    assert info.value.file == NAME
    assert info.value.line == last_line, str(info.value)
    assert "truncated" in str(info.value)


def test_truncated_mid_row_between_fields(synthetic: SyntheticEdition) -> None:
    raw = synthetic.dep_bytes
    cut = raw.index(b'";"', len(raw) // 2) + 1  # after a closing quote: fewer fields
    truncated = raw[:cut]
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(truncated, NAME, "department")
    assert info.value.line == truncated.count(b"\n") + 1, str(info.value)


def test_truncated_at_a_row_boundary_is_an_incomplete_table(synthetic: SyntheticEdition) -> None:
    raw = synthetic.dep_bytes
    truncated = raw[: raw.rindex(b"\n", 0, len(raw) // 2) + 1]
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(truncated, NAME, "department")
    message = str(info.value)
    assert info.value.file == NAME
    assert "incomplete table" in message and "truncated" in message
    assert "missing" in message  # says which area/indicator lacks which years


def test_latin1_file(synthetic: SyntheticEdition) -> None:
    text = synthetic.dep_bytes.decode("utf-8-sig")
    raw = text.encode("latin-1")
    first_accent = next(i for i, line in enumerate(text.split("\n"), start=1)
                        if any(ord(ch) > 127 for ch in line))
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(raw, NAME)
    assert "is not UTF-8" in str(info.value)
    assert info.value.line == first_accent


def test_invalid_byte_is_located_in_the_file_itself(synthetic: SyntheticEdition) -> None:
    raw = synthetic.dep_bytes
    assert raw.startswith(b"\xef\xbb\xbf")  # official files have a BOM
    damaged = raw + b"\xd8garbage"
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(damaged, NAME)
    assert f"byte 0xd8 at offset {len(raw)}" in str(info.value)
    assert info.value.line == raw.count(b"\n") + 1


@pytest.mark.parametrize("raw", [b"", b"\xef\xbb\xbf", b"\n\n", b"   \r\n"])
def test_empty_file(raw: bytes) -> None:
    with pytest.raises(DataFileError, match="empty") as info:
        parse_ssmsi_bytes(raw, NAME)
    assert info.value.file == NAME


def test_header_only() -> None:
    with pytest.raises(DataFileError, match="no data rows") as info:
        parse_ssmsi_bytes(render_lines([DEP_COLUMNS]), NAME)
    assert info.value.line == 1


def test_comma_separated_file(synthetic: SyntheticEdition) -> None:
    raw = synthetic.dep_bytes.replace(b'";"', b'","')
    with pytest.raises(DataFileError) as info:
        parse_ssmsi_bytes(raw, NAME)
    assert info.value.line == 1 and "';'" in str(info.value)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot be read") as info:
        read_ssmsi_file(tmp_path / NAME)
    assert info.value.file == NAME


def test_region_file_is_recognised_from_its_header(synthetic: SyntheticEdition) -> None:
    parsed = parse_ssmsi_bytes(synthetic.reg_bytes, synthetic.reg_name)
    assert parsed.level == "region"
    assert sorted(parsed.frame["area"].unique()) == ["01", "53", "84", "94"]
    assert parsed.years == (2016, 2023)


def test_crlf_line_endings_are_accepted(synthetic: SyntheticEdition) -> None:
    parsed = parse_ssmsi_bytes(synthetic.dep_bytes.replace(b"\n", b"\r\n"), NAME)
    assert len(parsed.frame) == len(synthetic.rows)


# -- properties ----------------------------------------------------------------------------------

SMALL = synthetic_edition(2017, departments={"01": "84", "2A": "94", "971": "01"})
SMALL_LINES = SMALL.dep_bytes.decode("utf-8-sig").split("\n")


def _parse_or_error(raw: bytes, level: str | None = "department") -> ParsedFile | None:
    try:
        parsed = parse_ssmsi_bytes(raw, NAME, level)  # type: ignore[arg-type]
    except DataFileError as exc:
        assert exc.file == NAME
        assert exc.line is None or exc.line >= 1
        return None
    frame = parsed.frame
    keys = frame[["area", "year", "indicator"]]
    assert not keys.duplicated().any()
    assert len(frame) == (frame["area"].nunique() * frame["year"].nunique()
                          * frame["indicator"].nunique())
    return parsed


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
@example(raw=b"\r\x00")  # once crashed the header reader with a csv.Error
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    _parse_or_error(raw)
    _parse_or_error(raw, None)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from('";,\n\r0123456789abAé-. '), max_size=400))
def test_header_followed_by_arbitrary_text_never_crashes(tail: str) -> None:
    header = SMALL_LINES[0] + "\n"
    _parse_or_error((header + tail).encode("utf-8"))


_line_index = st.integers(min_value=0, max_value=len(SMALL_LINES) - 1)
_mutation = st.one_of(
    st.tuples(st.just("delete"), _line_index, st.just("")),
    st.tuples(st.just("duplicate"), _line_index, st.just("")),
    st.tuples(st.just("replace"), _line_index, st.text(max_size=40)),
    st.tuples(st.just("field"), _line_index, st.text(max_size=12)),
    st.tuples(st.just("insert"), _line_index, st.text(max_size=60)),
    st.tuples(st.just("cut"), _line_index, st.text(max_size=0)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutation, min_size=1, max_size=4), st.integers(0, 10))
@example(mutations=[("cut", 1, ""), ("delete", 1, "")], field=0)  # header left alone: crashed
def test_mutated_lines_never_crash(mutations: list[tuple[str, int, str]], field: int) -> None:
    lines = list(SMALL_LINES)
    for kind, i, text in mutations:
        i %= len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "replace":
            lines[i] = text
        elif kind == "field":
            fields = lines[i].split(";")
            fields[field % len(fields)] = text
            lines[i] = ";".join(fields)
        elif kind == "insert":
            lines.insert(i, text)
        elif kind == "cut":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: len(lines[-1]) // 2]
        if not lines:
            lines = [""]
    _parse_or_error(("\n".join(lines)).encode("utf-8"))


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["01", "03", "13", "29", "2A", "2B", "59", "971", "976"]),
                    st.just(""), min_size=1, max_size=5),
    st.integers(2016, 2024),
    st.integers(1, 4),
    st.integers(0, 2**16),
)
def test_valid_grids_round_trip(
    codes: dict[str, str], first_year: int, n_years: int, seed: int
) -> None:
    regions = {"01": "84", "03": "84", "13": "93", "29": "53", "2A": "94", "2B": "94",
               "59": "32", "971": "01", "976": "06"}
    rows = synthetic_rows({c: regions[c] for c in codes},
                          years=range(first_year, first_year + n_years), seed=seed)
    parsed = parse_ssmsi_bytes(render(rows), NAME, "department")
    assert len(parsed.frame) == len(rows)
    for row, (_, got) in zip(rows, parsed.frame.iterrows(), strict=True):
        assert (got["area"], got["region"], got["year"], got["indicator"], got["unit"]) == (
            row.area, row.region, row.year, row.indicator, row.unit)
        assert (got["count"], got["population"], got["dwellings"]) == (
            row.count, row.population, row.dwellings)
        assert math.isclose(got["rate_per_1000"], round(row.rate, 7), abs_tol=1e-9)
