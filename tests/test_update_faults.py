# ruff: noqa: F811  (the fixtures imported from test_download are parameters here)
"""`oasis-mcp data update` under faults (issues 14, 15, 16): slow or huge answers, other hosts,
implausible editions, permissions, read-only disks, odd names, Ctrl-C, kill -9, two at once.

Every server is local (127.0.0.1, and 127.0.0.2 as "another host"), started by the test.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, SyntheticEdition, render
from test_download import (  # noqa: F401 - fixtures
    DEP_2025,
    FakeDataGouv,
    _allow_loopback,
    assert_no_temp_files,
    decoys,
    offer,
    resource,
    server,
    snapshot,
    synthetic_edition,
)

from oasis_mcp.cli import main
from oasis_mcp.data import download
from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.data.download import LOCK_NAME, update, update_status
from oasis_mcp.data.editions import discover_editions, parse_file_name
from oasis_mcp.data.manifest import (
    MANIFEST_NAME,
    STATE_NAME,
    TEMP_PREFIX,
    manifest_from_dict,
    read_manifest,
    read_state,
)
from oasis_mcp.data.sources import HostPolicy
from oasis_mcp.errors import DownloadError

PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "oasis_mcp.cli", *args]


#: Runs the CLI and prints its peak RSS (VmHWM: this process image only; ru_maxrss would
#: include the parent's pages from before exec) on stderr when it exits.
MEASURED_CLI = """
import atexit, sys
def _peak():
    with open('/proc/self/status') as fh:
        hwm = [line for line in fh if line.startswith('VmHWM:')][0].split()[1]
    print('peak-rss-kb', hwm, file=sys.stderr)
atexit.register(_peak)
from oasis_mcp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def peak_rss_mb(stderr: str) -> float:
    line = next(line for line in stderr.splitlines() if line.startswith("peak-rss-kb"))
    return int(line.split()[1]) / 1024


# -- a scripted HTTP server (answers built by Python callables) ---------------------------------


Handler = Callable[[BaseHTTPRequestHandler], None]


