"""Shopify Analytics "Channel performance" CSV (Marketing › Reports › Channels › Export) → traffic.

One row per referring platform, channel and type (paid / organic / direct / unknown) over the report's period, which
the export does not write: it comes from the file name (`…_2025-09-01_2025-09-07_….csv`, as the download is usually
saved) or --from/--to. The channel is the source and the type the medium; rows that name the same channel and type
from several referring platforms (`alphabet,unattributed,unknown` and `shopify,unattributed,unknown`) are summed into
one, since the referring platform is not a campaign. An empty Orders or Sales cell is none: the report leaves them
empty for a channel whose sessions led to no order (its Conversion rate and AOV are empty too), while a channel with
orders always has both. An empty Cost stays null (unknown): Shopify only knows the cost of connected ad accounts.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipelines.adapters.common import ImportOptions, Plan, col, find_columns, raw_json
from pipelines.adapters.traffic import (
    number,
    parse_day,
    read_lines,
    records,
    settle_period,
    stage,
    write_traffic,
)
from pipelines.ingest import IngestError, check_one_period

NAME = "shopify-channels"
PLATFORM = "shopify"
SUMMARY = 'Shopify Analytics "Channel performance" CSV (sessions, orders and sales by channel over a period)'

COLUMNS = {
    "platform": ("Referring platform",),
    "channel": ("Channel", "Referring channel"),
    "type": ("Type", "Channel type"),
    "sessions": ("Sessions",),
    "sales": ("Sales", "Total sales"),
    "orders": ("Orders",),
    "cost": ("Cost", "Ad spend"),
}
MEDIUMS = ("paid", "organic", "direct", "unknown")
FILE_PERIOD = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})(?!\d)")


def _name_period(path: Path) -> tuple | None:
    match = FILE_PERIOD.search(path.name)
    if not match:
        return None
    first, last = parse_day(match[1]), parse_day(match[2])
    return (first, last) if first and last else None


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """The traffic file of one Channel performance export."""
    period = settle_period(path, _name_period(path), options, "file name (…_YYYY-MM-DD_YYYY-MM-DD_…)")
    lines = read_lines(path, workdir, options)
    body = records(lines, 0, options.delimiter)
    if not body:
        raise IngestError(f"{path}: the file has no header")
    header, rows = body[0].fields, body[1:]
    names = stage(con, path, workdir, options, header, rows)
    found = find_columns(
        path, names, COLUMNS, ("channel", "sessions"), "a Shopify Analytics Channel performance report"
    )
    data_columns = [c for c in names.values() if c != "_source_line"]

    def none_if_empty(role: str, total: str) -> str:
        # An empty cell is none where the report has the column; without the column the figure stays unknown.
        return f"coalesce({total}, 0)" if found[role] else total

    con.execute(
        f"""
        create or replace table channel_rows as
        with extracted as (
            select cast(_source_line as bigint) as _line,
                {col(found, "platform")} as platform,
                lower({col(found, "channel")}) as channel,
                lower({col(found, "type")}) as type_text,
                {col(found, "sessions")} as sessions_text,
                {number(col(found, "sessions"))} as sessions_n,
                {number(col(found, "orders"))} as orders_n,
                {number(col(found, "sales"))} as sales_n,
                {number(col(found, "cost"))} as cost_n,
                {raw_json(data_columns)} as _raw_all
            from src
        )
        select *,
            -- Type is paid/organic/direct/unknown; the report writes a missing one as the text NULL.
            case when type_text in {MEDIUMS} then type_text else 'unknown' end as medium,
            case
                when channel is null then {{'c': 'source', 'r': 'no Channel'}}
                when sessions_n is null then {{'c': 'sessions', 'r':
                    'Sessions is not a number: ' || coalesce(sessions_text, '(empty)')}}
                when sessions_n <> round(sessions_n) then {{'c': 'sessions', 'r':
                    'Sessions is not a whole number: ' || sessions_text}}
            end as _why
        from extracted
        """
    )
    con.execute(
        f"""
        create or replace table channel_staged as
        with refused as (
            select _line, _why.r as _reason, _why.c as _column, _raw_all as _raw, channel as source, medium,
                null::bigint as sessions, null::bigint as orders, null::double as revenue, null::double as ad_cost,
                1 as platforms, platform as platform_list
            from channel_rows where _why is not null
        ),
        summed as (
            -- Empty orders and sales are none (where the report has those columns); an empty cost is unknown.
            select min(_line) as _line, null::varchar as _reason, null::varchar as _column, null::varchar as _raw,
                channel as source, medium,
                cast(sum(sessions_n) as bigint) as sessions,
                cast({none_if_empty("orders", "sum(orders_n)")} as bigint) as orders,
                {none_if_empty("sales", "sum(sales_n)")} as revenue, sum(cost_n) as ad_cost,
                count(*) as platforms, string_agg(platform, ', ' order by _line) as platform_list
            from channel_rows where _why is null
            group by channel, medium
        )
        select _line, _reason, _column, _raw,
            date '{period[0]}' as date, date '{period[1]}' as end_date,
            source, medium, '' as campaign, 'unknown' as device, sessions,
            null::bigint as visitors, null::bigint as pageviews, null::bigint as engaged_sessions,
            null::bigint as bounced_sessions, null::bigint as cart_sessions,
            orders, null::bigint as buyers, round(revenue, 2) as revenue, round(ad_cost, 2) as ad_cost,
            platforms, platform_list
        from (select * from summed union all by name select * from refused)
        """
    )
    check_one_period(con, path, "channel_staged")
    traffic = write_traffic(con, "channel_staged", workdir, options)
    notes = [f"period: {period[0]} to {period[1]}" + (" (file name)" if _name_period(path) else " (--from/--to)")]
    merged = con.sql(
        "select source, medium, platform_list from channel_staged where platforms > 1 order by _line"
    ).fetchall()
    if merged:
        listing = "; ".join(f"{s}/{m} ({p})" for s, m, p in merged)
        notes.append(f"channels from several referring platforms, summed into one row each: {listing}")
    return Plan(len(rows), "rows", [traffic], notes=notes)
