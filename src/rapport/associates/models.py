"""The people who serve clients, and the integrations that feed Rapport."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
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
