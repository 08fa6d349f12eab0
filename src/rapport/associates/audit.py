"""The audit log: who looked at or changed which client, when and from where.

Every profile view and export is written here (issue 3: any associate may *find* any client of
the brand, but nobody does so unseen). A write is one single-row ``INSERT`` in the caller's unit
of work — no read first, no index beyond the three the table already has — so recording a view
does not slow the profile down. Reading is for managers and admins: newest first, filtered by
client, by actor, by action and by time, paged with a keyset cursor on ``(at, id)`` so the page
after next is as fast as the first on a log of millions of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, text, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock, pagination
from rapport.associates.models import AuditEvent
from rapport.db import UTCDateTime, table_of
from rapport.errors import InvalidRecord

AUDIT = table_of(AuditEvent)

ACTOR_KINDS = ("associate", "token", "system")
#: The actions Rapport records; ``record`` accepts others (capabilities add their own) of the same shape.
VIEWED, EXPORTED, EDITED = "client.viewed", "client.exported", "client.edited"
ASSIGNED, REASSIGNED = "clientbook.assigned", "clientbook.reassigned"

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class AuditActor:
    """Who acts, and from where: an associate (web session), an integration token or the system."""

    kind: str
    id: int | None
    label: str
    ip: str | None = None
    user_agent: str | None = None


SYSTEM = AuditActor("system", None, "system")


@dataclass
class AuditEventView:
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_label: str
    action: str
    customer_id: int | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditPage:
    events: list[AuditEventView]
    next_cursor: str | None


def record(
    session: Session,
    action: str,
    *,
    actor_kind: str,
    actor_id: int | None,
    actor_label: str,
    customer_id: int | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event (an export, an edit, an assignment...). One INSERT, nothing read."""
    if actor_kind not in ACTOR_KINDS:
        raise ValueError(f"actor_kind must be one of {ACTOR_KINDS}, not {actor_kind!r}")
    session.execute(
        insert(AUDIT),
        {
            "at": clock.now(),
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "actor_label": (actor_label or actor_kind)[:200],
            "action": action[:50],
            "customer_id": customer_id,
            "ip": ip[:64] if ip else None,
            "user_agent": user_agent[:300] if user_agent else None,
            "detail": detail or {},
        },
    )


def record_view(
    session: Session,
    *,
    actor_kind: str,
    actor_id: int | None,
    actor_label: str,
    customer_id: int,
    ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """A client's profile was opened. Call it in the same request that renders the profile.

    Views are the most frequent audit entries: on PostgreSQL their transaction does not wait for the
    WAL flush (``synchronous_commit = off``), so opening a profile costs no disk sync; a crash can lose
    at most the last fraction of a second of view records. Edits and exports keep full durability.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))
    record(
        session,
        VIEWED,
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_label=actor_label,
        customer_id=customer_id,
        ip=ip,
        user_agent=user_agent,
    )


def record_by(
    session: Session,
    actor: AuditActor,
    action: str,
    *,
    customer_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``record`` for an :class:`AuditActor` (what services that take an actor call)."""
    record(
        session,
        action,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        customer_id=customer_id,
        ip=actor.ip,
        user_agent=actor.user_agent,
        detail=detail,
    )


# -- reading -----------------------------------------------------------------------------------


def list_events(
    session: Session,
    *,
    customer_id: int | None = None,
    actor: tuple[str, int | None] | None = None,
    actions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> AuditPage:
    """A page of events, newest first. ``actor`` is ``(kind, id)``, e.g. ``("associate", 12)``;
    ``since`` is inclusive, ``until`` exclusive; ``cursor`` is the previous page's ``next_cursor``.

    Each filter combination walks one of the table's indexes: (customer_id, at), (actor_kind,
    actor_id, at) or (at).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecord.one("limit", f"must be between 1 and {MAX_LIMIT}")
    a = AUDIT
    conditions: list[ColumnElement[bool]] = []
    if customer_id is not None:
        conditions.append(a.c.customer_id == customer_id)
    if actor is not None:
        kind, actor_id = actor
        if kind not in ACTOR_KINDS:
            raise InvalidRecord.one("actor", f"kind must be one of {', '.join(ACTOR_KINDS)}")
        conditions.append(a.c.actor_kind == kind)
        conditions.append(a.c.actor_id.is_(None) if actor_id is None else a.c.actor_id == actor_id)
    if actions:
        conditions.append(a.c.action.in_(list(actions)))
    if since is not None:
        conditions.append(a.c.at >= clock.ensure_aware(since))
    if until is not None:
        conditions.append(a.c.at < clock.ensure_aware(until))
    if cursor:
        at, last_id = decode_cursor(cursor)
        conditions.append(
            tuple_(a.c.at, a.c.id)
            < tuple_(bindparam("c_at", at, type_=UTCDateTime()), bindparam("c_id", last_id, type_=Integer()))
        )
    stmt = select(a).where(*conditions).order_by(a.c.at.desc(), a.c.id.desc()).limit(limit + 1)
    rows = session.execute(stmt).all()
    events = [
        AuditEventView(
            id=r.id,
            at=r.at,
            actor_kind=r.actor_kind,
            actor_id=r.actor_id,
            actor_label=r.actor_label,
            action=r.action,
            customer_id=r.customer_id,
            ip=r.ip,
            user_agent=r.user_agent,
            detail=dict(r.detail or {}),
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return AuditPage(events, encode_cursor(events[-1].at, events[-1].id) if more else None)


def parse_actor(value: str) -> tuple[str, int | None]:
    """``"associate:12"``, ``"token:3"`` or ``"system"`` → ``(kind, id)``; InvalidRecord naming ``actor``."""
    kind, _, raw_id = value.partition(":")
    if kind not in ACTOR_KINDS or (kind != "system" and not raw_id.isdigit()) or (kind == "system" and raw_id):
        raise InvalidRecord.one("actor", "expected associate:ID, token:ID or system")
    return kind, int(raw_id) if raw_id else None


def encode_cursor(at: datetime, event_id: int) -> str:
    return pagination.encode_cursor(at, event_id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    return pagination.decode_cursor(cursor, field="cursor", what="audit")
