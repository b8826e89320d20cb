"""Fixtures shared by the whole suite: the small demo shop (read-only, or a private copy to write to), the
hand-made shop whose KPIs tests/metrics/test_metrics.py works out by hand, and the one Spark session of a test run.
Helpers that are not fixtures live in tests/support/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.demo import demo_warehouse
from tests.support.shops import hand_made_shop
from tests.support.two_stores import real_two_store_warehouse


@pytest.fixture(scope="session")
def demo_db() -> Path:
    """The small demo warehouse (60 days ending 2024-06-30), built once per test run. Read it only."""
    return demo_warehouse()


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the small demo warehouse, for a test that writes to it or hashes it."""
    target = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_warehouse(), target)
    return target


@pytest.fixture(scope="session")
def hand_made_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made shop of tests/support/shops.py, built once per test run. Read it only."""
    return hand_made_shop(tmp_path_factory.mktemp("hand-made") / "w.duckdb")


@pytest.fixture(scope="session")
def stores_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Tmall report and two real Shopify exports as three stores of one warehouse
    (tests/support/two_stores.py), built once per test run. Read it only."""
    return real_two_store_warehouse(tmp_path_factory.mktemp("real-stores"))


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No shopkpi.toml or SHOPKPI_DB / _TARGETS / _CONFIG of the machine: a command reads only what the test gives it
    (modules that call the CLI in-process use it with `pytestmark = pytest.mark.usefixtures("no_config")`)."""
    for name in ("SHOPKPI_DB", "SHOPKPI_TARGETS", "SHOPKPI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def spark():
    """The Spark local[2] session of the whole test run (it takes 10 s or more to start: one JVM per run); the
    engine's own start_session returns this one to a command or a page run in the same process."""
    from warehouse.spark import start_session

    session = start_session("local[2]")
    # Tiny tables: compiling each stage to Java costs more than it saves (a third of the JVM's time per query here).
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    return session
