"""Calendars in the store's time: a store's day and week for its team, an associate's across their stores.

The world is the brief's (``tests.appointments.test_brief.world``): Paris (Europe/Paris) with Ana and
Max, New York (America/New_York) with Ben. In 2026 Paris leaves summer time on Sunday 25 October,
New York on Sunday 1 November.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest

from rapport.appointments import booking, setup
from rapport.appointments.calendar import CalendarItem, day_of, of_client, store_team, stores, week_of, week_start
from rapport.db import Database
from tests.appointments.test_brief import NEW_YORK, PARIS, TUESDAY_11, World, as_associate, book, world
from tests.associates.staff import cheap_hashing
from tests.customers.clientele import ok
from tests.statements import statements

TUESDAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def w(db: Database) -> World:
    return world(db)


def rows(items: list[CalendarItem]) -> list[tuple[str, str, str]]:
    """(local day and time, client, store code) of each item, for readable assertions."""
    return [(item.local_start.strftime("%a %d %b %H:%M"), item.client_name, item.location_code) for item in items]


def test_a_store_s_day_lists_its_team_s_appointments_by_time_with_client_type_status_and_associate(db, w):
    later = book(db, w, datetime(2026, 11, 24, 15, 0, tzinfo=PARIS), associate_id=w.max, kind="fitting",
                 customer_id=w.people.bob)  # fmt: skip
    first = book(db, w, TUESDAY_11, associate_id=w.ana, reason="A coat for Milan")
    book(db, w, datetime(2026, 11, 24, 11, 0, tzinfo=NEW_YORK), store="new_york", associate_id=w.ben)
    book(db, w, datetime(2026, 11, 25, 11, 0, tzinfo=PARIS), associate_id=w.ana)  # Wednesday
    with db.read() as session:
        items = day_of(session, location_id=w.paris, day=TUESDAY)
    assert [i.id for i in items] == [first, later]
    coat, fitting = items
    assert (coat.client_name, coat.tier, coat.type_name, coat.status, coat.associate_name, coat.reason) == (
        "Alicia Moreau", "gold", "Styling session", "booked", "Ana Duval", "A coat for Milan")  # fmt: skip
    assert (fitting.client_name, fitting.type_name, fitting.associate_name) == ("Bob Stone", "Fitting", "Max Laurent")
    assert (coat.local_start.strftime("%H:%M"), coat.local_end.strftime("%H:%M")) == ("11:00", "12:00")


def test_an_associate_s_calendar_spans_their_stores_each_appointment_in_its_own_store_s_time(db, w):
    with db.write() as session:
        setup.set_working_hours(session, w.ana, w.new_york, {1: [(time(10), time(19))]})  # Tuesdays in New York too
    in_paris = book(db, w, TUESDAY_11, associate_id=w.ana)
    in_new_york = book(db, w, datetime(2026, 11, 24, 18, 0, tzinfo=NEW_YORK), store="new_york", associate_id=w.ana,
                       kind="alterations", customer_id=w.people.bob)  # fmt: skip
    book(db, w, datetime(2026, 11, 24, 12, 0, tzinfo=PARIS), associate_id=w.max)  # Max's, not Ana's
    with db.read() as session:
        mine = day_of(session, associate_id=w.ana, day=TUESDAY)
    assert [i.id for i in mine] == [in_paris, in_new_york]
    assert rows(mine) == [("Tue 24 Nov 11:00", "Alicia Moreau", "PAR"), ("Tue 24 Nov 18:00", "Bob Stone", "NYC")]
    assert mine[1].starts_at == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def test_a_week_crossing_the_end_of_summer_time_keeps_wall_times_on_their_days(db, w, fixed_clock):
    fixed_clock.set(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    saturday = book(db, w, datetime(2026, 10, 24, 10, 0, tzinfo=PARIS))  # UTC+2: 08:00 UTC
    sunday = book(db, w, datetime(2026, 10, 25, 12, 0, tzinfo=PARIS), associate_id=w.max)  # UTC+1: 11:00 UTC
    monday = book(db, w, datetime(2026, 10, 26, 10, 0, tzinfo=PARIS))  # the next week
    with db.read() as session:
        week = week_of(session, location_id=w.paris, day=date(2026, 10, 22))
        following = week_of(session, location_id=w.paris, day=date(2026, 10, 26))
    assert [d.day for d in week] == [date(2026, 10, 19 + n) for n in range(7)]
    assert [(d.day.day, [(i.id, i.local_start.strftime("%H:%M")) for i in d.items]) for d in week if d.items] == [
        (24, [(saturday, "10:00")]), (25, [(sunday, "12:00")])]  # fmt: skip
    assert [i.starts_at.hour for d in week for i in d.items] == [8, 11]
    assert [(d.day, [i.id for i in d.items]) for d in following if d.items] == [(date(2026, 10, 26), [monday])]


def test_an_evening_in_new_york_stays_on_its_new_york_day_across_utc_midnight_and_the_clock_change(db, w, fixed_clock):
    fixed_clock.set(datetime(2026, 10, 28, 15, 0, tzinfo=UTC))
    late = {day: [(time(10), time(21))] for day in range(7)}
    with db.write() as session:
        setup.set_opening_hours(session, w.new_york, late)
        setup.set_working_hours(session, w.ben, w.new_york, late)
    saturday = book(db, w, datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK), store="new_york", kind="alterations")
    monday = book(db, w, datetime(2026, 11, 2, 20, 0, tzinfo=NEW_YORK), store="new_york", kind="alterations")
    with db.read() as session:
        days = {d: day_of(session, location_id=w.new_york, day=date(2026, m, d))
                for m, d in ((10, 31), (11, 1), (11, 2), (11, 3))}  # fmt: skip
        bens = week_of(session, associate_id=w.ben, day=date(2026, 11, 1))  # Mon 26 Oct .. Sun 1 Nov
    assert [i.id for i in days[31]] == [saturday] and days[1] == [] and [i.id for i in days[2]] == [monday]
    assert days[3] == []
    assert days[31][0].starts_at == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # EDT: UTC-4
    assert days[2][0].starts_at == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # EST: UTC-5
    assert [i.local_start.strftime("%H:%M") for i in days[31] + days[2]] == ["20:00", "20:00"]
    assert [(d.day, [i.id for i in d.items]) for d in bens if d.items] == [(date(2026, 10, 31), [saturday])]


def test_cancelled_appointments_show_unless_left_out(db, w):
    kept = book(db, w, TUESDAY_11)
    gone = book(db, w, datetime(2026, 11, 24, 14, 0, tzinfo=PARIS))
    booking.cancel_appointment(db, gone, actor=as_associate(w.ana), reason="Flight moved")
    with db.read() as session:
        everything = day_of(session, location_id=w.paris, day=TUESDAY)
        live = day_of(session, location_id=w.paris, day=TUESDAY, include_cancelled=False)
    assert [(i.id, i.status) for i in everything] == [(kept, "booked"), (gone, "cancelled")]
    assert [i.id for i in live] == [kept]


def test_a_week_is_one_statement_however_many_appointments(db, w):
    for hour in (10, 12, 14, 16):
        book(db, w, datetime(2026, 11, 24, hour, 0, tzinfo=PARIS))
    with statements(db) as sent, db.read() as session:
        week = week_of(session, location_id=w.paris, day=TUESDAY)
    assert sum(len(d.items) for d in week) == 4 and len(sent) == 1


def test_a_calendar_is_of_a_store_or_of_an_associate(db, w):
    with db.read() as session, pytest.raises(ValueError):
        day_of(session, day=TUESDAY)
    with db.read() as session, pytest.raises(ValueError):
        day_of(session, day=TUESDAY, location_id=w.paris, associate_id=w.ana)


def test_weeks_start_on_monday():
    assert week_start(date(2026, 11, 29)) == date(2026, 11, 23) == week_start(date(2026, 11, 23))


def test_a_store_s_team_is_who_is_based_listed_or_has_shifts_there(db, w):
    with db.write() as session:
        setup.set_working_hours(session, w.ben, w.paris, {5: [(time(10), time(14))]})  # Saturdays in Paris
    with db.read() as session:
        team = [m.name for m in store_team(session, w.paris)]
        names = [s.name for s in stores(session)]
    assert team == ["Ana Duval", "Ben Carter", "Max Laurent"]
    assert names == ["New York Madison", "Paris Saint-Honoré"]


def test_a_client_s_appointments_next_ones_first_then_the_latest_past_with_their_outcome(db, w, fixed_clock):
    fixed_clock.set(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    last_week = book(db, w, datetime(2026, 11, 17, 11, 0, tzinfo=PARIS), associate_id=w.ana)
    fixed_clock.set(datetime(2026, 11, 17, 10, 5, tzinfo=UTC))
    with db.write() as session:
        booking.check_in(session, last_week, actor=as_associate(w.ana))
        booking.record_outcome(session, last_week, "purchased", actor=as_associate(w.ana))
    fixed_clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    friday = book(db, w, datetime(2026, 11, 27, 11, 0, tzinfo=PARIS))
    tuesday = book(db, w, TUESDAY_11)
    dropped = book(db, w, datetime(2026, 11, 25, 11, 0, tzinfo=PARIS))
    booking.cancel_appointment(db, dropped, actor=as_associate(w.ana))
    [guest] = ok(db, "customers", {"source": "web", "id": "g-1", "emails": ["g1@shop.example"]})
    ok(db, "customers", {"source": "loyalty", "id": "L-9", "emails": ["alicia@example.com", "g1@shop.example"]})
    assert guest is not None
    with db.read() as session:
        seen = of_client(session, guest)  # merged into Alicia since: answered for her
    assert [i.id for i in seen.upcoming] == [tuesday, friday]
    assert [(i.id, i.status, i.outcome) for i in seen.past] == [(last_week, "completed", "purchased")]
