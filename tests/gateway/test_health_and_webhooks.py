"""Health probes and the webhook shared secret."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.models import UssdSessionEnd


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "redis": "ok", "database": "ok"}


def test_readyz_says_what_is_unreachable(app_with):
    app = app_with(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "unreachable"
    assert response.get_json()["database"] == "ok"


def test_webhook_token_is_required_when_set(app, app_with):
    app = app_with(webhook_token="s3cret")
    client = app.test_client()
    form = {"sessionId": "ATUid_t", "phoneNumber": "+250788765432", "serviceCode": "*801#", "text": ""}
    assert client.post("/ussd", data=form).status_code == 403
    assert client.post("/ussd?token=wrong", data=form).status_code == 403
    assert client.post("/ussd?token=s3cret", data=form).get_data(as_text=True).startswith("CON ")
    event = {"sessionId": "ATUid_t", "phoneNumber": "+250788765432", "status": "Success"}
    assert client.post("/ussd/events", data=event).status_code == 403
    rt = app.extensions["ijwi"]
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(UssdSessionEnd.id))) == 0


def test_unknown_url_is_a_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404 and response.get_json()["error"] == "Not Found"


def test_the_gateway_sets_no_cookie_and_keeps_its_secret_out_of_flask(app, client):
    response = client.post("/ussd", data={"sessionId": "ATUid_c", "phoneNumber": "+250788765432", "text": ""})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert not app.config.get("SECRET_KEY")
