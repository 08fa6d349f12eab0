"""Writing to Alicia on a phone: Ana opens her profile, taps Message, sees which channels are open
and why SMS is not, previews an email with her name filled in, sends it — and Alicia's reply appears
in the open thread a few seconds later, without reloading. Headless Chromium at 375 x 740."""

from __future__ import annotations

from typing import Any

from rapport.db import Database
from rapport.outreach.inbound import Inbound, receive
from tests.associates.staff import PASSWORD
from tests.customers.clientele import clientele
from tests.web.browser.test_tasks_browser import no_sideways_scroll


def test_ana_writes_to_alicia_and_sees_her_reply_arrive(db: Database, phone: Any, screenshot: Any) -> None:
    from playwright.sync_api import expect

    people = clientele(db)
    page = phone
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/login")
    page.fill("input[name=email]", "ana@maison.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/clients/{people.alicia}")
    page.get_by_role("link", name="Message", exact=True).click()
    expect(page.locator(".reasons")).to_contain_text("SMS")
    expect(page.locator(".reasons")).to_contain_text("Alicia")
    no_sideways_scroll(page)
    screenshot(page, "01-composer", full_page=True)
    page.fill("input[name=subject]", "Your coat")
    page.fill("textarea[name=body]", "Hello {first_name}, the coat is in. <img src=x onerror=alert(1)>")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("Hello Alicia, the coat is in.")
    page.get_by_role("button", name="Send").click()
    bubble = page.locator(".bubble.out").last
    expect(bubble).to_contain_text("Hello Alicia, the coat is in. <img src=x onerror=alert(1)>")
    screenshot(page, "02-sent", full_page=True)
    receive(db, Inbound("email", "smtp", "<reply-1@example.com>", "Alicia Moreau <alicia@example.com>",
                        ["clients@maison.example"], "Wonderful, I will come on Saturday."))  # fmt: skip
    expect(page.locator(".bubble.in").last).to_contain_text("I will come on Saturday", timeout=10_000)
    no_sideways_scroll(page)
    screenshot(page, "03-reply", full_page=True)
    assert dialogs == [] and page.errors == []  # type: ignore[attr-defined]
