"""The stock primitives every inventory write goes through: promise, give back, consume, adjust.

Nothing else changes ``stock_level.on_hand`` or ``reserved`` (counts from other systems come
through :func:`set_counts`), so available to promise stays exact:

    available = on_hand - reserved - safety_stock,   reserved = sum of the row's active reservations

**No overselling.** A reservation is one conditional ``UPDATE`` per stock row::

    UPDATE stock_level SET reserved = reserved + :q
     WHERE product_id = :p AND location_id = :l AND on_hand - reserved - safety_stock >= :q

On PostgreSQL a concurrent writer of the same row makes the statement wait, then re-check the
condition on the row as committed (READ COMMITTED), so two clients can never both take the last
unit; the rows of a multi-line promise are updated in (product, location) order, so two such
transactions never deadlock. On SQLite writers are serialised (``BEGIN IMMEDIATE``). A promise
that cannot be kept in full gives back what it took in the same transaction and raises
:class:`OutOfStock`, naming each short line.

**Back in stock.** Whenever what a row can promise goes from none to some — a delivery, a hold
released, a return restocked — a :class:`~rapport.inventory.models.StockSignal` is written with
the change and ``stock.back_in_stock`` published after commit (next actions follow it). A change
that leaves the row where it was signals nothing, so replays never signal twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from rapport import clock, events
from rapport.db import insert_for, one_of, table_of
from rapport.errors import Conflict, InvalidRecord
from rapport.inventory.models import Reservation, StockLevel, StockMovement, StockSignal

STOCK = table_of(StockLevel)
RESERVATION = table_of(Reservation)
MOVEMENT = table_of(StockMovement)
SIGNAL = table_of(StockSignal)

Key = tuple[int, int]  # (product_id, location_id)


@dataclass(frozen=True)
class Want:
    """Units of one SKU wanted at one location."""

    product_id: int
    location_id: int
    quantity: int

    @property
    def key(self) -> Key:
        return (self.product_id, self.location_id)


@dataclass(frozen=True)
class Shortage:
    product_id: int
    location_id: int
    wanted: int
    available: int


class OutOfStock(Conflict):
    """A promise that cannot be kept: fewer units available than wanted at a location."""

    code = "out_of_stock"

    def __init__(self, shortages: Sequence[Shortage], labels: dict[Key, str] | None = None) -> None:
        self.shortages = list(shortages)
        names = labels or {}
        parts = [
            f"{names.get((s.product_id, s.location_id), f'product {s.product_id} at location {s.location_id}')}: "
            f"{max(s.available, 0)} available, {s.wanted} wanted"
            for s in self.shortages
        ]
        super().__init__("not enough stock — " + "; ".join(parts))


@dataclass(frozen=True)
class Delta:
    """A change of units on hand from another system or from Rapport itself, idempotent by its key."""

    product_id: int
    location_id: int
    delta: int
    reason: str
    source: str
    external_id: str
    at: datetime
    note: str | None = None


# -- reading -------------------------------------------------------------------------------------


def available(session: Session, keys: Iterable[Key]) -> dict[Key, int]:
    """What each (product, location) can promise now (may be negative after a recount; 0 if no row)."""
    wanted = set(keys)
    out = dict.fromkeys(wanted, 0)
    pids = sorted({p for p, _ in wanted})
    if not pids:
        return out
    rows = session.execute(
        select(STOCK.c.product_id, STOCK.c.location_id, STOCK.c.on_hand, STOCK.c.reserved, STOCK.c.safety_stock).where(
            one_of(session, STOCK.c.product_id, pids)
        )
    )
    for r in rows:
        key = (r.product_id, r.location_id)
        if key in out:
            out[key] = r.on_hand - r.reserved - r.safety_stock
    return out


# -- promising -----------------------------------------------------------------------------------


def reserve(
    session: Session,
    wants: Sequence[Want],
    *,
    kind: str,
    customer_id: int | None = None,
    associate_id: int | None = None,
    expires_at: datetime | None = None,
    note: str | None = None,
    order_line_ids: Sequence[int | None] | None = None,
    fulfilment_id: int | None = None,
    idempotency_key: str | None = None,
    labels: dict[Key, str] | None = None,
) -> list[int]:
    """Promise every wanted line, all or nothing; returns the reservation ids in ``wants`` order.

    Raises :class:`OutOfStock` (and has changed nothing) when any line cannot be promised in full.
    """
    if not wants:
        return []
    for w in wants:
        if w.quantity <= 0:
            raise InvalidRecord.one("quantity", f"must be a positive whole number, got {w.quantity}")
    now = clock.now()
    row = {
        "kind": kind, "status": "active", "customer_id": customer_id, "associate_id": associate_id,
        "fulfilment_id": fulfilment_id, "note": note, "expires_at": expires_at, "created_at": now, "updated_at": now,
        "ended_at": None,
    }  # fmt: skip
    if len(wants) == 1 and session.get_bind().dialect.name == "postgresql":
        line = order_line_ids[0] if order_line_ids else None
        fast = _take_and_record(session, wants[0], {**row, "order_line_id": line, "idempotency_key": idempotency_key})
        if fast is not None:
            return [fast]  # else: short (or lapsed holds to give back first): the general path says why
    totals: dict[Key, int] = defaultdict(int)
    for w in wants:
        totals[w.key] += w.quantity
    taken: list[tuple[Key, int]] = []
    short: list[Shortage] = []
    for key in sorted(totals):  # a fixed order: concurrent multi-line promises never deadlock
        quantity = totals[key]
        if _take(session, key, quantity) or (_expire_lapsed(session, key, now) and _take(session, key, quantity)):
            taken.append((key, quantity))
        else:
            short.append(Shortage(key[0], key[1], quantity, available(session, [key])[key]))
    if short:
        for key, quantity in taken:  # give back what this promise took; the transaction stays usable
            _give_back(session, key, quantity)
        raise OutOfStock(short, labels)
    lines = list(order_line_ids) if order_line_ids is not None else [None] * len(wants)
    rows = [
        {**row, "product_id": w.product_id, "location_id": w.location_id, "quantity": w.quantity,
         "order_line_id": line, "idempotency_key": idempotency_key if len(wants) == 1 else None}
        for w, line in zip(wants, lines, strict=True)
    ]  # fmt: skip
    ids = session.scalars(insert(RESERVATION).returning(RESERVATION.c.id, sort_by_parameter_order=True), rows).all()
    return list(ids)


def _take_and_record(session: Session, want: Want, row: dict[str, Any]) -> int | None:
    """One line in one statement (PostgreSQL): the conditional UPDATE as a CTE feeding the INSERT of
    the reservation. Its id, or None when the row cannot promise that many (nothing written)."""
    # The reservation's values are bound as r_<column>: a parameter named like a stock_level column
    # (updated_at) would be added to the UPDATE's SET clause by SQLAlchemy, and a promise must not
    # move the row's count time (an older count would then be ignored).
    params = {f"r_{k}": v for k, v in row.items()} | {"p": want.product_id, "l": want.location_id,
                                                       "quantity": want.quantity}  # fmt: skip
    return session.scalar(_take_and_record_statement(), params)


@cache
def _take_and_record_statement() -> Any:
    """Built once: composing the CTE costs more than running it (~1.8 ms of Python per call)."""
    s = STOCK.c
    taken = (
        update(STOCK)
        .where(
            s.product_id == bindparam("p"),
            s.location_id == bindparam("l"),
            s.on_hand - s.reserved - s.safety_stock >= bindparam("quantity"),
        )
        .values(reserved=s.reserved + bindparam("quantity"))
        .returning(s.product_id, s.location_id)
        .cte("taken")
    )
    names = [c.name for c in RESERVATION.c if c.name not in ("id", "product_id", "location_id")]
    chosen = select(
        *(bindparam("quantity" if n == "quantity" else f"r_{n}", type_=RESERVATION.c[n].type).label(n) for n in names),
        taken.c.product_id,
        taken.c.location_id,
    )
    return insert(RESERVATION).from_select([*names, "product_id", "location_id"], chosen).returning(RESERVATION.c.id)


def _take(session: Session, key: Key, quantity: int) -> bool:
    s = STOCK.c
    result = session.execute(
        update(STOCK)
        .where(
            s.product_id == key[0],
            s.location_id == key[1],
            s.on_hand - s.reserved - s.safety_stock >= quantity,
        )
        .values(reserved=s.reserved + quantity)
        .returning(s.id)
    ).first()
    return result is not None


def _give_back(session: Session, key: Key, quantity: int) -> Any:
    s = STOCK.c
    return session.execute(
        update(STOCK)
        .where(s.product_id == key[0], s.location_id == key[1])
        .values(reserved=s.reserved - quantity)
        .returning(s.on_hand, s.reserved, s.safety_stock)
    ).first()


def _expire_lapsed(session: Session, key: Key, now: datetime) -> bool:
    """Lapse this row's overdue holds now rather than at the next sweep; True if any were."""
    r = RESERVATION.c
    ids = session.scalars(
        select(r.id).where(
            r.product_id == key[0],
            r.location_id == key[1],
            r.status == "active",
            r.expires_at.is_not(None),
            r.expires_at <= now,
        )
    ).all()
    return bool(ids) and release(session, list(ids), status="expired") > 0


