"""Retention: a closed case's personal data is erased RETENTION_DAYS after it was closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from gateway.clock import utcnow
from gateway.models import Message, ProviderCallback, Referral, Report, UssdSessionEnd
from tests.helpers import VOLUNTEER_PHONE, make_report, register_officers
from workers import jobs


def test_personal_data_of_a_closed_case_is_erased_after_the_retention_time(rt):
    register_officers(rt)
    report_id, reference = make_report(rt, by_volunteer=True)
    jobs.route_report(report_id)
    closed_at = utcnow() - timedelta(days=10)
    with rt.db.transaction() as session:
        session.execute(
            update(Referral).values(status="closed", closed_at=closed_at, close_note_enc=rt.crypto.encrypt("seen"))
        )
        session.add(ProviderCallback(kind="delivery", provider_id="ATXid_1", status="Success", received_at=closed_at))
        session.add(UssdSessionEnd(session_id="s", phone_hash="h", status="Success", received_at=closed_at))
    day = closed_at + timedelta(days=rt.settings.retention_days)

    assert jobs.erase_expired(now=day - timedelta(hours=1)) == {"cases": 0, "callbacks": 0, "session_ends": 0}
    with rt.db.reading() as session:
        assert session.get_one(Report, report_id).details_enc is not None

    assert jobs.erase_expired(now=day + timedelta(hours=1)) == {"cases": 1, "callbacks": 1, "session_ends": 1}
    with rt.db.reading() as session:
        report = session.get_one(Report, report_id)
        referral = session.scalars(select(Referral)).one()
        assert (report.details_enc, report.reporter_phone_enc, report.reporter_phone_hash) == (None, b"", "")
        assert referral.close_note_enc is None and referral.category == "neglect"  # statistics stay
        bodies = session.scalars(select(Message.body)).all()
        assert bodies and not any(VOLUNTEER_PHONE in b for b in bodies)
        assert session.scalar(select(func.count(ProviderCallback.id))) == 0
    # Once erased, a case is not erased again.
    assert jobs.erase_expired(now=day + timedelta(days=1))["cases"] == 0


def test_an_open_case_is_never_erased(rt):
    report_id, _ = make_report(rt)
    jobs.route_report(report_id)
    assert jobs.erase_expired(now=utcnow() + timedelta(days=5000))["cases"] == 0
