"""Follow-up questions: "and in Normandy?", "et en 2030 ?", "compared to Normandy"."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from oasis_app.planner.calls import Language, Plan
from oasis_app.planner.deciding import decide
from oasis_app.planner.reading import (
    Reading,
    has,
    read,
    unknown_place,
)
from oasis_app.planner.vocabulary import (
    COMPARE_WORDS,
    COUNT_WORDS,
    DEFAULT_LAST_YEAR,
    EN_WORDS,
    FORECAST_WORDS,
    FR_WORDS,
    HELP_WORDS,
    MAX_QUESTION_CHARS,
    OFF_TOPIC_WORDS,
    RANKING_WORDS,
    RATE_WORDS,
    SUPERLATIVE_WORDS,
    AreaEntry,
    alternation,
    data_tables,
)
from oasis_mcp.text import fold

MAX_FOLLOW_UP_WORDS = 8
MAX_FOLLOW_UP_CHAIN = 4
"""At most this many earlier questions are read with a follow-up (back to one that is not)."""
FOLLOW_UP_OPENERS = ("et", "and", "what about", "how about", "same", "meme", "idem", "pareil",
                     "puis", "then", "also", "aussi", "or", "ou")
# "Où" (where) folds to "ou" (or): an opener "ou" written "où", or starting a "where" question
# written without its accent ("Ou sont les pires départements ?"), asks a question of its own.
WHERE_OPENERS = ("ou sont", "ou est", "ou y a", "ou se", "ou le plus", "ou la plus",
                 "ou les plus", "ou le moins", "ou la moins", "ou les moins")
_WHERE_RE = re.compile(r"\W*o[ùû]\b", re.IGNORECASE)
COMPARE_OPENERS = ("compare", "compared", "comparer", "comparez", "compares", "comparing",
                   "comparaison", "comparison", "en comparaison", "in comparison", "par rapport",
                   "versus", "vs", "against", "contre")
# In a follow-up, these make what it names join what was asked before instead of replacing it:
# "compared to Normandy" compares, "and in Normandy?" switches.
JOIN_WORDS = (*COMPARE_WORDS, "compared", "comparee", "comparees", "par rapport", "face a",
              "aussi", "also", "too", "as well", "egalement", "en plus")


def follow_up(
    question: str, previous: Sequence[str], *, last_year: int = DEFAULT_LAST_YEAR,
    forecast_from: int | None = None, communes: bool = False,
) -> Plan | None:
    """The plan for ``question`` read as a follow-up of the ``previous`` questions (oldest
    first), or None when it is not one (read it alone with :func:`understand`).

    A follow-up is short and starts like one ("and in Normandy?", "et les violences sexuelles
    ?", "what about 2030?", "compared to Normandy"), or cannot be answered alone but names a
    place or a year ("Normandy?", "Brittany vs Normandy"). A question about the models or a
    greeting is never one ("and the models?"), nor one naming nothing after its opener
    ("Contre quoi lutte la police ?"), nor a "where" question ("Où sont les homicides ?": "où"
    folds to "ou", "or"). What it names replaces the same thing
    in the question before, unless it asks to compare (see :func:`_follow`); the rest, and the
    kind of question (history, forecast, ranking, list), is kept.

        >>> [c.describe() for c in follow_up("and in Normandy?", ["Burglaries in Brittany"]).calls]
        ["get_history(area='Normandie', indicator='burglary', level='region')"]
    """
    if not isinstance(question, str) or not _is_follow_up(question, last_year):
        return None
    chain: list[str] = []  # back to the last question that was not a follow-up
    for earlier in reversed(previous):
        if not isinstance(earlier, str) or not fold(earlier[:MAX_QUESTION_CHARS]):
            continue
        chain.insert(0, earlier)
        if len(chain) >= MAX_FOLLOW_UP_CHAIN or not _is_follow_up(earlier, last_year):
            break
    if not chain:
        return None
    reading = read(chain[0], last_year)
    for text in [*chain[1:], question]:
        reading = _follow(reading, read(text, last_year), text, last_year)
    result = decide(question, reading, last_year, forecast_from, communes)
    if not result.calls and result.intent != "clarify":
        return None
    return result


def _starts(folded: str, openers: Iterable[str]) -> bool:
    return _opener(folded, openers) is not None


def _opener(folded: str, openers: Iterable[str]) -> str | None:
    """The longest of ``openers`` that ``folded`` starts with (as whole words), or None."""
    found = [o for o in openers if folded == o or folded.startswith(o + " ")]
    return max(found, key=len) if found else None


def _names_something(r: Reading, question: str, opener: str) -> bool:
    """Whether a follow-up names, after its opener, something that can change the question
    before: an indicator (or a broad word), a place (even unknown), a year, a horizon, a level,
    or a kind of answer (forecast, ranking, count or rate). "Contre quoi lutte la police ?" or
    "et alors ?" names nothing: not a follow-up."""
    if (r.indicators or r.ambiguous or r.areas or r.country or r.cities or r.years
            or r.horizon is not None or r.last_n is not None or r.top_n or r.level_word
            or unknown_place(question)):
        return True
    rest = " " * (len(opener) + 1) + r.masked[len(opener) + 1:]  # masked is " folded "
    return has(rest, (*FORECAST_WORDS, *RANKING_WORDS, *COUNT_WORDS, *RATE_WORDS))


def _asks_where(question: str, folded: str) -> bool:
    """Whether a question starting with "ou" starts with "où" (where), not "ou" (or)."""
    if folded.split()[0] != "ou":
        return False
    raw = unicodedata.normalize("NFC", question[:MAX_QUESTION_CHARS])
    return bool(_WHERE_RE.match(raw)) or _starts(folded, WHERE_OPENERS)


def _is_follow_up(question: str, last_year: int) -> bool:
    folded = fold(question[:MAX_QUESTION_CHARS])
    words = folded.split()
    if not words or len(words) > MAX_FOLLOW_UP_WORDS:
        return False
    r = read(question, last_year)
    alone = decide(question, r, last_year)
    if alone.intent in ("models", "help"):  # "and the models?": nothing of the question before
        return False
    opener = _opener(folded, FOLLOW_UP_OPENERS)
    if opener and not _asks_where(question, folded):
        return _names_something(r, question, opener)
    opener = _opener(folded, COMPARE_OPENERS)
    if opener:  # "compared to Normandy", not "Compare X in A and B" nor "Contre quoi… ?"
        return _names_something(r, question, opener) and (
            not alone.calls or not (r.areas or r.country or r.level_word))
    if (not r.indicators and not r.ambiguous and not r.areas and r.country is None
            and has(r.masked, SUPERLATIVE_WORDS)
            and not (r.level_word and _asks_where(question, folded))):
        # "which region is worst?", "où est-ce le pire ?" (but "Où sont les pires départements ?"
        # is a question of its own, as every "where" naming what it asks about)
        return True
    # "Normandy?", "2030 ?", "Brittany vs Normandy": nothing to answer alone, but a place or a
    # year that the question before can complete ("What is the population of Bretagne?" is not).
    return (len(words) <= 4 and not alone.calls and not has(r.masked, OFF_TOPIC_WORDS)
            and not has(r.masked, HELP_WORDS) and bool(r.areas or r.country or r.years))


@lru_cache(maxsize=1)
def _forecast_regex() -> re.Pattern[str]:
    return alternation(FORECAST_WORDS)


@lru_cache(maxsize=4)
def _words_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    return alternation(words)


def _follow(base: Reading, new: Reading, question: str, last_year: int) -> Reading:
    """``base`` (the reading of the questions before) updated by the reading ``new`` of the
    follow-up ``question``.

    What the follow-up names replaces the same thing: an area or country ("and in Normandy?",
    "et pour le Nord ?"), an indicator ("and sexual violence?"; a broad word such as "and
    violence?" asks which one, for the same place), years ("and in 2030?"), a level ("and the
    departments?": those of the region asked about, else a ranking of all). With a comparison
    word ("compared to Normandy", "Brittany vs Normandy", "et par rapport à la Normandie",
    "aussi") the areas or indicators named join the earlier ones instead. Everything else is
    kept, including the words that made it a forecast, a ranking or a list.
    """
    tables = data_tables()
    joins = has(new.masked, JOIN_WORDS)

    indicators, ambiguous = base.indicators, base.ambiguous
    if new.indicators:
        indicators = list(dict.fromkeys([*base.indicators, *new.indicators] if joins
                                        else new.indicators))
        ambiguous = []
    elif new.ambiguous:
        indicators, ambiguous = [], new.ambiguous

    areas, country, cities = base.areas, base.country, base.cities
    ranking = base.ranking
    # A level word that only said what the earlier area was ("le département du Nord") goes with
    # it; one that asked for something ("les départements de Bretagne") stays.
    level_word = base.level_word if base.level_word not in {a.level for a in base.areas} else None
    if new.areas or new.country:
        if joins:
            def with_country(entries: list[AreaEntry], code: str | None) -> list[AreaEntry]:
                return [*entries, tables.areas[("country", code)]] if code else entries

            before = base.areas or with_country([], base.country)
            areas = list(dict.fromkeys([*before, *with_country(new.areas, new.country)]))
            country, cities = None, [*base.cities, *new.cities]
        else:
            areas, country, cities = new.areas, new.country, new.cities
        level_word = new.level_word or level_word
    elif unknown_place(question):  # "and in Atlantis?": no longer the earlier area
        areas, country, cities = [], None, []
        level_word = new.level_word or level_word
    elif new.level_word:
        level_word = new.level_word
        one_region = len(base.areas) == 1 and base.areas[0].level == "region"
        departments = bool(base.areas) and all(a.level == "department" for a in base.areas)
        if level_word == "department" and one_region:
            pass  # the departments of that region
        elif level_word == "region" and departments and not has(new.masked, RANKING_WORDS):
            # "and the region?" after a department: its region.
            codes = [a.region_code for a in base.areas if a.region_code]
            areas = list(dict.fromkeys(tables.areas[("region", c)] for c in codes
                                       if ("region", c) in tables.areas))
            country, cities = None, []
        else:  # "and the regions?": all of them, ranked
            areas, country, cities, ranking = [], None, [], True
    elif has(new.masked, SUPERLATIVE_WORDS):  # "où est-ce le pire ?": a ranking of all
        areas, country, cities, ranking = [], None, [], True
        level_word = base.level_word if base.level_word not in {a.level for a in base.areas} \
            else None
    else:
        level_word = base.level_word

    years, start_year, end_year = base.years, base.start_year, base.end_year
    target_year, horizon, last_n = base.target_year, base.horizon, base.last_n
    masked = base.masked
    if new.years or new.horizon is not None or new.last_n is not None:
        years, end_year, target_year = new.years, new.end_year, new.target_year
        horizon, last_n = new.horizon, new.last_n
        ahead = horizon is not None or max(years, default=0) > last_year
        # "depuis 2016" then "et en 2030 ?": the history still starts in 2016.
        start_year = new.start_year if new.start_year is not None or not ahead else start_year
        # A year now says whether it is a forecast: "and in 2022?" after a forecast is history.
        masked = _forecast_regex().sub(" ", masked)

    # A measure now asked replaces the one before: "et le nombre ?" after a ranking by rate.
    if has(new.masked, COUNT_WORDS) and not has(new.masked, RATE_WORDS):
        masked = _words_regex(RATE_WORDS).sub(" ", masked)
    elif has(new.masked, RATE_WORDS):
        masked = _words_regex(COUNT_WORDS).sub(" ", masked)

    counts = [sum(w in words for w in new.masked.split()) for words in (FR_WORDS, EN_WORDS)]
    language: Language = base.language if counts[0] == counts[1] else (
        "fr" if counts[0] > counts[1] else "en")
    return dataclasses.replace(
        base, text=base.text + new.text, language=language, indicators=indicators,
        ambiguous=ambiguous, areas=areas, country=country, years=years, start_year=start_year,
        end_year=end_year, target_year=target_year, horizon=horizon, last_n=last_n,
        top_n=new.top_n or base.top_n, level_word=level_word, masked=masked + new.masked,
        cities=cities, ranking=ranking,
        former=[*base.former, *new.former] if joins else (
            new.former if new.areas or new.country else base.former),
    )


