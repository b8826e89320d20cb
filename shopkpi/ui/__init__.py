"""Streamlit glue shared by all pages: the cached warehouse reader, cached query results, and empty states.

The only module that uses `st.cache_resource` / `st.cache_data`. A page calls `load(metrics_function, *args)` and
renders what comes back. Results are cached per warehouse version, so a page shows an ingest's rows on its next run
after the writer has published the new file, without a restart (SPEC §3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import streamlit as st

from metrics.compute import traffic_cut, traffic_gaps
from metrics.currency import is_money_figure, mixed_currencies, mixed_reason
from metrics.engines import on_either_engine
from metrics.forecast import Event, load_calendar
from metrics.inputs import missing_inputs, reads_sessions, session_input_note, session_stores, unknown
from metrics.periods import Coverage, Period, data_span, latest_date
from metrics.presets import COMPARISONS, DEFAULT_COMPARISON, DEFAULT_PRESET, PRESETS, comparison_period, preset_period
from metrics.registry import DIMENSION_LABELS, METRICS
from metrics.registry import label as registry_label
from metrics.segments import ALL, Segment, segment_options
from metrics.targets import Target, TargetsError, load_targets, replenish_window
from shopkpi import auth
from shopkpi.reports.cells import csv_bytes
from shopkpi.settings import load_settings
from shopkpi.ui import signin
from shopkpi.ui.i18n import LANGUAGES, lang, md, t
from warehouse import Reader, WarehouseError
from warehouse.lake import MANIFEST, LakeError, Manifest, read_manifest

if TYPE_CHECKING:  # pages/ imports this module; only the type is needed here
    from pages import Page
    from warehouse.spark import SparkWarehouse

T = TypeVar("T")

log = logging.getLogger("shopkpi.dashboard")

NO_DATA = "No data yet: run `shopkpi demo` or `shopkpi ingest …`"
NO_DATA_ZH = "还没有数据：请运行 `shopkpi demo` 或 `shopkpi ingest …`"

# Each warehouse version adds one entry per query; old versions are never asked for again, so a bound is enough.
_MAX_CACHED_RESULTS = 256


def db_path() -> Path:
    """The absolute path of the warehouse this dashboard reads (settings: `--db`, `SHOPKPI_DB`, shopkpi.toml)."""
    return load_settings().db_path.expanduser().resolve()


@st.cache_resource(show_spinner=False)
def _reader(path: str) -> Reader:
    # One Reader per warehouse path and process; it is thread-safe and hands each query its own cursor.
    return Reader(Path(path))


def reader() -> Reader:
    """The process-wide reader of the configured warehouse."""
    return _reader(str(db_path()))


def has_warehouse() -> bool:
    """Whether a warehouse file has been published at the configured path."""
    return reader().version is not None


@st.cache_data(show_spinner=False, max_entries=_MAX_CACHED_RESULTS)
def _cached(
    _query: Callable[..., Any],
    query_name: str,
    path: str,
    version: tuple[int, int, int] | int | None,
    args: tuple,
    segment: tuple[str | None, str | None, str | None] = (None, None, None),
    master: str | None = None,
) -> Any:
    # The key is (query_name, path, version, args, segment, master); `_query` itself is not hashable. `version`
    # changes whenever a writer publishes a new file, so the next run re-queries instead of showing the old result.
    # With a Spark `master`, `path` is the lake's and `version` its export's (the manifest's modification time).
    started = time.perf_counter()
    cursor = _lake(path, master, version) if master else _reader(path).cursor()
    filtered = Segment(*segment)
    try:
        # The filter is an argument of the query (bound parameters of the facts it reads), not state on the cursor.
        return _query(cursor, *args, segment=filtered) if filtered else _query(cursor, *args)
    finally:
        if not master:  # the lake's connection is the process's, kept open
            cursor.close()
        # A cache miss; tests/ui/test_warmup.py counts these to check that the warm-up left none for a default view.
        log.debug("computed %s%r segment=%r in %.3f s", query_name, args, segment, time.perf_counter() - started)


def calendar() -> tuple[Event, ...]:
    """The promotion calendar in force (settings `calendar_path` / SHOPKPI_CALENDAR, else the packaged one), for the
    forecast, alert and stock queries; as one of their arguments it is part of their cache key."""
    return load_calendar(load_settings().calendar_path)


def _explained(path: Path, exc: duckdb.Error) -> WarehouseError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WarehouseError(f"could not read the warehouse at {path}: {first_line}")


def note_answer(query: Callable[..., Any]) -> bool:
    """Notes which engine answers `query` for the page being drawn (its caption says it), and returns whether it is
    Spark (`engine = "spark"` and a query that runs on either engine, metrics/engines.py)."""
    on_spark = load_settings().engine == "spark" and on_either_engine(query)
    answered = _answered.get()
    if answered is not None:
        answered.add(SPARK if on_spark else getattr(query, "func", query).__module__)
    return on_spark


def load(query: Callable[..., T], *args: Any, segment: Segment = ALL) -> T:
    """`query(cursor, *args)` on the newest published warehouse, cached until a writer publishes a new one.

    With a `segment` (other than ALL), `query(cursor, *args, segment=segment)`: the query must take it, as every
    metric function the dashboard filters does, and reads only that source's / device's rows (metrics/segments.py).
    With `engine = "spark"`, a query that runs on either engine (metrics/engines.py) is asked of the lake on Spark.
    Raises WarehouseError (with a message for the user) when there is no warehouse or it cannot be read.
    """
    name = _query_name(query)
    key = (segment.source, segment.device, segment.store)
    on_spark = note_answer(query)
    if on_spark:
        lake_path, master, stamp = _lake_source()
        return _cached(query, name, lake_path, stamp, args, key, master)
    current = reader()
    try:
        return _cached(query, name, str(current.path), current.version, args, key)
    except duckdb.Error as exc:
        raise _explained(current.path, exc) from exc


def quietly(query: Callable[..., T], *args: Any, segment: Segment = ALL) -> T:
    """load() for a question about the warehouse that is not a figure of the page (the filter's choices, whether a
    rollup answers): the page's engine caption does not name it."""
    token = _answered.set(None)
    try:
        return load(query, *args, segment=segment)
    finally:
        _answered.reset(token)


