"""Raw click logs → sessions and events, sessions built from each visitor's hits by inactivity.

A log has a visitor id, a timestamp and an event or a page per hit (columns found by their usual names, see
COLUMNS), but usually no session id: a visitor's hits form one session until a gap longer than the session gap
(30 minutes, `--session-gap`). The session's first hit gives its source, medium and campaign (utm_* columns or
the utm parameters of its page URL, else its referrer: search engine → organic_search, social site → social,
another site → referral, none → direct), landing page, device and region; pageviews count its page views and
duration_s runs from its first to its last hit. Each hit is one event (event_type page_view unless the log says
otherwise). A log that has its own session ids keeps them.

The UCI "Clickstream Data for Online Shopping" file (e-shop clothing 2008: year;month;day;order;country;session ID;
…) is recognised by its header: it has session ids but no visitor ids (each session is its own visitor) and no time
of day (hits are at midnight of their day, in `order`); each row is a click on a product photo, which opens that
product's page, so a session's pageviews are its clicks; country codes become names from the UCI codebook.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.adapters.common import (
    ImportOptions,
    Plan,
    col,
    find_columns,
    raw_json,
    read_export,
    sql_string,
    write_derived,
)
from pipelines.ingest import IngestError

NAME = "clickstream"
PLATFORM = None  # a web shop's own clickstream: the store names its platform (--platform)
TIMEZONE = None
SUMMARY = "raw click logs (visitor, timestamp, event or page): sessions by inactivity; also the UCI e-shop file"

COLUMNS = {
    "visitor": ("visitor_id", "visitor", "user_id", "user", "client_id", "cookie_id", "anonymous_id", "uid"),
    "timestamp": ("timestamp", "occurred_at", "event_time", "event_timestamp", "time", "datetime", "date_time", "ts"),
    "event": ("event_type", "event", "event_name", "action", "hit_type"),
    "page": ("page", "url", "page_url", "page_path", "path", "uri", "page_location"),
    "referrer": ("referrer", "referer", "page_referrer", "document_referrer", "ref"),
    "utm_source": ("utm_source",),
    "utm_medium": ("utm_medium",),
    "utm_campaign": ("utm_campaign",),
    "device": ("device", "device_type", "device_category"),
    "region": ("region", "country", "geo_country", "province"),
    "customer": ("customer_id",),
    "sku": ("sku", "product_id", "item_id"),
    "session": ("session_id", "sessionid"),
    "event_id": ("event_id", "hit_id"),
}
REQUIRED = ("visitor", "timestamp")

EVENT_TYPES = """
    case
        when event_text is null then 'page_view'
        when lower(event_text) in ('page_view', 'pageview', 'page-view', 'view', 'screen_view', 'pv') then 'page_view'
        when lower(event_text) in ('impression', 'view_item_list', 'product_impression') then 'impression'
        when lower(event_text) in ('click', 'select_item', 'product_click', 'select_content') then 'click'
        when lower(event_text) in ('add_to_cart', 'addtocart', 'add-to-cart', 'cart', 'add') then 'add_to_cart'
        when lower(event_text) in ('begin_checkout', 'checkout', 'begin-checkout') then 'begin_checkout'
        when lower(event_text) in ('purchase', 'transaction', 'order', 'buy') then 'purchase'
    end
