"""The warehouse file when it is damaged or beside a killed writer's leftovers: every caller (CLI, upload page,
dashboard) gets a WarehouseError saying what is wrong and what to do, and nothing is left behind or changed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from warehouse import WarehouseError, open_read_only, store, writing


@pytest.fixture(scope="module")
def intact_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("intact") / "w.duckdb"
    with writing(path) as con:
        con.execute("insert into products (sku, name, category) values ('A', 'Tea', '食品'), ('B', 'Cup', '家居')")
    return path.read_bytes()


DAMAGE = {
    "zero bytes": (lambda data: b"", "the file is empty"),
    "random bytes": (lambda data: b"\x00" * 8 + os.urandom(len(data) - 8), "not a DuckDB file"),
    # Both open and answer the version query: only the size tells (`shopkpi upgrade` called them up to date).
    "cut in half": (lambda data: data[: len(data) // 2], "truncated"),
    "last block missing": (lambda data: data[: len(data) - 262_144], "truncated"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_file_is_refused_by_readers_and_writers_and_left_as_it_was(tmp_path, intact_bytes, damage):
    cut, reason = DAMAGE[damage]
    path = tmp_path / "w.duckdb"
    damaged = cut(intact_bytes)
    path.write_bytes(damaged)
    with pytest.raises(WarehouseError, match=rf"is damaged \({reason}.*restore it from a backup"):
        open_read_only(path)
    with pytest.raises(WarehouseError, match=rf"is damaged \({reason}.*restore it from a backup"), writing(path) as con:
        con.execute("delete from products")  # never reached: the copy is checked before the block runs
    assert path.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb", "w.duckdb.lock"]


def test_the_intact_file_opens_for_reading_and_writing(tmp_path, intact_bytes):
    path = tmp_path / "w.duckdb"
    path.write_bytes(intact_bytes)
    with open_read_only(path) as con:
        assert con.sql("select count(*) from products").fetchall() == [(2,)]
    with writing(path) as con:
        con.execute("delete from products where sku = 'A'")
    with open_read_only(path) as con:
        assert con.sql("select sku from products").fetchall() == [("B",)]


def test_a_leftover_that_cannot_be_removed_is_logged_and_the_write_goes_on(tmp_path, intact_bytes, monkeypatch, caplog):
    path = tmp_path / "w.duckdb"
    path.write_bytes(intact_bytes)
    spill = tmp_path / ".w.duckdb.77.88.tmp.tmp"
    spill.mkdir()
    (spill / "block").write_bytes(b"x")

    def refuse(folder, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(store.shutil, "rmtree", refuse)
    with caplog.at_level(logging.WARNING, logger="warehouse.store"), writing(path) as con:
        con.execute("delete from products where sku = 'A'")
    assert spill.is_dir()
    assert any(str(spill) in record.getMessage() for record in caplog.records)
    with open_read_only(path) as con:
        assert con.sql("select sku from products").fetchall() == [("B",)]


def test_only_the_writers_own_names_count_as_leftovers():
    pattern = store._stale_pattern(Path("/data/shopkpi.duckdb"))
    ours = [".shopkpi.duckdb.12.34.tmp", ".shopkpi.duckdb.12.34.tmp.wal", ".shopkpi.duckdb.12.34.tmp.tmp"]
    theirs = [
        "shopkpi.duckdb",
        "shopkpi.duckdb.lock",
        ".shopkpi.duckdb.demo",
        ".shopkpi.duckdb.backup.tmp",
        ".shopkpi.duckdb.12.34.tmp.bak",
        ".other.duckdb.12.34.tmp",
        ".shopkpi-duckdb.12.34.tmp",
    ]
    assert [name for name in ours + theirs if pattern.fullmatch(name)] == ours
