"""Taobao / Tmall seller order report (订单报表, ExportOrderList) → orders; its detail list → order_items, products.

GBK (the platform's) or UTF-8, column names matched without their trailing spaces, and any subset of the columns
as long as 订单编号, 订单创建时间 and 总金额 (or 买家应付货款) are there. One row is one order:
order_id = 订单编号, ordered_at = 订单创建时间, customer_id = 买家会员名 (none: guest), subtotal = 买家应付货款, else
总金额 less 买家应付邮费 (the order's goods value, used when there are no line items), shipping_fee = 买家应付邮费,
refund_amount = 退款金额, region = the first word of 收货地址 (the province), currency CNY.
Status: 订单状态 mapped to SPEC's (交易关闭 after a payment with a refund is `returned`, else `cancelled`); without
that column, no 订单付款时间 = `placed`, paid and fully refunded = `returned`, else `paid`.
The detail list (ExportOrderDetailList: 订单编号, 标题, 价格, 购买数量, 商家编码, …) gives one item per row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import (
    ImportOptions,
    Plan,
    col,
    column_listing,
    find_columns,
    raw_json,
    read_export,
    sql_string,
    write_derived,
)
from pipelines.ingest import IngestError

NAME = "taobao"
PLATFORM = "tmall"
SUMMARY = "Taobao / Tmall seller order report (订单报表) or its detail list (宝贝报表), GBK or UTF-8"
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"

ORDER_COLUMNS = {
    "order_id": ("订单编号", "订单号"),
    "buyer": ("买家会员名", "买家昵称"),
    "goods": ("买家应付货款",),
    "postage": ("买家应付邮费",),
    "total": ("总金额",),
    "paid_amount": ("买家实际支付金额",),
    "status": ("订单状态",),
    "created": ("订单创建时间",),
    "paid_at": ("订单付款时间",),
    "address": ("收货地址",),
    "refund": ("退款金额",),
}
DETAIL_COLUMNS = {
    "order_id": ("订单编号", "订单号"),
    "title": ("标题", "宝贝标题"),
    "price": ("价格", "单价"),
    "quantity": ("购买数量", "数量"),
    "merchant_code": ("商家编码",),
    "external_code": ("外部系统编号",),
    "status": ("订单状态",),
}

# Substrings of 订单状态, first match wins (so 卖家已发货，等待买家确认 is shipped, not "等待…"); both the report's
# long forms (买家已付款，等待卖家发货) and the newer short ones (待发货) are covered.
STATUS_RULES = (
    ("退款成功", "returned"),
    ("等待买家付款", "placed"),
    ("待付款", "placed"),
    ("交易成功", "delivered"),
    ("已签收", "delivered"),
    ("已完成", "delivered"),
    ("已发货", "shipped"),
    ("等待买家确认", "shipped"),
    ("部分发货", "shipped"),
    ("已付款", "paid"),
    ("等待卖家发货", "paid"),
    ("待发货", "paid"),
    ("交易关闭", "closed"),
    ("已关闭", "closed"),
    ("已取消", "closed"),
)

TIME_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y/%m/%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y/%m/%d %H:%M']"


def _order_number(sql: str) -> str:
    # Excel-safe exports write long numbers as ="123…", '123… or with a tab so they are not shown as 1.23E+17.
    return f"""regexp_replace({sql}, '^[=''"\\t ]+|["\\t ]+$', '', 'g')"""


def _money(sql: str) -> str:
    return f"try_cast(replace(replace({sql}, '¥', ''), ',', '') as decimal(18, 2))"


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one report: orders (order list) or order_items and products (detail list)."""
    header = read_export(con, path, workdir, options)
    if any(key in header for key in ("标题", "价格", "购买数量")) and "总金额" not in header:
        return _detail_list(con, path, workdir, header)
    found = find_columns(path, header, ORDER_COLUMNS, ("order_id", "created"), "a Taobao/Tmall order report")
    if found["total"] is None and found["goods"] is None:
        raise IngestError(
            f"{path}: not a Taobao/Tmall order report: no 总金额 or 买家应付货款 column "
            f"(file has: {column_listing(header.values())})"
        )
    status_rules = " ".join(
        f"when contains(status_text, {sql_string(k)}) then {sql_string(v)}" for k, v in STATUS_RULES
    )
    con.execute(
        f"""
        create or replace table orders_staged as
        with extracted as (
            select _line,
                {_order_number(col(found, "order_id"))} as order_id,
                {col(found, "buyer")} as customer_id,
                {col(found, "goods")} as goods_text,
                {col(found, "postage")} as postage_text,
                {col(found, "total")} as total_text,
                {col(found, "status")} as status_text,
                {col(found, "created")} as created_text,
                {col(found, "paid_at")} as paid_text,
                {col(found, "address")} as address,
                {col(found, "refund")} as refund_text,
                {raw_json(list(header.values()))} as _raw_all
            from src
        ),
        typed as (
            select *,
                coalesce(try_strptime(created_text, {TIME_FORMATS}), try_cast(created_text as timestamp)) as created,
                {_money("goods_text")} as goods,
                coalesce({_money("postage_text")}, 0) as postage,
                {_money("total_text")} as total,
                coalesce({_money("refund_text")}, 0) as refund,
                case {status_rules} end as mapped
            from extracted
        ),
        derived as (
            select *,
                coalesce(goods, total - postage) as subtotal,
                case
                    when status_text is not null and mapped = 'closed' then
                        case when paid_text is not null and refund > 0 then 'returned' else 'cancelled' end
                    when status_text is not null then mapped
                    when paid_text is null then 'placed'
                    when refund > 0 and refund >= coalesce(total, goods + postage) then 'returned'
                    else 'paid'
                end as status
            from typed
        ),
        checked as (
            select *,
                case
                    when order_id is null or order_id = '' then {{'c': 'order_id', 'r': 'no 订单编号'}}
                    when created is null then {{
                        'c': 'ordered_at', 'r': '订单创建时间 is not a date-time: ' || coalesce(created_text, '(empty)')
                    }}
                    when subtotal is null then {{
                        'c': 'subtotal',
                        'r': 'no goods value: 总金额 / 买家应付货款 is not a number: '
                            || coalesce(total_text, goods_text, '(empty)')
                    }}
                    when status is null then {{
                        'c': 'status',
                        'r': '订单状态 ''' || status_text || ''' is not a known Taobao status (交易成功, 交易关闭, …)'
                    }}
                end as _why
            from derived
        )
        select * exclude (_why, _raw_all), _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw
        from checked
        """
    )
    con.execute(
        f"""
        create or replace view orders_out as
        select _line, _reason, _column, _raw, order_id,
            strftime(created, '%Y-%m-%d %H:%M:%S') as ordered_at,
            status, customer_id,
            cast(subtotal as varchar) as subtotal,
            cast(postage as varchar) as shipping_fee,
            cast(refund as varchar) as refund_amount,
            '{CURRENCY}' as currency,
            -- 收货地址 is 'province city district street…'; the province is the region (SPEC: shipping destination).
            nullif(split_part(trim(replace(address, '　', ' ')), ' ', 1), '') as region
        from orders_staged
        """
    )
    orders = write_derived(con, "orders", "orders_out", workdir, unit="orders", source_lines=True)
    return Plan(orders.rows, "rows", [orders], notes=_notes(con), currency=CURRENCY)


