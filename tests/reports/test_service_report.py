"""The daily, weekly and monthly reports carry the customer-service and returns sections: the figures of
metrics/service.py for the period and the previous one, returns by reason, also in Excel; and the hand-worked
service shop's March figures (tests/metrics/test_service.py) in its monthly report."""

from __future__ import annotations

import io
from datetime import date

import duckdb
import openpyxl
import pytest

from metrics.periods import Period
from metrics.service import returns_by, service_kpis
from shopkpi.reports import build_report, report_bytes, report_period
from tests.support.demo import END
from tests.support.service_shop import service_shop
from warehouse import open_read_only


def sections(report) -> dict:
    return {section.key: section for section in report.sections}


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_every_report_has_the_service_figures_of_its_period(demo_db, kind):
    with open_read_only(demo_db) as con:
        report = build_report(con, kind, END)
        period = report_period(kind, END)
        now, before = service_kpis(con, period), service_kpis(con, period.previous())
        reasons = returns_by(con, period, "reason")
    service = sections(report)["service"].table.frame()
    assert service.row(0, named=True) == {"period": "This period", **{k: now[k] for k in service.columns[1:]}}
    assert service.row(1, named=True) == {"period": "Previous period", **{k: before[k] for k in service.columns[1:]}}
    assert now["tickets"] > 0
    returned = sections(report)["returns"].table.frame()
    assert returned["returned_units"].to_list() == reasons["returned_units"].to_list()


def test_the_hand_worked_shop_in_the_monthly_report_and_excel(tmp_path):
    with duckdb.connect(str(service_shop(tmp_path / "w.duckdb")), read_only=True) as con:
        report = build_report(con, "monthly", date(2024, 3, 31))
        book = openpyxl.load_workbook(io.BytesIO(report_bytes(con, "monthly", date(2024, 3, 31), "xlsx")))
        assert report_period("monthly", date(2024, 3, 31)) == Period(date(2024, 3, 1), date(2024, 3, 31))
    service = sections(report)["service"]
    assert service.title == "Customer service" and "met by 60.0% of the tickets" in service.note  # t1, t3, t4 of 5
    # The shop's data ends on 12 March (order o4), so March is partial and is compared with 1–12 February (SPEC §4),
    # which has no ticket (t6 was opened on the 28th): 0 tickets, no median.
    assert service.table.frame()["first_response_minutes"].to_list() == [25.0, None]
    assert "25.0% of units" in sections(report)["returns"].note  # 2 of March's 8 units came back
    rows = list(book["Customer service"].iter_rows(values_only=True))
    header, march, february = rows[0], rows[1], rows[2]
    by_name = dict(zip(header, march, strict=True))
    assert by_name["Service tickets"] == 5 and by_name["Complaints per 100 orders"] == pytest.approx(100 / 3)
    assert dict(zip(header, february, strict=True))["Service tickets"] == 0
    returns = list(book["Returns"].iter_rows(values_only=True))
    assert [row[:3] for row in returns[1:]] == [("quality", 1, 100), ("size_fit", 1, 100)]
