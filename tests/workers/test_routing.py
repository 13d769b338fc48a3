"""Who a new referral goes to, what the alert says, and how the decision is recorded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Assignment, Event, Message, Officer, Referral
from tests.helpers import (
    COMMUNITY_PHONE,
    GASABO_OFFICER,
    NATIONAL_DESK,
    OFF_DUTY,
    OTHER_SECTOR_CONTACT,
    PSYCHOLOGIST,
    SECTOR_CONTACT,
    SOCIAL_WORKER,
    SUPERVISOR,
    VOLUNTEER_PHONE,
    make_report,
    register_officers,
    sms_in,
)
from workers import jobs


def _alerts(rt, reference: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Alert bodies of a referral, by the phone they go to."""
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        rows = session.scalars(select(Message).where(Message.referral_id == referral.id, Message.kind == "alert"))
        return {m.to: m.body for m in rows}


def test_referral_goes_to_the_on_duty_officers_of_the_district_in_their_language(rt):
    register_officers(rt)
    report_id, ref = make_report(rt, urgent=False, category="neglect")
    before = utcnow()
    jobs.route_report(report_id)

    alerts = _alerts(rt, ref)
    assert set(alerts) == {SOCIAL_WORKER, PSYCHOLOGIST}
    assert alerts[SOCIAL_WORKER] == (
        f"Ijwi case {ref} (not urgent): Neglect, girl aged 12-17, Ubumwe/Katabaro/Kimisagara. Reply OK {ref}"
    )
    assert alerts[PSYCHOLOGIST] == (
        f"Ijwi dosiye {ref} (ntibyihutirwa): Kutitabwaho, umukobwa w'imyaka 12-17, "
        f"Ubumwe/Katabaro/Kimisagara. Subiza OK {ref}"
    )
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == ref))
        assert referral.status == "routed" and not referral.flagged and referral.escalation_step == 0
        wait = referral.escalate_at - before
        assert timedelta(seconds=86400) <= wait < timedelta(seconds=86460)
        routed = session.scalars(select(Event).where(Event.referral_id == referral.id, Event.kind == "routed")).one()
        assert "district Nyarugenge, on_duty" in routed.detail
        reasons = session.scalars(select(Assignment.reason).where(Assignment.referral_id == referral.id)).all()
        assert sorted(reasons) == ["on_duty", "on_duty"]


def test_urgent_referral_also_goes_to_the_contacts_of_its_sector_only(rt):
    register_officers(rt)
    report_id, ref = make_report(rt, urgent=True, category="violence")
    before = utcnow()
    jobs.route_report(report_id)

    alerts = _alerts(rt, ref)
    assert set(alerts) == {SOCIAL_WORKER, PSYCHOLOGIST, SECTOR_CONTACT}
    assert OTHER_SECTOR_CONTACT not in alerts and OFF_DUTY not in alerts and SUPERVISOR not in alerts
    assert alerts[SECTOR_CONTACT].startswith(f"Ijwi URGENT cas {ref}: Violence/abus, fille de 12-17 ans, Ubumwe/")
    assert alerts[SECTOR_CONTACT].endswith(f"Répondez OK {ref}")
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == ref))
        assert referral.escalate_at - before < timedelta(seconds=1860)
        event = session.scalars(select(Event).where(Event.referral_id == referral.id, Event.kind == "routed")).one()
        assert "sector_contact" in event.detail


def test_district_with_nobody_registered_goes_to_the_national_desk_flagged(rt):
    register_officers(rt)
    report_id, ref = make_report(rt, place=("Rusizi", "Nyakabuye", "Kamanu", "Site"))
    jobs.route_report(report_id)

    assert set(_alerts(rt, ref)) == {NATIONAL_DESK}
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == ref))
        assert referral.flagged and referral.status == "routed"
        event = session.scalars(select(Event).where(Event.referral_id == referral.id, Event.kind == "routed")).one()
        assert "nobody registered for district Rusizi: national desk, flagged" in event.detail


def test_district_with_only_off_duty_officers_goes_to_them_unflagged(rt):
    register_officers(
        rt,
        "name,phone,role,district,sector,on_duty,language\n"
        f"Resting Officer,{GASABO_OFFICER},social_worker,Rusizi,,no,en\n"
        f"National Desk,{NATIONAL_DESK},national_desk,,,yes,en\n",
    )
    report_id, ref = make_report(rt, place=("Rusizi", "Nyakabuye", "Kamanu", "Site"))
    jobs.route_report(report_id)
    assert set(_alerts(rt, ref)) == {GASABO_OFFICER}
    with rt.db.reading() as session:
        assert not session.scalar(select(Referral.flagged))


