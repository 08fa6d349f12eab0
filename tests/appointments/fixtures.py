"""Builders for the appointment tests: two stores with hours, types and staff, a client, and bookings.

``shop(db)`` gives the usual world; the smaller functions build parts of it for a test that needs
something else. Stores and people arrive through ingestion (as in production); appointments are
inserted as rows, so these tests do not depend on the booking service.

The clock stands at TEST_NOW (Monday 23 Nov 2026, 15:00 UTC: 16:00 in Paris, 10:00 in New York).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from rapport import clock
from rapport.appointments import setup
from rapport.appointments.models import Appointment, AppointmentType
from rapport.associates.models import Associate
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.ingest.service import ingest_records
from rapport.inventory.models import Location
from tests.factories import alicia

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")

#: Mon–Sat 10:00–19:00 and Sun 12:00–18:00: the store hours of ``setup.default_setup``, as shifts.
FULL_WEEK: dict[int, list[tuple[time, time]]] = {
    **{day: [(time(10), time(19))] for day in range(6)},
    6: [(time(12), time(18))],
}


@dataclass(frozen=True)
class Shop:
    """Paris and New York set up with ``default_setup``; Ana and Leo work every opening hour in Paris,
    Ben in New York; Mia (an online expert) has no shifts until a test gives her some."""

    paris: int
    new_york: int
    ana: int
    leo: int
    ben: int
    mia: int
    client: int
    #: Paris's appointment types by code: styling, alterations, fitting, virtual, pickup.
    types: dict[str, int]
    #: New York's, likewise.
    ny_types: dict[str, int]


def shop(db: Database) -> Shop:
    """The usual world for an appointment test (see :class:`Shop`)."""
    paris, new_york = stores(db)
    people = associates(
        db,
        ("ANA", "Ana", "PAR", "associate"),
        ("LEO", "Leo", "PAR", "associate"),
        ("BEN", "Ben", "NYC", "associate"),
        ("MIA", "Mia", None, "virtual_associate"),
    )
    with db.write() as session:
        setup.default_setup(session, paris)
        setup.default_setup(session, new_york)
        setup.set_working_hours(session, people["ANA"], paris, FULL_WEEK)
        setup.set_working_hours(session, people["LEO"], paris, FULL_WEEK)
        setup.set_working_hours(session, people["BEN"], new_york, FULL_WEEK)
    return Shop(
        paris=paris,
        new_york=new_york,
        ana=people["ANA"],
        leo=people["LEO"],
        ben=people["BEN"],
        mia=people["MIA"],
        client=client(db),
        types=type_ids(db, paris),
        ny_types=type_ids(db, new_york),
    )


def stores(db: Database) -> tuple[int, int]:
    """Paris (Europe/Paris) and New York (America/New_York), as ingested locations; their ids."""
    _ingest(db, "locations", [
        {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "timezone": "Europe/Paris",
         "currency": "EUR", "city": "Paris"},
        {"code": "NYC", "name": "New York Madison", "country": "US", "timezone": "America/New_York",
         "currency": "USD", "city": "New York"},
    ])  # fmt: skip
    with db.read() as session:
        ids = dict(session.execute(select(Location.code, Location.id)).all())
    return ids["PAR"], ids["NYC"]


def associates(db: Database, *people: tuple[str, str, str | None, str]) -> dict[str, int]:
    """Ingest associates given as (code, display name, home store code or None, role); ids by code."""
    _ingest(db, "associates", [
        {"code": code, "email": f"{code.lower()}@maison.example", "display_name": name, "role": role,
         **({"home_store": home} if home else {})}
        for code, name, home, role in people
    ])  # fmt: skip
    codes = [p[0] for p in people]
    with db.read() as session:
        return dict(session.execute(select(Associate.code, Associate.id).where(Associate.code.in_(codes))).all())


def deactivate(db: Database, code: str, name: str) -> None:
    """An associate who left: ingested again with ``active: false``."""
    _ingest(db, "associates", [{"code": code, "email": f"{code.lower()}@maison.example", "display_name": name,
                                "active": False}])  # fmt: skip


def client(db: Database) -> int:
    """Alicia, ingested; her customer id (appointments need a client)."""
    _ingest(db, "customers", [alicia()])
    with db.read() as session:
        return session.execute(select(Customer.id)).scalars().one()


def type_ids(db: Database, location_id: int) -> dict[str, int]:
    """A store's appointment types by code."""
    with db.read() as session:
        return {t.code: t.id for t in setup.types_at(session, location_id, include_inactive=True)}


def week(days: Iterable[int], *periods: tuple[time, time]) -> dict[int, list[tuple[time, time]]]:
    """The same periods on each of ``days`` (0 = Monday): ``week([1], (time(10), time(13)), ...)``."""
    return {day: list(periods) for day in days}


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0, *, fold: int = 0) -> datetime:
    """A wall time in ``zone`` as the UTC instant (``fold=1``: the second 02:30 of a fall-back night)."""
    return datetime(year, month, day, hour, minute, tzinfo=zone, fold=fold).astimezone(UTC)


def book(
    db: Database,
    *,
    location_id: int,
    type_id: int,
    customer_id: int,
    starts_at: datetime,
    associate_id: int | None,
    status: str = "booked",
) -> int:
    """An appointment row as the booking service would write it (blocked span = visit + the type's buffers)."""
    with db.write() as session:
        kind = session.get(AppointmentType, type_id)
        assert kind is not None
        ends_at = starts_at + timedelta(minutes=kind.duration_minutes)
        now = clock.now()
        row = Appointment(
            location_id=location_id,
            type_id=type_id,
            customer_id=customer_id,
            associate_id=associate_id,
            starts_at=starts_at,
            ends_at=ends_at,
            blocked_from=starts_at - timedelta(minutes=kind.buffer_before_minutes),
            blocked_until=ends_at + timedelta(minutes=kind.buffer_after_minutes),
            status=status,
            booked_via="associate",
            idempotency_key=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def local_times(slots: Sequence[Any]) -> list[str]:
    """The slots' starts as the store's wall times ("10:00", ...), for readable assertions."""
    return [s.local_start.strftime("%H:%M") for s in slots]


def _ingest(db: Database, kind: str, records: list[dict[str, Any]]) -> None:
    result = ingest_records(db, kind, records)
    refused = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
    assert not refused, f"records refused: {refused}"
