"""Chart builders of the Forecast page: plain functions (frames in, plotly Figure out), testable without Streamlit.
Their texts (legend names, the calendar's event labels) are made inert as in shopkpi/ui/charts.py."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from metrics import registry
from metrics.units import CHANGE
from shopkpi.ui.charts import BAD, GOOD, TOTAL, _layout, inert

BAND95 = "rgba(37, 99, 235, 0.12)"
BAND80 = "rgba(37, 99, 235, 0.25)"
EVENT_FILL = "rgba(245, 158, 11, 0.12)"
EVENT_LINE = "#f59e0b"


def forecast_fan(
    history: pl.DataFrame,
    rows: pl.DataFrame,
    events: pl.DataFrame,
    metric: str,
    labels: dict[str, str],
    title: str | None = None,
) -> go.Figure:
    """History (date, value), the forecast with its 80% and 95% bands (date, forecast, lo80, hi80, lo95, hi95), and
    the calendar's event windows shaded with their day marked (date, label, phase)."""
    spec = registry.axis_format(metric)
    figure = go.Figure()
    dates = rows["date"].to_list()
    for low, high, fill, name in (
        ("lo95", "hi95", BAND95, labels["band95"]),
        ("lo80", "hi80", BAND80, labels["band80"]),
    ):
        figure.add_trace(
            go.Scatter(
                x=dates, y=rows[high].to_list(), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=rows[low].to_list(),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=fill,
                name=inert(name),
                hoverinfo="skip",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=history["date"].to_list(),
            y=history["value"].to_list(),
            mode="lines",
            line={"color": "#334155", "width": 1.5},
            name=inert(labels["history"]),
            hovertemplate=f"%{{x}}: %{{y:{spec}}}<extra></extra>",
        )
    )
    hover = [
        f"{d}: {f:{spec}} (80%: {lo80:{spec}} – {hi80:{spec}}; 95%: {lo95:{spec}} – {hi95:{spec}})"
        for d, f, lo80, hi80, lo95, hi95 in rows.select("date", "forecast", "lo80", "hi80", "lo95", "hi95").iter_rows()
    ]
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=rows["forecast"].to_list(),
            mode="lines",
            line={"color": TOTAL, "width": 2, "dash": "dot"},
            name=inert(labels["forecast"]),
            text=[inert(line) for line in hover],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    if not events.is_empty():
        first = history["date"].min() if history.height else rows["date"].min()
        shown = events.filter(pl.col("date") >= first)
        for (label,), window in shown.group_by(["label"], maintain_order=True):
            # One shaded span per contiguous run of days of the event.
            days = sorted(window["date"].to_list())
            start = prev = days[0]
            spans = []
            for day in days[1:]:
                if (day - prev).days > 1:
                    spans.append((start, prev))
                    start = day
                prev = day
            spans.append((start, prev))
            for begin, end in spans:
                figure.add_vrect(x0=begin, x1=end, fillcolor=EVENT_FILL, line_width=0, layer="below")
            peaks = window.filter(pl.col("phase") == "day")["date"].to_list()
            for peak in peaks:
                figure.add_vline(x=peak, line={"color": EVENT_LINE, "width": 1, "dash": "dash"})
                figure.add_annotation(
                    x=peak, y=1, yref="paper", text=inert(label), showarrow=False, font={"size": 10}, yanchor="bottom"
                )
    figure.update_yaxes(tickformat=spec, rangemode="tozero")
    return _layout(figure, title, height=380)


def pacing_gauge(
    projected: float,
    target: float | None,
    low: float,
    high: float,
    title: str | None = None,
    metric: str = "total_revenue",
) -> go.Figure:
    """The projected month-end total of `metric` against the target: the needle at the projection, the 80% range
    shaded."""
    formats = registry.metric(metric).formats
    top = max(v for v in (projected, high, target or 0) if v is not None) * 1.15 or 1.0
    steps = [{"range": [low, high], "color": "rgba(37, 99, 235, 0.15)"}]
    gauge = {
        "axis": {"range": [0, top], "tickformat": formats.axis},
        "bar": {"color": GOOD if target is None or projected >= target else BAD},
        "steps": steps,
    }
    if target is not None:
        gauge["threshold"] = {"line": {"color": "#0f172a", "width": 3}, "thickness": 0.8, "value": target}
    figure = go.Figure(
        go.Indicator(
            mode="gauge+number+delta" if target is not None else "gauge+number",
            value=projected,
            number={"valueformat": formats.rounded},
            delta={"reference": target, "relative": True, "valueformat": CHANGE.value} if target is not None else None,
            gauge=gauge,
        )
    )
    figure = _layout(figure, title, height=260)
    # Room for the tick labels at the ends of the arc (e.g. "400,000"), which the default margins clip.
    return figure.update_layout(margin={"l": 40, "r": 40})


def pacing_lines(
    days: pl.DataFrame, labels: dict[str, str], title: str | None = None, metric: str = "total_revenue"
) -> go.Figure:
    """Cumulative month to date (date, actual_cum), the target line (target_cum) and the projection (projected_cum)
    of `metric`."""
    spec = registry.axis_format(metric)
    figure = go.Figure()
    series = (
        ("target_cum", labels["target"], {"color": "#0f172a", "dash": "dash", "width": 1.5}),
        ("projected_cum", labels["projected"], {"color": TOTAL, "dash": "dot", "width": 2}),
        ("actual_cum", labels["actual"], {"color": GOOD, "width": 3}),
    )
    for column, name, line in series:
        if days[column].null_count() < days.height:
            figure.add_trace(
                go.Scatter(
                    x=days["date"].to_list(),
                    y=days[column].to_list(),
                    mode="lines",
                    line=line,
                    name=inert(name),
                    hovertemplate=f"%{{x}}: %{{y:{spec}}}<extra></extra>",
                )
            )
    figure.update_yaxes(tickformat=spec, rangemode="tozero")
    return _layout(figure, title, height=300)
