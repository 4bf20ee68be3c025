"""Short written answers (French or English) from a plan and the tools' results, plus the chart
that goes with them. Every number quoted comes from a tool result."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oasis_app import charts
from oasis_app.bridge import ToolOutcome
from oasis_app.numbers import format_number, format_pct
from oasis_app.planner import Plan

MAX_RANKING_BARS = 20
SMALL_COUNT = 20
"""A series whose yearly counts all stay below this is told in counts, not percentages."""


@dataclass
class Reply:
    text: str
    figure: charts.Chart | None = None
    notes: list[str] = field(default_factory=list)


def num(value: float | None, lang: str, digits: int = 1) -> str:
    """``12 345,6`` in French, ``12,345.6`` in English (:mod:`oasis_app.numbers`); whole numbers
    from 100 up without decimals."""
    if value is None:
        return "–"
    whole = (float(value).is_integer() and abs(value) >= 100) or digits == 0
    return format_number(value, lang, 0 if whole else digits)


def pct(value: float | None, lang: str) -> str:
    """A signed change in %: ``+12,3 %`` / ``−4.1%`` (:func:`oasis_app.numbers.format_pct`)."""
    return format_pct(value, lang, signed=True)


def say(lang: str, fr: str, en: str) -> str:
    return fr if lang == "fr" else en


def friendly(error: str, lang: str) -> str:
    """A tool error as shown to a user: known situations in plain words, else the server's
    message (already written for people: unknown names come with suggestions)."""
    if "No trained forecasts" in error or "trained artifacts" in error:
        return say(lang,
                   "Les prévisions et les scores des modèles ne sont pas encore disponibles sur "
                   "ce serveur (les modèles n'ont pas été entraînés).",
                   "Forecasts and model scores are not available on this server yet (the "
                   "models have not been trained).")
    if "No SSMSI data files" in error:
        return say(lang, "Les données SSMSI ne sont pas installées sur ce serveur.",
                   "The SSMSI data are not installed on this server.")
    return error


def label(indicator: dict[str, Any], lang: str) -> str:
    if lang == "fr":
        return str(indicator.get("label_fr", ""))
    return str(indicator.get("label_en") or indicator.get("label_fr", ""))


def rate_unit(indicator: dict[str, Any], lang: str) -> str:
    dwellings = indicator.get("denominator") == "dwellings"
    if lang == "fr":
        return "pour 100 000 logements" if dwellings else "pour 100 000 habitants"
    return "per 100,000 dwellings" if dwellings else "per 100,000 inhabitants"


def measure_unit(measure: str, indicator: dict[str, Any], lang: str) -> str:
    if measure == "count":
        return ""
    if measure == "rate_per_1000":
        dwellings = indicator.get("denominator") == "dwellings"
        if lang == "fr":
            return "pour 1 000 logements" if dwellings else "pour 1 000 habitants"
        return "per 1,000 dwellings" if dwellings else "per 1,000 inhabitants"
    return rate_unit(indicator, lang)


def rate_pair(rate_per_100k: float | None, indicator: dict[str, Any], lang: str) -> str:
    """A rate per 100,000 with the rate per 1,000 that SSMSI publishes beside it:
    ``534,1 pour 100 000 logements ; 5,34 pour 1 000 logements``."""
    if rate_per_100k is None:
        return "–"
    per_1000 = num(float(rate_per_100k) / 100, lang, 2)
    return say(lang,
               f"{num(rate_per_100k, lang)} {rate_unit(indicator, lang)} ; {per_1000} "
               f"{measure_unit('rate_per_1000', indicator, lang)}",
               f"{num(rate_per_100k, lang)} {rate_unit(indicator, lang)}; {per_1000} "
               f"{measure_unit('rate_per_1000', indicator, lang)}")


def mase_words(mase: float | None, lang: str) -> str:
    """A backtest MASE in plain words (the mean error over the series' usual yearly change)."""
    return say(lang,
               f"une erreur moyenne de {num(mase, lang, 2)} fois la variation habituelle d'une "
               "année sur l'autre (MASE)",
               f"an average error of {num(mase, lang, 2)} times the series' usual change from "
               "one year to the next (MASE)")


# ---------------------------------------------------------------------------------------------


def compose(plan: Plan, outcomes: Sequence[ToolOutcome]) -> Reply:
    """The answer to ``plan`` given the outcomes of its calls (same order)."""
    lang = plan.language
    if not plan.calls:
        return Reply(plan.message)
    ok = [o for o in outcomes if o.ok and o.data is not None]
    failed = [o for o in outcomes if not o.ok]
    if not ok:
        reasons = list(dict.fromkeys(friendly(o.error, lang) for o in failed)) or ["no result"]
        text = say(lang, "Je n'ai pas pu obtenir ces chiffres : ",
                   "I could not get these figures: ") + " ".join(reasons)
        return Reply(text)
    by_name: dict[str, list[ToolOutcome]] = {}
    for o in ok:
        by_name.setdefault(o.name, []).append(o)
    if plan.intent == "models":
        reply = _models(by_name["model_metrics"][0].data or {}, lang)
    elif plan.intent == "list_areas":
        reply = _areas(by_name["list_regions"][0].data or {}, lang)
    elif plan.intent == "list_indicators":
        reply = _indicators(by_name["list_indicators"][0].data or {}, lang)
    elif plan.intent == "ranking" and "compare_regions" in by_name:
        rankings = by_name["compare_regions"]
        counts = rankings[1].data if len(rankings) > 1 else None
        reply = _ranking(rankings[0].data or {}, plan, lang, counts)
    elif plan.intent == "compare":
        reply = _compare(by_name, plan, lang)
    else:
        reply = _series(by_name, plan, lang)
    notes = plan.notes + reply.notes + [friendly(o.error, lang) for o in failed]
    parts = [reply.text, *(f"_{n}_" for n in dict.fromkeys(notes))]
    reply.text = "\n\n".join(p for p in parts if p)
    return reply


def _edition(data: dict[str, Any], lang: str) -> str:
    edition = data.get("edition") or data.get("data_edition")
    if not edition:
        return ""
    year = str(edition)[:4]
    return say(lang, f"Source : SSMSI (data.gouv.fr), édition {year} ; faits enregistrés par la "
               "police et la gendarmerie, pas toute la délinquance réelle.",
               f"Source: SSMSI (data.gouv.fr), {year} edition; offences recorded by the police "
               "and gendarmerie, not all actual crime.")


_LEVEL_FR = {"country": "national", "region": "régional", "department": "départemental"}
_WARNINGS_FR: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Backtests covered horizons up to (\d+) year\(s\): accuracy beyond (\d{4}) was "
                r"not measured and is likely worse\."),
     lambda m: f"Les backtests couvrent des horizons jusqu'à {m[1]} an(s) : la précision "
               f"au-delà de {m[2]} n'a pas été mesurée et est probablement moindre."),
    (re.compile(r"(\d{4}) values are point forecasts \(see forecast for intervals\), not "
                r"observations\."),
     lambda m: f"Les valeurs {m[1]} sont des prévisions ponctuelles (sans leurs intervalles), "
               "pas des observations."),
    (re.compile(r"The (\w+) level was not backtested.*"),
     lambda m: f"Le niveau {_LEVEL_FR.get(m[1], m[1])} n'a pas été évalué en backtest : aucune "
               "mesure de précision n'est disponible."),
    (re.compile(r"The forecasts were trained on data edition (\S+) \(last observed year "
                r"(\d{4})\), but the server now serves edition (\S+) \(last observed year "
                r"(\d{4})\)\..*"),
     lambda m: f"Les prévisions ont été entraînées sur l'édition {m[1]} (dernière année "
               f"observée {m[2]}), mais le serveur sert l'édition {m[3]} (dernière année "
               f"{m[4]}) : elles ne sont pas encore à jour."),
]


