"""The command line: flask --app wsgi <group> <command> (or ./ijwi <group> <command>).

One module per command group, each defining a `flask.cli.AppGroup` named `group`;
a new group is one more line in GROUPS. Shared helpers: `common` (the runtime, input files,
one-line errors), `progress` (progress of a long command), `errors` (what every command
says instead of a traceback).
"""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

from gateway.cli import backup, db, demo, keys, locations, menus, officers, ops, stats, users, ussd, visits, volunteers
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
    stats.group,
    users.group,
    ops.jobs,
    ops.outbox,
    keys.group,
    backup.group,
)


def overview() -> str:
    """./ijwi --help: the commands, one line each, with an example (needs no settings)."""
    lines = [
        "Ijwi: child-protection reports over USSD and SMS.",
        "",
        "Usage: ./ijwi COMMAND [ARGS]...      ./ijwi GROUP --help lists a group's commands",
        "",
        f"  {'run':<12}{'Start the gateway (web and worker), development defaults.':<60}./ijwi run",
        f"  {'test':<12}{'Run ruff, mypy and the tests.':<60}./ijwi test -x tests/menus",
        f"  {'bench':<12}{'Measure the gateway under load.':<60}./ijwi bench --quick",
        "",
        "Command groups (the same as flask --app wsgi GROUP COMMAND):",
    ]
    for group in sorted(GROUPS, key=lambda g: g.name or ""):
        examples = [line.strip() for line in (group.help or "").splitlines() if line.strip().startswith("./ijwi")]
        example = examples[0].split("  #")[0].strip() if examples else ""
        lines.append(f"  {group.name:<12}{group.get_short_help_str(58):<60}{example}")
    lines += [
        "",
        "Options before the command: --debug shows the traceback of an error (so does LOG_LEVEL=DEBUG).",
    ]
    return "\n".join(lines)


def register_commands(app: Flask) -> None:
    for group in GROUPS:
        plain_errors(group)
        app.cli.add_command(group)
    app.cli.add_command(ops.doctor)
