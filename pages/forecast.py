"""Forecast (operations): the next weeks of a KPI with 80% / 95% bands and the promotion calendar, the backtest that
chose the model, this month's pacing against its target, and today's anomaly alerts."""

from dataclasses import dataclass

import polars as pl
import streamlit as st

from metrics import forecast as fc
from metrics.anomalies import daily_alerts
from metrics.registry import METRICS, format_value
from metrics.units import CHANGE, RATE
from pages import page
from shopkpi import ui
from shopkpi.ui import forecast_charts, later

METRIC_CHOICES = ("total_revenue", "orders", "sessions", "gross_sales", "units")
SPLITS = ("", "source", "device", "category")
HORIZONS = (7, 14, 30, 60, 90)
DEFAULT_HORIZON = 30
PACING_PATHS = 500  # simulated rests of the month behind the chance of reaching the target
HISTORY_SHOWN = 120  # days of history drawn before the forecast
PERCENT = st.column_config.NumberColumn(format=RATE.column)
# Days ahead of each backtest fold: four weeks whatever the horizon shown, so that the model is chosen once per metric
# (when the warehouse is published, by the warm-up) and a change of horizon or split only fits the chosen model.
BACKTEST_DAYS = 28


@dataclass(frozen=True)
class ForecastData:
    """What the Forecast page draws for one view and choice of metric, horizon and split."""

    problem: str | None  # why the metric cannot be forecast under that split (then no forecast), else None
    forecast: fc.Forecast | None  # the forecast; None on a problem or an error
    backtest: fc.Backtest | None  # the backtest of the metric's total that chose the forecast's model
    error: str | None  # why the forecast failed (e.g. too little history), else None
    pacing: fc.Pacing | None  # this month against its target; None while the model is being chosen
    alerts: pl.DataFrame  # the anomaly alerts of the latest day
    choosing: bool = False  # the model is being chosen in the background (the page does not wait for it)


def data(
    view: ui.View,
    role: str | None,
    metric: str = METRIC_CHOICES[0],
    horizon: int = DEFAULT_HORIZON,
    by: str | None = None,
) -> ForecastData:
    """Everything the Forecast page draws for `view`: `metric` forecast `horizon` days ahead, split by `by` (the page
    and the warm-up call this; the defaults are the page's first view). The same for every role."""
    problem = fc.forecastable(metric, by)
    result, backtest, error, choosing = None, None, None, False
    if not problem:
        calendar = ui.calendar()
        try:
            # The costly part (every candidate backtested), the same for each horizon and split of the metric: the
            # warm-up computes it after each publish; a visit before it is done does not wait for it.
            backtest = later.load(fc.model_choice, metric, BACKTEST_DAYS, calendar, segment=view.segment)
            choosing = backtest is None
            if backtest is not None:
                model = backtest.best()
                known = backtest.params.get(model) if model else None
                widths = backtest.widths.get(model) if model else None  # the bands calibrated on held-out days
                result = ui.load(
                    fc.forecast_chosen, metric, horizon, by, calendar, model, known, widths, segment=view.segment
                )
        except fc.ForecastError as failure:  # the page says why in words; pacing goes on without a chosen model
            error = str(failure)
    return ForecastData(
        problem=problem or None,
        forecast=result,
        backtest=backtest,
        error=error,
        # Pacing fits the chosen model (without one it would backtest again): it waits for the choice too.
        pacing=None if choosing else load_pacing(view, metric, result),
        alerts=ui.load(daily_alerts, view.latest, ui.calendar(), segment=view.segment),  # the filters' alerts
        choosing=choosing,
    )


