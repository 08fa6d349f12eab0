"""A Paris store with Ana, and clients with or without consent, for the task specifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rapport import clock
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.tasks.service import Candidate
from tests.factories import ingest, ok, seed_reference


@pytest.fixture
def store(db: Database) -> Database:
    seed_reference(db)
    return db


def add_client(db: Database, ext_id: str, *, consent: dict[str, bool] | None = None, **extra: Any) -> int:
    """A client from the POS, assigned to Ana at Paris unless told otherwise; returns the client id."""
    record: dict[str, Any] = {
        "source": "pos", "id": ext_id, "first_name": "Client", "last_name": ext_id,
        "emails": [f"{ext_id.lower()}@example.com"], "home_store": "PAR", "assigned_associate": "ANA",
        "consent": [{"channel": ch, "granted": yes} for ch, yes in (consent or {"email": True}).items()],
        **extra,
    }  # fmt: skip
    outcome = ok(ingest(db, "customers", record)).outcomes[0]
    assert outcome.id is not None
    return outcome.id


def customer(db: Database, customer_id: int) -> Customer:
    with db.read() as s:
        c = s.get(Customer, customer_id)
        assert c is not None
        s.expunge(c)
        return c


CandidateMaker = Callable[..., Candidate]


def candidate(customer_id: int, key: str = "manual:1", **extra: Any) -> Candidate:
    now = clock.now()
    values: dict[str, Any] = {
        "customer_id": customer_id, "type": "manual", "dedupe_key": key, "title": "Call about the coat",
        "reason": "Asked to be called back about the camel coat", "due_at": now,
        "expires_at": now + timedelta(days=7),
        **extra,
    }  # fmt: skip
    return Candidate(**values)
