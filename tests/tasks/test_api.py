"""/api/v1/tasks: who sees and acts on which task, the focus list, manual tasks, the team view, the
rule settings — through the HTTP API as the app and integrations call it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport import clock
from rapport.app import create_app
from rapport.associates import auth, tokens
from rapport.associates.models import AuditEvent
from rapport.db import Database
from rapport.tasks.models import Task
from rapport.tasks.service import raise_tasks
from tests.associates.staff import Team, cheap_hashing, team
from tests.tasks.conftest import add_client, candidate
from tests.web.conftest import signed_in

ANA, BEN, MAX, ADA, MIA = (f"{n}@maison.example" for n in ("ana", "ben", "max", "ada", "mia"))
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@dataclass
class Shop:
    db: Database
    team: Team
    app: Any

    def as_(self, email: str) -> Caller:
        client = TestClient(self.app, follow_redirects=False)
        return Caller(client, signed_in(client, email))

    def token(self, *scopes: str) -> Caller:
        with self.db.write() as s:
            issued = tokens.create_token(s, "crm", list(scopes))
        client = TestClient(self.app, follow_redirects=False)
        client.headers["Authorization"] = f"Bearer {issued.token}"
        return Caller(client, None)

    def task(self, ext: str, key: str = "manual:1", client: dict[str, Any] | None = None, **extra: Any) -> int:
        cid = add_client(self.db, ext, **(client or {}))
        with self.db.write() as s:
            out = raise_tasks(s, [candidate(cid, key, **extra)])
        assert len(out.created) == 1, out.skipped
        return out.created[0]


@dataclass
class Caller:
    http: TestClient
    csrf: str | None

    def get(self, url: str, **params: Any) -> Any:
        return self.http.get(url, params=params)

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        headers = {auth.CSRF_HEADER: self.csrf} if self.csrf else {}
        return self.http.post(url, json=body if body is not None else {}, headers=headers)

    def patch(self, url: str, body: dict[str, Any]) -> Any:
        headers = {auth.CSRF_HEADER: self.csrf} if self.csrf else {}
        return self.http.patch(url, json=body, headers=headers)


@pytest.fixture
def shop(db: Database) -> Shop:
    return Shop(db, team(db), create_app())


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["tasks"]]


def audited(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        s.expunge_all()
        return rows


# -- listing -------------------------------------------------------------------------------------


def test_an_associate_lists_their_own_tasks_and_their_stores_team_queue(shop: Shop) -> None:
    mine = shop.task("C1", title="Mine")
    queue = shop.task("C2", client={"assigned_associate": None}, title="Paris team")
    shop.task("C3", client={"assigned_associate": "BEN", "home_store": "NYC"}, title="Ben's")
    shop.task("C4", client={"assigned_associate": None, "home_store": "NYC"}, title="New York team")

    assert ids(shop.as_(ANA).get("/api/v1/tasks")) == [mine, queue]


def test_a_manager_lists_the_stores_tasks_and_head_office_and_read_tokens_every_task(shop: Shop) -> None:
    tasks = [
        shop.task("C1"),
        shop.task("C2", client={"assigned_associate": None}),
        shop.task("C3", client={"assigned_associate": "BEN", "home_store": "NYC"}),
    ]
    assert ids(shop.as_(MAX).get("/api/v1/tasks")) == tasks[:2]
    assert ids(shop.as_(ADA).get("/api/v1/tasks")) == tasks
    assert ids(shop.token("read").get("/api/v1/tasks")) == tasks
    assert shop.token("ingest").get("/api/v1/tasks").status_code == 403
    assert TestClient(shop.app).get("/api/v1/tasks").status_code == 401


def test_the_list_filters_by_client_status_type_and_due_date(shop: Shop) -> None:
    now = clock.now()
    today = shop.task("C1", title="Today")
    later = shop.task("C2", title="Later", due_at=now + 3 * DAY, expires_at=now + 9 * DAY, type="lapsing")
    ana = shop.as_(ANA)
    with shop.db.read() as s:
        customer = s.get(Task, later)
        assert customer is not None
        later_client = customer.customer_id

    assert ids(ana.get("/api/v1/tasks", customer_id=later_client)) == [later]
    assert ids(ana.get("/api/v1/tasks", type="lapsing")) == [later]
    assert ids(ana.get("/api/v1/tasks", due_before="2026-11-24")) == [today]
    assert ids(ana.get("/api/v1/tasks", status="open")) == [today, later]
    assert ids(ana.get("/api/v1/tasks", status="done")) == []


def test_the_list_pages_with_a_cursor(shop: Shop) -> None:
    now = clock.now()
    made = [shop.task(f"C{n}", due_at=now + n * timedelta(hours=1)) for n in range(5)]
    ana = shop.as_(ANA)
    first = ana.get("/api/v1/tasks", limit=2).json()
    second = ana.get("/api/v1/tasks", limit=2, cursor=first["next_cursor"]).json()
    third = ana.get("/api/v1/tasks", limit=2, cursor=second["next_cursor"]).json()
    assert [t["id"] for page in (first, second, third) for t in page["tasks"]] == made
    assert third["next_cursor"] is None


def test_bad_list_filters_are_refused_naming_the_field(shop: Shop) -> None:
    ana = shop.as_(ANA)
    for params, field in (({"status": "finished"}, "status"), ({"type": "party"}, "type"),
                          ({"due_before": "soon"}, "due_before"), ({"cursor": "nope"}, "cursor")):  # fmt: skip
        response = ana.get("/api/v1/tasks", **params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field


def test_an_associate_may_not_list_a_colleagues_tasks(shop: Shop) -> None:
    response = shop.as_(ANA).get("/api/v1/tasks", associate_id=shop.team.ben)
    assert response.status_code == 403


# -- the focus list ------------------------------------------------------------------------------


def test_the_focus_endpoint_answers_my_best_tasks_and_my_goal(shop: Shop) -> None:
    now = clock.now()
    shop.task("C1", title="Weak", intent=0.1)
    shop.task("C2", title="Expiring", expires_at=now + timedelta(hours=20))
    shop.task("C3", title="Not yet", due_at=now + 2 * DAY, expires_at=now + 9 * DAY)

    body = shop.as_(ANA).get("/api/v1/tasks/focus").json()

    assert [t["title"] for t in body["tasks"]] == ["Expiring", "Weak"]
    assert body["tasks"][0]["signals"] == ["due_today", "expiring"] and body["tasks"][0]["value"] == 72.0
    assert body["goal"] == {"done": 0, "target": 5, "reached": False}
    assert (body["associate_id"], body["live_total"], body["timezone"]) == (shop.team.ana, 3, "UTC")


def test_a_manager_reads_a_team_members_focus_but_a_colleague_may_not(shop: Shop) -> None:
    shop.task("C1")
    assert shop.as_(MAX).get("/api/v1/tasks/focus", associate_id=shop.team.ana).status_code == 200
    assert shop.as_(BEN).get("/api/v1/tasks/focus", associate_id=shop.team.ana).status_code == 403
    token = shop.token("read")
    assert token.get("/api/v1/tasks/focus").status_code == 422
    assert token.get("/api/v1/tasks/focus", associate_id=shop.team.ana).status_code == 200


# -- one task ------------------------------------------------------------------------------------


def test_a_task_is_read_by_its_owner_and_refused_to_another_associate(shop: Shop) -> None:
    task = shop.task("C1", title="Call about the coat")
    mine = shop.as_(ANA).get(f"/api/v1/tasks/{task}")
    assert mine.status_code == 200
    assert (mine.json()["title"], mine.json()["client_name"], mine.json()["status"]) == (
        "Call about the coat", "Client C1", "open"
    )  # fmt: skip
    assert shop.as_(BEN).get(f"/api/v1/tasks/{task}").status_code == 403
    assert shop.as_(ANA).get("/api/v1/tasks/999999").status_code == 404


def test_completing_a_task_records_the_outcome_and_the_audit_row(shop: Shop) -> None:
    task = shop.task("C1")
    ana = shop.as_(ANA)

    done = ana.post(f"/api/v1/tasks/{task}/complete", {"outcome": "sale", "note": "Took the coat in L"})

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["outcome"], body["outcome_note"]) == ("done", "sale", "Took the coat in L")
    assert body["completed_by_id"] == shop.team.ana
    (event,) = audited(shop.db, "task.completed")
    assert (event.actor_id, event.detail["task_id"], event.detail["outcome"]) == (shop.team.ana, task, "sale")
    assert ana.get("/api/v1/tasks/focus").json()["goal"]["done"] == 1


def test_completing_a_done_task_again_is_a_conflict(shop: Shop) -> None:
    task = shop.task("C1")
    ana = shop.as_(ANA)
    assert ana.post(f"/api/v1/tasks/{task}/complete", {"outcome": "contacted"}).status_code == 200
    again = ana.post(f"/api/v1/tasks/{task}/complete", {"outcome": "sale"})
    assert again.status_code == 409 and f"task {task} is already done" in again.json()["detail"]


def test_a_bad_outcome_is_refused_naming_the_field_and_the_task(shop: Shop) -> None:
    task = shop.task("C1")
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/complete", {"outcome": "maybe"})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "outcome" and f"task {task}" in error["message"]


def test_another_associate_may_not_act_on_my_task_but_my_store_shares_the_team_queue(shop: Shop) -> None:
    mine = shop.task("C1")
    queue = shop.task("C2", client={"assigned_associate": None})
    ben = shop.as_(BEN)
    for action, body in (("complete", {"outcome": "sale"}), ("snooze", {"days": 1}), ("dismiss", {})):
        assert ben.post(f"/api/v1/tasks/{mine}/{action}", body).status_code == 403
        assert ben.post(f"/api/v1/tasks/{queue}/{action}", body).status_code == 403
    assert shop.as_(MAX).post(f"/api/v1/tasks/{mine}/snooze", {"days": 1}).status_code == 200
    assert shop.as_(ANA).post(f"/api/v1/tasks/{queue}/complete", {"outcome": "no_answer"}).status_code == 200
    assert shop.as_(ANA).post("/api/v1/tasks/999999/dismiss", {}).status_code == 404


def test_a_signed_in_write_without_the_csrf_header_is_refused(shop: Shop) -> None:
    task = shop.task("C1")
    ana = shop.as_(ANA)
    ana.csrf = None
    assert ana.post(f"/api/v1/tasks/{task}/complete", {"outcome": "sale"}).status_code == 403


def test_a_read_token_reads_but_only_a_write_token_acts(shop: Shop) -> None:
    task = shop.task("C1")
    assert shop.token("read").get(f"/api/v1/tasks/{task}").status_code == 200
    assert shop.token("read").post(f"/api/v1/tasks/{task}/dismiss", {}).status_code == 403
    done = shop.token("write").post(f"/api/v1/tasks/{task}/complete", {"outcome": "contacted"})
    assert done.status_code == 200 and done.json()["completed_by_id"] is None


def test_snoozing_for_days_brings_the_task_back_at_nine_in_the_store(shop: Shop) -> None:
    task = shop.task("C1")
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/snooze", {"days": 1})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["snoozed_until"]) == ("snoozed", "2026-11-24T09:00:00Z")
    (event,) = audited(shop.db, "task.snoozed")
    assert event.detail == {"task_id": task, "until": "2026-11-24T09:00:00+00:00"}


def test_snoozing_until_a_moment(shop: Shop) -> None:
    task = shop.task("C1")
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/snooze", {"until": "2026-11-25T10:00:00+01:00"})
    assert response.json()["snoozed_until"] == "2026-11-25T09:00:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "until"),
        ({"days": 1, "until": "2026-11-25T10:00:00Z"}, "until"),
        ({"until": "2026-11-25T10:00:00"}, "until"),
        ({"until": "2026-11-20T10:00:00Z"}, "until"),
        ({"until": "2026-12-25T10:00:00Z"}, "until"),
        ({"days": 0}, "days"),
        ({"days": 30}, "days"),
    ],
)
def test_a_bad_snooze_is_refused_naming_the_field_and_the_task(shop: Shop, body: dict[str, Any], field: str) -> None:
    task = shop.task("C1")  # expires in 7 days
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/snooze", body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field and f"task {task}" in error["message"]


def test_dismissing_a_task_closes_it_and_is_audited(shop: Shop) -> None:
    task = shop.task("C1")
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/dismiss", {"note": "She moved to Lyon"})
    assert (response.json()["status"], response.json()["outcome_note"]) == ("dismissed", "She moved to Lyon")
    assert [e.detail["task_id"] for e in audited(shop.db, "task.dismissed")] == [task]


def test_acting_on_an_expired_task_is_a_conflict_even_before_the_sweep(shop: Shop) -> None:
    now = clock.now()
    task = shop.task("C1", due_at=now - 3 * DAY, expires_at=now - DAY)
    response = shop.as_(ANA).post(f"/api/v1/tasks/{task}/complete", {"outcome": "sale"})
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert shop.as_(ANA).get(f"/api/v1/tasks/{task}").json()["status"] == "expired"


# -- manual tasks --------------------------------------------------------------------------------


def test_an_associate_creates_a_manual_task_for_a_client_and_it_goes_to_the_clients_associate(shop: Shop) -> None:
    cid = add_client(shop.db, "C1", consent={"email": True})
    body = {"customer_id": cid, "title": "Call about the coat in L", "reason": "Asked to be called"}

    response = shop.as_(ANA).post("/api/v1/tasks", body)

    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["type"], task["associate_id"], task["channel"], task["title"]) == (
        "manual", shop.team.ana, "email", "Call about the coat in L"
    )  # fmt: skip
    assert task["expires_at"] == "2026-12-07T15:00:00Z"
    assert [e.customer_id for e in audited(shop.db, "task.created")] == [cid]


def test_a_manual_task_without_consent_is_refused_with_the_reason(shop: Shop) -> None:
    cid = add_client(shop.db, "C1", consent={"email": False})
    response = shop.as_(ANA).post("/api/v1/tasks", {"customer_id": cid, "title": "Call her"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "outreach", "message": "task not raised: no consent"}]
    in_store = shop.as_(ANA).post("/api/v1/tasks", {"customer_id": cid, "title": "Put the coat aside",
                                                     "outreach": False})  # fmt: skip
    assert in_store.status_code == 201 and in_store.json()["channel"] is None


def test_a_manual_task_past_the_contact_cap_or_with_the_same_key_is_a_conflict(shop: Shop) -> None:
    cid = add_client(shop.db, "C1")
    ana = shop.as_(ANA)
    assert ana.post("/api/v1/tasks", {"customer_id": cid, "title": "One", "key": "k1"}).status_code == 201
    again = ana.post("/api/v1/tasks", {"customer_id": cid, "title": "One", "key": "k1"})
    assert again.status_code == 409 and again.json()["detail"] == "task not raised: duplicate"
    assert ana.post("/api/v1/tasks", {"customer_id": cid, "title": "Two"}).status_code == 201
    third = ana.post("/api/v1/tasks", {"customer_id": cid, "title": "Three"})
    assert third.status_code == 409 and third.json()["detail"] == "task not raised: contact cap"


def test_a_manual_task_for_another_stores_client_or_an_unknown_one_is_refused(shop: Shop) -> None:
    nyc = add_client(shop.db, "C1", assigned_associate="BEN", home_store="NYC")
    ana = shop.as_(ANA)
    assert ana.post("/api/v1/tasks", {"customer_id": nyc, "title": "Hello"}).status_code == 403
    assert ana.post("/api/v1/tasks", {"customer_id": 999999, "title": "Hello"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": " "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Call", "priority": 5}, "priority"),
        ({"title": "Call", "due_at": "2026-11-30T10:00:00Z", "expires_at": "2026-11-29T10:00:00Z"}, "expires_at"),
        ({"title": "Call", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_manual_task_is_refused_naming_the_field(shop: Shop, body: dict[str, Any], field: str) -> None:
    cid = add_client(shop.db, "C1")
    response = shop.as_(ANA).post("/api/v1/tasks", {"customer_id": cid, **body})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


# -- the team view -------------------------------------------------------------------------------


def test_a_manager_reads_the_completion_of_their_stores_team(shop: Shop) -> None:
    task = shop.task("C1")
    shop.task("C2", "manual:2")
    shop.as_(ANA).post(f"/api/v1/tasks/{task}/complete", {"outcome": "sale"})

    body = shop.as_(MAX).get("/api/v1/tasks/team").json()

    assert [s["code"] for s in body["stores"]] == ["PAR"]
    lines = {line["name"]: line for line in body["associates"]}
    assert set(lines) == {"Ana Duval", "Max Laurent"}
    ana = lines["Ana Duval"]
    assert (ana["open"], ana["done"], ana["outcomes"]["sale"], ana["completion_rate"]) == (1, 1, 1, 1.0)


def test_the_team_view_is_for_managers_of_the_store_and_head_office(shop: Shop) -> None:
    assert shop.as_(ANA).get("/api/v1/tasks/team").status_code == 403
    assert shop.as_(MAX).get("/api/v1/tasks/team", location="NYC").status_code == 403
    nyc = shop.as_(ADA).get("/api/v1/tasks/team", location="NYC")
    assert nyc.status_code == 200 and [s["code"] for s in nyc.json()["stores"]] == ["NYC"]
    assert [line["name"] for line in nyc.json()["associates"]] == ["Ben Carter"]
    unknown = shop.as_(ADA).get("/api/v1/tasks/team", location="ZZZ")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "location"
    backwards = shop.as_(ADA).get("/api/v1/tasks/team", since="2026-11-20", until="2026-11-10")
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "until"


# -- the rule settings ---------------------------------------------------------------------------


def test_anyone_reads_the_rules_and_only_head_office_changes_them(shop: Shop) -> None:
    rules = {r["name"]: r for r in shop.as_(ANA).get("/api/v1/tasks/rules").json()}
    assert rules["focus"]["params"] == {"size": 5, "daily_goal": 5} and rules["focus"]["changed"] == []
    assert shop.as_(ANA).get("/api/v1/tasks/rules/nonsense").status_code == 404

    assert shop.as_(MAX).patch("/api/v1/tasks/rules/focus", {"params": {"size": 3}}).status_code == 403
    assert shop.token("write").patch("/api/v1/tasks/rules/focus", {"params": {"size": 3}}).status_code == 403
    changed = shop.as_(ADA).patch("/api/v1/tasks/rules/focus", {"params": {"size": 3}})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["params"]["size"], changed.json()["changed"]) == (3, ["size"])
    assert shop.as_(ANA).get("/api/v1/tasks/rules/focus").json()["params"]["size"] == 3
    (event,) = audited(shop.db, "task_rule.updated")
    assert event.detail == {"rule": "focus", "params": {"size": 3}} and event.actor_id == shop.team.ada


def test_a_bad_rule_change_names_the_parameter(shop: Shop) -> None:
    ada = shop.as_(ADA)
    response = ada.patch("/api/v1/tasks/rules/focus", {"params": {"size": 0}})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "focus.size"
    off = ada.patch("/api/v1/tasks/rules/focus", {"enabled": False})
    assert off.status_code == 422 and off.json()["errors"][0]["field"] == "focus.enabled"
    assert ada.patch("/api/v1/tasks/rules/lapsing", {"enabled": False}).json()["enabled"] is False


# -- the contract --------------------------------------------------------------------------------


def test_every_task_route_is_documented_in_openapi(shop: Shop) -> None:
    paths = TestClient(shop.app).get("/api/v1/openapi.json").json()["paths"]
    expected = {
        "/api/v1/tasks": {"get", "post"},
        "/api/v1/tasks/focus": {"get"},
        "/api/v1/tasks/team": {"get"},
        "/api/v1/tasks/rules": {"get"},
        "/api/v1/tasks/rules/{name}": {"get", "patch"},
        "/api/v1/tasks/{task_id}": {"get"},
        "/api/v1/tasks/{task_id}/complete": {"post"},
        "/api/v1/tasks/{task_id}/snooze": {"post"},
        "/api/v1/tasks/{task_id}/dismiss": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            assert paths[path][method].get("summary"), (path, method)


def test_times_come_back_in_utc(shop: Shop) -> None:
    task = shop.task("C1")
    body = shop.as_(ANA).get(f"/api/v1/tasks/{task}").json()
    assert datetime.fromisoformat(body["due_at"]) == datetime(2026, 11, 23, 15, tzinfo=UTC)
