"""Atomic writing of the committed artifacts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

BACKTEST_COLUMNS = ["level", "area", "indicator", "cutoff", "year", "horizon", "model", "y_true",
                    "y_pred", "lo_80", "hi_80", "lo_95", "hi_95"]
FORECAST_COLUMNS = ["level", "area", "indicator", "year", "count", "lo_80", "hi_80", "lo_95",
                    "hi_95", "rate_100k", "rate_100k_lo_80", "rate_100k_hi_80",
                    "rate_100k_lo_95", "rate_100k_hi_95"]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False, allow_nan=False)
    write_bytes_atomic(path, (text + "\n").encode())


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no timestamp, no file name) so identical runs give identical bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def write_csv_gz(path: Path, frame: pd.DataFrame) -> None:
    write_bytes_atomic(path, gzip_bytes(frame.to_csv(index=False, lineterminator="\n").encode()))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean_json(value: Any) -> Any:
    """Floats rounded to 6 significant digits, NaN/inf to None, numpy scalars to Python."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return float(f"{value:.6g}")
    return value
