"""生意参谋 流量来源 export (Taobao / Tmall 流量 › 店铺来源, daily) → traffic.

GBK or UTF-8 CSV, or XLSX; title lines above the table (店铺名称, 统计时间 …) are skipped and the table starts at the
line holding 访客数 and a source column. One row per day and source (or per row's own range, `2024-06-01~2024-06-07`).
Sycm counts unique visitors (访客数) per day, not sessions, so a day's 访客数 is both its visitors and its sessions;
跳失率 times 访客数 gives the bounced ones. Taobao's sources map to the product's; unknown ones are kept and listed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json
from pipelines.adapters.traffic import (
    number,
    parse_period,
    read_lines,
    records,
    settle_period,
    stage,
    unknown_note,
    write_traffic,
)
from pipelines.ingest import IngestError, check_one_period

NAME = "sycm"
PLATFORM = "tmall"
SUMMARY = "生意参谋 流量来源 daily export (visitors, bounce, buyers and sales by source), GBK/UTF-8 CSV or XLSX"
TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"

COLUMNS = {
    "day": ("日期", "统计日期", "统计时间", "时间"),
    "source": ("流量来源", "来源", "来源名称", "二级来源", "渠道"),
    "group": ("一级来源", "流量类型", "来源类型"),
    "device": ("终端", "终端类型", "设备"),
    "visitors": ("访客数",),
    "pageviews": ("浏览量",),
    "bounce": ("跳失率",),
    "cart": ("加购人数",),
    "buyers": ("支付买家数",),
    "orders": ("支付订单数",),
    "revenue": ("支付金额",),
    "cost": ("花费",),
}
REQUIRED = ("source", "visitors")

# Substrings of a Taobao source, first match wins (淘宝直播 before 直播; 直通车 before 搜索) → (source, medium).
SOURCES = (
    ("直通车", "paid_search", "paid"),
    ("淘宝客", "affiliate", "paid"),
    ("超级推荐", "display", "paid"),
    ("引力魔方", "display", "paid"),
    ("万相台", "display", "paid"),
    ("钻石展位", "display", "paid"),
    ("钻展", "display", "paid"),
    ("品销宝", "display", "paid"),
    ("直播", "live", "organic"),
    ("手淘搜索", "organic_search", "organic"),
    ("淘宝搜索", "organic_search", "organic"),
    ("天猫搜索", "organic_search", "organic"),
    ("手淘首页", "recommendation", "organic"),
    ("猜你喜欢", "recommendation", "organic"),
    ("手淘推荐", "recommendation", "organic"),
    ("购物车", "direct", "direct"),
    ("我的淘宝", "direct", "direct"),
    ("收藏", "direct", "direct"),
    ("已买到", "direct", "direct"),
    ("直接访问", "direct", "direct"),
    ("自主访问", "direct", "direct"),
    ("站外", "referral", "organic"),
    ("淘外", "referral", "organic"),
)
# 一级来源 → medium, for a second-level source the table above does not know.
GROUPS = (("付费", "paid"), ("免费", "organic"), ("自主", "direct"), ("淘外", "organic"), ("站外", "organic"))
DEVICES = (("无线", "mobile"), ("移动", "mobile"), ("手机", "mobile"), ("pc", "desktop"), ("电脑", "desktop"))
TOTALS = ("汇总", "合计", "总计", "全部")
DATES = r"\d{4}[-/.]?\d{1,2}[-/.]?\d{1,2}"


def _header_line(path: Path, lines: list[str]) -> int:
    """Index of the table's header: the first line naming 访客数 and a source column."""
    for index, line in enumerate(lines[:50]):
        if "访客数" in line and any(s in line for s in COLUMNS["source"]):
            return index
    raise IngestError(
        f"{path}: not a 生意参谋 流量来源 export: no line names 访客数 and 来源 (or 流量来源) in its first 50 lines; "
        "export 流量 › 店铺来源 as a table, or use `shopkpi ingest traffic FILE --map …`"
    )


