"""What every `shopkpi` command shares: the consoles, the --db and --format options, one-line failures (exit 1),
a read-only warehouse connection, JSON/CSV/table output and a progress bar that appears only for long work."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from metrics.currency import Rates, load_rates
from metrics.rollups import build_missing, ensure_rollups
from metrics.segments import ALL, Segment, store_names
from metrics.targets import TargetsError
from shopkpi.settings import load_settings
from warehouse import PLATFORMS, WarehouseError, open_read_only

# Every command imports this module, `shopkpi ingest` too: polars and the reports are imported where a
# command's output needs them (tests/cli/test_lazy_imports.py).
if TYPE_CHECKING:
    import polars as pl

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOption = Annotated[
    Engine | None,
    typer.Option(
        "--engine",
        help="duckdb (the warehouse) or spark (the lake at lake_path / SHOPKPI_LAKE, on spark_master); "
        "default: the engine setting.",
    ),
]
DbOption = Annotated[
    Path | None, typer.Option("--db", help="Warehouse file (default data/shopkpi.duckdb, or env SHOPKPI_DB).")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]
StoreLoadOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store the rows belong to (e.g. tmall, jd, own_site); keys are unique per store. Default: the "
        "warehouse's default store (main).",
    ),
]
PlatformOption = Annotated[
    str | None,
    typer.Option(
        "--platform",
        help=f"The store's platform ({', '.join(PLATFORMS)}), recorded in the stores table; default: the export's "
        "(import), else the one recorded, else other.",
    ),
]


StoreOption = Annotated[
    str | None, typer.Option("--store", help="Only this store's figures (default: every store together).")
]
RatesOption = Annotated[
    Path | None,
    typer.Option(
        "--rates",
        help='Rate table to add up stores in different currencies: TOML (reporting = "CNY", then one line per '
        "currency, GBP = 9.2: one unit in the reporting currency; at the top or under \\[rates]) or CSV "
        "currency,rate (the reporting currency at rate 1). Without one their money figures are null.",
    ),
]


def store_segment(con: duckdb.DuckDBPyConnection, store: str | None) -> Segment:
    """The --store filter as a segment; a store the warehouse does not have is a data error (exit 1)."""
    if store is None:
        return ALL
    known = store_names(con)
    if store not in known:
        raise DataError(f"no store {store!r} in the warehouse; its stores: {', '.join(known) or 'none'}")
    return Segment(store=store)


def no_data(segment: Segment, give: str = "--from and --to") -> DataError:
    """The error of a default period on a warehouse (or store) without data."""
    who = "the warehouse" if segment.store is None else f"store {segment.store!r}"
    return DataError(f"{who} has no orders, sessions, ad spend or traffic yet: give {give}")


def rates_of(path: Path | None) -> Rates | None:
    """The --rates table, if given (a file problem is a data error, exit 1)."""
    return load_rates(path) if path is not None else None


def check_store(store: str | None, platform: str | None) -> tuple[str | None, str | None]:
    """The --store and --platform of a load, trimmed and checked (wrong usage: exit 2)."""
    store = store.strip() if store is not None else None
    if store == "":
        raise typer.BadParameter("a store needs a name", param_hint="--store")
    if platform is not None and platform.strip().lower() not in PLATFORMS:
        raise typer.BadParameter(f"{platform!r} is not one of {', '.join(PLATFORMS)}", param_hint="--platform")
    return store, platform.strip().lower() if platform is not None else None


class RollupsAfterLoad:
    """ingest_file's `then` for a command's last file: builds the warehouse's daily rollups where they are missing or
    another version built them (metrics/rollups.py), in that load's writer, and says so (a warehouse's first load;
    later loads keep them in step themselves)."""

    def __init__(self) -> None:
        self.seconds: float | None = None  # how long the build took; None: nothing was built

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.seconds = build_missing(con)

    def say(self) -> None:
        if self.seconds is not None:
            _say_built(self.seconds)


def keep_rollups(db_path: Path) -> None:
    """After loads: builds the warehouse's daily rollups where they are still missing or another version built them
    (a load that could not, e.g. the last file was loaded already), saying so."""
    seconds = ensure_rollups(db_path)
    if seconds is not None:
        _say_built(seconds)


def _say_built(seconds: float) -> None:
    out.print(f"built the daily rollups the KPIs are summed from in {seconds:.1f} s; later loads keep them in step")


def fail(message: str) -> typer.Exit:
    """Prints one line on stderr and returns the exit for a data or file error (code 1)."""
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(1)


class DataError(Exception):
    """A data or file problem, told to the user in one line (exit 1)."""


def _open(db: Path | None, engine: str | None) -> duckdb.DuckDBPyConnection:
    settings = load_settings(db)
    engine = str(engine or settings.engine)
    if engine == "spark":
        from warehouse.spark import connect_lake

        if settings.lake_path is None:
            raise WarehouseError("the spark engine reads a lake: set lake_path (shopkpi.toml) or SHOPKPI_LAKE")
        return connect_lake(settings.lake_path, settings.spark_master)
    if engine != "duckdb":
        raise WarehouseError(f"unknown engine {engine!r} (shopkpi.toml, SHOPKPI_ENGINE): use duckdb or spark")
    return open_read_only(settings.db_path)


@contextlib.contextmanager
def read_warehouse(db: Path | None, engine: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse, or to the lake on Spark (`engine`, default the settings'); any data
    or file error ends the command with exit 1."""
    try:
        con = _open(db, engine)
    except (WarehouseError, duckdb.Error, OSError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    try:
        yield con
    except (DataError, WarehouseError, TargetsError, ValueError, duckdb.Error) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    finally:
        con.close()


def json_value(value: object) -> object:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def json_rows(frame: pl.DataFrame) -> list[dict]:
    return [{key: json_value(value) for key, value in row.items()} for row in frame.iter_rows(named=True)]


def print_json(document: dict) -> None:
    print(json.dumps(document, ensure_ascii=False, allow_nan=False))


def print_csv(frame: pl.DataFrame) -> None:
    from shopkpi.reports.cells import csv_bytes

    # Campaign and product names come from user data: formula-like text is made inert for spreadsheets.
    sys.stdout.write(csv_bytes(frame).decode("utf-8"))


def print_table(table: Table) -> None:
    # Wide tables (many groups, months or cohorts) keep their columns whole rather than squeezed to 80 characters.
    width = max(out.width, out.measure(table, options=out.options.update(max_width=10_000)).maximum)
    Console(highlight=False, width=width).print(table)


def progress_bar(disable: bool = False) -> Progress:
    """The commands' progress bar on stderr: what is being done, the bar, the share done and the time taken."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=disable,
    )


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
            self.bar = progress_bar()
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0)
        if self.bar is not None:
            self.bar.update(self.task, completed=fraction, description=f"{self.label}: {stage}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
