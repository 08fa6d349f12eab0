"""What the set-up screen reads: a store's week of hours, its closures ahead, its team's shifts and
time off, next to the types and booking rules of :mod:`rapport.appointments.setup`.

Reads only (every write is in :mod:`rapport.appointments.setup`), in a fixed number of statements
whatever the size of the team. Times of day are the store's wall-clock times; time off stays in
instants (UTC) for the screen to show in the store's zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import calendar
from rapport.appointments.models import OpeningHours, StoreClosure, TimeOff, WorkingHours
from rapport.appointments.setup import BookingSettings, TypeView, booking_settings, types_at
from rapport.associates.models import Associate
from rapport.db import one_of
from rapport.errors import NotFound

#: Weekday (0 = Monday) -> periods (starts, ends) in store time; a weekday left out is closed (or off).
WeekHours = dict[int, list[tuple[time, time]]]

#: Time off shown at once: a screen, not an archive.
TIME_OFF_SHOWN = 100


@dataclass(frozen=True)
class ClosureView:
    id: int
    first_day: date
    last_day: date
    reason: str


@dataclass(frozen=True)
class TeamWeek:
    """An associate of the store and their shifts there."""

    associate_id: int
    name: str
    week: WeekHours


@dataclass(frozen=True)
class TimeOffView:
    id: int
    associate_id: int
    associate_name: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    reason: str


@dataclass(frozen=True)
class StoreSetup:
    """Everything the set-up screen shows for one store."""

    store: calendar.StoreRef
    today: date  # the store's today
    hours: WeekHours
    closures: list[ClosureView]
    types: list[TypeView]
    settings: BookingSettings
    team: list[TeamWeek]
    time_off: list[TimeOffView]

    @property
    def is_blank(self) -> bool:
        """Nothing set up yet: no hours and nothing to book (the standard set-up is offered)."""
        return not self.hours and not self.types


def opening_week(session: Session, location_id: int) -> WeekHours:
    """The store's hours by weekday, each day's periods in order."""
    week: defaultdict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, opens, closes in session.execute(
        select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
        .where(OpeningHours.location_id == location_id)
        .order_by(OpeningHours.weekday, OpeningHours.opens)
    ):
        week[weekday].append((opens, closes))
    return dict(week)


def closures_from(session: Session, location_id: int, first_day: date) -> list[ClosureView]:
    """Closures still to come (or under way) on ``first_day``, soonest first."""
    rows = session.execute(
        select(StoreClosure.id, StoreClosure.first_day, StoreClosure.last_day, StoreClosure.reason)
        .where(StoreClosure.location_id == location_id, StoreClosure.last_day >= first_day)
        .order_by(StoreClosure.first_day, StoreClosure.id)
    )
    return [ClosureView(r.id, r.first_day, r.last_day, r.reason or "") for r in rows]


def team_weeks(session: Session, location_id: int) -> list[TeamWeek]:
    """Each active associate of the store (based there, listed there or with shifts there), with their
    shifts at this store, by name."""
    team = calendar.store_team(session, location_id)
    shifts: defaultdict[int, defaultdict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    for who, weekday, starts, ends in session.execute(
        select(WorkingHours.associate_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
        .where(WorkingHours.location_id == location_id)
        .order_by(WorkingHours.associate_id, WorkingHours.weekday, WorkingHours.starts)
    ):
        shifts[who][weekday].append((starts, ends))
    return [TeamWeek(m.id, m.name, dict(shifts.get(m.id, {}))) for m in team]


def time_off_ahead(session: Session, associate_ids: Iterable[int], now: datetime) -> list[TimeOffView]:
    """The associates' time off not yet over at ``now``, soonest first."""
    ids = sorted(set(associate_ids))
    if not ids:
        return []
    rows = session.execute(
        select(
            TimeOff.id, TimeOff.associate_id, Associate.display_name, TimeOff.starts_at, TimeOff.ends_at, TimeOff.reason
        )
        .join(Associate, Associate.id == TimeOff.associate_id)
        .where(one_of(session, TimeOff.associate_id, ids), TimeOff.ends_at > now)
        .order_by(TimeOff.starts_at, TimeOff.id)
        .limit(TIME_OFF_SHOWN)
    )
    return [TimeOffView(r.id, r.associate_id, r.display_name, r.starts_at, r.ends_at, r.reason or "") for r in rows]


def store_setup(session: Session, location_id: int, *, now: datetime | None = None) -> StoreSetup:
    """The whole set-up of one store, as the screen shows it."""
    found = calendar.stores(session, [location_id])
    if not found:
        raise NotFound(f"store {location_id} not found")
    store = found[0]
    moment = now or clock.now()
    today = calendar.today_in(store.timezone, moment)
    team = team_weeks(session, location_id)
    return StoreSetup(
        store=store,
        today=today,
        hours=opening_week(session, location_id),
        closures=closures_from(session, location_id, today),
        types=types_at(session, location_id, include_inactive=True),
        settings=booking_settings(session, location_id),
        team=team,
        time_off=time_off_ahead(session, (m.associate_id for m in team), moment),
    )
