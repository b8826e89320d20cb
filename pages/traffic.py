"""Traffic (analysts): which sources, media, campaigns and devices bring sessions and sales, at what cost; the
funnel and the trend per group; click a bar to drill into one group; download what is shown."""

from dataclasses import dataclass, replace

import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from metrics import METRICS, compute_kpis, funnel, kpi_series
from metrics.compute import rollups_carry, visitors_without_scan
from metrics.funnel import FUNNEL_DIMENSIONS, STEP_LABELS
from metrics.inputs import SessionStores, session_stores, store_list
from metrics.segments import Segment, blank_unsplittable
from pages import page
from shopkpi import ui
from shopkpi.ui import charts, later

DIMENSIONS = ("source", "medium", "campaign", "device")
TABLE_METRICS = (
    "sessions",
    "visitors",
    "orders",
    "conversion_rate",
    "aov",
    "total_revenue",
    "bounce_rate",
    "ctr",
    "ad_spend",
    "roas",
    "cost_per_order",
    # Only a platform's traffic report gives these (its sales by channel): shown where the sessions come from one.
    "reported_sales",
    "reported_aov",
)
REPORT_ONLY = ("reported_sales", "reported_aov")
# The table's metrics but the one that is slow to count where no visitor numbers or spans hold it (visitors: an exact
# distinct count).
QUICK_METRICS = tuple(name for name in TABLE_METRICS if name != "visitors")
TREND_METRICS = ("sessions", "total_revenue", "conversion_rate", "orders")
DEFAULT_SPLIT = "source"  # the split and the trend the page opens with
DEFAULT_TREND = "sessions"
TREND_KEY = "traffic_trend_metric"
FOCUS = "traffic_focus"
CHART_KEY = "traffic_bars"
NONE = charts.NONE_LABEL
# The group none's name where a group of the data is named NONE (GA4's medium of direct traffic): see none_label.
NO_VALUE = "(no value)"


def grain_for(days: int) -> str:
    return "day" if days <= 62 else ("week" if days <= 400 else "month")


@dataclass(frozen=True)
class TrafficData:
    """What the Traffic page draws for one view, split and trend metric."""

    table: pl.DataFrame  # TABLE_METRICS per group of the split
    funnel: pl.DataFrame  # the funnel's steps per group of the split (the whole shop's if the split has no funnel)
    trend: pl.DataFrame  # the trend metric per day, week or month (grain_for the period) and group of the split
    stores: SessionStores  # which stores' session figures come from their logs, which from a traffic report
    visitors_pending: bool = False  # the table's visitors are still being counted in the background (null till then)

    @property
    def from_report(self) -> bool:
        """Every store in view with session figures has them from a platform's traffic report (no session logs)."""
        return self.stores.kind == "report"


def data(
    view: ui.View,
    role: str | None,
    split: str = DEFAULT_SPLIT,
    trend: str = DEFAULT_TREND,
    *,
    visitors_later: bool = False,
) -> TrafficData:
    """Everything the Traffic page draws for `view`, split by `split` with `trend` over time (the page and the
    warm-up call this; the defaults are the page's first view). The same for every role.

    `visitors_later` (the page): a split whose visitors are counted over many logged sessions (see _table) has its
    table first without them, counted in the background; `visitors_pending` then says so."""
    period, segment = view.period, view.segment
    stores = ui.load(session_stores, segment=segment)
    # A traffic report gives its visitors per row: nothing to count over sessions.
    table, pending = _table(view, split, visitors_later and stores.kind != "report")
    return TrafficData(
        table=table,
        funnel=ui.load(funnel, period, None, split if split in FUNNEL_DIMENSIONS else None, segment=segment),
        # Over the days with data only, so that a month that is not over does not end in a run of zeros.
        trend=ui.load(kpi_series, view.shown, None, grain_for(view.shown.days), (trend,), split, segment=segment),
        stores=stores,
        visitors_pending=pending,
    )


