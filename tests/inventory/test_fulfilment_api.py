"""/api/v1/inventory fulfilment: arranging a pickup or a shipment, a store's queues and pick list, and each
step — for integrations (scopes) and for the app's own calls (a store's team, its manager, head office)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import tokens
from rapport.db import Database
from tests.associates.staff import cheap_hashing
from tests.inventory.fulfilment_kit import level, online_order, put, shop
from tests.web.conftest import signed_in

API = "/api/v1/inventory"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def places(db: Database) -> dict[str, int]:
    return shop(db)


def integration(db: Database, *scopes: str) -> TestClient:
    with db.write() as s:
        issued = tokens.create_token(s, "shop", list(scopes))
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def person(email: str) -> TestClient:
    """An associate's phone: signed in, sending the session's CSRF token on writes."""
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["X-CSRF-Token"] = signed_in(client, email)
    return client


def test_an_integration_takes_a_pickup_from_order_to_collected(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 2))
    order_id = online_order(db, "A1")
    api = integration(db, "read", "write")
    arranged = api.post(f"{API}/orders/{order_id}/pickup", json={"store": "PAR"})
    assert arranged.status_code == 201, arranged.text
    [pickup] = arranged.json()
    assert (pickup["kind"], pickup["status"], pickup["to_location"]["code"]) == ("pickup", "allocated", "PAR")
    assert pickup["lines"] == [{"order_line_id": pickup["lines"][0]["order_line_id"], "sku": "COAT-CAMEL-M",
                                "name": "Camel wool coat", "size": "M", "colour": "camel", "quantity": 1}]  # fmt: skip
    fid = pickup["id"]
    queue = api.get(f"{API}/fulfilments", params={"location": "PAR", "status": "to_pick"}).json()
    assert [f["id"] for f in queue] == [fid]
    [line] = api.get(f"{API}/pick-list", params={"location": "PAR"}).json()
    assert (line["sku"], line["order_number"], line["client_name"]) == ("COAT-CAMEL-M", "#A1", "Alicia Moreau")

    assert api.post(f"{API}/fulfilments/{fid}/picked").json()["status"] == "picked"
    ready = api.post(f"{API}/fulfilments/{fid}/ready", json={"collect_days": 3}).json()
    assert (ready["status"], ready["collect_by"][:10]) == ("ready", "2026-11-26")
    assert [
        f["id"] for f in api.get(f"{API}/fulfilments", params={"location": "PAR", "status": "to_hand_over"}).json()
    ] == [fid]
    assert api.post(f"{API}/fulfilments/{fid}/collected").json()["status"] == "collected"
    again = api.post(f"{API}/fulfilments/{fid}/collected")
    assert again.status_code == 409 and "already collected" in again.json()["detail"]
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)
    assert [f["status"] for f in api.get(f"{API}/orders/{order_id}/fulfilments").json()] == ["collected"]


def test_a_transfer_is_shipped_and_received_through_the_api(db, places):
    put(db, ("COAT-CAMEL-M", "WH-FR", 1))
    order_id = online_order(db, "A2")
    api = integration(db, "read", "write")
    parts = api.post(f"{API}/orders/{order_id}/source", json={"ship_to": "PAR"}).json()
    assert [(p["kind"], p["status"]) for p in parts] == [("pickup", "awaiting_transfer"), ("transfer", "allocated")]
    transfer = parts[1]["id"]
    assert [
        f["id"] for f in api.get(f"{API}/fulfilments", params={"location": "PAR", "status": "to_receive"}).json()
    ] == [transfer]
    shipped = api.post(f"{API}/fulfilments/{transfer}/shipped", json={"tracking": "COLIS-9"}).json()
    assert (shipped["status"], shipped["tracking"]) == ("shipped", "COLIS-9")
    assert api.post(f"{API}/fulfilments/{transfer}/received").json()["status"] == "received"
    assert api.get(f"{API}/fulfilments/{parts[0]['id']}").json()["status"] == "allocated"
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 1)


def test_errors_say_what_is_wrong(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    order_id = online_order(db, "A3")
    api = integration(db, "read", "write")
    assert api.post(f"{API}/orders/999999/pickup", json={"store": "PAR"}).status_code == 404
    assert api.post(f"{API}/fulfilments/999999/picked").status_code == 404
    assert api.get(f"{API}/orders/999999/fulfilments").status_code == 404
    bad = (
        ("pickup", {"store": "NOPE"}, "store"),
        ("pickup", {"store": "WH-FR"}, "store"),
        ("source", {"ship_to": "NOPE"}, "ship_to"),
        ("source", {"ship_to": "client", "taken_at": "NOPE"}, "taken_at"),
    )
    for path, body, field in bad:
        r = api.post(f"{API}/orders/{order_id}/{path}", json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert api.get(f"{API}/fulfilments", params={"location": "PAR", "status": "lost"}).status_code == 422
    nothing = online_order(db, "A4", ("SCARF-SILK", 1))
    refused = api.post(f"{API}/orders/{nothing}/source", json={"ship_to": "client"})
    assert refused.status_code == 409 and "SCARF-SILK" in refused.json()["detail"]
    [pickup] = api.post(f"{API}/orders/{order_id}/pickup", json={"store": "PAR"}).json()
    wrong = api.post(f"{API}/fulfilments/{pickup['id']}/collected")
    assert wrong.status_code == 409 and "is allocated, not ready" in wrong.json()["detail"]
    assert integration(db, "read").post(f"{API}/fulfilments/{pickup['id']}/picked").status_code == 403
    assert integration(db, "ingest").get(f"{API}/fulfilments/{pickup['id']}").status_code == 403
    assert TestClient(create_app()).get(f"{API}/fulfilments/{pickup['id']}").status_code == 401


def test_a_store_team_moves_its_own_fulfilments_and_its_manager_cancels(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1), ("SCARF-SILK", "WH-FR", 1))
    order_id = online_order(db, "A5")
    ana, ben, max_ = person("ana@maison.example"), person("ben@maison.example"), person("max@maison.example")
    [pickup] = ana.post(f"{API}/orders/{order_id}/pickup", json={"store": "PAR"}).json()
    fid = pickup["id"]
    refused = ben.post(f"{API}/fulfilments/{fid}/picked")  # New York: not his store
    assert refused.status_code == 403
    assert ben.get(f"{API}/fulfilments/{fid}").status_code == 200  # but anyone may see where an order is
    assert ana.post(f"{API}/fulfilments/{fid}/picked").json()["status"] == "picked"
    assert ana.post(f"{API}/fulfilments/{fid}/cancel").status_code == 403  # associates do not cancel
    no_csrf = TestClient(create_app(), follow_redirects=False)
    signed_in(no_csrf, "ana@maison.example")
    assert no_csrf.post(f"{API}/fulfilments/{fid}/ready").status_code == 403
    cancelled = max_.post(f"{API}/fulfilments/{fid}/cancel", json={"note": "client called"})
    assert (cancelled.json()["status"], cancelled.json()["note"]) == ("cancelled", "client called")
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)

    endless = online_order(db, "A6", ("SCARF-SILK", 1))  # Ben orders from the warehouse for his client
    [parcel] = ben.post(f"{API}/orders/{endless}/source", json={"ship_to": "client", "taken_at": "NYC"}).json()
    assert (parcel["kind"], parcel["from_location"]["code"], parcel["to_location"]) == ("ship_to_client", "WH-FR", None)
    assert ben.post(f"{API}/fulfilments/{parcel['id']}/shipped").status_code == 403  # the warehouse ships it
    ada = person("ada@maison.example")
    assert ada.post(f"{API}/fulfilments/{parcel['id']}/shipped", json={}).json()["status"] == "shipped"
