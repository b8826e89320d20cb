"""The whole app in a real Chromium: `streamlit run app.py` on a small warehouse renders the Data page without an
exception, and after an ingest-like write from another process a reload shows the new rows (SPEC §3); on a small
demo shop every page renders real content without an error element, with a screenshot and its render time.

`SHOPKPI_BROWSER_DB=/path/to/shopkpi.duckdb` runs the every-page test on another warehouse (e.g. the full 2-year
demo) to measure render times there; they are written to test-artifacts/page-times.txt."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

import pages
from bench.page_times import (  # what a drawn page is, the browser and how to time it: one place for both
    PAGES,
    SCRIPT_DONE,
    Drawn,
    fresh_load,
    switch_to,
    wait_until_drawn,
)
from tests.e2e.conftest import ARTIFACTS, serve
from tests.support.demo import demo_warehouse
from tests.support.small import build_small_warehouse, write_orders_in_another_process

pytestmark = pytest.mark.browser


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)  # 3 orders, one load in ingest_log, one rejected row
    return db


@pytest.fixture
def app_url(warehouse_path: Path, tmp_path: Path) -> Iterator[str]:
    yield from serve(warehouse_path, tmp_path / "streamlit.log")


def wait_for_data_page(page, orders: str, tables: int = 4) -> None:
    """Wait until the script run has finished and the `orders` row-count card and all `tables` tables are drawn."""
    page.wait_for_selector(SCRIPT_DONE, timeout=30_000)
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text("orders"))
    expect(card.get_by_test_id("stMetricValue")).to_have_text(orders, timeout=30_000)
    # The grid component loads lazily, after the metric cards: tables, loads, reject summary, rejected rows, and the
    # rollups where the warehouse has them.
    expect(page.get_by_test_id("stDataFrame")).to_have_count(tables, timeout=30_000)
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible(timeout=30_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1)


def test_data_page_shows_rows_and_then_an_ingest_from_another_process(page, app_url: str, warehouse_path: Path) -> None:
    page.goto(f"{app_url}/data")

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


# --- every page on a demo shop ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> Iterator[str]:
    db = Path(os.environ.get("SHOPKPI_BROWSER_DB") or demo_warehouse())
    yield from serve(db, tmp_path_factory.mktemp("demo-server") / "streamlit.log")


def wait_for_page(page, title: str, selector: str, at_least: int) -> Drawn:
    """Until the page's title is drawn, its script run has finished and its real content is on screen; returns when
    each first showed, checked in the page on every animation frame (seconds since the document's navigation)."""
    return wait_until_drawn(page, title, selector, at_least)


def test_every_page_renders_real_content_without_an_error(page, demo_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    times: dict[str, dict[str, float]] = {}
    # Warm the server up once (Python imports, the first connection): that is start-up, not a page render.
    first = fresh_load(page, demo_url, "Overview", "[data-testid='stMetric']", 10)
    print(f"first visit after start (Overview): {first.drawn_s:.2f} s")
    for path, title, selector, at_least in PAGES:
        name = path or "overview"
        # A new document, timed from its navigation start by the page's own clock (not Playwright's polling).
        loaded = fresh_load(page, f"{demo_url}/{path}", title, selector, at_least)

        assert page.locator("[data-testid='stException']").count() == 0, f"{title}: an exception is shown"
        assert page.get_by_text("could not be drawn").count() == 0, f"{title}: the page failed"
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

        # The same page again through the sidebar, as a user moves around: results are cached by then.
        other = next(spec for spec in PAGES if spec[1] == ("Data" if title != "Data" else "Overview"))
        switch_to(page, *other[1:])
        switched = switch_to(page, title, selector, at_least)
        assert page.locator("[data-testid='stException']").count() == 0, f"{title}: an exception is shown"
        times[name] = {
            "load_s": round(loaded.drawn_s, 2),
            "load_title_s": round(loaded.heading_s, 2),
            "switch_s": round(switched.drawn_s, 2),
        }
    (ARTIFACTS / "page-times.txt").write_text(json.dumps(times, indent=2) + "\n")
    print(json.dumps(times, indent=2))


TITLES_ZH = {entry.title_en: entry.title_zh for entry in pages.PAGES}  # the menu, in Chinese


def test_every_page_renders_in_chinese(page, demo_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for path, title, selector, at_least in PAGES:
        zh = TITLES_ZH[title]
        fresh_load(page, f"{demo_url}/{path}?lang=zh", zh, selector, at_least)  # a shared link in Chinese
        assert page.locator("[data-testid='stException']").count() == 0, f"{zh}: an exception is shown"
        assert page.get_by_text("页面无法显示").count() == 0, f"{zh}: the page failed"
        nav = page.get_by_test_id("stSidebarNav")
        assert [nav.get_by_role("link", name=name).count() for name in TITLES_ZH.values()] == [1] * len(TITLES_ZH)
        page.screenshot(path=str(ARTIFACTS / f"{path or 'overview'}-zh.png"), full_page=True)


def test_a_drill_down_click_focuses_the_traffic_page(page, demo_url: str) -> None:
    page.goto(f"{demo_url}/traffic")
    wait_for_page(page, "Traffic", "[data-testid='stVegaLiteChart']", 3)
    chart = page.get_by_test_id("stVegaLiteChart").first  # the revenue bars
    bars = chart.locator("g.mark-rect path")  # Vega's SVG: one path per bar, top-down in the data's order
    expect(bars.first).to_be_visible(timeout=30_000)
    box = bars.first.bounding_box()  # the top bar: the largest revenue
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")  # "<group>: <revenue>", as the unit formats it
    expect(tooltip).to_be_visible(timeout=10_000)
    top, revenue = tooltip.inner_text().rsplit(": ", 1)
    assert revenue.replace(",", "").isdigit(), revenue
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_text(f"Drilled into {top}")).to_be_visible(timeout=30_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    # The funnel beside is the clicked group's alone: titled with its name.
    funnel = page.get_by_test_id("stVegaLiteChart").nth(1)
    expect(funnel.locator("g.role-title-text text").first).to_have_text(top)
    page.screenshot(path=str(ARTIFACTS / "traffic-drill-down.png"), full_page=True)


def test_a_deep_link_to_a_fresh_server_shows_the_app_with_its_sidebar(page, app_url: str) -> None:
    # The first request after start is a shared link to another page: Streamlit runs that page file directly
    # unless the page routes back through app.py (shopkpi.ui.ensure_routed).
    page.goto(f"{app_url}/traffic?period=last_7")
    expect(page.get_by_role("heading", name="Traffic", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    expect(nav.get_by_role("link", name="app")).to_have_count(0)
    assert page.locator("[data-testid='stException']").count() == 0


def watch_sockets(page) -> list[str]:
    """What happens to the page's WebSockets from now on: "open URL" and "closed URL", in order."""
    events: list[str] = []

    def opened(socket) -> None:
        events.append(f"open {socket.url}")
        socket.on("close", lambda closed: events.append(f"closed {closed.url}"))

    page.on("websocket", opened)
    return events


def give_file(uploader, path: Path, sockets: list[str], log: Path, tries: int = 3) -> None:
    """Give `path` to `uploader` as a user picking it would, until the uploader lists it.

    Streamlit 1.67's uploader lists a file only once the server has answered its request for upload URLs. A request
    made while the page's WebSocket reconnects is lost unanswered (the server discards it: Runtime.handle_backmsg,
    "Discarding BackMsg for disconnected session"; the reconnect remounts the uploader without the file), so the
    file is never listed and a user picks it again (streamlit/streamlit pull request 16950, open, queues such
    requests). So does this; should the file still not be listed, it says what the page's WebSockets did and what
    the server logged."""
    for attempt in range(1, tries + 1):
        uploader.locator("input[type='file']").set_input_files(str(path))
        try:
            expect(uploader.get_by_text(path.name)).to_be_visible(timeout=20_000)
        except AssertionError:
            print(f"{path.name} not listed 20 s after try {attempt}; WebSockets: {sockets}")
            continue
        expect(uploader.get_by_text(path.name)).to_have_count(1)  # one file: a late answer would list it twice
        return
    pytest.fail(f"{path.name} never listed after {tries} tries; WebSockets: {sockets}\n{log.read_text()}")


def test_an_upload_creates_the_warehouse_and_shows_its_row_accounting(page, tmp_path: Path) -> None:
    export = tmp_path / "more-orders.csv"
    export.write_text("order_id,ordered_at,status\nB1,2024-02-11 10:00,paid\nB2,2024-02-11 11:00,lost\n")
    for url in serve(tmp_path / "new.duckdb", tmp_path / "streamlit.log"):
        sockets = watch_sockets(page)
        page.goto(f"{url}/data")
        expect(page.get_by_text("No data yet")).to_be_visible(timeout=60_000)
        # A file given while the first run is still drawing can be dropped with the widget it was given to.
        expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
        # The first uploader: canonical tables (the second takes a platform's export).
        uploader = page.get_by_test_id("stFileUploader").first
        give_file(uploader, export, sockets, tmp_path / "streamlit.log")
        page.get_by_role("button", name="Load 1 file(s) into orders").click(timeout=60_000)
        # 2 rows read = 1 inserted + 0 updated + 0 duplicates + 1 rejected (status 'lost').
        expect(page.get_by_text("more-orders.csv → orders: 2 rows read = 1 inserted")).to_be_visible(timeout=60_000)
        expect(page.locator(SCRIPT_DONE)).to_have_count(1, timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "data-upload.png"), full_page=True)
        page.reload()
        wait_for_data_page(page, orders="1", tables=5)  # an upload's first load builds the rollups