def _table(view: ui.View, split: str, visitors_later: bool) -> tuple[pl.DataFrame, bool]:
    """The table of TABLE_METRICS per group, and whether its visitors are still being counted.

    Visitors counted over the period's sessions (where the warehouse keeps neither its visitors numbered, as it does
    by default, nor the split's spans; on Spark) take seconds for a year of a large shop, everything else a tenth
    of a second. Where the period holds more than later.BACKGROUND_FROM_SESSIONS sessions and `visitors_later`, the
    table is the other metrics with visitors null until the whole table, computed in the background as one query, is
    ready: then it is that table, the same as without `visitors_later`."""
    period, segment = view.period, view.segment
    # Both asked whatever `visitors_later`, so that the warm-up leaves the page's first view nothing to compute (the
    # table without visitors takes a twentieth of a second at 10 M sessions).
    if not _at_once(split, segment):
        quick = ui.load(compute_kpis, period, None, split, QUICK_METRICS, segment=segment)
        if visitors_later and (quick["sessions"].sum() or 0) > later.BACKGROUND_FROM_SESSIONS:
            whole = later.load(compute_kpis, period, None, split, TABLE_METRICS, segment=segment, polite=False)
            if whole is not None:
                return whole, False
            visitors = pl.lit(None, dtype=pl.Int64).alias("visitors")
            return quick.with_columns(visitors).select("group", *TABLE_METRICS), True
    return ui.load(compute_kpis, period, None, split, TABLE_METRICS, segment=segment), False


def _at_once(split: str, segment: Segment) -> bool:
    """Whether the split's visitors come from the warehouse's spans or visitor numbers (metrics.compute
    visitors_without_scan): as it keeps them; never on Spark, whose lake keeps no rollups."""
    return not ui.note_answer(compute_kpis) and ui.quietly(visitors_without_scan, split, segment=segment)


def _numbers_hint(current: ui.View, dim: str) -> str:
    """How to have a split's visitors at once: keep the visitors numbered; empty where the numbers could not answer
    (a split or filter the rollups do not carry, Spark)."""
    if ui.note_answer(compute_kpis) or not rollups_carry(dim, current.segment):
        return ""
    command = "shopkpi rollups --visitor-numbers on"
    return current.t(
        f" To have them at once for any period, split and filter, keep the visitors numbered: `{command}` (a "
        "first load of 10 million sessions then takes about 2.4 s longer; a day's load about as long).",
        f" 如需任意时段、拆分和筛选即时得出，可为访客编号：`{command}`"
        "（此后首次导入 1000 万次访问约多 2.4 秒；每日导入耗时基本不变）。",
    )


def focus_from_chart() -> None:
    # Runs before the rerun a click causes: remember the clicked bar's group (its label; None when a click unselects).
    st.session_state[FOCUS] = charts.picked(st.session_state[CHART_KEY])


def apply_focus_as_filter(dim: str, value: str) -> None:
    # A callback runs before the sidebar is drawn again, so it may set the sidebar's widget state.
    st.session_state[f"f_{dim}"] = value
    st.session_state[FOCUS] = None


def column_config(current: ui.View, dim: str) -> dict:
    config = {"group": st.column_config.TextColumn(ui.dim_label(dim))}
    for name in TABLE_METRICS:
        entry = METRICS[name]
        # Which input gave the sessions (session logs, a platform's traffic report, or both), issue 13.
        source = ui.session_input(name, current)
        config[name] = st.column_config.NumberColumn(
            ui.label(name),
            format=entry.formats.column,
            help=f"{entry.formula_in(current.lang)} — {entry.description_in(current.lang)}"
            + (f" {source}" if source else ""),
        )
    return config


def none_label(loaded: TrafficData) -> str:
    """The name of the group none (no value of the split: sessions without one, orders without a session): NONE,
    unless a group of the data has that name, as GA4's medium of direct traffic, "(none)", has: then NO_VALUE, so
    that the table, the bars and a drill-down never merge the two."""
    named = pl.concat(
        [frame.select(pl.col("group").cast(pl.String)) for frame in (loaded.table, loaded.funnel, loaded.trend)]
    )
    return NO_VALUE if named.filter(pl.col("group") == NONE).height else NONE


