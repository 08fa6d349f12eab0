"""What can be promised, and where: the stock screen's size grid, the e-commerce look-up, the product search.

Available to promise (ATP) at a location = on hand - reserved - safety stock, never below 0 (a
count that fell under its reservations promises nothing, and takes nothing from elsewhere).
"Online" is the sum of ATP at the locations that ship online orders (``fulfils_online``:
warehouses, stores that ship from store).

Bounded work per request, whatever the sizes x locations: a style is read in at most four
statements (its products — by ``product.style_code``, or by SKU then style —, their stock rows by
the ``stock_level (product_id, location_id)`` key, the locations), a SKU look-up in three.
Distances are great-circle (haversine) kilometres between the locations' coordinates.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, or_, select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.db import one_of
from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.models import Location, StockLevel
from rapport.money import format_money

#: Columns of nearest stores on the stock screen unless told otherwise.
NEARBY = 5
MAX_NEARBY = 20
EARTH_RADIUS_KM = 6371.0088
#: Letter sizes, smallest first ("2XL" is read as "XXL").
LETTER_SIZES = ("XXXXS", "XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "XXXXL")
_LETTER_RANK = {s: i for i, s in enumerate(LETTER_SIZES)}
_ONE_SIZE = frozenset({"ONE SIZE", "ONESIZE", "OS", "O/S", "TU", "U", "UNI", "UNIQUE", "NS", "N/S"})
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)(.*)")
_MULTI_X = re.compile(r"([2-5])X([SL])")


# -- views -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A location as the grid shows it, with its distance from "here" when both have coordinates."""

    id: int
    code: str
    name: str
    kind: str
    city: str | None
    country: str
    fulfils_online: bool
    accepts_pickup: bool
    distance_km: float | None = None

    @property
    def short_name(self) -> str:
        """The city for a column header ("Milano"), the name when there is no city."""
        return self.city or self.name

    @property
    def distance_label(self) -> str:
        if self.distance_km is None:
            return ""
        return f"{self.distance_km:.1f} km" if self.distance_km < 10 else f"{round(self.distance_km):,} km"

    @property
    def label(self) -> str:
        """``Milano · 480 km``."""
        return f"{self.short_name} · {self.distance_label}" if self.distance_label else self.short_name

    @property
    def is_store(self) -> bool:
        return self.kind == "store"


@dataclass(frozen=True)
class SizeAvailability:
    """One size of a style: ATP here, at each nearby store (in the view's ``nearby`` order), online, in all."""

    product_id: int
    sku: str
    size: str | None
    active: bool
    here: int | None
    nearby: tuple[int, ...]
    online: int
    total: int

    @property
    def label(self) -> str:
        return size_label(self.size)


@dataclass(frozen=True)
class PlaceStock:
    """A location with stock of the style (the "everywhere" list): ATP per size that has some."""

    place: Place
    on_hand: int
    available: int
    sizes: tuple[tuple[str, str, int], ...]  # (sku, size label, ATP) for sizes with ATP > 0


@dataclass(frozen=True)
class StyleAvailability:
    style_code: str
    name: str
    brand: str | None
    colour: str | None
    category: str | None
    image_url: str | None
    price_minor: int
    currency: str
    price: str
    #: Sizes differ in price: ``price`` is the lowest ("from").
    price_varies: bool
    here: Place | None
    nearby: tuple[Place, ...]
    sizes: tuple[SizeAvailability, ...]
    everywhere: tuple[PlaceStock, ...]
    #: Every colour the style comes in; the view shows one (``colour``) when there are several.
    colours: tuple[str, ...] = ()

    @property
    def online(self) -> int:
        return sum(s.online for s in self.sizes)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sizes)


@dataclass(frozen=True)
class LocationStock:
    code: str
    name: str
    kind: str
    fulfils_online: bool
    on_hand: int
    reserved: int
    safety_stock: int
    available: int


@dataclass(frozen=True)
class SkuAvailability:
    sku: str
    style_code: str
    active: bool
    online: int
    locations: tuple[LocationStock, ...]


@dataclass(frozen=True)
class StyleHit:
    """A search result: one style, with how many sizes it comes in."""

    style_code: str
    name: str
    brand: str | None
    colour: str | None
    image_url: str | None
    sizes: int
    active: bool
    price: str


# -- pure helpers ----------------------------------------------------------------------------------


def atp(on_hand: int, reserved: int, safety_stock: int) -> int:
    """Available to promise at one location, never negative."""
    return max(0, on_hand - reserved - safety_stock)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def size_label(size: str | None) -> str:
    return "One size" if _is_one_size(size) else str(size).strip()


