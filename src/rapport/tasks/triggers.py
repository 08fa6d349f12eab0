"""Tasks within a second of the event: the rules an ingest batch can make true, for the clients it touched.

Ingestion announces each committed batch on the event hub (``<kind>.ingested`` with the ids
written; ``stock.back_in_stock`` with the new stock signals). :class:`TaskTriggers` notes them
(quickly: it runs in the committing thread), and its own thread, after a short pause that lets
a burst of batches coalesce (~50 ms), maps them to clients with a query or two and evaluates only
the relevant rules for only those clients.

What the ids are, per event (checked against the ingest handlers): customers and events carry
client ids; orders carry order ids; returns carry return ids (no rule starts from a return);
``stock.back_in_stock`` carries stock signal ids, whose clients are those with the item on
their wishlist.

The event hub is in-process and delivers after the commit, so a process that stops between the
commit and its trigger loses the trigger: the daily sweep (:mod:`rapport.tasks.sweep`) is the
safety net and raises whatever was missed. Where ingestion runs in app processes that leave
background work to ``rapport worker`` (``RAPPORT_BACKGROUND_SCAN=false``), the worker follows the
tables instead (``poll_every``): new timeline entries, stock signals and clients, by id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rapport import events
from rapport.commerce.models import Order
from rapport.customers.models import Customer, TimelineEntry, WishlistItem
from rapport.db import Database, one_of
from rapport.inventory.models import StockSignal
from rapport.tasks import config
from rapport.tasks.service import follow_client
from rapport.tasks.sweep import SweepReport, generate

log = logging.getLogger(__name__)

#: The rules each event can make true (the others cannot change for those clients because of it).
EVENT_RULES: dict[str, tuple[str, ...]] = {
    # A client's record feeds milestones (days ahead) and welcomes: the daily sweep raises those;
    # evaluating them on every batch of clients cost ~15% of the client API's throughput. Their
    # live tasks follow a change of owner at once (_OWNER_EVENTS).
    "customers.ingested": (),
    "clients.assigned": ("welcome",),
    "events.ingested": ("back_in_stock", "high_intent", "appointment_prep", "try_on_follow_up"),
    "orders.ingested": ("replenishment", "post_purchase"),
    "stock.back_in_stock": ("back_in_stock",),
}
#: Events after which a client may have a new associate or home store.
_OWNER_EVENTS = ("customers.ingested", "clients.assigned")
#: Timeline kinds that feed a rule, for the worker's table follower ("profile": a client book assignment).
KIND_RULES: dict[str, tuple[str, ...]] = {
    "try_on": ("try_on_follow_up",),
    "appointment": ("appointment_prep",),
    "order": ("replenishment", "post_purchase"),
    "profile": ("welcome",),
}
#: How many new rows the table follower reads per look (the rest on the next one).
POLL_LIMIT = 20_000


def rules_for(event_name: str) -> tuple[str, ...]:
    return EVENT_RULES.get(event_name, ())


def clients_for(session: Session, event_name: str, ids: Iterable[int]) -> set[int]:
    """The clients an event touched (one query at most)."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return set()
    if event_name in ("customers.ingested", "events.ingested", "clients.assigned"):
        return set(wanted)
    if event_name == "orders.ingested":
        stmt = select(Order.customer_id).where(one_of(session, Order.id, wanted), Order.customer_id.is_not(None))
        return set(session.scalars(stmt.distinct()))
    if event_name == "stock.back_in_stock":
        stmt = select(WishlistItem.customer_id).join(StockSignal, StockSignal.product_id == WishlistItem.product_id)
        return set(session.scalars(stmt.where(one_of(session, StockSignal.id, wanted)).distinct()))
    return set()


def process(db: Database, client_ids: Iterable[int], *, types: Iterable[str] | None = None) -> SweepReport:
    """Evaluate the rules (all, or ``types``) for these clients now and raise their tasks (no housekeeping)."""
    return generate(db, customer_ids=sorted(set(client_ids)), types=types, housekeep=False)


def handle(db: Database, pending: Mapping[str, Iterable[int]]) -> SweepReport:
    """Raise the tasks a set of events calls for: event name -> the ids its payloads carried."""
    targets: dict[str, set[int]] = defaultdict(set)
    moved = sorted({int(i) for name in _OWNER_EVENTS for i in pending.get(name, ())})
    if moved:  # clients who may have changed associate or home store: their live tasks follow
        with db.write() as session:
            follow_client(session, moved)
    with db.read() as session:
        for name, ids in pending.items():
            rules = rules_for(name)
            if not rules:
                continue
            clients = clients_for(session, name, ids)
            for rule in rules:
                targets[rule] |= clients
    return _raise(db, targets)


def _raise(db: Database, targets: Mapping[str, set[int]]) -> SweepReport:
    """Each rule for its clients; rules wanting the same clients are evaluated in one pass."""
    report = SweepReport()
    by_clients: dict[frozenset[int], list[str]] = defaultdict(list)
    for rule, clients in targets.items():
        if clients:
            by_clients[frozenset(clients)].append(rule)
    for group, rules in by_clients.items():
        part = process(db, group, types=rules)
        report.types.update(part.types)
        report.per_associate.update(part.per_associate)
        report.seconds += part.seconds
    return report


def _payload_ids(event: events.Event) -> list[int]:
    ids = event.payload.get("ids") or event.payload.get("signal_ids") or []
    return [int(i) for i in ids if i is not None]


