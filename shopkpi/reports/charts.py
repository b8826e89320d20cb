"""Chart builders of the reports: plain functions DataFrame -> SVG text, the same image in the HTML and the PDF.

Plain SVG rather than plotly: a report is built by cron and read offline, so it needs neither a browser to draw its
charts (Kaleido starts Chromium, seconds per report) nor plotly.js inlined in every HTML file (about 5 MB). The
dashboard's interactive charts are Vega-Lite (shopkpi/ui/charts.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

import polars as pl

from metrics.funnel import STEP_LABELS
from metrics.registry import METRICS
from metrics.units import COUNT, MONEY, RATE, Unit

WIDTH = 1000  # SVG user units; the image is drawn at the text width (about 18 cm on A4)
FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
COLORS = ("#1f4e79", "#d97706", "#059669")
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"


def _step(raw: float) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) at least `raw`."""
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (always including 0)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    step = _step((high - low) / count)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _text(
    x: float, y: float, text: str, size: int = 14, anchor: str = "start", fill: str = INK, weight: str = ""
) -> str:
    bold = ' font-weight="bold"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{bold}>'
        f"{escape(text)}</text>"
    )


def _rect(x: float, y: float, width: float, height: float, color: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{color}"/>'


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'font-family="{FONT}"><title>{escape(title)}</title>'
        + _text(0, 20, title, 17, weight="bold")
        + "".join(body)
        + "</svg>"
    )


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def bars(frame: pl.DataFrame, label: str, value: str, title: str, horizontal: bool = False) -> str | None:
    """One bar per row of `frame`: `label` names it, `value` (a metric) sizes it; a missing label reads '(none)'.

    None when there is nothing to draw (no rows, or every value missing).
    """
    labels = ["(none)" if v is None else str(v) for v in frame.get_column(label).to_list()]
    values = [0.0 if v is None else float(v) for v in frame.get_column(value).to_list()]
    unit = METRICS[value].formats if value in METRICS else COUNT
    if not values or not any(values):
        return None
    return _hbars(labels, values, unit, title) if horizontal else _vbars(labels, values, unit, title)


def _vbars(labels: Sequence[str], values: Sequence[float], unit: Unit, title: str) -> str:
    height, top, bottom, left, right = 300, 40, 250, 70, WIDTH - 10
    ticks = _nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return bottom - (v - low) / (high - low) * (bottom - top)

    body = []
    for tick in ticks:
        body.append(f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 8, y(tick) + 5, unit.tick_text(tick), 13, "end", MUTED))
    slot = (right - left) / len(values)
    width = slot * 0.65
    for i, (name, v) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - width) / 2
        top_y, base = sorted((y(v), y(0)))
        body.append(_rect(x, top_y, width, base - top_y, COLORS[0]))
        body.append(_text(x + width / 2, top_y - 5, unit.label_text(v), 12, "middle", INK))
        body.append(_text(x + width / 2, bottom + 20, _fit(name, int(slot / 8)), 13, "middle", INK))
    body.append(f'<line x1="{left}" x2="{right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{MUTED}"/>')
    return _svg(height, title, body)


