"""Import adapters: known third-party exports (`shopkpi import FORMAT PATH`) turned into canonical tables.

Each adapter module has NAME, SUMMARY and `build(con, path, workdir, options) -> Plan`; `import_export` runs one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import duckdb

from pipelines.adapters import clickstream, ga4, jd, online_retail, pinduoduo, shopify, shopify_channels, sycm, taobao
from pipelines.adapters.common import ImportOptions, ImportResult, Progress, run_import
from pipelines.ingest import IngestError

ADAPTERS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (online_retail, shopify, taobao, clickstream, ga4, shopify_channels, sycm, pinduoduo, jd)
}


def import_export(
    db_path: Path,
    format_name: str,
    path: Path,
    *,
    options: ImportOptions | None = None,
    strict: bool = False,
    store_timezone: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> ImportResult:
    """Loads one export of a known format into the canonical tables and returns its row accounting per table (`then`:
    ingest_file's, for the load of its last table)."""
    adapter = ADAPTERS.get(format_name.lower())
    if adapter is None:
        raise IngestError(f"unknown format {format_name!r}; choose one of {', '.join(ADAPTERS)}")
    return run_import(
        db_path,
        adapter.NAME,
        adapter.build,
        Path(path),
        default_timezone=getattr(adapter, "TIMEZONE", None),
        options=options,
        strict=strict,
        store_timezone=store_timezone,
        currency=currency,
        progress=progress,
        platform=getattr(adapter, "PLATFORM", None),
        then=then,
    )


__all__ = ["ADAPTERS", "ImportOptions", "ImportResult", "import_export"]
