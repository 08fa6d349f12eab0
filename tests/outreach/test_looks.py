"""Looks: an associate puts a few products together for a client, with a note, behind an unguessable code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers.models import Customer, TimelineEntry
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.outreach import looks
from rapport.outreach.models import LookItem
from tests.factories import alicia, ingest, ok, seed_reference


@pytest.fixture
def shop(db: Database) -> Database:
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    ok(ingest(db, "products", {"sku": "BAG-OLD", "name": "Old bag", "price": "900", "currency": "EUR",
                               "active": False}))  # fmt: skip
    return db


def ids(db: Database) -> dict[str, int]:
    with db.read() as s:
        found = dict(s.execute(select(Product.sku, Product.id)).all())
        found["ana"] = s.scalar(select(Associate.id).where(Associate.code == "ANA"))
        found["alicia"] = s.scalar(select(Customer.id).where(Customer.first_name == "Alicia"))
    return found


def make(db: Database, **given: object) -> looks.LookView:
    n = ids(db)
    values: dict[str, object] = {
        "associate_id": n["ana"], "customer_id": n["alicia"], "title": "For the opera", "note": "Warm and light.",
        "skus_or_product_ids": ["SCARF-SILK", n["COAT-CAMEL-M"]],
    }  # fmt: skip
    values.update(given)
    with db.write() as s:
        return looks.create_look(s, **values)  # type: ignore[arg-type]


def refused(db: Database, **given: object) -> dict[str, str]:
    with pytest.raises(InvalidRecord) as caught:
        make(db, **given)
    return {e.field: e.message for e in caught.value.errors}


def test_a_look_keeps_its_products_in_the_order_chosen_behind_an_unguessable_code(shop: Database) -> None:
    n = ids(shop)
    look = make(shop, skus_or_product_ids=["SCARF-SILK", n["COAT-CAMEL-M"], "SCARF-SILK"])  # twice: once
    assert [p.sku for p in look.products] == ["SCARF-SILK", "COAT-CAMEL-M"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", look.code) and look.path == f"/looks/{look.code}"
    assert (look.title, look.note, look.customer_id, look.associate_id) == ("For the opera", "Warm and light.",
                                                                          n["alicia"], n["ana"])  # fmt: skip
    with shop.read() as s:
        rows = s.execute(select(LookItem.product_id, LookItem.position).order_by(LookItem.position)).all()
    assert [tuple(r) for r in rows] == [(n["SCARF-SILK"], 0), (n["COAT-CAMEL-M"], 1)]
    assert make(shop).code != look.code


def test_making_a_look_writes_nothing_on_the_timeline_until_it_is_sent(shop: Database) -> None:
    with shop.read() as s:
        before = s.scalar(select(func.count()).select_from(TimelineEntry))
    make(shop)
    with shop.read() as s:
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == before


def test_each_problem_is_refused_naming_its_field(shop: Database) -> None:
    assert refused(shop, title="   ") == {"title": "give the look a title"}
    assert "at most 200" in refused(shop, title="x" * 201)["title"]
    assert "at most 2000" in refused(shop, note="x" * 2001)["note"]
    assert refused(shop, skus_or_product_ids=[]) == {"products": "choose at least one product"}
    assert "at most 12" in refused(shop, skus_or_product_ids=list(range(1, 14)))["products"]
    assert "'NOPE'" in refused(shop, skus_or_product_ids=["SCARF-SILK", "NOPE"])["products"]
    assert "999" in refused(shop, skus_or_product_ids=[999])["products"]
    assert "no longer sold" in refused(shop, skus_or_product_ids=["BAG-OLD"])["products"]
    assert "associate_id" in refused(shop, associate_id=999)
    # All at once: the builder shows each beside its field.
    assert set(refused(shop, title="", note="x" * 2001, skus_or_product_ids=[])) == {"title", "note", "products"}


def test_the_public_look_names_the_associate_and_store_and_formats_prices(shop: Database) -> None:
    look = make(shop)
    with shop.read() as s:
        public = looks.look_of(s, look.code)
    assert public is not None
    assert (public.title, public.note, public.associate_name, public.store_name) == (
        "For the opera", "Warm and light.", "Ana", "Paris Saint-Honoré")  # fmt: skip
    scarf, coat = public.products
    assert (coat.name, coat.brand, coat.price, coat.colour, coat.size) == ("Camel wool coat", "Maison", "€1,200.00",
                                                                           "camel", "M")  # fmt: skip
    assert coat.image_url == "/static/products/COAT-CAMEL.svg"  # the drawn tile: the catalogue has no picture
    assert coat.url == "/looks/product/COAT-CAMEL-M" and scarf.price == "€45.50"


def test_an_unknown_or_malformed_code_finds_no_look(shop: Database) -> None:
    make(shop)
    with shop.read() as s:
        assert looks.look_of(s, "A" * 24) is None
        assert looks.look_of(s, "../../etc/passwd") is None
        assert looks.look_of(s, "x" * 500) is None
        assert looks.look_of(s, "") is None


def test_an_associates_looks_and_a_clients_looks_come_newest_first(shop: Database, fixed_clock) -> None:
    first = make(shop, title="First")
    fixed_clock.advance(timedelta(hours=1))
    second = make(shop, title="Second", customer_id=None)  # for anyone
    fixed_clock.advance(timedelta(hours=1))
    third = make(shop, title="Third")
    n = ids(shop)
    with shop.read() as s:
        assert [v.id for v in looks.looks_of_associate(s, n["ana"])] == [third.id, second.id, first.id]
        assert [v.id for v in looks.looks_of_associate(s, n["ana"], limit=1)] == [third.id]
        mine = looks.looks_for_client(s, n["alicia"])
    assert [v.title for v in mine] == ["Third", "First"]
    assert [p.sku for p in mine[0].products] == ["SCARF-SILK", "COAT-CAMEL-M"]


def test_the_builder_search_finds_sellable_skus_by_code_or_name(shop: Database) -> None:
    with shop.read() as s:
        assert [p.sku for p in looks.find_products(s, "coat-camel")] == ["COAT-CAMEL-M"]
        assert [p.sku for p in looks.find_products(s, "SILK")] == ["SCARF-SILK"]
        assert looks.find_products(s, "old bag") == []  # discontinued
        assert looks.find_products(s, "  ") == []
