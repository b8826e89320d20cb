"""`shopkpi import clickstream`: sessions from inactivity, the first hit's channel, and the real UCI e-shop log."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.adapters import ImportOptions, import_export
from tests.support.warehouse_rows import REAL_DATA, query

REAL = REAL_DATA / "uci-eshop-clickstream/e-shop clothing 2008.csv.gz"

# v1: three hits, the third 40 minutes after the second → two sessions with a 30-minute gap, one with 60 minutes.
LOG = """user_id,timestamp,event,url,referrer
v1,2024-06-18 10:00:00,page_view,https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=june,
v1,2024-06-18 10:10:00,add_to_cart,https://shop.example/p/1,https://shop.example/
v1,2024-06-18 10:50:00,page_view,https://shop.example/p/2,https://www.google.com/search?q=silk
v2,2024-06-18 11:00:00,page_view,https://shop.example/p/3,https://www.baidu.com/s?wd=silk
v2,2024-06-18 11:05:00,scroll,https://shop.example/p/3,
,2024-06-18 11:05:00,page_view,https://shop.example/p/3,
v3,1718704800,pageview,/p/9,https://weibo.com/x
v4,2024-06-18 12:00:00,click,https://shop.example/p/9,https://blog.example.org/post
v4,2024-06-18 12:00:00,click,https://shop.example/p/9,https://blog.example.org/post
v5,2024-06-18T04:00:00Z,page_view,https://shop.example/,
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_sessions_are_built_by_inactivity_with_the_first_hits_source(db, tmp_path):
    log = tmp_path / "clicks.csv"
    log.write_text(LOG)
    result = import_export(db, "clickstream", log, store_timezone="Asia/Shanghai")
    events, sessions = (t.result for t in result.tables)
    # 10 hits: v4's second click repeats the first exactly (duplicate); 'scroll' is no SPEC event and the hit on
    # line 7 has no visitor (both rejected, with their lines).
    assert (events.rows_read, events.inserted, events.duplicates, events.rejected) == (10, 7, 1, 2)
    assert query(db, "select line, column_name from rejects order by line") == [(6, "event_type"), (7, "session_id")]
    assert sessions.inserted == 6
    assert query(
        db,
        "select session_id, visitor_id, started_at, source, medium, campaign, landing_page, pageviews, duration_s "
        "from sessions order by visitor_id, started_at",
    ) == [
        ("v1-20240618T100000", "v1", datetime(2024, 6, 18, 10), "email", "email", "june", "/", 1, 600.0),
        ("v1-20240618T105000", "v1", datetime(2024, 6, 18, 10, 50), "organic_search", "organic", None, "/p/2", 1, 0.0),
        ("v2-20240618T110000", "v2", datetime(2024, 6, 18, 11), "organic_search", "organic", None, "/p/3", 1, 0.0),
        # Unix time and a UTC offset are store time (Asia/Shanghai, UTC+8); a naive time already is.
        ("v3-20240618T180000", "v3", datetime(2024, 6, 18, 18), "social", None, None, "/p/9", 1, 0.0),
        ("v4-20240618T120000", "v4", datetime(2024, 6, 18, 12), "referral", "referral", None, "/p/9", None, 0.0),
        ("v5-20240618T120000", "v5", datetime(2024, 6, 18, 12), "direct", None, None, "/", 1, 0.0),
    ]
    assert query(db, "select session_id, event_type from events where event_type <> 'page_view' order by 1") == [
        ("v1-20240618T100000", "add_to_cart"),
        ("v4-20240618T120000", "click"),
    ]
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert import_export(db, "clickstream", log).already_imported
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_session_gap_is_configurable(db, tmp_path):
    log = tmp_path / "clicks.csv"
    log.write_text(LOG)
    result = import_export(db, "clickstream", log, options=ImportOptions(session_gap_minutes=60))
    # With 60 minutes, v1's 40-minute pause no longer ends its visit: 5 sessions instead of 6.
    assert result.tables[1].result.inserted == 5
    assert query(db, "select duration_s from sessions where visitor_id = 'v1'") == [(3000.0,)]


def test_a_log_with_its_own_session_ids_keeps_them(db, tmp_path):
    log = tmp_path / "hits.csv"
    log.write_text(
        "visitor_id,session_id,occurred_at,page,device\n"
        "a,s1,2024-06-18 10:00:00,/,Mobile\na,s1,2024-06-18 12:00:00,/p,Mobile\nb,s2,2024-06-18 10:00:00,/,Smart TV\n"
    )
    import_export(db, "clickstream", log)
    # No referrer and no utm: the source is unknown, not direct. An unknown device is 'unknown', not a reject.
    assert query(db, "select session_id, source, device, pageviews from sessions order by 1") == [
        ("s1", "unknown", "mobile", 2),
        ("s2", "unknown", "unknown", 1),
    ]


def test_real_uci_eshop_log_imports_with_its_sessions(db):
    result = import_export(db, "clickstream", REAL)
    events, sessions = (t.result for t in result.tables)
    raw = pl.read_csv(REAL, separator=";")
    assert events.rows_read == events.inserted == raw.height == 165_474
    assert sessions.inserted == raw["session ID"].n_unique()
    # Every click opens a product page: a session's page views are its clicks; Poland is country 29.
    assert query(db, "select sum(pageviews), count(*) filter (where region = 'Poland') from sessions") == [
        (raw.height, raw.group_by("session ID").agg(pl.col("country").first()).filter(pl.col("country") == 29).height)
    ]
    assert query(db, "select min(started_at)::date::varchar, max(started_at)::date::varchar from sessions") == [
        ("2008-04-01", "2008-08-13")
    ]
    first = raw.filter(pl.col("session ID") == 1).sort("order")
    assert query(
        db, "select sku, position from events where session_id = '1' order by split_part(event_id, '-', 2)::int"
    ) == list(zip(first["page 2 (clothing model)"], first["location"], strict=True))
