"""Suggestions for a client: what they asked for, then what they like, with the reason an associate can say;
never what they returned or already have, in their size, and only what can be promised."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rapport import clock
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.inventory.models import Location
from rapport.outreach.suggestions import Suggestion, size_for, suggest_products
from tests.factories import alicia, ingest, ok, order, seed_reference
from tests.statements import statements

ALICIA = {"source": "shopify", "id": "1001"}


def product(
    sku: str, name: str, *, style: str, brand: str = "Atelier", category: str = "coats", colour: str | None = "camel",
    size: str | None = None, price: str = "500", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    return {"sku": sku, "style_code": style, "name": name, "brand": brand, "category": category, "colour": colour,
            "size": size, "price": price, "currency": "EUR", **extra}  # fmt: skip


def stock(db: Database, *counts: tuple[str, str, int]) -> None:
    ok(ingest(db, "stock", *({"sku": sku, "location": loc, "on_hand": n} for sku, loc, n in counts)))


def days_ago(days: int) -> str:
    return (clock.now() - timedelta(days=days)).isoformat()


@pytest.fixture
def shop(db: Database) -> Database:
    """Alicia loves camel, wears M and 38; the catalogue around her, stocked in Paris unless said otherwise."""
    seed_reference(db)
    ok(ingest(db, "products",
        product("COAT-CAMEL-L", "Camel wool coat", style="COAT-CAMEL", brand="Maison", size="L", price="1200"),
        product("TRENCH-CAMEL-S", "Camel trench coat", style="TRENCH-CAMEL", size="S"),
        product("TRENCH-CAMEL-M", "Camel trench coat", style="TRENCH-CAMEL", size="M"),
        product("TRENCH-CAMEL-L", "Camel trench coat", style="TRENCH-CAMEL", size="L"),
        product("JACKET-CAMEL-S", "Camel jacket", style="JACKET-CAMEL", category="jackets", size="S"),
        product("JACKET-CAMEL-L", "Camel jacket", style="JACKET-CAMEL", category="jackets", size="L"),
        product("JACKET-CAMEL-M", "Camel jacket", style="JACKET-CAMEL", category="jackets", size="M"),
        product("KNIT-IVORY-M", "Ivory cashmere sweater", style="KNIT-IVORY", category="knitwear", colour="ivory",
                size="M"),
        product("BOOT-BLACK-38", "Black ankle boot", style="BOOT-BLACK", category="boots", colour="black", size="38"),
        product("GLOVES-BLACK", "Leather gloves", style="GLOVES-BLACK", brand="Maison", category="gloves",
                colour="black"),
        product("BAG-CAMEL", "Camel bucket bag", style="BAG-CAMEL", category="bags"),
        product("BELT-CAMEL", "Camel belt", style="BELT-CAMEL", category="belts"),
        product("HAT-CAMEL", "Camel felt hat", style="HAT-CAMEL", category="hats"),
        product("TOTE-CAMEL", "Camel tote", style="TOTE-CAMEL", category="bags", active=False),
        product("DRESS-NAVY-M", "Navy dress", style="DRESS-NAVY", brand="Other", category="dresses",
                colour="navy", size="M"),
        product("SERUM-30", "Face serum", style="SERUM", brand="Lumen", category="skincare", colour=None,
                replenishment_days=90),
    ))  # fmt: skip
    stock(db, ("COAT-CAMEL-M", "PAR", 2), ("COAT-CAMEL-L", "PAR", 3), ("SCARF-SILK", "PAR", 4), ("FRAG-50", "PAR", 9),
          ("TRENCH-CAMEL-S", "PAR", 1), ("TRENCH-CAMEL-M", "PAR", 2), ("TRENCH-CAMEL-L", "PAR", 5),
          ("JACKET-CAMEL-S", "PAR", 2), ("JACKET-CAMEL-L", "PAR", 2), ("JACKET-CAMEL-M", "PAR", 0),
          ("KNIT-IVORY-M", "PAR", 1), ("BOOT-BLACK-38", "PAR", 1), ("GLOVES-BLACK", "PAR", 6),
          ("BAG-CAMEL", "PAR", 0), ("BELT-CAMEL", "NYC", 3), ("HAT-CAMEL", "PAR", 1),
          ("TOTE-CAMEL", "PAR", 5), ("DRESS-NAVY-M", "PAR", 5),
          ("SERUM-30", "PAR", 5))  # fmt: skip
    ok(ingest(db, "customers", alicia(preferences={"colours": ["Camel"]}, sizes={"tops": "M", "shoes": "38"})))
    ok(ingest(db, "orders",
        order("O1", customer=ALICIA, placed_at=days_ago(200)),  # the camel coat, in M
        order("O2", customer=ALICIA, placed_at=days_ago(58), lines=[
            {"sku": "FRAG-50", "quantity": 1, "unit_price": "120"},
            {"sku": "SCARF-SILK", "quantity": 1, "unit_price": "45.50"},
        ]),
        order("O3", customer=ALICIA, placed_at=days_ago(10), lines=[{"sku": "SERUM-30", "quantity": 1,
                                                                     "unit_price": "500"}]),
    ))  # fmt: skip
    ok(ingest(db, "returns", {
        "source": "pos", "id": "R1", "order_id": "O2", "channel": "store", "store": "PAR", "currency": "EUR",
        "returned_at": days_ago(50), "lines": [{"sku": "SCARF-SILK", "quantity": 1}],
    }))  # fmt: skip
    ok(ingest(db, "events",
        {"source": "web", "id": "W1", "type": "wishlist_add", "occurred_at": days_ago(5), "customer": ALICIA,
         "channel": "online", "sku": "KNIT-IVORY-M"},
        {"source": "floor", "id": "T1", "type": "try_on", "occurred_at": days_ago(12), "customer": ALICIA,
         "channel": "store", "store": "PAR", "sku": "BOOT-BLACK-38"},
    ))  # fmt: skip
    return db


def alicia_id(db: Database) -> int:
    with db.read() as s:
        found = s.scalar(select(Customer.id).where(Customer.first_name == "Alicia"))
        assert found is not None
        return found


def store_id(db: Database, code: str) -> int:
    with db.read() as s:
        found = s.scalar(select(Location.id).where(Location.code == code))
        assert found is not None
        return found


def suggest(db: Database, customer_id: int | None = None, **options: Any) -> list[Suggestion]:
    with db.read() as s:
        return suggest_products(s, customer_id or alicia_id(db), **options)


def by_sku(found: list[Suggestion]) -> dict[str, Suggestion]:
    return {s.sku: s for s in found}


def test_what_the_client_asked_for_comes_first_each_with_a_reason_to_say(shop: Database) -> None:
    found = suggest(shop, limit=20)
    assert [(s.sku, s.reason) for s in found[:3]] == [
        ("KNIT-IVORY-M", "on their wishlist"),
        ("BOOT-BLACK-38", "tried on at Paris Saint-Honoré 12 days ago, not bought"),
        ("FRAG-50", "replenishment: last bought 58 days ago"),
    ]
    rest = by_sku(found[3:])
    assert rest["TRENCH-CAMEL-M"].reason == "in their favourite colour, camel"
    assert rest["GLOVES-BLACK"].reason == "from Maison, a brand they buy"
    assert rest["TRENCH-CAMEL-M"].price == "€500.00" and rest["TRENCH-CAMEL-M"].image_url.endswith("TRENCH-CAMEL.svg")
    assert "DRESS-NAVY-M" not in rest  # nothing they like about it
    assert len(suggest(shop, limit=2)) == 2


def test_never_what_was_returned_or_already_bought_except_a_consumable_due_again(shop: Database) -> None:
    found = by_sku(suggest(shop, limit=50))
    assert "SCARF-SILK" not in found  # bought and returned
    assert not {"COAT-CAMEL-M", "COAT-CAMEL-L"} & set(found)  # the coat they have, in any size
    assert "SERUM-30" not in found  # bought ten days ago: not due for months
    assert found["FRAG-50"].kind == "replenishment"  # bought 58 days ago, lasts about 60


def test_the_clients_size_is_chosen_and_a_style_sold_out_in_it_is_not_offered_in_another(shop: Database) -> None:
    found = by_sku(suggest(shop, limit=50))
    assert (found["TRENCH-CAMEL-M"].size, found["TRENCH-CAMEL-M"].in_size) == ("M", True)
    assert not {"TRENCH-CAMEL-S", "TRENCH-CAMEL-L"} & set(found)  # one suggestion per style
    assert not any(sku.startswith("JACKET-CAMEL") for sku in found)  # M sold out: not S or L instead
    assert found["BOOT-BLACK-38"].in_size  # shoes: 38
    assert not found["GLOVES-BLACK"].in_size  # one size


def test_only_what_can_be_promised_and_whether_it_is_at_the_associates_store(shop: Database) -> None:
    anywhere = by_sku(suggest(shop, limit=50))
    assert "BAG-CAMEL" not in anywhere and "TOTE-CAMEL" not in anywhere  # sold out; discontinued
    assert anywhere["BELT-CAMEL"].in_stock_here is None  # no store asked about
    in_paris = by_sku(suggest(shop, limit=50, location_id=store_id(shop, "PAR")))
    assert in_paris["BELT-CAMEL"].in_stock_here is False  # only in New York
    assert in_paris["TRENCH-CAMEL-M"].in_stock_here is True
    # Among equals (both liked for their colour alone), what is at hand comes first.
    in_new_york = [s.sku for s in suggest(shop, limit=50, location_id=store_id(shop, "NYC"))]
    assert in_new_york.index("BELT-CAMEL") < in_new_york.index("HAT-CAMEL")
    in_paris_order = list(in_paris)
    assert in_paris_order.index("HAT-CAMEL") < in_paris_order.index("BELT-CAMEL")


def test_a_client_with_nothing_to_go_on_gets_no_suggestions(shop: Database) -> None:
    (outcome,) = ok(ingest(shop, "customers", {"source": "pos", "id": "NEW", "first_name": "Noor"})).outcomes
    assert outcome.id is not None
    assert suggest(shop, outcome.id) == []


def test_a_long_history_costs_the_same_few_statements(shop: Database) -> None:
    with statements(shop, reads_only=True) as short:
        suggest(shop)
    ok(ingest(shop, "orders", *(
        order(f"X{i}", customer=ALICIA, placed_at=days_ago(300 + i), lines=[
            {"sku": "DRESS-NAVY-M", "quantity": 1, "unit_price": "500"}]) for i in range(30)
    )))  # fmt: skip
    with statements(shop, reads_only=True) as long:
        found = suggest(shop)
    assert len(long) == len(short) <= 7
    assert "DRESS-NAVY-M" not in by_sku(found)


def test_which_of_the_clients_sizes_applies_to_a_product() -> None:
    sizes = {"tops": "M", "bottoms": "S", "shoes": "38", "coats": "L"}
    assert size_for(sizes, "Coats", "Camel wool coat") == "L"  # recorded for the category itself
    assert size_for(sizes, "Denim", "Denim jacket") == "M"  # the name first: a jacket is a top
    assert size_for(sizes, "Denim", "Straight jeans") == "S"
    assert size_for(sizes, "Loafers", "Penny loafer") == "38"
    assert size_for(sizes, "Fragrance", "Eau de parfum") is None
    assert size_for({}, "Coats", "Coat") is None
