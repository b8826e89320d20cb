"""Hostile filter values (issue 8, item 3): SQL-looking text, quotes, backslashes, RTL and emoji, NUL, 10 kB strings.

They arrive through the URL's query parameters (the sidebar's filters) or straight into the metrics functions.
Nothing may raise a traceback to the user, and the warehouse must stay byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from metrics import compute_kpis, funnel, kpi_series
from metrics.periods import Period
from metrics.segments import Segment
from tests.support.app import open_app
from tests.support.demo import demo_warehouse
from warehouse import TABLES, Reader

HOSTILE = [
    "'; drop table orders; --",
    '"; drop table sessions; --',
    "' or '1'='1",
    "organic' union select * from shopkpi_meta --",
    "\\",
    "back\\slash\\' x",
    "\u202eRTL \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji 🛒💥👩‍👩‍👧",
    "nul\x00byte",
    "x" * 10_000,
    "%27%3B%20drop%20table%20orders",
    "$start_ts",
    "?",
    "",
    " ",
]
PERIOD = Period(date(2024, 6, 1), date(2024, 6, 30))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A private copy: the test hashes it before and after, so nobody else may write it meanwhile.
    target = tmp_path_factory.mktemp("hostile") / "shop.duckdb"
    shutil.copyfile(demo_warehouse(), target)
    return target


def tables_intact(db: Path) -> None:
    cursor = Reader(db).cursor()
    try:
        found = {r[0] for r in cursor.sql("select table_name from duckdb_tables() where not temporary").fetchall()}
        assert set(TABLES) <= found, set(TABLES) - found
        assert cursor.sql("select count(*) from orders").fetchall()[0][0] > 0
        assert cursor.sql("select count(*) from sessions").fetchall()[0][0] > 0
    finally:
        cursor.close()


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_segment_values_reach_sql_only_as_bound_parameters(db: Path, value: str) -> None:
    before = sha256(db)
    cursor = Reader(db).cursor()
    try:
        segment = Segment(source=value, device=value)
        kpis = compute_kpis(cursor, PERIOD, metrics=["sessions", "orders", "total_revenue"], segment=segment)
        kpis = kpis.row(0, named=True)
        series = kpi_series(cursor, PERIOD, grain="week", metrics=["sessions", "orders"], segment=segment)
        steps = funnel(cursor, PERIOD, segment=segment)
        by_source = compute_kpis(cursor, PERIOD, by="source", metrics=["sessions"], segment=segment)
    finally:
        cursor.close()
    # No demo source or device has such a name (the blank one matches nothing either: sessions have a source).
    assert kpis["sessions"] == 0 and kpis["orders"] == 0, kpis
    assert series["sessions"].sum() == 0
    assert steps["sessions"].sum() == 0
    assert by_source.height == 0
    assert sha256(db) == before
    tables_intact(db)


@pytest.mark.parametrize("value", ["'; drop table orders; --", "source; drop table orders", "x" * 10_000, "\x00"])
def test_hostile_dimension_and_metric_names_are_refused_by_the_allow_list(db: Path, value: str) -> None:
    before = sha256(db)
    cursor = Reader(db).cursor()
    try:
        with pytest.raises(ValueError, match="unknown dimension"):
            compute_kpis(cursor, PERIOD, by=value)
        with pytest.raises(ValueError, match="unknown dimension"):
            kpi_series(cursor, PERIOD, by=value)
        with pytest.raises(ValueError, match="funnel splits by"):
            funnel(cursor, PERIOD, by=value)
        with pytest.raises(ValueError, match="unknown metric"):
            compute_kpis(cursor, PERIOD, metrics=[value])
        with pytest.raises(ValueError, match="unknown grain"):
            kpi_series(cursor, PERIOD, grain=value)
    finally:
        cursor.close()
    assert sha256(db) == before
    tables_intact(db)


# --- through the URL into the dashboard --------------------------------------------------------------------------

URL_ATTACKS = {
    "sql": {
        "source": "'; drop table orders; --",
        "device": '"; drop table sessions; --',
        "period": "custom' or 1=1 --",
        "from": "2024-06-01'; drop table orders; --",
        "to": "\\",
        "vs": "last_year\x00",
        "lang": "zh'; --",
    },
    "unicode": {
        "source": "\u202eRTL \u05e9\u05dc\u05d5\u05dd 🛒💥",
        "device": "nul\x00byte",
        "period": "custom",
        "from": "2024-06-31",  # no such date
        "to": "２０２４-０６-３０",  # full-width digits
        "vs": "🛒",
        "lang": "\u202e",
    },
    "huge": {
        "source": "s" * 10_000,
        "device": "'" * 10_000,
        "period": "p" * 10_000,
        "from": "9" * 10_000,
        "to": "-" * 10_000,
        "vs": "v" * 10_000,
        "lang": "l" * 10_000,
    },
}


@pytest.mark.parametrize("attack", list(URL_ATTACKS))
@pytest.mark.parametrize("page", ["overview", "traffic", "pnl", "data"])
def test_hostile_url_parameters_fall_back_to_defaults_and_change_nothing(db, monkeypatch, page, attack) -> None:
    before = sha256(db)
    at = open_app(db, monkeypatch, page, **URL_ATTACKS[attack])
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert not errors, errors
    # Values not on the sidebar's lists are dropped: the page shows the whole shop, in English, last 30 days.
    assert at.title[0].value in {"Overview", "Traffic", "P&L", "Data"}
    view = at.session_state["view"]
    assert view.segment == Segment() and view.lang == "en" and view.comparison == "previous"
    shown = dict(at.query_params)
    for key in ("source", "device", "vs", "lang"):
        assert key not in shown, (key, shown.get(key))
    assert sha256(db) == before
    tables_intact(db)


# --- hostile values that are in the data, so they pass the sidebar's allow-list ----------------------------------

DATA_BORNE = [
    "'; drop table orders; --",
    'say "hi", \\ backslash',
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "\u202eرشت 🛒💥",
    "z" * 10_000,
]


@pytest.fixture(scope="module")
def hostile_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shop whose sessions came from sources named like attacks (as marketers' campaign tags can be)."""
    import csv

    from pipelines.ingest import ingest_file

    root = tmp_path_factory.mktemp("hostile-shop")
    sessions, orders = root / "sessions.csv", root / "orders.csv"
    with open(sessions, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["session_id", "visitor_id", "started_at", "source", "campaign", "device"])
        for index in range(60):
            source = DATA_BORNE[index % len(DATA_BORNE)]
            writer.writerow([f"s{index}", f"v{index}", f"2024-06-{1 + index % 28:02d} 10:00", source, source, "mobile"])
    with open(orders, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "ordered_at", "status", "session_id", "subtotal"])
        for index in range(0, 60, 2):
            writer.writerow([f"o{index}", f"2024-06-{1 + index % 28:02d} 11:00", "paid", f"s{index}", "10.00"])
    db = root / "shop.duckdb"
    for table, path in (("sessions", sessions), ("orders", orders)):
        result = ingest_file(db, table, path)
        assert result.rejected == 0, result.summary()
    return db


