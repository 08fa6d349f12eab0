"""The sourcing rules: full lines only, one location for the whole order, the nearest, warehouses before
stores, the most available — configurable — and who may ship to a client."""

from __future__ import annotations

import pytest

from rapport.db import Database
from rapport.errors import Conflict
from rapport.inventory import fulfilment
from rapport.inventory.sourcing import Need, Plan, Site, SourcingRules, choose
from rapport.inventory.stock import OutOfStock
from tests.inventory.fulfilment_kit import level, online_order, put, seed

PARIS = (48.8697, 2.3215)
COAT, SCARF = 1, 2


def site(sid: int, code: str, kind: str = "store", at: tuple[float, float] | None = None) -> Site:
    return Site(sid, code, code, kind, at[0] if at else None, at[1] if at else None, True, kind == "store")


VERSAILLES = site(10, "VER", at=(48.8049, 2.1304))  # 15 km from Paris
LYON = site(11, "LYO", at=(45.7640, 4.8357))  # 390 km
ORLEANS = site(12, "WH-FR", "warehouse", at=(47.9025, 1.9090))  # 110 km
NOWHERE = site(13, "POP")  # no coordinates

COAT_LINE = Need(100, COAT, 1)
SCARF_LINE = Need(101, SCARF, 2)


def codes(plan: Plan) -> list[tuple[str, list[int]]]:
    return [(p.site.code, [n.order_line_id for n in p.needs]) for p in plan.parcels]


def test_one_location_for_the_whole_order_beats_a_nearer_split():
    stock = {(COAT, VERSAILLES.id): 1, (COAT, LYON.id): 1, (SCARF, LYON.id): 2}
    plan = choose([COAT_LINE, SCARF_LINE], [VERSAILLES, LYON], stock, destination=PARIS)
    assert codes(plan) == [("LYO", [100, 101])]


def test_when_the_order_must_be_split_the_fewest_parcels_win_then_the_nearest():
    stock = {(COAT, VERSAILLES.id): 1, (SCARF, LYON.id): 2, (SCARF, ORLEANS.id): 2}
    plan = choose([COAT_LINE, SCARF_LINE], [VERSAILLES, LYON, ORLEANS], stock, destination=PARIS)
    assert codes(plan) == [("VER", [100]), ("WH-FR", [101])]


def test_a_line_goes_only_where_its_whole_quantity_can_be_promised():
    stock = {(SCARF, VERSAILLES.id): 1, (SCARF, LYON.id): 2}
    plan = choose([SCARF_LINE], [VERSAILLES, LYON], stock, destination=PARIS)
    assert codes(plan) == [("LYO", [101])]
    short = choose([SCARF_LINE], [VERSAILLES], stock, destination=PARIS)
    assert short.unplaced == [SCARF_LINE] and short.best_available == {SCARF: 1}


def test_two_lines_of_one_sku_share_its_units():
    stock = {(COAT, VERSAILLES.id): 1, (COAT, LYON.id): 2}
    plan = choose([Need(1, COAT, 1), Need(2, COAT, 1)], [VERSAILLES, LYON], stock, destination=PARIS)
    assert codes(plan) == [("LYO", [1, 2])]


def test_the_nearest_location_wins_and_one_without_coordinates_comes_last():
    stock = {(COAT, s.id): 1 for s in (NOWHERE, LYON, ORLEANS, VERSAILLES)}
    assert codes(choose([COAT_LINE], [NOWHERE, LYON, ORLEANS, VERSAILLES], stock, destination=PARIS)) == [
        ("VER", [100])
    ]
    assert codes(choose([COAT_LINE], [NOWHERE, LYON], stock, destination=PARIS)) == [("LYO", [100])]


def test_without_a_destination_warehouses_come_first_then_the_most_available():
    stock = {(COAT, VERSAILLES.id): 9, (COAT, ORLEANS.id): 1, (COAT, LYON.id): 5}
    assert codes(choose([COAT_LINE], [VERSAILLES, ORLEANS, LYON], stock)) == [("WH-FR", [100])]
    stores_only = choose([COAT_LINE], [VERSAILLES, LYON], stock)
    assert codes(stores_only) == [("VER", [100])]  # most available


