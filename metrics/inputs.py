"""What the shop has given at all: a figure that needs an input the shop has not given is null with its reason.

SPEC §4: a figure that needs an input the shop has not given at all (no unit cost anywhere, an empty ad_spend or
expenses table, no visitor ids) is null with its reason, never computed as if the missing input were 0; once the shop
gives that input, a group or day without rows in it is a true 0 (no ad spend on organic search). Each measure of the
registry names the inputs it needs (`Measure.inputs`); `inputs_of(metric)` follows a metric down to its measures.
Whether an input is given is a fact about the whole shop, not about a period, group or filter.

Several stores (issue 13): each store's session figures come from its own session logs where it has any, else from its
platform's traffic report (`SessionStores`, decided per store, never once for the warehouse). A figure over stores of
both kinds needs what each kind needs: the logs' inputs (visitor ids, events, …) for the logged stores and a report
for the others, so a figure only one kind gives is unknown for the stores together, with the reason, never the other
kind's stores' figure alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from metrics.registry import MEASURES, inputs_of, measures_of
from metrics.segments import ALL, Segment
from warehouse import DEFAULT_STORE

# polars is imported where a frame is made: a load (`shopkpi ingest`) imports this module for the rollups' SQL
# and needs no frame (tests/cli/test_lazy_imports.py).
if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Input:
    """One kind of data a shop may not have given: how to tell whether it has, and what to say when it has not."""

    name: str
    given: str  # a SQL condition, true once the shop has given the input
    reason_en: str
    reason_zh: str

    def reason(self, lang: str = "en") -> str:
        return self.reason_zh if lang == "zh" else self.reason_en


INPUTS: dict[str, Input] = {
    i.name: i
    for i in (
        Input("orders", "exists (select 1 from orders)", "no orders loaded", "尚未导入订单"),
        Input(
            "order_values",
            "exists (select 1 from order_items) or exists (select 1 from orders where subtotal is not null)",
            "no order values loaded (order_items, or orders.subtotal for exports without line items)",
            "尚未导入订单金额（order_items，或无商品明细导出的 orders.subtotal）",
        ),
        Input(
            "order_lines",
            "exists (select 1 from order_items)",
            "no order lines loaded (order_items)",
            "尚未导入订单商品明细（order_items）",
        ),
        Input(
            "customer_ids",
            "exists (select 1 from orders where nullif(trim(customer_id), '') is not null)",
            "no order carries a customer id (guest checkouts only)",
            "订单均无客户 ID（全部为游客下单）",
        ),
        Input(
            "unit_costs",
            "exists (select 1 from order_items where unit_cost is not null)"
            " or exists (select 1 from products where unit_cost is not null)",
            "no unit cost loaded (products.unit_cost or order_items.unit_cost)",
            "尚未导入单位成本（products.unit_cost 或 order_items.unit_cost）",
        ),
        Input(
            "sessions",
            "exists (select 1 from sessions) or exists (select 1 from traffic)",
            "no sessions loaded (neither session logs nor a platform's traffic report)",
            "尚未导入访问数据（既无访问日志，也无平台流量报表）",
        ),
        Input("session_logs", "exists (select 1 from sessions)", "no session logs loaded", "尚未导入访问日志"),
        Input(
            "platform_traffic",
            "exists (select 1 from traffic)",
            "no platform traffic report loaded",
            "尚未导入平台流量报表",
        ),
        Input(
            "sessions_from_report",
            "not exists (select 1 from sessions) and exists (select 1 from traffic)",
            "only a platform's traffic report gives it, and this shop's session figures do not come from one"
            " (with session logs, total_revenue splits sales by source)",
            "仅平台流量报表提供此数，而本店的访问数据并非来自平台报表（有访问日志时，请按来源查看总收入）",
        ),
        Input(
            "visitor_ids",
            "exists (select 1 from sessions where visitor_id <> session_id)",
            "the sessions carry no visitor ids (each session is its own visitor)",
            "访问数据没有访客 ID（每次访问各算一位访客）",
        ),
        Input(
            "page_views",
            "exists (select 1 from sessions where pageviews is not null)"
            " or exists (select 1 from events where event_type = 'page_view')",
            "no page views loaded (sessions.pageviews or page_view events)",
            "尚未导入页面浏览数据（sessions.pageviews 或 page_view 事件）",
        ),
        Input(
            "durations",
            "exists (select 1 from sessions where duration_s is not null)",
            "the sessions carry no duration (sessions.duration_s)",
            "访问数据没有时长（sessions.duration_s）",
        ),
        Input("events", "exists (select 1 from events)", "no events loaded", "尚未导入行为事件"),
        Input(
            "ad_spend",
            "exists (select 1 from ad_spend)",
            "no ad spend loaded (the ad_spend table is empty)",
            "尚未导入广告花费（ad_spend 表为空）",
        ),
        Input(
            "expenses",
            "exists (select 1 from expenses)",
            "no operating expenses loaded (the expenses table is empty)",
            "尚未导入运营费用（expenses 表为空）",
        ),
    )
}


def missing_inputs(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The inputs the shop has not given at all (names of INPUTS)."""
    checks = ", ".join(f"({entry.given}) as {name}" for name, entry in INPUTS.items())
    given = con.sql(f"select {checks}").fetchall()[0]
    return frozenset(name for name, ok in zip(INPUTS, given, strict=True) if not ok)


