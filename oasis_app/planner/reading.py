"""Reading a question: indicators, areas (codes, names, aliases, former regions, cities), the
country, years, ranges, horizons, a level word and the language."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from oasis_app.planner.calls import Language
from oasis_app.planner.vocabulary import (
    AREA_CONTEXT_WORDS,
    BARE_CODE_RE,
    CODE_RE,
    COMMUNE_WORDS,
    COUNTRY_PHRASES,
    DEPARTMENT_WORDS,
    ELLIPSES,
    EN_WORDS,
    END_RE,
    FR_WORDS,
    LAST_RE,
    MAX_QUESTION_CHARS,
    NEXT_RE,
    NOT_AREA_AFTER,
    NOT_CODE_AFTER,
    NOT_CODE_BEFORE,
    NUMBER_CODE_RE,
    NUMBER_WORDS,
    PAREN_CODE_RE,
    RANGE_RES,
    REGION_WORDS,
    RISKY_AREA_ALIASES,
    START_RE,
    TOP_RE,
    UPPERCASE_AREA_ALIASES,
    YEAR_RE,
    AreaEntry,
    city_regex,
    data_tables,
    former_regex,
    former_regions,
    known_cities,
    stemmed,
)
from oasis_mcp.data.coverage import max_horizon
from oasis_mcp.text import fold


@dataclass
class Reading:
    text: str  # folded, with spaces around
    language: Language
    indicators: list[str]
    ambiguous: list[str]
    areas: list[AreaEntry]
    country: str | None
    years: list[int]
    start_year: int | None
    end_year: int | None
    target_year: int | None
    horizon: int | None
    last_n: int | None
    top_n: int | None
    level_word: str | None  # "region" | "department" | None
    masked: str
    cities: list[tuple[str, str]]  # (city name, department code) read as their department
    ranking: bool = False  # a follow-up asked for a level with no area ("and the departments?")
    former: list[tuple[str, str]] = field(default_factory=list)
    """Former regions (before 2016) read as their current region: (name, region code)."""


def has(text: str, words: Iterable[str]) -> bool:
    return any(f" {w} " in text for w in words)


def number(token: str | None) -> int | None:
    if token is None:
        return None
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def read(question: str, last_year: int) -> Reading:
    tables = data_tables()
    raw = question[:MAX_QUESTION_CHARS]
    text = f" {fold(raw)} "
    for pattern, full in ELLIPSES:
        text = pattern.sub(full, text)
    masked = text

    # Indicators (longest phrase first), then broad words that need a choice.
    indicators: list[str] = []
    indicator_spans: list[tuple[int, int]] = []
    for m in tables.indicator_regex.finditer(text):
        label = tables.phrase_to_label[stemmed(m.group(0))]
        if label not in indicators:
            indicators.append(label)
        masked = mask(masked, m.start(), m.end())
        indicator_spans.append((m.start(), m.end()))
    ambiguous: list[str] = []
    if not indicators:
        for m in tables.ambiguous_regex.finditer(masked):
            if m.group(0) not in ambiguous:
                ambiguous.append(m.group(0))

    # Areas: codes first ("(59)", "département 13"), then names and aliases.
    found: list[tuple[int, list[tuple[str, str]]]] = []
    for m in PAREN_CODE_RE.finditer(raw):
        code = m.group(1).upper()
        if ("department", code) in tables.areas:
            found.append((-1, [("department", code)]))
    for m in CODE_RE.finditer(masked):
        code = m.group(1).upper()
        if ("department", code) in tables.areas:
            found.append((m.start(1), [("department", code)]))
            masked = mask(masked, m.start(1), m.end(1))
    former: list[tuple[str, str]] = []
    for m in former_regex().finditer(masked):  # before "Normandie" in "Haute-Normandie"
        name, region_code, _ = former_regions()[m.group(0)]
        if ("region", region_code) in tables.areas:
            found.append((m.start(), [("region", region_code)]))
            former.append((name, region_code))
            masked = mask(masked, m.start(), m.end())
    for m in tables.area_regex.finditer(masked):
        alias = m.group(0)
        if alias in UPPERCASE_AREA_ALIASES and not UPPERCASE_AREA_ALIASES[alias].search(raw):
            continue
        if alias in RISKY_AREA_ALIASES:
            before = masked[: m.start()].split()
            after = masked[m.end():].split()
            prev = before[-1] if before else ""
            nxt = after[0] if after else ""
            if prev not in AREA_CONTEXT_WORDS or nxt in NOT_AREA_AFTER.get(alias, ()):
                continue
            if (alias == "lot" and prev in ("a", "")) or (alias == "centre" and prev == ""):
                continue
        found.append((m.start(), list(tables.alias_to_areas[alias])))
        masked = mask(masked, m.start(), m.end())
    for m in BARE_CODE_RE.finditer(masked):
        code = m.group(1).upper()
        if ("department", code) in tables.areas:
            found.append((m.start(1), [("department", code)]))
            masked = mask(masked, m.start(1), m.end(1))
    says_region = has(masked, REGION_WORDS) and not has(masked, DEPARTMENT_WORDS)
    for m in NUMBER_CODE_RE.finditer(masked):
        before = masked[: m.start()].split()
        after = masked[m.end():].split()
        if (before and before[-1] in NOT_CODE_BEFORE) or (after and after[0] in NOT_CODE_AFTER):
            continue
        code = m.group(1)
        if says_region and ("region", code) in tables.areas:
            found.append((m.start(1), [("region", code)]))
        elif ("department", code) in tables.areas:
            found.append((m.start(1), [("department", code)]))
        else:
            continue
        masked = mask(masked, m.start(1), m.end(1))
    cities: list[tuple[str, str]] = []
    for m in city_regex().finditer(masked):
        name, code = known_cities()[m.group(0)]
        if name == "Nice" and "Nice" not in raw:
            continue
        found.append((m.start(), [("department", code)]))
        cities.append((name, code))
        masked = mask(masked, m.start(), m.end())
    country = None
    for phrase, code in sorted(COUNTRY_PHRASES.items(), key=lambda kv: -len(kv[0])):
        pos = masked.find(f" {phrase} ")
        if pos >= 0:
            country = country or code
            masked = mask(masked, pos + 1, pos + 1 + len(phrase))

    level_word = None
    if has(masked, DEPARTMENT_WORDS):
        level_word = "department"
    elif has(masked, REGION_WORDS):
        level_word = "region"

    areas: list[AreaEntry] = []
    found.sort(key=lambda item: item[0])
    for _, keys in found:
        choice = pick_level(keys, level_word, found)
        entry = tables.areas[choice]
        if entry not in areas:
            areas.append(entry)

    # Years, ranges, horizons.
    years = [int(y) for y in YEAR_RE.findall(masked)]
    start_year = end_year = target_year = None
    for regex in RANGE_RES:
        hit = regex.search(masked)
        if hit:
            a, b = sorted((int(hit.group(1)), int(hit.group(2))))
            start_year, end_year = a, b
            break
    if start_year is None:
        hit = START_RE.search(masked)
        if hit:
            start_year = int(hit.group(1))
        hit = END_RE.search(masked)
        if hit and (start_year is None or int(hit.group(1)) != start_year):
            target_year = int(hit.group(1))
        elif years and start_year is None:
            target_year = years[-1]
    horizon = None
    hit = NEXT_RE.search(masked)
    if hit:
        token = next((g for g in hit.groups() if g), None)
        horizon = number(token) or (
            1 if token is None and " year " in hit.group(0) + " " else None
        )
        if horizon is None:
            horizon = max_horizon(last_year) if token is None else None
    last_n = None
    hit = LAST_RE.search(masked)
    if hit:
        last_n = number(next((g for g in hit.groups() if g), None)) or 5
    top_n = None
    hit = TOP_RE.search(masked)
    if hit:
        top_n = number(hit.group(1))

    words_for_language = masked
    for start, end in indicator_spans:  # indicator words tell the language; area names do not
        words_for_language = words_for_language[:start] + text[start:end] + words_for_language[end:]
    language = language_of(words_for_language, raw)
    return Reading(
        text=text, language=language, indicators=indicators, ambiguous=ambiguous, areas=areas,
        country=country, years=years, start_year=start_year, end_year=end_year,
        target_year=target_year, horizon=horizon, last_n=last_n, top_n=top_n,
        level_word=level_word, masked=masked, cities=cities, former=former,
    )


def pick_level(
    keys: Sequence[tuple[str, str]], level_word: str | None,
    found: Sequence[tuple[int, list[tuple[str, str]]]],
) -> tuple[str, str]:
    """An alias naming a region and a department (La Réunion, Guyane…): follow the question's
    level word, else the level of the other areas named, else the region."""
    if len(keys) == 1:
        return keys[0]
    levels = {level for level, _ in keys}
    if level_word in levels:
        return next(k for k in keys if k[0] == level_word)
    others = {k[0][0] for _, k in found if len(k) == 1}
    for level in ("department", "region"):
        if others == {level} and level in levels:
            return next(k for k in keys if k[0] == level)
    return next((k for k in keys if k[0] == "region"), keys[0])


def language_of(masked: str, raw: str) -> Language:
    words = masked.split()
    fr = sum(w in FR_WORDS for w in words)
    en = sum(w in EN_WORDS for w in words)
    if fr == en:
        if any(ch in raw for ch in "éèêàùçôîœÉ") or re.search(r"\b[dlq]'", raw.lower()):
            return "fr"
        return "en"
    return "fr" if fr > en else "en"



PLACE_RE = re.compile(
    r"(?:\b(?:à|a|en|in|dans|au|aux|pour|for|at|of|de|du)\s+(?:le |la |les |l'|l’|the )?)"
    r"([A-ZÀ-Ý][\w'’-]{2,}(?:[ -][A-ZÀ-Ý][\w'’-]+)*)"
)


def unknown_place(question: str) -> str | None:
    """A capitalised name after a place preposition that matched no area ("à Atlantis")."""
    tables = data_tables()
    for m in PLACE_RE.finditer(question[:MAX_QUESTION_CHARS]):
        name = m.group(1)
        folded = fold(name)
        if (folded in tables.alias_to_areas or folded in COUNTRY_PHRASES or folded in known_cities()
                or tables.indicator_regex.fullmatch(folded) or YEAR_RE.fullmatch(folded)):
            continue
        if folded.split()[0] in FR_WORDS | EN_WORDS:
            continue
        return name
    return None


def close_area(name: str, level_word: str | None) -> AreaEntry | None:
    """The area whose name is closest to a misspelt one ("Bretgane"), when one is close enough."""
    tables = data_tables()
    close = difflib.get_close_matches(fold(name), list(tables.alias_to_areas), n=1, cutoff=0.8)
    if not close:
        return None
    keys = list(tables.alias_to_areas[close[0]])
    return tables.areas[pick_level(keys, level_word, [])]



_LOWER_PLACE_RE = re.compile(
    r"(?<= )(?:en|dans|a|au|aux|in|at|for|pour|de|du|of|sur)(?: le| la| les| l| the)? "
    r"([a-z]+(?: [a-z]+){0,4})(?= )"
)


def misspelt_place(masked: str) -> tuple[str, AreaEntry] | None:
    """Words after a place preposition, left over once the areas were read, that are close to an
    area's name ("en bretange", "en ile de frnace"): (the words, the area), the longest first.
    A common word never starts one, and a single word has at least four letters."""
    common = FR_WORDS | EN_WORDS
    for m in _LOWER_PLACE_RE.finditer(masked):
        words = m.group(1).split()
        for n in range(len(words), 0, -1):
            phrase = " ".join(words[:n])
            if words[0] in common or words[0] in COMMUNE_WORDS or len(phrase) < 4:
                continue
            area = close_area(phrase, None)
            if area is not None:
                return phrase, area
    return None
