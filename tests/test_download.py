"""``oasis-mcp data update`` against a fake data.gouv.fr on 127.0.0.1 (never the Internet)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DEP_2024,
    DEP_2025,
    REAL_SHA256,
    REG_2024,
    SyntheticEdition,
    regional_bytes_from_departmental,
)
from conftest import synthetic_edition as small_synthetic_edition

from oasis_mcp.cli import main
from oasis_mcp.data import datagouv
from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.data.download import LOCK_NAME, UpdateResult, update
from oasis_mcp.data.geography import areas
from oasis_mcp.data.indicators import catalog
from oasis_mcp.data.manifest import MANIFEST_NAME, STATE_NAME, TEMP_PREFIX, read_manifest
from oasis_mcp.errors import DataNotFoundError, DownloadError

SLUG = (
    "/resources/bases-statistiques-communale-departementale-et-regionale-de-la-delinquance-"
    "enregistree-par-la-police-et-la-gendarmerie-nationales"
)
API_PATH = f"/api/1/datasets/{datagouv.DATASET_ID}/"
ED_2025 = "2025-geographie2025-produit-le2026-01-22"
ED_2024 = "2024-geographie2024-produit-le2025-01-26"
REG_2025 = DEP_2025.replace("donnee-dep-", "donnee-reg-")


ALL_DEPARTMENTS = {a.code: a.region_code for a in areas("department")}
INDICATORS_2025 = tuple((ind.label_fr, ind.unit) for ind in catalog("2025"))


@functools.lru_cache(maxsize=32)
def synthetic_edition(data_year: int = 2023, produced: str | None = None,
                      seed: int = 0) -> SyntheticEdition:
    """A synthetic edition with the full grid (all 101 departments, the 18 indicators of the 2025
    nomenclature), as the update's completeness checks require."""
    return small_synthetic_edition(data_year, produced=produced, seed=seed,
                                   departments=ALL_DEPARTMENTS, indicators=INDICATORS_2025)


# -- a fake data.gouv.fr -------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "text/csv"
    declared_length: int | None = None  # Content-Length announced (default: len(body))
    send: int | None = None  # bytes actually sent before closing the connection
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] | None = None  # extra response headers


class FakeDataGouv:
    """Serves an API JSON document and files; unknown paths answer 404. Records request paths."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                route = fake.routes.get(self.path) or Route(b"not found", 404, "text/plain")
                if route.delay:
                    time.sleep(route.delay)
                declared = len(route.body) if route.declared_length is None \
                    else route.declared_length
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(declared))
                for key, value in (route.headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body[: route.send])
                if route.send is not None:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that drops a kept-alive connection (the update stops reading after
                # a refusal) is normal here; anything else is still printed.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base + API_PATH

    def file_path(self, name: str, stamp: str = "20260129-160318") -> str:
        return f"{SLUG}/{stamp}/{name}"

    def publish(self, name: str, body: bytes | None, stamp: str = "20260129-160318",
                **route: Any) -> str:
        """Serve ``body`` at the official-looking URL of ``name`` (None: 404); return the URL."""
        path = self.file_path(name, stamp)
        if body is None:
            self.routes.pop(path, None)
        else:
            self.routes[path] = Route(body, **route)
        return self.base + path

    def set_api(self, resources: list[dict[str, Any]], **route: Any) -> str:
        body = json.dumps({"id": datagouv.DATASET_ID, "resources": resources}).encode()
        self.routes[API_PATH] = Route(body, content_type="application/json", **route)
        return self.api_url

    def requested(self, name: str) -> bool:
        return any(p.endswith("/" + name) for p in self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake data.gouv.fr runs on 127.0.0.1: allowed explicitly, as a mirror would be."""
    monkeypatch.setenv("OASIS_UPDATE_ALLOW_HOSTS", "127.0.0.1")
    # never the npm registry: the commune referential, if ever asked for, gets a closed port
    monkeypatch.setenv("OASIS_COMMUNE_REFERENTIAL_URL",
                       closed_port_url().replace(API_PATH, "/referential.tgz"))


@pytest.fixture
def server() -> Iterator[FakeDataGouv]:
    fake = FakeDataGouv()
    yield fake
    fake.close()


