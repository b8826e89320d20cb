"""UCI "Online Retail" and "Online Retail II" transaction files → orders, order_items and products.

One row of the export is one invoice line. An invoice is a `delivered` order (order_id = invoice number). An invoice
whose number starts with `C` is a credit note: it stays on record as a `cancelled` order whose lines are what it
credited (quantity made positive), in no sales metric, and its value is booked as refunds (`orders.refund_amount`) of
the invoices it credits (see `book_credit_notes`), so net sales fall by the credited amounts while orders and gross
sales stay those of the invoices. In other invoices a line with Quantity ≤ 0 or UnitPrice ≤ 0 is rejected with its
reason; an invoice none of whose lines is accepted is not an order. An exact duplicate row is an unchanged duplicate
(it gets the line number of its first copy). A missing CustomerID is a guest order; Country is the region; StockCode
and Description make the products table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json, read_export, write_derived

NAME = "online-retail"
PLATFORM = None
SUMMARY = "UCI Online Retail / Online Retail II transactions (CSV or XLSX)"
CURRENCY = "GBP"  # the retailer is in the UK and its prices are in sterling
TIMEZONE = "Europe/London"

COLUMNS = {
    "invoice": ("InvoiceNo", "Invoice"),
    "stock_code": ("StockCode",),
    "description": ("Description",),
    "quantity": ("Quantity",),
    "invoice_date": ("InvoiceDate",),
    "unit_price": ("UnitPrice", "Price"),
    "customer": ("CustomerID", "Customer ID"),
    "country": ("Country",),
}
REQUIRED = ("invoice", "stock_code", "quantity", "invoice_date", "unit_price")

# ISO (this CSV and the XLSX read here); the UCI web page's CSV conversions write US dates like 12/1/2010 8:26.
DATE_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%m/%d/%Y %H:%M', '%m/%d/%Y %H:%M:%S']"

# Stock codes that are not goods; everything else is 'uncategorised' (the data set has no categories).
CATEGORIES = """
    case
        when sku in ('POST', 'DOT', 'C2') then 'postage'
        when upper(sku) in ('M', 'D', 'S', 'B', 'BANK CHARGES', 'AMAZONFEE', 'CRUK', 'ADJUST', 'ADJUST2', 'TEST001',
            'TEST002') then 'fees and adjustments'
        when sku ilike 'gift\\_%' escape '\\' then 'gift vouchers'
        else 'uncategorised'
    end
