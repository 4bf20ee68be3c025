"""What the planner says: help, clarifications and the notes that tell how a question was read."""

from __future__ import annotations

from collections.abc import Sequence

from oasis_app.planner.calls import Intent, Language, Plan
from oasis_app.planner.reading import Reading
from oasis_app.planner.vocabulary import AMBIGUOUS_WORDS, DEFAULT_LAST_YEAR, english_label
from oasis_mcp.data.coverage import FIRST_YEAR, LAST_FORECAST_YEAR


def say(language: Language, fr: str, en: str) -> str:
    return fr if language == "fr" else en


EXAMPLES = {
    "fr": [
        f"Évolution des cambriolages en Bretagne depuis {FIRST_YEAR}",
        f"Prévision des violences sexuelles en Île-de-France jusqu'en {LAST_FORECAST_YEAR}",
        f"Quelle région a le plus de vols de véhicules en {DEFAULT_LAST_YEAR} ?",
        "Liste des départements d'Occitanie",
        "Quelle est la précision de vos prévisions ?",
    ],
    "en": [
        f"Burglaries in Brittany since {FIRST_YEAR}",
        f"Forecast sexual violence in Île-de-France until {LAST_FORECAST_YEAR}",
        f"Which region has the most car thefts in {DEFAULT_LAST_YEAR}?",
        "Compare drug trafficking in the Nord and the Bouches-du-Rhône",
        "How accurate are your forecasts?",
    ],
}


def help_plan(question: str, language: Language, *, intent: Intent) -> Plan:
    if intent == "help":
        message = say(
            language,
            "Je réponds sur la délinquance enregistrée par la police et la gendarmerie (SSMSI, "
            f"{FIRST_YEAR} à aujourd'hui) : historique d'un indicateur dans une région ou un "
            f"département, prévisions jusqu'en {LAST_FORECAST_YEAR} avec intervalles, classements "
            "et comparaisons, qualité des modèles, listes des régions, départements et "
            "indicateurs.",
            "I answer questions on crime recorded by the French police and gendarmerie (SSMSI, "
            f"{FIRST_YEAR} to date): the history of an indicator in a region or department, "
            f"forecasts to {LAST_FORECAST_YEAR} with intervals, rankings and comparisons, model "
            "quality, and lists of regions, departments and indicators.",
        )
    else:
        message = say(
            language,
            "Je n'ai pas compris la question ou elle sort de mon domaine : je ne connais que les "
            "statistiques de délinquance enregistrée (SSMSI) par région et département. "
            "Par exemple :",
            "I could not match this question to what I know: recorded-crime statistics (SSMSI) "
            "for French regions and departments. For example:",
        )
    return Plan(question, language, intent, [], message=message,
                suggestions=list(EXAMPLES[language]))


def clarify_indicator(question: str, r: Reading) -> Plan:
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
        names = [english_label(o) for o in options]
        generic = not r.ambiguous or r.ambiguous[0] in ("delinquance", "criminalite", "crime",
                                                        "crimes", "insecurite")
        message = (
            "Which indicator? There is no single total for crime, but 18 separate series, "
            f"for example: {', '.join(names[:6])}."
            if generic
            else f"'{r.ambiguous[0]}' covers several indicators: {', '.join(names)}. "
            "Which one do you mean?"
        )
        suggestions = [f"{n} in {where} since {FIRST_YEAR}" if where
                       else f"{n} in France since {FIRST_YEAR}"
                       for n in names[:4]]
    return Plan(question, r.language, "clarify", [], message=message, suggestions=suggestions)


def commune_note(language: Language, *, ranking: bool, area: str | None) -> str:
    """What is answered instead of figures by commune (not served yet)."""
    if ranking:
        return say(
            language,
            "Les chiffres par commune ne sont pas servis ici : le niveau le plus fin est le "
            "département, voici donc le classement des départements.",
            "Figures by commune (town) are not served here: the finest level is the department, "
            "so this is the ranking of the departments.",
        )
    if area:
        return say(
            language,
            f"Les chiffres par commune ne sont pas servis ici : voici ceux de {area}, le niveau "
            "le plus fin disponible.",
            f"Figures by commune (town) are not served here: these are the figures for {area}, "
            "the finest level available.",
        )
    return say(language,
               "Les chiffres par commune ne sont pas servis ici (régions, départements, France).",
               "Figures by commune (town) are not served here (regions, departments, France).")


def commune_plan(question: str, language: Language, name: str) -> Plan:
    """A commune asked by name while communes are not served: say so, offer the department."""
    message = say(
        language,
        f"Les chiffres par commune ({name}) ne sont pas servis ici : les données vont des "
        "régions aux départements. Demandez le département de la commune, par exemple "
        "« Cambriolages dans le Morbihan ».",
        f"Figures by commune ({name}) are not served here: the data go from regions down to "
        "departments. Ask for the commune's department, e.g. 'Burglaries in the Morbihan'.",
    )
    return Plan(question, language, "clarify", [], message=message,
                suggestions=list(EXAMPLES[language][:3]))
