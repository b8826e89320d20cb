"""The `shopkpi kpis`, `pnl` and `cohorts` commands (SPEC §5): thin wrappers that ask metrics/ and render.

Registered in shopkpi/cli/main.py (LATER_COMMANDS: imported when one runs). Exit 0 on success, 1 on a data or file error
(one line on stderr), 2 on wrong usage (typer's usage errors).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import Enum
from typing import Annotated

import duckdb
import polars as pl
import typer
from rich.table import Table

from metrics.attribution import order_figures, unattributed_orders, without_unattributed
from metrics.cohorts import cohort_retention
from metrics.compute import compute_kpis, traffic_cut, traffic_gaps
from metrics.currency import currency_unknown
from metrics.inputs import missing_inputs, reads_sessions, session_stores, unknown
from metrics.periods import Coverage, Period, add_months, coverage, latest_date, parse_date, parse_month
from metrics.pnl import pnl_by_store, pnl_statement
from metrics.registry import DIMENSIONS, METRICS, PNL_LINES, format_value
from metrics.segments import ALL, Segment
from metrics.service import SERVICE_METRICS, response_target, service_kpis, with_service_columns
from metrics.targets import load_targets, verdict_text
from metrics.units import COUNT, RATE
from shopkpi.cli.common import (
    DataError,
    DbOption,
    EngineOption,
    FormatOption,
    OutputFormat,
    RatesOption,
    StoreOption,
    json_rows,
    no_data,
    print_csv,
    print_json,
    print_table,
    rates_of,
    read_warehouse,
    store_segment,
)
from shopkpi.settings import load_settings

DEFAULT_DAYS = 30
DEFAULT_PNL_MONTHS = 12


Dimension = Enum("Dimension", {name: name for name in DIMENSIONS}, type=str)


def _value(text: str | Enum | None) -> str | None:
    return text.value if isinstance(text, Enum) else text


def _kpi_period(con: duckdb.DuckDBPyConnection, first: str | None, last: str | None, segment: Segment = ALL) -> Period:
    """The period asked for; the 30 days ending on the latest date of the segment's data (the store's under --store)
    by default (SPEC §5)."""
    start = parse_date(first) if first else None
    end = parse_date(last) if last else None
    if end is None:
        end = latest_date(con, segment)
        if end is None:
            if start is None:
                raise no_data(segment)
            end = start + timedelta(days=DEFAULT_DAYS - 1)
        end = max(end, start) if start else end
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise DataError(f"--to {end} is before --from {start}")
    return Period(start, end)


def kpis(
    from_: Annotated[
        str | None, typer.Option("--from", help="First date YYYY-MM-DD (default: 30 days to --to).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Last date YYYY-MM-DD (default: latest date in the data, the store's with --store)."),
    ] = None,
    by: Annotated[Dimension | None, typer.Option("--by", help="Split by a dimension.", show_choices=True)] = None,
    format: FormatOption = OutputFormat.table,
    store: StoreOption = None,
    rates: RatesOption = None,
    db: DbOption = None,
    engine: EngineOption = None,
) -> None:
    """The KPIs of SPEC §4 for a period, optionally split by a dimension or for one store."""
    by_name = _value(by)
    if by_name is not None and by_name not in DIMENSIONS:
        raise typer.BadParameter(f"{by_name!r} is not one of {', '.join(DIMENSIONS)}", param_hint="--by")
    with read_warehouse(db, _value(engine)) as con:
        segment = store_segment(con, store)
        period = _kpi_period(con, from_, to, segment)
        table = rates_of(rates)
        frame = compute_kpis(con, period, by=by_name, segment=segment, rates=table)
        # Orders that name no session cannot be split by source, device …: unknown per channel, not 0.
        unsplit = unattributed_orders(con, period, by_name, segment)
        frame = without_unattributed(frame, unsplit)
        targets = load_targets(load_settings(db).targets_path) if _value(format) == "table" else {}
        target = response_target(targets or load_targets(load_settings(db).targets_path))
        service = service_kpis(con, period, target, store=segment.store)
        frame = with_service_columns(frame, service, grouped=by_name is not None)  # issue 16: service, returns
        covered = coverage(con, period, segment)  # the store's days under --store
        # Each store's session figures come from its logs, else its platform's traffic report (metrics/inputs.py).
        stores = session_stores(con, segment)
        reasons = unknown(METRICS, missing_inputs(con), stores=stores)
        if unsplit:
            reasons |= {m: reasons.get(m, unsplit) for m in order_figures()}
        # Stores in different currencies: money null with the reason unless --rates converts it.
        mixed = currency_unknown(con, METRICS, segment, by_name, table)
        reasons |= {m: reasons.get(m, why) for m, why in mixed.items()}
        cut = traffic_cut(con, period, segment)
        if cut:  # session figures from a platform report this period cuts
            reasons |= {m: reasons.get(m, cut) for m in METRICS if reads_sessions(m)}
        # What the traffic reports of the period do not give (visitors over several rows, an empty orders column, …),
        # for the figures that are null in some row.
        gaps = traffic_gaps(con, period, segment=segment)
        reasons |= {m: reasons.get(m, why) for m, why in gaps.items() if frame.get_column(m).null_count()}
    kind = _value(format)
    if kind == "json":
        print_json(
            {
                "from": period.start.isoformat(),
                "to": period.end.isoformat(),
                "by": by_name,
                **covered.as_json(),
                "unknown": reasons,  # metric → why it is null: an input the shop has not given (SPEC §4)
                "rows": json_rows(frame),
            }
        )
    elif kind == "csv":
        print_csv(frame)
    else:
        print_table(_kpi_table(frame, period, by_name, targets))
        _print_notes(covered, reasons)


def _print_notes(covered: Coverage, reasons: dict[str, str]) -> None:
    """What the table cannot say in its cells: a partial period, and why figures are unknown."""
    if covered.partial:
        typer.echo(
            f"partial period: {covered.days_with_data} of {covered.days} days have data "
            "(operating expenses are pro-rated by those days)"
        )
    for name, reason in reasons.items():
        typer.echo(f"— {METRICS[name].label_en}: {reason}")


def _kpi_table(frame: pl.DataFrame, period: Period, by: str | None, targets: dict) -> Table:
    """Metrics down, groups across (one value column without --by, with target and status)."""
    title = f"KPIs {period.start} – {period.end}" + (f" by {by}" if by else "")
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    groups = frame.get_column("group").to_list()
    for group in groups:
        table.add_column("value" if by is None else ("—" if group is None else str(group)), justify="right")
    if by is None:
        table.add_column("target", justify="right")
        table.add_column("status")
    for name, entry in METRICS.items():
        values = [format_value(name, v) for v in frame.get_column(name).to_list()]
        row = [entry.label_en, *values]
        if by is None:
            target = targets.get(name)
            status = target.verdict(frame.get_column(name)[0]) if target and len(frame) else None
            row += [target.describe() if target else "", verdict_text(status)]
        table.add_row(*row)
    for entry in SERVICE_METRICS:  # service and after-sales figures (metrics/service.py): no split by a dimension
        row = [entry.label_en, *(entry.formats.text(v) for v in frame.get_column(entry.name).to_list())]
        if by is None:
            target = targets.get(entry.name)
            status = target.status(frame.get_column(entry.name)[0]) if target and len(frame) else None
            row += [target.describe() if target else "", status or ""]
        table.add_row(*row)
    return table


def _month_range(
    con: duckdb.DuckDBPyConnection, first: str | None, last: str | None, segment: Segment = ALL
) -> tuple[date, date]:
    """The months asked for; the 12 ending with the month of the segment's latest date by default."""
    end = parse_month(last) if last else None
    if end is None:
        latest = latest_date(con, segment)
        if latest is None:
            if first is None:
                raise no_data(segment)
            latest = parse_month(first)
        end = latest.replace(day=1)
    start = parse_month(first) if first else add_months(end, -(DEFAULT_PNL_MONTHS - 1))
    if end < start:
        raise DataError(f"--to {end:%Y-%m} is before --from {start:%Y-%m}")
    return start, end


