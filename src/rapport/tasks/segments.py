"""Head office's client segments: filters on where a client belongs, who they are and what they bought.

A :class:`Segment` is the validated shape stored as ``campaign.segment``. :func:`segment_query`
turns it into ONE ``SELECT customer.id`` over active clients — every filter a ``WHERE`` condition
or an ``EXISTS``, the order KPIs one grouped subquery — so counting 100,000 clients is one
statement, not a loop. JSON filters differ per engine: PostgreSQL uses the JSONB operators
(``?|``, ``?&``, ``->``), SQLite ``json_each``.

Matching rules, so head office can predict a count:

* lists are *any of* (stores, tiers, countries, cities, tags_any, each preference key's values,
  categories, brands); ``tags_all`` needs every tag, ``tags_none`` excludes; different filters
  combine with *and*.
* tags and preference values match as stored (exact, as in the client book); tier, city,
  category and brand ignore case (they come from several systems' free text).
* money is net spend (orders less refunds) in one ``currency``, over the last ``period_days``:
  Rapport has no exchange rates, so a client's dollar purchases never count towards euro
  thresholds. Amounts are in major units ("2400" or "2400.50"); stored as given.
* "at most" filters include clients with nothing in the period (no orders = spent 0), except
  ``max_aov``: a client without orders has no average.
* ``no_purchase_days`` includes clients who never bought; ``last_purchase_before`` needs a purchase.
* dates are UTC days; "this month" is the clock's month when the segment is counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_currency
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import String, and_, bindparam, case, exists, extract, func, literal, or_, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return
from rapport.customers.models import CONSENT_CHANNELS, Consent, Customer
from rapport.db import one_of, table_of
from rapport.errors import FieldError, InvalidRecord
from rapport.inventory.models import Location
from rapport.money import MoneyError, check_currency, from_minor, to_minor

CUSTOMER = table_of(Customer)
ORDER = table_of(Order)
LINE = table_of(OrderLine)
RETURN = table_of(Return)
PRODUCT = table_of(Product)
CONSENT = table_of(Consent)
ASSOCIATE = table_of(Associate)
LOCATION = table_of(Location)

MAX_DAYS = 3660
MAX_ITEMS = 50
Name = Annotated[str, Field(min_length=1, max_length=100)]
_PREFERENCE_KEY = re.compile(r"^[\w][\w .&'-]{0,39}$")


def _names(values: list[str]) -> list[str]:
    """Trimmed, blanks dropped, each once, in the order given."""
    return list(dict.fromkeys(" ".join(v.split()) for v in values if v.strip()))


class Segment(BaseModel):
    """Which clients a campaign reaches. Every filter is optional; an empty segment is every active client."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # -- where the client belongs
    stores: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Home store codes (any of).")
    assigned: bool | None = Field(
        default=None, description="True: in an active associate's book; false: only a store's team queue."
    )
    countries: list[str] = Field(default_factory=list, max_length=MAX_ITEMS, description="ISO country codes.")
    cities: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Any of (case ignored).")
    # -- who they are
    tiers: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Any of (case ignored).")
    tags_any: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Carries any of these.")
    tags_all: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Carries every one.")
    tags_none: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Carries none of these.")
    preferences: dict[str, list[Annotated[str, Field(max_length=100)]]] = Field(
        default_factory=dict,
        max_length=20,
        description='Per kind, any of its values: {"colours": ["camel", "navy"]}. Several kinds: each must match.',
    )
    birthday_this_month: bool = Field(default=False, description="Born in the current month.")
    consent: list[str] = Field(
        default_factory=list, description="Channels the client consented to (every one); a campaign's channel is added."
    )
    # -- what they bought
    currency: str | None = Field(default=None, description="Currency of the money filters (required with them).")
    period_days: int = Field(default=365, ge=1, le=MAX_DAYS, description="Window of the spend, order and AOV filters.")
    min_spend: Decimal | None = Field(default=None, description="Net spend in the period, at least (major units).")
    max_spend: Decimal | None = Field(default=None, description="Net spend in the period, at most.")
    min_orders: int | None = Field(default=None, ge=0, le=100_000, description="Orders in the period, at least.")
    max_orders: int | None = Field(default=None, ge=0, le=100_000, description="Orders in the period, at most.")
    min_aov: Decimal | None = Field(default=None, description="Average order value in the period, at least.")
    max_aov: Decimal | None = Field(default=None, description="Average order value in the period, at most.")
    last_purchase_after: date | None = Field(default=None, description="Bought on or after this day.")
    last_purchase_before: date | None = Field(default=None, description="Last bought before this day (and not since).")
    no_purchase_days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="No purchase in the last N days (never bought included)."
    )
    purchased_categories: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Bought any of.")
    purchased_brands: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS, description="Bought any of.")
    purchased_within_days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="Categories and brands bought in the last N days (default: ever)."
    )

    @field_validator("stores", "cities", "tiers", "tags_any", "tags_all", "tags_none", "purchased_categories",
                     "purchased_brands", "countries", mode="before")  # fmt: skip
    @classmethod
    def _clean_names(cls, values: Any) -> Any:
        """Blanks dropped and repeats removed before the length checks (a form sends empty rows)."""
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            return _names(values)
        return values

    @field_validator("stores")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        return [v.upper() for v in values]

    @field_validator("countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        out = _names(values)
        bad = [v for v in out if not re.fullmatch(r"[A-Za-z]{2}", v)]
        if bad:
            raise ValueError(f"use two-letter country codes (FR, US), not {', '.join(repr(b) for b in bad)}")
        return list(dict.fromkeys(v.upper() for v in out))

    @field_validator("consent")
    @classmethod
    def _channels(cls, values: list[str]) -> list[str]:
        out = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
        bad = [v for v in out if v not in CONSENT_CHANNELS]
        if bad:
            raise ValueError(f"unknown channel {', '.join(repr(b) for b in bad)}; known: {', '.join(CONSENT_CHANNELS)}")
        return out

    @field_validator("preferences")
    @classmethod
    def _preferences(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        """Kinds as the profile stores them (lower case); a kind without values is dropped."""
        out: dict[str, list[str]] = {}
        for raw_key, items in values.items():
            key = " ".join(raw_key.lower().split())
            if not _PREFERENCE_KEY.match(key):
                raise ValueError(f"{raw_key!r} is not a preference kind (e.g. colours, styles, brands)")
            cleaned = _names(items)
            if cleaned:
                out[key] = list(dict.fromkeys([*out.get(key, []), *cleaned]))
        return out

    @field_validator("tags_none")
    @classmethod
    def _tags_not_required(cls, values: list[str], info: ValidationInfo) -> list[str]:
        clash = [t for t in values if t in (info.data.get("tags_all") or ())]
        if clash:
            raise ValueError(f"{', '.join(repr(t) for t in clash)} is also required: no client could match")
        return values

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return check_currency(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("min_spend", "max_spend", "min_aov", "max_aov")
    @classmethod
    def _amount(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is None:
            return None
        if not value.is_finite() or value < 0:
            raise ValueError("enter an amount of 0 or more")
        currency = info.data.get("currency")
        if currency is None:
            raise ValueError("say which currency (money is never converted between currencies)")
        try:
            to_minor(value, currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        low = info.data.get(f"min_{info.field_name[4:]}") if info.field_name and info.field_name[:4] == "max_" else None
        if low is not None and value < low:
            raise ValueError(f"must not be below min_{(info.field_name or '')[4:]}")
        return value

    @field_validator("max_orders")
    @classmethod
    def _orders(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_orders")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below min_orders")
        return value

    @field_validator("last_purchase_before")
    @classmethod
    def _window(cls, value: date | None, info: ValidationInfo) -> date | None:
        after = info.data.get("last_purchase_after")
        if value is not None and after is not None and value <= after:
            raise ValueError("must be after last_purchase_after: no last purchase could fall in between")
        return value

    @field_validator("purchased_within_days")
    @classmethod
    def _within(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not (info.data.get("purchased_categories") or info.data.get("purchased_brands")):
            raise ValueError("goes with purchased_categories or purchased_brands")
        return value

    # -- what the filters ask for ------------------------------------------------------------------

    @property
    def uses_kpis(self) -> bool:
        return any(v is not None for v in (self.min_orders, self.max_orders, *self._money()))

    @property
    def uses_spend(self) -> bool:
        return self.min_spend is not None or self.max_spend is not None

    @property
    def uses_last_purchase(self) -> bool:
        return any(v is not None for v in (self.last_purchase_after, self.last_purchase_before, self.no_purchase_days))

    def _money(self) -> tuple[Decimal | None, ...]:
        return (self.min_spend, self.max_spend, self.min_aov, self.max_aov)

    def minor(self, amount: Decimal | None) -> int | None:
        return None if amount is None or self.currency is None else to_minor(amount, self.currency)

    def stored(self) -> dict[str, Any]:
        """The JSON kept in ``campaign.segment``: only what is set."""
        return self.model_dump(mode="json", exclude_defaults=True)


def parse_segment(data: Segment | dict[str, Any] | None) -> Segment:
    """A segment from its JSON; InvalidRecord naming each bad field as ``segment.<field>``."""
    if isinstance(data, Segment):
        return data
    try:
        return Segment.model_validate(data or {})
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            parts = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                message = f"unknown filter; known: {', '.join(Segment.model_fields)}"
            errors.append(FieldError(".".join(["segment", *parts]), message))
        raise InvalidRecord(errors) from None


# -- references to the brand's data ---------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A segment with its store codes turned into ids (checked against the database)."""

    segment: Segment
    store_ids: tuple[int, ...]


def resolve(session: Session, segment: Segment) -> Resolved:
    """Check what the segment names exists: stores by code; categories and brands in the catalogue."""
    errors: list[FieldError] = []
    ids: list[int] = []
    if segment.stores:
        found = dict(
            session.execute(
                select(func.upper(LOCATION.c.code), LOCATION.c.id).where(
                    func.upper(LOCATION.c.code).in_(segment.stores)
                )
            ).all()
        )
        unknown = [code for code in segment.stores if code not in found]
        if unknown:
            errors.append(FieldError("segment.stores", f"unknown store {', '.join(repr(c) for c in unknown)}"))
        ids = sorted(found.values())
    for name, column in (("purchased_categories", PRODUCT.c.category), ("purchased_brands", PRODUCT.c.brand)):
        wanted: list[str] = getattr(segment, name)
        if not wanted:
            continue
        lowered = [w.lower() for w in wanted]
        known = set(session.scalars(select(func.lower(column)).where(func.lower(column).in_(lowered)).distinct()))
        unknown = [w for w in wanted if w.lower() not in known]
        if unknown:
            what = "category" if name == "purchased_categories" else "brand"
            errors.append(
                FieldError(f"segment.{name}", f"no product has the {what} {', '.join(repr(u) for u in unknown)}")
            )
    if errors:
        raise InvalidRecord(errors)
    return Resolved(segment, tuple(ids))


# -- the SQL --------------------------------------------------------------------------------------


def _day(value: date) -> datetime:
    return datetime.combine(value, time(), UTC)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _text_array(values: Sequence[str]) -> Any:
    return bindparam(None, list(values), type_=postgresql.ARRAY(String()))


def _json_any(session: Session, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """The JSON array ``column`` holds any of ``values``."""
    if _pg(session):
        return type_coerce(column, JSONB).op("?|", is_comparison=True)(_text_array(values))
    each = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(list(values))))


def _json_all(session: Session, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """The JSON array ``column`` holds every one of ``values``."""
    if _pg(session):
        return type_coerce(column, JSONB).op("?&", is_comparison=True)(_text_array(values))
    each = func.json_each(column).table_valued("value")
    found = select(func.count(each.c.value.distinct())).select_from(each).where(each.c.value.in_(list(values)))
    return found.scalar_subquery() == len(set(values))


def _preference_any(session: Session, key: str, values: Sequence[str]) -> ColumnElement[bool]:
    """``preferences[key]`` (a JSON array) holds any of ``values``."""
    column = CUSTOMER.c.preferences
    if _pg(session):
        kind = type_coerce(column, JSONB).op("->")(bindparam(None, key, type_=String()))
        return type_coerce(kind, JSONB).op("?|", is_comparison=True)(_text_array(values))
    kinds = func.json_each(column).table_valued("key", "value", "type").alias("kinds")
    # A kind stored as a single value rather than a list would not be JSON text: read it as no values.
    listed = case((kinds.c.type == "array", kinds.c.value), else_="[]")
    items = func.json_each(listed).table_valued("value").alias("items")
    return exists(
        select(literal(1))
        .select_from(kinds.join(items, literal(True)))
        .where(kinds.c.key == key, items.c.value.in_(list(values)))
    )


def _placed(*conditions: Any) -> Any:
    """A non-cancelled order of the client being filtered, with ``conditions``."""
    return exists(
        select(literal(1)).where(ORDER.c.customer_id == CUSTOMER.c.id, ORDER.c.status != "cancelled", *conditions)
    )


def kpi_subqueries(
    session: Session, segment: Segment, now: datetime, ids: Sequence[int] | None = None
) -> tuple[Any, Any]:
    """Orders (count, gross and count in the currency) and refunds per client over the period."""
    since = now - timedelta(days=segment.period_days)
    currency = segment.currency or ""
    o, r = ORDER, RETURN
    where: list[Any] = [o.c.status != "cancelled", o.c.placed_at >= since, o.c.customer_id.is_not(None)]
    if ids is not None:
        where.append(one_of(session, o.c.customer_id, ids))
    orders = (
        select(
            o.c.customer_id.label("cid"),
            func.count().label("orders"),
            func.coalesce(func.sum(case((o.c.currency == currency, o.c.total_minor), else_=0)), 0).label("gross"),
            func.coalesce(func.sum(case((o.c.currency == currency, 1), else_=0)), 0).label("priced"),
        )
        .where(*where)
        .group_by(o.c.customer_id)
        .subquery("kpis")
    )
    refund_where: list[Any] = [r.c.currency == currency, r.c.returned_at >= since, r.c.customer_id.is_not(None)]
    if ids is not None:
        refund_where.append(one_of(session, r.c.customer_id, ids))
    refunds = (
        select(r.c.customer_id.label("cid"), func.sum(r.c.refund_minor).label("refunded"))
        .where(*refund_where)
        .group_by(r.c.customer_id)
        .subquery("refunds")
    )
    return orders, refunds


def segment_query(
    session: Session, resolved: Resolved, *, channel: str | None = None, now: datetime | None = None
) -> Select[tuple[int]]:
    """``SELECT customer.id`` of the active clients in the segment (ordered by id), in one statement.

    ``channel``: the campaign's channel; consent on it is required on top of the segment's own.
    """
    seg = resolved.segment
    now = now or clock.now()
    c = CUSTOMER
    where: list[Any] = [c.c.status == "active"]
    source: Any = c
    if resolved.store_ids:
        where.append(c.c.home_location_id.in_(resolved.store_ids))
    if seg.assigned is not None:
        in_book = exists(
            select(literal(1)).where(ASSOCIATE.c.id == c.c.assigned_associate_id, ASSOCIATE.c.active.is_(True))
        )
        where.append(in_book if seg.assigned else ~in_book)
    if seg.countries:
        where.append(func.upper(c.c.country).in_(seg.countries))
    if seg.cities:
        where.append(func.lower(c.c.city).in_([x.lower() for x in seg.cities]))
    if seg.tiers:
        where.append(func.lower(c.c.tier).in_([x.lower() for x in seg.tiers]))
    if seg.tags_any:
        where.append(_json_any(session, c.c.tags, seg.tags_any))
    if seg.tags_all:
        where.append(_json_all(session, c.c.tags, seg.tags_all))
    if seg.tags_none:
        where.append(or_(c.c.tags.is_(None), ~_json_any(session, c.c.tags, seg.tags_none)))
    for key, values in seg.preferences.items():
        where.append(_preference_any(session, key, values))
    if seg.birthday_this_month:
        where.append(extract("month", c.c.birth_date) == now.month)
    for ch in dict.fromkeys([*seg.consent, *([channel] if channel else [])]):
        where.append(
            exists(
                select(literal(1)).where(
                    CONSENT.c.customer_id == c.c.id, CONSENT.c.channel == ch, CONSENT.c.granted.is_(True)
                )
            )
        )
    if seg.last_purchase_after is not None:
        where.append(_placed(ORDER.c.placed_at >= _day(seg.last_purchase_after)))
    if seg.last_purchase_before is not None:
        cut = _day(seg.last_purchase_before)
        where.append(and_(_placed(ORDER.c.placed_at < cut), ~_placed(ORDER.c.placed_at >= cut)))
    if seg.no_purchase_days is not None:
        where.append(~_placed(ORDER.c.placed_at >= now - timedelta(days=seg.no_purchase_days)))
    if seg.purchased_categories or seg.purchased_brands:
        where.extend(_bought(seg, now))
    if seg.uses_kpis:
        orders, refunds = kpi_subqueries(session, seg, now)
        source = source.outerjoin(orders, orders.c.cid == c.c.id)
        n = func.coalesce(orders.c.orders, 0)
        gross, priced = func.coalesce(orders.c.gross, 0), func.coalesce(orders.c.priced, 0)
        if seg.min_orders is not None:
            where.append(n >= seg.min_orders)
        if seg.max_orders is not None:
            where.append(n <= seg.max_orders)
        if seg.uses_spend:
            source = source.outerjoin(refunds, refunds.c.cid == c.c.id)
            spend = gross - func.coalesce(refunds.c.refunded, 0)
            if seg.min_spend is not None:
                where.append(spend >= seg.minor(seg.min_spend))
            if seg.max_spend is not None:
                where.append(spend <= seg.minor(seg.max_spend))
        # Average order value without dividing: gross >= aov x orders priced in the currency.
        if seg.min_aov is not None:
            where.append(and_(priced > 0, gross >= priced * (seg.minor(seg.min_aov) or 0)))
        if seg.max_aov is not None:
            where.append(and_(priced > 0, gross <= priced * (seg.minor(seg.max_aov) or 0)))
    return select(c.c.id).select_from(source).where(*where).order_by(c.c.id)


def _lines() -> Any:
    """Orders with their lines and the products on them."""
    return ORDER.join(LINE, LINE.c.order_id == ORDER.c.id).join(PRODUCT, PRODUCT.c.id == LINE.c.product_id)


def _bought(seg: Segment, now: datetime) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    since = now - timedelta(days=seg.purchased_within_days) if seg.purchased_within_days else None
    for column, wanted in ((PRODUCT.c.category, seg.purchased_categories), (PRODUCT.c.brand, seg.purchased_brands)):
        if not wanted:
            continue
        conditions: list[Any] = [
            ORDER.c.customer_id == CUSTOMER.c.id,
            ORDER.c.status != "cancelled",
            func.lower(column).in_([w.lower() for w in wanted]),
        ]
        if since is not None:
            conditions.append(ORDER.c.placed_at >= since)
        out.append(exists(select(literal(1)).select_from(_lines()).where(*conditions)))
    return out


def matching_ids(session: Session, resolved: Resolved, *, channel: str | None = None) -> list[int]:
    return list(session.scalars(segment_query(session, resolved, channel=channel)))


def count(session: Session, resolved: Resolved, *, channel: str | None = None) -> int:
    stmt = segment_query(session, resolved, channel=channel).order_by(None).subquery()
    return int(session.execute(select(func.count()).select_from(stmt)).scalar_one())


# -- why a client matched -------------------------------------------------------------------------


@dataclass
class ClientFacts:
    """What a campaign task says about its client: names for the message, facts for the reason."""

    id: int
    first_name: str | None
    last_name: str | None
    associate_name: str | None
    store_name: str | None
    tags: list[str]
    preferences: dict[str, Any]
    tier: str | None
    birth_date: date | None
    orders: int = 0
    gross_minor: int = 0
    priced: int = 0
    refunded_minor: int = 0
    last_purchase_at: datetime | None = None
    bought: tuple[str, ...] = ()


def client_facts(session: Session, seg: Segment, ids: Sequence[int], now: datetime) -> dict[int, ClientFacts]:
    """The facts of a chunk of clients, in at most four grouped queries."""
    if not ids:
        return {}
    c = CUSTOMER
    # The client's documents only when the reason quotes them: decoding 100,000 JSON values is not free.
    needed = {
        "tags": bool(seg.tags_any or seg.tags_all),
        "preferences": bool(seg.preferences),
        "tier": bool(seg.tiers),
        "birth_date": seg.birthday_this_month,
    }
    extra = [c.c[name] for name, yes in needed.items() if yes]
    rows = session.execute(
        select(
            c.c.id,
            c.c.first_name,
            c.c.last_name,
            ASSOCIATE.c.display_name,
            ASSOCIATE.c.active,
            LOCATION.c.name,
            *extra,
        )
        .select_from(
            c.outerjoin(ASSOCIATE, ASSOCIATE.c.id == c.c.assigned_associate_id).outerjoin(
                LOCATION, LOCATION.c.id == c.c.home_location_id
            )
        )
        .where(one_of(session, c.c.id, ids))
    )
    out: dict[int, ClientFacts] = {}
    for r in rows:
        m = r._mapping
        out[r.id] = ClientFacts(
            id=r.id,
            first_name=r.first_name,
            last_name=r.last_name,
            associate_name=r.display_name if r.active else None,
            store_name=r.name,
            tags=list(m["tags"] or []) if needed["tags"] else [],
            preferences=dict(m["preferences"] or {}) if needed["preferences"] else {},
            tier=m["tier"] if needed["tier"] else None,
            birth_date=m["birth_date"] if needed["birth_date"] else None,
        )
    if seg.uses_kpis:
        orders, refunds = kpi_subqueries(session, seg, now, ids)
        for cid, n, gross, priced in session.execute(
            select(orders.c.cid, orders.c.orders, orders.c.gross, orders.c.priced)
        ):
            if cid in out:
                out[cid].orders, out[cid].gross_minor, out[cid].priced = int(n), int(gross), int(priced)
        if seg.uses_spend:
            for cid, refunded in session.execute(select(refunds.c.cid, refunds.c.refunded)):
                if cid in out:
                    out[cid].refunded_minor = int(refunded or 0)
    if seg.uses_last_purchase:
        for cid, last in session.execute(
            select(ORDER.c.customer_id, func.max(ORDER.c.placed_at))
            .where(one_of(session, ORDER.c.customer_id, ids), ORDER.c.status != "cancelled")
            .group_by(ORDER.c.customer_id)
        ):
            if cid in out:
                out[cid].last_purchase_at = _aware(last)
    if seg.purchased_categories or seg.purchased_brands:
        wanted = {w.lower() for w in [*seg.purchased_categories, *seg.purchased_brands]}
        found: dict[int, set[str]] = {}
        since = now - timedelta(days=seg.purchased_within_days) if seg.purchased_within_days else None
        stmt = (
            select(ORDER.c.customer_id, PRODUCT.c.category, PRODUCT.c.brand)
            .select_from(_lines())
            .where(one_of(session, ORDER.c.customer_id, ids), ORDER.c.status != "cancelled")
            .distinct()
        )
        if since is not None:
            stmt = stmt.where(ORDER.c.placed_at >= since)
        for cid, category, brand in session.execute(stmt):
            for value in (category, brand):
                if value and value.lower() in wanted:
                    found.setdefault(cid, set()).add(value)
        for cid, values in found.items():
            if cid in out:
                out[cid].bought = tuple(sorted(values, key=str.lower))
    return out


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def short_money(minor: int, currency: str) -> str:
    """€2,400 (no cents when there are none), €2,400.50 otherwise."""
    amount = from_minor(minor, currency)
    if amount == amount.to_integral_value():
        return str(format_currency(amount, currency, format="¤#,##0", currency_digits=False, locale="en_US"))
    return str(format_currency(amount, currency, locale="en_US"))


def period_words(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return "12 months" if years == 1 else f"{years} years"
    if days % 30 == 0:
        months = days // 30
        return "month" if months == 1 else f"{months} months"
    return "day" if days == 1 else f"{days} days"


class Why:
    """Why a client is in the segment, in the associate's words: "spent €2,400 in 12 months; likes camel".

    Built once per segment (what to say is decided up front), then called for each client.
    """

    def __init__(self, seg: Segment, now: datetime) -> None:
        self.now = now
        self.currency = seg.currency or ""
        self.period = period_words(seg.period_days)
        self.spend = seg.uses_spend and bool(seg.currency)
        self.orders = seg.min_orders is not None or seg.max_orders is not None
        self.aov = (seg.min_aov is not None or seg.max_aov is not None) and bool(seg.currency)
        self.last_purchase = seg.uses_last_purchase
        self.preferences = list(seg.preferences.items())
        self.tags = list(dict.fromkeys([*seg.tags_any, *seg.tags_all]))
        self.tier = bool(seg.tiers)
        self.birthday = seg.birthday_this_month

    def __call__(self, facts: ClientFacts) -> str:
        parts: list[str] = []
        if self.spend:
            parts.append(
                f"spent {short_money(facts.gross_minor - facts.refunded_minor, self.currency)} in {self.period}"
            )
        if self.orders:
            parts.append(f"{facts.orders} order{'' if facts.orders == 1 else 's'} in {self.period}")
        if self.aov and facts.priced:
            parts.append(f"average order {short_money(facts.gross_minor // facts.priced, self.currency)}")
        if self.last_purchase:
            last = facts.last_purchase_at
            if last is None:
                parts.append("has not bought yet")
            else:
                days = (self.now - last).days
                parts.append(f"last bought {last.day} {last:%b %Y} ({days} day{'' if days == 1 else 's'} ago)")
        if facts.bought:
            parts.append(f"bought {', '.join(facts.bought)}")
        for key, wanted in self.preferences:
            held = facts.preferences.get(key) or []
            liked = [v for v in wanted if v in held]
            if liked:
                parts.append(_likes(key, liked))
        tags = [t for t in self.tags if t in facts.tags]
        if tags:
            parts.append(f"tagged {', '.join(tags)}")
        if self.tier and facts.tier:
            parts.append(f"{facts.tier} tier")
        if self.birthday and facts.birth_date is not None:
            parts.append(f"birthday on {facts.birth_date.day} {facts.birth_date:%b}")
        return "; ".join(parts) or "in the campaign's segment"


def why(seg: Segment, facts: ClientFacts, now: datetime) -> str:
    """:class:`Why` for one client."""
    return Why(seg, now)(facts)


def _likes(key: str, values: list[str]) -> str:
    if key in ("colours", "colors", "styles", "brands", "materials", "fabrics"):
        return f"likes {', '.join(values)}"
    return f"{key}: {', '.join(values)}"


# -- what a form offers ---------------------------------------------------------------------------


@dataclass
class StoreChoice:
    code: str
    name: str
    currency: str


@dataclass
class Choices:
    """What the segment form offers to pick from (the brand's own names, so a filter is not mistyped)."""

    stores: list[StoreChoice]
    currencies: list[str]
    tiers: list[str]
    categories: list[str]
    brands: list[str]


def choices(session: Session, *, limit: int = 200) -> Choices:
    """Stores, currencies, tiers, categories and brands in use (five small DISTINCT queries)."""
    stores = [
        StoreChoice(code, name, currency)
        for code, name, currency in session.execute(
            select(LOCATION.c.code, LOCATION.c.name, LOCATION.c.currency)
            .where(LOCATION.c.kind == "store")
            .order_by(LOCATION.c.name)
        )
    ]

    def distinct(column: Any) -> list[str]:
        stmt = select(column).where(column.is_not(None), column != "").distinct().order_by(column).limit(limit)
        return [str(v) for v in session.scalars(stmt)]

    return Choices(
        stores=stores,
        currencies=sorted({s.currency for s in stores}),
        tiers=distinct(CUSTOMER.c.tier),
        categories=distinct(PRODUCT.c.category),
        brands=distinct(PRODUCT.c.brand),
    )


# -- a summary for people ------------------------------------------------------------------------


def describe(seg: Segment) -> list[str]:
    """The filters in words, one line each, for the campaign page and the CLI."""
    out: list[str] = []
    if seg.stores:
        out.append(f"Home store {' or '.join(seg.stores)}")
    if seg.assigned is not None:
        out.append("In an associate's book" if seg.assigned else "Not in anyone's book (team queue)")
    if seg.countries:
        out.append(f"Country {' or '.join(seg.countries)}")
    if seg.cities:
        out.append(f"City {' or '.join(seg.cities)}")
    if seg.tiers:
        out.append(f"Tier {' or '.join(seg.tiers)}")
    if seg.tags_any:
        out.append(f"Tagged {' or '.join(seg.tags_any)}")
    if seg.tags_all:
        out.append(f"Tagged {' and '.join(seg.tags_all)}")
    if seg.tags_none:
        out.append(f"Not tagged {' or '.join(seg.tags_none)}")
    for key, values in seg.preferences.items():
        out.append(f"Preference {key}: {' or '.join(values)}")
    if seg.birthday_this_month:
        out.append("Birthday this month")
    if seg.consent:
        out.append(f"Consented to {' and '.join(seg.consent)}")
    period = period_words(seg.period_days)
    cur = seg.currency or ""
    for label, low, high in (
        ("Spent", seg.minor(seg.min_spend), seg.minor(seg.max_spend)),
        ("Average order", seg.minor(seg.min_aov), seg.minor(seg.max_aov)),
    ):
        if low is not None or high is not None:
            out.append(f"{label} {_range(low, high, lambda m: short_money(m, cur))} in {period}")
    if seg.min_orders is not None or seg.max_orders is not None:
        out.append(f"Orders {_range(seg.min_orders, seg.max_orders, str)} in {period}")
    if seg.last_purchase_after:
        out.append(f"Bought on or after {seg.last_purchase_after:%-d %b %Y}")
    if seg.last_purchase_before:
        out.append(f"Last bought before {seg.last_purchase_before:%-d %b %Y}")
    if seg.no_purchase_days:
        out.append(f"No purchase for {seg.no_purchase_days} days")
    within = f" in the last {seg.purchased_within_days} days" if seg.purchased_within_days else ""
    if seg.purchased_categories:
        out.append(f"Bought {' or '.join(seg.purchased_categories)}{within}")
    if seg.purchased_brands:
        out.append(f"Bought {' or '.join(seg.purchased_brands)}{within}")
    return out or ["Every active client"]


def _range(low: int | None, high: int | None, fmt: Any) -> str:
    if low is not None and high is not None:
        return f"{fmt(low)}–{fmt(high)}"
    if low is not None:
        return f"at least {fmt(low)}"
    return f"at most {fmt(high)}"


__all__ = [
    "Choices",
    "ClientFacts",
    "Resolved",
    "Segment",
    "Why",
    "choices",
    "client_facts",
    "count",
    "describe",
    "matching_ids",
    "parse_segment",
    "resolve",
    "segment_query",
    "why",
]
