"""The facts every metric query reads, each rule written once: the rows of a segment, valid orders, order lines with
their sales and cost, and what each session's orders say.

A fact is a named CTE. A query puts the facts it reads next to its own CTEs and `query` keeps the ones its final
select reads, directly or through others, found by reading the SQL (there is no second list of dependencies). The
segment_* facts, each a filter of one table, are expanded where they are read, as a view would be. `order_lines` gives
the lines of valid orders; a query that has already picked its orders (e.g. those of the period, with their bucket)
builds the same lines over them with `order_lines(its_orders, carry)`.

A filter is a bound parameter of the facts, never state on the cursor: `facts(segment)` adds `$source` / `$device` /
`$store` conditions to the segment_* facts and `parameters` binds their values, so a metric function's numbers depend
on its arguments only. Attribution follows SPEC §4: a session matches by its own source and device; events and orders
follow the session they name (an order without a session matches no segment); ad spend matches by source and has no
device; expenses, products, order items and inventory are not filtered (an order's items follow their order). A store
filter matches sessions, events, orders, ad spend and traffic by their own store (compute.py: expenses too). Ids are
unique per store only (issue 13): every join by order_id or session_id also matches the store.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache

import duckdb

from metrics import dialect
from metrics.segments import ALL, Segment
from warehouse import VALID_STATUSES

# The valid-order rule (SPEC §4): an order counts once it is paid, whatever happened to it after.
VALID_ORDER = f"status in ({', '.join(repr(status) for status in VALID_STATUSES)})"

# The facts that filter one canonical table: like views, they are expanded into each query that reads them (as a
# derived table, or the table's own name when there is no filter), so that each read keeps its own filters and plan.
INLINED = ("segment_sessions", "segment_events", "segment_orders", "segment_ad_spend", "segment_traffic")


# One row per order, of any status, by its day: its session's source, medium, campaign and device (null without a
# session), and for a valid order its customer and net sales (`order_rows_query`; metrics/rollups.py builds it, loads
# keep it in step, warehouse/rollups.py). An order's session is looked up once, when it is loaded, instead of by
# every filtered query, and its lines are summed once instead of by every customer query.
ORDER_ROWS = "rollup_order_rows"


def facts(segment: Segment = ALL, converted: bool = False, order_rows: bool = False) -> dict[str, str]:
    """The shared facts as CTEs by name, each reading only canonical tables and earlier facts. `converted`: money in
    the reporting currency, each store's amounts times its rate (`$rates`, a list of {store, rate};
    metrics/currency.py). `order_rows`: under a source or device filter, the segment's orders are found by their
    session's dimensions in ORDER_ROWS (the caller checked it is current) instead of by reading the sessions."""
    sessions = [f"{d} = {dialect.param(d)}" for d in segment.dimensions]
    # Events and orders follow the session they name, in their own store (ids are unique per store); a store filter
    # matches every table by its own store.
    by_session = segment.source is not None or segment.device is not None
    own_store = f"store = {dialect.param('store')}" if segment.store is not None else None
    in_segment_session = (
        "(store, session_id) in (select store, session_id from segment_sessions)" if by_session else None
    )
    session_filters = " and ".join(
        f"{d} = {dialect.param(d)}" for d in ("source", "device") if getattr(segment, d) is not None
    )
    in_segment_order = (
        f"(store, order_id) in (select store, order_id from {ORDER_ROWS} where {session_filters})"
        if by_session and order_rows
        else in_segment_session
    )
    if segment.device is not None:
        ad_match = "false"  # ad spend has no device: under a device filter none of it is in the segment
    elif segment.source is not None:
        ad_match = f"source = {dialect.param('source')}"
    else:
        ad_match = None
    ctes: dict[str, str] = {}
    ctes["store_rates"] = """
        -- one row per store: how much one unit of its currency is in the reporting currency
        select store, rate from (select unnest($rates, recursive := true))"""
    ctes["segment_sessions"] = f"""
        -- one row per session of the segment (every session without a filter)
        select *
        from sessions
        {_where(" and ".join(sessions) or None)}"""
    ctes["segment_events"] = f"""
        -- one row per event of the segment: under a filter, the events naming a session of the segment
        select *
        from events
        {_where(_all(in_segment_session, own_store))}"""
    ctes["segment_orders"] = f"""
        -- one row per order of the segment, of any status: under a filter, the orders naming a session of the segment
        select *
        from orders
        {_where(_all(in_segment_order, own_store))}"""
    ctes["segment_ad_spend"] = f"""
        -- one row per day, source and campaign of ad spend in the segment
        select *
        from ad_spend
        {_where(_all(ad_match, own_store))}"""
    ctes["segment_traffic"] = f"""
        -- one row per traffic aggregate (counted by the platform) of the segment: it matches by its own source and
        -- device, as a session does
        select *
        from traffic
        {_where(" and ".join(sessions) or None)}"""
    rate = " * r.rate" if converted else ""
    ctes["valid_orders"] = f"""
        -- one row per valid (paid) order of the segment, of any date{" (money: reporting currency)" if rate else ""}
        select
            o.store, order_id, ordered_at, status, region, payment_method, coupon_code, subtotal{rate} as subtotal,
            nullif(customer_id, '') as customer_id,
            nullif(session_id, '') as session_id,
            coalesce(discount, 0){rate} as discount,
            coalesce(refund_amount, 0){rate} as refund_amount,
            coalesce(shipping_fee, 0){rate} as shipping_fee,
            (coalesce(shipping_cost, 0) + coalesce(payment_fee, 0)){rate} as fulfilment_cost
        from segment_orders o
        {"join store_rates r on r.store = o.store" if rate else ""}
        where {VALID_ORDER}"""
    ctes["order_lines"] = order_lines("valid_orders", ("store", "order_id", "ordered_at"), converted)
    # No segment filter of its own: a session's orders are in the segment when the session is, and a query only
    # joins this to the sessions it counts (a filtered query's sessions are the segment's).
    ctes["session_orders"] = f"""
        -- one row per store and session that an order names: whether one of its orders is valid (a purchase)
        select store, session_id, bool_or({VALID_ORDER}) as purchased
        from orders
        where nullif(session_id, '') is not null
        group by store, session_id"""
    return ctes


