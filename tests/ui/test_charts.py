"""Chart builders (shopkpi/ui/charts.py): plain DataFrame → Figure functions, checked without Streamlit."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from metrics.insights import decompose_change
from shopkpi.ui import charts


def test_bars_put_the_largest_on_top_and_name_a_missing_group() -> None:
    frame = pl.DataFrame({"group": ["social", None, "email"], "total_revenue": [50.0, 5.0, 80.0]})
    figure = charts.bars(frame, "group", "total_revenue", "Revenue")
    bar = figure.data[0]
    # Horizontal bars are drawn bottom-up, so ascending order puts email (80) at the top.
    assert list(bar.y) == ["(none)", "social", "email"]
    assert list(bar.x) == [5.0, 50.0, 80.0]
    assert bar.orientation == "h"
    assert figure.layout.title.text == "Revenue"


def test_trend_lines_draw_one_line_per_group() -> None:
    series = pl.DataFrame(
        {
            "period": [date(2024, 1, 1), date(2024, 1, 2)] * 2,
            "group": ["a", "a", "b", "b"],
            "sessions": [1, 2, 3, 4],
        }
    )
    figure = charts.trend_lines(series, "sessions")
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[1].y) == [3, 4]


def test_pnl_waterfall_subtracts_costs_and_draws_subtotals_as_totals() -> None:
    lines = pl.DataFrame(
        {
            "label": ["Gross sales", "Discounts", "Net sales", "Gross margin", "Cost of goods sold", "Gross profit"],
            "sign": [1, -1, 1, 0, -1, 1],
            "subtotal": [False, False, True, False, False, True],
            "value": [100.0, 10.0, 90.0, 0.5, 40.0, 50.0],
        }
    )
    waterfall = charts.waterfall(lines).data[0]
    # The margin line (sign 0) is not an amount: left out. Discounts and COGS fall by their value.
    assert list(waterfall.x) == ["Gross sales", "Discounts", "Net sales", "Cost of goods sold", "Gross profit"]
    assert list(waterfall.measure) == ["absolute", "relative", "total", "relative", "total"]
    assert list(waterfall.y) == [100.0, -10.0, 90.0, -40.0, 50.0]


def test_drivers_waterfall_walks_from_before_to_after() -> None:
    drivers = decompose_change(
        {"sessions": 1000, "orders": 20, "total_revenue": 2000.0},
        {"sessions": 1200, "orders": 30, "total_revenue": 2700.0},
    )
    steps = charts.drivers_waterfall(drivers, {"before": "Before", "after": "Now"})["data"]["values"]
    assert [step["label"] for step in steps] == ["Before", "sessions", "conversion", "order_value", "Now"]
    # By hand: sessions +20% at 2 % and 100 per order: +400; conversion 2 % → 2.5 % at 1,200 sessions: +600; order
    # value 100 → 90 on 30 orders: −300. Each step starts where the one before ended; the totals stand on zero.
    assert [(round(step["start"]), round(step["end"])) for step in steps] == [
        (0, 2000),
        (2000, 2400),
        (2400, 3000),
        (3000, 2700),
        (0, 2700),
    ]
    assert [step["kind"] for step in steps] == ["total", "up", "up", "down", "total"]
    assert [step["tip"] for step in steps] == [
        "Before: 2,000",
        "sessions: +400",
        "conversion: +600",
        "order_value: -300",
        "Now: 2,700",
    ]


def test_cohort_heatmap_has_one_row_per_cohort_and_leaves_incomplete_months_blank() -> None:
    activity = pl.DataFrame(
        {
            "cohort": [date(2024, 1, 1)] * 3 + [date(2024, 2, 1)] * 2,
            "month_offset": [0, 1, 2, 0, 1],
            "retention": [1.0, 0.25, None, 1.0, 0.5],
        }
    )
    heatmap = charts.cohort_heatmap(activity, months=2).data[0]
    assert list(heatmap.y) == ["2024-01", "2024-02"]
    assert list(heatmap.x) == ["+1", "+2"]
    assert [list(row) for row in heatmap.z] == [[0.25, None], [0.5, None]]
    assert heatmap.text[0][1] == ""


def test_funnel_and_stacked_and_compare_and_lines_and_sparkline_build() -> None:
    steps = pl.DataFrame({"step": ["page_view", "purchase"], "sessions": [100, 4]})
    assert list(charts.funnel_chart(steps, ["Viewed", "Bought"]).data[0].x) == [100, 4]
    months = pl.DataFrame({"period": [date(2024, 1, 1)] * 2, "group": ["new", None], "total_revenue": [10.0, 2.0]})
    stacked = charts.stacked_bars(months, "period", "group", "total_revenue", {"new": "New", None: "Guest"})
    assert [t.name for t in stacked.data] == ["New", "Guest"] and stacked.layout.barmode == "stack"
    pnl = pl.DataFrame({"month": ["2024-01"], "this_year": [5.0], "last_year": [4.0], "net_margin": [0.1]})
    assert len(charts.compare_bars(pnl, "month", ["this_year", "last_year"], ["This", "Last"]).data) == 2
    assert charts.lines_over_time(pnl, ["net_margin"], ["Net margin"]).layout.yaxis.tickformat == ".0%"
    spark = charts.sparkline(pl.DataFrame({"period": [1, 2], "sessions": [3, 4]}), "sessions")
    assert isinstance(spark, go.Figure) and spark.layout.height == 60


def test_axes_and_hovers_take_the_metrics_unit_formats() -> None:
    # Formats come from metrics/units.py through the metric's unit: a chart reads like the table next to it.
    from metrics.units import UNITS

    frame = pl.DataFrame({"group": ["a"], "conversion_rate": [0.04], "gross_margin": [0.3], "orders": [5]})
    rate = charts.bars(frame, "group", "conversion_rate")
    assert rate.layout.xaxis.tickformat == UNITS["rate"].axis == ".1%" and ":.1%}" in rate.data[0].hovertemplate
    assert charts.bars(frame, "group", "gross_margin").layout.xaxis.tickformat == ".0%"  # margins: whole percents
    assert charts.bars(frame, "group", "orders").layout.xaxis.tickformat == ",.0f"
    bars = pl.DataFrame({"month": ["2024-01"], "this_year": [5.0], "last_year": [4.0]})
    compare = charts.compare_bars(bars, "month", ["this_year", "last_year"], ["This", "Last"], metric="orders")
    assert compare.layout.yaxis.tickformat == ",.0f"
    steps = pl.DataFrame({"step": ["page_view", "purchase"], "sessions": [100, 4]})
    assert (
        charts.funnel_chart(steps, ["Viewed", "Bought"]).data[0].texttemplate
        == "%{value:,.0f}<br>%{percentInitial:.0%}"
    )


# Issue 17, item 6: names from the data are text. Plotly draws a subset of HTML in every text it shows (categories,
# legends, titles, hovers, annotations): a source named like HOSTILE was a clickable link on the Traffic chart.
HOSTILE = '<a href="https://evil.example/x">linksrc</a> <b>bold</b><br>&amp;'
INERT = '&lt;a href="https://evil.example/x"&gt;linksrc&lt;/a&gt; &lt;b&gt;bold&lt;/b&gt;&lt;br&gt;&amp;amp;'


def _texts(figure: go.Figure) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(figure.to_plotly_json())
    return found


def _assert_inert(figure: go.Figure, places: int) -> None:
    texts = _texts(figure)
    assert not [t for t in texts if "<a " in t or "<b>" in t], "the name's markup reached the figure"
    # Each place the name was put shows it escaped: the browser reads &lt; as "<", so the name shows as typed.
    assert sum(t.count(INERT) for t in texts) >= places, [t for t in texts if "linksrc" in t]


def test_names_from_the_data_are_drawn_as_text_in_every_chart() -> None:
    frame = pl.DataFrame({"group": [HOSTILE, "email"], "total_revenue": [50.0, 80.0]})
    _assert_inert(charts.bars(frame, "group", "total_revenue", HOSTILE, HOSTILE), 3)  # category, legend, title
    series = pl.DataFrame({"period": [date(2024, 1, 1)] * 2, "group": [HOSTILE, None], "sessions": [1, 2]})
    _assert_inert(charts.trend_lines(series, "sessions"), 1)
    funnel = pl.DataFrame(
        {
            "group": [HOSTILE, HOSTILE],
            "step": ["page_view", "purchase"],
            "step_number": [1, 2],
            "sessions": [10, 1],
            "rate_from_start": [1.0, 0.1],
        }
    )
    _assert_inert(charts.funnel_by_group(funnel, {"page_view": HOSTILE}), 2)
    _assert_inert(charts.funnel_chart(funnel, [HOSTILE, "Bought"]), 1)
    lines = pl.DataFrame({"label": [HOSTILE], "sign": [1], "subtotal": [False], "value": [1.0]})
    _assert_inert(charts.waterfall(lines), 1)
    months = pl.DataFrame({"month": [HOSTILE], "a": [1.0], "b": [2.0], "group": [HOSTILE]})
    _assert_inert(charts.compare_bars(months, "month", ["a", "b"], [HOSTILE, "b"]), 3)
    _assert_inert(charts.lines_over_time(months, ["a"], [HOSTILE]), 2)
    _assert_inert(charts.stacked_bars(months, "month", "group", "a"), 2)
    drivers = decompose_change(
        {"sessions": 1000, "orders": 20, "total_revenue": 2000.0},
        {"sessions": 1200, "orders": 30, "total_revenue": 2700.0},
    )
    # Vega draws a label as its characters (no markup): it is kept as it is, not escaped into "&lt;a …".
    steps = charts.drivers_waterfall(drivers, {"before": HOSTILE})["data"]["values"]
    assert steps[0]["label"] == HOSTILE


def test_a_clicked_category_reads_back_as_the_name_it_was_made_from() -> None:
    # The Traffic page filters by the clicked bar's label: plain() undoes inert(), even for names holding entities.
    for name in (HOSTILE, "a &lt; b", "&copy; shop", "plain"):
        assert charts.plain(charts.inert(name)) == name
    frame = pl.DataFrame({"group": [HOSTILE], "total_revenue": [1.0]})
    assert charts.plain(charts.bars(frame, "group", "total_revenue").data[0].y[0]) == HOSTILE


def test_report_charts_write_names_as_svg_text() -> None:
    from shopkpi.reports import charts as report_charts

    svg = report_charts.bars(pl.DataFrame({"group": [HOSTILE], "sessions": [3]}), "group", "sessions", HOSTILE)
    assert "<a " not in svg and "<b>" not in svg
    assert "&lt;a href=" in svg
