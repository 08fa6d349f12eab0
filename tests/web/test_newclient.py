"""New client at the counter: consent captured, duplicates shown while typing, bad input refused clearly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.associates import audit, tokens
from rapport.customers.models import Consent, Customer, TimelineEntry
from rapport.identity.models import Identifier
from rapport.settings import get_settings
from tests.web.conftest import signed_in
from tests.web.shop import client

ANA = "ana@maison.example"  # Paris: numbers without a country code are French
BEN = "ben@maison.example"  # New York: they are American


@pytest.fixture
def alicia(db, staffed) -> int:
    return client(
        db, "1001", "Alicia", "Moreau", home_store="PAR",
        emails=["alicia@example.com"], phones=["+33 6 12 34 56 78"],
        addresses=[{"city": "Paris", "country": "FR", "primary": True}],
    )  # fmt: skip


def clients(db) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active")) or 0)


def form(csrf: str, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {"csrf_token": csrf, "first_name": "", "last_name": "", "email": "", "phone": ""}
    data.update(fields)
    return data


def dupes(html: str) -> list[tuple[str, str, str]]:
    """(href, name, reason) of the duplicates shown."""
    return re.findall(
        r'<a class="client" href="(/clients/\d+)">.*?<strong>([^<]+)</strong> <span class="reason[^"]*">([^<]+)</span>',
        html,
        re.S,
    )


def test_the_form_asks_for_consent_per_channel_and_reads_phones_in_the_stores_country(browser, staffed):
    signed_in(browser, ANA)
    page = browser.get("/clients/new")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text and 'action="/clients/new"' in page.text
    assert re.findall(r'name="consent" value="(\w+)"', page.text) == ["email", "sms", "whatsapp", "phone"]
    assert "checked" not in re.search(r'name="consent" value="email"[^>]*>', page.text).group(0)  # opt-in, never ticked
    assert "At Paris Saint-Honoré" in page.text and "read as France" in page.text
    assert 'hx-get="/clients/new/duplicates"' in page.text and 'href="/static/newclient.css?v=' in page.text


def test_a_first_time_shopper_is_created_with_consent_and_opened(db, browser, staffed, fixed_clock):
    csrf = signed_in(browser, ANA)
    data = form(csrf, first_name=" Inès ", last_name="Fabre", email="Ines.Fabre@Example.com",
                phone="06 98 76 54 32", consent=["email", "sms"], assign_to_me="1")  # fmt: skip
    response = browser.post("/clients/new", data=data)
    assert response.status_code == 303, response.text
    cid = int(response.headers["location"].removeprefix("/clients/"))
    with db.read() as session:
        row = session.get(Customer, cid)
        assert (row.first_name, row.last_name) == ("Inès", "Fabre")
        assert row.home_location_id == staffed.paris and row.assigned_associate_id == staffed.ana
        found = dict(session.execute(select(Identifier.kind, Identifier.value).where(
            Identifier.customer_id == cid, Identifier.kind != "external")).all())  # fmt: skip
        assert found == {"email": "ines.fabre@example.com", "phone": "+33698765432"}
        consent = {c.channel: (c.granted, c.source, c.recorded_at) for c in session.scalars(
            select(Consent).where(Consent.customer_id == cid))}  # fmt: skip
        assert consent == {
            "email": (True, "store:par", fixed_clock.now()),
            "sms": (True, "store:par", fixed_clock.now()),
        }
        summaries = set(session.scalars(select(TimelineEntry.summary).where(TimelineEntry.customer_id == cid)))
        assert "Registered at Paris Saint-Honoré by Ana Duval" in summaries
        created = audit.list_events(session, customer_id=cid, actions=["client.created"]).events
        assert [(e.actor_kind, e.actor_id) for e in created] == [("associate", staffed.ana)]


def test_duplicates_are_shown_while_typing_a_misspelt_name(browser, alicia):
    signed_in(browser, ANA)
    typed = browser.get("/clients/new/duplicates", params={"first_name": "Alicia", "last_name": "Moraeu"},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert typed.status_code == 200 and "<html" not in typed.text
    assert dupes(typed.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Similar name")]
    assert "Is it one of them?" in typed.text and "Paris" in typed.text
    nothing_yet = browser.get("/clients/new/duplicates", params={"first_name": "Alicia"})
    assert dupes(nothing_yet.text) == []  # a first name alone matches half the book


def test_the_same_phone_in_national_format_is_the_same_client(browser, alicia):
    signed_in(browser, ANA)
    typed = browser.get("/clients/new/duplicates", params={"first_name": "A", "phone": "06 12 34 56 78"})
    assert dupes(typed.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Same phone number")]
    assert "Already a client" in typed.text and "+33 6 12 34 56 78" in typed.text


def test_a_national_number_is_read_in_the_associates_own_country(browser, alicia):
    signed_in(browser, BEN)  # in New York, 06 12 34 56 78 is not the Paris number
    typed = browser.get("/clients/new/duplicates", params={"phone": "06 12 34 56 78"})
    assert dupes(typed.text) == []
    international = browser.get("/clients/new/duplicates", params={"phone": "+33 612 345 678"})
    assert dupes(international.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Same phone number")]


def test_an_email_one_typo_away_is_shown(browser, alicia):
    signed_in(browser, ANA)
    typed = browser.get("/clients/new/duplicates", params={"email": "alicia@exmaple.com"})
    assert dupes(typed.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Similar email address")]


def test_the_same_email_is_never_created_twice(db, browser, alicia):
    csrf = signed_in(browser, ANA)
    before = clients(db)
    data = form(csrf, first_name="Alice", last_name="Morel", email="ALICIA@example.com", create_anyway="1")
    response = browser.post("/clients/new", data=data)
    assert response.status_code == 409
    assert dupes(response.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Same email address")]
    assert "Already a client" in response.text and 'value="Alice"' in response.text
    assert clients(db) == before
    with db.read() as session:
        assert session.get(Customer, alicia).first_name == "Alicia"  # the existing record is untouched


def test_a_similar_name_asks_to_confirm_then_creates(db, browser, alicia):
    csrf = signed_in(browser, ANA)
    before = clients(db)
    data = form(csrf, first_name="Alicia", last_name="Moreau", email="another.alicia@example.com")
    first = browser.post("/clients/new", data=data)
    assert first.status_code == 409 and clients(db) == before
    assert dupes(first.text) == [(f"/clients/{alicia}", "Alicia Moreau", "Same name")]
    assert 'name="create_anyway" value="1"' in first.text and "This is someone new" in first.text
    confirmed = browser.post("/clients/new", data={**data, "create_anyway": "1"})
    assert confirmed.status_code == 303 and clients(db) == before + 1
    assert confirmed.headers["location"] != f"/clients/{alicia}"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"first_name": "A" * 101}, "first_name",
         "First name is too long: at most 100 characters (this one has 101)."),
        ({"first_name": "Ann", "last_name": "B" * 250}, "last_name",
         "Last name is too long: at most 100 characters (this one has 250)."),
        ({"first_name": "Ann", "email": "ann@"}, "email", "Email “ann@” is not a valid email address"),
        ({"first_name": "Ann", "phone": "12"}, "phone", "Phone “12” is not a valid phone number for France."),
        ({"email": "ann@example.com"}, "first_name", "Enter the client's first name or last name."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_message_naming_the_field(db, browser, staffed, fields, field, message):
    csrf = signed_in(browser, ANA)
    response = browser.post("/clients/new", data=form(csrf, **fields))
    assert response.status_code == 422
    html = response.text.replace("&#39;", "'")
    assert f'<p class="field-error" id="{field}-error">{message}' in html
    assert f'id="{field}" name="{field}"' in html and 'aria-describedby="' + field + '-error"' in html
    assert clients(db) == 0


def test_a_script_tag_in_a_name_is_shown_as_text(db, browser, alicia):
    csrf = signed_in(browser, ANA)
    evil = '<script>alert("boo")</script>'
    response = browser.post("/clients/new", data=form(csrf, first_name=evil, last_name="Moreau", email="nope@"))
    assert response.status_code == 422
    assert "&lt;script&gt;alert(" in response.text and evil not in response.text
    created = browser.post("/clients/new", data=form(csrf, first_name=evil, last_name="Zed"))
    assert created.status_code == 303
    typed = browser.get("/clients/new/duplicates", params={"first_name": evil, "last_name": "Zed"})
    assert "&lt;script&gt;" in typed.text and evil not in typed.text


def test_a_csrf_less_post_creates_nothing(db, browser, staffed):
    signed_in(browser, ANA)
    response = browser.post("/clients/new", data={"first_name": "Ann", "last_name": "Lee"})
    assert response.status_code == 403 and clients(db) == 0


def test_an_associate_registers_clients_at_their_own_store_only(db, browser, staffed):
    csrf = signed_in(browser, BEN)
    response = browser.post("/clients/new", data=form(csrf, first_name="Ann", last_name="Lee", store="PAR"))
    assert response.status_code == 403 and clients(db) == 0


def test_an_expired_session_is_sent_to_sign_in(browser, staffed, fixed_clock):
    signed_in(browser, ANA)
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes))
    assert browser.get("/clients/new").headers["location"] == "/login?next=/clients/new"


# -- the JSON twins -------------------------------------------------------------------------------


def test_the_api_lists_duplicates_for_a_session_and_a_token(db, app, alicia):
    api = TestClient(app, follow_redirects=False)
    csrf = signed_in(api, ANA)
    draft = {"first_name": "Alicia", "last_name": "Moraeu", "phone": "06 12 34 56 78"}
    found = api.post("/api/v1/customers/duplicates", json=draft, headers={"X-CSRF-Token": csrf})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["region"] == "FR" and body["blocking"] is True
    assert [(d["id"], d["matched_on"], d["same_identifier"]) for d in body["duplicates"]] == [(alicia, "phone", True)]
    assert api.post("/api/v1/customers/duplicates", json=draft).status_code == 403  # a cookie write needs the header

    with db.write() as session:
        issued = tokens.create_token(session, "kiosk", ["read"])
    kiosk = TestClient(app)
    kiosk.headers["Authorization"] = f"Bearer {issued.token}"
    by_token = kiosk.post("/api/v1/customers/duplicates", json={**draft, "store": "PAR"})
    assert by_token.status_code == 200 and by_token.json()["duplicates"][0]["id"] == alicia
    assert kiosk.post("/api/v1/customers", json={"first_name": "Ann"}).status_code == 403  # read-only
    with db.write() as session:
        tokens.revoke_token(session, issued.id)
    assert kiosk.post("/api/v1/customers/duplicates", json=draft).status_code == 401


def test_the_api_creates_a_client_with_the_same_rules(db, app, alicia):
    api = TestClient(app, follow_redirects=False)
    csrf = signed_in(api, ANA)
    headers = {"X-CSRF-Token": csrf}
    same_email = api.post("/api/v1/customers", json={"first_name": "Al", "email": "alicia@example.com"},
                          headers=headers)  # fmt: skip
    assert same_email.status_code == 409
    assert same_email.json()["blocking"] is True and same_email.json()["duplicates"][0]["id"] == alicia
    bad = api.post("/api/v1/customers", json={"first_name": "A" * 101, "phone": "12"}, headers=headers)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"first_name", "phone"}
    created = api.post("/api/v1/customers", json={"first_name": "Ann", "last_name": "Lee", "phone": "07 81 22 33 44",
                                                  "consent": ["whatsapp"]}, headers=headers)  # fmt: skip
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["url"] == f"/clients/{cid}" and created.json()["status"] == "created"
    with db.read() as session:
        assert session.scalar(select(Identifier.value).where(Identifier.customer_id == cid,
                                                             Identifier.kind == "phone")) == "+33781223344"  # fmt: skip
        assert session.get(Customer, cid).assigned_associate_id is not None
