"""A referral's timeline: one Event per thing that happened to it, with who and when."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.models import Event, Officer, Referral
from gateway.vocabulary import EventKind

# Actor of the gateway's own steps.
SYSTEM = "system"
# Actor of what the SMS provider reported.
PROVIDER = "provider"


# How an officer appears as an actor: this and their id.
OFFICER_PREFIX = "officer:"
# How a person of the admin web appears as an actor: this and their email.
USER_PREFIX = "user:"
# An officer named in an actor or a detail ("step 0: officer:1 (on_duty)").
OFFICER_MENTION = re.compile(rf"\b{OFFICER_PREFIX}(\d+)\b")


def officer_actor(officer: Officer) -> str:
    """How an officer appears as an actor (an id, never a phone number)."""
    return f"{OFFICER_PREFIX}{officer.id}"


def officer_of(actor: str) -> int | None:
    """The id of the officer an actor names (officer_actor's inverse), or None."""
    found = OFFICER_MENTION.fullmatch(actor)
    return int(found[1]) if found else None


def record(
    session: Session,
    referral: int | Referral,
    kind: EventKind,
    actor: str,
    detail: str = "",
    at: datetime | None = None,
    private: bytes | None = None,
) -> None:
    """Add one line to a referral's timeline (in the caller's transaction): the only writer of events.
    private: encrypted words (a note), shown only to who may read the case's private fields.
    referral: its id, or the referral itself (one not written yet gets its line when it is)."""
    # Every line with the same columns set: the lines of one flush go in one INSERT.
    at = at or utcnow()
    of = {"referral_id": referral} if isinstance(referral, int) else _of(referral)
    session.add(Event(**of, kind=kind, actor=actor, detail=detail[:300], note_enc=private, at=at))


def _of(referral: Referral) -> dict[str, object]:
    # A written referral by its id: tying a line to the object would load its whole timeline.
    return {"referral_id": referral.id} if referral.id is not None else {"referral": referral}
