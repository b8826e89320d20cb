"""The bottom layer: the warehouse's canonical tables (`warehouse.schema`) and the DuckDB file that holds them,
read beside a writer (`warehouse.store`). pipelines/ and metrics/ build on it; it imports neither."""

from warehouse.schema import (
    DEVICES,
    EVENT_TYPES,
    LEDGER_DDL,
    MONEY,
    SCHEMA_VERSION,
    STATUSES,
    TABLES,
    VALID_STATUSES,
    Column,
    Table,
    table_ddl,
)
from warehouse.store import (
    MIGRATIONS,
    Reader,
    WarehouseError,
    open_read_only,
    replace_with,
    schema_version,
    store_settings,
    writing,
)

__all__ = [
    "DEVICES",
    "EVENT_TYPES",
    "LEDGER_DDL",
    "MIGRATIONS",
    "MONEY",
    "SCHEMA_VERSION",
    "STATUSES",
    "TABLES",
    "VALID_STATUSES",
    "Column",
    "Reader",
    "Table",
    "WarehouseError",
    "open_read_only",
    "replace_with",
    "schema_version",
    "store_settings",
    "table_ddl",
    "writing",
]
