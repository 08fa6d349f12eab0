"""A batch the database refuses as a whole is retried one record at a time: nothing lost, nothing doubled."""

from __future__ import annotations

from sqlalchemy import event, func, insert, select

from rapport import clock
from rapport.customers.models import Customer
from rapport.identity.models import Identifier
from rapport.ingest.service import ingest_records


def test_a_client_created_concurrently_is_joined_not_duplicated(pg_db):
    """PostgreSQL only: SQLite serialises writers, so no other writer can interleave there."""
    db = pg_db
    fired = []

    def other_process_writes_first(conn, cursor, statement, params, context, executemany):
        # Right after our batch looked identifiers up, another process registers the same email.
        if fired or "FROM identifier" not in statement:
            return
        fired.append(True)
        with db.engine.begin() as other:
            now = clock.now()
            cid = other.execute(
                insert(Customer)
                .values(
                    first_name="Sam",
                    status="active",
                    tags=[],
                    preferences={},
                    sizes={},
                    created_at=now,
                    updated_at=now,
                )
                .returning(Customer.id)
            ).scalar_one()
            other.execute(
                insert(Identifier).values(
                    customer_id=cid,
                    kind="email",
                    namespace="",
                    value="sam@example.com",
                    search_key="sam@example.com",
                    verified=False,
                    source="other",
                    created_at=now,
                )
            )

    event.listen(db.engine, "after_cursor_execute", other_process_writes_first)
    try:
        result = ingest_records(
            db,
            "customers",
            [
                {"source": "pos", "id": "1", "emails": ["sam@example.com"]},
                {"source": "pos", "id": "2", "emails": ["kim@example.com"]},
            ],
        )
    finally:
        event.remove(db.engine, "after_cursor_execute", other_process_writes_first)
    assert fired
    assert [o.status for o in result.outcomes] == ["updated", "created"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
        assert (
            s.scalar(select(Identifier.customer_id).where(Identifier.value == "sam@example.com"))
            == result.outcomes[0].id
        )


def test_an_order_batch_creating_clients_takes_turns_and_rereads_instead_of_being_refused(pg_db, caplog):
    """Two webhook batches naming the same first-time buyer: the second reads the first's client."""
    from tests.factories import seed_reference

    db = pg_db
    seed_reference(db)
    fired = []

    def other_batch_creates_the_buyer(conn, cursor, statement, params, context, executemany):
        # Our batch has just found the buyer unknown; another batch creates them and commits.
        if fired or "FROM identifier" not in statement or "pg_advisory" in statement:
            return
        fired.append(True)
        with db.engine.begin() as other:
            now = clock.now()
            cid = other.execute(
                insert(Customer)
                .values(first_name="Noor", status="active", tags=[], preferences={}, sizes={},
                        created_at=now, updated_at=now)
                .returning(Customer.id)
            ).scalar_one()  # fmt: skip
            other.execute(
                insert(Identifier).values(customer_id=cid, kind="email", namespace="", value="noor@example.com",
                                          search_key="noor@example.com", verified=False, source="web",
                                          created_at=now)
            )  # fmt: skip

    event.listen(db.engine, "after_cursor_execute", other_batch_creates_the_buyer)
    caplog.set_level("INFO", logger="rapport.ingest.service")
    try:
        order = {
            "source": "web", "id": "W-1", "channel": "online", "currency": "EUR",
            "placed_at": "2026-11-20T10:00:00Z", "customer": {"email": "noor@example.com"},
            "lines": [{"sku": "SCARF-SILK", "quantity": 1, "unit_price": "45.50"}],
        }  # fmt: skip
        result = ingest_records(db, "orders", [order])
    finally:
        event.remove(db.engine, "after_cursor_execute", other_batch_creates_the_buyer)
    assert [o.status for o in result.outcomes] == ["created"]
    # Not refused and retried: it took turns and read the buyer again.
    assert not [r for r in caplog.records if "refused" in r.getMessage()]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
