"""The store team's fulfilment screen: the sections of the signed-in associate's store, one-tap steps
with HTMX or a plain form, refusals in the card, the printable pick list, and the same few statements
whatever the number of orders."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from rapport.db import Database
from rapport.inventory import fulfilment
from tests.inventory.fulfilment_kit import goods, level, online_order, put
from tests.statements import statements
from tests.web.conftest import signed_in

ANA, BEN, MAX = "ana@maison.example", "ben@maison.example", "max@maison.example"


@pytest.fixture
def places(db: Database, staffed: Any) -> dict[str, int]:
    return goods(db)


def htmx(csrf: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf}


def card_of(html: str, fid: int) -> str:
    """One card of the screen: from its id to the next card or the end of its list."""
    begin = html.index(f'id="f-{fid}"')
    ends = [i for i in (html.find('<li class="ff-card', begin), html.find("</ol>", begin)) if i != -1]
    return html[begin : min(ends) if ends else None]


def pickup_at_paris(db: Database, oid: str, *lines: tuple[str, int]) -> int:
    order_id = online_order(db, oid, *lines)
    with db.write() as s:
        return fulfilment.allocate_pickup(s, order_id, _paris(s))[0].id


def _paris(s: Any) -> int:
    from rapport.inventory.sourcing import site_by_code

    found = site_by_code(s, "PAR")
    assert found is not None
    return found.id


def test_the_screen_shows_the_stores_sections_and_a_pick_list(db, browser: TestClient, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1), ("SCARF-SILK", "WH-FR", 1))
    fid = pickup_at_paris(db, "P1")
    incoming = online_order(db, "P2", ("SCARF-SILK", 1))
    with db.write() as s:
        transfer = fulfilment.source_order(s, incoming, ship_to=_paris(s))[1].id
    signed_in(browser, ANA)

    page = browser.get("/fulfilment")
    assert page.status_code == 200, page.text
    html = page.text
    for label in ("To pick", "Ready for collection", "To receive", "Overdue"):
        assert label in html
    card = card_of(html, fid)
    assert "Alicia Moreau" in card and "Order #P1" in card and "Camel wool coat" in card and ">Picked<" in card
    assert 'name="csrf_token"' in card
    incoming_card = card_of(html, transfer)
    assert "From Orléans warehouse" in incoming_card and "Received" not in incoming_card  # not sent yet
    assert 'href="/fulfilment/pick-list?store=PAR"' in html

    sheet = browser.get("/fulfilment/pick-list?store=PAR")
    assert sheet.status_code == 200
    assert "Camel wool coat" in sheet.text and "COAT-CAMEL-M" in sheet.text and "Silk scarf" not in sheet.text


def test_a_step_with_htmx_swaps_the_card_and_a_plain_form_comes_back_to_the_screen(db, browser, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    fid = pickup_at_paris(db, "P3")
    csrf = signed_in(browser, ANA)

    picked = browser.post(f"/fulfilment/{fid}/picked", data={"store": "PAR"}, headers=htmx(csrf))
    assert picked.status_code == 200, picked.text
    assert "Picked" in picked.text and "Ready for collection</button>" in picked.text

    ready = browser.post(f"/fulfilment/{fid}/ready", data={"store": "PAR", "csrf_token": csrf})
    assert (ready.status_code, ready.headers["location"]) == (303, f"/fulfilment?store=PAR#f-{fid}")
    screen = browser.get("/fulfilment").text
    hand_over = screen[screen.index('id="to-hand-over"') : screen.index('id="to-receive"')]
    assert f'id="f-{fid}"' in hand_over and "collect by Mon 30 Nov" in hand_over

    collected = browser.post(f"/fulfilment/{fid}/collected", data={"store": "PAR"}, headers=htmx(csrf))
    assert "ff-card closed" in collected.text and "Collected" in collected.text
    assert level(db, "COAT-CAMEL-M", "PAR") == (0, 0)

    again = browser.post(f"/fulfilment/{fid}/collected", data={"store": "PAR"}, headers=htmx(csrf))
    assert again.status_code == 409 and again.headers["X-Rapport-Fragment"] == "1"
    assert "already collected" in again.text


def test_steps_are_refused_without_the_token_or_at_another_store(db, app, browser, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    fid = pickup_at_paris(db, "P4")
    signed_in(browser, ANA)
    assert browser.post(f"/fulfilment/{fid}/picked", data={"store": "PAR"}).status_code == 403
    ben = TestClient(app, follow_redirects=False)
    csrf = signed_in(ben, BEN)
    refused = ben.post(f"/fulfilment/{fid}/picked", data={"store": "NYC"}, headers=htmx(csrf))
    assert refused.status_code == 403 and "not at one of your stores" in refused.text
    assert ben.get("/fulfilment?store=PAR").status_code == 404  # not his store's screen
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 1)


def test_a_manager_cancels_and_an_associate_finds_stock_again(db, app, browser, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    fid = pickup_at_paris(db, "P5")
    manager = TestClient(app, follow_redirects=False)
    csrf = signed_in(manager, MAX)
    assert "Cancel…" in card_of(manager.get("/fulfilment").text, fid)
    cancelled = manager.post(f"/fulfilment/{fid}/cancel", data={"store": "PAR", "note": "called"}, headers=htmx(csrf))
    assert "Cancelled" in cancelled.text and level(db, "COAT-CAMEL-M", "PAR") == (1, 0)

    order_id = online_order(db, "P6", ("SCARF-SILK", 1))  # nowhere in stock
    with db.write() as s:
        [stuck] = fulfilment.plan_pickups(s, [(order_id, _paris(s))])
    csrf = signed_in(browser, ANA)
    screen = browser.get("/fulfilment").text
    assert "Needs attention" in screen and "Cancel…" not in card_of(screen, stuck)
    put(db, ("SCARF-SILK", "PAR", 1))
    found = browser.post(f"/fulfilment/{stuck}/retry", data={"store": "PAR"}, headers=htmx(csrf))
    assert found.status_code == 200 and "Stock found" in found.text and ">Picked<" in found.text


def test_the_screen_reads_the_same_few_statements_whatever_the_number_of_orders(db, browser, places):
    put(db, ("COAT-CAMEL-M", "PAR", 20), ("SCARF-SILK", "PAR", 20))
    signed_in(browser, ANA)

    def reads() -> int:
        with statements(db, reads_only=True) as seen:
            assert browser.get("/fulfilment").status_code == 200
        return len(seen)

    pickup_at_paris(db, "Q0", ("COAT-CAMEL-M", 1), ("SCARF-SILK", 1))
    one = reads()
    for n in range(1, 6):
        pickup_at_paris(db, f"Q{n}", ("COAT-CAMEL-M", 1), ("SCARF-SILK", 1))
    assert reads() == one
