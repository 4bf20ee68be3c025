"""Side-by-side performance benchmark of the OASIS MCP server.

    python benchmarks/bench_server.py            # full run (a few minutes)
    python benchmarks/bench_server.py --quick    # smoke run (under a minute on an idle machine)

Machines are noisy, so every figure is measured next to its baseline in the same run, with the
two sides alternated or interleaved, and reported as a ratio against the target:

1. Cold start over stdio: spawn → ``initialize`` → ``tools/list`` answered, for ``oasis-mcp
   serve`` and for a bare ``MCPServer`` with one trivial tool (``benchmarks/bare_server.py``),
   spawns alternating. Target: median ratio ≤ 1.3.
2. In-process latency: p50 of ``get_history``, ``forecast`` and ``compare_regions`` against a
   no-op tool registered on the same server instance, calls interleaved. Target: ≤ 2. Three
   readings (see ``bench_inprocess``): through the SDK ``Client`` as it is, which re-checks each
   result against the output schema with jsonschema (that check alone is measured and printed as
   a floor no server can beat); the server and transport alone (the client's check off); and each
   tool against a no-op that returns the same answer.
3. Stdio latency: p99 of the same tools against the no-op over one stdio session of ``oasis-mcp
   serve`` (``benchmarks/serve_with_noop.py``). Target: ≤ 3.
4. HTTP load: 50 concurrent clients × 200 calls on 127.0.0.1 (``oasis-mcp serve --transport
   http``, bearer token on, default limits; each client from its own loopback address 127.0.x.y,
   since the server limits requests and sessions per address): errors (target 0), throughput,
   and the server's RSS growth. Scale-out behind a proxy: ``bench_scaleout.py``.

The first call of each tool (which loads the data and the artifacts) is reported separately and
excluded from the latency figures. When ``artifacts/`` holds no forecasts yet, synthetic artifacts
are generated from the data (``tests/synthetic_artifacts.py``) so that ``forecast`` can
be measured; the report says so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from mcp.types import CallToolResult

# The echo_ tools' return annotations are resolved in this module's namespace.
from oasis_mcp.schemas import ComparisonResult, ForecastResult, HistoryResult

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
BARE_SERVER = BENCH_DIR / "bare_server.py"
SERVE_WITH_NOOP = BENCH_DIR / "serve_with_noop.py"
SYNTHETIC_ARTIFACTS = REPO_ROOT / "tests" / "synthetic_artifacts.py"

TARGET_COLD = 1.3
TARGET_P50 = 2.0
TARGET_P99 = 3.0
DATA_TOOLS = ("get_history", "forecast", "compare_regions")
LOAD_TOKEN = "bench-token"
SPAWN_TIMEOUT = 120.0  # seconds: a hang guard for one spawn

_LISTENING = re.compile(r"streamable HTTP at (http://127\.0\.0\.1:(\d+))/mcp")


# --- small helpers -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def verdict(ratio: float, target: float) -> str:
    if math.isnan(ratio):
        return "n/a"
    return "PASS" if ratio <= target else "FAIL"


def oasis_mcp_command() -> list[str]:
    """The ``oasis-mcp`` script of this interpreter (what a desktop client spawns)."""
    beside = Path(sys.executable).with_name("oasis-mcp")
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "oasis_mcp.cli"]


def child_env(data_dir: Path, artifacts_dir: Path, **extra: str) -> dict[str, str]:
    """The environment an MCP client gives a stdio server (the SDK's default set), plus ours."""
    from mcp.client.stdio import get_default_environment

    env = get_default_environment()
    env.update(OASIS_DATA_DIR=str(data_dir), OASIS_ARTIFACTS_DIR=str(artifacts_dir))
    env.update(extra)
    return env


def rss_kib(pid: int) -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc (Linux); (None, None) elsewhere."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values.get("VmRSS"), values.get("VmHWM")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


# --- set-up: data, artifacts, call arguments --------------------------------------------------


@dataclass
class Setup:
    data_dir: Path
    artifacts_dir: Path
    artifacts_note: str
    mode: str
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)


