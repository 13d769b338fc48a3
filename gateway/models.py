"""The records: places, people, reports, referrals, messages and their timeline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.clock import utcnow
from gateway.db import Base, Floats, UTCDateTime
from gateway.vocabulary import (
    DEFAULT_LANGUAGE,
    Channel,
    MessageKind,
    MessageStatus,
    ReferralStatus,
    ReportKind,
)

# Levels of Rwanda's administrative divisions, top down.
LEVELS = ("province", "district", "sector", "cell", "village")


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Location(Base):
    """One administrative division; `path` is its normalised lower-case name path."""

    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    name: Mapped[str] = mapped_column(String(80))
    path: Mapped[str] = mapped_column(String(400), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    parent: Mapped[Location | None] = relationship(remote_side=[id])


class Volunteer(Timestamped, Base):
    """A registered Inshuti z'Umuryango, attached to a village."""

    __tablename__ = "volunteers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    language: Mapped[str] = mapped_column(String(2), default=DEFAULT_LANGUAGE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    village: Mapped[Location] = relationship()


class Officer(Timestamped, Base):
    """A district officer, sector contact or national desk member who receives alerts."""

    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    # An OfficerRole.
    role: Mapped[str] = mapped_column(String(20))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(2), default=DEFAULT_LANGUAGE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    district: Mapped[Location | None] = relationship(foreign_keys=[district_id])
    sector: Mapped[Location | None] = relationship(foreign_keys=[sector_id])


class CallerPreference(Timestamped, Base):
    """A caller's remembered language, keyed by a keyed hash of the phone number."""

    __tablename__ = "caller_preferences"
    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(2))


class Report(Timestamped, Base):
    """What a caller submitted, stored before the caller sees its reference number."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    # One report per USSD session, whatever the network resends.
    session_id: Mapped[str] = mapped_column(String(100), unique=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    channel: Mapped[str] = mapped_column(String(10), default=Channel.USSD)
    kind: Mapped[str] = mapped_column(String(12), default=ReportKind.CONCERN)
    reporter_phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    reporter_phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    category: Mapped[str] = mapped_column(String(20))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    age_band: Mapped[str] = mapped_column(String(10))
    sex: Mapped[str] = mapped_column(String(10))
    # None: a community SMS that names no district (the national desk triages it).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    details_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    callback_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    wants_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(2), default=DEFAULT_LANGUAGE)
    tree_version: Mapped[str] = mapped_column(String(40))
    # Set once the routing job has made the referral; null ones are swept up again.
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    location: Mapped[Location | None] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()


# The open cases (the dashboards count them from ix_referrals_status_district).
OPEN_CASES = "status IN ('new', 'routed', 'acknowledged')"
# Columns of a referral the dashboards count (carried by its time indexes on PostgreSQL).
DASHBOARD_COLUMNS = [
    "district_id",
    "category",
    "urgent",
    "status",
    "escalation_step",
    "flagged",
    "acknowledged_at",
    "closed_at",
]


class Referral(Timestamped, Base):
    """A case for an officer: made from a report, followed until closed."""

    __tablename__ = "referrals"
    # The dashboards count a period's referrals, nationally or in one district; the case
    # list shows the newest first.
    # On PostgreSQL the indexes also carry what the figures count, so that a dashboard reads
    # only the index (an index-only scan), not the rows.
    __table_args__ = (
        Index("ix_referrals_created_at", "created_at", postgresql_include=DASHBOARD_COLUMNS),
        Index("ix_referrals_district_created", "district_id", "created_at", postgresql_include=DASHBOARD_COLUMNS[1:]),
        # Open cases (few among many closed ones) per district, read from the index alone.
        Index("ix_referrals_status_district", "status", "district_id", postgresql_include=["urgent", "created_at"]),
        # What changed since the dashboards' roll-up was last checked (gateway/referrals/rollup.py).
        Index("ix_referrals_updated_at", "updated_at", postgresql_include=["created_at"]),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    age_band: Mapped[str] = mapped_column(String(10))
    sex: Mapped[str] = mapped_column(String(10))
    # Both None for a community SMS that names no place: the national desk triages it.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    # A ReporterKind.
    reporter_kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10), default=Channel.USSD)
    status: Mapped[str] = mapped_column(String(15), default=ReferralStatus.NEW, index=True)
    # Routed to the national desk because nobody is registered for the district.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Visit domains of concern, for follow-up referrals from a home visit.
    domains: Mapped[list[str] | None] = mapped_column(JSON)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A CloseOutcome, once closed.
    outcome: Mapped[str | None] = mapped_column(String(20))
    # An earlier referral this one is possibly (or, once an officer confirmed it, surely) about.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    duplicate_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reminders sent about it while it stays open: 1 its officer, 2 also the district supervisor.
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[Location | None] = relationship(foreign_keys=[location_id])
    district: Mapped[Location | None] = relationship(foreign_keys=[district_id])
    report: Mapped[Report | None] = relationship()
    duplicate_of: Mapped[Referral | None] = relationship(remote_side=[id], foreign_keys=[duplicate_of_id])
    events: Mapped[list[Event]] = relationship(order_by="Event.id", back_populates="referral")


class Assignment(Base):
    """An officer a referral was sent to, at one step of its chain."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("referral_id", "officer_id"),
        # The cases sent to one officer (an officer's case list in the admin web and the API).
        Index("ix_assignments_officer_referral", "officer_id", "referral_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    step: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    officer: Mapped[Officer] = relationship()


class Message(Timestamped, Base):
    """One SMS, written before it is sent, updated by the provider's answers."""

    __tablename__ = "messages"
    # The dashboards count a period's SMS.
    __table_args__ = (
        Index("ix_messages_created_at", "created_at", postgresql_include=["status", "attempts", "referral_id"]),
        # What changed since the dashboards' roll-up was last checked (gateway/referrals/rollup.py).
        Index("ix_messages_updated_at", "updated_at", postgresql_include=["created_at"]),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    # A MessageKind.
    kind: Mapped[str] = mapped_column(String(10), default=MessageKind.ALERT)
    to: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # A MessageStatus.
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.QUEUED, index=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(80), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(30))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[str | None] = mapped_column(String(30))
    error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Event(Base):
    """One line of a referral's timeline: what happened, who did it, when."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(String(300), default="")
    # A note's words, encrypted: shown only with a case's private fields.
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    referral: Mapped[Referral] = relationship(back_populates="events")


class ProviderCallback(Base):
    """An inbound SMS or delivery report already handled (the provider resends)."""

    __tablename__ = "provider_callbacks"
    __table_args__ = (UniqueConstraint("kind", "provider_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    provider_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UssdSessionEnd(Base):
    """An end-of-session notification (no inputs kept: they may hold free text)."""

    __tablename__ = "ussd_session_ends"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(String(60), default="")
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    hops: Mapped[int | None] = mapped_column(Integer)
    network_code: Mapped[str] = mapped_column(String(10), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Visit(Timestamped, Base):
    """A volunteer's home visit: the five ACTIVE domains, each OK or a concern."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_village_created", "village_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100), unique=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    household_code: Mapped[str] = mapped_column(String(20))
    # Domains of concern, VisitDomain values.
    concerns: Mapped[list[str]] = mapped_column(JSON, default=list)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    volunteer: Mapped[Volunteer] = relationship()


class MenuVersion(Base):
    """A published version of a menu tree; sessions keep the one they started on."""

    __tablename__ = "menu_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    # The tree's content hash: the same content is one version.
    version: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(120), default="")


