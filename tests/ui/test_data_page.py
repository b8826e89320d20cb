"""AppTest of the Data page: an empty state in words without a warehouse; with one, its row counts, loads and
reject reasons, and new rows after an ingest from another process; the same page, and an upload, in Chinese."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

import warehouse
from metrics.compute import rollups_current
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import signin, warmup
from tests.support.small import REASON, build_small_warehouse, write_orders_in_another_process
from tests.support.warehouse_rows import REAL_DATA


def run_app(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    monkeypatch.delenv("SHOPKPI_CONFIG", raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # lands on the home page (Overview)
    at.switch_page("pages/data.py").run()
    return at


def test_without_a_warehouse_the_page_says_how_to_get_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(tmp_path / "missing.duckdb", monkeypatch)

    assert not at.exception
    assert "No data yet: run `shopkpi demo` or `shopkpi ingest …`" in [info.value for info in at.info]
    assert not at.dataframe, "an empty state is a sentence, not an empty table"
    assert not (tmp_path / "missing.duckdb").exists(), "the dashboard only reads: it must not create a warehouse"


def test_shows_row_counts_loads_and_reject_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)

    at = run_app(db, monkeypatch)

    assert not at.exception
    assert not at.error
    cards = {metric.label: metric.value for metric in at.metric}
    assert cards["orders"] == "3"
    assert cards["sessions"] == "0"

    overview = at.dataframe[0].value.set_index("table")
    assert overview.loc["orders", "rows"] == 3
    assert str(overview.loc["orders", "first_date"])[:10] == "2024-01-05"
    assert str(overview.loc["orders", "last_date"])[:10] == "2024-02-10"
    assert overview["rows"].sum() == 3, "only orders has rows"

    loads = at.dataframe[1].value
    assert loads.loc[0, ["path", "rows_read", "inserted", "updated", "duplicates", "rejected"]].tolist() == [
        "exports/orders.csv",
        5,
        3,
        0,
        1,
        1,
    ]
    assert loads.loc[0, "ignored_columns"] == "utm_source"

    summary, detail = at.dataframe[2].value, at.dataframe[3].value
    assert summary[["column", "reason", "rejected_rows"]].values.tolist() == [["status", REASON, 1]]
    assert detail[["file", "line", "reason", "raw_row"]].values.tolist() == [
        ["exports/orders.csv", 4, REASON, "A4,2024-01-07,lost"]
    ]
    assert at.get("download_button"), "the rejected rows can be downloaded as CSV"
    assert {"Tables", "Rows", "Inserted"} <= english_words(at), "the check the Chinese tests rely on sees English"


def test_the_rollups_the_warehouse_keeps_are_listed_with_the_splits_whose_visitors_come_from_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.rollups import build_rollups, choose_visitor_numbers, choose_visitor_splits

    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)
    with warehouse.writing(db) as con:  # spans instead of the default visitor numbers
        choose_visitor_numbers(con, False)
        choose_visitor_splits(con, ["campaign", "source"])
        build_rollups(con)
    at = run_app(db, monkeypatch)

    assert not at.exception
    assert [h.value for h in at.subheader][-1] == "Rollups"
    shown = at.dataframe[-1].value.set_index("table")
    with warehouse.open_read_only(db) as con:
        kept = con.sql("select table_name, keyed_by from rollup_queries").fetchall()
        orders = con.sql("select count(*) from rollup_orders").fetchall()[0][0]
    assert sorted(shown.index) == sorted(table for table, _ in kept)
    assert "rollup_visitor_campaigns" in shown.index and "rollup_visitor_mediums" not in shown.index
    assert shown.loc["rollup_visitor_campaigns", "keyed_by"] == "visitor_id"
    assert shown.loc["rollup_orders", "rows"] == orders > 0, "the small shop's paid orders, by day"
    captions = "\n".join(c.value for c in at.caption)
    assert "Visitors of a split by source, campaign are counted from each visitor's first and last day" in captions
    assert "Those of a split by medium, device are counted over the period's sessions" in captions
    assert "`shopkpi rollups --visitor-numbers on` counts every split's at once" in captions


def test_the_rollups_say_the_visitors_are_counted_from_their_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.rollups import build_rollups

    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)
    with warehouse.writing(db) as con:
        con.execute(
            "insert into sessions (session_id, visitor_id, started_at, source, device) values "
            "('s1', 'v1', '2024-01-05 08:00', 'google', 'mobile'), ('s2', 'v1', '2024-01-06 08:00', 'direct', 'app')"
        )
        build_rollups(con)  # the default: the visitors numbered
    at = run_app(db, monkeypatch)
    assert not at.exception
    shown = at.dataframe[-1].value.set_index("table")
    with warehouse.open_read_only(db) as con:
        sessions = con.sql("select count(*) from sessions").fetchall()[0][0]
    assert shown.loc["rollup_day_visitors", "rows"] == sessions == 2, "a row per session"
    assert "rollup_visitors" not in shown.index and "rollup_visitor_sources" not in shown.index
    captions = "\n".join(c.value for c in at.caption)
    assert "any split by source, medium, campaign, device, store under any filter on them" in captions


def test_rollups_another_version_built_are_named_as_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A warehouse whose items' rollup another version of shopkpi built (its recorded query differs from this code's):
    # the page says it is not read until the next load or `shopkpi rollups`, and marks it in the table.
    from metrics.rollups import build_rollups

    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)
    with warehouse.writing(db) as con:
        build_rollups(con)
    at = run_app(db, monkeypatch)
    assert not at.exception and "another version" not in " ".join(w.value for w in at.warning), "all this code's"
    assert at.dataframe[-1].value["current"].all()
    with warehouse.writing(db) as con:
        con.execute("update rollup_queries set query = query || ' ' where table_name = 'rollup_items'")
    at = run_app(db, monkeypatch)
    assert not at.exception
    shown = at.dataframe[-1].value.set_index("table")
    assert not shown.loc["rollup_items", "current"] and shown.drop("rollup_items")["current"].all()
    warned = " ".join(w.value for w in at.warning)
    assert "Built by another version of shopkpi, so not read: rollup_items." in warned
    assert "until the next load or `shopkpi rollups` rebuilds them" in warned


def test_rerun_after_an_ingest_in_another_process_shows_the_new_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)
    at = run_app(db, monkeypatch)
    assert {metric.label: metric.value for metric in at.metric}["orders"] == "3"

    # While this dashboard session holds its reader (and cached results), another process adds 1,200 orders.
    written = write_orders_in_another_process(db, 0, 1200)
    assert written.returncode == 0, written.stderr
    at.run()

    assert not at.exception
    assert {metric.label: metric.value for metric in at.metric}["orders"] == "1,203"


def test_a_file_that_is_not_a_warehouse_is_explained_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("this is not a DuckDB file\n")

    at = run_app(db, monkeypatch)

    assert not at.exception
    assert len(at.error) == 1
    assert str(db) in _as_read(at.error[0].value)


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 1200], ids=["zero bytes", "random"])
@pytest.mark.parametrize("page", ["pages/overview.py", "pages/traffic.py", "pages/data.py"])
def test_a_damaged_warehouse_is_said_to_be_unreadable_not_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, page: str
) -> None:
    # Issue 17, item 8: Overview and Traffic said "no orders yet: load some" on a damaged warehouse.
    db = tmp_path / "shop.duckdb"
    db.write_bytes(content)
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    monkeypatch.delenv("SHOPKPI_CONFIG", raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30).run()
    # The first run started the background warm-up, which imports the page modules; Python 3.11.7 can fail two
    # threads compiling at once ("AST constructor recursion depth mismatch"): let it end (it fails at once here).
    for thread in list(warmup._threads):
        thread.join(timeout=30)
    at.switch_page(page).run()
    assert not at.exception
    assert not [i.value for i in at.info if "load some" in i.value or "No data yet" in i.value]
    [error] = [_as_read(e.value) for e in at.error]
    assert error.startswith(f"The warehouse cannot be read: {db} is not a shopkpi warehouse or is damaged (")
    assert "restore it from a backup" in error
    assert db.read_bytes() == content, "the dashboard only reads"


# --- in Chinese -------------------------------------------------------------------------------------------------

# Latin words a Chinese page may show: table names, file formats and the spec it cites. Everything in `code` is a
# technical name (a command, a path, a setting), and a file name or suffix is data: neither is checked.
NAMES = {*warehouse.TABLES, "rejects", "ingest_log", "SPEC", "SQL", "CSV", "Parquet", "JSON", "Lines", "gz"}


def page_texts(at: AppTest) -> list[str]:
    """Every text of the page body a reader sees: headings, sentences, widget labels, help, and column labels."""
    texts = [
        e.value
        for kind in ("title", "subheader", "caption", "markdown", "info", "success", "warning", "error")
        for e in at.main.get(kind)
    ]
    texts += [
        e.label
        for kind in ("expander", "selectbox", "file_uploader", "button", "download_button")
        for e in at.main.get(kind)
    ]
    texts += [e.proto.help for kind in ("subheader", "selectbox", "metric") for e in at.main.get(kind)]
    for frame in at.main.get("dataframe"):
        for column in json.loads(frame.proto.columns).values():
            texts += [column.get("label", ""), column.get("help", "")]
    # The demo-mode banner is drawn by app.py above every page (shopkpi/ui/signin.py), not by the Data page.
    return [str(text) for text in texts if text and text not in signin.DEMO_BANNER]


def english_words(at: AppTest) -> set[str]:
    words = set()
    for text in page_texts(at):
        prose = re.sub(r"[A-Za-z0-9_.-]*\.[A-Za-z]+\b", "", re.sub(r"`[^`]*`", "", text))
        words |= set(re.findall(r"[A-Za-z][A-Za-z_]+", prose))
    return words - NAMES


def column_labels(at: AppTest, index: int) -> list[str]:
    columns = json.loads(at.dataframe[index].proto.columns)
    return [c["label"] for c in columns.values() if "label" in c]


def test_in_chinese_the_tables_loads_and_rejects_are_labelled_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.duckdb"
    build_small_warehouse(db)

    at = run_app(db, monkeypatch, lang="zh")

    assert not at.exception
    assert at.title[0].value == "数据"
    assert [h.value for h in at.subheader] == ["数据表", "最近导入", "被拒绝的行", "汇总表"]
    assert "尚未建立" in "\n".join(c.value for c in at.caption), "no rollups in this warehouse, said in Chinese"
    assert column_labels(at, 0) == ["数据表", "行数", "日期列", "最早日期", "最晚日期"]
    assert column_labels(at, 1) == [
        "批次",
        "文件",
        "数据表",
        "导入时间",
        "读取",
        "新增",
        "更新",
        "重复",
        "拒绝",
        "忽略的列",
    ]
    assert column_labels(at, 2) == ["数据表", "列", "原因", "行数", "文件数"]
    assert column_labels(at, 3) == ["导入时间", "文件", "行号", "数据表", "列", "原因", "原始行"]
    assert "读取行数 = 新增 + 更新 + 重复 + 拒绝" in "\n".join(c.value for c in at.caption)
    assert "共 **1** 行被拒绝，按原因汇总：" in [m.value for m in at.markdown]
    assert {m.label: m.proto.help for m in at.metric}["orders"] == "3 行；2024-01-05 至 2024-02-10"
    assert at.get("download_button")[0].label == "下载全部被拒绝的行（CSV）"
    assert at.main.get("expander")[0].label == "上传导出文件"
    assert english_words(at) == set(), "no English left on the Chinese page"
    # The data stays as it is: column keys, table names and the reject reason are not translated.
    assert at.dataframe[1].value.loc[0, "path"] == "exports/orders.csv"
    assert at.dataframe[2].value.loc[0, "reason"] == REASON


def test_an_empty_warehouse_in_chinese_is_said_in_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "empty.duckdb"
    with warehouse.writing(db):
        pass

    at = run_app(db, monkeypatch, lang="zh")

    assert not at.exception
    assert at.title[0].value == "数据"
    captions = "\n".join(c.value for c in at.caption)
    assert "仓库已建好，但所有表都是空的" in captions
    assert "还没有导入过文件" in captions
    assert "没有被拒绝的行" in captions
    assert len(at.dataframe) == 1, "only the table overview; no empty ledger"
    assert english_words(at) == set()


CSV = b"order_id,ordered_at,status\nA1,2024-01-05 09:00,paid\nA2,2024-01-06 10:00,lost\n"


@pytest.fixture
def clicks_reach_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest resets Streamlit's old pages-folder flag before every run, so every run first draws the page alone and
    reruns it behind app.py (ui.ensure_routed), and the rerun drops a button's click. A server resets the flag once;
    so do these runs."""
    init = PagesManager.__init__

    def init_routed(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init_routed)


