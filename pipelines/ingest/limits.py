"""The budget of one load: how much text a file may decompress to, how many rows and how long a line it may have,
how large an XLSX sheet may claim to be, and how much memory DuckDB may use. Each is checked while the file is
streamed, before it is loaded, so a decompression bomb is refused after reading at most the budget; the refusal
names the limit and the setting that raises it (shopkpi.toml or its SHOPKPI_ environment variable)."""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
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
    records and lines no longer correspond one to one); where asked, the SHA-256 of its bytes and the most
    delimiters on one line."""

    lines: int
    blank_lines: bool
    quotes: bool  # a double quote anywhere: a quoted field may span lines
    digest: str | None = None  # SHA-256 of the file's bytes (scan_text's `digest`: content_hash)
    delimiter: str | None = None  # the delimiter counted (scan_text's `fields`): the given one, else the first line's
    widest: int | None = None  # the most `delimiter`s on one line, quoted or not


# The delimiters a CSV's first line is tried with (read.py's guess, when none is given).
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
# A blank line inside a chunk: an empty line or a lone carriage return (3x faster than two `in` tests).
_BLANK = re.compile(rb"\n\r?\n")
_CHUNK = 4 << 20  # the text is read in pieces of this size (at most the line budget)
_HASH_CHUNK = 32 << 20
# From this size on disk, `fields` counts each line's delimiters (with numpy, imported then: a one-row load does not
# pay for it); below it, read.py's own search for runaway fields takes a fraction of a second.
COUNT_FIELDS_FROM = 64 * _MB


def guess_delimiter(header: str) -> str:
    """The candidate delimiter that splits the header most."""
    return max(CANDIDATE_DELIMITERS, key=header.count)


def content_hash(path: Path, stop: threading.Event | None = None) -> str:
    """SHA-256 of the file's bytes: the identity of an export, whatever its name. Read in large pieces, so that a
    thread hashes beside other work (hashlib lets go of the GIL while it hashes, not between pieces); once `stop` is
    set it gives up and returns ""."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            if stop is not None and stop.is_set():
                return ""
            digest.update(chunk)
    return digest.hexdigest()


def scan_text(
    path: Path,
    compressed: bool,
    limits: Limits,
    *,
    digest: bool = False,
    fields: bool = False,
    delimiter: str | None = None,
) -> TextShape:
    """Streams the file's text once (decompressing a .gz), refusing it as soon as it passes the budget: more bytes
    than max_file_mb, more lines than max_rows (+ a header), or a line longer than max_line_mb. A truncated or
    corrupt .gz is refused saying so. Memory stays at one chunk, whatever the file claims.

    Meanwhile `digest` hashes the file's bytes in a thread (content_hash), and `fields`, for a file of
    COUNT_FIELDS_FROM or more, counts each line's `delimiter` (default: guess_delimiter of the first line) for the
    widest line, which spares read.py's search for lines of runaway fields where none has more delimiters than the
    header. For 2.4 GB of events: 4.7 s instead of three passes (hash, budget, runaway fields) of 11.0 s."""
    counter = _FieldCounter(delimiter) if fields and path.stat().st_size >= COUNT_FIELDS_FROM else None
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(content_hash, path, stop) if digest else None
        try:
            shape = _shape(path, compressed, limits, counter)
        except BaseException:
            stop.set()  # a refused file is not read to its end
            raise
    if hashing is not None:
        shape.digest = hashing.result()
    return shape


def _shape(path: Path, compressed: bool, limits: Limits, counter: _FieldCounter | None) -> TextShape:
    """scan_text's pass over the text."""
    file_limit, line_limit, row_limit = limits.file_bytes, limits.line_bytes, limits.max_rows + 1
    chunk_size = min(_CHUNK, line_limit)  # a whole line longer than the limit cannot fit inside one chunk
    total = lines = run = 0
    blank = quotes = False
    previous = b"\n"  # the last bytes before the chunk (a blank line may span two): a line starts the file
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
                if not blank and (_BLANK.search(chunk) or _BLANK.search(previous + chunk[:2])):
                    blank = True
                quotes = quotes or b'"' in chunk
                previous = (previous + chunk[-2:])[-2:]
                if counter is not None:
                    counter.add(chunk)
    except EOFError as exc:  # gzip: the stream ends before its end-of-stream marker
        raise IngestError(
            f"{path}: the file is truncated (its compressed data ends before the end of the .gz stream), so nothing "
            "was loaded; copy or download it again"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: not a valid .gz file ({exc}); compress it again with gzip") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    return TextShape(
        lines + (1 if run else 0),
        blank,
        quotes,
        delimiter=counter.delimiter() if counter is not None else None,
        widest=counter.widest() if counter is not None else None,
    )


class _FieldCounter:
    """The most delimiters on one line of a text fed chunk by chunk (a line may span chunks): the given delimiter,
    else the first line's likeliest, once that line is read whole. Lines are found with numpy: a Python loop over
    49 M lines would take longer than the search it spares."""

    def __init__(self, delimiter: str | None) -> None:
        import numpy as np  # only for a large file (COUNT_FIELDS_FROM)

        self._np = np
        given = delimiter.encode() if delimiter else b""
        self._mark: int | None = given[0] if len(given) == 1 else None
        self._guess = not delimiter  # a multi-byte delimiter is not counted
        self._head = b""  # the first line, while its delimiter is not guessed
        self._run = 0  # the delimiters of the line the chunks so far end inside
        self._widest = 0

    def add(self, chunk: bytes) -> None:
        np = self._np
        if self._mark is None:
            if not self._guess:
                return
            cut = chunk.find(b"\n")
            self._head += chunk[: None if cut == -1 else cut]
            if cut == -1:
                return
            self._mark = ord(guess_delimiter(self._head.decode("latin-1")))
            self._run = self._head[: len(self._head) - cut].count(self._mark)  # its part in earlier chunks
            self._head = b""
        data = np.frombuffer(chunk, dtype=np.uint8)
        newline = data == ord("\n")
        if not newline.any():
            self._run += chunk.count(self._mark)
            return
        # The newlines among the newlines and delimiters, in order: the delimiters between two are a line's.
        breaks = np.flatnonzero(newline[np.flatnonzero(newline | (data == self._mark))])
        per_line = np.diff(breaks, prepend=-1) - 1
        per_line[0] += self._run
        self._widest = max(self._widest, int(per_line.max()))
        self._run = chunk.count(self._mark, chunk.rfind(b"\n"))

    def delimiter(self) -> str | None:
        self._finish()
        return chr(self._mark) if self._mark is not None else None

    def widest(self) -> int | None:
        self._finish()
        return max(self._widest, self._run) if self._mark is not None else None

    def _finish(self) -> None:
        if self._mark is None and self._guess and self._head:  # one line, without a newline
            self._mark = ord(guess_delimiter(self._head.decode("latin-1")))
            self._run = self._head.count(self._mark)
            self._head = b""
