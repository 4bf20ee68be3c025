"""End-to-end training: backtest every level, pick champions, write the artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    HEADLINE_HORIZONS,
    CandidateResult,
    Protocol,
    add_group_intervals,
    combine,
    evaluate,
    level_metrics,
    run_candidate,
    score,
    zero_scale_series,
)
from oasis_training.calibration import (
    calibration_scale,
    final_group_quantiles,
    volatility_scale,
    widths,
)
from oasis_training.candidates import (
    COMBINATIONS,
    all_candidates,
    candidate_by_name,
    candidates_not_run,
    global_names,
    per_series_names,
)
from oasis_training.coherent import (
    _variance,
    copy_intervals,
    describe_methods,
    reconciled_candidates,
    residual_variance,
    same_series_pairs,
    split_levels,
    stack,
)
from oasis_training.data import Panel, load_training_data
from oasis_training.intervals import forecast_bounds, nest_bounds
from oasis_training.models.base import Forecaster
from oasis_training.models.global_ml import GlobalModel
from oasis_training.reconcile import (
    DRUG_PARTS,
    DRUG_TOTAL,
    LEVEL_ORDER,
    build_hierarchy,
    reconcile,
)
from oasis_training.revisions import measure_revisions
from oasis_training.selection import assemble, known_mase, nested_choices

Progress = Callable[[str], None]
ALL_CANDIDATES_IN_BACKTEST = ("country",)  # other levels: the short list below
SHORT_LIST = ("naive", "shared_trend", "selected")
PUBLISHED = "selected_reconciled"


@dataclass
class TrainConfig:
    data_dir: str | None = None
    edition: str | None = None
    levels: tuple[str, ...] = ("country", "region", "department")
    out: Path = Path("training-runs/latest")
    quick: bool = False
    n_jobs: int = 2
    mlflow: bool = True
    series_limit: int | None = None  # quick runs: keep this many areas per level
    command: list[str] = field(default_factory=list)
    skip: tuple[str, ...] = ()  # candidates left out on purpose (recorded with the reason)


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
) -> dict[str, CandidateResult]:
    """Every candidate of the level, with this level's grouped intervals and metrics."""
    results: dict[str, CandidateResult] = {}
    models = all_candidates(quick=cfg.quick, n_jobs=cfg.n_jobs,
                            per_series=per_series_names(panel.level, cfg.quick),
                            slow_global=global_names(panel.level))
    models = [m for m in models if m.name not in cfg.skip]
    for i, model in enumerate(models, 1):
        progress(f"[{panel.level}] {i}/{len(models)} {model.name} …")
        res = run_candidate(model, panel, protocol, n_jobs=cfg.n_jobs)
        evaluate(res, protocol, panel)
        results[model.name] = res
        progress(f"[{panel.level}] {model.name}: MASE {res.metrics['mase']:.3f} "
                 f"({res.fit_seconds:.1f}s)")
    for name, members in COMBINATIONS.items():
        if all(m in results for m in members):
            combo = combine(name, [results[m] for m in members])
            evaluate(combo, protocol, panel)
            results[name] = combo
    return results


def nested_selection(results: dict[str, CandidateResult], protocol: Protocol, panel: Panel,
                     last_year: int) -> tuple[CandidateResult, dict[int, str], str]:
    """The nested-selected meta-candidate, its choice per cutoff, and the final choice."""
    recs = {n: r.records for n, r in results.items()}
    cx = {n: r.complexity for n, r in results.items()}
    cutoffs = protocol.calibration_cutoffs + protocol.cutoffs
    choices = nested_choices(recs, cutoffs, cx)
    final = nested_choices(recs, [last_year], cx)[last_year]
    base = assemble({n: r.drop(columns=["lo_80", "hi_80", "lo_95", "hi_95"], errors="ignore")
                     for n, r in recs.items()}, choices)
    sel = CandidateResult("selected", "selection", 9,
                          {"rule": "lowest MASE on the outcomes known at each cutoff",
                           "choices": {str(c): n for c, n in choices.items()}, "final": final},
                          base, 0.0, 0)
    evaluate(sel, protocol, panel)
    return sel, choices, final


