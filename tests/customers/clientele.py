"""Clients for the edit, page and browser tests, on top of the staffed team of ``tests.associates.staff``.

* **Alicia Moreau** — Paris client, in Ana's book (Ana: associate, Paris). Gold tier, consent by email,
  not by SMS. Bought a coat online (returned in Paris) and a scarf, then perfume in Paris; tried the
  coat on; a tote on her wishlist; a milestone and a sister.
* **Bob Stone** — New York client, nobody's book.
* **Olivia Park** — online-only US client in Mia's book (Mia: online expert, US).

Everything goes through ingestion, as real data would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapport.db import Database
from rapport.ingest.service import ingest_records
from tests.associates.staff import Team, team

COAT_IMAGE = "/static/icons/icon-192.png"  # a real image the app serves, so a browser shows it


@dataclass(frozen=True)
class Clientele:
    team: Team
    alicia: int
    bob: int
    olivia: int


def ok(db: Database, kind: str, *records: dict[str, Any]) -> list[int | None]:
    result = ingest_records(db, kind, list(records))
    refused = [(i, o.errors) for i, o in enumerate(result.outcomes) if o.status == "rejected"]
    assert not refused, f"{kind} refused: {refused}"
    return [o.id for o in result.outcomes]


def order(oid: str, placed_at: str, lines: list[tuple[str, int, str]], ref: dict[str, str], **extra: Any) -> dict:
    return {
        "source": "shop", "id": oid, "order_number": oid, "channel": "online", "currency": "EUR",
        "customer": ref, "placed_at": placed_at,
        "lines": [{"id": str(n + 1), "sku": sku, "quantity": q, "unit_price": price}
                  for n, (sku, q, price) in enumerate(lines)],
        **extra,
    }  # fmt: skip


def clientele(db: Database) -> Clientele:
    staff = team(db)
    product = {"brand": "Maison", "currency": "EUR"}
    ok(db, "products",
       {**product, "sku": "COAT-M", "style_code": "COAT", "name": "Camel coat", "category": "coats", "size": "M",
        "price": "200.00", "image_url": COAT_IMAGE},
       {**product, "sku": "SCARF", "name": "Silk scarf", "category": "accessories", "price": "50.00"},
       {**product, "sku": "PERF-50", "name": "Eau de parfum", "category": "fragrance", "size": "50ml",
        "price": "80.00"},
       {**product, "sku": "TOTE", "name": "Leather tote", "category": "bags", "price": "450.00"})  # fmt: skip
    alicia, bob, olivia = ok(db, "customers",
        {"source": "shopify", "id": "1001", "first_name": "Alicia", "last_name": "Moreau", "tier": "gold",
         "home_store": "PAR", "assigned_associate": "ana@maison.example", "birth_date": "1990-11-30",
         "emails": [{"address": "alicia@example.com", "verified": True}], "phones": ["+33 6 12 34 56 78"],
         "addresses": [{"city": "Paris", "country": "FR", "primary": True}],
         "sizes": {"coats": "M", "shoes": "38"}, "preferences": {"colours": ["camel"]},
         "milestones": [{"kind": "anniversary", "label": "wedding", "date": "2015-06-20"}],
         "relationships": [{"relation": "sister", "name": "Inès", "note": "lives in Lyon"}],
         "consent": [{"channel": "email", "granted": True, "recorded_at": "2026-01-01T09:00:00Z"},
                     {"channel": "sms", "granted": False, "recorded_at": "2026-02-01T09:00:00Z"}],
         "notes": ["Prefers appointments on Saturday mornings"]},
        {"source": "pos", "id": "B-1", "first_name": "Bob", "last_name": "Stone", "home_store": "NYC",
         "emails": ["bob@example.com"], "addresses": [{"city": "New York", "country": "US", "primary": True}]},
        {"source": "shopify", "id": "2002", "first_name": "Olivia", "last_name": "Park",
         "assigned_associate": "mia@maison.example", "emails": ["olivia@example.com"],
         "addresses": [{"city": "Austin", "region": "TX", "country": "US", "primary": True}]},
    )  # fmt: skip
    assert alicia and bob and olivia
    ref = {"source": "shopify", "id": "1001"}
    ok(db, "orders",
       order("W-1", "2026-01-10T10:00:00Z", [("COAT-M", 1, "200.00"), ("SCARF", 2, "50.00")], ref),
       order("S-2", "2026-03-10T10:00:00Z", [("PERF-50", 1, "80.00")], ref, channel="store", store="PAR",
             associate="ana@maison.example"))  # fmt: skip
    ok(db, "returns",
       {"source": "pos", "id": "R-1", "order_id": "W-1", "order_source": "shop", "channel": "store",
        "store": "PAR", "currency": "EUR", "returned_at": "2026-01-20T15:00:00Z",
        "lines": [{"order_line": "1", "sku": "COAT-M", "quantity": 1}]})  # fmt: skip
    ok(db, "events",
       {"source": "floor", "id": "T-1", "type": "try_on", "occurred_at": "2026-06-01T11:00:00Z", "customer": ref,
        "sku": "COAT-M", "store": "PAR"},
       {"source": "web", "id": "V-1", "type": "wishlist_add", "occurred_at": "2026-10-01T20:00:00Z",
        "customer": ref, "sku": "TOTE"})  # fmt: skip
    return Clientele(staff, alicia, bob, olivia)
