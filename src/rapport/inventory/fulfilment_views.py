"""What the store team and the API read about fulfilments — a location's queues, its pick list, an
order's parcels — and who may act on what they read.

Every read is two statements whatever the number of fulfilments — the fulfilments with their
order, client and locations, then their lines with the products — so a busy store's screen costs
what a quiet one does. Lists are bounded (:data:`MAX_ROWS`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock
from rapport.associates.permissions import ADMIN, ASSOCIATE, ROLE_LABELS, STORE_MANAGER, Actor
from rapport.catalog.models import Product
from rapport.commerce.models import Order
from rapport.customers.models import Customer
from rapport.db import one_of, table_of
from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.models import FULFILMENT_STATUSES, Fulfilment, FulfilmentLine, Location

FULFILMENT = table_of(Fulfilment)
LINE = table_of(FulfilmentLine)
ORDER = table_of(Order)
CUSTOMER = table_of(Customer)
PRODUCT = table_of(Product)
LOCATION = table_of(Location)

MAX_ROWS = 200
#: The fulfilment screen's sections, in the order the team works through them.
STATUS_GROUPS = ("to_pick", "to_hand_over", "to_receive", "overdue", "attention")
GROUP_LABELS = {
    "to_pick": "To pick",
    "to_hand_over": "Ready for collection",
    "to_receive": "To receive",
    "overdue": "Overdue",
    "attention": "Needs attention",
}
KIND_LABELS = {"pickup": "Click and collect", "ship_to_client": "Ship to client", "transfer": "Transfer"}
STATUS_LABELS = {
    "awaiting_transfer": "Waiting for a transfer", "allocated": "To pick", "picked": "Picked",
    "ready": "Ready for collection", "collected": "Collected", "not_collected": "Not collected",
    "shipped": "Shipped", "received": "Received", "cancelled": "Cancelled", "unfulfillable": "No stock anywhere",
}  # fmt: skip
#: Still promising stock or still to be acted on, per kind.
OPEN: dict[str, tuple[str, ...]] = {
    "pickup": ("awaiting_transfer", "allocated", "picked", "ready"),
    "ship_to_client": ("allocated", "picked"),
    "transfer": ("allocated", "picked", "shipped"),
}
#: A transfer still on its way (not yet received, not cancelled).
TRANSFER_LIVE = OPEN["transfer"]
#: The people of a store who pick, hand over and receive.
STAFF_ROLES = (ASSOCIATE, STORE_MANAGER)


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str
    timezone: str


@dataclass(frozen=True)
class LineView:
    order_line_id: int
    product_id: int
    sku: str
    name: str
    size: str | None
    colour: str | None
    quantity: int


@dataclass
class FulfilmentView:
    id: int
    order_id: int
    order_number: str
    kind: str
    status: str
    customer_id: int | None
    client_name: str
    from_location: Place | None
    to_location: Place | None
    feeds_id: int | None
    associate_id: int | None
    tracking: str | None
    note: str | None
    picked_at: datetime | None
    ready_at: datetime | None
    collect_by: datetime | None
    shipped_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    lines: list[LineView] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN.get(self.kind, ())

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def overdue(self, now: datetime | None = None) -> bool:
        at = now or clock.now()
        return self.status == "ready" and self.collect_by is not None and self.collect_by < at


@dataclass(frozen=True)
class PickLine:
    """One line of the pick list: what to take off the shelf, for whom, since when."""

    fulfilment_id: int
    kind: str
    order_number: str
    client_name: str
    sku: str
    name: str
    size: str | None
    colour: str | None
    quantity: int
    #: For a transfer or a pickup: the store the goods go to; empty when shipped to the client.
    destination: str
    since: datetime
    age: timedelta


def client_name(customer_id: int | None, first: str | None, last: str | None) -> str:
    if customer_id is None:
        return "Guest"
    return " ".join(p for p in (first, last) if p) or f"Client #{customer_id}"


def _query() -> Any:
    f, o, c = FULFILMENT, ORDER, CUSTOMER
    src, dst = LOCATION.alias("src"), LOCATION.alias("dst")
    return select(
        f,
        o.c.order_number,
        o.c.external_id.label("order_ref"),
        c.c.first_name,
        c.c.last_name,
        src.c.code.label("src_code"), src.c.name.label("src_name"), src.c.timezone.label("src_tz"),
        dst.c.code.label("dst_code"), dst.c.name.label("dst_name"), dst.c.timezone.label("dst_tz"),
    ).select_from(
        f.join(o, o.c.id == f.c.order_id)
        .outerjoin(c, c.c.id == f.c.customer_id)
        .outerjoin(src, src.c.id == f.c.from_location_id)
        .outerjoin(dst, dst.c.id == f.c.to_location_id)
    )  # fmt: skip


def _views(session: Session, rows: Sequence[Any]) -> list[FulfilmentView]:
    views = [
        FulfilmentView(
            id=r.id, order_id=r.order_id, order_number=r.order_number or r.order_ref, kind=r.kind, status=r.status,
            customer_id=r.customer_id, client_name=client_name(r.customer_id, r.first_name, r.last_name),
            from_location=Place(r.from_location_id, r.src_code, r.src_name, r.src_tz or "UTC")
            if r.from_location_id is not None else None,
            to_location=Place(r.to_location_id, r.dst_code, r.dst_name, r.dst_tz or "UTC")
            if r.to_location_id is not None else None,
            feeds_id=r.feeds_id, associate_id=r.associate_id, tracking=r.tracking, note=r.note,
            picked_at=r.picked_at, ready_at=r.ready_at, collect_by=r.collect_by, shipped_at=r.shipped_at,
            closed_at=r.closed_at, created_at=r.created_at, updated_at=r.updated_at,
        )
        for r in rows
    ]  # fmt: skip
    if not views:
        return views
    lines: dict[int, list[LineView]] = defaultdict(list)
    p = PRODUCT.c
    for r in session.execute(
        select(LINE.c.fulfilment_id, LINE.c.order_line_id, LINE.c.product_id, LINE.c.quantity, p.sku, p.name, p.size,
               p.colour)
        .join(PRODUCT, p.id == LINE.c.product_id)
        .where(one_of(session, LINE.c.fulfilment_id, [v.id for v in views]))
        .order_by(LINE.c.fulfilment_id, LINE.c.id)
    ):  # fmt: skip
        lines[r.fulfilment_id].append(
            LineView(r.order_line_id, r.product_id, r.sku, r.name, r.size, r.colour, r.quantity)
        )
    for v in views:
        v.lines = lines[v.id]
    return views


def get_fulfilment(session: Session, fulfilment_id: int) -> FulfilmentView:
    rows = session.execute(_query().where(FULFILMENT.c.id == fulfilment_id)).all()
    if not rows:
        raise NotFound(f"fulfilment {fulfilment_id} not found")
    return _views(session, rows)[0]


def fulfilments_by_id(session: Session, ids: Sequence[int]) -> dict[int, FulfilmentView]:
    if not ids:
        return {}
    rows = session.execute(_query().where(one_of(session, FULFILMENT.c.id, sorted(set(ids))))).all()
    return {v.id: v for v in _views(session, rows)}


def fulfilments_of_order(session: Session, order_id: int) -> list[FulfilmentView]:
    """Every fulfilment of an order, oldest first (a pickup before the transfers that feed it)."""
    if session.execute(select(ORDER.c.id).where(ORDER.c.id == order_id)).first() is None:
        raise NotFound(f"order {order_id} not found")
    rows = session.execute(_query().where(FULFILMENT.c.order_id == order_id).order_by(FULFILMENT.c.id)).all()
    return _views(session, rows)


def _group_condition(location_id: int, group: str, now: datetime) -> tuple[ColumnElement[bool], Any]:
    f = FULFILMENT.c
    if group == "to_pick":
        return and_(f.from_location_id == location_id, f.status.in_(("allocated", "picked"))), f.updated_at
    if group == "to_hand_over":
        return and_(f.kind == "pickup", f.to_location_id == location_id, f.status == "ready", f.collect_by >= now), (
            f.ready_at
        )
    if group == "to_receive":
        return and_(f.kind == "transfer", f.to_location_id == location_id, f.status.in_(TRANSFER_LIVE)), f.created_at
    if group == "overdue":
        return and_(f.kind == "pickup", f.to_location_id == location_id, f.status == "ready", f.collect_by < now), (
            f.collect_by
        )
    if group == "attention":
        feeder = FULFILMENT.alias("feeder")
        stranded = and_(
            f.status == "awaiting_transfer",
            ~exists().where(feeder.c.feeds_id == f.id, feeder.c.status.in_(TRANSFER_LIVE)),
        )
        condition = and_(
            f.kind == "pickup", f.to_location_id == location_id, or_(f.status == "unfulfillable", stranded)
        )
        return condition, f.updated_at
    if group in FULFILMENT_STATUSES:
        return and_(or_(f.from_location_id == location_id, f.to_location_id == location_id), f.status == group), (
            f.updated_at
        )
    known = ", ".join((*STATUS_GROUPS, *FULFILMENT_STATUSES))
    raise InvalidRecord.one("status", f"unknown status or group {group!r}; one of {known}")


def fulfilments_at(
    session: Session, location_id: int, status_group: str, *, now: datetime | None = None, limit: int = MAX_ROWS
) -> list[FulfilmentView]:
    """One section of a location's screen, oldest first: ``to_pick`` (allocated or picked there),
    ``to_hand_over`` (pickups ready, still within their collection time), ``to_receive`` (transfers on
    their way in), ``overdue`` (ready pickups past their collection time, not yet released),
    ``attention`` (pickups nobody could source, or whose transfer was cancelled) — or one raw status."""
    at = now or clock.now()
    condition, order_by = _group_condition(location_id, status_group, at)
    rows = session.execute(
        _query().where(condition).order_by(order_by, FULFILMENT.c.id).limit(max(1, min(limit, MAX_ROWS)))
    ).all()
    return _views(session, rows)


def screen(session: Session, location_id: int, *, now: datetime | None = None) -> dict[str, list[FulfilmentView]]:
    """Every section of the screen (two statements per section)."""
    at = now or clock.now()
    return {group: fulfilments_at(session, location_id, group, now=at) for group in STATUS_GROUPS}


def pick_list(session: Session, location_id: int, *, now: datetime | None = None) -> list[PickLine]:
    """What the location must take off its shelves now — pickups, parcels to clients and outgoing
    transfers allocated there — one line per SKU, oldest first."""
    at = now or clock.now()
    f = FULFILMENT.c
    rows = session.execute(
        _query().where(f.from_location_id == location_id, f.status == "allocated").order_by(f.updated_at, f.id)
        .limit(MAX_ROWS)
    ).all()  # fmt: skip
    out = []
    for v in _views(session, rows):
        destination = v.to_location.name if v.to_location is not None else ""
        for line in v.lines:
            out.append(
                PickLine(
                    v.id, v.kind, v.order_number, v.client_name, line.sku, line.name, line.size, line.colour,
                    line.quantity, destination, v.updated_at, at - v.updated_at,
                )
            )  # fmt: skip
    return out


# -- who may ---------------------------------------------------------------------------------------


def can_act(actor: Actor, from_id: int | None, to_id: int | None) -> bool:
    """Pick, hand over, ship, receive: the team of a store the goods leave or reach; head office;
    tokens with ``write`` or ``ingest``."""
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    if actor.role == ADMIN:
        return True
    return actor.role in STAFF_ROLES and bool({from_id, to_id} & actor.store_ids)


def can_cancel(actor: Actor, from_id: int | None, to_id: int | None) -> bool:
    """Cancelling gives a client's goods back to the shelf: managers of the stores and head office."""
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    if actor.role == ADMIN:
        return True
    return actor.role == STORE_MANAGER and bool({from_id, to_id} & actor.store_ids)


def can_create(actor: Actor) -> bool:
    """Any associate may arrange a pickup or order from elsewhere for a client (endless aisle)."""
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    return actor.role in ROLE_LABELS


def can_read(actor: Actor) -> bool:
    """Any associate reads fulfilments (a client walking in anywhere asks where their order is);
    tokens with ``read``."""
    if not actor.is_associate:
        return "read" in actor.scopes
    return actor.role in ROLE_LABELS
