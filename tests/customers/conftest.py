"""A small boutique with one well-known client, built through the ingestion API like real data.

Alicia's history (the figures the KPI tests check):

==========  =======  ======  =====================================  ==========
order       channel  store   lines                                  total
==========  =======  ======  =====================================  ==========
W-1 Jan 10  online   -       coat M x1 (200.00), scarf x2 (50.00)   300.00 EUR
S-2 Mar 10  store    PAR     perfume x1 (80.00)                      80.00 EUR
S-3 May 9   store    PAR     scarf x1 (50.00) — cancelled            (50.00 EUR)
W-4 Jul 8   online   -       coat L x1 (200.00)                     200.00 EUR
N-5 Sep 6   store    NYC     perfume x1 (95.00)                      95.00 USD
==========  =======  ======  =====================================  ==========

The coat M bought online on Jan 10 comes back in the Paris store on Jan 20 (refund 200.00 EUR).
She tried the coat on in Paris on Jun 1 (and bought the style, in L, on Jul 8) and the scarf on
May 1 (the only scarf order after that was cancelled). A tote bag is on her wishlist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rapport.app import create_app
from rapport.associates.tokens import create_token
from rapport.customers.search import forget_vocabularies
from rapport.db import Database
from rapport.ingest.service import BatchResult, ingest_records

Ingest = Callable[..., BatchResult]


@pytest.fixture(autouse=True)
def _fresh_vocabulary() -> Iterator[None]:
    """Each test empties the database, so no search vocabulary may outlive it."""
    forget_vocabularies()
    yield
    forget_vocabularies()


@pytest.fixture
def ingest(db: Database) -> Ingest:
    """Ingest records of one kind and insist every one was accepted; returns the batch result."""

    def run(kind: str, *records: dict[str, Any]) -> BatchResult:
        result = ingest_records(db, kind, list(records))
        refused = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
        assert not refused, f"{kind} refused: {refused}"
        return result

    return run


@pytest.fixture
def api(db: Database) -> TestClient:
    with db.write() as session:
        issued = create_token(session, "customers-tests")
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {issued.token}"
    return client


@pytest.fixture
def boutique(ingest: Ingest) -> None:
    ingest(
        "locations",
        {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "currency": "EUR", "city": "Paris"},
        {"code": "NYC", "name": "New York Madison", "country": "US", "currency": "USD", "city": "New York"},
    )
    ingest(
        "associates",
        {"code": "ANA", "email": "ana@maison.example", "display_name": "Ana Duval", "home_store": "PAR"},
    )
    product = {"brand": "Maison", "currency": "EUR"}
    ingest(
        "products",
        {**product, "sku": "COAT-M", "style_code": "COAT", "name": "Camel coat", "category": "coats", "size": "M",
         "price": "200.00"},
        {**product, "sku": "COAT-L", "style_code": "COAT", "name": "Camel coat", "category": "coats", "size": "L",
         "price": "200.00"},
        {**product, "sku": "SCARF", "name": "Silk scarf", "brand": "Atelier", "category": "accessories",
         "size": "OS", "price": "50.00"},
        {**product, "sku": "PERF-50", "name": "Eau de parfum", "category": "fragrance", "size": "50ml",
         "price": "80.00"},
        {**product, "sku": "PERF-50-US", "style_code": "PERF-50", "name": "Eau de parfum", "category": "fragrance",
         "size": "50ml", "price": "95.00", "currency": "USD"},
        {**product, "sku": "TOTE", "name": "Leather tote", "category": "bags", "price": "450.00"},
    )  # fmt: skip


ALICIA = {"source": "shopify", "id": "1001"}


def order(oid: str, placed_at: str, lines: list[tuple[str, int, str]], **extra: Any) -> dict[str, Any]:
    return {
        "source": "shop", "id": oid, "order_number": oid, "channel": "online", "currency": "EUR",
        "customer": ALICIA, "placed_at": placed_at,
        "lines": [{"id": str(n + 1), "sku": sku, "quantity": q, "unit_price": price}
                  for n, (sku, q, price) in enumerate(lines)],
        **extra,
    }  # fmt: skip


def event(eid: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"source": "floor", "id": eid, "type": kind, "occurred_at": at, "customer": ALICIA, **extra}


@pytest.fixture
def alicia(boutique: None, ingest: Ingest) -> int:
    """Alicia Moreau with the history in the module docstring; returns her id."""
    created = ingest(
        "customers",
        {
            **ALICIA, "first_name": "Alicia", "last_name": "Moreau", "birth_date": "1990-11-30",
            "language": "fr", "tier": "gold", "tags": ["vip"], "home_store": "PAR", "assigned_associate": "ANA",
            "emails": [{"address": "alicia@example.com", "verified": True}], "phones": ["+33 6 12 34 56 78"],
            "external_ids": [{"source": "loyalty", "id": "L-42"}],
            "addresses": [{"line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR",
                           "primary": True}],
            "milestones": [{"kind": "anniversary", "label": "wedding", "date": "2015-06-20"},
                           {"kind": "child_birthday", "label": "Léo", "date": "--11-25"}],
            "relationships": [{"relation": "sister", "name": "Inès", "note": "lives in Lyon"}],
            "preferences": {"colours": ["camel"]}, "sizes": {"coats": "M", "shoes": "38"},
            "consent": [{"channel": "email", "granted": True, "recorded_at": "2026-01-01T09:00:00Z"},
                        {"channel": "sms", "granted": False, "recorded_at": "2026-02-01T09:00:00Z"}],
            "notes": ["Prefers appointments on Saturday mornings"],
        },
    ).outcomes[0].id  # fmt: skip
    assert created is not None
    ingest(
        "orders",
        order("W-1", "2026-01-10T10:00:00Z", [("COAT-M", 1, "200.00"), ("SCARF", 2, "50.00")]),
        order("S-2", "2026-03-10T10:00:00Z", [("PERF-50", 1, "80.00")], channel="store", store="PAR",
              associate="ANA"),
        order("S-3", "2026-05-09T10:00:00Z", [("SCARF", 1, "50.00")], channel="store", store="PAR",
              status="cancelled"),
        order("W-4", "2026-07-08T10:00:00Z", [("COAT-L", 1, "200.00")]),
        order("N-5", "2026-09-06T10:00:00Z", [("PERF-50-US", 1, "95.00")], channel="store", store="NYC",
              currency="USD"),
    )  # fmt: skip
    ingest(
        "returns",
        {"source": "pos", "id": "R-1", "order_id": "W-1", "order_source": "shop", "channel": "store",
         "store": "PAR", "currency": "EUR", "returned_at": "2026-01-20T15:00:00Z",
         "lines": [{"order_line": "1", "sku": "COAT-M", "quantity": 1}]},
    )  # fmt: skip
    ingest(
        "events",
        event("T-1", "try_on", "2026-06-01T11:00:00Z", sku="COAT-M", store="PAR", associate="ANA"),
        event("T-2", "try_on", "2026-05-01T11:00:00Z", sku="SCARF", store="PAR"),
        event("V-1", "wishlist_add", "2026-10-01T20:00:00Z", sku="TOTE"),
    )
    return created
