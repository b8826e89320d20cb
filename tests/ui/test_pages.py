"""AppTest of every dashboard page on a small demo shop: the menu is the page list (pages.PAGES), no exception, the
expected labels, filters that change the numbers, the state in the URL, Chinese labels, and empty states in words.

The Forecast page is drawn in tests/metrics/test_forecast_demo.py, the Reports page in
tests/reports/test_reports_page.py; tests/ui/test_warmup.py opens every page in both languages."""

from __future__ import annotations

import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import pages
from metrics import compute_kpis, format_value
from metrics.periods import Period
from pages.traffic import TABLE_METRICS
from shopkpi import auth, ui
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import NO_DATA, signin
from tests.support.app import no_failure, open_app, shown_text
from tests.support.demo import END
from warehouse import open_read_only, writing

TITLES = {page.url_path: (page.title_en, page.title_zh) for page in pages.PAGES}
# Headings or labels each page must show on the demo shop.
EXPECTED = {
    "overview": ["What changed", "Alerts"],
    "traffic": ["Funnel", "Trends", "Revenue"],
    "customers": ["New vs returning customers", "Cohort retention"],
    "products": ["Top products", "Categories", "Stock"],
    "pnl": ["Monthly statement", "One month, top to bottom", "Against last year", "Margins over time"],
    "data": ["Tables", "Last loads"],
}
PAGES = tuple(EXPECTED)  # the data page last: it has no period (the tests of PAGES[:-1] need one)


def menu(at: AppTest) -> list[tuple[str, str, str, str]]:
    """The pages st.navigation registered on the last run, in menu order: (file, title, icon, URL path)."""
    # AppTest keeps them in a private attribute (Streamlit 1.67 has no public accessor); switch_page reads it too.
    return [
        (
            Path(info["script_path"]).relative_to(REPO_ROOT).as_posix(),
            info["page_name"],
            info["icon"],
            info["url_pathname"],
        )
        for info in at._registered_pages.values()
    ]


def test_every_page_file_is_in_the_page_list_once() -> None:
    files = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "pages").glob("*.py"))
    declared = [page.file for page in pages.PAGES]
    assert sorted(declared) == [f for f in files if f != "pages/__init__.py"]
    assert len({page.title_en for page in pages.PAGES}) == len({page.title_zh for page in pages.PAGES}) == len(declared)
    assert pages.page("pages/pnl.py").roles == auth.PROFIT_ROLES
    assert pages.page(str(REPO_ROOT / "pages" / "traffic.py")) is pages.PAGES[1]  # a page module's own __file__


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_menu_is_the_page_list_in_its_order(demo_db, monkeypatch, lang) -> None:
    at = open_app(demo_db, monkeypatch, lang=lang)
    no_failure(at)
    assert menu(at) == [
        (p.file, p.title_zh if lang == "zh" else p.title_en, p.icon, "" if p is pages.HOME else p.url_path)
        for p in pages.PAGES
    ]


def test_a_role_gets_the_pages_of_its_roles_only(demo_db, monkeypatch, tmp_path) -> None:
    users = tmp_path / "users.toml"
    auth.add_user(users, "ana", "correct horse battery", "analyst")
    monkeypatch.setenv("SHOPKPI_DB", str(demo_db))
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.session_state[signin.SESSION_KEY] = {"username": "ana", "role": "analyst", "signed_in_at": time.time()}
    at.run()
    no_failure(at)
    routed = [file for file, *_ in menu(at)]
    assert routed == [p.file for p in pages.PAGES if "analyst" in p.roles]
    assert "pages/pnl.py" not in routed and "pages/overview.py" in routed


