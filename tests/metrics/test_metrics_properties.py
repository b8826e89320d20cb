"""Properties of the KPIs on random shops: what must hold whatever the data (SPEC §4 and issue 3).

Rates that are shares lie in [0, 1]; additive metrics summed over the groups of any split equal the total; ratios
recomputed from the groups' summed parts equal the total; a metric that cannot be split is null in grouped rows;
series add up to the period; the P&L adds up and agrees with kpis; cohorts agree with kpis buyers.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import cache

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.kpis import SPAN_SQL, reference_kpis, same_numbers
from metrics.cohorts import cohort_activity
from metrics.compute import compare_periods, comparison_periods, compute_kpis, kpi_series
from metrics.inputs import missing_inputs, unknown
from metrics.periods import Period, add_months, latest_date
from metrics.pnl import pnl_statement
from metrics.registry import DIMENSIONS, MEASURES, METRICS, PNL_COLUMNS, names_in, part_additive
from tests.support.shops import random_shop

END = date(2024, 6, 30)
DAYS = 120
FIRST = END - timedelta(days=DAYS - 1)

# buyers / visitors is not a share: a buyer need not be among the period's visitors (orders without a session).
SHARES = [name for name, m in METRICS.items() if m.unit == "rate" and name != "buyer_conversion_rate"]
ADDITIVE = [name for name, m in METRICS.items() if m.additive]
# Ratios whose numerator and denominator are sums: recomputable from the groups' sums.
RECOMPUTABLE = [
    name
    for name, m in METRICS.items()
    if m.kind == "ratio" and all(part_additive(p) for p in names_in(f"{m.numerator} {m.denominator}"))
]

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def shop(seed: int):
    return random_shop(seed, sessions=500, days=DAYS, end=END)


periods = st.builds(
    lambda offset, length: Period(FIRST + timedelta(days=offset), FIRST + timedelta(days=offset + length - 1)),
    st.integers(min_value=-10, max_value=DAYS - 1),
    st.integers(min_value=1, max_value=60),
)
seeds = st.integers(min_value=1, max_value=4)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def total_row(con, period: Period, metrics=None) -> dict:
    return compute_kpis(con, period, metrics=metrics).row(0, named=True)


@SETTINGS
@given(seed=seeds, period=periods, by=st.sampled_from([None, *DIMENSIONS]))
def test_shares_lie_between_0_and_1(seed, period, by):
    frame = compute_kpis(shop(seed), period, by=by, metrics=SHARES)
    for name in SHARES:
        values = frame[name].drop_nulls()
        assert values.is_nan().sum() == 0, name
        assert ((values >= 0) & (values <= 1)).all(), (name, values.to_list())


@SETTINGS
@given(seed=seeds, period=periods, by=st.sampled_from(DIMENSIONS))
def test_additive_metrics_sum_over_groups_to_the_total(seed, period, by):
    con = shop(seed)
    total = total_row(con, period)
    grouped = compute_kpis(con, period, by=by)
    assert grouped["group"].n_unique() == grouped.height, "one row per group"
    for name in ADDITIVE:
        values = grouped[name]
        if total[name] is None:  # unknown for the shop (e.g. reported_sales without a traffic report): in every group
            assert values.null_count() == grouped.height, f"{name} is unknown for the shop, so in each group"
        elif by in METRICS[name].dimensions:
            assert close(float(values.fill_null(0).sum()), float(total[name])), (name, by)
        else:
            assert values.null_count() == grouped.height, f"{name} cannot be split by {by}: null"


@SETTINGS
@given(seed=seeds, period=periods, by=st.sampled_from(DIMENSIONS))
def test_ratios_recomputed_from_group_sums_equal_the_total(seed, period, by):
    con = shop(seed)
    total = total_row(con, period)
    splittable = [name for name in RECOMPUTABLE if by in METRICS[name].dimensions]
    parts = sorted(
        {p for name in splittable for p in names_in(f"{METRICS[name].numerator} {METRICS[name].denominator}")}
    )
    if not parts:
        return
    grouped = compute_kpis(con, period, by=by, metrics=parts)
    sums = {p: float(grouped[p].fill_null(0).sum()) for p in parts}
    for name in splittable:
        entry = METRICS[name]
        numerator = eval(entry.numerator, {"__builtins__": {}}, sums)  # names only, checked by names_in
        denominator = eval(entry.denominator, {"__builtins__": {}}, sums)
        # An input the shop has not given at all makes the ratio null, whatever its parts' sums (SPEC §4).
        missing = unknown([name], missing_inputs(con))
        expected = None if denominator == 0 or missing else numerator / denominator
        assert close(total[name], expected), (name, by, total[name], expected)


@SETTINGS
@given(seed=seeds, period=periods, by=st.sampled_from(DIMENSIONS))
def test_metrics_that_cannot_be_split_are_null_in_grouped_rows(seed, period, by):
    grouped = compute_kpis(shop(seed), period, by=by)
    for name, entry in METRICS.items():
        if by not in entry.dimensions:
            assert grouped[name].null_count() == grouped.height, (name, by)


@SETTINGS
@given(seed=seeds, period=periods, grain=st.sampled_from(["day", "week", "month"]))
def test_series_add_up_to_the_period(seed, period, grain):
    con = shop(seed)
    total = total_row(con, period, metrics=ADDITIVE)
    series = kpi_series(con, period, grain=grain, metrics=ADDITIVE)
    assert series["period"].n_unique() == series.height
    if grain == "day":
        assert series.height == period.days
    for name in ADDITIVE:
        if total[name] is None:  # unknown for the shop: unknown on each day too
            assert series[name].null_count() == series.height, (name, grain)
        else:
            assert close(float(series[name].sum()), float(total[name])), (name, grain)


@SETTINGS
@given(seed=seeds, period=periods, by=st.sampled_from(["source", "region", "payment_method", "category"]))
def test_series_by_group_match_the_period_by_group_for_one_bucket(seed, period, by):
    # A monthly series of a period inside one month has one bucket: the same numbers as the period itself, but for
    # retention, which a series measures against the month before rather than the period of the same length before,
    # and the fixed 30-day retention, which has one window per period and is null in a series.
    con = shop(seed)
    inside = Period(period.start, min(period.end, add_months(period.start.replace(day=1), 1) - timedelta(days=1)))
    names = [name for name in METRICS if name not in ("retention_rate", "retention_30d")]
    series = kpi_series(con, inside, grain="month", by=by, metrics=names).drop("period")
    assert series.equals(compute_kpis(con, inside, by=by, metrics=names))
    assert kpi_series(con, inside, grain="month", by=by, metrics=["retention_30d"])["retention_30d"].null_count() == (
        kpi_series(con, inside, grain="month", by=by, metrics=["retention_30d"]).height
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pnl_adds_up_and_agrees_with_kpis(seed):
    con = shop(seed)
    statement = pnl_statement(con, FIRST, END)
    assert statement.height == 4  # March to June 2024
    for row in statement.iter_rows(named=True):
        assert close(row["net_sales"], row["gross_sales"] - row["discounts"] - row["refunds"])
        assert close(row["total_revenue"], row["net_sales"] + row["shipping_income"])
        assert close(row["gross_profit"], row["net_sales"] - row["cogs"])
        assert close(row["contribution"], row["total_revenue"] - row["cogs"] - row["fulfilment_cost"] - row["ad_spend"])
        assert close(row["net_profit"], row["contribution"] - row["operating_expenses"])
        first = date.fromisoformat(row["month"] + "-01")
        kpis = total_row(con, Period(first, add_months(first, 1) - timedelta(days=1)), metrics=list(PNL_COLUMNS))
        for name in PNL_COLUMNS:
            assert close(row[name], kpis[name]), (row["month"], name)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cohorts_agree_with_kpis_buyers(seed):
    con = shop(seed)
    activity = cohort_activity(con)
    active_by_month: dict[date, int] = {}
    for row in activity.iter_rows(named=True):
        month = add_months(row["cohort"], row["month_offset"])
        active_by_month[month] = active_by_month.get(month, 0) + row["active_customers"]
    month = FIRST.replace(day=1)
    while month <= END:
        active = active_by_month.get(month, 0)
        buyers = total_row(con, Period(month, add_months(month, 1) - timedelta(days=1)), metrics=["buyers"])["buyers"]
        assert active == buyers, month
        month = add_months(month, 1)
    # Every cohort's retention starts at 1.0; shares in [0, 1]; customers of all cohorts = distinct buyers ever.
    firsts = activity.filter(pl.col("month_offset") == 0)
    assert (firsts["retention"] == 1.0).all()
    assert activity["retention"].drop_nulls().is_between(0, 1).all()
    everyone = total_row(con, Period(date(2000, 1, 1), latest_date(con)), metrics=["buyers"])["buyers"]
    assert firsts["customers"].sum() == everyone


@SETTINGS
@given(seed=seeds, period=periods)
def test_compare_periods_values_are_the_periods_kpis(seed, period):
    con = shop(seed)
    frame = compare_periods(con, period, metrics=["orders", "gross_sales", "conversion_rate"])
    compared = comparison_periods(con, period)
    first, last = con.sql(SPAN_SQL).fetchall()[0]
    start, end = max(period.start, first), min(period.end, last)
    if start > end:  # no day of the period has data: nothing to compare with
        assert compared == {"previous": None, "last_year": None}
        return
    if (start, end) == (period.start, period.end):
        assert compared == {"previous": period.previous(), "last_year": period.last_year()}
    elif period.whole_months is None:  # partial: the same covered days (a day-based shift moves them as they are)
        for key, whole in (("previous", period.previous()), ("last_year", period.last_year())):
            offset = whole.start - period.start
            assert compared[key] == Period(start + offset, end + offset), key
    for key in ("previous", "last_year"):
        expected = total_row(con, compared[key])
        for row in frame.iter_rows(named=True):
            value = expected[row["metric"]]
            assert close(row[key], None if value is None else float(value)), (key, row["metric"])


def test_measures_are_the_building_blocks_of_ratios():
    # Every measure is used: by a metric of the same name or inside some ratio.
    used = {p for m in METRICS.values() for p in m.parts}
    assert set(MEASURES) <= used | set(METRICS)


@SETTINGS
@given(seed=seeds, period=periods)
def test_agrees_with_the_hand_written_reference_query(seed, period):
    # bench/kpis.py's REFERENCE_SQL is written by hand, without the registry: an independent implementation.
    con = shop(seed)
    ours = {k: (None if v is None else float(v)) for k, v in total_row(con, period).items() if k != "group"}
    assert same_numbers(ours, reference_kpis(con, period)) == []
