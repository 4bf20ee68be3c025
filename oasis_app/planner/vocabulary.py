"""The planner's vocabulary: the words that tell an intent, a measure, a level, a year or a
horizon, and the phrase tables built once from the data layer (area names and aliases from
:mod:`oasis_mcp.data.geography`, indicator labels and aliases from :mod:`oasis_mcp.data.indicators`,
cities and former regions from the geography's own tables). Only words are kept here: no area,
label, year or horizon of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from oasis_mcp.data import geography, indicators
from oasis_mcp.text import fold

FR_WORDS = frozenset({
    "le", "la", "les", "des", "du", "de", "en", "quelle", "quel", "quels", "quelles", "depuis",
    "evolution", "liste", "combien", "est", "sont", "dans", "pour", "et", "au", "aux",
    "prevision", "previsions", "jusqu", "d", "l", "qu", "ou", "plus", "moins", "entre", "annee",
    "annees", "prochaines", "montre", "donne", "compare", "comparer", "taux", "nombre", "vols",
    "violences", "cambriolages", "region", "departement", "departements", "regions",
    "precises", "fiables", "modeles", "sur", "bonjour", "salut", "aide", "merci", "quoi",
    "comment", "pourquoi"
})
EN_WORDS = frozenset({
    "the", "of", "in", "which", "what", "how", "since", "until", "forecast", "forecasts", "list",
    "show", "and", "is", "are", "most", "compare", "from", "to", "by", "next", "years", "year",
    "between", "highest", "lowest", "thefts", "burglaries", "violence", "rate", "number",
    "accurate", "your", "models", "region", "regions", "department", "departments", "give", "me",
    "trend", "help", "hello", "hi", "thanks", "please", "why", "who"
})

# Indicator words: the catalogue's slugs, labels and aliases (oasis_mcp.data.indicators, where a new
# word is taught, for the tools and the chat alike), each word with or without a plural -s/-x as
# the tools' lookup compares them; the longest phrase wins. Only these phrases (folded) are the
# chat's own, each for one of these reasons:
#  (a) the catalogue leaves it ambiguous, so a tool asks which indicator; a chat question is
#      answered with the likelier one, and the answer names the indicator it used;
#  (b) too loose for a tool argument, a fair guess in a chat that names the indicator it used;
#  (c) as a catalogue alias, it would make a generic word alone that starts it ("véhicules",
#      "use", "without") match it as a prefix, taken for this indicator (unknown, with it as the
#      only suggestion) instead of ambiguous among the indicators the word names; the lookup
#      resolves an alias only whole, so a word inside an alias ("offences") is no such risk.
CHAT_INDICATOR_PHRASES: dict[str, tuple[str, ...]] = {
    "Usage de stupéfiants": (
        # (a) trafficking or use: "drugs" in a question is most often about use, the larger series.
        "drugs", "drogues", "stupefiants", "narcotics", "cannabis", "drug offences",
        "drug offenses",
        "use of drugs",  # (c)
    ),
    "Violences physiques hors cadre familial": (
        # (a) in or outside the family: an "assault" is most often outside it.
        "violences physiques", "physical violence", "coups et blessures", "assaults",
        "physical assaults", "agressions",
    ),
    "Vols sans violence contre des personnes": ("larceny", "larcenies"),  # (b) any theft
    "Vols de véhicule": ("vehicules voles", "car stealing"),  # (c)
    "Usage de stupéfiants (hors AFD)": ("without fines",),  # (c)
    "Violences sexuelles": ("sexual offences", "sexual offenses", "sex offences"),  # (c)
}
# Two indicators sharing their words ("le trafic et l'usage de stupéfiants"): written out in full
# before the indicators are read, so that both are (folded text).
ELLIPSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\btrafic et (?:de l |l |d |de )?usage de stupefiants\b"),
     "trafic de stupefiants et usage de stupefiants"),
    (re.compile(r"\busage et (?:de |le )?trafic de stupefiants\b"),
     "usage de stupefiants et trafic de stupefiants"),
    (re.compile(r"\bdrug trafficking and (?:drug )?use\b"), "drug trafficking and drug use"),
    (re.compile(r"\bdrug use and (?:drug )?trafficking\b"), "drug use and drug trafficking"),
    (re.compile(r"\bhomicides? et tentatives?\b(?! d homicide)"),
     "homicides et tentatives d homicide"),
)
# Words too broad to pick one indicator: the planner asks, offering these.
THEFTS = ("Vols de véhicule", "Vols sans violence contre des personnes", "Vols violents sans arme",
           "Vols avec armes", "Vols dans les véhicules")
VEHICLES = ("Vols de véhicule", "Vols dans les véhicules", "Vols d'accessoires sur véhicules")
AMBIGUOUS_WORDS: dict[str, tuple[str, ...]] = {
    "vols": THEFTS,
    "vol": THEFTS,
    "thefts": THEFTS,
    "theft": THEFTS,
    "robberies": ("Vols violents sans arme", "Vols avec armes"),
    "robbery": ("Vols violents sans arme", "Vols avec armes"),
    "violences": ("Violences physiques hors cadre familial", "Violences physiques intrafamiliales",
                  "Violences sexuelles"),
    "violence": ("Violences physiques hors cadre familial", "Violences physiques intrafamiliales",
                 "Violences sexuelles"),
    "violent crime": ("Violences physiques hors cadre familial", "Vols violents sans arme",
                      "Vols avec armes", "Violences sexuelles"),
    "vehicules": VEHICLES,
    "vehicles": VEHICLES,
    "voitures": VEHICLES,
    "cars": VEHICLES,
    "delinquance": (),
    "criminalite": (),
    "crime": (),
    "crimes": (),
    "insecurite": (),
}

# Short English labels for messages (the catalogue has the official ones).
COUNTRY_PHRASES: dict[str, str] = {
    "france metropolitaine": "FM", "metropolitan france": "FM", "mainland france": "FM",
    "metropole": "FM", "hexagone": "FM", "france entiere": "FR", "toute la france": "FR",
    "whole of france": "FR", "all of france": "FR", "national": "FR", "nationale": "FR",
    "nationally": "FR", "niveau national": "FR", "france": "FR", "french": "FR", "francais": "FR",
    "pays": "FR", "country": "FR",
}

# Aliases that are also common words: accepted only after one of these words.
RISKY_AREA_ALIASES = frozenset({"lot", "cher", "somme", "centre"})
# Acronyms that are also common words ("Quelle région aura le plus…"): areas only in capitals.
UPPERCASE_AREA_ALIASES = {"aura": re.compile(r"\bAURA\b")}
AREA_CONTEXT_WORDS = frozenset({"le", "la", "l", "du", "de", "des", "en", "dans", "departement",
                                "department", "the", "of", "in", "and", "et", "vs", "versus",
                                "region", "compare", "entre", "between", "for", "pour", "a", ""})
NOT_AREA_AFTER = {"lot": {"of"}, "cher": {"est", "trop", "plus", "moins", "tres", "si"},
                  "somme": {"en", "de", "des", "du", "d", "totale"},
                  "centre": {"city", "town", "ville", "le", "au", "of", "de", "du", "d"}}

# Intent vocabularies (folded phrases, matched on word boundaries).
MODELS_WORDS = (
    "accurate", "accuracy", "precis", "precises", "precision", "fiable", "fiables", "fiabilite",
    "reliable", "reliability", "mase", "backtest", "backtests", "backtesting", "metrics",
    "metriques", "leaderboard", "calibration", "calibrated", "calibre", "how good", "how well",
    "error", "errors", "erreur", "erreurs", "performance", "performances", "models", "model",
    "modele", "modeles", "champion", "quality of", "qualite des", "trust",
)
FORECAST_WORDS = (
    "forecast", "forecasts", "forecasting", "predict", "predicts", "prediction", "predictions",
    "project", "projection", "projections", "projected", "prevision", "previsions", "prevoir",
    "prevu", "prevue", "prevues", "predire", "prediction", "futur", "future", "avenir", "will",
    "va t", "vont", "sera", "seront", "evoluer", "next", "prochaines", "prochaine", "prochain",
    "prochains", "coming", "upcoming", "horizon", "d ici", "outlook", "expected", "attendu",
)
RANKING_WORDS = (
    "quelle region", "quelles regions", "quel departement", "quels departements",
    "which region", "which regions", "which department", "which departments",
    "what region", "what department", "classement", "classer", "classe", "ranking", "rank",
    "ranked", "top", "le plus", "la plus", "les plus", "le moins", "la moins", "les moins",
    "most", "highest", "lowest", "least", "fewest", "pire", "pires", "worst", "best",
    "meilleur", "meilleure", "safest", "most dangerous", "plus dangereu", "plus sur",
    "where is", "where are", "ou y a t il", "ou sont", "ou est", "palmares", "leader",
    "record", "greatest", "largest", "biggest", "smallest", "plus eleve", "plus elevee",
    "plus faible", "plus bas", "plus haut", "maximum", "minimum", "by region", "by department",
    "par region", "par departement", "per region", "per department", "across regions",
    "across departments", "each region", "each department", "chaque region",
    "chaque departement", "all regions", "all departments", "toutes les regions",
    "tous les departements", "selon les regions", "selon les departements", "les regions",
    "les departements", "the regions", "the departments",
)
MIN_WORDS = ("le moins", "la moins", "les moins", "least", "lowest", "fewest", "safest", "best",
             "meilleur", "meilleure", "plus sur", "plus sure", "plus surs", "plus sures",
             "plus faible", "plus bas", "smallest", "minimum")
# Asking for a ranking without naming what to rank ("which region is worst?", "où est-ce le pire
# ?"): on the indicator of the question before, else the planner asks which indicator.
SUPERLATIVE_WORDS = ("pire", "pires", "worst", "safest", "safer", "most dangerous",
                     "plus dangereu", "plus dangereux", "plus dangereuse", "plus sur", "plus sure",
                     "plus surs", "plus sures", "moins sur", "moins sure", "least safe",
                     "dangerous", "dangereux", "dangereuse", "best", "meilleur", "meilleure",
                     "ranking", "classement")
# "Which region has the most burglaries?" asks for a number: ranked by rate (the fair comparison)
# and by count, both told.
MOST_WORDS = ("most", "le plus de", "le plus d", "la plus de", "les plus de", "a le plus",
              "aura le plus", "ont le plus", "a eu le plus", "compte le plus")
COMPARE_WORDS = ("compare", "comparer", "compares", "comparing", "comparison", "comparaison",
                 "comparez", "versus", "vs", "contre", "against", "difference", "differences")
LIST_WORDS = ("liste", "lister", "list", "listing", "enumerate", "quels sont", "quelles sont",
              "which are", "what are", "show me the", "donne moi les", "all the", "toutes les",
              "tous les", "available", "disponibles", "noms", "names", "which", "what", "quels",
              "quelles", "codes")
INDICATOR_LIST_WORDS = ("indicateurs", "indicateur", "indicators", "indicator",
                        "categories", "types de", "kinds of", "types of", "infractions suivies",
                        "what crimes", "which crimes", "quels crimes", "quelles infractions",
                        "what data", "quelles donnees", "which offences", "what offences",
                        "what can i ask", "series available")
HELP_WORDS = ("help", "aide", "aidez", "what can you do", "que sais tu faire",
              "que peux tu faire", "que pouvez vous faire", "how does this work",
              "comment ca marche", "bonjour", "hello", "hi", "salut", "hey", "who are you",
              "qui es tu", "exemples", "examples")
# Topics with nothing to do with recorded crime: with a place but no indicator, the question is out
# of scope rather than a request to pick an indicator ("What's the weather in Lyon?").
OFF_TOPIC_WORDS = ("weather", "meteo", "quel temps", "temperature", "pluie", "rain", "football",
                   "match", "world cup", "coupe du monde", "restaurant", "restaurants", "hotel",
                   "hotels", "recipe", "recette", "stock", "bourse", "election", "elections",
                   "tourism", "tourisme", "traffic jam", "embouteillage")
COUNT_WORDS = ("nombre", "number", "numbers", "count", "counts", "combien", "how many", "total",
               "volume", "en volume", "absolu", "absolute", "raw")
RATE_WORDS = ("taux", "rate", "rates", "per capita", "par habitant", "pour 100 000",
              "per 100 000", "per 100k", "pour 1000", "per 1000", "pour mille", "per thousand",
              "relative", "rapporte a la population", "proportion")
# Communes (towns, cities, villages): a level of the SSMSI communal file.
COMMUNE_WORDS = ("commune", "communes", "communal", "communale", "communales", "ville", "villes",
                 "town", "towns", "city", "cities", "municipality", "municipalities", "village",
                 "villages", "localite", "localites")
COMMUNE_RANKING_WORDS = ("par commune", "par ville", "by town", "by city", "per commune",
                         "by municipality", "per town", "per city", "each town", "chaque commune",
                         "chaque ville", "toutes les communes", "all towns")
# Words that tell a question about how good the forecasts are ("How reliable is your forecast for
# drug use in Paris?"): with an area and an indicator, the forecast itself is asked for, and the
# answer leads with that indicator's own backtest figures.
ACCURACY_WORDS = ("accurate", "accuracy", "precis", "precise", "precises", "precision", "fiable",
                  "fiables", "fiabilite", "reliable", "reliability", "trust", "confiance", "mase",
                  "backtest", "erreur", "erreurs", "error", "errors", "how good", "how well",
                  "quality", "qualite", "calibration", "calibrated")
# Words that make a country named beside an area one more area to show ("Île-de-France compared
# with France", "en Bretagne et en France").
JOIN_AREA_WORDS = ("compare", "compared", "comparer", "comparee", "comparees", "comparison",
                   "comparaison", "par rapport", "versus", "vs", "contre", "against", "and", "et",
                   "with", "avec", "face a")
REGION_WORDS = ("region", "regions", "regional", "regionale", "regionaux")
DEPARTMENT_WORDS = ("departement", "departements", "department", "departments", "departmental",
                    "departemental", "departementale", "dept", "depts", "dep")
NUMBER_WORDS = {
    "one": 1, "un": 1, "une": 1, "two": 2, "deux": 2, "three": 3, "trois": 3, "four": 4,
    "quatre": 4, "five": 5, "cinq": 5, "six": 6, "seven": 7, "sept": 7, "eight": 8, "huit": 8,
    "nine": 9, "neuf": 9, "ten": 10, "dix": 10,
}
NUM = r"(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"
YEAR_RE = re.compile(r"\b(20\d\d)\b")
RANGE_RES = (
    re.compile(r"\b(?:entre|between)(?: (?:l annee|les annees|the years|years))? (20\d\d) "
               r"(?:et|and) (20\d\d)\b"),
    re.compile(r"\b(?:de|from|du)(?: (?:l annee|the year))? (20\d\d) (?:a|au|to|till|until|"
               r"through|jusqu a|jusqu en) (20\d\d)\b"),
    re.compile(r"\b(20\d\d) (?:a|au|to|till|until|through|jusqu a|jusqu en) (20\d\d)\b"),
    re.compile(r"\b(20\d\d) (20\d\d)\b"),  # 2018-2022 (hyphen folded to a space)
    re.compile(r"\b(20\d\d) (?:et|and|&) (?:en |in )?(20\d\d)\b"),  # "en 2021 et 2022": both
)
START_RE = re.compile(r"\b(?:depuis|since|from|a partir de|apres|after|starting|starting in|"
                      r"starting from|des|de)(?: l annee| l an| the year| year)? (20\d\d)\b")
END_RE = re.compile(r"\b(?:jusqu en|jusqu a|jusqu au|until|till|to|through|by|d ici|d ici a|"
                    r"horizon|a l horizon|a l horizon de|avant|before|up to|upto|thru|vers|"
                    r"around|towards|pour|for|en|in|au|a|of|dans)"
                    r"(?: l annee| l an| the year| year)? (20\d\d)\b")
NEXT_RE = re.compile(
    rf"\b(?:next|coming|following|prochaines|prochains|suivantes|suivants)(?: {NUM})?"
    rf" (?:years|year|ans|annees|an)\b|\b{NUM} (?:prochaines|prochains|next|coming|following|"
    rf"years ahead|ans a venir|annees a venir|annees suivantes)(?: (?:annees|ans|years))?\b|"
    rf"\b(?:dans|in|within|sur|over|over the next|for the next|pour les) {NUM} (?:ans|annees|"
    rf"years|year)\b"
)
LAST_RE = re.compile(
    rf"\b(?:last|past|previous|dernieres|derniers)(?: {NUM})? (?:years|ans|annees)\b|"
    rf"\b{NUM} (?:dernieres|derniers|last|past) (?:annees|ans|years)\b"
)
TOP_RE = re.compile(rf"\b(?:top|les|the) {NUM}\b")
CODE_RE = re.compile(r"\b(?:departement|department|dept|dep|le|du|dans le|en|n|no|numero)"
                     r" (\d{2}|2a|2b|97[1-6])\b")
PAREN_CODE_RE = re.compile(r"\((\d{2}|2[AaBb]|97[1-6])\)")
BARE_CODE_RE = re.compile(r"\b(2a|2b|97[1-6])\b")
# A bare two-digit number ("Cambriolages 75") is a department code (a region code after "région"),
# unless it counts something: "top 10", "dans 10 ans", "les 5 départements".
NUMBER_CODE_RE = re.compile(r"(?<![0-9a-z])(\d{2})(?![0-9a-z])")
NOT_CODE_BEFORE = frozenset({"top", "les", "the", "first", "premiers", "premieres", "last",
                             "past", "next", "derniers", "dernieres", "dans", "within", "sur",
                             "over"})
NOT_CODE_AFTER = frozenset({"ans", "an", "annees", "annee", "years", "year", "prochaines",
                            "prochains", "derniers", "dernieres", "last", "past", "next",
                            "premiers", "first", "pour", "percent", "pourcent", "pct", "fois",
                            "times", "jours", "days", "mois", "months", "regions", "region",
                            "departements", "departement", "departments", "department",
                            "highest", "lowest", "plus", "moins", "most", "least"})


DEFAULT_LAST_YEAR = int(indicators.LATEST_EDITION)
"""The last data year when the caller does not say: the newest edition's (callers pass the served
edition's, read from the data through list_indicators)."""
MAX_QUESTION_CHARS = 20_000
"""Longer input is cut here, and the answer says so (a question is found in a long paste)."""
LONG_QUESTION_CHARS = 400
"""Beyond this, a paste is searched for the question it asks (its last sentences first)."""
MAX_AREAS = 6


