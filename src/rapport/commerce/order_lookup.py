"""Finding what a client bought, for the counter: by order number, the source's order id, or the
email or phone the order was placed with — a merged client's orders under any of their addresses —
with each line's units bought, already returned and returnable now. Read-only; used by returns in
store (:mod:`rapport.commerce.store_returns`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers.models import Customer
from rapport.db import one_of, table_of
from rapport.errors import InvalidRecord, NotFound
from rapport.identity.merge import resolve_id
from rapport.identity.models import Identifier
from rapport.identity.normalize import IdentifierError, digits, normalize_email, normalize_phone
from rapport.inventory.models import Location
from rapport.money import format_money
from rapport.settings import get_settings

ORDER, ORDER_LINE, RETURN, RETURN_LINE = table_of(Order), table_of(OrderLine), table_of(Return), table_of(ReturnLine)
PRODUCT, CUSTOMER, IDENTIFIER = table_of(Product), table_of(Customer), table_of(Identifier)
LOCATION = table_of(Location)

MIN_QUERY = 3
MAX_QUERY = 254
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
MAX_LINES = 100
MAX_UNITS = 10_000
REASON_MAX = 500
#: Digits a phone number has at least; fewer is an order number or a typo.
MIN_PHONE_DIGITS = 7
_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]+")
_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,100}")


# -- what the counter shows ---------------------------------------------------------------------------


@dataclass
class ReturnableLine:
    """A line of an order as the counter needs it: what it is, how many were bought, how many can come back."""

    id: int
    line_ref: str
    product_id: int
    sku: str
    name: str
    size: str | None
    colour: str | None
    image_url: str | None
    quantity: int
    returned: int
    returnable: int
    #: What the client paid per unit (after the line's discount): what one unit refunds.
    unit_price_minor: int
    unit_price: str
    #: What the whole line was paid.
    paid_minor: int

    def refund_for(self, units: int) -> int:
        """What ``units`` of this line refund: their share of what was paid (as ingestion computes it)."""
        return round(self.paid_minor / self.quantity * units) if self.quantity else 0


@dataclass
class OrderForReturn:
    id: int
    source: str
    external_id: str
    order_number: str | None
    channel: str
    status: str
    placed_at: datetime
    currency: str
    total: str
    customer_id: int | None
    client_name: str | None
    #: Where it was bought: the store's code and name, or None (online, phone, app).
    store_code: str | None
    store_name: str | None
    lines: list[ReturnableLine] = field(default_factory=list)

    @property
    def number(self) -> str:
        """How the client knows it: the order number, else the source's id."""
        return self.order_number or self.external_id

    @property
    def returnable(self) -> int:
        return sum(line.returnable for line in self.lines)


def phone_region(session: Session, store_ids: Iterable[int] = ()) -> str:
    """The country a phone number without its country code is read in: the first store's, else the default."""
    ids = sorted(set(store_ids))
    if ids:
        country = session.scalar(select(LOCATION.c.country).where(LOCATION.c.id.in_(ids)).order_by(LOCATION.c.id))
        if country:
            return str(country).upper()
    return get_settings().default_region.upper()


# -- finding the order ---------------------------------------------------------------------------------


def find_orders(
    session: Session, q: str | None, *, limit: int = DEFAULT_LIMIT, region: str | None = None
) -> list[OrderForReturn]:
    """Recent orders, newest first, whose number (or source id) is ``q``, or placed by the client whose
    email or phone ``q`` is (a number without its country code is read in ``region``).

    A merged client's orders are the survivor's, whichever of their addresses is typed. Bounded: a
    handful of indexed queries whatever the history. InvalidRecord naming ``q`` when it cannot be one
    of those (too short, half an email address, a phone number that is not one).
    """
    text = (q or "").strip()
    if len(text) < MIN_QUERY:
        raise InvalidRecord.one(
            "q", f"type an order number, an email or a phone number ({MIN_QUERY} characters or more)"
        )
    if len(text) > MAX_QUERY:
        raise InvalidRecord.one("q", f"at most {MAX_QUERY} characters")
    limit = max(1, min(limit, MAX_LIMIT))
    region = (region or get_settings().default_region).upper()

    customer_ids: set[int] = set()
    order_ids: set[int] = set()
    if "@" in text:
        try:
            email = normalize_email(text)
        except IdentifierError:
            raise InvalidRecord.one("q", f"“{text}” is not a complete email address") from None
        customer_ids = _owners(session, "email", email)
    else:
        order_ids = _numbered(session, text)
        if _PHONE_TEXT.fullmatch(text) and len(digits(text)) >= MIN_PHONE_DIGITS:
            try:
                customer_ids = _owners(session, "phone", normalize_phone(text, region))
            except IdentifierError:
                if not order_ids:
                    raise InvalidRecord.one(
                        "q",
                        f"no order is numbered “{text}”, and it is not a complete phone number for {region}: "
                        "start with + and the country code",
                    ) from None
    if customer_ids:
        o = ORDER.c
        for cid in sorted(customer_ids):  # the (customer_id, placed_at) index, newest first, stops at limit
            order_ids.update(
                session.scalars(
                    select(o.id).where(o.customer_id == cid).order_by(o.placed_at.desc(), o.id.desc()).limit(limit)
                )
            )
    if not order_ids:
        return []
    return _orders(session, sorted(order_ids), limit=limit)


def get_order(session: Session, order_id: int) -> OrderForReturn:
    """One order as the counter shows it (NotFound if there is none)."""
    found = _orders(session, [order_id], limit=1)
    if not found:
        raise NotFound(f"order {order_id} not found")
    return found[0]


