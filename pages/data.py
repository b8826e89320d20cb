"""Data page: what the warehouse holds (rows and date range per table), the last loads, and the rows rejected.

Rejected rows show only what the role may see (auth.visible_reject: no cost input for a role without profit figures),
and every name from a file (its name, its columns) is shown as text, not markdown.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st

from metrics import status
from metrics.compute import DAY_VISITORS, ROLLUP_DIMENSIONS, SPLIT_SPANS
from metrics.units import COUNT
from pages import page
from pipelines.adapters import ADAPTERS, ImportOptions
from pipelines.ingest import FileResult, IngestError
from shopkpi import auth, ui
from shopkpi.settings import load_settings
from shopkpi.ui import uploads
from warehouse import TABLES, WarehouseError

LOADS_SHOWN = 20
REJECTS_SHOWN = 500
MISSING = "—"  # how a null cell reads: not "None"
PAGE = page(__file__)


@dataclass(frozen=True)
class DataPageData:
    """What the Data page draws of the warehouse (the same for every view and role; uploads are drawn apart)."""

    tables: pl.DataFrame  # one row per table: rows and date range
    loads: pl.DataFrame  # the LOADS_SHOWN newest loads of ingest_log
    reject_count: int  # rows rejected by all loads
    reject_summary: pl.DataFrame | None  # rejected rows per table and reason; None when there are none
    rejects: pl.DataFrame | None  # the REJECTS_SHOWN newest rejected rows; None when there are none
    rollups: pl.DataFrame  # one row per rollup the warehouse keeps: what a row is per, its rows
    visitor_splits: tuple[str, ...]  # the splits whose visitors are counted from spans: those the rollups hold
    visitors_numbered: bool  # the rollups hold the visitors by number (DAY_VISITORS)


def visible_rejects(frame: pl.DataFrame, role: str | None) -> pl.DataFrame:
    """`frame` (rejected rows, or their summary: columns table, column, reason and maybe raw_row) as `role` may see
    it: without cost inputs for a role that may not see profit (auth.visible_reject)."""
    if auth.may_see_profit(role) or frame.is_empty():
        return frame
    raw = frame.get_column("raw_row").to_list() if "raw_row" in frame.columns else [None] * frame.height
    rows = frame.select("table", "column", "reason").iter_rows()
    shown = [
        auth.visible_reject(role, table, column, reason, text)
        for (table, column, reason), text in zip(rows, raw, strict=True)
    ]
    frame = frame.with_columns(pl.Series("reason", [reason for reason, _ in shown], dtype=pl.String))
    if "raw_row" in frame.columns:
        frame = frame.with_columns(pl.Series("raw_row", [text for _, text in shown], dtype=pl.String))
    return frame


def data(view: ui.View, role: str | None) -> DataPageData:
    """Everything the Data page draws of the warehouse, as `role` may see it (the page and the warm-up call this)."""
    count = ui.load(status.reject_count)
    rollups = ui.load(status.rollup_overview)
    kept = set(rollups.get_column("table"))
    return DataPageData(
        tables=ui.load(status.table_overview),
        loads=ui.load(status.recent_loads, LOADS_SHOWN),
        reject_count=count,
        reject_summary=visible_rejects(ui.load(status.reject_summary), role) if count else None,
        rejects=visible_rejects(ui.load(status.recent_rejects, REJECTS_SHOWN), role) if count else None,
        rollups=rollups,
        visitor_splits=tuple(dimension for dimension, table in SPLIT_SPANS.items() if table in kept),
        visitors_numbered=DAY_VISITORS in kept,
    )


def rejects_csv(role: str | None) -> Callable[[], bytes]:
    """A callable for `st.download_button(data=...)`: every rejected row as `role` may see it, as CSV, built on click.
    It runs outside the script thread, so it takes its own cursor from the reader rather than the Streamlit cache."""
    reader = ui.reader()

    def build() -> bytes:
        cursor = reader.cursor()
        try:
            return ui.csv_bytes(visible_rejects(status.recent_rejects(cursor, None), role))
        finally:
            cursor.close()

    return build


def row_accounting() -> str:
    """The sentence every load obeys, in the chosen language."""
    return ui.t(
        "For every file: rows read = inserted + updated + duplicates + rejected. Nothing is lost or doubled.",
        "每个文件：读取行数 = 新增 + 更新 + 重复 + 拒绝，不丢不重。",
    )


# The column labels are built per run, in the language chosen in the sidebar.


def table_columns() -> dict[str, Any]:
    """Column labels of the table overview (one row per canonical table)."""
    t = ui.t
    return {
        "table": st.column_config.TextColumn(
            t("Table", "数据表"),
            help=t(
                "Canonical table (SPEC §2); query it with SQL by this name.",
                "标准表（SPEC §2）；用 SQL 查询时就用这个表名。",
            ),
        ),
        "rows": st.column_config.NumberColumn(
            t("Rows", "行数"), format=COUNT.column, help=t("Rows in the table now.", "表中当前的行数。")
        ),
        "date_column": st.column_config.TextColumn(
            t("Dated by", "日期列"),
            help=t("The column the date range is read from.", "日期范围取自这一列。"),
        ),
        "first_date": st.column_config.DateColumn(
            t("First date", "最早日期"), format="YYYY-MM-DD", help=t("Earliest local date.", "最早的本地日期。")
        ),
        "last_date": st.column_config.DateColumn(
            t("Last date", "最晚日期"), format="YYYY-MM-DD", help=t("Latest local date.", "最晚的本地日期。")
        ),
    }


def rollup_columns() -> dict[str, Any]:
    """Column labels of the rollups' table (one row per rollup the warehouse keeps)."""
    t = ui.t
    return {
        "table": st.column_config.TextColumn(
            t("Rollup", "汇总表"), help=t("Query it with SQL by this name.", "用 SQL 查询时就用这个表名。")
        ),
        "keyed_by": st.column_config.TextColumn(
            t("One row per", "每行对应"),
            help=t(
                "`day`: a day and combination of source, medium, campaign, device and store (in "
                "`rollup_day_visitors`, a session of that day with its dimensions' hash and its visitor's number); "
                "`session_id`: a session; "
                "`visitor_id`: a visitor (and a value of its split), with the first and last day of its sessions.",
                "`day`：一天及来源、媒介、活动、设备、店铺的一种组合"
                "（`rollup_day_visitors` 中为当天的一次访问及其维度哈希和访客编号）；`session_id`：一次访问；"
                "`visitor_id`：一位访客（及其拆分维度的一个取值），记录其访问的首末日期。",
            ),
        ),
        "rows": st.column_config.NumberColumn(
            t("Rows", "行数"), format=COUNT.column, help=t("Rows in the rollup now.", "汇总表中当前的行数。")
        ),
        "current": st.column_config.CheckboxColumn(
            t("Up to date", "最新"),
            help=t(
                "Built by this version of shopkpi, so its rows are read. One built by another version is not read (the "
                "figures come from the raw tables, slower at scale) until the next load or `shopkpi rollups` rebuilds "
                "it.",
                "由当前版本建立，因此会被读取。由其他版本建立的汇总表不会被读取（数字改读原始表，数据量大时较慢），"
                "直到下一次导入或 `shopkpi rollups` 重建它。",
            ),
        ),
    }


