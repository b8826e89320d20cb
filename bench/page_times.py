"""Page render benchmark: seconds until each dashboard page has drawn its real content in Chromium, against the
floor Streamlit itself costs (a two-page app that only draws a title), measured in the same run.

Run: `python -m bench.page_times --db /tmp/demo/shopkpi.duckdb [--rounds 3] [--port 8599]`. It serves the dashboard
with the product's own command line (shopkpi.cli.serve.streamlit_command), times each page's cold first visit (right
after start, while the warm-up runs), its fresh load in a new tab and a switch to it through the sidebar, and prints
them against the floor and the goals of issue 19: a fresh tab under twice the floor, the first page after start
under 3 s.

Times come from the page's own clock: a requestAnimationFrame check records `performance.now()` at the first frame
where the page's heading, its content and a finished script run are all on screen, every chart and table on screen
having drawn itself. What counts as content depends on what the page shows, not on a fixed number of tables (a shop
without stock data has one table fewer on Products & stock). A fresh load's clock starts at navigation start, so its
figure is exact; a switch is timed from the click event. A page may show a note that a slow result is still being
computed in the background (shopkpi/ui/later.py) and draw it when ready: the table says which first visits did.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pages import HOME
from pages import PAGES as DASHBOARD_PAGES
from shopkpi.cli.serve import streamlit_command
from shopkpi.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT_DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TARGET_RATIO = 2.0  # issue 19: a fresh tab's page under twice the floor (1.0 s against 0.5 s on a quiet machine)
FIRST_TARGET_SECONDS = 3.0  # issue 19: the first page right after start
WARM_UP_DONE = "warm-up done"  # what the serve command prints once its background warm-up has finished
WARM_UP_TIMEOUT = 120.0
PAGE_TIMEOUT_MS = 60_000

# What shows a page drew real content, per page file: a selector and how many of it at least must be visible, counts
# that hold on any shop with data (the cards of Overview and Service are drawn whatever the data; a chart or table
# may be missing from other pages, e.g. the stock tables without stock data). On top, the check below wants every
# chart and table on screen drawn and no element still loading, once the script run is over.
CHARTS_OR_TABLES = "[data-testid='stVegaLiteChart'], [data-testid='stPlotlyChart'], [data-testid='stDataFrame']"
CONTENT = {
    "pages/overview.py": ("[data-testid='stMetric']", 10),
    "pages/traffic.py": (CHARTS_OR_TABLES, 1),
    "pages/customers.py": (CHARTS_OR_TABLES, 1),
    "pages/products.py": (CHARTS_OR_TABLES, 1),
    "pages/pnl.py": (CHARTS_OR_TABLES, 1),
    "pages/service.py": ("[data-testid='stMetric']", 10),
    "pages/forecast.py": (CHARTS_OR_TABLES, 1),
    "pages/reports.py": ("[data-testid='stDownloadButton']", 3),
    "pages/data.py": ("[data-testid='stDataFrame']", 1),
}
LATER_NOTE = "[class*='st-key-shopkpi_later_']"  # shopkpi/ui/later.py's note: a slow result is still being computed
# Every page of the dashboard's page list (pages.PAGES), in menu order, as the benchmark and tests/e2e/test_browser.py
# visit it: url path ("" for the home page), English title, and CONTENT's selector and count.
PAGES = [("" if page is HOME else page.url_path, page.title_en, *CONTENT[page.file]) for page in DASHBOARD_PAGES]

# The floor: a page that draws only its title, in an app with a sidebar nav like the dashboard's.
FLOOR_APP = """\
import streamlit as st

st.set_page_config(page_title="floor", layout="wide")


def floor_one():
    st.title("Floor one")


def floor_two():
    st.title("Floor two")


