"""Head office's campaigns: drafts, the preview, the launch into associates' lists, cancelling, progress.

The `store` fixture: Paris with Ana, New York, a camel coat at €1,200. Today is 23 November 2026.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate, AuditEvent
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord
from rapport.tasks import campaigns
from rapport.tasks.models import Campaign, Task
from rapport.tasks.service import complete, raise_tasks
from tests.factories import ingest, ok, order
from tests.tasks.conftest import add_client, candidate

HEAD_OFFICE = AuditActor("associate", 99, "associate:Ada Okoro")


def create(db: Database, **values: Any) -> int:
    fields: dict[str, Any] = {
        "name": "Camel week",
        "segment": {"stores": ["PAR"]},
        "message": "Hello {first_name}, the camel coats are in. {associate_name}",
        **values,
    }
    with db.write() as s:
        return campaigns.create_campaign(s, fields, actor=HEAD_OFFICE).id


def preview(db: Database, campaign_id: int) -> campaigns.Preview:
    with db.read() as s:
        return campaigns.preview_campaign(s, campaigns.get(s, campaign_id))


def launch(db: Database, campaign_id: int) -> campaigns.Launched:
    with db.write() as s:
        return campaigns.launch_campaign(s, campaign_id, actor=HEAD_OFFICE)


def campaign_tasks(db: Database, campaign_id: int) -> list[Task]:
    with db.read() as s:
        rows = list(s.scalars(select(Task).where(Task.campaign_id == campaign_id).order_by(Task.customer_id)))
        s.expunge_all()
        return rows


def buys(db: Database, oid: str, client: str, price: str = "1200.00") -> None:
    ok(ingest(db, "orders", order(oid, customer={"source": "pos", "id": client},
                                  lines=[{"sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": price}])))  # fmt: skip


def busy(db: Database, cid: int) -> None:
    """The client already has two open outreach tasks: the contact cap."""
    with db.write() as s:
        raise_tasks(s, [candidate(cid, "manual:1"), candidate(cid, "manual:2")])


def just_contacted(db: Database, cid: int) -> None:
    """An associate reached the client yesterday: the cool-down."""
    with db.write() as s:
        raise_tasks(s, [candidate(cid, "manual:call")])
        task = s.scalars(select(Task).where(Task.customer_id == cid)).one()
        complete(s, task, outcome="contacted", by=None)


@pytest.fixture
def paris(store: Database) -> dict[str, int]:
    """Seven Paris clients: four who can be reached and three who cannot; one New York client."""
    ids = {
        "ana1": add_client(store, "C1", first_name="Alicia", preferences={"colours": ["camel"]}),
        "ana2": add_client(store, "C2", first_name="Bruno"),
        "ana3": add_client(store, "C3", first_name="Chloé"),
        "queue": add_client(store, "C4", first_name="Dora", assigned_associate=None),
        "silent": add_client(store, "C5", consent={"email": False}),
        "capped": add_client(store, "C6"),
        "cooling": add_client(store, "C7"),
        "nyc": add_client(store, "C8", home_store="NYC", assigned_associate=None),
    }
    busy(store, ids["capped"])
    just_contacted(store, ids["cooling"])
    return ids


# -- the preview is what the launch does --------------------------------------------------------------


def test_campaign_preview_counts_equal_launched_tasks(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    seen = preview(store, cid)
    assert (seen.matching, seen.tasks, seen.associates, seen.team_queues) == (7, 4, 1, 1)
    assert seen.refused == {"no consent": 1, "contact cap": 1, "cool-down": 1}
    done = launch(store, cid)
    tasks = campaign_tasks(store, cid)
    assert len(tasks) == seen.tasks == done.campaign.launched_tasks == done.preview.tasks
    assert done.preview.refused == seen.refused
    assert done.campaign.launched_associates == seen.associates
    assert {t.customer_id for t in tasks} == {paris["ana1"], paris["ana2"], paris["ana3"], paris["queue"]}


def test_chunks_do_not_change_the_counts(store: Database, paris: dict[str, int], monkeypatch) -> None:
    whole = preview(store, create(store))
    monkeypatch.setattr(campaigns, "CHUNK", 2)
    cid = create(store, name="Camel week, in small chunks")
    chunked = preview(store, cid)
    assert (chunked.matching, chunked.tasks, chunked.refused) == (whole.matching, whole.tasks, whole.refused)
    assert launch(store, cid).campaign.launched_tasks == whole.tasks == len(campaign_tasks(store, cid))


def test_a_preview_changes_nothing(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    preview(store, cid)
    assert campaign_tasks(store, cid) == []
    with store.read() as s:
        assert campaigns.get(s, cid).status == "draft"


def test_the_preview_names_who_gets_how_many_and_shows_examples(store: Database, paris: dict[str, int]) -> None:
    seen = preview(store, create(store))
    assert [(o.name, o.tasks) for o in seen.per_associate] == [("Ana", 3)]
    assert [(o.name, o.tasks) for o in seen.per_queue] == [("Paris Saint-Honoré team queue", 1)]
    assert len(seen.sample) == 4
    alicia = next(s for s in seen.sample if s.customer_id == paris["ana1"])
    assert (alicia.name, alicia.owner) == ("Alicia C1", "Ana")
    assert alicia.message == "Hello Alicia, the camel coats are in. Ana"


def test_a_campaign_channel_requires_consent_on_it_and_says_how_many_it_leaves_out(store: Database) -> None:
    sms = add_client(store, "C1", consent={"sms": True, "email": True})
    add_client(store, "C2", consent={"email": True})
    add_client(store, "C3", consent={"sms": False, "email": True})
    cid = create(store, channel="sms")
    seen = preview(store, cid)
    assert (seen.matching, seen.without_consent, seen.tasks) == (1, 2, 1)
    launch(store, cid)
    (task,) = campaign_tasks(store, cid)
    assert (task.customer_id, task.channel) == (sms, "sms")


# -- the tasks it raises ------------------------------------------------------------------------------


def test_each_task_says_why_the_client_was_chosen_and_carries_a_personal_message(store: Database) -> None:
    alicia = add_client(store, "C1", first_name="Alicia", preferences={"colours": ["camel", "navy"]})
    buys(store, "O1", "C1", price="2400.00")
    add_client(store, "C2", preferences={"colours": ["camel"]})  # spent nothing
    cid = create(
        store,
        segment={"currency": "EUR", "min_spend": 2000, "preferences": {"colours": ["camel"]}},
        due_in_days=2,
        expires_in_days=10,
    )
    launch(store, cid)
    (task,) = campaign_tasks(store, cid)
    now = clock.now()
    assert (task.customer_id, task.type, task.dedupe_key, task.title) == (alicia, "campaign", f"campaign:{cid}",
                                                                          "Camel week")  # fmt: skip
    assert task.reason == "Head office campaign 'Camel week': spent €2,400 in 12 months; likes camel"
    assert task.suggested_message == "Hello Alicia, the camel coats are in. Ana"
    assert (task.due_at, task.expires_at) == (now + timedelta(days=2), now + timedelta(days=10))
    assert task.facts["campaign_id"] == cid and task.outreach and task.channel == "email"


def test_a_team_queue_task_signs_for_the_store_and_a_missing_name_leaves_no_gap(store: Database) -> None:
    add_client(store, "C1", first_name=None, assigned_associate=None)
    cid = create(store, message="Hello {first_name}, this is {associate_name} at {store_name}.")
    launch(store, cid)
    (task,) = campaign_tasks(store, cid)
    assert task.associate_id is None
    assert task.suggested_message == "Hello, this is the Paris Saint-Honoré team at Paris Saint-Honoré."


def test_launching_twice_is_refused_and_raises_nothing_more(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    first = launch(store, cid)
    with pytest.raises(Conflict, match="already launched"):
        launch(store, cid)
    assert len(campaign_tasks(store, cid)) == first.campaign.launched_tasks == 4


def test_a_launch_is_recorded_with_its_counts(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    launched = launch(store, cid).campaign
    assert launched.status == "launched" and launched.launched_at == clock.now()
    with store.read() as s:
        events = {e.action: e.detail for e in s.scalars(select(AuditEvent))}
    assert events["campaign.launched"]["tasks"] == 4
    assert events["campaign.launched"]["refused"] == {"no consent": 1, "contact cap": 1, "cool-down": 1}
    assert events["campaign.created"]["campaign_id"] == cid


def test_cancelling_dismisses_the_open_tasks_and_keeps_the_done_ones(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    launch(store, cid)
    with store.write() as s:
        first = s.scalars(select(Task).where(Task.campaign_id == cid).order_by(Task.id)).first()
        assert first is not None
        complete(s, first, outcome="sale", by=None)
    with store.write() as s:
        assert campaigns.cancel_campaign(s, cid, actor=HEAD_OFFICE) == 3
    statuses = sorted(t.status for t in campaign_tasks(store, cid))
    assert statuses == ["dismissed", "dismissed", "dismissed", "done"]
    with store.read() as s:
        assert campaigns.get(s, cid).status == "cancelled"
        with pytest.raises(Conflict, match="already cancelled"):
            campaigns.cancel_campaign(s, cid, actor=HEAD_OFFICE)
    with pytest.raises(Conflict):
        launch(store, cid)


def test_progress_counts_tasks_by_status_and_outcome(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    launch(store, cid)
    with store.write() as s:
        a, b, *_ = s.scalars(select(Task).where(Task.campaign_id == cid).order_by(Task.id))
        complete(s, a, outcome="sale", by=None)
        complete(s, b, outcome="no_answer", by=None)
    with store.read() as s:
        seen = campaigns.progress(s, campaigns.get(s, cid))
    assert (seen.tasks, seen.open, seen.done, seen.done_share) == (4, 2, 2, 50)
    assert seen.done_by_outcome == {"sale": 1, "no_answer": 1}
    assert (seen.associates, seen.team_queues) == (1, 1)


# -- drafts -----------------------------------------------------------------------------------------


def test_a_draft_changes_until_it_is_launched(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    with store.write() as s:
        changed = campaigns.update_campaign(s, cid, {"name": "Camel fortnight", "segment": {"tags_any": ["vip"]}},
                                            actor=HEAD_OFFICE)  # fmt: skip
        assert (changed.name, changed.segment, changed.message.startswith("Hello")) == (
            "Camel fortnight", {"tags_any": ["vip"]}, True)  # fmt: skip
    launch(store, cid)
    with store.write() as s, pytest.raises(Conflict, match="only a draft"):
        campaigns.update_campaign(s, cid, {"name": "Too late"}, actor=HEAD_OFFICE)


def test_every_bad_field_is_named_at_once(store: Database) -> None:
    with pytest.raises(InvalidRecord) as caught, store.write() as s:
        campaigns.create_campaign(
            s,
            {"name": " ", "message": "Hi {nickname}", "channel": "fax", "due_in_days": 5, "expires_in_days": 5,
             "segment": {"stores": ["XXX"]}},
            actor=HEAD_OFFICE,
        )  # fmt: skip
    errors = {e.field: e.message for e in caught.value.errors}
    assert errors["name"] == "give the campaign a name"
    assert errors["message"].startswith("unknown field {nickname}; use {first_name}")
    assert errors["channel"].startswith("one of email, sms")
    assert errors["expires_in_days"] == "must be later than the due day (5 days)"
    assert errors["segment.stores"] == "unknown store 'XXX'"


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("Hello {first_name!r}", "unknown field {first_name!r}"),
        ("Hello {first_name:>10}", "unknown field {first_name:>10}"),
        ("Hello {0}", "unknown field {0}"),
        ("Hello {first_name", "expected '}'"),
        ("50% off } today", "'}'"),
    ],
)
def test_a_message_uses_only_known_fields(store: Database, message: str, words: str) -> None:
    with pytest.raises(InvalidRecord) as caught, store.read() as s:
        campaigns.check(s, {"name": "X", "message": message})
    assert words in caught.value.errors[0].message


def test_a_message_may_write_braces_by_doubling_them(store: Database) -> None:
    add_client(store, "C1", first_name="Ada")
    cid = create(store, message="{{VIP}} {first_name}")
    launch(store, cid)
    assert campaign_tasks(store, cid)[0].suggested_message == "{VIP} Ada"


def test_a_campaign_to_an_associate_who_left_goes_to_the_team_queue(store: Database) -> None:
    add_client(store, "C1")
    with store.write() as s:
        s.scalars(select(Associate).where(Associate.code == "ANA")).one().active = False
    cid = create(store)
    seen = preview(store, cid)
    assert (seen.associates, seen.team_queues, seen.tasks) == (0, 1, 1)


def test_campaigns_are_listed_newest_first(store: Database, fixed_clock) -> None:
    first = create(store, name="Spring")
    fixed_clock.advance(timedelta(hours=1))
    second = create(store, name="Summer")
    with store.read() as s:
        assert [c.id for c in campaigns.list_campaigns(s)] == [second, first]
        assert [c.id for c in campaigns.list_campaigns(s, status="launched")] == []
        assert isinstance(campaigns.get(s, first), Campaign)


def test_two_simultaneous_launches_raise_the_tasks_once(pg_db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.factories import seed_reference

    seed_reference(pg_db)
    for n in range(20):
        add_client(pg_db, f"C{n}")
    cid = create(pg_db)

    def attempt() -> str:
        try:
            return f"launched {launch(pg_db, cid).campaign.launched_tasks}"
        except Conflict:
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(lambda _: attempt(), range(2)))
    assert results == ["launched 20", "refused"]
    assert len(campaign_tasks(pg_db, cid)) == 20


# -- from a terminal --------------------------------------------------------------------------------


def cli(*args: str, input: str | None = None) -> Any:
    from typer.testing import CliRunner

    from rapport.cli import app

    return CliRunner().invoke(app, ["campaigns", *args], input=input, env={"COLUMNS": "150"})


def test_the_terminal_lists_previews_and_launches_after_asking(store: Database, paris: dict[str, int]) -> None:
    cid = create(store)
    listed = cli("list")
    assert listed.exit_code == 0 and "Camel week" in listed.output and "Home store PAR" in listed.output
    seen = cli("preview", str(cid))
    assert seen.exit_code == 0, seen.output
    assert "7 clients match; would raise 4 tasks for 1 associates and 1 team queues" in seen.output
    assert "contact cap" in seen.output
    declined = cli("launch", str(cid), input="n\n")
    assert declined.exit_code == 1 and campaign_tasks(store, cid) == []
    done = cli("launch", str(cid), input="y\n")
    assert done.exit_code == 0, done.output
    assert "raised 4 tasks" in done.output and len(campaign_tasks(store, cid)) == 4
    again = cli("launch", str(cid), "--yes")
    assert again.exit_code == 1 and "already launched" in again.output
