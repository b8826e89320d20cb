"""The `shopkpi forecast` and `shopkpi alerts` commands (SPEC §5): thin wrappers that ask metrics/ and render.

Registered in shopkpi/cli/main.py (LATER_COMMANDS: imported when one runs). Exit 0 on
success, 1 on a data or file error (one line on stderr), 2 on wrong usage (unknown metric, a split the metric has not).
"""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from metrics.anomalies import daily_alerts
from metrics.forecast import ForecastError, forecast_metric, forecastable, load_calendar
from metrics.periods import latest_date, parse_date
from metrics.registry import METRICS, format_value
from metrics.units import RATE, change_text
from shopkpi.cli.common import (
    DataError,
    DbOption,
    FormatOption,
    OutputFormat,
    StoreOption,
    json_rows,
    json_value,
    print_csv,
    print_json,
    print_table,
    read_warehouse,
    store_segment,
)
from shopkpi.cli.kpis import Dimension, _value
from shopkpi.settings import load_settings

MAX_HORIZON = 365

FORECAST_COLUMNS = ("group", "date", "forecast", "lo80", "hi80", "lo95", "hi95")


def forecast(
    metric: Annotated[str, typer.Option("--metric", help="Metric to forecast, e.g. total_revenue, orders, sessions.")],
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, max=MAX_HORIZON, help="Days to forecast after the latest date.")
    ] = 30,
    by: Annotated[Dimension | None, typer.Option("--by", help="One forecast per group of a dimension.")] = None,
    format: FormatOption = OutputFormat.table,
    store: StoreOption = None,
    db: DbOption = None,
) -> None:
    """Daily forecast with 80% and 95% intervals, and its backtest against a seasonal-naive baseline."""
    by_name = _value(by)
    if metric not in METRICS:
        raise typer.BadParameter(f"unknown metric {metric!r}; see the README definitions table", param_hint="--metric")
    problem = forecastable(metric, by_name)
    if problem:
        raise typer.BadParameter(problem, param_hint="--by" if by_name and metric in METRICS else "--metric")
    with read_warehouse(db) as con:
        try:
            calendar = load_calendar(load_settings().calendar_path)
            segment = store_segment(con, store)
            result = forecast_metric(con, metric, horizon, by=by_name, events=calendar, segment=segment)
        except ForecastError as exc:
            raise DataError(str(exc)) from None
    rows = result.rows.select(FORECAST_COLUMNS)
    kind = _value(format)
    if kind == "json":
        backtest = result.backtest_summary()
        print_json(
            {
                "metric": metric,
                "by": by_name,
                "model": result.model,
                "rows": json_rows(rows),
                "backtest": {
                    part: {key: json_value(value) for key, value in scores.items()} for part, scores in backtest.items()
                },
            }
        )
    elif kind == "csv":
        print_csv(rows)
    else:
        print_table(_forecast_table(result.metric, rows, by_name))
        print_table(_backtest_table(result))


def _forecast_table(metric: str, rows: pl.DataFrame, by: str | None) -> Table:
    table = Table(title=f"Forecast of {METRICS[metric].label_en}" + (f" by {by}" if by else ""), title_justify="left")
    if by:
        table.add_column(by)
    for column in ("date", "forecast", "80% interval", "95% interval"):
        table.add_column(column, justify="left" if column == "date" else "right")
    for row in rows.iter_rows(named=True):
        cells = [
            row["date"].isoformat(),
            format_value(metric, row["forecast"]),
            f"{format_value(metric, row['lo80'])} – {format_value(metric, row['hi80'])}",
            f"{format_value(metric, row['lo95'])} – {format_value(metric, row['hi95'])}",
        ]
        table.add_row(*(["—" if row["group"] is None else str(row["group"])] if by else []), *cells)
    return table


def _backtest_table(result) -> Table:
    backtest = result.backtest
    origins = backtest.origins
    span = f"{len(origins)} rolling origins from {origins[0]}, {backtest.horizon} days ahead" if origins else "none"
    if origins and result.by:
        span += f"; on the total, whose model forecasts each {result.by}"
    table = Table(title=f"Backtest ({span}); chosen: {result.model}", title_justify="left")
    for column in ("model", "MAPE", "sMAPE", "MASE", "80% coverage", "95% coverage", "days"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in backtest.table().iter_rows(named=True):
        cells = [RATE.text(row[k]) for k in ("mape", "smape")]
        cells.append("—" if row["mase"] is None else f"{row['mase']:.2f}")
        cells += [RATE.text(row[k]) for k in ("coverage80", "coverage95")]
        table.add_row(row["model"], *cells, f"{row['days']:,}")
    return table


ALERT_COLUMNS = (
    "date",
    "metric",
    "group",
    "value",
    "expected",
    "change",
    "z",
    "direction",
    "event",
    "driver_dimension",
    "driver",
    "driver_contribution",
    "message",
)


def alerts(
    date_: Annotated[
        str | None,
        typer.Option(
            "--date", help="Day to check YYYY-MM-DD (default: the latest date in the data, the store's with --store)."
        ),
    ] = None,
    format: FormatOption = OutputFormat.table,
    store: StoreOption = None,
    db: DbOption = None,
) -> None:
    """KPIs of a day that moved beyond what the weekday, trend and promotion calendar explain, and what drove them."""
    try:
        day = parse_date(date_) if date_ else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from None
    with read_warehouse(db) as con:
        try:
            segment = store_segment(con, store)
            day = day or latest_date(con, segment)  # the store's latest day under --store
            frame = daily_alerts(con, day, load_calendar(load_settings().calendar_path), segment=segment)
        except ForecastError as exc:
            raise DataError(str(exc)) from None
    frame = frame.select(ALERT_COLUMNS)
    kind = _value(format)
    if kind == "json":
        checked = frame["date"][0].isoformat() if len(frame) else (day.isoformat() if day else None)
        print_json({"date": checked, "rows": json_rows(frame)})
    elif kind == "csv":
        print_csv(frame)
    elif frame.is_empty():
        print(f"no alerts{' on ' + day.isoformat() if day else ''}: every KPI is within its expected range")
    else:
        table = Table(title=f"Alerts {frame['date'][0]}", title_justify="left")
        for column in ("metric", "group", "value", "expected", "change", "driven by", "message"):
            table.add_column(column, justify="right" if column in ("value", "expected", "change") else "left")
        for row in frame.iter_rows(named=True):
            driver = f"{row['driver_dimension']} {row['driver']}" if row["driver_dimension"] else ""
            table.add_row(
                row["metric"],
                row["group"] or "",
                format_value(row["metric"], row["value"]),
                format_value(row["metric"], row["expected"]),
                change_text(row["change"]),
                driver,
                row["message"],
            )
        print_table(table)
