"""The public booking pages: a client picks a store, a visit, a day and a time, says who they are and why,
and books — no sign-in. Times read in the store's time; errors sit next to their field with what was typed
kept; the signed manage link moves and cancels; a forged form, a tampered or an expired link changes nothing.

The clock stands at Monday 23 Nov 2026, 15:00 UTC (16:00 in Paris): today has no time left for a styling
session (two hours' notice, closing at 19:00), so the first bookable day is Tuesday 24th.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.app import create_app
from rapport.appointments import links, setup
from rapport.appointments.booking_pages import issue_form_token
from rapport.appointments.models import Appointment
from rapport.associates.models import AuditEvent
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.ingest.service import ingest_records
from tests.appointments.fixtures import PARIS, Shop, at, book, shop

TUESDAY_10 = at(PARIS, 2026, 11, 24, 10)  # 09:00 UTC
TUESDAY_10_ISO = "2026-11-24T09:00:00Z"
TUESDAY_1130_ISO = "2026-11-24T10:30:00Z"
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def booking_app() -> FastAPI:
    return create_app()


@pytest.fixture
def world(db: Database) -> Shop:
    """Paris and New York set up (Ana and Leo in Paris), Paris with its address; Lyon without appointment
    types and a warehouse: neither takes bookings."""
    world = shop(db)
    result = ingest_records(db, "locations", [
        {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "timezone": "Europe/Paris", "currency": "EUR",
         "city": "Paris", "address_line1": "400 rue Saint-Honoré", "postal_code": "75001"},
        {"code": "LYO", "name": "Lyon Presqu'île", "country": "FR", "timezone": "Europe/Paris", "city": "Lyon"},
        {"code": "WH", "name": "Central warehouse", "kind": "warehouse", "country": "FR", "timezone": "Europe/Paris"},
    ])  # fmt: skip
    assert all(o.status != "rejected" for o in result.outcomes), result.outcomes
    result = ingest_records(db, "products", [
        {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel wool coat", "brand": "Maison",
         "colour": "camel", "size": "M", "price": "1200.00", "currency": "EUR"},
        {"sku": "COAT-OLD", "name": "Old coat", "price": "10", "currency": "EUR", "active": False},
    ])  # fmt: skip
    assert all(o.status != "rejected" for o in result.outcomes), result.outcomes
    return world


@pytest.fixture
def web(world: Shop) -> TestClient:
    return TestClient(booking_app(), follow_redirects=False)


def form_token(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found, page.text[:3000]
    return html.unescape(found.group(1))


def details(web: TestClient, start: str = TUESDAY_10_ISO, **query: str) -> httpx.Response:
    page = web.get("/book/PAR/details", params={"type": "styling", "start": start, **query})
    assert page.status_code == 200, page.text
    return page


def fields(token: str, start: str = TUESDAY_10_ISO, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "form_token": token, "type": "styling", "start": start, "first_name": "Alicia", "last_name": "Moreau",
        "email": "alicia@example.com", "phone": "", "reason": "A coat for the winter", "products": "",
        "size_tops": "", "size_bottoms": "", "size_shoes": "", "size_ring": "", "consent": ["email"],
    }  # fmt: skip
    data.update(kw)
    return data


def submit(web: TestClient, **kw: Any) -> httpx.Response:
    """What a person does: open the form for the time, fill it in, send it."""
    start = kw.pop("start", TUESDAY_10_ISO)
    token = form_token(details(web, start if start else TUESDAY_10_ISO))
    return web.post("/book/PAR", data=fields(token, start, **kw))


def appointments(db: Database) -> list[Appointment]:
    with db.read() as session:
        return list(session.scalars(select(Appointment).order_by(Appointment.id)))


def manage_token_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/book/done/")
    return location.removeprefix("/book/done/")


def error_of(page: httpx.Response, field: str) -> str:
    found = re.search(rf'<p class="bk-field-error" id="{field}-error">([^<]+)</p>', page.text)
    assert found, f"no error for {field} in:\n{page.text[:4000]}"
    return html.unescape(found.group(1))


# --- choosing ------------------------------------------------------------------------------------------


def test_the_store_list_shows_the_stores_taking_appointments_with_city_and_address(web):
    page = web.get("/book")
    assert page.status_code == 200
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    stores = re.findall(r'<a class="bk-card" href="(/book/[^"]+)">', page.text)  # /book is the associates' client book
    assert stores == ["/book/NYC", "/book/PAR"]  # by city; Lyon offers nothing, the warehouse is no store
    assert "Paris Saint-Honoré" in page.text and "400 rue Saint-Honoré, 75001 Paris" in page.text
    assert "Lyon" not in page.text and "warehouse" not in page.text


def test_a_store_offers_its_visits_with_duration_and_description(web):
    page = web.get("/book/PAR")
    assert page.status_code == 200
    assert re.findall(r'href="/book/PAR\?type=(\w+)"', page.text) == ["styling", "alterations", "fitting",
                                                                      "virtual", "pickup"]  # fmt: skip
    assert "60 min" in page.text and "An hour with a stylist" in page.text
    assert web.get("/book/LYO").status_code == 404 and web.get("/book/NOPE").status_code == 404


def test_a_day_s_times_are_shown_in_the_store_s_time(web):
    page = web.get("/book/PAR", params={"type": "styling"})
    assert page.status_code == 200
    days = re.findall(r'<input type="radio" name="day" value="([\d-]+)"( checked)?( disabled)?', page.text)
    assert len(days) == 21 and days[0] == ("2026-11-23", "", " disabled")  # today: too late for an hour
    assert days[1] == ("2026-11-24", " checked", "")  # the first day with a free time is chosen
    assert "Tuesday 24 November" in page.text and "Paris time" in page.text
    times = re.findall(r'class="bk-time" href="([^"]+)">(\d\d:\d\d)<', page.text)
    assert times[0][1] == "10:00" and times[-1][1] == "17:30"  # 17:30 + 60 min + 15 after = 18:45 < 19:00
    assert html.unescape(times[0][0]) == f"/book/PAR/details?type=styling&start={TUESDAY_10_ISO.replace(':', '%3A')}"
    # The same day's times alone, as HTMX swaps them in; a person opening the URL gets the whole page.
    fragment = web.get("/book/PAR/slots", params={"type": "styling", "day": "2026-11-25"},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Wednesday 25 November" in fragment.text and ">10:00<" in fragment.text
    plain = web.get("/book/PAR/slots", params={"type": "styling", "day": "2026-11-25"})
    assert plain.status_code == 303 and plain.headers["location"] == "/book/PAR?type=styling&day=2026-11-25"


def test_a_day_without_a_free_time_says_so(web, db, world):
    with db.write() as session:
        setup.add_closure(session, world.paris, date(2026, 11, 25), date(2026, 11, 25), "Stocktaking")
    page = web.get("/book/PAR", params={"type": "styling"})
    assert re.search(r'value="2026-11-25" disabled', page.text)
    fragment = web.get("/book/PAR/slots", params={"type": "styling", "day": "2026-11-25"},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert "No free time that day" in fragment.text and "bk-time" not in fragment.text


def test_choosing_an_associate_narrows_the_times_to_theirs(web, world):
    page = web.get("/book/PAR", params={"type": "styling"})
    chips = re.findall(r'class="bk-chip" href="([^"]+)"[^>]*>([^<]+)<', page.text)
    assert [name for _, name in chips] == ["Anyone", "Ana", "Leo"]
    book_ana = web.get(html.unescape(chips[1][0]))
    assert f"associate={world.ana}" in book_ana.text and 'aria-current="true">Ana<' in book_ana.text
    link = re.search(r'class="bk-time" href="([^"]+)"', book_ana.text).group(1)
    assert f"associate={world.ana}" in html.unescape(link)
    form = web.get(html.unescape(link))
    assert "With Ana" in form.text and f'name="associate" value="{world.ana}"' in form.text


# --- booking --------------------------------------------------------------------------------------------------


def test_booking_links_the_existing_client_by_email_and_shows_the_confirmation(web, db, world):
    form = details(web)
    assert form.headers["cache-control"] == "private, no-store"
    assert "Tuesday 24 November at 10:00" in form.text and "Styling session" in form.text
    assert not re.search(r'name="consent" value="\w+" checked', form.text)  # unticked until the client ticks
    done = web.post("/book/PAR", data=fields(form_token(form), size_tops="M", size_shoes="38",
                                              products="Camel wool coat\nhttps://shop.example/scarf"))  # fmt: skip
    token = manage_token_of(done)
    [appointment] = appointments(db)
    assert appointment.customer_id == world.client  # Alicia, found by her email
    assert appointment.starts_at == TUESDAY_10 and appointment.booked_via == "web"
    assert appointment.reason == "A coat for the winter" and appointment.sizes == {"tops": "M", "shoes": "38"}
    assert appointment.products_of_interest == ["Camel wool coat", "https://shop.example/scarf"]
    with db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.booked")).one()
        assert (event.actor_kind, event.actor_label) == ("system", "booking page")
    page = web.get(f"/book/done/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "See you Tuesday 24 November at 10:00" in page.text and "Paris time" in page.text
    assert "Paris Saint-Honoré" in page.text and "400 rue Saint-Honoré" in page.text
    assert "A reminder the day before" in page.text and "Tops M · Shoes 38" in page.text
    assert f'href="/book/manage/{token}#move"' in page.text and f'href="/book/manage/{token}#cancel"' in page.text
    assert "Moreau" not in page.text  # the client record is not shown, only what this booking said


def test_a_newcomer_is_a_new_client(web, db, world):
    done = submit(web, first_name="Zoé", last_name="Martin", email="zoe@example.com", phone="+33 6 11 22 33 44",
                  consent=["sms"])  # fmt: skip
    manage_token_of(done)
    [appointment] = appointments(db)
    with db.read() as session:
        zoe = session.get(Customer, appointment.customer_id)
        assert zoe is not None and zoe.id != world.client and (zoe.first_name, zoe.last_name) == ("Zoé", "Martin")


def test_the_same_form_sent_twice_books_once(web, db):
    token = form_token(details(web))
    first = web.post("/book/PAR", data=fields(token))
    again = web.post("/book/PAR", data=fields(token))
    assert manage_token_of(first) == manage_token_of(again)
    assert len(appointments(db)) == 1


@pytest.mark.parametrize(
    ("typed", "field", "says"),
    [
        ({"email": "alicia@@example"}, "email", "Not a valid email address"),
        ({"email": "", "phone": ""}, "email", "Give an email address or a phone number"),
        ({"reason": "x" * 2001}, "reason", "At most 2000 characters (2001 given)"),
        ({"first_name": ""}, "first_name", "Required"),
        ({"products": "\n".join(f"Piece {i}" for i in range(11))}, "products_of_interest", "At most 10 products"),
    ],
    ids=["bad-email", "no-email-nor-phone", "reason-too-long", "no-first-name", "too-many-products"],
)
def test_an_error_names_its_field_and_keeps_what_was_typed(web, db, typed, field, says):
    page = submit(web, last_name="O'Brien <Moreau>", size_ring="52", **typed)
    assert page.status_code == 422 and page.headers["cache-control"] == "private, no-store"
    assert error_of(page, field).startswith(says)
    assert re.search(rf'id="{"products" if field == "products_of_interest" else field}"[^>]*aria-invalid="true"',
                     page.text, re.S)  # fmt: skip
    assert 'value="O&#39;Brien &lt;Moreau&gt;"' in page.text and 'name="size_ring" type="text" value="52"' in page.text
    assert re.search(r'name="consent" value="email" checked', page.text)
    if "reason" in typed:
        assert f">{typed['reason']}</textarea>" in page.text
    assert f'name="start" value="{TUESDAY_10_ISO}"' in page.text  # still the same time
    assert appointments(db) == []


@pytest.mark.parametrize(
    ("start", "says"),
    [("2026-11-23T08:00:00Z", "in the past"), ("2026-11-24T19:00:00Z", "outside opening hours (10:00–19:00")],
    ids=["past", "after-closing"],
)
def test_a_time_that_cannot_be_booked_is_refused_with_the_day_s_free_times(web, db, start, says):
    page = submit(web, start=start)
    assert page.status_code == 422
    assert "This time can no longer be booked: " + says in html.unescape(page.text)
    assert 'value="Alicia"' in page.text and ">A coat for the winter</textarea>" in page.text
    assert appointments(db) == []


def test_a_time_taken_meanwhile_offers_the_day_s_remaining_times(web, db, world):
    token = form_token(details(web, associate=str(world.ana)))
    book(db, location_id=world.paris, type_id=world.types["styling"], customer_id=world.client, starts_at=TUESDAY_10,
         associate_id=world.ana)  # someone else was quicker  # fmt: skip
    page = web.post(
        "/book/PAR", data=fields(token, associate=str(world.ana), first_name="Zoé", email="zoe@example.com")
    )
    assert page.status_code == 422
    assert "This time can no longer be booked: Ana has another appointment then" in html.unescape(page.text)
    left = re.findall(r'<input type="radio" name="start" value="([^"]+)">', page.text)
    assert TUESDAY_10_ISO not in left and left[0] == TUESDAY_1130_ISO  # Ana is busy until 11:15 (15 min after)
    assert 'value="Zoé"' in page.text
    again = web.post("/book/PAR", data=fields(token, TUESDAY_1130_ISO, associate=str(world.ana), first_name="Zoé",
                                              email="zoe@example.com"))  # fmt: skip
    manage_token_of(again)
    assert [a.starts_at for a in appointments(db)] == [TUESDAY_10, TUESDAY_10 + timedelta(minutes=90)]


def test_the_form_page_says_so_when_the_time_has_gone_before_anything_is_typed(web, db, world):
    book(db, location_id=world.paris, type_id=world.types["styling"], customer_id=world.client, starts_at=TUESDAY_10,
         associate_id=world.ana)  # fmt: skip
    book(db, location_id=world.paris, type_id=world.types["styling"], customer_id=world.client, starts_at=TUESDAY_10,
         associate_id=world.leo)  # fmt: skip
    page = details(web)
    assert "This time can no longer be booked" in page.text and TUESDAY_1130_ISO in page.text


def test_markup_in_the_reason_is_shown_as_text_on_the_confirmation(web):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    token = manage_token_of(submit(web, reason=attack, products="<b>bold</b>"))
    page = web.get(f"/book/done/{token}")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text


def test_the_catalogue_search_lists_active_products_and_a_ticked_one_is_booked(web, db):
    hits = web.get("/book/products", params={"q": "coat"}, headers={"HX-Request": "true"})
    assert hits.status_code == 200
    assert "Camel wool coat" in hits.text and "€1,200.00" in hits.text and "Old coat" not in hits.text
    assert 'src="/static/products/COAT-CAMEL.svg"' in hits.text
    value = html.unescape(re.search(r'name="pick" value="([^"]+)"', hits.text).group(1))
    assert value == "Camel wool coat (COAT-CAMEL-M)"
    kept = web.get("/book/products", params={"q": "", "pick": value})
    assert re.search(r'name="pick" value="[^"]+" form="booking-form" checked', kept.text)
    # Without JavaScript the Search button sends the form back with the results, everything typed kept.
    token = form_token(details(web))
    found = web.post("/book/PAR", data=fields(token, find="1", q="coat", reason="For a wedding"))
    assert found.status_code == 200 and "Camel wool coat" in found.text and ">For a wedding</textarea>" in found.text
    assert appointments(db) == []
    manage_token_of(web.post("/book/PAR", data=fields(token, pick=[value], products="A silk scarf")))
    assert appointments(db)[0].products_of_interest == ["A silk scarf", "Camel wool coat (COAT-CAMEL-M)"]


# --- the form token ----------------------------------------------------------------------------------------------


def test_a_post_without_a_genuine_recent_form_token_is_refused(web, db, fixed_clock):
    genuine = form_token(details(web))
    nonce, issued, _ = genuine.split(".")
    three_hours_ago = issue_form_token(fixed_clock.now() - timedelta(hours=3))
    for token in (
        "",
        "nonsense",
        f"{nonce}.{issued}.forged-signature-forged-signatur",
        three_hours_ago,
        f"{nonce}.{int(issued) + 1}.{genuine.split('.')[2]}",
        f"{nonce}.{issued}.é{genuine.split('.')[2][1:]}",
        f"{nonce}.{'9' * 40}.{genuine.split('.')[2]}",
    ):
        refused = web.post("/book/PAR", data=fields(token))
        assert refused.status_code == 403, token
        assert "This form has expired" in refused.text
    assert appointments(db) == []
    fixed_clock.advance(timedelta(hours=1, minutes=59))
    manage_token_of(web.post("/book/PAR", data=fields(genuine)))  # still within two hours


# --- the manage link ---------------------------------------------------------------------------------------------


def test_the_manage_link_moves_the_appointment_and_the_old_link_stops_working(web, db):
    token = manage_token_of(submit(web))
    page = web.get(f"/book/manage/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Move to another time" in page.text and f'action="/book/manage/{token}/move"' in page.text
    wednesday = web.get(f"/book/manage/{token}/slots", params={"day": "2026-11-25"}, headers={"HX-Request": "true"})
    assert 'name="start" value="2026-11-25T09:00:00Z"' in wednesday.text
    moved = web.post(
        f"/book/manage/{token}/move", data={"form_token": form_token(page), "start": "2026-11-25T09:00:00Z"}
    )
    new = manage_token_of(moved)
    [appointment] = appointments(db)
    assert appointment.starts_at == datetime(2026, 11, 25, 9, tzinfo=UTC) and appointment.version == 2
    assert "See you Wednesday 25 November at 10:00" in web.get(f"/book/done/{new}").text
    old = web.get(f"/book/manage/{token}")
    assert old.status_code == 403 and "This link is no longer valid" in old.text


def test_moving_to_a_time_that_is_not_free_says_so_and_shows_that_day(web, db, world):
    token = manage_token_of(submit(web))
    page = web.get(f"/book/manage/{token}")
    refused = web.post(f"/book/manage/{token}/move", data={"form_token": form_token(page),
                                                           "start": "2026-11-25T05:00:00Z"})  # fmt: skip
    assert refused.status_code == 422
    assert "This time can no longer be booked: outside opening hours" in html.unescape(refused.text)
    assert "Wednesday 25 November" in refused.text
    assert appointments(db)[0].starts_at == TUESDAY_10


def test_the_manage_link_cancels_the_appointment(web, db):
    token = manage_token_of(submit(web))
    page = web.get(f"/book/manage/{token}")
    cancelled = web.post(f"/book/manage/{token}/cancel", data={"form_token": form_token(page), "reason": "Ill"})
    new = manage_token_of(cancelled)
    [appointment] = appointments(db)
    assert appointment.status == "cancelled" and appointment.cancel_reason == "Ill"
    done = web.get(f"/book/done/{new}")
    assert "Your appointment is cancelled" in done.text and 'href="/book/PAR"' in done.text
    assert web.post(f"/book/manage/{token}/cancel", data={"form_token": form_token(page)}).status_code == 403


def test_a_tampered_or_expired_link_is_refused_with_a_clear_page(web, db, fixed_clock):
    token = manage_token_of(submit(web))
    appointment_id, version, expires, signature = token.split(".")
    tampered = f"{appointment_id}.{version}.{expires}.{signature[:-1]}{'B' if signature.endswith('A') else 'A'}"
    forgeries = (
        tampered,
        f"{int(appointment_id) + 1}.{version}.{expires}.{signature}",
        "garbage",
        f"{appointment_id}.{version}.{expires}.é{signature[1:]}",
        f"{appointment_id}.{version}.{'9' * 30}.{signature}",
    )
    for forged in forgeries:
        for url in (f"/book/manage/{forged}", f"/book/done/{forged}"):
            refused = web.get(url)
            assert refused.status_code == 403 and "This link is not valid" in refused.text, url
            assert "Traceback" not in refused.text
    page = web.get(f"/book/manage/{token}")
    moved = web.post(f"/book/manage/{tampered}/move",
                     data={"form_token": form_token(page), "start": "2026-11-25T09:00:00Z"})  # fmt: skip
    assert moved.status_code == 403 and appointments(db)[0].starts_at == TUESDAY_10
    fixed_clock.set(TUESDAY_10 + timedelta(minutes=1))
    expired = web.get(f"/book/manage/{token}")
    assert expired.status_code == 403 and "This link has expired" in expired.text
    assert links.read_manage_token(token, now=TUESDAY_10 - timedelta(minutes=1)).appointment_id == int(appointment_id)


def test_moving_and_cancelling_need_the_form_token(web, db):
    token = manage_token_of(submit(web))
    assert web.post(f"/book/manage/{token}/move", data={"start": "2026-11-25T09:00:00Z"}).status_code == 403
    assert web.post(f"/book/manage/{token}/cancel", data={"form_token": "x.1.y"}).status_code == 403
    [appointment] = appointments(db)
    assert appointment.status == "booked" and appointment.starts_at == TUESDAY_10
