"""The demo's first day of next actions: every kind of task, a handful of each, from data a retailer would send.

A fresh demo of a few hundred people, loaded once per engine at the fixed test time (15:00 UTC,
so the demo's day began at midnight). The tasks come from the sweep at the end of the load:
nothing here writes a task, a wish, a signal or an appointment directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from rapport import clock
from rapport.customers.models import TimelineEntry
from rapport.db import Database
from rapport.demo.generator import DemoPlan, DemoReport, anchor_of, load_demo
from rapport.inventory.models import Location, StockSignal
from rapport.tasks.models import Task
from rapport.tasks.rules import RULES
from tests.conftest import TEST_NOW
from tests.demo.test_demo import _empty

PEOPLE = 400
SEED = 31
CATALOGUE = 0.1
#: The four kinds of task the demo's recent stories exist for (the others come from years of history).
STORY_TYPES = ("back_in_stock", "high_intent", "appointment_prep", "welcome")


@dataclass
class Day:
    db: Database
    plan: DemoPlan
    report: DemoReport
    tasks: list[Task]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    db = Database(engine)
    workdir: Path = tmp_path_factory.mktemp(f"demo-tasks-{request.param}")
    _empty(engine)
    with clock.use_clock(clock.FixedClock(TEST_NOW)):
        report = load_demo(
            db, customers=PEOPLE, seed=SEED, catalogue=CATALOGUE, credentials_dir=workdir, parallel=False
        )
    with db.read() as session:
        tasks = list(session.scalars(select(Task).order_by(Task.id)))
        session.expunge_all()
    yield Day(db, DemoPlan(PEOPLE, SEED, anchor=TEST_NOW, catalogue=CATALOGUE), report, tasks)
    _empty(engine)


def test_a_fresh_small_demo_has_at_least_one_task_of_every_type(day: Day) -> None:
    stored = Counter(t.type for t in day.tasks)
    assert {name for name in RULES if stored[name] == 0} == set()
    assert day.report.tasks == {name: stored[name] for name in RULES}


def test_the_recent_stories_give_a_handful_of_tasks_not_a_flood(day: Day) -> None:
    stored = Counter(t.type for t in day.tasks)
    for name in STORY_TYPES:
        assert 1 <= stored[name] <= PEOPLE // 50, name
    assert max(day.report.tasks_per_associate.values()) <= PEOPLE // 10


def test_an_appointment_brief_is_for_tomorrow_in_the_stores_opening_hours(day: Day) -> None:
    tomorrow = anchor_of(TEST_NOW) + timedelta(days=1)
    briefs = [t for t in day.tasks if t.type == "appointment_prep"]
    with day.db.read() as session:
        zones = {name: tz for name, tz in session.execute(select(Location.name, Location.timezone))}
    for task in briefs:
        starts = datetime.fromisoformat(task.facts["starts_at"])
        assert tomorrow <= starts < tomorrow + timedelta(days=1)
        local = starts.astimezone(ZoneInfo(zones[task.facts["store"]]))
        assert 10 <= local.hour <= 18 and local.minute in (0, 30)
        assert "Styling appointment booked" in task.reason and not task.outreach


def test_an_item_back_in_stock_was_counted_back_from_none_through_stock_ingestion(day: Day) -> None:
    restocks = [t for t in day.tasks if t.type == "back_in_stock"]
    with day.db.read() as session:
        signals = {s.id: s.at for s in session.scalars(select(StockSignal).where(StockSignal.kind == "back_in_stock"))}
    assert signals and all(TEST_NOW - timedelta(days=2) < at <= TEST_NOW for at in signals.values())
    assert all(set(t.facts["signal_ids"]) <= set(signals) for t in restocks)
    history = day.plan.history(day.plan.people)
    assert day.report.kinds["stock"].sent == len(day.plan.stock()) + len(history.stock)


def test_a_high_intent_lead_liked_viewed_and_left_it_in_the_basket_within_two_days(day: Day) -> None:
    leads = [t for t in day.tasks if t.type == "high_intent"]
    assert leads
    for task in leads:
        assert task.reason.startswith("Liked the ") and "left it in a cart" in task.reason
        assert TEST_NOW - timedelta(hours=48) <= task.due_at < anchor_of(TEST_NOW)


def test_a_welcome_is_for_a_client_whose_history_began_this_week_in_an_associates_book(day: Day) -> None:
    welcomes = [t for t in day.tasks if t.type == "welcome"]
    assert welcomes
    with day.db.read() as session:
        first_seen = {
            cid: at
            for cid, at in session.execute(
                select(TimelineEntry.customer_id, func.min(TimelineEntry.occurred_at))
                .where(TimelineEntry.customer_id.in_([t.customer_id for t in welcomes]))
                .group_by(TimelineEntry.customer_id)
            )
        }
    for task in welcomes:
        assert task.associate_id == task.facts["associate_id"] and task.facts["how"] == "new"
        assert anchor_of(TEST_NOW) - timedelta(days=10) <= first_seen[task.customer_id] < anchor_of(TEST_NOW)
