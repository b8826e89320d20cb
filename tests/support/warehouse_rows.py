"""Reading a test's warehouse back, and where the real public exports live (../shared/data/real, beside the clone)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopkpi.settings import REPO_ROOT

REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows `sql` returns on the warehouse at `db`, opened read-only."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql, params=params or []).fetchall()
