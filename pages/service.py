"""Service and after-sales (operations): first response and resolution times against the guide's 30-minute
standard, complaints per 100 orders, satisfaction, inquiry-to-order conversion, and returns by reason, category and
product, with their trends. The whole shop: tickets carry no session, so the source and device filters do not apply.
"""

from dataclasses import dataclass
from datetime import timedelta

import polars as pl
import streamlit as st

from metrics.service import SERVICE, SERVICE_METRICS, inputs_given, response_target, returns_by, service_comparison
from metrics.service import service_series as service_trends
from metrics.units import change_text
from pages import page
from shopkpi import ui
from shopkpi.ui.service_charts import service_trend

TREND_WEEKS = 12
STATUS_TEXT = {"on": ("on target", "达标"), "near": ("near target", "接近目标"), "off": ("off target", "未达标")}
SPLITS = {
    "reason": ("Reason", "原因"),
    "category": ("Category", "品类"),
    "sku": ("Product (SKU)", "商品（SKU）"),
}


@dataclass(frozen=True)
class ServiceData:
    """What the Service page draws for one view."""

    given: dict[str, bool]  # whether any tickets / returns were ever loaded
    target_minutes: float  # the first-response target (targets file, else the guide's 30 minutes)
    figures: pl.DataFrame  # every service figure of the period against the comparison period (one row per figure)
    trend: pl.DataFrame  # the figures per ISO week, the 12 weeks to the period's end
    returns: dict[str, pl.DataFrame]  # returns of the period's orders by reason, category and product


def data(view: ui.View, role: str | None) -> ServiceData:
    """Everything the Service page draws for `view` (the page and the warm-up call this); the same for every role."""
    period, compared = view.period, view.compared
    targets, _ = ui.targets()
    minutes = response_target(targets)
    first = period.end - timedelta(weeks=TREND_WEEKS) + timedelta(days=1)
    return ServiceData(
        given=ui.load(inputs_given),
        target_minutes=minutes,
        figures=ui.load(service_comparison, period, compared, minutes),
        trend=ui.load(service_trends, first, period.end, "week", minutes),
        returns={split: ui.load(returns_by, period, split) for split in SPLITS},
    )


def cards(current: ui.View, loaded: ServiceData) -> None:
    targets, _ = ui.targets()
    figures = {row["metric"]: row for row in loaded.figures.iter_rows(named=True)}
    rows = [SERVICE_METRICS[:5], SERVICE_METRICS[5:]]
    for row in rows:
        columns = st.columns(len(row))
        for column, entry in zip(columns, row, strict=True):
            value, change = figures[entry.name]["value"], figures[entry.name]["change"]
            target = targets.get(entry.name)
            status = target.status(value) if target else None
            help_text = entry.definition_in(current.lang)
            if entry.name == "first_response_within_target":
                help_text += current.t(
                    f" Target in force: {loaded.target_minutes:g} minutes.",
                    f" 当前目标：{loaded.target_minutes:g} 分钟。",
                )
            if target:
                help_text += (
                    "\n\n" + current.t("Target", "目标") + f": {target.describe()} — {target.note_in(current.lang)}"
                )
            if value is None:
                help_text += "\n\n" + current.t(
                    "No value: nothing to measure in this period, or the input was never loaded.",
                    "无数值：本期没有可计量的数据，或从未导入该数据。",
                )
            column.metric(
                entry.label(current.lang),
                entry.formats.text(value),
                delta=None if change is None else change_text(change),
                delta_color="normal" if entry.direction == "higher" else "inverse",
                delta_description=current.t("vs comparison", "对比"),
                help=help_text,
                border=True,
            )
            if status:
                column.caption(current.t(*STATUS_TEXT[status]))


def trends(current: ui.View, loaded: ServiceData) -> None:
    st.subheader(current.t(f"Trends, last {TREND_WEEKS} weeks", f"趋势（近 {TREND_WEEKS} 周）"))
    trend = loaded.trend
    if trend.is_empty():
        ui.empty(current.t("Nothing to show for these weeks.", "这几周没有可显示的数据。"))
        return
    left, right = st.columns(2, gap="large")
    with left:
        ui.vega(
            service_trend(
                trend,
                ["first_response_minutes"],
                [SERVICE["first_response_minutes"].label(current.lang)],
                title=current.t("First response, median minutes per week", "每周首次响应时长中位数（分钟）"),
                target=loaded.target_minutes,
                target_label=current.t("target", "目标"),
            ),
            key="service_response",
        )
    with right:
        names = ["first_response_within_target", "return_rate", "inquiry_conversion_rate"]
        ui.vega(
            service_trend(
                trend,
                names,
                [SERVICE[n].label(current.lang) for n in names],
                title=current.t("Shares per week", "每周占比"),
            ),
            key="service_shares",
        )


def returns(current: ui.View, loaded: ServiceData) -> None:
    st.subheader(current.t("Returns", "退货"))
    if not loaded.given["returns"]:
        ui.empty(
            current.t(
                "No returns loaded yet: load the returns table (order_id, sku, returned_quantity, refund_amount, "
                "reason, days_after_delivery) after the orders.",
                "还没有退货数据：在导入订单后导入 returns 表（order_id, sku, returned_quantity, refund_amount, "
                "reason, days_after_delivery）。",
            )
        )
        return
    tabs = st.tabs([current.t(*label) for label in SPLITS.values()])
    for tab, (split, label) in zip(tabs, SPLITS.items(), strict=True):
        with tab:
            frame = loaded.returns[split]
            if frame.is_empty():
                ui.empty(current.t("No returns of this period's orders.", "本期订单没有退货。"))
                continue
            st.dataframe(
                frame,
                hide_index=True,
                column_config={
                    split: st.column_config.TextColumn(current.t(*label)),
                    "returned_units": st.column_config.NumberColumn(current.t("Units returned", "退货件数")),
                    "returned_value": st.column_config.NumberColumn(
                        current.t("Refunded", "退款金额"), format="localized"
                    ),
                    "units": st.column_config.NumberColumn(current.t("Units sold", "销售件数")),
                    "sales": st.column_config.NumberColumn(current.t("Sales", "销售额"), format="localized"),
                    "return_rate": st.column_config.NumberColumn(
                        SERVICE["return_rate"].label(current.lang), format="percent"
                    ),
                    "return_value_rate": st.column_config.NumberColumn(
                        SERVICE["return_value_rate"].label(current.lang), format="percent"
                    ),
                },
                placeholder="—",
            )
    st.caption(
        current.t(
            "Returns of the valid orders placed in the period. A reason's rates are over all the period's units "
            "and sales.",
            "本期有效订单的退货。按原因的退货率以本期全部件数和销售额为分母。",
        )
    )


def render(current: ui.View) -> None:
    ui.period_caption(current)
    st.caption(
        current.t(
            "The whole shop: tickets carry no session, so the source and device filters do not apply here.",
            "全店数据：工单不关联访问，因此来源和设备筛选不适用于本页。",
        )
    )
    loaded = data(current, ui.role())
    if not loaded.given["tickets"]:
        ui.empty(
            current.t(
                "No service tickets loaded yet: load the tickets table (ticket_id, opened_at, type, and optionally "
                "first_response_at, resolved_at, order_id, reason, satisfaction_score) after the orders.",
                "还没有客服工单：在导入订单后导入 tickets 表（ticket_id, opened_at, type，可选 first_response_at, "
                "resolved_at, order_id, reason, satisfaction_score）。",
            )
        )
    cards(current, loaded)
    trends(current, loaded)
    returns(current, loaded)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
