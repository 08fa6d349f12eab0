"""Alicia's coat on a phone: Ana looks the coat up in Stock, sees her store's units in the size grid,
taps Hold, finds Alicia, puts it aside until tonight and lands on Alicia's profile with the hold —
then releases it there, in headless Chromium at 375 x 740."""

from __future__ import annotations

from typing import Any

from rapport.db import Database
from rapport.ingest.service import ingest_records
from tests.associates.staff import PASSWORD
from tests.customers.clientele import clientele
from tests.web.browser.test_tasks_browser import no_sideways_scroll


def test_put_the_coat_aside_for_alicia_from_the_stock_grid(db: Database, phone: Any, screenshot: Any) -> None:
    from playwright.sync_api import expect

    people = clientele(db)
    counted = ingest_records(db, "stock", [{"sku": "COAT-M", "location": "PAR", "on_hand": 2},
                                           {"sku": "COAT-M", "location": "NYC", "on_hand": 1}])  # fmt: skip
    assert all(o.status == "created" for o in counted.outcomes)
    page = phone
    page.goto("/login")
    page.fill("input[name=email]", "ana@maison.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_role("link", name="Stock").click()
    page.fill("input[type=search]", "coat")
    page.get_by_role("link", name="Camel coat").first.click()
    expect(page.locator("table")).to_contain_text("M")
    no_sideways_scroll(page)
    screenshot(page, "01-grid")
    page.get_by_role("link", name="Hold").first.click()
    page.fill("input[name=q]", "alicia")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Alicia Moreau").click()
    expect(page.get_by_text("2 available")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "02-form")
    page.get_by_role("button", name="Put aside").click()
    expect(page).to_have_url(f"{page.url.split('/clients')[0]}/clients/{people.alicia}#holds")
    section = page.locator("#holds")
    expect(section).to_contain_text("Camel coat (M)")
    expect(section).to_contain_text("Paris Saint-Honoré")
    no_sideways_scroll(page)
    screenshot(page, "03-profile")
    section.get_by_role("button", name="Release").click()
    expect(page.locator("#holds")).to_contain_text("Nothing set aside")
    assert page.errors == []  # type: ignore[attr-defined]
