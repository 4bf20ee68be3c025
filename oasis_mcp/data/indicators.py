"""Indicator catalogs of the SSMSI departmental/regional files, and indicator name resolution.

Two nomenclatures exist: the 2025 edition (18 indicators) and the older 2024 edition (17). A slug
may exist in both (e.g. ``vehicle-theft``: "Vols de véhicule" in 2025, "Vols de véhicules" in
2024); the two editions are never mixed in one series.

Lookups (:func:`resolve_indicator`) accept a slug, the official French label, the English label or
a common alias (French or English), folded (case, accents, hyphens). The first matching tier of
:class:`oasis_mcp.data.lookup.Tier` wins: an exact name beats a partial one ("Homicides" and
"homicide" are Homicides, not "Tentatives d'homicide"). Generic words naming several indicators are
deliberately ambiguous: "drugs"/"drogue"/"narcotics"/"stupéfiants" (trafficking vs use: different
things, both counting persons implicated), "assault"/"coups et blessures" in the 2025 edition (in or
outside the family), "violences", "vols"/"theft"/"robbery".

A partial match (a prefix, or some of the words of a name: "tentatives", "sexuelles") resolves only
through an indicator's official names (slug and labels); an alias resolves only whole (or with a
plural changed). A word of an alias alone ("abuse" of "domestic abuse", "volées" of "voitures
volées") is unknown, with that indicator as the suggestion, or ambiguous: an alias cannot make a
generic word resolve on its own. An alias starting with a generic word ("véhicules volés") would
still make that word a unique prefix, unknown instead of ambiguous; such phrases stay in the
planner.

The aliases are also the chat planner's vocabulary (:mod:`oasis_app.planner` finds them in free
text): a new common word is taught here, once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from oasis_mcp.data.lookup import (
    NameMatcher,
    Tier,
    check_query,
    partial_match_note,
    shown,
    unknown_error,
)
from oasis_mcp.errors import LookupFailed, UnknownNameError

Edition = Literal["2025", "2024"]
EDITIONS: tuple[Edition, ...] = get_args(Edition)
LATEST_EDITION: Edition = "2025"
Denominator = Literal["population", "dwellings"]


@dataclass(frozen=True)
class Indicator:
    """One SSMSI indicator of one edition's nomenclature."""

    slug: str
    label_fr: str  # official ``indicateur`` label, exactly as in the files
    label_en: str
    unit: str  # official ``unite_de_compte``, exactly as in the files
    denominator: Denominator  # rate per 1,000 inhabitants or per 1,000 dwellings
    caveats: tuple[str, ...]
    edition: Edition
    aliases: tuple[str, ...] = ()


GENERAL_CAVEATS: tuple[str, ...] = (
    "These are crimes recorded by the police and gendarmerie, not all crimes committed: figures "
    "depend on victims' willingness to report and on police activity.",
    "The 2020 lockdowns depressed many series (thefts and burglaries especially); 2020 is not a "
    "normal year.",
    "Past years are revised from one edition to the next; compare figures of the same edition.",
)

# -- Caveats (short, factual) -------------------------------------------------------------------

_BURGLARY = (
    "Rates are per 1,000 dwellings, not per 1,000 inhabitants.",
    "Counts offences (Infraction), not victims.",
)
_SMALL_COUNTS = (
    "Small counts: very volatile from year to year and often 0 in small departments; prefer "
    "several years or larger areas.",
)
SUMS_ARE_UPPER_BOUNDS = (
    "A person implicated in several departments is counted in each, so regional or national sums "
    "of department figures are upper bounds."
)
"""Caveat of the 'Mis en cause' indicators; results leave it out when their figures are not such
sums (a department, or a region of a single department such as Mayotte: ``upper_bound`` false)."""
_MIS_EN_CAUSE = (
    "Counts persons implicated (mis en cause), which mostly reflects police enforcement activity "
    "rather than the extent of drug use or dealing.",
    SUMS_ARE_UPPER_BOUNDS,
)
_AFD_SPLIT = (
    "The fixed fine for drug use (AFD) exists only since September 2020 (after trials from June "
    "2020): the AFD series is 0 for 2016–2019 and the split between AFD and non-AFD shifts from "
    "2020; only the total is comparable over time.",
)
_REPORTING_RISE = (
    "Increases partly reflect more reporting and better recording (#MeToo from 2017, the 2019 "
    "Grenelle on domestic violence), not only more violence.",
)
_SEXUAL = (
    "Counted when recorded; many victims report years after the facts.",
    "Covers rapes and other sexual offences, not rapes alone.",
)
_FRAUD = (
    "Depends on victims filing complaints; online reporting channels (Perceval for bank card "
    "fraud from 2018, the THESEE platform for online scams from 2022) raise recorded counts "
    "independently of actual fraud.",
)
_VEHICLES = ("Counts vehicles, not offences.",)
_HEARD = ("Counts victims heard (victime entendue) by the police, not offences.",)
_PHYSICAL_2025 = (
    "Category of the 2025 edition, broader than the 2024 edition's 'Coups et blessures "
    "volontaires' (higher counts): not comparable with it.",
)
_ASSAULT_2024 = (
    "Category of the 2024 edition, replaced in the 2025 edition by the broader 'Violences "
    "physiques' indicators: not comparable with them.",
)