class Scripted:
    """Serves ``routes[path](handler)``; 404 elsewhere. Bound to ``host`` (127.0.0.1, 127.0.0.2)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                route = outer.routes.get(self.path)
                try:
                    if route is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def drip(body: bytes, every: float = 1.0) -> Handler:
    """Announce the whole body, then send one byte per ``every`` seconds."""
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(len(body)):
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()
            time.sleep(every)
    return route


def endless(total: int, declare: bool, chunk: int = 1 << 20) -> Handler:
    """A body of ``total`` bytes generated on the fly (with or without Content-Length)."""
    block = b" " * chunk

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if declare:
            h.send_header("Content-Length", str(total))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        if declare and h.command == "HEAD":
            return
        sent = 0
        while sent < total:
            h.wfile.write(block)
            sent += chunk
        h.close_connection = True
    return route


def installed(server: FakeDataGouv, target: Path, edition: SyntheticEdition) -> dict[str, bytes]:
    api = offer(server, {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes},
                stamp="20240115-100000")
    assert update(data_dir=target, api_url=api, timeout=5).status == "installed"
    return snapshot(target)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("oasis-mcp:")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


# -- issue 16: deadline and minimum rate -----------------------------------------------------------


def test_dripping_server_fails_within_the_deadline_and_keeps_the_last_edition(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    new = synthetic_edition(2024)
    scripted.routes["/dep.csv"] = drip(new.dep_bytes)
    entries = [resource(f"{scripted.base}/{new.dep_name}", new.dep_bytes)]
    entries[0]["url"] = f"{scripted.base}/dep.csv"
    entries[0]["title"] = new.dep_name
    api = server.set_api(entries)
    capsys.readouterr()

    start = time.monotonic()
    code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api,
                 "--deadline", "10s", "--timeout", "5"])
    elapsed = time.monotonic() - start

    line = one_error_line(capsys.readouterr().err)
    with capsys.disabled():
        print(f"\ndrip at 1 byte/s, --deadline 10s: exit {code} after {elapsed:.1f} s")
    assert code == download.EXIT_TRY_LATER
    assert elapsed < 12, elapsed
    assert "too slow" in line and new.dep_name in line and "10 s deadline" in line
    assert "--deadline" in line
    assert f"(edition {previous.edition_id}) is unchanged and still in use" in line
    assert snapshot(tmp_path) == before
    assert_no_temp_files(tmp_path)
    assert load_dataset(tmp_path).edition.id == previous.edition_id
    status = update_status(tmp_path)
    assert status is not None and "failed" in status and "too slow" in status


def test_server_below_the_minimum_rate_is_dropped(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path
) -> None:
    new = synthetic_edition(2024)
    scripted.routes["/dep.csv"] = drip(new.dep_bytes, every=0.1)  # 10 B/s
    entry = resource(f"{scripted.base}/dep.csv", new.dep_bytes, title=new.dep_name)
    api = server.set_api([entry])
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        update(data_dir=tmp_path, api_url=api, timeout=5, min_rate="1k", rate_window=1.5)
    assert time.monotonic() - start < 6
    assert "below the minimum of 1.0 kB/s" in str(info.value)
    assert info.value.exit_code == download.EXIT_TRY_LATER


def test_silence_after_the_headers_is_cut_at_the_deadline(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path
) -> None:
    new = synthetic_edition(2024)

    def silent(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(new.dep_bytes)))
        h.end_headers()
        h.wfile.write(new.dep_bytes[:1000])
        h.wfile.flush()
        time.sleep(30)

    scripted.routes["/dep.csv"] = silent
    api = server.set_api([resource(f"{scripted.base}/dep.csv", new.dep_bytes,
                                   title=new.dep_name)])
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"too slow.*1,000 of"):
        update(data_dir=tmp_path, api_url=api, timeout=60, deadline=2)  # per-read timeout 60 s
    assert time.monotonic() - start < 4


def test_deadline_and_rate_options_are_checked() -> None:
    from oasis_mcp.data.transfer import parse_duration, parse_rate

    assert parse_duration("10s") == 10 and parse_duration("5m") == 300
    assert parse_duration("1.5min") == 90 and parse_duration("300") == 300
    assert parse_rate("10k") == 10_000 and parse_rate("1MB/s") == 1_000_000
    assert parse_rate("0") == 0
    for bad in ("", "ten", "-1", "0s", "5 days"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(DownloadError, match="not a duration"):
        update(data_dir="/nonexistent-oasis", deadline="soon")


# -- issue 16: size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "content-length"])
def test_huge_api_answer_is_refused_at_the_cap_in_little_memory(
    scripted: Scripted, tmp_path: Path, declare: bool
) -> None:
    size = 2_500_000_000
    scripted.routes["/api/"] = endless(size, declare)
    target = tmp_path / "data"
    target.mkdir()
    done = subprocess.run(
        [PYTHON, "-c", MEASURED_CLI, "data", "update", "--data-dir", str(target), "--api-url",
         f"{scripted.base}/api/", "--timeout", "10", "--deadline", "60s"],
        env=child_env(), capture_output=True, text=True, timeout=120)
    err = done.stderr
    proc = done
    peak_mb = peak_rss_mb(err)
    print(f"2.5 GB API answer ({'Content-Length' if declare else 'streamed'}): "
          f"peak RSS {peak_mb:.0f} MB, exit {proc.returncode}")
    assert peak_mb <= 200, peak_mb
    assert "8,388,608-byte limit for the data.gouv.fr API answer" in err
    assert proc.returncode == download.EXIT_UNAVAILABLE  # then the pinned fallback (closed port)
    assert "Traceback" not in err
    assert sorted(p.name for p in target.iterdir()) == [LOCK_NAME, STATE_NAME]
    assert sys.platform == "linux"


def test_a_file_over_its_cap_is_refused(server: FakeDataGouv, tmp_path: Path) -> None:
    new = synthetic_edition(2024)
    api = offer(server, {new.dep_name: new.dep_bytes})
    with pytest.raises(DownloadError, match="more than the 1,000-byte limit"):
        update(data_dir=tmp_path, api_url=api, timeout=5, max_bytes=1000)


# -- issue 15: hosts -------------------------------------------------------------------------------


class _OtherHost(FakeDataGouv):
    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"


def _fake_on(host: str) -> FakeDataGouv:
    """A FakeDataGouv bound to another loopback address (127.0.0.2: "another host")."""
    fake = _OtherHost()
    fake.httpd.shutdown()
    fake.httpd.server_close()
    handler = fake.httpd.RequestHandlerClass
    fake.httpd = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=fake.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    assert fake.base.startswith(f"http://{host}:")
    return fake


def test_resource_on_another_host_is_refused(
    server: FakeDataGouv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _fake_on("127.0.0.2")
    try:
        previous = synthetic_edition(2023)
        before = installed(server, tmp_path, previous)
        new = synthetic_edition(2024)
        url = other.publish(new.dep_name, new.dep_bytes)
        api = server.set_api([resource(url, new.dep_bytes)])
        capsys.readouterr()

        code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api])

        line = one_error_line(capsys.readouterr().err)
        assert code == download.EXIT_HOST_REFUSED
        assert "127.0.0.2 is not one of the dataset's hosts" in line
        assert "--allow-host 127.0.0.2" in line and url in line
        assert other.requests == []  # never contacted
        assert snapshot(tmp_path) == before

        # Allowed explicitly (a mirror): installed.
        code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api,
                     "--allow-host", "127.0.0.2"])
        assert code == 0
        assert load_dataset(tmp_path).edition.id == new.edition_id
    finally:
        other.close()


def test_redirect_to_another_host_is_refused(server: FakeDataGouv, tmp_path: Path) -> None:
    other = _fake_on("127.0.0.2")
    try:
        previous = synthetic_edition(2023)
        before = installed(server, tmp_path, previous)
        new = synthetic_edition(2024)
        target = other.publish(new.dep_name, new.dep_bytes)
        redirect = server.publish(new.dep_name, b"", status=302, headers={"Location": target})
        api = server.set_api([resource(redirect, new.dep_bytes)])

        with pytest.raises(DownloadError) as info:
            update(data_dir=tmp_path, api_url=api, timeout=5)

        assert info.value.exit_code == download.EXIT_HOST_REFUSED
        assert "127.0.0.2 is not one of the dataset's hosts" in str(info.value)
        assert other.requests == []
        assert snapshot(tmp_path) == before
        assert_no_temp_files(tmp_path)
    finally:
        other.close()


def test_api_on_another_host_is_refused_not_silently_replaced(
    server: FakeDataGouv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OASIS_UPDATE_ALLOW_HOSTS")
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1 is not one of the dataset's hosts"):
        update(data_dir=tmp_path, api_url=server.api_url, timeout=5)
    assert server.requests == []


def test_host_policy() -> None:
    policy = HostPolicy()
    assert policy.allows("https://www.data.gouv.fr/api/1/datasets/x/")
    assert policy.allows("https://static.data.gouv.fr/resources/x/donnee.csv")
    assert policy.allows("https://object.files.data.gouv.fr/x.csv.gz")
    assert "only contacted over HTTPS" in (policy.problem("http://static.data.gouv.fr/x") or "")
    for url in ("https://data.gouv.fr.evil.example/x", "https://evil.example/static.data.gouv.fr",
                "ftp://static.data.gouv.fr/x", "file:///etc/passwd", "https://127.0.0.1/x"):
        assert not policy.allows(url), url
    mirror = HostPolicy(("mirror.example:8080", "127.0.0.1"))
    assert mirror.allows("http://mirror.example:8080/x")
    assert not mirror.allows("http://mirror.example:9090/x")
    assert mirror.allows("http://127.0.0.1:5555/x")


# -- issue 14: incomplete or implausible editions ------------------------------------------------


def _bad_edition(case: str, new: SyntheticEdition) -> tuple[dict[str, bytes | None], str]:
    rows = list(new.rows)
    homicides = "Homicides"
    if case == "missing-indicator":
        dropped = rows[0].indicator
        return ({new.dep_name: render([r for r in rows if r.indicator != dropped]),
                 new.reg_name: None}, f"[grid] {new.dep_name}: 1 of the 18 indicators")
    if case == "no-department-75":
        return ({new.dep_name: render([r for r in rows if r.area != "75"]),
                 new.reg_name: None},
                "[grid] " + new.dep_name + ": 1 of the 101 departments are missing (75)")
    if case == "all-zero":
        from dataclasses import replace
        return ({new.dep_name: render([replace(r, count=0) for r in rows]), new.reg_name: None},
                "[zero series] " + new.dep_name + ": every count of the file is 0")
    if case == "billion-homicides":
        from dataclasses import replace
        changed = [replace(r, count=1_000_000_000)
                   if r.indicator == homicides and r.area == "13" and r.year == new.data_year
                   else r for r in rows]
        return ({new.dep_name: render(changed), new.reg_name: None},
                f"[range] {new.dep_name}: 1 counts exceed the area's population: 13 "
                f"{new.data_year} 'Homicides' = 1,000,000,000")
    raise AssertionError(case)


BAD = ["missing-indicator", "no-department-75", "all-zero", "billion-homicides"]


@pytest.mark.parametrize("case", BAD)
def test_implausible_edition_is_refused_naming_the_check(
    server: FakeDataGouv, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    files, expected = _bad_edition(case, new)
    api = offer(server, files)
    capsys.readouterr()

    code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api])

    line = one_error_line(capsys.readouterr().err)
    assert code == download.EXIT_INVALID
    assert expected in line, line
    assert "--force" in line
    assert f"(edition {previous.edition_id}) is unchanged and still in use" in line
    assert snapshot(tmp_path) == before
    assert_no_temp_files(tmp_path)
    assert load_dataset(tmp_path).edition.id == previous.edition_id
    status = update_status(tmp_path)
    assert status is not None and "failed" in status


def test_force_installs_after_saying_what_failed(
    server: FakeDataGouv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = synthetic_edition(2023)
    installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    files, expected = _bad_edition("billion-homicides", new)
    api = offer(server, files)
    capsys.readouterr()

    code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api, "--force"])

    out = capsys.readouterr()
    assert code == 0
    assert "installed with --force although it fails these checks" in out.out
    assert expected in out.out
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.edition == new.edition_id
    assert any("--force" in note for note in manifest.notes)
    assert [k.edition for k in manifest.previous] == [previous.edition_id]


def test_zero_series_and_range_are_judged_against_the_previous_edition(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    from dataclasses import replace

    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    zeroed = [replace(r, count=0) if r.area == "29" and r.indicator == "Homicides" else r
              for r in new.rows]
    api = offer(server, {new.dep_name: render(zeroed), new.reg_name: None})
    with pytest.raises(DownloadError, match=r"\[zero series\].*29 'Homicides' \(previously up to"):
        update(data_dir=tmp_path, api_url=api, timeout=5)
    big = [replace(r, count=60_000) if r.area == "29" and r.indicator == "Homicides"
           and r.year == 2024 else r for r in new.rows]
    api = offer(server, {new.dep_name: render(big), new.reg_name: None})
    with pytest.raises(DownloadError, match=r"\[range\].*more than 10× the largest count"):
        update(data_dir=tmp_path, api_url=api, timeout=5)
    assert snapshot(tmp_path) == before


def test_failed_first_update_leaves_nothing_that_silences_the_missing_data_warning(
    server: FakeDataGouv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from oasis_mcp.serve import _describe_data_dir

    target = tmp_path / "cache"
    new = synthetic_edition(2024)
    files, _ = _bad_edition("all-zero", new)
    with pytest.raises(DownloadError, match="Nothing was installed"):
        update(data_dir=target, api_url=offer(server, files), timeout=5)
    assert not target.exists()
    with caplog.at_level("WARNING"):
        _describe_data_dir(str(target))
    assert "does not exist" in caplog.text


# -- issue 16: modes, OS errors, names ----------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_installed_files_get_the_umask_mode(
    server: FakeDataGouv, tmp_path: Path, umask: int
) -> None:
    old = os.umask(umask)
    try:
        installed(server, tmp_path, synthetic_edition(2023))
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(modes, want), {k: oct(v) for k, v in modes.items()}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                    or not Path("/usr/bin/python3").exists(), reason="needs root and setpriv")
def test_another_account_can_read_what_root_installed(server: FakeDataGouv) -> None:
    """Installed by root under umask 022, read by `nobody` (here with the system Python, which
    `nobody` can run: the project's interpreter lives under /root). It reads the manifest and
    checks every file's sha256, as the server's loader would read them."""
    shared = Path(tempfile.mkdtemp(prefix="oasis-shared-"))
    try:
        os.chmod(shared, 0o755)
        old = os.umask(0o022)
        try:
            installed(server, shared, synthetic_edition(2023))
        finally:
            os.umask(old)
        script = (
            "import hashlib, json, pathlib, sys\n"
            "d = pathlib.Path(sys.argv[1])\n"
            "m = json.loads((d / 'manifest.json').read_text())\n"
            "for f in m['files']:\n"
            "    assert hashlib.sha256((d / f['name']).read_bytes()).hexdigest() == f['sha256']\n"
            "print('read', len(m['files']), 'files as uid', __import__('os').getuid())\n"
        )
        done = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             "/usr/bin/python3", "-c", script, str(shared)],
            capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "read 2 files as uid 65534" in done.stdout
    finally:
        shutil.rmtree(shared)


def test_install_failing_with_an_os_error_is_one_line_and_changes_nothing(
    server: FakeDataGouv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes})
    real = os.replace
    calls = []

    def failing(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the departmental file, after the regional one went in
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        real(src, dst)

    monkeypatch.setattr(download.os, "replace", failing)
    capsys.readouterr()
    code = main(["data", "update", "--data-dir", str(tmp_path), "--api-url", api])
    monkeypatch.setattr(download.os, "replace", real)

    line = one_error_line(capsys.readouterr().err)
    assert code == 1 or code == download.EXIT_CANNOT_WRITE
    assert "the previous files were put back" in line
    assert snapshot(tmp_path) == before
    assert_no_temp_files(tmp_path)


def test_unreadable_old_file_after_a_good_install_is_a_note(
    server: FakeDataGouv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = synthetic_edition(2022)
    installed(server, tmp_path, old)
    new = synthetic_edition(2023, seed=3)
    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes})
    real = download._sha256_file

    def unreadable(path: Path) -> str:
        if path.name == old.dep_name:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(download, "_sha256_file", unreadable)
    result = update(data_dir=tmp_path, api_url=api, timeout=5, keep_previous=0)
    assert result.status == "installed"
    assert any(old.dep_name in n and "Permission denied" in n and "by hand" in n
               for n in result.notes)
    assert load_dataset(tmp_path).edition.id == new.edition_id


def _mount_tmpfs(path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_directory_turned_read_only_mid_update(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path
) -> None:
    """A real read-only remount (tmpfs) while the update waits for the API."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if not _mount_tmpfs(mount):
        pytest.skip("cannot mount a tmpfs here")
    try:
        previous = synthetic_edition(2023)
        before = installed(server, mount, previous)
        new = synthetic_edition(2024, seed=3)
        api_body = json.dumps({"resources": [
            resource(server.publish(new.dep_name, new.dep_bytes), new.dep_bytes)]}).encode()

        def slow_api(h: BaseHTTPRequestHandler) -> None:
            time.sleep(1.5)
            h.send_response(200)
            h.send_header("Content-Length", str(len(api_body)))
            h.end_headers()
            h.wfile.write(api_body)

        scripted.routes["/api/"] = slow_api
        proc = subprocess.Popen(
            cli("data", "update", "--data-dir", str(mount), "--api-url",
                f"{scripted.base}/api/"),
            env=child_env(OASIS_UPDATE_ALLOW_HOSTS="127.0.0.1"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: '"running"' in (mount / STATE_NAME).read_text())
        remount = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True,
                                 text=True)
        _, err = proc.communicate(timeout=60)
        assert remount.returncode == 0, remount.stderr
        line = one_error_line(err)
        assert proc.returncode == download.EXIT_CANNOT_WRITE, err
        assert "Read-only file system" in line and str(mount) in line
        assert "remount it read-write" in line
        assert snapshot(mount) == before
        assert load_dataset(mount).edition.id == previous.edition_id
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.parametrize("suffix", ["\n", "\r", "\x00", " ", "\t", "%0A"])
def test_names_must_match_whole(suffix: str) -> None:
    assert parse_file_name(DEP_2025) is not None
    assert parse_file_name(DEP_2025 + suffix) is None
    assert parse_file_name(suffix + DEP_2025) is None


def test_odd_names_are_neither_installed_nor_read_from_disk(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    new = synthetic_edition(2024)
    url = server.publish(new.dep_name + "\n", new.dep_bytes)
    entry = resource(url.replace("\n", "%0A"), new.dep_bytes, title=new.dep_name + "\n")
    api = server.set_api([*decoys(server), entry])
    with pytest.raises(DownloadError, match="lists no departmental CSV file"):
        update(data_dir=tmp_path, api_url=api, timeout=5, fallback_urls=[])
    # On disk and in a manifest: the same full-match rule.
    (tmp_path / (new.dep_name + "\n")).write_bytes(new.dep_bytes)
    assert discover_editions(tmp_path) == []
    manifest = manifest_from_dict({"edition": "x", "files": [
        {"name": new.dep_name + "\n", "sha256": "0", "size": 1}]})
    assert manifest.files == ()


# -- issues 15/16: Ctrl-C, kill -9, two updates at once --------------------------------------------


def _slow_offer(server: FakeDataGouv, scripted: Scripted, new: SyntheticEdition) -> str:
    scripted.routes["/dep.csv"] = drip(new.dep_bytes, every=0.2)
    return server.set_api([resource(f"{scripted.base}/dep.csv", new.dep_bytes,
                                    title=new.dep_name)])


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _wait_for_temp(directory: Path, timeout: float = 20) -> None:
    """Until the update is downloading: its state says "running" and a temp file other than the
    state's own (written atomically through a temp file too) is there."""
    end = time.monotonic() + timeout
    state_temp = f"{TEMP_PREFIX}{STATE_NAME}."
    while time.monotonic() < end:
        state = read_state(directory)
        if state is not None and state.state == "running" and any(
                p.name.startswith(TEMP_PREFIX) and not p.name.startswith(state_temp)
                for p in directory.iterdir()):
            return
        time.sleep(0.05)
    raise AssertionError("the update never started its download")


def test_ctrl_c_says_so_and_keeps_the_last_edition(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path
) -> None:
    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    api = _slow_offer(server, scripted, synthetic_edition(2024))
    proc = subprocess.Popen(cli("data", "update", "--data-dir", str(tmp_path), "--api-url", api),
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_temp(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    line = one_error_line(err)
    assert "interrupted" in line and "last good edition is kept" in line
    assert snapshot(tmp_path) == before
    assert_no_temp_files(tmp_path)
    status = update_status(tmp_path)
    assert status is not None and "interrupted (Ctrl-C)" in status


def test_kill_during_download_then_info_server_and_update(
    server: FakeDataGouv, scripted: Scripted, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from oasis_mcp.serve import _describe_data_dir

    previous = synthetic_edition(2023)
    before = installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    api = _slow_offer(server, scripted, new)
    proc = subprocess.Popen(cli("data", "update", "--data-dir", str(tmp_path), "--api-url", api),
                            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_temp(tmp_path)
    proc.kill()
    proc.wait(timeout=10)

    status = update_status(tmp_path)
    assert status is not None and "was interrupted before it finished" in status
    capsys.readouterr()
    assert main(["data", "info", "--data-dir", str(tmp_path)]) == 0
    info = capsys.readouterr()
    assert "was interrupted" in info.err and previous.edition_id in info.out
    assert load_dataset(tmp_path).edition.id == previous.edition_id  # what the server serves
    with caplog.at_level("WARNING"):
        _describe_data_dir(str(tmp_path))  # the server's start-up line about its data
    assert "was interrupted before it finished" in caplog.text
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(".oasis-tmp-")} \
        == before

    # The next update is not blocked by a stale lock and cleans the temp file.
    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes})
    result = update(data_dir=tmp_path, api_url=api, timeout=5, lock_timeout=1)
    assert result.status == "installed" and result.edition == new.edition_id
    assert_no_temp_files(tmp_path)
    assert update_status(tmp_path) is None


_KILL_ON_SECOND_RENAME = """
import os, sys
real = os.replace
count = [0]
def replace(src, dst):
    real(src, dst)
    if str(dst).endswith('.csv'):
        count[0] += 1
        if count[0] == 1:
            os.kill(os.getpid(), 9)
os.replace = replace
from oasis_mcp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_during_install_then_info_server_and_update(
    server: FakeDataGouv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = synthetic_edition(2023)
    installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes})
    done = subprocess.run([PYTHON, "-c", _KILL_ON_SECOND_RENAME, "data", "update", "--data-dir",
                           str(tmp_path), "--api-url", api], env=child_env(), timeout=60,
                          capture_output=True)
    assert done.returncode == -signal.SIGKILL
    # Killed with the new regional file in place, its departmental twin not yet: the half
    # edition is never read, the previous one is served.
    assert (tmp_path / new.reg_name).exists() and not (tmp_path / new.dep_name).exists()
    assert load_dataset(tmp_path).edition.id == previous.edition_id
    capsys.readouterr()
    assert main(["data", "info", "--data-dir", str(tmp_path)]) == 0
    assert "was interrupted" in capsys.readouterr().err

    result = update(data_dir=tmp_path, api_url=api, timeout=5, lock_timeout=1)
    assert result.edition == new.edition_id
    assert load_dataset(tmp_path).edition.id == new.edition_id
    manifest = read_manifest(tmp_path)
    assert manifest is not None and {f.name for f in manifest.files} == {new.dep_name,
                                                                         new.reg_name}
    assert update_status(tmp_path) is None
    assert_no_temp_files(tmp_path)


def test_two_updates_at_once_end_with_one_whole_edition(
    server: FakeDataGouv, tmp_path: Path
) -> None:
    previous = synthetic_edition(2023)
    installed(server, tmp_path, previous)
    new = synthetic_edition(2024, seed=3)
    api = offer(server, {new.dep_name: new.dep_bytes, new.reg_name: new.reg_bytes}, delay=1.0)
    procs = [subprocess.Popen(cli("data", "update", "--data-dir", str(tmp_path), "--api-url",
                                  api, "--json"), env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    statuses = sorted(json.loads(out)["status"] for (out, _), p in zip(results, procs,
                                                                      strict=True)
                      if p.returncode == 0)
    assert codes == [0, 0], results
    assert statuses == ["installed", "up-to-date"]
    waited = [err for _, err in results if "waiting up to" in err]
    assert len(waited) == 1 and "another `oasis-mcp data update` is running" in waited[0]
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.edition == new.edition_id
    assert load_dataset(tmp_path).edition.id == new.edition_id
    assert_no_temp_files(tmp_path)
    assert (tmp_path / MANIFEST_NAME).is_file()


def test_lock_held_too_long_is_refused_clearly(server: FakeDataGouv, tmp_path: Path) -> None:
    installed(server, tmp_path, synthetic_edition(2023))
    with open(tmp_path / LOCK_NAME, "rb") as handle:
        assert download._try_lock(handle)
        with pytest.raises(DownloadError, match="waited 0 s") as info:
            update(data_dir=tmp_path, api_url=server.api_url, timeout=5, lock_timeout=0.2)
        download._unlock(handle)
    assert info.value.exit_code == download.EXIT_TRY_LATER


def test_progress_line_on_a_terminal_only(
    scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from oasis_mcp.data.transfer import Deadline, Limits, stream

    scripted.routes["/f"] = drip(b"x" * 12, every=0.1)
    got = bytearray()
    with httpx.Client() as client:
        for progress in (True, None):  # None: only when stderr is a terminal (not under pytest)
            got.clear()
            size = stream(client, f"{scripted.base}/f", got.extend, what="f.csv", max_bytes=100,
                          limits=Limits(Deadline.start(30), 0, 30, 5, progress))
            assert size == 12 and bytes(got) == b"x" * 12
            err = capsys.readouterr().err
            if progress:
                assert "\r  f.csv: " in err and " of 12 B (" in err and "B/s, ETA " in err
            else:
                assert err == ""
