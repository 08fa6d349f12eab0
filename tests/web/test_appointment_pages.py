"""Appointments on the associate's phone: my day and week, the store's calendar, the pre-visit brief,
check-in and outcome, putting items aside, and booking for a client.

The world is the brief's (``tests.appointments.test_brief.world``): Paris with Ana (associate) and Max
(manager), New York with Ben; Alicia, Ana's gold client. The clock stands at Monday 23 Nov 2026,
15:00 UTC (16:00 in Paris).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from rapport.app import create_app
from rapport.appointments.models import Appointment
from rapport.associates.models import AuditEvent
from rapport.db import Database
from rapport.inventory.models import Reservation
from rapport.tasks.models import Task
from rapport.web import appointments
from tests.appointments.test_brief import PARIS, TUESDAY_11, World, book, email_from, world
from tests.web.conftest import signed_in

HTMX = {"HX-Request": "true"}
ANA, BEN, MAX, MIA = "ana@maison.example", "ben@maison.example", "max@maison.example", "mia@maison.example"


def _with_pages(app: FastAPI) -> FastAPI:
    if not any(getattr(r, "name", None) == "appointment_brief" for r in app.routes):
        app.include_router(appointments.router)
    return app


@pytest.fixture
def app(db) -> FastAPI:
    return _with_pages(create_app())


@pytest.fixture
def w(db: Database) -> World:
    return world(db)


def text_of(html: str) -> str:
    """The visible words of a page, tags dropped and whitespace squeezed (entities decoded)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<(section|header) id="{section_id}".*?</\1>', html, re.S)
    assert found, f"no #{section_id} in the page"
    return found.group(0)


def appointment(db: Database, appointment_id: int) -> Appointment:
    with db.read() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        session.expunge(row)
        return row


# -- calendars ------------------------------------------------------------------------------------------------


def test_the_calendar_needs_a_signed_in_associate(db, w, browser):
    r = browser.get("/appointments")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_my_day_lists_my_appointments_in_the_store_s_time_with_date_navigation(db, w, browser):
    mine = book(db, w, TUESDAY_11, associate_id=w.ana, reason="A coat for Milan")
    book(db, w, datetime(2026, 11, 24, 12, 0, tzinfo=PARIS), associate_id=w.max, customer_id=w.people.bob)
    signed_in(browser, ANA)
    today = browser.get("/appointments")
    assert today.status_code == 200 and "No appointments for you on this day." in text_of(today.text)
    assert 'href="/appointments?view=day&amp;day=2026-11-24"' in today.text  # next day
    page = browser.get("/appointments", params={"day": "2026-11-24"})
    words = text_of(page.text)
    assert "Tuesday 24 Nov" in words and "11:00 12:00 Alicia Moreau gold Styling session" in words
    assert f'href="/appointments/{mine}"' in page.text and "A coat for Milan" in words
    assert "Bob Stone" not in words  # Max's client
    week = browser.get("/appointments", params={"view": "week", "day": "2026-11-26"})
    assert week.status_code == 200 and text_of(week.text).count("Nothing booked.") == 6
    assert 'href="/appointments?view=week&amp;day=2026-11-19"' in week.text  # the week before


def test_the_store_calendar_is_for_the_store_s_team_and_managers(db, w, browser):
    book(db, w, TUESDAY_11, associate_id=w.ana)
    book(db, w, datetime(2026, 11, 24, 12, 0, tzinfo=PARIS), associate_id=w.max, customer_id=w.people.bob)
    signed_in(browser, MAX)
    store = browser.get("/appointments", params={"store": w.paris, "day": "2026-11-24"})
    words = text_of(store.text)
    assert store.status_code == 200 and "Paris Saint-Honoré" in words
    assert (
        "Alicia Moreau gold Styling session · Ana Duval" in words and "Bob Stone Styling session · Max Laurent" in words
    )
    browser.cookies.clear()
    signed_in(browser, BEN)
    refused = browser.get("/appointments", params={"store": w.paris, "day": "2026-11-24"})
    assert refused.status_code == 403 and "Alicia" not in refused.text


# -- the brief -------------------------------------------------------------------------------------------------


