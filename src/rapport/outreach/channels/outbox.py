"""The local outbox: the channel for the demo and for machines without provider credentials.

It sends nothing. The message row is the whole record; the app shows it as "not sent — local outbox",
so nobody mistakes it for a delivered message.
"""

from __future__ import annotations

from rapport.outreach.channels.base import Envelope, Receipt


class OutboxChannel:
    """Takes every message and sends none of them (``delivers`` is False)."""

    provider = "outbox"
    channels = frozenset({"email", "sms", "whatsapp"})
    delivers = False

    def send(self, envelope: Envelope) -> Receipt:
        return Receipt(provider_message_id=f"outbox-{envelope.idempotency_key}", status="outbox")

    def find_accepted(self, envelope: Envelope) -> Receipt | None:
        """Nothing ever left, so nothing was accepted; a retried send records the same receipt anyway."""
        return None

    def close(self) -> None:
        """Nothing to close (here so every adapter can be closed alike)."""
