"""When a client can come: free slots, the reasons a time is refused, and days for a date picker.

The clock stands at Monday 23 Nov 2026, 15:00 UTC (16:00 in Paris). Unless a test changes it, Paris
and New York keep ``default_setup`` (Mon–Sat 10:00–19:00, Sun 12:00–18:00, two rooms, a 30-minute
grid, two hours' notice, sixty days ahead) and Ana and Leo work every opening hour in Paris.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from rapport.appointments import setup
from rapport.appointments.availability import Slot, bookable_days, check_slot, free_slots, store_zone
from rapport.db import Database
from rapport.errors import InvalidRecord, NotFound
from tests.appointments.fixtures import (
    NEW_YORK,
    PARIS,
    Shop,
    associates,
    at,
    book,
    deactivate,
    local_times,
    shop,
    week,
)
from tests.statements import statements

MONDAY = date(2026, 11, 23)  # today
TUESDAY = date(2026, 11, 24)
HALF_HOURS_10_TO_19 = [f"{h:02d}:{m:02d}" for h in range(10, 19) for m in (0, 30)]


def slots(db: Database, location_id: int, type_id: int, day: date = TUESDAY, **kw: Any) -> list[Slot]:
    with db.read() as session:
        return free_slots(session, location_id=location_id, type_id=type_id, day=day, **kw)


def checked(db: Database, **kw: Any) -> int:
    with db.read() as session:
        return check_slot(session, **kw)


def refused(db: Database, **kw: Any) -> tuple[str, str]:
    """The (field, reason) check_slot gives for a time that cannot be booked."""
    with pytest.raises(InvalidRecord) as caught:
        checked(db, **kw)
    [error] = caught.value.errors
    return error.field, error.message


def paris_tuesday(hour: int, minute: int = 0) -> datetime:
    return at(PARIS, 2026, 11, 24, hour, minute)


# --- the grid -----------------------------------------------------------------------------------------


def test_a_normal_day_offers_a_start_every_half_hour_until_the_visit_no_longer_fits(db: Database) -> None:
    s = shop(db)
    found = slots(db, s.paris, s.types["alterations"])
    assert local_times(found) == HALF_HOURS_10_TO_19  # 10:00 … 18:30: a 30-minute visit ends by 19:00
    first = found[0]
    assert first.starts_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Paris (UTC+1 in winter)
    assert first.ends_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert first.local_start == first.starts_at and first.local_start.tzinfo == PARIS
    assert first.associate_ids == (s.ana, s.leo)


def test_buffers_keep_the_last_slot_earlier_and_the_first_later(db: Database) -> None:
    s = shop(db)
    styling = local_times(slots(db, s.paris, s.types["styling"]))  # 60 minutes, then 15 to write notes
    assert styling[0] == "10:00" and styling[-1] == "17:30"  # 17:30 + 75 min = 18:45; 18:00 would run to 19:15
    with db.write() as session:
        bridal = setup.save_appointment_type(
            session, s.paris, code="bridal", kind="fitting", name="Bridal fitting", duration_minutes=45,
            buffer_before_minutes=15,
        )  # fmt: skip
    bridal_times = local_times(slots(db, s.paris, bridal))
    assert bridal_times[0] == "10:30"  # the room is prepared from 10:15, after opening
    assert bridal_times[-1] == "18:00"


def test_a_lunch_break_splits_the_day_and_each_period_starts_its_own_grid(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.set_opening_hours(session, s.paris, week([1], (time(10), time(13)), (time(13, 45), time(19))))
    assert local_times(slots(db, s.paris, s.types["alterations"])) == [
        "10:00", "10:30", "11:00", "11:30", "12:00", "12:30",
        "13:45", "14:15", "14:45", "15:15", "15:45", "16:15", "16:45", "17:15", "17:45", "18:15",
    ]  # fmt: skip
    assert refused(db, location_id=s.paris, type_id=s.types["alterations"], starts_at=paris_tuesday(13, 15)) == (
        "starts_at",
        "outside opening hours (10:00–13:00 and 13:45–19:00 on Tuesdays)",
    )
    assert refused(db, location_id=s.paris, type_id=s.types["styling"], starts_at=paris_tuesday(12, 0)) == (
        "starts_at",
        "ends after closing time (10:00–13:00 and 13:45–19:00 on Tuesdays)",
    )
    monday = at(PARIS, 2026, 11, 30, 11)  # the new week leaves Monday closed
    assert refused(db, location_id=s.paris, type_id=s.types["alterations"], starts_at=monday) == (
        "starts_at",
        "the store is closed on Mondays",
    )


# --- the store's calendar and booking rules ---------------------------------------------------------------


def test_no_slot_on_a_closure_day_and_the_reason_names_the_holiday(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.add_closure(session, s.paris, date(2026, 12, 25), date(2026, 12, 26), "Christmas")
    alterations = s.types["alterations"]
    assert slots(db, s.paris, alterations, date(2026, 12, 25)) == []
    assert slots(db, s.paris, alterations, date(2026, 12, 26)) == []
    assert len(slots(db, s.paris, alterations, date(2026, 12, 24))) == 18
    christmas = at(PARIS, 2026, 12, 25, 11)
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=christmas) == (
        "starts_at",
        "the store is closed on 25 Dec (Christmas)",
    )


def test_min_notice_keeps_the_next_hours_free_and_past_times_are_refused(db: Database) -> None:
    s = shop(db)
    alterations = s.types["alterations"]
    assert local_times(slots(db, s.paris, alterations, MONDAY)) == ["18:00", "18:30"]  # it is 16:00 in Paris
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=at(PARIS, 2026, 11, 23, 17, 30)) == (
        "starts_at",
        "less than 2 hours ahead",
    )
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=at(PARIS, 2026, 11, 23, 15, 30)) == (
        "starts_at",
        "in the past",
    )
    with db.write() as session:
        setup.save_settings(session, s.paris, min_notice_minutes=24 * 60)
    assert slots(db, s.paris, alterations, MONDAY) == []
    assert local_times(slots(db, s.paris, alterations))[0] == "16:00"
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(15, 30)) == (
        "starts_at",
        "less than 1 day ahead",
    )


def test_nothing_beyond_max_days_ahead(db: Database) -> None:
    s = shop(db)
    alterations = s.types["alterations"]
    assert len(slots(db, s.paris, alterations, date(2027, 1, 22))) == 18  # 60 days after today
    assert slots(db, s.paris, alterations, date(2027, 1, 23)) == []
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=at(PARIS, 2027, 1, 23, 11)) == (
        "starts_at",
        "more than 60 days ahead",
    )
    with db.write() as session:
        setup.save_settings(session, s.paris, max_days_ahead=7)
    assert len(slots(db, s.paris, alterations, date(2026, 11, 30))) == 18
    assert slots(db, s.paris, alterations, date(2026, 12, 1)) == []


def test_a_day_in_the_past_has_no_slots(db: Database) -> None:
    s = shop(db)
    assert slots(db, s.paris, s.types["alterations"], date(2026, 11, 20)) == []


# --- rooms -------------------------------------------------------------------------------------------


def test_when_every_room_is_taken_there_is_no_slot_and_the_time_is_fully_booked(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.save_settings(session, s.paris, rooms=1)
    alterations = s.types["alterations"]
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(11))  # fmt: skip
    times = local_times(slots(db, s.paris, alterations))
    assert "11:00" not in times and {"10:30", "11:30"} <= set(times)
    styling = local_times(slots(db, s.paris, s.types["styling"]))
    assert styling[:2] == ["11:30", "12:00"]  # 10:00 to 11:15 and 10:30 to 11:45 would need the room at 11:00
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(11)) == (
        "starts_at",
        "fully booked at 11:00",
    )


def test_rooms_count_the_visits_at_the_same_moment(db: Database) -> None:
    s = shop(db)  # two rooms
    with db.write() as session:
        setup.set_working_hours(session, s.mia, s.paris, week([1], (time(10), time(19))))
    alterations, styling = s.types["alterations"], s.types["styling"]
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(10))  # fmt: skip
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.leo,
         starts_at=paris_tuesday(10, 30))  # fmt: skip
    first = slots(db, s.paris, styling)[0]  # two visits during 10:00–11:15, but never two at once
    assert local_times([first]) == ["10:00"] and first.associate_ids == (s.mia,)
    book(db, location_id=s.paris, type_id=s.types["pickup"], customer_id=s.client, associate_id=None,
         starts_at=paris_tuesday(10))  # fmt: skip
    assert local_times(slots(db, s.paris, styling))[0] == "10:30"  # the pick-up is over by 10:15
    assert refused(db, location_id=s.paris, type_id=styling, starts_at=paris_tuesday(10)) == (
        "starts_at",
        "fully booked at 10:00",
    )


def test_a_virtual_consultation_needs_no_room_but_an_associate(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.save_settings(session, s.paris, rooms=1)
    alterations, virtual = s.types["alterations"], s.types["virtual"]
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(11))  # fmt: skip
    at_eleven = [slot for slot in slots(db, s.paris, virtual) if slot.starts_at == paris_tuesday(11)]
    assert [slot.associate_ids for slot in at_eleven] == [(s.leo,)]
    # and a video call takes no room from the store
    book(db, location_id=s.paris, type_id=virtual, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(14))  # fmt: skip
    at_two = [slot for slot in slots(db, s.paris, alterations) if slot.starts_at == paris_tuesday(14)]
    assert [slot.associate_ids for slot in at_two] == [(s.leo,)]


def test_cancelled_and_no_show_appointments_free_their_time_and_completed_ones_do_not(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.save_settings(session, s.paris, rooms=1)
    alterations = s.types["alterations"]
    for hour, status in ((11, "cancelled"), (12, "no_show"), (13, "completed"), (14, "checked_in")):
        book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
             starts_at=paris_tuesday(hour), status=status)  # fmt: skip
    times = local_times(slots(db, s.paris, alterations))
    assert {"11:00", "12:00"} <= set(times)
    assert "13:00" not in times and "14:00" not in times


# --- associates ----------------------------------------------------------------------------------------


def test_only_associates_whose_shift_covers_the_whole_visit_are_offered(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.set_working_hours(session, s.leo, s.paris, week([1], (time(14), time(18))))
    styling = s.types["styling"]
    assert local_times(slots(db, s.paris, styling, associate_id=s.leo)) == [
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",  # 16:30 + 75 min = 17:45, inside his shift
    ]  # fmt: skip
    morning = slots(db, s.paris, styling)[0]
    assert morning.associate_ids == (s.ana,)
    assert refused(db, location_id=s.paris, type_id=styling, starts_at=paris_tuesday(11), associate_id=s.leo) == (
        "associate_id",
        "Leo is not working then",
    )
    assert checked(db, location_id=s.paris, type_id=styling, starts_at=paris_tuesday(15), associate_id=s.leo) == s.leo


def test_an_associate_on_time_off_is_not_offered(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.add_time_off(session, s.ana, paris_tuesday(10), paris_tuesday(13), "dentist")
    alterations = s.types["alterations"]
    assert local_times(slots(db, s.paris, alterations, associate_id=s.ana))[0] == "13:00"
    assert slots(db, s.paris, alterations)[0].associate_ids == (s.leo,)
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(12, 30),
                   associate_id=s.ana) == ("associate_id", "Ana is on time off")  # fmt: skip


def test_an_appointment_at_another_store_keeps_the_associate_busy(db: Database) -> None:
    s = shop(db)
    with db.write() as session:  # Mia, an online expert, takes video calls for both stores
        setup.set_working_hours(session, s.mia, s.paris, week([1], (time(10), time(19))))
        setup.set_working_hours(session, s.mia, s.new_york, week([1], (time(9), time(17))))
    book(
        db,
        location_id=s.new_york,
        type_id=s.ny_types["virtual"],
        customer_id=s.client,
        associate_id=s.mia,
        starts_at=at(NEW_YORK, 2026, 11, 24, 10),
    )  # fmt: skip  (16:00 in Paris)
    virtual = s.types["virtual"]
    times = local_times(slots(db, s.paris, virtual, associate_id=s.mia))
    assert "16:00" not in times and {"15:30", "16:30"} <= set(times)
    assert refused(db, location_id=s.paris, type_id=virtual, starts_at=paris_tuesday(16), associate_id=s.mia) == (
        "associate_id",
        "Mia has another appointment then",
    )


def test_an_associate_who_left_is_not_offered(db: Database) -> None:
    s = shop(db)
    deactivate(db, "LEO", "Leo")
    alterations = s.types["alterations"]
    assert {slot.associate_ids for slot in slots(db, s.paris, alterations)} == {(s.ana,)}
    assert slots(db, s.paris, alterations, associate_id=s.leo) == []
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(11), associate_id=s.leo) == (
        "associate_id",
        "Leo is no longer with the team",
    )


def test_no_slot_when_nobody_works_then(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.set_working_hours(session, s.ana, s.paris, {})
        setup.set_working_hours(session, s.leo, s.paris, {})
    alterations = s.types["alterations"]
    assert slots(db, s.paris, alterations) == []
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(11)) == (
        "starts_at",
        "no associate is free at 11:00",
    )


def test_check_slot_gives_the_visit_to_the_free_associate_with_fewest_appointments_that_day(db: Database) -> None:
    s = shop(db)
    alterations = s.types["alterations"]
    assert checked(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(15)) == s.ana  # tie: lower id
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(10))  # fmt: skip
    book(
        db,
        location_id=s.paris,
        type_id=alterations,
        customer_id=s.client,
        associate_id=s.leo,
        starts_at=at(PARIS, 2026, 11, 25, 10),
    )  # fmt: skip  (Wednesday: not Tuesday's count)
    assert checked(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(15)) == s.leo
    three = next(slot for slot in slots(db, s.paris, alterations) if slot.starts_at == paris_tuesday(15))
    assert three.associate_ids == (s.leo, s.ana)  # the one a booking would pick comes first
    chosen = checked(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(15), associate_id=s.ana)
    assert chosen == s.ana


def test_exclude_appointment_id_lets_a_reschedule_ignore_the_appointment_being_moved(db: Database) -> None:
    s = shop(db)
    with db.write() as session:
        setup.save_settings(session, s.paris, rooms=1)
    styling = s.types["styling"]
    moving = book(db, location_id=s.paris, type_id=styling, customer_id=s.client, associate_id=s.ana,
                  starts_at=paris_tuesday(11))  # fmt: skip
    later = {"location_id": s.paris, "type_id": styling, "starts_at": paris_tuesday(11, 30), "associate_id": s.ana}
    assert refused(db, **later) == ("starts_at", "fully booked at 11:30")
    assert checked(db, **later, exclude_appointment_id=moving) == s.ana
    with db.write() as session:
        setup.save_settings(session, s.paris, rooms=2)
    assert refused(db, **later) == ("associate_id", "Ana has another appointment then")
    assert checked(db, **later, exclude_appointment_id=moving) == s.ana


# --- check_slot's reasons --------------------------------------------------------------------------------


def test_check_slot_names_the_field_and_says_why(db: Database) -> None:
    s = shop(db)
    alterations, styling = s.types["alterations"], s.types["styling"]
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"type_id": 10_000}, ("type_id", "unknown appointment type")),
        ({"type_id": s.ny_types["alterations"]}, ("type_id", "unknown appointment type")),  # another store's
        ({"starts_at": at(PARIS, 2026, 11, 23, 9)}, ("starts_at", "in the past")),
        ({"starts_at": paris_tuesday(20)}, ("starts_at", "outside opening hours (10:00–19:00 on Tuesdays)")),
        ({"starts_at": paris_tuesday(9, 30)}, ("starts_at", "outside opening hours (10:00–19:00 on Tuesdays)")),
        ({"starts_at": paris_tuesday(10, 10)}, ("starts_at", "not on the 30-minute grid")),
        ({"type_id": styling, "starts_at": paris_tuesday(18)},
         ("starts_at", "ends after closing time (10:00–19:00 on Tuesdays)")),
        ({"starts_at": at(PARIS, 2026, 11, 23, 17)}, ("starts_at", "less than 2 hours ahead")),
        ({"starts_at": at(PARIS, 2027, 2, 2, 11)}, ("starts_at", "more than 60 days ahead")),
        ({"starts_at": datetime(2026, 11, 24, 11)}, ("starts_at", "must be a date and time with its timezone")),
        ({"associate_id": 10_000}, ("associate_id", "unknown associate")),
    ]  # fmt: skip
    for change, expected in cases:
        request = {"location_id": s.paris, "type_id": alterations, "starts_at": paris_tuesday(11), **change}
        assert refused(db, **request) == expected, change
    with db.write() as session:
        setup.save_appointment_type(session, s.paris, code="alterations", kind="alterations", name="Alterations",
                                    duration_minutes=30, active=False)  # fmt: skip
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=paris_tuesday(11)) == (
        "type_id",
        "this appointment type is no longer offered",
    )


def test_unknown_store(db: Database) -> None:
    s = shop(db)
    with db.read() as session, pytest.raises(NotFound):
        free_slots(session, location_id=10_000, type_id=s.types["alterations"], day=TUESDAY)
    with db.read() as session:
        assert store_zone(session, s.new_york) == NEW_YORK


# --- clocks that change ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "day", "first_utc_hour", "week_before_first_utc_hour"),
    [
        ("paris", date(2026, 3, 29), 7, 8),  # spring forward: 09:00 is UTC+2 (a week earlier, UTC+1)
        ("paris", date(2026, 10, 25), 8, 7),  # fall back: 09:00 is UTC+1
        ("new_york", date(2026, 3, 8), 13, 14),  # 09:00 EDT (UTC-4); a week earlier 09:00 EST (UTC-5)
        ("new_york", date(2026, 11, 1), 14, 13),  # 09:00 EST
    ],
)
def test_a_nine_to_six_day_is_nine_hours_on_the_day_clocks_change(
    db: Database, store: str, day: date, first_utc_hour: int, week_before_first_utc_hour: int
) -> None:
    s = shop(db)
    location_id = s.paris if store == "paris" else s.new_york
    staff = s.ana if store == "paris" else s.ben
    type_id = (s.types if store == "paris" else s.ny_types)["alterations"]
    sundays = week([6], (time(9), time(18)))
    with db.write() as session:
        setup.set_opening_hours(session, location_id, sundays)
        setup.set_working_hours(session, staff, location_id, sundays)
    now = datetime(day.year, day.month, 1, tzinfo=UTC) - timedelta(days=10)
    found = slots(db, location_id, type_id, day, now=now)
    assert local_times(found) == [f"{h:02d}:{m:02d}" for h in range(9, 18) for m in (0, 30)]
    assert found[0].starts_at == datetime(day.year, day.month, day.day, first_utc_hour, tzinfo=UTC)
    assert found[-1].ends_at - found[0].starts_at == timedelta(hours=9)
    week_before = slots(db, location_id, type_id, day - timedelta(days=7), now=now)
    assert week_before[0].starts_at.hour == week_before_first_utc_hour


def _night_store(db: Database) -> Shop:
    """Paris open 01:00–04:00 on Sundays (a night sale), Ana on shift from midnight to 05:00."""
    s = shop(db)
    with db.write() as session:
        setup.set_opening_hours(session, s.paris, week([6], (time(1), time(4))))
        setup.set_working_hours(session, s.ana, s.paris, week([6], (time(0), time(5))))
    return s


def test_a_start_that_does_not_exist_in_the_spring_forward_gap_is_skipped(db: Database) -> None:
    s = _night_store(db)
    found = slots(db, s.paris, s.types["alterations"], date(2026, 3, 29), now=datetime(2026, 3, 1, tzinfo=UTC))
    assert local_times(found) == ["01:00", "01:30", "03:00", "03:30"]  # 02:00 and 02:30 never happen
    assert [slot.starts_at.strftime("%H:%M") for slot in found] == ["00:00", "00:30", "01:00", "01:30"]
    assert all(slot.associate_ids == (s.ana,) for slot in found)


def test_an_hour_that_happens_twice_is_offered_once_at_its_first_occurrence(db: Database) -> None:
    s = _night_store(db)
    alterations = s.types["alterations"]
    now = datetime(2026, 10, 1, tzinfo=UTC)
    found = slots(db, s.paris, alterations, date(2026, 10, 25), now=now)
    assert local_times(found) == ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]
    assert [slot.starts_at for slot in found] == [
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC), datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:00, 02:30 summer time
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    ]  # fmt: skip
    second_half_past_two = at(PARIS, 2026, 10, 25, 2, 30, fold=1)
    assert second_half_past_two == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert refused(db, location_id=s.paris, type_id=alterations, starts_at=second_half_past_two, now=now) == (
        "starts_at",
        "not on the 30-minute grid",
    )
    first_half_past_two = at(PARIS, 2026, 10, 25, 2, 30)
    assert checked(db, location_id=s.paris, type_id=alterations, starts_at=first_half_past_two, now=now) == s.ana


# --- a date picker --------------------------------------------------------------------------------------


def test_bookable_days_counts_the_free_slots_of_each_local_day(db: Database) -> None:
    s = shop(db)
    alterations = s.types["alterations"]
    with db.write() as session:
        setup.add_closure(session, s.paris, date(2026, 11, 26), date(2026, 11, 26), "stocktake")
        setup.save_settings(session, s.paris, rooms=1)
    book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=s.ana,
         starts_at=paris_tuesday(11))  # fmt: skip
    with db.read() as session:
        counted = bookable_days(session, location_id=s.paris, type_id=alterations, start=MONDAY, days=8)
        end_of_range = bookable_days(session, location_id=s.paris, type_id=alterations, start=date(2027, 1, 20), days=5)
    assert counted == [
        (date(2026, 11, 23), 2),  # today: 18:00 and 18:30
        (date(2026, 11, 24), 17),  # one room, taken at 11:00
        (date(2026, 11, 25), 18),
        (date(2026, 11, 26), 0),  # closed for the stocktake
        (date(2026, 11, 27), 18),
        (date(2026, 11, 28), 18),
        (date(2026, 11, 29), 12),  # Sunday, 12:00–18:00
        (date(2026, 11, 30), 18),
    ]
    assert counted == [(day, len(slots(db, s.paris, alterations, day))) for day, _ in counted]
    assert end_of_range == [
        (date(2027, 1, 20), 18), (date(2027, 1, 21), 18), (date(2027, 1, 22), 18),
        (date(2027, 1, 23), 0), (date(2027, 1, 24), 0),  # more than 60 days ahead
    ]  # fmt: skip
    with db.read() as session, pytest.raises(InvalidRecord) as caught:
        bookable_days(session, location_id=s.paris, type_id=alterations, start=MONDAY, days=0)
    assert caught.value.errors[0].field == "days"


# --- bounded work --------------------------------------------------------------------------------------------


def test_free_slots_costs_the_same_few_statements_however_busy_the_store(db: Database) -> None:
    s = shop(db)
    alterations = s.types["alterations"]

    def cost(run: Any) -> int:
        with db.read() as session, statements(db) as seen:
            run(session)
        return len(seen)

    def one_day(session: Any) -> None:
        free_slots(session, location_id=s.paris, type_id=alterations, day=TUESDAY)

    quiet = cost(one_day)
    assert quiet <= 8
    more = associates(db, *((f"P{i}", f"Person {i}", "PAR", "associate") for i in range(6)))
    with db.write() as session:
        for person in more.values():
            setup.set_working_hours(session, person, s.paris, week(range(6), (time(10), time(19))))
            setup.add_time_off(session, person, paris_tuesday(12), paris_tuesday(13))
    for i, person in enumerate([s.ana, s.leo, *more.values()]):
        book(db, location_id=s.paris, type_id=alterations, customer_id=s.client, associate_id=person,
             starts_at=paris_tuesday(10 + i))  # fmt: skip
    assert cost(one_day) == quiet
    two_months = cost(lambda session: bookable_days(session, location_id=s.paris, type_id=alterations, start=MONDAY,
                                                    days=61))  # fmt: skip
    assert two_months == quiet
