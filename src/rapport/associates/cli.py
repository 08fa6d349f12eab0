"""``rapport users add|list|disable|enable|set-password``: the people who sign in. Thin: see ``users.py``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rapport.associates import users
from rapport.errors import InvalidRecord, RapportError

users_app = typer.Typer(help="People who sign in to the associate app, and their roles.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

ROLE_HELP = (
    "associate (works in --store), virtual_associate (online expert covering --region), "
    "store_manager (manages --store), admin (head office: everything)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _fail(exc: RapportError) -> typer.Exit:
    if isinstance(exc, InvalidRecord):
        for e in exc.errors:
            err.print(f"[red]{e.field}[/]: {e.message}", soft_wrap=True)
    else:
        err.print(f"[red]{exc.message}[/]", soft_wrap=True)
    return typer.Exit(1)


def _ask_password() -> str:
    return str(typer.prompt("Password (at least 10 characters)", hide_input=True, confirmation_prompt=True))


@users_app.command("add", no_args_is_help=True)
def add(
    email: Annotated[str, typer.Argument(help="The sign-in email, e.g. ana@maison.example.")],
    name: Annotated[str, typer.Option("--name", help="Name shown to colleagues, e.g. 'Ana Duval'.")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "associate",
    store: Annotated[
        list[str] | None, typer.Option("--store", metavar="CODE", help="A store they work in (repeatable).")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", metavar="R", help="A country (US) or state (US-CA) they cover (repeatable)."),
    ] = None,
    code: Annotated[
        str | None, typer.Option(help="Associate code used by the POS (default: from the email).", show_default=False)
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="The password (default: asked with a hidden prompt).", show_default=False),
    ] = None,
) -> None:
    """Add a user who can sign in at /login."""
    from rapport.db import get_database

    secret = password if password is not None else _ask_password()
    try:
        with get_database().write() as session:
            user = users.add_user(
                session, email, name, role, secret, stores=store or [], regions=region or [], code=code
            )
    except RapportError as exc:
        raise _fail(exc) from None
    where = ", ".join(user.stores or user.regions) or "all stores"
    out.print(f"Added {user.display_name} <{user.email}> ({user.role_label}, {where}); code {user.code}.")


@users_app.command("list")
def list_(
    everyone: Annotated[
        bool, typer.Option("--all", help="Also list staff records that cannot sign in (no password, disabled).")
    ] = False,
) -> None:
    """List users: email, name, role, stores or regions, and whether they can sign in."""
    from rapport.db import get_database

    with get_database().read() as session:
        rows = users.list_users(session, include_disabled=everyone, signed_in_only=not everyone)
    table = Table()
    # Emails are what the other commands take: never cut them, let the other columns wrap instead.
    table.add_column("email", no_wrap=True, min_width=max((len(u.email) for u in rows), default=5))
    for column in ("name", "role", "stores / regions", "code", "sign-in"):
        table.add_column(column)
    for u in rows:
        status = "yes" if u.can_sign_in else ("disabled" if not u.active else "no password")
        table.add_row(u.email, u.display_name, u.role_label, ", ".join(u.stores or u.regions), u.code, status)
    out.print(table)
    if not rows:
        out.print("No users yet: add one with `rapport users add EMAIL --name NAME --role ROLE --store CODE`.")


@users_app.command("disable", no_args_is_help=True)
def disable(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Stop a user signing in and end their open sessions (their history and client book stay)."""
    from rapport.db import get_database

    try:
        with get_database().write() as session:
            user = users.disable_user(session, email)
    except RapportError as exc:
        raise _fail(exc) from None
    out.print(f"Disabled {user.display_name} <{user.email}>; their sessions are signed out.")


@users_app.command("enable", no_args_is_help=True)
def enable(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Let a disabled user sign in again."""
    from rapport.db import get_database

    try:
        with get_database().write() as session:
            user = users.enable_user(session, email)
    except RapportError as exc:
        raise _fail(exc) from None
    out.print(f"Enabled {user.display_name} <{user.email}>.")


@users_app.command("set-password", no_args_is_help=True)
def set_password(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password: Annotated[
        str | None, typer.Option(help="The new password (default: asked with a hidden prompt).", show_default=False)
    ] = None,
) -> None:
    """Set a user's password (also gives staff records from the POS a first one) and sign them out."""
    from rapport.db import get_database

    secret = password if password is not None else _ask_password()
    try:
        with get_database().write() as session:
            user = users.set_password(session, email, secret)
    except RapportError as exc:
        raise _fail(exc) from None
    out.print(f"New password set for {user.display_name} <{user.email}>; their open sessions are signed out.")
