"""拼多多 商家后台 order export (订单查询 › 导出) → orders, order_items, products.

UTF-8 (usually with a BOM) or GBK CSV, or XLSX. One row is one order of one product (拼多多 orders hold a single
goods item, 商品数量(件) of it): order_id = 订单号, ordered_at = 订单成交时间 (else 支付时间 / 成交时间 / 拼单成功时间),
subtotal = 商品总价(元), discount = 店铺优惠折扣(元) (the shop's own; 平台优惠折扣(元) is paid by the platform, so the
shop's revenue is not reduced by it), shipping_fee = 邮费(元), region = 省. Buyers are not identified in the export
(guest orders). Status from 订单状态 and 售后状态 (退款成功 = returned, refund_amount = 商家实收金额(元)).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json, read_export, write_derived
from pipelines.adapters.taobao import TIME_FORMATS, _money, _order_number
from pipelines.ingest import sql_string

NAME = "pinduoduo"
PLATFORM = "pinduoduo"
SUMMARY = "拼多多 order export (订单号, 订单状态, 商品总价(元), 商品数量(件) …), UTF-8/GBK CSV or XLSX"
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"

COLUMNS = {
    "order_id": ("订单号", "订单编号"),
    "status": ("订单状态",),
    "after_sales": ("售后状态",),
    "product": ("商品", "商品名称"),
    "spec": ("商品规格",),
    "goods": ("商品总价(元)", "商品总价"),
    "shop_discount": ("店铺优惠折扣(元)", "店铺优惠折扣"),
    "platform_discount": ("平台优惠折扣(元)", "平台优惠折扣"),
    "paid": ("用户实付金额(元)", "用户实付金额"),
    "received": ("商家实收金额(元)", "商家实收金额"),
    "postage": ("邮费(元)", "邮费"),
    "quantity": ("商品数量(件)", "商品数量"),
    "ordered": ("订单成交时间", "成交时间", "支付时间", "拼单成功时间"),
    "product_id": ("商品id", "商品ID"),
    "style_id": ("样式ID", "样式id"),
    "sku_code": ("商家编码-SKU维度", "商家编码-规格维度", "SKU编码"),
    "province": ("省", "收货省份"),
}
REQUIRED = ("order_id", "status", "goods", "quantity", "ordered")

# Substrings of 订单状态, first match wins (已发货，待收货 is shipped; 退款成功 before anything else).
STATUS_RULES = (
    ("退款成功", "returned"),
    ("未支付", "placed"),
    ("待支付", "placed"),
    ("待付款", "placed"),
    ("已取消", "cancelled"),
    ("已关闭", "cancelled"),
    ("已收货", "delivered"),
    ("已签收", "delivered"),
    ("交易成功", "delivered"),
    ("已发货", "shipped"),
    ("待收货", "shipped"),
    ("待发货", "paid"),
    ("已支付", "paid"),
)


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one order export: orders, order_items (one line each) and products."""
    header = read_export(con, path, workdir, options)
    found = find_columns(path, header, COLUMNS, REQUIRED, "a 拼多多 order export")
    rules = " ".join(f"when contains(status_text, {sql_string(k)}) then {sql_string(v)}" for k, v in STATUS_RULES)
    con.execute(
        f"""
        create or replace table pdd_staged as
        with extracted as (
            select _line,
                {_order_number(col(found, "order_id"))} as order_id,
                {col(found, "status")} as status_text,
                {col(found, "after_sales")} as after_sales,
                {col(found, "product")} as product,
                {col(found, "spec")} as spec,
                {col(found, "goods")} as goods_text,
                {_money(col(found, "goods"))} as goods,
                coalesce({_money(col(found, "shop_discount"))}, 0) as discount,
                coalesce({_money(col(found, "postage"))}, 0) as postage,
                {_money(col(found, "received"))} as received,
                {col(found, "quantity")} as quantity_text,
                try_cast({col(found, "quantity")} as integer) as quantity,
                {col(found, "ordered")} as ordered_text,
                coalesce({_order_number(col(found, "sku_code"))}, {_order_number(col(found, "style_id"))},
                    {_order_number(col(found, "product_id"))}) as sku,
                {col(found, "province")} as region,
                {raw_json(list(header.values()))} as _raw_all
            from src
        ),
        typed as (
            select *,
                coalesce(try_strptime(ordered_text, {TIME_FORMATS}), try_cast(ordered_text as timestamp)) as ordered,
                case when contains(coalesce(after_sales, ''), '退款成功') then 'returned'
                    else case {rules} end end as status
            from extracted
        ),
        checked as (
            select *,
                case
                    when order_id is null then {{'c': 'order_id', 'r': 'no 订单号'}}
                    when ordered is null then {{'c': 'ordered_at', 'r':
                        '订单成交时间 is not a date-time: ' || coalesce(ordered_text, '(empty)')}}
                    when status is null then {{'c': 'status', 'r':
                        '订单状态 ''' || coalesce(status_text, '') || ''' is not a known 拼多多 status'}}
                    when goods is null then {{'c': 'subtotal', 'r':
                        '商品总价(元) is not a number: ' || coalesce(goods_text, '(empty)')}}
                end as _why,
                case
                    when sku is null then {{'c': 'sku', 'r': 'no 商家编码, 样式ID or 商品id'}}
                    when quantity is null or quantity <= 0 then {{'c': 'quantity', 'r':
                        '商品数量(件) is not a positive whole number: ' || coalesce(quantity_text, '(empty)')}}
                end as _item_why
            from typed
        )
        select * exclude (_why, _item_why, _raw_all), _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw,
            coalesce(_why.r, _item_why.r) as _item_reason, coalesce(_why.c, _item_why.c) as _item_column,
            case when coalesce(_why, _item_why) is not null then _raw_all end as _item_raw
        from checked
        """
    )
    con.execute(
        f"""
        create or replace view orders_out as
        select _line, _reason, _column, _raw, order_id,
            strftime(ordered, '%Y-%m-%d %H:%M:%S') as ordered_at, status,
            cast(goods as varchar) as subtotal, cast(discount as varchar) as discount,
            cast(postage as varchar) as shipping_fee,
            -- 退款成功 gives back what the shop received for the order (the export has no refund amount).
            cast(case when status = 'returned' then coalesce(received, goods - discount + postage) else 0 end
                as varchar) as refund_amount,
            '{CURRENCY}' as currency, region, {sql_string(options.store)} as store
        from pdd_staged
        """
    )
    # One goods item per order, 商品数量(件) of it. When the goods total does not divide into whole cents (29.90 for
    # 3), the last unit carries the remainder on a line of its own (2 × 9.96 + 1 × 9.98), so the lines add up to it.
    con.execute(
        """
        create or replace view order_items_out as
        with priced as (
            select *, cast(floor(goods * 100 / quantity) / 100 as decimal(18, 2)) as unit,
                goods - cast(floor(goods * 100 / quantity) / 100 as decimal(18, 2)) * (quantity - 1) as last_unit
            from pdd_staged
        ),
        lines as (
            select *, 1 as line_no, case when last_unit = unit then quantity else quantity - 1 end as line_quantity,
                unit as price
            from priced where _item_reason is not null or last_unit = unit or quantity > 1
            union all
            select *, case when last_unit = unit then 1 else 2 end, 1, last_unit
            from priced where _item_reason is null and last_unit <> unit
        )
        select _line, _item_reason as _reason, _item_column as _column, _item_raw as _raw, order_id,
            cast(line_no as varchar) as line_no, sku, cast(line_quantity as varchar) as quantity,
            cast(price as varchar) as unit_price
        from lines
        """
    )
    con.execute(
        """
        create or replace view products_out as
        select min(_line) as _line, null as _reason, null as _column, null as _raw, sku,
            arg_min(product, _line) as name, 'uncategorised' as category
        from pdd_staged where _item_reason is null and product is not null group by sku
        """
    )
    orders = write_derived(con, "orders", "orders_out", workdir, unit="orders", source_lines=True)
    items = write_derived(con, "order_items", "order_items_out", workdir, unit="lines")
    products = write_derived(con, "products", "products_out", workdir, unit="products", new_only=True)
    rows = con.sql(
        "select status, count(*) from pdd_staged where _reason is null group by status order by count(*) desc"
    ).fetchall()
    notes = ["orders by status: " + (", ".join(f"{status} {count:,}" for status, count in rows) or "none")]
    return Plan(orders.rows, "rows", [orders, items, products], notes=notes, currency=CURRENCY)
