"""Setting a store up for appointments: each write checks its input and names the field it refuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.appointments import setup
from rapport.appointments.models import OpeningHours, StoreClosure, TimeOff, WorkingHours
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.inventory.models import Location
from tests.appointments.fixtures import FULL_WEEK, associates, stores, week
from tests.factories import ingest, ok


def refused(db: Database, write: Callable[[Session], Any]) -> tuple[str, str]:
    """The (field, reason) a write is refused with; nothing of it is kept."""
    with pytest.raises(InvalidRecord) as caught, db.write() as session:
        write(session)
    [error] = caught.value.errors
    return error.field, error.message


def hours_of(db: Database, location_id: int) -> list[tuple[Any, ...]]:
    with db.read() as session:
        rows = session.execute(
            select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
            .where(OpeningHours.location_id == location_id)
            .order_by(OpeningHours.weekday, OpeningHours.opens)
        )
        return [tuple(r) for r in rows]


# --- opening hours and closures -----------------------------------------------------------------------------


def test_opening_hours_replace_the_whole_week(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        setup.set_opening_hours(session, paris, FULL_WEEK)
        setup.set_opening_hours(session, paris, week([5, 1], (time(14), time(19)), (time(10), time(13))))
    assert hours_of(db, paris) == [
        (1, time(10), time(13)), (1, time(14), time(19)),
        (5, time(10), time(13)), (5, time(14), time(19)),
    ]  # fmt: skip


def test_opening_hours_are_refused_when_they_make_no_sense(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        setup.set_opening_hours(session, paris, FULL_WEEK)
    assert refused(db, lambda s: setup.set_opening_hours(s, paris, {0: [(time(19), time(10))]})) == (
        "closes",
        "Monday: 10:00 is not after 19:00",
    )
    assert refused(db, lambda s: setup.set_opening_hours(s, paris, week([2], (time(10), time(14)),
                                                                           (time(13), time(19))))) == (
        "opens",
        "Wednesday: 13:00–19:00 overlaps 10:00–14:00",
    )  # fmt: skip
    assert refused(db, lambda s: setup.set_opening_hours(s, paris, {7: [(time(10), time(19))]}))[0] == "weekday"
    assert refused(db, lambda s: setup.set_opening_hours(s, paris, {0: [(time(10, 0, 30), time(19))]})) == (
        "opens",
        "Monday: 10:00:30 is not a whole minute",
    )
    assert refused(db, lambda s: setup.set_opening_hours(s, 10_000, FULL_WEEK)) == ("location_id", "unknown store")
    assert len(hours_of(db, paris)) == 7  # what was there stays


def test_appointments_are_for_stores_not_warehouses(db: Database) -> None:
    ok(ingest(db, "locations", {"code": "WH", "name": "Warehouse", "kind": "warehouse", "country": "FR"}))
    with db.read() as session:
        warehouse = session.execute(select(Location.id).where(Location.code == "WH")).scalar_one()
    assert refused(db, lambda s: setup.default_setup(s, warehouse)) == (
        "location_id",
        "WH is a warehouse: appointments are for stores",
    )


def test_a_closure_covers_whole_days_first_and_last_included(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        closure = setup.add_closure(session, paris, date(2026, 12, 24), date(2026, 12, 26), " Christmas ")
    with db.read() as session:
        row = session.get(StoreClosure, closure)
        assert row is not None
        assert (row.first_day, row.last_day, row.reason) == (date(2026, 12, 24), date(2026, 12, 26), "Christmas")
    assert refused(db, lambda s: setup.add_closure(s, paris, date(2026, 12, 26), date(2026, 12, 24))) == (
        "last_day",
        "is before the first day (2026-12-26)",
    )
    assert refused(db, lambda s: setup.add_closure(s, paris, date(2026, 12, 24), date(2026, 12, 24), "x" * 201)) == (
        "reason",
        "at most 200 characters",
    )


# --- what can be booked, and the rules --------------------------------------------------------------------------


def test_an_appointment_type_is_saved_again_by_its_code(db: Database) -> None:
    paris, new_york = stores(db)
    with db.write() as session:
        first = setup.save_appointment_type(
            session, paris, code="styling", kind="styling", name="Styling", duration_minutes=60
        )
        again = setup.save_appointment_type(
            session, paris, code="styling", kind="styling", name="Styling session", duration_minutes=90,
            buffer_after_minutes=15, description="With tea.",
        )  # fmt: skip
        elsewhere = setup.save_appointment_type(
            session, new_york, code="styling", kind="styling", name="Styling", duration_minutes=60
        )
    assert again == first and elsewhere != first
    with db.read() as session:
        [view] = setup.types_at(session, paris)
    assert view == setup.TypeView(
        id=first, code="styling", kind="styling", name="Styling session", description="With tea.",
        duration_minutes=90, buffer_before_minutes=0, buffer_after_minutes=15, virtual=False, active=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "massage"}, ("kind", "must be one of styling, alterations, fitting, virtual, pickup")),
        ({"duration_minutes": 4}, ("duration_minutes", "must be a whole number from 5 to 480")),
        ({"duration_minutes": 481}, ("duration_minutes", "must be a whole number from 5 to 480")),
        ({"buffer_before_minutes": -1}, ("buffer_before_minutes", "must be a whole number from 0 to 120")),
        ({"buffer_after_minutes": 121}, ("buffer_after_minutes", "must be a whole number from 0 to 120")),
        ({"code": " "}, ("code", "is required")),
        ({"name": ""}, ("name", "is required")),
        ({"kind": "virtual"}, ("virtual", "a virtual consultation is held by video: virtual must be true")),
    ],
)
def test_an_appointment_type_is_refused_with_the_field_named(
    db: Database, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    paris, _ = stores(db)
    values = {"code": "fitting", "kind": "fitting", "name": "Fitting", "duration_minutes": 45, **change}
    assert refused(db, lambda s: setup.save_appointment_type(s, paris, **values)) == expected


def test_types_at_lists_the_active_types_in_the_order_they_were_created(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        setup.default_setup(session, paris)
        setup.save_appointment_type(session, paris, code="pickup", kind="pickup", name="Pick-up",
                                    duration_minutes=15, active=False)  # fmt: skip
    with db.read() as session:
        active = [t.code for t in setup.types_at(session, paris)]
        every = [t.code for t in setup.types_at(session, paris, include_inactive=True)]
    assert active == ["styling", "alterations", "fitting", "virtual"]
    assert every == ["styling", "alterations", "fitting", "virtual", "pickup"]


def test_a_store_without_settings_uses_the_defaults(db: Database) -> None:
    paris, _ = stores(db)
    with db.read() as session:
        assert setup.booking_settings(session, paris) == setup.BookingSettings(
            rooms=2, slot_minutes=30, min_notice_minutes=120, max_days_ahead=60
        )


def test_settings_change_only_what_is_given(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        setup.save_settings(session, paris, rooms=3)
        setup.save_settings(session, paris, slot_minutes=45, max_days_ahead=90)
        assert setup.booking_settings(session, paris) == setup.BookingSettings(3, 45, 120, 90)
    with db.read() as session:
        assert setup.booking_settings(session, paris) == setup.BookingSettings(3, 45, 120, 90)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rooms": 0}, "rooms"),
        ({"rooms": 51}, "rooms"),
        ({"slot_minutes": 4}, "slot_minutes"),
        ({"slot_minutes": 25}, "slot_minutes"),  # neither divides an hour nor a multiple of 15
        ({"slot_minutes": 50}, "slot_minutes"),
        ({"min_notice_minutes": -1}, "min_notice_minutes"),
        ({"min_notice_minutes": 10081}, "min_notice_minutes"),
        ({"max_days_ahead": 0}, "max_days_ahead"),
        ({"max_days_ahead": 366}, "max_days_ahead"),
    ],
)
def test_settings_out_of_range_are_refused(db: Database, change: dict[str, int], field: str) -> None:
    paris, _ = stores(db)
    assert refused(db, lambda s: setup.save_settings(s, paris, **change))[0] == field


def test_slot_lengths_that_divide_an_hour_or_are_quarter_hours_are_accepted(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        for minutes in (5, 10, 15, 20, 30, 45, 60, 90, 120):
            setup.save_settings(session, paris, slot_minutes=minutes)
            assert setup.booking_settings(session, paris).slot_minutes == minutes


# --- who works when ---------------------------------------------------------------------------------------------


def test_working_hours_replace_an_associates_week_at_one_store_only(db: Database) -> None:
    paris, new_york = stores(db)
    ana = associates(db, ("ANA", "Ana", "PAR", "associate"))["ANA"]
    with db.write() as session:
        setup.set_working_hours(session, ana, paris, FULL_WEEK)
        setup.set_working_hours(session, ana, new_york, week([0], (time(9), time(12))))
        setup.set_working_hours(session, ana, paris, week([1, 2], (time(12), time(19))))
    with db.read() as session:
        rows = session.execute(
            select(WorkingHours.location_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
            .where(WorkingHours.associate_id == ana)
            .order_by(WorkingHours.location_id, WorkingHours.weekday)
        ).all()
    assert [tuple(r) for r in rows] == [
        (paris, 1, time(12), time(19)), (paris, 2, time(12), time(19)), (new_york, 0, time(9), time(12)),
    ]  # fmt: skip
    assert refused(db, lambda s: setup.set_working_hours(s, ana, paris, {3: [(time(19), time(9))]})) == (
        "ends",
        "Thursday: 09:00 is not after 19:00",
    )
    assert refused(db, lambda s: setup.set_working_hours(s, 10_000, paris, FULL_WEEK)) == (
        "associate_id",
        "unknown associate",
    )


def test_time_off_is_a_span_of_instants(db: Database) -> None:
    stores(db)
    ana = associates(db, ("ANA", "Ana", "PAR", "associate"))["ANA"]
    starts, ends = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 3, 18, tzinfo=UTC)
    with db.write() as session:
        away = setup.add_time_off(session, ana, starts, ends, "training")
    with db.read() as session:
        row = session.get(TimeOff, away)
        assert row is not None and (row.starts_at, row.ends_at, row.reason) == (starts, ends, "training")
    assert refused(db, lambda s: setup.add_time_off(s, ana, ends, starts)) == ("ends_at", "must be after the start")
    assert refused(db, lambda s: setup.add_time_off(s, ana, datetime(2026, 12, 1, 9), ends)) == (
        "starts_at",
        "must be a date and time with its timezone",
    )
    assert refused(db, lambda s: setup.add_time_off(s, 10_000, starts, ends)) == ("associate_id", "unknown associate")


# --- the demo store ---------------------------------------------------------------------------------------------


def test_default_setup_makes_a_believable_fashion_store_and_can_run_again(db: Database) -> None:
    paris, _ = stores(db)
    with db.write() as session:
        setup.default_setup(session, paris)
    with db.read() as session:
        first = setup.types_at(session, paris)
    with db.write() as session:
        setup.default_setup(session, paris)
    with db.read() as session:
        again = setup.types_at(session, paris)
        rules = setup.booking_settings(session, paris)
    assert again == first
    assert [(t.code, t.duration_minutes, t.buffer_after_minutes, t.virtual) for t in first] == [
        ("styling", 60, 15, False),
        ("alterations", 30, 0, False),
        ("fitting", 45, 10, False),
        ("virtual", 30, 0, True),
        ("pickup", 15, 0, False),
    ]
    assert rules.rooms == 2
    hours = hours_of(db, paris)
    assert hours == [(day, time(10), time(19)) for day in range(6)] + [(6, time(12), time(18))]
