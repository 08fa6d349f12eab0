"""SMS and WhatsApp through Twilio's Messages API (twilio-python 9).

Requests meant for ``https://api.twilio.com`` go to ``RAPPORT_TWILIO_API_BASE`` instead when it is set
(a local server: :mod:`rapport.outreach.channels.local_twilio`), by an HTTP client that rewrites the URL
prefix — so every resource, next-page links included, follows without patching the library's domains.

Twilio's answers map onto the channel interface: 429, 5xx and network trouble are worth another try
(with Twilio's ``Retry-After`` when it gives one); a refused login (401) is a configuration fault that
a fixed token cures, so it is retried too; any other 4xx is Twilio's final word about this message and
carries its error code (21211 invalid 'To' number, 21610 the client replied STOP, 63016 outside the
WhatsApp 24-hour window, ...).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from rapport import clock
from rapport.outreach.channels.base import Envelope, PermanentFailure, Receipt, TransientFailure
from rapport.outreach.settings import OutreachSettings, get_outreach_settings

TWILIO_API = "https://api.twilio.com"
#: Seconds to wait for Twilio before calling the attempt failed (requests waits forever by default).
TIMEOUT_SECONDS = 15.0
#: How far before the attempt started :meth:`TwilioChannel.find_accepted` looks (clock skew).
LOOKBACK = timedelta(minutes=1)


class _RapportHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, pointed at another base URL, remembering each thread's last response."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self._last = threading.local()

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self.api_base != TWILIO_API and (url == TWILIO_API or url.startswith(TWILIO_API + "/")):
            url = self.api_base + url[len(TWILIO_API) :]
        self._last.response = None
        response = super().request(method, url, params, data, headers, auth, timeout, allow_redirects)
        self._last.response = response
        return response

    def last_response(self) -> Response | None:
        """The response this thread received last (the exception Twilio raises does not carry headers)."""
        return getattr(self._last, "response", None)


def twilio_client(settings: OutreachSettings) -> Client:
    """A Twilio REST client for Rapport's account, talking to ``settings.twilio_api_base``."""
    if not settings.twilio_ready():
        raise ValueError("Twilio needs RAPPORT_TWILIO_ACCOUNT_SID and RAPPORT_TWILIO_AUTH_TOKEN")
    assert settings.twilio_auth_token is not None
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value()
    client = Client(
        sid, token, account_sid=sid, http_client=_RapportHttpClient(settings.twilio_api_base, TIMEOUT_SECONDS)
    )
    if settings.twilio_api_base.rstrip("/") != TWILIO_API:
        # TWILIO_EDGE / TWILIO_REGION would rewrite api.twilio.com into a regional host before our client sees it.
        client.edge = client.region = None
    return client


def validate_signature(settings: OutreachSettings, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether an inbound webhook (status callback, incoming message) was signed by Twilio with our token."""
    if settings.twilio_auth_token is None or not signature:
        return False
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    return bool(validator.validate(url, dict(params), signature))


class TwilioChannel:
    """SMS and WhatsApp through Twilio; delivers for real."""

    provider = "twilio"
    channels = frozenset({"sms", "whatsapp"})
    delivers = True

    def __init__(self, settings: OutreachSettings | None = None) -> None:
        self.settings = settings or get_outreach_settings()
        self.client = twilio_client(self.settings)

    def send(self, envelope: Envelope) -> Receipt:
        to, sender = self._addresses(envelope)
        request: dict[str, Any] = {"to": to}
        if _is_messaging_service(sender):
            request["messaging_service_sid"] = sender
        else:
            request["from_"] = sender
        if envelope.status_callback:
            request["status_callback"] = envelope.status_callback
        if envelope.template_id:
            request["content_sid"] = envelope.template_id
            request["content_variables"] = json.dumps(envelope.template_variables)
        else:
            request["body"] = envelope.body
        try:
            message = self.client.messages.create(**request)
        except (TwilioException, requests.RequestException) as exc:
            raise self._failure(exc, f"the {envelope.channel} message to {to}") from exc
        return Receipt(provider_message_id=str(message.sid), status=str(message.status or "queued"))

    def find_accepted(self, envelope: Envelope) -> Receipt | None:
        """A message with our body that Twilio took from our sender for this client since the attempt began.

        Compares the creation time as well as filtering on it, since Twilio's date filters may only
        honour the day. A template send is found when Twilio's rendered text equals ``envelope.body``.
        (A message Twilio still holds as queued has no send date yet and may not be listed: that case
        is left to the status callback and the in-doubt grace period.)
        """
        to, sender = self._addresses(envelope)
        started = envelope.attempt_started_at or clock.now() - timedelta(days=1)
        since = (started - LOOKBACK).astimezone(UTC)
        query: dict[str, Any] = {"to": to, "date_sent_after": since, "limit": 200}
        if not _is_messaging_service(sender):
            query["from_"] = sender
        try:
            found = self.client.messages.list(**query)
        except (TwilioException, requests.RequestException) as exc:
            raise self._failure(exc, f"the search for an earlier {envelope.channel} message to {to}") from exc
        for message in found:
            created = message.date_created
            if (message.body or "") == envelope.body and (not isinstance(created, datetime) or created >= since):
                return Receipt(provider_message_id=str(message.sid), status=str(message.status or "sent"))
        return None

    def close(self) -> None:
        """Close the HTTP connections kept to Twilio."""
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def _addresses(self, envelope: Envelope) -> tuple[str, str]:
        if envelope.channel not in self.channels:
            raise PermanentFailure(f"the twilio channel carries sms and whatsapp, not {envelope.channel}")
        fallback = (
            self.settings.twilio_whatsapp_from if envelope.channel == "whatsapp" else self.settings.twilio_sms_from
        )
        sender = envelope.sender or fallback
        if not sender:
            raise PermanentFailure(f"no {envelope.channel} sender number is configured (RAPPORT_TWILIO_*_FROM)")
        if envelope.channel == "whatsapp":
            return _whatsapp(envelope.recipient), sender if _is_messaging_service(sender) else _whatsapp(sender)
        return envelope.recipient, sender

    def _failure(
        self, exc: TwilioException | requests.RequestException, what: str
    ) -> PermanentFailure | TransientFailure:
        if isinstance(exc, TwilioRestException | TwilioServiceException):
            status = int(exc.status)
            code = exc.code
            text = _message_of(exc)
            reason = f"Twilio refused {what}: error {code}: {text}" if code else f"Twilio refused {what}: {text}"
            if status == 429 or status >= 500:
                return TransientFailure(f"{reason} (HTTP {status})", retry_after=self._retry_after())
            if status == 401:
                return TransientFailure(f"{reason} (HTTP 401: check RAPPORT_TWILIO_ACCOUNT_SID and _AUTH_TOKEN)")
            return PermanentFailure(reason, code=str(code) if code else str(status))
        if isinstance(exc, requests.RequestException):
            return TransientFailure(f"could not reach Twilio for {what}: {type(exc).__name__}: {exc}")
        return TransientFailure(f"Twilio failed {what}: {exc}")

    def _retry_after(self) -> float | None:
        response = self.client.http_client.last_response()
        value = (response.headers or {}).get("Retry-After") if response is not None else None
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - clock.now()).total_seconds())


def _message_of(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return str(exc.detail or exc.title)
    text = str(exc.msg)
    # twilio-python prefixes Twilio's own message with "Unable to create record: ".
    head, sep, rest = text.partition(": ")
    return rest if sep and head.startswith("Unable to") else text


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def _is_messaging_service(sender: str) -> bool:
    return sender.startswith("MG") and len(sender) == 34
