"""Holds: put aside for a client at a store, visible on their profile, released, lapsed on time with
the associate told, converted when the client buys it there — and refused clearly otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from rapport.associates.models import AuditEvent, Notification
from rapport.customers.models import TimelineEntry
from rapport.errors import Conflict, InvalidRecord, NotFound
from rapport.inventory import holds, stock
from rapport.inventory.models import Location, StockLevel
from tests.factories import alicia, ingest, ok, order, seed_reference


@pytest.fixture
def shop(db):
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 2},
              {"sku": "SCARF-SILK", "location": "PAR", "on_hand": 5}))  # fmt: skip
    ok(ingest(db, "locations", {"code": "WH", "name": "Warehouse", "kind": "warehouse", "country": "FR"}))
    return db


def _alicia(db) -> int:
    from rapport.identity.models import Identifier

    with db.read() as s:
        return s.scalar(select(Identifier.customer_id).where(Identifier.value == "alicia@example.com"))


def _ana(db) -> int:
    from rapport.associates.models import Associate

    with db.read() as s:
        return s.scalar(select(Associate.id).where(Associate.code == "ANA"))


def _coat_row(db) -> tuple[int, int]:
    with db.read() as s:
        r = s.execute(
            select(StockLevel.on_hand, StockLevel.reserved)
            .join(Location, Location.id == StockLevel.location_id)
            .where(Location.code == "PAR")
            .order_by(StockLevel.product_id)
        ).first()
    assert r is not None
    return r.on_hand, r.reserved


def test_putting_the_coat_aside_takes_it_off_what_can_be_promised_and_shows_on_the_timeline(shop):
    cid, ana = _alicia(shop), _ana(shop)
    until = datetime(2026, 11, 23, 19, 30, tzinfo=UTC)
    with shop.write() as s:
        hold = holds.place_hold(s, customer_id=cid, sku="COAT-CAMEL-M", location_code="PAR", until=until,
                                note="after work", associate_id=ana)  # fmt: skip
    assert (hold.status, hold.quantity, hold.location_code, hold.client_name) == ("active", 1, "PAR", "Alicia Moreau")
    assert hold.associate_name == "Ana" and hold.expires_at == until
    assert _coat_row(shop) == (2, 1)
    with shop.read() as s:
        assert [h.id for h in holds.holds_of_client(s, cid)] == [hold.id]
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "hold")).one()
        assert entry.summary == "Camel wool coat (M) put aside at Paris Saint-Honoré until Mon 23 Nov 20:30"
        assert s.scalars(select(AuditEvent.action)).all()[-1] == "hold.placed"


def test_a_hold_is_refused_clearly_and_nothing_is_written(shop):
    cid = _alicia(shop)
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    cases = [
        ({"sku": "NOPE"}, InvalidRecord, "sku"),
        ({"location_code": "XXX"}, InvalidRecord, "location"),
        ({"location_code": "WH"}, InvalidRecord, "location"),
        ({"until": now - timedelta(minutes=1)}, InvalidRecord, "until"),
        ({"until": now + timedelta(days=15)}, InvalidRecord, "until"),
        ({"quantity": 0}, InvalidRecord, "quantity"),
        ({"quantity": 3}, stock.OutOfStock, None),
        ({"customer_id": 999_999}, NotFound, None),
    ]
    for change, error, field in cases:
        args = {"customer_id": cid, "sku": "COAT-CAMEL-M", "location_code": "PAR", **change}
        with pytest.raises(error) as refused, shop.write() as s:
            holds.place_hold(s, **args)
        if field:
            assert refused.value.errors[0].field == field, change  # type: ignore[attr-defined]
    assert "2 available, 3 wanted" in str(stock.OutOfStock([stock.Shortage(1, 1, 3, 2)]))
    assert _coat_row(shop) == (2, 0)
    with shop.read() as s:
        assert holds.holds_of_client(s, cid) == []


def test_the_same_request_twice_places_one_hold(shop):
    cid = _alicia(shop)
    for _ in range(2):
        with shop.write() as s:
            hold = holds.place_hold(s, customer_id=cid, sku="COAT-CAMEL-M", location_code="PAR",
                                    idempotency_key="tap-12345678")  # fmt: skip
    assert _coat_row(shop) == (2, 1)
    with shop.read() as s:
        assert [h.id for h in holds.holds_of_client(s, cid)] == [hold.id]


def test_release_gives_it_back_once(shop):
    cid = _alicia(shop)
    with shop.write() as s:
        hold = holds.place_hold(s, customer_id=cid, sku="COAT-CAMEL-M", location_code="PAR")
    with shop.write() as s:
        assert holds.release_hold(s, hold.id, reason="changed her mind").status == "released"
    with pytest.raises(Conflict, match="already released"), shop.write() as s:
        holds.release_hold(s, hold.id)
    assert _coat_row(shop) == (2, 0)


def test_a_hold_lapses_at_its_time_and_the_associate_is_told(shop, fixed_clock):
    cid, ana = _alicia(shop), _ana(shop)
    with shop.write() as s:
        hold = holds.place_hold(s, customer_id=cid, sku="COAT-CAMEL-M", location_code="PAR", associate_id=ana,
                                until=fixed_clock.now() + timedelta(hours=3))  # fmt: skip
    fixed_clock.advance(timedelta(hours=2, minutes=59))
    with shop.write() as s:
        assert holds.expire_lapsed(s) == 0
    fixed_clock.advance(timedelta(minutes=1))
    with shop.write() as s:
        assert holds.expire_lapsed(s) == 1
    with shop.write() as s:
        assert holds.expire_lapsed(s) == 0
    assert _coat_row(shop) == (2, 0)
    with shop.read() as s:
        assert holds.get_hold(s, hold.id).status == "expired"
        note = s.scalars(select(Notification)).one()
        assert note.associate_id == ana and note.title == "Hold lapsed: Camel wool coat (M) for Alicia Moreau"
        kinds = s.scalars(select(TimelineEntry.summary).where(TimelineEntry.kind == "hold")).all()
        assert any(k.endswith(": lapsed") for k in kinds)


def test_buying_it_at_that_store_converts_the_hold(shop):
    cid = _alicia(shop)
    with shop.write() as s:
        hold = holds.place_hold(s, customer_id=cid, sku="COAT-CAMEL-M", location_code="PAR")
    ok(ingest(shop, "orders", order("T-1", customer={"email": "alicia@example.com"})))
    with shop.read() as s:
        assert holds.get_hold(s, hold.id).status == "converted"
    assert _coat_row(shop) == (1, 0)  # the coat left with her; nothing is promised any more


def test_a_merged_clients_holds_follow_the_survivor(shop):
    cid = _alicia(shop)
    with shop.write() as s:
        hold = holds.place_hold(s, customer_id=cid, sku="SCARF-SILK", location_code="PAR")
    ok(ingest(shop, "customers", {"source": "pos", "id": "P-9", "first_name": "Alicia", "last_name": "Moreau",
                                  "emails": [{"address": "ali.m@example.com"}]}))  # fmt: skip
    from rapport.identity.merge import merge_customers
    from rapport.identity.models import Identifier

    with shop.read() as s:
        other = s.scalar(select(Identifier.customer_id).where(Identifier.value == "ali.m@example.com"))
    with shop.write() as s:
        merge_customers(s, other, cid, reason="same person")
    with shop.read() as s:
        assert [h.id for h in holds.holds_of_client(s, other)] == [hold.id]
        assert [h.id for h in holds.holds_of_client(s, cid)] == [hold.id]  # the old id resolves


def test_the_retailer_sets_how_long_holds_last(shop, monkeypatch, fixed_clock):
    monkeypatch.setenv("RAPPORT_HOLD_DEFAULT_HOURS", "6")
    monkeypatch.setenv("RAPPORT_HOLD_MAX_DAYS", "2")
    from rapport.settings import get_settings

    get_settings.cache_clear()
    try:
        cid = _alicia(shop)
        with shop.write() as s:
            hold = holds.place_hold(s, customer_id=cid, sku="SCARF-SILK", location_code="PAR")
        assert hold.expires_at == fixed_clock.now() + timedelta(hours=6)
        with pytest.raises(InvalidRecord, match="at most 2 days"), shop.write() as s:
            holds.place_hold(s, customer_id=cid, sku="SCARF-SILK", location_code="PAR",
                             until=fixed_clock.now() + timedelta(days=3))  # fmt: skip
    finally:
        monkeypatch.delenv("RAPPORT_HOLD_DEFAULT_HOURS")
        monkeypatch.delenv("RAPPORT_HOLD_MAX_DAYS")
        get_settings.cache_clear()


def test_a_double_tap_racing_on_postgresql_places_one_hold(pg_db):
    import threading

    seed_reference(pg_db)
    ok(ingest(pg_db, "customers", alicia()))
    ok(ingest(pg_db, "stock", {"sku": "SCARF-SILK", "location": "PAR", "on_hand": 5}))
    cid = _alicia(pg_db)
    barrier = threading.Barrier(4)
    placed: list[int] = []
    errors: list[BaseException] = []

    def tap() -> None:
        barrier.wait()
        try:
            placed.append(holds.place_hold_once(pg_db, customer_id=cid, sku="SCARF-SILK", location_code="PAR",
                                                idempotency_key="tap-race-0001").id)  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(placed)) == 1 and len(placed) == 4
    with pg_db.read() as s:
        assert s.scalar(select(StockLevel.reserved).join(Location, Location.id == StockLevel.location_id)
                        .where(Location.code == "PAR")) == 1  # fmt: skip
