"""The demo shop written as the export files it would download: each table in SPEC §2's canonical columns, Parquet for
the click logs, CSV for the rest; `write_demo_files` runs the generator stage by stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.demo.calendar import UTC_OFFSET_S, Calendar, _calendar
from pipelines.demo.catalog import CATEGORIES, Catalog, _catalog
from pipelines.demo.costs import _ad_spend, _expenses
from pipelines.demo.events import FUNNEL_EVENTS, _events
from pipelines.demo.orders import COUPONS, PAYMENT_METHODS, _inventory, _order_lines, _order_money, _orders
from pipelines.demo.service import CHANNELS, RETURN_REASONS, TICKET_REASONS, _returns, _tickets
from pipelines.demo.traffic import CAMPAIGNS, DEVICES, REGIONS, SOURCES, Block, _sessions
from warehouse import STATUSES, TICKET_TYPES

CURRENCY = "CNY"
# The shop sells on its own site, on Tmall and on JD (issue 13): each visitor (so each customer) shops in one store,
# chosen by a hash of the visitor's number, about half, three in ten and two in ten. The hash, not the Generator,
# decides: the shop's figures over all stores are the one-store shop's, to the cent.
STORES = ("own_site", "tmall", "jd")
_STORE_SHARES = (0.5, 0.8)  # cumulative: own_site below 0.5, tmall below 0.8, jd above

Progress = Callable[[str, float], None]


def write_demo_files(
    out_dir: Path,
    *,
    seed: int = 7,
    days: int = 730,
    end: date | None = None,
    progress: Progress | None = None,
) -> dict[str, list[Path]]:
    """Writes the demo shop's export files under out_dir; returns {canonical table name: [files]}.

    The shop covers `days` days ending on `end` (default: yesterday) inclusive. Timestamps are naive store local
    time (Asia/Shanghai), money is CNY. The same seed, days and end give byte-identical files.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = end if end is not None else date.today() - timedelta(days=1)
    report = progress if progress is not None else _no_progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # Fractions of the total time each stage starts at, measured on the default size.
    report("calendar and catalogue", 0.0)
    cal = _calendar(end - timedelta(days=days - 1), days)
    catalog = _catalog(rng)
    report("sessions", 0.01)
    sessions = _sessions(rng, cal, catalog)
    report("orders", 0.2)
    orders = _orders(rng, cal, sessions)
    lines = _order_lines(rng, catalog, sessions, orders)
    report("inventory", 0.21)
    inventory = _inventory(rng, cal, catalog, orders, lines)
    report("prices and payments", 0.22)
    _order_money(rng, cal, catalog, orders, lines)
    session_ids = _session_ids(sessions)
    order_ids = _order_number(cal, orders)
    session_store = _store_of(sessions["visitor"])  # per session row, phone orders' rows included
    order_store = session_store[orders["session_row"]]

    written: dict[str, list[Path]] = {}
    report("click events", 0.24)
    events = _events(rng, catalog, sessions, orders, lines)
    report("writing events", 0.74)
    events_frame = _events_frame(cal, catalog, events, session_ids)
    events_frame = _with_store(events_frame, session_store[events["session_row"]])
    written["events"] = [_write(events_frame, out_dir, "events")]
    del events  # the biggest table: written first, then freed
    report("ad spend and expenses", 0.87)
    ad_spend = _ad_spend(rng, cal, sessions)
    expenses = _expenses(rng, cal, orders, lines, ad_spend)
    real = ~sessions["phone"]
    frames = {  # (frame builder, fraction of the total time when writing it starts)
        "sessions": (
            lambda: _with_store(_sessions_frame(cal, catalog, sessions, session_ids), session_store[real]),
            0.88,
        ),
        "orders": (lambda: _with_store(_orders_frame(cal, orders, order_ids, session_ids), order_store), 0.985),
        "order_items": (
            lambda: _with_store(_order_items_frame(catalog, lines, order_ids), order_store[lines["order"]]),
            0.99,
        ),
        "inventory": (lambda: _inventory_frame(cal, catalog, inventory), 0.993),
        "products": (lambda: _products_frame(catalog), 0.996),
        # Each day's campaign row is bought for one store (the rows are not split: every total stays the same).
        "ad_spend": (lambda: _with_store(ad_spend, _store_of(np.arange(ad_spend.height) + 1_000_003)), 0.997),
        "expenses": (lambda: expenses, 0.998),  # no store: overheads shared by the three stores
    }
    for table, (frame, done) in frames.items():
        report(f"writing {table}", done)
        written[table] = [_write(frame(), out_dir, table)]
    # After-sales from a Generator of their own, so the files above are the same with or without them; written
    # last, as they are loaded after the orders they name.
    after_sales = np.random.default_rng([seed, 16])
    returns = _returns(after_sales, cal, catalog, orders, lines)
    tickets = _tickets(after_sales, cal, orders, returns)
    returns_frame = _with_store(_returns_frame(cal, catalog, lines, returns, order_ids), order_store[returns["order"]])
    written["returns"] = [_write(returns_frame, out_dir, "returns")]
    # A ticket about an order is that order's store's; one without an order is a store's by a hash of its number.
    ticket_order = tickets["order"]
    ticket_store = np.where(
        ticket_order >= 0,
        order_store[np.maximum(ticket_order, 0)],
        _store_of(np.arange(ticket_order.size) + 2_000_003),
    )
    tickets_frame = _tickets_frame(cal, tickets, order_ids).with_columns(
        pl.Series("store", np.array(STORES)[ticket_store], dtype=pl.String)
    )
    written["tickets"] = [_write(tickets_frame, out_dir, "tickets")]
    report("done", 1.0)
    return written


