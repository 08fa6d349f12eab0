"""The Search and Client profile screens, as a phone's browser sees them (server-rendered, HTMX)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.associates.models import AuditEvent
from rapport.customers.models import Customer, Note, TimelineEntry
from rapport.customers.search import forget_vocabularies
from rapport.db import Database
from rapport.identity.merge import merge_customers
from rapport.ingest.service import ingest_records
from tests.customers.clientele import Clientele, clientele, order
from tests.statements import statements as counting
from tests.web.conftest import signed_in

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fresh_vocabulary() -> Iterator[None]:
    forget_vocabularies()
    yield
    forget_vocabularies()


@pytest.fixture
def people(db: Database) -> Clientele:
    return clientele(db)


def as_ana(browser: TestClient) -> str:
    return signed_in(browser, "ana@maison.example")


def text_of(html: str) -> str:
    """The visible words of a page, tags dropped and whitespace squeezed (entities decoded)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<(section|header) id="{section_id}".*?</\1>', html, re.S)
    assert found, f"no #{section_id} in the page"
    return found.group(0)


def notes_of(db: Database, customer_id: int) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Note.body).where(Note.customer_id == customer_id).order_by(Note.id)))


# -- search ------------------------------------------------------------------------------------------


def test_search_needs_a_signed_in_associate(db, browser):
    r = browser.get("/search", params={"q": "alicia"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/search%3Fq%3Dalicia"


def test_a_misspelt_name_finds_the_client_with_enough_context_to_pick_her(db, people, browser):
    as_ana(browser)
    page = browser.get("/search", params={"q": "Alcia Moreu"})
    assert page.status_code == 200
    results = section(page.text.replace('<div id="results"', '<section id="results"').replace(
        "</div>\n  </main>", "</section>"), "results")  # fmt: skip
    words = text_of(results)
    assert "Alicia Moreau gold" in words and "Paris, FR · last bought Mar 10, 2026" in words
    assert (
        f'href="/clients/{people.alicia}"' in results and '<span class="avatar" aria-hidden="true">AM</span>' in results
    )
    assert "al•••@example.com" in words and "+33 ••• 5678" in words
    assert "alicia@example.com" not in results  # masked: a search result is not a contact card


def test_results_come_as_a_fragment_while_typing_and_the_address_bar_follows(db, people, browser):
    as_ana(browser)
    r = browser.get("/search/results", params={"q": "bob ston"}, headers=HTMX)
    assert r.status_code == 200
    assert "<html" not in r.text and "Bob Stone" in r.text and "New York, US" in text_of(r.text)
    assert r.headers["HX-Replace-Url"] == "/search?q=bob+ston"
    # Without HTMX the fragment address sends the browser to the full page.
    plain = browser.get("/search/results", params={"q": "bob"})
    assert plain.status_code == 303 and plain.headers["location"] == "/search?q=bob"


def test_search_by_email_and_phone_fragments(db, people, browser):
    as_ana(browser)
    assert "Olivia Park" in browser.get("/search/results", params={"q": "olivia@exa"}, headers=HTMX).text
    by_phone = browser.get("/search/results", params={"q": "56 78"}, headers=HTMX).text
    assert "Alicia Moreau" in by_phone


def test_too_short_or_unknown_queries_say_so_instead_of_failing(db, people, browser):
    as_ana(browser)
    short = browser.get("/search/results", params={"q": "a"}, headers=HTMX)
    assert short.status_code == 200 and "Type at least 2 characters" in short.text
    nobody = browser.get("/search/results", params={"q": "zzyzx qwv"}, headers=HTMX)
    assert nobody.status_code == 200 and "No client matches “zzyzx qwv”" in unescape(nobody.text)
    assert browser.get("/search").status_code == 200  # the empty screen: just the box


def test_the_tab_bar_and_home_lead_to_search(db, people, browser):
    as_ana(browser)
    home = browser.get("/").text
    assert 'href="/search"' in home


# -- the profile -------------------------------------------------------------------------------------


def test_the_profile_shows_the_client_on_one_screen(db, people, browser):
    as_ana(browser)
    page = browser.get(f"/clients/{people.alicia}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    html = page.text
    header = text_of(section(html, "header"))
    assert "Alicia Moreau gold" in header and "Paris Saint-Honoré · with Ana Duval" in header
    assert "Email : yes" in header and "SMS : no" in header and "WhatsApp : never asked" in header
    now = text_of(section(html, "now"))
    assert "Birthday in 7 days — Nov 30, 2026 (36 years)" in now
    assert "Last interaction" in now and "Added to wishlist Leather tote" in now
    kpis = text_of(section(html, "kpis"))
    assert "Lifetime spend €180.00" in kpis and "Orders 2" in kpis and "Average order €190.00" in kpis
    assert "Last purchase Mar 10, 2026" in kpis and "Return rate 25%" in kpis
    style = text_of(section(html, "style"))
    assert "coats M" in style and "shoes 38" in style and "colours camel" in style
    notes = text_of(section(html, "notes"))
    assert "Prefers appointments on Saturday mornings" in notes
    purchases = section(html, "purchases")
    assert '<img src="/static/icons/icon-192.png"' in purchases
    coat = re.search(r'<li class="item returned">.*?</li>', purchases, re.S)
    assert coat and "Camel coat" in coat.group(0) and "Returned" in coat.group(0)
    assert "Silk scarf" in purchases and "€100.00" in purchases
    assert "Leather tote" in section(html, "wishlist")
    tried = text_of(section(html, "tried-on"))
    assert "Camel coat" in tried and "Not bought" in tried  # bought before the try-on, not after
    assert "wedding" in section(html, "dates") and "Inès" in section(html, "people")
    timeline = text_of(section(html, "timeline"))
    assert "Returned 1 item (bought online) — refund €200.00" in timeline


def test_every_profile_view_is_audited(db, people, browser):
    as_ana(browser)
    browser.get(f"/clients/{people.alicia}")
    browser.get(f"/clients/{people.bob}")
    with db.read() as session:
        views = session.execute(
            select(AuditEvent.actor_kind, AuditEvent.actor_id, AuditEvent.customer_id, AuditEvent.user_agent)
            .where(AuditEvent.action == "client.viewed")
            .order_by(AuditEvent.id)
        ).all()
    assert [(k, a, c) for k, a, c, _ in views] == [
        ("associate", people.team.ana, people.alicia), ("associate", people.team.ana, people.bob),
    ]  # fmt: skip
    assert views[0].user_agent == "testclient"


def test_a_signed_out_visit_goes_to_the_sign_in_page_and_back(db, people, browser):
    r = browser.get(f"/clients/{people.alicia}")
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/clients/{people.alicia}"


def test_an_unknown_or_malformed_client_id_is_the_404_page(db, people, browser):
    as_ana(browser)
    for path in ("/clients/424242", "/clients/not-a-number", "/clients/424242/timeline"):
        r = browser.get(path, headers=HTMX if path.endswith("timeline") else {})
        assert r.status_code == 404, path
        assert "text/html" in r.headers["content-type"] and "Traceback" not in r.text
    assert "client 424242 not found" in browser.get("/clients/424242").text


def test_a_merged_away_id_redirects_to_the_survivor(db, people, browser):
    with db.write() as session:
        merge_customers(session, people.alicia, people.bob, reason="same person")
    as_ana(browser)
    r = browser.get(f"/clients/{people.bob}")
    assert r.status_code == 301 and r.headers["location"] == f"/clients/{people.alicia}"


def test_another_stores_associate_sees_the_client_but_no_edit_controls(db, people, browser):
    signed_in(browser, "ben@maison.example")
    html = browser.get(f"/clients/{people.alicia}").text
    assert "Alicia Moreau" in html
    assert "Add note" not in html and "Edit sizes" not in html and 'name="granted"' not in html


# -- stored text is text -----------------------------------------------------------------------------


def test_a_note_with_a_script_tag_shows_as_text_on_the_profile_and_the_timeline(db, people, browser):
    token = as_ana(browser)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": evil, "csrf_token": token})
    assert r.status_code == 303
    html = browser.get(f"/clients/{people.alicia}").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in section(html, "notes")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in section(html, "timeline")


def test_a_name_with_markup_is_escaped_in_search_and_profile(db, people, browser):
    ingest_records(db, "customers", [{"source": "pos", "id": "E-1", "first_name": "<b>Eve</b>", "last_name": "Adams",
                                      "home_store": "PAR"}])  # fmt: skip
    as_ana(browser)
    results = browser.get("/search/results", params={"q": "adams"}, headers=HTMX).text
    assert "<b>Eve</b>" not in results and "&lt;b&gt;Eve&lt;/b&gt; Adams" in results
    with db.read() as session:
        eve = session.scalars(select(Customer.id).where(Customer.last_name == "Adams")).one()
    assert "<b>Eve</b>" not in browser.get(f"/clients/{eve}").text


# -- notes -------------------------------------------------------------------------------------------


def test_a_note_added_inline_comes_back_with_the_timeline_out_of_band(db, people, browser):
    token = as_ana(browser)
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": "Wants the coat in L"},
                     headers={**HTMX, "X-CSRF-Token": token})  # fmt: skip
    assert r.status_code == 200 and "<html" not in r.text
    notes = section(r.text, "notes")
    assert "hx-swap-oob" not in notes.split(">", 1)[0]  # swapped into the form's target
    first = re.search(r'<li class="note">(.*?)</li>', notes, re.S)
    assert first and "Wants the coat in L" in first.group(1) and "Ana Duval · Nov 23, 2026" in text_of(first.group(1))
    timeline = section(r.text, "timeline")
    assert 'hx-swap-oob="true"' in timeline.split(">", 1)[0]
    assert "Note: Wants the coat in L" in text_of(timeline)
    assert notes_of(db, people.alicia)[-1] == "Wants the coat in L"


def test_a_plain_form_note_redirects_back_to_the_notes(db, people, browser):
    token = as_ana(browser)
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": "No JavaScript here", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/clients/{people.alicia}#notes"
    assert "No JavaScript here" in section(browser.get(r.headers["location"].split("#")[0]).text, "notes")


def test_newest_notes_come_first_and_older_ones_fold_away(db, people, browser):
    token = as_ana(browser)
    for n in range(7):
        browser.post(f"/clients/{people.alicia}/notes", data={"body": f"note {n}", "csrf_token": token})
    notes = section(browser.get(f"/clients/{people.alicia}").text, "notes")
    bodies = re.findall(r'<p class="note-body">(.*?)</p>', notes)
    assert bodies[:3] == ["note 6", "note 5", "note 4"] and bodies[-1] == "Prefers appointments on Saturday mornings"
    assert "All notes (8)" in notes


def test_a_post_without_the_csrf_token_is_refused(db, people, browser):
    as_ana(browser)
    for headers, data in (({}, {"body": "forged"}), ({"X-CSRF-Token": "nope"}, {"body": "forged"}),
                          ({}, {"body": "forged", "csrf_token": "nope"})):  # fmt: skip
        r = browser.post(f"/clients/{people.alicia}/notes", data=data, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.text
    assert notes_of(db, people.alicia) == ["Prefers appointments on Saturday mornings"]


def test_a_signed_out_post_goes_to_sign_in(db, people, browser):
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": "hi"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": "hi"}, headers=HTMX)
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")


def test_an_associate_of_another_store_gets_a_403(db, people, browser):
    token = signed_in(browser, "ben@maison.example")
    page = browser.post(f"/clients/{people.alicia}/notes", data={"body": "hi", "csrf_token": token})
    assert page.status_code == 403 and "another store's clients" in unescape(page.text) and "<html" in page.text
    fragment = browser.post(f"/clients/{people.alicia}/notes", data={"body": "hi"},
                            headers={**HTMX, "X-CSRF-Token": token})  # fmt: skip
    assert fragment.status_code == 403 and fragment.headers["X-Rapport-Fragment"] == "1"
    assert "another store's clients" in unescape(fragment.text) and "<html" not in fragment.text
    assert notes_of(db, people.alicia) == ["Prefers appointments on Saturday mornings"]


def test_an_over_long_note_is_refused_with_a_clear_message_and_the_text_kept(db, people, browser):
    token = as_ana(browser)
    long = "x" * 5001
    r = browser.post(f"/clients/{people.alicia}/notes", data={"body": long}, headers={**HTMX, "X-CSRF-Token": token})
    assert r.status_code == 422 and r.headers["X-Rapport-Fragment"] == "1"
    assert "a note is at most 5,000 characters; this one has 5,001" in r.text
    assert f">{long}</textarea>" in r.text and 'aria-invalid="true"' in r.text
    assert 'id="timeline"' not in r.text  # nothing changed elsewhere
    plain = browser.post(f"/clients/{people.alicia}/notes", data={"body": long, "csrf_token": token})
    assert plain.status_code == 422 and "at most 5,000 characters" in plain.text
    assert notes_of(db, people.alicia) == ["Prefers appointments on Saturday mornings"]


# -- sizes, preferences, milestones, people, consent -------------------------------------------------


def test_sizes_and_preferences_are_edited_inline(db, people, browser):
    token = as_ana(browser)
    form = {"size_key": ["coats", "shoes", "gloves"], "size_value": ["L", "", "7"],
            "pref_key": ["colours", ""], "pref_values": ["camel, navy", ""]}  # fmt: skip
    r = browser.post(f"/clients/{people.alicia}/profile", data=form, headers={**HTMX, "X-CSRF-Token": token})
    assert r.status_code == 200
    style = text_of(section(r.text, "style"))
    assert "coats L" in style and "gloves 7" in style and "shoes" not in style.split("Edit")[0]
    assert "colours camel, navy" in style
    assert "Sizes: coats M → L, gloves 7, shoes 38 removed" in text_of(section(r.text, "timeline"))
    with db.read() as session:
        assert session.get(Customer, people.alicia).sizes == {"coats": "L", "gloves": "7"}


def test_a_bad_size_comes_back_beside_the_form(db, people, browser):
    token = as_ana(browser)
    form = {"size_key": ["coats"], "size_value": ["x" * 25]}
    r = browser.post(f"/clients/{people.alicia}/profile", data=form, headers={**HTMX, "X-CSRF-Token": token})
    assert r.status_code == 422 and "sizes.coats: a size is at most 20 characters" in r.text
    assert '<details class="edit" open>' in r.text and 'value="' + "x" * 25 + '"' in r.text


def test_milestones_are_added_and_removed_inline(db, people, browser):
    token = as_ana(browser)
    headers = {**HTMX, "X-CSRF-Token": token}
    r = browser.post(f"/clients/{people.alicia}/milestones",
                     data={"kind": "child_birthday", "label": "Léo", "date": "2019-12-03", "year_unknown": ""},
                     headers=headers)  # fmt: skip
    assert r.status_code == 200
    dates = text_of(section(r.text, "dates"))
    assert "Léo child birthday December 3 2019 · in 10 days (7)" in dates
    assert "Léo" in text_of(section(r.text, "now"))  # within 30 days: what to know now
    removal = re.search(r'hx-post="(/clients/\d+/milestones/(\d+)/remove)"', section(r.text, "dates"))
    assert removal
    r = browser.post(removal.group(1), headers=headers)
    assert r.status_code == 200 and "Léo" not in section(r.text, "dates")
    bad = browser.post(f"/clients/{people.alicia}/milestones", data={"kind": "other", "date": "soon"},
                       headers=headers)  # fmt: skip
    assert bad.status_code == 422 and "date: a date is YYYY-MM-DD" in unescape(bad.text)


def test_relationships_are_added_and_removed_inline(db, people, browser):
    token = as_ana(browser)
    headers = {**HTMX, "X-CSRF-Token": token}
    data = {"relation": "husband", "name": "Marc", "note": "works in Milan"}
    r = browser.post(f"/clients/{people.alicia}/relationships", data=data, headers=headers)
    assert r.status_code == 200 and "Marc husband" in text_of(section(r.text, "people"))
    removal = re.findall(r'hx-post="(/clients/\d+/relationships/\d+/remove)"', section(r.text, "people"))
    r = browser.post(removal[-1], headers=headers)
    assert "Marc" not in section(r.text, "people") and "Inès" in section(r.text, "people")


def test_consent_is_changed_inline_and_the_header_badges_follow(db, people, browser):
    token = as_ana(browser)
    r = browser.post(f"/clients/{people.alicia}/consent", data={"channel": "sms", "granted": "yes"},
                     headers={**HTMX, "X-CSRF-Token": token})  # fmt: skip
    assert r.status_code == 200
    header = section(r.text, "header")
    assert 'hx-swap-oob="true"' in header.split(">", 1)[0] and "SMS : yes" in text_of(header)
    consent = text_of(section(r.text, "consent"))
    assert f"SMS Yes Nov 23, 2026 · associate:{people.team.ana}" in consent
    bad = browser.post(f"/clients/{people.alicia}/consent", data={"channel": "pigeon", "granted": "yes"},
                       headers={**HTMX, "X-CSRF-Token": token})  # fmt: skip
    assert bad.status_code == 422 and "expected one of email, sms, whatsapp, phone" in bad.text


# -- the timeline ------------------------------------------------------------------------------------


def test_the_timeline_filters_by_channel(db, people, browser):
    as_ana(browser)
    r = browser.get(f"/clients/{people.alicia}/timeline", params={"channel": "store"}, headers=HTMX)
    assert r.status_code == 200
    kinds = re.findall(r'<li class="event event-(\w+)">', r.text)
    assert kinds == ["try_on", "order", "return"]
    assert 'aria-current="true">Store</a>' in r.text
    full = browser.get(f"/clients/{people.alicia}", params={"channel": "online"}).text
    assert re.findall(r'<li class="event event-(\w+)">', section(full, "timeline")) == ["wishlist_add", "order"]
    plain = browser.get(f"/clients/{people.alicia}/timeline", params={"channel": "store"})
    assert plain.status_code == 303 and plain.headers["location"] == f"/clients/{people.alicia}?channel=store#timeline"


def test_the_timeline_pages_on_with_the_cursor(db, people, browser):
    ref = {"source": "shopify", "id": "1001"}
    ingest_records(db, "orders", [order(f"M-{n}", f"2026-08-{1 + n:02d}T10:00:00Z", [("SCARF", 1, "50.00")], ref)
                                  for n in range(25)])  # fmt: skip
    as_ana(browser)
    html = browser.get(f"/clients/{people.alicia}").text
    first = re.findall(r'<li class="event ', section(html, "timeline"))
    assert len(first) == 20
    more = re.search(r'hx-get="(/clients/\d+/timeline\?before=[^"]+)"', html)
    assert more
    seen = 20
    url = unescape(more.group(1))
    while url:
        page = browser.get(url, headers=HTMX)
        assert page.status_code == 200 and "<section" not in page.text
        seen += len(re.findall(r'<li class="event ', page.text))
        nxt = re.search(r'hx-get="(/clients/\d+/timeline\?before=[^"]+)"', page.text)
        url = unescape(nxt.group(1)) if nxt else ""
    with db.read() as session:
        total = len(session.scalars(select(TimelineEntry.id).where(TimelineEntry.customer_id == people.alicia)).all())
    assert seen == total


# -- a page a phone can afford ------------------------------------------------------------------------


def busy_history(db: Database) -> None:
    """Bob gets 60 orders of two lines, 60 try-ons and 40 notes: a long-standing client."""
    ref = {"source": "pos", "id": "B-1"}
    ingest_records(db, "orders", [
        order(f"B-{n}", f"2026-{1 + n % 10:02d}-{1 + n % 27:02d}T10:00:00Z",
              [("SCARF", 1, "50.00"), ("COAT-M", 1, "200.00")], ref, channel=("online", "store")[n % 2],
              store="NYC" if n % 2 else None)
        for n in range(60)
    ])  # fmt: skip
    ingest_records(db, "events", [
        {"source": "floor", "id": f"BT-{n}", "type": "try_on", "occurred_at": f"2026-10-{1 + n % 28:02d}T12:00:00Z",
         "customer": ref, "sku": "COAT-M", "store": "NYC"} for n in range(60)
    ])  # fmt: skip
    ingest_records(db, "customers", [{**ref, "notes": [f"Note number {n} " + "words " * 40 for n in range(40)]}])


def test_the_profile_reads_a_bounded_number_of_statements_whatever_the_history(db, people, browser):
    signed_in(browser, "ada@maison.example")
    browser.get(f"/clients/{people.olivia}")  # warm: the first request loads what every request shares
    counts = {}
    for name, cid in (("small", people.olivia), ("alicia", people.alicia)):
        with counting(db) as statements:
            assert browser.get(f"/clients/{cid}").status_code == 200
        counts[name] = len(statements)
    busy_history(db)
    with counting(db) as statements:
        assert browser.get(f"/clients/{people.bob}").status_code == 200
    counts["busy"] = len(statements)
    assert counts["small"] == counts["alicia"] == counts["busy"] <= 25, counts


def test_the_profile_page_with_its_css_and_js_weighs_under_150_kb(db, people, browser):
    busy_history(db)
    signed_in(browser, "ada@maison.example")
    page = browser.get(f"/clients/{people.bob}")
    total = len(page.content)
    assets = re.findall(r'<(?:script|link rel="stylesheet")[^>]*(?:src|href)="([^"]+)"', page.text)
    assert any("clients.css" in a for a in assets) and any("htmx" in a for a in assets)
    for asset in assets:
        total += len(browser.get(asset).content)
    assert total < 150_000, total
    assert "<script>" not in page.text  # no inline script: the content security policy forbids it


def test_removing_a_milestone_twice_says_it_is_gone(db, people, browser):
    token = as_ana(browser)
    headers = {**HTMX, "X-CSRF-Token": token}
    page = browser.get(f"/clients/{people.alicia}").text
    remove = re.search(r'hx-post="(/clients/\d+/milestones/\d+/remove)"', page)
    assert remove
    assert browser.post(remove.group(1), headers=headers).status_code == 200
    again = browser.post(remove.group(1), headers=headers)  # a second tap, or another associate was quicker
    assert again.status_code == 404 and again.headers["X-Rapport-Fragment"] == "1"
    assert "not found for client" in again.text and 'id="dates"' in again.text
    unknown = browser.post("/clients/424242/notes", data={"body": "hi"}, headers=headers)
    assert unknown.status_code == 404 and "X-Rapport-Fragment" not in unknown.headers
