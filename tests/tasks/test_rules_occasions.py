"""Rules for dates: milestones coming up, appointments to prepare, clients new in a book.

Now is Monday 23 November 2026, 15:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from rapport.clientbook.service import assign_unassigned
from rapport.db import Database
from rapport.tasks import config
from rapport.tasks.rules import upcoming_dates
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, ahead, buy, midnight_utc, signal, sweep, tasks_of, the_task

# --- milestone ----------------------------------------------------------------------------------


def test_an_anniversary_within_the_week_is_raised_with_its_date_due_a_few_days_before(store: Database) -> None:
    cid = add_client(
        store, "C1", milestones=[{"kind": "anniversary", "label": "Wedding anniversary", "date": "2010-11-28"}]
    )
    report = sweep(store, "milestone")
    task = the_task(store, "milestone")
    assert report.types["milestone"].created == 1
    assert task.customer_id == cid
    assert task.title == "Wedding anniversary on 28 Nov (16 years)"
    assert task.reason == "Wedding anniversary on 28 Nov (16 years)"
    assert task.dedupe_key == "milestone:anniversary:Wedding anniversary:2026"
    assert task.due_at == midnight_utc(2026, 11, 25)  # three days before
    assert task.expires_at == midnight_utc(2026, 11, 30)  # through the day after
    assert task.facts["date"] == "2026-11-28" and task.facts["years"] == 16


def test_a_milestone_beyond_the_window_waits(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "Wedding anniversary", "date": "2010-12-03"}])
    assert sweep(store, "milestone").created == 0
    with store.write() as s:
        config.update(s, "milestone", params={"days_ahead": 10}, by="test")
    sweep(store, "milestone")
    assert the_task(store, "milestone").title == "Wedding anniversary on 3 Dec (16 years)"


def test_the_reason_says_what_they_bought_for_it_last_year(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    buy(store, "C1", "O-GIFT", at=datetime(2025, 11, 20, 11, tzinfo=UTC))
    buy(store, "C1", "O-OTHER", at=datetime(2025, 6, 1, 11, tzinfo=UTC), sku="SCARF-SILK", price="45.50")
    sweep(store, "milestone")
    task = the_task(store, "milestone")
    assert task.reason == "Anniversary on 28 Nov; bought Camel wool coat (M) for it last year (20 Nov 2025)"
    assert task.dedupe_key == "milestone:anniversary::2026"
    assert task.facts["last_year_total"] == "€1,200.00"


def test_the_clients_own_birthday_counts_and_says_their_age(store: Database) -> None:
    add_client(store, "C1", birth_date="1986-11-26")
    sweep(store, "milestone")
    task = the_task(store, "milestone")
    assert (task.title, task.dedupe_key) == ("Birthday on 26 Nov (turns 40)", "milestone:birthday::2026")
    with store.write() as s:
        config.update(s, "milestone", params={"include_birthday": False}, by="test")
    add_client(store, "C2", birth_date="1990-11-27")
    assert sweep(store, "milestone").created == 0


def test_only_the_configured_kinds_are_raised(store: Database) -> None:
    add_client(store, "C1", milestones=[
        {"kind": "anniversary", "label": "Wedding anniversary", "date": "2010-11-28"},
        {"kind": "child_birthday", "label": "Léa", "date": "2019-11-27"},
    ])  # fmt: skip
    with store.write() as s:
        config.update(s, "milestone", params={"kinds": ["child_birthday"]}, by="test")
    sweep(store, "milestone")
    assert the_task(store, "milestone").title == "Léa's birthday on 27 Nov (turns 7)"


def test_a_january_date_is_raised_in_late_december_for_the_new_year(store: Database, fixed_clock) -> None:
    add_client(store, "C1", milestones=[{"kind": "partner_birthday", "label": "Partner's birthday", "date": "--01-02"}])
    assert sweep(store, "milestone").created == 0  # in November: far off
    fixed_clock.set(datetime(2026, 12, 28, 9, tzinfo=UTC))
    sweep(store, "milestone")
    task = the_task(store, "milestone")
    assert (task.title, task.dedupe_key) == (
        "Partner's birthday on 2 Jan",
        "milestone:partner_birthday:Partner's birthday:2027",
    )
    assert task.due_at == datetime(2026, 12, 30, tzinfo=UTC)


def test_29_february_falls_on_28_february_in_other_years() -> None:
    window = upcoming_dates(date(2027, 2, 25), 7)
    assert window[(2, 29)] == date(2027, 2, 28)
    assert upcoming_dates(date(2028, 2, 25), 7)[(2, 29)] == date(2028, 2, 29)
    assert (3, 5) not in upcoming_dates(date(2027, 2, 25), 7)


def test_a_leap_day_anniversary_is_raised_in_a_common_year(store: Database, fixed_clock) -> None:
    add_client(store, "C1", milestones=[{"kind": "wedding", "label": "", "date": "2008-02-29"}])
    fixed_clock.set(datetime(2027, 2, 24, 9, tzinfo=UTC))
    sweep(store, "milestone")
    assert the_task(store, "milestone").title == "Wedding anniversary on 28 Feb (19 years)"


def test_a_switched_off_rule_raises_nothing(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    with store.write() as s:
        config.update(s, "milestone", enabled=False, by="test")
    report = sweep(store, "milestone")
    assert report.created == 0 and not report.types["milestone"].enabled


# --- appointment preparation --------------------------------------------------------------------


def _appointment(db: Database, client: str, starts: str, key: str, **data: str) -> None:
    signal(db, client, "appointment", at=ago(days=2), key=key, store="PAR", summary="Bridal consultation",
           data={"starts_at": starts, **data})  # fmt: skip


def test_an_appointment_tomorrow_asks_for_the_brief_to_be_prepared_in_the_store(store: Database) -> None:
    cid = add_client(store, "C1", consent={"email": False})  # in-store work: no consent needed
    _appointment(store, "C1", "2026-11-24T14:00:00+01:00", "A1")
    sweep(store, "appointment_prep")
    task = the_task(store, "appointment_prep")
    assert task.customer_id == cid and not task.outreach and task.channel is None
    assert task.title == "Prepare the brief for the 24 Nov at 14:00 appointment"  # Paris time
    assert task.reason.startswith("Appointment on 24 Nov at 14:00 at Paris Saint-Honoré: Bridal consultation;")
    assert task.expires_at == datetime(2026, 11, 24, 13, tzinfo=UTC)
    assert task.dedupe_key.startswith("appointment_prep:")


def test_an_appointment_later_in_the_week_or_cancelled_waits(store: Database) -> None:
    add_client(store, "C1")
    _appointment(store, "C1", "2026-11-27T10:00:00+01:00", "A1")
    _appointment(store, "C1", "2026-11-24T10:00:00+01:00", "A2", status="cancelled")
    _appointment(store, "C1", "2026-11-20T10:00:00+01:00", "A3")  # past
    assert sweep(store, "appointment_prep").created == 0


# --- welcome ------------------------------------------------------------------------------------


def test_a_new_client_who_arrives_with_an_associate_is_welcomed(store: Database) -> None:
    cid = add_client(store, "C1")
    sweep(store, "welcome")
    task = the_task(store, "welcome")
    assert task.customer_id == cid and task.dedupe_key.startswith("welcome:")
    assert task.reason == "New client since 23 Nov, in Ana's client book; introduce yourself"
    assert task.due_at == ahead(days=2) and task.expires_at == ahead(days=14)


def test_a_client_with_years_of_history_imported_with_an_associate_is_not_new(store: Database) -> None:
    add_client(store, "C1")
    buy(store, "C1", "O1", at=ago(days=400))
    assert sweep(store, "welcome").created == 0


def test_a_client_the_client_book_assigns_is_welcomed_by_the_new_associate_once(store: Database) -> None:
    cid = add_client(store, "C1", assigned_associate=None)
    buy(store, "C1", "O1", at=ago(days=200), associate="ANA")
    assert sweep(store, "welcome").created == 0
    with store.write() as s:
        assert assign_unassigned(s).total == 1
    sweep(store, "welcome")
    task = the_task(store, "welcome")
    assert (task.customer_id, task.reason) == (cid, "Joined Ana's client book on 23 Nov; introduce yourself")
    assert sweep(store, "welcome").created == 0
    assert len(tasks_of(store, cid)) == 1
