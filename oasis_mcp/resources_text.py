"""Documents served as MCP resources: dataset provenance, the indicator catalog, the methodology.

Plain functions returning JSON-ready dicts or Markdown; the server wraps them as resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oasis_mcp import config
from oasis_mcp.artifacts import HOW_TO_TRAIN, MAX_FORECAST_YEAR
from oasis_mcp.protocol import WEBSITE_URL
from oasis_mcp.query import (
    COUNTRY_CAVEAT,
    DERIVED_CAVEAT,
    GENERAL_CAVEATS,
    SOURCE,
    UPPER_BOUND_CAVEAT,
)

if TYPE_CHECKING:
    from oasis_mcp.artifacts import Artifacts
    from oasis_mcp.query import DataIndex

DATASET_TITLE = (
    "Bases statistiques communale, départementale et régionale de la délinquance enregistrée par "
    "la police et la gendarmerie nationales"
)
DATASET_PAGE = WEBSITE_URL  # one home: oasis_mcp.protocol (the server info's website too)
LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
PUBLISHER = (
    "SSMSI (Service statistique ministériel de la sécurité intérieure, ministère de l'Intérieur)"
)


def dataset_document(idx: DataIndex) -> dict[str, Any]:
    """Provenance of the loaded edition."""
    ds = idx.dataset
    info = ds.info()
    return {
        "title": DATASET_TITLE,
        "publisher": PUBLISHER,
        "licence": LICENCE,
        "page": DATASET_PAGE,
        "data_gouv_id": "621df2954fa5a3b5a023e23c",
        "edition": ds.edition.id,
        "edition_label": ds.edition.label,
        "nomenclature": ds.nomenclature,
        "regions": (
            "official regional file" if ds.regions_source == "official"
            else "aggregated from the departmental file (derived)"
        ),
        "files": [
            {"name": f.name, "level": f.level, "sha256": f.sha256} for f in ds.edition.files
        ],
        "levels": info["levels"],
        "years": [idx.first_year, idx.last_year],
        "country_aggregates": COUNTRY_CAVEAT,
        "caveats": [*GENERAL_CAVEATS, DERIVED_CAVEAT, UPPER_BOUND_CAVEAT],
        "source": SOURCE,
        "update": config.HOW_TO_GET_DATA,
    }


def indicators_document(idx: DataIndex) -> dict[str, Any]:
    """The catalog with aliases (the list_indicators tool leaves them out for brevity)."""
    aliases = {ind.label_fr: list(ind.aliases) for ind in idx.dataset.indicator_info}
    return {
        "edition": idx.edition,
        "years": [idx.first_year, idx.last_year],
        "general_caveats": list(GENERAL_CAVEATS),
        "indicators": [
            {**info.model_dump(), "aliases": aliases.get(info.label_fr, [])}
            for info in idx.catalog.indicators
        ],
    }


def methodology_document(
    art: Artifacts | None, problem: str | None, idx: DataIndex | None
) -> str:
    """The model card written by training, or what to do when there is none."""
    notes: list[str] = []
    if art is not None and idx is not None and art.edition != idx.edition:
        notes.append(
            f"> Note: the models were trained on edition {art.edition}; the server serves "
            f"edition {idx.edition}. Retrain with `oasis-train`."
        )
    if art is not None and art.model_card:
        return "\n\n".join([*notes, art.model_card])
    lines = ["# OASIS forecasting methodology", ""]
    if art is None:
        lines += [
            "No trained models are available, so no model card either.",
            "",
            problem or f"To train: {HOW_TO_TRAIN}",
            "",
        ]
    else:
        lines += [
            f"The artifacts in {art.directory} have no model card (MODEL_CARD.md).",
            f"Training edition: {art.edition}; last observed year: {art.last_year}.",
            "",
        ]
    lines += [
        "## In short",
        "",
        f"- Forecasts cover each series (country, region, department × indicator) from the year "
        f"after the last observed one to {MAX_FORECAST_YEAR}, with 80% and 95% prediction "
        "intervals for the count and the rate per 100,000.",
        "- Candidate models are compared by rolling-origin backtests; the champion of each "
        "level is the one with the lowest MASE (mean absolute scaled error: below 1 beats the "
        "naive last-value forecast). model_metrics gives the leaderboard.",
        "- Forecasts extrapolate recorded crime; they cannot anticipate changes in law, "
        "recording practice or reporting behaviour.",
    ]
    return "\n".join([*notes, *lines]) + "\n"