def cards(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_its_sections(demo_db, monkeypatch, page) -> None:
    at = open_app(demo_db, monkeypatch, page)
    no_failure(at)
    assert at.title[0].value == TITLES[page][0]
    text = shown_text(at)
    for label in EXPECTED[page]:
        assert label in text, f"{page} should show {label!r}"


def test_overview_cards_match_the_metrics_layer_and_follow_the_source_filter(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch)
    period = Period(END.replace(day=1), END)  # the demo's latest date is 30 June; last 30 days = 1–30 June
    with open_read_only(demo_db) as con:
        everyone = compute_kpis(con, period, metrics=["sessions", "total_revenue"]).row(0, named=True)
        by_source = {
            r["group"]: r for r in compute_kpis(con, period, by="source", metrics=["sessions"]).iter_rows(named=True)
        }
    assert cards(at)["Sessions"] == format_value("sessions", everyone["sessions"])
    assert cards(at)["Total revenue"] == f"{everyone['total_revenue']:,.0f}"

    at.selectbox(key="f_source").set_value("social").run()
    no_failure(at)
    assert cards(at)["Sessions"] == format_value("sessions", by_source["social"]["sessions"])
    assert at.query_params["source"] == "social", "the filter is in the URL, so the view can be shared"
    # Operating expenses split by nothing: net profit is blank under a filter, and its card says why.
    net = next(m for m in at.metric if m.label == "Net profit")
    assert net.value == "—"
    assert "cannot be split by source" in net.proto.help


def test_a_shared_url_opens_the_same_view(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, period="last_7", device="mobile", vs="last_year")
    no_failure(at)
    with open_read_only(demo_db) as con:
        from metrics.segments import Segment

        mobile = Segment(device="mobile")
        week = compute_kpis(con, Period(END.replace(day=24), END), metrics=["sessions"], segment=mobile)
        week = week.row(0, named=True)
    assert cards(at)["Sessions"] == format_value("sessions", week["sessions"])
    assert at.selectbox(key="f_preset").value == "last_7"
    assert at.radio(key="f_vs").value == "last_year"
    assert "2024-06-24 – 2024-06-30" in shown_text(at)


def test_a_link_with_a_split_opens_the_traffic_page_split_so_and_a_new_split_is_in_the_address(
    demo_db, monkeypatch
) -> None:
    at = open_app(demo_db, monkeypatch, "traffic", split="medium")
    period = Period(END - timedelta(days=29), END)  # the default view: the last 30 days
    with open_read_only(demo_db) as con:
        media = compute_kpis(con, period, by="medium", metrics=TABLE_METRICS)
        devices = set(compute_kpis(con, period, by="device", metrics=TABLE_METRICS)["group"])
    # The demo's media include GA4's own "(none)" (direct traffic), so the group of orders without a session, which
    # is none elsewhere, is "(no value)" here: two groups, never merged under one name.
    assert "(none)" in set(media["group"]) and None in set(media["group"])
    shown = at.dataframe[0].value
    assert sorted(shown["group"]) == sorted(g or "(no value)" for g in media["group"])
    assert shown.set_index("group").loc["(no value)", "sessions"] == 0
    assert shown.set_index("group").loc["(none)", "sessions"] > 0
    assert "orders without one form the group (no value)" in shown_text(at)
    assert at.query_params["split"] == "medium"

    at.button_group(key="traffic_by").set_value("device").run()
    no_failure(at)
    assert set(at.dataframe[0].value["group"]) == {g or "(none)" for g in devices}
    assert at.query_params["split"] == "device", "the split is in the URL, so the view can be shared"
    at.button_group(key="traffic_by").set_value("source").run()
    assert "split" not in at.query_params, "the default split leaves the address plain"


def traffic_by_medium(db: Path, monkeypatch) -> AppTest:
    """The Traffic page split by medium (from the address) on the warehouse `db`, after the home page's run."""
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.query_params["split"] = "medium"
    at.run()
    at.switch_page("pages/traffic.py").run()
    return at


def test_a_split_whose_visitors_are_slow_to_count_draws_its_table_first_and_fills_them_in(
    demo_db, tmp_path, monkeypatch
) -> None:
    """Issue 14: visitors by medium are an exact distinct count over the period's sessions (no spans hold them), which
    takes seconds for a year of a large shop; the rest of the table a tenth of a second. Over
    later.BACKGROUND_FROM_SESSIONS sessions (0 here, so the demo's month is over it) the table is drawn without them,
    saying so, and filled in by the background count (here after the page run's wait for it, made short, ran out).
    The source, whose visitors come from spans (kept here instead of the default visitor numbers), is drawn whole."""
    from metrics.rollups import build_rollups, choose_visitor_numbers, choose_visitor_splits
    from shopkpi.ui import later, warmup

    db = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_db, db)  # its own cache entries, whatever other tests computed
    with writing(db) as con:  # the source's visitors' spans, and no visitor numbers (which count any split at once)
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["source"])
        build_rollups(con)
    monkeypatch.setattr(later, "BACKGROUND_FROM_SESSIONS", 0)
    monkeypatch.setattr(later, "WAIT_IN_RUN_SECONDS", 0.3)
    monkeypatch.setattr(warmup, "start", lambda: None)  # no warm-up of this copy, in this process, after the test
    gate, real = threading.Event(), later._compute

    def held(*args, **kwargs):  # the background work waits until the test has seen the page without its result
        gate.wait(timeout=60)
        return real(*args, **kwargs)

    monkeypatch.setattr(later, "_compute", held)
    try:
        at = traffic_by_medium(db, monkeypatch)
        no_failure(at)
        first = at.dataframe[0].value
        assert len(first) > 1 and first["sessions"].sum() > 0
        assert first["visitors"].isna().all(), "no visitors shown before they are counted"
        assert "Counting the visitors of each medium over this period's" in shown_text(at)
        # The command that would count them at once for any split and filter.
        assert "shopkpi rollups --visitor-numbers on" in shown_text(at)
        assert at.get("download_button")[0].proto.disabled, "no download of a table still being filled in"
        at.button_group(key="traffic_by").set_value("source").run()
        no_failure(at)
        assert at.dataframe[0].value["visitors"].notna().all(), "the source's visitors are drawn at once"
        assert "Counting the visitors" not in shown_text(at)
        at.button_group(key="traffic_by").set_value("medium").run()
    finally:
        gate.set()
    later.wait(timeout=60)
    at.run()
    no_failure(at)
    whole = at.dataframe[0].value
    assert "Counting the visitors" not in shown_text(at)
    assert not at.get("download_button")[0].proto.disabled
    assert whole.drop(columns="visitors").equals(first.drop(columns="visitors")), "only the visitors filled in"
    assert_visitors_by_medium_of_the_last_30_days(db, whole)


