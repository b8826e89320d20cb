"""Chart builders of the dashboard: plain functions DataFrame -> plotly Figure, testable without Streamlit.

Each builder takes the frame a metrics function returned (or a slice of it) and the labels to show; it computes
nothing but layout. A missing group reads "(none)", a missing value is left as a gap. Number formats come from the
metric's unit (metrics/units.py). Every text put in a figure (category, legend, title, annotation) goes through
`inert`: Plotly draws `<b>`, `<br>` and `<a href>` in them, and a name from the data must read as its characters.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from metrics.registry import axis_format
from metrics.units import COUNT, MONEY, RATE

COLORS = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4", "#ec4899", "#84cc16", "#64748b")
GOOD, BAD, TOTAL = "#10b981", "#ef4444", "#2563eb"
NONE_LABEL = "(none)"

# plotly_white, less its defaults for the trace types the dashboard never draws. Plotly copies the template into every
# figure and Streamlit sends it along: the whole of plotly_white made each chart cost 14 ms to build and 4 KB to send;
# this one, 1 ms and a few hundred bytes. Also Plotly's default here, so no figure copies the big "plotly" one first.
_WHITE = pio.templates["plotly_white"]
TEMPLATE = "shopkpi"
_DRAWN = ("autotypenumbers", "colorway", "font", "hoverlabel", "hovermode", "paper_bgcolor", "plot_bgcolor", "title")
pio.templates[TEMPLATE] = go.layout.Template(
    layout={
        **{key: _WHITE.layout[key] for key in _DRAWN},
        **{axis: _WHITE.layout[axis] for axis in ("xaxis", "yaxis")},
        "coloraxis": _WHITE.layout.coloraxis,
    },
    data={kind: _WHITE.data[kind] for kind in ("bar", "scatter")},
)
pio.templates.default = TEMPLATE


def inert(text: object) -> str:
    """`text` (a name from the data, a label) as a Plotly text that shows exactly its characters: Plotly reads `<…>` as
    markup (a source named `<a href="…">x</a>` was a link on the Traffic chart) and `&…;` as entities."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """The name `inert` made `text` from, e.g. the category of a clicked bar as a selection reports it."""
    return html.unescape(text)


def _inert_values(values: Sequence) -> list:
    # Categories: texts made inert; dates and numbers kept as they are (Plotly gives them a date or number axis).
    return [inert(v) if isinstance(v, str) else v for v in values]


def _labels(values: Sequence) -> list[str]:
    return [inert(NONE_LABEL if v is None else v) for v in values]


def _layout(figure: go.Figure, title: str | None = None, height: int = 320) -> go.Figure:
    figure.update_layout(
        title={"text": inert(title), "x": 0, "xanchor": "left", "font": {"size": 14}} if title else None,
        height=height,
        margin={"l": 8, "r": 8, "t": 40 if title else 8, "b": 8},
        template=TEMPLATE,
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hoverlabel={"namelength": -1},
    )
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    return figure


def sparkline(series: pl.DataFrame, metric: str, x: str = "period") -> go.Figure:
    """A tiny line of one metric over the buckets of `series` (no axes): the shape, not the numbers."""
    figure = go.Figure(
        go.Scatter(
            x=series.get_column(x).to_list(),
            y=series.get_column(metric).to_list(),
            mode="lines",
            line={"color": TOTAL, "width": 1.5},
            fill="tozeroy",
            fillcolor="rgba(37, 99, 235, 0.08)",
            hovertemplate=f"%{{x}}: %{{y:{axis_format(metric)}}}<extra></extra>",
        )
    )
    figure.update_layout(height=60, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False, template=TEMPLATE)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def bars(
    frame: pl.DataFrame, group: str, metric: str, title: str | None = None, value_label: str | None = None
) -> go.Figure:
    """One horizontal bar per row: `group` names it, `metric` sizes it, largest on top. Rows are selectable."""
    ordered = frame.sort(metric, descending=False, nulls_last=False)
    figure = go.Figure(
        go.Bar(
            y=_labels(ordered.get_column(group).to_list()),
            x=ordered.get_column(metric).to_list(),
            orientation="h",
            marker_color=TOTAL,
            name=inert(value_label or metric),
            hovertemplate=f"%{{y}}: %{{x:{axis_format(metric)}}}<extra></extra>",
        )
    )
    figure.update_xaxes(tickformat=axis_format(metric))
    return _layout(figure, title, height=max(220, 36 * ordered.height + 60))


def trend_lines(
    series: pl.DataFrame, metric: str, group: str = "group", x: str = "period", title: str | None = None
) -> go.Figure:
    """One line per group of `metric` over the buckets of `series` (columns x, group, metric)."""
    figure = go.Figure()
    groups = series.get_column(group).unique(maintain_order=True).to_list()
    for index, name in enumerate(groups):
        part = series.filter(pl.col(group).is_null() if name is None else pl.col(group) == name).sort(x)
        figure.add_scatter(
            x=part.get_column(x).to_list(),
            y=part.get_column(metric).to_list(),
            name=_labels([name])[0],
            mode="lines",
            line={"color": COLORS[index % len(COLORS)], "width": 2},
        )
    figure.update_yaxes(tickformat=axis_format(metric), rangemode="tozero")
    return _layout(figure, title)


def funnel_chart(steps: pl.DataFrame, step_labels: Sequence[str], title: str | None = None) -> go.Figure:
    """The funnel of one group: sessions per step (rows in step order), with the share of the first step."""
    figure = go.Figure(
        go.Funnel(
            y=[inert(label) for label in step_labels],
            x=steps.get_column("sessions").to_list(),
            texttemplate=f"%{{value:{COUNT.axis}}}<br>%{{percentInitial:{RATE.rounded}}}",
            marker={"color": TOTAL},
        )
    )
    return _layout(figure, title, height=300)


def funnel_by_group(
    funnel: pl.DataFrame, step_labels: dict[str, str], title: str | None = None, top: int = 6
) -> go.Figure:
    """Share of each group's sessions reaching each step (columns group, step, rate_from_start, sessions)."""
    figure = go.Figure()
    firsts = funnel.filter(pl.col("step_number") == 1).sort("sessions", descending=True).head(top)
    for index, name in enumerate(firsts.get_column("group").to_list()):
        part = funnel.filter(pl.col("group").is_null() if name is None else pl.col("group") == name)
        part = part.sort("step_number")
        figure.add_bar(
            x=[inert(step_labels.get(s, s)) for s in part.get_column("step").to_list()],
            y=part.get_column("rate_from_start").to_list(),
            name=_labels([name])[0],
            marker_color=COLORS[index % len(COLORS)],
        )
    figure.update_yaxes(tickformat=RATE.rounded, type="log", dtick="D2")
    figure.update_layout(barmode="group")
    return _layout(figure, title)


