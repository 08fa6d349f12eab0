"""The conversation screens and the providers' webhooks, through HTTP as a phone and Twilio send them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from rapport.associates.models import Associate, Notification
from rapport.customers.models import Consent, Customer
from rapport.outreach import signing
from rapport.outreach.channels.registry import close_channels
from rapport.outreach.models import Handover, Message
from rapport.outreach.settings import OutreachSettings, set_outreach_settings
from tests.factories import ingest, ok
from tests.web.conftest import form_token, signed_in

PUBLIC = "http://127.0.0.1:8000"
TOKEN = "twilio-auth-token-for-tests"


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    set_outreach_settings(OutreachSettings(_env_file=None, twilio_auth_token=TOKEN))  # type: ignore[call-arg]
    yield
    set_outreach_settings(None)
    close_channels()


@pytest.fixture
def client_id(db, staffed) -> int:
    ok(ingest(db, "customers", {
        "source": "pos", "id": "c1", "first_name": "Alicia", "last_name": "Moreau", "phones": ["+33612345678"],
        "emails": ["alicia@example.com"], "home_store": "PAR",
        "consent": [{"channel": c, "granted": True} for c in ("email", "sms")],
    }))  # fmt: skip
    with db.write() as session:
        cid = session.scalar(select(Customer.id).where(Customer.first_name == "Alicia"))
        session.execute(update(Customer).where(Customer.id == cid).values(assigned_associate_id=staffed.ana))
    return int(cid)


def signed(form: dict[str, str], path: str) -> str:
    return RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)


def test_the_composer_says_which_channels_are_open_and_why_the_others_are_not(browser, staffed, client_id):
    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/conversation")
    assert page.status_code == 200
    assert "Alicia has not agreed to be contacted by WhatsApp" in page.text
    assert 'value="whatsapp" disabled' in page.text.replace("\n", " ") or re.search(
        r'value="whatsapp"[^>]*disabled', page.text
    )


def test_sending_from_the_composer_shows_the_message_in_the_thread_escaped(db, browser, staffed, client_id):
    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/conversation")
    sent = browser.post(f"/clients/{client_id}/conversation", data={
        "csrf_token": form_token(page), "channel": "sms", "body": "<script>alert(1)</script> see you Friday",
        "key": "k-" + "1" * 20,
    })  # fmt: skip
    assert sent.status_code == 303
    thread = browser.get(sent.headers["location"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt; see you Friday" in thread.text
    assert "<script>alert(1)</script>" not in thread.text
    assert "Local outbox" in thread.text or "Sending" in thread.text


def test_a_refused_send_re_renders_the_composer_with_the_reason(browser, staffed, client_id):
    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/conversation")
    refused = browser.post(f"/clients/{client_id}/conversation", data={
        "csrf_token": form_token(page), "channel": "whatsapp", "body": "Hi", "key": "k-" + "2" * 20})  # fmt: skip
    assert refused.status_code == 422
    assert "has not agreed to be contacted by WhatsApp" in refused.text


def test_an_unsigned_or_tampered_twilio_webhook_is_refused_and_files_nothing(db, browser, client_id):
    form = {"MessageSid": "SM1", "From": "+33612345678", "To": "+33100000000", "Body": "Hello"}
    path = "/api/v1/webhooks/twilio/messages"
    assert browser.post(path, data=form).status_code == 403
    bad = browser.post(path, data={**form, "Body": "changed"}, headers={"X-Twilio-Signature": signed(form, path)})
    assert bad.status_code == 403
    with db.read() as session:
        assert session.scalars(select(Message)).all() == []


def test_a_signed_inbound_sms_lands_in_the_thread_and_notifies_the_associate(db, browser, staffed, client_id):
    form = {"MessageSid": "SM1", "From": "+33612345678", "To": "+33100000000", "Body": "Is the coat in?"}
    path = "/api/v1/webhooks/twilio/messages"
    answer = browser.post(path, data=form, headers={"X-Twilio-Signature": signed(form, path)})
    assert answer.status_code == 200 and "<Response>" in answer.text
    again = browser.post(path, data=form, headers={"X-Twilio-Signature": signed(form, path)})
    assert again.status_code == 200
    with db.read() as session:
        (m,) = session.scalars(select(Message)).all()
        assert m.customer_id == client_id and m.direction == "in" and m.routed_associate_id == staffed.ana
        note = session.scalars(select(Notification).where(Notification.associate_id == staffed.ana)).one()
        assert note.title == "SMS from Alicia Moreau" and note.link == f"/clients/{client_id}/conversation"
    signed_in(browser, "ana@maison.example")
    assert "Is the coat in?" in browser.get("/inbox").text
    assert "Is the coat in?" in browser.get(f"/clients/{client_id}/conversation/messages?after=0").text


def test_while_the_associate_is_away_messages_go_to_the_stores_shared_inbox(db, browser, staffed, client_id):
    from datetime import timedelta

    from rapport import clock

    with db.write() as session:
        session.execute(update(Associate).where(Associate.id == staffed.ana)
                        .values(away_until=clock.now() + timedelta(days=7)))  # fmt: skip
    form = {"MessageSid": "SM2", "From": "+33612345678", "To": "+33100000000", "Body": "Are you there?"}
    path = "/api/v1/webhooks/twilio/messages"
    assert browser.post(path, data=form, headers={"X-Twilio-Signature": signed(form, path)}).status_code == 200
    with db.read() as session:
        (m,) = session.scalars(select(Message)).all()
        assert m.routed_associate_id is None and m.routed_location_id == staffed.paris
        told = set(session.scalars(select(Notification.associate_id)))
    assert staffed.max in told and staffed.ana in told  # the store's team (Ana reads it when back)
    signed_in(browser, "max@maison.example")
    assert "Are you there?" in browser.get("/inbox?shared=1").text


def test_a_delivery_report_updates_the_message(db, browser, staffed, client_id):
    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/conversation")
    browser.post(f"/clients/{client_id}/conversation", data={
        "csrf_token": form_token(page), "channel": "sms", "body": "Hi", "key": "k-" + "3" * 20})  # fmt: skip
    with db.read() as session:
        key = session.scalar(select(Message.idempotency_key))
    path = f"/api/v1/webhooks/twilio/status?key={key}"
    form = {"MessageSid": "SMabc", "MessageStatus": "delivered"}
    assert browser.post(path, data=form, headers={"X-Twilio-Signature": signed(form, path)}).status_code == 204
    with db.read() as session:
        m = session.scalars(select(Message)).one()
    assert m.status == "delivered" and m.provider_message_id == "SMabc"


def test_the_unsubscribe_link_withdraws_consent_at_once_and_a_tampered_one_does_nothing(db, browser, client_id):
    token = signing.unsubscribe_token(client_id, "email")
    assert "Stop receiving email?" in browser.get(f"/u/{token}").text
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert browser.post(f"/u/{tampered}").status_code == 404
    assert browser.post(f"/u/{client_id + 1}.email.{token.rsplit('.', 1)[1]}").status_code == 404
    done = browser.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    with db.read() as session:
        granted = session.scalar(select(Consent.granted).where(Consent.customer_id == client_id,
                                                               Consent.channel == "email"))  # fmt: skip
    assert granted is False


def test_handing_a_client_over_tells_the_receiving_stores_team(db, browser, staffed, client_id):
    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/handover")
    sent = browser.post(f"/clients/{client_id}/handover", data={
        "csrf_token": form_token(page), "to_location_id": str(staffed.new_york), "visit_on": "2026-11-27",
        "note": "In New York on Friday for a wedding; loves camel, size M."})  # fmt: skip
    assert sent.status_code == 303
    with db.read() as session:
        h = session.scalars(select(Handover)).one()
        told = session.scalars(select(Notification).where(Notification.kind == "handover")).all()
    assert h.to_location_id == staffed.new_york and str(h.visit_on) == "2026-11-27"
    assert [n.associate_id for n in told] == [staffed.ben]
    assert "loves camel" in told[0].body and "Alicia Moreau" in told[0].title


def test_an_associate_sets_out_of_office_and_back_from_the_inbox(db, browser, staffed, client_id):
    from rapport.outreach.inbound import route

    signed_in(browser, "ana@maison.example")
    page = browser.get("/inbox")
    assert "Set out of office" in page.text
    assert browser.post("/me/away", data={"csrf_token": form_token(page), "back_on": "2026-11-30"}).status_code == 303
    page = browser.get("/inbox")
    assert "You are out of office until 30 Nov" in page.text
    with db.read() as session:
        assert route(session, client_id) == (None, staffed.paris)
    past = browser.post("/me/away", data={"csrf_token": form_token(page), "back_on": "2026-11-01"})
    assert past.status_code == 422 and "in the past" in past.text
    assert browser.post("/me/away", data={"csrf_token": form_token(page)}).status_code == 303
    with db.read() as session:
        assert route(session, client_id) == (staffed.ana, None)


def test_the_receiving_store_sees_the_announced_visit_and_one_of_them_takes_it_on(db, browser, staffed, client_id):
    from rapport.outreach.models import Handover

    signed_in(browser, "ana@maison.example")
    page = browser.get(f"/clients/{client_id}/handover")
    browser.post(f"/clients/{client_id}/handover", data={
        "csrf_token": form_token(page), "to_location_id": str(staffed.new_york), "visit_on": "2026-11-27",
        "note": "In New York on Friday."})  # fmt: skip
    with db.read() as session:
        handover_id = session.scalars(select(Handover.id)).one()
    token = form_token(browser.get("/inbox"))
    assert browser.post(f"/handovers/{handover_id}/accept", data={"csrf_token": token}).status_code == 403
    browser.cookies.clear()
    signed_in(browser, "ben@maison.example")
    inbox = browser.get("/inbox")
    assert "In New York on Friday." in inbox.text and "look after them" in inbox.text
    assert browser.post(f"/handovers/{handover_id}/accept", data={"csrf_token": form_token(inbox)}).status_code == 303
    assert "Ben Carter is on it" in browser.get("/inbox").text