def backtest_columns(current: ui.View) -> dict:
    t = current.t
    return {
        "model": st.column_config.TextColumn(t("Model", "模型")),
        "mape": st.column_config.NumberColumn(
            "MAPE", format=RATE.column, help=t("Mean absolute percentage error.", "平均绝对百分比误差。")
        ),
        "smape": st.column_config.NumberColumn(
            "sMAPE",
            format=RATE.column,
            help=t("Symmetric MAPE: 2|y−f| / (|y|+|f|).", "对称 MAPE：2|y−f| / (|y|+|f|)。"),
        ),
        "mase": st.column_config.NumberColumn(
            "MASE",
            format="%.2f",
            help=t(
                "Mean absolute error over that of 'same day last week' in the history (below 1: better).",
                "平均绝对误差除以历史上“上周同日”的平均绝对误差（小于 1 更好）。",
            ),
        ),
        "coverage80": st.column_config.NumberColumn(
            t("80% coverage", "80% 覆盖率"),
            format=RATE.column,
            help=t(
                "Share of held-out days inside the 80% interval (ideal: 80%).",
                "留出日落在 80% 区间内的比例（理想值 80%）。",
            ),
        ),
        "coverage95": st.column_config.NumberColumn(
            t("95% coverage", "95% 覆盖率"),
            format=RATE.column,
            help=t(
                "Share of held-out days inside the 95% interval (ideal: 95%).",
                "留出日落在 95% 区间内的比例（理想值 95%）。",
            ),
        ),
        "days": st.column_config.NumberColumn(
            t("Days", "天数"), help=t("Held-out days with a positive actual value.", "实际值为正的留出天数。")
        ),
    }


def forecast_columns(current: ui.View, metric: str, by: str | None) -> dict:
    t = current.t
    number = {"format": METRICS[metric].formats.column}
    return {
        "group": st.column_config.TextColumn(current.dim_label(by)) if by else None,
        "date": st.column_config.DateColumn(t("Date", "日期"), format="YYYY-MM-DD"),
        "forecast": st.column_config.NumberColumn(t("Forecast", "预测"), **number),
        "lo80": st.column_config.NumberColumn(t("80% low", "80% 下限"), **number),
        "hi80": st.column_config.NumberColumn(t("80% high", "80% 上限"), **number),
        "lo95": st.column_config.NumberColumn(t("95% low", "95% 下限"), **number),
        "hi95": st.column_config.NumberColumn(t("95% high", "95% 上限"), **number),
    }


def controls(current: ui.View) -> tuple[str, int, str | None]:
    left, middle, right = st.columns(3)
    metric = left.selectbox(current.t("Metric", "指标"), METRIC_CHOICES, format_func=current.label, key="fc_metric")
    horizon = middle.select_slider(
        current.t("Days ahead", "预测天数"), HORIZONS, value=DEFAULT_HORIZON, key="fc_horizon"
    )
    split = right.selectbox(
        current.t("Split by", "拆分"),
        (*SPLITS, "store") if ui.several_stores() else SPLITS,  # issue 13: stores as a split
        format_func=lambda d: current.t("Nothing (total)", "不拆分（合计）") if d == "" else current.dim_label(d),
        key="fc_by",
    )
    return metric, horizon, split or None


