"""Chart builders of the dashboard: plain functions DataFrame -> Vega-Lite spec (a dict), testable without Streamlit;
pages draw them with `ui.vega`.

Vega-Lite, not Plotly (issue 19): Streamlit loads Plotly's 4.7 MB module in every new browser tab that shows a Plotly
chart (+0.3–0.4 s to a page's first view), while the Vega module is smaller and the Overview's card sparklines load it
anyway. Each builder takes the frame a metrics function returned (or a slice of it) and the labels to show; it computes
nothing but layout. A missing group reads "(none)", a missing value is left as a gap (no bar, a break in a line).
Number formats come from the metric's unit (metrics/units.py; d3-format, which Vega and Python's `format()` both
read): axes get the spec, hover tooltips a text formatted here. Vega draws every text (category, legend, title,
tooltip) as its characters, so names from the data go in as they are; no data text is ever put into a Vega
expression (`labelExpr`, `test`), where it would be code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from metrics.registry import axis_format
from metrics.units import COUNT, MISSING, MONEY, RATE, missing

COLORS = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4", "#ec4899", "#84cc16", "#64748b")
GOOD, BAD, TOTAL = "#10b981", "#ef4444", "#2563eb"
NONE_LABEL = "(none)"
PICK = "pick"  # the point selection of a selectable chart: `picked` reads the clicked bar's label from it
LEGEND = {"orient": "bottom", "title": None, "labelLimit": 240}
# A category axis naming every category however narrow the column, one word a line (Vega drops overlapping labels).
WORDS_A_LINE = {"title": None, "labelAngle": 0, "labelOverlap": False, "labelExpr": "split(datum.label, ' ')"}


def _cell(value: Any) -> Any:
    # A value as JSON: dates as ISO text (Vega parses them), decimals as floats, NaN as null (a gap).
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.isoformat() + "Z"  # a time without a zone is read as UTC, as the time axes are (`_x_over_time`)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def _text(value: Any, spec: str) -> str:
    """`value` in a tooltip: formatted with `spec`, "—" where undefined."""
    return MISSING if missing(value) else format(value, spec)


def _name(value: Any) -> str:
    """A group's name as shown: "(none)" for a missing one."""
    return NONE_LABEL if value is None else str(value)


def _category(value: Any) -> str:
    # A category of a bar chart's x: a month start as "2024-01", another date as "2024-01-15", the rest as text.
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m") if value.day == 1 else value.isoformat()[:10]
    return _name(value)


def _dates(values: Sequence) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, datetime | date) for v in present)


def _x_over_time(values: Sequence) -> dict:
    """The x encoding of a line over `values`: a time axis for dates (read as UTC, so a day is never drawn as the one
    before in a browser west of Greenwich), else the values as ordered categories in the data's order."""
    if _dates(values):
        return {"field": "x", "type": "temporal", "scale": {"type": "utc"}, "axis": {"title": None}}
    return {"field": "x", "type": "ordinal", "sort": None, "axis": {"title": None, "labelAngle": 0}}


def _x_text(value: Any) -> str:
    return value.isoformat()[:10] if isinstance(value, datetime | date) else _name(value)


def _series_color(names: Sequence[str]) -> dict:
    """The colour of each series, in order of `names` (COLORS, repeated); a legend under the chart when there are
    several."""
    return {
        "field": "series",
        "type": "nominal",
        "sort": list(names),
        "scale": {"domain": list(names), "range": [COLORS[i % len(COLORS)] for i in range(len(names))]},
        # In rows of up to four, so that a legend of many groups wraps instead of running out of the chart.
        "legend": {**LEGEND, "columns": min(len(names), 4)} if len(names) > 1 else None,
    }


def _spec(title: str | None, height: int, values: list[dict], **body: Any) -> dict:
    spec: dict = {"height": height, "data": {"values": values}, **body}
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec


def _tip() -> dict:
    return {"field": "tip", "type": "nominal"}  # a tooltip of one text, formatted here


