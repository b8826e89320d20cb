"""The dashboard's sign-in: who is signed in in this browser session, the sign-in page, the sign-out button and the
demo-mode banner. The rules (roles, hashes, rate limit, expiry) live in shopkpi/auth.py.

A session lives in Streamlit's server-side session state: closing or reloading the tab signs out, and nothing that
could be replayed is stored in the browser.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from shopkpi import auth
from shopkpi.settings import load_settings
from shopkpi.ui.i18n import md, t

SESSION_KEY = "auth_session"  # {"username", "role", "signed_in_at" (epoch seconds)}
_NOTICE_KEY = "auth_notice"
_WANTED_KEY = "auth_wanted"  # the URL path a link asked for before sign-in, opened after it if the role may
DEMO_BANNER = (
    "Demo mode, no sign-in: everyone who can reach this server sees every page.",
    "演示模式，无需登录：能访问此服务器的人都能看到所有页面。",
)


@st.cache_resource(show_spinner=False)
def limiter() -> auth.SignInLimiter:
    """The process-wide sign-in rate limiter (5 failures per username per 5 minutes)."""
    return auth.SignInLimiter()


class SignInUnavailable(Exception):
    """Sign-in is required but impossible (a damaged or empty users file): the app must show nothing but this."""


def _fail_closed(message: str) -> None:
    raise SignInUnavailable(message)


def unavailable_page(message: str) -> None:
    """Route to a single page that says why nobody can sign in (instead of running open)."""

    def explain() -> None:
        st.title(t("Sign in", "登录"))
        st.error(message, icon=":material/lock:")

    st.navigation([st.Page(explain, title=t("Sign in", "登录"), icon=":material/lock:", url_path="signin")]).run()
    st.stop()


def page_role() -> str | None:
    """The role for a page's checks: like role(), but no rights at all when sign-in is unavailable."""
    try:
        return role()
    except SignInUnavailable:
        return None


def role() -> str | None:
    """The role of this browser session: auth.OPEN without a users file (demo mode), the signed-in user's role, or
    None when sign-in is required and nobody has signed in (or the session expired). Raises SignInUnavailable
    when sign-in is required but the users file is damaged or has no users."""
    settings = load_settings()
    path = settings.users_path.expanduser()
    if not path.exists() and not settings.require_login:
        return auth.OPEN
    try:
        users = auth.load_users(path)
    except auth.AuthError as error:
        _fail_closed(t(f"Sign-in is unavailable: {error}.", f"无法登录：{error}。"))
    if not users:
        _fail_closed(
            t(
                f"Sign-in is required but {path} has no users: add one with `shopkpi users add NAME --role admin`.",
                f"需要登录，但 {path} 中没有用户：请用 `shopkpi users add NAME --role admin` 添加。",
            )
        )
    session: dict[str, Any] | None = st.session_state.get(SESSION_KEY)
    if not session:
        return None
    user = users.get(session.get("username", ""))
    if auth.expired(float(session.get("signed_in_at", 0)), settings.session_hours):
        sign_out(t("Your session expired: sign in again.", "登录已过期：请重新登录。"))
        return None
    if user is None:  # removed from the users file since signing in
        sign_out(t("Your account no longer exists.", "你的账号已不存在。"))
        return None
    return user.role  # read from the file on every run, so a role change applies at once


def sign_out(notice: str | None = None) -> None:
    """End this browser session's sign-in."""
    st.session_state.pop(SESSION_KEY, None)
    if notice:
        st.session_state[_NOTICE_KEY] = notice


def _attempt(username: str, password: str) -> str | None:
    """Sign in; returns the error to show, or None after a successful sign-in."""
    username = username.strip().lower()
    user, wait = auth.sign_in(auth.load_users(load_settings().users_path), limiter(), username, password)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        plural = "s" if minutes > 1 else ""
        return t(
            f"Too many failed sign-ins for this user: wait {minutes} minute{plural} and try again.",
            f"该用户登录失败次数过多：请等待 {minutes} 分钟后再试。",
        )
    if user is None:
        return t("Wrong username or password.", "用户名或密码错误。")
    st.session_state[SESSION_KEY] = {"username": user.username, "role": user.role, "signed_in_at": time.time()}
    return None


def sign_in_page() -> None:
    """The only page of a session that has not signed in."""
    st.title(t("Sign in", "登录"))
    if _WANTED_KEY not in st.session_state:
        try:
            st.session_state[_WANTED_KEY] = urlsplit(st.context.url or "").path.strip("/")
        except Exception:  # no browser URL (AppTest): start on the home page
            st.session_state[_WANTED_KEY] = ""
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/schedule:")
    with st.form("sign_in"):
        username = st.text_input(t("Username", "用户名"), key="sign_in_username", autocomplete="username")
        password = st.text_input(
            t("Password", "密码"), type="password", key="sign_in_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("Sign in", "登录"), type="primary")
    if submitted:
        error = _attempt(username, password)
        if error:
            st.error(error, icon=":material/lock:")
        else:
            st.rerun()
    st.caption(
        t(
            "Accounts are created on the server with `shopkpi users add NAME --role ROLE`.",
            "账号在服务器上用 `shopkpi users add NAME --role ROLE` 创建。",
        )
    )


def wanted_page() -> str:
    """Once, after sign-in: the URL path (e.g. "pnl") of the link that led to the sign-in page, or ""."""
    if SESSION_KEY not in st.session_state:
        return ""
    return st.session_state.pop(_WANTED_KEY, "") or ""


def account_box(current: str) -> None:
    """The sidebar's line saying who is signed in, with a sign-out button; in demo mode, the banner."""
    if current == auth.OPEN:
        st.warning(t(*DEMO_BANNER), icon=":material/lock_open:")
        return
    session = st.session_state.get(SESSION_KEY) or {}
    who = md(session.get("username", "?"))
    st.sidebar.caption(t(f"Signed in as **{who}** ({current})", f"已登录：**{who}**（{current}）"))
    if st.sidebar.button(t("Sign out", "退出登录"), key="sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()
