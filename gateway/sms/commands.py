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

from gateway import keys
from gateway.accounts import audit
from gateway.models import Officer, Referral
from gateway.referrals import lifecycle, timeline
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.ussd import callers
from gateway.vocabulary import MessageKind, ReferralStatus
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
    command = parse(text)
    if command is None or command.reference is None:
        return [_reply(session, officer, MessageKind.HELP, texts.say("help", officer.language))]
    ref = command.reference
    if not is_valid(ref):
        body = texts.say("bad_reference", officer.language, ref=ref[:ECHO_MAX])
        return [_reply(session, officer, MessageKind.HELP, body)]
    referral = session.scalar(select(Referral).where(Referral.reference == ref).with_for_update())
    if referral is None:
        return [_reply(session, officer, MessageKind.HELP, texts.say("unknown_reference", officer.language, ref=ref))]
    if not lifecycle.may_act(session, officer, referral):
        body = texts.say(lifecycle.Refusal.NOT_ALLOWED, officer.language, ref=ref)
        return [_reply(session, officer, MessageKind.HELP, body)]
    lang = officer.language
    notices: list[int] = []
    try:
        if command.verb == "OK":
            notices = lifecycle.acknowledge(session, referral, officer, now)
            body = texts.say("acknowledged", lang, ref=ref)
        elif command.verb == "DONE":
            if not command.note:
                body = texts.say("note_missing", lang, ref=ref)
            else:
                lifecycle.close(rt, session, referral, officer, now, note=command.note)
                body = texts.say("closed", lang, ref=ref)
        else:
            body = summary(rt, session, referral, officer)
    except lifecycle.LifecycleError as refused:
        body = texts.say(refused.refusal, lang, ref=ref)
    return [_reply(session, officer, MessageKind.REPLY, body, referral.id), *notices]


def summary(rt: Runtime, session: Session, referral: Referral, officer: Officer) -> str:
    """INFO <ref>: the case in one SMS (a read of a case by a person: audited)."""
    audit.record(session, timeline.officer_actor(officer), audit.READ_REFERRAL_SMS, referral.id)
    since = referral.closed_at if referral.status == ReferralStatus.CLOSED else referral.acknowledged_at
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


def _reply(session: Session, officer: Officer, kind: MessageKind, body: str, referral_id: int | None = None) -> int:
    return outbox.add(
        session, to=officer.phone, body=body, kind=kind, referral_id=referral_id, officer_id=officer.id
    ).id


def _refuse_stranger(rt: Runtime, session: Session, phone: str) -> list[int]:
    """A phone that is no officer's: one short refusal per hour at most (replies cost money)."""
    caller = callers.profile(rt, phone)
    if not rt.redis.set(keys.sms_refusal(caller.phone_hash), "1", nx=True, ex=keys.SMS_REFUSAL_TTL):
        return []
    body = texts.say("not_officer", caller.lang, code=rt.settings.ussd_service_code)
    return [outbox.add(session, to=phone, body=body, kind=MessageKind.HELP).id]
