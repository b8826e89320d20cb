"""shopkpi as `pip install` gives it: the wheel is built, installed (not editable) into a fresh venv, and the README's
commands run from that install, in a working directory outside the repository.

Installing the dependencies from an index would take minutes, so the fresh venv sees this venv's third-party packages
through a `.pth` file naming this venv's site-packages. A path line in a .pth file only adds that folder to sys.path:
the .pth files inside it are not processed, so this venv's editable finder (which maps `shopkpi`, `metrics`, … to the
repository) is not loaded there, and every module of ours comes from the wheel; test_the_install_runs_its_own_copy
checks exactly that.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
PIP = (sys.executable, "-m", "pip")
PACKAGES = ("warehouse", "pipelines", "metrics", "shopkpi", "pages")  # and app.py, a top-level module
OUR_MODULES = ("shopkpi", "shopkpi.cli", "warehouse", "pipelines", "pipelines.adapters", "metrics", "pages", "app")
# Not sources: caches, build output, the virtualenv, local warehouses, secrets (.streamlit/secrets.toml).
NOT_COPIED = {"__pycache__", "build", "dist", ".pytest_cache"}
NOT_COPIED_AT_ROOT = {"data", "test-artifacts"}

# A UCI Online Retail export in miniature. 536367's only line has Quantity 0: rejected, so that invoice is no order;
# C536379 is a credit note (a cancelled order); 536366 has no CustomerID (a guest order).
ONLINE_RETAIL_CSV = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,0,2010-12-01 08:34:00,1.69,13047.0,France
C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41:00,3.39,17850.0,United Kingdom
"""


def _not_sources(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n in NOT_COPIED or n.endswith((".egg-info", ".pyc"))}
    if Path(directory) == ROOT:  # .git, .venv, .streamlit, caches; data/ and test artifacts
        ignored |= {n for n in names if n.startswith(".") or n in NOT_COPIED_AT_ROOT}
    return ignored


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree's sources: building in the repository would leave build/ behind, and setuptools
    would ship whatever a stale build/ still holds (e.g. a module since deleted)."""
    copy = tmp_path_factory.mktemp("source") / "shopkpi"
    shutil.copytree(ROOT, copy, ignore=_not_sources)
    return copy


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # This venv's setuptools (the [test] extra pins one that reads pyproject.toml), without downloading anything.
    build = subprocess.run(
        [*PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", out, source],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = out.glob("shopkpi-*.whl")
    return built


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPKPI_")}
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["SHOPKPI_USERS"] = str(home / "users.toml")  # no users file: the dashboard runs open, whatever ~/.config holds
    return env


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed, seeing this venv's third-party packages (see the module docstring)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=60)
    python = venv / "bin" / "python"
    # The wheel first, the .pth after: pip must not see this venv's (editable) shopkpi as already installed.
    install = subprocess.run(
        [*PIP, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()
    Path(purelib, "this_venv_packages.pth").write_text(f"{ours['purelib']}\n{ours['platlib']}\n")
    return venv


@pytest.fixture(scope="module")
def workdir(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory outside the repository, holding the demo shop `shopkpi demo` made from the install."""
    work = tmp_path_factory.mktemp("work")
    demo = shopkpi(venv, work, "demo", "--no-serve", "--days", "60", timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "loaded in" in demo.stdout, demo.stdout
    assert (work / "data" / "shopkpi.duckdb").is_file()
    return work


def shopkpi(venv: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [venv / "bin" / "shopkpi", *args]
    env = _clean_env(cwd)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_ships_every_module_and_data_file_and_no_tests(wheel: Path, source: Path):
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if ".dist-info/" not in name}
    expected = {"app.py"} | {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    assert {"shopkpi/reports/templates/report.html.j2", "metrics/targets.toml", "pages/overview.py"} <= expected
    assert not expected - shipped, f"missing from the wheel: {sorted(expected - shipped)}"
    assert not shipped - expected, (
        f"in the wheel but not a source of {PACKAGES} or app.py: {sorted(shipped - expected)}"
    )


def test_the_install_runs_its_own_copy_not_the_repository(venv: Path, tmp_path: Path):
    probe = """
import importlib.util, json, sys
from shopkpi.cli.serve import streamlit_command
from shopkpi.settings import DASHBOARD
names = sys.argv[1:] + ["streamlit", "duckdb"]
print(json.dumps({
    "origins": {name: importlib.util.find_spec(name).origin for name in names},
    "editable_finders": [repr(finder) for finder in sys.meta_path if "editable" in repr(finder).lower()],
    "sys_path": sys.path,
    "dashboard": str(DASHBOARD),
    "command": streamlit_command(),
}))
"""
    run = subprocess.run(
        [venv / "bin" / "python", "-c", probe, *OUR_MODULES],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    site_packages = next(venv.glob("lib/python3.*/site-packages")).resolve()
    for name in OUR_MODULES:
        origin = Path(found["origins"][name]).resolve()
        assert origin.is_relative_to(site_packages), f"{name} imported from {origin}, not from the install"
    # The third-party packages come from this venv, through the .pth file; its editable finder is not loaded.
    ours = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(found["origins"]["streamlit"]).resolve().is_relative_to(ours)
    assert found["editable_finders"] == []
    assert str(ROOT) not in found["sys_path"]
    # `shopkpi serve` runs the installed dashboard.
    assert Path(found["dashboard"]) == site_packages / "app.py"
    assert found["dashboard"] in found["command"]


def test_report_writes_a_pdf_from_the_install(venv: Path, workdir: Path):
    run = shopkpi(venv, workdir, "report", "--period", "monthly", "--format", "pdf", "--out", "report.pdf")
    assert run.returncode == 0, run.stdout + run.stderr
    pdf = workdir / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Net sales" in text, text[:500]  # the report's template and registry labels were found in the install


def test_import_online_retail_from_the_install(venv: Path, workdir: Path):
    export = workdir / "online-retail.csv"
    export.write_text(ONLINE_RETAIL_CSV)
    run = shopkpi(venv, workdir, "import", "online-retail", export.name, "--db", "retail.duckdb")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "order_items: 5 lines read = 4 inserted" in run.stdout, run.stdout
    with duckdb.connect(str(workdir / "retail.duckdb"), read_only=True) as con:
        orders = con.sql("select order_id, status, customer_id from orders order by order_id").fetchall()
    assert orders == [
        ("536365", "delivered", "17850"),
        ("536366", "delivered", None),
        ("C536379", "cancelled", "17850"),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_serve_from_the_install_answers_and_warms_every_page(venv: Path, workdir: Path):
    port = _free_port()
    log = workdir / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [venv / "bin" / "shopkpi", "serve", "--port", str(port)],
            cwd=workdir,
            env=_clean_env(workdir),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while health != "ok":
            assert server.poll() is None, f"shopkpi serve exited with {server.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no /_stcore/health within 60 s:\n{log.read_text()}"
            time.sleep(0.25)
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):  # not listening yet
                health = _get(f"{url}/_stcore/health")[1].strip()
        status, page = _get(url)
        assert status == 200 and '<div id="root">' in page
        # The server warms every page's default view at start (shopkpi/ui/warmup.py): the installed pages ran their
        # queries on the demo shop.
        while "warm-up done" not in log.read_text():
            assert "warm-up of" not in log.read_text(), log.read_text()  # "warm-up of … failed"
            assert time.monotonic() < deadline, f"no warm-up within 60 s:\n{log.read_text()}"
            time.sleep(0.25)
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)  # shopkpi serve passes it on to Streamlit
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
