"""The appointments API: an e-commerce site books after an online chat, passing what was said;
free times; moving, cancelling, check-in and outcome; scopes and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import tokens
from rapport.db import Database
from tests.appointments.fixtures import PARIS, Shop, at, shop


@pytest.fixture
def world(db: Database) -> Shop:
    return shop(db)


def integration(db: Database, *scopes: str) -> TestClient:
    with db.write() as s:
        issued = tokens.create_token(s, "web-shop", list(scopes))
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def booking(**extra: Any) -> dict[str, Any]:
    return {
        "store": "PAR", "type": "styling", "starts_at": at(PARIS, 2026, 11, 25, 11).isoformat(),
        "client": {"first_name": "Alicia", "last_name": "Moreau", "email": "alicia@example.com",
                   "consent": ["email"]},
        "reason": "Wedding guest outfit", "products_of_interest": ["COAT-CAMEL-M"], "sizes": {"dresses": "38"},
        "conversation_summary": "Chat: asked if the coat runs large; usually M.",
        "idempotency_key": "chat-session-42", **extra,
    }  # fmt: skip


def test_a_shop_books_after_a_chat_and_the_summary_stays_with_the_appointment(db, world):
    shop_api = integration(db, "read", "write")
    free = shop_api.get("/api/v1/appointments/slots", params={"store": "PAR", "type": "styling", "day": "2026-11-25"})
    assert free.status_code == 200 and free.json()[0]["local_start"].startswith("2026-11-25T10:00:00+01:00")
    made = shop_api.post("/api/v1/appointments", json=booking())
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["client_id"] == world.client and body["booked_via"] == "api" and "/book/manage/" in body["manage_url"]
    again = shop_api.post("/api/v1/appointments", json=booking())
    assert again.json()["id"] == body["id"]
    from rapport.appointments.models import Appointment

    with db.read() as session:
        stored = session.get(Appointment, body["id"])
    assert stored is not None and stored.conversation_summary == "Chat: asked if the coat runs large; usually M."


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"store": "NOPE"}, "store"),
        ({"type": "massage"}, "type"),
        ({"starts_at": at(PARIS, 2026, 11, 25, 22).isoformat()}, "starts_at"),
        ({"client": {"first_name": "Al", "email": "nope"}}, "email"),
        ({"reason": "x" * 2001}, "reason"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_a_bad_booking_gets_a_422_naming_the_field(db, world, change, field):
    response = integration(db, "write").post("/api/v1/appointments", json=booking(**change))
    assert response.status_code == 422, response.text
    assert any(field in e["field"] for e in response.json()["errors"]), response.json()


def test_a_read_only_token_cannot_book(db, world):
    assert integration(db, "read").post("/api/v1/appointments", json=booking()).status_code == 403


def test_move_check_in_and_outcome_through_the_api(db, world, fixed_clock):
    api = integration(db, "read", "write")
    made = api.post("/api/v1/appointments", json=booking()).json()
    moved = api.post(f"/api/v1/appointments/{made['id']}/reschedule",
                     json={"starts_at": at(PARIS, 2026, 11, 25, 14).isoformat()})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["local_start"].startswith("2026-11-25T14:00:00+01:00")
    early = api.post(f"/api/v1/appointments/{made['id']}/outcome", json={"outcome": "purchased"})
    assert early.status_code == 409
    fixed_clock.set(at(PARIS, 2026, 11, 25, 13, 55))
    assert api.post(f"/api/v1/appointments/{made['id']}/check-in").json()["status"] == "checked_in"
    done = api.post(f"/api/v1/appointments/{made['id']}/outcome", json={"outcome": "purchased", "note": "The coat"})
    assert done.json()["status"] == "completed" and done.json()["outcome"] == "purchased"
    assert api.post(f"/api/v1/appointments/{made['id']}/cancel", json={}).status_code == 409
