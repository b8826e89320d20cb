"""The KPI registry: one declarative entry per metric of SPEC §4, read by everything that shows a number.

A metric is either a *base* metric (one aggregate over one source of rows, e.g. `orders = count of valid orders`),
a *ratio* (numerator / denominator, null when the denominator is 0 or missing), or *derived* (arithmetic over other
metrics, e.g. `net_sales = gross_sales - discounts - refunds`). Ratios and derived metrics name their parts; which
dimensions a metric can be split by follows from its parts. Measures are the building blocks of ratios that are
not metrics themselves (e.g. bounced sessions).

Run `python -m metrics.registry` to print the README definitions table, `--readme` to rewrite it in README.md.
"""

from __future__ import annotations

import ast
import operator
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from metrics.units import METRIC_UNITS, OTHER_AXIS, Unit

# --- dimensions ------------------------------------------------------------------------------------------------

SESSION_DIMENSIONS = ("source", "medium", "campaign", "device", "landing_page")
ORDER_DIMENSIONS = ("payment_method", "coupon_code", "customer_type")
AD_DIMENSIONS = ("source", "medium", "campaign")
DIMENSIONS = (*SESSION_DIMENSIONS, "region", "category", *ORDER_DIMENSIONS, "store")

# Which dimensions the rows of each source can be split by (SPEC §4 attribution rules):
# sessions, their events and visitor retention split by session dimensions and the session's region;
# orders also by order dimensions; order lines also by product category; ad spend only by what it carries;
# operating expenses by none. Every row is in a store (issue 13), so everything splits by store: expenses by the store
# they name (shared expenses in the group none).
SOURCE_DIMENSIONS: dict[str, frozenset[str]] = {
    "sessions": frozenset({*SESSION_DIMENSIONS, "region", "store"}),
    "events": frozenset({*SESSION_DIMENSIONS, "region", "store"}),
    "retention": frozenset({*SESSION_DIMENSIONS, "region", "store"}),
    "orders": frozenset({*SESSION_DIMENSIONS, "region", *ORDER_DIMENSIONS, "store"}),
    "items": frozenset({*SESSION_DIMENSIONS, "region", *ORDER_DIMENSIONS, "category", "store"}),
    "ads": frozenset({*AD_DIMENSIONS, "store"}),
    "opex": frozenset({"store"}),
    "retention_window": frozenset({*SESSION_DIMENSIONS, "region", "store"}),
}

# The inputs (metrics/inputs.py) each source's measures need: a figure that needs an input the shop has not given at
# all is null with its reason, never computed as if the input were 0 (SPEC §4). Some measures need more (`needs`).
SOURCE_INPUTS: dict[str, tuple[str, ...]] = {
    "sessions": ("sessions",),
    "events": ("events",),
    "retention": ("sessions", "visitor_ids"),
    "orders": ("orders",),
    "items": ("orders",),
    "ads": ("ad_spend",),
    "opex": ("expenses",),
    "retention_window": ("sessions", "visitor_ids"),
}

DIMENSION_LABELS = {
    "source": ("Source", "来源"),
    "medium": ("Medium", "媒介"),
    "campaign": ("Campaign", "活动"),
    "device": ("Device", "设备"),
    "landing_page": ("Landing page", "着陆页"),
    "region": ("Region", "地区"),
    "category": ("Category", "品类"),
    "payment_method": ("Payment method", "支付方式"),
    "coupon_code": ("Coupon code", "优惠码"),
    "customer_type": ("New / returning customer", "新客 / 老客"),
    "store": ("Store", "店铺"),
}


# --- entries ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One aggregate over the fact rows of one source (see metrics/compute.py for each source's grain)."""

    name: str
    source: str
    aggregate: str  # SQL aggregate over the source's fact columns
    additive: bool  # True where the sum over any split equals the total (False for distinct counts)
    description: str = ""
    needs: tuple[str, ...] = ()  # inputs needed besides the source's (SOURCE_INPUTS)
    # For a session measure: the same measure over the platform's traffic aggregates (metrics/compute.py), used where
    # the shop has no session logs; None: traffic aggregates cannot give it (null).
    traffic: str | None = None
    # Only a platform's traffic report gives it (e.g. the sales it attributes to a channel): from session logs the
    # measure is unknown, with the reason, rather than a figure computed another way.
    report_only: bool = False

    @property
    def dimensions(self) -> frozenset[str]:
        return SOURCE_DIMENSIONS[self.source]

    @property
    def inputs(self) -> frozenset[str]:
        """The inputs (metrics/inputs.py) this measure needs the shop to have given."""
        return frozenset((*SOURCE_INPUTS[self.source], *self.needs))

    def inputs_from(self, traffic: bool) -> frozenset[str]:
        """The inputs this measure needs when session measures come from session logs, or (`traffic`) from the
        platform's traffic aggregates, which carry their own counts (or nulls) in place of visitor ids, events, …"""
        if traffic and self.source == "sessions":
            return frozenset({"sessions"})
        return self.inputs | {"sessions_from_report"} if self.report_only else self.inputs


