"""The audit log: cheap writes, and a filtered, newest-first listing paged by keyset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from rapport.associates import audit
from rapport.errors import InvalidRecord


def view(session, customer_id, *, actor=("associate", 1, "Ana Duval"), ip="10.0.0.7", ua="Mobile Safari"):
    kind, actor_id, label = actor
    audit.record_view(
        session, actor_kind=kind, actor_id=actor_id, actor_label=label, customer_id=customer_id, ip=ip, user_agent=ua
    )


def test_a_profile_view_is_one_insert_without_waiting_for_a_disk_sync(db):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with db.write() as session:
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            view(session, 42)
        finally:
            event.remove(connection, "before_cursor_execute", count)
    writes = [s.lstrip().upper() for s in statements]
    if db.dialect == "postgresql":  # the view's transaction skips the WAL flush
        assert writes.pop(0) == "SET LOCAL SYNCHRONOUS_COMMIT = OFF"
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO AUDIT_EVENT")


def test_an_event_says_who_did_what_to_which_client_when_and_from_where(db, fixed_clock):
    with db.write() as session:
        view(session, 42, ip="203.0.113.9", ua="x" * 400)
        audit.record(
            session, audit.EXPORTED, actor_kind="token", actor_id=3, actor_label="token:crm-export",
            customer_id=42, detail={"format": "json"},
        )  # fmt: skip
    with db.read() as session:
        exported, viewed = audit.list_events(session, customer_id=42).events
    assert (viewed.action, viewed.actor_kind, viewed.actor_id, viewed.actor_label) == (
        "client.viewed", "associate", 1, "Ana Duval",
    )  # fmt: skip
    assert viewed.at == fixed_clock.now() and viewed.ip == "203.0.113.9" and len(viewed.user_agent or "") == 300
    assert exported.action == "client.exported" and exported.detail == {"format": "json"}


def test_an_unknown_kind_of_actor_is_a_programming_error(db):
    with db.write() as session, pytest.raises(ValueError, match="actor_kind"):
        audit.record(session, audit.VIEWED, actor_kind="robot", actor_id=None, actor_label="?")


@pytest.fixture
def history(db, fixed_clock):
    """Seven events over three days: Ana views clients 1-3, Ben views client 1, a token exports client 2."""
    with db.write() as session:
        for customer_id in (1, 2, 3):
            view(session, customer_id)
        fixed_clock.advance(timedelta(days=1))
        view(session, 1, actor=("associate", 2, "Ben Morel"))
        view(session, 1, actor=("associate", 2, "Ben Morel"))
        fixed_clock.advance(timedelta(days=1))
        audit.record(session, audit.EXPORTED, actor_kind="token", actor_id=9, actor_label="token:crm", customer_id=2)
        audit.record(session, audit.ASSIGNED, actor_kind="system", actor_id=None, actor_label="system")


def test_the_log_pages_newest_first_without_gaps_or_repeats_even_within_one_instant(db, history):
    with db.read() as session:
        everything = audit.list_events(session, limit=200).events
        pages, cursor = [], None
        while True:
            page = audit.list_events(session, limit=3, cursor=cursor)
            pages.append([e.id for e in page.events])
            cursor = page.next_cursor
            if cursor is None:
                break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [e.id for e in everything]
    assert [(e.at, e.id) for e in everything] == sorted(((e.at, e.id) for e in everything), reverse=True)


def test_the_log_filters_by_client_actor_action_and_time(db, history):
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    with db.read() as session:

        def actions(**filters):
            return [(e.action, e.customer_id, e.actor_label) for e in audit.list_events(session, **filters).events]

        assert actions(customer_id=1) == [("client.viewed", 1, "Ben Morel")] * 2 + [("client.viewed", 1, "Ana Duval")]
        assert actions(actor=("associate", 1)) == [("client.viewed", c, "Ana Duval") for c in (3, 2, 1)]
        assert actions(actor=("token", 9)) == [("client.exported", 2, "token:crm")]
        assert actions(actor=("system", None)) == [("clientbook.assigned", None, "system")]
        assert actions(actions=[audit.EXPORTED, audit.ASSIGNED]) == [
            ("clientbook.assigned", None, "system"), ("client.exported", 2, "token:crm"),
        ]  # fmt: skip
        assert len(actions(since=start + timedelta(days=1))) == 4
        assert len(actions(since=start + timedelta(days=1), until=start + timedelta(days=2))) == 2
        first_page = audit.list_events(session, customer_id=1, limit=1)
        rest = audit.list_events(session, customer_id=1, limit=5, cursor=first_page.next_cursor)
        assert len(rest.events) == 2 and rest.next_cursor is None


def test_bad_paging_and_actor_filters_are_refused_with_their_field(db):
    with db.read() as session:
        with pytest.raises(InvalidRecord, match="cursor"):
            audit.list_events(session, cursor="garbage!")
        with pytest.raises(InvalidRecord, match="limit"):
            audit.list_events(session, limit=0)
    assert audit.parse_actor("associate:12") == ("associate", 12)
    assert audit.parse_actor("system") == ("system", None)
    for bad in ("associate", "robot:1", "token:x", "system:1"):
        with pytest.raises(InvalidRecord, match="actor"):
            audit.parse_actor(bad)
