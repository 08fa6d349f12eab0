"""The job runner: claims its handlers' queues, runs each job, retries what raises, stops promptly."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.db import Database
from rapport.jobs import service
from rapport.jobs.models import Job
from rapport.jobs.service import Claimed
from rapport.jobs.worker import Handler, JobRunner
from tests.conftest import TEST_NOW


def job(db: Database, key: str) -> Job:
    with db.read() as session:
        return session.execute(select(Job).where(Job.key == key)).scalar_one()


def add(db: Database, queue: str, *keys: str, run_at: datetime | None = None, max_attempts: int = 8) -> None:
    with db.write() as session:
        for key in keys:
            service.enqueue(session, queue, key, {"key": key}, run_at=run_at, max_attempts=max_attempts)


def completing(seen: list[str]) -> Handler:
    """A handler that notes the job's key and completes it, as a real one would after its work."""

    def handle(db: Database, job: Claimed, worker: str) -> None:
        seen.append(job.key)
        with db.write() as session:
            assert service.complete(session, job, worker)

    return handle


def test_drain_runs_each_job_through_its_queues_handler(db: Database) -> None:
    add(db, "mail", "mail:1", run_at=TEST_NOW - timedelta(minutes=3))
    add(db, "sms", "sms:1", run_at=TEST_NOW - timedelta(minutes=2))
    add(db, "mail", "mail:2", run_at=TEST_NOW - timedelta(minutes=1))
    mails: list[str] = []
    texts: list[str] = []
    runner = JobRunner(lambda: db, {"mail": completing(mails), "sms": completing(texts)}, batch=2)

    assert runner.drain() == 3

    assert (mails, texts) == (["mail:1", "mail:2"], ["sms:1"])
    assert {job(db, k).status for k in ("mail:1", "mail:2", "sms:1")} == {"done"}
    assert job(db, "mail:1").locked_by == runner.worker_id


