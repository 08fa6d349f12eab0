"""The demo's appointments: every store set up for booking (hours, the five types, two rooms), the
store associates' shifts, and the next days' appointments — some booked online with a reason and
products of interest, one by an e-commerce chat with its summary, some by associates for their
clients — so the calendar and the brief have something to show from the first login.

Through the services the app uses; deterministic per seed (slots are taken in order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import availability, setup
from rapport.appointments.booking import BookingRequest, book_appointment
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers.models import Customer, WishlistItem
from rapport.db import Database
from rapport.errors import RapportError
from rapport.inventory.models import Location

#: Appointments per store associate over the next days.
PER_ASSOCIATE = 3
REASONS = (
    "Looking for an outfit for a wedding in June",
    "Would like to try the camel coat in two sizes",
    "New job: a few pieces for the office",
    "Gift for my partner's birthday",
    "Alterations on the trousers bought last week",
)
CHAT = (
    "Online chat: asked whether the wool coat runs large; she is usually an M in coats. "
    "Interested in the silk scarf in navy too. Prefers a Saturday morning."
)


@dataclass
class AppointmentReport:
    booked: int = 0


def stage_appointments(db: Database, seed: int) -> AppointmentReport:
    rng = random.Random(f"appointments:{seed}")
    report = AppointmentReport()
    with db.write() as session:
        stores = session.execute(select(Location.id, Location.code).where(Location.kind == "store")
                                 .order_by(Location.id)).all()  # fmt: skip
        for s in stores:
            setup.default_setup(session, s.id)
        staff = session.execute(
            select(Associate.id, Associate.display_name, Associate.home_location_id)
            .join(Location, Location.id == Associate.home_location_id)
            .where(Associate.role.in_(("associate", "store_manager")), Associate.active.is_(True),
                   Location.kind == "store")
            .order_by(Associate.id)
        ).all()  # fmt: skip
        for a in staff:
            late = a.id % 2 == 0  # half the team opens, half closes
            shift = (time(12, 0), time(19, 0)) if late else (time(10, 0), time(17, 0))
            week = {d: [shift] for d in range(6) if d != (a.id % 6)}  # one weekday off, Sundays off
            setup.set_working_hours(session, a.id, a.home_location_id, week)
    today = clock.now().date()
    for a in staff:
        with db.read() as session:
            clients = session.execute(
                select(Customer.id).where(Customer.assigned_associate_id == a.id, Customer.status == "active")
                .order_by(Customer.id).limit(20)
            ).scalars().all()  # fmt: skip
            types = [t for t in setup.types_at(session, a.home_location_id) if t.kind in ("styling", "fitting")]
        if not clients or not types:
            continue
        for n in range(PER_ASSOCIATE):
            cid = clients[(n * 7) % len(clients)]
            kind = types[n % len(types)]
            for ahead in range(n, n + 5):
                with db.read() as session:
                    slots = availability.free_slots(session, location_id=a.home_location_id, type_id=kind.id,
                                                    day=today + timedelta(days=ahead), associate_id=a.id)  # fmt: skip
                    products = _interest(session, cid)
                if not slots:
                    continue
                slot = slots[rng.randrange(len(slots))]
                via = "api" if n == 2 else "associate"
                try:
                    book_appointment(
                        db,
                        BookingRequest(
                            location_id=a.home_location_id, type_id=kind.id, starts_at=slot.starts_at,
                            associate_id=a.id, customer_id=cid, reason=REASONS[(a.id + n) % len(REASONS)],
                            products_of_interest=products, conversation_summary=CHAT if via == "api" else None,
                            idempotency_key=f"demo-{seed}-{a.id}-{n}",
                        ),
                        via=via, actor=AuditActor("associate", a.id, f"associate:{a.display_name}"),
                        booked_by_id=a.id if via == "associate" else None,
                    )  # fmt: skip
                    report.booked += 1
                except RapportError:
                    continue
                break
    return report


def _interest(session: Session, customer_id: int) -> list[str]:
    """What a client would name: the SKUs on their wishlist (two at most)."""
    return list(
        session.execute(
            select(Product.sku).join(WishlistItem, WishlistItem.product_id == Product.id)
            .where(WishlistItem.customer_id == customer_id).order_by(WishlistItem.id).limit(2)
        ).scalars()
    )  # fmt: skip
