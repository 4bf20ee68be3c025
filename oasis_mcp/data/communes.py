"""The commune level: the communal file's table, the commune names, loaded lazily and shared.

Nothing here is read until a commune is asked for: :func:`commune_level` loads the table
(memory-mapped from its cache after the first parse, see :mod:`oasis_mcp.data.commune_store`) and
the referential the first time, then returns the same object while the files are unchanged.
Without a communal file it raises :class:`CommuneDataMissing` saying how to get it; the other
levels never depend on it.

Double counting: Paris (75056), Lyon (69123) and Marseille (13055) are in the file both whole and
by municipal arrondissement. Rankings and sums over a department use communes only (arrondissements
are listed and can be asked for, but never added to their commune).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from oasis_mcp import config
from oasis_mcp.data.commune_file import (
    HOW_TO_GET_COMMUNE_FILE,
    CommuneFileName,
    CommuneTable,
    choose_commune_file,
    departments_of,
    find_commune_files,
    read_commune_file,
)
from oasis_mcp.data.commune_names import (
    PARENTS,
    Commune,
    CommuneNames,
    Resolved,
    load_referential,
    resolve_commune,
)
from oasis_mcp.errors import DataNotFoundError

log = logging.getLogger(__name__)

ARRONDISSEMENT_PREFIXES = ("751", "6938", "132")
"""Municipal arrondissements: Paris 75101–75120, Lyon 69381–69389, Marseille 13201–13216."""
DOUBLE_COUNTING_NOTE = (
    "Paris (75056), Lyon (69123) and Marseille (13055) are published both whole and by municipal "
    "arrondissement; sums and rankings use the whole commune and never add its arrondissements."
)


class CommuneDataMissing(DataNotFoundError):
    """No communal file: the message says how to get one."""


def is_arrondissement(code: str) -> bool:
    return code.startswith(ARRONDISSEMENT_PREFIXES) and code not in PARENTS


@dataclass(frozen=True)
class CommuneLevel:
    table: CommuneTable
    names: CommuneNames | None
    file: CommuneFileName
    data_dir: Path

    @cached_property
    def known(self) -> frozenset[str]:
        return frozenset(self.table.position)

    @cached_property
    def departments(self) -> np.ndarray:
        return departments_of(self.table.codes.tolist())

    @cached_property
    def arrondissement_mask(self) -> np.ndarray:
        codes = self.table.codes
        mask = np.zeros(len(codes), dtype=bool)
        for prefix in ARRONDISSEMENT_PREFIXES:
            mask |= np.char.startswith(codes, prefix)
        return mask & ~np.isin(codes, list(PARENTS))

    @cached_property
    def rows_of_department(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        deps = self.departments
        order = np.argsort(deps, kind="stable")
        uniq, starts = np.unique(deps[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        for i, dep in enumerate(uniq.tolist()):
            out[str(dep)] = np.sort(order[bounds[i]:bounds[i + 1]])
        return out

    def resolve(self, query: object) -> Resolved:
        return resolve_commune(query, self.names, self.known)

    def commune(self, code: str) -> Commune:
        if self.names is not None and code in self.names.by_code:
            c = self.names.by_code[code]
            if c.kind != "former":
                return c
            return Commune(c.code, c.name, c.department, "former", c.parent)
        dep = code[:3] if code.startswith("97") else code[:2]
        return Commune(code, code if self.names is None else f"commune {code}", dep)

    def latest_population(self, row: int) -> int | None:
        pops = self.table.population[row]
        valid = pops[pops >= 0]
        return int(valid[-1]) if len(valid) else None

    def summary(self) -> dict[str, object]:
        out = self.table.summary()
        out["names"] = self.names.source if self.names is not None else None
        out["data_year"] = self.file.data_year
        return out


_cache: dict[tuple[object, ...], CommuneLevel] = {}
_lock = threading.Lock()


def commune_level(data_dir: str | os.PathLike[str] | None = None,
                  data_year: int | None = None) -> CommuneLevel:
    """The commune level of the data directory, loaded once (raises :class:`CommuneDataMissing`
    when there is no communal file, :class:`DataFileError` when it is invalid)."""
    directory = config.data_dir(data_dir)
    chosen = choose_commune_file(directory, data_year)
    if chosen is None:
        raise CommuneDataMissing(
            f"No communal file (donnee-comm-…csv.gz) in {directory}. " + HOW_TO_GET_COMMUNE_FILE)
    st = chosen.path.stat()
    ref = directory / "cog" / "communes.json"
    ref_sig = (ref.stat().st_mtime_ns, ref.stat().st_size) if ref.is_file() else None
    key = (str(chosen.path.resolve()), st.st_size, st.st_mtime_ns, ref_sig)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    with _lock:
        hit = _cache.get(key)
        if hit is None:
            table = read_commune_file(chosen.path)
            names = load_referential(directory)
            hit = CommuneLevel(table, names, chosen, directory)
            _cache.clear()
            _cache[key] = hit
            log.info("commune level: %d communes from %s", len(table.codes), chosen.path.name)
        return hit


def commune_file_info(directory: Path) -> dict[str, object] | None:
    """What ``data info`` says of the communal file without reading it (None: no file)."""
    files = find_commune_files(directory)
    if not files:
        return None
    first = next((f for f in files if not f.parquet), files[0])
    return {
        "file": first.path.name, "size": first.path.stat().st_size,
        "data_year": first.data_year, "geography_year": first.geography_year,
        "readable": not first.parquet,
        "names": (directory / "cog" / "communes.json").is_file(),
    }


def add_commune_level(info: dict[str, object], data_dir: str | os.PathLike[str] | None,
                      data_year: int | None) -> dict[str, object]:
    """``data info``: the edition's info with a ``commune`` level when a communal file is there
    (read and validated: an invalid file is reported, not hidden), else how to get one."""
    directory = config.data_dir(data_dir)
    out = dict(info)
    try:
        level = commune_level(directory, data_year)
    except CommuneDataMissing:
        out["commune"] = {"available": False, "how_to_get": HOW_TO_GET_COMMUNE_FILE}
        return out
    except OSError as exc:  # pragma: no cover - unreadable directory
        out["commune"] = {"available": False, "error": str(exc)}
        return out
    except Exception as exc:
        from oasis_mcp.errors import OasisError

        if not isinstance(exc, OasisError):
            raise
        out["commune"] = {"available": False, "error": str(exc)}
        return out
    summary = level.summary()
    levels = dict(info.get("levels") or {})  # type: ignore[call-overload]
    levels["commune"] = {k: summary[k] for k in ("areas", "indicators", "first_year",
                                                 "last_year")}
    out["levels"] = levels
    out["commune"] = {"available": True, **summary,
                      "arrondissements": int(level.arrondissement_mask.sum()),
                      "double_counting": DOUBLE_COUNTING_NOTE}
    return out