def assert_visitors_by_medium_of_the_last_30_days(db: Path, table) -> None:
    """The Traffic table's visitors per medium (the default view: the last 30 days) are the distinct visitors of the
    sessions, counted here by SQL."""
    period = Period(END - timedelta(days=29), END)
    with open_read_only(db) as con:
        counted = con.sql(
            """select medium, count(distinct store || chr(31) || visitor_id)
            from sessions where cast(started_at as date) between ? and ? group by all""",
            params=[period.start, period.end],
        ).fetchall()
    # Every demo session has a medium (GA's own "(none)" among them); the group of orders without a session has none.
    with_sessions = table[table["sessions"] > 0]
    assert dict(zip(with_sessions["group"], with_sessions["visitors"], strict=True)) == dict(counted)


@pytest.mark.parametrize("kept", ["spans", "numbers"])
def test_a_split_whose_visitors_the_warehouse_keeps_ready_is_drawn_whole_at_once(
    demo_db, tmp_path, monkeypatch, kept
) -> None:
    """Issue 14: a warehouse that keeps the medium's visitors' spans (`shopkpi rollups --visitor-splits`) or its
    visitors numbered (`--visitor-numbers on`) counts a split by medium from them, as the source's: the table is drawn
    whole in the page run, with no background count (which would fail here) even over later.BACKGROUND_FROM_SESSIONS
    sessions."""
    from metrics.rollups import build_rollups, choose_visitor_numbers, choose_visitor_splits
    from shopkpi.ui import later, warmup

    db = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_db, db)
    with writing(db) as con:
        if kept == "spans":
            choose_visitor_splits(con, ["source", "medium"])
        else:
            choose_visitor_numbers(con, True)
        build_rollups(con)
    monkeypatch.setattr(later, "BACKGROUND_FROM_SESSIONS", 0)
    monkeypatch.setattr(warmup, "start", lambda: None)

    def refused(*args, **kwargs):
        raise AssertionError("no background count where the spans answer")

    monkeypatch.setattr(later, "_compute", refused)
    at = traffic_by_medium(db, monkeypatch)
    no_failure(at)
    table = at.dataframe[0].value
    assert "Counting the visitors" not in shown_text(at)
    assert_visitors_by_medium_of_the_last_30_days(db, table)


