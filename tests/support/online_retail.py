"""The UCI Online Retail file as its users read it, and its credit notes booked as refunds worked out again from the
raw lines (independently of pipelines/adapters/online_retail.py), for the tests that check figures on it."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def raw_lines(path: Path) -> pl.DataFrame:
    """One row per line of the export, typed, with its line number and whether it is a credit note's."""
    frame = pl.read_csv(path, infer_schema=False).with_row_index("line", offset=2)
    return frame.with_columns(
        pl.col("Quantity").cast(pl.Int64),
        pl.col("UnitPrice").cast(pl.Float64),
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"),
        pl.col("CustomerID").str.replace(r"\.0$", ""),
        pl.col("InvoiceNo").str.starts_with("C").alias("credit"),
    )


def loaded_lines(raw: pl.DataFrame) -> pl.DataFrame:
    """The lines a warehouse holds: invoice lines with Quantity and UnitPrice > 0, credit-note lines with Quantity
    < 0, prices in whole pence (0.001 is refused), exact duplicates once (the first copy)."""
    pence = pl.col("UnitPrice") * 100
    kept = raw.filter(
        pl.when(pl.col("credit"))
        .then(pl.col("Quantity") < 0)
        .otherwise((pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0))
        & ((pence - pence.round(0)).abs() < 1e-6)
    )
    columns = [c for c in raw.columns if c not in ("line", "credit")]
    return kept.unique(columns, keep="first", maintain_order=True)


def refunds_by_the_rule(lines: pl.DataFrame) -> tuple[dict[str, int], int]:
    """The refund of each invoice, in pence, and the pence left unbooked, worked out from the raw lines again.

    `lines`: the export's lines, exact duplicates once, as loaded (prices in whole pence). Each credit-note line, in
    the order the credit notes were issued, goes to its customer's invoices issued no later than the credit note:
    first those containing its stock code, latest first, then any, latest first, each up to what it can still take.
    """
    pence = lines.with_columns(
        (pl.col("UnitPrice") * 100).round(0).cast(pl.Int64).alias("price_p"),
        pl.col("InvoiceDate").min().over("InvoiceNo").alias("issued"),
    )
    sales = pence.filter(~pl.col("credit") & pl.col("CustomerID").is_not_null())
    invoices = sales.group_by("InvoiceNo").agg(
        pl.col("CustomerID").first(), pl.col("issued").first(), (pl.col("Quantity") * pl.col("price_p")).sum()
    )
    room = dict(zip(invoices["InvoiceNo"], invoices["Quantity"], strict=True))
    history: dict[str, list[tuple]] = {}
    for number, customer, issued in invoices.select("InvoiceNo", "CustomerID", "issued").iter_rows():
        history.setdefault(customer, []).append((issued, number))
    for customer in history:
        history[customer].sort(reverse=True)
    has_sku = set(sales.select("InvoiceNo", "StockCode").iter_rows())
    refunds: dict[str, int] = {}
    unbooked = 0
    credits = pence.filter(pl.col("credit")).sort("issued", "InvoiceNo", "line")
    for customer, issued, sku, quantity, price in credits.select(
        "CustomerID", "issued", "StockCode", "Quantity", "price_p"
    ).iter_rows():
        owed = -quantity * price
        earlier = [number for when, number in history.get(customer, []) if when <= issued]
        for number in [n for n in earlier if (n, sku) in has_sku] + earlier:
            take = min(owed, room[number])
            room[number] -= take
            refunds[number] = refunds.get(number, 0) + take
            owed -= take
        unbooked += owed
    return {number: p for number, p in refunds.items() if p}, unbooked
