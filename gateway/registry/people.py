"""The registry one person at a time: find, add, edit, put on or off duty, (de)activate
officers and volunteers (the admin web's registry pages; files go through `imports`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from gateway.models import Location, Officer, Volunteer
from gateway.phones import InvalidPhoneError, normalize
from gateway.registry.imports import clean_name, find_district, path_key
from gateway.runtime import Runtime
from gateway.ussd import callers
from gateway.vocabulary import Language, OfficerRole

# Most people one search shows.
PAGE = 100


class RegistryError(ValueError):
    """A change that cannot be made; the message says why, for the person who asked."""


@dataclass(frozen=True)
class OfficerForm:
    """What a person typed for an officer."""

    name: str
    phone: str
    role: str
    district: str
    sector: str
    language: str
    on_duty: bool


def find_officers(
    session: Session, words: str = "", district_id: int | None = None, limit: int = PAGE
) -> Sequence[Officer]:
    """Officers whose name or phone holds words, of one district if given, by district and name."""
    query = select(Officer).outerjoin(Location, Location.id == Officer.district_id)
    if district_id is not None:
        query = query.where(Officer.district_id == district_id)
    if words.strip():
        like = f"%{words.strip()}%"
        query = query.where(or_(Officer.name.ilike(like), Officer.phone.contains(words.strip().replace(" ", ""))))
    return session.scalars(query.order_by(Location.name, Officer.name).limit(limit)).all()


def save_officer(session: Session, form: OfficerForm, officer_id: int | None = None) -> Officer:
    """Add an officer (officer_id None) or change one; RegistryError says what is wrong."""
    name = clean_name(form.name) if form.name.strip() else ""
    if not name:
        raise RegistryError("Give the officer's name.")
    try:
        phone = normalize(form.phone)
    except InvalidPhoneError:
        raise RegistryError(f"{form.phone!r} is not a valid phone number.") from None
    if form.role not in tuple(OfficerRole):
        raise RegistryError(f"The role must be one of {', '.join(OfficerRole)}.")
    if form.language not in tuple(Language):
        raise RegistryError(f"The language must be one of {', '.join(Language)}.")
    district = find_district(session, form.district) if form.district.strip() else None
    if form.district.strip() and district is None:
        raise RegistryError(f"There is no district named {form.district!r}.")
    if district is None and form.role != OfficerRole.NATIONAL_DESK:
        raise RegistryError(f"A {form.role} needs a district.")
    sector = None
    if form.sector.strip():
        if district is None:
            raise RegistryError("A sector needs its district.")
        sector = session.scalar(select(Location).where(Location.path == path_key(district.name, form.sector)))
        if sector is None:
            raise RegistryError(f"There is no sector {form.sector!r} in {district.name}.")
    if form.role == OfficerRole.SECTOR_CONTACT and sector is None:
        raise RegistryError("A sector contact needs a sector.")
    taken = session.scalar(select(Officer).where(Officer.phone == phone))
    if taken is not None and taken.id != officer_id:
        raise RegistryError(f"{phone} is already {taken.name}'s number.")
    if officer_id is None:
        officer = Officer(phone=phone, active=True)
        session.add(officer)
    else:
        found = session.get(Officer, officer_id)
        if found is None:
            raise RegistryError("There is no such officer.")
        officer = found
    officer.name = name
    officer.phone = phone
    officer.role = form.role
    officer.district_id = district.id if district else None
    officer.sector_id = sector.id if sector else None
    officer.language = form.language
    officer.on_duty = form.on_duty
    session.flush()
    return officer


def find_volunteers(
    session: Session,
    name: str = "",
    phone: str = "",
    places: tuple[str, ...] = (),
    district_id: int | None = None,
    limit: int = PAGE,
) -> Sequence[tuple[Volunteer, str]]:
    """Volunteers by name, phone, and place names from the district down (district, sector,
    cell, village: those given, from the top), each with their village's path."""
    village = aliased(Location)
    query = select(Volunteer, village.path).join(village, village.id == Volunteer.village_id)
    if name.strip():
        query = query.where(Volunteer.name.ilike(f"%{name.strip()}%"))
    if phone.strip():
        query = query.where(Volunteer.phone.contains(phone.strip().replace(" ", "")))
    given = [p for p in places if p.strip()]
    if given:
        prefix = path_key(*given)
        query = query.where(or_(village.path == prefix, village.path.startswith(prefix + "/")))
    if district_id is not None:
        district = session.get(Location, district_id)
        if district is not None:
            query = query.where(village.path.startswith(district.path + "/"))
    rows = session.execute(query.order_by(village.path, Volunteer.name).limit(limit)).all()
    return [(v, path) for v, path in rows]


def set_volunteer_active(rt: Runtime, volunteer_id: int, active: bool) -> Volunteer:
    """A volunteer may use the volunteer menus again, or no more (their cached profile dropped)."""
    with rt.db.transaction() as session:
        volunteer = session.get(Volunteer, volunteer_id)
        if volunteer is None:
            raise RegistryError("There is no such volunteer.")
        volunteer.active = active
        phone = volunteer.phone
    callers.forget(rt, [rt.crypto.lookup_hash(phone)])
    return volunteer