def _member_models(name: str, cfg: TrainConfig) -> list[Forecaster]:
    names = COMBINATIONS.get(name, [name])
    return [candidate_by_name(n, quick=cfg.quick, n_jobs=cfg.n_jobs) for n in names]


def point_forecast(panel: Panel, name: str, cfg: TrainConfig
                   ) -> tuple[np.ndarray, list[Forecaster], tuple[int, ...]]:
    last = int(panel.years[-1])
    horizons = tuple(range(1, FORECAST_END_YEAR - last + 1))
    models = _member_models(name, cfg)
    preds = [m.forecast(panel, horizons).values for m in models]
    point = np.expm1(np.mean([np.log1p(p) for p in preds], axis=0))
    return point, models, horizons


def forecast_frame(panel: Panel, point: np.ndarray, bounds: dict[str, tuple[np.ndarray,
                   np.ndarray]], horizons: tuple[int, ...]) -> pd.DataFrame:
    last = int(panel.years[-1])
    den = np.maximum(panel.den[:, -1], 1.0)
    parts = []
    for j, h in enumerate(horizons):
        cols: dict[str, Any] = {"level": panel.level, "area": panel.areas,
                                "indicator": panel.indicators, "year": last + h,
                                "count": point[:, j]}
        for lvl, (lo, hi) in bounds.items():
            cols[f"lo_{lvl}"], cols[f"hi_{lvl}"] = lo[:, j], hi[:, j]
        frame = pd.DataFrame(cols)
        frame["rate_100k"] = frame["count"] / den * 1e5
        for lvl in ("80", "95"):
            frame[f"rate_100k_lo_{lvl}"] = frame[f"lo_{lvl}"] / den * 1e5
            frame[f"rate_100k_hi_{lvl}"] = frame[f"hi_{lvl}"] / den * 1e5
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)[FORECAST_COLUMNS]
    return out.sort_values(["area", "indicator", "year"], kind="stable")


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
                 ) -> dict[str, dict[str, Any]]:
    """The champion's MASE, interval coverage, MSIS and number of evaluated forecasts per
    indicator, overall and per horizon (the forecast tool reports them)."""
    rec = result.records
    ev = rec[rec["cutoff"].isin(protocol.cutoffs)]
    labels = panel.indicators[ev["series"].to_numpy()]
    keys = ("mase", "coverage_80", "coverage_95", "msis_95", "n_forecasts", "n_series_mase")
    out: dict[str, dict[str, Any]] = {}
    for label, group in ev.groupby(labels, sort=True):
        s = score(group)
        entry: dict[str, Any] = {k: s[k] for k in keys}
        entry["by_horizon"] = {str(h): {k: v for k, v in score(g).items() if k in keys}
                               for h, g in group.groupby("horizon")}
        out[str(label)] = entry
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


def environment() -> dict[str, Any]:
    """Python and library versions, thread settings (recorded for reproduction)."""
    import platform
    from importlib import metadata

    libs: dict[str, str | None] = {}
    for name in ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "statsmodels",
                 "prophet", "joblib", "oasis-mcp"):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {"python": platform.python_version(), "libraries": libs,
            "threads": {"lightgbm": 1, "xgboost": 1, "random_forest": 1,
                        "deterministic": "LightGBM deterministic=True, force_row_wise=True; "
                                         "XGBoost tree_method=hist; joblib workers return results "
                                         "in submission order"}}


def _rounded_metrics(value: Any) -> Any:
    return clean_json(value)


