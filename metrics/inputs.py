"""What the shop has given at all: a figure that needs an input the shop has not given is null with its reason.

SPEC §4: a figure that needs an input the shop has not given at all (no unit cost anywhere, an empty ad_spend or
expenses table, no visitor ids) is null with its reason, never computed as if the missing input were 0; once the shop
gives that input, a group or day without rows in it is a true 0 (no ad spend on organic search). Each measure of the
registry names the inputs it needs (`Measure.inputs`); `inputs_of(metric)` follows a metric down to its measures.
Whether an input is given is a fact about the whole shop, not about a period, group or filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import polars as pl

from metrics.registry import inputs_of


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
    but no session logs (session logs win where a shop has both)."""
    return "session_logs" in missing and "platform_traffic" not in missing


def unknown(names: Iterable[str], missing: frozenset[str], lang: str = "en") -> dict[str, str]:
    """The metrics (or measures) among `names` that need a missing input, each with its reason."""
    traffic = from_traffic(missing)
    found = {}
    for name in names:
        needed = inputs_of(name, traffic)
        lacking = [INPUTS[i] for i in INPUTS if i in missing and i in needed]
        if lacking:
            found[name] = "; ".join(entry.reason(lang) for entry in lacking)
    return found


def blank_unknown(frame: pl.DataFrame, missing: frozenset[str]) -> pl.DataFrame:
    """`frame` with its metric columns that need a missing input set to null."""
    if not missing:
        return frame
    names = unknown([c for c in frame.columns if _is_figure(c)], missing)
    return frame.with_columns(pl.lit(None, dtype=frame.schema[name]).alias(name) for name in names)


def _is_figure(column: str) -> bool:
    try:
        inputs_of(column)
    except KeyError:
        return False
    return True


__all__ = ["INPUTS", "Input", "blank_unknown", "from_traffic", "missing_inputs", "unknown"]
