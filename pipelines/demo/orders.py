"""The demo shop's orders: one per buying session (and some unpaid checkouts), their lines, the daily stock that sells
them (out-of-stock swaps, oversold cancellations, purchase orders after each product's lead time), and their money:
prices, coupons, shipping, payment, status as of the export and refunds. Money is in cents."""

from __future__ import annotations

import numpy as np

from pipelines.demo.calendar import DAY_S, Calendar
from pipelines.demo.catalog import CATEGORIES, Catalog
from pipelines.demo.traffic import APP, DEVICE_BASKET, REGIONS, SOURCE_BASKET, Block
from warehouse import STATUSES

PLACED, PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = (
    STATUSES.index(s) for s in ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
)

SHIPPING_COST_CENTS = np.array([0, 550, 750, 1600])  # by tier
PAYMENT_METHODS = ("alipay", "wechat_pay", "card", "installments")
PAYMENT_MIX = np.array([0.47, 0.40, 0.05, 0.08])
PAYMENT_FEE_RATE = 0.006
FREE_SHIPPING_CENTS = 9_900  # 满99包邮
SHIPPING_FEE_CENTS = 1_000

# (code, minimum goods value, discount, who can use it) — 满X减Y coupons plus a new-customer coupon (新人券).
COUPONS = (
    ("XINREN15", 9_900, 1_500, "new"),
    ("MAN200JIAN20", 20_000, 2_000, "all"),
    ("MAN300JIAN50", 30_000, 5_000, "all"),
    ("618MAN199JIAN30", 19_900, 3_000, "618"),
    ("D11MAN399JIAN60", 39_900, 6_000, "d11"),
)


def _orders(rng: np.random.Generator, cal: Calendar, sessions: Block) -> Block:
    """One row per order (paid or left unpaid), sorted by time, with its customer and new/returning facts."""
    rows = np.flatnonzero(sessions["order_kind"] > 0)
    rows = rows[np.argsort(sessions["order_t"][rows], kind="stable")]
    n = rows.size
    visitor = sessions["visitor"][rows]
    orders: Block = {
        "session_row": rows,
        "t": sessions["order_t"][rows],
        "day": sessions["order_t"][rows] // DAY_S,
        "paid": sessions["order_kind"][rows] == 1,
        "visitor": visitor,
        "region": sessions["region"][rows],
        "phone": sessions["phone"][rows],
        "source": sessions["source"][rows],
        "device": sessions["device"][rows],
    }
    # Customers are visitors who ordered; a visitor's only order is sometimes a guest checkout.
    order_count = np.bincount(visitor, minlength=sessions["visitor"].max() + 1)
    guest = (order_count[visitor] == 1) & ~orders["phone"] & (rng.random(n) < 0.15)
    _, first_index = np.unique(visitor, return_index=True)  # orders are sorted by time
    paid_rows = np.flatnonzero(orders["paid"])
    _, first_paid = np.unique(visitor[paid_rows], return_index=True)
    orders["guest"] = guest
    orders["first_paid"] = np.isin(np.arange(n), paid_rows[first_paid])  # a new customer's first paid order
    # Customer numbers in order of their first order.
    customer_of_visitor = np.full(order_count.size, -1, dtype=np.int64)
    new_customers = first_index[np.argsort(first_index)]
    new_customers = new_customers[~guest[new_customers]]
    customer_of_visitor[visitor[new_customers]] = np.arange(new_customers.size)
    orders["customer"] = np.where(guest, -1, customer_of_visitor[visitor])
    # When each customer first ordered: their later sessions are logged in (always in the app).
    first_t = np.full(order_count.size, np.iinfo(np.int64).max)
    np.minimum.at(first_t, visitor[~guest], orders["t"][~guest])
    v = sessions["visitor"]
    logged_in = (sessions["device"] == APP) | (rng.random(v.size) < 0.7)
    known = (customer_of_visitor[v] >= 0) & (sessions["start"] >= first_t[v] - sessions["duration"]) & logged_in
    own_order = np.zeros(v.size, dtype=bool)
    own_order[rows[~guest]] = True
    sessions["customer"] = np.where(known | own_order, customer_of_visitor[v], -1)
    return orders


