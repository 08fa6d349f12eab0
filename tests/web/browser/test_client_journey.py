"""The associate's journey on a phone (issue 3): sign in, find a client by a misspelt name, open the
profile, add a note, see it in the timeline, edit a size — in headless Chromium at 375 x 740."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from rapport.customers.models import Customer, Note
from rapport.customers.search import forget_vocabularies
from rapport.db import Database
from tests.associates.staff import PASSWORD
from tests.customers.clientele import Clientele, clientele


@pytest.fixture
def people(db: Database) -> Clientele:
    forget_vocabularies()
    return clientele(db)


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"


def test_sign_in_find_open_note_and_edit_a_size(db, people, phone, screenshot):
    from playwright.sync_api import expect

    # Sign in.
    phone.goto("/login")
    phone.get_by_label("Email").fill("ana@maison.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Ana Duval")).to_be_visible()
    screenshot(phone, "01-home")

    # Find Alicia by a misspelt name, results as you type.
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    box = phone.locator("#q")
    expect(box).to_be_focused()
    box.press_sequentially("Alcia Moreu", delay=40)
    result = phone.locator("#results a.result").first
    expect(result).to_contain_text("Alicia Moreau")
    expect(result).to_contain_text("Paris")
    expect(phone).to_have_url(re.compile(r"/search\?q=Alcia\+Moreu$"))  # back from the profile shows these
    no_sideways_scroll(phone)
    screenshot(phone, "02-search")

    # One tap opens the profile.
    result.click()
    expect(phone).to_have_url(re.compile(rf"/clients/{people.alicia}$"))
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Alicia Moreau")
    expect(phone.locator("#now")).to_contain_text("Birthday")
    expect(phone.locator("#purchases .item.returned")).to_contain_text("Camel coat")
    no_sideways_scroll(phone)
    screenshot(phone, "03-profile")
    screenshot(phone, "03-profile-full", full_page=True)

    # Add a note inline (with markup that must stay text); it shows first, and in the timeline.
    note = "Wants the camel coat in L <script>window.pwned = 1</script>"
    phone.get_by_label("New note").fill(note)
    phone.get_by_role("button", name="Add note").click()
    expect(phone.locator("#notes .note").first).to_contain_text(note)
    expect(phone.locator("#notes .note").first).to_contain_text("Ana Duval")
    expect(phone.get_by_label("New note")).to_have_value("")
    first_event = phone.locator("#timeline .event").first
    expect(first_event).to_contain_text("Note: Wants the camel coat in L <script>")
    assert phone.evaluate("window.pwned") is None
    first_event.scroll_into_view_if_needed()
    screenshot(phone, "04-note-in-timeline")

    # Edit a size inline.
    phone.locator("#style summary").click()
    phone.get_by_label("coats", exact=True).fill("L")
    phone.locator("#style").get_by_role("button", name="Save").click()
    expect(phone.locator("#style dl.pairs").first).to_contain_text("L")
    expect(phone.locator("#timeline .event").first).to_contain_text("Sizes: coats M → L")
    phone.locator("#style").scroll_into_view_if_needed()
    screenshot(phone, "05-size-edited")

    with db.read() as session:
        assert session.get(Customer, people.alicia).sizes == {"coats": "L", "shoes": "38"}
        assert session.scalars(select(Note.body).order_by(Note.id.desc())).first() == note
    assert phone.errors == []  # no script error, no content-security-policy violation


def test_a_refused_note_is_explained_beside_the_form(db, people, phone, screenshot):
    from playwright.sync_api import expect

    phone.goto("/login")
    phone.get_by_label("Email").fill("ana@maison.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Ana Duval")).to_be_visible()
    phone.goto(f"/clients/{people.alicia}")
    field = phone.get_by_label("New note")
    field.evaluate("(el) => el.removeAttribute('maxlength')")  # what a pasted or scripted note can do
    field.fill("x" * 5001)
    phone.get_by_role("button", name="Add note").click()
    expect(phone.locator("#note-error")).to_contain_text("a note is at most 5,000 characters; this one has 5,001")
    expect(phone.get_by_label("New note")).to_have_value("x" * 5001)
    screenshot(phone, "refused-note")
    with db.read() as session:
        assert session.scalars(select(Note.body).where(Note.customer_id == people.alicia)).all() == [
            "Prefers appointments on Saturday mornings"
        ]
