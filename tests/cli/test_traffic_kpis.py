"""Issue 13's done-when at the command line: a real GA4 or Shopify channel export imported into a new warehouse,
then `shopkpi kpis --from D --to D --by source --format json` over its period gives each channel's sessions exactly as
in the file and the rates the file implies. The expected values are read from the raw files with the csv module."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopkpi.settings import REPO_ROOT
from tests.support.warehouse_rows import REAL_DATA

GA4 = REAL_DATA / "exports/ga4-traffic-acquisition/h2oplumbers"
GA4_FILE = GA4 / "Traffic_acquisition_Session_primary_channel_group_(Default_Channel_Group).csv"
SHOPIFY = REAL_DATA / "exports/shopify-analytics-channel-performance"
SHOPIFY_WEEK = SHOPIFY / "shopify_channel_perf_US_2025-09-01_2025-09-07_20251221_195312.csv"


def shopkpi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopkpi", *args], capture_output=True, text=True, cwd=REPO_ROOT)


def kpis_by_source(db: Path, first: str, last: str) -> dict:
    done = shopkpi("kpis", "--from", first, "--to", last, "--by", "source", "--format", "json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    return {row["group"]: row for row in json.loads(done.stdout)["rows"]}


def test_a_ga4_export_gives_each_channels_sessions_and_its_engaged_bounce(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    done = shopkpi("import", "ga4", str(GA4_FILE), "--db", str(db))
    assert done.returncode == 0, done.stderr
    lines = [line for line in GA4_FILE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    raw = {row["Session primary channel group (Default Channel Group)"]: row for row in csv.DictReader(lines)}
    # The file's comment header: Start date 20250101, End date 20251030.
    rows = kpis_by_source(db, "2025-01-01", "2025-10-30")
    for channel, source in (("Paid Search", "paid_search"), ("Direct", "direct"), ("Organic Search", "organic_search")):
        assert rows[source]["sessions"] == int(raw[channel]["Sessions"]), channel
        # GA4's bounce is the share of sessions not engaged: 1 − engagement rate.
        assert rows[source]["engaged_bounce_rate"] == pytest.approx(1 - float(raw[channel]["Engagement rate"]))
    assert sum(r["sessions"] or 0 for r in rows.values()) == sum(int(r["Sessions"]) for r in raw.values())
    # A window that cuts the report's period has no session figures, never a share of them, and says why.
    cut = kpis_by_source(db, "2025-01-01", "2025-06-30")
    assert all(row["sessions"] is None for row in cut.values())
    # Without dates, the default 30 days end on the report's last day: the data's latest date includes traffic.
    done = shopkpi("kpis", "--format", "json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["from"], document["to"]) == ("2025-10-01", "2025-10-30")
    assert document["rows"][0]["sessions"] is None and "2025-01-01 – 2025-10-30" in document["unknown"]["sessions"]


def test_a_shopify_channel_export_gives_sessions_conversion_and_sales_by_channel(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    done = shopkpi("import", "shopify-channels", str(SHOPIFY_WEEK), "--db", str(db))
    assert done.returncode == 0, done.stderr
    raw = list(csv.DictReader(SHOPIFY_WEEK.read_text(encoding="utf-8").splitlines()))
    rows = kpis_by_source(db, "2025-09-01", "2025-09-07")  # the period in the file name
    # attentive (paid): one row in the file, 158 sessions and 13 orders, conversion 0.0822… as the file says.
    attentive = next(r for r in raw if r["Channel"] == "attentive")
    assert rows["attentive"]["sessions"] == int(attentive["Sessions"])
    assert rows["attentive"]["conversion_rate"] == pytest.approx(float(attentive["Conversion rate"]))
    # Its sales and AOV are the report's: 1,468.80 over 13 orders = 112.98, which the file rounds to 112.984.
    assert rows["attentive"]["reported_sales"] == float(attentive["Sales"]) == 1468.8
    assert rows["attentive"]["reported_aov"] == pytest.approx(float(attentive["AOV"]), abs=1e-3)
    # facebook: 150 paid + 14 unknown sessions, Orders and Sales empty on both rows (the report leaves a channel's
    # zeros empty): no sales and a conversion of 0, not unknown.
    assert rows["facebook"]["sessions"] == 164 and rows["facebook"]["reported_sales"] == 0
    assert rows["facebook"]["conversion_rate"] == 0 and rows["facebook"]["reported_aov"] is None
    # The report's sales by channel add up to its total (a sum over channels is the whole shop's attributed sales).
    total = sum(float(r["Sales"]) for r in raw if r["Sales"])
    assert sum(r["reported_sales"] or 0 for r in rows.values()) == pytest.approx(total)
    # Every session of the file is in some channel's row.
    assert sum(r["sessions"] or 0 for r in rows.values()) == sum(int(r["Sessions"]) for r in raw)


def test_a_store_with_session_logs_does_not_hide_another_stores_channel_report(tmp_path) -> None:
    # Store site: two logged sessions on 2 and 3 September 2025, s1 (1 page, 5 s) and s2 (2 pages, 30 s), which paid
    # order o1 names. Store shopify: the real channel export of 1–7 September. By hand: site 2 sessions, 1 bounce
    # (s1), 1 engaged (s2), 1 converted; shopify its file's sessions and orders; the stores together add them up.
    db = tmp_path / "w.duckdb"
    (tmp_path / "sessions.csv").write_text(
        "session_id,visitor_id,started_at,source,device,pageviews,duration_s\n"
        "s1,v1,2025-09-02 10:00,direct,mobile,1,5\ns2,v2,2025-09-03 11:00,google,desktop,2,30\n"
    )
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,status,session_id,subtotal\no1,2025-09-03 11:10,paid,s2,40\n"
    )
    for args in (
        ("ingest", "sessions", str(tmp_path / "sessions.csv"), "--store", "site"),
        ("ingest", "orders", str(tmp_path / "orders.csv"), "--store", "site"),
        ("import", "shopify-channels", str(SHOPIFY_WEEK), "--store", "shopify"),
    ):
        done = shopkpi(*args, "--db", str(db))
        assert done.returncode == 0, done.stderr
    raw = list(csv.DictReader(SHOPIFY_WEEK.read_text(encoding="utf-8").splitlines()))
    sessions = sum(int(r["Sessions"]) for r in raw)
    orders = sum(int(r["Orders"] or 0) for r in raw)
    sales = sum(float(r["Sales"] or 0) for r in raw)

    def kpis(*options: str) -> dict:
        done = shopkpi(
            "kpis", "--from", "2025-09-01", "--to", "2025-09-07", *options, "--format", "json", "--db", str(db)
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    shopify = kpis("--store", "shopify")
    row = shopify["rows"][0]
    assert row["sessions"] == sessions and row["reported_sales"] == pytest.approx(sales)
    assert row["conversion_rate"] == pytest.approx(orders / sessions)
    # A channel report has no distinct visitors and no one-page bounces: null, each with the reason.
    assert row["visitors"] is None and "does not give distinct visitors" in shopify["unknown"]["visitors"]
    assert row["bounce_rate"] is None
    assert (
        shopify["unknown"]["bounce_rate"] == "the platform's traffic report does not give one-page (bounced) sessions"
    )
    site = kpis("--store", "site")["rows"][0]
    assert (site["sessions"], site["visitors"], site["bounce_rate"], site["conversion_rate"]) == (2, 2, 0.5, 0.5)
    by_store = {r["group"]: r for r in kpis("--by", "store")["rows"]}
    assert (by_store["site"]["sessions"], by_store["shopify"]["sessions"]) == (2, sessions)
    both = kpis()
    row = both["rows"][0]
    assert row["sessions"] == sessions + 2
    assert row["conversion_rate"] == pytest.approx((orders + 1) / (sessions + 2))
    # Only one kind gives these: unknown for the stores together, with the reason, never one store's figure alone.
    assert row["visitors"] is None and row["bounce_rate"] is None and row["reported_sales"] is None
    assert both["unknown"]["reported_sales"] == (
        "only a platform's traffic report gives it, and site's session figures come from its session logs"
    )
    done = shopkpi("kpis", "--from", "2025-09-01", "--to", "2025-09-07", "--db", str(db))
    assert "— Bounce rate: the platform's traffic report does not give one-page (bounced) sessions" in done.stdout


MAISON_MARIA = REAL_DATA / "exports/shopify-orders/maison-maria-2025/orders_export_1.csv"
SHOPIFY_LONG = SHOPIFY / "shopify_channel_performance_US_2025-09-01_2025-12-19_20251221_173440.csv"


def test_shopify_orders_and_a_channel_report_of_the_same_period_give_conversion_and_sales_by_channel(tmp_path) -> None:
    # Two real exports in one warehouse (store main): maison-maria's orders (Oct–Dec 2025) and a channel report of
    # 1 September – 19 December 2025. They are two shops' files (the only public ones): the test checks what each
    # figure is made of, against the raw files read with the csv module.
    db = tmp_path / "w.duckdb"
    for fmt, path in (("shopify", MAISON_MARIA), ("shopify-channels", SHOPIFY_LONG)):
        done = shopkpi("import", fmt, str(path), "--db", str(db))
        assert done.returncode == 0, done.stderr
    channels = list(csv.DictReader(SHOPIFY_LONG.read_text(encoding="utf-8").splitlines()))
    orders = {}
    for row in csv.DictReader(MAISON_MARIA.read_text(encoding="utf-8").splitlines()):
        orders.setdefault(row["Name"], row)  # an order's first row holds its totals
    done = shopkpi(
        "kpis", "--from", "2025-09-01", "--to", "2025-12-19", "--by", "source", "--format", "json", "--db", str(db)
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    rows = {row["group"]: row for row in document["rows"]}

    # attentive: one row, 1,520 sessions and 102 orders: conversion 102 / 1,520 = 0.0671…, the file's own rate;
    # its sales 11,788.30 as reported, over 102 orders an AOV of 115.57 (the file: 115.571).
    attentive = next(r for r in channels if r["Channel"] == "attentive")
    assert rows["attentive"]["sessions"] == 1520 == int(attentive["Sessions"])
    assert rows["attentive"]["conversion_rate"] == pytest.approx(102 / 1520) == float(attentive["Conversion rate"])
    assert rows["attentive"]["reported_sales"] == pytest.approx(11788.3)
    assert rows["attentive"]["reported_aov"] == pytest.approx(11788.3 / 102) == pytest.approx(115.571, abs=1e-3)
    # facebook: 2,945 paid + 460 unknown + 13 organic sessions, Orders and Sales empty on all three: conversion 0.
    assert rows["facebook"]["sessions"] == 3418 and rows["facebook"]["conversion_rate"] == 0
    assert rows["facebook"]["reported_sales"] == 0
    # Every channel's reported sales add up to the file's: 42,277.37.
    assert sum(r["reported_sales"] or 0 for r in rows.values()) == pytest.approx(42277.37)
    assert sum(float(r["Sales"] or 0) for r in channels) == pytest.approx(42277.37)

    # The orders export names no session, so no channel: a channel's orders and sales from the orders are unknown
    # (null with the reason), not 0, and every order is in the group none. The valid orders of the period: created
    # from 1 September and not cancelled (the README's mapping): 51 of its 60, worth Σ Total = 2,037.01
    # (gross 1,943.93 − discounts 50.92 + shipping 144.00).
    valid = [o for o in orders.values() if o["Created at"] >= "2025-09-01" and not o["Cancelled at"]]
    assert len(valid) == 51 and sum(float(o["Total"]) for o in valid) == pytest.approx(2037.01)
    assert rows[None]["orders"] == 51 and rows[None]["total_revenue"] == pytest.approx(2037.01)
    for channel in ("attentive", "direct", "facebook"):
        assert rows[channel]["orders"] is None and rows[channel]["total_revenue"] is None, channel
        assert rows[channel]["aov"] is None and rows[channel]["gross_sales"] is None, channel
    assert "orders name no session" in document["unknown"]["orders"]
    assert "cannot be split by source" in document["unknown"]["total_revenue"]
    # The shop's conversion is the platform's orders over its sessions: Σ Orders 352 / Σ Sessions 52,401.
    done = shopkpi("kpis", "--from", "2025-09-01", "--to", "2025-12-19", "--format", "json", "--db", str(db))
    whole = json.loads(done.stdout)["rows"][0]
    assert sum(int(r["Orders"] or 0) for r in channels) == 352 and sum(int(r["Sessions"]) for r in channels) == 52401
    assert whole["conversion_rate"] == pytest.approx(352 / 52401) and whole["orders"] == 51
