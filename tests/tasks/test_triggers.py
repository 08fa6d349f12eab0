"""Triggers: an ingested event raises its task within a second, for the clients it touched only."""

from __future__ import annotations

from rapport.db import Database
from rapport.ingest.service import ingest_records
from rapport.tasks.triggers import TableFollower, TaskTriggers, clients_for, handle, process, rules_for, wait_for
from tests.factories import ok
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, buy, stock, tasks_of, warehouse


def _try_on(client: str, key: str = "T1") -> dict[str, object]:
    return {
        "source": "store-app", "id": key, "type": "try_on", "occurred_at": ago(hours=2).isoformat(),
        "customer": {"source": "pos", "id": client}, "sku": "COAT-CAMEL-M", "store": "PAR",
    }  # fmt: skip


def test_an_ingested_try_on_raises_its_follow_up_for_that_client_only(store: Database) -> None:
    cid = add_client(store, "C1")
    other = add_client(store, "C2")
    ok(ingest_records(store, "events", [_try_on("C2", "T0")]))
    result = ok(ingest_records(store, "events", [_try_on("C1")]))
    assert result.outcomes[0].id == cid  # events carry the client's id
    report = process(store, [cid], types=rules_for("events.ingested"))
    assert report.created == 1
    assert [(t.customer_id, t.type) for t in tasks_of(store)] == [(cid, "try_on_follow_up")]
    assert tasks_of(store, other) == []


def test_handle_maps_each_events_ids_to_clients(store: Database) -> None:
    cid = add_client(store, "C1")
    order_id = buy(store, "C1", "O1", at=ago(days=8))
    with store.read() as s:
        assert clients_for(s, "orders.ingested", [order_id]) == {cid}
        assert clients_for(s, "customers.ingested", [cid]) == {cid}
        assert clients_for(s, "returns.ingested", [1]) == set()
    report = handle(store, {"orders.ingested": [order_id]})
    assert report.created_by_type() == {"replenishment": 0, "post_purchase": 1}


def test_with_the_thread_started_the_task_appears_within_a_second(store: Database) -> None:
    cid = add_client(store, "C1")
    triggers = TaskTriggers(lambda: store)
    triggers.start()
    try:
        ok(ingest_records(store, "events", [_try_on("C1")]))
        assert wait_for(lambda: len(tasks_of(store, cid)) == 1, timeout=1.0)
    finally:
        triggers.stop()
    assert tasks_of(store, cid)[0].type == "try_on_follow_up"


def test_a_wishlist_item_back_in_stock_reaches_the_client_within_a_second(store: Database) -> None:
    cid = add_client(store, "C1")
    ok(ingest_records(store, "events", [{
        "source": "web", "id": "W1", "type": "wishlist_add", "occurred_at": ago(days=3).isoformat(),
        "customer": {"source": "pos", "id": "C1"}, "sku": "SCARF-SILK",
    }]))  # fmt: skip
    stock(store, "SCARF-SILK", "PAR", 0, at=ago(days=5))
    triggers = TaskTriggers(lambda: store)
    triggers.start()
    try:
        stock(store, "SCARF-SILK", "PAR", 2)
        assert wait_for(lambda: [t.type for t in tasks_of(store, cid)] == ["back_in_stock"], timeout=1.0)
    finally:
        triggers.stop()


def test_a_stopped_trigger_raises_nothing_and_the_sweep_catches_up(store: Database) -> None:
    from tests.tasks.kit import sweep

    cid = add_client(store, "C1")
    triggers = TaskTriggers(lambda: store)
    triggers.start()
    triggers.stop()
    ok(ingest_records(store, "events", [_try_on("C1")]))
    assert not wait_for(lambda: bool(tasks_of(store, cid)), timeout=0.2)
    assert sweep(store, "try_on_follow_up").created == 1


def test_the_workers_follower_picks_up_rows_other_processes_wrote(store: Database) -> None:
    cid = add_client(store, "C1")
    warehouse(store)
    follower = TableFollower()
    assert follower.look(store) == {}  # the first look only notes where the tables are
    ok(ingest_records(store, "events", [_try_on("C1")]))
    newcomer = add_client(store, "C2")
    targets = follower.look(store)
    assert targets == {"try_on_follow_up": {cid}}  # a new client's dates and welcome wait for the sweep
    assert newcomer not in targets["try_on_follow_up"]
    assert follower.look(store) == {}


def test_in_the_worker_the_triggers_sweep_at_start_then_follow_new_rows(store: Database) -> None:
    from rapport import events

    cid = add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    triggers = TaskTriggers(lambda: store, poll_every=0.05, sweep_every=3600)
    triggers.start()
    try:
        assert wait_for(lambda: {t.type for t in tasks_of(store, cid)} == {"milestone", "welcome"}, timeout=2.0)
        events.unsubscribe("events.ingested", triggers.notify)  # as if another process had ingested it
        other = add_client(store, "C2")
        ok(ingest_records(store, "events", [_try_on("C2")]))
        assert wait_for(lambda: "try_on_follow_up" in {t.type for t in tasks_of(store, other)}, timeout=1.0)
    finally:
        triggers.stop()


def test_a_client_moved_to_another_book_takes_their_live_tasks_along(store: Database) -> None:
    from sqlalchemy import select

    from rapport import events
    from rapport.associates.models import Associate
    from rapport.clientbook.service import reassign
    from rapport.tasks.service import raise_tasks
    from tests.factories import ingest
    from tests.tasks.conftest import candidate

    ok(ingest(store, "associates", {"code": "LEA", "email": "lea@maison.example", "display_name": "Léa",
                                    "home_store": "PAR"}))  # fmt: skip
    cid = add_client(store, "C1")
    with store.write() as s:
        raise_tasks(s, [candidate(cid)])
        ana, lea = (s.scalars(select(Associate.id).where(Associate.code == code)).one() for code in ("ANA", "LEA"))
    heard: list[events.Event] = []
    events.subscribe("clients.assigned", heard.append)
    try:
        with store.write() as s:
            reassign(s, ana, lea, [cid])
    finally:
        events.unsubscribe("clients.assigned", heard.append)
    assert [e.payload["ids"] for e in heard] == [[cid]]
    assert [t.associate_id for t in tasks_of(store)] == [ana]  # not yet: the trigger moves them
    handle(store, {"clients.assigned": [cid]})
    # The task went along, and Léa is asked to welcome her new client.
    assert sorted((t.type, t.associate_id) for t in tasks_of(store)) == [("manual", lea), ("welcome", lea)]


def test_the_sweep_sends_live_tasks_to_the_current_owner_where_no_trigger_ran(store: Database) -> None:
    from sqlalchemy import update

    from rapport.customers.models import Customer
    from rapport.tasks.service import housekeeping, raise_tasks
    from tests.tasks.conftest import candidate

    cid = add_client(store, "C1")
    with store.write() as s:
        raise_tasks(s, [candidate(cid)])
        s.execute(update(Customer).where(Customer.id == cid).values(assigned_associate_id=None))
        assert housekeeping(s)["rerouted"] == 1
    (task,) = tasks_of(store)
    assert task.associate_id is None and task.location_id is not None  # the Paris team queue
