"""`shopkpi users add|remove|list`: the dashboard's accounts, kept in the users file (settings `users_path`, env
`SHOPKPI_USERS`, default ~/.config/shopkpi/users.toml) with bcrypt-salted password hashes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopkpi import auth
from shopkpi.settings import load_settings

app = typer.Typer(
    help="Dashboard accounts and their roles (operations, analyst, executive, admin).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

UsersOption = Annotated[
    Path | None,
    typer.Option("--users", help="Users file (default ~/.config/shopkpi/users.toml, or env SHOPKPI_USERS)."),
]


def _path(users: Path | None) -> Path:
    return (users or load_settings().users_path).expanduser()


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(1)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # The first line of stdin, without its line ending: `printf '%s\n' "$PW" | shopkpi users add …`.
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise fail("no terminal to ask for the password: pipe it in with --password-stdin")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name: lowercase letters, digits and . _ @ -.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(auth.ROLES)}.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (scripts).")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing user's password and role.")] = False,
    users: UsersOption = None,
) -> None:
    """Add a user (asks for the password twice, or reads it from stdin)."""
    path = _path(users)
    if role not in auth.ROLES:
        raise fail(f"role {role!r} is not one of {', '.join(auth.ROLES)}")
    password = _read_password(password_stdin)
    try:
        user = auth.add_user(path, username, password, role, replace=replace)
    except auth.AuthError as error:
        raise fail(str(error)) from None
    out.print(f"{'updated' if replace else 'added'} {user.username} ({user.role}) in {path}", markup=False)


@app.command("remove")
def remove(
    username: Annotated[str, typer.Argument(help="The user to remove.")],
    users: UsersOption = None,
) -> None:
    """Remove a user; their open dashboard sessions end on their next click."""
    path = _path(users)
    try:
        auth.remove_user(path, username)
    except auth.AuthError as error:
        raise fail(str(error)) from None
    out.print(f"removed {username} from {path}", markup=False)


@app.command("list")
def list_(users: UsersOption = None) -> None:
    """List the users and their roles (never the hashes)."""
    path = _path(users)
    try:
        found = auth.list_users(path)
    except auth.AuthError as error:
        raise fail(str(error)) from None
    if not found:
        out.print(f"no users in {path}: the dashboard runs open (demo mode)", markup=False)
        return
    for user in found:
        out.print(f"{user.username}\t{user.role}", markup=False)
