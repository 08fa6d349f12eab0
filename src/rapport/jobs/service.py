"""The job queue's verbs: enqueue, claim with a lease, then complete, retry or fail.

A claim is one write transaction of two statements whatever the batch size: a select of the due
ids (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent claimers pass over each other's rows
instead of waiting; SQLite's writers are serialised by ``BEGIN IMMEDIATE``), then one ``UPDATE ...
WHERE id IN (...) RETURNING``. Each queue gets its own ordered, limited branch so the ``ix_job_due``
index hands back the oldest due rows without reading the whole backlog.

Who holds a job is ``locked_by`` and which claim it is ``attempts`` (one more per claim): a worker
may finish a job only while both still match its claim, so a worker whose lease ran out and whose
job was claimed again changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, union_all, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.db import Database, insert_for, one_of, table_of
from rapport.jobs.models import JOB_STATUSES, Job

JOB = table_of(Job)

#: The first retry waits this long; each further one twice as long as the one before ...
BACKOFF_BASE_SECONDS = 5.0
#: ... but never longer than this.
BACKOFF_CAP_SECONDS = 3600.0
#: Retries are spread by this fraction either way, so jobs that failed together do not retry together.
BACKOFF_JITTER = 0.2


def _length(column: Any) -> int:
    return int(column.type.length)


_KEY_LENGTH = _length(JOB.c.key)
_QUEUE_LENGTH = _length(JOB.c.queue)
_ERROR_LENGTH = _length(JOB.c.last_error)
_WORKER_LENGTH = _length(JOB.c.locked_by)


@dataclass(frozen=True)
class Claimed:
    """A job as a worker holds it. ``attempts`` counts this attempt and identifies the claim."""

    id: int
    queue: str
    key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


# -- enqueuing ---------------------------------------------------------------------------------------


def enqueue(
    session: Session,
    queue: str,
    key: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> int:
    """Queue one piece of work, once: a job already holding ``key`` is left as it is (whatever its
    status) and its id returned. Due at ``run_at`` (default: now)."""
    row = _row(queue, key, payload, run_at or clock.now(), max_attempts, clock.now())
    stmt = insert_for(session, JOB).values(**row).on_conflict_do_nothing(index_elements=["key"]).returning(JOB.c.id)
    new = session.execute(stmt).scalar()
    if new is not None:
        return int(new)
    return int(session.execute(select(JOB.c.id).where(JOB.c.key == key)).scalar_one())


def enqueue_many(
    session: Session,
    queue: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    *,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> int:
    """Queue many (key, payload) pairs in one multi-row insert; returns how many were new.

    Keys already queued (or repeated within ``items``: the first wins) change nothing.
    """
    now = clock.now()
    due = run_at or now
    rows: dict[str, dict[str, Any]] = {}
    for key, payload in items:
        if key not in rows:
            rows[key] = _row(queue, key, payload, due, max_attempts, now)
    if not rows:
        return 0
    stmt = insert_for(session, JOB).on_conflict_do_nothing(index_elements=["key"]).returning(JOB.c.id)
    # SQLAlchemy sends an executemany with RETURNING as multi-row INSERT ... VALUES statements
    # ("insertmanyvalues", up to 1,000 rows each), within the drivers' parameter limits.
    return len(session.execute(stmt, list(rows.values())).all())


def _row(
    queue: str, key: str, payload: dict[str, Any], run_at: datetime, max_attempts: int, now: datetime
) -> dict[str, Any]:
    # PostgreSQL refuses a value longer than its column and SQLite would keep it: refuse it on both.
    if not queue or len(queue) > _QUEUE_LENGTH:
        raise ValueError(f"job queue must be 1 to {_QUEUE_LENGTH} characters: {queue!r}")
    if not key or len(key) > _KEY_LENGTH:
        raise ValueError(f"job key must be 1 to {_KEY_LENGTH} characters: {key!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
    return {
        "queue": queue,
        "key": key,
        "payload": payload,
        "status": "queued",
        "run_at": clock.ensure_aware(run_at),
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
    }


def reschedule(session: Session, key: str, run_at: datetime) -> bool:
    """A queued job waits until ``run_at`` (earlier or later); False if no job with that key is queued."""
    stmt = (
        update(JOB)
        .where(JOB.c.key == key, JOB.c.status == "queued")
        .values(run_at=clock.ensure_aware(run_at))
        .returning(JOB.c.id)
    )
    return session.execute(stmt).first() is not None


def cancel(session: Session, key: str) -> bool:
    """Cancel a queued job. A running one is not stopped (its worker decides); False when nothing was
    queued under that key."""
    stmt = (
        update(JOB)
        .where(JOB.c.key == key, JOB.c.status == "queued")
        .values(status="cancelled", finished_at=clock.now())
        .returning(JOB.c.id)
    )
    return session.execute(stmt).first() is not None


# -- claiming ----------------------------------------------------------------------------------------


def claim(
    db: Database, queues: Sequence[str], worker: str, *, limit: int = 20, lease_seconds: float = 60
) -> list[Claimed]:
    """Take up to ``limit`` jobs of ``queues`` for ``lease_seconds``, oldest ``run_at`` first.

    Takes the due ones (queued, ``run_at`` reached) and the abandoned ones (running, lease over:
    their worker died). Concurrent claimers, in any number of processes, never get the same job.
    """
    names = list(dict.fromkeys(queues))
    if not names or limit <= 0:
        return []
    _check_worker(worker)
    with db.write() as session:
        now = clock.now()
        ids = list(session.execute(_claimable(session, names, now, limit)).scalars())
        if not ids:
            return []
        stmt = (
            update(JOB)
            .where(one_of(session, JOB.c.id, ids))
            .values(
                status="running",
                attempts=JOB.c.attempts + 1,
                locked_by=worker,
                locked_until=now + timedelta(seconds=lease_seconds),
            )
            .returning(*(JOB.c[n] for n in ("id", "queue", "key", "payload", "attempts", "max_attempts", "run_at")))
        )
        rows = sorted(session.execute(stmt).all(), key=lambda r: (r.run_at, r.id))
    return [Claimed(r.id, r.queue, r.key, r.payload or {}, r.attempts, r.max_attempts) for r in rows]


def _claimable(session: Session, queues: list[str], now: datetime, limit: int) -> Select[tuple[int]]:
    """The ids to claim: per queue, the oldest due and the oldest abandoned rows (each an ordered
    range of ``ix_job_due``), merged and cut to ``limit``. On PostgreSQL each branch locks its rows
    and skips rows another claimer has locked."""
    postgres = session.get_bind().dialect.name == "postgresql"
    branches = []
    for name in queues:
        for condition in (
            (JOB.c.status == "queued") & (JOB.c.run_at <= now),
            (JOB.c.status == "running") & (JOB.c.locked_until < now),
        ):
            branch = (
                select(JOB.c.id, JOB.c.run_at).where(JOB.c.queue == name, condition).order_by(JOB.c.run_at).limit(limit)
            )
            if postgres:
                branch = branch.with_for_update(skip_locked=True)
            sub = branch.subquery()
            branches.append(select(sub.c.id, sub.c.run_at))
    merged = union_all(*branches).subquery()
    return select(merged.c.id).order_by(merged.c.run_at, merged.c.id).limit(limit)


# -- finishing a claimed job ---------------------------------------------------------------------


def _held(job: Claimed, worker: str) -> ColumnElement[bool]:
    """This claim still holds the job: same worker, same attempt, still running."""
    return (
        (JOB.c.id == job.id)
        & (JOB.c.status == "running")
        & (JOB.c.locked_by == worker)
        & (JOB.c.attempts == job.attempts)
    )


def _finish(session: Session, job: Claimed, worker: str, **values: Any) -> bool:
    stmt = update(JOB).where(_held(job, worker)).values(**values).returning(JOB.c.id)
    return session.execute(stmt).first() is not None


def complete(session: Session, job: Claimed, worker: str) -> bool:
    """Done. False (and nothing changed) when this worker no longer holds the job."""
    return _finish(session, job, worker, status="done", finished_at=clock.now(), locked_until=None)


def backoff_seconds(attempts: int) -> float:
    """How long to wait before the next attempt after ``attempts`` tries: 5 s, 10 s, 20 s ... at most
    an hour, each spread by ±20 %."""
    base = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return base * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def retry(session: Session, job: Claimed, worker: str, error: str, *, delay_seconds: float | None = None) -> str:
    """Try again later (``delay_seconds``, default :func:`backoff_seconds`), keeping the error; when the
    job has had its ``max_attempts`` it fails for good instead. Returns the new status, ``"queued"``
    or ``"failed"``, or ``"lost"`` when this worker no longer holds the job."""
    now = clock.now()
    error = _error(error)
    if job.attempts >= job.max_attempts:
        return "failed" if fail(session, job, worker, error) else "lost"
    delay = backoff_seconds(job.attempts) if delay_seconds is None else max(delay_seconds, 0.0)
    queued = _finish(
        session,
        job,
        worker,
        status="queued",
        run_at=now + timedelta(seconds=delay),
        locked_by=None,
        locked_until=None,
        last_error=error,
    )
    return "queued" if queued else "lost"


def fail(session: Session, job: Claimed, worker: str, error: str) -> bool:
    """Failed for good, keeping the error. False when this worker no longer holds the job."""
    return _finish(
        session, job, worker, status="failed", finished_at=clock.now(), locked_until=None, last_error=_error(error)
    )


def extend(session: Session, job: Claimed, worker: str, lease_seconds: float) -> bool:
    """Keep the job ``lease_seconds`` from now (long work). False when this worker no longer holds it."""
    return _finish(session, job, worker, locked_until=clock.now() + timedelta(seconds=lease_seconds))


def release(session: Session, jobs: Sequence[Claimed], worker: str) -> int:
    """Give back claimed jobs this worker has not started (it is stopping): queued again as they were,
    the claim not counted as an attempt. Returns how many were given back."""
    released = 0
    for job in jobs:
        released += _finish(
            session, job, worker, status="queued", attempts=JOB.c.attempts - 1, locked_by=None, locked_until=None
        )
    return released


def _error(error: str) -> str:
    return error if len(error) <= _ERROR_LENGTH else error[: _ERROR_LENGTH - 1] + "…"


def _check_worker(worker: str) -> None:
    if not worker or len(worker) > _WORKER_LENGTH:
        raise ValueError(f"worker id must be 1 to {_WORKER_LENGTH} characters: {worker!r}")


# -- looking -------------------------------------------------------------------------------------------


def counts(session: Session, queue: str | None = None) -> dict[str, int]:
    """How many jobs are in each status (every status listed, zeros too), of one queue or all."""
    stmt = select(JOB.c.status, func.count()).group_by(JOB.c.status)
    if queue is not None:
        stmt = stmt.where(JOB.c.queue == queue)
    found = {status: 0 for status in JOB_STATUSES}
    for status, n in session.execute(stmt).all():
        found[status] = int(n)
    return found
