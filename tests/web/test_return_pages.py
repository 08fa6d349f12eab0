"""Returns at the counter, as Ana in Paris uses them on her phone: find Alicia's web order, take the coat
back, read the receipt; mistakes are said next to the line and nothing is recorded."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.commerce.models import Return
from rapport.db import Database
from tests.commerce.test_returns_api import bought_online
from tests.web.conftest import form_token, signed_in

ANA, MIA = "ana@maison.example", "mia@maison.example"  # associate in Paris; online expert (no store)


@pytest.fixture
def web_order(db: Database, staffed) -> int:
    return bought_online(db)


def returns(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Return)) or 0)


def line_ids(page: httpx.Response) -> list[int]:
    return [int(x) for x in re.findall(r'name="qty_(\d+)"', page.text)]


def form_of(page: httpx.Response, **fields: str) -> dict[str, str]:
    """The order card's form as the browser would send it (hidden fields, ticked boxes), plus ``fields``."""
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    data.update({f"sellable_{i}": "1" for i in line_ids(page)})
    data.update({f"qty_{i}": "0" for i in line_ids(page)})
    data.update(fields)
    return data


def test_the_search_shows_the_order_as_a_card_with_its_lines(browser: TestClient, web_order):
    signed_in(browser, ANA)
    empty = browser.get("/returns")
    assert empty.status_code == 200 and 'name="q"' in empty.text and "/static/returns.css?v=" in empty.text
    page = browser.get("/returns", params={"q": "alicia@example.com"})
    assert page.status_code == 200
    assert "Order #1001" in page.text and "Online" in page.text and 'href="/clients/' in page.text
    assert "Camel wool coat" in page.text and "Size M" in page.text and "€1,200.00" in page.text
    assert (
        len(line_ids(page)) == 2 and "Can be sold again" in page.text and "Returned at Paris Saint-Honoré" in page.text
    )
    assert 'name="csrf_token"' in page.text and 'name="idempotency_key"' in page.text

    short = browser.get("/returns", params={"q": "ab"})
    assert short.status_code == 422 and 'id="q-error"' in short.text and "3 characters or more" in short.text
    none = browser.get("/returns", params={"q": "#4040"})
    assert none.status_code == 200 and "No order matches “#4040”" in none.text


def test_taking_the_coat_back_records_it_and_shows_the_receipt(db, browser: TestClient, web_order):
    signed_in(browser, ANA)
    page = browser.get("/returns", params={"q": "#1001"})
    coat, _scarf = line_ids(page)
    data = form_of(page, reason="Too small", **{f"qty_{coat}": "1"})
    response = browser.post("/returns", data=data)
    assert response.status_code == 303, response.text
    assert browser.post("/returns", data=data).headers["location"] == response.headers["location"]  # double tap
    assert returns(db) == 1

    receipt = browser.get(response.headers["location"])
    assert receipt.status_code == 200
    assert "Return recorded at Paris Saint-Honoré" in receipt.text and "€1,200.00" in receipt.text
    assert "Back in stock" in receipt.text and "bought online" in receipt.text
    assert re.search(r'href="/clients/\d+">Open Alicia Moreau’s profile', receipt.text)

    again = browser.get("/returns", params={"q": "#1001"})
    assert line_ids(again) == [_scarf] and "Returned in full" in again.text


def test_too_many_units_or_no_reason_are_said_next_to_the_field_and_nothing_is_recorded(db, browser, web_order):
    signed_in(browser, ANA)
    page = browser.get("/returns", params={"q": "#1001"})
    coat, scarf = line_ids(page)
    tampered = form_of(page, **{f"qty_{coat}": "2", f"qty_{scarf}": "1"})  # the select offers 1 coat at most
    del tampered[f"sellable_{scarf}"]
    response = browser.post("/returns", data=tampered)
    assert response.status_code == 422
    assert "Only 1 left to return" in response.text and "Say why the client is returning it" in response.text
    assert re.search(rf'id="qty-{coat}" name="qty_{coat}" aria-invalid="true"', response.text)
    assert re.search(rf'name="sellable_{scarf}" value="1">', response.text)  # what was sent is kept: unticked
    assert returns(db) == 0

    nothing = browser.post("/returns", data=form_of(page, reason="Too small"))
    assert nothing.status_code == 422 and "Choose at least one item to return" in nothing.text
    assert returns(db) == 0


def test_a_form_without_its_csrf_token_is_refused(db, browser: TestClient, web_order):
    signed_in(browser, ANA)
    page = browser.get("/returns", params={"q": "#1001"})
    data = form_of(page, reason="Too small", **{f"qty_{line_ids(page)[0]}": "1"})
    data["csrf_token"] = "forged"
    assert browser.post("/returns", data=data).status_code == 403
    assert returns(db) == 0


def test_an_online_expert_without_a_store_finds_orders_but_takes_no_return(browser: TestClient, web_order):
    signed_in(browser, MIA)
    page = browser.get("/returns", params={"q": "#1001"})
    assert page.status_code == 200 and "Order #1001" in page.text
    assert line_ids(page) == [] and "you are not attached to one" in page.text
    assert form_token(browser.get("/"))  # still signed in