def resource(url: str, body: bytes | None = None, title: str | None = None, fmt: str = "csv",
             checksum: bool = True, **extra: Any) -> dict[str, Any]:
    """A data.gouv.fr resource entry; with ``body``, its filesize and sha1 as the API gives them."""
    entry: dict[str, Any] = {
        "id": hashlib.md5(url.encode()).hexdigest(),
        "title": title if title is not None else url.rsplit("/", 1)[-1],
        "url": url,
        "format": fmt,
        "type": "main",
        "last_modified": "2026-01-29T16:03:18.000000+00:00",
    }
    if body is not None and checksum:
        entry["filesize"] = len(body)
        entry["checksum"] = {"type": "sha1", "value": hashlib.sha1(body).hexdigest()}
    entry.update(extra)
    return entry


def decoys(server: FakeDataGouv) -> list[dict[str, Any]]:
    """Resources the update must ignore: commune files, parquet, documentation."""
    stamp = "20260129-160400"
    return [
        resource(server.base + server.file_path(
            "donnee-data.gouv-2025-geographie2025-produit-le2026-01-22.csv.gz", stamp),
            fmt="csv.gz"),
        resource(server.base + server.file_path(
            "donnee-comm-data.gouv-parquet-2025-geographie2025-produit-le2026-01-22.parquet",
            stamp), fmt="parquet"),
        resource(server.base + server.file_path("methodologie.pdf", stamp), fmt="pdf",
                 title="Note méthodologique"),
    ]


def offer(server: FakeDataGouv, files: dict[str, bytes | None], checksum: bool = True,
          **route: Any) -> str:
    """Publish files (None = listed but answering 404) and an API document listing them among
    decoys. Returns the API URL."""
    entries = decoys(server)
    for name, body in files.items():
        entries.append(resource(server.publish(name, body, **route), body, checksum=checksum))
    return server.set_api(entries)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file's bytes, except the update-state record (which says how the last run ended)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and p.name != STATE_NAME}


def assert_no_temp_files(directory: Path) -> None:
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert leftovers == []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{API_PATH}"


@pytest.fixture(scope="module")
def real_2025(real_data_dir: Path) -> dict[str, bytes]:
    """The real 2025 departmental file and a regional file summed from it (in memory)."""
    dep = (real_data_dir / DEP_2025).read_bytes()
    return {DEP_2025: dep, REG_2025: regional_bytes_from_departmental(dep)}


@pytest.fixture(scope="module")
def real_2024(real_data_dir: Path) -> dict[str, bytes]:
    return {name: (real_data_dir / name).read_bytes() for name in (DEP_2024, REG_2024)}


def install_synthetic(server: FakeDataGouv, target: Path, edition: SyntheticEdition) -> None:
    """Install a small synthetic edition through the normal update path (the 'previous data')."""
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes},
                stamp="20240115-100000")
    result = update(data_dir=target, api_url=api, timeout=5)
    assert result.status == "installed" and result.edition == edition.edition_id


# -- success -------------------------------------------------------------------------------------


def test_first_install_of_the_newest_edition(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], real_2024: dict[str, bytes]
) -> None:
    entries = decoys(server)
    for name, body in real_2024.items():  # an older edition, also listed: must not be taken
        entries.append(resource(server.publish(name, body, stamp="20250127-100000"), body))
    for name, body in real_2025.items():
        entries.append(resource(server.publish(name, body), body))
    api = server.set_api(entries)

    result = update(data_dir=tmp_path, api_url=api, timeout=10)

    assert result.status == "installed"
    assert result.edition == ED_2025
    assert result.source == "api"
    assert result.regions == "official"
    assert result.previous_edition is None
    assert not server.requested(DEP_2024) and not server.requested(REG_2024)
    assert not any(p.endswith((".gz", ".parquet", ".pdf")) for p in server.requests)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [DEP_2025, REG_2025, MANIFEST_NAME, LOCK_NAME, STATE_NAME])
    for name, body in real_2025.items():
        assert (tmp_path / name).read_bytes() == body
    assert sha256((tmp_path / DEP_2025).read_bytes()) == REAL_SHA256[DEP_2025]

    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["edition"] == ED_2025
    assert manifest["source"] == "api"
    assert manifest["dataset_id"] == datagouv.DATASET_ID
    by_name = {f["name"]: f for f in manifest["files"]}
    assert set(by_name) == {DEP_2025, REG_2025}
    assert by_name[DEP_2025]["sha256"] == REAL_SHA256[DEP_2025]
    assert by_name[DEP_2025]["size"] == 2_001_237
    assert by_name[DEP_2025]["level"] == "department"
    assert by_name[REG_2025]["level"] == "region"
    assert by_name[REG_2025]["sha256"] == sha256(real_2025[REG_2025])
    assert by_name[DEP_2025]["url"] == server.base + server.file_path(DEP_2025)
    for entry in manifest["files"]:
        stamp = datetime.fromisoformat(entry["downloaded_at"].replace("Z", "+00:00"))
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0
    assert_no_temp_files(tmp_path)

    dataset = load_dataset(tmp_path)
    assert dataset.edition.id == ED_2025
    assert dataset.regions_source == "official"
    assert {f.sha256 for f in dataset.edition.files} == {
        REAL_SHA256[DEP_2025], sha256(real_2025[REG_2025])}

    text = result.summary()
    assert ED_2025 in text and str(tmp_path) in text and REAL_SHA256[DEP_2025] in text
    assert "official regional file" in text
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["files"][0]["sha256"] == REAL_SHA256[DEP_2025]


