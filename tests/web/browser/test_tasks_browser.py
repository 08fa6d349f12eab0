"""Guided next actions on a phone: Ana signs in, sees today's focus list, marks Alicia's task done
with its outcome and watches the goal move — the card swapped in place, no page reload — then
snoozes another, in headless Chromium at 375 x 740."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.db import Database
from rapport.ingest.service import ingest_records
from rapport.tasks.models import Task
from rapport.tasks.service import Candidate, raise_tasks
from tests.associates.staff import PASSWORD
from tests.customers.clientele import Clientele, clientele


@pytest.fixture
def ana_s_day(db: Database) -> Clientele:
    """Alicia and two more of Ana's clients, each with a task the rules could have raised."""
    people = clientele(db)
    result = ingest_records(db, "customers", [
        {"source": "pos", "id": "P-7", "first_name": "Chloé", "last_name": "Martin", "home_store": "PAR",
         "assigned_associate": "ana@maison.example", "emails": ["chloe@example.com"],
         "consent": [{"channel": "whatsapp", "granted": True}]},
        {"source": "pos", "id": "P-8", "first_name": "Hugo", "last_name": "Bernard", "home_store": "PAR",
         "emails": ["hugo@example.com"], "consent": [{"channel": "email", "granted": True}]},
    ])  # fmt: skip
    chloe, hugo = (o.id for o in result.outcomes)
    assert chloe and hugo
    now = clock.now()
    with db.write() as s:
        out = raise_tasks(s, [
            Candidate(people.alicia, "milestone", "milestone:birthday:2026", "Birthday on 30 Nov",
                      "Alicia turns 36 on 30 Nov; she tried the camel coat on in June and did not buy it",
                      due_at=now - timedelta(hours=2), expires_at=now + timedelta(days=7), intent=0.6,
                      suggested_message="Happy early birthday, Alicia! The camel coat is still here in your size."),
            Candidate(chloe, "back_in_stock", "back_in_stock:tote", "Leather tote back in stock",
                      "On her wishlist since October; 2 back in Paris this morning",
                      due_at=now, expires_at=now + timedelta(hours=30), intent=0.8, urgent=True),
            Candidate(hugo, "replenishment", "replenishment:perf", "Eau de parfum running low",
                      "Bought the 50 ml on 10 Sep; it lasts about 60 days", due_at=now - timedelta(days=1),
                      expires_at=now + timedelta(days=14), intent=0.5),
        ])  # fmt: skip
    assert len(out.created) == 3, out.skipped
    return people


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"


def test_see_the_focus_list_mark_a_task_done_and_watch_the_goal_move(db, ana_s_day, phone, screenshot):
    from playwright.sync_api import expect

    phone.goto("/login")
    phone.get_by_label("Email").fill("ana@maison.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Ana Duval")).to_be_visible()
    screenshot(phone, "00-home")

    focus = phone.locator("#focus")
    goal = phone.locator("#task-goal")
    cards = focus.locator("li.task")
    expect(goal).to_contain_text("Today: 0 of 5 done")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text("Chloé Martin")  # expiring within 48 h: first
    alicia = focus.locator("li.task", has_text="Alicia Moreau")
    expect(alicia).to_contain_text("Birthday on 30 Nov")
    expect(alicia).to_contain_text("she tried the camel coat on")
    expect(alicia.locator(".task-channel")).to_contain_text("Email")
    focus.scroll_into_view_if_needed()
    no_sideways_scroll(phone)
    screenshot(phone, "01-focus")

    phone.evaluate("window.stayedOnPage = true")  # gone if the page reloads
    alicia.get_by_text("Done", exact=True).click()
    expect(alicia.get_by_text("What came of it?")).to_be_visible()
    expect(alicia.locator("summary", has_text="Snooze")).to_be_hidden()  # one menu at a time
    alicia.scroll_into_view_if_needed()
    screenshot(phone, "02-what-came-of-it")

    alicia.get_by_role("button", name="Sale").click()
    done = focus.locator("li.task.closed", has_text="Alicia Moreau")
    expect(done).to_contain_text("Done · Sale")
    expect(goal).to_contain_text("Today: 1 of 5 done")
    assert phone.evaluate("window.stayedOnPage") is True
    assert phone.evaluate("document.querySelector('#task-goal progress').value") == 1
    screenshot(phone, "03-done")

    hugo = focus.locator("li.task", has_text="Hugo Bernard")
    hugo.get_by_text("Snooze", exact=True).click()
    hugo.get_by_role("button", name="Tomorrow").click()
    expect(focus.locator("li.task.closed", has_text="Hugo Bernard")).to_contain_text("Snoozed until Tue 24 Nov")
    expect(goal).to_contain_text("Today: 1 of 5 done")
    no_sideways_scroll(phone)
    screenshot(phone, "04-snoozed")

    with db.read() as session:
        rows = {cid: status for cid, status in session.execute(select(Task.customer_id, Task.status))}
    assert rows[ana_s_day.alicia] == "done"
    assert sorted(rows.values()) == ["done", "open", "snoozed"]
    assert phone.errors == []  # no script error, no content-security-policy violation


def test_the_full_list_and_the_profile_on_a_phone(db, ana_s_day, phone, screenshot):
    from playwright.sync_api import expect

    phone.goto("/login")
    phone.get_by_label("Email").fill("ana@maison.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.locator("#focus").get_by_role("link", name="See all 3").click()
    expect(phone.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    expect(phone.locator("#group-overdue")).to_contain_text("Hugo Bernard")
    no_sideways_scroll(phone)
    screenshot(phone, "05-task-list", full_page=True)

    phone.goto(f"/clients/{ana_s_day.alicia}")
    tasks = phone.locator("#tasks")
    expect(tasks).to_contain_text("Birthday on 30 Nov")
    tasks.get_by_text("Suggested message").click()
    expect(tasks).to_contain_text("The camel coat is still here in your size.")
    tasks.scroll_into_view_if_needed()
    no_sideways_scroll(phone)
    screenshot(phone, "06-profile-tasks")
    assert phone.errors == []


def test_a_manager_opens_the_team_view_from_the_tab_bar(db, ana_s_day, phone, screenshot):
    from playwright.sync_api import expect

    with db.write() as session:
        from rapport.tasks.service import complete

        first = session.scalars(select(Task).order_by(Task.id)).first()
        assert first is not None
        complete(session, first, outcome="contacted", by=ana_s_day.team.ana)
    phone.goto("/login")
    phone.get_by_label("Email").fill("max@maison.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(phone.get_by_role("heading", name="Team tasks")).to_be_visible()
    ana = phone.locator("tbody tr", has_text="Ana Duval")
    expect(ana).to_contain_text("contacted 1")
    expect(phone.locator("tbody tr", has_text="Team queue")).to_contain_text("1")
    no_sideways_scroll(phone)
    screenshot(phone, "07-team")
    phone.get_by_label("Period").select_option("today")
    phone.get_by_role("button", name="Show").click()
    expect(phone).to_have_url(re.compile(r"/tasks/team\?period=today"))
    expect(ana).to_contain_text("100%")
    assert phone.errors == []
