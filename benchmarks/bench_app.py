"""Benchmark the Space app: start-up, time to the first useful page, server-side work per
interaction.

Usage:
    OASIS_DATA_DIR=../shared/data python benchmarks/bench_app.py [--repeat N] [--no-browser]
        [--artifacts DIR]

1. **Start-up**: spawns ``python app.py`` on a free port and times it until ``/health`` answers.
2. **First useful page** (from the moment the app is up): ``GET /`` and, in headless Chromium
   (``/usr/bin/chromium``, skipped with ``--no-browser``), at desktop (1280 px) and phone (390 px)
   widths: the time until the page is usable (question box, example questions and the tab bar on
   screen), then until the Explore chart (rendered with the page) is drawn after a click on its
   tab; and the same page opened in English (``?lang=en``) until its tabs read in English.
3. **Per interaction, server side**: each tab's handler and chat turns run in process, with the
   MCP tool calls going through the in-process MCP client exactly as in the app; median, p95 and
   max over ``--repeat`` runs, against the 300 ms budget. Conversion of the chart to Gradio's
   payload is included; network and browser rendering are not.

``--artifacts`` (default: the artifacts the app itself would read, i.e. ``OASIS_ARTIFACTS_DIR`` or
the committed ``artifacts/``) is the directory with forecasts.csv.gz and metrics.json; when it has
none, the forecast and model interactions measure the "not trained yet" path, and the report
says so.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BUDGET_MS = 300.0
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_startup(env: dict[str, str], browser: bool) -> dict[str, float]:
    import httpx

    port = _free_port()
    env = {**env, "PORT": str(port), "OASIS_LLM": "off", "OASIS_AUTO_DOWNLOAD": "0"}
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, float] = {}
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"app.py exited ({process.returncode}); see {log.name}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        up = time.perf_counter()
        results["startup_s"] = up - started
        response = httpx.get(url + "/", timeout=10)
        response.raise_for_status()
        results["get_page_ms"] = (time.perf_counter() - up) * 1000
        if browser and Path(CHROMIUM).exists():
            results.update(_browser_first_page(url))
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    return results


VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _browser_first_page(url: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from oasis_app.i18n import tr

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    results: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            for size, viewport in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport, is_mobile=size == "phone")
                page = context.new_page()
                started = time.perf_counter()
                page.goto(url + "/", wait_until="commit")
                page.get_by_text("Liste des départements d'Occitanie").first.wait_for(
                    timeout=30_000)
                page.locator("#oasis-question textarea").wait_for(timeout=30_000)
                page.get_by_role("tab", name=tr("tab_about", "fr"), exact=True).wait_for(
                    timeout=30_000)
                results[f"{size}_ready_s"] = time.perf_counter() - started
                page.get_by_role("tab", name=tr("tab_explore", "fr"), exact=True).click()
                page.locator("#oasis-explore-plot .js-plotly-plot .scatterlayer").wait_for(
                    timeout=30_000)
                results[f"{size}_explore_chart_s"] = time.perf_counter() - started
                started = time.perf_counter()
                page.goto(url + "/?lang=en", wait_until="commit")
                page.get_by_role("tab", name=tr("tab_explore", "en"), exact=True).wait_for(
                    timeout=30_000)
                results[f"{size}_english_s"] = time.perf_counter() - started
                context.close()
        finally:
            browser.close()
    return results


def bench_interactions(repeat: int, artifacts_dir: str) -> list[tuple[str, list[float]]]:
    from oasis_app import geo, ui, views
    from oasis_app.services import build_services
    from oasis_mcp.server import create_server

    services = build_services(lambda: create_server(artifacts_dir=artifacts_dir))
    geo.outlines("region")
    geo.outlines("department")
    last = services.catalog.last_year

    def explore(level: str, area: str, indicator: str) -> Callable[[], object]:
        def run() -> object:
            view = views.explore(services, level, area, indicator, "rate_per_100k", True)
            return ui.plot(view.charts[0])
        return run

    def compare(level: str, year: int) -> Callable[[], object]:
        def run() -> object:
            view = views.compare(services, "burglary", year, level, "rate_per_100k")
            return [ui.plot(c) for c in view.charts]
        return run

    def models() -> object:
        view = views.models(services, "region")
        return [ui.plot(c) for c in view.charts]

    def profile(level: str, area: str) -> Callable[[], object]:
        def run() -> object:
            view = views.profile(services, level, area)
            return ui.plot(view.charts[0])
        return run

    def within_region() -> object:
        view = views.compare(services, "burglary", last, "department", "rate_per_100k",
                             region="53")
        return [ui.plot(c) for c in view.charts]

    def several() -> object:
        view = views.trends(services, "region", ["53", "11", "28", "52"], "burglary")
        return ui.plot(view.charts[0])

    demo = ui.build_ui(services)
    switch = next(fn for fn in demo.fns.values() if fn.name == "on_language")

    def language() -> object:
        return switch.fn("en", "region", "11", "burglary", "rate_per_100k", True, "en",
                         "region", "11", last, "burglary", last, "region", "rate_per_100k", "",
                         ["11", "53"], True, "region")

    def chat(question: str) -> Callable[[], object]:
        return lambda: ui.respond(services, question, [])

    cases: list[tuple[str, Callable[[], object]]] = [
        ("explore region (history + forecast)", explore("region", "11", "burglary")),
        ("explore department", explore("department", "13", "drug-trafficking")),
        ("compare regions (bars + map)", compare("region", last)),
        ("compare departments (bars + map)", compare("department", last)),
        ("compare departments, forecast year", compare("department", min(last + 3, 2030))),
        ("models tab", models),
        ("profile of a region (18 indicators x 3 measures)", profile("region", "53")),
        ("profile of a department", profile("department", "29")),
        ("compare: the departments of one region", within_region),
        ("compare: several areas on one chart", several),
        ("language switch (every label and view re-rendered)", language),
        *((f"chat: {q}", chat(q)) for q in ui.EXAMPLES),  # the examples on the page
    ]
    results = []
    try:
        for name, run in cases:
            run()  # warm: first call per argument set
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                run()
                times.append((time.perf_counter() - started) * 1000)
            results.append((name, times))
    finally:
        services.bridge.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--artifacts", default=None, help="artifacts directory for forecasts")
    args = parser.parse_args()
    from oasis_mcp import config

    artifacts = config.artifacts_dir(args.artifacts)
    trained = (artifacts / "forecasts.csv.gz").is_file() and (artifacts / "metrics.json").is_file()
    env = dict(os.environ)
    env["OASIS_ARTIFACTS_DIR"] = str(artifacts)

    print(f"CPU cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    state = "trained" if trained else (
        "none: forecast and model interactions measure the not-trained path")
    print(f"artifacts: {artifacts} ({state})")
    startup = bench_startup(env, browser=not args.no_browser)
    print("\nStart-up and first page")
    print(f"  python app.py until /health answers     {startup['startup_s']:6.1f} s")
    print(f"  GET / once up                           {startup['get_page_ms']:6.0f} ms")
    for size in VIEWPORTS:
        if f"{size}_ready_s" not in startup:
            continue
        print(f"  browser {size:<7}: page usable (chat, examples, tabs)  "
              f"{startup[f'{size}_ready_s']:6.2f} s")
        print(f"  browser {size:<7}: Explore chart drawn after its tab    "
              f"{startup[f'{size}_explore_chart_s']:6.2f} s")
        print(f"  browser {size:<7}: ?lang=en until the tabs read English "
              f"{startup[f'{size}_english_s']:6.2f} s")

    print(f"\nServer-side work per interaction ({args.repeat} runs, warm), budget "
          f"{BUDGET_MS:.0f} ms")
    print(f"  {'interaction':<72}{'median':>8}{'p95':>8}{'max':>8}")
    worst = 0.0
    for name, times in bench_interactions(args.repeat, str(artifacts)):
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        worst = max(worst, p95)
        flag = "" if p95 <= BUDGET_MS else "  OVER BUDGET"
        print(f"  {name[:70]:<72}{statistics.median(times):8.1f}{p95:8.1f}"
              f"{max(times):8.1f}{flag}")
    print(f"\nWorst p95: {worst:.1f} ms ({'within' if worst <= BUDGET_MS else 'over'} the "
          f"{BUDGET_MS:.0f} ms budget)")


if __name__ == "__main__":
    main()
