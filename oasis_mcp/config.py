"""Where data, cache and artifacts live. Environment variables override the defaults."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DATA_DIR_ENV = "OASIS_DATA_DIR"
CACHE_DIR_ENV = "OASIS_CACHE_DIR"
ARTIFACTS_DIR_ENV = "OASIS_ARTIFACTS_DIR"

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The per-user cache where ``oasis-mcp data update`` stores downloaded files."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "oasis-mcp"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where SSMSI files are read: the argument, else ``OASIS_DATA_DIR``, else the cache."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return cache_dir() / "data"


def data_dir_source(explicit: str | os.PathLike[str] | None = None) -> str:
    """Says where :func:`data_dir` took its answer from, for messages."""
    if explicit is not None:
        return "the --data-dir argument"
    if os.environ.get(DATA_DIR_ENV):
        return f"${DATA_DIR_ENV}"
    return "the user cache (filled by `oasis-mcp data update`)"


def artifacts_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Training artifacts: the argument, else ``OASIS_ARTIFACTS_DIR``, else ``artifacts/`` of the
    source tree (or of the working directory when the package is installed elsewhere)."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ARTIFACTS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    beside_package = REPO_ROOT / "artifacts"
    if beside_package.is_dir():
        return beside_package
    return Path.cwd() / "artifacts"


HOW_TO_GET_DATA = (
    "Run `oasis-mcp data update` to download the SSMSI files from data.gouv.fr into the cache, "
    f"or set {DATA_DIR_ENV} to a directory holding the official CSV files "
    "(donnee-dep-data.gouv-<year>-geographie<year>-produit-le<date>.csv, and the matching "
    "donnee-reg-data.gouv-… file if you have it)."
)
