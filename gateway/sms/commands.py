"""Officers' SMS commands: OK <ref> acknowledges, DONE <ref> <note> closes, INFO <ref> summarises.

Anything else, a mistyped or unknown reference, or a phone that may not act on the case
gets a short help or refusal SMS and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import keys, limits
from gateway.accounts import audit
from gateway.limits import Limit
from gateway.models import Assignment, Message, Officer, Referral
from gateway.phones import in_country
from gateway.referrals import timeline
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.ussd import callers
from menus.reference import is_valid

# The commands an officer may send.
COMMANDS = ("OK", "DONE", "INFO")
# A word, then maybe a number, then the rest (DONE's note): "OK 4830271", "ok4830271", "DONE 4830271 seen".
_COMMAND = re.compile(r"^\s*(?P<verb>[A-Za-z]+)[\s:.,#-]*(?P<ref>\d+)?(?P<rest>.*)$", re.DOTALL)
# Longest reference echoed back in a refusal.
ECHO_MAX = 12


@dataclass(frozen=True)
class Command:
    verb: str
    reference: str | None
    note: str


def parse(text: str) -> Command | None:
    """The command in an SMS, or None when it is not one of COMMANDS."""
    match = _COMMAND.match(text or "")
    if match is None or match["verb"].upper() not in COMMANDS:
        return None
    return Command(match["verb"].upper(), match["ref"], match["rest"].strip())


def handle(rt: Runtime, session: Session, phone: str, text: str, now: datetime) -> list[int]:
    """Carry out one inbound SMS (in the caller's transaction); the reply messages to dispatch."""
    officer = session.scalar(select(Officer).where(Officer.phone == phone, Officer.active.is_(True)))
    if officer is None:
        return _refuse_stranger(rt, session, phone)
    phone_hash = rt.crypto.lookup_hash(phone)
    if not limits.allow(rt, Limit.COMMAND, phone_hash, rt.settings.commands_per_hour):
        # Past the hour's commands: nothing is done, and one SMS says so.
        if not limits.allow(rt, Limit.HELP_SMS, f"slow:{phone_hash}", 1):
            return []
        return [_reply(session, officer, "help", texts.say("slow_down", officer.language))]
    command = parse(text)
    if command is None or command.reference is None:
        # A help text costs an SMS: one an hour.
        if not limits.allow(rt, Limit.HELP_SMS, phone_hash, 1):
            return []
        return [_reply(session, officer, "help", texts.say("help", officer.language))]
    ref = command.reference
    if not is_valid(ref):
        return [_reply(session, officer, "help", texts.say("bad_reference", officer.language, ref=ref[:ECHO_MAX]))]
    referral = session.scalar(select(Referral).where(Referral.reference == ref).with_for_update())
    if referral is None:
        return [_reply(session, officer, "help", texts.say("unknown_reference", officer.language, ref=ref))]
    if not may_act(session, officer, referral):
        return [_reply(session, officer, "help", texts.say("not_your_case", officer.language, ref=ref))]
    if command.verb == "OK":
        taking = referral.status not in outbox.SETTLED
        body = acknowledge(session, referral, officer, now)
        if taking:
            return [_reply(session, officer, "reply", body, referral.id), *_tell_the_others(session, referral, officer)]
    elif command.verb == "DONE":
        body = close(rt, session, referral, officer, command.note, now)
    else:
        body = summary(rt, session, referral, officer)
    return [_reply(session, officer, "reply", body, referral.id)]


def may_act(session: Session, officer: Officer, referral: Referral) -> bool:
    """An officer of the referral's district, one it was sent to, or the national desk."""
    if officer.role == "national_desk" or officer.district_id == referral.district_id:
        return True
    sent_to = session.scalar(
        select(Assignment.id).where(Assignment.referral_id == referral.id, Assignment.officer_id == officer.id)
    )
    return sent_to is not None


def acknowledge(session: Session, referral: Referral, officer: Officer, now: datetime) -> str:
    """OK <ref>: the officer takes the case; escalation stops."""
    lang, ref = officer.language, referral.reference
    if referral.status == "closed":
        return texts.say("already_closed", lang, ref=ref)
    if referral.status == "acknowledged":
        key = "acknowledged" if referral.acknowledged_by_id == officer.id else "already_acknowledged"
        return texts.say(key, lang, ref=ref)
    referral.status = "acknowledged"
    referral.acknowledged_at = now
    referral.acknowledged_by_id = officer.id
    referral.escalate_at = None
    timeline.record(session, referral.id, "acknowledged", timeline.officer_actor(officer), "by SMS", now)
    return texts.say("acknowledged", lang, ref=ref)


def _tell_the_others(session: Session, referral: Referral, officer: Officer) -> list[int]:
    """Everyone else whose alert about the case went out hears that it is taken (one SMS each)."""
    others = session.scalars(
        select(Officer)
        .join(Message, Message.officer_id == Officer.id)
        .where(
            Message.referral_id == referral.id,
            Message.kind == "alert",
            Message.status.in_(("sent", "delivered")),
            Officer.id != officer.id,
        )
        .distinct()
        .order_by(Officer.id)
    ).all()
    return [
        _reply(session, other, "notice", texts.say("taken", other.language, ref=referral.reference), referral.id)
        for other in others
    ]


def close(rt: Runtime, session: Session, referral: Referral, officer: Officer, note: str, now: datetime) -> str:
    """DONE <ref> <note>: the case is closed; the note is kept encrypted."""
    lang, ref = officer.language, referral.reference
    if referral.status == "closed":
        return texts.say("already_closed", lang, ref=ref)
    if not note:
        return texts.say("note_missing", lang, ref=ref)
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
        referral.acknowledged_by_id = officer.id
    referral.status = "closed"
    referral.closed_at = now
    referral.close_note_enc = rt.crypto.encrypt(note)
    referral.escalate_at = None
    timeline.record(session, referral.id, "closed", timeline.officer_actor(officer), "by SMS, with a note", now)
    return texts.say("closed", lang, ref=ref)


def summary(rt: Runtime, session: Session, referral: Referral, officer: Officer) -> str:
    """INFO <ref>: the case in one SMS (a read of a case by a person: audited)."""
    audit.record(session, timeline.officer_actor(officer), audit.READ_REFERRAL_SMS, referral.id)
    since = referral.closed_at if referral.status == "closed" else referral.acknowledged_at
    return texts.info(
        officer.language,
        reference=referral.reference,
        urgent=referral.urgent,
        category_key=referral.category,
        age_band=referral.age_band,
        sex=referral.sex,
        place=rt.places.path_label(referral.location_id),
        status=referral.status,
        since=since,
    )


def _reply(session: Session, officer: Officer, kind: str, body: str, referral_id: int | None = None) -> int:
    return outbox.add(
        session, to=officer.phone, body=body, kind=kind, referral_id=referral_id, officer_id=officer.id
    ).id


def _refuse_stranger(rt: Runtime, session: Session, phone: str) -> list[int]:
    """A phone that is no officer's: one short refusal per hour at most (replies cost money),
    and none to a number outside the country (an attacker's premium or foreign numbers)."""
    if not in_country(phone, rt.settings.sms_country):
        limits.limited(Limit.HELP_SMS)
        return []
    caller = callers.profile(rt, phone)
    if not rt.redis.set(keys.sms_refusal(caller.phone_hash), "1", nx=True, ex=keys.SMS_REFUSAL_TTL):
        return []
    body = texts.say("not_officer", caller.lang, code=rt.settings.ussd_service_code)
    return [outbox.add(session, to=phone, body=body, kind="help").id]
