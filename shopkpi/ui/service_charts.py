"""Chart builders of the Service page: plain functions DataFrame -> plotly Figure, testable without Streamlit, in the
dashboard's template and colours (shopkpi/ui/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from metrics.service import SERVICE
from shopkpi.ui.charts import BAD, COLORS, _layout, inert


def service_trend(
    series: pl.DataFrame,
    names: Sequence[str],
    labels: Sequence[str],
    title: str | None = None,
    target: float | None = None,
    target_label: str = "target",
) -> go.Figure:
    """One line per service figure of `names` over `series`' period column (one unit: the first figure's), with a
    dashed line at `target` when given."""
    figure = go.Figure()
    for index, (name, label) in enumerate(zip(names, labels, strict=True)):
        figure.add_scatter(
            x=series.get_column("period").to_list(),
            y=series.get_column(name).to_list(),
            name=inert(label),
            mode="lines+markers",
            line={"color": COLORS[index % len(COLORS)], "width": 2},
        )
    if target is not None:
        figure.add_hline(y=target, line={"color": BAD, "dash": "dash", "width": 1}, annotation_text=inert(target_label))
    if names:
        figure.update_yaxes(tickformat=SERVICE[names[0]].formats.axis, rangemode="tozero")
    return _layout(figure, title)
