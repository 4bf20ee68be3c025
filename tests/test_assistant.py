"""The offline planner: expected tool calls for French and English questions, clarifications,
and robustness (hypothesis: plan() never raises and stays fast on arbitrary text)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_app.planner import Plan, ToolCall, follow_up, plan, understand
from oasis_mcp.data.coverage import FIRST_YEAR, LAST_FORECAST_YEAR, max_horizon

Call = tuple[str, dict[str, object]]


def H(area: str, indicator: str, level: str, **kw: object) -> Call:
    return ("get_history", {"area": area, "indicator": indicator, "level": level, **kw})


def F(area: str, indicator: str, level: str, **kw: object) -> Call:
    return ("forecast", {"area": area, "indicator": indicator, "level": level, **kw})


def C(indicator: str, level: str, **kw: object) -> Call:
    return ("compare_regions", {"indicator": indicator, "level": level, **kw})


def M(**kw: object) -> Call:
    return ("model_metrics", dict(kw))


def L(**kw: object) -> Call:
    return ("list_regions", dict(kw))


def I() -> Call:  # noqa: E743
    return ("list_indicators", {})


RATE = "rate_per_100k"
COUNT = "count"
OCCITANIE = [
    "Ariège",
    "Aude",
    "Aveyron",
    "Gard",
    "Haute-Garonne",
    "Gers",
    "Hérault",
    "Lot",
    "Lozère",
    "Hautes-Pyrénées",
    "Pyrénées-Orientales",
    "Tarn",
    "Tarn-et-Garonne",
]
PACA = "Provence-Alpes-Côte d'Azur"
IDF = [
    "Paris",
    "Seine-et-Marne",
    "Yvelines",
    "Essonne",
    "Hauts-de-Seine",
    "Seine-Saint-Denis",
    "Val-de-Marne",
    "Val-d'Oise",
]

# (question, expected calls): tool names and arguments exactly as sent to the MCP tools.
CASES: list[tuple[str, list[Call]]] = [
    (
        "Évolution des cambriolages en Bretagne depuis 2016",
        [H("Bretagne", "burglary", "region", start_year=2016)],
    ),
    (
        "Forecast sexual violence in Île-de-France until 2030",
        [
            H("Île-de-France", "sexual-violence", "region"),
            F("Île-de-France", "sexual-violence", "region", horizon=5),
        ],
    ),
    (
        "Quelle région a le plus de vols de véhicules en 2025 ?",
        [C("vehicle-theft", "region", year=2025, measure=RATE),
         C("vehicle-theft", "region", year=2025, measure=COUNT)],
    ),
    (
        "Compare drug trafficking in the Nord and the Bouches-du-Rhône",
        [
            C("drug-trafficking", "department", areas=["Nord", "Bouches-du-Rhône"], measure=RATE),
            H("Nord", "drug-trafficking", "department"),
            H("Bouches-du-Rhône", "drug-trafficking", "department"),
        ],
    ),
    ("How accurate are your forecasts?", [M()]),
    ("Liste des départements d'Occitanie", [L(level="department", region="Occitanie")]),
    ("Burglaries in Brittany since 2016", [H("Bretagne", "burglary", "region", start_year=2016)]),
    (
        "Cambriolages dans le Nord entre 2018 et 2022",
        [H("Nord", "burglary", "department", start_year=2018, end_year=2022)],
    ),
    ("Évolution des homicides en Corse", [H("Corse", "homicide", "region")]),
    (
        "Car thefts in Paris over the last 5 years",
        [H("Paris", "vehicle-theft", "department", start_year=2021)],
    ),
    ("Vols de voitures dans le 93", [H("Seine-Saint-Denis", "vehicle-theft", "department")]),
    (
        "Prévision des cambriolages en Gironde pour les 3 prochaines années",
        [H("Gironde", "burglary", "department"), F("Gironde", "burglary", "department", horizon=3)],
    ),
    (
        "Forecast burglaries in Brittany for the next three years",
        [H("Bretagne", "burglary", "region"), F("Bretagne", "burglary", "region", horizon=3)],
    ),
    (
        "Violences intrafamiliales en Guyane d'ici 2028",
        [
            H("Guyane", "domestic-physical-violence", "region"),
            F("Guyane", "domestic-physical-violence", "region", horizon=3),
        ],
    ),
    (
        "Top 5 departments for burglaries in 2024",
        [C("burglary", "department", year=2024, measure=RATE)],
    ),
    (
        "Quel département a le moins de vols avec armes ?",
        [C("armed-robbery", "department", measure=RATE)],
    ),
    (
        "Which department has the highest rate of domestic violence?",
        [C("domestic-physical-violence", "department", measure=RATE)],
    ),
    ("Liste des régions", [L(level="region")]),
    ("List the departments in Brittany", [L(level="department", region="Bretagne")]),
    ("Quels indicateurs sont disponibles ?", [I()]),
    ("What indicators do you have?", [I()]),
    (
        "Escroqueries à Paris en 2022",
        [H("Paris", "fraud", "department", start_year=2022, end_year=2022)],
    ),
    ("drugs in the Lot", [H("Lot", "drug-use", "department")]),
    ("There are a lot of burglaries in Normandy", [H("Normandie", "burglary", "region")]),
    (
        "Vols violents en Seine-Saint-Denis depuis 2019",
        [H("Seine-Saint-Denis", "violent-theft-unarmed", "department", start_year=2019)],
    ),
    (
        "Compare burglaries in Brittany and Normandy",
        [
            C("burglary", "region", areas=["Bretagne", "Normandie"], measure=RATE),
            H("Bretagne", "burglary", "region"),
            H("Normandie", "burglary", "region"),
        ],
    ),
    (
        "Cambriolages en Bretagne, Normandie et Pays de la Loire",
        [
            C(
                "burglary",
                "region",
                areas=["Bretagne", "Normandie", "Pays de la Loire"],
                measure=RATE,
            ),
            H("Bretagne", "burglary", "region"),
            H("Normandie", "burglary", "region"),
            H("Pays de la Loire", "burglary", "region"),
        ],
    ),
    (
        "Drug trafficking in Île-de-France departments",
        [C("drug-trafficking", "department", areas=IDF, measure=RATE)],
    ),
    ("Cambriolages à Atlantis", [H("France", "burglary", "country")]),
    (
        "Quel département d'Occitanie a le plus de cambriolages ?",
        [C("burglary", "department", areas=OCCITANIE, measure=RATE),
         C("burglary", "department", areas=OCCITANIE, measure=COUNT)],
    ),
    ("Model accuracy for departments", [M(level="department")]),
    ("Les modèles sont-ils fiables ?", [M()]),
    ("Fraud in France since 2020", [H("France", "fraud", "country", start_year=2020)]),
    ("Homicides en France métropolitaine", [H("France métropolitaine", "homicide", "country")]),
    ("Sexual violence in La Réunion", [H("La Réunion", "sexual-violence", "region")]),
    ("Cambriolages dans le département de La Réunion", [H("La Réunion", "burglary", "department")]),
    (
        "Nombre de cambriolages en Bretagne en 2023",
        [H("Bretagne", "burglary", "region", start_year=2023, end_year=2023)],
    ),
    (
        "Prévisions des vols de véhicules en Provence-Alpes-Côte d'Azur en 2027",
        [H(PACA, "vehicle-theft", "region"), F(PACA, "vehicle-theft", "region", horizon=2)],
    ),
    (
        "Which region will have the most burglaries in 2028?",
        [C("burglary", "region", year=2028, measure=RATE),
         C("burglary", "region", year=2028, measure=COUNT)],
    ),
    (
        "Drug use in Hauts-de-France 2016-2020",
        [H("Hauts-de-France", "drug-use", "region", start_year=2016, end_year=2020)],
    ),
    ("Attempted murders in Corsica", [H("Corse", "attempted-homicide", "region")]),
    ("Usage de stupéfiants (AFD) en Île-de-France", [H("Île-de-France", "drug-use-afd", "region")]),
    ("pickpocketing in Paris", [H("Paris", "theft-without-violence", "department")]),
    ("vandalisme en Gironde", [H("Gironde", "vandalism", "department")]),
    (
        "Tentatives d'homicide dans les Bouches-du-Rhône (13)",
        [H("Bouches-du-Rhône", "attempted-homicide", "department")],
    ),
    ("cambriolages 2A", [H("Corse-du-Sud", "burglary", "department")]),
    ("cambriolages département 59", [H("Nord", "burglary", "department")]),
    (
        "Prévisions cambriolages Bretagne 2030",
        [H("Bretagne", "burglary", "region"), F("Bretagne", "burglary", "region", horizon=5)],
    ),
    (
        "Quelle sera l'évolution des violences sexuelles en Occitanie ?",
        [H("Occitanie", "sexual-violence", "region"), F("Occitanie", "sexual-violence", "region")],
    ),
    (
        "Predict homicides in Guadeloupe up to 2029",
        [H("Guadeloupe", "homicide", "region"), F("Guadeloupe", "homicide", "region", horizon=4)],
    ),
    (
        "Projection des escroqueries en France jusqu'en 2028",
        [H("France", "fraud", "country"), F("France", "fraud", "country", horizon=3)],
    ),
    (
        "Classement des régions pour les violences intrafamiliales",
        [C("domestic-physical-violence", "region", measure=RATE)],
    ),
    (
        "Ranking of departments by drug trafficking in 2027",
        [C("drug-trafficking", "department", year=2027, measure=RATE)],
    ),
    ("Where is burglary the lowest?", [C("burglary", "region", measure=RATE)]),
    (
        "Compare la Bretagne et la Normandie pour les cambriolages en 2024",
        [
            C("burglary", "region", areas=["Bretagne", "Normandie"], year=2024, measure=RATE),
            H("Bretagne", "burglary", "region"),
            H("Normandie", "burglary", "region"),
        ],
    ),
    (
        "Paris vs Marseille car thefts",
        [
            C("vehicle-theft", "department", areas=["Paris", "Bouches-du-Rhône"], measure=RATE),
            H("Paris", "vehicle-theft", "department"),
            H("Bouches-du-Rhône", "vehicle-theft", "department"),
        ],
    ),
    (
        "Burglaries: Nord versus Pas-de-Calais",
        [
            C("burglary", "department", areas=["Nord", "Pas-de-Calais"], measure=RATE),
            H("Nord", "burglary", "department"),
            H("Pas-de-Calais", "burglary", "department"),
        ],
    ),
    (
        "Compare domestic violence in Gironde and Haute-Garonne until 2030",
        [
            H("Gironde", "domestic-physical-violence", "department"),
            F("Gironde", "domestic-physical-violence", "department", horizon=5),
            H("Haute-Garonne", "domestic-physical-violence", "department"),
            F("Haute-Garonne", "domestic-physical-violence", "department", horizon=5),
        ],
    ),
    ("Quels sont les départements de Bretagne ?", [L(level="department", region="Bretagne")]),
    ("Which regions are there?", [L(level="region")]),
    ("Show me all departments in Île-de-France", [L(level="department", region="Île-de-France")]),
    ("departments of PACA", [L(level="department", region=PACA)]),
    ("What crimes can I ask about?", [I()]),
    ("Quelle est la fiabilité des modèles au niveau départemental ?", [M(level="department")]),
    ("What is the backtest error of the region models?", [M(level="region")]),
    (
        "Combien de vols de véhicules dans le Rhône en 2024 ?",
        [H("Rhône", "vehicle-theft", "department", start_year=2024, end_year=2024)],
    ),
    (
        "How many homicides in Seine-Saint-Denis in 2023?",
        [H("Seine-Saint-Denis", "homicide", "department", start_year=2023, end_year=2023)],
    ),
    (
        "Évolution du trafic de stupéfiants à Paris depuis 2016",
        [H("Paris", "drug-trafficking", "department", start_year=2016)],
    ),
    (
        "Tendance des dégradations en Auvergne-Rhône-Alpes",
        [H("Auvergne-Rhône-Alpes", "vandalism", "region")],
    ),
    (
        "Sexual violence in Brittany from 2017 to 2021",
        [H("Bretagne", "sexual-violence", "region", start_year=2017, end_year=2021)],
    ),
    ("domestic violence in French Guiana", [H("Guyane", "domestic-physical-violence", "region")]),
    ("drug use in Mayotte since 2020", [H("Mayotte", "drug-use", "region", start_year=2020)]),
    ("Cambriolages en IDF", [H("Île-de-France", "burglary", "region")]),
    (
        "vols de véhicules en PACA depuis 2019",
        [H(PACA, "vehicle-theft", "region", start_year=2019)],
    ),
    (
        "Vols violents à Marseille depuis 2020",
        [H("Bouches-du-Rhône", "violent-theft-unarmed", "department", start_year=2020)],
    ),
    (
        "Number of burglaries by region in 2023",
        [C("burglary", "region", year=2023, measure="count")],
    ),
    (
        "Vols dans les véhicules dans le Var en 2030",
        [
            H("Var", "theft-from-vehicle", "department"),
            F("Var", "theft-from-vehicle", "department", horizon=5),
        ],
    ),
    ("Thefts from cars in Lyon", [H("Rhône", "theft-from-vehicle", "department")]),
    ("Armed robberies in Guadeloupe", [H("Guadeloupe", "armed-robbery", "region")]),
    (
        "Violences sexuelles : quelles régions sont les plus touchées en 2026 ?",
        [C("sexual-violence", "region", year=2026, measure=RATE)],
    ),
    # "aura" (will have) is not AURA (Auvergne-Rhône-Alpes); the acronym in capitals is.
    (
        "Quelle région aura le plus de cambriolages en 2028 ?",
        [C("burglary", "region", year=2028, measure=RATE),
         C("burglary", "region", year=2028, measure=COUNT)],
    ),
    (
        "Combien de cambriolages y aura-t-il en Bretagne en 2030 ?",
        [H("Bretagne", "burglary", "region"), F("Bretagne", "burglary", "region", horizon=5)],
    ),
    ("Cambriolages en AURA", [H("Auvergne-Rhône-Alpes", "burglary", "region")]),
]


@pytest.mark.parametrize(("question", "expected"), CASES, ids=[q[:60] for q, _ in CASES])
def test_plan(question: str, expected: list[Call]) -> None:
    calls = plan(question)
    assert all(isinstance(c, ToolCall) for c in calls)
    assert [(c.name, c.arguments) for c in calls] == expected


def test_enough_questions_in_both_languages() -> None:
    languages = [understand(q).language for q, _ in CASES]
    assert len(CASES) >= 60
    assert languages.count("fr") >= 25 and languages.count("en") >= 25


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Évolution des cambriolages en Bretagne depuis 2016", "fr"),
        ("Compare drug trafficking in the Nord and the Bouches-du-Rhône", "en"),
        ("Paris vs Marseille car thefts", "en"),
        ("Liste des départements d'Occitanie", "fr"),
        ("How accurate are your forecasts?", "en"),
        ("Bonjour", "fr"),
        ("hello", "en"),
    ],
)
def test_language(question: str, language: str) -> None:
    assert understand(question).language == language


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("Quel temps fera-t-il demain ?", "out_of_scope"),
        ("Who won the world cup?", "out_of_scope"),
        ("asdkjh qwe", "out_of_scope"),
        ("", "help"),
        ("   ?!", "help"),
        ("Bonjour", "help"),
        ("What can you do?", "help"),
        ("Délinquance en Bretagne", "clarify"),
        ("Quelle région a le plus de délinquance ?", "clarify"),
        ("Violence in Marseille", "clarify"),
        ("Thefts in Paris", "clarify"),
        ("vols dans le Cher", "clarify"),
        ("What is the population of Bretagne?", "clarify"),
        ("c'est cher la vie", "out_of_scope"),
        ("What's the weather in Lyon?", "out_of_scope"),
        ("Quel temps fait-il à Paris ?", "out_of_scope"),
        ("Best restaurants in Bretagne", "out_of_scope"),
        ("Vols et météo à Lyon", "clarify"),  # an (ambiguous) crime word keeps it in scope
    ],
)
def test_no_call_but_a_helpful_message(question: str, intent: str) -> None:
    result = understand(question)
    assert result.calls == []
    assert result.intent == intent
    assert len(result.message) > 40
    assert result.suggestions, "offers questions it can answer"


def test_suggestions_are_answerable() -> None:
    for question in ("asdkjh", "bonjour", "Thefts in Paris", "Délinquance en Bretagne"):
        for suggestion in understand(question).suggestions:
            assert plan(suggestion), suggestion


def test_ambiguous_word_lists_the_candidates() -> None:
    result = understand("Thefts in Paris")
    assert "Vehicle theft" in result.message  # the catalogue's English label
    assert "Paris" in result.suggestions[0]


def test_city_is_read_as_its_department_with_a_note() -> None:
    result = understand("Vols violents à Marseille depuis 2020")
    assert result.calls[0].arguments["area"] == "Bouches-du-Rhône"
    assert any("Marseille" in note for note in result.notes)


def test_horizon_is_capped_with_a_note() -> None:
    result = understand("Forecast burglaries in Brittany until 2040", last_year=2025)
    assert result.calls[-1].arguments["horizon"] == LAST_FORECAST_YEAR - 2025
    assert any(str(LAST_FORECAST_YEAR) in note for note in result.notes)


def test_last_year_moves_horizons() -> None:
    # Issue 12: with a 2024 edition, "until 2030" is 6 years ahead (the horizon follows the data's
    # last year and the last forecast year of the data layer), and nothing says forecasts stop
    # before 2030.
    result = understand("Forecast burglaries in Brittany until 2030", last_year=2024)
    assert result.calls[-1].arguments["horizon"] == 6
    assert not any("2029" in note for note in result.notes)
    calls = plan("Forecast burglaries in Brittany until 2030", last_year=2025)
    assert calls[-1].arguments["horizon"] == 5
    calls = plan("Forecast burglaries in Brittany until 2028", last_year=2024)
    assert calls[-1].arguments["horizon"] == 4


def test_ranking_direction_and_top_n() -> None:
    low = understand("Quel département a le moins de vols avec armes ?")
    assert (low.intent, low.extremum) == ("ranking", "min")
    top = understand("Top 5 departments for burglaries in 2024")
    assert (top.extremum, top.top_n) == ("max", 5)


def test_plan_result_is_a_plan() -> None:
    assert isinstance(understand("Cambriolages en Bretagne"), Plan)


def test_deterministic() -> None:
    question = "Compare drug trafficking in the Nord and the Bouches-du-Rhône"
    assert plan(question) == plan(question)


def test_fast() -> None:
    plan("warm up")
    started = time.perf_counter()
    for question, _ in CASES:
        plan(question)
    per_question_ms = (time.perf_counter() - started) * 1000 / len(CASES)
    assert per_question_ms < 5, per_question_ms


def test_very_long_text_is_fine() -> None:
    started = time.perf_counter()
    result = understand("cambriolages en Bretagne " * 5000)
    assert time.perf_counter() - started < 1
    assert result.calls


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(text: str) -> None:
    result = understand(text)
    assert isinstance(result.calls, list)
    assert result.calls or result.message


WORDS = [
    "cambriolages",
    "burglaries",
    "Bretagne",
    "Nord",
    "2030",
    "depuis",
    "since",
    "compare",
    "et",
    "and",
    "top",
    "5",
    "Lot",
    "a",
    "lot",
    "of",
    "(13)",
    "2A",
    "Marseille",
    "vols",
    "prévision",
    "forecast",
    "region",
    "départements",
    "liste",
    "accurate",
    "next",
    "3",
    "years",
    "d'ici",
    "entre",
    "2018",
    "2022",
    "Paris",
    "vs",
    "violences",
    "sexuelles",
    "drugs",
    "?",
    "le",
    "la",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_never_raises_on_word_salad(words: list[str]) -> None:
    result = understand(" ".join(words))
    for call in result.calls:
        assert call.name in {
            "get_history",
            "forecast",
            "compare_regions",
            "model_metrics",
            "list_regions",
            "list_indicators",
        }
        horizon = call.arguments.get("horizon")
        assert horizon is None or 1 <= horizon <= max_horizon(2025)
        year = call.arguments.get("year")
        assert year is None or FIRST_YEAR <= year <= LAST_FORECAST_YEAR


def test_unknown_place_falls_back_to_france_and_says_so() -> None:
    result = understand("Cambriolages à Atlantis")
    assert result.calls[0].arguments["area"] == "France"
    assert any("Atlantis" in note for note in result.notes)
    assert not understand("Cambriolages en Bretagne").notes


@pytest.mark.parametrize(
    ("question", "area", "level"),
    [("Cambriolages en Bretgane", "Bretagne", "region"),
     ("Burglaries in Brittanny", "Bretagne", "region"),
     ("Cambriolages en Gironnde", "Gironde", "department")],
)
def test_misspelt_place_is_read_as_the_closest_area_and_says_so(
    question: str, area: str, level: str
) -> None:
    result = understand(question)
    assert [(c.name, c.arguments["area"], c.arguments["level"]) for c in result.calls] == [
        ("get_history", area, level)]
    assert any(area in note for note in result.notes)


def test_ranking_since_a_year_ranks_the_latest_year() -> None:
    calls = plan("Compare burglaries in Brittany and Normandy since 2016")
    assert calls[0] == ToolCall("compare_regions", {
        "indicator": "burglary", "level": "region", "areas": ["Bretagne", "Normandie"],
        "measure": RATE})
    assert [c.arguments.get("start_year") for c in calls[1:]] == [2016, 2016]


# -- Indicator words: the catalogue's aliases, plus the chat's own few --------------------------


def _unambiguous_aliases() -> list[tuple[str, str]]:
    from collections import defaultdict

    from oasis_mcp.data.indicators import catalog
    from oasis_mcp.data.lookup import stem
    from oasis_mcp.text import fold

    owners: dict[str, set[str]] = defaultdict(set)
    for ind in catalog():
        for alias in ind.aliases:
            owners[" ".join(stem(w) for w in fold(alias).split())].add(ind.slug)
    return [(alias, ind.slug) for ind in catalog() for alias in ind.aliases
            if len(owners[" ".join(stem(w) for w in fold(alias).split())]) == 1]


@pytest.mark.parametrize(("alias", "slug"), _unambiguous_aliases())
def test_every_catalogue_alias_is_understood(alias: str, slug: str) -> None:
    """A word taught to the catalogue (for the tools) is known to the chat without more."""
    assert plan(f"{alias} en Bretagne") == [ToolCall("get_history", {
        "area": "Bretagne", "indicator": slug, "level": "region"})]


def test_the_chat_phrases_are_not_catalogue_aliases_again() -> None:
    from oasis_app.planner.vocabulary import CHAT_INDICATOR_PHRASES, catalog_phrases, stemmed

    catalogue = catalog_phrases()
    for label, phrases in CHAT_INDICATOR_PHRASES.items():
        for phrase in phrases:
            assert stemmed(phrase) not in catalogue, (phrase, label)


@pytest.mark.parametrize(
    ("question", "slug"),
    [("cambrioleur à Rennes", "burglary"), ("vol de moto en Corse", "vehicle-theft"),
     ("Vols dans les voitures en Corse", "theft-from-vehicle"),
     ("vol avec violence en Corse", "violent-theft-unarmed"),
     ("thefts with weapons in Corsica", "armed-robbery"),
     ("narcotics in Corsica", "drug-use"), ("véhicules volés en Corse", "vehicle-theft")],
)
def test_singular_and_plural_forms_are_both_read(question: str, slug: str) -> None:
    assert [c.arguments["indicator"] for c in plan(question)] == [slug]


# -- Follow-ups ---------------------------------------------------------------------------------

HISTORY_EN = "How have burglaries evolved in Brittany?"
HISTORY_FR = "Évolution des cambriolages en Bretagne depuis 2016"
FORECAST_EN = "Forecast burglaries in Brittany until 2028"
FORECAST_FR = "Prévision des cambriolages en Bretagne jusqu'en 2028"
BZH, NORMANDY = H("Bretagne", "burglary", "region"), H("Normandie", "burglary", "region")
BZH_2016 = H("Bretagne", "burglary", "region", start_year=2016)
NORMANDY_2016 = H("Normandie", "burglary", "region", start_year=2016)
BZH_F = F("Bretagne", "burglary", "region", horizon=3)
NORMANDY_F = F("Normandie", "burglary", "region", horizon=3)
BOTH = ["Bretagne", "Normandie"]

# (earlier questions, follow-up, expected calls of the follow-up)
FOLLOW_UPS: list[tuple[list[str], str, list[Call]]] = [
    # A place alone switches to it: same indicator, same kind of question.
    ([HISTORY_EN], "and in Normandy?", [NORMANDY]),
    ([HISTORY_FR], "et en Normandie ?", [NORMANDY_2016]),
    ([HISTORY_EN], "what about Occitanie?", [H("Occitanie", "burglary", "region")]),
    ([HISTORY_EN], "and for Paris?", [H("Paris", "burglary", "department")]),
    ([HISTORY_FR], "et pour le Nord ?", [H("Nord", "burglary", "department", start_year=2016)]),
    ([HISTORY_EN], "Normandy?", [NORMANDY]),
    ([HISTORY_EN], "and in France?", [H("France", "burglary", "country")]),
    ([FORECAST_EN], "and in Normandy?", [NORMANDY, NORMANDY_F]),
    ([FORECAST_FR], "et en Normandie ?", [NORMANDY, NORMANDY_F]),
    ([FORECAST_EN], "what about Occitanie?",
     [H("Occitanie", "burglary", "region"), F("Occitanie", "burglary", "region", horizon=3)]),
    ([FORECAST_FR], "et pour le Nord ?",
     [H("Nord", "burglary", "department"), F("Nord", "burglary", "department", horizon=3)]),
    # Asking to compare adds the place.
    ([HISTORY_EN], "compare with Normandy",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH, NORMANDY]),
    ([HISTORY_EN], "compared to Normandy",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH, NORMANDY]),
    ([HISTORY_EN], "Brittany vs Normandy",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH, NORMANDY]),
    ([HISTORY_FR], "et par rapport à la Normandie ?",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH_2016, NORMANDY_2016]),
    ([HISTORY_FR], "comparer avec la Normandie",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH_2016, NORMANDY_2016]),
    ([FORECAST_EN], "compared to Normandy", [BZH, BZH_F, NORMANDY, NORMANDY_F]),
    ([FORECAST_EN], "Brittany vs Normandy", [BZH, BZH_F, NORMANDY, NORMANDY_F]),
    ([FORECAST_FR], "et par rapport à la Normandie ?", [BZH, BZH_F, NORMANDY, NORMANDY_F]),
    ([FORECAST_FR], "comparer avec la Normandie", [BZH, BZH_F, NORMANDY, NORMANDY_F]),
    # An indicator switches the indicator, for the same place.
    ([HISTORY_FR], "et les violences sexuelles ?",
     [H("Bretagne", "sexual-violence", "region", start_year=2016)]),
    ([FORECAST_EN], "and sexual violence?",
     [H("Bretagne", "sexual-violence", "region"),
      F("Bretagne", "sexual-violence", "region", horizon=3)]),
    ([HISTORY_EN], "also sexual violence",
     [BZH, H("Bretagne", "sexual-violence", "region")]),
    # A year: history becomes a forecast (and back), the history's start is kept.
    ([HISTORY_EN], "and in 2030?", [BZH, F("Bretagne", "burglary", "region", horizon=5)]),
    ([HISTORY_FR], "et en 2030 ?", [BZH_2016, F("Bretagne", "burglary", "region", horizon=5)]),
    ([FORECAST_EN], "and in 2022?", [H("Bretagne", "burglary", "region", start_year=2022,
                                        end_year=2022)]),
    ([HISTORY_EN], "what about the forecast?", [BZH, F("Bretagne", "burglary", "region")]),
    # A level: the departments of the region asked about, the region of a department, or all.
    ([HISTORY_EN], "and the departments?",
     [C("burglary", "department",
        areas=["Côtes-d'Armor", "Finistère", "Ille-et-Vilaine", "Morbihan"], measure=RATE)]),
    ([HISTORY_FR], "et les départements ?",
     [C("burglary", "department",
        areas=["Côtes-d'Armor", "Finistère", "Ille-et-Vilaine", "Morbihan"], measure=RATE)]),
    (["Cambriolages dans le département du Nord"], "et dans la région ?",
     [H("Hauts-de-France", "burglary", "region")]),
    ([HISTORY_EN], "and the regions?", [C("burglary", "region", measure=RATE)]),
    # Follow-ups of other kinds of question keep their kind.
    (["Which region has the most burglaries in 2024?"], "and sexual violence?",
     [C("sexual-violence", "region", year=2024, measure=RATE),
      C("sexual-violence", "region", year=2024, measure=COUNT)]),
    (["Which region has the most burglaries in 2024?"], "and the departments?",
     [C("burglary", "department", year=2024, measure=RATE),
      C("burglary", "department", year=2024, measure=COUNT)]),
    (["Compare burglaries in Brittany and Normandy"], "and sexual violence?",
     [C("sexual-violence", "region", areas=BOTH, measure=RATE),
      H("Bretagne", "sexual-violence", "region"), H("Normandie", "sexual-violence", "region")]),
    (["Liste des départements de Bretagne"], "et en Normandie ?",
     [L(level="department", region="Normandie")]),
    (["How accurate are your forecasts?"], "and for departments?", [M(level="department")]),
    (["How accurate are the forecasts?"], "and for departments?", [M(level="department")]),
    # A follow-up naming only a kind of answer, or opening with "contre" (against).
    (["Which region has the most burglaries in 2024?"], "and the lowest?",
     [C("burglary", "region", year=2024, measure=RATE)]),
    ([HISTORY_FR], "contre la Normandie ?",
     [C("burglary", "region", areas=BOTH, measure=RATE), BZH_2016, NORMANDY_2016]),
    # A chain of follow-ups.
    ([HISTORY_EN, "and in Normandy?", "and in 2030?"], "and sexual violence?",
     [H("Normandie", "sexual-violence", "region"),
      F("Normandie", "sexual-violence", "region", horizon=5)]),
]


@pytest.mark.parametrize(("previous", "question", "expected"), FOLLOW_UPS,
                         ids=[f"{p[-1][:25]}|{q}" for p, q, _ in FOLLOW_UPS])
def test_follow_up(previous: list[str], question: str, expected: list[Call]) -> None:
    result = follow_up(question, previous)
    assert result is not None and result.question == question
    assert [(c.name, c.arguments) for c in result.calls] == expected


@pytest.mark.parametrize(
    ("previous", "question", "language"),
    [([HISTORY_EN], "et en Normandie ?", "fr"), ([HISTORY_FR], "and in Normandy?", "en"),
     ([HISTORY_FR], "Normandie ?", "fr"), ([HISTORY_EN], "Brittany vs Normandy", "en")],
)
def test_follow_up_answers_in_the_language_it_is_asked_in(
    previous: list[str], question: str, language: str
) -> None:
    result = follow_up(question, previous)
    assert result is not None and result.language == language


@pytest.mark.parametrize(("question", "word"), [("and violence?", "violence"),
                                                ("et les vols ?", "vols")])
def test_follow_up_with_a_broad_word_asks_which_indicator_for_the_same_place(
    question: str, word: str
) -> None:
    result = follow_up(question, [HISTORY_EN])
    assert result is not None and (result.intent, result.calls) == ("clarify", [])
    assert word in result.message
    assert result.suggestions and all("Bretagne" in s for s in result.suggestions)
    assert all(plan(s) for s in result.suggestions)


def test_follow_up_to_an_unknown_place_does_not_keep_the_earlier_one() -> None:
    result = follow_up("and in Atlantis?", [HISTORY_EN])
    assert result is not None
    assert [c.arguments["area"] for c in result.calls] == ["France"]
    assert any("Atlantis" in note for note in result.notes)


@pytest.mark.parametrize(
    ("previous", "question"),
    [([], "and in Normandy?"),  # nothing to follow
     ([HISTORY_EN], "Cambriolages en Corse"),  # a question of its own
     (["Sexual violence in Occitanie"], "Compare burglaries in Brittany and Normandy"),
     ([HISTORY_EN], "Bonjour"),
     ([HISTORY_EN], "What is the population of Bretagne?"),
     ([HISTORY_EN], "What's the weather in Lyon?"),
     (["Who won the world cup?"], "and in Normandy?"),  # nothing answerable either way
     # "Où" (where) folds to "ou" (or): a question of its own, accented or not.
     (["Cambriolages en Bretagne"], "Où sont les homicides ?"),
     (["Cambriolages en Bretagne"], "Où le plus d'homicides ?"),
     (["Cambriolages en Bretagne"], "Ou sont les pires départements ?")],
)
def test_not_a_follow_up(previous: list[str], question: str) -> None:
    assert follow_up(question, previous) is None


@pytest.mark.parametrize(
    ("question", "intent", "calls"),
    [("and the models?", "models", [M()]),
     ("et quel est le meilleur modèle ?", "models", [M()]),
     ("and how accurate are they?", "models", [M()]),
     ("Contre quoi lutte la police ?", "out_of_scope", []),  # 'contre': a comparison opener
     ("and hello", "help", []),
     ("et alors ?", "out_of_scope", [])],
)
def test_a_question_complete_alone_is_not_hijacked_by_the_one_before(
    question: str, intent: str, calls: list[Call]
) -> None:
    for previous in (["Cambriolages en Bretagne"], [HISTORY_EN], [FORECAST_FR]):
        assert follow_up(question, previous) is None, previous
    alone = understand(question)
    assert alone.intent == intent
    assert [(c.name, c.arguments) for c in alone.calls] == calls


@pytest.mark.parametrize("question", ["Où sont les homicides ?", "Où le plus d'homicides ?",
                                      "OÙ sont les homicides ?", "Ou sont les homicides ?"])
def test_where_is_read_alone_as_a_national_ranking(question: str) -> None:
    assert follow_up(question, ["Cambriolages en Bretagne"]) is None
    most = [C("homicide", "region", measure=COUNT)] if "le plus" in question else []  # a number
    assert [(c.name, c.arguments) for c in plan(question)] == [
        C("homicide", "region", measure=RATE), *most]


@pytest.mark.parametrize(("question", "expected"), [
    ("ou en Normandie ?", [H("Normandie", "burglary", "region")]),
    ("or in Normandy?", [NORMANDY]),
    ("ou les violences sexuelles ?", [H("Bretagne", "sexual-violence", "region")]),
    ("or sexual violence?", [H("Bretagne", "sexual-violence", "region")]),
])
def test_or_still_opens_a_follow_up(question: str, expected: list[Call]) -> None:
    result = follow_up(question, [HISTORY_EN])
    assert result is not None
    assert [(c.name, c.arguments) for c in result.calls] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=6), st.lists(st.text(max_size=60), max_size=3))
def test_follow_up_never_raises(words: list[str], previous: list[str]) -> None:
    result = follow_up(" ".join(["and", *words]), [*previous, HISTORY_EN])
    assert result is None or result.calls or result.message


@pytest.mark.parametrize(("question", "expected"), [
    ("Cambriolages 75", [H("Paris", "burglary", "department")]),
    ("cambriolages 01", [H("Ain", "burglary", "department")]),
    ("Homicides 2B", [H("Haute-Corse", "homicide", "department")]),
    ("Vols de véhicules 974", [H("La Réunion", "vehicle-theft", "department")]),
    ("burglary rate in region 75", [H("Nouvelle-Aquitaine", "burglary", "region")]),
    ("Cambriolages région 84", [H("Auvergne-Rhône-Alpes", "burglary", "region")]),
    ("Cambriolages région 13", [H("Bouches-du-Rhône", "burglary", "department")]),
])
def test_a_bare_department_code_is_that_department(question: str, expected: list[Call]) -> None:
    assert [(c.name, c.arguments) for c in plan(question)] == expected


@pytest.mark.parametrize("question", [
    "Top 10 des départements pour les cambriolages",
    "Cambriolages en Bretagne dans 10 ans",
    "Cambriolages en Bretagne sur les 10 dernières années",
    "Forecast burglaries in Brittany for the next 5 years",
])
def test_numbers_that_are_not_codes_stay_numbers(question: str) -> None:
    assert not any(c.arguments.get("area") in ("Yvelines", "Landes", "Finistère")  # 78, 40, 29
                   or (c.arguments.get("level") == "department" and "Bretagne" in question)
                   for c in plan(question))


def test_a_former_region_is_read_as_its_current_region_with_a_note() -> None:
    result = understand("Cambriolages en Alsace")
    assert [(c.name, c.arguments) for c in result.calls] == [H("Grand Est", "burglary", "region")]
    assert any("Alsace" in n and "Grand Est" in n for n in result.notes)
    assert not any("connais" in n for n in result.notes)
    result = understand("Burglaries in Picardy")
    assert [c.arguments["area"] for c in result.calls] == ["Hauts-de-France"]
    assert any("Picardie" in n and "Hauts-de-France" in n for n in result.notes)


def test_a_year_before_the_data_says_they_start_in_2016() -> None:
    result = understand("Cambriolages en Bretagne en 2012")
    assert any("2016" in n for n in result.notes)
    result = understand("Burglaries in Brittany in 2012")
    assert any("2016" in n for n in result.notes)
    assert not understand("Cambriolages en Bretagne en 2020").notes


@pytest.mark.parametrize(("question", "expected"), [
    ("Cambriolages dans les Hauts-de-Seine en 2021 et 2022",
     [H("Hauts-de-Seine", "burglary", "department", start_year=2021, end_year=2022)]),
    ("Burglaries in Brittany in 2019 and 2023",
     [H("Bretagne", "burglary", "region", start_year=2019, end_year=2023)]),
])
def test_two_years_give_both(question: str, expected: list[Call]) -> None:
    assert [(c.name, c.arguments) for c in plan(question)] == expected


@pytest.mark.parametrize(("previous", "question", "expected"), [
    (["Burglaries in Brittany since 2016"], "which region is worst?",
     [C("burglary", "region", measure=RATE)]),
    (["Burglaries in Brittany since 2016", "which region is worst?"], "and the departments?",
     [C("burglary", "department", measure=RATE)]),
    (["Cambriolages en Bretagne"], "quelle région est la pire ?",
     [C("burglary", "region", measure=RATE)]),
    (["Cambriolages en Bretagne"], "où est-ce le pire ?", [C("burglary", "region", measure=RATE)]),
    (["Homicides dans le Nord"], "Quelle est la région la plus sûre ?",
     [C("homicide", "region", measure=RATE)]),
])
def test_worst_or_safest_ranks_on_the_indicator_asked_before(
    previous: list[str], question: str, expected: list[Call]
) -> None:
    result = follow_up(question, previous)
    assert result is not None and result.intent == "ranking"
    assert [(c.name, c.arguments) for c in result.calls] == expected
    safest = "sûre" in question
    assert result.extremum == ("min" if safest else "max")


@pytest.mark.parametrize("question", ["which region is worst?", "quelle région est la pire ?",
                                      "Quelle est la région la plus sûre ?",
                                      "où est-ce le pire ?"])
def test_worst_or_safest_alone_asks_which_indicator(question: str) -> None:
    result = understand(question)
    assert result.intent == "clarify" and not result.calls
    assert follow_up(question, []) is None


@pytest.mark.parametrize(("question", "expected"), [
    ("Which department had the most burglaries",
     [C("burglary", "department", measure=RATE), C("burglary", "department", measure="count")]),
    ("Quelle région a le plus de violences sexuelles en 2024 ?",
     [C("sexual-violence", "region", year=2024, measure=RATE),
      C("sexual-violence", "region", year=2024, measure="count")]),
    ("Which region has the highest burglary rate?", [C("burglary", "region", measure=RATE)]),
    ("Which region has the fewest burglaries?", [C("burglary", "region", measure=RATE)]),
])
def test_most_also_ranks_by_count(question: str, expected: list[Call]) -> None:
    assert [(c.name, c.arguments) for c in plan(question)] == expected


# ---------------------------------------------------------------------------------------------
# Issue 12: never a silent substitution. The six cases, through the planner and through the chat
# (the real server, in process, on the real data).

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

from oasis_app.answers import num  # noqa: E402
from oasis_app.bridge import MCPBridge  # noqa: E402
from oasis_app.chat import ChatEngine, ChatTurn  # noqa: E402
from oasis_mcp.data import geography  # noqa: E402
from oasis_mcp.data.lookup import UnknownNameError  # noqa: E402
from oasis_mcp.server import create_server  # noqa: E402

DEP_2024 = "donnee-dep-data.gouv-2024-geographie2024-produit-le2025-01-26.csv"
REG_2024 = "donnee-reg-data.gouv-2024-geographie2024-produit-le2025-01-26.csv"


@pytest.fixture(scope="module")
def engine(edition_2025_dir: Path) -> Iterator[ChatEngine]:
    bridge = MCPBridge(lambda: create_server(edition_2025_dir)).start()
    yield ChatEngine(bridge, last_year=2025)
    bridge.close()


def _calls(turn: ChatTurn) -> list[tuple[str, dict[str, object]]]:
    return [(o.name, dict(o.arguments)) for o in turn.steps]


def test_a_lowercase_typo_is_read_as_the_area_the_server_suggests_and_said(
        engine: ChatEngine) -> None:
    with pytest.raises(UnknownNameError) as server_says:
        geography.resolve_area("bretange")
    assert "Did you mean: Bretagne" in str(server_says.value)  # the data layer's own suggestion
    turn = engine.ask("cambriolage en bretange")
    assert _calls(turn) == [("get_history", {"area": "Bretagne", "indicator": "burglary",
                                             "level": "region"})]
    assert turn.steps[0].ok
    assert "« bretange »" in turn.text and "vouliez-vous dire Bretagne ?" in turn.text
    assert turn.language == "fr"


def test_a_city_is_read_as_its_department_and_said(engine: ChatEngine) -> None:
    turn = engine.ask("cambriolages à Tours")
    assert _calls(turn) == [("get_history", {"area": "Indre-et-Loire", "indicator": "burglary",
                                             "level": "department"})]
    assert "Tours est une ville" in turn.text and "Indre-et-Loire" in turn.text


def test_a_5000_character_paste_is_read_whole_and_the_answer_says_what_it_answered(
        engine: ChatEngine) -> None:
    filler = ("Je prépare un dossier pour le conseil municipal sur la tranquillité publique et "
              "je voudrais des chiffres officiels plutôt que des impressions. ")
    question = "Ma question : combien de vols de véhicules dans le Nord en 2023 ?"
    paste = (filler * 40)[: 5000 - len(question)] + question
    assert len(paste) == 5000
    turn = engine.ask(paste)
    assert _calls(turn) == [("get_history", {
        "area": "Nord", "indicator": "vehicle-theft", "level": "department",
        "start_year": 2023, "end_year": 2023})]
    assert "Message long (5\u202f000 caractères, lu en entier)" in turn.text
    assert question in turn.text


def test_a_paste_beyond_the_limit_says_what_was_cut() -> None:
    from oasis_app.planner import MAX_QUESTION_CHARS

    text = "Burglaries in Brittany? " + "and so on " * (MAX_QUESTION_CHARS // 5)
    result = understand(text)
    assert result.calls[0].arguments["area"] == "Bretagne"
    assert any("the rest was cut" in n and "only the first 20,000 were read" in n
               for n in result.notes), result.notes


@pytest.mark.parametrize("question", ["Quelle commune a le plus de cambriolages ?",
                                      "Which town has the most burglaries?"])
def test_a_commune_ranking_says_what_the_data_offer(engine: ChatEngine, question: str) -> None:
    turn = engine.ask(question)
    calls = _calls(turn)
    if engine.communes:
        assert calls and all(args.get("level") == "commune" for _, args in calls)
        return
    assert calls and all(name == "compare_regions" and args["level"] == "department"
                         for name, args in calls)
    note = "Les chiffres par commune ne sont pas servis" if turn.language == "fr" else \
        "Figures by commune (town) are not served"
    assert note in turn.text and ("départements" in turn.text or "departments" in turn.text)


def test_a_commune_by_name_is_not_answered_with_france_silently(engine: ChatEngine) -> None:
    if engine.communes:
        pytest.skip("communes are served: answered by the commune tools")
    turn = engine.ask("Cambriolages dans la commune de Vannes")
    assert turn.steps == []
    assert "Les chiffres par commune (Vannes) ne sont pas servis" in turn.text


def test_reliability_is_answered_with_the_indicator_own_backtest_figures(
        engine: ChatEngine) -> None:
    turn = engine.ask("How reliable is your forecast for drug use in Paris?")
    forecast = next(o for o in turn.steps if o.name == "forecast")
    assert forecast.ok and forecast.arguments["indicator"] == "drug-use"
    model = forecast.data["model"]  # type: ignore[index]
    assert model["indicator_mase"] is not None and model["indicator_mase"] != model["mase"]
    lead = turn.text.split("\n")[0]
    assert lead.startswith("Reliability of the forecast — Drug use, Paris")
    own = f"an average error of {num(model['indicator_mase'], 'en', 2)} times"
    assert own in lead  # the indicator's own figure leads, in plain words ...
    assert lead.index(own) < lead.index(f"MASE {num(model['mase'], 'en', 2)}")  # ... level beside
    assert f"{num(model['indicator_coverage_80'] * 100, 'en', 0)}% of actual values" in lead
    assert turn.language == "en"


@pytest.fixture(scope="module")
def edition_2024_dir(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("edition-2024")
    for name in (DEP_2024, REG_2024):
        (directory / name).symlink_to(real_data_dir / name)
    return directory


@pytest.mark.parametrize(("trained_to", "horizon"), [(2024, 6), (2025, 5)])
def test_until_2030_with_a_2024_edition_takes_the_horizon_from_the_artifacts(
        edition_2024_dir: Path, edition_2025_dir: Path, tmp_path: Path,
        trained_to: int, horizon: int) -> None:
    """"until 2030" is 2030 minus the last year the forecasts were trained on: 6 with a 2024
    edition and forecasts trained on it, 5 when the forecasts were trained on 2025 data. Either
    way the forecast reaches 2030, and nothing says forecasts stop at 2029."""
    from oasis_mcp.data.dataset import load_dataset
    from tests import synthetic_artifacts as synthetic

    trained_on = edition_2024_dir if trained_to == 2024 else edition_2025_dir
    art = synthetic.write_synthetic_artifacts(tmp_path / "art", load_dataset(trained_on))
    with MCPBridge(lambda: create_server(edition_2024_dir, art)) as bridge:
        engine = ChatEngine(bridge, last_year=2024)
        turn = engine.ask("Cambriolages en Bretagne jusqu'en 2030")
    forecast = next(o for o in turn.steps if o.name == "forecast")
    assert forecast.arguments["horizon"] == horizon
    assert forecast.ok, forecast.error
    assert forecast.data["forecasts"][-1]["year"] == 2030  # type: ignore[index]
    assert "2029" not in turn.text and "Prévision 2030 pour Bretagne" in turn.text


def test_two_indicators_are_both_called() -> None:
    calls = plan("Cambriolages et vols de véhicules en Bretagne")
    assert [(c.name, c.arguments["indicator"]) for c in calls] == [
        ("get_history", "burglary"), ("get_history", "vehicle-theft")]
    calls = plan("Prévision du trafic et de l'usage de stupéfiants à Paris jusqu'en 2030")
    assert sorted({c.arguments["indicator"] for c in calls}) == ["drug-trafficking", "drug-use"]


def test_answers_in_the_question_language_with_its_number_format(engine: ChatEngine) -> None:
    fr = engine.ask("Cambriolages dans le Nord en 2024")
    data = fr.steps[0].data
    assert data is not None
    point = data["points"][-1]
    rate = point["rate_per_100k"]
    assert f"{num(point['count'], 'fr', 0)} en 2024" in fr.text and "\u202f" in num(
        point["count"], "fr", 0)
    # The rate per 100,000 and, beside it, per 1,000 as SSMSI publishes it, French-formatted.
    assert f"{num(rate, 'fr')} pour 100 000 logements ; {num(rate / 100, 'fr', 2)} pour 1 000" \
        in fr.text
    assert "," in num(rate, "fr")
    en = engine.ask("Burglaries in the Nord in 2024")
    assert f"{num(rate, 'en')} per 100,000 dwellings; {num(rate / 100, 'en', 2)} per 1,000" \
        in en.text
    assert en.language == "en" and fr.language == "fr"


# Once the tools serve communes (the server's find_area searches them), the chat reads them there.

@pytest.mark.parametrize(("question", "expected"), [
    ("Quelle commune a le plus de cambriolages ?",
     [C("burglary", "commune", measure=RATE), C("burglary", "commune", measure=COUNT)]),
    ("Quelles communes du Finistère ont le plus de cambriolages ?",
     [C("burglary", "commune", within="Finistère", measure=RATE),
      C("burglary", "commune", within="Finistère", measure=COUNT)]),
    ("Classement des villes de Bretagne pour les vols de véhicules en 2024",
     [C("vehicle-theft", "commune", year=2024, within="Bretagne", measure=RATE)]),
    ("cambriolages à Tours", [H("Tours (37)", "burglary", "commune")]),
    ("Cambriolages dans la commune de Vannes depuis 2018",
     [H("Vannes", "burglary", "commune", start_year=2018)]),
    ("Burglaries in Quimper", [H("Quimper", "burglary", "commune")]),
    ("Cambriolages en Bretagne", [H("Bretagne", "burglary", "region")]),
    ("Cambriolages dans le Finistère", [H("Finistère", "burglary", "department")]),
])
def test_with_communes_served_towns_are_read_as_communes(
        question: str, expected: list[Call]) -> None:
    result = understand(question, communes=True)
    assert [(c.name, c.arguments) for c in result.calls] == expected
    assert not any("ne sont pas servis" in n or "not served" in n for n in result.notes)


def test_without_communes_served_a_commune_ranking_is_a_department_ranking_said() -> None:
    result = understand("Quelle commune a le plus de cambriolages ?", communes=False)
    assert {c.arguments["level"] for c in result.calls} == {"department"}
    assert any("Les chiffres par commune ne sont pas servis" in n for n in result.notes)


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=401, max_size=3000))
def test_long_text_never_raises(text: str) -> None:
    result = understand(text)
    assert isinstance(result, Plan)
    assert result.notes or result.message or not result.calls


def test_the_held_out_evaluation_is_well_formed() -> None:
    """The held-out cases (benchmarks/planner_heldout.jsonl) are kept apart from the cases above;
    this only checks their form, and the benchmark's judge on a case it must reject."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_planner.py"
    spec = importlib.util.spec_from_file_location("bench_planner", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cases = bench.load(bench.DEFAULT_CASES)
    assert len(cases) >= 150
    assert {c["lang"] for c in cases} == {"fr", "en"}
    assert all(c["expect"] and c["question"] for c in cases)
    bretange = next(c for c in cases if c["question"] == "cambriolage en bretange")
    france = [("get_history", {"area": "France", "indicator": "burglary", "level": "country"})]
    assert not any(bench.judge(alt, france, "…") for alt in bretange["expect"])
    right = [("get_history", {"area": "Bretagne", "indicator": "burglary", "level": "region"})]
    assert any(bench.judge(alt, right, "« bretange » … Bretagne") for alt in bretange["expect"])


def test_with_a_communal_file_the_chat_answers_communes_through_the_commune_tools(
        real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A synthetic communal file (tests/commune_synthetic.py, from the real departmental file and
    the real commune referential) beside the real 2025 file: the server's find_area searches
    communes, and the chat reads towns and commune rankings at level commune."""
    from tests.commune_synthetic import DEP_2025 as COMMUNE_DEP
    from tests.commune_synthetic import make_commune_file

    if not (real_data_dir / "cog" / "communes.json").is_file():
        pytest.skip("needs the commune referential in the shared data")
    monkeypatch.setenv("OASIS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "data"
    root.mkdir()
    (root / COMMUNE_DEP).symlink_to(real_data_dir / COMMUNE_DEP)
    (root / "cog").symlink_to(real_data_dir / "cog")
    make_commune_file(root, ("37", "29", "56"), max_communes_per_department=30, seed=1)
    with MCPBridge(lambda: create_server(root)) as bridge:
        engine = ChatEngine(bridge, last_year=2025)
        assert engine.communes
        tours = engine.ask("cambriolages à Tours")
        ranking = engine.ask("Quelles communes du Finistère ont le plus de cambriolages ?")
        vannes = engine.ask("Cambriolages dans la commune de Vannes")
    assert _calls(tours) == [("get_history", {"area": "Tours (37)", "indicator": "burglary",
                                              "level": "commune"})]
    assert tours.steps[0].ok and "Cambriolages de logement — Tours :" in tours.text
    assert "Chiffres communaux" in tours.text and "ne sont pas servis" not in tours.text
    first = ranking.steps[0]
    assert (first.name, first.arguments["level"], first.arguments["within"]) == (
        "compare_regions", "commune", "Finistère")
    assert first.ok and first.data is not None
    leader = first.data["ranking"][0]["name"]
    assert f"taux le plus élevé par commune : {leader}" in ranking.text
    assert "Finistère : " in ranking.text and "France entière" not in ranking.text
    assert _calls(vannes)[0][1]["level"] == "commune" and vannes.steps[0].ok
