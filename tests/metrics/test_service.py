"""Service and after-sales figures (metrics/service.py), worked out by hand on the tiny shop of
tests/support/service_shop.py (its rows are listed there), and the README's table of them."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from metrics.periods import Period
from metrics.service import (
    README_END,
    README_START,
    SERVICE_METRICS,
    definitions_markdown,
    response_target,
    returns_by,
    service_comparison,
    service_kpis,
    service_series,
)
from metrics.targets import load_targets
from tests.support.service_shop import service_shop

MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = service_shop(tmp_path_factory.mktemp("service") / "w.duckdb")
    with duckdb.connect(str(path), read_only=True) as connection:
        yield connection


def test_ticket_figures_by_hand(con):
    values = service_kpis(con, MARCH)
    # March's tickets: t1–t5 (t6 opened in February).
    assert values["tickets"] == 5
    # Answered: t1 10, t2 45, t3 20, t4 30 minutes → median (20 + 30) / 2 = 25.
    assert values["first_response_minutes"] == 25
    # Within 30 minutes: t1, t3, t4 (30 counts as within); t2 is late and t5 unanswered → 3 / 5.
    assert values["first_response_within_target"] == pytest.approx(0.6)
    # Resolved: t1 0.5 h, t2 1 h, t4 24 h → median 1.
    assert values["resolution_hours"] == pytest.approx(1.0)
    # One complaint (t4) over March's 3 valid orders (o1, o2, o3; o4 was cancelled) → 100 × 1 / 3.
    assert values["complaint_rate"] == pytest.approx(100 / 3)
    # Rated: 5, 3, 2 → 10 / 3.
    assert values["satisfaction"] == pytest.approx(10 / 3)
    # Inquiries t1, t2, t3: only t1 names a valid order (t3's o4 was cancelled) → 1 / 3.
    assert values["inquiry_conversion_rate"] == pytest.approx(1 / 3)


def test_the_response_target_comes_from_the_targets_file(con):
    assert response_target(load_targets(None)) == 30  # metrics/targets.toml [first_response_minutes] max
    # Within 20 minutes: t1 (10) and t3 (20) → 2 / 5.
    assert service_kpis(con, MARCH, target_minutes=20)["first_response_within_target"] == pytest.approx(0.4)


def test_return_figures_by_hand(con):
    values = service_kpis(con, MARCH)
    # March's valid orders hold 2 + 1 + 1 + 4 = 8 units and 200 + 50 + 100 + 100 = 450 of sales; their returns are
    # o1's P1 (1 unit, 100, 3 days) and o2's P1 (1 unit, 100, 10 days); o5's is February's.
    assert values["return_rate"] == pytest.approx(2 / 8)
    assert values["return_value_rate"] == pytest.approx(200 / 450)
    assert values["seven_day_return_share"] == pytest.approx(1 / 2)  # o1's within 7 days, o2's not


def test_returns_by_product_category_and_reason(con):
    # Shoes sold 3 units (o1 2, o2 1) for 300 and 2 came back for 200 refunded; bags had no returns.
    assert returns_by(con, MARCH, "category").rows() == [("shoes", 2, 200.0, 3, 300.0, 2 / 3, 2 / 3)]
    assert returns_by(con, MARCH, "sku").rows() == [("P1", 2, 200.0, 3, 300.0, 2 / 3, 2 / 3)]
    # A reason's rate is over all of the period's units (8) and sales (450); ties by name.
    assert returns_by(con, MARCH, "reason").rows() == [
        ("quality", 1, 100.0, 8, 450.0, 1 / 8, 100 / 450),
        ("size_fit", 1, 100.0, 8, 450.0, 1 / 8, 100 / 450),
    ]
    with pytest.raises(ValueError, match="returns split by"):
        returns_by(con, MARCH, "region")


def test_monthly_series_by_hand(con):
    series = service_series(con, date(2024, 2, 1), date(2024, 3, 31), "month")
    february, march = series.rows(named=True)
    assert (february["period"], march["period"]) == (date(2024, 2, 1), date(2024, 3, 1))
    # February: t6 (5 minutes, rated 4) and o5 (1 unit, returned within 2 days) → 100 complaints per 100 orders.
    assert (february["tickets"], february["first_response_minutes"], february["satisfaction"]) == (1, 5.0, 4.0)
    assert (february["complaint_rate"], february["return_rate"], february["seven_day_return_share"]) == (100, 1, 1)
    assert march["tickets"] == 5 and march["complaint_rate"] == pytest.approx(100 / 3)


def test_an_empty_period_and_a_shop_without_tickets_or_returns(con, tmp_path):
    january = service_kpis(con, Period(date(2024, 1, 1), date(2024, 1, 31)))
    # Tickets and returns are loaded, but none fall in January, which has no orders either: counts are 0, ratios
    # and medians over nothing are null.
    assert january["tickets"] == 0
    assert all(january[name] is None for name in january if name != "tickets")
    without = duckdb.connect(str(service_shop(tmp_path / "bare.duckdb", tickets=False, returns=False)), read_only=True)
    values = service_kpis(without, MARCH)
    # The shop never gave tickets or returns: every figure is null (not 0), though March has orders.
    assert all(value is None for value in values.values())
    only_returns = duckdb.connect(str(service_shop(tmp_path / "returns.duckdb", tickets=False)), read_only=True)
    values = service_kpis(only_returns, MARCH)
    assert values["complaint_rate"] is None and values["return_rate"] == pytest.approx(2 / 8)


def test_readme_lists_every_service_figure():
    from metrics.registry import README_PATH

    readme = README_PATH.read_text(encoding="utf-8")
    start, end = readme.find(README_START), readme.find(README_END)
    assert 0 <= start < end, f"README.md has no {README_START} … {README_END} block"
    assert readme[start + len(README_START) : end].strip() == definitions_markdown().strip()
    assert all(f"| `{m.name}` | {m.label_en} | {m.label_zh} |" in readme for m in SERVICE_METRICS)


def test_comparison_with_another_period_by_hand(con):
    february = Period(date(2024, 2, 1), date(2024, 2, 29))
    rows = {row["metric"]: row for row in service_comparison(con, MARCH, february).iter_rows(named=True)}
    assert list(rows) == [m.name for m in SERVICE_METRICS]
    # Tickets 5 against 1 (t6): +400%; first response median 25 against 5 minutes: +400%.
    assert (rows["tickets"]["value"], rows["tickets"]["previous"], rows["tickets"]["change"]) == (5, 1, 4.0)
    assert rows["first_response_minutes"]["change"] == pytest.approx(4.0)
    # February had no inquiry: its conversion is null, and so is the change.
    assert rows["inquiry_conversion_rate"]["previous"] is None and rows["inquiry_conversion_rate"]["change"] is None
