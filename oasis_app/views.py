"""What each tab shows for given inputs: charts, tables, CSV files and messages, computed from
MCP tool calls. No Gradio here (see :mod:`oasis_app.ui`), so every view is testable and
benchmarkable on its own."""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_app import charts, geo
from oasis_app.answers import friendly, num
from oasis_app.bridge import ToolOutcome
from oasis_app.charts import Chart
from oasis_app.services import Services

EXPORT_DIR = Path(tempfile.gettempdir()) / "oasis-app-exports"


@dataclass
class View:
    charts: list[Chart | None] = field(default_factory=list)
    table: pd.DataFrame | None = None
    csv_path: str | None = None
    message: str = ""
    calls: list[ToolOutcome] = field(default_factory=list)

    @property
    def server_ms(self) -> float:
        return sum(call.duration_ms for call in self.calls)


def _problem(outcome: ToolOutcome) -> str:
    return f"⚠️ {friendly(outcome.error, 'en')}"


# -- Explore ------------------------------------------------------------------------------------


def explore(
    services: Services,
    level: str,
    area: str,
    indicator: str,
    measure: str = "rate_per_100k",
    show_forecast: bool = True,
) -> View:
    """History (and forecast) of one series: chart, table, CSV."""
    view = View()
    if not area or not indicator:
        view.message = "Pick an area and an indicator."
        view.charts = [charts.message_chart("Pick an area and an indicator")]
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
            notes.append(_problem(forecast))
    if not history.ok:
        view.message = _problem(history)
        view.charts = [charts.message_chart("No data for this selection")]
        return view
    h = history.data or {}
    f = forecast.data if forecast is not None and forecast.ok else None
    view.charts = [charts.history_chart(h, f, measure=measure, lang="en")]
    view.table = series_table(h, f)
    view.csv_path = write_csv(view.table, f"oasis_{h.get('area', {}).get('code', area)}_"
                                          f"{h.get('indicator', {}).get('slug', indicator)}")
    notes += _series_notes(h, f)
    view.message = "\n\n".join(notes)
    return view


def series_table(history: dict[str, Any], forecast: dict[str, Any] | None) -> pd.DataFrame:
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


def _series_notes(history: dict[str, Any], forecast: dict[str, Any] | None) -> list[str]:
    notes = []
    indicator = history.get("indicator", {})
    what = {"Infraction": "offences", "Victime": "victims", "Mis en cause": "persons implicated",
            "Véhicule": "vehicles", "Victime entendue": "victims heard"}
    unit = indicator.get("unit", "")
    notes.append(f"Counts are **{what.get(unit, unit)}** ({unit}) recorded by the police and "
                 f"gendarmerie; rates are per {indicator.get('denominator', 'population')}.")
    if history.get("derived"):
        notes.append("Figures aggregated from departments (no official regional file in this "
                     "edition).")
    if history.get("upper_bound"):
        notes.append("Upper bound: a person implicated in several departments is counted in "
                     "each.")
    if forecast:
        model = forecast.get("model", {})
        if model.get("ratio_to_naive") is not None:
            notes.append(f"Forecast model **{model.get('name')}**: backtest MASE "
                         f"{num(model.get('mase'), 'en', 2)}, "
                         f"{num(model['ratio_to_naive'], 'en', 2)} × the naive forecast's "
                         "error (below 1 beats naive).")
        notes += [f"⚠️ {w}" for w in forecast.get("warnings", [])[:2]]
    return notes


def write_csv(frame: pd.DataFrame, stem: str) -> str:
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:80]
    handle, path = tempfile.mkstemp(prefix=f"{safe}_", suffix=".csv", dir=EXPORT_DIR)
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
        frame.to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


# -- Compare ------------------------------------------------------------------------------------


def compare(
    services: Services, indicator: str, year: int | None, level: str, measure: str
) -> View:
    """All areas of a level ranked for one year: bars, map and table."""
    view = View()
    args: dict[str, Any] = {"indicator": indicator, "level": level, "measure": measure}
    if year:
        args["year"] = int(year)
    result = services.bridge.call("compare_regions", args)
    view.calls.append(result)
    if not result.ok or not result.data:
        view.message = _problem(result)
        view.charts = [charts.message_chart("Nothing to rank for this selection"), None]
        return view
    data = result.data
    rows = data.get("ranking", [])
    view.charts = [charts.ranking_chart(data, top=25 if len(rows) > 25 else None)]
    outlines = geo.outlines(level, services.data_dir)
    notes = []
    if outlines is None:
        view.charts.append(None)
        notes.append("The map is not available (no outlines could be loaded); the ranking "
                     "is above.")
    else:
        view.charts.append(charts.map_chart(data, outlines))
    view.table = pd.DataFrame(
        [{"rank": r["rank"], "code": r["code"], "name": r["name"], "value": r["value"],
          "change_vs_previous_pct": r.get("change_vs_previous_pct"),
          "change_vs_2016_pct": r.get("change_vs_2016_pct")} for r in rows]
    )
    if len(rows) > 25:
        notes.append(f"The bar chart shows the top 25 of {len(rows)}; the table and the map "
                     "show all.")
    if data.get("is_forecast"):
        notes.append("Values for this year are **point forecasts**, not observations.")
    if data.get("derived"):
        notes.append("Regional figures are aggregated from departments.")
    notes += [f"⚠️ {w}" for w in data.get("warnings", [])[:2]]
    view.message = "\n\n".join(notes)
    return view


