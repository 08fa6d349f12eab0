"""/api/v1/returns: find the order at the counter, take it back at one's own store, read the receipt —
as the app (session + CSRF header) and integrations (bearer token) call it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.app import create_app
from rapport.associates import auth, tokens
from rapport.associates.models import AuditEvent
from rapport.commerce.models import Order, Return
from rapport.db import Database
from tests.associates.staff import Team, cheap_hashing, team
from tests.factories import alicia, ingest, ok, order
from tests.web.conftest import signed_in

ANA, BEN = "ana@maison.example", "ben@maison.example"  # associates in Paris and in New York
WEB = {"source": "shopify", "id": "1001"}


def bought_online(db: Database) -> int:
    """Alicia's web order #1001: a camel coat and two silk scarves (no coat on the Paris shelf)."""
    ok(ingest(db, "products",
              {"sku": "COAT-CAMEL-M", "name": "Camel wool coat", "colour": "camel", "size": "M", "price": "1200.00",
               "currency": "EUR"},
              {"sku": "SCARF-SILK", "name": "Silk scarf", "price": "45.50", "currency": "EUR"}))  # fmt: skip
    ok(ingest(db, "customers", alicia(home_store="PAR")))
    ok(ingest(db, "orders", order(
        "WEB-77", source="shopify", channel="online", store=None, order_number="#1001", customer=WEB,
        lines=[{"id": "1", "sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": "1200.00"},
               {"id": "2", "sku": "SCARF-SILK", "quantity": 2, "unit_price": "45.50"}],
    )))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 0}))
    with db.read() as s:
        return int(s.scalars(select(Order.id).where(Order.external_id == "WEB-77")).one())


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


class Api:
    def __init__(self, http: TestClient, csrf: str | None) -> None:
        self.http, self.csrf = http, csrf

    def get(self, url: str, **params: Any) -> Any:
        return self.http.get(url, params=params)

    def post(self, url: str, body: dict[str, Any], *, csrf: bool = True) -> Any:
        headers = {auth.CSRF_HEADER: self.csrf} if self.csrf and csrf else {}
        return self.http.post(url, json=body, headers=headers)


@pytest.fixture
def staff(db: Database) -> Team:
    return team(db)


@pytest.fixture
def app(db: Database, staff: Team) -> Any:
    return create_app()


@pytest.fixture
def web_order(db: Database, staff: Team) -> int:
    return bought_online(db)


def as_(app: Any, email: str) -> Api:
    client = TestClient(app, follow_redirects=False)
    return Api(client, signed_in(client, email))


def with_token(db: Database, app: Any, *scopes: str) -> Api:
    with db.write() as s:
        issued = tokens.create_token(s, "pos", list(scopes))
    client = TestClient(app, follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return Api(client, None)


def lines_of(api: Api, q: str = "#1001") -> dict[str, int]:
    response = api.get("/api/v1/returns/orders", q=q)
    assert response.status_code == 200, response.text
    return {line["sku"]: line["id"] for line in response.json()[0]["lines"]}


def returns(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Return)) or 0)


def test_an_associate_finds_the_order_by_number_or_by_a_phone_read_in_their_stores_country(db, app, web_order):
    ana = as_(app, ANA)
    found = ana.get("/api/v1/returns/orders", q="06 12 34 56 78").json()  # a French number, typed the French way
    assert [(o["id"], o["number"], o["channel"], o["client_name"]) for o in found] == [
        (web_order, "#1001", "online", "Alicia Moreau")]  # fmt: skip
    coat = found[0]["lines"][0]
    assert (coat["sku"], coat["quantity"], coat["returnable"], coat["unit_price"]) == (
        "COAT-CAMEL-M",
        1,
        1,
        "€1,200.00",
    )

    ben = as_(app, BEN)  # in New York the same digits are not a number
    refused = ben.get("/api/v1/returns/orders", q="06 12 34 56 78")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "q"
    assert [o["id"] for o in ben.get("/api/v1/returns/orders", q="06 12 34 56 78", region="FR").json()] == [web_order]
    assert ben.get("/api/v1/returns/orders", q="ab").status_code == 422


def test_returned_at_the_associates_store_recorded_once_and_audited(db, app, web_order, staff):
    ana = as_(app, ANA)
    coat = lines_of(ana)["COAT-CAMEL-M"]
    body = {"order_id": web_order, "store": "PAR", "reason": "Too small", "idempotency_key": "till-2f9c1e77",
            "lines": [{"order_line_id": coat, "quantity": 1, "sellable": True}]}  # fmt: skip
    first = ana.post("/api/v1/returns", body)
    assert first.status_code == 201, first.text
    out = first.json()
    assert (out["channel"], out["store_code"], out["refund"], out["created"], out["units"]) == (
        "online", "PAR", "€1,200.00", True, 1)  # fmt: skip
    assert out["lines"][0]["restocked"] is True and out["client_name"] == "Alicia Moreau"

    again = ana.post("/api/v1/returns", body)  # the double tap
    assert (again.status_code, again.json()["id"], again.json()["created"]) == (200, out["id"], False)
    assert returns(db) == 1
    with db.read() as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "return.recorded"))
    assert (event.actor_kind, event.actor_id, event.customer_id) == ("associate", staff.ana, out["customer_id"])

    receipt = ana.get(f"/api/v1/returns/{out['id']}")
    assert receipt.status_code == 200 and receipt.json()["refund_minor"] == 120000
    assert ana.get("/api/v1/returns/999999").status_code == 404


def test_more_than_is_left_is_refused_naming_the_line(db, app, web_order):
    ana = as_(app, ANA)
    coat = lines_of(ana)["COAT-CAMEL-M"]
    body = {"order_id": web_order, "store": "PAR", "reason": "Too small",
            "lines": [{"order_line_id": coat, "quantity": 2}]}  # fmt: skip
    refused = ana.post("/api/v1/returns", body)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "lines.0.quantity", "message": "only 1 left to return"}]
    assert returns(db) == 0


def test_who_may_take_a_return_where(db, app, web_order):
    ben = as_(app, BEN)
    coat = lines_of(ben)["COAT-CAMEL-M"]
    body = {"order_id": web_order, "store": "PAR", "reason": "Too small", "lines": [{"order_line_id": coat}]}
    assert ben.post("/api/v1/returns", body).status_code == 403  # Paris is not his store
    assert ben.post("/api/v1/returns", {**body, "store": "NYC"}, csrf=False).status_code == 403  # no CSRF header
    reader = with_token(db, app, "read")
    assert reader.get("/api/v1/returns/orders", q="alicia@example.com").status_code == 200
    assert reader.post("/api/v1/returns", body).status_code == 403
    assert returns(db) == 0
    writer = with_token(db, app, "write")
    assert writer.post("/api/v1/returns", body).status_code == 201
    assert writer.post("/api/v1/returns", {**body, "store": "LON"}).json()["errors"][0]["field"] == "store"
