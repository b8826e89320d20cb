"""The demo shop: a deterministic, realistic Chinese D2C online shop, written as the export files it would download.

`write_demo_files` draws two years (by default) of one shop selling ~200 products in CNY (store time zone
Asia/Shanghai): sessions and click events (GA4-like Parquet), orders and their lines, ad spend, daily inventory,
products and monthly operating expenses (CSV). Everything comes from one numpy Generator, so the same seed, length
and end date give byte-identical files. Traffic, conversion and baskets follow a small causal story: weekly rhythm,
growth, 618 / 双11 / 双12 peaks, a Spring Festival dip; conversion and basket size differ by source and device;
customers come back with decaying probability; stock is replenished after each product's lead time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from warehouse import STATUSES, VALID_STATUSES

DEMO_TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"
UTC_OFFSET_S = 8 * 3600  # Asia/Shanghai has no daylight saving time
DAY_S = 86_400

Progress = Callable[[str, float], None]
Block = dict[str, np.ndarray]  # one array per column, all of one length

CHINESE_NEW_YEAR = tuple(
    np.datetime64(d) for d in ("2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26")
)

# ---------------------------------------------------------------------------------------------------------------------
# The shop's story in numbers. Indices below follow the order of these tuples.

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

PLACED, PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = (
    STATUSES.index(s) for s in ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
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
WEEKDAY = np.array([1.00, 0.97, 0.96, 0.97, 0.95, 1.05, 1.10])  # Monday first

BASE_SESSIONS = 1_620  # prospect sessions a day on an ordinary day at the end of the window
YEARLY_GROWTH = 1.4
PROMO_TRAFFIC = 1.9  # traffic multiplier per unit of promotion intensity
BASE_CONVERSION = 0.021
REPEAT_PROBABILITY = (0.27, 0.36, 0.44, 0.50, 0.55, 0.58, 0.60, 0.60, 0.60, 0.60)  # per order generation
MIN_PAGEVIEWS = np.array([1, 1, 2, 2, 3, 4])  # indexed by funnel stage (1 = views only ... 5 = purchase)
TAIL_PAGES = np.array([0, 0, 0, 1, 2, 3])  # /cart, /checkout, /checkout/success at the end of deeper sessions

REGIONS = (  # (province, weight, shipping tier from the Hangzhou warehouse)
    ("广东", 13.0, 2), ("浙江", 8.5, 1), ("江苏", 8.5, 1), ("上海", 7.0, 1), ("北京", 6.0, 2), ("山东", 5.5, 2),
    ("福建", 4.5, 2), ("四川", 4.5, 2), ("河南", 4.2, 2), ("湖北", 3.8, 2), ("湖南", 3.5, 2), ("安徽", 3.2, 1),
    ("河北", 3.2, 2), ("重庆", 2.6, 2), ("天津", 2.0, 2), ("陕西", 2.4, 2), ("辽宁", 2.3, 2), ("江西", 2.0, 2),
    ("广西", 2.0, 2), ("云南", 1.8, 2), ("黑龙江", 1.3, 2), ("吉林", 1.0, 2), ("山西", 1.3, 2), ("贵州", 1.2, 2),
    ("内蒙古", 0.8, 3), ("新疆", 0.7, 3), ("甘肃", 0.7, 3), ("海南", 0.7, 3), ("宁夏", 0.3, 3), ("青海", 0.2, 3),
    ("西藏", 0.1, 3),
)  # fmt: skip
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

# Event types in funnel order: within one second of a session, events sort in this order.
FUNNEL_EVENTS = ("page_view", "impression", "click", "add_to_cart", "begin_checkout", "purchase")
FIXED_PAGES = ("/", "/search", "/cart", "/checkout", "/checkout/success")
HOME, SEARCH, CART, CHECKOUT, SUCCESS = range(5)
PROMO_PAGES = ("/promo/618", "/promo/double11", "/promo/double12", "/promo/spring-launch")
BLOG_PAGES = (
    "/blog/skincare-routine",
    "/blog/how-to-brew-longjing",
    "/blog/gan-charger-guide",
    "/blog/bedding-buying-guide",
    "/blog/healthy-snacks",
    "/blog/capsule-wardrobe",
)


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


@dataclass(frozen=True)
class Category:
    """A product category of the shop, and how its products are priced, bought, restocked and returned."""

    name: str
    code: str  # sku prefix
    slug: str  # URL of its listing page
    margin: float  # typical gross margin on list price
    lead: tuple[int, int]  # supplier lead time range, days
    returns: float  # share of orders sent back
    multi: bool  # consumables: bought two or three at a time
    weight: float  # relative demand
    brands: tuple[str, ...]  # the shop's own brand first
    suppliers: tuple[str, ...]
    variants: tuple[tuple[str, str, float], ...]  # (zh, en, price factor)
    items: str  # one product line per row: "zh | en | base price in CNY"

    def item_rows(self) -> list[tuple[str, str, float]]:
        rows = [line.split("|") for line in self.items.strip().splitlines()]
        return [(zh.strip(), en.strip(), float(price)) for zh, en, price in rows]


CATEGORIES = (
    Category(
        "护肤 Skincare", "SKN", "skincare", 0.72, (7, 21), 0.04, False, 1.4,
        ("栖木 Qimu", "澄研 Chengyan", "露萃 Lucui"),
        ("广州美妍生物科技有限公司", "上海澄研化妆品有限公司", "Seoul Beauty Lab Co., Ltd."),
        (("", "", 1.0), ("大瓶装", "Value Size", 1.7)),
        """
        氨基酸洁面乳 | Amino Acid Cleanser | 89
        玻尿酸精华 | Hyaluronic Serum | 229
        烟酰胺精华 | Niacinamide Serum | 199
        修护面霜 | Barrier Repair Cream | 259
        补水面膜 | Hydrating Sheet Mask x5 | 99
        清透防晒乳 SPF50 | Light Sunscreen SPF50 | 139
        温和卸妆油 | Gentle Cleansing Oil | 129
        舒缓爽肤水 | Soothing Toner | 119
        紧致眼霜 | Firming Eye Cream | 299
        果酸身体乳 | AHA Body Lotion | 109
        """,
    ),
    Category(
        "彩妆 Makeup", "MUP", "makeup", 0.68, (10, 25), 0.05, False, 1.0,
        ("栖木 Qimu", "绯色 Feise"),
        ("杭州绯色彩妆有限公司", "义乌美色化妆品厂"),
        (("#01 经典色", "#01 Classic", 1.0), ("#03 暖调色", "#03 Warm", 1.0)),
        """
        丝绒哑光口红 | Velvet Matte Lipstick | 129
        轻薄气垫 | Airy Cushion Foundation | 189
        九色眼影盘 | 9-Shade Eyeshadow Palette | 159
        极细眉笔 | Ultra-fine Brow Pencil | 59
        纤长睫毛膏 | Lengthening Mascara | 89
        控油散粉 | Oil-control Loose Powder | 119
        柔雾腮红 | Soft Blush | 99
        持妆定妆喷雾 | Setting Spray | 109
        水光唇釉 | Glossy Lip Tint | 99
        遮瑕液 | Liquid Concealer | 89
        """,
    ),
    Category(
        "个护 Personal Care", "PCR", "personal-care", 0.58, (5, 14), 0.03, True, 1.0,
        ("栖木 Qimu", "净研 Jingyan"),
        ("苏州净研日化有限公司", "佛山洁美日用品有限公司"),
        (("", "", 1.0), ("家庭装", "Family Pack", 1.8)),
        """
        无硅油洗发水 | Silicone-free Shampoo | 69
        修护护发素 | Repair Conditioner | 69
        香氛沐浴露 | Scented Body Wash | 59
        护龈牙膏 | Gum Care Toothpaste | 29
        声波电动牙刷 | Sonic Electric Toothbrush | 299
        替换刷头 4支 | Brush Heads x4 | 79
        滋润护手霜 | Nourishing Hand Cream | 39
        木质调香水 | Woody Eau de Parfum | 259
        头皮精华 | Scalp Serum | 149
        磨砂膏 | Body Scrub | 79
        """,
    ),
    Category(
        "女装 Womenswear", "WMN", "womenswear", 0.62, (12, 30), 0.16, False, 1.3,
        ("栖木 Qimu", "素禾 Suhe"),
        ("杭州四季青服饰有限公司", "广州沙河服装厂", "东莞织美针织有限公司"),
        (("黑色", "Black", 1.0), ("米白", "Ivory", 1.0)),
        """
        羊毛针织开衫 | Wool Knit Cardigan | 399
        法式连衣裙 | French Midi Dress | 359
        垂感阔腿裤 | Drapey Wide-leg Trousers | 259
        真丝衬衫 | Silk Shirt | 499
        轻薄羽绒服 | Light Down Jacket | 599
        纯棉T恤 | Cotton T-shirt | 99
        高腰牛仔裤 | High-rise Jeans | 299
        半身长裙 | Pleated Maxi Skirt | 239
        西装外套 | Tailored Blazer | 529
        瑜伽裤 | Yoga Leggings | 159
        """,
    ),
    Category(
        "男装 Menswear", "MEN", "menswear", 0.58, (12, 30), 0.12, False, 0.8,
        ("栖木 Qimu", "山野 Shanye"),
        ("宁波山野服饰有限公司", "石狮男装制造有限公司"),
        (("藏青", "Navy", 1.0), ("炭灰", "Charcoal", 1.0)),
        """
        重磅纯棉T恤 | Heavyweight Cotton Tee | 129
        免烫衬衫 | Non-iron Shirt | 229
        休闲西裤 | Chino Trousers | 259
        抓绒外套 | Fleece Jacket | 329
        冲锋衣 | Shell Jacket | 699
        羊毛衫 | Merino Sweater | 399
        运动短裤 | Sport Shorts | 119
        Polo衫 | Polo Shirt | 189
        直筒牛仔裤 | Straight Jeans | 299
        羽绒马甲 | Down Vest | 359
        """,
    ),
    Category(
        "家居 Home", "HOM", "home", 0.52, (7, 20), 0.06, False, 0.9,
        ("栖木 Qimu", "眠语 Mianyu"),
        ("南通家纺集团有限公司", "宁波眠语家居用品有限公司"),
        (("标准", "Standard", 1.0), ("加大", "Large", 1.4)),
        """
        全棉四件套 | Cotton Bedding Set | 459
        乳胶枕 | Latex Pillow | 199
        长绒棉毛巾 | Long-staple Towel | 49
        香薰蜡烛 | Scented Candle | 129
        桌面收纳盒 | Desk Organizer | 69
        夏凉被 | Summer Quilt | 259
        羊毛毯 | Wool Throw | 329
        真丝眼罩 | Silk Eye Mask | 89
        地垫 | Bath Mat | 79
        香薰机 | Aroma Diffuser | 239
        """,
    ),
    Category(
        "厨房 Kitchen", "KIT", "kitchen", 0.46, (5, 18), 0.05, False, 0.8,
        ("栖木 Qimu", "锅匠 Guojiang"),
        ("永康厨具有限公司", "阳江刀具实业有限公司"),
        (("", "", 1.0), ("礼盒装", "Gift Box", 1.25)),
        """
        不粘炒锅 | Non-stick Wok | 269
        保温杯 | Vacuum Flask | 129
        厨房刀具套装 | Kitchen Knife Set | 359
        玻璃保鲜盒 | Glass Food Containers | 99
        手冲咖啡壶 | Pour-over Kettle | 199
        硅胶铲勺 | Silicone Utensils | 59
        陶瓷餐具套装 | Ceramic Dinnerware Set | 299
        砧板 | Bamboo Cutting Board | 79
        空气炸锅 | Air Fryer | 399
        磨豆机 | Coffee Grinder | 249
        """,
    ),
    Category(
        "数码配件 Digital", "DGT", "digital", 0.36, (3, 12), 0.06, False, 1.0,
        ("栖木 Qimu", "闪充 Shanchong"),
        ("深圳闪充科技有限公司", "东莞声宇电子有限公司"),
        (("黑色", "Black", 1.0), ("白色", "White", 1.0)),
        """
        65W氮化镓充电器 | 65W GaN Charger | 149
        编织数据线 | Braided USB-C Cable | 39
        降噪蓝牙耳机 | ANC Wireless Earbuds | 399
        磁吸充电宝 | Magnetic Power Bank | 199
        手机壳 | Phone Case | 69
        便携蓝牙音箱 | Portable Speaker | 259
        无线充电板 | Wireless Charger | 129
        平板支架 | Tablet Stand | 89
        机械键盘 | Mechanical Keyboard | 459
        静音鼠标 | Silent Mouse | 99
        """,
    ),
    Category(
        "零食 Snacks", "SNK", "snacks", 0.34, (3, 10), 0.01, True, 1.2,
        ("栖木 Qimu", "果仁时光 Nutty"),
        ("临安坚果食品有限公司", "内蒙古草原肉业有限公司"),
        (("", "", 1.0), ("量贩装", "Bulk Pack", 1.8)),
        """
        每日坚果 30包 | Daily Nuts x30 | 129
        风干牛肉干 | Air-dried Beef Jerky | 89
        冻干草莓 | Freeze-dried Strawberries | 49
        海苔脆 | Seaweed Crisps | 29
        即食燕麦片 | Instant Oats | 45
        黄油曲奇 | Butter Cookies | 59
        黑巧克力 | Dark Chocolate | 69
        芒果干 | Dried Mango | 39
        坚果礼盒 | Nut Gift Box | 199
        蛋白棒 | Protein Bars | 79
        """,
    ),
    Category(
        "茶饮 Tea & Coffee", "TEA", "tea-coffee", 0.55, (5, 20), 0.02, True, 0.9,
        ("栖木 Qimu", "山茶记 Shanchaji"),
        ("杭州龙井茶业有限公司", "云南普洱茶厂", "福建武夷茶叶有限公司"),
        (("", "", 1.0), ("礼盒装", "Gift Box", 1.5)),
        """
        明前西湖龙井 | Pre-Qingming Longjing | 299
        正山小种 | Lapsang Souchong | 159
        普洱熟茶饼 | Ripe Pu'er Cake | 259
        茉莉花茶 | Jasmine Green Tea | 99
        冷泡茶包 | Cold Brew Tea Bags | 59
        挂耳咖啡 20包 | Drip Coffee x20 | 79
        白毫银针 | Silver Needle White Tea | 359
        大红袍 | Da Hong Pao Oolong | 239
        冻干咖啡 | Freeze-dried Coffee | 99
        花草茶 | Herbal Tea | 69
        """,
    ),
)  # fmt: skip

EXPENSES = (  # (category, note, share of the fixed cost base)
    ("rent", "办公室及摄影棚租金 Office & studio rent (杭州)", 0.14),
    ("salaries", "工资及社保 Salaries & social insurance", 0.58),
    ("software", "ERP/客服/SaaS 订阅 Software subscriptions", 0.06),
    ("utilities", "水电网 Utilities & internet", 0.025),
    ("professional_services", "代理记账与法务 Accounting & legal", 0.04),
    ("office", "办公用品 Office supplies", 0.015),
    ("content", "拍摄与内容制作 Photo & content production", 0.13),
)
VARIABLE_EXPENSES = (  # (category, note, CNY per order, CNY per month)
    ("warehouse", "第三方仓储 3PL warehousing", 4.2, 2_500.0),
    ("packaging", "包装材料 Packaging", 1.6, 0.0),
    ("customer_service", "客服外包 Outsourced customer service", 1.2, 3_000.0),
)
NET_MARGIN_TARGET = 0.05  # operating expenses are sized so the shop earns a modest profit overall


# ---------------------------------------------------------------------------------------------------------------------
# Public API


def write_demo_files(
    out_dir: Path,
    *,
    seed: int = 7,
    days: int = 730,
    end: date | None = None,
    progress: Progress | None = None,
) -> dict[str, list[Path]]:
    """Writes the demo shop's export files under out_dir; returns {canonical table name: [files]}.

    The shop covers `days` days ending on `end` (default: yesterday) inclusive. Timestamps are naive store local
    time (Asia/Shanghai), money is CNY. The same seed, days and end give byte-identical files.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = end if end is not None else date.today() - timedelta(days=1)
    report = progress if progress is not None else _no_progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # Fractions of the total time each stage starts at, measured on the default size.
    report("calendar and catalogue", 0.0)
    cal = _calendar(end - timedelta(days=days - 1), days)
    catalog = _catalog(rng)
    report("sessions", 0.01)
    sessions = _sessions(rng, cal, catalog)
    report("orders", 0.2)
    orders = _orders(rng, cal, sessions)
    lines = _order_lines(rng, catalog, sessions, orders)
    report("inventory", 0.21)
    inventory = _inventory(rng, cal, catalog, orders, lines)
    report("prices and payments", 0.22)
    _order_money(rng, cal, catalog, orders, lines)
    session_ids = _session_ids(sessions)
    order_ids = _order_number(cal, orders)

    written: dict[str, list[Path]] = {}
    report("click events", 0.24)
    events = _events(rng, cal, catalog, sessions, orders, lines, session_ids)
    report("writing events", 0.74)
    written["events"] = [_write(events, out_dir, "events")]
    del events  # the biggest table: written first, then freed
    report("ad spend and expenses", 0.87)
    ad_spend = _ad_spend(rng, cal, sessions)
    expenses = _expenses(rng, cal, orders, lines, ad_spend)
    frames = {  # (frame builder, fraction of the total time when writing it starts)
        "sessions": (lambda: _sessions_frame(cal, catalog, sessions, session_ids), 0.88),
        "orders": (lambda: _orders_frame(cal, orders, order_ids, session_ids), 0.985),
        "order_items": (lambda: _order_items_frame(catalog, lines, order_ids), 0.99),
        "inventory": (lambda: _inventory_frame(cal, catalog, inventory), 0.993),
        "products": (lambda: _products_frame(catalog), 0.996),
        "ad_spend": (lambda: ad_spend, 0.997),
        "expenses": (lambda: expenses, 0.998),
    }
    for table, (frame, done) in frames.items():
        report(f"writing {table}", done)
        written[table] = [_write(frame(), out_dir, table)]
    report("done", 1.0)
    return written


