"""The sidebar's building blocks without Streamlit: date presets relative to the latest data, segments (source and
device filters) passed to the metric functions, and uploads saved and loaded through the ingest pipeline."""

from __future__ import annotations

import ast
import importlib
import inspect
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from metrics import compute_kpis
from metrics.periods import Period
from metrics.presets import comparison_period, preset_period
from metrics.segments import Segment, blank_unsplittable
from shopkpi.settings import Settings
from shopkpi.ui import uploads
from tests.support.demo import demo_warehouse
from warehouse import open_read_only

LATEST = date(2024, 5, 15)  # a Wednesday in the second quarter
PAGES = Path(__file__).resolve().parents[2] / "pages"


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("today", date(2024, 5, 15), date(2024, 5, 15)),
        ("yesterday", date(2024, 5, 14), date(2024, 5, 14)),
        ("last_7", date(2024, 5, 9), date(2024, 5, 15)),  # 9…15 May is 7 days
        ("last_30", date(2024, 4, 16), date(2024, 5, 15)),  # 16 April…15 May is 15 + 15 = 30 days
        # The calendar month, quarter and year are whole: partial while they run past the latest data (SPEC §4).
        ("this_month", date(2024, 5, 1), date(2024, 5, 31)),
        ("last_month", date(2024, 4, 1), date(2024, 4, 30)),
        ("this_quarter", date(2024, 4, 1), date(2024, 6, 30)),
        ("year_to_date", date(2024, 1, 1), date(2024, 12, 31)),
    ],
)
def test_presets_count_back_from_the_latest_data(preset, start, end) -> None:
    assert preset_period(preset, LATEST) == Period(start, end)


def test_custom_and_comparisons() -> None:
    custom = Period(date(2024, 2, 1), date(2024, 2, 29))
    assert preset_period("custom", LATEST, custom) == custom
    # A calendar month: the previous calendar month, and last year's February.
    assert comparison_period(custom, "previous") == Period(date(2024, 1, 1), date(2024, 1, 31))
    assert comparison_period(custom, "last_year") == Period(date(2023, 2, 1), date(2023, 2, 28))
    # Any other range: the same length just before, and 364 days back (the same weekdays).
    other = Period(date(2024, 2, 5), date(2024, 2, 18))
    assert comparison_period(other, "previous") == Period(date(2024, 1, 22), date(2024, 2, 4))
    assert comparison_period(other, "last_year") == Period(date(2023, 2, 6), date(2023, 2, 19))
    # This month, partial: the same covered days (1–15 May against 1–15 April and 1–15 May 2023).
    may = preset_period("this_month", LATEST)
    covered = Period(date(2024, 5, 1), LATEST)
    assert comparison_period(may, "previous", covered) == Period(date(2024, 4, 1), date(2024, 4, 15))
    assert comparison_period(may, "last_year", covered) == Period(date(2023, 5, 1), date(2023, 5, 15))


def test_a_segment_equals_the_group_of_a_split_and_leaves_the_cursor_as_it_was() -> None:
    db = demo_warehouse()
    period = Period(date(2024, 6, 1), date(2024, 6, 30))
    names = ["sessions", "orders", "total_revenue", "ad_spend", "operating_expenses"]
    with open_read_only(db) as con:
        split = {r["group"]: r for r in compute_kpis(con, period, by="source", metrics=names).iter_rows(named=True)}
        whole = compute_kpis(con, period, metrics=names).row(0, named=True)
        social = compute_kpis(con, period, metrics=names, segment=Segment(source="social"))
        # The same connection, asked again without the filter, still sees the whole shop.
        assert compute_kpis(con, period, metrics=names).row(0, named=True) == whole
    row = blank_unsplittable(social, Segment(source="social")).row(0, named=True)
    for name in ("sessions", "orders", "total_revenue", "ad_spend"):
        assert row[name] == pytest.approx(split["social"][name]), name
    assert row["operating_expenses"] is None, "expenses split by nothing: blank under a filter"
    assert Segment(device="app").why_undefined("ad_spend") == (
        "Ad spend cannot be split by device (SPEC §4), so it is blank under this filter."
    )


def filtered_queries() -> list[tuple[str, object]]:
    """Every function a page hands to `ui.load(query, ..., segment=...)`, as (where, function): read from the pages'
    source, resolved through their imports (a page is not imported: it would draw itself)."""
    found = []
    for path in sorted(PAGES.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported: dict[str, str] = {}  # local name -> dotted path
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "ui.load" and node.args):
                continue
            if not any(k.arg == "segment" for k in node.keywords):
                continue
            head, *rest = ast.unparse(node.args[0]).split(".")
            dotted = ".".join([imported[head], *rest])
            module, _, name = dotted.rpartition(".")
            function = getattr(importlib.import_module(module), name)
            found.append((f"{path.name}:{node.lineno} {ast.unparse(node.args[0])}", function))
    return found


def test_every_query_a_page_filters_takes_the_segment() -> None:
    # ui.load passes a filter to the query as segment=...: a query that did not take it would fail under a filter.
    queries = filtered_queries()
    assert len(queries) >= 10, queries  # overview, traffic, customers, products, P&L and forecast all filter
    for where, function in queries:
        assert "segment" in inspect.signature(function).parameters, f"{where} does not take a segment"


def test_upload_names_are_new_and_safe() -> None:
    now = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)
    first, second = uploads.upload_name("../../etc/订单 export.csv.gz", now), uploads.upload_name("x.csv", now)
    assert first.startswith("20240701T083000-") and first.endswith("-export.csv.gz"), first
    assert "/" not in first and first != uploads.upload_name("../../etc/订单 export.csv.gz", now)
    assert second.endswith("-x.csv")


def test_an_upload_is_saved_and_loaded_with_its_row_accounting(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "shop.duckdb", upload_dir=tmp_path / "uploads", timezone="UTC")
    csv = b"order_id,ordered_at,status\nA1,2024-01-05 09:00,paid\nA2,2024-01-06 10:00,lost\nA1,2024-01-05 09:00,paid\n"
    result = uploads.save_and_ingest(settings, "orders", "orders.csv", csv)
    # 3 rows read = 1 inserted + 0 updated + 1 duplicate (A1 twice, identical) + 1 rejected (status 'lost').
    assert (result.rows_read, result.inserted, result.duplicates, result.rejected) == (3, 1, 1, 1)
    assert "3 rows read = 1 inserted + 0 updated + 1 unchanged duplicates + 1 rejected" in result.summary()
    saved = list((tmp_path / "uploads").iterdir())
    assert len(saved) == 1 and saved[0].read_bytes() == csv
    again = uploads.save_and_ingest(settings, "orders", "orders.csv", csv)
    assert again.status == "already loaded"
