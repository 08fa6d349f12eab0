"""Setting a store up over the API: who may, and that what is set governs the free slots."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.appointments import availability
from rapport.associates import tokens
from rapport.db import Database
from tests.appointments.fixtures import PARIS, Shop, at, shop


@pytest.fixture
def world(db: Database) -> Shop:
    return shop(db)


def api(db: Database, *scopes: str) -> TestClient:
    with db.write() as s:
        issued = tokens.create_token(s, "head-office", list(scopes))
    client = TestClient(create_app(), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


def test_hours_a_closure_and_rooms_set_over_the_api_govern_the_slots(db, world):
    office = api(db, "read", "write")
    assert office.put("/api/v1/appointments/stores/PAR/hours",
                      json={"week": {"2": [["14:00", "18:00"]]}}).status_code == 204  # fmt: skip
    with db.read() as session:
        wednesday = availability.free_slots(session, location_id=world.paris, type_id=world.types["alterations"],
                                            day=date(2026, 11, 25))  # fmt: skip
        thursday = availability.free_slots(session, location_id=world.paris, type_id=world.types["alterations"],
                                           day=date(2026, 11, 26))  # fmt: skip
    assert wednesday[0].starts_at == at(PARIS, 2026, 11, 25, 14) and thursday == []
    closure = {"first_day": "2026-11-25", "last_day": "2026-11-25", "reason": "Inventory"}
    assert office.post("/api/v1/appointments/stores/PAR/closures", json=closure).status_code == 201
    with db.read() as session:
        assert availability.free_slots(session, location_id=world.paris, type_id=world.types["alterations"],
                                       day=date(2026, 11, 25)) == []  # fmt: skip
    setup = office.get("/api/v1/appointments/stores/PAR/setup").json()
    assert setup["hours"] == {"2": [["14:00", "18:00"]]} and setup["closures"][0]["reason"] == "Inventory"


def test_bad_set_up_is_refused_naming_the_field(db, world):
    office = api(db, "write")
    bad = office.put("/api/v1/appointments/stores/PAR/hours", json={"week": {"1": [["19:00", "10:00"]]}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"]
    assert office.put("/api/v1/appointments/stores/PAR/settings", json={"rooms": 0}).status_code == 422
    assert office.put("/api/v1/appointments/stores/NOPE/settings", json={"rooms": 2}).status_code == 422


def test_a_read_only_token_cannot_change_the_set_up(db, world):
    assert api(db, "read").put("/api/v1/appointments/stores/PAR/settings", json={"rooms": 3}).status_code == 403


def test_a_closure_and_a_time_off_can_be_removed_and_the_time_is_bookable_again(db, world):
    office = api(db, "read", "write")
    closure = office.post("/api/v1/appointments/stores/PAR/closures",
                          json={"first_day": "2026-11-25", "last_day": "2026-11-25"}).json()["id"]  # fmt: skip
    absence = {"associate": "ANA", "starts_at": "2026-11-26T00:00:00+01:00", "ends_at": "2026-11-27T00:00:00+01:00"}
    away = office.post("/api/v1/appointments/stores/PAR/time-off", json=absence)
    assert away.status_code == 201, away.text
    assert office.delete(f"/api/v1/appointments/stores/PAR/closures/{closure}").status_code == 204
    assert office.delete(f"/api/v1/appointments/stores/PAR/closures/{closure}").status_code == 404
    assert office.delete(f"/api/v1/appointments/stores/PAR/time-off/ANA/{away.json()['id']}").status_code == 204
    with db.read() as session:
        assert availability.free_slots(session, location_id=world.paris, type_id=world.types["alterations"],
                                       day=date(2026, 11, 25))  # fmt: skip
