"""The audit log screen: managers and head office read who did what to which client, when and from where.

The team (tests/associates/staff.py): Ana (associate, Paris), Ben (associate, New York), Mia (online
expert, US), Max (store manager, Paris), Ada (head office). Today is 23 November 2026, 15:00 UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from rapport.associates import audit, tokens
from tests.web.conftest import signed_in
from tests.web.shop import client

MAX, ADA, ANA = "max@maison.example", "ada@maison.example", "ana@maison.example"


def did(db, action, *, who, customer_id=None, ip="10.0.0.7", label=None, kind="associate", detail=None) -> None:
    """``who`` (an associate or token id; None for the system) did ``action`` to a client, from ``ip``."""
    with db.write() as session:
        audit.record(
            session, action, actor_kind=kind, actor_id=who, actor_label=label or f"{kind}:someone",
            customer_id=customer_id, ip=ip, user_agent="Mobile Safari", detail=detail,
        )  # fmt: skip


def events(html: str) -> list[str]:
    """Each listed event as plain text ("Ana Duval viewed Alicia Moreau"), in order."""
    items = re.findall(r'<li class="audit-event"[^>]*>\s*<p class="audit-what">(.*?)</p>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


def meta(html: str) -> list[str]:
    items = re.findall(r'<p class="audit-meta">(.*?)</p>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


@pytest.fixture
def clients(db, staffed) -> dict[str, int]:
    return {
        "alicia": client(db, "alicia", "Alicia", "Moreau", associate=ANA, home_store="PAR"),
        "grace": client(db, "grace", "Grace", "Hopper", associate="ben@maison.example", home_store="NYC"),
    }


@pytest.fixture
def history(db, staffed, clients, fixed_clock) -> None:
    """Over three days: Ana views Alicia, Ben views Alicia then Grace, Ada exports Grace; Ana edits Alicia today."""
    fixed_clock.advance(timedelta(days=-2))
    did(db, audit.VIEWED, who=staffed.ana, customer_id=clients["alicia"], ip="10.0.0.7")
    fixed_clock.advance(timedelta(days=1))
    did(db, audit.VIEWED, who=staffed.ben, customer_id=clients["alicia"], ip="198.51.100.4")
    did(db, audit.VIEWED, who=staffed.ben, customer_id=clients["grace"], ip="198.51.100.4")
    did(db, audit.EXPORTED, who=staffed.ada, customer_id=clients["grace"], detail={"format": "csv", "rows": 1})
    fixed_clock.advance(timedelta(days=1))
    did(db, audit.EDITED, who=staffed.ana, customer_id=clients["alicia"], detail={"change": "note"})


# -- who may read it --------------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "status"), [(MAX, 200), (ADA, 200), (ANA, 403), ("mia@maison.example", 403)])
def test_only_store_managers_and_head_office_read_the_log(browser, staffed, history, email, status):
    signed_in(browser, email)
    page = browser.get("/audit")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    if status == 403:
        assert "You cannot do that here" in page.text and "Alicia Moreau" not in page.text
        assert browser.get("/audit/rows", headers={"HX-Request": "true"}).status_code == 403


def test_signed_out_the_log_sends_to_sign_in_and_back(browser, staffed):
    page = browser.get("/audit", params={"action": "client.viewed"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/audit%3Faction%3Dclient.viewed"


@pytest.mark.parametrize(("email", "linked"), [(MAX, True), (ADA, True), (ANA, False), ("mia@maison.example", False)])
def test_the_home_screen_links_to_the_log_for_managers_and_head_office_only(browser, staffed, email, linked):
    signed_in(browser, email)
    assert ('href="/audit"' in browser.get("/").text) is linked


# -- what it shows ----------------------------------------------------------------------------------


def test_the_log_says_who_did_what_to_which_client_when_and_from_where_newest_first(browser, staffed, clients, history):
    signed_in(browser, MAX)
    page = browser.get("/audit")
    assert page.status_code == 200 and 'href="/static/audit.css?v=' in page.text
    assert events(page.text) == [
        "Ana Duval edited Alicia Moreau · note",
        "Ada Okoro exported Grace Hopper · CSV export of 1 client",
        "Ben Carter viewed Grace Hopper",
        "Ben Carter viewed Alicia Moreau",
        "Ana Duval viewed Alicia Moreau",
    ]
    assert meta(page.text) == [
        "23 Nov, 15:00 · from 10.0.0.7 · this client's history",
        "22 Nov, 15:00 · from 10.0.0.7 · this client's history",
        "22 Nov, 15:00 · from 198.51.100.4 · this client's history",
        "22 Nov, 15:00 · from 198.51.100.4 · this client's history",
        "21 Nov, 15:00 · from 10.0.0.7 · this client's history",
    ]
    assert f'<a class="audit-client-link" href="/clients/{clients["alicia"]}">Alicia Moreau</a>' in page.text
    assert f'href="/audit?actor=associate%3A{staffed.ben}"' in page.text  # only Ben's events, one tap
    assert 'title="Mobile Safari"' in page.text


def test_names_are_todays_names_and_the_system_and_integrations_are_named_too(db, browser, staffed, clients):
    did(db, audit.VIEWED, who=staffed.ana, customer_id=clients["alicia"], label="associate:Ana (old name)")
    with db.write() as session:
        issued = tokens.create_token(session, "crm-sync", ["read"])
    did(db, audit.EXPORTED, who=issued.id, kind="token", label="token:crm-sync", customer_id=clients["grace"])
    did(db, audit.ASSIGNED, who=None, kind="system", label="system", detail={"total": 12})
    did(db, audit.VIEWED, who=999, customer_id=4242, label="associate:Gone Person")
    signed_in(browser, ADA)
    assert events(browser.get("/audit").text) == [
        "Gone Person viewed Client #4242",  # an associate no longer on file, a client no longer on file
        "Rapport (automatic) assigned clients by the rules · 12 clients",
        "Integration “crm-sync” exported Grace Hopper",
        "Ana Duval viewed Alicia Moreau",
    ]


def test_names_stored_with_a_script_tag_are_shown_as_text(db, browser, staffed):
    evil = client(db, "eve", "<script>alert(1)</script>", "Eve")
    did(db, audit.VIEWED, who=777, customer_id=evil, label="associate:<b>Mallory</b>")
    signed_in(browser, MAX)
    page = browser.get("/audit")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Eve" in page.text and "<script>alert(1)" not in page.text
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in page.text


# -- filters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "client.viewed"}, ["Ben Carter viewed Grace Hopper", "Ben Carter viewed Alicia Moreau",
                                       "Ana Duval viewed Alicia Moreau"]),
        ({"actor": "ana"}, ["Ana Duval edited Alicia Moreau · note", "Ana Duval viewed Alicia Moreau"]),
        ({"actor_text": "ben"}, ["Ben Carter viewed Grace Hopper", "Ben Carter viewed Alicia Moreau"]),
        ({"actor": "ana", "actor_text": "ben"}, ["Ben Carter viewed Grace Hopper", "Ben Carter viewed Alicia Moreau"]),
        ({"customer_id": "grace"}, ["Ada Okoro exported Grace Hopper · CSV export of 1 client",
                                    "Ben Carter viewed Grace Hopper"]),
        ({"since": "2026-11-22", "until": "2026-11-22"}, ["Ada Okoro exported Grace Hopper · CSV export of 1 client",
                                                          "Ben Carter viewed Grace Hopper",
                                                          "Ben Carter viewed Alicia Moreau"]),
        ({"until": "2026-11-21"}, ["Ana Duval viewed Alicia Moreau"]),
        ({"since": "2026-11-23", "action": "client.viewed"}, []),
    ],
)  # fmt: skip
def test_filters(browser, staffed, clients, history, query, expected):
    params = dict(query)
    for key in ("actor", "actor_text"):  # who, by their id
        if key in params:
            params[key] = f"associate:{getattr(staffed, params[key])}"
    if "customer_id" in params:
        params["customer_id"] = str(clients[params["customer_id"]])
    signed_in(browser, MAX)
    page = browser.get("/audit", params=params)
    assert page.status_code == 200, page.text
    assert events(page.text) == expected
    if not expected:
        assert "No event matches these filters." in page.text


def test_the_picker_offers_the_team_and_keeps_someone_named_from_elsewhere(browser, staffed, history):
    signed_in(browser, MAX)
    page = browser.get("/audit")
    picker = page.text[page.text.index('<select id="actor"') : page.text.index("</select>")]
    offered = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', picker)
    assert offered == [("", "Anyone"), (f"associate:{staffed.max}", "Max Laurent"),
                       (f"associate:{staffed.ana}", "Ana Duval"), ("system", "Rapport (automatic)")]  # fmt: skip
    ben = browser.get("/audit", params={"actor": f"associate:{staffed.ben}"})  # from a row's link: not his team
    assert f'<option value="associate:{staffed.ben}" selected>Ben Carter</option>' in ben.text
    system = browser.get("/audit", params={"actor": "system"}).text
    assert re.findall(r"<option[^>]*>Rapport \(automatic\)</option>", system) == [
        '<option value="system" selected>Rapport (automatic)</option>'
    ]


def test_a_clients_history_names_the_client(browser, clients, history):
    signed_in(browser, MAX)
    page = browser.get("/audit", params={"customer_id": clients["alicia"]})
    assert "History of" in page.text and f'<a href="/clients/{clients["alicia"]}"><strong>Alicia Moreau' in page.text
    assert "this client's history" not in page.text  # already there


def test_a_filter_change_swaps_only_the_results_and_a_bad_value_names_its_field(browser, staffed, history):
    signed_in(browser, MAX)
    htmx = {"HX-Request": "true", "HX-Target": "audit-results"}
    fragment = browser.get("/audit", params={"action": "client.exported"}, headers=htmx)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="audit-results"')
    assert events(fragment.text) == ["Ada Okoro exported Grace Hopper · CSV export of 1 client"]
    bad = {"customer_id": "alicia", "actor_text": "ana", "action": "DROP TABLE", "since": "yesterday"}
    swapped = browser.get("/audit", params=bad, headers=htmx)
    assert swapped.status_code == 200 and events(swapped.text) == []
    for message in (
        "Client: enter a client number, like 1234",
        "Who: pick someone from the list, or type associate:ID or token:ID",
        "Action: pick an action from the list",
        "From: enter a date, like 2026-11-23",
    ):
        assert message in swapped.text
    page = browser.get("/audit", params={"since": "2026-11-23", "until": "2026-11-01"})
    assert page.status_code == 422 and "To: pick a day on or after “From”" in page.text
    assert 'value="2026-11-01"' in page.text  # what was typed is shown back
    garbled = browser.get("/audit", params={"cursor": "not-a-cursor"})
    assert garbled.status_code == 422 and "Page: not a audit cursor" in garbled.text


# -- paging -----------------------------------------------------------------------------------------


def test_show_more_pages_through_the_log_without_gaps_or_repeats(db, browser, staffed, clients):
    for n in range(30):
        did(db, audit.VIEWED, who=staffed.ana, customer_id=clients["alicia"], ip=f"10.0.0.{n}")
    signed_in(browser, MAX)
    first = browser.get("/audit")
    assert len(events(first.text)) == 25
    more = re.search(r'hx-get="(/audit/rows\?[^"]+)"', first.text)
    assert more and "Show more" in first.text
    rest = browser.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert rest.status_code == 200 and "<html" not in rest.text and "Show more" not in rest.text
    ips = [m.split("from ")[1].split(" ")[0] for m in meta(first.text) + meta(rest.text)]
    assert ips == [f"10.0.0.{n}" for n in reversed(range(30))]  # newest first, each once
    plain = re.search(r'<a class="btn btn-block" href="(/audit\?[^"]+)"', first.text)
    assert plain  # without JavaScript, the same link opens the next page
    second = browser.get(plain.group(1).replace("&amp;", "&"))
    assert len(events(second.text)) == 5 and "Back to the newest" in second.text


def test_paging_keeps_the_filters(db, browser, staffed, clients):
    for _ in range(26):
        did(db, audit.VIEWED, who=staffed.ana, customer_id=clients["alicia"])
        did(db, audit.VIEWED, who=staffed.ben, customer_id=clients["grace"])
    signed_in(browser, MAX)
    first = browser.get("/audit", params={"actor": f"associate:{staffed.ben}"})
    more = re.search(r'hx-get="(/audit/rows\?[^"]+)"', first.text)
    assert more and f"actor=associate%3A{staffed.ben}" in more.group(1)
    rest = browser.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert events(rest.text) == ["Ben Carter viewed Grace Hopper"]


# -- the same log as the API, in a bounded number of queries --------------------------------------------


def test_the_page_lists_the_events_the_api_returns_to_the_same_person(db, browser, staffed, clients, history):
    signed_in(browser, MAX)
    for query in ({}, {"action": "client.viewed"}, {"customer_id": clients["alicia"]}):
        page = browser.get("/audit", params=query)
        listed = [int(i) for i in re.findall(r'<li class="audit-event" data-action="[^"]+" id="e(\d+)"', page.text)]
        api = browser.get("/api/v1/audit", params=query)
        assert api.status_code == 200
        assert listed == [e["id"] for e in api.json()["events"]] and listed


@contextmanager
def counted(db) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_actor_and_client_names_cost_the_same_queries_for_one_person_or_twenty(db, browser, staffed, clients):
    from tests.associates.staff import add

    signed_in(browser, ADA)
    did(db, audit.VIEWED, who=staffed.ana, customer_id=clients["alicia"])
    with counted(db) as one:
        assert len(events(browser.get("/audit").text)) == 1
    for n in range(20):
        person = add(db, f"p{n}@maison.example", f"Person {n:02}", "associate", stores=("PAR",))
        someone = client(db, f"c{n}", "Client", f"{n:02}")
        did(db, audit.VIEWED, who=person, customer_id=someone)
    with counted(db) as many:
        page = browser.get("/audit").text
    assert len(events(page)) == 21 and "Person 19 viewed Client 19" in events(page)
    assert len(many) == len(one)
