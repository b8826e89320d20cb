"""Issue 13 on the dashboard: the warehouse of the real Tmall order report (store tmall) and two real Shopify exports
(stores shopify and explorer). The sidebar offers the store filter; every page draws for one store and for all of
them (where money in three currencies is shown as unknown, not added up)."""

from __future__ import annotations

import json

import pytest

import pages
from shopkpi.settings import Settings
from shopkpi.ui import uploads
from tests.support.app import no_failure, open_app, shown_text
from tests.support.two_stores import logged_and_report_shop
from tests.support.warehouse_rows import query

TMALL_FEBRUARY = {"store": "tmall", "period": "custom", "from": "2020-02-01", "to": "2020-02-29"}


@pytest.mark.parametrize("page", [p.url_path for p in pages.PAGES])
def test_every_page_draws_one_store(stores_db, monkeypatch, page) -> None:
    at = open_app(stores_db, monkeypatch, page, **TMALL_FEBRUARY)
    no_failure(at)
    store = next(box for box in at.sidebar.selectbox if box.label == "Store")
    assert store.value == "tmall" and store.options == ["All stores", "explorer", "shopify", "tmall"]


def test_the_overview_of_one_store_has_its_money_and_of_all_stores_says_why_not(stores_db, monkeypatch) -> None:
    at = open_app(stores_db, monkeypatch, "overview", **TMALL_FEBRUARY)
    assert "Store: tmall" in shown_text(at) or "Store: tmall" in str(at.caption)
    combined = open_app(stores_db, monkeypatch, "pnl", **{k: v for k, v in TMALL_FEBRUARY.items() if k != "store"})
    no_failure(combined)
    # The P&L's store table: a column per store and the total, whose money lines cannot add three currencies.
    text = shown_text(combined)
    assert "By store, 2020-02" in text and "stores in different currencies: CNY, GBP, USD" in text


def test_an_upload_names_its_store(tmp_path) -> None:
    # The Data page's upload takes the store as `--store` does: the same order ids in two stores are two orders.
    settings = Settings(db_path=tmp_path / "shop.duckdb", upload_dir=tmp_path / "uploads")
    csv = b"order_id,ordered_at,status\n1001,2024-03-01 10:00,paid\n"
    uploads.save_and_ingest(settings, "orders", "orders.csv", csv, store="jd")
    uploads.save_and_ingest(settings, "orders", "orders.csv", csv)
    assert query(settings.db_path, "select store, order_id from orders order by store") == [
        ("jd", "1001"),
        ("main", "1001"),
    ]


def test_a_logged_store_and_a_report_store_show_both_stores_sessions_and_say_where_they_come_from(
    tmp_path, monkeypatch
) -> None:
    # tests/metrics/test_stores.py's site (session logs, 3 sessions) and shopify (a traffic report, 40 sessions).
    db = logged_and_report_shop(tmp_path / "w.duckdb")
    june = {"period": "custom", "from": "2024-06-01", "to": "2024-06-02"}
    at = open_app(db, monkeypatch, "overview", **june)
    no_failure(at)
    cards = {m.label: m for m in at.metric}
    assert cards["Sessions"].value == "43"
    source = "Input: the session logs of site, plus the platform's traffic report of shopify"
    assert source in cards["Sessions"].proto.help and source in cards["Conversion rate"].proto.help
    assert source not in cards["Orders"].proto.help  # not a session figure
    # The report gives no add-to-cart sessions: "—" with that reason, not a silent blank.
    assert cards["Cart conversion rate"].value == "—"
    assert (
        "the platform's traffic report does not give add-to-cart sessions" in cards["Cart conversion rate"].proto.help
    )
    one = open_app(db, monkeypatch, "overview", store="shopify", **june)
    assert {m.label: m.value for m in one.metric}["Sessions"] == "40"
    report = "Input: the platform's traffic report (traffic table) of shopify."
    assert report in {m.label: m for m in one.metric}["Sessions"].proto.help
    traffic = open_app(db, monkeypatch, "traffic", **june)
    no_failure(traffic)
    rows = {r["group"]: r for r in traffic.dataframe[0].value.to_dict("records")}
    assert (rows["organic_search"]["sessions"], rows["paid_search"]["sessions"]) == (32, 11)
    columns = json.loads(traffic.dataframe[0].proto.columns)  # each column's config, its help among it
    assert source in columns["sessions"]["help"] and source not in columns["orders"]["help"]
    # Together, no report sales by channel (site's logs have none); the funnel is site's, and says so.
    assert "reported_sales" not in traffic.dataframe[0].value.columns
    assert any("The funnel covers the session logs of site only" in c.value for c in traffic.caption)
    shopify = open_app(db, monkeypatch, "traffic", store="shopify", **june)
    no_failure(shopify)
    rows = {r["group"]: r for r in shopify.dataframe[0].value.to_dict("records")}
    assert (rows["organic_search"]["reported_sales"], rows["paid_search"]["reported_sales"]) == (170, 80)


