"""What the command groups share: the runtime, input files, a registry import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app

from gateway.registry import imports as registry
from gateway.runtime import Runtime

Importer = Callable[[Runtime, str], registry.ImportSummary]


def runtime() -> Runtime:
    """The app's runtime (database, Redis, settings)."""
    rt: Runtime = current_app.extensions["ijwi"]
    return rt


def read_text(file: Path) -> str:
    """A file's text (UTF-8, a byte-order mark ignored)."""
    return file.read_text(encoding="utf-8-sig")


def input_file() -> click.Path:
    """The type of a FILE argument: an existing file (not a folder)."""
    return click.Path(exists=True, dir_okay=False, path_type=Path)


def import_file(kind: str, importer: Importer, file: Path) -> None:
    """Import file with importer; print the summary, or every bad line and import nothing."""
    try:
        summary = importer(runtime(), read_text(file))
    except registry.RegistryImportError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"nothing imported: {len(exc.problems)} bad line(s) in {file.name}") from None
    kept = f" ({summary.inactive} deactivated, left inactive)" if summary.inactive else ""
    click.echo(f"{kind}: {summary.created} added, {summary.updated} updated{kept}")
