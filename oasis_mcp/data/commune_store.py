"""Where the commune table lives on disk: the rows spilled while the communal file is parsed,
and the dense arrays of the table as plain ``.npy`` files, memory-mapped when read.

Why on disk: the table has about 6 million cells per array (35,000 communes × 18 indicators × 10
years), the file 5 million rows; holding the rows and the dense arrays in memory at once took
about 8× the file's size at peak. Here the first pass appends each chunk's rows to one file per
column (:class:`RowSpill`), the second pass fills one dense array at a time straight into its
``.npy`` file through a memory map (:func:`fill_dense`), and readers map the files read-only
(:func:`open_arrays`): pages are read when a query touches them, shared by every process that
maps the same file (replicas, workers), and never copied into the process's own memory.

The cache: one directory per parsed source file under ``<cache>/communes/``, named by a key of
the source's path, size and modification time, holding ``meta.json`` and the ``.npy`` files. A
directory is built under a temporary name (``.staging-*``) and renamed into place whole, so a
reader sees a complete entry or none. Entries of the same source path that are out of date,
staging directories left by a killed process, and the caches of older versions are removed when
a new entry is committed (a process that still maps them keeps its pages: POSIX semantics).
Plain arrays only: ``np.load(..., allow_pickle=False)``, JSON metadata, no pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from oasis_mcp import config
from oasis_mcp.data.manifest import current_umask

log = logging.getLogger(__name__)

STORE_VERSION = 2
"""Version of the on-disk layout (1 was one ``.npz`` file per source)."""
META_NAME = "meta.json"
STAGING_PREFIX = ".staging-"
STALE_STAGING_SECONDS = 24 * 3600
BLOCK_ROWS = 1 << 18
"""Rows read back from the spill files at a time (second pass)."""


class RowSpill:
    """Per-row columns of the first pass, appended to one binary file per column in a private
    temporary directory (removed on close), read back in blocks of :data:`BLOCK_ROWS`."""

    def __init__(self, columns: dict[str, type[np.generic]], parent: Path | None = None) -> None:
        self.columns = {k: np.dtype(v) for k, v in columns.items()}
        self.dir = Path(tempfile.mkdtemp(prefix="oasis-commune-rows-", dir=parent))
        self.rows = 0
        self._handles = {k: open(self.dir / f"{k}.bin", "wb") for k in self.columns}  # noqa: SIM115

    def append(self, chunk: dict[str, np.ndarray]) -> None:
        n = len(next(iter(chunk.values())))
        for key, dtype in self.columns.items():
            values = np.ascontiguousarray(chunk[key], dtype=dtype)
            if len(values) != n:
                raise ValueError(f"column {key} has {len(values)} rows, not {n}")
            values.tofile(self._handles[key])
        self.rows += n

    def add_column(self, key: str, dtype: type[np.generic]) -> Any:
        """A new column file to write block by block (e.g. an index computed in the second
        pass); returns the open handle, closed by :meth:`close`."""
        self.columns[key] = np.dtype(dtype)
        handle = open(self.dir / f"{key}.bin", "wb")  # noqa: SIM115
        self._handles[key] = handle
        return handle

    def finish_writing(self, *keys: str) -> None:
        """Close the files of ``keys`` (default: all) so that they can be read back."""
        for key in keys or tuple(self._handles):
            self._handles[key].close()

    def blocks(self, *keys: str) -> Iterator[tuple[int, list[np.ndarray]]]:
        """``(first row, [column block, ...])`` for every block of rows, in file order (the
        columns read are closed for writing first)."""
        self.finish_writing(*keys)
        for start in range(0, self.rows, BLOCK_ROWS):
            n = min(BLOCK_ROWS, self.rows - start)
            yield start, [np.fromfile(self.dir / f"{k}.bin", dtype=self.columns[k], count=n,
                                      offset=start * self.columns[k].itemsize) for k in keys]

    def close(self) -> None:
        self.finish_writing()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RowSpill:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def fill_dense(directory: Path, name: str, shape: tuple[int, ...], dtype: type[np.generic],
               fill: float, spill: RowSpill, index: str, column: str) -> None:
    """Write ``<directory>/<name>.npy``: an array of ``shape`` set to ``fill``, then
    ``array.flat[index[r]] = column[r]`` for every spilled row, through a memory map (the array
    is never held in this process's own memory)."""
    mapped = np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+", dtype=dtype,
                                       shape=shape)
    flat = mapped.reshape(-1)
    step = max(BLOCK_ROWS, 1)
    for start in range(0, len(flat), step):
        flat[start:start + step] = fill
        _release(mapped)
    for _, (where, values) in spill.blocks(index, column):
        flat[where] = values
        del where, values
        _release(mapped)
    mapped.flush()
    del flat, mapped