@dataclass(frozen=True)
class Metric:
    """One KPI: what it is called, how it is computed from its parts, how it is shown and which way is good."""

    name: str
    label_en: str
    label_zh: str
    kind: str  # 'base' (one measure), 'ratio' (numerator / denominator) or 'derived' (arithmetic over metrics)
    unit: str  # 'count', 'money', 'rate' (a share in [0, 1]), 'margin' (a share that can be negative), 'ratio'
    direction: str  # 'higher' or 'lower' is better
    description: str
    description_zh: str  # the description in simplified Chinese; required so that no metric lacks one
    expression: str = ""  # derived: arithmetic over metric names
    numerator: str = ""  # ratio: arithmetic over metric or measure names
    denominator: str = ""
    profit_figure: bool = False  # reveals costs or profit: shown only to roles that may see them (shopkpi/auth.py)
    value_format: str = ""  # the value's format where the unit's is too coarse (see metrics/units.py)

    @property
    def formula(self) -> str:
        """The definition as a person reads it: the formula over named parts, or the description for a base metric."""
        if self.kind == "ratio":
            top = f"({self.numerator})" if re.search(r"[-+]", self.numerator) else self.numerator
            bottom = f"({self.denominator})" if re.search(r"[-+*/]", self.denominator) else self.denominator
            return _pretty(f"{top} / {bottom}")
        if self.kind == "derived":
            return _pretty(self.expression)
        return self.description

    def description_in(self, lang: str = "en") -> str:
        """The one-line description in English ('en') or Chinese ('zh')."""
        return self.description_zh if lang == "zh" else self.description

    def formula_in(self, lang: str = "en") -> str:
        """`formula` for a reader of `lang`: the same formula over named parts, or the description in that language."""
        return self.description_in(lang) if self.kind == "base" else self.formula

    @property
    def formats(self) -> Unit:
        """How values of this metric's unit are shown: text, change, chart axis, Excel, table column."""
        return METRIC_UNITS[self.unit]

    @property
    def format(self) -> str:
        """Python format spec for the value (money without currency sign; see `format_value`)."""
        return self.value_format or self.formats.value

    @property
    def parts(self) -> tuple[str, ...]:
        """The metric and measure names this metric is computed from (itself for a base metric)."""
        if self.kind == "base":
            return (self.name,)
        text = self.expression if self.kind == "derived" else f"{self.numerator} {self.denominator}"
        return tuple(dict.fromkeys(names_in(text)))

    @property
    def additive(self) -> bool:
        """True where the values of the groups of any split add up to the total (sessions, orders, gross_sales…)."""
        if self.kind == "base":
            return MEASURES[self.name].additive
        if self.kind == "derived":
            return all(part_additive(p) for p in self.parts)
        return False

    @property
    def dimensions(self) -> frozenset[str]:
        """The dimensions this metric can be split by; in rows grouped by any other it is null."""
        return dimensions_of(self.name)


def _pretty(text: str) -> str:
    return text.replace(" - ", " − ")


def names_in(text: str) -> list[str]:
    """The identifiers of an expression, each checked to be a metric or a measure."""
    names = re.findall(r"[a-z_][a-z0-9_]*", text)
    unknown = [n for n in names if n not in METRICS and n not in MEASURES]
    if unknown:
        raise ValueError(f"unknown metric or measure in {text!r}: {', '.join(unknown)}")
    if re.sub(r"[a-z_][a-z0-9_]*|[-+*/() ]", "", text):
        raise ValueError(f"only names, + - * / and parentheses are allowed in {text!r}")
    return names


