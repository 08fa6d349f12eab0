"""Writing to a client: consent, quiet hours, the daily cap, WhatsApp's window, idempotency, the queue.

Sent through the local outbox (no credentials) or a local server speaking Twilio's Messages API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from rapport import clock
from rapport.associates.models import Associate
from rapport.customers.models import Customer, TimelineEntry
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.jobs import service as jobs
from rapport.jobs.models import Job
from rapport.outreach import service
from rapport.outreach.channels.local_twilio import LocalTwilio
from rapport.outreach.channels.registry import close_channels
from rapport.outreach.dispatch import outreach_runner
from rapport.outreach.inbound import Inbound, receive
from rapport.outreach.models import Message
from rapport.outreach.settings import OutreachSettings, set_outreach_settings
from tests.factories import ingest, ok
from tests.outreach.shop import ana, send

ALL_CONSENT = [{"channel": c, "granted": True} for c in ("email", "sms", "whatsapp")]


@pytest.fixture(autouse=True)
def _outreach_settings() -> Iterator[None]:
    set_outreach_settings(OutreachSettings(_env_file=None))  # type: ignore[call-arg]
    yield
    set_outreach_settings(None)
    close_channels()


def messages(db: Database) -> list[Any]:
    with db.read() as session:
        return list(session.execute(select(Message).order_by(Message.id)).scalars())


def test_a_message_is_queued_with_its_timeline_entry_and_sent_by_the_worker_through_the_outbox(db, shop):
    q = send(db, shop, body="Hello {first_name}, your coat is in.")
    assert q.status == "queued" and q.created
    with db.read() as session:
        m = session.get(Message, q.id)
        assert m is not None and m.body == "Hello Alicia, your coat is in." and m.status == "queued"
        assert m.client_address == "+33612345678" and m.provider == "outbox"
        entry = session.execute(select(TimelineEntry).where(TimelineEntry.ref_id == q.id)).scalar_one()
        assert entry.kind == "message" and entry.actor_id == shop["ana"] and entry.channel == "sms"
    assert outreach_runner(lambda: db).drain() == 1
    (m,) = messages(db)
    assert m.status == "outbox" and m.provider_message_id and m.sent_at is not None


def test_the_same_idempotency_key_is_one_message(db, shop):
    first = send(db, shop, idempotency_key="retry-key-0001")
    again = send(db, shop, idempotency_key="retry-key-0001")
    assert again.id == first.id and not again.created
    assert len(messages(db)) == 1


@pytest.mark.parametrize(
    ("consent", "reason"),
    [(None, "has not agreed to be contacted by SMS"), (False, "has opted out of SMS")],
)
def test_a_channel_without_consent_is_refused_with_the_reason_and_nothing_is_written(db, shop, consent, reason):
    with db.write() as session:
        from rapport.customers.models import Consent

        if consent is None:
            session.execute(Consent.__table__.delete().where(Consent.channel == "sms"))
        else:
            session.execute(update(Consent).where(Consent.channel == "sms").values(granted=False))
    with pytest.raises(InvalidRecord) as refused:
        send(db, shop)
    assert refused.value.errors[0].field == "channel" and reason in refused.value.errors[0].message
    assert messages(db) == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_the_daily_cap_refuses_the_third_personal_message_of_the_clients_day(db, shop):
    send(db, shop)
    send(db, shop, channel="email", subject="Hello", body="A note")
    with pytest.raises(InvalidRecord, match="already had 2 messages today"):
        send(db, shop)


def test_a_message_written_in_the_clients_quiet_hours_waits_until_morning_her_time(db, shop, fixed_clock):
    fixed_clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))  # 22:30 in Paris
    q = send(db, shop)
    assert q.status == "held"
    assert q.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert "09:00 local time" in (q.note or "")
    assert outreach_runner(lambda: db).drain() == 0
    fixed_clock.set(datetime(2026, 11, 24, 8, 0, 1, tzinfo=UTC))
    assert outreach_runner(lambda: db).drain() == 1
    assert messages(db)[0].status == "outbox"


def test_whatsapp_outside_the_24_hour_window_takes_only_an_approved_template(db, shop):
    with pytest.raises(InvalidRecord) as refused:
        send(db, shop, channel="whatsapp")
    assert refused.value.errors[0].field == "template_id" and "approved" in refused.value.errors[0].message
    receive(db, Inbound("whatsapp", "twilio", "SMin1", "whatsapp:+33612345678", ["whatsapp:+33100000000"], "Hi!"))
    assert send(db, shop, channel="whatsapp").status == "queued"
    clock_now = clock.now()
    with db.read() as session:
        from rapport.outreach import courtesy

        reach = courtesy.reach_of(session, shop["cid"], now=clock_now + timedelta(hours=25))
        assert courtesy.clear(reach, "whatsapp", now=clock_now + timedelta(hours=25)).template_only


def test_a_group_email_goes_as_personal_copies_and_names_who_was_left_out(db, shop):
    ok(ingest(db, "customers", {"source": "pos", "id": "b1", "first_name": "Ben", "emails": ["ben@example.com"],
                                "home_store": "PAR"}))  # fmt: skip
    with db.read() as session:
        ben = session.scalar(select(Customer.id).where(Customer.first_name == "Ben"))
    with db.write() as session:
        result = service.send_group_email(session, ana(shop), [shop["cid"], ben], subject="New season",
                                          body="Dear {first_name}, the new season is in.")  # fmt: skip
    assert [q.customer_id for q in result.queued] == [shop["cid"]]
    assert result.refused == [(ben, "Ben has not agreed to be contacted by email")]
    (m,) = messages(db)
    assert m.body.startswith("Dear Alicia,") and m.group_key == result.group_key


def test_a_group_email_to_more_than_20_clients_is_refused(db, shop):
    with db.write() as session, pytest.raises(InvalidRecord) as refused:
        service.send_group_email(session, ana(shop), list(range(1, 22)), subject="Hi", body="Hello")
    assert refused.value.errors[0].field == "customer_ids" and "at most 20" in refused.value.errors[0].message


def test_an_sms_through_twilio_carries_our_business_number_and_the_status_callback(db, shop):
    with db.write() as session:
        session.execute(update(Associate).where(Associate.id == shop["ana"]).values(business_phone="+33100000001"))
    with LocalTwilio() as twilio:
        set_outreach_settings(twilio.settings())
        q = send(db, shop, body="Your coat is ready")
        assert outreach_runner(lambda: db).drain() == 1
        (request,) = twilio.messages
    assert request["To"] == "+33612345678" and request["From"] == "+33100000001"
    assert request["Body"] == "Your coat is ready"
    assert request["StatusCallback"].endswith(f"/api/v1/webhooks/twilio/status?key={messages(db)[0].idempotency_key}")
    (m,) = messages(db)
    assert m.id == q.id and m.status == "sent" and m.provider == "twilio" and m.provider_message_id.startswith("SM")


def test_a_provider_outage_is_retried_with_backoff_and_a_refusal_fails_the_message_with_the_reason(
    db, shop, fixed_clock
):
    with LocalTwilio() as twilio:
        set_outreach_settings(twilio.settings(twilio_sms_from="+33100000009"))
        twilio.fail_next(503, 20500, "Service unavailable")
        send(db, shop)
        outreach_runner(lambda: db).drain()
        (m,) = messages(db)
        assert m.status == "queued" and "retrying" in (m.error or "")
        fixed_clock.set(clock.now() + timedelta(minutes=5))
        twilio.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
        outreach_runner(lambda: db).drain()
    (m,) = messages(db)
    assert m.status == "failed" and "21211" in (m.error or "")


def test_a_worker_killed_between_claim_and_send_loses_nothing_and_sends_once(db, shop, fixed_clock):
    with LocalTwilio() as twilio:
        set_outreach_settings(twilio.settings(twilio_sms_from="+33100000009"))
        send(db, shop)
        claimed = jobs.claim(db, [service.SEND_QUEUE], "worker-that-dies", lease_seconds=60)
        assert len(claimed) == 1  # ... and the worker dies here, holding the lease
        assert outreach_runner(lambda: db).drain() == 0  # leased: nobody else takes it yet
        fixed_clock.set(clock.now() + timedelta(seconds=61))
        assert outreach_runner(lambda: db).drain() == 1
        assert len(twilio.messages) == 1
    assert messages(db)[0].status == "sent"


def test_a_worker_killed_after_the_provider_took_it_is_settled_by_the_status_callback_not_resent(db, shop, fixed_clock):
    from rapport.outreach.inbound import StatusReport, record_status

    with LocalTwilio() as twilio:
        settings = twilio.settings(twilio_sms_from="+33100000009")
        set_outreach_settings(settings)
        q = send(db, shop, body="Only once")
        jobs.claim(db, [service.SEND_QUEUE], "worker-that-dies", lease_seconds=60)
        # The dying worker marked it sending and the provider accepted it; then it died.
        with db.write() as session:
            session.execute(update(Message).where(Message.id == q.id).values(status="sending", sending_at=clock.now()))
        from rapport.outreach.channels.twilio import twilio_client

        sid = twilio_client(settings).messages.create(to="+33612345678", from_="+33100000009", body="Only once").sid
        key = messages(db)[0].idempotency_key
        with db.write() as session:
            assert record_status(session, StatusReport("twilio", "delivered", sid, key)) == q.id
        fixed_clock.set(clock.now() + timedelta(seconds=61))
        outreach_runner(lambda: db).drain()
        assert len(twilio.messages) == 1
    (m,) = messages(db)
    assert m.status == "delivered" and m.provider_message_id == sid


def test_without_a_callback_the_in_doubt_message_is_looked_up_at_the_provider_before_any_resend(db, shop, fixed_clock):
    with LocalTwilio() as twilio:
        settings = twilio.settings(twilio_sms_from="+33100000009", in_doubt_grace_seconds=30)
        set_outreach_settings(settings)
        q = send(db, shop, body="Look me up")
        jobs.claim(db, [service.SEND_QUEUE], "worker-that-dies", lease_seconds=60)
        with db.write() as session:
            session.execute(update(Message).where(Message.id == q.id).values(status="sending", sending_at=clock.now()))
        from rapport.outreach.channels.twilio import twilio_client

        sid = twilio_client(settings).messages.create(to="+33612345678", from_="+33100000009", body="Look me up").sid
        fixed_clock.set(clock.now() + timedelta(seconds=61))
        outreach_runner(lambda: db).drain()
        assert len(twilio.messages) == 1
    (m,) = messages(db)
    assert m.status == "sent" and m.provider_message_id == sid


def test_consent_withdrawn_while_a_message_waits_cancels_it_at_sending_time(db, shop, fixed_clock):
    fixed_clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    send(db, shop)  # held for the night
    receive(db, Inbound("sms", "twilio", "SMstop", "+33612345678", ["+33100000000"], "STOP"))
    fixed_clock.set(datetime(2026, 11, 24, 8, 1, tzinfo=UTC))
    outreach_runner(lambda: db).drain()
    held, _stop, confirmation = messages(db)
    assert held.status == "cancelled" and "withdrew consent" in (held.error or "")
    assert confirmation.associate_id is None and "no longer receive SMS" in confirmation.body
    assert confirmation.status == "outbox"


def test_product_references_and_a_look_become_tracked_links_tied_to_the_message(db, shop):
    from rapport.outreach import links, looks
    from rapport.outreach.models import ShortLink

    with db.write() as session:
        look = looks.create_look(session, associate_id=shop["ana"], customer_id=shop["cid"], title="For the wedding",
                                 note="Camel and silk", skus_or_product_ids=["COAT-CAMEL-M", "SCARF-SILK"])  # fmt: skip
    q = send(db, shop, channel="email", subject="Two ideas", body="The coat: [[COAT-CAMEL-M]]", look_id=look.id)
    (m,) = messages(db)
    with db.read() as session:
        made = session.execute(select(ShortLink).order_by(ShortLink.id)).scalars().all()
    assert {s.target_kind for s in made} == {"product", "look"}
    assert all(s.message_id == q.id and s.associate_id == shop["ana"] and s.customer_id == shop["cid"] for s in made)
    assert all(links.short_url(s.code) in m.body for s in made) and "[[" not in m.body
    with db.write() as session:
        links.visit(session, made[0].code, user_agent="Mozilla/5.0 (iPhone)", ip=None)
    with db.read() as session:
        opened = session.execute(select(TimelineEntry).where(TimelineEntry.kind == "link_opened")).scalar_one()
    assert opened.customer_id == shop["cid"] and opened.data["associate_id"] == shop["ana"]


def test_an_unknown_sku_in_the_text_refuses_the_message_naming_it(db, shop):
    with pytest.raises(InvalidRecord) as refused:
        send(db, shop, body="Look at [[NOPE-42]]")
    assert refused.value.errors[0].field == "body" and "NOPE-42" in refused.value.errors[0].message
    assert messages(db) == []
