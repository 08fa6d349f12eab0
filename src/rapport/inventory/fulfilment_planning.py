"""Planning fulfilments: click and collect at a store, parcels to clients (ship from store, endless
aisle), and the transfers that bring a pickup's missing lines to its store.

Which location sends what is decided by :mod:`rapport.inventory.sourcing`; the promise itself is
an allocation per line through :func:`rapport.inventory.stock.reserve`, all or nothing per location.
A plan that cannot be kept in full writes nothing: ingestion records the pickup as unfulfillable
(and tells the store), a person gets :class:`~rapport.inventory.stock.OutOfStock` naming the lines.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.permissions import Actor
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine
from rapport.customers import timeline
from rapport.db import one_of, table_of
from rapport.errors import Conflict, InvalidRecord, NotFound, PermissionDenied
from rapport.inventory import sourcing, stock
from rapport.inventory.fulfilment_notices import entry, tell_teams, units_text
from rapport.inventory.fulfilment_views import (
    FULFILMENT,
    KIND_LABELS,
    LINE,
    TRANSFER_LIVE,
    FulfilmentView,
    can_create,
    fulfilments_of_order,
)
from rapport.inventory.models import Reservation
from rapport.inventory.sourcing import DEFAULT_RULES, Need, Site, SourcingRules

log = logging.getLogger(__name__)

RESERVATION = table_of(Reservation)
ORDER = table_of(Order)
ORDER_LINE = table_of(OrderLine)
PRODUCT = table_of(Product)
#: A fulfilment in one of these does not stop the order being fulfilled again.
SETTLED = ("cancelled", "not_collected", "unfulfillable")


class Nowhere(stock.OutOfStock):
    """No location can promise a line: not a race worth retrying."""


# -- what the writes read --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFacts:
    id: int
    number: str
    customer_id: int | None
    status: str
    location_id: int | None
    needs: tuple[Need, ...]
    skus: dict[int, str] = field(default_factory=dict)


def load_orders(session: Session, ids: Sequence[int]) -> dict[int, OrderFacts]:
    """Orders with their lines, in two statements."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    o, ol, p = ORDER.c, ORDER_LINE.c, PRODUCT.c
    needs: dict[int, list[Need]] = defaultdict(list)
    skus: dict[int, dict[int, str]] = defaultdict(dict)
    for r in session.execute(
        select(ol.id, ol.order_id, ol.product_id, ol.quantity, p.sku)
        .join(PRODUCT, p.id == ol.product_id)
        .where(one_of(session, ol.order_id, wanted))
        .order_by(ol.order_id, ol.id)
    ):
        if r.quantity > 0:
            needs[r.order_id].append(Need(r.id, r.product_id, r.quantity))
        skus[r.order_id][r.product_id] = r.sku
    return {
        r.id: OrderFacts(
            r.id,
            r.order_number or r.external_id,
            r.customer_id,
            r.status,
            r.location_id,
            tuple(needs[r.id]),
            skus[r.id],
        )
        for r in session.execute(
            select(o.id, o.order_number, o.external_id, o.customer_id, o.status, o.location_id).where(
                one_of(session, o.id, wanted)
            )
        )
    }


def load_order(session: Session, order_id: int) -> OrderFacts:
    found = load_orders(session, [order_id]).get(order_id)
    if found is None:
        raise NotFound(f"order {order_id} not found")
    return found


def load(session: Session, fulfilment_id: int) -> Any:
    row = session.execute(select(FULFILMENT).where(FULFILMENT.c.id == fulfilment_id)).first()
    if row is None:
        raise NotFound(f"fulfilment {fulfilment_id} not found")
    return row


def active_reservations(session: Session, fulfilment_ids: Sequence[int]) -> list[int]:
    if not fulfilment_ids:
        return []
    r = RESERVATION.c
    return list(
        session.scalars(
            select(r.id).where(one_of(session, r.fulfilment_id, list(fulfilment_ids)), r.status == "active")
        )
    )