st.navigation([st.Page(floor_one, title="Floor one", default=True), st.Page(floor_two, title="Floor two")]).run()
"""
FLOOR_PAGES = [("", "Floor one", "h1", 1), ("floor_two", "Floor two", "h1", 1)]

# Called once per animation frame with {key, title, selector, atLeast}: records in window.__pageBench[key] the first
# frame (performance.now(), in ms) at which the Streamlit app exists, the page's heading is visible, the heading and
# `atLeast` visible elements of `selector` are (or a note that a slow result is still being computed, `later`), and
# finally all of that with the script run finished, every Plotly chart (its SVG), Vega-Lite chart (its marks) and table
# (its canvas) of the first screen drawn and no element still loading (a skeleton); returns the marks then, else false.
# "Visible" as Playwright means it: a non-empty box and not visibility:hidden.
CONTENT_DRAWN_JS = """(spec) => {
    const visible = (el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
    };
    const text = (el) => (el.textContent || "").replace(/\\s+/g, " ").trim();
    const state = (window.__pageBench ??= {});
    const marks = (state[spec.key] ??= {});
    const now = performance.now();
    if (marks.app === undefined && document.querySelector("[data-testid='stApp']")) marks.app = now;
    const heading = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6, [role='heading']")].some(
        (el) => text(el) === spec.title && visible(el)
    );
    if (!heading) return false;
    if (marks.heading === undefined) marks.heading = now;
    const shown = [...document.querySelectorAll(spec.selector)].filter(visible).length;
    const later = document.querySelector(spec.laterNote) !== null;  // its place taken by a note, for now
    if (shown < spec.atLeast && !later) return false;
    if (marks.content === undefined) marks.content = now;
    if (!document.querySelector(spec.scriptDone)) return false;
    // On the first screen: a table below it, or in a closed expander, draws itself only when scrolled to or opened.
    const onScreen = (el) =>
        visible(el) && !el.closest("details:not([open])") && el.getBoundingClientRect().top < innerHeight;
    const all = (selector) => [...document.querySelectorAll(selector)].filter(onScreen);
    if (all("[data-testid='stSkeleton']").length) return false;
    if (all("[data-testid='stPlotlyChart']").some((el) => !el.querySelector(".main-svg"))) return false;
    if (all("[data-testid='stVegaLiteChart']").some((el) => !el.querySelector(".marks"))) return false;
    if (all("[data-testid='stDataFrame']").some((el) => !el.querySelector("canvas"))) return false;
    marks.later = later;
    marks.drawn = now;
    return marks;
}"""

# Before a switch: marks the click's time, then runs the check above on every frame after it (until the timeout).
WATCH_SWITCH_JS = f"""(spec) => {{
    const drawn = {CONTENT_DRAWN_JS};
    const marks = ((window.__pageBench ??= {{}})[spec.key] = {{}});
    marks.before = performance.now();
    document.addEventListener("click", () => {{ marks.click = performance.now(); }}, {{capture: true, once: true}});
    const giveUp = marks.before + spec.timeoutMs;
    const frame = () => {{
        if (performance.now() > giveUp) return;
        if (marks.click === undefined || !drawn(spec)) requestAnimationFrame(frame);
    }};
    requestAnimationFrame(frame);
}}"""

# What is on screen now, for an error message when a page never got drawn.
DESCRIBE_JS = """(spec) => ({
    headings: [...document.querySelectorAll("h1, h2, h3")].map((el) => el.textContent.trim()).slice(0, 5),
    shown: document.querySelectorAll(spec.selector).length,
    scriptState: document.querySelector("[data-testid='stApp']")?.getAttribute("data-test-script-state") ?? null,
    exception: document.querySelector("[data-testid='stException']")?.textContent.slice(0, 200) ?? null,
})"""

_keys = iter(range(1, 1 << 62))


@dataclass(frozen=True)
class Drawn:
    """When a page got drawn, in seconds from the start (navigation start for a load, the click for a switch)."""

    heading_s: float  # the page's title is visible
    content_s: float  # the title and the page's content are visible (the script may still run)
    drawn_s: float  # all of it, with the script run finished: the figure that counts
    app_s: float | None = None  # Streamlit's frontend exists (loads only: the HTML and JS bundle arrived)
    later: bool = False  # a note said a slow result was still being computed (drawn once ready, by itself)


class NotDrawnError(AssertionError):
    """A page did not draw its content within the timeout."""


def _spec(title: str, selector: str, at_least: int, timeout_ms: int) -> dict:
    key = f"m{next(_keys)}"
    return {
        "key": key,
        "title": title,
        "selector": selector,
        "atLeast": at_least,
        "scriptDone": SCRIPT_DONE,
        "laterNote": LATER_NOTE,
        "timeoutMs": timeout_ms,
    }


def _not_drawn(page, spec: dict, error: Exception) -> NotDrawnError:
    try:
        seen = page.evaluate(DESCRIBE_JS, spec)
    except Exception as describe_error:  # the page itself is gone: say that instead
        seen = f"(page state unreadable: {describe_error})"
    return NotDrawnError(
        f"{spec['title']!r} not drawn within {spec['timeoutMs'] / 1000:.0f} s (needs its heading, "
        f"{spec['atLeast']} visible {spec['selector']}, a finished script run and every chart and table drawn); on "
        f"screen: {seen}; {error}"
    )


def wait_until_drawn(page, title: str, selector: str, at_least: int, timeout_ms: int = PAGE_TIMEOUT_MS) -> Drawn:
    """When the current document first showed the page drawn, in seconds since its navigation start."""
    spec = _spec(title, selector, at_least, timeout_ms)
    try:
        marks = page.wait_for_function(CONTENT_DRAWN_JS, arg=spec, polling="raf", timeout=timeout_ms).json_value()
    except Exception as error:
        raise _not_drawn(page, spec, error) from error
    return Drawn(
        marks["heading"] / 1000,
        marks["content"] / 1000,
        marks["drawn"] / 1000,
        _seconds(marks.get("app")),
        bool(marks.get("later")),
    )


def fresh_load(page, url: str, title: str, selector: str, at_least: int, timeout_ms: int = PAGE_TIMEOUT_MS) -> Drawn:
    """Open `url` as a new document (a new Streamlit session) and time it until the page is drawn."""
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    return wait_until_drawn(page, title, selector, at_least, timeout_ms)


def switch_to(page, title: str, selector: str, at_least: int, timeout_ms: int = PAGE_TIMEOUT_MS) -> Drawn:
    """Click the page's link in the sidebar nav and time it, from the click, until the page is drawn."""
    spec = _spec(title, selector, at_least, timeout_ms)
    page.evaluate(WATCH_SWITCH_JS, spec)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click(timeout=timeout_ms)
    try:
        marks = page.wait_for_function(
            "(key) => { const m = window.__pageBench[key]; return m.drawn === undefined ? null : m; }",
            arg=spec["key"],
            polling="raf",
            timeout=timeout_ms,
        ).json_value()
    except Exception as error:
        raise _not_drawn(page, spec, error) from error
    start = marks.get("click", marks["before"])
    return Drawn(*((marks[name] - start) / 1000 for name in ("heading", "content", "drawn")))


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


