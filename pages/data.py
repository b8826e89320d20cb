"""Data page: what the warehouse holds (rows and date range per table), the last loads, and the rows rejected."""

import streamlit as st

from metrics import status
from pipelines.ingest import IngestError
from shopkpi import ui, uploads
from shopkpi.settings import load_settings
from shopkpi.warehouse import TABLES, WarehouseError

ROW_ACCOUNTING = "For every file: rows read = inserted + updated + duplicates + rejected. Nothing is lost or doubled."
LOADS_SHOWN = 20
REJECTS_SHOWN = 500
MISSING = "—"  # how a null cell reads: not "None"

TABLE_COLUMNS = {
    "table": st.column_config.TextColumn("Table", help="Canonical table (SPEC §2); query it with SQL by this name."),
    "rows": st.column_config.NumberColumn("Rows", format="localized", help="Rows in the table now."),
    "date_column": st.column_config.TextColumn("Dated by", help="The column the date range is read from."),
    "first_date": st.column_config.DateColumn("First date", format="YYYY-MM-DD", help="Earliest local date."),
    "last_date": st.column_config.DateColumn("Last date", format="YYYY-MM-DD", help="Latest local date."),
}

LOAD_COLUMNS = {
    "load_id": st.column_config.NumberColumn("Load", help="Load number in the ingest_log ledger."),
    "path": st.column_config.TextColumn("File", help="The file as it was given to `shopkpi ingest`."),
    "table": st.column_config.TextColumn("Table"),
    "started_at": None,
    "finished_at": st.column_config.DatetimeColumn("Loaded", format="YYYY-MM-DD HH:mm:ss", help="When it committed."),
    "rows_read": st.column_config.NumberColumn("Read", format="localized", help=ROW_ACCOUNTING),
    "inserted": st.column_config.NumberColumn("Inserted", format="localized", help="Rows with a new key."),
    "updated": st.column_config.NumberColumn(
        "Updated", format="localized", help="Rows whose key existed with other values: the later export wins."
    ),
    "duplicates": st.column_config.NumberColumn(
        "Duplicates", format="localized", help="Rows identical to what the warehouse already held: nothing changed."
    ),
    "rejected": st.column_config.NumberColumn(
        "Rejected", format="localized", help="Rows that failed a check; see Rejected rows below for why."
    ),
    "ignored_columns": st.column_config.TextColumn(
        "Ignored columns", help="Columns of the file that are not in the canonical table; kept out of it."
    ),
}

REJECT_SUMMARY_COLUMNS = {
    "table": st.column_config.TextColumn("Table"),
    "column": st.column_config.TextColumn("Column", help="Empty when the whole row was unreadable."),
    "reason": st.column_config.TextColumn("Reason"),
    "rejected_rows": st.column_config.NumberColumn("Rows", format="localized"),
    "files": st.column_config.NumberColumn("Files", format="localized"),
}

REJECT_COLUMNS = {
    "loaded_at": st.column_config.DatetimeColumn("Loaded", format="YYYY-MM-DD HH:mm:ss"),
    "file": st.column_config.TextColumn("File"),
    "line": st.column_config.NumberColumn("Line", help="Line number in the file, counting the header as line 1."),
    "table": st.column_config.TextColumn("Table"),
    "column": st.column_config.TextColumn("Column"),
    "reason": st.column_config.TextColumn("Reason"),
    "raw_row": st.column_config.TextColumn("Row as read", help="The input row's text, unchanged."),
}


def tables_section() -> None:
    st.subheader("Tables")
    overview = ui.load(status.table_overview)
    cards = st.columns(4)
    for index, row in enumerate(overview.iter_rows(named=True)):
        span = f"{row['first_date']} to {row['last_date']}" if row["first_date"] else "no dates"
        cards[index % 4].metric(row["table"], f"{row['rows']:,}", help=f"{row['rows']:,} rows; {span}", border=True)
    st.dataframe(overview, column_config=TABLE_COLUMNS, hide_index=True, placeholder=MISSING)
    if overview["rows"].sum() == 0:
        ui.empty("The warehouse exists but every table is empty: load files with `shopkpi ingest TABLE FILE…`.")