def _is_one_size(size: str | None) -> bool:
    return size is None or not size.strip() or size.strip().upper() in _ONE_SIZE


def _letter_rank(text: str) -> float | None:
    text = _MULTI_X.sub(lambda m: "X" * int(m.group(1)) + m.group(2), text)
    if text in _LETTER_RANK:
        return float(_LETTER_RANK[text])
    parts = text.split("/")
    if len(parts) == 2 and all(p in _LETTER_RANK for p in parts):  # "S/M" between S and M
        return (_LETTER_RANK[parts[0]] + _LETTER_RANK[parts[1]]) / 2
    return None


def size_key(size: str | None) -> tuple[int, float, str]:
    """XXS..XXL in letter order, then numeric sizes ascending, then other labels, "one size" last."""
    if _is_one_size(size):
        return (3, 0.0, "")
    text = str(size).strip().upper()
    rank = _letter_rank(text)
    if rank is not None:
        return (0, rank, text)
    number = _NUMBER.fullmatch(text)
    if number:
        return (1, float(number.group(1).replace(",", ".")), number.group(2).strip())
    return (2, 0.0, text)


def _nearest(places: Iterable[Place], count: int) -> list[Place]:
    """Closest first; those without a distance (no coordinates here or there) after, by name."""
    ordered = sorted(places, key=lambda p: (p.distance_km is None, p.distance_km or 0.0, p.name.lower(), p.code))
    return ordered[:count]


# -- reads -----------------------------------------------------------------------------------------

_LOCATION_COLUMNS = (
    Location.id,
    Location.code,
    Location.name,
    Location.kind,
    Location.city,
    Location.country,
    Location.fulfils_online,
    Location.accepts_pickup,
    # Float, not Numeric: distances need no exact decimals (and SQLite has no decimal type).
    cast(Location.latitude, Float).label("lat"),
    cast(Location.longitude, Float).label("lon"),
)


def _places(session: Session, here_location_id: int | None) -> tuple[Place | None, list[Place]]:
    """Every location, with its distance from ``here`` (one statement: a retailer has hundreds, not millions)."""
    rows = session.execute(select(*_LOCATION_COLUMNS).order_by(Location.id)).all()
    origin = next((r for r in rows if r.id == here_location_id), None)
    if here_location_id is not None and origin is None:
        raise NotFound(f"no location {here_location_id}")
    places: list[Place] = []
    here: Place | None = None
    for r in rows:
        distance = None
        if origin is not None and None not in (origin.lat, origin.lon, r.lat, r.lon):
            distance = haversine_km(origin.lat, origin.lon, r.lat, r.lon)
        place = Place(r.id, r.code, r.name, r.kind, r.city, r.country, bool(r.fulfils_online),
                      bool(r.accepts_pickup), distance)  # fmt: skip
        places.append(place)
        if r.id == here_location_id:
            here = place
    return here, places


def _style_products(session: Session, style_or_sku: str) -> list[Any]:
    columns = (Product.id, Product.sku, Product.style_code, Product.name, Product.brand, Product.colour,
               Product.category, Product.size, Product.price_minor, Product.currency, Product.image_url,
               Product.active)  # fmt: skip
    rows = session.execute(select(*columns).where(Product.style_code == style_or_sku)).all()
    if not rows:
        style = select(Product.style_code).where(Product.sku == style_or_sku).scalar_subquery()
        rows = session.execute(select(*columns).where(Product.style_code == style)).all()
    return list(rows)


