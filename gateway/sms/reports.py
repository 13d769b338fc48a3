"""Reports by SMS, when USSD fails: a volunteer's keyword forms, and anybody else's free text.

A volunteer's form (`menus.smsform`, read with the USSD menu's numbers) becomes the same
report or home visit a USSD session makes, routed and alerted the same way; the reply gives
its reference, or names the part that could not be read, with an example. Anybody else's
text becomes a report for triage (the district it names, else the national desk), answered
only with a short acknowledgement and the 116 helpline: never what they wrote.

The same text from the same phone within SMS_DUPLICATE_WINDOW makes no second report (a
phone that resends); the provider's own resends are caught before, by their id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway import keys
from gateway.models import Report, Visit
from gateway.referrals import reports
from gateway.registry.imports import clean_name
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.ussd.callers import Caller
from gateway.vocabulary import AgeBand, Category, Channel, MessageKind, ReportKind, Sex
from menus import smsform
from menus.smsform import FormError, FormPart, HelpForm, ReportForm, VisitForm

# Most words a village name (or cell/village) after @ may have.
VILLAGE_WORDS_MAX = 6
# How the session id of a report or visit made by SMS starts, and the longest one (the column's size).
SMS_SESSION_PREFIX = "sms-"
SESSION_ID_MAX = 100
# The tree version a community SMS's report is stored with (it went through no menu).
SMS_TRIAGE_VERSION = "sms"
_WORDS = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


@dataclass
class Effects:
    """What an inbound SMS leaves to do once its transaction is committed."""

    # Messages to dispatch.
    messages: list[int] = field(default_factory=list)
    # Reports and visits to route.
    reports: list[int] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    # The Redis key that marks this phone's text as seen (resends within the window make nothing).
    seen: str | None = None


def from_volunteer(rt: Runtime, session: Session, caller: Caller, provider_id: str, text: str) -> Effects:
    """A registered volunteer's SMS: a report, a home visit, or HELP; else what could not be read."""
    tree = rt.menus.active()
    try:
        form = smsform.parse(tree, text, caller.lang)
        if isinstance(form, HelpForm):
            keys_ = ("form_keyword", "form_numbers")
            return Effects([_reply(session, caller, texts.say(k, form.lang, code=_code(rt))) for k in keys_])
        seen = seen_key(rt, caller, text)
        if rt.redis.exists(seen):
            return Effects()
        session_id = sms_session_id(provider_id)
        if isinstance(form, VisitForm):
            return _visit(session, caller, form, session_id, seen)
        return _report(rt, session, caller, form, session_id, tree.version, seen)
    except FormError as failed:
        body = texts.say(f"form_{failed.part}", failed.lang, code=_code(rt))
        return Effects([_reply(session, caller, body)])


def _report(
    rt: Runtime, session: Session, caller: Caller, form: ReportForm, session_id: str, version: str, seen: str
) -> Effects:
    village_id, details = caller.village_id, form.details
    if form.place_words:
        found = find_village(rt, caller, form.place_words)
        if found is None:
            raise FormError(FormPart.VILLAGE, form.lang)
        village_id, details = found
    answers = {**form.answers, "location": village_id, "details": details}
    values = reports.report_values(rt, caller, answers, form.lang, version)
    report = reports.add(session, Report, {**values, "session_id": session_id, "channel": Channel.SMS})
    body = texts.say("report_received", form.lang, ref=report.reference)
    return Effects([_reply(session, caller, body)], reports=[report.id], seen=seen)


def _visit(session: Session, caller: Caller, form: VisitForm, session_id: str, seen: str) -> Effects:
    values = reports.visit_values(caller, form.household, list(form.concerns))
    visit = reports.add(session, Visit, {**values, "session_id": session_id})
    key = "visit_concerns" if form.concerns else "visit_received"
    body = texts.say(key, form.lang, ref=visit.reference)
    return Effects([_reply(session, caller, body)], visits=[visit.id] if form.concerns else [], seen=seen)


