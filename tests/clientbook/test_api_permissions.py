"""The client book, audit and notification API answer a signed-in associate and a token with the same rules.

The team (tests/associates/staff.py): Ana (associate, Paris), Ben (associate, New York), Mia (online
expert, US), Max (store manager, Paris), Ada (head office). Ana and Ben each have a client.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates import notifications, tokens
from rapport.associates.permissions import Actor
from rapport.clientbook import team
from rapport.clientbook.api import authorize
from rapport.errors import PermissionDenied
from rapport.http import Caller
from rapport.settings import get_settings
from tests.associates.staff import Team, cheap_hashing
from tests.associates.staff import team as staff
from tests.web.conftest import signed_in
from tests.web.shop import assigned_to, client


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def people(db) -> Team:
    return staff(db)


@pytest.fixture
def app(db) -> FastAPI:
    return create_app()


@pytest.fixture
def books(db, people) -> dict[str, int]:
    return {
        "alicia": client(db, "alicia", "Alicia", "Moreau", home_store="PAR", assigned_associate="ana@maison.example"),
        "grace": client(db, "grace", "Grace", "Hopper", home_store="NYC", assigned_associate="ben@maison.example"),
    }


class Session:
    """A browser signed in as someone, calling the JSON API the way the app's screens do."""

    def __init__(self, app: FastAPI, email: str) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.csrf = signed_in(self.client, email)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.client.get(path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, json: object = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.post(path, json=json, headers=headers)


def token_client(db, app: FastAPI, scopes: list[str]) -> tuple[TestClient, int]:
    with db.write() as session:
        issued = tokens.create_token(session, "crm", scopes)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {issued.token}"
    return api, issued.id


# -- reading a book -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "whose", "status"),
    [
        ("ana@maison.example", "ana", 200),
        ("ana@maison.example", "ben", 403),  # another associate's book
        ("mia@maison.example", "ana", 403),
        ("max@maison.example", "ana", 200),  # his team
        ("max@maison.example", "ben", 403),  # another store's team
        ("ada@maison.example", "ben", 200),  # head office
    ],
)
def test_each_role_reads_the_books_it_may(app, people, books, email, whose, status):
    response = Session(app, email).get(f"/api/v1/clientbook/{getattr(people, whose)}")
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["total"] == 1
    else:
        assert response.json()["error"] == "forbidden"


def test_a_token_reads_books_with_the_read_scope_and_not_once_revoked(db, app, people, books):
    reader, token_id = token_client(db, app, ["read"])
    assert reader.get(f"/api/v1/clientbook/{people.ben}").json()["rows"][0]["name"] == "Grace Hopper"
    writer_only, _ = token_client(db, app, ["ingest"])
    assert writer_only.get(f"/api/v1/clientbook/{people.ben}").status_code == 403
    with db.write() as session:
        tokens.revoke_token(session, token_id)
    refused = reader.get(f"/api/v1/clientbook/{people.ben}")
    assert refused.status_code == 401 and refused.json()["detail"] == "invalid or revoked token"


def test_an_expired_session_is_refused(app, people, books, fixed_clock):
    ana = Session(app, "ana@maison.example")
    assert ana.get(f"/api/v1/clientbook/{people.ana}").status_code == 200
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes))
    assert ana.get(f"/api/v1/clientbook/{people.ana}").status_code == 401


def test_the_team_summary_is_the_managers_team(app, people, books):
    body = Session(app, "max@maison.example").get("/api/v1/clientbook/team").json()
    assert [(m["name"], m["book_size"]) for m in body["members"]] == [("Max Laurent", 0), ("Ana Duval", 1)]
    assert body["total_clients"] == 1
    assert [m["name"] for m in Session(app, "ana@maison.example").get("/api/v1/clientbook/team").json()["members"]] == [
        "Ana Duval"
    ]
    everyone = Session(app, "ada@maison.example").get("/api/v1/clientbook/team").json()
    assert {m["name"] for m in everyone["members"]} == {
        "Ada Okoro",
        "Max Laurent",
        "Ana Duval",
        "Ben Carter",
        "Mia Chen",
    }


def test_a_token_has_no_team(db, app, people):
    reader, _ = token_client(db, app, ["read"])
    assert reader.get("/api/v1/clientbook/team").status_code == 403


# -- moving clients -----------------------------------------------------------------------------------


def test_a_manager_moves_a_team_client_with_the_csrf_header_only(db, app, people, books):
    max_ = Session(app, "max@maison.example")
    move = {"from_associate_id": people.ana, "to_associate_id": people.max, "customer_ids": [books["alicia"]]}
    preview = max_.post("/api/v1/clientbook/reassign/preview", move)
    assert preview.status_code == 200 and preview.json()["total"] == 1
    assert max_.post("/api/v1/clientbook/reassign", move, csrf=False).status_code == 403
    assert assigned_to(db, books["alicia"]) == people.ana
    done = max_.post("/api/v1/clientbook/reassign", move)
    assert done.status_code == 200 and done.json()["applied"] is True
    assert assigned_to(db, books["alicia"]) == people.max