def shortfall(session: Session, pickup_id: int) -> tuple[list[Need], int]:
    """What a pickup still lacks at its store (neither allocated there nor on its way), and how
    many units are on their way."""
    r = RESERVATION.c
    feeder = FULFILMENT.alias("feeder")
    lines = session.execute(
        select(LINE.c.order_line_id, LINE.c.product_id, LINE.c.quantity)
        .where(LINE.c.fulfilment_id == pickup_id)
        .order_by(LINE.c.id)
    ).all()
    held: dict[int, int] = {
        line: int(q)
        for line, q in session.execute(
            select(r.order_line_id, func.sum(r.quantity))
            .where(r.fulfilment_id == pickup_id, r.status == "active")
            .group_by(r.order_line_id)
        )
    }
    coming: dict[int, int] = {
        line: int(q)
        for line, q in session.execute(
            select(LINE.c.order_line_id, func.sum(LINE.c.quantity))
            .join(feeder, feeder.c.id == LINE.c.fulfilment_id)
            .where(feeder.c.feeds_id == pickup_id, feeder.c.status.in_(TRANSFER_LIVE))
            .group_by(LINE.c.order_line_id)
        )
    }
    missing = []
    for line in lines:
        short = line.quantity - held.get(line.order_line_id, 0) - coming.get(line.order_line_id, 0)
        if short > 0:
            missing.append(Need(line.order_line_id, line.product_id, short))
    return missing, sum(coming.values())


# -- planning: pickups, shipments, transfers -------------------------------------------------------


@dataclass
class _Planned:
    pickup_id: int
    status: str
    here: list[Need]
    transfers: list[tuple[int, Site, list[Need]]]


def _insert(
    session: Session,
    order: OrderFacts,
    *,
    kind: str,
    status: str,
    from_id: int | None,
    to_id: int | None,
    needs: Sequence[Need],
    feeds_id: int | None = None,
    associate_id: int | None = None,
    note: str | None = None,
) -> int:
    now = clock.now()
    fid: int = session.execute(
        insert(FULFILMENT)
        .values(
            order_id=order.id, customer_id=order.customer_id, kind=kind, status=status, from_location_id=from_id,
            to_location_id=to_id, feeds_id=feeds_id, associate_id=associate_id, note=note[:500] if note else None,
            created_at=now, updated_at=now,
        )
        .returning(FULFILMENT.c.id)
    ).scalar_one()  # fmt: skip
    if needs:
        session.execute(
            insert(LINE),
            [{"fulfilment_id": fid, "order_line_id": n.order_line_id, "product_id": n.product_id,
              "quantity": n.quantity} for n in needs],
        )  # fmt: skip
    return fid


def allocate(
    session: Session, order: OrderFacts, needs: Sequence[Need], site: Site, fulfilment_id: int, associate_id: int | None
) -> None:
    """Promise the lines at the site for the fulfilment (all or nothing; OutOfStock names the short ones)."""
    if not needs:
        return
    stock.reserve(
        session,
        [stock.Want(n.product_id, site.id, n.quantity) for n in needs],
        kind="allocation",
        customer_id=order.customer_id,
        associate_id=associate_id,
        order_line_ids=[n.order_line_id for n in needs],
        fulfilment_id=fulfilment_id,
        labels={(n.product_id, site.id): f"{order.skus.get(n.product_id, n.product_id)} at {site.name}" for n in needs},
    )


def _nowhere(
    order: OrderFacts, unplaced: Sequence[Need], best: dict[int, int], where: Site | None, what: str
) -> Nowhere:
    lid = where.id if where else 0
    return Nowhere(
        [stock.Shortage(n.product_id, lid, n.quantity, best.get(n.product_id, 0)) for n in unplaced],
        {(n.product_id, lid): f"{order.skus.get(n.product_id, n.product_id)} {what}" for n in unplaced},
    )


