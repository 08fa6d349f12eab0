"""Raising tasks: routing, consent, contact pressure, duplicates, merges; and the task life cycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.associates.models import Associate
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord
from rapport.identity.merge import merge_customers, unmerge
from rapport.tasks import config
from rapport.tasks.models import Task
from rapport.tasks.service import complete, dismiss, housekeeping, raise_tasks, snooze
from tests.tasks.conftest import add_client, candidate


def tasks_of(db: Database, customer_id: int | None = None) -> list[Task]:
    with db.read() as s:
        stmt = select(Task).order_by(Task.id)
        if customer_id is not None:
            stmt = stmt.where(Task.customer_id == customer_id)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def ana_id(db: Database) -> int:
    with db.read() as s:
        return s.scalars(select(Associate.id).where(Associate.code == "ANA")).one()


def test_a_task_goes_to_the_clients_associate_on_a_consented_channel(store: Database) -> None:
    cid = add_client(store, "C1", consent={"email": True, "sms": True})
    with store.write() as s:
        out = raise_tasks(s, [candidate(cid)])
    assert len(out.created) == 1
    (task,) = tasks_of(store)
    assert (task.associate_id, task.status, task.channel) == (ana_id(store), "open", "sms")  # sms before email
    assert task.reason == "Asked to be called back about the camel coat"


def test_without_an_assigned_associate_the_task_goes_to_the_home_store_team(store: Database) -> None:
    cid = add_client(store, "C1", assigned_associate=None)
    with store.write() as s:
        raise_tasks(s, [candidate(cid)])
    (task,) = tasks_of(store)
    assert task.associate_id is None and task.location_id is not None


def test_a_client_nobody_looks_after_gets_no_task_and_the_report_says_why(store: Database) -> None:
    cid = add_client(store, "C1", assigned_associate=None, home_store=None)
    with store.write() as s:
        out = raise_tasks(s, [candidate(cid)])
    assert out.created == [] and out.skipped == {"no associate or home store": 1}


def test_raising_the_same_occasion_twice_creates_one_task(store: Database) -> None:
    cid = add_client(store, "C1")
    with store.write() as s:
        first = raise_tasks(s, [candidate(cid), candidate(cid)])
    with store.write() as s:
        again = raise_tasks(s, [candidate(cid)])
    assert len(first.created) == 1 and first.skipped["duplicate"] == 1
    assert again.created == [] and again.skipped["duplicate"] == 1


def test_no_outreach_without_consent_and_never_on_an_opted_out_channel(store: Database) -> None:
    silent = add_client(store, "C1", consent={"email": False, "sms": False})
    sms_out = add_client(store, "C2", consent={"sms": False, "email": True})
    with store.write() as s:
        out = raise_tasks(
            s,
            [
                candidate(silent),
                candidate(sms_out, channel="sms"),
                candidate(sms_out, "manual:2"),
                candidate(silent, "prep:1", outreach=False),  # work in the store needs no consent
            ],
        )
    assert out.skipped == {"no consent": 1, "opted out of sms": 1}
    by_client = {(t.customer_id, t.dedupe_key): t.channel for t in tasks_of(store)}
    assert by_client == {(sms_out, "manual:2"): "email", (silent, "prep:1"): None}


def test_a_client_never_has_more_open_outreach_tasks_than_the_cap(store: Database) -> None:
    cid = add_client(store, "C1")
    with store.write() as s:
        config.update(s, "pressure", params={"max_open_outreach": 2}, by="test")
        out = raise_tasks(s, [candidate(cid, f"manual:{i}", intent=i / 10) for i in range(5)])
    assert len(out.created) == 2 and out.skipped["contact cap"] == 3
    # The strongest signals won the client's two slots.
    assert sorted(t.dedupe_key for t in tasks_of(store)) == ["manual:3", "manual:4"]
    with store.write() as s:
        assert raise_tasks(s, [candidate(cid, "manual:9")]).skipped["contact cap"] == 1


def test_after_a_contact_the_client_cools_down_except_for_urgent_tasks(store: Database, fixed_clock) -> None:
    cid = add_client(store, "C1")
    with store.write() as s:
        raise_tasks(s, [candidate(cid)])
        (task,) = s.scalars(select(Task)).all()
        complete(s, task, outcome="contacted", by=None)
    fixed_clock.advance(timedelta(days=3))
    with store.write() as s:
        out = raise_tasks(s, [candidate(cid, "manual:2"), candidate(cid, "stock:1", urgent=True)])
    assert out.skipped["cool-down"] == 1 and len(out.created) == 1
    fixed_clock.advance(timedelta(days=5))  # 8 days after the contact: past the 7-day cool-down
    with store.write() as s:
        assert len(raise_tasks(s, [candidate(cid, "manual:2")]).created) == 1


def test_a_merged_clients_candidates_go_to_the_survivor_without_duplicates(store: Database) -> None:
    survivor = add_client(store, "C1")
    loser = add_client(store, "C2")
    with store.write() as s:
        raise_tasks(s, [candidate(survivor, "milestone:birthday:2026"), candidate(loser, "milestone:birthday:2026")])
        raise_tasks(s, [candidate(loser, "manual:loser")])
    with store.write() as s:
        merge_customers(s, survivor, loser, reason="same person", actor="test")
    live = [t for t in tasks_of(store) if t.status == "open"]
    assert sorted((t.customer_id, t.dedupe_key) for t in live) == [
        (survivor, "manual:loser"),
        (survivor, "milestone:birthday:2026"),
    ]
    with store.write() as s:  # a rule still holding the old id raises nothing twice
        out = raise_tasks(s, [candidate(loser, "milestone:birthday:2026")])
    assert out.created == [] and out.skipped["duplicate"] == 1


def test_unmerge_gives_each_client_its_own_owner_back(store: Database) -> None:
    survivor = add_client(store, "C1")
    loser = add_client(store, "C2", assigned_associate=None)
    with store.write() as s:
        raise_tasks(s, [candidate(loser, "manual:loser")])
        merged = merge_customers(s, survivor, loser, reason="same person", actor="test")
    (task,) = tasks_of(store)
    assert task.associate_id == ana_id(store)
    with store.write() as s:
        unmerge(s, merged.merge_id, actor="test")
    (task,) = tasks_of(store)
    assert (task.customer_id, task.associate_id) == (loser, None)


def test_life_cycle_done_snoozed_dismissed_expired(store: Database, fixed_clock) -> None:
    cid = add_client(store, "C1")
    with store.write() as s:
        config.update(s, "pressure", params={"max_open_outreach": 5}, by="test")
        raise_tasks(s, [candidate(cid, f"manual:{i}") for i in range(4)])
    with store.write() as s:
        done, snoozed, dismissed, left = s.scalars(select(Task).order_by(Task.dedupe_key)).all()
        complete(s, done, outcome="sale", by=ana_id(store), note="Bought the coat")
        snooze(s, snoozed, until=clock.now() + timedelta(days=2))
        dismiss(s, dismissed, by=None, note="Already called yesterday")
        with pytest.raises(Conflict):
            complete(s, done, outcome="sale", by=None)
        with pytest.raises(InvalidRecord, match="outcome"):
            complete(s, left, outcome="maybe", by=None)
        with pytest.raises(InvalidRecord, match="until"):
            snooze(s, left, until=clock.now() + timedelta(days=30))
    fixed_clock.advance(timedelta(days=3))
    with store.write() as s:
        assert housekeeping(s) == {"woken": 1, "expired": 0, "rerouted": 0}
    fixed_clock.advance(timedelta(days=5))
    with store.write() as s:
        assert housekeeping(s) == {"woken": 0, "expired": 2, "rerouted": 0}
    assert [t.status for t in sorted(tasks_of(store), key=lambda t: t.dedupe_key)] == [
        "done",
        "expired",
        "dismissed",
        "expired",
    ]


def test_rule_settings_are_checked_field_by_field(store: Database) -> None:
    with store.write() as s:
        with pytest.raises(InvalidRecord) as bad:
            config.update(s, "lapsing", params={"factor": 0.5, "colour": "red", "min_orders": "3"}, by="test")
        assert {e.field for e in bad.value.errors} == {"lapsing.factor", "lapsing.colour", "lapsing.min_orders"}
        with pytest.raises(InvalidRecord, match=r"high_intent\.sequence"):
            config.update(s, "high_intent", params={"sequence": ["like"]}, by="test")
        changed = config.update(s, "lapsing", params={"factor": 3.0}, enabled=False, by="test")
    assert changed.params["factor"] == 3.0 and changed.params["min_orders"] == 3 and not changed.enabled


def test_hundreds_of_tasks_at_once_are_written_whole_and_only_once(store: Database) -> None:
    cid = add_client(store, "C1")
    many = [candidate(cid, f"prep:{i}", outreach=False, facts={"n": i}) for i in range(300)]
    with store.write() as s:
        first = raise_tasks(s, many)
    with store.write() as s:
        again = raise_tasks(s, [candidate(cid, f"prep:{i}", outreach=False) for i in range(300)])
    assert len(first.created) == 300 and again.created == [] and again.skipped["duplicate"] == 300
    rows = tasks_of(store)
    assert len(rows) == 300 and {t.facts["n"] for t in rows} == set(range(300))
    assert {(t.status, t.channel, t.associate_id) for t in rows} == {("open", None, ana_id(store))}
