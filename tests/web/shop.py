"""Clients, sales, contacts and profile views for the associate-app screen tests, through the real services.

The team is :func:`tests.associates.staff.team`: Ana (associate, Paris), Ben (associate, New York),
Mia (online expert, US), Max (store manager, Paris) and Ada (head office).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rapport.associates import audit
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.ingest.service import ingest_records


def accepted(db: Database, kind: str, *records: dict[str, Any]) -> list[int | None]:
    result = ingest_records(db, kind, list(records))
    refused = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
    assert not refused, f"{kind} refused: {refused}"
    return [o.id for o in result.outcomes]


def coats(db: Database) -> None:
    accepted(
        db,
        "products",
        {"sku": "COAT", "name": "Camel coat", "price": "1200.00", "currency": "EUR"},
        {"sku": "SCARF", "name": "Silk scarf", "price": "80.00", "currency": "EUR"},
        {"sku": "COAT-US", "name": "Camel coat", "price": "1200.00", "currency": "USD"},
    )


def client(db: Database, ref: str, first: str, last: str, **extra: Any) -> int:
    """A client known to the web shop as ``ref``; ``associate="ana@maison.example"`` puts them in a book."""
    record: dict[str, Any] = {"source": "web", "id": ref, "first_name": first, "last_name": last}
    if "associate" in extra:
        record["assigned_associate"] = extra.pop("associate")
    record.update(extra)
    (cid,) = accepted(db, "customers", record)
    assert cid is not None
    return cid


def sale(db: Database, oid: str, ref: str, *, at: str, sku: str = "COAT", price: str = "1200.00") -> None:
    accepted(
        db,
        "orders",
        {
            "source": "pos", "id": oid, "channel": "store", "store": "PAR", "currency": "EUR", "placed_at": at,
            "customer": {"source": "web", "id": ref},
            "lines": [{"sku": sku, "quantity": 1, "unit_price": price}],
        },
    )  # fmt: skip


def contacted(db: Database, ref: str, *, at: str, by: str) -> None:
    """The associate ``by`` (email) sent the client a message."""
    accepted(
        db,
        "events",
        {"source": "chat", "id": f"msg-{ref}-{at}", "type": "message", "occurred_at": at, "channel": "sms",
         "customer": {"source": "web", "id": ref}, "associate": by, "summary": "Your coat is in"},
    )  # fmt: skip


def viewed(db: Database, associate_id: int, customer_id: int) -> None:
    """The associate opened the client's profile (what the profile page writes to the audit log)."""
    with db.write() as session:
        audit.record_view(
            session, actor_kind="associate", actor_id=associate_id, actor_label="associate", customer_id=customer_id
        )


def assigned_to(db: Database, customer_id: int) -> int | None:
    with db.read() as session:
        return session.scalar(select(Customer.assigned_associate_id).where(Customer.id == customer_id))
