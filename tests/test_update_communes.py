"""``oasis-mcp data update`` installs the communal file and the commune referential (optional),
against the fake data.gouv.fr of ``test_download`` on 127.0.0.1 (never the Internet)."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from commune_synthetic import SHARED, make_commune_file
from mcp import Client
from test_download import (
    DEP_2025,
    REG_2025,
    FakeDataGouv,
    Route,
    assert_no_temp_files,
    closed_port_url,
    decoys,
    regional_bytes_from_departmental,
    resource,
    snapshot,
)

from oasis_mcp.cli import main
from oasis_mcp.data import commune_file, referential, sources
from oasis_mcp.data.download import UpdateResult, update
from oasis_mcp.data.manifest import read_manifest
from oasis_mcp.data.sources import HostPolicy

pytestmark = pytest.mark.skipif(
    not (SHARED / DEP_2025).is_file() or not (SHARED / "cog" / "communes.json").is_file(),
    reason="needs the real departmental file and referential in shared/data")

COMM_2025 = "donnee-comm-data.gouv-2025-geographie2025-produit-le2026-01-22.csv.gz"
TGZ = "decoupage-administratif-6.0.0.tgz"
TGZ_PATH = "/@etalab/decoupage-administratif/-/" + TGZ


@pytest.fixture(autouse=True)
def _allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in test_download: 127.0.0.1 allowed explicitly; the referential never on the Internet."""
    monkeypatch.setenv("OASIS_UPDATE_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv(referential.URL_ENV, closed_port_url() + "referential.tgz")


@pytest.fixture
def server() -> Iterator[FakeDataGouv]:
    fake = FakeDataGouv()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def real_2025() -> dict[str, bytes]:
    dep = (SHARED / DEP_2025).read_bytes()
    return {DEP_2025: dep, REG_2025: regional_bytes_from_departmental(dep)}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("OASIS_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def communal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A synthetic communal csv.gz of the 2025 edition (a few departments)."""
    root = tmp_path_factory.mktemp("communal")
    made = make_commune_file(root, ("75", "93", "974", "2B", "26"), max_communes_per_department=25,
                             seed=3)
    assert made.path.name == COMM_2025
    return made.path.read_bytes()


def tarball(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


@pytest.fixture(scope="module")
def real_names() -> bytes:
    return (SHARED / "cog" / "communes.json").read_bytes()


@pytest.fixture(scope="module")
def npm_tarball(real_names: bytes) -> bytes:
    """A tarball laid out as the npm package's (the real referential inside; built in memory)."""
    return tarball({"package/package.json": b'{"name": "@etalab/decoupage-administratif"}',
                    "package/data/regions.json": b"[]",
                    referential.MEMBER: real_names})


def serve_referential(server: FakeDataGouv, body: bytes, monkeypatch: pytest.MonkeyPatch,
                      **route: Any) -> str:
    server.routes[TGZ_PATH] = Route(body, content_type="application/octet-stream", **route)
    url = server.base + TGZ_PATH
    monkeypatch.setenv(referential.URL_ENV, url)
    return url


def offer_edition(server: FakeDataGouv, files: dict[str, bytes], commune: bytes | None,
                  commune_name: str = COMM_2025, announce: bool = True,
                  bad_checksum: bool = False) -> str:
    """Publish the edition's files and the communal file (announced with filesize and sha1
    unless ``announce`` is False) and list them in the API document among decoys."""
    entries = decoys(server)
    for name, body in files.items():
        entries.append(resource(server.publish(name, body), body))
    if commune is not None:
        url = server.publish(commune_name, commune, stamp="20260129-160500")
        entry = resource(url, commune, fmt="csv.gz", checksum=announce)
        if bad_checksum:
            entry["checksum"] = {"type": "sha1", "value": "0" * 40}
        entries.append(entry)
    return server.set_api(entries)


def history(data_dir: Path, area: str) -> Any:
    from oasis_mcp.server import create_server

    async def run() -> Any:
        async with Client(create_server(data_dir=data_dir)) as client:
            return await client.call_tool("get_history", {"area": area, "indicator": "burglary",
                                                          "level": "commune"})

    return asyncio.run(run())


# -- installed -----------------------------------------------------------------------------------


def test_communal_file_and_referential_are_installed_and_served(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    npm_tarball: bytes, real_names: bytes, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], _cache: Path,
) -> None:
    url = serve_referential(server, npm_tarball, monkeypatch)
    api = offer_edition(server, real_2025, communal)
    target = tmp_path / "data"
    result = update(data_dir=target, api_url=api, timeout=10)
    # the validation's parse became the installed file's cache entry, nothing else is left
    entries = sorted(p.name for p in (_cache / "communes").iterdir())
    assert len(entries) == 1 and not entries[0].startswith(".")
    assert (_cache / "communes" / entries[0] / "meta.json").is_file()

    assert result.status == "installed"
    assert result.commune["installed"] and result.commune["status"] == "installed"
    assert result.commune["file"] == COMM_2025 and result.commune["communes"] > 100
    assert result.commune["cache_seconds"] >= 0 and result.commune["validated_seconds"] > 0
    assert (target / COMM_2025).read_bytes() == communal
    manifest = read_manifest(target)
    assert manifest is not None
    entry = manifest.file("commune")
    assert entry is not None and entry.name == COMM_2025
    assert entry.sha256 == hashlib.sha256(communal).hexdigest() and entry.size == len(communal)
    assert {f.level for f in manifest.files} == {"department", "region", "commune"}
    # the referential: only the one member, byte for byte, recorded in the manifest
    assert (target / "cog" / "communes.json").read_bytes() == real_names
    assert sorted(p.name for p in (target / "cog").iterdir()) == ["communes.json"]
    assert result.referential["status"] == "installed" and result.referential["communes"] > 30_000
    assert manifest.referential is not None and manifest.referential.url == url
    assert manifest.referential.version == referential.PINNED_VERSION
    assert manifest.referential.sha256 == hashlib.sha256(real_names).hexdigest()
    assert_no_temp_files(target)
    summary = result.summary()
    assert "Communes:  commune level installed: " + COMM_2025 in summary
    assert "cache warmed in" in summary and "commune referential installed" in summary

    # the cache is warm: reading the installed file does not parse it again
    def no_parse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(commune_file, "parse_commune_file", no_parse)
        table = commune_file.read_commune_file(target / COMM_2025)
    assert table.name == COMM_2025 and len(table.codes) == result.commune["communes"]

    # get_history at commune level works on the installed directory, names included
    got = history(target, "Saint-Denis (La Réunion)")
    assert not got.is_error, got.content[0].text
    body = got.structured_content
    assert body["area"]["code"] == "97411" and body["area"]["level"] == "commune"
    assert body["points"] or body["withheld"]

    # data info reports the commune level
    assert main(["data", "info", "--json", "--data-dir", str(target)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "commune" in info["levels"] and info["commune"]["file"] == COMM_2025

    # a second update: nothing rewritten, nothing downloaded from the referential's host again
    before = snapshot(target)
    before_cog = (target / "cog" / "communes.json").stat().st_mtime_ns
    again = update(data_dir=target, api_url=api, timeout=10)
    assert again.status == "up-to-date" and again.commune["status"] == "unchanged"
    assert again.commune["cache_seconds"] == 0.0  # the cache was warm: nothing loaded
    assert "commune level already installed: " + COMM_2025 + "; its cache was already warm" \
        in again.summary()
    assert again.referential["status"] == "present"
    assert snapshot(target) == before
    assert (target / "cog" / "communes.json").stat().st_mtime_ns == before_cog
    assert server.requests.count(TGZ_PATH) == 1


def test_cli_json_reports_the_commune_level(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    npm_tarball: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    serve_referential(server, npm_tarball, monkeypatch)
    api = offer_edition(server, real_2025, communal)
    target = tmp_path / "data"
    assert main(["data", "update", "--json", "--data-dir", str(target), "--api-url", api]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["commune"]["installed"] is True and out["commune"]["file"] == COMM_2025
    assert out["commune_referential"]["status"] == "installed"
    assert any(f["level"] == "commune" for f in out["files"])


def test_no_communes_option_installs_the_edition_only(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = offer_edition(server, real_2025, communal)
    target = tmp_path / "data"
    assert main(["data", "update", "--no-communes", "--data-dir", str(target),
                 "--api-url", api]) == 0
    assert "commune level NOT installed: skipped (--no-communes)" in capsys.readouterr().out
    assert not (target / COMM_2025).exists() and not (target / "cog").exists()
    assert not any(COMM_2025 in p for p in server.requests)


# -- optional: the edition is installed without it ------------------------------------------------


def _assert_edition_without_communes(result: UpdateResult, target: Path, why: str) -> None:
    assert result.status == "installed"
    assert {f.level for f in result.files} == {"department", "region"}
    assert (target / DEP_2025).is_file() and (target / REG_2025).is_file()
    assert not list(target.glob("donnee-comm*"))
    assert result.commune["installed"] is False and why in result.commune["reason"]
    assert "commune level NOT installed: " in result.summary() and why in result.summary()
    assert result.to_dict()["commune"]["installed"] is False
    manifest = read_manifest(target)
    assert manifest is not None and manifest.file("commune") is None
    assert any("commune level not installed" in n for n in manifest.notes)
    assert result.referential["status"] == "skipped"
    assert not (target / "cog").exists()
    assert_no_temp_files(target)


def _corrupt(body: bytes) -> bytes:
    text = gzip.decompress(body).decode("utf-8").splitlines(keepends=True)
    text[5] = text[5].replace('"diff"', '"perhaps"', 1).replace('"ndiff"', '"perhaps"', 1)
    return gzip.compress("".join(text).encode("utf-8"))


@pytest.mark.parametrize("case", ["invalid", "truncated gzip", "404", "checksum"])
def test_broken_communal_file_installs_the_edition_without_it(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    case: str,
) -> None:
    target = tmp_path / "data"
    if case == "invalid":
        api = offer_edition(server, real_2025, _corrupt(communal))
        why = "not a valid SSMSI communal file"
    elif case == "truncated gzip":
        api = offer_edition(server, real_2025, communal[: len(communal) // 2], announce=False)
        why = "not a valid SSMSI communal file"
    elif case == "404":
        api = offer_edition(server, real_2025, communal)
        server.publish(COMM_2025, None, stamp="20260129-160500")
        why = "HTTP 404"
    else:
        api = offer_edition(server, real_2025, communal, bad_checksum=True)
        why = "sha1 checksum mismatch"
    result = update(data_dir=target, api_url=api, timeout=10)
    _assert_edition_without_communes(result, target, why)


def test_communal_file_not_listed(server: FakeDataGouv, tmp_path: Path,
                                  real_2025: dict[str, bytes]) -> None:
    target = tmp_path / "data"
    result = update(data_dir=target, api_url=offer_edition(server, real_2025, None), timeout=10)
    _assert_edition_without_communes(result, target, "lists no communal file")


def test_communal_file_of_another_edition_is_not_taken(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
) -> None:
    target = tmp_path / "data"
    older = "donnee-comm-data.gouv-2024-geographie2024-produit-le2025-01-26.csv.gz"
    api = offer_edition(server, real_2025, communal, commune_name=older)
    result = update(data_dir=target, api_url=api, timeout=10)
    _assert_edition_without_communes(result, target, "is not of edition 2025-geographie2025")
    assert not any(older in p for p in server.requests)


def test_communal_file_refused_after_parsing_leaves_no_staged_table(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    monkeypatch: pytest.MonkeyPatch, _cache: Path,
) -> None:
    """A communal file that parses but is refused (its years are not the edition's) leaves
    nothing in the cache: its staged arrays are removed when the update ends."""
    target = tmp_path / "data"
    api = offer_edition(server, real_2025, communal)
    real_parse = commune_file.parse_commune_file

    def parse_then_remember(*args: Any, **kwargs: Any) -> Any:
        table = real_parse(*args, **kwargs)
        assert table.store_dir is not None and table.store_dir.is_dir()
        return dataclasses.replace(table, years=table.years - 1)

    monkeypatch.setattr(commune_file, "parse_commune_file", parse_then_remember)
    result = update(data_dir=target, api_url=api, timeout=10)
    _assert_edition_without_communes(result, target, "its rows end in 2024")
    assert list((_cache / "communes").iterdir()) == []


def test_communal_file_over_its_cap_is_refused(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sources.MAX_BYTES, "commune", len(communal) - 1)
    target = tmp_path / "data"
    result = update(data_dir=target, api_url=offer_edition(server, real_2025, communal),
                    timeout=10)
    _assert_edition_without_communes(result, target, f"{len(communal) - 1:,}-byte limit")


def test_communal_file_failure_keeps_the_one_installed_earlier(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    npm_tarball: bytes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_referential(server, npm_tarball, monkeypatch)
    target = tmp_path / "data"
    assert update(data_dir=target, api_url=offer_edition(server, real_2025, communal),
                  timeout=10).commune["status"] == "installed"
    server.publish(COMM_2025, None, stamp="20260129-160500")  # now answers 404
    result = update(data_dir=target, api_url=server.api_url, timeout=10)
    assert result.commune["installed"] and result.commune["status"] == "kept"
    assert "HTTP 404" in result.commune["reason"]
    assert (target / COMM_2025).read_bytes() == communal
    manifest = read_manifest(target)
    assert manifest is not None and manifest.file("commune") is not None


# -- the referential -----------------------------------------------------------------------------


def test_referential_from_a_host_that_is_not_allowed_is_refused(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = FakeDataGouv()  # on 127.0.0.1 too, but reached as 127.0.0.2: not allowed
    try:
        port = other.httpd.server_address[1]
        monkeypatch.setenv(referential.URL_ENV, f"http://127.0.0.2:{port}{TGZ_PATH}")
        target = tmp_path / "data"
        result = update(data_dir=target, api_url=offer_edition(server, real_2025, communal),
                        timeout=10)
        assert result.commune["installed"] and result.referential["status"] == "not-installed"
        assert "127.0.0.2 is not one of the commune referential's hosts" in \
            result.referential["reason"]
        assert "--allow-host 127.0.0.2" in result.referential["reason"]
        assert "commune referential NOT installed" in result.summary()
        assert other.requests == []
        assert not (target / "cog").exists()
        assert_no_temp_files(target)
    finally:
        other.close()


def test_referential_host_policy() -> None:
    dataset, names = HostPolicy(), HostPolicy().for_referential()
    npm = referential.DEFAULT_URL
    assert names.allows(npm) and not dataset.allows(npm)  # npm: for this one file only
    assert not names.allows("https://static.data.gouv.fr/resources/x/communes.json")
    assert not names.allows(npm.replace("https://", "http://"))
    assert not names.allows("https://registry.npmjs.org.evil.example/x.tgz")
    assert HostPolicy(("127.0.0.1",)).for_referential().allows("http://127.0.0.1:8000/x.tgz")
    assert referential.pinned_sha512_hex(npm) is not None
    assert referential.pinned_sha512_hex("http://127.0.0.1/x.tgz") is None


@pytest.mark.parametrize("case", ["symlink", "no member", "not json", "not communes", "too big",
                                  "tarball too big", "not a tarball", "bad code"])
def test_bad_referential_is_not_installed(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    monkeypatch: pytest.MonkeyPatch, case: str,
) -> None:
    good = json.dumps([{"code": "75056", "nom": "Paris", "type": "commune-actuelle"}]).encode()
    body, why = {
        "symlink": (tarball({}, links={referential.MEMBER: "/etc/passwd"}),
                    "is not a regular file"),
        "no member": (tarball({"package/data/regions.json": b"[]"}), "has no package/data"),
        "not json": (tarball({referential.MEMBER: b"{oops"}), "is not UTF-8 JSON"),
        "not communes": (tarball({referential.MEMBER: b'[{"code": "1"}]'}), "entry 0 is not"),
        "bad code": (tarball({referential.MEMBER: good.replace(b"75056", b"7505")}),
                     "not an INSEE commune code"),
        "too big": (tarball({referential.MEMBER: good}), "larger than"),
        "tarball too big": (tarball({referential.MEMBER: good}), "-byte limit"),
        "not a tarball": (b"<html>maintenance</html>", "not a readable .tgz"),
    }[case]
    if case == "too big":
        monkeypatch.setitem(sources.MAX_BYTES, "commune-referential-member", len(good) - 1)
    if case == "tarball too big":
        monkeypatch.setitem(sources.MAX_BYTES, "commune-referential", len(body) - 1)
    serve_referential(server, body, monkeypatch)
    target = tmp_path / "data"
    result = update(data_dir=target, api_url=offer_edition(server, real_2025, communal),
                    timeout=10)
    assert result.status == "installed" and result.commune["installed"]
    assert result.referential["status"] == "not-installed", result.referential
    assert why in result.referential["reason"]
    assert not (target / "cog" / "communes.json").exists()
    assert_no_temp_files(target)
    manifest = read_manifest(target)
    assert manifest is not None and manifest.referential is None


def test_referential_is_replaced_when_the_pinned_version_changes(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    npm_tarball: bytes, real_names: bytes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_referential(server, npm_tarball, monkeypatch)
    api = offer_edition(server, real_2025, communal)
    target = tmp_path / "data"
    update(data_dir=target, api_url=api, timeout=10)
    monkeypatch.setattr(referential, "PINNED_VERSION", "6.1.0")
    result = update(data_dir=target, api_url=api, timeout=10)
    assert result.referential["status"] == "installed"
    manifest = read_manifest(target)
    assert manifest is not None and manifest.referential is not None
    assert manifest.referential.version == "6.1.0"
    assert server.requests.count(TGZ_PATH) == 2


def test_referential_put_there_by_hand_is_left_alone(
    server: FakeDataGouv, tmp_path: Path, real_2025: dict[str, bytes], communal: bytes,
    npm_tarball: bytes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_referential(server, npm_tarball, monkeypatch)
    target = tmp_path / "data"
    (target / "cog").mkdir(parents=True)
    mine = b'[{"code": "75056", "nom": "Paris", "type": "commune-actuelle"}]'
    (target / "cog" / "communes.json").write_bytes(mine)
    result = update(data_dir=target, api_url=offer_edition(server, real_2025, communal),
                    timeout=10)
    assert result.referential["status"] == "present"
    assert (target / "cog" / "communes.json").read_bytes() == mine
    assert TGZ_PATH not in server.requests


# -- kept editions -------------------------------------------------------------------------------


def _revision(files: dict[str, bytes], produced: str) -> dict[str, bytes]:
    return {name.replace("2026-01-22", produced): body for name, body in files.items()}


@pytest.fixture
def editions(real_2025: dict[str, bytes]) -> Iterator[list[dict[str, bytes]]]:
    yield [real_2025, _revision(real_2025, "2026-02-10"), _revision(real_2025, "2026-03-05")]


def test_kept_edition_keeps_its_communal_file(
    server: FakeDataGouv, tmp_path: Path, editions: list[dict[str, bytes]], communal: bytes,
    npm_tarball: bytes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_referential(server, npm_tarball, monkeypatch)
    target = tmp_path / "data"
    names = []
    for files in editions:
        produced = next(iter(files)).rsplit("produit-le", 1)[1][:10]
        name = COMM_2025.replace("2026-01-22", produced)
        names.append(name)
        server.routes.clear()
        serve_referential(server, npm_tarball, monkeypatch)
        result = update(data_dir=target, api_url=offer_edition(server, files, communal,
                                                               commune_name=name), timeout=10)
        assert result.status == "installed" and result.commune["file"] == name
        time.sleep(0.01)
    manifest = read_manifest(target)
    assert manifest is not None and manifest.file("commune") is not None
    assert manifest.file("commune").name == names[2]  # type: ignore[union-attr]
    kept = manifest.previous[0].file("commune")
    assert kept is not None and kept.name == names[1]
    assert (target / names[2]).is_file() and (target / names[1]).is_file()
    assert not (target / names[0]).exists()  # dropped with its edition
    assert names[0] in result.removed_files