# --- the engine that answers: the DuckDB warehouse, or the lake on Spark (settings `engine`, `lake_path`) ---------

SPARK = "spark"
# What a page shows that stays on the embedded warehouse whatever the engine, by the module of its query.
EMBEDDED_ONLY = {
    "metrics.replenishment": ("stock cover", "库存可售天数"),
    "metrics.stock": ("stock", "库存"),
    "metrics.forecast": ("forecasts", "预测"),
    "metrics.anomalies": ("alerts", "异常预警"),
    "metrics.status": ("the ingest log", "导入记录"),
}
# The engines that answered the page being drawn: SPARK, or the module of a query asked of the warehouse.
_answered: ContextVar[set[str] | None] = ContextVar("shopkpi_answered", default=None)


@st.cache_resource(show_spinner=False, max_entries=4)
def _lake(path: str, master: str, stamp: int) -> SparkWarehouse:
    # One connection per export of the lake (`stamp`); the Spark session under it is started once per process, on the
    # first query asked of it (by the warm-up's thread or a page, never by sign-in), and shared by later exports.
    from warehouse.spark import connect_lake

    return connect_lake(Path(path), master)


def _lake_source() -> tuple[str, str, int]:
    """The configured lake's absolute path, the Spark master, and the modification time of its manifest (a new export
    writes a new one); raises LakeError (one line) when there is no lake there."""
    settings = load_settings()
    if settings.lake_path is None:
        raise LakeError('engine = "spark" reads a lake: set lake_path (shopkpi.toml) or SHOPKPI_LAKE')
    path = settings.lake_path.expanduser().resolve()
    try:
        stamp = (path / MANIFEST).stat().st_mtime_ns
    except OSError:
        read_manifest(path)  # says in one line what is wrong with the folder
        raise
    return str(path), settings.spark_master, stamp


