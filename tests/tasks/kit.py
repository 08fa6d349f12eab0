"""Builders for the rule, sweep and trigger specifications: purchases, signals, stock, and reading tasks back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from rapport import clock
from rapport.db import Database
from rapport.tasks.models import Task
from rapport.tasks.sweep import SweepReport, generate
from tests.factories import ingest, ok


def ago(**delta: float) -> datetime:
    return clock.now() - timedelta(**delta)


def ahead(**delta: float) -> datetime:
    return clock.now() + timedelta(**delta)


def buy(
    db: Database,
    client: str,
    order_id: str,
    *,
    at: datetime,
    sku: str = "COAT-CAMEL-M",
    price: str = "1200.00",
    quantity: int = 1,
    **extra: Any,
) -> int:
    """An order of the client added with ``add_client(db, client)``; returns the order id."""
    record = {
        "source": "pos", "id": order_id, "channel": "store", "store": "PAR", "currency": "EUR",
        "placed_at": at.isoformat(), "customer": {"source": "pos", "id": client},
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": price}],
        **extra,
    }  # fmt: skip
    outcome = ok(ingest(db, "orders", record)).outcomes[0]
    assert outcome.id is not None
    return outcome.id


def signal(db: Database, client: str, kind: str, *, at: datetime, key: str | None = None, **extra: Any) -> int:
    """A timeline event (try-on, like, view, appointment, wishlist...) for the client; returns the client id."""
    record = {
        "source": "web", "id": key or f"{kind}-{client}-{at.isoformat()}", "type": kind,
        "occurred_at": at.isoformat(), "customer": {"source": "pos", "id": client},
        **extra,
    }  # fmt: skip
    outcome = ok(ingest(db, "events", record)).outcomes[0]
    assert outcome.id is not None
    return outcome.id


def stock(db: Database, sku: str, location: str, on_hand: int, *, at: datetime | None = None) -> None:
    ok(
        ingest(
            db,
            "stock",
            {"sku": sku, "location": location, "on_hand": on_hand, "counted_at": (at or clock.now()).isoformat()},
        )
    )


def warehouse(db: Database, code: str = "EU-DC") -> None:
    ok(
        ingest(
            db,
            "locations",
            {"code": code, "name": "European distribution centre", "kind": "warehouse", "country": "FR"},
        )
    )


def sweep(db: Database, *types: str) -> SweepReport:
    return generate(db, types=types or None)


def tasks_of(db: Database, customer_id: int | None = None, type: str | None = None) -> list[Task]:
    with db.read() as s:
        stmt = select(Task).order_by(Task.id)
        if customer_id is not None:
            stmt = stmt.where(Task.customer_id == customer_id)
        if type is not None:
            stmt = stmt.where(Task.type == type)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def the_task(db: Database, type: str) -> Task:
    found = tasks_of(db, type=type)
    assert len(found) == 1, [(t.dedupe_key, t.reason) for t in found]
    return found[0]


def midnight_utc(year: int, month: int, day: int) -> datetime:
    from datetime import UTC

    return datetime(year, month, day, tzinfo=UTC)
