"""Products & stock: best sellers and categories of the period, days of cover per product, and what to reorder now
given each supplier's lead time and the 7–15 day buffer (SPEC §4)."""

from dataclasses import dataclass

import polars as pl
import streamlit as st

from metrics import METRICS, compute_kpis
from metrics.bestsellers import top_products
from metrics.replenishment import forecast_cover, reorder_now
from metrics.stock import DEFAULT_WINDOW_DAYS
from metrics.units import COUNT, DECIMAL
from pages import page
from shopkpi import auth, ui
from shopkpi.ui import charts, later

TOP_SHOWN = 15
CATEGORY_METRICS = ("units", "gross_sales", "cogs")


@dataclass(frozen=True)
class ProductsData:
    """What the Products & stock page draws for one view and role."""

    top: pl.DataFrame  # the TOP_SHOWN best-selling products of the period
    category_metrics: tuple[str, ...]  # CATEGORY_METRICS without the cost of goods for roles that may not see it
    categories: pl.DataFrame  # those metrics per category
    buffer: tuple[int, int]  # the replenishment window (days before stock runs out that goods should arrive)
    cover: pl.DataFrame | None  # days of cover and reorder dates per product at forecast demand (whole shop); None
    # while it is computed in the background (seconds, once per warehouse file): the page does not wait for it


def data(view: ui.View, role: str | None) -> ProductsData:
    """Everything the Products & stock page draws for `view`, as `role` may see it (the page and the warm-up call
    this)."""
    period, segment = view.period, view.segment
    shown = auth.visible_metrics(role, CATEGORY_METRICS)
    buffer = ui.replenish_buffer()
    return ProductsData(
        top=ui.load(top_products, period, TOP_SHOWN, segment=segment),
        category_metrics=shown,
        categories=ui.load(compute_kpis, period, None, "category", shown, segment=segment),
        buffer=buffer,
        cover=later.load(forecast_cover, view.latest, DEFAULT_WINDOW_DAYS, buffer, ui.calendar()),
    )


def sellers(current: ui.View, loaded: ProductsData) -> None:
    left, right = st.columns(2, gap="large")
    top = loaded.top
    with left:
        st.subheader(current.t("Top products", "热销商品"))
        if top.is_empty():
            ui.empty(
                current.t("No product sold in this period with these filters.", "此时间范围和筛选条件下没有商品售出。")
            )
        else:
            ui.vega(
                charts.bars(top.head(10), "name", "gross_sales", current.t("Gross sales", "商品销售额")),
                key="products_top",
            )
            st.dataframe(
                top,
                hide_index=True,
                column_config={
                    "sku": "SKU",
                    "name": current.t("Product", "商品"),
                    "category": current.t("Category", "品类"),
                    "units": st.column_config.NumberColumn(ui.label("units"), format=METRICS["units"].formats.column),
                    "gross_sales": st.column_config.NumberColumn(
                        ui.label("gross_sales"), format=METRICS["gross_sales"].formats.column
                    ),
                },
                placeholder="—",
            )
    with right:
        st.subheader(current.t("Categories", "品类"))
        shown = loaded.category_metrics
        categories = loaded.categories.filter(pl.col("units").fill_null(0) > 0).sort("gross_sales", descending=True)
        if categories.is_empty():
            ui.empty(current.t("No category sold in this period.", "本期没有品类售出。"))
        else:
            categories = categories.with_columns(pl.col("group").fill_null(charts.NONE_LABEL))
            ui.vega(
                charts.bars(categories, "group", "gross_sales", current.t("Gross sales", "商品销售额")),
                key="products_categories",
            )
            st.dataframe(
                categories,
                hide_index=True,
                column_config={
                    "group": current.t("Category", "品类"),
                    **{n: st.column_config.NumberColumn(ui.label(n), format=METRICS[n].formats.column) for n in shown},
                },
                placeholder="—",
            )