def _no_progress(stage: str, fraction: float) -> None:
    pass


def _write(frame: pl.DataFrame, out_dir: Path, table: str) -> Path:
    """The file for one table: Parquet for the click logs (big), CSV for the rest, as a shop downloads them."""
    if table in ("sessions", "events"):
        path = out_dir / f"{table}.parquet"
        frame.write_parquet(path, compression="zstd", statistics=True)
    else:
        path = out_dir / f"{table}.csv"
        frame.write_csv(
            path, datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d", float_precision=2, float_scientific=False
        )
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Calendar: the drivers of every day


@dataclass(frozen=True)
class Calendar:
    """One entry per day of the window: promotion intensities, and traffic and conversion multipliers."""

    start: date
    days: int
    dates: np.ndarray  # datetime64[D]
    months: np.ndarray  # datetime64[M]
    p618: np.ndarray  # promotion intensities, 0 outside their windows
    d11: np.ndarray
    d12: np.ndarray
    spring: np.ndarray  # 1 while the spring launch campaign runs (March, April)
    festival: np.ndarray  # 0..1, strength of the Spring Festival slowdown
    baseline: np.ndarray  # weekday x season x festival traffic multiplier, no promotions
    growth: np.ndarray
    conversion: np.ndarray  # conversion multiplier
    peak: np.ndarray  # bool: midnight-rush days (18 June, 11 November, 12 December)

    @property
    def promo(self) -> np.ndarray:
        return self.p618 + self.d11 + self.d12

    @property
    def traffic(self) -> np.ndarray:
        """Expected traffic multiplier of each day, promotions and growth included."""
        return self.baseline * self.growth * (1 + PROMO_TRAFFIC * self.promo)

    def driver(self, name: str | None) -> np.ndarray:
        return {"618": self.p618, "d11": self.d11, "d12": self.d12, "spring": self.spring}.get(
            name, np.zeros(self.days)
        )