def _lines(names: Sequence[str], y: dict, x: dict, markers: bool) -> dict:
    """A line per series (of `names`, in that order), with a point at each value: drawn (`markers`) or invisible,
    there to carry the hover. One layered view: the line and the points share their encoding."""
    point: dict = {"type": "point", "filled": True, "size": 40 if markers else 80}
    if not markers:
        point["opacity"] = 0
    return {
        "encoding": {"x": x, "y": y, "color": _series_color(names)},
        "layer": [
            {"mark": {"type": "line", "strokeWidth": 2}},
            {"mark": point, "encoding": {"tooltip": _tip()}},
        ],
    }


def picked(event: Mapping) -> str | None:
    """The label of the bar clicked in a selectable chart (`bars(..., selectable=True)`), from the state
    st.vega_lite_chart returns: its point selection is a list of the clicked rows' fields ({} when none)."""
    points = event["selection"].get(PICK) or []
    return points[0].get("label") if isinstance(points, list) and points else None


def bars(
    frame: pl.DataFrame,
    group: str,
    metric: str,
    title: str | None = None,
    value_label: str | None = None,
    selectable: bool = False,
) -> dict:
    """One horizontal bar per row: `group` names it, `metric` sizes it, largest on top (missing values at the
    bottom, with no bar). `value_label` names the axis. With `selectable`, a click on a bar selects it (`picked`)."""
    spec_format = axis_format(metric)
    ordered = frame.sort(metric, descending=True, nulls_last=True)
    values = []
    for name, value in ordered.select(group, metric).iter_rows():
        label = _name(name)
        values.append({"label": label, "value": _cell(value), "tip": f"{label}: {_text(value, spec_format)}"})
    encoding: dict = {
        "y": {"field": "label", "type": "nominal", "sort": None, "axis": {"title": None, "labelLimit": 240}},
        "x": {"field": "value", "type": "quantitative", "axis": {"title": value_label, "format": spec_format}},
        "color": {"value": TOTAL},
        "tooltip": _tip(),
    }
    mark: dict = {"type": "bar"}
    body: dict = {"mark": mark, "encoding": encoding}
    if selectable:
        body["params"] = [{"name": PICK, "select": {"type": "point", "fields": ["label"]}}]
        encoding["opacity"] = {"condition": {"param": PICK, "value": 1, "empty": True}, "value": 0.45}
        mark["cursor"] = "pointer"
    return _spec(title, max(220, 36 * ordered.height + 60), values, **body)


def trend_lines(
    series: pl.DataFrame, metric: str, group: str = "group", x: str = "period", title: str | None = None
) -> dict:
    """One line per group of `metric` over the buckets of `series` (columns x, group, metric), the axis from 0."""
    spec_format = axis_format(metric)
    names, values = [], []
    for name in series.get_column(group).unique(maintain_order=True).to_list():
        part = series.filter(pl.col(group).is_null() if name is None else pl.col(group) == name).sort(x)
        names.append(_name(name))
        for at, value in part.select(x, metric).iter_rows():
            tip = f"{names[-1]} · {_x_text(at)}: {_text(value, spec_format)}"
            values.append({"series": names[-1], "x": _cell(at), "value": _cell(value), "tip": tip})
    y = {
        "field": "value",
        "type": "quantitative",
        "scale": {"zero": True},
        "axis": {"title": None, "format": spec_format},
    }
    return _spec(title, 320, values, **_lines(names, y, _x_over_time(series.get_column(x)), False))


def funnel_chart(steps: pl.DataFrame, step_labels: Sequence[str], title: str | None = None) -> dict:
    """The funnel of one group: sessions per step (rows in step order) as bars centred on one axis, each labelled
    with its sessions and their share of the first step's."""
    sessions = steps.get_column("sessions").to_list()
    first = sessions[0] if sessions else None
    values = []
    for label, count in zip(step_labels, sessions, strict=True):
        share = count / first if first and count is not None else None
        texts = (_text(count, COUNT.axis), _text(share, RATE.rounded))
        half = (count or 0) / 2
        values.append(
            {
                "label": label,
                "sessions": count,
                "share": share,
                "start": -half,
                "end": half,
                "text": "\n".join(texts),  # two lines (the mark's lineBreak)
                "tip": f"{label}: {' · '.join(texts)}",
            }
        )
    y = {"field": "label", "type": "nominal", "sort": None, "axis": {"title": None, "labelLimit": 240}}
    return _spec(
        title,
        300,
        values,
        encoding={"y": y},
        layer=[
            {
                "mark": {"type": "bar", "color": TOTAL},
                "encoding": {
                    "x": {"field": "start", "type": "quantitative", "axis": None},
                    "x2": {"field": "end"},
                    "tooltip": _tip(),
                },
            },
            {
                # Inside the bar in white where it is wide (a quarter of the first step or more) ...
                "transform": [{"filter": "datum.share >= 0.25"}],
                "mark": {"type": "text", "lineBreak": "\n", "fontSize": 11, "color": "white"},
                "encoding": {"x": {"datum": 0, "type": "quantitative"}, "text": {"field": "text"}, "tooltip": _tip()},
            },
            {
                # ... else after its end, in ink.
                "transform": [{"filter": "!(datum.share >= 0.25)"}],
                "mark": {
                    "type": "text",
                    "lineBreak": "\n",
                    "fontSize": 11,
                    "color": "#0f172a",
                    "align": "left",
                    "dx": 4,
                },
                "encoding": {
                    "x": {"field": "end", "type": "quantitative"},
                    "text": {"field": "text"},
                    "tooltip": _tip(),
                },
            },
        ],
    )


