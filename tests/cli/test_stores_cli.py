"""Issue 13's done-when on the command line: a warehouse of the real Tmall order report (`--store tmall`) and two
real Shopify exports (`--store shopify`, `--store explorer`, whose order numbers collide) answers `kpis --by store`,
`--store`, `pnl --by store`, and never adds CNY, GBP and USD up."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from shopkpi.cli.main import app
from tests.support.warehouse_rows import REAL_DATA, query

pytestmark = pytest.mark.usefixtures("no_config")


@pytest.fixture
def db(stores_db) -> Path:
    return stores_db


SHOPIFY = REAL_DATA / "exports/shopify-orders"
EVERYTHING = ["--from", "2020-01-01", "--to", "2025-12-31"]


def run(db: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_stores_and_their_orders_stay_apart(db):
    assert query(db, "select * from stores order by store") == [
        ("explorer", "shopify", "USD"),
        ("shopify", "shopify", "GBP"),
        ("tmall", "tmall", "CNY"),
    ]
    # Both Shopify shops number their orders from #1001: each store keeps its own.
    both = query(db, "select count(distinct store) from orders where order_id = '#1001'")
    assert both == [(2,)]
    for store, shop in (("shopify", "maison-maria-2025"), ("explorer", "explorer-clothing-2022")):
        names = pl.read_csv(SHOPIFY / shop / "orders_export_1.csv", infer_schema=False)["Name"].n_unique()
        assert query(db, "select count(*) from orders where store = ?", [store]) == [(names,)], store


def test_kpis_by_store_and_for_one_store(db):
    by_store = {row["group"]: row for row in run(db, "kpis", *EVERYTHING, "--by", "store")["rows"]}
    assert set(by_store) == {"explorer", "shopify", "tmall"}
    whole = run(db, "kpis", *EVERYTHING)
    total = whole["rows"][0]
    # Counts add up over the stores; money in three currencies is not added: null, with the reason.
    assert total["orders"] == sum(row["orders"] for row in by_store.values()) > 0
    assert total["gross_sales"] is None and total["aov"] is None
    assert whole["unknown"]["gross_sales"] == (
        "stores in different currencies: CNY, GBP, USD; choose one store or give a rate table"
    )
    tmall = run(db, "kpis", *EVERYTHING, "--store", "tmall")["rows"][0]
    assert tmall["orders"] == by_store["tmall"]["orders"]
    assert tmall["gross_sales"] == pytest.approx(by_store["tmall"]["gross_sales"]) and tmall["gross_sales"] > 0


def test_a_rate_table_adds_the_stores_up(db, tmp_path):
    (tmp_path / "rates.csv").write_text("currency,rate\nCNY,1\nGBP,9\nUSD,7\n")
    by_store = {row["group"]: row for row in run(db, "kpis", *EVERYTHING, "--by", "store")["rows"]}
    total = run(db, "kpis", *EVERYTHING, "--rates", str(tmp_path / "rates.csv"))["rows"][0]
    expected = by_store["tmall"]["gross_sales"] + 9 * by_store["shopify"]["gross_sales"]
    expected += 7 * by_store["explorer"]["gross_sales"]
    assert total["gross_sales"] == pytest.approx(expected)


def test_pnl_by_store_and_errors(db):
    statement = run(db, "pnl", "--from", "2020-02", "--to", "2020-02", "--by", "store")
    rows = {row["store"]: row for row in statement["rows"]}
    # February 2020 is Tmall's month: the other stores have nothing then; the total cannot add three currencies.
    assert rows["tmall"]["gross_sales"] > 0 and rows["total"]["gross_sales"] is None
    assert "stores in different currencies" in statement["unknown"]["gross_sales"]
    result = CliRunner().invoke(app, ["kpis", "--store", "jd", "--db", str(db)])
    assert result.exit_code == 1 and "no store 'jd'" in result.output


def test_a_flat_toml_rate_table_as_the_help_writes_it_converts_and_a_stray_key_is_refused(db, tmp_path):
    # `--help`: TOML with reporting = "CNY" and one line per currency at the top level (no [rates] table).
    by_store = {row["group"]: row for row in run(db, "kpis", *EVERYTHING, "--by", "store")["rows"]}
    expected = by_store["tmall"]["gross_sales"] + 9.2 * by_store["shopify"]["gross_sales"]
    expected += 7 * by_store["explorer"]["gross_sales"]
    flat = tmp_path / "rates.toml"
    flat.write_text('reporting = "CNY"\nGBP = 9.2\nUSD = 7\n')
    total = run(db, "kpis", *EVERYTHING, "--rates", str(flat))
    assert total["rows"][0]["gross_sales"] == pytest.approx(expected) and "gross_sales" not in total["unknown"]
    # The [rates] table form, and both at once, give the same.
    (tmp_path / "table.toml").write_text('reporting = "CNY"\n[rates]\nGBP = 9.2\nUSD = 7\n')
    (tmp_path / "both.toml").write_text('reporting = "CNY"\nGBP = 9.2\n[rates]\nUSD = 7\n')
    for name in ("table.toml", "both.toml"):
        row = run(db, "kpis", *EVERYTHING, "--rates", str(tmp_path / name))["rows"][0]
        assert row["gross_sales"] == pytest.approx(expected), name
    # A key that is no currency (a typo of reporting) is refused in one line, not ignored.
    (tmp_path / "typo.toml").write_text('reportng = "CNY"\nGBP = 9.2\n')
    result = CliRunner().invoke(app, ["kpis", *EVERYTHING, "--rates", str(tmp_path / "typo.toml"), "--db", str(db)])
    assert result.exit_code == 1
    assert "'reportng' is not a currency = rate line" in result.output and len(result.output.splitlines()) == 1


def test_the_rates_help_shows_both_toml_forms_it_reads():
    # Rich markup took `[rates]` for a style tag and dropped it, which left only the flat form in --help.
    result = CliRunner().invoke(app, ["kpis", "--help"], terminal_width=200)
    text = " ".join(result.output.replace("│", " ").split())
    assert 'reporting = "CNY", then one line per currency, GBP = 9.2' in text
    assert "at the top or under [rates]" in text
