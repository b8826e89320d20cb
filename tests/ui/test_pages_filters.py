"""The sidebar's building blocks without Streamlit: date presets relative to the latest data, segments (source and
device filters) applied as per-cursor views, and uploads saved and loaded through the ingest pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from metrics import compute_kpis
from metrics.periods import Period
from metrics.presets import comparison_period, preset_period
from metrics.segments import Segment, apply_segment, blank_unsplittable
from shopkpi.settings import Settings
from shopkpi.ui import uploads
from tests.support.demo import demo_warehouse
from warehouse import open_read_only

LATEST = date(2024, 5, 15)  # a Wednesday in the second quarter


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("today", date(2024, 5, 15), date(2024, 5, 15)),
        ("yesterday", date(2024, 5, 14), date(2024, 5, 14)),
        ("last_7", date(2024, 5, 9), date(2024, 5, 15)),  # 9…15 May is 7 days
        ("last_30", date(2024, 4, 16), date(2024, 5, 15)),  # 16 April…15 May is 15 + 15 = 30 days
        ("this_month", date(2024, 5, 1), date(2024, 5, 15)),
        ("last_month", date(2024, 4, 1), date(2024, 4, 30)),
        ("this_quarter", date(2024, 4, 1), date(2024, 5, 15)),
        ("year_to_date", date(2024, 1, 1), date(2024, 5, 15)),
    ],
)
def test_presets_count_back_from_the_latest_data(preset, start, end) -> None:
    assert preset_period(preset, LATEST) == Period(start, end)


def test_custom_and_comparisons() -> None:
    custom = Period(date(2024, 2, 1), date(2024, 2, 29))
    assert preset_period("custom", LATEST, custom) == custom
    assert comparison_period(custom, "previous") == Period(date(2024, 1, 3), date(2024, 1, 31))  # 29 days before
    assert comparison_period(custom, "last_year") == Period(date(2023, 2, 1), date(2023, 2, 28))


def test_a_segment_equals_the_group_of_a_split_and_stays_on_its_cursor() -> None:
    db = demo_warehouse()
    period = Period(date(2024, 6, 1), date(2024, 6, 30))
    names = ["sessions", "orders", "total_revenue", "ad_spend", "operating_expenses"]
    with open_read_only(db) as con:
        split = {r["group"]: r for r in compute_kpis(con, period, by="source", metrics=names).iter_rows(named=True)}
        whole = compute_kpis(con, period, metrics=names).row(0, named=True)
        cursor = con.cursor()
        cursor.execute("use warehouse")
        apply_segment(cursor, Segment(source="social"))
        social = compute_kpis(cursor, period, metrics=names)
        # Another cursor of the same connection still sees the whole shop.
        other = con.cursor()
        other.execute("use warehouse")
        assert compute_kpis(other, period, metrics=names).row(0, named=True) == whole
    row = blank_unsplittable(social, Segment(source="social")).row(0, named=True)
    for name in ("sessions", "orders", "total_revenue", "ad_spend"):
        assert row[name] == pytest.approx(split["social"][name]), name
    assert row["operating_expenses"] is None, "expenses split by nothing: blank under a filter"
    assert Segment(device="app").why_undefined("ad_spend") == (
        "Ad spend cannot be split by device (SPEC §4), so it is blank under this filter."
    )


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
