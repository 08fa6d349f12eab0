"""The job queue: enqueue once per key, claim with a lease, finish only while the claim holds.

Every test runs on SQLite and PostgreSQL; the clock stands still unless a test moves it, which is
how leases run out and backoffs elapse.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.db import Database
from rapport.jobs import service
from rapport.jobs.models import Job
from rapport.jobs.service import Claimed, claim, complete, enqueue, enqueue_many, extend, fail, retry
from tests.conftest import TEST_NOW
from tests.statements import statements

A, B = "worker-a", "worker-b"


def job(db: Database, key: str) -> Job:
    with db.read() as session:
        return session.execute(select(Job).where(Job.key == key)).scalar_one()


def add(db: Database, key: str, queue: str = "mail", **kwargs: Any) -> int:
    with db.write() as session:
        return enqueue(session, queue, key, {"key": key}, **kwargs)


def one(db: Database, worker: str = A, queues: tuple[str, ...] = ("mail",), **kwargs: Any) -> Claimed:
    (claimed,) = claim(db, queues, worker, **kwargs)
    return claimed


# -- enqueuing ---------------------------------------------------------------------------------------


def test_an_enqueued_job_is_queued_and_due_now(db: Database) -> None:
    job_id = add(db, "message:1", max_attempts=3)

    queued = job(db, "message:1")
    assert (queued.id, queued.queue, queued.payload, queued.status) == (job_id, "mail", {"key": "message:1"}, "queued")
    assert (queued.run_at, queued.created_at, queued.attempts, queued.max_attempts) == (TEST_NOW, TEST_NOW, 0, 3)
    assert queued.locked_by is None and queued.finished_at is None


def test_enqueuing_the_same_key_twice_makes_one_job_and_keeps_the_first(db: Database) -> None:
    first = add(db, "message:1")
    with db.write() as session:
        again = enqueue(session, "other", "message:1", {"changed": True}, run_at=TEST_NOW + timedelta(hours=1))

    assert again == first
    kept = job(db, "message:1")
    assert (kept.queue, kept.payload, kept.run_at) == ("mail", {"key": "message:1"}, TEST_NOW)
    with db.read() as session:
        assert service.counts(session)["queued"] == 1


def test_enqueuing_a_finished_key_again_does_not_run_it_again(db: Database) -> None:
    add(db, "message:1")
    with db.write() as session:
        assert complete(session, one(db), A)

    add(db, "message:1")

    assert job(db, "message:1").status == "done"
    assert claim(db, ["mail"], A) == []


def test_enqueue_many_inserts_in_one_statement_and_counts_only_new_jobs(db: Database) -> None:
    add(db, "message:2")
    items = [(f"message:{i}", {"n": i}) for i in range(1, 6)] + [("message:1", {"n": "repeated"})]

    with db.write() as session, statements(db) as sent:
        new = enqueue_many(session, "mail", items, run_at=TEST_NOW + timedelta(minutes=5), max_attempts=2)

    assert new == 4
    assert len(sent) == 1
    assert job(db, "message:1").payload == {"n": 1}  # the first of a repeated key wins
    assert job(db, "message:2").run_at == TEST_NOW  # already queued: unchanged
    assert (job(db, "message:5").run_at, job(db, "message:5").max_attempts) == (TEST_NOW + timedelta(minutes=5), 2)


def test_enqueue_many_of_nothing_does_nothing(db: Database) -> None:
    with db.write() as session, statements(db) as sent:
        assert enqueue_many(session, "mail", []) == 0
    assert sent == []


def test_keys_queues_and_attempts_out_of_bounds_are_refused(db: Database) -> None:
    with db.write() as session:
        with pytest.raises(ValueError, match="key"):
            enqueue(session, "mail", "k" * 201, {})
        with pytest.raises(ValueError, match="queue"):
            enqueue(session, "", "message:1", {})
        with pytest.raises(ValueError, match="max_attempts"):
            enqueue(session, "mail", "message:1", {}, max_attempts=0)
        with pytest.raises(ValueError, match="naive"):
            enqueue(session, "mail", "message:1", {}, run_at=TEST_NOW.replace(tzinfo=None))


# -- claiming ----------------------------------------------------------------------------------------


def test_claim_takes_due_jobs_oldest_first_up_to_the_limit(db: Database) -> None:
    for minutes, key in ((3, "c"), (10, "a"), (5, "b"), (1, "d")):
        add(db, key, run_at=TEST_NOW - timedelta(minutes=minutes))

    claimed = claim(db, ["mail"], A, limit=3, lease_seconds=30)

    assert [c.key for c in claimed] == ["a", "b", "c"]
    assert all(c.attempts == 1 and c.max_attempts == 8 and c.payload == {"key": c.key} for c in claimed)
    running = job(db, "a")
    assert (running.status, running.locked_by, running.locked_until) == ("running", A, TEST_NOW + timedelta(seconds=30))
    assert job(db, "d").status == "queued"


def test_claim_takes_only_the_queues_asked_for_oldest_first_across_them(db: Database) -> None:
    add(db, "mail:1", "mail", run_at=TEST_NOW - timedelta(minutes=1))
    add(db, "sms:1", "sms", run_at=TEST_NOW - timedelta(minutes=2))
    add(db, "push:1", "push", run_at=TEST_NOW - timedelta(minutes=3))

    assert [c.key for c in claim(db, ["mail", "sms"], A)] == ["sms:1", "mail:1"]
    assert job(db, "push:1").status == "queued"
    assert claim(db, [], A) == []


def test_a_claim_is_one_select_and_one_update_whatever_the_batch(db: Database) -> None:
    with db.write() as session:
        enqueue_many(session, "mail", [(f"message:{i}", {}) for i in range(50)])

    with statements(db) as sent:
        claimed = claim(db, ["mail", "sms"], A, limit=20)

    assert len(claimed) == 20
    assert [s.lstrip().split()[0].upper() for s in sent] == ["SELECT", "UPDATE"]


def test_a_job_scheduled_for_later_is_not_claimed_before_its_time(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "reminder", run_at=TEST_NOW + timedelta(minutes=10))

    fixed_clock.advance(timedelta(minutes=9, seconds=59))
    assert claim(db, ["mail"], A) == []

    fixed_clock.advance(timedelta(seconds=1))
    assert one(db).key == "reminder"


def test_a_claimed_job_is_not_claimed_again_while_its_lease_runs(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1")
    one(db, A, lease_seconds=60)

    assert claim(db, ["mail"], B) == []
    fixed_clock.advance(timedelta(seconds=60))
    assert claim(db, ["mail"], B) == []  # the lease runs to its last instant


def test_a_job_whose_lease_ran_out_is_claimed_again_and_the_first_worker_can_no_longer_finish_it(
    db: Database, fixed_clock: clock.FixedClock
) -> None:
    add(db, "message:1")
    first = one(db, A, lease_seconds=60)
    fixed_clock.advance(timedelta(seconds=61))  # worker A died, or stalled

    second = one(db, B, lease_seconds=60)

    assert (second.id, second.attempts) == (first.id, 2)
    with db.write() as session:
        assert not complete(session, first, A)
        assert retry(session, first, A, "late") == "lost"
        assert not fail(session, first, A, "late")
        assert not extend(session, first, A, 60)
    assert (job(db, "message:1").status, job(db, "message:1").locked_by) == ("running", B)
    with db.write() as session:
        assert complete(session, second, B)
    assert job(db, "message:1").status == "done"


def test_a_worker_that_claims_its_own_lapsed_job_again_cannot_finish_it_with_the_old_claim(
    db: Database, fixed_clock: clock.FixedClock
) -> None:
    add(db, "message:1")
    old = one(db, A)
    fixed_clock.advance(timedelta(minutes=2))
    new = one(db, A)

    with db.write() as session:
        assert not complete(session, old, A)
        assert complete(session, new, A)


def test_abandoned_jobs_are_claimed_with_due_ones_oldest_first(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "old", run_at=TEST_NOW - timedelta(hours=1))
    one(db, A, lease_seconds=60)
    fixed_clock.advance(timedelta(minutes=5))
    add(db, "new")

    assert [(c.key, c.attempts) for c in claim(db, ["mail"], B)] == [("old", 2), ("new", 1)]


# -- finishing ---------------------------------------------------------------------------------------


def test_a_completed_job_is_done_and_not_claimed_again(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1")
    claimed = one(db)
    fixed_clock.advance(timedelta(seconds=3))

    with db.write() as session:
        assert complete(session, claimed, A)
        assert not complete(session, claimed, A)

    done = job(db, "message:1")
    assert (done.status, done.finished_at, done.attempts, done.locked_until) == (
        "done",
        TEST_NOW + timedelta(seconds=3),
        1,
        None,
    )
    fixed_clock.advance(timedelta(hours=1))
    assert claim(db, ["mail"], B) == []


def test_extending_a_lease_keeps_the_job_from_other_workers(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "import")
    claimed = one(db, A, lease_seconds=60)
    fixed_clock.advance(timedelta(seconds=50))

    with db.write() as session:
        assert extend(session, claimed, A, 120)

    fixed_clock.advance(timedelta(seconds=100))
    assert claim(db, ["mail"], B) == []
    assert job(db, "import").locked_until == TEST_NOW + timedelta(seconds=170)


def test_retry_backs_off_doubling_from_five_seconds_with_jitter(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1")
    for attempt, base in ((1, 5), (2, 10), (3, 20)):
        claimed = one(db)
        assert claimed.attempts == attempt
        with db.write() as session:
            assert retry(session, claimed, A, f"timeout {attempt}") == "queued"
        waiting = job(db, "message:1")
        wait = (waiting.run_at - clock.now()).total_seconds()
        assert base * 0.8 <= wait <= base * 1.2
        assert (waiting.status, waiting.last_error, waiting.locked_by) == ("queued", f"timeout {attempt}", None)
        assert claim(db, ["mail"], A) == []  # not before its time
        fixed_clock.advance(timedelta(seconds=base * 1.2))


def test_backoff_is_capped_at_an_hour() -> None:
    waits = [service.backoff_seconds(attempts) for attempts in (12, 20, 40) for _ in range(20)]
    assert all(3600 * 0.8 <= w <= 3600 * 1.2 for w in waits)
    assert len(set(waits)) > 1  # spread, so jobs that failed together do not all come back together


def test_retry_can_name_its_delay(db: Database) -> None:
    add(db, "message:1")
    with db.write() as session:
        assert retry(session, one(db), A, "quiet hours", delay_seconds=600) == "queued"
    assert job(db, "message:1").run_at == TEST_NOW + timedelta(minutes=10)


def test_retry_stops_after_max_attempts_and_keeps_the_last_error(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1", max_attempts=3)
    statuses = []
    for attempt in range(1, 4):
        with db.write() as session:
            statuses.append(retry(session, one(db), A, f"refused {attempt}"))
        fixed_clock.advance(timedelta(hours=2))

    assert statuses == ["queued", "queued", "failed"]
    failed = job(db, "message:1")
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 3, "refused 3")
    assert failed.finished_at == TEST_NOW + timedelta(hours=4)
    assert claim(db, ["mail"], A) == []


def test_fail_is_final_and_keeps_the_error(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1")
    with db.write() as session:
        assert fail(session, one(db), A, "address refused")

    failed = job(db, "message:1")
    assert (failed.status, failed.last_error, failed.finished_at) == ("failed", "address refused", TEST_NOW)
    fixed_clock.advance(timedelta(days=1))
    assert claim(db, ["mail"], A) == []


def test_a_long_error_is_shortened_to_fit(db: Database) -> None:
    add(db, "message:1")
    with db.write() as session:
        retry(session, one(db), A, "x" * 5000)
    kept = job(db, "message:1").last_error
    assert kept is not None and len(kept) == 1000 and kept.endswith("…")


def test_released_jobs_are_queued_again_without_counting_the_attempt(db: Database) -> None:
    add(db, "message:1")
    add(db, "message:2")
    claimed = claim(db, ["mail"], A)

    with db.write() as session:
        assert service.release(session, claimed, A) == 2

    assert [(job(db, k).status, job(db, k).attempts) for k in ("message:1", "message:2")] == [("queued", 0)] * 2
    assert [c.attempts for c in claim(db, ["mail"], B)] == [1, 1]


# -- cancel and reschedule ---------------------------------------------------------------------------


def test_a_cancelled_job_is_never_claimed(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "reminder", run_at=TEST_NOW + timedelta(hours=1))

    with db.write() as session:
        assert service.cancel(session, "reminder")
        assert not service.cancel(session, "reminder")
        assert not service.cancel(session, "no such job")

    cancelled = job(db, "reminder")
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", TEST_NOW)
    fixed_clock.advance(timedelta(hours=2))
    assert claim(db, ["mail"], A) == []


def test_a_running_job_is_not_cancelled_or_rescheduled(db: Database) -> None:
    add(db, "message:1")
    claimed = one(db)

    with db.write() as session:
        assert not service.cancel(session, "message:1")
        assert not service.reschedule(session, "message:1", TEST_NOW + timedelta(hours=1))
        assert complete(session, claimed, A)


def test_a_rescheduled_job_waits_until_its_new_time(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "message:1")

    with db.write() as session:
        assert service.reschedule(session, "message:1", TEST_NOW + timedelta(hours=8))
        assert not service.reschedule(session, "no such job", TEST_NOW)

    assert claim(db, ["mail"], A) == []
    fixed_clock.advance(timedelta(hours=8))
    assert one(db).key == "message:1"


def test_counts_by_status_for_one_queue_or_all(db: Database) -> None:
    for key, queue in (("m1", "mail"), ("m2", "mail"), ("m3", "mail"), ("s1", "sms")):
        add(db, key, queue)
    with db.write() as session:
        service.cancel(session, "m3")
    claimed = claim(db, ["mail"], A, limit=1)
    with db.write() as session:
        complete(session, claimed[0], A)

    with db.read() as session:
        assert service.counts(session, "mail") == {"queued": 1, "running": 0, "done": 1, "failed": 0, "cancelled": 1}
        assert service.counts(session) == {"queued": 2, "running": 0, "done": 1, "failed": 0, "cancelled": 1}


# -- concurrency -------------------------------------------------------------------------------------


def test_concurrent_claimers_get_disjoint_batches_covering_every_job(db: Database) -> None:
    """Real threads on the real databases: PostgreSQL's claimers skip each other's locked rows,
    SQLite's are serialised."""
    total, threads = 600, 4
    with db.write() as session:
        enqueue_many(session, "mail", [(f"message:{i}", {"i": i}) for i in range(total)])
    start = threading.Barrier(threads)
    taken: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        start.wait()
        try:
            while batch := claim(db, ["mail"], f"worker-{i}", limit=20):
                taken[i].extend(c.id for c in batch)
        except BaseException as exc:  # reported below, with its type
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)

    assert not errors
    every = [job_id for ids in taken for job_id in ids]
    assert len(every) == len(set(every)) == total
    with db.read() as session:
        assert service.counts(session)["running"] == total
        holders = {r.id: r.locked_by for r in session.execute(select(Job.id, Job.locked_by))}
    assert all(holders[job_id] == f"worker-{i}" for i, ids in enumerate(taken) for job_id in ids)
