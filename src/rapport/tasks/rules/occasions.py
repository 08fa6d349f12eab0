"""Dates in the relationship: milestones coming up, appointments to prepare, a client newly in one's book."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, extract, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport.appointments.models import TIMELINE_SOURCE as BOOKED_HERE
from rapport.appointments.models import Appointment, AppointmentType
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine
from rapport.customers.models import Customer, Milestone, TimelineEntry
from rapport.inventory.models import Location
from rapport.money import format_money
from rapport.tasks.config import RuleSettings
from rapport.tasks.rules._common import (
    active,
    day,
    day_year,
    lazily,
    midnight,
    not_cancelled,
    product_label,
    scope,
)
from rapport.tasks.service import Candidate

# --- milestone ----------------------------------------------------------------------------------

#: How each milestone kind is said when the retailer recorded no label.
_KIND_NAMES = {
    "anniversary": "Anniversary",
    "wedding": "Wedding anniversary",
    "birthday": "Birthday",
    "child_birthday": "Child's birthday",
    "partner_birthday": "Partner's birthday",
    "other": "Special date",
}
#: Days before the date the task falls due (the days before that are for preparing).
_MILESTONE_LEAD_DAYS = 3
#: Around last year's date, the purchase that was probably for the occasion: from 3 weeks before to 2 days after.
_GIFT_BEFORE, _GIFT_AFTER = timedelta(days=21), timedelta(days=2)


def upcoming_dates(today: date, days_ahead: int) -> dict[tuple[int, int], date]:
    """(month, day) -> the date it next falls on, for each day from today to ``days_ahead`` days on.

    Crosses the year end (30 Dec + 5 days reaches 4 Jan of the next year); in a year without
    29 February, a 29 February date is kept on 28 February.
    """
    out: dict[tuple[int, int], date] = {}
    for offset in range(min(max(days_ahead, 0), 366) + 1):
        d = today + timedelta(days=offset)
        out.setdefault((d.month, d.day), d)
        if d.month == 2 and d.day == 28 and not calendar.isleap(d.year):
            out.setdefault((2, 29), d)
    return out


def _month_day_filter(month: Any, day_: Any, dates: dict[tuple[int, int], date]) -> ColumnElement[bool]:
    """(month, day) among ``dates`` as one OR per month — an index range on (month, day) each."""
    by_month: dict[int, list[int]] = defaultdict(list)
    for m, d in dates:
        by_month[m].append(d)
    return or_(*(and_(month == m, day_.in_(sorted(days))) for m, days in sorted(by_month.items())))


def _occasion_name(kind: str, label: str) -> str:
    """'Wedding anniversary', "Léa's birthday", "Partner's birthday"."""
    base = _KIND_NAMES.get(kind, kind.replace("_", " ").capitalize())
    if not label:
        return base
    if kind in ("birthday", "child_birthday", "partner_birthday") and "birthday" not in label.lower():
        return f"{label}'s birthday"
    return label


def _last_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


@dataclass(frozen=True)
class _Occasion:
    customer_id: int
    kind: str
    label: str
    on: date
    year: int | None  # the year it began (wedding, birth), when known
    own: bool  # the client's own birthday (from the profile)


@dataclass(frozen=True)
class _Purchase:
    order_id: int
    placed_at: datetime
    total_minor: int
    currency: str
    product_id: int
    product: str


def milestone(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """Anniversaries, birthdays and other dates coming within ``days_ahead`` days.

    One indexed query on ``customer_milestone (month, day)``, one on the clients' birth dates,
    and one for last year's purchases around the same dates (so the reason can say what they
    bought for it then).
    """
    today = now.astimezone(UTC).date()
    dates = upcoming_dates(today, int(params["days_ahead"]))
    occasions: list[_Occasion] = []
    kinds = list(params["kinds"])
    m = Milestone
    stmt = (
        select(m.customer_id, m.kind, m.label, m.month, m.day, m.year)
        .join(Customer, Customer.id == m.customer_id)
        .where(active(), _month_day_filter(m.month, m.day, dates), *scope(session, m.customer_id, customer_ids))
    )
    if kinds:
        stmt = stmt.where(m.kind.in_(kinds))
    for cid, kind, label, month, day_, year in session.execute(stmt):
        occasions.append(_Occasion(cid, kind, label or "", dates[(month, day_)], year, own=False))
    if params["include_birthday"]:
        bmonth, bday = extract("month", Customer.birth_date), extract("day", Customer.birth_date)
        for cid, born in session.execute(
            select(Customer.id, Customer.birth_date).where(
                active(),
                Customer.birth_date.is_not(None),
                _month_day_filter(bmonth, bday, dates),
                *scope(session, Customer.id, customer_ids),
            )
        ):
            if born is not None:
                occasions.append(_Occasion(cid, "birthday", "", dates[(born.month, born.day)], born.year, own=True))
    if not occasions:
        return []
    occasions.sort(key=lambda o: (o.customer_id, o.on, o.kind, o.label))
    gifts = _purchases_last_year(session, occasions)
    lead = min(_MILESTONE_LEAD_DAYS, int(params["days_ahead"]))
    start_of_today = midnight(today)

    def build(o: _Occasion) -> Candidate:
        name = _occasion_name(o.kind, o.label)
        years = o.on.year - o.year if o.year and o.year < o.on.year else None
        title = f"{name} on {day(o.on)}"
        if years and o.kind in ("birthday", "child_birthday", "partner_birthday"):
            title += f" (turns {years})"
        elif years:
            title += f" ({years} years)"
        reason = title
        facts: dict[str, Any] = {"occasion": o.kind, "label": o.label, "date": o.on.isoformat(), "own": o.own}
        if years:
            facts["years"] = years
        gift = _gift_for(gifts.get(o.customer_id, ()), _last_year(o.on))
        intent = 0.5
        if gift is not None:
            reason += f"; bought {gift.product} for it last year ({day_year(gift.placed_at)})"
            facts.update(last_year_order_id=gift.order_id, last_year_product_id=gift.product_id)
            facts["last_year_total"] = format_money(gift.total_minor, gift.currency)
            intent = 0.65
        occasion = "birthday" if o.own else o.kind
        return Candidate(
            customer_id=o.customer_id,
            type="milestone",
            dedupe_key=f"milestone:{occasion}:{'' if o.own else o.label}:{o.on.year}",
            title=title,
            reason=reason,
            due_at=max(start_of_today, midnight(o.on - timedelta(days=lead))),
            expires_at=midnight(o.on + timedelta(days=2)),  # through the day after the date
            facts=facts,
            priority=2,
            intent=intent,
        )

    return lazily(occasions, build)


def _purchases_last_year(session: Session, occasions: list[_Occasion]) -> dict[int, list[_Purchase]]:
    """Each client's order lines placed around last year's dates, in one query over one date range."""
    first = _last_year(min(o.on for o in occasions)) - _GIFT_BEFORE
    last = _last_year(max(o.on for o in occasions)) + _GIFT_AFTER + timedelta(days=1)
    ids = sorted({o.customer_id for o in occasions})
    out: dict[int, list[_Purchase]] = defaultdict(list)
    rows = session.execute(
        select(
            Order.customer_id,
            Order.id,
            Order.placed_at,
            Order.total_minor,
            Order.currency,
            OrderLine.total_minor,
            Product.id,
            Product.name,
            Product.size,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.placed_at >= midnight(first),
            Order.placed_at < midnight(last),
            not_cancelled(),
            *scope(session, Order.customer_id, ids),
        )
        .order_by(Order.customer_id, Order.id, OrderLine.total_minor.desc(), OrderLine.id)
    )
    seen: set[int] = set()
    for cid, oid, placed, total, currency, _line_total, pid, name, size in rows:
        if oid in seen or cid is None:
            continue  # the order's most expensive line names it
        seen.add(oid)
        out[cid].append(_Purchase(oid, placed, total, currency, pid, product_label(name, size)))
    return out


def _gift_for(purchases: Iterable[_Purchase], then: date) -> _Purchase | None:
    """The biggest purchase from three weeks before to two days after last year's date."""
    low, high = midnight(then - _GIFT_BEFORE), midnight(then + _GIFT_AFTER + timedelta(days=1))
    around = [p for p in purchases if low <= p.placed_at < high]
    return max(around, key=lambda p: (p.total_minor, p.placed_at)) if around else None


