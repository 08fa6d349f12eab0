"""The home screen and the notification feed: recent clients one tap away, new assignments, nothing invented."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rapport.associates import home, notifications, tokens
from rapport.clientbook import service
from rapport.settings import get_settings
from tests.web.conftest import signed_in
from tests.web.shop import client, viewed

ANA = "ana@maison.example"


def recent(html: str) -> list[tuple[str, str]]:
    """(href, name) of the recently viewed clients, in order."""
    section = html[html.index('id="h-recent"') :]
    return re.findall(r'<a class="client" href="(/clients/\d+)">.*?<strong>([^<]+)</strong>', section, re.S)


def test_a_first_day_home_says_nothing_is_scheduled_and_invents_nothing(browser, staffed):
    signed_in(browser, ANA)
    page = browser.get("/")
    assert page.status_code == 200
    assert "Today's appointments" in page.text and "Nothing scheduled today." in page.text
    assert "Open tasks" in page.text and "No open tasks." in page.text
    assert "No new clients since you last cleared your notifications." in page.text
    assert "Clients you open will appear here." in page.text
    assert 'href="/clients/new"' in page.text and 'href="/clients/book"' in page.text
    assert "Paris Saint-Honoré" in page.text


def test_recently_viewed_clients_are_the_last_ten_distinct_newest_first_one_tap_away(db, browser, staffed, fixed_clock):
    ids = [client(db, f"r{n:02}", "Client", f"Number {n:02}") for n in range(12)]
    for cid in ids:
        viewed(db, staffed.ana, cid)
        fixed_clock.advance(timedelta(minutes=1))
    viewed(db, staffed.ana, ids[3])  # opened again: moves to the top, listed once
    viewed(db, staffed.ben, ids[0])  # someone else's views are theirs
    signed_in(browser, ANA)
    shown = recent(browser.get("/").text)
    expected_order = [3, 11, 10, 9, 8, 7, 6, 5, 4, 2]
    assert shown == [(f"/clients/{ids[n]}", f"Client Number {n:02}") for n in expected_order]


def test_a_client_merged_since_being_viewed_opens_as_the_survivor(db, browser, staffed):
    first = client(db, "m1", "Alicia", "Moreau", emails=["alicia@example.com"])
    second = client(db, "m2", "Alicia", "Moreau")
    viewed(db, staffed.ana, second)
    viewed(db, staffed.ana, first)
    # The shop learns both records are one person: the newer one is folded into the older.
    client(db, "m2", "Alicia", "Moreau", emails=["alicia@example.com"])
    signed_in(browser, ANA)
    assert recent(browser.get("/").text) == [(f"/clients/{first}", "Alicia Moreau")]


def test_a_name_with_a_script_tag_is_shown_as_text(db, browser, staffed):
    cid = client(db, "x", '<script>alert("boo")</script>', "Eve")
    viewed(db, staffed.ana, cid)
    signed_in(browser, ANA)
    page = browser.get("/")
    assert "&lt;script&gt;alert(" in page.text and '<script>alert("boo")' not in page.text


def test_new_assignments_appear_until_read(db, browser, staffed):
    alicia = client(db, "a", "Alicia", "Moreau", home_store="PAR", assigned_associate="ben@maison.example")
    with db.write() as session:
        service.reassign(session, staffed.ben, staffed.ana, [alicia])
    csrf = signed_in(browser, ANA)
    page = browser.get("/")
    section = page.text[page.text.index('id="h-new"') : page.text.index('id="h-recent"')]
    assert f'<a href="/clients/{alicia}"><strong>New client: Alicia Moreau</strong></a>' in section
    assert "from Ben Carter&#39;s book" in section and "All notifications (1 unread)" in section
    assert browser.post("/notifications/read", data={"csrf_token": csrf}).status_code == 303
    assert "New client: Alicia Moreau" not in browser.get("/").text


def test_a_capability_fills_a_home_section_through_its_hook(browser, staffed):
    def appointments(_session, associate_id):
        return [home.HomeItem(f"Fitting with a client of #{associate_id}", detail="she asked about the coat")]

    assert not home.has_section("appointments")  # the appointments capability is not built yet
    home.register_section("appointments", appointments)
    try:
        signed_in(browser, ANA)
        page = browser.get("/")
        assert f"Fitting with a client of #{staffed.ana}" in page.text and "Nothing scheduled today." not in page.text
    finally:
        home.unregister_section("appointments")
    with pytest.raises(ValueError, match="unknown home section"):
        home.register_section("weather", appointments)


# -- the JSON twin -----------------------------------------------------------------------------------


def test_the_home_api_answers_the_signed_in_associate(db, app, staffed):
    cid = client(db, "a", "Alicia", "Moreau", home_store="PAR")
    viewed(db, staffed.ana, cid)
    with db.write() as session:
        notifications.notify(session, staffed.ana, "clients_assigned", "New client: Alicia Moreau", link="/clientbook")
        notifications.notify(session, staffed.ana, "handover", "Paris sends a client")
    api = TestClient(app, follow_redirects=False)
    assert api.get("/api/v1/me/home").status_code == 401
    signed_in(api, ANA)
    body = api.get("/api/v1/me/home").json()
    assert body["associate_id"] == staffed.ana and body["unread_notifications"] == 2
    assert [(r["client"]["id"], r["client"]["name"], r["client"]["home_store"]) for r in body["recent_clients"]] == [
        (cid, "Alicia Moreau", "Paris Saint-Honoré")
    ]
    assert [(a["title"], a["link"]) for a in body["new_assignments"]] == [
        ("New client: Alicia Moreau", "/clients/book")
    ]
    # Next actions fill the tasks section (empty: Ana has none); appointments are not built yet.
    assert body["appointments"] == [] and body["tasks"] == [] and body["sections_available"] == ["tasks"]


def test_the_home_api_refuses_a_token_and_a_revoked_or_expired_caller(db, app, staffed, fixed_clock):
    with db.write() as session:
        issued = tokens.create_token(session, "crm", ["read"])
    api = TestClient(app, follow_redirects=False)
    bearer = {"Authorization": f"Bearer {issued.token}"}
    assert api.get("/api/v1/me/home", headers=bearer).status_code == 403
    with db.write() as session:
        tokens.revoke_token(session, issued.id)
    assert api.get("/api/v1/me/home", headers=bearer).status_code == 401
    signed_in(api, ANA)
    fixed_clock.advance(timedelta(hours=get_settings().session_max_hours))
    assert api.get("/api/v1/me/home").status_code == 401


# -- the notification feed screen --------------------------------------------------------------------


@pytest.fixture
def feed(db, staffed) -> dict[str, int]:
    alicia = client(db, "a", "Alicia", "Moreau")
    with db.write() as session:
        ids = {
            "old": notifications.notify(session, staffed.ana, "clients_assigned", "3 new clients in your book",
                                        "Alicia and 2 more were assigned to you.", link="/clientbook"),
            "new": notifications.notify(session, staffed.ana, "clients_assigned", "New client: Alicia Moreau",
                                        link=f"/clients/{alicia}", customer_id=alicia),
            "bens": notifications.notify(session, staffed.ben, "clients_assigned", "New client: Grace Hopper"),
        }  # fmt: skip
    return ids


def test_the_feed_lists_my_notifications_newest_first(browser, feed):
    signed_in(browser, ANA)
    page = browser.get("/notifications")
    assert page.status_code == 200 and "2 unread" in page.text
    titles = re.findall(r'<button type="submit" class="linklike">.*?<strong>([^<]+)</strong>', page.text, re.S)
    assert titles == ["New client: Alicia Moreau", "3 new clients in your book"]
    assert "Grace Hopper" not in page.text
    assert page.text.count('class="notification unread"') == 2


def test_opening_a_notification_marks_it_read_and_goes_where_it_points(db, browser, staffed, feed):
    csrf = signed_in(browser, ANA)
    opened = browser.post(f"/notifications/{feed['old']}/open", data={"csrf_token": csrf})
    assert (opened.status_code, opened.headers["location"]) == (303, "/clients/book")  # the old link, mapped
    with db.read() as session:
        assert notifications.get(session, feed["old"]).read_at is not None
        assert notifications.get(session, feed["new"]).read_at is None


def test_marking_one_read_with_htmx_swaps_the_item(db, browser, staffed, feed):
    csrf = signed_in(browser, ANA)
    response = browser.post(f"/notifications/{feed['new']}/read", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li class="notification" id="notification-{feed["new"]}"')
    assert "Mark read" not in response.text
    assert "1 unread" in browser.get("/notifications").text


def test_csrf_less_posts_and_someone_elses_notification_are_refused(db, browser, staffed, feed):
    csrf = signed_in(browser, ANA)
    assert browser.post("/notifications/read").status_code == 403
    assert browser.post(f"/notifications/{feed['new']}/open").status_code == 403
    assert browser.post(f"/notifications/{feed['new']}/read", data={"csrf_token": "forged"}).status_code == 403
    assert browser.post(f"/notifications/{feed['bens']}/open", data={"csrf_token": csrf}).status_code == 404
    assert browser.post(f"/notifications/{feed['bens']}/read", data={"csrf_token": csrf}).status_code == 404
    with db.read() as session:
        assert notifications.unread_count(session, staffed.ana) == 2
        assert notifications.unread_count(session, staffed.ben) == 1


def test_the_feed_needs_a_live_session(browser, staffed, fixed_clock):
    assert browser.get("/notifications").headers["location"] == "/login?next=/notifications"
    signed_in(browser, ANA)
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes))
    assert browser.get("/notifications").status_code == 303