def load_columns() -> dict[str, Any]:
    """Column labels of the load ledger (one row per file loaded)."""
    t = ui.t
    return {
        "load_id": st.column_config.NumberColumn(
            t("Load", "批次"), help=t("Load number in the ingest_log ledger.", "ingest_log 台账中的导入编号。")
        ),
        "path": st.column_config.TextColumn(
            t("File", "文件"),
            help=t("The file as it was given to `shopkpi ingest`.", "传给 `shopkpi ingest` 时的文件路径。"),
        ),
        "table": st.column_config.TextColumn(t("Table", "数据表")),
        "started_at": None,
        "finished_at": st.column_config.DatetimeColumn(
            t("Loaded", "导入时间"), format="YYYY-MM-DD HH:mm:ss", help=t("When it committed.", "提交完成的时间。")
        ),
        "rows_read": st.column_config.NumberColumn(t("Read", "读取"), format=COUNT.column, help=row_accounting()),
        "inserted": st.column_config.NumberColumn(
            t("Inserted", "新增"), format=COUNT.column, help=t("Rows with a new key.", "主键是新的行。")
        ),
        "updated": st.column_config.NumberColumn(
            t("Updated", "更新"),
            format=COUNT.column,
            help=t(
                "Rows whose key existed with other values: the later export wins.",
                "主键已存在但数值不同的行：以较晚的导出为准。",
            ),
        ),
        "duplicates": st.column_config.NumberColumn(
            t("Duplicates", "重复"),
            format=COUNT.column,
            help=t(
                "Rows identical to what the warehouse already held: nothing changed.",
                "与仓库中已有数据完全相同的行：没有任何改动。",
            ),
        ),
        "rejected": st.column_config.NumberColumn(
            t("Rejected", "拒绝"),
            format=COUNT.column,
            help=t(
                "Rows that failed a check; see Rejected rows below for why.",
                "未通过校验的行；原因见下方“被拒绝的行”。",
            ),
        ),
        "ignored_columns": st.column_config.TextColumn(
            t("Ignored columns", "忽略的列"),
            help=t(
                "Columns of the file that are not in the canonical table; kept out of it.",
                "文件中标准表没有的列，不会导入。",
            ),
        ),
    }


