"""The client book screen: my clients filtered, sorted and paged; a manager's team; moving clients with a preview."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from rapport.associates import notifications
from rapport.settings import get_settings
from tests.web.conftest import signed_in
from tests.web.shop import assigned_to, client, coats, contacted, sale

ANA = "ana@maison.example"


@pytest.fixture
def book(db, staffed) -> dict[str, int]:
    """Ana's book (Paris) of three clients, and Ben's (New York) of one. Today is 23 November 2026."""
    coats(db)
    ids = {
        "alicia": client(db, "alicia", "Alicia", "Moreau", associate=ANA, tags=["vip"], birth_date="1990-11-28",
                         home_store="PAR"),
        "bruno": client(db, "bruno", "Bruno", "Petit", associate=ANA, home_store="PAR"),
        "chloe": client(db, "chloe", "Chloé", "Martin", associate=ANA, tags=["vip", "bridal"]),
        "grace": client(db, "grace", "Grace", "Hopper", associate="ben@maison.example", home_store="NYC"),
    }  # fmt: skip
    sale(db, "S1", "alicia", at="2026-11-02T10:00:00Z")
    sale(db, "S2", "bruno", at="2026-06-01T10:00:00Z", sku="SCARF", price="80.00")
    contacted(db, "alicia", at="2026-11-20T09:00:00Z", by=ANA)
    return ids


def names(html: str) -> list[str]:
    """The client names listed, in order."""
    return re.findall(r'<a class="client" href="/clients/\d+">.*?<strong>([^<]+)</strong>', html, re.S)


def test_an_associate_sees_their_own_clients_newest_purchase_first_with_what_to_know(browser, book):
    signed_in(browser, ANA)
    page = browser.get("/clients/book")
    assert page.status_code == 200
    assert names(page.text) == ["Alicia Moreau", "Bruno Petit", "Chloé Martin"]  # never bought: last
    assert "<strong>3</strong> clients" in page.text and "Grace Hopper" not in page.text
    assert f'href="/clients/{book["alicia"]}"' in page.text  # one tap to the profile
    assert "€1,200.00" in page.text and "bought 2 Nov" in page.text
    assert "Birthday in 5 days" in page.text
    assert "contacted 3 days ago" in page.text and "never contacted" in page.text
    assert '<span class="tag">bridal</span>' in page.text
    assert 'href="/static/book.css?v=' in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"sort": "name"}, ["Chloé Martin", "Alicia Moreau", "Bruno Petit"]),
        ({"sort": "name", "order": "desc"}, ["Bruno Petit", "Alicia Moreau", "Chloé Martin"]),
        ({"sort": "spend"}, ["Alicia Moreau", "Bruno Petit", "Chloé Martin"]),
        ({"tags": "vip"}, ["Alicia Moreau", "Chloé Martin"]),
        ({"tags": "vip, bridal"}, ["Chloé Martin"]),
        ({"min_spend": "500"}, ["Alicia Moreau"]),
        ({"min_spend": "80.00"}, ["Alicia Moreau", "Bruno Petit"]),
        ({"min_spend": "80.00", "max_spend": "499"}, ["Bruno Petit"]),
        ({"purchased_before": "2026-10-01"}, ["Bruno Petit"]),
        ({"purchased_after": "2026-10-01"}, ["Alicia Moreau"]),
        ({"milestone_days": "7"}, ["Alicia Moreau"]),
        ({"quiet_days": "30"}, ["Bruno Petit", "Chloé Martin"]),
    ],
)
def test_filters_and_sorting(browser, book, query, expected):
    signed_in(browser, ANA)
    page = browser.get("/clients/book", params=query)
    assert page.status_code == 200, page.text
    assert names(page.text) == expected


def test_a_filter_change_swaps_only_the_results_and_a_bad_value_names_its_field(browser, book):
    signed_in(browser, ANA)
    htmx = {"HX-Request": "true", "HX-Target": "book-results"}
    fragment = browser.get("/clients/book", params={"tags": "vip"}, headers=htmx)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="book-results"') and "<html" not in fragment.text
    assert names(fragment.text) == ["Alicia Moreau", "Chloé Martin"] and "match" in fragment.text
    bad = browser.get("/clients/book", params={"min_spend": "lots", "purchased_after": "last week"}, headers=htmx)
    assert bad.status_code == 200  # HTMX swaps the message in
    assert "Spent at least: enter an amount in EUR, like 250 or 250.55" in bad.text
    assert "Bought on or after: enter a date, like 2026-11-23" in bad.text
    assert names(bad.text) == []
    page = browser.get("/clients/book", params={"min_spend": "12.345"})
    assert page.status_code == 422 and "Spent at least" in page.text
    assert 'value="12.345"' in page.text  # what was typed is shown back


def test_the_book_is_paged_with_show_more(db, browser, staffed):
    for n in range(30):
        client(db, f"c{n:02}", "Client", f"Number {n:02}", associate=ANA)
    signed_in(browser, ANA)
    first = browser.get("/clients/book", params={"sort": "name"})
    assert len(names(first.text)) == 25 and names(first.text)[0] == "Client Number 00"
    more = re.search(r'hx-get="(/clients/book/rows\?[^"]+)"', first.text)
    assert more and "Show more" in first.text
    rest = browser.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert rest.status_code == 200 and "<html" not in rest.text
    assert names(rest.text) == [f"Client Number {n}" for n in range(25, 30)]
    assert "Show more" not in rest.text
    plain = re.search(r'<a class="btn btn-block" href="(/clients/book\?[^"]+)"', first.text)
    assert plain  # without JavaScript, the same link opens the next page
    second = browser.get(plain.group(1).replace("&amp;", "&"))
    assert names(second.text)[0] == "Client Number 25" and "first page" in second.text


def test_a_name_with_a_script_tag_is_shown_as_text(db, browser, staffed):
    client(db, "eve", '<script>alert("boo")</script>', "Eve", associate=ANA)
    signed_in(browser, ANA)
    page = browser.get("/clients/book")
    assert "&lt;script&gt;alert(" in page.text and '<script>alert("boo")' not in page.text


# -- who sees which book ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "whose", "allowed"),
    [
        ("ana@maison.example", "ben", False),  # another associate's book
        ("mia@maison.example", "ana", False),  # an online expert, a store associate's book
        ("max@maison.example", "ana", True),  # his team (Paris)
        ("max@maison.example", "ben", False),  # not his team (New York)
        ("ada@maison.example", "ben", True),  # head office
    ],
)
def test_who_may_open_which_book(browser, staffed, book, email, whose, allowed):
    signed_in(browser, email)
    page = browser.get("/clients/book", params={"associate": getattr(staffed, whose)})
    assert page.status_code == (200 if allowed else 403)
    if not allowed:
        assert "Grace Hopper" not in page.text and "Alicia Moreau" not in page.text


def test_a_manager_sees_the_team_summary_and_opens_a_book_from_it(browser, staffed, book):
    signed_in(browser, "max@maison.example")
    page = browser.get("/clients/book")
    team = page.text[page.text.index('<details class="card team"') : page.text.index("</details>")]
    assert "2 people · 3 clients" in team
    members = re.findall(
        r'href="/clients/book\?associate=(\d+)".*?<strong>([^<]+)</strong>.*?class="count"[^>]*>(\d+)<', team, re.S
    )
    assert members == [(str(staffed.max), "Max Laurent", "0"), (str(staffed.ana), "Ana Duval", "3")]
    assert "Ben Carter" not in team  # New York is not his store
    ana = browser.get("/clients/book", params={"associate": staffed.ana})
    assert names(ana.text) == ["Alicia Moreau", "Bruno Petit", "Chloé Martin"]
    assert "Ana Duval&#39;s client book" in ana.text
    assert f'href="/clients/book/reassign?from={staffed.ana}&amp;client={book["alicia"]}"' in ana.text
    assert f'href="/clients/book/reassign?from={staffed.ana}"' in ana.text  # the whole book


def test_head_office_sees_every_book_in_the_team_summary(browser, staffed, book):
    signed_in(browser, "ada@maison.example")
    page = browser.get("/clients/book")
    for name in ("Ana Duval", "Ben Carter", "Mia Chen", "Max Laurent"):
        assert name in page.text
    assert "4 clients" in page.text
    assert names(browser.get("/clients/book", params={"associate": staffed.ben}).text) == ["Grace Hopper"]


def test_an_associate_has_no_team_summary_and_no_move_links(browser, book):
    signed_in(browser, ANA)
    page = browser.get("/clients/book")
    assert 'class="card team"' not in page.text and "/clients/book/reassign" not in page.text


# -- moving clients -------------------------------------------------------------------------------


def test_a_manager_moves_one_client_after_seeing_a_preview(db, browser, staffed, book):
    csrf = signed_in(browser, "max@maison.example")
    form = browser.get("/clients/book/reassign", params={"from": staffed.ana, "client": book["alicia"]})
    assert form.status_code == 200 and "Move one client" in form.text
    options = re.findall(r'<option value="(\d+)"', form.text)
    assert options == [str(staffed.max)]  # only his team can take her
    preview = browser.get(
        "/clients/book/reassign",
        params={"from": staffed.ana, "client": book["alicia"], "to": staffed.max},
        headers={"HX-Request": "true", "HX-Target": "reassign-preview"},
    )
    assert preview.text.lstrip().startswith('<section id="reassign-preview"')
    assert "<strong>1</strong> client would move" in preview.text and "Alicia Moreau → Max Laurent" in preview.text
    assert assigned_to(db, book["alicia"]) == staffed.ana  # a preview changes nothing

    data = {"from": staffed.ana, "to": staffed.max, "client": book["alicia"]}
    refused = browser.post("/clients/book/reassign", data=data)
    assert refused.status_code == 403 and assigned_to(db, book["alicia"]) == staffed.ana
    done = browser.post("/clients/book/reassign", data={**data, "csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/clients/book?associate={staffed.ana}&moved=1"
    assert assigned_to(db, book["alicia"]) == staffed.max
    assert assigned_to(db, book["bruno"]) == staffed.ana
    after = browser.get(done.headers["location"])
    assert "1 client moved." in after.text and names(after.text) == ["Bruno Petit", "Chloé Martin"]
    with db.read() as session:
        (note,) = notifications.list_for(session, staffed.max)
    assert note.title == "New client: Alicia Moreau" and note.link == f"/clients/{book['alicia']}"


def test_a_manager_hands_a_whole_book_over(db, browser, staffed, book):
    csrf = signed_in(browser, "max@maison.example")
    preview = browser.get("/clients/book/reassign", params={"from": staffed.ana, "to": staffed.max})
    assert "Move Ana Duval's whole book" in preview.text
    assert "<strong>3</strong> clients would move" in preview.text and "Move 3 clients" in preview.text
    done = browser.post("/clients/book/reassign", data={"from": staffed.ana, "to": staffed.max, "csrf_token": csrf})
    assert done.status_code == 303
    assert {assigned_to(db, book[k]) for k in ("alicia", "bruno", "chloe")} == {staffed.max}
    assert assigned_to(db, book["grace"]) == staffed.ben


def test_the_assignment_rules_can_share_a_book_out(db, browser, staffed, book):
    csrf = signed_in(browser, "max@maison.example")
    preview = browser.get("/clients/book/reassign", params={"from": staffed.ana, "to": "rules"})
    assert preview.status_code == 200 and "What would move" in preview.text
    done = browser.post("/clients/book/reassign", data={"from": staffed.ana, "to": "rules", "csrf_token": csrf})
    assert done.status_code == 303
    assert assigned_to(db, book["alicia"]) != staffed.ana


@pytest.mark.parametrize(
    ("email", "source", "target"),
    [
        ("ana@maison.example", "ana", "ben"),  # an associate moves nobody's clients
        ("max@maison.example", "ben", "max"),  # not his team's book
        ("max@maison.example", "ana", "ben"),  # not to someone outside his team
    ],
)
def test_moving_clients_is_refused_outside_a_managers_team(db, browser, staffed, book, email, source, target):
    csrf = signed_in(browser, email)
    from_id, to_id = getattr(staffed, source), getattr(staffed, target)
    assert browser.get("/clients/book/reassign", params={"from": from_id, "to": to_id}).status_code == 403
    refused = browser.post("/clients/book/reassign", data={"from": from_id, "to": to_id, "csrf_token": csrf})
    assert refused.status_code == 403
    assert assigned_to(db, book["alicia"]) == staffed.ana and assigned_to(db, book["grace"]) == staffed.ben


# -- sessions -------------------------------------------------------------------------------------


def test_an_expired_session_is_sent_to_sign_in(browser, staffed, book, fixed_clock):
    signed_in(browser, ANA)
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes))
    page = browser.get("/clients/book", params={"tags": "vip"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=/clients/book")
    htmx = browser.get(
        "/clients/book/rows", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/clients/book"}
    )
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=/clients/book"


def test_links_from_before_the_screen_existed_lead_to_the_book(browser, staffed):
    signed_in(browser, ANA)
    response = browser.get("/clientbook")
    assert (response.status_code, response.headers["location"]) == (303, "/clients/book")