def table_section(
    current: ui.View, dim: str, loaded: TrafficData, none: str
) -> tuple[pl.DataFrame | None, later.Note | None]:
    """Draws the table (or says there is nothing to split); returns it and, while its visitors are being counted, the
    note that says so (fill_in_visitors waits for them)."""
    table = blank_unsplittable(loaded.table, current.segment)
    if not loaded.from_report:
        table = table.drop(REPORT_ONLY)
    if table.is_empty() or table["sessions"].fill_null(0).sum() + table["orders"].fill_null(0).sum() == 0:
        ui.empty(
            current.t(
                "No sessions and no orders in this period with these filters: choose a longer period or clear "
                "a filter.",
                "此时间范围和筛选条件下没有访问也没有订单：请选择更长的时间范围或清除筛选。",
            )
        )
        return None, None
    money = [n for n in TABLE_METRICS if METRICS[n].unit in ("money", "ratio") and n in table.columns]
    table = table.sort("sessions", descending=True, nulls_last=True).with_columns(
        pl.col("group").fill_null(none), pl.col(money).round(2)
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config=column_config(current, dim),
        placeholder="—",
        height=min(420, 38 + 35 * table.height),
    )
    note = None
    if loaded.visitors_pending:
        sessions = f"{int(table['sessions'].sum() or 0):,}"
        note = later.Note(
            current.t(
                f"Counting the visitors of each {current.dim_label(dim).lower()} over this period's {sessions} "
                "sessions (an exact count of distinct visitors): the column fills in by itself.",
                f"正在统计本期 {sessions} 次访问中各{current.dim_label(dim)}的访客数（精确去重计数），"
                "完成后该列自动填入。",
            )
            + _numbers_hint(current, dim)
        )
    left, right = st.columns([1, 3])
    left.download_button(
        current.t("Download this table (CSV)", "下载此表（CSV）"),
        data=ui.csv_bytes(table),
        file_name=f"traffic_by_{dim}_{current.period.start}_{current.period.end}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        disabled=loaded.visitors_pending,
        help=current.t("Available once the visitors are counted.", "访客数统计完成后可下载。")
        if loaded.visitors_pending
        else None,
    )
    right.caption(
        current.t(
            "Orders take the dimensions of the session their session_id names; orders without one form the "
            f"group {none}. Ad spend splits only by source, medium and campaign (blank by device).",
            f"订单按其 session_id 对应访问的维度归属；无访问的订单归入 {none}。广告花费只能按来源、媒介、活动拆分。",
        )
    )
    return table, note


def fill_in_visitors(
    current: ui.View, dim: str, loaded: TrafficData, none: str, slot: DeltaGenerator, note: later.Note
) -> None:
    """At the end of the page run, the rest of the page drawn, waits for the table's visitors being counted in the
    background, and draws the table again in its `slot` with them (the same rows and order: sessions sort it); where
    they take longer than later.WAIT_IN_RUN_SECONDS, the note stays and the page is drawn again once they are
    counted."""
    if note.wait():
        whole, _ = _table(current, dim, visitors_later=True)
        with slot.container():
            table_section(current, dim, replace(loaded, table=whole, visitors_pending=False), none)


def funnel_section(current: ui.View, dim: str, loaded: TrafficData, focus: str | None, none: str) -> None:
    st.subheader(current.t("Funnel", "转化漏斗"))
    steps = loaded.funnel.with_columns(pl.col("group").fill_null(none))
    labels = {step: STEP_LABELS[step][current.lang == "zh"] for step in STEP_LABELS}
    if loaded.from_report:
        ui.empty(
            current.t(
                "The funnel needs session logs with their events (page view → click → cart → checkout → purchase); "
                "this shop's session figures come from a platform's traffic report, which does not give the steps.",
                "漏斗需要带行为事件的访问日志（浏览 → 点击 → 加购 → 结算 → 购买）；本店的访问数据来自平台流量报表，"
                "报表不提供这些步骤。",
            )
        )
        return
    if steps.is_empty() or steps.filter(pl.col("step_number") == 1)["sessions"].sum() == 0:
        ui.empty(current.t("No sessions in this period, so there is no funnel.", "本期没有访问，无漏斗数据。"))
        return
    if loaded.stores.kind == "mixed":  # the steps exist in the logged stores' events only: say whose they are
        logged, reported = (store_list(loaded.stores.logged), store_list(loaded.stores.reported))
        logged_zh, reported_zh = (store_list(loaded.stores.logged, "zh"), store_list(loaded.stores.reported, "zh"))
        st.caption(
            current.t(
                f"The funnel covers the session logs of {ui.md(logged)} only: the traffic report of "
                f"{ui.md(reported)} does not give the steps.",
                f"漏斗仅含 {ui.md(logged_zh)} 的访问日志：{ui.md(reported_zh)} 的平台流量报表不提供这些步骤。",
            )
        )
    if focus is not None:
        part = steps.filter(pl.col("group") == focus)
        if part.is_empty() or part["sessions"].sum() == 0:
            shown = ui.md(focus)
            ui.empty(current.t(f"No sessions from {shown} in this period.", f"本期没有来自 {shown} 的访问。"))
            return
        ui.vega(
            charts.funnel_chart(part.sort("step_number"), [labels[s] for s in part.sort("step_number")["step"]], focus),
            key="traffic_funnel_one",
        )
        return
    ui.vega(
        charts.funnel_by_group(
            steps,
            labels,
            current.t(
                f"Share of sessions reaching each step, by {ui.dim_label(dim).lower()}",
                f"各{ui.dim_label(dim)}到达各步骤的访问占比",
            ),
        ),
        key="traffic_funnel",
    )