@pytest.mark.parametrize(
    ("email", "source", "target"),
    [
        ("ana@maison.example", "ana", "ben"),  # associates move nobody's clients
        ("mia@maison.example", "ana", "mia"),
        ("max@maison.example", "ben", "max"),  # not his team's book
        ("max@maison.example", "ana", "ben"),  # not to another store's associate
    ],
)
def test_moving_clients_outside_ones_team_is_refused(db, app, people, books, email, source, target):
    who = Session(app, email)
    move = {"from_associate_id": getattr(people, source), "to_associate_id": getattr(people, target)}
    for path in ("/api/v1/clientbook/reassign/preview", "/api/v1/clientbook/reassign"):
        assert who.post(path, move).status_code == 403
    assert assigned_to(db, books["alicia"]) == people.ana and assigned_to(db, books["grace"]) == people.ben


def test_head_office_moves_any_book_and_a_read_only_token_none(db, app, people, books):
    move = {"from_associate_id": people.ben, "to_associate_id": people.ana}
    reader, _ = token_client(db, app, ["read"])
    assert reader.post("/api/v1/clientbook/reassign", json=move).status_code == 403
    assert Session(app, "ada@maison.example").post("/api/v1/clientbook/reassign", move).status_code == 200
    assert assigned_to(db, books["grace"]) == people.ana


def test_running_the_assignment_rules_is_for_managers(db, app, people, books):
    assert Session(app, "ana@maison.example").post("/api/v1/clientbook/assign", {"dry_run": True}).status_code == 403
    assert Session(app, "max@maison.example").post("/api/v1/clientbook/assign", {"dry_run": True}).status_code == 200


# -- the audit log and the feed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("ana@maison.example", 403),
        ("mia@maison.example", 403),
        ("max@maison.example", 200),
        ("ada@maison.example", 200),
    ],
)
def test_managers_and_head_office_read_the_audit_log(app, people, email, status):
    assert Session(app, email).get("/api/v1/audit").status_code == status


def test_a_token_reads_the_audit_log_with_the_audit_scope_only(db, app, people):
    reader, _ = token_client(db, app, ["read", "ingest"])
    assert reader.get("/api/v1/audit").status_code == 403
    auditor, _ = token_client(db, app, ["audit"])
    assert auditor.get("/api/v1/audit").status_code == 200


@pytest.fixture
def feeds(db, people) -> dict[str, int]:
    with db.write() as session:
        return {
            "ana": notifications.notify(session, people.ana, "clients_assigned", "New client: Alicia Moreau"),
            "ben": notifications.notify(session, people.ben, "clients_assigned", "New client: Grace Hopper"),
        }


def test_an_associate_reads_and_clears_their_own_feed_only(db, app, people, feeds):
    ana = Session(app, "ana@maison.example")
    mine = ana.get("/api/v1/notifications").json()
    assert mine["associate_id"] == people.ana and [i["title"] for i in mine["items"]] == ["New client: Alicia Moreau"]
    assert ana.get("/api/v1/notifications", params={"associate_id": people.ben}).status_code == 403
    assert ana.post(f"/api/v1/notifications/{feeds['ben']}/read").status_code == 403
    assert ana.post("/api/v1/notifications/read", {"associate_id": people.ben}).status_code == 403
    assert ana.post("/api/v1/notifications/read", {}, csrf=False).status_code == 403
    cleared = ana.post("/api/v1/notifications/read", {})
    assert cleared.status_code == 200 and cleared.json() == {"associate_id": people.ana, "marked": 1, "unread": 0}
    with db.read() as session:
        assert notifications.unread_count(session, people.ben) == 1


def test_a_token_names_the_feed_and_needs_a_writing_scope_to_clear_it(db, app, people, feeds):
    reader, _ = token_client(db, app, ["read"])
    assert reader.get("/api/v1/notifications").status_code == 422  # whose feed?
    assert reader.get("/api/v1/notifications", params={"associate_id": people.ben}).json()["unread"] == 1
    assert reader.post(f"/api/v1/notifications/{feeds['ben']}/read").status_code == 403
    writer, _ = token_client(db, app, ["ingest"])
    assert writer.post(f"/api/v1/notifications/{feeds['ben']}/read").status_code == 200


def test_routes_without_any_credentials_answer_401(app, db):
    anonymous = TestClient(app)
    for method, path in [("get", "/api/v1/clientbook/1"), ("get", "/api/v1/clientbook/team"),
                         ("post", "/api/v1/notifications/read"), ("get", "/api/v1/me/home")]:  # fmt: skip
        assert getattr(anonymous, method)(path).status_code == 401


# -- the rules without HTTP -------------------------------------------------------------------------


def test_the_reassignment_rule_in_memory():
    paris, new_york = 1, 2
    manager = Actor.associate(7, "store_manager", [paris])
    assert team.can_reassign(manager, [paris], [paris]) and team.can_reassign(manager, [paris], None)
    assert not team.can_reassign(manager, [new_york], [paris]) and not team.can_reassign(manager, [paris], [new_york])
    assert team.can_reassign(Actor.associate(1, "admin"), [new_york], [paris])
    assert not team.can_reassign(Actor.associate(3, "associate", [paris]), [paris], [paris])
    assert team.can_reassign(Actor.token(1, ["write"]), [], None) and not team.can_reassign(
        Actor.token(1, ["read"]), [], None
    )


def test_authorize_knows_its_actions():
    with pytest.raises(ValueError, match="unknown action"):
        authorize(Caller("token", 1, "crm", ()), "clientbook.delete")
    with pytest.raises(PermissionDenied):
        authorize(Caller("token", 1, "crm", ("read",)), "audit.read")
