"""Looks: a few products an associate puts together for a client, with a note, shown on a public page.

A look is made in the builder (``/clients/{id}/looks/new``) and reaches the client as a tracked link
in a message: it is put on the client's timeline when it is *sent* (by the message service), not
here. Its page (``/looks/{code}``) is public — anyone holding the link sees it — so the code is
unguessable (:func:`secrets.token_urlsafe`) and the page shows only the products, the associate's
note, and who made it; nothing about the client.

Reads are bounded: a look is two statements (the look with its associate and store, then its
products), a list of looks three whatever its length.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, case, func, insert, or_, select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers.models import Customer
from rapport.db import allocate_ids, one_of, table_of
from rapport.errors import FieldError, InvalidRecord
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location
from rapport.money import format_money
from rapport.outreach.models import Look, LookItem

LOOK = table_of(Look)
LOOK_ITEM = table_of(LookItem)
PRODUCT = table_of(Product)
ASSOCIATE = table_of(Associate)
LOCATION = table_of(Location)
CUSTOMER = table_of(Customer)

MAX_PRODUCTS = 12
TITLE_MAX = 200
NOTE_MAX = 2000
#: 18 random bytes: 24 URL-safe characters (144 bits), within the column's 32.
CODE_BYTES = 18
#: What a look code can look like; anything else is not looked up at all.
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")
LIST_MAX = 100
#: The catalogue search of the look builder.
SEARCH_MAX = 30


@dataclass(frozen=True)
class LookProduct:
    """A product as a look shows it: what a client needs to recognise it, nothing about stock."""

    id: int
    sku: str
    style_code: str
    name: str
    brand: str | None
    colour: str | None
    size: str | None
    price_minor: int
    currency: str
    #: Formatted with Babel: "€1,200.00".
    price: str
    #: The catalogue's picture, or the tile drawn by ``/static/products/{style}.svg``.
    image_url: str
    #: The product's own public page, without tracking (:func:`product_path`).
    url: str
    active: bool


@dataclass(frozen=True)
class LookView:
    """A look as its associate sees it (lists, the builder's result, the conversation's attachments)."""

    id: int
    code: str
    associate_id: int
    customer_id: int | None
    title: str
    note: str
    created_at: datetime
    products: tuple[LookProduct, ...]

    @property
    def path(self) -> str:
        """The public page, untracked (messages carry a short link to it instead)."""
        return f"/looks/{self.code}"


@dataclass(frozen=True)
class PublicLook:
    """What the public page shows: no client, no stock, no internal ids beyond the products'."""

    code: str
    title: str
    note: str
    associate_name: str | None
    store_name: str | None
    created_at: datetime | None
    products: tuple[LookProduct, ...]


# -- helpers ---------------------------------------------------------------------------------------


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def image_path(style_code: str, image_url: str | None) -> str:
    """The product's picture, or the drawn tile of :mod:`rapport.web.product_images`."""
    return image_url or f"/static/products/{quote(style_code, safe='')}.svg"


def product_path(sku: str) -> str:
    """The public one-product page. The catalogue has no product-page URL of its own (only an image),
    so Rapport shows the product itself: ``/looks/product/{sku}``."""
    return f"/looks/product/{quote(sku, safe='')}"


PRODUCT_COLUMNS = (
    PRODUCT.c.id, PRODUCT.c.sku, PRODUCT.c.style_code, PRODUCT.c.name, PRODUCT.c.brand, PRODUCT.c.colour,
    PRODUCT.c.size, PRODUCT.c.price_minor, PRODUCT.c.currency, PRODUCT.c.image_url, PRODUCT.c.active,
)  # fmt: skip


