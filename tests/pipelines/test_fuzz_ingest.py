"""Fuzz test (issue 17): generated malformed files of every format thrown at `shopkpi ingest` and `shopkpi import`.

About 500 files per run: CSV, CSV.gz, JSON Lines (plain and .gz) and Parquet at ingest; Online Retail CSV, CSV.gz
and XLSX and Taobao CSV at import; a handful through the real `shopkpi` command. Each file is built from valid rows
of hostile values (quotes, line breaks, NUL, GBK bytes, 1_000, 0.005, NaN, epoch, JSON objects, long fields, keys
in two spellings) and then damaged (truncated, bytes flipped or inserted, blank lines, a BOM, another delimiter).
Whatever the file, a load must:
- return a result whose accounting adds up (read = inserted + updated + duplicates + rejected), the same numbers in
  the ledger and as many rejects recorded as it counted, or raise IngestError with one line and leave the warehouse
  byte for byte as it was (nothing partial);
- never raise anything else (a traceback), and from the command line exit 0 or 1 only;
- stay within the memory budget: the loads run with a small budget (Limits below) and the process's peak must grow
  by less than the budget allows.
Hypothesis runs a fixed number of examples, derandomized, so CI time is bounded and a failure replays.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.adapters import import_export
from pipelines.adapters.common import ImportOptions
from pipelines.ingest import FileResult, IngestError, Limits, ingest_file

# A small budget, so a generated bomb is refused after a few megabytes and the whole run stays fast.
LIMITS = Limits(max_file_mb=2, max_rows=5_000, max_line_mb=1, max_columns=200, max_xlsx_strings=5_000, memory_mb=256)
# Half of last session's counts (650 + 360 files): the suite's time is shared with the Spark, store and rollup tests;
# the kinds of damage and hostile values are the same, each still drawn dozens of times per format.
EXAMPLES = {"csv": 100, "csv.gz": 60, "jsonl": 75, "jsonl.gz": 40, "parquet": 50}  # 325 files at ingest
IMPORTS = {"online-retail.csv": 55, "online-retail.csv.gz": 30, "online-retail.xlsx": 65, "taobao.csv": 30}  # 180
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

HOSTILE = [
    "",
    " ",
    "\t",
    "\u3000",
    '"',
    '""',
    "a,b",
    "a;b",
    "line\nbreak",
    "cr\rlf\r\n",
    "nul\x00byte",
    "1_000",
    "0.005",
    "-0",
    "1e400",
    "NaN",
    "inf",
    "0x10",
    "epoch",
    "infinity",
    "2024-02-30",
    "99999-01-01",
    "北京",
    "'; drop table orders; --",
    '=HYPERLINK("x")',
    "\ufeffbom",
    "\u202eRTL",
    "x" * 3000,
]
GOOD = {
    "order_id": ["A1", "A2", "1001", "B-7"],
    "ordered_at": ["2024-01-05 09:00", "2024-02-29T23:59:59", "2024-03-01 10:00:00+08:00", "2024-06-18"],
    "status": ["paid", "shipped", "PAID", "cancelled", "returned"],
    "customer_id": ["c1", "c2", ""],
    "subtotal": ["10.00", "0", "1234.5", "-1"],
    "shipping_fee": ["0", "5.5"],
}
COLUMNS = list(GOOD)


def value(column: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(GOOD[column]), st.sampled_from(HOSTILE), st.text(max_size=12))


@st.composite
def table_rows(draw) -> tuple[list[str], list[list[str]]]:
    """A header (canonical names, maybe recased, renamed, repeated or missing) and rows of good and hostile values."""
    header = list(COLUMNS)
    mutation = draw(st.sampled_from(["none", "none", "none", "upper", "drop", "repeat", "extra", "hostile"]))
    if mutation == "upper":
        header[draw(st.integers(0, len(header) - 1))] = header[0].upper()
    elif mutation == "drop":
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif mutation == "repeat":
        header.append(header[draw(st.integers(0, len(header) - 1))].upper())
    elif mutation == "extra":
        header.append(draw(st.sampled_from(["__error", "_raw_row", "#1", "$p0", "note"])))
    elif mutation == "hostile":
        header.append(draw(st.sampled_from(HOSTILE[:12])))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        rows.append([draw(value(c)) if c in GOOD else draw(st.sampled_from(HOSTILE)) for c in header])
        if rows and draw(st.integers(0, 9)) == 0:
            rows[-1] = rows[-1][: draw(st.integers(0, len(header)))]  # a short row
    return header, rows


def csv_text(header: list[str], rows: list[list[str]], delimiter: str) -> str:
    def field(text: str) -> str:
        if any(ch in text for ch in f'"{delimiter}\n\r'):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(delimiter.join(field(v) for v in row) + "\n" for row in [header, *rows])


def jsonl_text(header: list[str], rows: list[list[str]], draw) -> str:
    lines = []
    for row in rows:
        record: dict[str, object] = {}
        for key, text in zip(header, row, strict=False):
            kind = draw(st.integers(0, 9))
            # Mostly text; sometimes the same key as a number, an object, a list, null or a boolean.
            record[key] = (
                text
                if kind < 6
                else (int(text) if text.isdigit() else 7)
                if kind == 6
                else {"v": text}
                if kind == 7
                else [text]
                if kind == 8
                else draw(st.sampled_from([None, True, 1.5]))
            )
        lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
    return "".join(line + "\n" for line in lines)


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` damaged at the byte level (or left whole), the way files break in transfer and by hand."""
    damage = draw(st.sampled_from(["whole", "whole", "truncate", "flip", "insert", "blank", "bom", "gbk", "nul"]))
    if not data or damage == "whole":
        return data
    at = draw(st.integers(0, len(data)))
    if damage == "truncate":
        return data[:at]
    if damage == "flip":
        index = min(at, len(data) - 1)
        return data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1 :]
    if damage == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if damage == "blank":
        cut = data.find(b"\n", at)
        return data if cut < 0 else data[: cut + 1] + b"\n\r\n" + data[cut + 1 :]
    if damage == "bom":
        return b"\xef\xbb\xbf" + data
    if damage == "gbk":
        cut = data.find(b"\n", at)
        return data if cut < 0 else data[: cut + 1] + "北京,上海\n".encode("gbk") + data[cut + 1 :]
    return data[:at] + b"\x00" + data[at:]


