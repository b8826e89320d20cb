"""One registry, two engines: the KPI set (overall and by every dimension), the P&L and the cohort matrix computed on
Spark local[2] over the lake (`shopkpi export-lake`) equal the same functions on the DuckDB warehouse, for the
hand-made shop and the small demo shop; and the lake's row accounting and one-line failures.

One Spark session serves the whole test run (the `spark` fixture of tests/conftest.py); each shop's lake is written
once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from metrics import engines
from metrics.bestsellers import top_products
from metrics.cohorts import cohort_activity, cohort_retention
from metrics.compute import (
    compare_periods,
    comparison_periods,
    compute_kpis,
    kpi_series,
    traffic_cut,
    traffic_gaps,
)
from metrics.customers import lifetime_value, repeat_interval, segment_changes
from metrics.funnel import funnel
from metrics.inputs import missing_inputs, session_stores
from metrics.insights import revenue_change, source_movers
from metrics.periods import Period, coverage
from metrics.pnl import pnl_last_year, pnl_statement
from metrics.products import product_sales_change
from metrics.registry import DIMENSIONS, METRICS
from metrics.segments import ALL, Segment
from metrics.service import inputs_given, returns_by, service_comparison, service_kpis, service_series
from shopkpi.cli.main import app
from tests.support.demo import END as DEMO_END
from tests.support.service_shop import service_shop
from tests.support.two_stores import logged_and_report_shop, two_store_shop
from warehouse import SCHEMA_VERSION, TABLES, open_read_only
from warehouse.lake import MANIFEST, LakeError, export_lake, read_manifest
from warehouse.spark import SparkError, SparkWarehouse, start_session, to_spark_sql

MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))  # the hand-made shop's (and the service shop's) worked-out month
FEBRUARY = Period(date(2024, 2, 1), date(2024, 2, 29))
DEMO = Period(date(2024, 5, 1), DEMO_END)  # the small demo shop's last two months (60 days end 2024-06-30)


def _engines(db: Path, lake: Path, spark) -> tuple:
    export_lake(db, lake)
    duck = open_read_only(db)
    on_spark = SparkWarehouse(spark, lake)
    return duck, on_spark


@pytest.fixture(scope="module")
def hand_made(hand_made_db, spark, tmp_path_factory):
    duck, on_spark = _engines(hand_made_db, tmp_path_factory.mktemp("lake") / "hand-made", spark)
    yield duck, on_spark
    duck.close()
    on_spark.close()


@pytest.fixture(scope="module")
def with_service(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("service-shop")
    duck, on_spark = _engines(service_shop(root / "w.duckdb"), root / "lake", spark)
    yield duck, on_spark
    duck.close()
    on_spark.close()


@pytest.fixture(scope="module")
def demo(demo_db, spark, tmp_path_factory):
    duck, on_spark = _engines(demo_db, tmp_path_factory.mktemp("lake") / "demo", spark)
    yield duck, on_spark
    duck.close()
    on_spark.close()


def assert_same(on_spark: pl.DataFrame, on_duckdb: pl.DataFrame) -> None:
    """Same columns, types, rows and nulls; money to the cent, rates and other fractions to 1e-9, the rest exact."""
    assert on_spark.columns == on_duckdb.columns
    assert on_spark.schema == on_duckdb.schema
    assert on_spark.height == on_duckdb.height
    for name in on_duckdb.columns:
        a, b = on_spark.get_column(name).to_list(), on_duckdb.get_column(name).to_list()
        assert [x is None for x in a] == [y is None for y in b], f"{name}: nulls differ"
        unit = METRICS[name].unit if name in METRICS else None
        for x, y in zip(a, b, strict=True):
            if x is None:
                continue
            if isinstance(y, float):
                tolerance = 0.005 if unit == "money" else 1e-9 * max(1.0, abs(y))
                assert math.isfinite(x) and abs(x - y) <= tolerance, f"{name}: {x} on Spark, {y} on DuckDB"
            elif isinstance(y, list):
                assert len(x) == len(y) and all(
                    (p is None and q is None) or abs(p - q) <= 1e-9 for p, q in zip(x, y, strict=True)
                ), f"{name}: {x} on Spark, {y} on DuckDB"
            else:
                assert x == y, f"{name}: {x!r} on Spark, {y!r} on DuckDB"


# --- the same numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", [None, *DIMENSIONS])
def test_hand_made_kpis_are_the_same_on_spark(hand_made, by):
    duck, on_spark = hand_made
    expected = compute_kpis(duck, MARCH, by=by)
    assert_same(compute_kpis(on_spark, MARCH, by=by), expected)
    if by is None:
        # Not two empty answers: the worked-out March of tests/metrics/test_metrics.py (5 valid orders placed).
        assert expected.get_column("orders").to_list() == [5]


# The hand-made shop above is compared by every dimension; the demo (a real shop's volume) by one of each kind: a
# session dimension, the device, a product category, an order dimension and the store.
@pytest.mark.parametrize("by", [None, "source", "device", "category", "customer_type", "store"])
def test_demo_kpis_are_the_same_on_spark(demo, by):
    duck, on_spark = demo
    expected = compute_kpis(duck, DEMO, by=by)
    assert_same(compute_kpis(on_spark, DEMO, by=by), expected)
    # A real shop's numbers, not two tables of nulls (gross sales split by every dimension).
    assert expected.height >= (1 if by is None else 2) and expected.get_column("gross_sales").sum() > 10_000


@pytest.mark.parametrize("shop", ["hand_made", "demo"])
def test_pnl_is_the_same_on_spark(shop, request):
    duck, on_spark = request.getfixturevalue(shop)
    first, last = ("2024-02", "2024-04") if shop == "hand_made" else ("2024-05", "2024-06")
    expected = pnl_statement(duck, first, last)
    assert expected.height >= 2
    assert_same(pnl_statement(on_spark, first, last), expected)


@pytest.mark.parametrize("shop", ["hand_made", "demo"])
def test_cohorts_are_the_same_on_spark(shop, request):
    duck, on_spark = request.getfixturevalue(shop)
    expected = cohort_activity(duck)
    assert expected.height >= 2
    assert_same(cohort_activity(on_spark), expected)


def test_money_stays_decimal_on_spark(hand_made):
    # Sums of DECIMAL(18,2) are exact on both engines (as DOUBLE they differ in the last digits): o1's lines
    # 2 × 100 + 50, o3's 80 + 60, o4's 3 × 40 and o11's 70 = 580.00, a Decimal on both.
    duck, on_spark = hand_made
    query = "select sum(unit_price * quantity) as sales from order_items where order_id in ('o1', 'o3', 'o4', 'o11')"
    assert on_spark.sql(query).fetchall() == duck.sql(query).fetchall() == [(Decimal("580.00"),)]


def test_parameters_are_bound_not_spliced(hand_made):
    # A value that would end the string literal if it were pasted into the SQL is only a value.
    duck, on_spark = hand_made
    query = "select count(*) from sessions where source = $source"
    hostile = "email' or '1' = '1"
    assert ":source" in to_spark_sql(query)
    assert on_spark.sql(query, params={"source": hostile}).fetchall() == [(0,)]
    assert on_spark.sql(query, params={"source": "email"}).fetchall() == [(2,)]  # s4, s6


# Every function the dashboard and the reports ask of Spark when engine = "spark" (metrics/engines.py), on a shop that
# has what it reads, with the arguments a page gives it. compute_kpis, pnl_statement and cohort_activity: above.
ASKED_OF_SPARK = {
    compare_periods: ("hand_made", (MARCH,)),
    comparison_periods: ("hand_made", (MARCH,)),
    kpi_series: ("hand_made", (MARCH, None, "day", ("orders", "total_revenue", "conversion_rate"))),
    traffic_cut: ("hand_made", (MARCH,)),
    missing_inputs: ("hand_made", ()),
    traffic_gaps: ("hand_made", (MARCH,)),
    session_stores: ("hand_made", ()),
    coverage: ("hand_made", (MARCH,)),
    revenue_change: ("hand_made", (MARCH, FEBRUARY)),
    source_movers: ("hand_made", (MARCH, FEBRUARY)),
    funnel: ("hand_made", (MARCH,)),
    top_products: ("hand_made", (MARCH, 10)),
    product_sales_change: ("hand_made", (MARCH, FEBRUARY)),
    pnl_last_year: ("hand_made", ("2024-02", "2024-04")),
    cohort_retention: ("hand_made", (date(2024, 4, 30),)),
    segment_changes: ("hand_made", (date(2024, 3, 31), date(2024, 1, 1))),
    repeat_interval: ("hand_made", (date(2024, 4, 30),)),
    lifetime_value: ("hand_made", (date(2024, 4, 30),)),
    service_kpis: ("with_service", (MARCH, 30)),
    service_comparison: ("with_service", (MARCH, FEBRUARY, 30)),
    service_series: ("with_service", (date(2024, 2, 1), date(2024, 3, 31), "week", 30)),
    returns_by: ("with_service", (MARCH, "reason")),
    inputs_given: ("with_service", ()),
}


def assert_same_answer(on_spark: object, on_duckdb: object) -> None:
    """assert_same for frames, inside dataclasses, dicts and tuples too; other values equal (floats to 1e-9)."""
    if isinstance(on_duckdb, pl.DataFrame):
        assert_same(on_spark, on_duckdb)
    elif dataclasses.is_dataclass(on_duckdb):
        for field in dataclasses.fields(on_duckdb):
            assert_same_answer(getattr(on_spark, field.name), getattr(on_duckdb, field.name))
    elif isinstance(on_duckdb, dict):
        assert on_spark.keys() == on_duckdb.keys()
        for key, value in on_duckdb.items():
            assert_same_answer(on_spark[key], value)
    elif isinstance(on_duckdb, float):
        assert math.isclose(on_spark, on_duckdb, rel_tol=1e-9), f"{on_spark} on Spark, {on_duckdb} on DuckDB"
    else:
        assert on_spark == on_duckdb


def test_every_function_asked_of_spark_is_compared_here():
    compared_above = {compute_kpis, pnl_statement, cohort_activity}
    assert compared_above | set(ASKED_OF_SPARK) == engines.ON_EITHER_ENGINE


@pytest.mark.parametrize("query", list(ASKED_OF_SPARK), ids=lambda query: query.__name__)
def test_what_the_dashboard_asks_of_spark_is_the_same(query, request):
    shop, args = ASKED_OF_SPARK[query]
    duck, on_spark = request.getfixturevalue(shop)
    expected = query(duck, *args)
    assert_same_answer(query(on_spark, *args), expected)


def test_the_service_shop_gives_spark_something_to_compare(with_service):
    # tests/support/service_shop.py: March's 5 tickets (t1–t5), o1's and o2's returned units (1 + 1 of 5 sold).
    duck, _ = with_service
    figures = service_kpis(duck, MARCH, 30)
    assert figures["tickets"] == 5 and returns_by(duck, MARCH, "reason").get_column("returned_units").sum() == 2


# --- the lake -------------------------------------------------------------------------------------------------


def test_the_lake_accounts_for_every_row_and_is_split_by_month(hand_made_db, tmp_path):
    lake = tmp_path / "lake"
    manifest = export_lake(hand_made_db, lake)
    duck = open_read_only(hand_made_db)
    try:
        for name in TABLES:
            assert manifest.rows[name] == duck.sql(f"select count(*) from {name}").fetchall()[0][0], name
    finally:
        duck.close()
    assert manifest.rows["orders"] == 9 and manifest.rows["sessions"] == 8  # tests/support/shops.py
    # Orders of 2023-03, 2024-02, 2024-03 and 2024-04: one folder per month, each file holding that month only.
    months = sorted(p.name for p in (lake / "orders").iterdir())
    assert months == ["month=2023-03", "month=2024-02", "month=2024-03", "month=2024-04"]
    document = json.loads((lake / MANIFEST).read_text())
    assert document["schema_version"] == SCHEMA_VERSION and document["tables"]["orders"]["partitioned_by"] == "month"
    # Written again over itself: replaced whole, same counts.
    assert export_lake(hand_made_db, lake).rows == manifest.rows


def test_a_lake_of_another_version_is_refused_in_one_line(hand_made_db, tmp_path):
    lake = tmp_path / "lake"
    export_lake(hand_made_db, lake)
    document = json.loads((lake / MANIFEST).read_text())
    document["schema_version"] = SCHEMA_VERSION + 1
    (lake / MANIFEST).write_text(json.dumps(document))
    with pytest.raises(LakeError, match=f"schema v{SCHEMA_VERSION + 1}, this one reads v{SCHEMA_VERSION}"):
        read_manifest(lake)
    result = CliRunner().invoke(app, ["kpis", "--engine", "spark"], env={"SHOPKPI_LAKE": str(lake)})
    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "write it again with `shopkpi export-lake" in result.stderr


def test_a_folder_that_is_not_a_lake_is_neither_read_nor_overwritten(hand_made_db, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LakeError, match="not empty and holds no shopkpi lake"):
        export_lake(hand_made_db, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(LakeError, match="is not a shopkpi lake"):
        read_manifest(tmp_path)


# --- the command line -----------------------------------------------------------------------------------------


def test_cli_answers_the_same_on_both_engines(hand_made_db, spark, tmp_path):
    # The CLI reuses the running local[2] session (one per process), so no second JVM starts here.
    lake = tmp_path / "lake"
    runner = CliRunner()
    written = runner.invoke(app, ["export-lake", str(lake), "--db", str(hand_made_db)])
    assert written.exit_code == 0, written.stderr
    assert "orders 9, order_items 9, sessions 8" in written.stdout
    env = {"SHOPKPI_LAKE": str(lake), "SHOPKPI_SPARK_MASTER": "local[2]"}
    # kpis reads the period and the store's facts too; pnl and cohorts share its connection code (compared above).
    for command in (["kpis", "--from", "2024-03-01", "--to", "2024-03-31"],):
        args = [*command, "--format", "json", "--db", str(hand_made_db)]
        on_duckdb = runner.invoke(app, args, env=env)
        on_spark = runner.invoke(app, [*args, "--engine", "spark"], env=env)
        assert on_duckdb.exit_code == 0 and on_spark.exit_code == 0, on_spark.stderr
        assert json.loads(on_spark.stdout) == json.loads(on_duckdb.stdout), command


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_master_is_one_line(tmp_path, hand_made_db):
    lake = tmp_path / "lake"
    export_lake(hand_made_db, lake)
    master = f"spark://127.0.0.1:{_closed_port()}"
    with pytest.raises(SparkError, match="cannot reach the Spark master"):
        start_session(master)
    result = CliRunner().invoke(
        app, ["kpis", "--engine", "spark"], env={"SHOPKPI_LAKE": str(lake), "SHOPKPI_SPARK_MASTER": master}
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: cannot reach the Spark master at spark://127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_java_is_one_line(monkeypatch, tmp_path, hand_made_db):
    lake = tmp_path / "lake"
    export_lake(hand_made_db, lake)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    assert "java" not in os.listdir(tmp_path)
    with pytest.raises(SparkError, match="Spark needs Java 17 or later"):
        start_session("local[2]")
    result = CliRunner().invoke(app, ["kpis", "--engine", "spark"], env={"SHOPKPI_LAKE": str(lake)})
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "install a JDK or set JAVA_HOME" in result.stderr


def test_spark_connect_without_its_client_packages_is_one_line_and_exit_1(monkeypatch, tmp_path, hand_made_db):
    # pyspark itself ends the process with exit code 0 ("Skipping doctests: No module named 'grpc'") when Spark
    # Connect's client packages are missing: a cron job would think it worked.
    lake = tmp_path / "lake"
    export_lake(hand_made_db, lake)
    monkeypatch.setitem(sys.modules, "grpc", None)  # as if grpcio were not installed
    with socket.socket() as server:  # something listening, so that the master is reachable
        server.bind(("127.0.0.1", 0))
        server.listen()
        master = f"sc://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(SparkError, match=r"Spark Connect needs more packages \(no grpc\)"):
            start_session(master)
        result = CliRunner().invoke(
            app, ["kpis", "--engine", "spark"], env={"SHOPKPI_LAKE": str(lake), "SHOPKPI_SPARK_MASTER": master}
        )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: Spark Connect needs more packages (no grpc): pip install 'pyspark[connect]'"


def test_stores_in_different_currencies_are_not_added_up_on_spark_either(spark, tmp_path):
    # The two-store shop of tests/metrics/test_stores.py with jd in USD: the lake carries the stores table (in its
    # manifest), so Spark blanks the combined money as DuckDB does, and splits by store alike.
    db = two_store_shop(tmp_path / "w.duckdb", jd_currency="USD")
    duck, on_spark = _engines(db, tmp_path / "lake", spark)
    try:
        period = Period(date(2024, 3, 2), date(2024, 3, 6))
        combined = compute_kpis(on_spark, period, metrics=["orders", "gross_sales"])
        assert_same(combined, compute_kpis(duck, period, metrics=["orders", "gross_sales"]))
        assert combined.row(0, named=True)["orders"] == 4 and combined.row(0, named=True)["gross_sales"] is None
        by_store = compute_kpis(on_spark, period, by="store", metrics=["orders", "gross_sales"])
        assert_same(by_store, compute_kpis(duck, period, by="store", metrics=["orders", "gross_sales"]))
        assert {r["group"]: r["gross_sales"] for r in by_store.iter_rows(named=True)} == {"jd": 280, "tmall": 200}
    finally:
        duck.close()
        on_spark.close()


def test_a_logged_store_and_a_report_store_give_the_same_figures_on_spark(spark, tmp_path):
    # tests/metrics/test_stores.py's site (session logs) and shopify (a traffic report only): each store's session
    # figures from its own kind of input, stacked; Spark reads the same lake's traffic and sessions alike.
    db = logged_and_report_shop(tmp_path / "w.duckdb")
    duck, on_spark = _engines(db, tmp_path / "lake", spark)
    june, cut = Period(date(2024, 6, 1), date(2024, 6, 2)), Period(date(2024, 6, 2), date(2024, 6, 2))
    try:
        for by, segment in ((None, ALL), ("store", ALL), ("source", ALL), (None, Segment(store="shopify"))):
            expected = compute_kpis(duck, june, by=by, segment=segment)
            assert_same(compute_kpis(on_spark, june, by=by, segment=segment), expected)
        assert expected.row(0, named=True)["sessions"] == 40  # shopify's report, not nothing
        assert compute_kpis(duck, june).row(0, named=True)["sessions"] == 43
        assert session_stores(on_spark) == session_stores(duck)
        assert_same_answer(traffic_gaps(on_spark, june), traffic_gaps(duck, june))
        assert traffic_cut(on_spark, cut) == traffic_cut(duck, cut) is None
    finally:
        duck.close()
        on_spark.close()
