"""`shopkpi import shopify`: columns found by name in any layout, statuses, line items; the two real exports."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics.compute import compute_kpis
from pipelines.adapters import import_export
from pipelines.adapters.timezones import zones_fitting
from pipelines.ingest import IngestError
from tests.support.warehouse_rows import REAL_DATA, query

REAL = REAL_DATA / "exports/shopify-orders"

# Shopify's column names (a subset, in another order than the export's, to show that columns are found by name).
COLUMNS = [
    "Lineitem name", "Name", "Created at", "Email", "Financial Status", "Fulfillment Status", "Currency", "Subtotal",
    "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Lineitem quantity", "Lineitem price",
    "Lineitem sku", "Shipping Province", "Shipping Country", "Cancelled at", "Payment Method", "Refunded Amount",
    "Source", "Shipping Province Name",
]  # fmt: skip


def order_rows() -> list[dict]:
    first = {"Currency": "USD", "Taxes": "0.00", "Source": "web", "Shipping Country": "US", "Refunded Amount": "0.00"}
    return [
        # Two line items: the order's fields are on the first row only.
        {**first, "Name": "#1001", "Email": "ann@ex.com", "Financial Status": "paid",
         "Fulfillment Status": "fulfilled", "Created at": "2024-06-18 10:00:00 -0400", "Subtotal": "60.00",
         "Shipping": "4.90", "Total": "64.90", "Discount Code": "SAVE10", "Discount Amount": "10.00",
         "Lineitem quantity": "1", "Lineitem name": "Hoodie - M", "Lineitem price": "40.00", "Lineitem sku": "HD-M",
         "Payment Method": "Shopify Payments", "Shipping Province": "MI", "Shipping Province Name": "Michigan"},
        {"Name": "#1001", "Email": "ann@ex.com", "Created at": "2024-06-18 10:00:00 -0400",
         "Lineitem quantity": "3", "Lineitem name": "Sticker", "Lineitem price": "10.00"},
        # Refunded after a cancellation: cancelled, whatever was refunded.
        {**first, "Name": "#1002", "Email": "bob@ex.com", "Financial Status": "refunded",
         "Fulfillment Status": "unfulfilled", "Created at": "2024-06-18 23:30:00 -0400", "Subtotal": "25.00",
         "Shipping": "0.00", "Total": "25.00", "Discount Amount": "0.00", "Lineitem quantity": "1",
         "Lineitem name": "Cap", "Lineitem price": "25.00", "Cancelled at": "2024-06-19 08:00:00 -0400",
         "Refunded Amount": "25.00", "Payment Method": "PayPal Express Checkout", "Shipping Province": "TX"},
        # Partly refunded and fulfilled: still a valid (shipped) order with its refund; Source is an app id.
        {**first, "Name": "#1003", "Financial Status": "partially_refunded", "Fulfillment Status": "fulfilled",
         "Created at": "2024-06-19 09:00:00 -0400", "Subtotal": "35.00", "Shipping": "4.90", "Total": "42.29",
         "Discount Amount": "0.00", "Lineitem quantity": "1", "Lineitem name": "Hoodie - L",
         "Lineitem price": "35.00", "Refunded Amount": "10.60", "Source": "580111"},
        # Awaiting payment, with a tip line (tips are not sales).
        {**first, "Name": "#1004", "Email": "cy@ex.com", "Financial Status": "pending",
         "Created at": "2024-06-19 10:00:00 -0400", "Subtotal": "20.00", "Shipping": "0.00", "Total": "22.50",
         "Discount Amount": "0.00", "Lineitem quantity": "1", "Lineitem name": "Mug", "Lineitem price": "20.00",
         "Payment Method": "manual"},
        {"Name": "#1004", "Email": "cy@ex.com", "Created at": "2024-06-19 10:00:00 -0400",
         "Lineitem quantity": "1", "Lineitem name": "Tip", "Lineitem price": "2.50"},
    ]  # fmt: skip


def write_export(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_sample_export_maps_orders_items_and_statuses(db, tmp_path):
    export = write_export(tmp_path / "orders_export_1.csv", order_rows())
    result = import_export(db, "shopify", export, store_timezone="America/Detroit")
    items, orders, products = (t.result for t in result.tables)
    # 6 rows = 5 line items + 1 tip, which is rejected (not a sale) with its line.
    assert (items.rows_read, items.inserted, items.rejected) == (6, 5, 1)
    assert (orders.rows_read, orders.inserted) == (4, 4)
    assert query(
        db,
        "select order_id, ordered_at, status, customer_id, discount::double, shipping_fee::double, "
        "refund_amount::double, region, payment_method, coupon_code from orders order by 1",
    ) == [
        ("#1001", datetime(2024, 6, 18, 10), "shipped", "ann@ex.com", 10.0, 4.9, 0.0, "Michigan", "card", "SAVE10"),
        ("#1002", datetime(2024, 6, 18, 23, 30), "cancelled", "bob@ex.com", 0.0, 0.0, 25.0, "TX", "paypal", None),
        ("#1003", datetime(2024, 6, 19, 9), "shipped", None, 0.0, 4.9, 10.6, "US", None, None),
        ("#1004", datetime(2024, 6, 19, 10), "placed", "cy@ex.com", 0.0, 0.0, 0.0, "US", "manual", None),
    ]  # fmt: skip
    assert query(db, "select distinct currency from orders") == [("USD",)]
    assert query(db, "select order_id, line_no, sku, quantity, unit_price::double from order_items order by 1, 2") == [
        ("#1001", 1, "HD-M", 1, 40.0),
        ("#1001", 2, "Sticker", 3, 10.0),  # no Lineitem sku: the item's name is its sku
        ("#1002", 1, "Cap", 1, 25.0),
        ("#1003", 1, "Hoodie - L", 1, 35.0),
        ("#1004", 1, "Mug", 1, 20.0),
    ]
    assert query(db, "select line, column_name from rejects") == [(7, "sku")]
    assert products.inserted == 5
    assert any("580111 1" in note for note in result.plan.notes)
    # Gross sales of valid orders (#1001, #1003): 40 + 3 × 10 + 35 = 105; discounts 10; refunds 10.60.
    kpis = compute_kpis(duckdb.connect(str(db), read_only=True), date(2024, 6, 18), date(2024, 6, 19)).row(
        0, named=True
    )
    assert (kpis["orders"], kpis["gross_sales"], kpis["discounts"], kpis["refunds"]) == (2, 105.0, 10.0, 10.6)


def test_layout_with_the_columns_in_another_order_loads_the_same(db, tmp_path):
    first = write_export(tmp_path / "a.csv", order_rows())
    import_export(db, "shopify", first)
    shuffled = write_export(tmp_path / "b.csv", order_rows(), columns=sorted(COLUMNS))
    assert import_export(db, "shopify", shuffled).already_imported


@pytest.mark.parametrize(
    ("shop", "columns"), [("maison-maria-2025", 79), ("explorer-clothing-2022", 78)], ids=["79-columns", "78-columns"]
)
def test_real_exports_import_with_every_row_accounted_for(tmp_path, shop, columns):
    db = tmp_path / f"{shop}.duckdb"  # two shops: their order numbers (#1001…) overlap, so one warehouse each
    export = REAL / shop / "orders_export_1.csv"
    raw = pl.read_csv(export, infer_schema=False)
    assert raw.width == columns
    result = import_export(db, "shopify", export)
    items, orders, products = (t.result for t in result.tables)
    tips = raw.filter((pl.col("Lineitem name") == "Tip") & pl.col("Lineitem sku").is_null()).height
    assert items.rows_read == raw.height and items.rows_read == items.inserted + items.rejected
    assert items.rejected == tips
    assert orders.inserted == raw["Name"].n_unique()
    first_rows = raw.filter(pl.col("Financial Status").is_not_null())
    cancelled = first_rows.filter(pl.col("Cancelled at").is_not_null()).height
    refunded = first_rows.filter(pl.col("Refunded Amount").cast(pl.Float64) > 0)
    assert query(db, "select count(*) filter (where status = 'cancelled'), sum(refund_amount)::double from orders") == [
        (cancelled, pytest.approx(refunded["Refunded Amount"].cast(pl.Float64).sum()))
    ]
    assert query(db, "select count(*) from orders where status not in ('placed', 'paid', 'shipped', 'cancelled')") == [
        (first_rows.filter(pl.col("Financial Status") == "refunded").height - cancelled,)
    ]
    assert query(db, "select value from shopkpi_meta where key = 'currency'") == [(raw["Currency"].drop_nulls()[0],)]
    assert products.inserted > 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert import_export(db, "shopify", export).already_imported
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def local_and_utc(created_at: str) -> tuple[datetime, datetime]:
    """Created at's wall-clock time and the same instant in UTC, both naive."""
    moment = datetime.strptime(created_at, "%Y-%m-%d %H:%M:%S %z")
    return moment.replace(tzinfo=None), moment.astimezone(UTC).replace(tzinfo=None)


