"""Export files uploaded in the dashboard: saved under a generated name in the upload folder, then loaded through
the one ingest pipeline (pipelines/ingest.py), so an upload follows exactly the rules of `shopkpi ingest`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipelines.ingest import FileResult, IngestError, ingest_file
from shopkpi.settings import Settings

SUFFIXES = ("csv", "tsv", "txt", "parquet", "pq", "jsonl", "ndjson", "json", "gz")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def upload_name(original: str, now: datetime | None = None) -> str:
    """A new file name for an upload: time, a random part, and the original name made safe (suffixes kept).

    The random part keeps two uploads of one name apart; the original name stays readable in the load history.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    safe = _UNSAFE.sub("_", Path(original).name).strip("._") or "upload"
    return f"{stamp}-{uuid.uuid4().hex[:8]}-{safe}"


def save_and_ingest(settings: Settings, table: str, original_name: str, data: bytes) -> FileResult:
    """Save the uploaded bytes under `settings.upload_dir` and load them into `table`; raises IngestError."""
    if not data:
        raise IngestError(f"{original_name}: the file is empty")
    folder = Path(settings.upload_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / upload_name(original_name)
    path.write_bytes(data)
    return ingest_file(
        settings.db_path.expanduser(),
        table,
        path,
        store_timezone=settings.timezone,
        currency=settings.currency,
    )
