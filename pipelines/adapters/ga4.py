"""GA4 "Traffic acquisition" CSV (Reports › Acquisition › Traffic acquisition › Download file) → traffic.

Both download layouts: the report's own (9 `#` lines ending with `# Start date: YYYYMMDD` / `# End date: YYYYMMDD`)
and the tab/exploration one (5 `#` lines with a `# YYYYMMDD-YYYYMMDD` range, a blank line, and a ragged first row
`,242,…,Grand total` that is the total, not a channel). One row per channel group (or source / medium, campaign,
device, date, as the report's dimension says) over the period; the period comes from the header, else --from/--to.
The multi-section "Acquisition overview" download is refused with what to export instead.
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
    unknown_note,
    write_traffic,
)
from pipelines.ingest import IngestError, check_one_period

NAME = "ga4"
PLATFORM = "own_site"
SUMMARY = 'GA4 "Traffic acquisition" CSV (sessions by channel group over the report\'s period)'

# GA4's default channel groups → (source, medium). medium says paid / organic / direct / unknown, as Shopify's
# channel report does, so the two kinds of report read alike; Paid Social and Organic Social are both `social`.
CHANNELS = {
    "paid search": ("paid_search", "paid"),
    "organic search": ("organic_search", "organic"),
    "organic social": ("social", "organic"),
    "paid social": ("social", "paid"),
    "direct": ("direct", "direct"),
    "referral": ("referral", "organic"),
    "email": ("email", "organic"),
    "organic video": ("video", "organic"),
    "paid video": ("video", "paid"),
    "display": ("display", "paid"),
    "affiliates": ("affiliate", "paid"),
    "cross-network": ("cross_network", "paid"),
    "organic shopping": ("shopping", "organic"),
    "paid shopping": ("shopping", "paid"),
    "paid other": ("other", "paid"),
    "audio": ("audio", "paid"),
    "sms": ("sms", "organic"),
    "mobile push notifications": ("push", "organic"),
    "unassigned": ("unknown", "unknown"),
    "(other)": ("other", "unknown"),
}

COLUMNS = {
    "channel": (
        "Session primary channel group (Default Channel Group)",
        "Session default channel group",
        "Session primary channel group",
        "Default channel group",
        "First user primary channel group (Default Channel Group)",
        "First user default channel group",
    ),
    "source_medium": ("Session source / medium", "Source / medium", "First user source / medium"),
    "source": ("Session source", "Source", "First user source"),
    "medium": ("Session medium", "Medium", "First user medium"),
    "campaign": ("Session campaign", "Campaign", "Session campaign name", "First user campaign"),
    "device": ("Device category", "Device"),
    "day": ("Date",),
    "sessions": ("Sessions",),
    "engaged": ("Engaged sessions",),
    "bounce_rate": ("Bounce rate",),
    "visitors": ("Active users", "Total users", "Users"),
    "views": ("Views", "Screen page views"),
    "orders": ("Transactions", "Ecommerce purchases", "Purchases"),
    "revenue": ("Total revenue", "Purchase revenue"),
}
DIMENSIONS = ("channel", "source_medium", "source", "medium", "campaign", "device", "day")
EXPORT_HINT = (
    "in GA4 open Reports › Acquisition › Traffic acquisition and use Share this report › Download file › "
    "Download CSV (one table of sessions by channel group)"
)
TOTAL_MARKERS = ("grand total", "total", "总计", "合计")


def _preamble(path: Path, lines: list[str]) -> tuple[int, str, list[tuple[int, str]]]:
    """(index of the header line, the report's title, [(line, period text)] of every date line in the file)."""
    header_at = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None)
    if header_at is None:
        raise IngestError(f"{path}: no table under the `#` header lines; {EXPORT_HINT}")
    comments = [line.lstrip("#").strip() for line in lines[:header_at] if line.startswith("#")]
    words = [c for c in comments if c and not set(c) <= {"-"}]
    title = next((c for c in words if "acquisition" in c.lower() or "overview" in c.lower()), words[0] if words else "")
    dated = []
    for number_, line in enumerate(lines, start=1):
        text = line.lstrip("#").strip() if line.startswith("#") else ""
        if re.match(r"(start|end) date\s*:", text, re.IGNORECASE) or re.fullmatch(r"\d{8}\s*-\s*\d{8}", text):
            dated.append((number_, text))
    return header_at, title, dated


