"""What the rules share: scoping to a set of clients, day arithmetic both engines agree on, wording."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import Interval, bindparam, exists, extract, func
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine
from rapport.customers.models import Customer
from rapport.db import UTCDateTime, one_of
from rapport.tasks.config import RuleSettings
from rapport.tasks.service import Candidate


class RuleFunction(Protocol):
    """A rule: the candidates it proposes now, for every active client or only ``customer_ids``.

    Queries run when the rule is called (the session can close right after); the candidates are
    built lazily as they are consumed, so a sweep over a million clients never holds them all.
    """

    def __call__(
        self, session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
    ) -> Iterable[Candidate]: ...


def scope(session: Session, column: Any, customer_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    """``column`` among ``customer_ids`` (nothing when every client is in scope)."""
    if customer_ids is None:
        return []
    return [one_of(session, column, sorted(set(customer_ids)))]


def active() -> ColumnElement[bool]:
    """Only active clients get tasks (a merged-away record's history moved to its survivor)."""
    return Customer.status == "active"


def at(when: datetime) -> Any:
    """A bound UTC timestamp usable in SQL arithmetic on both engines."""
    return bindparam(None, when, type_=UTCDateTime())


def days_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in (fractional) days: julianday on SQLite, epoch seconds on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def minus(session: Session, column: Any, delta: timedelta) -> ColumnElement[Any]:
    """A timestamp column shifted back by ``delta``, comparable with stored timestamps on both engines.

    (So ``other_column >= minus(column, delta)`` can still use an index on ``other_column``.)
    SQLite stores ``YYYY-MM-DD HH:MM:SS.ffffff`` text: strftime gives milliseconds, padded to match.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column - bindparam(None, delta, type_=Interval())
    return func.strftime("%Y-%m-%d %H:%M:%f000", column, f"-{delta.total_seconds()} seconds")


def not_cancelled() -> ColumnElement[bool]:
    return Order.status != "cancelled"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day(value: date | datetime) -> str:
    """'3 Dec' — the way an associate says a date."""
    return f"{value.day} {value:%b}"


def day_year(value: date | datetime) -> str:
    """'28 Nov 2025'."""
    return f"{value.day} {value:%b %Y}"


def product_label(name: str | None, size: str | None = None) -> str:
    """'Camel wool coat (M)'."""
    label = name or "an item"
    return f"{label} ({size})" if size else label


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lazily(rows: Iterable[Any], build: Callable[[Any], Candidate | None]) -> Iterable[Candidate]:
    """Candidates built one at a time from fetched rows; ``build`` returns None to leave a row out."""
    return (c for c in map(build, rows) if c is not None)


def bought_style_since(
    session: Session, customer: Any, style: Any, since: Any, slack: timedelta = timedelta(0)
) -> ColumnElement[bool]:
    """EXISTS an order of ``customer`` with an item of ``style`` placed from ``since - slack`` (not cancelled)."""
    bought = aliased(Product)
    placed_from = Order.placed_at >= (minus(session, since, slack) if slack else since)
    return exists().where(
        Order.customer_id == customer,
        not_cancelled(),
        placed_from,
        OrderLine.order_id == Order.id,
        bought.id == OrderLine.product_id,
        bought.style_code == style,
    )
