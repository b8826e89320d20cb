"""The whole app in a real Chromium: `streamlit run app.py` on a small warehouse renders the Data page without an
exception, and after an ingest-like write from another process a reload shows the new rows (SPEC §3)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from shopkpi.settings import REPO_ROOT
from tests.test_data_page import build_small_warehouse
from tests.test_live_reload import write_orders_in_another_process

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCRIPT_DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode} before serving:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer /_stcore/health within {timeout:.0f}s:\n{log.read_text()}")


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)  # 3 orders, one load in ingest_log, one rejected row
    return db


@pytest.fixture
def app_url(warehouse_path: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "SHOPKPI_DB": str(warehouse_path)}
    env.pop("SHOPKPI_CONFIG", None)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (never `playwright install`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 2000})
            yield context.new_page()
        finally:
            browser.close()


def wait_for_data_page(page, orders: str) -> None:
    """Wait until the script run has finished and the `orders` row-count card and all four tables are drawn."""
    page.wait_for_selector(SCRIPT_DONE, timeout=30_000)
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text("orders"))
    expect(card.get_by_test_id("stMetricValue")).to_have_text(orders, timeout=30_000)
    # The grid component loads lazily, after the metric cards: tables, loads, reject summary, rejected rows.
    expect(page.get_by_test_id("stDataFrame")).to_have_count(4, timeout=30_000)
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible(timeout=30_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1)


def test_data_page_shows_rows_and_then_an_ingest_from_another_process(page, app_url: str, warehouse_path: Path) -> None:
    page.goto(app_url)

    wait_for_data_page(page, orders="3")
    expect(page.get_by_text("1 rejected row, by reason")).to_be_visible()
    assert page.locator("[data-testid='stException']").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-page.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download all rejected rows (CSV)").click()
    csv = Path(download.value.path()).read_text()
    assert "status 'lost' is not one of" in csv and "A4,2024-01-07,lost" in csv

    # The page (and its server-side reader) stays open while another process writes: the write must succeed.
    written = write_orders_in_another_process(warehouse_path, 3, 1200)
    assert written.returncode == 0, written.stderr
    page.reload()

    wait_for_data_page(page, orders="1,203")
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "data-page-after-ingest.png"), full_page=True)
