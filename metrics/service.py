"""Customer service and after-sales figures: first response and resolution times, complaints per 100 orders,
satisfaction and inquiry-to-order conversion (from the tickets table), and return rates by units and value, by product,
category and reason, with the share sent back within 7 days of delivery (from the returns table).

A ticket belongs to the period it was opened in; a return to the period its order was placed in (so a return rate
compares an order's returned units with its units). Orders follow the valid-order rule and lines the sales rule of
metrics/facts.py. None of these figures is split by source or device: tickets carry no session. Each figure is null
where its input was never given (no tickets, or no returns, loaded at all) and where its denominator is 0 (SPEC §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from metrics import dialect
from metrics.facts import facts, parameters, query
from metrics.periods import Period
from metrics.segments import Segment
from metrics.units import Unit, unit

# The guide's customer-service standard: a first response within 30 minutes. The targets file's
# [first_response_minutes] max, when given, replaces it (see `response_target`).
RESPONSE_TARGET_MINUTES = 30.0
SEVEN_DAYS = 7  # the 7-day no-reason return window (七天无理由退货)


@dataclass(frozen=True)
class ServiceMetric:
    """One service or after-sales figure: name, labels, unit (metrics/units.py), which way is better, definition."""

    name: str
    label_en: str
    label_zh: str
    unit: str  # 'count', 'rate' (a share in [0, 1]) or 'decimal' (minutes, hours, per 100 orders, a 1–5 score)
    direction: str
    definition: str
    definition_zh: str

    @property
    def formats(self) -> Unit:
        """How its values are shown (metrics/units.py)."""
        return unit(self.unit)

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def definition_in(self, lang: str = "en") -> str:
        return self.definition_zh if lang == "zh" else self.definition


SERVICE_METRICS = (
    ServiceMetric(
        "tickets", "Service tickets", "客服工单数", "count", "lower",
        "tickets opened in the period", "本期新建的客服工单数",
    ),
    ServiceMetric(
        "first_response_minutes", "First response time (median, min)", "首次响应时长（中位数，分钟）", "decimal",
        "lower",
        "median minutes from opening to the first response, over the period's tickets answered",
        "本期已响应工单从创建到首次响应的分钟数中位数",
    ),
    ServiceMetric(
        "first_response_within_target", "First response within target", "首响达标率", "rate", "higher",
        "tickets of the period answered within the target (the guide's 30 minutes; targets file "
        "[first_response_minutes] max) / tickets of the period (unanswered ones count as missed)",
        "本期在目标时长内（指南为 30 分钟；目标文件 [first_response_minutes] max）首次响应的工单 / "
        "本期工单（未响应视为未达标）",
    ),
    ServiceMetric(
        "resolution_hours", "Resolution time (median, h)", "解决时长（中位数，小时）", "decimal", "lower",
        "median hours from opening to resolution, over the period's tickets resolved",
        "本期已解决工单从创建到解决的小时数中位数",
    ),
    ServiceMetric(
        "complaint_rate", "Complaints per 100 orders", "每百单投诉数", "decimal", "lower",
        "100 × complaint tickets opened in the period / valid orders placed in the period",
        "100 × 本期投诉工单数 / 本期有效订单数",
    ),
    ServiceMetric(
        "return_rate", "Return rate (units)", "退货率（件数）", "rate", "lower",
        "units returned of the valid orders placed in the period / units of those orders",
        "本期有效订单的退货件数 / 这些订单的商品件数",
    ),
    ServiceMetric(
        "return_value_rate", "Return rate (value)", "退货率（金额）", "rate", "lower",
        "refund_amount of the returns of the valid orders placed in the period / their gross sales",
        "本期有效订单退货的退款金额 / 这些订单的商品销售额",
    ),
    ServiceMetric(
        "seven_day_return_share", "Returned within 7 days", "7 天内退货占比", "rate", "higher",
        "units returned at most 7 days after delivery / units returned whose days after delivery are known "
        "(returns of the period's orders)",
        "交付后 7 天内退回的件数 / 已知交付后天数的退货件数（本期订单的退货）",
    ),
    ServiceMetric(
        "satisfaction", "Satisfaction (1–5)", "满意度（1–5）", "decimal", "higher",
        "mean satisfaction_score of the period's tickets that were rated",
        "本期已评价工单的满意度平均分",
    ),
    ServiceMetric(
        "inquiry_conversion_rate", "Inquiry-to-order conversion", "询单转化率", "rate", "higher",
        "inquiry tickets of the period whose order_id names a valid order / inquiry tickets of the period",
        "本期咨询工单中 order_id 对应有效订单的工单数 / 本期咨询工单数",
    ),
)  # fmt: skip
SERVICE = {m.name: m for m in SERVICE_METRICS}
TICKET_METRICS = ("tickets", "first_response_minutes", "first_response_within_target", "resolution_hours",
                  "complaint_rate", "satisfaction", "inquiry_conversion_rate")  # fmt: skip
RETURN_METRICS = ("return_rate", "return_value_rate", "seven_day_return_share")


def response_target(targets: Mapping[str, object] | None) -> float:
    """The first-response target in minutes: the targets' [first_response_minutes] ceiling, else the guide's 30."""
    target = (targets or {}).get("first_response_minutes")
    ceiling = getattr(target, "ceiling", None)
    return float(ceiling) if ceiling is not None else RESPONSE_TARGET_MINUTES


GRAINS = ("day", "week", "month")


def _service_ctes(grain: str | None, store: str | None = None) -> dict[str, str]:
    """The facts plus the period's tickets, orders and returns, each with its bucket (the grain's first day, or
    $start for the whole period)."""
    if grain is not None and grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")

    def bucket(column: str) -> str:
        return "cast($start as date)" if grain is None else f"cast({dialect.truncate(grain, column)} as date)"

    # One store's tickets, orders and returns (issue 13), or every store's.
    ctes = facts(Segment(store=store))
    own_store = "and t.store = $store" if store is not None else ""
    ctes["period_tickets"] = f"""
        -- one row per ticket opened in the period: its bucket, type, minutes to respond and hours to resolve
        select
            {bucket("t.opened_at")} as bucket,
            t.type, t.store, t.order_id, t.satisfaction_score,
            date_diff('second', t.opened_at, t.first_response_at) / 60.0 as response_minutes,
            date_diff('second', t.opened_at, t.resolved_at) / 3600.0 as resolution_hours
        from tickets t
        where t.opened_at >= $start_ts and t.opened_at < $end_ts {own_store}"""
    ctes["period_valid_orders"] = f"""
        -- one row per valid order placed in the period, with its bucket
        select {bucket("o.ordered_at")} as bucket, o.store, o.order_id, o.status
        from valid_orders o
        where o.ordered_at >= $start_ts and o.ordered_at < $end_ts"""
    ctes["period_lines"] = """
        -- one row per line of a valid order placed in the period: its bucket, sku, category, units and sales
        select o.bucket, o.store, o.order_id, l.sku, l.category, l.quantity, l.line_sales
        from period_valid_orders o
        join order_lines l on l.store = o.store and l.order_id = o.order_id"""
    ctes["period_returns"] = """
        -- one row per returned line of a valid order placed in the period: its bucket, category and what came back
        select
            o.bucket, r.sku, coalesce(p.category, '') as category, coalesce(r.reason, '') as reason,
            r.returned_quantity, r.refund_amount, r.days_after_delivery
        from returns r
        join period_valid_orders o on o.store = r.store and o.order_id = r.order_id
        left join products p on p.sku = r.sku"""
    return ctes


def _period_values(period: Period) -> dict[str, object]:
    return {
        "start": period.start,
        "start_ts": period.start,
        "end_ts": period.end + timedelta(days=1),
    }


def service_sql(grain: str | None = None, store: str | None = None) -> str:
    """One row per bucket with tickets, orders or returns: the parts of every service figure (of one store's, if
    `store`)."""
    ctes = _service_ctes(grain, store)
    ctes["ticket_parts"] = """
        -- one row per bucket with tickets
        select
            bucket,
            count(*) as tickets,
            median(response_minutes) as first_response_minutes,
            count(*) filter (where response_minutes <= $target) as answered_in_time,
            median(resolution_hours) as resolution_hours,
            count(*) filter (where type = 'complaint') as complaints,
            avg(satisfaction_score) as satisfaction,
            count(*) filter (where type = 'inquiry') as inquiries,
            count(*) filter (
                where type = 'inquiry' and (store, order_id) in (select store, order_id from valid_orders)
            )
                as converted_inquiries
        from period_tickets
        group by bucket"""
    ctes["order_parts"] = """
        -- one row per bucket with valid orders: orders, units and sales
        select
            o.bucket, count(distinct o.store || chr(31) || o.order_id) as orders, sum(l.quantity) as units,
            sum(l.line_sales) as sales
        from period_valid_orders o
        left join order_lines l on l.store = o.store and l.order_id = o.order_id
        group by o.bucket"""
    ctes["return_parts"] = f"""
        -- one row per bucket with returns: units and refunds returned, and units back within {SEVEN_DAYS} days
        select
            bucket,
            sum(returned_quantity) as returned_units,
            sum(refund_amount) as returned_value,
            sum(returned_quantity) filter (where days_after_delivery <= {SEVEN_DAYS}) as early_units,
            sum(returned_quantity) filter (where days_after_delivery is not null) as dated_units
        from period_returns
        group by bucket"""
    ctes["buckets"] = """
        -- one row per bucket with anything in it
        select bucket from ticket_parts
        union
        select bucket from order_parts
        union
        select bucket from return_parts"""
    return query(
        ctes,
        """
        select
            b.bucket,
            cast(coalesce(t.tickets, 0) as bigint) as tickets,
            cast(t.first_response_minutes as double) as first_response_minutes,
            cast(coalesce(t.answered_in_time, 0) as bigint) as answered_in_time,
            cast(t.resolution_hours as double) as resolution_hours,
            cast(coalesce(t.complaints, 0) as bigint) as complaints,
            cast(t.satisfaction as double) as satisfaction,
            cast(coalesce(t.inquiries, 0) as bigint) as inquiries,
            cast(coalesce(t.converted_inquiries, 0) as bigint) as converted_inquiries,
            cast(coalesce(o.orders, 0) as bigint) as orders,
            cast(coalesce(o.units, 0) as bigint) as units,
            cast(coalesce(o.sales, 0) as double) as sales,
            cast(coalesce(r.returned_units, 0) as bigint) as returned_units,
            cast(coalesce(r.returned_value, 0) as double) as returned_value,
            cast(coalesce(r.early_units, 0) as bigint) as early_units,
            cast(coalesce(r.dated_units, 0) as bigint) as dated_units
        from buckets b
        left join ticket_parts t on t.bucket = b.bucket
        left join order_parts o on o.bucket = b.bucket
        left join return_parts r on r.bucket = b.bucket
        order by b.bucket""",
    )


def inputs_given(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Whether the shop has loaded any tickets and any returns at all (else their figures are null, not 0)."""
    tickets, returns = con.sql("select (select count(*) from tickets), (select count(*) from returns)").fetchall()[0]
    return {"tickets": tickets > 0, "returns": returns > 0}


