"""Issue 13 in a real browser: a shop whose session figures come from a platform's traffic report (no session logs)
served by `shopkpi serve`; every page draws real content without an error, and the Traffic page lists the report's
sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

import pages
from bench.page_times import fresh_load
from tests.e2e.conftest import ARTIFACTS, serve
from tests.support.traffic_shop import SOURCES, build_traffic_shop

pytestmark = pytest.mark.browser

# What every page of this shop has to show: some figure, chart or table (an empty state alone is not enough) ...
CONTENT = (
    "[data-testid='stMetric'], [data-testid='stVegaLiteChart'], [data-testid='stDataFrame'], "
    "[data-testid='stDownloadButton']"
)
# ... but for Products & stock, whose inputs it has not given (no order lines, products or stock counts), which says
# so in a sentence.
EMPTY = {"products": "No stock counts yet"}


@pytest.fixture(scope="module")
def traffic_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = build_traffic_shop(tmp_path_factory.mktemp("traffic-shop"))
    yield from serve(db, tmp_path_factory.mktemp("traffic-server") / "streamlit.log")


def test_every_page_draws_the_traffic_report_shop(page, traffic_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for entry in pages.PAGES:
        path = "" if entry is pages.PAGES[0] else entry.url_path
        if path in EMPTY:
            fresh_load(page, f"{traffic_url}/{path}", entry.title_en, "[data-testid='stCaptionContainer']", 1)
            page.get_by_text(EMPTY[path]).first.wait_for(timeout=30_000)
        else:
            fresh_load(page, f"{traffic_url}/{path}", entry.title_en, CONTENT, 1)
        page.screenshot(path=str(ARTIFACTS / f"traffic-shop-{path or 'overview'}.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0, f"{entry.title_en}: an exception is shown"
        assert page.get_by_text("could not be drawn").count() == 0, f"{entry.title_en}: the page failed"
    # The Traffic page's charts name each source of the report (the revenue bars by the report's sales, the trend's
    # legend): the table is drawn on a canvas, its cells are not text in the page.
    fresh_load(page, f"{traffic_url}/traffic", "Traffic", "[data-testid='stVegaLiteChart']", 2)
    for source in SOURCES:  # Vega draws its texts in SVG: they are text in the page
        expect(page.locator("[data-testid='stVegaLiteChart']").get_by_text(source).first).to_be_visible()