def lake() -> SparkWarehouse | None:
    """The connection to the configured lake on Spark when `engine = "spark"`, else None (the warehouse answers)."""
    return _lake(*_lake_source()) if load_settings().engine == SPARK else None


@st.cache_data(show_spinner=False, max_entries=4)
def _manifest(path: str, stamp: int) -> Manifest:
    return read_manifest(Path(path))


def engine_caption(answered: set[str]) -> None:
    """One quiet line at the foot of a page: which engine computed its figures, and what stayed on the warehouse."""
    if not answered:
        return
    embedded = sorted(
        {EMBEDDED_ONLY.get(_package(m), (_package(m).rpartition(".")[2],) * 2) for m in answered - {SPARK}}
    )
    if SPARK not in answered:
        text = t("Figures computed by DuckDB (embedded warehouse).", "数据由 DuckDB（内置仓库）计算。")
        if load_settings().engine == SPARK:
            text += t(" None of this page's figures runs on Spark.", "本页数据均不在 Spark 上计算。")
        st.caption(text)
        return
    path, master, stamp = _lake_source()
    exported = _manifest(path, stamp).written_at.replace("T", " ").replace("+00:00", " UTC")
    text = t(
        f"Figures computed by Spark ({md(master)}) from the lake at {md(path)}, exported {exported}.",
        f"数据由 Spark（{md(master)}）根据 {md(path)} 的数据湖计算，导出于 {exported}。",
    )
    if embedded:
        text += t(
            f" From the embedded DuckDB warehouse (not run on Spark): {', '.join(en for en, _ in embedded)}.",
            f"以下来自内置 DuckDB 仓库（不在 Spark 上运行）：{'、'.join(zh for _, zh in embedded)}。",
        )
    st.caption(text)


def _package(module: str) -> str:
    # metrics.forecast.models → metrics.forecast: a package's modules share its name in the caption.
    return next((known for known in EMBEDDED_ONLY if module == known or module.startswith(known + ".")), module)


def deferred_csv(query: Callable[..., Any], *args: Any) -> Callable[[], bytes]:
    """A callable for `st.download_button(data=...)` that runs `query(cursor, *args)` on click and returns CSV bytes.

    It runs outside the script thread, so it uses the reader directly rather than the Streamlit cache.
    """
    current = reader()

    def build() -> bytes:
        cursor = current.cursor()
        try:
            return csv_bytes(query(cursor, *args))
        finally:
            cursor.close()

    return build


def no_data_yet() -> None:
    """The empty state of every page when no warehouse exists yet: a sentence saying how to get data."""
    st.info(t(NO_DATA, NO_DATA_ZH), icon=":material/database_off:")
    st.caption(
        t(
            f"Looked for the warehouse at `{db_path()}` (set `SHOPKPI_DB` or `--db` to read another one).",
            f"仓库路径：`{db_path()}`（用 `SHOPKPI_DB` 或 `--db` 指定其他仓库）。",
        )
    )


def empty(message: str) -> None:
    """An empty result shown as a sentence, not as an empty table."""
    st.caption(message)


def warehouse_problem(error: WarehouseError) -> None:
    """A warehouse (or the lake on Spark) that exists but cannot be read, explained in one line, not a traceback."""
    if isinstance(error, LakeError):
        st.error(
            t(f"The lake cannot be read on Spark: {md(error)}", f"无法在 Spark 上读取数据湖：{md(error)}"),
            icon=":material/error:",
        )
        return
    st.error(t(f"The warehouse cannot be read: {md(error)}", f"无法读取仓库：{md(error)}"), icon=":material/error:")


