"""USSD sessions: Africa's Talking's hops in, the engine's screens out.

Each hop costs one Redis read and one pipelined write; a resent hop gets the reply it
got before and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from gateway import callers, keys, reports
from gateway.callers import Caller
from gateway.runtime import Runtime
from menus import engine
from menus.engine import RESUME_NODE, Outcome, Screen, State

log = logging.getLogger(__name__)


def hop_key(text: str) -> str:
    """A short fingerprint of a hop's whole text, to recognise a resent hop."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


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
        raw = self.rt.redis.get(keys.ussd_session(session_id))
        session = self._load(raw) if raw else None
        if session is not None:
            earlier = session.replies.get(hop_key(text))
            if earlier is not None:
                return earlier
            if session.ended:
                return session.replies[hop_key(session.last_text)]
        if session is None:
            session, outcome = self._begin(phone)
        else:
            new_input = self._new_input(session.last_text, text)
            if new_input is None:
                # Not a continuation of this session's hops: show the current screen again.
                return session.replies[hop_key(session.last_text)]
            tree = self.rt.menus.get(session.version)
            places = self.rt.places
            outcome = engine.step(tree, State.from_dict(session.state), new_input, places, self.screen)
        caller = Caller(**session.caller)
        reply = self._carry_out(session_id, session, caller, outcome)
        session.state = outcome.state.to_dict()
        session.last_text = text
        session.ended = outcome.end
        session.replies[hop_key(text)] = reply
        self._save(session_id, session, caller, outcome)
        return reply

    def error_reply(self, session_id: str) -> str:
        """The polite END screen for a hop that failed, in the caller's language if known."""
        tree = self.rt.menus.active()
        lang = tree.languages[0]
        try:
            raw = self.rt.redis.get(keys.ussd_session(session_id))
            if raw:
                lang = self._load(raw).state.get("lang", lang)
        except Exception:
            log.warning("session unreadable while answering an error")
        return "END " + tree.string("session_error", lang)

    # --- one hop ---------------------------------------------------------------------

    def _begin(self, phone: str) -> tuple[Session, Outcome]:
        caller = callers.profile(self.rt, phone)
        draft = self.rt.redis.get(keys.draft(caller.phone_hash))
        if draft:
            saved = json.loads(self.rt.crypto.decrypt(draft.encode()))
            tree = self.rt.menus.get(saved["version"])
            outcome = engine.offer_resume(tree, State.from_dict(saved["state"]), self.rt.places, self.screen)
            version = saved["version"]
        else:
            tree = self.rt.menus.active()
            outcome = engine.start(tree, caller.kind, caller.lang, self.rt.places, self.screen, caller.home)
            version = tree.version
        caller_data = {k: v for k, v in caller.__dict__.items()}
        return Session(version=version, caller=caller_data, state=outcome.state.to_dict()), outcome

    @staticmethod
    def _new_input(last_text: str, text: str) -> str | None:
        """What this hop adds to the last one (free text may itself hold '*')."""
        if last_text == "":
            return text
        if text.startswith(last_text + "*"):
            return text[len(last_text) + 1 :]
        return None

    def _carry_out(self, session_id: str, session: Session, caller: Caller, outcome: Outcome) -> str:
        """Do the outcome's effects and fill in what they return; the reply to send."""
        text = outcome.text
        tree = self.rt.menus.get(session.version)
        for effect in outcome.effects:
            if effect.action == "submit_report":
                reference = reports.submit_report(
                    self.rt, session_id, caller, effect.data, outcome.state.lang, session.version
                )
                text = text.replace("{reference}", reference)
            elif effect.action == "record_visit":
                reference = reports.record_visit(self.rt, session_id, caller, effect.data)
                text = text.replace("{reference}", reference)
            elif effect.action == "check_report":
                reference = str(effect.data.get("reference", ""))
                key = reports.status_key(self.rt, reference, caller)
                line = tree.string(key, outcome.state.lang).replace("{reference}", reference)
                text = text.replace("{status}", line)
            elif effect.action == "set_language":
                callers.remember_language(self.rt, caller.phone_hash, effect.data["lang"])
                session.caller["lang"] = effect.data["lang"]
        return ("END " if outcome.end else "CON ") + text

    def _save(self, session_id: str, session: Session, caller: Caller, outcome: Outcome) -> None:
        """Write the session and keep (or drop) the phone's resumable draft, in one round trip."""
        settings = self.rt.settings
        pipe = self.rt.redis.pipeline(transaction=False)
        pipe.set(keys.ussd_session(session_id), self._dump(session), ex=settings.ussd_session_ttl)
        state = outcome.state
        draft_key = keys.draft(caller.phone_hash)
        if state.node == RESUME_NODE:
            pass
        elif not outcome.end and "category" in state.answers:
            draft = json.dumps({"version": session.version, "state": state.to_dict()})
            pipe.set(draft_key, self.rt.crypto.encrypt(draft), ex=settings.resume_window)
        else:
            pipe.delete(draft_key)
        pipe.execute()

    def _dump(self, session: Session) -> bytes:
        return self.rt.crypto.encrypt(json.dumps(session.__dict__))

    def _load(self, raw: str) -> Session:
        return Session(**json.loads(self.rt.crypto.decrypt(raw.encode())))
