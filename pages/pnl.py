"""P&L (executives): the monthly statement, a waterfall of one month, margins over time, and against last year."""

from dataclasses import dataclass

import polars as pl
import streamlit as st

from metrics import format_value, pnl_lines, pnl_statement
from metrics.currency import mixed_currencies, mixed_reason
from metrics.periods import add_months
from metrics.pnl import SHARED, TOTAL, pnl_by_store, pnl_last_year, store_grid
from metrics.pnl_views import statement_grid, year_over_year
from metrics.registry import PNL_COLUMNS, format_change
from metrics.segments import blank_unsplittable
from pages import page
from shopkpi import ui
from shopkpi.ui import charts

MONTHS_SHOWN = 12


@dataclass(frozen=True)
class PnlData:
    """What the P&L page draws for one view."""

    statement: pl.DataFrame  # one row per month: the MONTHS_SHOWN months to the period's end
    last_year: pl.DataFrame  # the same months a year earlier (a partial month: the same days of it)
    mixed: list[str]  # the currencies of the selection's stores when there are several (the total is unknown)
    by_store: pl.DataFrame | None  # the months per store, shared expenses and total (several stores, no store filter)


def data(view: ui.View, role: str | None) -> PnlData:
    """Everything the P&L page draws for `view` (the page and the warm-up call this). The same for every role that
    may open the page."""
    last = view.period.end.replace(day=1)
    first = add_months(last, -(MONTHS_SHOWN - 1))
    return PnlData(
        statement=ui.load(pnl_statement, first, last, segment=view.segment),
        last_year=ui.load(pnl_last_year, first, last, segment=view.segment),
        mixed=ui.load(mixed_currencies, segment=view.segment),
        by_store=ui.load(pnl_by_store, first, last) if ui.several_stores() and view.segment.store is None else None,
    )


def shown_text(grid: pl.DataFrame, months: list[str]) -> pl.DataFrame:
    # Money and margins share a column, so each cell is written in its line's own format.
    lines = grid["line"].to_list()
    return grid.select(
        "label",
        *[
            pl.Series(
                month, [format_value(line, value) for line, value in zip(lines, grid[month].to_list(), strict=True)]
            )
            for month in months
        ],
    )


def since_first_activity(statement: pl.DataFrame) -> pl.DataFrame:
    """The statement from its first month with anything booked: months before the shop's data began are not zero
    months, they are months without data (a young shop's table starts where its data does)."""
    numbers = list(PNL_COLUMNS)
    booked = statement.filter(pl.any_horizontal(pl.col(numbers).fill_null(0) != 0))
    return statement.clear() if booked.is_empty() else statement.filter(pl.col("month") >= booked["month"].min())


def store_section(current: ui.View, by_store: pl.DataFrame, month: str) -> None:
    """The month's statement with a column per store, the expenses every store shares, and the consolidated total."""
    st.subheader(current.t(f"By store, {month}", f"分店铺损益，{month}"))
    grid = store_grid(by_store, month, current.lang)
    stores = [c for c in grid.columns if c not in ("line", "label")]
    names = {SHARED: current.t("shared expenses", "共同费用"), TOTAL: current.t("total", "合计")}
    st.dataframe(
        shown_text(grid, stores).rename({s: names.get(s, s) for s in stores}),
        hide_index=True,
        column_config={"label": st.column_config.TextColumn(current.t("Line", "项目"), pinned=True)},
        height=38 + 35 * grid.height,
    )
    mixed = ui.load(mixed_currencies)
    if mixed:
        st.caption(current.t(f"Total: {mixed_reason(mixed)}.", f"合计：{mixed_reason(mixed, 'zh')}。"))
    st.caption(current.t("Each store's column is in its own currency.", "各店铺列按其自身币种。"))


def a_year_later(month: str) -> str:
    year, mon = month.split("-")
    return f"{int(year) + 1:04d}-{mon}"