def _log_ticks(base: float) -> list[float]:
    ticks, decade = [], base
    while decade <= 1:
        ticks += [round(decade * m, 12) for m in (1, 2, 5) if decade * m <= 1]
        decade *= 10
    return ticks


def funnel_by_group(funnel: pl.DataFrame, step_labels: dict[str, str], title: str | None = None, top: int = 6) -> dict:
    """Share of each group's sessions reaching each step (columns group, step, rate_from_start, sessions) for the
    `top` groups by sessions: a bar per group within each step, on a log axis (the last steps are a few percent).
    A share of 0 has no bar (a log axis has no 0) but keeps its tooltip text. The bars stand on the power of ten
    below the smallest share: a bar on a log axis has no 0 to start from either."""
    firsts = funnel.filter(pl.col("step_number") == 1).sort("sessions", descending=True).head(top)
    names, values = [], []
    for name in firsts.get_column("group").to_list():
        part = funnel.filter(pl.col("group").is_null() if name is None else pl.col("group") == name)
        names.append(_name(name))
        for step, rate in part.sort("step_number").select("step", "rate_from_start").iter_rows():
            label = step_labels.get(step, step)
            values.append(
                {
                    "series": names[-1],
                    "step": label,
                    "value": _cell(rate) if rate else None,
                    "tip": f"{names[-1]} · {label}: {_text(rate, RATE.rounded)}",
                }
            )
    shares = [v["value"] for v in values if v["value"]]
    base = 10.0 ** (math.ceil(math.log10(min(shares))) - 1) if shares else 0.01
    return _spec(
        title,
        320,
        values,
        mark={"type": "bar"},
        encoding={
            "x": {
                "field": "step",
                "type": "nominal",
                "sort": None,
                "axis": {**WORDS_A_LINE},
            },
            "xOffset": {"field": "series", "type": "nominal", "sort": names},
            "y": {
                "field": "value",
                "type": "quantitative",
                "scale": {"type": "log", "domainMin": base},
                # Ticks at 1, 2 and 5 of each power of ten up to 100 %.
                "axis": {"title": None, "format": RATE.rounded, "values": _log_ticks(base)},
            },
            "y2": {"datum": base},
            "color": _series_color(names),
            "tooltip": _tip(),
        },
    )


def _walk(steps: list[tuple[str, str, float, float]], spec: str, title: str | None, height: int) -> dict:
    """A waterfall of `steps` (label, kind, start, end): kind "total" stands on 0 in TOTAL's colour, "up" and "down"
    go from the level before to the new one in GOOD's and BAD's; the hover says the level of a total and the signed
    change of a step, in `spec`. Up to six steps, a label is written one word a line; more are slanted (a P&L)."""
    # Every step named however narrow the column (Vega would drop overlapping labels).
    slanted = {"title": None, "labelOverlap": False, "labelAngle": -40, "labelLimit": 140}
    axis = {**WORDS_A_LINE} if len(steps) <= 6 else slanted
    values = []
    for label, kind, start, end in steps:
        amount = format(end, spec) if kind == "total" else format(end - start, "+" + spec)
        values.append({"label": label, "kind": kind, "start": start, "end": end, "tip": f"{label}: {amount}"})
    return _spec(
        title,
        height,
        values,
        mark={"type": "bar"},
        encoding={
            "x": {
                "field": "label",
                "type": "nominal",
                "sort": None,  # the data's order: the walk's
                "axis": axis,
            },
            "y": {"field": "start", "type": "quantitative", "axis": {"title": None, "format": MONEY.axis}},
            "y2": {"field": "end"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "scale": {"domain": ["total", "up", "down"], "range": [TOTAL, GOOD, BAD]},
                "legend": None,
            },
            "tooltip": _tip(),
        },
    )