def reject_summary_columns() -> dict[str, Any]:
    """Column labels of the reject summary (one row per table, column and reason)."""
    t = ui.t
    return {
        "table": st.column_config.TextColumn(t("Table", "数据表")),
        "column": st.column_config.TextColumn(
            t("Column", "列"), help=t("Empty when the whole row was unreadable.", "整行无法读取时为空。")
        ),
        "reason": st.column_config.TextColumn(t("Reason", "原因")),
        "rejected_rows": st.column_config.NumberColumn(t("Rows", "行数"), format=COUNT.column),
        "files": st.column_config.NumberColumn(t("Files", "文件数"), format=COUNT.column),
    }


def reject_columns() -> dict[str, Any]:
    """Column labels of the rejected rows (one row per rejected input row)."""
    t = ui.t
    return {
        "loaded_at": st.column_config.DatetimeColumn(t("Loaded", "导入时间"), format="YYYY-MM-DD HH:mm:ss"),
        "file": st.column_config.TextColumn(t("File", "文件")),
        "line": st.column_config.NumberColumn(
            t("Line", "行号"),
            help=t("Line number in the file, counting the header as line 1.", "在文件中的行号，表头算第 1 行。"),
        ),
        "table": st.column_config.TextColumn(t("Table", "数据表")),
        "column": st.column_config.TextColumn(t("Column", "列")),
        "reason": st.column_config.TextColumn(t("Reason", "原因")),
        "raw_row": st.column_config.TextColumn(
            t("Row as read", "原始行"), help=t("The input row's text, unchanged.", "输入行的原文，未做改动。")
        ),
    }


def load_summary(result: FileResult, name: str) -> str:
    """One line on what an upload did, naming the file as the user uploaded it."""
    if ui.lang() != "zh":
        return result.summary().replace(str(result.path), name)
    if result.status == "already loaded":
        return f"{name}：之前已导入过（内容相同），没有任何改动"
    text = (
        f"{name} → {result.table}：读取 {result.rows_read:,} 行 = 新增 {result.inserted:,} + "
        f"更新 {result.updated:,} + 重复 {result.duplicates:,} + 拒绝 {result.rejected:,}"
    )
    if result.rejected:
        text += "（见 rejects 表）"
    if result.ignored_columns:
        text += f"；忽略的列：{', '.join(result.ignored_columns)}"
    for store, first, last, rows in result.replaced:  # a traffic report replacing a stored period's rows
        text += (
            f"；替换了店铺 {store} 在 {first} 至 {last} 的 {rows:,} 行已存流量（本文件覆盖这些日期，以较新的导出为准）"
        )
    return text


def tables_section(overview: pl.DataFrame) -> None:
    st.subheader(ui.t("Tables", "数据表"))
    cards = st.columns(4)
    for index, row in enumerate(overview.iter_rows(named=True)):
        if row["first_date"]:
            span = ui.t(f"{row['first_date']} to {row['last_date']}", f"{row['first_date']} 至 {row['last_date']}")
        else:
            span = ui.t("no dates", "无日期")
        rows = ui.t(f"{row['rows']:,} rows; {span}", f"{row['rows']:,} 行；{span}")
        cards[index % 4].metric(row["table"], f"{row['rows']:,}", help=rows, border=True)
    st.dataframe(overview, column_config=table_columns(), hide_index=True, placeholder=MISSING)
    if overview["rows"].sum() == 0:
        ui.empty(
            ui.t(
                "The warehouse exists but every table is empty: load files with `shopkpi ingest TABLE FILE…`.",
                "仓库已建好，但所有表都是空的：请用 `shopkpi ingest TABLE FILE…` 导入文件。",
            )
        )