@st.composite
def bomb_or(draw, data: bytes) -> bytes:
    """Now and then, instead of `data`: a file over the budget (many rows, or one endless line)."""
    kind = draw(st.integers(0, 24))
    if kind == 0:
        return data[: data.find(b"\n") + 1] + b"A1,2024-01-05,paid,c1,1,0\n" * 120_000  # 3 MB of text
    if kind == 1:
        return data[:20] + b"y" * (1_200_000)  # a line over max_line_mb
    return data


@st.composite
def ingest_file_bytes(draw, fmt: str) -> bytes:
    header, rows = draw(table_rows())
    if fmt.startswith("csv"):
        text = csv_text(header, rows, draw(st.sampled_from([",", ",", ",", ";", "\t", "|"])))
    else:
        text = jsonl_text(header, rows, draw)
    data = draw(bomb_or(draw(damaged(text.encode("utf-8")))))
    if fmt.endswith(".gz"):
        data = gzip.compress(data, compresslevel=1)
        if draw(st.integers(0, 4)) == 0:
            data = data[: draw(st.integers(0, len(data)))]  # a truncated .gz
    return data


def parquet_bytes(draw, workdir: Path) -> bytes:
    header, rows = draw(table_rows())
    path = workdir / "base.parquet"
    # Parquet column names: not empty, and distinct as DuckDB compares them (case aside).
    names = list(dict.fromkeys(h.lower().replace('"', "'").replace("\x00", "") or "blank" for h in header))
    with duckdb.connect() as con:
        con.execute("create table t as select " + ", ".join(f'null::varchar as "{n}"' for n in names) + " limit 0")
        if rows:
            width = len(names)
            filled = [(row + [""] * width)[:width] for row in rows]
            con.executemany(f"insert into t values ({', '.join('?' * width)})", filled)
        con.execute("copy t to $path (format parquet)", {"path": str(path)})
    data = path.read_bytes()
    damage = draw(st.sampled_from(["whole", "whole", "truncate", "flip"]))
    if damage == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return data


# --- the checks every load must pass ------------------------------------------------------------------------------


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def accounted(db: Path, result: FileResult) -> None:
    assert result.balanced, result.summary()
    if result.status != "loaded":
        return
    with duckdb.connect(str(db), read_only=True) as con:
        load_id, read, inserted, updated, duplicates, rejected = con.sql(
            "select load_id, rows_read, inserted, updated, duplicates, rejected from ingest_log "
            "order by load_id desc limit 1"
        ).fetchall()[0]
        recorded = con.sql("select count(*) from rejects where load_id = ?", params=[load_id]).fetchall()[0][0]
    assert (read, inserted, updated, duplicates, rejected) == (
        result.rows_read,
        result.inserted,
        result.updated,
        result.duplicates,
        result.rejected,
    )
    assert recorded == result.rejected


