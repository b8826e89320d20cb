"""UCI "Online Retail" and "Online Retail II" transaction files → orders, order_items and products.

One row of the export is one invoice line. An invoice is a `delivered` order (order_id = invoice number); an
invoice whose number starts with `C` is a credit note: a `cancelled` order whose lines are its items with the
quantity made positive (what was credited), and whose total value the summary reports. In other invoices a line
with Quantity ≤ 0 or UnitPrice ≤ 0 is rejected with its reason; an invoice none of whose lines is accepted is not
an order. An exact duplicate row is an unchanged duplicate (it gets the line number of its first copy). A missing
CustomerID is a guest order; Country is the region; StockCode and Description make the products table.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json, read_export, write_derived

NAME = "online-retail"
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
        select * exclude (_why, _raw_all, _first_copy),
            _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw,
            dense_rank() over (partition by invoice order by _first_copy) as line_no
        from checked
        """
    )
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
            '{CURRENCY}' as currency
        from lines
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
        notes=_notes(con),
        currency=CURRENCY,
    )


def _notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    credit_notes, credit_lines, credit_value, guests, empty, empty_lines = con.sql(
        """
        with invoices as (
            select invoice, bool_or(credit) as credit, count(*) filter (where _reason is null) as accepted,
                count(*) as lines,
                sum(quantity * price) filter (where _reason is null) as value,
                count(customer_id) filter (where _reason is null) as with_customer
            from lines where invoice is not null group by invoice
        )
        select
            count(*) filter (where credit and accepted > 0),
            coalesce(sum(accepted) filter (where credit), 0),
            coalesce(sum(value) filter (where credit), 0),
            count(*) filter (where accepted > 0 and with_customer = 0),
            count(*) filter (where accepted = 0),
            coalesce(sum(lines) filter (where accepted = 0), 0)
        from invoices
        """
    ).fetchall()[0]
    return [
        f"credit notes: {credit_notes:,} invoices numbered C… ({credit_lines:,} lines) are cancelled orders, "
        f"total value {credit_value:,.2f} {CURRENCY} (in no sales metric)",
        f"invoices with no accepted line: {empty:,} (not orders; their {empty_lines:,} lines are in rejects)",
        f"guest orders (no CustomerID): {guests:,}",
    ]
