"""`shopkpi import ga4 | shopify-channels | sycm`: platform traffic reports into `traffic`.

The real GA4 and Shopify exports are read back channel by channel against an independent parse of the raw files
(csv module, the mapping written out here); the 生意参谋 export has no public sample, so GBK files are made here
with the platform's documented columns and their expected rows worked out by hand.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import typer
from typer.testing import CliRunner

from pipelines.adapters import ImportOptions, import_export
from pipelines.ingest import IngestError
from shopkpi.cli import imports as cli_import
from tests.support.warehouse_rows import REAL_DATA, query

GA4 = REAL_DATA / "exports/ga4-traffic-acquisition"
GA4_FILE = "Traffic_acquisition_Session_primary_channel_group_(Default_Channel_Group)"
GA4_EXPORTS = {
    "h2oplumbers": GA4 / "h2oplumbers" / f"{GA4_FILE}.csv",
    "h2oplumbers-ga4": GA4 / "h2oplumbers" / f"{GA4_FILE} (1).csv",
    "burnsedia": GA4 / "burnsedia-blog" / f"{GA4_FILE}.csv",
    "burnsedia-tab": GA4 / "burnsedia-blog" / "download.csv",
}
SHOPIFY = REAL_DATA / "exports/shopify-analytics-channel-performance"
SHOPIFY_EXPORTS = sorted(SHOPIFY.glob("*.csv"))

# The README's mapping of the channel groups in these files, written out independently of the adapter.
GA4_SOURCES = {
    "Paid Search": ("paid_search", "paid"),
    "Direct": ("direct", "direct"),
    "Referral": ("referral", "organic"),
    "Organic Search": ("organic_search", "organic"),
    "Organic Social": ("social", "organic"),
    "Cross-network": ("cross_network", "paid"),
    "Unassigned": ("unknown", "unknown"),
}


def app() -> typer.Typer:
    application = typer.Typer()
    application.command("import")(cli_import.import_)
    application.command("other")(lambda: None)  # with two commands, typer dispatches by name as shopkpi does
    return application


def run(*args: str):
    return CliRunner().invoke(app(), ["import", *args])


def ga4_raw(path: Path) -> tuple[tuple[date, date], list[list[str]], list[list[str]]]:
    """(period, channel rows, total rows) of a GA4 download, parsed with the csv module alone."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    starts = [c.split(":")[1].strip() for c in comments if c.startswith("Start date")]
    ends = [c.split(":")[1].strip() for c in comments if c.startswith("End date")]
    if not starts:  # the tab download: '# 20260226-20260325'
        starts, ends = zip(*(c.split("-") for c in comments if len(c) == 17 and c[8] == "-"), strict=True)
    day = lambda text: date(int(text[:4]), int(text[4:6]), int(text[6:]))  # noqa: E731
    table = [r for r in csv.reader(line for line in lines if line and not line.startswith("#"))]
    rows = [r for r in table[1:] if r[0]]
    totals = [r for r in table[1:] if not r[0]]
    return (day(starts[0]), day(ends[0])), rows, totals


@pytest.mark.parametrize("name", sorted(GA4_EXPORTS))
def test_each_ga4_export_reads_back_each_channels_sessions_as_in_the_file(tmp_path, name):
    path = GA4_EXPORTS[name]
    (first, last), rows, _ = ga4_raw(path)
    db = tmp_path / "w.duckdb"
    result = import_export(db, "ga4", path, options=ImportOptions(store=name))
    loaded = query(
        db,
        "select source, medium, sessions, engaged_sessions, bounced_sessions, revenue, date, end_date, store "
        "from traffic",
    )
    expected = {
        GA4_SOURCES[r[0]]: (int(r[1]), int(r[2]), int(r[1]) - int(r[2]), float(r[9]), first, last, name) for r in rows
    }
    assert {(s, m): tuple(float(v) if k == 3 else v for k, v in enumerate(rest)) for s, m, *rest in loaded} == expected
    assert result.tables[0].result.inserted == len(rows) and result.tables[0].result.rejected == 0
    assert query(db, "select count(*) from rejects") == [(0,)]


