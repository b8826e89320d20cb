"""Accounts without Streamlit: the users file keeps salted bcrypt hashes only, roles decide pages and profit figures,
sign-in failures are rate limited per user, sessions expire, and `shopkpi users add|remove|list` manages it all."""

from __future__ import annotations

import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pages import page
from shopkpi import auth
from shopkpi.cli import users as cli_users
from shopkpi.cli.serve import LoginRequiredError, serve

PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return tmp_path / "config" / "users.toml"


def test_the_file_holds_salted_hashes_readable_by_the_owner_only(users) -> None:
    auth.add_user(users, "ana", PASSWORD, "analyst")
    auth.add_user(users, "bob", PASSWORD, "analyst")
    text = users.read_text()
    assert PASSWORD not in text
    found = auth.load_users(users)
    # The same password hashes differently for each user: a salt per hash, so equal passwords do not show.
    assert found["ana"].password_hash != found["bob"].password_hash
    assert found["ana"].password_hash.startswith("$2b$")
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert auth.verify(found, "ana", PASSWORD) == found["ana"]
    assert auth.verify(found, "ana", PASSWORD + "!") is None
    assert auth.verify(found, "nobody", PASSWORD) is None
    assert auth.verify(found, "ana", "x" * 100) is None, "bcrypt 5 raises on > 72 bytes: a failed sign-in, not a crash"


def test_add_remove_list_and_their_refusals(users) -> None:
    assert auth.list_users(users) == []
    auth.add_user(users, "eve", PASSWORD, "executive")
    auth.add_user(users, "adm", PASSWORD, "admin")
    assert [(u.username, u.role) for u in auth.list_users(users)] == [("adm", "admin"), ("eve", "executive")]
    with pytest.raises(auth.AuthError, match="exists already"):
        auth.add_user(users, "eve", PASSWORD, "analyst")
    auth.add_user(users, "eve", PASSWORD, "analyst", replace=True)
    assert auth.load_users(users)["eve"].role == "analyst"
    with pytest.raises(auth.AuthError, match="not one of"):
        auth.add_user(users, "carl", PASSWORD, "superuser")
    with pytest.raises(auth.AuthError, match="at least 8"):
        auth.add_user(users, "carl", "short", "analyst")
    with pytest.raises(auth.AuthError, match="username"):
        auth.add_user(users, 'x"]\n[users.evil', PASSWORD, "admin")  # cannot inject TOML through the name
    auth.remove_user(users, "eve")
    assert [u.username for u in auth.list_users(users)] == ["adm"]
    with pytest.raises(auth.AuthError, match="no user"):
        auth.remove_user(users, "eve")


def test_a_damaged_users_file_is_an_error_not_an_open_door(users) -> None:
    users.parent.mkdir(parents=True)
    users.write_text('[users.ana]\nrole = "root"\npassword_hash = "x"\n')
    with pytest.raises(auth.AuthError, match="needs a role"):
        auth.load_users(users)


def test_roles_decide_pages_profit_figures_and_uploads() -> None:
    pnl, reports, traffic = (page("pages/pnl.py").roles, page("pages/reports.py").roles, page("pages/traffic.py").roles)
    for role in ("operations", "analyst"):
        assert not auth.may_open(role, pnl)
        assert not auth.may_open(role, reports)
        assert auth.may_open(role, traffic)
        assert not auth.may_see_profit(role)
        assert auth.visible_metrics(role, ("orders", "net_profit", "cogs", "gross_margin")) == ("orders",)
    for role in ("executive", "admin", auth.OPEN):
        assert auth.may_open(role, pnl) and auth.may_see_profit(role)
    assert [r for r in (*auth.ROLES, auth.OPEN) if auth.may_upload(r)] == ["admin", auth.OPEN]
    assert not auth.may_open(None, page("pages/overview.py").roles), "not signed in: no page at all"


def test_profit_figures_are_the_metrics_the_registry_flags() -> None:
    # The flag lives on each registry entry (Metric.profit_figure); the role rules read it, no list of their own.
    from metrics.registry import METRICS

    flagged = {name for name, entry in METRICS.items() if entry.profit_figure}
    assert flagged == {
        "cogs",
        "gross_profit",
        "gross_margin",
        "contribution",
        "operating_expenses",
        "net_profit",
        "net_margin",
    }
    everything = tuple(METRICS)
    for role in ("operations", "analyst"):
        assert auth.visible_metrics(role, everything) == tuple(n for n in everything if n not in flagged)
    for role in ("executive", "admin", auth.OPEN):
        assert auth.visible_metrics(role, everything) == everything


def test_five_failures_make_that_user_wait_five_minutes() -> None:
    now = [1000.0]
    limiter = auth.SignInLimiter(max_failures=5, window=300, clock=lambda: now[0])
    for _ in range(4):
        assert limiter.reserve("ana") == 0
    assert limiter.retry_after("ana") == 0, "four failures: still allowed"
    now[0] += 10
    assert limiter.reserve("ANA ") == 0  # same user however typed: the fifth attempt is still checked
    assert limiter.retry_after("ana") == pytest.approx(290)  # the first failure (t=1000) ages out at t=1300
    assert limiter.reserve("ana") == pytest.approx(290), "a sixth attempt is refused and not counted"
    assert limiter.retry_after("bob") == 0, "other users are not locked out"
    now[0] = 1300.0
    assert limiter.retry_after("ana") == 0
    assert limiter.reserve("ana") == 0
    limiter.succeeded("ana")
    assert limiter.retry_after("ana") == 0