_POP: Denominator = "population"


def _indicators(edition: Edition, rows: Iterable[tuple]) -> tuple[Indicator, ...]:
    return tuple(
        Indicator(slug, fr, en, unit, denominator, caveats, edition, aliases)
        for slug, fr, en, unit, denominator, caveats, aliases in rows
    )


# -- Aliases shared by both editions -------------------------------------------------------------

_A_BURGLARY = ("cambriolages", "cambriolage", "burglaries", "house burglaries", "home burglaries",
               "residential burglaries", "break-ins", "break-in", "breakins", "housebreaking",
               "house-breaking", "cambrioleurs", "cambriolé", "burglars", "home invasions")
_A_VANDALISM = ("vandalism", "vandalisme", "dégradations", "destructions", "criminal damage",
                "property damage", "damage to property", "damage", "tags et graffitis",
                "tags", "graffitis", "graffiti")
_A_FRAUD = ("fraud", "frauds", "fraude", "fraudes", "escroqueries", "escroquerie", "arnaques",
            "scams", "swindles", "swindling", "payment fraud", "card fraud",
            "fraude à la carte bancaire")
_A_HOMICIDE = ("homicide", "meurtres", "meurtre", "murders", "murder", "killings")
_A_ATTEMPT = ("tentatives d'homicide", "tentatives d'homicides", "tentatives de meurtre",
              "attempted murders", "attempted murder", "attempted homicides", "murder attempts")
_A_TRAFFICKING = ("trafic de drogue", "trafic de drogues", "drug dealing", "dealing", "deal",
                  "dealers", "drug trafficking", "drug traffic", "trafficking",
                  "narcotics trafficking", "narcotrafic", "drugs", "drogue", "drogues",
                  "narcotics")
_A_USE = ("usage de drogue", "usage de drogues", "consommation de drogue",
          "consommation de stupéfiants", "drug consumption", "drugs", "drogue", "drogues",
          "narcotics")
# Generic words for physical violence: ambiguous between the two 2025 indicators.
_A_PHYSICAL = ("physical violence", "violences physiques", "assault", "assaults",
               "coups et blessures", "coups et blessures volontaires")
_A_NON_FAMILY = ("non-domestic violence", "violence outside the family", "street violence",
                 "violences hors cadre familial", "hors cadre familial")
_A_SEXUAL = ("sexual violence", "sexual violences", "sexual assaults", "sexual assault",
             "sex crimes", "viols", "viol", "rape", "rapes", "agressions sexuelles",
             "harcèlement sexuel")
_A_DOMESTIC = ("domestic violence", "family violence", "violences conjugales",
               "violences familiales", "violences intrafamiliales", "intrafamiliales",
               "intimate partner violence", "domestic abuse", "spousal abuse", "VIF")
_A_ARMED = ("armed robbery", "armed robberies", "vols à main armée", "braquages", "braquage",
            "holdups", "hold-ups", "armed thefts", "thefts with weapons", "robberies with weapons")
_A_ACCESSORY = ("vols d'accessoires", "accessoires", "theft of vehicle parts", "car parts theft",
                "vehicle accessory thefts", "accessory thefts", "thefts of accessories",
                "vehicle accessories", "car accessories", "vehicle parts", "car parts")
