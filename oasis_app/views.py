"""What each tab shows for given inputs and language: charts, tables, CSV files and messages,
computed from MCP tool calls. No Gradio here (see :mod:`oasis_app.ui`), so every view is testable
and benchmarkable on its own.

Each view has two tables: ``frame``, machine-readable (raw numbers, stable English column names:
what the CSV download holds), and ``table``, for reading (headers in the page's language, numbers
written ``1 234,5`` in French and ``1,234.5`` in English).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_app import charts, geo
from oasis_app.answers import friendly, warning
from oasis_app.bridge import ToolOutcome
from oasis_app.charts import Chart, indicator_label
from oasis_app.i18n import level_label, tr, unit_words
from oasis_app.numbers import format_count, format_number, format_pct, format_rate
from oasis_app.services import Services

EXPORT_DIR = Path(tempfile.gettempdir()) / "oasis-app-exports"
RATE_MEASURES = ("rate_per_1000", "rate_per_100k")
MEASURES = ("count", *RATE_MEASURES)
TOP_BARS = 25


@dataclass
class View:
    charts: list[Chart | None] = field(default_factory=list)
    table: pd.DataFrame | None = None
    """For reading: headers and numbers in the view's language."""
    frame: pd.DataFrame | None = None
    """Machine-readable (raw numbers, stable column names): the CSV download."""
    csv_path: str | None = None
    message: str = ""
    calls: list[ToolOutcome] = field(default_factory=list)

    @property
    def server_ms(self) -> float:
        return sum(call.duration_ms for call in self.calls)


def _problem(outcome: ToolOutcome, lang: str) -> str:
    return f"⚠️ {friendly(outcome.error, lang)}"


_CODE_READ = re.compile(r"^'[^']+' was read as the \w+ code ")
"""How the server read a bare code: the tabs send codes picked in a list at an explicit level,
so this is not news to the user."""


def _warnings(data: dict[str, Any], lang: str, limit: int = 2) -> list[str]:
    shown = [str(w) for w in data.get("warnings", []) if not _CODE_READ.match(str(w))]
    return [f"⚠️ {warning(w, lang)}" for w in shown[:limit]]


