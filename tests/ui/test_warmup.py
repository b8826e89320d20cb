"""The warm-up computes every page's default view ahead of its first visit (shopkpi/ui/warmup.py): afterwards, opening
any page computes nothing, in English and in Chinese. Without it a first visit does compute (so the check can fail).
Cache misses are counted from the debug line shopkpi.ui logs for each query it computes."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pytest

from shopkpi.settings import REPO_ROOT
from shopkpi.ui import warmup
from tests.support.app import open_app
from tests.support.demo import demo_warehouse
from tests.support.small import build_small_warehouse
from warehouse import WarehouseError, writing

PAGES = ("overview", "traffic", "customers", "products", "pnl", "forecast", "reports", "data")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A copy under a new path: its cache entries are its own, whatever other tests have computed.
    db = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_warehouse(), db)
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    return db


def computed(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The queries computed since the last `caplog.clear()`, by any thread but the background warm-up's."""
    records = [r for r in caplog.records if r.name == "shopkpi.dashboard" and r.threadName != "shopkpi-warm-up"]
    return [r.getMessage() for r in records if r.getMessage().startswith("computed ")]


def test_every_page_with_a_query_has_a_prefetch_and_is_warmed() -> None:
    pages = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "pages").glob("*.py"))
    assert sorted([*warmup.PREFETCHED, "pages/reports.py"]) == pages  # Reports builds its files on click


def test_after_the_warm_up_a_first_visit_of_any_page_computes_nothing(shop, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="shopkpi.dashboard")
    seconds = warmup.warm()
    assert [name for name in seconds if name.startswith("pages/")] == list(warmup.PREFETCHED)
    assert len(computed(caplog)) >= 20  # the default views' queries did run here
    for lang in ("en", "zh"):
        for page in PAGES:
            caplog.clear()
            at = open_app(shop, monkeypatch, page, lang=lang)
            assert not at.exception, (page, lang)
            assert computed(caplog) == [], f"{page} ({lang}) computed what the warm-up should have"


def test_without_the_warm_up_a_first_visit_computes_its_queries(shop, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="shopkpi.dashboard")
    at = open_app(shop, monkeypatch, "traffic")
    assert not at.exception
    misses = computed(caplog)
    assert any("metrics.funnel.funnel" in m for m in misses), misses
    assert any("metrics.compute.compute_kpis" in m for m in misses), misses


def test_the_warm_up_skips_a_missing_or_empty_warehouse_and_copes_with_a_tiny_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPKPI_DB", str(tmp_path / "missing.duckdb"))
    warmup.start()  # no file published: nothing to warm, and no error
    with pytest.raises(WarehouseError, match="no warehouse at"):
        warmup.warm()

    empty = tmp_path / "empty.duckdb"
    with writing(empty):
        pass
    monkeypatch.setenv("SHOPKPI_DB", str(empty))
    assert list(warmup.warm()) == ["sidebar"]  # no dated rows: there is no default period to compute

    tiny = tmp_path / "tiny.duckdb"
    build_small_warehouse(tiny)  # 3 orders over a week: too little to forecast, enough to draw every page
    monkeypatch.setenv("SHOPKPI_DB", str(tiny))
    assert list(warmup.warm()) == ["sidebar", *warmup.PREFETCHED, "a year of data"]


def test_the_warm_up_gives_way_while_a_page_is_being_drawn() -> None:
    waiting = threading.Thread(target=warmup._give_way)
    with warmup.visit():
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "the warm-up went on during a page run"
    waiting.join(timeout=2)
    assert not waiting.is_alive(), "the warm-up did not resume after the page run"
