"""Small builders for ingest records used across the suite: a Paris store, a coat, Alicia."""

from __future__ import annotations

from typing import Any

from rapport.db import Database
from rapport.identity import candidates
from rapport.ingest.service import BatchResult, ingest_records


def ingest(db: Database, kind: str, *records: dict[str, Any]) -> BatchResult:
    """Ingest, then run the duplicate scan the app runs in the background (so tests see its result)."""
    result = ingest_records(db, kind, list(records))
    candidates.drain(db)
    return result


def ok(result: BatchResult) -> BatchResult:
    bad = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
    assert not bad, f"records refused: {bad}"
    return result


def seed_reference(db: Database) -> None:
    """Two stores, one associate each, a few products."""
    ok(ingest(db, "locations",
              {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "timezone": "Europe/Paris",
               "currency": "EUR", "city": "Paris"},
              {"code": "NYC", "name": "New York Madison", "country": "US", "timezone": "America/New_York",
               "currency": "USD", "city": "New York"}))  # fmt: skip
    ok(ingest(db, "associates",
              {"code": "ANA", "email": "ana@maison.example", "display_name": "Ana", "home_store": "PAR"},
              {"code": "MIC", "email": "michelle@maison.example", "display_name": "Michelle",
               "role": "virtual_associate", "regions": ["US"]}))  # fmt: skip
    ok(ingest(db, "products",
              {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel wool coat", "brand": "Maison",
               "category": "coats", "colour": "camel", "size": "M", "price": "1200.00", "currency": "EUR"},
              {"sku": "SCARF-SILK", "name": "Silk scarf", "brand": "Maison", "category": "accessories",
               "price": "45.50", "currency": "EUR"},
              {"sku": "FRAG-50", "name": "Eau de parfum 50 ml", "brand": "Maison", "category": "fragrance",
               "price": "120", "currency": "EUR", "replenishment_days": 60}))  # fmt: skip


def alicia(**extra: Any) -> dict[str, Any]:
    return {
        "source": "shopify", "id": "1001", "first_name": "Alicia", "last_name": "Moreau",
        "emails": [{"address": "alicia@example.com", "verified": True}], "phones": ["+33 6 12 34 56 78"],
        "addresses": [{"line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR",
                       "primary": True}],
        **extra,
    }  # fmt: skip


def order(oid: str, *, source: str = "pos", customer: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    record = {
        "source": source, "id": oid, "channel": "store", "store": "PAR", "currency": "EUR",
        "placed_at": "2026-11-01T10:00:00+01:00",
        "lines": [{"sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": "1200.00"}],
    }  # fmt: skip
    if customer is not None:
        record["customer"] = customer
    record.update(extra)
    return record