def find_village(rt: Runtime, caller: Caller, words: tuple[str, ...]) -> tuple[int, str] | None:
    """The village the first words after @ name ("Ubumwe", "Katabaro/Ubumwe"), looked for in the
    volunteer's cell, then sector, then district (the first place where exactly one has the name),
    and the words that follow it (the few words); None if no such village, or several."""
    places = rt.places
    district = places.ancestor(caller.village_id, "district")
    if district is None:
        return None
    # (village id, sector id, cell id, cell key, village key) of every village of the district.
    villages: list[tuple[int, int, int, str, str]] = []
    for sector_id, _ in places.children(district.id):
        for cell_id, cell_name in places.children(sector_id):
            villages += [(v, sector_id, cell_id, _key(cell_name), _key(name)) for v, name in places.children(cell_id)]
    home_cell = places.ancestor(caller.village_id, "cell")
    home_sector = places.ancestor(caller.village_id, "sector")
    nearness = (
        lambda v: home_cell is not None and v[2] == home_cell.id,
        lambda v: home_sector is not None and v[1] == home_sector.id,
        lambda v: True,
    )
    for size in range(min(len(words), VILLAGE_WORDS_MAX), 0, -1):
        cell, _, village = _key(" ".join(words[:size])).rpartition("/")
        matches = [v for v in villages if v[4] == village and (not cell or v[3] == cell)]
        for near in nearness:
            found = [v for v in matches if near(v)]
            if len(found) == 1:
                return found[0][0], " ".join(words[size:])
            if found:
                return None  # several villages of that name, equally near: the volunteer must say which
    return None


def _key(name: str) -> str:
    return "/".join(clean_name(part).casefold() for part in name.split("/"))


def from_community(rt: Runtime, session: Session, caller: Caller, provider_id: str, text: str) -> Effects:
    """Anybody else's SMS: a report for triage, acknowledged in a few words (never echoed)."""
    if not text.strip():
        return Effects()
    seen = seen_key(rt, caller, text)
    if rt.redis.exists(seen):
        return Effects()
    district_id = district_named(rt, text)
    report = reports.add(
        session,
        Report,
        dict(
            session_id=sms_session_id(provider_id),
            kind=ReportKind.TRIAGE,
            channel=Channel.SMS,
            reporter_phone_enc=rt.crypto.encrypt(caller.phone),
            reporter_phone_hash=caller.phone_hash,
            category=Category.OTHER,
            # Nobody has read it yet: it climbs the chain as fast as an urgent case.
            urgent=True,
            age_band=AgeBand.UNKNOWN,
            sex=Sex.UNKNOWN,
            location_id=district_id,
            details_enc=rt.crypto.encrypt(text.strip()),
            # The phone may be shared with the person reported: nobody calls it back unasked.
            callback_ok=False,
            language=caller.lang,
            tree_version=SMS_TRIAGE_VERSION,
        ),
    )
    ack = _reply(session, caller, texts.say("sms_received", caller.lang))
    return Effects([ack], reports=[report.id], seen=seen)


def district_named(rt: Runtime, text: str) -> int | None:
    """The first district whose name is a word of text (a community SMS often says where)."""
    districts = {_key(name): place_id for place_id, name in rt.places.children(None)}
    for word in _WORDS.findall(text):
        found = districts.get(_key(word))
        if found is not None:
            return found
    return None


def seen_key(rt: Runtime, caller: Caller, text: str) -> str:
    """The Redis key of a phone's text (case and spacing do not count): a keyed hash, so that
    nothing of the text can be guessed from it."""
    return keys.sms_text(rt.crypto.lookup_hash(caller.phone + "\n" + " ".join(text.casefold().split())))


def sms_session_id(provider_id: str) -> str:
    """What stands for a USSD session id on a report or visit made by SMS: one per provider id."""
    if len(SMS_SESSION_PREFIX + provider_id) <= SESSION_ID_MAX:
        return SMS_SESSION_PREFIX + provider_id
    return SMS_SESSION_PREFIX + hashlib.sha256(provider_id.encode("utf-8")).hexdigest()


def remember(rt: Runtime, effects: Effects) -> None:
    """Once committed: the same text from the same phone makes nothing more for a while."""
    if effects.seen is not None:
        rt.redis.set(effects.seen, "1", ex=rt.settings.sms_duplicate_window)


def _reply(session: Session, caller: Caller, body: str) -> int:
    return outbox.add(session, to=caller.phone, body=body, kind=MessageKind.REPLY).id


def _code(rt: Runtime) -> str:
    return rt.settings.ussd_service_code
