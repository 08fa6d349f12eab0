"""/api/v1/inventory: the web shop's per-SKU availability and the stock screen's per-style view, as an
integration (a token with the "read" scope) and the app (a signed-in associate) call them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import tokens
from rapport.db import Database
from tests.associates.staff import cheap_hashing, team
from tests.inventory.conftest import STYLE, Stocked
from tests.web.conftest import signed_in

URL = "/api/v1/inventory/availability"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


def client_with(db: Database, *scopes: str) -> TestClient:
    with db.write() as s:
        issued = tokens.create_token(s, "web-shop", list(scopes))
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def test_the_web_shop_reads_each_sku_per_location_and_online(stocked_style: Stocked) -> None:
    shop = client_with(stocked_style.db, "read")
    answer = shop.get(URL, params=[("sku", "DRESS-SILK-M"), ("sku", "DRESS-SILK-L")])
    assert answer.status_code == 200, answer.text
    m, l_ = answer.json()["skus"]
    assert (m["sku"], m["style_code"], m["online"]) == ("DRESS-SILK-M", STYLE, 11)
    paris = next(x for x in m["locations"] if x["code"] == "PAR")
    assert paris == {"code": "PAR", "name": "Paris Saint-Honoré", "kind": "store", "fulfils_online": False,
                     "on_hand": 5, "reserved": 2, "safety_stock": 1, "available": 2}  # fmt: skip
    assert [(x["code"], x["available"]) for x in l_["locations"]] == [("MIL", 0)]

    only = shop.get(URL, params=[("sku", "DRESS-SILK-M"), ("location", "WH-EU"), ("location", "NYC")]).json()
    assert [(x["code"], x["available"]) for x in only["skus"][0]["locations"]] == [("WH-EU", 7), ("NYC", 0)]


def test_unknown_skus_or_locations_and_too_many_skus_are_422_naming_the_field(stocked_style: Stocked) -> None:
    shop = client_with(stocked_style.db, "read")

    def errors(params: list[tuple[str, str]]) -> Any:
        answer = shop.get(URL, params=params)
        assert answer.status_code == 422, answer.text
        return answer.json()["errors"]

    assert errors([("sku", "GHOST")]) == [{"field": "sku", "message": "unknown product 'GHOST'"}]
    assert errors([("sku", "DRESS-SILK-M"), ("location", "ATLANTIS")]) == [
        {"field": "location", "message": "unknown location 'ATLANTIS'"}
    ]
    assert errors([("sku", f"SKU-{i}") for i in range(101)])[0]["field"] == "sku"
    assert "sku" in errors([])[0]["field"]


def test_a_token_without_the_read_scope_is_refused(stocked_style: Stocked) -> None:
    ingest_only = client_with(stocked_style.db, "ingest")
    assert ingest_only.get(URL, params={"sku": "DRESS-SILK-M"}).status_code == 403
    assert ingest_only.get(f"/api/v1/inventory/styles/{STYLE}/availability").status_code == 403
    anonymous = TestClient(create_app(), follow_redirects=False)
    assert anonymous.get(URL, params={"sku": "DRESS-SILK-M"}).status_code == 401


def test_a_style_near_a_store_its_sizes_nearest_stores_and_everywhere(stocked_style: Stocked) -> None:
    shop = client_with(stocked_style.db, "read")
    answer = shop.get(f"/api/v1/inventory/styles/{STYLE}/availability", params={"near": "PAR", "nearby": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["price"] == {"minor": 89000, "currency": "EUR", "formatted": "€890.00"}
    assert body["here"]["code"] == "PAR" and body["here"]["distance_km"] == 0
    assert [(p["code"], p["distance_km"]) for p in body["nearby"]] == [("LON", 343.3), ("LYO", 393.9)]
    assert [s["label"] for s in body["sizes"]] == ["XS", "S", "M", "L", "XXL"]
    m = body["sizes"][2]
    assert (m["here"], m["online"], m["total"]) == (2, 11, 16)
    assert m["nearby"] == [{"location": "LON", "available": 1}, {"location": "LYO", "available": 4}]
    assert body["everywhere"][0]["location"]["code"] == "PAR"
    assert body["everywhere"][0]["sizes"] == [{"sku": "DRESS-SILK-XS", "size": "XS", "available": 1},
                                              {"sku": "DRESS-SILK-M", "size": "M", "available": 2}]  # fmt: skip

    unknown_near = shop.get(f"/api/v1/inventory/styles/{STYLE}/availability", params={"near": "ATLANTIS"})
    assert unknown_near.status_code == 422 and unknown_near.json()["errors"][0]["field"] == "near"
    assert shop.get("/api/v1/inventory/styles/NOPE/availability").status_code == 404


def test_a_signed_in_associate_reads_it_as_the_app_does(stocked_style: Stocked) -> None:
    team(stocked_style.db)
    app = TestClient(create_app(), follow_redirects=False)
    signed_in(app, "ana@maison.example")
    answer = app.get("/api/v1/inventory/styles/DRESS-SILK-M/availability", params={"near": "PAR"})
    assert answer.status_code == 200 and answer.json()["style_code"] == STYLE


def test_the_parameters_are_documented() -> None:
    spec = TestClient(create_app()).get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"][URL]["get"]["parameters"]}
    assert "at most 100" in params["sku"]["description"] and params["location"]["description"]
    style = spec["paths"]["/api/v1/inventory/styles/{style}/availability"]["get"]
    assert {p["name"] for p in style["parameters"]} >= {"style", "near", "nearby"}