@pytest.mark.parametrize("how", ["404", "not listed"])
def test_missing_regional_file_installs_departmental_alone(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], how: str
) -> None:
    files: dict[str, bytes | None] = {DEP_2025: real_2025[DEP_2025]}
    if how == "404":
        files[REG_2025] = None
    api = offer(server, files)

    result = update(data_dir=tmp_path, api_url=api, timeout=10)

    assert result.status == "installed" and result.regions == "aggregated"
    assert [f.name for f in result.files] == [DEP_2025]
    assert not (tmp_path / REG_2025).exists()
    assert "aggregated from the departments" in result.summary()
    assert any("installed without it" in n for n in result.notes)
    if how == "404":
        assert "HTTP 404" in result.summary()
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.regions == "aggregated"
    assert [f.name for f in manifest.files] == [DEP_2025]

    dataset = load_dataset(tmp_path)
    assert dataset.edition.id == ED_2025 and dataset.regions_source == "aggregated"
    regions = dataset.frame[dataset.frame["level"] == "region"]
    assert regions["area"].nunique() == 18 and regions["derived"].all()


def test_new_edition_keeps_the_previous_one_and_drops_the_one_before(
    server: FakeDataGouv, tmp_path: Path, real_2024: dict[str, bytes],
    real_2025: dict[str, bytes]
) -> None:
    api = offer(server, dict(real_2024), stamp="20250127-100000")
    first = update(data_dir=tmp_path, api_url=api, timeout=10)
    assert first.edition == ED_2024 and first.regions == "official"
    assert load_dataset(tmp_path).edition.id == ED_2024
    # Files the manifest does not list must survive, even an official-looking one.
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    own = small_synthetic_edition(2022)
    (tmp_path / own.dep_name).write_bytes(own.dep_bytes)
    before = snapshot(tmp_path)

    api = offer(server, dict(real_2025))
    result = update(data_dir=tmp_path, api_url=api, timeout=10)

    assert result.status == "installed" and result.edition == ED_2025
    assert result.previous_edition == ED_2024
    assert result.removed_files == ()
    assert result.kept_editions == (ED_2024,)
    assert (tmp_path / DEP_2024).read_bytes() == before[DEP_2024]
    assert (tmp_path / REG_2024).read_bytes() == before[REG_2024]
    assert "replacing " + ED_2024 in result.summary()
    assert "Kept:      older edition(s) " + ED_2024 in result.summary()
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.edition == ED_2025
    assert [k.edition for k in manifest.previous] == [ED_2024]
    assert {f.name for f in manifest.previous[0].files} == {DEP_2024, REG_2024}
    assert load_dataset(tmp_path).edition.id == ED_2025
    assert load_dataset(tmp_path, edition="2024").edition.id == ED_2024  # still readable

    # A third edition (a revision of 2025): 2025 is kept, 2024 goes; user files stay.
    revised = {name.replace("2026-01-22", "2026-03-02"): body for name, body in real_2025.items()}
    dep_rev = DEP_2025.replace("2026-01-22", "2026-03-02")
    result = update(data_dir=tmp_path, api_url=offer(server, revised, stamp="20260302-100000"),
                    timeout=10)
    assert result.edition == dep_rev.removeprefix("donnee-dep-data.gouv-").removesuffix(".csv")
    assert result.kept_editions == (ED_2025,)
    assert sorted(result.removed_files) == sorted([DEP_2024, REG_2024])
    assert not (tmp_path / DEP_2024).exists() and not (tmp_path / REG_2024).exists()
    assert (tmp_path / DEP_2025).is_file() and (tmp_path / dep_rev).is_file()
    assert (tmp_path / "notes.txt").read_bytes() == before["notes.txt"]
    assert (tmp_path / own.dep_name).read_bytes() == before[own.dep_name]
    with pytest.raises(DataNotFoundError, match="No edition '2024'"):
        load_dataset(tmp_path, edition="2024")
    assert_no_temp_files(tmp_path)


