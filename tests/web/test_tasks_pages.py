"""The task screens: the focus list on the home screen, acting on a card with HTMX or a plain form,
the full list, a client's tasks on the profile and the manager's team view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from rapport import clock
from rapport.db import Database
from rapport.tasks.models import Task
from rapport.tasks.service import raise_tasks, snooze
from tests.tasks.conftest import add_client, candidate
from tests.web.conftest import signed_in

ANA, BEN, MAX = "ana@maison.example", "ben@maison.example", "max@maison.example"
DAY = timedelta(days=1)


def task(db: Database, ext: str, key: str = "manual:1", client: dict[str, Any] | None = None, **extra: Any) -> int:
    cid = add_client(db, ext, **(client or {}))
    with db.write() as s:
        out = raise_tasks(s, [candidate(cid, key, **extra)])
    assert len(out.created) == 1, out.skipped
    return out.created[0]


def client_of(db: Database, task_id: int) -> int:
    with db.read() as s:
        return s.scalars(select(Task.customer_id).where(Task.id == task_id)).one()


def htmx(csrf: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf}


def section(html: str, start: str, end: str | None = None) -> str:
    begin = html.index(start)
    return html[begin : html.index(end, begin) if end else None]


@contextmanager
def selects(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# -- the home screen -----------------------------------------------------------------------------


def test_the_home_screen_opens_on_the_focus_list_with_the_goal(db, browser, staffed):
    now = clock.now()
    t = task(db, "C1", title="Birthday on 30 Nov", reason="Turns 40; loved the camel coat",
             expires_at=now + timedelta(hours=30))  # fmt: skip
    task(db, "C2", title="Not today", due_at=now + 3 * DAY, expires_at=now + 9 * DAY)
    signed_in(browser, ANA)

    page = browser.get("/").text

    focus = section(page, 'id="focus"', "</section>")
    assert "Today: 0 of 5 done" in focus and '<progress max="5" value="0"' in focus
    assert f'<a class="task-client" href="/clients/{client_of(db, t)}">Client C1</a>' in focus
    assert "Birthday on 30 Nov" in focus and "Turns 40; loved the camel coat" in focus
    assert "Email" in focus and "Due today" in focus and "expires in 30 h" in focus
    assert "Not today" not in focus and 'href="/tasks">See all 2</a>' in focus
    for action in ("complete", "snooze", "dismiss"):
        assert f'action="/tasks/{t}/{action}"' in focus
    assert focus.count('name="csrf_token"') == 3
    assert page.index('id="focus"') < page.index('id="h-today"')  # before the appointments


def test_with_nothing_due_today_the_home_screen_says_so_and_points_to_the_list(db, browser, staffed):
    task(db, "C1", due_at=clock.now() + 2 * DAY, expires_at=clock.now() + 9 * DAY)
    signed_in(browser, ANA)
    focus = section(browser.get("/").text, 'id="focus"', "</section>")
    assert "Nothing due today." in focus and 'href="/tasks"' in focus


def test_the_home_screen_reads_the_same_few_statements_whatever_the_number_of_tasks(db, browser, staffed):
    task(db, "C1")
    signed_in(browser, ANA)
    with selects(db) as few:
        assert browser.get("/").status_code == 200
    for n in range(2, 9):
        task(db, f"C{n}", title=f"Task {n}")
    with selects(db) as many:
        assert browser.get("/").status_code == 200
    assert len(many) == len(few)


# -- acting on a card ----------------------------------------------------------------------------


def test_done_with_htmx_swaps_the_card_and_moves_the_goal_bar(db, browser, staffed):
    t = task(db, "C1", title="Call about the coat")
    csrf = signed_in(browser, ANA)

    response = browser.post(f"/tasks/{t}/complete", data={"outcome": "sale", "view": "focus", "next": "/"},
                            headers=htmx(csrf))  # fmt: skip

    assert response.status_code == 200, response.text
    card = section(response.text, f'id="task-{t}"', "</li>")
    assert "task closed" in response.text and "Done · Sale" in card and "Call about the coat" in card
    goal = section(response.text, 'id="task-goal"', "</div>")
    assert 'hx-swap-oob="true"' in goal and "Today: 1 of 5 done" in goal
    with db.read() as s:
        done = s.get(Task, t)
        assert done is not None and (done.status, done.outcome, done.completed_by_id) == ("done", "sale", staffed.ana)


def test_done_as_a_plain_form_post_goes_back_to_the_page_it_came_from(db, browser, staffed):
    t = task(db, "C1", title="Call about the coat")
    csrf = signed_in(browser, ANA)

    form = {"outcome": "contacted", "view": "focus", "next": "/", "csrf_token": csrf}
    response = browser.post(f"/tasks/{t}/complete", data=form)

    assert (response.status_code, response.headers["location"]) == (303, "/")
    home = browser.get("/").text
    assert "Today: 1 of 5 done" in home and "Call about the coat" not in home


def test_an_action_without_the_csrf_token_is_refused(db, browser, staffed):
    t = task(db, "C1")
    signed_in(browser, ANA)
    assert browser.post(f"/tasks/{t}/dismiss", data={"view": "focus"}).status_code == 403
    with db.read() as s:
        assert s.scalars(select(Task.status).where(Task.id == t)).one() == "open"


def test_a_form_post_never_redirects_off_the_site(db, browser, staffed):
    t = task(db, "C1")
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/tasks/{t}/dismiss", data={"next": "//evil.example/", "csrf_token": csrf})
    assert (response.status_code, response.headers["location"]) == (303, "/tasks")


def test_completing_a_task_a_colleague_already_did_says_so_in_the_card(db, browser, staffed):
    t = task(db, "C1", client={"assigned_associate": None}, title="For the Paris team")
    csrf = signed_in(browser, ANA)
    browser.post(f"/tasks/{t}/complete", data={"outcome": "sale", "view": "focus"}, headers=htmx(csrf))

    again = browser.post(f"/tasks/{t}/complete", data={"outcome": "no_answer", "view": "focus"}, headers=htmx(csrf))

    assert again.status_code == 409 and again.headers["X-Rapport-Fragment"] == "1"
    assert "Done · Sale" in again.text and f"task {t} is already done" in again.text


def test_a_bad_outcome_comes_back_in_the_card_with_its_actions(db, browser, staffed):
    t = task(db, "C1")
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/tasks/{t}/complete", data={"outcome": "maybe", "view": "list"}, headers=htmx(csrf))
    assert response.status_code == 422 and response.headers["X-Rapport-Fragment"] == "1"
    assert "outcome: must be one of" in response.text and f'action="/tasks/{t}/complete"' in response.text


def test_snooze_swaps_the_card_for_when_it_comes_back(db, browser, staffed):
    t = task(db, "C1")
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/tasks/{t}/snooze", data={"days": "7", "view": "focus"}, headers=htmx(csrf))
    assert response.status_code == 200
    assert "Snoozed until Mon 30 Nov, 09:00" in response.text
    assert "Today: 0 of 5 done" in response.text  # the goal moves only with done tasks


def test_a_task_expiring_before_next_week_offers_only_tomorrow(db, browser, staffed):
    t = task(db, "C1", expires_at=clock.now() + 3 * DAY)
    signed_in(browser, ANA)
    card = section(browser.get("/").text, f'id="task-{t}"', "</li>")
    assert 'name="days" value="1"' in card and 'name="days" value="7"' not in card


def test_another_associates_task_cannot_be_acted_on_from_the_screens(db, browser, staffed):
    t = task(db, "C1")
    csrf = signed_in(browser, BEN)
    assert browser.post(f"/tasks/{t}/dismiss", data={"csrf_token": csrf}).status_code == 403
    assert browser.post(f"/tasks/{t}/dismiss", data={"view": "focus"}, headers=htmx(csrf)).status_code == 403


# -- the full list -------------------------------------------------------------------------------


def test_the_task_list_groups_tasks_by_when_they_are_due(db, browser, staffed):
    now = clock.now()
    task(db, "C1", title="Was due Friday", due_at=now - 3 * DAY)
    task(db, "C2", title="Due now")
    task(db, "C3", title="In three days", due_at=now + 3 * DAY, expires_at=now + 9 * DAY)
    task(db, "C4", title="In two weeks", due_at=now + 14 * DAY, expires_at=now + 30 * DAY)
    sleeper = task(db, "C5", title="Sleeping")
    with db.write() as s:
        snooze(s, s.get(Task, sleeper), until=now + 2 * DAY)
    signed_in(browser, ANA)

    page = browser.get("/tasks").text

    assert "5 open, 1 of them snoozed" in page
    groups = re.findall(r'id="group-(\w+)"', page)
    assert groups == ["overdue", "today", "week", "later", "snoozed"]
    assert "Was due Friday" in section(page, 'id="group-overdue"', "</section>")
    assert "Overdue since 20 Nov" in page
    assert "In three days" in section(page, 'id="group-week"', "</details>")
    assert "In two weeks" in section(page, 'id="group-later"', "</details>")
    assert "Snoozed until Wed 25 Nov, 15:00" in section(page, 'id="group-snoozed"', "</details>")


def test_an_empty_task_list_says_so(db, browser, staffed):
    signed_in(browser, ANA)
    assert "No open tasks." in browser.get("/tasks").text


# -- the client profile --------------------------------------------------------------------------


def test_the_profile_shows_the_clients_tasks_with_actions_for_their_associate(db, browser, staffed):
    t = task(db, "C1", title="Call about the coat")
    cid = client_of(db, t)
    signed_in(browser, ANA)
    page = browser.get(f"/clients/{cid}").text
    tasks = section(page, 'id="tasks"', "</section>")
    assert "Call about the coat" in tasks and f'action="/tasks/{t}/complete"' in tasks
    assert 'name="view" value="client"' in tasks and f'value="/clients/{cid}#tasks"' in tasks
    assert "Add a task" in tasks and '<a href="#tasks">Tasks (1)</a>' in page


def test_a_colleague_sees_the_clients_task_and_whose_it_is_but_no_actions(db, app, staffed):
    t = task(db, "C1", title="Call about the coat")
    ben = TestClient(app, follow_redirects=False)
    signed_in(ben, BEN)
    tasks = section(ben.get(f"/clients/{client_of(db, t)}").text, 'id="tasks"', "</section>")
    assert "Call about the coat" in tasks and "Ana Duval" in tasks
    assert "/complete" not in tasks and "Add a task" not in tasks


def test_a_task_added_from_the_profile_appears_in_its_section(db, browser, staffed):
    cid = add_client(db, "C1", consent={"email": True})
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/clients/{cid}/tasks", data={"title": "Send the new scarves", "due": "1"},
                            headers=htmx(csrf))  # fmt: skip
    assert response.status_code == 200, response.text
    assert "Send the new scarves" in response.text and "Due tomorrow" in response.text


def test_a_refused_task_from_the_profile_says_why_beside_the_form(db, browser, staffed):
    cid = add_client(db, "C1", consent={"email": False})
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/clients/{cid}/tasks", data={"title": "Call her"}, headers=htmx(csrf))
    assert response.status_code == 422 and response.headers["X-Rapport-Fragment"] == "1"
    assert "has not agreed to be contacted" in response.text and 'value="Call her"' in response.text
    in_store = browser.post(f"/clients/{cid}/tasks", data={"title": "Put the coat aside", "in_store": "1",
                                                           "csrf_token": csrf})  # fmt: skip
    assert (in_store.status_code, in_store.headers["location"]) == (303, f"/clients/{cid}#tasks")


# -- the team view -------------------------------------------------------------------------------


def test_a_manager_sees_the_team_completion_and_a_team_tab(db, browser, staffed):
    t = task(db, "C1")
    task(db, "C2", "manual:2", due_at=clock.now() - 2 * DAY)
    with db.write() as s:
        from rapport.tasks.service import complete

        complete(s, s.get(Task, t), outcome="sale", by=staffed.ana)
    signed_in(browser, MAX)

    page = browser.get("/tasks/team").text

    assert 'href="/tasks/team" aria-current="page"' in page
    row = section(page, '<th scope="row">Ana Duval', "</tr>")
    assert "sale 1" in row and "1 late" in row and "100%" in row
    assert "Paris Saint-Honoré" in page and 'name="period"' in page


def test_the_team_view_is_refused_to_an_associate_who_has_no_team_tab(db, browser, staffed):
    signed_in(browser, ANA)
    assert browser.get("/tasks/team").status_code == 403
    assert 'href="/tasks/team"' not in browser.get("/").text