# Building blocks: every base metric is one measure of the same name; the others are parts of ratios.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("sessions", "sessions", "count(*)", True, traffic="sum(sessions)"),
        # Daily visitor counts do not add up to distinct visitors: only one aggregate per bucket and group gives them.
        Measure(
            "visitors",
            "sessions",
            "count(distinct visitor_id)",
            False,
            needs=("visitor_ids",),
            traffic="case when count(*) = 1 then sum(visitors) end",
        ),
        Measure(
            "bounced_sessions",
            "sessions",
            "sum(case when page_views = 1 then 1 else 0 end)",
            True,
            "sessions of the period with exactly one page view",
            needs=("page_views",),
            traffic="case when count(bounced_sessions) = count(*) then sum(bounced_sessions) end",
        ),
        Measure(
            "engaged_sessions",
            "sessions",
            "sum(case when duration_s > 10 or page_views >= 2 or converted = 1 then 1 else 0 end)",
            True,
            "sessions of the period that lasted over 10 s, had 2 or more page views or led to a valid order (GA4)",
            needs=("durations",),
            traffic="case when count(engaged_sessions) = count(*) then sum(engaged_sessions) end",
        ),
        Measure(
            "converted_sessions",
            "sessions",
            "sum(converted)",
            True,
            "sessions of the period that some valid order (of any date) names in session_id",
            needs=("orders",),
            traffic="case when count(orders) = count(*) then sum(orders) end",  # orders the platform attributes
        ),
        Measure(
            "cart_sessions",
            "sessions",
            "sum(added_to_cart)",
            True,
            "sessions of the period with an add_to_cart event",
            needs=("events",),
            traffic="case when count(cart_sessions) = count(*) then sum(cart_sessions) end",
        ),
        Measure(
            "reported_sales",
            "sessions",
            "cast(null as double)",
            True,
            "sales the platform's traffic report attributes to the period's sessions (Shopify: Sales; GA4: revenue)",
            traffic="case when count(revenue) = count(*) then sum(revenue) end",
            report_only=True,
        ),
        Measure(
            "reported_orders",
            "sessions",
            "cast(null as bigint)",
            True,
            "orders the platform's traffic report attributes to the period's sessions",
            traffic="case when count(orders) = count(*) then sum(orders) end",
            report_only=True,
        ),
        Measure(
            "converted_cart_sessions",
            "sessions",
            "sum(added_to_cart * converted)",
            True,
            "sessions of the period with an add_to_cart event that some valid order names",
            needs=("events", "orders"),
        ),
        Measure(
            "clicks",
            "events",
            "sum(case when event_type = 'click' then events else 0 end)",
            True,
            "on-site click events in the period",
        ),
        Measure(
            "impressions",
            "events",
            "sum(case when event_type = 'impression' then events else 0 end)",
            True,
            "on-site impression events in the period",
        ),
        Measure(
            "previous_visitors",
            "retention",
            "count(*)",
            False,
            "distinct visitors of the previous period (in the group)",
        ),
        Measure(
            "retained_visitors", "retention", "sum(retained)", False, "of those, visitors with a session in this period"
        ),
        Measure(
            "window_visitors",
            "retention_window",
            "count(*)",
            False,
            "distinct visitors of the 30 days that end 30 days before the period's last day with data (in the group)",
        ),
        Measure(
            "window_returners",
            "retention_window",
            "sum(returned)",
            False,
            "of those, visitors with a session in the 30 days up to the period's last day with data",
        ),
        Measure("orders", "orders", "count(*)", True),
        Measure("buyers", "orders", "count(distinct customer_id)", False, needs=("customer_ids",)),
        Measure(
            "returning_buyers",
            "orders",
            "count(distinct case when customer_orders_to_date >= 2 then customer_id end)",
            False,
            "buyers of the period with at least 2 valid orders up to the period's end",
            needs=("customer_ids",),
        ),
        Measure("discounts", "orders", "sum(discount)", True),
        Measure("refunds", "orders", "sum(refund_amount)", True),
        Measure("shipping_income", "orders", "sum(shipping_fee)", True),
        Measure("fulfilment_cost", "orders", "sum(fulfilment_cost)", True),
        Measure("units", "items", "sum(quantity)", True, needs=("order_lines",)),
        Measure("gross_sales", "items", "sum(line_sales)", True, needs=("order_values",)),
        Measure("cogs", "items", "sum(line_cost)", True, needs=("unit_costs",)),
        Measure(
            "costable_sales",
            "items",
            "sum(costable_sales)",
            True,
            "sales of the lines whose goods were not returned (orders without lines: their subtotal)",
            needs=("order_values",),
        ),
        Measure(
            "costed_sales",
            "items",
            "coalesce(sum(costed_sales), 0)",
            True,
            "of those, sales of the lines with a known unit cost",
        ),
        Measure(
            "unvalued_orders",
            "items",
            "coalesce(sum(unvalued), 0)",
            True,
            "valid orders with neither lines nor a subtotal: their sales are not known",
            needs=("order_values",),
        ),
        Measure(
            "unlined_orders",
            "items",
            "coalesce(sum(unlined), 0)",
            True,
            "valid orders without lines: their units are not known",
            needs=("order_lines",),
        ),
        Measure("ad_spend", "ads", "sum(cost)", True),
        Measure("ad_clicks", "ads", "sum(clicks)", True, "Σ ad_spend.clicks with date in the period"),
        Measure("ad_impressions", "ads", "sum(impressions)", True, "Σ ad_spend.impressions with date in the period"),
        Measure("operating_expenses", "opex", "sum(prorated_amount)", True),
    )
}