def trend_section(current: ui.View, loaded: TrafficData, table: pl.DataFrame, focus: str | None, none: str) -> None:
    st.subheader(current.t("Trends", "趋势"))
    metric = (
        st.segmented_control(
            current.t("Metric", "指标"),
            TREND_METRICS,
            format_func=current.label,
            default=DEFAULT_TREND,
            key=TREND_KEY,
        )
        or DEFAULT_TREND
    )
    grain = grain_for(current.period.days)
    series = loaded.trend.with_columns(pl.col("group").fill_null(none))
    shown = [focus] if focus is not None else table.head(6)["group"].to_list()
    series = series.filter(pl.col("group").is_in(shown))
    if series.is_empty():
        ui.empty(current.t("No data for this trend.", "无趋势数据。"))
        return
    title = current.t(
        f"{ui.label(metric)} per {grain}", f"每{ {'day': '日', 'week': '周', 'month': '月'}[grain] }{ui.label(metric)}"
    )
    ui.vega(charts.trend_lines(series, metric, title=title), key="traffic_trend")


def render(current: ui.View) -> None:
    ui.period_caption(current)
    splits = (*DIMENSIONS, "store") if ui.several_stores() else DIMENSIONS  # issue 13: stores as a split
    if "traffic_by" not in st.session_state:  # the page opens on the split its address names (?split=medium)
        st.session_state["traffic_by"] = ui.url_choice("split", splits, DEFAULT_SPLIT)
    dim = (
        st.segmented_control(current.t("Split by", "拆分维度"), splits, format_func=current.dim_label, key="traffic_by")
        or DEFAULT_SPLIT
    )
    ui.keep_in_url("split", dim, DEFAULT_SPLIT)
    if st.session_state.get("traffic_focus_dim") != dim:  # a new split: the old focus means nothing
        st.session_state[FOCUS] = None
        st.session_state["traffic_focus_dim"] = dim
    # The trend's control is drawn further down; its choice of the last run is in the session state already.
    loaded = data(current, ui.role(), dim, st.session_state.get(TREND_KEY) or DEFAULT_TREND, visitors_later=True)
    none = none_label(loaded)
    slot = st.empty()  # the table, drawn again with its visitors once they are counted (fill_in_visitors)
    with slot.container():
        table, note = table_section(current, dim, loaded, none)
    if table is None:
        return
    focus = st.session_state.get(FOCUS)
    if focus is not None:
        left, right = st.columns([4, 1])
        left.info(
            current.t(
                f"Drilled into **{ui.md(focus)}**: the funnel and trend below show it alone.",
                f"已聚焦 **{ui.md(focus)}**：下方漏斗和趋势只显示它。",
            ),
            icon=":material/filter_alt:",
        )
        if dim in ("source", "device", "store") and focus != none:
            right.button(
                current.t("Filter every page", "筛选所有页面"),
                key="traffic_apply",
                on_click=apply_focus_as_filter,
                args=(dim, focus),
                help=current.t(
                    f"Set the sidebar's {current.dim_label(dim).lower()} filter to {focus}.",
                    f"把侧栏的{current.dim_label(dim)}筛选设为 {focus}。",
                ),
            )
        if right.button(current.t("Show all", "显示全部"), key="traffic_clear"):
            st.session_state[FOCUS] = None
            st.rerun()
    left, right = st.columns(2, gap="large")
    # A report shop's orders carry no session, so only the report splits its sales by channel.
    revenue = "reported_sales" if loaded.from_report else "total_revenue"
    with left:
        st.subheader(current.t("Revenue", "收入"))
        ui.vega(
            charts.bars(
                table.head(15),
                "group",
                revenue,
                current.t("Click a bar to drill into it", "点击柱形查看该分组"),
                ui.label(revenue),
                selectable=True,
            ),
            key=CHART_KEY,
            on_select=focus_from_chart,
        )
    with right:
        funnel_section(current, dim, loaded, focus, none)
    trend_section(current, loaded, table, focus, none)
    if note is not None:
        fill_in_visitors(current, dim, loaded, none, slot, note)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
