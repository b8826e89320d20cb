"""Chart builders (shopkpi/ui/charts.py): plain DataFrame → Vega-Lite spec functions, checked without Streamlit by
the data each spec draws (worked out by hand) and against Vega-Lite's schema."""

from __future__ import annotations

from datetime import date

import polars as pl

from metrics.insights import decompose_change
from shopkpi.ui import charts
from tests.support.vega import column, drawn, valid


def test_bars_put_the_largest_on_top_and_name_a_missing_group() -> None:
    frame = pl.DataFrame({"group": ["social", None, "email", "sms"], "total_revenue": [50.0, 5.0, 80.0, None]})
    spec = charts.bars(frame, "group", "total_revenue", "Revenue", "Revenue (axis)")
    rows = drawn(spec)
    # Vega draws a nominal axis top-down in the data's order: largest first, the unknown amount (no bar) last.
    assert column(rows, "label") == ["email", "social", "(none)", "sms"]
    assert column(rows, "value") == [80.0, 50.0, 5.0, None]
    assert column(rows, "tip") == ["email: 80", "social: 50", "(none): 5", "sms: —"]  # money on the axis: ",.0f"
    assert spec["encoding"]["y"]["sort"] is None and spec["encoding"]["x"]["axis"]["title"] == "Revenue (axis)"
    assert spec["title"]["text"] == "Revenue"
    assert spec["height"] == 220  # 36 px a bar + 60 makes 204 for four: the least height, 220
    assert "params" not in spec  # not selectable unless asked


def test_a_selectable_bar_chart_says_which_bar_was_clicked() -> None:
    frame = pl.DataFrame({"group": ["email", None], "sessions": [3, 2]})
    spec = charts.bars(frame, "group", "sessions", selectable=True)
    drawn(spec)
    assert spec["params"] == [{"name": charts.PICK, "select": {"type": "point", "fields": ["label"]}}]
    # The state st.vega_lite_chart returns: the point selection lists the clicked rows' fields; {} once unselected.
    assert charts.picked({"selection": {charts.PICK: [{"label": "(none)"}]}}) == "(none)"
    assert charts.picked({"selection": {charts.PICK: {}}}) is None
    assert charts.picked({"selection": {}}) is None


def test_trend_lines_draw_one_line_per_group_with_gaps() -> None:
    series = pl.DataFrame(
        {
            "period": [date(2024, 1, 2), date(2024, 1, 1)] * 2 + [date(2024, 1, 1)],
            "group": ["a", "a", "b", "b", None],
            "sessions": [2, 1, None, 3, 7],
        }
    )
    spec = charts.trend_lines(series, "sessions")
    rows = drawn(spec)
    # Each group's points in time order; b's missing day stays null (a break in the line, not a drop to 0).
    assert [(r["series"], r["x"], r["value"]) for r in rows] == [
        ("a", "2024-01-01", 1),
        ("a", "2024-01-02", 2),
        ("b", "2024-01-01", 3),
        ("b", "2024-01-02", None),
        ("(none)", "2024-01-01", 7),
    ]
    assert rows[3]["tip"] == "b · 2024-01-02: —" and rows[0]["tip"] == "a · 2024-01-01: 1"
    line, points = spec["layer"]
    assert spec["encoding"]["x"]["type"] == "temporal" and spec["encoding"]["x"]["scale"] == {"type": "utc"}
    color = spec["encoding"]["color"]
    assert color["scale"] == {"domain": ["a", "b", "(none)"], "range": list(charts.COLORS[:3])}
    assert color["legend"]["orient"] == "bottom"
    assert points["encoding"]["tooltip"]["field"] == "tip"
    one = charts.trend_lines(series.filter(pl.col("group") == "a"), "sessions")
    assert one["encoding"]["color"]["legend"] is None  # one line: no legend, as before


