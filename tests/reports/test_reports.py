"""Operations reports (issue 6): every number comes from metrics/, the three formats open and say what they should,
user text cannot become a spreadsheet formula, and `shopkpi report` keeps SPEC §5's exit codes.

The shop is a short demo (pipelines/demo/) plus an ad campaign named like a formula, loaded by pipelines/ingest/.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
from datetime import date

import openpyxl
import polars as pl
import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from metrics.bestsellers import top_products
from metrics.compute import compute_kpis
from metrics.funnel import funnel
from metrics.periods import Period
from metrics.pnl import pnl_statement
from metrics.products import product_sales_change, risers_and_fallers
from metrics.registry import METRICS, PNL_COLUMNS, REPORT_ONLY
from metrics.targets import load_targets
from pipelines import demo, ingest
from shopkpi.cli import report as cli_report
from shopkpi.reports import build_report, file_name, report_bytes, report_period
from shopkpi.reports.cells import csv_bytes, inert, inert_frame
from tests.support.demo import build_demo_warehouse
from warehouse import open_read_only

END = date(2024, 6, 30)
DAYS = 75
JUNE = Period(date(2024, 6, 1), date(2024, 6, 30))
MAY = Period(date(2024, 5, 1), date(2024, 5, 31))  # the previous period of a calendar month: the month before (SPEC §4)
EVIL_CAMPAIGN = '=HYPERLINK("x")'
SHEETS = [
    "Report",
    "KPIs vs targets",
    "Profit and loss",
    "Trend",
    "Traffic by source",
    "Stores",  # the demo sells on its own site, Tmall and JD (issue 13)
    "Campaigns",
    "Funnel",
    "CTR and bounce",
    "Top products",
    "Movers",
    "Customer service",
    "Returns",
    "Stock alerts",
    "Outlook",
]

app = typer.Typer()  # the command as shopkpi/cli/main.py registers it
app.command("report")(cli_report.report)


@app.command("version")
def _version() -> None:  # a second command, so that `report` is a subcommand as in shopkpi
    pass


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    path = build_demo_warehouse(root, DAYS, END)
    evil = root / "evil_ads.csv"
    evil.write_text(
        "date,source,medium,campaign,cost,impressions,clicks\n"
        f'2024-06-10,social,cpm,"{EVIL_CAMPAIGN.replace(chr(34), chr(34) * 2)}",123.45,1000,20\n',
        encoding="utf-8",
    )
    ingest.ingest_file(path, "ad_spend", evil, store_timezone=demo.DEMO_TIMEZONE, currency="CNY")
    return path


@pytest.fixture(scope="module")
def con(db):
    connection = open_read_only(db)
    yield connection
    connection.close()


# No shopkpi.toml or SHOPKPI_* setting of the machine leaks in (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_config")


@pytest.fixture(scope="module")
def monthly_xlsx(con) -> openpyxl.Workbook:
    data = report_bytes(con, "monthly", date(2024, 6, 17), "xlsx", load_targets())
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(scope="module")
def monthly_pdf(con) -> bytes:
    return report_bytes(con, "monthly", date(2024, 6, 17), "pdf", load_targets())


def sheet_rows(book: openpyxl.Workbook, name: str) -> list[dict]:
    """The sheet's rows as dicts keyed by the header row's labels."""
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)


# --- periods ----------------------------------------------------------------------------------------------------


def test_report_periods_are_the_day_the_iso_week_and_the_calendar_month():
    assert report_period("daily", date(2024, 6, 12)) == Period(date(2024, 6, 12), date(2024, 6, 12))
    # 12 June 2024 is a Wednesday; its ISO week runs Monday 10 – Sunday 16 June; a Sunday belongs to its own week.
    assert report_period("weekly", date(2024, 6, 12)) == Period(date(2024, 6, 10), date(2024, 6, 16))
    assert report_period("weekly", date(2024, 6, 16)) == Period(date(2024, 6, 10), date(2024, 6, 16))
    assert report_period("monthly", date(2024, 2, 10)) == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert file_name("weekly", date(2024, 6, 12), "pdf") == "shopkpi-weekly-2024-W24.pdf"
    with pytest.raises(ValueError, match="yearly"):
        report_period("yearly", date(2024, 6, 12))


# --- every number from the metrics layer ------------------------------------------------------------------------


def test_monthly_kpis_equal_compute_kpis(con, monthly_xlsx):
    rows = {row["Metric key"]: row for row in sheet_rows(monthly_xlsx, "KPIs vs targets")}
    # Every KPI but those only a platform's traffic report gives: the demo's sessions come from its session logs.
    shown = [name for name in METRICS if name not in REPORT_ONLY]
    assert list(rows) == shown
    june = compute_kpis(con, JUNE).row(0, named=True)
    may = compute_kpis(con, MAY).row(0, named=True)
    for name in shown:
        assert same(rows[name]["Value"], june[name]), name
        assert same(rows[name]["Previous period"], may[name]), name
        assert rows[name]["Last year"] in (0, None), name  # the demo shop starts in April 2024


def test_monthly_pnl_equals_pnl_statement(con, monthly_xlsx):
    rows = {row["Line key"]: row for row in sheet_rows(monthly_xlsx, "Profit and loss")}
    [statement] = pnl_statement(con, "2024-06", "2024-06").iter_rows(named=True)
    assert list(rows) == list(PNL_COLUMNS)
    for name in PNL_COLUMNS:
        assert same(rows[name]["This period"], statement[name]), name


def test_monthly_sections_equal_their_metrics_queries(con, monthly_xlsx):
    by_source = {r["group"]: r for r in compute_kpis(con, JUNE, by="source").iter_rows(named=True)}
    for row in sheet_rows(monthly_xlsx, "Traffic by source"):
        source = None if row["Source"] == "(no source)" else row["Source"]
        for name in ("sessions", "orders", "total_revenue", "bounce_rate", "ad_spend", "roas"):
            assert same(row[METRICS[name].label_en], by_source[source][name]), (source, name)

    steps = funnel(con, JUNE).get_column("sessions").to_list()
    assert [row["Sessions reaching it"] for row in sheet_rows(monthly_xlsx, "Funnel")] == steps

    top = top_products(con, JUNE, limit=10)
    sheet = sheet_rows(monthly_xlsx, "Top products")
    assert [row["SKU"] for row in sheet] == top.get_column("sku").to_list()
    assert [row["Gross sales"] for row in sheet] == pytest.approx(top.get_column("gross_sales").to_list())

    movers = risers_and_fallers(product_sales_change(con, JUNE, MAY), 5)
    sheet = sheet_rows(monthly_xlsx, "Movers")
    assert [row["SKU"] for row in sheet] == movers.get_column("sku").to_list()
    assert [row["Change"] for row in sheet] == pytest.approx(movers.get_column("sales_change").to_list())


def test_the_sessions_by_source_chart_names_the_group_none_as_its_table_does(con):
    """Orders without a session form the group none: "(no source)" in the table, and in the chart too, never "(none)",
    which is a name the data may use itself (GA4's medium of direct traffic)."""
    assert None in compute_kpis(con, JUNE, by="source")["group"].to_list(), "June has orders without a session"
    report = build_report(con, "monthly", date(2024, 6, 17), load_targets())
    [traffic] = [section for section in report.sections if section.key == "traffic"]
    assert "(no source)" in [row[0] for row in traffic.table.rows]
    assert "Sessions by source" in traffic.chart and "(no source)" in traffic.chart and "(none)" not in traffic.chart


def test_product_sales_add_up_to_the_shops_gross_sales(con):
    # Every demo order has lines, so the products' gross sales and units are the shop's, in both periods.
    changes = product_sales_change(con, JUNE, MAY)
    june, may = compute_kpis(con, JUNE).row(0, named=True), compute_kpis(con, MAY).row(0, named=True)
    assert changes.get_column("gross_sales").sum() == pytest.approx(june["gross_sales"])
    assert changes.get_column("compared_gross_sales").sum() == pytest.approx(may["gross_sales"])
    assert changes.get_column("units").sum() == june["units"]
    assert changes.get_column("sku").is_unique().all()


# --- XLSX -------------------------------------------------------------------------------------------------------


def test_xlsx_has_one_sheet_per_section_with_frozen_headers_and_real_numbers(monthly_xlsx):
    assert monthly_xlsx.sheetnames == SHEETS
    for name in SHEETS[1:]:
        sheet = monthly_xlsx[name]
        assert sheet.freeze_panes == "A2", name
        assert all(cell.font.b for cell in sheet[1]), name
    kpis = monthly_xlsx["KPIs vs targets"]
    header = [cell.value for cell in kpis[1]]
    value, change = header.index("Value") + 1, header.index("vs previous") + 1
    formats = {}
    for row in kpis.iter_rows(min_row=2):
        metric, cell = row[0].value, row[value - 1]
        assert cell.data_type == "n" and isinstance(cell.value, int | float), metric
        formats[METRICS[metric].unit] = cell.number_format
        assert row[change - 1].data_type == "n" and row[change - 1].number_format.startswith("+0.0%")
    assert formats == {"count": "#,##0", "money": "#,##0.00", "rate": "0.0%", "margin": "0.0%", "ratio": '0.00"×"'}
    # Negative numbers stay numbers (a fall in the movers), not text an apostrophe would have made inert.
    changes = [row[5] for row in monthly_xlsx["Movers"].iter_rows(min_row=2)]
    assert any(isinstance(c.value, float) and c.value < 0 and c.data_type == "n" for c in changes)


def test_daily_and_weekly_workbooks_open(con):
    for kind in ("daily", "weekly"):
        book = openpyxl.load_workbook(io.BytesIO(report_bytes(con, kind, date(2024, 6, 12), "xlsx")))
        assert book.sheetnames == SHEETS
        title = book["Report"]["A1"].value
        assert title.lower().startswith(kind)


def test_a_period_without_data_is_a_report_of_empty_states(con):
    report = build_report(con, "daily", date(2020, 1, 1))
    assert report.section("top_products").table.rows == []
    assert report.notice == "No sessions, orders or ad spend in this period: the latest data is from 2024-06-30."
    assert report.section("trend").chart is None and report.section("funnel").chart is None
    html = report_bytes(con, "daily", date(2020, 1, 1), "html").decode()
    assert "No product sold in this period." in html and "nan" not in html.lower().split()
    assert report.notice in html


# --- formula injection ------------------------------------------------------------------------------------------


def test_inert_prefixes_formula_text_only():
    assert [inert(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "plain", "a=b")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "plain",
        "a=b",
    ]
    assert [inert(v) for v in (-5, -2.5, 0, None)] == [-5, -2.5, 0, None]  # numbers stay numbers
    frame = pl.DataFrame({"campaign": [EVIL_CAMPAIGN, "ok", None], "cost": [-1.0, 2.0, 3.0]})
    assert inert_frame(frame).to_dict(as_series=False) == {
        "campaign": ["'" + EVIL_CAMPAIGN, "ok", None],
        "cost": [-1.0, 2.0, 3.0],
    }
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows[1] == ["'" + EVIL_CAMPAIGN, "-1.0"]


def test_a_campaign_named_like_a_formula_comes_out_inert(con, monthly_xlsx):
    cells = [cell for row in monthly_xlsx["Campaigns"].iter_rows() for cell in row]
    [evil] = [cell for cell in cells if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    assert evil.value == "'" + EVIL_CAMPAIGN and evil.data_type == "s"
    # No formula anywhere in the workbook, and the raw XML holds the name as a string, never as <f>.
    assert not [c for sheet in monthly_xlsx for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    html = report_bytes(con, "monthly", date(2024, 6, 17), "html").decode()
    assert "=HYPERLINK(&#34;x&#34;)" in html or "=HYPERLINK(&quot;x&quot;)" in html


# --- HTML -------------------------------------------------------------------------------------------------------


def test_html_is_one_self_contained_file(con):
    html = report_bytes(con, "weekly", date(2024, 6, 12), "html").decode()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html)  # nothing fetched
    assert "<script" not in html
    charts = re.findall(r'<img alt="[^"]*" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(charts) == 5  # trend, sources, stores, funnel, top products
    assert all(base64.b64decode(chart).startswith(b"<svg") for chart in charts)
    for title in ("KPIs vs targets", "Profit and loss", "Traffic by source", "Funnel", "Stock alerts"):
        assert title in html


# --- PDF --------------------------------------------------------------------------------------------------------


def test_monthly_pdf_has_the_sections_on_a4_with_page_numbers(monthly_pdf, con):
    reader = PdfReader(io.BytesIO(monthly_pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for heading in (
        "Monthly operations report",
        "June 2024",
        "KPIs vs targets",
        "Profit and loss",
        "损益表",
        "Trend",
        "Traffic by source",
        "Campaigns",
        "Funnel",
        "CTR and bounce",
        "Top products",
        "Movers",
        "Stock alerts",
    ):
        assert heading in text, heading
    # Chinese product names come out as text (a font with CJK glyphs was embedded), not as blanks.
    best = top_products(con, JUNE, limit=1).get_column("name")[0]
    assert best.split()[0] in text
    pages = len(reader.pages)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    for chart in ("Revenue, net profit and orders", "Sessions by source", "Sessions by furthest step"):
        assert chart in text, chart  # the SVG charts' titles, drawn as text


def run(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_cli_writes_each_format(db, tmp_path):
    for fmt in ("xlsx", "html"):
        out = tmp_path / f"r.{fmt}"
        result = run("--period", "weekly", "--date", "2024-06-12", "--out", str(out), "--db", str(db))
        assert result.exit_code == 0, result.stderr
        assert out.stat().st_size > 1000 and result.stdout == ""
    out = tmp_path / "report"
    result = run("--period", "daily", "--format", "xlsx", "--out", str(out), "--db", str(db))  # default date
    assert result.exit_code == 0, result.stderr
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))  # openpyxl goes by the file name's suffix
    assert book["Report"]["B4"].value.date() == END
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--period", "monthly", "--date", "2024-13-01", "--out", "r.pdf"], 2, "bad date"),
        (["--period", "yearly", "--out", "r.pdf"], 2, "yearly"),
        (["--period", "monthly", "--out", "r.txt"], 2, "--format"),
        (["--period", "monthly", "--date", "2024-06-01", "--out", "no/such/dir/r.xlsx"], 1, "does not exist"),
        (["--period", "monthly", "--format", "xlsx", "--out", "."], 1, "is a directory"),
    ],
)
def test_cli_exit_codes(db, args, code, message):
    result = run(*args, "--db", str(db))
    assert result.exit_code == code, result.output
    assert message in result.stderr
    if code == 1:
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_cli_without_a_warehouse_is_a_data_error(tmp_path):
    result = run("--period", "monthly", "--out", "r.xlsx", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 1
    assert "no warehouse" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_without_the_pdf_libraries_is_one_line_exit_1(db, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    result = run("--period", "monthly", "--date", "2024-06-01", "--out", "r.pdf", "--db", str(db))
    assert result.exit_code == 1
    assert "apt-get install libpango" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_charts_are_well_formed_svg_that_escapes_names():
    import xml.etree.ElementTree as ElementTree

    from shopkpi.reports import charts

    frame = pl.DataFrame({"name": ["<b>Tea & Co</b>", "茶 &lt;", None], "gross_sales": [3.0, -1.0, None]})
    svg = charts.bars(frame, "name", "gross_sales", "Sales & more", horizontal=True)
    root = ElementTree.fromstring(svg)  # raises on markup that a name broke
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<b>Tea & Co</b>" in texts and "茶 &lt;" in texts and "(none)" in texts
    assert charts.bars(frame.clear(), "name", "gross_sales", "Nothing") is None
    series = pl.DataFrame(
        {"period": [date(2024, 5, 1), date(2024, 6, 1)], "total_revenue": [10.0, -2.0], "orders": [3, 0]}
    )
    ElementTree.fromstring(charts.trend(series, ("total_revenue", "orders"), "month"))


def test_the_outlook_is_the_month_pacing_of_the_forecast_module(con):
    from metrics.forecast import month_pacing
    from shopkpi.reports.content import OUTLOOK_MODEL

    pacing = month_pacing(con, "total_revenue", model=OUTLOOK_MODEL)
    section = build_report(con, "monthly", date(2024, 6, 17)).section("outlook")
    frame = section.table.frame()
    assert frame.height == pacing.days.height
    assert frame.get_column("actual").fill_null(0).sum() == pytest.approx(pacing.actual_to_date)
    assert frame.get_column("forecast").drop_nulls().len() > 0  # the fixture's month to pace has days to come
    assert frame.get_column("projected_cum").to_list()[-1] == pytest.approx(pacing.days["projected_cum"][-1])
    assert f"{pacing.projected:,.0f}" in section.note


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("", (7, 15)),  # neither bound in the user's file: the guide's 7–15
        ("[replenish_lead_days]\nmin = 5\n", (5, 15)),  # min only: the user's min, the default max
        ("[replenish_lead_days]\nmax = 20\n", (7, 20)),  # max only
        ("[replenish_lead_days]\nmin = 3\nmax = 10\n", (3, 10)),  # both
    ],
)
def test_the_dashboard_and_the_report_read_the_same_replenishment_window(con, tmp_path, monkeypatch, text, window):
    # The same targets file, read by each the way it runs: the dashboard from its settings (shopkpi.ui), the report
    # with what `shopkpi report` passes (load_targets(settings.targets_path)). Once gave 5–15 and 7–15 for `min = 5`.
    from metrics.forecast import load_calendar
    from shopkpi import ui
    from shopkpi.reports.content import _stock_section
    from shopkpi.settings import load_settings

    user = tmp_path / "targets.toml"
    user.write_text(text)
    monkeypatch.setenv("SHOPKPI_TARGETS", str(user))
    dashboard = ui.replenish_buffer()
    note = _stock_section(con, JUNE, load_targets(load_settings().targets_path), load_calendar()).note
    assert dashboard == window
    assert f"lead time plus {window[1]} days (the guide: replenish {window[0]}–{window[1]} days" in note


def test_orders_that_name_no_session_are_no_sources_in_the_traffic_table(tmp_path):
    # A shop of platform traffic only: November 2025's report gives direct 100 and email 50 sessions (email with 5
    # orders of its own count), and three paid orders of 10.00 name no session. Split by source, those orders are
    # in "(no source)"; a channel's orders and revenue are unknown (—), not 0; its sessions are the report's.
    from warehouse import writing

    db = tmp_path / "w.duckdb"
    with writing(db, store_timezone="UTC") as con:
        con.execute(
            "insert into traffic (date, end_date, store, source, medium, campaign, device, sessions, orders) values "
            "('2025-11-01', '2025-11-30', 'main', 'direct', '', '', 'unknown', 100, null), "
            "('2025-11-01', '2025-11-30', 'main', 'email', '', '', 'unknown', 50, 5)"
        )
        con.execute(
            "insert into orders (store, order_id, ordered_at, status, subtotal, discount, shipping_fee, refund_amount)"
            " values ('main', 'A', '2025-11-03 10:00', 'paid', 10, 0, 0, 0),"
            " ('main', 'B', '2025-11-10 10:00', 'paid', 10, 0, 0, 0),"
            " ('main', 'C', '2025-11-20 10:00', 'paid', 10, 0, 0, 0)"
        )
    with open_read_only(db) as con:
        section = build_report(con, "monthly", date(2025, 11, 15)).section("traffic")
    keys = [c.key for c in section.table.columns]
    rows = {row[0]: dict(zip(keys, row, strict=True)) for row in section.table.rows}
    assert rows["(no source)"]["orders"] == 3 and rows["(no source)"]["total_revenue"] == 30
    for source, sessions in (("direct", 100), ("email", 50)):
        assert rows[source]["sessions"] == sessions
        assert rows[source]["orders"] is None and rows[source]["total_revenue"] is None, source
    assert rows["email"]["conversion_rate"] == pytest.approx(5 / 50)  # the platform's 5 orders of 50 sessions
    assert "cannot be split by source: all 3 are in the group none" in section.note