def unreadable() -> WarehouseError | None:
    """Why the published warehouse cannot be read (damaged, not a DuckDB file, …), or None when it can: a page with
    no period to show tells "cannot be read" from "no data yet" with this."""
    try:
        load(latest_date)
    except WarehouseError as error:
        return error
    return None


# --- the shared sidebar: period, comparison, filters and language, kept in the URL --------------------------------

_ALL = ""  # the "all sources / all devices" choice; an empty string keeps it out of the URL


@dataclass(frozen=True)
class View:
    """What every page shows: the period, the period compared with, the segment and the language."""

    period: Period | None  # None: the warehouse has no dated rows yet
    comparison: str
    segment: Segment
    lang: str
    latest: date | None
    first: date | None = None  # the data's first date (None: treat the data as starting with the period)

    @property
    def coverage(self) -> Coverage | None:
        """Which days of the period have data (SPEC §4: a period past the latest date is partial)."""
        if self.period is None or self.latest is None:
            return None
        span = Period(min(self.first or self.period.start, self.latest), self.latest)
        return Coverage(self.period, self.period.covered(span))

    @property
    def shown(self) -> Period | None:
        """The days of the period that have data (the period itself when none has): what series and charts draw."""
        coverage = self.coverage
        return coverage.covered if coverage and coverage.covered else self.period

    @property
    def compared(self) -> Period | None:
        """The period compared with, cut to the same covered days (None when no day of the period has data)."""
        coverage = self.coverage
        if self.period is None or coverage is None:
            return None
        # A period without a day of data is compared whole (its figures are all empty anyway).
        return comparison_period(self.period, self.comparison, coverage.covered) or comparison_period(
            self.period, self.comparison
        )

    def t(self, en: str, zh: str) -> str:
        return zh if self.lang == "zh" else en

    def label(self, name: str) -> str:
        """A metric's label in this view's language (safe as a widget's format_func: no session state needed)."""
        return registry_label(name, self.lang)

    def dim_label(self, dimension: str) -> str:
        """A dimension's label in this view's language."""
        return DIMENSION_LABELS[dimension][1 if self.lang == "zh" else 0]


def label(name: str) -> str:
    """A metric's label from the registry in the chosen language."""
    return registry_label(name, lang())


def dim_label(dimension: str) -> str:
    """A dimension's label in the chosen language."""
    en, zh = DIMENSION_LABELS[dimension]
    return zh if lang() == "zh" else en


def url_choice(key: str, allowed: Iterable[str], default: str) -> str:
    """The value the address gives `key` if it is one of `allowed`, else `default` (the sidebar's filters, a page's
    own choice that keep_in_url writes)."""
    value = st.query_params.get(key, default)
    return value if value in set(allowed) else default


def keep_in_url(key: str, value: str, default: str) -> None:
    """Shows a page's choice in the address (one of PAGE_URL_KEYS), so that a link opens the same view; nothing
    where it is the default, so a plain link stays plain. Streamlit drops it when the visitor switches pages."""
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value


def _url_date(key: str) -> date | None:
    try:
        return date.fromisoformat(st.query_params.get(key, ""))
    except ValueError:
        return None


def _safe_span(store: str | None = None) -> Period | None:
    """The data's first to latest date (one store's, given one), or None (no warehouse, no dated rows, or one that
    cannot be read)."""
    try:
        return load(data_span, segment=Segment(store=store)) if has_warehouse() else None
    except WarehouseError:
        return None


def several_stores() -> bool:
    """Whether the warehouse holds more than one store (the store filter and splits are shown only then)."""
    return len(_safe_options()["store"]) > 1


def _safe_options() -> dict[str, list[str]]:
    try:
        return quietly(segment_options) if has_warehouse() else {"source": [], "device": [], "store": []}
    except WarehouseError:
        return {"source": [], "device": [], "store": []}