def test_already_up_to_date_rewrites_nothing(server: FakeDataGouv, tmp_path: Path) -> None:
    edition = synthetic_edition(2023)
    install_synthetic(server, tmp_path, edition)
    before = snapshot(tmp_path)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != STATE_NAME}
    time.sleep(0.01)

    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes},
                stamp="20240115-100000")
    result = update(data_dir=tmp_path, api_url=api, timeout=5)

    assert result.status == "up-to-date" and not result.changed
    assert {f.action for f in result.files} == {"unchanged"}
    assert result.summary().startswith("Already up to date: edition " + edition.edition_id)
    assert snapshot(tmp_path) == before
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()
            if p.name != STATE_NAME} == mtimes
    assert_no_temp_files(tmp_path)


def test_gzip_transfer_encoding_is_decoded_and_length_checked_on_the_wire(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    edition = synthetic_edition(2023)
    files = {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes}
    entries = [
        resource(server.publish(name, gzip.compress(body), headers={"Content-Encoding": "gzip"}),
                 body)  # the API's size and checksum are those of the decoded file
        for name, body in files.items()
    ]
    result = update(data_dir=tmp_path, api_url=server.set_api(entries), timeout=5)
    assert result.status == "installed"
    for name, body in files.items():
        assert (tmp_path / name).read_bytes() == body

    squeezed = gzip.compress(edition.dep_bytes)
    server.publish(edition.dep_name, squeezed, headers={"Content-Encoding": "gzip"},
                   send=len(squeezed) // 2)
    before = snapshot(tmp_path)
    with pytest.raises(DownloadError, match="truncated"):
        update(data_dir=tmp_path, api_url=server.api_url, timeout=5)
    assert snapshot(tmp_path) == before


def test_files_already_in_place_get_a_manifest(server: FakeDataGouv, tmp_path: Path) -> None:
    edition = synthetic_edition(2023)
    (tmp_path / edition.dep_name).write_bytes(edition.dep_bytes)
    (tmp_path / edition.reg_name).write_bytes(edition.reg_bytes)
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes})

    result = update(data_dir=tmp_path, api_url=api, timeout=5)

    assert result.status == "up-to-date"
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.edition == edition.edition_id
    assert {f.sha256 for f in manifest.files} == {
        sha256(edition.dep_bytes), sha256(edition.reg_bytes)}


def test_regional_file_gone_keeps_the_installed_one(server: FakeDataGouv, tmp_path: Path) -> None:
    edition = synthetic_edition(2023)
    install_synthetic(server, tmp_path, edition)
    before = snapshot(tmp_path)

    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: None},
                stamp="20240115-100000")
    result = update(data_dir=tmp_path, api_url=api, timeout=5)

    assert result.status == "up-to-date" and result.regions == "official"
    assert {f.name: f.action for f in result.files} == {
        edition.dep_name: "unchanged", edition.reg_name: "kept"}
    assert snapshot(tmp_path) == before