class MenuDraft(Base):
    """A menu tree being edited in the admin web; publishing it makes a MenuVersion."""

    __tablename__ = "menu_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The version it was opened from (a content hash; the shipped tree's too).
    base_version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MenuPublication(Base):
    """One making-active of a version, first published or restored: the versions' history."""

    __tablename__ = "menu_publications"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("menu_versions.id"), index=True)
    # "publish" or "restore".
    kind: Mapped[str] = mapped_column(String(10))
    by: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A restore: the id of the version whose content it published again.
    restored_from: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[MenuVersion] = relationship()


class User(Timestamped, Base):
    """A person who reads cases through the API or the admin web."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # A UserRole.
    role: Mapped[str] = mapped_column(String(10))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    # The registry officer this person is: the cases sent to that officer are theirs to see,
    # and what they do on the web is recorded as that officer's (as by SMS).
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    district: Mapped[Location | None] = relationship()
    officer: Mapped[Officer | None] = relationship()


class ApiToken(Base):
    """A bearer token; only its hash is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Who read or changed which case, and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    detail: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyCanary(Base):
    """A known text encrypted with ENCRYPTION_KEY: if the key cannot read it, the key is not
    the one the data was encrypted with (checked at start and by /readyz)."""

    __tablename__ = "key_canaries"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Seconds, one per case, kept exactly: an array of doubles on PostgreSQL (whose percentile_cont
# reads them), packed doubles elsewhere.
SECONDS = Floats().with_variant(postgresql.ARRAY(postgresql.DOUBLE_PRECISION), "postgresql")


class DailyFigures(Base):
    """The dashboards' roll-up: what one Rwanda day counted in one district (None: referrals
    with no place, and SMS about no referral). Kept only for the days in DailyFiguresDay;
    gateway/referrals/rollup.py says when a day is counted again."""

    __tablename__ = "daily_figures"
    __table_args__ = (Index("ix_daily_figures_day_district", "day", "district_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    district_id: Mapped[int | None] = mapped_column(Integer)
    # Referrals made that day: all, urgent, escalated, reached the national desk, flagged.
    referrals: Mapped[int] = mapped_column(Integer, default=0)
    urgent: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)
    desk: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    # {category: referrals}
    categories: Mapped[dict[str, int]] = mapped_column(
        JSON().with_variant(postgresql.JSONB(), "postgresql"), default=dict
    )
    # Seconds from creation to acknowledgement and to closing, of that day's referrals.
    acknowledge_urgent: Mapped[list[float]] = mapped_column(SECONDS, default=list)
    acknowledge_other: Mapped[list[float]] = mapped_column(SECONDS, default=list)
    close_urgent: Mapped[list[float]] = mapped_column(SECONDS, default=list)
    close_other: Mapped[list[float]] = mapped_column(SECONDS, default=list)
    # SMS written that day, by state (stats.SMS_LINES), about the district's referrals.
    sms_written: Mapped[int] = mapped_column(Integer, default=0)
    sms_delivered: Mapped[int] = mapped_column(Integer, default=0)
    sms_sent: Mapped[int] = mapped_column(Integer, default=0)
    sms_failed: Mapped[int] = mapped_column(Integer, default=0)
    sms_waiting: Mapped[int] = mapped_column(Integer, default=0)
    sms_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    sms_retried: Mapped[int] = mapped_column(Integer, default=0)


class DailyFiguresDay(Base):
    """A Rwanda day whose figures are kept in daily_figures, and when they were counted."""

    __tablename__ = "daily_figures_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyFiguresCheck(Base):
    """One row: every kept day is right for the records as they were at checked_through
    (rows written since are looked for from there)."""

    __tablename__ = "daily_figures_check"
    id: Mapped[int] = mapped_column(primary_key=True)
    checked_through: Mapped[datetime] = mapped_column(UTCDateTime())
