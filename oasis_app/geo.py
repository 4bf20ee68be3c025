"""Region and department outlines for the choropleth map.

Where the GeoJSON comes from, first found wins:

1. the data directory's ``geo/`` folder (``$OASIS_DATA_DIR/geo``);
2. the user cache (``<cache>/geo``, see :func:`oasis_mcp.config.cache_dir`);
3. a one-time download from the public ``gregoiredavid/france-geojson`` repository (base URL
   overridable with ``$OASIS_GEOJSON_URL``), saved to the cache.

The outlines are simplified once in memory (Douglas-Peucker, coordinates rounded) so that a map is
a few hundred kilobytes, and the five overseas territories are moved into insets west of the
mainland, as on French statistical maps. When nothing can be had, :func:`outlines` returns None
and the app shows the bar chart alone with a note.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oasis_mcp import config

log = logging.getLogger(__name__)

BASE_URL_ENV = "OASIS_GEOJSON_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/gregoiredavid/france-geojson/master/"
DOWNLOAD_TIMEOUT = 15.0
RETRY_AFTER_S = 600.0

FILES: dict[str, tuple[str, ...]] = {
    # Preferred first; only the first name is ever downloaded.
    "region": ("regions-avec-outre-mer.geojson", "regions.geojson",
               "regions-version-simplifiee.geojson"),
    "department": ("departements-avec-outre-mer.geojson", "departements.geojson",
                   "departements-version-simplifiee.geojson"),
}
TOLERANCE = {"region": 0.01, "department": 0.006}  # degrees
DIGITS = 3

# Overseas territory -> inset box (lon_min, lat_min, lon_max, lat_max) west of the mainland.
_BOXES = {
    "guadeloupe": (-9.9, 48.6, -6.9, 50.2),
    "martinique": (-9.9, 46.8, -6.9, 48.2),
    "guyane": (-9.9, 44.4, -6.9, 46.4),
    "reunion": (-9.9, 42.8, -6.9, 44.0),
    "mayotte": (-9.9, 41.2, -6.9, 42.4),
}
INSETS: dict[str, dict[str, str]] = {
    "department": {"971": "guadeloupe", "972": "martinique", "973": "guyane", "974": "reunion",
                   "976": "mayotte"},
    "region": {"01": "guadeloupe", "02": "martinique", "03": "guyane", "04": "reunion",
               "06": "mayotte"},
}


@dataclass(frozen=True)
class Shape:
    """One area's outline as plot coordinates: exterior rings joined by ``None`` separators."""

    code: str
    name: str
    xs: list[float | None]
    ys: list[float | None]
    size: float  # bounding-box area, to draw enclosing areas first


@dataclass(frozen=True)
class Outlines:
    """Simplified outlines of one level and where they came from.

    ``geojson`` is a FeatureCollection (``properties.code``, ``properties.nom``); ``shapes`` the
    same outlines ready for a Cartesian plot (largest first), which needs no map tiles or
    topojson from a CDN.
    """

    level: str
    geojson: dict[str, Any]
    source: str
    codes: frozenset[str]
    insets: dict[str, tuple[float, float]]
    """Overseas code -> (lon, lat) where its inset label goes."""
    shapes: tuple[Shape, ...] = ()
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    """Overseas code -> its inset box (lon_min, lat_min, lon_max, lat_max)."""


_cache: dict[str, Outlines | None] = {}
_failed_at: dict[str, float] = {}
_lock = threading.Lock()


def outlines(level: str, data_dir: str | os.PathLike[str] | None = None) -> Outlines | None:
    """The outlines of a level ("region" or "department"), or None when none can be had."""
    if level not in FILES:
        return None
    with _lock:
        if level in _cache:
            return _cache[level]
        if time.monotonic() - _failed_at.get(level, -RETRY_AFTER_S * 2) < RETRY_AFTER_S:
            return None
        found = _load(level, data_dir)
        if found is None:
            _failed_at[level] = time.monotonic()
            return None
        _cache[level] = found
        return found


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _failed_at.clear()