def loads_section() -> None:
    st.subheader("Last loads", help=ROW_ACCOUNTING)
    loads = ui.load(status.recent_loads, LOADS_SHOWN)
    if loads.is_empty():
        ui.empty("No file has been loaded yet: `shopkpi ingest TABLE FILE…` records each file here.")
        return
    st.dataframe(loads, column_config=LOAD_COLUMNS, hide_index=True, placeholder=MISSING)
    st.caption(f"The newest loads (up to {LOADS_SHOWN}) from the `ingest_log` table. {ROW_ACCOUNTING}")


def rejects_section() -> None:
    st.subheader("Rejected rows", help="Rows that failed a check are kept out of the tables and listed here.")
    total = ui.load(status.reject_count)
    if total == 0:
        ui.empty("No rejected rows: every row read was loaded.")
        return
    st.markdown(f"**{total:,}** rejected {'row' if total == 1 else 'rows'}, by reason:")
    summary = ui.load(status.reject_summary)
    st.dataframe(summary, column_config=REJECT_SUMMARY_COLUMNS, hide_index=True, placeholder=MISSING)
    rejects = ui.load(status.recent_rejects, REJECTS_SHOWN)
    shown = f"The newest {len(rejects):,} of them" if total > len(rejects) else "Each one"
    st.markdown(f"{shown}, with the line it came from and the reason:")
    st.dataframe(rejects, column_config=REJECT_COLUMNS, hide_index=True, placeholder=MISSING)
    st.download_button(
        "Download all rejected rows (CSV)",
        data=ui.deferred_csv(status.recent_rejects, None),
        file_name="rejects.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )


def upload_section() -> None:
    settings = load_settings()
    with st.expander("Upload export files", icon=":material/upload_file:", expanded=not ui.has_warehouse()):
        table = st.selectbox(
            "Load into table",
            list(TABLES),
            key="upload_table",
            help="The canonical table the files hold (SPEC §2); the columns are checked as by `shopkpi ingest`.",
        )
        files = st.file_uploader(
            "Export files (CSV, Parquet or JSON Lines; .gz accepted)",
            type=list(uploads.SUFFIXES),
            accept_multiple_files=True,
            key="upload_files",
            max_upload_size=settings.upload_limit_mb,
        )
        if files and st.button(f"Load {len(files)} file(s) into {table}", type="primary", icon=":material/input:"):
            for file in files:
                try:
                    result = uploads.save_and_ingest(settings, table, file.name, file.getvalue())
                except (IngestError, WarehouseError, OSError) as error:
                    st.error(f"{file.name}: nothing loaded. {error}", icon=":material/error:")
                    continue
                summary = result.summary().replace(str(result.path), file.name)
                (st.warning if result.rejected else st.success)(summary, icon=":material/task_alt:")
        st.caption(
            f"Files are saved under `{settings.upload_dir}` and loaded in one transaction each. {ROW_ACCOUNTING}"
        )


def render() -> None:
    ui.ensure_routed()
    if not ui.signed_in():  # app.py routes nobody here before sign-in; a second lock all the same
        st.stop()
    st.title("Data")
    if ui.may_upload():  # uploads change the warehouse: admins only (and demo mode)
        upload_section()
    if not ui.has_warehouse():
        ui.no_data_yet()
        return
    st.caption(f"Warehouse `{ui.db_path()}`, read-only; new loads show here as soon as they commit.")
    try:
        tables_section()
        loads_section()
        rejects_section()
    except WarehouseError as error:
        ui.warehouse_problem(error)


if __name__ == "__main__":  # Streamlit runs a page as __main__; the warm-up imports it for prefetch()
    render()
