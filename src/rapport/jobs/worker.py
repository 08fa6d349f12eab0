"""Running queued jobs: claim a batch, hand each job to its queue's handler, look again.

Run by ``rapport worker`` and, for background work, by a thread in each app process. Any number of
runners may share the database: a claim never gives two of them the same job, and a runner that
dies leaves its jobs to be claimed again when their lease runs out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from rapport import clock
from rapport.db import Database
from rapport.jobs import service
from rapport.jobs.service import Claimed

log = logging.getLogger(__name__)

#: ``handler(db, job, worker_id)``: does the work in transactions of its own and itself calls
#: :func:`~rapport.jobs.service.complete`, ``retry`` or ``fail`` (a job left running is claimed
#: again when its lease runs out). If it raises, the runner retries the job with the error.
Handler = Callable[[Database, Claimed, str], None]


def default_worker_id() -> str:
    """``host:pid:random``: which process holds a job, unique even when a pid is reused."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class JobRunner:
    """Claims batches of the queues it has handlers for and runs them, in this thread or its own."""

    def __init__(
        self,
        db_provider: Callable[[], Database],
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        batch: int = 20,
        lease_seconds: float = 60,
        poll_seconds: float = 0.2,
        concurrency: int = 1,
    ) -> None:
        """``concurrency``: jobs of a batch run on this many threads at once — a job spends most of
        its time waiting for the database or a provider, so one process keeps several in flight."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._db = db_provider
        self.concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        #: queue -> handler; registering one later (``runner.handlers[queue] = fn``) is fine.
        self.handlers: dict[str, Handler] = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one batch ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim one batch and run each job in order; returns how many were handled."""
        return self._run_batch(None)

    def _run_batch(self, stop: threading.Event | None) -> int:
        handlers = dict(self.handlers)
        if not handlers:
            return 0
        db = self._db()
        jobs = service.claim(db, list(handlers), self.worker_id, limit=self.batch, lease_seconds=self.lease_seconds)
        if self.concurrency > 1 and len(jobs) > 1:
            return self._run_concurrently(db, handlers, jobs, stop)
        leased_until = clock.now() + timedelta(seconds=self.lease_seconds)
        handled = 0
        for i, job in enumerate(jobs):
            if stop is not None and stop.is_set():
                self._give_back(db, jobs[i:])
                break
            # A long batch: renew the lease of the next job before it can lapse and another runner
            # take it too (one statement per job, only once half the lease is gone).
            if clock.now() >= leased_until - timedelta(seconds=self.lease_seconds / 2):
                with db.write() as session:
                    if not service.extend(session, job, self.worker_id, self.lease_seconds):
                        log.warning("job %s (%s) was taken over before it started; skipped", job.id, job.key)
                        continue
                leased_until = clock.now() + timedelta(seconds=self.lease_seconds)
            self._handle(db, handlers[job.queue], job)
            handled += 1
        return handled

    def _run_concurrently(
        self, db: Database, handlers: Mapping[str, Handler], jobs: list[Claimed], stop: threading.Event | None
    ) -> int:
        """The batch on ``concurrency`` threads; jobs not started when ``stop`` is set are given back.

        A batch is claimed with one lease and finishes well within it (``batch`` jobs over several
        threads), so leases are not renewed job by job here."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="job")
        unstarted: list[Claimed] = []
        lock = threading.Lock()

        def run(job: Claimed) -> bool:
            if stop is not None and stop.is_set():
                with lock:
                    unstarted.append(job)
                return False
            self._handle(db, handlers[job.queue], job)
            return True

        handled = sum(self._pool.map(run, jobs))
        if unstarted:
            self._give_back(db, unstarted)
        return handled

    def _handle(self, db: Database, handler: Handler, job: Claimed) -> None:
        try:
            handler(db, job, self.worker_id)
        except Exception as exc:
            log.exception("job %s (%s, %s) failed on attempt %d", job.id, job.queue, job.key, job.attempts)
            try:
                with db.write() as session:
                    status = service.retry(session, job, self.worker_id, repr(exc))
            except Exception:  # the database is away: the lease will run out and the job be claimed again
                log.exception("could not record the failure of job %s", job.id)
                return
            if status == "failed":
                log.error("job %s (%s) failed for good after %d attempts", job.id, job.key, job.attempts)

    def _give_back(self, db: Database, jobs: list[Claimed]) -> None:
        try:
            with db.write() as session:
                service.release(session, jobs, self.worker_id)
        except Exception:  # they will be claimed again when their lease runs out
            log.exception("could not give back %d unstarted job(s)", len(jobs))

    def drain(self, max_seconds: float | None = None) -> int:
        """Run batches until nothing is due (or ``max_seconds`` have passed); returns how many were handled.

        For tests and ``rapport worker --once``. Jobs another runner has locked at that moment are not
        waited for.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = 0
        while deadline is None or time.monotonic() < deadline:
            handled = self.run_once()
            if not handled:
                break
            total += handled
        return total

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run batches until ``stop`` is set, finishing the job in hand (claimed jobs not yet started
        are given back); between empty looks, wait ``poll_seconds`` or until :meth:`wake`."""
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = self._run_batch(stop)
            except Exception:  # the database is away, say: keep going, a little slower
                log.exception("job runner %s: batch failed", self.worker_id)
                self._pause(stop, max(self.poll_seconds, 1.0))
                continue
            if not handled:
                self._pause(stop, self.poll_seconds)

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        # ``stop`` belongs to the caller and cannot wake us: look at it every 50 ms while waiting.
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, 0.05)):
                return

    def wake(self) -> None:
        """Something was just enqueued in this process: look now rather than after the poll interval."""
        self._wake.set()

    # -- as a thread -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread (the app's lifespan); :meth:`stop` ends it."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self.run, args=(self._stopping,), name="job-runner", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the job in hand and wait for the thread (up to 30 s)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