def write_csv(frame: pd.DataFrame, stem: str) -> str:
    """``frame`` as a UTF-8 CSV in the app's export folder; returns its path."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:80]
    handle, path = tempfile.mkstemp(prefix=f"{safe}_", suffix=".csv", dir=EXPORT_DIR)
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
        frame.to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def _range(lo: float | None, hi: float | None, lang: str) -> str:
    if lo is None or hi is None:
        return ""
    return f"{format_rate(lo, lang)} – {format_rate(hi, lang)}"


# -- Explore ------------------------------------------------------------------------------------


def explore(
    services: Services,
    level: str,
    area: str,
    indicator: str,
    measure: str = "rate_per_100k",
    show_forecast: bool = True,
    lang: str = "fr",
) -> View:
    """History (and forecast) of one series: chart, table, CSV."""
    view = View()
    if not area or not indicator:
        view.message = tr("pick_area", lang)
        view.charts = [charts.message_chart(tr("pick_area", lang))]
        return view
    args = {"area": area, "indicator": indicator, "level": level}
    history = services.bridge.call("get_history", args)
    view.calls.append(history)
    forecast = None
    notes: list[str] = []
    if show_forecast:
        forecast = services.bridge.call("forecast", args)
        view.calls.append(forecast)
        if not forecast.ok:
            notes.append(_problem(forecast, lang))
    if not history.ok:
        view.message = _problem(history, lang)
        view.charts = [charts.message_chart(tr("no_data", lang))]
        return view
    h = history.data or {}
    f = forecast.data if forecast is not None and forecast.ok else None
    view.charts = [charts.history_chart(h, f, measure=measure, lang=lang)]
    view.frame = series_table(h, f)
    view.table = series_display(view.frame, lang)
    view.csv_path = write_csv(view.frame, f"oasis_{h.get('area', {}).get('code', area)}_"
                                          f"{h.get('indicator', {}).get('slug', indicator)}")
    if f and measure == "rate_per_1000":
        notes.append(tr("per1000_forecast_note", lang))
    notes += _series_notes(h, f, lang)
    view.message = "\n\n".join(notes)
    return view


def series_table(history: dict[str, Any], forecast: dict[str, Any] | None) -> pd.DataFrame:
    """One series, observed then forecast years, raw numbers (the CSV)."""
    rows = [
        {"year": p["year"], "kind": "observed", "count": p.get("count"),
         "rate_per_1000": p.get("rate_per_1000"), "rate_per_100k": p.get("rate_per_100k")}
        for p in history.get("points", [])
    ]
    for r in (forecast or {}).get("forecasts", []):
        c, rate = r["count"], r["rate_per_100k"]
        rows.append({
            "year": r["year"], "kind": "forecast", "count": round(c["value"]),
            "rate_per_1000": None, "rate_per_100k": rate["value"],
            "rate_per_100k_lo_80": rate["lo_80"], "rate_per_100k_hi_80": rate["hi_80"],
            "rate_per_100k_lo_95": rate["lo_95"], "rate_per_100k_hi_95": rate["hi_95"],
            "count_lo_80": round(c["lo_80"]), "count_hi_80": round(c["hi_80"]),
        })
    frame = pd.DataFrame(rows)
    frame.insert(0, "area", history.get("area", {}).get("name", ""))
    frame.insert(1, "indicator", history.get("indicator", {}).get("label_fr", ""))
    return frame


def _get(row: pd.Series, key: str) -> Any:
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def series_display(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """:func:`series_table` for reading: localized headers and numbers."""
    out = []
    has_bands = "rate_per_100k_lo_80" in frame.columns
    for _, row in frame.iterrows():
        item = {
            tr("col_year", lang): str(row["year"]),
            tr("col_kind", lang): tr(f"kind_{row['kind']}", lang),
            tr("col_count", lang): format_count(_get(row, "count"), lang),
            tr("col_rate_1000", lang): format_rate(_get(row, "rate_per_1000"), lang),
            tr("col_rate_100k", lang): format_rate(_get(row, "rate_per_100k"), lang),
        }
        if has_bands:
            item[tr("col_range_80", lang)] = _range(_get(row, "rate_per_100k_lo_80"),
                                                    _get(row, "rate_per_100k_hi_80"), lang)
            item[tr("col_range_95", lang)] = _range(_get(row, "rate_per_100k_lo_95"),
                                                    _get(row, "rate_per_100k_hi_95"), lang)
        out.append(item)
    return pd.DataFrame(out)


def _series_notes(history: dict[str, Any], forecast: dict[str, Any] | None,
                  lang: str) -> list[str]:
    notes = []
    indicator = history.get("indicator", {})
    unit = str(indicator.get("unit", ""))
    per = tr("per_dwellings" if indicator.get("denominator") == "dwellings" else
             "per_population", lang)
    notes.append(tr("counts_are", lang, what=unit_words(unit, lang), unit=unit, per=per))
    if history.get("derived"):
        notes.append(tr("derived_note", lang))
    if history.get("upper_bound"):
        notes.append(tr("upper_bound_note", lang))
    notes += _warnings(history, lang)
    if forecast:
        model = forecast.get("model", {})
        if model.get("ratio_to_naive") is not None:
            notes.append(tr("forecast_model_note", lang, model=model.get("name"),
                            ratio=format_number(model["ratio_to_naive"], lang, 2),
                            mase=format_number(model.get("mase"), lang, 2)))
        if model.get("indicator_coverage_80") is not None:
            notes.append(tr("forecast_indicator_note", lang,
                            cov80=format_pct(charts.as_pct(model["indicator_coverage_80"]),
                                             lang, 0),
                            cov95=format_pct(charts.as_pct(model.get("indicator_coverage_95")),
                                             lang, 0)))
        notes += _warnings(forecast, lang)
    return notes


# -- Profile of one area ------------------------------------------------------------------------


def profile(
    services: Services, level: str, area: str, year: int | None = None, lang: str = "fr"
) -> View:
    """Every indicator of one area for one year: count, rates per 1,000 (as published) and per
    100,000, change over one year and since the first year, the national rate, the ratio to it
    and the share of the national total; a chart of each rate as an index (France = 100)."""
    view = View()
    if not area:
        view.message = tr("pick_area", lang)
        view.charts = [charts.message_chart(tr("pick_area", lang))]
        return view
    catalog = services.catalog
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    name, shown_year, first_error = area, year, ""
    notes: list[str] = []
    requests: list[tuple[str, dict[str, Any] | None]] = []
    for indicator in catalog.indicators:
        for measure in MEASURES:
            args: dict[str, Any] = {"indicator": indicator["slug"], "level": level,
                                    "areas": [area], "measure": measure}
            if year:
                args["year"] = int(year)
            requests.append(("compare_regions", args))
    outcomes = iter(services.bridge.call_many(requests))  # 18 indicators x 3 measures
    for indicator in catalog.indicators:
        results: dict[str, dict[str, Any]] = {}
        for measure in MEASURES:
            outcome = next(outcomes)
            view.calls.append(outcome)
            if outcome.ok and outcome.data and outcome.data.get("ranking"):
                results[measure] = outcome.data
            elif not first_error and not outcome.ok:
                first_error = outcome.error
        if "count" not in results:
            failed.append(indicator_label(indicator, lang))
            continue
        count_data = results["count"]
        ranked = count_data["ranking"][0]
        name, shown_year = ranked["name"], count_data.get("year", shown_year)
        row: dict[str, Any] = {
            "indicator": indicator["slug"], "label_fr": indicator.get("label_fr"),
            "label_en": indicator.get("label_en"), "unit": indicator.get("unit"),
            "year": shown_year, "count": ranked.get("value"),
            "change_vs_previous_pct": ranked.get("change_vs_previous_pct"),
            "change_vs_first_year_pct": ranked.get("change_vs_2016_pct"),
            "national_count": (count_data.get("national") or {}).get("value"),
            "upper_bound": bool(count_data.get("upper_bound")),
        }
        for measure in RATE_MEASURES:
            data = results.get(measure) or {}
            ranking = data.get("ranking") or [{}]
            row[measure] = ranking[0].get("value")
            row[f"national_{measure}"] = (data.get("national") or {}).get("value")
            if measure == "rate_per_100k":
                row["rank"] = ranking[0].get("rank")
                row["out_of"] = data.get("out_of")
        national_rate = row.get("national_rate_per_100k")
        row["index_vs_france"] = (100 * row["rate_per_100k"] / national_rate
                                  if row.get("rate_per_100k") is not None and national_rate
                                  else None)
        national_count = row["national_count"]
        row["share_of_national_pct"] = (100 * row["count"] / national_count
                                        if row["count"] is not None and national_count else None)
        rows.append(row)
        notes += _warnings(count_data, lang, 1)
    if not rows:
        view.message = f"⚠️ {friendly(first_error, lang)}" if first_error else tr("no_data", lang)
        view.charts = [charts.message_chart(tr("no_data", lang))]
        return view
    view.frame = pd.DataFrame(rows)
    view.table = profile_display(rows, lang, catalog.first_year)
    view.csv_path = write_csv(view.frame, f"oasis_profile_{level}_{area}_{shown_year}")
    chart_rows = [{
        "label": indicator_label({"label_fr": r["label_fr"], "label_en": r["label_en"]}, lang),
        "index": r["index_vs_france"],
        "value_text": format_rate(r.get("rate_per_1000"), lang),
        "france_text": format_rate(r.get("national_rate_per_1000"), lang),
    } for r in rows]
    view.charts = [charts.profile_chart(
        chart_rows, lang=lang,
        title=tr("profile_chart_title", lang, name=name, year=shown_year))]
    population = catalog.area_population(level, area)
    head = tr("profile_head", lang, name=name, year=shown_year,
              population=tr("population", lang, pop=format_count(population, lang))
              if population else "")
    lines = [head, tr("profile_how", lang)]
    if any(r["upper_bound"] for r in rows):
        lines.append(tr("upper_bound_note", lang))
    if failed:
        lines.append(tr("profile_failed", lang, names=", ".join(failed)))
    lines += list(dict.fromkeys(notes))[:2]
    view.message = "\n\n".join(lines)
    return view


def profile_display(rows: Sequence[dict[str, Any]], lang: str, first_year: int) -> pd.DataFrame:
    of = tr("of_count", lang)
    out = []
    for r in rows:
        rank = f"{r['rank']} / {r['out_of']}" if r.get("rank") and r.get("out_of") else "–"
        out.append({
            tr("col_indicator", lang): indicator_label(
                {"label_fr": r["label_fr"], "label_en": r["label_en"]}, lang),
            tr("col_count", lang): format_count(r.get("count"), lang),
            tr("col_rate_1000", lang): format_rate(r.get("rate_per_1000"), lang),
            tr("col_rate_100k", lang): format_rate(r.get("rate_per_100k"), lang),
            f"{tr('col_change_1y', lang)} ({of})": format_pct(
                r.get("change_vs_previous_pct"), lang, signed=True),
            f"{tr('col_change_2016', lang, first=first_year)} ({of})": format_pct(
                r.get("change_vs_first_year_pct"), lang, signed=True),
            tr("col_france", lang, per=tr("col_rate_1000", lang).lower()): format_rate(
                r.get("national_rate_per_1000"), lang),
            tr("col_vs_france", lang): format_number(
                None if r.get("index_vs_france") is None else r["index_vs_france"] / 100,
                lang, 2) + ("×" if r.get("index_vs_france") is not None else ""),
            tr("col_share", lang): format_pct(r.get("share_of_national_pct"), lang, 1),
            tr("col_rank_national", lang): rank,
        })
    return pd.DataFrame(out)


# -- Compare ------------------------------------------------------------------------------------


def compare(
    services: Services,
    indicator: str,
    year: int | None,
    level: str,
    measure: str,
    lang: str = "fr",
    region: str | None = None,
) -> View:
    """The areas of a level ranked for one year (``region``: only the departments of that
    region, with their national rank): bars, map, table (count and both rates) and CSV."""
    view = View()
    args: dict[str, Any] = {"indicator": indicator, "level": level}
    if year:
        args["year"] = int(year)
    region_name = ""
    if region and level == "department":
        listing = services.bridge.call("list_regions", {"region": region})
        view.calls.append(listing)
        if not listing.ok or not listing.data:
            view.message = _problem(listing, lang)
            view.charts = [charts.message_chart(tr("nothing_to_rank", lang)), None]
            return view
        args["areas"] = [a["code"] for a in listing.data.get("areas", [])]
        region_name = str((listing.data.get("region") or {}).get("name", region))
    results: dict[str, dict[str, Any]] = {}
    order = [measure, *(x for x in MEASURES if x != measure)]  # the ranked measure first
    outcomes = services.bridge.call_many([("compare_regions", {**args, "measure": m})
                                          for m in order])
    view.calls += outcomes
    main: ToolOutcome | None = outcomes[0]
    for m, outcome in zip(order, outcomes, strict=True):
        if outcome.ok and outcome.data:
            results[m] = outcome.data
    if main is None or not main.ok or not main.data:
        view.message = _problem(main, lang) if main else tr("nothing_to_rank", lang)
        view.charts = [charts.message_chart(tr("nothing_to_rank", lang)), None]
        return view
    data = main.data
    rows = data.get("ranking", [])
    title = None
    if region_name:
        title = f"{charts._ranking_title(data, lang)} — {region_name}"
    view.charts = [charts.ranking_chart(data, lang=lang, title=title,
                                        top=TOP_BARS if len(rows) > TOP_BARS else None)]
    outlines = geo.outlines(level, services.data_dir)
    notes = []
    if region_name:
        notes.append(tr("within_note", lang, n=len(rows), region=region_name,
                        out_of=data.get("out_of", "")))
    if outlines is None:
        view.charts.append(None)
        notes.append(tr("no_map", lang))
    else:
        view.charts.append(charts.map_chart(data, outlines, lang=lang))
    view.frame = ranking_frame(data, results, within=bool(region_name))
    view.table = ranking_display(view.frame, lang, services.catalog.first_year,
                                 within=bool(region_name), measure=measure)
    stem = f"oasis_ranking_{data.get('indicator', {}).get('slug', indicator)}_{level}_" \
           f"{data.get('year', '')}" + (f"_{region}" if region_name else "")
    view.csv_path = write_csv(view.frame, stem)
    if len(rows) > TOP_BARS:
        notes.append(tr("top_n", lang, top=TOP_BARS, n=len(rows)))
    if data.get("is_forecast"):
        notes.append(tr("is_forecast_note", lang))
    if data.get("derived"):
        notes.append(tr("regional_derived", lang))
    if data.get("upper_bound"):
        notes.append(tr("upper_bound_note", lang))
    notes += _warnings(data, lang)
    view.message = "\n\n".join(notes)
    return view


def ranking_frame(
    data: dict[str, Any], results: dict[str, dict[str, Any]], *, within: bool = False
) -> pd.DataFrame:
    """The ranking with the count and both rates of every area (raw numbers: the CSV)."""
    values = {m: {r["code"]: r.get("value") for r in (results.get(m) or {}).get("ranking", [])}
              for m in MEASURES}
    indicator = data.get("indicator", {})
    out = []
    for position, r in enumerate(data.get("ranking", []), start=1):
        row: dict[str, Any] = {"rank": position if within else r["rank"]}
        if within:
            row["national_rank"] = r["rank"]
        row.update({
            "code": r["code"], "name": r["name"], "year": data.get("year"),
            "is_forecast": bool(data.get("is_forecast")),
            "indicator": indicator.get("slug"), "measure": data.get("measure"),
            "value": r.get("value"),
            "count": values["count"].get(r["code"]),
            "rate_per_1000": values["rate_per_1000"].get(r["code"]),
            "rate_per_100k": values["rate_per_100k"].get(r["code"]),
            "change_vs_previous_pct": r.get("change_vs_previous_pct"),
            "change_vs_2016_pct": r.get("change_vs_2016_pct"),
        })
        out.append(row)
    return pd.DataFrame(out)


def ranking_display(frame: pd.DataFrame, lang: str, first_year: int, *,
                    within: bool = False, measure: str = "rate_per_100k") -> pd.DataFrame:
    of = tr("of_count" if measure == "count" else "of_rate", lang)
    out = []
    for _, r in frame.iterrows():
        item = {tr("col_rank_region" if within else "col_rank", lang): str(r["rank"])}
        if within:
            item[tr("col_rank_national", lang)] = str(r["national_rank"])
        item.update({
            tr("col_area", lang): r["name"],
            tr("col_code", lang): r["code"],
            tr("col_count", lang): format_count(_get(r, "count"), lang),
            tr("col_rate_1000", lang): format_rate(_get(r, "rate_per_1000"), lang),
            tr("col_rate_100k", lang): format_rate(_get(r, "rate_per_100k"), lang),
            f"{tr('col_change_1y', lang)} ({of})": format_pct(
                _get(r, "change_vs_previous_pct"), lang, signed=True),
            f"{tr('col_change_2016', lang, first=first_year)} ({of})": format_pct(
                _get(r, "change_vs_2016_pct"), lang, signed=True),
        })
        out.append(item)
    return pd.DataFrame(out)


def trends(
    services: Services,
    level: str,
    areas: Sequence[str],
    indicator: str,
    measure: str = "rate_per_100k",
    with_france: bool = True,
    lang: str = "fr",
) -> View:
    """Several areas of one level on one chart (and France as a dotted reference line)."""
    view = View()
    if not areas or not indicator:
        view.message = tr("several_pick", lang)
        view.charts = [charts.message_chart(tr("several_pick", lang))]
        return view
    histories = []
    problems = []
    requests: list[tuple[str, dict[str, Any] | None]] = [
        ("get_history", {"area": area, "indicator": indicator, "level": level})
        for area in list(areas)[:8]]
    if with_france:
        requests.append(("get_history", {"area": "FR", "indicator": indicator,
                                         "level": "country"}))
    outcomes = services.bridge.call_many(requests)
    view.calls += outcomes
    reference = None
    if with_france:
        france = outcomes.pop()
        reference = france.data if france.ok else None
    for outcome in outcomes:
        if outcome.ok and outcome.data:
            histories.append(outcome.data)
        else:
            problems.append(_problem(outcome, lang))
    if not histories:
        view.message = "\n\n".join(problems) or tr("no_data", lang)
        view.charts = [charts.message_chart(tr("no_data", lang))]
        return view
    view.charts = [charts.multi_history_chart(histories, measure=measure, lang=lang,
                                              reference=reference)]
    view.message = "\n\n".join(problems)
    return view


# -- Models -------------------------------------------------------------------------------------


def models(services: Services, level: str | None, lang: str = "fr") -> View:
    """Leaderboard, calibration and (when the server exposes it) the champion's backtest, with
    the words (backtest, MASE, conformal ranges) explained."""
    view = View()
    catalog = services.catalog
    explained = tr("models_explained", lang,
                   n_points=catalog.last_year - catalog.first_year + 1)
    result = services.bridge.call("model_metrics", {})  # every level: calibration shows all
    view.calls.append(result)
    if not result.ok or not result.data:
        view.message = _problem(result, lang) + "\n\n" + explained
        view.charts = [None, None, None]
        return view
    data = result.data
    boards = data.get("levels", [])
    board = next((b for b in boards if b.get("level") == level), boards[0] if boards else {})
    view.charts = [charts.leaderboard_chart(board, lang=lang) if board.get("backtested")
                   else None, charts.calibration_chart(data, lang=lang)]
    view.frame = pd.DataFrame(board.get("candidates", []))
    view.table = candidates_display(board.get("candidates", []), lang)
    board_level = str(board.get("level", level or "region"))
    shown_level = level_label(board_level, lang)
    backtest, backtest_note = backtest_points(services, board_level, board.get("champion"))
    if backtest:
        view.charts.append(charts.backtest_chart(
            backtest, title=tr("backtest_title", lang, level=shown_level), lang=lang))
    else:
        view.charts.append(None)
    lines = []
    if board.get("backtested"):
        champion = charts.champion_of(board) or {}
        lines.append(tr(
            "champion_line", lang, level=shown_level, champion=board.get("champion"),
            ratio=format_number(board.get("champion_ratio_to_naive"), lang, 2),
            mase=format_number(champion.get("mase"), lang, 3),
            cov80=format_pct(charts.as_pct(champion.get("coverage_80")), lang, 0),
            cov95=format_pct(charts.as_pct(champion.get("coverage_95")), lang, 0),
            n=board.get("n_series", "–")))
    else:
        lines.append(tr("not_backtested", lang, level=shown_level))
    lines.append(explained)
    protocol = data.get("protocol") or {}
    if protocol:
        lines.append(tr("protocol", lang, text=", ".join(
            f"{k} = {v}" for k, v in protocol.items() if not isinstance(v, dict | list))[:600]))
    lines.append(tr("trained_on", lang, training=data.get("training_edition"),
                    data=data.get("data_edition")))
    if backtest_note:
        lines.append(tr("backtest_points_note", lang, note=backtest_note))
    lines += _warnings(data, lang, 3)
    view.message = "\n\n".join(lines)
    return view


def candidates_display(candidates: Sequence[dict[str, Any]], lang: str) -> pd.DataFrame:
    heads = {
        "fr": ("Modèle", "MASE", "Rapport à la prévision naïve", "sMAPE", "Couverture 80 %",
               "Couverture 95 %", "R² groupé (taux)"),
        "en": ("Model", "MASE", "Ratio to naive", "sMAPE", "80% coverage", "95% coverage",
               "Pooled R² (rates)"),
    }["en" if lang == "en" else "fr"]
    out = []
    for c in candidates:
        out.append(dict(zip(heads, (
            c.get("name", ""), format_number(c.get("mase"), lang, 3),
            format_number(c.get("ratio_to_naive"), lang, 2),
            format_number(c.get("smape"), lang, 1),
            format_pct(charts.as_pct(c.get("coverage_80")), lang, 0),
            format_pct(charts.as_pct(c.get("coverage_95")), lang, 0),
            format_number(c.get("pooled_r2_rate100k"), lang, 2),
        ), strict=True)))
    return pd.DataFrame(out)


def backtest_points(
    services: Services, level: str, champion: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The champion's backtest points (actual vs predicted) from the server's
    ``oasis://backtest/{level}`` resource, and a note (thinning, or why there are none)."""
    try:
        data = json.loads(services.bridge.read_resource(f"oasis://backtest/{level}"))
    except Exception as exc:
        return [], friendly(str(exc).splitlines()[0] if str(exc) else "unavailable", "en")
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return [], "the server sent no rows."
    points = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        if champion and row.get("model") not in (None, champion):
            continue
        actual = row.get("actual", row.get("y_true"))
        predicted = row.get("predicted", row.get("y_pred"))
        if not isinstance(actual, int | float) or not isinstance(predicted, int | float):
            continue
        label = " · ".join(str(row[k]) for k in ("area", "indicator", "year") if k in row)
        if "horizon" in row:
            label += f" (h={row['horizon']})"
        points.append({"actual": actual, "predicted": predicted, "label": label})
    note = str(data.get("note") or "") if isinstance(data, dict) else ""
    return points, note