# -- Models -------------------------------------------------------------------------------------


def models(services: Services, level: str | None) -> View:
    """Leaderboard, calibration and (when the server exposes it) the champion's backtest."""
    view = View()
    result = services.bridge.call("model_metrics", {})  # every level: calibration shows all
    view.calls.append(result)
    if not result.ok or not result.data:
        view.message = _problem(result)
        view.charts = [None, None, None]
        return view
    data = result.data
    boards = data.get("levels", [])
    board = next((b for b in boards if b.get("level") == level), boards[0] if boards else {})
    view.charts = [charts.leaderboard_chart(board) if board.get("backtested") else None,
                   charts.calibration_chart(data)]
    view.table = pd.DataFrame(board.get("candidates", []))
    board_level = str(board.get("level", level or "region"))
    backtest, backtest_note = backtest_points(services, board_level, board.get("champion"))
    if backtest:
        view.charts.append(charts.backtest_chart(
            backtest, title=f"Champion backtest — {board.get('level')}: predicted vs actual"))
    else:
        view.charts.append(None)
    lines = []
    if board.get("backtested"):
        champion = charts.champion_of(board) or {}
        lines.append(
            f"**Champion ({board.get('level')}): {board.get('champion')}** — MASE "
            f"{num(champion.get('mase'), 'en', 3)}, "
            f"{num(board.get('champion_ratio_to_naive'), 'en', 2)} × the naive forecast's "
            f"MASE (below 1 beats naive), 80% coverage "
            f"{num(charts.as_pct(champion.get('coverage_80')), 'en', 0)}%, 95% coverage "
            f"{num(charts.as_pct(champion.get('coverage_95')), 'en', 0)}%, over "
            f"{board.get('n_series', '–')} series."
        )
    else:
        lines.append(f"The {board.get('level', level)} level was not backtested.")
    protocol = data.get("protocol") or {}
    if protocol:
        lines.append("Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                              if not isinstance(v, dict | list))[:600])
    lines.append(f"Trained on edition {data.get('training_edition')}; data served: "
                 f"{data.get('data_edition')}.")
    if backtest_note:
        lines.append(f"_Backtest points: {backtest_note}_")
    lines += [f"⚠️ {w}" for w in data.get("warnings", [])[:3]]
    view.message = "\n\n".join(lines)
    return view


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


def about_markdown(services: Services) -> str:
    doc = services.bridge.resource_json("oasis://dataset") or {}
    url = (services.space_url or "http://127.0.0.1:7860").rstrip("/")
    lines = ["## Data"]
    if doc:
        lines += [
            f"**{doc.get('title', 'SSMSI recorded-crime statistics')}**",
            f"- Publisher: {doc.get('publisher', 'SSMSI')}",
            f"- Licence: {doc.get('licence', 'Licence Ouverte / Open Licence 2.0')}",
            f"- Source page: {doc.get('page', 'https://www.data.gouv.fr')}",
            f"- Edition: {doc.get('edition_label') or doc.get('edition', '')}",
            f"- Regions: {doc.get('regions', '')}",
        ]
        for f in doc.get("files", []):
            lines.append(f"- File `{f.get('name')}` (sha256 `{str(f.get('sha256', ''))[:16]}…`)")
        caveats = doc.get("caveats") or []
        if caveats:
            lines += ["", "### Caveats", *[f"- {c}" for c in caveats]]
    else:
        lines.append("The dataset description could not be read from the server (data not "
                     "installed yet?).")
    lines += [
        "",
        "**Recorded crime is not actual crime**: these are offences and victims recorded by the "
        "police and gendarmerie. They move with reporting habits, complaint channels and police "
        "activity as much as with crime itself.",
        "",
        "## Use this Space from your AI assistant (MCP)",
        f"This app is itself an MCP server: streamable HTTP at **`{url}/mcp`**, with the same "
        "tools the chat uses (list_regions, list_indicators, get_history, forecast, "
        "compare_regions, model_metrics) and the resources `oasis://dataset`, "
        "`oasis://indicators`, `oasis://methodology`.",
        "",
        "```json",
        json.dumps({"mcpServers": {"oasis": {"url": f"{url}/mcp"}}}, indent=2),
        "```",
        "",
        "Clients that only speak stdio can bridge with `npx mcp-remote " + url + "/mcp`. "
        "If the Space owner set `OASIS_MCP_TOKEN`, add the header "
        "`Authorization: Bearer <token>`.",
        "",
        "To run it locally instead: `pip install oasis-mcp && oasis-mcp data update && "
        "oasis-mcp serve`.",
    ]
    return "\n".join(lines)
