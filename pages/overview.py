"""Overview (operations): the headline KPIs against their targets and the comparison periods, what changed in
revenue and why, and what needs attention now."""

from dataclasses import dataclass, field

import polars as pl
import streamlit as st

from metrics import METRICS, compare_periods, compute_kpis, format_value, kpi_series
from metrics.insights import DRIVER_FACTORS, DRIVER_LABELS, kpi_alerts, revenue_change, source_movers
from metrics.registry import format_change, inputs_of
from metrics.replenishment import forecast_cover, reorder_now
from metrics.stock import DEFAULT_WINDOW_DAYS
from metrics.targets import verdict_text
from metrics.units import DECIMAL, RATE, change_text
from pages import page
from shopkpi import auth, ui
from shopkpi.ui import charts, later

HEADLINE = tuple(
    name
    for name in METRICS  # registry order
    if name
    in {
        "total_revenue",
        "orders",
        "sessions",
        "conversion_rate",
        "aov",
        "cart_conversion_rate",
        "bounce_rate",
        "retention_30d",
        "gross_margin",
        "net_profit",
    }
)
STATUS_COLORS = {"on": "green", "near": "orange", "off": "red", "above": "green", "below": "green"}
CARDS_PER_ROW = 5
# How much of the inputs of the figures is known (SPEC §4): the unit costs, the orders' values and lines.
COVERAGE = ("cost_coverage", "order_value_coverage", "order_line_coverage")


@dataclass(frozen=True)
class OverviewData:
    """What the Overview draws for one view and role."""

    headline: tuple[str, ...]  # HEADLINE without the profit figures the role may not see
    comparison: pl.DataFrame  # the headline metrics against both comparison periods (one row per metric)
    series: pl.DataFrame  # the headline metrics per day of the period (the cards' sparklines)
    drivers: pl.DataFrame  # the revenue change split into sessions, conversion and order value
    movers: pl.DataFrame | None  # the sources whose revenue moved most; None under a source filter
    cover: pl.DataFrame | None  # days of cover per product at forecast demand (whole shop), for the reorder alert;
    # None while it is computed in the background (seconds, once per warehouse file): the page does not wait for it
    # COVERAGE's figures for the period (each shown beside the figures of its input where below 1): the share of sales
    # with a known unit cost, of valid orders with a known value, with lines.
    coverage: dict[str, float | None] = field(default_factory=dict)


def data(view: ui.View, role: str | None) -> OverviewData:
    """Everything the Overview draws for `view`, as `role` may see it (the page and the warm-up call this)."""
    headline = auth.visible_metrics(role, HEADLINE)
    period, compared, segment = view.period, view.compared, view.segment
    return OverviewData(
        headline=headline,
        comparison=ui.load(compare_periods, period, None, None, headline, segment=segment),
        series=ui.load(kpi_series, view.shown, None, "day", headline, segment=segment),  # days with data only
        drivers=ui.load(revenue_change, period, compared, segment=segment),
        movers=ui.load(source_movers, period, compared, segment=segment) if segment.source is None else None,
        # The Products & stock page's plan (forecast demand), so both pages name the same products.
        cover=later.load(forecast_cover, view.latest, DEFAULT_WINDOW_DAYS, ui.replenish_buffer(), ui.calendar()),
        coverage=ui.load(compute_kpis, period, None, None, COVERAGE, segment=segment)
        .select(COVERAGE)
        .row(0, named=True),
    )


def card_value(name: str, value: float | None) -> str:
    return format_value(name, value, style="card")  # large amounts without cents, so they fit a card


def card(
    column, row: dict, series: pl.DataFrame, targets: dict, current: ui.View, coverage: dict | None = None
) -> None:
    name = row["metric"]
    entry = METRICS[name]
    target = targets.get(name)
    status = target.verdict(row["value"]) if target else None
    main, other = ("last_year", "previous") if current.comparison == "last_year" else ("previous", "last_year")
    names = {"previous": current.t("previous period", "上一周期"), "last_year": current.t("last year", "去年同期")}
    short = {"previous": current.t("prev.", "上期"), "last_year": current.t("last year", "去年")}
    help_lines = [f"**{ui.label(name)}** = `{entry.formula_in(current.lang)}`", entry.description_in(current.lang)]
    source = ui.session_input(name, current)  # session logs, a platform's traffic report, or both (issue 13)
    if source:
        help_lines.append(source)
    if target:
        status_text = verdict_text(status, current.lang) if status else current.t("no value", "无数值")
        described = target.describe()
        help_lines.append(current.t(f"Target {described}: {status_text}.", f"目标 {described}：{status_text}。"))
        if target.note_in(current.lang):
            help_lines.append(target.note_in(current.lang))
    if row["value"] is None:
        help_lines.append(ui.null_reason(name, current))
    partly = _partly_known(name, coverage or {}) if row["value"] is not None else {}
    for needed, known in partly.items():
        help_lines.append(current.t(*(text.format(known=known) for text in PARTLY_KNOWN[needed][:2])))
    label = ui.label(name)
    badge = f":{STATUS_COLORS[status]}-badge[{verdict_text(status, current.lang)}] " if status else ""
    with column.container(border=True):
        st.metric(
            label,
            card_value(name, row["value"]),
            delta=None if row[f"{main}_change"] is None else change_text(row[f"{main}_change"]),
            delta_color="normal" if entry.direction == "higher" else "inverse",
            delta_description=None
            if row[f"{main}_change"] is None
            else current.t(f"vs {short[main]}", f"对比{short[main]}"),
            help="\n\n".join(help_lines),
            chart_data=series.get_column(name).fill_null(0).to_list() if series.height > 1 else None,
            chart_type="area" if entry.unit in ("money", "count") else "line",
        )
        for needed, known in partly.items():
            badge += current.t(*(f":orange-badge[{text.format(known=known)}] " for text in PARTLY_KNOWN[needed][2:]))
        st.caption(
            badge
            + current.t(
                f"{names[other]}: {card_value(name, row[other])} ({change_text(row[f'{other}_change'])})",
                f"{names[other]}：{card_value(name, row[other])}（{change_text(row[f'{other}_change'])}）",
            )
        )