def sidebar() -> View:
    """Draw the shared sidebar and return the view it selects; its state is mirrored in the URL query."""
    state = st.session_state
    span = _safe_span()
    latest = span.end if span else None
    options = _safe_options()
    if "f_lang" not in state:  # first run of this browser session: start from the shared URL
        state["f_lang"] = url_choice("lang", LANGUAGES, "en")
        state["f_preset"] = url_choice("period", PRESETS, DEFAULT_PRESET)
        state["f_vs"] = url_choice("vs", COMPARISONS, DEFAULT_COMPARISON)
        state["f_source"] = url_choice("source", [_ALL, *options["source"]], _ALL)
        state["f_device"] = url_choice("device", [_ALL, *options["device"]], _ALL)
        state["f_store"] = url_choice("store", [_ALL, *options["store"]], _ALL)
        start, end = _url_date("from"), _url_date("to")
        if latest is not None and start and end and start <= end:
            state["f_range"] = (start, end)
    store = state.get("f_store") or None if len(options["store"]) > 1 else None
    # Under a store filter the presets end on that store's latest date (a store whose data end earlier would show
    # empty days otherwise), as `shopkpi kpis --store` does; the date picker keeps the warehouse's range.
    shown_span = (_safe_span(store) or span) if store else span
    bar = st.sidebar
    bar.radio("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get, horizontal=True, key="f_lang")
    zh = lang() == "zh"
    period = None
    if latest is None:
        bar.caption(t("Filters appear once the warehouse has data.", "仓库有数据后显示筛选项。"))
    else:
        preset = bar.selectbox(
            t("Period", "时间范围"), list(PRESETS), format_func=lambda k: PRESETS[k][zh], key="f_preset"
        )
        custom = None
        if preset == "custom":
            if "f_range" not in state:
                state["f_range"] = (latest - timedelta(days=29), latest)
            picked = bar.date_input(t("From – to", "起止日期"), max_value=latest, key="f_range")
            if isinstance(picked, tuple | list) and len(picked) == 2:
                custom = Period(picked[0], picked[1])
        shown_latest = shown_span.end if shown_span else latest
        period = preset_period(preset, shown_latest, custom)
        bar.caption(
            t(
                f"{period.start} to {period.end} · latest data {shown_latest}",
                f"{period.start} 至 {period.end} · 最新数据 {shown_latest}",
            )
        )
        bar.radio(t("Compare with", "对比"), list(COMPARISONS), format_func=lambda k: COMPARISONS[k][zh], key="f_vs")
        bar.selectbox(
            t("Source", "来源"),
            [_ALL, *options["source"]],
            format_func=lambda v: v or ("全部来源" if zh else "All sources"),
            key="f_source",
        )
        bar.selectbox(
            t("Device", "设备"),
            [_ALL, *options["device"]],
            format_func=lambda v: v or ("全部设备" if zh else "All devices"),
            key="f_device",
        )
        if len(options["store"]) > 1:  # a warehouse of one store has nothing to choose (issue 13)
            bar.selectbox(
                t("Store", "店铺"),
                [_ALL, *options["store"]],
                format_func=lambda v: v or ("全部店铺" if zh else "All stores"),
                key="f_store",
            )
    view = View(
        period=period,
        comparison=state.get("f_vs", DEFAULT_COMPARISON),
        segment=Segment(state.get("f_source") or None, state.get("f_device") or None, store),
        lang=lang(),
        latest=shown_span.end if shown_span else None,
        first=shown_span.start if shown_span else None,
    )
    _to_url(view, state.get("f_preset", DEFAULT_PRESET))
    state["view"] = view
    return view


# The keys of the pages' own choices in the address (keep_in_url: the Traffic page's split), which the sidebar keeps.
PAGE_URL_KEYS = ("split",)


def _to_url(view: View, preset: str) -> None:
    # Only what differs from the defaults, so a plain link stays plain.
    params = {
        "lang": view.lang if view.lang != "en" else None,
        "period": preset if preset != DEFAULT_PRESET else None,
        "from": str(view.period.start) if preset == "custom" and view.period else None,
        "to": str(view.period.end) if preset == "custom" and view.period else None,
        "vs": view.comparison if view.comparison != DEFAULT_COMPARISON else None,
        "source": view.segment.source,
        "device": view.segment.device,
        "store": view.segment.store,
    }
    wanted = {k: v for k, v in params.items() if v}
    # A page's own choices in the address (keep_in_url) stay: Streamlit drops them when the visitor switches pages.
    wanted |= {k: v for k, v in st.query_params.to_dict().items() if k in PAGE_URL_KEYS}
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)


