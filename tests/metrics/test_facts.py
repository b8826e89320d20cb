"""The facts layer (metrics/facts.py): each rule written once, the CTEs a query needs read from its SQL, and a
segment (source / device filter) bound as a parameter, so a metric's numbers depend on its arguments only.

Expected numbers come from the hand-made shop of tests/support/shops.py, March 2024:
- sessions from paid_search: s1 (mobile) and s3 (mobile); from any source on mobile: s1, s3 and s7.
- valid orders naming those sessions: o1 (s1, 2 × 100 + 50 = 250) and o3 (s3, returned, 80 + 60 = 140); o10 names s7
  but is placed in April; o2 and o11 name no session, so they are in no segment.
- ad spend of paid_search in March: 100 + 50 = 150; ad spend has no device, so none of it is in a device segment.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from metrics.cohorts import cohort_activity
from metrics.compute import compute_kpis
from metrics.facts import query, reads
from metrics.funnel import funnel
from metrics.periods import Period, latest_date
from metrics.segments import ALL, Segment
from warehouse import open_read_only

MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))
NAMES = ["sessions", "orders", "gross_sales", "ad_spend"]
WHOLE = {"group": None, "sessions": 5, "orders": 5, "gross_sales": 700.0, "ad_spend": 180.0}  # test_metrics.py
PAID_SEARCH = {"group": None, "sessions": 2, "orders": 2, "gross_sales": 390.0, "ad_spend": 150.0}
MOBILE = {"group": None, "sessions": 3, "orders": 2, "gross_sales": 390.0, "ad_spend": 0.0}
METRICS_DIR = Path(__file__).resolve().parents[2] / "metrics"


@pytest.fixture(scope="module")
def con(hand_made_db):
    connection = open_read_only(hand_made_db)
    yield connection
    connection.close()


def kpis(cursor, segment: Segment = ALL) -> dict:
    return compute_kpis(cursor, MARCH, metrics=NAMES, segment=segment).row(0, named=True)


def test_a_segment_is_a_parameter_of_the_metric(con):
    assert kpis(con) == WHOLE
    assert kpis(con, Segment(source="paid_search")) == PAID_SEARCH
    assert kpis(con, Segment(device="mobile")) == MOBILE
    # Both filters: paid_search sessions on mobile are s1 and s3 again; still no ad spend (it has no device).
    assert kpis(con, Segment(source="paid_search", device="mobile")) == PAID_SEARCH | {"ad_spend": 0.0}


def test_the_same_cursor_answers_filtered_and_whole_shop_queries_in_any_order(con):
    cursor = con.cursor()
    cursor.execute("use warehouse")
    try:
        # Whole shop, filtered, whole shop again, another filter, and back: each answer is its own, whatever came
        # before on the cursor (a filter kept as cursor state would leak into the next query).
        assert kpis(cursor) == WHOLE
        assert kpis(cursor, Segment(source="paid_search")) == PAID_SEARCH
        assert kpis(cursor) == WHOLE
        assert kpis(cursor, Segment(device="mobile")) == MOBILE
        assert kpis(cursor, Segment(source="paid_search")) == PAID_SEARCH
        # Nothing was left on the cursor: the canonical tables are whole, and no temporary table or view exists.
        assert cursor.sql("select count(*) from sessions").fetchall() == [(8,)]
        temporary = "select count(*) from duckdb_views() where temporary and not internal union all " + (
            "select count(*) from duckdb_tables() where temporary"
        )
        assert cursor.sql(temporary).fetchall() == [(0,), (0,)]
    finally:
        cursor.close()


def test_the_segment_reaches_funnel_cohorts_and_latest_date(con):
    paid = Segment(source="paid_search")
    # s1 has the delivered o1, s3 the returned (still valid) o3: both paid_search sessions of March purchased.
    steps = funnel(con, MARCH, segment=paid)
    assert steps["sessions"].to_list() == [2, 2, 2, 2, 2]
    # paid_search's valid orders with a customer: o6 (c2, February, via s5) and o1 (c1, March). On the whole shop c1
    # first ordered in March 2023 (o9, no session), so c1's cohort depends on the segment.
    cohorts = cohort_activity(con, date(2024, 3, 31), segment=paid).filter(month_offset=0)
    assert cohorts.select("cohort", "customers").rows() == [(date(2024, 2, 1), 1), (date(2024, 3, 1), 1)]
    whole = cohort_activity(con, date(2024, 3, 31)).filter(month_offset=0)
    assert (date(2023, 3, 1), 1) in whole.select("cohort", "customers").rows()
    # email's rows: sessions s6 (10 Feb) and s4 (20 Mar), order o4 (20 Mar), no ad spend. The whole shop's latest
    # row is o10 on 2 April.
    assert latest_date(con, Segment(source="email")) == date(2024, 3, 20)
    assert latest_date(con) == date(2024, 4, 2)


def test_query_keeps_the_ctes_the_select_reads_in_order():
    ctes = {
        "a": "select 1 as x",
        "b": "-- reads a, says the comment about c (comments are not reads)\nselect x from a",
        "c": "select b.x from b join a on a.x = b.x",
        "unused": "select x from a",
    }
    sql = query(ctes, "select * from c")
    assert re.findall(r"^(\w+) as \(", sql, flags=re.MULTILINE) == ["a", "b", "c"]
    assert reads(ctes["b"]) == {"a"} and reads(ctes["c"]) == {"b", "a"}
    with pytest.raises(ValueError, match="reads c, defined after it"):
        query({"early": "select * from c", "c": "select 1"}, "select * from early")
    # A comma join is not a read this parsing sees: refused rather than left out of the query.
    with pytest.raises(ValueError, match="names b other than after from / join"):
        query(ctes, "select * from a, b")


def test_the_segment_facts_are_expanded_where_they_are_read():
    ctes = {
        "segment_sessions": "-- the segment's sessions\nselect * from sessions",
        "period_sessions": "select s.session_id from segment_sessions s",
        "counted": "select count(*) from segment_sessions where started_at is not null",
    }
    sql = query(ctes, "select * from period_sessions cross join counted")
    # Without a filter the fact is the table itself, under the reader's alias (else under the fact's name).
    assert "from sessions s" in sql and "from sessions as segment_sessions where" in sql
    assert "segment_sessions as (" not in sql
    filtered = query(
        {**ctes, "segment_sessions": "select * from sessions where source = $source"}, "select * from counted"
    )
    assert "from (select * from sessions where source = $source) as segment_sessions where" in filtered


def test_each_rule_is_written_once_in_the_facts():
    rules = {
        "the valid-order rule": r"VALID_STATUSES|status in \('",
        "the line-amount rule": r"quantity \* \w*\.?unit_price",
        "the cost rule": r"coalesce\(\w*\.?unit_cost",
    }
    for rule, pattern in rules.items():
        found = sorted(
            str(path.relative_to(METRICS_DIR.parent))
            for path in METRICS_DIR.rglob("*.py")
            if re.search(pattern, path.read_text(encoding="utf-8"))
        )
        assert found == ["metrics/facts.py"], f"{rule} is written in {found}"
