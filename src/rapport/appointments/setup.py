"""Setting a store up for appointments: hours, closures, what can be booked, rooms and booking rules,
and who works when.

Each write checks its input and refuses it with :class:`~rapport.errors.InvalidRecord` naming the
field, so the demo, the JSON API and the tests share one set of rules. Times of day are wall-clock
times in the store's timezone; time off is a span of instants (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rapport.appointments.models import (
    APPOINTMENT_KINDS,
    AppointmentSettings,
    AppointmentType,
    OpeningHours,
    StoreClosure,
    TimeOff,
    WorkingHours,
)
from rapport.associates.models import Associate
from rapport.db import table_of
from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.models import Location

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: A week of hours: weekday (0 = Monday) -> periods (opens, closes); a missing weekday is closed.
Week = Mapping[int, Sequence[tuple[time, time]]]

ROOMS = (1, 50)
SLOT_MINUTES = (5, 120)
NOTICE_MINUTES = (0, 7 * 24 * 60)
DAYS_AHEAD = (1, 365)
DURATION_MINUTES = (5, 480)
BUFFER_MINUTES = (0, 120)
#: Time off longer than this is a leave, not an absence: refused as a likely typo.
MAX_TIME_OFF_DAYS = 366


@dataclass(frozen=True)
class BookingSettings:
    """A store's booking rules: appointments at once, slot step, how soon and how far ahead."""

    rooms: int
    slot_minutes: int
    min_notice_minutes: int
    max_days_ahead: int


@dataclass(frozen=True)
class TypeView:
    """What a store offers, as screens and the API show it."""

    id: int
    code: str
    kind: str
    name: str
    description: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    virtual: bool
    active: bool


def _model_default(column: str) -> int:
    """The model's default for a settings column: one source for "a store without a row"."""
    default = table_of(AppointmentSettings).c[column].default
    assert default is not None and default.is_scalar
    return int(default.arg)  # type: ignore[attr-defined]


#: What a store without an ``appointment_settings`` row uses.
DEFAULT_SETTINGS = BookingSettings(
    rooms=_model_default("rooms"),
    slot_minutes=_model_default("slot_minutes"),
    min_notice_minutes=_model_default("min_notice_minutes"),
    max_days_ahead=_model_default("max_days_ahead"),
)


# --- reads ------------------------------------------------------------------------------------------


def booking_settings(session: Session, location_id: int) -> BookingSettings:
    """The store's booking rules, or the defaults when it has none saved."""
    row = session.get(AppointmentSettings, location_id)
    if row is None:
        return DEFAULT_SETTINGS
    return BookingSettings(row.rooms, row.slot_minutes, row.min_notice_minutes, row.max_days_ahead)


def types_at(session: Session, location_id: int, *, include_inactive: bool = False) -> list[TypeView]:
    """The appointment types of a store, in the order they were created (the order the store chose)."""
    query = select(AppointmentType).where(AppointmentType.location_id == location_id).order_by(AppointmentType.id)
    if not include_inactive:
        query = query.where(AppointmentType.active.is_(True))
    return [
        TypeView(
            id=t.id,
            code=t.code,
            kind=t.kind,
            name=t.name,
            description=t.description,
            duration_minutes=t.duration_minutes,
            buffer_before_minutes=t.buffer_before_minutes,
            buffer_after_minutes=t.buffer_after_minutes,
            virtual=t.virtual,
            active=t.active,
        )
        for t in session.scalars(query)
    ]


# --- writes -----------------------------------------------------------------------------------------


def set_opening_hours(session: Session, location_id: int, week: Week) -> None:
    """Replace the store's whole week of hours (a weekday left out is closed)."""
    _store(session, location_id)
    periods = _week(week)
    session.execute(delete(OpeningHours).where(OpeningHours.location_id == location_id))
    session.add_all(
        OpeningHours(location_id=location_id, weekday=day, opens=opens, closes=closes) for day, opens, closes in periods
    )
    session.flush()


def add_closure(session: Session, location_id: int, first_day: date, last_day: date, reason: str = "") -> int:
    """Close the store for whole days (a holiday, a refit), first and last day included."""
    _store(session, location_id)
    if isinstance(first_day, datetime) or not isinstance(first_day, date):
        raise InvalidRecord.one("first_day", "must be a date")
    if isinstance(last_day, datetime) or not isinstance(last_day, date):
        raise InvalidRecord.one("last_day", "must be a date")
    if last_day < first_day:
        raise InvalidRecord.one("last_day", f"is before the first day ({first_day.isoformat()})")
    reason = _text("reason", reason, 200)
    closure = StoreClosure(location_id=location_id, first_day=first_day, last_day=last_day, reason=reason)
    session.add(closure)
    session.flush()
    return closure.id