def view() -> View:
    """The view the sidebar selected on this run (app.py draws the sidebar before the page runs)."""
    found = st.session_state.get("view")
    return found if isinstance(found, View) else sidebar()


# --- what the signed-in role may see (rules in shopkpi/auth.py; demo mode without a users file sees everything) --


def role() -> str | None:
    """This session's role, as a page's data(view, role) takes it (auth.OPEN in demo mode; None: no rights)."""
    return signin.page_role()


def may_open(page: Page) -> bool:
    """Whether this session may open `page` (its roles in pages.PAGES)."""
    return auth.may_open(signin.page_role(), page.roles)


def may_upload() -> bool:
    """Whether this session may upload files and change the warehouse (admin, or demo mode)."""
    return auth.may_upload(signin.page_role())


# --- page scaffolding: title, empty states, and no traceback ever reaching the user ------------------------------


def ensure_routed() -> None:
    """Make sure app.py (navigation and the shared sidebar) runs before this page.

    Streamlit runs a page file directly, without app.py, while it still believes the app uses the old `pages/`
    folder convention: on the first request after the server starts, when that request is a deep link (e.g.
    /traffic), and on every AppTest rerun. The page then has no sidebar and stale filters. Telling Streamlit that
    this app routes with st.navigation and rerunning once puts app.py back in front. (PagesManager is internal:
    if a Streamlit upgrade removes the flag, this does nothing.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the flag
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def replenish_buffer() -> tuple[int, int]:
    """The replenishment window of the targets in force (days before stock runs out that goods should arrive), read
    as the reports read it (metrics.targets.replenish_window)."""
    loaded, _ = targets()
    return replenish_window(loaded)


def _query_name(query: Callable[..., Any]) -> str:
    return f"{query.__module__}.{query.__qualname__}"


def run_page(page: Page, render: Callable[[View], None], needs_period: bool = True) -> None:
    """Draw `page` (its entry in pages.PAGES): its title, then `render(view)`; every failure becomes one sentence,
    never a traceback.

    The page draws nothing for a role not among its roles (app.py does not route it for them; this is the second
    lock, should Streamlit ever run the page file directly).
    """
    ensure_routed()
    if not may_open(page):
        st.stop()
    current = view()
    st.title(current.t(page.title_en, page.title_zh))
    if not has_warehouse():
        no_data_yet()
        return
    if needs_period and current.period is None:
        problem = unreadable()
        if problem is not None:
            warehouse_problem(problem)
            return
        st.info(
            t(
                "The warehouse has no orders, sessions or ad spend yet: load some with `shopkpi ingest`.",
                "仓库中还没有订单、访问或广告数据：请先用 `shopkpi ingest` 导入。",
            ),
            icon=":material/database_off:",
        )
        return
    answered: set[str] = set()
    token = _answered.set(answered)
    try:
        render(current)
    except WarehouseError as error:
        warehouse_problem(error)
    except Exception as error:  # the page must never show a traceback; the log keeps it for us
        log.exception("page %s failed", page.title_en)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        st.error(
            t(
                f"This page could not be drawn: {first}. The other pages still work; the server log has the details.",
                f"页面无法显示：{first}。其他页面仍可使用；详情见服务器日志。",
            ),
            icon=":material/error:",
        )
    else:
        engine_caption(answered)
    finally:
        _answered.reset(token)


def period_caption(current: View) -> None:
    """One line under a page title: the period, what it is compared with, and the filter in force."""
    assert current.period is not None
    seg = current.segment
    parts = [f"{current.period.start} – {current.period.end}"]
    coverage = current.coverage
    if coverage is not None and coverage.partial:
        parts.append(
            t(
                f"**partial**: {coverage.days_with_data} of {coverage.days} days have data",
                f"**不完整**：{coverage.days} 天中 {coverage.days_with_data} 天有数据",
            )
        )
    compared = current.compared
    if compared is None:
        parts.append(t("nothing to compare with", "无可对比数据"))
    elif coverage is not None and coverage.partial:
        parts.append(t("compared with the same days", "对比同样天数") + f" {compared.start} – {compared.end}")
    else:
        parts.append(t("compared with", "对比") + f" {compared.start} – {compared.end}")
    if seg:
        shown = " · ".join(f"{dim_label(d)}: {md(getattr(seg, d))}" for d in seg.dimensions)
        parts.append(t("filtered to ", "筛选：") + shown)
    st.caption(" · ".join(parts))


def session_input(name: str, current: View) -> str | None:
    """For a figure computed from sessions: which input gave them to the stores in view (session logs, a platform's
    traffic report, or both, store by store), for its definition on a card or in a column's help (issue 13)."""
    if not reads_sessions(name):
        return None
    return session_input_note(load(session_stores, segment=current.segment), load(missing_inputs), current.lang)