def test_pnl_waterfall_subtracts_costs_and_draws_subtotals_as_totals() -> None:
    lines = pl.DataFrame(
        {
            "label": ["Gross sales", "Discounts", "Net sales", "Gross margin", "Cost of goods sold", "Gross profit"],
            "sign": [1, -1, 1, 0, -1, 1],
            "subtotal": [False, False, True, False, False, True],
            "value": [100.0, 10.0, 90.0, 0.5, 40.0, 50.0],
        }
    )
    rows = drawn(charts.waterfall(lines))
    # The margin line (sign 0) is not an amount: left out. 100 → −10 → 90 (subtotal, on 0) → −40 → 50 (on 0).
    assert column(rows, "label") == ["Gross sales", "Discounts", "Net sales", "Cost of goods sold", "Gross profit"]
    assert [(r["start"], r["end"]) for r in rows] == [(0, 100), (100, 90), (0, 90), (90, 50), (0, 50)]
    assert column(rows, "kind") == ["total", "down", "total", "down", "total"]
    assert column(rows, "tip") == [
        "Gross sales: 100.00",
        "Discounts: -10.00",
        "Net sales: 90.00",
        "Cost of goods sold: -40.00",
        "Gross profit: 50.00",
    ]


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
    spec = charts.cohort_heatmap(activity, months=2, tip="{cohort} +{offset}: {value}")
    rows = drawn(spec)
    # Month 0 (everyone, by definition) is not drawn; Jan's +2 is unknown and Feb has no +2 yet: both blank.
    assert [(r["cohort"], r["offset"], r["value"], r["text"]) for r in rows] == [
        ("2024-01", "+1", 0.25, "25%"),
        ("2024-01", "+2", None, ""),
        ("2024-02", "+1", 0.5, "50%"),
        ("2024-02", "+2", None, ""),
    ]
    assert rows[0]["tip"] == "2024-01 ++1: 25.0%" and rows[1]["tip"] == "2024-01 ++2: —"
    assert spec["encoding"]["x"]["scale"]["domain"] == ["+1", "+2"]  # every column, even one with no value
    assert spec["encoding"]["y"]["scale"]["domain"] == ["2024-01", "2024-02"]  # oldest on top
    # The cells' text is white where the blue is dark: above half the largest retention (0.5).
    assert spec["layer"][1]["encoding"]["color"]["condition"]["test"] == "datum.value > 0.25"


def test_funnel_chart_centres_each_step_and_labels_it_with_its_share_of_the_first() -> None:
    steps = pl.DataFrame({"step": ["page_view", "cart", "purchase"], "sessions": [100, 40, 4]})
    rows = drawn(charts.funnel_chart(steps, ["Viewed", "Carted", "Bought"], "email"))
    assert [(r["start"], r["end"]) for r in rows] == [(-50, 50), (-20, 20), (-2, 2)]
    assert column(rows, "text") == ["100\n100%", "40\n40%", "4\n4%"]
    assert column(rows, "tip") == ["Viewed: 100 · 100%", "Carted: 40 · 40%", "Bought: 4 · 4%"]
    # A step of a quarter of the first or more has its text inside the bar, a narrower one after its end.
    assert column(rows, "share") == [1.0, 0.4, 0.04]


def test_funnel_by_group_draws_the_top_groups_on_a_log_axis() -> None:
    funnel = pl.DataFrame(
        {
            "group": ["small", "small", "big", "big", None, None],
            "step": ["page_view", "purchase"] * 3,
            "step_number": [1, 2] * 3,
            "sessions": [10, 0, 100, 5, 50, 1],
            "rate_from_start": [1.0, 0.0, 1.0, 0.05, 1.0, 0.02],
        }
    )
    spec = charts.funnel_by_group(funnel, {"page_view": "Viewed", "purchase": "Bought"}, top=2)
    rows = drawn(spec)
    # The two groups with the most first-step sessions: big (100), then the unnamed one (50); small is left out.
    assert [(r["series"], r["step"], r["value"]) for r in rows] == [
        ("big", "Viewed", 1.0),
        ("big", "Bought", 0.05),
        ("(none)", "Viewed", 1.0),
        ("(none)", "Bought", 0.02),
    ]
    assert column(rows, "tip")[1] == "big · Bought: 5%"
    # The bars stand on the power of ten below the smallest share (2 %): 1 %. (Exactly 10 % would stand on 1 %.)
    assert spec["encoding"]["y"]["scale"] == {"type": "log", "domainMin": 0.01}
    assert spec["encoding"]["y2"] == {"datum": 0.01}
    assert spec["encoding"]["y"]["axis"]["values"] == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    # A share of 0 has no bar on a log axis, but says 0% on hover.
    zero = drawn(charts.funnel_by_group(funnel.filter(pl.col("group") == "small"), {}))
    assert [(r["value"], r["tip"]) for r in zero] == [(1.0, "small · page_view: 100%"), (None, "small · purchase: 0%")]
    one = charts.funnel_by_group(funnel.filter(pl.col("group") == "small"), {})
    assert one["encoding"]["y2"] == {"datum": 0.1}  # the only share is 100 %: its bar stands on 10 %