def waterfall(lines: pl.DataFrame, title: str | None = None) -> dict:
    """A P&L waterfall of one month from `metrics.pnl_lines` rows (label, sign, subtotal, value); margins skipped.

    The first line and the subtotals stand on zero (their value); a line that subtracts (sign −1) falls by its value
    from the level before, one that adds rises. A missing value is drawn as no step."""
    steps, level = [], 0.0
    for index, row in enumerate(lines.filter(pl.col("sign") != 0).iter_rows(named=True)):
        value = float(row["value"] or 0.0)
        if index == 0 or row["subtotal"]:
            steps.append((row["label"], "total", 0.0, value))
            level = value
        else:
            change = value * row["sign"]
            steps.append((row["label"], "up" if change >= 0 else "down", level, level + change))
            level += change
    return _walk(steps, MONEY.value, title, 380)


def drivers_waterfall(drivers: pl.DataFrame, labels: dict[str, str], title: str | None = None) -> dict:
    """Revenue before → the effect of each driver → revenue after, from `metrics.insights.decompose_change`."""
    total = drivers.filter(pl.col("driver") == "total").row(0, named=True)
    steps = [(labels.get("before", "Before"), "total", 0.0, total["before"])]
    level = total["before"]
    for row in drivers.filter(pl.col("driver") != "total").iter_rows(named=True):
        effect = row["effect"] or 0.0  # an effect that cannot be split out is drawn as no step
        steps.append((labels.get(row["driver"], row["driver"]), "up" if effect >= 0 else "down", level, level + effect))
        level += effect
    steps.append((labels.get("after", "After"), "total", 0.0, total["after"]))
    return _walk(steps, MONEY.axis, title, 300)


def lines_over_time(
    frame: pl.DataFrame, metrics: Sequence[str], names: Sequence[str], x: str = "month", title: str | None = None
) -> dict:
    """One line per metric of `frame` over `x` (e.g. gross and net margin per month), with a point at each value; the
    axis in the first metric's format."""
    values = []
    for metric, name in zip(metrics, names, strict=True):
        spec_format = axis_format(metric)
        for at, value in frame.select(x, metric).iter_rows():
            tip = f"{name} · {_x_text(at)}: {_text(value, spec_format)}"
            values.append({"series": name, "x": _cell(at), "value": _cell(value), "tip": tip})
    axis = {"title": None, "format": axis_format(metrics[0])} if metrics else {"title": None}
    y = {"field": "value", "type": "quantitative", "scale": {"zero": False}, "axis": axis}
    return _spec(title, 320, values, **_lines(names, y, _x_over_time(frame.get_column(x)), True))


def _bars_over(
    values: list[dict], categories: list[str], names: Sequence[str], metric: str, title: str | None, stacked: bool
) -> dict:
    # Bars per category x (in the order of `categories`), one per series side by side, or stacked in the order of
    # `names`.
    encoding: dict = {
        "x": {"field": "x", "type": "ordinal", "sort": categories, "axis": {"title": None}},
        "y": {
            "field": "value",
            "type": "quantitative",
            "stack": "zero" if stacked else None,
            "axis": {"title": None, "format": axis_format(metric)},
        },
        "color": _series_color(names),
        "tooltip": _tip(),
    }
    if stacked:
        encoding["order"] = {"field": "rank", "type": "quantitative"}  # the first series at the bottom
    else:
        encoding["xOffset"] = {"field": "series", "type": "nominal", "sort": list(names)}
    return _spec(title, 320, values, mark={"type": "bar"}, encoding=encoding)


