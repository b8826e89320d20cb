"""The demo shop's after-sales: the returned lines of its returned orders (reason, quantity, refund, days after
delivery) and its customer-service tickets (pre-sale inquiries, complaints, return and refund requests, other
questions) with response and resolution times and satisfaction scores.

Drawn from a Generator of its own (seeded from the shop's seed), after every other stage, so the other files stay
byte-identical to those of a shop without tickets. Times are seconds since the window's first midnight, store time.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo.calendar import DAY_S, Calendar
from pipelines.demo.catalog import CATEGORIES, Catalog
from pipelines.demo.orders import CANCELLED, DELIVERED, PLACED, RETURNED
from pipelines.demo.traffic import REGIONS, Block
from warehouse import TICKET_TYPES

INQUIRY, COMPLAINT, RETURN, REFUND, OTHER = range(len(TICKET_TYPES))
CHANNELS = ("chat", "app", "phone", "email")
CHANNEL_MIX = np.array([0.75, 0.12, 0.08, 0.05])
APPAREL = {"womenswear", "menswear"}

# Return reasons; apparel comes back for size far more often than anything else does.
RETURN_REASONS = ("size_fit", "changed_mind", "quality", "not_as_described", "damaged_in_transit", "wrong_item")
APPAREL_REASONS = np.array([0.45, 0.2, 0.12, 0.15, 0.05, 0.03])
OTHER_REASONS = np.array([0.02, 0.4, 0.25, 0.15, 0.12, 0.06])
COMPLAINT_REASONS = ("late_delivery", "damaged_in_transit", "wrong_item", "quality", "service_attitude")
INQUIRY_REASONS = ("size_advice", "stock", "delivery_time", "price_promotion", "product_details")
REFUND_REASONS = ("price_protection", "goodwill")
OTHER_TICKET_REASONS = ("invoice", "address_change", "account")

OPEN_HOUR, CLOSE_HOUR = 9, 23  # the service desk answers 9:00-23:00; later tickets wait for the morning
SCORES = np.array([5, 4, 3, 2, 1])
CONTENT = np.array([0.62, 0.25, 0.08, 0.03, 0.02])  # scores after a quick answer
UNHAPPY = np.array([0.3, 0.28, 0.18, 0.12, 0.12])  # after a complaint or a slow answer


def _returns(rng: np.random.Generator, cal: Calendar, catalog: Catalog, orders: Block, lines: Block) -> Block:
    """One row per returned line: order row, line row, quantity, refund (cents), reason, request time, days after
    delivery. A whole return sends every line back; a partial one the order's first line."""
    status = orders["status"]
    kept = orders["returned"] & np.isin(status, (DELIVERED, RETURNED))
    order, quantity = lines["order"], lines["quantity"]
    first_line = np.r_[True, order[1:] != order[:-1]]
    returned_line = kept[order] & (~orders["partial_return"][order] | first_line)
    rows = np.flatnonzero(returned_line)
    line_order = order[rows]
    value = lines["unit_price"][rows] * quantity[rows]
    # Each order's refund spread over its returned lines by value, the rounding left on its first returned line.
    returned_value = np.bincount(line_order, weights=value, minlength=orders["t"].size)
    refund = np.floor(orders["refund"][line_order] * value / np.maximum(returned_value[line_order], 1))
    refund = refund.astype(np.int64)
    short = orders["refund"] - np.bincount(line_order, weights=refund, minlength=orders["t"].size).astype(np.int64)
    first_returned = np.r_[True, line_order[1:] != line_order[:-1]]
    refund = refund + np.where(first_returned, short[line_order], 0)

    slug = np.array([c.slug for c in CATEGORIES])[catalog.category[lines["sku"][rows]]]
    apparel = np.isin(slug, list(APPAREL))
    reason = np.where(
        apparel,
        rng.choice(len(RETURN_REASONS), size=rows.size, p=APPAREL_REASONS),
        rng.choice(len(RETURN_REASONS), size=rows.size, p=OTHER_REASONS),
    )
    # One request per order: most within the 7-day no-reason window, quality problems later, never after the export.
    delivered = orders["day"] * DAY_S + orders["delivered_after"] * DAY_S + 14 * 3600
    n = orders["t"].size
    per_order = np.where(rng.random(n) < 0.8, rng.integers(0, 8, n), rng.integers(8, 16, n))
    latest = np.maximum((cal.days * DAY_S - 1 - delivered) // DAY_S, 0)
    days = np.minimum(per_order, latest)
    requested = delivered + days * DAY_S + rng.integers(-4 * 3600, 7 * 3600, n)
    requested = np.minimum(requested, cal.days * DAY_S - 1)
    return {
        "order": line_order,
        "line": rows,
        "quantity": quantity[rows],
        "refund": refund,
        "reason": reason,
        "at": requested[line_order],
        "days": days[line_order],
    }


def _tickets(rng: np.random.Generator, cal: Calendar, orders: Block, returns: Block) -> Block:
    """One row per ticket: type, order row (-1 for none), reason index, opened / first response / resolved (seconds,
    -1 for not yet), channel, satisfaction score (0 for none)."""
    n = orders["t"].size
    status, refund = orders["status"], orders["refund"]
    paid = ~np.isin(status, (PLACED, CANCELLED))
    end = cal.days * DAY_S
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # type, order, reason, opened

    # Pre-sale inquiries: about one paid order in nine was preceded by a chat; as many chats led to no order.
    asked = np.flatnonzero(paid & (rng.random(n) < 0.11))
    before = orders["t"][asked] - rng.integers(5, 180, asked.size) * 60
    parts.append((np.full(asked.size, INQUIRY), asked, rng.integers(0, len(INQUIRY_REASONS), asked.size), before))
    lost = rng.choice(n, size=int(asked.size * 0.95))
    shifted = orders["t"][lost] - rng.integers(5, 600, lost.size) * 60
    parts.append((np.full(lost.size, INQUIRY), np.full(lost.size, -1), rng.integers(0, 5, lost.size), shifted))

    # Complaints after delivery: late parcels to remote provinces most of all.
    delivered = orders["day"] * DAY_S + orders["delivered_after"] * DAY_S + 14 * 3600
    remote = np.array([t for _, _, t in REGIONS])[orders["region"]] == 3
    complains = np.flatnonzero(
        np.isin(status, (DELIVERED, RETURNED)) & (rng.random(n) < np.where(remote, 0.035, 0.012))
    )
    reason = np.where(remote[complains], 0, rng.integers(0, len(COMPLAINT_REASONS), complains.size))
    opened = delivered[complains] + rng.integers(1, 72, complains.size) * 3600
    parts.append((np.full(complains.size, COMPLAINT), complains, reason, opened))

    # Return requests (one per returned order, opened when the return was asked for) and refund-only requests
    # (price protection and goodwill refunds on kept orders).
    _, first = np.unique(returns["order"], return_index=True)
    returned = returns["order"][first]
    parts.append((np.full(returned.size, RETURN), returned, returns["reason"][first], returns["at"][first] - 1800))
    refunded = np.flatnonzero((status == DELIVERED) & (refund > 0) & ~orders["returned"])
    opened = delivered[refunded] + rng.integers(1, 96, refunded.size) * 3600
    parts.append(
        (np.full(refunded.size, REFUND), refunded, rng.integers(0, len(REFUND_REASONS), refunded.size), opened)
    )

    # Other questions: invoices, address changes, accounts.
    others = np.flatnonzero(paid & (rng.random(n) < 0.01))
    opened = orders["t"][others] + rng.integers(10, 2880, others.size) * 60
    parts.append((np.full(others.size, OTHER), others, rng.integers(0, len(OTHER_TICKET_REASONS), others.size), opened))

    kind, order, reason, opened = (np.concatenate(column) for column in zip(*parts, strict=True))
    inside = (opened >= 0) & (opened < end)
    kind, order, reason, opened = kind[inside], order[inside], reason[inside], opened[inside]
    sort = np.argsort(opened, kind="stable")
    kind, order, reason, opened = kind[sort], order[sort], reason[sort], opened[sort]
    m = opened.size

    channel = rng.choice(len(CHANNELS), size=m, p=CHANNEL_MIX)
    # First response: minutes on chat and app (slower on promotion days), at once on the phone, hours by email;
    # a ticket opened while the desk is closed waits for the morning.
    day = np.minimum(opened // DAY_S, cal.days - 1)
    busy = 1 + 2.5 * np.minimum(cal.promo[day], 1.0)
    minutes = rng.lognormal(np.log(9), 0.85, m) * busy
    minutes = np.where(channel == 2, rng.uniform(0, 2, m), minutes)
    minutes = np.where(channel == 3, rng.lognormal(np.log(240), 0.6, m), minutes)
    hour = (opened % DAY_S) / 3600
    wait = np.where(hour < OPEN_HOUR, (OPEN_HOUR - hour) * 3600, 0)
    wait = np.where(hour >= CLOSE_HOUR, (24 - hour + OPEN_HOUR) * 3600, wait)
    responded = opened + wait + np.round(minutes * 60).astype(np.int64)
    # Resolution after the first response: minutes for questions, a day or so for complaints and refunds, days for
    # returns (the parcel has to come back).
    typical_hours = np.array([0.3, 20.0, 72.0, 26.0, 3.0])[kind]
    resolved = responded + np.round(rng.lognormal(np.log(typical_hours), 0.7) * 3600).astype(np.int64)
    answered = responded < end
    done = resolved < end
    slow = (responded - opened) > 30 * 60
    unhappy = (kind == COMPLAINT) | slow
    score = np.where(unhappy, rng.choice(SCORES, size=m, p=UNHAPPY), rng.choice(SCORES, size=m, p=CONTENT))
    rated = done & (rng.random(m) < 0.35)
    return {
        "kind": kind,
        "order": order,
        "reason": reason,
        "opened": opened,
        "responded": np.where(answered, responded, -1),
        "resolved": np.where(done, resolved, -1),
        "channel": channel,
        "score": np.where(rated, score, 0),
    }


# The reason words of each ticket type, by the type's index in TICKET_TYPES.
TICKET_REASONS = (INQUIRY_REASONS, COMPLAINT_REASONS, RETURN_REASONS, REFUND_REASONS, OTHER_TICKET_REASONS)

__all__ = ["CHANNELS", "RETURN_REASONS", "TICKET_REASONS"]
