"""The report as a print-ready A4 PDF: the HTML report in print mode (SVG chart images, page numbers), laid out by
WeasyPrint (needs Debian's pango). Chinese text needs a CJK font on the machine (Debian fonts-noto-cjk)."""

from __future__ import annotations

import logging

from shopkpi.reports.content import Report
from shopkpi.reports.html import render_html


def render_pdf(report: Report) -> bytes:
    """The PDF's bytes."""
    import weasyprint

    # WeasyPrint logs every CSS property it does not support at WARNING; the report's CSS is ours and checked.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html = render_html(report, print_mode=True)
    return weasyprint.HTML(string=html).write_pdf()
