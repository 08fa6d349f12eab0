"""The client book screen's query: my clients, filtered and sorted, a page at a time.

One statement computes, for the associate's whole book (the clients assigned to them), the
last purchase, the spend and the next milestone, filters and sorts on them, and returns one
page with a keyset cursor; a second counts the matches; two more, bounded by the page size,
add the next milestone's details and the last contact. Every part walks an index from the
book (``customer.assigned_associate_id``) to the client's orders, returns, milestones and
timeline, so the cost grows with the size of the book, never with the size of the brand.

**Spend and currencies.** Rapport keeps money in the currency it was paid in and has no
exchange rates, so spend is never converted: a book is read in one currency — the
associate's home store currency (``RAPPORT_DEFAULT_CURRENCY`` for online experts), or the
``currency`` filter — and a client's spend is their net spend *in that currency* (placed
orders minus refunds). A Paris client's euro purchases do not count towards a dollar book's
"spent at least $1,000"; the 360 shows spend per currency.

**Dates.** Milestones recur every year (birthdays from the profile count too); "within N
days" is exact, including 29 February falling on the 28th in common years. "Today" is the
UTC date of the injected clock, as in the 360.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock
from rapport.associates.models import Associate
from rapport.commerce.models import Order, Return
from rapport.customers.models import Customer, Milestone, TimelineEntry
from rapport.customers.read import money, next_occurrence
from rapport.customers.views import Money
from rapport.db import UTCDateTime, table_of
from rapport.errors import InvalidRecord, NotFound
from rapport.inventory.models import Location
from rapport.money import check_currency
from rapport.settings import get_settings

CUSTOMER = table_of(Customer)
ORDER = table_of(Order)
RETURN = table_of(Return)
MILESTONE = table_of(Milestone)
TIMELINE = table_of(TimelineEntry)
ASSOCIATE = table_of(Associate)
LOCATION = table_of(Location)

#: Sort name → default direction.
SORTS = {"last_purchase": "desc", "spend": "desc", "name": "asc", "next_milestone": "asc"}
#: What counts as the associate reaching out: a message, an appointment or a note, by an associate.
CONTACT_KINDS = ("message", "appointment", "note")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_DAYS = 3660
_NEVER = datetime(1900, 1, 1, tzinfo=UTC)
_NO_MILESTONE = 9999


@dataclass
class BookFilters:
    """All optional; a client must match every one given."""

    purchased_before: datetime | None = None
    purchased_after: datetime | None = None
    #: Net spend at least this, in minor units of the book's currency.
    min_spend_minor: int | None = None
    max_spend_minor: int | None = None
    currency: str | None = None
    #: Clients carrying every one of these tags.
    tags: Sequence[str] = ()
    #: A milestone (or birthday) today or in the next N days.
    milestone_within_days: int | None = None
    #: No message, appointment or note by an associate in the last N days.
    not_contacted_days: int | None = None


@dataclass
class NextMilestone:
    kind: str
    label: str
    date: date
    days_until: int


@dataclass
class BookRow:
    id: int
    name: str
    first_name: str | None
    last_name: str | None
    city: str | None
    country: str | None
    tier: str | None
    tags: list[str]
    last_purchase_at: datetime | None
    order_count: int
    spend: Money
    next_milestone: NextMilestone | None
    last_contact_at: datetime | None


@dataclass
class BookPage:
    associate_id: int
    currency: str
    sort: str
    order: str
    total: int
    rows: list[BookRow] = field(default_factory=list)
    next_cursor: str | None = None


def client_book(
    session: Session,
    associate_id: int,
    *,
    filters: BookFilters | None = None,
    sort: str = "last_purchase",
    order: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    locale: str = "en_US",
    max_limit: int = MAX_LIMIT,
) -> BookPage:
    """A page of the associate's clients. ``cursor`` is the previous page's ``next_cursor``.

    ``max_limit`` lets internal readers (an export) take bigger pages than a screen or API caller:
    each page aggregates the book afresh, so fewer pages cost less."""
    f = filters or BookFilters()
    wanted_currency = _check(f, sort, order, limit, max_limit)
    direction = order or SORTS[sort]
    currency = _book_currency(session, associate_id, wanted_currency)
    today = clock.now().date()
    book = _book_query(session, associate_id, currency, today, f).subquery("book")
    keys = _sort_keys(book, sort)
    conditions = _conditions(session, book, f, today)
    total = int(session.execute(select(func.count()).select_from(book).where(*conditions)).scalar_one())
    page_conditions = list(conditions)
    if cursor:
        values, last_id = _decode(cursor, sort, direction, keys)
        row, bound = tuple_(*keys, book.c.id), tuple_(*values, literal(last_id, Integer()))
        page_conditions.append(row < bound if direction == "desc" else row > bound)
    ordering = [k.desc() if direction == "desc" else k.asc() for k in (*keys, book.c.id)]
    stmt = select(book, *[k.label(f"k{i}") for i, k in enumerate(keys)]).where(*page_conditions)
    rows = session.execute(stmt.order_by(*ordering).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    ids = [r.id for r in rows]
    upcoming = _next_milestones(session, ids, {r.id: r.birth_date for r in rows}, today)
    contacts = _last_contacts(session, ids)
    page = BookPage(associate_id, currency, sort, direction, total)
    for r in rows:
        page.rows.append(
            BookRow(
                id=r.id,
                name=" ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.id}",
                first_name=r.first_name,
                last_name=r.last_name,
                city=r.city,
                country=r.country,
                tier=r.tier,
                tags=list(r.tags or []),
                last_purchase_at=r.last_purchase_at,
                order_count=int(r.order_count),
                spend=money(int(r.spend), currency, locale),
                next_milestone=upcoming.get(r.id),
                last_contact_at=contacts.get(r.id),
            )
        )
    if more and rows:
        last = rows[-1]
        page.next_cursor = _encode(sort, direction, [last._mapping[f"k{i}"] for i in range(len(keys))], last.id)
    return page


# -- the statement -----------------------------------------------------------------------------


def _book_currency(session: Session, associate_id: int, wanted: str | None) -> str:
    row = session.execute(
        select(ASSOCIATE.c.id, LOCATION.c.currency)
        .select_from(ASSOCIATE.outerjoin(LOCATION, LOCATION.c.id == ASSOCIATE.c.home_location_id))
        .where(ASSOCIATE.c.id == associate_id)
    ).first()
    if row is None:
        raise NotFound(f"associate {associate_id} not found")
    return wanted or row.currency or get_settings().default_currency


def _book_query(session: Session, associate_id: int, currency: str, today: date, f: BookFilters) -> Any:
    c, o, r, m = CUSTOMER, ORDER, RETURN, MILESTONE
    in_book = and_(c.c.assigned_associate_id == associate_id, c.c.status == "active")
    book_ids = select(c.c.id).where(in_book)
    orders = (
        select(
            o.c.customer_id,
            func.max(o.c.placed_at).label("last"),
            func.count().label("n"),
            func.sum(case((o.c.currency == currency, o.c.total_minor), else_=0)).label("gross"),
        )
        .where(o.c.customer_id.in_(book_ids), o.c.status != "cancelled")
        .group_by(o.c.customer_id)
        .subquery("orders")
    )
    refunds = (
        select(r.c.customer_id, func.sum(r.c.refund_minor).label("refunded"))
        .where(r.c.customer_id.in_(book_ids), r.c.currency == currency)
        .group_by(r.c.customer_id)
        .subquery("refunds")
    )
    born_month, born_day = extract("month", c.c.birth_date), extract("day", c.c.birth_date)
    dates = union_all(
        select(m.c.customer_id.label("cid"), (m.c.month * 100 + m.c.day).label("mmdd")).where(
            m.c.customer_id.in_(book_ids)
        ),
        select(c.c.id.label("cid"), cast(born_month * 100 + born_day, Integer).label("mmdd")).where(
            in_book, c.c.birth_date.is_not(None)
        ),
    ).subquery("dates")
    t = today.month * 100 + today.day
    mmdd = dates.c.mmdd
    columns: list[Any] = [
        dates.c.cid,
        func.min(case((mmdd >= t, mmdd - t), else_=mmdd - t + 1300)).label("mkey"),
    ]
    if f.milestone_within_days is not None:
        window = _window(today, f.milestone_within_days)
        columns.append(func.max(case((mmdd.in_(window), 1), else_=0)).label("soon"))
    else:
        columns.append(literal(0, Integer()).label("soon"))
    milestones = select(*columns).group_by(dates.c.cid).subquery("milestones")
    return (
        select(
            c.c.id,
            c.c.first_name,
            c.c.last_name,
            c.c.first_name_key,
            c.c.last_name_key,
            c.c.city,
            c.c.country,
            c.c.tier,
            c.c.tags,
            c.c.birth_date,
            orders.c.last.label("last_purchase_at"),
            func.coalesce(orders.c.n, 0).label("order_count"),
            cast(func.coalesce(orders.c.gross, 0) - func.coalesce(refunds.c.refunded, 0), BigInteger).label("spend"),
            func.coalesce(milestones.c.mkey, _NO_MILESTONE).label("milestone_key"),
            func.coalesce(milestones.c.soon, 0).label("milestone_soon"),
        )
        .select_from(
            c.outerjoin(orders, orders.c.customer_id == c.c.id)
            .outerjoin(refunds, refunds.c.customer_id == c.c.id)
            .outerjoin(milestones, milestones.c.cid == c.c.id)
        )
        .where(in_book)
    )


def _window(today: date, days: int) -> list[int]:
    """Month*100+day of every date from today to today+days; 29 Feb counts on 28 Feb in common years."""
    out: set[int] = set()
    for d in range(min(days, 366) + 1):
        when = today + timedelta(days=d)
        out.add(when.month * 100 + when.day)
        if (when.month, when.day) == (2, 28) and not _leap(when.year):
            out.add(229)
    return sorted(out)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _conditions(session: Session, book: Any, f: BookFilters, today: date) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.purchased_before is not None:
        out.append(book.c.last_purchase_at < clock.ensure_aware(f.purchased_before))
    if f.purchased_after is not None:
        out.append(book.c.last_purchase_at >= clock.ensure_aware(f.purchased_after))
    if f.min_spend_minor is not None:
        out.append(book.c.spend >= f.min_spend_minor)
    if f.max_spend_minor is not None:
        out.append(book.c.spend <= f.max_spend_minor)
    if f.milestone_within_days is not None:
        out.append(book.c.milestone_soon == 1)
    if f.not_contacted_days is not None:
        since = clock.now() - timedelta(days=f.not_contacted_days)
        t = TIMELINE
        contacted = (
            select(t.c.id)
            .where(
                t.c.customer_id == book.c.id,
                t.c.kind.in_(CONTACT_KINDS),
                t.c.actor_kind == "associate",
                t.c.occurred_at >= since,
            )
            .exists()
        )
        out.append(~contacted)
    for tag in dict.fromkeys(f.tags):
        out.append(_has_tag(session, book.c.tags, tag))
    return out or [true()]


def _has_tag(session: Session, column: Any, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return column.op("@>", is_comparison=True)(literal([tag], JSONB()))
    each = func.json_each(column).table_valued("value")
    return select(literal(1)).select_from(each).where(each.c.value == tag).exists()


def _sort_keys(book: Any, sort: str) -> list[Any]:
    if sort == "last_purchase":
        return [func.coalesce(book.c.last_purchase_at, literal(_NEVER, UTCDateTime()))]
    if sort == "spend":
        return [book.c.spend]
    if sort == "name":
        return [func.coalesce(book.c.last_name_key, ""), func.coalesce(book.c.first_name_key, "")]
    return [book.c.milestone_key]


def _check(f: BookFilters, sort: str, order: str | None, limit: int, max_limit: int = MAX_LIMIT) -> str | None:
    """Refuse what cannot be answered; the filter's currency, normalised."""
    if sort not in SORTS:
        raise InvalidRecord.one("sort", f"expected one of {', '.join(SORTS)}")
    if order not in (None, "asc", "desc"):
        raise InvalidRecord.one("order", "expected asc or desc")
    if not 1 <= limit <= max_limit:
        raise InvalidRecord.one("limit", f"must be between 1 and {max_limit}")
    for name in ("milestone_within_days", "not_contacted_days"):
        value = getattr(f, name)
        if value is not None and not 0 <= value <= MAX_DAYS:
            raise InvalidRecord.one(name, f"must be between 0 and {MAX_DAYS}")
    if f.min_spend_minor is not None and f.min_spend_minor < 0:
        raise InvalidRecord.one("min_spend", "must not be negative")
    if f.max_spend_minor is not None and f.max_spend_minor < 0:
        raise InvalidRecord.one("max_spend", "must not be negative")
    if f.min_spend_minor is not None and f.max_spend_minor is not None and f.max_spend_minor < f.min_spend_minor:
        raise InvalidRecord.one("max_spend", "must not be below min_spend")
    if f.currency is None:
        return None
    try:
        return check_currency(f.currency)
    except ValueError as exc:
        raise InvalidRecord.one("currency", str(exc)) from None


