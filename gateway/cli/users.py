"""flask users: people who read cases through the API, and their tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from gateway import runtime
from gateway.accounts import users as accounts

group = AppGroup(
    "users",
    help="""People who read cases through the API, and their tokens.

\b
Examples:
  ./ijwi users create ada@example.org --role admin
  ./ijwi users create olive@example.org --role officer --officer +250788000111
  ./ijwi users token ada@example.org --days 30
""",
)


@group.command("create", short_help="Add a user (password from a prompt, or stdin).")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(accounts.ROLES, case_sensitive=False), help="What the user may read."
)
@click.option("--district", default=None, help="An officer's district (any case).")
@click.option(
    "--officer", default=None, metavar="PHONE", help="The registry officer this user is (their phone number)."
)
def users_create(email: str, role: str, district: str | None, officer: str | None) -> None:
    """Add a user; the password is asked for, or read from stdin when it is not a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.create_user(runtime.current(), email, password, role, district, officer)
    except accounts.AccountError as exc:
        raise click.ClickException(f"no user created: {exc}") from None
    where = f" of {user.district.name}" if user.district else ""
    who = f", officer {user.officer.name}" if user.officer else ""
    click.echo(f"created {user.role} {user.email}{where}{who}")


@group.command("token", short_help="Print a new API token for a user (shown once).")
@click.argument("email")
@click.option(
    "--days",
    default=accounts.TOKEN_DAYS,
    show_default=True,
    type=click.IntRange(1, accounts.TOKEN_DAYS_MAX),
    help="How long the token works.",
)
def users_token(email: str, days: int) -> None:
    """Print a new API bearer token for a user (shown once; only its hash is kept)."""
    try:
        click.echo(accounts.issue_token(runtime.current(), email, days))
    except accounts.AccountError as exc:
        raise click.ClickException(f"no token issued: {exc}") from None


@group.command("revoke")
@click.argument("email")
def users_revoke(email: str) -> None:
    """Revoke every API token of a user."""
    try:
        count = accounts.revoke_tokens(runtime.current(), email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} token(s) revoked")


@group.command("list")
def users_list() -> None:
    """Every user, with role, district, tokens and officer."""
    rows = accounts.list_users(runtime.current())
    for row in rows:
        state = "active" if row.active else "deactivated"
        fields = [row.email, row.role, row.district or "-", state, f"{row.live_tokens} token(s)", row.officer or "-"]
        click.echo("\t".join(fields))
    click.echo(f"{len(rows)} user(s)")


@group.command("deactivate", short_help="Stop a user reading anything; revoke their tokens.")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop a user reading anything: deactivated, and every token revoked."""
    click.echo("deactivated; tokens revoked" if _set_active(email, False) else "already deactivated")


@group.command("activate", short_help="Undo a deactivation (then issue a new token).")
@click.argument("email")
def users_activate(email: str) -> None:
    """Undo a deactivation (their old tokens stay revoked: issue a new one)."""
    click.echo("activated" if _set_active(email, True) else "already active")


def _set_active(email: str, active: bool) -> bool:
    try:
        return accounts.set_active(runtime.current(), email, active)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
