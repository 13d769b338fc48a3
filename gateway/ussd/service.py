"""USSD sessions: Africa's Talking's hops in, the engine's screens out.

Each hop costs one Redis round trip to read and one to write (redis_conn.round_trip), the confirm's hand-over of its
report to the workers included; a resent hop gets the reply it got before and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway import keys, limits, metrics
from gateway.limits import Limit
from gateway.models import Message, UssdSessionEnd
from gateway.redis_conn import Command, round_trip
from gateway.referrals import reports
from gateway.runtime import Runtime
from gateway.ussd import callers, notices
from gateway.ussd.callers import Caller
from gateway.vocabulary import CallerKind, MessageKind
from menus import engine
from menus.engine import Outcome, Screen, State

log = logging.getLogger(__name__)

# End-of-session statuses that mean the caller was cut off (timeout, cancel key, network).
DROPPED = ("Incomplete", "Failed")
# Replies a session keeps, the latest hops' (a report takes about 10 hops, a long place
# search 30): with TEXT_MAX and INPUT_MAX, a session's size stays bounded however many hops it has.
REPLIES_KEPT = 64
# Longest input a caller can type in one hop (a network allows about 160 characters).
INPUT_MAX = 300
# Seconds after its last hop a draft's session may still be going on: until then, or until
# its end is notified, another session of the same phone is not offered that draft.
DRAFT_LIVE_SECONDS = 30


def hop_key(text: str) -> str:
    """A short fingerprint of a hop's whole text, to recognise a resent hop."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


@dataclass
class Draft:
    """A half-done report or visit a phone may pick up again (encrypted in Redis)."""

    version: str
    session_id: str
    state: dict[str, Any]
    # When its session last wrote it (time.time()), and whether that session has ended.
    at: float = 0.0
    ended: bool = False

    def offerable_to(self, session_id: str) -> bool:
        """Only a draft whose own session is over is offered to another session: two sessions
        of one phone at once never share answers."""
        return self.ended or self.session_id == session_id or time.time() - self.at > DRAFT_LIVE_SECONDS


@dataclass
class Session:
    """What Redis keeps of a USSD session (encrypted: it may hold free text)."""

    version: str
    caller: dict[str, Any]
    state: dict[str, Any]
    last_text: str = ""
    ended: bool = False
    replies: dict[str, str] = field(default_factory=dict)