_A_FROM_VEHICLE = ("vols à la roulotte", "vols dans les voitures", "vols dans des véhicules",
                   "theft from cars", "theft from car", "car break-ins", "vehicle break-ins",
                   "thefts from vehicles", "thefts from motor vehicles")
_A_VEHICLE = ("car thefts", "car theft", "vols de voitures", "vols de voiture",
              "vols d'automobiles", "voitures volées", "vols de deux-roues", "vols de motos",
              "stolen cars", "stolen vehicles", "vehicle thefts", "thefts of vehicles",
              "auto theft", "motor vehicle theft", "carjackings")
_A_NON_VIOLENT = ("pickpocketing", "pickpocketting", "pickpockets", "vols à la tire",
                  "vols simples", "vols sans violence", "non-violent thefts", "non-violent theft",
                  "thefts without violence")
_A_VIOLENT = ("vols violents", "vols avec violence", "muggings", "mugging", "street robbery",
              "street robberies", "violent robberies", "robberies without weapons",
              "unarmed robbery", "violent thefts", "violent theft")

CATALOG_2025: tuple[Indicator, ...] = _indicators("2025", (
    ("burglary", "Cambriolages de logement", "Residential burglary", "Infraction", "dwellings",
     _BURGLARY, _A_BURGLARY),
    ("vandalism", "Destructions et dégradations volontaires", "Intentional destruction and damage",
     "Infraction", _POP, (), _A_VANDALISM),
    ("fraud", "Escroqueries et fraudes aux moyens de paiement", "Fraud and payment fraud",
     "Victime", _POP, _FRAUD, _A_FRAUD),
    ("homicide", "Homicides", "Homicides", "Victime", _POP, _SMALL_COUNTS, _A_HOMICIDE),
    ("attempted-homicide", "Tentatives d'homicide", "Attempted homicides", "Victime", _POP,
     _SMALL_COUNTS, _A_ATTEMPT),
    ("drug-trafficking", "Trafic de stupéfiants", "Drug trafficking", "Mis en cause", _POP,
     _MIS_EN_CAUSE, _A_TRAFFICKING),
    ("drug-use", "Usage de stupéfiants", "Drug use", "Mis en cause", _POP,
     (*_MIS_EN_CAUSE, "Total of the AFD and non-AFD series."), _A_USE),
    ("drug-use-afd", "Usage de stupéfiants (AFD)", "Drug use (fixed fine, AFD)", "Mis en cause",
     _POP, _MIS_EN_CAUSE + _AFD_SPLIT,
     ("AFD", "amende forfaitaire délictuelle", "amende forfaitaire", "drug use fines",
      "drug use fixed fines", "drug fines", "fixed fines", "fixed penalty", "on-the-spot fines")),
    ("drug-use-non-afd", "Usage de stupéfiants (hors AFD)", "Drug use (other than fixed fines)",
     "Mis en cause", _POP, _MIS_EN_CAUSE + _AFD_SPLIT,
     ("hors AFD", "excluding AFD", "drug use without fixed fine", "drug use excluding fines",
      "excluding fines")),
    ("physical-violence-non-family", "Violences physiques hors cadre familial",
     "Physical violence outside the family", "Victime", _POP, _PHYSICAL_2025,
     (*_A_NON_FAMILY, *_A_PHYSICAL)),
    ("domestic-physical-violence", "Violences physiques intrafamiliales",
     "Domestic physical violence", "Victime", _POP, _PHYSICAL_2025 + _REPORTING_RISE,
     (*_A_DOMESTIC, *_A_PHYSICAL, "coups et blessures intrafamiliaux")),
    ("sexual-violence", "Violences sexuelles", "Sexual violence", "Victime", _POP,
     _SEXUAL + _REPORTING_RISE, _A_SEXUAL),
    ("armed-robbery", "Vols avec armes", "Armed robbery", "Infraction", _POP, (), _A_ARMED),
    ("vehicle-accessory-theft", "Vols d'accessoires sur véhicules", "Theft of vehicle accessories",
     "Véhicule", _POP, _VEHICLES, _A_ACCESSORY),
    ("theft-from-vehicle", "Vols dans les véhicules", "Theft from vehicles", "Véhicule", _POP,
     _VEHICLES, _A_FROM_VEHICLE),
    ("vehicle-theft", "Vols de véhicule", "Vehicle theft", "Véhicule", _POP, _VEHICLES,
     (*_A_VEHICLE, "vols de véhicules")),
    ("theft-without-violence", "Vols sans violence contre des personnes",
     "Theft from persons without violence", "Victime entendue", _POP, _HEARD, _A_NON_VIOLENT),
    ("violent-theft-unarmed", "Vols violents sans arme", "Violent theft without a weapon",
     "Infraction", _POP, (), _A_VIOLENT),
))

