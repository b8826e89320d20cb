"""Customers: who comes back (cohort retention, returning customer rate, repeat interval), how much new and
returning customers spend, their RFM segments and how customers moved between them, and lifetime value. A segment's
customer ids are downloadable only by the roles that may see customer ids (shopkpi/auth.py)."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

import polars as pl
import streamlit as st

from metrics import METRICS, cohort_activity, compare_periods, compute_kpis, format_value, kpi_series
from metrics.customers import (
    LTV_HORIZON_MONTHS,
    LTV_METHOD,
    LTV_METHOD_ZH,
    SEGMENTS,
    SegmentChanges,
    lifetime_value,
    repeat_interval,
    segment_changes,
    segment_customer_ids,
)
from metrics.periods import add_months
from metrics.units import change_text
from pages import page
from shopkpi import auth, ui
from shopkpi.ui import charts

CARD_METRICS = ("buyers", "returning_customer_rate", "revenue_per_buyer", "aov")
TYPE_METRICS = ("orders", "buyers", "total_revenue", "aov")
COHORTS_SHOWN = 12


@dataclass(frozen=True)
class CustomersData:
    """What the Customers page draws for one view."""

    cards: pl.DataFrame  # CARD_METRICS against both comparison periods (one row per metric)
    by_type: pl.DataFrame  # TYPE_METRICS for new customers, returning customers and guest checkouts
    revenue_by_type: pl.DataFrame  # revenue per month and customer type, the 12 months to the period's end
    returning_rate: pl.DataFrame  # the returning customer rate per month, the same 12 months
    cohorts: pl.DataFrame  # each monthly cohort's activity k months later, up to the period's end
    since: date  # the day the segments are compared with: the comparison period's last day
    segments: SegmentChanges  # RFM segments at the period's end with their size on `since`, and the moves between
    repeat: pl.DataFrame  # days from first to second order per cohort (and 'all')
    ltv: pl.DataFrame  # observed and projected lifetime value per cohort (and 'all')


def data(view: ui.View, role: str | None) -> CustomersData:
    """Everything the Customers page draws for `view` (the page and the warm-up call this). The same for every
    role."""
    period, segment = view.period, view.segment
    first = add_months(period.end.replace(day=1), -11)  # the charts' 12 months
    compared = view.compared
    since = compared.end if compared is not None and compared.end < period.end else period.start - timedelta(days=1)
    return CustomersData(
        cards=ui.load(compare_periods, period, None, None, CARD_METRICS, segment=segment),
        by_type=ui.load(compute_kpis, period, None, "customer_type", TYPE_METRICS, segment=segment),
        revenue_by_type=ui.load(
            kpi_series, first, period.end, "month", ("total_revenue",), "customer_type", segment=segment
        ),
        returning_rate=ui.load(kpi_series, first, period.end, "month", ("returning_customer_rate",), segment=segment),
        cohorts=ui.load(cohort_activity, period.end, segment=segment),
        since=since,
        segments=ui.load(segment_changes, period.end, since, segment=segment),
        repeat=ui.load(repeat_interval, period.end, segment=segment),
        ltv=ui.load(lifetime_value, period.end, segment=segment),
    )


def type_label(value: str | None, current: ui.View) -> str:
    return {
        "new": current.t("New customers", "新客"),
        "returning": current.t("Returning customers", "老客"),
        None: current.t("Guest checkout", "游客下单"),
    }.get(value, str(value))


def cards(current: ui.View, loaded: CustomersData) -> None:
    comparison = loaded.cards
    key = "last_year" if current.comparison == "last_year" else "previous"
    columns = st.columns(len(CARD_METRICS))
    for column, row in zip(columns, comparison.iter_rows(named=True), strict=True):
        name = row["metric"]
        change = row[f"{key}_change"]
        column.metric(
            ui.label(name),
            format_value(name, row["value"]),
            delta=None if change is None else change_text(change),
            delta_description=None
            if change is None
            else current.t("vs last year" if key == "last_year" else "vs prev.", "对比"),
            help=f"`{METRICS[name].formula_in(current.lang)}` — {METRICS[name].description_in(current.lang)}"
            + ("" if row["value"] is not None else "\n\n" + ui.null_reason(name, current)),
            border=True,
        )


def new_vs_returning(current: ui.View, loaded: CustomersData) -> None:
    st.subheader(current.t("New vs returning customers", "新客与老客"))
    split = loaded.by_type
    if split.is_empty() or split["orders"].fill_null(0).sum() == 0:
        ui.empty(current.t("No orders in this period with these filters.", "此时间范围和筛选条件下没有订单。"))
        return
    shown = split.with_columns(
        pl.col("group").map_elements(lambda v: type_label(v, current), return_dtype=pl.String, skip_nulls=False)
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "group": st.column_config.TextColumn(current.t("Customers", "客户")),
            **{n: st.column_config.NumberColumn(ui.label(n), format=METRICS[n].formats.column) for n in TYPE_METRICS},
        },
        placeholder="—",
    )
    st.caption(
        current.t(
            "An order is a new customer's if it is their first valid order ever, a returning customer's after that; "
            "guest checkouts have no customer.",
            "客户的首个有效订单计为新客订单，之后的订单计为老客订单；游客下单没有客户编号。",
        )
    )
    series = loaded.revenue_by_type
    names = {v: type_label(v, current) for v in ("new", "returning", None)}
    ui.vega(
        charts.stacked_bars(
            series, "period", "group", "total_revenue", names, current.t("Revenue per month", "每月收入")
        ),
        key="customers_types",
    )


def returning_rate(current: ui.View, loaded: CustomersData) -> None:
    st.subheader(ui.label("returning_customer_rate"))
    series = loaded.returning_rate
    ui.vega(
        charts.lines_over_time(
            series,
            ["returning_customer_rate"],
            [ui.label("returning_customer_rate")],
            x="period",
            title=current.t("Per month", "每月"),
        ),
        key="customers_returning",
    )
    st.caption(METRICS["returning_customer_rate"].description_in(current.lang))


def cohorts(current: ui.View, loaded: CustomersData) -> None:
    st.subheader(current.t("Cohort retention", "同期群留存"))
    activity = loaded.cohorts
    if activity.is_empty():
        ui.empty(current.t("No customer has a valid order yet.", "还没有客户下过有效订单。"))
        return
    recent = sorted(activity["cohort"].unique().to_list())[-COHORTS_SHOWN:]
    shown = activity.filter(pl.col("cohort").is_in(recent))
    ui.vega(
        charts.cohort_heatmap(
            shown,
            current.t(
                "Share of each month's new customers who ordered again k months later",
                "各月新客在 k 个月后再次下单的比例",
            ),
            tip=current.t("cohort {cohort}, month {offset}: {value}", "同期群 {cohort}，第 {offset} 个月：{value}"),
        ),
        key="customers_cohorts",
    )
    st.caption(
        current.t(
            "A customer's cohort is the month of their first valid order; blank cells are months not yet complete.",
            "客户的同期群是其首个有效订单所在月份；空白表示该月尚未结束。",
        )
    )


SEGMENT_LABELS = {s.name: (s.label_en, s.label_zh) for s in SEGMENTS}
SEGMENT_NOTES = {s.name: (s.description, s.description_zh) for s in SEGMENTS}


def segment_label(name: str | None, current: ui.View) -> str:
    if name is None:
        return current.t("(not a customer yet)", "（当时还不是客户）")
    en, zh = SEGMENT_LABELS[name]
    return current.t(en, zh)


def segments(current: ui.View, loaded: CustomersData, role: str | None) -> None:
    st.subheader(current.t("Customer segments (RFM)", "客户分群（RFM）"))
    summary = loaded.segments.summary
    if summary.is_empty() or summary["customers"].sum() == 0:
        ui.empty(current.t("No identified customer has a valid order yet.", "还没有可识别的客户下过有效订单。"))
        return
    shown = summary.with_columns(
        pl.col("segment").map_elements(lambda v: segment_label(v, current), return_dtype=pl.String).alias("label"),
        pl.col("segment")
        .map_elements(lambda v: current.t(*SEGMENT_NOTES[v]), return_dtype=pl.String)
        .alias("who"),
    ).select(
        "label", "who", "customers", "customer_share", "revenue", "revenue_share", "avg_recency_days",
        "avg_frequency", "previous_customers", "change",
    )  # fmt: skip
    since = loaded.since
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "label": st.column_config.TextColumn(current.t("Segment", "分群")),
            "who": st.column_config.TextColumn(current.t("Who", "特征")),
            "customers": st.column_config.NumberColumn(current.t("Customers", "客户数"), format="localized"),
            "customer_share": st.column_config.ProgressColumn(
                current.t("Share of customers", "客户占比"), format="percent", min_value=0.0, max_value=1.0
            ),
            "revenue": st.column_config.NumberColumn(
                current.t("Net sales to date", "累计净销售额"), format="localized"
            ),
            "revenue_share": st.column_config.ProgressColumn(
                current.t("Share of net sales", "净销售额占比"), format="percent", min_value=0.0, max_value=1.0
            ),
            "avg_recency_days": st.column_config.NumberColumn(
                current.t("Days since last order (mean)", "距上次下单天数（均值）"), format="%.0f"
            ),
            "avg_frequency": st.column_config.NumberColumn(current.t("Orders (mean)", "订单数（均值）"), format="%.1f"),
            "previous_customers": st.column_config.NumberColumn(
                current.t(f"Customers on {since}", f"{since} 的客户数"), format="localized"
            ),
            "change": st.column_config.NumberColumn(current.t("Change", "变化"), format="%+d"),
        },
        placeholder="—",
    )
    st.caption(
        current.t(
            f"Identified customers with a valid order by {current.period.end}, scored 1–5 on recency, frequency and "
            "net sales by quintiles (customers with equal values share a score) and grouped on the recency score and "
            f"the mean of the other two. Change: against the segments on {since}, the comparison period's last day.",
            f"截至 {current.period.end} 有有效订单的可识别客户，按最近购买、购买频次和净销售额分五档"
            "（1–5 分，数值相同者同分），"
            f"再按最近购买得分和另两项得分的均值分群。变化：与对比期最后一天（{since}）的分群相比。",
        )
    )
    movement(current, loaded)
    if auth.may_see_customer_ids(role):
        segment_download(current, summary)
    else:
        st.caption(
            current.t(
                "Customer ids are shown to the operations, analyst and admin roles only.",
                "客户编号仅对运营、分析和管理员角色开放。",
            )
        )


def movement(current: ui.View, loaded: CustomersData) -> None:
    moved = loaded.segments.movement
    with st.expander(current.t(f"How customers moved since {loaded.since}", f"自 {loaded.since} 以来的分群流转")):
        changed = moved.filter(pl.col("from_segment").is_null() | (pl.col("from_segment") != pl.col("to_segment")))
        if changed.is_empty():
            ui.empty(current.t("No customer changed segment.", "没有客户更换分群。"))
            return
        shown = changed.with_columns(
            pl.col("from_segment").map_elements(
                lambda v: segment_label(v, current), return_dtype=pl.String, skip_nulls=False
            ),
            pl.col("to_segment").map_elements(lambda v: segment_label(v, current), return_dtype=pl.String),
        ).sort("customers", descending=True)
        st.dataframe(
            shown,
            hide_index=True,
            column_config={
                "from_segment": st.column_config.TextColumn(current.t("From", "原分群")),
                "to_segment": st.column_config.TextColumn(current.t("To", "现分群")),
                "customers": st.column_config.NumberColumn(current.t("Customers", "客户数"), format="localized"),
            },
        )


def segment_download(current: ui.View, summary: pl.DataFrame) -> None:
    names = [row["segment"] for row in summary.iter_rows(named=True) if row["customers"]]
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        current.t("Customer ids of a segment, for a campaign", "导出某一分群的客户编号（用于营销活动）"),
        names,
        format_func=lambda v: segment_label(v, current),
        key="customers_segment",
    )
    right.download_button(
        current.t("Download ids (CSV)", "下载客户编号（CSV）"),
        data=ui.deferred_csv(partial(segment_customer_ids, segment=current.segment), chosen, current.period.end),
        file_name=f"customers_{chosen}_{current.period.end}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )


def repeat_and_ltv(current: ui.View, loaded: CustomersData) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader(current.t("Repeat purchase interval", "复购间隔"))
        repeat = loaded.repeat
        if repeat.is_empty():
            ui.empty(current.t("No customer has a valid order yet.", "还没有客户下过有效订单。"))
        else:
            overall = repeat.filter(pl.col("cohort") == "all").row(0, named=True)
            st.metric(
                current.t("Median days, first → second order", "首单到第二单的天数（中位数）"),
                "—" if overall["median_days"] is None else f"{overall['median_days']:.0f}",
                border=True,
            )
            st.dataframe(
                repeat.filter(pl.col("cohort") != "all").sort("cohort", descending=True),
                hide_index=True,
                column_config={
                    "cohort": st.column_config.TextColumn(current.t("Cohort", "同期群")),
                    "customers": st.column_config.NumberColumn(current.t("Customers", "客户数"), format="localized"),
                    "repeat_customers": st.column_config.NumberColumn(
                        current.t("Ordered again", "已复购"), format="localized"
                    ),
                    "repeat_share": st.column_config.NumberColumn(
                        current.t("Repeat share", "复购占比"), format="percent"
                    ),
                    "median_days": st.column_config.NumberColumn(current.t("Median days", "中位天数"), format="%.0f"),
                    "mean_days": st.column_config.NumberColumn(current.t("Mean days", "平均天数"), format="%.1f"),
                },
                placeholder="—",
            )
            st.caption(
                current.t(
                    "Days from a customer's first valid order to the second, by the month of the first.",
                    "客户首个有效订单到第二个有效订单的天数，按首单月份分组。",
                )
            )
    with right:
        st.subheader(current.t("Customer lifetime value", "客户终身价值"))
        ltv = loaded.ltv
        if ltv.is_empty():
            ui.empty(current.t("No customer has a valid order yet.", "还没有客户下过有效订单。"))
            return
        overall = ltv.filter(pl.col("cohort") == "all").row(0, named=True)
        first, second = st.columns(2)
        first.metric(
            current.t("Observed LTV per customer", "人均实际终身价值"),
            format_value("net_sales", overall["observed_ltv"]),
            border=True,
        )
        second.metric(
            current.t(f"Projected {LTV_HORIZON_MONTHS}-month LTV", f"预测 {LTV_HORIZON_MONTHS} 个月终身价值"),
            format_value("net_sales", overall["projected_ltv"]),
            help=current.t(LTV_METHOD, LTV_METHOD_ZH).format(horizon=LTV_HORIZON_MONTHS),
            border=True,
        )
        st.dataframe(
            ltv.filter(pl.col("cohort") != "all").sort("cohort", descending=True),
            hide_index=True,
            column_config={
                "cohort": st.column_config.TextColumn(current.t("Cohort", "同期群")),
                "customers": st.column_config.NumberColumn(current.t("Customers", "客户数"), format="localized"),
                "complete_months": st.column_config.NumberColumn(current.t("Complete months", "完整月数")),
                "observed_ltv": st.column_config.NumberColumn(current.t("Observed", "实际"), format="localized"),
                "projected_ltv": st.column_config.NumberColumn(current.t("Projected", "预测"), format="localized"),
            },
            placeholder="—",
        )
        st.caption(current.t(LTV_METHOD, LTV_METHOD_ZH).format(horizon=LTV_HORIZON_MONTHS))


def render(current: ui.View) -> None:
    ui.period_caption(current)
    role = ui.role()
    loaded = data(current, role)
    cards(current, loaded)
    left, right = st.columns(2, gap="large")
    with left:
        new_vs_returning(current, loaded)
    with right:
        returning_rate(current, loaded)
    cohorts(current, loaded)
    repeat_and_ltv(current, loaded)
    segments(current, loaded, role)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