def style_availability(
    session: Session,
    style_or_sku: str,
    *,
    here_location_id: int | None = None,
    nearby: int = NEARBY,
    colour: str | None = None,
) -> StyleAvailability:
    """A style's sizes with what each location can promise: here, the nearest stores, online, everywhere.

    ``style_or_sku``: a style code, or the SKU of one of its sizes. Nearby stores are the
    ``nearby`` stores closest to ``here`` (not ``here`` itself), whether or not they have any;
    none without a ``here``.
    """
    products = _style_products(session, style_or_sku.strip())
    if not products:
        raise NotFound(f"no product or style {style_or_sku.strip()!r}")
    # A style in several colours shows one colour's sizes at a time (three "M" rows would not say which
    # is which): the colour asked for, else the colour of the SKU asked for, else the first.
    colours = tuple(sorted({p.colour for p in products if p.colour}, key=str.lower))
    if len(colours) > 1:
        asked = next((p.colour for p in products if p.sku == style_or_sku.strip()), None)
        wanted = next((c for c in colours if colour and c.lower() == colour.strip().lower()), None)
        chosen = wanted or asked or colours[0]
        products = [p for p in products if p.colour == chosen]
    products.sort(key=lambda p: (size_key(p.size), p.sku))
    ids = [p.id for p in products]
    stock = session.execute(
        select(StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
               StockLevel.safety_stock)
        .where(one_of(session, StockLevel.product_id, ids))
    ).all()  # fmt: skip
    here, places = _places(session, here_location_id)
    by_id = {p.id: p for p in places}
    count = max(0, min(nearby, MAX_NEARBY)) if here is not None else 0
    near = _nearest((p for p in places if p.is_store and p.id != here_location_id), count)

    position = {p.id: i for i, p in enumerate(products)}
    available: dict[tuple[int, int], int] = {}
    on_hand: dict[int, int] = defaultdict(int)
    total: dict[int, int] = defaultdict(int)
    online: dict[int, int] = defaultdict(int)
    at_location: dict[int, list[tuple[int, int]]] = defaultdict(list)  # location -> (size position, ATP > 0)
    online_ids = {p.id for p in places if p.fulfils_online}
    for pid, lid, units_on_hand, reserved, safety in stock:
        units = available[(pid, lid)] = max(0, units_on_hand - reserved - safety)  # atp(), inlined: rows x sizes
        on_hand[lid] += max(0, units_on_hand)
        total[pid] += units
        if lid in online_ids:
            online[pid] += units
        if units > 0:
            at_location[lid].append((position[pid], units))

    sizes = tuple(
        SizeAvailability(
            product_id=p.id,
            sku=p.sku,
            size=p.size,
            active=bool(p.active),
            here=available.get((p.id, here.id), 0) if here is not None else None,
            nearby=tuple(available.get((p.id, n.id), 0) for n in near),
            online=online[p.id],
            total=total[p.id],
        )
        for p in products
    )
    labels = [s.label for s in sizes]
    everywhere = []
    for lid, units in on_hand.items():
        in_stock = tuple((sizes[i].sku, labels[i], n) for i, n in sorted(at_location.get(lid, ())))
        if units > 0 or in_stock:
            everywhere.append(PlaceStock(by_id[lid], units, sum(x[2] for x in in_stock), in_stock))
    everywhere.sort(key=lambda e: (e.place.id != here_location_id, e.place.distance_km is None,
                                   e.place.distance_km or 0.0, e.place.name.lower()))  # fmt: skip

    lead = next((p for p in products if p.active), products[0])
    prices = {(p.price_minor, p.currency) for p in products if p.currency == lead.currency}
    low = min(minor for minor, _ in prices)
    return StyleAvailability(
        style_code=lead.style_code,
        name=lead.name,
        brand=lead.brand,
        colour=lead.colour,
        category=lead.category,
        image_url=lead.image_url,
        price_minor=low,
        currency=lead.currency,
        price=format_money(low, lead.currency),
        price_varies=len(prices) > 1,
        here=here,
        nearby=tuple(near),
        sizes=sizes,
        everywhere=tuple(everywhere),
        colours=colours,
    )


#: The e-commerce look-up takes at most this many SKUs a call.
MAX_SKUS = 100


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def sku_availability(
    session: Session, skus: Sequence[str], location_codes: Sequence[str] | None = None
) -> list[SkuAvailability]:
    """Per SKU (in the order asked): each location's on hand, reserved, safety stock and ATP, and the online total.

    Without ``location_codes``, every location holding a stock row for the SKU; with them, exactly
    those (zeros where there is no row). The online total is always over every online location.
    """
    if len(skus) > MAX_SKUS:
        raise InvalidRecord.one("sku", f"at most {MAX_SKUS} SKUs a call, got {len(skus)}")
    wanted = _unique(skus)
    if not wanted:
        raise InvalidRecord.one("sku", "give at least one SKU")
    found_products = select(Product.id, Product.sku, Product.style_code, Product.active).where(
        one_of(session, Product.sku, wanted)
    )
    products = {r.sku: r for r in session.execute(found_products)}
    for sku in wanted:
        if sku not in products:
            raise InvalidRecord.one("sku", f"unknown product {sku!r}")

    codes = _unique(location_codes or ())
    chosen: list[Any] = []
    if codes:
        found = {
            r.code: r
            for r in session.execute(
                select(Location.id, Location.code, Location.name, Location.kind, Location.fulfils_online).where(
                    one_of(session, Location.code, codes)
                )
            )
        }
        for code in codes:
            if code not in found:
                raise InvalidRecord.one("location", f"unknown location {code!r}")
        chosen = [found[c] for c in codes]

    stmt = (
        select(StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
               StockLevel.safety_stock, Location.code, Location.name, Location.kind, Location.fulfils_online)
        .join(Location, Location.id == StockLevel.location_id)
        .where(one_of(session, StockLevel.product_id, [products[s].id for s in wanted]))
    )  # fmt: skip
    if chosen:  # the chosen locations, and the online ones for the online total
        stmt = stmt.where(or_(one_of(session, StockLevel.location_id, [c.id for c in chosen]), Location.fulfils_online))
    rows: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(stmt.order_by(Location.code)):
        rows[row.product_id].append(row)

    out = []
    for sku in wanted:
        p = products[sku]
        mine = rows.get(p.id, [])
        online = sum(atp(r.on_hand, r.reserved, r.safety_stock) for r in mine if r.fulfils_online)
        by_location = {r.location_id: r for r in mine}
        lines = []
        for loc in chosen or mine:
            r = by_location.get(loc.id if chosen else loc.location_id)
            on, res, safety = (r.on_hand, r.reserved, r.safety_stock) if r is not None else (0, 0, 0)
            lines.append(LocationStock(loc.code, loc.name, loc.kind, bool(loc.fulfils_online), on, res, safety,
                                       atp(on, res, safety)))  # fmt: skip
        out.append(SkuAvailability(sku, p.style_code, bool(p.active), online, tuple(lines)))
    return out


