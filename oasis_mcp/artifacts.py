"""Loading the training artifacts (``forecasts.csv.gz``, ``metrics.json``, ``MODEL_CARD.md``).

The server only reads what ``oasis-train`` wrote; it never imports a training library. Everything is
validated once at load time and indexed for constant-time lookups: a missing or corrupt artifact
raises :class:`~oasis_mcp.errors.ArtifactsError` whose message says how to train.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oasis_mcp import config
from oasis_mcp.data.coverage import LAST_FORECAST_YEAR
from oasis_mcp.errors import ArtifactsError

log = logging.getLogger(__name__)

FORECASTS_FILE = "forecasts.csv.gz"
METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
BACKTEST_FILE = "backtest.csv.gz"
MAX_FORECAST_YEAR = LAST_FORECAST_YEAR

VALUE_COLUMNS = (
    "count", "lo_80", "hi_80", "lo_95", "hi_95",
    "rate_100k", "rate_100k_lo_80", "rate_100k_hi_80", "rate_100k_lo_95", "rate_100k_hi_95",
)
KEY_COLUMNS = ("level", "area", "indicator", "year")
FORECAST_COLUMNS = KEY_COLUMNS + VALUE_COLUMNS
HOW_TO_TRAIN = (
    "run `oasis-train` (pip install 'oasis-mcp[train]') to train the models and write "
    f"{FORECASTS_FILE} and {METRICS_FILE} there, or set {config.ARTIFACTS_DIR_ENV} to a directory "
    "that holds them. Observed history (get_history, compare_regions for past years, "
    "list_regions, list_indicators) keeps working without them."
)

Values = tuple[float, ...]
"""One forecast year: the ten :data:`VALUE_COLUMNS`, in that order."""


@dataclass(frozen=True)
class Artifacts:
    """Validated artifacts, indexed by series and by year."""

    directory: Path
    metrics: dict[str, Any]
    series: dict[tuple[str, str, str], tuple[tuple[int, Values], ...]]
    """(level, area code, official indicator label) -> ((year, values), ...) oldest first."""
    by_year: dict[tuple[str, str, int], dict[str, Values]]
    """(level, indicator label, year) -> {area code: values}."""
    years: tuple[int, ...]
    model_card: str | None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Figures derived lazily from the artifacts (see :meth:`indicator_figures`)."""

    @property
    def edition(self) -> str:
        return str(self.metrics.get("edition") or "unknown")

    @property
    def last_year(self) -> int:
        """The last observed year of the training data (forecasts start the year after)."""
        value = self.metrics.get("last_year")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return self.years[0] - 1

    @property
    def first_forecast_year(self) -> int:
        return self.years[0]

    @property
    def last_forecast_year(self) -> int:
        return self.years[-1]

    def level_metrics(self, level: str) -> dict[str, Any] | None:
        """The metrics block of a level, or None when the level was not backtested."""
        levels = self.metrics.get("levels")
        block = levels.get(level) if isinstance(levels, dict) else None
        return block if isinstance(block, dict) else None


    def indicator_figures(self, level: str) -> tuple[dict[str, dict[str, Any]], str | None]:
        """The champion's backtest figures per indicator at ``level``: {label: {"mase",
        "coverage_80", "coverage_95", "n_forecasts"}}, and a note when they are unavailable.

        From ``metrics.json`` (``champion_by_indicator``, written by training) when present, else
        the coverage is computed from the champion's rows of ``backtest.csv.gz`` (MASE then None:
        it needs each series' history). Computed once, on first use. A missing or unreadable
        backtest file gives ``({}, note)``: the caller falls back to the level-wide figures.
        """
        block = self.level_metrics(level)
        if block is None:
            return {}, None
        exported = block.get("champion_by_indicator")
        if isinstance(exported, dict) and exported:
            return {str(k): v for k, v in exported.items() if isinstance(v, dict)}, None
        if "backtest" not in self._cache:
            self._cache["backtest"] = _backtest_coverage(self)
        per_level, note = self._cache["backtest"]
        if note is not None:
            return {}, note
        return per_level.get(level, {}), None