def rollups_section(rollups: pl.DataFrame, splits: tuple[str, ...], numbered: bool) -> None:
    st.subheader(
        ui.t("Rollups", "汇总表"),
        help=ui.t(
            "Daily pre-aggregates the KPIs are summed from, kept in step by every load: the same numbers as the raw "
            "tables, read in a fraction of the time.",
            "指标据以加总的每日预汇总表，每次导入都会同步更新：与原始表数字相同，读取只需其一小部分时间。",
        ),
    )
    if rollups.is_empty():
        st.caption(
            ui.t(
                "None yet: the first `shopkpi ingest` or `shopkpi import` builds them (`shopkpi upgrade` for a "
                "warehouse loaded otherwise); until then every figure is read from the raw tables.",
                "尚未建立：首次 `shopkpi ingest` 或 `shopkpi import` 会建立（以其他方式导入的仓库请运行 "
                "`shopkpi upgrade`）；在此之前所有数字都直接读原始表。",
            )
        )
        return
    st.dataframe(
        rollups,
        column_config=rollup_columns(),
        hide_index=True,
        height=38 + 35 * rollups.height,  # every row shown
    )
    stale = rollups.filter(~pl.col("current"))["table"].to_list()
    if stale:
        st.warning(
            ui.t(
                f"Built by another version of shopkpi, so not read: {', '.join(stale)}. The figures they answer come "
                "from the raw tables (the same numbers, slower at scale) until the next load or `shopkpi rollups` "
                "rebuilds them.",
                f"由其他版本建立，因此未被读取：{'、'.join(stale)}。相关数字改读原始表（数字相同，数据量大时较慢），"
                "直到下一次导入或 `shopkpi rollups` 重建它们。",
            ),
            icon=":material/update:",
        )
    if numbered:
        names = ", ".join(ui.dim_label(dimension).lower() for dimension in ROLLUP_DIMENSIONS)
        names_zh = "、".join(ui.dim_label(dimension) for dimension in ROLLUP_DIMENSIONS)
        st.caption(
            ui.t(
                f"Visitors, of the whole shop or of any split by {names} under any filter on them, are counted from "
                "each visitor's number (at once, for any period). `shopkpi rollups --visitor-numbers off` keeps "
                "visitors' spans instead (a smaller warehouse, slower splits).",
                f"全店及按{names_zh}任意拆分、任意筛选的访客数，均由访客编号得出（任意时段即时）。"
                "`shopkpi rollups --visitor-numbers off` 改为保留访客区间（仓库更小，拆分更慢）。",
            )
        )
        return
    kept = [ui.dim_label(dimension).lower() for dimension in splits]
    others = [ui.dim_label(dimension).lower() for dimension in SPLIT_SPANS if dimension not in splits]
    said = []
    if kept:
        said.append(
            ui.t(
                f"Visitors of a split by {', '.join(kept)} are counted from each visitor's first and last day (at "
                "once, for any period).",
                f"按{'、'.join(kept)}拆分的访客数由每位访客的首末访问日期得出（任意时段即时）。",
            )
        )
    if others:
        said.append(
            ui.t(
                f"Those of a split by {', '.join(others)} are counted over the period's sessions (seconds for a year "
                "of a large shop).",
                f"按{'、'.join(others)}拆分的访客数则统计本期访问（大店一年需数秒）。",
            )
        )
    command = "`shopkpi rollups --visitor-splits`"
    numbers = "`shopkpi rollups --visitor-numbers on`"
    said.append(
        ui.t(
            f"{command} chooses which; {numbers} counts every split's at once.",
            f"可用 {command} 选择；{numbers} 可使所有拆分即时得出。",
        )
    )
    st.caption(" ".join(said))