def attempt(db: Path, load) -> object:
    """Runs one load; an IngestError must be one line and leave the warehouse as it was. Any other exception fails
    the test with its traceback (which is what a user would have seen)."""
    before = sha(db)
    try:
        return load()
    except IngestError as exc:
        assert "\n" not in str(exc).strip(), str(exc)
        assert sha(db) == before, f"refused ({exc}) but the warehouse changed"
        return exc


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding one order; each example loads into a fresh copy of it (the template's load is an
    ordinary one, so a later insert, update or duplicate is possible)."""
    root = tmp_path_factory.mktemp("fuzz-template")
    source = root / "orders.csv"
    source.write_text("order_id,ordered_at,status,subtotal\nA1,2024-01-05 09:00,paid,10.00\n")
    db = root / "shop.duckdb"
    ingest_file(db, "orders", source)
    return db


@pytest.fixture(scope="module")
def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def fresh(template: Path, workdir: Path) -> Path:
    db = workdir / "shop.duckdb"
    for leftover in workdir.iterdir():
        if leftover.is_file():
            leftover.unlink()
    shutil.copyfile(template, db)
    return db


@pytest.mark.parametrize("fmt", list(EXAMPLES))
def test_generated_malformed_files_at_ingest(fmt, template, tmp_path, peak):
    outcomes: dict[str, int] = {}

    @settings(FUZZ, max_examples=EXAMPLES[fmt])
    @given(data=st.data())
    def run(data):
        db = fresh(template, tmp_path)
        payload = parquet_bytes(data.draw, tmp_path) if fmt == "parquet" else data.draw(ingest_file_bytes(fmt))
        path = tmp_path / f"export.{fmt}"
        path.write_bytes(payload)
        outcome = attempt(db, lambda: ingest_file(db, "orders", path, limits=LIMITS))
        if isinstance(outcome, FileResult):
            accounted(db, outcome)
            outcomes["loaded"] = outcomes.get("loaded", 0) + 1
        else:
            outcomes["refused"] = outcomes.get("refused", 0) + 1

    run()
    assert sum(outcomes.values()) == EXAMPLES[fmt]
    # The generator must reach both ends: files that load (with their rejects) and files that are refused.
    assert outcomes.get("loaded", 0) > EXAMPLES[fmt] // 10 and outcomes.get("refused", 0) > 0, outcomes
    memory_within_budget(peak)


def memory_within_budget(peak: int) -> None:
    # ru_maxrss is the process's peak in kB: the loads may add DuckDB's memory_mb and a few chunks, not a bomb.
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mb < LIMITS.memory_mb + 256, f"the process's peak grew by {grown_mb:.0f} MB"


# --- imports --------------------------------------------------------------------------------------------------------

RETAIL = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
RETAIL_GOOD = [
    ["536365", "C536379", "A1"],
    ["85123A", "POST", "22423"],
    ["WHITE HANGING HEART", "", "北京"],
    ["6", "-1", "0", "12"],
    ["2010-12-01 08:26:00", "12/1/2010 8:26", "2011-13-01 00:00:00"],
    ["2.55", "0", "-11062.06", "1.005"],
    ["17850", "", "17850.0"],
    ["United Kingdom", "EIRE"],
]
TAOBAO = [
    "订单编号",
    "买家会员名",
    "买家应付货款",
    "买家应付邮费",
    "总金额",
    "买家实际支付金额",
    "订单状态",
    "收货地址 ",
    "订单创建时间",
    "订单付款时间 ",
    "宝贝总数量",
    "退款金额",
]
TAOBAO_GOOD = [
    ['="2352000000000000001"', "123", "2352000000000000002"],
    ["买家甲", ""],
    ["199.00", "0.005"],
    ["10.00", "0"],
    ["209.00", "x"],
    ["209.00", "0.00"],
    ["交易成功", "等待买家付款", "交易关闭"],
    ["浙江省 杭州市", ""],
    ["2024-06-18 10:00:00", "2024/6/18 10:00"],
    ["2024-06-18 10:01:00", ""],
    ["1", "2"],
    ["0.00", "209.00"],
]


@st.composite
def export_rows(draw, header: list[str], good: list[list[str]]) -> list[list[str]]:
    rows = [header]
    for _ in range(draw(st.integers(0, 10))):
        rows.append([draw(st.one_of(st.sampled_from(choices), st.sampled_from(HOSTILE[:-1]))) for choices in good])
    if draw(st.integers(0, 7)) == 0:
        rows[0] = rows[0] + [draw(st.sampled_from([header[0].lower(), header[0].upper(), "note"]))]
    return rows


def xlsx_bytes(rows: list[list[str]], draw) -> bytes:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'

    def cell(ref: str, text: str) -> str:
        if text.replace(".", "", 1).lstrip("-").isdigit():
            return f'<c r="{ref}"><v>{text}</v></c>'
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\x00", "")
        return f'<c r="{ref}" t="inlineStr"><is><t>{escaped}</t></is></c>'

    body = "".join(
        f'<row r="{n}">' + "".join(cell(f"{chr(65 + i)}{n}", v) for i, v in enumerate(row)) + "</row>"
        for n, row in enumerate(rows, start=1)
    )
    sheet = f"<worksheet {ns}><sheetData>{body}</sheetData></worksheet>"
    damage = draw(st.sampled_from(["whole", "whole", "xml", "reference", "string", "zip", "truncate"]))
    if damage == "xml":
        sheet = sheet[: draw(st.integers(0, len(sheet)))]
    elif damage == "reference":
        sheet = sheet.replace('r="B2"', f'r="{draw(st.sampled_from(["XFDZZZZZZ2", "2", "b2", "", "AAAA2"]))}"')
    elif damage == "string":
        sheet = sheet.replace('<c r="A2" t="inlineStr"><is><t>', '<c r="A2" t="s"><v>99</v><is><t>', 1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(
            "xl/workbook.xml",
            f'<workbook {ns} {rel}><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="worksheet"/></Relationships>',
        )
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    data = buffer.getvalue()
    if damage == "zip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]
    elif damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    return data


@pytest.mark.parametrize("kind", list(IMPORTS))
def test_generated_malformed_exports_at_import(kind, tmp_path, peak):
    adapter, suffix = kind.split(".", 1)
    header, good = (TAOBAO, TAOBAO_GOOD) if adapter == "taobao" else (RETAIL, RETAIL_GOOD)
    outcomes: dict[str, int] = {}

    @settings(FUZZ, max_examples=IMPORTS[kind])
    @given(data=st.data())
    def run(data):
        workdir = tmp_path / "work"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        db = workdir / "shop.duckdb"
        rows = data.draw(export_rows(header, good))
        if suffix == "xlsx":
            payload = xlsx_bytes(rows, data.draw)
        else:
            text = csv_text(rows[0], rows[1:], ",")
            payload = data.draw(damaged(text.encode("gbk" if adapter == "taobao" else "utf-8", errors="replace")))
            payload = data.draw(bomb_or(payload))
            if suffix.endswith(".gz"):
                payload = gzip.compress(payload, compresslevel=1)
        path = workdir / f"export.{suffix}"
        path.write_bytes(payload)
        options = ImportOptions(limits=LIMITS)
        outcome = attempt(db, lambda: import_export(db, adapter, path, options=options))
        if isinstance(outcome, IngestError):
            outcomes["refused"] = outcomes.get("refused", 0) + 1
            return
        outcomes["imported"] = outcomes.get("imported", 0) + 1
        for table in outcome.tables:
            if table.result is not None:
                assert table.result.balanced, table.result.summary()

    run()
    assert sum(outcomes.values()) == IMPORTS[kind]
    assert outcomes.get("imported", 0) > 0 and outcomes.get("refused", 0) > 0, outcomes
    memory_within_budget(peak)


# --- through the real command --------------------------------------------------------------------------------------

CLI_FILES = {
    "bomb.csv.gz": gzip.compress(b"order_id,ordered_at,status\n" + b"A1,2024-01-05,paid\n" * 300_000),
    "endless.jsonl": b'{"order_id": "' + b"x" * 1_200_000,
    "truncated.csv.gz": gzip.compress(b"order_id,ordered_at,status\n" + b"A1,2024-01-05,paid\n" * 50_000)[:4000],
    "mixed.jsonl": b'{"order_id": 1001, "ordered_at": "2024-01-05", "status": "paid"}\n'
    b'{"order_id": "1001", "ordered_at": "2024-01-05", "status": {"x": 1}}\n',
    "damaged.parquet": b"PAR1" + bytes(range(256)) * 4 + b"PAR1",
    "blank-lines.csv": b"order_id,ordered_at,status\n\nA1,2024-01-05,paid\n\n\nA2,epoch,paid\n",
}


@pytest.mark.parametrize("name", list(CLI_FILES))
def test_the_real_command_exits_0_or_1_without_a_traceback(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(CLI_FILES[name])
    env = {"PATH": "/usr/bin:/bin", "SHOPKPI_MAX_FILE_MB": "2", "SHOPKPI_MAX_LINE_MB": "1", "HOME": str(tmp_path)}
    command = [sys.executable, "-c", "from shopkpi.cli import main; main()", "ingest", "orders", str(path)]
    done = subprocess.run(
        [*command, "--db", str(tmp_path / "shop.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode in (0, 1), (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    if done.returncode == 1:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "shop.duckdb").exists()
    else:
        assert "rows read" in done.stdout