def warning(text: str, lang: str) -> str:
    """A warning of the server (written in English) in the language of the answer."""
    if lang != "fr":
        return text
    for pattern, french in _WARNINGS_FR:
        match = pattern.fullmatch(text)
        if match:
            return str(french(match))
    return text


# The tools' caveats (English) worth a line under an answer, by how they start, with their French
# wording; ``None``: not shown (said elsewhere in the answer, or not about reading these figures).
_CAVEATS: list[tuple[str, str | None]] = [
    ("Counts persons implicated (mis en cause), which mostly reflects police enforcement",
     "Ces chiffres comptent des personnes mises en cause : ils reflètent surtout l'activité des "
     "services de police et de gendarmerie, plus que l'ampleur réelle du trafic ou de l'usage."),
    ("Increases partly reflect more reporting and better recording",
     "Les hausses reflètent en partie davantage de plaintes et un meilleur enregistrement "
     "(#MeToo dès 2017, Grenelle des violences conjugales en 2019), pas seulement plus de "
     "violences."),
    ("Counted when recorded; many victims report years after",
     "Les faits sont comptés à leur enregistrement : beaucoup de victimes portent plainte des "
     "années après."),
    ("Commune figures: small counts are withheld by the SSMSI",
     "Chiffres communaux : le SSMSI ne publie pas les petits nombres (valeurs masquées, jamais "
     "0) ; un 0 publié est un vrai 0. Les faits sont comptés là où ils ont été enregistrés, ce "
     "qui pour certaines infractions (escroqueries, stupéfiants) n'est pas là où ils ont eu lieu "
     "; les taux des petites communes varient beaucoup."),
    ("Covers rapes and other sexual offences",
     "Couvre les viols et les autres infractions sexuelles, pas seulement les viols."),
    ("Depends on victims filing complaints; online reporting channels",
     "Dépend des plaintes des victimes : les plateformes de signalement en ligne (Perceval pour "
     "la fraude à la carte bancaire dès 2018, THESEE pour les escroqueries en ligne dès 2022) "
     "font monter les chiffres enregistrés indépendamment de la fraude réelle."),
    ("Small counts: very volatile",
     "Petits effectifs : très variables d'une année à l'autre et souvent nuls dans les petits "
     "départements ; mieux vaut regarder plusieurs années ou des zones plus vastes."),
    ("Counts vehicles, not offences", "Compte des véhicules, pas des infractions."),
    ("Counts victims heard", "Compte les victimes entendues par la police, pas les infractions."),
    ("Counts offences (Infraction), not victims", None),  # burglaries: as one would read them
    ("The fixed fine for drug use (AFD) exists only since September 2020",
     "L'amende forfaitaire délictuelle (AFD) pour usage de stupéfiants n'existe que depuis "
     "septembre 2020 : la série AFD vaut 0 de 2016 à 2019 et le partage AFD / hors AFD change à "
     "partir de 2020 ; seul le total est comparable dans le temps."),
    ("Total of the AFD and non-AFD series", "Total des séries AFD et hors AFD."),
    # Said by the answer's unit, by the upper-bound note (_flags) or not about a single edition:
    ("Rates are per 1,000 dwellings", None),
    ("A person implicated in several departments", None),
    ("'Mis en cause' counts summed over departments", None),
    ("Category of the 2025 edition", None),
    # General (every indicator): the answer's source line says recorded crime is not all crime.
    ("Figures for this level are aggregated from departments", None),
    ("Forecasts extrapolate recorded crime", None),
    ("FR = all 101 departments", None),
]


