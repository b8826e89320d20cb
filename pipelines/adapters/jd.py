"""京东 (JD POP) 商家后台 order export (订单管理 › 订单导出) → orders, order_items, products.

GBK or UTF-8 CSV, or XLSX. One row per order line, with the platform's columns: 订单号, 商品ID, 商品名称, 订购数量,
支付方式, 下单时间, 京东价, 订单金额, 结算金额, 余额支付, 应付金额, 订单状态, 订单类型, 下单帐号, 客户姓名, 客户地址, …,
运费金额, 付款确认时间, 货号, 订单完成时间; the order's own fields repeat on each of its lines.
subtotal = Σ 京东价 × 订购数量 of its lines; shipping_fee = 运费金额; discount = what the buyer did not pay of goods
and freight, subtotal + 运费金额 − (应付金额 + 余额支付), never below 0 (the export has no discount column).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json, read_export, write_derived
from pipelines.adapters.taobao import TIME_FORMATS, _money, _order_number
from pipelines.ingest import sql_string

NAME = "jd"
PLATFORM = "jd"
SUMMARY = "京东 (JD POP) order export (订单号, 商品ID, 订购数量, 京东价, 下单时间, 订单状态 …), GBK/UTF-8 CSV or XLSX"
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"

COLUMNS = {
    "order_id": ("订单号", "订单编号"),
    "product_id": ("商品ID", "商品编号", "SKU"),
    "item_code": ("货号", "商家SKU", "商家编码"),
    "product": ("商品名称",),
    "quantity": ("订购数量", "商品数量"),
    "payment": ("支付方式",),
    "ordered": ("下单时间",),
    "price": ("京东价", "商品单价"),
    "payable": ("应付金额",),
    "balance": ("余额支付",),
    "status": ("订单状态",),
    "buyer": ("下单帐号", "下单账号"),
    "address": ("客户地址", "收货地址"),
    "freight": ("运费金额", "运费"),
}
REQUIRED = ("order_id", "product_id", "quantity", "ordered", "price", "status")

STATUS_RULES = (
    ("退款", "returned"),
    ("退货", "returned"),
    ("等待付款", "placed"),
    ("待付款", "placed"),
    ("取消", "cancelled"),
    ("锁定", "cancelled"),
    ("删除", "cancelled"),
    ("完成", "delivered"),
    ("已收货", "delivered"),
    ("等待确认收货", "shipped"),
    ("已发货", "shipped"),
    ("配送", "shipped"),
    ("等待出库", "paid"),
    ("等待发货", "paid"),
    ("已付款", "paid"),
)
PAYMENTS = (("在线", "online"), ("货到付款", "cod"), ("白条", "jd_baitiao"), ("微信", "wechat"), ("银行", "bank"))


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one JD order export: orders (one per 订单号), order_items (its lines), products."""
    header = read_export(con, path, workdir, options)
    found = find_columns(path, header, COLUMNS, REQUIRED, "a 京东 order export")
    rules = " ".join(f"when contains(status_text, {sql_string(k)}) then {sql_string(v)}" for k, v in STATUS_RULES)
    payments = " ".join(f"when contains(payment_text, {sql_string(k)}) then {sql_string(v)}" for k, v in PAYMENTS)
    con.execute(
        f"""
        create or replace table jd_staged as
        with extracted as (
            select _line,
                {_order_number(col(found, "order_id"))} as order_id,
                coalesce({_order_number(col(found, "item_code"))}, {_order_number(col(found, "product_id"))}) as sku,
                {col(found, "product")} as product,
                {col(found, "quantity")} as quantity_text,
                try_cast({col(found, "quantity")} as integer) as quantity,
                {col(found, "price")} as price_text,
                {_money(col(found, "price"))} as price,
                {_money(col(found, "payable"))} as payable,
                coalesce({_money(col(found, "balance"))}, 0) as balance,
                coalesce({_money(col(found, "freight"))}, 0) as freight,
                {col(found, "status")} as status_text,
                {col(found, "payment")} as payment_text,
                {col(found, "ordered")} as ordered_text,
                {col(found, "buyer")} as customer_id,
                nullif(split_part(trim(replace({col(found, "address")}, '　', ' ')), ' ', 1), '') as region,
                {raw_json(list(header.values()))} as _raw_all
            from src
        ),
        typed as (
            select *,
                coalesce(try_strptime(ordered_text, {TIME_FORMATS}), try_cast(ordered_text as timestamp)) as ordered,
                case {rules} end as status,
                case {payments} else lower(payment_text) end as payment_method
            from extracted
        )
        select * exclude (_why, _raw_all), _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw,
            row_number() over (partition by order_id order by _line) as line_no
        from (
            select *,
                case
                    when order_id is null then {{'c': 'order_id', 'r': 'no 订单号'}}
                    when ordered is null then {{'c': 'ordered_at', 'r':
                        '下单时间 is not a date-time: ' || coalesce(ordered_text, '(empty)')}}
                    when status is null then {{'c': 'status', 'r':
                        '订单状态 ''' || coalesce(status_text, '') || ''' is not a known 京东 status'}}
                    when sku is null then {{'c': 'sku', 'r': 'no 货号 or 商品ID'}}
                    when quantity is null or quantity <= 0 then {{'c': 'quantity', 'r':
                        '订购数量 is not a positive whole number: ' || coalesce(quantity_text, '(empty)')}}
                    when price is null then {{'c': 'unit_price', 'r':
                        '京东价 is not a number: ' || coalesce(price_text, '(empty)')}}
                end as _why
            from typed
        )
        """
    )
    # An order is refused when any of its lines is: its value would otherwise be short of that line.
    con.execute(
        f"""
        create or replace view orders_out as
        with orders as (
            select order_id, min(_line) as _line,
                arg_min(_reason, coalesce(_reason, '') = '') as first_reason,
                arg_min(_column, coalesce(_reason, '') = '') as first_column,
                arg_min(_raw, coalesce(_reason, '') = '') as first_raw,
                min(ordered) as ordered, arg_min(status, _line) as status, arg_min(customer_id, _line) as customer_id,
                sum(price * quantity) as subtotal, arg_min(freight, _line) as freight,
                arg_min(payable, _line) as payable, arg_min(balance, _line) as balance,
                arg_min(payment_method, _line) as payment_method, arg_min(region, _line) as region
            from jd_staged where order_id is not null group by order_id
            union all by name
            select null as order_id, _line, _reason as first_reason, _column as first_column, _raw as first_raw
            from jd_staged where order_id is null
        )
        select _line, first_reason as _reason, first_column as _column, first_raw as _raw, order_id,
            strftime(ordered, '%Y-%m-%d %H:%M:%S') as ordered_at, status, customer_id,
            cast(subtotal as varchar) as subtotal,
            -- An unpaid or cancelled order's unpaid amount is not a discount.
            cast(case when payable is not null and status not in ('placed', 'cancelled')
                then greatest(subtotal + freight - (payable + balance), 0) end as varchar) as discount,
            cast(freight as varchar) as shipping_fee,
            '{CURRENCY}' as currency, region, payment_method, {sql_string(options.store)} as store
        from orders
        """
    )
    con.execute(
        """
        create or replace view order_items_out as
        select _line, _reason, _column, _raw, order_id, cast(line_no as varchar) as line_no, sku,
            cast(quantity as varchar) as quantity, cast(price as varchar) as unit_price
        from jd_staged
        """
    )
    con.execute(
        """
        create or replace view products_out as
        select min(_line) as _line, null as _reason, null as _column, null as _raw, sku,
            arg_min(product, _line) as name, 'uncategorised' as category
        from jd_staged where _reason is null and product is not null group by sku
        """
    )
    orders = write_derived(con, "orders", "orders_out", workdir, unit="orders")
    items = write_derived(con, "order_items", "order_items_out", workdir, unit="lines", source_lines=True)
    products = write_derived(con, "products", "products_out", workdir, unit="products", new_only=True)
    rows = con.sql(
        "select status, count(distinct order_id) from jd_staged where _reason is null group by status order by 2 desc"
    ).fetchall()
    notes = ["orders by status: " + (", ".join(f"{status} {count:,}" for status, count in rows) or "none")]
    return Plan(items.rows, "rows", [orders, items, products], notes=notes, currency=CURRENCY)
