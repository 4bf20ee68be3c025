"""Shared fixtures: the real SSMSI files, and builders of small synthetic files in the official
format.

The real files are never copied into the repository: tests read them from the shared data directory
(``OASIS_DATA_DIR``, default ``<repo>/../shared/data``) and skip when it is absent.

Synthetic files follow the official format exactly (UTF-8 with a BOM, ``;``, every field quoted,
decimal comma with 7 decimals, LF, final newline) with real department codes and a complete grid
(every area × indicator × year), so that the parser accepts them; tests then break them on purpose.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

DEP_2025 = "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv"
DEP_2024 = "donnee-dep-data.gouv-2024-geographie2024-produit-le2025-01-26.csv"
REG_2024 = "donnee-reg-data.gouv-2024-geographie2024-produit-le2025-01-26.csv"
REAL_FILES = (DEP_2025, DEP_2024, REG_2024)
#: sha256 of the real files, as documented in SOURCES.md.
REAL_SHA256 = {
    DEP_2025: "c6258f16e11533c46afb9c458ce767b40bbaa91cbe99aefab1080e592fcddfc7",
    DEP_2024: "d59867b002106bc7cd768483a920ca1b9fb18870d93efb7198945185ea8a816c",
    REG_2024: "4efe707fe1a233014f9efe8a224b733154e16fd6e472c7246116c912713fe003",
}

DEP_COLUMNS = (
    "Code_departement", "Code_region", "annee", "indicateur", "unite_de_compte", "nombre",
    "taux_pour_mille", "insee_pop", "insee_pop_millesime", "insee_log", "insee_log_millesime",
)
REG_COLUMNS = DEP_COLUMNS[1:]

#: Real department codes (COG 2025) and their regions, covering Corsica and an overseas one.
SYNTH_DEPARTMENTS: dict[str, str] = {
    "01": "84", "03": "84", "29": "53", "2A": "94", "2B": "94", "971": "01",
}
#: A few 2025-nomenclature indicators (label, unit), one per kind of denominator/unit.
SYNTH_INDICATORS: tuple[tuple[str, str], ...] = (
    ("Cambriolages de logement", "Infraction"),
    ("Homicides", "Victime"),
    ("Trafic de stupéfiants", "Mis en cause"),
    ("Vols de véhicule", "Véhicule"),
)
BURGLARY = "Cambriolages de logement"


# -- real data ----------------------------------------------------------------------------------


def _real_data_dir() -> Path:
    env = os.environ.get("OASIS_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


# The README's test command is `python -m pytest` with OASIS_DATA_DIR defaulting to
# ../shared/data: export that default, as CI does, so that the servers, replicas and CLI runs the
# tests start as subprocesses read the same files as the tests themselves.
if "OASIS_DATA_DIR" not in os.environ and _real_data_dir().is_dir():
    os.environ["OASIS_DATA_DIR"] = str(_real_data_dir())


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The directory of the real SSMSI files (skips the test when they are not there)."""
    directory = _real_data_dir()
    missing = [name for name in REAL_FILES if not (directory / name).is_file()]
    if missing:
        message = (
            f"real SSMSI files not found in {directory} (missing {', '.join(missing)}); "
            "set OASIS_DATA_DIR to the shared data directory"
        )
        if os.environ.get("CI"):  # CI has the files: a skip there would hide a broken setup
            pytest.fail(message)
        pytest.skip(message)
    return directory