def _backtest_coverage(
    art: Artifacts,
) -> tuple[dict[str, dict[str, dict[str, Any]]], str | None]:
    """Coverage of the champion's 80/95 % intervals per (level, indicator) from backtest.csv.gz."""
    import csv
    import io

    champions = {lv: str(b.get("champion")) for lv, b in (art.metrics.get("levels") or {}).items()
                 if isinstance(b, dict)}
    path = art.directory / BACKTEST_FILE
    try:
        with gzip.open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        cols = ("level", "indicator", "model", "y_true", "lo_80", "hi_80", "lo_95", "hi_95")
        pos = [header.index(c) for c in cols]
        counts: dict[tuple[str, str], list[int]] = {}
        for row in reader:
            if not row:
                continue
            level, indicator, model = row[pos[0]], row[pos[1]], row[pos[2]]
            if champions.get(level) != model:
                continue
            y, lo80, hi80, lo95, hi95 = (float(row[i]) for i in pos[3:])
            c = counts.setdefault((level, indicator), [0, 0, 0])
            c[0] += 1
            c[1] += lo80 <= y <= hi80
            c[2] += lo95 <= y <= hi95
    except FileNotFoundError:
        return {}, f"no {BACKTEST_FILE} in the artifacts"
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, StopIteration, ValueError,
            IndexError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}, f"{BACKTEST_FILE} is unreadable ({type(exc).__name__})"
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (level, indicator), (n, in80, in95) in counts.items():
        out.setdefault(level, {})[indicator] = {
            "mase": None, "coverage_80": in80 / n, "coverage_95": in95 / n, "n_forecasts": n,
        }
    return out, None


def signature(directory: Path) -> tuple[object, ...]:
    """Identity of the artifact files on disk (to notice when they appear or change)."""
    out: list[object] = []
    for name in (FORECASTS_FILE, METRICS_FILE, MODEL_CARD_FILE):
        try:
            st = (directory / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def load_artifacts(directory: str | os.PathLike[str] | None = None) -> Artifacts:
    """Read and validate the artifacts of ``directory`` (default :func:`config.artifacts_dir`)."""
    path = config.artifacts_dir(directory)
    forecasts_path, metrics_path = path / FORECASTS_FILE, path / METRICS_FILE
    if not forecasts_path.is_file() or not metrics_path.is_file():
        missing = [p.name for p in (forecasts_path, metrics_path) if not p.is_file()]
        raise ArtifactsError(
            f"No trained forecasts found in {path} (missing {', '.join(missing)}): {HOW_TO_TRAIN}"
        )
    metrics = _read_metrics(metrics_path)
    series, by_year, years = _read_forecasts(forecasts_path)
    card_path = path / MODEL_CARD_FILE
    try:
        model_card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", card_path, exc)
        model_card = None
    last_year = metrics.get("last_year")
    if isinstance(last_year, int) and years[0] != last_year + 1:
        raise _corrupt(
            path, FORECASTS_FILE,
            f"forecasts start in {years[0]} but {METRICS_FILE} says the last observed year is "
            f"{last_year}",
        )
    log.info("loaded artifacts from %s (edition %s, %d series)", path, metrics.get("edition"),
             len(series))
    return Artifacts(directory=path, metrics=metrics, series=series, by_year=by_year, years=years,
                     model_card=model_card)


def _corrupt(directory: Path, name: str, problem: str) -> ArtifactsError:
    return ArtifactsError(
        f"The trained artifacts in {directory} are unusable ({name}: {problem}). Re-run "
        + HOW_TO_TRAIN
    )


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path.parent, path.name, f"not valid JSON: {exc}") from None
    if not isinstance(metrics, dict):
        raise _corrupt(path.parent, path.name, "expected a JSON object")
    if not isinstance(metrics.get("levels", {}), dict):
        raise _corrupt(path.parent, path.name, "'levels' must be an object")
    return metrics


