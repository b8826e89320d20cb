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