def compare_bars(
    frame: pl.DataFrame,
    x: str,
    columns: Sequence[str],
    names: Sequence[str],
    title: str | None = None,
    metric: str = "total_revenue",
) -> dict:
    """Grouped bars: one bar per column of `columns` for each value of `x` (e.g. this year vs last year), all values
    of `metric`."""
    spec_format = axis_format(metric)
    values = []
    for at, *amounts in frame.select(x, *columns).iter_rows():
        for name, value in zip(names, amounts, strict=True):
            tip = f"{name} · {_category(at)}: {_text(value, spec_format)}"
            values.append({"series": name, "x": _category(at), "value": _cell(value), "tip": tip})
    categories = [_category(v) for v in frame.get_column(x).to_list()]
    return _bars_over(values, categories, list(names), metric, title, stacked=False)


def stacked_bars(
    frame: pl.DataFrame, x: str, group: str, metric: str, names: dict | None = None, title: str | None = None
) -> dict:
    """Bars of `metric` over `x`, stacked by `group` (e.g. revenue per month from new and returning customers), the
    first group at the bottom; `names` gives a group's label."""
    spec_format = axis_format(metric)
    shown, values = [], []
    for rank, value in enumerate(frame.get_column(group).unique(maintain_order=True).to_list()):
        shown.append(str((names or {}).get(value, _name(value))))
        part = frame.filter(pl.col(group).is_null() if value is None else pl.col(group) == value).sort(x)
        for at, amount in part.select(x, metric).iter_rows():
            tip = f"{shown[-1]} · {_category(at)}: {_text(amount, spec_format)}"
            values.append({"series": shown[-1], "rank": rank, "x": _category(at), "value": _cell(amount), "tip": tip})
    categories = [_category(v) for v in frame.get_column(x).unique().sort(nulls_last=True).to_list()]
    return _bars_over(values, categories, shown, metric, title, stacked=True)


def cohort_heatmap(
    activity: pl.DataFrame,
    title: str | None = None,
    months: int = 12,
    tip: str = "cohort {cohort}, month {offset}: {value}",
) -> dict:
    """Cohort retention from `metrics.cohort_activity`: one row per cohort (oldest on top), one column per month
    offset k ≥ 1, each cell coloured and labelled with its retention; a month not yet complete is blank.
    `tip`: a cell's tooltip, a `str.format` text of {cohort} ("2024-01"), {offset} ("+1") and {value} ("12.5%")."""
    shown = activity.filter((pl.col("month_offset") >= 1) & (pl.col("month_offset") <= months))
    cohorts = sorted(shown.get_column("cohort").unique().to_list())
    labels = [c.strftime("%Y-%m") for c in cohorts]
    offsets = [f"+{k}" for k in range(1, months + 1)]
    cells = {(r["cohort"], r["month_offset"]): r["retention"] for r in shown.iter_rows(named=True)}
    values = []
    for cohort, label in zip(cohorts, labels, strict=True):
        for k, offset in enumerate(offsets, start=1):
            value = _cell(cells.get((cohort, k)))
            row = {"cohort": label, "offset": offset, "value": value}
            row["text"] = "" if value is None else format(value, RATE.rounded)
            row["tip"] = tip.format(cohort=row["cohort"], offset=offset, value=_text(value, RATE.value))
            values.append(row)
    top = max((v["value"] for v in values if v["value"] is not None), default=0.0)
    encoding = {
        # Every month offset and cohort has its place, drawn or blank.
        "x": {
            "field": "offset",
            "type": "ordinal",
            "scale": {"domain": offsets},
            "axis": {"title": None, "labelAngle": 0},
        },
        "y": {"field": "cohort", "type": "ordinal", "scale": {"domain": labels}, "axis": {"title": None}},
        "tooltip": _tip(),
    }
    return _spec(
        title,
        max(260, 24 * len(cohorts) + 80),
        values,
        encoding=encoding,
        layer=[
            {
                "mark": {"type": "rect"},
                "encoding": {
                    "color": {
                        "field": "value",
                        "type": "quantitative",
                        "scale": {"scheme": "blues", "domainMin": 0},
                        "legend": {"title": None, "format": RATE.rounded},
                    }
                },
            },
            {
                # White on the darker half of the scale, ink on the lighter.
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {
                    "text": {"field": "text"},
                    "color": {
                        "condition": {"test": f"datum.value > {top / 2!r}", "value": "white"},
                        "value": "#0f172a",
                    },
                },
            },
        ],
    )
