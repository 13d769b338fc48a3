"""Demonstration data: officers and volunteers in two districts."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from gateway.models import Location
from gateway.registry import imports
from gateway.runtime import Runtime

DEMO_OFFICERS = """name,phone,role,district,sector,on_duty,language
Demo Social Worker,+250788000111,social_worker,Nyarugenge,,yes,en
Demo Psychologist,+250788000222,psychologist,Nyarugenge,,yes,rw
Demo Supervisor,+250788000333,supervisor,Nyarugenge,,yes,rw
Demo Sector Contact,+250788000444,sector_contact,Nyarugenge,Kimisagara,yes,rw
Demo Gasabo Officer,+250788000555,social_worker,Gasabo,,yes,fr
Demo National Desk,+250788000999,national_desk,,,yes,en
"""
DEMO_VOLUNTEERS = """name,phone,district,sector,cell,village,language
Demo Volunteer,+250788123456,Nyarugenge,Kimisagara,Katabaro,Ubumwe,en
Demo Umujyanama,+250788123457,Gasabo,Remera,Rukiri I,Amajyambere,rw
"""


def seed(rt: Runtime) -> Iterator[str]:
    with rt.db.reading() as session:
        count = session.scalar(select(func.count(Location.id)))
    if not count:
        summary = imports.import_locations(rt)
        yield f"locations: {summary.created} added"
    officers = imports.import_officers(rt, DEMO_OFFICERS)
    yield f"officers: {officers.said()}"
    volunteers = imports.import_volunteers(rt, DEMO_VOLUNTEERS)
    yield f"volunteers: {volunteers.said()}"
    yield "dial as a volunteer:  ./ijwi ussd simulate --phone +250788123456"
    yield "dial as anybody else: ./ijwi ussd simulate --phone +250788765432"
