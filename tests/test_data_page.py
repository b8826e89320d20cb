"""AppTest of the Data page: an empty state in words without a warehouse; with one, its row counts, loads and
reject reasons, and new rows after an ingest from another process."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from shopkpi import warehouse
from shopkpi.settings import REPO_ROOT
from tests.test_live_reload import write_orders_in_another_process

REASON = "status 'lost' is not one of placed, paid, shipped, delivered, cancelled, returned"


def run_app(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    monkeypatch.delenv("SHOPKPI_CONFIG", raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    at.run()  # lands on the home page (Overview)
    at.switch_page("pages/data.py").run()
    return at


def build_small_warehouse(db: Path) -> None:
    """3 orders (2024-01-05 … 2024-02-10), one load of orders.csv with 5 rows read: 3 inserted + 1 duplicate + 1
    rejected (line 4, status 'lost' is not a known status)."""
    with warehouse.writing(db) as con:
        con.execute(
            "insert into orders (order_id, ordered_at, status, discount, shipping_fee, refund_amount) values "
            "('A1', '2024-01-05 09:00', 'paid', 0, 0, 0), "
            "('A2', '2024-01-20 12:30', 'delivered', 0, 0, 0), "
            "('A3', '2024-02-10 23:59', 'cancelled', 0, 0, 0)"
        )
        con.execute(
            "insert into ingest_log values (1, 'exports/orders.csv', 'abc123', 'orders', "
            "timestamp '2024-02-11 08:00:00', timestamp '2024-02-11 08:00:02', 5, 3, 0, 1, 1, 'utm_source')"
        )
        con.execute(
            "insert into rejects values (1, 'exports/orders.csv', 4, 'orders', 'status', ?, 'A4,2024-01-07,lost')",
            [REASON],
        )


def test_without_a_warehouse_the_page_says_how_to_get_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(tmp_path / "missing.duckdb", monkeypatch)

    assert not at.exception
    assert "No data yet: run `shopkpi demo` or `shopkpi ingest …`" in [info.value for info in at.info]
    assert not at.dataframe, "an empty state is a sentence, not an empty table"
    assert not (tmp_path / "missing.duckdb").exists(), "the dashboard only reads: it must not create a warehouse"


def test_shows_row_counts_loads_and_reject_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)

    at = run_app(db, monkeypatch)

    assert not at.exception
    assert not at.error
    cards = {metric.label: metric.value for metric in at.metric}
    assert cards["orders"] == "3"
    assert cards["sessions"] == "0"

    overview = at.dataframe[0].value.set_index("table")
    assert overview.loc["orders", "rows"] == 3
    assert str(overview.loc["orders", "first_date"])[:10] == "2024-01-05"
    assert str(overview.loc["orders", "last_date"])[:10] == "2024-02-10"
    assert overview["rows"].sum() == 3, "only orders has rows"

    loads = at.dataframe[1].value
    assert loads.loc[0, ["path", "rows_read", "inserted", "updated", "duplicates", "rejected"]].tolist() == [
        "exports/orders.csv",
        5,
        3,
        0,
        1,
        1,
    ]
    assert loads.loc[0, "ignored_columns"] == "utm_source"

    summary, detail = at.dataframe[2].value, at.dataframe[3].value
    assert summary[["column", "reason", "rejected_rows"]].values.tolist() == [["status", REASON, 1]]
    assert detail[["file", "line", "reason", "raw_row"]].values.tolist() == [
        ["exports/orders.csv", 4, REASON, "A4,2024-01-07,lost"]
    ]
    assert at.get("download_button"), "the rejected rows can be downloaded as CSV"


def test_rerun_after_an_ingest_in_another_process_shows_the_new_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)
    at = run_app(db, monkeypatch)
    assert {metric.label: metric.value for metric in at.metric}["orders"] == "3"

    # While this dashboard session holds its reader (and cached results), another process adds 1,200 orders.
    written = write_orders_in_another_process(db, 0, 1200)
    assert written.returncode == 0, written.stderr
    at.run()

    assert not at.exception
    assert {metric.label: metric.value for metric in at.metric}["orders"] == "1,203"


def test_a_file_that_is_not_a_warehouse_is_explained_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("this is not a DuckDB file\n")

    at = run_app(db, monkeypatch)

    assert not at.exception
    assert len(at.error) == 1
    assert str(db) in at.error[0].value
