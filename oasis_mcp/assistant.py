"""The offline question planner: a deterministic reading of a French or English question into
calls of the MCP tools (the tools' real names and argument names).

    >>> [c.name for c in plan("Évolution des cambriolages en Bretagne depuis 2016")]
    ['get_history']

It recognises intents (history, forecast, ranking, comparison, model quality, lists), areas (names,
codes and aliases of regions and departments, plus France), indicators (official labels and common
French and English words), years, ranges and horizons. When it cannot act (no indicator, nothing
in scope, an ambiguous word), :func:`understand` returns no call and a short message saying what it
can do, with example questions. :func:`follow_up` reads a short follow-up ("and in Normandy?",
"compared to Normandy", "et en 2030 ?") with the questions before it.

Pure and light: no data is loaded, no I/O; only the static geography and indicator tables are read.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from oasis_mcp.text import fold

Language = Literal["fr", "en"]
Intent = Literal[
    "history", "forecast", "ranking", "compare", "models", "list_areas", "list_indicators",
    "help", "clarify", "out_of_scope",
]

DEFAULT_LAST_YEAR = 2025
"""Last data year assumed when the caller does not say (the newest edition's)."""
FIRST_YEAR = 2016
MAX_HORIZON = 5
"""Forecasts go at most this many years past the last data year."""
MAX_AREAS = 6
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class ToolCall:
    """One call of an MCP tool: the tool's name and its arguments, as sent."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Plan:
    """What the planner made of a question."""

    question: str
    language: Language
    intent: Intent
    calls: list[ToolCall]
    message: str = ""
    """Said to the user when there is no call (clarification, out of scope), or as a note."""
    suggestions: list[str] = field(default_factory=list)
    """Questions the user may click on next."""
    measure: str | None = None
    extremum: Literal["max", "min"] = "max"
    """For rankings: whether the question is about the highest or the lowest values."""
    top_n: int | None = None
    notes: list[str] = field(default_factory=list)
    """Short remarks to add to the answer (a city read as its department, a capped horizon…)."""


def plan(question: str, *, last_year: int = DEFAULT_LAST_YEAR) -> list[ToolCall]:
    """The tool calls answering ``question`` (empty when out of scope or ambiguous)."""
    return understand(question, last_year=last_year).calls


# ------------------------------------------------------------------------------------------
# Vocabulary.

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
# Equivalent labels in the 2024 nomenclature (when that is the edition served).
LABELS_2024: dict[str, str] = {
    "Escroqueries et fraudes aux moyens de paiement": "Escroqueries",
    "Tentatives d'homicide": "Tentatives d'homicides",
    "Vols de véhicule": "Vols de véhicules",
    "Violences physiques hors cadre familial": "Autres coups et blessures volontaires",
    "Violences physiques intrafamiliales": "Coups et blessures volontaires intrafamiliaux",
    "Usage de stupéfiants (AFD)": "Usage de stupéfiants",
    "Usage de stupéfiants (hors AFD)": "Usage de stupéfiants",
}
# Words too broad to pick one indicator: the planner asks, offering these.
_THEFTS = ("Vols de véhicule", "Vols sans violence contre des personnes", "Vols violents sans arme",
           "Vols avec armes", "Vols dans les véhicules")
_VEHICLES = ("Vols de véhicule", "Vols dans les véhicules", "Vols d'accessoires sur véhicules")
AMBIGUOUS_WORDS: dict[str, tuple[str, ...]] = {
    "vols": _THEFTS,
    "vol": _THEFTS,
    "thefts": _THEFTS,
    "theft": _THEFTS,
    "robberies": ("Vols violents sans arme", "Vols avec armes"),
    "robbery": ("Vols violents sans arme", "Vols avec armes"),
    "violences": ("Violences physiques hors cadre familial", "Violences physiques intrafamiliales",
                  "Violences sexuelles"),
    "violence": ("Violences physiques hors cadre familial", "Violences physiques intrafamiliales",
                 "Violences sexuelles"),
    "violent crime": ("Violences physiques hors cadre familial", "Vols violents sans arme",
                      "Vols avec armes", "Violences sexuelles"),
    "vehicules": _VEHICLES,
    "vehicles": _VEHICLES,
    "voitures": _VEHICLES,
    "cars": _VEHICLES,
    "delinquance": (),
    "criminalite": (),
    "crime": (),
    "crimes": (),
    "insecurite": (),
}

# Short English labels for messages (the catalogue has the official ones).
LABEL_EN: dict[str, str] = {
    "Cambriolages de logement": "Residential burglaries",
    "Destructions et dégradations volontaires": "Criminal damage",
    "Escroqueries et fraudes aux moyens de paiement": "Fraud and payment fraud",
    "Homicides": "Homicides",
    "Tentatives d'homicide": "Attempted homicides",
    "Trafic de stupéfiants": "Drug trafficking",
    "Usage de stupéfiants": "Drug use",
    "Usage de stupéfiants (AFD)": "Drug use (fixed fines)",
    "Usage de stupéfiants (hors AFD)": "Drug use (excluding fixed fines)",
    "Violences physiques hors cadre familial": "Physical violence outside the family",
    "Violences physiques intrafamiliales": "Domestic physical violence",
    "Violences sexuelles": "Sexual violence",
    "Vols avec armes": "Armed robberies",
    "Vols d'accessoires sur véhicules": "Thefts of vehicle accessories",
    "Vols dans les véhicules": "Thefts from vehicles",
    "Vols de véhicule": "Vehicle thefts",
    "Vols sans violence contre des personnes": "Non-violent thefts from persons",
    "Vols violents sans arme": "Violent thefts without a weapon",
}

COUNTRY_PHRASES: dict[str, str] = {
    "france metropolitaine": "FM", "metropolitan france": "FM", "mainland france": "FM",
    "metropole": "FM", "hexagone": "FM", "france entiere": "FR", "toute la france": "FR",
    "whole of france": "FR", "all of france": "FR", "national": "FR", "nationale": "FR",
    "nationally": "FR", "niveau national": "FR", "france": "FR", "french": "FR", "francais": "FR",
    "pays": "FR", "country": "FR",
}
COUNTRY_NAMES = {"FR": "France", "FM": "France métropolitaine"}

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
REGION_WORDS = ("region", "regions", "regional", "regionale", "regionaux")
DEPARTMENT_WORDS = ("departement", "departements", "department", "departments", "departmental",
                    "departemental", "departementale", "dept", "depts", "dep")
NUMBER_WORDS = {
    "one": 1, "un": 1, "une": 1, "two": 2, "deux": 2, "three": 3, "trois": 3, "four": 4,
    "quatre": 4, "five": 5, "cinq": 5, "six": 6, "seven": 7, "sept": 7, "eight": 8, "huit": 8,
    "nine": 9, "neuf": 9, "ten": 10, "dix": 10,
}
_NUM = r"(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"
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
    rf"\b(?:next|coming|following|prochaines|prochains|suivantes|suivants)(?: {_NUM})?"
    rf" (?:years|year|ans|annees|an)\b|\b{_NUM} (?:prochaines|prochains|next|coming|following|"
    rf"years ahead|ans a venir|annees a venir|annees suivantes)(?: (?:annees|ans|years))?\b|"
    rf"\b(?:dans|in|within|sur|over|over the next|for the next|pour les) {_NUM} (?:ans|annees|"
    rf"years|year)\b"
)
LAST_RE = re.compile(
    rf"\b(?:last|past|previous|dernieres|derniers)(?: {_NUM})? (?:years|ans|annees)\b|"
    rf"\b{_NUM} (?:dernieres|derniers|last|past) (?:annees|ans|years)\b"
)
TOP_RE = re.compile(rf"\b(?:top|les|the) {_NUM}\b")
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

# Large cities: the data stop at departments, so a city stands for its department (with a note).
CITIES: dict[str, tuple[str, str]] = {
    "marseille": ("Marseille", "13"), "lyon": ("Lyon", "69"), "toulouse": ("Toulouse", "31"),
    "nice": ("Nice", "06"), "nantes": ("Nantes", "44"), "montpellier": ("Montpellier", "34"),
    "strasbourg": ("Strasbourg", "67"), "bordeaux": ("Bordeaux", "33"), "lille": ("Lille", "59"),
    "rennes": ("Rennes", "35"), "reims": ("Reims", "51"), "toulon": ("Toulon", "83"),
    "saint etienne": ("Saint-Étienne", "42"), "le havre": ("Le Havre", "76"),
    "grenoble": ("Grenoble", "38"), "dijon": ("Dijon", "21"), "angers": ("Angers", "49"),
    "nimes": ("Nîmes", "30"), "clermont ferrand": ("Clermont-Ferrand", "63"),
    "brest": ("Brest", "29"), "limoges": ("Limoges", "87"), "amiens": ("Amiens", "80"),
    "metz": ("Metz", "57"), "perpignan": ("Perpignan", "66"), "orleans": ("Orléans", "45"),
    "rouen": ("Rouen", "76"), "caen": ("Caen", "14"), "nancy": ("Nancy", "54"),
    "ajaccio": ("Ajaccio", "2A"), "bastia": ("Bastia", "2B"), "besancon": ("Besançon", "25"),
}


# ------------------------------------------------------------------------------------------
# Tables from the data layer, built once.


@dataclass(frozen=True)
class _AreaEntry:
    level: str  # "region" | "department" | "country"
    code: str
    name: str
    region_code: str | None


@dataclass(frozen=True)
class _Tables:
    areas: dict[tuple[str, str], _AreaEntry]
    alias_to_areas: dict[str, tuple[tuple[str, str], ...]]
    area_regex: re.Pattern[str]
    indicator_regex: re.Pattern[str]
    phrase_to_label: dict[str, str]
    ambiguous_regex: re.Pattern[str]
    departments_by_region: dict[str, tuple[str, ...]]


def _level_areas(level: str) -> Iterable[Any]:
    from oasis_mcp.data import geography

    return geography.areas(level)  # type: ignore[arg-type]


def _level_aliases(level: str) -> dict[str, str]:
    from oasis_mcp.data import geography

    return dict(geography.area_aliases(level))  # type: ignore[arg-type]


def _alternation(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile(r"(?<![0-9a-z])(?:" + "|".join(re.escape(p) for p in ordered)
                      + r")(?![0-9a-z])")


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    areas: dict[tuple[str, str], _AreaEntry] = {}
    alias_map: dict[str, list[tuple[str, str]]] = {}
    by_region: dict[str, list[str]] = {}
    for level in ("region", "department"):
        for area in _level_areas(level):
            entry = _AreaEntry(level, area.code, area.name, getattr(area, "region_code", None))
            areas[(level, area.code)] = entry
            if level == "department" and entry.region_code:
                by_region.setdefault(entry.region_code, []).append(area.code)
            for alias in (area.name, getattr(area, "name_en", None) or ""):
                folded = fold(alias)
                if folded and not folded.isdigit():
                    alias_map.setdefault(folded, []).append((level, area.code))
        for alias, code in _level_aliases(level).items():
            folded = fold(alias)
            if not folded or any(ch.isdigit() for ch in folded) or len(folded) < 3:
                continue
            if (level, code) not in areas:
                continue
            keys = alias_map.setdefault(folded, [])
            if (level, code) not in keys:
                keys.append((level, code))
    for code, name in COUNTRY_NAMES.items():
        areas[("country", code)] = _AreaEntry("country", code, name, None)
    phrase_to_label = _catalog_phrases()
    phrase_to_label.update((_stemmed(phrase), label)
                           for label, phrases in CHAT_INDICATOR_PHRASES.items()
                           for phrase in phrases)
    return _Tables(
        areas=areas,
        alias_to_areas={a: tuple(dict.fromkeys(k)) for a, k in alias_map.items()},
        area_regex=_alternation(alias_map),
        indicator_regex=_inflected_alternation(phrase_to_label),
        phrase_to_label=phrase_to_label,
        ambiguous_regex=_alternation(AMBIGUOUS_WORDS),
        departments_by_region={r: tuple(sorted(c)) for r, c in by_region.items()},
    )


def _catalog_phrases() -> dict[str, str]:
    """Slugs, labels and aliases of the newest catalogue (stemmed) -> official label, except
    those it gives to several indicators ("drugs") and the words it treats as too broad."""
    from oasis_mcp.data import indicators

    labels: dict[str, set[str]] = {}
    for ind in indicators.catalog():
        for name in (ind.slug, ind.label_fr, ind.label_en, *ind.aliases):
            labels.setdefault(_stemmed(fold(name)), set()).add(ind.label_fr)
    broad = {_stemmed(word) for word in AMBIGUOUS_WORDS}
    return {phrase: next(iter(found)) for phrase, found in labels.items()
            if phrase and len(found) == 1 and phrase not in broad}


def _stemmed(phrase: str) -> str:
    """A folded phrase with each word without its plural -s/-x, as the tools' lookup compares."""
    from oasis_mcp.data.lookup import stem

    return " ".join(stem(word) for word in phrase.split())


def _inflected_alternation(stemmed: Iterable[str]) -> re.Pattern[str]:
    """Like :func:`_alternation`, for stemmed phrases: each word also matches the forms that stem
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


def _former_regions() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Former regions (before 2016), as the tools know them: folded name -> (name, current
    region code, department codes)."""
    from oasis_mcp.data import geography

    return dict(getattr(geography, "_FORMER_REGIONS", {}))


@lru_cache(maxsize=1)
def _former_regex() -> re.Pattern[str]:
    names = _former_regions()
    return _alternation(names) if names else re.compile(r"(?!)")


@lru_cache(maxsize=1)
def _city_regex() -> re.Pattern[str]:
    return _alternation(CITIES)


@lru_cache(maxsize=4)
def _slugs(nomenclature: str | None) -> dict[str, str]:
    """Official label -> slug, for the indicators of the nomenclature served."""
    try:
        from oasis_mcp.data import indicators

        found = indicators.catalog(nomenclature) if nomenclature else indicators.catalog()
        return {ind.label_fr: ind.slug for ind in found}
    except Exception:  # the catalogue is optional for planning: fall back to folded labels
        return {}


def indicator_argument(label: str, nomenclature: str | None = None) -> str:
    """What to send as a tool's ``indicator`` argument for an official label (its slug)."""
    slugs = _slugs(nomenclature)
    if label in slugs:
        return slugs[label]
    old = LABELS_2024.get(label)
    if old and old in slugs:
        return slugs[old]
    return fold(label).replace(" ", "-")


# ------------------------------------------------------------------------------------------
# Reading a question.


@dataclass
class _Reading:
    text: str  # folded, with spaces around
    language: Language
    indicators: list[str]
    ambiguous: list[str]
    areas: list[_AreaEntry]
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


def _has(text: str, words: Iterable[str]) -> bool:
    return any(f" {w} " in text for w in words)


def _number(token: str | None) -> int | None:
    if token is None:
        return None
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _read(question: str, last_year: int) -> _Reading:
    tables = _tables()
    raw = question[:MAX_QUESTION_CHARS]
    text = f" {fold(raw)} "
    masked = text

    # Indicators (longest phrase first), then broad words that need a choice.
    indicators: list[str] = []
    indicator_spans: list[tuple[int, int]] = []
    for m in tables.indicator_regex.finditer(text):
        label = tables.phrase_to_label[_stemmed(m.group(0))]
        if label not in indicators:
            indicators.append(label)
        masked = _mask(masked, m.start(), m.end())
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
            masked = _mask(masked, m.start(1), m.end(1))
    former: list[tuple[str, str]] = []
    for m in _former_regex().finditer(masked):  # before "Normandie" in "Haute-Normandie"
        name, region_code, _ = _former_regions()[m.group(0)]
        if ("region", region_code) in tables.areas:
            found.append((m.start(), [("region", region_code)]))
            former.append((name, region_code))
            masked = _mask(masked, m.start(), m.end())
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
        masked = _mask(masked, m.start(), m.end())
    for m in BARE_CODE_RE.finditer(masked):
        code = m.group(1).upper()
        if ("department", code) in tables.areas:
            found.append((m.start(1), [("department", code)]))
            masked = _mask(masked, m.start(1), m.end(1))
    says_region = _has(masked, REGION_WORDS) and not _has(masked, DEPARTMENT_WORDS)
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
        masked = _mask(masked, m.start(1), m.end(1))
    cities: list[tuple[str, str]] = []
    for m in _city_regex().finditer(masked):
        name, code = CITIES[m.group(0)]
        if name == "Nice" and "Nice" not in raw:
            continue
        found.append((m.start(), [("department", code)]))
        cities.append((name, code))
        masked = _mask(masked, m.start(), m.end())
    country = None
    for phrase, code in sorted(COUNTRY_PHRASES.items(), key=lambda kv: -len(kv[0])):
        pos = masked.find(f" {phrase} ")
        if pos >= 0:
            country = country or code
            masked = _mask(masked, pos + 1, pos + 1 + len(phrase))

    level_word = None
    if _has(masked, DEPARTMENT_WORDS):
        level_word = "department"
    elif _has(masked, REGION_WORDS):
        level_word = "region"

    areas: list[_AreaEntry] = []
    found.sort(key=lambda item: item[0])
    for _, keys in found:
        choice = _pick_level(keys, level_word, found)
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
        horizon = _number(token) or (
            1 if token is None and " year " in hit.group(0) + " " else None
        )
        if horizon is None:
            horizon = MAX_HORIZON if token is None else None
    last_n = None
    hit = LAST_RE.search(masked)
    if hit:
        last_n = _number(next((g for g in hit.groups() if g), None)) or 5
    top_n = None
    hit = TOP_RE.search(masked)
    if hit:
        top_n = _number(hit.group(1))

    words_for_language = masked
    for start, end in indicator_spans:  # indicator words tell the language; area names do not
        words_for_language = words_for_language[:start] + text[start:end] + words_for_language[end:]
    language = _language(words_for_language, raw)
    return _Reading(
        text=text, language=language, indicators=indicators, ambiguous=ambiguous, areas=areas,
        country=country, years=years, start_year=start_year, end_year=end_year,
        target_year=target_year, horizon=horizon, last_n=last_n, top_n=top_n,
        level_word=level_word, masked=masked, cities=cities, former=former,
    )


def _pick_level(
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


def _language(masked: str, raw: str) -> Language:
    words = masked.split()
    fr = sum(w in FR_WORDS for w in words)
    en = sum(w in EN_WORDS for w in words)
    if fr == en:
        if any(ch in raw for ch in "éèêàùçôîœÉ") or re.search(r"\b[dlq]'", raw.lower()):
            return "fr"
        return "en"
    return "fr" if fr > en else "en"


# ------------------------------------------------------------------------------------------
# From a reading to calls.


def understand(
    question: str, *, last_year: int = DEFAULT_LAST_YEAR, nomenclature: str | None = None
) -> Plan:
    """Read ``question`` and decide which tools to call. Never raises on text."""
    if not isinstance(question, str) or not fold(question[:MAX_QUESTION_CHARS]):
        return _help(question if isinstance(question, str) else "", "en", intent="help")
    return _decide(question, _read(question, last_year), last_year, nomenclature)


def _decide(question: str, r: _Reading, last_year: int, nomenclature: str | None) -> Plan:
    """The plan for a reading of ``question`` (its own, or merged with earlier questions')."""
    t = r.masked
    ind = [indicator_argument(label, nomenclature) for label in r.indicators]
    tables = _tables()
    notes: list[str] = []
    for city, code in r.cities:
        dep = tables.areas[("department", code)].name
        notes.append(_say(
            r.language,
            f"{city} est une ville : les données s'arrêtent au département, voici donc les "
            f"chiffres du département {dep}.",
            f"{city} is a city; the data stop at departments, so these are the figures of the "
            f"{dep} department.",
        ))

    for name, code in r.former:
        region = tables.areas[("region", code)].name
        notes.append(_say(
            r.language,
            f"« {name} » est une ancienne région (fusionnée en 2016), aujourd'hui dans la région "
            f"{region} : voici les chiffres de {region}.",
            f"{name} is a former region (merged in 2016), now part of {region}: these are the "
            f"figures for {region}.",
        ))
    early = sorted({y for y in r.years if y < FIRST_YEAR})
    if early:
        notes.append(_say(
            r.language,
            f"Les données commencent en {FIRST_YEAR} : rien n'est disponible pour {early[0]}.",
            f"The data start in {FIRST_YEAR}: nothing is available for {early[0]}.",
        ))

    def area_arg(entry: _AreaEntry) -> str:
        return entry.name

    # Model quality.
    if _has(t, MODELS_WORDS) and not r.areas and (
        not r.indicators or _has(t, ("accurate", "accuracy", "fiable", "precis", "precision",
                                     "reliable", "mase", "backtest", "metrics"))
    ):
        level = r.level_word
        return Plan(question, r.language, "models",
                    [ToolCall("model_metrics", {"level": level} if level else {})])

    # Lists.
    if (_has(t, INDICATOR_LIST_WORDS) and not r.areas and not r.indicators) and (
        _has(t, LIST_WORDS) or len(t.split()) <= 3
    ):
        return Plan(question, r.language, "list_indicators", [ToolCall("list_indicators", {})])
    if not r.indicators and not r.ambiguous and r.level_word and not (
        _has(t, SUPERLATIVE_WORDS) and not r.areas
    ) and (_has(t, LIST_WORDS) or _has(t, ("in", "en", "of", "d", "de", "du")) or not r.areas):
        regions = [a for a in r.areas if a.level == "region"]
        args: dict[str, Any] = {"level": r.level_word}
        if r.level_word == "department" and regions:
            args["region"] = regions[0].name
        return Plan(question, r.language, "list_areas", [ToolCall("list_regions", args)])

    # Help / greetings / out of scope.
    if not r.indicators and not r.areas and r.country is None:
        if r.ambiguous:
            return _clarify_indicator(question, r)
        if _has(t, SUPERLATIVE_WORDS):  # "which region is worst?": worst for which indicator?
            return _clarify_indicator(question, r)
        if _has(t, HELP_WORDS):
            return _help(question, r.language, intent="help")
        return _help(question, r.language, intent="out_of_scope")
    if not r.indicators:
        if not r.ambiguous and _has(t, OFF_TOPIC_WORDS):
            return _help(question, r.language, intent="out_of_scope")
        return _clarify_indicator(question, r)

    measure = "rate_per_100k"
    if _has(t, COUNT_WORDS) and not _has(t, RATE_WORDS):
        measure = "count"
    extremum: Literal["max", "min"] = "min" if _has(t, MIN_WORDS) else "max"
    level = r.level_word
    wants_forecast = _has(t, FORECAST_WORDS) or r.horizon is not None or (
        r.target_year is not None and r.target_year > last_year
    ) or (r.end_year is not None and r.end_year > last_year)
    target = r.end_year or r.target_year
    horizon = r.horizon
    if horizon is None and target is not None and target > last_year:
        horizon = target - last_year
    if horizon is not None and horizon > MAX_HORIZON:
        notes.append(_say(r.language,
                          f"Les prévisions s'arrêtent à {last_year + MAX_HORIZON}.",
                          f"Forecasts stop at {last_year + MAX_HORIZON}."))
        horizon = MAX_HORIZON
    if horizon is not None and horizon < 1:
        horizon = None

    # Ranking: "which region has the most…", "top 5 departments…".
    within_region = (len(r.areas) == 1 and r.areas[0].level == "region"
                     and level == "department")  # "… in the departments of Occitanie"
    is_ranking = within_region or ((r.ranking or _has(t, RANKING_WORDS)) and not r.areas)
    if is_ranking:
        rank_level = level or "region"
        args = {"indicator": ind[0], "level": rank_level}
        year = _ranking_year(r, last_year)
        if year is not None:
            args["year"] = year
        if r.areas and rank_level == "department":
            args["areas"] = [tables.areas[("department", c)].name
                             for c in tables.departments_by_region.get(r.areas[0].code, ())]
        args["measure"] = measure
        ranking_calls = [ToolCall("compare_regions", args)]
        if (measure != "count" and extremum == "max" and _has(t, MOST_WORDS)
                and not _has(t, RATE_WORDS) and not _has(t, SUPERLATIVE_WORDS)):
            ranking_calls.append(ToolCall("compare_regions", {**args, "measure": "count"}))
        return Plan(question, r.language, "ranking", ranking_calls,
                    measure=measure, extremum=extremum, top_n=r.top_n, notes=notes)

    areas = r.areas[:MAX_AREAS]
    if not areas:
        code = r.country or "FR"
        areas = [tables.areas[("country", code)]]
        unknown = _unknown_place(question)
        guess = _close_area(unknown, r.level_word) if unknown and r.country is None else None
        if guess is not None:
            areas = [guess]
            notes.append(_say(
                r.language,
                f"« {unknown} » : j'ai compris {guess.name}.",
                f"'{unknown}': read as {guess.name}.",
            ))
        elif unknown and r.country is None:
            notes.append(_say(
                r.language,
                f"« {unknown} » n'est pas une région ni un département que je connais : voici "
                "les chiffres de la France entière.",
                f"'{unknown}' is not a region or department I know, so here are the figures "
                "for France as a whole.",
            ))

    # Comparison of several named areas.
    if len(areas) >= 2 or (_has(t, COMPARE_WORDS) and len(areas) >= 2):
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
    return Plan(question, r.language, intent, calls, measure=measure, notes=notes)


# ------------------------------------------------------------------------------------------
# Follow-up questions: "and in Normandy?", "et en 2030 ?", "compared to Normandy".

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
    nomenclature: str | None = None,
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
    reading = _read(chain[0], last_year)
    for text in [*chain[1:], question]:
        reading = _follow(reading, _read(text, last_year), text, last_year)
    result = _decide(question, reading, last_year, nomenclature)
    if not result.calls and result.intent != "clarify":
        return None
    return result


def _starts(folded: str, openers: Iterable[str]) -> bool:
    return _opener(folded, openers) is not None


def _opener(folded: str, openers: Iterable[str]) -> str | None:
    """The longest of ``openers`` that ``folded`` starts with (as whole words), or None."""
    found = [o for o in openers if folded == o or folded.startswith(o + " ")]
    return max(found, key=len) if found else None


def _names_something(r: _Reading, question: str, opener: str) -> bool:
    """Whether a follow-up names, after its opener, something that can change the question
    before: an indicator (or a broad word), a place (even unknown), a year, a horizon, a level,
    or a kind of answer (forecast, ranking, count or rate). "Contre quoi lutte la police ?" or
    "et alors ?" names nothing: not a follow-up."""
    if (r.indicators or r.ambiguous or r.areas or r.country or r.cities or r.years
            or r.horizon is not None or r.last_n is not None or r.top_n or r.level_word
            or _unknown_place(question)):
        return True
    rest = " " * (len(opener) + 1) + r.masked[len(opener) + 1:]  # masked is " folded "
    return _has(rest, (*FORECAST_WORDS, *RANKING_WORDS, *COUNT_WORDS, *RATE_WORDS))


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
    r = _read(question, last_year)
    alone = _decide(question, r, last_year, None)
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
            and _has(r.masked, SUPERLATIVE_WORDS)
            and not (r.level_word and _asks_where(question, folded))):
        # "which region is worst?", "où est-ce le pire ?" (but "Où sont les pires départements ?"
        # is a question of its own, as every "where" naming what it asks about)
        return True
    # "Normandy?", "2030 ?", "Brittany vs Normandy": nothing to answer alone, but a place or a
    # year that the question before can complete ("What is the population of Bretagne?" is not).
    return (len(words) <= 4 and not alone.calls and not _has(r.masked, OFF_TOPIC_WORDS)
            and not _has(r.masked, HELP_WORDS) and bool(r.areas or r.country or r.years))


@lru_cache(maxsize=1)
def _forecast_regex() -> re.Pattern[str]:
    return _alternation(FORECAST_WORDS)


def _follow(base: _Reading, new: _Reading, question: str, last_year: int) -> _Reading:
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
    tables = _tables()
    joins = _has(new.masked, JOIN_WORDS)

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
            def with_country(entries: list[_AreaEntry], code: str | None) -> list[_AreaEntry]:
                return [*entries, tables.areas[("country", code)]] if code else entries

            before = base.areas or with_country([], base.country)
            areas = list(dict.fromkeys([*before, *with_country(new.areas, new.country)]))
            country, cities = None, [*base.cities, *new.cities]
        else:
            areas, country, cities = new.areas, new.country, new.cities
        level_word = new.level_word or level_word
    elif _unknown_place(question):  # "and in Atlantis?": no longer the earlier area
        areas, country, cities = [], None, []
        level_word = new.level_word or level_word
    elif new.level_word:
        level_word = new.level_word
        one_region = len(base.areas) == 1 and base.areas[0].level == "region"
        departments = bool(base.areas) and all(a.level == "department" for a in base.areas)
        if level_word == "department" and one_region:
            pass  # the departments of that region
        elif level_word == "region" and departments and not _has(new.masked, RANKING_WORDS):
            # "and the region?" after a department: its region.
            codes = [a.region_code for a in base.areas if a.region_code]
            areas = list(dict.fromkeys(tables.areas[("region", c)] for c in codes
                                       if ("region", c) in tables.areas))
            country, cities = None, []
        else:  # "and the regions?": all of them, ranked
            areas, country, cities, ranking = [], None, [], True
    elif _has(new.masked, SUPERLATIVE_WORDS):  # "où est-ce le pire ?": a ranking of all
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


_PLACE_RE = re.compile(
    r"(?:\b(?:à|a|en|in|dans|au|aux|pour|for|at|of|de|du)\s+(?:le |la |les |l'|l’|the )?)"
    r"([A-ZÀ-Ý][\w'’-]{2,}(?:[ -][A-ZÀ-Ý][\w'’-]+)*)"
)


def _unknown_place(question: str) -> str | None:
    """A capitalised name after a place preposition that matched no area ("à Atlantis")."""
    tables = _tables()
    for m in _PLACE_RE.finditer(question[:MAX_QUESTION_CHARS]):
        name = m.group(1)
        folded = fold(name)
        if (folded in tables.alias_to_areas or folded in COUNTRY_PHRASES or folded in CITIES
                or tables.indicator_regex.fullmatch(folded) or YEAR_RE.fullmatch(folded)):
            continue
        if folded.split()[0] in FR_WORDS | EN_WORDS:
            continue
        return name
    return None


def _close_area(name: str, level_word: str | None) -> _AreaEntry | None:
    """The area whose name is closest to a misspelt one ("Bretgane"), when one is close enough."""
    tables = _tables()
    close = difflib.get_close_matches(fold(name), list(tables.alias_to_areas), n=1, cutoff=0.8)
    if not close:
        return None
    keys = list(tables.alias_to_areas[close[0]])
    return tables.areas[_pick_level(keys, level_word, [])]


def _ranking_year(r: _Reading, last_year: int) -> int | None:
    # "since 2016" alone is not the year to rank: that is the latest (the tool's default).
    year = r.target_year or r.end_year or next(
        (y for y in reversed(r.years) if y != r.start_year), None)
    if year is None and r.horizon:
        year = last_year + min(r.horizon, MAX_HORIZON)
    if year is not None:
        year = max(FIRST_YEAR, min(year, last_year + MAX_HORIZON))
    return year


def _history_args(
    area: _AreaEntry, indicator: str, r: _Reading, last_year: int, *, single_year: bool = True
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


def _forecast_args(area: _AreaEntry, indicator: str, horizon: int | None) -> dict[str, Any]:
    args: dict[str, Any] = {"area": area.name, "indicator": indicator, "level": area.level}
    if horizon is not None:
        args["horizon"] = horizon
    return args


def _say(language: Language, fr: str, en: str) -> str:
    return fr if language == "fr" else en


EXAMPLES = {
    "fr": [
        "Évolution des cambriolages en Bretagne depuis 2016",
        "Prévision des violences sexuelles en Île-de-France jusqu'en 2030",
        "Quelle région a le plus de vols de véhicules en 2025 ?",
        "Liste des départements d'Occitanie",
        "Quelle est la précision de vos prévisions ?",
    ],
    "en": [
        "Burglaries in Brittany since 2016",
        "Forecast sexual violence in Île-de-France until 2030",
        "Which region has the most car thefts in 2025?",
        "Compare drug trafficking in the Nord and the Bouches-du-Rhône",
        "How accurate are your forecasts?",
    ],
}


def _help(question: str, language: Language, *, intent: Intent) -> Plan:
    if intent == "help":
        message = _say(
            language,
            "Je réponds sur la délinquance enregistrée par la police et la gendarmerie (SSMSI, "
            "2016 à aujourd'hui) : historique d'un indicateur dans une région ou un département, "
            "prévisions jusqu'en 2030 avec intervalles, classements et comparaisons, qualité des "
            "modèles, listes des régions, départements et indicateurs.",
            "I answer questions on crime recorded by the French police and gendarmerie (SSMSI, "
            "2016 to date): the history of an indicator in a region or department, forecasts to "
            "2030 with intervals, rankings and comparisons, model quality, and lists of regions, "
            "departments and indicators.",
        )
    else:
        message = _say(
            language,
            "Je n'ai pas compris la question ou elle sort de mon domaine : je ne connais que les "
            "statistiques de délinquance enregistrée (SSMSI) par région et département. "
            "Par exemple :",
            "I could not match this question to what I know: recorded-crime statistics (SSMSI) "
            "for French regions and departments. For example:",
        )
    return Plan(question, language, intent, [], message=message,
                suggestions=list(EXAMPLES[language]))


def _clarify_indicator(question: str, r: _Reading) -> Plan:
    options: Sequence[str] = ()
    for word in r.ambiguous:
        options = AMBIGUOUS_WORDS.get(word, ()) or options
    if not options:
        options = ("Cambriolages de logement", "Vols de véhicule", "Violences sexuelles",
                   "Violences physiques intrafamiliales", "Trafic de stupéfiants",
                   "Escroqueries et fraudes aux moyens de paiement")
    where = r.areas[0].name if r.areas else ("France" if r.country else None)
    if r.language == "fr":
        names = list(options)
        what = f"« {r.ambiguous[0]} »" if r.ambiguous else "l'indicateur"
        message = (
            f"Précisez {what} : il n'y a pas d'indicateur global de la délinquance, mais 18 séries "
            f"distinctes. Par exemple : {', '.join(names[:6])}."
            if not r.ambiguous or r.ambiguous[0] in ("delinquance", "criminalite", "crime",
                                                     "crimes", "insecurite")
            else f"« {r.ambiguous[0]} » couvre plusieurs indicateurs : {', '.join(names)}. "
            "Lequel voulez-vous ?"
        )
        suggestions = [f"Évolution des {n.lower()}" + (f" en {where}" if where else "")
                       for n in names[:4]]
    else:
        names = [LABEL_EN.get(o, o) for o in options]
        generic = not r.ambiguous or r.ambiguous[0] in ("delinquance", "criminalite", "crime",
                                                        "crimes", "insecurite")
        message = (
            "Which indicator? There is no single total for crime, but 18 separate series, "
            f"for example: {', '.join(names[:6])}."
            if generic
            else f"'{r.ambiguous[0]}' covers several indicators: {', '.join(names)}. "
            "Which one do you mean?"
        )
        suggestions = [f"{n} in {where} since 2016" if where else f"{n} in France since 2016"
                       for n in names[:4]]
    return Plan(question, r.language, "clarify", [], message=message, suggestions=suggestions)
