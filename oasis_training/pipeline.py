"""End-to-end training: backtest every level, pick champions, write the artifacts."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oasis_training import FORECAST_END_YEAR, SEED
from oasis_training.artifacts import (
    BACKTEST_COLUMNS,
    FORECAST_COLUMNS,
    clean_json,
    gzip_bytes,
    sha256_file,
    write_bytes_atomic,
    write_csv_gz,
    write_json,
)
from oasis_training.backtest import (
    CandidateResult,
    Protocol,
    choose_champion,
    combine,
    evaluate,
    run_candidate,
    score,
    zero_scale_series,
)
from oasis_training.candidates import (
    COMBINATIONS,
    all_candidates,
    candidate_by_name,
    candidates_not_run,
    per_series_names,
)
from oasis_training.data import Panel, load_training_data
from oasis_training.intervals import final_bounds, horizon_quantiles, interval_scale
from oasis_training.models.base import Forecaster
from oasis_training.models.global_ml import GlobalModel

Progress = Callable[[str], None]
ALL_CANDIDATES_IN_BACKTEST = ("country", "region")  # department: champion, naive, shared_trend
# Country intervals are calibrated on the pooled residuals of country and region series (same
# candidate, same scaled form, same "observed by the cutoff" rule): 36 country series give only
# 36–72 residuals per cutoff and horizon, too few for a 95 % quantile that survives 2020.
POOL_CALIBRATION = {"country": "region"}


@dataclass
class TrainConfig:
    data_dir: str | None = None
    edition: str | None = None
    levels: tuple[str, ...] = ("country", "region", "department")
    out: Path = Path("artifacts")
    quick: bool = False
    n_jobs: int = 2
    mlflow: bool = True
    series_limit: int | None = None  # quick runs: keep this many areas per level


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _limit(panel: Panel, n_areas: int | None) -> Panel:
    if n_areas is None:
        return panel
    keep = sorted(set(panel.areas.tolist()))[:n_areas]
    return panel.subset(np.isin(panel.areas, keep))


def backtest_level(
    panel: Panel, protocol: Protocol, cfg: TrainConfig, progress: Progress,
    pools: dict[str, CandidateResult] | None = None,
) -> tuple[dict[str, CandidateResult], str]:
    """``pools``: another level's results whose residuals join each candidate's calibration."""

    def pool(name: str) -> pd.DataFrame | None:
        return pools[name].records if pools and name in pools else None

    results: dict[str, CandidateResult] = {}
    models = all_candidates(quick=cfg.quick, n_jobs=cfg.n_jobs,
                            per_series=per_series_names(panel.level, cfg.quick))
    for i, model in enumerate(models, 1):
        progress(f"[{panel.level}] {i}/{len(models)} {model.name} …")
        res = run_candidate(model, panel, protocol, n_jobs=cfg.n_jobs)
        evaluate(res, protocol, pool(model.name))
        results[model.name] = res
        progress(f"[{panel.level}] {model.name}: MASE {res.metrics['mase']:.3f} "
                 f"({res.fit_seconds:.1f}s)")
    for name, members in COMBINATIONS.items():
        combo = combine(name, [results[m] for m in members])
        evaluate(combo, protocol, pool(name))
        results[name] = combo
    naive = float(results["naive"].metrics["mase"])
    for res in results.values():
        res.metrics["ratio_to_naive"] = float(res.metrics["mase"]) / naive
    champion = choose_champion({n: r.metrics for n, r in results.items()},
                               {n: r.complexity for n, r in results.items()})
    return results, champion


def _member_models(name: str, cfg: TrainConfig) -> list[Forecaster]:
    names = COMBINATIONS.get(name, [name])
    return [candidate_by_name(n, quick=cfg.quick, n_jobs=cfg.n_jobs) for n in names]


def final_forecast(
    panel: Panel, champion: CandidateResult, cfg: TrainConfig,
    pool: CandidateResult | None = None,
) -> tuple[pd.DataFrame, list[Forecaster]]:
    last = int(panel.years[-1])
    horizons = tuple(range(1, FORECAST_END_YEAR - last + 1))
    models = _member_models(champion.name, cfg)
    preds = [m.forecast(panel, horizons).values for m in models]
    point = np.expm1(np.mean([np.log1p(p) for p in preds], axis=0))
    rec_cols = ["horizon", "y_true", "y_pred", "iscale"]
    rec = champion.records[rec_cols]
    if pool is not None:
        rec = pd.concat([rec, pool.records[rec_cols]], ignore_index=True)
    q = horizon_quantiles(rec["horizon"].to_numpy(), rec["y_true"].to_numpy(float),
                          rec["y_pred"].to_numpy(float), rec["iscale"].to_numpy(float),
                          len(horizons))
    s = interval_scale(panel.y[:, -1])
    calibrated = int(np.max(rec["horizon"]))  # horizons 1..calibrated were backtested
    bounds = final_bounds(point, s, q, calibrated)
    den = np.maximum(panel.den[:, -1], 1.0)
    parts = []
    for j, h in enumerate(horizons):
        p = point[:, j]
        cols: dict[str, Any] = {"level": panel.level, "area": panel.areas,
                                "indicator": panel.indicators, "year": last + h, "count": p}
        for lvl, (lo, hi) in bounds.items():
            cols[f"lo_{lvl}"], cols[f"hi_{lvl}"] = lo[:, j], hi[:, j]
        frame = pd.DataFrame(cols)
        frame["rate_100k"] = frame["count"] / den * 1e5
        for lvl in ("80", "95"):
            frame[f"rate_100k_lo_{lvl}"] = frame[f"lo_{lvl}"] / den * 1e5
            frame[f"rate_100k_hi_{lvl}"] = frame[f"hi_{lvl}"] / den * 1e5
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)[FORECAST_COLUMNS]
    return out.sort_values(["area", "indicator", "year"], kind="stable"), models


def backtest_frame(panel: Panel, results: dict[str, CandidateResult], names: list[str],
                   protocol: Protocol) -> pd.DataFrame:
    parts = []
    for name in names:
        rec = results[name].records
        rec = rec[rec["cutoff"].isin(protocol.cutoffs)]
        parts.append(pd.DataFrame({
            "level": panel.level, "area": panel.areas[rec["series"]],
            "indicator": panel.indicators[rec["series"]], "cutoff": rec["cutoff"],
            "year": rec["year"], "horizon": rec["horizon"], "model": name,
            "y_true": rec["y_true"], "y_pred": rec["y_pred"], "lo_80": rec["lo_80"],
            "hi_80": rec["hi_80"], "lo_95": rec["lo_95"], "hi_95": rec["hi_95"],
        }))
    return pd.concat(parts, ignore_index=True)[BACKTEST_COLUMNS]


def by_indicator(panel: Panel, result: CandidateResult, protocol: Protocol
                 ) -> dict[str, dict[str, float | int]]:
    """The champion's MASE, interval coverage and number of evaluated forecasts per indicator
    (the forecast tool warns when an indicator's intervals were too narrow in the backtest)."""
    rec = result.records
    ev = rec[rec["cutoff"].isin(protocol.cutoffs)]
    labels = panel.indicators[ev["series"].to_numpy()]
    keys = ("mase", "coverage_80", "coverage_95", "n_forecasts", "n_series_mase")
    out: dict[str, dict[str, float | int]] = {}
    for label, group in ev.groupby(labels, sort=True):
        s = score(group)
        out[str(label)] = {k: s[k] for k in keys}
    return out


def export_models(out: Path, level: str, champion: str, models: list[Forecaster]) -> list[Path]:
    """Champion in non-pickle formats: native LightGBM text / XGBoost JSON (gzipped; load with
    ``lightgbm.Booster(model_str=gzip.decompress(...).decode())`` or ``xgboost.Booster`` after
    decompressing), plus JSON parameters. The feature order is ``oasis_training.features``'s
    NUMERIC_FEATURES then the indicator code (index into the sorted indicator labels)."""
    folder = out / "models" / level
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    from oasis_training.features import NUMERIC_FEATURES

    spec = {"level": level, "champion": champion,
            "features": [*NUMERIC_FEATURES, "indicator_code"],
            "members": [{"name": m.name, "family": m.family, "params": clean_json(m.params)}
                        for m in models]}
    for m in models:
        if not isinstance(m, GlobalModel):
            continue
        for h, est in sorted(m.fitted.items()):
            if m.kind == "lightgbm":
                path = folder / f"{m.name}_h{h}.txt.gz"
                write_bytes_atomic(path, gzip_bytes(est.booster_.model_to_string().encode()))
            elif m.kind == "xgboost":
                path = folder / f"{m.name}_h{h}.json.gz"
                raw = est.get_booster().save_raw(raw_format="json")
                write_bytes_atomic(path, gzip_bytes(bytes(raw)))
            elif m.kind == "ridge":
                path = folder / f"{m.name}_h{h}.json"
                scaler, ridge = est.steps[0][1], est.steps[1][1]
                write_json(path, clean_json({"mean": scaler.mean_.tolist(),
                                             "scale": scaler.scale_.tolist(),
                                             "coef": ridge.coef_.tolist(),
                                             "intercept": float(ridge.intercept_)}))
            else:
                continue
            written.append(path)
    spec_path = folder / "spec.json"
    write_json(spec_path, spec)
    written.append(spec_path)
    return written


def run(cfg: TrainConfig, progress: Progress = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    info, panels = load_training_data(cfg.data_dir, cfg.edition, cfg.levels)
    progress(f"edition {info.edition}: years {info.first_year}–{info.last_year}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "edition": info.edition,
        "files": info.files,
        "first_year": info.first_year,
        "last_year": info.last_year,
        "regions_source": info.regions_source,
        "git_commit": git_commit(),
        "seeds": {"global": SEED},
        "quick": cfg.quick,
        "levels": {},
    }
    backtests: dict[str, pd.DataFrame] = {}
    forecasts: dict[str, pd.DataFrame] = {}
    model_files: list[Path] = []
    all_results: dict[str, dict[str, CandidateResult]] = {}
    order = sorted(cfg.levels, key=lambda lv: lv in POOL_CALIBRATION)  # pool sources first
    for level in order:
        if level not in panels:
            continue
        pools = all_results.get(POOL_CALIBRATION.get(level, ""))
        panel = _limit(panels[level], cfg.series_limit)
        protocol = Protocol.for_years(panel.years)
        metrics["protocol"] = {
            "scheme": "rolling origin, expanding window",
            "cutoffs": protocol.cutoffs, "calibration_only_cutoffs": protocol.calibration_cutoffs,
            "horizons": protocol.horizons, "target": "count",
            "mase_scale": "in-sample MAE of one-step naive up to the cutoff, per series",
            "intervals": "split conformal on |error| / (0.1 y[t] + sqrt(y[t] + 1)), per horizon, "
                         "calibrated only on outcomes observed by the cutoff",
        }
        results, champion = backtest_level(panel, protocol, cfg, progress, pools)
        all_results[level] = results
        naive = results["naive"].metrics
        champ = results[champion].metrics
        metrics["levels"][level] = {
            "champion": champion,
            "naive_mase": naive["mase"],
            "champion_ratio_to_naive": champ["ratio_to_naive"],
            "n_series": panel.n_series,
            "n_series_excluded_zero_scale": zero_scale_series(results["naive"].records, protocol),
            "candidates": {n: dict(r.metrics, family=r.family, params=r.params)
                           for n, r in results.items()},
            "champion_by_indicator": by_indicator(panel, results[champion], protocol),
            "candidates_not_run": candidates_not_run(level, cfg.quick),
            "interval_calibration": (f"pooled residuals of {level} and {POOL_CALIBRATION[level]} "
                                     "series" if pools else f"residuals of {level} series"),
        }
        keep = list(results) if level in ALL_CANDIDATES_IN_BACKTEST else list(
            dict.fromkeys([champion, "naive", "shared_trend"]))
        backtests[level] = backtest_frame(panel, results, keep, protocol)
        progress(f"[{level}] champion {champion}: MASE {champ['mase']:.3f} "
                 f"= {champ['ratio_to_naive']:.3f} × naive; coverage "
                 f"{champ['coverage_80']:.3f}/{champ['coverage_95']:.3f}")
        fc, models = final_forecast(panel, results[champion], cfg,
                                    pools.get(champion) if pools else None)
        forecasts[level] = fc
        model_files += export_models(out, level, champion, models)
    done = [lv for lv in cfg.levels if lv in forecasts]  # the requested order
    metrics["levels"] = {lv: metrics["levels"][lv] for lv in done}
    metrics["total_seconds"] = round(time.perf_counter() - t0, 1)
    metrics = clean_json(metrics)
    bt = pd.concat([backtests[lv] for lv in done], ignore_index=True).round(
        {"y_pred": 3, "lo_80": 3, "hi_80": 3, "lo_95": 3, "hi_95": 3})
    fc = pd.concat([forecasts[lv] for lv in done], ignore_index=True).round(4)
    write_csv_gz(out / "backtest.csv.gz", bt)
    write_csv_gz(out / "forecasts.csv.gz", fc)
    write_json(out / "metrics.json", metrics)
    manifest = {str(p.relative_to(out)): sha256_file(p) for p in sorted(model_files)}
    write_json(out / "models" / "manifest.json", {"files": manifest})
    from oasis_training.model_card import write_model_card

    write_model_card(out / "MODEL_CARD.md", metrics)
    if cfg.mlflow:
        from oasis_training.tracking import log_runs

        log_runs(metrics, all_results)
    progress(f"done in {time.perf_counter() - t0:.0f}s → {out}")
    return metrics


def load_metrics(out: Path) -> dict[str, Any]:
    return json.loads((out / "metrics.json").read_text())
