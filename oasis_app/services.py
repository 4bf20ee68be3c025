"""What the UI needs, built once at start-up: the MCP bridge, the chat engine and the catalogues
(areas per level, indicators, years) read through the MCP tools.

When the data are not there (a fresh Space: data files are never committed), the newest edition is
downloaded from data.gouv.fr once at start-up (``OASIS_AUTO_DOWNLOAD=0`` disables it); if that
fails, the catalogues fall back to the static geography and indicator tables and the tabs say the
data are missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oasis_app.bridge import MCPBridge
from oasis_app.chat import ChatEngine
from oasis_app.llm import LLMSettings, ToolCallingAssistant
from oasis_app.planner import DEFAULT_LAST_YEAR
from oasis_mcp.data.coverage import FIRST_YEAR, LAST_FORECAST_YEAR

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

LEVELS = ("region", "department", "country")
MAX_FORECAST_YEAR = LAST_FORECAST_YEAR


@dataclass
class Catalog:
    areas: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    first_year: int = FIRST_YEAR
    last_year: int = DEFAULT_LAST_YEAR
    edition: str = ""
    from_data: bool = False

    def area_choices(self, level: str, lang: str = "fr") -> list[tuple[str, str]]:
        """(name (code), code): official names in both languages, as the charts and tables
        (the tools' ``name``) show them."""
        return [(f"{a['name']} ({a['code']})", a["code"]) for a in self.areas.get(level, [])]

    def indicator_choices(self, lang: str = "fr") -> list[tuple[str, str]]:
        """(label in ``lang``, slug): the official French label, or the catalogue's English."""
        key = "label_en" if lang == "en" else "label_fr"
        return [(str(i.get(key) or i["label_fr"]), i["slug"]) for i in self.indicators]

    @property
    def last_forecast_year(self) -> int:
        return MAX_FORECAST_YEAR

    def year_choices(self, lang: str = "en", *, forecasts: bool = True) -> list[tuple[str, int]]:
        from oasis_app.i18n import tr

        years = [(str(y), y) for y in range(self.first_year, self.last_year + 1)]
        if forecasts:
            word = tr("forecast_year", lang)
            years += [(f"{y} ({word})", y)
                      for y in range(self.last_year + 1, MAX_FORECAST_YEAR + 1)]
        return years

    def area_population(self, level: str, area: str) -> int | None:
        """The latest population of an area (by code or name), from ``list_regions``."""
        wanted = area.strip().casefold()
        for item in self.areas.get(level, []):
            if wanted in (str(item["code"]).casefold(), str(item["name"]).casefold()):
                population = item.get("population")
                return int(population) if population else None
        return None

    def area_name(self, level: str, code: str) -> str:
        for area in self.areas.get(level, []):
            if area["code"] == code:
                return str(area["name"])
        return code


@dataclass
class Services:
    bridge: MCPBridge
    engine: ChatEngine
    catalog: Catalog
    llm: LLMSettings | None = None
    space_url: str | None = None
    data_dir: str | None = None

    def refresh_catalog(self) -> Catalog:
        self.catalog = load_catalog(self.bridge)
        self.engine.last_year = self.catalog.last_year
        return self.catalog


def load_catalog(bridge: MCPBridge) -> Catalog:
    """Areas and indicators through the MCP tools; static tables when the data are missing."""
    catalog = Catalog()
    indicators = bridge.call("list_indicators")
    if indicators.ok and indicators.data:
        data = indicators.data
        catalog.indicators = list(data.get("indicators", []))
        catalog.first_year = int(data.get("first_year", catalog.first_year))
        catalog.last_year = int(data.get("last_year", catalog.last_year))
        catalog.edition = str(data.get("edition", ""))
        catalog.from_data = True
        for level in LEVELS:
            listing = bridge.call("list_regions", {"level": level})
            if listing.ok and listing.data:
                catalog.areas[level] = list(listing.data.get("areas", []))
    if not catalog.from_data or not all(catalog.areas.get(level) for level in LEVELS):
        _static_catalog(catalog)
    return catalog


def _static_catalog(catalog: Catalog) -> None:
    from oasis_mcp.data import geography, indicators

    for level in LEVELS:
        if not catalog.areas.get(level):
            catalog.areas[level] = [
                {"code": a.code, "name": a.name, "level": level, "region_code": a.region_code}
                for a in geography.areas(level)  # type: ignore[arg-type]
            ]
    if not catalog.indicators:
        catalog.indicators = [
            {"slug": i.slug, "label_fr": i.label_fr, "label_en": i.label_en, "unit": i.unit,
             "denominator": i.denominator}
            for i in indicators.catalog()
        ]


def build_services(
    server_factory: Callable[[], MCPServer],
    *,
    llm: LLMSettings | None = None,
    space_url: str | None = None,
    data_dir: str | None = None,
    auto_download: bool = False,
) -> Services:
    """Connect the bridge, read the catalogues (this loads the data once) and wire the chat."""
    bridge = MCPBridge(server_factory).start()
    catalog = load_catalog(bridge)
    if not catalog.from_data and auto_download and download_data(data_dir):
        catalog = load_catalog(bridge)  # the server looks for the files again on its next call
    assistant = ToolCallingAssistant(llm, bridge) if llm else None
    engine = ChatEngine(bridge, llm=assistant, last_year=catalog.last_year)
    return Services(bridge, engine, catalog, llm, space_url, data_dir)


def download_data(data_dir: str | None) -> bool:
    """Fetch the newest SSMSI edition from data.gouv.fr (a fresh Space has no data: they are never
    committed). Returns True on success; failures are logged and the app runs with friendly
    "data not installed" messages. ``OASIS_AUTO_DOWNLOAD=0`` disables it."""
    if os.environ.get("OASIS_AUTO_DOWNLOAD", "1") == "0":
        return False
    from oasis_mcp.data.download import update

    log.info("no SSMSI data found: downloading the newest edition from data.gouv.fr")
    try:
        result = update(data_dir=data_dir, timeout=30.0)
    except Exception as exc:
        log.warning("data download failed: %s", exc)
        return False
    log.info("data download: %s", result.summary())
    return True