def test_stacked_bars_stack_the_groups_in_order_per_month() -> None:
    months = pl.DataFrame(
        {
            "period": [date(2024, 2, 1), date(2024, 1, 1), date(2024, 2, 1)],
            "group": ["new", "new", None],
            "total_revenue": [10.0, 8.0, 2.0],
        }
    )
    spec = charts.stacked_bars(months, "period", "group", "total_revenue", {"new": "New", None: "Guest"}, "Revenue")
    rows = drawn(spec)
    assert [(r["series"], r["rank"], r["x"], r["value"]) for r in rows] == [
        ("New", 0, "2024-01", 8.0),
        ("New", 0, "2024-02", 10.0),
        ("Guest", 1, "2024-02", 2.0),
    ]
    encoding = spec["encoding"]
    assert encoding["x"]["sort"] == ["2024-01", "2024-02"] and encoding["y"]["stack"] == "zero"
    assert encoding["order"]["field"] == "rank"  # New at the bottom, as the first group
    assert encoding["color"]["scale"]["domain"] == ["New", "Guest"]
    assert rows[2]["tip"] == "Guest · 2024-02: 2"


def test_compare_bars_put_the_series_side_by_side_and_leave_a_missing_year_out() -> None:
    pnl = pl.DataFrame({"month": ["2024-01", "2024-02"], "this_year": [5.0, 6.0], "last_year": [4.0, None]})
    spec = charts.compare_bars(pnl, "month", ["this_year", "last_year"], ["This", "Last"])
    rows = drawn(spec)
    assert [(r["series"], r["x"], r["value"]) for r in rows] == [
        ("This", "2024-01", 5.0),
        ("Last", "2024-01", 4.0),
        ("This", "2024-02", 6.0),
        ("Last", "2024-02", None),
    ]
    assert spec["encoding"]["xOffset"]["field"] == "series" and spec["encoding"]["y"]["stack"] is None
    assert rows[3]["tip"] == "Last · 2024-02: —"


def test_lines_over_time_draw_one_line_per_metric_with_points() -> None:
    pnl = pl.DataFrame({"month": ["2024-01", "2024-02"], "gross_margin": [0.5, None], "net_margin": [0.1, 0.12]})
    spec = charts.lines_over_time(pnl, ["gross_margin", "net_margin"], ["Gross", "Net"])
    rows = drawn(spec)
    assert [(r["series"], r["x"], r["value"]) for r in rows] == [
        ("Gross", "2024-01", 0.5),
        ("Gross", "2024-02", None),
        ("Net", "2024-01", 0.1),
        ("Net", "2024-02", 0.12),
    ]
    line, points = spec["layer"]
    assert spec["encoding"]["x"]["type"] == "ordinal" and spec["encoding"]["y"]["axis"]["format"] == ".0%"
    assert "opacity" not in points["mark"]  # the points are drawn, as lines+markers were
    assert rows[3]["tip"] == "Net · 2024-02: 12%"  # margins: whole percentages


def test_axes_and_hovers_take_the_metrics_unit_formats() -> None:
    # Formats come from metrics/units.py through the metric's unit: a chart reads like the table next to it.
    from metrics.units import UNITS

    frame = pl.DataFrame({"group": ["a"], "conversion_rate": [0.04], "gross_margin": [0.3], "orders": [5]})
    rate = charts.bars(frame, "group", "conversion_rate")
    assert rate["encoding"]["x"]["axis"]["format"] == UNITS["rate"].axis == ".1%"
    assert rate["data"]["values"][0]["tip"] == "a: 4.0%"
    margin = charts.bars(frame, "group", "gross_margin")  # margins: whole percents
    assert margin["encoding"]["x"]["axis"]["format"] == ".0%" and margin["data"]["values"][0]["tip"] == "a: 30%"
    assert charts.bars(frame, "group", "orders")["encoding"]["x"]["axis"]["format"] == ",.0f"
    bars = pl.DataFrame({"month": ["2024-01"], "this_year": [5000.0], "last_year": [4.0]})
    compare = charts.compare_bars(bars, "month", ["this_year", "last_year"], ["This", "Last"], metric="orders")
    assert compare["encoding"]["y"]["axis"]["format"] == ",.0f" and compare["data"]["values"][0]["tip"].endswith(
        "5,000"
    )
    steps = pl.DataFrame({"step": ["page_view", "purchase"], "sessions": [12000, 40]})
    # Sessions as counts, the share of the first step in whole percents: 40 of 12,000 is 0.3 %, shown 0%.
    texts = column(charts.funnel_chart(steps, ["Viewed", "Bought"])["data"]["values"], "text")
    assert texts == ["12,000\n100%", "40\n0%"]


# Issue 17, item 6: names from the data are text. Vega draws every text as its characters, so a name goes into a spec
# as it is and shows as typed (Plotly, which drew the charts before, read a subset of HTML in them).
HOSTILE = '<a href="https://evil.example/x">linksrc</a> <b>bold</b><br>&amp;'


