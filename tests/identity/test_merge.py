"""Merges move all history to one surviving client, and can be undone exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from rapport.commerce.models import Order
from rapport.customers.models import Consent, Customer, TimelineEntry
from rapport.errors import Conflict
from rapport.identity.merge import merge_customers, merge_many, unmerge
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


def _client(db, ext: str, **fields) -> int:
    record = {"source": "pos", "id": ext, "emails": [f"{ext.lower()}@example.com"], **fields}
    return ok(ingest(db, "customers", record)).outcomes[0].id


def test_merging_many_pairs_at_once_ends_as_merging_them_one_by_one(db):
    a, b = _two_clients(db)
    c = _client(db, "C", sizes={"rings": "52"}, consent=[{"channel": "sms", "granted": True}])
    d, e = _client(db, "D"), _client(db, "E", first_name="Eve", tags=["gift"])
    ok(ingest(db, "orders", order("O-C", customer={"source": "pos", "id": "C"})))
    ok(ingest(db, "orders", order("O-E", customer={"source": "pos", "id": "E"})))
    before = _snapshot(db, a, b, c, d, e)
    # A chain (C into B, then B into A) and an independent pair, in one call.
    with db.write() as s:
        outcomes = merge_many(s, [(b, c, "chain 1"), (d, e, "apart"), (a, b, "chain 2")])
    assert [(o.survivor_id, o.loser_id) for o in outcomes] == [(b, c), (d, e), (a, b)]
    _, orders, idents, _, _ = _snapshot(db, a, b, c, d, e)
    assert orders == {"O-A": a, "O-B": a, "O-C": a, "O-E": d}
    assert {v for k, v in idents.items() if k.startswith(("c@", "lea"))} == {a}
    assert idents["e@example.com"] == d
    with db.read() as s:
        assert s.get(Customer, c).merged_into_id == a  # followed B into A
        assert s.get(Customer, a).sizes == {"shoes": "38", "tops": "S", "rings": "52"}
        assert (s.get(Customer, d).first_name, s.get(Customer, d).tags) == ("Eve", ["gift"])
        assert s.get(MergeRecord, outcomes[2].merge_id).moved["sales_order.customer_id"]  # B's and C's orders
    # Undone in reverse order, everything is as it was.
    for outcome in reversed(outcomes):
        with db.write() as s:
            unmerge(s, outcome.merge_id)
    assert _snapshot(db, a, b, c, d, e) == before


def test_a_batch_that_links_three_clients_merges_them_into_the_oldest(db):
    seed_reference(db)
    a, b, c = _client(db, "A"), _client(db, "B"), _client(db, "C")
    seen = {"source": "web", "id": "ev-c", "type": "page_view", "occurred_at": "2026-11-01T10:00:00Z"}
    ok(ingest(db, "events", {**seen, "customer": {"email": "c@example.com"}}))
    result = ingest(
        db,
        "customers",
        {"source": "shopify", "id": "S1", "emails": ["b@example.com", "c@example.com"]},
        {"source": "shopify", "id": "S2", "emails": ["a@example.com", "b@example.com"]},
    )
    assert {o.id for o in ok(result).outcomes} == {a}
    with db.read() as s:
        assert {s.get(Customer, x).merged_into_id for x in (b, c)} == {a}
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.external_id == "ev-c")).one()
        assert entry.customer_id == a
        assert s.scalar(select(func.count()).select_from(MergeRecord)) == 2