def null_reason(name: str, current: View) -> str:
    """Why a metric shows "—": it cannot be split by the filter, it needs an input the shop has not given (SPEC §4),
    a platform's traffic report does not give it, or its denominator is zero in the period."""
    reason = current.segment.why_undefined(name, current.lang)
    if reason:
        return reason
    stores = load(session_stores, segment=current.segment)
    missing = unknown([name], load(missing_inputs), current.lang, stores).get(name)
    if missing:
        return t(f"Unknown: {missing}.", f"未知：{missing}。")
    money = name in METRICS and is_money_figure(name)
    currencies = load(mixed_currencies, segment=current.segment) if money else []
    if currencies:
        return t(f"Unknown: {mixed_reason(currencies)}.", f"未知：{mixed_reason(currencies, 'zh')}。")
    cut = load(traffic_cut, current.period, segment=current.segment) if current.period is not None else None
    if cut and reads_sessions(name):
        return t(f"Unknown: {cut}.", f"未知：平台流量报表按整个时间段统计，本期截断了它，无法按天拆分（{cut}）。")
    gaps = load(traffic_gaps, current.period, current.lang, segment=current.segment) if current.period else {}
    if name in gaps:
        return t(f"Unknown: {gaps[name]}.", f"未知：{gaps[name]}。")
    entry = METRICS[name]
    if entry.kind == "ratio":
        return t(
            f"Undefined: {entry.denominator} is zero in this period (a ratio over nothing is not 0).",
            f"无定义：本期 {entry.denominator} 为 0（分母为零的比率不记为 0）。",
        )
    return t("No value for this period.", "本期无数值。")


def vega(spec: dict, key: str, on_select: Callable[[], None] | None = None) -> Any:
    """A Vega-Lite chart (a spec from shopkpi/ui/charts.py) stretched to the column; with `on_select`, a click on a
    selectable chart (one with a selection param) calls it, reruns, and the chart's state (`charts.picked`) is in
    the session state under `key`."""
    if on_select is not None:
        return st.vega_lite_chart(spec=spec, width="stretch", key=key, on_select=on_select)
    st.vega_lite_chart(spec=spec, width="stretch", key=key)
    return None


@st.cache_data(show_spinner=False, ttl=60)
def _targets(path: str | None) -> dict[str, Target]:
    return load_targets(path)


def targets() -> tuple[dict[str, Target], str | None]:
    """The KPI targets in force (the defaults and settings' `targets_path`), and a one-line problem with the user's
    targets file (then the defaults alone apply)."""
    path = load_settings().targets_path
    try:
        return _targets(str(path) if path else None), None
    except TargetsError as error:
        return _targets(None), str(error)
