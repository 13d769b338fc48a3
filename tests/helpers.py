"""Playing Africa's Talking: a caller dialling the short code, hop by hop."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from gateway.config import Settings
from gateway.registry import imports
from gateway.runtime import Runtime
from menus.tree import default_tree

_sessions = itertools.count(1)

VOLUNTEER_PHONE = "+250788123456"
COMMUNITY_PHONE = "+250788765432"


# The repository (where `python -m workers` runs).
ROOT = Path(__file__).resolve().parents[1]


class Dial:
    """One USSD session: send() types an answer and returns the screen AT would show."""

    def __init__(self, client: FlaskClient, phone: str = COMMUNITY_PHONE, session_id: str | None = None) -> None:
        self.client = client
        self.phone = phone
        self.session_id = session_id or f"ATUid_test{next(_sessions):08d}"
        self.inputs: list[str] = []
        self.screen = self._post("")

    @property
    def text(self) -> str:
        return "*".join(self.inputs)

    def send(self, *answers: str) -> str:
        for answer in answers:
            self.inputs.append(answer)
            self.screen = self._post(self.text)
        return self.screen

    def choose(self, label: str) -> str:
        """Send the number of the option labelled label on the current screen."""
        return self.send(option(self.screen, label))

    def _post(self, text: str) -> str:
        response = self.client.post(
            "/ussd",
            data={
                "sessionId": self.session_id,
                "serviceCode": "*801#",
                "phoneNumber": self.phone,
                "networkCode": "63510",
                "text": text,
            },
        )
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        body = response.get_data(as_text=True)
        assert body.startswith(("CON ", "END ")), body
        return body


def register_volunteer(rt: Runtime, phone: str = VOLUNTEER_PHONE, language: str = "en") -> None:
    imports.import_volunteers(
        rt,
        "name,phone,district,sector,cell,village,language\n"
        f"Test Volunteer,{phone},Nyarugenge,Kimisagara,Katabaro,Ubumwe,{language}\n",
    )


def option(screen: str, label: str) -> str:
    """The number in front of label on a screen (fails the test if it is not there)."""
    for line in screen.splitlines():
        number, _, rest = line.partition(". ")
        if rest.strip() == label or rest.strip().startswith(label + " ("):
            return number.strip()
    raise AssertionError(f"{label!r} is not on the screen:\n{screen}")


# --- the shipped tree, in each language -------------------------------------------------

TREE = default_tree()
LANGUAGES = TREE.languages
# Africa's Talking's samples, as the programme shared them (a copy kept with the tests).
AT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "africastalking"


def text(node_id: str, lang: str) -> str:
    """A node's question in lang, up to its first placeholder."""
    return TREE.nodes[node_id].text[lang].split("{")[0]


def label(node_id: str, value: str, lang: str) -> str:
    """The label of the option of node_id whose value (or key) is value, in lang."""
    node = TREE.nodes[node_id]
    return next(o.label[lang] for o in node.options if (o.value or o.key) == value)


def string(key: str, lang: str) -> str:
    return TREE.string(key, lang)


def reference_in(screen: str) -> str:
    """The reference number an END screen shows."""
    found = re.search(r"\b\d{7}\b", screen)
    assert found, f"no reference on the screen:\n{screen}"
    return found.group(0)


def end_session(client: FlaskClient, dial: Dial, status: str = "Incomplete", error: str = "USER_TIMEOUT") -> None:
    """Africa's Talking's end-of-session notification for dial (shaped as the shared sample)."""
    form = json.loads((AT_FIXTURES / "ussd_event_incomplete.json").read_text())
    form.update(sessionId=dial.session_id, phoneNumber=dial.phone, input=dial.text, status=status, errorMessage=error)
    response = client.post("/ussd/events", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)


# --- officers, SMS and the provider ----------------------------------------------------

# Where the SDK posts an SMS when the username is "sandbox".
AT_SMS_URL = "https://api.sandbox.africastalking.com/version1/messaging"
# Officers of the volunteer's district (Nyarugenge), a sector contact elsewhere, the desk.
OFFICERS_CSV = """name,phone,role,district,sector,on_duty,language
On Duty Social Worker,+250788000111,social_worker,Nyarugenge,,yes,en
On Duty Psychologist,+250788000222,psychologist,Nyarugenge,,yes,rw
Off Duty Social Worker,+250788000666,social_worker,Nyarugenge,,no,fr
District Supervisor,+250788000333,supervisor,Nyarugenge,,yes,en
Kimisagara Contact,+250788000444,sector_contact,Nyarugenge,Kimisagara,yes,fr
Nyamirambo Contact,+250788000777,sector_contact,Nyarugenge,Nyamirambo,yes,en
Gasabo Officer,+250788000555,social_worker,Gasabo,,yes,en
National Desk,+250788000999,national_desk,,,yes,en
"""
SOCIAL_WORKER = "+250788000111"
PSYCHOLOGIST = "+250788000222"
OFF_DUTY = "+250788000666"
SUPERVISOR = "+250788000333"
SECTOR_CONTACT = "+250788000444"
OTHER_SECTOR_CONTACT = "+250788000777"
GASABO_OFFICER = "+250788000555"
NATIONAL_DESK = "+250788000999"