def test_the_brief_shows_why_what_was_said_purchases_wishlist_and_what_to_pull_with_stock_here(db, w, browser):
    email_from(db, "alicia@example.com", "Is the camel coat back? I'd love to try it before Milan.", "<x1@example.com>")
    appointment_id = book(
        db, w, TUESDAY_11, associate_id=w.ana, reason="A coat for her trip to Milan",
        products_of_interest=["COAT", "https://shop.example/p/tote"],
        conversation_summary="Website chat: asked whether the camel coat runs large",
    )  # fmt: skip
    signed_in(browser, ANA)
    page = browser.get(f"/appointments/{appointment_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    who = text_of(section(page.text, "who"))
    assert "Alicia Moreau gold" in who and "Styling session · Tue 24 Nov · 11:00–12:00" in who
    assert "Paris Saint-Honoré · with Ana Duval" in who and "Booked Nov 23, 2026 by Ana Duval" in who
    why = text_of(section(page.text, "why"))
    assert "A coat for her trip to Milan" in why and "Camel coat · size M" in why
    assert '<a href="https://shop.example/p/tote" rel="noopener noreferrer nofollow"' in section(page.text, "why")
    online = text_of(section(page.text, "online"))
    assert "Website chat: asked whether the camel coat runs large" in online
    assert "I'd love to try it before Milan." in online
    pull = section(page.text, "pull")
    assert "Camel coat" in pull and "2 here" in text_of(pull) and "Leather tote" in pull and "1 here" in text_of(pull)
    assert text_of(pull).count("Put aside") == 2
    purchases = text_of(section(page.text, "purchases"))
    assert (
        "Camel coat size M · qty 1" in purchases and "Returned" in purchases and "Eau de parfum size 50ml" in purchases
    )
    glance = text_of(section(page.text, "glance"))
    assert "Lifetime spend €180.00" in glance and "Orders 2" in glance
    assert "Leather tote" in text_of(section(page.text, "wishlist"))


def test_opening_a_brief_is_audited_like_opening_the_profile(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    signed_in(browser, ANA)
    browser.get(f"/appointments/{appointment_id}", headers={"User-Agent": "iPhone"})
    with db.read() as session:
        seen = session.execute(
            select(AuditEvent.actor_id, AuditEvent.customer_id, AuditEvent.user_agent)
            .where(AuditEvent.action == "client.viewed")
        ).all()  # fmt: skip
    assert seen == [(w.ana, w.alicia, "iPhone")]


def test_another_store_s_associate_cannot_open_the_brief(db, w, browser):
    """Any associate may view any client, but an appointment is its store's: New York's Ben is refused."""
    appointment_id = book(db, w, TUESDAY_11, associate_id=w.ana, reason="Private fitting")
    token = signed_in(browser, BEN)
    refused = browser.get(f"/appointments/{appointment_id}")
    assert refused.status_code == 403 and "Private fitting" not in refused.text
    assert browser.post(f"/appointments/{appointment_id}/check-in", data={"csrf_token": token}).status_code == 403
    assert appointment(db, appointment_id).status == "booked"


def test_a_reason_with_markup_is_shown_as_text(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11, reason="<script>alert('x')</script> & <b>bold</b>",
                          products_of_interest=["<img src=x onerror=alert(1)>"])  # fmt: skip
    signed_in(browser, ANA)
    for url in (f"/appointments/{appointment_id}", "/appointments?day=2026-11-24"):
        page = browser.get(url)
        assert "<script>alert" not in page.text and "<b>bold</b>" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page.text


# -- the visit ---------------------------------------------------------------------------------------------------


def test_check_in_then_record_that_she_bought(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11, associate_id=w.ana)
    token = signed_in(browser, ANA)
    arrived = browser.post(f"/appointments/{appointment_id}/check-in", data={"csrf_token": token})
    assert arrived.status_code == 303 and arrived.headers["location"] == f"/appointments/{appointment_id}#visit"
    page = browser.get(f"/appointments/{appointment_id}")
    assert "Arrived at 16:00." in text_of(section(page.text, "visit"))  # checked in now, in Paris time
    done = browser.post(f"/appointments/{appointment_id}/outcome",
                        data={"csrf_token": token, "outcome": "purchased", "note": "Took the coat in M"})  # fmt: skip
    assert done.status_code == 303
    row = appointment(db, appointment_id)
    assert (row.status, row.outcome, row.outcome_note) == ("completed", "purchased", "Took the coat in M")
    assert "Bought: Took the coat in M" in text_of(browser.get(f"/appointments/{appointment_id}").text)


def test_an_outcome_before_check_in_is_refused_beside_the_form(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    token = signed_in(browser, ANA)
    refused = browser.post(f"/appointments/{appointment_id}/outcome",
                           data={"csrf_token": token, "outcome": "purchased", "note": ""})  # fmt: skip
    assert refused.status_code == 409
    assert '<p class="alert" role="alert">check the client in first (or record a no-show)</p>' in refused.text
    assert appointment(db, appointment_id).status == "booked"


def test_a_follow_up_outcome_creates_a_task(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11, associate_id=w.ana)
    token = signed_in(browser, ANA)
    browser.post(f"/appointments/{appointment_id}/check-in", data={"csrf_token": token})
    r = browser.post(
        f"/appointments/{appointment_id}/outcome",
        data={"csrf_token": token, "outcome": "follow_up", "note": "Send the coat in L when it is back"},
    )
    assert r.status_code == 303
    with db.read() as session:
        tasks = session.execute(select(Task.customer_id, Task.title, Task.reason, Task.dedupe_key)).all()
    assert tasks == [(w.alicia, "Follow up after the appointment", "Send the coat in L when it is back",
                      f"appointment_follow_up:{appointment_id}")]  # fmt: skip


def test_a_no_show(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    token = signed_in(browser, ANA)
    r = browser.post(f"/appointments/{appointment_id}/outcome", data={"csrf_token": token, "outcome": "no_show"})
    assert r.status_code == 303
    row = appointment(db, appointment_id)
    assert (row.status, row.outcome) == ("no_show", "no_show")
    assert "Did not come" in text_of(browser.get(f"/appointments/{appointment_id}").text)


def test_cancelling_from_the_brief(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    token = signed_in(browser, ANA)
    r = browser.post(f"/appointments/{appointment_id}/cancel", data={"csrf_token": token, "reason": "Flight moved"})
    assert r.status_code == 303
    row = appointment(db, appointment_id)
    assert (row.status, row.cancel_reason) == ("cancelled", "Flight moved")
    again = browser.post(f"/appointments/{appointment_id}/check-in", data={"csrf_token": token})
    assert again.status_code == 409 and "this appointment is cancelled" in again.text
    late = browser.post(f"/appointments/{appointment_id}/outcome", data={"csrf_token": token, "outcome": "no_show"})
    assert late.status_code == 409 and '<p class="alert" role="alert">this appointment was cancelled</p>' in late.text


def test_a_post_without_the_session_s_token_is_refused(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    signed_in(browser, ANA)
    assert browser.post(f"/appointments/{appointment_id}/check-in", data={}).status_code == 403
    assert appointment(db, appointment_id).status == "booked"


def test_put_aside_from_the_brief_holds_the_item_here_for_after_the_appointment(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11)
    token = signed_in(browser, ANA)
    r = browser.post(f"/appointments/{appointment_id}/hold", headers=HTMX,
                     data={"csrf_token": token, "sku": "COAT-M", "key": "brief-test-COAT-M"})  # fmt: skip
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="pull"')
    assert "Set aside here (M)" in text_of(r.text) and "1 here" in text_of(r.text)
    again = browser.post(f"/appointments/{appointment_id}/hold", headers=HTMX,
                         data={"csrf_token": token, "sku": "COAT-M", "key": "brief-test-COAT-M"})  # fmt: skip
    assert again.status_code == 200  # a double tap places one hold
    with db.read() as session:
        held = session.execute(select(Reservation.customer_id, Reservation.expires_at, Reservation.kind)).all()
    assert held == [(w.alicia, datetime(2026, 11, 24, 13, 0, tzinfo=UTC), "hold")]  # ends 12:00 Paris + 2 h


def test_put_aside_without_stock_is_refused_beside_the_item(db, w, browser):
    appointment_id = book(db, w, TUESDAY_11, sizes={"coats": "L"})
    token = signed_in(browser, ANA)
    r = browser.post(f"/appointments/{appointment_id}/hold", headers=HTMX,
                     data={"csrf_token": token, "sku": "COAT-L", "key": "k-1"})  # fmt: skip
    assert r.status_code == 409 and r.headers["X-Rapport-Fragment"] == "1"
    assert 'role="alert"' in r.text and "COAT-L" in r.text
    plain = browser.post(f"/appointments/{appointment_id}/hold", data={"csrf_token": token, "sku": "COAT-L"})
    assert plain.status_code == 409 and "<html" in plain.text


# -- booking for a client -------------------------------------------------------------------------------------------


def test_the_booking_form_starts_at_my_store_with_free_times_and_her_sizes(db, w, browser):
    signed_in(browser, ANA)
    page = browser.get(f"/clients/{w.alicia}/appointments/new")
    assert page.status_code == 200
    assert f'<option value="{w.paris}" selected>Paris Saint-Honoré (my store)</option>' in page.text
    assert 'aria-current="date"' in page.text and "Tue 24 Nov" in text_of(page.text)  # today is full: Tuesday first
    starts = datetime(2026, 11, 24, 10, 0, tzinfo=UTC).isoformat()
    assert f'value="{starts}"' in page.text and "with you" in page.text
    assert 'name="size_key" class="carry" value="coats"' in page.text and 'value="M"' in page.text


def test_booking_for_a_client_goes_to_the_brief_with_me_as_her_associate(db, w, browser):
    token = signed_in(browser, ANA)
    form = browser.get(f"/clients/{w.alicia}/appointments/new")
    key = re.search(r'name="key" value="([^"]+)"', form.text)
    assert key
    data = {
        "csrf_token": token, "key": key.group(1), "store": str(w.paris), "type": str(w.types["fitting"]),
        "associate": "auto", "starts_at": datetime(2026, 11, 24, 10, 0, tzinfo=UTC).isoformat(),
        "reason": "Fitting for the altered coat", "products": "COAT-M\nhttps://shop.example/p/belt",
        "size_key": ["coats", "shoes"], "size_value": ["M", "38"],
    }  # fmt: skip
    r = browser.post(f"/clients/{w.alicia}/appointments", data=data)
    assert r.status_code == 303
    appointment_id = int(r.headers["location"].rsplit("/", 1)[1])
    row = appointment(db, appointment_id)
    assert (row.customer_id, row.associate_id, row.booked_via, row.booked_by_id) == (
        w.alicia,
        w.ana,
        "associate",
        w.ana,
    )
    assert row.reason == "Fitting for the altered coat"
    assert row.products_of_interest == ["COAT-M", "https://shop.example/p/belt"]
    assert row.sizes == {"coats": "M", "shoes": "38"}
    twice = browser.post(f"/clients/{w.alicia}/appointments", data=data)  # the same form sent again
    assert twice.status_code == 303 and twice.headers["location"] == r.headers["location"]
    assert "Fitting for the altered coat" in browser.get(r.headers["location"]).text


def test_a_refused_time_comes_back_with_the_reason_beside_the_times_and_what_was_typed(db, w, browser):
    token = signed_in(browser, ANA)
    data = {"csrf_token": token, "store": str(w.paris), "type": str(w.types["styling"]), "associate": "any",
            "starts_at": datetime(2026, 11, 24, 7, 0, tzinfo=UTC).isoformat(), "reason": "Before work?"}  # fmt: skip
    r = browser.post(f"/clients/{w.alicia}/appointments", data=data)
    assert r.status_code == 422
    times = re.search(r'<fieldset id="times".*?</fieldset>', r.text, re.S)
    assert times and "outside opening hours (10:00–19:00 on Tuesdays)" in times.group(0)
    assert ">Before work?</textarea>" in r.text
    missing = browser.post(f"/clients/{w.alicia}/appointments", data={**data, "starts_at": ""})
    assert missing.status_code == 422 and "choose a time" in missing.text
    with db.read() as session:
        assert session.scalars(select(Appointment.id)).all() == []


def test_changing_the_store_redraws_the_form_keeping_what_was_typed(db, w, browser):
    signed_in(browser, ANA)
    r = browser.get(f"/clients/{w.alicia}/appointments/new", headers=HTMX,
                    params={"store": w.new_york, "reason": "Visiting New York", "size_key": "coats",
                            "size_value": "M"})  # fmt: skip
    assert r.status_code == 200 and r.text.lstrip().startswith('<form id="book-form"')
    assert f'<option value="{w.new_york}" selected>New York Madison</option>' in r.text
    assert ">Visiting New York</textarea>" in r.text and "Ben Carter" in r.text
    assert "America/New_York time" in r.text


def test_another_store_s_associate_cannot_book_my_client_into_my_store(db, w, browser):
    token = signed_in(browser, BEN)
    data = {"csrf_token": token, "store": str(w.paris), "type": str(w.types["styling"]), "associate": "any",
            "starts_at": datetime(2026, 11, 24, 10, 0, tzinfo=UTC).isoformat()}  # fmt: skip
    assert browser.post(f"/clients/{w.alicia}/appointments", data=data).status_code == 403


def test_the_profile_lists_the_clients_next_appointment_with_a_link_to_its_brief(db, w, browser):
    from rapport.appointments.booking import BookingRequest, book_appointment
    from rapport.associates.audit import SYSTEM

    done = book_appointment(
        db, BookingRequest(location_id=w.paris, type_id=w.types["styling"], starts_at=TUESDAY_11,
                           customer_id=w.alicia, reason="Wedding outfit", idempotency_key="profile-0001"),
        via="associate", actor=SYSTEM,
    )  # fmt: skip
    signed_in(browser, ANA)
    page = browser.get(f"/clients/{w.alicia}")
    assert page.status_code == 200
    assert f'href="/appointments/{done.id}"' in page.text and "Wedding outfit" in section(page.text, "appointments")
    local = done.starts_at.astimezone(PARIS)
    assert f"{local:%H:%M}" in section(page.text, "appointments")
