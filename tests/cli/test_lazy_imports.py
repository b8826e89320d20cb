"""A command imports only what it runs on (issue 14): a one-row `shopkpi ingest` into a big warehouse must start in
well under a second, and polars, numpy, pyarrow, plotly, statsmodels and Streamlit would take most of that second.

Each case runs the command in a fresh interpreter (this test process has imported everything long ago) and reads
which of those libraries it left in sys.modules. Not a timing test: a timing on a shared machine cannot fail
honestly, a heavy import can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopkpi.cli.main import LATER_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "polars", "pyarrow", "pandas", "plotly", "statsmodels", "streamlit")

# Runs the command line in process, as the console script does, then prints the exit code and the heavy libraries
# imported on the way.
RUN = f"""
import json, sys
from shopkpi.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print(json.dumps({{"code": code, "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def run(*args: str) -> dict:
    """The exit code and the heavy libraries imported by `shopkpi ARGS` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_order(tmp_path: Path) -> Path:
    path = tmp_path / "one_order.csv"
    path.write_text("order_id,ordered_at,status\nLAZY-1,2024-06-30 12:00,paid\n")
    return path


def test_a_one_row_ingest_into_a_warehouse_imports_no_heavy_library(demo_copy, tmp_path):
    # The case of issue 14: one order into a warehouse that has its rollups (the load refreshes them by SQL).
    assert run("ingest", "orders", str(one_order(tmp_path)), "--db", str(demo_copy)) == {"code": 0, "heavy": []}


def test_a_first_ingest_builds_the_rollups_without_a_heavy_library(tmp_path):
    # A new warehouse's first load also builds the rollups (metrics/rollups.py): still SQL only.
    db = tmp_path / "new.duckdb"
    assert run("ingest", "orders", str(one_order(tmp_path)), "--db", str(db)) == {"code": 0, "heavy": []}
    assert db.exists()


@pytest.mark.parametrize("command", ["ingest", "import", "demo", "upgrade", "serve", "export-lake", "users"])
def test_starting_a_command_that_computes_no_frame_imports_no_heavy_library(command):
    # The loads, the server and the accounts never make a polars frame: their start (here, their help) imports none
    # of the libraries, whichever other commands exist beside them.
    assert run(command, "--help") == {"code": 0, "heavy": []}


def test_the_help_imports_only_what_the_commands_modules_need():
    # `shopkpi --help` lists every command with its help text, so it imports every command's module: those that
    # compute frames (kpis, forecast, report) import polars and numpy, and none imports the charts, the forecast
    # models or the dashboard before it runs. The first assertion also shows the check is not blind.
    heavy = run("--help")["heavy"]
    assert "polars" in heavy
    assert not {"plotly", "statsmodels", "streamlit", "pyarrow", "pandas"} & set(heavy)


def test_the_help_lists_every_command_with_its_help_text():
    done = subprocess.run(
        [sys.executable, "-m", "shopkpi", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    listed = {line.strip("│ ").split(" ", 1)[0]: line for line in done.stdout.splitlines() if line.startswith("│ ")}
    for name in ("ingest", "demo", "serve", "upgrade", *LATER_COMMANDS):
        assert name in listed, f"`shopkpi --help` does not list {name}"
    assert "Load export files into one canonical table" in listed["ingest"]
    assert "The monthly P&L statement" in listed["pnl"]  # a command imported only when the help lists it
    assert "Dashboard accounts and their roles" in listed["users"]  # a group of subcommands, likewise


def test_the_metrics_package_gives_its_functions_whatever_was_imported_first():
    # metrics/__init__ imports the cohorts and the P&L on first use; `funnel` is both a function of the package and
    # a module of it, and a load imports the module (metrics.rollups) before a page asks the package for the function.
    code = (
        "import sys, metrics.rollups, metrics\n"
        f"assert not [m for m in {HEAVY!r} if m in sys.modules], 'metrics imported a heavy library'\n"
        "from metrics import funnel, pnl_lines, cohort_retention, Target\n"
        "assert callable(funnel) and not isinstance(funnel, type(sys)), funnel\n"
        "assert pnl_lines.__module__ == 'metrics.pnl' and cohort_retention.__module__ == 'metrics.cohorts'\n"
        "assert 'polars' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError):
        import metrics

        metrics.no_such_metric  # noqa: B018
