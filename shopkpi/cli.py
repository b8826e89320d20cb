"""The `shopkpi` command line (SPEC §5): exit 0 on success, 1 on a data or file error, 2 on wrong usage."""

from __future__ import annotations

import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from pipelines.ingest import FileResult, IngestError, ingest_file
from shopkpi import cli_forecast, cli_import, cli_metrics, cli_report, cli_users
from shopkpi.cli_import import DateFormatOption, DecimalCommaOption, MappingOption, ingest_options
from shopkpi.settings import load_settings
from shopkpi.warehouse import TABLES, WarehouseError, replace_with, writing

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="E-commerce operations KPIs: load exports into a DuckDB warehouse, compute KPIs, serve the dashboard.",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Warehouse file (default data/shopkpi.duckdb, or env SHOPKPI_DB).")
]


def fail(message: str) -> typer.Exit:
    """Prints one line on stderr and returns the exit for a data or file error (code 1)."""
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(1)


class DelayedProgress:
    """A progress bar on stderr that only appears once the work has taken more than `delay` seconds."""

    def __init__(self, label: str, delay: float = 1.0) -> None:
        self.label = label
        self.delay = delay
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.task = None

    def __call__(self, stage: str, fraction: float) -> None:
        if self.bar is None and time.perf_counter() - self.started > self.delay and err.is_terminal:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0)
        if self.bar is not None:
            self.bar.update(self.task, completed=fraction, description=f"{self.label}: {stage}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_ingest(db_path: Path, table: str, files: list[Path], **options) -> list[FileResult]:
    """Loads files one by one with a progress bar each, printing each file's row accounting."""
    results = []
    for path in files:
        progress = DelayedProgress(f"{Path(path).name}")
        try:
            result = ingest_file(db_path, table, path, progress=progress, **options)
        finally:
            progress.close()
        out.print(result.summary(), markup=False, soft_wrap=True)
        results.append(result)
    return results


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help=f"Canonical table: {', '.join(TABLES)}.")],
    files: Annotated[list[Path], typer.Argument(help="CSV, Parquet or JSON Lines files, optionally .gz.")],
    strict: Annotated[bool, typer.Option("--strict", help="Refuse a file if any of its rows is rejected.")] = False,
    encoding: Annotated[str | None, typer.Option(help="utf-8, gbk or gb18030 (default: detected).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV field separator (default: detected).")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="canonical=source_column, for exports with other column names.")
    ] = None,
    mapping: MappingOption = None,
    decimal_comma: DecimalCommaOption = False,
    date_format: DateFormatOption = None,
    db: DbOption = None,
) -> None:
    """Load export files into one canonical table, printing the row accounting of each file."""
    if table.lower() not in TABLES:
        raise typer.BadParameter(f"{table!r} is not one of {', '.join(TABLES)}", param_hint="TABLE")
    settings = load_settings(db)
    try:
        options = ingest_options(
            table,
            map_=map_,
            mapping=mapping,
            encoding=encoding,
            delimiter=delimiter,
            decimal_comma=decimal_comma,
            date_format=date_format,
        )
        run_ingest(
            settings.db_path,
            table.lower(),
            files,
            strict=strict,
            store_timezone=settings.timezone,
            currency=settings.currency,
            **options,
        )
    except IngestError as exc:
        raise fail(str(exc)) from None


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same shop.")] = 7,
    days: Annotated[int, typer.Option(min=7, help="Days of history, ending yesterday.")] = 730,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Only build the warehouse.")] = False,
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8501,
    db: DbOption = None,
) -> None:
    """Generate a realistic demo shop (export files under data/demo/), load it, then serve the dashboard."""
    from pipelines.demo import DEMO_TIMEZONE, write_demo_files

    settings = load_settings(db)
    started = time.perf_counter()
    out_dir = settings.db_path.parent / "demo"
    shutil.rmtree(out_dir, ignore_errors=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("generating", total=1.0)
        files = write_demo_files(
            out_dir,
            seed=seed,
            days=days,
            end=date.today() - timedelta(days=1),
            progress=lambda stage, done: bar.update(task, completed=0.5 * done, description=f"generating {stage}"),
        )
        generated = time.perf_counter() - started
        # The demo replaces any warehouse at that path: build it aside, then publish it in one step.
        fresh = settings.db_path.with_name(f".{settings.db_path.name}.demo")
        for leftover in (fresh, fresh.with_name(fresh.name + ".lock")):
            leftover.unlink(missing_ok=True)
        # Smallest files first: each load copies the warehouse, so the big ones are best copied fewest times.
        tables = sorted(((t, p) for t, paths in files.items() for p in paths), key=lambda item: item[1].stat().st_size)
        try:
            for index, (table, path) in enumerate(tables):
                bar.update(task, completed=0.5 + 0.5 * index / len(tables), description=f"loading {table}")
                result = ingest_file(fresh, table, path, store_timezone=DEMO_TIMEZONE, currency="CNY")
                if result.rejected:
                    raise fail(f"demo file {path} had {result.rejected} rejected rows: this is a bug in the demo")
            replace_with(settings.db_path, fresh)
        except (IngestError, WarehouseError) as exc:
            raise fail(str(exc)) from None
        finally:
            fresh.with_name(fresh.name + ".lock").unlink(missing_ok=True)
    loaded = time.perf_counter() - started - generated
    out.print(
        f"demo shop: {days} days (seed {seed}) generated in {generated:.1f} s and loaded in {loaded:.1f} s "
        f"into {settings.db_path}",
        markup=False,
    )
    if not no_serve:
        serve(port=port, db=settings.db_path)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8501,
    db: DbOption = None,
    require_login: Annotated[
        bool,
        typer.Option(
            "--require-login",
            help="Refuse to start unless the users file (SHOPKPI_USERS) has a user; the dashboard never runs open.",
        ),
    ] = False,
) -> None:
    """Serve the Streamlit dashboard on the warehouse (read-only; ingests may run beside it)."""
    from shopkpi.serve import LoginRequiredError
    from shopkpi.serve import serve as run_server

    settings = load_settings(db)
    try:
        code = run_server(settings.db_path, port=port, require_login=require_login)
    except LoginRequiredError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command()
def upgrade(db: DbOption = None) -> None:
    """Upgrade a warehouse made by an older shopkpi to this version's schema."""
    settings = load_settings(db)
    if not settings.db_path.exists():
        raise fail(f"no warehouse at {settings.db_path}")
    try:
        with writing(settings.db_path):
            pass
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    out.print(f"{settings.db_path} is up to date")


app.add_typer(cli_users.app, name="users")
app.command("import")(cli_import.import_)
app.command("kpis")(cli_metrics.kpis)
app.command("pnl")(cli_metrics.pnl)
app.command("cohorts")(cli_metrics.cohorts)
app.command("forecast")(cli_forecast.forecast)
app.command("alerts")(cli_forecast.alerts)
app.command("report")(cli_report.report)


def main() -> None:
    """Entry point of the `shopkpi` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: the warehouse is unchanged by the file in progress")
        sys.exit(130)