def _days_to(dates: np.ndarray, month: int, day: int) -> np.ndarray:
    """Days from the given month/day of each date's own year to the date (negative before it)."""
    years = dates.astype("datetime64[Y]")
    event = years.astype("datetime64[M]") + (month - 1)
    event = event.astype("datetime64[D]") + (day - 1)
    return (dates - event).astype(np.int64)


def _ramp(k: np.ndarray, first: int, last: int, lo: float, hi: float) -> np.ndarray:
    inside = (k >= first) & (k <= last)
    return np.where(inside, lo + (hi - lo) * (k - first) / max(last - first, 1), 0.0)


def _calendar(start: date, days: int) -> Calendar:
    """The window's days and their drivers: 618, 双11 and 双12 promotions, the Spring Festival, weekdays, growth."""
    dates = np.datetime64(start, "D") + np.arange(days)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday

    k = _days_to(dates, 6, 18)
    p618 = _ramp(k, -18, -1, 0.22, 0.52) + np.select([k == 0, k == 1, k == 2], [1.0, 0.2, 0.08], 0.0)
    k = _days_to(dates, 11, 11)
    d11 = (
        _ramp(k, -22, -12, 0.15, 0.30)
        + np.where((k == -11) | (k == -10), 0.7, 0.0)  # first sales wave, 31 Oct - 1 Nov
        + _ramp(k, -9, -1, 0.35, 0.55)
        + np.select([k == 0, k == 1, k == 2], [1.35, 0.3, 0.1], 0.0)
    )
    k = _days_to(dates, 12, 12)
    d12 = np.select([(k >= -3) & (k <= -1), k == 0, k == 1], [0.15, 0.6, 0.1], 0.0)
    peak = (_days_to(dates, 6, 18) == 0) | (_days_to(dates, 11, 11) == 0) | (k == 0)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    spring = ((month == 3) | (month == 4)).astype(float)

    # Days to the nearest Chinese New Year: logistics stop and people travel for about a week around it.
    to_cny = (dates[:, None] - np.array(CHINESE_NEW_YEAR)[None, :]).astype(np.int64)
    k = to_cny[np.arange(days), np.abs(to_cny).argmin(axis=1)]
    festival = _ramp(k, -9, -4, 0.3, 0.7) + np.where((k >= -3) & (k <= 6), 1.0, 0.0) + _ramp(k, 7, 11, 0.5, 0.1)

    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    summer = 1 - 0.07 * np.exp(-(((day_of_year - 213) / 28.0) ** 2))
    baseline = WEEKDAY[weekday] * summer * (1 - 0.42 * festival)
    growth = YEARLY_GROWTH ** ((np.arange(days) - (days - 1)) / 365.0)
    promo = p618 + d11 + d12
    conversion = (1 + 0.5 * promo) * (1 - 0.25 * festival)
    months = dates.astype("datetime64[M]")
    return Calendar(start, days, dates, months, p618, d11, d12, spring, festival, baseline, growth, conversion, peak)


