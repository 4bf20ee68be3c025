"""The Gradio Blocks: Chat, Explore, Compare, Models and About tabs.

Handlers are thin: they call :mod:`oasis_app.views` or :class:`oasis_app.chat.ChatEngine` (which
call the MCP tools) and convert charts to Gradio's plot payload. Every tab's first content is
rendered when the page is built, so the page is useful as soon as it loads.
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
from oasis_app.services import Services

log = logging.getLogger(__name__)

TITLE = "OASIS — French recorded crime, history and forecasts"
EXAMPLES = [
    "Évolution des cambriolages en Bretagne depuis 2016",
    "Forecast sexual violence in Île-de-France until 2030",
    "Quelle région a le plus de vols de véhicules en 2025 ?",
    "Compare drug trafficking in the Nord and the Bouches-du-Rhône",
    "How accurate are your forecasts?",
    "Liste des départements d'Occitanie",
]
MEASURES = [("Rate per 100,000", "rate_per_100k"), ("Count", "count"),
            ("Rate per 1,000 (as published)", "rate_per_1000")]
DEFAULT_AREA = {"region": "11", "department": "75", "country": "FR"}
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
footer {display: none !important;}
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


def _summary(step: Any) -> str:
    if not step.ok:
        return f"⚠️ {step.error}"
    data = step.data or {}
    if "points" in data:
        pts = data["points"]
        span = f"{pts[0]['year']}–{pts[-1]['year']}" if pts else "no year"
        return f"{len(pts)} yearly points ({span})"
    if "forecasts" in data:
        years = [f["year"] for f in data["forecasts"]]
        return f"forecasts for {years[0]}–{years[-1]}" if years else "no forecast"
    if "ranking" in data:
        return f"{len(data['ranking'])} areas ranked for {data.get('year')}"
    if "levels" in data:
        return f"leaderboards for {len(data['levels'])} level(s)"
    if "areas" in data:
        return f"{data.get('count', len(data['areas']))} areas"
    if "indicators" in data:
        return f"{len(data['indicators'])} indicators"
    return "done"


def turn_messages(turn: ChatTurn) -> list[dict[str, Any]]:
    """A chat turn as Chatbot messages: one collapsible message per tool call (name, arguments,
    duration), then the answer (with suggestions as clickable options), then the chart."""
    messages: list[dict[str, Any]] = []
    for i, step in enumerate(turn.steps):
        arguments = json.dumps(step.arguments, ensure_ascii=False, indent=1)
        messages.append({
            "role": "assistant",
            "content": f"```json\n{arguments}\n```\n{_summary(step)} · {step.duration_ms:.0f} ms",
            "metadata": {
                "title": f"Tool call · {step.name}({_short_args(step.arguments)})",
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
    services: Services, message: str, state: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """One chat turn: returns (Chatbot value, new state, cleared textbox)."""
    state = list(state or [])
    question = (message or "").strip()
    if not question:
        return render(state), state, ""
    turn = services.engine.ask(question, _text_history(state))
    state = [*state, {"role": "user", "content": question}, *turn_messages(turn)]
    return render(state), state, ""


# -- Blocks -------------------------------------------------------------------------------------


def build_ui(services: Services) -> gr.Blocks:
    catalog = services.catalog
    indicator_choices = catalog.indicator_choices()
    first_indicator = DEFAULT_INDICATOR if any(
        slug == DEFAULT_INDICATOR for _, slug in indicator_choices
    ) else (indicator_choices[0][1] if indicator_choices else None)
    explore0 = views.explore(services, "region", DEFAULT_AREA["region"], first_indicator or "",
                             "rate_per_100k", True)
    compare0 = views.compare(services, first_indicator or "", catalog.last_year, "region",
                             "rate_per_100k")
    mode = (f"language model {services.llm.label}" if services.llm
            else "offline planner (deterministic)")

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        with gr.Column(elem_classes="oasis-header"):
            gr.Markdown(
                f"# OASIS — recorded crime in France\n"
                f"Official SSMSI statistics (police and gendarmerie, data.gouv.fr, "
                f"{catalog.first_year}–{catalog.last_year}), forecasts to 2030, served by an MCP "
                f"server — every figure below comes from its tools. *Recorded crime is not "
                f"actual crime.*"
            )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat_state = gr.State([])
                chatbot = gr.Chatbot(
                    label="Ask in French or English",
                    height=620,
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="**Ask about recorded crime in France** — history, forecasts, "
                    "rankings, comparisons. Each tool call is shown with its arguments and "
                    "duration.",
                    buttons=["copy"],
                    elem_id="oasis-chatbot",
                )
                with gr.Row():
                    box = gr.Textbox(placeholder="e.g. Évolution des cambriolages en Bretagne "
                                     "depuis 2016", show_label=False, scale=8, lines=1,
                                     max_lines=3, elem_id="oasis-question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="oasis-ask")
                gr.Markdown(f"<small>Answers by the {mode}; tools called in process through "
                            f"the official MCP client.</small>")

                def on_submit(message: str, state: list[dict[str, Any]] | None) -> Any:
                    return respond(services, message, state)

                def on_example(event: gr.SelectData, state: list[dict[str, Any]] | None) -> Any:
                    value = event.value
                    text = value.get("text", "") if isinstance(value, dict) else str(value)
                    return respond(services, text, state)

                outputs = [chatbot, chat_state, box]
                box.submit(on_submit, [box, chat_state], outputs, api_name=_NO_API)
                send.click(on_submit, [box, chat_state], outputs, api_name=_NO_API)
                chatbot.example_select(on_example, [chat_state], outputs, api_name=_NO_API)
                chatbot.option_select(on_example, [chat_state], outputs, api_name=_NO_API)

            with gr.Tab("Explore", id="explore"):
                with gr.Row():
                    level = gr.Radio(["region", "department", "country"], value="region",
                                     label="Level", scale=2)
                    area = gr.Dropdown(catalog.area_choices("region"), value=DEFAULT_AREA["region"],
                                       label="Area", scale=3, filterable=True)
                    indicator = gr.Dropdown(indicator_choices, value=first_indicator,
                                            label="Indicator", scale=4, filterable=True)
                with gr.Row():
                    measure = gr.Radio(MEASURES, value="rate_per_100k", label="Measure", scale=3)
                    show_forecast = gr.Checkbox(True, label="Forecast to 2030 (80% and 95% bands)",
                                                scale=2)
                explore_plot = gr.Plot(plot(explore0.charts[0]), show_label=False,
                                       elem_id="oasis-explore-plot")
                explore_note = gr.Markdown(explore0.message)
                with gr.Row():
                    explore_csv = gr.DownloadButton("Download CSV", value=explore0.csv_path,
                                                    size="sm")
                explore_table = gr.Dataframe(explore0.table, label="Series", interactive=False,
                                             wrap=True)

                def on_explore(
                    level_v: str, area_v: str, ind_v: str, meas_v: str, fc_v: bool
                ) -> tuple[Any, ...]:
                    view = views.explore(services, level_v, area_v, ind_v, meas_v, fc_v)
                    return (plot(view.charts[0]), view.message, view.table, view.csv_path)

                def on_level(level_v: str, ind_v: str, meas_v: str, fc_v: bool) -> tuple[Any, ...]:
                    code = DEFAULT_AREA.get(level_v, "")
                    view = views.explore(services, level_v, code, ind_v, meas_v, fc_v)
                    return (gr.Dropdown(choices=services.catalog.area_choices(level_v),
                                        value=code),
                            plot(view.charts[0]), view.message, view.table, view.csv_path)

                explore_out = [explore_plot, explore_note, explore_table, explore_csv]
                level.input(on_level, [level, indicator, measure, show_forecast],
                            [area, *explore_out], api_name=_NO_API)
                for control in (area, indicator, measure, show_forecast):
                    control.input(on_explore, [level, area, indicator, measure, show_forecast],
                                  explore_out, api_name=_NO_API)

            with gr.Tab("Compare", id="compare"):
                with gr.Row():
                    c_indicator = gr.Dropdown(indicator_choices, value=first_indicator,
                                              label="Indicator", scale=4, filterable=True)
                    c_year = gr.Dropdown(catalog.year_choices(), value=catalog.last_year,
                                         label="Year (later years are forecasts)", scale=2)
                    c_level = gr.Radio(["region", "department"], value="region", label="Level",
                                       scale=2)
                    c_measure = gr.Radio(MEASURES, value="rate_per_100k", label="Measure",
                                         scale=3)
                compare_note = gr.Markdown(compare0.message)
                with gr.Row():
                    compare_bars = gr.Plot(plot(compare0.charts[0]), show_label=False,
                                           elem_id="oasis-compare-bars")
                    compare_map = gr.Plot(plot(compare0.charts[1]), show_label=False,
                                          elem_id="oasis-compare-map")
                compare_table = gr.Dataframe(compare0.table, label="Ranking", interactive=False)

                def on_compare(
                    ind_v: str, year_v: int, level_v: str, meas_v: str
                ) -> tuple[Any, ...]:
                    view = views.compare(services, ind_v, year_v, level_v, meas_v)
                    return (plot(view.charts[0]), plot(view.charts[1]), view.message, view.table)

                for control in (c_indicator, c_year, c_level, c_measure):
                    control.input(on_compare, [c_indicator, c_year, c_level, c_measure],
                                  [compare_bars, compare_map, compare_note, compare_table],
                                  api_name=_NO_API)

            with gr.Tab("Models", id="models") as models_tab:
                with gr.Row():
                    m_level = gr.Radio(["region", "department", "country"], value="region",
                                       label="Level", scale=3)
                    m_refresh = gr.Button("Refresh", size="sm", scale=1)
                models_note = gr.Markdown("Loading the leaderboard…")
                with gr.Column(visible=False) as models_body:
                    with gr.Row():
                        models_board = gr.Plot(show_label=False)
                        models_calibration = gr.Plot(show_label=False)
                    models_backtest = gr.Plot(show_label=False, visible=False)
                    models_table = gr.Dataframe(label="Candidates (best MASE first)",
                                                interactive=False)

                def on_models(level_v: str) -> tuple[Any, ...]:
                    view = views.models(services, level_v)
                    ok = view.table is not None
                    backtest = view.charts[2] if len(view.charts) > 2 else None
                    return (view.message, gr.Column(visible=ok), plot(view.charts[0]),
                            plot(view.charts[1]),
                            gr.Plot(value=plot(backtest), visible=backtest is not None),
                            view.table)

                models_out = [models_note, models_body, models_board, models_calibration,
                              models_backtest, models_table]
                m_level.input(on_models, [m_level], models_out, api_name=_NO_API)
                m_refresh.click(on_models, [m_level], models_out, api_name=_NO_API)
                models_tab.select(on_models, [m_level], models_out, api_name=_NO_API)

            with gr.Tab("About", id="about") as about_tab:
                about = gr.Markdown(views.about_markdown(services))
                about_tab.select(lambda: views.about_markdown(services), None, about,
                                 api_name=_NO_API)

    demo.queue(default_concurrency_limit=8)  # tool calls are thread-safe through the bridge
    return demo
