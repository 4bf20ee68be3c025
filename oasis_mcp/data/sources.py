"""Where `oasis-mcp data update` may download from, and how large each answer may be.

This is the one list of the hosts and size caps. The SSMSI files (departmental, regional, communal
csv.gz) come from :data:`OFFICIAL_HOSTS`; the commune referential (``cog/communes.json``) from
:data:`REFERENTIAL_HOSTS` only (the npm registry, see there why).

* Only the hosts below are contacted, over HTTPS, and every redirect is checked against the same
  list. A mirror or a test server is allowed explicitly with ``--allow-host HOST[:PORT]`` or
  ``OASIS_UPDATE_ALLOW_HOSTS`` (space- or comma-separated); such a host may use plain HTTP
  (a mirror on a private network, a test server on 127.0.0.1).
* Every HTTP answer is read as a stream and refused as soon as it passes its cap (or announces a
  larger ``Content-Length``): nothing is ever read whole into memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from oasis_mcp.errors import DownloadError

ALLOW_HOSTS_ENV = "OASIS_UPDATE_ALLOW_HOSTS"

#: The dataset's own hosts (HTTPS only): host -> what is fetched there.
OFFICIAL_HOSTS: dict[str, str] = {
    "www.data.gouv.fr": "the data.gouv.fr API (dataset description)",
    "data.gouv.fr": "the data.gouv.fr API without www",
    "static.data.gouv.fr": "data.gouv.fr static files (the SSMSI CSV resources)",
    "object.files.data.gouv.fr": "data.gouv.fr object storage (large resources)",
}

#: The host of the commune referential, and only of it (HTTPS only): Etalab publishes
#: ``@etalab/decoupage-administratif`` (commune names, departments, arrondissements, former codes,
#: from INSEE's Code officiel géographique) as an npm package, whose tarball on the npm registry is
#: the one official, versioned download of ``communes.json``. This host is never accepted for the
#: SSMSI files, and the data.gouv.fr hosts are not accepted for the referential.
REFERENTIAL_HOSTS: dict[str, str] = {
    "registry.npmjs.org": "the npm registry (the @etalab/decoupage-administratif tarball)",
}

_MiB = 1024 * 1024
#: The size cap of each kind of answer, in bytes. The departmental CSV is about 2 MB, the regional
#: one 0.3 MB, the API's dataset JSON about 100 kB.
MAX_BYTES: dict[str, int] = {
    "api": 8 * _MiB,
    "department": 64 * _MiB,
    "region": 16 * _MiB,
    # the communal csv.gz is about 40 MB (5 million rows)
    "commune": 160 * _MiB,
    # the referential's npm tarball is 1.6 MB (12.7 MB unpacked; communes.json is 8.6 MB)
    "commune-referential": 16 * _MiB,
    "commune-referential-member": 64 * _MiB,
}


def max_bytes(kind: str) -> int:
    """The cap for a kind of answer ("api", "department", "region", …)."""
    return MAX_BYTES[kind]


class HostNotAllowed(DownloadError):
    """A URL (or a redirect) points outside the allowed hosts."""

    exit_code = 77  # EX_NOPERM


@dataclass(frozen=True)
class HostPolicy:
    """The official hosts (HTTPS) plus the explicitly allowed ones (``host`` or ``host:port``)."""

    extra: tuple[str, ...] = ()
    official: tuple[str, ...] = tuple(OFFICIAL_HOSTS)

    def for_referential(self) -> HostPolicy:
        """The same explicit hosts, with :data:`REFERENTIAL_HOSTS` as the official ones."""
        return HostPolicy(self.extra, tuple(REFERENTIAL_HOSTS))

    @classmethod
    def from_options(cls, explicit: Sequence[str] | None = None) -> HostPolicy:
        """``explicit`` (``--allow-host``) plus ``$OASIS_UPDATE_ALLOW_HOSTS``."""
        entries = list(explicit or ())
        entries += [h for h in re.split(r"[\s,]+", os.environ.get(ALLOW_HOSTS_ENV, "")) if h]
        return cls(tuple(_normalise(e) for e in entries))

    def allows(self, url: str) -> bool:
        return self.problem(url) is None

    def problem(self, url: str) -> str | None:
        """None when ``url`` may be fetched, else why not."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return f"{url!r} is not a valid URL"
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        if scheme not in ("http", "https"):
            return f"only http(s) URLs are downloaded, not {scheme or 'a relative URL'}"
        explicit = {host, f"{host}:{port}" if port else host}
        if port is None:
            explicit.add(f"{host}:{443 if scheme == 'https' else 80}")
        if explicit & set(self.extra):
            return None
        if host in self.official:
            if scheme != "https":
                return f"{host} is only contacted over HTTPS"
            return None
        whose = ("the dataset's hosts" if self.official == tuple(OFFICIAL_HOSTS)
                 else "the commune referential's hosts")
        return (f"{host or url} is not one of {whose} "
                f"({', '.join(self.official)}); allow a mirror explicitly with "
                f"--allow-host {host}{f':{port}' if port else ''} or ${ALLOW_HOSTS_ENV}")

    def check(self, url: str, what: str) -> None:
        problem = self.problem(url)
        if problem is not None:
            raise HostNotAllowed(f"Refused to download {what} from {url}: {problem}.")

    def describe(self) -> str:
        return ", ".join([*self.official, *self.extra])


def _normalise(entry: str) -> str:
    entry = entry.strip().lower().rstrip("/")
    if "://" in entry:
        parts = urlsplit(entry)
        host = (parts.hostname or "").rstrip(".")
        return f"{host}:{parts.port}" if parts.port else host
    return entry.rstrip(".")


def hosts_of(urls: Iterable[str]) -> list[str]:
    return sorted({(urlsplit(u).hostname or "") for u in urls})
