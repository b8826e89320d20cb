"""Stores in different currencies (issue 13): money is never added up across currencies silently.

A money figure over a selection of stores in more than one currency (the whole warehouse, or a split by anything but
the store) is null with the reason, unless the user gives a rate table: then each store's money is converted to the
reporting currency before it is summed. Counts and count rates (sessions, orders, conversion) stay valid either way.

The rate table is a small TOML file (`reporting = "CNY"` and lines of currency = rate, one unit of the currency in
the reporting currency, at the top level or under a `[rates]` table) or a CSV with the columns currency,rate (the
reporting currency is the one whose rate is 1). The reporting currency's own rate is 1 whether or not the file says
so. Anything else in the TOML file is refused in one line, never ignored (an ignored rate would leave money null).
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from metrics.registry import METRICS, measures_of
from metrics.segments import ALL, Segment

CURRENCY = re.compile(r"[A-Za-z]{3}")  # an ISO 4217 code (CNY, GBP, USD)


class RatesError(ValueError):
    """A rate table that cannot be read, told in one line."""


@dataclass(frozen=True)
class Rates:
    """Currency → how much one unit is in the reporting currency."""

    reporting: str
    rates: dict[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.reporting else self.rates.get(currency)


def load_rates(path: Path) -> Rates:
    """The rate table at `path` (TOML or CSV, see the module docstring); raises RatesError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RatesError(f"{path}: cannot read the rate table ({exc.strerror or type(exc).__name__})") from exc
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RatesError(f"{path}: not valid TOML ({exc})") from exc
        pairs, reporting = _toml_rates(path, data)
    else:
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or not {"currency", "rate"} <= {k.strip().lower() for k in rows[0]}:
            raise RatesError(f"{path}: a rate table CSV needs the columns currency,rate")
        pairs = [({k.strip().lower(): v for k, v in r.items()}["currency"], r.get("rate")) for r in rows]
        reporting = None
    rates: dict[str, Decimal] = {}
    for currency, value in pairs:
        try:
            rate = Decimal(str(value).strip())
        except InvalidOperation:
            raise RatesError(f"{path}: the rate of {currency} is not a number: {value!r}") from None
        if rate <= 0:
            raise RatesError(f"{path}: the rate of {currency} must be > 0, got {value}")
        rates[str(currency).strip().upper()] = rate
    if reporting is None:
        ones = [c for c, r in rates.items() if r == 1]
        if len(ones) != 1:
            raise RatesError(f"{path}: say which currency is the reporting one (its rate is 1)")
        reporting = ones[0]
    return Rates(str(reporting).strip().upper(), rates)


TOML_FORM = 'reporting = "CNY" and lines of currency = rate (e.g. GBP = 9.2), at the top or under [rates]'


def _toml_rates(path: Path, data: dict) -> tuple[list[tuple[str, object]], str | None]:
    """The (currency, rate) pairs and the reporting currency of a parsed TOML rate table: rates at the top level and
    under [rates] alike; any other key is a RatesError naming it."""
    table = data.get("rates", {})
    if not isinstance(table, dict):
        raise RatesError(f"{path}: `rates` must be a table ([rates]); write {TOML_FORM}")
    reporting = data.get("reporting")
    if reporting is not None and not (isinstance(reporting, str) and CURRENCY.fullmatch(reporting.strip())):
        raise RatesError(f'{path}: reporting must be a currency code such as "CNY", got {reporting!r}')
    top = {k: v for k, v in data.items() if k not in ("rates", "reporting")}
    pairs = list(top.items()) + list(table.items())
    for key, value in pairs:
        if not CURRENCY.fullmatch(key.strip()) or isinstance(value, dict | list | bool):
            raise RatesError(f"{path}: {key!r} is not a currency = rate line; a rate table has {TOML_FORM}")
    if not pairs:
        raise RatesError(f"{path}: no rates; a rate table has {TOML_FORM}")
    return pairs, reporting


def store_currencies(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> dict[str, str]:
    """The stores of the selection (one under a store filter) with their currencies."""
    # A warehouse has the table, and so has a lake on Spark (a view from its manifest, warehouse/lake.py); a bare
    # set of canonical tables in DuckDB (an in-memory shop built from warehouse.TABLES) has no stores to tell apart.
    try:
        rows = con.sql("select store, currency from stores order by store").fetchall()
    except duckdb.CatalogException:
        return {}
    return {store: currency for store, currency in rows if segment.store is None or store == segment.store}


def mixed_currencies(con: duckdb.DuckDBPyConnection, segment: Segment = ALL) -> list[str]:
    """The currencies of the selection's stores when there are several (sorted), else []."""
    found = sorted(set(store_currencies(con, segment).values()))
    return found if len(found) > 1 else []


def mixed_reason(currencies: list[str], lang: str = "en") -> str:
    """Why money figures are null over stores in different currencies."""
    names = ", ".join(currencies)
    if lang == "zh":
        return f"店铺币种不同：{names}；请选择一个店铺或提供汇率表"
    return f"stores in different currencies: {names}; choose one store or give a rate table"


def _money_measure(name: str) -> bool:
    entry = METRICS.get(name)
    # Of the measures that are not metrics, costable_sales and costed_sales (cost coverage) are sums of sales.
    return entry.unit == "money" if entry is not None else name in ("costable_sales", "costed_sales")


def is_money_figure(name: str) -> bool:
    """Whether the metric (or measure) adds up money: a money amount, or a ratio with money in it (aov, roas,
    margins). Counts and rates of counts (conversion) are not."""
    return any(_money_measure(m) for m in measures_of(name))


def rate_rows(con: duckdb.DuckDBPyConnection, rates: Rates) -> list[dict[str, object]]:
    """The `$rates` parameter of converted queries: one {store, rate} per store, and '' (expenses shared by every
    store) at the rate of the warehouse's currency."""
    found = [{"store": s, "rate": float(rates.rate(c) or 0)} for s, c in store_currencies(con).items()]
    own = dict(con.sql("select key, value from shopkpi_meta").fetchall()).get("currency", rates.reporting)
    return [*found, {"store": "", "rate": float(rates.rate(own) or 1)}]


def currency_unknown(
    con: duckdb.DuckDBPyConnection,
    names,
    segment: Segment = ALL,
    by: str | None = None,
    rates: Rates | None = None,
    lang: str = "en",
) -> dict[str, str]:
    """The money figures among `names` that are null because the selection mixes currencies, with the reason."""
    currencies = mixed_currencies(con, segment) if by != "store" else []
    if not currencies or not missing_rates(currencies, rates):
        return {}
    return {name: mixed_reason(currencies, lang) for name in names if is_money_figure(name)}


def missing_rates(currencies: list[str], rates: Rates | None) -> list[str]:
    """The currencies the rate table cannot convert (all of them without a table)."""
    return [c for c in currencies if rates is None or rates.rate(c) is None]


__all__ = [
    "Rates",
    "RatesError",
    "currency_unknown",
    "is_money_figure",
    "load_rates",
    "missing_rates",
    "mixed_currencies",
    "mixed_reason",
    "rate_rows",
    "store_currencies",
]