def loads_section(loads: pl.DataFrame) -> None:
    st.subheader(ui.t("Last loads", "最近导入"), help=row_accounting())
    if loads.is_empty():
        ui.empty(
            ui.t(
                "No file has been loaded yet: `shopkpi ingest TABLE FILE…` records each file here.",
                "还没有导入过文件：用 `shopkpi ingest TABLE FILE…` 导入的每个文件都会记在这里。",
            )
        )
        return
    st.dataframe(loads, column_config=load_columns(), hide_index=True, placeholder=MISSING)
    st.caption(
        ui.t(
            f"The newest loads (up to {LOADS_SHOWN}) from the `ingest_log` table. {row_accounting()}",
            f"`ingest_log` 表中最近的导入（最多 {LOADS_SHOWN} 条）。{row_accounting()}",
        )
    )


def rejects_section(loaded: DataPageData, role: str | None) -> None:
    st.subheader(
        ui.t("Rejected rows", "被拒绝的行"),
        help=ui.t(
            "Rows that failed a check are kept out of the tables and listed here.",
            "未通过校验的行不会进入数据表，而是列在这里。",
        ),
    )
    total = loaded.reject_count
    if total == 0:
        ui.empty(ui.t("No rejected rows: every row read was loaded.", "没有被拒绝的行：读取的每一行都已导入。"))
        return
    st.markdown(
        ui.t(
            f"**{total:,}** rejected {'row' if total == 1 else 'rows'}, by reason:",
            f"共 **{total:,}** 行被拒绝，按原因汇总：",
        )
    )
    summary, rejects = loaded.reject_summary, loaded.rejects
    st.dataframe(summary, column_config=reject_summary_columns(), hide_index=True, placeholder=MISSING)
    if total > len(rejects):
        shown = ui.t(
            f"The newest {len(rejects):,} of them, with the line it came from and the reason:",
            f"其中最近的 {len(rejects):,} 行，附来源行号和原因：",
        )
    else:
        shown = ui.t("Each one, with the line it came from and the reason:", "逐行列出，附来源行号和原因：")
    st.markdown(shown)
    st.dataframe(rejects, column_config=reject_columns(), hide_index=True, placeholder=MISSING)
    st.download_button(
        ui.t("Download all rejected rows (CSV)", "下载全部被拒绝的行（CSV）"),
        data=rejects_csv(role),
        file_name="rejects.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )


def refused(file_name: str, error: Exception) -> None:
    """A file that loaded nothing: its name and why (the name and the error's column names are text, not markdown)."""
    name, reason = ui.md(file_name), ui.md(error)
    st.error(ui.t(f"{name}: nothing loaded. {reason}", f"{name}：未导入任何数据。{reason}"), icon=":material/error:")


def upload_section() -> None:
    settings = load_settings()
    with st.expander(
        ui.t("Upload export files", "上传导出文件"), icon=":material/upload_file:", expanded=not ui.has_warehouse()
    ):
        table = st.selectbox(
            ui.t("Load into table", "导入到表"),
            list(TABLES),
            key="upload_table",
            help=ui.t(
                "The canonical table the files hold (SPEC §2); the columns are checked as by `shopkpi ingest`.",
                "文件对应的标准表（SPEC §2）；列的校验规则与 `shopkpi ingest` 相同。",
            ),
        )
        store = st.text_input(
            ui.t("Store (optional)", "店铺（可选）"),
            key="upload_store",
            help=ui.t(
                "The store the files' rows belong to, e.g. tmall or jd (as `--store`); empty: the default store.",
                "文件所属的店铺，如 tmall 或 jd（同 `--store`）；留空为默认店铺。",
            ),
        ).strip()
        files = st.file_uploader(
            ui.t(
                "Export files (CSV, Parquet or JSON Lines; .gz accepted)",
                "导出文件（CSV、Parquet 或 JSON Lines；支持 .gz）",
            ),
            type=list(uploads.SUFFIXES),
            accept_multiple_files=True,
            key="upload_files",
            max_upload_size=settings.upload_limit_mb,
        )
        if files and st.button(
            ui.t(f"Load {len(files)} file(s) into {table}", f"将 {len(files)} 个文件导入 {table}"),
            type="primary",
            icon=":material/input:",
        ):
            for file in files:
                try:
                    result = uploads.save_and_ingest(
                        settings, table, file.name, file.getvalue(), lang=ui.lang(), store=store or None
                    )
                except (IngestError, WarehouseError, OSError) as error:
                    refused(file.name, error)
                    continue
                (st.warning if result.rejected else st.success)(
                    ui.md(load_summary(result, file.name)), icon=":material/task_alt:"
                )
        st.caption(
            ui.t(
                f"Files are saved under `{settings.upload_dir}` and loaded in one transaction each. {row_accounting()}",
                f"文件保存在 `{settings.upload_dir}` 下，每个文件在一个事务中导入。{row_accounting()}",
            )
        )


def import_section() -> None:
    """Uploads of a platform's export (Shopify, Taobao, GA4, 生意参谋 …), loaded as `shopkpi import FORMAT PATH`."""
    settings = load_settings()
    with st.expander(ui.t("Import a platform's export", "导入平台导出文件"), icon=":material/cloud_upload:"):
        format_name = st.selectbox(
            ui.t("Export format", "导出格式"),
            list(ADAPTERS),
            format_func=lambda name: f"{name}: {ADAPTERS[name].SUMMARY}",
            key="import_format",
            help=ui.t(
                "The same formats as `shopkpi import FORMAT PATH`; the README has each one's column mapping.",
                "与 `shopkpi import FORMAT PATH` 的格式相同；各格式的列映射见 `README.md`。",
            ),
        )
        store = st.text_input(
            ui.t("Store", "店铺"),
            key="import_store",
            help=ui.t(
                "The store the export belongs to (e.g. tmall, us-site), as `--store`; empty: the default store.",
                "导出文件所属的店铺（如 tmall、us-site），即 `--store`；留空为默认店铺。",
            ),
        )
        first_col, last_col = st.columns(2)
        first = first_col.date_input(
            ui.t("Period from", "报表起始日"),
            value=None,
            key="import_from",
            help=ui.t(
                "Only for a traffic report that does not state its period (GA4 without its header, Shopify's "
                "channel report renamed): its first day, as `--from`.",
                "仅用于未注明期间的流量报表（无表头注释的 GA4、改过文件名的 Shopify 渠道报表）："
                "其第一天，即 `--from`。",
            ),
        )
        last = last_col.date_input(ui.t("Period to", "报表截止日"), value=None, key="import_to")
        files = st.file_uploader(
            ui.t("Export files (CSV, `.csv.gz` or `.xlsx`)", "导出文件（CSV、`.csv.gz` 或 `.xlsx`）"),
            type=list(uploads.EXPORT_SUFFIXES),
            accept_multiple_files=True,
            key="import_files",
            max_upload_size=settings.upload_limit_mb,
        )
        if files and st.button(
            ui.t(f"Import {len(files)} file(s) as {format_name}", f"按 {format_name} 格式导入 {len(files)} 个文件"),
            type="primary",
            icon=":material/input:",
        ):
            options = ImportOptions(store=store.strip(), date_from=first, date_to=last)
            for file in files:
                try:
                    result = uploads.save_and_import(
                        settings, format_name, file.name, file.getvalue(), options, lang=ui.lang()
                    )
                except (IngestError, WarehouseError, OSError) as error:
                    refused(file.name, error)
                    continue
                summary = result.summary().replace(str(result.source), file.name)
                st.success(ui.md(summary).replace("\n", "  \n"), icon=":material/task_alt:")


def render() -> None:
    ui.ensure_routed()
    if not ui.may_open(PAGE):  # app.py routes nobody here who may not open it; a second lock all the same
        st.stop()
    st.title(ui.t(PAGE.title_en, PAGE.title_zh))
    if ui.may_upload():  # uploads change the warehouse: admins only (and demo mode)
        upload_section()
        import_section()
    if not ui.has_warehouse():
        ui.no_data_yet()
        return
    st.caption(
        ui.t(
            f"Warehouse `{ui.db_path()}`, read-only; new loads show here as soon as they commit.",
            f"仓库 `{ui.db_path()}`，只读；新的导入一提交就会显示在这里。",
        )
    )
    try:
        role = ui.role()
        loaded = data(ui.view(), role)
        tables_section(loaded.tables)
        loads_section(loaded.loads)
        rejects_section(loaded, role)
        rollups_section(loaded.rollups, loaded.visitor_splits, loaded.visitors_numbered)
    except WarehouseError as error:
        ui.warehouse_problem(error)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for data()
    render()
