"""The report as one self-contained HTML file (charts embedded as SVG images, no script, no network); in print mode
the same document with A4 page rules is what pdf.py lays out."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import jinja2

from metrics.registry import METRICS
from shopkpi.reports.cells import STATUS_TEXT, display, status_colour
from shopkpi.reports.content import Card, Report, Section

TEMPLATES = Path(__file__).resolve().parent / "templates"
NUMERIC_KINDS = {"count", "money", "rate", "margin", "ratio", "change", "decimal", "unit"}
# Sections printed whole on one page where they fit (the long KPI table may run over).
KEEP_TOGETHER = {"pnl", "trend", "traffic", "campaigns", "funnel", "engagement", "top_products", "movers", "stock"}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(("html", "j2")), trim_blocks=True
)


def _change_class(value: float | None, metric: str | None) -> str:
    if value is None or value == 0:
        return ""
    lower_is_better = metric in METRICS and METRICS[metric].direction == "lower"
    return "good" if (value > 0) != lower_is_better else "bad"


def _card_view(card: Card) -> dict[str, Any]:
    return {
        "label": card.label,
        "label_zh": card.label_zh,
        "value_text": display(card.value, "unit", card.metric),
        "status": status_colour(card.status) if card.status in STATUS_TEXT else None,
        "status_text": STATUS_TEXT.get(card.status or "", ""),
        "target": card.target,
        "previous_text": display(card.previous_change, "change"),
        "previous_class": _change_class(card.previous_change, card.metric),
        "last_year_text": display(card.last_year_change, "change"),
        "last_year_class": _change_class(card.last_year_change, card.metric),
    }


def _pill(value: Any, kind: str) -> str | None:
    if kind != "status" or value is None:
        return None
    return str(status_colour(value)).replace(" ", "-")


def _section_view(section: Section, chart_html: str | None, print_mode: bool) -> dict[str, Any]:
    table = section.table
    shown = [i for i, column in enumerate(table.columns) if not column.workbook_only]
    columns = [
        {"label": table.columns[i].label, "css": "num" if table.columns[i].kind in NUMERIC_KINDS else ""} for i in shown
    ]
    rows = []
    for r, values in enumerate(table.rows):
        metric = table.metrics[r] if table.metrics else None
        cells = []
        for i in shown:
            column, value = table.columns[i], values[i]
            cells.append(
                {
                    "text": ""
                    if value is None and column.kind in ("text", "status")
                    else display(value, column.kind, metric),
                    "css": " ".join(
                        c
                        for c in (
                            "num" if column.kind in NUMERIC_KINDS else "",
                            "nowrap" if column.kind in ("date", "status") or column.key == "target" else "",
                            _change_class(value, metric or "gross_sales") if column.kind == "change" else "",
                        )
                        if c
                    ),
                    "pill": _pill(value, column.kind),
                }
            )
        rows.append({"cells": cells, "css": table.styles[r] if table.styles else ""})
    return {
        "key": section.key,
        "title": section.title,
        "title_zh": section.title_zh,
        "note": section.note,
        "cards": [_card_view(c) for c in section.cards],
        "chart": chart_html,
        "columns": columns,
        "rows": rows,
        "empty": table.empty,
        "keep": print_mode and section.key in KEEP_TOGETHER,
    }


def render_html(report: Report, print_mode: bool = False) -> str:
    """The report as an HTML document; `print_mode` adds the A4 page rules of the PDF. Charts are SVG images
    embedded as data: URLs, so the file needs nothing else (no network, no script)."""
    chart_html: dict[str, str] = {}
    for section in report.sections:
        if section.chart is not None:
            data = base64.b64encode(section.chart.encode("utf-8")).decode("ascii")
            chart_html[section.key] = f'<img alt="{html.escape(section.title)}" src="data:image/svg+xml;base64,{data}">'
    template = _environment.get_template("report.html.j2")
    return template.render(
        report=report,
        print=print_mode,
        previous=(report.compared or {}).get("previous") or report.period.previous(),
        last_year=(report.compared or {}).get("last_year") or report.period.last_year(),
        headline=[_card_view(c) for c in report.cards],
        sections=[_section_view(s, jinja2_safe(chart_html.get(s.key)), print_mode) for s in report.sections],
    )


def jinja2_safe(html: str | None) -> Any:
    """Chart markup we built ourselves (our SVG or an <img>), passed through the template unescaped."""
    return None if html is None else jinja2.utils.markupsafe.Markup(html)
