"""Signals onto the timeline; products, stores, associates and stock upserted on their natural keys."""

from __future__ import annotations

from sqlalchemy import select

from rapport.catalog.models import Product
from rapport.customers.models import Note, TimelineEntry, WishlistItem
from rapport.inventory.models import StockLevel, StockSignal
from tests.factories import alicia, ingest, ok, seed_reference


def _event(kind, at, **extra):
    return {
        "source": "web",
        "type": kind,
        "occurred_at": at,
        "customer": {"email": "alicia@example.com"},
        **extra,
    }


def test_wishlist_follows_add_and_remove_in_time_order_and_replays_change_nothing(db):
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    add = _event("wishlist_add", "2026-11-01T10:00:00Z", sku="COAT-CAMEL-M", id="w1")
    ok(ingest(db, "events", add))
    assert ok(ingest(db, "events", add)).outcomes[0].status == "unchanged"
    with db.read() as s:
        assert len(s.scalars(select(WishlistItem)).all()) == 1
    ok(ingest(db, "events", _event("wishlist_remove", "2026-10-01T10:00:00Z", sku="COAT-CAMEL-M", id="w0")))
    with db.read() as s:
        assert len(s.scalars(select(WishlistItem)).all()) == 1  # an older removal does not undo a newer add
    ok(ingest(db, "events", _event("wishlist_remove", "2026-11-02T10:00:00Z", sku="COAT-CAMEL-M", id="w2")))
    with db.read() as s:
        assert s.scalars(select(WishlistItem)).all() == []
        assert s.scalar(select(TimelineEntry.summary).where(TimelineEntry.external_id == "w1")) == (
            "Added to wishlist Camel wool coat"
        )


def test_an_event_without_an_id_is_deduplicated_by_its_content(db):
    seed_reference(db)
    like = {
        "source": "instagram",
        "type": "social_like",
        "occurred_at": "2026-11-01T10:00:00Z",
        "customer": {"source": "instagram", "id": "@alicia"},
        "sku": "COAT-CAMEL-M",
    }
    assert [o.status for o in ingest(db, "events", like, like).outcomes] == ["created", "unchanged"]
    assert ingest(db, "events", like).outcomes[0].status == "unchanged"


def test_a_try_on_credits_the_associate_and_a_note_event_becomes_a_note(db):
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    ok(
        ingest(
            db,
            "events",
            _event("try_on", "2026-11-03T15:00:00Z", sku="COAT-CAMEL-M", store="PAR", associate="ANA", id="t1"),
            _event(
                "note",
                "2026-11-03T15:05:00Z",
                associate="ana@maison.example",
                id="n1",
                data={"text": "Prefers the camel over black; back on Friday."},
            ),
        )
    )
    with db.read() as s:
        try_on = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "try_on")).one()
        note = s.scalars(select(Note)).one()
    assert (try_on.channel, try_on.actor_kind) == ("store", "associate")
    assert note.body.startswith("Prefers the camel") and note.author_associate_id == try_on.actor_id


def test_events_need_an_identifiable_client_and_known_products(db):
    seed_reference(db)
    result = ingest(
        db,
        "events",
        {
            "source": "web",
            "type": "product_view",
            "occurred_at": "2026-11-01T10:00:00Z",
            "customer": {},
            "sku": "COAT-CAMEL-M",
        },
        _event("product_view", "2026-11-01T10:00:00Z", sku="NOPE"),
        _event("product_view", "2026-11-01T10:00:00"),  # naive time
        _event("cart_add", "2026-11-01T10:00:00Z"),
    )
    assert [o.status for o in result.outcomes] == ["rejected"] * 4
    assert [o.errors[0].field for o in result.outcomes] == ["(record)", "sku", "occurred_at", "(record)"]
    assert "needs a sku" in result.outcomes[3].errors[0].message


def test_products_upsert_on_sku_and_report_what_changed(db):
    seed_reference(db)
    same = {
        "sku": "SCARF-SILK",
        "name": "Silk scarf",
        "brand": "Maison",
        "category": "accessories",
        "price": "45.50",
        "currency": "EUR",
    }
    assert ok(ingest(db, "products", same)).outcomes[0].status == "unchanged"
    assert ok(ingest(db, "products", {**same, "price": "49.00"})).outcomes[0].status == "updated"
    with db.read() as s:
        assert s.scalar(select(Product.price_minor).where(Product.sku == "SCARF-SILK")) == 4900
    bad = ingest(db, "products", {**same, "price": "-1"}, {**same, "currency": "ZZZ"}, {**same, "price": "abc"})
    assert [o.errors[0].field for o in bad.outcomes] == ["price", "currency", "price"]


def test_stock_counts_are_absolute_and_an_older_count_is_ignored(db):
    seed_reference(db)
    count = {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 3, "counted_at": "2026-11-20T08:00:00Z"}
    assert ok(ingest(db, "stock", count)).outcomes[0].status == "created"
    assert ok(ingest(db, "stock", count)).outcomes[0].status == "unchanged"
    assert (
        ok(ingest(db, "stock", {**count, "on_hand": 1, "counted_at": "2026-11-19T08:00:00Z"})).outcomes[0].status
        == "unchanged"
    )
    assert (
        ok(ingest(db, "stock", {**count, "on_hand": 2, "counted_at": "2026-11-21T08:00:00Z"})).outcomes[0].status
        == "updated"
    )
    with db.read() as s:
        assert s.scalars(select(StockLevel.on_hand)).one() == 2
    bad = ingest(db, "stock", {**count, "on_hand": -1}, {**count, "location": "XXX"}, {**count, "on_hand": 1.5})
    assert [o.errors[0].field for o in bad.outcomes] == ["on_hand", "location", "on_hand"]


def test_a_sku_counted_again_after_selling_out_signals_back_in_stock_once(db):
    seed_reference(db)
    count = {"sku": "COAT-CAMEL-M", "location": "PAR"}
    ok(ingest(db, "stock", {**count, "on_hand": 2, "counted_at": "2026-11-20T08:00:00Z"}))  # first count: no signal
    ok(ingest(db, "stock", {**count, "on_hand": 0, "counted_at": "2026-11-21T08:00:00Z"}))  # sold out
    ok(ingest(db, "stock", {**count, "on_hand": 4, "counted_at": "2026-11-22T08:00:00Z"}))  # back
    ok(ingest(db, "stock", {**count, "on_hand": 4, "counted_at": "2026-11-22T08:00:00Z"}))  # replayed
    ok(ingest(db, "stock", {**count, "on_hand": 6, "counted_at": "2026-11-23T08:00:00Z"}))  # more: not "back"
    with db.read() as s:
        signals = s.execute(select(StockSignal.kind, StockSignal.on_hand)).all()
    assert signals == [("back_in_stock", 4)]


def test_an_associate_email_belongs_to_one_associate(db):
    seed_reference(db)
    result = ingest(db, "associates", {"code": "ZED", "email": "ANA@maison.example", "display_name": "Zed"})
    assert result.outcomes[0].errors[0].field == "email"
    assert "already belongs to associate ANA" in result.outcomes[0].errors[0].message


def test_a_batch_mixing_known_and_new_locations_updates_one_and_creates_the_other(db):
    seed_reference(db)
    result = ok(ingest(db, "locations",
                       {"code": "PAR", "name": "Paris Saint-Honoré (flagship)", "country": "FR"},
                       {"code": "LYO", "name": "Lyon", "country": "FR"}))  # fmt: skip
    assert [o.status for o in result.outcomes] == ["updated", "created"]
