"""Sign-in with roles in a real Chromium: with a users file, a link to /pnl shows only the sign-in page; an analyst
who signs in there gets no P&L page (not in the menu, not by URL), while an executive lands on it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.page_times import SCRIPT_DONE
from shopkpi import auth
from tests.e2e.conftest import ARTIFACTS, serve
from tests.support.demo import demo_warehouse

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def signed_url(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("auth-server")
    users = root / "users.toml"
    auth.add_user(users, "ana", PASSWORD, "analyst")
    auth.add_user(users, "eve", PASSWORD, "executive")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPKPI_USERS", str(users))  # serve() passes this process's environment to streamlit
        yield from serve(demo_warehouse(), root / "streamlit.log")


def sign_in(page, username: str, lands_on: str = "Overview") -> None:  # noqa: F811
    expect(page.get_by_role("heading", name="Sign in", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    page.wait_for_timeout(500)
    if page.get_by_role("dialog").count():  # Streamlit's "Page not found" notice for a page this session lacks
        page.screenshot(path=str(ARTIFACTS / "auth-page-not-found.png"), full_page=True)
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=lands_on, exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)


def test_an_analyst_cannot_open_the_pnl_by_url(page, signed_url: str) -> None:  # noqa: F811
    page.goto(f"{signed_url}/pnl")
    expect(page.get_by_role("heading", name="Sign in", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    assert page.get_by_role("heading", name="P&L").count() == 0, "nothing of the P&L before sign-in"

    sign_in(page, "ana")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Traffic")).to_be_visible()
    expect(nav.get_by_role("link", name="P&L")).to_have_count(0)
    expect(nav.get_by_role("link", name="Reports")).to_have_count(0)
    assert page.get_by_test_id("stMetricLabel").get_by_text("Net profit").count() == 0

    # The address bar, in this signed-in session: a client-side navigation to /pnl, as a typed-in link would do
    # after sign-in. The P&L is not routed for an analyst, so it never renders.
    page.evaluate("window.history.pushState({}, '', '/pnl'); window.dispatchEvent(new PopStateEvent('popstate'))")
    page.wait_for_timeout(2000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    assert page.get_by_role("heading", name="P&L", exact=True).count() == 0
    assert page.get_by_text("Monthly statement").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "auth-analyst-pnl.png"), full_page=True)

    # A fresh page load of /pnl is a new session: back to sign-in, and after it still no P&L.
    page.goto(f"{signed_url}/pnl")
    sign_in(page, "ana")
    assert page.get_by_role("heading", name="P&L", exact=True).count() == 0
    assert page.locator("[data-testid='stException']").count() == 0


def test_an_executive_reaches_the_pnl(page, signed_url: str) -> None:  # noqa: F811
    # A shared link to the P&L: sign in first, then the link's page opens (it is the executive's to see).
    page.goto(f"{signed_url}/pnl")
    sign_in(page, "eve", lands_on="P&L")
    expect(page.get_by_text("Monthly statement")).to_be_visible(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "auth-executive-pnl.png"), full_page=True)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Traffic").click()
    expect(page.get_by_role("heading", name="Traffic", exact=True).first).to_be_visible(timeout=60_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="P&L").click()
    expect(page.get_by_role("heading", name="P&L", exact=True).first).to_be_visible(timeout=60_000)


def _status(url: str) -> int:
    """The HTTP status of a GET of `url` by a client with no cookie (another program, or a link shared later)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _download(page, button: str):  # noqa: ANN202
    with page.expect_download(timeout=60_000) as started:
        page.get_by_role("button", name=button).click()
    return started.value


def test_downloads_and_metrics_answer_only_the_signed_in_session_while_it_lasts(page, signed_url: str) -> None:
    # Issue 17, item 4: an executive's P&L CSV (/media/<id>.csv) and report PDF answered 200 to a client without
    # any cookie, 65 s after the tab was closed; /_stcore/metrics answered anyone.
    assert _status(f"{signed_url}/_stcore/metrics") == 403
    page.goto(f"{signed_url}/pnl")
    sign_in(page, "eve", lands_on="P&L")
    csv = _download(page, "Download the statement (CSV)")
    assert "/media/" in csv.url and "Net profit" in Path(csv.path()).read_text()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    pdf = _download(page, "PDF for reading and printing")  # built on click (a deferred download)
    assert Path(pdf.path()).read_bytes().startswith(b"%PDF")
    browser = page.context.request  # the same browser: its cookies, its session
    for url in (csv.url, pdf.url):
        assert browser.get(url).status == 200, "the session it was made for may download it again"
        assert _status(url) == 404, "a client without the session's cookie is told it does not exist"
    assert browser.get(f"{signed_url}/_stcore/metrics").status == 200
    # Closing the tab ends the session: from then on, not even this browser's cookie fetches the files.
    page.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and browser.get(csv.url).status == 200:
        time.sleep(0.25)
    assert [browser.get(url).status for url in (csv.url, pdf.url)] == [404, 404]
    assert browser.get(f"{signed_url}/_stcore/metrics").status == 403
