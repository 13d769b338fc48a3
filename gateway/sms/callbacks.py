"""Provider callbacks (inbound SMS, delivery reports) seen before: the provider resends them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import ProviderCallback


def first_time(session: Session, kind: str, provider_id: str, status: str) -> bool:
    """Record a callback; False when it was handled before (the provider resends)."""
    seen = select(ProviderCallback.id).where(
        ProviderCallback.kind == kind, ProviderCallback.provider_id == provider_id, ProviderCallback.status == status
    )
    if session.scalar(seen) is not None:
        return False
    session.add(ProviderCallback(kind=kind, provider_id=provider_id, status=status))
    try:
        session.flush()
    except IntegrityError:
        # The same callback is being handled by another request right now.
        session.rollback()
        return False
    return True