def find_products(session: Session, q: str, limit: int = 20) -> list[StyleHit]:
    """Styles whose SKU or style code starts with ``q``, or whose name contains it (any case).

    One result per style (with all its sizes counted): styles with an active matching size first, then
    exact codes, then codes by prefix, then names. A name fragment scans the catalogue (``LIKE '%..%'``):
    tens of milliseconds at 50,000 SKUs on PostgreSQL; a trigram index would make it instant.
    """
    text = " ".join(q.split()).lower()
    if not text:
        return []
    sku, style, name = func.lower(Product.sku), func.lower(Product.style_code), func.lower(Product.name)
    rank = case(
        (or_(sku == text, style == text), 0),
        (or_(sku.startswith(text, autoescape=True), style.startswith(text, autoescape=True)), 1),
        else_=2,
    )
    active = func.max(cast(Product.active, Integer))
    # The styles first (matched rows only, a page of them), then their sizes through ix_product_style_code.
    matched = (
        select(Product.style_code, func.min(rank).label("rank"), active.label("active"),
               func.min(Product.name).label("name"))
        .where(or_(sku.startswith(text, autoescape=True), style.startswith(text, autoescape=True),
                   name.contains(text, autoescape=True)))
        .group_by(Product.style_code)
        .order_by(active.desc(), func.min(rank), func.min(Product.name), Product.style_code)
        .limit(max(1, min(limit, 100)))
        .subquery()
    )  # fmt: skip
    rows = session.execute(
        select(
            Product.style_code,
            matched.c.name,
            func.min(Product.brand).label("brand"),
            func.min(Product.colour).label("colour"),
            func.min(Product.image_url).label("image_url"),
            func.min(Product.price_minor).label("price_minor"),
            func.min(Product.currency).label("currency"),
            func.count().label("sizes"),
            active.label("active"),
        )
        .join(matched, matched.c.style_code == Product.style_code)
        .group_by(Product.style_code, matched.c.name, matched.c.rank, matched.c.active)
        .order_by(matched.c.active.desc(), matched.c.rank, matched.c.name, Product.style_code)
    ).all()
    return [
        StyleHit(r.style_code, r.name, r.brand, r.colour, r.image_url, r.sizes, bool(r.active),
                 format_money(r.price_minor, r.currency))
        for r in rows
    ]  # fmt: skip


def location_for(
    session: Session, *, code: str | None = None, associate_id: int | None = None, field: str = "location"
) -> Place | None:
    """Where the stock screen looks from: the location ``code``, else the associate's home store.

    None when the associate has no home store (the screen then shows no "Here" column); an
    unknown ``code`` is an error on ``field`` (the parameter that named it).
    """
    if code:
        where = Location.code == code.strip()
    elif associate_id is not None:
        where = Location.id == select(Associate.home_location_id).where(Associate.id == associate_id).scalar_subquery()
    else:
        return None
    r = session.execute(select(*_LOCATION_COLUMNS).where(where)).first()
    if r is None:
        if code:
            raise InvalidRecord.one(field, f"unknown location {code.strip()!r}")
        return None
    return Place(r.id, r.code, r.name, r.kind, r.city, r.country, bool(r.fulfils_online), bool(r.accepts_pickup))
