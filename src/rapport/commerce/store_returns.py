"""Returns taken in store: find what the client bought — online or in any store — and take it back.

The associate types what the client gives them: the order number from the confirmation email, or
the email address or phone number the order was placed with. :func:`find_orders` answers with the
recent orders that match, line by line with what is left to return. :func:`return_in_store` then
records the return through ingestion's own :func:`~rapport.ingest.commerce.record_returns` (which
links each line to the line bought, refuses more than was bought and writes the client's timeline
entry), so a return taken at the counter is the same fact as one sent by the web shop: it counts in
the client's KPIs, net spend and return rate at once. It is recorded with the *original* order's
channel ("online") and the store it came back to; units that can be sold again go back on that
store's shelf through :func:`rapport.inventory.stock.adjust` (a back-in-stock signal follows when
the store had none), damaged ones are recorded and left out of stock.

One unit of work: the return, its lines, the timeline entry, the restock and the audit row are
written together or not at all. The order row is locked first (PostgreSQL), so two associates
returning the last unit of a line at once cannot both succeed, and a form submitted twice with the
same idempotency key records one return.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock, events
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.associates.permissions import ADMIN, Actor
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.commerce.order_lookup import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY,
    MIN_QUERY,
    OrderForReturn,
    ReturnableLine,
    client_name,
    find_orders,
    get_order,
    phone_region,
)
from rapport.customers.models import Customer
from rapport.db import one_of, table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.identity.models import Identifier
from rapport.ingest.commerce import record_returns
from rapport.ingest.records import ReturnLineIn, ReturnRecord
from rapport.inventory import stock
from rapport.inventory.models import Location, StockMovement
from rapport.money import format_money, from_minor

ORDER, ORDER_LINE, RETURN, RETURN_LINE = table_of(Order), table_of(OrderLine), table_of(Return), table_of(ReturnLine)
PRODUCT, CUSTOMER, IDENTIFIER = table_of(Product), table_of(Customer), table_of(Identifier)
LOCATION, MOVEMENT = table_of(Location), table_of(StockMovement)

#: The source of returns taken in Rapport's own screens (and of their restock movements).
SOURCE = "rapport"
RECORDED = "return.recorded"
MAX_LINES = 100
MAX_UNITS = 10_000
REASON_MAX = 500
_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,100}")


# -- what the screens show --------------------------------------------------------------------------


@dataclass
class ReceiptLine:
    id: int
    order_line_id: int | None
    sku: str | None
    name: str
    size: str | None
    colour: str | None
    quantity: int
    refund_minor: int
    refund: str
    #: Back on the store's shelf (True), kept out as damaged (False); None for a return not taken in Rapport.
    restocked: bool | None

    @property
    def condition(self) -> str:
        if self.restocked is None:
            return ""
        return "back in stock" if self.restocked else "damaged — not restocked"


@dataclass
class ReturnReceipt:
    id: int
    #: False when the same request came again (same idempotency key): nothing new was recorded.
    created: bool
    order_id: int | None
    order_number: str | None
    #: The channel the goods were bought on (the return is recorded against it).
    channel: str
    store_id: int | None
    store_code: str | None
    store_name: str | None
    customer_id: int | None
    client_name: str | None
    currency: str
    refund_minor: int
    refund: str
    reason: str | None
    returned_at: datetime
    lines: list[ReceiptLine] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class StoreChoice:
    id: int
    code: str
    name: str
    country: str


@dataclass(frozen=True)
class LineIn:
    """One line of a return as the counter sends it."""

    order_line_id: int
    quantity: int
    sellable: bool = True


# -- who may take a return where -----------------------------------------------------------------------


def may_take_returns_at(actor: Actor, store_id: int) -> bool:
    """An associate or manager at their own stores; head office anywhere; an integration with ``write``."""
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    return actor.role == ADMIN or store_id in actor.store_ids


def require_return_at(actor: Actor, store: StoreChoice) -> None:
    if not may_take_returns_at(actor, store.id):
        if not actor.is_associate:
            raise PermissionDenied("taking a return needs the 'write' scope")
        raise PermissionDenied(f"returns are taken at your own stores: {store.name} is not one of them")


def stores_for(session: Session, actor: Actor) -> list[StoreChoice]:
    """The stores this actor may take returns at, by name (head office: every store)."""
    loc = LOCATION.c
    stmt = select(loc.id, loc.code, loc.name, loc.country).where(loc.kind == "store").order_by(loc.name)
    if actor.is_associate and actor.role != ADMIN:
        if not actor.store_ids:
            return []
        stmt = stmt.where(loc.id.in_(sorted(actor.store_ids)))
    return [StoreChoice(r.id, r.code, r.name, r.country) for r in session.execute(stmt)]


def store_by_code(session: Session, code: str) -> StoreChoice:
    """A store by its code; InvalidRecord naming ``store`` when there is none (or it is a warehouse)."""
    return _store(session, LOCATION.c.code == code.strip(), code)


def _store(session: Session, condition: Any, label: object) -> StoreChoice:
    loc = LOCATION.c
    row = session.execute(select(loc.id, loc.code, loc.name, loc.country, loc.kind).where(condition)).first()
    if row is None:
        raise InvalidRecord.one("store", f"unknown store {label!r}")
    if row.kind != "store":
        raise InvalidRecord.one("store", f"{row.name} is a {row.kind}: returns in store are taken at stores")
    return StoreChoice(row.id, row.code, row.name, row.country)


# -- taking it back --------------------------------------------------------------------------------------


def return_in_store(
    session: Session,
    *,
    order_id: int,
    store_id: int,
    lines: Sequence[LineIn | tuple[int, int, bool]],
    reason: str,
    associate_id: int | None,
    refund_override: Sequence[int | None] | None = None,
    idempotency_key: str | None = None,
    actor: Actor | None = None,
    who: AuditActor = audit.SYSTEM,
) -> ReturnReceipt:
    """Record the return of ``lines`` (order line id, units, can be sold again) of an order at a store.

    ``refund_override``: per line, a refund in minor units below what was paid (None: what was paid).
    ``actor``: checked against :func:`may_take_returns_at` (None: a trusted caller). The same
    ``idempotency_key`` again answers with the return already recorded (``created`` False).
    Raises InvalidRecord naming the field (``lines.0.quantity: only 1 left to return``) with
    nothing written — the caller's unit of work rolls back.
    """
    key = _checked_key(idempotency_key)
    order = _locked_order(session, order_id)
    store = _store(session, LOCATION.c.id == store_id, store_id)
    if actor is not None:
        require_return_at(actor, store)
    if key is not None:
        again = session.execute(
            select(RETURN.c.id, RETURN.c.order_id).where(RETURN.c.source == SOURCE, RETURN.c.external_id == key)
        ).first()
        if again is not None:
            if again.order_id != order.id:
                raise Conflict("this idempotency key was already used for the return of another order")
            return get_return(session, again.id, created=False)

    wanted = [x if isinstance(x, LineIn) else LineIn(*x) for x in lines]
    shown = get_order(session, order.id)
    by_id = {line.id: line for line in shown.lines}
    reason_text = _checked(wanted, shown, by_id, reason, refund_override)
    record = ReturnRecord(
        source=SOURCE,
        id=key or f"store-{uuid.uuid4().hex}",
        order_id=order.external_id,
        order_source=order.source,
        channel=order.channel,
        store=store.code,
        currency=order.currency,
        returned_at=clock.now(),
        reason=reason_text,
        associate=_associate_code(session, associate_id),
        lines=[
            ReturnLineIn(
                order_line=by_id[x.order_line_id].line_ref,
                sku=by_id[x.order_line_id].sku,
                quantity=x.quantity,
                refund=_override(refund_override, n, order.currency),
            )
            for n, x in enumerate(wanted)
        ],
    )
    outcome = record_returns(session, [(0, record)])[0]
    if outcome.status == "rejected":
        raise InvalidRecord([FieldError(_our_field(e.field), e.message) for e in outcome.errors])
    if outcome.id is None:  # pragma: no cover - record_returns gives every stored return its id
        raise RuntimeError("record_returns stored a return without an id")
    if outcome.status == "unchanged":  # pragma: no cover - the key was looked up under the order's lock
        return get_return(session, outcome.id, created=False)
    return_id = outcome.id

    stored = session.execute(
        select(RETURN_LINE.c.id, RETURN_LINE.c.order_line_id, RETURN_LINE.c.product_id, RETURN_LINE.c.quantity)
        .where(RETURN_LINE.c.return_id == return_id)
        .order_by(RETURN_LINE.c.id)
    ).all()
    if [(r.order_line_id, r.quantity) for r in stored] != [(x.order_line_id, x.quantity) for x in wanted]:
        raise RuntimeError(f"return {return_id}: the stored lines are not the lines asked for")  # pragma: no cover
    now = clock.now()
    number = shown.number
    stock.adjust(
        session,
        [
            stock.Delta(
                product_id=r.product_id,
                location_id=store.id,
                delta=r.quantity,
                reason="return",
                source=SOURCE,
                external_id=f"return:{return_id}:{r.id}",
                at=now,
                note=f"returned in store, order {number}"[:500],
            )
            for r, x in zip(stored, wanted, strict=True)
            if x.sellable
        ],
    )
    events.publish(session, "returns.ingested", ids=[return_id])
    audit.record_by(
        session,
        who,
        RECORDED,
        customer_id=order.customer_id,
        detail={
            "return": return_id,
            "order": order.id,
            "order_number": number,
            "store": store.code,
            "associate": associate_id,
            "currency": order.currency,
            "lines": [
                {
                    "order_line": x.order_line_id,
                    "sku": by_id[x.order_line_id].sku,
                    "quantity": x.quantity,
                    "sellable": x.sellable,
                }
                for x in wanted
            ],
        },
    )
    return get_return(session, return_id, created=True)


def _associate_code(session: Session, associate_id: int | None) -> str | None:
    """The associate taking the return, as a return record names them (the timeline's actor)."""
    if associate_id is None:
        return None
    return session.scalar(select(Associate.code).where(Associate.id == associate_id))


def _checked_key(key: str | None) -> str | None:
    if key is None or not key.strip():
        return None
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise InvalidRecord.one("idempotency_key", "8-100 letters, digits, '_', '.', ':' or '-'")
    return key


def _locked_order(session: Session, order_id: int) -> Any:
    """The order row, locked until the unit of work ends (PostgreSQL; SQLite's writers already queue)."""
    o = ORDER.c
    row = session.execute(
        select(o.id, o.source, o.external_id, o.order_number, o.channel, o.currency, o.status, o.customer_id)
        .where(o.id == order_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"order {order_id} not found")
    return row


def _checked(
    wanted: list[LineIn],
    order: OrderForReturn,
    by_id: dict[int, ReturnableLine],
    reason: str,
    refund_override: Sequence[int | None] | None,
) -> str:
    """Every problem with the request, each naming its field; the reason, trimmed."""
    if order.status == "cancelled":
        raise InvalidRecord.one("order_id", f"order {order.number} was cancelled: there is nothing to return")
    errors: list[FieldError] = []
    if not wanted:
        errors.append(FieldError("lines", "choose at least one item to return"))
    elif len(wanted) > MAX_LINES:
        errors.append(FieldError("lines", f"at most {MAX_LINES} lines per return"))
    if refund_override is not None and len(refund_override) != len(wanted):
        errors.append(FieldError("lines", "one refund (or none) per line"))
    taking: dict[int, int] = defaultdict(int)
    for n, x in enumerate(wanted if len(wanted) <= MAX_LINES else []):
        line = by_id.get(x.order_line_id)
        if line is None:
            errors.append(FieldError(f"lines.{n}.order_line_id", f"order {order.number} has no line {x.order_line_id}"))
            continue
        if not 1 <= x.quantity <= MAX_UNITS:
            errors.append(FieldError(f"lines.{n}.quantity", f"between 1 and {min(MAX_UNITS, line.quantity)}"))
            continue
        taking[line.id] += x.quantity
        if taking[line.id] > line.returnable:
            left = line.returnable - (taking[line.id] - x.quantity)
            errors.append(FieldError(f"lines.{n}.quantity", _too_many(line, left)))
        if refund_override is not None and n < len(refund_override):
            refund, most = refund_override[n], line.refund_for(x.quantity)
            if refund is not None and not 0 <= refund <= most:
                errors.append(FieldError(f"lines.{n}.refund", f"between 0 and {format_money(most, order.currency)}"))
    text = (reason or "").strip()
    if not text:
        errors.append(FieldError("reason", "say why the client is returning it"))
    elif len(text) > REASON_MAX:
        errors.append(FieldError("reason", f"at most {REASON_MAX} characters"))
    if errors:
        raise InvalidRecord(errors)
    return text


def _too_many(line: ReturnableLine, left: int) -> str:
    if left <= 0:
        bought = "it was" if line.quantity == 1 else f"all {line.quantity} were"
        return f"nothing left to return: {bought} returned already"
    return f"only {left} left to return"


def _override(overrides: Sequence[int | None] | None, n: int, currency: str) -> Any:
    if overrides is None or overrides[n] is None:
        return None  # record_returns refunds what was paid for these units
    return from_minor(int(overrides[n] or 0), currency)


def _our_field(name: str) -> str:
    """record_returns names a line's original line ``order_line``; the counter calls it ``order_line_id``."""
    return name[: -len(".order_line")] + ".order_line_id" if name.endswith(".order_line") else name


# -- the receipt ------------------------------------------------------------------------------------------


def get_return(session: Session, return_id: int, *, created: bool = False) -> ReturnReceipt:
    """A recorded return with its lines, refund and what went back on the shelf (NotFound if none)."""
    r, o, loc, c = RETURN.c, ORDER.c, LOCATION.c, CUSTOMER.c
    row = session.execute(
        select(
            r.id,
            r.source,
            r.order_id,
            r.channel,
            r.location_id,
            r.customer_id,
            r.currency,
            r.refund_minor,
            r.reason,
            r.returned_at,
            r.original_order_ref,
            o.order_number,
            o.external_id,
            loc.code,
            loc.name,
            c.first_name,
            c.last_name,
        )
        .select_from(
            RETURN.outerjoin(ORDER, o.id == r.order_id)
            .outerjoin(LOCATION, loc.id == r.location_id)
            .outerjoin(CUSTOMER, c.id == r.customer_id)
        )
        .where(r.id == return_id)
    ).first()
    if row is None:
        raise NotFound(f"return {return_id} not found")
    rl, p = RETURN_LINE.c, PRODUCT.c
    line_rows = session.execute(
        select(rl.id, rl.order_line_id, rl.quantity, rl.refund_minor, p.sku, p.name, p.size, p.colour)
        .select_from(RETURN_LINE.outerjoin(PRODUCT, p.id == rl.product_id))
        .where(rl.return_id == return_id)
        .order_by(rl.id)
    ).all()
    restocked: set[str] = set()
    if row.source == SOURCE and line_rows:
        keys = [f"return:{return_id}:{x.id}" for x in line_rows]
        restocked = set(
            session.scalars(
                select(MOVEMENT.c.external_id).where(
                    MOVEMENT.c.source == SOURCE, one_of(session, MOVEMENT.c.external_id, keys)
                )
            )
        )
    currency = row.currency
    return ReturnReceipt(
        id=row.id,
        created=created,
        order_id=row.order_id,
        order_number=row.order_number or row.external_id or row.original_order_ref,
        channel=row.channel,
        store_id=row.location_id,
        store_code=row.code,
        store_name=row.name,
        customer_id=row.customer_id,
        client_name=client_name(row.first_name, row.last_name) if row.customer_id is not None else None,
        currency=currency,
        refund_minor=int(row.refund_minor),
        refund=format_money(int(row.refund_minor), currency),
        reason=row.reason,
        returned_at=row.returned_at,
        lines=[
            ReceiptLine(
                id=x.id,
                order_line_id=x.order_line_id,
                sku=x.sku,
                name=x.name or "Unknown item",
                size=x.size,
                colour=x.colour,
                quantity=x.quantity,
                refund_minor=int(x.refund_minor),
                refund=format_money(int(x.refund_minor), currency),
                restocked=(f"return:{return_id}:{x.id}" in restocked) if row.source == SOURCE else None,
            )
            for x in line_rows
        ],
    )


__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "MAX_QUERY", "MIN_QUERY", "LineIn", "OrderForReturn", "ReceiptLine", "ReturnReceipt",
    "ReturnableLine", "StoreChoice", "find_orders", "get_order", "get_return", "may_take_returns_at", "phone_region",
    "require_return_at", "return_in_store", "store_by_code", "stores_for",
]  # fmt: skip
