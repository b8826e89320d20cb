"""Who may see what: the users file (bcrypt-salted password hashes), the four roles and what each may open, the
sign-in rate limit and session expiry. No Streamlit here: `shopkpi users …` and the dashboard (shopkpi/ui/signin.py)
both use it.

The users file is TOML kept outside the repository (settings `users_path`, env `SHOPKPI_USERS`, default
`~/.config/shopkpi/users.toml`), readable by its owner only:

    [users.alice]
    role = "admin"
    password_hash = "$2b$12$…"
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from metrics.registry import PROFIT_FIGURES

ROLES = ("operations", "analyst", "executive", "admin")
# The pseudo-role of a dashboard without a users file (demo mode): it may do everything, as before sign-in existed.
OPEN = "open"

ALL_ROLES = frozenset({*ROLES, OPEN})  # anyone signed in (or demo mode)
PROFIT_ROLES = frozenset({"executive", "admin", OPEN})
ADMIN_ROLES = frozenset({"admin", OPEN})
# Customer ids (a segment's list for a campaign) go to those who run campaigns or work on the data; executives see
# the segments' sizes and revenue, not who is in them.
CUSTOMER_ID_ROLES = frozenset({"operations", "analyst", "admin", OPEN})

USERNAME = re.compile(r"[a-z0-9][a-z0-9_.@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads 72 bytes at most; bcrypt 5 refuses longer passwords instead of truncating
# A valid hash (bcrypt's default cost, 12, as users' hashes get) of a random password nobody kept: unknown usernames
# cost one bcrypt check too, so timing does not tell which usernames exist. Written out, not made at import: hashing
# took 0.24 s of every `shopkpi` command's start.
_DUMMY_HASH = b"$2b$12$klPKgoqyU/WTaYUkNXjb8u7LtW97I8xnflgGg.aFXSC.gD4Wkt.ie"


class AuthError(Exception):
    """A users-file or user-management problem, in one sentence for the user."""


@dataclass(frozen=True)
class User:
    """One account of the users file."""

    username: str
    role: str
    password_hash: str


# --- what a role may see -----------------------------------------------------------------------------------------


def may_open(role: str | None, page_roles: frozenset[str]) -> bool:
    """Whether `role` may open a page open to `page_roles` (each page's roles: pages/__init__.py PAGES); no role (not
    signed in) opens nothing."""
    return role is not None and role in page_roles


def may_see_profit(role: str | None) -> bool:
    """Whether `role` may see profit, cost and margin figures (the registry's metrics with `profit_figure`)."""
    return role in PROFIT_ROLES


def may_upload(role: str | None) -> bool:
    """Whether `role` may upload files and use the Data page's actions that change the warehouse."""
    return role in ADMIN_ROLES


def may_see_customer_ids(role: str | None) -> bool:
    """Whether `role` may see and download customer ids (e.g. the customers of an RFM segment)."""
    return role in CUSTOMER_ID_ROLES


def visible_metrics(role: str | None, names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` without the profit figures `role` may not see (order kept); which metrics are profit figures is the
    registry's `Metric.profit_figure`."""
    return names if may_see_profit(role) else tuple(n for n in names if n not in PROFIT_FIGURES)


# The canonical columns that are inputs of the profit figures (cost of goods, fulfilment costs, operating expenses):
# a role that may not see profit does not see them in rejected rows either (the Data page, rejects.csv).
COST_INPUTS = {
    "orders": frozenset({"shipping_cost", "payment_fee"}),
    "order_items": frozenset({"unit_cost"}),
    "products": frozenset({"unit_cost"}),
    "expenses": frozenset({"amount", "note"}),
}
# A file's own column may be mapped to a cost input under any name (--map unit_cost=Einkauf): besides the canonical
# names, a raw row's fields whose names look like money spent are hidden too, and of an expense only its month and
# category are shown.
_COSTLY_NAME = re.compile(r"cost|fee|expense|成本|费用", re.IGNORECASE)
_EXPENSE_SHOWN = frozenset({"month", "category"})
HIDDEN = "(hidden)"


def _hidden_field(table: str, name: str) -> bool:
    key = name.replace("\ufeff", "").strip().lower()
    if table == "expenses":
        return key not in _EXPENSE_SHOWN
    return key in COST_INPUTS.get(table, ()) or bool(_COSTLY_NAME.search(key))


def visible_reject(
    role: str | None, table: str, column: str | None, reason: str | None, raw_row: str | None
) -> tuple[str | None, str | None]:
    """A rejected row's (reason, raw_row) as `role` may see them: unchanged for the roles that see profit; else the
    raw row's cost fields read HIDDEN (a raw text that is not a JSON object, of a table with cost inputs, is hidden
    whole) and a reason about a cost column no longer quotes its value."""
    if may_see_profit(role) or table not in COST_INPUTS:
        return reason, raw_row
    if reason is not None and column in COST_INPUTS[table]:
        reason = re.sub(r"(: |, got ).*\Z", rf"\g<1>{HIDDEN}", reason, flags=re.DOTALL)
    if raw_row is None:
        return reason, None
    try:
        fields = json.loads(raw_row)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return reason, HIDDEN
    shown = {name: HIDDEN if _hidden_field(table, name) else value for name, value in fields.items()}
    return reason, json.dumps(shown, ensure_ascii=False)


# --- the users file ----------------------------------------------------------------------------------------------


def load_users(path: Path) -> dict[str, User]:
    """The users in `path` by username; an empty dict when the file does not exist."""
    path = Path(path).expanduser()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise AuthError(f"cannot read the users file {path}: {error}") from error
    users: dict[str, User] = {}
    for name, entry in (data.get("users") or {}).items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or not entry.get("password_hash"):
            raise AuthError(f"users file {path}: user {name!r} needs a role ({', '.join(ROLES)}) and a password_hash")
        users[name] = User(name, entry["role"], str(entry["password_hash"]))
    return users


def _write_users(path: Path, users: dict[str, User]) -> None:
    # Written to a private temporary file and renamed over the old one: a crash never leaves half a users file,
    # and the hashes are never readable by other local users.
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = ["# shopkpi users: managed by `shopkpi users add|remove|list`. Keep this file out of the repository.", ""]
    for user in sorted(users.values(), key=lambda u: u.username):
        lines += [f'[users."{user.username}"]', f'role = "{user.role}"', f'password_hash = "{user.password_hash}"', ""]
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            output.write("\n".join(lines))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_password(password: str) -> None:
    """Raise AuthError when `password` is too short or too long for bcrypt."""
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AuthError(f"the password is longer than bcrypt's {MAX_PASSWORD_BYTES} bytes")


def add_user(path: Path, username: str, password: str, role: str, replace: bool = False) -> User:
    """Add (or with `replace`, update) a user with a freshly salted bcrypt hash of `password`; returns the user."""
    if not USERNAME.fullmatch(username):
        raise AuthError(
            f"username {username!r}: use 1–64 lowercase letters, digits and . _ @ - (starting with a letter or digit)"
        )
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not one of {', '.join(ROLES)}")
    check_password(password)
    users = load_users(path)
    if username in users and not replace:
        raise AuthError(f"user {username!r} exists already (use --replace to change the password or role)")
    user = User(username, role, bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode())
    users[username] = user
    _write_users(path, users)
    return user


def remove_user(path: Path, username: str) -> None:
    """Remove `username` from the users file."""
    users = load_users(path)
    if username not in users:
        raise AuthError(f"no user {username!r} in {Path(path).expanduser()}")
    del users[username]
    _write_users(path, users)


def list_users(path: Path) -> list[User]:
    """The users of the file, sorted by username."""
    return sorted(load_users(path).values(), key=lambda u: u.username)


def verify(users: dict[str, User], username: str, password: str) -> User | None:
    """The user when `password` is theirs, else None (unknown users cost the same bcrypt check)."""
    user = users.get(username)
    hashed = user.password_hash.encode() if user else _DUMMY_HASH
    try:
        matches = bcrypt.checkpw(password.encode(), hashed)
    except ValueError:  # a password over 72 bytes, or a damaged hash: never a match
        matches = False
    return user if user and matches else None


# --- rate limit and expiry ---------------------------------------------------------------------------------------


class SignInLimiter:
    """At most `max_failures` failed sign-ins per username within `window` seconds; then that username waits.

    One per server process, shared by all browser sessions (thread-safe), so opening a new tab does not reset it.
    An attempt is counted when it starts (`reserve`), before its password is checked, and forgotten only by a success:
    sign-ins sent in parallel cannot all pass the check before the first of them has failed, so at most
    `max_failures` passwords are ever checked per window, however many tabs try at once.
    """

    def __init__(
        self, max_failures: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _wait(self, failures: deque[float], now: float) -> float:
        if len(failures) < self.max_failures:
            return 0.0
        return failures[-self.max_failures] + self.window - now

    def retry_after(self, username: str) -> float:
        """Seconds `username` must wait before the next attempt; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            return self._wait(self._recent(self._key(username), now), now)

    def reserve(self, username: str) -> float:
        """Count an attempt for `username` as failed until `succeeded` says otherwise, in one step with the check
        that it may try: 0 when the attempt is counted and its password may be checked, else the seconds to wait
        (and nothing is counted)."""
        with self._lock:
            now = self.clock()
            failures = self._recent(self._key(username), now)
            wait = self._wait(failures, now)
            if wait <= 0:
                failures.append(now)
            return wait

    def succeeded(self, username: str) -> None:
        """Forget `username`'s failures after a successful sign-in."""
        with self._lock:
            self._failures.pop(self._key(username), None)


def sign_in(users: dict[str, User], limiter: SignInLimiter, username: str, password: str) -> tuple[User | None, float]:
    """(the user, 0) when `password` is theirs; (None, 0) when it is not; (None, seconds to wait) when `username`
    has used up its attempts, without checking the password. The attempt is reserved before the check."""
    wait = limiter.reserve(username)
    if wait > 0:
        return None, wait
    user = verify(users, username, password)
    if user is not None:
        limiter.succeeded(username)
    return user, 0.0


def expired(signed_in_at: float, max_age_hours: float, now: float | None = None) -> bool:
    """Whether a session that signed in at `signed_in_at` (epoch seconds) is older than `max_age_hours`."""
    now = time.time() if now is None else now
    return now - signed_in_at > max_age_hours * 3600 or signed_in_at > now + 60