"""


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one Online Retail export: order_items (one per line), orders, products."""
    header = read_export(con, path, workdir, options)
    found = find_columns(path, header, COLUMNS, REQUIRED, "an Online Retail export")
    source_columns = list(header.values())
    con.execute(
        f"""
        create or replace table lines as
        with extracted as (
            select _line,
                {col(found, "invoice")} as invoice,
                {col(found, "stock_code")} as sku,
                {col(found, "description")} as description,
                {col(found, "quantity")} as quantity_text,
                {col(found, "invoice_date")} as date_text,
                {col(found, "unit_price")} as price_text,
                {col(found, "customer")} as customer_text,
                {col(found, "country")} as country,
                case when {col(found, "invoice")} ilike 'C%' then true else false end as credit,
                {raw_json(source_columns)} as _raw_all
            from src
        ),
        typed as (
            select *,
                case when try_cast(quantity_text as double) = floor(try_cast(quantity_text as double))
                    then try_cast(try_cast(quantity_text as double) as bigint) end as quantity,
                try_cast(price_text as decimal(18, 4)) as price,
                coalesce(try_strptime(date_text, {DATE_FORMATS}), try_cast(date_text as timestamp)) as ts,
                -- CustomerID comes as a float string ('17850.0') in most copies of the data set.
                regexp_replace(customer_text, '\\.0+$', '') as customer_id
            from extracted
        ),
        checked as (
            select *,
                case
                    when invoice is null then {{'c': 'order_id', 'r': 'no InvoiceNo'}}
                    when sku is null then {{'c': 'sku', 'r': 'no StockCode'}}
                    when ts is null then
                        {{'c': 'ordered_at', 'r': 'InvoiceDate is not a date-time: ' || coalesce(date_text, '(empty)')}}
                    when quantity is null then {{
                        'c': 'quantity', 'r': 'Quantity is not a whole number: ' || coalesce(quantity_text, '(empty)')
                    }}
                    when price is null then
                        {{'c': 'unit_price', 'r': 'UnitPrice is not a number: ' || coalesce(price_text, '(empty)')}}
                    when not credit and quantity <= 0 then {{
                        'c': 'quantity',
                        'r': 'Quantity must be > 0 in an invoice, got ' || quantity_text
                            || ' (returns are credit notes, numbered C…)'
                    }}
                    when not credit and price <= 0 then {{
                        'c': 'unit_price',
                        'r': 'UnitPrice must be > 0, got ' || price_text || ' (a line without a price is not a sale)'
                    }}
                    when credit and quantity >= 0 then
                        {{'c': 'quantity', 'r': 'a credit-note line must have Quantity < 0, got ' || quantity_text}}
                    when credit and price < 0 then
                        {{'c': 'unit_price', 'r': 'UnitPrice must be ≥ 0, got ' || price_text}}
                end as _why,
                -- An exact duplicate row takes the line number of its first copy: same key and values for ingest.
                min(_line) over (
                    partition by invoice, sku, description, quantity_text, date_text, price_text, customer_text, country
                ) as _first_copy
            from typed
        )
        select * exclude (_why, _raw_all),
            _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw,
            dense_rank() over (partition by invoice order by _first_copy) as line_no
        from checked
        """
    )
    bookings = book_credit_notes(con)
    con.execute(
        """
        create or replace view order_items_out as
        select _line, _reason, _column, _raw,
            invoice as order_id,
            cast(line_no as varchar) as line_no,
            sku,
            cast(case when credit then -quantity else quantity end as varchar) as quantity,
            price_text as unit_price
        from lines
        """
    )
    con.execute(
        f"""
        create or replace view orders_out as
        select min(_line) as _line, null as _reason, null as _column, null as _raw,
            invoice as order_id,
            strftime(min(ts), '%Y-%m-%d %H:%M:%S') as ordered_at,
            case when bool_or(credit) then 'cancelled' else 'delivered' end as status,
            arg_min(customer_id, _line) filter (where customer_id is not null) as customer_id,
            arg_min(country, _line) as region,
            '{CURRENCY}' as currency,
            cast(any_value(r.refund_amount) as varchar) as refund_amount
        from lines
        left join refunds r using (invoice)
        where _reason is null
        group by invoice
        """
    )
    con.execute(
        f"""
        create or replace view products_out as
        with described as (
            select sku, description,
                count(*) filter (where _reason is null) as accepted, count(*) as seen, min(_line) as first_line
            from lines where sku is not null
            group by sku, description
        ),
        ranked as (
            select *,
                row_number() over (
                    partition by sku order by description is null, accepted desc, seen desc, first_line
                ) as rank,
                min(first_line) over (partition by sku) as sku_first_line
            from described
        )
        select sku_first_line as _line, null as _reason, null as _column, null as _raw,
            sku, coalesce(description, sku) as name, {CATEGORIES} as category
        from ranked where rank = 1
        """
    )
    items = write_derived(con, "order_items", "order_items_out", workdir, unit="lines", source_lines=True)
    orders = write_derived(con, "orders", "orders_out", workdir, unit="invoices and credit notes")
    products = write_derived(con, "products", "products_out", workdir, unit="stock codes", new_only=True)
    return Plan(
        source_rows=items.rows,
        source_unit="lines",
        tables=[items, orders, products],
        notes=_notes(con, bookings),
        currency=CURRENCY,
    )


# How a credit note's value was booked, by rule (see book_credit_notes).
BY_STOCK_CODE = "stock code"
BY_CUSTOMER = "customer"
GUEST = "guest"
NO_EARLIER_INVOICE = "no earlier invoice"
INVOICES_FULL = "invoices fully refunded"


