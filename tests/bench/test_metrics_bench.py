"""The benchmark script runs and finds the same numbers as the hand-written query (tiny shop: a smoke test)."""

from __future__ import annotations

from bench.kpis import main
from tests.support.shops import hand_made_shop


def test_bench_runs_on_the_hand_made_shop(tmp_path, capsys):
    db = hand_made_shop(tmp_path / "w.duckdb")
    assert main(["--db", str(db), "--from", "2024-03-01", "--to", "2024-03-31", "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    assert "same numbers: yes" in printed and "ratio" in printed


def test_bench_builds_a_synthetic_shop(tmp_path, capsys):
    db = tmp_path / "synthetic.duckdb"
    assert main(["--db", str(db), "--synthetic", "3000", "--repeat", "1"]) == 0
    assert "same numbers: yes" in capsys.readouterr().out


def test_bench_compares_raw_rollups_and_hand_written(tmp_path, capsys):
    db = hand_made_shop(tmp_path / "w.duckdb")
    assert main(["--db", str(db), "--rollups", "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    assert "built the rollups" in printed and "compute_kpis, rollups" in printed and "same numbers: yes" in printed


def test_the_stores_bench_adds_a_report_store_to_a_copy_and_finds_the_same_figures(tmp_path, capsys):
    from bench.stores import main as stores_main

    db = hand_made_shop(tmp_path / "w.duckdb")
    before = db.read_bytes()
    assert stores_main(["--db", str(db), "--repeat", "1", "--work", str(tmp_path / "work")]) == 0
    printed = capsys.readouterr().out
    assert "built the rollups" in printed and "added store 'report'" in printed
    assert "every case: the same figures from the rollups and the raw tables" in printed
    assert printed.count("True") == 14, printed  # 7 cases × 2 periods
    assert db.read_bytes() == before, "the warehouse itself is only read"
