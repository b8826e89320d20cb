"""The demo shop's visits: sessions of the general public and of returning customers, by source, device, campaign,
region and landing page, each with its furthest funnel step; its repeat purchases follow the customers' loyalty.

Indices in the arrays follow the order of the tuples below (SOURCES, DEVICES, CAMPAIGNS, REGIONS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.demo.calendar import DAY_S, PROMO_TRAFFIC, Calendar
from pipelines.demo.catalog import BLOG_PAGES, CATEGORIES, FIXED_PAGES, HOME, PROMO_PAGES, Catalog

Block = dict[str, np.ndarray]  # one array per column, all of one length

SOURCES = ("organic_search", "paid_search", "social", "kol", "email", "direct", "referral")
SOURCE_SHARE = np.array([0.26, 0.15, 0.20, 0.07, 0.04, 0.20, 0.08])
SOURCE_PROMO_BOOST = np.array([0.6, 1.3, 1.3, 1.8, 1.6, 0.8, 0.5])  # share-weighted mean is 1
SOURCE_CONVERSION = np.array([1.0, 1.1, 0.55, 0.6, 2.0, 1.6, 1.1])
SOURCE_CLICK = np.array([0.12, 0.12, 0.09, 0.11, 0.15, 0.12, 0.11])  # extra share of sessions that click a product
SOURCE_BOUNCE = np.array([0.55, 0.60, 0.64, 0.60, 0.42, 0.45, 0.55])
SOURCE_RETURNING = np.array([0.30, 0.22, 0.25, 0.18, 0.65, 0.55, 0.28])
SOURCE_BASKET = np.array([0.0, 0.1, -0.35, -0.3, 0.3, 0.25, 0.0])
REPEAT_SOURCE_MIX = np.array([0.15, 0.08, 0.10, 0.04, 0.22, 0.35, 0.06])
SOCIAL = SOURCES.index("social")

DEVICES = ("desktop", "mobile", "tablet", "app")
DEVICE_MIX = np.array(  # rows: sources
    [
        [0.30, 0.58, 0.06, 0.06],
        [0.34, 0.56, 0.06, 0.04],
        [0.06, 0.74, 0.03, 0.17],
        [0.04, 0.74, 0.02, 0.20],
        [0.40, 0.40, 0.06, 0.14],
        [0.20, 0.40, 0.05, 0.35],
        [0.35, 0.55, 0.06, 0.04],
    ]
)
REPEAT_DEVICE_MIX = np.array([0.15, 0.40, 0.05, 0.40])
DEVICE_CONVERSION = np.array([1.2, 0.8, 1.0, 1.7])
DEVICE_BOUNCE = np.array([-0.06, 0.03, 0.0, -0.15])
DEVICE_BASKET = np.array([0.2, -0.15, 0.05, 0.3])
APP = DEVICES.index("app")

LANDING_TYPES = ("home", "category", "product", "promo", "blog")
LANDING_MIX = np.array(  # rows: sources
    [
        [0.12, 0.22, 0.42, 0.04, 0.20],
        [0.18, 0.30, 0.46, 0.06, 0.00],
        [0.10, 0.10, 0.55, 0.25, 0.00],
        [0.03, 0.02, 0.80, 0.15, 0.00],
        [0.20, 0.15, 0.30, 0.35, 0.00],
        [0.78, 0.05, 0.15, 0.02, 0.00],
        [0.25, 0.10, 0.45, 0.05, 0.15],
    ]
)

# Hour-of-day profile of a Chinese shop: quiet at night, peaks after dinner.
HOURLY = np.array(
    [
        2.6,
        1.5,
        0.8,
        0.5,
        0.4,
        0.5,
        1.1,
        2.3,
        3.4,
        4.3,
        4.8,
        4.9,
        5.3,
        4.9,
        4.5,
        4.5,
        4.6,
        4.6,
        5.0,
        6.0,
        7.1,
        7.6,
        7.0,
        5.0,
    ]
)

BASE_SESSIONS = 1_620  # prospect sessions a day on an ordinary day at the end of the window
BASE_CONVERSION = 0.021
REPEAT_PROBABILITY = (0.27, 0.36, 0.44, 0.50, 0.55, 0.58, 0.60, 0.60, 0.60, 0.60)  # per order generation
MIN_PAGEVIEWS = np.array([1, 1, 2, 2, 3, 4])  # indexed by funnel stage (1 = views only ... 5 = purchase)

REGIONS = (  # (province, weight, shipping tier from the Hangzhou warehouse)
    ("广东", 13.0, 2), ("浙江", 8.5, 1), ("江苏", 8.5, 1), ("上海", 7.0, 1), ("北京", 6.0, 2), ("山东", 5.5, 2),
    ("福建", 4.5, 2), ("四川", 4.5, 2), ("河南", 4.2, 2), ("湖北", 3.8, 2), ("湖南", 3.5, 2), ("安徽", 3.2, 1),
    ("河北", 3.2, 2), ("重庆", 2.6, 2), ("天津", 2.0, 2), ("陕西", 2.4, 2), ("辽宁", 2.3, 2), ("江西", 2.0, 2),
    ("广西", 2.0, 2), ("云南", 1.8, 2), ("黑龙江", 1.3, 2), ("吉林", 1.0, 2), ("山西", 1.3, 2), ("贵州", 1.2, 2),
    ("内蒙古", 0.8, 3), ("新疆", 0.7, 3), ("甘肃", 0.7, 3), ("海南", 0.7, 3), ("宁夏", 0.3, 3), ("青海", 0.2, 3),
    ("西藏", 0.1, 3),
)  # fmt: skip


@dataclass(frozen=True)
class Campaign:
    """One (source, medium, campaign) traffic stream; paid ones appear in ad_spend."""

    source: str
    medium: str
    name: str | None
    base: float  # weight within its source on an ordinary day
    driver: str | None = None  # promotion whose intensity adds weight: '618', 'd11', 'd12', 'spring'
    boost: float = 0.0
    cpc: float = 0.0  # CNY per click
    ctr: float = 0.0  # ad click-through rate


CAMPAIGNS = (
    Campaign("organic_search", "organic", None, 1.0),
    Campaign("paid_search", "cpc", "baidu_brand", 0.45, cpc=1.3, ctr=0.030),
    Campaign("paid_search", "cpc", "baidu_generic", 0.55, cpc=3.1, ctr=0.018),
    Campaign("paid_search", "cpc", "baidu_618", 0.0, "618", 1.6, cpc=3.6, ctr=0.022),
    Campaign("paid_search", "cpc", "baidu_double11", 0.0, "d11", 1.4, cpc=3.9, ctr=0.022),
    Campaign("social", "social", None, 0.7),
    Campaign("social", "cpc", "douyin_always_on", 0.45, cpc=1.7, ctr=0.012),
    Campaign("social", "cpc", "douyin_spring_launch", 0.0, "spring", 0.6, cpc=1.9, ctr=0.014),
    Campaign("social", "cpc", "douyin_618", 0.0, "618", 1.5, cpc=2.1, ctr=0.015),
    Campaign("social", "cpc", "douyin_double11", 0.0, "d11", 1.3, cpc=2.3, ctr=0.015),
    Campaign("social", "cpm", "wechat_moments", 0.30, cpc=2.4, ctr=0.010),
    Campaign("social", "cpc", "weibo_brand", 0.15, cpc=1.4, ctr=0.009),
    Campaign("kol", "kol", "kol_xiaohongshu_seeding", 0.6, cpc=2.6, ctr=0.021),
    Campaign("kol", "kol", "kol_bilibili_review", 0.3, cpc=2.2, ctr=0.025),
    Campaign("kol", "kol", "kol_douyin_live_618", 0.0, "618", 2.0, cpc=1.8, ctr=0.020),
    Campaign("kol", "kol", "kol_douyin_live_double11", 0.0, "d11", 1.8, cpc=1.9, ctr=0.020),
    Campaign("email", "email", "edm_newsletter", 0.8),
    Campaign("email", "email", "edm_618", 0.0, "618", 2.0),
    Campaign("email", "email", "edm_double11", 0.0, "d11", 1.8),
    Campaign("email", "email", "edm_double12", 0.0, "d12", 2.5),
    Campaign("direct", "(none)", None, 1.0),
    Campaign("referral", "referral", None, 1.0),
)


def _draw_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One index per row of `weights` (n x k), drawn with probability proportional to the row."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _take(block: Block, index: np.ndarray) -> Block:
    return {key: values[index] for key, values in block.items()}


def _concat(blocks: list[Block]) -> Block:
    return {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}


def _time_of_day(rng: np.random.Generator, cal: Calendar, day: np.ndarray) -> np.ndarray:
    """Seconds after local midnight; on peak days a fifth of the shoppers come at midnight, when the sale opens."""
    hour = rng.choice(24, size=day.size, p=HOURLY / HOURLY.sum())
    hour = np.where(cal.peak[day] & (rng.random(day.size) < 0.22), 0, hour)
    return hour * 3600 + rng.integers(0, 3600, day.size)


def _campaign_weights(cal: Calendar) -> np.ndarray:
    """Weight of each campaign on each day (days x campaigns), 0 where the campaign does not run."""
    return np.stack([c.base + c.boost * cal.driver(c.driver) for c in CAMPAIGNS], axis=1)


def _draw_campaigns(rng: np.random.Generator, cal: Calendar, day: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Index into CAMPAIGNS of each session, given its day and source."""
    weights = _campaign_weights(cal)
    campaign = np.zeros(day.size, dtype=np.int64)
    for s, name in enumerate(SOURCES):
        rows = np.flatnonzero(source == s)
        members = np.array([i for i, c in enumerate(CAMPAIGNS) if c.source == name])
        campaign[rows] = members[_draw_rows(rng, weights[day[rows]][:, members])]
    return campaign