"""

SEARCH = r"(^|\.)(google|bing|baidu|yahoo|duckduckgo|yandex|sogou|so|sm|naver|ecosia|seznam)\.[a-z.]+$"
SOCIAL = (
    r"(^|\.)(facebook|fb|instagram|t|twitter|x|linkedin|lnkd|pinterest|reddit|weibo|xiaohongshu|xhslink|douyin|"
    r"tiktok|youtube|weixin|wechat|qq|zhihu|bilibili|vk)\.[a-z.]+$"
)

CHANNEL = f"""
    case
        when medium in ('cpc', 'ppc', 'paid_search', 'paidsearch', 'sem') then 'paid_search'
        when medium in ('email', 'e-mail', 'newsletter', 'edm') then 'email'
        when medium in ('social', 'social_media', 'social-network', 'paid_social', 'sm') then 'social'
        when medium in ('kol', 'influencer') then 'kol'
        when medium in ('display', 'banner', 'cpm') then 'display'
        when medium in ('affiliate', 'affiliates') then 'affiliate'
        when utm_source is not null then lower(utm_source)
        when not has_source_columns then 'unknown'
        when referrer_host is null or referrer_host = page_host then 'direct'
        when regexp_matches(referrer_host, {sql_string(SEARCH)}) then 'organic_search'
        when regexp_matches(referrer_host, {sql_string(SOCIAL)}) then 'social'
        when referrer_host like 'mail.%' or referrer_host like '%.mail.%' then 'email'
        else 'referral'
    end
"""

DEVICES = """
    case
        when lower(device_text) in ('desktop', 'mobile', 'tablet', 'app') then lower(device_text)
        when lower(device_text) in ('pc', 'computer') then 'desktop'
        when lower(device_text) in ('phone', 'smartphone') then 'mobile'
        when lower(device_text) = 'ipad' then 'tablet'
        else 'unknown'
    end
