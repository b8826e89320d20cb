"""Forecast benchmark: the accuracy of every model on real shops and the demo, next to seasonal naive, a plain
statsmodels ETS and Prophet, and the fit + forecast time of each series.

    python -m bench.forecasts [--online-retail CSV] [--tmall CSV] [--demo-days 730] [--prophet-python PYTHON]

The protocol (issue 19): rolling origins a week apart, the last one `horizon` days before the end of the data (UCI
Online Retail: 8 origins, Saturdays 2011-10-08 … 2011-11-26, 14 days ahead), each model knowing only the days before
each origin; scored on the held-out days the shop traded (actual > 0): MAPE, sMAPE, MASE (mean absolute error over
the mean absolute week-on-week change of the history before the origin, on the pairs of trading days), MASE₀
(Hyndman and Koehler's scale: every pair of days of that history, closed days' zeros included), relMAE (the mean
absolute error over seasonal naive's on the same days) and the share of days inside the 80% and 95% intervals
(shopkpi's are stretched by what the folds over before each origin measured, see metrics/forecast/intervals.py, so
their coverage is out of sample). Under each table: the accuracy of the choice itself, the model `best()` picks at
each origin from the folds already over before it (the table's chosen row is scored on the days it was chosen on).
The series are read as `shopkpi forecast` reads them: each export imported into a
temporary warehouse (`shopkpi import`), the metric's daily history, the packaged promotion calendar. Also times
`forecast_metric(..., by="source")` on the demo warehouse (the model chosen once on the total, then each source's
group fitted): wall and CPU time per group. Prints figures; it is not a test.

The Tmall report covers February 2020 only (29 days): too short for 8 weekly origins, it is scored from 9 daily
origins (day 15 … 23), 7 days ahead each, through `forecast_series` (what the CLI does with a short history).

Peers: "statsmodels_ets" is ETSModel (additive damped trend, additive weekly season) on the raw daily values, refitted
at each origin; "prophet" is Prophet with its defaults on the days the shop traded (its way of skipping closed days),
refitted at each origin. Prophet is not a shopkpi dependency: give a Python that has it (`--prophet-python`, e.g. a
separate venv with `pip install prophet`); the series go to it as JSON on stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from metrics import forecast as fc
from metrics.forecast.backtest import BACKTEST_STEP, _score
from metrics.forecast.models import MIN_HISTORY

REAL = Path("/work/shared/data/real")
ONLINE_RETAIL = REAL / "uci-online-retail" / "online-retail-dataset.csv.gz"
TMALL = REAL / "exports" / "tmall-order-report" / "tmall_order_report.csv"
PEERS = ("statsmodels_ets", "prophet")

PROPHET_SCRIPT = r"""
import json, logging, sys, warnings
warnings.simplefilter("ignore")
logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
import numpy as np, pandas as pd
from prophet import Prophet
job = json.load(sys.stdin)
start, y = pd.Timestamp(job["start"]), np.asarray(job["y"], dtype=float)
out = []
for origin in job["origins"]:
    days = pd.date_range(start, periods=origin)
    frame = pd.DataFrame({"ds": days, "y": y[:origin]})
    frame = frame[frame["y"] > 0]
    model = Prophet(interval_width=0.8).fit(frame)
    future = pd.DataFrame({"ds": pd.date_range(start + pd.Timedelta(days=origin), periods=job["horizon"])})
    low = model.predict(future)
    model.interval_width = 0.95
    high = model.predict(future)
    out.append([low["yhat"].tolist(), low["yhat_lower"].tolist(), low["yhat_upper"].tolist(),
                high["yhat_lower"].tolist(), high["yhat_upper"].tolist()])
