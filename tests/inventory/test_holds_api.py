"""/api/v1/inventory/holds and the put-aside screens: an associate puts the coat aside for a client
from the phone, sees it on the profile, releases it; integrations need the right scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.app import create_app
from rapport.associates import auth, tokens
from rapport.identity.models import Identifier
from tests.associates.staff import cheap_hashing, team
from tests.factories import alicia, ingest, ok
from tests.web.conftest import form_token, signed_in


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def shop(db):
    team(db)  # PAR and NYC, Ana (Paris), Ben (New York), Max (Paris manager), Ada (admin)
    ok(ingest(db, "products",
              {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel <b>wool</b> coat", "size": "M",
               "price": "1200.00", "currency": "EUR"}))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 1},
              {"sku": "COAT-CAMEL-M", "location": "NYC", "on_hand": 0}))  # fmt: skip
    ok(ingest(db, "customers", alicia()))
    with db.read() as s:
        cid = s.scalar(select(Identifier.customer_id).where(Identifier.value == "alicia@example.com"))
    return db, cid


def _token(db, *scopes: str) -> TestClient:
    with db.write() as s:
        issued = tokens.create_token(s, "shop", list(scopes))
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def test_an_integration_places_lists_and_releases_a_hold(shop):
    db, cid = shop
    api = _token(db, "read", "write")
    body = {"client_id": cid, "sku": "COAT-CAMEL-M", "location": "PAR", "until": "2026-11-24T19:00:00+01:00"}
    placed = api.post("/api/v1/inventory/holds", json=body)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["status"], hold["location_code"], hold["expires_at"][:16]) == ("active", "PAR", "2026-11-24T18:00")
    again = api.post("/api/v1/inventory/holds", json=body)
    assert again.status_code == 409 and "0 available, 1 wanted" in again.json()["detail"]
    listed = api.get("/api/v1/inventory/holds", params={"location": "PAR"}).json()
    assert [h["id"] for h in listed] == [hold["id"]]
    released = api.post(f"/api/v1/inventory/holds/{hold['id']}/release", json={"reason": "bought online"})
    assert released.json()["status"] == "released"
    assert api.post(f"/api/v1/inventory/holds/{hold['id']}/release").status_code == 409
    assert api.get(f"/api/v1/inventory/holds/{hold['id']}").json()["status"] == "released"


def test_bad_requests_name_the_field(shop):
    db, cid = shop
    api = _token(db, "read", "write")
    for change, field in (({"location": "XXX"}, "location"), ({"sku": "NOPE"}, "sku"),
                          ({"until": "2026-11-24T19:00:00"}, "until"), ({"quantity": 0}, "quantity"),
                          ({"colour": "red"}, "colour")):  # fmt: skip
        r = api.post("/api/v1/inventory/holds", json={"client_id": cid, "sku": "COAT-CAMEL-M", "location": "PAR",
                                                       **change})  # fmt: skip
        assert r.status_code == 422, (change, r.text)
        assert field in r.json()["detail"], r.json()
    assert api.get("/api/v1/inventory/holds").status_code == 422  # neither client nor location
    assert _token(db, "read").post("/api/v1/inventory/holds", json={"client_id": cid, "sku": "COAT-CAMEL-M",
                                                                     "location": "PAR"}).status_code == 403  # fmt: skip


def test_an_associate_puts_the_coat_aside_from_the_phone_and_sees_it_on_the_profile(shop):
    _db, cid = shop
    web = TestClient(create_app(), follow_redirects=False)
    signed_in(web, "ana@maison.example")
    chooser = web.get("/holds/new", params={"sku": "COAT-CAMEL-M", "location": "PAR", "q": "alicia"})
    assert chooser.status_code == 200 and f"client={cid}" in chooser.text
    form = web.get("/holds/new", params={"sku": "COAT-CAMEL-M", "location": "PAR", "client": cid})
    assert form.status_code == 200
    assert "Camel &lt;b&gt;wool&lt;/b&gt; coat" in form.text and "1 available" in form.text
    assert "Tonight, 19:30" in form.text  # 16:00 in Paris: there is an evening left
    data = {"csrf_token": form_token(form), "sku": "COAT-CAMEL-M", "client": str(cid), "location": "PAR",
            "quantity": "1", "until": "", "note": "after work <script>", "key": "web-abc"}  # fmt: skip
    placed = web.post("/holds", data=data)
    assert placed.status_code == 303 and placed.headers["location"] == f"/clients/{cid}#holds"
    assert web.post("/holds", data=data).status_code == 303  # a double tap: one hold
    profile = web.get(f"/clients/{cid}")
    assert "Set aside (1)" in profile.text and "after work &lt;script&gt;" in profile.text
    hold_id = int(profile.text.split('action="/holds/')[1].split("/")[0])
    refused = web.post("/holds", data={**data, "key": "web-other"})
    assert refused.status_code == 409 and "0 available, 1 wanted" in refused.text
    released = web.post(f"/holds/{hold_id}/release", data={"csrf_token": form_token(profile)},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert released.status_code == 200 and "Nothing set aside" in released.text


def test_only_the_store_team_or_whoever_placed_it_may_release(shop):
    _db, cid = shop
    ana = TestClient(create_app(), follow_redirects=False)
    csrf = signed_in(ana, "ana@maison.example")
    hold = ana.post("/api/v1/inventory/holds", json={"client_id": cid, "sku": "COAT-CAMEL-M", "location": "PAR"},
                    headers={auth.CSRF_HEADER: csrf}).json()  # fmt: skip
    ben = TestClient(create_app(), follow_redirects=False)
    ben_csrf = signed_in(ben, "ben@maison.example")
    refused = ben.post(f"/api/v1/inventory/holds/{hold['id']}/release", headers={auth.CSRF_HEADER: ben_csrf})
    assert refused.status_code == 403
    max_ = TestClient(create_app(), follow_redirects=False)
    max_csrf = signed_in(max_, "max@maison.example")
    ok_ = max_.post(f"/api/v1/inventory/holds/{hold['id']}/release", headers={auth.CSRF_HEADER: max_csrf})
    assert ok_.status_code == 200, ok_.text
