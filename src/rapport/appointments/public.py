"""What the public booking pages read: the stores that take appointments, who works there, and one
appointment's own facts for its manage link (nothing from the client record, so a link shows only
what the booking itself said)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from rapport.appointments.models import Appointment, AppointmentType, WorkingHours
from rapport.associates.models import Associate
from rapport.inventory.models import Location


@dataclass(frozen=True)
class StoreView:
    id: int
    code: str
    name: str
    address: str | None
    postal_code: str | None
    city: str | None
    timezone: str

    @property
    def where(self) -> str:
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        return ", ".join(p for p in (self.address, town) if p)

    @property
    def zone_label(self) -> str:
        """How times are read: "Paris time"."""
        return f"{self.city} time" if self.city else f"{self.timezone} time"

    @property
    def url(self) -> str:
        return f"/book/{quote(self.code, safe='')}"


_STORE_COLUMNS = (
    Location.id, Location.code, Location.name, Location.address_line1, Location.postal_code, Location.city,
    Location.timezone,
)  # fmt: skip


def _store_of(row: Any) -> StoreView:
    return StoreView(row.id, row.code, row.name, row.address_line1, row.postal_code, row.city, row.timezone or "UTC")


def _offering() -> Any:
    return exists().where(AppointmentType.location_id == Location.id, AppointmentType.active.is_(True))


def bookable_stores(session: Session) -> list[StoreView]:
    """Stores with at least one active appointment type, by city then name."""
    rows = session.execute(
        select(*_STORE_COLUMNS)
        .where(Location.kind == "store", _offering())
        .order_by(Location.city, Location.name, Location.code)
    ).all()
    return [_store_of(r) for r in rows]


def bookable_store(session: Session, code: str) -> StoreView | None:
    row = session.execute(
        select(*_STORE_COLUMNS).where(Location.code == code, Location.kind == "store", _offering())
    ).first()
    return _store_of(row) if row is not None else None


@dataclass(frozen=True)
class Person:
    id: int
    name: str


def team_at(session: Session, location_id: int) -> list[Person]:
    """The active associates with shifts at this store: whom a client may ask for."""
    rows = session.execute(
        select(Associate.id, Associate.display_name)
        .where(
            Associate.active.is_(True),
            exists().where(WorkingHours.associate_id == Associate.id, WorkingHours.location_id == location_id),
        )
        .order_by(Associate.display_name, Associate.id)
    ).all()
    return [Person(r.id, r.display_name) for r in rows]


@dataclass(frozen=True)
class AppointmentView:
    """One appointment as its link shows it: its own fields, nothing from the client record."""

    id: int
    version: int
    status: str
    store: StoreView
    type_id: int
    type_code: str
    type_name: str
    duration_minutes: int
    virtual: bool
    starts_at: datetime
    local_start: datetime
    associate_name: str | None
    reason: str
    products: list[str]
    sizes: dict[str, str]

    @property
    def when(self) -> str:
        return f"{day_label(self.local_start.date())} at {self.local_start:%H:%M}"


def appointment_view(session: Session, appointment_id: int) -> AppointmentView | None:
    row = session.execute(
        select(
            Appointment.id, Appointment.version, Appointment.status, Appointment.starts_at, Appointment.reason,
            Appointment.products_of_interest, Appointment.sizes, Appointment.type_id,
            AppointmentType.code.label("type_code"), AppointmentType.name.label("type_name"),
            AppointmentType.duration_minutes, AppointmentType.virtual,
            Associate.display_name.label("associate_name"), Location.id.label("store_id"),
            Location.code.label("store_code"), Location.name.label("store_name"), Location.address_line1,
            Location.postal_code, Location.city, Location.timezone,
        )
        .join(AppointmentType, AppointmentType.id == Appointment.type_id)
        .join(Location, Location.id == Appointment.location_id)
        .outerjoin(Associate, Associate.id == Appointment.associate_id)
        .where(Appointment.id == appointment_id)
    ).first()  # fmt: skip
    if row is None:
        return None
    store = StoreView(row.store_id, row.store_code, row.store_name, row.address_line1, row.postal_code, row.city,
                      row.timezone or "UTC")  # fmt: skip
    return AppointmentView(
        id=row.id, version=row.version, status=row.status, store=store, type_id=row.type_id,
        type_code=row.type_code, type_name=row.type_name, duration_minutes=row.duration_minutes,
        virtual=bool(row.virtual), starts_at=row.starts_at,
        local_start=row.starts_at.astimezone(ZoneInfo(store.timezone)),
        associate_name=row.associate_name, reason=row.reason or "",
        products=[str(p) for p in row.products_of_interest or []],
        sizes={str(k): str(v) for k, v in (row.sizes or {}).items()},
    )  # fmt: skip


# --- the day and time picker --------------------------------------------------------------------------


def day_label(day: date) -> str:
    """``Wednesday 25 November``: how a day reads on the booking pages."""
    return f"{day:%A} {day.day} {day:%B}"
