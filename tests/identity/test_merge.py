"""Merges move all history to one surviving client, and can be undone exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rapport.commerce.models import Order
from rapport.customers.models import Consent, Customer, TimelineEntry
from rapport.errors import Conflict
from rapport.identity.merge import merge_customers, unmerge
from rapport.identity.models import Identifier, MergeRecord
from tests.factories import ingest, ok, order, seed_reference


def _two_clients(db):
    seed_reference(db)
    a = (
        ok(
            ingest(
                db,
                "customers",
                {
                    "source": "pos",
                    "id": "A",
                    "first_name": "Léa",
                    "emails": ["lea@example.com"],
                    "sizes": {"shoes": "38"},
                    "tags": ["vip"],
                    "consent": [{"channel": "email", "granted": True, "recorded_at": "2026-01-01T00:00:00Z"}],
                },
            )
        )
        .outcomes[0]
        .id
    )
    b = (
        ok(
            ingest(
                db,
                "customers",
                {
                    "source": "shopify",
                    "id": "B",
                    "last_name": "Durand",
                    "birth_date": "1990-05-04",
                    "emails": ["lea.durand@example.com"],
                    "sizes": {"shoes": "39", "tops": "S"},
                    "tags": ["online"],
                    "consent": [{"channel": "email", "granted": False, "recorded_at": "2026-06-01T00:00:00Z"}],
                },
            )
        )
        .outcomes[0]
        .id
    )
    ok(ingest(db, "orders", order("O-A", customer={"source": "pos", "id": "A"})))
    ok(
        ingest(
            db,
            "orders",
            order(
                "O-B",
                source="shopify",
                channel="online",
                store=None,
                customer={"source": "shopify", "id": "B"},
            ),
        )
    )
    return a, b


def _snapshot(db, *ids):
    with db.read() as s:
        customers = {
            c.id: (c.status, c.merged_into_id, c.first_name, c.last_name, c.birth_date, c.sizes, c.tags)
            for c in s.scalars(select(Customer).where(Customer.id.in_(ids)))
        }
        orders = {o.external_id: o.customer_id for o in s.scalars(select(Order))}
        idents = {i.value: i.customer_id for i in s.scalars(select(Identifier))}
        consent = {(c.customer_id, c.channel): (c.granted, c.source) for c in s.scalars(select(Consent))}
        timeline = {
            t.external_id: t.customer_id for t in s.scalars(select(TimelineEntry)) if t.kind not in ("merge", "unmerge")
        }
    return customers, orders, idents, consent, timeline


def test_merge_moves_history_fills_gaps_and_keeps_the_newest_consent(db):
    a, b = _two_clients(db)
    with db.write() as s:
        outcome = merge_customers(s, a, b, reason="same person (store confirmed)", actor="associate:ana")
    _, orders, idents, consent, timeline = _snapshot(db, a, b)
    assert set(orders.values()) == {a}
    assert set(idents.values()) == {a}
    assert set(timeline.values()) == {a}
    assert consent[(a, "email")] == (False, "shopify")  # the newer decision, taken by the survivor
    with db.read() as s:
        survivor, loser = s.get(Customer, a), s.get(Customer, b)
        assert (loser.status, loser.merged_into_id) == ("merged", a)
        assert survivor.first_name == "Léa" and survivor.last_name == "Durand"  # gap filled
        assert survivor.sizes == {"shoes": "38", "tops": "S"}  # survivor's own value wins
        assert survivor.tags == ["vip", "online"]
        record = s.get(MergeRecord, outcome.merge_id)
        assert record.actor == "associate:ana" and "sales_order.customer_id" in record.moved


def test_unmerge_restores_exactly_what_was_before(db):
    a, b = _two_clients(db)
    before = _snapshot(db, a, b)
    with db.write() as s:
        outcome = merge_customers(s, a, b, reason="test")
    with db.write() as s:
        unmerge(s, outcome.merge_id, actor="admin:eve")
    assert _snapshot(db, a, b) == before
    with db.read() as s:
        kinds = [t.kind for t in s.scalars(select(TimelineEntry).where(TimelineEntry.kind.in_(["merge", "unmerge"])))]
    assert sorted(kinds) == ["merge", "unmerge", "unmerge"]


def test_unmerge_keeps_edits_made_after_the_merge(db):
    a, b = _two_clients(db)
    with db.write() as s:
        outcome = merge_customers(s, a, b, reason="test")
    ok(ingest(db, "customers", {"source": "pos", "id": "A", "last_name": "Martin"}))
    with db.write() as s:
        unmerge(s, outcome.merge_id)
    with db.read() as s:
        assert s.get(Customer, a).last_name == "Martin"


def test_a_merge_cannot_be_undone_twice_or_out_of_order(db):
    a, b = _two_clients(db)
    c = ok(ingest(db, "customers", {"source": "pos", "id": "C", "emails": ["c@example.com"]})).outcomes[0].id
    with db.write() as s:
        first = merge_customers(s, a, b, reason="test")
    with db.write() as s:
        merge_customers(s, c, a, reason="test")
    with pytest.raises(Conflict, match="undo that merge first"), db.write() as s:
        unmerge(s, first.merge_id)
    with pytest.raises(Conflict, match="merged"), db.write() as s:
        merge_customers(s, a, c, reason="again")


def test_clients_merged_earlier_follow_the_new_survivor(db):
    a, b = _two_clients(db)
    c = ok(ingest(db, "customers", {"source": "pos", "id": "C", "emails": ["c@example.com"]})).outcomes[0].id
    with db.write() as s:
        merge_customers(s, b, c, reason="first")
        merge_customers(s, a, b, reason="second")
    with db.read() as s:
        assert s.get(Customer, c).merged_into_id == a