# In SPEC §4 order; this order is the order of columns in every output.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            name="sessions",
            label_en="Sessions",
            label_zh="访问次数",
            kind="base",
            unit="count",
            direction="higher",
            description="sessions with started_at in the period",
            description_zh="started_at 在本期内的访问",
        ),
        Metric(
            name="visitors",
            label_en="Visitors",
            label_zh="访客数",
            kind="base",
            unit="count",
            direction="higher",
            description="distinct visitor_id over those sessions",
            description_zh="本期访问中不重复的 visitor_id 数",
        ),
        Metric(
            name="orders",
            label_en="Orders",
            label_zh="支付订单数",
            kind="base",
            unit="count",
            direction="higher",
            description="valid (paid, shipped, delivered or returned) orders with ordered_at in the period",
            description_zh="ordered_at 在本期内的有效订单（paid、shipped、delivered 或 returned）",
        ),
        Metric(
            name="buyers",
            label_en="Buyers",
            label_zh="支付买家数",
            kind="base",
            unit="count",
            direction="higher",
            description="distinct non-empty customer_id over those orders (guests are not counted)",
            description_zh="本期有效订单中不重复的非空 customer_id 数（游客不计）",
        ),
        Metric(
            name="units",
            label_en="Units sold",
            label_zh="销售件数",
            kind="base",
            unit="count",
            direction="higher",
            description="Σ quantity over the items of those orders",
            description_zh="本期有效订单各商品行的 Σ quantity",
        ),
        Metric(
            name="gross_sales",
            label_en="Gross sales",
            label_zh="商品销售额",
            kind="base",
            unit="money",
            direction="higher",
            description=(
                "Σ quantity × unit_price over the items of those orders; an order with no items counts its subtotal"
            ),
            description_zh="本期有效订单各商品行的 Σ quantity × unit_price；没有商品行的订单计其 subtotal",
        ),
        Metric(
            name="discounts",
            label_en="Discounts",
            label_zh="优惠金额",
            kind="base",
            unit="money",
            direction="lower",
            description="Σ discount over those orders",
            description_zh="本期有效订单的 Σ discount",
        ),
        Metric(
            name="refunds",
            label_en="Refunds",
            label_zh="退款金额",
            kind="base",
            unit="money",
            direction="lower",
            description="Σ refund_amount over those orders",
            description_zh="本期有效订单的 Σ refund_amount",
        ),
        Metric(
            name="net_sales",
            label_en="Net sales",
            label_zh="净销售额",
            kind="derived",
            expression="gross_sales - discounts - refunds",
            unit="money",
            direction="higher",
            description="gross sales less discounts and refunds",
            description_zh="商品销售额减去优惠金额和退款金额",
        ),
        Metric(
            name="shipping_income",
            label_en="Shipping income",
            label_zh="运费收入",
            kind="base",
            unit="money",
            direction="higher",
            description="Σ shipping_fee over those orders",
            description_zh="本期有效订单的 Σ shipping_fee",
        ),
        Metric(
            name="total_revenue",
            label_en="Total revenue",
            label_zh="总收入",
            kind="derived",
            expression="net_sales + shipping_income",
            unit="money",
            direction="higher",
            description="net sales plus shipping charged to customers",
            description_zh="净销售额加上向顾客收取的运费",
        ),
        Metric(
            name="aov",
            label_en="Average order value",
            label_zh="客单价（每单）",
            kind="ratio",
            numerator="gross_sales - discounts",
            denominator="orders",
            unit="money",
            direction="higher",
            description="average amount per order after discounts (Shopify's convention)",
            description_zh="扣除优惠后的每单平均金额（Shopify 口径）",
        ),
        Metric(
            name="revenue_per_buyer",
            label_en="Revenue per buyer",
            label_zh="客单价（每买家）",
            kind="ratio",
            numerator="gross_sales - discounts",
            denominator="buyers",
            unit="money",
            direction="higher",
            description=(
                "amount after discounts per buyer (Sycm's and JD's convention); as SPEC §4 defines it, guests' orders"
                " count in the amount but guests are not buyers, so a shop with many guest checkouts reads high"
            ),
            description_zh=(
                "扣除优惠后的每位买家平均金额（生意参谋、京东口径）；按 SPEC §4 的定义，"
                "游客订单计入金额但游客不计为买家，"
                "游客下单多的店铺此值偏高"
            ),
        ),
        Metric(
            name="conversion_rate",
            label_en="Conversion rate",
            label_zh="访问转化率",
            kind="ratio",
            numerator="converted_sessions",
            denominator="sessions",
            unit="rate",
            direction="higher",
            description="share of the period's sessions that some valid order names in session_id",
            description_zh="本期访问中，被有效订单的 session_id 关联到的访问占比",
        ),
        Metric(
            name="buyer_conversion_rate",
            label_en="Buyer conversion rate",
            label_zh="支付转化率",
            kind="ratio",
            numerator="buyers",
            denominator="visitors",
            unit="rate",
            direction="higher",
            description="buyers per visitor (Sycm's 支付转化率 convention); guests are not buyers, so guests' purchases"
            " do not count",
            description_zh="每位访客对应的支付买家数（生意参谋的支付转化率口径）；游客不计为买家，其购买不计入",
        ),
        Metric(
            name="cart_conversion_rate",
            label_en="Cart conversion rate",
            label_zh="加购转化率",
            kind="ratio",
            numerator="converted_cart_sessions",
            denominator="cart_sessions",
            unit="rate",
            direction="higher",
            description="share of the period's sessions with an add_to_cart event that some valid order names",
            description_zh="本期有 add_to_cart 事件的访问中，被有效订单关联到的访问占比",
        ),
        Metric(
            name="ctr",
            label_en="Click-through rate",
            label_zh="点击率",
            kind="ratio",
            numerator="clicks",
            denominator="impressions",
            unit="rate",
            direction="higher",
            description="on-site click events / impression events in the period",
            description_zh="本期站内 click 事件数 / impression 事件数",
        ),
        Metric(
            name="ad_ctr",
            label_en="Ad click-through rate",
            label_zh="广告点击率",
            kind="ratio",
            numerator="ad_clicks",
            denominator="ad_impressions",
            unit="rate",
            direction="higher",
            description="Σ ad_spend.clicks / Σ ad_spend.impressions",
            description_zh="广告点击数 / 广告曝光数：Σ ad_spend.clicks / Σ ad_spend.impressions",
        ),
        Metric(
            name="bounce_rate",
            label_en="Bounce rate",
            label_zh="跳失率",
            kind="ratio",
            numerator="bounced_sessions",
            denominator="sessions",
            unit="rate",
            direction="lower",
            description=(
                "share of sessions with exactly one page view (pageviews if given, else count of page_view events)"
            ),
            description_zh="只有一次页面浏览的访问占比（有 pageviews 时按其计，否则按 page_view 事件数计）",
        ),
        Metric(
            name="engaged_bounce_rate",
            label_en="Bounce rate (GA4, not engaged)",
            label_zh="跳出率（GA4 口径，未互动）",
            kind="ratio",
            numerator="sessions - engaged_sessions",
            denominator="sessions",
            unit="rate",
            direction="lower",
            description=(
                "share of sessions that were not engaged, as GA4 counts them: engaged = lasted over 10 s (duration_s),"
                " had 2 or more page views, or led to a valid order"
            ),
            description_zh=(
                "未互动访问占比（GA4 口径）：互动访问 = 时长超过 10 秒（duration_s）、页面浏览不少于 2 次或带来有效订单"
            ),
        ),
        Metric(
            name="reported_sales",
            label_en="Sales by channel (platform report)",
            label_zh="渠道销售额（平台报表）",
            kind="base",
            unit="money",
            direction="higher",
            description=(
                "sales the platform's traffic report attributes to the channel (Shopify's Sales, GA4's revenue);"
                " only where the shop's session figures come from such a report: its orders carry no session, so the"
                " report is the only split of sales by channel"
            ),
            description_zh=(
                "平台流量报表归到该渠道的销售额（Shopify 的 Sales、GA4 的收入）；仅当访问数据来自平台报表时提供："
                "订单不带访问记录，报表是按渠道拆分销售额的唯一依据"
            ),
        ),
        Metric(
            name="reported_aov",
            label_en="Average order value by channel (platform report)",
            label_zh="渠道客单价（平台报表）",
            kind="ratio",
            numerator="reported_sales",
            denominator="reported_orders",
            unit="money",
            direction="higher",
            description="the platform report's sales per order it attributes to the channel (Shopify's AOV)",
            description_zh="平台报表中该渠道的销售额除以其归属订单数（Shopify 的 AOV）",
        ),
        Metric(
            name="retention_rate",
            label_en="Visitor retention",
            label_zh="访客留存率",
            kind="ratio",
            numerator="retained_visitors",
            denominator="previous_visitors",
            unit="rate",
            direction="higher",
            description="share of the previous period's visitors who also visit in this period",
            description_zh="上一期的访客中，本期再次访问的访客占比",
        ),
        Metric(
            name="retention_30d",
            label_en="30-day visitor retention",
            label_zh="30 天访客留存率",
            kind="ratio",
            numerator="window_returners",
            denominator="window_visitors",
            unit="rate",
            direction="higher",
            description=(
                "share of the visitors of the 30 days before the last 30 (days 31–60 back from the period's last day"
                " with data) who visit again in the last 30; the window does not change with the period's length"
            ),
            description_zh=(
                "以本期最后一个有数据的日期为准，往前第 31–60 天的访客中，在最近 30 天内再次访问的访客占比；"
                "窗口不随所选周期长度变化"
            ),
        ),
        Metric(
            name="returning_customer_rate",
            label_en="Returning customer rate",
            label_zh="复购率",
            kind="ratio",
            numerator="returning_buyers",
            denominator="buyers",
            unit="rate",
            direction="higher",
            description="share of buyers with at least 2 valid orders up to the period's end",
            description_zh="截至本期末累计有效订单不少于 2 笔的买家占比",
        ),
        Metric(
            name="cogs",
            label_en="Cost of goods sold",
            label_zh="销售成本",
            kind="base",
            unit="money",
            direction="lower",
            description="Σ quantity × unit_cost (order line's, else product's) over items of valid orders not returned",
            description_zh="未退货的有效订单各商品行的 Σ quantity × unit_cost（优先取订单行的成本，否则取商品的成本）",
            profit_figure=True,
        ),
        Metric(
            name="cost_coverage",
            label_en="Cost coverage",
            label_zh="成本覆盖率",
            kind="ratio",
            numerator="costed_sales",
            denominator="costable_sales",
            unit="rate",
            direction="higher",
            description=(
                "share of the sales of goods not returned whose unit cost is known: COGS and the profits below it"
                " leave out the rest"
            ),
            description_zh="未退货商品销售额中已知单位成本的部分所占比例：销售成本及其下的利润不含其余部分",
        ),
        Metric(
            name="order_value_coverage",
            label_en="Order value coverage",
            label_zh="订单金额覆盖率",
            kind="ratio",
            numerator="orders - unvalued_orders",
            denominator="orders",
            unit="rate",
            direction="higher",
            description=(
                "share of the valid orders whose sales are known (they have lines or a subtotal): sales, revenue and"
                " the profits leave out the rest"
            ),
            description_zh="有效订单中金额已知（有商品明细或小计）的比例：销售额、收入及利润不含其余订单",
        ),
        Metric(
            name="order_line_coverage",
            label_en="Order line coverage",
            label_zh="订单明细覆盖率",
            kind="ratio",
            numerator="orders - unlined_orders",
            denominator="orders",
            unit="rate",
            direction="higher",
            description="share of the valid orders whose lines are loaded: units leave out the rest",
            description_zh="有效订单中已导入商品明细的比例：商品件数不含其余订单",
        ),
        Metric(
            name="gross_profit",
            label_en="Gross profit",
            label_zh="毛利",
            kind="derived",
            expression="net_sales - cogs",
            unit="money",
            direction="higher",
            description="net sales less COGS",
            description_zh="净销售额减去销售成本",
            profit_figure=True,
        ),
        Metric(
            name="gross_margin",
            label_en="Gross margin",
            label_zh="毛利率",
            kind="ratio",
            numerator="gross_profit",
            denominator="net_sales",
            unit="margin",
            direction="higher",
            description="gross profit per unit of net sales",
            description_zh="毛利占净销售额的比例",
            profit_figure=True,
        ),
        Metric(
            name="fulfilment_cost",
            label_en="Fulfilment cost",
            label_zh="履约成本",
            kind="base",
            unit="money",
            direction="lower",
            description="Σ shipping_cost + Σ payment_fee over those orders",
            description_zh="本期有效订单的 Σ shipping_cost + Σ payment_fee",
        ),
        Metric(
            name="ad_spend",
            label_en="Ad spend",
            label_zh="广告花费",
            kind="base",
            unit="money",
            direction="lower",
            description="Σ ad_spend.cost with date in the period",
            description_zh="date 在本期内的 Σ ad_spend.cost",
        ),
        Metric(
            name="roas",
            label_en="ROAS",
            label_zh="广告投入产出比",
            kind="ratio",
            numerator="gross_sales - discounts",
            denominator="ad_spend",
            unit="ratio",
            direction="higher",
            description="sales after discounts per unit of ad spend (by source: orders whose session has that source)",
            description_zh="每单位广告花费带来的扣除优惠后销售额（按来源拆分时：计其访问来自该来源的订单）",
        ),
        Metric(
            name="cost_per_order",
            label_en="Ad cost per order",
            label_zh="单均广告成本",
            kind="ratio",
            numerator="ad_spend",
            denominator="orders",
            unit="money",
            direction="lower",
            description="ad spend per order (by source: orders whose session has that source)",
            description_zh="每笔订单的广告花费（按来源拆分时：计其访问来自该来源的订单）",
        ),
        Metric(
            name="contribution",
            label_en="Contribution",
            label_zh="贡献利润",
            kind="derived",
            expression="total_revenue - cogs - fulfilment_cost - ad_spend",
            unit="money",
            direction="higher",
            description="revenue less COGS, fulfilment and marketing",
            description_zh="总收入减去销售成本、履约成本和广告花费",
            profit_figure=True,
        ),
        Metric(
            name="operating_expenses",
            label_en="Operating expenses",
            label_zh="运营费用",
            kind="base",
            unit="money",
            direction="lower",
            description=(
                "Σ expenses.amount of the months in the period, pro rata by days for partial months; only the days"
                " with data count (a month that is not over carries its days so far)"
            ),
            description_zh=(
                "本期所含月份的 Σ expenses.amount，不满整月的按天数折算；只计有数据的天数（未结束的月份只计至今的天数）"
            ),
            profit_figure=True,
        ),
        Metric(
            name="net_profit",
            label_en="Net profit",
            label_zh="净利润",
            kind="derived",
            expression="contribution - operating_expenses",
            unit="money",
            direction="higher",
            description="contribution less operating expenses",
            description_zh="贡献利润减去运营费用",
            profit_figure=True,
        ),
        Metric(
            name="net_margin",
            label_en="Net margin",
            label_zh="净利率",
            kind="ratio",
            numerator="net_profit",
            denominator="total_revenue",
            unit="margin",
            direction="higher",
            description="net profit per unit of total revenue",
            description_zh="净利润占总收入的比例",
            profit_figure=True,
        ),
    )
}

