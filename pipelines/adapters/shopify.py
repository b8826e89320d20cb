"""Shopify admin "Export orders" CSV → orders, order_items and products.

One row per line item; the order's own fields (Financial Status, Subtotal, Shipping, …) are filled on its first row
only. Columns are found by name, so the 78-column (before 2023) and 79-column layouts both load. order_id = Name
(#1001), ordered_at = Created at (its offset converted to the store's time zone), customer_id = Email (none:
guest), discount = Discount Amount, coupon_code = Discount Code, shipping_fee = Shipping, refund_amount = Refunded
Amount, region = Shipping Province Name (else Shipping Province, else Shipping Country), payment_method from
Payment Method, currency = Currency. Status from Financial Status, Fulfillment Status and Cancelled at (see
STATUS_SQL). Items: sku = Lineitem sku, else Lineitem name; quantity and unit price of the line. Taxes are not
stored (SPEC §2 has no tax column); Source (web, pos, an app id such as 580111) is counted in the summary only.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json, read_export, write_derived
from pipelines.adapters.timezones import OFFSETS_DDL

NAME = "shopify"
PLATFORM = "shopify"
SUMMARY = "Shopify admin orders export (orders_export_1.csv), any column layout"
TIMEZONE = None  # Created at carries its offset: naive times never occur

COLUMNS = {
    "name": ("Name",),
    "email": ("Email",),
    "financial": ("Financial Status",),
    "fulfillment": ("Fulfillment Status",),
    "currency": ("Currency",),
    "discount_code": ("Discount Code",),
    "discount": ("Discount Amount",),
    "shipping": ("Shipping",),
    "created": ("Created at",),
    "quantity": ("Lineitem quantity",),
    "item_name": ("Lineitem name",),
    "price": ("Lineitem price",),
    "sku": ("Lineitem sku",),
    "province_name": ("Shipping Province Name",),
    "province": ("Shipping Province",),
    "country": ("Shipping Country",),
    "cancelled": ("Cancelled at",),
    "payment_method": ("Payment Method",),
    "refunded": ("Refunded Amount",),
    "source": ("Source",),
}
REQUIRED = ("name", "created", "quantity", "item_name", "price")

# Shopify's financial statuses: pending, authorized, partially_paid, paid, partially_refunded, refunded, voided
# (and expired). A cancelled order (Cancelled at set) is `cancelled` whatever its refunds; a paid one is `shipped`
# once fulfilled (Shopify does not know delivery); a refunded one that was not cancelled is `returned`; a partial
# refund keeps the order valid, with its refund_amount.
STATUS_SQL = """
    case
        when cancelled_at is not null or financial in ('voided', 'expired') then 'cancelled'
        when financial = 'pending' then 'placed'
        when financial = 'refunded' then 'returned'
        when financial in ('paid', 'partially_paid', 'partially_refunded', 'authorized') or financial is null then
            case
                when fulfillment = 'restocked' then 'returned'
                when fulfillment in ('fulfilled', 'partial', 'shipped') then 'shipped'
                else 'paid'
            end
    end
"""

# Created at without its offset: the store's wall-clock time, which the offset turns into UTC.
_LOCAL_PART = "regexp_replace(created_text, '\\s*(Z|[+-]\\d{2}:?\\d{2})$', '')"
_LOCAL_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S']"

PAYMENT_SQL = """
    case
        when payment_text is null then null
        when payment_text ilike '%shopify payments%' or payment_text ilike '%credit card%' then 'card'
        when payment_text ilike '%paypal%' then 'paypal'
        when payment_text ilike '%cash on delivery%' or payment_text ilike '%(cod)%' then 'cod'
        when payment_text ilike '%gift card%' or payment_text ilike 'gift_card%' then 'gift_card'
        else trim(regexp_replace(lower(payment_text), '[^a-z0-9]+', '_', 'g'), '_')
    end