def sessions_named_by(orders: str, sessions: str = "sessions") -> str:
    """SQL, a subquery to join orders' sessions from: the rows of `sessions` that the rows of `orders` (a relation with
    store and session_id) name. Where none names one (a platform's export), no session is read: a plain left join of
    the orders to every session scanned them all (0.11 s on 10 M sessions for a day, in each orders rollup a one-order
    load refreshes), its dynamic filter having no key to narrow the scan by."""
    return f"""(
            select s.*
            from {sessions} s
            join (select distinct store, session_id from {orders} where session_id is not null) named
                on named.store = s.store and named.session_id = s.session_id
        )"""


# An order's net sales over its valid order `o` (valid_orders' columns) and the sum of its lines' sales `l.sales`
# (null without lines): the raw queries and the orders' rollup compute it with this one expression.
NET_SALES = "coalesce(l.sales, o.subtotal, 0) - o.discount - o.refund_amount"


@cache  # asked by every customer and filtered query (is the rollup current?); building it takes milliseconds
def order_rows_query() -> str:
    """The rows of ORDER_ROWS for the orders placed $start_ts to $end_ts: one row per order of any status, columns
    day, store, order_id, ordered_at, the session's dimensions (source, medium, campaign, device: null when the order
    names no session, or one that is not loaded), valid, and for a valid order customer_id (null for a guest) and
    net_sales (NET_SALES); null for the others."""
    ctes = facts(ALL)
    ctes["period_orders"] = """
        -- one row per order of any status placed in the period
        select store, order_id, session_id, ordered_at
        from orders
        where ordered_at >= $start_ts and ordered_at < $end_ts"""
    ctes["period_valid_orders"] = """
        -- one row per valid order placed in the period
        select *
        from valid_orders
        where ordered_at >= $start_ts and ordered_at < $end_ts"""
    ctes["period_lines"] = order_lines("period_valid_orders", ("store", "order_id"))
    ctes["order_rows"] = f"""
        -- one row per order of the period: its session's dimensions (as a filter matches them: the session of its
        -- store it names), and for a valid order its customer and net sales
        select
            cast(date_trunc('day', p.ordered_at) as date) as day, p.store, p.order_id, p.ordered_at,
            s.source, s.medium, s.campaign, s.device,
            o.order_id is not null as valid,
            o.customer_id,
            case when o.order_id is not null then {NET_SALES} end as net_sales
        from period_orders p
        left join {sessions_named_by("period_orders")} s on s.store = p.store and s.session_id = p.session_id
        left join period_valid_orders o on o.store = p.store and o.order_id = p.order_id
        left join (select store, order_id, sum(line_sales) as sales from period_lines group by store, order_id) l
            on l.store = p.store and l.order_id = p.order_id"""
    return query(ctes, "select * from order_rows")


