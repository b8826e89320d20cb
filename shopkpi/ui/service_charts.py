"""Chart builders of the Service page: plain functions DataFrame -> Vega-Lite spec, testable without Streamlit, in the
dashboard's colours and formats (shopkpi/ui/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from metrics.service import SERVICE
from shopkpi.ui.charts import BAD, _cell, _lines, _spec, _text, _x_over_time, _x_text


def service_trend(
    series: pl.DataFrame,
    names: Sequence[str],
    labels: Sequence[str],
    title: str | None = None,
    target: float | None = None,
    target_label: str = "target",
) -> dict:
    """One line per service figure of `names` over `series`' period column (one axis from 0, in the first figure's
    format), with a point at each value, and a dashed line at `target` named `target_label` when given."""
    values = []
    for name, label in zip(names, labels, strict=True):
        spec_format = SERVICE[name].formats.axis
        for at, value in series.select("period", name).iter_rows():
            tip = f"{label} · {_x_text(at)}: {_text(value, spec_format)}"
            values.append({"series": label, "x": _cell(at), "value": _cell(value), "tip": tip})
    axis = {"title": None, "format": SERVICE[names[0]].formats.axis} if names else {"title": None}
    y = {"field": "value", "type": "quantitative", "scale": {"zero": True}, "axis": axis}
    layer = [_lines(labels, y, _x_over_time(series.get_column("period")), True)]
    if target is not None:
        # Its own data: the same y scale, so the axis reaches the target even when every week is under it.
        guide = {"values": [{"value": target, "label": target_label}]}
        layer.append(
            {
                "data": guide,
                "mark": {"type": "rule", "color": BAD, "strokeDash": [6, 4], "strokeWidth": 1},
                "encoding": {"y": y},
            }
        )
        layer.append(
            {
                "data": guide,
                "mark": {
                    "type": "text",
                    "color": BAD,
                    "align": "right",
                    "baseline": "bottom",
                    "dy": -3,
                    "fontSize": 11,
                },
                "encoding": {"y": y, "x": {"value": "width"}, "text": {"field": "label"}},
            }
        )
    return _spec(title, 320, values, layer=layer)
