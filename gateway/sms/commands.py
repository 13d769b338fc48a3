"""Officers' SMS commands: the whole case from a basic phone, every change through the lifecycle.

    OK <ref>                      take the case (the others alerted are told)
    DONE <ref> <outcome> [note]   close it: outcome 1-5 or a word (texts.OUTCOME_WORDS), then a note
    INFO <ref>                    a one-SMS summary (audited)
    REOPEN <ref>                  a closed case open again, the sender's
    TRANSFER <ref> <district>     placed in the wrong district: routed there from the start
    SAME <ref> / NOTSAME <ref>    confirm or undo "possibly the same as" on a case
    DUTY ON | DUTY OFF            the sender on or off duty
    CASES                         the sender's open cases, references and age
    HELP                          the commands

Anything else, a mistyped or unknown reference, or a case the officer may not act on gets
a short help or refusal SMS and changes nothing. This module parses and answers; what
happens to a case is `gateway.referrals.lifecycle`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.accounts import audit
from gateway.models import Location, Officer, Referral
from gateway.referrals import lifecycle, routing, timeline
from gateway.registry.imports import find_district
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.vocabulary import MessageKind, ReferralStatus
from menus.reference import is_valid


class Verb(StrEnum):
    """The commands an officer may send (the first word, any case)."""

    OK = "OK"  # acknowledge
    DONE = "DONE"  # close with an outcome
    INFO = "INFO"  # summary
    REOPEN = "REOPEN"  # open a closed case again
    TRANSFER = "TRANSFER"  # move to another district
    SAME = "SAME"  # confirm a possible duplicate
    NOTSAME = "NOTSAME"  # undo a possible duplicate
    DUTY = "DUTY"  # on or off duty
    CASES = "CASES"  # the sender's open cases
    HELP = "HELP"  # the commands


# Commands about one case: they need a reference.
CASE_VERBS = frozenset(Verb) - {Verb.DUTY, Verb.CASES, Verb.HELP}
# A word, then maybe a number, then the rest (DONE's note): "OK 4830271", "ok4830271", "DONE 4830271 2 seen".
_COMMAND = re.compile(r"^\s*(?P<verb>[A-Za-z]+)[\s:.,#-]*(?P<ref>\d+)?(?P<rest>.*)$", re.DOTALL)
# Longest reference echoed back in a refusal.
ECHO_MAX = 12
# Longest district name read from TRANSFER.
DISTRICT_MAX = 40


@dataclass(frozen=True)
class Command:
    verb: Verb
    reference: str | None
    note: str


def parse(text: str) -> Command | None:
    """The command in an SMS, or None when it is not one of Verb."""
    match = _COMMAND.match(text or "")
    if match is None or match["verb"].upper() not in tuple(Verb):
        return None
    return Command(Verb(match["verb"].upper()), match["ref"], match["rest"].strip())


def handle(rt: Runtime, session: Session, officer: Officer, text: str, now: datetime) -> list[int]:
    """Carry out one officer's SMS (in the caller's transaction); the messages to dispatch."""
    lang = officer.language
    command = parse(text)
    if command is None or command.verb == Verb.HELP:
        return [_reply(session, officer, MessageKind.HELP, texts.say("help", lang))]
    if command.verb == Verb.DUTY:
        return [_duty(session, officer, command.note)]
    if command.verb == Verb.CASES:
        return [_cases(session, officer, now)]
    ref = command.reference
    if ref is None:
        return [_reply(session, officer, MessageKind.HELP, texts.say("help", lang))]
    if not is_valid(ref):
        return [_reply(session, officer, MessageKind.HELP, texts.say("bad_reference", lang, ref=ref[:ECHO_MAX]))]
    referral = session.scalar(select(Referral).where(Referral.reference == ref).with_for_update())
    if referral is None:
        return [_reply(session, officer, MessageKind.HELP, texts.say("unknown_reference", lang, ref=ref))]
    if not lifecycle.may_act(session, officer, referral):
        body = texts.say(lifecycle.Refusal.NOT_ALLOWED, lang, ref=ref)
        return [_reply(session, officer, MessageKind.HELP, body)]
    try:
        body, follow_ups = _on_case(rt, session, officer, referral, command, now)
    except lifecycle.LifecycleError as refused:
        body, follow_ups = texts.say(refused.refusal, lang, ref=ref), []
    return [_reply(session, officer, MessageKind.REPLY, body, referral.id), *follow_ups]


def _on_case(
    rt: Runtime, session: Session, officer: Officer, referral: Referral, command: Command, now: datetime
) -> tuple[str, list[int]]:
    """One command about a case: the reply, and the other messages it wrote."""
    lang, ref = officer.language, referral.reference
    if command.verb == Verb.OK:
        notices = lifecycle.acknowledge(session, referral, officer, now)
        return texts.say("acknowledged", lang, ref=ref), notices
    if command.verb == Verb.DONE:
        word, _, note = command.note.partition(" ")
        outcome = texts.outcome(word)
        if outcome is None:
            return texts.say("outcome_missing", lang, ref=ref), []
        lifecycle.close(rt, session, referral, officer, now, note=note.strip(), outcome=outcome)
        return texts.say("closed", lang, ref=ref), []
    if command.verb == Verb.REOPEN:
        lifecycle.reopen(session, referral, officer, now)
        return texts.say("reopened", lang, ref=ref), []
    if command.verb == Verb.TRANSFER:
        district = _district(session, command.note)
        if district is None:
            return texts.say("unknown_district", lang, ref=ref), []
        alerts = lifecycle.transfer(rt, session, referral, officer, district.id, now)
        return texts.say("transferred", lang, ref=ref, district=district.name), alerts
    if command.verb == Verb.SAME:
        earlier = lifecycle.confirm_duplicate(session, referral, officer, now)
        return texts.say("dup_confirmed", lang, ref=ref, other=earlier.reference), []
    if command.verb == Verb.NOTSAME:
        earlier = lifecycle.unlink_duplicate(session, referral, officer, now)
        return texts.say("dup_unlinked", lang, ref=ref, other=earlier.reference), []
    return summary(rt, session, referral, officer), []


def _district(session: Session, name: str) -> Location | None:
    name = name.strip(" .,;:")[:DISTRICT_MAX]
    return find_district(session, name) if name else None


def _duty(session: Session, officer: Officer, rest: str) -> int:
    """DUTY ON / DUTY OFF: new cases of the district come to the sender first, or not."""
    word = rest.strip().upper()
    if word not in ("ON", "OFF"):
        return _reply(session, officer, MessageKind.HELP, texts.say("help", officer.language))
    officer.on_duty = word == "ON"
    return _reply(session, officer, MessageKind.REPLY, texts.say(f"duty_{word.lower()}", officer.language))


def _cases(session: Session, officer: Officer, now: datetime) -> int:
    """CASES: the sender's open cases, oldest first, as many as one SMS holds (audited as a list)."""
    lang = officer.language
    rows = session.scalars(
        select(Referral)
        .where(Referral.acknowledged_by_id == officer.id, Referral.status == ReferralStatus.ACKNOWLEDGED)
        .order_by(Referral.acknowledged_at, Referral.id)
    ).all()
    audit.record(session, timeline.officer_actor(officer), audit.LIST_REFERRALS, detail=f"CASES by SMS: {len(rows)}")
    if not rows:
        return _reply(session, officer, MessageKind.REPLY, texts.say("cases_none", lang))
    items = [f"{r.reference} {_age(now - (r.acknowledged_at or r.created_at))}" for r in rows]
    shown = len(items)
    while True:
        more = texts.say("cases_more", lang, count=len(items) - shown) if shown < len(items) else ""
        body = texts.say("cases", lang, count=len(items), cases=", ".join(items[:shown])) + more
        if len(body) <= texts.SMS_LIMIT or shown == 1:
            return _reply(session, officer, MessageKind.REPLY, body)
        shown -= 1


def _age(held: timedelta) -> str:
    """How long a case has been held: "3d" (days), else "5h" (hours)."""
    return f"{held.days}d" if held.days else f"{held.seconds // 3600}h"


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
        place=routing.place_label(rt, referral) or texts.say("no_place", officer.language),
        status=referral.status,
        since=since,
    )


def _reply(session: Session, officer: Officer, kind: MessageKind, body: str, referral_id: int | None = None) -> int:
    return outbox.add(
        session, to=officer.phone, body=body, kind=kind, referral_id=referral_id, officer_id=officer.id
    ).id
