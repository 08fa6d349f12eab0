"""The sweep: housekeeping, every enabled rule, raised in chunks; idempotent, merge-safe, consent-bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.identity.merge import merge_customers
from rapport.tasks import config
from rapport.tasks.rules import RULES
from rapport.tasks.sweep import generate
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, buy, signal, sweep, tasks_of

ANNIVERSARY = {"kind": "anniversary", "label": "Wedding anniversary", "date": "2010-11-28"}


def _a_busy_client(db: Database, ext: str = "C1", **extra: object) -> int:
    """An anniversary this week, a coat bought 8 days ago and a try-on yesterday."""
    cid = add_client(db, ext, milestones=[ANNIVERSARY], **extra)  # type: ignore[arg-type]
    buy(db, ext, f"{ext}-O1", at=ago(days=8))
    signal(db, ext, "try_on", at=ago(days=1), sku="SCARF-SILK", store="PAR")
    return cid


def test_a_sweep_runs_every_rule_and_reports_per_type(store: Database) -> None:
    _a_busy_client(store)
    with store.write() as s:
        config.update(s, "pressure", params={"max_open_outreach": 5}, by="test")
    report = sweep(store)
    assert list(report.types) == list(RULES)
    assert report.created_by_type() == {
        "back_in_stock": 0, "high_intent": 0, "appointment_prep": 0, "try_on_follow_up": 1, "milestone": 1,
        "replenishment": 0, "post_purchase": 1, "welcome": 1, "lapsing": 0,
    }  # fmt: skip
    assert report.candidates == report.created == 4


def test_a_second_sweep_creates_nothing(store: Database) -> None:
    _a_busy_client(store)
    first = sweep(store)
    again = sweep(store)
    assert first.created > 0
    assert again.created == 0
    assert sum(t.skipped["duplicate"] for t in again.types.values()) == first.created


def test_chunks_of_any_size_give_the_same_tasks(store: Database) -> None:
    for n in range(3):
        _a_busy_client(store, f"C{n}")
    report = generate(store, chunk=2)
    assert report.created == len(tasks_of(store)) > 3
    assert generate(store, chunk=2).created == 0


def test_rules_respect_consent_and_opt_out(store: Database) -> None:
    silent = _a_busy_client(store, "C1", consent={"email": False, "sms": False})
    report = sweep(store)
    assert tasks_of(store, silent) == []
    assert report.types["milestone"].skipped["no consent"] == 1
    signal(store, "C1", "appointment", at=ago(days=3), store="PAR", data={"starts_at": "2026-11-24T10:00:00+00:00"})
    sweep(store)  # preparing an appointment in the store is not reaching out: no consent needed
    assert [t.type for t in tasks_of(store, silent)] == ["appointment_prep"]


def test_a_merged_client_gets_no_duplicate_tasks(store: Database) -> None:
    survivor = add_client(store, "C1", milestones=[ANNIVERSARY])
    loser = add_client(store, "C2", milestones=[ANNIVERSARY])
    assert sweep(store, "milestone").created == 2
    with store.write() as s:
        merge_customers(s, survivor, loser, reason="same person", actor="test")
    assert sweep(store, "milestone").created == 0
    live = [t for t in tasks_of(store) if t.status == "open"]
    assert [(t.customer_id, t.type) for t in live] == [(survivor, "milestone")]


def test_clients_merged_before_the_first_sweep_get_one_task(store: Database) -> None:
    survivor = add_client(store, "C1", milestones=[ANNIVERSARY])
    loser = add_client(store, "C2", milestones=[ANNIVERSARY])
    with store.write() as s:
        merge_customers(s, survivor, loser, reason="same person", actor="test")
    assert sweep(store, "milestone").created == 1
    assert [t.customer_id for t in tasks_of(store)] == [survivor]


def test_only_the_given_types_and_clients(store: Database) -> None:
    one = _a_busy_client(store, "C1")
    _a_busy_client(store, "C2")
    report = generate(store, customer_ids=[one], types=["milestone", "try_on_follow_up"])
    assert list(report.types) == ["try_on_follow_up", "milestone"]  # in sweep order
    assert {(t.customer_id, t.type) for t in tasks_of(store)} == {(one, "milestone"), (one, "try_on_follow_up")}
    assert generate(store, customer_ids=[]).created == 0


def test_an_unknown_type_is_refused_with_the_known_ones(store: Database) -> None:
    with pytest.raises(InvalidRecord, match="unknown task type birthday; known: back_in_stock"):
        generate(store, types=["birthday"])


def test_the_sweep_expires_tasks_whose_occasion_passed(store: Database, fixed_clock) -> None:
    add_client(store, "C1", milestones=[ANNIVERSARY])
    sweep(store, "milestone")
    fixed_clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    report = sweep(store, "milestone")
    assert report.housekeeping == {"woken": 0, "expired": 1, "rerouted": 0}
    assert [t.status for t in tasks_of(store)] == ["expired"]
    fixed_clock.advance(timedelta(days=365 - 8))  # next year's anniversary: a new occasion
    assert sweep(store, "milestone").created == 1
