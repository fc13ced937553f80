"""The dashboard in a real browser: `streamlit run` on loopback, headless Chromium.

Debian's chromium (`apt-get install chromium`; .ci/run installs it) driven by Playwright
through its executable: Playwright's own browser download is never used. The test opens
the app on the demo warehouse, checks each page's numbers against the marts, clicks
through the three pages and a country filter, and saves a screenshot of each under
.local/screenshots/. Without Chromium it is skipped, saying how to install it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from amplitude_dashboard import units
from tests.dashboard_support import demo_dir, ledger_scalar, marts_scalar

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / ".local" / "screenshots"
APP = ROOT / "snowpark" / "amplitude_dashboard" / "streamlit_app.py"
# As the workplace's machines need it: no sandbox as root, nothing reaching out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian) to run the browser "
    "test, or set CHROMIUM to its path",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard() -> Iterator[tuple[str, Path]]:
    demo = demo_dir()
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "AMP_WAREHOUSE": str(demo / "warehouse.duckdb"),
            "AMP_STATE_DIR": str(demo / "state"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "streamlit did not start in 60 s"
            time.sleep(0.3)
        yield url, demo
    finally:
        server.terminate()
        server.wait(timeout=20)


def metric(page: object, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(  # type: ignore[attr-defined]
        has=page.locator(  # type: ignore[attr-defined]
            '[data-testid="stMetricLabel"]', has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")
        )
    )
    return str(card.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def settle(page: object, charts: int) -> None:
    """Wait until the page has drawn its charts and stopped running."""
    page.locator(".vega-embed").nth(charts - 1).wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    page.wait_for_timeout(800)  # type: ignore[attr-defined]  # vega's transitions


def test_the_pages_and_a_filter_in_chromium(dashboard: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, demo = dashboard
    warehouse = demo / "warehouse.duckdb"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2300})
            page.goto(url)

            page.get_by_role("heading", name="Pipeline health").wait_for(timeout=30_000)
            settle(page, charts=2)
            hours = ledger_scalar(demo / "state", "select count(*) from hours where status='done'")
            assert metric(page, "Hours exported") == units.count(hours)
            assert metric(page, "Files not loaded") == "0"
            page.screenshot(path=str(SHOTS / "dashboard-1-pipeline-health.png"))

            page.get_by_text("Repeat clicks", exact=True).click()
            page.get_by_role("heading", name="Repeat clicks").wait_for(timeout=30_000)
            settle(page, charts=5)
            groups = marts_scalar(
                warehouse, "select count(*) from analytics.amplitude__repeat_clicks"
            )
            assert metric(page, "Repeat groups") == units.count(groups)
            page.screenshot(path=str(SHOTS / "dashboard-2-repeat-clicks.png"))

            page.get_by_text("Sessions and users", exact=True).click()
            page.get_by_role("heading", name="Sessions and users").wait_for(timeout=30_000)
            settle(page, charts=4)
            users = marts_scalar(
                warehouse, "select count(*) from analytics.amplitude__user_enhanced"
            )
            assert metric(page, "Users") == units.count(users)
            page.screenshot(path=str(SHOTS / "dashboard-3-sessions-and-users.png"))

            # A filter: one country; the numbers follow, the caption says which.
            country = page.locator('[data-testid="stSelectbox"]').filter(has_text="Country")
            country.locator("div[data-baseweb='select']").click()
            page.get_by_role("option", name="Germany", exact=True).click()
            germans = marts_scalar(
                warehouse,
                "select count(distinct amplitude_id) from analytics.amplitude__event_enhanced "
                "where country = 'Germany'",
            )
            page.get_by_text("country Germany").first.wait_for(timeout=30_000)
            settle(page, charts=4)
            assert 0 < germans < users
            assert metric(page, "Users") == units.count(germans)
            page.screenshot(path=str(SHOTS / "dashboard-4-sessions-germany.png"))
        finally:
            browser.close()
    for name in (
        "dashboard-1-pipeline-health.png",
        "dashboard-2-repeat-clicks.png",
        "dashboard-3-sessions-and-users.png",
        "dashboard-4-sessions-germany.png",
    ):
        assert (SHOTS / name).stat().st_size > 20_000, name
