"""People who read cases (admins, officers, viewers) and their API bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from gateway.clock import utcnow
from gateway.models import ApiToken, Location, Officer, User
from gateway.phones import InvalidPhoneError, normalize
from gateway.registry.imports import find_district
from gateway.runtime import Runtime
from gateway.vocabulary import UserRole

# Roles of a user: an admin and a viewer see every district, an officer only their own.
ROLES = tuple(UserRole)
# Shortest password accepted.
MIN_PASSWORD = 10
# Every token starts with this, so a leaked one is easy to recognise.
TOKEN_PREFIX = "ijwi_"
# Random bytes in a token.
TOKEN_BYTES = 32
# Days a token lives unless asked otherwise, and the most that may be asked.
TOKEN_DAYS = 90
TOKEN_DAYS_MAX = 365
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A user cannot be created or given a token; the message says why."""


@dataclass(frozen=True)
class Reader:
    """The person behind a request: who they are and which district they may read."""

    user_id: int
    email: str
    role: str
    # Only officers have one; None means every district.
    district_id: int | None
    # The registry officer they are, if linked: an officer also reads the cases sent to them.
    officer_id: int | None = None

    @property
    def scoped(self) -> bool:
        return self.role == UserRole.OFFICER


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{raw!r} is not an email address")
    return email


def _district(session: Session, name: str) -> Location:
    place = find_district(session, name)
    if place is None:
        raise AccountError(f"no district named {name!r}")
    return place


def _officer(session: Session, phone: str, user: User) -> Officer:
    """The active registry officer of that phone, free to be linked to user."""
    try:
        number = normalize(phone)
    except InvalidPhoneError:
        raise AccountError(f"{phone.strip()!r} is not an officer's phone number") from None
    officer = session.scalar(select(Officer).where(Officer.phone == number))
    if officer is None:
        raise AccountError(f"no officer with the phone {number} in the registry")
    if not officer.active:
        raise AccountError(f"the officer {officer.name} is deactivated")
    taken = session.scalar(select(User.email).where(User.officer_id == officer.id, User.id != user.id))
    if taken is not None:
        raise AccountError(f"the officer {officer.name} is already {taken}")
    return officer


def _place_and_link(session: Session, user: User, role: str, district: str | None, officer_phone: str | None) -> None:
    """Give user role, its district and its registry officer (by phone; None: no officer), by the
    rules: an officer belongs to one district (by default the linked officer's, and never another
    than theirs), admins and viewers to none; a viewer changes nothing, so is nobody's officer."""
    role = role.strip().lower()
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    officer = _officer(session, officer_phone, user) if officer_phone and officer_phone.strip() else None
    if officer is not None and role == UserRole.VIEWER:
        raise AccountError("a viewer changes nothing, so is linked to no officer")
    place = _district(session, district) if district else None
    if role != UserRole.OFFICER:
        if place is not None:
            raise AccountError(f"only officers belong to a district; an {role} sees every district")
    else:
        place = place or (officer.district if officer is not None else None)
        if place is None:
            raise AccountError("an officer needs a district (--district NAME)")
        if officer is not None and officer.district_id not in (None, place.id):
            where = officer.district.name if officer.district else "-"
            raise AccountError(f"the officer {officer.name} works in {where}, not in {place.name}")
    user.role = role
    user.district = place
    user.officer = officer


def create_user(
    rt: Runtime, email: str, password: str, role: str, district: str | None = None, officer: str | None = None
) -> User:
    """Add a user; an officer belongs to one district, admins and viewers to none; officer: the
    phone of the registry officer they are (see _place_and_link)."""
    email = _email(email)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    with rt.db.transaction() as session:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise AccountError(f"a user {email} already exists")
        user = User(email=email, password_hash=generate_password_hash(password))
        _place_and_link(session, user, role, district, officer)
        session.add(user)
    return user


def issue_token(rt: Runtime, email: str, days: int = TOKEN_DAYS) -> str:
    """A new bearer token for an active user, good for days; only its hash is kept, so show it once."""
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise AccountError(f"a token lives 1 to {TOKEN_DAYS_MAX} days, not {days}")
    with rt.db.transaction() as session:
        user = session.scalar(select(User).where(User.email == _email(email)))
        if user is None:
            raise AccountError(f"no user {email.strip()}")
        if not user.active:
            raise AccountError(f"{user.email} is deactivated")
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        now = utcnow()
        session.add(
            ApiToken(
                token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=now + timedelta(days=days)
            )
        )
    return token


def revoke_tokens(rt: Runtime, email: str) -> int:
    """Revoke every live token of a user; how many were revoked."""
    with rt.db.transaction() as session:
        user_id = session.scalar(select(User.id).where(User.email == _email(email)))
        if user_id is None:
            raise AccountError(f"no user {email.strip()}")
        result = session.execute(
            update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False)).values(revoked=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def set_active(rt: Runtime, email: str, active: bool) -> bool:
    """(De)activate a user; deactivating also revokes their tokens. True when that changed anything."""
    with rt.db.transaction() as session:
        user = session.scalar(select(User).where(User.email == _email(email)))
        if user is None:
            raise AccountError(f"no user {email.strip()}")
        changed = user.active != active
        user.active = active
    if not active:
        revoke_tokens(rt, email)
    return changed


@dataclass(frozen=True)
class UserRow:
    """One line of `users list`."""

    email: str
    role: str
    district: str | None
    active: bool
    live_tokens: int
    # The registry officer they are: name and phone.
    officer: str | None = None
    officer_phone: str | None = None


def list_users(rt: Runtime) -> list[UserRow]:
    """Every user, by email, with how many live tokens each holds."""
    live = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(ApiToken.revoked.is_(False), ApiToken.expires_at > utcnow())
        .group_by(ApiToken.user_id)
        .subquery()
    )
    with rt.db.reading() as session:
        rows = session.execute(
            select(
                User.email,
                User.role,
                Location.name,
                User.active,
                func.coalesce(live.c.n, 0),
                Officer.name,
                Officer.phone,
            )
            .outerjoin(Location, Location.id == User.district_id)
            .outerjoin(Officer, Officer.id == User.officer_id)
            .outerjoin(live, live.c.user_id == User.id)
            .order_by(User.email)
        ).all()
    return [UserRow(*row) for row in rows]


def reader_for_token(session: Session, token: str) -> Reader | None:
    """The active user a live (not revoked, not expired) token belongs to, or None."""
    row = session.execute(
        select(User.id, User.email, User.role, User.district_id, User.officer_id)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash(token),
            ApiToken.revoked.is_(False),
            ApiToken.expires_at > utcnow(),
            User.active.is_(True),
        )
    ).first()
    if row is None or row.role not in ROLES or (row.role == UserRole.OFFICER and row.district_id is None):
        return None
    return Reader(
        user_id=row.id, email=row.email, role=row.role, district_id=row.district_id, officer_id=row.officer_id
    )


def set_role(rt: Runtime, email: str, role: str, district: str | None = None, officer: str | None = None) -> User:
    """Give a user another role, district and registry officer (the phone; None: none); the same
    rules as create_user."""
    with rt.db.transaction() as session:
        user = session.scalar(select(User).where(User.email == _email(email)))
        if user is None:
            raise AccountError(f"no user {email.strip()}")
        _place_and_link(session, user, role, district, officer)
    return user
