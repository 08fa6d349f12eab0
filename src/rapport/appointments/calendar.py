"""Calendars: an associate's appointments across their stores, and a store's for its team, by day or week.

Days are the store's days: an appointment at 20:00 in New York (01:00 the next day in UTC) is on the
New York evening it happens, and a week that crosses a change of clocks keeps its wall times. An
associate working in two timezones sees each appointment on its own store's day.

One statement per calendar, whatever the range: the appointments of a window wide enough for every
timezone (UTC-12 to UTC+14), with their type, store, client and associate, kept when their local day
falls in the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select, union_all
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments.models import Appointment, AppointmentType, WorkingHours
from rapport.associates.models import Associate, AssociateLocation
from rapport.customers.models import Customer
from rapport.db import one_of, table_of
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location

APPOINTMENT = table_of(Appointment)
TYPE = table_of(AppointmentType)
LOCATION = table_of(Location)
CUSTOMER = table_of(Customer)
ASSOCIATE = table_of(Associate)
ASSOCIATE_LOCATION = table_of(AssociateLocation)
WORKING_HOURS = table_of(WorkingHours)

#: Every local day lies within these many hours of the same UTC day (UTC-12 .. UTC+14, and a margin).
_ZONE_MARGIN = timedelta(hours=15)
REASON_SHOWN = 140


@dataclass(frozen=True)
class CalendarItem:
    """One appointment as a calendar row shows it."""

    id: int
    location_id: int
    location_code: str
    location_name: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    type_name: str
    type_kind: str
    virtual: bool
    status: str
    outcome: str | None
    customer_id: int
    client_name: str
    tier: str | None
    associate_id: int | None
    associate_name: str | None
    reason: str  # the first words of why they come

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(self.timezone or "UTC"))

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(ZoneInfo(self.timezone or "UTC"))

    @property
    def day(self) -> date:
        """The store's day of the appointment."""
        return self.local_start.date()


@dataclass(frozen=True)
class CalendarDay:
    day: date
    items: list[CalendarItem]


@dataclass(frozen=True)
class StoreRef:
    id: int
    code: str
    name: str
    timezone: str


@dataclass(frozen=True)
class TeamMember:
    id: int
    name: str


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def day_of(
    session: Session,
    *,
    day: date,
    location_id: int | None = None,
    associate_id: int | None = None,
    include_cancelled: bool = True,
) -> list[CalendarItem]:
    """A store's appointments (``location_id``) or an associate's (``associate_id``) on one local day, by time."""
    return _between(session, day, day, location_id, associate_id, include_cancelled)[day]


def week_of(
    session: Session,
    *,
    day: date,
    location_id: int | None = None,
    associate_id: int | None = None,
    include_cancelled: bool = True,
) -> list[CalendarDay]:
    """The Monday-to-Sunday week holding ``day``, one :class:`CalendarDay` each (empty days included)."""
    first = week_start(day)
    last = first + timedelta(days=6)
    by_day = _between(session, first, last, location_id, associate_id, include_cancelled)
    return [CalendarDay(first + timedelta(days=n), by_day[first + timedelta(days=n)]) for n in range(7)]


def _between(
    session: Session,
    first: date,
    last: date,
    location_id: int | None,
    associate_id: int | None,
    include_cancelled: bool,
) -> defaultdict[date, list[CalendarItem]]:
    if (location_id is None) == (associate_id is None):
        raise ValueError("give a store (location_id) or an associate (associate_id), not both")
    window_start = datetime.combine(first, time(), UTC) - _ZONE_MARGIN
    window_end = datetime.combine(last + timedelta(days=1), time(), UTC) + _ZONE_MARGIN
    a = APPOINTMENT
    stmt = _select().where(a.c.starts_at >= window_start, a.c.starts_at < window_end).order_by(a.c.starts_at, a.c.id)
    if location_id is not None:
        stmt = stmt.where(a.c.location_id == location_id)
    else:
        stmt = stmt.where(a.c.associate_id == associate_id)
    if not include_cancelled:
        stmt = stmt.where(a.c.status != "cancelled")
    out: defaultdict[date, list[CalendarItem]] = defaultdict(list)
    for item in map(_item, session.execute(stmt)):
        if first <= item.day <= last:
            out[item.day].append(item)
    return out


def _select() -> Select[Any]:
    a, t, loc, c, who = APPOINTMENT, TYPE, LOCATION, CUSTOMER, ASSOCIATE
    return select(
        a.c.id, a.c.location_id, loc.c.code, loc.c.name.label("location_name"), loc.c.timezone, a.c.starts_at,
        a.c.ends_at, t.c.name.label("type_name"), t.c.kind, t.c.virtual, a.c.status, a.c.outcome, a.c.customer_id,
        c.c.first_name, c.c.last_name, c.c.tier, a.c.associate_id, who.c.display_name, a.c.reason,
    ).select_from(
        a.join(t, t.c.id == a.c.type_id).join(loc, loc.c.id == a.c.location_id)
        .join(c, c.c.id == a.c.customer_id).outerjoin(who, who.c.id == a.c.associate_id)
    )  # fmt: skip


