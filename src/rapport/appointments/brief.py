"""The pre-visit brief: the one screen an associate opens thirty seconds before the client walks in.

Who is coming and why (the appointment, what the client said when booking, what was said online),
who they are (the 360's summary, sizes, preferences, notes), what they bought (with sizes, returns
marked), what is already set aside for them — and the **items to pull**: what they asked to see,
their wishlist and what they tried on, each in their size with what this store can promise right
now and whether it is already held for them.

Read in a bounded number of statements whatever the client's history: the appointment (one
statement with its type, store and associates), the 360 (its fixed statements), the latest
purchases (one), the thread's last messages (one or two), holds (one), the catalogue rows the
items to pull need (one), their stock at this store (three, through
:func:`rapport.inventory.availability.sku_availability`) and the client's other visits (one).

A client merged since booking is read as the survivor, whose history includes the merged record's
orders and messages (they moved with the merge).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rapport.appointments.models import Appointment, AppointmentType
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers import purchases, read
from rapport.customers.models import Customer
from rapport.customers.views import Client360, LocationRef, Money, ProductRef
from rapport.db import one_of, table_of
from rapport.errors import NotFound
from rapport.identity.merge import resolve_id
from rapport.inventory.availability import size_key, sku_availability
from rapport.inventory.holds import HoldView, holds_of_client
from rapport.inventory.models import Location
from rapport.outreach.conversations import MessageView, thread_of

APPOINTMENT = table_of(Appointment)
TYPE = table_of(AppointmentType)
LOCATION = table_of(Location)
ASSOCIATE = table_of(Associate)
PRODUCT = table_of(Product)
CUSTOMER = table_of(Customer)
WITH = ASSOCIATE.alias("with_associate")
BOOKER = ASSOCIATE.alias("booker")

#: The latest messages of the client's thread shown on the brief.
MESSAGES = 8
#: Purchase lines shown (the profile has the rest).
PURCHASE_LINES = 10
#: Wishlist items and try-ons considered for the items to pull.
PULL_FROM_EACH = 10
#: The client's other appointments shown.
VISITS = 5
LOCALE = "en_US"
VIA_WORDS = {"web": "the booking page", "associate": "an associate", "api": "the website"}


@dataclass(frozen=True)
class AppointmentFacts:
    """The appointment itself, with its type, store and people by name."""

    id: int
    customer_id: int  # as booked (a merge may have moved the client since)
    location_id: int
    location_code: str
    location_name: str
    timezone: str
    type_id: int
    type_name: str
    type_kind: str
    virtual: bool
    starts_at: datetime
    ends_at: datetime
    status: str
    outcome: str | None
    outcome_note: str | None
    reason: str
    products_of_interest: tuple[str, ...]
    sizes: dict[str, str]
    conversation_summary: str | None
    associate_id: int | None
    associate_name: str | None
    booked_via: str
    booked_by_id: int | None
    booked_by_name: str | None
    created_at: datetime
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    version: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or "UTC")

    @property
    def local_start(self) -> datetime:
        """The start in the store's time: what the associate and the client read."""
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.zone)

    @property
    def booked_via_words(self) -> str:
        return VIA_WORDS.get(self.booked_via, self.booked_via)


@dataclass(frozen=True)
class Interest:
    """One product the client said they would like to see, as they gave it, and what it is in the catalogue."""

    text: str
    #: The catalogue product (in their size when the text named a style); None for free text and links.
    product: ProductRef | None = None
    #: The text when it is a web address (http or https), to open as given.
    link: str | None = None


@dataclass(frozen=True)
class PullItem:
    """Something to have ready in the fitting room, in the client's size, with the stock to fetch it."""

    product: ProductRef  # the SKU to pull
    reasons: tuple[str, ...]  # "Asked to see", "On the wishlist", "Tried on Jun 1, 2026"
    #: Their size for this category (said at booking, else on their profile); None when unknown or one size.
    wanted_size: str | None
    #: Whether ``product`` is in that size (False: their size does not exist, this is the one they looked at).
    in_their_size: bool | None
    here: int  # units this store can promise now
    online: int  # units the online stock can promise
    #: Already set aside for them: this style at this store first, else anywhere.
    held: HoldView | None
    #: ``held`` is at this store (ready for the visit), not another one.
    held_here: bool


