"""`shopkpi import taobao`: a GBK report with the platform's full header, its detail list, and the real cut-down
Tmall report, whose KPIs are checked against figures computed with polars from the raw file."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics.compute import compute_kpis
from pipelines.adapters import import_export
from tests.support.warehouse_rows import REAL_DATA, query

REAL = REAL_DATA / "exports/tmall-order-report/tmall_order_report.csv"

# The first 29 columns of ExportOrderList in the platform's order and spelling, trailing spaces included
# (as in ../shared/data/real/exports/README.md); order numbers are Excel-safe (="…") as downloads write them.
HEADER = (
    "订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家支付积分,总金额,返点积分,买家实际支付金额,"
    "买家实际支付积分,订单状态,买家留言,收货人姓名,收货地址 ,运送方式,联系电话 ,联系手机,订单创建时间,订单付款时间 ,"
    "宝贝标题 ,宝贝种类 ,物流单号 ,物流公司,订单备注,宝贝总数量,店铺Id,店铺名称,订单关闭原因,退款金额"
)


def row(order_id, buyer, goods, postage, status, address, created, paid, refund="0.00"):
    total = f"{float(goods) + float(postage):.2f}"
    paid_amount = "0.00" if not paid else f"{float(total) - float(refund):.2f}"
    return (
        f'="{order_id}",{buyer},{buyer}@alipay,{goods},{postage},0,{total},0,{paid_amount},0,{status},,张三,{address},'
        f"快递,,138****0000,{created},{paid},真丝睡衣,1,,,,1,1001,示例旗舰店,,{refund}"
    )


ROWS = [
    row(
        "2352000000000000001",
        "买家甲",
        "199.00",
        "10.00",
        "交易成功",
        "浙江省 杭州市 西湖区 文三路",
        "2024-06-18 10:00:00",
        "2024-06-18 10:01:00",
    ),
    row(
        "2352000000000000002",
        "买家乙",
        "99.00",
        "0.00",
        "等待买家付款",
        "上海 上海市 浦东新区",
        "2024-06-18 11:00:00",
        "",
    ),
    row(
        "2352000000000000003",
        "买家甲",
        "59.00",
        "0.00",
        "买家已付款，等待卖家发货",
        "浙江省 杭州市",
        "2024/06/19 09:30:00",
        "2024/06/19 09:31:00",
    ),
    row(
        "2352000000000000004",
        "买家丙",
        "300.00",
        "0.00",
        "卖家已发货，等待买家确认",
        "广东省 深圳市",
        "2024-06-19 12:00:00",
        "2024-06-19 12:00:30",
    ),
    row("2352000000000000005", "买家丁", "88.00", "0.00", "交易关闭", "北京 北京市", "2024-06-20 08:00:00", ""),
    row(
        "2352000000000000006",
        "买家戊",
        "120.00",
        "0.00",
        "交易关闭",
        "江苏省 南京市",
        "2024-06-20 09:00:00",
        "2024-06-20 09:01:00",
        "120.00",
    ),
    row(
        "2352000000000000007",
        "买家己",
        "50.00",
        "0.00",
        "交易成功",
        "四川省 成都市",
        "2024-06-20 10:00:00",
        "2024-06-20 10:00:10",
        "20.00",
    ),
    row("2352000000000000008", "买家庚", "10.00", "0.00", "神秘状态", "四川省 成都市", "2024-06-20 11:00:00", ""),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def gbk_report(tmp_path: Path) -> Path:
    path = tmp_path / "ExportOrderList202406.csv"
    path.write_bytes(("\r\n".join([HEADER, *ROWS]) + "\r\n").encode("gbk"))
    return path


def test_gbk_report_with_the_full_header_maps_statuses_money_and_region(db, tmp_path):
    report = gbk_report(tmp_path)
    with pytest.raises(UnicodeDecodeError):
        report.read_bytes().decode("utf-8")
    result = import_export(db, "taobao", report)
    [orders] = [t.result for t in result.tables]
    # 8 rows: the last has a status no rule knows, so it is rejected with its line; the others load.
    assert (orders.rows_read, orders.inserted, orders.rejected) == (8, 7, 1)
    assert query(
        db,
        "select order_id, status, customer_id, subtotal::double, shipping_fee::double, refund_amount::double, region "
        "from orders order by order_id",
    ) == [
        ("2352000000000000001", "delivered", "买家甲", 199.0, 10.0, 0.0, "浙江省"),
        ("2352000000000000002", "placed", "买家乙", 99.0, 0.0, 0.0, "上海"),
        ("2352000000000000003", "paid", "买家甲", 59.0, 0.0, 0.0, "浙江省"),
        ("2352000000000000004", "shipped", "买家丙", 300.0, 0.0, 0.0, "广东省"),
        # 交易关闭 without a payment is a cancelled order; after a payment and a refund it is a return.
        ("2352000000000000005", "cancelled", "买家丁", 88.0, 0.0, 0.0, "北京"),
        ("2352000000000000006", "returned", "买家戊", 120.0, 0.0, 120.0, "江苏省"),
        ("2352000000000000007", "delivered", "买家己", 50.0, 0.0, 20.0, "四川省"),
    ]
    assert query(db, "select ordered_at from orders where order_id = '2352000000000000003'") == [
        (datetime(2024, 6, 19, 9, 30),)
    ]
    [(line, column, reason, raw)] = query(db, "select line, column_name, reason, raw_row from rejects")
    assert (line, column) == (9, "status") and "神秘状态" in reason and "神秘状态" in raw
    assert query(db, "select value from shopkpi_meta where key = 'timezone'") == [("Asia/Shanghai",)]


def test_report_in_utf8_with_a_bom_and_the_gbk_one_give_the_same_orders(db, tmp_path):
    import_export(db, "taobao", gbk_report(tmp_path))
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER, *ROWS]) + "\n").encode("utf-8"))
    # Same orders in another encoding make byte-identical canonical files: nothing to load again.
    assert import_export(db, "taobao", utf8).already_imported


def test_detail_list_gives_items_and_products(db, tmp_path):
    detail = tmp_path / "ExportOrderDetailList202406.csv"
    detail.write_bytes(
        (
            "订单编号,标题,价格,购买数量,外部系统编号,商品属性,套餐信息,备注,订单状态,商家编码\n"
            '="2352000000000000001",真丝睡衣,199.00,1,,颜色:白,,,交易成功,SILK-01\n'
            '="2352000000000000003",茶具套装,29.50,2,TEA-EXT,,,,买家已付款，等待卖家发货,\n'
            '="2352000000000000003",茶叶,0.00,0,,,,,买家已付款，等待卖家发货,TEA-LEAF\n'
        ).encode("gbk")
    )
    result = import_export(db, "taobao", detail)
    items, products = (t.result for t in result.tables)
    # The zero-quantity line is rejected by the canonical rule (quantity > 0) with its own line.
    assert (items.rows_read, items.inserted, items.rejected) == (3, 2, 1)
    assert query(db, "select order_id, line_no, sku, quantity, unit_price::double from order_items order by 1, 2") == [
        ("2352000000000000001", 1, "SILK-01", 1, 199.0),
        ("2352000000000000003", 1, "TEA-EXT", 2, 29.5),
    ]
    assert query(db, "select line, column_name from rejects") == [(4, "quantity")]
    assert products.inserted == 3  # a product is known from its line even when that line is rejected


def test_real_cut_down_tmall_report_imports_and_its_kpis_match_the_raw_file(db):
    result = import_export(db, "taobao", REAL)
    [orders] = [t.result for t in result.tables]
    raw = pl.read_csv(REAL, infer_schema=False).rename(lambda c: c.strip())
    raw = raw.with_columns(pl.col("总金额", "买家实际支付金额", "退款金额").cast(pl.Float64))
    assert orders.rows_read == orders.inserted == raw.height == 28_010

    # The rules for a report without 订单状态: no payment time = placed; paid and fully refunded =
    # returned; else paid.
    paid = raw.filter(pl.col("订单付款时间").is_not_null())
    fully_refunded = paid.filter(pl.col("退款金额") >= pl.col("总金额"))
    assert query(db, "select status, count(*) from orders group by 1 order by 1") == [
        ("paid", paid.height - fully_refunded.height),
        ("placed", raw.height - paid.height),
        ("returned", fully_refunded.height),
    ]
    kpis = compute_kpis(duckdb.connect(str(db), read_only=True), date(2020, 2, 1), date(2020, 2, 29)).row(0, named=True)
    # Valid orders are the paid ones; with no line items their goods value is 总金额; refunds are 退款金额, so net
    # sales are what buyers actually paid (买家实际支付金额 = 总金额 − 退款金额 on every paid row of this report).
    assert kpis["orders"] == paid.height
    assert kpis["gross_sales"] == pytest.approx(paid["总金额"].sum(), abs=0.01)
    assert kpis["refunds"] == pytest.approx(paid["退款金额"].sum(), abs=0.01)
    assert kpis["net_sales"] == pytest.approx(paid["买家实际支付金额"].sum(), abs=0.01)
    assert kpis["aov"] == pytest.approx(paid["总金额"].sum() / paid.height)
    # The report has no buyer column: buyers are unmeasured (null, shown "—"), not 0.
    assert kpis["buyers"] is None and kpis["revenue_per_buyer"] is None
    # 收货地址 is the region: Shanghai's valid orders and their goods value.
    by_region = compute_kpis(duckdb.connect(str(db), read_only=True), date(2020, 2, 1), date(2020, 2, 29), by="region")
    shanghai = by_region.filter(pl.col("group") == "上海").row(0, named=True)
    assert shanghai["orders"] == paid.filter(pl.col("收货地址") == "上海").height

    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert import_export(db, "taobao", REAL).already_imported
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
