"""``manifest.json``: what ``oasis-mcp data update`` installed in a data directory.

The manifest records the edition, and for each file its official name, level, source URL, sha256,
size and download time (UTC, ISO 8601). It is written atomically (temp file + ``os.replace``), and
it is the only authority for removing files: an update removes the files the previous manifest
listed and the new edition does not use, never any other file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oasis_mcp.data.editions import FileLevel, parse_file_name

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
#: Every temp file an update writes is named ``.oasis-tmp-*.part`` in the target directory.
TEMP_PREFIX = ".oasis-tmp-"
TEMP_SUFFIX = ".part"


@dataclass(frozen=True)
class ManifestFile:
    name: str
    level: FileLevel
    url: str
    sha256: str
    size: int
    downloaded_at: str


@dataclass(frozen=True)
class Manifest:
    edition: str
    files: tuple[ManifestFile, ...]
    installed_at: str
    source: str  # "api" or "fallback"
    dataset_id: str = ""
    regions: str = "official"  # "official" (regional file installed) or "aggregated"
    format: int = MANIFEST_FORMAT
    notes: tuple[str, ...] = field(default=())

    def file(self, level: FileLevel) -> ManifestFile | None:
        return next((f for f in self.files if f.level == level), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        data["notes"] = list(self.notes)
        return data


def manifest_path(directory: Path) -> Path:
    return directory / MANIFEST_NAME


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of ``directory``, or None when absent or unreadable (logged as a warning).

    File entries whose names are not official SSMSI file names are dropped, so that a damaged or
    hand-edited manifest can never make an update delete an unrelated file.
    """
    path = manifest_path(directory)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s (%s); treating the directory as unmanaged", path, exc)
        return None
    try:
        return manifest_from_dict(json.loads(raw.decode("utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return None


def manifest_from_dict(data: Mapping[str, Any]) -> Manifest:
    files = []
    for entry in data["files"]:
        name = str(entry["name"])
        parsed = parse_file_name(name)
        if parsed is None or Path(name).name != name:
            log.warning("manifest lists '%s', which is not an official file name; ignored", name)
            continue
        files.append(
            ManifestFile(
                name=name,
                level=parsed.level,
                url=str(entry.get("url", "")),
                sha256=str(entry.get("sha256", "")),
                size=int(entry.get("size", 0)),
                downloaded_at=str(entry.get("downloaded_at", "")),
            )
        )
    return Manifest(
        edition=str(data["edition"]),
        files=tuple(files),
        installed_at=str(data.get("installed_at", "")),
        source=str(data.get("source", "")),
        dataset_id=str(data.get("dataset_id", "")),
        regions=str(data.get("regions", "official")),
        format=int(data.get("format", MANIFEST_FORMAT)),
        notes=tuple(str(n) for n in data.get("notes", ())),
    )


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically and return its path."""
    text = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n"
    return atomic_write_bytes(manifest_path(directory), text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, flush it, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.",
                               suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
