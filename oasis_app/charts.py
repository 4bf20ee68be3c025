"""Plotly charts built from the MCP tools' structured results (plain dicts).

Charts are plain Plotly JSON specs (``{"data": [...], "layout": {...}}``) wrapped in :class:`Chart`:
building and serialising them costs a few milliseconds, where ``plotly.graph_objects`` validation
would cost a hundred or more. ``Chart.figure()`` gives a ``plotly.graph_objects.Figure`` when one
is needed. Maps are filled outlines on plain axes: Plotly's geo subplots fetch a world topojson
from a CDN, which an offline server or a strict network cannot.

Inputs follow the tools' output schemas (``oasis_mcp.schemas``): ``HistoryResult``,
``ForecastResult``, ``ComparisonResult``, ``ModelMetricsResult``. Nothing here reads data itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oasis_app.geo import Outlines

OBSERVED = "#1f4e79"
FORECAST = "#c0392b"
PALETTE = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085")
BAND_95 = "rgba(192, 57, 43, 0.12)"
BAND_80 = "rgba(192, 57, 43, 0.25)"
GRID = "#e8e8e8"
FONT = {"family": "Inter, system-ui, -apple-system, Segoe UI, sans-serif", "size": 13,
        "color": "#222"}

TEXT = {
    "observed": {"fr": "Observé", "en": "Observed"},
    "forecast": {"fr": "Prévision", "en": "Forecast"},
    "band80": {"fr": "Intervalle 80 %", "en": "80% interval"},
    "band95": {"fr": "Intervalle 95 %", "en": "95% interval"},
    "year": {"fr": "Année", "en": "Year"},
    "inhabitants": {"fr": "pour 100 000 habitants", "en": "per 100,000 inhabitants"},
    "dwellings": {"fr": "pour 100 000 logements", "en": "per 100,000 dwellings"},
    "per1000_inhabitants": {"fr": "pour 1 000 habitants", "en": "per 1,000 inhabitants"},
    "per1000_dwellings": {"fr": "pour 1 000 logements", "en": "per 1,000 dwellings"},
    "count": {"fr": "Nombre", "en": "Count"},
    "national": {"fr": "France", "en": "France"},
    "forecast_year": {"fr": "prévision", "en": "forecast"},
    "actual": {"fr": "Valeur réelle", "en": "Actual"},
    "predicted": {"fr": "Valeur prévue", "en": "Predicted"},
    "nominal": {"fr": "Nominal", "en": "Nominal"},
    "coverage": {"fr": "Couverture en backtest", "en": "Backtest coverage"},
    "calibration": {"fr": "Calibration des intervalles", "en": "Interval calibration"},
}


def t(key: str, lang: str) -> str:
    return TEXT[key]["fr" if lang == "fr" else "en"]


@dataclass
class Chart:
    """A Plotly figure as a JSON-ready dict."""

    spec: dict[str, Any]

    def to_json(self) -> str:
        import orjson

        return orjson.dumps(self.spec, option=orjson.OPT_SERIALIZE_NUMPY).decode()

    def figure(self) -> Any:
        """The chart as a ``plotly.graph_objects.Figure`` (validated; slower)."""
        import plotly.graph_objects as go

        return go.Figure(json.loads(self.to_json()))

    @property
    def traces(self) -> list[dict[str, Any]]:
        return list(self.spec.get("data", []))

    @property
    def title(self) -> str:
        return str(self.spec.get("layout", {}).get("title", {}).get("text", ""))


# -- labels -----------------------------------------------------------------------------------


def indicator_label(indicator: dict[str, Any], lang: str) -> str:
    if lang == "fr":
        return str(indicator.get("label_fr") or indicator.get("slug", ""))
    return str(indicator.get("label_en") or indicator.get("label_fr") or "")


def measure_label(measure: str, indicator: dict[str, Any], lang: str) -> str:
    dwellings = indicator.get("denominator") == "dwellings"
    if measure == "count":
        unit = indicator.get("unit")
        return f"{t('count', lang)} ({unit})" if unit else t("count", lang)
    if measure == "rate_per_1000":
        return t("per1000_dwellings" if dwellings else "per1000_inhabitants", lang)
    return t("dwellings" if dwellings else "inhabitants", lang)


def _layout(title: str, y_title: str = "", *, height: int = 420, **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": "#bbb", "automargin": True}
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        "font": FONT,
        "height": height,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 60, "r": 24, "t": 60, "b": 50},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0,
                   "traceorder": "normal"},
        "hovermode": "x unified",
        "xaxis": dict(axis),
        "yaxis": {**axis, "title": {"text": y_title}},
        "colorway": list(PALETTE),
    }
    layout.update(extra)
    return layout


def _vline(x: float, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
             "line": {"dash": "dot", "color": "#555", "width": 1.5}}
    note = {"x": x, "xref": "x", "y": 1, "yref": "paper", "text": text, "showarrow": False,
            "yanchor": "bottom", "font": {"size": 12, "color": "#555"}}
    return shape, note


# -- series -----------------------------------------------------------------------------------


def _history_values(history: dict[str, Any], measure: str) -> tuple[list[int], list[Any]]:
    points = history.get("points") or []
    return [int(p["year"]) for p in points], [p.get(measure) for p in points]


def _forecast_key(measure: str) -> str:
    return "count" if measure == "count" else "rate_per_100k"


def _band_traces(
    xs: list[int], lo: list[float], hi: list[float], colour: str, name: str | None
) -> list[dict[str, Any]]:
    return [
        {"type": "scatter", "x": xs, "y": hi, "mode": "lines", "line": {"width": 0},
         "showlegend": False, "hoverinfo": "skip"},
        {"type": "scatter", "x": xs, "y": lo, "mode": "lines", "line": {"width": 0},
         "fill": "tonexty", "fillcolor": colour, "name": name or "", "showlegend": bool(name),
         "hoverinfo": "skip"},
    ]


def history_chart(
    history: dict[str, Any] | None,
    forecast: dict[str, Any] | None = None,
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
) -> Chart:
    """One series: observed line, dashed forecast, 80 % and 95 % bands."""
    base = history or forecast or {}
    indicator = base.get("indicator", {})
    area = base.get("area", {})
    if forecast is not None and measure == "rate_per_1000":
        measure = "rate_per_100k"  # forecasts come as counts and rates per 100,000
    data: list[dict[str, Any]] = []
    years: list[int] = []
    values: list[Any] = []
    if history is not None:
        years, values = _history_values(history, measure)
        data.append({
            "type": "scatter", "x": years, "y": values, "mode": "lines+markers",
            "name": t("observed", lang), "line": {"color": OBSERVED, "width": 3},
            "marker": {"size": 7},
        })
    if forecast is not None and forecast.get("forecasts"):
        key = _forecast_key(measure)
        rows = forecast["forecasts"]
        f_years = [int(r["year"]) for r in rows]
        anchor_x, anchor_y = [], []
        if years and values and values[-1] is not None and years[-1] < f_years[0]:
            anchor_x, anchor_y = [years[-1]], [values[-1]]
        xs = anchor_x + f_years
        for lo_key, hi_key, colour, name in (("lo_95", "hi_95", BAND_95, t("band95", lang)),
                                             ("lo_80", "hi_80", BAND_80, t("band80", lang))):
            data += _band_traces(xs, anchor_y + [r[key][lo_key] for r in rows],
                                 anchor_y + [r[key][hi_key] for r in rows], colour, name)
        data.append({
            "type": "scatter", "x": xs, "y": anchor_y + [r[key]["value"] for r in rows],
            "mode": "lines+markers", "name": t("forecast", lang),
            "line": {"color": FORECAST, "width": 3, "dash": "dash"},
            "marker": {"size": 7, "symbol": "diamond"},
        })
    layout = _layout(f"{indicator_label(indicator, lang)} — {area.get('name', '')}",
                     measure_label(measure, indicator, lang))
    layout["xaxis"].update({"dtick": 1, "title": {"text": t("year", lang)}})
    return Chart({"data": data, "layout": layout})


def multi_history_chart(
    histories: Sequence[dict[str, Any]],
    forecasts: Sequence[dict[str, Any] | None] = (),
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
) -> Chart:
    """Several areas on one indicator: one colour per area; forecasts dashed with an 80 % band."""
    data: list[dict[str, Any]] = []
    indicator: dict[str, Any] = {}
    by_code = {(f.get("area") or {}).get("code"): f for f in forecasts if f}
    for i, history in enumerate(histories):
        colour = PALETTE[i % len(PALETTE)]
        indicator = history.get("indicator", indicator)
        area = history.get("area", {})
        years, values = _history_values(history, measure)
        data.append({"type": "scatter", "x": years, "y": values, "mode": "lines+markers",
                     "name": area.get("name", ""), "line": {"color": colour, "width": 3},
                     "marker": {"size": 6}})
        forecast = by_code.get(area.get("code"))
        if forecast and forecast.get("forecasts") and measure != "rate_per_1000":
            key = _forecast_key(measure)
            rows = forecast["forecasts"]
            anchor_x = years[-1:] if years else []
            anchor_y = values[-1:] if values else []
            xs = anchor_x + [int(r["year"]) for r in rows]
            data += _band_traces(xs, anchor_y + [r[key]["lo_80"] for r in rows],
                                 anchor_y + [r[key]["hi_80"] for r in rows],
                                 _rgba(colour, 0.15), None)
            data.append({"type": "scatter", "x": xs,
                         "y": anchor_y + [r[key]["value"] for r in rows], "mode": "lines",
                         "name": f"{area.get('name', '')} ({t('forecast_year', lang)})",
                         "line": {"color": colour, "width": 2, "dash": "dash"}})
    layout = _layout(indicator_label(indicator, lang), measure_label(measure, indicator, lang))
    layout["xaxis"].update({"dtick": 1, "title": {"text": t("year", lang)}})
    return Chart({"data": data, "layout": layout})


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


# -- rankings and maps --------------------------------------------------------------------------


def _ranking_title(comparison: dict[str, Any], lang: str) -> str:
    suffix = f" ({t('forecast_year', lang)})" if comparison.get("is_forecast") else ""
    return f"{indicator_label(comparison.get('indicator', {}), lang)} — " \
           f"{comparison.get('year')}{suffix}"


def ranking_chart(
    comparison: dict[str, Any],
    *,
    lang: str = "en",
    top: int | None = None,
    highlight: Sequence[str] = (),
) -> Chart:
    """Horizontal bars, highest at the top, the national figure as a dotted line."""
    rows = [r for r in comparison.get("ranking", []) if r.get("value") is not None]
    if top:
        rows = rows[:top]
    indicator = comparison.get("indicator", {})
    measure = str(comparison.get("measure", "rate_per_100k"))
    rows = rows[::-1]
    bar = {
        "type": "bar", "orientation": "h",
        "x": [r["value"] for r in rows], "y": [r["name"] for r in rows],
        "marker": {"color": [FORECAST if r["code"] in highlight else OBSERVED for r in rows]},
        "text": [_fmt(r["value"]) for r in rows], "textposition": "outside",
        "cliponaxis": False, "hovertemplate": "%{y}: %{x:,.1f}<extra></extra>",
    }
    height = min(max(320, 26 * len(rows) + 120), 2900)
    layout = _layout(_ranking_title(comparison, lang), height=height, hovermode="closest",
                     showlegend=False)
    layout["margin"] = {"l": 10, "r": 50, "t": 70, "b": 50}
    layout["xaxis"]["title"] = {"text": measure_label(measure, indicator, lang)}
    national = comparison.get("national") or {}
    if national.get("value") is not None:
        shape, note = _vline(national["value"],
                             f"{t('national', lang)} {_fmt(national['value'])}")
        layout["shapes"], layout["annotations"] = [shape], [note]
    return Chart({"data": [bar], "layout": layout})


REDS = ["#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d",
        "#a50f15", "#67000d"]
NO_DATA = "#e6e6e6"
MAP_LATITUDE = 46.5  # degrees: the map's aspect ratio is right at this latitude


def _colour(value: float, low: float, high: float) -> str:
    """Linear interpolation in the ColorBrewer Reds scale."""
    if high <= low:
        return REDS[len(REDS) // 2]
    position = min(max((value - low) / (high - low), 0.0), 1.0) * (len(REDS) - 1)
    i = min(int(position), len(REDS) - 2)
    frac = position - i
    a = [int(REDS[i][k:k + 2], 16) for k in (1, 3, 5)]
    b = [int(REDS[i + 1][k:k + 2], 16) for k in (1, 3, 5)]
    r, g, bl = (round(x + (y - x) * frac) for x, y in zip(a, b, strict=True))
    return f"rgb({r},{g},{bl})"


def map_chart(comparison: dict[str, Any], outlines: Outlines, *, lang: str = "en") -> Chart:
    """The ranking as a choropleth drawn on plain axes (filled outlines; no map tiles or
    topojson to fetch), the overseas territories in labelled insets west of the mainland."""
    indicator = comparison.get("indicator", {})
    measure = str(comparison.get("measure", "rate_per_100k"))
    rows = {r["code"]: r for r in comparison.get("ranking", [])}
    values = [r["value"] for r in rows.values() if r.get("value") is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    data: list[dict[str, Any]] = []
    for shape in outlines.shapes:
        row = rows.get(shape.code, {})
        value = row.get("value")
        label = f"{row.get('name', shape.name)}: " + (_fmt(value) if value is not None else "–")
        if row.get("rank"):
            label += f" (#{row['rank']})"
        data.append({
            "type": "scatter", "x": shape.xs, "y": shape.ys, "mode": "lines",
            "fill": "toself", "fillcolor": _colour(value, low, high) if value is not None
            else NO_DATA, "line": {"color": "white", "width": 0.6},
            "hoveron": "fills", "hoverinfo": "text", "text": label, "name": shape.code,
            "showlegend": False,
        })
    data.append({  # the colour bar
        "type": "scatter", "x": [None], "y": [None], "mode": "markers", "hoverinfo": "skip",
        "showlegend": False,
        "marker": {"colorscale": [[i / (len(REDS) - 1), c] for i, c in enumerate(REDS)],
                   "cmin": low, "cmax": high, "color": [low], "showscale": True,
                   "colorbar": {"title": {"text": measure_label(measure, indicator, lang),
                                          "side": "right"}, "thickness": 12, "len": 0.8}},
    })
    if outlines.insets:
        codes = sorted(outlines.insets)
        data.append({
            "type": "scatter", "mode": "text", "hoverinfo": "skip", "showlegend": False,
            "x": [outlines.insets[c][0] for c in codes],
            "y": [outlines.insets[c][1] for c in codes],
            "text": [rows.get(c, {}).get("name", c) for c in codes],
            "textfont": {"size": 10, "color": "#555"},
        })
    hidden = {"visible": False, "fixedrange": True}
    layout = {
        "title": {"text": _ranking_title(comparison, lang), "x": 0.01, "font": {"size": 16}},
        "font": FONT, "height": 600, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "margin": {"l": 0, "r": 0, "t": 50, "b": 0}, "hovermode": "closest",
        "xaxis": dict(hidden),
        "yaxis": {**hidden, "scaleanchor": "x",
                  "scaleratio": 1 / math.cos(math.radians(MAP_LATITUDE))},
        "shapes": [
            {"type": "rect", "x0": b[0] - 0.1, "y0": b[1] - 0.3, "x1": b[2] + 0.1,
             "y1": b[3] + 0.05, "line": {"color": "#ccc", "width": 1}}
            for b in outlines.boxes.values()
        ],
    }
    return Chart({"data": data, "layout": layout})


# -- models -------------------------------------------------------------------------------------


def champion_of(board: dict[str, Any]) -> dict[str, Any] | None:
    name = board.get("champion")
    return next((c for c in board.get("candidates", []) if c.get("name") == name), None)


def as_pct(value: float | None) -> float | None:
    if value is None:
        return None
    return value * 100 if value <= 1.0 else value


def calibration_chart(metrics: dict[str, Any], *, lang: str = "en") -> Chart:
    """Each level's champion: share of actual values inside its 80 % and 95 % intervals in
    backtest, against the nominal level."""
    boards = [b for b in metrics.get("levels", []) if b.get("backtested")]
    data = []
    for nominal, colour in ((80, OBSERVED), (95, "#5b8db8")):
        xs, ys = [], []
        for board in boards:
            champion = champion_of(board) or {}
            value = as_pct(champion.get(f"coverage_{nominal}"))
            if value is not None:
                xs.append(str(board.get("level")))
                ys.append(value)
        data.append({"type": "bar", "x": xs, "y": ys, "name": f"{t('coverage', lang)} {nominal}%",
                     "marker": {"color": colour},
                     "text": [f"{y:.0f}%" for y in ys], "textposition": "outside"})
    layout = _layout(t("calibration", lang), "%", height=380, hovermode="closest",
                     barmode="group")
    layout["yaxis"]["range"] = [0, 105]
    layout["shapes"] = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": n, "y1": n,
         "line": {"dash": "dot", "color": "#555", "width": 1}} for n in (80, 95)
    ]
    layout["annotations"] = [
        {"xref": "paper", "x": 1.01, "y": n, "text": f"{t('nominal', lang)}<br>{n}%",
         "showarrow": False, "xanchor": "left", "yanchor": "middle", "align": "left",
         "font": {"size": 11, "color": "#555"}} for n in (80, 95)
    ]
    layout["margin"] = {**layout["margin"], "r": 80}
    return Chart({"data": data, "layout": layout})


def leaderboard_chart(board: dict[str, Any], *, lang: str = "en") -> Chart:
    """MASE of every candidate at one level (lower is better; the naive forecast scores 1)."""
    rows = [c for c in board.get("candidates", []) if c.get("mase") is not None][::-1]
    champion = board.get("champion")
    bar = {
        "type": "bar", "orientation": "h",
        "x": [c["mase"] for c in rows], "y": [c["name"] for c in rows],
        "marker": {"color": [FORECAST if c["name"] == champion else OBSERVED for c in rows]},
        "text": [f"{c['mase']:.3f}" for c in rows], "textposition": "outside",
        "cliponaxis": False,
    }
    layout = _layout(f"MASE — {board.get('level', '')}", height=max(300, 34 * len(rows) + 120),
                     hovermode="closest", showlegend=False)
    layout["xaxis"]["title"] = {"text": "MASE (lower is better)"}
    naive = board.get("naive_mase")
    if naive is not None:
        shape, note = _vline(float(naive), "naive forecast")
        layout["shapes"], layout["annotations"] = [shape], [note]
    return Chart({"data": [bar], "layout": layout})


def backtest_chart(rows: Sequence[dict[str, Any]], *, title: str, lang: str = "en") -> Chart:
    """Predicted against actual (one point per backtested series and year), with y = x."""
    actual = [float(r["actual"]) for r in rows]
    predicted = [float(r["predicted"]) for r in rows]
    data: list[dict[str, Any]] = [{
        "type": "scattergl", "x": actual, "y": predicted, "mode": "markers",
        "marker": {"size": 5, "color": OBSERVED, "opacity": 0.5},
        "text": [str(r.get("label", "")) for r in rows],
        "hovertemplate": "%{text}<br>%{x:,.1f} → %{y:,.1f}<extra></extra>",
    }]
    if actual:
        lo, hi = min(actual + predicted), max(actual + predicted)
        data.append({"type": "scatter", "x": [lo, hi], "y": [lo, hi], "mode": "lines",
                     "line": {"color": "#888", "dash": "dot"}, "name": "y = x"})
    layout = _layout(title, t("predicted", lang), height=440, hovermode="closest",
                     showlegend=False)
    layout["xaxis"]["title"] = {"text": t("actual", lang)}
    if actual and min(actual + predicted) > 0 and max(actual) / min(actual) > 100:
        layout["xaxis"]["type"] = layout["yaxis"]["type"] = "log"  # counts span decades
    return Chart({"data": data, "layout": layout})


def message_chart(message: str) -> Chart:
    """A blank chart carrying a message (when there is nothing to draw)."""
    layout = {
        "height": 260, "paper_bgcolor": "white", "plot_bgcolor": "white", "font": FONT,
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "annotations": [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                         "x": 0.5, "y": 0.5, "font": {"size": 15, "color": "#555"}}],
    }
    return Chart({"data": [], "layout": layout})


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:,.1f}"