# --- appointment preparation --------------------------------------------------------------------

#: Appointment entries booked this long ago or less are looked at (their data holds when they start).
_APPOINTMENT_HORIZON = timedelta(days=365)


def _parse_start(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        return None
    return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


def _local(when: datetime, timezone: str | None) -> datetime:
    try:
        return when.astimezone(ZoneInfo(timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return when


def appointment_prep(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """Prepare the brief before an appointment (work in the store: no outreach, no consent needed).

    Appointments booked in Rapport (the ``appointment`` table, still booked) — and appointments
    another system reported as timeline entries of kind ``appointment`` whose data carries
    ``starts_at`` (ISO 8601; ``status: cancelled`` drops one). Rapport's own bookings also write
    timeline entries; those are read from the table, where a move or a cancellation shows.
    """
    days_before = int(params["days_before"])
    today = now.astimezone(UTC).date()
    last_day = today + timedelta(days=days_before)
    te = TimelineEntry
    rows = session.execute(
        select(te.id, te.customer_id, te.summary, te.data, Location.name, Location.timezone)
        .join(Customer, Customer.id == te.customer_id)
        .outerjoin(Location, Location.id == te.location_id)
        .where(
            te.kind == "appointment",
            te.source != BOOKED_HERE,
            te.occurred_at >= now - _APPOINTMENT_HORIZON,
            active(),
            *scope(session, te.customer_id, customer_ids),
        )
        .order_by(te.id)
    ).all()

    def build(row: Any) -> Candidate | None:
        entry_id, cid, summary, data, store, tz = row
        data = data or {}
        start = _parse_start(data.get("starts_at"))
        if start is None or start <= now or start.date() > last_day or data.get("status") == "cancelled":
            return None
        local = _local(start, tz)
        when = f"{day(local)} at {local:%H:%M}"
        where = f" at {store}" if store else ""
        purpose = f": {summary}" if summary and summary.lower() != "appointment" else ""
        return Candidate(
            customer_id=cid,
            type="appointment_prep",
            dedupe_key=f"appointment_prep:{entry_id}",
            title=f"Prepare the brief for the {when} appointment",
            reason=f"Appointment on {when}{where}{purpose}; prepare the brief and set aside what they may like",
            due_at=max(now, midnight(start.date() - timedelta(days=days_before))),
            expires_at=start,
            facts={"timeline_entry_id": entry_id, "starts_at": start.isoformat(), "store": store},
            outreach=False,
            priority=3,
            intent=0.8,
            urgent=True,
        )

    booked = session.execute(
        select(Appointment.id, Appointment.customer_id, Appointment.starts_at, Appointment.reason,
               AppointmentType.name, Location.name, Location.timezone)
        .join(Customer, Customer.id == Appointment.customer_id)
        .join(AppointmentType, AppointmentType.id == Appointment.type_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(
            Appointment.status == "booked",
            Appointment.starts_at > now,
            Appointment.starts_at < midnight(last_day + timedelta(days=1)),
            active(),
            *scope(session, Appointment.customer_id, customer_ids),
        )
        .order_by(Appointment.id)
    ).all()  # fmt: skip

    def from_table(row: Any) -> Candidate | None:
        appointment_id, cid, start, reason, kind, store, tz = row
        local = _local(start, tz)
        when = f"{day(local)} at {local:%H:%M}"
        purpose = f": {reason[:200]}" if reason else ""
        return Candidate(
            customer_id=cid,
            type="appointment_prep",
            dedupe_key=f"appointment_prep:appointment:{appointment_id}",
            title=f"Prepare the brief for the {when} {kind.lower()}",
            reason=f"{kind} on {when} at {store}{purpose}; read the brief and set aside what they may like",
            due_at=max(now, midnight(start.date() - timedelta(days=days_before))),
            expires_at=start,
            facts={"appointment_id": appointment_id, "starts_at": start.isoformat(), "store": store},
            outreach=False,
            priority=3,
            intent=0.8,
            urgent=True,
        )

    return chain(lazily(rows, build), lazily(booked, from_table))


# --- welcome ------------------------------------------------------------------------------------

#: Welcome within a couple of days of the assignment.
_WELCOME_DUE = timedelta(days=2)


def welcome(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """A client newly in an associate's book: introduce yourself within ``within_days`` days.

    Newly assigned means either the client book assigned the client to their current associate
    within the window (its ``profile`` timeline entry, ref the associate), or the client is new
    (created within the window, with nothing on the timeline from before it) and came with an
    associate. A client imported with years of history and an associate is not new to anyone.
    One welcome per client and associate (``welcome:<associate id>``), ever.
    """
    since = now - timedelta(days=int(params["within_days"]))
    te = TimelineEntry
    recent = Customer.updated_at >= since  # any assignment touches the client; cheap to test first
    assigned: dict[int, tuple[datetime, int, str, str]] = {}
    book = session.execute(
        select(te.customer_id, func.max(te.occurred_at), Customer.assigned_associate_id, Associate.display_name)
        .join(Customer, Customer.id == te.customer_id)
        .join(Associate, Associate.id == Customer.assigned_associate_id)
        .where(
            active(),
            recent,
            Associate.active.is_(True),
            te.kind == "profile",
            te.ref_type == "associate",
            te.ref_id == Customer.assigned_associate_id,
            te.occurred_at >= since,
            *scope(session, Customer.id, customer_ids),
        )
        .group_by(te.customer_id, Customer.assigned_associate_id, Associate.display_name)
    )
    for cid, when, aid, name in book:
        if aid is not None:
            assigned[cid] = (when, aid, name, "assigned")
    older = exists().where(te.customer_id == Customer.id, te.occurred_at < since)
    # "Since" their first contact with the brand (an import loads a week-old newcomer today).
    first_seen = select(func.min(te.occurred_at)).where(te.customer_id == Customer.id).scalar_subquery()
    fresh = session.execute(
        select(
            Customer.id,
            func.coalesce(first_seen, Customer.created_at),
            Customer.assigned_associate_id,
            Associate.display_name,
        )
        .join(Associate, Associate.id == Customer.assigned_associate_id)
        .where(
            active(),
            recent,
            Associate.active.is_(True),
            Customer.created_at >= since,
            ~older,
            *scope(session, Customer.id, customer_ids),
        )
    )
    for cid, created, aid, name in fresh:
        if aid is not None:
            assigned.setdefault(cid, (created, aid, name, "new"))

    def build(item: tuple[int, tuple[datetime, int, str, str]]) -> Candidate | None:
        cid, (when, aid, name, how) = item
        expires = when + timedelta(days=int(params["within_days"]))
        if expires <= now:
            return None
        first = name.split()[0] if name else "the associate"
        if how == "new":
            reason = f"New client since {day(when)}, in {first}'s client book; introduce yourself"
        else:
            reason = f"Joined {first}'s client book on {day(when)}; introduce yourself"
        return Candidate(
            customer_id=cid,
            type="welcome",
            dedupe_key=f"welcome:{aid}",
            title="Welcome a new client",
            reason=reason,
            due_at=min(when + _WELCOME_DUE, expires),
            expires_at=expires,
            facts={"associate_id": aid, "since": when.isoformat(), "how": how},
            priority=2,
            intent=0.5,
        )

    return lazily(sorted(assigned.items()), build)
