"""The app in a real browser: Debian's headless Chromium driven by Playwright (never a downloaded
browser). Load the page, ask a question in the chat, see the tool call, the answer and the chart,
switch to Explore and see a chart. Screenshots go to test-output/ (git-ignored).

The app runs in this process (uvicorn in a thread) to keep the test short; tests/test_app.py
starts the real ``python app.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("OASIS_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                reason="Debian chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[str]:
    import uvicorn

    from oasis_app.web import Settings, create_app

    port = _free_port()
    settings = Settings(port=port, data_dir=str(edition_2025_dir),
                        artifacts_dir=str(tmp_path_factory.mktemp("no-artifacts")),
                        auto_download=False)
    app, services = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    services.bridge.close()


@pytest.mark.timeout(120)
def test_chat_and_explore_in_chromium(app_url: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            started = time.perf_counter()
            page.goto(app_url + "/", wait_until="domcontentloaded")
            page.wait_for_selector("#oasis-chatbot", timeout=20_000)
            load_s = time.perf_counter() - started
            page.screenshot(path=str(OUTPUT / "browser_0_loaded.png"))

            page.locator("#oasis-question textarea").fill(
                "Évolution des cambriolages en Bretagne depuis 2016")
            page.locator("#oasis-ask").click()
            chart = page.locator("#oasis-chatbot .js-plotly-plot")
            chart.first.wait_for(timeout=20_000)
            chatbot = page.locator("#oasis-chatbot")
            text = chatbot.inner_text()
            assert "get_history" in text  # the tool call, shown with its arguments
            assert "Cambriolages de logement — Bretagne" in text
            assert "10 741" in text or "10\u202f741" in text  # the 2025 count, French format
            assert chart.count() == 1
            assert page.locator("#oasis-chatbot .js-plotly-plot .scatterlayer .trace").count() >= 1
            page.screenshot(path=str(OUTPUT / "browser_1_chat.png"), full_page=True)

            page.get_by_role("tab", name="Explore").click()
            explore = page.locator("#oasis-explore-plot .js-plotly-plot")
            explore.wait_for(timeout=15_000)
            assert "Île-de-France" in page.locator("#oasis-explore-plot").inner_text()
            page.screenshot(path=str(OUTPUT / "browser_2_explore.png"), full_page=True)

            page.get_by_role("tab", name="Compare").click()
            page.locator("#oasis-compare-map .js-plotly-plot").wait_for(timeout=15_000)
            page.screenshot(path=str(OUTPUT / "browser_3_compare.png"), full_page=True)
        finally:
            browser.close()
    assert load_s < 15