def _item(r: Any) -> CalendarItem:
    reason = r.reason or ""
    return CalendarItem(
        id=r.id, location_id=r.location_id, location_code=r.code, location_name=r.location_name,
        timezone=r.timezone or "UTC", starts_at=r.starts_at, ends_at=r.ends_at, type_name=r.type_name,
        type_kind=r.kind, virtual=bool(r.virtual), status=r.status, outcome=r.outcome, customer_id=r.customer_id,
        client_name=" ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.customer_id}",
        tier=r.tier, associate_id=r.associate_id, associate_name=r.display_name,
        reason=reason if len(reason) <= REASON_SHOWN else reason[: REASON_SHOWN - 1] + "…",
    )  # fmt: skip


# -- a client's appointments (the profile's section) ------------------------------------------------------


@dataclass(frozen=True)
class ClientAppointments:
    upcoming: list[CalendarItem]  # soonest first (cancelled ones left out)
    past: list[CalendarItem]  # latest first, with their outcome


def of_client(
    session: Session, customer_id: int, *, limit: int = 5, now: datetime | None = None, resolved: bool = False
) -> ClientAppointments:
    """A client's next appointments and their latest past ones (a merged-away id answers for its survivor;
    ``resolved``: the caller already has the survivor's id).

    An appointment still going on (it started, has not ended) counts as upcoming. One statement: the
    two lists' rows together, each cut to ``limit``.
    """
    cid = customer_id if resolved else resolve_id(session, customer_id)
    moment = now or clock.now()
    a = APPOINTMENT
    upcoming = (
        _select().where(a.c.customer_id == cid, a.c.ends_at > moment, a.c.status != "cancelled")
        .order_by(a.c.starts_at, a.c.id).limit(limit).subquery()
    )  # fmt: skip
    past = (
        _select().where(a.c.customer_id == cid, a.c.ends_at <= moment)
        .order_by(a.c.starts_at.desc(), a.c.id.desc()).limit(limit).subquery()
    )  # fmt: skip
    rows = session.execute(union_all(select(upcoming), select(past))).all()
    ahead = sorted((r for r in rows if r.ends_at > moment), key=lambda r: (r.starts_at, r.id))
    behind = sorted((r for r in rows if r.ends_at <= moment), key=lambda r: (r.starts_at, r.id), reverse=True)
    return ClientAppointments([_item(r) for r in ahead], [_item(r) for r in behind])


# -- who and where -------------------------------------------------------------------------------------


def stores(session: Session, location_ids: Iterable[int] | None = None) -> list[StoreRef]:
    """Stores by name: those given, or every store."""
    stmt = select(LOCATION.c.id, LOCATION.c.code, LOCATION.c.name, LOCATION.c.timezone).where(
        LOCATION.c.kind == "store"
    )
    if location_ids is not None:
        ids = sorted(set(location_ids))
        if not ids:
            return []
        stmt = stmt.where(one_of(session, LOCATION.c.id, ids))
    rows = session.execute(stmt.order_by(LOCATION.c.name, LOCATION.c.id))
    return [StoreRef(r.id, r.code, r.name, r.timezone or "UTC") for r in rows]


def store_team(session: Session, location_id: int) -> list[TeamMember]:
    """Active associates of a store: based there, listed there, or with shifts there — by name."""
    listed = select(ASSOCIATE_LOCATION.c.associate_id).where(ASSOCIATE_LOCATION.c.location_id == location_id)
    shifts = select(WORKING_HOURS.c.associate_id).where(WORKING_HOURS.c.location_id == location_id)
    rows = session.execute(
        select(ASSOCIATE.c.id, ASSOCIATE.c.display_name)
        .where(ASSOCIATE.c.active.is_(True))
        .where(
            or_(
                ASSOCIATE.c.home_location_id == location_id,
                ASSOCIATE.c.id.in_(listed),
                ASSOCIATE.c.id.in_(shifts),
            )
        )
        .order_by(ASSOCIATE.c.display_name, ASSOCIATE.c.id)
    )
    return [TeamMember(r.id, r.display_name) for r in rows]


def home_store_id(session: Session, associate_id: int) -> int | None:
    """Where the associate is based: their calendar's "today" is that store's."""
    return session.scalar(select(ASSOCIATE.c.home_location_id).where(ASSOCIATE.c.id == associate_id))


def today_in(zone: str | None, now: datetime) -> date:
    """``now``'s date in a store's timezone (UTC without one)."""
    return now.astimezone(ZoneInfo(zone or "UTC")).date()
