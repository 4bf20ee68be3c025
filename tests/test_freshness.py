"""A server that stays fresh without a restart (issue 15) and reads older editions on request
(issue 14), in process: editions installed underneath a server the way ``data update`` does,
the switch between requests, the last good edition kept when a new one is broken, leftovers of
a killed update never read, the ``edition`` argument, ``/health``, and the background refresh.

Small synthetic editions (tests/conftest.py) keep this fast; the acceptance test over HTTP with
the real files is tests/test_freshness_http.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import synthetic_artifacts
from conftest import SyntheticEdition, synthetic_edition
from edition_install import install_like_data_update, move_into_place, write_temp
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from oasis_mcp import serve
from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.data.download import LOCK_NAME
from oasis_mcp.data.manifest import MANIFEST_NAME
from oasis_mcp.data_state import DataState, parse_duration
from oasis_mcp.server import create_server

pytestmark = pytest.mark.timeout(120)

A = synthetic_edition(data_year=2023, seed=1)
B = synthetic_edition(data_year=2024, seed=2)
C = synthetic_edition(data_year=2025, seed=3)


def files_of(edition: SyntheticEdition) -> dict[str, bytes]:
    return {edition.dep_name: edition.dep_bytes, edition.reg_name: edition.reg_bytes}


def broken(edition: SyntheticEdition) -> dict[str, bytes]:
    """The edition's names with a departmental file cut in the middle of a row."""
    dep = edition.dep_bytes
    return {edition.dep_name: dep[: len(dep) // 2]}


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error(result: CallToolResult) -> str:
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


def counts(edition: SyntheticEdition, area: str = "29",
           indicator: str = "Cambriolages de logement") -> list[int]:
    """The yearly counts of one department in an edition's own rows (the expected answer)."""
    rows = sorted((r for r in edition.rows if r.area == area and r.indicator == indicator),
                  key=lambda r: r.year)
    return [r.count for r in rows]


HISTORY = {"area": "29", "indicator": "burglary", "level": "department"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    install_like_data_update(directory, files_of(A))
    return directory


@pytest.fixture
def server(data_dir: Path) -> Any:
    return create_server(data_dir=data_dir, artifacts_dir=data_dir / "no-artifacts")


def call(server: Any, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    async def run() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(name, args or {})

    return anyio.run(run)


def history_counts(answer: dict[str, Any]) -> list[int]:
    return [p["count"] for p in answer["points"]]


# -- switching ----------------------------------------------------------------------------------


def test_a_newly_installed_edition_answers_the_next_calls(server: Any, data_dir: Path) -> None:
    first = ok(call(server, "get_history", HISTORY))
    assert first["edition"] == A.edition_id and history_counts(first) == counts(A)
    assert server.state.health()["data"]["edition"] == A.edition_id

    install_like_data_update(data_dir, files_of(B), remove_previous=True)
    server.state.data.check_now(wait=True)  # what the next call after a second does

    after = ok(call(server, "get_history", HISTORY))
    assert after["edition"] == B.edition_id and history_counts(after) == counts(B)
    assert after["warnings"] == []
    listed = ok(call(server, "list_indicators"))
    assert listed["edition"] == B.edition_id and listed["last_year"] == 2024
    assert listed["editions_available"] == [B.edition_id]  # A's files were removed
    health = server.state.health()["data"]
    assert health["edition"] == B.edition_id and health["chosen_by"] == "manifest"
    assert health["warning"] is None


def test_the_switch_needs_no_explicit_check(data_dir: Path) -> None:
    """Through the ordinary calls only: within the check interval plus a load."""
    server = create_server(data_dir=data_dir, artifacts_dir=data_dir / "none")
    server.state.data.check_interval = 0.05
    assert ok(call(server, "get_history", HISTORY))["edition"] == A.edition_id
    install_like_data_update(data_dir, files_of(B))
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        seen.append(ok(call(server, "get_history", HISTORY))["edition"])
        if seen[-1] == B.edition_id:
            break
        time.sleep(0.02)
    assert seen[-1] == B.edition_id, seen
    assert set(seen) <= {A.edition_id, B.edition_id}


def test_every_answer_reads_one_edition_while_editions_swap(data_dir: Path) -> None:
    """Threads read snapshots while editions are installed over and over: each answer's values
    are those of the edition it names, and no call fails."""
    from oasis_mcp import query

    state = DataState(data_dir, check_interval=0.0)
    expected = {A.edition_id: counts(A), B.edition_id: counts(B)}
    failures: list[BaseException] = []
    seen: dict[str, int] = {}
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                snap = state.snapshot()
                answer = query.get_history(snap.index, "29", "burglary", "department")
                assert [p.count for p in answer.points] == expected[answer.edition]
                assert answer.edition == snap.id
                seen[answer.edition] = seen.get(answer.edition, 0) + 1
            except BaseException as exc:  # reported below
                failures.append(exc)
                return

    assert state.snapshot().id == A.edition_id
    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for edition in (B, A, B, A, B):
            install_like_data_update(data_dir, files_of(edition))
            state.check_now(wait=True)
            assert state.current is not None and state.current.id == edition.edition_id
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not failures, failures[0]
    assert seen.get(A.edition_id) and seen.get(B.edition_id), seen


def test_a_request_keeps_its_snapshot_when_the_edition_changes_mid_call(
    server: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oasis_mcp import query

    ok(call(server, "list_indicators"))
    original = query.get_history

    def swap_then_answer(idx: Any, *args: Any) -> Any:
        install_like_data_update(data_dir, files_of(B), remove_previous=True)
        server.state.data.check_now(wait=True)
        assert server.state.data.current.id == B.edition_id  # swapped under the request
        return original(idx, *args)

    monkeypatch.setattr(query, "get_history", swap_then_answer)
    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == A.edition_id and history_counts(answer) == counts(A)
    monkeypatch.setattr(query, "get_history", original)
    assert ok(call(server, "get_history", HISTORY))["edition"] == B.edition_id


def test_no_answer_cites_a_file_that_is_gone(server: Any, data_dir: Path) -> None:
    async def dataset_document() -> dict[str, Any]:
        async with Client(server) as client:
            result = await client.read_resource("oasis://dataset")
            return json.loads(result.contents[0].text)  # type: ignore[union-attr]

    before = anyio.run(dataset_document)
    assert before["edition"] == A.edition_id
    install_like_data_update(data_dir, files_of(B), remove_previous=True)
    # No explicit check: the provenance document checks the directory itself.
    after = anyio.run(dataset_document)
    assert after["edition"] == B.edition_id
    assert {f["name"] for f in after["files"]} == set(files_of(B))
    assert all((data_dir / f["name"]).is_file() for f in after["files"])


# -- a broken new edition -------------------------------------------------------------------------


def test_a_new_edition_that_fails_to_load_keeps_the_last_good_one(
    server: Any, data_dir: Path
) -> None:
    assert ok(call(server, "get_history", HISTORY))["edition"] == A.edition_id
    install_like_data_update(data_dir, broken(B))
    server.state.data.check_now(wait=True)

    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == A.edition_id and history_counts(answer) == counts(A)
    warning = " ".join(answer["warnings"])
    assert B.edition_id in warning and "could not be loaded" in warning
    assert A.edition_id in warning  # which edition answers instead
    for tool, args in (("list_regions", {}), ("list_indicators", {}),
                       ("compare_regions", {"indicator": "burglary"})):
        assert any(B.edition_id in w for w in ok(call(server, tool, args))["warnings"]), tool
    health = server.state.health()["data"]
    assert health["edition"] == A.edition_id and B.edition_id in health["warning"]

    # The same broken files are not read again on every check.
    calls = []
    original = server.state.data._load
    server.state.data._load = lambda *a: calls.append(a) or original(*a)
    server.state.data._signature = None
    server.state.data.check_now(wait=True)
    assert calls == []

    # A good edition installed next replaces both, and the warning goes.
    install_like_data_update(data_dir, files_of(C))
    server.state.data.check_now(wait=True)
    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == C.edition_id and answer["warnings"] == []
    assert server.state.health()["data"]["warning"] is None


def test_first_load_falls_back_to_the_newest_edition_that_loads(tmp_path: Path) -> None:
    directory = tmp_path / "hand"
    directory.mkdir()
    for name, data in {**files_of(A), **broken(B)}.items():
        (directory / name).write_bytes(data)
    old = time.time() - 60
    for path in directory.iterdir():
        os.utime(path, (old, old))
    server = create_server(data_dir=directory, artifacts_dir=directory / "none")
    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == A.edition_id
    assert any(B.edition_id in w and "could not be loaded" in w for w in answer["warnings"])


def test_no_edition_loads_gives_the_file_error(tmp_path: Path) -> None:
    directory = tmp_path / "bad"
    directory.mkdir()
    for name, data in broken(B).items():
        (directory / name).write_bytes(data)
    server = create_server(data_dir=directory, artifacts_dir=directory / "none")
    message = error(call(server, "get_history", HISTORY))
    assert B.dep_name in message
    # Fixed underneath the server: the next call loads it (the failure was not cached).
    for name, data in files_of(B).items():
        (directory / name).write_bytes(data)
    assert ok(call(server, "get_history", HISTORY))["edition"] == B.edition_id


# -- leftovers of a killed update ---------------------------------------------------------------


def test_leftovers_of_a_killed_update_are_never_read(server: Any, data_dir: Path) -> None:
    """kill -9 during the download (half-written temp files, a lock file) and during the install
    (files renamed into place, manifest not yet written): the last good edition answers."""
    assert ok(call(server, "get_history", HISTORY))["edition"] == A.edition_id
    # During the download: temp files cut short, of a newer edition, and the lock file.
    write_temp(data_dir, C.dep_bytes[: len(C.dep_bytes) // 3])
    (data_dir / f".oasis-tmp-{C.dep_name}.x1.part").write_bytes(C.dep_bytes[:1000])
    (data_dir / LOCK_NAME).write_bytes(b"")
    server.state.data.check_now(wait=True)
    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == A.edition_id and answer["warnings"] == []

    # During the install: B's files are in place, the manifest still names A.
    move_into_place(data_dir, files_of(B))
    server.state.data.check_now(wait=True)
    answer = ok(call(server, "get_history", HISTORY))
    assert answer["edition"] == A.edition_id and answer["warnings"] == []
    assert json.loads((data_dir / MANIFEST_NAME).read_text())["edition"] == A.edition_id
    # A fresh server on that directory (restarted after the crash) serves A as well.
    fresh = create_server(data_dir=data_dir, artifacts_dir=data_dir / "none")
    assert ok(call(fresh, "get_history", HISTORY))["edition"] == A.edition_id

    # The next update completes: the manifest names B, and B answers.
    install_like_data_update(data_dir, files_of(B))
    server.state.data.check_now(wait=True)
    assert ok(call(server, "get_history", HISTORY))["edition"] == B.edition_id
    health = server.state.health()["data"]
    assert health["edition"] == B.edition_id and health["warning"] is None


def test_hand_copied_files_wait_until_written(tmp_path: Path) -> None:
    """Without a manifest, the newest files are read once they have not changed for ``settle``
    seconds (a copy may still be running), then served."""
    directory = tmp_path / "hand"
    directory.mkdir()
    for name, data in files_of(A).items():
        (directory / name).write_bytes(data)
    state = DataState(directory, check_interval=0.0, settle=1.0)
    assert state.snapshot().id == A.edition_id
    path = directory / B.dep_name
    path.write_bytes(B.dep_bytes[: len(B.dep_bytes) // 2])  # a copy under way
    state.check_now(wait=True)
    assert state.snapshot().id == A.edition_id
    assert state.health()["warning"] is None  # not read at all yet
    path.write_bytes(B.dep_bytes)  # the copy ends
    state.check_now(wait=True)
    assert state.snapshot().id == A.edition_id
    time.sleep(1.1)
    state.check_now(wait=True)
    assert state.snapshot().id == B.edition_id
    assert state.current is not None and state.current.chosen_by == "newest"


def test_a_served_file_rewritten_in_place_is_reloaded(tmp_path: Path) -> None:
    """A revision published under the same name, copied over the served file (the directory
    itself does not change)."""
    directory = tmp_path / "hand"
    directory.mkdir()
    (directory / A.dep_name).write_bytes(A.dep_bytes)
    revised = synthetic_edition(data_year=2023, seed=9)
    assert revised.dep_name == A.dep_name and counts(revised) != counts(A)
    state = DataState(directory, check_interval=0.0, settle=0.2)
    assert state.snapshot().id == A.edition_id
    (directory / A.dep_name).write_bytes(revised.dep_bytes)
    time.sleep(0.3)
    state.check_now(wait=True)
    from oasis_mcp import query

    answer = query.get_history(state.snapshot().index, "29", "burglary", "department")
    assert [p.count for p in answer.points] == counts(revised)


def test_the_manifest_decides_over_newer_files(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    install_like_data_update(directory, files_of(A))
    for name, data in files_of(B).items():
        (directory / name).write_bytes(data)
    state = DataState(directory)
    assert state.snapshot().id == A.edition_id
    assert load_dataset(directory).edition.id == A.edition_id  # `data info` agrees
    (directory / MANIFEST_NAME).unlink()
    assert load_dataset(directory).edition.id == B.edition_id


# -- older editions on request ------------------------------------------------------------------


@pytest.fixture
def two_editions(tmp_path: Path) -> tuple[Any, Path]:
    """A server over A and B (B served), with artifacts trained on B."""
    directory = tmp_path / "data"
    install_like_data_update(directory, files_of(A))
    install_like_data_update(directory, files_of(B))
    art = synthetic_artifacts.write_synthetic_artifacts(tmp_path / "art", load_dataset(directory))
    return create_server(data_dir=directory, artifacts_dir=art), directory


@pytest.mark.parametrize("asked", [A.edition_id, "2023", 2023])
def test_get_history_reads_an_older_edition_and_says_so(
    two_editions: tuple[Any, Path], asked: Any
) -> None:
    server, _ = two_editions
    answer = ok(call(server, "get_history", {**HISTORY, "edition": asked}))
    assert answer["edition"] == A.edition_id and history_counts(answer) == counts(A)
    assert any("as requested" in w and B.edition_id in w for w in answer["warnings"])
    default = ok(call(server, "get_history", HISTORY))
    assert default["edition"] == B.edition_id and history_counts(default) == counts(B)
    assert default["warnings"] == []
    for alias in ("latest", B.edition_id, "2024"):
        again = ok(call(server, "get_history", {**HISTORY, "edition": alias}))
        assert again["edition"] == B.edition_id and again["warnings"] == []


def test_other_tools_read_an_older_edition(two_editions: tuple[Any, Path]) -> None:
    server, _ = two_editions
    regions = ok(call(server, "list_regions", {"edition": "2023"}))
    assert regions["edition"] == A.edition_id and regions["warnings"]
    catalog = ok(call(server, "list_indicators", {"edition": "2023"}))
    assert catalog["edition"] == A.edition_id and catalog["last_year"] == 2023
    assert catalog["editions_available"] == [B.edition_id, A.edition_id]
    ranking = ok(call(server, "compare_regions",
                      {"indicator": "burglary", "level": "department", "year": 2020,
                       "measure": "count", "edition": "2023"}))
    assert ranking["edition"] == A.edition_id and not ranking["is_forecast"]
    by_code = {r["code"]: r["value"] for r in ranking["ranking"]}
    expected = next(r.count for r in A.rows if r.area == "29" and r.year == 2020
                    and r.indicator == "Cambriolages de logement")
    assert by_code["29"] == expected
    # The default last year is the edition's own.
    assert ok(call(server, "compare_regions",
                   {"indicator": "burglary", "edition": "2023"}))["year"] == 2023


def test_forecasts_come_from_the_training_edition_only(two_editions: tuple[Any, Path]) -> None:
    server, _ = two_editions
    message = error(call(server, "forecast", {**HISTORY, "edition": "2023"}))
    assert "trained model" in message and B.edition_id in message and A.edition_id in message
    assert "get_history" in message
    answer = ok(call(server, "forecast", {**HISTORY, "horizon": 2, "edition": "2024"}))
    assert answer["training_edition"] == answer["data_edition"] == B.edition_id
    message = error(call(server, "compare_regions",
                         {"indicator": "burglary", "year": 2025, "edition": "2023"}))
    assert "trained model" in message and B.edition_id in message
    ranking = ok(call(server, "compare_regions",
                      {"indicator": "burglary", "year": 2025, "edition": "2024"}))
    assert ranking["is_forecast"]


def test_unknown_edition_lists_the_installed_ones(two_editions: tuple[Any, Path]) -> None:
    server, _ = two_editions
    message = error(call(server, "get_history", {**HISTORY, "edition": "2019"}))
    assert "No edition '2019'" in message
    assert A.edition_id in message and B.edition_id in message
    message = error(call(server, "list_regions", {"edition": "x" * 81}))
    assert "edition is too long" in message


def test_an_older_edition_removed_is_no_longer_served(two_editions: tuple[Any, Path]) -> None:
    server, directory = two_editions
    assert ok(call(server, "get_history", {**HISTORY, "edition": "2023"}))["edition"] \
        == A.edition_id
    for name in files_of(A):
        (directory / name).unlink()
    server.state.data.check_now(wait=True)
    assert "No edition" in error(call(server, "get_history", {**HISTORY, "edition": "2023"}))
    assert server.state.health()["data"]["older_editions_loaded"] == []


# -- /health ------------------------------------------------------------------------------------


def test_health_names_the_edition_without_loading_it(server: Any, data_dir: Path) -> None:
    health = server.state.health()["data"]
    assert health["loaded"] is False and health["edition"] is None
    ok(call(server, "list_regions"))
    health = server.state.health()["data"]
    assert health["loaded"] is True and health["edition"] == A.edition_id
    assert health["edition_label"].startswith("2023 data")
    assert health["chosen_by"] == "manifest" and health["loaded_at"]


def test_health_alone_picks_up_a_new_edition(server: Any, data_dir: Path) -> None:
    """A load balancer's /health polls are enough to switch an idle server."""
    ok(call(server, "list_regions"))
    install_like_data_update(data_dir, files_of(B))
    server.state.data.check_interval = 0.0
    deadline = time.monotonic() + 30
    while server.state.health()["data"]["edition"] != B.edition_id:
        assert time.monotonic() < deadline
        time.sleep(0.02)


# -- background refresh ------------------------------------------------------------------------


def test_background_update_switches_and_keeps_the_last_good_on_failure(data_dir: Path) -> None:
    from oasis_mcp.errors import DownloadError

    state = DataState(data_dir)
    assert state.snapshot().id == A.edition_id
    plan: list[Any] = [DownloadError("the API timed out"), files_of(B)]
    done = threading.Event()

    def fake_update() -> Any:
        step = plan.pop(0)
        if not plan:
            done.set()
        if isinstance(step, Exception):
            raise step
        install_like_data_update(data_dir, step)
        return None

    state.start_auto_update(0.2, run_update=fake_update)
    try:
        assert done.wait(30)
        deadline = time.monotonic() + 30
        while state.current is None or state.current.id != B.edition_id:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        state.stop_auto_update()
    health = state.health()
    assert health["edition"] == B.edition_id
    assert health["auto_update"]["every_seconds"] == 0.2  # type: ignore[index]


def test_background_update_runs_at_once_without_data(tmp_path: Path) -> None:
    directory = tmp_path / "empty"
    state = DataState(directory)
    ran = threading.Event()

    def fake_update() -> None:
        install_like_data_update(directory, files_of(A))
        ran.set()

    state.start_auto_update(3600, run_update=fake_update)  # not an hour from now: at once
    try:
        assert ran.wait(30)
        deadline = time.monotonic() + 30
        while state.current is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        state.stop_auto_update()
    assert state.current.id == A.edition_id


def test_a_failed_background_update_is_reported(data_dir: Path) -> None:
    from oasis_mcp.errors import DownloadError

    state = DataState(data_dir)
    state.snapshot()

    def failing() -> None:
        raise DownloadError("Download of https://x failed: HTTP 500")

    status = state.update_now(failing)
    assert status["ok"] is False and "HTTP 500" in status["error"]
    assert state.snapshot().id == A.edition_id
    state._update_every = 3600.0
    assert "HTTP 500" in state.health()["auto_update"]["last"]["error"]  # type: ignore[index]


def test_real_update_is_what_the_background_refresh_runs(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a fake, the refresh calls data update itself (here against a closed port: it
    fails cleanly and the last good edition stays)."""
    state = DataState(data_dir)
    state.snapshot()
    status = state.update_now()
    assert status["ok"] is False and "127.0.0.1" in status["error"]
    assert state.snapshot().id == A.edition_id


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["s", "m", "h", "d", ""]))
def test_durations(amount: int, unit: str) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}[unit]
    assert parse_duration(f"{amount}{unit}") == amount * scale


def test_duration_forms_and_errors() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration(" 24H ") == 86400
    for bad in ("", "h", "24 hours", "-5m", "0", "0.5s", "1w"):
        with pytest.raises(ValueError, match=r"duration|too short"):
            parse_duration(bad)


def test_refresh_every_is_http_only(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert serve.run(transport="stdio", refresh_every="24h") == serve.EXIT_USAGE
    assert "--transport http only" in capsys.readouterr().err
    assert serve.run(transport="http", port=0, refresh_every="soon") == serve.EXIT_USAGE
    assert "--refresh-every: 'soon' is not a duration" in capsys.readouterr().err
    monkeypatch.setenv("OASIS_REFRESH_EVERY", "12h")
    assert serve._refresh_seconds("stdio", None) is None  # the env var is ignored on stdio
    assert serve._refresh_seconds("http", None) == 12 * 3600
    monkeypatch.setenv("OASIS_REFRESH_EVERY", "off")
    assert serve._refresh_seconds("http", None) is None


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    yield
    for thread in threading.enumerate():
        if thread.name == "oasis-data-reload":
            thread.join(10)
