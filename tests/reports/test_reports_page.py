"""The Reports page (pages/reports.py): period and date pickers, and download buttons that build the same files as
`shopkpi report`; empty state without a warehouse."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from shopkpi.settings import REPO_ROOT
from tests.support.demo import END, demo_warehouse

PAGE = str(REPO_ROOT / "pages" / "reports.py")


@pytest.fixture(autouse=True)
def settings(monkeypatch):
    for name in ("SHOPKPI_CONFIG", "SHOPKPI_TARGETS"):
        monkeypatch.delenv(name, raising=False)


def open_page(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def test_the_page_offers_the_three_downloads_of_the_chosen_period(monkeypatch):
    at = open_page(demo_warehouse(), monkeypatch)
    assert not at.exception
    assert at.title[0].value == "Reports"
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["PDF for reading and printing", "Excel workbook", "Web page"]
    assert at.date_input(key="report_day").value == END
    assert "2024-06-01 – 2024-06-30" in at.caption[0].value  # monthly by default: the month of the latest date
    at.radio(key="report_kind").set_value("weekly").run()
    assert "2024-06-24 – 2024-06-30" in at.caption[0].value  # the ISO week of Sunday 30 June 2024


def test_the_page_speaks_chinese(monkeypatch):
    at = open_page(demo_warehouse(), monkeypatch, lang="zh")
    assert not at.exception
    assert at.title[0].value == "报告"
    assert [b.proto.label for b in at.get("download_button")] == ["PDF（阅读、打印）", "Excel 工作簿", "网页"]


def test_the_download_builds_the_report_on_click(monkeypatch):
    monkeypatch.setenv("SHOPKPI_DB", str(demo_warehouse()))
    from pages.reports import deferred_report

    book = openpyxl.load_workbook(io.BytesIO(deferred_report("monthly", date(2024, 6, 5), "xlsx", {})()))
    assert book["Report"]["B3"].value == "June 2024"
    html = deferred_report("daily", END, "html", {})().decode()
    assert "Daily operations report" in html


def test_without_a_warehouse_the_page_says_how_to_get_data(monkeypatch, tmp_path):
    at = open_page(tmp_path / "none.duckdb", monkeypatch)
    assert not at.exception
    assert not at.get("download_button")
    assert "shopkpi demo" in at.info[0].value
