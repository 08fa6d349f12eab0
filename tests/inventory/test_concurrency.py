"""No overselling under real concurrency: threads racing on real databases, each with its own session.

PostgreSQL shows what READ COMMITTED and the conditional ``UPDATE`` guarantee (a writer waits for
the row, then re-checks it as committed); SQLite shows that serialised writers (``BEGIN
IMMEDIATE``) stay exact too. What is asserted is the invariant, never a duration:
``reserved`` equals the sum of the row's active reservations, and nothing is promised twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from rapport import clock
from rapport.catalog.models import Product
from rapport.db import Database, make_engine
from rapport.ingest.service import ingest_records
from rapport.inventory import stock
from rapport.inventory.models import Location, Reservation, StockLevel
from tests.conftest import TEST_NOW
from tests.factories import ingest, ok, seed_reference


@contextmanager
def racing(db: Database, connections: int = 10) -> Iterator[Database]:
    """The database the racing threads share. PostgreSQL: an engine of its own with a small pool (the
    suite's engine is shared, and the server's connection slots with other test runs); SQLite: as is."""
    if db.dialect != "postgresql":
        yield db
        return
    url = db.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=connections, max_overflow=0, pool_timeout=60)
    try:
        yield Database(engine)
    finally:
        engine.dispose()


def race(threads: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` in ``threads`` threads released together; returns results and unexpected errors."""
    start = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        try:
            out = work(i)
        except BaseException as exc:  # reported by the test, with its type
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(out)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool), "a racing thread never finished"
    return results, errors


def stocked(db: Database, *counts: tuple[str, int]) -> dict[str, tuple[int, int]]:
    """The reference data, and on hand at PAR per SKU; returns SKU -> (product id, location id)."""
    seed_reference(db)
    at = (TEST_NOW - timedelta(hours=1)).isoformat()
    ok(ingest(db, "stock", *({"sku": sku, "location": "PAR", "on_hand": n, "counted_at": at} for sku, n in counts)))
    with db.read() as session:
        paris = session.scalar(select(Location.id).where(Location.code == "PAR"))
        ids = dict(
            session.execute(select(Product.sku, Product.id).where(Product.sku.in_([s for s, _ in counts]))).all()
        )
    assert paris is not None
    return {sku: (ids[sku], paris) for sku, _ in counts}


def hold(db: Database, *keys: tuple[int, int]) -> list[int]:
    """One transaction promising one unit of each key, in the order given."""
    with db.write() as session:
        return stock.reserve(
            session, [stock.Want(p, loc, 1) for p, loc in keys], kind="hold",
            expires_at=clock.now() + timedelta(hours=4),
        )  # fmt: skip


def row(db: Database, key: tuple[int, int]) -> tuple[int, int, int, int, int]:
    """(on hand, reserved, safety stock, sum of active reservations, active reservations) for one key."""
    with db.read() as session:
        level = session.execute(
            select(StockLevel.on_hand, StockLevel.reserved, StockLevel.safety_stock).where(
                StockLevel.product_id == key[0], StockLevel.location_id == key[1]
            )
        ).one()
        held, count = session.execute(
            select(func.coalesce(func.sum(Reservation.quantity), 0), func.count()).where(
                Reservation.product_id == key[0], Reservation.location_id == key[1], Reservation.status == "active"
            )
        ).one()
    return level.on_hand, level.reserved, level.safety_stock, int(held), int(count)


def test_forty_clients_racing_for_the_last_ten_units_get_exactly_ten(db: Database) -> None:
    key = stocked(db, ("COAT-CAMEL-M", 10))["COAT-CAMEL-M"]

    with racing(db) as shared:
        results, errors = race(40, lambda _i: hold(shared, key))

    assert all(isinstance(e, stock.OutOfStock) for e in errors), [
        repr(e) for e in errors if not isinstance(e, stock.OutOfStock)
    ]
    assert len(results) == 10 and len(errors) == 30
    on_hand, reserved, safety, held, count = row(db, key)
    assert (on_hand, reserved, held, count) == (10, 10, 10, 10)
    assert on_hand - reserved - safety == 0  # nothing oversold


def test_multi_line_promises_taking_two_skus_in_opposite_orders_never_deadlock(pg_db: Database) -> None:
    # The scarce SKU sorts second, so a promise short on it gives back the unit it took of the first.
    keys = stocked(pg_db, ("COAT-CAMEL-M", 1_000), ("SCARF-SILK", 24))
    first, second = sorted(keys.values())
    assert second == keys["SCARF-SILK"]

    def work(i: int) -> tuple[int, int]:
        taken = released = 0
        for n in range(4):
            try:
                ids = hold(shared, *((first, second) if i % 2 else (second, first)))
            except stock.OutOfStock:
                continue
            taken += 1
            if n % 2:  # give every other promise back, in its own transaction, racing the others
                with shared.write() as session:
                    released += stock.release(session, ids)
        return taken, released

    with racing(pg_db, connections=12) as shared:
        results, errors = race(16, work)

    assert not errors, [repr(e) for e in errors]  # a deadlock would surface here as a DBAPIError
    taken = sum(t for t, _ in results)
    kept = taken - sum(r for _, r in results) // 2  # release() counts both lines of a promise
    assert len(results) == 16 and 0 < kept <= 24
    for key in (first, second):
        on_hand, reserved, safety, held, count = row(pg_db, key)
        assert reserved == held == count == kept
        assert on_hand - reserved - safety >= 0


def test_holds_racing_a_recount_keep_reserved_equal_to_the_active_holds(db: Database) -> None:
    key = stocked(db, ("FRAG-50", 100))["FRAG-50"]
    counts = list(range(100, 84, -1))  # the till counts one unit fewer each time, in order

    def work(i: int) -> int:
        if i == 0:  # the stock system, counting
            for n, on_hand in enumerate(counts):
                at = (TEST_NOW - timedelta(minutes=len(counts) - n)).isoformat()
                ok(
                    ingest_records(
                        shared, "stock", [{"sku": "FRAG-50", "location": "PAR", "on_hand": on_hand, "counted_at": at}]
                    )
                )
            return 0
        for _ in range(3):
            hold(shared, key)
        return 3

    with racing(db) as shared:
        results, errors = race(11, work)

    assert not errors, [repr(e) for e in errors]
    on_hand, reserved, _safety, held, count = row(db, key)
    assert sum(results) == 30
    assert (reserved, held, count) == (30, 30, 30)  # a recount changes what is on hand, never what is promised
    assert on_hand == counts[-1]


def test_of_two_counts_racing_the_newer_one_stands(pg_db: Database) -> None:
    # Each count's age is decided on the row as it is when written, not on what was read before.
    key = stocked(pg_db, ("FRAG-50", 5))["FRAG-50"]
    stale = 0
    with racing(pg_db, connections=4) as shared:
        for n in range(20):
            counts = [(TEST_NOW + timedelta(minutes=2 * n + i), 1_000 * (i + 1) + n) for i in (0, 1)]

            def count(i: int, counts: list[tuple[Any, int]] = counts) -> None:
                at, on_hand = counts[i]
                ok(ingest_records(shared, "stock", [{"sku": "FRAG-50", "location": "PAR", "on_hand": on_hand,
                                                     "counted_at": at.isoformat()}]))  # fmt: skip

            _results, errors = race(2, count)
            assert not errors, [repr(e) for e in errors]
            stale += row(pg_db, key)[0] != counts[1][1]

    assert stale == 0