def _hbars(labels: Sequence[str], values: Sequence[float], unit: Unit, title: str, note: Sequence[str] = ()) -> str:
    longest = max(len(name) for name in labels)
    row, top, label_width = 30, 40, min(430, 60 + 9 * longest)
    height = top + row * len(values) + 30
    left, right = label_width + 10, WIDTH - 110
    ticks = _nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return left + (v - low) / (high - low) * (right - left)

    bottom = top + row * len(values)
    body = []
    for tick in ticks:
        body.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{bottom}" stroke="{GRID}"/>')
        body.append(_text(x(tick), bottom + 20, unit.tick_text(tick), 13, "middle", MUTED))
    for i, (name, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        start, end = sorted((x(0), x(v)))
        body.append(_rect(start, y + 5, end - start, row - 10, COLORS[0]))
        body.append(_text(left - 8, y + row / 2 + 5, _fit(name, 44), 13, "end", INK))
        extra = f"  {note[i]}" if note else ""
        body.append(_text(end + 6, y + row / 2 + 5, unit.label_text(v) + extra, 13, "start", INK))
    return _svg(height, title, body)


def funnel_chart(steps: pl.DataFrame) -> str | None:
    """The funnel's sessions per step as horizontal bars, each with its share of all sessions."""
    labels = [f"{STEP_LABELS[s][0]} {STEP_LABELS[s][1]}" for s in steps.get_column("step").to_list()]
    values = [float(v) for v in steps.get_column("sessions").to_list()]
    if not any(values):
        return None
    shares = ["" if r is None else f"({RATE.text(r)})" for r in steps.get_column("rate_from_start").to_list()]
    return _hbars(labels, values, COUNT, "Sessions by furthest step", shares)


def trend(series: pl.DataFrame, names: Sequence[str], grain: str) -> str | None:
    """Money metrics of `series` (one row per `grain` bucket) as grouped bars on the left axis, counts as a line on
    the right axis."""
    money = [n for n in names if METRICS[n].unit == "money"]
    counts = [n for n in names if n not in money]
    periods = series.get_column("period").to_list()
    if not periods or not any(series.get_column(n).fill_null(0).abs().sum() for n in names):
        return None
    height, top, bottom, left, right = 330, 40, 255, 70, WIDTH - 70
    money_values = [[0.0 if v is None else float(v) for v in series.get_column(n).to_list()] for n in money]
    flat = [v for values in money_values for v in values] or [0.0]
    ticks = _nice_ticks(min(flat), max(flat))
    low, high = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return bottom - (v - low) / (high - low) * (bottom - top)

    body = []
    for tick in ticks:
        body.append(f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 8, y(tick) + 5, MONEY.tick_text(tick), 13, "end", MUTED))
    slot = (right - left) / len(periods)
    width = slot * 0.75 / max(len(money), 1)
    for m, values in enumerate(money_values):
        for i, v in enumerate(values):
            x = left + i * slot + slot * 0.125 + m * width
            top_y, base = sorted((y(v), y(0)))
            body.append(_rect(x, top_y, width, base - top_y, COLORS[m]))
    every = max(1, math.ceil(len(periods) / 12))
    for i, period in enumerate(periods):
        if i % every == 0:
            text = period.strftime("%b %Y" if grain == "month" else "%d %b")
            body.append(_text(left + (i + 0.5) * slot, bottom + 20, text, 13, "middle", INK))
    body.append(f'<line x1="{left}" x2="{right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{MUTED}"/>')
    for c, name in enumerate(counts):
        values = [0.0 if v is None else float(v) for v in series.get_column(name).to_list()]
        # The right axis shares the left one's grid lines: its zero on the left zero, one count step per money step.
        above = [t for t in ticks if t > 0] or [ticks[-1]]
        step = _step((max(values) or 1) / len(above))
        count_ticks = [i * step for i in range(len(above) + 1)]

        def cy(v: float, scale: float = above[0] / step) -> float:
            return y(v * scale)

        color = COLORS[len(money) + c]
        points = " ".join(f"{left + (i + 0.5) * slot:.1f},{cy(v):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        body.extend(
            f'<circle cx="{left + (i + 0.5) * slot:.1f}" cy="{cy(v):.1f}" r="3.5" fill="{color}"/>'
            for i, v in enumerate(values)
        )
        for tick in count_ticks:
            body.append(_text(right + 8, cy(tick) + 5, COUNT.tick_text(tick), 13, "start", color))
    legend_x = left
    for i, name in enumerate([*money, *counts]):
        color = COLORS[i]
        label = METRICS[name].label_en + (" (right axis)" if name in counts else "")
        shape = (
            f'<rect x="{legend_x}" y="{height - 22}" width="14" height="14" fill="{color}"/>'
            if name in money
            else f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="{height - 15}" y2="{height - 15}" stroke="{color}" '
            'stroke-width="3"/>'
        )
        body.append(shape + _text(legend_x + 20, height - 10, label, 13))
        legend_x += 40 + 8 * len(label)
    return _svg(height, "Revenue, net profit and orders", body)
