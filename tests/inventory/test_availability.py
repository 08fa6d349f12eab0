"""Available to promise: on hand - reserved - safety stock, per size, here, at the nearest stores,
online and everywhere; the web shop's per-SKU look-up; the stock screen's product search."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.availability import (
    find_products,
    haversine_km,
    size_key,
    size_label,
    sku_availability,
    style_availability,
)
from tests.factories import ingest, ok
from tests.inventory.conftest import STYLE, Stocked
from tests.statements import statements


def by_size(view):  # type: ignore[no-untyped-def]
    return {s.label: s for s in view.sizes}


# -- the style view ----------------------------------------------------------------------------------


def test_reserved_units_and_safety_stock_are_not_available(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        view = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
    sizes = by_size(view)
    assert sizes["M"].here == 2  # 5 on hand, 2 held, 1 kept back
    assert sizes["XS"].here == 1
    assert sizes["S"].here == 0
    assert sizes["L"].total == 0  # 3 on hand in Milan, all promised
    assert sizes["S"].total == 2  # the warehouse keeps back 2 of its 1: nothing, not -1
    assert sizes["M"].total == 2 + 1 + 4 + 7 + 2
    assert (view.name, view.price, view.price_varies) == ("Silk slip dress", "€890.00", False)


def test_online_counts_only_the_locations_that_ship_online_orders(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        view = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
    sizes = by_size(view)
    assert sizes["M"].online == 7 + 4  # the warehouse and the Lyon store that ships; not Paris, London, Zurich
    assert sizes["S"].online == 0
    assert view.online == 11


def test_nearby_stores_are_the_closest_first_and_those_without_coordinates_last_by_name(
    stocked_style: Stocked,
) -> None:
    with stocked_style.db.read() as s:
        three = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"), nearby=3)
        every = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"), nearby=10)
    assert [p.code for p in three.nearby] == ["LON", "LYO", "MIL"]  # the warehouse is no store; Paris is here
    assert [p.code for p in every.nearby] == ["LON", "LYO", "MIL", "NYC", "ANT", "ZRH"]
    london = every.nearby[0]
    assert 340 < (london.distance_km or 0) < 346 and london.label == "London · 343 km"
    assert every.nearby[-1].distance_km is None and every.nearby[-1].label == "Zurich"
    assert by_size(three)["M"].nearby == (1, 4, 0)  # aligned with the columns
    # Without a "here" there is nothing to be near to.
    with stocked_style.db.read() as s:
        anywhere = style_availability(s, STYLE)
    assert anywhere.here is None and anywhere.nearby == () and by_size(anywhere)["M"].here is None


def test_everywhere_lists_each_location_with_stock_here_first_then_by_distance(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        view = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
    assert [e.place.code for e in view.everywhere] == ["PAR", "WH-EU", "LON", "LYO", "MIL", "NYC", "ZRH"]
    paris, milan = view.everywhere[0], view.everywhere[4]
    assert (paris.on_hand, paris.available) == (6, 3)
    assert [(size, n) for _, size, n in paris.sizes] == [("XS", 1), ("M", 2)]
    assert (milan.on_hand, milan.available, milan.sizes) == (3, 0, ())  # on hand, all promised


def test_sizes_come_letters_first_then_numbers_then_one_size(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        view = style_availability(s, STYLE)
    assert [x.label for x in view.sizes] == ["XS", "S", "M", "L", "XXL"]
    mixed = ["one size", "42", "XL", None, "38.5", "M", "2XL", "XS", "S/M", "9", "W32", "tu"]
    assert [size_label(x) for x in sorted(mixed, key=size_key)] == [
        "XS", "S/M", "M", "XL", "2XL", "9", "38.5", "42", "W32", "One size", "One size", "One size",
    ]  # fmt: skip


def test_a_sku_opens_its_style_and_an_unknown_one_is_not_found(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        assert style_availability(s, "DRESS-SILK-M").style_code == STYLE
        with pytest.raises(NotFound, match="NOPE"):
            style_availability(s, "NOPE")


def test_a_style_reads_in_a_few_statements_whatever_its_sizes_and_locations(stocked_style: Stocked) -> None:
    db = stocked_style.db
    with db.read() as s, statements(db) as small:
        style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
    stores = [{"code": f"S{i:02}", "name": f"Store {i}", "country": "FR", "latitude": f"{40 + i / 10:.4f}",
               "longitude": "2.0"} for i in range(30)]  # fmt: skip
    sizes = [{"sku": f"DRESS-SILK-{n}", "style_code": STYLE, "name": "Silk slip dress", "size": str(n),
              "price": "890", "currency": "EUR"} for n in range(34, 46)]  # fmt: skip
    ok(ingest(db, "locations", *stores))
    ok(ingest(db, "products", *sizes))
    counts = [{"sku": p["sku"], "location": loc["code"], "on_hand": 3} for p in sizes for loc in stores]
    ok(ingest(db, "stock", *counts))
    with db.read() as s, statements(db) as large:
        view = style_availability(s, "DRESS-SILK-40", here_location_id=stocked_style.id("PAR"))  # by SKU: one more
    assert len(view.sizes) == 17 and by_size(view)["40"].total == 30 * 3
    assert len(small) <= 3 and len(large) <= 4, (small, large)


# -- the web shop's look-up ---------------------------------------------------------------------------


def test_per_sku_each_location_and_the_online_total(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        m, s_ = sku_availability(s, ["DRESS-SILK-M", "DRESS-SILK-S", "DRESS-SILK-M"])
    assert [loc.code for loc in m.locations] == ["LON", "LYO", "PAR", "WH-EU", "ZRH"]
    paris = next(loc for loc in m.locations if loc.code == "PAR")
    assert (paris.on_hand, paris.reserved, paris.safety_stock, paris.available) == (5, 2, 1, 2)
    assert (m.online, s_.online) == (11, 0)
    with stocked_style.db.read() as s:
        (only,) = sku_availability(s, ["DRESS-SILK-S"], ["MIL", "PAR"])
    assert [(loc.code, loc.on_hand, loc.available) for loc in only.locations] == [("MIL", 0, 0), ("PAR", 0, 0)]
    assert only.online == 0  # still over every online location, whatever was asked


def test_unknown_skus_and_locations_are_refused_naming_the_field_and_value(stocked_style: Stocked) -> None:
    with stocked_style.db.read() as s:
        with pytest.raises(InvalidRecord) as sku:
            sku_availability(s, ["DRESS-SILK-M", "GHOST-1"])
        with pytest.raises(InvalidRecord) as location:
            sku_availability(s, ["DRESS-SILK-M"], ["PAR", "ATLANTIS"])
        with pytest.raises(InvalidRecord) as many:
            sku_availability(s, ["DRESS-SILK-M"] * 101)
    assert [(e.field, e.message) for e in sku.value.errors] == [("sku", "unknown product 'GHOST-1'")]
    assert [(e.field, e.message) for e in location.value.errors] == [("location", "unknown location 'ATLANTIS'")]
    assert many.value.errors[0].field == "sku"


# -- the product search -------------------------------------------------------------------------------


def test_products_are_found_by_sku_style_or_name_one_result_per_style_active_first(stocked_style: Stocked) -> None:
    db = stocked_style.db
    ok(ingest(db, "products",
              {"sku": "DRESS-WRAP-S", "style_code": "DRESS-WRAP", "name": "Silk wrap dress", "size": "S",
               "price": "650", "currency": "EUR", "active": False},
              {"sku": "SCARF-100%", "name": "Scarf 100% silk", "price": "120", "currency": "EUR"}))  # fmt: skip
    with db.read() as s:
        by_name = find_products(s, "  SILK ")
        by_sku = find_products(s, "dress-silk-m")
        by_style = find_products(s, "dress")
        wildcard = find_products(s, "100%")
        underscore = find_products(s, "dress_silk")
    assert [h.style_code for h in by_name] == ["SCARF-100%", STYLE, "DRESS-WRAP"]  # the discontinued wrap last
    assert [(h.style_code, h.sizes) for h in by_sku] == [(STYLE, 5)]  # the whole style, not the one size
    assert [h.style_code for h in by_style] == [STYLE, "DRESS-WRAP"]
    assert by_style[1].active is False and by_style[0].price == "€890.00"
    assert [h.style_code for h in wildcard] == ["SCARF-100%"]
    assert underscore == []  # "_" is a character, not a wildcard


def test_distances_are_great_circle_kilometres() -> None:
    assert haversine_km(48.8566, 2.3522, 48.8566, 2.3522) == 0
    assert 5830 < haversine_km(48.8566, 2.3522, 40.7128, -74.0060) < 5845  # Paris - New York


def test_a_negative_count_promises_nothing_and_takes_nothing_from_elsewhere(stocked_style: Stocked) -> None:
    with stocked_style.db.write() as s:
        s.execute(text("UPDATE stock_level SET reserved = 9 WHERE location_id = :l"), {"l": stocked_style.id("LYO")})
    with stocked_style.db.read() as s:
        view = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
    assert by_size(view)["M"].online == 7


def test_a_style_in_several_colours_shows_one_colour_at_a_time(stocked_style: Stocked) -> None:
    db = stocked_style.db
    ok(ingest(db, "products", *(
        {"sku": f"DRESS-SILK-BLK-{size}", "style_code": STYLE, "name": "Silk slip dress", "colour": "black",
         "size": size, "price": "890.00", "currency": "EUR"} for size in ("S", "M")
    )))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "DRESS-SILK-BLK-M", "location": "PAR", "on_hand": 4}))
    with db.read() as s:
        first = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"))
        black = style_availability(s, STYLE, here_location_id=stocked_style.id("PAR"), colour="Black")
        by_sku = style_availability(s, "DRESS-SILK-BLK-S")
    assert first.colours == ("black", "ivory") and first.colour == "black"  # the first colour by default
    assert [z.label for z in black.sizes] == ["S", "M"] and by_size(black)["M"].here == 4
    assert by_sku.colour == "black"  # a SKU opens its own colour
    with db.read() as s:
        ivory = style_availability(s, STYLE, colour="ivory")
    assert [z.label for z in ivory.sizes] == ["XS", "S", "M", "L", "XXL"] and ivory.colour == "ivory"
