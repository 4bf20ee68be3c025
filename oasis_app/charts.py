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
from oasis_app.i18n import level_label, tr
from oasis_app.numbers import format_number, format_pct, format_rate, plotly_separators

OBSERVED = "#1f4e79"
FORECAST = "#c0392b"
PALETTE = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085")
BAND_95 = "rgba(192, 57, 43, 0.12)"
BAND_80 = "rgba(192, 57, 43, 0.25)"
GRID = "#e8e8e8"
FONT = {"family": "Inter, system-ui, -apple-system, Segoe UI, sans-serif", "size": 13,
        "color": "#222"}

def t(key: str, lang: str) -> str:
    return tr(key, lang)


def colon(lang: str) -> str:
    """French puts a space before a colon; English does not."""
    return " : " if lang == "fr" else ": "


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
    """The indicator's label from the catalogue: official French label, or its English one."""
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


def _format(value: float | None, measure: str, lang: str) -> str:
    if measure == "count":
        return format_number(value, lang, 0)
    return format_rate(value, lang)


def _hover_format(measure: str) -> str:
    """A d3 format for hover texts (separators follow ``layout.separators``)."""
    return ",.0f" if measure == "count" else ",.3~r" if measure == "rate_per_1000" else ",.1f"


TITLE_WIDTH = 38
"""Characters per title line: a longer title is wrapped, so that it fits a phone (390 px) and
never runs under Plotly's toolbar on the right."""


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """``title`` broken into lines of at most ``width`` characters (Plotly's ``<br>``)."""
    words = title.split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return "<br>".join(lines)


def _layout(title: str, y_title: str = "", *, lang: str = "en", height: int = 420,
            **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": "#bbb", "automargin": True,
            "tickfont": {"size": 12}, "title": {"font": {"size": 12}}}
    wrapped = wrap_title(title)
    lines = wrapped.count("<br>") + 1
    layout: dict[str, Any] = {
        "title": {"text": wrapped, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "font": FONT,
        "height": height + 20 * (lines - 1),
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "separators": plotly_separators(lang),
        "margin": {"l": 56, "r": 20, "t": 46 + 20 * lines, "b": 50},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0,
                   "traceorder": "normal"},
        "hovermode": "x unified",
        "xaxis": dict(axis),
        "yaxis": {**axis, "title": {"text": y_title, "font": {"size": 12}}},
        "colorway": list(PALETTE),
    }
    layout.update(extra)
    return layout


def _year_axis(layout: dict[str, Any], data: Sequence[dict[str, Any]], lang: str) -> None:
    """Whole years on the x axis: every year up to ten, every other year beyond (a phone
    shows them without crowding)."""
    years = [x for trace in data for x in (trace.get("x") or []) if isinstance(x, int)]
    span = (max(years) - min(years)) if years else 0
    layout["xaxis"].update({"dtick": 1 if span <= 10 else 2, "tickformat": "d",
                            "title": {"text": t("year", lang), "font": {"size": 12}}})


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
    xs: list[int], lo: list[float], hi: list[float], colour: str, name: str | None,
    yaxis: str | None = None,
) -> list[dict[str, Any]]:
    extra = {"yaxis": yaxis} if yaxis else {}
    return [
        {"type": "scatter", "x": xs, "y": hi, "mode": "lines", "line": {"width": 0},
         "showlegend": False, "hoverinfo": "skip", **extra},
        {"type": "scatter", "x": xs, "y": lo, "mode": "lines", "line": {"width": 0},
         "fill": "tonexty", "fillcolor": colour, "name": name or "", "showlegend": bool(name),
         "hoverinfo": "skip", **extra},
    ]