def test_alert_shows_a_registered_volunteers_number_and_never_the_free_text(rt):
    register_officers(rt)
    volunteer_report, volunteer_ref = make_report(rt, by_volunteer=True)
    community_report, community_ref = make_report(rt)
    jobs.route_report(volunteer_report)
    jobs.route_report(community_report)

    assert f"IZU {VOLUNTEER_PHONE}." in _alerts(rt, volunteer_ref)[SOCIAL_WORKER]
    community_alert = _alerts(rt, community_ref)[SOCIAL_WORKER]
    assert "+250" not in community_alert and COMMUNITY_PHONE not in community_alert
    with rt.db.reading() as session:
        bodies = session.scalars(select(Message.body)).all()
    assert bodies and not any("Beaten" in body or "house 12" in body for body in bodies)


def test_routing_twice_alerts_each_officer_once(rt):
    register_officers(rt)
    report_id, ref = make_report(rt, urgent=True)
    jobs.route_report(report_id)
    jobs.route_report(report_id)
    with rt.db.reading() as session:
        assert len(session.scalars(select(Message)).all()) == 3
        assert len(session.scalars(select(Event).where(Event.kind == "routed")).all()) == 1


def test_inactive_officers_get_nothing(rt):
    register_officers(rt)
    with rt.db.transaction() as session:
        session.scalars(select(Officer).where(Officer.phone == PSYCHOLOGIST)).one().active = False
    report_id, ref = make_report(rt)
    jobs.route_report(report_id)
    assert set(_alerts(rt, ref)) == {SOCIAL_WORKER}


def test_referral_with_nobody_anywhere_is_flagged_and_routed_once_someone_registers(rt):
    report_id, ref = make_report(rt)
    jobs.route_report(report_id)
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral))
        assert referral.flagged and referral.status == "new" and referral.escalate_at is not None
    register_officers(rt)
    assert jobs.escalate(now=utcnow() + timedelta(days=2)) == 1
    assert set(_alerts(rt, ref)) == {SOCIAL_WORKER, PSYCHOLOGIST}
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral))
        assert referral.status == "routed" and not referral.flagged


def test_home_visit_follow_up_alerts_the_district_with_the_volunteers_number(rt):
    from gateway.models import Visit, Volunteer
    from menus.reference import new_reference
    from tests.helpers import register_volunteer

    register_officers(rt)
    register_volunteer(rt)
    with rt.db.transaction() as session:
        volunteer = session.scalars(select(Volunteer)).one()
        visit = Visit(
            session_id="ATUid_visit",
            reference=new_reference(),
            volunteer_id=volunteer.id,
            village_id=volunteer.village_id,
            household_code="HH-07",
            concerns=["health", "economy"],
        )
        session.add(visit)
        session.flush()
        visit_id, ref = visit.id, visit.reference
    jobs.route_visit(visit_id)
    assert _alerts(rt, ref)[SOCIAL_WORKER] == (
        f"Ijwi case {ref} (not urgent): Placed child follow-up, child age unknown, Ubumwe/Katabaro/Kimisagara. "
        f"IZU {VOLUNTEER_PHONE}. Reply OK {ref}"
    )


def test_routing_goes_before_sending_so_a_slow_provider_never_holds_up_a_report(rt, run_jobs):
    from gateway.models import Message, Referral
    from gateway.sms import outbox

    register_officers(rt)
    with rt.db.transaction() as session:
        notice = outbox.add(session, to="+250788000999", body="a notice", kind="notice")
    outbox.dispatch(rt, [notice.id])  # queued first
    report_id, _ = make_report(rt)
    rt.enqueue(jobs.route_report, report_id, job_id=f"route-report-{report_id}")
    run_jobs()
    with rt.db.reading() as session:
        routed = session.scalars(select(Referral)).one().created_at
        sent = session.get_one(Message, notice.id).sent_at
    assert sent is not None and routed < sent


def test_an_officer_who_goes_off_duty_by_sms_is_skipped_by_the_very_next_alert(rt, client):
    register_officers(rt)
    first_id, first = make_report(rt)
    jobs.route_report(first_id)
    assert set(_alerts(rt, first)) == {SOCIAL_WORKER, PSYCHOLOGIST}
    sms_in(client, PSYCHOLOGIST, "DUTY OFF")
    second_id, second = make_report(rt)
    jobs.route_report(second_id)
    assert set(_alerts(rt, second)) == {SOCIAL_WORKER}
    sms_in(client, PSYCHOLOGIST, "DUTY ON")
    third_id, third = make_report(rt)
    jobs.route_report(third_id)
    assert set(_alerts(rt, third)) == {SOCIAL_WORKER, PSYCHOLOGIST}