def test_the_tab_download_leaves_its_grand_total_row_out(tmp_path):
    # download.csv: `,242,…,0,Grand total` is the sum of its 4 channels (224 + 10 + 7 + 1), not a channel.
    _, rows, totals = ga4_raw(GA4_EXPORTS["burnsedia-tab"])
    assert len(totals) == 1 and totals[0][-1] == "Grand total"
    db = tmp_path / "w.duckdb"
    result = import_export(db, "ga4", GA4_EXPORTS["burnsedia-tab"])
    assert query(db, "select count(*), sum(sessions) from traffic") == [(4, int(totals[0][1]))]
    assert query(db, "select count(*) from traffic where source in ('', 'grand_total') or sessions = 242") == [(0,)]
    assert "total row left out (not a channel): line 8" in result.summary()
    assert query(db, "select min(date), max(end_date) from traffic") == [(date(2026, 2, 26), date(2026, 3, 25))]


def test_the_acquisition_overview_is_refused_in_one_line_naming_the_export_to_use(tmp_path):
    db = tmp_path / "w.duckdb"
    with pytest.raises(IngestError) as caught:
        import_export(db, "ga4", GA4 / "burnsedia-blog" / "Acquisition_overview.csv")
    message = str(caught.value)
    assert "\n" not in message
    assert "'Acquisition overview' export" in message and "not a Traffic acquisition table" in message
    assert "Reports › Acquisition › Traffic acquisition" in message
    assert not db.exists()


def test_a_later_export_of_the_same_store_and_period_updates_it_another_store_keeps_its_own(tmp_path):
    db = tmp_path / "w.duckdb"
    import_export(db, "ga4", GA4_EXPORTS["h2oplumbers"])
    second = import_export(db, "ga4", GA4_EXPORTS["h2oplumbers-ga4"])
    accounting = second.tables[0].result
    assert (accounting.inserted, accounting.updated) == (0, 7)
    assert "0 inserted + 7 updated" in second.summary()
    # The later export wins: Paid Search is 4,561 in the "- GA4" property's file (4,395 in the first).
    assert query(db, "select sessions from traffic where source = 'paid_search'") == [(4561,)]
    import_export(db, "ga4", GA4_EXPORTS["h2oplumbers"], options=ImportOptions(store="www"))
    assert query(db, "select store, sessions from traffic where source = 'paid_search' order by store") == [
        ("main", 4561),  # without --store: the default store (schema v4)
        ("www", 4395),
    ]


def ga4_report(header_lines: str, rows: str) -> str:
    columns = "Session primary channel group (Default Channel Group),Sessions,Engaged sessions,Total revenue"
    return f"{header_lines}{columns}\n{rows}"


def test_a_ga4_header_without_dates_asks_for_from_and_to_which_then_set_the_period(tmp_path):
    export = tmp_path / "traffic.csv"
    export.write_text(ga4_report("# Traffic acquisition\n# All Users\n", "Direct,10,4,0\nEmail,5,5,12.5\n"))
    db = tmp_path / "w.duckdb"
    refused = run("ga4", str(export), "--db", str(db))
    assert refused.exit_code == 1 and "pass --from YYYY-MM-DD --to YYYY-MM-DD" in refused.output
    loaded = run("ga4", str(export), "--db", str(db), "--from", "2026-01-01", "--to", "2026-01-31", "--store", "site")
    assert loaded.exit_code == 0, loaded.output
    assert query(db, "select date, end_date, store, source, sessions, revenue from traffic order by source") == [
        (date(2026, 1, 1), date(2026, 1, 31), "site", "direct", 10, 0),
        (date(2026, 1, 1), date(2026, 1, 31), "site", "email", 5, 12.5),
    ]
    # Dates in the header and other dates in --from/--to: the user is told rather than one silently winning.
    dated = tmp_path / "dated.csv"
    dated.write_text(ga4_report("# Start date: 20260101\n# End date: 20260131\n", "Direct,10,4,0\n"))
    clash = run("ga4", str(dated), "--db", str(db), "--from", "2026-02-01", "--to", "2026-02-28")
    assert clash.exit_code == 1 and "says 2026-01-01 to 2026-01-31" in clash.output