# The metrics that reveal costs or profit: roles that may not see them do not get them (shopkpi/auth.py).
PROFIT_FIGURES = frozenset(name for name, entry in METRICS.items() if entry.profit_figure)

# Ratios that are not KPIs: the factors of the revenue decomposition (metrics/insights.py), total revenue =
# sessions × orders_per_session × revenue_per_order exactly. Not in the KPI set (compute_kpis, the README table);
# their value comes from their parts' values with `value_of`.
DECOMPOSITION_RATIOS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            name="orders_per_session",
            label_en="Orders per session",
            label_zh="每次访问订单数",
            kind="ratio",
            numerator="orders",
            denominator="sessions",
            unit="rate",
            direction="higher",
            description=(
                "valid orders per session of the period, the conversion factor of the revenue decomposition"
                " (conversion_rate counts the sessions an order names instead)"
            ),
            description_zh="本期每次访问对应的有效订单数，即收入分解中的转化因子（访问转化率计的是被订单关联到的访问）",
            value_format=".2%",  # a few hundredths: two decimals tell two periods apart
        ),
        Metric(
            name="revenue_per_order",
            label_en="Revenue per order",
            label_zh="每单收入",
            kind="ratio",
            numerator="total_revenue",
            denominator="orders",
            unit="money",
            direction="higher",
            description=(
                "total revenue per valid order, the order value factor of the revenue decomposition"
                " (aov leaves refunds in and shipping out)"
            ),
            description_zh="每笔有效订单的总收入，即收入分解中的客单因子（客单价不扣退款、不含运费）",
        ),
    )
}

