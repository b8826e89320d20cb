"""Export files uploaded in the dashboard: saved under a generated name in the upload folder, then loaded through
the one ingest pipeline (pipelines/ingest/), so an upload follows exactly the rules of `shopkpi ingest`.

An upload is refused before anything is written when it is larger than `settings.upload_limit_mb`, when its name
does not end in one of the file types ingest reads, or when the upload folder lies in a folder the web server
serves (Streamlit's static folder); a file that ingest refuses is deleted again. Once saved, it is loaded within
the same budget as `shopkpi ingest` (settings.limits: decompressed size, rows, line length, columns, memory), checked
while the file is streamed, so a small .gz that decompresses to gigabytes is refused without the server holding it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import streamlit

from metrics.rollups import build_missing, ensure_rollups
from pipelines.adapters import ImportOptions, ImportResult, import_export
from pipelines.ingest import FileResult, IngestError, ingest_file
from shopkpi.settings import DASHBOARD_DIR, Settings
from warehouse import WarehouseError

SUFFIXES = ("csv", "tsv", "txt", "parquet", "pq", "jsonl", "ndjson", "json", "gz")
# The file types ingest reads (pipelines.ingest._file_format); gzip only around text formats.
TYPES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")
# A platform's export (`shopkpi import FORMAT PATH`): its CSV, or the XLSX some platforms download.
EXPORT_SUFFIXES = ("csv", "txt", "xlsx", "gz")
EXPORT_TYPES = (".csv.gz", ".csv", ".txt", ".xlsx")
GZIPPED = tuple(f"{t}.gz" for t in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"))
# Folders the dashboard's web server can serve files from: the `static` folder beside app.py
# (server.enableStaticServing) and Streamlit's own front end.
WEB_ROOTS = (DASHBOARD_DIR / "static", Path(streamlit.__file__).resolve().parent / "static")
log = logging.getLogger("shopkpi.ui.uploads")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MB = 1024 * 1024


def upload_type(original: str, types: tuple[str, ...] = GZIPPED + TYPES) -> str | None:
    """The file type an upload's name ends in (e.g. '.csv.gz'), lower case, or None if it is not one of `types`
    (by default the types ingest reads)."""
    name = Path(original).name.lower()
    return next((t for t in types if name.endswith(t) and len(name) > len(t)), None)


def upload_name(original: str, now: datetime | None = None) -> str:
    """A new file name for an upload: time, a random part, and the original name made safe (suffixes kept).

    The random part keeps two uploads of one name apart; the original name stays readable in the load history.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    name = Path(original).name
    suffix = upload_type(name) or upload_type(name, EXPORT_TYPES) or ""
    stem = name[: len(name) - len(suffix)]
    safe = _UNSAFE.sub("_", stem).strip("._") or "upload"
    return f"{stamp}-{uuid.uuid4().hex[:8]}-{safe}{suffix}"


def _text(lang: str, en: str, zh: str) -> str:
    # The dashboard shows these messages in the language chosen in its sidebar; elsewhere they are English.
    return zh if lang == "zh" else en