"""

# UCI codebook (`e-shop clothing 2008 data description.txt`): country of the IP address, main category.
UCI_COUNTRIES = (
    "Australia",
    "Austria",
    "Belgium",
    "British Virgin Islands",
    "Cayman Islands",
    "Christmas Island",
    "Croatia",
    "Cyprus",
    "Czech Republic",
    "Denmark",
    "Estonia",
    "unidentified",
    "Faroe Islands",
    "Finland",
    "France",
    "Germany",
    "Greece",
    "Hungary",
    "Iceland",
    "India",
    "Ireland",
    "Italy",
    "Latvia",
    "Lithuania",
    "Luxembourg",
    "Mexico",
    "Netherlands",
    "Norway",
    "Poland",
    "Portugal",
    "Romania",
    "Russia",
    "San Marino",
    "Slovakia",
    "Slovenia",
    "Spain",
    "Sweden",
    "Switzerland",
    "Ukraine",
    "United Arab Emirates",
    "United Kingdom",
    "USA",
    "biz (*.biz)",
    "com (*.com)",
    "int (*.int)",
    "net (*.net)",
    "org (*.org)",
)
UCI_CATEGORIES = ("trousers", "skirts", "blouses", "sale")
UCI_HEADER = {"year", "month", "day", "order", "country", "sessionid", "page2(clothingmodel)", "location", "page"}


def _param(url: str, name: str) -> str:
    return f"nullif(url_decode(regexp_extract({url}, '[?&]{name}=([^&#]*)', 1)), '')"


def _generic_hits(con: duckdb.DuckDBPyConnection, path: Path, header: dict[str, str], gap_minutes: float) -> None:
    found = find_columns(path, header, COLUMNS, REQUIRED, "a click log")
    # Without a referrer or utm columns, a hit with no utm parameters in its URL has an unknown source, not direct.
    has_source = any(found[k] for k in ("referrer", "utm_source", "utm_medium", "utm_campaign"))
    con.execute(
        f"""
        create or replace table hits as
        select _line,
            {col(found, "visitor")} as visitor_id,
            {col(found, "timestamp")} as ts_text,
            coalesce(
                try_cast(try_cast({col(found, "timestamp")} as timestamptz) as timestamp),
                -- Unix time in seconds or milliseconds.
                case when regexp_full_match({col(found, "timestamp")}, '\\d{{13}}')
                    then cast(to_timestamp(cast({col(found, "timestamp")} as bigint) / 1000) as timestamp) end,
                case when regexp_full_match({col(found, "timestamp")}, '\\d{{9,10}}')
                    then cast(to_timestamp(cast({col(found, "timestamp")} as bigint)) as timestamp) end
            ) as ts,
            {col(found, "event")} as event_text,
            {col(found, "page")} as page,
            {col(found, "referrer")} as referrer,
            coalesce({col(found, "utm_source")}, {_param(col(found, "page"), "utm_source")}) as utm_source,
            lower(coalesce({col(found, "utm_medium")}, {_param(col(found, "page"), "utm_medium")})) as medium,
            coalesce({col(found, "utm_campaign")}, {_param(col(found, "page"), "utm_campaign")}) as campaign,
            {col(found, "device")} as device_text,
            {col(found, "region")} as region,
            {col(found, "customer")} as customer_id,
            {col(found, "sku")} as sku,
            null::varchar as position,
            {col(found, "session")} as given_session,
            {col(found, "event_id")} as event_id,
            {"true" if has_source else "false"} as has_source_columns,
            true as has_time,
            {raw_json(list(header.values()))} as _raw_all
        from src
        """
    )
    _sessionize(con, gap_minutes, pageviews="count(*) filter (where event_type = 'page_view')")


def _uci_hits(con: duckdb.DuckDBPyConnection, header: dict[str, str]) -> None:
    h = {key: col({key: header[key]}, key) for key in header}
    countries = "[" + ", ".join(sql_string(c) for c in UCI_COUNTRIES) + "]"
    categories = "[" + ", ".join(sql_string(c) for c in UCI_CATEGORIES) + "]"
    category = (
        f"{categories}[try_cast({h['page1(maincategory)']} as integer)]" if "page1(maincategory)" in h else "null"
    )
    con.execute(
        f"""
        create or replace table hits as
        select _line,
            {h["sessionid"]} as visitor_id,
            concat_ws('-', {h["year"]}, {h["month"]}, {h["day"]}) as ts_text,
            try_cast(make_date(try_cast({h["year"]} as integer), try_cast({h["month"]} as integer),
                try_cast({h["day"]} as integer)) as timestamp) as ts,
            'click' as event_text,
            '/' || coalesce({category}, 'category') || '/page-' || coalesce({h["page"]}, '?') as page,
            null::varchar as referrer, null::varchar as utm_source, null::varchar as medium, null::varchar as campaign,
            null::varchar as device_text,
            {countries}[try_cast({h["country"]} as integer)] as region,
            null::varchar as customer_id,
            {h["page2(clothingmodel)"]} as sku,
            {h["location"]} as position,
            {h["sessionid"]} as given_session,
            {h["sessionid"]} || '-' || {h["order"]} as event_id,
            false as has_source_columns,
            false as has_time,
            {raw_json(list(header.values()))} as _raw_all
        from src
        """
    )
    _sessionize(con, None, pageviews="count(*)", order="try_cast(split_part(event_id, '-', 2) as integer)")


def _sessionize(con: duckdb.DuckDBPyConnection, gap_minutes: float | None, *, pageviews: str, order: str = "") -> None:
    """Creates hits_staged (one row per hit, with its session) and sessions_staged (one row per session)."""
    then = f"{order}, " if order else ""
    gap = f"interval {float(gap_minutes or 0) * 60} seconds"
    con.execute(
        f"""
        create or replace table hits_staged as
        with typed as (
            select *, {EVENT_TYPES} as event_type,
                lower(regexp_extract(referrer, '^[a-z][a-z0-9+.-]*://(?:www\\.)?([^/:?#]+)', 1)) as referrer_host,
                lower(regexp_extract(page, '^[a-z][a-z0-9+.-]*://(?:www\\.)?([^/:?#]+)', 1)) as page_host
            from hits
        ),
        checked as (
            select * replace (nullif(referrer_host, '') as referrer_host, nullif(page_host, '') as page_host),
                case
                    when visitor_id is null then
                        {{'c': 'session_id', 'r': 'no visitor id: the hit cannot join a session'}}
                    when ts is null then {{
                        'c': 'occurred_at', 'r': 'not a date-time (ISO-8601 or Unix time): ' || coalesce(ts_text, '')
                    }}
                    when event_type is null then {{
                        'c': 'event_type',
                        'r': '''' || event_text || ''' is not one of page_view, impression, click, add_to_cart, '
                            || 'begin_checkout, purchase'
                    }}
                end as _why
            from typed
        ),
        ordered as (
            select *,
                case
                    when given_session is not null then 0
                    when lag(ts) over visits is null or ts - lag(ts) over visits > {gap} then 1
                    else 0
                end as starts_session
            from checked where _why is null
            window visits as (partition by visitor_id order by ts, {then}_line)
        ),
        numbered as (
            select *,
                sum(starts_session) over (
                    partition by visitor_id order by ts, {then}_line rows unbounded preceding
                ) as visit_no
            from ordered
        ),
        sessioned as (
            select _line,
                coalesce(given_session, visitor_id || '-' || strftime(
                    min(ts) over (partition by visitor_id, visit_no), '%Y%m%dT%H%M%S'
                )) as session_id
            from numbered
        )
        select c.* exclude (_why, _raw_all), s.session_id, _why.r as _reason, _why.c as _column,
            case when _why is not null then _raw_all end as _raw
        from checked c left join sessioned s using (_line)
        """
    )
    con.execute(
        f"""
        create or replace table sessions_staged as
        with hits as (select * from hits_staged where _reason is null),
        firsts as (
            select session_id,
                arg_min(_line, (ts, {then}_line)) as _line,
                arg_min(visitor_id, (ts, {then}_line)) as visitor_id,
                min(ts) as started_at,
                max(ts) as last_at,
                {pageviews} as pageviews,
                max(customer_id) as customer_id
            from hits group by session_id
        )
        select f.*, h.utm_source, h.medium, h.campaign, h.referrer_host, h.page_host, h.has_source_columns, h.has_time,
            h.device_text, h.region,
            split_part(regexp_replace(h.page, '^[a-z][a-z0-9+.-]*://[^/]+', ''), '?', 1) as landing_page
        from firsts f join hits h using (_line)
        """
    )


def build(con: duckdb.DuckDBPyConnection, path: Path, workdir: Path, options: ImportOptions) -> Plan:
    """Canonical files for one click log: events (one per hit), sessions."""
    header = read_export(con, path, workdir, options)
    if set(header) >= UCI_HEADER:
        _uci_hits(con, header)
        layout = "UCI e-shop clothing 2008 layout: session ids given, no time of day"
    else:
        if options.session_gap_minutes <= 0:
            raise IngestError(f"{path}: the session gap must be more than 0 minutes")
        _generic_hits(con, path, header, options.session_gap_minutes)
        layout = f"sessions end after {options.session_gap_minutes:g} minutes without a hit"
    con.execute(
        """
        create or replace view events_out as
        select _line, _reason, _column, _raw, event_id, session_id,
            strftime(ts, '%Y-%m-%d %H:%M:%S') as occurred_at, event_type, sku, page, position
        from hits_staged
        """
    )
    con.execute(
        f"""
        create or replace view sessions_out as
        with channels as (select *, {CHANNEL} as source, {DEVICES} as device from sessions_staged)
        select _line, null as _reason, null as _column, null as _raw,
            session_id, visitor_id, strftime(started_at, '%Y-%m-%d %H:%M:%S') as started_at, source,
            coalesce(medium, case source when 'organic_search' then 'organic' when 'referral' then 'referral' end)
                as medium,
            campaign, device, landing_page, region, customer_id,
            cast(nullif(pageviews, 0) as varchar) as pageviews,
            case when has_time then cast(epoch(last_at - started_at) as varchar) end as duration_s
        from channels
        """
    )
    events = write_derived(con, "events", "events_out", workdir, unit="hits", source_lines=True)
    sessions = write_derived(con, "sessions", "sessions_out", workdir, unit="sessions")
    visitors = con.sql("select count(distinct visitor_id) from sessions_out").fetchall()[0][0]
    sources = con.sql("select source, count(*) as n from sessions_out group by source order by n desc, source")
    by_source = ", ".join(f"{source} {n:,}" for source, n in sources.fetchall())
    notes = [f"{layout}; {visitors:,} visitors", f"sessions by source: {by_source or 'none'}"]
    return Plan(events.rows, "hits", [events, sessions], notes=notes)
