"""Which column of an export is which canonical column (by name, or as `--map` / a mapping file says), and how the
export writes its values where it differs from SPEC §2 (ValueFormat: decimal comma, date formats, own words)."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.common import IngestError
from warehouse import TABLES, Table


@dataclass(frozen=True)
class ValueFormat:
    """How an export writes its values, where it differs from SPEC §2: decimal comma, date formats, own vocabulary."""

    decimal_comma: bool = False  # 1.234,56: '.' (or a space) groups thousands, ',' is the decimal mark
    date_formats: tuple[str, ...] = ()  # strptime formats tried before ISO-8601, e.g. '%d/%m/%Y %H:%M'
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column → {export value → canonical value}


@dataclass
class SavedMapping:
    """A mapping file (`--mapping FILE.toml`) saved for one source's exports: everything `shopkpi ingest` needs."""

    path: Path
    table: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical column → the export's column
    encoding: str | None = None
    delimiter: str | None = None
    value_format: ValueFormat = field(default_factory=ValueFormat)


_MAPPING_KEYS = {"table", "columns", "encoding", "delimiter", "decimal_comma", "date_format", "values"}


def load_mapping(path: Path) -> SavedMapping:
    """Reads a mapping file; raises IngestError with one line naming the file and the key that is wrong.

    ```toml
    table = "orders"                 # optional: the table this mapping is for
    encoding = "gbk"                 # optional, like --encoding
    delimiter = ";"                  # optional, like --delimiter
    decimal_comma = true             # optional: 1.234,56
    date_format = "%d.%m.%Y %H:%M"   # optional: one strptime format or a list of them
    [columns]                        # canonical column = "the export's column"
    order_id = "Auftragsnummer"
    [values.status]                  # optional: the export's own values of an enumerated column
    "Versendet" = "shipped"
    ```
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the mapping file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise IngestError(f"{path}: not a valid TOML mapping file ({exc})") from exc
    unknown = sorted(set(data) - _MAPPING_KEYS)
    if unknown:
        known = ", ".join(sorted(_MAPPING_KEYS))
        raise IngestError(f"{path}: unknown key {', '.join(unknown)}; a mapping file has {known}")

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise IngestError(f'{path}: {key} must be a string, e.g. {key} = "..."')
        return value

    table = text("table")
    if table is not None and table.lower() not in TABLES:
        raise IngestError(f"{path}: table = {table!r} is not one of {', '.join(TABLES)}")
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise IngestError(f'{path}: [columns] must hold lines like order_id = "Order No."')
    formats = data.get("date_format", [])
    formats = [formats] if isinstance(formats, str) else formats
    if not isinstance(formats, list) or not all(isinstance(f, str) and "%" in f for f in formats):
        raise IngestError(f'{path}: date_format must be a strptime format or a list of them, e.g. "%d/%m/%Y %H:%M"')
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in values.values()
    ):
        raise IngestError(f'{path}: [values.COLUMN] must hold lines like "Versendet" = "shipped"')
    decimal_comma = data.get("decimal_comma", False)
    if not isinstance(decimal_comma, bool):
        raise IngestError(f"{path}: decimal_comma must be true or false")
    return SavedMapping(
        path,
        table.lower() if table else None,
        {k.lower(): v for k, v in columns.items()},
        text("encoding"),
        text("delimiter"),
        ValueFormat(decimal_comma, tuple(formats), {k.lower(): dict(m) for k, m in values.items()}),
    )


def _normalise_header(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def map_columns(path: Path, table: Table, columns: list[str], column_map: dict[str, str]) -> tuple[dict, list]:
    """Canonical column → file column, and the file's columns that map to nothing (ignored)."""
    by_name: dict[str, str] = {}
    for column in columns:
        key = _normalise_header(column)
        if key in by_name:
            raise IngestError(f"{path}: columns {by_name[key]!r} and {column!r} have the same name; rename one")
        by_name[key] = column
    canonical = {c.name for c in table.columns}
    unknown = sorted(set(column_map) - canonical)
    if unknown:
        raise IngestError(
            f"{path}: --map names {', '.join(unknown)}, not columns of {table.name} "
            f"({', '.join(c.name for c in table.columns)})"
        )
    mapping: dict[str, str] = {}
    for target, source in column_map.items():
        found = by_name.get(_normalise_header(source))
        if found is None:
            raise IngestError(
                f"{path}: --map {target}={source}: the file has no column {source!r} (file has: {_listing(columns)})"
            )
        mapping[target] = found
    taken = set(mapping.values())
    for col in table.columns:
        if col.name not in mapping and col.name in by_name and by_name[col.name] not in taken:
            mapping[col.name] = by_name[col.name]
    missing = [name for name in table.required if name not in mapping]
    if missing:
        free = [c for c in columns if c not in mapping.values()]
        hint = _map_hints(missing, free)
        optional = [c.name for c in table.columns if not c.required and c.name not in mapping]
        raise IngestError(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for table "
            f"{table.name}; rename the column or pass {hint} "
            f"(optional columns not mapped: {', '.join(optional) or 'none'}; file has: {_listing(columns)})"
        )
    used = set(mapping.values())
    ignored = [column for column in columns if column not in used]
    return mapping, ignored


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c) if c != c.strip() or "," in c else c for c in columns[:60])
    return shown + (f", … ({len(columns)} columns)" if len(columns) > 60 else "")


def _map_hints(missing: list[str], free: list[str]) -> str:
    """`--map canonical=COLUMN` for each missing column, naming the file's closest column where one is close.

    Each file column is guessed for at most one canonical column, the closest pairs first.
    """
    squashed = {_normalise_header(c).replace(" ", "_").replace("-", "_"): c for c in free}
    pairs = sorted(
        (
            (difflib.SequenceMatcher(None, name, key).ratio(), index, key)
            for index, name in enumerate(missing)
            for key in squashed
        ),
        reverse=True,
    )
    guesses: dict[str, str] = {}
    for ratio, index, key in pairs:
        if ratio >= 0.6 and missing[index] not in guesses and squashed[key] not in guesses.values():
            guesses[missing[index]] = squashed[key]
    hints = []
    for name in missing:
        guess = guesses.get(name, "COLUMN")
        quoted = any(ch in guess for ch in " '\"$;&|<>()")
        hints.append(f"--map '{name}={guess}'" if quoted else f"--map {name}={guess}")
    return " ".join(hints)
