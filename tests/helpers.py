"""Playing Africa's Talking: a caller dialling the short code, hop by hop."""

from __future__ import annotations

import itertools

from flask.testing import FlaskClient

from gateway import registry
from gateway.runtime import Runtime

_sessions = itertools.count(1)

VOLUNTEER_PHONE = "+250788123456"
COMMUNITY_PHONE = "+250788765432"


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
    registry.import_volunteers(
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