def recorded_current(con: duckdb.DuckDBPyConnection, table: str, query: str) -> bool:
    """Whether the warehouse holds the rollup `table`, built by `query` (its ledger row, metrics/rollups.py, records
    the query it was built with; never on a Spark lake)."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return False
    found = con.sql("select count(*) from duckdb_tables() where table_name = 'rollup_queries'").fetchall()[0][0]
    if not found:
        return False
    stored = con.sql("select query from rollup_queries where table_name = ?", params=[table]).fetchall()
    return bool(stored) and stored[0][0] == query


def order_rows_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds ORDER_ROWS built by this code's query (never on a Spark lake)."""
    return recorded_current(con, ORDER_ROWS, order_rows_query())


# The facts a view the rollups cannot answer reads raw, with the column of the date their rows are chosen by (None:
# every row, a table without a date of its own).
RAW_FACTS = (("sessions", "started_at"), ("orders", "ordered_at"), ("order_items", None))


def read_raw_facts(con: duckdb.DuckDBPyConnection, since: date) -> None:
    """Reads every column of the raw facts' rows from `since` on, hashed: a scan that fills the buffers (DuckDB's, the
    OS's) for the queries that read them, building no hash table. The dashboard's warm-up runs it."""
    for table, column in RAW_FACTS:
        where, parameters = (f"where {column} >= ?", [since]) if column else ("", [])
        con.execute(f"select sum(hash(t)) from {table} t {where}", parameters).fetchall()


def order_lines(orders: str, carry: Sequence[str], converted: bool = False) -> str:
    """The query of the lines of the valid orders in `orders` (a CTE with store, order_id and status, e.g.
    `valid_orders`, or a query's orders of the period). One row per order line: the order's `carry` columns, then
    sku, category, quantity, line_sales, line_cost, and costable_sales / costed_sales (the sales that have a cost,
    returned goods excepted, and of those the sales whose unit cost is known: how much of the cost is covered)."""
    carried = "".join(f"o.{column}, " for column in carry)
    # In the reporting currency: the line's price and cost times the store's rate (store_rates); the catalog's cost
    # (products.unit_cost, shared by the stores) is in the warehouse's currency, the rate of store '' (w).
    rate, own = (" * r.rate", " * w.rate") if converted else ("", "")
    return f"""
        -- one row per line of an order of {orders}: its sales (quantity × unit price) and its cost (quantity × the
        -- line's unit cost, else the product's; none on a returned order, whose goods came back)
        select
            {carried}i.sku, p.category, i.quantity,
            i.quantity * i.unit_price{rate} as line_sales,
            case
                when o.status <> 'returned' then i.quantity * coalesce(i.unit_cost{rate}, p.unit_cost{own})
            end as line_cost,
            case when o.status <> 'returned' then i.quantity * i.unit_price{rate} end as costable_sales,
            case
                when o.status <> 'returned' and coalesce(i.unit_cost, p.unit_cost) is not null
                then i.quantity * i.unit_price{rate}
            end as costed_sales
        from {orders} o
        join order_items i on i.store = o.store and i.order_id = o.order_id
        left join products p on p.sku = i.sku
        {"join store_rates r on r.store = o.store join store_rates w on w.store = ''" if converted else ""}"""


def _all(*conditions: str | None) -> str | None:
    found = [c for c in conditions if c]
    return " and ".join(found) or None


def _where(condition: str | None) -> str:
    return f"where {condition}" if condition else ""


# A read: `from <name>` or `join <name>`, and the word after it (an alias, or the next clause's keyword).
_READ = re.compile(r"\b(from|join)\s+([a-z_][a-z0-9_]*)\b(?=(\s+[a-z_][a-z0-9_]*\b)?)", re.IGNORECASE)
_CLAUSES = frozenset(
    ("where", "on", "using", "join", "left", "right", "inner", "full", "cross", "natural", "semi", "anti", "asof",
     "positional", "group", "order", "limit", "offset", "union", "except", "intersect", "having", "qualify", "window")
)  # fmt: skip