def prepare(args: argparse.Namespace) -> Setup:
    from oasis_mcp import config

    data_dir = config.data_dir(args.data_dir)
    artifacts_dir = config.artifacts_dir(args.artifacts_dir)
    if (artifacts_dir / "forecasts.csv.gz").is_file():
        return Setup(data_dir, artifacts_dir, f"{artifacts_dir} (trained)", args.mode)
    if not SYNTHETIC_ARTIFACTS.is_file():
        return Setup(data_dir, artifacts_dir, f"{artifacts_dir} (none: forecast will fail)",
                     args.mode)
    from oasis_mcp.data.dataset import load_dataset

    spec = importlib.util.spec_from_file_location("_synthetic_artifacts", SYNTHETIC_ARTIFACTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tmp = tempfile.TemporaryDirectory(prefix="oasis-bench-artifacts-")
    module.write_synthetic_artifacts(Path(tmp.name), load_dataset(data_dir))
    note = f"synthetic, generated in {tmp.name} ({artifacts_dir} has no forecasts yet)"
    return Setup(data_dir, Path(tmp.name), note, args.mode, tmp)


@dataclass
class CallPlan:
    """Arguments to cycle through for each tool (varied areas and indicators)."""

    arguments: dict[str, list[dict[str, Any]]]

    def next(self, tool: str, i: int) -> dict[str, Any]:
        options = self.arguments[tool]
        return options[i % len(options)]


async def build_plan(client: Any, seed: int) -> CallPlan:
    """Discover real area and indicator names through the server itself."""
    regions = ["Bretagne", "Occitanie", "Île-de-France", "Normandie", "Grand Est", "Corse"]
    indicators = ["burglary", "cambriolages", "violences sexuelles"]
    with contextlib.suppress(Exception):
        catalog = (await client.call_tool("list_indicators", {})).structured_content or {}
        slugs = [i["slug"] for i in catalog.get("indicators", []) if "slug" in i]
        if slugs:
            indicators = slugs
    with contextlib.suppress(Exception):
        areas = (await client.call_tool("list_regions", {})).structured_content or {}
        names = [a.get("name") or a["code"] for a in areas.get("areas", [])]
        if names:
            regions = names
    rng = random.Random(seed)
    pairs = [(r, i) for r in regions for i in indicators]
    rng.shuffle(pairs)
    pairs = pairs[:64]
    return CallPlan({
        "get_history": [{"area": r, "indicator": i} for r, i in pairs],
        "forecast": [{"area": r, "indicator": i} for r, i in pairs],
        "compare_regions": [{"indicator": i} for i in indicators],
        "list_regions": [{}],
        "noop": [{}],
    })


# --- 1. cold start -------------------------------------------------------------------------

_HANDSHAKE = "".join(
    json.dumps(m) + "\n"
    for m in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )
).encode()