def pnl(
    from_: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM (default: 11 before --to).")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last month YYYY-MM (default: latest month in the data).")
    ] = None,
    format: FormatOption = OutputFormat.table,
    by: Annotated[
        str | None, typer.Option("--by", help="store: a column per store, shared expenses and the consolidated total.")
    ] = None,
    store: StoreOption = None,
    rates: RatesOption = None,
    db: DbOption = None,
    engine: EngineOption = None,
) -> None:
    """The monthly P&L statement: gross sales down to net profit, with margins."""
    if by is not None and by != "store":
        raise typer.BadParameter(f"the P&L splits by store only, not {by!r}", param_hint="--by")
    if by is not None and store is not None:
        raise typer.BadParameter("give --by store or --store, not both", param_hint="--store")
    with read_warehouse(db, _value(engine)) as con:
        segment = store_segment(con, store)
        first, last = _month_range(con, from_, to, segment)
        table_rates = rates_of(rates)
        if by == "store":
            statement = pnl_by_store(con, first, last, rates=table_rates)
        else:
            statement = pnl_statement(con, first, last, segment=segment, rates=table_rates)
        unknown_money = currency_unknown(con, [n for n, _, _ in PNL_LINES], segment, None, table_rates)
    kind = _value(format)
    if kind == "json":
        document = {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}", "rows": json_rows(statement)}
        if by:
            document["by"] = by
        if unknown_money:
            document["unknown"] = unknown_money
        print_json(document)
    elif kind == "csv":
        print_csv(statement)
    elif by == "store":
        print_table(_store_pnl_table(statement, first, last))
        _print_currency_note(unknown_money)
    else:
        table = Table(title=f"P&L {first:%Y-%m} – {last:%Y-%m}", title_justify="left")
        table.add_column("line")
        months = statement.get_column("month").to_list()
        partial = statement.get_column("partial").to_list()
        for month, short in zip(months, partial, strict=True):
            table.add_column(month + ("*" if short else ""), justify="right")
        for name, sign, subtotal in PNL_LINES:
            label = ("− " if sign < 0 else "  ") + METRICS[name].label_en
            values = [format_value(name, v) for v in statement.get_column(name).to_list()]
            style = "bold" if subtotal else ("italic" if sign == 0 else None)
            table.add_row(label, *values, style=style)
        print_table(table)
        for row in statement.filter(pl.col("partial")).iter_rows(named=True):
            typer.echo(
                f"* {row['month']} is partial: {row['days_with_data']} of {row['days']} days have data "
                "(operating expenses pro-rated by those days)"
            )


