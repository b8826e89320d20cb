"""The Forecast page's charts (shopkpi/ui/forecast_charts.py): Vega-Lite specs, checked by the data they draw."""

from __future__ import annotations

from datetime import date

import polars as pl

from shopkpi.ui import forecast_charts
from shopkpi.ui.charts import BAD, GOOD
from tests.support.vega import valid

HOSTILE = '<a href="https://evil.example/x">linksrc</a> <b>bold</b><br>&amp;'


def _layer(spec: dict, mark: str, nth: int = 0) -> dict:
    layers = [layer for layer in valid(spec)["layer"] if layer["mark"]["type"] == mark]
    return layers[nth]


def test_the_fan_draws_history_forecast_both_bands_and_each_event_window() -> None:
    days = [date(2024, 1, d) for d in range(1, 8)]
    history = pl.DataFrame({"date": days[:4], "value": [10.0, 12.0, 11.0, 13.0]})
    rows = pl.DataFrame(
        {"date": days[4:], "forecast": [14.0] * 3, "lo80": [12.0] * 3, "hi80": [16.0] * 3}
        | {"lo95": [10.0] * 3, "hi95": [18.0] * 3}
    )
    # One event on days 2, 3 and 6 (two runs), its day on 3; a second event named with markup on day 5.
    events = pl.DataFrame(
        {
            "date": [days[1], days[2], days[5], days[4]],
            "label": ["sale", "sale", "sale", HOSTILE],
            "phase": ["ramp", "day", "after", "day"],
        }
    )
    labels = {"band95": "95%", "band80": "80%", "history": "Actual", "forecast": "Forecast"}
    spec = forecast_charts.forecast_fan(history, rows, events, "total_revenue", labels, "Revenue")

    spans = _layer(spec, "rect")["data"]["values"]
    assert [(span["date"][:10], span["end"][:10]) for span in spans] == [
        ("2024-01-02", "2024-01-03"),
        ("2024-01-06", "2024-01-06"),
        ("2024-01-05", "2024-01-05"),
    ]
    peaks = _layer(spec, "text")["data"]["values"]
    assert [(peak["date"][:10], peak["label"]) for peak in peaks] == [("2024-01-03", "sale"), ("2024-01-05", HOSTILE)]

    bands = _layer(spec, "area")["data"]["values"]
    assert [(band["series"], band["low"], band["high"]) for band in bands] == [("95%", 10.0, 18.0)] * 3 + [
        ("80%", 12.0, 16.0)
    ] * 3
    past, ahead = _layer(spec, "line", 0)["data"]["values"], _layer(spec, "line", 1)["data"]["values"]
    assert [(row["series"], row["value"]) for row in past] == [("Actual", v) for v in (10.0, 12.0, 11.0, 13.0)]
    assert [row["value"] for row in ahead] == [14.0] * 3
    assert ahead[0]["tip"] == "2024-01-05: 14 (80%: 12 – 16; 95%: 10 – 18)"
    # An ISO date on a UTC time scale, so a browser west of Greenwich still shows 5 January (charts.py's time axes).
    assert ahead[0]["date"] == "2024-01-05"
    assert _layer(spec, "line")["encoding"]["x"]["scale"] == {"type": "utc"}
    assert spec["layer"][-1]["encoding"]["tooltip"] == {"field": "tip", "type": "nominal"}
    assert _layer(spec, "line")["encoding"]["y"]["axis"]["format"] == ",.0f"
    assert spec["title"]["text"] == "Revenue"


def test_the_gauge_shows_the_projection_against_the_target_and_its_80_percent_range() -> None:
    behind = forecast_charts.pacing_gauge(100.0, 125.0, 90.0, 110.0, "Dec", versus="vs target")
    # 100 / 125 − 1 = −20 %: short of the target, so red.
    assert behind["title"]["subtitle"] == "100 (-20.0% vs target)"
    assert _layer(behind, "bar", 0)["data"]["values"] == [{"row": 0, "low": 90.0, "high": 110.0}]
    assert _layer(behind, "bar", 1)["mark"]["color"] == BAD
    assert _layer(behind, "tick")["data"]["values"] == [{"row": 0, "target": 125.0}]
    # The axis reaches past the largest of projection, range and target (125 × 1.15).
    assert _layer(behind, "bar", 1)["encoding"]["x"]["scale"]["domain"] == [0, 125.0 * 1.15]
    assert _layer(behind, "bar", 1)["encoding"]["x"]["axis"]["format"] == ",.0f"

    no_target = forecast_charts.pacing_gauge(100.0, None, 90.0, 110.0, "Dec", metric="orders")
    assert no_target["title"]["subtitle"] == "100"
    assert _layer(no_target, "bar", 1)["mark"]["color"] == GOOD
    assert not [layer for layer in no_target["layer"] if layer["mark"]["type"] == "tick"]


def test_pacing_lines_leave_out_a_line_without_values_and_its_legend_entry() -> None:
    days = pl.DataFrame(
        {
            "date": [date(2024, 1, 1), date(2024, 1, 2)],
            "actual_cum": [5.0, None],  # the month runs to the 1st
            "target_cum": [None, None],  # no target
            "projected_cum": [5.0, 9.0],
        }
    )
    labels = {"target": "Target line", "projected": "Projection", "actual": "Month to date"}
    spec = valid(forecast_charts.pacing_lines(days, labels, metric="orders"))
    assert [layer["data"]["values"][0]["series"] for layer in spec["layer"]] == ["Projection", "Month to date"]
    assert [len(layer["data"]["values"]) for layer in spec["layer"]] == [2, 1]
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["Projection", "Month to date"]
