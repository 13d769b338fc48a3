"""Every Redis key of the gateway's own data, and how long each lives (seconds)."""

from __future__ import annotations

# Prefix of every key the gateway writes (RQ keeps its own "rq:" keys).
PREFIX = "ijwi"
# A caller's cached profile (volunteer or not, language): refreshed from SQL after this.
CALLER_TTL = 600
# At most one "out of credit" SMS per hour to the national desk.
CREDIT_NOTICE_TTL = 3600
# The out-of-credit flag lives this long after the provider last said so (every refused
# retry sets it again; after a top-up it goes within this time).
NO_CREDIT_TTL = 900
# Seconds a dead worker's name stays in the set of workers.
DEAD_WORKERS_KEPT = 86400
# Seconds between two runs of the retention job.
RETENTION_EVERY = 3600
# Seconds between two refreshes of the dashboards' daily roll-up by the workers.
ROLLUP_EVERY = 600


def ussd_session(session_id: str) -> str:
    """A USSD session's state and the replies it gave (TTL: USSD_SESSION_TTL)."""
    return f"{PREFIX}:ussd:{session_id}"


def draft(phone_hash: str) -> str:
    """A half-done report a phone may resume (TTL: RESUME_WINDOW)."""
    return f"{PREFIX}:draft:{phone_hash}"


def caller(phone_hash: str) -> str:
    """A caller's cached profile (TTL: CALLER_TTL)."""
    return f"{PREFIX}:caller:{phone_hash}"


def routing_inbox() -> str:
    """Stored reports and visits waiting to be queued for routing ("report:<id>", "visit:<id>"),
    pushed by the web in one command and moved onto RQ's queue by the workers (no TTL)."""
    return f"{PREFIX}:routing:inbox"


def scheduler_lock() -> str:
    """Held by the one worker that runs the periodic sweeps this interval."""
    return f"{PREFIX}:scheduler"


def places_stamp() -> str:
    """Changed by every import of places, so that each process reloads its copy (no TTL)."""
    return f"{PREFIX}:places:stamp"


def credit_notice() -> str:
    """Set when the national desk was told the SMS account is out of credit (TTL: CREDIT_NOTICE_TTL)."""
    return f"{PREFIX}:sms:credit-notice"


def workers() -> str:
    """Live workers: a sorted set of worker name -> time of its last heartbeat (no TTL;
    a member older than WORKER_HEARTBEAT_TTL is a dead worker)."""
    return f"{PREFIX}:workers"


def no_credit() -> str:
    """Set while the SMS account is out of credit, as the provider last said (TTL: NO_CREDIT_TTL)."""
    return f"{PREFIX}:sms:no-credit"


def rate(kind: str, subject: str, window: int) -> str:
    """A fixed-window counter of kind (report, lookup, command, help) for a phone hash
    (TTL: the window, seconds)."""
    return f"{PREFIX}:rate:{kind}:{subject}:{window}"


def rollup_lock() -> str:
    """Held by the one worker refreshing the dashboards' roll-up (TTL: ROLLUP_EVERY)."""
    return f"{PREFIX}:rollup"


def retention_lock() -> str:
    """Held by the one worker erasing expired personal data this hour (TTL: RETENTION_EVERY)."""
    return f"{PREFIX}:retention"


# Admin web: failed logins counted per account and per address over this many seconds.
ADMIN_LOGIN_WINDOW = 900


def admin_session(session_id: str) -> str:
    """An admin web login: who is signed in (TTL: ADMIN_SESSION_MINUTES, renewed on each page)."""
    return f"{PREFIX}:admin:session:{session_id}"


def admin_login_failures(kind: str, name_hash: str) -> str:
    """Failed admin logins of one account or one address, kind "account" or "ip" (TTL: ADMIN_LOGIN_WINDOW)."""
    return f"{PREFIX}:admin:failures:{kind}:{name_hash}"


def sms_text(phone_and_text_hash: str) -> str:
    """Set when a phone's SMS text made a report or visit: the same text from the same phone
    again makes nothing (TTL: SMS_DUPLICATE_WINDOW)."""
    return f"{PREFIX}:sms:text:{phone_and_text_hash}"


# Seconds a dashboard's figures are kept: officers of a district open the same one in turn.
DASHBOARD_TTL = 60


def dashboard(period: str) -> str:
    """The figures of one period and district, as JSON (TTL: DASHBOARD_TTL)."""
    return f"{PREFIX}:dashboard:{period}"
