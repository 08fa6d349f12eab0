"""The client routes over HTTP: search, the 360 and timeline pages, behind an integration token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from tests.customers.conftest import Ingest


@pytest.mark.parametrize("path", ["/api/v1/customers?q=alicia", "/api/v1/customers/1/360",
                                  "/api/v1/customers/1/timeline"])  # fmt: skip
def test_every_client_route_needs_a_token(db, path):
    assert TestClient(create_app()).get(path).status_code == 401


def test_the_360_answers_in_one_response(db, api, alicia):
    r = api.get(f"/api/v1/customers/{alicia}/360")
    assert r.status_code == 200
    body = r.json()
    assert body["customer_id"] == alicia and body["resolved_from"] is None
    assert body["profile"]["full_name"] == "Alicia Moreau"
    assert body["profile"]["home_store"] == {"id": body["profile"]["home_store"]["id"], "code": "PAR",
                                             "name": "Paris Saint-Honoré"}  # fmt: skip
    assert body["identities"]["emails"][0]["address"] == "alicia@example.com"
    eur = body["kpis"]["lifetime_spend"][0]
    assert eur["net"] == {"minor": 38000, "currency": "EUR", "formatted": "€380.00"}
    assert body["kpis"]["first_purchase_at"] == "2026-01-10T10:00:00Z"
    assert [m["kind"] for m in body["milestones"]] == ["child_birthday", "birthday", "anniversary"]
    assert body["milestones"][1]["next_date"] == "2026-11-30"
    assert body["wishlist"][0]["product"]["price"]["formatted"] == "€450.00"
    assert [(t["product"]["sku"], t["bought_after"]) for t in body["tried_on"]] == [("COAT-M", True), ("SCARF", False)]
    timeline = body["timeline"]
    assert timeline["entries"][0]["kind"] == "order_cancelled"  # recorded at the fixed clock's "now"
    assert timeline["next_cursor"] is None and len(timeline["entries"]) == 12
    assert {c["channel"] for c in body["consent"]} == {"email", "sms", "whatsapp", "phone"}


def test_the_360_timeline_can_be_shorter_and_paged_on(db, api, alicia):
    first = api.get(f"/api/v1/customers/{alicia}/360", params={"timeline_limit": 5}).json()["timeline"]
    assert len(first["entries"]) == 5 and first["next_cursor"]
    seen = [e["id"] for e in first["entries"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(f"/api/v1/customers/{alicia}/timeline", params={"before": cursor, "limit": 5})
        assert page.status_code == 200
        seen += [e["id"] for e in page.json()["entries"]]
        cursor = page.json()["next_cursor"]
    assert len(seen) == len(set(seen)) == 12


def test_the_timeline_filters_by_channel_and_kind_lists(db, api, alicia):
    r = api.get(f"/api/v1/customers/{alicia}/timeline", params={"channel": "store", "kind": "order,return"})
    assert r.status_code == 200
    entries = r.json()["entries"]
    assert [(e["kind"], e["channel"]) for e in entries] == [
        ("order", "store"), ("order", "store"), ("order", "store"), ("return", "store"),
    ]  # fmt: skip
    assert entries[0]["location"]["code"] == "NYC" and entries[-1]["data"]["order_channel"] == "online"


def test_a_merged_away_id_answers_with_the_survivor_and_says_so(db, api, ingest: Ingest):
    first = ingest("customers", {"source": "web", "id": "a", "first_name": "Ana", "emails": ["ana@example.com"]})
    second = ingest("customers", {"source": "pos", "id": "b", "first_name": "Anna", "phones": ["+14155550101"]})
    ingest("customers", {"source": "loyalty", "id": "c", "emails": ["ana@example.com"], "phones": ["+14155550101"]})
    survivor, old = first.outcomes[0].id, second.outcomes[0].id
    body = api.get(f"/api/v1/customers/{old}/360").json()
    assert (body["customer_id"], body["resolved_from"]) == (survivor, old)
    page = api.get(f"/api/v1/customers/{old}/timeline").json()
    assert (page["customer_id"], page["resolved_from"]) == (survivor, old)


def test_an_unknown_client_is_a_404_in_json(db, api):
    for path in ("/api/v1/customers/424242/360", "/api/v1/customers/424242/timeline"):
        r = api.get(path)
        assert r.status_code == 404
        assert r.json() == {"error": "not_found", "detail": "client 424242 not found"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"before": "garbage"}, "before"), ({"kind": "purchase"}, "kind"), ({"channel": "fax"}, "channel"),
     ({"limit": 201}, "limit"), ({"limit": 0}, "limit")],
)  # fmt: skip
def test_bad_timeline_parameters_get_a_422_naming_them(db, api, alicia, params, field):
    r = api.get(f"/api/v1/customers/{alicia}/timeline", params=params)
    assert r.status_code == 422
    assert any(e["field"].endswith(field) for e in r.json()["errors"]), r.json()


def test_search_returns_ranked_clients_with_context(db, api, alicia):
    r = api.get("/api/v1/customers", params={"q": "Alisia Moro"})
    assert r.status_code == 200
    body = r.json()
    assert body["q"] == "Alisia Moro"
    (hit,) = body["results"]
    assert (hit["id"], hit["name"], hit["email"], hit["phone"]) == (
        alicia, "Alicia Moreau", "alicia@example.com", "+33612345678",
    )  # fmt: skip
    assert hit["home_store"]["code"] == "PAR" and hit["last_purchase_at"] == "2026-09-06T10:00:00Z"
    assert hit["tier"] == "gold" and hit["matched_on"] == "name" and 0 < hit["score"] <= 100
    assert api.get("/api/v1/customers", params={"q": "56 78"}).json()["results"][0]["id"] == alicia


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "a"}, {"q": " b "}])
def test_search_without_a_usable_query_is_a_422_naming_q(db, api, params):
    r = api.get("/api/v1/customers", params=params)
    assert r.status_code == 422
    message = "type at least 2 characters of a name, email or phone number"
    assert r.json()["errors"] == [{"field": "q", "message": message}]


def test_search_limits_are_checked(db, api, alicia):
    assert api.get("/api/v1/customers", params={"q": "alicia", "limit": 51}).status_code == 422
    assert api.get("/api/v1/customers", params={"q": "alicia", "limit": 1}).status_code == 200


def test_every_profile_view_is_written_to_the_audit_log(db, api, alicia):
    from sqlalchemy import select

    from rapport.associates.models import AuditEvent

    assert api.get(f"/api/v1/customers/{alicia}/360", headers={"User-Agent": "counter-ipad"}).status_code == 200
    with db.read() as s:
        event = s.scalars(select(AuditEvent)).one()
    assert (event.action, event.customer_id, event.actor_kind) == ("client.viewed", alicia, "token")
    assert event.user_agent == "counter-ipad" and event.ip
