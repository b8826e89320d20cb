"""Chart builders of the Forecast page: plain functions (frames in, a Vega-Lite spec out, drawn by `ui.vega`), testable
without Streamlit. Vega-Lite rather than Plotly for the reason given in shopkpi/ui/charts.py `drivers_waterfall`: a new
browser tab then never loads Plotly's 4.7 MB module. Vega draws every text (legend names, the calendar's event labels)
as its characters."""

from __future__ import annotations

from datetime import date

import polars as pl

from metrics import registry
from metrics.units import CHANGE
from shopkpi.ui.charts import BAD, GOOD, LEGEND, TOTAL, _cell, _text

HISTORY = "#334155"
BAND95 = "rgba(37, 99, 235, 0.12)"
BAND80 = "rgba(37, 99, 235, 0.25)"
RANGE80 = "rgba(37, 99, 235, 0.15)"
TARGET = "#0f172a"
EVENT_FILL = "rgba(245, 158, 11, 0.12)"
EVENT_LINE = "#f59e0b"
DOTTED, DASHED = [2, 3], [6, 4]


def _x() -> dict:
    # Dates as charts.py sends them (`_cell`: ISO text, read as UTC) on a UTC time scale, as its time axes: a day is
    # never drawn as the one before in a browser west of Greenwich.
    return {
        "field": "date",
        "type": "temporal",
        "title": None,
        "scale": {"type": "utc"},
        "axis": {"format": "%b %d", "labelOverlap": True},
    }


def _legend(names: list[str], colors: list[str]) -> dict:
    # One colour scale shared by every layer, so Vega-Lite draws one legend naming each series.
    return {
        "field": "series",
        "type": "nominal",
        "scale": {"domain": names, "range": colors},
        "legend": LEGEND,
    }


def _spec(layers: list[dict], title: str | None, height: int) -> dict:
    spec: dict = {"height": height, "layer": layers}
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec


