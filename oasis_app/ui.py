"""The Gradio Blocks: Chat, Explore, Profile, Compare, Models and About tabs, in French first with
an English switch (the language selector in the header re-renders every label and view).

Handlers are thin: they call :mod:`oasis_app.views` or :class:`oasis_app.chat.ChatEngine` (which
call the MCP tools) and convert charts to Gradio's plot payload. Every tab's first content is
rendered when the page is built, so the page is useful as soon as it loads. ``?lang=en`` in the
address opens the page in English.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import gradio as gr
from gradio.components.plot import PlotData

from oasis_app import views
from oasis_app.charts import Chart
from oasis_app.chat import ChatTurn
from oasis_app.i18n import DEFAULT_LANG, LANG_CHOICES, lang_of, level_label, tr
from oasis_app.services import Services

log = logging.getLogger(__name__)

TITLE = tr("page_title", DEFAULT_LANG)
EXAMPLES = [
    "Évolution des cambriolages en Bretagne depuis 2016",
    "Forecast sexual violence in Île-de-France until 2030",
    "Quelle région a le plus de vols de véhicules en 2025 ?",
    "Compare drug trafficking in the Nord and the Bouches-du-Rhône",
    "How accurate are your forecasts?",
    "Liste des départements d'Occitanie",
]
MEASURE_KEYS = ("rate_per_100k", "rate_per_1000", "count")
EXPLORE_LEVELS = ("region", "department", "country")
PROFILE_LEVELS = ("region", "department")
COMPARE_LEVELS = ("region", "department")
DEFAULT_AREA = {"region": "11", "department": "75", "country": "FR"}
TRENDS_AREAS = 3
OPEN_IN_LANGUAGE = """() => {
  const wanted = new URLSearchParams(window.location.search).get("lang");
  if (!wanted) return;
  const pick = () => {
    const input = document.querySelector(`#oasis-lang input[value="${wanted}"]`);
    if (!input) return false;
    if (!input.checked) input.click();
    return true;
  };
  if (!pick()) setTimeout(pick, 300);
}"""
DEFAULT_INDICATOR = "burglary"
CHAT_CHART_HEIGHT = 380
CHAT_BARS_HEIGHT = 600
# api_name for the UI's own events: False keeps them out of the app's Gradio API. Gradio 5 and
# 6 both accept False at run time (6 maps it to api_visibility="private", which 5 lacks), but
# 6 annotates api_name as "str | None", so the value is typed Any to check under both.
_NO_API: Any = False
CSS = """
.oasis-header h1 {margin-bottom: 0.2rem;}
.oasis-header p {margin-top: 0; color: #555;}
#oasis-lang {flex-grow: 0 !important; min-width: 200px !important;}
footer {display: none !important;}
@media (max-width: 720px) {
  .oasis-header {flex-direction: column !important;}
  .oasis-header > * {width: 100% !important; min-width: 0 !important;}
  .oasis-header h1 {font-size: 1.35rem;}
  .oasis-header p {font-size: 0.9rem;}
  #oasis-lang .wrap {flex-direction: row !important;}
  /* side-by-side charts stack: each gets the full width */
  .oasis-stack {flex-direction: column !important;}
  .oasis-stack > * {width: 100% !important; min-width: 0 !important;}
  /* Plotly's toolbar would sit over the chart titles; on a phone it is not needed */
  .modebar-container {display: none !important;}
}
"""


def plot(chart: Chart | None) -> PlotData | None:
    """A chart as Gradio's plot payload (JSON built by us, no Plotly validation)."""
    return None if chart is None else PlotData(type="plotly", plot=chart.to_json())


# -- Chat ---------------------------------------------------------------------------------------


def _short_args(arguments: dict[str, Any]) -> str:
    parts = []
    for key, value in arguments.items():
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > 60:
            text = text[:57] + "…"
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def _summary(step: Any, lang: str = DEFAULT_LANG) -> str:
    if not step.ok:
        return f"⚠️ {step.error}"
    data = step.data or {}
    if "points" in data:
        pts = data["points"]
        span = f"{pts[0]['year']}–{pts[-1]['year']}" if pts else tr("no_year", lang)
        return tr("yearly_points", lang, n=len(pts), span=span)
    if "forecasts" in data:
        years = [f["year"] for f in data["forecasts"]]
        return (tr("forecasts_for", lang, span=f"{years[0]}–{years[-1]}") if years
                else tr("no_forecast", lang))
    if "ranking" in data:
        return tr("areas_ranked", lang, n=len(data["ranking"]), year=data.get("year"))
    if "levels" in data:
        return tr("leaderboards", lang, n=len(data["levels"]))
    if "areas" in data:
        return tr("n_areas", lang, n=data.get("count", len(data["areas"])))
    if "indicators" in data:
        return tr("n_indicators", lang, n=len(data["indicators"]))
    return tr("done", lang)


def turn_messages(turn: ChatTurn, lang: str = DEFAULT_LANG) -> list[dict[str, Any]]:
    """A chat turn as Chatbot messages: one collapsible message per tool call (name, arguments,
    duration), then the answer (with suggestions as clickable options), then the chart."""
    messages: list[dict[str, Any]] = []
    for i, step in enumerate(turn.steps):
        arguments = json.dumps(step.arguments, ensure_ascii=False, indent=1)
        messages.append({
            "role": "assistant",
            "content": f"```json\n{arguments}\n```\n{_summary(step, lang)} · "
                       f"{step.duration_ms:.0f} ms",
            "metadata": {
                "title": f"{tr('tool_call', lang)} · {step.name}({_short_args(step.arguments)})",
                "duration": round(step.duration_ms / 1000, 3),
                "status": "done",
                "id": f"tool-{i}",
            },
        })
    answer: dict[str, Any] = {"role": "assistant", "content": turn.text or "…"}
    if turn.suggestions:
        answer["options"] = [{"value": s, "label": s} for s in turn.suggestions[:5]]
    messages.append(answer)
    if turn.chart is not None:
        layout = turn.chart.spec.setdefault("layout", {})
        bars = any(t.get("type") == "bar" and t.get("orientation") == "h"
                   for t in turn.chart.traces)
        cap = CHAT_BARS_HEIGHT if bars else CHAT_CHART_HEIGHT  # keep every bar labelled
        layout["height"] = min(int(layout.get("height", cap)), cap)
        messages.append({"role": "assistant", "chart": plot(turn.chart)})
    return messages


def render(state: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages as Chatbot values (charts become Plot components)."""
    out = []
    for message in state:
        if "chart" in message:
            out.append({"role": "assistant",
                        "content": gr.Plot(value=message["chart"], show_label=False)})
        else:
            out.append(message)
    return out


def _text_history(state: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": m["content"]}
        for m in state
        if isinstance(m.get("content"), str) and not m.get("metadata") and "chart" not in m
    ]


def respond(
    services: Services, message: str, state: list[dict[str, Any]] | None,
    lang: str = DEFAULT_LANG,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """One chat turn: returns (Chatbot value, new state, cleared textbox). ``lang`` is the
    page's language (tool-call summaries); the answer follows the question's language."""
    state = list(state or [])
    question = (message or "").strip()
    if not question:
        return render(state), state, ""
    turn = services.engine.ask(question, _text_history(state))
    state = [*state, {"role": "user", "content": question}, *turn_messages(turn, lang)]
    return render(state), state, ""


# -- Blocks -------------------------------------------------------------------------------------


def _levels(levels: Sequence[str], lang: str) -> list[tuple[str, str]]:
    return [(level_label(level, lang), level) for level in levels]


def _measures(lang: str) -> list[tuple[str, str]]:
    return [(tr(f"measure_{m}", lang), m) for m in MEASURE_KEYS]


def _regions_filter(services: Services, lang: str) -> list[tuple[str, str]]:
    return [(tr("all_regions", lang), ""), *services.catalog.area_choices("region", lang)]


def _header(services: Services, lang: str) -> str:
    catalog = services.catalog
    return tr("header", lang, first=catalog.first_year, last=catalog.last_year,
              horizon=catalog.last_forecast_year)


def _mode(services: Services, lang: str) -> str:
    text = (tr("chat_mode_llm", lang, label=services.llm.label) if services.llm
            else tr("chat_mode_planner", lang))
    return f"<small>{text}</small>"


def _first_indicator(services: Services) -> str:
    choices = services.catalog.indicator_choices()
    if any(slug == DEFAULT_INDICATOR for _, slug in choices):
        return DEFAULT_INDICATOR
    return choices[0][1] if choices else ""


def build_ui(services: Services, lang: str = DEFAULT_LANG) -> gr.Blocks:
    """The page, rendered in ``lang`` (French by default) with every tab's first view."""
    catalog = services.catalog
    first_indicator = _first_indicator(services)
    explore0 = views.explore(services, "region", DEFAULT_AREA["region"], first_indicator,
                             "rate_per_100k", True, lang)
    profile0 = views.profile(services, "region", DEFAULT_AREA["region"], None, lang)
    compare0 = views.compare(services, first_indicator, catalog.last_year, "region",
                             "rate_per_100k", lang)
    trend_areas0 = (list(compare0.frame["code"][:TRENDS_AREAS])
                    if compare0.frame is not None else [DEFAULT_AREA["region"]])
    trends0 = views.trends(services, "region", trend_areas0, first_indicator, "rate_per_100k",
                           True, lang)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        with gr.Row(elem_classes="oasis-header", equal_height=False):
            header = gr.Markdown(_header(services, lang), elem_id="oasis-header-text")
            language = gr.Radio(LANG_CHOICES, value=lang, label="Langue · Language",
                                elem_id="oasis-lang", scale=0, min_width=200)
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays on screen
            # -- Chat -------------------------------------------------------------------------
            with gr.Tab(tr("tab_chat", lang), id="chat") as chat_tab:
                chat_state = gr.State([])
                chatbot = gr.Chatbot(
                    label=tr("chat_label", lang), show_label=False,
                    height=620,
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder=tr("chat_placeholder", lang),
                    buttons=["copy"],
                    elem_id="oasis-chatbot",
                )
                with gr.Row():
                    box = gr.Textbox(placeholder=tr("question_placeholder", lang),
                                     show_label=False, scale=8, lines=1, max_lines=6,
                                     elem_id="oasis-question", autofocus=True)
                    send = gr.Button(tr("ask", lang), variant="primary", scale=1, min_width=90,
                                     elem_id="oasis-ask")
                mode_note = gr.Markdown(_mode(services, lang))

                def on_submit(message: str, state: list[dict[str, Any]] | None,
                              lang_v: str) -> Any:
                    return respond(services, message, state, lang_of(lang_v))

                def on_example(event: gr.SelectData, state: list[dict[str, Any]] | None,
                               lang_v: str) -> Any:
                    value = event.value
                    text = value.get("text", "") if isinstance(value, dict) else str(value)
                    return respond(services, text, state, lang_of(lang_v))

                outputs = [chatbot, chat_state, box]
                box.submit(on_submit, [box, chat_state, language], outputs, api_name=_NO_API)
                send.click(on_submit, [box, chat_state, language], outputs, api_name=_NO_API)
                chatbot.example_select(on_example, [chat_state, language], outputs,
                                       api_name=_NO_API)
                chatbot.option_select(on_example, [chat_state, language], outputs,
                                      api_name=_NO_API)

            # -- Explore ----------------------------------------------------------------------
            with gr.Tab(tr("tab_explore", lang), id="explore") as explore_tab:
                with gr.Row(elem_classes="oasis-stack"):
                    level = gr.Radio(_levels(EXPLORE_LEVELS, lang), value="region",
                                     label=tr("level", lang), scale=2)
                    area = gr.Dropdown(catalog.area_choices("region", lang),
                                       value=DEFAULT_AREA["region"], label=tr("area", lang),
                                       scale=3, filterable=True)
                    indicator = gr.Dropdown(catalog.indicator_choices(lang),
                                            value=first_indicator, label=tr("indicator", lang),
                                            scale=4, filterable=True)
                with gr.Row(elem_classes="oasis-stack"):
                    measure = gr.Radio(_measures(lang), value="rate_per_100k",
                                       label=tr("measure", lang), scale=3)
                    show_forecast = gr.Checkbox(True, label=tr(
                        "show_forecast", lang, horizon=catalog.last_forecast_year), scale=2)
                explore_plot = gr.Plot(plot(explore0.charts[0]), show_label=False,
                                       elem_id="oasis-explore-plot")
                explore_note = gr.Markdown(explore0.message)
                with gr.Row():
                    explore_csv = gr.DownloadButton(tr("download_csv", lang),
                                                    value=explore0.csv_path, size="sm")
                explore_table = gr.Dataframe(explore0.table, label=tr("series", lang),
                                             interactive=False, wrap=True)

                def explore_values(level_v: str, area_v: str, ind_v: str, meas_v: str,
                                   fc_v: bool, lang_v: str) -> tuple[Any, ...]:
                    view = views.explore(services, level_v, area_v, ind_v, meas_v, fc_v,
                                         lang_of(lang_v))
                    return (plot(view.charts[0]), view.message, view.table, view.csv_path)

                def on_level(level_v: str, ind_v: str, meas_v: str, fc_v: bool,
                             lang_v: str) -> tuple[Any, ...]:
                    code = DEFAULT_AREA.get(level_v, "")
                    choices = services.catalog.area_choices(level_v, lang_of(lang_v))
                    return (gr.Dropdown(choices=choices, value=code),
                            *explore_values(level_v, code, ind_v, meas_v, fc_v, lang_v))

                explore_in = [level, area, indicator, measure, show_forecast, language]
                explore_out = [explore_plot, explore_note, explore_table, explore_csv]
                level.input(on_level, [level, indicator, measure, show_forecast, language],
                            [area, *explore_out], api_name=_NO_API)
                for control in (area, indicator, measure, show_forecast):
                    control.input(explore_values, explore_in, explore_out, api_name=_NO_API)

            # -- Profile ----------------------------------------------------------------------
            with gr.Tab(tr("tab_profile", lang), id="profile") as profile_tab:
                with gr.Row(elem_classes="oasis-stack"):
                    p_level = gr.Radio(_levels(PROFILE_LEVELS, lang), value="region",
                                       label=tr("level", lang), scale=2)
                    p_area = gr.Dropdown(catalog.area_choices("region", lang),
                                         value=DEFAULT_AREA["region"], label=tr("area", lang),
                                         scale=3, filterable=True, elem_id="oasis-profile-area")
                    p_year = gr.Dropdown(catalog.year_choices(lang, forecasts=False),
                                         value=catalog.last_year, label=tr("year", lang),
                                         scale=1)
                profile_note = gr.Markdown(profile0.message, elem_id="oasis-profile-note")
                profile_plot = gr.Plot(plot(profile0.charts[0]), show_label=False,
                                       elem_id="oasis-profile-plot")
                with gr.Row():
                    profile_csv = gr.DownloadButton(tr("download_csv", lang),
                                                    value=profile0.csv_path, size="sm")
                profile_table = gr.Dataframe(profile0.table, interactive=False, wrap=True,
                                             show_label=False, elem_id="oasis-profile-table")

                def profile_values(level_v: str, area_v: str, year_v: int | None,
                                   lang_v: str) -> tuple[Any, ...]:
                    view = views.profile(services, level_v, area_v, year_v, lang_of(lang_v))
                    return (view.message, plot(view.charts[0]), view.table, view.csv_path)

                def on_p_level(level_v: str, year_v: int | None, lang_v: str) -> tuple[Any, ...]:
                    code = DEFAULT_AREA.get(level_v, "")
                    choices = services.catalog.area_choices(level_v, lang_of(lang_v))
                    return (gr.Dropdown(choices=choices, value=code),
                            *profile_values(level_v, code, year_v, lang_v))

                profile_out = [profile_note, profile_plot, profile_table, profile_csv]
                p_level.input(on_p_level, [p_level, p_year, language], [p_area, *profile_out],
                              api_name=_NO_API)
                for control in (p_area, p_year):
                    control.input(profile_values, [p_level, p_area, p_year, language],
                                  profile_out, api_name=_NO_API)

            # -- Compare ----------------------------------------------------------------------
            with gr.Tab(tr("tab_compare", lang), id="compare") as compare_tab:
                with gr.Row(elem_classes="oasis-stack"):
                    c_indicator = gr.Dropdown(catalog.indicator_choices(lang),
                                              value=first_indicator,
                                              label=tr("indicator", lang), scale=4,
                                              filterable=True)
                    c_year = gr.Dropdown(catalog.year_choices(lang), value=catalog.last_year,
                                         label=tr("year_compare", lang), scale=2)
                    c_level = gr.Radio(_levels(COMPARE_LEVELS, lang), value="region",
                                       label=tr("level", lang), scale=2)
                    c_measure = gr.Radio(_measures(lang), value="rate_per_100k",
                                         label=tr("measure", lang), scale=3)
                    c_region = gr.Dropdown(_regions_filter(services, lang), value="",
                                           label=tr("within_region", lang), scale=2,
                                           visible=False, filterable=True,
                                           elem_id="oasis-compare-region")
                compare_note = gr.Markdown(compare0.message)
                with gr.Row(elem_classes="oasis-stack"):
                    compare_bars = gr.Plot(plot(compare0.charts[0]), show_label=False,
                                           elem_id="oasis-compare-bars")
                    compare_map = gr.Plot(plot(compare0.charts[1]), show_label=False,
                                          elem_id="oasis-compare-map")
                with gr.Row():
                    compare_csv = gr.DownloadButton(tr("download_csv", lang),
                                                    value=compare0.csv_path, size="sm",
                                                    elem_id="oasis-compare-csv")
                compare_table = gr.Dataframe(compare0.table, label=tr("ranking", lang),
                                             interactive=False, wrap=True)
                several_title = gr.Markdown(tr("several_title", lang))
                with gr.Row(elem_classes="oasis-stack"):
                    t_areas = gr.Dropdown(catalog.area_choices("region", lang),
                                          value=trend_areas0, multiselect=True,
                                          label=tr("several_label", lang), scale=4,
                                          max_choices=8, elem_id="oasis-trend-areas")
                    t_france = gr.Checkbox(True, label=tr("with_france", lang), scale=1)
                trends_plot = gr.Plot(plot(trends0.charts[0]), show_label=False,
                                      elem_id="oasis-trends-plot")
                trends_note = gr.Markdown(trends0.message)

                def compare_values(ind_v: str, year_v: int, level_v: str, meas_v: str,
                                   region_v: str | None, lang_v: str) -> tuple[Any, ...]:
                    view = views.compare(services, ind_v, year_v, level_v, meas_v,
                                         lang_of(lang_v), region_v or None)
                    return (plot(view.charts[0]), plot(view.charts[1]), view.message,
                            view.table, view.csv_path)

                def trends_values(level_v: str, areas_v: list[str] | None, ind_v: str,
                                  meas_v: str, fr_v: bool, lang_v: str) -> tuple[Any, ...]:
                    view = views.trends(services, level_v, areas_v or [], ind_v, meas_v, fr_v,
                                        lang_of(lang_v))
                    return (plot(view.charts[0]), view.message)

                def on_c_level(ind_v: str, year_v: int, level_v: str, meas_v: str,
                               fr_v: bool, lang_v: str) -> tuple[Any, ...]:
                    lang_c = lang_of(lang_v)
                    first = views.compare(services, ind_v, year_v, level_v, meas_v, lang_c)
                    codes = (list(first.frame["code"][:TRENDS_AREAS])
                             if first.frame is not None else [])
                    return (gr.Dropdown(visible=level_v == "department", value=""),
                            plot(first.charts[0]), plot(first.charts[1]), first.message,
                            first.table, first.csv_path,
                            gr.Dropdown(choices=services.catalog.area_choices(level_v, lang_c),
                                        value=codes),
                            *trends_values(level_v, codes, ind_v, meas_v, fr_v, lang_v))

                compare_in = [c_indicator, c_year, c_level, c_measure, c_region, language]
                compare_out = [compare_bars, compare_map, compare_note, compare_table,
                               compare_csv]
                trends_in = [c_level, t_areas, c_indicator, c_measure, t_france, language]
                trends_out = [trends_plot, trends_note]
                for control in (c_indicator, c_year, c_measure, c_region):
                    control.input(compare_values, compare_in, compare_out, api_name=_NO_API)
                for control in (c_indicator, c_measure):
                    control.input(trends_values, trends_in, trends_out, api_name=_NO_API)
                for control in (t_areas, t_france):
                    control.input(trends_values, trends_in, trends_out, api_name=_NO_API)
                c_level.input(on_c_level, [c_indicator, c_year, c_level, c_measure, t_france,
                                           language],
                              [c_region, *compare_out, t_areas, *trends_out], api_name=_NO_API)

            # -- Models -----------------------------------------------------------------------
            with gr.Tab(tr("tab_models", lang), id="models") as models_tab:
                with gr.Row(elem_classes="oasis-stack"):
                    m_level = gr.Radio(_levels(EXPLORE_LEVELS, lang), value="region",
                                       label=tr("level", lang), scale=3)
                    m_refresh = gr.Button(tr("refresh", lang), size="sm", scale=1)
                models_note = gr.Markdown(tr("models_loading", lang), elem_id="oasis-models-note")
                with gr.Column(visible=False) as models_body:
                    with gr.Row(elem_classes="oasis-stack"):
                        models_board = gr.Plot(show_label=False)
                        models_calibration = gr.Plot(show_label=False)
                    models_backtest = gr.Plot(show_label=False, visible=False)
                    models_table = gr.Dataframe(label=tr("candidates", lang),
                                                interactive=False, wrap=True)

                def models_values(level_v: str, lang_v: str) -> tuple[Any, ...]:
                    view = views.models(services, level_v, lang_of(lang_v))
                    ok = view.table is not None
                    backtest = view.charts[2] if len(view.charts) > 2 else None
                    return (view.message, gr.Column(visible=ok), plot(view.charts[0]),
                            plot(view.charts[1]),
                            gr.Plot(value=plot(backtest), visible=backtest is not None),
                            view.table)

                models_out = [models_note, models_body, models_board, models_calibration,
                              models_backtest, models_table]
                m_level.input(models_values, [m_level, language], models_out, api_name=_NO_API)
                m_refresh.click(models_values, [m_level, language], models_out,
                                api_name=_NO_API)
                models_tab.select(models_values, [m_level, language], models_out,
                                  api_name=_NO_API)

            # -- About ------------------------------------------------------------------------
            with gr.Tab(tr("tab_about", lang), id="about") as about_tab:
                about = gr.Markdown(views.about_markdown(services, lang),
                                    elem_id="oasis-about")
                about_tab.select(lambda lang_v: views.about_markdown(services, lang_of(lang_v)),
                                 [language], about, api_name=_NO_API)

        # -- the language switch: every label, then every view, in the chosen language ---------
        def relabel(lang_v: str, level_v: str, p_level_v: str, c_level_v: str
                    ) -> list[Any]:
            lg = lang_of(lang_v)
            cat = services.catalog
            return [
                gr.Markdown(_header(services, lg)),
                gr.Tab(label=tr("tab_chat", lg)), gr.Tab(label=tr("tab_explore", lg)),
                gr.Tab(label=tr("tab_profile", lg)), gr.Tab(label=tr("tab_compare", lg)),
                gr.Tab(label=tr("tab_models", lg)), gr.Tab(label=tr("tab_about", lg)),
                gr.Chatbot(label=tr("chat_label", lg), placeholder=tr("chat_placeholder", lg)),
                gr.Textbox(placeholder=tr("question_placeholder", lg)),
                gr.Button(tr("ask", lg)), gr.Markdown(_mode(services, lg)),
                # explore
                gr.Radio(choices=_levels(EXPLORE_LEVELS, lg), label=tr("level", lg)),
                gr.Dropdown(choices=cat.area_choices(level_v, lg), label=tr("area", lg)),
                gr.Dropdown(choices=cat.indicator_choices(lg), label=tr("indicator", lg)),
                gr.Radio(choices=_measures(lg), label=tr("measure", lg)),
                gr.Checkbox(label=tr("show_forecast", lg, horizon=cat.last_forecast_year)),
                gr.Dataframe(label=tr("series", lg)),
                # profile
                gr.Radio(choices=_levels(PROFILE_LEVELS, lg), label=tr("level", lg)),
                gr.Dropdown(choices=cat.area_choices(p_level_v, lg), label=tr("area", lg)),
                gr.Dropdown(choices=cat.year_choices(lg, forecasts=False),
                            label=tr("year", lg)),
                # compare
                gr.Dropdown(choices=cat.indicator_choices(lg), label=tr("indicator", lg)),
                gr.Dropdown(choices=cat.year_choices(lg), label=tr("year_compare", lg)),
                gr.Radio(choices=_levels(COMPARE_LEVELS, lg), label=tr("level", lg)),
                gr.Radio(choices=_measures(lg), label=tr("measure", lg)),
                gr.Dropdown(choices=_regions_filter(services, lg), label=tr("within_region", lg)),
                gr.Dataframe(label=tr("ranking", lg)),
                gr.Markdown(tr("several_title", lg)),
                gr.Dropdown(choices=cat.area_choices(c_level_v, lg),
                            label=tr("several_label", lg)),
                gr.Checkbox(label=tr("with_france", lg)),
                # models
                gr.Radio(choices=_levels(EXPLORE_LEVELS, lg), label=tr("level", lg)),
                gr.Button(tr("refresh", lg)), gr.Dataframe(label=tr("candidates", lg)),
                *[gr.DownloadButton(tr("download_csv", lg)) for _ in range(3)],
            ]

        labelled = [header, chat_tab, explore_tab, profile_tab, compare_tab,
                    models_tab, about_tab, chatbot, box, send, mode_note,
                    level, area, indicator, measure, show_forecast, explore_table,
                    p_level, p_area, p_year,
                    c_indicator, c_year, c_level, c_measure, c_region, compare_table,
                    several_title, t_areas, t_france,
                    m_level, m_refresh, models_table,
                    explore_csv, profile_csv, compare_csv]
        view_outputs = [*explore_out, *profile_out, *compare_out, *trends_out, *models_out,
                        about]

        def on_language(lang_v: str, level_v: str, area_v: str, ind_v: str, meas_v: str,
                        fc_v: bool, _lang: str, p_level_v: str, p_area_v: str,
                        p_year_v: int | None, c_ind_v: str, c_year_v: int, c_level_v: str,
                        c_meas_v: str, c_region_v: str | None, t_areas_v: list[str] | None,
                        t_fr_v: bool, m_level_v: str) -> list[Any]:
            lg = lang_of(lang_v)
            return [
                *relabel(lang_v, level_v, p_level_v, c_level_v),
                *explore_values(level_v, area_v, ind_v, meas_v, fc_v, lg),
                *profile_values(p_level_v, p_area_v, p_year_v, lg),
                *compare_values(c_ind_v, c_year_v, c_level_v, c_meas_v, c_region_v, lg),
                *trends_values(c_level_v, t_areas_v, c_ind_v, c_meas_v, t_fr_v, lg),
                *models_values(m_level_v, lg),
                views.about_markdown(services, lg),
            ]

        language_in = [language, level, area, indicator, measure, show_forecast, language,
                       p_level, p_area, p_year, c_indicator, c_year, c_level, c_measure,
                       c_region, t_areas, t_france, m_level]
        all_out = [*labelled, *view_outputs]
        language.input(on_language, language_in, all_out, api_name=_NO_API)

        # ``?lang=en`` opens the page in English: the browser picks "English" in the switch
        # (no server round trip when the address does not ask for it).
        demo.load(None, None, None, js=OPEN_IN_LANGUAGE, api_name=_NO_API)

    demo.queue(default_concurrency_limit=8)  # tool calls are thread-safe through the bridge
    return demo