@pytest.mark.parametrize("index", range(len(DATA_BORNE)))
def test_a_source_named_like_an_attack_filters_like_any_other(hostile_shop: Path, index: int) -> None:
    value = DATA_BORNE[index]
    before = sha256(hostile_shop)
    cursor = Reader(hostile_shop).cursor()
    try:
        row = compute_kpis(cursor, PERIOD, metrics=["sessions", "orders"], segment=Segment(source=value))
        row = row.row(0, named=True)
    finally:
        cursor.close()
    # Sessions s<i> have source i % 6; orders are placed in the even-numbered sessions.
    assert row == {"group": None, "sessions": 10, "orders": 10 if index % 2 == 0 else 0}
    assert sha256(hostile_shop) == before


@pytest.mark.parametrize("page", ["overview", "traffic", "data"])
@pytest.mark.parametrize("value", DATA_BORNE[:5], ids=range(5))
def test_a_hostile_source_from_the_data_is_shown_as_text_through_the_url(hostile_shop, monkeypatch, page, value):
    before = sha256(hostile_shop)
    at = open_app(hostile_shop, monkeypatch, page, source=value, period="this_month")
    assert not at.exception, at.exception
    failures = [e.value for e in at.error if "could not be drawn" in e.value]
    assert not failures, failures
    assert at.session_state["view"].segment == Segment(source=value)
    assert sha256(hostile_shop) == before
