"""`shopkpi import pinduoduo` and `shopkpi import jd`: order exports with the platforms' columns, made here (no
public sample), their expected orders and lines worked out by hand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from pipelines.adapters import ImportOptions, import_export
from pipelines.ingest import IngestError
from tests.support.warehouse_rows import query

PDD_HEADER = (
    "商品,订单号,订单状态,商品总价(元),邮费(元),店铺优惠折扣(元),平台优惠折扣(元),用户实付金额(元),商家实收金额(元),"
    "商品数量(件),省,订单成交时间,发货时间,确认收货时间,商品id,样式ID,商家编码-SKU维度,售后状态"
)
PDD_ROWS = [
    # 商家实收 = 商品总价 + 邮费 − 店铺优惠; the platform's 5.00 is paid by 拼多多, not by the shop.
    "真丝睡衣 粉色 M,240618-01,待发货,199.00,0.00,10.00,5.00,184.00,189.00,1,浙江省,2024-06-18 10:00:00,,,1001,2001,"
    "SKU-A,无售后或售后取消",
    "真丝睡衣 粉色 M,240618-02,已发货，待收货,398.00,0.00,20.00,0.00,378.00,378.00,2,上海市,2024-06-18 11:00:00,"
    "2024-06-19 09:00:00,,1001,2001,SKU-A,无售后或售后取消",
    "棉袜 三双装,240618-03,已收货,29.90,5.00,0.00,3.00,31.90,34.90,3,广东省,2024-06-18 12:00:00,2024-06-19 09:00:00,"
    "2024-06-22 20:00:00,1002,2002,,无售后或售后取消",
    "棉袜 三双装,240618-04,已取消,29.90,0.00,0.00,0.00,0.00,0.00,1,广东省,2024-06-18 13:00:00,,,1002,2002,,",
    "棉袜 三双装,240618-05,已收货,29.90,0.00,0.00,0.00,29.90,29.90,1,江苏省,2024-06-18 14:00:00,,,1002,2002,,退款成功",
    "棉袜 三双装,240618-06,未支付,29.90,0.00,0.00,0.00,29.90,29.90,1,江苏省,2024-06-18 15:00:00,,,1002,2002,,",
    "棉袜 三双装,240618-07,神秘状态,29.90,0.00,0.00,0.00,29.90,29.90,1,江苏省,2024-06-18 15:00:00,,,1002,2002,,",
]


def test_a_pinduoduo_export_gives_orders_lines_and_products(tmp_path):
    export = tmp_path / "orders_export.csv"
    export.write_text(PDD_HEADER + "\n" + "\n".join(PDD_ROWS) + "\n", encoding="utf-8-sig")
    db = tmp_path / "w.duckdb"
    result = import_export(db, "pinduoduo", export)
    t = datetime
    assert query(
        db,
        "select order_id, ordered_at, status, subtotal, discount, shipping_fee, refund_amount, region, currency "
        "from orders order by order_id",
    ) == [
        ("240618-01", t(2024, 6, 18, 10), "paid", Decimal("199.00"), Decimal("10.00"), 0, 0, "浙江省", "CNY"),
        ("240618-02", t(2024, 6, 18, 11), "shipped", Decimal("398.00"), Decimal("20.00"), 0, 0, "上海市", "CNY"),
        ("240618-03", t(2024, 6, 18, 12), "delivered", Decimal("29.90"), 0, Decimal("5.00"), 0, "广东省", "CNY"),
        ("240618-04", t(2024, 6, 18, 13), "cancelled", Decimal("29.90"), 0, 0, 0, "广东省", "CNY"),
        # 售后状态 退款成功: the order is returned and the shop gives back what it received (商家实收 29.90).
        ("240618-05", t(2024, 6, 18, 14), "returned", Decimal("29.90"), 0, 0, Decimal("29.90"), "江苏省", "CNY"),
        ("240618-06", t(2024, 6, 18, 15), "placed", Decimal("29.90"), 0, 0, 0, "江苏省", "CNY"),
    ]
    # 29.90 for 3 pairs is not whole cents a pair: 2 × 9.96 + 1 × 9.98 = 29.90, so the lines add up to the order.
    assert query(db, "select line_no, sku, quantity, unit_price from order_items where order_id = '240618-03'") == [
        (1, "2002", 2, Decimal("9.96")),
        (2, "2002", 1, Decimal("9.98")),
    ]
    assert query(
        db,
        "select count(*) from orders o where subtotal <> "
        "(select sum(quantity * unit_price) from order_items i where i.order_id = o.order_id)",
    ) == [(0,)]
    assert query(db, "select sku, name from products order by sku") == [
        ("2002", "棉袜 三双装"),
        ("SKU-A", "真丝睡衣 粉色 M"),
    ]
    # The unknown status is rejected with the export's line (header = 1, so the 7th order is line 8), in both tables.
    assert query(db, "select table_name, line, reason from rejects order by table_name") == [
        ("order_items", 8, "订单状态 '神秘状态' is not a known 拼多多 status"),
        ("orders", 8, "订单状态 '神秘状态' is not a known 拼多多 status"),
    ]
    assert "orders by status: " in result.summary() and "1 rejected" in result.summary()


def test_a_pinduoduo_export_without_its_required_columns_names_them(tmp_path):
    export = tmp_path / "orders.csv"
    export.write_text("订单号,订单状态\n1,待发货\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"not a 拼多多 order export: no column for goods \(商品总价\(元\)"):
        import_export(tmp_path / "w.duckdb", "pinduoduo", export)


JD_HEADER = (
    "订单号,商品ID,商品名称,订购数量,支付方式,下单时间,京东价,订单金额,结算金额,余额支付,应付金额,订单状态,订单类型,下单帐号,"
    "客户姓名,客户地址,联系电话,订单备注,发票类型,发票抬头,发票内容,商家备注,商家备注等级（等级1-5为由高到低）,运费金额,"
    "付款确认时间,增值税发票,货号,订单完成时间,订单来源,订单渠道"
)
JD_ROWS = [
    # Order 1 has two lines: 2 × 99.00 + 1 × 10.00 = 208.00 of goods, the buyer paid 180.00 + 8.00 of balance.
    "2801,1001,保温杯 500ml,2,在线支付,2024-06-18 10:00:00,99.00,208.00,188.00,8.00,180.00,完成,普通订单,jd_a,张三,"
    "北京 朝阳区 某路,138****0000,,电子发票,个人,明细,,,0.00,2024-06-18 10:01:00,否,BW-500,2024-06-21 10:00:00,"
    "京东商城,APP",
    "2801,1002,杯刷,1,在线支付,2024-06-18 10:00:00,10.00,208.00,188.00,8.00,180.00,完成,普通订单,jd_a,张三,"
    "北京 朝阳区 某路,138****0000,,电子发票,个人,明细,,,0.00,2024-06-18 10:01:00,否,,2024-06-21 10:00:00,京东商城,APP",
    # Cash on delivery with 6.00 freight, nothing off: 99.00 + 6.00 − 105.00 = 0 discount.
    "2802,1001,保温杯 500ml,1,货到付款,2024-06-18 11:00:00,99.00,99.00,99.00,0.00,105.00,等待出库,普通订单,jd_b,李四,"
    "上海 浦东新区,139****0000,,,,,,,6.00,,否,BW-500,,京东商城,PC",
    "2803,1001,保温杯 500ml,1,在线支付,2024-06-18 12:00:00,99.00,99.00,0,0.00,0.00,(删除)订单取消,普通订单,jd_c,王五,"
    "广东 深圳,137****0000,,,,,,,0.00,,否,BW-500,,京东商城,APP",
]


def test_a_gbk_jd_export_gives_one_order_per_order_number_with_its_lines(tmp_path):
    export = tmp_path / "订单导出.csv"
    export.write_bytes((JD_HEADER + "\n" + "\n".join(JD_ROWS) + "\n").encode("gbk"))
    db = tmp_path / "w.duckdb"
    result = import_export(db, "jd", export, options=ImportOptions(store="jd"))
    assert query(
        db,
        "select order_id, status, customer_id, subtotal, discount, shipping_fee, region, payment_method "
        "from orders order by order_id",
    ) == [
        # 208.00 + 0.00 − (180.00 + 8.00) = 20.00 not paid of goods and freight
        ("2801", "delivered", "jd_a", Decimal("208.00"), Decimal("20.00"), 0, "北京", "online"),
        ("2802", "paid", "jd_b", Decimal("99.00"), 0, Decimal("6.00"), "上海", "cod"),
        ("2803", "cancelled", "jd_c", Decimal("99.00"), 0, 0, "广东", "online"),  # unpaid is not a discount
    ]
    assert query(db, "select order_id, line_no, sku, quantity, unit_price from order_items order by 1, 2") == [
        ("2801", 1, "BW-500", 2, Decimal("99.00")),
        ("2801", 2, "1002", 1, Decimal("10.00")),
        ("2802", 1, "BW-500", 1, Decimal("99.00")),
        ("2803", 1, "BW-500", 1, Decimal("99.00")),
    ]
    assert "orders: 3 orders read = 3 inserted" in result.summary()
    assert "order_items: 4 lines read = 4 inserted" in result.summary()
