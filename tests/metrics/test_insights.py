"""What changed and alerts (metrics/insights.py) on hand-made numbers worked out in comments."""

from __future__ import annotations

import math

import polars as pl
import pytest

from metrics.insights import DRIVER_FACTORS, DRIVER_LABELS, DRIVER_METRICS, decompose_change, kpi_alerts, movers
from metrics.registry import DECOMPOSITION_RATIOS, METRICS, definitions_markdown, metric, value_of
from metrics.targets import Target


def test_revenue_change_splits_into_sessions_conversion_and_order_value() -> None:
    # Before: 1,000 sessions, 20 orders, 2,000 revenue → 0.02 orders per session, 100 per order.
    # After: 1,200 sessions, 30 orders, 2,700 revenue → 0.025 orders per session, 90 per order.
    # Sessions first: (1,200 − 1,000) × 0.02 × 100 = 400.
    # Then conversion: 1,200 × (0.025 − 0.02) × 100 = 600.
    # Then order value: 1,200 × 0.025 × (90 − 100) = −300.  400 + 600 − 300 = 700 = 2,700 − 2,000.
    before = {"sessions": 1000, "orders": 20, "total_revenue": 2000.0}
    after = {"sessions": 1200, "orders": 30, "total_revenue": 2700.0}
    table = {r["driver"]: r for r in decompose_change(before, after).iter_rows(named=True)}
    assert math.isclose(table["sessions"]["effect"], 400)
    assert math.isclose(table["conversion"]["effect"], 600)
    assert math.isclose(table["order_value"]["effect"], -300)
    assert (table["total"]["before"], table["total"]["after"], table["total"]["effect"]) == (2000, 2700, 700)
    assert (table["conversion"]["before"], table["order_value"]["after"]) == (0.02, 90)


def test_no_sessions_before_means_the_change_cannot_be_split() -> None:
    # A ratio over nothing is undefined (SPEC §4), so the identity has no factors to change: effects are null.
    table = decompose_change(
        {"sessions": 0, "orders": 0, "total_revenue": 0.0}, {"sessions": 10, "orders": 1, "total_revenue": 50.0}
    )
    assert table.filter(pl.col("driver") != "total")["effect"].to_list() == [None, None, None]
    assert table.filter(pl.col("driver") == "total")["effect"].item() == 50


def test_movers_rank_groups_by_absolute_revenue_change() -> None:
    # a: 100 → 80 (−20); b: 50 → 150 (+100); c: new, 0 → 30 (+30). Total change +110; b explains 100/110.
    before = pl.DataFrame({"group": ["a", "b"], "total_revenue": [100.0, 50.0], "sessions": [10, 5], "orders": [2, 1]})
    after = pl.DataFrame(
        {"group": ["a", "b", "c"], "total_revenue": [80.0, 150.0, 30.0], "sessions": [9, 12, 3], "orders": [2, 3, 1]}
    )
    ranked = movers(before, after)
    assert ranked["group"].to_list() == ["b", "c", "a"]
    assert ranked["revenue_change"].to_list() == [100, 30, -20]
    assert ranked["sessions_change"].to_list() == [7, 3, -1]
    assert ranked["share_of_change"][0] == pytest.approx(100 / 110)


def test_alerts_list_off_then_near_target_kpis() -> None:
    targets = {
        "conversion_rate": Target("conversion_rate", 0.02, 0.05),
        "aov": Target("aov", 100, 300),
        "cart_conversion_rate": Target("cart_conversion_rate", 0.30, 0.50),
    }
    # conversion 1.5% misses 2% by 0.5 points, more than 10% of 2% (0.2 points): off.
    # AOV 95 misses 100 by 5, within 10% of 100: near. Cart conversion 40% is inside 30–50%: on, no alert.
    # Sessions has no target: never an alert.
    values = {"conversion_rate": 0.015, "aov": 95.0, "cart_conversion_rate": 0.4, "sessions": 3}
    alerts = kpi_alerts(values, targets, ["sessions", "aov", "conversion_rate", "cart_conversion_rate"])
    assert alerts.select("metric", "status").rows() == [("conversion_rate", "off"), ("aov", "near")]
    assert alerts["target"].to_list() == ["2.0%–5.0%", "100.00–300.00"]


def test_an_undefined_kpi_is_not_an_alert() -> None:
    targets = {"aov": Target("aov", 100, 300)}
    assert kpi_alerts({"aov": None}, targets, ["aov"]).is_empty()


def test_the_factors_are_the_registrys_ratios_not_its_kpis() -> None:
    # insights computes nothing the registry does not define: each factor is a registry entry with its formula.
    assert DRIVER_FACTORS == {
        "sessions": "sessions",
        "conversion": "orders_per_session",
        "order_value": "revenue_per_order",
    }
    assert (metric("orders_per_session").numerator, metric("orders_per_session").denominator) == ("orders", "sessions")
    assert (metric("revenue_per_order").numerator, metric("revenue_per_order").denominator) == (
        "total_revenue",
        "orders",
    )
    assert set(DRIVER_METRICS) == {"total_revenue", "sessions", "orders"}
    # Labels in both languages come from the registry (the Overview's waterfall and lines read DRIVER_LABELS).
    assert DRIVER_LABELS == {
        "sessions": ("Sessions", "访问次数"),
        "conversion": ("Orders per session", "每次访问订单数"),
        "order_value": ("Revenue per order", "每单收入"),
    }
    for name, entry in DECOMPOSITION_RATIOS.items():
        assert entry.description and entry.description_zh, name
        # Not KPIs: neither computed by compute_kpis / `shopkpi kpis` nor listed in the README's KPI table.
        assert name not in METRICS and f"`{name}`" not in definitions_markdown()
    # Not the registry's conversion rate (converted sessions / sessions) nor its AOV ((gross − discounts) / orders).
    assert metric("conversion_rate").numerator != metric("orders_per_session").numerator
    assert metric("aov").numerator != metric("revenue_per_order").numerator


def test_factor_values_follow_the_registry_definitions() -> None:
    # 1,200 sessions, 30 orders, 2,700 revenue: 30 / 1,200 = 0.025 orders per session, 2,700 / 30 = 90 per order.
    parts = {"sessions": 1200, "orders": 30, "total_revenue": 2700.0}
    assert value_of("orders_per_session", parts) == 0.025 and value_of("revenue_per_order", parts) == 90
    table = {r["driver"]: r for r in decompose_change(parts, parts).iter_rows(named=True)}
    assert (table["conversion"]["after"], table["order_value"]["after"]) == (0.025, 90)
    # A ratio over nothing is null, as everywhere in the registry; a missing part makes the ratio missing too.
    assert value_of("revenue_per_order", {"total_revenue": 5.0, "orders": 0}) is None
    assert value_of("orders_per_session", {"orders": None, "sessions": 10}) is None
    # The same evaluation reads the KPIs' own formulas: aov = (gross_sales − discounts) / orders = (100 − 10) / 3.
    assert value_of("aov", {"gross_sales": 100.0, "discounts": 10.0, "orders": 3}) == 30
    assert value_of("net_sales", {"gross_sales": 100.0, "discounts": 10.0, "refunds": 5.0}) == 85