def stock(current: ui.View, loaded: ProductsData) -> None:
    st.subheader(current.t("Stock", "库存"))
    buffer, cover = loaded.buffer, loaded.cover
    if cover is None:
        later.redraw_when_ready(
            current.t("Forecasting each product's demand for days of cover…", "正在预测各商品销量以计算可售天数…")
        )
        return
    if cover.is_empty():
        ui.empty(
            current.t(
                "No stock counts yet: load the inventory table (date, sku, on_hand) to see days of cover.",
                "还没有库存数据：导入 inventory 表（date, sku, on_hand）后可查看可售天数。",
            )
        )
        return
    st.caption(
        current.t(
            f"As of {current.latest}, at forecast demand (whole shop, not filtered): the shop's daily units forecast "
            f"with the promotion calendar, each product taking its share of the last {DEFAULT_WINDOW_DAYS} days' "
            f"units. Goods should arrive {buffer[0]}–{buffer[1]} days before stock runs out, so a product "
            f"is due for reorder once its stock (on hand + on order) covers less than its lead time + {buffer[1]} "
            f"days, and late after lead time + {buffer[0]} days.",
            f"截至 {current.latest}，按预测销量计算（全店，不受筛选影响）：全店日销量预测（含大促日历），"
            f"各商品按近 {DEFAULT_WINDOW_DAYS} 天销量占比分摊。货物应在断货前 "
            f"{buffer[0]}–{buffer[1]} 天到达：库存（在库 + 在途）可售天数少于交货期 + {buffer[1]} 天即需补货，"
            f"少于交货期 + {buffer[0]} 天即已晚。",
        )
    )
    due = reorder_now(cover)
    columns = {
        "sku": "SKU",
        "name": current.t("Product", "商品"),
        "category": current.t("Category", "品类"),
        "supplier": current.t("Supplier", "供应商"),
        "on_hand": st.column_config.NumberColumn(current.t("On hand", "在库"), format=COUNT.column),
        "on_order": st.column_config.NumberColumn(current.t("On order", "在途"), format=COUNT.column),
        "daily_units": st.column_config.NumberColumn(current.t("Units / day", "日均销量"), format=DECIMAL.column),
        "forecast_units_30d": st.column_config.NumberColumn(
            current.t("Forecast, next 30 days", "未来 30 天预测销量"), format="%.0f"
        ),
        "days_of_cover": st.column_config.NumberColumn(
            current.t("Days of cover", "可售天数"),
            format=DECIMAL.column,
            help=current.t("days the stock on hand lasts at forecast demand", "在库按预测销量可售的天数"),
        ),
        "lead_time_days": st.column_config.NumberColumn(current.t("Lead time (days)", "交货期（天）")),
        "stockout_date": st.column_config.DateColumn(current.t("Runs out", "预计断货")),
        "reorder_date": st.column_config.DateColumn(current.t("Reorder from", "建议下单日")),
        "order_by": st.column_config.DateColumn(current.t("Order by", "最晚下单日")),
        "late": st.column_config.CheckboxColumn(current.t("Late", "已晚")),
        "suggested_quantity": st.column_config.NumberColumn(
            current.t("Suggested qty", "建议补货量"),
            help=current.t(
                f"Forecast sales of lead time + {buffer[1]} + 30 days, less stock on hand and on order.",
                f"交货期 + {buffer[1]} + 30 天的预测销量，减去在库与在途库存。",
            ),
        ),
    }
    st.markdown(
        current.t(f"**Reorder now: {due.height} products**", f"**需立即补货：{due.height} 个商品**"),
    )
    if due.is_empty():
        st.success(current.t("No product needs reordering yet.", "暂无需要补货的商品。"))
    else:
        shown = due.select(
            "sku",
            "name",
            "supplier",
            "on_hand",
            "on_order",
            "daily_units",
            "days_of_cover",
            "lead_time_days",
            "stockout_date",
            "order_by",
            "late",
            "suggested_quantity",
        )
        st.dataframe(shown, hide_index=True, column_config=columns, placeholder="—")
        st.download_button(
            current.t("Download the reorder list (CSV)", "下载补货清单（CSV）"),
            data=ui.csv_bytes(shown),
            file_name=f"reorder_{current.latest}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
        )
    with st.expander(
        current.t(f"Days of cover of all {cover.height} products", f"全部 {cover.height} 个商品的可售天数")
    ):
        st.dataframe(
            cover.select(
                "sku",
                "name",
                "category",
                "on_hand",
                "on_order",
                "daily_units",
                "forecast_units_30d",
                "days_of_cover",
                "lead_time_days",
                "stockout_date",
                "reorder_date",
            ),
            hide_index=True,
            column_config=columns,
            placeholder="—",
        )
        st.caption(
            current.t(
                "— in Days of cover: no sales in the window, so it does not run out at forecast demand.",
                "可售天数为 —：近期无销量。",
            )
        )


def render(current: ui.View) -> None:
    ui.period_caption(current)
    loaded = data(current, ui.role())
    sellers(current, loaded)
    stock(current, loaded)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
