"""The associate's task lists: today's focus (value x urgency), every live task by due date, the
daily goal in the store's day, a client's tasks and a team's completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from rapport import clock
from rapport.associates.models import Associate
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.inventory.models import Location
from rapport.tasks import config, focus
from rapport.tasks.models import Task
from rapport.tasks.service import complete, dismiss, raise_tasks, snooze
from tests.factories import ingest, ok
from tests.statements import statements
from tests.tasks.conftest import add_client, candidate

# The fixed clock: 2026-11-23 15:00 UTC, 16:00 in Paris, whose day runs 22 Nov 23:00 - 23 Nov 23:00 UTC.
DAY = timedelta(days=1)


def associate_id(db: Database, code: str = "ANA") -> int:
    with db.read() as s:
        return s.scalars(select(Associate.id).where(Associate.code == code)).one()


def store_id(db: Database, code: str) -> int:
    with db.read() as s:
        return s.scalars(select(Location.id).where(Location.code == code)).one()


def raised(db: Database, customer_id: int, key: str = "manual:1", **extra: Any) -> int:
    """One task for the client, raised through the real guards; returns its id."""
    with db.write() as s:
        out = raise_tasks(s, [candidate(customer_id, key, **extra)])
    assert len(out.created) == 1, out.skipped
    return out.created[0]


def focus_of(db: Database, code: str = "ANA") -> focus.FocusList:
    with db.read() as s:
        return focus.focus_list(s, associate_id(db, code), clock.now())


def titles(views: list[focus.TaskView]) -> list[str]:
    return [v.title for v in views]


# -- the focus list ------------------------------------------------------------------------------


def test_the_focus_list_ranks_by_score_times_time_sensitivity(store: Database) -> None:
    now = clock.now()
    strong = raised(store, add_client(store, "C1"), title="Strong signal", intent=0.9)  # 46 x 1.2 = 55.2
    raised(store, add_client(store, "C2"), title="Overdue", due_at=now - DAY)  # 30 x 1.5 = 45
    raised(store, add_client(store, "C3"), title="Expiring", expires_at=now + timedelta(hours=24))  # 30 x 2.4 = 72
    raised(store, add_client(store, "C4"), title="Weak", intent=0.2, priority=1)  # 13 x 1.2 = 15.6

    found = focus_of(store)

    assert titles(found.tasks) == ["Expiring", "Strong signal", "Overdue", "Weak"]
    first, second = found.tasks[0], found.tasks[1]
    assert (first.value, first.signals) == (72.0, ("due_today", "expiring"))
    assert (second.id, second.score, second.value, second.signals) == (strong, 46, 55.2, ("due_today",))
    assert found.tasks[2].signals == ("overdue",)


def test_a_task_not_yet_due_waits_off_the_focus_list_but_later_today_is_on_it(store: Database) -> None:
    now = clock.now()
    raised(store, add_client(store, "C1"), title="Tonight", due_at=now + timedelta(hours=5))  # 20:00 UTC, 21:00 Paris
    raised(store, add_client(store, "C2"), title="Tomorrow", due_at=now + DAY, expires_at=now + 5 * DAY)

    found = focus_of(store)

    assert titles(found.tasks) == ["Tonight"]
    assert found.live_total == 2


def test_the_stores_team_queue_is_ranked_in_and_other_stores_queues_are_not(store: Database) -> None:
    raised(store, add_client(store, "C1"), title="Mine")
    raised(store, add_client(store, "C2", assigned_associate=None), title="Paris team", intent=0.9)
    raised(store, add_client(store, "C3", assigned_associate=None, home_store="NYC"), title="New York team")

    found = focus_of(store)

    assert titles(found.tasks) == ["Paris team", "Mine"]
    assert [t.team_queue for t in found.tasks] == [True, False]


def test_the_focus_list_holds_at_most_the_retailers_focus_size(store: Database) -> None:
    for n in range(4):
        raised(store, add_client(store, f"C{n}"), title=f"Task {n}", intent=0.1 * (n + 1))
    with store.write() as s:
        config.update(s, "focus", params={"size": 2}, by="test")

    found = focus_of(store)

    assert titles(found.tasks) == ["Task 3", "Task 2"]
    assert found.live_total == 4


def test_another_associates_tasks_and_closed_or_expired_ones_are_not_on_my_list(store: Database) -> None:
    ok(ingest(store, "associates", {"code": "BEA", "email": "bea@maison.example", "display_name": "Bea",
                                    "home_store": "PAR"}))  # fmt: skip
    now = clock.now()
    raised(store, add_client(store, "C1", assigned_associate="BEA"), title="Bea's")
    done = raised(store, add_client(store, "C2"), title="Done already")
    raised(store, add_client(store, "C3"), title="Expired unswept", due_at=now - 3 * DAY, expires_at=now - DAY)
    raised(store, add_client(store, "C4"), title="Still to do")
    with store.write() as s:
        complete(s, s.get(Task, done), outcome="contacted", by=associate_id(store))

    assert titles(focus_of(store).tasks) == ["Still to do"]
    assert titles(focus_of(store, "BEA").tasks) == ["Bea's"]


def test_only_active_clients_tasks_are_shown(store: Database) -> None:
    gone = add_client(store, "C1")
    raised(store, gone, title="Of a client since erased")
    raised(store, add_client(store, "C2"), title="Of an active client")
    with store.write() as s:
        s.execute(update(Customer).where(Customer.id == gone).values(status="erased"))

    assert titles(focus_of(store).tasks) == ["Of an active client"]
    assert focus_of(store).live_total == 1


def test_a_snoozed_task_leaves_the_focus_list_until_its_time_comes_even_before_the_sweep(store: Database, fixed_clock):
    task = raised(store, add_client(store, "C1"), title="Call back")
    with store.write() as s:
        snooze(s, s.get(Task, task), until=clock.now() + timedelta(hours=2))
    assert focus_of(store).tasks == []

    fixed_clock.advance(timedelta(hours=3))

    (back,) = focus_of(store).tasks
    assert (back.id, back.status, back.snoozed_until) == (task, "open", None)


def test_the_focus_list_reads_in_a_fixed_number_of_statements(store: Database) -> None:
    ana = associate_id(store)
    raised(store, add_client(store, "C1"))
    with store.read() as s, statements(store) as few:
        focus.focus_list(s, ana)
    for n in range(2, 8):
        raised(store, add_client(store, f"C{n}"), title=f"Task {n}")
    with store.read() as s, statements(store) as many:
        found = focus.focus_list(s, ana)
    assert len(found.tasks) == 5
    # the workday (2), the settings, the tasks with their clients, the live count, the goal
    assert len(many) == len(few) == 6


# -- the full list -------------------------------------------------------------------------------


def test_the_full_list_groups_live_tasks_by_when_they_are_due_and_keeps_snoozed_apart(store: Database) -> None:
    now = clock.now()
    raised(store, add_client(store, "C1"), title="Overdue", due_at=now - 2 * DAY)
    raised(store, add_client(store, "C2"), title="Today")
    raised(store, add_client(store, "C3"), title="This week", due_at=now + 3 * DAY, expires_at=now + 10 * DAY)
    raised(store, add_client(store, "C4"), title="Later", due_at=now + 10 * DAY, expires_at=now + 20 * DAY)
    sleeper = raised(store, add_client(store, "C5"), title="Snoozed")
    with store.write() as s:
        snooze(s, s.get(Task, sleeper), until=now + 2 * DAY)

    with store.read() as s:
        found = focus.task_list(s, associate_id(store), now)

    assert {name: titles(views) for name, views in found.groups.items()} == {
        "overdue": ["Overdue"], "today": ["Today"], "week": ["This week"], "later": ["Later"],
    }  # fmt: skip
    (snoozed,) = found.snoozed
    assert (snoozed.title, snoozed.snoozed_until) == ("Snoozed", now + 2 * DAY)
    assert found.total == 5 and not found.truncated


def test_due_today_and_overdue_tasks_are_listed_worth_most_first(store: Database) -> None:
    raised(store, add_client(store, "C1"), title="Small", intent=0.1)
    raised(store, add_client(store, "C2"), title="Big", intent=0.9)
    with store.read() as s:
        found = focus.task_list(s, associate_id(store))
    assert titles(found.groups["today"]) == ["Big", "Small"]


# -- the daily goal ------------------------------------------------------------------------------


def test_the_goal_counts_tasks_i_completed_in_the_stores_day_not_dismissed_ones(store: Database, fixed_clock):
    ana = associate_id(store)
    ids = [raised(store, add_client(store, f"C{n}"), title=f"Task {n}") for n in range(4)]
    # 22:30 UTC on 22 Nov is 23:30 in Paris: yesterday there.
    fixed_clock.set(datetime(2026, 11, 22, 22, 30, tzinfo=UTC))
    with store.write() as s:
        complete(s, s.get(Task, ids[0]), outcome="sale", by=ana)
    # 23:30 UTC on 22 Nov is 00:30 on 23 Nov in Paris: today there.
    fixed_clock.set(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    with store.write() as s:
        complete(s, s.get(Task, ids[1]), outcome="no_answer", by=ana)
    fixed_clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    with store.write() as s:
        complete(s, s.get(Task, ids[2]), outcome="contacted", by=ana)
        dismiss(s, s.get(Task, ids[3]), by=ana)

    goal = focus_of(store).goal

    assert (goal.done, goal.target, goal.reached) == (2, 5, False)


def test_the_goal_target_is_the_retailers_daily_goal(store: Database) -> None:
    ana = associate_id(store)
    task = raised(store, add_client(store, "C1"))
    with store.write() as s:
        config.update(s, "focus", params={"daily_goal": 1}, by="test")
        complete(s, s.get(Task, task), outcome="contacted", by=ana)
    goal = focus_of(store).goal
    assert (goal.done, goal.target, goal.reached) == (1, 1, True)


def test_the_workday_follows_the_home_store_timezone(store: Database) -> None:
    with store.read() as s:
        day = focus.workday(s, associate_id(store), clock.now())
        virtual = focus.workday(s, associate_id(store, "MIC"), clock.now())
    assert (day.timezone, day.start, day.end) == (
        "Europe/Paris",
        datetime(2026, 11, 22, 23, tzinfo=UTC),
        datetime(2026, 11, 23, 23, tzinfo=UTC),
    )
    assert day.store_ids == {store_id(store, "PAR")}
    assert (virtual.timezone, virtual.start, virtual.store_ids) == ("UTC", datetime(2026, 11, 23, tzinfo=UTC), set())


# -- a client's tasks ----------------------------------------------------------------------------


def test_a_clients_tasks_are_the_live_ones_and_those_closed_in_the_last_90_days(store: Database, fixed_clock) -> None:
    ana = associate_id(store)
    cid = add_client(store, "C1")
    old = raised(store, cid, "manual:old", title="Long ago", outreach=False)
    with store.write() as s:
        complete(s, s.get(Task, old), outcome="sale", by=ana)
    fixed_clock.advance(timedelta(days=100))
    now = clock.now()
    recent = raised(store, cid, "manual:recent", title="Last week", outreach=False)
    with store.write() as s:
        complete(s, s.get(Task, recent), outcome="contacted", by=ana, note="Loved the scarf")
    raised(store, cid, "manual:live", title="Open one", outreach=False, due_at=now + DAY, expires_at=now + 5 * DAY)
    raised(store, add_client(store, "C2"), title="Someone else's client")

    with store.read() as s:
        found = focus.customer_tasks(s, cid)

    assert titles(found.live) == ["Open one"]
    assert [(v.title, v.outcome, v.outcome_note) for v in found.recent] == [
        ("Last week", "contacted", "Loved the scarf")
    ]


# -- the team's completion -----------------------------------------------------------------------


def test_team_completion_counts_each_associates_outcomes_in_the_period(store: Database, fixed_clock) -> None:
    ok(ingest(store, "associates", {"code": "BEA", "email": "bea@maison.example", "display_name": "Bea",
                                    "home_store": "PAR"}))  # fmt: skip
    ana, bea = associate_id(store), associate_id(store, "BEA")
    now = clock.now()
    since = now - 7 * DAY
    t = {
        n: raised(store, add_client(store, f"C{n}", **extra), title=n, outreach=False, **kw)
        for n, extra, kw in (
            ("sale", {}, {}),
            ("contacted", {}, {}),
            ("dismissed", {}, {}),
            ("late", {}, {"due_at": now - 2 * DAY}),
            ("expired", {}, {"due_at": now - 5 * DAY, "expires_at": now - DAY}),
            ("queue", {"assigned_associate": None}, {}),
            ("bea", {"assigned_associate": "BEA"}, {}),
            ("old", {}, {}),
        )
    }
    with store.write() as s:
        fixed_clock.advance(-10 * DAY)
        complete(s, s.get(Task, t["old"]), outcome="sale", by=ana)  # before the period
        fixed_clock.advance(10 * DAY)
        complete(s, s.get(Task, t["sale"]), outcome="sale", by=ana)
        complete(s, s.get(Task, t["contacted"]), outcome="contacted", by=ana)
        complete(s, s.get(Task, t["queue"]), outcome="contacted", by=ana)  # the team's, done by Ana
        dismiss(s, s.get(Task, t["dismissed"]), by=ana)

    with store.read() as s:
        lines = focus.team_completion(s, [store_id(store, "PAR")], since, now + timedelta(seconds=1))

    by_name = {line.name: line for line in lines}
    assert list(by_name) == ["Ana", "Bea"]
    a = by_name["Ana"]
    assert (a.associate_id, a.open, a.overdue, a.dismissed, a.expired) == (ana, 1, 1, 1, 1)
    assert a.outcomes == {"contacted": 2, "sale": 1, "no_answer": 0, "not_interested": 0}
    assert (a.done, a.completion_rate) == (3, 3 / 5)
    b = by_name["Bea"]
    assert (b.associate_id, b.open, b.done, b.completion_rate) == (bea, 1, 0, None)


def test_team_completion_is_one_grouped_count_whatever_the_team_size(store: Database) -> None:
    paris = store_id(store, "PAR")
    raised(store, add_client(store, "C1"))
    with store.read() as s, statements(store) as few:
        focus.team_completion(s, [paris], clock.now() - 7 * DAY, clock.now())
    for n in range(5):
        code = f"A{n}"
        ok(ingest(store, "associates", {"code": code, "email": f"{code.lower()}@maison.example",
                                        "display_name": code, "home_store": "PAR"}))  # fmt: skip
        raised(store, add_client(store, f"K{n}", assigned_associate=code))
    with store.read() as s, statements(store) as many:
        lines = focus.team_completion(s, [paris], clock.now() - 7 * DAY, clock.now())
    assert len(lines) == 6 and all(line.open == 1 for line in lines)
    assert len(many) == len(few) == 3  # the team, the counts, the names


def test_a_task_snoozed_for_days_wakes_at_nine_in_the_home_stores_timezone(store: Database) -> None:
    from rapport.tasks.actions import wake_at

    with store.read() as s:
        paris = focus.workday(s, associate_id(store), clock.now())
    assert wake_at(paris, 1) == datetime(2026, 11, 24, 8, tzinfo=UTC)  # 09:00 in Paris
    assert wake_at(paris, 7) == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_the_focus_list_is_varied_when_one_kind_of_task_would_fill_it() -> None:
    from types import SimpleNamespace

    from rapport.tasks.focus import _varied

    ranked = [(SimpleNamespace(type=t, id=i),) for i, t in enumerate(["refill"] * 6 + ["birthday", "try_on"])]
    picked = [row[0] for row in _varied(ranked, 5)]
    assert [(t.type, t.id) for t in picked] == [
        ("refill", 0), ("refill", 1), ("refill", 2), ("birthday", 6), ("try_on", 7),
    ]  # fmt: skip
    only_refills = [(SimpleNamespace(type="refill", id=i),) for i in range(6)]
    assert [row[0].id for row in _varied(only_refills, 5)] == [0, 1, 2, 3, 4]  # nothing else waiting: fill up
