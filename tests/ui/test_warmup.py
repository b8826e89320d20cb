"""The warm-up computes every page's default view ahead of its first visit (shopkpi/ui/warmup.py): afterwards, opening
any page computes nothing, in English and in Chinese, for every role. Without it a first visit does compute (so the
check can fail). Cache misses are counted from the debug line shopkpi.ui logs for each query it computes.

The warm-up calls each page's own data(view, role), the function its render calls: nothing to keep in step by hand."""

from __future__ import annotations

import importlib
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import pages
from metrics.segments import ALL
from shopkpi import auth
from shopkpi.cli.serve import streamlit_command
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import later, signin, warmup
from tests.support.app import open_app
from tests.support.demo import demo_warehouse
from tests.support.small import build_small_warehouse
from warehouse import WarehouseError, writing

PASSWORD = "correct horse battery"


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A copy under a new path: its cache entries are its own, whatever other tests have computed.
    db = tmp_path / "shop.duckdb"
    shutil.copyfile(demo_warehouse(), db)
    # A background warm-up that an earlier test's app run started reads the configured warehouse as it goes: still
    # running, it would warm this copy too, in its own thread, and this test would find those queries computed.
    for thread in warmup._threads:
        thread.join(timeout=120)
    monkeypatch.setenv("SHOPKPI_DB", str(db))
    # Only the warm-up a test runs itself: the one app.py starts in the background after a page run would fill in
    # (unseen, in its own thread) whatever the test's warm-up left out.
    monkeypatch.setattr(warmup, "start", lambda: None)
    return db


