"""`shopkpi import FORMAT PATH` and the extra options of `shopkpi ingest` (--mapping, --decimal-comma, --date-format).

Registered by shopkpi/cli/main.py (LATER_COMMANDS); `ingest_options` turns the ingest options
into the keyword arguments of `ingest_file`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from pipelines.adapters import ADAPTERS, ImportOptions, import_export
from pipelines.adapters.timezones import known_zone
from pipelines.ingest import IngestError, ValueFormat, load_mapping
from shopkpi.cli.common import (
    DelayedProgress,
    PlatformOption,
    RollupsAfterLoad,
    StoreLoadOption,
    check_store,
    fail,
    keep_rollups,
    out,
)
from shopkpi.settings import load_settings
from warehouse import WarehouseError

MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help='TOML file with a saved mapping for this source: [columns] canonical = "export column", and '
        "optionally table, encoding, delimiter, decimal_comma, date_format, [values.status]. --map and the "
        "other options win over it.",
    ),
]
DecimalCommaOption = Annotated[
    bool, typer.Option("--decimal-comma", help="Numbers are written with a decimal comma: 1.234,56.")
]
DateFormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--date-format",
        help="strptime format of the file's dates and times, e.g. '%d/%m/%Y %H:%M' (repeat for several; "
        "ISO-8601 is always accepted).",
    ),
]


def parse_map(pairs: list[str]) -> dict[str, str]:
    """{canonical: export column} from `--map canonical=column` pairs; raises typer.BadParameter (exit 2)."""
    mapping = {}
    for pair in pairs:
        target, sep, source = pair.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise typer.BadParameter(f"{pair!r}: expected canonical=source_column", param_hint="--map")
        mapping[target.strip().lower()] = source.strip()
    return mapping


def ingest_options(
    table: str,
    *,
    map_: list[str] | None = None,
    mapping: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal_comma: bool = False,
    date_format: list[str] | None = None,
) -> dict:
    """Keyword arguments of `ingest_file` for `shopkpi ingest`'s options: a --mapping file, then the options.

    Raises IngestError (exit 1) for an unreadable mapping file or one made for another table.
    """
    saved = load_mapping(mapping) if mapping is not None else None
    if saved and saved.table and saved.table != table.lower():
        raise IngestError(f"{mapping}: this mapping is for table {saved.table}, not {table.lower()}")
    column_map = {**(saved.columns if saved else {}), **parse_map(map_ or [])}
    base = saved.value_format if saved else ValueFormat()
    value_format = ValueFormat(
        decimal_comma or base.decimal_comma,
        tuple(date_format) if date_format else base.date_formats,
        base.values,
    )
    return {
        "column_map": column_map,
        "encoding": encoding or (saved.encoding if saved else None),
        "delimiter": delimiter or (saved.delimiter if saved else None),
        "value_format": value_format,
    }


def import_(
    format_: Annotated[
        str, typer.Argument(metavar="FORMAT", help=f"The export's format: {', '.join(ADAPTERS)}.", show_default=False)
    ],
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="The export file (CSV, .csv.gz or, for online-retail, XLSX), or a folder of them."
        ),
    ],
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the export if any of its rows is rejected.")] = False,
    encoding: Annotated[str | None, typer.Option(help="utf-8, gbk or gb18030 (default: detected).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV field separator (default: detected).")] = None,
    session_gap: Annotated[
        float, typer.Option("--session-gap", min=1, help="clickstream: minutes without a hit that end a session.")
    ] = 30,
    store: StoreLoadOption = None,
    platform: PlatformOption = None,
    date_from: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help="ga4, shopify-channels, sycm: first day of the export's period, when the export does not say it.",
        ),
    ] = None,
    date_to: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day of the export's period (with --from)."),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Time zone of a new warehouse (IANA name, e.g. America/New_York); default: the settings' one, else "
            "read from the export's UTC offsets (Shopify), else the export's usual one. An export whose offsets do "
            "not fit the zone still loads, with a warning."
        ),
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Warehouse file (default data/shopkpi.duckdb, or env SHOPKPI_DB).")
    ] = None,
) -> None:
    """Load a known third-party export into the canonical tables, printing the row accounting of each table."""
    name = format_.lower()
    if name not in ADAPTERS:
        raise typer.BadParameter(f"{format_!r} is not one of {', '.join(ADAPTERS)}", param_hint="FORMAT")
    if timezone is not None and not known_zone(timezone):
        raise typer.BadParameter(f"{timezone!r} is not an IANA time zone (e.g. Europe/London)", param_hint="--timezone")
    store, platform = check_store(store, platform)
    settings = load_settings(db)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    if not files:
        raise fail(f"{path}: the folder has no files")
    options = ImportOptions(
        encoding=encoding,
        delimiter=delimiter,
        session_gap_minutes=session_gap,
        store=store or "",
        platform=platform,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        limits=settings.limits,
    )
    # A configured time zone (shopkpi.toml or SHOPKPI_TIMEZONE) is a choice; the built-in UTC default is not.
    chosen_timezone = timezone or (settings.timezone if settings.timezone != "UTC" else None)
    rollups = RollupsAfterLoad()  # built with the last file's last table, published with it
    for number, file in enumerate(files, start=1):
        progress = DelayedProgress(file.name)
        try:
            result = import_export(
                settings.db_path,
                name,
                file,
                options=options,
                strict=strict,
                store_timezone=chosen_timezone,
                currency=settings.currency if settings.currency != "CNY" else None,
                progress=progress,
                then=rollups if number == len(files) else None,
            )
        except IngestError as exc:
            raise fail(str(exc)) from None
        finally:
            progress.close()
        out.print(result.summary(), markup=False, soft_wrap=True)
    rollups.say()
    try:
        keep_rollups(settings.db_path)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
