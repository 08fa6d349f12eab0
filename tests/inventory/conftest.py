"""A silk dress in five sizes, stocked around Paris: stores near and far, two without coordinates,
a store that ships online orders and a warehouse — for the availability specifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text

from rapport.db import Database
from rapport.inventory.models import Location
from tests.factories import ingest, ok

STYLE = "DRESS-SILK"
#: code -> (name, kind, city, latitude, longitude, ships online)
PLACES: dict[str, tuple[str, str, str | None, str | None, str | None, bool]] = {
    "PAR": ("Paris Saint-Honoré", "store", "Paris", "48.869700", "2.321500", False),
    "LON": ("London Marylebone", "store", "London", "51.520300", "-0.151800", False),
    "LYO": ("Lyon Presqu'île", "store", "Lyon", "45.764000", "4.835700", True),  # ships from store
    "MIL": ("Milan Montenapoleone", "store", "Milano", "45.468600", "9.195100", False),
    "NYC": ("New York Madison", "store", "New York", "40.768100", "-73.969200", False),
    "ZRH": ("Zurich pop-up", "store", "Zurich", None, None, False),
    "ANT": ("Antwerp pop-up", "store", "Antwerp", None, None, False),
    "WH-EU": ("European distribution centre", "warehouse", "Tremblay-en-France", "48.976300", "2.518200", True),
}
#: (sku, size) of the dress, in the catalogue's (unsorted) order.
SIZES = (("DRESS-SILK-L", "L"), ("DRESS-SILK-XS", "XS"), ("DRESS-SILK-M", "M"), ("DRESS-SILK-XXL", "XXL"),
         ("DRESS-SILK-S", "S"))  # fmt: skip
#: (sku, location) -> (on hand, reserved, safety stock)
STOCK: dict[tuple[str, str], tuple[int, int, int]] = {
    ("DRESS-SILK-M", "PAR"): (5, 2, 1),  # 2 to promise
    ("DRESS-SILK-M", "LON"): (1, 0, 0),  # low
    ("DRESS-SILK-M", "LYO"): (4, 0, 0),  # online, from a store
    ("DRESS-SILK-M", "WH-EU"): (10, 3, 0),  # online: 7
    ("DRESS-SILK-M", "ZRH"): (2, 0, 0),
    ("DRESS-SILK-S", "PAR"): (0, 0, 0),
    ("DRESS-SILK-S", "NYC"): (2, 0, 0),
    ("DRESS-SILK-S", "WH-EU"): (1, 0, 2),  # more kept back than there is: 0, not -1
    ("DRESS-SILK-L", "MIL"): (3, 3, 0),  # all promised
    ("DRESS-SILK-XS", "PAR"): (1, 0, 0),
}


@dataclass(frozen=True)
class Stocked:
    db: Database
    ids: dict[str, int]  # location code -> id

    def id(self, code: str) -> int:
        return self.ids[code]


def stock_the_dress(db: Database) -> Stocked:
    """Locations (upserted: PAR and NYC may exist already), the dress, and its stock rows."""
    for code, (name, kind, city, lat, lon, _) in PLACES.items():
        record: dict[str, Any] = {"code": code, "name": name, "kind": kind, "city": city, "country": "FR"}
        if lat is not None:
            record.update(latitude=lat, longitude=lon)
        # One at a time: a batch mixing new codes with existing ones fails in ingest's upsert (reported).
        ok(ingest(db, "locations", record))
    ok(ingest(db, "products", *(
        {"sku": sku, "style_code": STYLE, "name": "Silk slip dress", "brand": "Maison", "category": "dresses",
         "colour": "ivory", "size": size, "price": "890.00", "currency": "EUR"}
        for sku, size in SIZES
    )))  # fmt: skip
    ok(ingest(db, "stock", *({"sku": sku, "location": loc, "on_hand": n[0]} for (sku, loc), n in STOCK.items())))
    with db.write() as s:
        ids: dict[str, int] = {r.code: r.id for r in s.execute(select(Location.code, Location.id))}
        for code, place in PLACES.items():
            s.execute(text("UPDATE location SET fulfils_online = :yes WHERE code = :code"),
                      {"yes": place[5], "code": code})  # fmt: skip
        for (sku, loc), (_, reserved, safety) in STOCK.items():
            s.execute(
                text("UPDATE stock_level SET reserved = :r, safety_stock = :s WHERE location_id = :l "
                     "AND product_id = (SELECT id FROM product WHERE sku = :sku)"),
                {"r": reserved, "s": safety, "l": ids[loc], "sku": sku},
            )  # fmt: skip
    return Stocked(db, ids)


@pytest.fixture
def stocked_style(db: Database) -> Stocked:
    return stock_the_dress(db)