def backtest_rows(
    services: Services, level: str, champion: str | None = None
) -> list[dict[str, Any]]:
    """Only the points of :func:`backtest_points`."""
    return backtest_points(services, level, champion)[0]


# -- About --------------------------------------------------------------------------------------


def about_markdown(services: Services, lang: str = "fr") -> str:
    doc = services.bridge.resource_json("oasis://dataset") or {}
    url = (services.space_url or "http://127.0.0.1:7860").rstrip("/")
    lines = [tr("about_data", lang)]
    if doc:
        lines += [
            f"**{doc.get('title', 'SSMSI')}**",
            f"- {tr('about_publisher', lang)} : {doc.get('publisher', 'SSMSI')}"
            if lang == "fr" else f"- {tr('about_publisher', lang)}: {doc.get('publisher', '')}",
        ]
        sep = " : " if lang == "fr" else ": "
        lines += [
            f"- {tr('about_licence', lang)}{sep}{doc.get('licence', '')}",
            f"- {tr('about_page', lang)}{sep}{doc.get('page', '')}",
            f"- {tr('about_edition', lang)}{sep}"
            f"{doc.get('edition_label') or doc.get('edition', '')}",
            f"- {tr('about_regions', lang)}{sep}{doc.get('regions', '')}",
        ]
        for f in doc.get("files", []):
            lines.append(f"- {tr('about_file', lang)} `{f.get('name')}` "
                         f"(sha256 `{str(f.get('sha256', ''))[:16]}…`)")
        caveats = doc.get("caveats") or []
        if caveats:
            from oasis_app.answers import caveat

            shown = [c for c in (caveat(str(c), lang) for c in caveats) if c]
            lines += ["", tr("about_caveats", lang), *[f"- {c}" for c in shown]]
    else:
        lines.append(tr("about_no_dataset", lang))
    tools = ", ".join(t["name"] for t in _tools(services))
    lines += [
        "", tr("about_recorded", lang), "", tr("about_rates", lang), "",
        tr("about_forecasts", lang), "",
        tr("about_mcp", lang, url=url, tools=tools), "",
        "```json",
        json.dumps({"mcpServers": {"oasis": {"url": f"{url}/mcp"}}}, indent=2),
        "```", "",
        tr("about_bridge", lang, url=url), "",
        tr("about_local", lang),
    ]
    return "\n".join(lines)


def _tools(services: Services) -> list[dict[str, Any]]:
    try:
        return services.bridge.tools()
    except Exception:
        return []