def register_officers(rt: Runtime, csv_text: str = OFFICERS_CSV) -> None:
    imports.import_officers(rt, csv_text)


def at_sample(name: str) -> dict[str, Any]:
    """One of the shared Africa's Talking samples (sms_send_success, sms_inbound, ...)."""
    return json.loads((AT_FIXTURES / f"{name}.json").read_text())


def at_answer(
    number: str = SOCIAL_WORKER, code: int = 101, status: str = "Success", message_id: str = ""
) -> dict[str, Any]:
    """The JSON Africa's Talking answers for one recipient with statusCode code."""
    accepted = code in (100, 101, 102)
    return {
        "SMSMessageData": {
            "Message": f"Sent to {1 if accepted else 0}/1 Total Cost: RWF {15 if accepted else 0}",
            "Recipients": [
                {
                    "statusCode": code,
                    "number": number,
                    "cost": "RWF 15.0000" if accepted else "0",
                    "status": status,
                    "messageId": message_id or ("ATXid_" + number[-6:] if accepted else "None"),
                }
            ],
        }
    }


def release_retries(rt: Runtime) -> int:
    """Put every job waiting for its retry time on the queue now, as RQ's scheduler will later."""
    from rq.job import Job

    released = 0
    for queue in (rt.queue, rt.sending_queue):
        registry = queue.scheduled_job_registry
        job_ids = registry.get_job_ids(cleanup=False)
        for job_id in job_ids:
            registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=rt.rq_redis))
        released += len(job_ids)
    return released


# The volunteer's village, as registered by register_volunteer.
UBUMWE = ("Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe")


def make_report(
    rt: Runtime,
    *,
    place: tuple[str, ...] = UBUMWE,
    urgent: bool = False,
    category: str = "neglect",
    by_volunteer: bool = False,
    details: str = "Beaten at home, see house 12*B",
) -> tuple[int, str]:
    """A stored report, as the USSD confirm screen leaves it (routing job not run); (id, reference)."""
    from sqlalchemy import select

    from gateway.models import Location, Report, Volunteer
    from menus.reference import new_reference

    phone = VOLUNTEER_PHONE if by_volunteer else COMMUNITY_PHONE
    if by_volunteer:
        register_volunteer(rt)
    with rt.db.transaction() as session:
        location_id = session.scalar(select(Location.id).where(Location.path == imports.path_key(*place)))
        assert location_id is not None, place
        volunteer_id = session.scalar(select(Volunteer.id).where(Volunteer.phone == phone)) if by_volunteer else None
        report = Report(
            session_id=f"ATUid_made{next(_sessions):08d}",
            reference=new_reference(),
            reporter_phone_enc=rt.crypto.encrypt(phone),
            reporter_phone_hash=rt.crypto.lookup_hash(phone),
            volunteer_id=volunteer_id,
            category=category,
            urgent=urgent,
            age_band="12-17",
            sex="girl",
            location_id=location_id,
            details_enc=rt.crypto.encrypt(details),
            language="en",
            tree_version="test",
        )
        session.add(report)
        session.flush()
        return report.id, report.reference


# --- SMS to the gateway --------------------------------------------------------------------

_inbound_ids = itertools.count(1)


def sms_in(client: FlaskClient, phone: str, text: str, sms_id: str | None = None) -> str:
    """Post an SMS to /sms/inbound exactly as Africa's Talking does (the shared sample's fields);
    the provider's id it used."""
    form = at_sample("sms_inbound")
    form.update({"from": phone, "text": text, "id": sms_id or f"ATXid_in{next(_inbound_ids):06d}"})
    response = client.post("/sms/inbound", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(form["id"])


def sent_to(rt: Runtime, phone: str) -> list[str]:
    """The SMS bodies the console provider sent to phone so far (run the jobs first)."""
    return [body for to, body in rt.sms.outbox if to == phone]  # type: ignore[attr-defined]


def worker_env(settings: Settings, **more: str) -> dict[str, str]:
    """The environment of a `python -m workers` process a test starts: the test's database, Redis
    and keys, console SMS, sweeps out of the way; more adds or overrides variables."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "ENCRYPTION_KEY": settings.encryption_key,
        "SMS_BACKEND": "console",
        "SCHEDULER_INTERVAL": "3600",
        **more,
    }


def start_worker(settings: Settings, log: Path, **more: str) -> subprocess.Popen[bytes]:
    """`python -m workers` in its own session, as a process manager starts it (worker_env(settings,
    **more)), writing its output to log."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=ROOT,
            env=worker_env(settings, **more),
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def until(condition: Callable[[], object], seconds: float) -> bool:
    """Whether condition() came true within seconds (looked at every 0.2 s)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