def test_the_order_of_the_rules_is_the_retailers():
    stock = {(COAT, VERSAILLES.id): 1, (COAT, ORLEANS.id): 1, (SCARF, ORLEANS.id): 2}
    default = choose([COAT_LINE, SCARF_LINE], [VERSAILLES, ORLEANS], stock, destination=PARIS)
    assert codes(default) == [("WH-FR", [100, 101])]
    nearest_first = SourcingRules(criteria=("nearest", "fewest_parcels", "warehouse_first", "most_available"))
    plan = choose([COAT_LINE, SCARF_LINE], [VERSAILLES, ORLEANS], stock, destination=PARIS, rules=nearest_first)
    assert codes(plan) == [("VER", [100]), ("WH-FR", [101])]
    stores_first = SourcingRules(kinds=("store", "warehouse"))
    assert codes(choose([COAT_LINE], [VERSAILLES, ORLEANS], stock, rules=stores_first)) == [("VER", [100])]
    with pytest.raises(ValueError, match="unknown sourcing criteria"):
        SourcingRules(criteria=("cheapest",))


# -- through the database: ship from store, endless aisle -------------------------------------------


@pytest.fixture
def places(db: Database) -> dict[str, int]:
    return seed(db)


def test_shipping_to_a_client_uses_only_locations_that_ship_online(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 5), ("COAT-CAMEL-M", "LYO", 1))  # Paris does not ship online orders
    order_id = online_order(db, "E1")
    with db.write() as s:
        [parcel] = fulfilment.source_order(s, order_id, ship_to="client", taken_at=places["PAR"])
    assert (parcel.kind, parcel.status, parcel.from_location.code, parcel.to_location) == (  # type: ignore[union-attr]
        "ship_to_client",
        "allocated",
        "LYO",
        None,
    )
    assert level(db, "COAT-CAMEL-M", "LYO") == (1, 1)
    with db.write() as s:
        shipped = fulfilment.mark_shipped(s, parcel.id, tracking="1Z999")
    assert (shipped.status, shipped.tracking, shipped.closed_at is not None) == ("shipped", "1Z999", True)
    assert level(db, "COAT-CAMEL-M", "LYO") == (0, 0)
    with pytest.raises(Conflict, match="already shipped"), db.write() as s:
        fulfilment.mark_shipped(s, parcel.id)


def test_ship_to_client_prefers_the_warehouse_then_the_store_nearest_where_the_order_was_taken(db, places):
    put(db, ("COAT-CAMEL-M", "VER", 1), ("COAT-CAMEL-M", "LYO", 1))
    taken_in_paris = online_order(db, "E2")
    with db.write() as s:
        [parcel] = fulfilment.source_order(s, taken_in_paris, taken_at=places["PAR"])
    assert parcel.from_location.code == "VER"  # type: ignore[union-attr]
    put(db, ("COAT-CAMEL-M", "WH-FR", 1))
    online = online_order(db, "E3")
    with db.write() as s:
        [parcel] = fulfilment.source_order(s, online)  # no store: warehouses first
    assert parcel.from_location.code == "WH-FR"  # type: ignore[union-attr]


def test_an_order_nobody_can_ship_is_refused_and_nothing_is_promised(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 3), ("SCARF-SILK", "LYO", 1))
    order_id = online_order(db, "E4", ("SCARF-SILK", 1), ("COAT-CAMEL-M", 1))
    refusal = "COAT-CAMEL-M at any one location that ships to clients: 0 available"
    with pytest.raises(OutOfStock, match=refusal), db.write() as s:
        fulfilment.source_order(s, order_id)
    assert level(db, "SCARF-SILK", "LYO") == (1, 0)


def test_endless_aisle_to_a_store_is_a_pickup_fed_by_a_transfer_from_anywhere(db, places):
    put(db, ("COAT-CAMEL-M", "NYC", 1))  # NYC ships nothing online, but may transfer to a store
    order_id = online_order(db, "E5")
    with db.write() as s:
        parts = fulfilment.source_order(s, order_id, ship_to=places["PAR"])
    assert [(p.kind, p.status, p.from_location.code) for p in parts] == [  # type: ignore[union-attr]
        ("pickup", "awaiting_transfer", "PAR"), ("transfer", "allocated", "NYC")
    ]  # fmt: skip