def _order_lines(rng: np.random.Generator, catalog: Catalog, sessions: Block, orders: Block) -> Block:
    """One row per order line: order index, line number, product and quantity (sku may change if out of stock).

    Email, direct and app shoppers buy more and dearer items than social, KOL and mobile-web shoppers.
    """
    n = orders["t"].size
    score = SOURCE_BASKET[orders["source"]] + DEVICE_BASKET[orders["device"]] + 0.4 * orders["phone"]
    group = np.digitize(score + rng.normal(0, 0.35, n), [-0.25, 0.25])  # 0 thrifty, 1 typical, 2 generous
    n_lines = 1 + np.minimum(rng.poisson(np.array([0.15, 0.3, 0.45])[group]), 5)
    order = np.repeat(np.arange(n), n_lines)
    line_no = np.arange(order.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1

    price_index = catalog.list_cents / np.median(catalog.list_cents)
    sku = np.empty(order.size, dtype=np.int64)
    line_group = group[order]
    for g, beta in enumerate((-0.5, 0.0, 0.4)):
        rows = np.flatnonzero(line_group == g)
        weights = catalog.popularity * price_index**beta
        sku[rows] = rng.choice(catalog.size, size=rows.size, p=weights / weights.sum())
    # Shoppers often buy the product they landed on.
    landing_sku = sessions["landing_sku"][orders["session_row"]][order]
    take_landing = (line_no == 1) & (landing_sku >= 0) & (rng.random(order.size) < 0.6)
    sku = np.where(take_landing, landing_sku, sku)
    for _ in range(3):  # the same product twice in one order becomes its neighbour on the shelf
        key = order * catalog.size + sku
        sorted_key = np.sort(key)
        duplicate = np.isin(key, sorted_key[1:][sorted_key[1:] == sorted_key[:-1]]) & (line_no > 1)
        sku = np.where(duplicate, catalog.substitute[sku], sku)

    multi = np.array([cat.multi for cat in CATEGORIES])[catalog.category[sku]]
    quantity = rng.choice([1, 2, 3, 4], size=order.size, p=[0.84, 0.12, 0.03, 0.01])
    quantity = quantity + (multi & (rng.random(order.size) < 0.35))
    return {"order": order, "line_no": line_no, "sku": sku, "quantity": quantity.astype(np.int64)}


def _inventory(rng: np.random.Generator, cal: Calendar, catalog: Catalog, orders: Block, lines: Block) -> Block:
    """Daily stock per product: sales, purchase orders placed at a reorder point and received after the lead time.

    Sells paid orders day by day. A product with no stock is swapped for its substitute; an order that asks for
    more units than are left is cancelled as oversold. Returns on_hand and on_order (days x products) at day end;
    sets orders['oversold'] and may change lines['sku'].
    """
    n_days, n_sku = cal.days, catalog.size
    orders["customer_cancel"] = orders["paid"] & (rng.random(orders["t"].size) < 0.015)
    consumes = (orders["paid"] & ~orders["customer_cancel"])[lines["order"]]
    line_day = orders["day"][lines["order"]]

    # Planners forecast each product's demand from its sales share and the promotion calendar.
    units = lines["quantity"][consumes]
    share = np.bincount(lines["sku"][consumes], weights=units, minlength=n_sku) + 0.5
    share /= share.sum()
    expect = cal.traffic * cal.conversion
    horizon = 70
    daily = np.concatenate([expect, np.full(horizon, expect[-28:].mean())])
    daily = daily / expect.sum() * units.sum()
    cumulative = np.concatenate([[0.0], np.cumsum(daily)])

    lead = catalog.lead_time
    safety = rng.uniform(0.9, 1.6, n_sku)
    pack = np.select([share * daily.mean() > 3, share * daily.mean() > 1], [24, 12], 6)
    delays = np.where(rng.random((n_days, n_sku)) < 0.08, rng.integers(3, 16, (n_days, n_sku)), 0)

    on_hand = np.ceil(share * (cumulative[np.minimum(lead + 30, n_days)]) * rng.uniform(0.6, 1.3, n_sku))
    on_hand = on_hand.astype(np.int64)
    on_order = np.zeros(n_sku, dtype=np.int64)
    arrivals = np.zeros((n_days + horizon + 60, n_sku), dtype=np.int64)
    on_hand_log = np.empty((n_days, n_sku), dtype=np.int64)
    on_order_log = np.empty((n_days, n_sku), dtype=np.int64)

    selling = np.flatnonzero(consumes)
    selling = selling[np.argsort(line_day[selling], kind="stable")]  # lines are already in order time
    bounds = np.searchsorted(line_day[selling], np.arange(n_days + 1))
    oversold: list[np.ndarray] = []
    sku, quantity, line_order = lines["sku"], lines["quantity"], lines["order"]
    columns = np.arange(n_sku)
    for d in range(n_days):
        on_hand += arrivals[d]
        on_order -= arrivals[d]
        today = selling[bounds[d] : bounds[d + 1]]
        if today.size:
            for _ in range(2):
                sku[today] = np.where(on_hand[sku[today]] == 0, catalog.substitute[sku[today]], sku[today])
            by_sku = today[np.argsort(sku[today], kind="stable")]
            running = np.cumsum(quantity[by_sku])
            first = np.r_[True, sku[by_sku][1:] != sku[by_sku][:-1]]
            running -= np.maximum.accumulate(np.where(first, running - quantity[by_sku], 0))
            short = np.unique(line_order[by_sku[running > on_hand[sku[by_sku]]]])
            if short.size:
                oversold.append(short)
                today = today[~np.isin(line_order[today], short)]
            on_hand -= np.bincount(sku[today], weights=quantity[today], minlength=n_sku).astype(np.int64)
        # Reorder when stock plus open purchase orders no longer cover the lead time and a week of review.
        position = on_hand + on_order
        cover = (cumulative[d + np.minimum(lead + 7, horizon)] - cumulative[d]) * share * safety
        reorder = position < cover
        if reorder.any():
            target = (cumulative[d + np.minimum(lead + 35, horizon)] - cumulative[d]) * share * safety
            amount = (np.ceil(np.maximum(target - position, 1) / pack) * pack).astype(np.int64)
            amount = np.where(reorder, amount, 0)
            arrivals[d + 1 + lead + delays[d], columns] += amount
            on_order += amount
        on_hand_log[d] = on_hand
        on_order_log[d] = on_order
    short_orders = np.concatenate(oversold) if oversold else np.array([], dtype=np.int64)
    orders["oversold"] = np.isin(np.arange(orders["t"].size), short_orders)
    return {"on_hand": on_hand_log, "on_order": on_order_log}


def _order_money(rng: np.random.Generator, cal: Calendar, catalog: Catalog, orders: Block, lines: Block) -> None:
    """Prices, coupons, shipping, payment, status by age at export time, and refunds (all money in cents)."""
    n = orders["t"].size
    order, sku, quantity = lines["order"], lines["sku"], lines["quantity"]
    day = orders["day"]
    promo = np.minimum(cal.promo[day], 1.0)

    # Promotion prices: many lines are marked down in a sale, a few on ordinary days (限时折扣).
    marked = rng.random(order.size) < (0.08 + 0.4 * promo[order])
    factor = np.where(marked, rng.choice([0.95, 0.9, 0.85, 0.8], size=order.size), 1.0)
    lines["unit_price"] = (np.floor(catalog.list_cents[sku] * factor / 10) * 10).astype(np.int64)
    lines["unit_cost"] = catalog.cost_cents[sku]
    subtotal = np.bincount(order, weights=quantity * lines["unit_price"], minlength=n).astype(np.int64)

    # Coupons: the best one the shopper holds and qualifies for.
    holds_any = rng.random(n) < 0.3 + 0.4 * promo
    discounts = np.zeros((n, len(COUPONS)), dtype=np.int64)
    for i, (_, minimum, value, who) in enumerate(COUPONS):
        if who == "new":
            holds = orders["first_paid"] & ~orders["guest"] & (rng.random(n) < 0.45)
        elif who == "all":
            holds = holds_any
        else:
            holds = holds_any & (cal.driver(who)[day] > 0)
        discounts[:, i] = np.where(holds & (subtotal >= minimum), value, 0)
    best = discounts.argmax(axis=1)
    discount = discounts[np.arange(n), best]
    orders["coupon"] = np.where(discount > 0, best, -1)

    goods = subtotal - discount
    shipping_fee = np.where(goods >= FREE_SHIPPING_CENTS, 0, SHIPPING_FEE_CENTS)
    units = np.bincount(order, weights=quantity, minlength=n).astype(np.int64)
    tier = np.array([t for _, _, t in REGIONS])[orders["region"]]
    shipping_cost = SHIPPING_COST_CENTS[tier] + 150 * np.minimum(units - 1, 8)
    shipping_cost = np.round(shipping_cost * rng.uniform(0.95, 1.08, n)).astype(np.int64)
    payment = goods + shipping_fee
    installments = rng.random(n) < np.where(payment >= 50_000, 0.25, 0.04)
    method = np.where(installments, 3, rng.choice(3, size=n, p=PAYMENT_MIX[:3] / PAYMENT_MIX[:3].sum()))

    # Status as of the export (end of the last day): ship in 0-2 days (later in peaks and over the Spring
    # Festival), deliver in 1-5 days (more to remote provinces), and returns a week or two later.
    age = cal.days - 1 - day
    ship = rng.integers(0, 3, n) + np.round(2 * np.minimum(cal.promo[day], 1.0)).astype(np.int64)
    ship += np.round(6 * cal.festival[day]).astype(np.int64)
    deliver = 1 + rng.poisson(1.5, n) + 2 * (tier == 3)
    status = np.select([age < ship, age < ship + deliver], [PAID, SHIPPED], DELIVERED)
    return_rate = np.array([cat.returns for cat in CATEGORIES])[catalog.category[sku]]
    order_return_rate = np.bincount(order, weights=return_rate, minlength=n) / np.bincount(order, minlength=n)
    returns = (rng.random(n) < order_return_rate * 1.4) & (age >= ship + deliver + rng.integers(2, 14, n))
    returns &= status == DELIVERED
    multi_line = np.bincount(order, minlength=n) > 1
    partial = returns & multi_line & (rng.random(n) < 0.5)  # one line of several sent back
    refund = np.zeros(n, dtype=np.int64)
    refund = np.where(returns & ~partial, goods, refund)
    first_line = np.cumsum(np.bincount(order, minlength=n)) - np.bincount(order, minlength=n)
    first_value = lines["unit_price"][first_line] * quantity[first_line]
    refund = np.where(partial, np.round(first_value * goods / np.maximum(subtotal, 1)).astype(np.int64), refund)
    price_guard = (status == DELIVERED) & ~returns & (rng.random(n) < 0.025)  # 价保 / goodwill partial refunds
    refund = np.where(price_guard, np.round(goods * rng.uniform(0.05, 0.15, n)).astype(np.int64), refund)
    status = np.where(returns & ~partial, RETURNED, status)

    cancelled = orders["customer_cancel"] | orders["oversold"]
    status = np.where(cancelled, CANCELLED, status)
    refund = np.where(cancelled, payment, refund)
    # Unpaid orders are cancelled automatically after a while; those of the last two days, and a few awaiting a
    # bank transfer, are still waiting for payment.
    waiting = ~orders["paid"] & ((age <= 1) | ((age <= 7) & (rng.random(n) < 0.1)))
    status = np.where(orders["paid"], status, np.where(waiting, PLACED, CANCELLED))
    refund = np.where(orders["paid"], refund, 0)

    orders.update(
        subtotal=subtotal,
        discount=discount,
        shipping_fee=shipping_fee,
        shipping_cost=np.where(orders["paid"] & ~cancelled, shipping_cost, 0),
        payment_fee=np.where(orders["paid"], np.round(payment * PAYMENT_FEE_RATE).astype(np.int64), 0),
        refund=refund,
        method=method,
        status=status,  # index into STATUSES
        returned=returns,  # sent back, wholly or (partial_return) its first line only: read by service.py
        partial_return=partial,
        delivered_after=ship + deliver,  # days from the order's day to its delivery
    )