def test_a_new_warehouse_takes_its_time_zone_from_the_offsets_so_no_order_changes_day(db):
    export = REAL / "explorer-clothing-2022" / "orders_export_1.csv"
    created = dict(
        pl.read_csv(export, infer_schema=False)
        .filter(pl.col("Financial Status").is_not_null())
        .select("Name", "Created at")
        .iter_rows()
    )
    assert len(created) == 81
    # Before: a UTC warehouse put 27 of the 81 orders (those after 19:00 or 20:00 local time) on the next day.
    assert sum(utc.date() != local.date() for local, utc in map(local_and_utc, created.values())) == 27
    result = import_export(db, "shopify", export)
    # −05:00 in winter and −04:00 in summer, switching on the US dates (#1001 on 2020-03-05 is before the switch of
    # 8 March, #1078 on 2021-11-06 before that of 7 November): New York's rules; Chicago (−06:00/−05:00) would not fit.
    assert query(db, "select value from shopkpi_meta where key = 'timezone'") == [("America/New_York",)]
    note = next(n for n in result.plan.notes if n.startswith("time zone"))
    assert "America/New_York" in note and "−05:00" in note and "−04:00" in note and "America/Detroit" in note
    stored = dict(query(db, "select order_id, ordered_at from orders"))
    # Every order keeps the wall-clock time written in the file, so none moves to another day.
    assert stored == {name: local_and_utc(text)[0] for name, text in created.items()}
    assert stored["#1001"] == datetime(2020, 3, 5, 19, 50, 5)  # 2020-03-05 19:50:05 -0500 in the file
    assert stored["#1078"] == datetime(2021, 11, 6, 20, 26, 53)  # 2021-11-06 20:26:53 -0400
    assert not result.warnings