def test_ga4_channel_groups_map_to_sources_and_an_unknown_one_is_kept_and_listed(tmp_path):
    export = tmp_path / "traffic.csv"
    rows = "Paid Social,8,2,0\nOrganic Social,6,3,0\nOrganic Video,4,1,0\nAffiliates,3,0,0\nAI Assistants,2,1,0\n"
    export.write_text(ga4_report("# Start date: 20260101\n# End date: 20260107\n", rows))
    db = tmp_path / "w.duckdb"
    result = import_export(db, "ga4", export)
    assert query(db, "select source, medium, sessions from traffic order by sessions desc") == [
        ("social", "paid", 8),
        ("social", "organic", 6),
        ("video", "organic", 4),
        ("affiliate", "paid", 3),
        ("ai_assistants", "", 2),
    ]
    assert "GA4 channel groups not known to shopkpi, kept as their own sources: AI Assistants" in result.summary()


def shopify_raw(path: Path) -> dict[tuple[str, str], tuple[int, int | None, float | None]]:
    """{(channel, type): (sessions, orders, sales)} summed over referring platforms; the report leaves a channel's
    orders and sales empty when its sessions led to none, so an empty cell counts 0."""
    totals: dict[tuple[str, str], list] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = row["Type"] if row["Type"] in ("paid", "organic", "direct", "unknown") else "unknown"
            entry = totals.setdefault((row["Channel"].lower(), kind), [0, 0, 0.0])
            entry[0] += int(row["Sessions"])
            entry[1] += int(row["Orders"] or 0)
            entry[2] = round(entry[2] + float(row["Sales"] or 0), 2)
    return {key: tuple(value) for key, value in totals.items()}


@pytest.mark.parametrize("path", SHOPIFY_EXPORTS, ids=lambda p: p.name[:30])
def test_each_shopify_channel_export_reads_back_each_channels_sessions_as_in_the_file(tmp_path, path):
    db = tmp_path / "w.duckdb"
    result = import_export(db, "shopify-channels", path, options=ImportOptions(store="us"))
    loaded = query(db, "select source, medium, sessions, orders, revenue from traffic")
    got = {(s, m): (n, o, None if r is None else float(r)) for s, m, n, o, r in loaded}
    assert got == shopify_raw(path)
    first, last = path.name.split("_US_")[1].split("_")[:2]
    assert query(db, "select distinct date, end_date, store from traffic") == [
        (date.fromisoformat(first), date.fromisoformat(last), "us")
    ]
    # Both files have `unattributed`/`unknown` from several referring platforms: summed, said in the summary.
    assert "summed into one row each: unattributed/unknown (alphabet, shopify" in result.summary()
    assert query(db, "select count(*) from traffic where ad_cost is not null") == [(0,)]  # Cost is empty throughout


