"""AppTest of sign-in with roles: with a users file nothing shows before sign-in, an analyst has no P&L (or Reports)
page and no profit figures, an executive has the P&L, only an admin can upload, failed sign-ins are rate limited,
an expired session signs in again; without a users file the app runs open with the demo banner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from shopkpi import auth
from shopkpi.settings import REPO_ROOT
from shopkpi.ui import signin

PASSWORD = "correct horse battery"
ROLE_OF = {"ops": "operations", "ana": "analyst", "eve": "executive", "adm": "admin"}


@pytest.fixture(scope="module")
def users(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users.toml"
    for name, role in ROLE_OF.items():
        auth.add_user(path, name, PASSWORD, role)
    return path


def app(
    demo_db: Path, users: Path | None, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None, **session
) -> AppTest:
    monkeypatch.setenv("SHOPKPI_DB", str(demo_db))
    monkeypatch.setenv("SHOPKPI_USERS", str(users or demo_db.parent / "no-users.toml"))
    for name in ("SHOPKPI_CONFIG", "SHOPKPI_TARGETS", "SHOPKPI_REQUIRE_LOGIN", "SHOPKPI_SESSION_HOURS"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    for key, value in session.items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()  # the form's "Sign in" button


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_nothing_but_sign_in_before_signing_in(demo_db, users, monkeypatch) -> None:
    at = app(demo_db, users, monkeypatch)
    assert not at.exception
    assert titles(at) == ["Sign in"]
    assert not at.metric and not at.dataframe, "no figure is drawn before sign-in"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/overview.py")


def test_an_analyst_has_no_pnl_page_and_no_profit_figures(demo_db, users, monkeypatch) -> None:
    at = sign_in(app(demo_db, users, monkeypatch), "ana")
    assert not at.exception
    assert titles(at) == ["Overview"]
    labels = {m.label for m in at.metric}
    assert "Sessions" in labels
    assert not labels & {"Net profit", "Gross margin"}, labels
    assert "Signed in as **ana** (analyst)" in [c.value for c in at.sidebar.caption]
    for hidden in ("pages/pnl.py", "pages/reports.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(hidden)
    at.switch_page("pages/products.py").run()
    assert not at.exception
    category_columns = set(at.dataframe[1].value.columns)
    assert "gross_sales" in category_columns and "cogs" not in category_columns
    at.switch_page("pages/data.py").run()
    assert not at.get("file_uploader"), "uploads are for admins"


def test_operations_cannot_open_the_pnl_either(demo_db, users, monkeypatch) -> None:
    at = sign_in(app(demo_db, users, monkeypatch), "ops")
    assert titles(at) == ["Overview"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/pnl.py")


def test_an_executive_sees_the_pnl_and_profit_but_cannot_upload(demo_db, users, monkeypatch) -> None:
    at = sign_in(app(demo_db, users, monkeypatch), "eve")
    assert {"Net profit", "Gross margin"} <= {m.label for m in at.metric}
    at.switch_page("pages/pnl.py").run()
    assert not at.exception
    assert titles(at) == ["P&L"]
    assert "Net profit" in set(at.dataframe[0].value["label"])
    at.switch_page("pages/data.py").run()
    assert not at.get("file_uploader")


def test_an_admin_can_upload(demo_db, users, monkeypatch) -> None:
    at = sign_in(app(demo_db, users, monkeypatch), "adm")
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.get("file_uploader"), "the admin's Data page has the upload"


def test_a_wrong_password_fails_and_five_failures_lock_the_user_out(demo_db, users, monkeypatch) -> None:
    signin.limiter.clear()  # a fresh process-wide limiter: other tests' failures do not count
    at = app(demo_db, users, monkeypatch)
    for _ in range(5):
        sign_in(at, "ops", "wrong password")
        assert "Wrong username or password." in [e.value for e in at.error]
    sign_in(at, "ops")  # the right password, but too late: the user must wait
    assert titles(at) == ["Sign in"]
    assert any("Too many failed sign-ins" in e.value for e in at.error)
    other = sign_in(app(demo_db, users, monkeypatch), "ana")  # another user, another browser session: not locked
    assert titles(other) == ["Overview"]
    signin.limiter.clear()


def test_an_expired_session_must_sign_in_again(demo_db, users, monkeypatch) -> None:
    twelve_hours_ago = time.time() - 12 * 3600 - 60
    stale = {"username": "eve", "role": "executive", "signed_in_at": twelve_hours_ago}
    at = app(demo_db, users, monkeypatch, **{signin.SESSION_KEY: stale})
    assert titles(at) == ["Sign in"]
    assert "Your session expired: sign in again." in [i.value for i in at.info]
    fresh = {"username": "eve", "role": "executive", "signed_in_at": time.time() - 60}
    assert titles(app(demo_db, users, monkeypatch, **{signin.SESSION_KEY: fresh})) == ["Overview"]


def test_the_role_comes_from_the_users_file_not_the_session(demo_db, users, monkeypatch) -> None:
    # A session claiming "admin" for the analyst gets the analyst's pages: the file is read on every run.
    forged = {"username": "ana", "role": "admin", "signed_in_at": time.time()}
    at = app(demo_db, users, monkeypatch, **{signin.SESSION_KEY: forged})
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/pnl.py")


def test_without_a_users_file_the_demo_runs_open_with_a_banner(demo_db, monkeypatch) -> None:
    at = app(demo_db, None, monkeypatch)
    assert titles(at) == ["Overview"]
    assert signin.DEMO_BANNER[0] in [w.value for w in at.warning]
    at.switch_page("pages/pnl.py").run()
    assert titles(at) == ["P&L"]


def test_require_login_never_runs_open_even_without_the_file(demo_db, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHOPKPI_REQUIRE_LOGIN", "1")
    monkeypatch.setenv("SHOPKPI_USERS", str(tmp_path / "gone.toml"))
    monkeypatch.setenv("SHOPKPI_DB", str(demo_db))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert not at.metric
    assert any("has no users" in e.value for e in at.error)


@pytest.mark.parametrize("page", ["pnl", "reports"])
def test_a_profit_page_run_directly_draws_nothing_for_an_analyst(demo_db, users, monkeypatch, page) -> None:
    # Streamlit runs a page file without app.py for a deep link to a fresh server (see ui.ensure_routed): the page
    # itself checks the role too, so even then an analyst sees no figure of it.
    session = {signin.SESSION_KEY: {"username": "ana", "role": "analyst", "signed_in_at": time.time()}}
    monkeypatch.setenv("SHOPKPI_DB", str(demo_db))
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    direct = AppTest.from_file(str(REPO_ROOT / "pages" / f"{page}.py"), default_timeout=60)
    for key, value in session.items():
        direct.session_state[key] = value
    direct.run()
    assert not direct.exception
    assert not direct.title and not direct.dataframe and not direct.get("download_button")
    session[signin.SESSION_KEY] = {"username": "eve", "role": "executive", "signed_in_at": time.time()}
    allowed = AppTest.from_file(str(REPO_ROOT / "pages" / f"{page}.py"), default_timeout=60)
    allowed.session_state[signin.SESSION_KEY] = session[signin.SESSION_KEY]
    assert allowed.run().title, "the same page draws for an executive: the check is the role, not the file"


def test_a_damaged_users_file_shows_only_why_nobody_can_sign_in(demo_db, monkeypatch, tmp_path) -> None:
    damaged = tmp_path / "users.toml"
    damaged.write_text("[users.ana\nrole = ")
    at = app(demo_db, damaged, monkeypatch)
    assert not at.exception
    assert titles(at) == ["Sign in"] and not at.metric
    assert any("Sign-in is unavailable: cannot read the users file" in e.value for e in at.error)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/overview.py")


def test_the_sign_in_page_and_the_account_box_speak_chinese_from_the_url(demo_db, users, monkeypatch) -> None:
    at = app(demo_db, users, monkeypatch, query={"lang": "zh"})  # a shared link in Chinese, opened before signing in
    assert titles(at) == ["登录"]
    assert [w.label for w in at.text_input] == ["用户名", "密码"]
    assert "用户名或密码错误。" in [e.value for e in sign_in(at, "ana", "wrong password").error]
    at = sign_in(at, "ana")
    assert titles(at) == ["概览"]
    assert "已登录：**ana**（analyst）" in [c.value for c in at.sidebar.caption]
    assert [b.label for b in at.sidebar.button] == ["退出登录"]


# --- downloads and metrics over HTTP (shopkpi/ui/server.py; the browser test in tests/e2e checks a real server) ---


class FakeSessions:
    """Streamlit's runtime as the download guard sees it: which sessions are connected, each one's browser token and
    who it is signed in as."""

    def __init__(self) -> None:
        self.tokens: dict[str, bytes] = {}
        self.signed: dict[str, tuple[str, float] | None] = {}
        self.gone: set[str] = set()
        self.dropped: list[str] = []

    def connected(self, session_id: str) -> bool:
        return session_id in self.tokens and session_id not in self.gone

    def token(self, session_id: str) -> bytes | None:
        return self.tokens.get(session_id)

    def who(self, session_id: str) -> tuple[str, float] | None:
        return self.signed.get(session_id)

    def connected_ids(self) -> list[str]:
        return [s for s in self.tokens if self.connected(s)]

    def drop_file(self, file_id: str) -> None:
        self.dropped.append(file_id)


def cookie(token: bytes) -> str:
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    return generate_xsrf_token_string(token)  # masked anew each time, as the browser's cookie is


def test_a_download_answers_only_its_connected_signed_in_session() -> None:
    from shopkpi.ui.server import Downloads

    sessions = FakeSessions()
    sessions.tokens = {"eve-tab": b"e" * 16, "ana-tab": b"a" * 16}
    sessions.signed = {"eve-tab": ("eve", 1.0), "ana-tab": ("ana", 2.0)}
    downloads = Downloads(sessions)
    downloads.made("/media/abc123.csv", "eve-tab")
    assert downloads.allowed("abc123", cookie(b"e" * 16)), "the executive's own tab"
    assert not downloads.allowed("abc123", None), "no cookie"
    assert not downloads.allowed("abc123", cookie(b"a" * 16)), "the analyst's browser, signed in too"
    assert not downloads.allowed("abc123", "2|garbage|x|1")
    sessions.signed["eve-tab"] = ("eve", 5.0)  # signed out and in again in the same tab: a new sign-in
    assert not downloads.allowed("abc123", cookie(b"e" * 16))
    sessions.signed["eve-tab"] = ("eve", 1.0)
    assert downloads.purge() == [] and sessions.dropped == []
    sessions.gone.add("eve-tab")  # the tab was closed
    assert not downloads.allowed("abc123", cookie(b"e" * 16))
    assert downloads.purge() == ["abc123"] and sessions.dropped == ["abc123"], "its bytes are dropped"
    assert not downloads.tracks("abc123")


def test_the_guard_answers_404_for_a_download_and_403_for_metrics_without_the_session() -> None:
    import asyncio

    from shopkpi.ui import server

    sessions = FakeSessions()
    sessions.tokens, sessions.signed = {"eve-tab": b"e" * 16}, {"eve-tab": ("eve", 1.0)}
    reached: list[str] = []

    async def streamlit(scope, receive, send) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"net profit"})

    def get(path: str, with_cookie: bytes | None = None) -> int:
        headers = [(b"cookie", f"_streamlit_xsrf={cookie(with_cookie)}".encode())] if with_cookie else []
        scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""}
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            sent.append(message)

        asyncio.run(server.Guard(streamlit)(scope, receive, send))
        return sent[0]["status"]

    original = server.downloads
    server.downloads = server.Downloads(sessions)
    try:
        server.downloads.made("/media/abc123.csv", "eve-tab")
        assert get("/media/abc123.csv") == 404
        assert get("/media/abc123.csv", b"x" * 16) == 404
        assert get("/media/abc123.csv", b"e" * 16) == 200
        assert get("/base/media/abc123.csv", b"e" * 16) == 200, "under server.baseUrlPath too"
        assert get("/media/image0.png") == 200, "a file no download made (a chart image) is Streamlit's to serve"
        assert get("/_stcore/metrics") == 403 and get("/base/_stcore/metrics", b"x" * 16) == 403
        assert get("/_stcore/metrics", b"e" * 16) == 200
        sessions.signed["eve-tab"] = None  # signed out
        assert get("/_stcore/metrics", b"e" * 16) == 403 and get("/media/abc123.csv", b"e" * 16) == 404
    finally:
        server.downloads = original
    assert reached == ["/media/abc123.csv", "/base/media/abc123.csv", "/media/image0.png", "/_stcore/metrics"]


def test_dropping_a_download_removes_its_bytes_from_streamlits_media_store() -> None:
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.media_file_storage import MediaFileStorageError
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from shopkpi.ui.server import Sessions

    storage = MemoryMediaFileStorage("/media")
    manager = MediaFileManager(storage)
    url = manager.add(b"month,net_profit\n2024-01,54321.99\n", "text/csv", "1.2", "pnl.csv", True)
    file_id = url.rsplit("/", 1)[1].split(".")[0]
    assert manager.read_file(f"{file_id}.csv") is not None
    Sessions().drop_file(file_id, manager)
    with pytest.raises(MediaFileStorageError):
        storage.get_file(f"{file_id}.csv")
    manager.clear_session_refs("dontcare")  # the session ends: Streamlit's own clean-up must not trip over it
    manager.remove_orphaned_files()
    manager.remove_orphaned_files()
