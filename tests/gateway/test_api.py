"""The JSON API as a client sees it: users and tokens made with the CLI, cases read back."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from gateway.models import ApiToken, Assignment, AuditEntry, Event, Location, Message, Officer, Referral, Report, User
from gateway.registry.imports import path_key
from menus.reference import check_digit
from tests.helpers import VOLUNTEER_PHONE, Dial, register_volunteer

PASSWORD = "correct horse battery"
RUSIZI_VILLAGE = ("Rusizi", "Nyakabuye", "Kamanu", "Site")
NYARUGENGE_VILLAGE = ("Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe")
REPORTER_PHONE = "+250788765432"
OFFICER_PHONE = "+250788000111"


def _make_user(runner, email: str, role: str, district: str | None = None) -> str:
    """Create a user as a person would on the command line, and give back a new token."""
    args = ["users", "create", email, "--role", role] + (["--district", district] if district else [])
    created = runner.invoke(args=args, input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    issued = runner.invoke(args=["users", "token", email])
    assert issued.exit_code == 0, issued.output
    return issued.output.strip()


def _get(client, url: str, token: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(url, headers=headers)


def _ok(client, url: str, token: str):  # type: ignore[no-untyped-def]
    response = _get(client, url, token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _reference(n: int) -> str:
    body = str(100000 + n)
    return body + check_digit(body)


def _insert_case(
    rt,
    n: int,
    village: tuple[str, ...] = RUSIZI_VILLAGE,
    status: str = "new",
    created_at: datetime | None = None,
    details: str | None = None,
    callback_ok: bool = False,
) -> str:
    """A community report and its referral, written as the routing job would leave them."""
    reference = _reference(n)
    with rt.db.transaction() as session:
        place = session.scalar(select(Location).where(Location.path == path_key(*village)))
        district = session.scalar(select(Location).where(Location.path == path_key(village[0])))
        report = Report(
            session_id=f"s-{n}",
            reference=reference,
            reporter_phone_enc=rt.crypto.encrypt(REPORTER_PHONE),
            reporter_phone_hash=rt.crypto.lookup_hash(REPORTER_PHONE),
            category="neglect",
            urgent=False,
            age_band="5-11",
            sex="boy",
            location_id=place.id,
            details_enc=rt.crypto.encrypt(details) if details else None,
            callback_ok=callback_ok,
            tree_version="test",
        )
        session.add(report)
        session.flush()
        session.add(
            Referral(
                report_id=report.id,
                reference=reference,
                category="neglect",
                urgent=False,
                age_band="5-11",
                sex="boy",
                location_id=place.id,
                district_id=district.id,
                reporter_kind="community",
                status=status,
                created_at=created_at or datetime.now(UTC),
            )
        )
    return reference


def _audit(rt) -> list[tuple[str, str, str | None, str]]:
    with rt.db.reading() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, Referral.reference, AuditEntry.detail)
            .outerjoin(Referral, Referral.id == AuditEntry.referral_id)
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


# --- users and tokens on the command line ---


def test_users_create_reads_password_from_stdin_and_token_is_kept_only_as_its_hash(runner, rt):
    created = runner.invoke(args=["users", "create", "Ada@Example.org", "--role", "admin"], input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert "created admin ada@example.org" in created.output
    issued = runner.invoke(args=["users", "token", "ada@example.org"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    assert token.startswith("ijwi_") and len(token) > 40
    with rt.db.reading() as session:
        user = session.scalar(select(User).where(User.email == "ada@example.org"))
        assert check_password_hash(user.password_hash, PASSWORD) and PASSWORD not in user.password_hash
        hashes = session.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == user.id)).all()
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]
    again = runner.invoke(args=["users", "token", "ada@example.org"]).output.strip()
    assert again != token


def test_officer_district_is_matched_without_regard_to_case(runner, rt):
    result = runner.invoke(
        args=["users", "create", "o@example.org", "--role", "officer", "--district", "  nyaRUGENGE "],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created officer o@example.org of Nyarugenge" in result.output


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["o@example.org", "--role", "officer"], PASSWORD, "an officer needs a district"),
        (["o@example.org", "--role", "officer", "--district", "Atlantis"], PASSWORD, "no district named 'Atlantis'"),
        (["v@example.org", "--role", "viewer", "--district", "Rusizi"], PASSWORD, "only officers belong to a district"),
        (["a@example.org", "--role", "admin"], "short", "at least 10 characters"),
        (["a@example.org", "--role", "admin"], "", "at least 10 characters"),
        (["not-an-email", "--role", "admin"], PASSWORD, "'not-an-email' is not an email address"),
        (["a@example.org", "--role", "boss"], PASSWORD, "'boss' is not one of 'admin', 'officer', 'viewer'"),
    ],
)
def test_users_create_refuses_with_a_clear_error(runner, rt, args, password, message):
    result = runner.invoke(args=["users", "create", *args], input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output
    with rt.db.reading() as session:
        assert session.scalars(select(User)).all() == []


def test_users_create_refuses_an_email_already_taken_and_token_an_unknown_one(runner):
    _make_user(runner, "ada@example.org", "admin")
    again = runner.invoke(args=["users", "create", "ADA@example.org", "--role", "viewer"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "a user ada@example.org already exists" in again.output
    unknown = runner.invoke(args=["users", "token", "nobody@example.org"])
    assert unknown.exit_code != 0 and "no user nobody@example.org" in unknown.output


# --- authentication ---


def test_missing_wrong_and_revoked_tokens_get_401_json(client, runner, rt):
    token = _make_user(runner, "ada@example.org", "admin")
    assert _get(client, "/api/v1/referrals", token).status_code == 200
    for sent in (None, "ijwi_not-a-real-token"):
        response = _get(client, "/api/v1/referrals", sent)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(response.get_json()) == {"error", "message"}
    basic = client.get("/api/v1/referrals", headers={"Authorization": "Basic YWRhOnB3"})
    assert basic.status_code == 401

    revoked = runner.invoke(args=["users", "revoke", "ada@example.org"])
    assert revoked.exit_code == 0 and "1 token(s) revoked" in revoked.output
    response = _get(client, "/api/v1/referrals", token)
    assert response.status_code == 401
    assert response.get_json()["message"] == "the API token is unknown or revoked"
    assert _audit(rt) == [("ada@example.org", "list_referrals", None, "0 shown")]


def test_a_deactivated_users_token_stops_working(client, runner, rt):
    token = _make_user(runner, "ada@example.org", "viewer")
    with rt.db.transaction() as session:
        session.scalar(select(User)).active = False
    assert _get(client, "/api/v1/referrals", token).status_code == 401


# --- a report walked over USSD, read back ---


def _volunteer_report(client, rt, run_jobs) -> str:
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "1", "1", "3", "1", "1")  # violence, urgent, 12-17, girl, my village
    dial.send("Beaten at home, see house 12*B")
    end = dial.send("1")
    run_jobs()
    return end.split("Reference: ")[1].split()[0]


def test_volunteer_report_lists_without_free_text_and_admin_reads_it_in_full(client, runner, rt, run_jobs):
    reference = _volunteer_report(client, rt, run_jobs)
    admin = _make_user(runner, "ada@example.org", "admin")

    listing = _get(client, "/api/v1/referrals", admin)
    assert "Beaten" not in listing.get_data(as_text=True) and "788123456" not in listing.get_data(as_text=True)
    (item,) = listing.get_json()["items"]
    assert item["reference"] == reference
    assert (item["category"], item["urgent"], item["age_band"], item["sex"]) == ("violence", True, "12-17", "girl")
    assert item["place"] == {"village": "Ubumwe", "cell": "Katabaro", "sector": "Kimisagara", "district": "Nyarugenge"}
    assert item["reporter_kind"] == "volunteer" and item["status"] in ("new", "routed")
    assert item["created_at"].endswith("Z") and item["acknowledged_at"] is None and item["escalation_step"] == 0

    case = _ok(client, f"/api/v1/referrals/{reference}", admin)
    assert case["details"] == "Beaten at home, see house 12*B"
    assert case["reporter_phone"] == VOLUNTEER_PHONE  # a volunteer may always be called back
    assert case["private_fields"] == "shown"
    assert case["timeline"][0]["kind"] == "created" and case["timeline"][0]["actor"] == "system"
    assert _audit(rt)[-1] == ("ada@example.org", "read_referral_private", reference, "shown: details, reporter_phone")


def test_viewer_reads_the_case_but_never_its_free_text_or_phone(client, runner, rt, run_jobs):
    reference = _volunteer_report(client, rt, run_jobs)
    viewer = _make_user(runner, "vic@example.org", "viewer")
    response = _get(client, f"/api/v1/referrals/{reference}", viewer)
    assert response.status_code == 200
    case = response.get_json()
    assert (case["details"], case["reporter_phone"], case["close_note"]) == (None, None, None)
    assert case["private_fields"] == "hidden" and case["category"] == "violence"
    assert "Beaten" not in response.get_data(as_text=True)
    assert _audit(rt) == [("vic@example.org", "read_referral", reference, "")]


def test_officer_sees_free_text_but_no_phone_of_an_anonymous_reporter(client, runner, rt):
    anonymous = _insert_case(rt, 1, details="Left alone for days")
    callback = _insert_case(rt, 2, details="Call me", callback_ok=True)
    officer = _make_user(runner, "olive@example.org", "officer", "Rusizi")

    case = _ok(client, f"/api/v1/referrals/{anonymous}", officer)
    assert (case["details"], case["reporter_phone"], case["callback_ok"]) == ("Left alone for days", None, False)
    case = _ok(client, f"/api/v1/referrals/{callback}", officer)
    assert (case["details"], case["reporter_phone"], case["callback_ok"]) == ("Call me", REPORTER_PHONE, True)
    assert [(a, r, d) for _, a, r, d in _audit(rt)] == [
        ("read_referral_private", anonymous, "shown: details"),
        ("read_referral_private", callback, "shown: details, reporter_phone"),
    ]


# --- district scoping ---


def test_officer_lists_and_reads_only_their_own_district(client, runner, rt):
    rusizi = _insert_case(rt, 1, RUSIZI_VILLAGE)
    kigali = _insert_case(rt, 2, NYARUGENGE_VILLAGE, details="secret words")
    officer = _make_user(runner, "olive@example.org", "officer", "rusizi")
    viewer = _make_user(runner, "vic@example.org", "viewer")

    assert [i["reference"] for i in _ok(client, "/api/v1/referrals", officer)["items"]] == [rusizi]
    assert _ok(client, "/api/v1/referrals?district=Nyarugenge", officer)["items"] == []
    assert [i["reference"] for i in _ok(client, "/api/v1/referrals", viewer)["items"]] == [kigali, rusizi]

    other = _get(client, f"/api/v1/referrals/{kigali}", officer)
    missing = _get(client, f"/api/v1/referrals/{_reference(99)}", officer)
    assert other.status_code == missing.status_code == 404
    assert "secret" not in other.get_data(as_text=True)
    assert other.get_json()["message"] == f"no referral {kigali}"
    assert _get(client, f"/api/v1/messages?referral={kigali}", officer).status_code == 404
    assert _get(client, f"/api/v1/referrals/{rusizi}", officer).status_code == 200


# --- filters, paging, bad input ---


def test_list_filters_by_status_district_and_since(client, runner, rt):
    now = datetime.now(UTC)
    old = _insert_case(rt, 1, RUSIZI_VILLAGE, status="closed", created_at=now - timedelta(days=40))
    routed = _insert_case(rt, 2, RUSIZI_VILLAGE, status="routed", created_at=now - timedelta(days=2))
    kigali = _insert_case(rt, 3, NYARUGENGE_VILLAGE, status="acknowledged", created_at=now - timedelta(hours=1))
    admin = _make_user(runner, "ada@example.org", "admin")

    def refs(query: str) -> list[str]:
        return [i["reference"] for i in _ok(client, "/api/v1/referrals" + query, admin)["items"]]

    assert refs("") == [kigali, routed, old]
    assert refs("?status=routed") == [routed]
    assert refs("?status=closed,ACKNOWLEDGED") == [kigali, old]
    assert refs("?district=RUSIZI") == [routed, old]
    since = (now - timedelta(days=3)).date().isoformat()
    assert refs(f"?since={since}") == [kigali, routed]
    assert refs(f"?since={since}&district=rusizi&status=routed") == [routed]
    an_hour_and_a_half_ago = (now - timedelta(minutes=90)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert refs(f"?since={an_hour_and_a_half_ago}") == [kigali]
    # "+02:00" sent without escaping arrives as " 02:00" and is still read as an offset.
    kigali_time = (now - timedelta(minutes=90)).astimezone(UTC) + timedelta(hours=2)
    assert refs("?since=" + kigali_time.strftime("%Y-%m-%dT%H:%M:%S") + "+02:00") == [kigali]


def test_pages_walk_every_referral_once_newest_first(client, runner, rt):
    references = [_insert_case(rt, n) for n in range(7)]
    admin = _make_user(runner, "ada@example.org", "admin")
    seen: list[str] = []
    url = "/api/v1/referrals?limit=3"
    while True:
        page = _ok(client, url, admin)
        assert len(page["items"]) <= 3
        seen += [i["reference"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/referrals?limit=3&cursor={page['next_cursor']}"
    assert seen == list(reversed(references))
    assert [a for _, a, _, _ in _audit(rt)] == ["list_referrals"] * 3
    assert _audit(rt)[0][3] == "3 shown; limit=3"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "since must be an ISO 8601 date or time"),
        ("since=2026-13-01", "since must be an ISO 8601 date or time"),
        ("since=9999-12-31T23:59:59-05:00", "since must be an ISO 8601 date or time"),
        ("status=lost", "status must be one of new, routed, acknowledged, closed"),
        ("district=Atlantis", "no district named 'Atlantis'"),
        ("district=%00", "district holds control characters"),
        ("limit=0", "limit must be a whole number from 1 to 200"),
        ("limit=201", "limit must be a whole number from 1 to 200"),
        ("limit=ten", "limit must be a whole number from 1 to 200"),
        ("cursor=abc", "cursor must be a next_cursor value"),
        ("cursor=99999999999999999999999", "cursor must be a next_cursor value"),
        ("stauts=new", "unknown parameter 'stauts'"),
    ],
)
def test_bad_list_parameters_get_400_with_a_message(client, runner, rt, query, message):
    admin = _make_user(runner, "ada@example.org", "admin")
    response = _get(client, f"/api/v1/referrals?{query}", admin)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Bad Request" and message in body["message"]
    assert _audit(rt) == []


@pytest.mark.parametrize("bad", ["abc", "12345", "1234567890", "%00"])
def test_malformed_reference_is_404_with_a_message(client, runner, bad):
    admin = _make_user(runner, "ada@example.org", "admin")
    for url in (f"/api/v1/referrals/{bad}", f"/api/v1/messages?referral={bad}"):
        response = _get(client, url, admin)
        assert response.status_code == 404, url
        assert "is not a reference number" in response.get_json()["message"]


def test_a_mistyped_reference_does_not_reach_another_case(client, runner, rt):
    reference = _insert_case(rt, 12)
    admin = _make_user(runner, "ada@example.org", "admin")
    mistyped = reference[:4] + reference[5] + reference[4] + reference[6]  # two neighbours swapped
    assert mistyped != reference
    response = _get(client, f"/api/v1/referrals/{mistyped}", admin)
    assert response.status_code == 404
    assert response.get_json()["message"].endswith("is not a reference number (7 digits, the last a check digit)")


# --- timeline, assignments, messages ---


def _officer(rt) -> int:
    with rt.db.transaction() as session:
        district = session.scalar(select(Location).where(Location.path == "rusizi"))
        officer = Officer(name="Alice Uwase", phone=OFFICER_PHONE, role="social_worker", district_id=district.id)
        session.add(officer)
        session.flush()
        return officer.id


def test_case_shows_its_timeline_and_who_it_was_assigned_to(client, runner, rt):
    reference = _insert_case(rt, 1, status="acknowledged")
    officer_id = _officer(rt)
    at = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    with rt.db.transaction() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        referral.acknowledged_by_id = officer_id
        referral.acknowledged_at = at + timedelta(minutes=5)
        session.add(Assignment(referral_id=referral.id, officer_id=officer_id, step=0, reason="on_duty", created_at=at))
        session.add(Event(referral_id=referral.id, kind="routed", actor="system", detail="1 officer", at=at))
        session.add(
            Event(
                referral_id=referral.id,
                kind="acknowledged",
                actor=f"officer:{officer_id}",
                detail="by SMS",
                at=at + timedelta(minutes=5),
            )
        )
    viewer = _make_user(runner, "vic@example.org", "viewer")
    case = _ok(client, f"/api/v1/referrals/{reference}", viewer)
    assert case["timeline"] == [
        {
            "kind": "routed",
            "actor": "system",
            "detail": "1 officer",
            "at": "2026-03-01T08:30:00Z",
            "note": None,
            "by": "system",
            "said": "1 officer",
        },
        {
            "kind": "acknowledged",
            "actor": f"officer:{officer_id}",
            "detail": "by SMS",
            "at": "2026-03-01T08:35:00Z",
            "note": None,
            "by": "Alice Uwase (social worker)",
            "said": "by SMS",
        },
    ]
    assert case["assignments"] == [
        {
            "officer": {"name": "Alice Uwase", "role": "social_worker"},
            "step": 0,
            "reason": "on_duty",
            "at": "2026-03-01T08:30:00Z",
        }
    ]
    assert case["acknowledged_by"] == {"name": "Alice Uwase", "role": "social_worker"}
    assert case["acknowledged_at"] == "2026-03-01T08:35:00Z" and case["status"] == "acknowledged"
    assert OFFICER_PHONE not in str(case)


def test_messages_show_officer_numbers_in_full_to_admins_only_and_are_audited(client, runner, rt):
    reference = _insert_case(rt, 1)
    officer_id = _officer(rt)
    with rt.db.transaction() as session:
        referral_id = session.scalar(select(Referral.id).where(Referral.reference == reference))
        session.add(
            Message(
                referral_id=referral_id,
                officer_id=officer_id,
                kind="alert",
                to=OFFICER_PHONE,
                body=f"Ijwi {reference}: neglect",
                status="delivered",
                attempts=1,
                cost="RWF 15.0000",
            )
        )
        session.add(
            Message(referral_id=referral_id, kind="notice", to=REPORTER_PHONE, body="Received", status="failed")
        )
    admin = _make_user(runner, "ada@example.org", "admin")
    officer = _make_user(runner, "olive@example.org", "officer", "Rusizi")

    page = _ok(client, f"/api/v1/messages?referral={reference}", admin)
    assert page["referral"] == reference
    alert, notice = page["items"]
    assert (alert["to"], alert["kind"], alert["status"], alert["attempts"], alert["cost"]) == (
        OFFICER_PHONE,
        "alert",
        "delivered",
        1,
        "RWF 15.0000",
    )
    assert alert["officer"] == {"name": "Alice Uwase", "role": "social_worker"}
    assert notice["to"] == "+250*******432" and notice["status"] == "failed"  # maybe the reporter: never in full
    page = _ok(client, f"/api/v1/messages?referral={reference}", officer)
    assert [m["to"] for m in page["items"]] == ["+250*******111", "+250*******432"]
    assert [(a, act, r, d) for a, act, r, d in _audit(rt)] == [
        ("ada@example.org", "read_messages", reference, "2 shown"),
        ("olive@example.org", "read_messages", reference, "2 shown"),
    ]
    missing = _get(client, "/api/v1/messages", admin)
    assert missing.status_code == 400 and "say which referral" in missing.get_json()["message"]


# --- the audit log ---


def test_admins_read_the_audit_log_and_others_are_refused(client, runner, rt):
    reference = _insert_case(rt, 1)
    admin = _make_user(runner, "ada@example.org", "admin")
    viewer = _make_user(runner, "vic@example.org", "viewer")
    _ok(client, f"/api/v1/referrals/{reference}", viewer)
    _ok(client, "/api/v1/referrals", viewer)

    refused = _get(client, "/api/v1/audit", viewer)
    assert refused.status_code == 403 and refused.get_json()["message"] == "only admins read the audit log"
    log = _ok(client, f"/api/v1/audit?referral={reference}", admin)["items"]
    assert [(e["actor"], e["action"], e["referral"]) for e in log] == [("vic@example.org", "read_referral", reference)]
    log = _ok(client, "/api/v1/audit?actor=VIC@example.org", admin)["items"]
    assert [e["action"] for e in log] == ["list_referrals", "read_referral"]


def test_users_list_shows_roles_districts_and_live_tokens(runner, rt):
    _make_user(runner, "ada@example.org", "admin")
    _make_user(runner, "olive@example.org", "officer", "Rusizi")
    runner.invoke(args=["users", "token", "olive@example.org"])
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines == [
        "ada@example.org\tadmin\t-\tactive\t1 token(s)\t-",
        "olive@example.org\tofficer\tRusizi\tactive\t2 token(s)\t-",
        "2 user(s)",
    ]


def test_a_user_made_on_the_command_line_is_linked_to_the_registry_officer_of_a_phone(runner, rt):
    _officer(rt)
    args = ["users", "create", "alice@example.org", "--role", "officer", "--officer", "0" + OFFICER_PHONE[4:]]
    created = runner.invoke(args=args, input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert created.output.strip().endswith("created officer alice@example.org of Rusizi, officer Alice Uwase")
    listed = runner.invoke(args=["users", "list"]).output.splitlines()
    assert listed[0] == "alice@example.org\tofficer\tRusizi\tactive\t0 token(s)\tAlice Uwase"
    again = runner.invoke(args=[*args[:2], "bob@example.org", *args[3:]], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "the officer Alice Uwase is already alice@example.org" in again.output


def test_a_deactivated_user_is_refused_with_any_token_and_gets_no_new_one(runner, client, rt):
    token = _make_user(runner, "ada@example.org", "admin")
    assert _get(client, "/api/v1/referrals", token).status_code == 200
    done = runner.invoke(args=["users", "deactivate", "ADA@example.org"])
    assert done.exit_code == 0 and "deactivated; tokens revoked" in done.output
    assert _get(client, "/api/v1/referrals", token).status_code == 401
    refused = runner.invoke(args=["users", "token", "ada@example.org"])
    assert refused.exit_code != 0 and "deactivated" in refused.output
    assert "deactivated\t0 token(s)" in runner.invoke(args=["users", "list"]).output
    # Back again: the old token stays revoked; a new one works.
    assert runner.invoke(args=["users", "activate", "ada@example.org"]).exit_code == 0
    assert _get(client, "/api/v1/referrals", token).status_code == 401
    fresh = runner.invoke(args=["users", "token", "ada@example.org"]).output.strip()
    assert _get(client, "/api/v1/referrals", fresh).status_code == 200


def test_deactivating_nobody_says_so(runner, rt):
    result = runner.invoke(args=["users", "deactivate", "nobody@example.org"])
    assert result.exit_code != 0 and "no user nobody@example.org" in result.output


def test_a_token_stops_working_when_it_expires(runner, client, rt, monkeypatch):
    _make_user(runner, "ada@example.org", "admin")
    issued = runner.invoke(args=["users", "token", "ada@example.org", "--days", "7"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    with rt.db.reading() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).one()
        assert row.expires_at - row.created_at == timedelta(days=7)
    assert _get(client, "/api/v1/referrals", token).status_code == 200
    later = datetime.now(UTC) + timedelta(days=7, minutes=1)
    monkeypatch.setattr("gateway.accounts.users.utcnow", lambda: later)
    assert _get(client, "/api/v1/referrals", token).status_code == 401
    # The default token (90 days) of the same user still works a week later.
    assert "\t1 token(s)" in runner.invoke(args=["users", "list"]).output


@pytest.mark.parametrize("days", ["0", "366", "soon"])
def test_a_token_lifetime_out_of_range_is_refused(runner, rt, days):
    _make_user(runner, "ada@example.org", "admin")
    result = runner.invoke(args=["users", "token", "ada@example.org", "--days", days])
    assert result.exit_code != 0 and "--days" in result.output


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_viewer_reads_alerts_with_the_volunteer_reporters_number_masked(client, runner, rt, run_jobs):
    from tests.helpers import register_officers

    register_officers(rt)
    reference = _volunteer_report(client, rt, run_jobs)
    viewer = _make_user(runner, "vic@example.org", "viewer")
    admin = _make_user(runner, "ada@example.org", "admin")
    seen_by_viewer = _get(client, f"/api/v1/messages?referral={reference}", viewer).get_data(as_text=True)
    assert "IZU +250*******456" in seen_by_viewer and "788123456" not in seen_by_viewer
    seen_by_admin = _get(client, f"/api/v1/messages?referral={reference}", admin).get_data(as_text=True)
    assert f"IZU {VOLUNTEER_PHONE}" in seen_by_admin
