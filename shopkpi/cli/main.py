"""The `shopkpi` command line (SPEC §5): exit 0 on success, 1 on a data or file error, 2 on wrong usage."""

from __future__ import annotations

import importlib
import shutil
import sys
import time
from collections.abc import Iterator, MutableMapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from metrics.rollups import build_rollups
from pipelines.ingest import FileResult, IngestError, ingest_file
from shopkpi.cli.common import (
    DbOption,
    DelayedProgress,
    PlatformOption,
    RollupsAfterLoad,
    StoreLoadOption,
    check_store,
    err,
    fail,
    keep_rollups,
    out,
    progress_bar,
)
from shopkpi.cli.imports import DateFormatOption, DecimalCommaOption, MappingOption, ingest_options
from shopkpi.settings import SettingsError, load_settings
from warehouse import SCHEMA_VERSION, TABLES, WarehouseError, replace_with, writing

# The commands defined in the other modules, in the order `shopkpi --help` lists them after this module's: each is
# imported when it runs (or when the help lists it), as "module:attribute" (a command function or a Typer of
# subcommands). Most import polars or numpy, which would double the start of a one-file `shopkpi ingest`
# (issue 14, tests/cli/test_lazy_imports.py).
LATER_COMMANDS = {
    "import": "shopkpi.cli.imports:import_",
    "kpis": "shopkpi.cli.kpis:kpis",
    "pnl": "shopkpi.cli.kpis:pnl",
    "cohorts": "shopkpi.cli.kpis:cohorts",
    "export-lake": "shopkpi.cli.lake:export_lake",
    "rollups": "shopkpi.cli.rollups:rollups",
    "segments": "shopkpi.cli.customers:segments",
    "forecast": "shopkpi.cli.forecast:forecast",
    "alerts": "shopkpi.cli.forecast:alerts",
    "report": "shopkpi.cli.report:report",
    "users": "shopkpi.cli.users:app",
}
Command = TyperCommand | TyperGroup  # typer carries its own click: its commands are not the click package's


def later_command(name: str) -> Command:
    """The click command `name` of LATER_COMMANDS, its module imported now."""
    module, _, attribute = LATER_COMMANDS[name].partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        command = typer.main.get_group(found)  # as add_typer would: no completion options of its own
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class Commands(MutableMapping[str, Command]):
    """The root group's commands: this module's, then LATER_COMMANDS', each built the first time it is looked up."""

    def __init__(self, built: dict[str, Command]) -> None:
        self.built = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self.built and name in LATER_COMMANDS:
            self.built[name] = later_command(name)
        return self.built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.built
        yield from (name for name in LATER_COMMANDS if name not in self.built)

    def __len__(self) -> int:
        return len(self.built.keys() | LATER_COMMANDS.keys())


class LazyGroup(TyperGroup):
    """typer's group over `Commands`: the names (for the usage errors' suggestions) without importing a command."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = Commands(self.commands)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(self.commands)  # TyperGroup's reads .items(), which would build every command


app = typer.Typer(
    cls=LazyGroup,
    add_completion=False,
    no_args_is_help=True,
    help="E-commerce operations KPIs: load exports into a DuckDB warehouse, compute KPIs, serve the dashboard.",
    pretty_exceptions_enable=False,
)


def run_ingest(db_path: Path, table: str, files: list[Path], **options) -> list[FileResult]:
    """Loads files one by one with a progress bar each, printing each file's row accounting."""
    results = []
    rollups = RollupsAfterLoad()  # built with the last file, published with it
    for number, path in enumerate(files, start=1):
        progress = DelayedProgress(f"{Path(path).name}")
        then = rollups if number == len(files) else None
        try:
            result = ingest_file(db_path, table, path, progress=progress, then=then, **options)
        finally:
            progress.close()
        out.print(result.summary(), markup=False, soft_wrap=True)
        results.append(result)
    rollups.say()
    keep_rollups(db_path)
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
    store: StoreLoadOption = None,
    platform: PlatformOption = None,
    db: DbOption = None,
) -> None:
    """Load export files into one canonical table, printing the row accounting of each file."""
    if table.lower() not in TABLES:
        raise typer.BadParameter(f"{table!r} is not one of {', '.join(TABLES)}", param_hint="TABLE")
    store, platform = check_store(store, platform)
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
            limits=settings.limits,
            store=store,
            platform=platform,
            **options,
        )
    except (IngestError, WarehouseError) as exc:
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
    with progress_bar(disable=not err.is_terminal) as bar:
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
        # Smallest files first: each load copies the warehouse, so the big ones are best copied fewest times; the
        # tickets and returns after the orders they name.
        tables = sorted(
            ((t, p) for t, paths in files.items() for p in paths),
            key=lambda item: (item[0] in ("tickets", "returns"), item[1].stat().st_size),
        )
        try:
            for index, (table, path) in enumerate(tables):
                bar.update(task, completed=0.5 + 0.5 * index / len(tables), description=f"loading {table}")
                result = ingest_file(fresh, table, path, store_timezone=DEMO_TIMEZONE, currency="CNY")
                if result.rejected:
                    raise fail(f"demo file {path} had {result.rejected} rejected rows: this is a bug in the demo")
            with writing(fresh, store_timezone=DEMO_TIMEZONE, currency="CNY") as con:
                build_rollups(con)  # once, after the loads (later loads keep them up to date)
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
    from shopkpi.cli.serve import DashboardMissingError, LoginRequiredError
    from shopkpi.cli.serve import serve as run_server

    settings = load_settings(db)
    try:
        code = run_server(settings.db_path, port=port, require_login=require_login)
    except (LoginRequiredError, DashboardMissingError) as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command()
def upgrade(db: DbOption = None) -> None:
    """Upgrade a warehouse made by an older shopkpi to this version's schema."""
    settings = load_settings(db)
    if not settings.db_path.exists():
        raise fail(f"no warehouse at {settings.db_path}")
    try:
        # writing() checks the whole file (empty, foreign, truncated) before anything is called up to date. A spinner
        # in a terminal: a year of a busy shop takes about a minute (v4 → v5 and the rollups of 49 M events: 58 s).
        with err.status(f"upgrading {settings.db_path} and rebuilding its rollups…"), writing(settings.db_path) as con:
            build_rollups(con)  # the daily rollups, rebuilt from the tables (metrics/rollups.py)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    out.print(f"{settings.db_path} is up to date (schema v{SCHEMA_VERSION})")


def main() -> None:
    """Entry point of the `shopkpi` console script."""
    try:
        app()
    except SettingsError as exc:  # a bad shopkpi.toml or SHOPKPI_* value: one line, whichever command read it
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted: the warehouse is unchanged by the file in progress")
        sys.exit(130)