@pytest.mark.usefixtures("clicks_reach_the_page")
def test_an_upload_in_chinese_says_what_was_loaded_and_what_was_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPKPI_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = run_app(tmp_path / "shop.duckdb", monkeypatch, lang="zh")
    uploader = at.main.get("file_uploader")[0]
    assert uploader.label == "导出文件（CSV、Parquet 或 JSON Lines；支持 .gz）"
    assert at.selectbox(key="upload_table").label == "导入到表"
    assert "文件保存在" in "\n".join(c.value for c in at.caption)

    uploader.set_value([("订单.csv", CSV, "text/csv"), ("orders.parquet.gz", CSV, "application/gzip")])
    at.run()
    [load] = at.main.get("button")
    assert load.label == "将 2 个文件导入 orders"
    load.click().run()

    assert not at.exception
    # 2 rows read = 1 inserted + 1 rejected (status 'lost'); the name is the one uploaded, not the saved one.
    assert [_as_read(w.value) for w in at.warning if w.value not in signin.DEMO_BANNER] == [
        "订单.csv → orders：读取 2 行 = 新增 1 + 更新 0 + 重复 0 + 拒绝 1（见 rejects 表）"
    ]
    [refused] = [_as_read(e.value) for e in at.error]
    assert refused.startswith(
        "orders.parquet.gz：未导入任何数据。orders.parquet.gz：`shopkpi ingest` 读不了这种文件类型"
    )
    assert english_words(at) == set()
    # The upload made the warehouse, and with it the daily rollups the KPIs are summed from.
    con = warehouse.open_read_only(tmp_path / "shop.duckdb")
    try:
        assert rollups_current(con)
        assert con.sql("select sum(orders) from rollup_orders").fetchall() == [(1,)]
    finally:
        con.close()