CATALOG_2024: tuple[Indicator, ...] = _indicators("2024", (
    ("assault-other", "Autres coups et blessures volontaires",
     "Other intentional assault (outside the family)", "Victime", _POP, _ASSAULT_2024,
     (*_A_NON_FAMILY, "autres coups et blessures", "physical violence outside the family",
      "physical-violence-non-family")),
    ("burglary", "Cambriolages de logement", "Residential burglary", "Infraction", "dwellings",
     _BURGLARY, _A_BURGLARY),
    ("assault", "Coups et blessures volontaires", "Intentional assault", "Victime", _POP,
     (*_ASSAULT_2024, "Sum of the domestic and other assault indicators."),
     ("assaults", "coups et blessures", "physical violence", "violences physiques",
      "assault and battery")),
    ("assault-domestic", "Coups et blessures volontaires intrafamiliaux",
     "Intentional assault within the family", "Victime", _POP, _ASSAULT_2024 + _REPORTING_RISE,
     (*_A_DOMESTIC, "coups et blessures intrafamiliaux", "domestic assault",
      "domestic physical violence", "violences physiques intrafamiliales")),
    ("vandalism", "Destructions et dégradations volontaires", "Intentional destruction and damage",
     "Infraction", _POP, (), _A_VANDALISM),
    ("fraud", "Escroqueries", "Fraud", "Victime", _POP, _FRAUD,
     (*_A_FRAUD, "escroqueries et fraudes aux moyens de paiement")),
    ("homicide", "Homicides", "Homicides", "Victime", _POP, _SMALL_COUNTS, _A_HOMICIDE),
    ("attempted-homicide", "Tentatives d'homicides", "Attempted homicides", "Victime", _POP,
     _SMALL_COUNTS, _A_ATTEMPT),
    ("drug-trafficking", "Trafic de stupéfiants", "Drug trafficking", "Mis en cause", _POP,
     _MIS_EN_CAUSE, _A_TRAFFICKING),
    ("drug-use", "Usage de stupéfiants", "Drug use", "Mis en cause", _POP,
     (*_MIS_EN_CAUSE, "Includes fixed fines (AFD) from September 2020."), _A_USE),
    ("sexual-violence", "Violences sexuelles", "Sexual violence", "Victime", _POP,
     _SEXUAL + _REPORTING_RISE, _A_SEXUAL),
    ("armed-robbery", "Vols avec armes", "Armed robbery", "Infraction", _POP, (), _A_ARMED),
    ("vehicle-accessory-theft", "Vols d'accessoires sur véhicules", "Theft of vehicle accessories",
     "Véhicule", _POP, _VEHICLES, _A_ACCESSORY),
    ("theft-from-vehicle", "Vols dans les véhicules", "Theft from vehicles", "Véhicule", _POP,
     _VEHICLES, _A_FROM_VEHICLE),
    ("vehicle-theft", "Vols de véhicules", "Vehicle theft", "Véhicule", _POP, _VEHICLES,
     (*_A_VEHICLE, "vols de véhicule")),
    ("theft-without-violence", "Vols sans violence contre des personnes",
     "Theft from persons without violence", "Victime entendue", _POP, _HEARD, _A_NON_VIOLENT),
    ("violent-theft-unarmed", "Vols violents sans arme", "Violent theft without a weapon",
     "Infraction", _POP, (), _A_VIOLENT),
))

_CATALOGS: dict[Edition, tuple[Indicator, ...]] = {"2025": CATALOG_2025, "2024": CATALOG_2024}
_BY_LABEL: dict[Edition, dict[str, Indicator]] = {
    ed: {ind.label_fr: ind for ind in cat} for ed, cat in _CATALOGS.items()
}
# Indicators of one edition replaced by different ones in the other (for error messages only).
_COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "assault": ("domestic-physical-violence", "physical-violence-non-family"),
    "assault-domestic": ("domestic-physical-violence",),
    "assault-other": ("physical-violence-non-family",),
    "domestic-physical-violence": ("assault-domestic",),
    "physical-violence-non-family": ("assault-other",),
    "drug-use-afd": ("drug-use",),
    "drug-use-non-afd": ("drug-use",),
}
_HINT = "Use a slug, the official label or a common name; list_indicators lists them."
_AMBIGUOUS_HINT = "Use a slug or the full official label."