def test_republished_file_with_the_same_name_is_replaced(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    edition = synthetic_edition(2023)
    install_synthetic(server, tmp_path, edition)
    revised = synthetic_edition(2023, seed=1)  # same names, other figures

    api = offer(server, {revised.dep_name: revised.dep_bytes, revised.reg_name: revised.reg_bytes})
    result = update(data_dir=tmp_path, api_url=api, timeout=5)

    assert result.status == "installed" and result.removed_files == ()
    assert (tmp_path / revised.dep_name).read_bytes() == revised.dep_bytes
    assert (tmp_path / revised.reg_name).read_bytes() == revised.reg_bytes
    manifest = read_manifest(tmp_path)
    assert manifest is not None
    assert {f.sha256 for f in manifest.files} == {
        sha256(revised.dep_bytes), sha256(revised.reg_bytes)}
    assert_no_temp_files(tmp_path)


def test_old_file_changed_by_the_user_is_not_removed(server: FakeDataGouv, tmp_path: Path) -> None:
    old = synthetic_edition(2022)
    install_synthetic(server, tmp_path, old)
    (tmp_path / old.reg_name).write_bytes(old.reg_bytes + b"")  # same content: will be removed
    (tmp_path / old.dep_name).write_bytes(synthetic_edition(2022, seed=5).dep_bytes)  # edited
    new = synthetic_edition(2023)

    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes})
    result = update(data_dir=tmp_path, api_url=api, timeout=5, keep_previous=0)

    assert result.removed_files == (old.reg_name,)
    assert (tmp_path / old.dep_name).exists()
    assert any(old.dep_name in note and "changed" in note for note in result.notes)


def test_unreadable_manifest_is_ignored_and_nothing_else_removed(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    (tmp_path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    stray = synthetic_edition(2021)
    (tmp_path / stray.dep_name).write_bytes(stray.dep_bytes)
    edition = synthetic_edition(2023)
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes})

    result = update(data_dir=tmp_path, api_url=api, timeout=5)

    assert result.status == "installed" and result.removed_files == ()
    assert (tmp_path / stray.dep_name).read_bytes() == stray.dep_bytes
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.edition == edition.edition_id


def test_stale_temp_files_of_a_crashed_update_are_removed(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    stale = tmp_path / f"{TEMP_PREFIX}crashed.part"
    stale.write_bytes(b"half a file")
    edition = synthetic_edition(2023)
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes})
    update(data_dir=tmp_path, api_url=api, timeout=5)
    assert not stale.exists()


# -- failures leave the previous data untouched --------------------------------------------------


def _cut_mid_row(body: bytes) -> bytes:
    cut = len(body) // 2
    while body[cut - 1 : cut] in (b"\n", b'"', b";"):
        cut += 1
    return body[:cut]


