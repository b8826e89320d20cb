"""The real browser and a real `shopkpi serve` for the end-to-end tests (Debian's Chromium, driven by Playwright)."""

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
from playwright.sync_api import sync_playwright

from bench.page_times import CHROMIUM, CHROMIUM_ARGS
from shopkpi.settings import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"


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


def serve(warehouse_path: Path, log: Path) -> Iterator[str]:
    """Run `shopkpi serve` (the product's own command) on the warehouse on a free port; yields its URL until the
    caller is done."""
    port = free_port()
    env = {**os.environ, "SHOPKPI_DB": str(warehouse_path), "SHOPKPI_UPLOAD_DIR": str(log.parent / "uploads")}
    env.pop("SHOPKPI_CONFIG", None)
    shopkpi = Path(sys.executable).with_name("shopkpi")  # the console script installed beside this Python
    command = [str(shopkpi), "serve", "--db", str(warehouse_path), "--port", str(port)]
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
