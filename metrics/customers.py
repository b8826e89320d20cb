"""Customers as people rather than orders: RFM scores and segments as of a date (and who moved between two dates),
the interval between a customer's first and second order, and lifetime value observed and projected.

Everything reads the valid orders of identified customers (metrics/facts.py: a guest checkout has no customer) placed
on or before the date asked for. An order's value is its net sales, as `net_sales` counts it: Σ quantity × unit price
over its lines (its subtotal when it has none) − discount − refund_amount (facts.NET_SALES). Each order's net sales
are read from the orders' rollup (facts.ORDER_ROWS, one row per order) where the warehouse keeps it, instead of
summing its lines again for every figure and date.

RFM scoring is by quintiles of the customers scored, ties shared: a customer's score on a dimension is
1 + ⌊5 × (customers strictly worse on it) / (customers)⌋, so equal values always get the same score, the best get up to
5 and the worst 1. Worse means more days since the last order (recency), fewer valid orders (frequency) or less net
sales (monetary). The segment comes from the recency score R and FM, the mean of the frequency and monetary scores
rounded half up (⌊(F + M + 1) / 2⌋), on the grid of SEGMENTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import duckdb
import polars as pl

from metrics import dialect
from metrics.facts import NET_SALES, ORDER_ROWS, facts, order_rows_current, parameters, query
from metrics.periods import add_months, latest_date, month_end
from metrics.segments import ALL, Segment

# The quintiles: scores run 1..QUANTILES.
QUANTILES = 5


@dataclass(frozen=True)
class CustomerSegment:
    """One named RFM segment: the recency scores and FM scores (mean of frequency and monetary) it covers."""

    name: str
    label_en: str
    label_zh: str
    recency: tuple[int, ...]
    fm: tuple[int, ...]
    description: str
    description_zh: str


# The common RFM grid (recency down, FM across), each of the 25 cells in exactly one segment; best first.
SEGMENTS = (
    CustomerSegment(
        "champions", "Champions", "重要价值客户", (5,), (4, 5),
        "bought very recently, often and for much", "最近购买、频次高、金额大",
    ),
    CustomerSegment(
        "loyal", "Loyal", "忠诚客户", (3, 4), (4, 5),
        "buy often and for much, fairly recently", "购买频次高、金额大，近期购买过",
    ),
    CustomerSegment(
        "potential_loyalists", "Potential loyalists", "潜力客户", (4, 5), (2, 3),
        "recent customers with a few orders", "近期购买、已有几笔订单",
    ),
    CustomerSegment(
        "new_customers", "New customers", "新客户", (5,), (1,),
        "their first small order was very recent", "刚刚完成首笔小额订单",
    ),
    CustomerSegment(
        "promising", "Promising", "有望客户", (4,), (1,),
        "a recent first small order", "近期完成首笔小额订单",
    ),
    CustomerSegment(
        "need_attention", "Need attention", "需关注客户", (3,), (3,),
        "average on every score", "各项评分居中",
    ),
    CustomerSegment(
        "about_to_sleep", "About to sleep", "即将沉睡客户", (3,), (1, 2),
        "few small orders, not very recent", "订单少、金额小，且有一段时间未购买",
    ),
    CustomerSegment(
        "cannot_lose", "Cannot lose them", "不能流失的客户", (1, 2), (5,),
        "bought the most, but long ago", "曾经购买最多，但很久没有购买",
    ),
    CustomerSegment(
        "at_risk", "At risk", "流失风险客户", (1, 2), (3, 4),
        "bought often and for much, but long ago", "曾经购买频繁、金额较大，但很久没有购买",
    ),
    CustomerSegment(
        "hibernating", "Hibernating", "沉睡客户", (2,), (1, 2),
        "few small orders, long ago", "订单少、金额小，且很久没有购买",
    ),
    CustomerSegment(
        "lost", "Lost", "已流失客户", (1,), (1, 2),
        "few small orders, longest ago", "订单少、金额小，且最久没有购买",
    ),
)  # fmt: skip
SEGMENT_NAMES = tuple(s.name for s in SEGMENTS)


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    """The segment of a customer with these scores (each 1..5)."""
    fm = (frequency + monetary + 1) // 2
    for entry in SEGMENTS:
        if recency in entry.recency and fm in entry.fm:
            return entry.name
    raise ValueError(f"no segment for R={recency}, F={frequency}, M={monetary}")


def _segment_case() -> str:
    """The grid of SEGMENTS as one SQL case over r_score and fm_score."""
    whens = [
        f"when r_score in ({', '.join(map(str, s.recency))}) and fm_score in ({', '.join(map(str, s.fm))}) "
        f"then '{s.name}'"
        for s in SEGMENTS
    ]
    return "case " + " ".join(whens) + " end"


def _customer_ctes(segment: Segment, rolled: bool = False) -> dict[str, str]:
    """The facts plus each valid order of a known customer with its net sales, up to the day `$as_of`; read from
    ORDER_ROWS with `rolled` (the same rows: its net sales are NET_SALES, its dimensions those a filter matches)."""
    ctes = facts(segment, order_rows=rolled)
    if rolled:
        filters = "".join(f" and r.{d} = {dialect.param(d)}" for d in segment.dimensions)
        ctes["order_stores"] = f"""
        -- one row: how many stores the valid orders are in
        select count(distinct r.store) as stores from {ORDER_ROWS} r where r.valid{filters}"""
        ctes["customer_order_sales"] = f"""
        -- one row per valid order of a known customer placed on or before $as_of: its day and its net sales (as
        -- below, read from the orders' rollup)
        select
            r.order_id,
            case when os.stores > 1 then r.store || ':' || r.customer_id else r.customer_id end as customer_id,
            r.ordered_at,
            cast(r.ordered_at as date) as order_date,
            r.net_sales
        from {ORDER_ROWS} r
        cross join order_stores os
        where r.valid and r.customer_id is not null and r.ordered_at < cast($as_of as date) + interval 1 day{filters}"""
        return ctes
    ctes["order_stores"] = """
        -- one row: how many stores the valid orders are in
        select count(distinct store) as stores from valid_orders"""
    ctes["customer_order_sales"] = f"""
        -- one row per valid order of a known customer placed on or before $as_of: its day and its net sales. A
        -- customer is a store's (the same id on Tmall and on JD is two people): where the orders are in several
        -- stores, the customer is named `store:customer_id`
        select
            o.order_id,
            case when os.stores > 1 then o.store || ':' || o.customer_id else o.customer_id end as customer_id,
            o.ordered_at,
            cast(o.ordered_at as date) as order_date,
            {NET_SALES} as net_sales
        from valid_orders o
        cross join order_stores os
        left join (select store, order_id, sum(line_sales) as sales from order_lines group by store, order_id) l
            on l.store = o.store and l.order_id = o.order_id
        where o.customer_id is not null and o.ordered_at < cast($as_of as date) + interval 1 day"""
    return ctes


@lru_cache(maxsize=128)  # the page asks the same few segments again; building one takes milliseconds
def rfm_sql(segment: Segment = ALL, rolled: bool = False) -> str:
    """The RFM query as of `$as_of`: one row per known customer with a valid order on or before that day."""
    ctes = _customer_ctes(segment, rolled)
    ctes["customer_values"] = """
        -- one row per customer: days since the last order, valid orders, net sales
        select
            customer_id,
            min(order_date) as first_order,
            max(order_date) as last_order,
            date_diff('day', max(order_date), cast($as_of as date)) as recency_days,
            count(*) as frequency,
            sum(net_sales) as monetary
        from customer_order_sales
        group by customer_id"""
    ctes["customer_scores"] = f"""
        -- one row per customer: 1 + the number of customers strictly worse (rank − 1) in fifths of all customers
        select
            *,
            1 + {QUANTILES} * (rank() over (order by recency_days desc) - 1) // count(*) over () as r_score,
            1 + {QUANTILES} * (rank() over (order by frequency) - 1) // count(*) over () as f_score,
            1 + {QUANTILES} * (rank() over (order by monetary) - 1) // count(*) over () as m_score
        from customer_values"""
    ctes["customer_segments"] = f"""
        -- one row per customer: the scores and the segment of the grid
        select *, {_segment_case()} as segment
        from (select *, (f_score + m_score + 1) // 2 as fm_score from customer_scores)"""
    return query(
        ctes,
        """
        select
            customer_id, first_order, last_order, recency_days, frequency, cast(monetary as double) as monetary,
            r_score, f_score, m_score, segment
        from customer_segments
        order by customer_id""",
    )


RFM_SCHEMA = {
    "customer_id": pl.String,
    "first_order": pl.Date,
    "last_order": pl.Date,
    "recency_days": pl.Int64,
    "frequency": pl.Int64,
    "monetary": pl.Float64,
    "r_score": pl.Int64,
    "f_score": pl.Int64,
    "m_score": pl.Int64,
    "segment": pl.String,
}


def _as_of(con: duckdb.DuckDBPyConnection, as_of: date | None, segment: Segment) -> date | None:
    return as_of or latest_date(con, segment)


def rfm_scores(
    con: duckdb.DuckDBPyConnection, as_of: date | None = None, segment: Segment = ALL, rollups: bool = True
) -> pl.DataFrame:
    """One row per known customer with a valid order on or before `as_of` (default: the latest data date): first and
    last order day, recency_days (as_of − last order day), frequency (valid orders), monetary (their net sales), the
    three scores (1..5) and the segment. Each order's net sales (and, under a filter, its session's dimensions) come
    from the orders' rollup where it is current (facts.ORDER_ROWS); `rollups=False` reads the raw tables, with the
    same numbers (so do the other figures of this module)."""
    as_of = _as_of(con, as_of, segment)
    if as_of is None:
        return pl.DataFrame(schema=RFM_SCHEMA)
    sql = rfm_sql(segment, rolled=rollups and order_rows_current(con))
    found = con.sql(sql, params=parameters(sql, {"as_of": as_of}, segment)).pl()
    return found.cast(RFM_SCHEMA)  # type: ignore[arg-type]


SUMMARY_SCHEMA = {
    "segment": pl.String,
    "customers": pl.Int64,
    "customer_share": pl.Float64,
    "revenue": pl.Float64,
    "revenue_share": pl.Float64,
    "avg_recency_days": pl.Float64,
    "avg_frequency": pl.Float64,
    "avg_monetary": pl.Float64,
    "previous_customers": pl.Int64,
    "change": pl.Int64,
}


def segment_summary(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    since: date | None = None,
    segment: Segment = ALL,
    rollups: bool = True,
) -> pl.DataFrame:
    """One row per RFM segment (all of SEGMENTS, best first, empty ones with 0 customers) as of `as_of`.

    Columns: segment, customers, customer_share (of all customers scored), revenue (their net sales up to as_of),
    revenue_share, avg_recency_days, avg_frequency, avg_monetary (null for an empty segment), previous_customers (the
    segment's size as of `since`, default 90 days before as_of) and change (customers − previous_customers)."""
    as_of = _as_of(con, as_of, segment)
    if as_of is None:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    since = since or as_of - timedelta(days=90)
    return _summary(rfm_scores(con, as_of, segment, rollups), rfm_scores(con, since, segment, rollups))


def _summary(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """segment_summary's rows from the RFM scores on the two dates."""
    total_customers = now.height
    total_revenue = now["monetary"].sum() if now.height else 0.0
    grouped = now.group_by("segment").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("monetary").sum().alias("revenue"),
        pl.col("recency_days").mean().alias("avg_recency_days"),
        pl.col("frequency").mean().alias("avg_frequency"),
        pl.col("monetary").mean().alias("avg_monetary"),
    )
    previous = before.group_by("segment").agg(pl.len().cast(pl.Int64).alias("previous_customers"))
    frame = (
        pl.DataFrame({"segment": list(SEGMENT_NAMES)})
        .join(grouped, on="segment", how="left")
        .join(previous, on="segment", how="left")
        .with_columns(
            pl.col("customers").fill_null(0),
            pl.col("revenue").fill_null(0.0),
            pl.col("previous_customers").fill_null(0),
        )
        .with_columns(
            (pl.col("customers") / total_customers if total_customers else pl.lit(None)).alias("customer_share"),
            (pl.col("revenue") / total_revenue if total_revenue else pl.lit(None)).alias("revenue_share"),
            (pl.col("customers") - pl.col("previous_customers")).alias("change"),
        )
    )
    return frame.select(list(SUMMARY_SCHEMA)).cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]


def segment_movement(
    con: duckdb.DuckDBPyConnection, since: date, as_of: date, segment: Segment = ALL, rollups: bool = True
) -> pl.DataFrame:
    """One row per (segment as of `since`, segment as of `as_of`) pair with customers: from_segment (null for a
    customer whose first valid order came after `since`), to_segment, customers. Sorted by the grid's order."""
    return _movement(rfm_scores(con, as_of, segment, rollups), rfm_scores(con, since, segment, rollups))


def _movement(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """segment_movement's rows from the RFM scores on the two dates."""
    order = {name: i for i, name in enumerate(SEGMENT_NAMES)}
    moved = (
        now.select("customer_id", pl.col("segment").alias("to_segment"))
        .join(before.select("customer_id", pl.col("segment").alias("from_segment")), on="customer_id", how="left")
        .group_by("from_segment", "to_segment")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )
    return moved.sort(
        pl.col("from_segment").replace_strict(order, default=-1, return_dtype=pl.Int64),
        pl.col("to_segment").replace_strict(order, return_dtype=pl.Int64),
    ).select("from_segment", "to_segment", "customers")


@dataclass(frozen=True)
class SegmentChanges:
    """The segments as of a date with their sizes on an earlier one, and the customers' moves between them."""

    summary: pl.DataFrame  # segment_summary's rows
    movement: pl.DataFrame  # segment_movement's rows


def segment_changes(
    con: duckdb.DuckDBPyConnection, as_of: date, since: date, segment: Segment = ALL, rollups: bool = True
) -> SegmentChanges:
    """segment_summary(as_of, since) and segment_movement(since, as_of), scoring each date once."""
    now, before = rfm_scores(con, as_of, segment, rollups), rfm_scores(con, since, segment, rollups)
    return SegmentChanges(_summary(now, before), _movement(now, before))


def segment_customers(
    con: duckdb.DuckDBPyConnection, name: str, as_of: date | None = None, segment: Segment = ALL
) -> list[str]:
    """The ids of the customers in RFM segment `name` as of `as_of`, sorted. Raises ValueError for an unknown name."""
    if name not in SEGMENT_NAMES:
        raise ValueError(f"segment {name!r} is not one of {', '.join(SEGMENT_NAMES)}")
    scores = rfm_scores(con, as_of, segment)
    return scores.filter(pl.col("segment") == name)["customer_id"].sort().to_list()


def segment_customer_ids(
    con: duckdb.DuckDBPyConnection, name: str, as_of: date | None = None, segment: Segment = ALL
) -> pl.DataFrame:
    """One row per customer of RFM segment `name` as of `as_of` (column customer_id, sorted): a campaign's list."""
    ids = segment_customers(con, name, as_of, segment)
    return pl.DataFrame({"customer_id": ids}, schema={"customer_id": pl.String})


# --- repeat purchase ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=128)  # the page asks the same few segments again; building one takes milliseconds
def repeat_sql(segment: Segment = ALL, rolled: bool = False) -> str:
    """One row per known customer: cohort month, first order day and second order day (null if none by $as_of)."""
    ctes = _customer_ctes(segment, rolled)
    ctes["ranked_orders"] = """
        -- one row per order of a known customer: its place among the customer's valid orders (ties: order id)
        select
            customer_id, order_date,
            row_number() over (partition by customer_id order by ordered_at, order_id) as nth
        from customer_order_sales"""
    return query(
        ctes,
        f"""
        select
            customer_id,
            {dialect.truncate("month", "min(order_date)")} as cohort,
            min(case when nth = 1 then order_date end) as first_order,
            min(case when nth = 2 then order_date end) as second_order
        from ranked_orders
        where nth <= 2
        group by customer_id""",
    )


REPEAT_SCHEMA = {
    "cohort": pl.String,
    "customers": pl.Int64,
    "repeat_customers": pl.Int64,
    "repeat_share": pl.Float64,
    "median_days": pl.Float64,
    "mean_days": pl.Float64,
}


def repeat_interval(
    con: duckdb.DuckDBPyConnection, as_of: date | None = None, segment: Segment = ALL, rollups: bool = True
) -> pl.DataFrame:
    """One row per cohort ('YYYY-MM', the month of customers' first valid order) up to `as_of`, and a last row 'all':
    customers, repeat_customers (with a second valid order by as_of), repeat_share, and the median and mean days from
    the first order's day to the second's (0 for two orders on one day; null when nobody has ordered twice)."""
    as_of = _as_of(con, as_of, segment)
    if as_of is None:
        return pl.DataFrame(schema=REPEAT_SCHEMA)
    sql = repeat_sql(segment, rolled=rollups and order_rows_current(con))
    found = con.sql(sql, params=parameters(sql, {"as_of": as_of}, segment)).pl()
    found = found.with_columns(
        pl.col("cohort").cast(pl.Date).dt.strftime("%Y-%m"),
        (pl.col("second_order").cast(pl.Date) - pl.col("first_order").cast(pl.Date)).dt.total_days().alias("days"),
    )
    stats = (
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("days").count().cast(pl.Int64).alias("repeat_customers"),
        pl.col("days").median().cast(pl.Float64).alias("median_days"),
        pl.col("days").mean().cast(pl.Float64).alias("mean_days"),
    )
    by_cohort = found.group_by("cohort").agg(*stats).sort("cohort")
    overall = found.select(pl.lit("all").alias("cohort"), *stats)
    frame = pl.concat([by_cohort, overall]).with_columns(
        (pl.col("repeat_customers") / pl.col("customers")).alias("repeat_share")
    )
    return frame.select(list(REPEAT_SCHEMA)).cast(REPEAT_SCHEMA)  # type: ignore[arg-type]


# --- lifetime value ----------------------------------------------------------------------------------------------

LTV_HORIZON_MONTHS = 12
LTV_METHOD = (
    "Projected LTV over a cohort's first {horizon} months: the cohort's net sales per customer in its complete "
    "months, plus, for each later month k it has not yet completed, the mean net sales per customer in month k of "
    "the cohorts that have (weighted by their customers); null where no cohort has completed month k yet."
)
LTV_METHOD_ZH = (
    "预测 LTV（同期群首 {horizon} 个月）：该同期群已完整月份的人均净销售额，"
    "加上其尚未走完的每个第 k 月里、已走完第 k 月的各同期群的人均净销售额（按客户数加权）；"
    "若还没有同期群走完第 k 月则为空。"
)


@lru_cache(maxsize=128)  # the page asks the same few segments again; building one takes milliseconds
def ltv_sql(segment: Segment = ALL, rolled: bool = False) -> str:
    """One row per cohort month and month offset with orders: the cohort's customers and the net sales in it."""
    ctes = _customer_ctes(segment, rolled)
    ctes["customer_cohorts"] = f"""
        -- one row per known customer: the month of their first valid order
        select customer_id, {dialect.truncate("month", "min(order_date)")} as cohort
        from customer_order_sales
        group by customer_id"""
    ctes["cohort_sizes"] = """
        -- one row per cohort: its customers
        select cohort, count(*) as customers
        from customer_cohorts
        group by cohort"""
    ctes["cohort_sales"] = f"""
        -- one row per cohort and month offset k with orders: the net sales of the cohort's customers in month k
        select
            c.cohort,
            date_diff('month', c.cohort, {dialect.truncate("month", "s.order_date")}) as month_offset,
            sum(s.net_sales) as net_sales
        from customer_order_sales s
        join customer_cohorts c on c.customer_id = s.customer_id
        group by 1, 2"""
    return query(
        ctes,
        """
        select z.cohort, z.customers, s.month_offset, cast(coalesce(s.net_sales, 0) as double) as net_sales
        from cohort_sizes z
        left join cohort_sales s on s.cohort = z.cohort
        order by z.cohort, s.month_offset""",
    )


LTV_SCHEMA = {
    "cohort": pl.String,
    "customers": pl.Int64,
    "complete_months": pl.Int64,
    "observed_ltv": pl.Float64,
    "projected_ltv": pl.Float64,
}


def lifetime_value(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None = None,
    horizon: int = LTV_HORIZON_MONTHS,
    segment: Segment = ALL,
    rollups: bool = True,
) -> pl.DataFrame:
    """One row per cohort ('YYYY-MM') up to `as_of`, and a last row 'all' (customer-weighted over the cohorts):
    customers, complete_months (months of the cohort that had ended by as_of), observed_ltv (net sales per customer
    up to as_of) and projected_ltv (per customer over the first `horizon` months, by LTV_METHOD)."""
    as_of = _as_of(con, as_of, segment)
    if as_of is None:
        return pl.DataFrame(schema=LTV_SCHEMA)
    sql = ltv_sql(segment, rolled=rollups and order_rows_current(con))
    found = con.sql(sql, params=parameters(sql, {"as_of": as_of}, segment)).pl()
    cohorts: dict[date, int] = {}
    sales: dict[tuple[date, int], float] = {}
    for cohort, customers, k, net in found.iter_rows():
        cohorts[cohort] = customers
        if k is not None:
            sales[(cohort, k)] = net

    def complete(cohort: date) -> int:
        k = 0
        while month_end(add_months(cohort, k)) <= as_of:
            k += 1
        return k

    done = {cohort: complete(cohort) for cohort in cohorts}
    # Month k's mean net sales per customer over the cohorts that have completed month k.
    increments: dict[int, float | None] = {}
    for k in range(horizon):
        reached = [c for c in cohorts if done[c] > k]
        people = sum(cohorts[c] for c in reached)
        increments[k] = sum(sales.get((c, k), 0.0) for c in reached) / people if people else None
    rows = []
    for cohort in sorted(cohorts):
        customers = cohorts[cohort]
        observed = sum(v for (c, _), v in sales.items() if c == cohort) / customers
        known = sum(sales.get((cohort, k), 0.0) for k in range(min(done[cohort], horizon))) / customers
        later = [increments[k] for k in range(done[cohort], horizon)]
        projected = None if any(v is None for v in later) else known + sum(later)  # type: ignore[arg-type]
        rows.append((f"{cohort:%Y-%m}", customers, done[cohort], observed, projected))
    frame = pl.DataFrame(rows, schema=LTV_SCHEMA, orient="row")
    if frame.is_empty():
        return frame
    projected = frame.filter(pl.col("projected_ltv").is_not_null())
    everyone = frame["customers"].sum()
    overall = pl.DataFrame(
        [
            (
                "all",
                everyone,
                None,
                (frame["observed_ltv"] * frame["customers"]).sum() / everyone,
                (projected["projected_ltv"] * projected["customers"]).sum() / projected["customers"].sum()
                if projected.height
                else None,
            )
        ],
        schema=LTV_SCHEMA,
        orient="row",
    )
    return pl.concat([frame, overall])


# --- definitions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """One customer figure: its name, labels and definition in English and Chinese (listed in the README)."""

    name: str
    label_en: str
    label_zh: str
    definition: str
    definition_zh: str


DEFINITIONS = (
    Definition(
        "recency_days", "Recency (days)", "最近购买间隔（天）",
        "days from the customer's last valid order to the date", "客户最后一笔有效订单到该日的天数",
    ),
    Definition(
        "frequency", "Frequency", "购买频次",
        "the customer's valid orders up to the date", "客户截至该日的有效订单数",
    ),
    Definition(
        "monetary", "Monetary value", "消费金额",
        "net sales of the customer's valid orders up to the date (lines' quantity × unit price, or the subtotal, − "
        "discount − refund)",
        "客户截至该日有效订单的净销售额（数量 × 单价或小计 − 折扣 − 退款）",
    ),
    Definition(
        "rfm_score", "R, F, M scores", "R、F、M 评分",
        "1 + ⌊5 × customers strictly worse on the dimension / customers⌋ (quintiles, ties share a score); the segment "
        "comes from R and ⌊(F + M + 1) / 2⌋",
        "1 + ⌊5 × 该维度上严格更差的客户数 / 客户数⌋（五分位，并列同分）；分群依据 R 与 ⌊(F + M + 1) / 2⌋",
    ),
    Definition(
        "repeat_interval_days", "Repeat interval (days)", "复购间隔（天）",
        "days from a customer's first valid order to their second (median and mean, by cohort month)",
        "客户首单到第二单的天数（按同期群月份的中位数与平均数）",
    ),
    Definition(
        "repeat_share", "Repeat share", "复购客户占比",
        "customers of a cohort with a second valid order / customers of the cohort",
        "同期群中有第二笔有效订单的客户数 / 同期群客户数",
    ),
    Definition(
        "observed_ltv", "Observed LTV", "实际客户终身价值",
        "net sales of a cohort's customers up to the date / customers of the cohort",
        "同期群客户截至该日的净销售额 / 同期群客户数",
    ),
    Definition(
        "projected_ltv", "Projected 12-month LTV", "预测 12 个月客户终身价值",
        LTV_METHOD.format(horizon=LTV_HORIZON_MONTHS), LTV_METHOD_ZH.format(horizon=LTV_HORIZON_MONTHS),
    ),
)  # fmt: skip


README_START = "<!-- customer-definitions:start -->"
README_END = "<!-- customer-definitions:end -->"


def definitions_markdown(definitions: tuple[Definition, ...] = DEFINITIONS) -> str:
    """The README's table of the customer figures (markdown), one row per definition."""
    lines = ["| figure | label | 中文 | definition | 定义 |", "|---|---|---|---|---|"]
    for d in definitions:
        lines.append(f"| `{d.name}` | {d.label_en} | {d.label_zh} | {d.definition} | {d.definition_zh} |")
    segments = ", ".join(f"{s.name} ({s.label_zh}: R {_cells(s.recency)}, FM {_cells(s.fm)})" for s in SEGMENTS)
    return "\n".join(lines) + f"\n\nSegments, best first: {segments}.\n"


def _cells(scores: tuple[int, ...]) -> str:
    return f"{scores[0]}–{scores[-1]}" if len(scores) > 1 else str(scores[0])


__all__ = [
    "DEFINITIONS",
    "LTV_HORIZON_MONTHS",
    "LTV_METHOD",
    "LTV_METHOD_ZH",
    "SEGMENTS",
    "SEGMENT_NAMES",
    "Definition",
    "CustomerSegment",
    "definitions_markdown",
    "lifetime_value",
    "repeat_interval",
    "rfm_scores",
    "SegmentChanges",
    "segment_changes",
    "segment_customer_ids",
    "segment_customers",
    "segment_movement",
    "segment_of",
    "segment_summary",
]