@dataclass(frozen=True)
class _CreditLine:
    credit_note: str
    line: int
    customer: str | None
    at: datetime
    sku: str
    value: Decimal  # what it credits, > 0


def book_credit_notes(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Books each credit-note line's value as a refund of the invoices it credits; creates table `refunds`.

    A line is booked, in the order the credit notes were issued, to the same customer's latest invoice issued no later
    than the credit note that contains its stock code (then the earlier ones with it), each capped at what the invoice
    can still take (its value less the refunds already booked to it), so no refund exceeds its order's value. What is
    left goes to the customer's latest earlier invoices of any content, capped the same way. What is still left is
    not booked: the credit note of a guest (no CustomerID) or of a customer with no earlier invoice in the export
    (bought before it starts), or one whose invoices are already fully refunded. Values are those loaded: exact
    duplicate lines once, prices in pence (a line that ingest will refuse counts for nothing).

    Returns one row per (credit-note line, invoice or none): credit_note, line, category, rule, invoice, amount.
    """
    # The lines a warehouse will hold: SPEC §2 money has 2 decimals and order_items.quantity is an INTEGER, so ingest
    # refuses other lines, which then count for no invoice's value.
    accepted = "_reason is null and _line = _first_copy and price = round(price, 2) and abs(quantity) < 2147483648"
    invoices = con.sql(
        f"""
        select invoice, any_value(customer_id) as customer_id, min(ts) as issued, sum(quantity * price) as value
        from lines where not credit and {accepted}
        group by invoice having any_value(customer_id) is not null
        order by issued desc, invoice desc
        """
    ).fetchall()
    room: dict[str, Decimal] = {}
    by_customer: dict[str, list[tuple[datetime, str]]] = defaultdict(list)  # latest first
    for invoice, customer, at, value in invoices:
        room[invoice] = Decimal(value)
        by_customer[customer].append((at, invoice))
    # Only the (customer, stock code) pairs some credit note names: a few thousand of the 400,000 invoice lines.
    skus = con.sql(
        f"""
        select distinct sku, invoice from lines
        where not credit and customer_id is not null and {accepted}
            and (customer_id, sku) in (select (customer_id, sku) from lines where credit and {accepted})
        """
    )
    with_sku: dict[str, set[str]] = defaultdict(set)
    for sku, invoice in skus.fetchall():
        with_sku[sku].add(invoice)
    credit_lines = [
        _CreditLine(*row)
        for row in con.sql(
            f"""
            select invoice, _line, customer_id, min(ts) over (partition by invoice) as issued, sku,
                -quantity * price as value
            from lines where credit and {accepted}
            order by issued, invoice, _line
            """
        ).fetchall()
    ]
    booked: list[tuple[str, int, str, str | None, Decimal]] = []
    for line in credit_lines:
        left = Decimal(line.value)
        earlier = [invoice for at, invoice in by_customer.get(line.customer, []) if at <= line.at]
        containing = [invoice for invoice in earlier if invoice in with_sku[line.sku]]
        for rule, candidates in ((BY_STOCK_CODE, containing), (BY_CUSTOMER, earlier)):
            for invoice in candidates:
                amount = min(left, room[invoice])
                if amount > 0:
                    room[invoice] -= amount
                    left -= amount
                    booked.append((line.credit_note, line.line, rule, invoice, amount))
                if left == 0:
                    break
            if left == 0:
                break
        if left > 0:
            why = GUEST if line.customer is None else NO_EARLIER_INVOICE if not earlier else INVOICES_FULL
            booked.append((line.credit_note, line.line, why, None, left))
    # pyarrow is imported here: every `shopkpi ingest` and `shopkpi import` imports this module (the adapters' list).
    import pyarrow as pa

    columns = list(zip(*booked, strict=True)) if booked else [[], [], [], [], []]
    con.register(
        "credit_bookings",
        pa.table(
            {
                "credit_note": pa.array(columns[0], pa.string()),
                "line": pa.array(columns[1], pa.int64()),
                "rule": pa.array(columns[2], pa.string()),
                "invoice": pa.array(columns[3], pa.string()),
                "amount": pa.array(columns[4], pa.decimal128(38, 2)),  # an absurd quantity is refused at load
            }
        ),
    )
    con.execute(
        """
        create or replace table refunds as
        select invoice, sum(amount) as refund_amount from credit_bookings where invoice is not null group by invoice
        """
    )
    return con.sql(
        f"""
        select b.*, {CATEGORIES} as category
        from credit_bookings b join (select _line as line, sku from lines) l using (line)
        """
    )


def _notes(con: duckdb.DuckDBPyConnection, bookings: duckdb.DuckDBPyRelation) -> list[str]:
    credit_lines, guests, empty, empty_lines = con.sql(
        """
        with invoices as (
            select invoice, bool_or(credit) as credit, count(*) filter (where _reason is null) as accepted,
                count(*) as lines, count(customer_id) filter (where _reason is null) as with_customer
            from lines where invoice is not null group by invoice
        )
        select
            coalesce(sum(accepted) filter (where credit), 0),
            count(*) filter (where accepted > 0 and with_customer = 0),
            count(*) filter (where accepted = 0),
            coalesce(sum(lines) filter (where accepted = 0), 0)
        from invoices
        """
    ).fetchall()[0]
    con.register("bookings", bookings)
    notes = con.sql(
        f"""
        with per_note as (
            select credit_note,
                sum(amount) filter (where invoice is not null) as booked,
                sum(amount) filter (where invoice is null) as left_over,
                bool_or(rule = '{BY_CUSTOMER}') as by_customer,
                min(rule) filter (where invoice is null) as why
            from bookings group by credit_note
        )
        select
            count(*),
            count(*) filter (where left_over is null and not by_customer),
            count(*) filter (where left_over is null and by_customer),
            count(*) filter (where booked is not null and left_over is not null),
            count(*) filter (where booked is null and why = '{GUEST}'),
            count(*) filter (where booked is null and why = '{NO_EARLIER_INVOICE}'),
            count(*) filter (where booked is null and why = '{INVOICES_FULL}'),
            coalesce(sum(booked), 0), coalesce(sum(left_over), 0)
        from per_note
        """
    ).fetchall()[0]
    total, by_stock_code, by_customer, partly, guest, no_invoice, full, booked, left_over = notes
    refunded = con.sql("select count(*) from refunds").fetchall()[0][0]
    categories = con.sql(
        """
        select category, sum(amount), coalesce(sum(amount) filter (where invoice is not null), 0)
        from bookings group by category order by 2 desc, 1
        """
    ).fetchall()
    named = {"uncategorised": "goods"}  # the data set has no product categories: every other stock code is goods
    by_category = ", ".join(f"{named.get(c, c)} {-v:,.2f} ({b:,.2f} booked)" for c, v, b in categories) or "none"
    return [
        f"credit notes: {total:,} numbered C… ({credit_lines:,} lines, {-(booked + left_over):,.2f} {CURRENCY} with "
        "exact duplicate lines once) stay "
        "on record as cancelled orders (in no sales metric); their value is booked as refunds of the invoices they "
        f"credit: {by_stock_code:,} matched by customer and stock code (the latest earlier invoice with that stock "
        f"code), {by_customer:,} in part by customer only (the customer's latest earlier invoices), {partly:,} only "
        "in part (capped at what the invoices could still take); not booked: "
        f"{guest:,} of guests (no CustomerID), {no_invoice:,} of customers with no earlier invoice in the export, "
        f"{full:,} whose invoices were already fully refunded",
        f"refunds: {booked:,.2f} {CURRENCY} on {refunded:,} invoices, none above its invoice's value; not booked "
        f"(in no sales metric): {left_over:,.2f} {CURRENCY}",
        f"credit notes by category: {by_category}",
        f"invoices with no accepted line: {empty:,} (not orders; their {empty_lines:,} lines are in rejects)",
        f"guest orders (no CustomerID): {guests:,}",
    ]
