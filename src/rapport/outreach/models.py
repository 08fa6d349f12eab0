"""Messages (the client's one conversation across channels), templates, looks, tracked links, handovers.

There is no separate conversation table: a client's thread is their messages, newest last, so a
merge moves a thread with the client (and an unmerge brings it back) like any other history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, UTCDateTime

#: The channels a client can be written to on (the consent channels, less the phone call).
MESSAGE_CHANNELS = ("email", "sms", "whatsapp")

#: Outbound life: queued -> sending -> sent -> delivered/read, or held (quiet hours, until
#: ``scheduled_for``), failed/undelivered (the provider said so), cancelled (consent withdrawn
#: while queued), outbox (the local channel recorded it and sent nothing). Inbound: received.
MESSAGE_STATUSES = (
    "queued", "held", "sending", "sent", "delivered", "read", "failed", "undelivered", "cancelled",
    "outbox", "received",
)  # fmt: skip


class Message(Base):
    """One message to or from a client, on one channel, through one provider."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_customer_time", "customer_id", "created_at", "id"),
        Index("ix_message_provider_id", "provider", "provider_message_id"),
        Index("ix_message_routed_associate", "routed_associate_id", "read_at"),
        Index("ix_message_routed_location", "routed_location_id", "read_at"),
        Index("ix_message_author_time", "associate_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | whatsapp
    #: Who carried it: smtp, twilio, outbox (the local channel: recorded, never sent).
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    #: Outbound: the associate who wrote it (None: the system, e.g. a STOP confirmation).
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    #: The store it was sent from (its business number/address), or the store whose inbox got it.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    #: Our side: the business number or address it went from / arrived at.
    business_address: Mapped[str] = mapped_column(String(254))
    #: The client's side: their phone (E.164) or email address.
    client_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_template.id"))
    look_id: Mapped[int | None] = mapped_column(ForeignKey("look.id"))
    #: Messages written together as one group email share this id.
    group_key: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Makes a send idempotent: the same key is one message, however often it is submitted.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    #: Twilio's SID, or the email's Message-ID.
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    #: Inbound email: the Message-ID it answers (threading), kept for the record.
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    #: Held for quiet hours (or a cap) until then.
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When a worker last handed it to the provider (the window that cannot be closed starts here).
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Inbound: who it was routed to (the client's associate, or nobody and the store's shared inbox).
    routed_associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    routed_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    #: Inbound: when someone on our side read it.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    #: Media URLs, template variables, short-link codes, the provider's status history.
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class MessageTemplate(Base):
    """Wording an associate starts from, with fields filled per client ({first_name}, ...).

    WhatsApp allows business-initiated messages outside the 24-hour window only from templates
    Meta approved: ``whatsapp_approved`` marks those, with their provider content id.
    """

    __tablename__ = "message_template"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: None: usable on any channel.
    channel: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en")
    whatsapp_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The provider's id of the approved template (Twilio Content SID, "HX...").
    provider_template_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Look(Base):
    """Products an associate curated together, with a note, shown on a public page by its code."""

    __tablename__ = "look"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The unguessable part of the public URL (/looks/{code}).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"), index=True)
    #: The client it was made for (None: a look for anyone).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LookItem(Base):
    __tablename__ = "look_item"
    __table_args__ = (UniqueConstraint("look_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    look_id: Mapped[int] = mapped_column(ForeignKey("look.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(300))


class ShortLink(Base):
    """A tracked link in a message: /r/{code} redirects to a product or look and records the visit.

    Made per message and client, so a visit (and the purchase after it) is attributed to the
    associate who sent it, whatever device the client opens it on.
    """

    __tablename__ = "short_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # product | look | url
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    look_id: Mapped[int | None] = mapped_column(ForeignKey("look.id"))
    url: Mapped[str | None] = mapped_column(String(1000))
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), index=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    first_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Handover(Base):
    """ "My client is in Paris on Friday": a client introduced to another store's team before a visit."""

    __tablename__ = "handover"
    __table_args__ = (Index("ix_handover_location_visit", "to_location_id", "visit_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    from_associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    visit_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Someone in the receiving store took it on.
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