def _check_upload(
    settings: Settings, original_name: str, data: bytes, folder: Path, lang: str = "en", export: bool = False
) -> None:
    if not data:
        raise IngestError(_text(lang, f"{original_name}: the file is empty", f"{original_name}：文件是空的"))
    if len(data) > settings.upload_limit_mb * _MB:
        size, limit = f"{len(data) / _MB:,.1f}", settings.upload_limit_mb
        raise IngestError(
            _text(
                lang,
                f"{original_name}: {size} MB is more than the upload limit of {limit} MB (upload_limit_mb); "
                "load larger files with `shopkpi ingest`",
                f"{original_name}：{size} MB，超过了 {limit} MB 的上传上限（upload_limit_mb）；"
                "更大的文件请用 `shopkpi ingest` 导入",
            )
        )
    if export and upload_type(original_name, EXPORT_TYPES) is None:
        raise IngestError(
            _text(
                lang,
                f"{original_name}: not a file type of a platform export; upload .csv, .csv.gz, .txt or .xlsx",
                f"{original_name}：不是平台导出文件的类型；请上传 .csv、.csv.gz、.txt 或 .xlsx",
            )
        )
    if not export and upload_type(original_name) is None:
        raise IngestError(
            _text(
                lang,
                f"{original_name}: not a file type ingest reads; upload .csv, .tsv, .txt, .parquet, .jsonl or .json "
                "(text formats also .gz)",
                f"{original_name}：`shopkpi ingest` 读不了这种文件类型；"
                "请上传 .csv、.tsv、.txt、.parquet、.jsonl 或 .json（文本格式也可以是 .gz）",
            )
        )
    resolved = folder.resolve()
    for root in WEB_ROOTS:
        if resolved == root.resolve() or resolved.is_relative_to(root.resolve()):
            raise IngestError(
                _text(
                    lang,
                    f"the upload folder {folder} is served by the web server; set upload_dir elsewhere",
                    f"上传文件夹 {folder} 位于网页服务器对外提供的目录中；请把 upload_dir 设到别处",
                )
            )


def save_and_ingest(
    settings: Settings, table: str, original_name: str, data: bytes, lang: str = "en", store: str | None = None
) -> FileResult:
    """Save the uploaded bytes under `settings.upload_dir` and load them into `table` (rows of `store`, default the
    warehouse's default store); raises IngestError.

    `lang` ('en' or 'zh') is the language of the refusals made here; ingest's own messages are English.
    """
    folder = Path(settings.upload_dir).expanduser()
    _check_upload(settings, original_name, data, folder, lang)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / upload_name(original_name)
    path.write_bytes(data)
    try:
        result = ingest_file(
            settings.db_path.expanduser(),
            table,
            path,
            store_timezone=settings.timezone,
            currency=settings.currency,
            limits=settings.limits,
            store=store,
            then=build_missing,  # a first load's rollups, published with it
        )
    except IngestError:
        path.unlink(missing_ok=True)  # nothing of it was loaded: keep no refused bytes on the server
        raise
    _keep_rollups(settings)
    return result


def save_and_import(
    settings: Settings, format_name: str, original_name: str, data: bytes, options: ImportOptions, lang: str = "en"
) -> ImportResult:
    """Save the uploaded bytes of a platform's export under `settings.upload_dir` and load them as `shopkpi import
    FORMAT PATH` does (the same adapter, options and budget); raises IngestError. The saved name keeps the original
    one, whose period some exports carry (Shopify's channel report: `…_2025-09-01_2025-09-07_….csv`)."""
    folder = Path(settings.upload_dir).expanduser()
    _check_upload(settings, original_name, data, folder, lang, export=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / upload_name(original_name)
    path.write_bytes(data)
    chosen_timezone = settings.timezone if settings.timezone != "UTC" else None  # as `shopkpi import` chooses
    try:
        result = import_export(
            settings.db_path.expanduser(),
            format_name,
            path,
            options=replace(options, limits=settings.limits),
            store_timezone=chosen_timezone,
            currency=settings.currency if settings.currency != "CNY" else None,
            then=build_missing,  # a first import's rollups, published with it
        )
    except IngestError:
        path.unlink(missing_ok=True)
        raise
    _keep_rollups(settings)
    return result


def _keep_rollups(settings: Settings) -> None:
    """After a load: the KPIs' daily rollups of a new warehouse (its first load) or of one another version built. The
    file is loaded whatever happens here: should the build fail, the KPIs read the raw tables until the next load or
    `shopkpi upgrade` builds them."""
    try:
        ensure_rollups(settings.db_path.expanduser())
    except WarehouseError:
        log.warning("shopkpi: the daily rollups of %s could not be built", settings.db_path, exc_info=True)
