"""The Service page's chart builder without Streamlit: one line per figure, the target as a dashed line, the axis in
the first figure's unit, names from the data made inert."""

from __future__ import annotations

from datetime import date

import polars as pl

from shopkpi.ui.service_charts import service_trend

SERIES = pl.DataFrame(
    {
        "period": [date(2024, 6, 3), date(2024, 6, 10)],
        "first_response_minutes": [12.5, None],
        "return_rate": [0.04, 0.05],
    }
)


def test_response_minutes_with_the_target_line():
    figure = service_trend(
        SERIES, ["first_response_minutes"], ["<b>First response</b>"], target=30, target_label="目标"
    )
    [line] = figure.data
    assert list(line.y) == [12.5, None]  # a week without an answer is a gap, not 0
    assert "<b>" not in line.name  # a label is shown as its characters
    [shape] = figure.layout.shapes
    assert (shape.y0, shape.y1, shape.line.dash) == (30, 30, "dash")
    assert figure.layout.yaxis.tickformat == ",.1f"  # minutes: a decimal


def test_shares_use_the_rate_axis_and_no_target():
    figure = service_trend(SERIES, ["return_rate"], ["Return rate"])
    assert figure.layout.yaxis.tickformat == ".1%" and not figure.layout.shapes