def _plan_pickup(
    session: Session,
    order: OrderFacts,
    store: Site,
    every: dict[int, Site],
    rules: SourcingRules,
    *,
    pickup_id: int | None = None,
    associate_id: int | None = None,
) -> _Planned:
    """Allocate at the store what it can promise, and transfer the rest from the best other locations.

    Raises OutOfStock (a :class:`Nowhere` when no location can promise a line) and leaves the
    caller to roll back. ``pickup_id``: plan again what an existing pickup still lacks.
    """
    needs = list(order.needs) if pickup_id is None else shortfall(session, pickup_id)[0]
    atp = stock.available(session, [(n.product_id, store.id) for n in needs])
    here = sourcing.coverable(needs, {p: units for (p, _), units in atp.items()})
    taken = {id(n) for n in here}
    missing = [n for n in needs if id(n) not in taken]
    plan = sourcing.source(
        session, missing, to_client=False, destination=store, exclude=[store.id], rules=rules, known_sites=every
    )
    if plan.unplaced:
        best = {n.product_id: max(plan.best_available.get(n.product_id, 0), atp.get((n.product_id, store.id), 0))
                for n in plan.unplaced}  # fmt: skip
        raise _nowhere(order, plan.unplaced, best, store, f"at {store.name} or any one other location")
    status = "awaiting_transfer" if plan.parcels else "allocated"
    if pickup_id is None:
        pickup_id = _insert(session, order, kind="pickup", status=status, from_id=store.id, to_id=store.id,
                            needs=needs, associate_id=associate_id)  # fmt: skip
    elif not plan.parcels and shortfall(session, pickup_id)[1]:
        status = "awaiting_transfer"  # other transfers are still on their way
    allocate(session, order, here, store, pickup_id, associate_id)
    transfers = []
    for parcel in plan.parcels:
        tid = _insert(session, order, kind="transfer", status="allocated", from_id=parcel.site.id, to_id=store.id,
                      needs=parcel.needs, feeds_id=pickup_id, associate_id=associate_id)  # fmt: skip
        allocate(session, order, parcel.needs, parcel.site, tid, associate_id)
        transfers.append((tid, parcel.site, parcel.needs))
    return _Planned(pickup_id, status, here, transfers)


def _announce(session: Session, order: OrderFacts, store: Site, planned: _Planned, who: AuditActor) -> None:
    """The timeline entries and audit rows of a planned pickup (and its transfers); the team told if unfulfillable."""
    units = sum(n.quantity for n in order.needs)
    if planned.status == "allocated":
        summary = f"Order {order.number}: {units_text(units)} put aside for collection at {store.name}"
    elif planned.status == "awaiting_transfer":
        sources = ", ".join(dict.fromkeys(site.name for _, site, _ in planned.transfers)) or "another location"
        summary = f"Order {order.number}: coming to {store.name} from {sources} for collection"
    else:
        summary = f"Order {order.number}: no stock anywhere for collection at {store.name}; the store team was told"
    entries = entry(planned.pickup_id, order.customer_id, "planned", summary, who, location_id=store.id,
                     data={"outcome": planned.status, "store": store.code})  # fmt: skip
    for tid, site, needs in planned.transfers:
        entries += entry(
            tid, order.customer_id, "planned",
            f"Order {order.number}: {units_text(sum(n.quantity for n in needs))} to send from {site.name} "
            f"to {store.name}",
            who, location_id=site.id, data={"from": site.code, "to": store.code},
        )  # fmt: skip
    timeline.append(session, entries)
    audit.record_by(
        session, who, "fulfilment.planned", customer_id=order.customer_id,
        detail={"fulfilment": planned.pickup_id, "order": order.id, "kind": "pickup", "outcome": planned.status,
                "store": store.code, "transfers": [t[0] for t in planned.transfers]},
    )  # fmt: skip
    if planned.status == "unfulfillable":
        tell_teams(session, [(store, f"Order {order.number}: no stock for collection",
                               "No location can promise every item of this click-and-collect order. Call the client, "
                               "then find stock again or cancel it.", order.customer_id)])  # fmt: skip


