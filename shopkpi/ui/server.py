"""The process `shopkpi serve` runs: Streamlit's server for app.py, ready before its first visitor.

Under a plain `streamlit run app.py`, the first visit pays for importing DuckDB, polars and statsmodels (about
2 s) and each page computes its queries on its first view. Here the dashboard's modules are imported before the
server listens, and a watcher thread starts the warm-up of shopkpi/ui/warmup.py as soon as Streamlit's runtime exists,
then again whenever a writer publishes a new warehouse file, so pages are ready after an ingest too.

It also guards two of Streamlit's HTTP routes, which know nothing of shopkpi's sign-in (issue 17): a download
(`/media/<id>` of a file made by st.download_button) answers only the browser session it was made for, while that
session is connected and signed in as when it was made, and its bytes are dropped once the session is gone; and
`/_stcore/metrics` answers only a signed-in session. A request belongs to a session when it carries the same
`_streamlit_xsrf` cookie (a random token per browser, set by Streamlit) as the session's WebSocket did. Anything
else is told 404 (a download: whether it exists is not said) or 403 (the metrics).

    python -m shopkpi.ui.server run app.py --server.port 8501 …  (streamlit's arguments; shopkpi/cli/serve.py)
"""

from __future__ import annotations

import hmac
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from streamlit import delta_generator, runtime
from streamlit.runtime.backend_operation_handler import DeferredFileHandler
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
from streamlit.web import cli as streamlit_cli
from streamlit.web.server.starlette import starlette_app
from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string
from streamlit.web.server.starlette.starlette_server_config import XSRF_COOKIE_NAME

# Declaring a cache before the runtime exists logs "No runtime found" although the cache will live in the runtime
# (it is created on first use): quiet while the dashboard's modules are imported.
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

# Imported here, before the server listens, rather than on the first visit. The pages import these too.
import metrics.forecast  # noqa: E402, F401  (statsmodels)
import shopkpi.ui.charts  # noqa: E402, F401  (polars)
import shopkpi.ui.forecast_charts  # noqa: E402, F401
from shopkpi import auth  # noqa: E402
from shopkpi.settings import load_settings  # noqa: E402
from shopkpi.ui import warmup  # noqa: E402
from shopkpi.ui.signin import SESSION_KEY  # noqa: E402

POLL_SECONDS = 2.0  # how soon a newly published warehouse file is warmed up

log = logging.getLogger("shopkpi")


# --- downloads and metrics for signed-in browser sessions only --------------------------------------------------

_MEDIA = re.compile(r"(?:^|/)media/([^/]+)$")
_METRICS = re.compile(r"(?:^|/)_stcore/metrics$")
OPEN_IDENTITY = ("", 0.0)  # who a session is in demo mode (no users file): anyone, signed in as nobody


def identity(state: Any) -> tuple[str, float] | None:
    """Who the session whose session state is `state` is signed in as: (username, signed-in time), OPEN_IDENTITY in
    demo mode, or None when it is not signed in (or its sign-in expired, or the user was removed)."""
    settings = load_settings()
    path = settings.users_path.expanduser()
    if not path.exists() and not settings.require_login:
        return OPEN_IDENTITY
    try:
        session = state[SESSION_KEY] if SESSION_KEY in state else None  # noqa: SIM401 (SessionState has no get)
        users = auth.load_users(path)
    except (auth.AuthError, KeyError):
        return None
    if not isinstance(session, dict) or session.get("username") not in users:
        return None
    signed_in_at = float(session.get("signed_in_at", 0))
    if auth.expired(signed_in_at, settings.session_hours):
        return None
    return session["username"], signed_in_at


def _token(cookie: str | None) -> bytes | None:
    return decode_xsrf_token_string(cookie)[0] if cookie else None


class Sessions:
    """What the guard asks of Streamlit's runtime about a browser session (a seam for the tests)."""

    def connected(self, session_id: str) -> bool:
        return runtime.exists() and runtime.get_instance().is_active_session(session_id)

    def token(self, session_id: str) -> bytes | None:
        client = runtime.get_instance().get_client(session_id) if runtime.exists() else None
        context = getattr(client, "client_context", None)
        return _token(context.cookies.get(XSRF_COOKIE_NAME)) if context is not None else None

    def who(self, session_id: str) -> tuple[str, float] | None:
        app_session = runtime.get_instance().get_app_session(session_id) if runtime.exists() else None
        return identity(app_session.session_state) if app_session is not None else None

    def connected_ids(self) -> list[str]:
        if not runtime.exists():
            return []
        return [info.session.id for info in runtime.get_instance()._session_mgr.list_active_sessions()]

    def drop_file(self, file_id: str, manager: MediaFileManager | None = None) -> None:
        # MediaFileManager has no public way to delete one file; its own clean-up keeps a download for one more
        # script run of any session after nothing references it, and a closed tab's session for
        # server.disconnectedSessionTTL. (Private names: should Streamlit rename them, the guard still refuses.)
        manager = manager or runtime.get_instance().media_file_mgr
        with manager._lock:
            manager._storage.delete_file(file_id)
            manager._file_metadata.pop(file_id, None)