def forecast_section(
    current: ui.View, loaded: ForecastData, metric: str, horizon: int, by: str | None
) -> fc.Forecast | None:
    if loaded.problem:
        ui.empty(current.t(f"Cannot forecast this: {loaded.problem}.", f"无法预测：{loaded.problem}。"))
        return None
    if loaded.choosing:
        later.redraw_when_ready(
            current.t(
                "Choosing the model: a backtest of every candidate on this data (once after each data load)…",
                "正在选择模型：对每个候选模型回测（每次导入数据后一次）…",
            )
        )
        return None
    result = loaded.forecast
    if result is None:
        ui.empty(loaded.error)
        return None
    groups = result.rows["group"].unique(maintain_order=True).to_list()
    group = None
    if by:
        group = st.selectbox(
            current.dim_label(by),
            groups,
            format_func=lambda g: current.t("(none)", "（无）") if g is None else str(g),
            key="fc_group",
        )
    rows = result.rows.filter(pl.col("group").eq_missing(group))
    history = result.history.filter(pl.col("group").eq_missing(group)).tail(HISTORY_SHOWN)
    # From the first day with a value: a shop (or group) younger than the window would otherwise start on a flat
    # line of zeros that never happened.
    started = history.filter(pl.col("value") != 0)["date"].min()
    history = history.filter(pl.col("date") >= started) if started is not None else history
    first, last = history["date"].min(), rows["date"].max()
    events = fc.event_days(first, last, ui.calendar())
    labels = {
        "history": current.t("Actual", "实际"),
        "forecast": current.t("Forecast", "预测"),
        "band80": current.t("80% interval", "80% 区间"),
        "band95": current.t("95% interval", "95% 区间"),
    }
    title = current.label(metric) + ("" if group is None and not by else f" · {group}")
    ui.vega(forecast_charts.forecast_fan(history, rows, events, metric, labels, title), key="fc_fan")
    total = rows["forecast"].sum()
    st.caption(
        current.t(
            f"Next {horizon} days: {format_value(metric, total)} expected "
            f"({rows['date'].min()} – {last}); shaded: promotion and holiday windows of the calendar.",
            f"未来 {horizon} 天预计 {format_value(metric, total)}（{rows['date'].min()} – {last}）；"
            "阴影为日历中的促销和节假日。",
        )
    )
    with st.expander(current.t("Forecast table", "预测明细")):
        st.dataframe(result.rows, column_config=forecast_columns(current, metric, by), hide_index=True, placeholder="—")
    return result


def backtest_section(current: ui.View, result: fc.Forecast, backtest: fc.Backtest | None) -> None:
    st.subheader(current.t("How good is it? Backtest", "预测有多准？回测"))
    if backtest is None or not backtest.origins:
        ui.empty(current.t("Too little history to backtest: at least three months are needed.", "历史太短，无法回测。"))
        return
    st.dataframe(backtest.table(), column_config=backtest_columns(current), hide_index=True, placeholder="—")
    st.caption(
        current.t(
            f"Each model forecast {backtest.horizon} days ahead from {len(backtest.origins)} past dates "
            f"({backtest.origins[0]} – {backtest.origins[-1]}), knowing only the days before each; seasonal naive "
            f"repeats the last week. Chosen: **{result.model}** (of the models within 10% of the lowest MAPE, the "
            "most accurate whose 95% interval held 90–98% of the days). Scored on the days the shop traded; a split "
            "is forecast with the model chosen on the total.",
            f"每个模型从 {len(backtest.origins)} 个历史日期向前预测 {backtest.horizon} 天；季节朴素法重复上一周。"
            f"选用：**{result.model}**。只计营业日；拆分时沿用合计上选出的模型。",
        )
    )


def pacing_inputs(result: fc.Forecast | None) -> tuple[str | None, tuple[float, ...] | None]:
    """The model the forecast's backtest chose (on the total, also under a split), so pacing need not backtest
    again, and its parameters fitted on the total, so pacing need not estimate them again either."""
    if result is None or result.model not in fc.MODELS:
        return None, None
    return result.model, result.params


def load_pacing(view: ui.View, metric: str, result: fc.Forecast | None) -> fc.Pacing:
    model, params = pacing_inputs(result)
    calendar, (targets, _) = ui.calendar(), ui.targets()
    return ui.load(
        fc.month_pacing, metric, None, None, calendar, PACING_PATHS, 0, model, params, targets, segment=view.segment
    )


def target_source(pacing: fc.Pacing, current: ui.View) -> str:
    """Where the month's target comes from (metrics.forecast.monthly_target's words), in the view's language."""
    if current.lang != "zh":
        return pacing.target_source
    own = f"monthly_{pacing.metric}"
    if pacing.target is None:
        return f"无目标：请在目标文件中设置 {own}（一年前没有完整的同月数据）"
    if pacing.target_source.startswith(own):
        return f"目标文件中的 {own}"
    return pacing.target_source  # last year's month × (1 + growth): a formula, read as it is