def waterfall(lines: pl.DataFrame, title: str | None = None) -> go.Figure:
    """A P&L waterfall of one month from `metrics.pnl_lines` rows (label, sign, subtotal, value); margins skipped.

    Lines that subtract (sign −1) fall, subtotals are drawn as totals, the first line starts the walk.
    """
    rows = lines.filter(pl.col("sign") != 0)
    measures, values = [], []
    for index, row in enumerate(rows.iter_rows(named=True)):
        value = row["value"] or 0.0
        if index == 0:
            measures.append("absolute")
            values.append(value)
        elif row["subtotal"]:
            measures.append("total")
            values.append(value)
        else:
            measures.append("relative")
            values.append(value * row["sign"])
    figure = go.Figure(
        go.Waterfall(
            x=_inert_values(rows.get_column("label").to_list()),
            y=values,
            measure=measures,
            increasing={"marker": {"color": GOOD}},
            decreasing={"marker": {"color": BAD}},
            totals={"marker": {"color": TOTAL}},
            connector={"line": {"color": "#94a3b8", "width": 1}},
            hovertemplate=f"%{{x}}: %{{y:{MONEY.value}}}<extra></extra>",
        )
    )
    figure.update_yaxes(tickformat=MONEY.axis)
    return _layout(figure, title, height=380)


def drivers_waterfall(drivers: pl.DataFrame, labels: dict[str, str], title: str | None = None) -> dict:
    """Revenue before → the effect of each driver → revenue after, from `metrics.insights.decompose_change`, as a
    Vega-Lite spec (`ui.vega`), not a Plotly figure: it is the Overview's only chart besides the cards' sparklines,
    which Streamlit draws with Vega too, so the landing page never waits for Plotly's 4.7 MB module (about 2 s of a
    first visit in a new browser). Vega draws a text as its characters: labels are not made `inert`."""
    total = drivers.filter(pl.col("driver") == "total").row(0, named=True)
    steps = [(labels.get("before", "Before"), "total", 0.0, total["before"])]
    level = total["before"]
    for row in drivers.filter(pl.col("driver") != "total").iter_rows(named=True):
        effect = row["effect"] or 0.0  # an effect that cannot be split out is drawn as no step
        steps.append((labels.get(row["driver"], row["driver"]), "up" if effect >= 0 else "down", level, level + effect))
        level += effect
    steps.append((labels.get("after", "After"), "total", 0.0, total["after"]))
    values = []
    for label, kind, start, end in steps:
        amount = format(end, MONEY.axis) if kind == "total" else format(end - start, "+" + MONEY.axis)
        values.append({"label": label, "kind": kind, "start": start, "end": end, "tip": f"{label}: {amount}"})
    spec: dict = {
        "height": 300,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "label",
                "type": "nominal",
                "sort": None,  # the data's order: before, each driver, after
                # One word a line, so every step is named however narrow the column (Vega drops overlapping labels).
                "axis": {"title": None, "labelAngle": 0, "labelOverlap": False, "labelExpr": "split(datum.label, ' ')"},
            },
            "y": {"field": "start", "type": "quantitative", "axis": {"title": None, "format": MONEY.axis}},
            "y2": {"field": "end"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "scale": {"domain": ["total", "up", "down"], "range": [TOTAL, GOOD, BAD]},
                "legend": None,
            },
            "tooltip": {"field": "tip", "type": "nominal"},
        },
    }
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec


