"""The templates API: store managers and head office write, associates read, tokens by ``outreach:*`` scope.

The team (tests/associates/staff.py): Ana (associate, Paris), Max (store manager, Paris), Ada (head
office). Alicia is a Paris client in Ana's book who has bought nothing yet.
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
from rapport.outreach import templates_api
from tests.associates.staff import Team, cheap_hashing
from tests.associates.staff import team as staff
from tests.web.conftest import signed_in
from tests.web.shop import client

ANA, MAX, ADA = "ana@maison.example", "max@maison.example", "ada@maison.example"
SID = "HX" + "0123456789abcdef" * 2
BACK_IN_STOCK = {
    "name": "Back in stock",
    "channel": "sms",
    "body": "Good news, {first_name}: the {product} you loved is back. {product_link} {associate_first_name}",
}


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def people(db) -> Team:
    return staff(db)


@pytest.fixture
def alicia(db, people) -> int:
    return client(db, "alicia", "Alicia", "Moreau", home_store="PAR", associate=ANA)


@pytest.fixture
def app(db, people) -> FastAPI:
    app = create_app()
    app.include_router(templates_api.router, prefix="/api/v1")
    return app


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


def errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_a_store_manager_creates_a_template_and_an_associate_reads_it(app) -> None:
    made = Browser(app, MAX).send("POST", "/api/v1/templates", BACK_IN_STOCK)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["name"], body["channel"], body["active"], body["subject"]) == ("Back in stock", "sms", True, None)
    assert body["fields"] == ["first_name", "associate_first_name", "product", "product_link"]
    ana = Browser(app, ANA)
    listed = ana.get("/api/v1/templates?channel=sms")
    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [body["id"]]
    assert ana.get("/api/v1/templates?channel=email").json() == []
    assert ana.get(f"/api/v1/templates/{body['id']}").json()["body"] == BACK_IN_STOCK["body"]
    fields = ana.get("/api/v1/templates/fields").json()
    assert fields[0] == {"name": "first_name", "marker": "{first_name}", "description": "the client's first name"}


def test_an_associate_cannot_create_change_or_retire_a_template(app) -> None:
    template_id = Browser(app, ADA).send("POST", "/api/v1/templates", BACK_IN_STOCK).json()["id"]
    ana = Browser(app, ANA)
    refused = ana.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "name": "Mine"})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert ana.send("PATCH", f"/api/v1/templates/{template_id}", {"body": "Hi"}).status_code == 403
    assert ana.send("POST", f"/api/v1/templates/{template_id}/retire").status_code == 403
    assert ana.get("/api/v1/templates?include_retired=true").status_code == 403


def test_a_write_from_a_session_without_the_csrf_header_is_refused(app) -> None:
    response = Browser(app, MAX).send("POST", "/api/v1/templates", BACK_IN_STOCK, csrf=False)
    assert response.status_code == 403


def test_tokens_read_with_read_and_write_with_write(db, app) -> None:
    writer = token(db, app, ["outreach:write"])
    made = writer.post("/api/v1/templates", json=BACK_IN_STOCK)
    assert made.status_code == 201 and made.json()["created_by_id"] is None
    reader = token(db, app, ["outreach:read"])
    assert reader.get("/api/v1/templates").status_code == 200
    assert reader.post("/api/v1/templates", json={**BACK_IN_STOCK, "name": "Other"}).status_code == 403
    crm = token(db, app, ["read", "write"])
    assert crm.get("/api/v1/templates").status_code == 200
    feed = token(db, app, ["ingest"])
    assert feed.get("/api/v1/templates").status_code == 403
    assert TestClient(app).get("/api/v1/templates").status_code == 401


def test_validation_errors_name_the_field(app) -> None:
    max_ = Browser(app, MAX)
    too_long = max_.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "body": "a" * 1601})
    assert "at most 1,600 characters for sms" in errors(too_long)["body"]
    unknown = max_.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "body": "Your size: {shoe_size}"})
    assert errors(unknown)["body"].startswith("unknown field {shoe_size}; known: {first_name}")
    subject = max_.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "subject": "Hello"})
    assert errors(subject) == {"subject": "only email templates have a subject"}
    extra = max_.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "colour": "camel"})
    assert "colour" in errors(extra)


def test_a_duplicate_name_is_refused_with_a_clear_message(app) -> None:
    max_ = Browser(app, MAX)
    assert max_.send("POST", "/api/v1/templates", BACK_IN_STOCK).status_code == 201
    again = max_.send("POST", "/api/v1/templates", {**BACK_IN_STOCK, "name": "BACK IN STOCK"})
    assert errors(again) == {"name": "a template named “Back in stock” already exists: pick another name"}


def test_an_approved_whatsapp_template_needs_its_content_sid(app) -> None:
    ada = Browser(app, ADA)
    reopen = {"name": "Reopen", "channel": "whatsapp", "body": "Hello {first_name}", "whatsapp_approved": True}
    assert "Content SID" in errors(ada.send("POST", "/api/v1/templates", reopen))["provider_template_id"]
    bad = ada.send("POST", "/api/v1/templates", {**reopen, "provider_template_id": "HXnot-a-sid"})
    assert "32 hexadecimal digits" in errors(bad)["provider_template_id"]
    good = ada.send("POST", "/api/v1/templates", {**reopen, "provider_template_id": SID})
    assert good.status_code == 201 and good.json()["provider_template_id"] == SID
    on_email = ada.send("POST", "/api/v1/templates", {**reopen, "name": "Mail", "channel": "email"})
    assert "whatsapp_approved" in errors(on_email)


def test_a_manager_changes_then_retires_a_template(app) -> None:
    max_ = Browser(app, MAX)
    template_id = max_.send("POST", "/api/v1/templates", BACK_IN_STOCK).json()["id"]
    changed = max_.send("PATCH", f"/api/v1/templates/{template_id}", {"channel": None, "language": "fr"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["channel"], changed.json()["language"]) == (None, "fr")
    retired = max_.send("POST", f"/api/v1/templates/{template_id}/retire")
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert max_.get("/api/v1/templates").json() == []
    assert [t["id"] for t in max_.get("/api/v1/templates?include_retired=true").json()] == [template_id]
    late = max_.send("PATCH", f"/api/v1/templates/{template_id}", {"body": "Hi"})
    assert late.status_code == 409
    assert max_.send("PATCH", "/api/v1/templates/999", {"body": "Hi"}).status_code == 404


def test_the_composer_previews_what_the_client_receives(app, alicia) -> None:
    ana = Browser(app, ANA)
    seen = ana.send(
        "POST",
        "/api/v1/templates/preview",
        {"body": "Hello {first_name}, enjoying your {last_purchase}? {look_link} {associate_name}",
         "customer_id": alicia, "look_link": "https://rapport.example/r/look1"},
    )  # fmt: skip
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["body"] == "Hello Alicia, enjoying your [last purchase]? https://rapport.example/r/look1 Ana Duval"
    assert body["missing"] == ["last_purchase"]
    assert body["missing_messages"] == ["Alicia has no purchase yet: remove {last_purchase}"]
    assert (body["sms_segments"], body["sms_encoding"], body["length"]) == (1, "GSM-7", len(body["body"]))
    emoji = ana.send("POST", "/api/v1/templates/preview", {"body": "🙂" * 36, "customer_id": alicia}).json()
    assert (emoji["sms_encoding"], emoji["sms_units"], emoji["sms_segments"]) == ("UCS-2", 72, 2)
    unknown = ana.send("POST", "/api/v1/templates/preview", {"body": "{shoe_size}", "customer_id": alicia})
    assert "unknown field {shoe_size}" in errors(unknown)["body"]


def test_a_token_previews_for_a_named_associate(db, app, people, alicia) -> None:
    template_id = Browser(app, MAX).send("POST", "/api/v1/templates", BACK_IN_STOCK).json()["id"]
    reader = token(db, app, ["outreach:read"])
    nobody = reader.post("/api/v1/templates/preview", json={"template_id": template_id, "customer_id": alicia})
    assert errors(nobody) == {"associate_id": "say which associate writes the message"}
    seen = reader.post(
        "/api/v1/templates/preview",
        json={"template_id": template_id, "customer_id": alicia, "associate_id": people.ana,
              "product_link": "https://rapport.example/r/p1"},
    )  # fmt: skip
    assert seen.status_code == 200, seen.text
    assert seen.json()["body"] == "Good news, Alicia: the [product] you loved is back. https://rapport.example/r/p1 Ana"
    assert seen.json()["channel"] == "sms"
