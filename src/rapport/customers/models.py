"""The client record and everything that hangs off it, including the append-only timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, SearchKey, UTCDateTime

CONSENT_CHANNELS = ("email", "sms", "whatsapp", "phone")
CUSTOMER_STATUSES = ("active", "merged")


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    #: Lower-case, accent-free name parts: what search and fuzzy matching compare.
    first_name_key: Mapped[str | None] = mapped_column(SearchKey(100), index=True)
    last_name_key: Mapped[str | None] = mapped_column(SearchKey(100), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    home_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    assigned_associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"), index=True)
    tier: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    #: e.g. {"colours": ["camel"], "brands": ["Maison Rapport"], "styles": ["tailored"]}
    preferences: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    #: e.g. {"tops": "M", "shoes": "38", "ring": "52"}
    sizes: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or f"Client #{self.id}"


class Address(Base):
    __tablename__ = "customer_address"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="home")
    line1: Mapped[str | None] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Milestone(Base):
    """A date worth remembering: anniversary, wedding, a child's birthday. Year may be unknown."""

    __tablename__ = "customer_milestone"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "label"),
        Index("ix_customer_milestone_month_day", "month", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100), default="")
    month: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[int] = mapped_column(SmallInteger)
    year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))


class Relationship(Base):
    """Someone who matters to the client: 'brother in Paris', 'wife (also a client)'."""

    __tablename__ = "customer_relationship"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    related_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    relation: Mapped[str] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(64))


class Note(Base):
    __tablename__ = "customer_note"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    author_associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    """The client's current yes/no per channel, with where and when it was given or withdrawn."""

    __tablename__ = "customer_consent"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WishlistItem(Base):
    __tablename__ = "wishlist_item"
    __table_args__ = (UniqueConstraint("customer_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64))


TIMELINE_KINDS = (
    "order", "order_cancelled", "return",
    "page_view", "product_view", "wishlist_add", "wishlist_remove", "cart_add", "cart_abandoned",
    "social_like", "social_comment", "social_mention", "try_on",
    "message", "appointment", "note", "consent", "profile", "merge", "unmerge",
    "hold", "fulfilment", "link_opened", "handover",
)  # fmt: skip


class TimelineEntry(Base):
    """One thing that happened in the relationship. Append-only; replays are no-ops.

    ``occurred_at`` is when it happened, ``recorded_at`` when Rapport learnt it. The subject is
    the client; the actor (an associate, the client, the system or an integration) is apart.

    No foreign keys, on purpose: this is the busiest table (every signal of every client), and
    PostgreSQL's checks cost 60% of its insert time (15 of 25 µs a row, measured on a bulk
    import: each check locks the referenced client row, rewriting client pages as events
    stream in). The ids are resolved by the writer in the same transaction, and clients,
    products and locations are never deleted (a merged client stays, pointing at its survivor).
    """

    __tablename__ = "timeline_entry"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_timeline_entry_customer_time", "customer_id", "occurred_at", "id"),
        Index("ix_timeline_entry_customer_kind", "customer_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location_id: Mapped[int | None] = mapped_column(BigId)
    actor_kind: Mapped[str] = mapped_column(String(16), default="system")
    actor_id: Mapped[int | None] = mapped_column(BigId)
    product_id: Mapped[int | None] = mapped_column(BigId, index=True)
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(BigId)
    summary: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
