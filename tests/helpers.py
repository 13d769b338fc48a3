"""Playing Africa's Talking: a caller dialling the short code, hop by hop."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from flask.testing import FlaskClient

from gateway import registry
from gateway.runtime import Runtime
from menus.tree import default_tree

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


# --- the shipped tree, in each language -------------------------------------------------

TREE = default_tree()
LANGUAGES = TREE.languages
# Africa's Talking samples shared by the programme.
AT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "africastalking"


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
