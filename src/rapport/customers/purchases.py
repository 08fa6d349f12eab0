"""A client's recent purchases line by line, from every channel, with what came back — for the profile screen.

One statement whatever the history: the client's latest orders (the ``(customer_id, placed_at)``
index walks newest first and stops), their lines and products, and per line the units returned
(the ``return_line.order_line_id`` index), so the screen can mark a returned coat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session

from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, ReturnLine
from rapport.customers.read import money
from rapport.customers.views import LocationRef, Money, ProductRef
from rapport.db import table_of
from rapport.inventory.models import Location

ORDER, ORDER_LINE, RETURN_LINE = table_of(Order), table_of(OrderLine), table_of(ReturnLine)
PRODUCT, LOCATION = table_of(Product), table_of(Location)

ORDERS_DEFAULT = 10
ORDERS_MAX = 50
#: Lines shown at most, whatever the size of the orders (a wholesale-sized basket stays readable).
LINES_MAX = 60
PRODUCT_COLUMNS = (
    "id", "sku", "name", "style_code", "brand", "category", "colour", "size", "price_minor", "currency", "image_url",
)  # fmt: skip


@dataclass
class PurchaseLine:
    line_id: int
    quantity: int
    returned_quantity: int
    total: Money
    product: ProductRef


@dataclass
class Purchase:
    order_id: int
    order_number: str | None
    channel: str
    status: str  # placed | cancelled
    placed_at: datetime
    location: LocationRef | None
    total: Money
    lines: list[PurchaseLine]

    @property
    def returned_quantity(self) -> int:
        return sum(line.returned_quantity for line in self.lines)


@cache
def _statement() -> Select[Any]:
    o, ol, rl, p, loc = ORDER, ORDER_LINE, RETURN_LINE, PRODUCT, LOCATION
    latest = (
        select(o)
        .where(o.c.customer_id == bindparam("cid", type_=Integer()))
        .order_by(o.c.placed_at.desc(), o.c.id.desc())
        .limit(bindparam("orders", type_=Integer()))
        .subquery("latest")
    )
    returned = select(func.coalesce(func.sum(rl.c.quantity), 0)).where(rl.c.order_line_id == ol.c.id).scalar_subquery()
    return (
        select(
            latest.c.id.label("order_id"),
            latest.c.order_number,
            latest.c.channel,
            latest.c.status,
            latest.c.placed_at,
            latest.c.currency,
            latest.c.total_minor.label("order_total"),
            latest.c.location_id,
            loc.c.code.label("location_code"),
            loc.c.name.label("location_name"),
            ol.c.id.label("line_id"),
            ol.c.quantity,
            ol.c.total_minor.label("line_total"),
            returned.label("returned"),
            *(p.c[n].label(f"p_{n}") for n in PRODUCT_COLUMNS),
        )
        .select_from(
            latest.join(ol, ol.c.order_id == latest.c.id)
            .join(p, p.c.id == ol.c.product_id)
            .outerjoin(loc, loc.c.id == latest.c.location_id)
        )
        .order_by(latest.c.placed_at.desc(), latest.c.id.desc(), ol.c.id)
        .limit(LINES_MAX)
    )


def recent_purchases(
    session: Session, customer_id: int, *, orders: int = ORDERS_DEFAULT, locale: str = "en_US"
) -> list[Purchase]:
    """The client's latest ``orders`` orders (cancelled ones too, marked), newest first, with their lines.

    ``customer_id`` must be a surviving id (the 360 gives it); merged-away ids own no orders.
    """
    orders = max(1, min(orders, ORDERS_MAX))
    out: list[Purchase] = []
    by_id: dict[int, Purchase] = {}
    for r in session.execute(_statement(), {"cid": customer_id, "orders": orders}):
        purchase = by_id.get(r.order_id)
        if purchase is None:
            location = None
            if r.location_id is not None and r.location_code is not None:
                location = LocationRef(r.location_id, r.location_code, r.location_name or r.location_code)
            purchase = Purchase(
                order_id=r.order_id,
                order_number=r.order_number,
                channel=r.channel,
                status=r.status,
                placed_at=r.placed_at,
                location=location,
                total=money(r.order_total, r.currency, locale),
                lines=[],
            )
            by_id[r.order_id] = purchase
            out.append(purchase)
        product = ProductRef(
            id=r.p_id,
            sku=r.p_sku,
            name=r.p_name,
            style_code=r.p_style_code,
            brand=r.p_brand,
            category=r.p_category,
            colour=r.p_colour,
            size=r.p_size,
            price=money(r.p_price_minor, r.p_currency, locale),
            image_url=r.p_image_url,
        )
        purchase.lines.append(
            PurchaseLine(
                line_id=r.line_id,
                quantity=int(r.quantity),
                returned_quantity=min(int(r.returned or 0), int(r.quantity)),
                total=money(r.line_total, r.currency, locale),
                product=product,
            )
        )
    return out