def _ratio(top: float | None, bottom: float | None, scale: float = 1.0) -> float | None:
    return None if top is None or not bottom else scale * top / bottom


def _figures(parts: dict, given: dict[str, bool]) -> dict[str, float | int | None]:
    """The service figures of one bucket from its parts; null where their input was never given."""
    values: dict[str, float | int | None] = {
        "tickets": parts["tickets"],
        "first_response_minutes": parts["first_response_minutes"],
        "first_response_within_target": _ratio(parts["answered_in_time"], parts["tickets"]),
        "resolution_hours": parts["resolution_hours"],
        "complaint_rate": _ratio(parts["complaints"], parts["orders"], 100.0),
        "return_rate": _ratio(parts["returned_units"], parts["units"]),
        "return_value_rate": _ratio(parts["returned_value"], parts["sales"]),
        "seven_day_return_share": _ratio(parts["early_units"], parts["dated_units"]),
        "satisfaction": parts["satisfaction"],
        "inquiry_conversion_rate": _ratio(parts["converted_inquiries"], parts["inquiries"]),
    }
    for name in TICKET_METRICS if not given["tickets"] else ():
        values[name] = None
    for name in RETURN_METRICS if not given["returns"] else ():
        values[name] = None
    return values


SCHEMA = {m.name: (pl.Int64 if m.unit == "count" else pl.Float64) for m in SERVICE_METRICS}  # the figures' columns


