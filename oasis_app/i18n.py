"""The interface's words in French (first: the audience is French) and English.

Only the interface lives here: tabs, labels, buttons, notes, chart and table words. Facts (names of
areas and indicators, years, editions) come from the MCP tools; the English labels of indicators
come from the catalogue (``list_indicators``' ``label_en``), never from a table here.
"""

from __future__ import annotations

from typing import Any

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
LANG_CHOICES = [("Français", "fr"), ("English", "en")]

STRINGS: dict[str, tuple[str, str]] = {
    # header and tabs
    "page_title": ("OASIS — la délinquance enregistrée en France, historique et prévisions",
                   "OASIS — French recorded crime, history and forecasts"),
    "header": (
        "# OASIS — la délinquance enregistrée en France\n"
        "Statistiques officielles du SSMSI (police et gendarmerie, data.gouv.fr, {first}–{last}), "
        "prévisions jusqu'en {horizon}, servies par un serveur MCP : chaque chiffre de cette page "
        "vient de ses outils. *La délinquance enregistrée n'est pas toute la délinquance.*",
        "# OASIS — recorded crime in France\n"
        "Official SSMSI statistics (police and gendarmerie, data.gouv.fr, {first}–{last}), "
        "forecasts to {horizon}, served by an MCP server — every figure on this page comes from "
        "its tools. *Recorded crime is not actual crime.*",
    ),
    "language": ("Langue", "Language"),
    "tab_chat": ("Discussion", "Chat"),
    "tab_explore": ("Explorer", "Explore"),
    "tab_profile": ("Profil", "Profile"),
    "tab_compare": ("Comparer", "Compare"),
    "tab_models": ("Modèles", "Models"),
    "tab_about": ("À propos", "About"),
    # common controls
    "level": ("Niveau", "Level"),
    "area": ("Territoire", "Area"),
    "areas": ("Territoires", "Areas"),
    "indicator": ("Indicateur", "Indicator"),
    "measure": ("Mesure", "Measure"),
    "year": ("Année", "Year"),
    "year_compare": ("Année (les suivantes sont des prévisions)",
                     "Year (later years are forecasts)"),
    "level_region": ("Région", "Region"),
    "level_department": ("Département", "Department"),
    "level_country": ("France entière", "Whole country"),
    "level_commune": ("Commune", "Commune"),
    "measure_rate_per_100k": ("Taux pour 100 000", "Rate per 100,000"),
    "measure_rate_per_1000": ("Taux pour 1 000 (publié par le SSMSI)",
                              "Rate per 1,000 (as published by the SSMSI)"),
    "measure_count": ("Nombre", "Count"),
    "download_csv": ("Télécharger le CSV", "Download CSV"),
    "refresh": ("Actualiser", "Refresh"),
    "pick_area": ("Choisissez un territoire et un indicateur.", "Pick an area and an indicator."),
    "no_data": ("Pas de données pour cette sélection", "No data for this selection"),
    "nothing_to_rank": ("Rien à classer pour cette sélection",
                        "Nothing to rank for this selection"),
    # chat
    "chat_label": ("Posez votre question en français ou en anglais",
                   "Ask in French or English"),
    "chat_placeholder": (
        "**Posez une question sur la délinquance enregistrée en France** : évolution, "
        "prévisions, classements, comparaisons. Chaque appel d'outil est affiché avec ses "
        "arguments et sa durée.",
        "**Ask about recorded crime in France** — history, forecasts, rankings, comparisons. "
        "Each tool call is shown with its arguments and duration.",
    ),
    "question_placeholder": ("ex. Évolution des cambriolages en Bretagne depuis 2016",
                             "e.g. How have burglaries evolved in Brittany since 2016?"),
    "ask": ("Envoyer", "Ask"),
    "chat_mode_llm": ("Réponses du modèle de langue {label} ; outils appelés dans le processus "
                      "par le client MCP officiel.",
                      "Answers by the language model {label}; tools called in process through "
                      "the official MCP client."),
    "chat_mode_planner": ("Réponses du planificateur hors ligne (déterministe) ; outils appelés "
                          "dans le processus par le client MCP officiel.",
                          "Answers by the offline planner (deterministic); tools called in "
                          "process through the official MCP client."),
    "tool_call": ("Appel d'outil", "Tool call"),
    "yearly_points": ("{n} points annuels ({span})", "{n} yearly points ({span})"),
    "no_year": ("aucune année", "no year"),
    "forecasts_for": ("prévisions {span}", "forecasts for {span}"),
    "no_forecast": ("aucune prévision", "no forecast"),
    "areas_ranked": ("{n} territoires classés pour {year}", "{n} areas ranked for {year}"),
    "leaderboards": ("classements des modèles pour {n} niveau(x)", "leaderboards for {n} level(s)"),
    "n_areas": ("{n} territoires", "{n} areas"),
    "n_indicators": ("{n} indicateurs", "{n} indicators"),
    "done": ("terminé", "done"),
    # explore
    "show_forecast": ("Prévision jusqu'en {horizon} (intervalles 80 % et 95 %)",
                      "Forecast to {horizon} (80% and 95% intervals)"),
    "series": ("Série", "Series"),
    "counts_are": ("Les nombres comptent des **{what}** ({unit}) enregistrés par la police et la "
                   "gendarmerie ; les taux sont rapportés {per}.",
                   "Counts are **{what}** ({unit}) recorded by the police and gendarmerie; "
                   "rates are per {per}."),
    "per_population": ("à la population (habitants)", "inhabitants"),
    "per_dwellings": ("au nombre de logements", "dwellings"),
    "unit_Infraction": ("infractions", "offences"),
    "unit_Victime": ("victimes", "victims"),
    "unit_Mis en cause": ("personnes mises en cause", "persons implicated"),
    "unit_Véhicule": ("véhicules", "vehicles"),
    "unit_Victime entendue": ("victimes entendues", "victims heard"),
    "derived_note": ("Chiffres agrégés à partir des départements (pas de fichier régional "
                     "officiel dans cette édition).",
                     "Figures aggregated from departments (no official regional file in this "
                     "edition)."),
    "upper_bound_note": ("Borne haute : une personne mise en cause dans plusieurs départements "
                         "est comptée dans chacun.",
                         "Upper bound: a person implicated in several departments is counted in "
                         "each."),
    "forecast_model_note": (
        "Modèle de prévision **{model}** : en test sur le passé (backtest), son erreur vaut "
        "{ratio} × celle de la prévision naïve « comme l'an dernier » (en dessous de 1, il fait "
        "mieux qu'elle ; MASE {mase}).",
        "Forecast model **{model}**: tested on past years (backtest), its error is {ratio} × "
        "that of the naive 'same as last year' forecast (below 1 beats it; MASE {mase}).",
    ),
    "forecast_indicator_note": (
        "Sur cet indicateur, ses fourchettes à 80 % ont contenu la vraie valeur {cov80} des fois "
        "en backtest (95 % : {cov95}).",
        "On this indicator, its 80% ranges held the true value {cov80} of the time in backtest "
        "(95%: {cov95}).",
    ),
    "per1000_forecast_note": ("Les prévisions sont calculées en nombres et en taux pour 100 000 ; "
                              "le graphique montre donc le taux pour 100 000.",
                              "Forecasts come as counts and rates per 100,000; the chart shows "
                              "the rate per 100,000."),
    # table headers
    "col_area": ("Territoire", "Area"),
    "col_code": ("Code", "Code"),
    "col_indicator": ("Indicateur", "Indicator"),
    "col_year": ("Année", "Year"),
    "col_kind": ("Nature", "Kind"),
    "kind_observed": ("observé", "observed"),
    "kind_forecast": ("prévision", "forecast"),
    "col_count": ("Nombre", "Count"),
    "col_rate_1000": ("Pour 1 000", "Per 1,000"),
    "col_rate_100k": ("Pour 100 000", "Per 100,000"),
    "col_range_80": ("Intervalle 80 % (pour 100 000)", "80% interval (per 100,000)"),
    "col_range_95": ("Intervalle 95 % (pour 100 000)", "95% interval (per 100,000)"),
    "col_rank": ("Rang", "Rank"),
    "col_rank_region": ("Rang dans la région", "Rank in the region"),
    "col_rank_national": ("Rang national", "National rank"),
    "col_value": ("Valeur", "Value"),
    "col_change_1y": ("Évolution sur 1 an", "Change over 1 year"),
    "col_change_2016": ("Évolution depuis {first}", "Change since {first}"),
    "of_count": ("du nombre", "of the count"),
    "of_rate": ("du taux", "of the rate"),
    "col_unit": ("Unité de compte", "Unit counted"),
    "col_france": ("France ({per})", "France ({per})"),
    "col_vs_france": ("Rapport à la France", "Ratio to France"),
    "col_share": ("Part du total national", "Share of the national total"),
    # compare
    "within_region": ("Départements d'une région", "Departments of one region"),
    "all_regions": ("Toute la France", "All of France"),
    "ranking": ("Classement", "Ranking"),
    "top_n": ("Le graphique montre les {top} premiers sur {n} ; le tableau et la carte les "
              "montrent tous.",
              "The bar chart shows the top {top} of {n}; the table and the map show all."),
    "is_forecast_note": ("Les valeurs de cette année sont des **prévisions**, pas des "
                         "observations.",
                         "Values for this year are **point forecasts**, not observations."),
    "regional_derived": ("Les chiffres régionaux sont agrégés à partir des départements.",
                         "Regional figures are aggregated from departments."),
    "no_map": ("La carte n'est pas disponible (contours introuvables) ; le classement est "
               "ci-dessus.",
               "The map is not available (no outlines could be loaded); the ranking is above."),
    "within_note": ("Les {n} départements de **{region}** ; le rang national est parmi les "
                    "{out_of} départements.",
                    "The {n} departments of **{region}**; the national rank is among all "
                    "{out_of} departments."),
    "several_title": ("### Plusieurs territoires sur un graphique",
                      "### Several areas on one chart"),
    "several_label": ("Territoires à comparer (même niveau)", "Areas to compare (same level)"),
    "several_pick": ("Choisissez au moins un territoire.", "Pick at least one area."),
    "with_france": ("Avec la France entière", "With the whole country"),
    # profile
    "profile_intro": ("Tous les indicateurs d'un territoire en {year} : évolution, comparaison "
                      "avec la France et part du total national.",
                      "Every indicator of one area in {year}: change, comparison with France and "
                      "share of the national total."),
    "profile_head": ("### {name} — {year}\n{population}",
                     "### {name} — {year}\n{population}"),
    "population": ("Population (INSEE) : {pop} habitants.", "Population (INSEE): {pop}."),
    "profile_chart_title": ("{name} face à la France en {year} (France = 100, taux)",
                            "{name} against France in {year} (France = 100, rates)"),
    "profile_axis": ("Indice (France = 100)", "Index (France = 100)"),
    "profile_how": (
        "Lecture : un indice de 150 signifie un taux 1,5 fois celui de la France entière. Les "
        "évolutions portent sur les nombres enregistrés ; la part du total national compare le "
        "nombre du territoire à celui de la France.",
        "How to read: an index of 150 means a rate 1.5 times that of the whole country. Changes "
        "are changes in the recorded counts; the share of the national total compares the "
        "area's count with France's.",
    ),
    "profile_failed": ("Indicateurs non disponibles : {names}.",
                       "Indicators not available: {names}."),
    # models
    "models_loading": ("Chargement du classement des modèles…", "Loading the leaderboard…"),
    "candidates": ("Modèles candidats (meilleur MASE d'abord)", "Candidates (best MASE first)"),
    "champion_line": (
        "**Modèle retenu ({level}) : {champion}** — son erreur vaut {ratio} × celle de la "
        "prévision naïve (MASE {mase}) ; ses fourchettes à 80 % ont contenu la vraie valeur "
        "{cov80} des fois, celles à 95 % {cov95}, sur {n} séries.",
        "**Champion ({level}): {champion}** — its error is {ratio} × that of the naive forecast "
        "(MASE {mase}); its 80% ranges held the true value {cov80} of the time, its 95% ranges "
        "{cov95}, over {n} series.",
    ),
    "not_backtested": ("Le niveau {level} n'a pas été testé sur le passé.",
                       "The {level} level was not backtested."),
    "protocol": ("Protocole : {text}", "Protocol: {text}"),
    "trained_on": ("Entraîné sur l'édition {training} ; données servies : {data}.",
                   "Trained on edition {training}; data served: {data}."),
    "backtest_points_note": ("_Points du backtest : {note}_", "_Backtest points: {note}_"),
    "backtest_title": ("Backtest du modèle retenu — {level} : prévu contre réel",
                       "Champion backtest — {level}: predicted vs actual"),
    "models_explained": (
        "#### Comment lire ces scores\n"
        "- **Backtest** (test sur le passé) : on se replace à une date passée, on prévoit les "
        "années suivantes avec les seules données connues alors, puis on compare aux chiffres "
        "réellement publiés.\n"
        "- **MASE** : l'erreur moyenne du modèle divisée par celle de la prévision naïve "
        "« même valeur que l'an dernier ». **En dessous de 1, le modèle fait mieux que cette "
        "prévision naïve** ; au-dessus, il fait moins bien.\n"
        "- **Fourchettes (intervalles conformes)** : elles sont réglées sur les erreurs passées "
        "du modèle, pour qu'une fourchette à 80 % contienne la vraie valeur environ 8 fois sur "
        "10. La **couverture** mesure combien de fois c'est arrivé en backtest : proche de 80 % "
        "et 95 %, les fourchettes sont honnêtes ; nettement en dessous, elles sont trop étroites.\n"
        "- Une série ne compte que {n_points} points annuels : les prévisions restent indicatives.",
        "#### How to read these scores\n"
        "- **Backtest** (test on past years): go back to a past date, forecast the following "
        "years with only the data known then, and compare with the figures actually published.\n"
        "- **MASE**: the model's average error divided by that of the naive forecast 'same value "
        "as last year'. **Below 1 the model beats that naive forecast**; above 1 it does worse.\n"
        "- **Ranges (conformal intervals)**: they are set from the model's past errors so that an "
        "80% range holds the true value about 8 times out of 10. **Coverage** counts how often "
        "that happened in backtest: close to 80% and 95%, the ranges are honest; well below, "
        "they are too narrow.\n"
        "- A series has only {n_points} yearly points: forecasts are indicative.",
    ),
    # charts
    "observed": ("Observé", "Observed"),
    "forecast": ("Prévision", "Forecast"),
    "band80": ("Intervalle 80 %", "80% interval"),
    "band95": ("Intervalle 95 %", "95% interval"),
    "inhabitants": ("pour 100 000 habitants", "per 100,000 inhabitants"),
    "dwellings": ("pour 100 000 logements", "per 100,000 dwellings"),
    "per1000_inhabitants": ("pour 1 000 habitants", "per 1,000 inhabitants"),
    "per1000_dwellings": ("pour 1 000 logements", "per 1,000 dwellings"),
    "count": ("Nombre", "Count"),
    "national": ("France", "France"),
    "forecast_year": ("prévision", "forecast"),
    "actual": ("Valeur réelle", "Actual"),
    "predicted": ("Valeur prévue", "Predicted"),
    "nominal": ("Cible", "Target"),
    "coverage": ("Couverture en backtest", "Backtest coverage"),
    "calibration": ("Les fourchettes contiennent-elles la vraie valeur ?",
                    "Do the ranges hold the true value?"),
    "mase_axis": ("MASE (plus bas = meilleur ; 1 = prévision naïve)",
                  "MASE (lower is better; 1 = naive forecast)"),
    "naive_forecast": ("prévision naïve", "naive forecast"),
    "value_in": ("{value} en {year}", "{value} in {year}"),
    "single_year_title": ("{label} — {area}, {year}", "{label} — {area}, {year}"),
    # about
    "about_data": ("## Les données", "## Data"),
    "about_publisher": ("Producteur", "Publisher"),
    "about_licence": ("Licence", "Licence"),
    "about_page": ("Page source", "Source page"),
    "about_edition": ("Édition", "Edition"),
    "about_regions": ("Régions", "Regions"),
    "about_file": ("Fichier", "File"),
    "about_caveats": ("### Précautions", "### Caveats"),
    "about_no_dataset": ("La description du jeu de données n'a pas pu être lue (données pas "
                         "encore installées ?).",
                         "The dataset description could not be read from the server (data not "
                         "installed yet?)."),
    "about_recorded": (
        "**La délinquance enregistrée n'est pas toute la délinquance** : ce sont les infractions "
        "et victimes enregistrées par la police et la gendarmerie. Elles varient avec les "
        "habitudes de plainte, les moyens de signalement et l'activité des services autant "
        "qu'avec la délinquance elle-même.",
        "**Recorded crime is not actual crime**: these are offences and victims recorded by the "
        "police and gendarmerie. They move with reporting habits, complaint channels and police "
        "activity as much as with crime itself.",
    ),
    "about_rates": (
        "Les taux sont publiés par le SSMSI **pour 1 000 habitants** (pour 1 000 logements pour "
        "les cambriolages) ; l'application les montre aussi **pour 100 000**, plus lisibles pour "
        "les faits rares.",
        "The SSMSI publishes rates **per 1,000 inhabitants** (per 1,000 dwellings for burglary); "
        "the app also shows them **per 100,000**, easier to read for rare offences.",
    ),
    "about_forecasts": (
        "## Les prévisions\n"
        "Chaque prévision est accompagnée de fourchettes à 80 % et 95 %. Les modèles ont été "
        "comparés par **backtest** (on prévoit des années passées avec les seules données "
        "antérieures, puis on compare aux chiffres publiés) à la prévision naïve « comme l'an "
        "dernier » ; le score **MASE** vaut 1 pour cette prévision naïve et moins de 1 pour un "
        "modèle qui fait mieux. Les fourchettes sont **conformes** : réglées sur les erreurs "
        "passées pour contenir la vraie valeur 8 fois sur 10 (80 %) ou 19 fois sur 20 (95 %). "
        "L'onglet Modèles montre les scores mesurés.",
        "## Forecasts\n"
        "Every forecast comes with 80% and 95% ranges. The models were compared by **backtest** "
        "(forecasting past years from earlier data only, then comparing with the published "
        "figures) against the naive 'same as last year' forecast; the **MASE** score is 1 for "
        "that naive forecast and below 1 for a model that does better. The ranges are "
        "**conformal**: set from past errors to hold the true value 8 times out of 10 (80%) or "
        "19 times out of 20 (95%). The Models tab shows the measured scores.",
    ),
    "about_mcp": (
        "## Utiliser cet espace depuis votre assistant IA (MCP)\n"
        "Cette application est aussi un serveur MCP : HTTP en flux à l'adresse **`{url}/mcp`**, "
        "avec les outils qu'utilise la discussion ({tools}) et les ressources "
        "`oasis://dataset`, `oasis://indicators`, `oasis://methodology`.",
        "## Use this Space from your AI assistant (MCP)\n"
        "This app is itself an MCP server: streamable HTTP at **`{url}/mcp`**, with the same "
        "tools the chat uses ({tools}) and the resources `oasis://dataset`, "
        "`oasis://indicators`, `oasis://methodology`.",
    ),
    "about_bridge": (
        "Les clients qui ne parlent que stdio passent par `npx mcp-remote {url}/mcp`. Si le "
        "propriétaire de l'espace a défini `OASIS_MCP_TOKEN`, ajoutez l'en-tête "
        "`Authorization: Bearer <jeton>`.",
        "Clients that only speak stdio can bridge with `npx mcp-remote {url}/mcp`. If the Space "
        "owner set `OASIS_MCP_TOKEN`, add the header `Authorization: Bearer <token>`.",
    ),
    "about_local": (
        "Pour l'utiliser sur votre machine : `pip install oasis-mcp && oasis-mcp data update && "
        "oasis-mcp serve`.",
        "To run it locally instead: `pip install oasis-mcp && oasis-mcp data update && "
        "oasis-mcp serve`.",
    ),
}


def lang_of(value: Any) -> str:
    """A language code from a selector value ("fr" unless "en")."""
    return "en" if str(value or "").lower().startswith("en") else "fr"


def tr(key: str, lang: str, **values: Any) -> str:
    """The interface text ``key`` in ``lang``, with ``{placeholders}`` filled in."""
    fr, en = STRINGS[key]
    text = en if lang == "en" else fr
    return text.format(**values) if values else text


def level_label(level: str, lang: str) -> str:
    key = f"level_{level}"
    return tr(key, lang) if key in STRINGS else level


def unit_words(unit: str, lang: str) -> str:
    """What a unit of count is, in words ("Infraction" -> "infractions"/"offences")."""
    key = f"unit_{unit}"
    return tr(key, lang) if key in STRINGS else unit