def look_product(row: Any) -> LookProduct:
    """A :data:`PRODUCT_COLUMNS` row as a look shows it."""
    return LookProduct(
        id=row.id,
        sku=row.sku,
        style_code=row.style_code,
        name=row.name,
        brand=row.brand,
        colour=row.colour,
        size=row.size,
        price_minor=int(row.price_minor),
        currency=row.currency,
        price=format_money(int(row.price_minor), row.currency),
        image_url=image_path(row.style_code, row.image_url),
        url=product_path(row.sku),
        active=bool(row.active),
    )


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _products(session: Session, wanted: Sequence[int | str], errors: list[FieldError]) -> list[Any]:
    """The products asked for (ids, or SKUs as text), in the order given, each once; problems into ``errors``."""
    keys: list[int | str] = []
    for item in wanted:
        key: int | str = item if isinstance(item, int) else _clean(item)
        if key != "" and key not in keys:
            keys.append(key)
    if not keys:
        errors.append(FieldError("products", "choose at least one product"))
        return []
    if len(keys) > MAX_PRODUCTS:
        errors.append(FieldError("products", f"at most {MAX_PRODUCTS} products in a look ({len(keys)} chosen)"))
        return []
    ids = [k for k in keys if isinstance(k, int)]
    skus = [k for k in keys if isinstance(k, str)]
    conditions = []
    if ids:
        conditions.append(one_of(session, PRODUCT.c.id, ids))
    if skus:
        conditions.append(one_of(session, PRODUCT.c.sku, skus))
    rows = session.execute(select(*PRODUCT_COLUMNS).where(or_(*conditions))).all()
    by_id = {r.id: r for r in rows}
    by_sku = {r.sku: r for r in rows}
    found: list[Any] = []
    for key in keys:
        row = by_id.get(key) if isinstance(key, int) else by_sku.get(key)
        if row is None:
            errors.append(FieldError("products", f"no product {key!r} in the catalogue"))
        elif not row.active:
            errors.append(FieldError("products", f"{row.name} ({row.sku}) is no longer sold"))
        elif row.id not in {f.id for f in found}:
            found.append(row)
    return found


# -- writing ---------------------------------------------------------------------------------------


def create_look(
    session: Session,
    *,
    associate_id: int,
    customer_id: int | None,
    title: str,
    note: str,
    skus_or_product_ids: Sequence[int | str],
) -> LookView:
    """Save a look of 1 to 12 products (product ids, or SKUs given as text) with a title and a note.

    Every problem is reported at once, each naming its field (``title``, ``note``, ``products``,
    ``associate_id``). A merged-away client id is saved as its survivor. Not on the timeline:
    the look joins it when a message sends it.
    """
    errors: list[FieldError] = []
    title, note = _clean(title), _clean(note)
    if not title:
        errors.append(FieldError("title", "give the look a title"))
    elif len(title) > TITLE_MAX:
        errors.append(FieldError("title", f"at most {TITLE_MAX} characters ({len(title)} given)"))
    if len(note) > NOTE_MAX:
        errors.append(FieldError("note", f"at most {NOTE_MAX} characters ({len(note)} given)"))
    known = session.execute(select(ASSOCIATE.c.id).where(ASSOCIATE.c.id == associate_id)).first()
    if known is None:
        errors.append(FieldError("associate_id", f"no associate {associate_id}"))
    products = _products(session, skus_or_product_ids, errors)
    if errors:
        raise InvalidRecord(errors)
    cid = resolve_id(session, customer_id) if customer_id is not None else None
    now = clock.now()
    (look_id,) = allocate_ids(session, LOOK, 1)
    code = new_code()
    session.execute(
        insert(LOOK).values(
            id=look_id, code=code, associate_id=associate_id, customer_id=cid, title=title, note=note, created_at=now
        )
    )
    session.execute(
        insert(LOOK_ITEM),
        [{"look_id": look_id, "product_id": p.id, "position": i, "note": None} for i, p in enumerate(products)],
    )
    return LookView(look_id, code, associate_id, cid, title, note, now, tuple(look_product(p) for p in products))


# -- reading ---------------------------------------------------------------------------------------


def _items(session: Session, look_ids: Sequence[int]) -> dict[int, tuple[LookProduct, ...]]:
    """The products of these looks, in the associate's order (one statement for any number of looks)."""
    if not look_ids:
        return {}
    rows = session.execute(
        select(LOOK_ITEM.c.look_id, *PRODUCT_COLUMNS)
        .join(PRODUCT, PRODUCT.c.id == LOOK_ITEM.c.product_id)
        .where(one_of(session, LOOK_ITEM.c.look_id, list(look_ids)))
        .order_by(LOOK_ITEM.c.look_id, LOOK_ITEM.c.position, LOOK_ITEM.c.id)
    ).all()
    out: dict[int, list[LookProduct]] = defaultdict(list)
    for r in rows:
        out[r.look_id].append(look_product(r))
    return {k: tuple(v) for k, v in out.items()}


def _views(session: Session, rows: Sequence[Any]) -> list[LookView]:
    items = _items(session, [r.id for r in rows])
    return [
        LookView(r.id, r.code, r.associate_id, r.customer_id, r.title, r.note or "", r.created_at, items.get(r.id, ()))
        for r in rows
    ]


def get_look(session: Session, look_id: int) -> LookView | None:
    row = session.execute(select(LOOK).where(LOOK.c.id == look_id)).first()
    return None if row is None else _views(session, [row])[0]