def _entries(indicators: Iterable[Indicator]) -> list[tuple[str, Indicator]]:
    entries: list[tuple[str, Indicator]] = []
    for ind in indicators:
        entries += [(ind.slug, ind), (ind.label_fr, ind), (ind.label_en, ind)]
        entries += [(alias, ind) for alias in ind.aliases]
    return entries


def _describe(ind: Indicator) -> str:
    return f"{ind.label_fr} [{ind.slug}]"


def _matcher(indicators: Iterable[Indicator]) -> NameMatcher[Indicator]:
    return NameMatcher(
        _entries(indicators),
        kind="indicator",
        label=lambda ind: ind.label_fr,
        describe=_describe,
        hint=_HINT,
        ambiguous_hint=_AMBIGUOUS_HINT,
    )


_MATCHERS: dict[Edition, NameMatcher[Indicator]] = {
    ed: _matcher(cat) for ed, cat in _CATALOGS.items()
}
# Each indicator's official names (slug and labels): a partial match (a prefix, some words) resolves
# only through these; an alias resolves only whole (exact, or plural aside).
_OFFICIAL: dict[Indicator, NameMatcher[Indicator]] = {
    ind: NameMatcher([(name, ind) for name in (ind.slug, ind.label_fr, ind.label_en)],
                     kind="indicator")
    for cat in _CATALOGS.values() for ind in cat
}
# Slugs and labels only: to recognise an indicator that is not among the candidates.
_NAMES: dict[Edition, NameMatcher[Indicator]] = {
    ed: NameMatcher(
        [(name, i) for i in cat for name in (i.slug, i.label_fr, i.label_en)], kind="indicator"
    )
    for ed, cat in _CATALOGS.items()
}


# -- Public API ----------------------------------------------------------------------------------


def catalog(edition: str = LATEST_EDITION) -> tuple[Indicator, ...]:
    """The indicators of an edition's nomenclature ("2025" or "2024"), in file order."""
    return _CATALOGS[_edition(edition)]


def indicator_by_label(label: str, edition: str | None = None) -> Indicator | None:
    """The indicator with this exact official French label (2025 edition first when the label
    exists in both), or None. Surrounding whitespace and Unicode normal form are ignored."""
    if not isinstance(label, str):
        return None
    key = unicodedata.normalize("NFC", label).strip()
    editions = EDITIONS if edition is None else (_edition(edition),)
    for ed in editions:
        found = _BY_LABEL[ed].get(key)
        if found:
            return found
    return None


def edition_of_labels(labels: Iterable[str]) -> Edition:
    """The nomenclature of a set of official labels: "2025" or "2024".

    Labels shared by both editions (e.g. only "Homicides") give the latest, "2025". Raises
    UnknownNameError for an unknown label and LookupFailed (a ValueError) when the labels mix the
    two nomenclatures.
    """
    present = {unicodedata.normalize("NFC", str(label)).strip() for label in labels}
    for label in sorted(present):
        if indicator_by_label(label) is None:
            raise _MATCHERS[LATEST_EDITION].unknown(label, "It is not an official SSMSI label.")
    fits = [ed for ed in EDITIONS if present <= _BY_LABEL[ed].keys()]
    if fits:
        return fits[0]
    only_2025 = sorted(present - _BY_LABEL["2024"].keys())
    only_2024 = sorted(present - _BY_LABEL["2025"].keys())
    raise LookupFailed(
        f"{', '.join(only_2025)} (2025 edition) and {', '.join(only_2024)} (2024 edition) "
        "belong to different nomenclatures; one file or dataset holds a single one.",
        ", ".join(sorted(present)),
        "edition",
    )


