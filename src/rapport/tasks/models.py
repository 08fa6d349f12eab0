"""Next actions: tasks for associates, the retailer's rule settings, and head office's campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, UTCDateTime

#: What a task is about. Each generated type has a rule (tasks/rules.py); "campaign" comes from head
#: office and "manual" from an associate or a manager.
TASK_TYPES = (
    "milestone", "back_in_stock", "replenishment", "try_on_follow_up", "post_purchase",
    "lapsing", "high_intent", "welcome", "appointment_prep", "campaign", "manual",
)  # fmt: skip
TASK_STATUSES = ("open", "snoozed", "done", "dismissed", "expired")
#: Statuses in an associate's list (a snoozed task comes back when its snooze ends).
LIVE_STATUSES = ("open", "snoozed")
TASK_OUTCOMES = ("contacted", "sale", "no_answer", "not_interested")
CAMPAIGN_STATUSES = ("draft", "launched", "cancelled")


class Task(Base):
    """Something worth doing for one client, with the reason in plain words and the facts behind it.

    Owned by an associate, or by the client's home store's team queue (``associate_id`` empty,
    ``location_id`` the store) when the client has no active assigned associate. ``dedupe_key``
    names the occasion ("milestone:birthday:2026", "post_purchase:order:123"): a client never gets
    two tasks for one occasion, so sweeps and replayed events are idempotent.
    """

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("customer_id", "dedupe_key"),
        Index("ix_task_associate_status_due", "associate_id", "status", "due_at"),
        Index("ix_task_location_status_due", "location_id", "status", "due_at"),
        Index("ix_task_customer_status", "customer_id", "status"),
        Index("ix_task_status_expires", "status", "expires_at"),
        Index("ix_task_campaign", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    type: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    #: One line for the list: "Birthday on 3 Dec".
    title: Mapped[str] = mapped_column(String(200))
    #: The why, in plain words with the facts: "Anniversary on 3 Dec; bought a ring for it last year".
    reason: Mapped[str] = mapped_column(String(1000))
    #: The facts behind the reason, for the API and for ranking (dates, products, amounts, scores).
    facts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    #: Reaching out to the client (counts against contact pressure) or work in the store.
    outreach: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The channel to reach the client on, among those they consented to; empty for in-store work.
    channel: Mapped[str | None] = mapped_column(String(16))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    suggested_message: Mapped[str | None] = mapped_column(Text)
    #: 1 (low) .. 3 (high), shown as a badge.
    priority: Mapped[int] = mapped_column(SmallInteger, default=2)
    #: Expected value of doing it (client value x intent x urgency), in points; ranks the focus list.
    score: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[str | None] = mapped_column(String(1000))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskRule(Base):
    """The retailer's settings for one task type (enabled, days ahead, thresholds, ...).

    Rows exist only for what the retailer changed; the rest uses the defaults in tasks/config.py.
    The row named "pressure" holds contact-pressure settings (caps, cool-down).
    """

    __tablename__ = "task_rule"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class Campaign(Base):
    """Head office's follow-up: a client segment plus a suggested message, launched as tasks."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The segment's filters (see tasks/campaigns.py): KPIs, tags, preferences, stores, last purchase, consent.
    segment: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    #: Channel the message is meant for; clients without consent on it are left out.
    channel: Mapped[str | None] = mapped_column(String(16))
    due_in_days: Mapped[int] = mapped_column(SmallInteger, default=3)
    expires_in_days: Mapped[int] = mapped_column(SmallInteger, default=14)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    launched_tasks: Mapped[int | None] = mapped_column(Integer)
    launched_associates: Mapped[int | None] = mapped_column(Integer)