def remove_closure(session: Session, location_id: int, closure_id: int) -> None:
    """The store opens after all on those days (a closure entered by mistake, a refit postponed)."""
    deleted = session.execute(
        delete(StoreClosure).where(StoreClosure.id == closure_id, StoreClosure.location_id == location_id)
    )
    if not getattr(deleted, "rowcount", 0):
        raise NotFound(f"closure {closure_id} not found at this store")


def save_appointment_type(
    session: Session,
    location_id: int,
    *,
    code: str,
    kind: str,
    name: str,
    duration_minutes: int,
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    virtual: bool = False,
    description: str = "",
    active: bool = True,
) -> int:
    """Create or update (by store and code) something clients can book; returns its id."""
    _store(session, location_id)
    code = _text("code", code, 32, required=True)
    if kind not in APPOINTMENT_KINDS:
        raise InvalidRecord.one("kind", f"must be one of {', '.join(APPOINTMENT_KINDS)}")
    if kind == "virtual" and not virtual:
        raise InvalidRecord.one("virtual", "a virtual consultation is held by video: virtual must be true")
    values: dict[str, Any] = {
        "name": _text("name", name, 100, required=True),
        "description": _text("description", description, 500),
        "kind": kind,
        "duration_minutes": _within("duration_minutes", duration_minutes, DURATION_MINUTES),
        "buffer_before_minutes": _within("buffer_before_minutes", buffer_before_minutes, BUFFER_MINUTES),
        "buffer_after_minutes": _within("buffer_after_minutes", buffer_after_minutes, BUFFER_MINUTES),
        "virtual": bool(virtual),
        "active": bool(active),
    }
    offer = session.scalars(
        select(AppointmentType).where(AppointmentType.location_id == location_id, AppointmentType.code == code)
    ).one_or_none()
    if offer is None:
        offer = AppointmentType(location_id=location_id, code=code)
        session.add(offer)
    for key, value in values.items():
        setattr(offer, key, value)
    session.flush()
    return offer.id


def save_settings(
    session: Session,
    location_id: int,
    *,
    rooms: int | None = None,
    slot_minutes: int | None = None,
    min_notice_minutes: int | None = None,
    max_days_ahead: int | None = None,
) -> None:
    """Change some of the store's booking rules; those not given keep their value (or the default)."""
    _store(session, location_id)
    current = booking_settings(session, location_id)
    if rooms is not None:
        _within("rooms", rooms, ROOMS)
    if slot_minutes is not None:
        _within("slot_minutes", slot_minutes, SLOT_MINUTES)
        if 60 % slot_minutes and slot_minutes % 15:
            raise InvalidRecord.one("slot_minutes", "must divide an hour (5, 10, 15, 20, 30) or be a multiple of 15")
    if min_notice_minutes is not None:
        _within("min_notice_minutes", min_notice_minutes, NOTICE_MINUTES)
    if max_days_ahead is not None:
        _within("max_days_ahead", max_days_ahead, DAYS_AHEAD)
    values = {
        "rooms": current.rooms if rooms is None else rooms,
        "slot_minutes": current.slot_minutes if slot_minutes is None else slot_minutes,
        "min_notice_minutes": current.min_notice_minutes if min_notice_minutes is None else min_notice_minutes,
        "max_days_ahead": current.max_days_ahead if max_days_ahead is None else max_days_ahead,
    }
    row = session.get(AppointmentSettings, location_id)
    if row is None:
        row = AppointmentSettings(location_id=location_id)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()


def set_working_hours(session: Session, associate_id: int, location_id: int, week: Week) -> None:
    """Replace an associate's weekly shifts at one store (their shifts at other stores stay)."""
    _associate(session, associate_id)
    _store(session, location_id)
    periods = _week(week, opens_field="starts", closes_field="ends")
    session.execute(
        delete(WorkingHours).where(WorkingHours.associate_id == associate_id, WorkingHours.location_id == location_id)
    )
    session.add_all(
        WorkingHours(associate_id=associate_id, location_id=location_id, weekday=day, starts=starts, ends=ends)
        for day, starts, ends in periods
    )
    session.flush()


def add_time_off(session: Session, associate_id: int, starts_at: datetime, ends_at: datetime, reason: str = "") -> int:
    """An associate away (holiday, training, a doctor's appointment): no bookings for them meanwhile."""
    _associate(session, associate_id)
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRecord.one(field, "must be a date and time with its timezone")
    if ends_at <= starts_at:
        raise InvalidRecord.one("ends_at", "must be after the start")
    if (ends_at - starts_at).days > MAX_TIME_OFF_DAYS:
        raise InvalidRecord.one("ends_at", f"time off lasts at most {MAX_TIME_OFF_DAYS} days")
    away = TimeOff(
        associate_id=associate_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=_text("reason", reason, 200),
    )
    session.add(away)
    session.flush()
    return away.id