@pytest.fixture(scope="session")
def edition_2025_dir(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The newest real edition alone, with the real GeoJSON folder (symlinks, not copies)."""
    directory = tmp_path_factory.mktemp("edition-2025")
    (directory / DEP_2025).symlink_to(real_data_dir / DEP_2025)
    if (real_data_dir / "geo").is_dir():
        (directory / "geo").symlink_to(real_data_dir / "geo")
    return directory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data.gouv.fr API and fallback URLs at a closed local port, so that a test that
    forgets to pass its own URLs can never reach the Internet."""
    closed = "http://127.0.0.1:9"
    monkeypatch.setenv("OASIS_DATAGOUV_API", f"{closed}/api/1/datasets/none/")
    monkeypatch.setenv("OASIS_DATAGOUV_FALLBACK_URLS", f"{closed}/none/{DEP_2025}")


# -- synthetic files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One data row, at department level (``area`` = department) or region level."""

    area: str
    region: str
    year: int
    indicator: str
    unit: str
    count: int
    population: int
    population_vintage: int
    dwellings: int
    dwellings_vintage: int

    @property
    def denominator(self) -> int:
        return self.dwellings if self.indicator == BURGLARY else self.population

    @property
    def rate(self) -> float:
        return self.count / self.denominator * 1000


def synthetic_rows(
    departments: dict[str, str] | None = None,
    indicators: Sequence[tuple[str, str]] = SYNTH_INDICATORS,
    years: Iterable[int] = range(2016, 2026),
    seed: int = 0,
) -> list[Row]:
    """A complete departmental grid (department × year × indicator), deterministic for a seed."""
    departments = SYNTH_DEPARTMENTS if departments is None else departments
    rng = random.Random(seed)
    base_pop = {code: rng.randint(150_000, 1_500_000) for code in departments}
    rows = []
    for year in years:
        for indicator, unit in indicators:
            for code, region in departments.items():
                population = base_pop[code] + 1000 * (year - 2016)
                rows.append(Row(
                    area=code, region=region, year=year, indicator=indicator, unit=unit,
                    count=rng.randint(0, 5000), population=population,
                    population_vintage=year - 2, dwellings=population // 2,
                    dwellings_vintage=year - 3,
                ))
    return rows


def regional_rows(rows: Iterable[Row]) -> list[Row]:
    """Regional rows as the SSMSI would publish them: sums of the departments' counts and
    denominators (the real regional "Mis en cause" figures can be lower)."""
    sums: dict[tuple[str, int, str], Row] = {}
    for row in rows:
        key = (row.region, row.year, row.indicator)
        if key not in sums:
            sums[key] = replace(row, area=row.region)
        else:
            acc = sums[key]
            sums[key] = replace(
                acc, count=acc.count + row.count, population=acc.population + row.population,
                dwellings=acc.dwellings + row.dwellings,
            )
    return list(sums.values())


def format_rate(value: float) -> str:
    return f"{value:.7f}".replace(".", ",")


def row_fields(row: Row, level: str) -> list[str]:
    fields = [
        str(row.year), row.indicator, row.unit, str(row.count), format_rate(row.rate),
        str(row.population), str(row.population_vintage), str(row.dwellings),
        str(row.dwellings_vintage),
    ]
    codes = [row.area, row.region] if level == "department" else [row.region]
    return codes + fields


def render_lines(lines: Iterable[Sequence[str]], bom: bool = True) -> bytes:
    """CSV text in the official style from lists of fields (the first one being the header)."""
    text = "".join('"' + '";"'.join(fields) + '"\n' for fields in lines)
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def render(rows: Iterable[Row], level: str = "department") -> bytes:
    header = DEP_COLUMNS if level == "department" else REG_COLUMNS
    return render_lines([header, *(row_fields(r, level) for r in rows)])


def file_name(level: str, data_year: int, geography_year: int, produced: str) -> str:
    kind = "dep" if level == "department" else "reg"
    return (f"donnee-{kind}-data.gouv-{data_year}-geographie{geography_year}"
            f"-produit-le{produced}.csv")


@dataclass(frozen=True)
class SyntheticEdition:
    """A consistent departmental + regional pair of synthetic files, with official names."""

    data_year: int
    geography_year: int
    produced: str
    rows: tuple[Row, ...]

    @property
    def edition_id(self) -> str:
        return f"{self.data_year}-geographie{self.geography_year}-produit-le{self.produced}"

    @property
    def dep_name(self) -> str:
        return file_name("department", self.data_year, self.geography_year, self.produced)

    @property
    def reg_name(self) -> str:
        return file_name("region", self.data_year, self.geography_year, self.produced)

    @property
    def dep_bytes(self) -> bytes:
        return render(self.rows, "department")

    @property
    def reg_bytes(self) -> bytes:
        return render(regional_rows(self.rows), "region")


def synthetic_edition(
    data_year: int = 2023,
    produced: str | None = None,
    geography_year: int | None = None,
    seed: int = 0,
    **kwargs: object,
) -> SyntheticEdition:
    rows = synthetic_rows(years=range(2016, data_year + 1), seed=seed, **kwargs)  # type: ignore[arg-type]
    return SyntheticEdition(
        data_year=data_year,
        geography_year=geography_year or data_year,
        produced=produced or f"{data_year + 1}-01-15",
        rows=tuple(rows),
    )


def regional_bytes_from_departmental(raw: bytes) -> bytes:
    """A regional file built from a departmental one by summing per region (for the real 2025
    edition, whose regional file is not available here). Built in memory, never stored."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")
    header = next(reader)
    assert tuple(header) == DEP_COLUMNS, header
    rows = [
        Row(area=f[0], region=f[1], year=int(f[2]), indicator=f[3], unit=f[4], count=int(f[5]),
            population=int(f[7]), population_vintage=int(f[8]), dwellings=int(f[9]),
            dwellings_vintage=int(f[10]))
        for f in reader
    ]
    return render(regional_rows(rows), "region")


def iter_csv(raw: bytes) -> Iterator[list[str]]:
    """The rows of an official file (header included), read with the ``csv`` module."""
    yield from csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")


@pytest.fixture(scope="session")
def synthetic() -> SyntheticEdition:
    """A small valid edition: 6 departments (4 regions), 4 indicators, 2016–2023."""
    return synthetic_edition()