SHOPIFY_WEEK = REAL_DATA / "exports/shopify-analytics-channel-performance"
SHOPIFY_WEEK_FILE = SHOPIFY_WEEK / "shopify_channel_perf_US_2025-09-01_2025-09-07_20251221_195312.csv"


@pytest.mark.usefixtures("clicks_reach_the_page")
def test_a_platform_export_uploaded_is_imported_like_shopkpi_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Shopify channel report, uploaded under its own name (which holds its period) with store "us".
    monkeypatch.setenv("SHOPKPI_UPLOAD_DIR", str(tmp_path / "uploads"))
    db = tmp_path / "shop.duckdb"
    at = run_app(db, monkeypatch)
    at.selectbox(key="import_format").set_value("shopify-channels")
    at.text_input(key="import_store").set_value("us")
    at.main.get("file_uploader")[1].set_value([(SHOPIFY_WEEK_FILE.name, SHOPIFY_WEEK_FILE.read_bytes(), "text/csv")])
    at.run()
    [load] = at.main.get("button")
    assert load.label == "Import 1 file(s) as shopify-channels"
    load.click().run()

    assert not at.exception and not at.error
    [done] = [_as_read(s.value) for s in at.success]
    assert done.startswith(SHOPIFY_WEEK_FILE.name) and "period: 2025-09-01 to 2025-09-07 (file name)" in done
    # The file's sessions (the sum of its Sessions column) are in the warehouse, in store "us", for its week.
    con = warehouse.open_read_only(db)
    try:
        loaded = con.sql("select sum(sessions), min(date), max(end_date), any_value(store) from traffic").fetchall()
    finally:
        con.close()
    sessions = sum(int(line.split(",")[3]) for line in SHOPIFY_WEEK_FILE.read_text().splitlines()[1:])  # 2,621
    assert loaded == [(sessions, date(2025, 9, 1), date(2025, 9, 7), "us")]