def remove_time_off(session: Session, associate_id: int, time_off_id: int) -> None:
    """The associate is in after all: their time is bookable again."""
    deleted = session.execute(delete(TimeOff).where(TimeOff.id == time_off_id, TimeOff.associate_id == associate_id))
    if not getattr(deleted, "rowcount", 0):
        raise NotFound(f"time off {time_off_id} not found for this associate")


def default_setup(session: Session, location_id: int) -> None:
    """A believable fashion store: Mon–Sat 10:00–19:00, Sun 12:00–18:00, five kinds of visit, two rooms.

    Safe to run again: hours are replaced, types updated by code, settings overwritten.
    """
    weekdays = [(time(10), time(19))]
    set_opening_hours(session, location_id, {**dict.fromkeys(range(6), weekdays), 6: [(time(12), time(18))]})
    for offer in DEFAULT_TYPES:
        save_appointment_type(session, location_id, **offer)
    save_settings(session, location_id, rooms=2)


#: The five visits of :func:`default_setup`.
DEFAULT_TYPES: tuple[dict[str, Any], ...] = (
    {
        "code": "styling",
        "kind": "styling",
        "name": "Styling session",
        "description": "An hour with a stylist: looks put together for you, in your sizes, ready in the room.",
        "duration_minutes": 60,
        "buffer_after_minutes": 15,
    },
    {
        "code": "alterations",
        "kind": "alterations",
        "name": "Alterations",
        "description": "Hems, sleeves and waists pinned by our tailor.",
        "duration_minutes": 30,
    },
    {
        "code": "fitting",
        "kind": "fitting",
        "name": "Fitting",
        "description": "Try on a made-to-measure or altered piece.",
        "duration_minutes": 45,
        "buffer_after_minutes": 10,
    },
    {
        "code": "virtual",
        "kind": "virtual",
        "name": "Virtual consultation",
        "description": "A video call with an associate, from wherever you are.",
        "duration_minutes": 30,
        "virtual": True,
    },
    {
        "code": "pickup",
        "kind": "pickup",
        "name": "Pick-up",
        "description": "Collect your order or an item we put aside for you.",
        "duration_minutes": 15,
    },
)


# --- checks -----------------------------------------------------------------------------------------


def _store(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise InvalidRecord.one("location_id", "unknown store")
    if location.kind != "store":
        raise InvalidRecord.one("location_id", f"{location.code} is a {location.kind}: appointments are for stores")
    return location


def _associate(session: Session, associate_id: int) -> Associate:
    associate = session.get(Associate, associate_id)
    if associate is None:
        raise InvalidRecord.one("associate_id", "unknown associate")
    return associate


def _week(week: Week, *, opens_field: str = "opens", closes_field: str = "closes") -> list[tuple[int, time, time]]:
    """The periods of a week, checked: weekdays 0..6, whole minutes, start before end, no overlaps in a day."""
    out: list[tuple[int, time, time]] = []
    for day, periods in week.items():
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise InvalidRecord.one("weekday", f"{day!r} is not a weekday (0 = Monday … 6 = Sunday)")
        name = WEEKDAYS[day]
        ordered = sorted(periods, key=lambda p: p[0])
        for opens, closes in ordered:
            for field, value in ((opens_field, opens), (closes_field, closes)):
                if not isinstance(value, time) or value.tzinfo is not None:
                    raise InvalidRecord.one(field, f"{name}: {value!r} is not a time of day (store time, no timezone)")
                if value.second or value.microsecond:
                    raise InvalidRecord.one(field, f"{name}: {value.isoformat()} is not a whole minute")
            if closes <= opens:
                raise InvalidRecord.one(closes_field, f"{name}: {closes:%H:%M} is not after {opens:%H:%M}")
        for (a_opens, a_closes), (b_opens, b_closes) in pairwise(ordered):
            if b_opens < a_closes:
                raise InvalidRecord.one(
                    opens_field,
                    f"{name}: {b_opens:%H:%M}–{b_closes:%H:%M} overlaps {a_opens:%H:%M}–{a_closes:%H:%M}",
                )
        out.extend((day, opens, closes) for opens, closes in ordered)
    return out


def _within(field: str, value: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRecord.one(field, f"must be a whole number from {low} to {high}")
    return value


def _text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRecord.one(field, "must be text")
    value = value.strip()
    if required and not value:
        raise InvalidRecord.one(field, "is required")
    if len(value) > limit:
        raise InvalidRecord.one(field, f"at most {limit} characters")
    return value