# -- giving back and consuming -------------------------------------------------------------------


@dataclass(frozen=True)
class Ended:
    """A reservation that has just ended (what :func:`release` / :func:`consume` changed)."""

    id: int
    kind: str
    product_id: int
    location_id: int
    quantity: int
    customer_id: int | None
    associate_id: int | None


def release(session: Session, reservation_ids: Sequence[int], *, status: str = "released") -> int:
    """Give active reservations back to available stock (``released`` or ``expired``); returns how many.

    A reservation already ended is left alone, so two people releasing the same hold give it back once.
    """
    return len(end(session, reservation_ids, status=status))


def end(session: Session, reservation_ids: Sequence[int], *, status: str) -> list[Ended]:
    """End active reservations with ``status``; stock taken out only for ``fulfilled``/``converted``
    with :func:`consume` — here the units go back to available."""
    if status not in ("released", "expired"):
        raise ValueError(f"end() gives stock back; use consume() for {status!r}")
    ended = _close(session, reservation_ids, status)
    per_key: dict[Key, int] = defaultdict(int)
    for e in ended:
        per_key[(e.product_id, e.location_id)] += e.quantity
    transitions = []
    for key in sorted(per_key):
        row = _give_back(session, key, per_key[key])
        if row is not None:
            after = row.on_hand - row.reserved - row.safety_stock
            transitions.append((key, after - per_key[key], after, row.on_hand))
    signal_back_in_stock(session, transitions)
    return ended


