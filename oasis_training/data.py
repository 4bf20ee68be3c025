"""Turn the runtime's tidy dataset into dense panels (series × years) for training.

A :class:`Panel` holds, for one level, the counts and denominators of every (area, indicator)
series, plus the national (FR) and regional totals of the same indicator, aligned row by row,
so that features can use what series share without any lookup at fit time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = ("country", "region", "department")


@dataclass(frozen=True)
class SourceInfo:
    """What the trained artifacts were built from."""

    edition: str
    first_year: int
    last_year: int
    files: list[dict[str, str]] = field(default_factory=list)
    regions_source: str = ""


@dataclass(frozen=True)
class Panel:
    """Dense series × years arrays for one level. Rows are sorted by (area, indicator)."""

    level: str
    areas: np.ndarray  # (n,) official codes as strings
    indicators: np.ndarray  # (n,) official French labels
    years: np.ndarray  # (T,) int
    y: np.ndarray  # (n, T) counts (float)
    den: np.ndarray  # (n, T) denominators (population or dwellings)
    national: np.ndarray  # (n, T) FR total of the same indicator
    regional: np.ndarray  # (n, T) region total of the same indicator (national above regions)

    @property
    def n_series(self) -> int:
        return int(self.y.shape[0])

    def upto(self, year: int) -> Panel:
        """The panel as it was known at the end of ``year``: nothing after it."""
        keep = self.years <= year
        return Panel(
            self.level, self.areas, self.indicators, self.years[keep], self.y[:, keep],
            self.den[:, keep], self.national[:, keep], self.regional[:, keep],
        )

    def subset(self, rows: np.ndarray) -> Panel:
        return Panel(
            self.level, self.areas[rows], self.indicators[rows], self.years, self.y[rows],
            self.den[rows], self.national[rows], self.regional[rows],
        )

    def indicator_codes(self, labels: list[str]) -> np.ndarray:
        lookup = {label: i for i, label in enumerate(labels)}
        return np.array([lookup[s] for s in self.indicators], dtype=int)


def _pivot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    return frame.pivot_table(
        index=["area", "indicator"], columns="year", values=value, aggfunc="sum"
    ).sort_index()


def build_panels(
    frame: pd.DataFrame, region_of: dict[str, str], levels: tuple[str, ...] = LEVELS
) -> dict[str, Panel]:
    """Dense panels from the tidy frame (columns level, area, year, indicator, count, denominator).

    ``region_of`` maps each department code to its region code (for the regional feature).
    """
    nat = frame[(frame["level"] == "country") & (frame["area"] == "FR")]
    nat_y = nat.pivot_table(index="indicator", columns="year", values="count", aggfunc="sum")
    reg = frame[frame["level"] == "region"]
    reg_y = _pivot(reg, "count")
    panels: dict[str, Panel] = {}
    for level in levels:
        part = frame[frame["level"] == level]
        if part.empty:
            continue
        y = _pivot(part, "count")
        den = _pivot(part, "denominator").reindex(index=y.index, columns=y.columns)
        if y.isna().to_numpy().any() or den.isna().to_numpy().any():
            raise ValueError(f"{level}: the panel has gaps (missing area/indicator/year rows)")
        areas = y.index.get_level_values("area").astype(str).to_numpy()
        inds = y.index.get_level_values("indicator").astype(str).to_numpy()
        national = nat_y.reindex(index=inds, columns=y.columns).to_numpy(dtype=float)
        if level == "department":
            keys = pd.MultiIndex.from_arrays([[region_of[a] for a in areas], inds])
            regional = reg_y.reindex(index=keys, columns=y.columns).to_numpy(dtype=float)
        else:
            regional = national.copy()
        panels[level] = Panel(
            level=level,
            areas=areas,
            indicators=inds,
            years=np.asarray(y.columns, dtype=int),
            y=y.to_numpy(dtype=float),
            den=den.to_numpy(dtype=float),
            national=national,
            regional=regional,
        )
    return panels


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _region_map(dep_file: Path) -> dict[str, str]:
    codes = pd.read_csv(
        dep_file, sep=";", encoding="utf-8-sig", dtype=str,
        usecols=["Code_departement", "Code_region"],
    ).drop_duplicates()
    return dict(zip(codes["Code_departement"], codes["Code_region"], strict=True))


def load_training_data(
    data_dir: str | Path | None = None,
    edition: str | None = None,
    levels: tuple[str, ...] = LEVELS,
) -> tuple[SourceInfo, dict[str, Panel]]:
    """Load one edition through the runtime's data layer and build the panels."""
    try:
        from oasis_mcp.data.dataset import load_dataset
    except ImportError:  # data layer not importable (partial checkout): read the files directly
        return _fallback(data_dir, levels)

    from oasis_mcp.data.geography import areas

    ds = load_dataset(data_dir, edition=edition)
    files = sorted(ds.edition.files, key=lambda f: f.name)
    region_of = {a.code: str(a.region_code) for a in areas("department")}
    info = SourceInfo(
        edition=str(ds.edition.id),
        first_year=int(ds.first_year),
        last_year=int(ds.last_year),
        files=[{"name": f.name, "sha256": f.sha256 or _sha256(Path(f.path))} for f in files],
        regions_source=str(getattr(ds, "regions_source", "")),
    )
    wanted = tuple(dict.fromkeys((*levels, "country", "region")))
    panels = build_panels(ds.frame, region_of, wanted)
    return info, {k: v for k, v in panels.items() if k in levels}


def _fallback(
    data_dir: str | Path | None, levels: tuple[str, ...]
) -> tuple[SourceInfo, dict[str, Panel]]:
    """Minimal reader of the newest departmental file, used only if oasis_mcp.data is broken."""
    import os

    folder = Path(data_dir or os.environ.get("OASIS_DATA_DIR", "."))
    path = sorted(folder.glob("donnee-dep-data.gouv-*.csv"))[-1]
    raw = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig",
                      dtype={"Code_departement": str, "Code_region": str})
    raw["denominator"] = np.where(raw["indicateur"] == "Cambriolages de logement",
                                  raw["insee_log"], raw["insee_pop"])
    d = raw.rename(columns={"Code_departement": "area", "annee": "year",
                            "indicateur": "indicator", "nombre": "count"})
    keys = ["year", "indicator"]
    parts = [d[["area", *keys, "count", "denominator"]].assign(level="department"),
             d.groupby(["Code_region", *keys], as_index=False)[["count", "denominator"]].sum()
             .rename(columns={"Code_region": "area"}).assign(level="region"),
             d.groupby(keys, as_index=False)[["count", "denominator"]].sum()
             .assign(area="FR", level="country"),
             d[d["area"].str.len() == 2].groupby(keys, as_index=False)[["count", "denominator"]]
             .sum().assign(area="FM", level="country")]
    frame = pd.concat(parts, ignore_index=True)
    stem = path.name.removeprefix("donnee-dep-data.gouv-").removesuffix(".csv")
    info = SourceInfo(stem, int(d["year"].min()), int(d["year"].max()),
                      [{"name": path.name, "sha256": _sha256(path)}], "aggregated")
    wanted = tuple(dict.fromkeys((*levels, "country", "region")))
    panels = build_panels(frame, _region_map(path), wanted)
    return info, {k: v for k, v in panels.items() if k in levels}
