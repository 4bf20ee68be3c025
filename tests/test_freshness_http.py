"""Acceptance (issue 15): ``oasis-mcp serve --transport http`` on 127.0.0.1 keeps answering while a
new edition is installed underneath it, and the next answers come from the new edition, with no
failed call; ``/health`` and the answers name the edition. Then the same with the server updating
itself (``--refresh-every``, the real ``data update`` code against a fake data.gouv.fr on
127.0.0.1).

The real files are used: the 2024 edition first, then the 2025 one, copied into a temp data
directory with a manifest the way ``data update`` writes it (tests/edition_install.py). No timed
assertions: the deadlines only keep a broken server from hanging the suite; the figures are
printed (run with ``-s`` to read them).
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import DEP_2024, DEP_2025, REG_2024, regional_bytes_from_departmental
from edition_install import install_like_data_update, write_temp
from mcp import Client

pytestmark = pytest.mark.timeout(240)

ED_2024 = "2024-geographie2024-produit-le2025-01-26"
ED_2025 = "2025-geographie2025-produit-le2026-01-22"
STEP_TIMEOUT = 60.0  # seconds: hang guards only
_LISTENING = re.compile(r"streamable HTTP at (http://127\.0\.0\.1:(\d+))/mcp")
HISTORY = {"area": "Bretagne", "indicator": "burglary"}


@dataclass
class Running:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/health", timeout=10)
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]


@contextlib.contextmanager
def serve_http(tmp: Path, data_dir: Path, *args: str, **env: str) -> Iterator[Running]:
    log = tmp / "server.log"
    child = {k: v for k, v in os.environ.items() if not k.startswith("OASIS_MCP_")}
    child.update(OASIS_DATA_DIR=str(data_dir), **env)
    with log.open("wb") as err:
        proc = subprocess.Popen(
            # --rate-limit 0: the calls come back to back from one address, faster than the
            # per-address default (50/s) on a quiet machine; the limit has tests of its own.
            [sys.executable, "-m", "oasis_mcp.cli", "serve", "--transport", "http", "--port", "0",
             "--rate-limit", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=child,
        )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not (match := _LISTENING.search(log.read_text(errors="replace"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Running(match.group(1), proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def real_files(real_data_dir: Path) -> dict[str, dict[str, bytes]]:
    """The real 2024 edition (departmental and regional files) and the real 2025 departmental
    file (its regional file is not published here: regions are aggregated)."""
    return {
        ED_2024: {n: (real_data_dir / n).read_bytes() for n in (DEP_2024, REG_2024)},
        ED_2025: {DEP_2025: (real_data_dir / DEP_2025).read_bytes()},
    }


@dataclass
class Stream:
    """What a steady stream of calls saw: per call (client, edition or None on error, latency,
    monotonic time at its end)."""

    calls: list[tuple[int, str | None, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, client: int, edition: str | None, took: float) -> None:
        self.calls.append((client, edition, took, time.monotonic()))

    def editions(self, client: int) -> list[str | None]:
        return [e for c, e, _, _ in self.calls if c == client]

    def switched(self, clients: int, after: int) -> bool:
        return all(self.editions(c)[-after:] == [ED_2025] * after for c in range(clients))


async def steady_stream(url: str, clients: int, stream: Stream, install: Any,
                        install_after: int, after_switch: int) -> None:
    """``clients`` sessions call get_history back to back; after ``install_after`` calls in all,
    ``install()`` runs (in a thread); the stream stops once every client has had
    ``after_switch`` answers in a row from the new edition."""
    installed = anyio.Event()

    async def one(k: int) -> None:
        async with Client(url) as client:
            while not (installed.is_set() and stream.switched(clients, after_switch)):
                start = time.perf_counter()
                try:
                    result = await client.call_tool("get_history", HISTORY)
                except Exception as exc:  # a transport failure is a failed call too
                    stream.errors.append(f"{type(exc).__name__}: {exc}")
                    stream.add(k, None, time.perf_counter() - start)
                    continue
                took = time.perf_counter() - start
                if result.is_error or not result.structured_content:
                    stream.errors.append(str(result.content))
                    stream.add(k, None, took)
                    continue
                answer = result.structured_content
                edition = answer["edition"]
                last_year = answer["points"][-1]["year"]
                assert last_year == int(edition[:4]), (edition, last_year)  # one edition
                stream.add(k, edition, took)

    async def installer() -> None:
        while len(stream.calls) < install_after:
            await anyio.sleep(0.01)
        await anyio.to_thread.run_sync(install)
        installed.set()

    with anyio.fail_after(STEP_TIMEOUT * 2):
        async with anyio.create_task_group() as tg:
            for k in range(clients):
                tg.start_soon(one, k)
            tg.start_soon(installer)


def summary(stream: Stream, installed: float) -> str:
    """One line of figures: calls, failures, editions, how long after the install the first
    new answer came (its end), latency percentiles."""
    latencies = sorted(t for _, _, t, _ in stream.calls)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    n24 = sum(1 for _, e, _, _ in stream.calls if e == ED_2024)
    n25 = sum(1 for _, e, _, _ in stream.calls if e == ED_2025)
    first = min(end for _, e, _, end in stream.calls if e == ED_2025)
    return (f"{len(stream.calls)} calls, {len(stream.errors)} failed; {n24} from 2024, {n25} "
            f"from 2025; first 2025 answer {first - installed:.2f} s after the manifest was "
            f"written; p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def test_new_edition_installed_under_a_running_http_server(
    tmp_path: Path, real_files: dict[str, dict[str, bytes]]
) -> None:
    data_dir = tmp_path / "data"
    install_like_data_update(data_dir, real_files[ED_2024])
    with serve_http(tmp_path, data_dir) as server:
        before = server.health()
        assert before["data"]["loaded"] is False  # /health does not load the data
        url = f"{server.base}/mcp"
        installed_at: list[float] = []

        def install() -> None:
            # A killed download's leftovers first: a temp file cut short, never to be read.
            dep = real_files[ED_2025][DEP_2025]
            write_temp(data_dir, dep[: len(dep) // 2])
            time.sleep(0.3)
            assert server.health()["data"]["edition"] == ED_2024
            install_like_data_update(data_dir, real_files[ED_2025])
            installed_at.append(time.monotonic())

        stream = Stream()
        anyio.run(steady_stream, url, 3, stream, install, 60, 10)
        first_new = next(i for i, (_, e, _, _) in enumerate(stream.calls) if e == ED_2025)
        print("\nswap under load:", summary(stream, installed_at[0]))

        assert stream.errors == []
        for k in range(3):  # each session: the old edition, then the new one, never back
            seen = stream.editions(k)
            flips = [i for i in range(1, len(seen)) if seen[i] != seen[i - 1]]
            assert len(flips) == 1 and seen[0] == ED_2024 and seen[-1] == ED_2025, seen
        assert first_new > 0
        health = server.health()["data"]
        assert health["edition"] == ED_2025 and health["chosen_by"] == "manifest"
        assert health["warning"] is None and health["reloading"] is False

        # The previous edition stays readable on request, and says so.
        async def older() -> dict[str, Any]:
            async with Client(url) as client:
                result = await client.call_tool("get_history", {**HISTORY, "edition": "2024"})
                assert not result.is_error, result.content
                return result.structured_content  # type: ignore[return-value]

        answer = anyio.run(older)
        assert answer["edition"] == ED_2024 and answer["points"][-1]["year"] == 2024
        assert any("as requested" in w for w in answer["warnings"])
        assert ED_2024 in server.health()["data"]["older_editions_loaded"]


def test_refresh_every_updates_the_running_server(
    tmp_path: Path, real_files: dict[str, dict[str, bytes]]
) -> None:
    """``--refresh-every``: the server runs ``data update`` itself (against a fake data.gouv.fr
    on 127.0.0.1), switches to the new edition, and keeps it when the next update fails."""
    from test_download import FakeDataGouv, offer

    data_dir = tmp_path / "data"
    install_like_data_update(data_dir, real_files[ED_2024])
    fake = FakeDataGouv()
    try:
        dep = real_files[ED_2025][DEP_2025]
        api = offer(fake, {DEP_2025: dep, DEP_2025.replace("-dep-", "-reg-"):
                           regional_bytes_from_departmental(dep)})
        env = {"OASIS_DATAGOUV_API": api, "OASIS_UPDATE_ALLOW_HOSTS": "127.0.0.1",
               "OASIS_DATAGOUV_FALLBACK_URLS": f"{fake.base}/none/{DEP_2025}"}
        with serve_http(tmp_path, data_dir, "--refresh-every", "2s", **env) as server:
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                health = server.health()["data"]
                last = (health.get("auto_update") or {}).get("last")
                if health["edition"] == ED_2025:
                    break
                assert time.monotonic() < deadline, (health, server.log.read_text())
                time.sleep(0.2)
            assert last is None or last["ok"], last
            assert health["auto_update"]["every_seconds"] == 2.0

            async def history() -> dict[str, Any]:
                async with Client(f"{server.base}/mcp") as client:
                    result = await client.call_tool("get_history", HISTORY)
                    assert not result.is_error, result.content
                    return result.structured_content  # type: ignore[return-value]

            assert anyio.run(history)["edition"] == ED_2025

            # data.gouv.fr breaks: the next updates fail, the edition stays, /health says why.
            fake.routes.clear()
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                health = server.health()["data"]
                last = health["auto_update"]["last"]
                if last is not None and not last["ok"]:
                    break
                assert time.monotonic() < deadline, health
                time.sleep(0.2)
            assert health["edition"] == ED_2025 and last["error"]
            assert anyio.run(history)["edition"] == ED_2025
    finally:
        fake.close()