def plan_pickups(
    session: Session, orders: Sequence[tuple[int, int]], *, rules: SourcingRules = DEFAULT_RULES
) -> list[int]:
    """Plan newly ingested click-and-collect orders, each ``(order id, pickup store id)``; the pickups' ids.

    Every line the store can promise is allocated there; what it cannot is transferred from the best
    other locations (:mod:`rapport.inventory.sourcing`) and the pickup waits for them
    (``awaiting_transfer``). When a line can be promised nowhere the pickup is ``unfulfillable``,
    promises nothing, and the store team is told. Never raises OutOfStock — ingestion keeps the
    order. An order that already has fulfilments (a replay), is cancelled or unknown is skipped.
    """
    wanted = list(dict.fromkeys(orders))
    if not wanted:
        return []
    f = FULFILMENT.c
    order_ids = sorted({o for o, _ in wanted})
    seen = set(session.scalars(select(f.order_id).where(one_of(session, f.order_id, order_ids)).distinct()))
    facts = load_orders(session, [o for o in order_ids if o not in seen])
    every = sourcing.sites(session)
    created = []
    for order_id, store_id in wanted:
        order, store = facts.get(order_id), every.get(store_id)
        if order_id in seen or order is None or order.status == "cancelled" or not order.needs:
            continue
        if store is None:
            log.warning("order %s: pickup store %s unknown; not planned", order_id, store_id)
            continue
        seen.add(order_id)
        planned = _plan_or_give_up(session, order, store, every, rules)
        _announce(session, order, store, planned, audit.SYSTEM)
        created.append(planned.pickup_id)
    return created


def _plan_or_give_up(
    session: Session, order: OrderFacts, store: Site, every: dict[int, Site], rules: SourcingRules
) -> _Planned:
    shortage: stock.OutOfStock | None = None
    for _attempt in range(2):  # a second try only when another writer took the stock meanwhile
        try:
            with session.begin_nested():
                return _plan_pickup(session, order, store, every, rules)
        except Nowhere as exc:
            shortage = exc
            break
        except stock.OutOfStock as exc:
            shortage = exc
    pid = _insert(session, order, kind="pickup", status="unfulfillable", from_id=None, to_id=store.id,
                  needs=order.needs, note=shortage.message if shortage else None)  # fmt: skip
    return _Planned(pid, "unfulfillable", [], [])


def _existing(session: Session, order: OrderFacts, *, store_id: int | None) -> Any:
    """Refuse an order already being fulfilled; the pickup to plan again at this store, if any.

    Unfulfillable pickups elsewhere are cancelled (this plan replaces them).
    """
    f = FULFILMENT.c
    rows = session.execute(
        select(f.id, f.kind, f.status, f.to_location_id).where(f.order_id == order.id, f.kind != "transfer")
    ).all()
    again = None
    stale = []
    for row in rows:
        stranded = row.status == "awaiting_transfer" and not shortfall(session, row.id)[1]
        if row.kind == "pickup" and row.to_location_id == store_id and (row.status == "unfulfillable" or stranded):
            again = row
        elif row.status == "unfulfillable":
            stale.append(row.id)
        elif row.status not in SETTLED:
            label = KIND_LABELS.get(row.kind, row.kind).lower()
            raise Conflict(f"order {order.number} is already being fulfilled: {label} {row.id} is {row.status}")
    if stale:
        now = clock.now()
        session.execute(
            update(FULFILMENT).where(f.id.in_(stale), f.status == "unfulfillable")
            .values(status="cancelled", closed_at=now, updated_at=now, note="replaced by a new plan")
        )  # fmt: skip
    return again