def _level_block(level: str, panel: Panel, results: dict[str, CandidateResult], champion: str,
                 protocol: Protocol, cfg: TrainConfig) -> dict[str, Any]:
    naive = float(results["naive"].metrics["mase"])
    naive12 = float(results["naive"].metrics["mase_h12"])
    for res in results.values():
        res.metrics["ratio_to_naive"] = float(res.metrics["mase"]) / naive
        res.metrics["ratio_to_naive_h12"] = float(res.metrics["mase_h12"]) / naive12
        res.metrics["ratio_by_horizon"] = {
            h: float(m["mase"]) / float(results["naive"].metrics["by_horizon"][h]["mase"])
            for h, m in res.metrics["by_horizon"].items()}
    champ = results[champion].metrics
    return {
        "champion": champion,
        "naive_mase": naive,
        "champion_ratio_to_naive": champ["ratio_to_naive"],
        "champion_ratio_to_naive_h12": champ["ratio_to_naive_h12"],
        "n_series": panel.n_series,
        "n_series_excluded_zero_scale": zero_scale_series(results["naive"].records, protocol),
        "candidates": {n: dict({k: v for k, v in r.metrics.items() if k != "fit_seconds"},
                               family=r.family, params=r.params)
                       for n, r in results.items()},
        "champion_by_indicator": by_indicator(panel, results[champion], protocol),
        "candidates_not_run": {**candidates_not_run(level, cfg.quick),
                               **{n: "left out of this run with --skip" for n in cfg.skip}},
    }


