"""Load export files into one canonical table: read with DuckDB's own readers, validate, upsert, account for every row.

Every row read ends up inserted, updated, counted as an unchanged duplicate, or rejected with a reason in `rejects`.
One file is one transaction on a private copy of the warehouse (see warehouse), so a file that fails, or a
process killed mid-file, leaves the live warehouse as it was.

The stages, in the order `ingest_file` (load.py) runs them: read.py (file type, encoding, DuckDB's reader),
map.py (which export column is which canonical column; the export's value formats), validate.py (typing and checks,
rejects), load.py (the transaction: upsert, accounting, the ingest_log ledger).
"""

from pipelines.ingest.common import IngestError, Progress, ident, sql_string
from pipelines.ingest.limits import Limits, content_hash
from pipelines.ingest.load import FileResult, check_one_period, ingest_file, ingest_files
from pipelines.ingest.map import SavedMapping, ValueFormat, load_mapping
from pipelines.ingest.read import detect_encoding, transcode_to_utf8

__all__ = [
    "FileResult",
    "IngestError",
    "Limits",
    "Progress",
    "SavedMapping",
    "ValueFormat",
    "check_one_period",
    "content_hash",
    "detect_encoding",
    "ident",
    "ingest_file",
    "ingest_files",
    "load_mapping",
    "sql_string",
    "transcode_to_utf8",
]