# Every entry by name: the KPIs, then the ratios that are not KPIs.
ENTRIES: dict[str, Metric] = {**METRICS, **DECOMPOSITION_RATIOS}

# The monthly P&L statement, top to bottom: (metric, sign it enters the bottom line with, is it a subtotal).
PNL_LINES: tuple[tuple[str, int, bool], ...] = (
    ("gross_sales", +1, False),
    ("discounts", -1, False),
    ("refunds", -1, False),
    ("net_sales", +1, True),
    ("shipping_income", +1, False),
    ("total_revenue", +1, True),
    ("cogs", -1, False),
    ("gross_profit", +1, True),
    ("gross_margin", 0, False),
    ("fulfilment_cost", -1, False),
    ("ad_spend", -1, False),
    ("contribution", +1, True),
    ("operating_expenses", -1, False),
    ("net_profit", +1, True),
    ("net_margin", 0, False),
)
PNL_COLUMNS = tuple(name for name, _, _ in PNL_LINES)


def part_additive(name: str) -> bool:
    return ENTRIES[name].additive if name in ENTRIES else MEASURES[name].additive


@cache
def dimensions_of(name: str) -> frozenset[str]:
    """The dimensions a metric or measure can be split by: a measure's source's, else those all its parts share."""
    if name in MEASURES and (name not in METRICS or METRICS[name].kind == "base"):
        return MEASURES[name].dimensions
    dims = frozenset(DIMENSIONS)
    for part in ENTRIES[name].parts:
        dims &= dimensions_of(part)
    return dims


