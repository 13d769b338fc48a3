"""Random and hostile forms posted to every webhook and the API: never a 500, and the USSD
webhook always answers a CON or END screen."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import COMMUNITY_PHONE, SOCIAL_WORKER, VOLUNTEER_PHONE, register_officers, register_volunteer

# Examples per test: 2,400 requests in all (about 20 s with SQLite, 60 s with PostgreSQL, on 2 shared cores).
EXAMPLES = 800
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\r\nX-Forged: 1",
        "\x00",
        "\x1b[31m",
        "\u202e",
        "'; DROP TABLE reports; --",
        "%s%s%n",
        "{reference}",
        "${jndi:ldap://x}",
        "2147483648",
        "-1",
        "1e309",
        "9" * 40,
        "NaN",
        "*" * 300,
        "1*" * 200 + "1",
        "A" * 5000,
        "OK 4830271",
        "DONE 4830271 done",
        "INFO 1000007",
        "ok" + "\n" * 50,
        COMMUNITY_PHONE,
        VOLUNTEER_PHONE,
        SOCIAL_WORKER,
        "+254712345678",
        "+1 (555) 0100",
        "0788123456",
        "Success",
        "Failed",
        "Incomplete",
        "AbsentSubscriber",
    ]
)
VALUE = st.one_of(HOSTILE, st.text(max_size=200), st.integers().map(str))
USSD_FIELDS = ["sessionId", "serviceCode", "phoneNumber", "networkCode", "text"]
EVENT_FIELDS = ["sessionId", "phoneNumber", "status", "input", "durationInMillis", "hopsCount", "errorMessage"]
INBOUND_FIELDS = ["id", "from", "to", "text", "date", "linkId", "networkCode"]
DELIVERY_FIELDS = ["id", "status", "phoneNumber", "failureReason", "retryCount", "networkCode"]


def forms(fields: list[str]) -> st.SearchStrategy[dict[str, str]]:
    known = st.fixed_dictionaries({}, optional={f: VALUE for f in fields})
    extra = st.dictionaries(st.text(min_size=1, max_size=20), VALUE, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


ENCODINGS = st.sampled_from(["form", "multipart", "raw", "json"])


def _post(client: Any, url: str, form: dict[str, str], encoding: str) -> Any:
    if encoding == "form":
        return client.post(url, data=form)
    if encoding == "multipart":
        return client.post(url, data=form, content_type="multipart/form-data")
    if encoding == "json":
        return client.post(url, json=form)
    raw = "&".join(f"{k}={v}" for k, v in form.items()).encode("utf-8", "surrogatepass")
    return client.post(url, data=raw, content_type="application/x-www-form-urlencoded")


@pytest.fixture
def hostile_client(app, rt):  # type: ignore[no-untyped-def]
    register_volunteer(rt)
    register_officers(rt)
    return app.test_client()


@HYPOTHESIS
@given(form=forms(USSD_FIELDS), encoding=ENCODINGS)
def test_ussd_answers_every_form_with_a_screen(hostile_client, form, encoding):  # type: ignore[no-untyped-def]
    response = _post(hostile_client, "/ussd", form, encoding)
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith(("CON ", "END "))


@HYPOTHESIS
@given(
    url=st.sampled_from(["/ussd/events", "/sms/inbound", "/sms/delivery"]),
    form=st.one_of(forms(EVENT_FIELDS), forms(INBOUND_FIELDS), forms(DELIVERY_FIELDS)),
    encoding=ENCODINGS,
)
def test_the_other_webhooks_never_answer_500(hostile_client, url, form, encoding):  # type: ignore[no-untyped-def]
    assert _post(hostile_client, url, form, encoding).status_code < 500


@pytest.fixture
def tokens(hostile_client, runner):  # type: ignore[no-untyped-def]
    made = []
    for email, role, district in (("a@x.org", "admin", None), ("o@x.org", "officer", "Nyarugenge")):
        args = ["users", "create", email, "--role", role] + (["--district", district] if district else [])
        assert runner.invoke(args=args, input="a long enough password\n").exit_code == 0
        made.append(runner.invoke(args=["users", "token", email]).output.strip())
    return made


@HYPOTHESIS
@given(
    path=st.sampled_from(["/api/v1/referrals", "/api/v1/messages", "/api/v1/audit", "/api/v1/referrals/"]),
    tail=st.one_of(st.just(""), st.text(max_size=30)),
    params=st.dictionaries(
        st.sampled_from(["status", "district", "since", "limit", "cursor", "referral", "actor", "x"]), VALUE, max_size=4
    ),
    who=st.sampled_from([0, 1, 2]),
    method=st.sampled_from(["GET", "GET", "POST", "DELETE"]),
)
def test_the_api_never_answers_500(hostile_client, tokens, path, tail, params, who, method):  # type: ignore[no-untyped-def]
    token = tokens[who] if who < len(tokens) else "forged-token"
    url = path + (tail if path.endswith("/") else "")
    response = hostile_client.open(
        url, method=method, query_string=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code < 500, (url, params, response.get_data(as_text=True)[:200])
