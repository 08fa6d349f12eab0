"""A client books a styling session on a phone: from the list of stores to the confirmation, in headless
Chromium at 375 x 740 — the days are tapped, the times swap in (HTMX), the catalogue is searched as she
types, and nothing scrolls sideways or writes an error to the console."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rapport.appointments.models import Appointment
from rapport.db import Database
from rapport.ingest.service import ingest_records
from tests.appointments.fixtures import PARIS, at, shop
from tests.web.browser.test_tasks_browser import no_sideways_scroll


def test_a_client_books_a_styling_session_on_her_phone(db: Database, phone: Any, screenshot: Any) -> None:
    from playwright.sync_api import expect

    world = shop(db)
    stocked = ingest_records(db, "products", [
        {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel wool coat", "brand": "Maison",
         "colour": "camel", "size": "M", "price": "1200.00", "currency": "EUR"},
    ])  # fmt: skip
    assert all(o.status != "rejected" for o in stocked.outcomes)
    page = phone

    page.goto("/book")
    no_sideways_scroll(page)
    screenshot(page, "01-stores")
    page.get_by_role("link", name="Paris Saint-Honoré").click()
    page.get_by_role("link", name="Styling session").click()
    expect(page.locator("#slots")).to_contain_text("Tuesday 24 November")  # the first day with a free time
    no_sideways_scroll(page)
    screenshot(page, "02-days", full_page=True)

    page.locator("label.bk-day", has_text="25").click()  # Wednesday: the times swap in
    expect(page.locator("#slots")).to_contain_text("Wednesday 25 November")
    assert page.url.endswith("/book/PAR?type=styling&day=2026-11-25")  # the address follows, for Back
    tap_target = page.get_by_role("link", name="11:00").bounding_box()
    assert tap_target is not None and tap_target["height"] >= 44
    page.get_by_role("link", name="11:00").click()

    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    expect(page.get_by_text("Wednesday 25 November at 11:00")).to_be_visible()
    page.get_by_role("textbox", name="First name").fill("Zoé")
    page.get_by_role("textbox", name="Last name").fill("Martin")
    page.get_by_role("textbox", name="Email").fill("zoe@example.com")
    page.get_by_label("What would you like from your visit?").fill("A coat for a winter wedding")
    page.get_by_label("Or find them in our catalogue").fill("camel")
    coat = page.get_by_role("checkbox", name="Camel wool coat")
    expect(coat).to_be_visible()  # found as she typed
    coat.check()
    page.get_by_label("Or find them in our catalogue").fill("silk")  # a new search keeps what is ticked
    expect(page.get_by_text("Nothing in our catalogue matches")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Camel wool coat")).to_be_checked()
    page.get_by_label("Tops").fill("M")
    page.get_by_role("checkbox", name="Email").check()
    no_sideways_scroll(page)
    screenshot(page, "03-details", full_page=True)
    page.get_by_role("button", name="Book styling session").click()

    expect(page.get_by_role("heading", name="See you Wednesday 25 November at 11:00")).to_be_visible()
    expect(page.get_by_text("A coat for a winter wedding")).to_be_visible()
    expect(page.get_by_text("Camel wool coat (COAT-CAMEL-M)")).to_be_visible()
    expect(page.get_by_role("link", name="Move to another time")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "04-booked", full_page=True)
    with db.read() as session:
        booked = session.scalars(select(Appointment)).one()
    assert booked.starts_at == at(PARIS, 2026, 11, 25, 11) and booked.associate_id in (world.ana, world.leo)
    assert booked.products_of_interest == ["Camel wool coat (COAT-CAMEL-M)"] and booked.sizes == {"tops": "M"}
    assert page.errors == []  # type: ignore[attr-defined]
