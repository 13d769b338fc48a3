"""Who is dialling: a registered volunteer or a community member, and in which language."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import cast

from sqlalchemy import select

from gateway import keys
from gateway.models import CallerPreference, Volunteer
from gateway.runtime import Runtime
from gateway.vocabulary import DEFAULT_LANGUAGE, CallerKind


@dataclass(frozen=True)
class Caller:
    phone: str
    phone_hash: str
    # CallerKind.VOLUNTEER (registered and active) or CallerKind.COMMUNITY.
    kind: str
    lang: str
    volunteer_id: int | None = None
    village_id: int | None = None
    village_name: str | None = None
    # A registered volunteer whose registration was ended.
    deactivated: bool = False

    @property
    def home(self) -> dict[str, object] | None:
        if self.kind != CallerKind.VOLUNTEER or self.village_id is None:
            return None
        return {"id": self.village_id, "name": self.village_name}


def profile(rt: Runtime, phone: str) -> Caller:
    """The caller's profile, from Redis when cached, else from SQL (then cached)."""
    phone_hash = rt.crypto.lookup_hash(phone)
    return from_cache(rt, phone, phone_hash, cast(str | None, rt.redis.get(keys.caller(phone_hash))))


def from_cache(rt: Runtime, phone: str, phone_hash: str, cached: str | None) -> Caller:
    """The caller's profile from its cached copy (as read from Redis), else from SQL (then cached)."""
    if cached:
        return Caller(phone=phone, **json.loads(cached))
    caller = _from_database(rt, phone, phone_hash)
    data = asdict(caller)
    data.pop("phone")
    rt.redis.set(keys.caller(phone_hash), json.dumps(data), ex=keys.CALLER_TTL)
    return caller


def _from_database(rt: Runtime, phone: str, phone_hash: str) -> Caller:
    """An active volunteer speaks the registry's language; anybody else the one they chose."""
    with rt.db.reading() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == phone))
        chosen = session.scalar(select(CallerPreference.language).where(CallerPreference.phone_hash == phone_hash))
        village_name = volunteer.village.name if volunteer else None
    if volunteer is not None and volunteer.active:
        return Caller(
            phone=phone,
            phone_hash=phone_hash,
            kind=CallerKind.VOLUNTEER,
            lang=volunteer.language,
            volunteer_id=volunteer.id,
            village_id=volunteer.village_id,
            village_name=village_name,
        )
    return Caller(
        phone=phone,
        phone_hash=phone_hash,
        kind=CallerKind.COMMUNITY,
        lang=chosen or (volunteer.language if volunteer else DEFAULT_LANGUAGE),
        deactivated=volunteer is not None,
    )


def remember_language(rt: Runtime, caller: Caller, lang: str) -> None:
    """Keep a caller's chosen language for their next dial: a registered volunteer's in the
    registry (where it comes from), anybody else's by (hashed) phone number."""
    with rt.db.transaction() as session:
        volunteer = session.get(Volunteer, caller.volunteer_id) if caller.kind == CallerKind.VOLUNTEER else None
        if volunteer is not None:
            volunteer.language = lang
        else:
            row = session.get(CallerPreference, caller.phone_hash)
            if row is None:
                session.add(CallerPreference(phone_hash=caller.phone_hash, language=lang))
            else:
                row.language = lang
    forget(rt, [caller.phone_hash])


class UnknownVolunteerError(LookupError):
    """No volunteer is registered with this phone number."""


def set_active(rt: Runtime, phone: str, active: bool) -> bool:
    """(De)activate the volunteer of a phone; True when that changed anything."""
    with rt.db.transaction() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == phone))
        if volunteer is None:
            raise UnknownVolunteerError(phone)
        changed = volunteer.active != active
        volunteer.active = active
    forget(rt, [rt.crypto.lookup_hash(phone)])
    return changed


def forget(rt: Runtime, phone_hashes: list[str]) -> None:
    """Drop cached profiles (after a registry import or a language change)."""
    if phone_hashes:
        rt.redis.delete(*[keys.caller(h) for h in phone_hashes])