def allocate_pickup(
    session: Session,
    order_id: int,
    store_id: int,
    *,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
    associate_id: int | None = None,
    rules: SourcingRules = DEFAULT_RULES,
) -> list[FulfilmentView]:
    """Arrange (or try again) the collection of an order at a store; the order's fulfilments.

    As :func:`plan_pickups`, but refusing with clear errors: the order unknown (NotFound), the store
    unknown or not taking pickups (InvalidRecord naming ``store``), the order cancelled or already
    being fulfilled (Conflict), a line no location can promise (OutOfStock, nothing written). A
    pickup at this store that was unfulfillable, or whose transfer was cancelled, is planned again.
    """
    order = load_order(session, order_id)
    every = sourcing.sites(session)
    store = every.get(store_id)
    if store is None:
        raise InvalidRecord.one("store", f"unknown store {store_id}")
    if store.kind != "store" or not store.accepts_pickup:
        raise InvalidRecord.one("store", f"{store.name} does not take click-and-collect orders")
    if actor is not None and not can_create(actor):
        raise PermissionDenied("you may not arrange fulfilments")
    if order.status == "cancelled":
        raise Conflict(f"order {order.number} is cancelled")
    if not order.needs:
        raise Conflict(f"order {order.number} has nothing to collect")
    with session.begin_nested():  # all or nothing, even for a caller that goes on after a refusal
        again = _existing(session, order, store_id=store.id)
        if again is None:
            planned = _plan_pickup(session, order, store, every, rules, associate_id=associate_id)
        else:
            planned = _plan_pickup(session, order, store, every, rules, pickup_id=again.id, associate_id=associate_id)
            f = FULFILMENT.c
            moved = session.execute(
                update(FULFILMENT).where(f.id == again.id, f.status == again.status)
                .values(status=planned.status, from_location_id=store.id, note=None, updated_at=clock.now())
                .returning(f.id)
            ).first()  # fmt: skip
            if moved is None:
                raise Conflict(f"fulfilment {again.id} changed meanwhile: reload and try again")
    _announce(session, order, store, planned, who)
    return fulfilments_of_order(session, order_id)


def source_order(
    session: Session,
    order_id: int,
    *,
    ship_to: str | int = "client",
    taken_at: int | None = None,
    associate_id: int | None = None,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
    rules: SourcingRules = DEFAULT_RULES,
) -> list[FulfilmentView]:
    """Endless aisle and ship from store: send an order from wherever the rules say; its fulfilments.

    ``ship_to="client"``: one ``ship_to_client`` fulfilment per sending location (one for the
    whole order whenever one location can), among the locations that ship online orders, nearest
    ``taken_at`` (default: the store the order was taken at). ``ship_to=<store id>``: collected at
    that store (:func:`allocate_pickup`). Refused with OutOfStock, nothing written, when a line can
    be promised by no location.
    """
    if ship_to != "client":
        if not isinstance(ship_to, int):
            raise InvalidRecord.one("ship_to", "'client' or a store")
        return allocate_pickup(session, order_id, ship_to, actor=actor, who=who, associate_id=associate_id, rules=rules)
    order = load_order(session, order_id)
    every = sourcing.sites(session)
    origin_id = taken_at if taken_at is not None else order.location_id
    origin = every.get(origin_id) if origin_id is not None else None
    if taken_at is not None and origin is None:
        raise InvalidRecord.one("taken_at", f"unknown location {taken_at}")
    if actor is not None and not can_create(actor):
        raise PermissionDenied("you may not arrange fulfilments")
    if order.status == "cancelled":
        raise Conflict(f"order {order.number} is cancelled")
    if not order.needs:
        raise Conflict(f"order {order.number} has nothing to send")
    with session.begin_nested():  # all or nothing, even for a caller that goes on after a refusal
        _existing(session, order, store_id=None)
        plan = sourcing.source(session, order.needs, to_client=True, destination=origin, rules=rules,
                               known_sites=every)  # fmt: skip
        if plan.unplaced:
            where = "at any one location that ships to clients"
            raise _nowhere(order, plan.unplaced, plan.best_available, origin, where)
        created = []
        for parcel in plan.parcels:
            fid = _insert(session, order, kind="ship_to_client", status="allocated", from_id=parcel.site.id,
                          to_id=None, needs=parcel.needs, associate_id=associate_id)  # fmt: skip
            allocate(session, order, parcel.needs, parcel.site, fid, associate_id)
            created.append((fid, parcel))
    for fid, parcel in created:
        units = sum(n.quantity for n in parcel.needs)
        timeline.append(session, entry(
            fid, order.customer_id, "planned",
            f"Order {order.number}: {units_text(units)} to ship from {parcel.site.name}", who,
            location_id=parcel.site.id, data={"from": parcel.site.code},
        ))  # fmt: skip
        audit.record_by(
            session, who, "fulfilment.planned", customer_id=order.customer_id,
            detail={"fulfilment": fid, "order": order.id, "kind": "ship_to_client", "from": parcel.site.code},
        )  # fmt: skip
    return fulfilments_of_order(session, order_id)