def time_cold_start(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the ``tools/list`` answer (legacy handshake, raw pipes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    watchdog = threading.Timer(SPAWN_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(_HANDSHAKE)
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{command[0]} exited before answering tools/list")
            message = json.loads(line)
            if message.get("id") == 2:
                if "result" not in message:
                    raise RuntimeError(f"tools/list failed: {message}")
                elapsed = time.perf_counter() - start
                break
        proc.stdin.close()
        proc.wait(timeout=SPAWN_TIMEOUT)
        return elapsed
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import mcp.server.mcpserver
t1 = time.perf_counter()
import oasis_mcp.server
t2 = time.perf_counter()
oasis_mcp.server.create_server()
t3 = time.perf_counter()
print(json.dumps({"mcp": t1 - t0, "oasis_import": t2 - t1, "create_server": t3 - t2,
                  "pandas": "pandas" in sys.modules, "numpy": "numpy" in sys.modules}))
"""


def startup_breakdown(env: dict[str, str], repeats: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], env=env, capture_output=True,
                             text=True, timeout=SPAWN_TIMEOUT, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "mcp_import_s": statistics.median(r["mcp"] for r in runs),
        "oasis_server_import_s": statistics.median(r["oasis_import"] for r in runs),
        "create_server_s": statistics.median(r["create_server"] for r in runs),
        "pandas_at_startup": runs[-1]["pandas"],
        "numpy_at_startup": runs[-1]["numpy"],
    }


def bench_cold_start(setup: Setup, spawns: int) -> dict[str, Any]:
    env = child_env(setup.data_dir, setup.artifacts_dir)
    ours_cmd = [*oasis_mcp_command(), "serve"]
    bare_cmd = [sys.executable, str(BARE_SERVER)]
    time_cold_start(bare_cmd, env)  # warm the page cache, not counted
    time_cold_start(ours_cmd, env)
    ours: list[float] = []
    bare: list[float] = []
    for i in range(spawns):
        first, second = (ours_cmd, bare_cmd) if i % 2 else (bare_cmd, ours_cmd)
        for command in (first, second):
            (ours if command is ours_cmd else bare).append(time_cold_start(command, env))
    ratio = statistics.median(ours) / statistics.median(bare)
    breakdown = startup_breakdown(env, repeats=3 if spawns >= 5 else 1)
    print("\n1. Cold start over stdio: spawn → initialize → tools/list answered "
          f"({spawns} spawns each, alternating)")
    print(f"   bare MCPServer, 1 tool   median {statistics.median(bare):.3f} s   "
          f"min {min(bare):.3f}   max {max(bare):.3f}")
    print(f"   oasis-mcp serve          median {statistics.median(ours):.3f} s   "
          f"min {min(ours):.3f}   max {max(ours):.3f}")
    print(f"   ratio {ratio:.2f}   target ≤ {TARGET_COLD}   {verdict(ratio, TARGET_COLD)}")
    print(f"   start-up breakdown (in a child, median): import mcp.server "
          f"{breakdown['mcp_import_s']:.3f} s, then import oasis_mcp.server "
          f"{breakdown['oasis_server_import_s']:.3f} s, create_server() "
          f"{breakdown['create_server_s']:.3f} s; pandas loaded at start-up: "
          f"{'yes' if breakdown['pandas_at_startup'] else 'no'}, numpy: "
          f"{'yes' if breakdown['numpy_at_startup'] else 'no'}")
    return {"ours_s": ours, "bare_s": bare, "ratio": ratio, "target": TARGET_COLD,
            "pass": ratio <= TARGET_COLD, "startup": breakdown}


# --- 2 and 3. latency ------------------------------------------------------------------------


async def measure_latency(
    clients: dict[str, Any], plan: CallPlan, tools: Sequence[str], rounds: int, seed: int,
    after_call: Callable[[str, str, Any], None] | None = None,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    """Interleaved calls: every round calls each tool once per client view, in a shuffled
    order, so that machine noise hits every series alike. Returns timings[view][tool].
    ``after_call(view, tool, result)`` runs after each call, outside the timed span."""
    rng = random.Random(seed)
    timings = {view: {t: [] for t in tools} for view in clients}
    errors: dict[str, str] = {}
    order = [(view, tool) for view in clients for tool in tools]
    for i in range(rounds):
        rng.shuffle(order)
        for view, tool in order:
            arguments = plan.next(tool, i)
            start = time.perf_counter()
            result = await clients[view].call_tool(tool, arguments)
            elapsed = time.perf_counter() - start
            if result.is_error:
                text = " ".join(getattr(c, "text", "") for c in result.content)[:200]
                errors.setdefault(tool, text)
            timings[view][tool].append(elapsed)
            if after_call is not None:
                after_call(view, tool, result)
    return timings, errors


async def warm_up(
    client: Any, plan: CallPlan, tools: Sequence[str]
) -> dict[str, tuple[float, str]]:
    """First call of each tool (loads data/artifacts): (seconds, error or "")."""
    first: dict[str, tuple[float, str]] = {}
    for tool in tools:
        start = time.perf_counter()
        result = await client.call_tool(tool, plan.next(tool, 0))
        text = ""
        if result.is_error:
            text = " ".join(getattr(c, "text", "") for c in result.content)[:200]
        first[tool] = (time.perf_counter() - start, text)
    return first


def skip_output_validation(client: Any) -> None:
    """Turn off this client's re-validation of structured results against the tools' output
    schemas (jsonschema, client side), to show how much of a call it accounts for."""

    async def no_validation(name: str, result: Any) -> None:
        return None

    client.session.validate_tool_result = no_validation


def report_latency(title: str, timings: dict[str, list[float]], errors: dict[str, str],
                   first: dict[str, tuple[float, str]], stat: float, target: float
                   ) -> dict[str, Any]:
    base = percentile(timings["noop"], stat)
    label = f"p{stat:g}"
    print(f"\n{title}")
    print(f"   {'tool':<18}{'first call':>12}{'p50':>12}{'p99':>12}   ratio {label} / no-op")
    out: dict[str, Any] = {"noop_p50_s": percentile(timings["noop"], 50),
                           "noop_p99_s": percentile(timings["noop"], 99), "tools": {}}
    for tool in ("noop", *DATA_TOOLS):
        if tool not in timings:
            continue
        p50, p99 = percentile(timings[tool], 50), percentile(timings[tool], 99)
        first_s = first.get(tool, (math.nan, ""))[0]
        first_txt = ms(first_s) if first else ""
        if tool == "noop":
            print(f"   {tool:<18}{first_txt:>12}{ms(p50):>12}{ms(p99):>12}")
            continue
        ratio = percentile(timings[tool], stat) / base
        note = f"   (errors: {errors[tool]})" if tool in errors else ""
        print(f"   {tool:<18}{first_txt:>12}{ms(p50):>12}{ms(p99):>12}   {ratio:5.2f}  "
              f"target ≤ {target:g}  {verdict(ratio, target)}{note}")
        out["tools"][tool] = {"p50_s": p50, "p99_s": p99, "first_call_s": first_s,
                              "ratio": ratio, "target": target, "pass": ratio <= target,
                              "error": errors.get(tool)}
    return out


class ClientCheckTimer:
    """Times the SDK client's own output check alone, after each call of the measurement loop
    (so under the same conditions as the calls): the tool's output schema compiled as the client
    compiles it (jsonschema), then ``iter_errors`` on the call's structured content."""

    def __init__(self, client: Any, view: str, tools: Sequence[str]) -> None:
        from jsonschema.validators import validator_for
        from referencing import Registry

        self.view = view
        self.validators: dict[str, Any] = {}
        for tool in tools:
            schema = client.session._tool_output_schemas.get(tool)
            if schema is not None:
                self.validators[tool] = validator_for(schema)(schema, registry=Registry())
        self.timings: dict[str, list[float]] = {tool: [] for tool in self.validators}

    def __call__(self, view: str, tool: str, result: Any) -> None:
        validator = self.validators.get(tool)
        if view != self.view or validator is None or result.structured_content is None:
            return
        start = time.perf_counter()
        for _error in validator.iter_errors(result.structured_content):
            pass
        self.timings[tool].append(time.perf_counter() - start)

    def p50(self, tool: str) -> float:
        return percentile(self.timings.get(tool, []), 50) if self.timings.get(tool) else 0.0


def add_baseline_tools(server: Any) -> dict[tuple[str, str], Any]:
    """Register the baselines on the benchmarked server: ``noop`` (returns "ok") and, per data
    tool, ``echo_<tool>``: same arguments, same output schema, returns the real tool's answer
    for those arguments, computed beforehand (it does no work). Returns the answers' store."""
    answers: dict[tuple[str, str], Any] = {}

    def key(**arguments: Any) -> str:
        return json.dumps(arguments, sort_keys=True)

    @server.tool(name="noop")
    async def noop() -> str:
        """Does nothing (benchmark baseline)."""
        return "ok"

    @server.tool(name="echo_get_history")
    async def echo_get_history(area: str, indicator: str
                               ) -> Annotated[CallToolResult, HistoryResult]:
        """get_history's answer, computed beforehand (benchmark baseline)."""
        return answers[("get_history", key(area=area, indicator=indicator))]

    @server.tool(name="echo_forecast")
    async def echo_forecast(area: str, indicator: str
                            ) -> Annotated[CallToolResult, ForecastResult]:
        """forecast's answer, computed beforehand (benchmark baseline)."""
        return answers[("forecast", key(area=area, indicator=indicator))]

    @server.tool(name="echo_compare_regions")
    async def echo_compare_regions(indicator: str
                                   ) -> Annotated[CallToolResult, ComparisonResult]:
        """compare_regions' answer, computed beforehand (benchmark baseline)."""
        return answers[("compare_regions", key(indicator=indicator))]

    return answers


async def fill_answers(server: Any, plan: CallPlan, answers: dict[tuple[str, str], Any]) -> None:
    """Every answer the ``echo_`` tools will be asked for, from the real tools."""
    for tool in DATA_TOOLS:
        for arguments in plan.arguments[tool]:
            answers[(tool, json.dumps(arguments, sort_keys=True))] = await server.call_tool(
                tool, arguments)


def bench_inprocess(setup: Setup, rounds: int, seed: int) -> dict[str, Any]:
    """In-process latency through the SDK ``Client`` (in-memory transport), three readings:

    a. each tool against the no-op, with the SDK client as it is: it re-checks every structured
       result against the tool's output schema with jsonschema, at a cost that grows with the
       size of the answer (measured alone, and reported as a floor);
    b. the same, with that client-side check off (a second client, calls interleaved): what
       the server and the transport cost, i.e. the server's latency against its no-op;
    c. each tool against ``echo_<tool>``, a no-op that returns the same answer (same schema,
       same size, computed beforehand): the cost of the tool's own work.
    """
    import anyio
    from mcp import Client

    from oasis_mcp.server import create_server

    server = create_server(data_dir=setup.data_dir, artifacts_dir=setup.artifacts_dir)
    answers = add_baseline_tools(server)
    echoes = tuple(f"echo_{t}" for t in DATA_TOOLS)
    tools = ("noop", *DATA_TOOLS, *echoes)

    async def run() -> tuple[dict[str, dict[str, list[float]]], dict[str, str], dict[str, Any],
                             dict[str, float]]:
        async with (
            Client(server, mode=setup.mode) as full,
            Client(server, mode=setup.mode) as lean,
        ):
            skip_output_validation(lean)
            plan = await build_plan(full, seed)
            await fill_answers(server, plan, answers)
            for tool in DATA_TOOLS:
                plan.arguments[f"echo_{tool}"] = plan.arguments[tool]
            first = await warm_up(full, plan, tools)
            await warm_up(lean, plan, tools)
            checker = ClientCheckTimer(full, "full", ("noop", *DATA_TOOLS))
            timings, errors = await measure_latency(
                {"full": full, "lean": lean}, plan, tools, rounds, seed, after_call=checker)
            return timings, errors, first, {t: checker.p50(t) for t in ("noop", *DATA_TOOLS)}

    timings, errors, first, check = anyio.run(run)
    full = report_latency(
        f"2a. In-process latency: Client(server), mode={setup.mode!r}, {rounds} interleaved "
        "calls per tool, no-op registered on the same server", timings["full"], errors, first,
        50, TARGET_P50)
    noop_p50 = full["noop_p50_s"]
    print("    the SDK client's output check alone (jsonschema on the tool's result, p50):")
    for tool in DATA_TOOLS:
        floor = (noop_p50 + check[tool] - check["noop"]) / noop_p50
        full["tools"][tool]["client_check_s"] = check[tool]
        full["tools"][tool]["floor_ratio"] = floor
        print(f"      {tool:<18}{ms(check[tool])}  = {check[tool] / noop_p50:4.2f} × a whole "
              f"no-op call: no server can score below {floor:4.2f} with this answer")
    lean = report_latency(
        "2b. Same calls, interleaved with 2a, on a second client whose output check (client "
        "side, jsonschema) is off: the server's and the transport's latency vs the no-op",
        timings["lean"], errors, {}, 50, TARGET_P50)
    echo: dict[str, Any] = {}
    print("\n2c. Tool vs a no-op returning the same answer (echo_<tool>, same schema and size), "
          "SDK client as is")
    print(f"   {'tool':<18}{'p50':>12}{'echo p50':>12}   ratio")
    for tool in DATA_TOOLS:
        p50 = percentile(timings["full"][tool], 50)
        echo_p50 = percentile(timings["full"][f"echo_{tool}"], 50)
        echo[tool] = {"p50_s": p50, "echo_p50_s": echo_p50, "ratio": p50 / echo_p50,
                      "error": errors.get(f"echo_{tool}")}
        print(f"   {tool:<18}{ms(p50):>12}{ms(echo_p50):>12}   {p50 / echo_p50:5.2f}")
    return {"full_client": full, "client_without_output_validation": lean,
            "vs_same_answer_noop": echo}


def bench_stdio(setup: Setup, rounds: int, seed: int) -> dict[str, Any]:
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = child_env(setup.data_dir, setup.artifacts_dir)
    params = StdioServerParameters(command=sys.executable,
                                   args=[str(SERVE_WITH_NOOP), "serve"], env=env)
    tools = ("noop", *DATA_TOOLS)

    async def run() -> tuple[dict[str, list[float]], dict[str, str], dict[str, Any]]:
        with open(os.devnull, "w") as errlog:  # the server's logs
            async with Client(stdio_client(params, errlog=errlog), mode=setup.mode) as client:
                plan = await build_plan(client, seed)
                first = await warm_up(client, plan, tools)
                timings, errors = await measure_latency({"stdio": client}, plan, tools,
                                                        rounds, seed)
                return timings["stdio"], errors, first

    timings, errors, first = anyio.run(run)
    return report_latency(
        f"3. Stdio latency (one `oasis-mcp serve` session, mode={setup.mode!r}), {rounds} "
        "interleaved calls per tool", timings, errors, first, 99, TARGET_P99)


# --- 4. HTTP load --------------------------------------------------------------------------


@contextlib.contextmanager
def http_server(setup: Setup, log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    import httpx

    env = child_env(setup.data_dir, setup.artifacts_dir, OASIS_MCP_TOKEN=LOAD_TOKEN)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*oasis_mcp_command(), "serve", "--transport", "http", "--host", "127.0.0.1",
             "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
    try:
        deadline = time.monotonic() + SPAWN_TIMEOUT
        base = None
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP server did not start:\n{log_path.read_text()}")
            if base is None and (m := _LISTENING.search(log_path.read_text(errors="replace"))):
                base = m.group(1)
            if base is not None:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                        break
            time.sleep(0.05)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load_worker(url: str, n_clients: int, calls: int, plan_args: dict[str, list[dict[str, Any]]],
                mode: str, timeout: float, worker_id: int, ready: Any, go: Any, results: Any
                ) -> None:
    """One client process: ``n_clients`` concurrent sessions × ``calls`` calls each."""
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    plan = CallPlan(plan_args)
    tools = ("get_history", "compare_regions", "forecast", "list_regions")
    latencies: list[float] = []
    errors: list[str] = []
    done = 0

    async def main() -> tuple[float, float]:
        nonlocal done
        go_event = anyio.Event()
        connected = 0
        all_connected = anyio.Event()

        async def one_client(k: int) -> None:
            nonlocal done, connected
            headers = {"Authorization": f"Bearer {LOAD_TOKEN}"}
            # Each simulated client has its own loopback address, as real clients have their
            # own: the server limits requests and sessions per client address (docs/deploy.md).
            address = f"127.0.{10 + k // 250}.{1 + k % 250}" if sys.platform == "linux" else None
            transport = httpx2.AsyncHTTPTransport(local_address=address) if address else None
            try:
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=60, transport=transport) as http,
                    Client(streamable_http_client(url, http_client=http), mode=mode) as client,
                ):
                    connected += 1
                    if connected == n_clients:
                        all_connected.set()
                    await go_event.wait()
                    for i in range(calls):
                        tool = tools[(k + i) % len(tools)]
                        start = time.perf_counter()
                        try:
                            result = await client.call_tool(tool, plan.next(tool, k * calls + i))
                        except Exception as exc:
                            errors.append(f"{tool}: {type(exc).__name__}: {exc}"[:200])
                            continue
                        latencies.append(time.perf_counter() - start)
                        if result.is_error:
                            text = " ".join(getattr(c, "text", "") for c in result.content)
                            errors.append(f"{tool}: {text}"[:200])
                        else:
                            done += 1
            except Exception as exc:
                errors.append(f"session: {type(exc).__name__}: {exc}"[:200])
                connected += 1
                if connected == n_clients:
                    all_connected.set()

        t_start = t_end = time.time()
        with anyio.move_on_after(timeout):
            async with anyio.create_task_group() as tg:
                for k in range(n_clients):
                    tg.start_soon(one_client, worker_id * n_clients + k)
                await all_connected.wait()
                ready.put(worker_id)
                await anyio.to_thread.run_sync(go.wait)
                t_start = time.time()
                go_event.set()
        t_end = time.time()
        return t_start, t_end

    t_start, t_end = anyio.run(main)
    results.put({"worker": worker_id, "ok": done, "errors": errors, "latencies": latencies,
                 "start": t_start, "end": t_end})


@dataclass
class LoadRound:
    ok: int
    errors: list[str]
    missing: int
    latencies: list[float]
    wall: float
    server_cpu: float | None
    rss_before: int | None
    rss_peak: int | None
    rss_after: int | None


def run_load_round(url: str, proc: subprocess.Popen[bytes], plan: CallPlan, mode: str,
                   clients: int, calls: int, procs: int, timeout: float) -> LoadRound:
    rss_before, _ = rss_kib(proc.pid)
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [
        ctx.Process(target=load_worker, args=(url, n, calls, plan.arguments, mode, timeout, i,
                                              ready, go, results), daemon=True)
        for i, n in enumerate(share)
    ]
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout + 60
    for _ in workers:
        ready.get(timeout=max(1.0, deadline - time.monotonic()))
    peak = rss_before or 0
    cpu_before = cpu_seconds(proc.pid)
    t0 = time.time()
    go.set()
    collected: list[dict[str, Any]] = []
    while len(collected) < len(workers) and time.monotonic() < deadline:
        rss, _ = rss_kib(proc.pid)
        peak = max(peak, rss or 0)
        with contextlib.suppress(Exception):
            collected.append(results.get(timeout=0.2))
    cpu_after = cpu_seconds(proc.pid)
    for w in workers:
        w.join(timeout=5)
        if w.is_alive():
            w.terminate()
    time.sleep(1.0)  # let the sessions close
    rss_after, _ = rss_kib(proc.pid)
    ok = sum(r["ok"] for r in collected)
    errors = [e for r in collected for e in r["errors"]]
    t_end = max((r["end"] for r in collected), default=t0)
    return LoadRound(
        ok=ok, errors=errors, missing=max(clients * calls - ok - len(errors), 0),
        latencies=[x for r in collected for x in r["latencies"]], wall=max(t_end - t0, 1e-9),
        server_cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        rss_before=rss_before, rss_peak=peak or None, rss_after=rss_after,
    )


def bench_load(setup: Setup, clients: int, calls: int, procs: int, timeout: float,
               rounds: int, seed: int) -> dict[str, Any]:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    procs = max(1, min(procs, clients))
    print(f"\n4. HTTP load on 127.0.0.1: {clients} concurrent clients × {calls} calls, "
          f"{rounds} round(s) on one server ({procs} client processes, mode={setup.mode!r}, "
          "bearer token on, tool mix get_history/compare_regions/forecast/list_regions)")
    out: dict[str, Any] = {"clients": clients, "calls_per_client": calls, "rounds": []}
    with tempfile.TemporaryDirectory(prefix="oasis-bench-http-") as tmp, \
            http_server(setup, Path(tmp) / "server.log") as (base, proc):
        url = f"{base}/mcp"

        async def prepare_plan() -> CallPlan:
            headers = {"Authorization": f"Bearer {LOAD_TOKEN}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(url, http_client=http), mode=setup.mode) as client,
            ):
                plan = await build_plan(client, seed)
                await warm_up(client, plan, ("get_history", "forecast", "compare_regions"))
                return plan

        plan = anyio.run(prepare_plan)
        time.sleep(0.5)
        start_rss, _ = rss_kib(proc.pid)
        all_ok = True
        for r in range(1, rounds + 1):
            res = run_load_round(url, proc, plan, setup.mode, clients, calls, procs, timeout)
            failures = len(res.errors) + res.missing
            all_ok = all_ok and failures == 0
            p50, p99 = percentile(res.latencies, 50), percentile(res.latencies, 99)
            growth = (None if res.rss_before is None or res.rss_after is None
                      else res.rss_after - res.rss_before)
            print(f"   round {r}: completed {res.ok}/{clients * calls}   errors "
                  f"{len(res.errors)}   not completed {res.missing}   target 0 errors   "
                  f"{'PASS' if failures == 0 else 'FAIL'}")
            for e in res.errors[:5]:
                print(f"     e.g. {e}")
            print(f"     wall {res.wall:.2f} s   throughput {res.ok / res.wall:.0f} calls/s   "
                  f"latency p50 {p50 * 1000:.1f} ms   p99 {p99 * 1000:.1f} ms")
            if res.server_cpu is not None:
                per_call = res.server_cpu / max(res.ok + len(res.errors), 1)
                print(f"     server CPU {res.server_cpu:.2f} s = {res.server_cpu / res.wall:.0%} "
                      f"of one core; {per_call * 1000:.2f} ms per call (≈ "
                      f"{1 / max(per_call, 1e-9):.0f} calls/s per core if the clients ran "
                      "elsewhere)")
            print(f"     server RSS before {mib(res.rss_before)}   peak {mib(res.rss_peak)}   "
                  f"after {mib(res.rss_after)}   growth {mib(growth)}")
            out["rounds"].append({
                "completed": res.ok, "errors": len(res.errors), "not_completed": res.missing,
                "error_samples": res.errors[:20], "wall_s": res.wall,
                "throughput_calls_per_s": res.ok / res.wall, "latency_p50_s": p50,
                "latency_p99_s": p99, "server_cpu_s": res.server_cpu,
                "rss_before_kib": res.rss_before, "rss_peak_kib": res.rss_peak,
                "rss_after_kib": res.rss_after, "rss_growth_kib": growth,
            })
        end_rss, hwm = rss_kib(proc.pid)
    total = None if start_rss is None or end_rss is None else end_rss - start_rss
    print(f"   server RSS after warm-up {mib(start_rss)}, after {rounds} round(s) {mib(end_rss)}: "
          f"growth {mib(total)} (VmHWM {mib(hwm)})")
    out.update(rss_start_kib=start_rss, rss_end_kib=end_rss, rss_growth_kib=total,
               pass_=all_ok)
    return out


# --- main ----------------------------------------------------------------------------------


def print_summary(report: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    if cold := report.get("cold_start"):
        rows.append(("cold start over stdio, median ratio", f"{cold['ratio']:.2f}",
                     f"≤ {TARGET_COLD}", verdict(cold["ratio"], TARGET_COLD)))
    if inproc := report.get("inprocess"):
        for tool, fig in inproc["client_without_output_validation"]["tools"].items():
            rows.append((f"in-process p50 ratio vs no-op, server + transport: {tool}",
                         f"{fig['ratio']:.2f}", f"≤ {TARGET_P50:g}",
                         verdict(fig["ratio"], TARGET_P50)))
        for tool, fig in inproc["full_client"]["tools"].items():
            rows.append((f"in-process p50 ratio vs no-op, incl. SDK client check: {tool}",
                         f"{fig['ratio']:.2f}", f"≤ {TARGET_P50:g}",
                         f"{verdict(fig['ratio'], TARGET_P50)}  (floor set by the client "
                         f"check alone: {fig.get('floor_ratio', math.nan):.2f})"))
        for tool, fig in inproc["vs_same_answer_noop"].items():
            rows.append((f"in-process p50 ratio vs a no-op with the same answer: {tool}",
                         f"{fig['ratio']:.2f}", "", ""))
    if stdio := report.get("stdio"):
        for tool, fig in stdio["tools"].items():
            rows.append((f"stdio p99 ratio: {tool}", f"{fig['ratio']:.2f}", f"≤ {TARGET_P99:g}",
                         verdict(fig["ratio"], TARGET_P99)))
    if load := report.get("http_load"):
        errors = sum(r["errors"] + r["not_completed"] for r in load["rounds"])
        rate = statistics.median(r["throughput_calls_per_s"] for r in load["rounds"])
        rows.append((f"HTTP load errors ({load['clients']} clients × {load['calls_per_client']}"
                     f" calls × {len(load['rounds'])})", str(errors), "= 0",
                     f"{'PASS' if errors == 0 else 'FAIL'}  ({rate:.0f} calls/s, RSS growth "
                     f"{mib(load['rss_growth_kib'])})"))
    print("\nSummary (measured vs target)")
    width = max((len(r[0]) for r in rows), default=0)
    for label, value, target, result in rows:
        print(f"   {label:<{width}}  {value:>6}  {target:<6} {result}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--spawns", type=int, help="cold-start spawns per side (default 10, quick 3)")
    p.add_argument("--rounds", type=int,
                   help="in-process calls per tool (default 300, quick 30)")
    p.add_argument("--stdio-rounds", type=int,
                   help="stdio calls per tool (default 200, quick 30)")
    p.add_argument("--clients", type=int, help="concurrent HTTP clients (default 50, quick 10)")
    p.add_argument("--calls", type=int, help="calls per HTTP client (default 200, quick 20)")
    p.add_argument("--client-procs", type=int, default=2,
                   help="processes running the HTTP clients (default 2)")
    p.add_argument("--load-rounds", type=int,
                   help="load rounds on the same server, to tell warm-up from leaks "
                   "(default 2, quick 1)")
    p.add_argument("--load-timeout", type=float,
                   help="bound on each HTTP load round in seconds (default 300, quick 60)")
    p.add_argument("--mode", choices=["auto", "legacy"], default="auto",
                   help="client connection mode (default auto)")
    p.add_argument("--only", action="append", choices=["cold", "inprocess", "stdio", "load"],
                   help="run only these parts (repeatable)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--artifacts-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    quick = args.quick
    args.spawns = args.spawns or (3 if quick else 10)
    args.rounds = args.rounds or (30 if quick else 300)
    args.stdio_rounds = args.stdio_rounds or (30 if quick else 200)
    args.clients = args.clients or (10 if quick else 50)
    args.calls = args.calls or (20 if quick else 200)
    args.load_timeout = args.load_timeout or (60.0 if quick else 300.0)
    args.load_rounds = args.load_rounds or (1 if quick else 2)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The in-process server would otherwise log every request (and httpx every POST) here.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    parts = set(args.only or ["cold", "inprocess", "stdio", "load"])
    from importlib.metadata import version

    from oasis_mcp import __version__

    setup = prepare(args)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"OASIS MCP benchmark{' (quick)' if args.quick else ''}: oasis-mcp {__version__}, "
          f"mcp {version('mcp')}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"data: {setup.data_dir}\nartifacts: {setup.artifacts_note}")
    report: dict[str, Any] = {"quick": args.quick, "mode": args.mode, "loadavg_start": load}
    start = time.perf_counter()
    try:
        if "cold" in parts:
            report["cold_start"] = bench_cold_start(setup, args.spawns)
        if "inprocess" in parts:
            report["inprocess"] = bench_inprocess(setup, args.rounds, args.seed)
        if "stdio" in parts:
            report["stdio"] = bench_stdio(setup, args.stdio_rounds, args.seed)
        if "load" in parts:
            report["http_load"] = bench_load(setup, args.clients, args.calls, args.client_procs,
                                             args.load_timeout, args.load_rounds, args.seed)
    finally:
        if setup._tmp is not None:
            setup._tmp.cleanup()
    print_summary(report)
    end_load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    report["loadavg_end"] = end_load
    print(f"\ndone in {time.perf_counter() - start:.0f} s; load average at the end "
          f"{end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
