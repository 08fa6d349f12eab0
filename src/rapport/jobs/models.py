"""The durable job queue: one row per piece of background work, claimed with a lease.

A job is claimed by a worker for a lease (``locked_until``); a worker that dies leaves its lease to
run out, and the next worker takes the job again. ``key`` makes enqueuing idempotent: the same
piece of work (say, sending message 42) is queued once however often it is asked for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, UTCDateTime

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "queue", "status", "run_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    #: What the job is, once: enqueuing the same key again changes nothing.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    #: Not before this time (retries back off; a message held for quiet hours waits for morning).
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
