"""The Space app: `python app.py` serves the UI at / and MCP at /mcp; the chat handler answers with
tool calls, text and a chart; each tab's view works and fails gracefully; GeoJSON loading; the
Space settings; requirements.txt in sync with pyproject.toml.

The real SSMSI files are read from OASIS_DATA_DIR (skipped when absent); forecasts come from
synthetic artifacts (tests/synthetic_artifacts.py), never from a trained model.
"""

from __future__ import annotations

import asyncio
import csv
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
import synthetic_artifacts as synthetic
from gradio.components.plot import PlotData
from mcp import Client

from oasis_app import charts, geo, ui, views
from oasis_app.services import Services, build_services
from oasis_app.web import Settings
from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.server import create_server

REPO = Path(__file__).resolve().parent.parent




@pytest.fixture(scope="module")
def art_dir(edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_synthetic_artifacts(tmp_path_factory.mktemp("art"),
                                               load_dataset(edition_2025_dir))


@pytest.fixture(scope="module")
def services(edition_2025_dir: Path, art_dir: Path) -> Iterator[Services]:
    built = build_services(lambda: create_server(edition_2025_dir, art_dir),
                           data_dir=str(edition_2025_dir))
    yield built
    built.bridge.close()


@pytest.fixture(scope="module")
def bare_services(
    edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """A server without any trained artifacts."""
    empty = tmp_path_factory.mktemp("no-artifacts")
    built = build_services(lambda: create_server(edition_2025_dir, empty),
                           data_dir=str(edition_2025_dir))
    yield built
    built.bridge.close()


def _plots(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plotly figures (parsed JSON) found in a Chatbot value."""
    found = []
    for message in value:
        content = message.get("content")
        if isinstance(content, gr.Plot):
            payload = content.value
            plot = payload.plot if hasattr(payload, "plot") else payload["plot"]
            found.append(json.loads(plot))
    return found


# -- chat -------------------------------------------------------------------------------------


def test_chat_turn_history_question_gives_tool_calls_text_and_chart(services: Services) -> None:
    value, state, cleared = ui.respond(
        services, "Évolution des cambriolages en Bretagne depuis 2016", []
    )
    assert cleared == ""
    assert value[0] == {"role": "user",
                        "content": "Évolution des cambriolages en Bretagne depuis 2016"}
    tool_messages = [m for m in value if m.get("metadata")]
    assert len(tool_messages) == 1
    meta = tool_messages[0]["metadata"]
    assert "get_history" in meta["title"] and "Bretagne" in meta["title"]
    assert 0 <= meta["duration"] < 5
    assert '"start_year": 2016' in tool_messages[0]["content"]
    texts = [m["content"] for m in value if isinstance(m.get("content"), str)
             and not m.get("metadata") and m["role"] == "assistant"]
    assert len(texts) == 1
    assert "Bretagne" in texts[0] and re.search(r"\d", texts[0])
    assert "2025" in texts[0]
    figures = _plots(value)
    assert len(figures) == 1
    observed = figures[0]["data"][0]
    assert observed["x"][0] == 2016 and observed["x"][-1] == 2025
    assert all(isinstance(v, float) for v in observed["y"])
    # The conversation goes on from the stored state.
    value2, state2, _ = ui.respond(services, "Liste des départements d'Occitanie", state)
    assert len(state2) > len(state)
    assert "Haute-Garonne" in value2[-1]["content"]


@pytest.mark.parametrize(
    ("question", "tools", "expects_chart"),
    [
        ("Forecast sexual violence in Île-de-France until 2030", ["get_history", "forecast"],
         True),
        ("Quelle région a le plus de vols de véhicules en 2025 ?",
         ["compare_regions", "compare_regions"], True),  # by rate, and by count for "le plus de"
        ("Compare drug trafficking in the Nord and the Bouches-du-Rhône",
         ["compare_regions", "get_history", "get_history"], True),
        ("How accurate are your forecasts?", ["model_metrics"], True),
        ("Liste des départements d'Occitanie", ["list_regions"], False),
    ],
)
def test_issue_examples(
    services: Services, question: str, tools: list[str], expects_chart: bool
) -> None:
    turn = services.engine.ask(question)
    assert [s.name for s in turn.steps] == tools
    assert all(s.ok for s in turn.steps), [s.error for s in turn.steps]
    assert len(turn.text) > 30 and "⚠" not in turn.text
    assert (turn.chart is not None) == expects_chart


def test_forecast_answer_quotes_the_interval(services: Services) -> None:
    turn = services.engine.ask("Forecast sexual violence in Île-de-France until 2030")
    assert "2030" in turn.text and "80% interval" in turn.text
    assert turn.chart is not None
    names = [t.get("name") for t in turn.chart.traces]
    assert {"Observed", "Forecast", "80% interval", "95% interval"} <= set(names)


def test_french_answers_carry_french_warnings_and_the_recorded_crime_caveat(
    services: Services,
) -> None:
    turn = services.engine.ask("Prévision des cambriolages en Bretagne jusqu'en 2030")
    assert [s.name for s in turn.steps] == ["get_history", "forecast"]
    assert any(s.data and s.data.get("warnings") for s in turn.steps)  # the server warned
    assert "Backtests covered" not in turn.text and "backtests couvrent" in turn.text
    assert "faits enregistrés par la police et la gendarmerie" in turn.text
    turn = services.engine.ask("Quelle région aura le plus de cambriolages en 2028 ?")
    assert "point forecasts" not in turn.text and "prévisions ponctuelles" in turn.text
    turn = services.engine.ask("Burglaries in Brittany since 2016")
    assert "offences recorded by the police and gendarmerie, not all actual crime" in turn.text


def test_answers_carry_the_indicator_caveats_in_the_answer_language(
    services: Services,
) -> None:
    turn = services.engine.ask("Is drug dealing rising in Marseille?")
    assert "police enforcement activity" in turn.text
    turn = services.engine.ask("Trafic de stupéfiants dans les Bouches-du-Rhône")
    assert "activité des services de police" in turn.text and "enforcement" not in turn.text
    turn = services.engine.ask("Violences sexuelles en Bretagne depuis 2016")
    assert "#MeToo" in turn.text and "plaintes" in turn.text and "reporting" not in turn.text
    turn = services.engine.ask("Domestic violence in Nord since 2016")
    assert "more reporting and better recording" in turn.text
    # Deduplicated across steps (history and forecast carry the same caveats).
    turn = services.engine.ask("Forecast sexual violence in Île-de-France until 2030")
    assert turn.text.count("#MeToo") == 1
    turn = services.engine.ask("Quelle région a le plus de vols de véhicules en 2025 ?")
    assert "véhicules, pas des infractions" in turn.text


def test_tiny_counts_are_told_as_counts_not_percentages(services: Services) -> None:
    turn = services.engine.ask("Homicides in Lozère")  # 0 to 1 a year
    sentence = turn.text.split("Source")[0]
    assert "%" not in sentence and "– in rate" not in sentence
    assert "2017" in sentence and "2024" in sentence  # the tied highest years, both named
    assert "peak was in 2024" not in sentence
    turn = services.engine.ask("Homicides en Lozère")
    assert "%" not in turn.text.split("Source")[0] and "2017" in turn.text
    turn = services.engine.ask("Forecast homicides in Lozère until 2030")
    assert "about 0 cases" not in turn.text and "0.0–0.2" not in turn.text
    assert re.search(r"fewer than 1|\b\d+–\d+ cases", turn.text)
    # Large series keep their percentages.
    turn = services.engine.ask("Burglaries in Brittany since 2016")
    assert "%" in turn.text.split("Source")[0]


def test_count_rankings_print_whole_numbers(services: Services) -> None:
    turn = services.engine.ask("Number of homicides by department")
    assert turn.steps[0].arguments["measure"] == "count"
    assert re.search(r"\(\d+\)", turn.text) and not re.search(r"\(\d[\d,]*\.\d\)", turn.text)
    turn = services.engine.ask("Nombre d'homicides par département")
    assert re.search(r"\(\d+\)", turn.text) and not re.search(r"\(\d[\d\u202f]*,\d\)", turn.text)


def test_most_names_the_rate_and_the_count_leader(services: Services) -> None:
    turn = services.engine.ask("Which department had the most burglaries")
    assert "highest rate" in turn.text and "highest department" not in turn.text
    assert "By number" in turn.text
    turn = services.engine.ask("Quel département a le plus de cambriolages ?")
    assert "taux le plus élevé" in turn.text and "En nombre" in turn.text


def test_two_years_are_both_told(services: Services) -> None:
    turn = services.engine.ask("Cambriolages dans les Hauts-de-Seine en 2021 et 2022")
    assert "4\u202f354 en 2021" in turn.text and "5\u202f313 en 2022" in turn.text


def test_short_follow_up_reads_the_previous_question(services: Services) -> None:
    history = [{"role": "user", "content": "Évolution des cambriolages en Bretagne depuis 2016"},
               {"role": "assistant", "content": "Cambriolages de logement — Bretagne : …"}]
    turn = services.engine.ask("et en 2030 ?", history)
    assert [(s.name, s.arguments["area"], s.arguments["indicator"]) for s in turn.steps] == [
        ("get_history", "Bretagne", "burglary"), ("forecast", "Bretagne", "burglary")]
    assert turn.question == "et en 2030 ?" and "2030" in turn.text
    history.append({"role": "user", "content": "et en 2030 ?"})
    # A place alone switches to it, for the same indicator and the same forecast.
    turn = services.engine.ask("and in Normandy?", history)
    assert [(s.name, s.arguments["area"], s.arguments.get("horizon")) for s in turn.steps] == [
        ("get_history", "Normandie", None), ("forecast", "Normandie", 5)]
    assert turn.language == "en" and "Normandie" in turn.text
    # Asking to compare adds it.
    turn = services.engine.ask("compared to Normandy", history)
    assert {s.arguments.get("area") for s in turn.steps if s.name == "forecast"} == {
        "Bretagne", "Normandie"}
    # Not a follow-up, or nothing before it: read on its own.
    assert services.engine.ask("Cambriolages en Corse", history).steps[0].arguments["area"] == (
        "Corse")
    assert services.engine.ask("et en 2030 ?").steps == []


def test_out_of_scope_offers_clickable_questions(services: Services) -> None:
    value, _, _ = ui.respond(services, "Who won the world cup?", [])
    answer = value[-1]
    assert answer["role"] == "assistant" and answer["options"]
    assert not any(m.get("metadata") for m in value)


def test_errors_are_friendly(services: Services, bare_services: Services) -> None:
    turn = bare_services.engine.ask("Forecast burglaries in Brittany until 2030")
    assert turn.chart is not None  # the history is still shown
    assert "not available on this server yet" in turn.text
    assert "oasis-train" not in turn.text
    turn = bare_services.engine.ask("How accurate are your forecasts?")
    assert "not available on this server yet" in turn.text
    turn = services.engine.ask("Cambriolages à Atlantis")
    assert "Atlantis" in turn.text


# -- tabs ---------------------------------------------------------------------------------------


def test_explore_view_chart_table_and_csv(services: Services) -> None:
    view = views.explore(services, "department", "33", "burglary", "rate_per_100k", True, "en")
    assert not view.message.startswith("⚠")
    names = [t.get("name") for t in view.charts[0].traces]
    assert "Observed" in names and "Forecast" in names
    assert view.frame is not None and set(view.frame["kind"]) == {"observed", "forecast"}
    with open(view.csv_path or "", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["area"] == "Gironde" and rows[0]["year"] == "2016"
    assert len(rows) == len(view.frame) == len(view.table)
    counts = views.explore(services, "region", "53", "homicide", "count", False)
    assert counts.frame is not None
    assert counts.charts[0].traces[0]["y"][0] == counts.frame["count"].iloc[0]
    # French by default: headers, kinds and numbers as a French reader writes them.
    french = views.explore(services, "department", "33", "burglary")
    assert french.table is not None and "Pour 1 000" in french.table.columns
    assert set(french.table["Nature"]) == {"observé", "prévision"}
    names = [t.get("name") for t in french.charts[0].traces]
    assert "Observé" in names and "Prévision" in names
    assert french.charts[0].spec["layout"]["separators"] == ",\u202f"
    first = french.frame.iloc[0] if french.frame is not None else None
    assert first is not None
    assert french.table["Nombre"].iloc[0] == f"{int(first['count']):,}".replace(",", "\u202f")
    assert "infractions" in french.message


def test_explore_view_errors(services: Services) -> None:
    view = views.explore(services, "region", "Atlantis", "burglary")
    assert view.message.startswith("⚠") and "Atlantis" in view.message
    assert view.table is None and view.charts[0] is not None
    view = views.explore(services, "region", "", "burglary", lang="en")
    assert "Pick an area" in view.message
    view = views.explore(services, "region", "", "burglary")
    assert "Choisissez un territoire" in view.message


@pytest.mark.parametrize(("level", "year", "count"), [("region", 2025, 18),
                                                      ("department", 2028, 101)])
def test_compare_view_bars_map_table(
    services: Services, level: str, year: int, count: int
) -> None:
    view = views.compare(services, "vehicle-theft", year, level, "rate_per_100k", "en")
    bars, area_map = view.charts
    assert bars is not None and area_map is not None
    assert len(view.table) == count
    filled = [t for t in area_map.traces if t.get("fill") == "toself"]
    assert len(filled) == count
    assert all(t["fillcolor"] != charts.NO_DATA for t in filled)
    if year > services.catalog.last_year:
        assert "point forecasts" in view.message


def test_compare_without_outlines_degrades_to_bars(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geo, "outlines", lambda level, data_dir=None: None)
    view = views.compare(services, "burglary", None, "region", "count", "en")
    assert view.charts[0] is not None and view.charts[1] is None
    assert "map is not available" in view.message
    view = views.compare(services, "burglary", None, "region", "count")
    assert "carte n'est pas disponible" in view.message


def test_profile_of_an_area(services: Services) -> None:
    view = views.profile(services, "department", "29", lang="en")
    frame = view.frame
    assert frame is not None and view.table is not None
    assert len(frame) == len(services.catalog.indicators) == 18  # every indicator, one view
    assert "Finistère — 2025" in view.message and "Population (INSEE): 933,455" in view.message
    burglary = frame.set_index("indicator").loc["burglary"]
    # Each figure is the tools' own: the count and both rates, national values, the changes.
    history = services.bridge.call("get_history", {"area": "29", "indicator": "burglary",
                                                   "level": "department"}).data or {}
    last, first_point = history["points"][-1], history["points"][0]
    assert burglary["count"] == last["count"]
    assert burglary["rate_per_1000"] == pytest.approx(last["rate_per_1000"])
    assert burglary["rate_per_100k"] == pytest.approx(last["rate_per_100k"], rel=1e-3)
    assert burglary["change_vs_first_year_pct"] == pytest.approx(
        100 * (last["count"] / first_point["count"] - 1), abs=0.06)
    france = services.bridge.call("get_history", {"area": "FR", "indicator": "burglary",
                                                  "level": "country"}).data or {}
    national = france["points"][-1]
    assert burglary["share_of_national_pct"] == pytest.approx(
        100 * last["count"] / national["count"], rel=1e-6)
    assert burglary["index_vs_france"] == pytest.approx(
        100 * last["rate_per_100k"] / national["rate_per_100k"], rel=1e-3)
    assert 1 <= burglary["rank"] <= burglary["out_of"] == 101
    bars = view.charts[0]
    assert bars is not None and len(bars.traces[0]["y"]) == 18
    with open(view.csv_path or "", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 18
    # French: French headers, "1 234,5" numbers, the ambiguous-code warning is not shown.
    french = views.profile(services, "region", "11")
    assert french.table is not None and "Part du total national" in french.table.columns
    assert "\u202f" in french.table["Nombre"].iloc[0] and "," in french.table["Pour 1 000"].iloc[0]
    assert "was read as" not in french.message
    assert "Population (INSEE) : 12" in french.message
    assert views.profile(services, "region", "").message.startswith("Choisissez")


def test_compare_within_a_region_with_csv(services: Services) -> None:
    view = views.compare(services, "burglary", 2025, "department", "rate_per_100k", "en",
                         region="Bretagne")
    assert view.frame is not None and view.table is not None
    assert sorted(view.frame["code"]) == ["22", "29", "35", "56"]
    assert list(view.frame["rank"]) == [1, 2, 3, 4]
    assert view.frame["national_rank"].is_monotonic_increasing
    assert "departments of **Bretagne**" in view.message
    values = list(view.frame["value"])
    assert values == sorted(values, reverse=True)
    assert "Bretagne" in (view.charts[0].title if view.charts[0] else "")
    with open(view.csv_path or "", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["code"] for r in rows] == list(view.frame["code"])
    assert {"count", "rate_per_1000", "rate_per_100k"} <= set(rows[0])
    # Rates per 1,000 as published sit beside rates per 100,000 in the table.
    assert {"Per 1,000", "Per 100,000", "Count"} <= set(view.table.columns)
    everywhere = views.compare(services, "burglary", 2025, "region", "count")
    assert everywhere.frame is not None and len(everywhere.frame) == 18
    assert everywhere.frame["count"].tolist() == everywhere.frame["value"].tolist()


def test_several_areas_on_one_chart(services: Services) -> None:
    view = views.trends(services, "region", ["53", "11", "Normandie"], "burglary", lang="en")
    chart = view.charts[0]
    assert chart is not None
    names = [t["name"] for t in chart.traces]
    assert names == ["Bretagne", "Île-de-France", "Normandie", "France"]
    assert views.trends(services, "region", [], "burglary").message.startswith("Choisissez")


def test_the_language_switch_re_renders_every_label(services: Services) -> None:
    demo = ui.build_ui(services)
    config = demo.get_config_file()
    labels = json.dumps(config, ensure_ascii=False, default=str)
    for french in ("Discussion", "Explorer", "Profil", "Comparer", "Modèles", "À propos",
                   "Télécharger le CSV", "Taux pour 1 000 (publié par le SSMSI)"):
        assert french in labels, french
    english = ui.build_ui(services, "en")
    labels = json.dumps(english.get_config_file(), ensure_ascii=False, default=str)
    for word in ("Chat", "Explore", "Profile", "Compare", "Models", "About", "Download CSV",
                 "Residential burglary"):  # the catalogue's English label
        assert word in labels, word
    # The switch's handler returns one value per output, in English.
    switch = next(fn for fn in demo.fns.values() if fn.name == "on_language")
    args = ["en", "region", "11", "burglary", "rate_per_100k", True, "en", "region", "11", 2025,
            "burglary", 2025, "region", "rate_per_100k", "", ["11", "53"], True, "region"]
    result = switch.fn(*args)
    assert len(result) == len(switch.outputs)
    labels = [getattr(r, "label", None) for r in result]
    assert {"Download CSV", "Profile", "Chat", "Level", "Ranking"} <= set(labels)
    plots = [json.loads(r.plot) for r in result if isinstance(r, PlotData)]
    names = {t.get("name") for p in plots for t in p["data"]}
    assert "Observed" in names and "Forecast" in names


def test_numbers_follow_the_language() -> None:
    from oasis_app.numbers import format_count, format_number, format_pct, format_rate

    assert format_number(1234.5, "fr") == "1\u202f234,5"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_number(-0.04, "fr", 1) == "0,0"
    assert format_number(-3.25, "en", 1) == "\u22123.2"
    assert format_count(1234567, "fr") == "1\u202f234\u202f567"
    assert format_rate(0.0144, "fr") == "0,014" and format_rate(563.94, "en") == "563.9"
    assert format_pct(12.34, "fr", signed=True) == "+12,3\u202f%"
    assert format_pct(-5, "en", 0, signed=True) == "\u22125%"
    assert format_number(None, "fr") == "–" and format_number(float("nan"), "en") == "–"


def test_two_indicators_chart_both_and_one_year_is_a_card(services: Services) -> None:
    call = services.bridge.call
    burglary = call("get_history", {"area": "53", "indicator": "burglary"}).data or {}
    theft = call("get_history", {"area": "53", "indicator": "vehicle-theft"}).data or {}
    both = charts.series_chart([burglary, theft], lang="fr")
    assert both is not None
    axes = {t.get("yaxis", "y") for t in both.traces}
    assert axes == {"y", "y2"}  # one panel per indicator, each with its own unit
    text = json.dumps(both.spec["layout"]["annotations"], ensure_ascii=False)
    assert "Cambriolages de logement" in text and "Vols de véhicule" in text
    one = call("get_history", {"area": "53", "indicator": "burglary", "start_year": 2025,
                               "end_year": 2025}).data or {}
    card = charts.series_chart([one], lang="fr")
    assert card is not None and card.traces == []  # no lone dot on empty axes
    numbers = " ".join(a["text"] for a in card.spec["layout"]["annotations"])
    assert "10\u202f741" in numbers and "pour 1 000 logements" in numbers
    assert "2025" in card.title
    areas = charts.series_chart([burglary, call("get_history", {
        "area": "11", "indicator": "burglary"}).data or {}], lang="en")
    assert areas is not None and [t["name"] for t in areas.traces] == ["Bretagne",
                                                                       "Île-de-France"]


@pytest.mark.parametrize("question", ["Cambriolages et vols de véhicules en Bretagne",
                                      "burglaries and vehicle theft in Brittany"])
def test_chat_two_indicators_chart_both(services: Services, question: str) -> None:
    value, _, _ = ui.respond(services, question, [])
    figures = _plots(value)
    assert len(figures) == 1
    axes = {t.get("yaxis", "y") for t in figures[0]["data"]}
    assert axes == {"y", "y2"}
    assert [t["name"] for t in figures[0]["data"]].count(
        "Observé" if "Cambriolages" in question else "Observed") == 2


def test_chat_single_year_is_a_number_card(services: Services) -> None:
    value, _, _ = ui.respond(services, "Combien de cambriolages en Bretagne en 2025 ?", [])
    figures = _plots(value)
    assert len(figures) == 1 and figures[0]["data"] == []  # no lone dot on empty axes
    texts = " ".join(a["text"] for a in figures[0]["layout"]["annotations"])
    assert "10\u202f741" in texts


def test_call_many_keeps_order_and_isolates_errors(services: Services) -> None:
    outcomes = services.bridge.call_many([
        ("get_history", {"area": "53", "indicator": "burglary"}),
        ("get_history", {"area": "Atlantis", "indicator": "burglary"}),
        ("compare_regions", {"indicator": "burglary", "areas": ["29"], "level": "department"}),
        ("no_such_tool", {}),
    ])
    assert [o.name for o in outcomes] == ["get_history", "get_history", "compare_regions",
                                          "no_such_tool"]
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert outcomes[0].data and outcomes[0].data["area"]["name"] == "Bretagne"
    assert "Atlantis" in outcomes[1].error
    assert outcomes[2].data and outcomes[2].data["ranking"][0]["name"] == "Finistère"
    assert services.bridge.call_many([]) == []


def test_long_titles_wrap_for_phones() -> None:
    title = charts.wrap_title("Escroqueries et fraudes aux moyens de paiement — "
                              "Provence-Alpes-Côte d'Azur")
    assert all(len(line) <= charts.TITLE_WIDTH for line in title.split("<br>"))
    assert title.replace("<br>", " ").startswith("Escroqueries et fraudes")


def test_models_view(services: Services, bare_services: Services) -> None:
    view = views.models(services, "department", "en")
    assert "Champion (Department)" in view.message
    assert "Below 1 the model beats that naive forecast" in view.message  # MASE in plain words
    assert all(chart is not None for chart in view.charts)  # leaderboard, calibration, backtest
    backtest = view.charts[2]
    assert backtest is not None and len(backtest.traces[0]["x"]) > 10
    assert view.table is not None and len(view.table) >= 2
    french = views.models(services, "department")
    assert "Modèle retenu (Département)" in french.message
    assert "intervalles conformes" in french.message and "Backtest" in french.message
    assert french.table is not None and "Couverture 80 %" in french.table.columns
    missing = views.models(bare_services, "region", "en")
    assert missing.message.startswith("⚠") and "not available" in missing.message
    assert missing.table is None


def test_about_tab(services: Services) -> None:
    text = views.about_markdown(services, "en")
    assert "Licence Ouverte" in text and "/mcp" in text
    assert "Recorded crime is not actual crime" in text
    assert "MASE" in text and "conformal" in text
    french = views.about_markdown(services)
    assert "n'est pas toute la délinquance" in french and "pour 1 000 habitants" in french
    assert "get_history" in french  # the tool list comes from the server


def test_first_page_is_built_with_content(services: Services) -> None:
    started = time.perf_counter()
    demo = ui.build_ui(services)
    assert time.perf_counter() - started < 10
    plots = [c for c in demo.blocks.values() if isinstance(c, gr.Plot) and c.value]
    assert len(plots) >= 3  # Explore chart, Compare bars and map are there before any click


def test_views_are_fast(services: Services) -> None:
    views.explore(services, "region", "11", "burglary")  # warm
    for run in (lambda: views.explore(services, "department", "13", "drug-trafficking"),
                lambda: views.compare(services, "burglary", 2025, "department", "rate_per_100k")):
        started = time.perf_counter()
        run()
        assert time.perf_counter() - started < 1.5  # the benchmark measures the real figure


# -- GeoJSON ------------------------------------------------------------------------------------


def test_outlines_from_the_data_directory(edition_2025_dir: Path) -> None:
    geo.clear_cache()
    outlines = geo.outlines("department", str(edition_2025_dir))
    assert outlines is not None and len(outlines.codes) == 101
    assert set(outlines.insets) == {"971", "972", "973", "974", "976"}
    assert outlines.source.endswith("departements-avec-outre-mer.geojson")
    assert len(json.dumps(outlines.geojson)) < 600_000  # simplified from 3.7 MB


class _GeoHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def test_outlines_downloaded_once_to_the_cache(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _GeoHandler.body = (real_data_dir / "geo" / "regions-avec-outre-mer.geojson").read_bytes()
    _GeoHandler.hits = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GeoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OASIS_GEOJSON_URL", f"http://127.0.0.1:{server.server_port}/geo/")
        monkeypatch.setenv("OASIS_CACHE_DIR", str(tmp_path / "cache"))
        empty = tmp_path / "data"
        empty.mkdir()
        geo.clear_cache()
        first = geo.outlines("region", str(empty))
        assert first is not None and len(first.codes) == 18
        assert (tmp_path / "cache" / "geo" / "regions-avec-outre-mer.geojson").is_file()
        geo.clear_cache()
        again = geo.outlines("region", str(empty))
        assert again is not None and "cache" in again.source
        assert _GeoHandler.hits == 1
    finally:
        server.shutdown()
        geo.clear_cache()


def test_no_outlines_anywhere_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OASIS_GEOJSON_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("OASIS_CACHE_DIR", str(tmp_path / "cache"))
    geo.clear_cache()
    try:
        assert geo.outlines("department", str(tmp_path)) is None
    finally:
        geo.clear_cache()


# -- settings and packaging ---------------------------------------------------------------------


def test_settings_from_the_space_environment() -> None:
    settings = Settings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7860",
                                  "SPACE_HOST": "someone-oasis.hf.space"})
    assert (settings.host, settings.port) == ("0.0.0.0", 7860)
    assert settings.allowed_hosts == ("someone-oasis.hf.space",)
    assert settings.allowed_origins == ("https://someone-oasis.hf.space",)
    assert settings.url == "https://someone-oasis.hf.space"
    local = Settings.from_env({"PORT": "8123", "GRADIO_SERVER_PORT": "7860"})
    assert (local.host, local.port, local.url) == ("127.0.0.1", 8123, "http://127.0.0.1:8123")
    with pytest.raises(SystemExit):
        Settings.from_env({"PORT": "eighty"})


def _requirement_names(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-")
            found[name] = line.replace(" ", "")
    return found


def test_requirements_txt_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = _requirement_names(project["dependencies"]
                                + project["optional-dependencies"]["app"])
    listed = _requirement_names((REPO / "requirements.txt").read_text().splitlines())
    assert listed == wanted
    assert not any("[mcp]" in spec for spec in listed.values())


# -- the real process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_process(edition_2025_dir: Path, art_dir: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "OASIS_DATA_DIR": str(edition_2025_dir),
           "OASIS_ARTIFACTS_DIR": str(art_dir), "SPACE_HOST": "someone-oasis.hf.space",
           "OASIS_LLM": "off", "OASIS_AUTO_DOWNLOAD": "0",
           "OASIS_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    env.pop("GRADIO_SERVER_PORT", None)
    log = (tmp_path_factory.mktemp("log") / "app.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer within 120 s; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_app_serves_the_page(app_process: str) -> None:
    response = httpx.get(app_process + "/", timeout=10)
    assert response.status_code == 200
    assert "OASIS" in response.text or "gradio" in response.text.lower()


def test_app_mcp_initialize_and_tools_list(app_process: str) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "test", "version": "1"}}}
    response = httpx.post(app_process + "/mcp", json=init, headers=headers, timeout=20)
    assert response.status_code == 200
    assert '"serverInfo"' in response.text and "oasis" in response.text

    async def listing(mode: str) -> list[str]:
        async with Client(app_process + "/mcp", mode=mode) as client:  # type: ignore[arg-type]
            tools = await client.list_tools()
            result = await client.call_tool("get_history", {"area": "53",
                                                            "indicator": "burglary"})
            assert not result.is_error
            return [tool.name for tool in tools.tools]

    expected = {"list_regions", "list_indicators", "get_history", "forecast", "compare_regions",
                "model_metrics", "find_area"}
    assert set(asyncio.run(listing("legacy"))) == expected
    assert set(asyncio.run(listing("auto"))) == expected


def test_app_mcp_host_checks(app_process: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    evil = httpx.post(app_process + "/mcp", json=body, timeout=10,
                      headers={**headers, "Host": "evil.example"})
    assert evil.status_code == 421
    space = httpx.get(app_process + "/health", timeout=10,
                      headers={"Host": "someone-oasis.hf.space"})
    assert space.status_code == 200


def test_without_data_the_app_still_starts_and_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    built = build_services(lambda: create_server(empty, tmp_path / "art"), data_dir=str(empty),
                           auto_download=True)  # the download fails: conftest closes the network
    try:
        assert not built.catalog.from_data
        assert len(built.catalog.areas["region"]) == 18 and built.catalog.indicators
        view = views.explore(built, "region", "53", "burglary", lang="en")
        assert view.message == "⚠️ The SSMSI data are not installed on this server."
        view = views.profile(built, "region", "53")
        assert view.message == "⚠️ Les données SSMSI ne sont pas installées sur ce serveur."
        turn = built.engine.ask("Évolution des cambriolages en Bretagne depuis 2016")
        assert "données SSMSI ne sont pas installées" in turn.text
        demo = ui.build_ui(built)
        assert demo is not None
    finally:
        built.bridge.close()


def test_backtest_points_when_the_server_exposes_them() -> None:
    class FakeBridge:
        def read_resource(self, uri: str) -> str:
            assert uri == "oasis://backtest/region"
            return json.dumps({"rows": [
                {"area": "53", "indicator": "burglary", "year": 2023, "horizon": 1,
                 "model": "ets", "y_true": 10.0, "y_pred": 11.0},
                {"area": "53", "indicator": "burglary", "year": 2023, "horizon": 1,
                 "model": "naive", "y_true": 10.0, "y_pred": 9.0},
                {"actual": 3, "predicted": 4},
                {"y_true": None, "y_pred": 1.0},
            ]})

    fake = Services(FakeBridge(), None, None)  # type: ignore[arg-type]
    points = views.backtest_rows(fake, "region", "ets")
    assert [(p["actual"], p["predicted"]) for p in points] == [(10.0, 11.0), (3, 4)]
    assert points[0]["label"] == "53 · burglary · 2023 (h=1)"
    chart = charts.backtest_chart(points, title="t")
    assert chart.traces[0]["x"] == [10.0, 3.0]
