"""What the purchase history says: a consumable running low, a purchase to follow up, a client lapsing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers.models import Customer
from rapport.db import one_of, table_of
from rapport.inventory.models import Location
from rapport.money import format_money
from rapport.tasks.config import RuleSettings
from rapport.tasks.rules._common import (
    active,
    at,
    day,
    day_year,
    days_between,
    lazily,
    not_cancelled,
    plural,
    product_label,
    scope,
)
from rapport.tasks.service import Candidate

# --- replenishment ------------------------------------------------------------------------------

#: A client's own rhythm shorter than this is a stock-up, not a rhythm: the product's interval applies.
MIN_OWN_INTERVAL_DAYS = 7


def replenishment(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """A consumable (``product.replenishment_days``) probably running low: raise ``days_before_due`` days ahead.

    The run-out date is the last purchase plus the product's interval — or the client's own
    average gap between purchases of it, once they bought it ``min_purchases_for_own_interval``
    times. One GROUP BY over the consumables' order lines (returned lines and cancelled orders
    left out) with the due window tested in SQL, then one join for the last order's id.
    """
    before = float(params["days_before_due"])
    grace = float(params["expires_after_days"])
    own_after = int(params["min_purchases_for_own_interval"])
    o, ol, p = Order, OrderLine, Product
    orders = func.count(func.distinct(o.id))
    first, last = func.min(o.placed_at), func.max(o.placed_at)
    span = days_between(session, first, last)
    own = span / func.nullif(orders - 1, 0)
    interval = case(
        (
            (orders >= max(own_after, 2)) & (span >= MIN_OWN_INTERVAL_DAYS * (orders - 1)),
            own,
        ),
        else_=p.replenishment_days,
    )
    since_last = days_between(session, last, at(now))
    returned = exists().where(ReturnLine.order_line_id == ol.id)
    agg = (
        select(
            o.customer_id.label("customer_id"),
            ol.product_id.label("product_id"),
            orders.label("orders"),
            first.label("first"),
            last.label("last"),
            interval.label("interval"),
        )
        .join(ol, ol.order_id == o.id)
        .join(p, p.id == ol.product_id)
        .where(
            p.replenishment_days.is_not(None),
            o.customer_id.is_not(None),
            not_cancelled(),
            ~returned,
            *scope(session, o.customer_id, customer_ids),
        )
        .group_by(o.customer_id, ol.product_id, p.replenishment_days)
        .having(since_last >= interval - before, since_last < interval + grace)
        .subquery()
    )
    last_order = table_of(Order).alias("last_order")
    rows = session.execute(
        select(
            agg.c.customer_id,
            agg.c.product_id,
            agg.c.orders,
            agg.c.first,
            agg.c.last,
            agg.c.interval,
            func.max(last_order.c.id),
            Product.name,
            Product.size,
            Product.replenishment_days,
        )
        .join(Customer, Customer.id == agg.c.customer_id)
        .join(Product, Product.id == agg.c.product_id)
        .join(
            last_order,
            (last_order.c.customer_id == agg.c.customer_id) & (last_order.c.placed_at == agg.c.last),
        )
        .where(active(), last_order.c.status != "cancelled")
        .group_by(*agg.c, Product.name, Product.size, Product.replenishment_days)
        .order_by(agg.c.customer_id, agg.c.product_id)
    ).all()

    def build(row: Any) -> Candidate:
        cid, pid, n, first_at, last_at, every, order_id, name, size, usual = row
        every = float(every)
        runs_out = last_at + timedelta(days=every)
        item = product_label(name, size)
        own_rhythm = n >= max(own_after, 2) and round(every) != usual
        if own_rhythm:
            reason = (
                f"Buys {item} about every {round(every)} days ({n} purchases since {day_year(first_at)}); "
                f"last on {day(last_at)}, so probably running low around {day(runs_out)}"
            )
        else:
            reason = (
                f"Bought {item} on {day(last_at)}; it lasts about {round(every)} days, "
                f"so probably running low around {day(runs_out)}"
            )
        return Candidate(
            customer_id=cid,
            type="replenishment",
            dedupe_key=f"replenishment:{pid}:{order_id}",
            title=f"Replenish {item}",
            reason=reason,
            due_at=runs_out - timedelta(days=before),
            expires_at=runs_out + timedelta(days=grace),
            facts={
                "product_id": pid,
                "last_order_id": order_id,
                "last_purchase": last_at.isoformat(),
                "purchases": n,
                "interval_days": round(every, 1),
                "own_interval": own_rhythm,
                "runs_out": runs_out.date().isoformat(),
            },
            product_id=pid,
            priority=2,
            intent=0.7 if own_rhythm else 0.6,
        )

    return lazily(rows, build)


# --- post-purchase ------------------------------------------------------------------------------


def post_purchase(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """``after_days`` days after a purchase of ``min_total_minor`` or more: ask how it is going.

    Once per order; not for a cancelled order nor one returned in full (refunds >= its total).
    An index range on ``sales_order.placed_at``, then one query for the orders' lines.
    """
    after = timedelta(days=int(params["after_days"]))
    grace = timedelta(days=int(params["expires_after_days"]))
    refunded = (
        select(func.coalesce(func.sum(Return.refund_minor), 0)).where(Return.order_id == Order.id).scalar_subquery()
    )
    rows = session.execute(
        select(Order.id, Order.customer_id, Order.placed_at, Order.total_minor, Order.currency, Location.name)
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(Location, Location.id == Order.location_id)
        .where(
            Order.placed_at > now - after - grace,
            Order.placed_at <= now - after,
            Order.total_minor >= int(params["min_total_minor"]),
            not_cancelled(),
            active(),
            refunded < Order.total_minor,
            *scope(session, Order.customer_id, customer_ids),
        )
        .order_by(Order.id)
    ).all()
    if not rows:
        return []
    items: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for oid, pid, name, size, quantity in session.execute(
        select(OrderLine.order_id, Product.id, Product.name, Product.size, OrderLine.quantity)
        .join(Product, Product.id == OrderLine.product_id)
        .where(one_of(session, OrderLine.order_id, sorted(r[0] for r in rows)))
        .order_by(OrderLine.order_id, OrderLine.total_minor.desc(), OrderLine.id)
    ):
        items[oid].append((pid, product_label(name, size), quantity))

    def build(row: Any) -> Candidate:
        oid, cid, placed, total, currency, store = row
        lines = items.get(oid, [])
        pieces = sum(q for _, _, q in lines)
        what = lines[0][1] if lines else "their purchase"
        if pieces > 1:
            what += f" and {plural(pieces - 1, 'more item')}"
        where = f" at {store}" if store else " online"
        amount = format_money(total, currency)
        due = placed + after
        return Candidate(
            customer_id=cid,
            type="post_purchase",
            dedupe_key=f"post_purchase:order:{oid}",
            title=f"Check in after the {amount} purchase",
            reason=f"Bought {what} for {amount}{where} on {day(placed)}; ask how it is going",
            due_at=due,
            expires_at=due + grace,
            facts={"order_id": oid, "total": amount, "placed_at": placed.isoformat(), "pieces": pieces},
            product_id=lines[0][0] if lines else None,
            priority=2,
            intent=0.5,
        )

    return lazily(rows, build)


# --- lapsing ------------------------------------------------------------------------------------


def lapsing(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """No purchase for longer than the client's own cadence x ``factor`` (within ``min_gap_days``..``max_gap_days``).

    The cadence is the average gap between their orders (at least ``min_orders`` of them). One
    GROUP BY over ``sales_order`` by client — the comparison made in SQL, so only lapsing clients
    come back — then one join on ``(customer_id, placed_at)`` for the last order's id (both read
    ``ix_sales_order_customer_placed``). A new purchase changes the key: lapsing again later is
    a new occasion.
    """
    factor = float(params["factor"])
    o = Order
    n = func.count()
    first, last = func.min(o.placed_at), func.max(o.placed_at)
    gap = days_between(session, last, at(now))
    agg = (
        select(o.customer_id.label("customer_id"), n.label("orders"), first.label("first"), last.label("last"))
        .where(o.customer_id.is_not(None), not_cancelled(), *scope(session, o.customer_id, customer_ids))
        .group_by(o.customer_id)
        .having(
            n >= max(int(params["min_orders"]), 2),
            last <= now - timedelta(days=float(params["min_gap_days"])),
            last > now - timedelta(days=float(params["max_gap_days"])),
            gap * (n - 1) > factor * days_between(session, first, last),
        )
        .subquery()
    )
    last_order = table_of(Order).alias("last_order")
    rows = session.execute(
        select(agg.c.customer_id, agg.c.orders, agg.c.first, agg.c.last, func.max(last_order.c.id))
        .join(Customer, Customer.id == agg.c.customer_id)
        .join(
            last_order,
            (last_order.c.customer_id == agg.c.customer_id) & (last_order.c.placed_at == agg.c.last),
        )
        .where(active(), last_order.c.status != "cancelled")
        .group_by(agg.c.customer_id, agg.c.orders, agg.c.first, agg.c.last)
        .order_by(agg.c.customer_id)
    ).all()
    grace = timedelta(days=int(params["expires_after_days"]))

    def build(row: Any) -> Candidate:
        cid, orders, first_at, last_at, order_id = row
        cadence = max((last_at - first_at).total_seconds() / 86400 / (orders - 1), 1.0)
        quiet = (now - last_at).days
        return Candidate(
            customer_id=cid,
            type="lapsing",
            dedupe_key=f"lapsing:{order_id}",
            title=f"No purchase for {quiet} days",
            reason=(
                f"Usually buys about every {round(cadence)} days ({orders} orders since {day_year(first_at)}); "
                f"nothing since {day_year(last_at)}, {quiet} days ago"
            ),
            due_at=now,
            expires_at=now + grace,
            facts={
                "last_order_id": order_id,
                "last_purchase": last_at.isoformat(),
                "orders": orders,
                "cadence_days": round(cadence, 1),
                "days_since": quiet,
            },
            priority=2,
            intent=0.45,
        )

    return lazily(rows, build)