@dataclass(frozen=True)
class BoughtLine:
    """One line of a recent purchase, with the size and what came back."""

    order_id: int
    order_number: str | None
    placed_at: datetime
    channel: str
    location: LocationRef | None
    cancelled: bool
    product: ProductRef
    quantity: int
    returned_quantity: int
    total: Money


@dataclass(frozen=True)
class Visit:
    """Another appointment of the client (before or after this one)."""

    id: int
    starts_at: datetime
    local_start: datetime
    type_name: str
    location_name: str
    status: str
    outcome: str | None
    outcome_note: str | None
    associate_name: str | None


@dataclass(frozen=True)
class Brief:
    appointment: AppointmentFacts
    #: The client as they are now (the survivor when the booked record was merged since).
    customer_id: int
    merged_from: int | None
    client: Client360
    interests: list[Interest]
    #: Sizes the client gave when booking (their profile's sizes are in ``client.profile.sizes``).
    sizes: dict[str, str]
    conversation_summary: str | None
    messages: list[MessageView]  # oldest first
    more_messages: bool
    purchases: list[BoughtLine]
    holds: list[HoldView]
    pull: list[PullItem]
    visits: list[Visit]

    @property
    def reason(self) -> str:
        return self.appointment.reason


# -- reading ---------------------------------------------------------------------------------------


def appointment_facts(session: Session, appointment_id: int) -> AppointmentFacts:
    """The appointment with its type, store and associates by name (one statement)."""
    a, t, loc = APPOINTMENT, TYPE, LOCATION
    row = session.execute(
        select(
            a, t.c.name.label("type_name"), t.c.kind.label("type_kind"), t.c.virtual, loc.c.code.label("location_code"),
            loc.c.name.label("location_name"), loc.c.timezone, WITH.c.display_name.label("associate_name"),
            BOOKER.c.display_name.label("booked_by_name"),
        )
        .select_from(
            a.join(t, t.c.id == a.c.type_id).join(loc, loc.c.id == a.c.location_id)
            .outerjoin(WITH, WITH.c.id == a.c.associate_id).outerjoin(BOOKER, BOOKER.c.id == a.c.booked_by_id)
        )
        .where(a.c.id == appointment_id)
    ).first()  # fmt: skip
    if row is None:
        raise NotFound(f"appointment {appointment_id} not found")
    return AppointmentFacts(
        id=row.id, customer_id=row.customer_id, location_id=row.location_id, location_code=row.location_code,
        location_name=row.location_name, timezone=row.timezone or "UTC", type_id=row.type_id, type_name=row.type_name,
        type_kind=row.type_kind, virtual=bool(row.virtual), starts_at=row.starts_at, ends_at=row.ends_at,
        status=row.status, outcome=row.outcome, outcome_note=row.outcome_note, reason=row.reason or "",
        products_of_interest=tuple(str(p) for p in (row.products_of_interest or ()) if str(p).strip()),
        sizes={str(k): str(v) for k, v in (row.sizes or {}).items()}, conversation_summary=row.conversation_summary,
        associate_id=row.associate_id, associate_name=row.associate_name, booked_via=row.booked_via,
        booked_by_id=row.booked_by_id, booked_by_name=row.booked_by_name, created_at=row.created_at,
        checked_in_at=row.checked_in_at, cancelled_at=row.cancelled_at, cancel_reason=row.cancel_reason,
        version=row.version,
    )  # fmt: skip


def brief_of(session: Session, appointment_id: int, *, locale: str = LOCALE) -> Brief:
    """Everything the associate needs before the visit (see the module docstring)."""
    facts = appointment_facts(session, appointment_id)
    cid = resolve_id(session, facts.customer_id)
    client = read.client_360(session, cid, timeline_limit=1, locale=locale)
    thread = thread_of(session, cid, limit=MESSAGES)
    holds = holds_of_client(session, cid)
    bought = _bought(purchases.recent_purchases(session, cid, orders=PURCHASE_LINES, locale=locale))
    interests, pull = _interests_and_pull(session, facts, client, holds, locale)
    return Brief(
        appointment=facts,
        customer_id=cid,
        merged_from=facts.customer_id if cid != facts.customer_id else None,
        client=client,
        interests=interests,
        sizes=facts.sizes,
        conversation_summary=facts.conversation_summary,
        messages=thread.messages,
        more_messages=thread.older_before is not None,
        purchases=bought,
        holds=holds,
        pull=pull,
        visits=_visits(session, cid, facts.id),
    )


