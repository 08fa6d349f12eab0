"""Stock primitives: promises are all or nothing, deltas apply once, counts keep promises, and a
row that can promise again after having nothing signals back in stock — once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rapport import clock
from rapport.inventory import stock
from rapport.inventory.models import Reservation, StockLevel, StockMovement, StockSignal
from tests.factories import ingest, ok, seed_reference


def _ids(db) -> tuple[int, int, int]:
    from rapport.catalog.models import Product
    from rapport.inventory.models import Location

    with db.read() as s:
        coat = s.scalar(select(Product.id).where(Product.sku == "COAT-CAMEL-M"))
        scarf = s.scalar(select(Product.id).where(Product.sku == "SCARF-SILK"))
        paris = s.scalar(select(Location.id).where(Location.code == "PAR"))
    return coat, scarf, paris


def _row(db, product_id: int, location_id: int) -> tuple[int, int, int]:
    with db.read() as s:
        r = s.execute(
            select(StockLevel.on_hand, StockLevel.reserved, StockLevel.safety_stock).where(
                StockLevel.product_id == product_id, StockLevel.location_id == location_id
            )
        ).one()
    return r.on_hand, r.reserved, r.safety_stock


def _signals(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(StockSignal)) or 0


@pytest.fixture
def shop(db):
    seed_reference(db)
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 3, "safety_stock": 1},
              {"sku": "SCARF-SILK", "location": "PAR", "on_hand": 1}))  # fmt: skip
    return db


def test_available_is_on_hand_less_reserved_less_safety_stock(shop):
    coat, scarf, paris = _ids(shop)
    with shop.write() as s:
        stock.reserve(s, [stock.Want(coat, paris, 1)], kind="hold")
    with shop.read() as s:
        assert stock.available(s, [(coat, paris), (scarf, paris), (coat, 999)]) == {
            (coat, paris): 1, (scarf, paris): 1, (coat, 999): 0,
        }  # fmt: skip


def test_a_promise_is_all_or_nothing_and_names_what_is_short(shop):
    coat, scarf, paris = _ids(shop)
    with shop.write() as s:
        with pytest.raises(stock.OutOfStock) as refused:
            stock.reserve(
                s, [stock.Want(coat, paris, 1), stock.Want(scarf, paris, 2)], kind="hold",
                labels={(scarf, paris): "SCARF-SILK at Paris"},
            )  # fmt: skip
        assert "SCARF-SILK at Paris: 1 available, 2 wanted" in refused.value.message
        assert refused.value.status_code == 409
        # the transaction is still usable and the coat's unit was given back
        assert stock.available(s, [(coat, paris)])[(coat, paris)] == 2
    assert _row(shop, coat, paris) == (3, 0, 1)
    with shop.read() as s:
        assert s.scalar(select(func.count()).select_from(Reservation)) == 0


def test_releasing_twice_gives_back_once(shop):
    coat, _, paris = _ids(shop)
    with shop.write() as s:
        [rid] = stock.reserve(s, [stock.Want(coat, paris, 2)], kind="hold")
    with shop.write() as s:
        assert stock.release(s, [rid]) == 1
    with shop.write() as s:
        assert stock.release(s, [rid]) == 0
    assert _row(shop, coat, paris) == (3, 0, 1)


def test_consuming_takes_units_out_of_stock_with_a_ledger_row(shop):
    coat, _, paris = _ids(shop)
    with shop.write() as s:
        [rid] = stock.reserve(s, [stock.Want(coat, paris, 1)], kind="allocation")
    with shop.write() as s:
        stock.consume(s, [rid], status="fulfilled", reason="collected")
    with shop.write() as s:
        assert stock.consume(s, [rid], status="fulfilled", reason="collected") == []  # twice: nothing moves
    assert _row(shop, coat, paris) == (2, 0, 1)
    with shop.read() as s:
        moves = s.execute(select(StockMovement.delta, StockMovement.on_hand_after, StockMovement.reason)).all()
    assert moves == [(-1, 2, "collected")]


def test_a_delta_delivered_twice_moves_stock_once(shop):
    delta = {"source": "wms", "id": "rcpt-77", "sku": "SCARF-SILK", "location": "PAR", "delta": 4,
             "reason": "restock"}  # fmt: skip
    assert ok(ingest(shop, "stock_adjustments", delta)).outcomes[0].status == "created"
    assert ok(ingest(shop, "stock_adjustments", delta)).outcomes[0].status == "unchanged"
    _, scarf, paris = _ids(shop)
    assert _row(shop, scarf, paris)[0] == 5
    with shop.read() as s:
        assert s.execute(select(StockMovement.on_hand_after)).scalars().all() == [5]


def test_bad_deltas_name_the_field_and_change_nothing(shop):
    bad = ingest(
        shop, "stock_adjustments",
        {"source": "wms", "id": "a", "sku": "NOPE", "location": "PAR", "delta": 1},
        {"source": "wms", "id": "b", "sku": "SCARF-SILK", "location": "XXX", "delta": 1},
        {"source": "wms", "id": "c", "sku": "SCARF-SILK", "location": "PAR", "delta": 0},
        {"source": "wms", "id": "d", "sku": "SCARF-SILK", "location": "PAR", "delta": 1.5},
    )  # fmt: skip
    assert [o.errors[0].field for o in bad.outcomes] == ["sku", "location", "delta", "delta"]
    _, scarf, paris = _ids(shop)
    assert _row(shop, scarf, paris)[0] == 1


def test_a_recount_keeps_what_is_promised(shop):
    coat, _, paris = _ids(shop)
    with shop.write() as s:
        stock.reserve(s, [stock.Want(coat, paris, 2)], kind="hold")
    ok(ingest(shop, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 5}))
    assert _row(shop, coat, paris) == (5, 2, 1)


def test_back_in_stock_is_signalled_once_when_a_row_can_promise_again(shop):
    _, scarf, paris = _ids(shop)
    with shop.write() as s:
        [rid] = stock.reserve(s, [stock.Want(scarf, paris, 1)], kind="hold")  # the last one is promised
    assert _signals(shop) == 0
    with shop.write() as s:
        stock.release(s, [rid])  # none -> some: back
    assert _signals(shop) == 1
    with shop.write() as s:
        stock.release(s, [rid])  # replayed: nothing
    ok(ingest(shop, "stock_adjustments", {"source": "wms", "id": "r1", "sku": "SCARF-SILK", "location": "PAR",
                                          "delta": 2}))  # some -> more: not "back"  # fmt: skip
    assert _signals(shop) == 1


def test_a_lapsed_hold_is_given_back_when_someone_else_needs_the_unit(shop, fixed_clock):
    _, scarf, paris = _ids(shop)
    with shop.write() as s:
        stock.reserve(s, [stock.Want(scarf, paris, 1)], kind="hold", expires_at=clock.now() + timedelta(hours=1))
    fixed_clock.advance(timedelta(hours=2))
    with shop.write() as s:  # before the sweep has run, the promise is still counted — and lapses now
        [rid] = stock.reserve(s, [stock.Want(scarf, paris, 1)], kind="hold")
    with shop.read() as s:
        statuses = dict(s.execute(select(Reservation.id, Reservation.status)).all())
    assert sorted(statuses.values()) == ["active", "expired"] and statuses[rid] == "active"
    assert _row(shop, scarf, paris) == (1, 1, 0)
