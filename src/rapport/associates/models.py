"""The people who serve clients, and the integrations that feed Rapport."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, UTCDateTime

ROLES = ("associate", "virtual_associate", "store_manager", "admin")


class Associate(Base):
    """A store associate, an online expert (virtual associate), a manager or a head-office admin."""

    __tablename__ = "associate"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="associate")
    home_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    #: For virtual associates: the countries / states they cover, e.g. ["US"] or ["US-CA", "US-NV"].
    regions: Mapped[list[str]] = mapped_column(Json, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A business line the retailer gave this associate (E.164) for SMS and WhatsApp; never a
    #: personal phone. Without one, messages go from their store's number.
    business_phone: Mapped[str | None] = mapped_column(String(32))
    #: Out of office until then: their clients' messages go to the store's shared inbox meanwhile.
    away_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def is_virtual(self) -> bool:
        return self.role == "virtual_associate"


class ApiToken(Base):
    """An integration's bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AssociateLocation(Base):
    """The stores an associate works in (one or more); managers manage the teams of these stores."""

    __tablename__ = "associate_location"
    __table_args__ = (UniqueConstraint("associate_id", "location_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), index=True)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class LoginAttempt(Base):
    """Every sign-in attempt, for throttling by account and by address, and for the audit trail."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "attempted_at"),
        Index("ix_login_attempt_ip_at", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who did what to which client, when and from where: profile views, exports, edits, merges."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_customer_at", "customer_id", "at"),
        Index("ix_audit_event_actor_at", "actor_kind", "actor_id", "at"),
        Index("ix_audit_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))  # associate | token | system
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))  # client.viewed, client.exported, client.edited, ...
    customer_id: Mapped[int | None] = mapped_column(BigId)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class Notification(Base):
    """An item in an associate's in-app feed (new client assigned, a client handed over, ...)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_associate_read", "associate_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"))
    kind: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000), default="")
    link: Mapped[str | None] = mapped_column(String(500))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
