"""The data.gouv.fr API client: which resources of the SSMSI dataset make up the newest edition.

The dataset ``621df2954fa5a3b5a023e23c`` ("Bases statistiques communale, départementale et régionale
de la délinquance enregistrée par la police et la gendarmerie nationales") lists many resources:
commune files (csv.gz, parquet), documentation, and the departmental and regional CSV files of the
current and sometimes older editions. Only the departmental and regional CSVs are used here; they
are recognised by their official file names (:func:`oasis_mcp.data.editions.parse_file_name`).

When the API cannot be reached or answers something unusable, :func:`fallback_resources` gives the
pinned URLs of a known edition (overridable with ``OASIS_DATAGOUV_FALLBACK_URLS``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from oasis_mcp.data.editions import EditionDescription, FileLevel, FileName, parse_file_name
from oasis_mcp.data.sources import max_bytes
from oasis_mcp.data.transfer import DEFAULT_DEADLINE, Deadline, Limits, TransferError, stream

log = logging.getLogger(__name__)

DATASET_ID = "621df2954fa5a3b5a023e23c"
DEFAULT_API_URL = f"https://www.data.gouv.fr/api/1/datasets/{DATASET_ID}/"
API_URL_ENV = "OASIS_DATAGOUV_API"
FALLBACK_URLS_ENV = "OASIS_DATAGOUV_FALLBACK_URLS"

_STATIC_PREFIX = (
    "https://static.data.gouv.fr/resources/bases-statistiques-communale-departementale-et-regionale-"
    "de-la-delinquance-enregistree-par-la-police-et-la-gendarmerie-nationales/"
)
#: The 2025 edition (2025 data, 2025 geography, produced 2026-01-22, published 2026-01-29), used
#: when the API is unreachable or answers garbage.
DEFAULT_FALLBACK_URLS: tuple[str, ...] = (
    _STATIC_PREFIX
    + "20260129-160318/donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv",
    _STATIC_PREFIX
    + "20260129-160256/donnee-reg-data.gouv-2025-geographie2025-produit-le2026-01-22.csv",
)


_ODD_CHARACTER = re.compile(r"[\x00-\x20\x7f-\x9f]")


class ApiError(Exception):
    """The API could not be used (unreachable, HTTP error, not JSON, no usable resource)."""


@dataclass(frozen=True)
class Checksum:
    """A checksum announced by data.gouv.fr (``sha1`` usually)."""

    type: str
    value: str


@dataclass(frozen=True)
class Resource:
    """One departmental or regional CSV file to download."""

    url: str
    file: FileName
    filesize: int | None = None
    checksum: Checksum | None = None
    last_modified: str | None = None

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def level(self) -> FileLevel:
        return self.file.level

    @property
    def edition_id(self) -> str:
        return self.file.edition_id


@dataclass(frozen=True)
class EditionResources(EditionDescription):
    """The files of one edition as offered by the source: the departmental one always, the regional
    one when the source lists it."""

    edition_id: str
    data_year: int
    geography_year: int
    produced: date
    department: Resource
    region: Resource | None

    @property
    def resources(self) -> tuple[Resource, ...]:
        return (self.department,) if self.region is None else (self.department, self.region)


def edition_sort_key(file: FileName) -> tuple[int, date, int]:
    """Newest edition = highest data year, then latest production date, then newest geography
    (the same order as :attr:`oasis_mcp.data.editions.Edition.sort_key`)."""
    return (file.data_year, file.produced, file.geography_year)


def api_url(explicit: str | None = None) -> str:
    """The dataset's API URL: the argument, else ``OASIS_DATAGOUV_API``, else data.gouv.fr."""
    return explicit or os.environ.get(API_URL_ENV) or DEFAULT_API_URL


def fallback_urls(explicit: Sequence[str] | None = None) -> tuple[str, ...]:
    """The pinned URLs: the argument, else ``OASIS_DATAGOUV_FALLBACK_URLS`` (separated by spaces,
    commas or newlines), else :data:`DEFAULT_FALLBACK_URLS`."""
    if explicit is not None:
        return tuple(explicit)
    env = os.environ.get(FALLBACK_URLS_ENV, "").strip()
    if env:
        return tuple(u for u in re.split(r"[\s,]+", env) if u)
    return DEFAULT_FALLBACK_URLS


