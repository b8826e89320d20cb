"""`shopkpi kpis`, `pnl` and `cohorts` (SPEC §5): JSON shapes, exit codes, agreement between the commands."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

from metrics.registry import METRICS, PNL_COLUMNS
from metrics.service import SERVICE
from shopkpi.cli import kpis as cli_metrics
from tests.support.shops import hand_made_shop

# The commands as shopkpi/cli/main.py registers them.
app = typer.Typer()
app.command("kpis")(cli_metrics.kpis)
app.command("pnl")(cli_metrics.pnl)
app.command("cohorts")(cli_metrics.cohorts)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(hand_made_shop(tmp_path_factory.mktemp("shop") / "w.duckdb"))


# No shopkpi.toml or SHOPKPI_* setting of the machine leaks in (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_config")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def run_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_kpis_json_shape(db):
    document = run_json("kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--db", db)
    # SPEC §5's keys, then whether the period is partial (SPEC §4) and why figures are unknown.
    assert list(document) == ["from", "to", "by", "partial", "days_with_data", "days", "unknown", "rows"]
    assert (document["from"], document["to"], document["by"]) == ("2024-03-01", "2024-03-31", None)
    assert (document["partial"], document["days_with_data"], document["days"]) == (False, 31, 31)
    # The hand-made shop gives every input but session durations, so GA4's engaged bounce is unknown, with why; and
    # its session figures come from session logs, so the figures only a platform's traffic report gives are unknown.
    only_report = (
        "only a platform's traffic report gives it, and this shop's session figures do not come from one"
        " (with session logs, total_revenue splits sales by source)"
    )
    assert document["unknown"] == {
        "engaged_bounce_rate": "the sessions carry no duration (sessions.duration_s)",
        "reported_sales": only_report,
        "reported_aov": only_report,
    }
    [row] = document["rows"]
    assert row["group"] is None and set(row) == {"group", *METRICS, *SERVICE}
    assert row["complaint_rate"] is None  # the hand-made shop has loaded no tickets (tests/cli/test_service_cli.py)
    assert row["orders"] == 5 and row["gross_sales"] == 700 and row["aov"] == 134  # see tests/metrics/test_metrics.py
    assert isinstance(row["gross_sales"], float) and isinstance(row["orders"], int)


def test_kpis_by_source_rows_add_up(db):
    document = run_json("kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--by", "source", "--db", db)
    assert document["by"] == "source"
    rows = document["rows"]
    assert None in [row["group"] for row in rows]  # orders without a session
    assert all(set(row) == {"group", *METRICS, *SERVICE} for row in rows)
    assert sum(row["orders"] for row in rows) == 5 and sum(row["ad_spend"] for row in rows) == 180
    assert all(row["operating_expenses"] is None for row in rows)


def test_kpis_default_period_is_30_days_to_the_latest_date(db):
    # The latest date in the shop is 2 April 2024 (order o10).
    document = run_json("kpis", "--db", db)
    assert (document["from"], document["to"]) == ("2024-03-04", "2024-04-02")


def test_kpis_csv_and_table(db):
    result = run("kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--format", "csv", "--db", db)
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["group"] == "" and float(row["gross_sales"]) == 700 and row["ad_ctr"] == "0.04"
    result = run("kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--db", db)
    assert result.exit_code == 0 and "Average order value" in result.stdout and "134.00" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("kpis", "--db", "missing.duckdb"), 1, "no warehouse at"),
        (("kpis", "--from", "2024-02-30", "--to", "2024-03-31"), 1, "bad date"),
        (("kpis", "--from", "2024-03-31", "--to", "2024-03-01"), 1, "before"),
        (("pnl", "--from", "2024-3", "--to", "2024-04"), 1, "bad month"),
        (("kpis", "--by", "colour"), 2, "colour"),
        (("kpis", "--format", "xml"), 2, "xml"),
    ],
)
def test_errors_exit_codes(db, args, code, message):
    if "--db" not in args:
        args = (*args, "--db", db)
    result = run(*args)
    assert result.exit_code == code
    assert message in result.stderr
    if code == 1:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_pnl_json_shape_and_agreement_with_kpis(db):
    document = run_json("pnl", "--from", "2024-02", "--to", "2024-03", "--db", db)
    assert (document["from"], document["to"]) == ("2024-02", "2024-03")
    assert [row["month"] for row in document["rows"]] == ["2024-02", "2024-03"]
    assert list(document["rows"][0]) == ["month", *PNL_COLUMNS, "days", "days_with_data", "partial"]
    assert [(r["days"], r["days_with_data"], r["partial"]) for r in document["rows"]] == [
        (29, 29, False),
        (31, 31, False),
    ]
    kpis = run_json("kpis", "--from", "2024-03-01", "--to", "2024-03-31", "--db", db)["rows"][0]
    march = document["rows"][1]
    for name in PNL_COLUMNS:
        assert march[name] == pytest.approx(kpis[name]), name


def test_cohorts_json_shape(db):
    document = run_json("cohorts", "--db", db)
    assert list(document) == ["rows"]
    first = document["rows"][0]
    assert list(first) == ["cohort", "customers", "retention"]
    assert first["cohort"] == "2023-03" and first["retention"][0] == 1.0 and first["retention"][-1] is None
    result = run("cohorts", "--format", "csv", "--db", db)
    assert result.stdout.splitlines()[0].startswith("cohort,customers,m0,m1")
