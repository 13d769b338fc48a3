"""The audit log: who read which case, and when."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from gateway.models import AuditEntry, Referral

# A page of the referral list was read.
LIST_REFERRALS = "list_referrals"
# One referral was read, without its private fields.
READ_REFERRAL = "read_referral"
# One referral was read with its free text, reporter phone or close note.
READ_REFERRAL_PRIVATE = "read_referral_private"
# The SMS messages of one referral were read.
READ_MESSAGES = "read_messages"
# An officer asked for a referral's summary by SMS (INFO <ref>).
READ_REFERRAL_SMS = "read_referral_sms"
# Longest detail kept (the column's size).
DETAIL_MAX = 300


def record(session: Session, actor: str, action: str, referral_id: int | None = None, detail: str = "") -> None:
    """Add one line to the audit log, committed with the session that read the case."""
    session.add(AuditEntry(actor=actor, action=action, referral_id=referral_id, detail=detail[:DETAIL_MAX]))


def entries(
    session: Session, limit: int, reference: str = "", actor: str = "", before_id: int | None = None
) -> Sequence[Row[AuditEntry, str]]:
    """Audit lines newest first, each with its referral's reference: of one referral, one
    actor, or older than before_id when given."""
    query = (
        select(AuditEntry, Referral.reference)
        .outerjoin(Referral, Referral.id == AuditEntry.referral_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if reference:
        query = query.where(Referral.reference == reference)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return session.execute(query).all()