# Each coverage figure of COVERAGE and the input whose coverage it is (metrics/inputs.py).
COVERED_INPUT = {
    "cost_coverage": "unit_costs",
    "order_value_coverage": "order_values",
    "order_line_coverage": "order_lines",
}
# What a card built on a partly known input says, `known` its share: in its tooltip (English, Chinese), then its badge.
PARTLY_KNOWN = {
    "unit_costs": (
        "Unit cost is known for {known} of sales; the rest is left out of COGS, so this figure reads high.",
        "仅 {known} 的销售额有单位成本；其余未计入销售成本，此数值偏高。",
        "cost known for {known} of sales",
        "成本覆盖 {known}",
    ),
    "order_lines": (
        "Lines are loaded for {known} of the valid orders; the others' units are left out, so this figure reads low.",
        "仅 {known} 的有效订单已导入商品明细；其余订单的件数未计入，此数值偏低。",
        "lines known for {known} of orders",
        "订单明细覆盖 {known}",
    ),
    "order_values": (
        "The value is known for {known} of the valid orders (the others have neither lines nor a subtotal); their "
        "sales are left out, so this figure reads low.",
        "仅 {known} 的有效订单金额已知（其余既无商品明细也无小计）；其销售额未计入，此数值偏低。",
        "value known for {known} of orders",
        "订单金额覆盖 {known}",
    ),
}


def _partly_known(name: str, coverage: dict) -> dict[str, str]:
    """The inputs of metric `name` that are only partly known in the period, with the share known as text."""
    return {
        COVERED_INPUT[figure]: RATE.text(share, style="whole")
        for figure, share in coverage.items()
        if share is not None and share < 1 and COVERED_INPUT[figure] in inputs_of(name)
    }


def cards_section(current: ui.View, loaded: OverviewData, targets: dict) -> dict:
    headline, series = loaded.headline, loaded.series
    if loaded.comparison.is_empty():
        ui.empty(current.t("No KPI could be computed for this period.", "本期无法计算任何指标。"))
        return {}
    rows = {row["metric"]: row for row in loaded.comparison.iter_rows(named=True)}
    for name, row in rows.items():
        if not current.segment.splits(name):
            row.update({k: None for k in row if k not in ("group", "metric")})
    for start in range(0, len(headline), CARDS_PER_ROW):
        columns = st.columns(CARDS_PER_ROW)
        for column, name in zip(columns, headline[start : start + CARDS_PER_ROW], strict=False):
            card(column, rows[name], series, targets, current, loaded.coverage)
    if all(rows[n]["value"] in (None, 0) for n in ("orders", "sessions")):
        ui.empty(
            current.t(
                "Nothing happened in this period with these filters: no orders and no sessions. Try a longer period.",
                "此时间范围和筛选条件下没有订单也没有访问：请尝试更长的时间范围。",
            )
        )
    return {name: row["value"] for name, row in rows.items()}


