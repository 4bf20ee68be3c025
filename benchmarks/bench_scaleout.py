"""Scale-out benchmark: N replicas of ``oasis-mcp serve --transport http`` behind a real reverse
proxy from Debian (HAProxy or nginx), all on 127.0.0.1.

    python benchmarks/bench_scaleout.py                 # full run (several minutes)
    python benchmarks/bench_scaleout.py --quick         # smoke run

What it measures, side by side in one run (machines are noisy):

1. Load: ``--clients`` concurrent MCP SDK clients × ``--calls`` tool calls each, through the
   proxy, against 1 replica and then ``--replicas`` replicas, in stateless mode (round-robin,
   ``--stateless``) and in session mode (HAProxy, sticky on the ``Mcp-Session-Id`` response
   header; nginx's open-source edition cannot learn a session from a response header, so it is
   used for stateless mode only). Printed: errors (target 0), calls/s and the ratio N vs 1,
   p50/p99 latency and the p99 ratio. Each client has its own loopback address (127.0.0.x), as
   real clients do, since the server limits requests and sessions per client address.
2. Flood: one address opens ``--flood`` sessions as fast as it can (``initialize`` without ever
   using them) through the proxy in session mode while other clients, from other addresses,
   keep calling tools. Printed: how the flood was answered (200 / 429 / 503), the other clients'
   success rate (target 100 %), the replicas' open sessions and RSS after the flood.

On a machine with fewer cores than replicas + clients, the throughput ratio is bounded by the
CPU, not by the design: the report prints the core count next to the ratio.

The helpers (``Replicas``, ``Proxy``, ``run_load``) are also used by
``tests/test_transport_scaleout.py`` with a small load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SPAWN_TIMEOUT = 120.0
CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("get_history", {"area": "Bretagne", "indicator": "burglary"}),
    ("compare_regions", {"indicator": "burglary"}),
    ("list_regions", {"level": "department", "region": "Bretagne"}),
    ("get_history", {"area": "33", "indicator": "drug-trafficking", "level": "department"}),
    ("list_indicators", {}),
)


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oasis_mcp_command() -> list[str]:
    beside = Path(sys.executable).with_name("oasis-mcp")
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "oasis_mcp.cli"]


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n"
                               f"{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Replicas:
    """``count`` server processes on free ports of 127.0.0.1."""

    count: int
    workdir: Path
    stateless: bool
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __enter__(self) -> Replicas:
        env = {**os.environ, **self.env}
        env.pop("OASIS_MCP_TOKEN", None)
        try:
            for i in range(self.count):
                port = free_port()
                log = self.workdir / f"replica-{i}.log"
                args = [*oasis_mcp_command(), "serve", "--transport", "http", "--host",
                        "127.0.0.1", "--port", str(port), *self.extra_args]
                if self.stateless:
                    args.append("--stateless")
                with log.open("wb") as out:
                    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=out, env=env)
                self.ports.append(port)
                self.procs.append(proc)
            for port, proc, i in zip(self.ports, self.procs, range(self.count), strict=True):
                _wait_http(f"http://127.0.0.1:{port}/health", proc,
                           self.workdir / f"replica-{i}.log", SPAWN_TIMEOUT)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            _stop(proc)

    def health(self) -> list[dict[str, Any]]:
        import httpx

        return [httpx.get(f"http://127.0.0.1:{p}/health", timeout=10).json() for p in self.ports]

    def rss_mib(self) -> list[float | None]:
        out: list[float | None] = []
        for proc in self.procs:
            try:
                text = Path(f"/proc/{proc.pid}/status").read_text()
                kib = next(int(line.split()[1]) for line in text.splitlines()
                           if line.startswith("VmRSS:"))
                out.append(kib / 1024)
            except (OSError, StopIteration, ValueError):
                out.append(None)
        return out

    def tracebacks(self) -> int:
        return sum((self.workdir / f"replica-{i}.log").read_text(errors="replace")
                   .count("Traceback") for i in range(self.count))


def haproxy_config(listen: int, ports: Sequence[int], sticky: bool) -> str:
    servers = "\n".join(
        f"    server r{i} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(ports)
    )
    stick = (
        "    # A session lives in one replica: learn its id from the response that creates it,\n"
        "    # then send every request carrying that id to the same replica.\n"
        "    stick-table type string len 64 size 200k expire 30m\n"
        "    stick on req.hdr(mcp-session-id)\n"
        "    stick store-response res.hdr(mcp-session-id)\n"
        if sticky else ""
    )
    return f"""global
    maxconn 4000

defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 10s
    option forwardfor
    log stderr format short local0 notice
    option httplog
    option dontlog-normal

frontend mcp
    bind 127.0.0.1:{listen}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health hdr Host 127.0.0.1
{stick}{servers}
"""


def nginx_config(listen: int, ports: Sequence[int], workdir: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    tmp = workdir / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    return f"""daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream replicas {{
        # round-robin (nginx's default); stateless replicas only (see docs/deploy.md)
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    """HAProxy or nginx in the foreground on a free port of 127.0.0.1."""

    kind: str  # "haproxy" | "nginx"
    ports: Sequence[int]
    workdir: Path
    sticky: bool = False
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> Proxy:
        self.port = free_port()
        log = self.workdir / f"{self.kind}.log"
        if self.kind == "haproxy":
            binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
            cfg = self.workdir / "haproxy.cfg"
            cfg.write_text(haproxy_config(self.port, self.ports, self.sticky))
            args = [binary, "-db", "-f", str(cfg)]
        elif self.kind == "nginx":
            if self.sticky:
                raise ValueError("nginx (open source) cannot stick sessions by a response header")
            binary = shutil.which("nginx") or "/usr/sbin/nginx"
            cfg = self.workdir / "nginx.conf"
            cfg.write_text(nginx_config(self.port, self.ports, self.workdir))
            args = [binary, "-c", str(cfg), "-e", str(self.workdir / "nginx-error.log")]
        else:
            raise ValueError(f"unknown proxy {self.kind!r}")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        _wait_http(f"http://127.0.0.1:{self.port}/health", self.proc, log, 30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            _stop(self.proc)


def proxy_available(kind: str) -> bool:
    return shutil.which(kind) is not None or Path(f"/usr/sbin/{kind}").exists()


# --- load ----------------------------------------------------------------------------------


def client_address(k: int) -> str | None:
    """A loopback source address of its own for client ``k`` (Linux routes all of 127/8)."""
    if not sys.platform.startswith("linux"):
        return None
    return f"127.0.{10 + k // 250}.{1 + k % 250}"


async def one_client(url: str, mode: str, calls: int, k: int, latencies: list[float],
                     errors: list[str], go: Any = None) -> int:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    done = 0
    address = client_address(k)
    transport = httpx2.AsyncHTTPTransport(local_address=address) if address else None
    try:
        async with (
            httpx2.AsyncClient(timeout=120, transport=transport) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            if go is not None:
                await go.wait()
            for i in range(calls):
                tool, arguments = CALLS[(k + i) % len(CALLS)]
                start = time.perf_counter()
                try:
                    result = await client.call_tool(tool, arguments)
                except Exception as exc:
                    errors.append(f"{tool}: {type(exc).__name__}: {exc}"[:300])
                    continue
                latencies.append(time.perf_counter() - start)
                if result.is_error:
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    errors.append(f"{tool}: {text}"[:300])
                else:
                    done += 1
    except Exception as exc:  # session set-up or teardown
        errors.append(f"session: {type(exc).__name__}: {_leaf(exc)}"[:300])
    return done


def _leaf(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _load_process(url: str, mode: str, first: int, n: int, calls: int, ready: Any, go: Any,
                  results: Any) -> None:
    import anyio

    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> int:
        event = anyio.Event()
        done = 0

        async def run(k: int) -> None:
            nonlocal done
            n_ok = await one_client(url, mode, calls, k, latencies, errors, event)
            done += n_ok  # (not `done += await ...`: that reads `done` before awaiting)

        async with anyio.create_task_group() as tg:
            for k in range(first, first + n):
                tg.start_soon(run, k)
            await anyio.sleep(0.5)  # let the sessions open before the clock starts
            ready.put(first)
            await anyio.to_thread.run_sync(go.wait)
            event.set()
        return done

    ok = anyio.run(main)
    results.put({"ok": ok, "errors": errors, "latencies": latencies, "end": time.time()})


@dataclass
class LoadResult:
    clients: int
    calls: int
    ok: int
    errors: list[str]
    wall: float
    latencies: list[float]

    @property
    def failures(self) -> int:
        return self.clients * self.calls - self.ok

    @property
    def throughput(self) -> float:
        return self.ok / self.wall if self.wall > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        values = sorted(self.latencies)
        return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def run_load(url: str, mode: str, clients: int, calls: int, processes: int,
             timeout: float = 600) -> LoadResult:
    """``clients`` SDK clients × ``calls`` calls, spread over ``processes`` processes
    (0: all in this process, as the tests do)."""
    if processes <= 0:
        return _run_load_here(url, mode, clients, calls, timeout)
    processes = min(processes, clients)
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    shares = [clients // processes + (1 if i < clients % processes else 0)
              for i in range(processes)]
    starts = [sum(shares[:i]) for i in range(processes)]
    workers = [ctx.Process(target=_load_process,
                           args=(url, mode, starts[i], shares[i], calls, ready, go, results),
                           daemon=True) for i in range(processes)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    try:
        for _ in workers:
            ready.get(timeout=max(1.0, deadline - time.monotonic()))
        t0 = time.time()
        go.set()
        collected = [results.get(timeout=max(1.0, deadline - time.monotonic()))
                     for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
    return LoadResult(
        clients=clients, calls=calls, ok=sum(r["ok"] for r in collected),
        errors=[e for r in collected for e in r["errors"]],
        wall=max(r["end"] for r in collected) - t0,
        latencies=[x for r in collected for x in r["latencies"]],
    )


def _run_load_here(url: str, mode: str, clients: int, calls: int, timeout: float) -> LoadResult:
    import anyio

    latencies: list[float] = []
    errors: list[str] = []
    done = 0

    async def main() -> float:
        nonlocal done
        go = anyio.Event()

        async def run(k: int) -> None:
            nonlocal done
            n_ok = await one_client(url, mode, calls, k, latencies, errors, go)
            done += n_ok

        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as tg:
                for k in range(clients):
                    tg.start_soon(run, k)
                await anyio.sleep(0.5)
                t0 = time.time()
                go.set()
        return t0

    t0 = anyio.run(main)
    return LoadResult(clients=clients, calls=calls, ok=done, errors=errors,
                      wall=time.time() - t0, latencies=latencies)


# --- flood ---------------------------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "flood", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}


async def flood(url: str, sessions: int, concurrency: int, address: str | None,
                deadline: float) -> dict[str, int]:
    """Open ``sessions`` sessions from one address (or until ``deadline``): status counts."""
    import anyio
    import httpx

    counts: dict[str, int] = {}
    sent = 0
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    async with httpx.AsyncClient(timeout=30, transport=transport,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:

        async def worker() -> None:
            nonlocal sent
            while sent < sessions and time.monotonic() < deadline:
                sent += 1
                try:
                    r = await http.post(url, json=INITIALIZE, headers=MCP_HEADERS)
                    key = str(r.status_code)
                    if r.status_code in (429, 503) and "retry-after" not in r.headers:
                        key += " (no Retry-After!)"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                counts[key] = counts.get(key, 0) + 1

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
    return counts


async def others_during(url: str, mode: str, clients: int, stop: Any,
                        first_address: int, pause: float = 0.0) -> tuple[int, int, list[str]]:
    """Clients from other addresses: fresh session, 3 calls, close; again (after ``pause``
    seconds) until ``stop``."""
    import anyio

    ok = attempts = 0
    errors: list[str] = []

    async def loop(k: int) -> None:
        nonlocal ok, attempts
        while not stop.is_set():
            latencies: list[float] = []
            before = len(errors)
            done = await one_client(url, mode, 3, first_address + k, latencies, errors)
            ok += done
            attempts += done + (len(errors) - before)
            if pause:
                await anyio.sleep(pause)

    async with anyio.create_task_group() as tg:
        for k in range(clients):
            tg.start_soon(loop, k)
    return ok, attempts, errors


def run_flood(url: str, sessions: int, others: int, concurrency: int,
              max_seconds: float, others_pause: float = 0.0) -> dict[str, Any]:
    import anyio

    async def main() -> dict[str, Any]:
        stop = anyio.Event()
        out: dict[str, Any] = {}

        async def attack() -> None:
            t0 = time.monotonic()
            out["flood"] = await flood(url, sessions, concurrency, "127.0.0.2",
                                       t0 + max_seconds)
            out["flood_seconds"] = time.monotonic() - t0
            stop.set()

        async def served() -> None:
            out["others"] = await others_during(url, "legacy", others, stop, 1000, others_pause)

        async with anyio.create_task_group() as tg:
            tg.start_soon(attack)
            tg.start_soon(served)
        return out

    return anyio.run(main)


# --- the benchmark -------------------------------------------------------------------------


def _print_load(label: str, res: LoadResult) -> None:
    print(f"   {label:<28} completed {res.ok}/{res.clients * res.calls}   errors "
          f"{res.failures}   {res.throughput:7.1f} calls/s   p50 {res.pct(50) * 1000:6.1f} ms   "
          f"p99 {res.pct(99) * 1000:6.1f} ms")
    for e in res.errors[:3]:
        print(f"      e.g. {e}")


def bench_mode(args: argparse.Namespace, stateless: bool, proxy_kind: str,
               workdir: Path) -> dict[str, Any]:
    mode_name = "stateless" if stateless else "sessions (sticky on Mcp-Session-Id)"
    print(f"\n== {mode_name}, proxy {proxy_kind}, {args.clients} clients × {args.calls} calls, "
          f"SDK mode={args.mode!r}")
    results: dict[str, Any] = {}
    for n in (1, args.replicas):
        sub = workdir / f"{'sl' if stateless else 'ss'}-{proxy_kind}-{n}"
        sub.mkdir()
        with Replicas(n, sub, stateless) as reps, \
                Proxy(proxy_kind, reps.ports, sub, sticky=not stateless) as proxy:
            warm = run_load(proxy.url, args.mode, n * 2, 2, 0)  # loads data in each replica
            if warm.failures:
                print(f"   warm-up failed: {warm.errors[:2]}")
            res = run_load(proxy.url, args.mode, args.clients, args.calls, args.processes)
            _print_load(f"{n} replica{'s' if n > 1 else ''} behind {proxy_kind}", res)
            results[str(n)] = {
                "errors": res.failures, "calls_per_s": res.throughput,
                "p50_ms": res.pct(50) * 1000, "p99_ms": res.pct(99) * 1000,
                "tracebacks": reps.tracebacks(), "error_samples": res.errors[:10],
            }
    one, many = results["1"], results[str(args.replicas)]
    ratio = many["calls_per_s"] / one["calls_per_s"] if one["calls_per_s"] else math.nan
    p99_ratio = many["p99_ms"] / one["p99_ms"] if one["p99_ms"] else math.nan
    ok = one["errors"] == 0 and many["errors"] == 0
    print(f"   {args.replicas} vs 1 replica: throughput ×{ratio:.2f}, p99 ×{p99_ratio:.2f} "
          f"(on {os.cpu_count()} cores shared by clients, proxy and replicas)   errors "
          f"{one['errors'] + many['errors']} (target 0) {'PASS' if ok else 'FAIL'}   "
          f"tracebacks in server logs: {one['tracebacks'] + many['tracebacks']}")
    results.update(throughput_ratio=ratio, p99_ratio=p99_ratio, pass_=ok)
    return results


def bench_flood(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    print(f"\n== flood: {args.flood} sessions opened from 127.0.0.2 through haproxy "
          f"(sessions mode, {args.replicas} replicas, default limits) while {args.others} "
          "legacy clients from other addresses call tools")
    sub = workdir / "flood"
    sub.mkdir()
    with Replicas(args.replicas, sub, stateless=False) as reps, \
            Proxy("haproxy", reps.ports, sub, sticky=True) as proxy:
        run_load(proxy.url, "legacy", args.replicas * 2, 2, 0)
        rss_before = reps.rss_mib()
        out = run_flood(proxy.url, args.flood, args.others, args.flood_concurrency,
                        args.flood_seconds)
        health = reps.health()
        rss_after = reps.rss_mib()
        tracebacks = reps.tracebacks()
    ok, attempts, errors = out["others"]
    rate = ok / attempts if attempts else math.nan
    answered = sum(out["flood"].values())
    print(f"   flood: {answered} requests in {out['flood_seconds']:.1f} s, answered "
          + ", ".join(f"{k}: {v}" for k, v in sorted(out["flood"].items())))
    print(f"   other clients: {ok}/{attempts} calls succeeded = {rate:.1%} (target 100 %)")
    for e in errors[:3]:
        print(f"      e.g. {e}")
    print("   open sessions per replica after the flood: "
          + ", ".join(str(h.get("sessions")) for h in health)
          + "   RSS MiB before/after: "
          + ", ".join(f"{b:.0f}/{a:.0f}" for b, a in zip(rss_before, rss_after, strict=True)
                      if b is not None and a is not None)
          + f"   tracebacks in server logs: {tracebacks}")
    return {"flood": out["flood"], "flood_seconds": out["flood_seconds"],
            "others_ok": ok, "others_attempts": attempts, "others_success_rate": rate,
            "sessions_after": [h.get("sessions") for h in health],
            "rss_before_mib": rss_before, "rss_after_mib": rss_after,
            "pass_": attempts > 0 and ok == attempts}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small loads (smoke run)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="legacy",
                        help="SDK client mode for the load (legacy uses sessions)")
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--flood-concurrency", type=int, default=32)
    parser.add_argument("--flood-seconds", type=float, default=240.0)
    parser.add_argument("--others", type=int, default=10)
    parser.add_argument("--only", choices=["stateless", "sessions", "flood"], action="append")
    parser.add_argument("--proxy", choices=["haproxy", "nginx"], default="haproxy",
                        help="proxy for stateless mode (session mode always uses haproxy)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.calls, args.flood, args.processes = 8, 10, 300, 2
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    missing = [k for k in {"haproxy", args.proxy} if not proxy_available(k)]
    if missing:
        print(f"needs {', '.join(missing)} (apt-get install {' '.join(missing)})",
              file=sys.stderr)
        return 2
    only = set(args.only or ["stateless", "sessions", "flood"])
    print(f"bench_scaleout: {args.replicas} replicas, {os.cpu_count()} cores, data "
          f"{os.environ.get('OASIS_DATA_DIR', '(default)')}")
    report: dict[str, Any] = {"replicas": args.replicas, "clients": args.clients,
                              "calls": args.calls, "mode": args.mode, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="oasis-scaleout-") as tmp:
        workdir = Path(tmp)
        if "stateless" in only:
            report["stateless"] = bench_mode(args, True, args.proxy, workdir)
        if "sessions" in only:
            report["sessions"] = bench_mode(args, False, "haproxy", workdir)
        if "flood" in only:
            report["flood"] = bench_flood(args, workdir)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    passed = all(v.get("pass_", True) for v in report.values() if isinstance(v, dict))
    print(f"\nall targets met: {passed}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
