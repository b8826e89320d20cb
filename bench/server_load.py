"""Load benchmark of the dashboard server itself, without a browser: N sessions at once, each running the Overview
and Traffic page scripts in turn, for N = 1, 10, 20, 50.

Run: `python -m bench.server_load --db data/shopkpi.duckdb [--sessions 1,10,20,50] [--rounds 3]`.

It serves the dashboard with `shopkpi serve`'s own command line (shopkpi.cli.serve.streamlit_command, demo mode: no
users file), waits for its warm-up, then opens N sessions over Streamlit's own WebSocket protocol
(/_stcore/stream, protobuf BackMsg / ForwardMsg), as a browser tab does, all at the same moment. Each session asks for
Overview, then Traffic, `--rounds` times (a rerun request naming the page, with the message hashes it has already
received, as the browser sends them), and reads everything the server sends back. A page run is timed from the
request sent to the server's "script finished" message: the server's queueing, script run, serialisation and sending
of every element, but no browser drawing. A run counts as an error if it ends in anything but success, shows an
exception element, or lacks the page's title and content (Overview: its KPI cards; Traffic: its charts).

The server's resident memory is sampled every 0.1 s (/proc/PID/status) and its CPU time read before and after each
level (/proc/PID/stat). The client is one asyncio process decoding protobuf on the same cores; its own CPU time is
printed beside the server's so the share it takes is known.
"""

from __future__ import annotations

import argparse
import asyncio
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from shopkpi.cli.serve import streamlit_command
from shopkpi.settings import REPO_ROOT

TARGET_P95 = 3.0  # seconds, at 20 sessions (issue 17)
RUN_TIMEOUT = 300.0
WARM_UP_DONE = "warm-up done"  # what the server prints once its background warm-up has finished (ui/warmup.py)
WARM_UP_TIMEOUT = 300.0
# (label, the page's URL path as the browser names it in a rerun request, an element kind, how many of it at least)
PAGES = (("Overview", "", "metric", 10), ("Traffic", "traffic", "vega_lite_chart", 3))
FINISHED = ForwardMsg.ScriptFinishedStatus


@dataclass
class Run:
    page: str
    seconds: float
    ok: bool
    why: str = ""


@dataclass
class Level:
    sessions: int
    runs: list[Run] = field(default_factory=list)
    first: list[float] = field(default_factory=list)  # each session's first page run (a new session's start)
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    rss_peak_mb: float = 0.0
    rss_end_mb: float = 0.0


# --- the server ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(db: Path, port: int, workdir: Path) -> Iterator[subprocess.Popen]:
    """`shopkpi serve`'s own server process on `db` (demo mode: no users file), healthy and warmed up; stopped
    (terminate, wait, kill) whatever happens inside the block."""
    env = {**os.environ, "SHOPKPI_DB": str(db), "SHOPKPI_USERS": str(workdir / "no-users.toml")}
    for name in ("SHOPKPI_CONFIG", "SHOPKPI_REQUIRE_LOGIN"):
        env.pop(name, None)
    log = workdir / "server.log"
    command = [*streamlit_command(port=port), "--server.address", "127.0.0.1"]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        healthy = False
        while not (healthy and WARM_UP_DONE in log.read_text()):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text().splitlines()[-20:])
                raise RuntimeError(f"the server did not start and warm up within {WARM_UP_TIMEOUT:.0f} s:\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    healthy = response.read().decode().strip() == "ok"
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the server's memory and CPU ---------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat (after the command name in parentheses): user and system clock ticks.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """The peak resident memory of a process between start() and stop(), sampled every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="server-load-rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.1)

    def start(self) -> None:
        self.peak = rss_mb(self.pid)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_mb(self.pid))


# --- one browser session over the WebSocket protocol -------------------------------------------------------------


async def page_run(ws: websockets.ClientConnection, page: tuple[str, str, str, int], cached: set[str]) -> Run:
    """Ask for one page and read until its script run has finished; returns its time and whether it drew."""
    label, url_path, kind, at_least = page
    request = BackMsg()
    request.rerun_script.page_name = url_path
    request.rerun_script.query_string = ""
    request.rerun_script.cached_message_hashes.extend(sorted(cached))
    started = time.perf_counter()
    await ws.send(request.SerializeToString())
    found, titled, problem = 0, False, ""
    while True:
        message = ForwardMsg.FromString(await asyncio.wait_for(ws.recv(), RUN_TIMEOUT))
        if message.metadata.cacheable:
            cached.add(message.hash)
        what = message.WhichOneof("type")
        if what == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element.WhichOneof("type")
            found += element == kind
            titled = titled or (element == "heading" and message.delta.new_element.heading.body == label)
            if element == "exception" and not problem:
                problem = f"exception: {message.delta.new_element.exception.message[:120]}"
        elif what == "script_finished":
            status = message.script_finished
            if status == FINISHED.FINISHED_EARLY_FOR_RERUN:  # st.rerun() inside the run: the run goes on
                found, titled = 0, False
                continue
            seconds = time.perf_counter() - started
            if status != FINISHED.FINISHED_SUCCESSFULLY:
                problem = problem or f"finished with {FINISHED.Name(status)}"
            elif not titled and not problem:
                problem = f"no {label} title: another page was drawn"
            elif found < at_least and not problem:
                problem = f"{found} {kind} drawn, expected at least {at_least}"
            return Run(label, seconds, not problem, problem)