def resolve_indicator(query: str, labels: Collection[str] | None = None) -> Indicator:
    """Resolve a slug, French or English label or alias to one indicator.

    ``labels`` restricts the candidates to those official labels (the loaded dataset's
    indicators; their edition decides the catalog); by default the 2025 catalog is used. Raises
    UnknownNameError (with suggestions) or AmbiguousNameError, never anything else for a str.
    """
    matcher, edition = _restricted(frozenset(labels)) if labels is not None else (
        _MATCHERS[LATEST_EDITION], LATEST_EDITION)
    folded = check_query(query, "indicator", _HINT)
    found = matcher.match_folded(folded)
    if found is not None and found.tier <= Tier.INFLECTED:
        if found.unique:
            return found.keys[0]
        raise matcher.ambiguous(query, found.keys)
    # An exact name of an indicator that is not a candidate beats a partial match:
    # "Homicides" must not fall back on "Tentatives d'homicide" when Homicides is not loaded.
    elsewhere = _elsewhere(query, folded, matcher, edition)
    if elsewhere:
        raise elsewhere
    if found is None:
        raise matcher.unknown(query)
    if not found.unique:
        raise matcher.ambiguous(query, found.keys)
    ind = found.keys[0]
    if _OFFICIAL[ind].match_folded(folded) is None:
        # Only part of a common name ("abuse" of "domestic abuse"): often a generic word.
        raise unknown_error(
            query, "indicator", [ind.label_fr],
            f"'{shown(query)}' is only part of a common name of that indicator. {_HINT}",
            [_describe(ind)],
        )
    return ind


def resolution_notes(query: object, indicator: Indicator) -> list[str]:
    """The warning owed when ``query`` resolved to ``indicator`` through part of its name only:
    a prefix ("cambriol") or some of its words ("sexuelles"), which may have meant another
    indicator. Exact names, slugs, aliases and plurals give none."""
    if not isinstance(query, str):
        return []
    try:
        folded = check_query(query, "indicator")
    except LookupFailed:
        return []
    edition = next((ed for ed in EDITIONS if indicator in _CATALOGS[ed]), LATEST_EDITION)
    found = _MATCHERS[edition].match_folded(folded)
    if found is None or found.tier <= Tier.INFLECTED or indicator not in found.keys:
        return []
    note = partial_match_note(query, f"'{indicator.label_fr}'", "indicator", found.tier,
                              exact=f"the full label or the slug ('{indicator.slug}')")
    return [note] if note else []


# -- Helpers -------------------------------------------------------------------------------------


def _edition(edition: object) -> Edition:
    text = str(edition).strip()
    if text in EDITIONS:
        return text  # type: ignore[return-value]
    raise unknown_error(text, "edition", list(EDITIONS), "The editions are '2025' and '2024'.")


@lru_cache(maxsize=64)
def _restricted(labels: frozenset[str]) -> tuple[NameMatcher[Indicator], Edition]:
    known = {label for label in labels if indicator_by_label(label) is not None}
    if not known:
        raise UnknownNameError(
            "No known indicator is available in the loaded data.", ", ".join(sorted(labels)),
            "indicator",
        )
    edition = edition_of_labels(known)
    if known == set(_BY_LABEL[edition]):
        return _MATCHERS[edition], edition
    return _matcher(i for i in _CATALOGS[edition] if i.label_fr in known), edition


def _elsewhere(
    query: str, folded: str, matcher: NameMatcher[Indicator], edition: Edition
) -> UnknownNameError | None:
    """An error when the query is the slug or label of an indicator missing from the candidates
    (not loaded, or of the other edition)."""
    available = set(matcher.keys)
    for ed in (edition, *(e for e in EDITIONS if e != edition)):
        found = _NAMES[ed].match_folded(folded, Tier.INFLECTED)
        if found is None or not found.unique or found.keys[0] in available:
            continue
        ind = found.keys[0]
        slugs = {ind.slug, *_COUNTERPARTS.get(ind.slug, ())}
        closest = [i for i in matcher.keys if i.slug in slugs]
        where = (
            "is not in the loaded data" if ed == edition
            else f"belongs to the {ed} edition's nomenclature, not to the loaded {edition} edition"
        )
        message = f"The indicator {_describe(ind)} {where}."
        if closest:
            listed = " or ".join(_describe(i) for i in closest)
            message += f" The closest indicator here is {listed} (definitions differ)."
        message += f" {_HINT}"
        return UnknownNameError(message, query, "indicator", [i.label_fr for i in closest])
    return None