# --- servers ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Streamlit server process whose output is kept in a log file and watched for the warm-up line."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.started = time.monotonic()
        self.warmed_at: float | None = None  # seconds after start at which WARM_UP_DONE appeared
        self.warmed = threading.Event()
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self._reader = threading.Thread(target=self._read, name="page-bench-server-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.log.open("w") as out:
            for line in self.process.stdout:
                out.write(line)
                out.flush()
                if WARM_UP_DONE in line and not self.warmed.is_set():
                    self.warmed_at = time.monotonic() - self.started
                    self.warmed.set()

    def wait_until_healthy(self, timeout: float = 90) -> float:
        """Seconds from start until /_stcore/health answers ok; raises RuntimeError if it exits or never does."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        return time.monotonic() - self.started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{self.tail()}")

    def lines_about(self, word: str) -> list[str]:
        """The lines the server printed that mention `word`."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line.strip() for line in lines if word in line]

    def tail(self, lines: int = 20) -> str:
        """The last lines the server printed."""
        return "\n".join(self.log.read_text().splitlines()[-lines:]) if self.log.exists() else "(no output)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path, log: Path, port: int) -> Iterator[Server]:
    """A started server, stopped (terminate, wait, kill) whatever happens inside the block."""
    server = Server(command, env, cwd, log, port)
    try:
        yield server
    finally:
        server.stop()


def floor_command(app: Path, port: int) -> list[str]:
    """The floor app served like the dashboard (same Python, headless, minimal toolbar), on localhost."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


# --- the run ------------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _mark(ok: bool) -> str:
    return "yes" if ok else "NO"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def measure(db: Path, rounds: int, port: int, workdir: Path) -> None:
    from playwright.sync_api import sync_playwright  # imported here: the rest of shopkpi never needs Playwright

    (workdir / "floor").mkdir()
    floor_app = workdir / "floor" / "floor_app.py"
    floor_app.write_text(FLOOR_APP)
    floor_port = free_port()
    dashboard_env = {**os.environ, "SHOPKPI_DB": str(db)}
    floor_env = {key: value for key, value in os.environ.items() if not key.startswith("SHOPKPI_")}

    with ExitStack() as stack:
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        stack.callback(browser.close)

        def new_page():
            context = browser.new_context(viewport={"width": 1400, "height": 2000})
            stack.callback(context.close)
            return context.new_page()

        floor = stack.enter_context(
            running(
                floor_command(floor_app, floor_port), floor_env, floor_app.parent, workdir / "floor.log", floor_port
            )
        )
        floor.wait_until_healthy()
        floor_cold = fresh_load(new_page(), floor.url, *FLOOR_PAGES[0][1:]).drawn_s

        dashboard = stack.enter_context(
            running(streamlit_command(port), dashboard_env, REPO_ROOT, workdir / "dashboard.log", port)
        )
        healthy_s = dashboard.wait_until_healthy()
        print(f"dashboard: {' '.join(streamlit_command(port)[1:])}")
        print(f"  healthy {healthy_s:.1f} s after start")

        # a) Each page's first fresh load right after the health check, as the first users after a restart see it.
        cold: dict[str, Drawn] = {}
        cold_warmed: dict[str, bool] = {}
        tab = new_page()
        for path, title, selector, at_least in PAGES:
            cold_warmed[title] = dashboard.warmed.is_set()
            cold[title] = fresh_load(tab, f"{dashboard.url}/{path}", title, selector, at_least)

        left = WARM_UP_TIMEOUT - (time.monotonic() - dashboard.started)
        if dashboard.warmed.wait(timeout=max(left, 0)):
            print(f"  '{WARM_UP_DONE}' printed {dashboard.warmed_at:.1f} s after start")
        else:
            print(f"  '{WARM_UP_DONE}' never printed within {WARM_UP_TIMEOUT:.0f} s of start; measuring anyway")
        for line in dashboard.lines_about("warm-up")[:3]:
            print(f"  server said: {line}")
        if any(cold_warmed.values()):
            early = ", ".join(title for title, warmed in cold_warmed.items() if warmed)
            print(f"  (the warm-up had already finished before the cold first visit of: {early})")

        # b) and c), in rounds, the floor measured in each round next to the pages.
        loads: dict[str, list[Drawn]] = {title: [] for _, title, _, _ in PAGES}
        switches: dict[str, list[Drawn]] = {title: [] for _, title, _, _ in PAGES}
        floor_loads: list[float] = []
        floor_switches: list[float] = []
        floor_tab = new_page()
        for _ in range(rounds):
            for path, title, selector, at_least in FLOOR_PAGES:
                floor_loads.append(fresh_load(floor_tab, f"{floor.url}/{path}", title, selector, at_least).drawn_s)
            for _, title, selector, at_least in FLOOR_PAGES:  # from "Floor two" to one, then to two
                floor_switches.append(switch_to(floor_tab, title, selector, at_least).drawn_s)
            for path, title, selector, at_least in PAGES:
                loads[title].append(fresh_load(tab, f"{dashboard.url}/{path}", title, selector, at_least))
            # Each page from the one before it (Overview from Data, where the loads ended).
            for _, title, selector, at_least in PAGES:
                switches[title].append(switch_to(tab, title, selector, at_least))

    load_floor = _median(floor_loads)
    switch_floor = _median(floor_switches)
    first_title = PAGES[0][1]
    first = cold[first_title]
    print()
    print(
        f"floor (a page drawing only st.title): cold first visit {floor_cold:.2f} s, fresh load median "
        f"{load_floor:.2f} s (max {max(floor_loads):.2f}), switch median {switch_floor:.2f} s "
        f"(max {max(floor_switches):.2f})"
    )
    print(
        f"first page right after start ({first_title}, {first.app_s or 0:.1f} s to the frontend): {first.drawn_s:.2f} s"
        f" = {first.drawn_s / floor_cold:.1f} x the floor's cold first visit; goal under {FIRST_TARGET_SECONDS:.0f} s:"
        f" {_mark(first.drawn_s < FIRST_TARGET_SECONDS)}"
    )
    print(
        f"{rounds} rounds; ratios are medians over the floor's median; goals: a fresh load under {TARGET_RATIO:.0f} x "
        f"the floor, a cold first visit under {FIRST_TARGET_SECONDS:.0f} s; 'later': the page showed a note of a slow "
        "result still being computed (drawn by itself once ready)"
    )
    print()
    header = (
        f"{'page':18s} {'cold first':>10s} {'<3 s':>4s} {'later':>5s} | {'load med':>8s} {'max':>5s} {'x floor':>7s}"
        f" {'<2x':>4s} | {'switch med':>10s} {'max':>5s} {'x floor':>7s}"
    )
    print(header)
    print("-" * len(header))
    for _, title, _, _ in PAGES:
        load = _median([d.drawn_s for d in loads[title]])
        switch = _median([d.drawn_s for d in switches[title]])
        later = "yes" if cold[title].later or any(d.later for d in loads[title]) else ""
        print(
            f"{title:18s} {cold[title].drawn_s:10.2f} {_mark(cold[title].drawn_s < FIRST_TARGET_SECONDS):>4s}"
            f" {later:>5s} | {load:8.2f} {max(d.drawn_s for d in loads[title]):5.2f} {load / load_floor:7.1f}"
            f" {_mark(load / load_floor < TARGET_RATIO):>4s} |"
            f" {switch:10.2f} {max(d.drawn_s for d in switches[title]):5.2f} {switch / switch_floor:7.1f}"
        )
    print(
        f"{'(floor)':18s} {floor_cold:10.2f} {'':4s} {'':5s} | {load_floor:8.2f} {max(floor_loads):5.2f} {1:7.1f}"
        f" {'':4s} | {switch_floor:10.2f} {max(floor_switches):5.2f} {1:7.1f}"
    )

    print()
    print("where a fresh load's time goes (medians, s from navigation start): frontend up, title shown, title and")
    print("content shown, script run finished and everything drawn; and the same for a switch (s from the click)")
    columns = f"{'title':>6s} {'content':>7s} {'done':>5s}"
    print(f"{'page':18s} {'app':>5s} {columns} | {columns}")
    for _, title, _, _ in PAGES:
        ls, ss = loads[title], switches[title]
        print(
            f"{title:18s} {_median([d.app_s for d in ls]):5.2f} {_median([d.heading_s for d in ls]):6.2f}"
            f" {_median([d.content_s for d in ls]):7.2f} {_median([d.drawn_s for d in ls]):5.2f} |"
            f" {_median([d.heading_s for d in ss]):6.2f} {_median([d.content_s for d in ss]):7.2f}"
            f" {_median([d.drawn_s for d in ss]):5.2f}"
        )
    print()
    print("cold first visits, same columns:")
    for _, title, _, _ in PAGES:
        d = cold[title]
        print(f"{title:18s} {d.app_s:5.2f} {d.heading_s:6.2f} {d.content_s:7.2f} {d.drawn_s:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="the warehouse to serve (only read)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh loads and switches per page (default 3)")
    parser.add_argument("--port", type=int, default=None, help="the dashboard's port (default: a free one)")
    args = parser.parse_args()
    db = args.db.expanduser().resolve()
    if not db.is_file():
        sys.exit(f"error: the warehouse {db} does not exist: pass the path of a shopkpi.duckdb with --db")
    if not CHROMIUM.exists():
        sys.exit(f"error: {CHROMIUM} is missing: run `apt-get install -y chromium` (never `playwright install`)")
    if args.rounds < 1:
        sys.exit("error: --rounds must be at least 1")
    # A `kill` of the benchmark must still stop its servers: SIGTERM unwinds like Ctrl-C, through the cleanups.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(f"error: stopped by signal {signum}"))
    print(f"page render benchmark on {db}")
    print(f"load average at start: {_load()}")
    try:
        with tempfile.TemporaryDirectory(prefix="shopkpi-page-bench-") as workdir:
            measure(db, args.rounds, args.port or free_port(), Path(workdir))
    except (RuntimeError, NotDrawnError) as error:
        print(f"load average at the end: {_load()}")
        sys.exit(f"error: {error}")
    print()
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