def test_visitors_counted_within_the_page_run_are_drawn_in_it_after_the_rest_of_the_page(
    demo_db, tmp_path, monkeypatch
) -> None:
    """Issue 14: a count of visitors that ends within later.WAIT_IN_RUN_SECONDS is waited for at the end of the page
    run, once the rest of the page (here its trend chart) has been drawn, and the table is drawn in place with it: no
    note is left and no second run is needed. The count here is held until the page has drawn its trend chart."""
    from shopkpi.ui import later, warmup

    db = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_db, db)
    monkeypatch.setattr(later, "BACKGROUND_FROM_SESSIONS", 0)
    monkeypatch.setattr(warmup, "start", lambda: None)
    drawn, real_vega, real_compute = threading.Event(), ui.vega, later._compute

    def vega(spec, key, **kwargs):  # the trend is the page's last chart
        result = real_vega(spec, key, **kwargs)
        if key == "traffic_trend":
            drawn.set()
        return result

    def held(*args, **kwargs):
        assert drawn.wait(timeout=60), "the page waited for the count before drawing its trend"
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(ui, "vega", vega)
    monkeypatch.setattr(later, "_compute", held)
    at = traffic_by_medium(db, monkeypatch)
    no_failure(at)
    assert drawn.is_set()
    table = at.dataframe[0].value
    assert table["visitors"][table["sessions"] > 0].notna().all(), "the visitors are in the table of this very run"
    assert "Counting the visitors" not in shown_text(at)
    assert not at.get("download_button")[0].proto.disabled
    assert len(at.dataframe) == 1, "the table drawn again in its place, not a second one"


def test_traffic_table_changes_with_the_split_and_the_device_filter(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, "traffic")
    table = at.dataframe[0].value
    sources = set(table["group"])
    assert {"social", "direct", "(none)"} <= sources
    assert at.get("download_button"), "what is shown can be downloaded"
    total = table["sessions"].sum()

    at.selectbox(key="f_device").set_value("mobile").run()
    no_failure(at)
    mobile = at.dataframe[0].value
    assert 0 < mobile["sessions"].sum() < total
    assert mobile["ad_spend"].isna().all(), "ad spend cannot be split by device: blank, not 0"


def test_a_drilled_source_can_filter_every_page(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, "traffic")
    at.session_state["traffic_focus"] = "email"  # what a click on the email bar sets (the browser test clicks)
    at.run()
    assert "Drilled into **email**" in shown_text(at)
    at.button(key="traffic_apply").click().run()
    no_failure(at)
    assert at.selectbox(key="f_source").value == "email"
    assert set(at.dataframe[0].value["group"]) == {"email"}


def test_customers_and_products_follow_the_source_filter(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, "customers")
    buyers = cards(at)["Buyers"]
    at.selectbox(key="f_source").set_value("email").run()
    no_failure(at)
    assert cards(at)["Buyers"] != buyers

    at.switch_page("pages/products.py").run()
    no_failure(at)
    email_top = at.dataframe[0].value["gross_sales"].sum()
    at.selectbox(key="f_source").set_value("").run()
    assert at.dataframe[0].value["gross_sales"].sum() > email_top


