"""SMS and WhatsApp through the real twilio client, talking to a local Twilio (LocalTwilio sends nothing)."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.error import HTTPError

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from rapport import clock
from rapport.outreach.channels.base import Envelope, PermanentFailure, TransientFailure
from rapport.outreach.channels.local_twilio import LocalTwilio
from rapport.outreach.channels.twilio import TwilioChannel, twilio_client, validate_signature
from rapport.outreach.settings import OutreachSettings

BUSINESS = "+33140000001"
CLIENT = "+33612345678"


@pytest.fixture
def twilio() -> Iterator[LocalTwilio]:
    with LocalTwilio() as server:
        yield server


@pytest.fixture
def channels() -> Iterator[list[TwilioChannel]]:
    made: list[TwilioChannel] = []
    yield made
    for channel in made:
        channel.close()


@pytest.fixture
def channel(twilio: LocalTwilio, channels: list[TwilioChannel]) -> TwilioChannel:
    made = TwilioChannel(twilio.settings())
    channels.append(made)
    return made


def envelope(**changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "message_id": 7,
        "idempotency_key": "msg-7-c0ffee",
        "channel": "sms",
        "sender": BUSINESS,
        "recipient": CLIENT,
        "body": "Bonjour Alicia, your jacket is ready. Jordan",
        "status_callback": "https://rapport.maison.example/api/v1/webhooks/twilio/status",
        "attempt_started_at": clock.now(),
    }
    values.update(changes)
    return Envelope(**values)


def test_an_sms_goes_to_twilio_with_its_numbers_body_and_status_callback(twilio, channel):
    receipt = channel.send(envelope())
    (request,) = twilio.messages
    assert request["To"] == CLIENT and request["From"] == BUSINESS
    assert request["Body"] == "Bonjour Alicia, your jacket is ready. Jordan"
    assert request["StatusCallback"] == "https://rapport.maison.example/api/v1/webhooks/twilio/status"
    assert "ContentSid" not in request
    assert receipt.provider_message_id.startswith("SM") and len(receipt.provider_message_id) == 34
    assert receipt.status == "queued"


def test_twilio_is_asked_with_the_account_sid_and_auth_token(twilio, channels):
    wrong = TwilioChannel(twilio.settings(twilio_auth_token=SecretStr("not-the-token")))
    channels.append(wrong)
    with pytest.raises(TransientFailure, match=r"error 20003: Authenticate \(HTTP 401"):
        wrong.send(envelope())
    assert twilio.messages == []
    sid_and_token = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    request = urllib.request.Request(
        f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
        data=b"To=%2B33612345678&From=%2B33140000001&Body=hi",
        headers={"Authorization": f"Basic {sid_and_token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201 and json.load(response)["status"] == "queued"
    request.remove_header("Authorization")
    with pytest.raises(HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    refused.value.close()


def test_whatsapp_numbers_carry_the_whatsapp_prefix(twilio, channel):
    channel.send(envelope(channel="whatsapp"))
    (request,) = twilio.messages
    assert request["To"] == f"whatsapp:{CLIENT}" and request["From"] == f"whatsapp:{BUSINESS}"


def test_a_whatsapp_template_is_sent_by_content_sid_and_variables_without_a_body(twilio, channel):
    channel.send(
        envelope(
            channel="whatsapp",
            template_id="HX0123456789abcdef0123456789abcdef",
            template_variables={"1": "Alicia", "2": "Friday 14:00"},
        )
    )
    (request,) = twilio.messages
    assert request["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert json.loads(request["ContentVariables"]) == {"1": "Alicia", "2": "Friday 14:00"}
    assert "Body" not in request


def test_without_a_sender_the_configured_number_is_used(twilio, channels):
    configured = TwilioChannel(twilio.settings(twilio_sms_from="+33140000009", twilio_whatsapp_from="+33140000010"))
    channels.append(configured)
    configured.send(envelope(sender=""))
    configured.send(envelope(sender="", channel="whatsapp"))
    assert [m["From"] for m in twilio.messages] == ["+33140000009", "whatsapp:+33140000010"]


def test_no_sender_at_all_is_a_permanent_failure(twilio, channel):
    with pytest.raises(PermanentFailure, match="no sms sender number"):
        channel.send(envelope(sender=""))
    assert twilio.messages == []


def test_too_many_requests_is_a_transient_failure_with_twilios_retry_after(twilio, channel):
    twilio.fail_next(429, 20429, "Too Many Requests", retry_after=7)
    with pytest.raises(TransientFailure) as busy:
        channel.send(envelope())
    assert busy.value.retry_after == 7.0 and "error 20429: Too Many Requests" in busy.value.reason
    channel.send(envelope())
    assert len(twilio.messages) == 1


def test_a_twilio_server_error_is_a_transient_failure(twilio, channel):
    twilio.fail_next(500, 20500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(TransientFailure, match="HTTP 500") as failed:
            channel.send(envelope())
        assert failed.value.retry_after is None
    assert twilio.messages == []


def test_an_invalid_number_is_a_permanent_failure_naming_twilios_code(twilio, channel):
    twilio.fail_next(400, 21211, "Invalid 'To' Phone Number: +3361")
    with pytest.raises(PermanentFailure) as refused:
        channel.send(envelope(recipient="+3361"))
    assert refused.value.code == "21211"
    expected = "Twilio refused the sms message to +3361: error 21211: Invalid 'To' Phone Number: +3361"
    assert refused.value.reason == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21610, "Attempt to send to unsubscribed recipient"),
        (63016, "Failed to send freeform message because you are outside the allowed window."),
    ],
)
def test_twilios_refusals_keep_their_code_and_message(twilio, channel, code, message):
    twilio.fail_next(400, code, message)
    with pytest.raises(PermanentFailure, match=f"error {code}: {message}") as refused:
        channel.send(envelope(channel="whatsapp"))
    assert refused.value.code == str(code)


def test_the_local_twilio_refuses_what_twilio_refuses(twilio, channel):
    with pytest.raises(PermanentFailure, match="error 21211: Invalid 'To' Phone Number: 0612") as bad_number:
        channel.send(envelope(recipient="0612"))
    assert bad_number.value.code == "21211"
    with pytest.raises(PermanentFailure, match="error 21602: Message body is required"):
        channel.send(envelope(body=""))
    assert twilio.messages == []


def test_twilio_out_of_reach_is_a_transient_failure(channels):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = OutreachSettings(
        twilio_account_sid="AC" + "0" * 32, twilio_auth_token=SecretStr("t"), twilio_api_base=f"http://127.0.0.1:{port}"
    )
    nowhere = TwilioChannel(settings)
    channels.append(nowhere)
    with pytest.raises(TransientFailure, match="could not reach Twilio for the sms message to"):
        nowhere.send(envelope())


def test_find_accepted_finds_the_message_an_earlier_attempt_handed_over(twilio, channel):
    sent = channel.send(envelope())
    channel.send(envelope(body="Another message entirely"))
    found = channel.find_accepted(envelope())
    assert found is not None and found.provider_message_id == sent.provider_message_id
    assert found.status == "sent"


def test_find_accepted_does_not_mistake_a_different_message(twilio, channel):
    channel.send(envelope(body="Your order has shipped"))
    channel.send(envelope(recipient="+33699999999"))
    assert channel.find_accepted(envelope()) is None


def test_find_accepted_ignores_the_same_words_sent_before_this_attempt(twilio, channel, fixed_clock):
    channel.send(envelope())
    fixed_clock.advance(timedelta(hours=2))
    assert channel.find_accepted(envelope(attempt_started_at=fixed_clock.now())) is None


def test_find_accepted_on_whatsapp_searches_the_whatsapp_numbers(twilio, channel):
    sent = channel.send(envelope(channel="whatsapp"))
    assert channel.find_accepted(envelope(channel="sms")) is None
    found = channel.find_accepted(envelope(channel="whatsapp"))
    assert found is not None and found.provider_message_id == sent.provider_message_id


def test_the_local_twilio_pages_its_list_as_the_twilio_client_expects(twilio):
    settings = twilio.settings()
    client = twilio_client(settings)
    try:
        for n in range(5):
            client.messages.create(to=CLIENT, from_=BUSINESS, body=f"message {n}")
        listed = client.messages.list(to=CLIENT, page_size=2)
        assert [m.body for m in listed] == [f"message {n}" for n in (4, 3, 2, 1, 0)]
        assert listed[0].date_sent == clock.now().replace(microsecond=0)
    finally:
        client.http_client.session.close()


def test_a_correctly_signed_webhook_is_accepted_and_a_tampered_one_refused():
    settings = OutreachSettings(twilio_account_sid="AC" + "1" * 32, twilio_auth_token=SecretStr("secret-token"))
    url = "https://rapport.maison.example/api/v1/webhooks/twilio/status"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "To": CLIENT}
    signature = RequestValidator("secret-token").compute_signature(url, params)
    assert validate_signature(settings, url, params, signature)
    assert not validate_signature(settings, url, {**params, "MessageStatus": "failed"}, signature)
    assert not validate_signature(settings, url + "?x=1", params, signature)
    assert not validate_signature(settings, url, params, "")
    unsigned = OutreachSettings(twilio_account_sid=None, twilio_auth_token=None)
    assert not validate_signature(unsigned, url, params, signature)


def test_a_twilio_client_needs_credentials():
    with pytest.raises(ValueError, match="RAPPORT_TWILIO_ACCOUNT_SID and RAPPORT_TWILIO_AUTH_TOKEN"):
        twilio_client(OutreachSettings(twilio_account_sid=None, twilio_auth_token=None))
