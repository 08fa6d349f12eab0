"""An email to a client and her reply, end to end: queued, sent by the worker through a real (local)
SMTP server, answered to the reply address, and posted back by the mail relay into the same thread."""

from __future__ import annotations

from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from rapport.app import create_app
from rapport.associates.notifications import EmailSettings, set_email_settings
from rapport.customers.models import Consent
from rapport.db import Database
from rapport.outreach.channels.registry import close_channels
from rapport.outreach.dispatch import outreach_runner
from rapport.outreach.models import Message
from rapport.outreach.settings import OutreachSettings, set_outreach_settings
from tests.outreach.shop import send as queue_message
from tests.outreach.test_channel_smtp import Inbox, _free_port, _server

RELAY_TOKEN = "relay-token-for-tests"
RELAYED = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {RELAY_TOKEN}"}


@pytest.fixture
def mail() -> Iterator[Inbox]:
    inbox, port = Inbox(), _free_port()
    controller = _server(inbox, port)
    set_email_settings(EmailSettings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port))  # type: ignore[call-arg]
    set_outreach_settings(
        OutreachSettings(_env_file=None, email_channel="smtp", reply_domain="reply.maison.example",  # type: ignore[call-arg]
                         inbound_email_token=SecretStr(RELAY_TOKEN))
    )  # fmt: skip
    try:
        yield inbox
    finally:
        close_channels()
        controller.stop()
        set_email_settings(None)
        set_outreach_settings(None)


def _reply_to(original: EmailMessage, text: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = "Alicia Moreau <alicia@example.com>"
    reply["To"] = str(original["Reply-To"])
    reply["Subject"] = "Re: " + str(original["Subject"])
    reply["Message-ID"] = "<reply-1@example.com>"
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    reply.set_content(f"{text}\n\nOn Mon, 23 Nov 2026 Ana wrote:\n> {original.get_body(('plain',)).get_content()}")
    return reply.as_bytes(policy=policy.SMTP)


def test_an_email_goes_out_by_smtp_and_the_clients_reply_comes_back_to_her_thread(
    db: Database,
    shop: dict[str, Any],
    mail: Inbox,
) -> None:
    queue_message(db, shop, channel="email", subject="Your coat", body="Hello {first_name}, the coat is in.")
    assert outreach_runner(lambda: db).drain() == 1
    ((_, recipients, sent),) = mail.messages
    assert recipients == ["alicia@example.com"]
    assert str(sent["Reply-To"]).startswith(f"reply+c{shop['cid']}.") and "@reply.maison.example" in str(
        sent["Reply-To"]
    )
    assert "/u/" in str(sent["List-Unsubscribe"]) and str(sent["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert sent.get_body(("plain",)).get_content().startswith("Hello Alicia, the coat is in.")
    assert "Hello Alicia, the coat is in." in sent.get_body(("html",)).get_content()
    with db.read() as session:
        out = session.execute(select(Message)).scalar_one()
    assert out.status == "sent" and out.provider == "smtp" and out.provider_message_id == str(sent["Message-ID"])

    relay = TestClient(create_app())
    raw = _reply_to(sent, "Wonderful, see you Saturday.")
    refused = relay.post("/api/v1/webhooks/email", content=raw, headers={"Content-Type": "message/rfc822"})
    assert refused.status_code == 403
    filed = relay.post("/api/v1/webhooks/email", content=raw,
                       headers=RELAYED)  # fmt: skip
    assert filed.status_code == 202 and filed.json()["client_id"] == shop["cid"]
    assert filed.json()["routed_to"] == "associate"
    again = relay.post("/api/v1/webhooks/email", content=raw,
                       headers=RELAYED)  # fmt: skip
    assert again.json()["created"] is False
    with db.read() as session:
        reply = session.execute(select(Message).where(Message.direction == "in")).scalar_one()
    assert reply.customer_id == shop["cid"] and reply.body == "Wonderful, see you Saturday."
    assert reply.in_reply_to == str(sent["Message-ID"]) and reply.routed_associate_id == shop["ana"]


def test_the_one_click_unsubscribe_in_the_email_withdraws_email_consent(
    db: Database,
    shop: dict[str, Any],
    mail: Inbox,
) -> None:
    queue_message(db, shop, channel="email", subject="News", body="Hello")
    outreach_runner(lambda: db).drain()
    ((_, _, sent),) = mail.messages
    url = str(sent["List-Unsubscribe"]).strip("<>")
    path = url.split("://", 1)[1].split("/", 1)[1]
    done = TestClient(create_app()).post("/" + path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with db.read() as session:
        granted = session.scalar(select(Consent.granted).where(Consent.channel == "email"))
    assert granted is False