def test_pnl_statement_blanks_net_profit_under_a_filter(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, "pnl")
    statement = at.dataframe[0].value.set_index("label")
    assert statement.loc["Net profit"].iloc[-1] != "—"
    at.selectbox(key="f_device").set_value("app").run()
    no_failure(at)
    statement = at.dataframe[0].value.set_index("label")
    assert statement.loc["Net profit"].iloc[-1] == "—"
    assert statement.loc["Gross sales"].iloc[-1] != "—"


@pytest.mark.parametrize("page", PAGES[:-1])
def test_chinese_labels_come_from_the_registry(demo_db, monkeypatch, page) -> None:
    at = open_app(demo_db, monkeypatch, page, lang="zh")
    no_failure(at)
    assert at.title[0].value == TITLES[page][1]
    if page == "overview":
        assert "总收入" in cards(at) and "访问转化率" in cards(at)
        # The card's tooltip: definition and target note in Chinese too (the registry's, the targets file's).
        help_text = next(m.help for m in at.metric if m.label == "访问转化率")
        assert "有效订单" in help_text and "orders with" not in help_text, help_text
        assert re.search(r"目标 .*：(达标|接近目标|未达标)。", help_text), help_text


def test_a_period_without_data_is_a_sentence(demo_db, monkeypatch) -> None:
    for page in ("overview", "traffic", "customers", "products"):
        at = open_app(demo_db, monkeypatch, page, period="custom", **{"from": "2020-01-01", "to": "2020-01-31"})
        no_failure(at)
        text = shown_text(at)
        assert any(
            s in text
            for s in ("Nothing happened", "No sessions and no orders", "No orders in this period", "No product sold")
        ), page


@pytest.mark.parametrize("page", PAGES)
def test_without_a_warehouse_every_page_says_how_to_get_data(tmp_path, monkeypatch, page) -> None:
    at = open_app(tmp_path / "missing.duckdb", monkeypatch, page)
    no_failure(at)
    assert NO_DATA in [info.value for info in at.info]


@pytest.mark.parametrize("page", PAGES[:-1])
def test_an_empty_warehouse_is_explained(tmp_path, monkeypatch, page) -> None:
    demo_db = tmp_path / "empty.duckdb"
    with writing(demo_db):
        pass
    at = open_app(demo_db, monkeypatch, page)
    no_failure(at)
    assert "has no orders, sessions or ad spend yet" in "\n".join(i.value for i in at.info)


def test_the_pnl_of_a_young_shop_starts_with_its_data_and_has_no_last_year(demo_db, monkeypatch) -> None:
    # The demo shop's data begins on 2024-05-02: months before are months without data, not months of zeros.
    at = open_app(demo_db, monkeypatch, "pnl")
    no_failure(at)
    # May has data from the 2nd: a partial month, named so.
    assert list(at.dataframe[0].value.columns) == ["label", "2024-05 (partial)", "2024-06"]
    assert "The 2 months to 2024-06" in at.caption[0].value and "from 2024-05" in at.caption[0].value
    against = at.dataframe[1].value.set_index("Line")
    assert set(against["Last year"]) == {"—"} and set(against["Change"]) == {"—"}


def test_the_overview_and_the_products_page_name_the_same_products_to_reorder(demo_db, monkeypatch) -> None:
    overview = open_app(demo_db, monkeypatch, "overview")
    warning = next(w.value for w in overview.warning if "should be reordered now" in w.value)
    count = int(re.search(r"\*\*(\d+) products\*\*", warning).group(1))
    products = open_app(demo_db, monkeypatch, "products")
    no_failure(overview), no_failure(products)
    assert f"**Reorder now: {count} products**" in shown_text(products)
    first_five = list(overview.dataframe[0].value["sku"])
    reorder_table = next(d.value for d in products.dataframe if "late" in d.value.columns or "Late" in d.value.columns)
    assert first_five == list(reorder_table["sku"])[:5]  # same products, same order (late first, then by date)
