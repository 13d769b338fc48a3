"""The gateway's vocabulary, defined once: every status, kind, role and channel a record holds.

Columns stay plain strings (a StrEnum member is a str, and compares equal to its value), so
adding a member needs no migration. The words menus store (categories, age bands, sexes,
visit domains, languages) are defined in `menus.vocabulary` and re-exported here.
"""

from __future__ import annotations

from enum import StrEnum

from menus.vocabulary import DEFAULT_LANGUAGE, AgeBand, CallerKind, Category, Language, Sex, VisitDomain

__all__ = [
    "DEFAULT_LANGUAGE",
    "AgeBand",
    "CallerKind",
    "Category",
    "Channel",
    "CloseOutcome",
    "EventKind",
    "Language",
    "MessageKind",
    "MessageStatus",
    "OfficerRole",
    "ReferralStatus",
    "ReportKind",
    "ReporterKind",
    "SETTLED",
    "Sex",
    "UserRole",
    "VisitDomain",
    "WAITING",
    "CASE_ROLES",
]


class ReferralStatus(StrEnum):
    """Where a case is, in the order it usually moves."""

    NEW = "new"  # opened, nobody alerted yet
    ROUTED = "routed"  # alerts written to a tier of its chain; waiting for an officer
    ACKNOWLEDGED = "acknowledged"  # an officer took it (OK <ref>); escalation stopped
    CLOSED = "closed"  # done, with an outcome (DONE <ref>); REOPEN makes it acknowledged again


# Statuses in which a referral still waits for an officer (it escalates, alerts go out).
WAITING = (ReferralStatus.NEW, ReferralStatus.ROUTED)
# Statuses after which a waiting alert is no longer sent (somebody answered).
SETTLED = (ReferralStatus.ACKNOWLEDGED, ReferralStatus.CLOSED)


class CloseOutcome(StrEnum):
    """How a case ended (DONE <ref> <outcome>), numbered in this order on the officers' card."""

    FAMILY_SUPPORTED = "family_supported"  # the family was supported at home
    REFERRED = "referred"  # referred to services (health, police, Isange One Stop Centre...)
    PLACED = "placed"  # the child was placed in care
    UNFOUNDED = "unfounded"  # the concern was not confirmed
    OTHER = "other"  # anything else (the note says what)


# How people read an outcome: the close form's choices, and every page, export and timeline line.
OUTCOME_LABELS: dict[str, str] = {
    CloseOutcome.FAMILY_SUPPORTED: "Family supported",
    CloseOutcome.REFERRED: "Referred to services",
    CloseOutcome.PLACED: "Placed in care",
    CloseOutcome.UNFOUNDED: "Unfounded",
    CloseOutcome.OTHER: "Other",
}


def outcome_label(outcome: str | None) -> str:
    """An outcome as people read it ("" for none; an unknown value as it is)."""
    if not outcome:
        return ""
    return OUTCOME_LABELS.get(outcome, outcome)


class MessageStatus(StrEnum):
    """An SMS's state in the outbox (see gateway.sms.outbox)."""

    QUEUED = "queued"  # written, waiting for its sender
    SENDING = "sending"  # claimed by one sender
    SENT = "sent"  # the provider took it
    DELIVERED = "delivered"  # the phone got it (delivery report)
    FAILED = "failed"  # refused or undeliverable, for good
    RETRYING = "retrying"  # the provider could not take it now; a retry is scheduled
    CANCELLED = "cancelled"  # an alert nobody needs any more (the case was answered first)


class MessageKind(StrEnum):
    """Why an SMS is sent."""

    ALERT = "alert"  # a case for an officer (its fate goes on the case's timeline)
    REPLY = "reply"  # an answer to an officer's or volunteer's command
    HELP = "help"  # a help text or a refusal
    NOTICE = "notice"  # the gateway telling somebody something (case taken, out of credit)
    REMINDER = "reminder"  # a case still open after days (to its officer, then the supervisor)
    DIGEST = "digest"  # the daily digest to a district supervisor


class OfficerRole(StrEnum):
    """Roles of the officers CSV."""

    SOCIAL_WORKER = "social_worker"  # a district case officer
    PSYCHOLOGIST = "psychologist"  # a district case officer
    SUPERVISOR = "supervisor"  # the district's supervisor: escalations, reminders, the digest
    SECTOR_CONTACT = "sector_contact"  # alerted with the district for urgent cases of the sector
    NATIONAL_DESK = "national_desk"  # the top of every chain, and districts with nobody


# Roles that take a district's cases first.
CASE_ROLES = (OfficerRole.SOCIAL_WORKER, OfficerRole.PSYCHOLOGIST)


class UserRole(StrEnum):
    """Roles of a person reading cases through the API or the admin web."""

    ADMIN = "admin"  # everything, every district
    OFFICER = "officer"  # the cases of one district
    VIEWER = "viewer"  # every district, never the private fields


class ReporterKind(StrEnum):
    """Who reported a case (a community reporter gets no SMS unless they asked)."""

    VOLUNTEER = "volunteer"  # a registered IZU (their number goes into the alert)
    COMMUNITY = "community"  # anybody else


class Channel(StrEnum):
    """How a report or case came in."""

    USSD = "ussd"  # the short code's menus
    SMS = "sms"  # a volunteer's keyword SMS, or a community member's free text
    VISIT = "visit"  # a home visit with a concern


class ReportKind(StrEnum):
    """What a stored report holds."""

    CONCERN = "concern"  # answers to the report menus (category, urgency, child, place)
    TRIAGE = "triage"  # a community member's free-text SMS: a person reads it and sets it right


class EventKind(StrEnum):
    """Lines of a case's timeline, in the order a case usually meets them."""

    CREATED = "created"  # opened from a report or a visit
    ROUTED = "routed"  # alerts written to a tier of the chain (also a failover's next contact)
    SENT = "sent"  # the provider took an alert
    DELIVERED = "delivered"  # an alert reached the phone
    FAILED = "failed"  # an alert failed for good, or nobody was left to fail over to
    ACKNOWLEDGED = "acknowledged"  # an officer took the case
    ESCALATED = "escalated"  # nobody answered in time: one tier up
    CLOSED = "closed"  # done, with an outcome
    REOPENED = "reopened"  # a closed case open again
    TRANSFERRED = "transferred"  # moved to another district, routed there from the start
    REMINDED = "reminded"  # still open after days: its officer or the supervisor was reminded
    LINKED = "linked"  # marked as possibly the same as another case
    CONFIRMED = "confirmed"  # an officer confirmed two cases are the same
    UNLINKED = "unlinked"  # an officer said two cases are not the same
    NOTED = "noted"  # a note added in the admin web (its words kept encrypted)
    REASSIGNED = "reassigned"  # sent to another officer from the admin web
    ERASED = "erased"  # personal data erased RETENTION_DAYS after closing
