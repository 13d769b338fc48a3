"""What the command groups share: settings without a runtime, input files, one-line errors, a registry import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app

from gateway import runtime
from gateway.cli.progress import progress
from gateway.config import Settings, read_settings
from gateway.registry import imports as registry
from gateway.runtime import Runtime

Importer = Callable[[Runtime, str, registry.Progress], registry.ImportSummary]


def settings() -> Settings:
    """The app's settings, or for an app made without them, what the environment says
    (unchecked: for commands that need no keys, such as validating a menu file)."""
    rt: Runtime | None = current_app.extensions.get(runtime.EXTENSION)
    return rt.settings if rt is not None else read_settings()


class PlainError(click.ClickException):
    """A failure told in one line, what is wrong and what to do (exit status 1)."""


class BadInputError(PlainError):
    """Something the operator gave is wrong: a setting, a file (exit status 2)."""

    exit_code = 2


def read_text(file: Path) -> str:
    """A file's text (UTF-8, a byte-order mark ignored)."""
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"{file} is not a text file in UTF-8: save it as CSV (UTF-8) and try again") from None


class InputFile(click.Path):
    """An existing file (not a folder); a wrong path is told in one line, exit status 2."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)

    def fail(self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None) -> NoReturn:
        raise BadInputError(f"{message.rstrip('.')}: check the file's name and folder")


def input_file() -> click.Path:
    """The type of a FILE argument."""
    return InputFile()


def import_file(kind: str, importer: Importer, file: Path) -> None:
    """Import file with importer; print the summary, or every bad line and import nothing."""
    try:
        with progress(kind) as report:
            summary = importer(runtime.current(), read_text(file), report)
    except registry.WrongFileError as exc:
        raise BadInputError(f"nothing imported: {file.name} is not a CSV of {kind} ({exc})") from None
    except registry.RegistryImportError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"nothing imported: {len(exc.problems)} bad line(s) in {file.name}") from None
    kept = f" ({summary.inactive} deactivated, left inactive)" if summary.inactive else ""
    click.echo(f"{kind}: {summary.said()}{kept}")
