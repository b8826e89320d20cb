"""Forecast benchmark: backtest tables (model vs seasonal naive) and the fit + forecast time of one daily series.

    python -m bench.forecasts [--db data/shopkpi.duckdb] [--real PATH/online-retail-dataset.csv.gz]

Prints figures; it is not a test. The real series is the UCI Online Retail daily net sales (Σ quantity × unit price
over every line with a positive price, cancellations included as negative lines), read straight from the file.
That shop is a UK wholesaler: it never trades on Saturdays and closes over Christmas; the Chinese promotion
calendar does not apply to it, so it is forecast with an empty calendar (closures are learnt from the data).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from metrics import forecast as fc

REAL_DEFAULT = Path("/work/shared/data/real/uci-online-retail/online-retail-dataset.csv.gz")


def online_retail_daily(path: Path) -> pl.DataFrame:
    """Daily net sales of the Online Retail file. One row per calendar day from the first to the last (0 if none)."""
    frame = duckdb.sql(
        """
        with lines as (
            select cast(InvoiceDate as date) as day, Quantity * UnitPrice as amount
            from read_csv($path, header = true)
            where UnitPrice > 0
        ),
        daily as (
            select day, sum(amount) as value from lines group by day
        )
        select * from daily order by day
        """,
        params={"path": str(path)},
    ).pl()
    days = pl.DataFrame({"date": pl.date_range(frame["day"].min(), frame["day"].max(), "1d", eager=True)})
    return days.join(frame.rename({"day": "date"}), on="date", how="left").with_columns(pl.col("value").fill_null(0.0))


def print_table(title: str, backtest: fc.Backtest) -> None:
    print(f"\n{title}: {len(backtest.origins)} origins, {backtest.horizon}-day horizon, {backtest.origins[0]} …")
    print(f"  {'model':<16}{'MAPE':>8}{'sMAPE':>8}{'cov80':>8}{'cov95':>8}{'days':>6}")
    for row in backtest.table().iter_rows(named=True):
        cells = [row[k] for k in ("mape", "smape", "coverage80", "coverage95")]
        text = "".join(f"{'—':>8}" if v is None else f"{v:>8.1%}" for v in cells)
        print(f"  {row['model']:<16}{text}{row['days']:>6}")


def time_fit(start, y: np.ndarray, events, horizon: int = 30, repeats: int = 3) -> float:
    """The best of `repeats` wall-clock times of fitting SARIMAX and forecasting `horizon` days with intervals."""
    best = float("inf")
    design = fc._design(fc._dates(start, len(y)), y, events)
    for _ in range(repeats):
        began = time.perf_counter()
        fitted = fc.fit_model("sarimax_promo", start, y, design)
        fc.band(fitted, horizon)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None, help="warehouse (default: settings)")
    parser.add_argument("--real", type=Path, default=REAL_DEFAULT, help="Online Retail CSV(.gz)")
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--timing-only", action="store_true", help="only time fit + forecast, no backtests")
    args = parser.parse_args()

    from shopkpi.settings import load_settings
    from warehouse import open_read_only

    events = fc.load_calendar()
    con = open_read_only(load_settings(args.db).db_path)
    try:
        for metric in () if args.timing_only else ("total_revenue", "orders", "sessions"):
            began = time.perf_counter()
            result = fc.forecast_metric(con, metric, args.horizon, events=events)
            print_table(
                f"demo shop {metric} (chosen: {result.model}, {time.perf_counter() - began:.1f} s)", result.backtest
            )
        history = fc.metric_history(con, "total_revenue")
    finally:
        con.close()
    y = history["value"].to_numpy()
    start = history["date"][0]
    terms = len(fc._design(fc._dates(start, len(y)), y, events).names)
    seconds = time_fit(start, y, events)
    print(
        f"\nfit + 30-day forecast, one {len(y)}-day series (SARIMAX, {terms} calendar terms): "
        f"{seconds:.2f} s (best of 3)"
    )

    if args.real.exists() and not args.timing_only:
        daily = online_retail_daily(args.real)
        y, start = daily["value"].to_numpy(), daily["date"][0]
        backtest = fc.backtest_series(start, y, args.horizon, events=())
        end = start + timedelta(days=len(y) - 1)
        print_table(f"Online Retail daily net sales {start} – {end} (chosen: {backtest.best()})", backtest)
        print(f"\nfit + 30-day forecast, Online Retail ({len(y)} days): {time_fit(start, y, ()):.2f} s (best of 3)")


if __name__ == "__main__":
    main()
