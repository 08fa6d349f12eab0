"""Identifiers that say who a client is, merges that can be undone, and fuzzy matches for review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, SearchKey, UTCDateTime

IDENTIFIER_KINDS = ("email", "phone", "external")


class Identifier(Base):
    """An email, an E.164 phone or a (source system, id) pair, owned by exactly one client.

    ``namespace`` is the source system for external ids ("shopify", "pos", "loyalty",
    "instagram") and empty for emails and phones. ``search_key`` supports prefix look-ups:
    the address for emails, the reversed digits for phones (so "…5551234" is a prefix).
    """

    __tablename__ = "identifier"
    __table_args__ = (
        UniqueConstraint("kind", "namespace", "value"),
        Index("ix_identifier_kind_search_key", "kind", "search_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(String(64), default="")
    value: Mapped[str] = mapped_column(String(320))
    search_key: Mapped[str] = mapped_column(SearchKey(320))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MergeRecord(Base):
    """One merge: who survived, why, what moved and which field values were chosen — enough to undo it."""

    __tablename__ = "merge_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    loser_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    moved: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    field_choices: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(200))


class MatchCandidate(Base):
    """Two clients who may be one person. Never merged without a human's yes."""

    __tablename__ = "match_candidate"
    __table_args__ = (
        UniqueConstraint("customer_id", "other_customer_id"),
        CheckConstraint("customer_id < other_customer_id", name="ordered_pair"),
        Index("ix_match_candidate_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    other_customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    reasons: Mapped[list[str]] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))


class ScanPending(Base):
    """Clients waiting to be compared for probable duplicates.

    Written in the same transaction as the client; drained outside the write path (a background
    drainer in the app, ``rapport identity scan``), so ingestion never waits for fuzzy matching
    and a crash loses nothing: the row stays until its scan has committed.
    """

    __tablename__ = "identity_scan_pending"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
