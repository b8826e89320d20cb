"""The lake's layout (warehouse/lake.py) for the tables of schema v2 and v3: tickets, returns and traffic split by the
month of their date, every row accounted for. No Spark here: DuckDB reads the files back."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipelines import ingest
from tests.support.service_shop import service_shop
from warehouse.lake import DATE_COLUMNS, MANIFEST, export_lake


def _rows_by_folder(lake: Path, table: str) -> dict[str, int]:
    con = duckdb.connect()
    try:
        files = str(lake / table / "**" / "*.parquet")
        found = con.sql("select filename from read_parquet($files, filename = true)", params={"files": files})
        folders: dict[str, int] = {}
        for (name,) in found.fetchall():
            folder = Path(name).parent.name
            folders[folder] = folders.get(folder, 0) + 1
        return folders
    finally:
        con.close()


def test_tickets_returns_and_traffic_are_split_by_the_month_of_their_date(tmp_path):
    db = service_shop(tmp_path / "w.duckdb")
    # A weekly platform report that starts in February and ends in March, and a March day: rows go by their first day.
    report = tmp_path / "traffic.csv"
    report.write_text(
        "date,end_date,source,sessions\n2024-02-26,2024-03-03,tmall,700\n2024-03-04,2024-03-04,tmall,90\n",
        encoding="utf-8",
    )
    ingest.ingest_file(db, "traffic", report, store_timezone="UTC", currency="CNY")
    lake = tmp_path / "lake"
    manifest = export_lake(db, lake)

    assert {"tickets", "returns", "traffic"} <= DATE_COLUMNS.keys()
    # tests/support/service_shop.py: t6 opened 02-28, t1–t5 in March; its 3 returns have no returned_at.
    assert manifest.rows["tickets"] == 6 and manifest.rows["returns"] == 3 and manifest.rows["traffic"] == 2
    assert _rows_by_folder(lake, "tickets") == {"month=2024-02": 1, "month=2024-03": 5}
    assert _rows_by_folder(lake, "returns") == {"month=__HIVE_DEFAULT_PARTITION__": 3}  # Spark reads it as null
    assert _rows_by_folder(lake, "traffic") == {"month=2024-02": 1, "month=2024-03": 1}
    document = json.loads((lake / MANIFEST).read_text(encoding="utf-8"))
    assert all(document["tables"][name]["partitioned_by"] == "month" for name in ("tickets", "returns", "traffic"))
