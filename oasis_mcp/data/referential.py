"""The commune referential that ``oasis-mcp data update`` installs: ``cog/communes.json``.

It is ``data/communes.json`` of Etalab's npm package ``@etalab/decoupage-administratif`` (MIT
licence, built from INSEE's Code officiel géographique): commune names, departments, postal codes,
municipal arrondissements, delegated/associated communes, former codes. The SSMSI communal file has
codes only; :mod:`oasis_mcp.data.commune_names` reads this file for names and homonyms.

The version is pinned (:data:`PINNED_VERSION`), and so is the tarball's sha512 (the registry's
``dist.integrity``) when it comes from the default URL. ``OASIS_COMMUNE_REFERENTIAL_URL`` points
to a mirror of the same tarball (then only the structural checks below apply). The tarball is read
with :mod:`tarfile` without extracting anything to disk but the one member, whose type (regular
file) and size are checked, and the whole archive's unpacked size is capped.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tarfile
import zlib
from pathlib import Path

from oasis_mcp.data.sources import max_bytes
from oasis_mcp.errors import DataFileError

URL_ENV = "OASIS_COMMUNE_REFERENTIAL_URL"
PACKAGE = "@etalab/decoupage-administratif"
PINNED_VERSION = "6.0.0"
DEFAULT_URL = (
    "https://registry.npmjs.org/@etalab/decoupage-administratif/-/"
    f"decoupage-administratif-{PINNED_VERSION}.tgz"
)
#: ``dist.integrity`` of the 6.0.0 tarball on the npm registry (checked only for DEFAULT_URL).
PINNED_INTEGRITY = (
    "sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYhWWcf+7bcWpA5pmCaQ=="
)
MEMBER = "package/data/communes.json"
#: Where the commune reader looks for it, relative to the data directory.
INSTALLED_PATH = Path("cog") / "communes.json"
_CODE = re.compile(r"(?:\d{5}|2[AB]\d{3})")
_CHUNK = 1 << 20


def referential_url() -> str:
    return os.environ.get(URL_ENV, "").strip() or DEFAULT_URL


def pinned_sha512_hex(url: str) -> str | None:
    """The sha512 (hex) the tarball must have, when ``url`` is the pinned default."""
    if url != DEFAULT_URL:
        return None
    return base64.b64decode(PINNED_INTEGRITY.split("-", 1)[1]).hex()


def extract_communes(tarball: Path, out: Path, name: str) -> int:
    """Copy the member ``package/data/communes.json`` of the gzipped tarball into ``out``; return
    its size. Nothing else is extracted; links, devices and oversized members are refused.
    Raises :class:`DataFileError`."""
    cap = max_bytes("commune-referential-member")
    unpacked = 0
    try:
        with tarfile.open(tarball, "r|gz") as tar:
            for member in tar:
                unpacked += max(member.size, 0)
                if member.name.lstrip("./") == MEMBER and member.size > cap:
                    raise DataFileError(name, f"{MEMBER} is larger than {cap:,} bytes "
                                        f"({member.size:,}): refused")
                if unpacked > cap:
                    raise DataFileError(name, f"unpacks to more than {cap:,} bytes before "
                                        f"{MEMBER}: refused")
                if member.name.lstrip("./") != MEMBER:
                    continue
                if not member.isfile():
                    raise DataFileError(name, f"{MEMBER} is not a regular file in the tarball")
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    raise DataFileError(name, f"{MEMBER} has no data")
                size = 0
                with source, open(out, "wb") as fh:
                    while block := source.read(_CHUNK):
                        size += len(block)
                        if size > cap:
                            raise DataFileError(name, f"{MEMBER} is larger than {cap:,} bytes")
                        fh.write(block)
                    fh.flush()
                    os.fsync(fh.fileno())
                return size
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataFileError(name, f"is not a readable .tgz tarball ({exc})") from None
    raise DataFileError(name, f"the tarball has no {MEMBER}")


def validate_communes_json(path: Path, name: str = "communes.json") -> int:
    """Check that ``path`` is the referential: a JSON list of objects with ``code``, ``nom`` and
    ``type``, with current communes whose codes are INSEE commune codes. Returns the number of
    current communes. Raises :class:`DataFileError`."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(name, f"is not UTF-8 JSON ({exc})") from None
    if not isinstance(data, list) or not data:
        raise DataFileError(name, "is not a non-empty JSON list of communes")
    current = 0
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) and item[k] for k in ("code", "nom", "type")):
            raise DataFileError(name, f"entry {i} is not an object with the strings code, nom "
                                f"and type: {str(item)[:120]}")
        if item["type"] == "commune-actuelle":
            if not _CODE.fullmatch(item["code"]):
                raise DataFileError(name, f"entry {i} ({item['nom']}) has the code "
                                    f"{item['code']!r}, not an INSEE commune code")
            current += 1
    if current == 0:
        raise DataFileError(name, "lists no current commune (type commune-actuelle)")
    return current
