"""Synthetic SSMSI communal files, generated from the real departmental file and the real commune
referential (codes, homonyms, arrondissements, Corsica, overseas, a merged commune).

Each department's published count of each indicator and year is split among its communes
(multinomial, weighted by the referential's population); Paris, Lyon and Marseille are split again
among their arrondissements (so the file double-counts them, as the real one does). A
commune-indicator-year is withheld (``ndiff``) when the commune's count over that year and the two
before is below ``withheld_below``; withheld rows carry the department's average over its withheld
communes as ``complement_info_nombre`` (so published + complements = the department total), as
the SSMSI does. Nothing here is a copy of the real communal file (which is not available here).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oasis_mcp.data.parsing import read_ssmsi_file

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED = DATA if DATA.is_dir() else Path("/work/shared/data")
DEP_2025 = "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv"
DEP_2024 = "donnee-dep-data.gouv-2024-geographie2024-produit-le2025-01-26.csv"
NOT_AT_COMMUNE_LEVEL = ("Homicides", "Tentatives d'homicide", "Tentatives d'homicides",
                        "Usage de stupéfiants (hors AFD)")
DEFAULT_DEPARTMENTS = ("75", "69", "13", "93", "974", "2A", "2B", "26", "11", "30", "01", "976")
MERGED = ("01340", "01015")
"""Saint-Bois (01340): a delegated commune of Arboys en Bugey (01015) in the referential; the
synthetic file keeps it under its own code, as a file of an older geography would."""
PARENTS = {"75056": "751", "69123": "6938", "13055": "132"}


@dataclass
class Generated:
    path: Path
    frame: pd.DataFrame  # the rows written: code, year, indicator, count (NaN withheld), ...
    departments: pd.DataFrame  # the departmental rows used: area, year, indicator, count


def referential(data_dir: Path = SHARED) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((data_dir / "cog" / "communes.json").read_text())
    return entries


def make_commune_file(
    directory: Path,
    departments: Sequence[str] | None = DEFAULT_DEPARTMENTS,
    *,
    layout: str = "current",
    geography_year: int | None = None,
    indicators: Sequence[str] | None = None,
    all_indicators: bool = False,
    withheld_below: int = 5,
    seed: int = 0,
    compress: bool = True,
    name: str | None = None,
    max_communes_per_department: int | None = 120,
    data_dir: Path = SHARED,
) -> Generated:
    dep_name = DEP_2025 if layout == "current" else DEP_2024
    dep = read_ssmsi_file(data_dir / dep_name).frame
    data_year = int(dep["year"].max())
    geography_year = geography_year or data_year
    if departments is not None:
        dep = dep[dep["area"].isin(departments)]
    if indicators is not None:
        dep = dep[dep["indicator"].isin(indicators)]
    elif not all_indicators:
        dep = dep[~dep["indicator"].isin(NOT_AT_COMMUNE_LEVEL)]
    rng = np.random.default_rng(seed)
    ref = referential(data_dir)
    communes: dict[str, list[tuple[str, float]]] = {}
    arrs: dict[str, list[tuple[str, float]]] = {}
    for item in ref:
        kind, code, d = item["type"], str(item["code"]), str(item["departement"])
        weight = float(item.get("population") or 80)  # type: ignore[arg-type]
        if kind == "commune-actuelle":
            communes.setdefault(d, []).append((code, weight))
        elif kind == "arrondissement-municipal":
            arrs.setdefault(str(item["commune"]), []).append((code, weight))
    if "01" in communes:
        communes["01"].append((MERGED[0], 150.0))
    keep_always = {*PARENTS, MERGED[0], MERGED[1], "93066", "97411", "11339", "30247", "26362",
                   "16392", "2A004", "2B033", "97611"}
    for d, rows in communes.items():
        if max_communes_per_department and len(rows) > max_communes_per_department:
            rows.sort(key=lambda r: (r[0] not in keep_always, -r[1]))
            communes[d] = rows[:max_communes_per_department]

    parts = []
    years = np.sort(dep["year"].unique())
    for area, block in dep.groupby("area", sort=True):
        members = communes[str(area)]
        codes = np.array([c for c, _ in members])
        w = np.array([x for _, x in members])
        p = w / w.sum()
        parts.append(_split(block, codes, p, years, rng, withheld_below))
        for parent, prefix in PARENTS.items():
            if parent in codes and parent in arrs:
                sub = _parent_block(parts[-1], parent)
                acodes = np.array([c for c, _ in arrs[parent]])
                aw = np.array([x for _, x in arrs[parent]])
                parts.append(_split(sub, acodes, aw / aw.sum(), years, rng, withheld_below))
                del prefix
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["code", "indicator", "year"], kind="stable").reset_index(drop=True)
    if name is None:
        suffix = ".csv.gz" if compress else ".csv"
        name = (f"donnee-comm-data.gouv-{data_year}-geographie{geography_year}"
                f"-produit-le2026-01-22{suffix}")
    path = directory / name
    _write(frame, path, layout, geography_year)
    return Generated(path, frame, dep[["area", "year", "indicator", "count"]].copy())


def _parent_block(rows: pd.DataFrame, parent: str) -> pd.DataFrame:
    sub = rows[rows["code"] == parent]
    return pd.DataFrame({
        "area": parent, "year": sub["year"].to_numpy(), "indicator": sub["indicator"].to_numpy(),
        "unit": sub["unit"].to_numpy(), "count": sub["true_count"].to_numpy(),
        "population": sub["population"].to_numpy(), "dwellings": sub["dwellings"].to_numpy(),
        "population_vintage": sub["population_vintage"].to_numpy(),
        "dwellings_vintage": sub["dwellings_vintage"].to_numpy(),
    })


def _split(block: pd.DataFrame, codes: np.ndarray, p: np.ndarray, years: np.ndarray,
           rng: np.random.Generator, withheld_below: int) -> pd.DataFrame:
    """Rows for ``codes`` whose counts sum to the block's (one area: rows per indicator, year)."""
    block = block.sort_values(["indicator", "year"])
    totals = block["count"].to_numpy(dtype=np.int64)
    split = rng.multinomial(totals, p)  # (rows of block, communes)
    n_c = len(codes)
    n_rows = len(block)
    true = split.T.reshape(n_c, -1, len(years))  # (commune, indicator, year)
    # three-year criterion: the count of the year and the two before
    cum = np.cumsum(true, axis=2)
    window = cum - np.concatenate([np.zeros_like(cum[..., :3]), cum[..., :-3]], axis=2)[
        ..., : cum.shape[2]]
    withheld = window < withheld_below
    published_sum = np.where(withheld, 0, true).sum(axis=0)  # (indicator, year)
    n_withheld = withheld.sum(axis=0)
    total = totals.reshape(-1, len(years))
    with np.errstate(divide="ignore", invalid="ignore"):
        complement = np.where(n_withheld > 0, (total - published_sum) / n_withheld, np.nan)
    pop = np.maximum(1, np.round(np.outer(p, block["population"].to_numpy()))).astype(np.int64)
    dwell = np.maximum(1, np.round(np.outer(p, block["dwellings"].to_numpy()))).astype(np.int64)
    burglary = (block["indicator"].to_numpy() == "Cambriolages de logement")
    denom = np.where(burglary[None, :], dwell, pop)  # (commune, rows)
    counts = true.reshape(n_c, n_rows)
    wh = withheld.reshape(n_c, n_rows)
    comp = np.broadcast_to(complement.reshape(1, n_rows), (n_c, n_rows))
    mean_denom = np.where(wh, denom, 0).sum(axis=0) / np.maximum(1, wh.sum(axis=0))
    comp_rate = comp / np.maximum(1, mean_denom)[None, :] * 1000
    rate = counts / denom * 1000
    return pd.DataFrame({
        "code": np.repeat(codes, n_rows),
        "year": np.tile(block["year"].to_numpy(), n_c),
        "indicator": np.tile(block["indicator"].to_numpy(), n_c),
        "unit": np.tile(block["unit"].to_numpy(), n_c),
        "true_count": counts.ravel(),
        "count": np.where(wh, np.nan, counts).ravel(),
        "rate": np.where(wh, np.nan, rate).ravel(),
        "published": ~wh.ravel(),
        "complement": np.where(wh, comp, np.nan).ravel(),
        "complement_rate": np.where(wh, comp_rate, np.nan).ravel(),
        "population": pop.ravel(), "dwellings": dwell.ravel(),
        "population_vintage": np.tile(block["population_vintage"].to_numpy(), n_c),
        "dwellings_vintage": np.tile(block["dwellings_vintage"].to_numpy(), n_c),
    })


