"""The `shopkpi export-lake` command: the warehouse's canonical tables as a Parquet lake that Spark reads
(warehouse/lake.py says how it is laid out). Registered in shopkpi/cli/main.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopkpi.cli.common import DbOption, fail, out
from shopkpi.settings import load_settings
from warehouse import WarehouseError
from warehouse.lake import export_lake as write_lake


def export_lake(
    path: Annotated[
        Path | None,
        typer.Argument(help="Folder of the lake, new, empty or an earlier lake (default: lake_path / SHOPKPI_LAKE)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the warehouse's tables as Parquet split by month, with a manifest, for `--engine spark`."""
    settings = load_settings(db)
    lake = path or settings.lake_path
    if lake is None:
        raise typer.BadParameter("give the lake's folder, or set lake_path or SHOPKPI_LAKE", param_hint="PATH")
    try:
        manifest = write_lake(settings.db_path, lake)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    counts = ", ".join(f"{name} {rows:,}" for name, rows in manifest.rows.items())
    out.print(f"lake written at {lake} (schema v{manifest.schema_version}): {counts}", markup=False, soft_wrap=True)