def service_kpis(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    target_minutes: float = RESPONSE_TARGET_MINUTES,
    store: str | None = None,
) -> dict[str, float | int | None]:
    """The service and after-sales figures of a period (SERVICE_METRICS, by name), the first response target being
    `target_minutes`; one store's if `store`."""
    sql = service_sql(store=store)
    values = {**_period_values(period), "target": target_minutes, "store": store}
    found = con.sql(sql, params=parameters(sql, values)).pl()
    empty = {c: 0 for c in found.columns} | {"first_response_minutes": None, "resolution_hours": None,
                                             "satisfaction": None}  # fmt: skip
    parts = found.row(0, named=True) if found.height else empty
    return _figures(parts, inputs_given(con))


def service_comparison(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    compared: Period,
    target_minutes: float = RESPONSE_TARGET_MINUTES,
) -> pl.DataFrame:
    """One row per figure of SERVICE_METRICS: metric, value (in `period`), previous (in `compared`) and change (value
    relative to previous; null where either is null or previous is 0)."""
    now = service_kpis(con, period, target_minutes)
    before = service_kpis(con, compared, target_minutes)
    rows = []
    for m in SERVICE_METRICS:
        value, previous = now[m.name], before[m.name]
        change = None if value is None or not previous else (value - previous) / abs(previous)
        rows.append((m.name, value, previous, change))
    schema = {"metric": pl.String, "value": pl.Float64, "previous": pl.Float64, "change": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def service_series(
    con: duckdb.DuckDBPyConnection,
    first: date,
    last: date,
    grain: str = "week",
    target_minutes: float = RESPONSE_TARGET_MINUTES,
) -> pl.DataFrame:
    """One row per day, ISO week or month (`grain`) from `first` to `last` with any ticket, order or return: period
    (the bucket's first day) and every figure of SERVICE_METRICS."""
    sql = service_sql(grain)
    values = {**_period_values(Period(first, last)), "target": target_minutes}
    found = con.sql(sql, params=parameters(sql, values)).pl()
    given = inputs_given(con)
    rows = [{"period": row["bucket"], **_figures(row, given)} for row in found.iter_rows(named=True)]
    return pl.DataFrame(rows, schema={"period": pl.Date, **SCHEMA}, orient="row")


def with_service_columns(frame: pl.DataFrame, values: Mapping[str, float | int | None], grouped: bool) -> pl.DataFrame:
    """`frame` (KPI rows, e.g. compute_kpis') with one column per service figure: `values` in an ungrouped row, null
    in grouped rows (no service figure splits by a dimension)."""
    return frame.with_columns(
        pl.lit(None if grouped else values[m.name], dtype=SCHEMA[m.name]).alias(m.name) for m in SERVICE_METRICS
    )


RETURN_SPLITS = ("sku", "category", "reason")


def returns_by(
    con: duckdb.DuckDBPyConnection, period: Period, by: str = "category", store: str | None = None
) -> pl.DataFrame:
    """One row per product (sku), category or return reason with returns among the valid orders placed in the
    period (one store's if `store`), most returned units first: returned_units, returned_value (refunds), units and
    sales (of the period's orders in that product or category; all of them for a reason), return_rate (units) and
    return_value_rate."""
    if by not in RETURN_SPLITS:
        raise ValueError(f"returns split by one of {', '.join(RETURN_SPLITS)}, not {by!r}")
    ctes = _service_ctes(None, store)
    sold_group = "'all'" if by == "reason" else f"coalesce(l.{by}, '')"
    ctes["sold"] = f"""
        -- one row per group: the units and sales of the period's valid orders in it
        select {sold_group} as grp, sum(l.quantity) as units, sum(l.line_sales) as sales
        from period_lines l
        group by 1"""
    ctes["returned"] = f"""
        -- one row per group with returns
        select {by} as grp, sum(returned_quantity) as returned_units, sum(refund_amount) as returned_value
        from period_returns
        group by 1"""
    join = "s.grp = 'all'" if by == "reason" else "s.grp = r.grp"
    sql = query(
        ctes,
        f"""
        select
            r.grp as {by},
            r.returned_units,
            cast(r.returned_value as double) as returned_value,
            coalesce(s.units, 0) as units,
            cast(coalesce(s.sales, 0) as double) as sales,
            cast(r.returned_units / nullif(s.units, 0) as double) as return_rate,
            cast(r.returned_value / nullif(s.sales, 0) as double) as return_value_rate
        from returned r
        left join sold s on {join}
        order by r.returned_units desc, r.grp""",
    )
    found = con.sql(sql, params=parameters(sql, {**_period_values(period), "store": store})).pl()
    schema = {by: pl.String, "returned_units": pl.Int64, "returned_value": pl.Float64, "units": pl.Int64,
              "sales": pl.Float64, "return_rate": pl.Float64, "return_value_rate": pl.Float64}  # fmt: skip
    return found.cast(schema)  # type: ignore[arg-type]


# --- README ------------------------------------------------------------------------------------------------------

README_START = "<!-- service-definitions:start -->"
README_END = "<!-- service-definitions:end -->"


def definitions_markdown() -> str:
    """The README's table of the service and after-sales figures (markdown), one row per figure."""
    lines = ["| figure | label | 中文 | definition | 定义 | unit | better |", "|---|---|---|---|---|---|---|"]
    for m in SERVICE_METRICS:
        lines.append(
            f"| `{m.name}` | {m.label_en} | {m.label_zh} | {m.definition} | {m.definition_zh} | {m.unit} | "
            f"{m.direction} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "RESPONSE_TARGET_MINUTES",
    "RETURN_SPLITS",
    "SERVICE",
    "SERVICE_METRICS",
    "ServiceMetric",
    "definitions_markdown",
    "inputs_given",
    "response_target",
    "returns_by",
    "service_comparison",
    "service_kpis",
    "service_series",
    "with_service_columns",
]
