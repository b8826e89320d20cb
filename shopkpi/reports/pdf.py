"""The report as a print-ready A4 PDF: the HTML report in print mode (SVG chart images, page numbers), laid out by
WeasyPrint (needs Debian's pango). Chinese text needs a CJK font on the machine (Debian fonts-noto-cjk)."""

from __future__ import annotations

import logging

from shopkpi.reports.content import Report
from shopkpi.reports.html import render_html


def render_pdf(report: Report) -> bytes:
    """The PDF's bytes."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint is installed but Debian's pango is not
        raise RuntimeError(
            f"cannot make PDFs here ({str(exc).splitlines()[0]}): install WeasyPrint and pango"
            " (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk)"
        ) from exc

    # WeasyPrint logs every CSS property it does not support at WARNING; the report's CSS is ours and checked.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html = render_html(report, print_mode=True)
    return weasyprint.HTML(string=html).write_pdf()
