"""Column mapping for exports nobody wrote an adapter for: --map, --mapping FILE.toml, decimal comma, date formats,
and an error message that is enough to load the file."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipelines.ingest import IngestError, ValueFormat, ingest_file, load_mapping
from shopkpi.cli.imports import ingest_options
from tests.support.warehouse_rows import query

# An ERP's order export: German headers, ';' separated, day-first dates, decimal comma.
ERP = """Bestellnr;Bestelldatum;Zustand;Kunde;Rabatt;Versand
A-1;18.06.2024 10:30;Versendet;K1;1.234,50;4,90
A-2;19.06.2024 08:00;Offen;;0,00;0
A-3;20.06.2024 09:15;Storniert;K2;abc;0
"""

MAPPING = """
table = "orders"
delimiter = ";"
decimal_comma = true
date_format = "%d.%m.%Y %H:%M"

[columns]
order_id = "Bestellnr"
ordered_at = "Bestelldatum"
status = "Zustand"
customer_id = "Kunde"
discount = "Rabatt"
shipping_fee = "Versand"

[values.status]
"Versendet" = "shipped"
"Offen" = "placed"
"Storniert" = "cancelled"
"""


def cli() -> typer.Typer:
    """The `shopkpi` command line itself."""
    from shopkpi.cli import app

    return app


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_unknown_export_loads_with_the_map_options_the_error_message_gives(db, tmp_path):
    export = tmp_path / "shop-export.csv"
    export.write_text("Order No,Order Date,State,Buyer\nN1,2024-06-18 10:00:00,paid,c1\nN2,2024-06-19,shipped,\n")
    runner = CliRunner()
    first = runner.invoke(cli(), ["ingest", "orders", str(export), "--db", str(db)])
    assert first.exit_code == 1 and not db.exists()
    message = first.stderr.strip()
    assert len(message.splitlines()) == 1
    # It names the required columns still unmapped, the optional ones, and every column of the file.
    assert "missing required columns order_id, ordered_at, status" in message
    assert "optional columns not mapped: customer_id, session_id" in message
    assert "file has: Order No, Order Date, State, Buyer" in message
    # Where a column of the file is close to a canonical name, the hint names it (each column once); the user
    # copies it as it is.
    hint = re.search(r"pass (.*?) \(optional", message).group(1)
    assert hint == "--map 'order_id=Order No' --map 'ordered_at=Order Date' --map status=State"
    args = shlex.split(hint)
    second = runner.invoke(
        cli(), ["ingest", "orders", str(export), "--db", str(db), *args, "--map", "customer_id=Buyer"]
    )
    assert second.exit_code == 0, second.output
    assert "2 rows read = 2 inserted" in second.stdout
    assert query(db, "select order_id, status, customer_id from orders order by 1") == [
        ("N1", "paid", "c1"),
        ("N2", "shipped", None),
    ]


def test_with_no_close_column_the_hint_says_column_and_the_file_columns_follow(db, tmp_path):
    export = tmp_path / "erp.csv"
    export.write_text(ERP)
    with pytest.raises(IngestError) as error:
        ingest_file(db, "orders", export)
    message = str(error.value)
    assert "pass --map order_id=COLUMN --map ordered_at=COLUMN --map status=COLUMN" in message
    assert message.endswith("file has: Bestellnr, Bestelldatum, Zustand, Kunde, Rabatt, Versand)")


def test_a_saved_mapping_reads_decimal_comma_dates_and_the_exports_own_statuses(db, tmp_path):
    export = tmp_path / "erp.csv"
    export.write_text(ERP)
    mapping = tmp_path / "erp-orders.toml"
    mapping.write_text(MAPPING)
    run = CliRunner().invoke(cli(), ["ingest", "orders", str(export), "--mapping", str(mapping), "--db", str(db)])
    assert run.exit_code == 0, run.output
    assert "3 rows read = 2 inserted + 0 updated + 0 unchanged duplicates + 1 rejected" in run.stdout
    assert query(db, "select order_id, ordered_at::varchar, status, discount, shipping_fee from orders order by 1") == [
        ("A-1", "2024-06-18 10:30:00", "shipped", Decimal("1234.50"), Decimal("4.90")),
        ("A-2", "2024-06-19 08:00:00", "placed", Decimal("0.00"), Decimal("0.00")),
    ]
    [(line, column, reason)] = query(db, "select line, column_name, reason from rejects")
    assert (line, column) == (4, "discount") and "decimal comma" in reason and "abc" in reason


def test_options_on_the_command_line_win_over_the_mapping_file(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING)
    options = ingest_options(
        "orders", map_=["status=State"], mapping=mapping, delimiter=",", date_format=["%Y%m%d"], decimal_comma=False
    )
    assert options["column_map"]["status"] == "State" and options["column_map"]["order_id"] == "Bestellnr"
    assert options["delimiter"] == ","
    assert options["value_format"].date_formats == ("%Y%m%d",) and options["value_format"].decimal_comma


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("table = 'sessionz'", "is not one of"),
        ("[columns]\norder_id = 3", "[columns] must hold"),
        ("date_format = 'dd.mm.yyyy'", "strptime format"),
        ("colums = {}", "unknown key colums"),
        ("decimal_comma = 'yes'", "true or false"),
        ("table = ", "not a valid TOML"),
    ],
)
def test_a_bad_mapping_file_is_one_line_naming_the_file_and_the_key(tmp_path, text, expected):
    mapping = tmp_path / "bad.toml"
    mapping.write_text(text)
    with pytest.raises(IngestError) as error:
        load_mapping(mapping)
    assert expected in str(error.value) and "bad.toml" in str(error.value) and "\n" not in str(error.value)


def test_a_mapping_for_another_table_is_refused(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING)
    with pytest.raises(IngestError, match="for table orders, not products"):
        ingest_options("products", mapping=mapping)


def test_a_date_format_on_the_command_line_and_iso_dates_beside_it(db, tmp_path):
    export = tmp_path / "spend.csv"
    export.write_text("date,source,cost\n18/06/2024,email,10\n2024-06-19,email,5\n19/13/2024,email,1\n")
    run = CliRunner().invoke(cli(), ["ingest", "ad_spend", str(export), "--date-format", "%d/%m/%Y", "--db", str(db)])
    assert run.exit_code == 0, run.output
    assert query(db, "select date::varchar from ad_spend order by 1") == [("2024-06-18",), ("2024-06-19",)]
    [(reason,)] = query(db, "select reason from rejects")
    assert reason == "not a date (%d/%m/%Y): 19/13/2024"


@settings(max_examples=60, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from([".", " ", "\u00a0", ""]),
)
def test_decimal_comma_numbers_read_as_written(tmp_path_factory, amount, group):
    # 1234567.8 written the continental way with any thousands separator: 1.234.567,80 / 1 234 567,80 / 1234567,80.
    whole, cents = f"{amount:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", group)
    text = f"{grouped},{cents}"
    directory = tmp_path_factory.mktemp("dc")
    export = directory / "expenses.csv"
    export.write_text(f"month;category;amount\n2024-06;rent;{text}\n")
    result = ingest_file(directory / "w.duckdb", "expenses", export, value_format=ValueFormat(decimal_comma=True))
    assert result.inserted == 1, text
    assert query(directory / "w.duckdb", "select amount from expenses") == [(amount,)]
