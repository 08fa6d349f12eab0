"""Setting a store up for appointments from the manager's phone: hours, closures, types, booking rules,
shifts and time off — for their own stores only, with refusals shown beside the field.

The team of ``tests.associates.staff``: Ana (associate) and Max (store manager) in Paris
(Europe/Paris), Ben (associate) in New York (America/New_York), Ada at head office. The clock stands
at Monday 23 Nov 2026, 15:00 UTC (16:00 in Paris).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from html import unescape

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.app import create_app
from rapport.appointments import availability, setup
from rapport.appointments.models import AppointmentType, OpeningHours, StoreClosure, TimeOff, WorkingHours
from rapport.db import Database
from rapport.web import appointment_setup
from tests.associates.staff import Team, team
from tests.factories import ingest, ok
from tests.web.conftest import signed_in

ANA, BEN, MAX, ADA = "ana@maison.example", "ben@maison.example", "max@maison.example", "ada@maison.example"
SETUP = "/appointments/setup"
#: Mon–Sat 10:00–19:00, Sun 12:00–18:00 (the standard set-up's hours), as shifts.
FULL_WEEK = {**{day: [(time(10), time(19))] for day in range(6)}, 6: [(time(12), time(18))]}


def _with_pages(app: FastAPI) -> FastAPI:
    """Mount the set-up pages ahead of the others: ``/appointments/{id}`` would take ``/appointments/setup``."""

    def mine(route: object) -> bool:
        return getattr(route, "original_router", None) is appointment_setup.router

    if not any(mine(r) for r in app.router.routes):
        app.include_router(appointment_setup.router)
        app.router.routes.sort(key=lambda r: not mine(r))  # stable: the others keep their order
    return app


@pytest.fixture
def app(db) -> FastAPI:
    return _with_pages(create_app())


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def staff(db: Database) -> Team:
    people = team(db)
    ok(ingest(db, "locations",
              {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "currency": "EUR", "city": "Paris",
               "timezone": "Europe/Paris"},
              {"code": "NYC", "name": "New York Madison", "country": "US", "currency": "USD", "city": "New York",
               "timezone": "America/New_York"}))  # fmt: skip
    return people


def standard(db: Database, location_id: int, *working: int) -> dict[str, int]:
    """The standard set-up, with these associates working every opening hour; the types by code."""
    with db.write() as session:
        setup.default_setup(session, location_id)
        for associate_id in working:
            setup.set_working_hours(session, associate_id, location_id, FULL_WEEK)
        return {t.code: t.id for t in setup.types_at(session, location_id)}


def week(store: int, token: str, days: dict[int, list[tuple[str, str]]], **extra: str) -> dict[str, str]:
    """A week form as a phone posts it: the days given with their periods, the others ticked closed."""
    data = {"csrf_token": token, "store": str(store), **extra}
    for d in range(7):
        periods = days.get(d)
        if periods is None:
            data[f"d{d}_off"] = "1"
            periods = []
        for n, (start, end) in enumerate(periods + [("", "")] * (2 - len(periods)), start=1):
            data[f"d{d}_from{n}"], data[f"d{d}_to{n}"] = start, end
    return data


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section class="card setup" id="{section_id}".*?</section>', html, re.S)
    assert found, f"no #{section_id} in the page"
    return found.group(0)


def hours_of(db: Database, location_id: int) -> list[tuple[int, time, time]]:
    with db.read() as session:
        rows = session.execute(
            select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
            .where(OpeningHours.location_id == location_id)
            .order_by(OpeningHours.weekday, OpeningHours.opens)
        )
        return [(r.weekday, r.opens, r.closes) for r in rows]


def slots(db: Database, location_id: int, type_id: int, day: date) -> list[str]:
    with db.read() as session:
        found = availability.free_slots(session, location_id=location_id, type_id=type_id, day=day)
    return [f"{s.local_start:%H:%M}" for s in found]


# -- who may -------------------------------------------------------------------------------------------------


def test_an_associate_is_refused_the_set_up_and_cannot_post_to_it(db, staff, browser):
    token = signed_in(browser, ANA)
    page = browser.get(SETUP)
    assert page.status_code == 403 and "store managers and head office" in text_of(page.text)
    posted = browser.post(f"{SETUP}/hours", data=week(staff.paris, token, {0: [("08:00", "22:00")]}))
    assert posted.status_code == 403 and hours_of(db, staff.paris) == []


def test_a_manager_cannot_set_up_another_store_but_head_office_can_set_up_any(db, staff, browser):
    standard(db, staff.new_york)
    token = signed_in(browser, MAX)
    assert browser.get(SETUP, params={"store": staff.new_york}).status_code == 403
    posted = browser.post(f"{SETUP}/hours", data=week(staff.new_york, token, {0: [("08:00", "22:00")]}))
    assert posted.status_code == 403 and (0, time(8), time(22)) not in hours_of(db, staff.new_york)
    mine = browser.get(SETUP)  # Max's own store by default, no picker for a single store
    assert mine.status_code == 200 and "Appointments set-up · Paris Saint-Honoré" in text_of(mine.text)
    assert 'aria-label="Store"' not in mine.text
    browser.cookies.clear()
    token = signed_in(browser, ADA)
    page = browser.get(SETUP, params={"store": staff.new_york})
    assert page.status_code == 200 and "Times are America/New_York time" in text_of(page.text)
    assert f'href="/appointments/setup?store={staff.paris}"' in page.text  # the store picker
    posted = browser.post(f"{SETUP}/hours", data=week(staff.new_york, token, {0: [("08:00", "22:00")]}))
    assert posted.status_code == 303 and hours_of(db, staff.new_york) == [(0, time(8), time(22))]


def test_a_blank_store_offers_the_standard_set_up_once(db, staff, browser):
    token = signed_in(browser, MAX)
    page = browser.get(SETUP)
    assert "Nothing set up yet" in text_of(page.text) and "Use the standard set-up" in page.text
    done = browser.post(f"{SETUP}/standard", data={"csrf_token": token, "store": str(staff.paris)})
    assert done.status_code == 303 and done.headers["location"] == f"{SETUP}?store={staff.paris}&saved=standard#hours"
    assert hours_of(db, staff.paris)[0] == (0, time(10), time(19))
    page = browser.get(done.headers["location"])
    words = text_of(page.text)
    assert "The standard set-up is in place" in words and "Nothing set up yet" not in words
    assert "Styling session Styling · 60 min · 15 min after" in text_of(section(page.text, "types"))
    assert 'name="d6_from1" value="12:00"' in section(page.text, "hours")
    again = browser.post(f"{SETUP}/standard", data={"csrf_token": token, "store": str(staff.paris)})
    assert again.status_code == 409 and "already set up" in text_of(again.text)


# -- hours and closures -----------------------------------------------------------------------------------------


def test_the_manager_s_hours_govern_the_free_slots(db, staff, browser):
    types = standard(db, staff.paris, staff.ana)
    token = signed_in(browser, MAX)
    # Tuesday with a lunch break, typed out of order; Wednesday closed; the rest as before.
    hours = {0: [("10:00", "19:00")], 1: [("14:00", "17:00"), ("10:00", "12:00")], 3: [("10:00", "19:00")],
             4: [("10:00", "19:00")], 5: [("10:00", "19:00")], 6: [("12:00", "18:00")]}  # fmt: skip
    saved = browser.post(f"{SETUP}/hours", data=week(staff.paris, token, hours))
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=hours#hours")
    tuesday_hours = [(1, time(10), time(12)), (1, time(14), time(17))]
    assert [h for h in hours_of(db, staff.paris) if h[0] in (1, 2)] == tuesday_hours
    tuesday = slots(db, staff.paris, types["alterations"], date(2026, 11, 24))
    assert tuesday == ["10:00", "10:30", "11:00", "11:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]
    assert slots(db, staff.paris, types["alterations"], date(2026, 11, 25)) == []  # Wednesday: closed
    page = browser.get(saved.headers["location"])
    hours_html = section(page.text, "hours")
    assert "Opening hours saved." in hours_html
    assert 'name="d1_from2" value="14:00"' in hours_html and re.search(r'name="d2_off" value="1"\s+checked', hours_html)


def test_hours_that_close_before_they_open_are_refused_beside_the_field_with_what_was_typed_kept(db, staff, browser):
    standard(db, staff.paris)
    token = signed_in(browser, MAX)
    typed = {0: [("19:00", "10:00")], 1: [("09:30", "13:00"), ("14:00", "18:30")]}
    refused = browser.post(f"{SETUP}/hours", data=week(staff.paris, token, typed))
    assert refused.status_code == 422 and 'Not saved: <a href="#hours">see Opening hours</a>' in refused.text
    hours_html = section(refused.text, "hours")
    assert "Monday: 10:00 is not after 19:00" in text_of(hours_html)
    assert 'name="d0_to1" value="10:00" aria-label="Monday, closes" aria-invalid="true"' in hours_html
    assert 'name="d0_from1" value="19:00"' in hours_html and 'name="d1_from1" value="09:30"' in hours_html
    assert 'name="d1_to2" value="18:30"' in hours_html
    assert hours_of(db, staff.paris)[0] == (0, time(10), time(19))  # nothing changed
    half = browser.post(f"{SETUP}/hours", data=week(staff.paris, token, {2: [("10:00", "7pm")]}))
    assert half.status_code == 422
    assert "Wednesday: “7pm” is not a time of day (HH:MM)" in text_of(section(half.text, "hours"))
    assert 'name="d2_to1" value="7pm" aria-label="Wednesday, closes" aria-invalid="true"' in half.text


def test_a_closure_makes_its_days_unbookable_and_is_listed_with_its_reason(db, staff, browser):
    types = standard(db, staff.paris, staff.ana)
    token = signed_in(browser, MAX)
    data = {"csrf_token": token, "store": str(staff.paris), "first_day": "2026-12-24", "last_day": "2026-12-26",
            "reason": "Christmas <b>stock-take</b>"}  # fmt: skip
    saved = browser.post(f"{SETUP}/closures", data=data)
    assert saved.status_code == 303
    assert slots(db, staff.paris, types["styling"], date(2026, 12, 24)) == []
    assert slots(db, staff.paris, types["styling"], date(2026, 12, 26)) == []
    assert slots(db, staff.paris, types["styling"], date(2026, 12, 23))[0] == "10:00"
    closures = section(browser.get(saved.headers["location"]).text, "closures")
    assert "Christmas &lt;b&gt;stock-take&lt;/b&gt;" in closures and "<b>stock-take" not in closures
    assert "Thu 24 Dec – Sat 26 Dec" in text_of(closures) and "Closure added." in text_of(closures)


def test_a_closure_that_ends_before_it_starts_is_refused_with_the_dates_kept(db, staff, browser):
    token = signed_in(browser, MAX)
    data = {"csrf_token": token, "store": str(staff.paris), "first_day": "2026-12-26", "last_day": "2026-12-24",
            "reason": "Refit"}  # fmt: skip
    refused = browser.post(f"{SETUP}/closures", data=data)
    assert refused.status_code == 422
    closures = section(refused.text, "closures")
    assert "Last day: is before the first day (2026-12-26)" in text_of(closures)
    assert 'name="last_day" value="2026-12-24" aria-invalid="true"' in closures and 'value="Refit"' in closures
    with db.read() as session:
        assert session.scalars(select(StoreClosure)).first() is None


# -- types and rules ------------------------------------------------------------------------------------------------


def test_a_type_is_edited_in_place_by_its_code(db, staff, browser):
    types = standard(db, staff.paris)
    token = signed_in(browser, MAX)
    form = browser.get(SETUP, params={"store": staff.paris, "type": types["styling"]})
    types_html = section(form.text, "types")
    assert "Edit “Styling session”" in text_of(types_html) and 'name="duration_minutes" value="60"' in types_html
    edit = {"csrf_token": token, "store": str(staff.paris), "type_id": str(types["styling"]), "code": "other",
            "kind": "styling", "name": "Private styling", "description": "Two hours, champagne.",
            "duration_minutes": "120", "buffer_before_minutes": "15", "buffer_after_minutes": "0"}  # fmt: skip
    saved = browser.post(f"{SETUP}/types", data=edit)  # "active" left unticked: no longer offered
    assert saved.status_code == 303
    with db.read() as session:
        row = session.get(AppointmentType, types["styling"])
        assert row is not None
        assert (row.code, row.name, row.duration_minutes, row.buffer_before_minutes, row.active) == (
            "styling", "Private styling", 120, 15, False)  # fmt: skip
        assert session.scalars(select(AppointmentType).where(AppointmentType.code == "other")).first() is None
    listed = text_of(section(browser.get(saved.headers["location"]).text, "types"))
    assert "Private styling Not offered Styling · 120 min · 15 min before" in listed
    taken = browser.post(f"{SETUP}/types", data={**edit, "type_id": "", "code": "fitting", "name": "Copy"})
    assert taken.status_code == 422
    assert "“fitting” is already the code of Fitting: edit that one" in text_of(section(taken.text, "types"))


def test_a_type_refused_by_the_rules_names_the_field_and_keeps_the_form(db, staff, browser):
    standard(db, staff.paris)
    token = signed_in(browser, MAX)
    new = {"csrf_token": token, "store": str(staff.paris), "code": "bridal", "kind": "fitting", "name": "Bridal",
           "duration_minutes": "600", "buffer_before_minutes": "0", "buffer_after_minutes": "10",
           "active": "1"}  # fmt: skip
    refused = browser.post(f"{SETUP}/types", data=new)
    assert refused.status_code == 422
    types_html = section(refused.text, "types")
    assert "Minutes: must be a whole number from 5 to 480" in text_of(types_html)
    assert 'name="duration_minutes" value="600"' in types_html and 'name="code" value="bridal"' in types_html
    assert browser.post(f"{SETUP}/types", data={**new, "duration_minutes": "90"}).status_code == 303
    with db.read() as session:
        assert [t.name for t in setup.types_at(session, staff.paris) if t.code == "bridal"] == ["Bridal"]


def test_booking_rules_are_saved_and_a_slot_that_divides_no_hour_is_refused(db, staff, browser):
    types = standard(db, staff.paris, staff.ana)
    token = signed_in(browser, MAX)
    rules = {"csrf_token": token, "store": str(staff.paris), "rooms": "3", "slot_minutes": "7",
             "min_notice_minutes": "60", "max_days_ahead": "30"}  # fmt: skip
    refused = browser.post(f"{SETUP}/settings", data=rules)
    assert refused.status_code == 422
    settings_html = section(refused.text, "settings")
    assert "must divide an hour" in text_of(settings_html) and 'name="slot_minutes" value="7"' in settings_html
    assert 'name="rooms" value="3"' in settings_html
    assert browser.post(f"{SETUP}/settings", data={**rules, "slot_minutes": "15"}).status_code == 303
    with db.read() as session:
        assert setup.booking_settings(session, staff.paris) == setup.BookingSettings(3, 15, 60, 30)
    assert slots(db, staff.paris, types["alterations"], date(2026, 11, 24))[:3] == ["10:00", "10:15", "10:30"]


# -- the team -----------------------------------------------------------------------------------------------------


def test_the_team_s_weeks_are_listed_and_one_associate_s_week_is_edited(db, staff, browser):
    standard(db, staff.paris, staff.ana)
    token = signed_in(browser, MAX)
    page = browser.get(SETUP, params={"store": staff.paris, "associate": staff.ana})
    team_html = section(page.text, "team")
    assert "Ana Duval Mon–Sat 10:00–19:00 Sun 12:00–18:00" in text_of(team_html)
    assert "Max Laurent No shifts here yet" in text_of(team_html) and "Ana Duval's week" in text_of(team_html)
    saved = browser.post(f"{SETUP}/shifts", data=week(staff.paris, token, {1: [("10:00", "14:00")]},
                                                      associate_id=str(staff.ana)))  # fmt: skip
    assert saved.status_code == 303
    with db.read() as session:
        shifts = session.execute(select(WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
                                 .where(WorkingHours.associate_id == staff.ana)).all()  # fmt: skip
    assert [tuple(s) for s in shifts] == [(1, time(10), time(14))]
    assert "Ana Duval Tue 10:00–14:00" in text_of(section(browser.get(saved.headers["location"]).text, "team"))
    overlap = week(staff.paris, token, {1: [("10:00", "14:00"), ("13:00", "18:00")]}, associate_id=str(staff.ana))
    refused = browser.post(f"{SETUP}/shifts", data=overlap)
    assert refused.status_code == 422
    assert "Tuesday: 13:00–18:00 overlaps 10:00–14:00" in text_of(section(refused.text, "team"))
    assert 'name="d1_from2" value="13:00" aria-label="Tuesday, starts (period 2)" aria-invalid="true"' in refused.text
    stranger = browser.post(f"{SETUP}/shifts", data=week(staff.paris, token, {}, associate_id=str(staff.ben)))
    assert stranger.status_code == 422 and "choose someone of this store's team" in text_of(stranger.text)


def test_time_off_typed_in_store_time_is_stored_as_utc_instants(db, staff, browser):
    types = standard(db, staff.paris, staff.ana)
    token = signed_in(browser, MAX)
    away = {"csrf_token": token, "store": str(staff.paris), "associate_id": str(staff.ana),
            "starts_at": "2026-12-01T09:00", "ends_at": "2026-12-01T13:30", "reason": "Dentist"}  # fmt: skip
    saved = browser.post(f"{SETUP}/time-off", data=away)
    assert saved.status_code == 303
    with db.read() as session:
        row = session.scalars(select(TimeOff)).one()
    assert (row.associate_id, row.reason) == (staff.ana, "Dentist")
    assert (row.starts_at, row.ends_at) == (
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 12, 30, tzinfo=UTC),
    )
    assert slots(db, staff.paris, types["alterations"], date(2026, 12, 1))[0] == "13:30"  # Ana works alone
    listed = text_of(section(browser.get(saved.headers["location"]).text, "time-off"))
    assert "Ana Duval Tue 1 Dec 09:00 – 13:30 Dentist" in listed and "Time off added." in listed
    # Summer time: the same wall time is an hour earlier in UTC; a time the clocks skip is refused.
    summer = browser.post(f"{SETUP}/time-off", data={**away, "starts_at": "2027-07-01T09:00",
                                                     "ends_at": "2027-07-02T18:00"})  # fmt: skip
    assert summer.status_code == 303
    with db.read() as session:
        starts = session.scalars(select(TimeOff.starts_at).order_by(TimeOff.starts_at.desc())).first()
    assert starts == datetime(2027, 7, 1, 7, 0, tzinfo=UTC)
    gap = browser.post(f"{SETUP}/time-off", data={**away, "starts_at": "2027-03-28T02:30"})
    assert gap.status_code == 422
    time_off_html = section(gap.text, "time-off")
    assert "From: 02:30 does not exist on 28 Mar in Europe/Paris" in text_of(time_off_html)
    assert 'name="starts_at" value="2027-03-28T02:30"' in time_off_html and 'value="Dentist"' in time_off_html
    backwards = browser.post(f"{SETUP}/time-off", data={**away, "ends_at": "2026-12-01T08:00"})
    assert backwards.status_code == 422 and "To: must be after the start" in text_of(backwards.text)