class UssdService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.screen = Screen(max_chars=rt.settings.ussd_max_chars)

    def handle(self, session_id: str, phone: str, text: str) -> str:
        """The reply to one hop: "CON ..." or "END ..."."""
        # A session's first hop (empty text) reads the phone's cached profile and draft in
        # the same round trip as the session; a later hop needs them only if its session is gone.
        first = text == ""
        phone_hash = self.rt.crypto.lookup_hash(phone) if first else ""
        phone_keys = [keys.caller(phone_hash), keys.draft(phone_hash)] if first else []
        raw, *phone_data = round_trip(self.rt.redis, ("MGET", keys.ussd_session(session_id), *phone_keys))[0]
        session = self._load(raw) if raw else None
        if session is not None and session.caller.get("phone") != phone:
            # Another phone with this session's id: it may neither read nor move the session.
            log.warning("a hop of session %s came from another phone; refused", session_id)
            return notices.notice("bad_request")
        if session is not None:
            earlier = session.replies.get(hop_key(text))
            if earlier is not None:
                return earlier
            if session.ended:
                return session.replies[hop_key(session.last_text)]
        if session is None:
            if not first:
                phone_hash = self.rt.crypto.lookup_hash(phone)
                phone_data = round_trip(self.rt.redis, ("MGET", keys.caller(phone_hash), keys.draft(phone_hash)))[0]
            session, outcome = self._begin(session_id, phone, phone_hash, *phone_data)
            metrics.SESSIONS_STARTED.inc()
        else:
            new_input = self._new_input(session.last_text, text)
            if new_input is None:
                # Not a continuation of this session's hops: show the current screen again.
                return session.replies[hop_key(session.last_text)]
            if len(new_input) > INPUT_MAX:
                return notices.notice("too_long", str(session.state.get("lang", "")))
            tree = self.rt.menus.get(session.version)
            places = self.rt.places
            outcome = engine.step(tree, State.from_dict(session.state), new_input, places, self.screen)
        caller = Caller(**session.caller)
        # Redis commands the effects leave for the session's write (the confirm's hand-over to the workers).
        then: list[Command] = []
        reply = self._carry_out(session_id, session, caller, outcome, then)
        if outcome.end:
            metrics.SESSIONS_ENDED.inc()
        session.state = outcome.state.to_dict()
        session.last_text = text
        session.ended = outcome.end
        session.replies[hop_key(text)] = reply
        for old in list(session.replies)[:-REPLIES_KEPT]:
            del session.replies[old]
        self._save(session_id, session, caller, outcome, then)
        return reply

    def error_reply(self, session_id: str) -> str:
        """The polite END screen for a hop that failed, in the caller's language if known.

        It needs nothing but this process's memory (the database may be what failed)."""
        tree = self.rt.menus.last_active()
        lang = tree.languages[0]
        try:
            raw = cast(str | None, self.rt.redis.get(keys.ussd_session(session_id)))
            if raw:
                lang = self._load(raw).state.get("lang", lang)
        except Exception:
            log.warning("session unreadable while answering an error")
        return "END " + tree.string("session_error", lang)

    # --- one hop ---------------------------------------------------------------------

    def _begin(
        self, session_id: str, phone: str, phone_hash: str, cached: str | None, raw_draft: str | None
    ) -> tuple[Session, Outcome]:
        """A new session's first screen, from the phone's cached profile and draft (as read)."""
        caller = callers.from_cache(self.rt, phone, phone_hash, cached)
        draft = self._draft(caller, raw_draft)
        if draft is not None and draft.offerable_to(session_id):
            tree = self.rt.menus.get(draft.version)
            outcome = engine.offer_resume(tree, State.from_dict(draft.state), self.rt.places, self.screen)
            version = draft.version
        else:
            tree = self.rt.menus.active()
            notice = "not_registered" if caller.deactivated else None
            outcome = engine.start(tree, caller.kind, caller.lang, self.rt.places, self.screen, caller.home, notice)
            version = tree.version
        caller_data = {k: v for k, v in caller.__dict__.items()}
        # handle() fills in the state after the effects.
        return Session(version=version, caller=caller_data, state={}), outcome

    def _draft(self, caller: Caller, raw: str | None) -> Draft | None:
        """The phone's resumable draft (raw, as read from Redis), if it is still usable by
        this caller; else None."""
        if not raw:
            return None
        key = keys.draft(caller.phone_hash)
        try:
            draft = Draft(**orjson.loads(self.rt.crypto.unseal(raw)))
            self.rt.menus.get(draft.version)
        except Exception:
            # A draft nobody can resume must not stand between the caller and the menu.
            log.warning("dropping an unreadable draft")
            self.rt.redis.delete(key)
            return None
        if draft.state.get("caller") != caller.kind:
            # Registered or deactivated since: the half-done flow may not be theirs any more.
            self.rt.redis.delete(key)
            return None
        return draft

    @staticmethod
    def _new_input(last_text: str, text: str) -> str | None:
        """What this hop adds to the last one (free text may itself hold '*')."""
        if last_text == "":
            return text
        if text.startswith(last_text + "*"):
            return text[len(last_text) + 1 :]
        return None

    def _carry_out(
        self, session_id: str, session: Session, caller: Caller, outcome: Outcome, then: list[Command]
    ) -> str:
        """Do the outcome's effects and fill in what they return; the reply to send. Redis
        commands an effect leaves for later go into then."""
        text = outcome.text
        tree = self.rt.menus.get(session.version)
        for effect in outcome.effects:
            if effect.action in ("submit_report", "record_visit") and not self._may_file(caller):
                return notices.notice("too_many_reports", outcome.state.lang)
            if effect.action == "submit_report":
                reference = reports.submit_report(
                    self.rt, session_id, caller, effect.data, outcome.state.lang, session.version, then
                )
                text = text.replace("{reference}", reference)
            elif effect.action == "record_visit":
                reference = reports.record_visit(self.rt, session_id, caller, effect.data, then)
                text = text.replace("{reference}", reference)
            elif effect.action == "check_report":
                if not limits.allow(self.rt, Limit.LOOKUP, caller.phone_hash, self.rt.settings.lookups_per_hour):
                    return notices.notice("too_many_lookups", outcome.state.lang)
                reference = str(effect.data.get("reference", ""))
                key = reports.status_key(self.rt, reference, caller)
                line = tree.string(key, outcome.state.lang).replace("{reference}", reference)
                text = text.replace("{status}", line)
            elif effect.action == "set_language":
                callers.remember_language(self.rt, caller, effect.data["lang"])
                session.caller["lang"] = effect.data["lang"]
        return engine.reply(outcome.end, text)

    def _may_file(self, caller: Caller) -> bool:
        """Within the phone's reports this hour (a registered volunteer may file more)."""
        settings = self.rt.settings
        per_hour = (
            settings.reports_per_hour_volunteer if caller.kind == "volunteer" else settings.reports_per_hour_unknown
        )
        return limits.allow(self.rt, Limit.REPORT, caller.phone_hash, per_hour)

    def _save(self, session_id: str, session: Session, caller: Caller, outcome: Outcome, then: list[Command]) -> None:
        """Write the session and keep (or drop) the phone's resumable draft, with the commands the
        effects left (then, sent first), in one round trip."""
        settings = self.rt.settings
        writes: list[Command] = [
            *then,
            ("SET", keys.ussd_session(session_id), self._dump(session), "EX", settings.ussd_session_ttl),
        ]
        state = outcome.state
        draft_key = keys.draft(caller.phone_hash)
        if state.node == engine.RESUME_NODE:
            pass  # the question itself: the draft waits for the answer
        elif (
            not outcome.end
            and settings.resume_window > 0
            and engine.resumable(self.rt.menus.get(session.version), state)
        ):
            # session.state is the outcome's state, as a dict already.
            draft = Draft(version=session.version, session_id=session_id, state=session.state, at=time.time())
            writes.append(("SET", draft_key, self.rt.crypto.seal(_json(draft.__dict__)), "EX", settings.resume_window))
        else:
            writes.append(("DEL", draft_key))
        round_trip(self.rt.redis, *writes)

    # --- the end of a session ----------------------------------------------------------

    def record_end(self, end: UssdSessionEnd) -> bool:
        """Keep an end-of-session notification; False when it was kept before (a resend)."""
        try:
            with self.rt.db.transaction() as session:
                seen = select(UssdSessionEnd.id).where(UssdSessionEnd.session_id == end.session_id)
                if session.scalar(seen) is not None:
                    return False
                session.add(end)
        except IntegrityError:
            return False  # the same notification, resent at the same moment
        return True

    def session_ended(self, session_id: str, phone: str | None, status: str) -> None:
        """Africa's Talking says a session is over: forget its hops; a dropped one's draft
        waits RESUME_WINDOW from now, and a volunteer may get one SMS saying how to continue.
        A notification naming another phone than the session's changes nothing."""
        raw = cast(str | None, self.rt.redis.get(keys.ussd_session(session_id)))
        if raw and self._load(raw).caller.get("phone") != phone:
            log.warning("end of session %s notified for another phone; ignored", session_id)
            return
        self.rt.redis.delete(keys.ussd_session(session_id))
        if phone is None or status not in DROPPED:
            return
        caller = callers.profile(self.rt, phone)
        draft = self._draft(caller, cast(str | None, self.rt.redis.get(keys.draft(caller.phone_hash))))
        if draft is None or draft.session_id != session_id:
            return  # nothing under way, or already picked up by a newer session
        draft.ended = True
        self.rt.redis.set(
            keys.draft(caller.phone_hash),
            self.rt.crypto.seal(_json(draft.__dict__)),
            ex=self.rt.settings.resume_window,
        )
        if self.rt.settings.resume_sms_volunteers and caller.kind == CallerKind.VOLUNTEER:
            self._queue_resume_sms(caller, draft)

    def _queue_resume_sms(self, caller: Caller, draft: Draft) -> None:
        """Write the "dial again to continue" SMS (never a word of the report itself)."""
        tree = self.rt.menus.get(draft.version)
        lang = str(draft.state.get("lang", caller.lang))
        minutes = max(1, self.rt.settings.resume_window // 60)
        body = (
            tree.string("resume_sms", lang)
            .replace("{code}", self.rt.settings.ussd_service_code)
            .replace("{minutes}", str(minutes))
        )
        with self.rt.db.transaction() as session:
            session.add(Message(kind=MessageKind.NOTICE, to=caller.phone, body=body))

    def _dump(self, session: Session) -> str:
        return self.rt.crypto.seal(_json(session.__dict__))

    def _load(self, raw: str) -> Session:
        return Session(**orjson.loads(self.rt.crypto.unseal(raw)))


def _json(data: dict[str, Any]) -> str:
    """JSON text of a session or draft (orjson: about half the cost of json on every hop)."""
    return orjson.dumps(data).decode("utf-8")