def lines_over_time(
    frame: pl.DataFrame, metrics: Sequence[str], names: Sequence[str], x: str = "month", title: str | None = None
) -> go.Figure:
    """One line per metric of `frame` over `x` (e.g. gross and net margin per month)."""
    figure = go.Figure()
    for index, (metric, name) in enumerate(zip(metrics, names, strict=True)):
        figure.add_scatter(
            x=_inert_values(frame.get_column(x).to_list()),
            y=frame.get_column(metric).to_list(),
            name=inert(name),
            mode="lines+markers",
            line={"color": COLORS[index % len(COLORS)], "width": 2},
        )
    if metrics:
        figure.update_yaxes(tickformat=axis_format(metrics[0]))
    return _layout(figure, title)


def compare_bars(
    frame: pl.DataFrame,
    x: str,
    columns: Sequence[str],
    names: Sequence[str],
    title: str | None = None,
    metric: str = "total_revenue",
) -> go.Figure:
    """Grouped bars: one bar per column of `columns` for each value of `x` (e.g. this year vs last year), all values
    of `metric`."""
    figure = go.Figure()
    for index, (column, name) in enumerate(zip(columns, names, strict=True)):
        figure.add_bar(
            x=_inert_values(frame.get_column(x).to_list()),
            y=frame.get_column(column).to_list(),
            name=inert(name),
            marker_color=COLORS[index % len(COLORS)],
        )
    figure.update_layout(barmode="group")
    figure.update_yaxes(tickformat=axis_format(metric))
    return _layout(figure, title)


def stacked_bars(
    frame: pl.DataFrame, x: str, group: str, metric: str, names: dict | None = None, title: str | None = None
) -> go.Figure:
    """Bars of `metric` over `x`, stacked by `group` (e.g. revenue per month from new and returning customers)."""
    figure = go.Figure()
    for index, value in enumerate(frame.get_column(group).unique(maintain_order=True).to_list()):
        part = frame.filter(pl.col(group).is_null() if value is None else pl.col(group) == value).sort(x)
        figure.add_bar(
            x=_inert_values(part.get_column(x).to_list()),
            y=part.get_column(metric).to_list(),
            name=inert((names or {}).get(value, NONE_LABEL if value is None else value)),
            marker_color=COLORS[index % len(COLORS)],
        )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(tickformat=axis_format(metric))
    return _layout(figure, title)


def cohort_heatmap(
    activity: pl.DataFrame,
    title: str | None = None,
    months: int = 12,
    hover: str = f"cohort %{{y}}, month %{{x}}: %{{z:{RATE.value}}}",
) -> go.Figure:
    """Cohort retention from `metrics.cohort_activity`: one row per cohort, one column per month offset k ≥ 1.
    `hover`: the Plotly hover template of a cell (cohort in %{y}, month offset in %{x}, retention in %{z})."""
    shown = activity.filter((pl.col("month_offset") >= 1) & (pl.col("month_offset") <= months))
    cohorts = sorted(shown.get_column("cohort").unique().to_list())
    offsets = list(range(1, months + 1))
    cells = {(r["cohort"], r["month_offset"]): r["retention"] for r in shown.iter_rows(named=True)}
    z = [[cells.get((c, k)) for k in offsets] for c in cohorts]
    text = [["" if v is None else format(v, RATE.rounded) for v in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"+{k}" for k in offsets],
            y=[c.strftime("%Y-%m") for c in cohorts],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            hovertemplate=hover + "<extra></extra>",
            colorbar={"tickformat": RATE.rounded},
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    return _layout(figure, title, height=max(260, 24 * len(cohorts) + 80))
