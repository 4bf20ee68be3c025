"""French geography reference: the 18 regions and 101 departments of the INSEE COG 2025, two
country aggregates (``FR`` France, ``FM`` France métropolitaine) and name resolution.

Codes are strings exactly as in the SSMSI files ("01", "2A", "971"). A code means different areas
at different levels: region "06" is Mayotte, department "06" is Alpes-Maritimes.

Resolution rules of :func:`resolve_area` (first rule that applies wins):

1. a code of the asked level ("1" -> "01", "2a" -> "2A"); with ``level=None`` a bare code is read as
   a department number (the French convention, "le 93"), then a region, then a country code;
2. an exact (folded, plural-insensitive) name or alias of the asked level(s);
3. a leading level word is dropped and implies the level ("région Bretagne", "département du Nord");
4. a name of another level than the one asked is an error that says so ("Paris" at level region);
5. a former region (before 2016) whose name is not part of a current name is an error naming its
   current region and departments ("Alsace");
6. overseas France as a whole ("outre-mer", "DOM", "DROM", "overseas") is an error naming the five
   overseas regions and FR/FM; a connecting word alone ("hors") names nothing;
7. an unambiguous prefix or whole-word match ("Bourgogne", "Aquitaine", "Auvergne");
8. otherwise UnknownNameError with the closest names.

With ``level=None`` a name matching several levels equally is ambiguous (AmbiguousNameError lists
each area with its level), except when the matches are one overseas region and its single
department (Guadeloupe, Martinique, Guyane, La Réunion, Mayotte: the same territory and figures):
the department is returned, as for bare codes. Pass ``level="region"`` to get the region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from oasis_mcp.data.lookup import (
    MAX_QUERY_LENGTH,
    NameMatcher,
    Tier,
    ambiguous_error,
    check_query,
    partial_match_note,
    shown,
    unknown_error,
)
from oasis_mcp.errors import UnknownNameError
from oasis_mcp.text import fold

Level = Literal["department", "region", "country"]
LEVELS: tuple[Level, ...] = get_args(Level)


@dataclass(frozen=True)
class Area:
    """A department, region or country aggregate."""

    code: str
    name: str
    level: Level
    region_code: str | None  # parent region of a department, None otherwise
    name_en: str | None = None  # English name when it differs from the French one

    @property
    def label(self) -> str:
        """``"Bretagne (53)"``: how areas are shown in messages (resolves back to the area)."""
        return f"{self.name} ({self.code})"


# -- Reference tables (INSEE COG 2025) ------------------------------------------------------------

# code, name, English name
_REGIONS: tuple[tuple[str, str, str | None], ...] = (
    ("01", "Guadeloupe", None),
    ("02", "Martinique", None),
    ("03", "Guyane", "French Guiana"),
    ("04", "La Réunion", "Réunion"),
    ("06", "Mayotte", None),
    ("11", "Île-de-France", None),
    ("24", "Centre-Val de Loire", "Centre-Loire Valley"),
    ("27", "Bourgogne-Franche-Comté", "Burgundy-Franche-Comté"),
    ("28", "Normandie", "Normandy"),
    ("32", "Hauts-de-France", None),
    ("44", "Grand Est", None),
    ("52", "Pays de la Loire", None),
    ("53", "Bretagne", "Brittany"),
    ("75", "Nouvelle-Aquitaine", None),
    ("76", "Occitanie", "Occitania"),
    ("84", "Auvergne-Rhône-Alpes", None),
    ("93", "Provence-Alpes-Côte d'Azur", None),
    ("94", "Corse", "Corsica"),
)

# code, name, region code (COG order: 2A and 2B follow 19)
_DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("01", "Ain", "84"),
    ("02", "Aisne", "32"),
    ("03", "Allier", "84"),
    ("04", "Alpes-de-Haute-Provence", "93"),
    ("05", "Hautes-Alpes", "93"),
    ("06", "Alpes-Maritimes", "93"),
    ("07", "Ardèche", "84"),
    ("08", "Ardennes", "44"),
    ("09", "Ariège", "76"),
    ("10", "Aube", "44"),
    ("11", "Aude", "76"),
    ("12", "Aveyron", "76"),
    ("13", "Bouches-du-Rhône", "93"),
    ("14", "Calvados", "28"),
    ("15", "Cantal", "84"),
    ("16", "Charente", "75"),
    ("17", "Charente-Maritime", "75"),
    ("18", "Cher", "24"),
    ("19", "Corrèze", "75"),
    ("2A", "Corse-du-Sud", "94"),
    ("2B", "Haute-Corse", "94"),
    ("21", "Côte-d'Or", "27"),
    ("22", "Côtes-d'Armor", "53"),
    ("23", "Creuse", "75"),
    ("24", "Dordogne", "75"),
    ("25", "Doubs", "27"),
    ("26", "Drôme", "84"),
    ("27", "Eure", "28"),
    ("28", "Eure-et-Loir", "24"),
    ("29", "Finistère", "53"),
    ("30", "Gard", "76"),
    ("31", "Haute-Garonne", "76"),
    ("32", "Gers", "76"),
    ("33", "Gironde", "75"),
    ("34", "Hérault", "76"),
    ("35", "Ille-et-Vilaine", "53"),
    ("36", "Indre", "24"),
    ("37", "Indre-et-Loire", "24"),
    ("38", "Isère", "84"),
    ("39", "Jura", "27"),
    ("40", "Landes", "75"),
    ("41", "Loir-et-Cher", "24"),
    ("42", "Loire", "84"),
    ("43", "Haute-Loire", "84"),
    ("44", "Loire-Atlantique", "52"),
    ("45", "Loiret", "24"),
    ("46", "Lot", "76"),
    ("47", "Lot-et-Garonne", "75"),
    ("48", "Lozère", "76"),
    ("49", "Maine-et-Loire", "52"),
    ("50", "Manche", "28"),
    ("51", "Marne", "44"),
    ("52", "Haute-Marne", "44"),
    ("53", "Mayenne", "52"),
    ("54", "Meurthe-et-Moselle", "44"),
    ("55", "Meuse", "44"),
    ("56", "Morbihan", "53"),
    ("57", "Moselle", "44"),
    ("58", "Nièvre", "27"),
    ("59", "Nord", "32"),
    ("60", "Oise", "32"),
    ("61", "Orne", "28"),
    ("62", "Pas-de-Calais", "32"),
    ("63", "Puy-de-Dôme", "84"),
    ("64", "Pyrénées-Atlantiques", "75"),
    ("65", "Hautes-Pyrénées", "76"),
    ("66", "Pyrénées-Orientales", "76"),
    ("67", "Bas-Rhin", "44"),
    ("68", "Haut-Rhin", "44"),
    ("69", "Rhône", "84"),
    ("70", "Haute-Saône", "27"),
    ("71", "Saône-et-Loire", "27"),
    ("72", "Sarthe", "52"),
    ("73", "Savoie", "84"),
    ("74", "Haute-Savoie", "84"),
    ("75", "Paris", "11"),
    ("76", "Seine-Maritime", "28"),
    ("77", "Seine-et-Marne", "11"),
    ("78", "Yvelines", "11"),
    ("79", "Deux-Sèvres", "75"),
    ("80", "Somme", "32"),
    ("81", "Tarn", "76"),
    ("82", "Tarn-et-Garonne", "76"),
    ("83", "Var", "93"),
    ("84", "Vaucluse", "93"),
    ("85", "Vendée", "52"),
    ("86", "Vienne", "75"),
    ("87", "Haute-Vienne", "75"),
    ("88", "Vosges", "44"),
    ("89", "Yonne", "27"),
    ("90", "Territoire de Belfort", "27"),
    ("91", "Essonne", "11"),
    ("92", "Hauts-de-Seine", "11"),
    ("93", "Seine-Saint-Denis", "11"),
    ("94", "Val-de-Marne", "11"),
    ("95", "Val-d'Oise", "11"),
    ("971", "Guadeloupe", "01"),
    ("972", "Martinique", "02"),
    ("973", "Guyane", "03"),
    ("974", "La Réunion", "04"),
    ("976", "Mayotte", "06"),
)

_DEPARTMENT_NAMES_EN = {"2A": "South Corsica", "2B": "Upper Corsica", "973": "French Guiana",
                        "974": "Réunion"}

_COUNTRIES: tuple[tuple[str, str, str], ...] = (
    ("FR", "France", "France"),
    ("FM", "France métropolitaine", "Metropolitan France"),
)

# Common names besides the official and English ones (matched folded; plural-insensitive).
_REGION_ALIASES: dict[str, tuple[str, ...]] = {
    "03": ("Guyane française",),
    "04": ("Réunion", "Reunion Island", "Île de la Réunion"),
    "11": ("IDF", "Paris region", "Région parisienne"),
    "24": ("Centre", "CVL"),
    "27": ("BFC", "Bourgogne", "Burgundy"),
    "32": ("HDF",),
    "52": ("Pays de Loire", "PDL"),
    "75": ("New Aquitaine",),
    "84": ("ARA", "AURA"),
    "93": ("PACA", "Région Sud", "Provence-Alpes-Côte-d'Azur"),
    "94": ("Collectivité de Corse",),
}
_DEPARTMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "2A": ("Corse du Sud",),
    "2B": ("Haute Corse",),
    "90": ("Belfort",),
    "93": ("Seine-St-Denis",),
    "973": ("Guyane française",),
    "974": ("Réunion", "Reunion Island", "Île de la Réunion"),
}
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "FR": ("France entière", "toute la France", "ensemble de la France", "national",
           "nationwide", "whole country", "all of France"),
    "FM": ("Métropole", "France métropole", "mainland France", "Hexagone", "France hexagonale",
           "France hors outre-mer"),
}
_CORSICA_OLD_CODE = "20"  # Corsica's single department before 1976: ambiguous between 2A and 2B

# Former regions (before 2016) whose name is not part of a current region name:
# folded name -> (name, current region code, department codes).
_FORMER_REGIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "alsace": ("Alsace", "44", ("67", "68")),
    "lorraine": ("Lorraine", "44", ("54", "55", "57", "88")),
    "champagne ardenne": ("Champagne-Ardenne", "44", ("08", "10", "51", "52")),
    "picardie": ("Picardie", "32", ("02", "60", "80")),
    "picardy": ("Picardie", "32", ("02", "60", "80")),
    "nord pas de calais": ("Nord-Pas-de-Calais", "32", ("59", "62")),
    "haute normandie": ("Haute-Normandie", "28", ("27", "76")),
    "upper normandy": ("Haute-Normandie", "28", ("27", "76")),
    "basse normandie": ("Basse-Normandie", "28", ("14", "50", "61")),
    "lower normandy": ("Basse-Normandie", "28", ("14", "50", "61")),
    "limousin": ("Limousin", "75", ("19", "23", "87")),
    "poitou charentes": ("Poitou-Charentes", "75", ("16", "17", "79", "86")),
    "languedoc roussillon": ("Languedoc-Roussillon", "76", ("11", "30", "34", "48", "66")),
    "midi pyrenees": ("Midi-Pyrénées", "76", ("09", "12", "31", "32", "46", "65", "81", "82")),
    "languedoc": ("Languedoc-Roussillon", "76", ("11", "30", "34", "48", "66")),
    "roussillon": ("Languedoc-Roussillon", "76", ("11", "30", "34", "48", "66")),
    "champagne": ("Champagne-Ardenne", "44", ("08", "10", "51", "52")),
    "midi": ("Midi-Pyrénées", "76", ("09", "12", "31", "32", "46", "65", "81", "82")),
}
# Former regions whose name is part of a current one: they resolve to it, with a note saying so.
_FORMER_REGION_PARTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "auvergne": ("Auvergne", "84", ("03", "15", "43", "63")),
    "rhone alpes": ("Rhône-Alpes", "84", ("01", "07", "26", "38", "42", "69", "73", "74")),
    "aquitaine": ("Aquitaine", "75", ("24", "33", "40", "47", "64")),
    "bourgogne": ("Bourgogne", "27", ("21", "58", "71", "89")),
    "burgundy": ("Bourgogne", "27", ("21", "58", "71", "89")),
    "franche comte": ("Franche-Comté", "27", ("25", "39", "70", "90")),
}

# Large cities: the data stop at departments, so a city name is explained, never resolved
# (Paris is also a department and resolves). Folded name -> (name, department code).
_CITIES: dict[str, tuple[str, str]] = {
    fold(name): (name, code)
    for name, code in (
        ("Marseille", "13"), ("Lyon", "69"), ("Toulouse", "31"), ("Nice", "06"),
        ("Nantes", "44"), ("Montpellier", "34"), ("Strasbourg", "67"), ("Bordeaux", "33"),
        ("Lille", "59"), ("Rennes", "35"), ("Reims", "51"), ("Toulon", "83"),
        ("Saint-Étienne", "42"), ("Le Havre", "76"), ("Grenoble", "38"), ("Dijon", "21"),
        ("Angers", "49"), ("Nîmes", "30"), ("Clermont-Ferrand", "63"), ("Aix-en-Provence", "13"),
        ("Brest", "29"), ("Tours", "37"), ("Amiens", "80"), ("Limoges", "87"), ("Metz", "57"),
        ("Besançon", "25"), ("Perpignan", "66"), ("Orléans", "45"), ("Rouen", "76"),
        ("Caen", "14"), ("Nancy", "54"), ("Ajaccio", "2A"), ("Bastia", "2B"),
    )
}

# Overseas France as a whole is no area of the data (only FR, with it, and FM, without it): these
# folded queries get an error naming the overseas regions instead of a partial match ("outre-mer"
# once resolved to FM through the alias "France hors outre-mer").
_OVERSEAS_WORDS = frozenset({"outremer", "overseas", "dom", "drom", "tom", "domtom"})
_OVERSEAS_PHRASE = re.compile(r"\boutre mer\b")
_NON_IDENTIFYING = frozenset({"hors", "sans", "excluding", "except", "without"})
"""Words that never name an area on their own ("hors" of "France hors outre-mer")."""

_TOKEN_MAP = {"st": "saint", "ste": "sainte"}

_HINTS: dict[str, str] = {
    "region": "Use a code or a name; list_regions lists them.",
    "department": "Use a code (e.g. '13', '2A', '971') or a name; "
    "list_regions(level='department') lists them.",
    "country": "Use 'FR' (France) or 'FM' (France métropolitaine).",
    "area": "Use a department or region code or name, or 'France'; "
    "list_regions(level='region' or 'department') lists them.",
}
_AMBIGUOUS_HINT = "Use the full name or the code."

# -- Built once at import -------------------------------------------------------------------------

_AREAS: dict[Level, tuple[Area, ...]] = {
    "region": tuple(Area(c, n, "region", None, en) for c, n, en in _REGIONS),
    "department": tuple(
        Area(c, n, "department", r, _DEPARTMENT_NAMES_EN.get(c)) for c, n, r in _DEPARTMENTS
    ),
    "country": tuple(Area(c, n, "country", None, en) for c, n, en in _COUNTRIES),
}
_BY_CODE: dict[Level, dict[str, Area]] = {
    level: {a.code: a for a in found} for level, found in _AREAS.items()
}
METROPOLITAN_DEPARTMENT_CODES: frozenset[str] = frozenset(
    a.code for a in _AREAS["department"] if len(a.code) == 2
)
_OVERSEAS_REGION_CODES = frozenset({"01", "02", "03", "04", "06"})
_EXTRA_ALIASES: dict[Level, dict[str, tuple[str, ...]]] = {
    "region": _REGION_ALIASES, "department": _DEPARTMENT_ALIASES, "country": _COUNTRY_ALIASES,
}


def _name_entries(level: Level) -> list[tuple[str, Area]]:
    entries: list[tuple[str, Area]] = []
    for area in _AREAS[level]:
        entries.append((area.name, area))
        if area.name_en:
            entries.append((area.name_en, area))
        entries.extend((alias, area) for alias in _EXTRA_ALIASES[level].get(area.code, ()))
    return entries


def _code_entries(level: Level) -> list[tuple[str, Area]]:
    entries: list[tuple[str, Area]] = []
    for area in _AREAS[level]:
        entries.append((area.code, area))
        entries.append((area.label, area))  # "Bretagne (53)": suggestions resolve back
    if level == "department":
        entries.extend((_CORSICA_OLD_CODE, _BY_CODE["department"][c]) for c in ("2A", "2B"))
    return entries


def _describe_with_level(area: Area) -> str:
    return f"{area.name} ({area.level} {area.code})"


_MATCHERS: dict[Level, NameMatcher[Area]] = {
    level: NameMatcher(
        _name_entries(level) + _code_entries(level),
        kind=level,
        label=lambda a: a.label,
        hint=_HINTS[level],
        ambiguous_hint=_AMBIGUOUS_HINT,
        token_map=_TOKEN_MAP,
    )
    for level in LEVELS
}
_NAME_ALIASES: dict[Level, dict[str, str]] = {
    level: {
        alias: area.code
        for alias, area in NameMatcher(_name_entries(level), kind=level).aliases().items()
    }
    for level in LEVELS
}
_CODE_ALIASES: dict[Level, dict[str, str]] = {
    level: {fold(a.code): a.code for a in _AREAS[level]} for level in LEVELS
}
_LEVEL_MATCHER: NameMatcher[Level] = NameMatcher(
    [
        ("department", "department"), ("departement", "department"), ("dept", "department"),
        ("dep", "department"), ("dpt", "department"), ("region", "region"),
        ("country", "country"), ("pays", "country"), ("national", "country"),
        ("nation", "country"),
    ],
    kind="level",
    hint="Use 'department', 'region' or 'country'.",
)
_LEVEL_WORDS: dict[str, Level] = {
    "region": "region", "regions": "region", "departement": "department",
    "departements": "department", "department": "department", "departments": "department",
    "dept": "department", "dep": "department", "dpt": "department",
}
_FILLER_WORDS = frozenset({"de", "du", "des", "d", "of", "the", "la", "le", "les", "l"})
_CODE = re.compile(r"[0-9]{1,3}|2[ab]|f[rm]")


# -- Public API -----------------------------------------------------------------------------------


def resolve_level(query: str) -> Level:
    """``"department"``, ``"région"``, ``"departements"``, ``"country"``... -> a :data:`Level`."""
    if query in LEVELS:
        return query  # type: ignore[return-value]
    return _LEVEL_MATCHER.resolve(query)


def areas(level: Level) -> list[Area]:
    """Every area of a level, in code order (COG order for departments: 2A and 2B after 19)."""
    return list(_AREAS[resolve_level(level)])


def get_area(code: str, level: Level) -> Area:
    """The area with this exact code at this level ("1" and "2a" are accepted as "01", "2A")."""
    lvl = resolve_level(level)
    folded = check_query(code, f"{lvl} code", _HINTS[lvl])
    normalized = _as_code(folded) or ""
    if normalized in _BY_CODE[lvl]:
        return _BY_CODE[lvl][normalized]
    elsewhere = [_BY_CODE[o][normalized] for o in LEVELS if o != lvl and normalized in _BY_CODE[o]]
    if elsewhere:
        raise _wrong_level(code, elsewhere, lvl)
    close = _MATCHERS[lvl].suggest(code)
    raise unknown_error(
        code, f"{lvl} code", [a.label for a in close], f"{_HINTS[lvl]} (resolve_area takes names.)"
    )


def resolve_area(query: str, level: Level | None = None) -> Area:
    """Resolve a code, name, alias or English name to one area (see the module docstring).

    Raises UnknownNameError (with suggestions) or AmbiguousNameError, never anything else for a
    str query.
    """
    lvl = resolve_level(level) if level is not None else None
    kind = lvl or "area"
    if isinstance(query, int) and not isinstance(query, bool):
        query = str(query)
    folded = check_query(query, kind, _HINTS[kind])
    normalized = " ".join(_TOKEN_MAP.get(w, w) for w in folded.split())
    return _resolve(query, normalized, lvl, allow_strip=True)


def resolution_notes(query: object, area: Area) -> list[str]:
    """Warnings for a query that resolved, but maybe not to what was meant: a bare number read as
    a region code that is also a department number ("75" at level region is Nouvelle-Aquitaine,
    not Paris), a former region read as the current region containing it ("Auvergne"), or a part
    of a name read as the whole ("Bret" as Bretagne)."""
    notes = _region_notes(query, area)
    return notes or _partial_name_notes(query, area)


def _partial_name_notes(query: object, area: Area) -> list[str]:
    """A prefix or some words of a name read as that name (lookup.partial_match_note)."""
    matcher = _MATCHERS.get(area.level)
    if matcher is None or not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH:
        return []
    folded = " ".join(_TOKEN_MAP.get(w, w) for w in fold(query).split())
    if not folded or _as_code(folded):
        return []
    stripped = _strip_level_words(folded)
    found = [(tier, text) for text in (folded, *(stripped[:1] if stripped else ()))
             if (tier := matcher.tier_of(text, area)) is not None]
    if not found:
        return []
    tier, text = min(found)
    note = partial_match_note(query, area.label, area.level, tier,
                              None if text == folded else text)
    return [note] if note else []


def _region_notes(query: object, area: Area) -> list[str]:
    """A region code that is also a department number; a former region (see above)."""
    if area.level != "region" or not isinstance(query, str | int) or isinstance(query, bool):
        return []
    text = str(query).strip()
    if text.isdigit():
        code = _as_code(text)
        department = _BY_CODE["department"].get(code or "")
        if department is None or code != area.code:
            return []
        return [
            f"'{shown(text)}' was read as the region code {area.code} ({area.name}); for the "
            f"department {department.code} ({department.name}) use level='department'."
        ]
    folded = " ".join(_TOKEN_MAP.get(w, w) for w in fold(text).split())
    stripped = _strip_level_words(folded)
    former = _FORMER_REGION_PARTS.get(stripped[0] if stripped else folded)
    if former is None or former[1] != area.code:
        return []
    name, _, codes = former
    members = ", ".join(_BY_CODE["department"][c].label for c in codes)
    return [
        f"'{shown(text)}' was read as the region {area.label}, which since 2016 includes the "
        f"former region {name} (departments {members}); for one of these departments alone use "
        "level='department'."
    ]


def departments_of(code: str) -> list[Area]:
    """Departments of a region code (or of a country code: ``FR`` all, ``FM`` metropolitan)."""
    folded = check_query(code, "region code", _HINTS["region"])
    normalized = _as_code(folded)
    if normalized == "FR":
        return list(_AREAS["department"])
    if normalized == "FM":
        return [a for a in _AREAS["department"] if a.code in METROPOLITAN_DEPARTMENT_CODES]
    if normalized in _BY_CODE["region"]:
        return [a for a in _AREAS["department"] if a.region_code == normalized]
    close = _MATCHERS["region"].suggest(code)
    raise unknown_error(code, "region code", [a.label for a in close], _HINTS["region"])


def region_of(department_code: str) -> Area:
    """The region of a department code."""
    department = get_area(department_code, "department")
    assert department.region_code is not None
    return _BY_CODE["region"][department.region_code]


def is_metropolitan(code: str, level: Level = "department") -> bool:
    """True for metropolitan departments and regions, and for ``FM`` (False for ``FR``)."""
    area = get_area(code, level)
    if area.level == "department":
        return area.code in METROPOLITAN_DEPARTMENT_CODES
    if area.level == "region":
        return area.code not in _OVERSEAS_REGION_CODES
    return area.code == "FM"


def area_aliases(level: Level, include_codes: bool = False) -> dict[str, str]:
    """Folded alias -> code for one level: names, English names and common aliases ("idf",
    "paca", "brittany"), only those naming a single area; with ``include_codes`` also the folded
    codes ("2a", "75"). Meant for scanning free text folded with ``oasis_mcp.text.fold``."""
    lvl = resolve_level(level)
    aliases = dict(_NAME_ALIASES[lvl])
    if include_codes:
        aliases.update(_CODE_ALIASES[lvl])
    return aliases


# -- Resolution -----------------------------------------------------------------------------------


def _as_code(folded: str) -> str | None:
    """Normalise a code-looking folded query: "1" -> "01", "2a" -> "2A", "fr" -> "FR"."""
    if not _CODE.fullmatch(folded):
        return None
    if folded.isdigit():
        number = int(folded)
        return f"{number:02d}" if number < 100 else str(number)
    return folded.upper()


def _resolve(query: str, folded: str, level: Level | None, allow_strip: bool) -> Area:
    targets: tuple[Level, ...] = (level,) if level else ("department", "region", "country")
    code = _as_code(folded)
    if code:
        for target in targets:
            if code in _BY_CODE[target]:
                return _BY_CODE[target][code]
    best = _best(folded, targets, Tier.INFLECTED)
    if best:
        return _pick(query, best, level)
    if allow_strip:
        stripped = _strip_level_words(folded)
        if stripped:
            rest, implied = stripped
            return _resolve(query, rest, level or implied, allow_strip=False)
    if level:
        elsewhere = _exact_elsewhere(folded, code, level)
        if elsewhere:
            raise _wrong_level(query, elsewhere, level)
    if folded in _FORMER_REGIONS:
        raise _former_region(query, level or "area", *_FORMER_REGIONS[folded])
    if folded in _CITIES:
        raise _city(query, level, *_CITIES[folded])
    if _is_overseas(folded):
        raise _overseas(query, level)
    if all(w in _NON_IDENTIFYING or w in _FILLER_WORDS for w in folded.split()):
        raise _unknown(query, folded, targets, level)
    if folded in _LEVEL_WORDS:
        kind = level or "area"
        raise UnknownNameError(
            f"'{shown(query)}' is a level, not the name of an area. {_HINTS[kind]}", query, kind
        )
    best = _best(folded, targets, Tier.WORDS)
    if best:
        return _pick(query, best, level)
    raise _unknown(query, folded, targets, level)


def _best(folded: str, targets: tuple[Level, ...], max_tier: Tier) -> list[Area]:
    """Areas matched at the best tier reached over the target levels."""
    found: list[tuple[Tier, tuple[Area, ...]]] = []
    for target in targets:
        match = _MATCHERS[target].match_folded(folded, max_tier)
        if match:
            found.append((match.tier, match.keys))
    if not found:
        return []
    top = min(tier for tier, _ in found)
    best = [area for tier, keys in found if tier == top for area in keys]
    if len(best) > 1 and top == Tier.PREFIX:  # ambiguous anyway: name every partial match
        best += [area for tier, keys in found if tier > top for area in keys]
    return best


def _pick(query: str, matches: list[Area], level: Level | None) -> Area:
    if len(matches) == 1:
        return matches[0]
    same = _same_territory(matches)
    if same:
        return same
    describe = _describe_with_level if level is None else (lambda a: a.label)
    raise ambiguous_error(
        query,
        level or "area",
        [a.label for a in matches],
        _AMBIGUOUS_HINT,
        [describe(a) for a in matches],
    )


def _same_territory(matches: list[Area]) -> Area | None:
    """The department when the matches are an overseas region and its single department."""
    if len(matches) != 2:
        return None
    by_level = {a.level: a for a in matches}
    region, department = by_level.get("region"), by_level.get("department")
    if (
        region
        and department
        and department.region_code == region.code
        and len(departments_of(region.code)) == 1
    ):
        return department
    return None


def _strip_level_words(folded: str) -> tuple[str, Level] | None:
    """``"region de bretagne"`` -> ("bretagne", "region"); None without a leading level word."""
    words = folded.split()
    i = 0
    while i < len(words) and words[i] in ("le", "la", "l", "les", "the"):
        i += 1
    if i >= len(words) or words[i] not in _LEVEL_WORDS:
        return None
    implied = _LEVEL_WORDS[words[i]]
    i += 1
    while i < len(words) - 1 and words[i] in _FILLER_WORDS:
        i += 1
    rest = " ".join(words[i:])
    if not rest or rest in _FILLER_WORDS:
        return None
    return rest, implied


def _exact_elsewhere(folded: str, code: str | None, level: Level) -> list[Area]:
    found: list[Area] = []
    for other in LEVELS:
        if other == level:
            continue
        if code and code in _BY_CODE[other]:
            found.append(_BY_CODE[other][code])
            continue
        match = _MATCHERS[other].match_folded(folded, Tier.INFLECTED)
        if match:
            found.extend(match.keys)
    return found


def _containing(area: Area, level: Level) -> list[Area]:
    """Areas of ``level`` that contain ``area`` (or that it contains, going down)."""
    if level == "country":
        metro = (
            area.level == "country" and area.code == "FM"
        ) or is_metropolitan(area.code, area.level)
        return [_BY_CODE["country"]["FM"], _BY_CODE["country"]["FR"]] if metro else [
            _BY_CODE["country"]["FR"]
        ]
    if level == "region" and area.level == "department":
        assert area.region_code is not None
        return [_BY_CODE["region"][area.region_code]]
    if level == "department" and area.level == "region":
        return departments_of(area.code)
    return []


def _wrong_level(query: str, found: list[Area], level: Level) -> UnknownNameError:
    """``Paris is a department (75) in Île-de-France (11), not a region; use level='department'``"""
    if len(found) == 1:
        area = found[0]
        where = ""
        if area.level == "department":
            region = _BY_CODE["region"][area.region_code or ""]
            where = f" in {region.label}"
        what = "the whole country" if area.level == "country" else f"a {area.level}"
        message = (
            f"{area.name} is {what} ({area.code}){where}, not a {level}; "
            f"use level='{area.level}'."
        )
        related = _containing(area, level)
        if area.level == "department" and level == "region":
            message += f" Its region is {related[0].label}."
        elif area.level == "region" and level == "department":
            message += f" Its departments: {', '.join(a.label for a in related)}."
    else:
        levels = sorted({a.level for a in found})
        message = (
            f"'{query}' names {', '.join(_describe_with_level(a) for a in found)}, "
            f"not a {level}; use level='{levels[0]}'."
        )
        related = []
    return UnknownNameError(message, query, level, [a.label for a in related])


def _former_region(
    query: str, kind: str, name: str, region_code: str, departments: tuple[str, ...]
) -> UnknownNameError:
    region = _BY_CODE["region"][region_code]
    members = [_BY_CODE["department"][c] for c in departments]
    message = (
        f"{name} is a former region (merged in 2016), now part of {region.label}. "
        f"Its departments: {', '.join(a.label for a in members)}. "
        f"Ask for the region {region.name} or for one of these departments."
    )
    return UnknownNameError(message, query, kind, [region.label] + [a.label for a in members])


def _is_overseas(folded: str) -> bool:
    """``"outre-mer"``, ``"DOM"``, ``"France d'outre-mer"``, ``"overseas regions"``... (an exact
    alias such as "France hors outre-mer" has matched before this is asked)."""
    words = folded.split()
    if any(w in _NON_IDENTIFYING for w in words):  # "France hors DOM": not a request for overseas
        return False
    return any(w in _OVERSEAS_WORDS for w in words) or bool(_OVERSEAS_PHRASE.search(folded))


def _overseas(query: str, level: Level | None) -> UnknownNameError:
    regions = [_BY_CODE["region"][c] for c in sorted(_OVERSEAS_REGION_CODES)]
    listed = ", ".join(
        f"{r.name} (region {r.code}, department {departments_of(r.code)[0].code})" for r in regions
    )
    message = (
        f"'{shown(query)}': overseas France (outre-mer) as a whole is not an area of this "
        f"dataset. Its 5 overseas regions are areas of their own, each with a single department: "
        f"{listed}. At level 'country', 'FR' is the whole of France (with overseas) and 'FM' "
        "metropolitan France only (without overseas)."
    )
    if level == "country":
        suggestions = [a.label for a in _AREAS["country"]]
    elif level != "region":  # department, or None (the department is returned for these)
        suggestions = [departments_of(r.code)[0].label for r in regions]
    else:
        suggestions = [r.label for r in regions]
    return UnknownNameError(message, query, level or "area", suggestions)


def _city(query: str, level: Level | None, name: str, department_code: str) -> UnknownNameError:
    department = _BY_CODE["department"][department_code]
    region = _BY_CODE["region"][department.region_code or ""]
    kind = level or "area"
    if level == "region":
        target, where = region, f"in the region {region.label}"
    elif level == "country":
        target = _containing(department, "country")[0]
        where = f"in {target.label}"
    else:
        target, where = department, f"in the department {department.label}"
    message = (
        f"{name} is a city; the data go down to departments only. {name} is {where}: "
        f"ask for {target.name} (figures cover the whole {target.level})."
    )
    return UnknownNameError(message, query, kind, [target.label])


def _unknown(
    query: str, folded: str, targets: tuple[Level, ...], level: Level | None
) -> UnknownNameError:
    scored: dict[Area, float] = {}
    for target in targets:
        for area, score in _MATCHERS[target].suggest_scored(folded):
            scored[area] = max(score, scored.get(area, 0.0))
    close = sorted(scored, key=lambda a: -scored[a])[:5]
    describe = _describe_with_level if level is None else (lambda a: a.label)
    kind = level or "area"
    return unknown_error(
        query, kind, [a.label for a in close], _HINTS[kind], [describe(a) for a in close]
    )


# -- Public views of the tables above (for the chat planner: one home for these facts) -----------


def cities() -> dict[str, tuple[str, str]]:
    """Large cities that are no area of the data, by folded name: (name, department code)."""
    return dict(_CITIES)


def former_regions() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Former regions (before 2016) whose name is in no current region's, by folded name:
    (name, current region code, department codes). The others (Auvergne, Aquitaine…) resolve to
    the current region that contains their name, with a note from :func:`resolution_notes`."""
    return dict(_FORMER_REGIONS)
