"""Which adapter carries a channel, from the outreach settings.

Email goes by SMTP when ``RAPPORT_EMAIL_CHANNEL=smtp``; SMS and WhatsApp go by Twilio when chosen, or
on ``auto`` when Twilio credentials are set. Everything else lands in the local outbox, which sends
nothing and says so.

Adapters are kept per (channel, settings) so an SMTP connection and Twilio's HTTP connections are
reused from one message to the next; new settings objects get new adapters.
"""

from __future__ import annotations

import threading
from typing import Any

from rapport.associates.notifications import get_email_settings
from rapport.outreach.channels.base import Channel
from rapport.outreach.channels.outbox import OutboxChannel
from rapport.outreach.channels.smtp import SmtpChannel
from rapport.outreach.channels.twilio import TwilioChannel
from rapport.outreach.settings import OutreachSettings, get_outreach_settings

#: Adapters kept at most; the oldest is closed when a new settings object pushes past this.
MAX_CACHED = 16

_lock = threading.Lock()
#: (channel, id(outreach settings), id(email settings)) -> (the settings objects, kept so ids stay unique; adapter)
_cache: dict[tuple[str, int, int], tuple[tuple[Any, ...], Channel]] = {}


def channel_for(channel: str, settings: OutreachSettings | None = None) -> Channel:
    """The adapter that carries ``channel`` (email, sms, whatsapp) under these settings.

    Raises ValueError for an unknown channel, or for Twilio chosen explicitly without credentials.
    """
    settings = settings or get_outreach_settings()
    email = get_email_settings() if channel == "email" else None
    key = (channel, id(settings), id(email))
    evicted: list[Channel] = []
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached[1]
        adapter = _build(channel, settings, email)
        _cache[key] = ((settings, email), adapter)
        while len(_cache) > MAX_CACHED:
            evicted.append(_cache.pop(next(iter(_cache)))[1])
    for old in evicted:
        _close(old)
    return adapter


def close_channels() -> None:
    """Close and forget every kept adapter (tests; shutting a worker down)."""
    with _lock:
        adapters = [adapter for _, adapter in _cache.values()]
        _cache.clear()
    for adapter in adapters:
        _close(adapter)


def _build(channel: str, settings: OutreachSettings, email: Any) -> Channel:
    if channel == "email":
        return SmtpChannel(email) if settings.email_channel == "smtp" else OutboxChannel()
    if channel in ("sms", "whatsapp"):
        choice = settings.sms_channel if channel == "sms" else settings.whatsapp_channel
        if choice == "twilio" and not settings.twilio_ready():
            raise ValueError(
                f"{channel} is set to go through Twilio (RAPPORT_{channel.upper()}_CHANNEL=twilio) but "
                "RAPPORT_TWILIO_ACCOUNT_SID and RAPPORT_TWILIO_AUTH_TOKEN are not both set"
            )
        if choice == "twilio" or (choice == "auto" and settings.twilio_ready()):
            return TwilioChannel(settings)
        return OutboxChannel()
    raise ValueError(f"unknown channel {channel!r}: expected email, sms or whatsapp")


def _close(adapter: Channel) -> None:
    close = getattr(adapter, "close", None)
    if close is not None:
        close()