def _cut_at_row_boundary(body: bytes) -> bytes:
    return body[: body.rindex(b"\n", 0, len(body) // 2) + 1]


FAILURES: dict[str, tuple[str, str]] = {
    # case: (which file is broken, what the error must say)
    "dep-404": ("dep", "HTTP 404"),
    "dep-500": ("dep", "HTTP 500"),
    "reg-500": ("reg", "HTTP 500"),
    "truncated-body": ("dep", "truncated"),
    "cut-mid-row": ("dep", "line "),
    "cut-at-row-boundary": ("dep", "incomplete table"),
    "not-csv": ("dep", "not a valid SSMSI department file"),
    "latin-1": ("dep", "is not UTF-8"),
    "regional-file-served-as-departmental": ("dep", "missing column(s) Code_departement"),
    "checksum-mismatch": ("dep", "sha1 checksum mismatch"),
    "filesize-mismatch": ("dep", "the API announces"),
    "editions-disagree": ("reg", "do not form one edition"),
    "invalid-regional": ("reg", "not a valid SSMSI region file"),
    "timeout": ("dep", "timed out"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failed_update_leaves_previous_data_untouched(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], case: str
) -> None:
    previous = synthetic_edition(2023)
    install_synthetic(server, tmp_path, previous)
    before = snapshot(tmp_path)

    dep, reg = real_2025[DEP_2025], real_2025[REG_2025]
    broken_file, expected = FAILURES[case]
    dep_route: dict[str, Any] = {}
    reg_route: dict[str, Any] = {}
    checksums = True
    dep_body: bytes | None = dep
    reg_body: bytes | None = reg
    if case == "dep-404":
        dep_body = None
    elif case == "dep-500":
        dep_route = {"status": 500}
    elif case == "reg-500":
        reg_route = {"status": 500}
    elif case == "truncated-body":
        dep_route = {"send": len(dep) // 3}
    elif case == "cut-mid-row":
        dep_body, checksums = _cut_mid_row(dep), False
    elif case == "cut-at-row-boundary":
        dep_body, checksums = _cut_at_row_boundary(dep), False
    elif case == "not-csv":
        dep_body = b"<!doctype html><html><body>Maintenance</body></html>"
        checksums = False
    elif case == "latin-1":
        dep_body = dep.decode("utf-8-sig").encode("latin-1")
        checksums = False
    elif case == "regional-file-served-as-departmental":
        dep_body, checksums = reg, False
    elif case == "editions-disagree":
        reg_body = regional_bytes_from_departmental(
            small_synthetic_edition(2025, produced="2026-01-22").dep_bytes)
    elif case == "invalid-regional":
        reg_body, checksums = reg.replace(b'"Homicides"', b'"Homicide volontaire"', 1), False
    elif case == "timeout":
        dep_route = {"delay": 1.5}

    entries = decoys(server)
    dep_url = server.publish(DEP_2025, dep_body, **dep_route)
    reg_url = server.publish(REG_2025, reg_body, **reg_route)
    entries.append(resource(dep_url, dep, checksum=checksums or case.startswith(("check", "file"))))
    entries.append(resource(reg_url, reg_body, checksum=checksums))
    if case == "checksum-mismatch":
        entries[-2]["checksum"]["value"] = hashlib.sha1(b"other").hexdigest()
    if case == "filesize-mismatch":
        entries[-2].pop("checksum")
        entries[-2]["filesize"] = len(dep) + 1
    api = server.set_api(entries)

    with pytest.raises(DownloadError) as info:
        update(data_dir=tmp_path, api_url=api, timeout=0.5 if case == "timeout" else 10)

    message = str(info.value)
    assert expected in message
    assert (dep_url if broken_file == "dep" else reg_url) in message
    assert f"(edition {previous.edition_id}) is unchanged and still in use" in message
    assert snapshot(tmp_path) == before
    assert_no_temp_files(tmp_path)
    assert load_dataset(tmp_path).edition.id == previous.edition_id


def test_failure_on_an_empty_directory_installs_nothing(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    target = tmp_path / "new" / "dir"
    api = offer(server, {DEP_2025: None})
    with pytest.raises(DownloadError, match=r"HTTP 404.*Nothing was installed"):
        update(data_dir=target, api_url=api, timeout=5)
    # Nothing left behind: no empty directory with a lock that would silence "no data" warnings.
    assert not target.exists()


def test_offline_failure_says_what_to_do(tmp_path: Path) -> None:
    fallback = [f"{closed_port_url()}/{DEP_2025}"]
    with pytest.raises(DownloadError) as info:
        update(data_dir=tmp_path, api_url=closed_port_url(), timeout=2, fallback_urls=fallback)
    message = str(info.value)
    assert "cannot connect" in message and f"Nothing was installed in {tmp_path}" in message
    assert "network" in message and "OASIS_DATA_DIR" in message


def test_cut_mid_row_error_names_file_and_line(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes]
) -> None:
    body = _cut_mid_row(real_2025[DEP_2025])
    api = offer(server, {DEP_2025: body}, checksum=False)
    with pytest.raises(DownloadError) as info:
        update(data_dir=tmp_path, api_url=api, timeout=10)
    last_line = body.count(b"\n") + 1
    assert f"{DEP_2025}, line {last_line}" in str(info.value)


# -- API down: pinned fallback URLs --------------------------------------------------------------


@pytest.mark.parametrize(
    "api_state", ["refused", "http-500", "not-json", "no-resources", "only-decoys", "timeout"]
)
def test_api_unusable_uses_fallback_urls(
    server: FakeDataGouv, tmp_path: Path, api_state: str
) -> None:
    edition = synthetic_edition(2025, produced="2026-01-22")
    fallback = [
        server.publish(edition.dep_name, edition.dep_bytes),
        server.publish(edition.reg_name, edition.reg_bytes),
    ]
    api = server.api_url
    if api_state == "refused":
        api = closed_port_url()
    elif api_state == "http-500":
        server.set_api([], status=500)
    elif api_state == "not-json":
        server.routes[API_PATH] = Route(b"<html>Bad gateway</html>", content_type="text/html")
    elif api_state == "no-resources":
        server.routes[API_PATH] = Route(b'{"message": "dataset not found"}')
    elif api_state == "only-decoys":
        server.set_api(decoys(server))
    elif api_state == "timeout":
        server.set_api([], delay=1.5)

    result = update(data_dir=tmp_path, api_url=api, timeout=0.5, fallback_urls=fallback)

    assert result.status == "installed" and result.source == "fallback"
    assert result.edition == edition.edition_id and result.regions == "official"
    assert "pinned fallback URLs" in result.summary()
    assert any("API unusable" in note for note in result.notes)
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.source == "fallback"
    assert {f.url for f in manifest.files} == set(fallback)
    assert load_dataset(tmp_path).edition.id == edition.edition_id


def test_api_and_fallback_urls_from_environment(
    server: FakeDataGouv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edition = synthetic_edition(2025, produced="2026-01-22")
    dep_url = server.publish(edition.dep_name, edition.dep_bytes)
    reg_url = server.publish(edition.reg_name, edition.reg_bytes)
    monkeypatch.setenv("OASIS_DATAGOUV_API", closed_port_url())
    monkeypatch.setenv("OASIS_DATAGOUV_FALLBACK_URLS", f"{dep_url}, {reg_url}")
    result = update(data_dir=tmp_path, timeout=2)
    assert result.source == "fallback" and result.edition == edition.edition_id

    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes})
    monkeypatch.setenv("OASIS_DATAGOUV_API", api)
    result = update(data_dir=tmp_path, timeout=2)
    assert result.source == "api" and result.status == "up-to-date"


def test_default_fallback_urls_are_the_pinned_2025_edition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = (
        "https://static.data.gouv.fr/resources/bases-statistiques-communale-departementale-et-"
        "regionale-de-la-delinquance-enregistree-par-la-police-et-la-gendarmerie-nationales/"
    )
    monkeypatch.delenv("OASIS_DATAGOUV_FALLBACK_URLS")
    monkeypatch.delenv("OASIS_DATAGOUV_API")
    assert datagouv.fallback_urls() == (
        prefix + "20260129-160318/" + DEP_2025,
        prefix + "20260129-160256/" + REG_2025,
    )
    assert datagouv.api_url() == (
        "https://www.data.gouv.fr/api/1/datasets/621df2954fa5a3b5a023e23c/")
    offer_ = datagouv.newest_edition(datagouv.fallback_resources(datagouv.fallback_urls()))
    assert offer_ is not None and offer_.edition_id == ED_2025 and offer_.region is not None


def test_fallback_never_downgrades_a_newer_installed_edition(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    installed = synthetic_edition(2026, produced="2027-01-20")
    install_synthetic(server, tmp_path, installed)
    before = snapshot(tmp_path)
    older = synthetic_edition(2025, produced="2026-01-22")
    fallback = [server.publish(older.dep_name, older.dep_bytes),
                server.publish(older.reg_name, older.reg_bytes)]

    result = update(data_dir=tmp_path, api_url=closed_port_url(), timeout=2,
                    fallback_urls=fallback)

    assert result.status == "kept-newer" and result.edition == installed.edition_id
    assert not server.requested(older.dep_name)
    assert snapshot(tmp_path) == before
    assert "newer than what the source offers" in result.summary()


def test_api_down_and_fallback_failing(server: FakeDataGouv, tmp_path: Path) -> None:
    previous = synthetic_edition(2023)
    install_synthetic(server, tmp_path, previous)
    before = snapshot(tmp_path)
    fallback = [server.publish(DEP_2025, None), server.publish(REG_2025, None)]
    with pytest.raises(DownloadError, match=r"fallback URL: the data.gouv.fr API was unusable, "
                       r"cannot reach .*HTTP 404.*still in use"):
        update(data_dir=tmp_path, api_url=closed_port_url(), timeout=2, fallback_urls=fallback)
    assert snapshot(tmp_path) == before
    with pytest.raises(DownloadError, match="does not end with an official"):
        update(data_dir=tmp_path, api_url=closed_port_url(), timeout=2,
               fallback_urls=[server.base + "/data.csv"])
    assert snapshot(tmp_path) == before


# -- resource selection --------------------------------------------------------------------------


def test_newest_edition_is_picked_from_a_realistic_listing() -> None:
    base = "https://static.example/resources/x"
    payload = {
        "resources": [
            {"title": "Base communale", "format": "csv.gz",
             "url": f"{base}/1/donnee-data.gouv-2025-geographie2025-produit-le2026-01-22.csv.gz"},
            {"title": "Base communale parquet", "format": "parquet",
             "url": f"{base}/2/donnee-comm-data.gouv-parquet-2025-geographie2025-produit-le2026"
                    "-01-22.parquet"},
            {"title": DEP_2024, "format": "csv", "url": f"{base}/3/{DEP_2024}"},
            {"title": REG_2024, "format": "csv", "url": f"{base}/3/{REG_2024}"},
            # the newest departmental file, named only by its title
            {"title": DEP_2025, "format": "csv", "url": f"{base}/4/6f1e2b.csv",
             "filesize": 2001237, "checksum": {"type": "sha1", "value": "ABC"}},
            {"title": REG_2025, "format": "csv", "url": f"{base}/5/{REG_2025}",
             "last_modified": "2026-01-29T16:02:56"},
            {"title": REG_2025, "format": "csv", "url": f"{base}/6/{REG_2025}",
             "last_modified": "2026-02-01T10:00:00"},  # re-uploaded: this one wins
            # a newer edition with only its regional file is not usable
            {"title": "x", "format": "csv",
             "url": f"{base}/7/donnee-reg-data.gouv-2025-geographie2026-produit-le2026-06-25.csv"},
            {"title": "Documentation", "format": "pdf", "url": f"{base}/8/doc.pdf"},
            "garbage",
            {"title": DEP_2025, "format": "csv", "url": "ftp://nope"},
        ]
    }
    resources = datagouv.resources_from_payload(payload)
    chosen = datagouv.newest_edition(resources)
    assert chosen is not None
    assert chosen.edition_id == ED_2025
    assert chosen.department.url == f"{base}/4/6f1e2b.csv"
    assert chosen.department.name == DEP_2025
    assert chosen.department.filesize == 2001237
    assert chosen.department.checksum == datagouv.Checksum("sha1", "abc")
    assert chosen.region is not None and chosen.region.url == f"{base}/6/{REG_2025}"


@pytest.mark.parametrize("payload", [[], {"resources": "none"}, {"data": []}, "text"])
def test_payload_without_resources_is_an_api_error(payload: object) -> None:
    with pytest.raises(datagouv.ApiError, match="resources"):
        datagouv.resources_from_payload(payload)


# -- concurrency ---------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="uses fcntl to hold the lock")
def test_lock_held_by_another_update(server: FakeDataGouv, tmp_path: Path) -> None:
    import fcntl

    edition = synthetic_edition(2023)
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes})
    with open(tmp_path / LOCK_NAME, "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(DownloadError, match="Another `oasis-mcp data update` is running"):
            update(data_dir=tmp_path, api_url=api, timeout=5, lock_timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 3
        assert server.requests == []
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert update(data_dir=tmp_path, api_url=api, timeout=5).status == "installed"


def test_concurrent_updates_do_not_interleave(server: FakeDataGouv, tmp_path: Path) -> None:
    edition = synthetic_edition(2023)
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes},
                delay=0.2)
    results: list[UpdateResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(update(data_dir=tmp_path, api_url=api, timeout=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(r.status for r in results) == ["installed", "up-to-date", "up-to-date"]
    assert (tmp_path / edition.dep_name).read_bytes() == edition.dep_bytes
    assert_no_temp_files(tmp_path)


# -- command line --------------------------------------------------------------------------------


def test_cli_data_update_then_info(
    server: FakeDataGouv, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    real_2025: dict[str, bytes]
) -> None:
    api = offer(server, dict(real_2025))
    target = tmp_path / "data"

    assert main(["data", "update", "--data-dir", str(target), "--api-url", api]) == 0
    out = capsys.readouterr().out
    assert f"Installed edition {ED_2025}" in out
    assert REAL_SHA256[DEP_2025] in out and str(target) in out

    assert main(["data", "update", "--data-dir", str(target), "--api-url", api, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "up-to-date" and report["edition"] == ED_2025
    assert {f["name"] for f in report["files"]} == {DEP_2025, REG_2025}

    assert main(["data", "info", "--json", "--data-dir", str(target)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["edition"] == ED_2025 and info["regions"] == "official"
    assert {f["name"]: f["sha256"] for f in info["files"]}[DEP_2025] == REAL_SHA256[DEP_2025]
    assert info["levels"]["department"]["areas"] == 101
    assert info["levels"]["region"]["areas"] == 18


def test_cli_data_update_failure(
    server: FakeDataGouv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = offer(server, {DEP_2025: None})
    assert main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api]) == 69
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "oasis-mcp: Download of" in captured.err and "HTTP 404" in captured.err