def _bought(orders: Iterable[purchases.Purchase]) -> list[BoughtLine]:
    lines = [
        BoughtLine(
            o.order_id,
            o.order_number,
            o.placed_at,
            o.channel,
            o.location,
            o.status == "cancelled",
            line.product,
            line.quantity,
            line.returned_quantity,
            line.total,
        )
        for o in orders
        for line in o.lines
    ]
    return lines[:PURCHASE_LINES]


def _visits(session: Session, cid: int, this_id: int) -> list[Visit]:
    a, t, loc = APPOINTMENT, TYPE, LOCATION
    rows = session.execute(
        select(a.c.id, a.c.starts_at, a.c.status, a.c.outcome, a.c.outcome_note, t.c.name.label("type_name"),
               loc.c.name.label("location_name"), loc.c.timezone, WITH.c.display_name.label("associate_name"))
        .select_from(a.join(t, t.c.id == a.c.type_id).join(loc, loc.c.id == a.c.location_id)
                     .outerjoin(WITH, WITH.c.id == a.c.associate_id))
        .where(a.c.customer_id == cid, a.c.id != this_id)
        .order_by(a.c.starts_at.desc(), a.c.id.desc())
        .limit(VISITS)
    )  # fmt: skip
    return [
        Visit(
            r.id,
            r.starts_at,
            r.starts_at.astimezone(ZoneInfo(r.timezone or "UTC")),
            r.type_name,
            r.location_name,
            r.status,
            r.outcome,
            r.outcome_note,
            r.associate_name,
        )
        for r in rows
    ]


# -- what they asked to see, and what to pull ----------------------------------------------------------


def is_link(text: str) -> bool:
    """A web address to open as given (only http and https: never ``javascript:`` or ``data:``)."""
    lowered = text.strip().lower()
    return lowered.startswith(("https://", "http://")) and " " not in text.strip()


def _category(value: str | None) -> str:
    """``Coats`` and ``coat`` name one category: sizes are keyed by either."""
    text = (value or "").strip().lower()
    return text[:-1] if len(text) > 3 and text.endswith("s") else text


def _one_size(size: str | None) -> bool:
    return size_key(size)[0] == 3


def wanted_size(product: ProductRef, *sizes: Mapping[str, str]) -> str | None:
    """The client's size for this product's category: the first of ``sizes`` that names it."""
    if _one_size(product.size) or not product.category:
        return None
    category = _category(product.category)
    for given in sizes:
        for key, value in given.items():
            if _category(key) == category and str(value).strip():
                return str(value).strip()
    return None


def _ref(row: Any, locale: str) -> ProductRef:
    return ProductRef(
        id=row.id, sku=row.sku, name=row.name, style_code=row.style_code, brand=row.brand, category=row.category,
        colour=row.colour, size=row.size, price=read.money(row.price_minor, row.currency, locale),
        image_url=row.image_url,
    )  # fmt: skip


def _catalogue(session: Session, keys: Sequence[str], styles: Sequence[str]) -> list[Any]:
    """Products named by ``keys`` (SKUs or style codes) and every size of their styles and of ``styles``."""
    if not keys and not styles:
        return []
    p = PRODUCT
    of_skus = select(p.c.style_code).where(one_of(session, p.c.sku, list(keys))).scalar_subquery()
    named_styles = list(dict.fromkeys([*keys, *styles]))
    return list(
        session.execute(
            select(p.c.id, p.c.sku, p.c.style_code, p.c.name, p.c.brand, p.c.category, p.c.colour, p.c.size,
                   p.c.price_minor, p.c.currency, p.c.image_url, p.c.active)
            .where(or_(one_of(session, p.c.style_code, named_styles), p.c.style_code.in_(of_skus)))
        )
    )  # fmt: skip


@dataclass
class _Wanted:
    reference: Any  # the catalogue row the client looked at (or the first size of a style they named)
    reasons: list[str]


