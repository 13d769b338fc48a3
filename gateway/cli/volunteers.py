"""flask volunteers: the registry of volunteers (IZU)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from gateway import runtime
from gateway.cli.common import import_file, input_file
from gateway.phones import InvalidPhoneError, masked, normalize
from gateway.registry import imports as registry
from gateway.ussd import callers

group = AppGroup(
    "volunteers",
    help="""The registry of volunteers (IZU).

\b
Examples:
  ./ijwi volunteers import volunteers.csv   # name,phone,district,sector,cell,village,language
  ./ijwi volunteers deactivate +250788123456
""",
)


@group.command("import", short_help="Add or update volunteers from a CSV file, all or nothing.")
@click.argument("file", type=input_file())
def volunteers_import(file: Path) -> None:
    """Add or update volunteers from a CSV (name,phone,district,sector,cell,village,language)."""
    import_file("volunteers", registry.import_volunteers, file)


@group.command("deactivate", short_help="Stop a phone acting as a volunteer.")
@click.argument("phone")
def volunteers_deactivate(phone: str) -> None:
    """Stop a phone acting as a volunteer; it may still report as a community member."""
    _set_active(phone, False)


@group.command("activate")
@click.argument("phone")
def volunteers_activate(phone: str) -> None:
    """Let a deactivated volunteer's phone act as a volunteer again."""
    _set_active(phone, True)


def _set_active(raw: str, active: bool) -> None:
    try:
        phone = normalize(raw)
        changed = callers.set_active(runtime.current(), phone, active)
    except InvalidPhoneError:
        raise click.ClickException(f"{raw!r} is not a valid phone number") from None
    except callers.UnknownVolunteerError:
        raise click.ClickException(f"no volunteer is registered with {raw}") from None
    state = "active" if active else "deactivated"
    click.echo(f"{masked(phone)}: {state}" + ("" if changed else " already"))
