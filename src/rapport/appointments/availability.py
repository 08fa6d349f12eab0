"""When a client can come: the free slots of a store for one kind of visit, and why a time is not bookable.

A slot is a start on the store's grid (from each opening period's start, every ``slot_minutes``)
where the visit and its buffers fit inside that period, on a day the store is open, neither too
soon (``min_notice_minutes``) nor too far ahead (``max_days_ahead``), with a room free (unless the
visit is held by video) and an associate free: working at that store then, not on time off, and not
busy with another appointment anywhere.

Opening hours and shifts are wall-clock times in the store's zone; they become instants for each
day with :mod:`zoneinfo`, so a day on which clocks change has its real length. A start whose wall
time does not exist (the spring-forward gap) is skipped; a wall time that happens twice (fall
back) means its first occurrence (``fold=0``).

Each request loads what it needs in a fixed number of statements (the store, its rules, the type,
hours, closures, shifts, time off and the appointments of the range) and computes in Python: a
date picker's sixty days cost what one day costs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments.models import (
    Appointment,
    AppointmentType,
    OpeningHours,
    StoreClosure,
    TimeOff,
    WorkingHours,
)
from rapport.appointments.setup import WEEKDAYS, BookingSettings, booking_settings
from rapport.associates.models import Associate
from rapport.db import one_of
from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.models import Location

#: Appointments that take a room and an associate's time. A cancelled visit or a no-show frees both.
OCCUPYING = ("booked", "checked_in", "completed")
#: The longest range :func:`bookable_days` answers for at once.
MAX_RANGE_DAYS = 366

#: What stands in a chosen associate's way, as the client reads it.
OBSTACLES = {"working": "is not working then", "away": "is on time off", "busy": "has another appointment then"}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Slot:
    """A bookable start for one kind of visit."""

    starts_at: datetime  # UTC, the visit's start
    ends_at: datetime  # UTC, the visit's end (buffers not included)
    local_start: datetime  # the same instant in the store's timezone, for display
    #: The associates free for it, the one a booking would pick first (fewest appointments that day, then id).
    associate_ids: tuple[int, ...]


def store_zone(session: Session, location_id: int) -> ZoneInfo:
    """The store's timezone (its opening hours and shifts are wall-clock times there)."""
    zone = session.scalar(select(Location.timezone).where(Location.id == location_id))
    if zone is None:
        raise NotFound("store not found")
    return ZoneInfo(zone)


