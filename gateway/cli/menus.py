"""flask menus: menu trees (validate, publish, versions, restore)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from gateway import runtime
from gateway.cli.common import input_file, settings
from gateway.ussd.catalog import PublishError
from menus.tree import TreeError, load_tree, shipped_trees
from menus.validate import validate

group = AppGroup(
    "menus",
    help="""Menu trees.

\b
Examples:
  ./ijwi menus validate my-tree.yaml
  ./ijwi menus publish my-tree.yaml
""",
)


@group.command("validate", short_help="Check a tree file (default: every shipped tree).")
@click.argument("file", required=False, type=input_file())
def menus_validate(file: Path | None) -> None:
    """Check a tree (default: every shipped tree); exit 1 listing every problem."""
    max_chars = settings().ussd_max_chars
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


@group.command("publish")
@click.argument("file", type=input_file())
def menus_publish(file: Path) -> None:
    """Validate a tree and make it the one new sessions start on."""
    rt = runtime.current()
    try:
        tree = rt.menus.publish(file.read_text(encoding="utf-8"), rt.settings.ussd_max_chars, by="cli")
    except (PublishError, TreeError) as exc:
        raise click.ClickException(f"not published: {exc}") from None
    click.echo(f"published {tree.name} version {tree.version[:12]}")


@group.command("versions")
def menus_versions() -> None:
    """List the published versions (the active one starred)."""
    for row in runtime.current().menus.versions():
        mark = "*" if row.active else " "
        click.echo(f"{mark} {row.version[:12]}  {row.published_at:%Y-%m-%d %H:%M}  {row.published_by}")


@group.command("restore", short_help="Make an earlier published version active again.")
@click.argument("version")
def menus_restore(version: str) -> None:
    """Make an earlier published version (or its first characters) active again."""
    catalog = runtime.current().menus
    try:
        tree = catalog.restore(version, by="cli")
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    old = next(v.version for v in catalog.versions() if v.version.startswith(version))
    # A restore is published as a new version with the earlier one's content.
    click.echo(f"restored {tree.name} version {old[:12]} as version {tree.version[:12]}")