def test_summer_time_offsets_of_a_uk_shop_give_europe_london(db):
    # +01:00 from August to 25 October 2025, +00:00 from 26 October (the UK's switch): London, not UTC or Paris.
    import_export(db, "shopify", REAL / "maison-maria-2025" / "orders_export_1.csv")
    assert query(db, "select value from shopkpi_meta where key = 'timezone'") == [("Europe/London",)]


def test_offsets_that_disagree_with_the_warehouse_or_the_asked_zone_warn_and_still_load(db, tmp_path):
    export = write_export(tmp_path / "orders_export_1.csv", order_rows())  # all -0400 in June 2024
    asked = import_export(db, "shopify", export, store_timezone="Asia/Shanghai")
    assert len(asked.warnings) == 1 and "Asia/Shanghai" in asked.warnings[0]
    assert "fit America/New_York" in asked.warnings[0] and "for 4 of its timestamps" in asked.warnings[0]
    # 2024-06-18 10:00 -04:00 = 14:00 UTC = 22:00 in Shanghai: converted to the zone asked for, and loaded.
    assert query(db, "select ordered_at from orders where order_id = '#1001'") == [(datetime(2024, 6, 18, 22),)]
    london = tmp_path / "london.duckdb"
    import_export(london, "shopify", REAL / "maison-maria-2025" / "orders_export_1.csv")
    existing = import_export(london, "shopify", export)
    assert existing.warnings[1:] == [  # [0]: the export is in USD, the warehouse in GBP
        "the export's UTC offsets (−04:00 on 2024-06-18 … 2024-06-19, 4 timestamps) are not those of the warehouse's "
        "time zone, Europe/London, for 4 of its timestamps; they fit America/New_York: its times are converted to "
        "Europe/London and loaded"
    ]
    assert query(london, "select value from shopkpi_meta where key = 'timezone'") == [("Europe/London",)]
    # 2024-06-19 10:00 -04:00 = 14:00 UTC = 15:00 in London (summer time).
    assert query(london, "select ordered_at from orders where order_id = '#1004'") == [(datetime(2024, 6, 19, 15),)]
    fitting = import_export(tmp_path / "detroit.duckdb", "shopify", export, store_timezone="America/Detroit")
    assert not fitting.warnings and any("America/Detroit (the time zone asked for)" in n for n in fitting.plan.notes)


def test_offsets_of_no_usual_zone_need_timezone(db, tmp_path):
    # Nepal is +05:45 all year: no zone of the usual list fits, so a new warehouse needs --timezone.
    rows = [{**row, "Created at": row["Created at"].replace("-0400", "+0545")} for row in order_rows()]
    export = write_export(tmp_path / "orders_export_1.csv", rows)
    with pytest.raises(IngestError, match=r"\+05:45.*Asia/Kathmandu.*pass --timezone"):
        import_export(db, "shopify", export)
    assert not db.exists()
    import_export(db, "shopify", export, store_timezone="Asia/Kathmandu")
    assert query(db, "select ordered_at from orders where order_id = '#1001'") == [(datetime(2024, 6, 18, 10),)]


def test_zones_fitting_follow_the_switch_dates():
    # 2021-03-14 06:30 UTC is 01:30 EST (−05:00), 07:30 UTC is 03:30 EDT (−04:00): New York switched at 07:00 UTC.
    observed = [(datetime(2021, 3, 14, 6), -300, 1), (datetime(2021, 3, 14, 7), -240, 1)]
    fitting = zones_fitting(observed)
    assert "America/New_York" in fitting and "America/Chicago" not in fitting and "America/Bogota" not in fitting
    # Europe switches on the last Sunday of March (28 March 2021): London is still +00:00 on 14 March.
    assert "Europe/London" not in zones_fitting([(datetime(2021, 3, 14, 7), 60, 1)])
