"""The command line: flask --app wsgi <group> <command> (or ./ijwi <group> <command>).

One module per command group, each defining a `flask.cli.AppGroup` named `group`;
a new group is one more line in GROUPS. Shared helpers: `common` (the runtime, input files,
one-line errors), `progress` (progress of a long command), `errors` (what every command
says instead of a traceback).
"""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

from gateway.cli import db, demo, locations, menus, officers, users, ussd, visits, volunteers
from gateway.cli.errors import plain_errors

# Every command group (`--help` lists them by name).
GROUPS: tuple[AppGroup, ...] = (
    db.group,
    locations.group,
    officers.group,
    volunteers.group,
    menus.group,
    ussd.group,
    demo.group,
    visits.group,
    users.group,
)


def register_commands(app: Flask) -> None:
    for group in GROUPS:
        plain_errors(group)
        app.cli.add_command(group)