def _texts(value: object) -> list[str]:
    found: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            for part in item.values():
                walk(part)
        elif isinstance(item, list | tuple):
            for part in item:
                walk(part)

    walk(value)
    return found


def _expressions(value: object) -> list[str]:
    # Vega expressions of a spec (code, not text): labelExpr, test, calculate, filter.
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("labelExpr", "test", "calculate", "filter", "expr") and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_expressions(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_expressions(item))
    return found


def _assert_verbatim(spec: dict, places: int) -> None:
    valid(spec)
    texts = _texts(spec)
    # The name is kept as typed in each place it is shown (a category, a series, a title), never escaped.
    assert sum(t == HOSTILE or t.startswith(HOSTILE) for t in texts) >= places, [t for t in texts if "linksrc" in t]
    assert not [t for t in texts if "&lt;" in t]
    assert not [e for e in _expressions(spec) if "linksrc" in e], "a name from the data became Vega code"


def test_names_from_the_data_are_drawn_as_text_in_every_chart() -> None:
    from shopkpi.ui import forecast_charts

    frame = pl.DataFrame({"group": [HOSTILE, "email"], "total_revenue": [50.0, 80.0]})
    _assert_verbatim(charts.bars(frame, "group", "total_revenue", HOSTILE, HOSTILE, selectable=True), 4)
    series = pl.DataFrame({"period": [date(2024, 1, 1)] * 2, "group": [HOSTILE, None], "sessions": [1, 2]})
    _assert_verbatim(charts.trend_lines(series, "sessions"), 3)  # a row, a tip, the colour's domain
    funnel = pl.DataFrame(
        {
            "group": [HOSTILE, HOSTILE],
            "step": ["page_view", "purchase"],
            "step_number": [1, 2],
            "sessions": [10, 1],
            "rate_from_start": [1.0, 0.1],
        }
    )
    _assert_verbatim(charts.funnel_by_group(funnel, {"page_view": HOSTILE}), 3)
    _assert_verbatim(charts.funnel_chart(funnel, [HOSTILE, "Bought"], HOSTILE), 2)
    lines = pl.DataFrame({"label": [HOSTILE], "sign": [1], "subtotal": [False], "value": [1.0]})
    _assert_verbatim(charts.waterfall(lines, HOSTILE), 2)
    months = pl.DataFrame({"month": [HOSTILE], "a": [1.0], "b": [2.0], "group": [HOSTILE]})
    _assert_verbatim(charts.compare_bars(months, "month", ["a", "b"], [HOSTILE, "b"]), 3)
    _assert_verbatim(charts.lines_over_time(months, ["a"], [HOSTILE]), 2)
    _assert_verbatim(charts.stacked_bars(months, "month", "group", "a"), 3)
    drivers = decompose_change(
        {"sessions": 1000, "orders": 20, "total_revenue": 2000.0},
        {"sessions": 1200, "orders": 30, "total_revenue": 2700.0},
    )
    _assert_verbatim(charts.drivers_waterfall(drivers, {"before": HOSTILE}), 2)
    days = [date(2024, 1, d) for d in (1, 2, 3)]
    history = pl.DataFrame({"date": days[:2], "value": [1.0, 2.0]})
    rows = pl.DataFrame({"date": days[2:], **{c: [2.0] for c in ("forecast", "lo80", "hi80", "lo95", "hi95")}})
    events = pl.DataFrame({"date": days[1:2], "label": [HOSTILE], "phase": ["day"]})
    labels = dict.fromkeys(("band95", "band80", "history", "forecast"), HOSTILE)
    _assert_verbatim(forecast_charts.forecast_fan(history, rows, events, "total_revenue", labels), 5)


def test_a_clicked_hostile_name_reads_back_as_itself() -> None:
    # The Traffic page filters by the clicked bar's label: the selection reports the row's label as drawn.
    frame = pl.DataFrame({"group": [HOSTILE], "total_revenue": [1.0]})
    label = charts.bars(frame, "group", "total_revenue", selectable=True)["data"]["values"][0]["label"]
    assert charts.picked({"selection": {charts.PICK: [{"label": label}]}}) == HOSTILE


def test_report_charts_write_names_as_svg_text() -> None:
    from shopkpi.reports import charts as report_charts

    svg = report_charts.bars(pl.DataFrame({"group": [HOSTILE], "sessions": [3]}), "group", "sessions", HOSTILE)
    assert "<a " not in svg and "<b>" not in svg
    assert "&lt;a href=" in svg
