"""Client books, assignment, the audit log and notifications over HTTP, behind an integration token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.clientbook.api import authorize
from rapport.errors import PermissionDenied
from rapport.http import Caller
from tests.clientbook.conftest import book_of, client, client_ids, sale


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/clientbook/1"), ("post", "/api/v1/clientbook/assign"),
        ("post", "/api/v1/clientbook/reassign/preview"), ("post", "/api/v1/clientbook/reassign"),
        ("get", "/api/v1/audit"), ("get", "/api/v1/notifications?associate_id=1"),
        ("post", "/api/v1/notifications/1/read"),
    ],
)  # fmt: skip
def test_every_route_needs_a_token(db, method, path):
    assert getattr(TestClient(create_app()), method)(path).status_code == 401


def test_the_permission_seam_follows_the_token_scopes_and_the_associate_rules():
    authorize(Caller("token", 1, "crm", ("read",)), "clientbook.read", associate_id=3)
    authorize(Caller("token", 1, "crm", ("ingest",)), "clientbook.reassign", associate_id=3)
    with pytest.raises(PermissionDenied):
        authorize(Caller("token", 1, "crm", ("read",)), "clientbook.reassign", associate_id=3)
    with pytest.raises(PermissionDenied):
        authorize(Caller("associate", 5, "ana", (), role="associate"), "clientbook.assign")
    authorize(Caller("associate", 5, "ana", (), role="associate"), "notifications.read", associate_id=5)
    with pytest.raises(ValueError, match="unknown action"):
        authorize(Caller("token", 1, "crm", ()), "clientbook.delete")


@pytest.fixture
def registered(db, shop, ingest):
    ingest(
        "customers",
        client("fr1", "Aubert", country="FR", tags=["vip"]),
        client("fr2", "Bonnet", country="FR"),
        client("ny1", "Cohen", country="US", region="NY"),
        client("st1", "Durand", country="FR", tags=["vip"]),
    )
    ingest("orders", sale("S1", "st1", associate="ANA", price="250.00", at="2026-11-02T10:00:00Z"),
           sale("W1", "fr1", channel="online", price="80.00", at="2026-10-02T10:00:00Z"))  # fmt: skip
    return client_ids(db)


def test_assignment_runs_dry_then_for_real(db, api, shop, registered):
    dry = api.post("/api/v1/clientbook/assign", json={"dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["total"] == 4
    assert set(book_of(db).values()) == {None}
    done = api.post("/api/v1/clientbook/assign")
    body = done.json()
    assert done.status_code == 200 and body["total"] == 4 and body["by_rule"] == {"online_region": 3, "store_sales": 1}
    lines = {line["name"]: line for line in body["associates"]}
    assert lines["Zoé Marchetti"] == {"id": shop["ZOE"], "name": "Zoé Marchetti", "role": "virtual_associate",
                                      "covers": "FR, IT", "new_clients": 2, "book_size": 2}  # fmt: skip
    assert lines["Ana Duval"]["covers"] == "Paris Saint-Honoré"
    assert book_of(db)[registered["st1"]] == shop["ANA"]


def test_the_client_book_answers_with_filters_sorting_and_a_cursor(db, api, shop, registered):
    api.post("/api/v1/clientbook/assign")
    r = api.get(f"/api/v1/clientbook/{shop['ZOE']}", params={"sort": "name", "limit": 1})
    assert r.status_code == 200, r.text
    first = r.json()
    assert [row["name"] for row in first["rows"]] == ["Fr1 Aubert"] and first["total"] == 2
    # An online expert's book is in the default currency; euros spent online do not count in it.
    assert first["rows"][0]["spend"] == {"minor": 0, "currency": "USD", "formatted": "$0.00"}
    nxt = api.get(f"/api/v1/clientbook/{shop['ZOE']}", params={"sort": "name", "cursor": first["next_cursor"]})
    assert [row["name"] for row in nxt.json()["rows"]] == ["Fr2 Bonnet"] and nxt.json()["next_cursor"] is None
    vip = api.get(f"/api/v1/clientbook/{shop['ZOE']}", params={"tags": "vip", "purchased_after": "2026-10-01"})
    assert [row["name"] for row in vip.json()["rows"]] == ["Fr1 Aubert"]
    euros = api.get(f"/api/v1/clientbook/{shop['ANA']}", params={"min_spend": 25000, "currency": "EUR"}).json()
    assert euros["currency"] == "EUR" and euros["rows"][0]["spend"]["formatted"] == "€250.00"


def test_the_client_book_refuses_bad_input_with_the_field_named(db, api, shop, registered):
    bad_sort = api.get(f"/api/v1/clientbook/{shop['ANA']}", params={"sort": "mood"})
    assert bad_sort.status_code == 422 and bad_sort.json()["errors"][0]["field"] == "query.sort"
    bad_date = api.get(f"/api/v1/clientbook/{shop['ANA']}", params={"purchased_before": "last tuesday"})
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["field"] == "purchased_before"
    bad_cursor = api.get(f"/api/v1/clientbook/{shop['ANA']}", params={"cursor": "nope"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    assert api.get("/api/v1/clientbook/424242").status_code == 404


def test_a_reassignment_preview_matches_the_reassignment(db, api, shop, registered):
    api.post("/api/v1/clientbook/assign")
    request = {"from_associate_id": shop["ZOE"], "to_associate_id": shop["BEN"]}
    preview = api.post("/api/v1/clientbook/reassign/preview", json=request)
    assert preview.status_code == 200, preview.text
    assert preview.json()["total"] == 2 and preview.json()["applied"] is False
    assert [s["name"] for s in preview.json()["sample"]] == ["Fr1 Aubert", "Fr2 Bonnet"]
    done = api.post("/api/v1/clientbook/reassign", json=request)
    assert done.status_code == 200 and done.json()["applied"] is True
    assert done.json()["associates"] == preview.json()["associates"]
    assert book_of(db)[registered["fr1"]] == shop["BEN"]
    inactive_target = api.post("/api/v1/clientbook/reassign", json={"from_associate_id": shop["BEN"],
                                                                    "to_associate_id": 424242})  # fmt: skip
    assert inactive_target.status_code == 404
    unknown_field = api.post("/api/v1/clientbook/reassign/preview", json={**request, "everyone": True})
    assert unknown_field.status_code == 422


def test_the_audit_log_lists_assignments_with_the_calling_token_and_pages(db, api, shop, registered):
    api.post("/api/v1/clientbook/assign", headers={"User-Agent": "crm-sync/1.0"})
    api.post("/api/v1/clientbook/reassign", json={"from_associate_id": shop["ZOE"], "to_associate_id": shop["BEN"]})
    first = api.get("/api/v1/audit", params={"limit": 1})
    assert first.status_code == 200, first.text
    (latest,) = first.json()["events"]
    assert latest["action"] == "clientbook.reassigned" and latest["actor_kind"] == "token"
    assert latest["actor_label"] == "token:clientbook-tests" and latest["detail"]["total"] == 2
    rest = api.get("/api/v1/audit", params={"cursor": first.json()["next_cursor"]}).json()
    (earlier,) = rest["events"]
    assert earlier["action"] == "clientbook.assigned" and earlier["user_agent"] == "crm-sync/1.0"
    assert earlier["ip"] == "testclient" and rest["next_cursor"] is None
    mine = api.get("/api/v1/audit", params={"actor": f"token:{latest['actor_id']}", "action": "clientbook.assigned"})
    assert [e["id"] for e in mine.json()["events"]] == [earlier["id"]]
    assert api.get("/api/v1/audit", params={"actor": "robot"}).status_code == 422


def test_the_notification_feed_and_marking_one_read(db, api, shop, registered):
    api.post("/api/v1/clientbook/assign")
    feed = api.get("/api/v1/notifications", params={"associate_id": shop["ZOE"]})
    assert feed.status_code == 200, feed.text
    assert feed.json()["unread"] == 1
    (item,) = feed.json()["items"]
    assert item["title"] == "2 new clients in your book" and item["read_at"] is None
    marked = api.post(f"/api/v1/notifications/{item['id']}/read")
    assert marked.status_code == 200 and marked.json()["read_at"] == "2026-11-23T15:00:00Z"
    after = api.get("/api/v1/notifications", params={"associate_id": shop["ZOE"], "unread_only": True}).json()
    assert after["unread"] == 0 and after["items"] == []
    assert api.post("/api/v1/notifications/424242/read").status_code == 404


def test_the_routes_are_documented_under_their_tags(db):
    spec = TestClient(create_app()).get("/api/v1/openapi.json").json()
    tags = {path: {t for op in ops.values() for t in op.get("tags", [])} for path, ops in spec["paths"].items()}
    assert tags["/api/v1/clientbook/{associate_id}"] == {"client book"}
    assert tags["/api/v1/clientbook/reassign/preview"] == {"client book"}
    assert tags["/api/v1/audit"] == {"audit"}
    assert tags["/api/v1/notifications/{notification_id}/read"] == {"notifications"}