def _header_period(path: Path, dated: list[tuple[int, str]]) -> tuple[tuple, int] | None:
    """((first, last), line) from the header's date lines; None when it has none."""
    if not dated:
        return None
    line, text = dated[0]
    if "-" in text and ":" not in text:
        first, last = (parse_day(part) for part in text.split("-"))
    else:
        values = {k.lower(): parse_day(v) for k, v in (t.split(":", 1) for _, t in dated[:2] if ":" in t)}
        first, last = values.get("start date"), values.get("end date")
    if first is None or last is None:
        raise IngestError(f"{path}: line {line}: the header's dates are not YYYYMMDD ({text!r})")
    return (first, last), line


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """The traffic file of one Traffic acquisition report."""
    lines = read_lines(path, workdir, options)
    header_at, title, dated = _preamble(path, lines)
    body = records(lines, header_at, options.delimiter)
    header = body[0].fields
    sections = [line for line, text in dated if text.lower().startswith("start date")]
    if len(sections) > 1 or "sessions" not in (h.lower() for h in header):
        tables = [b for a, b in zip(lines, lines[1:], strict=False) if a.startswith("#") and b.strip() and b[0] != "#"]
        listing = "; ".join(tables[:3]) + ("; …" if len(tables) > 3 else "")
        raise IngestError(
            f"{path}: a GA4 {title or 'report'!r} export ({len(tables)} table(s): {listing}), not a Traffic "
            f"acquisition table of sessions by channel; {EXPORT_HINT}"
        )
    stated = _header_period(path, dated)
    period = settle_period(path, stated[0] if stated else None, options, "header (# Start date / # End date)")
    totals = [
        r for r in body[1:] if not r.fields[0] and any(f.lower() in TOTAL_MARKERS for f in r.fields[len(header) :])
    ]
    rows = [r for r in body[1:] if r not in totals]
    found_names = stage(con, path, workdir, options, header, rows)
    found = find_columns(path, found_names, COLUMNS, ("sessions",), "a GA4 Traffic acquisition report")
    if not any(found[d] for d in DIMENSIONS if d != "day"):
        raise IngestError(
            f"{path}: the report has no channel, source or campaign column (first column: {header[0]!r}); {EXPORT_HINT}"
        )
    _map_channels(con)
    data_columns = [c for c in found_names.values() if c != "_source_line"]
    con.execute(
        f"""
        create or replace table ga4_staged as
        with extracted as (
            select cast(_source_line as bigint) as _line,
                {col(found, "channel")} as channel,
                {col(found, "source_medium")} as source_medium,
                {col(found, "source")} as source_text,
                {col(found, "medium")} as medium_text,
                {col(found, "campaign")} as campaign_text,
                lower({col(found, "device")}) as device_text,
                {col(found, "day")} as day_text,
                {number(col(found, "sessions"))} as sessions_n,
                {number(col(found, "engaged"))} as engaged_n,
                {number(col(found, "bounce_rate"))} as bounce_rate,
                {number(col(found, "visitors"))} as visitors_n,
                {number(col(found, "views"))} as views_n,
                {number(col(found, "orders"))} as orders_n,
                {number(col(found, "revenue"))} as revenue_n,
                {col(found, "sessions")} as sessions_text,
                {raw_json(data_columns)} as _raw_all
            from src
        ),
        mapped as (
            select e.*,
                coalesce(m.source, case when e.channel is not null then
                    regexp_replace(lower(trim(e.channel)), '[\\s/-]+', '_', 'g') end,
                    nullif(lower(trim(split_part(e.source_medium, ' / ', 1))), ''), lower(e.source_text)) as source,
                coalesce(m.medium, nullif(lower(trim(split_part(e.source_medium, ' / ', 2))), ''),
                    lower(e.medium_text), '') as medium,
                e.channel is not null and m.source is null as unknown_channel,
                coalesce(try_strptime(e.day_text, '%Y%m%d')::date, try_cast(e.day_text as date)) as day
            from extracted e left join ga4_channels m on m.name = lower(trim(e.channel))
        ),
        checked as (
            select *,
                case
                    when sessions_n is null then {{'c': 'sessions', 'r':
                        'Sessions is not a number: ' || coalesce(sessions_text, '(empty)')}}
                    when sessions_n <> round(sessions_n) then {{'c': 'sessions', 'r':
                        'Sessions is not a whole number: ' || sessions_text}}
                    when source is null or source = '' then {{'c': 'source', 'r': 'no channel, source or medium'}}
                    when day_text is not null and day is null then {{'c': 'date', 'r':
                        'Date is not YYYYMMDD: ' || day_text}}
                end as _why
            from mapped
        )
        select _line, _why.r as _reason, _why.c as _column, case when _why is not null then _raw_all end as _raw,
            coalesce(day, date '{period[0]}') as date, coalesce(day, date '{period[1]}') as end_date,
            source, medium, coalesce(campaign_text, '') as campaign,
            coalesce(device_text, 'unknown') as device,
            cast(round(sessions_n) as bigint) as sessions,
            cast(round(visitors_n) as bigint) as visitors,
            cast(round(views_n) as bigint) as pageviews,
            cast(round(engaged_n) as bigint) as engaged_sessions,
            -- GA4's bounce is the complement of engagement: a session that is not engaged bounced.
            cast(round(coalesce(sessions_n - engaged_n, bounce_rate * sessions_n)) as bigint) as bounced_sessions,
            null::bigint as cart_sessions,
            cast(round(orders_n) as bigint) as orders,
            null::bigint as buyers,
            round(revenue_n, 2) as revenue,
            null::double as ad_cost,
            unknown_channel, channel
        from checked
        """
    )
    check_one_period(con, path, "ga4_staged")
    traffic = write_traffic(con, "ga4_staged", workdir, options)
    unknown = [r[0] for r in con.sql("select distinct channel from ga4_staged where unknown_channel").fetchall()]
    notes = [f"period: {period[0]} to {period[1]}" + (f" (header line {stated[1]})" if stated else " (--from/--to)")]
    if totals:
        notes.append(f"total row left out (not a channel): line {', '.join(str(r.line) for r in totals)}")
    notes += unknown_note(unknown, "GA4 channel groups")
    return Plan(len(rows), "rows", [traffic], notes=notes)


def _map_channels(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create or replace table ga4_channels (name varchar, source varchar, medium varchar)")
    con.executemany("insert into ga4_channels values (?, ?, ?)", [(k, *v) for k, v in CHANNELS.items()])