# --- what a role may see of rejected rows, and names from files shown as text (issue 17, items 6 and 7) -----------


def _rejects_with_costs(db: Path, folder: Path) -> None:
    """One load per table with cost inputs, each with one rejected row holding a cost figure."""
    from pipelines.ingest import ingest_file

    files = {
        # name is required: the row is rejected and its unit_cost 77.77 is in its raw text
        "products": "sku,name,category,unit_cost\nP1,Mug,kitchen,3.50\nP2,,kitchen,77.77\n",
        # the month is not a month: rejected with amount 54321.99 in its raw text
        "expenses": "month,category,amount,note\n2024-01,rent,1200,ok\n2024-13,salaries,54321.99,bonus 54321.99\n",
        # a cost that is not a number: the reason quotes it (and the file names it Einkaufskosten)
        "order_items": "order_id,sku,quantity,unit_price,unit_cost\nA1,P1,1,9.90,3.50\nA1,P2,1,19.90,66.66x\n",
    }
    for table, text in files.items():
        path = folder / f"{table}.csv"
        path.write_text(text)
        assert ingest_file(db, table, path).rejected == 1


@pytest.fixture
def costly_rejects(tmp_path: Path) -> Path:
    db = tmp_path / "shop.duckdb"
    _rejects_with_costs(db, tmp_path)
    return db


