"""A small retailer for the client book tests, built through the ingestion API like real data.

Two stores (Paris in euros, New York in dollars); store associates Ana and Ben in Paris and
Nina in New York; online experts Michelle (US), Max (US), Carla (California) and Zoé (France,
Italy). Clients are added per test with :func:`client` and :func:`sale`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rapport.app import create_app
from rapport.associates.models import Associate
from rapport.associates.tokens import create_token
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.ingest.service import BatchResult, ingest_records

Ingest = Callable[..., BatchResult]


def _checked(db: Database) -> Ingest:
    def run(kind: str, *records: dict[str, Any]) -> BatchResult:
        result = ingest_records(db, kind, list(records))
        refused = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
        assert not refused, f"{kind} refused: {refused}"
        return result

    return run


@pytest.fixture
def ingest(db: Database) -> Ingest:
    """Ingest records of one kind and insist every one was accepted."""
    return _checked(db)


@pytest.fixture
def ingest_pg(pg_db: Database) -> Ingest:
    """:func:`ingest` with the stores and team already there, on PostgreSQL only (concurrency tests)."""
    run = _checked(pg_db)
    _open_shop(run)
    return run


STAFF = [
    {"code": "ANA", "email": "ana@maison.example", "display_name": "Ana Duval", "home_store": "PAR"},
    {"code": "BEN", "email": "ben@maison.example", "display_name": "Ben Morel", "home_store": "PAR"},
    {"code": "NINA", "email": "nina@maison.example", "display_name": "Nina Park", "home_store": "NYC"},
    {"code": "MIC", "email": "michelle@maison.example", "display_name": "Michelle Laurent",
     "role": "virtual_associate", "regions": ["US"]},
    {"code": "MAX", "email": "max@maison.example", "display_name": "Max Weber", "role": "virtual_associate",
     "regions": ["us"]},
    {"code": "CAL", "email": "carla@maison.example", "display_name": "Carla Ruiz", "role": "virtual_associate",
     "regions": ["US-CA"]},
    {"code": "ZOE", "email": "zoe@maison.example", "display_name": "Zoé Marchetti", "role": "virtual_associate",
     "regions": ["FR", "IT"]},
]  # fmt: skip


@pytest.fixture
def shop(db: Database, ingest: Ingest) -> dict[str, int]:
    """The stores, the team and two products; returns associate ids by code."""
    _open_shop(ingest)
    return staff_ids(db)


def _open_shop(ingest: Ingest) -> None:
    ingest(
        "locations",
        {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "currency": "EUR", "city": "Paris"},
        {"code": "NYC", "name": "New York Madison", "country": "US", "currency": "USD", "city": "New York"},
    )
    ingest("associates", *STAFF)
    ingest(
        "products",
        {"sku": "COAT", "name": "Camel coat", "price": "100.00", "currency": "EUR"},
        {"sku": "COAT-US", "name": "Camel coat", "price": "100.00", "currency": "USD"},
    )


def client(
    ref: str, last: str, *, country: str | None = None, region: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A client known to the web shop as ``ref``; an address when a country is given."""
    record: dict[str, Any] = {"source": "web", "id": ref, "first_name": ref.title(), "last_name": last}
    if country:
        record["addresses"] = [{"city": "Somewhere", "region": region, "country": country, "primary": True}]
    record.update(extra)
    return record


def sale(
    oid: str,
    ref: str,
    *,
    channel: str = "store",
    store: str | None = "PAR",
    associate: str | None = None,
    at: str = "2026-10-01T10:00:00Z",
    price: str = "100.00",
    currency: str = "EUR",
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": "pos", "id": oid, "channel": channel, "currency": currency, "placed_at": at,
        "customer": {"source": "web", "id": ref},
        "lines": [{"sku": "COAT" if currency == "EUR" else "COAT-US", "quantity": 1, "unit_price": price}],
    }  # fmt: skip
    if channel == "store":
        record["store"] = store
    if associate:
        record["associate"] = associate
    record.update(extra)
    return record


def staff_ids(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {code: id_ for code, id_ in session.execute(select(Associate.code, Associate.id))}


def client_ids(db: Database) -> dict[str, int]:
    """Active clients by their web id."""
    from rapport.identity.models import Identifier

    with db.read() as session:
        rows = session.execute(
            select(Identifier.value, Identifier.customer_id).where(
                Identifier.kind == "external", Identifier.namespace == "web"
            )
        )
        return {key: value for key, value in rows}


def book_of(db: Database) -> dict[int, int | None]:
    """Who each active client is assigned to: {customer id: associate id}."""
    with db.read() as session:
        rows = session.execute(select(Customer.id, Customer.assigned_associate_id).where(Customer.status == "active"))
        return {key: value for key, value in rows}


@pytest.fixture
def api(db: Database) -> TestClient:
    with db.write() as session:
        issued = create_token(session, "clientbook-tests", ["ingest", "read", "audit"])
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client