def free_slots(
    session: Session,
    *,
    location_id: int,
    type_id: int,
    day: date,
    associate_id: int | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Every bookable start of ``day`` (the store's local day) for this type, with or without a chosen associate."""
    calendar = _Calendar.load(session, location_id, type_id, day, day, associate_id, _now(now), None)
    return calendar.slots(day)


def bookable_days(
    session: Session,
    *,
    location_id: int,
    type_id: int,
    start: date,
    days: int,
    associate_id: int | None = None,
    now: datetime | None = None,
) -> list[tuple[date, int]]:
    """How many free slots each local day from ``start`` has (zero included), for a date picker."""
    if isinstance(days, bool) or not 1 <= days <= MAX_RANGE_DAYS:
        raise InvalidRecord.one("days", f"must be from 1 to {MAX_RANGE_DAYS}")
    last = start + timedelta(days=days - 1)
    calendar = _Calendar.load(session, location_id, type_id, start, last, associate_id, _now(now), None)
    return [(d, len(calendar.slots(d))) for d in _days(start, last)]


def check_slot(
    session: Session,
    *,
    location_id: int,
    type_id: int,
    starts_at: datetime,
    associate_id: int | None = None,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> int:
    """The associate who would take this visit, or :class:`InvalidRecord` saying why it cannot be booked.

    Without a chosen associate, the free one with the fewest appointments that day (then the lowest
    id) takes it. ``exclude_appointment_id`` is the appointment being moved: it does not stand in
    its own way.
    """
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise InvalidRecord.one("starts_at", "must be a date and time with its timezone")
    starts_at = starts_at.astimezone(UTC)
    zone = store_zone(session, location_id)
    day = starts_at.astimezone(zone).date()
    calendar = _Calendar.load(
        session, location_id, type_id, day, day, associate_id, _now(now), exclude_appointment_id, zone=zone
    )
    return calendar.check(starts_at, associate_id)


# --- the calendar of a store over a range of days ----------------------------------------------------


@dataclass(frozen=True)
class _Offer:
    duration: timedelta
    before: timedelta
    after: timedelta
    virtual: bool


@dataclass(frozen=True)
class _Busy:
    """An appointment that takes time: a room at its store (unless virtual) and its associate."""

    id: int
    location_id: int
    associate_id: int | None
    starts_at: datetime
    blocked_from: datetime
    blocked_until: datetime
    takes_room: bool

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.blocked_from < end and self.blocked_until > start


@dataclass
class _Day:
    """One local day's instants and the appointments and absences that touch it."""

    day: date
    periods: list[tuple[datetime, datetime, list[datetime]]]  # opens, closes, grid starts (UTC)
    rooms_taken: list[_Busy]
    busy: dict[int, list[_Busy]]
    away: dict[int, list[tuple[datetime, datetime]]]
    shifts: dict[int, list[tuple[datetime, datetime]]]
    appointments: Counter[int]

    def period_of(self, start: datetime) -> tuple[datetime, datetime, list[datetime]] | None:
        return next((p for p in self.periods if p[0] <= start < p[1]), None)

    def obstacle(self, associate_id: int, start: datetime, end: datetime) -> str | None:
        """Why this associate cannot take ``[start, end)`` ("working", "away", "busy"), or None."""
        if not any(s <= start and end <= e for s, e in self.shifts.get(associate_id, ())):
            return "working"
        if any(s < end and e > start for s, e in self.away.get(associate_id, ())):
            return "away"
        if any(b.overlaps(start, end) for b in self.busy.get(associate_id, ())):
            return "busy"
        return None

    def free_associates(self, start: datetime, end: datetime) -> tuple[int, ...]:
        free = [a for a in self.shifts if self.obstacle(a, start, end) is None]
        return tuple(sorted(free, key=lambda a: (self.appointments[a], a)))

    def room_free(self, start: datetime, end: datetime, rooms: int) -> bool:
        """Fewer than ``rooms`` visits at once at any moment of ``[start, end)``."""
        overlapping = [b for b in self.rooms_taken if b.overlaps(start, end)]
        if len(overlapping) < rooms:
            return True
        moments = {start, *(b.blocked_from for b in overlapping if b.blocked_from > start)}
        peak = max(sum(1 for b in overlapping if b.blocked_from <= m < b.blocked_until) for m in moments)
        return peak < rooms


@dataclass
class _Calendar:
    location_id: int
    zone: ZoneInfo
    rules: BookingSettings
    offer: _Offer
    now: datetime
    hours: dict[int, list[tuple[time, time]]]
    closures: list[tuple[date, date, str]]
    shifts: dict[int, dict[int, list[tuple[time, time]]]]
    away: dict[int, list[tuple[datetime, datetime]]]
    busy: list[_Busy]
    chosen: tuple[int, str, bool] | None = None  # the associate asked for: id, name, active
    _by_day: dict[date, _Day] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        session: Session,
        location_id: int,
        type_id: int,
        first: date,
        last: date,
        associate_id: int | None,
        now: datetime,
        exclude_appointment_id: int | None,
        *,
        zone: ZoneInfo | None = None,
    ) -> _Calendar:
        """Everything the days ``first..last`` need, in a fixed number of statements whatever the range."""
        zone = zone or store_zone(session, location_id)
        rules = booking_settings(session, location_id)
        offer = _offer(session, location_id, type_id)
        chosen = None
        if associate_id is not None:
            row = session.execute(
                select(Associate.display_name, Associate.active).where(Associate.id == associate_id)
            ).one_or_none()
            if row is None:
                raise InvalidRecord.one("associate_id", "unknown associate")
            chosen = (associate_id, row.display_name, row.active)

        hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
        for weekday, opens, closes in session.execute(
            select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
            .where(OpeningHours.location_id == location_id)
            .order_by(OpeningHours.weekday, OpeningHours.opens)
        ):
            hours[weekday].append((opens, closes))
        closures = [
            (r.first_day, r.last_day, r.reason)
            for r in session.execute(
                select(StoreClosure.first_day, StoreClosure.last_day, StoreClosure.reason).where(
                    StoreClosure.location_id == location_id,
                    StoreClosure.first_day <= last,
                    StoreClosure.last_day >= first,
                )
            )
        ]

        shift_query = (
            select(WorkingHours.associate_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
            .join(Associate, Associate.id == WorkingHours.associate_id)
            .where(WorkingHours.location_id == location_id, Associate.active.is_(True))
            .order_by(WorkingHours.associate_id, WorkingHours.weekday, WorkingHours.starts)
        )
        if associate_id is not None:
            shift_query = shift_query.where(WorkingHours.associate_id == associate_id)
        shifts: dict[int, dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
        for who, weekday, starts, ends in session.execute(shift_query):
            shifts[who][weekday].append((starts, ends))
        staff = sorted(shifts)

        # Blocked intervals lie within a local day; a day either side covers any zone's oddities.
        window_start = _at(first - timedelta(days=1), time(), zone)
        window_end = _at(last + timedelta(days=2), time(), zone)
        away: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        if staff:
            for who, starts_at, ends_at in session.execute(
                select(TimeOff.associate_id, TimeOff.starts_at, TimeOff.ends_at).where(
                    one_of(session, TimeOff.associate_id, staff),
                    TimeOff.starts_at < window_end,
                    TimeOff.ends_at > window_start,
                )
            ):
                away[who].append((starts_at, ends_at))

        here = Appointment.location_id == location_id
        busy_query = (
            select(
                Appointment.id,
                Appointment.location_id,
                Appointment.associate_id,
                Appointment.starts_at,
                Appointment.blocked_from,
                Appointment.blocked_until,
                AppointmentType.virtual,
            )
            .join(AppointmentType, AppointmentType.id == Appointment.type_id)
            .where(
                or_(here, one_of(session, Appointment.associate_id, staff)) if staff else here,
                Appointment.status.in_(OCCUPYING),
                Appointment.blocked_from < window_end,
                Appointment.blocked_until > window_start,
            )
        )
        busy = [
            _Busy(r.id, r.location_id, r.associate_id, r.starts_at, r.blocked_from, r.blocked_until, not r.virtual)
            for r in session.execute(busy_query)
            if r.id != exclude_appointment_id
        ]
        return cls(
            location_id=location_id,
            zone=zone,
            rules=rules,
            offer=offer,
            now=now,
            hours=dict(hours),
            closures=closures,
            shifts={a: dict(week) for a, week in shifts.items()},
            away=dict(away),
            busy=busy,
            chosen=chosen,
        )

    # --- what the store can offer ---------------------------------------------------------------

    def slots(self, day: date) -> list[Slot]:
        if not self._bookable_day(day) or self._closure(day) is not None:
            return []
        today = self._day(day)
        earliest = self.now + timedelta(minutes=self.rules.min_notice_minutes)
        out: list[Slot] = []
        for opens, closes, starts in today.periods:
            for start in starts:
                if start < earliest:
                    continue
                block_from, block_until = self._blocked(start)
                if block_from < opens or block_until > closes:
                    continue
                if not self.offer.virtual and not today.room_free(block_from, block_until, self.rules.rooms):
                    continue
                free = today.free_associates(block_from, block_until)
                if free:
                    out.append(Slot(start, start + self.offer.duration, start.astimezone(self.zone), free))
        return out

    def check(self, start: datetime, associate_id: int | None) -> int:
        """The associate for a visit at ``start``, or the first reason it cannot be booked."""
        local = start.astimezone(self.zone)
        day = local.date()
        if start < self.now:
            raise InvalidRecord.one("starts_at", "in the past")
        if (day - self.now.astimezone(self.zone).date()).days > self.rules.max_days_ahead:
            raise InvalidRecord.one("starts_at", f"more than {self.rules.max_days_ahead} days ahead")
        closure = self._closure(day)
        if closure is not None:
            reason = closure[2]
            why = f" ({reason})" if reason else ""
            raise InvalidRecord.one("starts_at", f"the store is closed on {_day_label(day)}{why}")
        weekday = day.weekday()
        if not self.hours.get(weekday):
            raise InvalidRecord.one("starts_at", f"the store is closed on {WEEKDAYS[weekday]}s")
        today = self._day(day)
        hours = f"{_hours_label(self.hours[weekday])} on {WEEKDAYS[weekday]}s"
        period = today.period_of(start)
        if period is None:
            raise InvalidRecord.one("starts_at", f"outside opening hours ({hours})")
        opens, closes, starts = period
        if start not in starts:
            raise InvalidRecord.one("starts_at", f"not on the {self.rules.slot_minutes}-minute grid")
        block_from, block_until = self._blocked(start)
        if block_until > closes:
            raise InvalidRecord.one("starts_at", f"ends after closing time ({hours})")
        if block_from < opens:
            raise InvalidRecord.one("starts_at", f"too soon after opening ({hours})")
        if start < self.now + timedelta(minutes=self.rules.min_notice_minutes):
            raise InvalidRecord.one("starts_at", f"less than {_span_label(self.rules.min_notice_minutes)} ahead")
        if not self.offer.virtual and not today.room_free(block_from, block_until, self.rules.rooms):
            raise InvalidRecord.one("starts_at", f"fully booked at {local:%H:%M}")
        if self.chosen is not None:
            chosen, name, active = self.chosen
            if not active:
                raise InvalidRecord.one("associate_id", f"{name} is no longer with the team")
            obstacle = today.obstacle(chosen, block_from, block_until)
            if obstacle is not None:
                raise InvalidRecord.one("associate_id", f"{name} {OBSTACLES[obstacle]}")
            return chosen
        free = today.free_associates(block_from, block_until)
        if not free:
            raise InvalidRecord.one("starts_at", f"no associate is free at {local:%H:%M}")
        return free[0]

    # --- helpers --------------------------------------------------------------------------------

    def _blocked(self, start: datetime) -> tuple[datetime, datetime]:
        return start - self.offer.before, start + self.offer.duration + self.offer.after

    def _bookable_day(self, day: date) -> bool:
        ahead = (day - self.now.astimezone(self.zone).date()).days
        return 0 <= ahead <= self.rules.max_days_ahead

    def _closure(self, day: date) -> tuple[date, date, str] | None:
        return next((c for c in self.closures if c[0] <= day <= c[1]), None)

    def _day(self, day: date) -> _Day:
        """The day's instants and who is taken when, computed once per day."""
        if day in self._by_day:
            return self._by_day[day]
        zone, weekday = self.zone, day.weekday()
        day_start, day_end = _at(day, time(), zone), _at(day + timedelta(days=1), time(), zone)
        periods = [
            (
                _at(day, opens, zone),
                _at(day, closes, zone),
                list(_grid(day, opens, closes, self.rules.slot_minutes, zone)),
            )
            for opens, closes in self.hours.get(weekday, ())
        ]
        touching = [b for b in self.busy if b.overlaps(day_start, day_end)]
        busy: dict[int, list[_Busy]] = defaultdict(list)
        for b in touching:
            if b.associate_id is not None:
                busy[b.associate_id].append(b)
        shifts = {
            who: _merged([(_at(day, s, zone), _at(day, e, zone)) for s, e in week.get(weekday, ())])
            for who, week in self.shifts.items()
            if week.get(weekday)
        }
        result = _Day(
            day=day,
            periods=periods,
            rooms_taken=[b for b in touching if b.takes_room and b.location_id == self.location_id],
            busy=dict(busy),
            away={who: [(s, e) for s, e in spans if s < day_end and e > day_start] for who, spans in self.away.items()},
            shifts=shifts,
            appointments=Counter(
                b.associate_id for b in touching if b.associate_id is not None and day_start <= b.starts_at < day_end
            ),
        )
        self._by_day[day] = result
        return result


def _offer(session: Session, location_id: int, type_id: int) -> _Offer:
    row = session.execute(
        select(
            AppointmentType.location_id,
            AppointmentType.active,
            AppointmentType.duration_minutes,
            AppointmentType.buffer_before_minutes,
            AppointmentType.buffer_after_minutes,
            AppointmentType.virtual,
        ).where(AppointmentType.id == type_id)
    ).one_or_none()
    if row is None or row.location_id != location_id:
        raise InvalidRecord.one("type_id", "unknown appointment type")
    if not row.active:
        raise InvalidRecord.one("type_id", "this appointment type is no longer offered")
    return _Offer(
        duration=timedelta(minutes=row.duration_minutes),
        before=timedelta(minutes=row.buffer_before_minutes),
        after=timedelta(minutes=row.buffer_after_minutes),
        virtual=row.virtual,
    )


# --- wall clock to instants --------------------------------------------------------------------------


def _at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time. In a spring-forward gap, as if clocks had not moved yet (so an
    opening at 02:30 on that day is at 03:30); a time that happens twice means the first (fold=0)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _existing(day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall time, or None when clocks skip it (the spring-forward gap)."""
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _grid(day: date, opens: time, closes: time, step_minutes: int, zone: ZoneInfo) -> Iterator[datetime]:
    """Starts every ``step_minutes`` of wall time from ``opens`` until ``closes``, as UTC; skipped times left out."""
    wall, end, step = datetime.combine(day, opens), datetime.combine(day, closes), timedelta(minutes=step_minutes)
    while wall < end:
        instant = _existing(day, wall.time(), zone)
        if instant is not None:
            yield instant
        wall += step


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Back-to-back shifts (10–14, 14–19) as one, so a visit across the change is covered."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return clock.now()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone (UTC offset)")
    return now.astimezone(UTC)


# --- words ------------------------------------------------------------------------------------------


def _day_label(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def _hours_label(periods: list[tuple[time, time]]) -> str:
    spans = [f"{opens:%H:%M}–{closes:%H:%M}" for opens, closes in periods]
    return spans[0] if len(spans) == 1 else f"{', '.join(spans[:-1])} and {spans[-1]}"


def _span_label(minutes: int) -> str:
    if minutes >= 1440 and minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'s' if days > 1 else ''}"
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
