"""Hostile option values and duplicated column names at ingest (issue 17, items 2 and 5).

Every value that reaches SQL from a user (`ingest_file`'s keyword arguments, i.e. the options of `shopkpi ingest`),
a mapping file or the export itself (its name, column names, values) is bound as a parameter, never formatted into
the statement: each hostile value below either loads as plain text or is refused with one line, and the content of
a marker file, which every injection tries to read, appears nowhere in the warehouse. A mapping whose date_format
read /etc/hostname into rejects.reason, and `--date-format "%d %b '%y"` failing with a parser error, were the bugs.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.adapters.common import ImportOptions, read_export
from pipelines.ingest import IngestError, ValueFormat, ingest_file, load_mapping
from shopkpi.cli.main import app

MARKER = "MARKER-5e1f-never-in-the-warehouse"
ORDERS = "order_id,ordered_at,status,customer_id\nA1,05 Mar '24,paid,c1\nA2,not a date,paid,c2\n"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "marker.txt"
    path.write_text(MARKER)
    return path


def hostile(marker: Path) -> list[str]:
    """Quotes, double quotes, backslashes, `||`, `;` and subqueries reading the marker file, each closing a string
    literal or an identifier the way a formatted statement would open it."""
    read = f"(select content from read_text('{marker}'))"
    return [
        "'",
        '"',
        "\\",
        "\\'",
        "''",
        "a'b\"c\\d",
        f"%d/%m/%Y' || {read} || '",
        f"%d/%m/%Y'' || {read} || ''",
        f'x" || {read} || "',
        f"x'); create table pwned as select {read} as c; --",
        f'x"); create table pwned as select {read} as c; --',
        "; drop table orders; --",
        "' or '1'='1",
        "$p0",
        "?",
    ]


def warehouse_text(db: Path) -> str:
    """Every value of every table of the warehouse, as one text (empty if no warehouse was made)."""
    if not db.exists():
        return ""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.sql("select table_name from duckdb_tables() where not temporary").fetchall()]
        assert "pwned" not in tables  # a statement smuggled in through a value was never run
        return "\n".join(str(con.sql(f'select * from "{t}"').fetchall()) for t in tables)
    finally:
        con.close()


def attempt(db: Path, path: Path, **options) -> str:
    """Loads `path` with `options`; returns 'loaded' or the refusal, which must be one line. Never leaks the marker."""
    try:
        ingest_file(db, "orders", path, **options)
        outcome = "loaded"
    except IngestError as exc:
        outcome = str(exc)
        assert "\n" not in outcome
    assert MARKER not in warehouse_text(db)
    return outcome


def test_a_date_format_with_an_apostrophe_parses_dates_written_with_one(tmp_path):
    # '05 Mar '24' is 2024-03-05 by "%d %b '%y"; 'not a date' is rejected, its reason naming the format as given.
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS)
    db = tmp_path / "w.duckdb"
    result = ingest_file(db, "orders", source, value_format=ValueFormat(date_formats=("%d %b '%y",)))
    assert (result.inserted, result.rejected) == (1, 1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.sql("select order_id, cast(ordered_at as date)::varchar from orders").fetchall() == [
        ("A1", "2024-03-05")
    ]
    assert con.sql("select line, reason from rejects").fetchall() == [(3, "not a date-time (%d %b '%y): not a date")]
    con.close()


def test_hostile_date_formats_are_text_not_sql(tmp_path, marker):
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS)
    for index, value in enumerate(hostile(marker)):
        db = tmp_path / f"w{index}.duckdb"
        outcome = attempt(db, source, value_format=ValueFormat(date_formats=(value,)))
        if outcome == "loaded":
            # The format is only ever text: the unparsable row's reason quotes it as written.
            con = duckdb.connect(str(db), read_only=True)
            reasons = [r[0] for r in con.sql("select reason from rejects").fetchall()]
            con.close()
            assert any(value in reason for reason in reasons), (value, reasons)
        else:
            assert "date format" in outcome, outcome


def test_hostile_delimiters_encodings_values_and_column_maps_load_as_text_or_are_refused(tmp_path, marker):
    source = tmp_path / "orders.csv"
    source.write_text("order_id,ordered_at,status,customer_id\nA1,2024-03-05,paid,c1\n")
    for index, value in enumerate(hostile(marker)):
        db = tmp_path / f"w{index}.duckdb"
        assert attempt(db, source, delimiter=value) != "loaded" or value == ","
        assert "unsupported encoding" in attempt(db, source, encoding=value)
        assert "no column" in attempt(db, source, column_map={"customer_id": value})
        # The export's own words: a hostile word maps to 'paid', 'paid' maps to the hostile word.
        own = ValueFormat(values={"status": {value: "paid", "paid": value}})
        assert attempt(db, source, value_format=own) == "loaded"
        con = duckdb.connect(str(db), read_only=True)
        reasons = con.sql("select reason from rejects where column_name = 'status'").fetchall()
        con.close()
        if value.strip().lower() != "paid":
            # 'paid' became the hostile word, which is not a status: rejected, the reason quoting the file's text.
            assert ("'paid' is not one of placed, paid, shipped, delivered, cancelled, returned",) in reasons
        (tmp_path / f"w{index}.duckdb").unlink()


def test_hostile_column_names_and_file_names_are_text(tmp_path, marker):
    for index, value in enumerate(hostile(marker)):
        folder = tmp_path / f"f{index}"
        folder.mkdir()
        name = value.replace("/", "_").replace("\\", "_")
        source = folder / f"{name}.csv"
        header = '"' + value.replace('"', '""') + '"'  # the hostile text as the name of the first column
        source.write_text(f"{header},order_id,ordered_at,status\nx,A1,2024-03-05,paid\nx,A2,later,paid\n")
        db = folder / "w.duckdb"
        assert attempt(db, source, column_map={"customer_id": value}) == "loaded"
        con = duckdb.connect(str(db), read_only=True)
        assert con.sql("select order_id, customer_id from orders").fetchall() == [("A1", "x")]
        # The rejected row keeps its raw values under the file's own column names, and the file's own name.
        (file, raw), *_ = con.sql("select file, raw_row from rejects").fetchall()
        con.close()
        assert file == str(source)
        assert '"x"' in raw and "later" in raw


def test_a_hostile_mapping_file_is_text_or_refused(tmp_path, marker):
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS)
    for index, value in enumerate(hostile(marker)):
        toml = value.replace("\\", "\\\\").replace('"', '\\"')
        mapping = tmp_path / f"m{index}.toml"
        mapping.write_text(
            f'date_format = "{toml}"\ndelimiter = ","\n[columns]\ncustomer_id = "customer_id"\n'
            f'[values.status]\n"{toml}" = "paid"\n"paid" = "{toml}"\n'
        )
        try:
            saved = load_mapping(mapping)
        except IngestError as exc:  # date_format must hold a '%'
            assert "date_format" in str(exc) and "%" not in value
            continue
        assert saved.value_format.date_formats == (value,)
        outcome = attempt(
            tmp_path / f"w{index}.duckdb",
            source,
            delimiter=saved.delimiter,
            column_map=saved.columns,
            value_format=saved.value_format,
        )
        assert outcome == "loaded" or "date format" in outcome, outcome


def test_the_cli_reads_a_date_format_with_an_apostrophe(tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS)
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["ingest", "orders", str(source), "--date-format", "%d %b '%y", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 inserted" in result.output and "1 rejected" in result.output


@pytest.mark.parametrize(
    "header",
    [
        "order_id,ORDER_ID,ordered_at,status",  # any case
        "order_id, Order_Id ,ordered_at,status",  # spaces trimmed
        "order_id,order_id,ordered_at,status",  # the very same name
        "order_id;Order_ID;ordered_at;status",  # another delimiter
    ],
)
def test_a_csv_with_a_repeated_column_name_is_refused_naming_both(tmp_path, header):
    first, second = header.replace(";", ",").split(",")[:2]
    source = tmp_path / "orders.csv"
    delimiter = ";" if ";" in header else ","
    source.write_text(f"{header}\n{delimiter.join(['A1', 'B1', '2024-03-05', 'paid'])}\n")
    db = tmp_path / "w.duckdb"
    with pytest.raises(IngestError) as refused:
        ingest_file(db, "orders", source)
    message = str(refused.value)
    assert message.startswith(f"{source}: columns with the same name")
    assert f"{first!r} and {second!r}" in message and "\n" not in message
    assert not db.exists() or "A1" not in warehouse_text(db)  # nothing loaded


def test_the_cli_exits_1_on_a_repeated_column_name(tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text("order_id,ORDER_ID,ordered_at,status\nA1,B1,2024-03-05,paid\n")
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["ingest", "orders", str(source), "--db", str(db)])
    assert result.exit_code == 1
    assert "'order_id' and 'ORDER_ID'" in result.output


def test_json_lines_with_a_key_in_two_spellings_are_refused(tmp_path):
    # On one line, or across lines: ORDERED_AT would otherwise be an ignored column and its rows rejected as missing.
    same_line = tmp_path / "same.jsonl"
    same_line.write_text('{"order_id": "A1", "ORDER_ID": "B1", "ordered_at": "2024-03-05", "status": "paid"}\n')
    across = tmp_path / "across.jsonl"
    across.write_text(
        '{"order_id": "A1", "ordered_at": "2024-03-05", "status": "paid"}\n'
        '{"order_id": "A2", "ORDERED_AT": "2024-03-06", "status": "paid"}\n'
    )
    for path, pair in ((same_line, "'order_id' and 'ORDER_ID'"), (across, "'ordered_at' and 'ORDERED_AT'")):
        with pytest.raises(IngestError, match=pair):
            ingest_file(tmp_path / "w.duckdb", "orders", path)


def test_a_parquet_file_with_a_name_repeated_but_for_a_space_is_refused(tmp_path):
    source = tmp_path / "orders.parquet"
    duckdb.sql(
        "select 'A1' as order_id, 'B1' as \"order_id \", '2024-03-05' as ordered_at, 'paid' as status"
    ).write_parquet(str(source))
    with pytest.raises(IngestError, match="'order_id' and 'order_id '"):
        ingest_file(tmp_path / "w.duckdb", "orders", source)


def test_names_that_only_look_renamed_still_load(tmp_path):
    # DuckDB renames a repeated 'note' to 'note_1'; a file that really has note and note_1 is not refused.
    source = tmp_path / "orders.csv"
    source.write_text("order_id,ordered_at,status,note,note_1,order_id_1\nA1,2024-03-05,paid,x,y,z\n")
    result = ingest_file(tmp_path / "w.duckdb", "orders", source)
    assert result.inserted == 1
    assert result.ignored_columns == ["note", "note_1", "order_id_1"]


def test_shopkpi_imports_delimiter_and_file_name_are_text(tmp_path, marker):
    # `shopkpi import --delimiter` and the export's name reach DuckDB's CSV reader as bound parameters.
    for index, value in enumerate(hostile(marker)):
        folder = tmp_path / f"i{index}"
        folder.mkdir()
        source = folder / (value.replace("/", "_").replace("\\", "_") + ".csv")
        source.write_text("Name,Total\n#1001,12.50\n")
        con = duckdb.connect()
        try:
            header = read_export(con, source, folder, ImportOptions(delimiter=value))
            # Read as a delimiter and nothing else: none of these occurs in the file, so each line is one field.
            assert list(header.values()) == ["Name,Total"], value
            assert con.sql("select * exclude (_line) from src").fetchall() == [("#1001,12.50",)]
        except IngestError as exc:
            assert str(exc).startswith(f"{source}: not a readable export") and "\n" not in str(exc)
        tables = [r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()]
        assert "pwned" not in tables
        assert all(MARKER not in str(con.sql(f'select * from "{t}"').fetchall()) for t in tables)
        con.close()