def test_parallel_sign_ins_check_at_most_five_passwords(users, monkeypatch) -> None:
    # Issue 17, item 3: 10, then 16 wrong passwords sent from parallel tabs were all checked, because each attempt
    # asked "may it try?" before any of them had failed. Now the attempt is counted before its check, under one lock.
    auth.add_user(users, "ana", PASSWORD, "analyst")
    found = auth.load_users(users)
    checked: list[bytes] = []
    real_check = auth.bcrypt.checkpw
    start = threading.Barrier(24)

    def slow_check(password: bytes, hashed: bytes) -> bool:
        checked.append(password)
        time.sleep(0.05)  # every thread is inside the check before the first one returns
        return real_check(password, hashed)

    monkeypatch.setattr(auth.bcrypt, "checkpw", slow_check)
    limiter = auth.SignInLimiter(max_failures=5, window=300)

    def attempt(index: int) -> tuple[auth.User | None, float]:
        start.wait()
        return auth.sign_in(found, limiter, " ANA" if index % 2 else "ana", f"wrong password {index}")

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(attempt, range(24)))
    assert len(checked) == 5, f"{len(checked)} passwords checked"
    assert sum(1 for user, wait in results if user is None and wait == 0) == 5, "five were told 'wrong password'"
    assert sum(1 for user, wait in results if wait > 0) == 19, "the other 19 were told to wait, unchecked"
    user, wait = auth.sign_in(found, limiter, "ana", PASSWORD)
    assert (user, wait > 0) == (None, True), "even the right password waits once the five are used up"
    assert len(checked) == 5


def test_a_success_clears_the_count_and_other_users_are_not_counted(users) -> None:
    auth.add_user(users, "ana", PASSWORD, "analyst")
    found = auth.load_users(users)
    limiter = auth.SignInLimiter(max_failures=5, window=300)
    for _ in range(4):
        assert auth.sign_in(found, limiter, "ana", "wrong password") == (None, 0.0)
    assert auth.sign_in(found, limiter, "ana", PASSWORD) == (found["ana"], 0.0)
    assert limiter.retry_after("ana") == 0, "the success forgot the four failures"
    for _ in range(5):
        auth.sign_in(found, limiter, "nobody", "wrong password")
    assert auth.sign_in(found, limiter, "ana", PASSWORD)[0] == found["ana"]


def test_sessions_expire_after_the_configured_hours() -> None:
    signed_in = 1_000_000.0
    assert not auth.expired(signed_in, 12, now=signed_in + 11.9 * 3600)
    assert auth.expired(signed_in, 12, now=signed_in + 12.1 * 3600)
    assert auth.expired(signed_in, 1, now=signed_in + 3601)
    assert auth.expired(signed_in + 3600, 12, now=signed_in), "a sign-in time in the future is not trusted"


def test_require_login_refuses_to_serve_without_a_user(users, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    monkeypatch.delenv("SHOPKPI_CONFIG", raising=False)
    with pytest.raises(LoginRequiredError, match="no users in"):
        serve(tmp_path / "shop.duckdb", require_login=True)  # raises before starting any server
    users.parent.mkdir(parents=True)
    users.write_text("# emptied by hand\n")
    with pytest.raises(LoginRequiredError, match="no users in"):
        serve(tmp_path / "shop.duckdb", require_login=True)


# --- the CLI, on a throwaway app that registers the sub-app as shopkpi/cli/main.py does -----------------------------

cli = typer.Typer()
cli.add_typer(cli_users.app, name="users")


@cli.callback()
def _root() -> None:
    """A root with a callback, so `users` stays a sub-command as in shopkpi/cli/main.py."""


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["users", *args], input=stdin)


def test_users_cli_adds_lists_and_removes(users, monkeypatch) -> None:
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    result = run("add", "adm", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "added adm (admin)" in result.output
    assert auth.verify(auth.load_users(users), "adm", PASSWORD), "the trailing newline is not part of the password"
    assert run("add", "ana", "--role", "analyst", "--password-stdin", stdin=PASSWORD).exit_code == 0

    listed = run("list")
    assert listed.exit_code == 0
    assert listed.output.split() == ["adm", "admin", "ana", "analyst"]
    assert "$2b$" not in listed.output

    assert run("remove", "ana").exit_code == 0
    assert "ana" not in run("list").output


def test_users_cli_errors_are_one_line_and_exit_1(users, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    bad_role = run("add", "x1", "--role", "boss", "--password-stdin", stdin=PASSWORD)
    assert bad_role.exit_code == 1 and "not one of operations, analyst, executive, admin" in bad_role.output
    short = run("add", "x1", "--role", "analyst", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    no_tty = run("add", "x1", "--role", "analyst")  # no terminal to prompt on, and no --password-stdin
    assert no_tty.exit_code == 1 and "--password-stdin" in no_tty.output
    missing = run("remove", "ghost")
    assert missing.exit_code == 1 and "no user 'ghost'" in missing.output
    assert not users.exists(), "nothing was written by the failed commands"
    other = tmp_path / "other.toml"
    assert (
        run("add", "y1", "--role", "operations", "--password-stdin", "--users", str(other), stdin=PASSWORD).exit_code
        == 0
    )
    assert [u.username for u in auth.list_users(other)] == ["y1"]
    assert "demo mode" in run("list").output


def test_shopkpi_serve_require_login_exits_1_in_one_line(users, monkeypatch) -> None:
    from shopkpi import cli

    monkeypatch.setenv("SHOPKPI_USERS", str(users))
    result = CliRunner().invoke(cli.app, ["serve", "--require-login", "--port", "1"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "no users in" in result.output
    assert CliRunner().invoke(cli.app, ["users", "list"]).exit_code == 0