"""


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one Shopify orders export: order_items (one per row), orders, products."""
    header = read_export(con, path, workdir, options)
    found = find_columns(path, header, COLUMNS, REQUIRED, "a Shopify orders export")
    con.execute(
        f"""
        create or replace table rows_staged as
        with extracted as (
            select _line,
                {col(found, "name")} as order_id,
                lower({col(found, "email")}) as email,
                lower({col(found, "financial")}) as financial,
                lower({col(found, "fulfillment")}) as fulfillment,
                {col(found, "currency")} as currency,
                {col(found, "discount_code")} as coupon_code,
                {col(found, "discount")} as discount,
                {col(found, "shipping")} as shipping_fee,
                {col(found, "created")} as created_text,
                {col(found, "quantity")} as quantity_text,
                {col(found, "item_name")} as item_name,
                {col(found, "price")} as price_text,
                {col(found, "sku")} as item_sku,
                coalesce({col(found, "province_name")}, {col(found, "province")}, {col(found, "country")}) as region,
                {col(found, "cancelled")} as cancelled_at,
                {col(found, "payment_method")} as payment_text,
                {col(found, "refunded")} as refund_amount,
                {col(found, "source")} as source,
                {raw_json(list(header.values()))} as _raw_all
            from src
        ),
        typed as (
            select *,
                coalesce(
                    try_strptime(created_text, ['%Y-%m-%d %H:%M:%S %z', '%Y-%m-%dT%H:%M:%S%z']),
                    try_cast(created_text as timestamptz)
                ) as created,
                case when try_cast(quantity_text as double) = floor(try_cast(quantity_text as double))
                    then try_cast(try_cast(quantity_text as double) as bigint) end as quantity,
                try_cast(price_text as decimal(18, 2)) as price,
                row_number() over (partition by order_id order by _line) as line_no
            from extracted
        ),
        checked as (
            select *,
                case
                    when order_id is null then {{'c': 'order_id', 'r': 'no Name (the order number)'}}
                    when created is null then
                        {{'c': 'ordered_at', 'r': 'Created at is not a date-time: ' || coalesce(created_text, '')}}
                    when item_name = 'Tip' and item_sku is null then
                        {{'c': 'sku', 'r': 'a tip is not a sale (Shopify keeps tips out of Subtotal): not loaded'}}
                    when quantity is null or quantity <= 0 then {{
                        'c': 'quantity', 'r': 'Lineitem quantity must be a whole number > 0, got '
                            || coalesce(quantity_text, '(empty)')
                    }}
                    when price is null or price < 0 then {{
                        'c': 'unit_price',
                        'r': 'Lineitem price must be a number ≥ 0, got ' || coalesce(price_text, '(empty)')
                    }}
                end as _why
            from typed
        )
        select * exclude (_why, _raw_all), _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw
        from checked
        """
    )
    # Each order's offset (its first row's Created at) tells the store's time zone: run_import reads `_offsets`.
    con.execute(OFFSETS_DDL)
    con.execute(
        f"""
        insert into _offsets
        select timezone('UTC', created) as instant,
            date_diff('minute', timezone('UTC', created), try_strptime({_LOCAL_PART}, {_LOCAL_FORMATS}))
                as offset_minutes
        from rows_staged
        where line_no = 1 and created is not null and regexp_matches(created_text, '(Z|[+-]\\d{{2}}:?\\d{{2}})$')
        """
    )
    con.execute(
        """
        create or replace view order_items_out as
        select _line, _reason, _column, _raw, order_id, cast(line_no as varchar) as line_no,
            coalesce(item_sku, item_name) as sku, quantity_text as quantity, price_text as unit_price
        from rows_staged
        """
    )
    # The order's fields are on its first row; later rows repeat only Name, Email and Created at.
    con.execute(
        f"""
        create or replace view orders_out as
        with first_rows as (
            select *, row_number() over (partition by order_id order by _line) = 1 as first_row
            from rows_staged where order_id is not null and created is not null
        ),
        orders as (
            select _line, order_id,
                strftime(timezone('UTC', created), '%Y-%m-%d %H:%M:%S') || '+00:00' as ordered_at,
                {STATUS_SQL} as status,
                email as customer_id, discount, shipping_fee, refund_amount, currency, region, coupon_code,
                {PAYMENT_SQL} as payment_method,
                financial
            from first_rows where first_row
        )
        select _line,
            case when status is null then 'Financial Status ''' || financial || ''' is not a Shopify status' end
                as _reason,
            case when status is null then 'status' end as _column,
            null as _raw,
            * exclude (_line, financial)
        from orders
        """
    )
    con.execute(
        """
        create or replace view products_out as
        select min(_line) as _line, null as _reason, null as _column, null as _raw,
            coalesce(item_sku, item_name) as sku, arg_min(item_name, _line) as name, 'uncategorised' as category
        from rows_staged where _reason is null group by all
        """
    )
    items = write_derived(con, "order_items", "order_items_out", workdir, unit="line items", source_lines=True)
    orders = write_derived(con, "orders", "orders_out", workdir, unit="orders")
    products = write_derived(con, "products", "products_out", workdir, unit="products", new_only=True)
    currency = con.sql("select mode(currency) from rows_staged").fetchall()[0][0]
    return Plan(items.rows, "rows", [items, orders, products], notes=_notes(con), currency=currency)


def _notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    statuses = con.sql(
        """
        select coalesce(financial, '(none)'), count(*) from rows_staged
        where financial is not null group by all order by 2 desc, 1
        """
    ).fetchall()
    sources = con.sql(
        "select source, count(*) from rows_staged where source is not null group by all order by 2 desc, 1"
    ).fetchall()
    return [
        "orders by Financial Status: " + (", ".join(f"{s} {n:,}" for s, n in statuses) or "none"),
        "orders by Source (not stored: SPEC §2 orders have no sales-channel column): "
        + (", ".join(f"{s} {n:,}" for s, n in sources) or "none"),
    ]