def _owners(session: Session, kind: str, value: str) -> set[int]:
    """The client an email or phone belongs to (the survivor, should it point at a merged-away id)."""
    i, c = IDENTIFIER.c, CUSTOMER.c
    rows = session.execute(
        select(i.customer_id, c.merged_into_id)
        .join(CUSTOMER, c.id == i.customer_id)
        .where(i.kind == kind, i.namespace == "", i.value == value)
    ).all()
    return {resolve_id(session, r.customer_id) if r.merged_into_id is not None else r.customer_id for r in rows}


def _numbered(session: Session, text: str) -> set[int]:
    """Orders numbered ``text`` (``#1001`` and ``1001`` alike), or whose id in their source is ``text``."""
    bare = text.lstrip("#").strip()
    wanted = sorted({text, bare, f"#{bare}"} - {"", "#"})
    o = ORDER.c
    found = set(session.scalars(select(o.id).where(o.order_number.in_(wanted)).limit(MAX_LIMIT)))
    sources = _sources(session)
    if sources:
        pairs = [(s, w) for s in sources for w in wanted]
        found.update(session.scalars(select(o.id).where(tuple_(o.source, o.external_id).in_(pairs)).limit(MAX_LIMIT)))
    return found


def _sources(session: Session) -> list[str]:
    """The distinct order sources, one index probe each (a loose index scan: never a table scan)."""
    return [r[0] for r in session.execute(_SOURCES_SQL) if r[0] is not None]


#: ``SELECT DISTINCT source`` walking the ``(source, external_id)`` unique index from one source to the next.
_SOURCES_SQL = text(
    "WITH RECURSIVE s(source) AS ("
    " SELECT min(source) FROM sales_order"
    " UNION ALL"
    " SELECT (SELECT min(o.source) FROM sales_order o WHERE o.source > s.source) FROM s WHERE s.source IS NOT NULL"
    ") SELECT source FROM s WHERE source IS NOT NULL"
)


def _orders(session: Session, order_ids: Sequence[int], *, limit: int) -> list[OrderForReturn]:
    o, loc, c = ORDER.c, LOCATION.c, CUSTOMER.c
    rows = session.execute(
        select(
            o.id,
            o.source,
            o.external_id,
            o.order_number,
            o.channel,
            o.status,
            o.placed_at,
            o.currency,
            o.total_minor,
            o.customer_id,
            c.first_name,
            c.last_name,
            loc.code.label("store_code"),
            loc.name.label("store_name"),
        )
        .select_from(ORDER.outerjoin(CUSTOMER, c.id == o.customer_id).outerjoin(LOCATION, loc.id == o.location_id))
        .where(one_of(session, o.id, list(order_ids)))
        .order_by(o.placed_at.desc(), o.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return []
    orders = {
        r.id: OrderForReturn(
            id=r.id,
            source=r.source,
            external_id=r.external_id,
            order_number=r.order_number,
            channel=r.channel,
            status=r.status,
            placed_at=r.placed_at,
            currency=r.currency,
            total=format_money(int(r.total_minor), r.currency),
            customer_id=r.customer_id,
            client_name=client_name(r.first_name, r.last_name) if r.customer_id is not None else None,
            store_code=r.store_code,
            store_name=r.store_name,
        )
        for r in rows
    }
    for line in _lines(session, list(orders), {oid: (v.currency, v.status) for oid, v in orders.items()}):
        orders[line[0]].lines.append(line[1])
    return list(orders.values())


def _lines(
    session: Session, order_ids: list[int], orders: dict[int, tuple[str, str]]
) -> list[tuple[int, ReturnableLine]]:
    """Every line of these orders with its product and the units already returned (two queries)."""
    ol, p, rl = ORDER_LINE.c, PRODUCT.c, RETURN_LINE.c
    rows = session.execute(
        select(
            ol.id,
            ol.order_id,
            ol.line_ref,
            ol.product_id,
            ol.quantity,
            ol.total_minor,
            p.sku,
            p.name,
            p.size,
            p.colour,
            p.image_url,
        )
        .join(PRODUCT, p.id == ol.product_id)
        .where(one_of(session, ol.order_id, order_ids))
        .order_by(ol.order_id, ol.id)
    ).all()
    returned: dict[int, int] = defaultdict(int)
    line_ids = [r.id for r in rows]
    if line_ids:
        for line_id, units in session.execute(
            select(rl.order_line_id, func.sum(rl.quantity))
            .where(one_of(session, rl.order_line_id, line_ids))
            .group_by(rl.order_line_id)
        ):
            returned[line_id] = int(units or 0)
    out = []
    for r in rows:
        currency, status = orders[r.order_id]
        unit = round(int(r.total_minor) / r.quantity) if r.quantity else 0
        back = returned[r.id]
        out.append(
            (
                r.order_id,
                ReturnableLine(
                    id=r.id,
                    line_ref=r.line_ref,
                    product_id=r.product_id,
                    sku=r.sku,
                    name=r.name,
                    size=r.size,
                    colour=r.colour,
                    image_url=r.image_url,
                    quantity=r.quantity,
                    returned=back,
                    returnable=0 if status == "cancelled" else max(0, r.quantity - back),
                    unit_price_minor=unit,
                    unit_price=format_money(unit, currency),
                    paid_minor=int(r.total_minor),
                ),
            )
        )
    return out


def client_name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part) or "Client without a name"
