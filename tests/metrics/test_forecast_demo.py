"""Forecasts, pacing, alerts and their CLI commands on a short demo shop (pipelines/demo/): realistic data."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from metrics import forecast as fc
from metrics.anomalies import daily_alerts
from metrics.targets import Target
from shopkpi.cli import forecast as cli_forecast
from shopkpi.settings import REPO_ROOT
from tests.support.demo import build_demo_warehouse
from warehouse import open_read_only

END = date(2025, 9, 30)  # 150 days from 3 May: 618 in the history, ordinary late-summer days held out
DAYS = 150


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast_demo")
    path = build_demo_warehouse(root, DAYS, END)
    return path


@pytest.fixture(scope="module")
def con(db):
    connection = open_read_only(db)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def revenue(con) -> fc.Forecast:
    return fc.forecast_metric(con, "total_revenue", 14)


def test_the_forecast_continues_the_history(revenue):
    last = revenue.history["date"].max()
    assert last == END
    assert revenue.rows["date"].to_list() == [END + timedelta(days=i) for i in range(1, 15)]
    assert revenue.rows["group"].null_count() == 14


def test_intervals_nest_on_the_demo_shop(revenue):
    rows = revenue.rows
    assert (rows["lo95"] <= rows["lo80"]).all() and (rows["lo80"] <= rows["forecast"]).all()
    assert (rows["forecast"] <= rows["hi80"]).all() and (rows["hi80"] <= rows["hi95"]).all()
    assert (rows["lo95"] >= 0).all()


def test_the_model_beats_seasonal_naive_on_the_demo_shop(revenue):
    model = revenue.backtest.scores(revenue.model)
    naive = revenue.backtest.scores("seasonal_naive")
    assert revenue.model in fc.MODELS
    assert model["mape"] < naive["mape"] and model["smape"] < naive["smape"], (model, naive)
    assert 0.85 <= model["coverage95"] <= 1.0


def test_pacing_spreads_the_target_over_the_month(con):
    pacing = fc.month_pacing(con, month=date(2025, 9, 1), target=500_000, model="sarimax_promo", repetitions=300)
    days = pacing.days
    assert days.height == 30 and days["date"][0] == date(2025, 9, 1)
    assert days["target_cum"][-1] == pytest.approx(500_000)
    # September is complete in the data: the projection is the actual total, and the outcome is certain.
    assert pacing.projected == pytest.approx(pacing.actual_to_date) and pacing.probability in (0.0, 1.0)
    # Weekends sell more in the demo: the target line rises faster on Saturdays than on Tuesdays.
    daily_target = days["target_cum"].diff().fill_null(days["target_cum"][0])
    by_weekday = {d.weekday(): v for d, v in zip(days["date"], daily_target, strict=True)}
    assert by_weekday[5] > by_weekday[1]


def test_pacing_of_the_next_month_projects_from_the_forecast(con):
    pacing = fc.month_pacing(con, target=400_000, model="sarimax_promo", repetitions=300)
    assert pacing.month == date(2025, 10, 1) and pacing.actual_to_date == 0
    assert pacing.projected_lo80 <= pacing.projected <= pacing.projected_hi80
    assert 0.0 <= pacing.probability <= 1.0


def test_alerts_run_on_the_demo_shop(con):
    frame = daily_alerts(con, END)
    assert set(frame.columns) >= {"metric", "group", "value", "expected", "change", "driver", "message"}


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("forecast")(cli_forecast.forecast)
    app.command("alerts")(cli_forecast.alerts)
    return app


def test_forecast_json_has_the_spec_shape(db, con):
    args = ["forecast", "--metric", "sessions", "--horizon", "3", "--by", "device", "--format", "json", "--db", str(db)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"metric", "by", "model", "rows", "backtest"}
    assert document["metric"] == "sessions" and document["by"] == "device" and isinstance(document["model"], str)
    devices = {row[0] for row in con.sql("select distinct device from sessions where device <> ''").fetchall()}
    assert {row["group"] for row in document["rows"]} == devices and len(document["rows"]) == 3 * len(devices)
    row = document["rows"][0]
    assert set(row) == {"group", "date", "forecast", "lo80", "hi80", "lo95", "hi95"}
    assert [r["date"] for r in document["rows"][:3]] == [(END + timedelta(days=i)).isoformat() for i in (1, 2, 3)]
    assert all(isinstance(row[k], float) for k in ("forecast", "lo80", "hi80", "lo95", "hi95"))
    assert set(document["backtest"]) == {"model", "seasonal_naive"}
    assert set(document["backtest"]["model"]) == {"mape", "smape", "coverage80", "coverage95"}
    assert set(document["backtest"]["seasonal_naive"]) == {"mape", "smape"}
    assert all(isinstance(v, float) for v in document["backtest"]["model"].values())


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--metric", "revenue"], 2, "unknown metric"),
        (["--metric", "aov"], 2, "ratio"),
        (["--metric", "total_revenue", "--by", "category"], 2, "cannot be split by category"),
        (["--metric", "orders", "--horizon", "0"], 2, "horizon"),
    ],
)
def test_forecast_usage_errors_exit_2(db, args, code, says):
    result = CliRunner().invoke(_cli(), ["forecast", *args, "--db", str(db)])
    assert result.exit_code == code and says in result.output


def test_forecast_without_a_warehouse_exits_1(tmp_path):
    result = CliRunner().invoke(_cli(), ["forecast", "--metric", "orders", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1 and "no warehouse" in result.output


def test_alerts_json(db):
    result = CliRunner().invoke(_cli(), ["alerts", "--date", END.isoformat(), "--format", "json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["date"] == END.isoformat() and isinstance(document["rows"], list)
    bad = CliRunner().invoke(_cli(), ["alerts", "--date", "2025-13-01", "--db", str(db)])
    assert bad.exit_code == 2


@pytest.mark.parametrize("command", [["forecast", "--metric", "orders"], ["alerts"]])
def test_the_cli_reads_the_calendar_settings_name(db, tmp_path, monkeypatch, command):
    # The edge reads `calendar_path` / SHOPKPI_CALENDAR and passes it down: a file that is not there is an error
    # naming it (exit 1), not a silent fall-back to the packaged calendar.
    monkeypatch.setenv("SHOPKPI_CALENDAR", str(tmp_path / "our-calendar.toml"))
    result = CliRunner().invoke(_cli(), [*command, "--db", str(db)])
    assert result.exit_code == 1 and "our-calendar.toml does not exist" in result.output


def test_the_forecast_page_draws_fan_backtest_pacing_and_alerts(db, monkeypatch):

    from streamlit.testing.v1 import AppTest

    from tests.support.app import drawn_whole

    monkeypatch.setenv("SHOPKPI_DB", str(db))
    page = REPO_ROOT / "pages" / "forecast.py"
    at = drawn_whole(AppTest.from_file(str(page), default_timeout=120).run())  # the model chosen in the background
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert [s.value for s in at.subheader] == ["How good is it? Backtest", "This month against its target", "Alerts"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3  # the fan, the gauge, the pacing lines
    fan = json.loads(charts[0].proto.spec)
    names = {row["series"] for layer in fan["layer"] for row in layer["data"]["values"] if "series" in row}
    assert names == {"Actual", "Forecast", "80% interval", "95% interval"}
    at.selectbox(key="fc_metric").set_value("total_revenue").run()
    at.selectbox(key="fc_by").set_value("category").run()
    # Revenue is an order-level amount: it cannot be split by product category, and the page says so.
    assert not at.exception and not at.error
    assert any("cannot be split by category" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 2


def test_the_monthly_target_comes_from_the_targets_file_or_last_year(con):
    own = {"monthly_total_revenue": Target("monthly_total_revenue", min=750_000.0, direction="higher")}
    assert fc.monthly_target(con, "total_revenue", date(2025, 10, 1), own) == (
        750_000.0,
        "monthly_total_revenue in the targets file",
    )
    # The demo starts in May 2025: there is no October 2024 to grow from, so no target rather than a made-up one.
    target, why = fc.monthly_target(con, "total_revenue", date(2025, 10, 1), {})
    assert target is None and "no target" in why
    # September 2025 × (1 + 25%) for October 2026, with the growth from the targets file.
    growth = {"monthly_total_revenue_growth": Target("monthly_total_revenue_growth", min=0.25, direction="higher")}
    september = float(con.sql("select sum(subtotal) from orders").fetchall()[0][0] or 0)  # just a sanity bound
    target, why = fc.monthly_target(con, "total_revenue", date(2026, 9, 1), growth)
    assert why == "2025-09 × (1 + 25%)" and 0 < target < 1.25 * september


def test_pacing_takes_the_month_target_from_the_targets_it_is_given(con):
    own = {"monthly_total_revenue": Target("monthly_total_revenue", min=750_000.0, direction="higher")}
    pacing = fc.month_pacing(con, month=date(2025, 9, 1), model="sarimax_promo", repetitions=50, targets=own)
    assert pacing.target == 750_000.0 and pacing.target_source == "monthly_total_revenue in the targets file"
    # September is the last month of the data: the whole target is due by its last day.
    assert pacing.target_to_date == pytest.approx(750_000.0)


def test_replenishment_from_forecast_demand_on_the_demo_shop(con):
    from metrics.replenishment import reorder_now, replenishment

    plan, model, seconds = replenishment(con)
    assert model == "airline_promo"
    assert plan.height > 0 and plan["sku"].n_unique() == plan.height
    selling = plan.filter(pl.col("daily_units") > 0)
    assert selling["stockout_date"].null_count() == 0
    assert (selling["forecast_units_30d"] > 0).all()
    # reorder date = stock-out − lead time − 15 days, order by = stock-out − lead time − 7 days
    lead = pl.duration(days=pl.col("lead_time_days").fill_null(0))
    assert selling.select(
        (pl.col("stockout_date") - lead - pl.duration(days=15) == pl.col("reorder_date")).all()
    ).item()
    assert selling.select((pl.col("stockout_date") - lead - pl.duration(days=7) == pl.col("order_by")).all()).item()
    now = reorder_now(plan)
    assert (now["suggested_quantity"] >= 0).all() and now["reorder_now"].all()
    assert seconds < 30


def test_pacing_reuses_the_forecasts_parameters(con, revenue, monkeypatch):
    # Given the forecast's parameters (estimated on the same history; a combination's: one set per member), pacing
    # only filters, and projects the same month end and target line as when it estimates them again (within 1%).
    again = fc.month_pacing(con, target=400_000, model=revenue.model, repetitions=300)
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.statespace.mlemodel import MLEModel

    def no_estimation(*args, **kwargs):
        raise AssertionError("pacing estimated parameters it was given")

    monkeypatch.setattr(MLEModel, "fit", no_estimation)
    monkeypatch.setattr(ETSModel, "fit", no_estimation)
    reused = fc.month_pacing(con, target=400_000, model=revenue.model, params=revenue.params, repetitions=300)
    assert revenue.model in fc.MODELS and revenue.params is not None
    assert reused.projected == pytest.approx(again.projected, rel=0.01)
    assert reused.days["target_cum"].to_list() == pytest.approx(again.days["target_cum"].to_list(), rel=0.01)


def test_the_forecast_page_runs_no_backtest_on_its_first_view_after_the_warm_up(db, tmp_path, monkeypatch):
    # The warm-up (run when a warehouse is published) calls the page's data(view, role) with its defaults: that is
    # where the candidates are backtested. A fresh server's first visit, and then another horizon and a split of the
    # same metric, only fit the chosen model: no backtest while a visitor waits.
    import shutil

    import pages
    from metrics.forecast import metric as forecast_module
    from metrics.forecast import pacing as pacing_module
    from shopkpi.ui import later, warmup

    fresh = tmp_path / "fresh.duckdb"  # a new path: no cached result of another test
    shutil.copyfile(db, fresh)
    monkeypatch.setenv("SHOPKPI_DB", str(fresh))
    monkeypatch.setattr(warmup, "start", lambda: None)
    backtests = []
    for module in (forecast_module, pacing_module):
        real = module.backtest_series
        counted = lambda *args, real=real, **kwargs: backtests.append(args[1]) or real(*args, **kwargs)  # noqa: E731
        monkeypatch.setattr(module, "backtest_series", counted)
    warmup.prefetch(pages.page("pages/forecast.py"), warmup.default_view())
    later.wait()  # the backtest runs in the background (shopkpi/ui/later.py)
    assert len(backtests) == 1, "the warm-up backtests the default metric's candidates once"
    backtests.clear()
    at = opened(REPO_ROOT / "pages" / "forecast.py")
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert any("Chosen: **" in c.value for c in at.caption)
    at.select_slider(key="fc_horizon").set_value(14).run()
    at.selectbox(key="fc_by").set_value("source").run()
    assert not at.exception and not at.error
    assert backtests == [], "a first view, a new horizon or a split ran a backtest"


def opened(path):
    """The page at `path` after its first run."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(path), default_timeout=120).run()