async def browser_session(url: str, rounds: int, start: asyncio.Event, level: Level) -> None:
    cached: set[str] = set()
    await start.wait()
    async with websockets.connect(
        url, subprotocols=["streamlit"], max_size=None, compression=None, open_timeout=RUN_TIMEOUT
    ) as ws:
        for index in range(rounds):
            for page in PAGES:
                run = await page_run(ws, page, cached)
                if index == 0 and page is PAGES[0]:
                    level.first.append(run.seconds)
                    if not run.ok:
                        level.runs.append(run)
                else:
                    level.runs.append(run)


async def load(url: str, sessions: int, rounds: int, level: Level) -> None:
    start = asyncio.Event()
    tasks = [asyncio.create_task(browser_session(url, rounds, start, level)) for _ in range(sessions)]
    await asyncio.sleep(0)
    start.set()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            level.runs.append(Run("session", 0.0, False, f"{type(outcome).__name__}: {outcome}"))


# --- the run ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def measure_level(server_pid: int, ws_url: str, sessions: int, rounds: int) -> Level:
    level = Level(sessions)
    sampler = MemorySampler(server_pid)
    sampler.start()
    server_cpu, client_cpu, wall = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    asyncio.run(load(ws_url, sessions, rounds, level))
    level.wall = time.perf_counter() - wall
    level.server_cpu = cpu_seconds(server_pid) - server_cpu
    level.client_cpu = time.process_time() - client_cpu
    level.rss_peak_mb = sampler.stop()
    level.rss_end_mb = rss_mb(server_pid)
    return level


def _times(level: Level, page: str) -> list[float]:
    return [run.seconds for run in level.runs if run.ok and run.page == page]


def report(levels: list[Level], rss_idle: float) -> None:
    print()
    print(
        "| sessions | page runs | Overview median / p95 | Traffic median / p95 | all runs p95 | first run of a new "
        "session, median / max | errors | server memory peak | server CPU |"
    )
    print("|---:|---:|---|---|---:|---|---:|---:|---:|")
    for level in levels:
        runs = [run.seconds for run in level.runs if run.ok]
        errors = sum(not run.ok for run in level.runs)
        cells = []
        for label, *_ in PAGES:
            times = _times(level, label)
            cells.append(f"{statistics.median(times):.2f} / {percentile(times, 0.95):.2f} s" if times else "—")
        overall = f"{percentile(runs, 0.95):.2f} s" if runs else "—"
        first = f"{statistics.median(level.first):.2f} / {max(level.first):.2f} s" if level.first else "—"
        print(
            f"| {level.sessions} | {len(runs)} | {cells[0]} | {cells[1]} | {overall} | {first} | {errors} | "
            f"{level.rss_peak_mb:,.0f} MB | {level.server_cpu:.1f} s in {level.wall:.1f} s |"
        )
    print()
    print(f"server memory after its warm-up, before the first session: {rss_idle:,.0f} MB")
    for level in levels:
        print(
            f"{level.sessions} sessions: client CPU {level.client_cpu:.1f} s (the load generator's share of the "
            "cores); "
            f"server memory at the end {level.rss_end_mb:,.0f} MB"
        )
        for run in [run for run in level.runs if not run.ok][:3]:
            print(f"  error ({run.page}): {run.why}")
    at20 = next((level for level in levels if level.sessions == 20), None)
    if at20 is not None:
        runs = [run.seconds for run in at20.runs if run.ok]
        if runs:
            verdict = "met" if percentile(runs, 0.95) < TARGET_P95 else "NOT met"
            print(f"goal p95 < {TARGET_P95:.0f} s at 20 sessions: {verdict} ({percentile(runs, 0.95):.2f} s)")


def measure(db: Path, counts: list[int], rounds: int, port: int, workdir: Path) -> None:
    started = time.perf_counter()
    with serving(db, port, workdir) as server:
        pid = server.pid
        rss_idle = rss_mb(pid)
        print(f"server pid {pid} started and warmed up in {time.perf_counter() - started:.1f} s; {rss_idle:,.0f} MB")
        ws_url = f"ws://127.0.0.1:{port}/_stcore/stream"
        levels = []
        for count in counts:
            print(f"{count} sessions × {rounds} rounds of {' + '.join(p[0] for p in PAGES)} …", flush=True)
            levels.append(measure_level(pid, ws_url, count, rounds))
        report(levels, rss_idle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="the warehouse to serve (only read)")
    parser.add_argument("--sessions", default="1,10,20,50", help="session counts, one level each (default 1,10,20,50)")
    parser.add_argument("--rounds", type=int, default=3, help="Overview + Traffic runs per session (default 3)")
    parser.add_argument("--port", type=int, default=None, help="the dashboard's port (default: a free one)")
    args = parser.parse_args()
    db = args.db.expanduser().resolve()
    if not db.is_file():
        sys.exit(f"error: the warehouse {db} does not exist: pass the path of a shopkpi.duckdb with --db")
    try:
        counts = [int(part) for part in args.sessions.split(",")]
    except ValueError:
        sys.exit(f"error: --sessions {args.sessions!r}: give whole numbers separated by commas, e.g. 1,10,20,50")
    if args.rounds < 1 or not counts or min(counts) < 1:
        sys.exit("error: --rounds and every --sessions count must be at least 1")
    # A `kill` of the benchmark must still stop its server: SIGTERM unwinds like Ctrl-C, through the cleanups.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(f"error: stopped by signal {signum}"))
    print(f"dashboard server load benchmark on {db} ({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})")
    try:
        with tempfile.TemporaryDirectory(prefix="shopkpi-server-load-") as workdir:
            measure(db, counts, args.rounds, args.port or free_port(), Path(workdir))
    except RuntimeError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