def _reference_name(reference: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The area a ranking's reference value is for, when it is not France (the department or
    region whose communes are ranked): its name, else None."""
    code = str(reference.get("code", ""))
    if code in ("", "FR", "FM") and not (data.get("within") or {}).get("code"):
        return None
    name = reference.get("name")
    return str(name) if name and code not in ("FR", "FM") else None


def caveat(text: str, lang: str) -> str | None:
    """A tool's caveat as a note of the answer, in its language (None: not shown)."""
    for start, french in _CAVEATS:
        if text.startswith(start):
            if french is None:
                return None
            return french if lang == "fr" else text
    return text  # a caveat the app does not know yet: shown as the server wrote it


def _caveats(data: dict[str, Any], lang: str) -> list[str]:
    found = (caveat(str(c), lang) for c in data.get("caveats", []))
    return [c for c in found if c]


def _warnings(data: dict[str, Any], lang: str) -> list[str]:
    return [warning(str(w), lang) for w in data.get("warnings", [])][:2]


def _series(by_name: dict[str, list[ToolOutcome]], plan: Plan, lang: str) -> Reply:
    histories = [o.data for o in by_name.get("get_history", []) if o.data]
    forecasts = [o.data for o in by_name.get("forecast", []) if o.data]
    sentences, notes = _describe(histories, forecasts, lang)
    if plan.accuracy:  # "How reliable is your forecast for drug use in Paris?"
        sentences = [_reliability(f, lang) for f in forecasts] + sentences
    source = _edition(histories[0] if histories else forecasts[0], lang)
    # Two indicators: one panel each; one year: a number card (charts.series_chart decides).
    shown = [h for h in histories if h.get("points")]
    figure = charts.series_chart(shown, forecasts, lang=lang) if shown or forecasts else None
    text = " ".join(s for s in sentences if s)
    return Reply(f"{text} {source}".strip(), figure, list(dict.fromkeys(notes)))


