"""The campaigns API: head office creates and launches, store managers look, associates do neither.

The team (tests/associates/staff.py): Ana (associate, Paris), Max (store manager, Paris), Ada (head
office). Three Paris clients in Ana's book, one of them without consent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import tokens
from tests.associates.staff import Team, cheap_hashing
from tests.associates.staff import team as staff
from tests.web.conftest import signed_in
from tests.web.shop import client

ANA, MAX, ADA = "ana@maison.example", "max@maison.example", "ada@maison.example"
CAMEL = {
    "name": "Camel week",
    "segment": {"stores": ["PAR"], "preferences": {"colours": ["camel"]}},
    "message": "Hello {first_name}, the camel coats are in. {associate_name}",
}


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def people(db) -> Team:
    return staff(db)


@pytest.fixture
def app(db, people) -> FastAPI:
    camel = {"home_store": "PAR", "associate": ANA, "preferences": {"colours": ["camel"]}}
    client(db, "alicia", "Alicia", "Moreau", consent=[{"channel": "email", "granted": True}], **camel)
    client(db, "bruno", "Bruno", "Petit", consent=[{"channel": "sms", "granted": True}], **camel)
    client(db, "chloe", "Chloé", "Martin", **camel)  # no consent anywhere
    return create_app()


class Browser:
    """Someone signed in, calling the JSON API as the app's screens do (CSRF header on writes)."""

    def __init__(self, app: FastAPI, email: str) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.csrf = signed_in(self.client, email)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def send(self, method: str, path: str, json: Any = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.request(method, path, json=json, headers=headers)


def token(db, app: FastAPI, scopes: list[str]) -> TestClient:
    with db.write() as session:
        issued = tokens.create_token(session, "crm", scopes)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {issued.token}"
    return api


def created(app: FastAPI, **changes: Any) -> int:
    response = Browser(app, ADA).send("POST", "/api/v1/campaigns", {**CAMEL, **changes})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_head_office_creates_a_draft_and_reads_it_back_in_words(app) -> None:
    body = Browser(app, ADA).send("POST", "/api/v1/campaigns", CAMEL).json()
    assert (body["status"], body["created_by"], body["progress"]) == ("draft", "associate:Ada Okoro", None)
    assert body["segment"] == CAMEL["segment"]
    assert body["segment_summary"] == ["Home store PAR", "Preference colours: camel"]


def test_campaign_preview_counts_equal_launched_tasks_through_the_api(app) -> None:
    ada = Browser(app, ADA)
    cid = created(app)
    seen = ada.get(f"/api/v1/campaigns/{cid}/preview").json()
    assert (seen["matching"], seen["tasks"], seen["associates"], seen["refused"]) == (3, 2, 1, {"no consent": 1})
    assert [o["name"] for o in seen["per_associate"]] == ["Ana Duval"]
    launched = ada.send("POST", f"/api/v1/campaigns/{cid}/launch").json()
    assert launched["campaign"]["launched_tasks"] == launched["result"]["tasks"] == seen["tasks"]
    assert launched["campaign"]["progress"]["tasks"] == seen["tasks"]
    assert ada.send("POST", f"/api/v1/campaigns/{cid}/launch").status_code == 409


def test_an_associate_can_neither_see_nor_launch_a_campaign(app) -> None:
    cid = created(app)
    ana = Browser(app, ANA)
    assert ana.get("/api/v1/campaigns").status_code == 403
    assert ana.get(f"/api/v1/campaigns/{cid}/preview").status_code == 403
    refused = ana.send("POST", f"/api/v1/campaigns/{cid}/launch")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert ana.send("POST", "/api/v1/campaigns", CAMEL).status_code == 403


def test_a_store_manager_looks_but_does_not_launch_change_or_cancel(app) -> None:
    cid = created(app)
    max_ = Browser(app, MAX)
    assert [c["id"] for c in max_.get("/api/v1/campaigns").json()["campaigns"]] == [cid]
    assert max_.get(f"/api/v1/campaigns/{cid}").json()["name"] == "Camel week"
    assert max_.get(f"/api/v1/campaigns/{cid}/preview").json()["tasks"] == 2
    assert max_.send("POST", f"/api/v1/campaigns/{cid}/launch").status_code == 403
    assert max_.send("PATCH", f"/api/v1/campaigns/{cid}", {"name": "Mine"}).status_code == 403
    assert max_.send("POST", f"/api/v1/campaigns/{cid}/cancel").status_code == 403


def test_tokens_read_with_read_and_manage_with_write(db, app) -> None:
    cid = created(app)
    reader = token(db, app, ["read"])
    assert reader.get(f"/api/v1/campaigns/{cid}/preview").status_code == 200
    assert reader.post(f"/api/v1/campaigns/{cid}/launch").status_code == 403
    writer = token(db, app, ["write"])
    assert writer.post(f"/api/v1/campaigns/{cid}/launch").json()["result"]["tasks"] == 2


def test_a_write_from_the_browser_needs_the_csrf_token(app) -> None:
    response = Browser(app, ADA).send("POST", "/api/v1/campaigns", CAMEL, csrf=False)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"segment": {"stores": ["XXX"]}}, "segment.stores"),
        ({"segment": {"colour": ["camel"]}}, "segment.colour"),
        ({"segment": {"min_spend": 100}}, "segment.min_spend"),
        ({"message": "Hi {nickname}"}, "message"),
        ({"channel": "fax"}, "channel"),
        ({"due_in_days": "soon"}, "due_in_days"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"name": ""}, "name"),
        ({"colour": "camel"}, "colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(app, changes: dict[str, Any], field: str) -> None:
    response = Browser(app, ADA).send("POST", "/api/v1/campaigns", {**CAMEL, **changes})
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()


def test_a_draft_changes_by_patch_and_a_launched_one_does_not(app) -> None:
    ada = Browser(app, ADA)
    cid = created(app)
    changed = ada.send("PATCH", f"/api/v1/campaigns/{cid}", {"name": "Camel fortnight", "channel": "email"}).json()
    assert (changed["name"], changed["channel"], changed["message"]) == ("Camel fortnight", "email", CAMEL["message"])
    assert ada.get(f"/api/v1/campaigns/{cid}/preview").json()["tasks"] == 1  # only Alicia consented to email
    ada.send("POST", f"/api/v1/campaigns/{cid}/launch")
    assert ada.send("PATCH", f"/api/v1/campaigns/{cid}", {"name": "Too late"}).status_code == 409


def test_cancelling_closes_the_open_tasks(app) -> None:
    ada = Browser(app, ADA)
    cid = created(app)
    ada.send("POST", f"/api/v1/campaigns/{cid}/launch")
    body = ada.send("POST", f"/api/v1/campaigns/{cid}/cancel").json()
    assert (body["tasks_closed"], body["campaign"]["status"]) == (2, "cancelled")
    assert body["campaign"]["progress"]["by_status"] == {"dismissed": 2}
    assert ada.send("POST", f"/api/v1/campaigns/{cid}/cancel").status_code == 409


def test_an_unknown_campaign_is_a_404(app) -> None:
    assert Browser(app, ADA).get("/api/v1/campaigns/999/preview").status_code == 404


def test_the_list_filters_by_status(app) -> None:
    ada = Browser(app, ADA)
    draft, launched = created(app), created(app, name="Launched")
    ada.send("POST", f"/api/v1/campaigns/{launched}/launch")
    assert [c["id"] for c in ada.get("/api/v1/campaigns?status=draft").json()["campaigns"]] == [draft]
    assert ada.get("/api/v1/campaigns?status=sent").status_code == 422
