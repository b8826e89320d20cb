"""`shopkpi serve`: run the Streamlit dashboard (app.py) on one warehouse, in the foreground.

This module only starts the server process (shopkpi/ui/server.py) and waits for it, so the command line imports no
Streamlit. app.py is the one installed beside the shopkpi package (shopkpi.settings.DASHBOARD), and every setting the
dashboard needs is passed on the command line: the repository's .streamlit/config.toml is read only when Streamlit
starts in the repository's root, and an installed shopkpi must serve the same dashboard from any working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from shopkpi import auth
from shopkpi.settings import DASHBOARD, load_settings


def streamlit_command(port: int = 8501, headless: bool = True) -> list[str]:
    """The command line that serves app.py with this Python's Streamlit, through shopkpi.ui.server (which imports the
    dashboard's modules before the server listens and warms its caches in the background)."""
    return [
        sys.executable,
        "-m",
        "shopkpi.ui.server",
        "run",
        str(DASHBOARD),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        # No "Deploy" button: this is a shop's own dashboard.
        "--client.toolbarMode",
        "minimal",
        # Users see the error's type and message, never a stack trace.
        "--client.showErrorDetails",
        "type",
        # No full garbage collection after every page run: with DuckDB, polars and statsmodels loaded it took
        # ~90 ms, holding the GIL while the next visitor's page waited (Python's own collector still runs).
        "--runner.postScriptGC",
        "false",
        # No watch on the source files: a served dashboard never reloads on an edit, and every new browser session
        # would otherwise read and hash each of shopkpi's ~60 modules to register them with the watcher.
        "--server.fileWatcherType",
        "none",
        # No "magic": Streamlit would ast.parse every page script to rewrite bare expressions (the dashboard has
        # none), and on CPython 3.11 an ast.parse racing with another thread's (the warm-up's libraries) fails one of
        # them with "AST constructor recursion depth mismatch". Without magic a script is compiled from its text only.
        "--runner.magicEnabled",
        "false",
    ]


class LoginRequiredError(Exception):
    """`--require-login` without a users file holding at least one user: the dashboard would run open."""


class DashboardMissingError(Exception):
    """app.py is not beside the shopkpi package: an install without the dashboard."""


def check_login_possible() -> Path:
    """The users file, when it holds at least one user; else raises LoginRequiredError with a one-line message."""
    path = load_settings().users_path.expanduser()
    try:
        users = auth.load_users(path)
    except auth.AuthError as error:
        raise LoginRequiredError(f"--require-login: {error}") from error
    if not users:
        raise LoginRequiredError(
            f"--require-login: no users in {path}; create one with `shopkpi users add NAME --role admin` "
            "(or set SHOPKPI_USERS to your users file)"
        )
    return path


def serve(db_path: Path, port: int = 8501, headless: bool = True, require_login: bool = False) -> int:
    """Serve the dashboard on `db_path` until it is stopped; returns Streamlit's exit code.

    With `require_login`, refuses to start (LoginRequiredError) unless the users file has a user, and tells the
    dashboard never to run open, even if the file disappears later. Refuses (DashboardMissingError) when app.py is not
    installed, rather than let Streamlit start and print its own error.
    """
    if not DASHBOARD.is_file():
        raise DashboardMissingError(
            f"the dashboard is not installed: no {DASHBOARD.name} in {DASHBOARD.parent}; reinstall shopkpi "
            "(`pip install shopkpi`, or `pip install -e .` in a checkout)"
        )
    env = {**os.environ, "SHOPKPI_DB": str(Path(db_path).expanduser().resolve())}
    # One BLAS thread per forecast fit: on a small server, two threads mostly wait on each other (the Forecast page's
    # default view: 1.20 s with the default, 0.86 s with one thread, on 2 cores), and visitors run in parallel anyway.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    if require_login:
        env["SHOPKPI_USERS"] = str(check_login_possible())
        env["SHOPKPI_REQUIRE_LOGIN"] = "1"
    process = subprocess.Popen(streamlit_command(port, headless), env=env)
    # `kill <pid of shopkpi serve>` must not leave an orphaned server holding the port: pass SIGTERM on.
    forwarding = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: process.send_signal(signum)) if forwarding else None
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches Streamlit too (same process group); give it time to shut down cleanly.
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    finally:
        if forwarding:
            signal.signal(signal.SIGTERM, previous)
