"""The in-process event hub: capabilities react to each other's facts without importing each other.

Publishers hand events to the session; they are delivered only after that transaction
commits (a rolled-back order never announces itself). Subscribers run in the committing
thread and must be quick; slow work belongs in a job.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str  # e.g. "customers.upserted", "orders.recorded", "stock.changed"
    payload: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Event], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: str, handler: Subscriber) -> None:
    _subscribers[name].append(handler)


def unsubscribe(name: str, handler: Subscriber) -> None:
    if handler in _subscribers.get(name, []):
        _subscribers[name].remove(handler)


def publish(session: Session, name: str, **payload: Any) -> None:
    """Queue an event on the session; it is delivered once the transaction commits."""
    pending: list[Event] = session.info.setdefault("rapport_events", [])
    if not pending:
        sa_event.listen(session, "after_commit", _deliver, once=True)
        sa_event.listen(session, "after_rollback", _discard, once=True)
    pending.append(Event(name, payload))


def _deliver(session: Session) -> None:
    pending: list[Event] = session.info.pop("rapport_events", [])
    for ev in pending:
        for handler in list(_subscribers.get(ev.name, [])):
            try:
                handler(ev)
            except Exception:  # a subscriber's failure must not undo a committed write
                log.exception("subscriber %r failed on %s", handler, ev.name)


def _discard(session: Session) -> None:
    session.info.pop("rapport_events", None)


def collect(session: Session, kind: str, items: Sequence[tuple[int, Any]], outcomes: dict[int, Any]) -> None:
    """Announce what an ingest batch changed: ``<kind>.ingested`` with the ids written."""
    ids = [o.id for o in outcomes.values() if o.status in ("created", "updated") and o.id is not None]
    if ids:
        publish(session, f"{kind}.ingested", ids=ids)
