"""The Service page's chart builder without Streamlit: one line per figure, the target as a dashed line, the axis in
the first figure's unit, a missing week a gap, names from the data kept as typed."""

from __future__ import annotations

from datetime import date

import polars as pl

from shopkpi.ui.service_charts import service_trend
from tests.support.vega import drawn

SERIES = pl.DataFrame(
    {
        "period": [date(2024, 6, 3), date(2024, 6, 10)],
        "first_response_minutes": [12.5, None],
        "return_rate": [0.04, 0.05],
    }
)


def test_response_minutes_with_the_target_line():
    spec = service_trend(SERIES, ["first_response_minutes"], ["<b>First response</b>"], target=30, target_label="目标")
    rows = drawn(spec)
    # A week without an answer is a gap (null), not 0; the label is kept as typed (Vega draws no markup).
    assert [(r["series"], r["x"], r["value"]) for r in rows] == [
        ("<b>First response</b>", "2024-06-03", 12.5),
        ("<b>First response</b>", "2024-06-10", None),
    ]
    assert [r["tip"] for r in rows] == [
        "<b>First response</b> · 2024-06-03: 12.5",
        "<b>First response</b> · 2024-06-10: —",
    ]
    lines, rule, label = spec["layer"]
    assert lines["encoding"]["y"]["axis"]["format"] == ",.1f"  # minutes: a decimal
    assert rule["mark"]["strokeDash"] and rule["data"]["values"] == [{"value": 30, "label": "目标"}]
    assert label["encoding"]["text"] == {"field": "label"}


def test_shares_use_the_rate_axis_and_no_target():
    spec = service_trend(SERIES, ["return_rate"], ["Return rate"])
    rows = drawn(spec)
    assert [r["tip"] for r in rows] == ["Return rate · 2024-06-03: 4.0%", "Return rate · 2024-06-10: 5.0%"]
    [lines] = spec["layer"]
    assert lines["encoding"]["y"]["axis"]["format"] == ".1%"
