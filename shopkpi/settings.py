"""Configuration in one place: defaults, then an optional `shopkpi.toml`, then environment variables.

Store facts that describe the data (time zone, currency) are written into the warehouse when it is created,
so that every reader of one warehouse agrees on them; the values here only seed a new warehouse.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest import Limits

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
    # The budget of every load, `shopkpi ingest`, `shopkpi import` and uploads alike (pipelines/ingest/limits.py).
    max_file_mb: int = Limits.max_file_mb  # text of one file once decompressed (.gz, XLSX parts)
    max_rows: int = Limits.max_rows
    max_line_mb: int = Limits.max_line_mb  # one line, record or JSON object
    max_columns: int = Limits.max_columns
    max_xlsx_strings: int = Limits.max_xlsx_strings
    memory_mb: int = Limits.memory_mb  # DuckDB's memory during a load
    # Sign-in (shopkpi/auth.py): the users file lives outside the repository; without it the dashboard runs open.
    users_path: Path = Path("~/.config/shopkpi/users.toml")
    session_hours: float = 12.0
    require_login: bool = False  # set by `shopkpi serve --require-login`: never run open, even if the file goes
    # The engine that answers metric queries: "duckdb" (the warehouse file) or "spark" (the lake at lake_path, written
    # by `shopkpi export-lake`, on spark_master: local[N], spark://host:port or a Spark Connect sc://host:port URL).
    engine: str = "duckdb"
    spark_master: str = "local[*]"
    lake_path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def limits(self) -> Limits:
        """The load budget these settings give."""
        return Limits(**{name: getattr(self, name) for name in _LIMITS})


_LIMITS = ("max_file_mb", "max_rows", "max_line_mb", "max_columns", "max_xlsx_strings", "memory_mb")


class SettingsError(ValueError):
    """A setting that cannot be used, in one line: which setting, where it is set, what is wrong."""


def _positive_int(name: str, value: object) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise SettingsError(f"{name} must be a whole number above 0 (shopkpi.toml, SHOPKPI_{name.upper()}): {value!r}")
    return number


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
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read the settings file {path}: {exc}") from None
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
        "engine": os.environ.get("SHOPKPI_ENGINE"),
        "spark_master": os.environ.get("SHOPKPI_SPARK_MASTER"),
        "lake_path": os.environ.get("SHOPKPI_LAKE"),
        **{name: os.environ.get(f"SHOPKPI_{name.upper()}") for name in _LIMITS},
    }
    values.update({key: value for key, value in env.items() if value})
    if db_path is not None:
        values["db_path"] = db_path
    known = {name for name in Settings.__dataclass_fields__ if name != "extra"}
    extra = {key: value for key, value in values.items() if key not in known}
    kwargs = {key: value for key, value in values.items() if key in known}
    for key in ("db_path", "targets_path", "upload_dir", "users_path", "lake_path"):
        if kwargs.get(key) is not None:
            kwargs[key] = Path(kwargs[key])
    if "calendar_path" in kwargs:  # an empty calendar_path means the packaged calendar
        kwargs["calendar_path"] = Path(kwargs["calendar_path"]) if kwargs["calendar_path"] else None
    for name in ("upload_limit_mb", *_LIMITS):
        if name in kwargs:
            kwargs[name] = _positive_int(name, kwargs[name])
    if "session_hours" in kwargs:
        try:
            kwargs["session_hours"] = float(kwargs["session_hours"])
        except (TypeError, ValueError):
            raise SettingsError(
                "session_hours must be a number of hours (shopkpi.toml, SHOPKPI_SESSION_HOURS): "
                f"{kwargs['session_hours']!r}"
            ) from None
    if "require_login" in kwargs:
        kwargs["require_login"] = str(kwargs["require_login"]).strip().lower() in ("1", "true", "yes", "on")
    if "users_path" in kwargs:
        kwargs["users_path"] = kwargs["users_path"].expanduser()
    return Settings(**kwargs, extra=extra)
