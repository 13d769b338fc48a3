"""The command line: flask --app wsgi <group> <command>."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from gateway.accounts import users as accounts
from gateway.cli import backup
from gateway.clock import utcnow
from gateway.phones import InvalidPhoneError, masked, normalize
from gateway.referrals import visits
from gateway.registry import imports as registry
from gateway.runtime import Runtime
from gateway.ussd import callers
from gateway.ussd.catalog import PublishError
from menus.tree import TreeError, load_tree, shipped_trees
from menus.validate import validate


def _rt(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["ijwi"]
    return rt


def register_commands(app: Flask) -> None:
    db = AppGroup("db", help="The database schema.")
    locations = AppGroup("locations", help="Rwanda's administrative divisions.")
    officers = AppGroup("officers", help="The registry of officers.")
    volunteers = AppGroup("volunteers", help="The registry of volunteers (IZU).")
    menus = AppGroup("menus", help="Menu trees.")
    ussd = AppGroup("ussd", help="USSD sessions.")
    demo = AppGroup("demo", help="Demonstration data.")
    visits_group = AppGroup("visits", help="Home visits by volunteers.")
    users = AppGroup("users", help="People who read cases through the API, and their tokens.")

    @db.command("upgrade")
    def db_upgrade() -> None:
        """Apply every migration the database lacks."""
        from gateway import migrate

        migrate.upgrade(_rt(app).settings.database_url)
        click.echo("database is up to date")

    @locations.command("import")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def locations_import(file: Path | None) -> None:
        """Load provinces, districts, sectors, cells and villages (default: the shipped copy)."""
        summary = registry.import_locations(_rt(app), file or registry.SHIPPED_LOCATIONS)
        click.echo(f"locations: {summary.created} added, {summary.updated} renamed")

    def _import(kind: str, importer, file: Path) -> None:  # type: ignore[no-untyped-def]
        try:
            summary = importer(_rt(app), file.read_text(encoding="utf-8-sig"))
        except registry.RegistryImportError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(f"nothing imported: {len(exc.problems)} bad line(s) in {file.name}") from None
        kept = f" ({summary.inactive} deactivated, left inactive)" if summary.inactive else ""
        click.echo(f"{kind}: {summary.created} added, {summary.updated} updated{kept}")

    @officers.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def officers_import(file: Path) -> None:
        """Add or update officers from a CSV (name,phone,role,district,sector,on_duty,language)."""
        _import("officers", registry.import_officers, file)

    @volunteers.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def volunteers_import(file: Path) -> None:
        """Add or update volunteers from a CSV (name,phone,district,sector,cell,village,language)."""
        _import("volunteers", registry.import_volunteers, file)

    @volunteers.command("deactivate")
    @click.argument("phone")
    def volunteers_deactivate(phone: str) -> None:
        """Stop a phone acting as a volunteer; it may still report as a community member."""
        _set_active(phone, False)

    @volunteers.command("activate")
    @click.argument("phone")
    def volunteers_activate(phone: str) -> None:
        """Let a deactivated volunteer's phone act as a volunteer again."""
        _set_active(phone, True)

    def _set_active(raw: str, active: bool) -> None:
        try:
            phone = normalize(raw)
            changed = callers.set_active(_rt(app), phone, active)
        except InvalidPhoneError:
            raise click.ClickException(f"{raw!r} is not a valid phone number") from None
        except callers.UnknownVolunteerError:
            raise click.ClickException(f"no volunteer is registered with {raw}") from None
        state = "active" if active else "deactivated"
        click.echo(f"{masked(phone)}: {state}" + ("" if changed else " already"))

    @visits_group.command("summary")
    @click.option("--month", help="YYYY-MM, in Rwanda's time (default: this month).")
    @click.option("--district", help="Only this district (any case).")
    def visits_summary(month: str | None, district: str | None) -> None:
        """Home visits per volunteer and village in a month: visits, households, visits with concerns."""
        month = month or visits.month_of(utcnow())
        try:
            counts = visits.summary(_rt(app), month, district)
        except ValueError:
            raise click.BadParameter("use YYYY-MM, e.g. 2026-11", param_hint="--month") from None
        except visits.UnknownDistrictError:
            raise click.BadParameter(f"no district named {district!r}", param_hint="--district") from None
        click.echo(f"Home visits, {month}" + (f", {district}" if district else ""))
        for line in visits.table(counts):
            click.echo(line)

    @menus.command("validate")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def menus_validate(file: Path | None) -> None:
        """Check a tree (default: every shipped tree); exit 1 listing every problem."""
        max_chars = _rt(app).settings.ussd_max_chars
        failed = False
        for path in [file] if file else shipped_trees():
            try:
                problems = validate(load_tree(path), max_chars)
            except TreeError as exc:
                problems = [str(exc)]
            for problem in problems:
                click.echo(f"{path.name}: {problem}", err=True)
            failed = failed or bool(problems)
            click.echo(f"{path.name}: {'INVALID' if problems else 'ok'}")
        if failed:
            sys.exit(1)

    @menus.command("publish")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def menus_publish(file: Path) -> None:
        """Validate a tree and make it the one new sessions start on."""
        rt = _rt(app)
        try:
            tree = rt.menus.publish(file.read_text(encoding="utf-8"), rt.settings.ussd_max_chars, by="cli")
        except (PublishError, TreeError) as exc:
            raise click.ClickException(f"not published: {exc}") from None
        click.echo(f"published {tree.name} version {tree.version[:12]}")

    @menus.command("versions")
    def menus_versions() -> None:
        """List the published versions (the active one starred)."""
        for row in _rt(app).menus.versions():
            mark = "*" if row.active else " "
            click.echo(f"{mark} {row.version[:12]}  {row.published_at:%Y-%m-%d %H:%M}  {row.published_by}")

    @menus.command("restore")
    @click.argument("version")
    def menus_restore(version: str) -> None:
        """Make an earlier published version (or its first characters) active again."""
        try:
            tree = _rt(app).menus.restore(version)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        click.echo(f"restored {tree.name} version {tree.version[:12]}")

    @ussd.command("simulate")
    @click.option("--phone", required=True, help="The caller's number, e.g. +250788123456.")
    def ussd_simulate(phone: str) -> None:
        """Dial the gateway from this terminal; type an answer per screen, empty line to hang up."""
        client = app.test_client()
        session_id = f"SIM-{uuid.uuid4().hex[:12]}"
        inputs: list[str] = []
        while True:
            form = {
                "sessionId": session_id,
                "serviceCode": _rt(app).settings.ussd_service_code,
                "phoneNumber": phone,
                "networkCode": "99999",
                "text": "*".join(inputs),
            }
            token = _rt(app).settings.webhook_token
            reply = client.post("/ussd" + (f"?token={token}" if token else ""), data=form).get_data(as_text=True)
            click.echo("\n" + reply[4:] + "\n" + "-" * 30)
            if reply.startswith("END"):
                return
            answer = click.prompt(">", default="", show_default=False)
            if not answer:
                click.echo("(hung up)")
                return
            inputs.append(answer)

    @demo.command("seed")
    def demo_seed() -> None:
        """Load the places and a few officers and volunteers to try the gateway with."""
        from gateway.registry.demo import seed

        for line in seed(_rt(app)):
            click.echo(line)

    @users.command("create")
    @click.argument("email")
    @click.option(
        "--role", required=True, type=click.Choice(accounts.ROLES, case_sensitive=False), help="What the user may read."
    )
    @click.option("--district", default=None, help="An officer's district (any case).")
    def users_create(email: str, role: str, district: str | None) -> None:
        """Add a user; the password is asked for, or read from stdin when it is not a terminal."""
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            user = accounts.create_user(_rt(app), email, password, role, district)
        except accounts.AccountError as exc:
            raise click.ClickException(f"no user created: {exc}") from None
        where = f" of {user.district.name}" if user.district else ""
        click.echo(f"created {user.role} {user.email}{where}")

    @users.command("token")
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
            click.echo(accounts.issue_token(_rt(app), email, days))
        except accounts.AccountError as exc:
            raise click.ClickException(f"no token issued: {exc}") from None

    @users.command("revoke")
    @click.argument("email")
    def users_revoke(email: str) -> None:
        """Revoke every API token of a user."""
        try:
            count = accounts.revoke_tokens(_rt(app), email)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{count} token(s) revoked")

    @users.command("list")
    def users_list() -> None:
        """Every user: email, role, district, active or not, live tokens."""
        rows = accounts.list_users(_rt(app))
        for row in rows:
            state = "active" if row.active else "deactivated"
            click.echo(f"{row.email}\t{row.role}\t{row.district or '-'}\t{state}\t{row.live_tokens} token(s)")
        click.echo(f"{len(rows)} user(s)")

    def set_user_active(email: str, active: bool) -> bool:
        try:
            return accounts.set_active(_rt(app), email, active)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None

    @users.command("deactivate")
    @click.argument("email")
    def users_deactivate(email: str) -> None:
        """Stop a user reading anything: deactivated, and every token revoked."""
        click.echo("deactivated; tokens revoked" if set_user_active(email, False) else "already deactivated")

    @users.command("activate")
    @click.argument("email")
    def users_activate(email: str) -> None:
        """Undo a deactivation (their old tokens stay revoked: issue a new one)."""
        click.echo("activated" if set_user_active(email, True) else "already active")

    for group in (db, locations, officers, volunteers, menus, ussd, demo, visits_group, users):
        app.cli.add_command(group)
    app.cli.add_command(backup.group)
