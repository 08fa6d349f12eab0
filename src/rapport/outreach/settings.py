"""Outreach settings, from the environment (prefix ``RAPPORT_``).

The SMTP server itself (host, port, security, credentials) is shared with associate notifications:
see :class:`rapport.associates.notifications.EmailSettings` (``RAPPORT_SMTP_*``, ``RAPPORT_PUBLIC_URL``).
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OutreachSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_", env_file=".env", extra="ignore")

    email_channel: Literal["outbox", "smtp"] = Field(
        default="outbox",
        description="'smtp' sends client email through RAPPORT_SMTP_*; 'outbox' records it in the app, unsent.",
    )
    sms_channel: Literal["auto", "outbox", "twilio"] = Field(
        default="auto", description="'auto': Twilio when RAPPORT_TWILIO_ACCOUNT_SID and _AUTH_TOKEN are set."
    )
    whatsapp_channel: Literal["auto", "outbox", "twilio"] = "auto"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio's REST base URL (a local server in tests)."
    )
    #: Senders used when neither the associate nor the store has its own business line.
    twilio_sms_from: str | None = None
    twilio_whatsapp_from: str | None = None
    #: The address client email comes from when the store has none, and the domain of reply addresses.
    client_mail_from: str = "Maison Rapport <clients@localhost>"
    reply_domain: str = Field(
        default="reply.localhost",
        description="Replies come back to reply+<token>@this domain; route it to the inbound email endpoint.",
    )
    inbound_email_token: SecretStr | None = Field(
        default=None, description="Bearer token the inbound email relay presents (POST /api/v1/webhooks/email)."
    )
    quiet_hours_start: time = Field(default=time(21, 0), description="Client's local time from which messages wait.")
    quiet_hours_end: time = Field(default=time(9, 0), description="Client's local time from which they go out.")
    daily_cap: int = Field(default=2, ge=1, le=50, description="Personal messages to one client per local day.")
    group_email_max: int = Field(default=20, ge=1, le=20, description="Recipients of one group email (at most 20).")
    send_attempts: int = Field(default=8, ge=1, le=30, description="Tries for a provider error before giving up.")
    #: How long a message handed to a provider by a worker that then died waits for the provider's
    #: status callback before it is sent again (the window no system closes).
    in_doubt_grace_seconds: int = Field(default=120, ge=0)

    def twilio_ready(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)


_override: OutreachSettings | None = None


@lru_cache(maxsize=1)
def _from_environment() -> OutreachSettings:
    return OutreachSettings()


def get_outreach_settings() -> OutreachSettings:
    return _override or _from_environment()


def set_outreach_settings(settings: OutreachSettings | None) -> None:
    """Replace outreach settings for the whole process (tests; None goes back to the environment)."""
    global _override
    _override = settings