def _describe(histories: list[dict[str, Any]], forecasts: list[dict[str, Any]], lang: str
              ) -> tuple[list[str], list[str]]:
    """A sentence per history and per forecast, and their notes (caveats, flags, warnings)."""
    sentences: list[str] = []
    notes: list[str] = []
    for history in histories:
        sentences.append(_history_sentence(history, lang))
        notes += _caveats(history, lang) + _flags(history, lang)
    for forecast in forecasts:
        sentences.append(_forecast_sentence(forecast, lang))
        notes += _caveats(forecast, lang) + _warnings(forecast, lang)
    return sentences, notes


def _matching(forecasts: list[dict[str, Any]], history: dict[str, Any]) -> dict[str, Any] | None:
    key = (history.get("area", {}).get("code"), history.get("indicator", {}).get("slug"))
    for forecast in forecasts:
        if (forecast.get("area", {}).get("code"), forecast.get("indicator", {}).get("slug")) == key:
            return forecast
    return None


def _flags(data: dict[str, Any], lang: str) -> list[str]:
    notes = []
    if data.get("upper_bound"):
        notes.append(say(
            lang,
            "Chiffres agrégés de « mis en cause » : une personne impliquée dans plusieurs "
            "départements est comptée plusieurs fois, c'est donc une borne haute.",
            "Aggregated 'persons implicated' counts: someone implicated in several departments "
            "is counted in each, so this is an upper bound.",
        ))
    return notes


def _history_sentence(history: dict[str, Any], lang: str) -> str:
    points = [p for p in history.get("points", []) if p.get("count") is not None]
    indicator = history.get("indicator", {})
    area = history.get("area", {}).get("name", "")
    what = label(indicator, lang)
    if not points:
        return say(lang, f"Aucune donnée pour {what} ({area}) sur cette période.",
                   f"No data for {what} ({area}) in that period.")
    last = points[-1]
    rates = rate_pair(last.get("rate_per_100k"), indicator, lang)
    head = say(
        lang,
        f"{what} — {area} : {num(last['count'], lang, 0)} en {last['year']} ({rates})",
        f"{what} — {area}: {num(last['count'], lang, 0)} in {last['year']} ({rates})",
    )
    if len(points) == 1:
        return head + "."
    first = points[0]
    previous = points[-2]
    if max(float(p["count"]) for p in points) < SMALL_COUNT:
        return head + _small_tail(points, lang)
    change_prev = _change(last["count"], previous["count"])
    if len(points) == 2:  # "en 2021 et 2022": both years, said once
        before = f"{num(previous['count'], lang, 0)}"
        before_rate = num(previous.get("rate_per_100k"), lang)
        return head + say(
            lang,
            f", contre {before} en {previous['year']} ({before_rate}) : "
            f"{pct(change_prev, lang)}.",
            f", against {before} in {previous['year']} ({before_rate}): "
            f"{pct(change_prev, lang)}.",
        )
    change_first = _change(last.get("rate_per_100k"), first.get("rate_per_100k"))
    peak = max(points, key=lambda p: p.get("rate_per_100k") or 0)
    tail = say(
        lang,
        f", soit {pct(change_prev, lang)} sur un an et {pct(change_first, lang)} de taux depuis "
        f"{first['year']} ({num(first.get('rate_per_100k'), lang)}).",
        f": {pct(change_prev, lang)} on the year and {pct(change_first, lang)} in rate since "
        f"{first['year']} ({num(first.get('rate_per_100k'), lang)}).",
    )
    if peak["year"] not in (last["year"], first["year"]):
        peak_rate = num(peak.get("rate_per_100k"), lang)
        tail += say(lang, f" Le pic date de {peak['year']} ({peak_rate}).",
                    f" The peak was in {peak['year']} ({peak_rate}).")
    return head + tail


def _years(years: list[int], lang: str) -> str:
    words = [str(y) for y in years]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + say(lang, " et ", " and ") + words[-1]


