"""The metrics layer: one registry of KPIs (SPEC §4), their SQL, targets, the P&L, cohorts and the funnel.

Pages, reports and the command line ask this package for numbers and never compute one themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from metrics.compute import compare_periods, compute_kpis, kpi_series
from metrics.funnel import funnel
from metrics.periods import Period, default_period, latest_date
from metrics.registry import DIMENSIONS, METRICS, PNL_COLUMNS, definitions_markdown, format_value, metric
from metrics.targets import Target, load_targets, target_status

# The cohorts and the P&L (polars at import) are imported on first use (PEP 562): a load (`shopkpi ingest`) imports
# this package for the rollups and needs neither. `funnel` stays imported above: its name is also its module's, which
# an import of metrics.funnel would otherwise bind here.
_LATER = {
    "cohort_activity": "metrics.cohorts",
    "cohort_retention": "metrics.cohorts",
    "pnl_lines": "metrics.pnl",
    "pnl_statement": "metrics.pnl",
}

if TYPE_CHECKING:
    from metrics.cohorts import cohort_activity, cohort_retention
    from metrics.pnl import pnl_lines, pnl_statement


def __getattr__(name: str) -> object:
    if name not in _LATER:
        raise AttributeError(f"module 'metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LATER[name]), name)
    globals()[name] = value
    return value


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
