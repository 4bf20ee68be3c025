"""``manifest.json``: what ``oasis-mcp data update`` installed in a data directory.

The manifest records the edition, and for each file its official name, level, source URL, sha256,
size and download time (UTC, ISO 8601). It is written atomically (temp file + ``os.replace``), and
it is the only authority for removing files: an update removes the files the previous manifest
listed and the new one does not (neither as current nor as a kept edition), never any other file.

Format 2 (backward compatible with format 1, whose readers ignore the new key)::

    {
      "format": 2,
      "edition": "<id of the current edition>",      # what the server serves by default
      "files": [ {name, level, url, sha256, size, downloaded_at}, ... ],
      "installed_at": "...Z", "source": "api" | "fallback", "dataset_id": "...",
      "regions": "official" | "aggregated", "notes": ["..."],
      "previous": [                                   # kept older editions, newest first
        {"edition": "...", "files": [...], "installed_at": "...Z", "regions": "..."}
      ],
      "referential": {path, version, url, sha256, size, downloaded_at}   # optional
    }

A file's ``level`` is ``department``, ``region`` or ``commune`` (the edition's communal csv.gz,
optional). ``referential`` records ``cog/communes.json`` when ``data update`` installed it.

A format-1 manifest reads as one with no kept edition.

``.oasis-update.state`` (beside it) says how the last update ended: ``running`` (with the time
and pid: if no update holds the lock, it was interrupted, e.g. killed), ``failed`` (with the
message) or ``ok``. It never affects what is served.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from oasis_mcp.data.editions import FileLevel, is_commune_file_name, parse_file_name

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 2
STATE_NAME = ".oasis-update.state"
#: Every temp file an update writes is named ``.oasis-tmp-*.part`` in the target directory.
TEMP_PREFIX = ".oasis-tmp-"
TEMP_SUFFIX = ".part"


#: A manifest file's level: the two SSMSI levels of an edition, and its optional communal file.
ManifestLevel = FileLevel | Literal["commune"]


@dataclass(frozen=True)
class ManifestFile:
    name: str
    level: ManifestLevel
    url: str
    sha256: str
    size: int
    downloaded_at: str


@dataclass(frozen=True)
class KeptEdition:
    """An older edition kept beside the current one (readable on request)."""

    edition: str
    files: tuple[ManifestFile, ...]
    installed_at: str = ""
    regions: str = "official"

    def file(self, level: ManifestLevel) -> ManifestFile | None:
        return next((f for f in self.files if f.level == level), None)

    def to_dict(self) -> dict[str, Any]:
        return {"edition": self.edition, "files": [asdict(f) for f in self.files],
                "installed_at": self.installed_at, "regions": self.regions}


@dataclass(frozen=True)
class Referential:
    """The commune referential installed by ``data update`` (``cog/communes.json``)."""

    path: str  # relative to the data directory: always "cog/communes.json"
    version: str  # the npm package version
    url: str
    sha256: str
    size: int
    downloaded_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    previous: tuple[KeptEdition, ...] = field(default=())  # kept older editions, newest first
    referential: Referential | None = None  # cog/communes.json, when data update installed it

    def file(self, level: ManifestLevel) -> ManifestFile | None:
        return next((f for f in self.files if f.level == level), None)

    def all_files(self) -> tuple[ManifestFile, ...]:
        """The files of the current and of the kept editions."""
        return self.files + tuple(f for kept in self.previous for f in kept.files)

    def as_kept(self) -> KeptEdition:
        return KeptEdition(self.edition, self.files, self.installed_at, self.regions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "edition": self.edition,
            "files": [asdict(f) for f in self.files],
            "installed_at": self.installed_at,
            "source": self.source,
            "dataset_id": self.dataset_id,
            "regions": self.regions,
            "notes": list(self.notes),
            "previous": [kept.to_dict() for kept in self.previous],
            **({"referential": self.referential.to_dict()} if self.referential else {}),
        }


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
    previous = []
    for kept in data.get("previous") or ():
        if isinstance(kept, Mapping) and "edition" in kept:
            previous.append(KeptEdition(
                edition=str(kept["edition"]), files=_files(kept.get("files") or ()),
                installed_at=str(kept.get("installed_at", "")),
                regions=str(kept.get("regions", "official")),
            ))
    return Manifest(
        edition=str(data["edition"]),
        files=_files(data["files"]),
        installed_at=str(data.get("installed_at", "")),
        source=str(data.get("source", "")),
        dataset_id=str(data.get("dataset_id", "")),
        regions=str(data.get("regions", "official")),
        format=int(data.get("format", MANIFEST_FORMAT)),
        notes=tuple(str(n) for n in data.get("notes", ())),
        previous=tuple(previous),
        referential=_referential(data.get("referential")),
    )


def _referential(entry: Any) -> Referential | None:
    if not isinstance(entry, Mapping):
        return None
    try:
        return Referential(path=str(entry["path"]), version=str(entry["version"]),
                           url=str(entry.get("url", "")), sha256=str(entry.get("sha256", "")),
                           size=int(entry.get("size", 0)),
                           downloaded_at=str(entry.get("downloaded_at", "")))
    except (KeyError, TypeError, ValueError):
        return None


def _files(entries: Any) -> tuple[ManifestFile, ...]:
    files = []
    for entry in entries:
        name = str(entry["name"])
        parsed = parse_file_name(name)
        level: ManifestLevel | None = parsed.level if parsed is not None else (
            "commune" if is_commune_file_name(name) else None)
        if level is None or Path(name).name != name:
            log.warning("manifest lists '%s', which is not an official file name; ignored", name)
            continue
        files.append(
            ManifestFile(
                name=name,
                level=level,
                url=str(entry.get("url", "")),
                sha256=str(entry.get("sha256", "")),
                size=int(entry.get("size", 0)),
                downloaded_at=str(entry.get("downloaded_at", "")),
            )
        )
    return tuple(files)


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
        os.chmod(tmp, public_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def public_mode() -> int:
    """The mode a new file gets from the umask (0644 under umask 022). Temp files are created
    0600; installed files get this mode, so that another account (the one running the server)
    can read what an update installed."""
    return 0o666 & ~current_umask()


def current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no other way to read it: set and restore at once
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class UpdateState:
    """How the last update of a directory ended (``.oasis-update.state``)."""

    state: str  # "running", "failed", "ok"
    started_at: str = ""
    finished_at: str = ""
    pid: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_state(directory: Path) -> UpdateState | None:
    try:
        data = json.loads((directory / STATE_NAME).read_text(encoding="utf-8"))
        return UpdateState(state=str(data["state"]), started_at=str(data.get("started_at", "")),
                           finished_at=str(data.get("finished_at", "")),
                           pid=int(data.get("pid", 0)), message=str(data.get("message", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_state(directory: Path, state: UpdateState) -> None:
    """Best effort: a state that cannot be written is logged, never fatal."""
    text = json.dumps(state.to_dict(), ensure_ascii=False) + "\n"
    try:
        atomic_write_bytes(directory / STATE_NAME, text.encode("utf-8"))
    except OSError as exc:
        log.warning("cannot record the update state in %s: %s", directory / STATE_NAME, exc)
