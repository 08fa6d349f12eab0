"""What a channel adapter is: one file per provider, behind this small interface.

The dispatcher (``rapport.outreach.dispatch``) hands an adapter one :class:`Envelope` at a time and
records what comes back. An adapter never touches the database: it speaks to its provider and says
what happened, in one of three ways:

* returns a :class:`Receipt` — the provider accepted the message (its id is recorded at once);
* raises :class:`TransientFailure` — try again later (timeouts, 5xx, 429, connection refused);
* raises :class:`PermanentFailure` — retrying cannot help (invalid number, refused address, 4xx).

An adapter that can ask its provider whether a message was already accepted (the one window no
system closes: the provider took it, the worker died before recording that) implements
:meth:`Channel.find_accepted`; the dispatcher calls it before sending a message again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (a calendar invitation); text content."""

    filename: str
    content_type: str  # "text/calendar; method=REQUEST"
    content: str


@dataclass(frozen=True)
class Envelope:
    """One outbound message, as the provider needs it."""

    #: Our message id and its idempotency key (carried to the provider where it takes one).
    message_id: int
    idempotency_key: str
    channel: str  # email | sms | whatsapp
    #: Our business number (E.164) or address, and the client's.
    sender: str
    recipient: str
    body: str
    subject: str | None = None
    #: Email: the display name beside the sender address ("Jordan at Maison Rapport Paris").
    sender_name: str | None = None
    #: Email: where replies go (a per-thread reply address), Message-ID to use, and threading.
    reply_to: str | None = None
    message_id_header: str | None = None
    in_reply_to: str | None = None
    #: Email: HTML part (the plain body is always sent too).
    html: str | None = None
    #: Email: one-click unsubscribe URL (List-Unsubscribe + List-Unsubscribe-Post, RFC 8058).
    unsubscribe_url: str | None = None
    #: WhatsApp outside the 24-hour window: the approved template's provider id and its variables.
    template_id: str | None = None
    template_variables: dict[str, str] = field(default_factory=dict)
    #: Where the provider should report delivery status (Twilio StatusCallback).
    status_callback: str | None = None
    #: When the worker started this attempt (for :meth:`Channel.find_accepted`).
    attempt_started_at: datetime | None = None
    #: Email: files to attach (other channels send the text only).
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """The provider accepted the message."""

    provider_message_id: str
    #: The provider's own status word at acceptance (Twilio: queued/accepted/sent), if any.
    status: str = "sent"


class TransientFailure(Exception):
    """The provider could not take the message now; the dispatcher retries with backoff."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider refused the message for good (the reason is shown to the associate)."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@runtime_checkable
class Channel(Protocol):
    """A provider for one or more message channels."""

    #: Recorded on each message (smtp, twilio, outbox, ...).
    provider: str
    #: Which of email, sms, whatsapp it carries.
    channels: frozenset[str]
    #: True only for channels that really deliver; the local outbox says False and the app says so.
    delivers: bool

    def send(self, envelope: Envelope) -> Receipt:
        """Hand one message to the provider; return its receipt or raise a failure above."""
        ...

    def find_accepted(self, envelope: Envelope) -> Receipt | None:
        """If the provider already accepted this message (a previous attempt died after sending), its receipt."""
        ...