def _interests_and_pull(
    session: Session, facts: AppointmentFacts, client: Client360, holds: Sequence[HoldView], locale: str
) -> tuple[list[Interest], list[PullItem]]:
    said = list(facts.products_of_interest)
    keys = [t.strip() for t in said if not is_link(t)]
    keys = list(dict.fromkeys([*keys, *(k.upper() for k in keys)]))
    wishlist = client.wishlist[:PULL_FROM_EACH]
    tried = [t for t in client.tried_on if not t.bought_after][:PULL_FROM_EACH]
    styles = [w.product.style_code for w in wishlist] + [t.product.style_code for t in tried]
    rows = _catalogue(session, keys, styles)
    by_sku = {r.sku: r for r in rows}
    by_style: dict[str, list[Any]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (not r.active, size_key(r.size), r.sku)):
        by_style[r.style_code].append(r)

    sizes = (facts.sizes, client.profile.sizes)

    def variant(reference: Any) -> tuple[Any, str | None, bool | None]:
        """The size of ``reference``'s style (same colour) the client wears, when the catalogue has it."""
        ref = _ref(reference, locale)
        size = wanted_size(ref, *sizes)
        if size is None:
            return reference, None, None
        same_colour = [r for r in by_style.get(reference.style_code, ()) if r.colour == reference.colour]
        match = next((r for r in same_colour if (r.size or "").strip().lower() == size.lower()), None)
        if match is not None:
            return match, size, True
        return reference, size, False

    interests: list[Interest] = []
    wanted: dict[tuple[str, str | None], _Wanted] = {}

    def want(reference: Any, reason: str) -> None:
        key = (reference.style_code, reference.colour)
        if key in wanted:
            if reason not in wanted[key].reasons:
                wanted[key].reasons.append(reason)
        else:
            wanted[key] = _Wanted(reference, [reason])

    for text in said:
        clean = text.strip()
        if is_link(clean):
            interests.append(Interest(clean, link=clean))
            continue
        row = by_sku.get(clean) or by_sku.get(clean.upper())
        if row is not None:
            interests.append(Interest(clean, _ref(row, locale)))
            want(row, "Asked to see")
            continue
        style = by_style.get(clean) or by_style.get(clean.upper())
        if style:
            chosen, _, _ = variant(style[0])
            interests.append(Interest(clean, _ref(chosen, locale)))
            want(style[0], "Asked to see")
            continue
        interests.append(Interest(clean))
    for w in wishlist:
        row = by_sku.get(w.product.sku)
        if row is not None:
            want(row, "On the wishlist")
    for t in tried:
        row = by_sku.get(t.product.sku)
        if row is not None:
            where = f" in {t.location.name}" if t.location else ""
            want(row, f"Tried on {t.occurred_at:%b} {t.occurred_at.day}{where}")

    chosen_rows = [(entry, *variant(entry.reference)) for entry in wanted.values()]
    stock: dict[str, tuple[int, int]] = {}
    if chosen_rows:
        skus = list(dict.fromkeys(row.sku for _, row, _, _ in chosen_rows))
        for found in sku_availability(session, skus, [facts.location_code]):
            here = next((loc.available for loc in found.locations if loc.code == facts.location_code), 0)
            stock[found.sku] = (here, found.online)
    active = [h for h in holds if h.active]
    pull: list[PullItem] = []
    for entry, row, size, in_size in chosen_rows:
        here, online = stock.get(row.sku, (0, 0))
        same_style = [h for h in active if h.style_code == row.style_code]
        held = next((h for h in same_style if h.location_id == facts.location_id), None) or next(iter(same_style), None)
        held_here = held is not None and held.location_id == facts.location_id
        pull.append(PullItem(_ref(row, locale), tuple(entry.reasons), size, in_size, here, online, held, held_here))
    return interests, pull


# -- a client at a glance (the booking form) ----------------------------------------------------------


@dataclass(frozen=True)
class ClientGlance:
    """Who an associate is booking for: the name to show and the sizes to start from."""

    id: int  # the survivor when a merged-away id was given
    name: str
    tier: str | None
    sizes: dict[str, str]
    home_location_id: int | None
    assigned_associate_id: int | None


def client_glance(session: Session, customer_id: int) -> ClientGlance:
    """The client's name, tier, sizes and home store (a merged-away id answers for its survivor)."""
    cid = resolve_id(session, customer_id)
    c = CUSTOMER
    row = session.execute(
        select(c.c.id, c.c.first_name, c.c.last_name, c.c.tier, c.c.sizes, c.c.home_location_id,
               c.c.assigned_associate_id).where(c.c.id == cid)
    ).one()  # fmt: skip
    name = " ".join(p for p in (row.first_name, row.last_name) if p) or f"Client #{row.id}"
    sizes = {str(k): str(v) for k, v in (row.sizes or {}).items()}
    return ClientGlance(row.id, name, row.tier, sizes, row.home_location_id, row.assigned_associate_id)
