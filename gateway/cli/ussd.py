"""flask ussd: USSD sessions from the terminal."""

from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from gateway import runtime

group = AppGroup(
    "ussd",
    help="""USSD sessions.

\b
Examples:
  ./ijwi ussd simulate --phone +250788123456
""",
)


@group.command("simulate", short_help="Dial the gateway from this terminal.")
@click.option("--phone", required=True, help="The caller's number, e.g. +250788123456.")
def ussd_simulate(phone: str) -> None:
    """Dial the gateway from this terminal; type an answer per screen, empty line to hang up."""
    settings = runtime.current().settings
    client = current_app.test_client()
    session_id = f"SIM-{uuid.uuid4().hex[:12]}"
    inputs: list[str] = []
    while True:
        form = {
            "sessionId": session_id,
            "serviceCode": settings.ussd_service_code,
            "phoneNumber": phone,
            "networkCode": "99999",
            "text": "*".join(inputs),
        }
        token = settings.webhook_token
        reply = client.post("/ussd" + (f"?token={token}" if token else ""), data=form).get_data(as_text=True)
        click.echo("\n" + reply[4:] + "\n" + "-" * 30)
        if reply.startswith("END"):
            return
        answer = click.prompt(">", default="", show_default=False)
        if not answer:
            click.echo("(hung up)")
            return
        inputs.append(answer)