def _rules(pairs: tuple, value: str) -> str:
    return " ".join(f"when contains(%s, '{k}') then '{v}'" for k, v in pairs).replace("%s", value)


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """The traffic file of one 流量来源 export."""
    lines = read_lines(path, workdir, options)
    header_at = _header_line(path, lines)
    body = records(lines, header_at, options.delimiter)
    header, rows = body[0].fields, body[1:]
    names = stage(con, path, workdir, options, header, rows)
    found = find_columns(path, names, COLUMNS, REQUIRED, "a 生意参谋 流量来源 export")
    stated = next((p for p in map(parse_period, lines[:header_at]) if p), None)
    period = None
    if found["day"] is None:
        period = settle_period(path, stated, options, "title lines (统计时间) or a 日期 column")
    source_rules = " ".join(f"when contains(source_text, '{k}') then ['{s}', '{m}']" for k, s, m in SOURCES)
    data_columns = [c for c in names.values() if c != "_source_line"]
    default_first = f"date '{period[0]}'" if period else "null::date"
    default_last = f"date '{period[1]}'" if period else "null::date"
    con.execute(
        f"""
        create or replace table sycm_staged as
        with extracted as (
            select cast(_source_line as bigint) as _line,
                {col(found, "day")} as day_text,
                {col(found, "source")} as source_text,
                {col(found, "group")} as group_text,
                lower({col(found, "device")}) as device_text,
                {col(found, "visitors")} as visitors_text,
                {number(col(found, "visitors"))} as visitors_n,
                {number(col(found, "pageviews"))} as pageviews_n,
                {col(found, "bounce")} as bounce_text,
                {number(col(found, "bounce"))} as bounce_n,
                {number(col(found, "cart"))} as cart_n,
                {number(col(found, "buyers"))} as buyers_n,
                {number(col(found, "orders"))} as orders_n,
                {number(col(found, "revenue"))} as revenue_n,
                {number(col(found, "cost"))} as cost_n,
                {raw_json(data_columns)} as _raw_all
            from src
        ),
        typed as (
            select *,
                regexp_extract_all(coalesce(day_text, ''), '{DATES}') as day_parts,
                case when contains(bounce_text, '%') then bounce_n / 100 else bounce_n end as bounce_rate,
                case {source_rules} end as known,
                case {_rules(GROUPS, "group_text")} end as group_medium,
                case {_rules(DEVICES, "device_text")} else 'unknown' end as device
            from extracted
        ),
        dated as (
            select *,
                coalesce(
                    try_strptime(day_parts[1], ['%Y-%m-%d', '%Y/%m/%d', '%Y.%m.%d', '%Y%m%d'])::date, {default_first}
                ) as date,
                coalesce(
                    try_strptime(day_parts[-1], ['%Y-%m-%d', '%Y/%m/%d', '%Y.%m.%d', '%Y%m%d'])::date, {default_last}
                ) as end_date,
                coalesce(known[1], regexp_replace(lower(trim(source_text)), '[\\s/-]+', '_', 'g')) as source,
                coalesce(known[2], group_medium, '') as medium
            from typed
            where source_text is null or source_text not in {TOTALS}
        ),
        checked as (
            select *,
                case
                    when source_text is null then {{'c': 'source', 'r': 'no 来源'}}
                    when date is null then {{'c': 'date', 'r':
                        '日期 is not a date (YYYY-MM-DD): ' || coalesce(day_text, '(empty)')}}
                    when visitors_n is null or visitors_n <> round(visitors_n) then {{'c': 'sessions', 'r':
                        '访客数 is not a whole number: ' || coalesce(visitors_text, '(empty)')}}
                    when bounce_rate not between 0 and 1 then {{'c': 'bounced_sessions', 'r':
                        '跳失率 is not a rate (0–100%): ' || bounce_text}}
                end as _why
            from dated
        )
        select _line, _why.r as _reason, _why.c as _column, case when _why is not null then _raw_all end as _raw,
            date, end_date, source, medium, '' as campaign, device,
            cast(round(visitors_n) as bigint) as sessions,
            cast(round(visitors_n) as bigint) as visitors,
            cast(round(pageviews_n) as bigint) as pageviews,
            null::bigint as engaged_sessions,
            cast(round(bounce_rate * visitors_n) as bigint) as bounced_sessions,
            cast(round(cart_n) as bigint) as cart_sessions,
            cast(round(orders_n) as bigint) as orders,
            cast(round(buyers_n) as bigint) as buyers,
            round(revenue_n, 2) as revenue,
            round(cost_n, 2) as ad_cost,
            known is null as unknown_source, source_text
        from checked
        """
    )
    check_one_period(con, path, "sycm_staged")
    traffic = write_traffic(con, "sycm_staged", workdir, options)
    totals = len(rows) - con.sql("select count(*) from sycm_staged").fetchall()[0][0]
    span = con.sql("select min(date), max(end_date), count(distinct date) from sycm_staged where _reason is null")
    first, last, days = span.fetchall()[0]
    notes = [f"days: {first} to {last} ({days} with data)" if first else "no row accepted"]
    if totals:
        notes.append(f"total rows (汇总/合计) left out: {totals}")
    unknown = [r[0] for r in con.sql("select distinct source_text from sycm_staged where unknown_source").fetchall()]
    notes += unknown_note([u for u in unknown if u], "生意参谋 sources")
    return Plan(len(rows), "rows", [traffic], notes=notes, currency=CURRENCY)
