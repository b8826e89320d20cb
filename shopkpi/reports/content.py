"""What an operations report says, as data: its period and its sections, each a table (and a chart) of numbers
asked of metrics/. The renderers (html, pdf, xlsx) only lay these out; none computes a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from metrics.attribution import unattributed_orders, without_unattributed
from metrics.bestsellers import top_products
from metrics.compute import compare_periods, comparison_periods, compute_kpis, kpi_series
from metrics.currency import store_currencies
from metrics.forecast import Event, ForecastError, load_calendar, month_pacing
from metrics.funnel import STEP_LABELS, funnel
from metrics.inputs import session_stores
from metrics.periods import Period, add_months, coverage, latest_date, month_end
from metrics.products import product_sales_change, risers_and_fallers
from metrics.registry import METRICS, PNL_LINES, REPORT_ONLY, format_value
from metrics.replenishment import forecast_cover
from metrics.segments import ALL, Segment
from metrics.service import SERVICE, SERVICE_METRICS, TICKET_METRICS, response_target, returns_by, service_kpis
from metrics.stock import reorder_now
from metrics.targets import Target, load_targets, replenish_window
from metrics.units import RATE
from shopkpi.reports import charts
from warehouse import store_settings

PERIOD_KINDS = ("daily", "weekly", "monthly")

# The cards at the top of the report: the numbers an executive reads first.
HEADLINE_METRICS = (
    "total_revenue",
    "orders",
    "aov",
    "conversion_rate",
    "cart_conversion_rate",
    "retention_rate",
    "gross_margin",
    "net_profit",
)
TRAFFIC_METRICS = (
    "sessions",
    "visitors",
    "bounce_rate",
    "conversion_rate",
    "orders",
    "total_revenue",
    "ad_spend",
    "roas",
)
CAMPAIGN_METRICS = ("sessions", "orders", "total_revenue", "ad_spend", "ad_ctr", "roas", "cost_per_order")
DEVICE_METRICS = ("sessions", "ctr", "bounce_rate", "conversion_rate")
STORE_METRICS = ("sessions", "orders", "conversion_rate", "gross_sales", "net_sales", "aov", "ad_spend")
ENGAGEMENT_METRICS = ("ctr", "ad_ctr", "bounce_rate")
TREND_METRICS = ("total_revenue", "orders", "net_profit")
TOP_PRODUCTS = 10
EMBEDDED = "DuckDB (embedded warehouse)"
MOVERS = 5
STOCK_WINDOW_DAYS = 28  # each product's share of demand: its units of the last four weeks
# Reports forecast with this model rather than backtesting three (which takes seconds per series): a PDF is
# due in under 10 s. `shopkpi forecast` shows the model's backtest against seasonal naive.
OUTLOOK_MODEL = "sarimax_promo"


@dataclass(frozen=True)
class Column:
    """One column of a report table. `kind` says how its values read: 'text', 'count', 'money', 'rate', 'ratio',
    'change' (a relative change, signed), 'decimal', 'date', 'status', or 'unit' (each row's metric's own unit).
    A column named for a metric takes its label and unit from the registry."""

    key: str
    label: str
    kind: str
    workbook_only: bool = False  # an identifier for analysts (metric key, step key); printed reports leave it out


def metric_column(name: str, key: str | None = None) -> Column:
    entry = METRICS[name]
    return Column(key or name, entry.label_en, entry.unit)


@dataclass
class Table:
    """Rows of one section: values as numbers (None where undefined), never as formatted text."""

    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    units: list[str] | None = None  # per row, for columns of kind 'unit'
    metrics: list[str] | None = None  # per row, the metric a 'unit' cell is a value of (for formatting)
    styles: list[str] | None = None  # per row: '' or 'subtotal' / 'margin' (P&L lines)
    empty: str = "Nothing in this period."

    def frame(self) -> pl.DataFrame:
        """The table as a DataFrame (column keys as names), for tests and downloads."""
        return pl.DataFrame(
            [list(row) for row in self.rows], schema=[c.key for c in self.columns], orient="row", strict=False
        )


@dataclass
class Card:
    """A headline KPI: value, target and status, change against the previous period and last year."""

    metric: str
    label: str
    label_zh: str
    value: float | None
    target: str
    status: str | None
    previous_change: float | None
    last_year_change: float | None


@dataclass
class Section:
    key: str
    title: str
    title_zh: str
    note: str
    table: Table
    chart: str | None = None  # SVG
    cards: list[Card] = field(default_factory=list)


@dataclass
class Report:
    kind: str
    period: Period
    title: str
    subtitle: str
    currency: str
    generated_at: datetime
    cards: list[Card]
    sections: list[Section]
    notice: str = ""  # a sentence at the top when the period has no data at all, or only some days of it
    compared: dict[str, Period | None] | None = None  # 'previous' and 'last_year' (cut to the covered days)
    engine: str = EMBEDDED  # which engine computed the figures (and what stayed on the warehouse)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def report_period(kind: str, day: date) -> Period:
    """The period a report covers: the day; the ISO week (Monday–Sunday) containing it; its calendar month."""
    if kind == "daily":
        return Period(day, day)
    if kind == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Period(monday, monday + timedelta(days=6))
    if kind == "monthly":
        return Period(day.replace(day=1), month_end(day))
    raise ValueError(f"unknown period {kind!r}: use one of {', '.join(PERIOD_KINDS)}")


def _trend_window(kind: str, period: Period) -> tuple[Period, str]:
    """The trailing range the trend chart shows, and its grain: 14 days, 12 ISO weeks or 12 months to the period."""
    if kind == "daily":
        return Period(period.end - timedelta(days=13), period.end), "day"
    if kind == "weekly":
        return Period(period.start - timedelta(weeks=11), period.end), "week"
    return Period(add_months(period.start, -11), period.end), "month"


def _title(kind: str, period: Period) -> tuple[str, str]:
    if kind == "daily":
        return "Daily operations report", f"{period.start:%A %d %B %Y}"
    if kind == "weekly":
        year, week, _ = period.start.isocalendar()
        return "Weekly operations report", f"Week {week} of {year} · {period.start:%d %b} – {period.end:%d %b %Y}"
    return "Monthly operations report", f"{period.start:%B %Y}"


def _none(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def _card(row: dict, targets: dict[str, Target]) -> Card:
    name = row["metric"]
    target = targets.get(name)
    return Card(
        metric=name,
        label=METRICS[name].label_en,
        label_zh=METRICS[name].label_zh,
        value=_none(row["value"]),
        target=target.describe() if target else "",
        status=target.verdict(row["value"]) if target else None,
        previous_change=_none(row["previous_change"]),
        last_year_change=_none(row["last_year_change"]),
    )


def _kpi_section(comparison: dict[str, dict], targets: dict[str, Target], from_report: bool) -> Section:
    # The figures only a platform's traffic report gives are left out where the sessions come from session logs.
    shown = [name for name in METRICS if from_report or name not in REPORT_ONLY]
    columns = (
        Column("metric", "Metric key", "text", workbook_only=True),
        Column("label", "Metric", "text"),
        Column("label_zh", "指标", "text"),
        Column("value", "Value", "unit"),
        Column("target", "Target", "text"),
        Column("status", "Status", "status"),
        Column("previous", "Previous period", "unit"),
        Column("previous_change", "vs previous", "change"),
        Column("last_year", "Last year", "unit"),
        Column("last_year_change", "vs last year", "change"),
    )
    rows = []
    for name in shown:
        entry, row = METRICS[name], comparison[name]
        target = targets.get(name)
        rows.append(
            (
                name,
                entry.label_en,
                entry.label_zh,
                _none(row["value"]),
                target.describe() if target else None,
                target.verdict(row["value"]) if target else None,
                _none(row["previous"]),
                _none(row["previous_change"]),
                _none(row["last_year"]),
                _none(row["last_year_change"]),
            )
        )
    table = Table(columns, rows, units=[METRICS[n].unit for n in shown], metrics=shown)
    note = (
        "Every KPI of the registry, against its target where one is set, the previous period and last year. Changes"
        " are relative, rates included: a conversion rate going from 4.0% to 3.8% reads −5.0%, not −0.2 points."
    )
    return Section("kpis", "KPIs vs targets", "关键指标与目标", note, table)


def _pnl_section(comparison: dict[str, dict]) -> Section:
    columns = (
        Column("line", "Line key", "text", workbook_only=True),
        Column("label", "Line", "text"),
        Column("label_zh", "项目", "text"),
        Column("value", "This period", "unit"),
        Column("previous", "Previous period", "unit"),
        Column("previous_change", "vs previous", "change"),
        Column("last_year", "Last year", "unit"),
        Column("last_year_change", "vs last year", "change"),
    )
    rows, units, names, styles = [], [], [], []
    for name, sign, subtotal in PNL_LINES:
        row = comparison[name]
        prefix = "− " if sign < 0 else ""
        rows.append(
            (
                name,
                prefix + METRICS[name].label_en,
                METRICS[name].label_zh,
                _none(row["value"]),
                _none(row["previous"]),
                _none(row["previous_change"]),
                _none(row["last_year"]),
                _none(row["last_year_change"]),
            )
        )
        units.append(METRICS[name].unit)
        names.append(name)
        styles.append("subtotal" if subtotal else ("margin" if sign == 0 else ""))
    note = "Gross sales down to net profit; operating expenses pro rata by days for part of a month."
    return Section(
        "pnl", "Profit and loss", "损益表", note, Table(columns, rows, units=units, metrics=names, styles=styles)
    )


def _no_group(by_label: str) -> str:
    """The name of the group of rows without one (orders with no session, sessions with no campaign), in words: never
    a name the data may use itself (GA4's medium of direct traffic is "(none)")."""
    return f"(no {by_label.lower()})"


def _grouped_section(
    key: str, title: str, title_zh: str, note: str, frame: pl.DataFrame, by_label: str, names: tuple[str, ...]
) -> Section:
    columns = (Column("group", by_label, "text"), *(metric_column(n) for n in names))
    rows = [
        (_no_group(by_label) if row[0] is None else row[0], *(_none(v) for v in row[1:]))
        for row in frame.select("group", *names).iter_rows()
    ]
    return Section(key, title, title_zh, note, Table(columns, rows))


def build_report(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    day: date,
    targets: dict[str, Target] | None = None,
    calendar: tuple[Event, ...] | None = None,
    figures: Any = None,
    segment: Segment = ALL,
) -> Report:
    """The report of one period: every number asked of metrics/ (compare_periods, kpi_series, funnel, products).
    `targets`: those in force (`load_targets(settings.targets_path)`); without them, the packaged defaults.
    `segment`: one store's report (`Segment(store=...)`, in its own currency) or, by default, the whole shop's; stock
    is shared by every store and stays the shop's.
    `figures`: the lake on Spark (warehouse/spark.py) that answers the figures that run on either engine
    (metrics/engines.py); the stock alerts and the outlook (forecasts) are the warehouse's `con` whatever it is."""
    engine = EMBEDDED if figures is None else f"{figures.describe()}; stock alerts and outlook: {EMBEDDED}"
    figures = con if figures is None else figures
    period = report_period(kind, day)
    targets = load_targets(None) if targets is None else targets
    calendar = load_calendar(None) if calendar is None else calendar
    currency = store_settings(con).get("currency", "")
    if segment.store is not None:  # the store's own currency (stores table, issue 13)
        currency = store_currencies(con, segment).get(segment.store, currency)
    comparison = {row["metric"]: row for row in compare_periods(figures, period, segment=segment).iter_rows(named=True)}
    compared = comparison_periods(figures, period)
    covered = coverage(figures, period)
    cards = [_card(comparison[name], targets) for name in HEADLINE_METRICS]
    from_report = session_stores(con).kind == "report"  # every store's sessions come from a traffic report
    sections = [_kpi_section(comparison, targets, from_report), _pnl_section(comparison)]

    window, grain = _trend_window(kind, period)
    series = kpi_series(figures, window, grain=grain, metrics=TREND_METRICS, segment=segment)
    trend_columns = (Column("period", grain.capitalize() + " starting", "date"), *map(metric_column, TREND_METRICS))
    trend = Table(
        trend_columns, [tuple(_none(v) for v in row) for row in series.select("period", *TREND_METRICS).iter_rows()]
    )
    sections.append(
        Section(
            "trend",
            "Trend",
            "趋势",
            f"Total revenue, orders and net profit per {grain} up to the end of the period."
            + (
                f" The last {grain} is partial: {covered.days_with_data} of {covered.days} days have data."
                if covered.partial and kind != "daily"
                else ""
            ),
            trend,
            charts.trend(series, TREND_METRICS, grain),
        )
    )

    # Orders naming no session are no channel's (asked of the warehouse, as stock and the outlook are, on any engine).
    unsplit = unattributed_orders(con, period, "source", segment)
    traffic = without_unattributed(
        compute_kpis(figures, period, by="source", metrics=TRAFFIC_METRICS, segment=segment), unsplit
    ).sort("sessions", descending=True)
    section = _grouped_section(
        "traffic",
        "Traffic by source",
        "流量来源",
        "Sessions and their orders by the source of the session; ad spend by the source it was booked to.",
        traffic,
        "Source",
        TRAFFIC_METRICS,
    )
    if unsplit:
        section.note += f" Orders and sales by source: — ({unsplit})."
    named = traffic.with_columns(pl.col("group").fill_null(_no_group("Source")))  # as the table names it
    section.chart = charts.bars(named, "group", "sessions", "Sessions by source")
    sections.append(section)

    stores = store_currencies(con, segment)
    if len(stores) > 1:  # a shop selling on several platforms (issue 13): each store's figures
        by_store = compute_kpis(figures, period, by="store", metrics=STORE_METRICS).sort("orders", descending=True)
        by_store = by_store.filter(pl.col("group").is_not_null())  # the group none holds only shared expenses
        currencies = ", ".join(f"{store} {currency}" for store, currency in stores.items())
        section = _grouped_section(
            "stores",
            "Stores",
            "店铺",
            f"Each store's traffic and sales, in its own currency ({currencies}); shared expenses belong to none.",
            by_store,
            "Store",
            STORE_METRICS,
        )
        section.chart = charts.bars(by_store, "group", "orders", "Orders by store")
        sections.append(section)

    campaigns = without_unattributed(
        compute_kpis(figures, period, by="campaign", metrics=CAMPAIGN_METRICS, segment=segment),
        unattributed_orders(con, period, "campaign", segment),
    ).sort("ad_spend", "sessions", descending=True, nulls_last=True)
    sections.append(
        _grouped_section(
            "campaigns",
            "Campaigns",
            "推广活动",
            "Ad campaigns and the sessions they brought; ad CTR from the ad platforms' clicks and impressions.",
            campaigns,
            "Campaign",
            CAMPAIGN_METRICS,
        )
    )

    steps = funnel(figures, period, segment=segment)
    funnel_rows = [
        (
            row["step"],
            STEP_LABELS[row["step"]][0],
            STEP_LABELS[row["step"]][1],
            row["sessions"],
            row["rate_from_previous"],
            row["rate_from_start"],
        )
        for row in steps.iter_rows(named=True)
    ]
    funnel_table = Table(
        (
            Column("step", "Step key", "text", workbook_only=True),
            Column("label", "Step", "text"),
            Column("label_zh", "步骤", "text"),
            Column("sessions", "Sessions reaching it", "count"),
            Column("rate_from_previous", "Of previous step", "rate"),
            Column("rate_from_start", "Of all sessions", "rate"),
        ),
        funnel_rows,
    )
    sections.append(
        Section(
            "funnel",
            "Funnel",
            "转化漏斗",
            "Sessions of the period by the furthest step they reached.",
            funnel_table,
            charts.funnel_chart(steps),
        )
    )

    devices = without_unattributed(
        compute_kpis(figures, period, by="device", metrics=DEVICE_METRICS, segment=segment),
        unattributed_orders(con, period, "device", segment),
    ).sort("sessions", descending=True)
    section = _grouped_section(
        "engagement",
        "CTR and bounce",
        "点击率与跳失率",
        "On-site click-through (clicks / impressions) and bounce rate (one-page sessions), overall and by device.",
        devices,
        "Device",
        DEVICE_METRICS,
    )
    section.cards = [_card(comparison[name], targets) for name in ENGAGEMENT_METRICS]
    sections.append(section)

    top = top_products(figures, period, limit=TOP_PRODUCTS, segment=segment).with_row_index("rank", offset=1)
    top_table = Table(
        (
            Column("rank", "#", "count"),
            Column("sku", "SKU", "text"),
            Column("name", "Product", "text"),
            Column("category", "Category", "text"),
            metric_column("units"),
            metric_column("gross_sales"),
        ),
        [
            tuple(_none(v) for v in row)
            for row in top.select("rank", "sku", "name", "category", "units", "gross_sales").iter_rows()
        ],
        empty="No product sold in this period.",
    )
    section = Section(
        "top_products", "Top products", "热销商品", f"The {TOP_PRODUCTS} best sellers by gross sales.", top_table
    )
    section.chart = charts.bars(top, "name", "gross_sales", "Gross sales", horizontal=True)
    sections.append(section)

    movers = risers_and_fallers(
        product_sales_change(figures, period, compared["previous"] or period.previous(), segment), MOVERS
    )
    movers_table = Table(
        (
            Column("direction", "Direction", "text"),
            Column("sku", "SKU", "text"),
            Column("name", "Product", "text"),
            Column("gross_sales", "Gross sales", "money"),
            Column("compared_gross_sales", "Previous period", "money"),
            Column("sales_change", "Change", "money"),
            Column("sales_change_rate", "vs previous", "change"),
        ),
        [
            tuple(_none(v) for v in row)
            for row in movers.select(
                "direction", "sku", "name", "gross_sales", "compared_gross_sales", "sales_change", "sales_change_rate"
            ).iter_rows()
        ],
        empty="No product's sales changed against the previous period.",
    )
    sections.append(
        Section(
            "movers",
            "Movers",
            "涨跌商品",
            f"The {MOVERS} products whose gross sales rose most, and the {MOVERS} that fell most, against the previous"
            " period.",
            movers_table,
        )
    )

    sections.extend(
        _service_sections(figures, period, targets, compared["previous"], segment.store)
    )  # issue 16: service, returns
    sections.append(_stock_section(con, period, targets, calendar))
    if segment.store is not None:
        sections[-1].note += " Stock is shared by every store: this section is the whole shop's."
    sections.append(_outlook_section(con, targets, calendar, segment))

    title, subtitle = _title(kind, period)
    if segment.store is not None:
        subtitle += f" · store {segment.store}"
    notice = ""
    if not any(comparison[name]["value"] for name in ("sessions", "orders", "ad_spend")):
        latest = latest_date(con, segment)
        notice = "No sessions, orders or ad spend in this period" + (
            f": the latest data is from {latest}." if latest else ": the warehouse has none yet."
        )
    elif covered.partial:
        notice = (
            f"Partial period: {covered.days_with_data} of its {covered.days} days have data"
            f" ({covered.covered.start} – {covered.covered.end}). Every comparison uses the same days of the previous"
            " period and of last year, and operating expenses are pro-rated by the days with data."
        )
    generated = datetime.now().replace(microsecond=0)
    return Report(kind, period, title, subtitle, currency, generated, cards, sections, notice, compared, engine)


def _service_sections(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    targets: dict[str, Target],
    previous: Period | None,
    store: str | None = None,
) -> list[Section]:
    """The service figures of the period and the previous one (metrics/service.py), and returns by reason; one
    store's if `store`."""
    minutes = response_target(targets)
    now = service_kpis(con, period, minutes, store=store)
    before = service_kpis(con, previous or period.previous(), minutes, store=store)
    names = [m.name for m in SERVICE_METRICS if m.name in TICKET_METRICS]
    service_table = Table(
        (Column("period", "Period", "text"), *(Column(n, SERVICE[n].label_en, SERVICE[n].unit) for n in names)),
        [("This period", *(now[n] for n in names)), ("Previous period", *(before[n] for n in names))],
    )
    within = SERVICE["first_response_within_target"].formats.text(now["first_response_within_target"])
    service = Section(
        "service",
        "Customer service",
        "客服",
        f"Tickets opened in the period. First response target: {minutes:g} minutes (the guide's standard), met by "
        f"{within} of the tickets. Complaints per 100 valid orders; inquiry conversion: inquiries naming a valid "
        "order. A dash: no tickets were loaded, or none fall in the period.",
        service_table,
    )
    by_reason = returns_by(con, period, "reason", store=store)
    columns = ("reason", "returned_units", "returned_value", "return_rate", "return_value_rate")
    returns_table = Table(
        (
            Column("reason", "Reason", "text"),
            Column("returned_units", "Units returned", "count"),
            Column("returned_value", "Refunded", "money"),
            Column("return_rate", "Of units sold", "rate"),
            Column("return_value_rate", "Of sales", "rate"),
        ),
        [tuple(_none(v) for v in row) for row in by_reason.select(columns).iter_rows()],
        empty="No returns of this period's orders.",
    )
    rate = SERVICE["return_rate"].formats
    returns = Section(
        "returns",
        "Returns",
        "退货",
        f"Returns of the valid orders placed in the period: {rate.text(now['return_rate'])} of units "
        f"({rate.text(now['return_value_rate'])} of sales; previous period {rate.text(before['return_rate'])}), "
        f"{rate.text(now['seven_day_return_share'])} of returned units sent back within 7 days of delivery. The "
        "latest orders may still be sent back.",
        returns_table,
    )
    return [service, returns]


def _stock_section(
    con: duckdb.DuckDBPyConnection, period: Period, targets: dict[str, Target], calendar: tuple[Event, ...]
) -> Section:
    """The products to reorder now, with the replenishment window read from `targets` as the dashboard reads it."""
    buffer = replenish_window(targets)
    # The dashboard's plan (forecast demand), so the report and the Products & stock page name the same products.
    alerts = reorder_now(forecast_cover(con, period.end, STOCK_WINDOW_DAYS, buffer, calendar))
    stock_table = Table(
        (
            Column("sku", "SKU", "text"),
            Column("name", "Product", "text"),
            Column("on_hand", "On hand", "count"),
            Column("on_order", "On order", "count"),
            Column("daily_units", "Units per day", "decimal"),
            Column("days_of_cover", "Days of cover", "decimal"),
            Column("lead_time_days", "Lead time (days)", "count"),
            Column("stockout_date", "Runs out", "date"),
            Column("order_by", "Order by", "date"),
            Column("suggested_quantity", "Suggested order", "count"),
            Column("action", "Action", "status"),
        ),
        [
            (
                *(
                    _none(row[key])
                    for key in (
                        "sku",
                        "name",
                        "on_hand",
                        "on_order",
                        "daily_units",
                        "days_of_cover",
                        "lead_time_days",
                        "stockout_date",
                        "order_by",
                        "suggested_quantity",
                    )
                ),
                "order late" if row["late"] else "order now",
            )
            for row in alerts.iter_rows(named=True)
        ],
        empty="No product needs reordering: all run out later than lead time plus the replenishment window.",
    )
    return Section(
        "stock",
        "Stock alerts",
        "库存预警",
        f"Products to reorder now: stock on hand and on order runs out, at forecast demand (the shop's daily units"
        f" forecast with the promotion calendar, each product taking its share of the last {STOCK_WINDOW_DAYS}"
        f" days), within the supplier's lead time plus {buffer[1]} days (the guide: replenish"
        f" {buffer[0]}–{buffer[1]} days before stock runs out). Stock as counted on or before {period.end}.",
        stock_table,
    )


def _outlook_section(
    con: duckdb.DuckDBPyConnection, targets: dict[str, Target], calendar: tuple[Event, ...], segment: Segment = ALL
) -> Section:
    """Where the current month's revenue is heading: month to date against its target (`monthly_total_revenue` in
    `targets`, else last year's month plus growth), and the projection."""
    columns = (
        Column("date", "Day", "date"),
        Column("actual", "Revenue", "money"),
        Column("forecast", "Forecast", "money"),
        Column("actual_cum", "Month to date", "money"),
        Column("target_cum", "Target to date", "money"),
        Column("projected_cum", "Projected to date", "money"),
    )
    try:
        pacing = month_pacing(
            con, "total_revenue", events=calendar, model=OUTLOOK_MODEL, targets=targets, segment=segment
        )
    except ForecastError as exc:
        return Section("outlook", "Outlook", "预测与目标进度", str(exc), Table(columns, []))
    rows = [tuple(_none(row[c.key]) for c in columns) for row in pacing.days.iter_rows(named=True)]

    def whole(value: float) -> str:
        return format_value("total_revenue", value, style="whole")

    if pacing.target is None:
        target = f"no target ({pacing.target_source})"
    else:
        chance = RATE.text(pacing.probability, style="whole")
        target = f"target {whole(pacing.target)} ({pacing.target_source}); chance of reaching it {chance}"
    note = (
        f"Total revenue of {pacing.month:%Y-%m}: {whole(pacing.actual_to_date)} to date; projected month end "
        f"{whole(pacing.projected)} (80% range {whole(pacing.projected_lo80)}–{whole(pacing.projected_hi80)});"
        f" {target}. Forecast by {OUTLOOK_MODEL} (weekly seasonality and the promotion calendar)."
    )
    return Section("outlook", "Outlook", "预测与目标进度", note, Table(columns, rows))
