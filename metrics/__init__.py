"""The metrics layer: one registry of KPIs (SPEC §4), their SQL, targets, the P&L, cohorts and the funnel.

Pages, reports and the command line ask this package for numbers and never compute one themselves.
"""

from metrics.cohorts import cohort_activity, cohort_retention
from metrics.compute import compare_periods, compute_kpis, kpi_series
from metrics.funnel import funnel
from metrics.periods import Period, default_period, latest_date
from metrics.pnl import pnl_lines, pnl_statement
from metrics.registry import DIMENSIONS, METRICS, PNL_COLUMNS, definitions_markdown, format_value, metric
from metrics.targets import Target, load_targets, target_status

__all__ = [
    "DIMENSIONS",
    "METRICS",
    "PNL_COLUMNS",
    "Period",
    "Target",
    "cohort_activity",
    "cohort_retention",
    "compare_periods",
    "compute_kpis",
    "default_period",
    "definitions_markdown",
    "format_value",
    "funnel",
    "kpi_series",
    "latest_date",
    "load_targets",
    "metric",
    "pnl_lines",
    "pnl_statement",
    "target_status",
]
