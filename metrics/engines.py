"""Which metrics functions answer on either engine: the DuckDB warehouse, or the lake on Spark (warehouse/spark.py).

They are the ones whose every query is SQL generated here over the canonical tables, so it transpiles to Spark SQL;
each is checked equal on both engines in tests/metrics/test_spark.py. The rest read the embedded warehouse whatever
the engine: the forecasts and what is built on them (stock cover, month pacing, alerts), and the ingest log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from metrics.periods import coverage
from metrics.pnl import pnl_last_year, pnl_statement
from metrics.products import product_sales_change
from metrics.service import inputs_given, returns_by, service_comparison, service_kpis, service_series

ON_EITHER_ENGINE: frozenset[Callable[..., Any]] = frozenset(
    {
        compute_kpis,
        compare_periods,
        comparison_periods,
        kpi_series,
        traffic_cut,
        traffic_gaps,
        missing_inputs,
        session_stores,
        coverage,
        revenue_change,
        source_movers,
        funnel,
        top_products,
        product_sales_change,
        pnl_statement,
        pnl_last_year,
        cohort_activity,
        cohort_retention,
        segment_changes,
        repeat_interval,
        lifetime_value,
        service_kpis,
        service_comparison,
        service_series,
        returns_by,
        inputs_given,
    }
)


def on_either_engine(query: Callable[..., Any]) -> bool:
    """Whether `query(con, …)` gives the same answer on Spark as on DuckDB (a functools.partial: its function's)."""
    return getattr(query, "func", query) in ON_EITHER_ENGINE


__all__ = ["ON_EITHER_ENGINE", "on_either_engine"]