# ---------------------------------------------------------------------------------------------------------------------
# Products


@dataclass(frozen=True)
class Catalog:
    """One entry per product (sku), plus what the generator needs to sell and restock it."""

    sku: list[str]
    name: list[str]
    category: np.ndarray  # index into CATEGORIES
    brand: list[str]
    supplier: list[str]
    list_cents: np.ndarray
    cost_cents: np.ndarray
    lead_time: np.ndarray
    popularity: np.ndarray  # share of units sold
    substitute: np.ndarray  # sku index offered when this one is out of stock
    pages: list[str]  # page vocabulary: FIXED_PAGES, PROMO_PAGES, BLOG_PAGES, categories, products

    @property
    def size(self) -> int:
        return len(self.sku)

    @property
    def category_page0(self) -> int:
        return len(FIXED_PAGES) + len(PROMO_PAGES) + len(BLOG_PAGES)

    @property
    def product_page0(self) -> int:
        return self.category_page0 + len(CATEGORIES)


def _price_point(cny: np.ndarray) -> np.ndarray:
    """List prices as shops set them: whole yuan ending in 9 (cents)."""
    return (np.maximum(np.round(cny / 10.0) * 10 - 1, 9) * 100).astype(np.int64)


def _catalog(rng: np.random.Generator) -> Catalog:
    """About 200 products in 10 categories, with brands, suppliers, prices, costs, lead times and popularity."""
    sku, name, category, brand, supplier, base, lead = [], [], [], [], [], [], []
    for c, cat in enumerate(CATEGORIES):
        n = 0
        for item_zh, item_en, price in cat.item_rows():
            for variant_zh, variant_en, factor in cat.variants:
                n += 1
                sku.append(f"{cat.code}-{n:03d}")
                zh = f"{item_zh} {variant_zh}".strip()
                en = f"{item_en} {variant_en}".strip()
                name.append(f"{zh} {en}")
                category.append(c)
                own_brand = rng.random() < 0.6
                brand.append(cat.brands[0] if own_brand else cat.brands[1 + int(rng.integers(len(cat.brands) - 1))])
                supplier.append(cat.suppliers[int(rng.integers(len(cat.suppliers)))])
                base.append(price * factor)
                lo, hi = cat.lead
                lead.append(int(rng.integers(lo, hi + 1)))
    category_arr = np.array(category)
    list_cents = _price_point(np.array(base) * rng.uniform(0.92, 1.08, len(base)))
    margin = np.array([CATEGORIES[c].margin for c in category_arr]) + rng.normal(0, 0.04, len(base))
    cost_cents = np.round(list_cents * (1 - np.clip(margin, 0.2, 0.85))).astype(np.int64)

    weight = np.array([CATEGORIES[c].weight for c in category_arr])
    rank = rng.permutation(len(base)) + 1
    popularity = weight / rank**0.6 / (list_cents / 15_000.0) ** 0.9  # cheap items sell more units
    popularity /= popularity.sum()

    # The substitute is the next best seller of the same category (the shop's "similar items" slot).
    order = np.lexsort((-popularity, category_arr))
    substitute = np.empty(len(base), dtype=np.int64)
    for c in range(len(CATEGORIES)):
        members = order[category_arr[order] == c]
        substitute[members] = np.roll(members, -1)

    pages = [*FIXED_PAGES, *PROMO_PAGES, *BLOG_PAGES]
    pages += [f"/category/{cat.slug}" for cat in CATEGORIES] + [f"/product/{s.lower()}" for s in sku]
    return Catalog(
        sku, name, category_arr, brand, supplier, list_cents, cost_cents, np.array(lead), popularity, substitute, pages
    )


