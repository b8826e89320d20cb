"""The `shopkpi rollups` command: the rollups the KPIs are summed from, and the choice of the splits whose visitors
are counted from spans and of whether visitors are kept numbered (metrics/rollups.py). Registered in
shopkpi/cli/main.py."""

from __future__ import annotations

import tempfile
import time
from typing import Annotated

import typer

from metrics.compute import SPLIT_SPANS
from metrics.rollups import (
    build_rollups,
    checked_splits,
    choose_visitor_numbers,
    choose_visitor_splits,
    keeps_visitor_numbers,
    visitor_splits,
)
from metrics.status import rollup_overview
from shopkpi.cli.common import DbOption, err, fail, out
from shopkpi.settings import load_settings
from warehouse import WarehouseError, open_read_only, writing
from warehouse.rollups import RollupCheck, check_rollups, has_rollups
from warehouse.schema import VISITOR_NUMBERS

VisitorSplitsOption = Annotated[
    str | None,
    typer.Option(
        "--visitor-splits",
        help=(
            "The splits whose visitors the warehouse keeps spans of (comma-separated among "
            f"{', '.join(SPLIT_SPANS)}, or none): a year split by one of them is counted in a tenth of a second "
            "instead of seconds, for about 3 s more per split on a first load of 10 M sessions and 0.6 s on a day's."
        ),
    ),
]

VisitorNumbersOption = Annotated[
    str | None,
    typer.Option(
        "--visitor-numbers",
        help=(
            "on (the default): keep every visitor numbered and a rollup of the visitors by day, dimensions and "
            "number, from which the visitors of the whole shop and of any split by source, medium, campaign, device "
            "or store under any filter on them are counted in a tenth of a second for a year (3.6 s of a first load "
            "of 10 M sessions); off: keep the whole shop's visitors' spans instead (1.2 s), splits counted over the "
            "sessions."
        ),
    ),
]

CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help=(
            "Compare every rollup with its query computed whole, as a rebuild would make it (about 30 s for a year of "
            "10 M sessions; read-only, loads may run beside it); exit 1 if any differs."
        ),
    ),
]

RebuildOption = Annotated[
    bool,
    typer.Option(
        "--rebuild",
        help="Rebuild every rollup whole from the tables (about 16 s for a year of 10 M sessions); loads wait for it.",
    ),
]


def rollups(
    db: DbOption = None,
    splits: VisitorSplitsOption = None,
    numbers: VisitorNumbersOption = None,
    check: CheckOption = False,
    rebuild: RebuildOption = False,
) -> None:
    """The rollups the KPIs are summed from: their rows, which splits' visitors' spans are kept and whether visitors
    are kept numbered (a new warehouse is made with the choice, for its first load to build them); --check compares
    them with a rebuild, --rebuild rebuilds them."""
    settings = load_settings(db)
    existed = settings.db_path.exists()
    if not existed and ((splits is None and numbers is None) or check or rebuild):
        raise fail(f"no warehouse at {settings.db_path}")
    if numbers is not None and numbers.lower() not in ("on", "off"):
        raise typer.BadParameter(f"{numbers!r}: choose on or off", param_hint="--visitor-numbers")
    if splits is not None or numbers is not None:
        names = None
        if splits is not None:
            names = [] if splits.strip().lower() == "none" else splits.split(",")
            try:
                checked_splits(names)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--visitor-splits") from None
        started = time.perf_counter()
        made = writing(settings.db_path, store_timezone=settings.timezone, currency=settings.currency)
        try:
            with err.status("building the visitors' rollups…"), made as con:
                if names is not None:
                    choose_visitor_splits(con, names)
                if numbers is not None:
                    choose_visitor_numbers(con, numbers.lower() == "on")
                if existed:
                    build_rollups(con, rebuild=False)  # builds the new rollups, drops those no longer kept
        except WarehouseError as exc:
            raise fail(str(exc)) from None
        seconds = time.perf_counter() - started
        out.print(f"rollups brought in step in {seconds:.1f} s" if existed else f"made {settings.db_path}")
    if rebuild:
        _rebuild(settings)
    if check:
        _check(settings)
        return
    with open_read_only(settings.db_path, brief=True) as con:
        kept, numbered, overview = visitor_splits(con), keeps_visitor_numbers(con), rollup_overview(con)
    for row in overview.iter_rows(named=True):
        stale = "" if row["current"] else "  (built by another version of shopkpi: not read until rebuilt)"
        out.print(f"{row['table']:<28} {row['rows']:>14,} rows{stale}", soft_wrap=True)
    if overview.is_empty():
        out.print("no rollups yet: the first load builds them")
    out.print(f"visitors' spans kept for: {', '.join(kept) or 'none'} (--visitor-splits changes it)", soft_wrap=True)
    state = "on" if numbered else "off"
    out.print(f"visitors numbered: {state} (--visitor-numbers changes it)", soft_wrap=True)


def _rebuild(settings) -> None:
    """Every rollup rebuilt whole from the canonical tables, in one writer."""
    started = time.perf_counter()
    try:
        with (
            err.status("rebuilding every rollup…"),
            writing(settings.db_path, store_timezone=settings.timezone, currency=settings.currency) as con,
        ):
            build_rollups(con)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    out.print(f"every rollup rebuilt in {time.perf_counter() - started:.1f} s")


def _check(settings) -> None:
    """One line per rollup: its rows and whether they are those its query computes whole; exit 1 if any differs."""
    started = time.perf_counter()
    with (
        err.status("comparing every rollup with its query computed whole…"),
        tempfile.TemporaryDirectory(prefix="shopkpi-check-") as spill,
        open_read_only(settings.db_path, brief=True) as con,
    ):
        # A load's memory budget, spilling beyond it to a folder of its own (not the working directory's .tmp).
        con.execute(f"set memory_limit = '{settings.memory_mb}MB'")
        con.execute(f"set temp_directory = '{spill}'")
        checks = check_rollups(con) if has_rollups(con) else []
    if not checks:
        out.print("no rollups yet: the first load builds them")
        return
    for check in checks:
        out.print(f"{check.table:<28} {check.rows:>14,} rows  {_verdict(check)}", soft_wrap=True)
    seconds = time.perf_counter() - started
    differing = [check.table for check in checks if not check.same]
    if differing:
        raise fail(
            f"{len(differing)} of {len(checks)} rollups differ from the tables ({', '.join(differing)}); the metrics "
            f"read them as they are: `shopkpi rollups --rebuild` makes them anew ({seconds:.1f} s checked)"
        )
    out.print(f"all {len(checks)} rollups agree with the tables ({seconds:.1f} s)")


def _verdict(check: RollupCheck) -> str:
    if check.table == VISITOR_NUMBERS:  # numbers are whatever the loads gave: checked for one per visitor
        if check.same:
            return "one number per stored visitor"
        return (
            f"DIFFERS: {check.stored_only:,} numbers given twice, to a visitor numbered twice or to no stored "
            f"visitor, {check.computed_only:,} visitors without one"
        )
    if check.same:
        return "same as a rebuild"
    return f"DIFFERS: {check.stored_only:,} stored rows a rebuild would not keep, {check.computed_only:,} it would add"
