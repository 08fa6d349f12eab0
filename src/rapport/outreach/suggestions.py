"""Products to suggest to a client, each with the one-line reason an associate can say out loud.

What the client told us and did, strongest first: on their wishlist; tried on and not bought; a
consumable due again ("replenishment: last bought 58 days ago"); their favourite colours, the
brands they prefer or buy, their style words, the categories they buy. Never what they returned,
never a style they already bought (except a consumable that is due again), never a discontinued
product, and only what some location can promise now. A style is suggested once, in the client's
size when it is known for that kind of product (a style whose size for them is sold out is left
out rather than offered in the wrong size).

Bounded whatever the history: the client (one statement), what they bought, returned, wished for
and tried on (four), then one statement over the catalogue that filters, scores and checks stock
with the ``stock_level (product_id, location_id)`` key, capped at :func:`candidate_rows` rows. On the
20,000-client demo (2,000 SKUs), measured on a busy two-core machine: median 16 ms on SQLite and 25 ms
on PostgreSQL, 95th percentile under 45 ms, for typical clients and the heaviest buyers alike.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers.models import Customer, TimelineEntry, WishlistItem
from rapport.db import one_of, table_of
from rapport.errors import NotFound
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location, StockLevel
from rapport.money import format_money
from rapport.outreach.looks import image_path

PRODUCT = table_of(Product)
STOCK = table_of(StockLevel)
CUSTOMER = table_of(Customer)

DEFAULT_LIMIT = 8
MAX_LIMIT = 50
#: Catalogue rows (variants) scored in SQL per suggestion asked for, before one per style is chosen
#: (a style comes in several sizes; some of its sizes are not the client's).
ROWS_PER_SUGGESTION = 20
MIN_CANDIDATE_ROWS = 120
#: Try-ons older than this are not a reason any more.
TRY_ON_DAYS = 90
TRY_ON_ROWS = 50
#: A consumable is suggested again from this many days before it should run out...
DUE_AHEAD_DAYS = 14
#: ...until this many times its interval has passed (then the client has moved on).
DUE_UNTIL_INTERVALS = 3

#: Weights of the reasons: a product scores the sum of its reasons' (the strongest is the reason given),
#: so what the client asked for (wishlist, try-on, a consumable due) always comes before what they might like.
WEIGHTS = {
    "wishlist": 1000, "try_on": 800, "replenishment": 600, "colour": 30, "preferred_brand": 30, "bought_brand": 25,
    "style": 20, "preferred_category": 20, "bought_category": 15,
}  # fmt: skip
IN_SIZE = 10
HERE = 5

#: Which of a client's sizes applies to a product, by words of its name or category (name first:
#: a "denim jacket" is a top).
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "tops": ("coat", "jacket", "blazer", "knit", "sweater", "jumper", "cardigan", "turtleneck", "dress", "shirt",
             "blouse", "t-shirt", "tee", "top", "polo"),
    "bottoms": ("trouser", "pant", "skirt", "jean", "denim", "short"),
    "shoes": ("shoe", "sneaker", "runner", "boot", "loafer", "pump", "sandal", "mule", "trainer"),
    "rings": ("ring",),
    "ring": ("ring",),
}  # fmt: skip
_LETTER = re.compile(r"(?:[2-5]?X{0,4}[SL]|M|XS|XL)(?:/(?:[2-5]?X{0,4}[SL]|M))?", re.IGNORECASE)
_NUMBER = re.compile(r"\d{1,3}(?:[.,]5)?")


@dataclass(frozen=True)
class Suggestion:
    product_id: int
    sku: str
    style_code: str
    name: str
    brand: str | None
    colour: str | None
    size: str | None
    #: Formatted with Babel: "€1,200.00".
    price: str
    image_url: str
    #: One line: "on their wishlist", "in their favourite colour, camel", "replenishment: last bought 58 days ago".
    reason: str
    #: Which reason: wishlist, try_on, replenishment, colour, preferred_brand, bought_brand, style,
    #: preferred_category, bought_category.
    kind: str
    #: At ``location_id`` when one was given (None: no store asked about).
    in_stock_here: bool | None
    #: The variant is the client's size for this kind of product (False also when it is unknown).
    in_size: bool


@dataclass
class _Client:
    id: int
    colours: list[str]
    brands: list[str]
    categories: list[str]
    styles: list[str]
    sizes: dict[str, str]


@dataclass(frozen=True)
class _History:
    bought_styles: set[str]
    returned_styles: set[str]
    bought_brands: dict[str, str]  # lower -> as written
    bought_categories: dict[str, str]
    due: dict[int, int]  # product id -> days since last bought
    wishlist: dict[int, datetime]
    tried: dict[int, tuple[datetime, str | None, str | None]]  # product id -> (when, store name, channel)


# -- reading the client ----------------------------------------------------------------------------


def _words(value: Any) -> list[str]:
    """A preference's values, lower-case (a preference is a list of words; a lone string is accepted)."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return list(dict.fromkeys(str(v).strip().lower() for v in items if str(v).strip()))


