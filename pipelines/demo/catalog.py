"""The demo shop's products: ten categories of a Chinese D2C shop with their brands, suppliers, prices, margins, lead
times and return rates, drawn into about 200 products (sku), and the shop's page vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