# -- the page's details ------------------------------------------------------------------------


def _next_milestones(
    session: Session, ids: list[int], births: dict[int, date | None], today: date
) -> dict[int, NextMilestone]:
    found: dict[int, list[NextMilestone]] = {cid: [] for cid in ids}
    if ids:
        m = MILESTONE
        for r in session.execute(select(m.c.customer_id, m.c.kind, m.c.label, m.c.month, m.c.day).where(
            m.c.customer_id.in_(ids)
        )):  # fmt: skip
            when = next_occurrence(r.month, r.day, today)
            found[r.customer_id].append(NextMilestone(r.kind, r.label, when, (when - today).days))
    for cid, born in births.items():
        if born is not None:
            when = next_occurrence(born.month, born.day, today)
            found[cid].append(NextMilestone("birthday", "", when, (when - today).days))
    return {cid: min(items, key=lambda v: (v.date, v.kind, v.label)) for cid, items in found.items() if items}


def _last_contacts(session: Session, ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    t = TIMELINE
    rows = session.execute(
        select(t.c.customer_id, func.max(t.c.occurred_at))
        .where(t.c.customer_id.in_(ids), t.c.kind.in_(CONTACT_KINDS), t.c.actor_kind == "associate")
        .group_by(t.c.customer_id)
    )
    return {cid: at for cid, at in rows}


# -- the cursor --------------------------------------------------------------------------------


def _encode(sort: str, direction: str, values: list[Any], last_id: int) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps([sort, direction, plain, last_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str, direction: str, keys: list[Any]) -> tuple[list[Any], int]:
    """The sort values and id of the last row shown; InvalidRecord naming ``cursor`` if it is not ours."""
    bad = InvalidRecord.one("cursor", "not a cursor for this sort (use next_cursor from the previous page)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        got_sort, got_dir, values, last_id = json.loads(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error, TypeError):
        raise bad from None
    if got_sort != sort or got_dir != direction or len(values) != len(keys) or not isinstance(last_id, int):
        raise bad
    try:
        if sort == "last_purchase":
            bound = [literal(clock.ensure_aware(datetime.fromisoformat(values[0])), UTCDateTime())]
        elif sort == "name":
            bound = [literal(str(v), String()) for v in values]
        else:
            bound = [literal(int(values[0]), Integer())]
    except (ValueError, TypeError):
        raise bad from None
    return bound, last_id