def pacing_section(current: ui.View, metric: str, pacing: fc.Pacing) -> None:
    st.subheader(current.t("This month against its target", "本月目标进度"))
    left, right = st.columns([2, 3])
    with left:
        title = f"{pacing.month:%Y-%m}: " + current.t("projected month end", "预计月末")
        ui.vega(
            forecast_charts.pacing_gauge(
                pacing.projected,
                pacing.target,
                pacing.projected_lo80,
                pacing.projected_hi80,
                title,
                metric=metric,
                versus=current.t("vs target", "对比目标"),
            ),
            key="fc_gauge",
        )
        if pacing.target is None:
            st.caption(target_source(pacing, current))
        else:
            chance = RATE.text(pacing.probability, style="whole")
            source = target_source(pacing, current)
            st.markdown(
                current.t(
                    f"Target **{format_value(metric, pacing.target)}** ({source}); month to date "
                    f"**{format_value(metric, pacing.actual_to_date)}** against "
                    f"{format_value(metric, pacing.target_to_date)} on the target line. "
                    f"Chance of reaching the target: **{chance}**.",
                    f"目标 **{format_value(metric, pacing.target)}**（{source}）；本月至今 "
                    f"**{format_value(metric, pacing.actual_to_date)}**，"
                    f"目标线 {format_value(metric, pacing.target_to_date)}。"
                    f"达成概率：**{chance}**。",
                )
            )
    with right:
        labels = {
            "target": current.t("Target line", "目标线"),
            "projected": current.t("Projection", "预测"),
            "actual": current.t("Month to date", "本月至今"),
        }
        ui.vega(forecast_charts.pacing_lines(pacing.days, labels, metric=metric), key="fc_pacing")
        st.caption(
            current.t(
                "The target line spreads the month's target like the forecast made on the 1st (weekdays and "
                "promotion days weigh more); the 80% range of the month end is shaded on the gauge.",
                "目标线按月初预测的每日形态（工作日、促销日）分配月目标；仪表盘阴影为月末 80% 区间。",
            )
        )


def alert_text(row: dict, current: ui.View) -> str:
    """An alert in the view's language: the English sentence metrics.anomalies wrote, or the same facts in Chinese."""
    if current.lang != "zh":
        return ui.md(row["message"])
    metric = row["metric"]
    group = f"（{ui.md(row['group'])}）" if row["group"] else ""
    moved = "高于" if row["direction"] == "up" else "低于"
    change = CHANGE.text(row["change"], style="whole")
    text = (
        f"{current.label(metric)}{group}{moved}预期 {change}：{format_value(metric, row['value'])}，"
        f"预期 {format_value(metric, row['expected'])}"
    )
    if row["event"]:
        text += f"（{ui.md(row['event'])}）"
    if row["driver_dimension"]:
        where = f"{current.dim_label(row['driver_dimension'])} {ui.md(row['driver'])}"
        if row["driver_contribution"] is not None:
            text += f"；主要来自{where}（贡献 {format_value(metric, row['driver_contribution'])}）"
        else:
            text += f"；出现在{where}"
    return text + "。"


def alerts_section(current: ui.View, alerts: pl.DataFrame) -> None:
    st.subheader(current.t("Alerts", "异常提醒"))
    if alerts.is_empty():
        ui.empty(
            current.t(
                f"No alerts on {current.latest}: every KPI is within what its weekday, trend and the promotion "
                "calendar explain.",
                f"{current.latest} 无异常：各指标都在星期、趋势和促销日历可解释的范围内。",
            )
        )
        return
    for row in alerts.iter_rows(named=True):
        (st.success if row["good"] else st.warning)(alert_text(row, current), icon=":material/notifications:")


def render(current: ui.View) -> None:
    metric, horizon, by = controls(current)
    with st.spinner(current.t("Fitting the model…", "正在拟合模型…")):
        loaded = data(current, ui.role(), metric, horizon, by)
    result = forecast_section(current, loaded, metric, horizon, by)
    if result is not None:
        backtest_section(current, result, loaded.backtest)
    if loaded.pacing is not None:
        pacing_section(current, metric, loaded.pacing)
    alerts_section(current, loaded.alerts)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    ui.run_page(page(__file__), render)