def _event_spans(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of `days` (sorted), first and last day of each."""
    spans: list[tuple[date, date]] = []
    start = prev = days[0]
    for current in days[1:]:
        if (current - prev).days > 1:
            spans.append((start, prev))
            start = current
        prev = current
    spans.append((start, prev))
    return spans


def forecast_fan(
    history: pl.DataFrame,
    rows: pl.DataFrame,
    events: pl.DataFrame,
    metric: str,
    labels: dict[str, str],
    title: str | None = None,
) -> dict:
    """History (date, value), the forecast with its 80% and 95% bands (date, forecast, lo80, hi80, lo95, hi95), and
    the calendar's event windows shaded with their day marked (date, label, phase)."""
    spec = registry.axis_format(metric)
    y = {"type": "quantitative", "title": None, "axis": {"format": spec}, "scale": {"zero": True}}
    names = [labels["band95"], labels["band80"], labels["history"], labels["forecast"]]
    color = _legend(names, [BAND95, BAND80, HISTORY, TOTAL])
    bands = [
        {"series": name, "date": _cell(d), "low": low, "high": high}
        for name, low_column, high_column in ((names[0], "lo95", "hi95"), (names[1], "lo80", "hi80"))
        for d, low, high in rows.select("date", low_column, high_column).iter_rows()
    ]
    past = [
        {"series": names[2], "date": _cell(d), "value": v, "tip": f"{d}: {_text(v, spec)}"}
        for d, v in history.select("date", "value").iter_rows()
    ]
    ahead = [
        {
            "series": names[3],
            "date": _cell(d),
            "value": f,
            "tip": f"{d}: {f:{spec}} (80%: {lo80:{spec}} – {hi80:{spec}}; 95%: {lo95:{spec}} – {hi95:{spec}})",
        }
        for d, f, lo80, hi80, lo95, hi95 in rows.select("date", "forecast", "lo80", "hi80", "lo95", "hi95").iter_rows()
    ]
    layers: list[dict] = []
    if not events.is_empty():
        first = history["date"].min() if history.height else rows["date"].min()
        shown = events.filter(pl.col("date") >= first)
        spans, peaks = [], []
        for (label,), window in shown.group_by(["label"], maintain_order=True):
            spans += [
                {"date": _cell(begin), "end": _cell(end)}
                for begin, end in _event_spans(sorted(window["date"].to_list()))
            ]
            peaks += [{"date": _cell(d), "label": label} for d in window.filter(pl.col("phase") == "day")["date"]]
        if spans:
            layers.append(
                {
                    "data": {"values": spans},
                    "mark": {"type": "rect", "color": EVENT_FILL},
                    "encoding": {"x": _x(), "x2": {"field": "end"}},
                }
            )
        if peaks:
            layers.append(
                {
                    "data": {"values": peaks},
                    "mark": {"type": "rule", "color": EVENT_LINE, "strokeDash": DASHED},
                    "encoding": {"x": _x()},
                }
            )
            layers.append(
                {
                    "data": {"values": peaks},
                    "mark": {"type": "text", "y": 0, "baseline": "top", "dy": 2, "fontSize": 10, "color": "#78350f"},
                    "encoding": {"x": _x(), "text": {"field": "label"}},
                }
            )
    layers += [
        {
            "data": {"values": bands},
            "mark": {"type": "area"},
            "encoding": {"x": _x(), "y": {"field": "low", **y}, "y2": {"field": "high"}, "color": color},
        },
        {
            "data": {"values": past},
            "mark": {"type": "line", "strokeWidth": 1.5},
            "encoding": {"x": _x(), "y": {"field": "value", **y}, "color": color},
        },
        {
            "data": {"values": ahead},
            "mark": {"type": "line", "strokeWidth": 2, "strokeDash": DOTTED},
            "encoding": {"x": _x(), "y": {"field": "value", **y}, "color": color},
        },
        # Invisible points carry the hover text of each day of history and forecast (a line has one for all).
        {
            "data": {"values": past + ahead},
            "mark": {"type": "point", "opacity": 0, "size": 60},
            "encoding": {"x": _x(), "y": {"field": "value", **y}, "tooltip": {"field": "tip", "type": "nominal"}},
        },
    ]
    return _spec(layers, title, 380)


def pacing_gauge(
    projected: float,
    target: float | None,
    low: float,
    high: float,
    title: str | None = None,
    metric: str = "total_revenue",
    versus: str = "vs target",
) -> dict:
    """The projected month-end total of `metric` against the target, as a bullet bar: the bar at the projection (green
    when it reaches the target), the 80% range shaded behind it, the target a black tick; the projection and its gap to
    the target written above (`versus` names the target in the page's language)."""
    formats = registry.metric(metric).formats
    top = max(v for v in (projected, high, target or 0) if v is not None) * 1.15 or 1.0
    x = {"type": "quantitative", "title": None, "scale": {"domain": [0, top]}, "axis": {"format": formats.axis}}
    y = {"field": "row", "type": "nominal", "axis": None}  # one row: the month end
    text = format(projected, formats.rounded)
    if target:
        text += f" ({format(projected / target - 1, CHANGE.value)} {versus})"
    layers: list[dict] = [
        {
            "data": {"values": [{"row": 0, "low": low, "high": high}]},
            "mark": {"type": "bar", "color": RANGE80, "size": 40},
            "encoding": {"x": {"field": "low", **x}, "x2": {"field": "high"}, "y": y},
        },
        {
            "data": {"values": [{"row": 0, "projected": projected}]},
            "mark": {"type": "bar", "color": GOOD if target is None or projected >= target else BAD, "size": 16},
            "encoding": {"x": {"field": "projected", **x}, "y": y},
        },
    ]
    if target is not None:
        layers.append(
            {
                "data": {"values": [{"row": 0, "target": target}]},
                "mark": {"type": "tick", "color": TARGET, "thickness": 3, "size": 44},
                "encoding": {"x": {"field": "target", **x}, "y": y},
            }
        )
    spec = _spec(layers, title, 150)  # all of the chart, title included: the bar gets what the texts leave
    spec["title"] = {
        "text": title or "",
        "anchor": "start",
        "fontSize": 14,
        "subtitle": text,
        "subtitleFontSize": 22,
        "subtitleFontWeight": "bold",
        "subtitlePadding": 8,
    }
    return spec


def pacing_lines(
    days: pl.DataFrame, labels: dict[str, str], title: str | None = None, metric: str = "total_revenue"
) -> dict:
    """Cumulative month to date (date, actual_cum), the target line (target_cum) and the projection (projected_cum)
    of `metric`."""
    spec = registry.axis_format(metric)
    y = {"type": "quantitative", "title": None, "axis": {"format": spec}, "scale": {"zero": True}}
    series = (
        ("target_cum", labels["target"], TARGET, DASHED, 1.5),
        ("projected_cum", labels["projected"], TOTAL, DOTTED, 2),
        ("actual_cum", labels["actual"], GOOD, None, 3),
    )
    drawn = [line for line in series if days[line[0]].null_count() < days.height]
    color = _legend([name for _, name, *_ in drawn], [colour for _, _, colour, *_ in drawn])
    layers = []
    for column, name, _, dash, width in drawn:
        values = [
            {"series": name, "date": _cell(d), "value": v, "tip": f"{name} {d}: {format(v, spec)}"}
            for d, v in days.select("date", column).iter_rows()
            if v is not None
        ]
        mark: dict = {"type": "line", "strokeWidth": width, "point": {"opacity": 0, "size": 60}}  # points: hover
        if dash:
            mark["strokeDash"] = dash
        layers.append(
            {
                "data": {"values": values},
                "mark": mark,
                "encoding": {
                    "x": _x(),
                    "y": {"field": "value", **y},
                    "color": color,
                    "tooltip": {"field": "tip", "type": "nominal"},
                },
            }
        )
    return _spec(layers, title, 300)
