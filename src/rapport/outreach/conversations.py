"""Reading conversations: a client's thread, an associate's inbox, a store's shared inbox.

A thread is the client's messages in order (a merged client's included: they moved with the
merge). An inbox lists clients with their latest message, newest first, unread ones marked; it is
one grouped query over the message table's indexes, not a query per client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location
from rapport.outreach.models import Message

MESSAGE = table_of(Message)
CUSTOMER = table_of(Customer)
ASSOCIATE = table_of(Associate)
LOCATION = table_of(Location)

THREAD_PAGE = 50
STATUS_WORDS = {
    "queued": "Sending…", "held": "Held for quiet hours", "sending": "Sending…", "sent": "Sent",
    "delivered": "Delivered", "read": "Read", "failed": "Not sent", "undelivered": "Not delivered",
    "cancelled": "Cancelled", "outbox": "Local outbox — not sent", "received": "",
}  # fmt: skip


@dataclass(frozen=True)
class MessageView:
    id: int
    customer_id: int
    direction: str
    channel: str
    provider: str
    status: str
    status_words: str
    body: str
    subject: str | None
    author_name: str | None
    business_address: str
    client_address: str
    created_at: datetime
    scheduled_for: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    error: str | None
    look_id: int | None
    system: bool
    media: list[str]

    @property
    def outgoing(self) -> bool:
        return self.direction == "out"


@dataclass(frozen=True)
class Thread:
    customer_id: int
    messages: list[MessageView]  # oldest first
    older_before: int | None  # pass as before_id for the previous page


@dataclass(frozen=True)
class InboxRow:
    customer_id: int
    client_name: str
    last_at: datetime
    last_body: str
    last_channel: str
    last_direction: str
    unread: int
    shared: bool  # waiting in the store's shared inbox (its associate is away or gone)


def _view(row: Any, authors: dict[int, str]) -> MessageView:
    data = row.data or {}
    return MessageView(
        id=row.id, customer_id=row.customer_id, direction=row.direction, channel=row.channel, provider=row.provider,
        status=row.status, status_words=STATUS_WORDS.get(row.status, row.status), body=row.body, subject=row.subject,
        author_name=authors.get(row.associate_id) if row.associate_id else None,
        business_address=row.business_address, client_address=row.client_address, created_at=row.created_at,
        scheduled_for=row.scheduled_for, sent_at=row.sent_at, delivered_at=row.delivered_at, read_at=row.read_at,
        error=row.error, look_id=row.look_id, system=bool(data.get("system")), media=list(data.get("media") or []),
    )  # fmt: skip


def thread_of(
    session: Session, customer_id: int, *, before_id: int | None = None, after_id: int | None = None,
    limit: int = THREAD_PAGE,
) -> Thread:  # fmt: skip
    """A page of the client's thread, oldest first; ``after_id`` gives only what is newer (polling)."""
    cid = resolve_id(session, customer_id)
    stmt = select(MESSAGE).where(MESSAGE.c.customer_id == cid)
    if after_id is not None:
        rows = list(session.execute(stmt.where(MESSAGE.c.id > after_id).order_by(MESSAGE.c.id).limit(limit)))
        older = None
    else:
        if before_id is not None:
            stmt = stmt.where(MESSAGE.c.id < before_id)
        rows = list(session.execute(stmt.order_by(MESSAGE.c.created_at.desc(), MESSAGE.c.id.desc()).limit(limit + 1)))
        older = rows[limit - 1].id if len(rows) > limit else None
        rows = list(reversed(rows[:limit]))
    author_ids = {r.associate_id for r in rows if r.associate_id}
    authors = (
        {
            r.id: r.display_name
            for r in session.execute(
                select(ASSOCIATE.c.id, ASSOCIATE.c.display_name).where(ASSOCIATE.c.id.in_(author_ids))
            )
        }
        if author_ids
        else {}
    )
    return Thread(cid, [_view(r, authors) for r in rows], older)