# ------------------------------------------------------------------------------------------
# Tables from the data layer, built once.


@dataclass(frozen=True)
class AreaEntry:
    level: str  # "region" | "department" | "country"
    code: str
    name: str
    region_code: str | None


@dataclass(frozen=True)
class Tables:
    areas: dict[tuple[str, str], AreaEntry]
    alias_to_areas: dict[str, tuple[tuple[str, str], ...]]
    area_regex: re.Pattern[str]
    indicator_regex: re.Pattern[str]
    phrase_to_label: dict[str, str]
    ambiguous_regex: re.Pattern[str]
    departments_by_region: dict[str, tuple[str, ...]]


def alternation(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile(r"(?<![0-9a-z])(?:" + "|".join(re.escape(p) for p in ordered)
                      + r")(?![0-9a-z])")


@lru_cache(maxsize=1)
def data_tables() -> Tables:
    areas: dict[tuple[str, str], AreaEntry] = {}
    alias_map: dict[str, list[tuple[str, str]]] = {}
    by_region: dict[str, list[str]] = {}
    for level in ("region", "department"):
        for area in geography.areas(level):  # type: ignore[arg-type]
            entry = AreaEntry(level, area.code, area.name, getattr(area, "region_code", None))
            areas[(level, area.code)] = entry
            if level == "department" and entry.region_code:
                by_region.setdefault(entry.region_code, []).append(area.code)
            for alias in (area.name, getattr(area, "name_en", None) or ""):
                folded = fold(alias)
                if folded and not folded.isdigit():
                    alias_map.setdefault(folded, []).append((level, area.code))
        for alias, code in geography.area_aliases(level).items():  # type: ignore[arg-type]
            folded = fold(alias)
            if not folded or any(ch.isdigit() for ch in folded) or len(folded) < 3:
                continue
            if (level, code) not in areas:
                continue
            keys = alias_map.setdefault(folded, [])
            if (level, code) not in keys:
                keys.append((level, code))
    for country in geography.areas("country"):
        areas[("country", country.code)] = AreaEntry("country", country.code, country.name, None)
    phrase_to_label = catalog_phrases()
    phrase_to_label.update((stemmed(phrase), label)
                           for label, phrases in CHAT_INDICATOR_PHRASES.items()
                           for phrase in phrases)
    return Tables(
        areas=areas,
        alias_to_areas={a: tuple(dict.fromkeys(k)) for a, k in alias_map.items()},
        area_regex=alternation(alias_map),
        indicator_regex=inflected_alternation(phrase_to_label),
        phrase_to_label=phrase_to_label,
        ambiguous_regex=alternation(AMBIGUOUS_WORDS),
        departments_by_region={r: tuple(sorted(c)) for r, c in by_region.items()},
    )


def catalog_phrases() -> dict[str, str]:
    """Slugs, labels and aliases of the newest catalogue (stemmed) -> official label, except
    those it gives to several indicators ("drugs") and the words it treats as too broad."""
    labels: dict[str, set[str]] = {}
    for ind in indicators.catalog():
        for name in (ind.slug, ind.label_fr, ind.label_en, *ind.aliases):
            labels.setdefault(stemmed(fold(name)), set()).add(ind.label_fr)
    broad = {stemmed(word) for word in AMBIGUOUS_WORDS}
    return {phrase: next(iter(found)) for phrase, found in labels.items()
            if phrase and len(found) == 1 and phrase not in broad}


def stemmed(phrase: str) -> str:
    """A folded phrase with each word without its plural -s/-x, as the tools' lookup compares."""
    from oasis_mcp.data.lookup import stem

    return " ".join(stem(word) for word in phrase.split())


def inflected_alternation(stemmed: Iterable[str]) -> re.Pattern[str]:
    """Like :func:`alternation`, for stemmed phrases: each word also matches the forms that stem
    to it ("vol de vehicule" finds "vols de véhicules")."""
    from oasis_mcp.data.lookup import stem

    def forms(word: str) -> str:
        found = [w for w in (word, word + "s", word + "x") if stem(w) == word]
        if len(found) == 3:
            return re.escape(word) + "[sx]?"
        return "(?:" + "|".join(re.escape(w) for w in found) + ")"

    ordered = sorted(set(stemmed), key=lambda p: (-len(p), p))
    return re.compile(r"(?<![0-9a-z])(?:"
                      + "|".join(" ".join(forms(w) for w in p.split()) for p in ordered)
                      + r")(?![0-9a-z])")


@lru_cache(maxsize=1)
def former_regions() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Former regions, as the geography knows them (see :func:`geography.former_regions`)."""
    return geography.former_regions()


@lru_cache(maxsize=1)
def former_regex() -> re.Pattern[str]:
    return alternation(former_regions())


@lru_cache(maxsize=1)
def known_cities() -> dict[str, tuple[str, str]]:
    """Large cities, as the geography knows them (see :func:`geography.cities`)."""
    return geography.cities()


@lru_cache(maxsize=1)
def city_regex() -> re.Pattern[str]:
    return alternation(known_cities())


def indicator_argument(label: str) -> str:
    """What to send as a tool's ``indicator`` argument for an official label: its slug in the
    newest catalogue (the tools map it to the nomenclature of the edition they serve)."""
    found = indicators.indicator_by_label(label)
    return found.slug if found is not None else fold(label).replace(" ", "-")


def english_label(label: str) -> str:
    """The catalogue's English label for an official French one (the label itself if unknown)."""
    found = indicators.indicator_by_label(label)
    return found.label_en if found is not None else label