def test_the_reports_page_builds_the_report_of_the_sidebars_store(stores_db, monkeypatch) -> None:
    import io
    from datetime import date

    import openpyxl

    from pages import reports

    at = open_app(stores_db, monkeypatch, "reports", **TMALL_FEBRUARY)
    no_failure(at)
    assert "shopkpi report --store tmall" in shown_text(at)
    # The download the page offers, built as on a click: February 2020's report of tmall, in CNY.
    workbook = openpyxl.load_workbook(
        io.BytesIO(reports.deferred_report("monthly", date(2020, 2, 15), "xlsx", {}, "tmall")())
    )
    rows = list(workbook["KPIs vs targets"].iter_rows(values_only=True))
    value = {row[rows[0].index("Metric key")]: row[rows[0].index("Value")] for row in rows[1:]}
    [(orders,)] = query(
        stores_db,
        "select count(*) from orders where store = 'tmall' and status in ('paid', 'shipped', 'delivered', 'returned')"
        " and ordered_at >= '2020-02-01' and ordered_at < '2020-03-01'",
    )
    assert value["orders"] == orders > 0 and value["gross_sales"] is not None  # one currency: its money is known


def test_the_forecast_pages_alerts_are_the_sidebars_stores(tmp_path, monkeypatch) -> None:
    # tests/support/spiky.py: on 30 June b has 40 sessions against its usual 10–12; a has no data that day.
    from tests.support.spiky import spiky_shop

    db = spiky_shop(tmp_path / "w.duckdb")
    b = open_app(db, monkeypatch, "forecast", store="b")
    no_failure(b)
    spike = [w.value for w in [*b.warning, *b.success] if "Sessions up" in w.value]
    assert len(spike) == 1 and "40 against 1" in spike[0], spike  # 40 against an expected 10–12
    # Store a: b's spike is not a's (the whole shop's 40 against its usual 20–24 would be an alert too).
    a = open_app(db, monkeypatch, "forecast", store="a")
    no_failure(a)
    assert not [w.value for w in [*a.warning, *a.success] if "Sessions" in w.value]
    assert "No alerts on 2024-06-29" in shown_text(a)  # store a's own last day (the sidebar's latest under it)


def test_under_a_store_filter_the_sidebars_periods_end_on_that_stores_latest_date(tmp_path, monkeypatch) -> None:
    # tests/support/spiky.py: store a's data end on 29 June 2024, store b's and the warehouse's on 30 June.
    from tests.support.spiky import spiky_shop

    db = spiky_shop(tmp_path / "w.duckdb")
    for store, latest, first in ((None, "2024-06-30", "2024-06-01"), ("a", "2024-06-29", "2024-05-31")):
        at = open_app(db, monkeypatch, "overview", **({"store": store} if store else {}))
        no_failure(at)
        captions = [c.value for c in at.sidebar.caption]
        # The default period, the last 30 days, ends on the store's latest date.
        assert f"{first} to {latest} · latest data {latest}" in captions, captions