def changed_section(current: ui.View, loaded: OverviewData) -> None:
    st.subheader(current.t("What changed", "变化原因"))
    drivers = loaded.drivers
    total = drivers.filter(pl.col("driver") == "total").row(0, named=True)
    if total["before"] == 0 and total["after"] == 0:
        ui.empty(current.t("No revenue in either period, so there is no change to explain.", "两个周期都没有收入。"))
        return
    left, right = st.columns([3, 2])
    labels = {d: DRIVER_LABELS[d][current.lang == "zh"] for d in DRIVER_LABELS}
    labels |= {"before": current.t("Before", "对比期"), "after": current.t("Now", "本期")}
    with left:
        ui.vega(
            charts.drivers_waterfall(drivers, labels, current.t("Revenue change by driver", "收入变化分解")),
            key="drivers",
        )
    with right:
        before, after = (format_value("total_revenue", total[k], style="whole") for k in ("before", "after"))
        moved = format_change("total_revenue", total["after"] - total["before"], style="whole")
        effects = drivers.filter((pl.col("driver") != "total") & pl.col("effect").is_not_null())
        st.markdown(
            current.t(
                f"Revenue went from **{before}** to **{after}** ({moved}).",
                f"收入从 **{before}** 变为 **{after}**（{moved}）。",
            ),
            help=current.t(
                "Revenue = sessions × orders per session × revenue per order. Changing one factor at a time "
                "(sessions, then conversion, then order value) splits the change into three parts that add up.",
                "收入 = 访问次数 × 每次访问订单数 × 每单收入；依次改变各因素，把变化分成三部分，合计等于总变化。",
            ),
        )
        if effects.is_empty():
            st.caption(current.t("No orders or sessions in one period: the change cannot be split.", "无法分解。"))
        for row in effects.sort(pl.col("effect").abs(), descending=True).iter_rows(named=True):
            factor = DRIVER_FACTORS[row["driver"]]
            st.markdown(
                f"- **{labels[row['driver']]}** {format_value(factor, row['before'])} → "
                f"{format_value(factor, row['after'])}: {format_change('total_revenue', row['effect'], style='whole')}"
            )
        if loaded.movers is not None:
            movers = loaded.movers.head(3)
            if not movers.is_empty():
                st.markdown(current.t("**Sources that moved most:**", "**变化最大的来源：**"))
                for row in movers.iter_rows(named=True):
                    group = ui.md(row["group"]) if row["group"] else current.t("(no session)", "（无访问）")
                    sessions = format_change("sessions", row["sessions_change"], style="whole")
                    orders = format_change("orders", row["orders_change"], style="whole")
                    st.markdown(
                        f"- **{group}** {format_change('total_revenue', row['revenue_change'], style='whole')} "
                        + current.t(f"({sessions} sessions, {orders} orders)", f"（访问 {sessions}，订单 {orders}）")
                    )


def alerts_section(current: ui.View, loaded: OverviewData, values: dict, targets: dict) -> None:
    st.subheader(current.t("Alerts", "预警"))
    alerts = kpi_alerts(values, targets, loaded.headline)
    reorders = reorder_now(loaded.cover) if loaded.cover is not None else None
    if alerts.is_empty() and reorders is not None and reorders.is_empty():
        st.success(
            current.t("Every headline KPI is on target and no product needs reordering.", "所有指标达标，无需补货。")
        )
        return
    for row in alerts.iter_rows(named=True):
        text = current.t(
            f"**{ui.label(row['metric'])}** is {verdict_text(row['status'])}: "
            f"{format_value(row['metric'], row['value'])} (target {row['target']}).",
            f"**{ui.label(row['metric'])}** {verdict_text(row['status'], 'zh')}："
            f"{format_value(row['metric'], row['value'])}（目标 {row['target']}）。",
        )
        (st.error if row["status"] == "off" else st.warning)(text, icon=":material/flag:")
    if reorders is None:
        later.redraw_when_ready(
            current.t("Forecasting each product's demand for the reorder alerts…", "正在预测各商品销量以生成补货提醒…")
        )
    elif not reorders.is_empty():
        late = reorders.filter(pl.col("late")).height
        st.warning(
            current.t(
                f"**{reorders.height} products** should be reordered now ({late} late: they will run out less than "
                f"7 days after the goods arrive). See Products & stock.",
                f"**{reorders.height} 个商品**需要立即补货（其中 {late} 个已晚）。详见“商品与库存”。",
            ),
            icon=":material/inventory:",
        )
        st.dataframe(
            reorders.head(5).select("sku", "name", "days_of_cover", "stockout_date", "suggested_quantity"),
            hide_index=True,
            column_config={
                "sku": "SKU",
                "name": current.t("Product", "商品"),
                "days_of_cover": st.column_config.NumberColumn(
                    current.t("Days of cover", "可售天数"), format=DECIMAL.column
                ),
                "stockout_date": st.column_config.DateColumn(current.t("Runs out", "预计断货")),
                "suggested_quantity": st.column_config.NumberColumn(current.t("Order qty", "建议补货量")),
            },
            placeholder="—",
        )


def render(current: ui.View) -> None:
    ui.period_caption(current)
    targets, problem = ui.targets()
    if problem:
        st.warning(problem + current.t(" — using the default targets.", " —— 使用默认目标。"))
    loaded = data(current, ui.role())
    values = cards_section(current, loaded, targets)
    if not values:
        return
    left, right = st.columns([3, 2], gap="large")
    with left:
        changed_section(current, loaded)
    with right:
        alerts_section(current, loaded, values, targets)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