def _store_pnl_table(statement: pl.DataFrame, first: date, last: date) -> Table:
    """The P&L by store: lines down, a column per month and store (then shared expenses and the total)."""
    table = Table(title=f"P&L by store {first:%Y-%m} – {last:%Y-%m}", title_justify="left")
    table.add_column("line")
    keys = list(zip(statement["month"].to_list(), statement["store"].to_list(), strict=True))
    for month, store in keys:
        table.add_column(f"{month} {store}", justify="right")
    for name, sign, subtotal in PNL_LINES:
        label = ("− " if sign < 0 else "  ") + METRICS[name].label_en
        values = [format_value(name, v) for v in statement.get_column(name).to_list()]
        style = "bold" if subtotal else ("italic" if sign == 0 else None)
        table.add_row(label, *values, style=style)
    return table


def _print_currency_note(unknown_money: dict[str, str]) -> None:
    if unknown_money:
        typer.echo(f"— total: {next(iter(unknown_money.values()))}")


def cohorts(
    format: FormatOption = OutputFormat.table,
    store: StoreOption = None,
    db: DbOption = None,
    engine: EngineOption = None,
) -> None:
    """The cohort retention matrix: customers by month of first order, share ordering again k months later."""
    with read_warehouse(db, _value(engine)) as con:
        matrix = cohort_retention(con, segment=store_segment(con, store))
    kind = _value(format)
    if kind == "json":
        print_json({"rows": json_rows(matrix)})
        return
    width = max((len(r) for r in matrix.get_column("retention").to_list()), default=0)
    wide = matrix.select(
        "cohort",
        "customers",
        *[pl.col("retention").list.get(k, null_on_oob=True).alias(f"m{k}") for k in range(width)],
    )
    if kind == "csv":
        print_csv(wide)
        return
    table = Table(title="Cohort retention (share of the cohort ordering in month k)", title_justify="left")
    table.add_column("cohort")
    table.add_column("customers", justify="right")
    for k in range(width):
        table.add_column(f"m{k}", justify="right")
    for row in wide.iter_rows():
        cells = ["" if v is None else RATE.text(v, style="whole") for v in row[2:]]
        table.add_row(row[0], COUNT.text(row[1]), *cells)
    print_table(table)
