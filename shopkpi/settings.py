"""Configuration in one place: defaults, then an optional `shopkpi.toml`, then environment variables.

Store facts that describe the data (time zone, currency) are written into the warehouse when it is created,
so that every reader of one warehouse agrees on them; the values here only seed a new warehouse.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

# app.py and the pages/ package sit beside the shopkpi package: in the repository (a checkout or the editable install)
# and in site-packages (an installed wheel, where app is a top-level module). Found from this file rather than with
# importlib: a user's own app.py or pages/ in the working directory would shadow the names `app` and `pages`.
DASHBOARD_DIR = Path(__file__).resolve().parent.parent
DASHBOARD = DASHBOARD_DIR / "app.py"
# The repository's root, for the tests and benchmarks, which run from a checkout only (the wheel ships neither).
REPO_ROOT = DASHBOARD_DIR
DEFAULT_DB = Path("data") / "shopkpi.duckdb"


@dataclass(frozen=True)
class Settings:
    """The settings in force for one command or one dashboard process."""

    db_path: Path = DEFAULT_DB
    timezone: str = "UTC"
    currency: str = "CNY"
    targets_path: Path | None = None
    calendar_path: Path | None = None  # the promotion calendar of forecasts and alerts; None: metrics/calendar.toml
    upload_dir: Path = Path("data") / "uploads"
    upload_limit_mb: int = 200
    # Sign-in (shopkpi/auth.py): the users file lives outside the repository; without it the dashboard runs open.
    users_path: Path = Path("~/.config/shopkpi/users.toml")
    session_hours: float = 12.0
    require_login: bool = False  # set by `shopkpi serve --require-login`: never run open, even if the file goes
    extra: dict = field(default_factory=dict)


def _config_file() -> Path | None:
    explicit = os.environ.get("SHOPKPI_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("shopkpi.toml")
    return local if local.exists() else None


def load_settings(db_path: str | os.PathLike | None = None) -> Settings:
    """The settings for this process: an explicit `db_path` wins over `SHOPKPI_DB`, which wins over the file."""
    values: dict = {}
    path = _config_file()
    if path is not None:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    env = {
        "db_path": os.environ.get("SHOPKPI_DB"),
        "timezone": os.environ.get("SHOPKPI_TIMEZONE"),
        "currency": os.environ.get("SHOPKPI_CURRENCY"),
        "targets_path": os.environ.get("SHOPKPI_TARGETS"),
        "calendar_path": os.environ.get("SHOPKPI_CALENDAR"),
        "upload_dir": os.environ.get("SHOPKPI_UPLOAD_DIR"),
        "upload_limit_mb": os.environ.get("SHOPKPI_UPLOAD_LIMIT_MB"),
        "users_path": os.environ.get("SHOPKPI_USERS"),
        "session_hours": os.environ.get("SHOPKPI_SESSION_HOURS"),
        "require_login": os.environ.get("SHOPKPI_REQUIRE_LOGIN"),
    }
    values.update({key: value for key, value in env.items() if value})
    if db_path is not None:
        values["db_path"] = db_path
    known = {name for name in Settings.__dataclass_fields__ if name != "extra"}
    extra = {key: value for key, value in values.items() if key not in known}
    kwargs = {key: value for key, value in values.items() if key in known}
    for key in ("db_path", "targets_path", "upload_dir", "users_path"):
        if kwargs.get(key) is not None:
            kwargs[key] = Path(kwargs[key])
    if "calendar_path" in kwargs:  # an empty calendar_path means the packaged calendar
        kwargs["calendar_path"] = Path(kwargs["calendar_path"]) if kwargs["calendar_path"] else None
    if "upload_limit_mb" in kwargs:
        kwargs["upload_limit_mb"] = int(kwargs["upload_limit_mb"])
    if "session_hours" in kwargs:
        kwargs["session_hours"] = float(kwargs["session_hours"])
    if "require_login" in kwargs:
        kwargs["require_login"] = str(kwargs["require_login"]).strip().lower() in ("1", "true", "yes", "on")
    if "users_path" in kwargs:
        kwargs["users_path"] = kwargs["users_path"].expanduser()
    return Settings(**kwargs, extra=extra)
