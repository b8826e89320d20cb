"""The lake on Apache Spark, behind the part of DuckDB's connection that metrics/ uses: `con.sql(query, params=...)`
returning a result with `.pl()` and `.fetchall()`.

metrics/ generates one SQL text, in DuckDB's dialect; here it is transpiled to Spark SQL with sqlglot (each text once
per process), its `$name` parameters become Spark's named parameters (`:name`, values bound by Spark, never put in
the text), and it runs on the lake's tables, registered as temporary views with the warehouse's own column types.
So there is one definition of every metric and two engines that run it.

Spark is optional (`pip install 'shopkpi[spark]'`): this module imports pyspark and sqlglot only when a session is
opened. Every failure a user can cause (no Java, an unreachable master, a lake of another version, a query Spark
refuses) is a SparkError with one line; the JVM's own logging is silenced below errors.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa

from warehouse.lake import DATE_COLUMNS, PARTITION, LakeError, Manifest, read_manifest, table_path
from warehouse.schema import TABLES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# DuckDB types of warehouse.schema → Spark SQL types. Timestamps are in store local time without a zone, as in DuckDB.
SPARK_TYPES = {
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "DATE": "DATE",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
}

# Session settings the metrics' SQL relies on: a TIMESTAMP is one without a time zone (as in DuckDB), and session-time
# functions run in UTC, so that no conversion ever shifts a store-local timestamp.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

# log4j 2 configuration of the driver's JVM: errors only, and none of Spark's start-up banner.
_LOG4J = """\
rootLogger.level = off
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %m%n
"""


_MAX_KEPT = 256  # results a lake connection keeps (the dashboard caches its own too)


class SparkError(LakeError):
    """Spark cannot be started or reached, or refused a query: one line for the user."""


# --- the session -----------------------------------------------------------------------------------------------


def java_missing() -> bool:
    """True when there is no Java for Spark: neither JAVA_HOME/bin/java nor `java` on the PATH (as spark-submit
    looks)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return not os.access(Path(home) / "bin" / "java", os.X_OK)
    return shutil.which("java") is None


def _check_reachable(master: str) -> None:
    """Refuses a spark:// or sc:// master that does not accept connections, before a JVM waits a minute for it."""
    url = urlparse(master)
    if url.scheme not in ("spark", "sc"):
        return
    default_port = 15002 if url.scheme == "sc" else 7077
    for host_port in url.netloc.split(","):  # spark://h1:7077,h2:7077 lists standby masters
        host, _, port = host_port.partition(":")
        try:
            with socket.create_connection((host, int(port or default_port)), timeout=5):
                return
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    raise SparkError(f"cannot reach the Spark master at {master} ({reason}): check spark_master (SHOPKPI_SPARK_MASTER)")