class TableFollower:
    """The worker's trigger: new timeline entries, stock signals and clients, read by id since the last look.

    Starts from the newest rows at its first look (the sweep covers what came before). An id
    PostgreSQL handed out before a newer one but committed after it can be missed; the daily sweep
    raises it.
    """

    def __init__(self) -> None:
        self.marks: dict[str, int] | None = None

    def look(self, db: Database) -> dict[str, set[int]]:
        """Rule -> the clients new rows call it for, since the last look."""
        te, sig = TimelineEntry, StockSignal
        targets: dict[str, set[int]] = defaultdict(set)
        with db.read() as session:
            if self.marks is None:
                self.marks = {
                    "timeline": session.scalar(select(func.coalesce(func.max(te.id), 0))) or 0,
                    "signal": session.scalar(select(func.coalesce(func.max(sig.id), 0))) or 0,
                    "customer": session.scalar(select(func.coalesce(func.max(Customer.id), 0))) or 0,
                }
                return targets
            sequence = set(config.settings(session)["high_intent"]["sequence"])
            rows = session.execute(
                select(te.id, te.customer_id, te.kind).where(te.id > self.marks["timeline"]).order_by(te.id)
            ).fetchmany(POLL_LIMIT)
            for entry_id, cid, kind in rows:
                self.marks["timeline"] = max(self.marks["timeline"], entry_id)
                for rule in KIND_RULES.get(kind, ()):
                    targets[rule].add(cid)
                if kind in sequence:
                    targets["high_intent"].add(cid)
            signals = list(
                session.scalars(select(sig.id).where(sig.id > self.marks["signal"]).order_by(sig.id).limit(POLL_LIMIT))
            )
            if signals:
                self.marks["signal"] = signals[-1]
                targets["back_in_stock"] |= clients_for(session, "stock.back_in_stock", signals)
            if not EVENT_RULES["customers.ingested"]:  # no rule starts from a new client today
                return targets
            fresh = list(
                session.scalars(
                    select(Customer.id)
                    .where(Customer.id > self.marks["customer"])
                    .order_by(Customer.id)
                    .limit(POLL_LIMIT)
                )
            )
            if fresh:
                self.marks["customer"] = fresh[-1]
                for rule in EVENT_RULES["customers.ingested"]:
                    targets[rule].update(fresh)
        return targets


class TaskTriggers:
    """One thread per process raising tasks shortly after events, plus (in the worker) the table follower and sweep.

    ``delay``: how long to wait for more events before evaluating (coalescing a burst of
    batches), never more than ``patience`` after the first. ``poll_every`` (seconds) also follows
    the tables, for events committed by other processes; ``sweep_every`` (seconds) runs the full
    sweep, the first at start. Started by the app's lifespan (events only) and by ``rapport worker``
    (tables and the daily sweep); tests and the CLI call :func:`process` / :func:`handle` directly.
    """

    def __init__(
        self,
        db_provider: Callable[[], Database],
        *,
        delay: float = 0.05,
        patience: float = 0.25,
        poll_every: float | None = None,
        sweep_every: float | None = None,
    ) -> None:
        self._db = db_provider
        self._delay = delay
        self._patience = patience
        self._poll_every = poll_every
        self._sweep_every = sweep_every
        self._lock = threading.Lock()
        self._pending: dict[str, set[int]] = defaultdict(set)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._follower = TableFollower() if poll_every else None
        self._next_sweep = 0.0
        #: What the last evaluation raised (for logs and tests).
        self.last: SweepReport | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            for name in EVENT_RULES:
                events.subscribe(name, self.notify)
            self._thread = threading.Thread(target=self._run, name="task-triggers", daemon=True)
            self._thread.start()

    def notify(self, event: events.Event) -> None:
        """Event hub subscriber: note the ids and wake the thread (no database work here)."""
        ids = _payload_ids(event)
        if not ids:
            return
        with self._lock:
            self._pending[event.name].update(ids)
        self._wake.set()

    def wake(self, _event: object = None) -> None:
        self._wake.set()

    def stop(self) -> None:
        for name in EVENT_RULES:
            events.unsubscribe(name, self.notify)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _take(self) -> dict[str, set[int]]:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(set)
        return pending

    def _run(self) -> None:
        while not self._stop.is_set():
            woke = self._wake.wait(self._poll_every)  # None: until an event
            if self._stop.is_set():
                return
            if woke:
                self._wake.clear()
                deadline = time.monotonic() + self._patience
                while time.monotonic() < deadline and self._wake.wait(self._delay):  # a burst: let it land
                    self._wake.clear()
                self._safely("event triggers", lambda: self._on_events(self._take()))
            if self._follower is not None:
                self._safely("table follower", self._follow)
            if self._sweep_every and time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + self._sweep_every
                self._safely("task sweep", self._sweep)

    def _on_events(self, pending: dict[str, set[int]]) -> None:
        if pending:
            self.last = handle(self._db(), pending)

    def _follow(self) -> None:
        assert self._follower is not None
        targets = self._follower.look(self._db())
        if targets:
            self.last = _raise(self._db(), targets)

    def _sweep(self) -> None:
        report = generate(self._db())
        log.info("task sweep: %d task(s) raised in %.1f s", report.created, report.seconds)

    def _safely(self, what: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # the daily sweep raises whatever this missed
            log.exception("%s failed; the next sweep will catch up", what)


def wait_for(predicate: Callable[[], bool], timeout: float = 1.0, step: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (for tests and scripts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


__all__ = [
    "EVENT_RULES",
    "KIND_RULES",
    "TableFollower",
    "TaskTriggers",
    "clients_for",
    "handle",
    "process",
    "rules_for",
    "wait_for",
]