def _series_traces(
    history: dict[str, Any] | None, forecast: dict[str, Any] | None, measure: str, lang: str,
    *, yaxis: str | None = None, legend: bool = True,
) -> list[dict[str, Any]]:
    extra = {"yaxis": yaxis} if yaxis else {}
    hover = f"%{{y:{_hover_format(measure)}}}"
    data: list[dict[str, Any]] = []
    years: list[int] = []
    values: list[Any] = []
    if history is not None:
        years, values = _history_values(history, measure)
        data.append({
            "type": "scatter", "x": years, "y": values, "mode": "lines+markers",
            "name": t("observed", lang), "line": {"color": OBSERVED, "width": 3},
            "marker": {"size": 7}, "hovertemplate": hover, "showlegend": legend, **extra,
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
                                 anchor_y + [r[key][hi_key] for r in rows], colour,
                                 name if legend else None, yaxis)
        data.append({
            "type": "scatter", "x": xs, "y": anchor_y + [r[key]["value"] for r in rows],
            "mode": "lines+markers", "name": t("forecast", lang),
            "line": {"color": FORECAST, "width": 3, "dash": "dash"},
            "marker": {"size": 7, "symbol": "diamond"}, "hovertemplate": hover,
            "showlegend": legend, **extra,
        })
    return data


def history_chart(
    history: dict[str, Any] | None,
    forecast: dict[str, Any] | None = None,
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
) -> Chart:
    """One series: observed line, dashed forecast, 80 % and 95 % bands. A single observed year
    (no forecast) is a number card, not one dot on empty axes."""
    base = history or forecast or {}
    indicator = base.get("indicator", {})
    area = base.get("area", {})
    if forecast is not None and measure == "rate_per_1000":
        measure = "rate_per_100k"  # forecasts come as counts and rates per 100,000
    if history is not None and len(history.get("points") or []) == 1 and not (
        forecast and forecast.get("forecasts")
    ):
        return single_year_chart(history, lang=lang)
    data = _series_traces(history, forecast, measure, lang)
    layout = _layout(f"{indicator_label(indicator, lang)} — {area.get('name', '')}",
                     measure_label(measure, indicator, lang), lang=lang)
    _year_axis(layout, data, lang)
    return Chart({"data": data, "layout": layout})


def single_year_chart(
    history: dict[str, Any], *, lang: str = "en", measures: Sequence[str] = ("count",
                                                                          "rate_per_1000",
                                                                          "rate_per_100k"),
) -> Chart:
    """One year of one series as a number card: the count and both rates, written large."""
    indicator = history.get("indicator", {})
    area = history.get("area", {})
    point = (history.get("points") or [{}])[-1]
    year = point.get("year", "")
    shown = [m for m in measures if point.get(m) is not None]
    annotations = []
    n = max(len(shown), 1)
    for i, m in enumerate(shown):
        x = (i + 0.5) / n
        annotations += [
            {"text": f"<b>{_format(point.get(m), m, lang)}</b>", "x": x, "y": 0.62,
             "xref": "paper", "yref": "paper", "showarrow": False,
             "font": {"size": 30 if n <= 2 else 24, "color": OBSERVED}},
            {"text": wrap_title(measure_label(m, indicator, lang), 22), "x": x, "y": 0.28,
             "xref": "paper", "yref": "paper", "showarrow": False,
             "font": {"size": 12, "color": "#555"}},
        ]
    title = tr("single_year_title", lang, label=indicator_label(indicator, lang),
               area=area.get("name", ""), year=year)
    layout = _layout(title, lang=lang, height=240, hovermode=False, showlegend=False)
    layout["xaxis"] = {"visible": False, "fixedrange": True}
    layout["yaxis"] = {"visible": False, "fixedrange": True}
    layout["annotations"] = annotations
    return Chart({"data": [], "layout": layout})


def multi_history_chart(
    histories: Sequence[dict[str, Any]],
    forecasts: Sequence[dict[str, Any] | None] = (),
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
    reference: dict[str, Any] | None = None,
) -> Chart:
    """Several areas on one indicator: one colour per area; forecasts dashed with an 80 % band;
    ``reference`` (e.g. France) as a grey dotted line."""
    data: list[dict[str, Any]] = []
    indicator: dict[str, Any] = {}
    by_code = {(f.get("area") or {}).get("code"): f for f in forecasts if f}
    hover = f"%{{y:{_hover_format(measure)}}}"
    for i, history in enumerate(histories):
        colour = PALETTE[i % len(PALETTE)]
        indicator = history.get("indicator", indicator)
        area = history.get("area", {})
        years, values = _history_values(history, measure)
        data.append({"type": "scatter", "x": years, "y": values, "mode": "lines+markers",
                     "name": area.get("name", ""), "line": {"color": colour, "width": 3},
                     "marker": {"size": 6}, "hovertemplate": hover})
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
                         "line": {"color": colour, "width": 2, "dash": "dash"},
                         "hovertemplate": hover})
    if reference is not None:
        years, values = _history_values(reference, measure)
        data.append({"type": "scatter", "x": years, "y": values, "mode": "lines",
                     "name": (reference.get("area") or {}).get("name", t("national", lang)),
                     "line": {"color": "#777", "width": 2, "dash": "dot"},
                     "hovertemplate": hover})
    layout = _layout(indicator_label(indicator, lang), measure_label(measure, indicator, lang),
                     lang=lang)
    _year_axis(layout, data, lang)
    return Chart({"data": data, "layout": layout})


