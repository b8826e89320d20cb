"""KPIs of a warehouse with two stores (tests/support/two_stores.py): ids that collide between stores stay apart in
every join, store is a split and a filter, and money over stores in different currencies is null unless a rate table
converts it (issue 13).

The period is 2–6 March 2024, the days with data (so operating expenses are 5/31 of March's).
By hand (both stores in CNY):
- sessions: tmall s1, s2; jd s2 → 3. Visitors: tmall v1, v2; jd v1 (another person) → 3.
- valid orders: tmall 1001, 1002; jd 1001, 1002 → 4. Buyers: tmall c1, c2; jd c1 → 3.
- gross sales: tmall 100 + 2 × 50 = 200; jd 200 + 80 (no lines: subtotal) = 280 → 480; discounts 10 (tmall 1002).
- conversion: sessions some valid order names: tmall s1 (1001), jd s2 (jd 1001); tmall s2's order is cancelled → 2/3.
  (Matching session ids without the store would count tmall s2 as converted by jd's 1001: 3/3.)
- returning customers: jd c1 has 2 valid orders, tmall c1 1, tmall c2 1 → 1/3 (one c1 across stores would be 1/2).
- cogs (unit cost 40 from products): tmall 1 + 2 units, jd 1 unit → 160 (jd 1002 has no lines: uncosted).
- ad spend 30 + 20 = 50; operating expenses: (310 shared + 31 jd) × 5 / 31 = 55.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metrics.cohorts import cohort_retention
from metrics.compute import compute_kpis, rollups_current, traffic_cut, traffic_gaps
from metrics.currency import Rates, RatesError, currency_unknown, load_rates
from metrics.funnel import funnel
from metrics.inputs import SessionStores, missing_inputs, session_input_note, session_stores, unknown
from metrics.periods import Period
from metrics.pnl import pnl_by_store
from metrics.rollups import build_rollups
from metrics.segments import Segment, segment_options
from metrics.service import service_kpis
from tests.support.two_stores import logged_and_report_shop, two_store_shop
from warehouse import open_read_only, writing

PERIOD = Period(date(2024, 3, 2), date(2024, 3, 6))
FIGURES = ["sessions", "visitors", "orders", "buyers", "gross_sales", "discounts", "conversion_rate",
           "returning_customer_rate", "cogs", "ad_spend", "operating_expenses", "aov"]  # fmt: skip


@pytest.fixture(scope="module")
def cny(tmp_path_factory) -> Path:
    return two_store_shop(tmp_path_factory.mktemp("cny") / "w.duckdb")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    return two_store_shop(tmp_path_factory.mktemp("mixed") / "w.duckdb", jd_currency="USD")


def kpis(db: Path, **options) -> dict:
    with open_read_only(db) as con:
        frame = compute_kpis(con, PERIOD, metrics=FIGURES, **options)
    return {row["group"]: row for row in frame.iter_rows(named=True)}


def test_the_combined_figures_keep_each_stores_ids_apart(cny):
    row = kpis(cny)[None]
    assert (row["sessions"], row["visitors"], row["orders"], row["buyers"]) == (3, 3, 4, 3)
    assert (row["gross_sales"], row["discounts"], row["cogs"], row["ad_spend"]) == (480, 10, 160, 50)
    assert row["conversion_rate"] == pytest.approx(2 / 3)
    assert row["returning_customer_rate"] == pytest.approx(1 / 3)
    assert row["operating_expenses"] == pytest.approx(55)
    assert row["aov"] == pytest.approx(470 / 4)


def test_by_store_each_store_is_its_own_shop_and_shared_expenses_have_no_store(cny):
    rows = kpis(cny, by="store")
    tmall, jd, shared = rows["tmall"], rows["jd"], rows[None]
    # tmall: s1 converted, s2 not (its order is cancelled); c1 and c2 one valid order each.
    assert (tmall["sessions"], tmall["orders"], tmall["gross_sales"], tmall["ad_spend"]) == (2, 2, 200, 30)
    assert (tmall["conversion_rate"], tmall["returning_customer_rate"], tmall["operating_expenses"]) == (0.5, 0, 0)
    # jd: s2 converted; c1 with two valid orders; its own staff cost 31 × 5/31 = 5.
    assert (jd["sessions"], jd["orders"], jd["buyers"], jd["gross_sales"], jd["ad_spend"]) == (1, 2, 1, 280, 20)
    assert (jd["conversion_rate"], jd["returning_customer_rate"]) == (1, 1)
    assert jd["operating_expenses"] == pytest.approx(5)
    assert shared["operating_expenses"] == pytest.approx(50) and shared["orders"] == 0


def test_a_store_filter_matches_every_table_by_its_own_store(cny):
    row = kpis(cny, segment=Segment(store="jd"))[None]
    assert (row["sessions"], row["orders"], row["gross_sales"], row["ad_spend"], row["cogs"]) == (1, 2, 280, 20, 40)
    assert row["operating_expenses"] == pytest.approx(5)  # its own expenses, not the shared ones
    with open_read_only(cny) as con:
        assert segment_options(con)["store"] == ["jd", "tmall"]
        # The funnel and cohorts follow the store too: jd's one session purchased; jd's one customer c1.
        steps = funnel(con, PERIOD, segment=Segment(store="jd"))
        assert steps.filter(steps["step"] == "purchase")["sessions"].to_list() == [1]
        cohorts = cohort_retention(con, segment=Segment(store="jd"))
        assert cohorts["customers"].to_list() == [1]
        assert cohort_retention(con)["customers"].to_list() == [3]  # tmall c1, c2 and jd c1


def test_money_over_stores_in_different_currencies_is_null_with_the_reason(mixed):
    row = kpis(mixed)[None]
    assert row["gross_sales"] is None and row["aov"] is None and row["ad_spend"] is None and row["cogs"] is None
    assert row["operating_expenses"] is None
    # Counts and rates of counts stay.
    assert (row["sessions"], row["orders"]) == (3, 4) and row["conversion_rate"] == pytest.approx(2 / 3)
    by_store = kpis(mixed, by="store")
    assert (by_store["tmall"]["gross_sales"], by_store["jd"]["gross_sales"]) == (200, 280)  # each in its own
    assert kpis(mixed, segment=Segment(store="jd"))[None]["gross_sales"] == 280
    with open_read_only(mixed) as con:
        reasons = currency_unknown(con, FIGURES)
    assert set(reasons) == {"gross_sales", "discounts", "cogs", "ad_spend", "operating_expenses", "aov"}
    assert reasons["gross_sales"] == "stores in different currencies: CNY, USD; choose one store or give a rate table"


def test_a_rate_table_converts_each_stores_money_before_it_is_added(mixed, tmp_path):
    # 1 USD = 7 CNY: gross 200 + 280 × 7 = 2160; ad 30 + 20 × 7 = 170; expenses 310 × 5/31 (shared, in the
    # warehouse's CNY) + 31 × 5/31 × 7 = 50 + 35 = 85; cogs from the catalog's CNY costs: 160.
    (tmp_path / "rates.toml").write_text('reporting = "CNY"\n[rates]\nUSD = 7\n')
    row = kpis(mixed, rates=load_rates(tmp_path / "rates.toml"))[None]
    assert row["gross_sales"] == pytest.approx(2160) and row["ad_spend"] == pytest.approx(170)
    assert row["operating_expenses"] == pytest.approx(85) and row["cogs"] == pytest.approx(160)
    assert row["aov"] == pytest.approx((2160 - 10) / 4)
    (tmp_path / "rates.csv").write_text("currency,rate\nCNY,1\nUSD,7\n")
    assert load_rates(tmp_path / "rates.csv") == Rates("CNY", {"CNY": 1, "USD": 7})
    (tmp_path / "bad.csv").write_text("currency,rate\nUSD,-1\n")
    with pytest.raises(RatesError, match="must be > 0"):
        load_rates(tmp_path / "bad.csv")
    # A table without the USD rate converts nothing: still null.
    assert kpis(mixed, rates=Rates("CNY", {"EUR": 8}))[None]["gross_sales"] is None


def test_the_pnl_by_store_has_a_column_per_store_shared_expenses_and_the_total(cny):
    with open_read_only(cny) as con:
        statement = pnl_by_store(con, "2024-03", "2024-03")
    rows = {row["store"]: row for row in statement.iter_rows(named=True)}
    assert list(rows) == ["jd", "tmall", "shared", "total"]
    assert (rows["tmall"]["gross_sales"], rows["jd"]["gross_sales"], rows["total"]["gross_sales"]) == (200, 280, 480)
    # Shared rent: 310 × 5/31 = 50 (the month has data on 5 days), a loss of its own; the total adds every column.
    assert rows["shared"]["operating_expenses"] == pytest.approx(50)
    assert rows["shared"]["net_profit"] == pytest.approx(-50)
    parts = sum(rows[s]["net_profit"] for s in ("jd", "tmall", "shared"))
    assert rows["total"]["net_profit"] == pytest.approx(parts)


def test_service_figures_follow_the_store(cny):
    with open_read_only(cny) as con:
        tmall = service_kpis(con, PERIOD, store="tmall")
        jd = service_kpis(con, PERIOD, store="jd")
        both = service_kpis(con, PERIOD)
    # tmall: its T1 names its own valid 1001 (converted); 1 of its 3 units came back.
    assert (tmall["tickets"], tmall["inquiry_conversion_rate"]) == (1, 1)
    assert tmall["return_rate"] == pytest.approx(1 / 3)
    # jd: one complaint over its 2 orders, per 100 orders; nothing came back of its 1 unit.
    assert (jd["tickets"], jd["complaint_rate"], jd["return_rate"]) == (1, 50, 0)
    # Both: 2 tickets, 1 complaint per 4 orders, 1 of 4 units back.
    assert (both["tickets"], both["complaint_rate"], both["return_rate"]) == (2, 25, 0.25)


# --- one store with session logs, one with only a platform's traffic report (tests/support/two_stores.py) ---------
# Session figures are decided per store: site's from its logs, shopify's from its report (issue 13). By hand, 1–2 June:
# - site: sessions s1, s2, s3 → 3; visitors v1, v2 → 2; bounced (1 page) s1, s3 → 2; engaged (> 10 s, 2+ pages or
#   an order) s2, s3 → 2; converted s2 (o1) → 1; add-to-cart s2, which ordered → cart conversion 1/1; clicks 1,
#   impressions 1 → ctr 1. Its own report row (999 sessions) is never read: its logs win.
# - shopify: sessions 10 + 20 + 10 = 40; bounced 4 + 6 + 5 = 15 → 0.375; engaged 5 + 12 + 4 = 21 → engaged bounce
#   19/40; orders 1 + 2 + 1 = 4 → conversion 4/40 = 0.1; sales 50 + 120 + 80 = 250 → reported AOV 250/4 = 62.5;
#   visitors of 3 rows (days and channels) do not add up → unknown; no cart column → cart conversion unknown.
# - together: sessions 43; bounce 17/43; engaged bounce (43 − 23)/43 = 20/43; conversion (1 + 4)/43 = 5/43. Distinct
#   visitors, reported sales, cart conversion, ctr and retention are each given by one kind only: unknown.
JUNE = Period(date(2024, 6, 1), date(2024, 6, 2))
SESSION_FIGURES = ["sessions", "visitors", "bounce_rate", "engaged_bounce_rate", "conversion_rate",
                   "cart_conversion_rate", "ctr", "retention_rate", "reported_sales", "reported_aov", "orders",
                   "gross_sales"]  # fmt: skip


@pytest.fixture(scope="module")
def logged_and_report(tmp_path_factory) -> Path:
    db = logged_and_report_shop(tmp_path_factory.mktemp("logged_and_report") / "w.duckdb")
    with writing(db) as con:
        build_rollups(con)  # current rollups of site's logs: a query that can use them must not count a store twice
    return db


def june(db: Path, period: Period = JUNE, **options) -> dict:
    with open_read_only(db) as con:
        frame = compute_kpis(con, period, metrics=SESSION_FIGURES, **options)
    return {row["group"]: row for row in frame.iter_rows(named=True)}


def test_each_store_reads_its_own_kind_of_session_input(logged_and_report):
    site = june(logged_and_report, segment=Segment(store="site"))[None]
    assert (site["sessions"], site["visitors"]) == (3, 2)
    assert site["bounce_rate"] == pytest.approx(2 / 3) and site["engaged_bounce_rate"] == pytest.approx(1 / 3)
    assert site["conversion_rate"] == pytest.approx(1 / 3) and site["cart_conversion_rate"] == 1 and site["ctr"] == 1
    assert site["reported_sales"] is None  # only a report gives it
    shopify = june(logged_and_report, segment=Segment(store="shopify"))[None]
    assert shopify["sessions"] == 40 and shopify["visitors"] is None
    assert shopify["bounce_rate"] == pytest.approx(0.375) and shopify["engaged_bounce_rate"] == pytest.approx(19 / 40)
    assert shopify["conversion_rate"] == pytest.approx(0.1)
    assert (shopify["reported_sales"], shopify["reported_aov"]) == (250, 62.5)
    assert shopify["cart_conversion_rate"] is None and shopify["ctr"] is None and shopify["retention_rate"] is None
    # One report row gives its own visitors: shopify on 2 June by source (organic 18, paid 10).
    one_day = june(logged_and_report, Period(date(2024, 6, 2), date(2024, 6, 2)), by="source",
                   segment=Segment(store="shopify"))  # fmt: skip
    assert (one_day["organic_search"]["visitors"], one_day["paid_search"]["visitors"]) == (18, 10)


def test_by_store_gives_each_store_its_own_figures(logged_and_report):
    rows = june(logged_and_report, by="store")
    site, shopify = rows["site"], rows["shopify"]
    assert (site["sessions"], site["visitors"], site["ctr"]) == (3, 2, 1)
    assert site["conversion_rate"] == pytest.approx(1 / 3) and site["reported_sales"] is None
    assert (shopify["sessions"], shopify["reported_sales"], shopify["visitors"]) == (40, 250, None)
    assert shopify["bounce_rate"] == pytest.approx(0.375) and shopify["ctr"] is None
    assert shopify["conversion_rate"] == pytest.approx(0.1)


def test_the_stores_together_add_sessions_and_leave_what_one_kind_cannot_give_unknown(logged_and_report):
    both = june(logged_and_report)[None]
    assert both["sessions"] == 43 and (both["orders"], both["gross_sales"]) == (2, 150)
    assert both["bounce_rate"] == pytest.approx(17 / 43)
    assert both["engaged_bounce_rate"] == pytest.approx(20 / 43)
    assert both["conversion_rate"] == pytest.approx(5 / 43)
    for name in ("visitors", "reported_sales", "reported_aov", "cart_conversion_rate", "ctr", "retention_rate"):
        assert both[name] is None, name
    # By source, each channel adds both stores' sessions: organic s1, s2 + 10 + 20; paid s3 + 10.
    by_source = june(logged_and_report, by="source")
    assert (by_source["organic_search"]["sessions"], by_source["paid_search"]["sessions"]) == (32, 11)
    # The rollups hold site's logs only: the figures are the raw ones, no store twice or lost.
    with open_read_only(logged_and_report) as con:
        assert rollups_current(con)
        raw = compute_kpis(con, JUNE, metrics=SESSION_FIGURES, rollups=False)
        raw_by_source = compute_kpis(con, JUNE, by="source", metrics=SESSION_FIGURES, rollups=False)
    assert raw.row(0, named=True) == both
    assert {row["group"]: row for row in raw_by_source.iter_rows(named=True)} == by_source


def test_the_reasons_follow_each_stores_kind(logged_and_report):
    with open_read_only(logged_and_report) as con:
        missing = missing_inputs(con)
        stores = session_stores(con)
        assert stores == SessionStores(logged=("site",), reported=("shopify",))
        reasons = unknown(SESSION_FIGURES, missing, stores=stores)
        gaps = traffic_gaps(con, JUNE)
        shopify_gaps = traffic_gaps(con, JUNE, segment=Segment(store="shopify"))
        assert traffic_gaps(con, JUNE, segment=Segment(store="site")) == {}
        note = session_input_note(stores, missing)
    assert reasons["reported_sales"] == (
        "only a platform's traffic report gives it, and site's session figures come from its session logs"
    )
    assert reasons["ctr"] == "shopify's session figures come from a platform's traffic report, which has no on-site"\
        " events (impressions, clicks, add-to-carts)"  # fmt: skip
    assert "visitor ids" in reasons["retention_rate"] and "sessions" not in reasons
    assert gaps["visitors"].startswith("the platform's traffic report does not give distinct visitors")
    assert gaps["cart_conversion_rate"] == (
        "the platform's traffic report does not give add-to-cart sessions; the platform's traffic report does not"
        " give which add-to-cart sessions ordered"
    )
    assert "conversion_rate" not in gaps and "bounce_rate" not in gaps and shopify_gaps == gaps
    assert note == (
        "Input: the session logs of site, plus the platform's traffic report of shopify (added up store by store; a"
        " store with both is read from its logs)."
    )


def test_a_report_range_the_window_cuts_blanks_its_store_and_the_stores_together_only(tmp_path):
    # A third store, tmall, reports 100 sessions for 30 May – 1 June as a whole: 1–2 June cuts it. Its sessions and
    # the stores' together are unknown, with the reason naming it; site's 3 and shopify's 40 stay.
    db = logged_and_report_shop(tmp_path / "w.duckdb")
    with writing(db) as con:
        con.execute("insert into stores values ('tmall', 'tmall', 'CNY')")
        con.execute(
            "insert into traffic (store, date, end_date, source, medium, campaign, device, sessions) "
            "values ('tmall', '2024-05-30', '2024-06-01', 'organic_search', '', '', 'unknown', 100)"
        )
    rows = june(db, by="store")
    assert (rows["site"]["sessions"], rows["shopify"]["sessions"], rows["tmall"]["sessions"]) == (3, 40, None)
    assert rows["shopify"]["conversion_rate"] == pytest.approx(0.1)
    assert june(db)[None]["sessions"] is None
    with open_read_only(db) as con:
        assert "of tmall covers 2024-05-30 – 2024-06-01" in traffic_cut(con, JUNE)
        assert traffic_cut(con, JUNE, Segment(store="shopify")) is None
    # A window that covers it counts it whole: 30 May – 2 June, 3 + 40 + 100.
    assert june(db, Period(date(2024, 5, 30), date(2024, 6, 2)))[None]["sessions"] == 143


def test_a_rate_table_converts_the_sales_each_platform_report_gives(tmp_path):
    # Two stores with only their platforms' reports, 1 June 2024: shopify in USD (80 of sales, 1 order), tmall in CNY
    # (50, 2 orders). At 7 CNY per USD the reported sales are 80 × 7 + 50 = 610 and their average order value 610 / 3;
    # without a rate table they are unknown (stores in different currencies), never 80 + 50.
    db = tmp_path / "w.duckdb"
    with writing(db, store_timezone="UTC") as con:
        con.executemany(
            "insert into stores values (?, ?, ?)", [("shopify", "shopify", "USD"), ("tmall", "tmall", "CNY")]
        )
        con.executemany(
            "insert into traffic (store, date, end_date, source, medium, campaign, device, sessions, orders, revenue) "
            "values (?, ?, ?, ?, '', '', 'unknown', ?, ?, ?)",
            [
                ("shopify", date(2024, 6, 1), date(2024, 6, 1), "organic_search", 10, 1, 80),
                ("tmall", date(2024, 6, 1), date(2024, 6, 1), "organic_search", 20, 2, 50),
            ],
        )
    day = Period(date(2024, 6, 1), date(2024, 6, 1))
    with open_read_only(db) as con:
        converted = compute_kpis(con, day, metrics=["reported_sales", "reported_aov"], rates=Rates("CNY", {"USD": 7}))
        unconverted = compute_kpis(con, day, metrics=["reported_sales", "reported_aov"])
    assert converted["reported_sales"][0] == pytest.approx(610) and converted["reported_aov"][0] == pytest.approx(
        610 / 3
    )
    assert unconverted["reported_sales"][0] is None and unconverted["reported_aov"][0] is None
