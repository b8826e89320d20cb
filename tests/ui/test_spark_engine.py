"""engine = "spark" on the dashboard and in the reports: the figures are the lake's on Spark (local[2], the test run's
one session), equal to the warehouse's, and the page or the report says which engine computed them.

The hand-made shop (tests/support/shops.py) keeps Spark's work small."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from shopkpi.cli.main import app
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import warmup
from tests.support.app import no_failure, open_app
from warehouse.lake import export_lake

pytestmark = pytest.mark.usefixtures("no_config")


@pytest.fixture(scope="module")
def lake(hand_made_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("lake") / "hand-made"
    export_lake(hand_made_db, path)
    return path


def _cards(at) -> list[tuple[str, str]]:
    return [(metric.label, metric.value) for metric in at.metric]


def test_overview_on_spark_shows_the_warehouses_figures_and_says_spark_computed_them(
    hand_made_db, lake, spark, monkeypatch
):
    # The background warm-up would compute every page on Spark in this process: not what is tested here.
    monkeypatch.setattr(warmup, "start", lambda: None)
    on_duckdb = open_app(hand_made_db, monkeypatch)
    no_failure(on_duckdb)
    assert [c.value for c in on_duckdb.caption if "Figures computed by" in c.value] == [
        "Figures computed by DuckDB (embedded warehouse)."
    ]

    monkeypatch.setenv("SHOPKPI_ENGINE", "spark")
    monkeypatch.setenv("SHOPKPI_LAKE", str(lake))
    monkeypatch.setenv("SHOPKPI_SPARK_MASTER", "local[2]")
    # Each KPI query is analysed anew by Spark (seconds each, more on a JVM not yet warm): a longer timeout than
    # open_app's.
    on_spark = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=600).run()
    no_failure(on_spark)
    captions = [c.value for c in on_spark.caption if "Figures computed by" in c.value]
    assert len(captions) == 1
    assert captions[0].startswith("Figures computed by Spark (local\\[2\\]) from the lake at ")  # markdown-escaped
    assert "hand\\-made, exported 20" in captions[0]  # the lake's path, escaped for markdown, and its export time
    # The Overview's stock alert reads the forecast, which stays on the warehouse, and the page says so.
    assert captions[0].endswith("From the embedded DuckDB warehouse (not run on Spark): stock cover.")

    # The ten headline cards of the default view (the 30 days to 2024-04-20) read the same on both engines, and are
    # not all empty: orders o5–o9 and o11 were placed then.
    cards = _cards(on_spark)
    assert len(cards) == 10 and cards == _cards(on_duckdb)
    assert dict(cards)["Orders"] not in ("—", "0")


def test_the_traffic_page_on_spark_reads_no_spans_and_names_no_embedded_figure(hand_made_db, lake, spark, monkeypatch):
    """The lake keeps no rollups: whether a split's visitors come from the warehouse's spans is not asked of the
    warehouse on Spark, so the page's caption names no figure as the embedded warehouse's."""
    monkeypatch.setattr(warmup, "start", lambda: None)
    monkeypatch.setenv("SHOPKPI_ENGINE", "spark")
    monkeypatch.setenv("SHOPKPI_LAKE", str(lake))
    monkeypatch.setenv("SHOPKPI_SPARK_MASTER", "local[2]")
    at = open_app(hand_made_db, monkeypatch, "traffic")
    no_failure(at)
    captions = [c.value for c in at.caption if "Figures computed by" in c.value]
    assert len(captions) == 1 and captions[0].startswith("Figures computed by Spark"), captions
    assert "embedded DuckDB warehouse" not in captions[0], captions[0]
    assert at.dataframe[0].value["visitors"].notna().any(), "the visitors, counted on Spark"


def _html(runner: CliRunner, db, lake, engine: str, out) -> str:
    env = {"SHOPKPI_LAKE": str(lake), "SHOPKPI_SPARK_MASTER": "local[2]"}
    args = ["report", "--period", "monthly", "--date", "2024-03-15", "--out", str(out), "--db", str(db)]
    result = runner.invoke(app, [*args, "--engine", engine], env=env)
    assert result.exit_code == 0, result.stderr
    return out.read_text(encoding="utf-8")


def test_a_report_on_spark_names_its_engine_and_has_the_warehouses_figures(hand_made_db, lake, spark, tmp_path):
    runner = CliRunner()
    on_duckdb = _html(runner, hand_made_db, lake, "duckdb", tmp_path / "duckdb.html")
    on_spark = _html(runner, hand_made_db, lake, "spark", tmp_path / "spark.html")
    assert "figures computed by DuckDB (embedded warehouse)." in on_duckdb
    named = re.search(r"figures computed by (Spark \(local\[2\]\) from the lake at .*?, exported [^;]+);", on_spark)
    assert named and str(lake) in named.group(1)
    assert "stock alerts and outlook: DuckDB (embedded warehouse)." in on_spark

    # Apart from the engine and the minute it was generated, the report is the same: every KPI, the P&L, traffic,
    # funnel, products and service tables (March 2024 of the hand-made shop: 5 valid orders).
    def figures(html: str) -> str:
        html = re.sub(r"generated (by shopkpi on )?\d{4}-\d\d-\d\d \d\d:\d\d", "generated", html, flags=re.I)
        return re.sub(r"; figures computed by .*?\. Definitions", ". Definitions", html)

    assert figures(on_spark) == figures(on_duckdb)
    assert "figures computed by" not in figures(on_spark)  # the engine, and only it, was taken out
    assert "KPIs vs targets" in on_spark