class Downloads:
    """The download files st.download_button made, each with the browser sessions it was made for and who each was
    signed in as then; `allowed` decides whether a request may have one, `purge` drops those whose sessions ended."""

    def __init__(self, sessions: Sessions | None = None) -> None:
        self.sessions = sessions or Sessions()
        self._owners: dict[str, dict[str, tuple[str, float] | None]] = {}
        self._lock = threading.Lock()

    def made(self, url: str, session_id: str) -> None:
        """Record that the file at `url` (/media/<id>.<ext>) was made for `session_id`, as whom it is signed in."""
        found = _MEDIA.search(url)
        if found is None:
            return
        who = self.sessions.who(session_id)
        with self._lock:
            self._owners.setdefault(found.group(1).split(".")[0], {})[session_id] = who

    def tracks(self, file_id: str) -> bool:
        with self._lock:
            return file_id in self._owners

    def allowed(self, file_id: str, cookie: str | None) -> bool:
        """Whether a request carrying the XSRF `cookie` may download `file_id`: one of the sessions it was made for
        is connected, carries the same browser token, and is still signed in as when it was made."""
        token = _token(cookie)
        with self._lock:
            owners = dict(self._owners.get(file_id, {}))
        if token is None:
            return False
        for session_id, who in owners.items():
            theirs = self.sessions.token(session_id)
            if (
                who is not None
                and theirs is not None
                and hmac.compare_digest(theirs, token)
                and self.sessions.connected(session_id)
                and self.sessions.who(session_id) == who
            ):
                return True
        return False

    def purge(self) -> list[str]:
        """Drop the files none of whose sessions is connected any more; returns their ids."""
        with self._lock:
            ended = [
                file_id
                for file_id, owners in self._owners.items()
                if not any(self.sessions.connected(session_id) for session_id in owners)
            ]
            for file_id in ended:
                del self._owners[file_id]
        for file_id in ended:
            self.sessions.drop_file(file_id)
        return ended

    def signed_in(self, cookie: str | None) -> bool:
        """Whether a request carrying the XSRF `cookie` comes from a connected, signed-in browser session."""
        token = _token(cookie)
        if token is None:
            return False
        for session_id in self.sessions.connected_ids():
            theirs = self.sessions.token(session_id)
            if theirs is not None and hmac.compare_digest(theirs, token) and self.sessions.who(session_id):
                return True
        return False


downloads = Downloads()


def _track_downloads() -> None:
    """Record each download file st.download_button makes with the session it is for: a file given as data when the
    script runs (MediaFileManager.add), and a file built on click (the deferred-file request of a session)."""
    add = MediaFileManager.add
    handle = DeferredFileHandler.handle

    def add_and_record(self: MediaFileManager, *args: Any, **kwargs: Any) -> str:
        url = add(self, *args, **kwargs)
        static = kwargs.get("is_for_static_download", args[4] if len(args) > 4 else False)
        ctx = get_script_run_ctx()
        if static and ctx is not None:
            downloads.made(url, ctx.session_id)
        return url

    async def handle_and_record(self: DeferredFileHandler, request: Any, session_id: str) -> Any:
        response = await handle(self, request, session_id)
        if response.HasField("deferred_file") and response.deferred_file.url:
            downloads.made(response.deferred_file.url, session_id)
        return response

    MediaFileManager.add = add_and_record
    DeferredFileHandler.handle = handle_and_record


class Guard:
    """ASGI middleware in front of Streamlit's routes: downloads and metrics for their signed-in session only."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            media = _MEDIA.search(path)
            if media is not None:
                file_id = media.group(1).split(".")[0]
                cookie = Request(scope).cookies.get(XSRF_COOKIE_NAME)
                if downloads.tracks(file_id) and not downloads.allowed(file_id, cookie):
                    await PlainTextResponse("File not found", status_code=404)(scope, receive, send)
                    return
            elif _METRICS.search(path) and not downloads.signed_in(Request(scope).cookies.get(XSRF_COOKIE_NAME)):
                await PlainTextResponse("Sign in to the dashboard first.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _guard_routes() -> None:
    """Put Guard in front of Streamlit's own middleware (the app `streamlit run` builds reads this function)."""
    from starlette.middleware import Middleware

    streamlit_middleware = starlette_app.create_streamlit_middleware

    def with_guard() -> list[Middleware]:
        return [Middleware(Guard), *streamlit_middleware()]

    starlette_app.create_streamlit_middleware = with_guard


def _watch() -> None:
    while not runtime.exists():  # the caches the pages read belong to the runtime: wait until it is there
        time.sleep(0.05)
    while True:
        try:
            warmup.start()  # does nothing while the warehouse file is the one already warmed
        except Exception:  # the watcher must outlive a bad moment (e.g. a settings file being edited)
            log.debug("warm-up check failed", exc_info=True)
        try:
            downloads.purge()
        except Exception:
            log.debug("dropping the downloads of ended sessions failed", exc_info=True)
        time.sleep(POLL_SECONDS)


def main() -> None:
    """Run `streamlit` with this process's arguments, with the watcher thread beside it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # Streamlit asks once, on the first element any visitor draws, whether it runs in a REPL, by reading the source
    # of every frame on the stack (0.4 s of the first visit). This is `streamlit run`, not a REPL: answered here.
    # (A private flag: should Streamlit rename it, this line only sets an unused name.)
    delta_generator._use_warning_has_been_displayed = True
    _track_downloads()
    _guard_routes()
    threading.Thread(target=_watch, name="shopkpi-watch", daemon=True).start()
    streamlit_cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