def _client(session: Session, customer_id: int) -> _Client:
    cols = (CUSTOMER.c.id, CUSTOMER.c.merged_into_id, CUSTOMER.c.preferences, CUSTOMER.c.sizes)
    row = session.execute(select(*cols).where(CUSTOMER.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    if row.merged_into_id is not None:
        row = session.execute(select(*cols).where(CUSTOMER.c.id == resolve_id(session, customer_id))).one()
    prefs = dict(row.preferences or {})
    sizes = {str(k).strip().lower(): str(v).strip() for k, v in dict(row.sizes or {}).items() if str(v).strip()}
    return _Client(
        id=row.id,
        colours=_words(prefs.get("colours", prefs.get("colors"))),
        brands=_words(prefs.get("brands")),
        categories=_words(prefs.get("categories")),
        styles=_words(prefs.get("styles")),
        sizes=sizes,
    )


def _history(session: Session, cid: int, now: datetime) -> _History:
    o, ol, p = Order, OrderLine, Product
    bought = session.execute(
        select(p.id, p.style_code, p.brand, p.category, p.replenishment_days, func.max(o.placed_at))
        .select_from(ol)
        .join(o, o.id == ol.order_id)
        .join(p, p.id == ol.product_id)
        .where(o.customer_id == cid, o.status != "cancelled")
        .group_by(p.id, p.style_code, p.brand, p.category, p.replenishment_days)
    ).all()
    returned_product = func.coalesce(ReturnLine.product_id, OrderLine.product_id)
    returned = session.execute(
        select(p.id, p.style_code)
        .select_from(ReturnLine)
        .join(Return, Return.id == ReturnLine.return_id)
        .outerjoin(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .join(p, p.id == returned_product)
        .where(Return.customer_id == cid)
        .distinct()
    ).all()
    returned_ids = {r.id for r in returned}
    wishlist = dict(
        session.execute(
            select(WishlistItem.product_id, WishlistItem.added_at).where(WishlistItem.customer_id == cid)
        ).all()
    )
    te = TimelineEntry
    tried: dict[int, tuple[datetime, str | None, str | None]] = {}
    for pid, at, store, channel in session.execute(
        select(te.product_id, te.occurred_at, Location.name, te.channel)
        .outerjoin(Location, Location.id == te.location_id)
        .where(
            te.customer_id == cid,
            te.kind == "try_on",
            te.product_id.is_not(None),
            te.occurred_at > now - timedelta(days=TRY_ON_DAYS),
        )
        .order_by(te.occurred_at.desc(), te.id.desc())
        .limit(TRY_ON_ROWS)
    ):
        if pid is not None:
            tried.setdefault(pid, (at, store, channel))  # the latest try-on of each product
    brands: dict[str, str] = {}
    categories: dict[str, str] = {}
    due: dict[int, int] = {}
    for pid, _style, brand, category, every, last in bought:
        if pid in returned_ids:
            continue
        if brand:
            brands.setdefault(brand.lower(), brand)
        if category:
            categories.setdefault(category.lower(), category)
        if every:
            days = (now - last).days
            if every - DUE_AHEAD_DAYS <= days <= every * DUE_UNTIL_INTERVALS:
                due[pid] = days
    return _History(
        bought_styles={r.style_code for r in bought},
        returned_styles={r.style_code for r in returned},
        bought_brands=brands,
        bought_categories=categories,
        due=due,
        wishlist=wishlist,
        tried=tried,
    )


# -- sizes -----------------------------------------------------------------------------------------


def is_sized(size: str | None) -> bool:
    """A wearable size (XS..XXL, S/M, 38, 40.5) rather than "one size", "50ml" or "220g"."""
    text = (size or "").strip()
    return bool(text) and bool(_LETTER.fullmatch(text) or _NUMBER.fullmatch(text))


def size_for(sizes: dict[str, str], category: str | None, name: str | None) -> str | None:
    """The client's size for a product, from the size whose key names its category or kind (None: unknown)."""
    if not sizes:
        return None
    cat = (category or "").lower()
    for key, value in sizes.items():  # a size recorded under the category itself ("coats": "M")
        if cat and (key == cat or key.rstrip("s") == cat.rstrip("s")):
            return value
    for text in ((name or "").lower(), cat):  # the name first: a "denim jacket" is a top
        for key, value in sizes.items():
            if any(word in text for word in SIZE_WORDS.get(key, ())):
                return value
    return None


def _same_size(a: str | None, b: str | None) -> bool:
    return (a or "").strip().upper().replace(",", ".") == (b or "").strip().upper().replace(",", ".")


# -- the catalogue ---------------------------------------------------------------------------------


def _atp() -> ColumnElement[int]:
    return STOCK.c.on_hand - STOCK.c.reserved - STOCK.c.safety_stock


def _folded(values: Iterable[str]) -> list[str]:
    """Lower-case forms to compare with ``lower(column)``: Unicode's (PostgreSQL) and ASCII-only (SQLite's)."""
    out: dict[str, None] = {}
    for v in values:
        out[v.lower()] = None
        out["".join(c.lower() if "A" <= c <= "Z" else c for c in v)] = None
    return list(out)


def _matches(session: Session, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    return one_of(session, func.lower(column), _folded(values))


def _tests(session: Session, client: _Client, history: _History) -> dict[str, ColumnElement[bool]]:
    """Each reason as a condition on ``product`` (only the reasons this client has)."""
    p = PRODUCT
    tests: dict[str, ColumnElement[bool]] = {}
    if history.wishlist:
        tests["wishlist"] = one_of(session, p.c.id, sorted(history.wishlist))
    if history.tried:
        tests["try_on"] = one_of(session, p.c.id, sorted(history.tried))
    if history.due:
        tests["replenishment"] = one_of(session, p.c.id, sorted(history.due))
    if client.colours:
        tests["colour"] = _matches(session, p.c.colour, client.colours)
    if client.brands:
        tests["preferred_brand"] = _matches(session, p.c.brand, client.brands)
    if history.bought_brands:
        tests["bought_brand"] = one_of(session, p.c.brand, sorted(history.bought_brands.values()))
    if client.styles:
        tests["style"] = or_(*(func.lower(p.c.name).contains(w, autoescape=True) for w in client.styles))
    if client.categories:
        tests["preferred_category"] = _matches(session, p.c.category, client.categories)
    if history.bought_categories:
        tests["bought_category"] = one_of(session, p.c.category, sorted(history.bought_categories.values()))
    return tests


def candidate_rows(limit: int) -> int:
    return max(MIN_CANDIDATE_ROWS, limit * ROWS_PER_SUGGESTION)


def _candidates(session: Session, client: _Client, history: _History, location_id: int | None, limit: int) -> list[Any]:
    """The best :func:`candidate_rows` sellable variants by score, with what they can promise in all and here.

    The catalogue is read once: the reasons are summed into a score there (each condition written
    once), the rows cut by it, and only those rows' stock read through the ``stock_level`` key.
    """
    p = PRODUCT
    tests = _tests(session, client, history)
    if not tests:
        return []
    score: ColumnElement[Any] = literal(0, Integer)
    for kind, test in tests.items():
        score = score + case((test, WEIGHTS[kind]), else_=0)
    size_values = sorted({v.upper() for v in client.sizes.values()})
    if size_values:
        score = score + case((one_of(session, func.upper(p.c.size), size_values), IN_SIZE), else_=0)
    excluded = sorted(history.bought_styles | history.returned_styles)
    # Something to promise somewhere: probed per product through the (product_id, location_id) key. (As an
    # aggregate, not EXISTS: PostgreSQL would turn EXISTS into a join over the whole stock table.)
    promised = select(func.max(_atp())).where(STOCK.c.product_id == p.c.id).correlate(p).scalar_subquery()
    conditions: list[ColumnElement[bool]] = [p.c.active.is_(True), promised > 0]
    if excluded:
        allowed = ~one_of(session, p.c.style_code, excluded)
        if history.due:  # a consumable due again, though bought (unless it was returned)
            due = one_of(session, p.c.id, sorted(history.due))
            allowed = or_(allowed, and_(due, ~_returned_style(session, p.c.style_code, history)))
        conditions.append(allowed)
    scored = select(p.c.id.label("pid"), p.c.created_at, p.c.style_code, score.label("score")).where(*conditions)
    scored_sq = scored.subquery("scored")
    best = (
        select(scored_sq)
        .where(scored_sq.c.score > (IN_SIZE if size_values else 0))  # a reason, not only a size
        .order_by(scored_sq.c.score.desc(), scored_sq.c.created_at.desc(), scored_sq.c.style_code, scored_sq.c.pid)
        .limit(candidate_rows(limit))
        .subquery("best")
    )
    available = (
        select(func.sum(case((_atp() > 0, _atp()), else_=0)))
        .where(STOCK.c.product_id == best.c.pid)
        .correlate(best)
        .scalar_subquery()
    )
    here: ColumnElement[Any] = literal(None, Integer)
    if location_id is not None:
        here = (
            select(func.max(_atp()))
            .where(STOCK.c.product_id == best.c.pid, STOCK.c.location_id == location_id)
            .correlate(best)
            .scalar_subquery()
        )
    return list(
        session.execute(
            select(p.c.id, p.c.sku, p.c.style_code, p.c.name, p.c.brand, p.c.colour, p.c.category, p.c.size,
                   p.c.price_minor, p.c.currency, p.c.image_url, best.c.score, available.label("available"),
                   here.label("here"))
            .select_from(best.join(p, p.c.id == best.c.pid))
            .order_by(best.c.score.desc(), best.c.created_at.desc(), best.c.style_code, best.c.pid)
        ).all()
    )  # fmt: skip


def _returned_style(session: Session, column: Any, history: _History) -> ColumnElement[bool]:
    """The column is one of the returned styles (never suggested, even when due)."""
    if not history.returned_styles:
        return literal(False)
    return one_of(session, column, sorted(history.returned_styles))


# -- choosing and wording --------------------------------------------------------------------------


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def _reason(kind: str, row: Any, client: _Client, history: _History, now: datetime) -> str:
    if kind == "wishlist":
        return "on their wishlist"
    if kind == "try_on":
        at, store, channel = history.tried[row.id]
        where = f" at {store}" if store else (" in store" if channel == "store" else "")
        return f"tried on{where} {_ago((now - at).days)}, not bought"
    if kind == "replenishment":
        return f"replenishment: last bought {_ago(history.due[row.id])}"
    if kind == "colour":
        return f"in their favourite colour, {row.colour.lower() if row.colour else 'a colour they like'}"
    if kind == "preferred_brand":
        return f"from {row.brand}, a brand they love"
    if kind == "bought_brand":
        return f"from {row.brand}, a brand they buy"
    if kind == "style":
        name = (row.name or "").lower()
        word = next((w for w in client.styles if w in name), "their style")
        return f"{word}, their style"
    category = row.category or "this category"
    if kind == "preferred_category":
        return f"{category}, a category they like"
    return f"{category}, a category they buy"


def _kinds(row: Any, client: _Client, history: _History) -> list[str]:
    """The reasons that hold for a row (as the SQL tests them, with Python's Unicode-aware lower case)."""
    colour, brand = (row.colour or "").lower(), (row.brand or "").lower()
    category, name = (row.category or "").lower(), (row.name or "").lower()
    held = {
        "wishlist": row.id in history.wishlist,
        "try_on": row.id in history.tried,
        "replenishment": row.id in history.due,
        "colour": colour in client.colours,
        "preferred_brand": brand in client.brands,
        "bought_brand": brand in history.bought_brands,
        "style": any(w in name for w in client.styles),
        "preferred_category": category in client.categories,
        "bought_category": category in history.bought_categories,
    }
    return [k for k, ok in held.items() if ok]


def _pick(rows: list[Any], client: _Client, history: _History) -> tuple[Any, bool] | None:
    """The variant of one style to suggest, and whether it is in the client's size (None: leave the style out)."""
    lead = rows[0]
    want = size_for(client.sizes, lead.category, lead.name)
    chosen = [r for r in rows if r.id in history.wishlist or r.id in history.tried or r.id in history.due]
    if chosen:  # the very item they wished for, tried on or buy again
        best = max(chosen, key=lambda r: r.score)
        return best, want is not None and _same_size(best.size, want)
    sized = [r for r in rows if is_sized(r.size)]
    if not sized:  # one size, or sold by volume: the variant with the most to promise
        return max(rows, key=lambda r: (r.available or 0, -r.id)), False
    if want is not None:
        mine = [r for r in sized if _same_size(r.size, want)]
        if not mine:
            return None  # sold out in their size: not offered in another
        return max(mine, key=lambda r: (r.available or 0, -r.id)), True
    return max(sized, key=lambda r: (r.available or 0, -r.id)), False


def suggest_products(
    session: Session, customer_id: int, *, location_id: int | None = None, limit: int = DEFAULT_LIMIT
) -> list[Suggestion]:
    """Up to ``limit`` products this client is likely to want, best first, one per style, each with its reason.

    ``location_id``: the store the associate is in; each suggestion then says whether it is in stock
    there (and those that are rank a little higher). A merged-away id answers for its survivor.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    now = clock.now()
    client = _client(session, customer_id)
    history = _history(session, client.id, now)
    rows = _candidates(session, client, history, location_id, limit)
    by_style: dict[str, list[Any]] = defaultdict(list)
    for row in rows:  # best first: a style comes in at its best variant's score
        by_style[row.style_code].append(row)
    sizes = {v.upper() for v in client.sizes.values()}
    picked: list[tuple[int, int, Suggestion]] = []
    best: list[int] = []  # the ``limit`` best scores so far (a min-heap)
    for order, variants in enumerate(by_style.values()):
        if len(best) == limit and variants[0].score + IN_SIZE + HERE < best[0]:
            break  # no later style can make the list
        choice = _pick(variants, client, history)
        if choice is None:
            continue
        row, in_size = choice
        kinds = _kinds(row, client, history)
        if not kinds:  # matched only by SQLite's ASCII-only lower case
            continue
        kind = max(kinds, key=lambda k: WEIGHTS[k])
        here = None if location_id is None else bool(row.here and row.here > 0)
        # SQL gave any variant in one of the client's sizes a bonus; the one that counts is the size for this kind.
        score = int(row.score) - (IN_SIZE if (row.size or "").upper() in sizes else 0)
        score += (IN_SIZE if in_size else 0) + (HERE if here else 0)
        (heapq.heappush if len(best) < limit else heapq.heappushpop)(best, score)
        picked.append((score, -order, Suggestion(
            product_id=row.id, sku=row.sku, style_code=row.style_code, name=row.name, brand=row.brand,
            colour=row.colour, size=row.size, price=format_money(int(row.price_minor), row.currency),
            image_url=image_path(row.style_code, row.image_url), reason=_reason(kind, row, client, history, now),
            kind=kind, in_stock_here=here, in_size=in_size,
        )))  # fmt: skip
    picked.sort(key=lambda t: (-t[0], -t[1]))
    return [s for _, _, s in picked[:limit]]