def run(cfg: TrainConfig, progress: Progress = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    info, panels = load_training_data(cfg.data_dir, cfg.edition, cfg.levels)
    progress(f"edition {info.edition}: years {info.first_year}–{info.last_year}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    levels = [lv for lv in LEVEL_ORDER if lv in cfg.levels and lv in panels]
    panels = {lv: _limit(panels[lv], cfg.series_limit) for lv in levels}
    protocol = Protocol.for_years(panels[levels[0]].years)
    metrics: dict[str, Any] = {
        "edition": info.edition, "files": info.files, "first_year": info.first_year,
        "last_year": info.last_year, "regions_source": info.regions_source,
        "git_commit": git_commit(), "seeds": {"global": SEED}, "environment": environment(),
        "quick": cfg.quick, "series_limit": cfg.series_limit,
        "protocol": {
            "scheme": "rolling origin, expanding window",
            "cutoffs": protocol.cutoffs, "calibration_only_cutoffs": protocol.calibration_cutoffs,
            "horizons": protocol.horizons, "headline_horizons": list(HEADLINE_HORIZONS),
            "target": "count",
            "mase_scale": "in-sample MAE of one-step naive up to the cutoff, per series",
            "intervals": "grouped conformal on |error| / s, s = sqrt(local² + (0.6 × y[t] × "
                         "σ_nat)²), local = mean |year-on-year change − their mean| (floored by "
                         "sqrt(y[t] + 1)) + 0.05 y[t], σ_nat = std of the indicator's national "
                         "log-changes up to the cutoff (the change into 2020 left out); one "
                         "quantile per (indicator, horizon), pooled over the levels, shrunk "
                         "toward the horizon's quantile over all indicators (weight n / (n + 10)); "
                         "calibrated only on outcomes observed by the cutoff, never on the 2020 "
                         "(lockdown) outcomes nor on forecasts made from fewer than 3 years",
            "selection": "nested: the forecasts of each cutoff come from the candidate (and the "
                         "reconciliation method) with the lowest MASE on the outcomes known at "
                         "that cutoff; the published model is chosen the same way at the last "
                         "year",
            "not_started": "series with fewer than 2 non-zero years at the cutoff (e.g. the AFD "
                           "fixed fine before 2021) are left out of coverage, MSIS and "
                           "calibration",
        },
        "levels": {},
    }
    timings: dict[str, Any] = {"levels": {}}
    all_results: dict[str, dict[str, CandidateResult]] = {}
    finals: dict[str, str] = {}
    for level in levels:
        panel = panels[level]
        results = backtest_level(panel, protocol, cfg, progress)
        sel, choices, final = nested_selection(results, protocol, panel, info.last_year)
        results["selected"] = sel
        all_results[level] = results
        finals[level] = final
        timings["levels"][level] = {n: round(r.fit_seconds, 1) for n, r in results.items()}
        progress(f"[{level}] nested selection {choices} → final {final}: MASE "
                 f"{sel.metrics['mase']:.3f}")
    hierarchy = None
    region_of: dict[str, str] = {}
    try:
        from oasis_mcp.data.geography import areas

        region_of = {a.code: str(a.region_code) for a in areas("department")}
        hierarchy = build_hierarchy(panels, region_of)
    except ImportError:  # pragma: no cover - data layer not importable
        hierarchy = None
    recon_info: dict[str, Any]
    published_records: pd.DataFrame | None = None
    final_method = "none"
    if hierarchy is not None:
        base = stack(hierarchy, {lv: all_results[lv]["selected"].records for lv in levels})
        keys = base.drop_duplicates("node")[["node", "level", "indicator"]].assign(
            area=lambda f: [panels[lv].areas[s] for lv, s in zip(
                f["level"], base.drop_duplicates("node")["series"], strict=True)])
        pairs = same_series_pairs(hierarchy, region_of, keys)
        methods = reconciled_candidates(hierarchy, base, pairs)

        def both_levels(frame: pd.DataFrame, cutoff: int) -> float:
            vals = [known_mase(frame[frame["level"] == lv], cutoff) for lv in
                    ("region", "department")]
            return float(np.mean(vals))

        cuts = protocol.calibration_cutoffs + protocol.cutoffs
        plain = {m: f.drop(columns=["lo_80", "hi_80", "lo_95", "hi_95"]) for m, f in
                 methods.items()}
        cx = {m: i for i, m in enumerate(methods)}
        rchoices = nested_choices(plain, cuts, cx, default="bottom_up", score=both_levels)
        final_method = nested_choices(plain, [info.last_year], cx, default="bottom_up",
                                      score=both_levels)[info.last_year]
        published = copy_intervals(add_group_intervals(assemble(plain, rchoices)), pairs)
        published_records = published
        for name, frame in [*[(f"reconciled_{m}" if m != "base" else "selected_pooled", f)
                              for m, f in methods.items()], (PUBLISHED, published)]:
            for lv, rec in split_levels(frame).items():
                res = CandidateResult(name, "reconciliation", 10, {}, rec, 0.0, 0)
                res.metrics = level_metrics(rec, protocol)
                res.metrics["n_fallback"] = 0
                all_results[lv][name] = res
        recon_info = {"applied": True, "choices": {str(c): m for c, m in rchoices.items()},
                      "final": final_method, **describe_methods(),
                      "single_department_regions": sorted({keys.set_index("node").loc[r, "area"]
                                                           for r, _ in pairs})}
        progress(f"reconciliation choices {rchoices} → final {final_method}")
    else:
        recon_info = {"applied": False,
                      "why": "reconciliation needs every country, region and department series "
                             "(all three levels, no --limit-areas)"}
    metrics["reconciliation"] = recon_info
    try:
        revisions = measure_revisions(cfg.data_dir, info.edition, tuple(levels))
    except Exception as exc:
        revisions = {"note": f"earlier edition unreadable: {type(exc).__name__}"}
    metrics["revisions"] = revisions
    champion = PUBLISHED if hierarchy is not None else "selected"

    # Final forecasts: each level's finally selected model, reconciled, with grouped intervals.
    points: dict[str, np.ndarray] = {}
    model_files: list[Path] = []
    horizons: tuple[int, ...] = ()
    for level in levels:
        points[level], models, horizons = point_forecast(panels[level], finals[level], cfg)
        model_files += export_models(out, level, finals[level], models)
    hz = list(horizons)
    vscale = {lv: volatility_scale(panels[lv].y) for lv in levels}
    cscale = {lv: calibration_scale(panels[lv].y, panels[lv].national, panels[lv].years)
              for lv in levels}
    if hierarchy is not None and published_records is not None:
        stacked = np.vstack([points[lv] for lv in LEVEL_ORDER])
        lv_arr = np.concatenate([np.full(panels[lv].n_series, lv) for lv in LEVEL_ORDER])
        ind_arr = np.concatenate([panels[lv].indicators for lv in LEVEL_ORDER])
        vs_arr = np.concatenate([vscale[lv] for lv in LEVEL_ORDER])
        if final_method != "base":
            sel_base = stack(hierarchy, {lv: all_results[lv]["selected"].records
                                         for lv in levels})
            var = residual_variance(sel_base, None) if final_method == "wls_residuals" else {}
            for j, h in enumerate(hz):
                weights = _variance(hierarchy, lv_arr, ind_arr, vs_arr, h, final_method, var)
                stacked[:, j] = reconcile(hierarchy, stacked[:, j], final_method, weights)
        for lv in LEVEL_ORDER:
            lo, hi = hierarchy.offsets[lv]
            points[lv] = stacked[lo:hi]
        calib_records = published_records
    else:
        calib_records = pd.concat([all_results[lv]["selected"].records for lv in levels],
                                  ignore_index=True)
    quantiles = final_group_quantiles(calib_records, hz)
    calibrated = int(calib_records["horizon"].max())
    forecasts: dict[str, pd.DataFrame] = {}
    for lv in levels:
        p = panels[lv]
        w = {k: widths(quantiles[k], lv, p.indicators, hz, cscale[lv]) for k in ("80", "95")}
        rev = (revisions.get("levels") or {}).get(lv)
        if rev:  # the last observed value is provisional: its revision joins the h = 1 width
            last = np.clip(p.y[:, -1], 0, None)
            for k, key in (("80", "p80"), ("95", "p95")):
                w[k][:, 0] = np.sqrt(w[k][:, 0] ** 2 + (float(rev[key]) * last) ** 2)
        bounds = {k: forecast_bounds(points[lv], w[k], calibrated) for k in ("80", "95")}
        bounds["95"] = nest_bounds(bounds["80"], bounds["95"])
        forecasts[lv] = forecast_frame(p, points[lv], bounds, horizons)
    if hierarchy is not None:
        forecasts = _equal_single_department_regions(forecasts, region_of)
        coh = coherence_report(forecasts, region_of)
        metrics["reconciliation"]["published_max_relative_gap"] = coh
        progress(f"coherence of the published forecasts: {coh}")

    for level in levels:
        results = all_results[level]
        metrics["levels"][level] = _level_block(level, panels[level], results, champion,
                                                protocol, cfg)
        metrics["levels"][level]["selection"] = {
            "choices": results["selected"].params["choices"], "final": finals[level]}
        champ = results[champion].metrics
        progress(f"[{level}] published {champion}: MASE {champ['mase']:.3f} = "
                 f"{champ['ratio_to_naive']:.3f} × naive "
                 f"(h1-2: {champ['ratio_to_naive_h12']:.3f}); "
                 f"coverage {champ['coverage_80']:.3f}/{champ['coverage_95']:.3f}")
    metrics = clean_json(metrics)
    bt_parts = []
    for lv in levels:
        level_results = all_results[lv]
        # Country: every candidate. Other levels: the champion and the short list (the
        # reconciliation variants' figures are in metrics.json; their rows would double the file
        # that ships in the wheel).
        keep = list(level_results) if lv in ALL_CANDIDATES_IN_BACKTEST else [
            n for n in dict.fromkeys([champion, *SHORT_LIST]) if n in level_results]
        bt_parts.append(backtest_frame(panels[lv], level_results, keep, protocol))
    bt = pd.concat(bt_parts, ignore_index=True).round(
        {"y_pred": 3, "lo_80": 3, "hi_80": 3, "lo_95": 3, "hi_95": 3})
    fc = pd.concat([forecasts[lv] for lv in levels], ignore_index=True).round(4)
    write_csv_gz(out / "backtest.csv.gz", bt)
    write_csv_gz(out / "forecasts.csv.gz", fc)
    write_json(out / "metrics.json", metrics)
    manifest = {str(p.relative_to(out)): sha256_file(p) for p in sorted(model_files)}
    write_json(out / "models" / "manifest.json", {"files": manifest})
    timings["total_seconds"] = round(time.perf_counter() - t0, 1)
    timings["command"] = cfg.command
    timings["load_average"] = [round(x, 2) for x in os.getloadavg()]
    write_json(out / "run.json", timings)
    from oasis_training.model_card import write_model_card

    write_model_card(out / "MODEL_CARD.md", metrics, timings)
    if cfg.mlflow:
        from oasis_training.tracking import log_runs

        log_runs(metrics, all_results)
    progress(f"done in {time.perf_counter() - t0:.0f}s → {out}")
    return metrics


def _equal_single_department_regions(forecasts: dict[str, pd.DataFrame],
                                     region_of: dict[str, str]) -> dict[str, pd.DataFrame]:
    """A region made of one department publishes exactly that department's rows."""
    dep, reg = forecasts["department"], forecasts["region"]
    counts = pd.Series([region_of[a] for a in dep["area"].unique()]).value_counts()
    single = {region_of[a]: a for a in dep["area"].unique() if counts[region_of[a]] == 1}
    if not single:
        return forecasts
    value_cols = [c for c in FORECAST_COLUMNS if c not in ("level", "area", "indicator", "year")]
    src = dep[dep["area"].isin(list(single.values()))].set_index(["area", "indicator", "year"])
    reg = reg.copy()
    rows = reg["area"].isin(list(single))
    idx = pd.MultiIndex.from_arrays([reg.loc[rows, "area"].map(single), reg.loc[rows, "indicator"],
                                     reg.loc[rows, "year"]])
    reg.loc[rows, value_cols] = src.loc[idx, value_cols].to_numpy()
    return {**forecasts, "region": reg}


def coherence_report(forecasts: dict[str, pd.DataFrame], region_of: dict[str, str]
                     ) -> dict[str, float]:
    """Largest relative gaps of the published counts: departments vs their region, regions vs
    France, metropolitan departments vs FM, drug-use parts vs the total."""
    dep, reg, cty = forecasts["department"], forecasts["region"], forecasts["country"]
    key = ["indicator", "year"]

    def gap(parts: pd.Series, total: pd.Series) -> float:
        both = total.index.intersection(parts.index)
        t = total[both]
        return float(((parts[both] - t).abs() / np.maximum(t.abs(), 1.0)).max())

    d = dep.assign(region=dep["area"].map(region_of))
    out = {
        "department_sum_vs_region": gap(d.groupby(["region", *key])["count"].sum(),
                                        reg.set_index(["area", *key])["count"]),
        "region_sum_vs_france": gap(reg.groupby(key)["count"].sum(),
                                    cty[cty["area"] == "FR"].set_index(key)["count"]),
        "metropolitan_departments_vs_fm": gap(
            dep[dep["area"].str.len() == 2].groupby(key)["count"].sum(),
            cty[cty["area"] == "FM"].set_index(key)["count"]),
    }
    allf = pd.concat([dep, reg, cty], ignore_index=True)
    parts = allf[allf["indicator"].isin(DRUG_PARTS)]
    if len(parts):
        out["drug_use_parts_vs_total"] = gap(
            parts.groupby(["level", "area", "year"])["count"].sum(),
            allf[allf["indicator"] == DRUG_TOTAL].set_index(["level", "area", "year"])["count"])
    return out


def load_metrics(out: Path) -> dict[str, Any]:
    return json.loads((out / "metrics.json").read_text())