# ---------------------------------------------------------------------------------------------------------------------
# Sessions


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


# ---------------------------------------------------------------------------------------------------------------------
# Orders


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
    )


# ---------------------------------------------------------------------------------------------------------------------
# Click events


def _events(
    rng: np.random.Generator,
    cal: Calendar,
    catalog: Catalog,
    sessions: Block,
    orders: Block,
    lines: Block,
    session_ids: pl.Series,
) -> pl.DataFrame:
    """One row per event (GA4-like): page views, product impressions and clicks, carts, checkouts, purchases."""
    real = np.flatnonzero(~sessions["phone"])
    stage = sessions["stage"][real]
    pv = sessions["pageviews"][real]
    start = sessions["start"][real]
    duration = sessions["duration"][real]
    tail = TAIL_PAGES[stage]
    n = real.size
    pv_start = np.cumsum(pv) - pv

    # Lines of each session's order, if any.
    order_of_row = np.full(sessions["stage"].size, -1)
    order_of_row[orders["session_row"]] = np.arange(orders["t"].size)
    session_order = order_of_row[real]
    line_count = np.bincount(lines["order"], minlength=orders["t"].size)
    line_first = np.cumsum(line_count) - line_count
    n_lines = np.where(session_order >= 0, line_count[np.maximum(session_order, 0)], 0)

    def page_time(s: np.ndarray, k: np.ndarray) -> np.ndarray:
        return start[s] + duration[s] * k // pv[s]

    def after(s: np.ndarray, k: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """A moment a few seconds after page view k, before the next one."""
        return np.minimum(page_time(s, k) + rng.integers(lo, hi, s.size), page_time(s, k + 1))

    # Page views: landing page first, the checkout pages last, products and listings in between.
    s_pv = np.repeat(np.arange(n), pv)
    k_pv = np.arange(s_pv.size) - pv_start[s_pv]
    from_end = pv[s_pv] - 1 - k_pv
    browse = np.select(
        [rng.random(s_pv.size) < 0.6, rng.random(s_pv.size) < 0.6, rng.random(s_pv.size) < 0.5],
        [
            catalog.product_page0 + rng.choice(catalog.size, size=s_pv.size, p=catalog.popularity),
            catalog.category_page0 + rng.integers(0, len(CATEGORIES), s_pv.size),
            SEARCH,
        ],
        HOME,
    )
    tail_at = tail[s_pv] - 1 - from_end  # 0 = /cart, 1 = /checkout, 2 = /checkout/success
    page_pv = np.where(tail_at >= 0, CART + np.maximum(tail_at, 0), browse)
    page_pv = np.where(k_pv == 0, sessions["landing"][real][s_pv], page_pv)
    t_pv = page_time(s_pv, k_pv)

    # Clicks per session; a session that orders clicks at least each product it buys.
    clicks = np.where(stage >= 2, 1 + rng.poisson(0.3, n), 0)
    clicks = np.maximum(clicks, n_lines * (stage >= 2))
    impressions = np.maximum(rng.poisson(1.05 * pv), clicks)
    browse_pages = pv - tail  # impressions and clicks happen before the checkout pages

    s_imp = np.repeat(np.arange(n), impressions)
    k_imp = (rng.random(s_imp.size) * browse_pages[s_imp]).astype(np.int64)
    sku_imp = rng.choice(catalog.size, size=s_imp.size, p=catalog.popularity)
    pos_imp = 1 + np.minimum(rng.geometric(0.09, s_imp.size) - 1, 23)
    t_imp = after(s_imp, k_imp, 1, 4)
    imp_first = np.cumsum(impressions) - impressions

    # A click picks one of the session's impressions; the first clicks of an ordering session are its products.
    s_clk = np.repeat(np.arange(n), clicks)
    r_clk = np.arange(s_clk.size) - np.repeat(np.cumsum(clicks) - clicks, clicks)
    picked = imp_first[s_clk] + (rng.random(s_clk.size) * impressions[s_clk]).astype(np.int64)
    is_line = r_clk < n_lines[s_clk]
    line_of_click = line_first[np.maximum(session_order[s_clk], 0)] + r_clk
    sku_clk = np.where(is_line, lines["sku"][np.minimum(line_of_click, lines["sku"].size - 1)], sku_imp[picked])
    pos_clk = np.where(is_line, 1 + rng.integers(0, 12, s_clk.size), pos_imp[picked])
    k_clk = np.minimum(k_imp[picked], np.maximum(browse_pages[s_clk] - 1, 0))
    t_clk = after(s_clk, k_clk, 2, 9)
    sku_imp[picked[is_line]] = sku_clk[is_line]  # the bought product was shown where it was clicked
    pos_imp[picked[is_line]] = pos_clk[is_line]
    clk_first = np.cumsum(clicks) - clicks

    # Add to cart on the page before /cart: the order's lines, or one or two clicked products.
    carts = np.where(stage >= 3, np.where(n_lines > 0, n_lines, 1 + (rng.random(n) < 0.3)), 0)
    s_cart = np.repeat(np.arange(n), carts)
    r_cart = np.arange(s_cart.size) - np.repeat(np.cumsum(carts) - carts, carts)
    has_lines = n_lines[s_cart] > 0
    line_of_cart = line_first[np.maximum(session_order[s_cart], 0)] + np.minimum(r_cart, n_lines[s_cart] - 1)
    clicked = clk_first[s_cart] + (rng.random(s_cart.size) * clicks[s_cart]).astype(np.int64)
    sku_cart = np.where(
        has_lines,
        lines["sku"][np.minimum(line_of_cart, lines["sku"].size - 1)],
        sku_clk[np.minimum(clicked, sku_clk.size - 1)],
    )
    t_cart = after(s_cart, browse_pages[s_cart] - 1, 3, 30)

    s_chk = np.flatnonzero(stage >= 4)
    t_chk = page_time(s_chk, browse_pages[s_chk] + 1)  # on the /checkout page view
    s_buy = np.flatnonzero(stage == 5)
    t_buy = page_time(s_buy, pv[s_buy] - 1)  # on the /checkout/success page view; equals the order time

    session = np.concatenate([s_pv, s_imp, s_clk, s_cart, s_chk, s_buy])
    kind = np.repeat(np.arange(6), [s_pv.size, s_imp.size, s_clk.size, s_cart.size, s_chk.size, s_buy.size])
    t = np.concatenate([t_pv, t_imp, t_clk, t_cart, t_chk, t_buy])
    none = np.full(s_chk.size + s_buy.size, -1)
    sku = np.concatenate([np.full(s_pv.size, -1), sku_imp, sku_clk, sku_cart, none])
    page = np.concatenate(
        [
            page_pv,
            page_pv[pv_start[s_imp] + k_imp],
            page_pv[pv_start[s_clk] + k_clk],
            catalog.product_page0 + sku_cart,
            np.full(s_chk.size, CHECKOUT),
            np.full(s_buy.size, SUCCESS),
        ]
    )
    position = np.concatenate(
        [np.zeros(s_pv.size, np.int64), pos_imp, pos_clk, np.zeros(none.size + s_cart.size, np.int64)]
    )
    order = np.lexsort((kind, t, session))
    session, kind, t, sku, page, position = (a[order] for a in (session, kind, t, sku, page, position))

    return pl.DataFrame(
        {
            "event_id": _ids("E", np.arange(1, t.size + 1), 9),
            "session_id": session_ids.gather(real[session]),
            "occurred_at": _timestamps(cal, t),
            "event_type": pl.Series(FUNNEL_EVENTS).gather(kind),
            "sku": pl.Series([*catalog.sku, None], dtype=pl.String).gather(np.where(sku < 0, catalog.size, sku)),
            "page": pl.Series(catalog.pages).gather(page),
            "position": pl.Series(position, dtype=pl.Int32),
        }
    ).with_columns(pl.when(pl.col("position") > 0).then(pl.col("position")).alias("position"))


# ---------------------------------------------------------------------------------------------------------------------
# Ad spend and operating expenses


def _ad_spend(rng: np.random.Generator, cal: Calendar, sessions: Block) -> pl.DataFrame:
    """One row per day and paid campaign: impressions, clicks (about the sessions it brought) and cost in CNY."""
    real = ~sessions["phone"]
    weights = _campaign_weights(cal)
    paid = np.array([c.cpc > 0 for c in CAMPAIGNS])
    visits = np.zeros((cal.days, len(CAMPAIGNS)), dtype=np.int64)
    np.add.at(visits, (sessions["day"][real], sessions["campaign"][real]), 1)
    day, campaign = np.nonzero((weights > 0) & paid[None, :])
    cpc = np.array([c.cpc for c in CAMPAIGNS])[campaign]
    ctr = np.array([c.ctr for c in CAMPAIGNS])[campaign]
    promo = np.minimum(cal.promo[day], 1.5)
    # Not every ad click becomes a session (slow pages, back button); peak days have dearer, less clicked ads.
    clicks = np.round(visits[day, campaign] / rng.uniform(0.82, 0.95, day.size)).astype(np.int64)
    clicks += rng.poisson(2, day.size)
    impressions = np.round(clicks / (ctr * rng.lognormal(0, 0.12, day.size) / (1 + 0.2 * promo))).astype(np.int64)
    cost = clicks * cpc * (1 + 0.5 * promo) * rng.lognormal(0, 0.08, day.size)
    return pl.DataFrame(
        {
            "date": cal.dates[day],
            "source": pl.Series([CAMPAIGNS[c].source for c in campaign], dtype=pl.String),
            "medium": pl.Series([CAMPAIGNS[c].medium for c in campaign], dtype=pl.String),
            "campaign": pl.Series([CAMPAIGNS[c].name for c in campaign], dtype=pl.String),
            "cost": np.round(cost, 2),
            "impressions": impressions,
            "clicks": clicks,
        }
    )


def _expenses(
    rng: np.random.Generator, cal: Calendar, orders: Block, lines: Block, ad_spend: pl.DataFrame
) -> pl.DataFrame:
    """One row per month and category of operating expense (CNY), sized so the shop nets a modest profit."""
    months = np.unique(cal.months)
    month_of_day = np.searchsorted(months, cal.months)
    covered = np.bincount(month_of_day, minlength=months.size)
    month_days = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    coverage = covered / month_days

    # The month's contribution as the P&L computes it (SPEC §4), in CNY.
    valid = np.isin(orders["status"], [STATUSES.index(s) for s in VALID_STATUSES])
    m_order = month_of_day[orders["day"]]
    value = lines["quantity"] * lines["unit_price"]
    gross = np.bincount(lines["order"], weights=value, minlength=valid.size)
    kept = valid & (orders["status"] != RETURNED)
    cogs = np.bincount(lines["order"], weights=lines["quantity"] * lines["unit_cost"], minlength=valid.size)
    revenue = gross - orders["discount"] - orders["refund"] + orders["shipping_fee"]
    margin = revenue - np.where(kept, cogs, 0) - orders["shipping_cost"] - orders["payment_fee"]

    def per_month(values: np.ndarray) -> np.ndarray:
        return np.bincount(m_order[valid], weights=values[valid], minlength=months.size) / 100

    ad_day = (ad_spend["date"].to_numpy() - cal.dates[0]).astype(np.int64)
    ad = np.bincount(month_of_day[ad_day], weights=ad_spend["cost"].to_numpy(), minlength=months.size)
    revenue_m, contribution_m = per_month(revenue), per_month(margin) - ad
    orders_full = np.bincount(m_order[valid], minlength=months.size) / coverage  # orders of a whole month

    variable = {name: per_order * orders_full + base for name, _, per_order, base in VARIABLE_EXPENSES}
    month_no = months.astype(np.int64) % 12 + 1
    year_no = months.astype("datetime64[Y]").astype(np.int64) - months.astype("datetime64[Y]").astype(np.int64)[0]
    # The team grows with the business: staff and tools follow the trailing three months' revenue.
    full_revenue = np.maximum(revenue_m / coverage, 1.0)
    trailing = np.array([full_revenue[max(0, i - 2) : i + 1].mean() for i in range(months.size)])
    trend = trailing / trailing.mean()
    shapes = {
        "rent": 1.05**year_no,
        "salaries": 0.2 + 0.8 * trend,
        "software": 0.6 + 0.4 * trend,
        "utilities": 1 + 0.3 * np.isin(month_no, (7, 8, 1, 12)),
        "professional_services": np.ones(months.size),
        "office": rng.lognormal(0, 0.15, months.size),
        "content": (0.5 + 0.5 * trend) * (1 + 0.8 * np.isin(month_no, (5, 10))),  # shoots before 618 and 双11
    }
    # The P&L counts a month's expenses pro rata by the days the window covers; size the fixed costs (CNY a month)
    # so that contribution - expenses = NET_MARGIN_TARGET x revenue, but keep a small team's floor.
    target = contribution_m.sum() - NET_MARGIN_TARGET * revenue_m.sum()
    variable_total = sum((coverage * v).sum() for v in variable.values())
    fixed_shape = sum(share * shapes[name] for name, _, share in EXPENSES)
    fixed_base = max((target - variable_total) / (coverage * fixed_shape).sum(), 30_000.0)

    rows = []
    for name, note, share in EXPENSES:
        rows.append((name, note, fixed_base * share * shapes[name] * rng.lognormal(0, 0.02, months.size)))
    for name, note, *_ in VARIABLE_EXPENSES:
        rows.append((name, note, variable[name]))
    return pl.DataFrame(
        {
            "month": [str(m) for _ in rows for m in months],
            "category": [name for name, _, _ in rows for _ in months],
            "amount": np.round(np.concatenate([amount for _, _, amount in rows]), 2),
            "note": [note for _, note, _ in rows for _ in months],
        }
    ).sort("month", "category")


# ---------------------------------------------------------------------------------------------------------------------
# Frames in the canonical columns of SPEC §2


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """Identifiers like S00000042: a prefix and a zero-padded number."""
    return pl.select(pl.lit(prefix) + pl.Series(numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)).to_series()


def _timestamps(cal: Calendar, seconds: np.ndarray) -> np.ndarray:
    """Naive local timestamps (store time) from seconds since the window's first midnight."""
    return (np.datetime64(cal.start, "s") + seconds.astype("timedelta64[s]")).astype("datetime64[ms]")


def _session_ids(sessions: Block) -> pl.Series:
    """The session id of each session row; null for orders taken by phone, which have no session."""
    ids = _ids("S", np.cumsum(~sessions["phone"]), 8)
    return pl.select(pl.when(pl.Series(~sessions["phone"])).then(ids)).to_series()


def _customer_ids(customer: np.ndarray) -> pl.Series:
    ids = _ids("C", customer + 1, 7)
    return pl.select(pl.when(pl.Series(customer) >= 0).then(ids)).to_series()


def _money(cents: np.ndarray) -> np.ndarray:
    return cents / 100


def _products_frame(catalog: Catalog) -> pl.DataFrame:
    """One row per product."""
    return pl.DataFrame(
        {
            "sku": catalog.sku,
            "name": catalog.name,
            "category": [CATEGORIES[c].name for c in catalog.category],
            "brand": catalog.brand,
            "unit_cost": _money(catalog.cost_cents),
            "list_price": _money(catalog.list_cents),
            "supplier": catalog.supplier,
            "lead_time_days": catalog.lead_time.astype(np.int32),
        }
    )


def _order_number(cal: Calendar, orders: Block) -> pl.Series:
    """Order ids like SO20241111-00042: the day and the order's number within it."""
    day = orders["day"]
    seq = np.arange(day.size) - np.searchsorted(day, day) + 1
    date_part = pl.Series(cal.dates[day]).dt.strftime("%Y%m%d")
    return pl.select(pl.lit("SO") + date_part + pl.lit("-") + pl.Series(seq).cast(pl.String).str.zfill(5)).to_series()


def _orders_frame(cal: Calendar, orders: Block, order_ids: pl.Series, session_ids: pl.Series) -> pl.DataFrame:
    """One row per order."""
    coupon = np.array([c[0] for c in COUPONS] + [None], dtype=object)
    return pl.DataFrame(
        {
            "order_id": order_ids,
            "ordered_at": _timestamps(cal, orders["t"]),
            "status": pl.Series(STATUSES).gather(orders["status"]),
            "customer_id": _customer_ids(orders["customer"]),
            "session_id": session_ids.gather(orders["session_row"]),
            "subtotal": _money(orders["subtotal"]),
            "discount": _money(orders["discount"]),
            "shipping_fee": _money(orders["shipping_fee"]),
            "shipping_cost": _money(orders["shipping_cost"]),
            "payment_fee": _money(orders["payment_fee"]),
            "refund_amount": _money(orders["refund"]),
            "currency": pl.Series([CURRENCY] * orders["t"].size, dtype=pl.String),
            "region": pl.Series([r for r, _, _ in REGIONS]).gather(orders["region"]),
            "payment_method": pl.Series(PAYMENT_METHODS).gather(orders["method"]),
            "coupon_code": pl.Series(coupon[orders["coupon"]].tolist(), dtype=pl.String),
        }
    )


def _order_items_frame(catalog: Catalog, lines: Block, order_ids: pl.Series) -> pl.DataFrame:
    """One row per order line."""
    return pl.DataFrame(
        {
            "order_id": order_ids.gather(lines["order"]),
            "line_no": lines["line_no"].astype(np.int32),
            "sku": pl.Series(catalog.sku).gather(lines["sku"]),
            "quantity": lines["quantity"].astype(np.int32),
            "unit_price": _money(lines["unit_price"]),
            "unit_cost": _money(lines["unit_cost"]),
        }
    )


def _inventory_frame(cal: Calendar, catalog: Catalog, inventory: Block) -> pl.DataFrame:
    """One row per day and product: units on hand and on order at the end of the day."""
    return pl.DataFrame(
        {
            "date": np.repeat(cal.dates, catalog.size),
            "sku": pl.Series(catalog.sku).gather(np.tile(np.arange(catalog.size), cal.days)),
            "on_hand": inventory["on_hand"].ravel(),
            "on_order": inventory["on_order"].ravel(),
        }
    )


def _sessions_frame(cal: Calendar, catalog: Catalog, sessions: Block, session_ids: pl.Series) -> pl.DataFrame:
    """One row per session (GA4-like export), sorted by start."""
    real = np.flatnonzero(~sessions["phone"])
    visitor = sessions["visitor"][real]
    start = sessions["start"][real]
    # GA-style client ids: a random number and the unix time of the visitor's first visit.
    keys, first_row, inverse = np.unique(visitor, return_index=True, return_inverse=True)
    unix = (np.datetime64(cal.start, "s") - np.datetime64("1970-01-01T00:00:00", "s")).astype(np.int64)
    unix = unix + start[first_row] - UTC_OFFSET_S
    client = pl.select(
        pl.Series(sessions["client"][real][first_row]).cast(pl.String) + pl.lit(".") + pl.Series(unix).cast(pl.String)
    ).to_series()
    campaign = sessions["campaign"][real]
    return pl.DataFrame(
        {
            "session_id": session_ids.gather(real),
            "visitor_id": client.gather(inverse),
            "started_at": _timestamps(cal, start),
            "source": pl.Series(SOURCES).gather(sessions["source"][real]),
            "medium": pl.Series([c.medium for c in CAMPAIGNS]).gather(campaign),
            "campaign": pl.Series([c.name for c in CAMPAIGNS], dtype=pl.String).gather(campaign),
            "device": pl.Series(DEVICES).gather(sessions["device"][real]),
            "landing_page": pl.Series(catalog.pages).gather(sessions["landing"][real]),
            "region": pl.Series([r for r, _, _ in REGIONS]).gather(sessions["region"][real]),
            "customer_id": _customer_ids(sessions["customer"][real]),
            "pageviews": sessions["pageviews"][real].astype(np.int32),
            "duration_s": sessions["duration"][real].astype(np.float64),
        }
    )