def _load(level: str, data_dir: str | os.PathLike[str] | None) -> Outlines | None:
    for directory in _search_dirs(data_dir):
        for name in FILES[level]:
            path = directory / name
            if path.is_file():
                raw = _read(path)
                if raw is not None:
                    return _prepare(level, raw, str(path))
    raw, source = _download(level)
    if raw is None:
        return None
    return _prepare(level, raw, source)


def _search_dirs(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    dirs = [config.data_dir(data_dir) / "geo", config.cache_dir() / "geo"]
    return [d for d in dirs if d.is_dir()]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("unreadable GeoJSON %s: %s", path, exc)
        return None
    return data if _valid(data) else None


def _valid(data: object) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        return False
    features = data["features"]
    return bool(features) and all(
        isinstance(f, dict) and isinstance(f.get("properties"), dict)
        and "code" in f["properties"] and isinstance(f.get("geometry"), dict)
        for f in features
    )


def _download(level: str) -> tuple[dict[str, Any] | None, str]:
    import httpx

    name = FILES[level][0]
    base = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = base.rstrip("/") + "/" + name
    try:
        response = httpx.get(url, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("GeoJSON download failed (%s): %s", url, exc)
        return None, url
    if not _valid(data):
        log.warning("GeoJSON download from %s is not a FeatureCollection with codes", url)
        return None, url
    target = config.cache_dir() / "geo" / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(response.content)
        tmp.replace(target)
        log.info("GeoJSON saved to %s", target)
    except OSError as exc:  # the map still works for this process
        log.warning("cannot cache GeoJSON in %s: %s", target, exc)
    return data, url


# -- geometry -----------------------------------------------------------------------------------


def _prepare(level: str, raw: dict[str, Any], source: str) -> Outlines:
    started = time.perf_counter()
    tolerance = TOLERANCE[level]
    insets = INSETS[level]
    labels: dict[str, tuple[float, float]] = {}
    shapes: list[tuple[str, str, list[list[np.ndarray]]]] = []
    for feature in raw["features"]:
        props = feature["properties"]
        code = str(props["code"])
        polygons = _polygons(feature["geometry"])
        if code in insets and polygons:
            polygons, label = _to_inset(polygons, _BOXES[insets[code]])
            labels[code] = label
        polygons = [[_thin(ring, tolerance) for ring in poly] for poly in polygons]
        shapes.append((code, str(props.get("nom", code)), polygons))
    rings = [ring for _, _, polys in shapes for poly in polys for ring in poly]
    simplified = iter(_simplify_all(rings, tolerance))
    features: list[dict[str, Any]] = []
    for code, name, polys in shapes:
        multi = []
        for poly in polys:
            kept = [next(simplified) for _ in poly]
            if len(kept[0]) >= 4:
                multi.append([r for r in kept if len(r) >= 4])
        if multi:
            features.append({
                "type": "Feature",
                "properties": {"code": code, "nom": name},
                "geometry": {"type": "MultiPolygon", "coordinates": multi},
            })
    log.info("GeoJSON %s: %d features prepared in %.0f ms", source, len(features),
             (time.perf_counter() - started) * 1000)
    return Outlines(
        level=level,
        geojson={"type": "FeatureCollection", "features": features},
        source=source,
        codes=frozenset(f["properties"]["code"] for f in features),
        insets=labels,
        shapes=tuple(sorted((_shape(f) for f in features), key=lambda sh: -sh.size)),
        boxes={code: _BOXES[insets[code]] for code in labels},
    )


def _shape(feature: dict[str, Any]) -> Shape:
    xs: list[float | None] = []
    ys: list[float | None] = []
    for polygon in feature["geometry"]["coordinates"]:
        exterior = polygon[0]  # holes are covered by the enclosed areas, drawn later
        if xs:
            xs.append(None)
            ys.append(None)
        xs += [p[0] for p in exterior]
        ys += [p[1] for p in exterior]
    lons = [x for x in xs if x is not None]
    lats = [y for y in ys if y is not None]
    size = (max(lons) - min(lons)) * (max(lats) - min(lats)) if lons else 0.0
    props = feature["properties"]
    return Shape(props["code"], props["nom"], xs, ys, size)


def _polygons(geometry: dict[str, Any]) -> list[list[np.ndarray]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [[np.asarray(ring, dtype=float)[:, :2] for ring in poly] for poly in polys]


def _to_inset(
    polygons: list[list[np.ndarray]], box: tuple[float, float, float, float]
) -> tuple[list[list[np.ndarray]], tuple[float, float]]:
    """Scale and move a territory into its inset box, keeping its proportions."""
    points = np.vstack([ring for poly in polygons for ring in poly])
    lon0, lat0 = points.min(axis=0)
    lon1, lat1 = points.max(axis=0)
    src_lat = np.radians((lat0 + lat1) / 2)
    box_lat = np.radians((box[1] + box[3]) / 2)
    src_w = (lon1 - lon0) * np.cos(src_lat)
    src_h = lat1 - lat0
    box_w = (box[2] - box[0]) * np.cos(box_lat)
    box_h = box[3] - box[1]
    scale = min(box_w / max(src_w, 1e-9), box_h / max(src_h, 1e-9))
    cx, cy = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    moved = []
    for poly in polygons:
        rings = []
        for ring in poly:
            lon = bx + (ring[:, 0] - cx) * np.cos(src_lat) / np.cos(box_lat) * scale
            lat = by + (ring[:, 1] - cy) * scale
            rings.append(np.column_stack([lon, lat]))
        moved.append(rings)
    return moved, (float(bx), float(box[1] - 0.14))


def _thin(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Drop runs of points closer than a third of the tolerance (cheap, vectorised)."""
    if len(ring) <= 8:
        return ring
    grid = np.round(ring / (tolerance / 3))
    moved = np.ones(len(ring), dtype=bool)
    moved[1:] = np.any(grid[1:] != grid[:-1], axis=1)
    moved[-1] = True
    return ring[moved]


def _simplify_all(rings: list[np.ndarray], tolerance: float) -> list[list[list[float]]]:
    """Douglas-Peucker on every closed ring at once (vectorised over all open segments), then
    rounding. A ring left with fewer than four points comes back empty."""
    if not rings:
        return []
    points = np.vstack(rings)
    sizes = np.array([len(r) for r in rings])
    ends = np.cumsum(sizes) - 1
    starts = ends - sizes + 1
    keep = np.zeros(len(points), dtype=bool)
    keep[starts] = keep[ends] = True
    # Split each closed ring at its point farthest from the first one.
    far = np.array([s + int(np.argmax(((r - r[0]) ** 2).sum(axis=1)))
                    for s, r in zip(starts, rings, strict=True)])
    keep[far] = True
    seg_s = np.concatenate([starts, far])
    seg_e = np.concatenate([far, ends])
    while len(seg_s):
        lengths = seg_e - seg_s - 1
        open_ = lengths > 0
        seg_s, seg_e, lengths = seg_s[open_], seg_e[open_], lengths[open_]
        if not len(seg_s):
            break
        seg_id = np.repeat(np.arange(len(seg_s)), lengths)
        offsets = np.cumsum(lengths) - lengths
        inner = seg_s[seg_id] + 1 + (np.arange(int(lengths.sum())) - offsets[seg_id])
        a, b, q = points[seg_s][seg_id], points[seg_e][seg_id], points[inner]
        d = b - a
        norm = np.hypot(d[:, 0], d[:, 1])
        cross = np.abs(d[:, 0] * (q[:, 1] - a[:, 1]) - d[:, 1] * (q[:, 0] - a[:, 0]))
        dist = np.where(norm > 0, cross / np.where(norm > 0, norm, 1.0),
                        np.hypot(q[:, 0] - a[:, 0], q[:, 1] - a[:, 1]))
        seg_max = np.maximum.reduceat(dist, offsets)
        at_max = np.nonzero(dist == seg_max[seg_id])[0]
        segs, first = np.unique(seg_id[at_max], return_index=True)
        mids = inner[at_max[first]]
        split = seg_max[segs] > tolerance
        segs, mids = segs[split], mids[split]
        keep[mids] = True
        seg_s, seg_e = np.concatenate([seg_s[segs], mids]), np.concatenate([mids, seg_e[segs]])
    rounded = np.round(points, DIGITS)
    out = []
    for s, e in zip(starts, ends, strict=True):
        ring = rounded[s:e + 1][keep[s:e + 1]]
        out.append(ring.tolist() if len(ring) >= 4 else [])
    return out
