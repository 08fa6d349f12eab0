"""Fulfilment: buy online pick up in store (BOPIS), ship from store and endless aisle, transfers.

Life cycles (``models.FULFILMENT_STATUSES``)::

    pickup          [awaiting_transfer ->] allocated -> picked -> ready -> collected | not_collected
    ship_to_client  allocated -> picked -> shipped
    transfer        allocated -> picked -> shipped -> received

``ready`` and ``shipped`` may be tapped straight from ``allocated`` (picking is then implied). Any
open fulfilment can be cancelled — a transfer only until it leaves (once shipped it is received,
and the goods join the store's stock). A pickup nobody can source is ``unfulfillable``.

Stock moves only through :mod:`rapport.inventory.stock`:

* allocated — an allocation per line at the location that sends: promised, still on hand;
* collected, shipped — consumed (on hand and reserved both drop; ledger ``collected``,
  ``shipped``, ``transfer_out``);
* received — units added at the receiving store (ledger ``transfer_in``, once per line whatever
  the retries), then allocated there to the pickup the transfer feeds;
* cancelled, not collected — released, back to available.

Every transition is one conditional ``UPDATE ... WHERE status IN (expected)``: of two taps on
"Collected" only one can succeed, the other gets a :class:`~rapport.errors.Conflict` naming the
status, and stock moves once. Each writes a client timeline entry (kind ``fulfilment``) and an
audit row (``fulfilment.<what>``); who else hears of it is :mod:`.fulfilment_notices`.

This module is the service's front door: planning (:mod:`.fulfilment_planning`, with the rules
of :mod:`.sourcing`) and the read views (:mod:`.fulfilment_views`) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.permissions import Actor
from rapport.customers import timeline
from rapport.db import one_of
from rapport.errors import Conflict, InvalidRecord, PermissionDenied
from rapport.inventory import sourcing, stock
from rapport.inventory.fulfilment_notices import (
    SOURCE,
    Store,
    entry,
    local_day,
    record,
    tell_client_ready,
    tell_teams,
    units_text,
)
from rapport.inventory.fulfilment_planning import (
    active_reservations,
    allocate,
    allocate_pickup,
    load,
    load_order,
    plan_pickups,
    shortfall,
    source_order,
)
from rapport.inventory.fulfilment_views import (
    FULFILMENT,
    KIND_LABELS,
    OPEN,
    STATUS_GROUPS,
    FulfilmentView,
    PickLine,
    can_act,
    can_cancel,
    can_create,
    can_read,
    fulfilments_at,
    fulfilments_by_id,
    fulfilments_of_order,
    get_fulfilment,
    pick_list,
    screen,
)
from rapport.inventory.sourcing import Need, SourcingRules
from rapport.settings import get_settings

__all__ = [
    "COLLECT_DAYS", "STATUS_GROUPS", "FulfilmentView", "PickLine", "SourcingRules", "allocate_pickup", "can_act",
    "can_cancel", "can_create", "can_read", "cancel", "cancel_for_orders", "fulfilments_at", "fulfilments_of_order",
    "get_fulfilment", "mark_collected", "mark_picked", "mark_ready", "mark_received", "mark_shipped", "pick_list",
    "plan_pickups", "release_uncollected", "screen", "source_order",
]  # fmt: skip

#: Days a ready pickup waits for its client before going back to stock (``mark_ready(collect_days=...)``).
#: The default of ``RAPPORT_PICKUP_COLLECT_DAYS`` (what mark_ready uses when not told).
COLLECT_DAYS = 7
MAX_COLLECT_DAYS = 60
CANCELLABLE: dict[str, tuple[str, ...]] = {
    "pickup": (*OPEN["pickup"], "unfulfillable"),
    "ship_to_client": ("allocated", "picked", "unfulfillable"),
    "transfer": ("allocated", "picked"),
}


@dataclass(frozen=True)
class _Step:
    kinds: tuple[str, ...]
    sources: tuple[str, ...]


STEPS = {
    "picked": _Step(("pickup", "ship_to_client", "transfer"), ("allocated",)),
    "ready": _Step(("pickup",), ("allocated", "picked")),
    "collected": _Step(("pickup",), ("ready",)),
    "shipped": _Step(("ship_to_client", "transfer"), ("allocated", "picked")),
    "received": _Step(("transfer",), ("shipped",)),
}


# -- one fulfilment moves on ------------------------------------------------------------------------


def _status_words(status: str) -> str:
    return "ready for collection" if status == "ready" else status.replace("_", " ")


def _step(
    session: Session, fulfilment_id: int, to: str, *, actor: Actor | None, values: dict[str, Any]
) -> FulfilmentView:
    """Move one fulfilment to ``to`` if it is where that step starts: one conditional UPDATE."""
    before = load(session, fulfilment_id)
    if actor is not None and not can_act(actor, before.from_location_id, before.to_location_id):
        raise PermissionDenied(f"fulfilment {fulfilment_id} is not at one of your stores")
    step = STEPS[to]
    if before.kind not in step.kinds:
        label = KIND_LABELS.get(before.kind, before.kind).lower()
        raise Conflict(f"fulfilment {fulfilment_id} is a {label}: it is never {_status_words(to)}")
    f = FULFILMENT.c
    moved = session.execute(
        update(FULFILMENT)
        .where(f.id == fulfilment_id, f.status.in_(step.sources))
        .values(status=to, updated_at=clock.now(), **values)
        .returning(f.id)
    ).first()
    if moved is None:
        current = session.scalar(select(f.status).where(f.id == fulfilment_id))
        if current == to:
            raise Conflict(f"fulfilment {fulfilment_id} is already {_status_words(to)}")
        raise Conflict(
            f"fulfilment {fulfilment_id} is {_status_words(str(current))}, not {' or '.join(step.sources)}: "
            f"it cannot be marked {_status_words(to)}"
        )
    return get_fulfilment(session, fulfilment_id)


def mark_picked(
    session: Session, fulfilment_id: int, *, actor: Actor | None = None, who: AuditActor = audit.SYSTEM
) -> FulfilmentView:
    """The goods are off the shelf."""
    view = _step(session, fulfilment_id, "picked", actor=actor, values={"picked_at": clock.now()})
    where = view.from_location.name if view.from_location else "the store"
    record(session, view, "picked", f"Order {view.order_number}: {units_text(view.units)} picked at {where}", who)
    return view


def mark_ready(
    session: Session,
    fulfilment_id: int,
    *,
    collect_days: int | None = None,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
) -> FulfilmentView:
    """The pickup waits in the collection area until ``collect_by`` (ready + ``collect_days``, default
    :data:`COLLECT_DAYS`); the client is told (see the module docstring)."""
    days = get_settings().pickup_collect_days if collect_days is None else collect_days
    if not 1 <= days <= MAX_COLLECT_DAYS:
        raise InvalidRecord.one("collect_days", f"must be between 1 and {MAX_COLLECT_DAYS}, got {days}")
    now = clock.now()
    f = FULFILMENT.c
    values = {"ready_at": now, "collect_by": now + timedelta(days=days), "picked_at": func.coalesce(f.picked_at, now)}
    view = _step(session, fulfilment_id, "ready", actor=actor, values=values)
    store = view.to_location
    assert store is not None and view.collect_by is not None  # a pickup always has its store
    until = local_day(view.collect_by, store.timezone)
    record(session, view, "ready", f"Order {view.order_number} ready for collection at {store.name} until {until}",
            who, collect_by=view.collect_by.isoformat())  # fmt: skip
    tell_client_ready(session, view, until, who)
    return view


def mark_collected(
    session: Session, fulfilment_id: int, *, actor: Actor | None = None, who: AuditActor = audit.SYSTEM
) -> FulfilmentView:
    """The client has the goods: the allocations are consumed (they leave the store's stock)."""
    view = _step(session, fulfilment_id, "collected", actor=actor, values={"closed_at": clock.now()})
    stock.consume(session, active_reservations(session, [view.id]), status="fulfilled", reason="collected")
    where = view.to_location.name if view.to_location else "the store"
    record(session, view, "collected", f"Order {view.order_number} collected at {where}", who)
    return view


def mark_shipped(
    session: Session,
    fulfilment_id: int,
    *,
    tracking: str | None = None,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
) -> FulfilmentView:
    """A parcel to the client, or a transfer, has left: its allocations are consumed at the sender."""
    number = (tracking or "").strip() or None
    if number is not None and len(number) > 100:
        raise InvalidRecord.one("tracking", "must be at most 100 characters")
    now = clock.now()
    f = FULFILMENT.c
    values = {
        "shipped_at": now, "tracking": number, "picked_at": func.coalesce(f.picked_at, now),
        "closed_at": case((f.kind == "ship_to_client", now), else_=None),
    }  # fmt: skip
    view = _step(session, fulfilment_id, "shipped", actor=actor, values=values)
    reason = "shipped" if view.kind == "ship_to_client" else "transfer_out"
    stock.consume(session, active_reservations(session, [view.id]), status="fulfilled", reason=reason)
    sender = view.from_location.name if view.from_location else "?"
    if view.kind == "ship_to_client":
        summary = f"Order {view.order_number} shipped from {sender}" + (f", tracking {number}" if number else "")
    else:
        receiver = view.to_location.name if view.to_location else "?"
        summary = f"Order {view.order_number}: {units_text(view.units)} sent from {sender} to {receiver}"
    record(session, view, "shipped", summary, who, tracking=number)
    return view


def mark_received(
    session: Session, fulfilment_id: int, *, actor: Actor | None = None, who: AuditActor = audit.SYSTEM
) -> FulfilmentView:
    """A transfer arrived: its units join the store's stock (once, whatever the retries), then are
    allocated to the pickup it feeds; the pickup is ready to pick when nothing else is on its way."""
    now = clock.now()
    view = _step(session, fulfilment_id, "received", actor=actor, values={"closed_at": now})
    store = view.to_location
    assert store is not None  # a transfer always has its store
    stock.adjust(session, [
        stock.Delta(line.product_id, store.id, line.quantity, "transfer_in", SOURCE,
                    f"fulfilment:{view.id}:received:{line.order_line_id}", now, note=f"order {view.order_number}")
        for line in view.lines
    ])  # fmt: skip
    record(session, view, "received",
            f"Order {view.order_number}: {units_text(view.units)} arrived at {store.name}", who)  # fmt: skip
    if view.feeds_id is not None:
        _feed_pickup(session, view, who)
    return get_fulfilment(session, fulfilment_id)


def _feed_pickup(session: Session, transfer: FulfilmentView, who: AuditActor) -> None:
    pickup = load(session, transfer.feeds_id or 0)
    if pickup.status != "awaiting_transfer":
        return  # cancelled meanwhile: the goods simply join the store's stock
    order = load_order(session, pickup.order_id)
    store = sourcing.sites(session, [pickup.to_location_id])[pickup.to_location_id]
    needs = [Need(line.order_line_id, line.product_id, line.quantity) for line in transfer.lines]
    try:
        allocate(session, order, needs, store, pickup.id, None)
    except stock.OutOfStock as exc:
        tell_teams(session, [(store, f"Order {order.number}: transfer received, stock short",
                               f"The transfer arrived but the count does not cover it ({exc.message}). Check the "
                               "stock, then find stock again or cancel the pickup.", order.customer_id)])  # fmt: skip
        return
    missing, coming = shortfall(session, pickup.id)
    if missing or coming:
        return
    f = FULFILMENT.c
    moved = session.execute(
        update(FULFILMENT).where(f.id == pickup.id, f.status == "awaiting_transfer")
        .values(status="allocated", updated_at=clock.now()).returning(f.id)
    ).first()  # fmt: skip
    if moved is not None:
        view = get_fulfilment(session, pickup.id)
        record(session, view, "allocated",
                f"Order {view.order_number}: everything is at {store.name}, to prepare", who)  # fmt: skip


def cancel(
    session: Session,
    fulfilment_id: int,
    *,
    note: str | None = None,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
) -> FulfilmentView:
    """Stop a fulfilment and give its stock back; a pickup's transfers not yet sent stop with it.

    A transfer already shipped cannot be cancelled: it is received, and its goods join the store's stock.
    """
    before = load(session, fulfilment_id)
    if actor is not None and not can_cancel(actor, before.from_location_id, before.to_location_id):
        raise PermissionDenied("only a manager of the store or head office cancels a fulfilment")
    if note is not None and len(note) > 500:
        raise InvalidRecord.one("note", "must be at most 500 characters")
    f = FULFILMENT.c
    now = clock.now()
    sources = CANCELLABLE.get(before.kind, ())
    moved = session.execute(
        update(FULFILMENT).where(f.id == fulfilment_id, f.status.in_(sources))
        .values(status="cancelled", closed_at=now, updated_at=now, note=note.strip() if note else f.note)
        .returning(f.id)
    ).first()  # fmt: skip
    if moved is None:
        current = str(session.scalar(select(f.status).where(f.id == fulfilment_id)))
        if current == "cancelled":
            raise Conflict(f"fulfilment {fulfilment_id} is already cancelled")
        if before.kind == "transfer" and current == "shipped":
            raise Conflict(f"fulfilment {fulfilment_id} is shipped: the goods are on their way, receive them instead")
        raise Conflict(f"fulfilment {fulfilment_id} is {_status_words(current)}: it can no longer be cancelled")
    ended = [fulfilment_id]
    if before.kind == "pickup":
        ended += session.scalars(
            update(FULFILMENT).where(f.feeds_id == fulfilment_id, f.status.in_(CANCELLABLE["transfer"]))
            .values(status="cancelled", closed_at=now, updated_at=now).returning(f.id)
        ).all()  # fmt: skip
    stock.end(session, active_reservations(session, ended), status="released")
    views = [get_fulfilment(session, fid) for fid in ended]
    for view in views:
        where = (view.to_location if view.kind == "pickup" else view.from_location) or view.to_location
        record(session, view, "cancelled", f"Order {view.order_number}: {view.kind_label.lower()} at "
                f"{where.name if where else '?'} cancelled" + (f" ({note.strip()})" if note and note.strip() else ""),
                who)  # fmt: skip
    if before.kind == "transfer" and before.feeds_id is not None:
        pickup = load(session, before.feeds_id)
        if pickup.status == "awaiting_transfer":
            store = sourcing.sites(session, [pickup.to_location_id])[pickup.to_location_id]
            tell_teams(session, [(store, f"Order {views[0].order_number}: a transfer was cancelled",
                                   "Find stock again for this click-and-collect order, or cancel it.",
                                   pickup.customer_id)])  # fmt: skip
    return views[0]


# -- many at once: upstream cancellations, the uncollected sweep ----------------------------------


def _cancellable() -> Any:
    f = FULFILMENT.c
    return or_(*[and_(f.kind == kind, f.status.in_(statuses)) for kind, statuses in CANCELLABLE.items()])


def cancel_for_orders(session: Session, order_ids: Sequence[int], *, who: AuditActor = audit.SYSTEM) -> int:
    """Orders cancelled upstream: their open fulfilments are cancelled and their stock released; how many.

    A store that had already picked the goods (or put them in the collection area) is told to put
    them back. Transfers already on their way are left to arrive.
    """
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    f = FULFILMENT.c
    before = {r.id: r for r in session.execute(
        select(f.id, f.status).where(one_of(session, f.order_id, ids), _cancellable())
    )}  # fmt: skip
    if not before:
        return 0
    now = clock.now()
    ended = list(session.scalars(
        update(FULFILMENT).where(one_of(session, f.id, sorted(before)), _cancellable())
        .values(status="cancelled", closed_at=now, updated_at=now, note="order cancelled").returning(f.id)
    ))  # fmt: skip
    stock.end(session, active_reservations(session, ended), status="released")
    views = _in_order(session, ended)
    entries: list[dict[str, Any]] = []
    to_tell: list[tuple[Store, str, str, int | None]] = []
    for view in views:
        where = (view.to_location if view.kind == "pickup" else view.from_location) or view.to_location
        entries += entry(view.id, view.customer_id, "cancelled",
                          f"Order {view.order_number} cancelled: {view.kind_label.lower()} at "
                          f"{where.name if where else '?'} stopped", who,
                          location_id=where.id if where else None)  # fmt: skip
        audit.record_by(session, who, "fulfilment.cancelled", customer_id=view.customer_id,
                        detail={"fulfilment": view.id, "order": view.order_id, "kind": view.kind,
                                "was": before[view.id].status, "why": "order cancelled"})  # fmt: skip
        if before[view.id].status in ("picked", "ready") and view.from_location is not None:
            to_tell.append((view.from_location, f"Order {view.order_number} cancelled: put the items back",
                            f"{units_text(view.units)} set aside for {view.client_name} go back on the shelf.",
                            view.customer_id))  # fmt: skip
    timeline.append(session, entries)
    tell_teams(session, to_tell)
    return len(ended)


def release_uncollected(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Pickups ready but not collected by their ``collect_by``: ``not_collected``, their stock back on
    sale, a timeline entry, the store told. Set-based; at most ``limit`` per call (oldest first)."""
    at = now or clock.now()
    f = FULFILMENT.c
    due = list(session.scalars(
        select(f.id).where(f.status == "ready", f.collect_by < at).order_by(f.collect_by, f.id).limit(limit)
    ))  # fmt: skip
    if not due:
        return 0
    stamp = clock.now()
    ended = list(session.scalars(
        update(FULFILMENT).where(one_of(session, f.id, due), f.status == "ready", f.collect_by < at)
        .values(status="not_collected", closed_at=stamp, updated_at=stamp).returning(f.id)
    ))  # fmt: skip
    stock.end(session, active_reservations(session, ended), status="released")
    entries: list[dict[str, Any]] = []
    to_tell: list[tuple[Store, str, str, int | None]] = []
    for view in _in_order(session, ended):
        store = view.to_location
        assert store is not None and view.collect_by is not None
        until = local_day(view.collect_by, store.timezone)
        entries += entry(view.id, view.customer_id, "not_collected",
                          f"Order {view.order_number} not collected at {store.name} by {until}: the items are back on "
                          "sale", audit.SYSTEM, location_id=store.id)  # fmt: skip
        audit.record_by(session, audit.SYSTEM, "fulfilment.not_collected", customer_id=view.customer_id,
                        detail={"fulfilment": view.id, "order": view.order_id, "kind": "pickup"})  # fmt: skip
        to_tell.append((store, f"Order {view.order_number} not collected: put the items back",
                        f"{view.client_name} did not collect by {until}; {units_text(view.units)} are back on sale.",
                        view.customer_id))  # fmt: skip
    timeline.append(session, entries)
    tell_teams(session, to_tell)
    return len(ended)


def _in_order(session: Session, ids: Sequence[int]) -> list[FulfilmentView]:
    """Views in the order of ``ids`` (two statements)."""
    found = fulfilments_by_id(session, ids)
    return [found[i] for i in ids if i in found]
