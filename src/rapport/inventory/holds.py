"""Holds: an item put aside for a client at a store ("I'll keep the coat for you until tonight").

A hold is a :class:`~rapport.inventory.models.Reservation` of kind ``hold``: it takes the units
out of what the store can promise (online and to other clients) until it is released by an
associate, lapses at its time, or is converted when the client buys it. Every change is on the
client's timeline and in the audit log; a lapse tells the associate who placed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit, notifications
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine
from rapport.customers import timeline
from rapport.customers.models import Customer
from rapport.db import Database, one_of
from rapport.errors import Conflict, InvalidRecord, NotFound
from rapport.identity.merge import resolve_id
from rapport.inventory import stock
from rapport.inventory.models import Location, Reservation
from rapport.settings import get_settings

#: How long a hold lasts without a time, and at most: the retailer's settings
#: (``RAPPORT_HOLD_DEFAULT_HOURS``, ``RAPPORT_HOLD_MAX_DAYS``; these are their defaults).
DEFAULT_HOURS = 48
MAX_DAYS = 14
MAX_QUANTITY = 10


@dataclass(frozen=True)
class HoldView:
    id: int
    status: str
    quantity: int
    sku: str
    product_id: int
    product_name: str
    style_code: str
    size: str | None
    colour: str | None
    image_url: str | None
    location_id: int
    location_code: str
    location_name: str
    timezone: str
    customer_id: int | None
    client_name: str
    associate_id: int | None
    associate_name: str | None
    note: str | None
    expires_at: datetime | None
    created_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def label(self) -> str:
        size = f" ({self.size})" if self.size else ""
        return f"{self.product_name}{size}"


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p) or "Unnamed client"


# -- placing and ending --------------------------------------------------------------------------


def place_hold(
    session: Session,
    *,
    customer_id: int,
    sku: str,
    location_code: str,
    quantity: int = 1,
    until: datetime | None = None,
    note: str | None = None,
    associate_id: int | None = None,
    actor: AuditActor = audit.SYSTEM,
    idempotency_key: str | None = None,
) -> HoldView:
    """Put ``quantity`` of ``sku`` aside for the client at a store until ``until``.

    Refused (nothing written) when the SKU or store is unknown, the store is a warehouse, the time
    is past or too far, or the store cannot promise that many (:class:`~rapport.inventory.stock.OutOfStock`,
    naming what is available). A retried request with the same ``idempotency_key`` returns the same hold.
    """
    if idempotency_key:
        known = session.scalar(select(Reservation.id).where(Reservation.idempotency_key == idempotency_key))
        if known is not None:
            return get_hold(session, known)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidRecord.one("quantity", f"must be between 1 and {MAX_QUANTITY}, got {quantity}")
    if note is not None and len(note) > 500:
        raise InvalidRecord.one("note", "must be at most 500 characters")
    client = session.get(Customer, customer_id)
    if client is None:
        raise NotFound(f"no client {customer_id}")
    customer_id = resolve_id(session, customer_id)
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise InvalidRecord.one("sku", f"unknown product {sku!r}")
    location = session.scalar(select(Location).where(Location.code == location_code))
    if location is None:
        raise InvalidRecord.one("location", f"unknown location {location_code!r}")
    if location.kind != "store":
        raise InvalidRecord.one("location", f"{location.name} is a {location.kind}: holds are kept at stores")
    now = clock.now()
    settings = get_settings()
    expires_at = until if until is not None else now + timedelta(hours=settings.hold_default_hours)
    if expires_at.tzinfo is None:
        raise InvalidRecord.one("until", "needs a timezone (e.g. 2026-11-24T19:00:00+01:00)")
    if expires_at <= now:
        raise InvalidRecord.one("until", "must be in the future")
    if expires_at > now + timedelta(days=settings.hold_max_days):
        raise InvalidRecord.one("until", f"a hold lasts at most {settings.hold_max_days} days")
    label = f"{product.sku} at {location.name}"
    [hold_id] = stock.reserve(
        session,
        [stock.Want(product.id, location.id, quantity)],
        kind="hold",
        customer_id=customer_id,
        associate_id=associate_id,
        expires_at=expires_at,
        note=note or None,
        idempotency_key=idempotency_key,
        labels={(product.id, location.id): label},
    )
    local = expires_at.astimezone(ZoneInfo(location.timezone))
    size = f" ({product.size})" if product.size else ""
    qty = f"{quantity} × " if quantity > 1 else ""
    timeline.append(session, [timeline.entry(
        customer_id=customer_id, kind="hold", channel="store", location_id=location.id,
        summary=f"{qty}{product.name}{size} put aside at {location.name} until {local:%a %d %b %H:%M}",
        source="rapport", external_id=f"hold:{hold_id}:placed", occurred_at=now,
        actor_kind="associate" if associate_id else "system", actor_id=associate_id, product_id=product.id,
        ref_type="hold", ref_id=hold_id, data={"quantity": quantity, "expires_at": expires_at.isoformat()},
    )])  # fmt: skip
    audit.record_by(
        session, actor, "hold.placed", customer_id=customer_id,
        detail={"hold": hold_id, "sku": product.sku, "location": location.code, "quantity": quantity},
    )  # fmt: skip
    return get_hold(session, hold_id)


def place_hold_once(db: Database, **request: Any) -> HoldView:
    """:func:`place_hold` in its own unit of work, safe against a double tap: two requests with the same
    idempotency key at the same moment place one hold (on PostgreSQL the second waits on the key's
    unique index, is refused, and finds the first one's hold on its second try)."""
    for attempt in (1, 2):
        try:
            with db.write() as session:
                return place_hold(session, **request)
        except IntegrityError:
            if attempt == 2 or not request.get("idempotency_key"):
                raise
    raise AssertionError("unreachable")


def release_hold(
    session: Session, hold_id: int, *, actor: AuditActor = audit.SYSTEM, reason: str | None = None
) -> HoldView:
    """Give the item back to the shelf (the client changed their mind, or bought elsewhere)."""
    hold = get_hold(session, hold_id)
    ended = stock.end(session, [hold_id], status="released")
    if not ended:
        raise Conflict(f"hold {hold_id} is already {hold.status}")
    _ended_entries(session, [hold], "released" + (f": {reason}" if reason else ""), actor)
    audit.record_by(session, actor, "hold.released", customer_id=hold.customer_id, detail={"hold": hold_id})
    return get_hold(session, hold_id)


def expire_lapsed(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Release holds whose time is up (the housekeeping loop calls this every minute); how many."""
    ids = stock.lapsed_hold_ids(session, now=now, limit=limit)
    if not ids:
        return 0
    ended = {e.id for e in stock.end(session, ids, status="expired")}
    holds = [h for h in holds_by_id(session, sorted(ended)).values()]
    _ended_entries(session, holds, "lapsed", audit.SYSTEM)
    notices = [
        notifications.Outgoing(
            associate_id=h.associate_id, kind="hold_lapsed",
            title=f"Hold lapsed: {h.label} for {h.client_name}",
            body=f"Back on the shelf at {h.location_name}.",
            link=f"/clients/{h.customer_id}" if h.customer_id else None, customer_id=h.customer_id,
        )
        for h in holds
        if h.associate_id is not None
    ]  # fmt: skip
    if notices:
        notifications.notify_many(session, notices)
    return len(ended)


def any_active_for(session: Session, customer_ids: Sequence[int]) -> bool:
    """Whether any of these clients has something set aside (one indexed look-up: orders ask it per batch)."""
    r = Reservation
    found = session.scalar(
        select(r.id)
        .where(one_of(session, r.customer_id, sorted(set(customer_ids))), r.status == "active", r.kind == "hold")
        .limit(1)
    )
    return found is not None


def convert_for_orders(session: Session, order_ids: Sequence[int]) -> int:
    """A client bought what was put aside for them at that store: their holds are converted.

    Matched on (client, SKU, store) for orders placed at the hold's store; the hold's units leave
    stock with the sale (the till's next count confirms it). How many holds were converted.
    """
    if not order_ids:
        return 0
    o, ln, r = Order, OrderLine, Reservation
    sold = session.execute(
        select(o.customer_id, o.location_id, ln.product_id, ln.id, ln.quantity)
        .join(ln, ln.order_id == o.id)
        .where(one_of(session, o.id, list(order_ids)), o.status == "placed")
        .where(o.customer_id.is_not(None), o.location_id.is_not(None))
    ).all()
    if not sold:
        return 0
    lines = {(c, loc, p): (line_id, qty) for c, loc, p, line_id, qty in sold}
    holds = session.execute(
        select(r.id, r.customer_id, r.location_id, r.product_id, r.quantity).where(
            r.kind == "hold", r.status == "active", one_of(session, r.customer_id, sorted({k[0] for k in lines}))
        )
    ).all()
    converted = 0
    for hold_id, cid, loc, pid, _qty in holds:
        line = lines.get((cid, loc, pid))
        if line is None:
            continue
        done = stock.consume(session, [hold_id], status="converted", reason="sale", order_line_id=line[0])
        if done:
            converted += 1
            view = get_hold(session, hold_id)
            _ended_entries(session, [view], "bought", audit.SYSTEM)
    return converted


def _ended_entries(session: Session, holds: Sequence[HoldView], how: str, actor: AuditActor) -> None:
    now = clock.now()
    entries = [
        timeline.entry(
            customer_id=h.customer_id, kind="hold", channel="store", location_id=h.location_id,
            summary=f"{h.label} set aside at {h.location_name}: {how}", source="rapport",
            external_id=f"hold:{h.id}:{how.split(':')[0]}", occurred_at=now,
            actor_kind="associate" if actor.kind == "associate" else "system",
            actor_id=actor.id if actor.kind == "associate" else None, product_id=h.product_id,
            ref_type="hold", ref_id=h.id,
        )
        for h in holds
        if h.customer_id is not None
    ]  # fmt: skip
    timeline.append(session, entries)


# -- reading -------------------------------------------------------------------------------------


def _query() -> Any:
    r, p, loc, c, a = Reservation, Product, Location, Customer, Associate
    return (
        select(
            r.id, r.status, r.quantity, p.sku, r.product_id, p.name, p.style_code, p.size, p.colour, p.image_url,
            r.location_id, loc.code, loc.name, loc.timezone, r.customer_id, c.first_name, c.last_name,
            r.associate_id, a.display_name, r.note, r.expires_at, r.created_at, r.ended_at,
        )
        .join(p, p.id == r.product_id)
        .join(loc, loc.id == r.location_id)
        .outerjoin(c, c.id == r.customer_id)
        .outerjoin(a, a.id == r.associate_id)
        .where(r.kind == "hold")
    )  # fmt: skip


def _view(row: Any) -> HoldView:
    (hid, status, qty, sku, pid, name, style, size, colour, image, lid, lcode, lname, tz, cid, first, last, aid,
     aname, note, expires, created, ended) = row  # fmt: skip
    return HoldView(
        hid, status, qty, sku, pid, name, style, size, colour, image, lid, lcode, lname, tz, cid,
        _name(first, last), aid, aname, note, expires, created, ended,
    )  # fmt: skip


def get_hold(session: Session, hold_id: int) -> HoldView:
    row = session.execute(_query().where(Reservation.id == hold_id)).first()
    if row is None:
        raise NotFound(f"no hold {hold_id}")
    return _view(row)


def holds_by_id(session: Session, hold_ids: Sequence[int]) -> dict[int, HoldView]:
    if not hold_ids:
        return {}
    rows = session.execute(_query().where(one_of(session, Reservation.id, list(hold_ids))))
    return {v.id: v for v in map(_view, rows)}


def holds_of_client(
    session: Session, customer_id: int, *, include_ended: bool = False, limit: int = 20
) -> list[HoldView]:
    """A client's holds, soonest to lapse first (then the recently ended ones, when asked)."""
    cid = resolve_id(session, customer_id)
    stmt = _query().where(Reservation.customer_id == cid)
    if not include_ended:
        stmt = stmt.where(Reservation.status == "active")
    rows = session.execute(stmt.order_by(Reservation.status != "active", Reservation.expires_at).limit(limit))
    return [_view(row) for row in rows]


def holds_at(session: Session, location_id: int, *, limit: int = 200) -> list[HoldView]:
    """The store's shelf of items set aside, soonest to lapse first."""
    stmt = _query().where(Reservation.location_id == location_id, Reservation.status == "active")
    return [_view(row) for row in session.execute(stmt.order_by(Reservation.expires_at).limit(limit))]
