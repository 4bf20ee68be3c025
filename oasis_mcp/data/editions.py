"""SSMSI file names and editions.

An *edition* is one publication of the dataset: the departmental file and, when present, the
regional file that share a data year, a geography vintage and a production date, e.g.
``donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

FileLevel = Literal["department", "region"]

FILE_NAME_RE = re.compile(
    r"^donnee-(?P<kind>dep|reg)-data\.gouv-(?P<year>\d{4})-geographie(?P<geo>\d{4})"
    r"-produit-le(?P<produced>\d{4}-\d{2}-\d{2})\.csv$"
)
_KIND_TO_LEVEL: dict[str, FileLevel] = {"dep": "department", "reg": "region"}
#: The official name of the communal file that ``data update`` installs (the gzipped CSV).
COMMUNE_FILE_NAME_RE = re.compile(
    r"donnee-comm-data\.gouv-(?P<year>\d{4})-geographie(?P<geo>\d{4})"
    r"-produit-le(?P<produced>\d{4}-\d{2}-\d{2})\.csv(?:\.gz)?"
)


def is_commune_file_name(name: str) -> bool:
    """Whether ``name`` is, whole, an official communal file name (no path, no odd character)."""
    return COMMUNE_FILE_NAME_RE.fullmatch(name) is not None


@dataclass(frozen=True)
class FileName:
    """What an official file name says."""

    name: str
    level: FileLevel
    data_year: int
    geography_year: int
    produced: date

    @property
    def edition_id(self) -> str:
        return edition_id(self.data_year, self.geography_year, self.produced)


def edition_id(data_year: int, geography_year: int, produced: date) -> str:
    """The edition's identifier, the part of the file names the two levels share."""
    return f"{data_year}-geographie{geography_year}-produit-le{produced.isoformat()}"


def parse_file_name(name: str) -> FileName | None:
    """Read level, data year, geography and production date from an official file name.

    The whole name must match (no trailing newline or other control character)."""
    match = FILE_NAME_RE.fullmatch(name)
    if match is None:
        return None
    try:
        produced = date.fromisoformat(match["produced"])
    except ValueError:
        return None
    return FileName(
        name=name,
        level=_KIND_TO_LEVEL[match["kind"]],
        data_year=int(match["year"]),
        geography_year=int(match["geo"]),
        produced=produced,
    )


@dataclass(frozen=True)
class SourceFile:
    """A data file on disk, with its content hash once read."""

    name: str
    path: Path
    level: FileLevel
    sha256: str = ""


class EditionDescription:
    """Label and ordering of anything that has an edition's data year, geography and date."""

    data_year: int
    geography_year: int
    produced: date

    @property
    def label(self) -> str:
        return (
            f"{self.data_year} data (geography {self.geography_year}), "
            f"produced {self.produced.isoformat()}"
        )

    @property
    def sort_key(self) -> tuple[int, date, int]:
        """Newer data first, then the newer production, then the newer geography."""
        return (self.data_year, self.produced, self.geography_year)


@dataclass(frozen=True)
class Edition(EditionDescription):
    """One edition: its identifier and the files found for it."""

    id: str
    data_year: int
    geography_year: int
    produced: date
    department_file: Path | None = None
    region_file: Path | None = None
    files: tuple[SourceFile, ...] = field(default=())


def discover_editions(directory: Path) -> list[Edition]:
    """Editions whose departmental file is in ``directory``, newest first.

    A regional file without its departmental twin is ignored: departments are the base level.
    """
    if not directory.is_dir():
        return []
    found: dict[str, dict[FileLevel, Path]] = {}
    meta: dict[str, FileName] = {}
    for path in directory.iterdir():
        parsed = parse_file_name(path.name)
        if parsed is None or not path.is_file():
            continue
        found.setdefault(parsed.edition_id, {})[parsed.level] = path
        meta[parsed.edition_id] = parsed
    editions = [
        Edition(
            id=key,
            data_year=meta[key].data_year,
            geography_year=meta[key].geography_year,
            produced=meta[key].produced,
            department_file=paths.get("department"),
            region_file=paths.get("region"),
        )
        for key, paths in found.items()
        if "department" in paths
    ]
    return sorted(editions, key=lambda e: e.sort_key, reverse=True)


def served_edition(directory: Path, editions: list[Edition]) -> tuple[Edition, str]:
    """The edition served by default among ``editions`` (newest first, not empty), and why.

    When ``manifest.json`` names an edition whose departmental file is there, that one
    ("manifest"): ``data update`` writes the manifest after the files are in place, so it is the
    update's commit point (an update killed before it leaves the previous edition served).
    Otherwise, in a directory filled by hand, the newest edition by file name ("newest").
    """
    from oasis_mcp.data.manifest import MANIFEST_NAME, read_manifest  # imports this module

    manifest = read_manifest(directory)
    if manifest is not None:
        for edition in editions:
            if edition.id == manifest.edition:
                return edition, "manifest"
        log.warning("%s names edition %s, whose departmental file is not in %s; serving the "
                    "newest edition found instead", MANIFEST_NAME, manifest.edition, directory)
    return editions[0], "newest"
