"""The JSON API does what the screens do, under the same rules: notes, sizes and preferences, consent,
milestones and relationships, for a signed-in associate (cookie + CSRF header) or an integration token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.app import create_app
from rapport.associates import auth
from rapport.associates.models import AuditEvent
from rapport.associates.tokens import create_token, revoke_token
from rapport.customers.models import Customer, Note, TimelineEntry
from rapport.customers.search import forget_vocabularies
from rapport.db import Database
from tests.associates.staff import cheap_hashing
from tests.customers.clientele import Clientele, clientele
from tests.web.conftest import signed_in


@pytest.fixture(autouse=True)
def _setup() -> Iterator[None]:
    forget_vocabularies()
    with cheap_hashing():
        yield
    forget_vocabularies()


@pytest.fixture
def people(db: Database) -> Clientele:
    return clientele(db)


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(), follow_redirects=False)


def as_associate(client: TestClient, email: str) -> TestClient:
    """Signed in, with the session's CSRF token sent on every request (what the app's HTMX does)."""
    client.headers["X-CSRF-Token"] = signed_in(client, email)
    return client


def with_token(client: TestClient, db: Database, scopes: list[str] | None = None) -> TestClient:
    with db.write() as session:
        issued = create_token(session, "crm", scopes)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def notes_of(db: Database, customer_id: int) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Note.body).where(Note.customer_id == customer_id).order_by(Note.id)))


# -- notes -------------------------------------------------------------------------------------------


def test_an_associate_adds_a_note_to_her_client(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"body": "Wants the coat in L"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["body"] == "Wants the coat in L" and body["author"] == {"id": people.team.ana, "name": "Ana Duval"}
    assert body["source"] == f"associate:{people.team.ana}" and body["created_at"] == "2026-11-23T15:00:00Z"
    timeline = client.get(f"/api/v1/customers/{people.alicia}/timeline", params={"kind": "note"}).json()
    assert [(e["summary"], e["actor"]["name"]) for e in timeline["entries"]] == [
        ("Note: Wants the coat in L", "Ana Duval")
    ]


def test_an_integration_token_adds_a_note_without_csrf(db, people, client):
    with_token(client, db)
    r = client.post(f"/api/v1/customers/{people.bob}/notes", json={"body": "From the CRM"})
    assert r.status_code == 201 and r.json()["author"] is None and r.json()["source"].startswith("token:")


def test_an_associate_cannot_edit_another_stores_client(db, people, client):
    as_associate(client, "ben@maison.example")  # New York; Alicia is Paris and in Ana's book
    cid = people.alicia
    attempts = [
        client.post(f"/api/v1/customers/{cid}/notes", json={"body": "hi"}),
        client.patch(f"/api/v1/customers/{cid}/profile", json={"sizes": {"coats": "L"}}),
        client.put(f"/api/v1/customers/{cid}/consent/sms", json={"granted": True}),
        client.post(f"/api/v1/customers/{cid}/milestones", json={"kind": "other", "date": "--01-02"}),
        client.post(f"/api/v1/customers/{cid}/relationships", json={"relation": "friend"}),
        client.delete(f"/api/v1/customers/{cid}/milestones/1"),
        client.delete(f"/api/v1/customers/{cid}/relationships/1"),
    ]
    for r in attempts:
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden" and "another store's clients" in r.json()["detail"]
    assert notes_of(db, cid) == ["Prefers appointments on Saturday mornings"]
    # He may still find and open her: any associate recognises any client of the brand.
    assert client.get(f"/api/v1/customers/{cid}/360").status_code == 200
    assert client.get("/api/v1/customers", params={"q": "alicia"}).json()["results"][0]["id"] == cid


def test_a_read_only_token_cannot_edit(db, people, client):
    with_token(client, db, ["read"])
    r = client.post(f"/api/v1/customers/{people.bob}/notes", json={"body": "no"})
    assert r.status_code == 403


def test_a_session_post_without_the_csrf_header_is_refused(db, people, client):
    signed_in(client, "ana@maison.example")
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"body": "no CSRF"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post(
        f"/api/v1/customers/{people.alicia}/notes", json={"body": "wrong"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.status_code == 403
    assert notes_of(db, people.alicia) == ["Prefers appointments on Saturday mornings"]


def test_a_signed_out_request_is_unauthorised(db, people, client):
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"body": "hi"})
    assert r.status_code == 401


def test_a_revoked_token_is_refused(db, people, client):
    with db.write() as session:
        issued = create_token(session, "old-crm", ["write", "read"])
    with db.write() as session:
        revoke_token(session, issued.id)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    for r in (
        client.post(f"/api/v1/customers/{people.bob}/notes", json={"body": "hi"}),
        client.get(f"/api/v1/customers/{people.bob}/360"),
    ):
        assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked token"
    assert notes_of(db, people.bob) == []


def test_an_expired_session_is_refused(db, people, client, fixed_clock):
    from datetime import timedelta

    as_associate(client, "ana@maison.example")
    fixed_clock.advance(timedelta(hours=13))  # longer than a shift (session_max_hours = 12)
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"body": "late"})
    assert r.status_code == 401
    assert client.cookies.get(auth.SESSION_COOKIE)  # the browser still sends it; the server says no


def test_an_unknown_client_is_404(db, people, client):
    with_token(client, db)
    for r in (
        client.post("/api/v1/customers/424242/notes", json={"body": "hi"}),
        client.patch("/api/v1/customers/424242/profile", json={"sizes": {"coats": "L"}}),
        client.put("/api/v1/customers/424242/consent/email", json={"granted": True}),
        client.get("/api/v1/customers/424242/purchases"),
    ):
        assert r.status_code == 404 and r.json() == {"error": "not_found", "detail": "client 424242 not found"}


def test_an_over_long_note_is_refused_naming_the_field(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"body": "x" * 5001})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "body", "message": "a note is at most 5,000 characters; this one has 5,001"}
    ]
    r = client.post(f"/api/v1/customers/{people.alicia}/notes", json={"text": "wrong field"})
    assert r.status_code == 422 and "text" in {e["field"] for e in r.json()["errors"]}


# -- sizes, preferences, consent, milestones, relationships -----------------------------------------


def test_patch_profile_sets_and_removes_sizes_and_preferences(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.patch(
        f"/api/v1/customers/{people.alicia}/profile",
        json={"sizes": {"coats": "L", "shoes": None}, "preferences": {"colours": ["camel", "navy"]}},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "customer_id": people.alicia, "sizes": {"coats": "L"}, "preferences": {"colours": ["camel", "navy"]},
        "changed": ["coats M → L", "shoes 38 removed", "colours camel, navy"],
    }  # fmt: skip
    r = client.patch(f"/api/v1/customers/{people.alicia}/profile", json={"sizes": {"coats": "x" * 30}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sizes.coats"
    with db.read() as session:
        assert session.get(Customer, people.alicia).sizes == {"coats": "L"}


def test_put_consent_per_channel(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.put(f"/api/v1/customers/{people.alicia}/consent/sms", json={"granted": True})
    assert r.status_code == 200
    assert r.json() == {"channel": "sms", "granted": True, "source": f"associate:{people.team.ana}",
                        "recorded_at": "2026-11-23T15:00:00Z", "changed": True}  # fmt: skip
    consent = {
        c["channel"]: c["granted"] for c in client.get(f"/api/v1/customers/{people.alicia}/360").json()["consent"]
    }
    assert consent["sms"] is True
    r = client.put(f"/api/v1/customers/{people.alicia}/consent/pigeon", json={"granted": True})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"
    r = client.put(f"/api/v1/customers/{people.alicia}/consent/sms", json={"granted": "yes"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "granted"


def test_milestones_are_added_and_deleted(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.post(f"/api/v1/customers/{people.alicia}/milestones",
                    json={"kind": "child_birthday", "label": "Léo", "date": "--12-03"})  # fmt: skip
    assert r.status_code == 201, r.text
    added = r.json()
    assert (added["kind"], added["label"], added["month"], added["day"], added["year"]) == (
        "child_birthday", "Léo", 12, 3, None,
    )  # fmt: skip
    again = client.post(f"/api/v1/customers/{people.alicia}/milestones",
                        json={"kind": "child_birthday", "label": "Léo", "date": "2020-12-03"})  # fmt: skip
    assert again.status_code == 409
    bad = client.post(f"/api/v1/customers/{people.alicia}/milestones", json={"kind": "other", "date": "3 Dec"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date"
    assert client.delete(f"/api/v1/customers/{people.alicia}/milestones/{added['id']}").status_code == 204
    assert client.delete(f"/api/v1/customers/{people.alicia}/milestones/{added['id']}").status_code == 404
    kinds = [m["kind"] for m in client.get(f"/api/v1/customers/{people.alicia}/360").json()["milestones"]]
    assert "child_birthday" not in kinds


def test_relationships_are_added_and_deleted(db, people, client):
    as_associate(client, "ana@maison.example")
    r = client.post(f"/api/v1/customers/{people.alicia}/relationships",
                    json={"relation": "husband", "name": "Marc", "note": "works in Milan"})  # fmt: skip
    assert r.status_code == 201 and r.json()["relation"] == "husband"
    rid = r.json()["id"]
    assert client.delete(f"/api/v1/customers/{people.alicia}/relationships/{rid}").status_code == 204
    r = client.post(f"/api/v1/customers/{people.alicia}/relationships", json={"relation": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "relation"


def test_every_change_is_on_the_timeline_and_the_audit_log(db, people, client):
    as_associate(client, "ana@maison.example")
    cid = people.alicia
    client.post(f"/api/v1/customers/{cid}/notes", json={"body": "one"})
    client.patch(f"/api/v1/customers/{cid}/profile", json={"sizes": {"gloves": "7"}})
    client.put(f"/api/v1/customers/{cid}/consent/phone", json={"granted": True})
    with db.read() as session:
        mine = session.scalars(
            select(TimelineEntry.kind).where(TimelineEntry.customer_id == cid, TimelineEntry.actor_kind == "associate",
                                             TimelineEntry.source == f"associate:{people.team.ana}")
        ).all()  # fmt: skip
        audited = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.customer_id == cid, AuditEvent.action == "client.edited")
        ).all()
    assert sorted(mine) == ["consent", "note", "profile"]
    assert sorted(d["change"] for d in audited) == ["consent", "note", "sizes"]


# -- reading, same rules for the screens and integrations --------------------------------------------


def test_a_signed_in_associate_reads_the_360_and_the_view_is_audited(db, people, client):
    as_associate(client, "ben@maison.example")
    assert client.get(f"/api/v1/customers/{people.alicia}/360").status_code == 200
    with db.read() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "client.viewed")).all()
    assert (event.actor_kind, event.actor_id, event.customer_id) == ("associate", people.team.ben, people.alicia)


def test_purchases_list_lines_with_images_and_returns(db, people, client):
    with_token(client, db)
    r = client.get(f"/api/v1/customers/{people.alicia}/purchases")
    assert r.status_code == 200
    orders = r.json()
    assert [o["order_number"] for o in orders] == ["S-2", "W-1"]
    coat, scarf = orders[1]["lines"]
    assert (coat["product"]["sku"], coat["returned_quantity"], coat["product"]["image_url"]) == (
        "COAT-M", 1, "/static/icons/icon-192.png",
    )  # fmt: skip
    assert (scarf["quantity"], scarf["returned_quantity"], scarf["total"]["formatted"]) == (2, 0, "€100.00")


def test_the_new_routes_are_documented(db, client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/api/v1/customers/{customer_id}/notes"])
    assert "patch" in paths["/api/v1/customers/{customer_id}/profile"]
    assert "put" in paths["/api/v1/customers/{customer_id}/consent/{channel}"]
    assert "delete" in paths["/api/v1/customers/{customer_id}/milestones/{milestone_id}"]
    assert "delete" in paths["/api/v1/customers/{customer_id}/relationships/{relationship_id}"]
    assert "get" in paths["/api/v1/customers/{customer_id}/purchases"]


def test_a_token_without_the_read_scope_cannot_open_clients(db, people, client):
    with_token(client, db, ["ingest"])
    for path in (
        f"/api/v1/customers/{people.bob}/360",
        "/api/v1/customers?q=bob",
        f"/api/v1/customers/{people.bob}/purchases",
    ):
        assert client.get(path).status_code == 403, path