def look_of(session: Session, code: str) -> PublicLook | None:
    """The public page's look for a code, or None (unknown, or not shaped like a code at all)."""
    if not CODE_SHAPE.fullmatch(code or ""):
        return None
    row = session.execute(
        select(LOOK.c.id, LOOK.c.code, LOOK.c.title, LOOK.c.note, LOOK.c.created_at,
               ASSOCIATE.c.display_name, LOCATION.c.name.label("store_name"))
        .join(ASSOCIATE, ASSOCIATE.c.id == LOOK.c.associate_id)
        .outerjoin(LOCATION, LOCATION.c.id == ASSOCIATE.c.home_location_id)
        .where(LOOK.c.code == code)
    ).first()  # fmt: skip
    if row is None:
        return None
    products = _items(session, [row.id]).get(row.id, ())
    return PublicLook(row.code, row.title, row.note or "", row.display_name, row.store_name, row.created_at, products)


def product_page(session: Session, sku: str, *, sent_by: int | None = None) -> PublicLook | None:
    """A one-product "look" for the public product page (where a tracked product link lands).

    ``sent_by``: the associate who sent the link, named on the page as on a look.
    """
    sku = _clean(sku)
    if not sku or len(sku) > 64:
        return None
    row = session.execute(select(*PRODUCT_COLUMNS).where(PRODUCT.c.sku == sku)).first()
    if row is None:
        return None
    name = store = None
    if sent_by is not None:
        who = session.execute(
            select(ASSOCIATE.c.display_name, LOCATION.c.name)
            .outerjoin(LOCATION, LOCATION.c.id == ASSOCIATE.c.home_location_id)
            .where(ASSOCIATE.c.id == sent_by)
        ).first()
        if who is not None:
            name, store = who
    return PublicLook("", row.name, "", name, store, None, (look_product(row),))


def looks_of_associate(session: Session, associate_id: int, limit: int = 20) -> list[LookView]:
    """The associate's latest looks, newest first."""
    limit = max(1, min(limit, LIST_MAX))
    rows = session.execute(
        select(LOOK)
        .where(LOOK.c.associate_id == associate_id)
        .order_by(LOOK.c.created_at.desc(), LOOK.c.id.desc())
        .limit(limit)
    ).all()
    return _views(session, rows)


def looks_for_client(session: Session, customer_id: int, limit: int = 20) -> list[LookView]:
    """Looks made for a client (a merged-away id answers for its survivor), newest first."""
    cid = resolve_id(session, customer_id)
    limit = max(1, min(limit, LIST_MAX))
    rows = session.execute(
        select(LOOK).where(LOOK.c.customer_id == cid).order_by(LOOK.c.created_at.desc(), LOOK.c.id.desc()).limit(limit)
    ).all()
    return _views(session, rows)


def products_by_id(session: Session, product_ids: Sequence[int]) -> list[LookProduct]:
    """These products, in the order given (unknown ids left out)."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return []
    rows = {r.id: r for r in session.execute(select(*PRODUCT_COLUMNS).where(one_of(session, PRODUCT.c.id, ids)))}
    return [look_product(rows[i]) for i in ids if i in rows]


@dataclass(frozen=True)
class ClientRef:
    """The client a look is made for, as the builder names them."""

    id: int
    name: str


def client_ref(session: Session, customer_id: int) -> ClientRef:
    """The client (a merged-away id answers with its survivor); NotFound when there is none."""
    cid = resolve_id(session, customer_id)
    row = session.execute(select(CUSTOMER.c.first_name, CUSTOMER.c.last_name).where(CUSTOMER.c.id == cid)).one()
    name = " ".join(p for p in (row.first_name, row.last_name) if p) or f"Client #{cid}"
    return ClientRef(cid, name)


def find_products(session: Session, q: str, *, limit: int = 20) -> list[LookProduct]:
    """The builder's catalogue search: sellable SKUs whose SKU or style starts with ``q`` or whose name holds it.

    SKUs, not styles: a look shows one colour and size. Exact codes first, then code prefixes, then names.
    """
    text = " ".join((q or "").split()).lower()[:100]
    if not text:
        return []
    sku, style, name = func.lower(PRODUCT.c.sku), func.lower(PRODUCT.c.style_code), func.lower(PRODUCT.c.name)
    by_code = or_(sku.startswith(text, autoescape=True), style.startswith(text, autoescape=True))
    exact = or_(sku == text, style == text)
    rank = case((exact, 0), (by_code, 1), else_=2)
    rows = session.execute(
        select(*PRODUCT_COLUMNS)
        .where(and_(PRODUCT.c.active.is_(True), or_(by_code, name.contains(text, autoescape=True))))
        .order_by(rank, PRODUCT.c.name, PRODUCT.c.style_code, PRODUCT.c.sku)
        .limit(max(1, min(limit, SEARCH_MAX)))
    ).all()
    return [look_product(r) for r in rows]