def from_traffic(missing: frozenset[str]) -> bool:
    """Whether session measures come from the platform's traffic aggregates: the shop has loaded a traffic report
    but no session logs (session logs win where a shop has both). With several stores, `session_stores` says it per
    store."""
    return "session_logs" in missing and "platform_traffic" not in missing


# The inputs only session logs give: a store whose session figures come from a platform's traffic report has none of
# them, whatever the other stores' logs give.
LOG_INPUTS = ("session_logs", "visitor_ids", "page_views", "durations", "events")
_LOG_INPUT_WHAT = {
    "session_logs": ("session logs", "访问日志"),
    "visitor_ids": ("visitor ids", "访客 ID"),
    "page_views": ("page views per session", "每次访问的页面浏览数"),
    "durations": ("session durations", "访问时长"),
    "events": ("on-site events (impressions, clicks, add-to-carts)", "站内行为事件（曝光、点击、加购）"),
}


@dataclass(frozen=True)
class SessionStores:
    """Where the session figures of the stores in view come from (issue 13): a store's session logs where it has any,
    else its platform's traffic report. A store with neither has no session figures and is in neither."""

    logged: tuple[str, ...] = ()  # stores with session logs (their traffic reports, if any, are not read)
    reported: tuple[str, ...] = ()  # stores with a traffic report and no session logs

    @property
    def kind(self) -> str:
        """'logs' (no store's figures come from a report, the one-shop case too), 'report' (every store's with
        session figures do) or 'mixed' (some from logs, some from reports: the two are added up per store)."""
        if not self.reported:
            return "logs"
        return "mixed" if self.logged else "report"

    @property
    def one_shop(self) -> bool:
        """Whether the only store with session figures is the default store (a shop of one store: a sentence need
        not name it)."""
        return self.reported == (DEFAULT_STORE,) and not self.logged

    def only(self, store: str | None) -> SessionStores:
        """The same for one store (a group of a split by store)."""
        return SessionStores(tuple(s for s in self.logged if s == store), tuple(s for s in self.reported if s == store))


def store_list(stores: Iterable[str], lang: str = "en") -> str:
    """Store names as a sentence names them ('' is the stores' shared part, e.g. of expenses)."""
    default = "默认店铺" if lang == "zh" else "the default store"
    return ("、" if lang == "zh" else ", ").join(s if s else default for s in stores)