def _signed_in_data_page(db: Path, users: Path, username: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    import time

    from shopkpi import auth

    auth.add_user(users, username, "correct horse battery", {"ops": "operations", "adm": "admin"}[username])
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    monkeypatch.delenv("SHOPKPI_CONFIG", raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    role = auth.load_users(users)[username].role
    at.session_state[signin.SESSION_KEY] = {"username": username, "role": role, "signed_in_at": time.time()}
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def _shown(at: AppTest) -> str:
    return "\n".join(frame.value.to_csv() for frame in at.main.get("dataframe"))


def test_the_operations_role_sees_no_cost_figure_in_rejected_rows(costly_rejects, tmp_path, monkeypatch) -> None:
    import pages.data as data_page

    at = _signed_in_data_page(costly_rejects, tmp_path / "users.toml", "ops", monkeypatch)
    shown = _shown(at)
    # Before: unit_cost 77.77, the expense 54,321.99 and the rejected cost 66.66x were all on the page.
    for figure in ("77.77", "54321.99", "66.66"):
        assert figure not in shown, figure
    rejects = at.dataframe[-1].value.set_index("table")
    assert json.loads(rejects.loc["products", "raw_row"]) == {
        "sku": "P2",
        "name": None,
        "category": "kitchen",
        "unit_cost": "(hidden)",
    }, "what is not a cost still shows, so the row can be fixed"
    assert json.loads(rejects.loc["expenses", "raw_row"]) == {
        "month": "2024-13",
        "category": "salaries",
        "amount": "(hidden)",
        "note": "(hidden)",
    }
    assert rejects.loc["order_items", "reason"] == "not a decimal number: (hidden)"
    assert "unit_price" in rejects.loc["order_items", "raw_row"] and "19.90" in rejects.loc["order_items", "raw_row"]
    # rejects.csv, built on click, holds the same as the page.
    csv = data_page.rejects_csv("operations")().decode()
    assert "(hidden)" in csv and not any(figure in csv for figure in ("77.77", "54321.99", "66.66"))
    assert "77.77" in data_page.rejects_csv("executive")().decode()


def test_an_admin_sees_the_rejected_rows_as_read(costly_rejects, tmp_path, monkeypatch) -> None:
    shown = _shown(_signed_in_data_page(costly_rejects, tmp_path / "users.toml", "adm", monkeypatch))
    assert all(figure in shown for figure in ("77.77", "54321.99", "66.66x")) and "(hidden)" not in shown


def _as_read(markdown: str) -> str:
    # What the reader sees of a markdown text: each backslash escape shows the character it escapes.
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.mark.usefixtures("clicks_reach_the_page")
def test_a_files_name_and_columns_are_shown_as_text_not_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Before, `![px](…)` in a file name made the browser fetch the image and `:red[…]` coloured the message.
    monkeypatch.setenv("SHOPKPI_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = run_app(tmp_path / "shop.duckdb", monkeypatch)
    name = "![px](http://tracker.example/p.png) :red[urgent].csv"
    bad_name = "![px](http://tracker.example/q.png).parquet.gz"  # CSV bytes: refused by name
    header = "order_id,ordered_at,status,:red[col] ![c](http://tracker.example/c.png)\n"
    csv = (header + "A1,2024-03-05,paid,x\n").encode()
    at.main.get("file_uploader")[0].set_value([(name, csv, "text/csv"), (bad_name, csv, "text/csv")])
    at.run()
    at.main.get("button")[0].click().run()
    assert not at.exception
    [loaded] = [s.value for s in at.success]
    [refused] = [e.value for e in at.error]
    for markdown in (loaded, refused):
        assert "](" not in markdown.replace("\\](", "").replace("\\]\\(", ""), markdown
        assert ":red[" not in markdown, markdown
    assert _as_read(loaded).startswith(f"{name} → orders: 1 rows read = 1 inserted")
    assert ":red[col] ![c](http://tracker.example/c.png)" in _as_read(loaded), "the ignored column, as named"
    assert _as_read(refused).startswith(f"{bad_name}: nothing loaded. {bad_name}: not a file type ingest reads")