def test_a_raising_handlers_job_is_retried_with_the_error_recorded(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    add(db, "mail", "message:1")

    def refuse(db: Database, job: Claimed, worker: str) -> None:
        raise ConnectionRefusedError("smtp.example.com:587")

    with caplog.at_level(logging.ERROR, logger="rapport.jobs.worker"):
        assert JobRunner(lambda: db, {"mail": refuse}).drain() == 1

    retried = job(db, "message:1")
    assert retried.status == "queued" and retried.attempts == 1
    assert retried.last_error == "ConnectionRefusedError('smtp.example.com:587')"
    assert TEST_NOW + timedelta(seconds=4) <= retried.run_at <= TEST_NOW + timedelta(seconds=6)
    assert "message:1" in caplog.text and "ConnectionRefusedError" in caplog.text


def test_a_job_that_keeps_raising_fails_for_good_after_its_attempts(
    db: Database, fixed_clock: clock.FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    add(db, "mail", "message:1", max_attempts=2)

    def divide(db: Database, job: Claimed, worker: str) -> None:
        raise ZeroDivisionError("division by zero")

    runner = JobRunner(lambda: db, {"mail": divide})

    with caplog.at_level(logging.CRITICAL):
        assert runner.drain() == 1
        fixed_clock.advance(timedelta(minutes=1))
        assert runner.drain() == 1
        fixed_clock.advance(timedelta(hours=1))
        assert runner.drain() == 0

    failed = job(db, "message:1")
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "ZeroDivisionError('division by zero')")


def test_only_queues_with_a_handler_are_claimed_and_handlers_can_be_added_later(db: Database) -> None:
    add(db, "mail", "mail:1")
    add(db, "sms", "sms:1")
    seen: list[str] = []
    runner = JobRunner(lambda: db, {"mail": completing(seen)})

    assert runner.drain() == 1
    assert job(db, "sms:1").status == "queued"

    runner.handlers["sms"] = completing(seen)
    assert runner.drain() == 1
    assert seen == ["mail:1", "sms:1"]


def test_drain_leaves_jobs_that_are_not_due_yet(db: Database, fixed_clock: clock.FixedClock) -> None:
    add(db, "mail", "later", run_at=TEST_NOW + timedelta(hours=1))
    seen: list[str] = []
    runner = JobRunner(lambda: db, {"mail": completing(seen)})

    assert runner.drain() == 0
    fixed_clock.advance(timedelta(hours=1))
    assert runner.drain() == 1


def test_a_runner_without_handlers_claims_nothing(db: Database) -> None:
    add(db, "mail", "mail:1")
    assert JobRunner(lambda: db, {}).run_once() == 0
    assert job(db, "mail:1").status == "queued"


def test_a_worker_id_names_the_host_and_process(db: Database) -> None:
    runner = JobRunner(lambda: db, {})
    host, pid, tag = runner.worker_id.split(":")
    assert host and pid == str(os.getpid()) and len(tag) == 8
    assert JobRunner(lambda: db, {}).worker_id != runner.worker_id
    assert JobRunner(lambda: db, {}, worker_id="box-1").worker_id == "box-1"


def test_a_long_batch_renews_the_lease_of_each_job_before_it_starts(
    db: Database, fixed_clock: clock.FixedClock
) -> None:
    add(db, "mail", "slow", run_at=TEST_NOW - timedelta(seconds=2))
    add(db, "mail", "next", run_at=TEST_NOW - timedelta(seconds=1))
    leases: dict[str, object] = {}

    def slow(db: Database, claimed: Claimed, worker: str) -> None:
        leases[claimed.key] = job(db, claimed.key).locked_until
        fixed_clock.advance(timedelta(seconds=40))  # most of the lease gone before the next job
        with db.write() as session:
            service.complete(session, claimed, worker)

    JobRunner(lambda: db, {"mail": slow}, lease_seconds=60).drain()

    assert leases == {"slow": TEST_NOW + timedelta(seconds=60), "next": TEST_NOW + timedelta(seconds=100)}
    assert job(db, "next").status == "done"


def test_a_job_taken_over_before_its_turn_in_the_batch_is_left_to_its_new_worker(
    db: Database, fixed_clock: clock.FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    add(db, "mail", "stuck", run_at=TEST_NOW - timedelta(seconds=2))
    add(db, "mail", "next", run_at=TEST_NOW - timedelta(seconds=1))
    seen: list[str] = []

    def stuck(db: Database, claimed: Claimed, worker: str) -> None:
        seen.append(claimed.key)
        fixed_clock.advance(timedelta(seconds=61))  # the whole lease gone: another worker steps in
        (taken,) = service.claim(db, ["mail"], "worker-b", limit=1)
        assert taken.key == "stuck"  # oldest first; "next" is left for the second claim
        assert [c.key for c in service.claim(db, ["mail"], "worker-b")] == ["next"]

    with caplog.at_level(logging.WARNING, logger="rapport.jobs.worker"):
        JobRunner(lambda: db, {"mail": stuck}, lease_seconds=60).run_once()

    assert seen == ["stuck"]
    assert job(db, "next").locked_by == "worker-b"
    assert "taken over" in caplog.text


def test_run_finishes_the_job_in_hand_when_stopped_and_gives_back_the_rest(db: Database) -> None:
    add(db, "mail", "m1", "m2", "m3")
    stop = threading.Event()
    seen: list[str] = []
    done = completing(seen)

    def handle(db: Database, claimed: Claimed, worker: str) -> None:
        stop.set()  # asked to stop while this job runs
        done(db, claimed, worker)

    JobRunner(lambda: db, {"mail": handle}).run(stop)

    assert seen == ["m1"]
    assert [(job(db, k).status, job(db, k).attempts) for k in ("m1", "m2", "m3")] == [
        ("done", 1),
        ("queued", 0),
        ("queued", 0),
    ]


def test_run_stops_promptly_when_the_event_is_set(db: Database) -> None:
    runner = JobRunner(lambda: db, {"mail": completing([])}, poll_seconds=30)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    time.sleep(0.1)  # now waiting out its poll interval

    began = time.monotonic()
    stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert time.monotonic() - began < 2  # not the 30 s poll interval


def test_wake_makes_a_waiting_runner_look_now(db: Database) -> None:
    seen: list[str] = []
    handled = threading.Event()
    complete = completing(seen)

    def handle(db: Database, claimed: Claimed, worker: str) -> None:
        complete(db, claimed, worker)
        handled.set()

    runner = JobRunner(lambda: db, {"mail": handle}, poll_seconds=30)
    runner.start()
    try:
        time.sleep(0.1)  # looked, found nothing, waits up to 30 s
        add(db, "mail", "message:1")
        runner.wake()
        assert handled.wait(5)  # not the 30 s poll interval
    finally:
        runner.stop()
    assert seen == ["message:1"]
    assert runner._thread is None


def test_two_runners_handle_every_job_exactly_once(db: Database) -> None:
    """Two workers draining one queue at once (real threads; PostgreSQL's claims skip each other's
    locked rows, SQLite's writers take turns)."""
    total = 300
    with db.write() as session:
        service.enqueue_many(session, "mail", [(f"message:{i}", {}) for i in range(total)])
    seen: list[str] = []
    runners = [JobRunner(lambda: db, {"mail": completing(seen)}, worker_id=f"worker-{i}") for i in range(2)]
    start = threading.Barrier(2)
    handled = [0, 0]

    def work(i: int) -> None:
        start.wait()
        handled[i] = runners[i].drain(max_seconds=30)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sum(handled) == len(seen) == len(set(seen)) == total
    with db.read() as session:
        assert service.counts(session, "mail")["done"] == total


def test_a_runner_with_concurrency_runs_a_batchs_jobs_at_once_and_each_exactly_once(db: Database) -> None:
    add(db, "sms", *(f"sms:{i}" for i in range(40)))
    seen: list[str] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()
    done = completing(seen)

    def slow(db: Database, claimed: Claimed, worker: str) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.01)  # a provider call
        with lock:
            in_flight -= 1
        done(db, claimed, worker)

    runner = JobRunner(lambda: db, {"sms": slow}, batch=20, concurrency=4)
    try:
        assert runner.drain() == 40
    finally:
        runner.stop()
    assert sorted(seen) == sorted(f"sms:{i}" for i in range(40))
    assert most > 1
    assert {job(db, f"sms:{i}").status for i in range(40)} == {"done"}


def test_concurrency_below_one_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        JobRunner(lambda: db, {}, concurrency=0)
