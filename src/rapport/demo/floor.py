"""The demo's shop floor this morning: items set aside for clients and click-and-collect orders in
every state, so the stock, holds and fulfilment screens show a working day from the first login.

Built through the same services the app uses (holds, order ingestion, fulfilment), after the
histories are loaded; deterministic per seed (choices come from a seeded stream and rows are read
in id order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from rapport import clock
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers.models import Customer, WishlistItem
from rapport.db import Database
from rapport.errors import RapportError
from rapport.identity.models import Identifier
from rapport.ingest.service import ingest_records
from rapport.inventory import holds
from rapport.inventory.models import Location, StockLevel

#: Holds per store associate of the demo (their own clients' wishes, in their store).
HOLDS_PER_ASSOCIATE = 3
#: Click-and-collect orders per store, moved through the day's states.
PICKUPS_PER_STORE = 5


@dataclass
class FloorReport:
    holds: int = 0
    pickups: dict[str, int] = field(default_factory=dict)


def stage_floor(db: Database, seed: int, anchor: datetime, *, stores: int = 4) -> FloorReport:
    """Holds for the store associates' clients, and pickups at the first ``stores`` stores (ordered
    online before ``anchor``, the day the demo's histories end)."""
    rng = random.Random(f"floor:{seed}")
    report = FloorReport()
    report.holds = _holds(db, rng)
    report.pickups = _pickups(db, rng, stores, anchor)
    return report


def _holds(db: Database, rng: random.Random) -> int:
    """Each store associate has set aside a few wished-for items for their own clients."""
    placed = 0
    with db.read() as session:
        staff = session.execute(
            select(Associate.id, Associate.home_location_id, Location.code, Location.timezone)
            .join(Location, Location.id == Associate.home_location_id)
            .where(Associate.role == "associate", Associate.active.is_(True), Location.kind == "store")
            .order_by(Associate.id)
        ).all()
        wishes = session.execute(
            select(Customer.assigned_associate_id, WishlistItem.customer_id, Product.sku, StockLevel.location_id)
            .join(WishlistItem, WishlistItem.customer_id == Customer.id)
            .join(Product, Product.id == WishlistItem.product_id)
            .join(StockLevel, StockLevel.product_id == Product.id)
            .where(Customer.status == "active", Customer.assigned_associate_id.is_not(None))
            .where(StockLevel.on_hand - StockLevel.reserved - StockLevel.safety_stock > 0)
            .order_by(WishlistItem.id, StockLevel.location_id)
        ).all()
    by_owner: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for owner, cid, sku, location_id in wishes:
        if owner is not None:
            by_owner.setdefault((owner, location_id), []).append((cid, sku))
    now = clock.now()
    for aid, home, code, _tz in staff:
        choices = by_owner.get((aid, home), []) if home is not None else []
        for cid, sku in rng.sample(choices, min(HOLDS_PER_ASSOCIATE, len(choices))):
            until = now + timedelta(hours=rng.choice((5, 26, 50, 72)))
            try:
                with db.write() as session:
                    holds.place_hold(
                        session, customer_id=cid, sku=sku, location_code=code, until=until, associate_id=aid,
                        note=rng.choice(("Coming after work", "Wants to try it with her navy trousers", None)),
                    )  # fmt: skip
                placed += 1
            except RapportError:
                continue  # the last one went to another client in this loop
    return placed


def _pickups(db: Database, rng: random.Random, stores: int, anchor: datetime) -> dict[str, int]:
    """Recent online clients of a store ordered to collect there; the day has moved some along."""
    from rapport.inventory import fulfilment

    with db.read() as session:
        places = session.execute(
            select(Location.id, Location.code, Location.currency)
            .where(Location.kind == "store", Location.accepts_pickup.is_(True))
            .order_by(Location.id)
            .limit(stores)
        ).all()
    out: dict[str, int] = {}
    now = clock.now()
    for lid, code, currency in places:
        with db.read() as session:
            clients = session.execute(
                select(Customer.id, Identifier.value)
                .join(Identifier, Identifier.customer_id == Customer.id)
                .where(Customer.home_location_id == lid, Customer.status == "active", Identifier.kind == "email")
                .order_by(Customer.id, Identifier.id)
                .limit(60)
            ).all()
            skus = session.execute(
                select(Product.sku, Product.price_minor)
                .join(StockLevel, StockLevel.product_id == Product.id)
                .where(StockLevel.location_id == lid, Product.currency == currency)
                .where(StockLevel.on_hand - StockLevel.reserved - StockLevel.safety_stock >= 2)
                .order_by(Product.id)
                .limit(200)
            ).all()
        if not clients or not skus:
            continue
        records: list[dict[str, Any]] = []
        emails = list(dict(clients).items())  # one address per client
        for n, (_cid, email) in enumerate(rng.sample(emails, min(PICKUPS_PER_STORE, len(emails)))):
            sku, price = rng.choice(skus)
            placed = anchor - timedelta(hours=2 + 20 * n)  # last night and the evenings before
            records.append({
                "source": "shopify", "id": f"demo-cc-{code}-{n}", "order_number": f"#CC{lid:02d}{n:02d}",
                "channel": "online", "pickup_store": code, "currency": currency, "placed_at": placed.isoformat(),
                "customer": {"email": email},
                "lines": [{"sku": sku, "quantity": 1, "unit_price": f"{price / 100:.2f}"}],
            })  # fmt: skip
        ingest_records(db, "orders", records)
        out[code] = len(records)
        _advance(db, fulfilment, code, now)
    return out


def _advance(db: Database, fulfilment: Any, code: str, now: datetime) -> None:
    """Older pickups further along: the oldest collected, then ready (one overdue), then picked."""
    with db.read() as session:
        lid = session.scalar(select(Location.id).where(Location.code == code))
        open_ = fulfilment.fulfilments_at(session, lid, "to_pick")
    ids = sorted((f.id for f in open_), reverse=False)
    steps = ("collected", "ready", "ready", "picked")
    for fid, step in zip(ids, steps, strict=False):
        with db.write() as session:
            fulfilment.mark_picked(session, fid)
            if step in ("ready", "collected"):
                fulfilment.mark_ready(session, fid)
            if step == "collected":
                fulfilment.mark_collected(session, fid)
