"""What changed and what needs attention: the revenue change split into its drivers, the sources that moved it,
and the alerts of the Overview page (KPIs off target, products running out of stock).

Revenue is exactly sessions × orders_per_session × revenue_per_order (both ratios defined in the registry), so a
change in revenue splits into three parts by changing one factor at a time, in that order (sessions first, then
conversion, then order value); the three parts add up to the change exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import polars as pl

from metrics.compute import compute_kpis
from metrics.periods import Period
from metrics.registry import METRICS, metric, value_of
from metrics.segments import ALL, Segment
from metrics.targets import Target

# Each driver of the decomposition and the registry entry that is its factor.
DRIVER_FACTORS = {"sessions": "sessions", "conversion": "orders_per_session", "order_value": "revenue_per_order"}
DRIVERS = tuple(DRIVER_FACTORS)
DRIVER_LABELS = {driver: (metric(name).label_en, metric(name).label_zh) for driver, name in DRIVER_FACTORS.items()}
# The KPIs the factors are computed from (total_revenue, sessions, orders).
DRIVER_METRICS = tuple(dict.fromkeys(part for name in DRIVER_FACTORS.values() for part in metric(name).parts))


def revenue_drivers(sessions: float, orders: float, revenue: float) -> dict[str, float | None]:
    """The three factors of revenue: sessions, orders per session (conversion), revenue per order (order value)."""
    parts = {"sessions": sessions, "orders": orders, "total_revenue": revenue}
    factors = {driver: value_of(name, parts) for driver, name in DRIVER_FACTORS.items()}
    return factors | {"sessions": float(sessions)}


def decompose_change(before: dict[str, float], after: dict[str, float]) -> pl.DataFrame:
    """How much of the revenue change each driver explains. One row per driver, then one 'total' row.

    `before` / `after` hold total_revenue, sessions and orders of the two periods. Columns: driver, before, after
    (the factor's values), effect (revenue change it explains; the effects add up to the total change). Effects are
    null where a factor is undefined (no sessions or no orders in a period): the identity does not hold there.
    """
    x0 = revenue_drivers(before["sessions"] or 0, before["orders"] or 0, before["total_revenue"] or 0)
    x1 = revenue_drivers(after["sessions"] or 0, after["orders"] or 0, after["total_revenue"] or 0)
    defined = all(v is not None for v in (*x0.values(), *x1.values()))
    effects: dict[str, float | None] = dict.fromkeys(DRIVERS)
    if defined:
        s0, c0, v0 = x0["sessions"], x0["conversion"], x0["order_value"]
        s1, c1, v1 = x1["sessions"], x1["conversion"], x1["order_value"]
        effects = {
            "sessions": (s1 - s0) * c0 * v0,
            "conversion": s1 * (c1 - c0) * v0,
            "order_value": s1 * c1 * (v1 - v0),
        }
    total_before, total_after = float(before["total_revenue"] or 0), float(after["total_revenue"] or 0)
    rows = [(d, x0[d], x1[d], effects[d]) for d in DRIVERS]
    rows.append(("total", total_before, total_after, total_after - total_before))
    return pl.DataFrame(
        rows,
        schema={"driver": pl.String, "before": pl.Float64, "after": pl.Float64, "effect": pl.Float64},
        orient="row",
    )


def revenue_change(
    con: duckdb.DuckDBPyConnection, period: Period, compared: Period, segment: Segment = ALL
) -> pl.DataFrame:
    """The revenue change from `compared` to `period` on a segment (default: the whole shop), split into drivers
    (see `decompose_change`)."""
    before = compute_kpis(con, compared, metrics=DRIVER_METRICS, segment=segment).row(0, named=True)
    after = compute_kpis(con, period, metrics=DRIVER_METRICS, segment=segment).row(0, named=True)
    return decompose_change(before, after)


def movers(before: pl.DataFrame, after: pl.DataFrame, key: str = "group") -> pl.DataFrame:
    """Groups ranked by how much their revenue moved. One row per group present in either period.

    `before` / `after` have columns `key`, total_revenue, sessions, orders. Columns: group, revenue_before,
    revenue_after, revenue_change, sessions_change, orders_change, share_of_change (of the total change; null when
    the total did not change); largest absolute revenue change first.
    """
    cols = ("total_revenue", "sessions", "orders")
    joined = (
        before.select(key, *cols)
        .rename({c: f"{c}_before" for c in cols})
        .join(
            after.select(key, *cols).rename({c: f"{c}_after" for c in cols}),
            on=key,
            how="full",
            coalesce=True,
            nulls_equal=True,
        )
        .with_columns(pl.col(f"{c}_{w}").cast(pl.Float64).fill_null(0) for c in cols for w in ("before", "after"))
    )
    total = float((joined["total_revenue_after"] - joined["total_revenue_before"]).sum())
    return (
        joined.select(
            pl.col(key).alias("group"),
            pl.col("total_revenue_before").alias("revenue_before"),
            pl.col("total_revenue_after").alias("revenue_after"),
            (pl.col("total_revenue_after") - pl.col("total_revenue_before")).alias("revenue_change"),
            (pl.col("sessions_after") - pl.col("sessions_before")).alias("sessions_change"),
            (pl.col("orders_after") - pl.col("orders_before")).alias("orders_change"),
        )
        .with_columns(
            (pl.col("revenue_change") / total if total else pl.lit(None, dtype=pl.Float64)).alias("share_of_change")
        )
        .sort(pl.col("revenue_change").abs(), descending=True)
    )


def source_movers(
    con: duckdb.DuckDBPyConnection, period: Period, compared: Period, segment: Segment = ALL
) -> pl.DataFrame:
    """Traffic sources ranked by how much their revenue moved between the periods, on a segment (default: the whole
    shop; see `movers`)."""
    before = compute_kpis(con, compared, by="source", metrics=DRIVER_METRICS, segment=segment)
    after = compute_kpis(con, period, by="source", metrics=DRIVER_METRICS, segment=segment)
    return movers(before, after)


def kpi_alerts(values: dict[str, float | None], targets: dict[str, Target], metrics: Iterable[str]) -> pl.DataFrame:
    """The KPIs among `metrics` that miss their target. One row per such KPI, off target before near.

    Columns: metric, value, status ('off' or 'near'), target (as the card shows it, e.g. '2.0%–5.0%').
    """
    rows = []
    for name in metrics:
        target = targets.get(name)
        if target is None or name not in METRICS:
            continue
        status = target.status(values.get(name))
        if status in ("off", "near"):
            rows.append((name, values.get(name), status, target.describe()))
    frame = pl.DataFrame(
        rows,
        schema={"metric": pl.String, "value": pl.Float64, "status": pl.String, "target": pl.String},
        orient="row",
    )
    rank = pl.col("status").replace_strict({"off": 0, "near": 1}, return_dtype=pl.Int64)
    return frame.sort(rank, maintain_order=True)