def start_session(master: str = "local[*]", app_name: str = "shopkpi") -> SparkSession:
    """The Spark session of this process on `master` (local[N], spark://host:port, or a Spark Connect sc:// URL),
    started once and shared (Spark allows one per process)."""
    if not master.startswith("sc://") and java_missing():
        raise SparkError("Spark needs Java 17 or later and none was found: install a JDK or set JAVA_HOME")
    _check_reachable(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkError("Spark is not installed: pip install 'shopkpi[spark]'") from None
    builder = SparkSession.builder.appName(app_name)
    if master.startswith("sc://"):
        missing = _connect_client_missing()
        if missing:
            raise SparkError(f"Spark Connect needs more packages (no {missing}): pip install 'pyspark[connect]'")
        builder = builder.remote(master)
    else:
        log4j = Path(tempfile.gettempdir()) / "shopkpi-spark-log4j2.properties"
        log4j.write_text(_LOG4J, encoding="utf-8")
        builder = (
            builder.master(master)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
        )
        if master.startswith("local"):
            # One machine: a few shuffle partitions per core rather than a cluster's 200 (each a task to schedule).
            builder = builder.config("spark.sql.shuffle.partitions", str(2 * _local_cores(master)))
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    try:
        with _quiet_stderr():
            session = builder.getOrCreate()
    except ImportError as exc:  # Spark Connect's client needs grpcio and friends
        raise SparkError(f"Spark Connect needs more packages ({exc.name}): pip install 'pyspark[connect]'") from None
    except Exception as exc:  # noqa: BLE001 - py4j and pyspark raise many kinds; the user gets one line
        raise SparkError(f"cannot start Spark on {master}: {_first_line(exc)}") from None
    for key, value in SESSION_CONF.items():  # a session that was already running keeps its own otherwise
        session.conf.set(key, value)
    return session


def _connect_client_missing() -> str | None:
    """The first Python package Spark Connect's client needs that is not installed, or None. (pyspark itself ends the
    process with exit code 0 when one is missing, as if all went well.)"""
    for module in ("grpc", "grpc_status", "google.rpc", "zstandard", "pandas"):
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # its parent package is missing
            found = None
        if found is None:
            return module
    return None


def _local_cores(master: str) -> int:
    """The cores a local[N] / local[*] master uses."""
    inside = master.partition("[")[2].partition("]")[0].split(",")[0]
    return int(inside) if inside.isdigit() else os.cpu_count() or 2


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Keeps what the launcher script prints on the file descriptor 2 (e.g. a missing JAVA_HOME) off the user's
    screen; the error itself is raised."""
    try:
        fd = 2
        saved = os.dup(fd)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # pyspark's errors start with "[ERROR_CLASS] message"; a JVM error's first line names the Java exception.
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# --- the connection --------------------------------------------------------------------------------------------


def table_schema(name: str) -> str:
    """The Spark schema (DDL) of one table as written in the lake: the warehouse's columns, then the month folder's
    column for a dated table."""
    columns = [f"{c.name} {SPARK_TYPES.get(c.type, c.type)}" for c in TABLES[name].columns]
    if name in DATE_COLUMNS:
        columns.append(f"{PARTITION} STRING")
    return ", ".join(columns)


@lru_cache(maxsize=256)
def to_spark_sql(query: str) -> str:
    """A DuckDB query of metrics/ as Spark SQL (`$name` parameters become `:name`).

    DuckDB's `/` divides as DOUBLE whatever the operands; Spark's keeps a DECIMAL operand's type and rounds to 6
    places (`seconds / 3600.0` is 0.583333 there, 0.5833333333333334 in DuckDB), so each dividend is cast to DOUBLE.
    """
    import sqlglot
    from sqlglot import exp

    def as_duckdb_divides(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div):
            node.set("this", exp.cast(node.this, exp.DataType.build("DOUBLE")))
        return node

    try:
        tree = sqlglot.parse_one(query, read="duckdb")
        return tree.transform(as_duckdb_divides).sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise SparkError(f"the query cannot run on Spark: {_first_line(exc)}") from None


def _bound(value: object) -> object:
    # A naive datetime is store-local time: bound as TIMESTAMP_NTZ text, never converted through a time zone.
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return value


def _typed_parameters(spark_sql: str, params: Mapping[str, Any]) -> str:
    """The Spark SQL with each datetime parameter read as TIMESTAMP_NTZ (its value is bound as ISO text)."""
    import sqlglot
    from sqlglot import exp

    names = {name for name, value in params.items() if isinstance(value, datetime)}
    if not names:
        return spark_sql
    tree = sqlglot.parse_one(spark_sql, read="spark")

    def typed(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in names:
            return exp.cast(node.copy(), exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
        return node

    return tree.transform(typed).sql(dialect="spark")


@lru_cache(maxsize=256)
def _prepared(query: str, datetime_names: frozenset[str]) -> str:
    spark_sql = to_spark_sql(query)
    return _typed_parameters(spark_sql, {name: datetime.min for name in datetime_names})


class SparkResult:
    """The rows of one query, fetched from Spark when first asked for, as DuckDB's relation gives them."""

    def __init__(self, fetch: Callable[[], pa.Table]) -> None:
        self._fetch = fetch

    def arrow(self) -> pa.Table:
        """The rows as an Arrow table (DECIMAL stays decimal, dates stay dates)."""
        return self._fetch()

    def pl(self) -> pl.DataFrame:
        """The rows as a polars frame."""
        return pl.from_arrow(self.arrow())

    def fetchall(self) -> list[tuple]:
        """The rows as tuples of Python values."""
        table = self.arrow()
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _own_session(session: SparkSession) -> SparkSession:
    """A session of its own on the same Spark (its own temporary views, so that two lakes open in one process do not
    see each other's tables), with the given session's SQL settings."""
    try:
        own = session.newSession()
    except Exception:  # noqa: BLE001 - Spark Connect may not offer one: then the views are the session's
        return session
    for key, value in session.conf.getAll.items():
        with contextlib.suppress(Exception):  # static settings are the shared context's already
            own.conf.set(key, value)
    return own


class SparkWarehouse:
    """A read-only connection to a lake on Spark, answering the queries metrics/ generates.

    The lake does not change under a connection (a new export is a new folder, renamed into place), so the rows of
    a query and its parameters are kept and asked of Spark once: metrics/ asks the same small questions (the data's
    span, which inputs the shop gave) before every KPI query.
    """

    engine = "spark"

    def __init__(self, session: SparkSession, lake: Path, master: str | None = None) -> None:
        self.session = _own_session(session)
        self.lake = Path(lake)
        self.master = master or _master_of(session)
        self.manifest: Manifest = read_manifest(self.lake)
        self._results: dict[tuple, pa.Table] = {}
        self._register_views()

    def _register_views(self) -> None:
        # Each canonical table is a temporary view of its Parquet folder with the warehouse's columns only (the
        # month folder's column is for pruning, not for the metrics); an explicit schema also reads an empty table.
        for name, table in TABLES.items():
            path = str(table_path(self.lake, name).resolve())
            try:
                frame = self.session.read.schema(table_schema(name)).parquet(path)
                frame.select(*[c.name for c in table.columns]).createOrReplaceTempView(name)
            except Exception as exc:  # noqa: BLE001 - a JVM error becomes one line
                raise SparkError(f"Spark cannot read the lake's {name} at {path}: {_first_line(exc)}") from None
        stores = [list(row) for row in self.manifest.stores]
        schema = "store string, platform string, currency string"
        self.session.createDataFrame(stores, schema).createOrReplaceTempView("stores")

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> SparkResult:
        """The result of a DuckDB query of metrics/ run on Spark, its `$name` parameters bound to `params`."""
        params = dict(params or {})
        datetimes = frozenset(name for name, value in params.items() if isinstance(value, datetime))
        spark_sql = _prepared(query, datetimes)
        args = {name: _bound(value) for name, value in params.items()}
        key = (query, tuple(sorted((name, type(value).__name__, repr(value)) for name, value in args.items())))

        def fetch() -> pa.Table:
            if key not in self._results:
                if len(self._results) >= _MAX_KEPT:  # a dashboard asks for ever new periods: keep the recent ones
                    self._results.clear()
                try:
                    self._results[key] = self.session.sql(spark_sql, args=args or None).toArrow()
                except Exception as exc:  # noqa: BLE001 - a JVM error becomes one line
                    raise SparkError(f"Spark could not run the query: {_first_line(exc)}") from None
            return self._results[key]

        return SparkResult(fetch)

    def describe(self) -> str:
        """Which engine answers, for a caption or a report: 'Spark (local[2]) from the lake at PATH, exported TIME'."""
        exported = self.manifest.written_at.replace("T", " ").replace("+00:00", " UTC")
        return f"Spark ({self.master}) from the lake at {self.lake}, exported {exported}"

    def close(self) -> None:
        """Forgets the kept results and drops the lake's views; the session stays for the process's next use."""
        self._results.clear()
        for name in TABLES:
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(name)


def _master_of(session: SparkSession) -> str:
    try:
        return session.conf.get("spark.master")
    except Exception:  # noqa: BLE001 - Spark Connect does not tell its server's master
        return "Spark Connect"


def connect_lake(lake: Path, master: str = "local[*]") -> SparkWarehouse:
    """A Spark connection to the lake at `lake`: the lake is checked first (no JVM is started for a wrong path)."""
    read_manifest(lake)
    return SparkWarehouse(start_session(master), lake, master)


__all__ = [
    "SESSION_CONF",
    "SparkError",
    "SparkResult",
    "SparkWarehouse",
    "connect_lake",
    "java_missing",
    "start_session",
    "table_schema",
    "to_spark_sql",
]