def _no_progress(stage: str, fraction: float) -> None:
    pass


def _store_of(numbers: np.ndarray) -> np.ndarray:
    """The store (index into STORES) of each number: a multiplicative hash of it, cut at _STORE_SHARES."""
    mixed = (numbers.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.searchsorted(np.array(_STORE_SHARES) * 2**32, mixed.astype(np.float64), side="right")


def _with_store(frame: pl.DataFrame, store: np.ndarray) -> pl.DataFrame:
    """`frame` with the store of each row (an index into STORES) as its last column."""
    return frame.with_columns(pl.Series("store", np.array(STORES)[store], dtype=pl.String))


def _write(frame: pl.DataFrame, out_dir: Path, table: str) -> Path:
    """The file for one table: Parquet for the click logs (big), CSV for the rest, as a shop downloads them."""
    if table in ("sessions", "events"):
        path = out_dir / f"{table}.parquet"
        frame.write_parquet(path, compression="zstd", statistics=True)
    else:
        path = out_dir / f"{table}.csv"
        frame.write_csv(
            path, datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d", float_precision=2, float_scientific=False
        )
    return path


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """Identifiers like S00000042: a prefix and a zero-padded number."""
    return pl.select(pl.lit(prefix) + pl.Series(numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)).to_series()


def _timestamps(cal: Calendar, seconds: np.ndarray) -> np.ndarray:
    """Naive local timestamps (store time) from seconds since the window's first midnight."""
    return (np.datetime64(cal.start, "s") + seconds.astype("timedelta64[s]")).astype("datetime64[ms]")


def _session_ids(sessions: Block) -> pl.Series:
    """The session id of each session row; null for orders taken by phone, which have no session."""
    ids = _ids("S", np.cumsum(~sessions["phone"]), 8)
    return pl.select(pl.when(pl.Series(~sessions["phone"])).then(ids)).to_series()


def _customer_ids(customer: np.ndarray) -> pl.Series:
    ids = _ids("C", customer + 1, 7)
    return pl.select(pl.when(pl.Series(customer) >= 0).then(ids)).to_series()


def _money(cents: np.ndarray) -> np.ndarray:
    return cents / 100


def _products_frame(catalog: Catalog) -> pl.DataFrame:
    """One row per product."""
    return pl.DataFrame(
        {
            "sku": catalog.sku,
            "name": catalog.name,
            "category": [CATEGORIES[c].name for c in catalog.category],
            "brand": catalog.brand,
            "unit_cost": _money(catalog.cost_cents),
            "list_price": _money(catalog.list_cents),
            "supplier": catalog.supplier,
            "lead_time_days": catalog.lead_time.astype(np.int32),
        }
    )


def _order_number(cal: Calendar, orders: Block) -> pl.Series:
    """Order ids like SO20241111-00042: the day and the order's number within it."""
    day = orders["day"]
    seq = np.arange(day.size) - np.searchsorted(day, day) + 1
    date_part = pl.Series(cal.dates[day]).dt.strftime("%Y%m%d")
    return pl.select(pl.lit("SO") + date_part + pl.lit("-") + pl.Series(seq).cast(pl.String).str.zfill(5)).to_series()


def _orders_frame(cal: Calendar, orders: Block, order_ids: pl.Series, session_ids: pl.Series) -> pl.DataFrame:
    """One row per order."""
    coupon = np.array([c[0] for c in COUPONS] + [None], dtype=object)
    return pl.DataFrame(
        {
            "order_id": order_ids,
            "ordered_at": _timestamps(cal, orders["t"]),
            "status": pl.Series(STATUSES).gather(orders["status"]),
            "customer_id": _customer_ids(orders["customer"]),
            "session_id": session_ids.gather(orders["session_row"]),
            "subtotal": _money(orders["subtotal"]),
            "discount": _money(orders["discount"]),
            "shipping_fee": _money(orders["shipping_fee"]),
            "shipping_cost": _money(orders["shipping_cost"]),
            "payment_fee": _money(orders["payment_fee"]),
            "refund_amount": _money(orders["refund"]),
            "currency": pl.Series([CURRENCY] * orders["t"].size, dtype=pl.String),
            "region": pl.Series([r for r, _, _ in REGIONS]).gather(orders["region"]),
            "payment_method": pl.Series(PAYMENT_METHODS).gather(orders["method"]),
            "coupon_code": pl.Series(coupon[orders["coupon"]].tolist(), dtype=pl.String),
        }
    )


def _order_items_frame(catalog: Catalog, lines: Block, order_ids: pl.Series) -> pl.DataFrame:
    """One row per order line."""
    return pl.DataFrame(
        {
            "order_id": order_ids.gather(lines["order"]),
            "line_no": lines["line_no"].astype(np.int32),
            "sku": pl.Series(catalog.sku).gather(lines["sku"]),
            "quantity": lines["quantity"].astype(np.int32),
            "unit_price": _money(lines["unit_price"]),
            "unit_cost": _money(lines["unit_cost"]),
        }
    )


def _returns_frame(cal: Calendar, catalog: Catalog, lines: Block, returns: Block, order_ids: pl.Series) -> pl.DataFrame:
    """One row per returned order line."""
    return pl.DataFrame(
        {
            "order_id": order_ids.gather(returns["order"]),
            "sku": pl.Series(catalog.sku).gather(lines["sku"][returns["line"]]),
            "returned_quantity": returns["quantity"].astype(np.int32),
            "refund_amount": _money(returns["refund"]),
            "reason": pl.Series(RETURN_REASONS).gather(returns["reason"]),
            "returned_at": _timestamps(cal, returns["at"]),
            "days_after_delivery": returns["days"].astype(np.int32),
        }
    )


def _tickets_frame(cal: Calendar, tickets: Block, order_ids: pl.Series) -> pl.DataFrame:
    """One row per customer-service ticket, in the order they were opened."""
    kind, order = tickets["kind"], tickets["order"]
    reasons = [TICKET_REASONS[k][r] for k, r in zip(kind.tolist(), tickets["reason"].tolist(), strict=True)]

    def moment(seconds: np.ndarray) -> pl.Series:
        return pl.select(pl.when(pl.Series(seconds >= 0)).then(pl.Series(_timestamps(cal, seconds)))).to_series()

    return pl.DataFrame(
        {
            "ticket_id": _ids("T", np.arange(1, kind.size + 1), 7),
            "channel": pl.Series(CHANNELS).gather(tickets["channel"]),
            "opened_at": _timestamps(cal, tickets["opened"]),
            "first_response_at": moment(tickets["responded"]),
            "resolved_at": moment(tickets["resolved"]),
            "type": pl.Series(TICKET_TYPES).gather(kind),
            "order_id": pl.select(
                pl.when(pl.Series(order >= 0)).then(order_ids.gather(np.maximum(order, 0)))
            ).to_series(),
            "reason": pl.Series(reasons, dtype=pl.String),
            "satisfaction_score": pl.select(pl.when(pl.Series(tickets["score"] > 0)).then(pl.Series(tickets["score"])))
            .to_series()
            .cast(pl.Int32),
        }
    )


def _inventory_frame(cal: Calendar, catalog: Catalog, inventory: Block) -> pl.DataFrame:
    """One row per day and product: units on hand and on order at the end of the day."""
    return pl.DataFrame(
        {
            "date": np.repeat(cal.dates, catalog.size),
            "sku": pl.Series(catalog.sku).gather(np.tile(np.arange(catalog.size), cal.days)),
            "on_hand": inventory["on_hand"].ravel(),
            "on_order": inventory["on_order"].ravel(),
        }
    )


def _sessions_frame(cal: Calendar, catalog: Catalog, sessions: Block, session_ids: pl.Series) -> pl.DataFrame:
    """One row per session (GA4-like export), sorted by start."""
    real = np.flatnonzero(~sessions["phone"])
    visitor = sessions["visitor"][real]
    start = sessions["start"][real]
    # GA-style client ids: a random number and the unix time of the visitor's first visit.
    keys, first_row, inverse = np.unique(visitor, return_index=True, return_inverse=True)
    unix = (np.datetime64(cal.start, "s") - np.datetime64("1970-01-01T00:00:00", "s")).astype(np.int64)
    unix = unix + start[first_row] - UTC_OFFSET_S
    client = pl.select(
        pl.Series(sessions["client"][real][first_row]).cast(pl.String) + pl.lit(".") + pl.Series(unix).cast(pl.String)
    ).to_series()
    campaign = sessions["campaign"][real]
    return pl.DataFrame(
        {
            "session_id": session_ids.gather(real),
            "visitor_id": client.gather(inverse),
            "started_at": _timestamps(cal, start),
            "source": pl.Series(SOURCES).gather(sessions["source"][real]),
            "medium": pl.Series([c.medium for c in CAMPAIGNS]).gather(campaign),
            "campaign": pl.Series([c.name for c in CAMPAIGNS], dtype=pl.String).gather(campaign),
            "device": pl.Series(DEVICES).gather(sessions["device"][real]),
            "landing_page": pl.Series(catalog.pages).gather(sessions["landing"][real]),
            "region": pl.Series([r for r, _, _ in REGIONS]).gather(sessions["region"][real]),
            "customer_id": _customer_ids(sessions["customer"][real]),
            "pageviews": sessions["pageviews"][real].astype(np.int32),
            "duration_s": sessions["duration"][real].astype(np.float64),
        }
    )


def _events_frame(cal: Calendar, catalog: Catalog, events: Block, session_ids: pl.Series) -> pl.DataFrame:
    """One row per click event, in session and time order."""
    kind, sku, position = events["kind"], events["sku"], events["position"]
    return pl.DataFrame(
        {
            "event_id": _ids("E", np.arange(1, events["t"].size + 1), 9),
            "session_id": session_ids.gather(events["session_row"]),
            "occurred_at": _timestamps(cal, events["t"]),
            "event_type": pl.Series(FUNNEL_EVENTS).gather(kind),
            "sku": pl.Series([*catalog.sku, None], dtype=pl.String).gather(np.where(sku < 0, catalog.size, sku)),
            "page": pl.Series(catalog.pages).gather(events["page"]),
            "position": pl.Series(position, dtype=pl.Int32),
        }
    ).with_columns(pl.when(pl.col("position") > 0).then(pl.col("position")).alias("position"))