def computed(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The queries computed since the last `caplog.clear()`, by any thread but the background warm-up's."""
    records = [r for r in caplog.records if r.name == "shopkpi.dashboard" and r.threadName != "shopkpi-warm-up"]
    return [r.getMessage() for r in records if r.getMessage().startswith("computed ")]


def open_as(shop: Path, users: Path, monkeypatch: pytest.MonkeyPatch, username: str, page: pages.Page) -> AppTest:
    """`page` opened by `username` of the users file, signed in (a session as sign-in leaves it)."""
    monkeypatch.setenv("SHOPKPI_DB", str(shop))
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    role = auth.load_users(users)[username].role
    at.session_state[signin.SESSION_KEY] = {"username": username, "role": role, "signed_in_at": time.time()}
    at.run()
    if page is not pages.HOME:
        at.switch_page(page.file).run()
    return at


def test_each_page_with_data_is_warmed_in_its_order_and_none_has_a_second_copy_of_its_queries() -> None:
    for page in pages.PAGES:
        module = importlib.import_module(page.module)
        assert hasattr(module, "data") == (page.warm is not None), f"{page.file}: data() and a warm place go together"
        assert not hasattr(module, "prefetch"), f"{page.file}: the warm-up calls data(), the page's own queries"
    assert [p.file for p in warmup.prefetched()][0] == pages.HOME.file, "the home page is warmed first"
    assert [p.warm for p in warmup.prefetched()] == list(range(1, len(warmup.prefetched()) + 1))


def test_the_warm_up_calls_a_pages_own_data_once_for_each_role_that_may_open_it(monkeypatch) -> None:
    calls = []
    for page in (pages.page("pages/traffic.py"), pages.page("pages/pnl.py")):
        module = importlib.import_module(page.module)  # the module the warm-up imports (not a copy run with runpy)
        monkeypatch.setattr(module, "data", lambda view, role, file=page.file: calls.append((file, view, role)))
        warmup.prefetch(page, "the view")
    assert calls == [
        *(("pages/traffic.py", "the view", role) for role in (auth.OPEN, *auth.ROLES)),
        *(("pages/pnl.py", "the view", role) for role in (auth.OPEN, "executive", "admin")),  # P&L: profit roles only
    ]


def test_after_the_warm_up_a_first_visit_of_any_page_computes_nothing(shop, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="shopkpi.dashboard")
    seconds = warmup.warm()
    assert [name for name in seconds if name.startswith("pages/")] == [p.file for p in warmup.prefetched()]
    assert len(computed(caplog)) >= 20  # the default views' queries did run here
    for lang in ("en", "zh"):
        for page in pages.PAGES:
            caplog.clear()
            at = open_app(shop, monkeypatch, page.url_path, lang=lang)
            assert not at.exception, (page.file, lang)
            assert at.title[0].value == (page.title_zh if lang == "zh" else page.title_en)
            assert computed(caplog) == [], f"{page.file} ({lang}) computed what the warm-up should have"


def test_after_the_warm_up_every_role_finds_its_own_figures_computed(shop, monkeypatch, caplog, tmp_path) -> None:
    # An analyst's Overview and Products page leave out the profit figures: other queries than the demo mode's.
    users = tmp_path / "users.toml"
    for username, role in (("ana", "analyst"), ("eve", "executive")):
        auth.add_user(users, username, PASSWORD, role)
    caplog.set_level(logging.DEBUG, logger="shopkpi.dashboard")
    warmup.warm()
    for username in ("ana", "eve"):
        for page in pages.PAGES:
            if not auth.may_open(auth.load_users(users)[username].role, page.roles):
                continue
            caplog.clear()
            at = open_as(shop, users, monkeypatch, username, page)
            assert not at.exception, (page.file, username)
            assert at.title[0].value == page.title_en
            assert computed(caplog) == [], f"{page.file} ({username}) computed what the warm-up should have"
    analyst_cards = {m.label for m in open_as(shop, users, monkeypatch, "ana", pages.HOME).metric}
    assert "Sessions" in analyst_cards and "Net profit" not in analyst_cards  # a different set of cards indeed


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
    steps = [step for step in warmup.warm() if step not in ("in the background", "with their results")]
    assert steps == ["sidebar", *(p.file for p in warmup.prefetched()), "a year of data"]


def test_the_warm_up_gives_way_while_a_page_is_being_drawn() -> None:
    waiting = threading.Thread(target=warmup.give_way)
    with warmup.visit():
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "the warm-up went on during a page run"
    waiting.join(timeout=2)
    assert not waiting.is_alive(), "the warm-up did not resume after the page run"


def test_a_query_that_a_page_waits_for_is_not_queued_behind_a_polite_result(monkeypatch) -> None:
    """A page run waits for its visitors' count (later.Note.wait) while it counts as a visit, and a polite result (a
    forecast fit) waits while any page is drawn (give_way): queued behind one, the count would wait out the page."""
    gate = threading.Event()

    def compute(query, args, segment, polite):
        if polite:
            later.give_way()  # as the real one does: nothing while a page is drawn
            gate.wait(timeout=30)
        return query(*args)

    monkeypatch.setattr(later, "_compute", compute)
    try:
        with later.visit():  # the page run that waits
            fit = later._submit(lambda: "fitted", (), ALL, polite=True)
            count = later._submit(lambda: 42, (), ALL, polite=False)
            assert count.result(timeout=5) == 42
            assert not fit.done()
    finally:
        gate.set()
    assert fit.result(timeout=30) == "fitted"


def test_a_first_visit_while_the_warm_up_runs_draws_at_once_and_leaves_the_slow_results_to_the_background(
    shop, monkeypatch, caplog
) -> None:
    # The two slow results (each product's forecast demand, the Forecast page's backtest of every model) are held
    # back until `gate` opens: a page run that waited for either would never finish before it does.
    import metrics.forecast
    import metrics.replenishment

    gate, threads = threading.Event(), []
    for module, name in ((metrics.replenishment, "forecast_cover"), (metrics.forecast, "model_choice")):
        real = getattr(module, name)

        def held(*args, real=real, **kwargs):
            threads.append(threading.current_thread().name)
            gate.wait(timeout=60)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, held)
    caplog.set_level(logging.DEBUG, logger="shopkpi.dashboard")
    warming = threading.Thread(target=warmup.warm, name="shopkpi-warm-up")
    try:
        warming.start()  # as `shopkpi serve` does right after start
        monkeypatch.setenv("SHOPKPI_DB", str(shop))
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
        at.run()  # the landing page, while the warm-up runs and both slow results are held
        assert not at.exception
        assert len(at.metric) == 10, "the headline cards are drawn at once"
        shown = [c.value for c in at.caption] + [e.value for e in at.error]
        assert any("Forecasting each product's demand" in text for text in shown), shown
        at.switch_page("pages/forecast.py").run()
        assert not at.exception
        assert any("Choosing the model" in c.value for c in at.caption)
        assert "Alerts" in [s.value for s in at.subheader]  # the rest of the page is there
        assert not gate.is_set() and warming.is_alive(), "the visit ended before the slow results could"
    finally:
        gate.set()
        warming.join(timeout=120)
    assert not warming.is_alive()
    # Both asked for by the visitor's pages, and computed only by the background worker, never in a page run.
    assert len(threads) == 2 and all(name.startswith("shopkpi-later") for name in threads), threads
    # Once they are ready the page is drawn whole (in the browser by itself, within a second), computing nothing.
    caplog.clear()
    at.run()
    assert not at.exception
    assert not any("Choosing the model" in c.value for c in at.caption)
    assert computed(caplog) == [], "the warm-up computed the Forecast page's view with the chosen model"
    at.switch_page("pages/overview.py").run()
    assert not any("Forecasting each product's demand" in c.value for c in at.caption)
    assert any("reordered now" in w.value for w in at.warning) or at.success, "the reorder alert is drawn"
    assert computed(caplog) == []


def test_page_scripts_are_compiled_without_an_ast_parse_that_a_background_thread_could_race(shop, monkeypatch) -> None:
    # CPython 3.11 shares the AST converter's recursion depth between threads: Streamlit's "magic" (an ast.parse of
    # every script) beside the warm-up thread failed a page on CI with "AST constructor recursion depth mismatch".
    # The repository's config (read here, as by `streamlit run`) and `shopkpi serve`'s command both turn it off.
    from streamlit.runtime.scriptrunner import magic

    parsed: list[str] = []
    monkeypatch.setattr(magic, "add_magic", lambda code, script_path: parsed.append(script_path))
    at = open_app(shop, monkeypatch, page="traffic")
    assert not at.exception, at.exception
    assert parsed == []
    command = streamlit_command()
    assert command[command.index("--runner.magicEnabled") + 1] == "false"