def mark_read(session: Session, customer_id: int, associate_id: int) -> int:
    """The associate opened the thread: its inbound messages are read (by them, now)."""
    cid = resolve_id(session, customer_id)
    result = session.execute(
        update(MESSAGE)
        .where(MESSAGE.c.customer_id == cid, MESSAGE.c.direction == "in", MESSAGE.c.read_at.is_(None))
        .values(read_at=clock.now(), read_by_id=associate_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def inbox(
    session: Session, associate_id: int, *, store_ids: frozenset[int] = frozenset(), limit: int = 50
) -> list[InboxRow]:
    """Clients whose threads concern this associate — their own book's, those they wrote to, and
    (for ``store_ids``) messages waiting in those stores' shared inboxes — latest first."""
    mine = or_(
        MESSAGE.c.routed_associate_id == associate_id,
        MESSAGE.c.associate_id == associate_id,
        MESSAGE.c.customer_id.in_(select(CUSTOMER.c.id).where(CUSTOMER.c.assigned_associate_id == associate_id)),
        *([and_(MESSAGE.c.routed_location_id.in_(store_ids), MESSAGE.c.routed_associate_id.is_(None))]
          if store_ids else []),
    )  # fmt: skip
    return _inbox(session, mine, limit, store_ids)


def shared_inbox(session: Session, store_ids: frozenset[int], *, limit: int = 50) -> list[InboxRow]:
    """What clients wrote while their associate was away or gone: the stores' shared inbox."""
    if not store_ids:
        return []
    where = and_(MESSAGE.c.routed_location_id.in_(store_ids), MESSAGE.c.routed_associate_id.is_(None))
    return _inbox(session, where, limit, store_ids)


def _inbox(session: Session, where: Any, limit: int, store_ids: frozenset[int]) -> list[InboxRow]:
    latest = (
        select(MESSAGE.c.customer_id, func.max(MESSAGE.c.id).label("last_id"))
        .where(where)
        .group_by(MESSAGE.c.customer_id)
        .subquery()
    )
    unread = (
        select(MESSAGE.c.customer_id, func.count().label("n"),
               func.max(func.coalesce(MESSAGE.c.routed_location_id, 0)).label("shared_store"))
        .where(MESSAGE.c.direction == "in", MESSAGE.c.read_at.is_(None),
               MESSAGE.c.customer_id.in_(select(latest.c.customer_id)))
        .group_by(MESSAGE.c.customer_id)
        .subquery()
    )  # fmt: skip
    rows = session.execute(
        select(
            MESSAGE.c.customer_id, MESSAGE.c.created_at, MESSAGE.c.body, MESSAGE.c.channel, MESSAGE.c.direction,
            MESSAGE.c.routed_associate_id, MESSAGE.c.routed_location_id, CUSTOMER.c.first_name, CUSTOMER.c.last_name,
            func.coalesce(unread.c.n, 0).label("unread"),
        )
        .join(latest, latest.c.last_id == MESSAGE.c.id)
        .join(CUSTOMER, CUSTOMER.c.id == MESSAGE.c.customer_id)
        .outerjoin(unread, unread.c.customer_id == MESSAGE.c.customer_id)
        .order_by(MESSAGE.c.id.desc())
        .limit(limit)
    )  # fmt: skip
    out = []
    for r in rows:
        name = " ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.customer_id}"
        body = r.body if len(r.body) <= 120 else r.body[:119] + "…"
        shared = r.direction == "in" and r.routed_associate_id is None and r.routed_location_id in store_ids
        out.append(InboxRow(r.customer_id, name, r.created_at, body, r.channel, r.direction, int(r.unread), shared))
    return out


def unread_count(session: Session, associate_id: int, store_ids: frozenset[int] = frozenset()) -> int:
    """Inbound messages waiting for this associate (their own, and their stores' shared inbox)."""
    routed = [MESSAGE.c.routed_associate_id == associate_id]
    if store_ids:
        routed.append(and_(MESSAGE.c.routed_location_id.in_(store_ids), MESSAGE.c.routed_associate_id.is_(None)))
    n = session.scalar(
        select(func.count())
        .select_from(MESSAGE)
        .where(MESSAGE.c.direction == "in", MESSAGE.c.read_at.is_(None), or_(*routed))
    )
    return int(n or 0)
