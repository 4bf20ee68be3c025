"""Where data, cache and artifacts live. Environment variables override the defaults."""

from __future__ import annotations

import importlib.resources
import os
import sys
from pathlib import Path

DATA_DIR_ENV = "OASIS_DATA_DIR"
CACHE_DIR_ENV = "OASIS_CACHE_DIR"
ARTIFACTS_DIR_ENV = "OASIS_ARTIFACTS_DIR"

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The source checkout's root when running from one; site-packages once installed."""

BUNDLED_ARTIFACTS = "_artifacts"
"""Folder of the ``oasis_mcp`` package where the wheel ships the artifacts the server reads."""


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
    """Training artifacts: the argument, else ``OASIS_ARTIFACTS_DIR``, else the repository's
    ``artifacts/`` when running from a source checkout (or an editable install of one), else the
    copy shipped inside the installed package (see :func:`bundled_artifacts_dir`)."""
    return _artifacts_choice(explicit)[0]


def artifacts_dir_source(explicit: str | os.PathLike[str] | None = None) -> str:
    """Says where :func:`artifacts_dir` took its answer from, for messages."""
    return _artifacts_choice(explicit)[1]


def checkout_artifacts_dir() -> Path | None:
    """``artifacts/`` at the top of the source checkout this package runs from, or None when the
    package is installed (a wheel puts it in site-packages, beside no ``pyproject.toml``)."""
    candidate = REPO_ROOT / "artifacts"
    if (REPO_ROOT / "pyproject.toml").is_file() and candidate.is_dir():
        return candidate
    return None


def bundled_artifacts_dir() -> Path | None:
    """The artifacts shipped in the wheel as package data (``oasis_mcp/_artifacts/``, read through
    :mod:`importlib.resources`), or None when absent: a source checkout has none, the wheel build
    copies the top-level files of ``artifacts/`` there (see ``setup.py``).

    A package imported from a zip archive gets these files copied once into the user cache, since
    the loaders read real files."""
    resource = importlib.resources.files("oasis_mcp").joinpath(BUNDLED_ARTIFACTS)
    if isinstance(resource, Path):
        return resource if resource.is_dir() else None
    if not resource.is_dir():
        return None
    from oasis_mcp import __version__

    target = cache_dir() / f"artifacts-{__version__}"
    target.mkdir(parents=True, exist_ok=True)
    for item in resource.iterdir():
        if item.is_file() and not (target / item.name).is_file():
            tmp = target / f".{item.name}.tmp"
            tmp.write_bytes(item.read_bytes())
            tmp.replace(target / item.name)
    return target


def _artifacts_choice(explicit: str | os.PathLike[str] | None) -> tuple[Path, str]:
    if explicit is not None:
        return Path(explicit).expanduser(), "the artifacts_dir argument"
    env = os.environ.get(ARTIFACTS_DIR_ENV)
    if env:
        return Path(env).expanduser(), f"${ARTIFACTS_DIR_ENV}"
    checkout = checkout_artifacts_dir()
    if checkout is not None:
        return checkout, "the source checkout's artifacts/"
    bundled = bundled_artifacts_dir()
    if bundled is not None:
        return bundled, "the artifacts shipped in the package"
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "artifacts", "the source checkout's artifacts/ (absent)"
    return Path(__file__).resolve().parent / BUNDLED_ARTIFACTS, "the package (it ships none)"


HOW_TO_GET_DATA = (
    "Run `oasis-mcp data update` to download the SSMSI files from data.gouv.fr into the cache, "
    f"or set {DATA_DIR_ENV} to a directory holding the official CSV files "
    "(donnee-dep-data.gouv-<year>-geographie<year>-produit-le<date>.csv, and the matching "
    "donnee-reg-data.gouv-… file if you have it)."
)