def _small_tail(points: list[dict[str, Any]], lang: str) -> str:
    """Counts of a series too small for percentages: the year before, the total, the range and
    every year at the highest count."""
    counts = [round(float(p["count"])) for p in points]
    previous, first, last = points[-2], points[0], points[-1]
    high = max(counts)
    at_high = [int(p["year"]) for p, c in zip(points, counts, strict=True) if c == high]
    prev = num(previous["count"], lang, 0)
    total = num(sum(counts), lang, 0)
    span = f"{first['year']}–{last['year']}"
    low = num(min(counts), lang, 0)
    top = num(high, lang, 0)
    return say(
        lang,
        f", contre {prev} en {previous['year']} ; {total} au total sur {span}, entre {low} et "
        f"{top} par an (maximum en {_years(at_high, lang)}). Effectifs trop petits pour des "
        "pourcentages.",
        f": {prev} in {previous['year']}; {total} in all over {span}, {low} to {top} a year "
        f"(highest in {_years(at_high, lang)}). Counts too small for percentages.",
    )


def _change(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return (float(new) / float(old) - 1.0) * 100


def _forecast_sentence(forecast: dict[str, Any], lang: str) -> str:
    rows = forecast.get("forecasts") or []
    if not rows:
        return ""
    indicator = forecast.get("indicator", {})
    area = forecast.get("area", {}).get("name", "")
    final = rows[-1]
    rate = final["rate_per_100k"]
    count = final["count"]
    unit = rate_unit(indicator, lang)
    model = forecast.get("model", {})
    if float(count["hi_80"]) < SMALL_COUNT:
        text = _small_forecast(final, area, lang)
    else:
        text = say(
            lang,
            f"Prévision {final['year']} pour {area} : {num(rate['value'], lang)} {unit} "
            f"(intervalle 80 % : {num(rate['lo_80'], lang)}–{num(rate['hi_80'], lang)} ; 95 % : "
            f"{num(rate['lo_95'], lang)}–{num(rate['hi_95'], lang)}), soit environ "
            f"{num(count['value'], lang, 0)} faits.",
            f"Forecast for {final['year']} in {area}: {num(rate['value'], lang)} {unit} "
            f"(80% interval {num(rate['lo_80'], lang)}–{num(rate['hi_80'], lang)}; 95% "
            f"{num(rate['lo_95'], lang)}–{num(rate['hi_95'], lang)}), about "
            f"{num(count['value'], lang, 0)} cases.",
        )
    if model.get("backtested") and model.get("ratio_to_naive") is not None:
        ratio = num(model["ratio_to_naive"], lang, 2)
        text += say(
            lang,
            f" Modèle {model.get('name')} : en backtest, sur l'ensemble des indicateurs de ce "
            f"niveau, son erreur vaut {ratio} fois celle de la prévision naïve (< 1 = meilleur "
            f"que naïf).",
            f" Model {model.get('name')}: in backtests, across all indicators of this level, its "
            f"error was {ratio} times the naive forecast's (< 1 beats naive).",
        )
    elif model.get("backtested") and model.get("mase") is not None:
        text += say(lang, f" Modèle {model.get('name')} : en backtest, "
                    f"{mase_words(model['mase'], lang)}.", f" Model {model.get('name')}: in "
                    f"backtests, {mase_words(model['mase'], lang)}.")
    elif model:
        text += say(lang, " Ce niveau n'a pas été évalué en backtest.",
                    " This level was not backtested.")
    return text


def _reliability(forecast: dict[str, Any], lang: str) -> str:
    """How good this forecast was in backtests, on its own indicator first (the figures the
    forecast tool returns for it), the level-wide figure only beside them."""
    model = forecast.get("model", {})
    what = label(forecast.get("indicator", {}), lang)
    area = forecast.get("area", {}).get("name", "")
    if not model.get("backtested"):
        return say(lang, f"Fiabilité de la prévision ({what}, {area}) : ce niveau n'a pas été "
                   "évalué en backtest, elle n'a donc pas de mesure d'erreur.",
                   f"Reliability of the forecast ({what}, {area}): this level was not "
                   "backtested, so there is no measured error.")
    mase = model.get("indicator_mase")
    cov80, cov95 = model.get("indicator_coverage_80"), model.get("indicator_coverage_95")
    if mase is None:
        mase, cov80, cov95 = model.get("mase"), model.get("coverage_80"), model.get("coverage_95")
        scope = say(lang, "sur l'ensemble des indicateurs de ce niveau (pas de chiffre propre à "
                    "cet indicateur)", "across all indicators of this level (no figure for this "
                    "indicator alone)")
    else:
        scope = say(lang, f"sur cet indicateur ({num(model.get('indicator_n_backtest'), lang, 0)}"
                    " prévisions vérifiées)", f"on this indicator "
                    f"({num(model.get('indicator_n_backtest'), lang, 0)} forecasts checked)")
    text = say(
        lang,
        f"Fiabilité de la prévision — {what}, {area} : en backtest (des prévisions faites sur "
        f"le passé puis comparées à ce qui s'est produit), le modèle {model.get('name')} a eu "
        f"{scope} {mase_words(mase, lang)}",
        f"Reliability of the forecast — {what}, {area}: in backtests (forecasts made on past "
        f"data, then checked against what happened), the {model.get('name')} model had {scope} "
        f"{mase_words(mase, lang)}",
    )
    if cov80 is not None and cov95 is not None:
        text += say(
            lang,
            f" ; ses intervalles à 80 % ont contenu {num(_as_pct(cov80), lang, 0)} % des valeurs "
            f"réelles et ceux à 95 % {num(_as_pct(cov95), lang, 0)} %",
            f"; its 80% intervals contained {num(_as_pct(cov80), lang, 0)}% of actual values "
            f"and its 95% intervals {num(_as_pct(cov95), lang, 0)}%",
        )
        if float(cov80) < 0.75 or float(cov95) < 0.9:
            text += say(lang, " : des intervalles trop étroits pour cet indicateur, à lire comme "
                        "un minimum d'incertitude", ": intervals too narrow for this indicator, "
                        "to be read as a minimum of uncertainty")
    text += "."
    if model.get("indicator_mase") is not None and model.get("mase") is not None:
        text += say(lang, f" Pour comparaison, sur tous les indicateurs de ce niveau : MASE "
                    f"{num(model['mase'], lang, 2)}.", f" For comparison, across all indicators "
                    f"of this level: MASE {num(model['mase'], lang, 2)}.")
    return text


def _small_forecast(final: dict[str, Any], area: str, lang: str) -> str:
    """A forecast of a few cases a year, in whole cases (rates of 0.1 per 100,000 say little)."""
    count = final["count"]
    value = float(count["value"])

    def span(lo: float, hi: float) -> str:
        return f"{max(0, math.floor(lo))}–{max(1, math.ceil(hi))}"

    if value < 1:
        point = say(lang, "moins d'un fait par an", "fewer than 1 case a year")
    else:
        point = say(lang, f"environ {round(value)} faits", f"about {round(value)} cases")
    return say(
        lang,
        f"Prévision {final['year']} pour {area} : {point} (intervalle 80 % : "
        f"{span(count['lo_80'], count['hi_80'])} faits ; 95 % : "
        f"{span(count['lo_95'], count['hi_95'])}).",
        f"Forecast for {final['year']} in {area}: {point} (80% interval "
        f"{span(count['lo_80'], count['hi_80'])} cases; 95% "
        f"{span(count['lo_95'], count['hi_95'])}).",
    )


def _ranking(
    data: dict[str, Any], plan: Plan, lang: str, counts: dict[str, Any] | None = None
) -> Reply:
    rows = [r for r in data.get("ranking", []) if r.get("value") is not None]
    indicator = data.get("indicator", {})
    measure = str(data.get("measure", "rate_per_100k"))
    unit = measure_unit(measure, indicator, lang)
    year = data.get("year")
    what = label(indicator, lang)
    if not rows:
        return Reply(say(lang, f"Pas de classement disponible pour {what} en {year}.",
                         f"No ranking available for {what} in {year}."))
    digits = 0 if measure == "count" else 1  # counts are whole numbers
    n = plan.top_n or 3
    ordered = rows if plan.extremum == "max" else rows[::-1]
    lead = ordered[: max(1, min(n, 10))]
    listed = ", ".join(f"{r['name']} ({num(r['value'], lang, digits)})" for r in lead)
    forecast_word = say(lang, " (prévision)", " (forecast)") if data.get("is_forecast") else ""
    level_words = {"region": ("par région", "by region"), "commune": ("par commune", "by commune"),
                   "country": ("par pays", "by country")}
    by_level = say(lang, *level_words.get(str(data.get("level")),
                                          ("par département", "by department")))
    if measure == "count":
        kind = say(lang, "plus grand nombre" if plan.extremum == "max" else "plus petit nombre",
                   "highest number" if plan.extremum == "max" else "lowest number")
    else:
        kind = say(lang, "taux le plus élevé" if plan.extremum == "max" else "taux le plus bas",
                   "highest rate" if plan.extremum == "max" else "lowest rate")
    head = f"{what}, {year}{forecast_word} — {kind} {by_level}" + say(lang, " : ", ": ")
    text = f"{head}{listed}" + (f" {unit}" if unit else "") + "."
    national = data.get("national") or {}
    if national.get("value") is not None:
        national_value = num(national["value"], lang, digits)
        reference = _reference_name(national, data)
        text += say(lang, f" {reference or 'France entière'} : {national_value}.",
                    f" {reference or 'France as a whole'}: {national_value}.")
    other = rows[-1] if plan.extremum == "max" else rows[0]
    other_value = num(other["value"], lang, digits)
    text += say(lang, f" À l'autre bout : {other['name']} ({other_value}).",
                f" At the other end: {other['name']} ({other_value}).")
    count_rows = [r for r in (counts or {}).get("ranking", []) if r.get("value") is not None]
    if count_rows:
        leaders = ", ".join(f"{r['name']} ({num(r['value'], lang, 0)})" for r in count_rows[:3])
        text += say(lang, f" En nombre de faits, en tête : {leaders}.",
                    f" By number of cases, the most: {leaders}.")
    text += " " + _edition(data, lang)
    notes = _caveats(data, lang) + _warnings(data, lang) + _flags(data, lang)
    top = plan.top_n or (MAX_RANKING_BARS if len(rows) > MAX_RANKING_BARS else None)
    shown = dict(data)
    if plan.extremum == "min" and top:
        shown["ranking"] = rows[::-1][:top][::-1]
        top = None
    figure = charts.ranking_chart(shown, lang=lang, top=top)
    return Reply(text.strip(), figure, notes)


def _compare(by_name: dict[str, list[ToolOutcome]], plan: Plan, lang: str) -> Reply:
    histories = [o.data for o in by_name.get("get_history", []) if o.data]
    forecasts = [o.data for o in by_name.get("forecast", []) if o.data]
    comparison = by_name.get("compare_regions", [None])[0]
    sentences: list[str] = []
    notes: list[str] = []
    if comparison is not None and comparison.data:
        data = comparison.data
        indicator = data.get("indicator", {})
        unit = measure_unit(str(data.get("measure")), indicator, lang)
        out_of = data.get("out_of") or ""
        digits = 0 if data.get("measure") == "count" else 1
        parts = [
            f"{r['name']} {num(r['value'], lang, digits)}"
            + say(lang, f" (rang {r['rank']}/{out_of})", f" (rank {r['rank']}/{out_of})")
            for r in data.get("ranking", [])
        ]
        sentences.append(
            f"{label(indicator, lang)}, {data.get('year')}: " + ", ".join(parts)
            + (f" {unit}" if unit else "") + "."
        )
        national = data.get("national") or {}
        if national.get("value") is not None:
            national_value = num(national["value"], lang, digits)
            sentences.append(say(lang, f"France entière : {national_value}.",
                                 f"France as a whole: {national_value}."))
        notes += _caveats(data, lang) + _flags(data, lang)
    ranked = comparison is not None and bool(comparison.data)
    more_sentences, more_notes = _describe([] if ranked else histories, forecasts, lang)
    sentences += more_sentences
    notes += more_notes
    if histories and comparison is not None:
        trends = []
        for history in histories:
            pts = history.get("points", [])
            if len(pts) >= 2:
                change = _change(pts[-1].get("rate_per_100k"), pts[0].get("rate_per_100k"))
                trends.append(f"{history['area']['name']} {pct(change, lang)}")
        if trends:
            first_year = histories[0]["points"][0]["year"]
            sentences.append(say(lang, f"Évolution du taux depuis {first_year} : ",
                                 f"Change in rate since {first_year}: ") + ", ".join(trends) + ".")
    figure = charts.multi_history_chart(histories, forecasts, lang=lang) if histories else None
    source = _edition(histories[0] if histories else (comparison.data if comparison else {}) or {},
                      lang)
    return Reply(" ".join([*sentences, source]).strip(), figure, list(dict.fromkeys(notes)))


def _models(data: dict[str, Any], lang: str) -> Reply:
    sentences = []
    for board in data.get("levels", []):
        level = board.get("level")
        if lang == "fr":
            level = _LEVEL_FR.get(str(level), level)
        if not board.get("backtested"):
            sentences.append(say(lang, f"Niveau {level} : pas de backtest.",
                                 f"{level}: not backtested."))
            continue
        champion = board.get("champion")
        cand: dict[str, Any] = next(
            (c for c in board.get("candidates", []) if c.get("name") == champion), {}
        )
        cov80 = cand.get("coverage_80")
        cov95 = cand.get("coverage_95")
        ratio = num(board.get("champion_ratio_to_naive"), lang, 2)
        sentences.append(say(
            lang,
            f"Niveau {level} : le modèle retenu est {champion}, avec "
            f"{mase_words(cand.get('mase'), lang)}, soit {ratio} fois l'erreur de la prévision "
            f"naïve « comme l'an dernier » (< 1 = meilleur que naïf) ; ses intervalles 80 % ont "
            f"couvert "
            f"{num(_as_pct(cov80), lang, 0)} % des valeurs réelles et ses intervalles 95 % "
            f"{num(_as_pct(cov95), lang, 0)} %.",
            f"{str(level).capitalize()}: the champion is {champion}, with "
            f"{mase_words(cand.get('mase'), lang)}, i.e. {ratio} times the error of the naive "
            f"'same as last year' forecast (< 1 beats naive); its 80% intervals covered "
            f"{num(_as_pct(cov80), lang, 0)}% of "
            f"actual values and its 95% intervals {num(_as_pct(cov95), lang, 0)}%.",
        ))
    protocol = data.get("protocol") or {}
    if protocol:
        sentences.append(say(lang, "Évaluation par backtest à origine glissante : les modèles "
                             "prévoient des années passées à partir des seules années "
                             "d'avant, puis sont comparés aux chiffres réels.",
                             "Measured by rolling-origin backtests: the models forecast past "
                             "years from the years before them only, then are compared with "
                             "the actual figures."))
    figure = charts.calibration_chart(data, lang=lang) if data.get("levels") else None
    return Reply(" ".join(sentences), figure, _warnings(data, lang))


def _as_pct(value: float | None) -> float | None:
    if value is None:
        return None
    return value * 100 if value <= 1.0 else value


def _areas(data: dict[str, Any], lang: str) -> Reply:
    areas = data.get("areas", [])
    region = (data.get("region") or {}).get("name")
    level = data.get("level")
    names = ", ".join(f"{a['name']} ({a['code']})" for a in areas)
    if region:
        head = say(lang, f"{region} compte {len(areas)} départements : ",
                   f"{region} has {len(areas)} departments: ")
    elif level == "region":
        head = say(lang, f"Les {len(areas)} régions : ", f"The {len(areas)} regions: ")
    elif level == "department":
        head = say(lang, f"Les {len(areas)} départements : ", f"The {len(areas)} departments: ")
    else:
        head = ""
    return Reply(f"{head}{names}.")


def _indicators(data: dict[str, Any], lang: str) -> Reply:
    items = data.get("indicators", [])
    names = "; ".join(label(i, lang) for i in items)
    years = f"{data.get('first_year')}–{data.get('last_year')}"
    text = say(
        lang,
        f"{len(items)} indicateurs, {years} : {names}. Tous sont des faits enregistrés par la "
        "police et la gendarmerie, pas la délinquance réelle.",
        f"{len(items)} indicators, {years}: {names}. All are offences recorded by the police "
        "and gendarmerie, not actual crime.",
    )
    return Reply(text)


def chart_for(outcomes: Sequence[ToolOutcome], lang: str) -> charts.Chart | None:
    """The chart that best goes with a set of tool results (used in language-model mode)."""
    def results(name: str) -> list[dict[str, Any]]:
        return [o.data for o in outcomes if o.ok and o.name == name and o.data]

    histories, forecasts = results("get_history"), results("forecast")
    if histories or forecasts:
        return charts.series_chart(histories, forecasts, lang=lang)
    comparisons = results("compare_regions")
    if comparisons:
        rows = comparisons[0].get("ranking", [])
        return charts.ranking_chart(comparisons[0], lang=lang,
                                    top=MAX_RANKING_BARS if len(rows) > MAX_RANKING_BARS else None)
    metrics = results("model_metrics")
    if metrics:
        return charts.calibration_chart(metrics[0], lang=lang)
    return None