def render(current: ui.View) -> None:
    loaded = data(current, ui.role())
    statement = blank_unsplittable(loaded.statement, current.segment)
    last_year = blank_unsplittable(loaded.last_year, current.segment)
    last_year = since_first_activity(last_year)  # months of last year without data read "—", not 0
    if not since_first_activity(statement).is_empty():
        statement = since_first_activity(statement)
    months = statement["month"].to_list()
    partial = {row["month"]: row for row in statement.filter(pl.col("partial")).iter_rows(named=True)}
    whole = len(months) == MONTHS_SHOWN
    st.caption(
        current.t(
            f"The {len(months)} months to {months[-1]}"
            + (
                " — the month of the period's end and the 11 before it."
                if whole
                else f", from {months[0]}: the first month with data."
            ),
            f"截至 {months[-1]} 的 {len(months)} 个月"
            + ("。" if whole else f"，自 {months[0]}（首个有数据的月份）起。"),
        )
    )
    if partial:
        notes = [
            current.t(
                f"{month}: {row['days_with_data']} of {row['days']} days",
                f"{month}：{row['days']} 天中 {row['days_with_data']} 天",
            )
            for month, row in partial.items()
        ]
        st.info(
            current.t(
                f"Partial months (data does not cover them whole): {'; '.join(notes)}. Their operating expenses are "
                "pro-rated by the days with data, they are compared with the same days of last year, and the margins "
                "chart leaves them out.",
                f"不完整月份（数据未覆盖整月）：{'；'.join(notes)}。其运营费用按有数据的天数分摊，同比对比去年同样的天数，"
                "利润率趋势图不含这些月份。",
            ),
            icon=":material/date_range:",
        )
    if current.segment.source is not None or current.segment.device is not None:  # a store has its own expenses
        st.info(
            current.t(
                "Filtered P&L: operating expenses split by nothing, so net profit and net margin are blank (—).",
                "筛选后的损益：运营费用无法拆分，净利润和净利率显示为 —。",
            ),
            icon=":material/filter_alt:",
        )
    mixed = loaded.mixed
    if mixed:  # stores in different currencies: the consolidated money is unknown, each store's is shown
        st.info(
            current.t(f"Consolidated P&L: {mixed_reason(mixed)}.", f"合并损益：{mixed_reason(mixed, 'zh')}。"),
            icon=":material/currency_exchange:",
        )
        if loaded.by_store is not None:
            store_section(current, loaded.by_store, months[-1])
        return
    if (
        statement["total_revenue"].fill_null(0).abs().sum() == 0
        and statement["operating_expenses"].fill_null(0).abs().sum() == 0
    ):
        ui.empty(current.t("No sales and no expenses in these months.", "这些月份没有销售也没有费用。"))
        return

    st.subheader(current.t("Monthly statement", "月度损益表"))
    grid = statement_grid(statement, current.lang)
    table = shown_text(grid, months).rename(
        {m: current.t(f"{m} (to date)", f"{m}（至今）") for m in partial if m == months[-1]}
        | {m: current.t(f"{m} (partial)", f"{m}（不完整）") for m in partial if m != months[-1]}
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={"label": st.column_config.TextColumn(current.t("Line", "项目"), pinned=True)},
        height=38 + 35 * table.height,
    )
    st.download_button(
        current.t("Download the statement (CSV)", "下载损益表（CSV）"),
        data=ui.csv_bytes(grid),
        file_name=f"pnl_{months[0]}_{months[-1]}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader(current.t("One month, top to bottom", "单月损益瀑布"))
        # Opens on the last complete month; the month to date is one step away.
        complete = [m for m in months if m not in partial]
        default = months.index(complete[-1]) if complete else len(months) - 1
        month = st.selectbox(
            current.t("Month", "月份"),
            list(reversed(months)),
            index=len(months) - 1 - default,
            format_func=lambda m: m + (current.t(" (partial)", "（不完整）") if m in partial else ""),
            key="pnl_month",
        )
        lines = pnl_lines(statement.filter(pl.col("month") == month))
        lines = lines.with_columns(pl.col("line").map_elements(ui.label, return_dtype=pl.String).alias("label"))
        ui.vega(charts.waterfall(lines, current.t(f"P&L of {month}", f"{month} 损益")), key="pnl_waterfall")
    with right:
        st.subheader(current.t("Against last year", "同比"))
        if month in partial:
            st.caption(
                current.t(
                    f"{month} has data for {partial[month]['days_with_data']} of {partial[month]['days']} days: "
                    "compared with the same days a year earlier.",
                    f"{month} 仅 {partial[month]['days_with_data']} 天有数据：对比去年同样的天数。",
                )
            )
        yoy = year_over_year(statement, last_year, month)
        rows = [
            {
                current.t("Line", "项目"): ui.label(r["line"]),
                month: format_value(r["line"], r["value"]),
                current.t("Last year", "去年同期"): format_value(r["line"], r["last_year"]),
                current.t("Change", "变化"): format_change(r["line"], r["change"], r["change_rate"]),
            }
            for r in yoy.iter_rows(named=True)
        ]
        st.dataframe(pl.DataFrame(rows), hide_index=True, height=38 + 35 * len(rows))

    if loaded.by_store is not None:
        store_section(current, loaded.by_store, month)

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader(current.t("Margins over time", "利润率趋势"))
        ui.vega(
            charts.lines_over_time(
                statement.filter(~pl.col("partial")),  # a short month's margin would rescale the axis
                ["gross_margin", "net_margin"],
                [ui.label("gross_margin"), ui.label("net_margin")],
            ),
            key="pnl_margins",
        )
    with right:
        st.subheader(current.t("Revenue and net profit vs last year", "收入与净利润同比"))
        metric = (
            st.segmented_control(
                current.t("Metric", "指标"),
                ["total_revenue", "net_profit", "gross_profit"],
                format_func=current.label,
                default="total_revenue",
                key="pnl_yoy_metric",
            )
            or "total_revenue"
        )
        before = last_year.select(
            pl.col("month").map_elements(a_year_later, return_dtype=pl.String), pl.col(metric).alias("last_year")
        )
        both = (
            statement.select("month", pl.col(metric).alias("this_year"))
            .join(before, on="month", how="left")
            .sort("month")
        )
        ui.vega(
            charts.compare_bars(
                both,
                "month",
                ["this_year", "last_year"],
                [current.t("This year", "今年"), current.t("Last year", "去年")],
                ui.label(metric),
                metric=metric,
            ),
            key="pnl_yoy",
        )


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
