"""flask --app wsgi keys ...: ENCRYPTION_KEY's rotation."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway import canary, runtime
from gateway.models import Event, Referral, Report

group = AppGroup(
    "keys",
    help="""Encryption keys: re-encrypt the stored data with ENCRYPTION_KEY's first key.

\b
Examples:
  ./ijwi keys reencrypt    # after ENCRYPTION_KEY=<new>,<old> (docs/security.md)
""",
)

# Every encrypted column: (model, the column's name).
ENCRYPTED_COLUMNS = (
    (Report, "reporter_phone_enc"),
    (Report, "details_enc"),
    (Referral, "close_note_enc"),
    (Event, "note_enc"),
)
# Rows re-encrypted in one transaction.
BATCH = 500


@group.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt every stored secret with the first key.

    Run it after putting a new key first in ENCRYPTION_KEY (new,old); then the old key may
    be dropped."""
    rt = runtime.current()
    for model, name in ENCRYPTED_COLUMNS:
        column = getattr(model, name)
        with rt.db.reading() as session:
            ids = list(session.scalars(select(model.id).where(column.is_not(None), column != b"").order_by(model.id)))
        done = 0
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            with rt.db.transaction() as session:
                for row in session.scalars(select(model).where(model.id.in_(chunk))):
                    setattr(row, name, rt.crypto.rotate(getattr(row, name)))
            done += len(chunk)
            click.echo(f"{model.__tablename__}.{name}: {done}/{len(ids)}")
        if not ids:
            click.echo(f"{model.__tablename__}.{name}: nothing to do")
    canary.rewrite(rt)
    click.echo("done: every value is encrypted with the first key; the others may be removed")
