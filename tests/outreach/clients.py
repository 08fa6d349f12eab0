"""Alicia (Paris, French, bought a coat, returned a scarf) and Dan (New York, never bought), with the
staffed team: what the wording and template tests write to."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rapport.catalog.models import Product
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.outreach import message_templates
from tests.web.shop import accepted, client, coats

ALICIA_VALUES = {"first_name": "Alicia", "last_name": "Moreau", "full_name": "Alicia Moreau"}
SID = "HX" + "0123456789abcdef" * 2


def customers(db: Database) -> dict[str, int]:
    coats(db)
    alicia = client(db, "alicia", "Alicia", "Moreau", home_store="PAR", language="fr", associate="ana@maison.example")
    dan = client(db, "dan", "Dan", "Brown", home_store="NYC")
    accepted(
        db,
        "orders",
        {"source": "pos", "id": "o1", "channel": "store", "store": "PAR", "currency": "EUR",
         "placed_at": "2026-10-31T23:30:00+00:00", "customer": {"source": "web", "id": "alicia"},
         "lines": [{"sku": "COAT", "quantity": 1, "unit_price": "1200.00"}]},
        {"source": "pos", "id": "o2", "channel": "store", "store": "PAR", "currency": "EUR",
         "placed_at": "2026-11-10T10:00:00+00:00", "customer": {"source": "web", "id": "alicia"},
         "lines": [{"sku": "SCARF", "quantity": 1, "unit_price": "80.00"}]},
    )  # fmt: skip
    accepted(
        db,
        "returns",
        {"source": "pos", "id": "r1", "order_id": "o2", "channel": "store", "store": "PAR", "currency": "EUR",
         "returned_at": "2026-11-12T10:00:00+00:00", "lines": [{"sku": "SCARF", "quantity": 1}]},
    )  # fmt: skip
    return {"alicia": alicia, "dan": dan}


def product_id(db: Database, sku: str) -> int:
    with db.read() as session:
        found = session.scalar(select(Product.id).where(Product.sku == sku))
    assert found is not None
    return found


def refused(exc: pytest.ExceptionInfo[InvalidRecord]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def new(db: Database, actor: int | None, **values: object) -> message_templates.TemplateView:
    fields: dict[str, object] = {"name": "Thank you", "channel": None, "subject": None, "body": "Hello {first_name}"}
    fields.update(values)
    with db.write() as session:
        return message_templates.create_template(session, actor, **fields)  # type: ignore[arg-type]