def _notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.sql(
        """
        select status, count(*), sum(subtotal), sum(refund) from orders_staged where _reason is null
        group by status order by count(*) desc
        """
    ).fetchall()
    by_status = ", ".join(f"{status} {count:,}" for status, count, _, _ in rows)
    return [f"orders by status: {by_status or 'none'}"]


def _detail_list(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, header: dict[str, str]) -> Plan:
    found = find_columns(
        path, header, DETAIL_COLUMNS, ("order_id", "title", "price", "quantity"), "a Taobao/Tmall detail list"
    )
    con.execute(
        f"""
        create or replace table items_staged as
        with extracted as (
            select _line,
                {_order_number(col(found, "order_id"))} as order_id,
                {col(found, "title")} as title,
                {col(found, "price")} as price_text,
                {col(found, "quantity")} as quantity_text,
                coalesce({col(found, "merchant_code")}, {col(found, "external_code")}, {col(found, "title")}) as sku,
                {raw_json(list(header.values()))} as _raw_all
            from src
        ),
        checked as (
            select *,
                row_number() over (partition by order_id order by _line) as line_no,
                case
                    when order_id is null or order_id = '' then {{'c': 'order_id', 'r': 'no 订单编号'}}
                    when sku is null then {{'c': 'sku', 'r': 'no 商家编码 and no 标题'}}
                end as _why
            from extracted
        )
        select * exclude (_why, _raw_all), _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw
        from checked
        """
    )
    con.execute(
        """
        create or replace view order_items_out as
        select _line, _reason, _column, _raw, order_id, cast(line_no as varchar) as line_no, sku,
            quantity_text as quantity, replace(price_text, '¥', '') as unit_price
        from items_staged
        """
    )
    con.execute(
        """
        create or replace view products_out as
        select min(_line) as _line, null as _reason, null as _column, null as _raw,
            sku, arg_min(title, _line) as name, 'uncategorised' as category
        from items_staged where _reason is null group by sku
        """
    )
    items = write_derived(con, "order_items", "order_items_out", workdir, unit="lines", source_lines=True)
    products = write_derived(con, "products", "products_out", workdir, unit="products", new_only=True)
    return Plan(items.rows, "rows", [items, products], currency=CURRENCY)