def measures_of(name: str) -> frozenset[str]:
    """The measures a metric is computed from, all the way down."""
    if name in MEASURES and (name not in METRICS or METRICS[name].kind == "base"):
        return frozenset({name})
    found: frozenset[str] = frozenset()
    for part in ENTRIES[name].parts:
        found |= measures_of(part)
    return found


@cache
def inputs_of(name: str, traffic: bool = False) -> frozenset[str]:
    """The inputs (metrics/inputs.py) a metric or measure needs, all the way down; `traffic`: with session measures
    from the platform's traffic aggregates."""
    found: frozenset[str] = frozenset()
    for measure in measures_of(name):
        found |= MEASURES[measure].inputs_from(traffic)
    return found


# The metrics only a platform's traffic report gives (Measure.report_only): unknown for a shop with session logs.
REPORT_ONLY = frozenset(name for name in METRICS if any(MEASURES[m].report_only for m in measures_of(name)))


def metric(name: str) -> Metric:
    """The registry entry of one metric (a KPI, or a ratio of the revenue decomposition); KeyError names the known
    ones."""
    try:
        return ENTRIES[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(ENTRIES)}") from None


_OPERATIONS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _evaluate(node: ast.expr, values: Mapping[str, float | None]) -> float | None:
    if isinstance(node, ast.Name):
        value = values[node.id]
        return None if value is None or value != value else value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div):
            return left / right if right else None
        return _OPERATIONS[type(node.op)](left, right)
    raise ValueError(f"only names, + - * / and parentheses are allowed, not {ast.dump(node)}")


