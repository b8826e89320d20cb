"""`shopkpi segments`: one row per RFM segment in table, JSON and CSV, a segment's customer ids, and its errors, on
the tiny shop of tests/support/customer_shop.py (segments worked out in tests/metrics/test_customers.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

from metrics.customers import SEGMENT_NAMES
from shopkpi.cli import customers as cli_customers
from tests.support.customer_shop import customer_shop

app = typer.Typer()
app.command("segments")(cli_customers.segments)
app.command("other")(lambda: None)  # two commands, so `segments` is a subcommand as in shopkpi/cli/main.py


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(customer_shop(tmp_path_factory.mktemp("shop") / "w.duckdb"))


# No shopkpi.toml or SHOPKPI_* setting of the machine leaks in (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_config")


def run(*args: str):
    return CliRunner().invoke(app, ["segments", *args])


def test_json_has_one_row_per_segment_as_of_the_date(db):
    result = run("--db", db, "--date", "2024-03-31", "--since", "2024-02-15", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["date"] == "2024-03-31"
    rows = {row["segment"]: row for row in document["rows"]}
    assert list(rows) == list(SEGMENT_NAMES)
    # b and c (500 of 870 net sales) need attention; a moved from potential loyalist to champion.
    assert (rows["need_attention"]["customers"], rows["need_attention"]["revenue"]) == (2, 500.0)
    assert (rows["champions"]["customers"], rows["champions"]["change"]) == (1, 1)
    assert (rows["potential_loyalists"]["customers"], rows["potential_loyalists"]["change"]) == (0, -1)
    assert rows["lost"]["avg_monetary"] is None


def test_csv_and_table_show_the_same_segments(db):
    result = run("--db", db, "--date", "2024-03-31", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["segment"] for r in rows] == list(SEGMENT_NAMES)
    assert {r["segment"]: r["customers"] for r in rows}["hibernating"] == "1"
    table = run("--db", db, "--date", "2024-03-31")
    assert table.exit_code == 0 and "RFM segments as of 2024-03-31" in table.stdout
    assert "need_attention" in table.stdout and "57.5%" in table.stdout  # 500 / 870 of the revenue


def test_customers_prints_a_segments_ids(db):
    result = run("--db", db, "--date", "2024-03-31", "--customers", "need_attention")
    assert (result.exit_code, result.stdout) == (0, "b\nc\n")
    document = json.loads(run("--db", db, "--date", "2024-03-31", "--customers", "at_risk", "--format", "json").stdout)
    assert document == {"date": "2024-03-31", "segment": "at_risk", "customers": ["e"]}
    assert run("--db", db, "--date", "2024-03-31", "--customers", "lost", "--format", "csv").stdout == "customer_id\n"


def test_wrong_usage_and_bad_dates(db):
    assert run("--db", db, "--customers", "whales").exit_code == 2
    late = run("--db", db, "--date", "2024-03-01", "--since", "2024-03-02")
    assert late.exit_code == 1 and "after --date" in late.stderr
    assert run("--db", db, "--date", "2024-13-01").exit_code == 1
