"""`shopkpi serve` serves the same dashboard from any working directory: the app.py beside the shopkpi package, with
the repository's .streamlit/config.toml settings on its command line (Streamlit reads that file only from the working
directory). tests/test_install.py serves it from an installed wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from shopkpi.cli import app
from shopkpi.cli import serve as serve_module
from shopkpi.cli.serve import DashboardMissingError, streamlit_command
from shopkpi.settings import DASHBOARD, REPO_ROOT


def test_serve_runs_the_app_beside_the_shopkpi_package():
    command = streamlit_command(port=8765)
    assert command[command.index("run") + 1] == str(DASHBOARD)
    assert DASHBOARD == REPO_ROOT / "app.py" and DASHBOARD.is_file()  # in a checkout, the repository's app.py
    assert command[command.index("--server.port") + 1] == "8765"


def test_serve_passes_every_setting_of_the_repository_streamlit_config():
    # A setting added to .streamlit/config.toml only would hold under `streamlit run` in the repository, not for an
    # installed shopkpi serving from elsewhere.
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    settings = {f"--{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    assert settings  # the file has settings: otherwise this test checks nothing
    command = streamlit_command()
    for flag, value in settings.items():
        assert flag in command, f"{flag} is in .streamlit/config.toml but not passed by shopkpi serve"
        expected = str(value).lower() if isinstance(value, bool) else str(value)
        assert command[command.index(flag) + 1] == expected, flag


def test_serve_without_the_dashboard_says_so_in_one_line(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(serve_module, "DASHBOARD", tmp_path / "app.py")
    result = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "shop.duckdb")])
    assert result.exit_code == 1
    assert "the dashboard is not installed: no app.py in" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not isinstance(result.exception, DashboardMissingError)  # told to the user, not raised as a traceback
