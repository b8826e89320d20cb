"""The budget of one load: how much text a file may decompress to, how many rows and how long a line it may have,
how large an XLSX sheet may claim to be, and how much memory DuckDB may use. Each is checked while the file is
streamed, before it is loaded, so a decompression bomb is refused after reading at most the budget; the refusal
names the limit and the setting that raises it (shopkpi.toml or its SHOPKPI_ environment variable)."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.common import IngestError

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """One load's budget. The defaults are far above any real shop's export and far below what takes a server
    down; `shopkpi.settings` reads them from shopkpi.toml or SHOPKPI_MAX_FILE_MB, … ."""

    max_file_mb: int = 2048  # text of one file once decompressed (a .gz, the parts of an XLSX)
    max_rows: int = 20_000_000  # rows (lines) of one file
    max_line_mb: int = 4  # one line, record or JSON object (so one field)
    max_columns: int = 2000  # columns of a CSV header, keys of a JSON file, columns of an XLSX sheet
    max_xlsx_strings: int = 5_000_000  # entries of an XLSX workbook's shared-strings table
    memory_mb: int = 2048  # DuckDB's memory_limit during a load (it spills to disk beyond it)

    @property
    def file_bytes(self) -> int:
        return self.max_file_mb * _MB

    @property
    def line_bytes(self) -> int:
        return self.max_line_mb * _MB


def over_limit(path: Path, what: str, setting: str, limit: int, unit: str = "") -> IngestError:
    """The refusal of a file over one limit: what the file has, the limit, and the setting that raises it."""
    return IngestError(
        f"{path}: {what}, over the limit {setting} = {limit:,}{unit}, so nothing was loaded; if the file is genuine, "
        f"raise {setting} in shopkpi.toml or with SHOPKPI_{setting.upper()}"
    )


@dataclass
class TextShape:
    """What one streaming pass over a text file found: its physical lines and whether any is blank (after which
    records and lines no longer correspond one to one)."""

    lines: int
    blank_lines: bool
    quotes: bool  # a double quote anywhere: a quoted field may span lines


def scan_text(path: Path, compressed: bool, limits: Limits) -> TextShape:
    """Streams the file's text once (decompressing a .gz), refusing it as soon as it passes the budget: more bytes
    than max_file_mb, more lines than max_rows (+ a header), or a line longer than max_line_mb. A truncated or
    corrupt .gz is refused saying so. Memory stays at one chunk, whatever the file claims."""
    file_limit, line_limit, row_limit = limits.file_bytes, limits.line_bytes, limits.max_rows + 1
    chunk_size = min(1 << 20, line_limit)  # a whole line longer than the limit cannot fit inside one chunk
    total = lines = run = 0
    blank = quotes = False
    previous = b"\n"  # the byte before the chunk: a line starts the file
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                total += len(chunk)
                if total > file_limit:
                    raise over_limit(
                        path,
                        f"its text is more than {limits.max_file_mb:,} MB{' once decompressed' if compressed else ''}",
                        "max_file_mb",
                        limits.max_file_mb,
                        " MB",
                    )
                first = chunk.find(b"\n")
                if first == -1:
                    run += len(chunk)
                else:
                    run += first
                if run > line_limit:
                    raise over_limit(
                        path,
                        f"line {lines + 1:,} is longer than {limits.max_line_mb:,} MB (check its quotes and the "
                        "delimiter: no export value is that long)",
                        "max_line_mb",
                        limits.max_line_mb,
                        " MB",
                    )
                if first != -1:
                    run = len(chunk) - chunk.rfind(b"\n") - 1
                newlines = chunk.count(b"\n")
                lines += newlines
                if lines > row_limit:
                    raise over_limit(path, f"it has more than {limits.max_rows:,} rows", "max_rows", limits.max_rows)
                if not blank and (b"\n\n" in chunk or b"\n\r\n" in chunk or (previous == b"\n" and chunk[:1] == b"\n")):
                    blank = True
                quotes = quotes or b'"' in chunk
                previous = chunk[-1:]
    except EOFError as exc:  # gzip: the stream ends before its end-of-stream marker
        raise IngestError(
            f"{path}: the file is truncated (its compressed data ends before the end of the .gz stream), so nothing "
            "was loaded; copy or download it again"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: not a valid .gz file ({exc}); compress it again with gzip") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    return TextShape(lines + (1 if run else 0), blank, quotes)
