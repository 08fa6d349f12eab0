"""The identity API: review list, accept (merge), reject, manual merge and undo."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import tokens
from tests.factories import ingest, ok


@pytest.fixture
def api(db):
    with db.write() as s:
        issued = tokens.create_token(s, "crm-team")
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def _pair(db):
    home = [{"line1": "5 Kings Road", "postal_code": "SW3 4RP", "country": "GB"}]
    a = (
        ok(
            ingest(
                db,
                "customers",
                {
                    "source": "pos",
                    "id": "1",
                    "first_name": "Oliver",
                    "last_name": "Bennett",
                    "birth_date": "1985-04-04",
                    "addresses": home,
                },
            )
        )
        .outcomes[0]
        .id
    )
    b = (
        ok(
            ingest(
                db,
                "customers",
                {
                    "source": "shopify",
                    "id": "9",
                    "first_name": "Olivier",
                    "last_name": "Bennett",
                    "birth_date": "1985-04-04",
                    "addresses": home,
                },
            )
        )
        .outcomes[0]
        .id
    )
    return a, b


def test_accepting_a_candidate_merges_the_pair_and_it_can_be_undone(db, api):
    a, b = _pair(db)
    listing = api.get("/api/v1/identity/candidates").json()
    assert listing["total"] == 1
    cid = listing["items"][0]["id"]
    merged = api.post(f"/api/v1/identity/candidates/{cid}/accept", json={"survivor_id": b})
    assert merged.status_code == 200
    body = merged.json()
    assert (body["survivor_id"], body["loser_id"], body["actor"]) == (b, a, "token:crm-team")
    assert body["moved"]["identifier.customer_id"] == 1
    assert api.get("/api/v1/identity/candidates").json()["total"] == 0
    assert api.post(f"/api/v1/identity/candidates/{cid}/accept").status_code == 409
    undone = api.post(f"/api/v1/identity/merges/{body['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_by"] == "token:crm-team"
    assert api.post(f"/api/v1/identity/merges/{body['id']}/undo").status_code == 409
    assert [m["id"] for m in api.get(f"/api/v1/identity/merges?customer_id={a}").json()] == [body["id"]]


def test_rejecting_a_candidate_keeps_two_clients_and_never_proposes_them_again(db, api):
    _pair(db)
    cid = api.get("/api/v1/identity/candidates").json()["items"][0]["id"]
    assert api.post(f"/api/v1/identity/candidates/{cid}/reject").json()["status"] == "rejected"
    ok(ingest(db, "customers", {"source": "shopify", "id": "9", "tags": ["vip"]}))
    assert api.get("/api/v1/identity/candidates").json()["total"] == 0
    assert api.get("/api/v1/identity/candidates?status=rejected").json()["total"] == 1


def test_manual_merge_errors_are_clear(db, api):
    a, b = _pair(db)
    merges = "/api/v1/identity/merges"
    assert api.post(merges, json={"survivor_id": a, "loser_id": a, "reason": "dup"}).status_code == 409
    missing = api.post("/api/v1/identity/merges", json={"survivor_id": a, "loser_id": 999, "reason": "dup"})
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    bad = api.post("/api/v1/identity/merges", json={"survivor_id": a, "loser_id": b})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    assert api.post(merges, json={"survivor_id": a, "loser_id": b, "reason": "same"}).status_code == 201
    assert api.post("/api/v1/identity/candidates/12345/reject").status_code == 404
