"""RQ jobs. Each takes ids, reloads state, and may run twice with its effects once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway import runtime
from gateway.clock import utcnow
from gateway.models import Event, Referral, Report, Visit

log = logging.getLogger(__name__)

# Actor name of the gateway's own steps in a timeline.
SYSTEM = "system"
# Seconds a report may wait for its routing job before the sweeper queues it again.
SWEEP_AFTER = 60


def route_report(report_id: int) -> int | None:
    """Turn a stored report into a referral (once); the referral's id."""
    rt = runtime.current()
    with rt.db.session() as session:
        report = session.get(Report, report_id)
        if report is None:
            log.warning("route_report: no report %s", report_id)
            return None
        referral = session.scalar(select(Referral).where(Referral.report_id == report_id))
        if referral is None:
            district = rt.places.ancestor(report.location_id, "district")
            referral = Referral(
                report_id=report.id,
                reference=report.reference,
                category=report.category,
                urgent=report.urgent,
                age_band=report.age_band,
                sex=report.sex,
                location_id=report.location_id,
                district_id=district.id if district else report.location_id,
                reporter_kind="volunteer" if report.volunteer_id else "community",
                channel=report.channel,
                status="new",
            )
            session.add(referral)
            session.flush()
            session.add(
                Event(referral_id=referral.id, kind="created", actor=SYSTEM, detail=f"from a {report.channel} report")
            )
        report.routed_at = report.routed_at or utcnow()
        return referral.id


def route_visit(visit_id: int) -> int | None:
    """Open the low-urgency follow-up referral of a home visit with concerns (once)."""
    rt = runtime.current()
    with rt.db.session() as session:
        visit = session.get(Visit, visit_id)
        if visit is None or not visit.concerns:
            return None
        referral = session.scalar(select(Referral).where(Referral.visit_id == visit_id))
        if referral is None:
            district = rt.places.ancestor(visit.village_id, "district")
            referral = Referral(
                visit_id=visit.id,
                reference=visit.reference,
                category="placement",
                urgent=False,
                age_band="unknown",
                sex="unknown",
                location_id=visit.village_id,
                district_id=district.id if district else visit.village_id,
                reporter_kind="volunteer",
                channel="visit",
                status="new",
                domains=list(visit.concerns),
            )
            session.add(referral)
            session.flush()
            detail = "home visit concerns: " + ", ".join(visit.concerns)
            session.add(Event(referral_id=referral.id, kind="created", actor=SYSTEM, detail=detail))
        visit.routed_at = visit.routed_at or utcnow()
        return referral.id


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Queue again what a lost job or a restarted Redis left undone."""
    rt = runtime.current()
    settled = (now or utcnow()) - timedelta(seconds=SWEEP_AFTER)
    with rt.db.sessions() as session:
        reports = session.scalars(
            select(Report.id).where(Report.routed_at.is_(None), Report.created_at < settled)
        ).all()
        visits = session.scalars(select(Visit.id).where(Visit.routed_at.is_(None), Visit.created_at < settled)).all()
    for report_id in reports:
        rt.enqueue(route_report, report_id, job_id=f"route-report-{report_id}")
    for visit_id in visits:
        rt.enqueue(route_visit, visit_id, job_id=f"route-visit-{visit_id}")
    return {"reports": len(reports), "visits": len(visits)}
