"""`shopkpi ingest` and `shopkpi upgrade` on a warehouse they cannot use (issue 17 item 8) or beside what a killed
writer left (issue 14): one line on stderr and exit 1, never a traceback, and the warehouse file untouched."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from warehouse import writing

ENV = {key: value for key, value in os.environ.items() if not key.startswith("SHOPKPI_")}
NEW_PRODUCTS = "sku,name,category\nN1,Kettle,家居\nN2,Mug,家居\n"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2  # <linux/prctl.h>, <linux/capability.h>


def without_permission_override() -> None:
    """Runs in the child before exec: root keeps its uid but loses the capabilities that let it write whatever the
    permission bits say, so a read-only folder is read-only to it as to any user (tests run as root in CI)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def shopkpi(*args: str, cwd: Path, obey_permissions: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shopkpi", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=300,
        preexec_fn=without_permission_override if obey_permissions and os.geteuid() == 0 else None,
    )


def small_warehouse(path: Path) -> Path:
    with writing(path) as con:
        con.execute("insert into products (sku, name, category) values ('A', 'Tea', '食品'), ('B', 'Cup', '家居')")
    return path


def assert_one_line_failure(run: subprocess.CompletedProcess, *phrases: str) -> None:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert "up to date" not in run.stdout


@pytest.fixture(scope="module")
def intact_bytes(tmp_path_factory) -> bytes:
    return small_warehouse(tmp_path_factory.mktemp("intact") / "shopkpi.duckdb").read_bytes()


DAMAGE = {
    "zero bytes": lambda data: b"",
    "random bytes": lambda data: os.urandom(len(data)),
    "cut in half": lambda data: data[: len(data) // 2],
    "last block missing": lambda data: data[: len(data) - 262_144],
}


@pytest.mark.parametrize("command", ["ingest", "upgrade"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_warehouse_is_one_line_and_exit_1_and_stays_as_it_was(tmp_path, intact_bytes, damage, command):
    db = tmp_path / "shopkpi.duckdb"
    damaged = DAMAGE[damage](intact_bytes)
    db.write_bytes(damaged)
    (tmp_path / "new.csv").write_text(NEW_PRODUCTS)
    args = ["ingest", "products", "new.csv"] if command == "ingest" else ["upgrade"]
    run = shopkpi(*args, "--db", str(db), cwd=tmp_path)
    assert_one_line_failure(run, str(db), "is damaged", "restore it from a backup")
    assert db.read_bytes() == damaged
    # The writer's private copy of the damaged file is not left behind either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "shopkpi.duckdb", "shopkpi.duckdb.lock"]


def test_the_intact_warehouse_the_damaged_ones_come_from_loads_and_upgrades(tmp_path, intact_bytes):
    # The same bytes uncut pass both commands: the refusals above are about the damage, not about this file.
    db = tmp_path / "shopkpi.duckdb"
    db.write_bytes(intact_bytes)
    (tmp_path / "new.csv").write_text(NEW_PRODUCTS)
    upgraded = shopkpi("upgrade", "--db", str(db), cwd=tmp_path)
    assert upgraded.returncode == 0 and "up to date" in upgraded.stdout, upgraded.stderr
    loaded = shopkpi("ingest", "products", "new.csv", "--db", str(db), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("select count(*) from products").fetchall() == [(4,)]


@pytest.mark.parametrize("command", ["ingest", "upgrade"])
def test_a_read_only_data_folder_is_one_line_naming_the_folder(tmp_path, command):
    data = tmp_path / "data"
    data.mkdir()
    db = small_warehouse(data / "shopkpi.duckdb")
    (tmp_path / "new.csv").write_text(NEW_PRODUCTS)
    before = db.read_bytes()
    listing = sorted(p.name for p in data.iterdir())
    data.chmod(0o555)
    try:
        args = ["ingest", "products", "new.csv"] if command == "ingest" else ["upgrade"]
        run = shopkpi(*args, "--db", str(db), cwd=tmp_path, obey_permissions=True)
        assert_one_line_failure(run, f"cannot write in {data}", "Permission denied")
        assert db.read_bytes() == before
        assert sorted(p.name for p in data.iterdir()) == listing
    finally:
        data.chmod(0o755)


def test_a_data_folder_under_a_file_is_one_line_naming_the_file(tmp_path):
    # Fails for root too: nothing can be created under a regular file.
    blocker = tmp_path / "data"
    blocker.write_text("not a folder\n")
    (tmp_path / "new.csv").write_text(NEW_PRODUCTS)
    run = shopkpi("ingest", "products", "new.csv", "--db", str(blocker / "shop" / "shopkpi.duckdb"), cwd=tmp_path)
    assert_one_line_failure(run, f"cannot write in {blocker / 'shop'}", f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "not a folder\n"


def test_what_a_killed_writer_left_is_removed_and_nothing_else(tmp_path):
    db = small_warehouse(tmp_path / "shopkpi.duckdb")
    # A writer killed mid-load leaves its copy, the copy's WAL and DuckDB's spill folder for the copy (issue 14:
    # the folder made every later ingest fail with IsADirectoryError).
    copy = tmp_path / ".shopkpi.duckdb.4242.139912.tmp"
    copy.write_bytes(db.read_bytes())
    Path(f"{copy}.wal").write_bytes(b"wal")
    spill = Path(f"{copy}.tmp")
    (spill / "nested").mkdir(parents=True)
    (spill / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"x" * 4096)
    (spill / "nested" / "block").write_bytes(b"y")
    # Not the writer's: another warehouse's copy, a backup, the user's own files.
    others = {
        ".other.duckdb.4242.139912.tmp": b"another warehouse's writer",
        ".shopkpi.duckdb.backup": b"backup",
        "shopkpi.duckdb.tmp": b"user's file",
        "notes.txt": b"notes",
    }
    for name, content in others.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "new.csv").write_text(NEW_PRODUCTS)

    run = shopkpi("ingest", "products", "new.csv", "--db", str(db), cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "2 rows read = 2 inserted" in run.stdout
    assert not copy.exists() and not Path(f"{copy}.wal").exists() and not spill.exists()
    for name, content in others.items():
        assert (tmp_path / name).read_bytes() == content, name