def multi_indicator_chart(
    histories: Sequence[dict[str, Any]],
    forecasts: Sequence[dict[str, Any] | None] = (),
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
) -> Chart:
    """Two or more indicators (one area each): one panel per indicator, stacked, sharing the
    year axis, each with its own unit (rates of different offences are not on one scale)."""
    shown = list(histories)[:4]
    n = len(shown)
    gap = 0.1
    height_each = (1 - gap * (n - 1)) / n
    data: list[dict[str, Any]] = []
    layout = _layout(" · ".join(dict.fromkeys(
        (h.get("area") or {}).get("name", "") for h in shown)), lang=lang,
        height=260 * n + 60, hovermode="x unified")
    annotations = []
    for i, history in enumerate(shown):
        axis = "y" if i == 0 else f"y{i + 1}"
        key = "yaxis" if i == 0 else f"yaxis{i + 1}"
        top = 1 - i * (height_each + gap)
        indicator = history.get("indicator", {})
        forecast = _matching_forecast(forecasts, history)
        m = "rate_per_100k" if forecast is not None and measure == "rate_per_1000" else measure
        data += _series_traces(history, forecast, m, lang, yaxis=axis, legend=i == 0)
        layout[key] = {**layout["yaxis"], "domain": [max(top - height_each, 0), top],
                       "title": {"text": wrap_title(measure_label(m, indicator, lang), 22),
                                 "font": {"size": 11}}}
        annotations.append({"text": f"<b>{wrap_title(indicator_label(indicator, lang), 60)}</b>",
                            "x": 0, "xref": "paper", "y": top, "yref": "paper",
                            "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 13}})
    layout["annotations"] = annotations
    _year_axis(layout, data, lang)
    layout["xaxis"]["anchor"] = f"y{n}" if n > 1 else "y"
    layout["legend"]["y"] = -0.08
    return Chart({"data": data, "layout": layout})


def _matching_forecast(
    forecasts: Sequence[dict[str, Any] | None], history: dict[str, Any]
) -> dict[str, Any] | None:
    def key(d: dict[str, Any]) -> tuple[Any, Any]:
        return (d.get("area") or {}).get("code"), (d.get("indicator") or {}).get("slug")

    return next((f for f in forecasts if f and key(f) == key(history)), None)


def series_chart(
    histories: Sequence[dict[str, Any]],
    forecasts: Sequence[dict[str, Any] | None] = (),
    *,
    measure: str = "rate_per_100k",
    lang: str = "en",
) -> Chart | None:
    """The chart for a set of histories and forecasts: several indicators get one panel each
    (a two-indicator question charts both), several areas share one chart, one series gets a
    line (or a number card for a single year)."""
    histories = [h for h in histories if h]
    forecasts = [f for f in forecasts if f]
    indicators = {(h.get("indicator") or {}).get("slug") for h in histories}
    areas = {(h.get("area") or {}).get("code") for h in histories}
    if len(indicators) >= 2:
        return multi_indicator_chart(histories, forecasts, measure=measure, lang=lang)
    if len(areas) >= 2:
        return multi_history_chart(histories, forecasts, measure=measure, lang=lang)
    if histories:
        return history_chart(histories[0], _matching_forecast(forecasts, histories[0]),
                             measure=measure, lang=lang)
    if forecasts:
        return history_chart(None, forecasts[0], measure=measure, lang=lang)
    return None


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


# -- profile ------------------------------------------------------------------------------------


def profile_chart(
    rows: Sequence[dict[str, Any]], *, title: str, lang: str = "en"
) -> Chart:
    """Each indicator's rate as an index (France = 100): bars right of 100 are above the
    national rate. ``rows``: ``label``, ``index`` (or None), ``value_text``, ``france_text``."""
    shown = [r for r in rows if r.get("index") is not None][::-1]
    colours = [FORECAST if r["index"] > 100 else "#5b8db8" for r in shown]
    labels = [wrap_title(str(r["label"]), 24) for r in shown]
    bar = {
        "type": "bar", "orientation": "h", "base": 100,
        "x": [r["index"] - 100 for r in shown], "y": labels,
        "marker": {"color": colours},
        "customdata": [[r.get("value_text", ""), r.get("france_text", ""),
                        format_number(r["index"], lang, 0)] for r in shown],
        "hovertemplate": "%{y}<br>%{customdata[0]} / France %{customdata[1]}"
                         "<br>" + t("profile_axis", lang) + colon(lang) + "%{customdata[2]}"
                         "<extra></extra>",
    }
    numbers = {  # right of the bar's end, or of the 100 line for bars below it
        "type": "scatter", "mode": "text", "x": [max(r["index"], 100) for r in shown],
        "y": labels, "text": [format_number(r["index"], lang, 0) for r in shown],
        "textposition": "middle right", "hoverinfo": "skip", "cliponaxis": False,
        "textfont": {"size": 11, "color": "#333"},
    }
    layout = _layout(title, lang=lang, height=max(360, 34 * len(shown) + 110),
                     hovermode="closest", showlegend=False)
    layout["margin"] = {**layout["margin"], "l": 10, "r": 40}
    layout["xaxis"]["title"] = {"text": t("profile_axis", lang), "font": {"size": 12}}
    layout["yaxis"]["tickfont"] = {"size": 11}
    layout["shapes"] = [{"type": "line", "x0": 100, "x1": 100, "xref": "x", "y0": 0, "y1": 1,
                         "yref": "paper", "line": {"color": "#333", "width": 1.5}}]
    return Chart({"data": [bar, numbers], "layout": layout})


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
    title: str | None = None,
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
        "text": [_format(r["value"], measure, lang) for r in rows], "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": f"%{{y}}{colon(lang)}%{{x:{_hover_format(measure)}}}<extra></extra>",
    }
    height = min(max(320, 26 * len(rows) + 120), 2900)
    layout = _layout(title or _ranking_title(comparison, lang), height=height,
                     hovermode="closest", showlegend=False, lang=lang)
    layout["margin"] = {**layout["margin"], "l": 10, "r": 50}
    layout["xaxis"]["title"] = {"text": measure_label(measure, indicator, lang),
                                "font": {"size": 12}}
    national = comparison.get("national") or {}
    if national.get("value") is not None:
        shape, note = _vline(national["value"],
                             f"{t('national', lang)} {_format(national['value'], measure, lang)}")
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
        label = f"{row.get('name', shape.name)}{colon(lang)}" + _format(value, measure, lang)
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
                                          "side": "top"}, "thickness": 10, "len": 0.9,
                                "orientation": "h", "x": 0.5, "xanchor": "center",
                                "y": -0.02, "yanchor": "top", "tickformat": ",~r"}},
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
        "title": {"text": wrap_title(_ranking_title(comparison, lang)), "x": 0.01,
                  "font": {"size": 14}},
        "font": FONT, "height": 560, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "separators": plotly_separators(lang), "dragmode": False,
        "margin": {"l": 0, "r": 0, "t": 60, "b": 70}, "hovermode": "closest",
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
                xs.append(level_label(str(board.get("level")), lang))
                ys.append(value)
        data.append({"type": "bar", "x": xs, "y": ys,
                     "name": f"{t('coverage', lang)} {format_pct(nominal, lang, 0)}",
                     "marker": {"color": colour},
                     "text": [format_pct(y, lang, 0) for y in ys], "textposition": "outside",
                     "hovertemplate": "%{x}" + colon(lang) + "%{y:.0f}"
                                      + ("\u202f%" if lang == "fr" else "%") + "<extra></extra>"})
    layout = _layout(t("calibration", lang), "%", height=380, hovermode="closest",
                     barmode="group", lang=lang)
    layout["yaxis"]["range"] = [0, 105]
    layout["shapes"] = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": n, "y1": n,
         "line": {"dash": "dot", "color": "#555", "width": 1}} for n in (80, 95)
    ]
    layout["annotations"] = [
        {"xref": "paper", "x": 1.01, "y": n,
         "text": f"{t('nominal', lang)}<br>{format_pct(n, lang, 0)}",
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
        "text": [format_number(c["mase"], lang, 3) for c in rows], "textposition": "outside",
        "cliponaxis": False, "hovertemplate": "%{y}" + colon(lang) + "%{x:.3f}<extra></extra>",
    }
    layout = _layout(f"MASE — {level_label(str(board.get('level', '')), lang)}",
                     height=max(300, 34 * len(rows) + 120), hovermode="closest",
                     showlegend=False, lang=lang)
    layout["xaxis"]["title"] = {"text": t("mase_axis", lang), "font": {"size": 12}}
    naive = board.get("naive_mase")
    if naive is not None:
        shape, note = _vline(float(naive), t("naive_forecast", lang))
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
                     showlegend=False, lang=lang)
    layout["xaxis"]["title"] = {"text": t("actual", lang), "font": {"size": 12}}
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
