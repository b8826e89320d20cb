"""Each unit's formats in one table (metrics/units.py): the text of a value and of a change, the chart axis, the Excel
cell and the dashboard column. These strings are what cards, tables, charts, the CLI and the reports show."""

from __future__ import annotations

import math
from datetime import date

import pytest

from metrics.registry import ENTRIES, METRICS, axis_format, format_change, format_value, metric
from metrics.units import METRIC_UNITS, MISSING, UNITS, change_text, unit

# unit: (value → text, difference → change text, axis, Excel, column)
TABLE = {
    "count": (1234.4, "1,234", 1234.0, "+1,234 (-3.2%)", ",.0f", "#,##0", "localized"),
    "money": (1234.567, "1,234.57", -1234.5, "-1,234.50 (-3.2%)", ",.0f", "#,##0.00", "localized"),
    "rate": (0.04567, "4.6%", 0.015, "+1.5 pt", ".1%", "0.0%", "percent"),
    "margin": (-0.125, "-12.5%", -0.02, "-2.0 pt", ".0%", "0.0%", "percent"),
    "ratio": (3.456, "3.46×", 0.5, "+0.50× (-3.2%)", ".2f", '0.00"×"', "%.2f×"),
    "change": (0.032, "+3.2%", None, "—", "+.1%", "+0.0%;-0.0%;0.0%", "percent"),
    "decimal": (1234.56, "1,234.6", 2.25, "+2.2 (-3.2%)", ",.1f", "#,##0.0", "%.1f"),
}


@pytest.mark.parametrize("name", TABLE)
def test_each_units_text_change_axis_excel_and_column(name):
    value, text, difference, change, axis, excel, column = TABLE[name]
    shown = unit(name)
    assert shown.text(value) == text
    # A share's change reads in points; an amount's in its own format, with the relative change where given.
    assert shown.change_text(difference, -0.032) == change
    assert (shown.axis, shown.excel, shown.column) == (axis, excel, column)


def test_the_table_covers_every_unit_and_dates():
    assert set(TABLE) | {"date"} == set(UNITS)
    assert UNITS["date"].text(date(2024, 3, 5)) == "2024-03-05"
    assert (UNITS["date"].excel, UNITS["date"].column) == ("yyyy-mm-dd", "YYYY-MM-DD")
    with pytest.raises(KeyError, match="unknown unit 'percent'; known: count"):
        unit("percent")


@pytest.mark.parametrize("value", [None, math.nan])
def test_undefined_values_and_changes_read_as_a_dash(value):
    for shown in UNITS.values():
        assert shown.text(value) == MISSING
        assert shown.change_text(value) == MISSING
    assert change_text(value) == MISSING


def test_styles_card_and_whole():
    money, rate = UNITS["money"], UNITS["rate"]
    # A card drops the cents from 10,000 on (they would not fit); smaller amounts keep them.
    assert money.text(12345.678, style="card") == "12,346"
    assert money.text(9999.5, style="card") == "9,999.50"
    assert money.text(-12345.678, style="card") == "-12,346"
    assert UNITS["count"].text(12345, style="card") == "12,345"
    assert rate.text(0.456, style="card") == "45.6%"  # only money has a card size
    assert money.text(1234.5, style="whole") == "1,234" and rate.text(0.456, style="whole") == "46%"
    # A change in whole amounts: the Overview's "revenue went from … to … (+1,235)".
    assert money.change_text(1234.56, style="whole") == "+1,235" and money.change_text(-0.4, style="whole") == "-0"
    assert UNITS["count"].change_text(-12, style="whole") == "-12" and rate.change_text(0.015, style="whole") == "+2 pt"
    for bad in (lambda: money.text(1, style="short"), lambda: money.change_text(1, style="card")):
        with pytest.raises(ValueError, match="unknown style"):
            bad()


def test_currency_follows_money_only():
    assert UNITS["money"].text(5, "CNY") == "5.00 CNY"
    assert UNITS["ratio"].text(5, "CNY") == "5.00×"
    assert UNITS["count"].text(5, "CNY") == "5"


def test_static_chart_ticks_and_labels():
    money, rate = UNITS["money"], UNITS["rate"]
    assert [money.tick_text(v) for v in (0, 2.5, 5000, 25_000, 1_000_000, 2_500_000)] == [
        "0",
        "2.5",
        "5,000",
        "25k",
        "1M",
        "2.5M",
    ]
    assert rate.tick_text(0.25) == "25%" and UNITS["margin"].tick_text(-0.1) == "-10%"
    assert money.label_text(1234.56) == "1,235" and rate.label_text(0.1234) == "12.3%"


def test_every_metric_has_a_unit_and_reads_through_it():
    for name, entry in ENTRIES.items():
        assert entry.unit in METRIC_UNITS, name
        assert entry.formats is METRIC_UNITS[entry.unit]
        assert axis_format(name) == METRIC_UNITS[entry.unit].axis
    assert format_value("aov", 247.4219) == "247.42" and format_value("aov", 247.4219, "CNY") == "247.42 CNY"
    assert format_value("roas", 3.456) == "3.46×" and format_value("conversion_rate", 0.0412) == "4.1%"
    assert format_value("net_profit", 123456.7, style="card") == "123,457"
    assert format_change("gross_margin", 0.015, 0.2) == "+1.5 pt"
    assert format_change("net_sales", 1500.0, 0.1) == "+1,500.00 (+10.0%)"
    assert axis_format("not_a_metric") == ",.2f"  # a column that is no metric: two decimals, nothing hidden
    with pytest.raises(KeyError, match="unknown metric"):
        format_value("revenue", 1.0)


def test_a_metric_may_ask_for_more_precision_than_its_unit():
    # orders per session is a few hundredths: the Overview shows 3.41%, not 3.4%.
    assert metric("orders_per_session").unit == "rate"
    assert format_value("orders_per_session", 0.03414) == "3.41%"
    assert all(not entry.value_format for entry in METRICS.values())  # no KPI overrides its unit
