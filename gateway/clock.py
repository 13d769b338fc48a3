"""Time, in UTC, in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# Rwanda's time (Central Africa Time, UTC+2, no daylight saving): days and months of the
# programme's figures are counted in it.
LOCAL_TIME = timezone(timedelta(hours=2), "CAT")