def _release(mapped: np.memmap[Any, Any]) -> None:
    """Drop the pages of a shared file mapping from this process (they stay in the page cache,
    written to the file): the process's resident memory stays at one block's pages."""
    raw = getattr(mapped, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if raw is not None and advice is not None:
        with contextlib.suppress(OSError, ValueError):  # a platform without madvise
            raw.madvise(advice)


def save_array(directory: Path, name: str, values: np.ndarray) -> None:
    np.save(directory / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    text = json.dumps({"store_version": STORE_VERSION, **meta}, ensure_ascii=False, indent=1)
    (directory / META_NAME).write_text(text + "\n", encoding="utf-8")


def read_meta(directory: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((directory / META_NAME).read_text(encoding="utf-8"))
    if meta.get("store_version") != STORE_VERSION:
        raise ValueError(f"store version {meta.get('store_version')}, not {STORE_VERSION}")
    return meta


def open_arrays(directory: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of a store directory, memory-mapped read-only."""
    return {k: np.load(directory / f"{k}.npy", mmap_mode="r", allow_pickle=False)
            for k in names}


# ---------------------------------------------------------------------------------------------
# The cache of parsed communal files


def cache_root() -> Path:
    return config.cache_dir() / "communes"


def cache_entry(path: Path, st: os.stat_result) -> Path:
    """The cache directory of the source file ``path`` as it is now (size, mtime)."""
    key = hashlib.sha256(
        f"{STORE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    ).hexdigest()[:24]
    return cache_root() / key


def new_staging_dir() -> Path | None:
    """A new, empty staging directory in the cache root (None when the cache is not writable:
    the caller then builds in a temporary directory and reads the arrays into memory)."""
    try:
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    except OSError as exc:
        log.warning("the commune cache %s is not writable (%s); the table is held in memory",
                    config.cache_dir(), exc)
        return None


def is_staging(directory: Path) -> bool:
    return directory.name.startswith(STAGING_PREFIX)


def commit(staging: Path, entry: Path, source: Path) -> None:
    """Rename a complete staging directory to the cache entry of ``source`` (replacing an
    older one), then remove what is out of date. Raises OSError when the rename fails."""
    # mkdtemp made it 0700: give it the umask's mode, like every file an update installs, so
    # that a cache shared by the account that updates and the one that serves can be read
    os.chmod(staging, 0o777 & ~current_umask())
    if entry.exists():
        shutil.rmtree(entry, ignore_errors=True)
    os.replace(staging, entry)
    prune(keep=entry, source=source)


def discard(staging: Path) -> None:
    if is_staging(staging):
        shutil.rmtree(staging, ignore_errors=True)


def prune(keep: Path, source: Path) -> None:
    """Remove the cache entries of ``source``'s path other than ``keep`` (the file changed),
    entries whose source is gone, staging directories older than a day and caches of older
    versions (``*.npz``). Best effort."""
    root = keep.parent
    resolved = str(source.resolve())
    now = time.time()
    try:
        children = list(root.iterdir())
    except OSError:
        return
    for child in children:
        if child == keep:
            continue
        try:
            if child.suffix == ".npz" or child.name.endswith(".npz.tmp"):
                child.unlink()
            elif is_staging(child):
                if now - child.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(child, ignore_errors=True)
            elif child.is_dir():
                meta = json.loads((child / META_NAME).read_text(encoding="utf-8"))
                src = str(meta.get("source", ""))
                if src == resolved or not Path(src).exists():
                    shutil.rmtree(child, ignore_errors=True)
        except (OSError, ValueError):
            continue