def _parsed(entry: Metric) -> tuple[ast.expr, ...]:
    texts = (entry.expression,) if entry.kind == "derived" else (entry.numerator, entry.denominator)
    names_in(" ".join(texts))
    return tuple(ast.parse(text, mode="eval").body for text in texts)


# Every expression parsed once, when the registry is imported. Parsing in a page or a background thread would race
# with Streamlit's own ast.parse of the page script: CPython 3.11 keeps the AST converter's recursion depth per
# interpreter, not per thread, and fails one of them with "AST constructor recursion depth mismatch".
_TREES: dict[str, tuple[ast.expr, ...]] = {
    name: _parsed(entry) for name, entry in ENTRIES.items() if entry.kind != "base"
}


def value_of(name: str, values: Mapping[str, float | None]) -> float | None:
    """An entry's value from the values of its parts, by its registry definition: a ratio is null where its
    denominator is 0 or missing, like everywhere else (e.g. orders_per_session from orders and sessions)."""
    entry = metric(name)
    if entry.kind == "base":
        return _evaluate(ast.Name(id=name), values)
    if entry.kind == "derived":
        return _evaluate(_TREES[name][0], values)
    top, bottom = (_evaluate(tree, values) for tree in _TREES[name])
    return None if top is None or not bottom else top / bottom


def format_value(name: str, value: float | int | None, currency: str | None = None, style: str = "full") -> str:
    """A metric's value as shown on a card or in a table: '—' where it is undefined. `style` 'card' drops the cents
    of large amounts, 'whole' always rounds (see metrics/units.py)."""
    entry = metric(name)
    return entry.formats.text(value, currency, style, entry.format)


def format_change(name: str, difference: float | None, relative: float | None = None, style: str = "full") -> str:
    """How a metric's value moved between two periods: points for a share ('+1.5 pt'), else the signed amount and
    the relative change ('+1,234.56 (+3.2%)'); `style` 'whole' rounds the amount ('+1,235')."""
    return metric(name).formats.change_text(difference, relative, style)


def axis_format(name: str) -> str:
    """The chart axis (and hover) format of a metric's values; two decimals for a column that is no metric."""
    return ENTRIES[name].formats.axis if name in ENTRIES else OTHER_AXIS


def label(name: str, lang: str = "en") -> str:
    """The metric's label in English ('en') or Chinese ('zh')."""
    entry = metric(name)
    return entry.label_zh if lang == "zh" else entry.label_en


def description(name: str, lang: str = "en") -> str:
    """The metric's one-line description in English ('en') or Chinese ('zh')."""
    return metric(name).description_in(lang)


def formula_text(name: str, lang: str = "en") -> str:
    """The metric's definition in English ('en') or Chinese ('zh'): its formula, or its description if it is base."""
    return metric(name).formula_in(lang)


# --- README definitions table ----------------------------------------------------------------------------------

README_START = "<!-- definitions:start -->"
README_END = "<!-- definitions:end -->"
README_PATH = Path(__file__).resolve().parent.parent / "README.md"


def definitions_markdown() -> str:
    """The README's metric definitions table (markdown), one row per metric of the registry."""
    lines = [
        "| metric | label | 中文 | definition | unit | better | splits by |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in METRICS.values():
        definition = m.formula if m.kind == "base" else f"`{m.formula}` — {m.description}"
        dims = ", ".join(d for d in DIMENSIONS if d in m.dimensions) or "—"
        direction = "higher" if m.direction == "higher" else "lower"
        definition = definition.replace("|", "\\|")
        lines.append(f"| `{m.name}` | {m.label_en} | {m.label_zh} | {definition} | {m.unit} | {direction} | {dims} |")
    lines += ["", "Building blocks of the ratios above:", "", "| measure | definition |", "|---|---|"]
    for measure in MEASURES.values():
        if measure.name not in METRICS:
            lines.append(f"| `{measure.name}` | {measure.description} |")
    return "\n".join(lines) + "\n"


def readme_with_definitions(readme: str) -> str:
    """The README text with the block between the definitions markers replaced by the current table."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {README_START} … {README_END} block")
    return readme[: start + len(README_START)] + "\n" + definitions_markdown() + readme[end:]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--readme"]:
        README_PATH.write_text(readme_with_definitions(README_PATH.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"rewrote the definitions table in {README_PATH}")
        return 0
    if args:
        print("usage: python -m metrics.registry [--readme]", file=sys.stderr)
        return 2
    sys.stdout.write(definitions_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
