"""The demo shop's click events (GA4-like): page views, product impressions and clicks, carts, checkouts and
purchases inside each session, consistent with its funnel step and its order's lines."""

from __future__ import annotations

import numpy as np

from pipelines.demo.catalog import CART, CATEGORIES, CHECKOUT, HOME, SEARCH, SUCCESS, Catalog
from pipelines.demo.traffic import Block

# Event types in funnel order: within one second of a session, events sort in this order.
FUNNEL_EVENTS = ("page_view", "impression", "click", "add_to_cart", "begin_checkout", "purchase")
TAIL_PAGES = np.array([0, 0, 0, 1, 2, 3])  # /cart, /checkout, /checkout/success at the end of deeper sessions


def _events(
    rng: np.random.Generator,
    catalog: Catalog,
    sessions: Block,
    orders: Block,
    lines: Block,
) -> Block:
    """One row per event (GA4-like): page views, product impressions and clicks, carts, checkouts, purchases, sorted
    by session and time: the session row, the kind (index into FUNNEL_EVENTS), the time, sku, page and position."""
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

    return {"session_row": real[session], "kind": kind, "t": t, "sku": sku, "page": page, "position": position}