def test_a_shopify_export_without_its_period_in_the_name_asks_for_from_and_to(tmp_path):
    export = tmp_path / "channels.csv"
    export.write_text(SHOPIFY_EXPORTS[0].read_text(encoding="utf-8"), encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with pytest.raises(IngestError, match=r"does not say its period \(file name"):
        import_export(db, "shopify-channels", export)
    import_export(
        db, "shopify-channels", export, options=ImportOptions(date_from=date(2025, 9, 1), date_to=date(2025, 9, 7))
    )
    assert query(db, "select count(*), min(date), max(end_date) from traffic") == [
        (32, date(2025, 9, 1), date(2025, 9, 7))  # 33 rows, two of them unattributed/unknown summed
    ]


# 生意参谋 流量 › 店铺来源, with title lines, as the platform writes it (GBK); the 汇总 row is the day's total.
SYCM = """店铺名称,测试旗舰店
统计时间,2024-06-01~2024-06-02

日期,流量来源,访客数,浏览量,跳失率,下单买家数,下单转化率,支付买家数,支付金额,支付转化率,加购人数
2024-06-01,手淘搜索,1200,3600,45.50%,40,3.33%,36,"3,456.70",3.00%,150
2024-06-01,直通车,800,1900,52.00%,20,2.50%,18,1800.00,2.25%,60
2024-06-01,淘宝直播,300,700,30.00%,12,4.00%,10,990.50,3.33%,25
2024-06-01,小红书 种草,50,80,60.00%,1,2.00%,1,99.00,2.00%,2
2024-06-01,汇总,2350,6280,46.00%,73,,65,6346.20,,237
2024-06-02,购物车,400,900,20.00%,30,,28,2800.00,,
2024-06-02,引力魔方,90,150,,2,,,,,
"""


def test_a_gbk_sycm_export_loads_each_day_and_source(tmp_path):
    export = tmp_path / "流量来源.csv"
    export.write_bytes(SYCM.encode("gbk"))
    db = tmp_path / "w.duckdb"
    result = import_export(db, "sycm", export, options=ImportOptions(store="tmall"))
    rows = query(
        db,
        "select date, end_date, store, source, medium, sessions, visitors, pageviews, bounced_sessions, "
        "cart_sessions, buyers, revenue from traffic order by date, sessions desc",
    )
    d1, d2 = date(2024, 6, 1), date(2024, 6, 2)
    assert [tuple(float(v) if i == 11 and v is not None else v for i, v in enumerate(r)) for r in rows] == [
        # bounced = round(跳失率 × 访客数): 0.455 × 1200 = 546, 0.52 × 800 = 416, 0.30 × 300 = 90, 0.60 × 50 = 30
        (d1, d1, "tmall", "organic_search", "organic", 1200, 1200, 3600, 546, 150, 36, 3456.70),
        (d1, d1, "tmall", "paid_search", "paid", 800, 800, 1900, 416, 60, 18, 1800.00),
        (d1, d1, "tmall", "live", "organic", 300, 300, 700, 90, 25, 10, 990.50),
        (d1, d1, "tmall", "小红书_种草", "", 50, 50, 80, 30, 2, 1, 99.00),
        # 0.20 × 400 = 80; empty cells stay null, not 0
        (d2, d2, "tmall", "direct", "direct", 400, 400, 900, 80, None, 28, 2800.00),
        (d2, d2, "tmall", "display", "paid", 90, 90, 150, None, None, None, None),
    ]
    summary = result.summary()
    assert "7 rows read" in summary and "6 inserted" in summary
    assert "total rows (汇总/合计) left out: 1" in summary
    assert "生意参谋 sources not known to shopkpi, kept as their own sources: 小红书 种草" in summary


def test_a_sycm_export_without_a_visitors_column_says_which_columns_are_required(tmp_path):
    export = tmp_path / "流量来源.csv"
    export.write_bytes("日期,流量来源,浏览量\n2024-06-01,手淘搜索,10\n".encode("gbk"))
    with pytest.raises(IngestError, match="访客数"):
        import_export(tmp_path / "w.duckdb", "sycm", export)


def test_a_file_mixing_periods_is_refused_with_the_line(tmp_path):
    # A week's row (1–7 June) next to a day inside it would count 1 June twice.
    export = tmp_path / "流量来源.csv"
    export.write_bytes(
        "日期,流量来源,访客数\n2024-06-01~2024-06-07,手淘搜索,700\n2024-06-01,手淘搜索,100\n".encode("gbk")
    )
    db = tmp_path / "w.duckdb"
    with pytest.raises(IngestError) as caught:
        import_export(db, "sycm", export)
    assert "line 3: the period 2024-06-01 to 2024-06-01 overlaps line 2's 2024-06-01 to 2024-06-07" in str(caught.value)
    assert not db.exists()


def test_a_bad_row_is_rejected_with_the_exports_line_and_the_rest_loads(tmp_path):
    export = tmp_path / "流量来源.csv"
    export.write_bytes(
        "日期,流量来源,访客数,跳失率\n2024-06-01,手淘搜索,12.5,10%\n2024-06-01,直通车,40,150%\n"
        "2024-06-01,淘宝客,30,10%\n".encode("gbk")
    )
    db = tmp_path / "w.duckdb"
    result = import_export(db, "sycm", export)
    assert "1 inserted" in result.summary() and "2 rejected" in result.summary()
    assert query(db, "select line, column_name, reason from rejects order by line") == [
        (2, "sessions", "访客数 is not a whole number: 12.5"),
        (3, "bounced_sessions", "跳失率 is not a rate (0–100%): 150%"),
    ]
    assert query(db, "select source, sessions, bounced_sessions from traffic") == [("affiliate", 30, 3)]


def test_a_sycm_xlsx_export_with_title_rows_and_date_cells_loads_like_the_csv(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["店铺名称", "测试旗舰店"])
    sheet.append([])
    sheet.append(["统计日期", "来源", "访客数", "浏览量", "跳失率", "支付买家数", "支付金额"])
    sheet.append([date(2024, 6, 1), "手淘搜索", 1200, 3600, 0.455, 36, 3456.7])  # 跳失率 as a fraction: 0.455
    sheet.append([date(2024, 6, 1), "直通车", 800, 1900, 0.52, 18, 1800])
    for cell in ("A4", "A5"):
        sheet[cell].number_format = "yyyy-mm-dd"
    workbook.save(tmp_path / "流量来源.xlsx")
    db = tmp_path / "w.duckdb"
    import_export(db, "sycm", tmp_path / "流量来源.xlsx")
    d = date(2024, 6, 1)
    assert query(db, "select date, end_date, source, sessions, bounced_sessions, buyers from traffic order by 4") == [
        (d, d, "paid_search", 800, 416, 18),  # 0.52 × 800
        (d, d, "organic_search", 1200, 546, 36),  # 0.455 × 1200
    ]


# ---------------------------------------------------------------------------------------------------------------
# A traffic report that overlaps stored traffic of the same store with another period (the README's rule: the later
# export replaces the stored rows whose days it covers; one that would leave days of them uncovered is refused).

SHOPIFY_WEEK = SHOPIFY / "shopify_channel_perf_US_2025-09-01_2025-09-07_20251221_195312.csv"
SHOPIFY_LONG = SHOPIFY / "shopify_channel_performance_US_2025-09-01_2025-12-19_20251221_173440.csv"


def test_a_later_export_covering_a_stored_weeks_days_replaces_it_and_says_so(tmp_path):
    db = tmp_path / "w.duckdb"
    import_export(db, "shopify-channels", SHOPIFY_WEEK, options=ImportOptions(store="us"))
    import_export(db, "shopify-channels", SHOPIFY_WEEK, options=ImportOptions(store="eu"))  # another store's own
    second = import_export(db, "shopify-channels", SHOPIFY_LONG, options=ImportOptions(store="us"))
    # The week's 33 rows were 32 after summing unattributed/unknown; 1 September – 19 December holds those days.
    assert "48 inserted" in second.summary()
    assert "replaced 32 stored rows of store us over 2025-09-01 to 2025-09-07" in second.summary()
    # Sessions column of the long file, summed by hand: 52,401 (with the week kept too it was 52,401 + 2,621 = 55,022).
    assert query(db, "select count(*), sum(sessions) from traffic where store = 'us'") == [(48, 52401)]
    assert query(db, "select distinct date, end_date from traffic where store = 'us'") == [
        (date(2025, 9, 1), date(2025, 12, 19))
    ]
    assert query(db, "select count(*), sum(sessions) from traffic where store = 'eu'") == [(32, 2621)]


def test_an_export_inside_a_stored_longer_period_is_refused_and_changes_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    import_export(db, "shopify-channels", SHOPIFY_LONG)
    before = query(db, "select * from traffic order by all")
    with pytest.raises(IngestError) as caught:
        import_export(db, "shopify-channels", SHOPIFY_WEEK)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{SHOPIFY_WEEK}: ")  # the export, not the derived file
    assert "store main's stored traffic of 2025-09-01 to 2025-12-19 (48 rows)" in message
    assert "days this file does not cover (2025-09-08 to 2025-12-19)" in message
    assert "Load an export covering 2025-09-01 to 2025-12-19" in message
    assert query(db, "select * from traffic order by all") == before
    assert query(db, "select count(*) from ingest_log") == [(1,)]


def ingest_traffic(db: Path, path: Path, text: str):
    from pipelines.ingest import ingest_file

    path.write_text(text, encoding="utf-8")
    return ingest_file(db, "traffic", path)


def test_ingest_traffic_replaces_a_covered_range_refuses_a_cut_one_and_a_file_mixing_periods(tmp_path):
    db = tmp_path / "w.duckdb"
    ingest_traffic(db, tmp_path / "week.csv", "date,end_date,source,sessions\n2024-06-01,2024-06-07,direct,70\n")
    # Two days of the week: the week's total cannot be split, so nothing is loaded.
    with pytest.raises(IngestError, match=r"stored traffic of 2024-06-01 to 2024-06-07 \(1 rows\).*\(2024-06-03 to "):
        ingest_traffic(
            db,
            tmp_path / "days.csv",
            "date,end_date,source,sessions\n2024-06-01,2024-06-01,direct,9\n2024-06-02,2024-06-02,direct,11\n",
        )
    # A week's row and a day inside it in one file: refused with both lines, as the import formats do.
    with pytest.raises(IngestError, match="line 3: the period 2024-06-02 to 2024-06-02 overlaps line 2's"):
        ingest_traffic(
            db,
            tmp_path / "mixed.csv",
            "date,end_date,source,sessions\n2024-06-01,2024-06-07,email,5\n2024-06-02,2024-06-02,email,1\n",
        )
    assert query(db, "select date, end_date, source, sessions from traffic") == [
        (date(2024, 6, 1), date(2024, 6, 7), "direct", 70)
    ]
    # Every day of the week, one row each (10 sessions a day, 2 of them by email on the 7th): they replace the week.
    days = "".join(f"2024-06-0{d},2024-06-0{d},direct,10\n" for d in range(1, 8)) + "2024-06-07,2024-06-07,email,2\n"
    result = ingest_traffic(db, tmp_path / "daily.csv", "date,end_date,source,sessions\n" + days)
    assert (result.inserted, result.updated, result.rejected) == (8, 0, 0)
    assert "replaced 1 stored rows of store main over 2024-06-01 to 2024-06-07" in result.summary()
    assert query(db, "select count(*), sum(sessions), min(date), max(end_date) from traffic") == [
        (8, 72, date(2024, 6, 1), date(2024, 6, 7))  # 7 × 10 + 2
    ]


def test_the_replaced_rows_are_gone_from_the_idle_copy_too(tmp_path, monkeypatch):
    # With the A/B pair (warehouse/store.py) the next load replays the journal of the last one on the idle copy: the
    # journal must delete the replaced week there as well, or the week would come back with the next load.
    from warehouse import store

    monkeypatch.setattr(store, "PAIR_FROM_BYTES", 0)
    monkeypatch.setattr(store, "_read_here", set())
    db = tmp_path / "w.duckdb"
    ingest_traffic(db, tmp_path / "a.csv", "date,end_date,source,sessions\n2024-06-05,2024-06-05,direct,1\n")
    replaced = ingest_traffic(
        db, tmp_path / "b.csv", "date,end_date,source,sessions\n2024-06-01,2024-06-07,direct,70\n"
    )
    assert "replaced 1 stored rows of store main over 2024-06-05 to 2024-06-05" in replaced.summary()
    # c is written on the idle copy (the warehouse as load a left it) caught up with b's journal.
    ingest_traffic(db, tmp_path / "c.csv", "date,end_date,source,sessions\n2024-07-01,2024-07-01,direct,9\n")
    assert query(db, "select date, end_date, sessions from traffic order by date") == [
        (date(2024, 6, 1), date(2024, 6, 7), 70),
        (date(2024, 7, 1), date(2024, 7, 1), 9),
    ]
    ingest_traffic(db, tmp_path / "d.csv", "date,end_date,source,sessions\n2024-07-02,2024-07-02,direct,8\n")
    assert query(db, "select date, end_date, sessions from traffic order by date") == [
        (date(2024, 6, 1), date(2024, 6, 7), 70),
        (date(2024, 7, 1), date(2024, 7, 1), 9),
        (date(2024, 7, 2), date(2024, 7, 2), 8),
    ]
