"""KPI properties on a short demo shop (pipelines/demo/, loaded by pipelines/ingest/): realistic data."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from bench.kpis import reference_kpis, same_numbers
from metrics.compute import compute_kpis, kpi_series
from metrics.periods import Period, default_period
from metrics.pnl import pnl_statement
from metrics.registry import DIMENSIONS, METRICS, PNL_COLUMNS, REPORT_ONLY
from tests.support.demo import build_demo_warehouse
from warehouse import open_read_only

END = date(2024, 6, 30)
DAYS = 75


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    db = build_demo_warehouse(root, DAYS, END, seed=3)
    connection = open_read_only(db)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def period(con) -> Period:
    return default_period(con)


def test_default_period_is_the_last_30_days(period):
    assert period.days == 30 and period.end >= END - timedelta(days=1)


def test_agrees_with_the_hand_written_query(con, period):
    ours = {k: (None if v is None else float(v)) for k, v in compute_kpis(con, period).row(0, named=True).items()}
    assert same_numbers(ours, reference_kpis(con, period)) == []


def test_the_demo_shop_has_every_kpi(con, period):
    row = compute_kpis(con, period).row(0, named=True)
    undefined = [name for name in METRICS if row[name] is None]
    # The demo has session logs, so the figures only a platform's traffic report gives are unknown.
    assert sorted(undefined) == sorted(REPORT_ONLY) == ["reported_aov", "reported_sales"], undefined
    for name, entry in METRICS.items():
        if entry.unit == "rate" and name != "buyer_conversion_rate":
            assert 0 <= row[name] <= 1, name


@pytest.mark.parametrize("by", DIMENSIONS)
def test_additive_metrics_add_up_over_every_split(con, period, by):
    total = compute_kpis(con, period).row(0, named=True)
    grouped = compute_kpis(con, period, by=by)
    for name, entry in METRICS.items():
        if entry.additive and by in entry.dimensions and name not in REPORT_ONLY:
            assert math.isclose(float(grouped[name].fill_null(0).sum()), float(total[name]), abs_tol=1e-6), name


def test_daily_series_and_pnl_add_up(con, period):
    total = compute_kpis(con, period).row(0, named=True)
    daily = kpi_series(con, period, grain="day", metrics=["orders", "gross_sales", "sessions", "ad_spend"])
    for name in ("orders", "gross_sales", "sessions", "ad_spend"):
        assert math.isclose(float(daily[name].sum()), float(total[name]), abs_tol=1e-6)
    month = Period(date(2024, 5, 1), date(2024, 5, 31))
    statement = pnl_statement(con, "2024-05", "2024-05").row(0, named=True)
    kpis = compute_kpis(con, month, metrics=list(PNL_COLUMNS)).row(0, named=True)
    for name in PNL_COLUMNS:
        assert math.isclose(statement[name], kpis[name], rel_tol=1e-12, abs_tol=1e-9), name