def file_name_from_url(url: str) -> str:
    """The last path segment of a URL, percent-decoded."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def fetch_resources(client: httpx.Client, url: str, limits: Limits | None = None) -> list[Resource]:
    """Ask the API for the dataset and return its departmental and regional CSV resources (see
    :func:`fetch_dataset`)."""
    return fetch_dataset(client, url, limits)[0]


def fetch_dataset(
    client: httpx.Client, url: str, limits: Limits | None = None
) -> tuple[list[Resource], Mapping[str, Any]]:
    """Ask the API for the dataset: its departmental and regional CSV resources, and the whole
    JSON document (where :func:`oasis_mcp.data.commune_file.commune_resource` finds the
    communal file).

    The answer is streamed and refused past :data:`~oasis_mcp.data.sources.MAX_BYTES` ``["api"]``.
    Raises :class:`ApiError` when the API cannot be reached, answers an HTTP error, too much, or
    something that is not the dataset JSON; :class:`~oasis_mcp.data.sources.HostNotAllowed` when
    the URL or a redirect leaves the allowed hosts.
    """
    limits = limits or Limits(Deadline.start(DEFAULT_DEADLINE))
    body = bytearray()
    try:
        stream(client, url, body.extend, what="the data.gouv.fr API answer",
               max_bytes=max_bytes("api"), limits=limits, headers={"Accept": "application/json"})
    except TransferError as exc:
        if exc.reason == "status":
            raise ApiError(f"{url} answered {exc.problem}") from None
        if exc.reason == "network":
            raise ApiError(f"cannot reach {url} ({exc.problem})") from None
        raise ApiError(f"{url}: {exc.problem}") from None
    try:
        payload = json.loads(bytes(body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        start = bytes(body[:60])
        raise ApiError(f"{url} did not answer JSON (starts with {start!r})") from None
    return resources_from_payload(payload, url), payload


def checksum_of(payload: Mapping[str, Any], url: str) -> Checksum | None:
    """The checksum the document announces for the resource at ``url`` (None if none)."""
    for item in payload.get("resources") or ():
        if isinstance(item, Mapping) and item.get("url") == url:
            return _checksum(item.get("checksum"))
    return None


def resources_from_payload(payload: object, source: str = "the API") -> list[Resource]:
    """The departmental and regional CSV resources of a dataset JSON document.

    Commune files, parquet, gz, documentation and anything without an official file name are
    ignored. Raises :class:`ApiError` when the document has no ``resources`` list.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("resources"), list):
        raise ApiError(f"{source} answered JSON without a 'resources' list")
    found: list[Resource] = []
    for item in payload["resources"]:
        resource = _resource(item)
        if resource is not None:
            found.append(resource)
    log.debug("%s lists %d departmental/regional CSV resources", source, len(found))
    return found


def _resource(item: object) -> Resource | None:
    if not isinstance(item, Mapping):
        return None
    url = item.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    fmt = item.get("format")
    if isinstance(fmt, str) and fmt.strip().lower() not in ("", "csv"):
        return None
    from_url = file_name_from_url(url)
    if _ODD_CHARACTER.search(from_url):  # e.g. "…csv%0A": never taken, not even by its title
        log.warning("ignoring the resource %r: its file name has a control or space character",
                    url)
        return None
    file = parse_file_name(from_url)
    title = item.get("title")
    if file is None and isinstance(title, str):
        file = parse_file_name(title.strip())
    if file is None:
        return None
    return Resource(
        url=url,
        file=file,
        filesize=_positive_int(item.get("filesize")),
        checksum=_checksum(item.get("checksum")),
        last_modified=item.get("last_modified") if isinstance(item.get("last_modified"), str)
        else None,
    )


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _checksum(value: Any) -> Checksum | None:
    if not isinstance(value, Mapping):
        return None
    kind, digest = value.get("type"), value.get("value")
    if not isinstance(kind, str) or not isinstance(digest, str) or not digest:
        return None
    return Checksum(type=kind.strip().lower(), value=digest.strip().lower())


def newest_edition(resources: Iterable[Resource]) -> EditionResources | None:
    """The newest edition that has a departmental file (a regional file alone is not usable).

    When a file is listed twice, the most recently modified entry wins.
    """
    by_edition: dict[str, dict[FileLevel, Resource]] = {}
    for res in resources:
        slot = by_edition.setdefault(res.edition_id, {})
        current = slot.get(res.level)
        if current is None or (res.last_modified or "") > (current.last_modified or ""):
            slot[res.level] = res
    usable = [files for files in by_edition.values() if "department" in files]
    if not usable:
        return None
    best = max(usable, key=lambda files: edition_sort_key(files["department"].file))
    dep = best["department"]
    return EditionResources(
        edition_id=dep.edition_id,
        data_year=dep.file.data_year,
        geography_year=dep.file.geography_year,
        produced=dep.file.produced,
        department=dep,
        region=best.get("region"),
    )


def fallback_resources(urls: Sequence[str]) -> list[Resource]:
    """Resources for pinned URLs. Raises :class:`ValueError` for a URL without an official name."""
    found = []
    for url in urls:
        file = parse_file_name(file_name_from_url(url))
        if file is None:
            raise ValueError(
                f"fallback URL {url} does not end with an official SSMSI file name "
                "(donnee-dep-data.gouv-<year>-geographie<year>-produit-le<date>.csv)"
            )
        found.append(Resource(url=url, file=file))
    return found