def consume(
    session: Session,
    reservation_ids: Sequence[int],
    *,
    status: str,
    reason: str,
    order_line_id: int | None = None,
) -> list[Ended]:
    """The promised units leave the location (collected, shipped, sold): ``on_hand`` and ``reserved``
    both drop, and the ledger says why. ``status`` is ``fulfilled`` or ``converted``."""
    if status not in ("fulfilled", "converted"):
        raise ValueError(f"consume() takes stock out; use end() for {status!r}")
    ended = _close(session, reservation_ids, status, order_line_id=order_line_id)
    now = clock.now()
    s = STOCK.c
    for e in sorted(ended, key=lambda e: (e.product_id, e.location_id, e.id)):
        row = session.execute(
            update(STOCK)
            .where(s.product_id == e.product_id, s.location_id == e.location_id)
            .values(reserved=s.reserved - e.quantity, on_hand=s.on_hand - e.quantity, updated_at=now)
            .returning(s.on_hand)
        ).first()
        session.execute(
            insert(MOVEMENT).values(
                product_id=e.product_id, location_id=e.location_id, delta=-e.quantity,
                on_hand_after=row.on_hand if row is not None else -e.quantity, reason=reason, source="rapport",
                external_id=f"reservation:{e.id}", note=None, at=now, created_at=now,
            )
        )  # fmt: skip
    return ended


def _close(
    session: Session, reservation_ids: Sequence[int], status: str, *, order_line_id: int | None = None
) -> list[Ended]:
    if not reservation_ids:
        return []
    r = RESERVATION.c
    now = clock.now()
    values: dict[str, Any] = {"status": status, "ended_at": now, "updated_at": now}
    if order_line_id is not None:
        values["order_line_id"] = order_line_id
    rows = session.execute(
        update(RESERVATION)
        .where(one_of(session, r.id, sorted(set(reservation_ids))), r.status == "active")
        .values(**values)
        .returning(r.id, r.kind, r.product_id, r.location_id, r.quantity, r.customer_id, r.associate_id)
    ).all()
    return [Ended(*row) for row in rows]