def session_stores(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> SessionStores:
    """Which stores of the segment (its store filter; every store without one) read their session logs and which
    their platform's traffic report. The session logs are only looked at when some store has a traffic report."""
    where = " where store = $store" if segment.store is not None else ""
    params = {"store": segment.store} if segment.store is not None else {}
    with_report = [r[0] for r in con.sql(f"select distinct store from traffic{where}", params=params).fetchall()]
    if not with_report:
        return SessionStores()
    logged = sorted(r[0] for r in con.sql(f"select distinct store from sessions{where}", params=params).fetchall())
    reported = sorted(s for s in with_report if s not in logged)
    return SessionStores(tuple(logged), tuple(reported))


def reads_sessions(name: str) -> bool:
    """Whether a metric (or measure) is computed from session measures (logs, or a platform's traffic report)."""
    return any(MEASURES[m].source == "sessions" for m in measures_of(name))


def _sides(
    missing: frozenset[str], stores: SessionStores | None, lang: str
) -> list[tuple[bool, frozenset[str], dict[str, str]]]:
    """Per kind of session input in view: whether it is a traffic report, the inputs missing for it, and reasons
    that replace INPUTS' own wording."""
    if stores is None:
        return [(from_traffic(missing), missing, {})]
    sides = []
    if stores.kind in ("report", "mixed"):
        # A report store has none of the logs' inputs, even where another store's logs give them.
        forced = [i for i in LOG_INPUTS if i not in missing]
        names = store_list(stores.reported, lang)
        report_missing = (missing - {"sessions", "platform_traffic", "sessions_from_report"}) | set(LOG_INPUTS)
        own = {
            i: (
                f"{names} 的访问数据来自平台流量报表，报表不含{_LOG_INPUT_WHAT[i][1]}"
                if lang == "zh"
                else f"{names}'s session figures come from a platform's traffic report, which has no"
                f" {_LOG_INPUT_WHAT[i][0]}"
            )
            for i in forced
        }
        sides.append((True, frozenset(report_missing), own))
    if stores.kind in ("logs", "mixed"):
        own = {}
        if stores.kind == "mixed":
            names = store_list(stores.logged, lang)
            own["sessions_from_report"] = (
                f"仅平台流量报表提供此数，而 {names} 的访问数据来自访问日志"
                if lang == "zh"
                else f"only a platform's traffic report gives it, and {names}'s session figures come from its"
                " session logs"
            )
        # No store of this side reads a report: what only a report gives is unknown for it.
        sides.append((False, missing | {"sessions_from_report"}, own))
    return sides


def unknown(
    names: Iterable[str], missing: frozenset[str], lang: str = "en", stores: SessionStores | None = None
) -> dict[str, str]:
    """The metrics (or measures) among `names` that need a missing input, each with its reason. With `stores`, the
    session inputs are those of each store's kind (`SessionStores`): over stores of both kinds a figure needs both
    kinds' inputs; without, the whole warehouse's kind (`from_traffic`)."""
    sides = _sides(missing, stores, lang)
    found = {}
    for name in names:
        reasons: list[str] = []
        for traffic, lacking_inputs, own in sides:
            needed = inputs_of(name, traffic)
            for i in INPUTS:
                if i in lacking_inputs and i in needed:
                    reason = own.get(i, INPUTS[i].reason(lang))
                    if reason not in reasons:
                        reasons.append(reason)
        if reasons:
            found[name] = "; ".join(reasons)
    return found


def blank_unknown(
    frame: pl.DataFrame, missing: frozenset[str], stores: SessionStores | None = None, by_store: bool = False
) -> pl.DataFrame:
    """`frame` with its metric columns that need a missing input set to null. Split by store (`by_store`, column
    `group`), each store's row by its own kind of session input; the row without a store by the stores together."""
    import polars as pl

    figures = [c for c in frame.columns if _is_figure(c)]
    if by_store and stores is not None and stores.kind == "mixed":
        blank_in: dict[str, list[str | None]] = {}
        for group in frame.get_column("group").unique().to_list():
            scope = stores if group is None else stores.only(group)
            for name in unknown(figures, missing, stores=scope):
                blank_in.setdefault(name, []).append(group)
        return frame.with_columns(
            pl.when(pl.col("group").is_in([g for g in groups if g is not None]) | _null_group(None in groups))
            .then(pl.lit(None, dtype=frame.schema[name]))
            .otherwise(pl.col(name))
            .alias(name)
            for name, groups in blank_in.items()
        )
    if not missing and (stores is None or stores.kind == "logs"):
        return frame
    names = unknown(figures, missing, stores=stores)
    return frame.with_columns(pl.lit(None, dtype=frame.schema[name]).alias(name) for name in names)


def _null_group(blank: bool) -> pl.Expr:
    import polars as pl

    return pl.col("group").is_null() if blank else pl.lit(False)


def _is_figure(column: str) -> bool:
    try:
        inputs_of(column)
    except KeyError:
        return False
    return True


def session_input_note(stores: SessionStores, missing: frozenset[str], lang: str = "en") -> str | None:
    """Which input a session figure of the stores in view was computed from, for its definition on a card or in a
    column's help (issue 13); None where there are no session figures at all."""
    zh = lang == "zh"
    if stores.kind == "logs":
        if "session_logs" in missing:
            return None
        return "数据来源：访问日志（sessions 与 events 表）。" if zh else "Input: session logs (sessions, events)."
    reported = store_list(stores.reported, lang)
    if stores.kind == "report":
        if stores.one_shop:
            return (
                "数据来源：平台流量报表（traffic 表），本店没有访问日志。"
                if zh
                else ("Input: the platform's traffic report (traffic table); the shop has no session logs.")
            )
        return (
            f"数据来源：{reported} 的平台流量报表（traffic 表）。"
            if zh
            else f"Input: the platform's traffic report (traffic table) of {reported}."
        )
    logged = store_list(stores.logged, lang)
    if zh:
        return (
            f"数据来源：{logged} 的访问日志，加上 {reported} 的平台流量报表"
            "（按店铺相加；两者都有的店铺以访问日志为准）。"
        )
    return (
        f"Input: the session logs of {logged}, plus the platform's traffic report of {reported} (added up store by"
        " store; a store with both is read from its logs)."
    )


__all__ = [
    "INPUTS",
    "LOG_INPUTS",
    "Input",
    "SessionStores",
    "blank_unknown",
    "from_traffic",
    "missing_inputs",
    "reads_sessions",
    "session_input_note",
    "session_stores",
    "store_list",
    "unknown",
]
