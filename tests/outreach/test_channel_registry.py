"""Which adapter carries each channel, and the local outbox that sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from rapport.associates import notifications
from rapport.associates.notifications import EmailSettings
from rapport.outreach.channels.base import Channel, Envelope
from rapport.outreach.channels.outbox import OutboxChannel
from rapport.outreach.channels.registry import channel_for, close_channels
from rapport.outreach.channels.smtp import SmtpChannel
from rapport.outreach.channels.twilio import TwilioChannel
from rapport.outreach.settings import OutreachSettings


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    close_channels()
    yield
    close_channels()
    notifications.set_email_settings(None)


def outreach(**values: Any) -> OutreachSettings:
    """Settings as given, whatever the environment (or a .env file) says."""
    defaults: dict[str, Any] = {
        "email_channel": "outbox",
        "sms_channel": "auto",
        "whatsapp_channel": "auto",
        "twilio_account_sid": None,
        "twilio_auth_token": None,
    }
    return OutreachSettings(**{**defaults, **values})


def with_twilio(**values: Any) -> OutreachSettings:
    return outreach(twilio_account_sid="AC" + "2" * 32, twilio_auth_token=SecretStr("token"), **values)


def test_without_credentials_every_channel_goes_to_the_local_outbox():
    settings = outreach()
    for name in ("email", "sms", "whatsapp"):
        adapter = channel_for(name, settings)
        assert isinstance(adapter, OutboxChannel) and adapter.delivers is False
        assert isinstance(adapter, Channel)


def test_with_twilio_credentials_sms_and_whatsapp_go_through_twilio():
    settings = with_twilio()
    for name in ("sms", "whatsapp"):
        adapter = channel_for(name, settings)
        assert isinstance(adapter, TwilioChannel) and adapter.delivers is True and adapter.provider == "twilio"
    assert isinstance(channel_for("email", settings), OutboxChannel)


def test_a_channel_set_to_outbox_stays_local_even_with_credentials():
    settings = with_twilio(whatsapp_channel="outbox")
    assert isinstance(channel_for("whatsapp", settings), OutboxChannel)
    assert isinstance(channel_for("sms", settings), TwilioChannel)


def test_twilio_chosen_without_credentials_is_refused_naming_the_settings():
    with pytest.raises(ValueError, match="RAPPORT_TWILIO_ACCOUNT_SID and RAPPORT_TWILIO_AUTH_TOKEN"):
        channel_for("sms", outreach(sms_channel="twilio"))


def test_email_goes_by_smtp_when_chosen_with_the_smtp_server_settings():
    server = EmailSettings(smtp_host="mail.maison.example", smtp_port=587, smtp_security="starttls")
    notifications.set_email_settings(server)
    adapter = channel_for("email", outreach(email_channel="smtp"))
    assert isinstance(adapter, SmtpChannel) and adapter.settings is server and adapter.delivers is True


def test_adapters_are_kept_for_the_same_settings_and_new_for_new_ones():
    settings = with_twilio()
    first = channel_for("sms", settings)
    assert channel_for("sms", settings) is first
    assert channel_for("whatsapp", settings) is not first
    assert channel_for("sms", with_twilio()) is not first


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        channel_for("fax", outreach())


def test_the_outbox_sends_nothing_and_says_so():
    outbox = OutboxChannel()
    envelope = Envelope(
        message_id=3, idempotency_key="msg-3-abc", channel="sms", sender="+33140000001",
        recipient="+33612345678", body="Hello",
    )  # fmt: skip
    receipt = outbox.send(envelope)
    assert (receipt.provider_message_id, receipt.status) == ("outbox-msg-3-abc", "outbox")
    assert outbox.find_accepted(envelope) is None
    assert (outbox.provider, outbox.delivers, outbox.channels) == ("outbox", False, {"email", "sms", "whatsapp"})