def _code_parts(sql: str) -> list[str]:
    """`sql` split into code (even indexes) and `--` comments (odd indexes)."""
    return re.split(r"(--[^\n]*)", sql)


def reads(sql: str) -> set[str]:
    """The names a query reads rows from (after `from` or `join`, comments left out): tables or CTEs."""
    return {m.group(2) for code in _code_parts(sql)[::2] for m in _READ.finditer(code)}


def _expanded(sql: str, inlined: Mapping[str, str]) -> str:
    """`sql` with each read of an inlined fact replaced by its query (keeping the reader's alias, else its name)."""

    def replace(match: re.Match[str]) -> str:
        keyword, name, after = match.group(1), match.group(2), (match.group(3) or "").strip().lower()
        if name not in inlined:
            return match.group(0)
        aliased = after == "as" or (after != "" and after not in _CLAUSES)
        return f"{keyword} {inlined[name]}" + ("" if aliased else f" as {name}")

    parts = _code_parts(sql)
    parts[::2] = [_READ.sub(replace, code) for code in parts[::2]]
    return "".join(parts)


def _inline_form(sql: str) -> str:
    """An inlined fact as it is put in place of its name: the table's name when it only reads one table whole, else
    the query in parentheses, on one line."""
    code = " ".join(" ".join(_code_parts(sql)[::2]).split())
    whole = re.fullmatch(r"select \* from ([a-z_][a-z0-9_]*)", code)
    return whole.group(1) if whole else f"({code})"


def query(ctes: Mapping[str, str], select: str) -> str:
    """`with <CTEs> <select>`: the CTEs `select` reads, directly or through others, in the order of `ctes`; the
    inlined facts (`INLINED`) are expanded where they are read instead.

    Raises ValueError if a CTE reads one that comes after it (each may read only earlier ones), or names one other
    than after `from` / `join` (e.g. `from a, b`: write `from a cross join b`), which this reading would miss.
    """
    names = list(ctes)
    for position, (name, sql) in enumerate(ctes.items()):
        later = reads(sql) & set(names[position:])
        if later:
            raise ValueError(f"CTE {name} reads {', '.join(sorted(later))}, defined after it")
    inlined: dict[str, str] = {}
    expanded: dict[str, str] = {}
    for name, sql in ctes.items():
        sql = _expanded(sql, inlined)
        if name in INLINED:
            inlined[name] = _inline_form(sql)
        else:
            expanded[name] = sql
    select = _expanded(textwrap.dedent(select).strip("\n"), inlined)
    needed: set[str] = set()
    stack = [name for name in reads(select) if name in expanded]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(found for found in reads(expanded[name]) if found in expanded)
    parts = [f"{name} as (\n{_indent(sql)}\n)" for name, sql in expanded.items() if name in needed]
    code = " ".join(" ".join(_code_parts(part)[::2]) for part in [*parts, select])
    missed = (set(expanded) - needed) & set(re.findall(r"[a-z_][a-z0-9_]*", code, flags=re.IGNORECASE))
    if missed:
        raise ValueError(f"the query names {', '.join(sorted(missed))} other than after from / join")
    body = ",\n".join(parts)
    return f"with\n{body}\n{select}\n" if parts else f"{select}\n"


def _indent(sql: str) -> str:
    lines = [line for line in sql.splitlines() if line.strip()]
    return textwrap.indent(textwrap.dedent("\n".join(lines)), "    ")


def parameters(sql: str, values: Mapping[str, object], segment: Segment = ALL) -> dict[str, object]:
    """The values to bind to `sql`: those of `values` and of the segment's filters that it names as `$name`."""
    found = {**values, **{d: getattr(segment, d) for d in segment.dimensions}}
    return {name: value for name, value in found.items() if re.search(rf"\$\b{name}\b", sql)}


__all__ = [
    "NET_SALES",
    "ORDER_ROWS",
    "VALID_ORDER",
    "facts",
    "order_lines",
    "order_rows_current",
    "order_rows_query",
    "parameters",
    "query",
    "reads",
]
