"""Customers: who comes back (cohort retention, returning customer rate) and how much new and returning customers
spend."""

from dataclasses import dataclass

import polars as pl
import streamlit as st

from metrics import METRICS, cohort_activity, compare_periods, compute_kpis, format_value, kpi_series
from metrics.periods import add_months
from metrics.units import RATE, change_text
from pages import page
from shopkpi import ui
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


def data(view: ui.View, role: str | None) -> CustomersData:
    """Everything the Customers page draws for `view` (the page and the warm-up call this). The same for every
    role."""
    period, segment = view.period, view.segment
    first = add_months(period.end.replace(day=1), -11)  # the charts' 12 months
    return CustomersData(
        cards=ui.load(compare_periods, period, None, None, CARD_METRICS, segment=segment),
        by_type=ui.load(compute_kpis, period, None, "customer_type", TYPE_METRICS, segment=segment),
        revenue_by_type=ui.load(
            kpi_series, first, period.end, "month", ("total_revenue",), "customer_type", segment=segment
        ),
        returning_rate=ui.load(kpi_series, first, period.end, "month", ("returning_customer_rate",), segment=segment),
        cohorts=ui.load(cohort_activity, period.end, segment=segment),
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
    ui.plotly(
        charts.stacked_bars(
            series, "period", "group", "total_revenue", names, current.t("Revenue per month", "每月收入")
        ),
        key="customers_types",
    )


def returning_rate(current: ui.View, loaded: CustomersData) -> None:
    st.subheader(ui.label("returning_customer_rate"))
    series = loaded.returning_rate
    ui.plotly(
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
    ui.plotly(
        charts.cohort_heatmap(
            shown,
            current.t(
                "Share of each month's new customers who ordered again k months later",
                "各月新客在 k 个月后再次下单的比例",
            ),
            hover=current.t(
                f"cohort %{{y}}, month %{{x}}: %{{z:{RATE.value}}}",
                f"同期群 %{{y}}，第 %{{x}} 个月：%{{z:{RATE.value}}}",
            ),
        ),
        key="customers_cohorts",
    )
    st.caption(
        current.t(
            "A customer's cohort is the month of their first valid order; blank cells are months not yet complete.",
            "客户的同期群是其首个有效订单所在月份；空白表示该月尚未结束。",
        )
    )


def render(current: ui.View) -> None:
    ui.period_caption(current)
    loaded = data(current, ui.role())
    cards(current, loaded)
    left, right = st.columns(2, gap="large")
    with left:
        new_vs_returning(current, loaded)
    with right:
        returning_rate(current, loaded)
    cohorts(current, loaded)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
