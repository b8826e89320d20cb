"""Issue 13 on the dashboard: a shop with orders and a platform's daily traffic report but no session logs. Every page
draws without failing, and the Traffic page's table shows each source's sessions and rates from the report."""

from __future__ import annotations

from pathlib import Path

import pytest

import pages
from tests.support.app import no_failure, open_app, vega_charts
from tests.support.traffic_shop import build_traffic_shop
from warehouse import open_read_only


@pytest.fixture(scope="module")
def traffic_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_traffic_shop(tmp_path_factory.mktemp("traffic-shop"))


@pytest.mark.parametrize("page", [p.url_path for p in pages.PAGES])
def test_every_page_draws_a_shop_with_a_traffic_report_and_no_session_logs(traffic_db, monkeypatch, page) -> None:
    no_failure(open_app(traffic_db, monkeypatch, page))


def test_the_traffic_table_shows_the_reports_sessions_and_rates(traffic_db, monkeypatch) -> None:
    with open_read_only(traffic_db) as con:
        assert con.sql("select count(*) from sessions").fetchall() == [(0,)]
    at = open_app(traffic_db, monkeypatch, "traffic")
    no_failure(at)
    table = at.dataframe[0].value
    rows = {r["group"]: r for r in table.to_dict("records")} if "group" in table.columns else {}
    assert rows, table.columns
    # The last 30 days: 30 × 120 organic sessions, a quarter bounced, one order per 40 sessions.
    organic = rows["organic_search"]
    assert organic["sessions"] == 30 * 120
    assert organic["bounce_rate"] == pytest.approx(0.25)
    assert organic["conversion_rate"] == pytest.approx(1 / 40)
    # The report's sales by channel (100 a day for each source over 30 days) and its AOV: 3,000 over 30 × 3 orders.
    assert organic["reported_sales"] == 30 * 100
    assert organic["reported_aov"] == pytest.approx(3000 / (30 * 3), abs=0.005)  # the table rounds money to cents
    # The revenue bars are the report's sales by channel: the shop's orders carry no session, so they would all be
    # in (none); the funnel says why it cannot be drawn from a report instead of "no sessions".
    _, bars = vega_charts(at)[0]  # the first chart: revenue by group
    assert {row["label"]: row["value"] for row in bars}["organic_search"] == 3000
    assert any("which does not give the steps" in c.value for c in at.caption)
    # A shop of one store: the card's definition says where its sessions come from without naming the store.
    overview = open_app(traffic_db, monkeypatch, "overview")
    sessions = {m.label: m for m in overview.metric}["Sessions"].proto.help
    assert "Input: the platform's traffic report (traffic table); the shop has no session logs." in sessions


def test_a_shop_with_session_logs_has_no_report_columns(demo_db, monkeypatch) -> None:
    at = open_app(demo_db, monkeypatch, "traffic")
    no_failure(at)
    assert not {"reported_sales", "reported_aov"} & set(at.dataframe[0].value.columns)
