"""The Customer 360: everything an associate needs about one client, read in a bounded number of queries.

The screen is opened seconds before the client reaches the counter, so the read must stay fast at
any history length: every part is one indexed SQL statement (aggregates computed by the database,
lists capped), never a query per order or per entry. ``client_360`` issues the same number of
statements whether the client has one order or a thousand.

Money comes out as integer minor units with the currency and a Babel-formatted string; datetimes
are aware UTC; "next occurrence" of a milestone is computed against the injected clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from sqlalchemy import Integer, Select, and_, bindparam, func, literal, select, tuple_, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.selectable import FromClause

from rapport import clock, pagination
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.commerce.models import CHANNELS, Order, OrderLine, Return, ReturnLine
from rapport.customers.models import (
    CONSENT_CHANNELS,
    TIMELINE_KINDS,
    Address,
    Consent,
    Customer,
    Milestone,
    Note,
    Relationship,
    TimelineEntry,
    WishlistItem,
)
from rapport.customers.views import (
    Actor,
    AddressView,
    AssociateRef,
    ChannelFigures,
    Client360,
    ConsentView,
    EmailIdentity,
    ExternalIdentity,
    Favourite,
    Identities,
    Kpis,
    LocationRef,
    MilestoneView,
    Money,
    NoteView,
    PhoneIdentity,
    ProductRef,
    Profile,
    RelationshipView,
    Spend,
    TimelineItem,
    TimelinePage,
    TryOnView,
    WishlistView,
)
from rapport.db import UTCDateTime
from rapport.errors import InvalidRecord, NotFound
from rapport.identity.merge import resolve_id
from rapport.identity.models import Identifier
from rapport.inventory.models import Location
from rapport.money import format_money

CUSTOMER = Customer.__table__
ADDRESS = Address.__table__
MILESTONE = Milestone.__table__
RELATIONSHIP = Relationship.__table__
NOTE = Note.__table__
CONSENT = Consent.__table__
WISHLIST = WishlistItem.__table__
TIMELINE = TimelineEntry.__table__
IDENTIFIER = Identifier.__table__
ORDER = Order.__table__
ORDER_LINE = OrderLine.__table__
RETURN = Return.__table__
RETURN_LINE = ReturnLine.__table__
PRODUCT = Product.__table__
LOCATION = Location.__table__
ASSOCIATE = Associate.__table__
#: Aliases built once: building them per request costs more than some of the queries.
HOME = LOCATION.alias("home")
OTHER = CUSTOMER.alias("other")
BOUGHT_ORDER, BOUGHT_LINE, BOUGHT_PRODUCT = ORDER.alias("o2"), ORDER_LINE.alias("ol2"), PRODUCT.alias("p2")

TIMELINE_DEFAULT = 50
TIMELINE_MAX = 200
NOTES_LIMIT = 50
WISHLIST_LIMIT = 100
TRY_ON_LIMIT = 50
FAVOURITES = 3
#: Channels a timeline entry may carry: the sales channels and the conversation channels.
TIMELINE_CHANNELS = (*CHANNELS, "email", "sms", "whatsapp", "web")


# -- the read model ----------------------------------------------------------------------------


def client_360(
    session: Session, customer_id: int, *, timeline_limit: int = TIMELINE_DEFAULT, locale: str = "en_US"
) -> Client360:
    """The whole 360 of a client; a merged-away id answers with its survivor's 360."""
    row = _profile_row(session, customer_id)
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    resolved_from = None
    if row.merged_into_id is not None:
        survivor = resolve_id(session, customer_id)
        resolved_from = customer_id
        row = _profile_row(session, survivor)
        if row is None:  # pragma: no cover - a merge chain always ends at a stored client
            raise NotFound(f"client {customer_id} not found")
    cid = int(row.id)
    profile = _profile(row)
    return Client360(
        customer_id=cid,
        resolved_from=resolved_from,
        generated_at=clock.now(),
        profile=profile,
        identities=_identities(session, cid),
        addresses=_addresses(session, cid),
        milestones=_milestones(session, cid, profile.birth_date),
        relationships=_relationships(session, cid),
        notes=_notes(session, cid),
        consent=_consent(session, cid),
        kpis=_kpis(session, cid, locale),
        timeline=_timeline(session, cid, resolved_from, None, _page_size(timeline_limit), (), (), locale),
        wishlist=_wishlist(session, cid, locale),
        tried_on=_tried_on(session, cid, locale),
    )