def _landing(
    rng: np.random.Generator, cal: Calendar, catalog: Catalog, day: np.ndarray, source: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Landing page (index into catalog.pages) of each session, and the product it shows (-1 if none)."""
    n = day.size
    kind = _draw_rows(rng, LANDING_MIX[source])
    intensities = np.stack([cal.p618, cal.d11, cal.d12, 0.3 * cal.spring], axis=1)
    promo_page = np.where(intensities.max(axis=1) > 0, intensities.argmax(axis=1), -1)[day]
    product = rng.choice(catalog.size, size=n, p=catalog.popularity)
    category_share = np.bincount(catalog.category, weights=catalog.popularity)
    page = np.select(
        [kind == 1, kind == 2, (kind == 3) & (promo_page >= 0), kind == 4],
        [
            catalog.category_page0 + rng.choice(len(CATEGORIES), size=n, p=category_share),
            catalog.product_page0 + product,
            len(FIXED_PAGES) + promo_page,
            len(FIXED_PAGES) + len(PROMO_PAGES) + rng.integers(0, len(BLOG_PAGES), n),
        ],
        HOME,
    )
    return page, np.where(kind == 2, product, -1)


def _funnel_stage(rng: np.random.Generator, cal: Calendar, block: Block, purchase: np.ndarray | float) -> np.ndarray:
    """Furthest funnel step of each session: 1 views, 2 clicks a product, 3 adds to cart, 4 checks out, 5 buys."""
    p5 = purchase * cal.conversion[block["day"]]
    p5 = np.clip(p5, 0, 0.45)
    p4, p3 = p5 * 1.75, p5 * 2.7
    p2 = p3 + SOURCE_CLICK[block["source"]]
    u = rng.random(p5.size)
    return (1 + (u < p2) + (u < p3) + (u < p4) + (u < p5)).astype(np.int64)


def _arrival(rng: np.random.Generator, cal: Calendar, catalog: Catalog, block: Block) -> Block:
    """Adds campaign and landing page to sessions that have a day and a source."""
    block["campaign"] = _draw_campaigns(rng, cal, block["day"], block["source"])
    block["landing"], block["landing_sku"] = _landing(rng, cal, catalog, block["day"], block["source"])
    return block


def _prospect_sessions(rng: np.random.Generator, cal: Calendar, catalog: Catalog) -> Block:
    """Sessions of the general public (new and returning visitors), sorted by time; visitor = first session's index."""
    expected = BASE_SESSIONS * (cal.baseline * cal.growth)[:, None] * SOURCE_SHARE[None, :]
    expected = expected * (1 + PROMO_TRAFFIC * cal.promo[:, None] * SOURCE_PROMO_BOOST[None, :])
    expected[:, SOCIAL] *= 1 + 0.25 * cal.spring
    expected *= rng.lognormal(0, 0.04, (cal.days, 1)) * rng.lognormal(0, 0.07, expected.shape)
    counts = rng.poisson(expected).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    day, source = cell // len(SOURCES), cell % len(SOURCES)
    sec = _time_of_day(rng, cal, day)
    order = np.lexsort((sec, day))
    day, source, sec = day[order], source[order], sec[order]
    n = day.size

    # A returning visitor continues an earlier session, a few days back (pointer to it); following the pointers
    # to their end gives each session its visitor's first session.
    index = np.arange(n)
    day_start = np.searchsorted(day, np.arange(cal.days + 1))
    back = rng.geometric(1 / 14, n) - 1
    target = day - back
    lo = day_start[np.maximum(target, 0)]
    hi = np.where(back == 0, index, day_start[np.minimum(np.maximum(target, 0) + 1, cal.days)])
    returning = (rng.random(n) < SOURCE_RETURNING[source]) & (target >= 0) & (hi > lo)
    parent = np.where(returning, lo + (rng.random(n) * (hi - lo)).astype(np.int64), index)
    visitor = parent
    while True:
        jumped = visitor[visitor]
        if np.array_equal(jumped, visitor):
            break
        visitor = jumped

    own_device = _draw_rows(rng, DEVICE_MIX[source])
    own_region = rng.choice(len(REGIONS), size=n, p=_region_weights())
    device = np.where(returning & (rng.random(n) < 0.75), own_device[visitor], own_device)
    region = np.where(returning & (rng.random(n) < 0.95), own_region[visitor], own_region)
    block = {"day": day, "source": source, "device": device, "region": region, "visitor": visitor}
    block["sec"] = sec
    block = _arrival(rng, cal, catalog, block)
    block["returning"] = returning
    purchase = BASE_CONVERSION * SOURCE_CONVERSION[source] * DEVICE_CONVERSION[device] * np.where(returning, 1.5, 1.0)
    block["stage"] = _funnel_stage(rng, cal, block, purchase)
    block["phone"] = np.zeros(n, dtype=bool)
    return block


def _region_weights() -> np.ndarray:
    weights = np.array([w for _, w, _ in REGIONS])
    return weights / weights.sum()


def _repeat_purchases(rng: np.random.Generator, cal: Calendar, visitor: np.ndarray, day: np.ndarray) -> Block:
    """Re-orders of customers: each order is followed by another with a probability that grows with loyalty,
    after a lag of weeks that leans towards promotion days. One row per repeat order: visitor and day."""
    traffic = cal.traffic / cal.traffic.mean()
    found_v, found_d = [], []
    for probability in REPEAT_PROBABILITY:
        again = rng.random(visitor.size) < probability
        visitor, day = visitor[again], day[again]
        candidates = day[:, None] + np.ceil(rng.lognormal(np.log(38), 0.8, (visitor.size, 4))).astype(np.int64)
        pull = np.where(candidates < cal.days, traffic[np.minimum(candidates, cal.days - 1)] ** 1.5, 1.0)
        day = candidates[np.arange(visitor.size), _draw_rows(rng, pull)] if visitor.size else day
        inside = day < cal.days
        visitor, day = visitor[inside], day[inside]
        found_v.append(visitor)
        found_d.append(day)
        if visitor.size == 0:
            break
    return {"visitor": np.concatenate(found_v), "day": np.concatenate(found_d)}


def _customer_sessions(
    rng: np.random.Generator,
    cal: Calendar,
    catalog: Catalog,
    prospects: Block,
    visitor: np.ndarray,
    day: np.ndarray,
    *,
    buys: bool,
) -> Block:
    """Sessions of known customers (repeat purchases if `buys`, else browsing), on their usual device and region."""
    n = visitor.size
    source = rng.choice(len(SOURCES), size=n, p=REPEAT_SOURCE_MIX)
    usual_device = prospects["device"][visitor]
    device = np.where(rng.random(n) < 0.6, usual_device, rng.choice(len(DEVICES), size=n, p=REPEAT_DEVICE_MIX))
    block = {"day": day, "source": source, "device": device, "region": prospects["region"][visitor], "visitor": visitor}
    block["sec"] = _time_of_day(rng, cal, day)
    block = _arrival(rng, cal, catalog, block)
    block["returning"] = np.ones(n, dtype=bool)
    if buys:
        block["stage"] = np.full(n, 5, dtype=np.int64)
        block["phone"] = rng.random(n) < 0.03  # ordered through customer service: an order without a session
    else:
        block["stage"] = _funnel_stage(rng, cal, block, np.zeros(n))
        block["stage"] = np.where((block["stage"] == 1) & (rng.random(n) < 0.15), 2, block["stage"])
        block["phone"] = np.zeros(n, dtype=bool)
    return block


def _sessions(rng: np.random.Generator, cal: Calendar, catalog: Catalog) -> Block:
    """All sessions sorted by start, with funnel stage, page views, duration and (for orders) the order time.

    Rows with phone=True are orders taken by customer service: they make an order but no session row.
    """
    prospects = _prospect_sessions(rng, cal, catalog)
    first = prospects["stage"] == 5
    repeats = _repeat_purchases(rng, cal, prospects["visitor"][first], prospects["day"][first])
    repeat_block = _customer_sessions(rng, cal, catalog, prospects, repeats["visitor"], repeats["day"], buys=True)

    buyers = np.concatenate([prospects["visitor"][first], repeats["visitor"]])
    bought = np.concatenate([prospects["day"][first], repeats["day"]])
    visits = rng.poisson(0.6, buyers.size)
    browse_v, browse_d = np.repeat(buyers, visits), np.repeat(bought, visits)
    browse_d = browse_d + np.ceil(rng.lognormal(np.log(14), 0.9, browse_d.size)).astype(np.int64)
    inside = browse_d < cal.days
    browse = _customer_sessions(rng, cal, catalog, prospects, browse_v[inside], browse_d[inside], buys=False)

    block = _concat([prospects, repeat_block, browse])
    block = _take(block, np.lexsort((block["sec"], block["day"])))
    n = block["day"].size
    stage, source, device = block["stage"], block["source"], block["device"]

    # An order is paid in buying sessions; one in ten checkouts that stop leaves an unpaid order behind.
    block["order_kind"] = np.select([stage == 5, (stage == 4) & (rng.random(n) < 0.1)], [1, 2], 0)

    bounce = np.clip(SOURCE_BOUNCE[source] + DEVICE_BOUNCE[device], 0.05, 0.95)
    pageviews = np.where(rng.random(n) < bounce, 1, 1 + rng.geometric(0.45, n))
    pageviews = np.maximum(pageviews, MIN_PAGEVIEWS[stage])
    dwell = rng.lognormal(np.log(36), 0.55, n)
    duration = np.where(pageviews == 1, rng.lognormal(np.log(12), 0.9, n), pageviews * dwell + 60 * (stage >= 4))
    start = block["day"] * DAY_S + block["sec"]
    duration = np.minimum(np.round(duration).astype(np.int64), cal.days * DAY_S - 1 - start)
    block["pageviews"] = np.where(block["phone"], 0, pageviews)
    block["duration"] = np.where(block["phone"], 0, np.maximum(duration, 0))
    block["start"] = start
    # Orders are placed on the last page (the checkout, or the success page once paid).
    last_page = block["duration"] * (block["pageviews"] - 1) // np.maximum(block["pageviews"], 1)
    block["order_t"] = start + last_page
    block["client"] = rng.integers(100_000_000, 2_147_483_647, prospects["day"].size)[block["visitor"]]
    return block
