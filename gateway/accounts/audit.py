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
# Admin web: a person signed in, was refused, or signed out.
ADMIN_LOGIN = "admin_login"
ADMIN_LOGIN_REFUSED = "admin_login_refused"
ADMIN_LOGOUT = "admin_logout"
# Menu editor: a draft was made, saved, deleted, published; a version restored; translations imported.
MENU_DRAFT_CREATED = "menu_draft_created"
MENU_DRAFT_SAVED = "menu_draft_saved"
MENU_DRAFT_DELETED = "menu_draft_deleted"
MENU_PUBLISHED = "menu_published"
MENU_RESTORED = "menu_restored"
MENU_TRANSLATIONS_IMPORTED = "menu_translations_imported"
# Admin web, cases: a change made through the lifecycle (detail: which, e.g. "closed: referred").
CASE_CHANGED = "case_changed"
# A case list was exported (detail: how many rows and the filters); private fields: one
# READ_REFERRAL_PRIVATE line per case whose fields went out.
EXPORT_CASES = "export_cases"
# Admin web, registry: an officer added or changed, put on or off duty, (de)activated; a
# volunteer (de)activated; a registry file imported (detail: what changed).
REGISTRY_CHANGED = "registry_changed"
# Admin web, users: created, role changed, (de)activated, tokens revoked.
USER_CHANGED = "user_changed"
# A person confirmed or undid a referral's "possibly the same as" link.
DECIDE_DUPLICATE = "decide_duplicate"
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