def lapsed_hold_ids(session: Session, *, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Active holds whose time is up, oldest first (the sweep releases them)."""
    r = RESERVATION.c
    at = now or clock.now()
    return list(
        session.scalars(
            select(r.id)
            .where(r.status == "active", r.expires_at.is_not(None), r.expires_at <= at)
            .order_by(r.expires_at, r.id)
            .limit(limit)
        )
    )


# -- moving stock --------------------------------------------------------------------------------


def adjust(session: Session, deltas: Sequence[Delta]) -> list[bool]:
    """Apply deltas to units on hand, each once: a delta whose (source, external id) is already in
    the ledger changes nothing. Returns, per delta, whether it was applied now.

    The ledger row is written first with ``ON CONFLICT DO NOTHING``: a concurrent writer of the
    same key waits on the unique index and then skips, so a delta is never applied twice.
    """
    applied = [False] * len(deltas)
    if not deltas:
        return applied
    now = clock.now()
    movement_ids: dict[int, int] = {}
    for i, d in enumerate(deltas):
        stmt = insert_for(session, MOVEMENT).values(
            product_id=d.product_id, location_id=d.location_id, delta=d.delta, on_hand_after=0, reason=d.reason,
            source=d.source, external_id=d.external_id, note=d.note, at=d.at, created_at=now,
        )  # fmt: skip
        row = session.execute(
            stmt.on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(MOVEMENT.c.id)
        ).first()
        if row is not None:
            applied[i] = True
            movement_ids[i] = row.id
    per_key: dict[Key, list[int]] = defaultdict(list)
    for i in movement_ids:
        per_key[(deltas[i].product_id, deltas[i].location_id)].append(i)
    transitions = []
    for key in sorted(per_key):
        total = sum(deltas[i].delta for i in per_key[key])
        row = _add_on_hand(session, key, total, now)
        after = row.on_hand - row.reserved - row.safety_stock
        transitions.append((key, after - total, after, row.on_hand))
        running = row.on_hand - total
        for i in per_key[key]:
            running += deltas[i].delta
            session.execute(update(MOVEMENT).where(MOVEMENT.c.id == movement_ids[i]).values(on_hand_after=running))
    signal_back_in_stock(session, transitions)
    return applied


def _add_on_hand(session: Session, key: Key, delta: int, now: datetime) -> Any:
    stmt = insert_for(session, STOCK).values(
        product_id=key[0], location_id=key[1], on_hand=delta, reserved=0, safety_stock=0, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["product_id", "location_id"],
        set_={"on_hand": STOCK.c.on_hand + delta, "updated_at": now},
    )
    return session.execute(stmt.returning(STOCK.c.on_hand, STOCK.c.reserved, STOCK.c.safety_stock)).one()


def signal_back_in_stock(
    session: Session, transitions: Sequence[tuple[Key, int, int, int]], *, at: dict[Key, datetime] | None = None
) -> list[int]:
    """Write a signal for each (key, available before, available after, on hand) that went from none
    to some, and announce them after commit. ``at``: when it happened per key (a count's time;
    default now). Returns the signal ids."""
    now = clock.now()
    when = at or {}
    rows = [
        {"product_id": k[0], "location_id": k[1], "kind": "back_in_stock", "on_hand": on_hand, "at": when.get(k, now)}
        for k, before, after, on_hand in transitions
        if before <= 0 < after
    ]
    if not rows:
        return []
    ids = list(session.scalars(insert(SIGNAL).returning(SIGNAL.c.id, sort_by_parameter_order=True), rows).all())
    events.publish(session, "stock.back_in_stock", signal_ids=ids)
    return ids


def counted_rows(session: Session, product_ids: Sequence[int]) -> dict[Key, Any]:
    """The stock rows of these products (for a count to compare against), by (product, location)."""
    s = STOCK.c
    out: dict[Key, Any] = {}
    ids = sorted(set(product_ids))
    if not ids:
        return out
    for row in session.execute(
        select(s.id, s.product_id, s.location_id, s.on_hand, s.reserved, s.safety_stock, s.updated_at).where(
            one_of(session, s.product_id, ids)
        )
    ):
        out[(row.product_id, row.location_id)] = row
    return out
