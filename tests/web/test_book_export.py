"""Exporting the client book from its screen: the link follows the filters, the file is audited per client.

The team (tests/associates/staff.py): Ana (associate, Paris), Ben (associate, New York), Mia (online
expert, US), Max (store manager, Paris), Ada (head office). Today is 23 November 2026.
"""

from __future__ import annotations

import csv
import html
import io
import re

import httpx
import pytest
from sqlalchemy import select

from rapport.associates import audit
from rapport.associates.models import AuditEvent
from rapport.clientbook import export
from tests.web.conftest import signed_in
from tests.web.shop import client, coats, sale

ANA, MAX = "ana@maison.example", "max@maison.example"


@pytest.fixture
def book(db, staffed) -> dict[str, int]:
    """Ana's book (Paris) of three clients, and Ben's (New York) of one."""
    coats(db)
    ids = {
        "alicia": client(db, "alicia", "Alicia", "Moreau", associate=ANA, tags=["vip"], home_store="PAR",
                         emails=["alicia@example.com"]),
        "bruno": client(db, "bruno", "Bruno", "Petit", associate=ANA, home_store="PAR"),
        "chloe": client(db, "chloe", "Chloé", "Martin", associate=ANA, tags=["vip", "bridal"]),
        "grace": client(db, "grace", "Grace", "Hopper", associate="ben@maison.example", home_store="NYC"),
    }  # fmt: skip
    sale(db, "S1", "alicia", at="2026-11-02T10:00:00Z")
    sale(db, "S2", "bruno", at="2026-06-01T10:00:00Z", sku="SCARF", price="80.00")
    return ids


def export_link(page: str) -> str:
    found = re.search(r'<p id="book-export"[^>]*>\s*<a href="([^"]+)" download>', page)
    assert found, page
    return html.unescape(found.group(1))


def rows_of(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="client-book-')
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert header == list(export.COLUMNS)
    return rows


def exported(db) -> list[tuple[int | None, int | None]]:
    """``client.exported`` audit rows: (customer, actor id)."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEvent.customer_id, AuditEvent.actor_id)
            .where(AuditEvent.action == audit.EXPORTED)
            .order_by(AuditEvent.id)
        )
        return [(cid, actor) for cid, actor in rows]


def test_the_export_link_carries_the_filters_on_screen_and_downloads_those_clients(browser, book):
    signed_in(browser, ANA)
    page = browser.get("/clients/book", params={"tags": "vip", "sort": "name"})
    link = export_link(page.text)
    assert link == "/clients/book/export.csv?tags=vip&sort=name"
    assert "Export CSV (2 clients)" in page.text
    rows = rows_of(browser.get(link))
    assert [(r[0], r[1], r[2], r[8], r[9], r[10]) for r in rows] == [
        (str(book["chloe"]), "Chloé Martin", "", "0.00", "EUR", "vip, bridal"),
        (str(book["alicia"]), "Alicia Moreau", "alicia@example.com", "1200.00", "EUR", "vip"),
    ]


def test_a_filter_change_brings_a_new_export_link_with_the_results(browser, book):
    signed_in(browser, ANA)
    htmx = {"HX-Request": "true", "HX-Target": "book-results"}
    fragment = browser.get("/clients/book", params={"min_spend": "500"}, headers=htmx)
    assert fragment.text.lstrip().startswith('<section id="book-results"')
    assert '<p id="book-export" class="more-link" hx-swap-oob="true">' in fragment.text
    assert export_link(fragment.text) == "/clients/book/export.csv?min_spend=500"
    assert [r[1] for r in rows_of(browser.get(export_link(fragment.text)))] == ["Alicia Moreau"]
    nobody = browser.get("/clients/book", params={"tags": "nobody"}, headers=htmx)
    assert '<p id="book-export"' in nobody.text and "Export CSV" not in nobody.text  # nothing to export


def test_a_manager_exports_a_team_members_book_from_her_page(db, browser, staffed, book):
    signed_in(browser, MAX)
    page = browser.get("/clients/book", params={"associate": staffed.ana, "tags": "vip"})
    link = export_link(page.text)
    assert link == f"/clients/book/export.csv?associate={staffed.ana}&tags=vip"
    response = browser.get(link)
    assert 'filename="client-book-ana-duval-2026-11-23.csv"' in response.headers["content-disposition"]
    assert sorted(int(r[0]) for r in rows_of(response)) == sorted([book["alicia"], book["chloe"]])
    assert sorted(exported(db)) == sorted([(book["alicia"], staffed.max), (book["chloe"], staffed.max)])


def test_an_associate_cannot_export_another_associates_book(db, browser, staffed, book):
    signed_in(browser, ANA)
    refused = browser.get("/clients/book/export.csv", params={"associate": staffed.ben})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "You cannot do that here" in refused.text and "Grace Hopper" not in refused.text
    assert exported(db) == []


def test_signed_out_the_export_sends_to_sign_in(db, browser, book):
    response = browser.get("/clients/book/export.csv", params={"tags": "vip"})
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/login?next=/clients/book/export.csv"
    )
    assert exported(db) == []


def test_a_bad_filter_is_named_and_nothing_is_exported(db, browser, book):
    signed_in(browser, ANA)
    response = browser.get("/clients/book/export.csv", params={"min_spend": "lots"})
    assert response.status_code == 422 and "min_spend: enter an amount in EUR" in response.text
    assert exported(db) == []


def test_too_big_a_book_says_so_instead_of_a_link(db, browser, book, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 2)
    signed_in(browser, ANA)
    page = browser.get("/clients/book")
    assert "Export CSV: at most 2 clients at a time. Narrow the filters to export." in page.text
    refused = browser.get("/clients/book/export.csv")
    assert refused.status_code == 422 and "3 clients match; an export holds at most 2" in refused.text
    assert exported(db) == []


def test_each_exported_client_shows_on_the_audit_log_page_and_in_the_api(db, browser, app, staffed, book):
    from fastapi.testclient import TestClient

    signed_in(browser, ANA)
    rows = rows_of(browser.get("/clients/book/export.csv", params={"tags": "vip"}))
    assert sorted(exported(db)) == sorted((int(r[0]), staffed.ana) for r in rows)  # one per client
    manager = TestClient(app, follow_redirects=False)
    signed_in(manager, MAX)
    page = manager.get("/audit", params={"action": "client.exported"})
    listed = re.findall(r'<p class="audit-what">(.*?)</p>', page.text, re.S)
    assert sorted(" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in listed) == [
        "Ana Duval exported Alicia Moreau · CSV export of 2 clients",
        "Ana Duval exported Chloé Martin · CSV export of 2 clients",
    ]
    api = manager.get("/api/v1/audit", params={"action": "client.exported"}).json()
    assert sorted(e["customer_id"] for e in api["events"]) == sorted([book["alicia"], book["chloe"]])
    assert {e["ip"] for e in api["events"]} == {"testclient"}


def test_formula_looking_names_are_neutralised_in_the_file(db, browser, staffed):
    client(db, "evil", "=cmd|' /C calc'!A0", "@Evil", associate=ANA, tags=["+vip"])
    signed_in(browser, ANA)
    (row,) = rows_of(browser.get(export_link(browser.get("/clients/book").text)))
    assert row[1] == "'=cmd|' /C calc'!A0 @Evil" and row[10] == "'+vip"
