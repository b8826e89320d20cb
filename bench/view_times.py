"""Benchmark: one view of a dashboard page in a fresh tab, on its first visit (computed) and again (cached), with this
checkout's code and another's, alternated, on the same warehouse (or each on its own, `--baseline-db`).

    python -m bench.view_times --db W --baseline /work/main [--page traffic] [--days 365] [--rounds 5]
    python -m bench.view_times --db W --baseline /work/main --query split=medium   # the Traffic page split by medium
    python -m bench.view_times --db W --baseline . --baseline-db W0   # one checkout, two warehouses of the same data

A first visit that drew a note for a result computed in the background (shopkpi/ui/later.py: the Traffic page's
visitors by medium over a long period) is also timed until the page is drawn whole with it ("whole").

Each checkout serves the warehouse with `shopkpi serve`'s command line (as bench.page_times does). Once both warm-ups
are done, each round opens the page, in a new browser context (a new Streamlit session) on each server in turn, for a
custom period ending on the data's last day, and then the same address again. The period is `--days` days long in
the first round and starts one day later in each round after it, so that no server has it cached from an earlier
round. Times are bench.page_times' "drawn": from navigation until the page's heading, its content and every chart and
table of the first screen are drawn and its script run is over. Prints each visit, the medians and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import duckdb

from bench.page_times import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LATER_NOTE,
    PAGE_TIMEOUT_MS,
    PAGES,
    SCRIPT_DONE,
    _load,
    free_port,
    fresh_load,
    running,
)
from metrics.periods import data_span
from shopkpi.cli.serve import streamlit_command
from shopkpi.settings import REPO_ROOT

# The moment (ms since navigation) a page that drew a note for a slow result (shopkpi/ui/later.py) has it in place of
# the note, drawn again whole: no note left and the script run over.
WHOLE_JS = """(spec) =>
    !document.querySelector(spec.laterNote) && document.querySelector(spec.scriptDone) ? performance.now() : false"""


def whole_s(tab) -> float:
    """Seconds from navigation until the page is drawn whole, after a note said a slow result was coming."""
    spec = {"laterNote": LATER_NOTE, "scriptDone": SCRIPT_DONE}
    return tab.wait_for_function(WHOLE_JS, arg=spec, polling="raf", timeout=PAGE_TIMEOUT_MS).json_value() / 1000


def measure(
    db: Path,
    baseline: Path,
    page: str,
    days: int,
    rounds: int,
    workdir: Path,
    extra: str = "",
    baseline_db: Path | None = None,
) -> None:
    from playwright.sync_api import sync_playwright  # imported here: the rest of shopkpi never needs Playwright

    path, title, selector, at_least = next(p for p in PAGES if p[0] == page or p[1].lower() == page)
    with duckdb.connect(str(db), read_only=True) as con:
        span = data_span(con)
    if span is None:
        raise SystemExit(f"error: {db} has no data")
    checkouts = {"before": baseline.resolve(), "after": REPO_ROOT}
    warehouses = {"before": baseline_db or db, "after": db}
    found: dict[str, dict[str, list[float]]] = {label: {"first": [], "again": [], "whole": []} for label in checkouts}
    with ExitStack() as stack:
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        servers = {}
        for label, root in checkouts.items():
            port = free_port()
            command = streamlit_command(port)
            command[command.index(str(REPO_ROOT / "app.py"))] = str(root / "app.py")  # that checkout's app and code
            env = {**os.environ, "SHOPKPI_DB": str(warehouses[label]), "PYTHONPATH": str(root)}
            servers[label] = stack.enter_context(running(command, env, root, workdir / f"{label}.log", port))
        for label, server in servers.items():
            server.wait_until_healthy()
            if not server.warmed.wait(timeout=300):
                raise SystemExit(f"error: the {label} server's warm-up did not finish in 300 s")
            print(f"{label} ({checkouts[label]}): warm-up done {server.warmed_at:.1f} s after start")
        for n in range(rounds):
            first = span.end - timedelta(days=days - 1 - n)
            query = f"period=custom&from={first}&to={span.end}" + (f"&{extra}" if extra else "")
            for label in list(servers) if n % 2 == 0 else list(reversed(servers)):
                for visit in ("first", "again"):
                    context = browser.new_context(viewport={"width": 1400, "height": 2000})
                    try:
                        tab = context.new_page()
                        drawn = fresh_load(tab, f"{servers[label].url}/{path}?{query}", title, selector, at_least)
                        if visit == "first":  # and, where a note said a slow result was coming, once it is in
                            found[label]["whole"].append(whole_s(tab) if drawn.later else drawn.drawn_s)
                    finally:
                        context.close()
                    found[label][visit].append(drawn.drawn_s)
                first_s, again_s = found[label]["first"][-1], found[label]["again"][-1]
                whole = found[label]["whole"][-1]
                note = f" (whole {whole:.2f} s: a note, then the slow result)" if whole != first_s else ""
                print(
                    f"  round {n + 1} {label:<6} {query}: first {first_s:.2f} s{note}, again {again_s:.2f} s "
                    f"({_load()})"
                )
    for label, visits in found.items():
        medians = ", ".join(f"{visit} {statistics.median(times):.2f} s" for visit, times in visits.items())
        print(f"{label}: medians of {rounds}: {medians} (whole: the first visit until drawn with every result)")
    ratio = statistics.median(found["after"]["first"]) / statistics.median(found["before"]["first"])
    print(f"first visit, after / before: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="the warehouse both checkouts serve (only read)")
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout (the 'before')")
    parser.add_argument(
        "--baseline-db", type=Path, help="the warehouse the baseline serves (default: --db; the same period of data)"
    )
    parser.add_argument("--page", default="traffic", help="the page's url path (default: traffic)")
    parser.add_argument("--days", type=int, default=365, help="the period's length in the first round (default 365)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--query", default="", help="more of the address, e.g. split=medium (the Traffic page's split)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"error: {CHROMIUM} is missing: run `apt-get install -y chromium` (never `playwright install`)")
    print(f"load average at start: {_load()}")
    with tempfile.TemporaryDirectory(prefix="shopkpi-view-bench-") as workdir:
        baseline_db = args.baseline_db.resolve() if args.baseline_db else None
        measure(
            args.db.resolve(), args.baseline, args.page, args.days, args.rounds, Path(workdir), args.query, baseline_db
        )
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
