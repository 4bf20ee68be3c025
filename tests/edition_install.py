"""Install an edition into a data directory the way ``oasis-mcp data update`` does, without the
download: for the freshness tests, which install editions underneath a running server.

The steps are those of :class:`oasis_mcp.data.download._Updater`'s install (its ``_install`` needs
a whole updater with an HTTP client, so it is not reused): every file is written to a temp file
``.oasis-tmp-*.part`` in the target directory and fsynced, renamed into place with ``os.replace``
(regional file first), then ``manifest.json`` is written atomically with
:func:`oasis_mcp.data.manifest.write_manifest`, naming the edition; only then are the previous
manifest's files that the new edition does not use removed (when ``remove_previous``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from oasis_mcp.data import datagouv
from oasis_mcp.data.editions import parse_file_name
from oasis_mcp.data.manifest import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    Manifest,
    ManifestFile,
    read_manifest,
    write_manifest,
)


def write_temp(directory: Path, data: bytes) -> Path:
    """A temp file of an update, fsynced (what a download leaves before the rename)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(name)


def move_into_place(directory: Path, files: dict[str, bytes]) -> None:
    """Steps 2 and 4 of an update without the manifest: temp files, then renames (regional
    first). An update killed right after this leaves exactly this state."""
    temps = {name: write_temp(directory, data) for name, data in files.items()}
    for name in sorted(files, key=lambda n: "-dep-" in n):  # regional file first
        os.replace(temps[name], directory / name)


def manifest_for(files: dict[str, bytes]) -> Manifest:
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    entries = []
    edition = None
    for name in sorted(files, key=lambda n: "-dep-" not in n):
        parsed = parse_file_name(name)
        assert parsed is not None, name
        edition = parsed.edition_id
        data = files[name]
        entries.append(ManifestFile(name, parsed.level, f"https://static.data.gouv.fr/{name}",
                                    hashlib.sha256(data).hexdigest(), len(data), now))
    assert edition is not None
    regions = "official" if any(e.level == "region" for e in entries) else "aggregated"
    return Manifest(edition=edition, files=tuple(entries), installed_at=now, source="api",
                    dataset_id=datagouv.DATASET_ID, regions=regions)


def install_like_data_update(
    directory: Path, files: dict[str, bytes], remove_previous: bool = False
) -> str:
    """Install ``files`` (official name -> content, one edition) and return the edition id."""
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory)
    move_into_place(directory, files)
    manifest = manifest_for(files)
    write_manifest(directory, manifest)
    if remove_previous and previous is not None:
        for entry in previous.files:
            if entry.name not in files:
                (directory / entry.name).unlink(missing_ok=True)
    return manifest.edition
