"""Builders for the fulfilment specifications: stores around France, a warehouse, stock, online orders."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rapport.associates.models import Notification
from rapport.catalog.models import Product
from rapport.commerce.models import Order
from rapport.customers.models import TimelineEntry
from rapport.db import Database
from rapport.inventory.models import Location, Reservation, StockLevel, StockMovement
from tests.factories import ingest, ok, seed_reference

ALICIA = {"source": "shopify", "id": "1001", "email": "alicia@example.com", "first_name": "Alicia",
          "last_name": "Moreau"}  # fmt: skip
#: code -> (name, kind, latitude, longitude, ships online)
PLACES: dict[str, tuple[str, str, str, str, bool]] = {
    "PAR": ("Paris Saint-Honoré", "store", "48.869700", "2.321500", False),
    "VER": ("Versailles", "store", "48.804900", "2.130400", True),  # ships from store
    "LYO": ("Lyon Presqu'île", "store", "45.764000", "4.835700", True),  # ships from store
    "WH-FR": ("Orléans warehouse", "warehouse", "47.902500", "1.909000", True),
    "NYC": ("New York Madison", "store", "40.768100", "-73.969200", False),
}


def seed(db: Database) -> dict[str, int]:
    """The reference data of ``tests.factories`` plus the places above; location ids by code."""
    seed_reference(db)
    for code, (name, kind, lat, lon, online) in PLACES.items():
        # one at a time: PAR and NYC exist already
        record = {"code": code, "name": name, "kind": kind, "country": "FR", "latitude": lat, "longitude": lon,
                  "fulfils_online": online, "timezone": "Europe/Paris"}  # fmt: skip
        ok(ingest(db, "locations", record))
    with db.read() as s:
        return {r.code: r.id for r in s.execute(select(Location.code, Location.id))}


def put(db: Database, *rows: tuple[str, str, int]) -> None:
    """Counts: (sku, location code, on hand)."""
    ok(ingest(db, "stock", *({"sku": sku, "location": code, "on_hand": n} for sku, code, n in rows)))


def online_order(db: Database, oid: str, *lines: tuple[str, int], customer: dict[str, Any] | None = None) -> int:
    """An online order (no store) of Alicia unless told; its id."""
    record = {
        "source": "shopify", "id": oid, "order_number": f"#{oid}", "channel": "online", "store": None,
        "currency": "EUR", "placed_at": "2026-11-23T09:00:00+00:00", "customer": customer or ALICIA,
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "100.00"} for sku, qty in lines or [("COAT-CAMEL-M", 1)]],
    }  # fmt: skip
    result = ok(ingest(db, "orders", record))
    order_id = result.outcomes[0].id
    assert order_id is not None
    return order_id


def level(db: Database, sku: str, code: str) -> tuple[int, int]:
    """(on hand, reserved) of a SKU at a location; (0, 0) without a row."""
    with db.read() as s:
        row = s.execute(
            select(StockLevel.on_hand, StockLevel.reserved)
            .join(Product, Product.id == StockLevel.product_id)
            .join(Location, Location.id == StockLevel.location_id)
            .where(Product.sku == sku, Location.code == code)
        ).first()
    return (row.on_hand, row.reserved) if row is not None else (0, 0)


def customer_of(db: Database, order_id: int) -> int:
    with db.read() as s:
        cid = s.scalar(select(Order.customer_id).where(Order.id == order_id))
    assert cid is not None
    return cid


def fulfilment_story(db: Database, customer_id: int) -> list[str]:
    """The client's fulfilment timeline, oldest first."""
    with db.read() as s:
        return list(
            s.scalars(
                select(TimelineEntry.summary)
                .where(TimelineEntry.customer_id == customer_id, TimelineEntry.kind == "fulfilment")
                .order_by(TimelineEntry.id)
            )
        )


def active_reservations(db: Database, fulfilment_id: int) -> list[tuple[int, int, int]]:
    """(product, location, quantity) of a fulfilment's active allocations."""
    with db.read() as s:
        return [
            (r.product_id, r.location_id, r.quantity)
            for r in s.execute(
                select(Reservation.product_id, Reservation.location_id, Reservation.quantity).where(
                    Reservation.fulfilment_id == fulfilment_id, Reservation.status == "active"
                )
            )
        ]


def movements(db: Database, reason: str) -> list[tuple[int, int]]:
    """(location, delta) of the ledger rows with this reason."""
    with db.read() as s:
        return [
            (r.location_id, r.delta)
            for r in s.execute(
                select(StockMovement.location_id, StockMovement.delta).where(StockMovement.reason == reason)
            )
        ]


def notifications(db: Database) -> list[tuple[int, str]]:
    """(associate, title) of every notification."""
    with db.read() as s:
        return [(r.associate_id, r.title) for r in s.execute(select(Notification.associate_id, Notification.title))]


def shop(db: Database) -> dict[str, int]:
    """For the API and the screens: the people of ``tests.associates.staff`` (Ana and Max at Paris, Ben at
    New York, Ada at head office), a warehouse, the coat and the scarf; location ids by code."""
    from tests.associates.staff import team

    team(db)
    return goods(db)


def goods(db: Database) -> dict[str, int]:
    """A warehouse, the coat and the scarf, beside the stores of ``tests.associates.staff``."""
    ok(ingest(db, "locations", {"code": "WH-FR", "name": "Orléans warehouse", "kind": "warehouse", "country": "FR",
                                "latitude": "47.902500", "longitude": "1.909000"}))  # fmt: skip
    ok(ingest(db, "products",
              {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel wool coat", "colour": "camel",
               "size": "M", "price": "1200.00", "currency": "EUR"},
              {"sku": "SCARF-SILK", "name": "Silk scarf", "price": "45.50", "currency": "EUR"}))  # fmt: skip
    with db.read() as s:
        return {r.code: r.id for r in s.execute(select(Location.code, Location.id))}