def _write(frame: pd.DataFrame, path: Path, layout: str, geography_year: int) -> None:
    code_col = f"CODGEO_{geography_year}"
    flag = np.where(frame["published"].to_numpy(), "diff", "ndiff")
    if layout == "current":
        out = pd.DataFrame({
            code_col: frame["code"], "annee": frame["year"], "indicateur": frame["indicator"],
            "unite_de_compte": frame["unit"], "nombre": frame["count"].astype("Int64"),
            "taux_pour_mille": frame["rate"], "est_diffuse": flag,
            "insee_pop": frame["population"], "insee_pop_millesime": frame["population_vintage"],
            "insee_log": frame["dwellings"], "insee_log_millesime": frame["dwellings_vintage"],
            "complement_info_nombre": frame["complement"],
            "complement_info_taux": frame["complement_rate"],
        })
    else:
        out = pd.DataFrame({
            code_col: frame["code"], "annee": frame["year"] % 100, "classe": frame["indicator"],
            "unité.de.compte": frame["unit"], "valeur.publiée": flag,
            "faits": frame["count"].astype("Int64"), "tauxpourmille": frame["rate"],
            "complementinfoval": frame["complement"],
            "complementinfotaux": frame["complement_rate"],
            "POP": frame["population"], "millPOP": frame["population_vintage"],
            "LOG": frame["dwellings"] + 0.5, "millLOG": frame["dwellings_vintage"],
        })
    compression = {"method": "gzip", "compresslevel": 1} if path.name.endswith(".gz") else None
    out.to_csv(path, sep=";", index=False, quoting=csv.QUOTE_ALL, decimal=",", na_rep="NA",
               float_format="%.7f", compression=compression, lineterminator="\n")