def _read_forecasts(
    path: Path,
) -> tuple[
    dict[tuple[str, str, str], tuple[tuple[int, Values], ...]],
    dict[tuple[str, str, int], dict[str, Values]],
    tuple[int, ...],
]:
    import csv
    import io

    try:
        with gzip.open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _corrupt(path.parent, path.name, f"cannot be decompressed or read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise _corrupt(path.parent, path.name, "the file is empty")
    missing = [c for c in FORECAST_COLUMNS if c not in header]
    if missing:
        raise _corrupt(path.parent, path.name, f"missing column(s) {', '.join(missing)}")
    pos = [header.index(c) for c in FORECAST_COLUMNS]
    raw: dict[tuple[str, str, str], dict[int, Values]] = {}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            level, area, indicator, year_text = (row[i] for i in pos[:4])
            year = int(year_text)
            values = tuple(float(row[i]) for i in pos[4:])
        except (IndexError, ValueError):
            raise _corrupt(path.parent, path.name, f"line {line} is malformed") from None
        if not all(math.isfinite(v) for v in values):
            raise _corrupt(path.parent, path.name, f"line {line} has a missing or infinite value")
        if not year <= MAX_FORECAST_YEAR:
            raise _corrupt(path.parent, path.name, f"line {line}: year {year} is after 2030")
        per_year = raw.setdefault((level, area, indicator), {})
        if year in per_year:
            raise _corrupt(path.parent, path.name, f"line {line} duplicates a series year")
        per_year[year] = values
    if not raw:
        raise _corrupt(path.parent, path.name, "no forecast rows")
    series = {key: tuple(sorted(per_year.items())) for key, per_year in raw.items()}
    by_year: dict[tuple[str, str, int], dict[str, Values]] = {}
    for (level, area, indicator), rows in series.items():
        for year, values in rows:
            by_year.setdefault((level, indicator, year), {})[area] = values
    years = tuple(sorted({year for level, _, year in by_year}))
    return series, by_year, years


BACKTEST_LIMIT = 5000


def read_backtest(art: Artifacts, level: str, limit: int = BACKTEST_LIMIT) -> dict[str, Any]:
    """The champion's backtest points of one level (actual vs predicted, with intervals), from
    ``backtest.csv.gz``. More than ``limit`` points are thinned evenly (said in ``note``)."""
    block = art.level_metrics(level)
    if block is None:
        raise ArtifactsError(f"The {level} level was not backtested (see model_metrics).")
    champion = str(block.get("champion") or "")
    path = art.directory / BACKTEST_FILE
    import csv
    import io

    try:
        with gzip.open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
    except FileNotFoundError:
        raise ArtifactsError(f"No {BACKTEST_FILE} in {art.directory}: {HOW_TO_TRAIN}") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _corrupt(art.directory, BACKTEST_FILE, f"cannot be read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    numeric = ("y_true", "y_pred", "lo_80", "hi_80", "lo_95", "hi_95")
    rows: list[dict[str, Any]] = []
    for row in reader:
        if row.get("level") != level or row.get("model") != champion:
            continue
        try:
            out: dict[str, Any] = {
                "area": row["area"], "indicator": row["indicator"],
                "cutoff": int(row["cutoff"]), "year": int(row["year"]),
                "horizon": int(row["horizon"]),
            }
            out.update(
                {k: round(float(row[k]), 3) for k in numeric if row.get(k) not in (None, "")}
            )
        except (KeyError, ValueError):
            raise _corrupt(art.directory, BACKTEST_FILE,
                           f"line {reader.line_num} is malformed") from None
        rows.append(out)
    total = len(rows)
    step = max(1, -(-total // limit))
    shown = rows[::step]
    note = None if step == 1 else (
        f"{total} points; every {step}th is shown ({len(shown)}) to keep the resource small."
    )
    return {"level": level, "champion": champion, "edition": art.edition,
            "rows_total": total, "rows_shown": len(shown), "note": note, "rows": shown}