json.dump(out, sys.stdout)
"""


@dataclass
class Series:
    """One daily series of the benchmark and how it is cut."""

    name: str
    start: date
    y: np.ndarray
    horizon: int
    step: int  # days between origins
    folds: int


def imported_series(kind: str, path: Path, metrics: list[str], root: Path) -> dict[str, tuple[date, np.ndarray]]:
    """The daily history of each metric of an export imported into a new warehouse under `root`."""
    from pipelines.adapters import import_export
    from warehouse import open_read_only

    db = root / f"{kind}.duckdb"
    import_export(db, kind, path)
    con = open_read_only(db)
    try:
        found = {}
        for metric in metrics:
            history = fc.metric_history(con, metric)
            found[metric] = fc._trimmed(history["date"].to_list(), history["value"].to_numpy())
        return found
    finally:
        con.close()


def demo_series(days: int, root: Path) -> dict[str, tuple[date, np.ndarray]]:
    from pipelines import demo, ingest
    from warehouse import open_read_only

    files = demo.write_demo_files(root / "demo-files", seed=7, days=days, end=date(2026, 11, 30))
    db = root / "demo.duckdb"
    for table, paths in files.items():
        for path in paths:
            ingest.ingest_file(db, table, path, store_timezone=demo.DEMO_TIMEZONE, currency="CNY")
    con = open_read_only(db)
    try:
        history = fc.metric_history(con, "total_revenue")
        return {"total_revenue": fc._trimmed(history["date"].to_list(), history["value"].to_numpy())}
    finally:
        con.close()


def mase_plain(backtest: fc.Backtest, series: Series, name: str) -> float | None:
    """MASE with Hyndman and Koehler's scale: the mean absolute week-on-week change over every pair of days of the
    history before each origin (closed days' zeros included), over the held-out days the shop traded."""
    scale = []
    for o in origins_of(series):
        past = series.y[:o]
        scale.append(np.full(series.horizon, np.mean(np.abs(past[7:] - past[:-7])) if len(past) > 7 else np.nan))
    scale = np.concatenate(scale)
    if name not in backtest.forecasts or len(scale) != len(backtest.actual):
        return None
    keep = (backtest.actual > 0) & (scale > 0)
    return float(np.mean(np.abs(backtest.actual - backtest.forecasts[name])[keep] / scale[keep]))


def by_source_seconds(db: Path, events, metric: str = "orders") -> tuple[int, float, float]:
    """`forecast_metric(db, metric, 30, by="source")` as `shopkpi forecast --by source` runs it: groups, wall and CPU
    seconds (model choice on the total included)."""
    from warehouse import open_read_only

    con = open_read_only(db)
    try:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = fc.forecast_metric(con, metric, 30, by="source", events=events)
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    finally:
        con.close()
    return result.rows["group"].n_unique(), wall, cpu


def origins_of(series: Series) -> list[int]:
    n = len(series.y)
    return sorted(n - series.horizon - series.step * k for k in range(series.folds))


def shopkpi_backtest(series: Series, events) -> tuple[fc.Backtest, str | None]:
    """Every candidate and seasonal naive on the series' origins, and the model shopkpi would choose."""
    if series.step == BACKTEST_STEP and len(series.y) >= series.horizon + 3 * MIN_HISTORY:
        backtest = fc.backtest_series(series.start, series.y, series.horizon, events, series.folds, series.step)
        return backtest, backtest.best()
    # a short history: what forecast_series makes of it at each origin (the level model or seasonal naive)
    origins = origins_of(series)
    backtest = _empty_backtest(series, origins)
    bands, names = [], set()
    for o in origins:
        name, band, _ = fc.forecast_series(series.start, series.y[:o], series.horizon, events)
        bands.append(band)
        names.add(name)
    chosen = "/".join(sorted(names))
    _score(backtest, chosen, bands)
    return backtest, chosen


def chosen_earlier(backtest: fc.Backtest) -> tuple[float, float, list[str]] | None:
    """The model `best()` picks at each origin from the folds whose held-out days were over before it, scored on that
    origin's held-out trading days: MAPE, MASE and the picks, over the origins that have such folds (UCI: the last
    six of eight). The chosen model's row in the table is scored on the days it was chosen on (optimistic, more so
    the more candidates); this is the choice's own accuracy."""
    h, origins = backtest.horizon, backtest.origins
    if not origins or len(backtest.actual) != h * len(origins):
        return None
    errors, scaled, picks = [], [], []
    for i, origin in enumerate(origins):
        over = [j for j, other in enumerate(origins) if other + timedelta(days=h) <= origin]
        if not over:
            continue
        earlier = fc.Backtest(h, [origins[j] for j in over])
        days = np.concatenate([np.arange(j * h, (j + 1) * h) for j in over])
        earlier.actual, earlier.scale = backtest.actual[days], backtest.scale[days]
        for attr in ("forecasts", "inside80", "inside95"):
            setattr(earlier, attr, {k: v[days] for k, v in getattr(backtest, attr).items()})
        pick = earlier.best()
        if pick is None:
            continue
        now = np.arange(i * h, (i + 1) * h)
        actual, error = backtest.actual[now], np.abs(backtest.actual[now] - backtest.forecasts[pick][now])
        traded = actual > 0
        errors.append(error[traded] / actual[traded])
        scaled.append(error[traded] / backtest.scale[now][traded])
        picks.append(pick)
    if not picks:
        return None
    return float(np.mean(np.concatenate(errors))), float(np.mean(np.concatenate(scaled))), picks


def _empty_backtest(series: Series, origins: list[int]) -> fc.Backtest:
    y, h = series.y, series.horizon
    backtest = fc.Backtest(h, [series.start + timedelta(days=o) for o in origins])
    backtest.actual = np.concatenate([y[o : o + h] for o in origins])
    backtest.scale = np.concatenate([np.full(h, fc.mase_scale(y[:o])) for o in origins])
    backtest.forecasts["seasonal_naive"] = np.concatenate([fc.seasonal_naive(y[:o], h) for o in origins])
    return backtest


def statsmodels_ets(series: Series, origins: list[int]) -> list[fc.Band]:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    bands = []
    for o in origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(
                pd.Series(series.y[:o]), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
            )
            result = model.fit(disp=False, maxiter=200)
            frames = [
                result.get_prediction(start=o, end=o + series.horizon - 1).summary_frame(alpha=a) for a in (0.2, 0.05)
            ]
        point = frames[0]["mean"].to_numpy()
        bands.append(
            fc.Band(
                point,
                frames[0]["pi_lower"].to_numpy(),
                frames[0]["pi_upper"].to_numpy(),
                frames[1]["pi_lower"].to_numpy(),
                frames[1]["pi_upper"].to_numpy(),
            )
        )
    return bands


def prophet(series: Series, origins: list[int], python: str) -> list[fc.Band] | str:
    """Prophet's bands at each origin, run by `python` (a separate environment), or why it could not run."""
    job = {"start": series.start.isoformat(), "y": series.y.tolist(), "origins": origins, "horizon": series.horizon}
    try:
        done = subprocess.run(
            [python, "-c", PROPHET_SCRIPT], input=json.dumps(job), capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        lines = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        return lines[-1] if lines else type(exc).__name__
    return [fc.Band(*(np.asarray(part, dtype=float) for part in fold)) for fold in json.loads(done.stdout)]


def fit_seconds(series: Series, events, model: str, repeats: int = 3) -> tuple[float, float]:
    """The best of `repeats` wall-clock and CPU times of fitting `model` on the whole series (from scratch) and
    forecasting 14 days. On a shared machine the CPU time is the one to compare with a quiet machine's wall clock."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        fc.forecast_series(series.start, series.y, 14, events, model)
        wall, cpu = min(wall, time.perf_counter() - began), min(cpu, time.process_time() - began_cpu)
    return wall, cpu


def print_table(series: Series, backtest: fc.Backtest, chosen: str | None, seconds: dict[str, float]) -> None:
    origins = backtest.origins
    print(
        f"\n{series.name}: {len(series.y)} days from {series.start}; {len(origins)} origins {origins[0]} … "
        f"{origins[-1]}, {series.horizon} days ahead; chosen: {chosen}"
    )
    naive = backtest.actual > 0
    naive_mae = float(np.mean(np.abs(backtest.actual - backtest.forecasts["seasonal_naive"])[naive]))
    heads = f"{'MAPE':>8}{'sMAPE':>8}{'MASE':>7}{'MASE₀':>7}{'relMAE':>8}{'cov80':>8}{'cov95':>8}{'days':>6}"
    print(f"  {'model':<22}{heads}")
    for row in backtest.table().iter_rows(named=True):
        mae = float(np.mean(np.abs(backtest.actual - backtest.forecasts[row["model"]])[naive]))
        cells = "".join(f"{'—':>8}" if row[k] is None else f"{row[k]:>8.1%}" for k in ("mape", "smape"))
        cells += f"{'—':>7}" if row["mase"] is None else f"{row['mase']:>7.2f}"
        plain = mase_plain(backtest, series, row["model"])
        cells += f"{'—':>7}" if plain is None else f"{plain:>7.2f}"
        cells += f"{mae / naive_mae:>8.2f}"
        cells += "".join(f"{'—':>8}" if row[k] is None else f"{row[k]:>8.1%}" for k in ("coverage80", "coverage95"))
        mark = " ◀" if row["model"] == chosen else ""
        print(f"  {row['model']:<22}{cells}{row['days']:>6}{mark}")
    earlier = chosen_earlier(backtest) if chosen in fc.MODELS else None
    if earlier is not None:
        mape, mase, picks = earlier
        print(
            f"  chosen at each origin from the folds over before it ({len(picks)} origins): MAPE {mape:.1%}, "
            f"MASE {mase:.2f}; picks {', '.join(picks)}"
        )
    print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--online-retail", type=Path, default=ONLINE_RETAIL, help="UCI Online Retail CSV(.gz)")
    parser.add_argument("--tmall", type=Path, default=TMALL, help="the Tmall order report CSV")
    parser.add_argument("--demo-days", type=int, default=730, help="days of the demo shop (0: leave it out)")
    parser.add_argument("--prophet-python", default=None, help="a Python with prophet installed (default: no Prophet)")
    args = parser.parse_args()
    events = fc.load_calendar()

    with tempfile.TemporaryDirectory(prefix="shopkpi-bench-") as folder:
        root = Path(folder)
        series: list[Series] = []
        if args.online_retail.exists():
            found = imported_series("online-retail", args.online_retail, ["total_revenue", "orders"], root)
            for metric, (start, y) in found.items():
                series.append(Series(f"UCI Online Retail daily {metric}", start, y, 14, 7, 8))
        if args.tmall.exists():
            start, y = imported_series("taobao", args.tmall, ["orders"], root)["orders"]
            series.append(Series("Tmall report daily paid orders", start, y, 7, 1, 9))
        if args.demo_days:
            start, y = demo_series(args.demo_days, root)["total_revenue"]
            series.append(Series(f"demo shop ({args.demo_days} days) daily total_revenue", start, y, 14, 7, 8))

        print(f"load average when the benchmark started: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        for one in series:
            benchmark(one, events, args.prophet_python)
        if args.demo_days:
            groups, wall, cpu = by_source_seconds(root / "demo.duckdb", events)
            print(
                f"\nforecast_metric(orders, 30 days, by source) on the demo: {groups} groups, {wall:.2f} s wall "
                f"({wall / groups:.2f} s a group), {cpu:.2f} s CPU ({cpu / groups:.2f} s a group); load average "
                f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}"
            )


def benchmark(one: Series, events, prophet_python: str | None) -> None:
    """Every model's accuracy on one series, the peers', and the chosen model's fit + forecast time."""
    began = time.perf_counter()
    backtest, chosen = shopkpi_backtest(one, events)
    seconds = {"backtest": time.perf_counter() - began}
    origins = origins_of(one)
    _score(backtest, "statsmodels_ets", statsmodels_ets(one, origins))
    if prophet_python:
        began = time.perf_counter()
        bands = prophet(one, origins, prophet_python)
        if isinstance(bands, str):
            print(f"prophet could not run: {bands}")
        else:
            _score(backtest, "prophet", bands)
            seconds["prophet, all origins"] = time.perf_counter() - began
    fitted = chosen if chosen in fc.MODELS else None
    if fitted is not None:
        wall, cpu = fit_seconds(one, events, fitted)
        seconds[f"fit + 14-day forecast ({fitted}, whole series, best of 3)"] = wall
        seconds["the same in CPU time"] = cpu
    print_table(one, backtest, chosen, seconds)


if __name__ == "__main__":
    main()
