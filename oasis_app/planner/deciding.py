"""From a reading to the tool calls: model quality, lists, rankings, comparisons, histories and
forecasts, with the notes that say what was read otherwise."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

from oasis_app.planner.calls import Intent, Plan, ToolCall
from oasis_app.planner.messages import (
    clarify_indicator,
    commune_note,
    commune_plan,
    help_plan,
    say,
)
from oasis_app.planner.reading import (
    Reading,
    close_area,
    has,
    misspelt_place,
    read,
    unknown_place,
)
from oasis_app.planner.vocabulary import (
    ACCURACY_WORDS,
    COMMUNE_RANKING_WORDS,
    COMMUNE_WORDS,
    COMPARE_WORDS,
    COUNT_WORDS,
    DEFAULT_LAST_YEAR,
    FORECAST_WORDS,
    HELP_WORDS,
    INDICATOR_LIST_WORDS,
    JOIN_AREA_WORDS,
    LIST_WORDS,
    LONG_QUESTION_CHARS,
    MAX_AREAS,
    MAX_QUESTION_CHARS,
    MIN_WORDS,
    MODELS_WORDS,
    MOST_WORDS,
    OFF_TOPIC_WORDS,
    RANKING_WORDS,
    RATE_WORDS,
    SUPERLATIVE_WORDS,
    AreaEntry,
    data_tables,
    indicator_argument,
)
from oasis_mcp.data.coverage import FIRST_YEAR, LAST_FORECAST_YEAR, max_horizon
from oasis_mcp.text import fold


def understand(
    question: str, *, last_year: int = DEFAULT_LAST_YEAR, forecast_from: int | None = None,
    communes: bool = False,
) -> Plan:
    """Read ``question`` and decide which tools to call. Never raises on text."""
    if not isinstance(question, str) or not fold(question[:MAX_QUESTION_CHARS]):
        return help_plan(question if isinstance(question, str) else "", "en", intent="help")
    if len(question) > LONG_QUESTION_CHARS:
        return _long(question, last_year, forecast_from, communes)
    return decide(question, read(question, last_year), last_year, forecast_from, communes)


_SENTENCE_END = re.compile(r"(?<=[.?!…])\s+|\n+")


def _pieces(sentence: str, size: int = 600) -> list[str]:
    """A sentence cut at spaces into pieces of at most about ``size`` characters (a paste
    without punctuation is still read piece by piece)."""
    pieces: list[str] = []
    while len(sentence) > size:
        cut = sentence.rfind(" ", 0, size)
        cut = cut if cut > 0 else size
        pieces.append(sentence[:cut])
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def _long(question: str, last_year: int, forecast_from: int | None, communes: bool) -> Plan:
    """A long paste: the whole text is read sentence by sentence, and the question asked is the
    sentence that names an indicator (or a broad word for one), a question mark first, the last
    first; the answer says which sentence it answered (and what was cut beyond
    MAX_QUESTION_CHARS)."""
    text = question[:MAX_QUESTION_CHARS]
    sentences = [piece for part in _SENTENCE_END.split(text) if part and part.strip()
                 for piece in _pieces(part.strip())]
    readings: dict[str, Reading] = {}
    best: tuple[tuple[bool, bool, bool, int], str] | None = None
    for index, sentence in enumerate(sentences):
        if sentence not in readings:
            readings[sentence] = read(sentence, last_year)
        r = readings[sentence]
        key = (bool(r.indicators or r.ambiguous), bool(r.areas or r.country),
               sentence.endswith("?"), index)
        if best is None or key > best[0]:
            best = (key, sentence)
    if best is None:
        return help_plan(question, "en", intent="help")
    chosen = best[1]
    result = decide(chosen, readings[chosen], last_year, forecast_from, communes)
    shown = chosen if len(chosen) <= 200 else chosen[:200].rsplit(" ", 1)[0] + " …"
    fr = result.language == "fr"

    def count(n: int) -> str:
        return f"{n:,}".replace(",", "\u202f" if fr else ",")

    if len(question) > MAX_QUESTION_CHARS:
        note = say(result.language,
                   f"Message long ({count(len(question))} caractères) : seuls les "
                   f"{count(MAX_QUESTION_CHARS)} premiers ont été lus, le reste a été coupé ; "
                   f"j'ai répondu à la question « {shown} ».",
                   f"Long message ({count(len(question))} characters): only the first "
                   f"{count(MAX_QUESTION_CHARS)} were read, the rest was cut; I answered the "
                   f"question '{shown}'.")
    else:
        note = say(result.language,
                   f"Message long ({count(len(question))} caractères, lu en entier) : j'ai "
                   f"répondu à la question « {shown} ».",
                   f"Long message ({count(len(question))} characters, read whole): I answered "
                   f"the question '{shown}'.")
    if not result.calls:
        message = f"{note}\n\n{result.message}" if result.message else note
        return dataclasses.replace(result, question=question, message=message)
    return dataclasses.replace(result, question=question, notes=[note, *result.notes])


def decide(question: str, r: Reading, last_year: int, forecast_from: int | None = None,
           communes: bool = False) -> Plan:
    """The plan for a reading of ``question`` (its own, or merged with earlier questions').

    ``last_year`` is the last observed year of the data served; ``forecast_from`` the last year of
    the data the forecasts were trained on (the forecast tool counts its horizon from it; default
    ``last_year``): "until 2030" is horizon 2030 − forecast_from, at most to LAST_FORECAST_YEAR.
    ``communes``: whether the tools serve the commune level (the communal file is installed):
    then a city or a commune named is read at that level, and "which commune…" ranks communes.
    """
    base = last_year if forecast_from is None else forecast_from
    t = r.masked
    ind = [indicator_argument(label) for label in r.indicators]
    tables = data_tables()
    notes: list[str] = []
    for city, code in [] if communes else r.cities:
        dep = tables.areas[("department", code)].name
        notes.append(say(
            r.language,
            f"{city} est une ville : les données s'arrêtent au département, voici donc les "
            f"chiffres du département {dep}.",
            f"{city} is a city; the data stop at departments, so these are the figures of the "
            f"{dep} department.",
        ))

    for name, code in r.former:
        region = tables.areas[("region", code)].name
        notes.append(say(
            r.language,
            f"« {name} » est une ancienne région (fusionnée en 2016), aujourd'hui dans la région "
            f"{region} : voici les chiffres de {region}.",
            f"{name} is a former region (merged in 2016), now part of {region}: these are the "
            f"figures for {region}.",
        ))
    early = sorted({y for y in r.years if y < FIRST_YEAR})
    if early:
        notes.append(say(
            r.language,
            f"Les données commencent en {FIRST_YEAR} : rien n'est disponible pour {early[0]}.",
            f"The data start in {FIRST_YEAR}: nothing is available for {early[0]}.",
        ))

    def area_arg(entry: AreaEntry) -> str:
        return entry.name

    # Model quality.
    if has(t, MODELS_WORDS) and not r.areas and (
        not r.indicators or has(t, ("accurate", "accuracy", "fiable", "precis", "precision",
                                     "reliable", "mase", "backtest", "metrics"))
    ):
        level = r.level_word
        return Plan(question, r.language, "models",
                    [ToolCall("model_metrics", {"level": level} if level else {})])

    # Lists.
    if (has(t, INDICATOR_LIST_WORDS) and not r.areas and not r.indicators) and (
        has(t, LIST_WORDS) or len(t.split()) <= 3
    ):
        return Plan(question, r.language, "list_indicators", [ToolCall("list_indicators", {})])
    if not r.indicators and not r.ambiguous and r.level_word and not (
        has(t, SUPERLATIVE_WORDS) and not r.areas
    ) and (has(t, LIST_WORDS) or has(t, ("in", "en", "of", "d", "de", "du")) or not r.areas):
        regions = [a for a in r.areas if a.level == "region"]
        args: dict[str, Any] = {"level": r.level_word}
        if r.level_word == "department" and regions:
            args["region"] = regions[0].name
        return Plan(question, r.language, "list_areas", [ToolCall("list_regions", args)])

    # Help / greetings / out of scope.
    if not r.indicators and not r.areas and r.country is None:
        if r.ambiguous:
            return clarify_indicator(question, r)
        if has(t, SUPERLATIVE_WORDS):  # "which region is worst?": worst for which indicator?
            return clarify_indicator(question, r)
        if has(t, HELP_WORDS):
            return help_plan(question, r.language, intent="help")
        return help_plan(question, r.language, intent="out_of_scope")
    if not r.indicators:
        if not r.ambiguous and has(t, OFF_TOPIC_WORDS):
            return help_plan(question, r.language, intent="out_of_scope")
        return clarify_indicator(question, r)

    measure = "rate_per_100k"
    if has(t, COUNT_WORDS) and not has(t, RATE_WORDS):
        measure = "count"
    extremum: Literal["max", "min"] = "min" if has(t, MIN_WORDS) else "max"
    level = r.level_word
    wants_forecast = has(t, FORECAST_WORDS) or r.horizon is not None or (
        r.target_year is not None and r.target_year > last_year
    ) or (r.end_year is not None and r.end_year > last_year)
    target = r.end_year or r.target_year
    horizon = r.horizon
    if horizon is None and target is not None and target > last_year:
        horizon = target - base
    if horizon is not None and horizon > max_horizon(base):
        notes.append(say(r.language,
                         f"Les prévisions s'arrêtent à {LAST_FORECAST_YEAR}.",
                         f"Forecasts stop at {LAST_FORECAST_YEAR}."))
        horizon = max_horizon(base)
    if horizon is not None and horizon < 1:
        horizon = None

    # Communes: not served until the tools have the level; the finest level served instead, said.
    commune_asked = has(t, COMMUNE_WORDS)
    commune_ranking = commune_asked and (
        has(t, RANKING_WORDS) or has(t, MOST_WORDS) or has(t, COMMUNE_RANKING_WORDS))
    if communes:
        if commune_ranking:  # "Quelle commune a le plus de cambriolages (en Bretagne) ?"
            args = {"indicator": ind[0], "level": "commune"}
            year = _ranking_year(r, last_year)
            if year is not None and year <= last_year:
                args["year"] = year
            if r.areas and r.areas[0].level in ("region", "department"):
                args["within"] = r.areas[0].name
            args["measure"] = measure
            ranking_calls = [ToolCall("compare_regions", args)]
            if measure != "count" and extremum == "max" and has(t, MOST_WORDS) \
                    and not has(t, RATE_WORDS):
                ranking_calls.append(ToolCall("compare_regions", {**args, "measure": "count"}))
            return Plan(question, r.language, "ranking", ranking_calls, measure=measure,
                        extremum=extremum, top_n=r.top_n, notes=notes)
        r = _as_communes(question, r, commune_asked)
    elif commune_asked:
        unknown = unknown_place(question)
        if unknown and not r.areas and not commune_ranking:
            return commune_plan(question, r.language, unknown)
        notes.append(commune_note(r.language, ranking=commune_ranking,
                                  area=r.areas[0].name if r.areas else None))
        if commune_ranking:
            level = "department"

    # Ranking: "which region has the most…", "top 5 departments…".
    within_region = (len(r.areas) == 1 and r.areas[0].level == "region"
                     and level == "department")  # "… in the departments of Occitanie"
    is_ranking = within_region or commune_ranking or (
        (r.ranking or has(t, RANKING_WORDS)) and not r.areas)
    if is_ranking:
        rank_level = level or "region"
        args = {"indicator": ind[0], "level": rank_level}
        year = _ranking_year(r, last_year)
        if year is not None:
            args["year"] = year
        if len(r.areas) == 1 and r.areas[0].level == "region" and rank_level == "department":
            args["areas"] = [tables.areas[("department", c)].name
                             for c in tables.departments_by_region.get(r.areas[0].code, ())]
        args["measure"] = measure
        ranking_calls = [ToolCall("compare_regions", args)]
        if (measure != "count" and extremum == "max" and has(t, MOST_WORDS)
                and not has(t, RATE_WORDS) and not has(t, SUPERLATIVE_WORDS)):
            ranking_calls.append(ToolCall("compare_regions", {**args, "measure": "count"}))
        return Plan(question, r.language, "ranking", ranking_calls,
                    measure=measure, extremum=extremum, top_n=r.top_n, notes=notes)

    areas = r.areas[:MAX_AREAS]
    if areas and r.country and has(t, JOIN_AREA_WORDS):  # "Île-de-France compared with France"
        areas = [*areas, tables.areas[("country", r.country)]][:MAX_AREAS]
    if not areas:
        code = r.country or "FR"
        areas = [tables.areas[("country", code)]]
        unknown = unknown_place(question)
        guess = close_area(unknown, r.level_word) if unknown and r.country is None else None
        if unknown is None and r.country is None:  # "cambriolage en bretange"
            misspelt = misspelt_place(t)
            if misspelt is not None:
                unknown, guess = misspelt
        if guess is not None:
            areas = [guess]
            notes.append(say(
                r.language,
                f"« {unknown} » n'est pas un nom que je connais : j'ai compris {guess.name} "
                f"(vouliez-vous dire {guess.name} ?).",
                f"'{unknown}' is not a name I know: read as {guess.name} (did you mean "
                f"{guess.name}?).",
            ))
        elif unknown and r.country is None:
            notes.append(say(
                r.language,
                f"« {unknown} » n'est pas une région ni un département que je connais (les "
                "chiffres par commune ne sont pas servis) : voici les chiffres de la France "
                "entière.",
                f"'{unknown}' is not a region or department I know (figures by commune are not "
                "served), so here are the figures for France as a whole.",
            ))

    # Comparison of several named areas.
    if len(areas) >= 2 or (has(t, COMPARE_WORDS) and len(areas) >= 2):
        calls: list[ToolCall] = []
        levels = {a.level for a in areas}
        if len(levels) == 1 and not wants_forecast:
            args = {"indicator": ind[0], "level": areas[0].level,
                    "areas": [area_arg(a) for a in areas]}
            year = _ranking_year(r, last_year)
            if year is not None:
                args["year"] = year
            args["measure"] = measure
            calls.append(ToolCall("compare_regions", args))
        for a in areas:
            calls.append(ToolCall(
                "get_history", _history_args(a, ind[0], r, last_year, single_year=False)
            ))
            if wants_forecast:
                calls.append(ToolCall("forecast", _forecast_args(a, ind[0], horizon)))
        return Plan(question, r.language, "compare", calls, measure=measure, notes=notes)

    # One area: forecast or history, for each indicator named (up to three).
    area = areas[0]
    calls = []
    for slug in ind[:3]:
        if wants_forecast:
            calls.append(ToolCall("get_history", _history_args(area, slug, r, last_year)))
            calls.append(ToolCall("forecast", _forecast_args(area, slug, horizon)))
        else:
            calls.append(ToolCall("get_history", _history_args(area, slug, r, last_year)))
    intent: Intent = "forecast" if wants_forecast else "history"
    accuracy = wants_forecast and has(t, ACCURACY_WORDS)
    return Plan(question, r.language, intent, calls, measure=measure, notes=notes,
                accuracy=accuracy)



def _as_communes(question: str, r: Reading, commune_asked: bool) -> Reading:
    """With the commune level served: the cities read as their department become communes
    ("Tours (37)"), and so does a place that is no region or department when the question says
    "commune" or names nothing else ("Cambriolages dans la commune de Vannes")."""
    city_departments = {code for _, code in r.cities}
    areas = [a for a in r.areas
             if not (a.level == "department" and a.code in city_departments)]
    found = [AreaEntry("commune", f"{name} ({code})", f"{name} ({code})", None)
             for name, code in r.cities]
    unknown = unknown_place(question)
    if unknown and (commune_asked or not r.areas) and r.country is None:
        found.append(AreaEntry("commune", unknown, unknown, None))
    if not found:
        return r
    return dataclasses.replace(r, areas=[*found, *areas], cities=[])


def _ranking_year(r: Reading, last_year: int) -> int | None:
    # "since 2016" alone is not the year to rank: that is the latest (the tool's default).
    year = r.target_year or r.end_year or next(
        (y for y in reversed(r.years) if y != r.start_year), None)
    if year is None and r.horizon:
        year = last_year + min(r.horizon, max_horizon(last_year))
    if year is not None:
        year = max(FIRST_YEAR, min(year, max(last_year, LAST_FORECAST_YEAR)))
    return year


def _history_args(
    area: AreaEntry, indicator: str, r: Reading, last_year: int, *, single_year: bool = True
) -> dict[str, Any]:
    args: dict[str, Any] = {"area": area.name, "indicator": indicator, "level": area.level}
    start, end = r.start_year, r.end_year
    if start is None and r.last_n:
        start = last_year - r.last_n + 1
    if (single_year and start is None and end is None and r.target_year is not None
            and r.target_year <= last_year):
        # "en 2022": that year alone, unless the question is about a trend since then.
        start = end = r.target_year
    if start is not None:
        args["start_year"] = max(FIRST_YEAR, min(start, last_year))
    if end is not None and end <= last_year:
        args["end_year"] = max(end, args.get("start_year", FIRST_YEAR))
    return args


def _forecast_args(area: AreaEntry, indicator: str, horizon: int | None) -> dict[str, Any]:
    args: dict[str, Any] = {"area": area.name, "indicator": indicator, "level": area.level}
    if horizon is not None:
        args["horizon"] = horizon
    return args


