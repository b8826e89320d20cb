"""`shopkpi kpis` carries the service and after-sales figures (metrics/service.py): the values worked out in
tests/metrics/test_service.py on the shop of tests/support/service_shop.py, null in rows split by a dimension."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from metrics.service import SERVICE
from shopkpi.cli import kpis as cli_metrics
from tests.support.service_shop import service_shop

app = typer.Typer()
app.command("kpis")(cli_metrics.kpis)
app.command("other")(lambda: None)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(service_shop(tmp_path_factory.mktemp("shop") / "w.duckdb"))


# No shopkpi.toml or SHOPKPI_* setting of the machine leaks in (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_config")


def kpis(*args: str):
    return CliRunner().invoke(app, ["kpis", "--from", "2024-03-01", "--to", "2024-03-31", *args])


def test_kpis_json_has_the_service_figures(db):
    result = kpis("--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["rows"]
    assert set(SERVICE) <= set(row)
    assert (row["tickets"], row["first_response_minutes"]) == (5, 25.0)
    assert row["first_response_within_target"] == pytest.approx(0.6)
    assert row["complaint_rate"] == pytest.approx(100 / 3) and row["return_rate"] == pytest.approx(0.25)


def test_a_target_file_moves_the_first_response_line(db, tmp_path, monkeypatch):
    targets = tmp_path / "targets.toml"
    targets.write_text('[first_response_minutes]\nmax = 20\ndirection = "lower"\n')
    monkeypatch.setenv("SHOPKPI_TARGETS", str(targets))
    [row] = json.loads(kpis("--db", db, "--format", "json").stdout)["rows"]
    assert row["first_response_within_target"] == pytest.approx(0.4)  # t1 (10 min) and t3 (20 min) of 5


def test_grouped_rows_have_no_service_figures_and_the_table_shows_them(db):
    rows = json.loads(kpis("--db", db, "--format", "json", "--by", "payment_method").stdout)["rows"]
    assert rows and all(row[name] is None for row in rows for name in SERVICE)
    table = kpis("--db", db)
    assert table.exit_code == 0
    line = next(text for text in table.stdout.splitlines() if "First response time" in text)
    assert "25.0" in line and "≤ 30" in line and "on" in line