def client_timeline(
    session: Session,
    customer_id: int,
    *,
    before: str | None = None,
    limit: int = TIMELINE_DEFAULT,
    channels: Sequence[str] = (),
    kinds: Sequence[str] = (),
    locale: str = "en_US",
) -> TimelinePage:
    """One page of a client's cross-channel timeline, newest first, older than the ``before`` cursor."""
    unknown_kinds = sorted(set(kinds) - set(TIMELINE_KINDS))
    if unknown_kinds:
        expected = ", ".join(TIMELINE_KINDS)
        raise InvalidRecord.one("kind", f"unknown kind {unknown_kinds[0]!r}; expected one of {expected}")
    unknown_channels = sorted(set(channels) - set(TIMELINE_CHANNELS))
    if unknown_channels:
        expected = ", ".join(TIMELINE_CHANNELS)
        raise InvalidRecord.one("channel", f"unknown channel {unknown_channels[0]!r}; expected one of {expected}")
    cursor = decode_cursor(before) if before else None
    cid = resolve_id(session, customer_id)
    resolved_from = customer_id if cid != customer_id else None
    return _timeline(session, cid, resolved_from, cursor, _page_size(limit), channels, kinds, locale)


def encode_cursor(occurred_at: datetime, entry_id: int) -> str:
    return pagination.encode_cursor(occurred_at, entry_id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """``(occurred_at, id)`` of the last entry already shown; InvalidRecord naming ``before`` if garbled."""
    return pagination.decode_cursor(cursor, field="before", what="timeline")


# -- helpers -----------------------------------------------------------------------------------


def money(minor: int, currency: str, locale: str = "en_US") -> Money:
    return Money(int(minor), currency, _formatted(int(minor), currency, locale))


@lru_cache(maxsize=16384)
def _formatted(minor: int, currency: str, locale: str) -> str:
    """Babel formatting is slow next to the queries, and the same prices recur on every screen."""
    return format_money(minor, currency, locale)


def _cid() -> Any:
    return bindparam("cid", type_=CUSTOMER.c.id.type)


def _page_size(limit: int) -> int:
    if not 1 <= limit <= TIMELINE_MAX:
        raise InvalidRecord.one("limit", f"must be between 1 and {TIMELINE_MAX}")
    return limit


def _product_columns(p: FromClause, prefix: str = "p_") -> list[Label[Any]]:
    names = (
        "id", "sku", "name", "style_code", "brand", "category", "colour", "size", "price_minor", "currency",
        "image_url",
    )  # fmt: skip
    return [p.c[n].label(prefix + n) for n in names]


def _product(row: Any, locale: str, prefix: str = "p_") -> ProductRef | None:
    m = row._mapping
    if m[prefix + "id"] is None:
        return None
    return ProductRef(
        id=m[prefix + "id"],
        sku=m[prefix + "sku"],
        name=m[prefix + "name"],
        style_code=m[prefix + "style_code"],
        brand=m[prefix + "brand"],
        category=m[prefix + "category"],
        colour=m[prefix + "colour"],
        size=m[prefix + "size"],
        price=money(m[prefix + "price_minor"], m[prefix + "currency"], locale),
        image_url=m[prefix + "image_url"],
    )


def _location(id_: int | None, code: str | None, name: str | None) -> LocationRef | None:
    return None if id_ is None or code is None else LocationRef(id_, code, name or code)


# -- profile and the lists around it -----------------------------------------------------------


@cache
def _statement(name: str) -> Select[Any]:
    """The fixed statements of the 360, built once; each takes the client id as ``:cid``."""
    return _STATEMENTS[name]()


def _run(session: Session, name: str, cid: int) -> Any:
    return session.execute(_statement(name), {"cid": cid})


def _profile_statement() -> Select[Any]:
    return (
        select(
            CUSTOMER,
            HOME.c.code.label("home_code"),
            HOME.c.name.label("home_name"),
            ASSOCIATE.c.display_name.label("associate_name"),
        )
        .select_from(
            CUSTOMER.outerjoin(HOME, HOME.c.id == CUSTOMER.c.home_location_id).outerjoin(
                ASSOCIATE, ASSOCIATE.c.id == CUSTOMER.c.assigned_associate_id
            )
        )
        .where(CUSTOMER.c.id == _cid())
    )


def _profile_row(session: Session, customer_id: int) -> Any:
    return _run(session, "profile", customer_id).first()


def _profile(row: Any) -> Profile:
    full_name = " ".join(p for p in (row.first_name, row.last_name) if p) or f"Client #{row.id}"
    associate = None
    if row.assigned_associate_id is not None:
        associate = AssociateRef(row.assigned_associate_id, row.associate_name or "")
    return Profile(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        full_name=full_name,
        birth_date=row.birth_date,
        language=row.language,
        city=row.city,
        country=row.country,
        tier=row.tier,
        tags=list(row.tags or []),
        preferences=dict(row.preferences or {}),
        sizes=dict(row.sizes or {}),
        home_store=_location(row.home_location_id, row.home_code, row.home_name),
        assigned_associate=associate,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _identities(session: Session, cid: int) -> Identities:
    out = Identities()
    rows = _run(session, "identities", cid)
    for kind, namespace, value, verified, source, created_at in rows:
        if kind == "email":
            out.emails.append(EmailIdentity(value, verified, source, created_at))
        elif kind == "phone":
            out.phones.append(PhoneIdentity(value, _phone_display(value), verified, source, created_at))
        else:
            out.external_ids.append(ExternalIdentity(namespace, value, verified, created_at))
    return out


def _phone_display(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _addresses(session: Session, cid: int) -> list[AddressView]:
    rows = _run(session, "addresses", cid)
    return [
        AddressView(r.id, r.kind, r.line1, r.line2, r.city, r.region, r.postal_code, r.country, r.is_primary, r.source)
        for r in rows
    ]


def next_occurrence(month: int, day: int, today: date) -> date:
    """The next ``month``/``day`` on or after ``today``; 29 February falls on the 28th in common years."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year
            candidate = date(year, month, 28)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable: a date recurs within a year")  # pragma: no cover


def _milestone(
    id_: int | None, kind: str, label: str, month: int, day: int, year: int | None, source: str, today: date
) -> MilestoneView:
    upcoming = next_occurrence(month, day, today)
    return MilestoneView(
        id=id_,
        kind=kind,
        label=label,
        month=month,
        day=day,
        year=year,
        next_date=upcoming,
        days_until=(upcoming - today).days,
        years=None if year is None else upcoming.year - year,
        source=source,
    )


def _milestones(session: Session, cid: int, birth_date: date | None) -> list[MilestoneView]:
    today = clock.now().date()
    rows = _run(session, "milestones", cid)
    out = [_milestone(r.id, r.kind, r.label, r.month, r.day, r.year, r.source, today) for r in rows]
    if birth_date is not None:
        born = (birth_date.month, birth_date.day)
        if not any(v.kind == "birthday" and not v.label and (v.month, v.day) == born for v in out):
            out.append(_milestone(None, "birthday", "", *born, birth_date.year, "profile", today))
    out.sort(key=lambda v: (v.next_date, v.kind, v.label))
    return out


def _relationships(session: Session, cid: int) -> list[RelationshipView]:
    out = []
    rows = _run(session, "relationships", cid)
    for row in rows:
        other_name = " ".join(p for p in (row.other_first, row.other_last) if p) or None
        out.append(
            RelationshipView(row.id, row.relation, row.name, row.note, row.related_customer_id, other_name, row.source)
        )
    return out


def _notes(session: Session, cid: int) -> list[NoteView]:
    rows = _run(session, "notes", cid)
    return [
        NoteView(
            id=r.id,
            body=r.body,
            author=None if r.author_associate_id is None else AssociateRef(r.author_associate_id, r.author_name or ""),
            source=r.source,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _consent(session: Session, cid: int) -> list[ConsentView]:
    found = {
        r.channel: ConsentView(r.channel, r.granted, r.source, r.recorded_at) for r in _run(session, "consent", cid)
    }
    known = [found.pop(ch) if ch in found else ConsentView(ch, None, None, None) for ch in CONSENT_CHANNELS]
    return known + sorted(found.values(), key=lambda v: v.channel)


# -- KPIs --------------------------------------------------------------------------------------


def _average(total: int, count: int) -> int:
    return int((Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _orders_statement() -> Select[Any]:
    """Placed (non-cancelled) orders per channel and currency."""
    o = ORDER
    return (
        select(
            o.c.channel,
            o.c.currency,
            func.count().label("n"),
            func.sum(o.c.total_minor).label("total"),
            func.min(o.c.placed_at).label("first"),
            func.max(o.c.placed_at).label("last"),
        )
        .where(o.c.customer_id == _cid(), o.c.status != "cancelled")
        .group_by(o.c.channel, o.c.currency)
    )


def _refunds_statement() -> Select[Any]:
    """Refunds per currency: returns in any channel, for orders from any channel."""
    r = RETURN
    return (
        select(r.c.currency, func.count().label("n"), func.sum(r.c.refund_minor).label("refunded"))
        .where(r.c.customer_id == _cid())
        .group_by(r.c.currency)
    )


def _kpis(session: Session, cid: int, locale: str) -> Kpis:
    order_rows = _run(session, "orders", cid).all()
    refund_rows = _run(session, "refunds", cid).all()
    unit_rows = _run(session, "units", cid).all()

    gross: dict[str, int] = defaultdict(int)
    count_by_currency: dict[str, int] = defaultdict(int)
    by_channel: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for row in order_rows:
        total, n = int(row.total or 0), int(row.n)
        gross[row.currency] += total
        count_by_currency[row.currency] += n
        by_channel[row.channel][row.currency] = (n, total)
        firsts.append(row.first)
        lasts.append(row.last)
    refunded = {row.currency: int(row.refunded or 0) for row in refund_rows}

    spend = []
    for currency in sorted(set(gross) | set(refunded)):
        n = count_by_currency.get(currency, 0)
        g, back = gross.get(currency, 0), refunded.get(currency, 0)
        spend.append(
            Spend(
                currency=currency,
                gross=money(g, currency, locale),
                refunded=money(back, currency, locale),
                net=money(g - back, currency, locale),
                order_count=n,
                average_order_value=money(_average(g, n), currency, locale) if n else None,
            )
        )
    channels = []
    for channel in sorted(by_channel, key=lambda ch: (CHANNELS.index(ch) if ch in CHANNELS else 99, ch)):
        per = by_channel[channel]
        channels.append(
            ChannelFigures(
                channel=channel,
                order_count=sum(n for n, _ in per.values()),
                spend=[money(total, cur, locale) for cur, (_, total) in sorted(per.items())],
                average_order_value=[money(_average(total, n), cur, locale) for cur, (n, total) in sorted(per.items())],
            )
        )

    order_count = sum(count_by_currency.values())
    first = min(firsts) if firsts else None
    last = max(lasts) if lasts else None
    cadence = None
    if first is not None and last is not None and order_count > 1:
        cadence = round((last - first).total_seconds() / 86400 / (order_count - 1), 1)

    categories: dict[str, int] = defaultdict(int)
    brands: dict[str, int] = defaultdict(int)
    sizes: dict[str, int] = defaultdict(int)
    units_bought = units_returned = 0
    for row in unit_rows:
        bought, back = int(row.bought or 0), int(row.returned or 0)
        units_bought += bought
        units_returned += back
        kept = bought - back
        for bucket, value in ((categories, row.category), (brands, row.brand), (sizes, row.size)):
            if value:
                bucket[value] += kept

    return Kpis(
        order_count=order_count,
        lifetime_spend=spend,
        channels=channels,
        first_purchase_at=first,
        last_purchase_at=last,
        average_days_between_purchases=cadence,
        favourite_categories=_top(categories),
        favourite_brands=_top(brands),
        favourite_sizes=_top(sizes),
        return_count=sum(int(row.n) for row in refund_rows),
        units_bought=units_bought,
        units_returned=units_returned,
        return_rate=round(units_returned / units_bought, 4) if units_bought else None,
    )


def _units_statement() -> Select[Any]:
    """Bought units (placed orders) and returned units (lines linked to an order line) per product facet."""
    o, ol, r, rl, p = ORDER, ORDER_LINE, RETURN, RETURN_LINE, PRODUCT
    cid = _cid()
    zero = literal(0, Integer)
    bought = (
        select(p.c.category, p.c.brand, p.c.size, ol.c.quantity.label("bought"), zero.label("returned"))
        .select_from(ol.join(o, o.c.id == ol.c.order_id).join(p, p.c.id == ol.c.product_id))
        .where(o.c.customer_id == cid, o.c.status != "cancelled")
    )
    returned = (
        select(p.c.category, p.c.brand, p.c.size, zero.label("bought"), rl.c.quantity.label("returned"))
        .select_from(
            rl.join(r, r.c.id == rl.c.return_id)
            .join(ol, ol.c.id == rl.c.order_line_id)
            .join(o, o.c.id == ol.c.order_id)
            .join(p, p.c.id == ol.c.product_id)
        )
        .where(r.c.customer_id == cid, o.c.status != "cancelled")
    )
    u = union_all(bought, returned).subquery("units")
    return select(
        u.c.category,
        u.c.brand,
        u.c.size,
        func.sum(u.c.bought).label("bought"),
        func.sum(u.c.returned).label("returned"),
    ).group_by(u.c.category, u.c.brand, u.c.size)


def _top(counts: dict[str, int]) -> list[Favourite]:
    ranked = sorted(((q, name) for name, q in counts.items() if q > 0), key=lambda t: (-t[0], t[1]))
    return [Favourite(name, q) for q, name in ranked[:FAVOURITES]]


# -- timeline, wishlist, try-ons ---------------------------------------------------------------


@cache
def _timeline_statement(after_cursor: bool, by_channel: bool, by_kind: bool) -> Select[Any]:
    """A page of entries (the index walks newest first and stops at the limit), then what they point at."""
    t, loc, p, a = TIMELINE, LOCATION, PRODUCT, ASSOCIATE
    conditions: list[ColumnElement[bool]] = [t.c.customer_id == _cid()]
    if after_cursor:
        # Row comparison keeps the (customer_id, occurred_at, id) index usable on both engines.
        conditions.append(
            tuple_(t.c.occurred_at, t.c.id)
            < tuple_(bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Integer()))
        )
    if by_channel:
        conditions.append(t.c.channel.in_(bindparam("channels", expanding=True)))
    if by_kind:
        conditions.append(t.c.kind.in_(bindparam("kinds", expanding=True)))
    page = (
        select(t)
        .where(*conditions)
        .order_by(t.c.occurred_at.desc(), t.c.id.desc())
        .limit(bindparam("page_rows", type_=Integer()))
        .subquery("page")
    )
    return (
        select(
            page,
            loc.c.code.label("location_code"),
            loc.c.name.label("location_name"),
            a.c.display_name.label("actor_name"),
            *_product_columns(p),
        )
        .select_from(
            page.outerjoin(loc, loc.c.id == page.c.location_id)
            .outerjoin(p, p.c.id == page.c.product_id)
            .outerjoin(a, and_(page.c.actor_kind == "associate", a.c.id == page.c.actor_id))
        )
        .order_by(page.c.occurred_at.desc(), page.c.id.desc())
    )


def _timeline(
    session: Session,
    cid: int,
    resolved_from: int | None,
    cursor: tuple[datetime, int] | None,
    limit: int,
    channels: Iterable[str],
    kinds: Iterable[str],
    locale: str,
) -> TimelinePage:
    channels, kinds = list(channels), list(kinds)
    params: dict[str, Any] = {"cid": cid, "page_rows": limit + 1}
    if cursor is not None:
        params["before_at"], params["before_id"] = cursor
    if channels:
        params["channels"] = channels
    if kinds:
        params["kinds"] = kinds
    stmt = _timeline_statement(cursor is not None, bool(channels), bool(kinds))
    rows = session.execute(stmt, params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [
        TimelineItem(
            id=r.id,
            kind=r.kind,
            channel=r.channel,
            occurred_at=r.occurred_at,
            recorded_at=r.recorded_at,
            summary=r.summary,
            location=_location(r.location_id, r.location_code, r.location_name),
            product=_product(r, locale),
            actor=Actor(r.actor_kind, r.actor_id, r.actor_name),
            ref_type=r.ref_type,
            ref_id=r.ref_id,
            data=dict(r.data or {}),
            source=r.source,
        )
        for r in rows
    ]
    next_cursor = encode_cursor(entries[-1].occurred_at, entries[-1].id) if more and entries else None
    return TimelinePage(cid, resolved_from, entries, next_cursor)


def _wishlist_statement() -> Select[Any]:
    w, p = WISHLIST, PRODUCT
    return (
        select(w.c.added_at, w.c.source, *_product_columns(p))
        .select_from(w.join(p, p.c.id == w.c.product_id))
        .where(w.c.customer_id == _cid())
        .order_by(w.c.added_at.desc(), w.c.id.desc())
        .limit(WISHLIST_LIMIT)
    )


def _wishlist(session: Session, cid: int, locale: str) -> list[WishlistView]:
    out = []
    for r in _run(session, "wishlist", cid):
        product = _product(r, locale)
        assert product is not None  # inner join
        out.append(WishlistView(product, r.added_at, r.source))
    return out


def _tried_on_statement() -> Select[Any]:
    t, loc, p = TIMELINE, LOCATION, PRODUCT
    o, ol, bought_p = BOUGHT_ORDER, BOUGHT_LINE, BOUGHT_PRODUCT
    cid = _cid()
    bought_at = (
        select(func.min(o.c.placed_at))
        .select_from(o.join(ol, ol.c.order_id == o.c.id).join(bought_p, bought_p.c.id == ol.c.product_id))
        .where(
            o.c.customer_id == cid,
            o.c.status != "cancelled",
            o.c.placed_at >= t.c.occurred_at,
            bought_p.c.style_code == p.c.style_code,
        )
        .scalar_subquery()
    )
    return (
        select(
            t.c.id,
            t.c.occurred_at,
            t.c.channel,
            t.c.location_id,
            loc.c.code.label("location_code"),
            loc.c.name.label("location_name"),
            bought_at.label("bought_at"),
            *_product_columns(p),
        )
        .select_from(t.join(p, p.c.id == t.c.product_id).outerjoin(loc, loc.c.id == t.c.location_id))
        .where(t.c.customer_id == cid, t.c.kind == "try_on")
        .order_by(t.c.occurred_at.desc(), t.c.id.desc())
        .limit(TRY_ON_LIMIT)
    )


def _tried_on(session: Session, cid: int, locale: str) -> list[TryOnView]:
    out = []
    for r in _run(session, "tried_on", cid):
        product = _product(r, locale)
        assert product is not None  # inner join
        out.append(
            TryOnView(
                entry_id=r.id,
                occurred_at=r.occurred_at,
                channel=r.channel,
                location=_location(r.location_id, r.location_code, r.location_name),
                product=product,
                bought_after=r.bought_at is not None,
                bought_at=r.bought_at,
            )
        )
    return out


# -- the other fixed statements ----------------------------------------------------------------


def _identities_statement() -> Select[Any]:
    i = IDENTIFIER
    return (
        select(i.c.kind, i.c.namespace, i.c.value, i.c.verified, i.c.source, i.c.created_at)
        .where(i.c.customer_id == _cid())
        .order_by(i.c.verified.desc(), i.c.id)
    )


def _addresses_statement() -> Select[Any]:
    a = ADDRESS
    return select(a).where(a.c.customer_id == _cid()).order_by(a.c.is_primary.desc(), a.c.id)


def _milestones_statement() -> Select[Any]:
    return select(MILESTONE).where(MILESTONE.c.customer_id == _cid())


def _relationships_statement() -> Select[Any]:
    r = RELATIONSHIP
    return (
        select(r, OTHER.c.first_name.label("other_first"), OTHER.c.last_name.label("other_last"))
        .select_from(r.outerjoin(OTHER, OTHER.c.id == r.c.related_customer_id))
        .where(r.c.customer_id == _cid())
        .order_by(r.c.id)
    )


def _notes_statement() -> Select[Any]:
    n = NOTE
    return (
        select(n, ASSOCIATE.c.display_name.label("author_name"))
        .select_from(n.outerjoin(ASSOCIATE, ASSOCIATE.c.id == n.c.author_associate_id))
        .where(n.c.customer_id == _cid())
        .order_by(n.c.created_at.desc(), n.c.id.desc())
        .limit(NOTES_LIMIT)
    )


def _consent_statement() -> Select[Any]:
    return select(CONSENT).where(CONSENT.c.customer_id == _cid())


_STATEMENTS: dict[str, Callable[[], Select[Any]]] = {
    "profile": _profile_statement,
    "identities": _identities_statement,
    "addresses": _addresses_statement,
    "milestones": _milestones_statement,
    "relationships": _relationships_statement,
    "notes": _notes_statement,
    "consent": _consent_statement,
    "orders": _orders_statement,
    "refunds": _refunds_statement,
    "units": _units_statement,
    "wishlist": _wishlist_statement,
    "tried_on": _tried_on_statement,
}
