"""The lake: the warehouse's canonical tables as Parquet files that a Spark cluster reads, with a manifest.

Layout (one folder per table; dated tables split by the month of their date, so that each file holds one month):

    LAKE/shopkpi-lake.json                         the manifest: format, schema version, store facts, row counts,
                                                   and the stores table (store, platform, currency)
    LAKE/orders/month=2024-03/data_0.parquet       orders by the month of ordered_at
    LAKE/sessions/month=…, events/month=…          by started_at, occurred_at
    LAKE/ad_spend/month=…, inventory/month=…       by date
    LAKE/tickets/month=…, returns/month=…          by opened_at, returned_at
    LAKE/traffic/month=…                           by date (the first day a platform report's row covers)
    LAKE/order_items/, products/, expenses/        not split (no date of their own, or small)

A query that filters on `month` skips other months' folders without listing them; shopkpi's own queries filter on
the timestamp itself, which Spark pushes down to the Parquet footers, so a file of another month is skipped after
reading its footer. Types are the warehouse's (money DECIMAL(18,2), timestamps without time zone, in store time).

A lake is written aside and published in one rename, so that a reader never sees half of one; the manifest's counts
are the warehouse's, checked against what was written. A lake of another schema version is refused, never guessed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.schema import SCHEMA_VERSION, TABLES
from warehouse.store import WarehouseError, open_read_only, store_settings

MANIFEST = "shopkpi-lake.json"
FORMAT = "shopkpi-lake"
PARTITION = "month"

# The column whose month splits each dated table; the other tables are written whole.
DATE_COLUMNS = {
    "orders": "ordered_at",
    "sessions": "started_at",
    "events": "occurred_at",
    "ad_spend": "date",
    "inventory": "date",
    "tickets": "opened_at",
    "returns": "returned_at",  # a return without its date: month=__HIVE_DEFAULT_PARTITION__ (null to Spark, Hive)
    "traffic": "date",  # a platform report's rows by the first day they cover
}


class LakeError(WarehouseError):
    """A lake that cannot be written or read, explained in one line for the user."""


@dataclass(frozen=True)
class Manifest:
    """What a lake holds: its schema version, the store's time zone and currency, and each table's row count."""

    schema_version: int
    timezone: str
    currency: str
    rows: dict[str, int]
    written_at: str
    # The stores table (store, platform, currency), a handful of rows: in the manifest rather than its own folder.
    # The currency rule (metrics/currency.py) reads it on either engine, so money of stores in different currencies
    # is never added up on Spark either.
    stores: tuple[tuple[str, str, str], ...] = ()

    def to_json(self) -> str:
        document = {
            "format": FORMAT,
            "schema_version": self.schema_version,
            "timezone": self.timezone,
            "currency": self.currency,
            "written_at": self.written_at,
            "stores": [list(row) for row in self.stores],
            "tables": {
                name: {"rows": self.rows[name], "partitioned_by": PARTITION if name in DATE_COLUMNS else None}
                for name in TABLES
            },
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def table_path(lake: Path, table: str) -> Path:
    """The folder of one table in the lake."""
    return Path(lake) / table


def export_lake(db_path: Path, lake: Path) -> Manifest:
    """Writes every canonical table of the warehouse at `db_path` into a lake at `lake` and returns its manifest.

    `lake` must be a new or empty folder, or a lake written earlier (which is replaced whole). Raises LakeError if
    the folder holds something else, cannot be written, or the files written hold other row counts than the
    warehouse.
    """
    lake = Path(lake)
    _check_target(lake)
    con = open_read_only(db_path)
    aside = lake.with_name(f".{lake.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir(parents=True)
        settings = store_settings(con)
        rows = {name: _write_table(con, name, table_path(aside, name)) for name in TABLES}
        manifest = Manifest(
            schema_version=SCHEMA_VERSION,
            timezone=settings["timezone"],
            currency=settings["currency"],
            rows=rows,
            written_at=datetime.now(UTC).isoformat(timespec="seconds"),
            stores=tuple(con.sql("select store, platform, currency from stores order by store").fetchall()),
        )
        (aside / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        _publish(aside, lake)
    except OSError as exc:
        raise LakeError(f"cannot write the lake at {lake}: {exc.strerror or type(exc).__name__}") from None
    except duckdb.Error as exc:
        raise LakeError(f"cannot write the lake at {lake}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
        shutil.rmtree(aside, ignore_errors=True)
    return manifest


def _check_target(lake: Path) -> None:
    if lake.exists() and not lake.is_dir():
        raise LakeError(f"{lake} is a file, not a folder: choose another path for the lake")
    if lake.is_dir() and any(lake.iterdir()) and not (lake / MANIFEST).is_file():
        raise LakeError(f"{lake} is not empty and holds no shopkpi lake ({MANIFEST}): choose a new or empty folder")


def _write_table(con: duckdb.DuckDBPyConnection, name: str, folder: Path) -> int:
    """Writes one table as Parquet under `folder` (split by month if dated) and returns its row count, after checking
    that the files hold as many rows as the warehouse."""
    expected = con.sql(f"select count(*) from {name}").fetchall()[0][0]
    columns = ", ".join(column.name for column in TABLES[name].columns)
    date_column = DATE_COLUMNS.get(name)
    # The path is a bound parameter; table and column names come from warehouse.schema only.
    if date_column is None:
        folder.mkdir(parents=True)
        con.execute(
            f"copy (select {columns} from {name}) to (?) (format parquet)",
            [str(folder / "data_0.parquet")],
        )
    else:
        # Sorted by date, so that each file's row groups cover short spans and their statistics skip well.
        con.execute(
            f"copy (select {columns}, strftime({date_column}, '%Y-%m') as {PARTITION} from {name} "
            f"order by {date_column}) to (?) (format parquet, partition_by ({PARTITION}))",
            [str(folder)],
        )
        folder.mkdir(parents=True, exist_ok=True)  # an empty table writes no folder
    written = 0
    if any(folder.rglob("*.parquet")):
        files = str(folder / "**" / "*.parquet")
        written = con.sql("select count(*) from read_parquet($files)", params={"files": files}).fetchall()[0][0]
    if written != expected:
        raise LakeError(f"the lake's {name} holds {written:,} rows, the warehouse {expected:,}: write it again")
    return expected


def _publish(aside: Path, lake: Path) -> None:
    """Puts the written lake in place of the old one (a lake, or an empty folder) with as short a gap as renames
    allow."""
    if lake.exists():
        old = lake.with_name(f".{lake.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(lake, old)
        os.replace(aside, lake)
        shutil.rmtree(old, ignore_errors=True)
    else:
        lake.parent.mkdir(parents=True, exist_ok=True)
        os.replace(aside, lake)


def read_manifest(lake: Path) -> Manifest:
    """The manifest of the lake at `lake`; raises LakeError (one line) if there is none or it was written by a
    shopkpi of another schema version."""
    lake = Path(lake)
    path = lake / MANIFEST
    if not lake.is_dir():
        raise LakeError(f"no lake at {lake}: write one with `shopkpi export-lake {lake}`")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LakeError(f"{lake} is not a shopkpi lake (no {MANIFEST}): write one with `shopkpi export-lake`") from None
    except (OSError, ValueError) as exc:
        raise LakeError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise LakeError(f"{path} is not a shopkpi lake manifest: write the lake again with `shopkpi export-lake`")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise LakeError(
            f"the lake at {lake} was written by a shopkpi of schema v{version}, this one reads v{SCHEMA_VERSION}: "
            f"write it again with `shopkpi export-lake {lake}`"
        )
    tables = document.get("tables") or {}
    missing = [name for name in TABLES if name not in tables or not table_path(lake, name).is_dir()]
    if missing:
        raise LakeError(f"the lake at {lake} has no {', '.join(missing)}: write it again with `shopkpi export-lake`")
    return Manifest(
        schema_version=version,
        timezone=document.get("timezone", "UTC"),
        currency=document.get("currency", ""),
        rows={name: int(tables[name]["rows"]) for name in TABLES},
        written_at=document.get("written_at", ""),
        stores=tuple(tuple(row) for row in document.get("stores", [])),
    )


__all__ = ["DATE_COLUMNS", "MANIFEST", "LakeError", "Manifest", "export_lake", "read_manifest", "table_path"]
