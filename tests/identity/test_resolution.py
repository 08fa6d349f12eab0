"""Identity resolution on every write: one client per person across the store, the site and social."""

from __future__ import annotations

from sqlalchemy import func, select

from rapport.customers.models import Consent, Customer
from rapport.identity.merge import resolve_id
from rapport.identity.models import Identifier, MatchCandidate, MergeRecord
from tests.factories import alicia, ingest, ok, seed_reference


def active_customers(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active"))


def test_a_new_record_creates_one_client_with_normalised_identifiers(db):
    result = ok(ingest(db, "customers", alicia(emails=["  Alicia@Example.COM "])))
    assert result.outcomes[0].status == "created"
    with db.read() as s:
        idents = {(i.kind, i.namespace, i.value) for i in s.scalars(select(Identifier))}
    assert idents == {
        ("external", "shopify", "1001"),
        ("email", "", "alicia@example.com"),
        ("phone", "", "+33612345678"),
    }


def test_the_same_person_from_the_pos_by_phone_in_local_format_is_the_same_client(db):
    first = ok(ingest(db, "customers", alicia())).outcomes[0].id
    pos = {
        "source": "pos",
        "id": "P-77",
        "first_name": "Alicia",
        "phones": ["06 12 34 56 78"],
        "addresses": [{"country": "FR"}],
    }
    second = ok(ingest(db, "customers", pos)).outcomes[0]
    assert second.id == first and second.status == "updated"
    assert active_customers(db) == 1


def test_a_record_linking_two_existing_clients_merges_them_and_old_ids_still_resolve(db):
    web = ok(ingest(db, "customers", alicia())).outcomes[0].id
    insta = ok(ingest(db, "events", {
        "source": "instagram", "id": "like-1", "type": "social_like", "occurred_at": "2026-11-02T09:00:00Z",
        "customer": {"source": "instagram", "id": "@alicia.m"}})).outcomes[0].id  # fmt: skip
    assert insta != web and active_customers(db) == 2
    loyalty = {
        "source": "loyalty",
        "id": "L-9",
        "emails": ["alicia@example.com"],
        "external_ids": [{"source": "instagram", "id": "@alicia.m"}],
    }
    outcome = ok(ingest(db, "customers", loyalty)).outcomes[0]
    assert outcome.id == web and outcome.status == "updated"
    assert active_customers(db) == 1
    with db.read() as s:
        assert resolve_id(s, insta) == web
        merge = s.scalars(select(MergeRecord)).one()
        assert (merge.survivor_id, merge.loser_id) == (web, insta)
        assert "instagram" in merge.reason or "email" in merge.reason


def test_a_different_verified_email_means_a_different_person_and_goes_to_review(db):
    ok(ingest(db, "customers", alicia()))
    partner = {
        "source": "pos",
        "id": "P-1",
        "first_name": "Marc",
        "last_name": "Moreau",
        "emails": [{"address": "marc@example.com", "verified": True}],
    }
    ok(ingest(db, "customers", partner))
    # The shop's record says Marc uses the household phone Alicia gave.
    shared = {"source": "pos", "id": "P-1", "phones": ["+33612345678"]}
    outcome = ok(ingest(db, "customers", shared)).outcomes[0]
    assert active_customers(db) == 2
    assert any("different verified emails" in w for w in outcome.warnings)
    with db.read() as s:
        candidate = s.scalars(select(MatchCandidate)).one()
        assert candidate.status == "pending"
        assert any("verified" in r for r in candidate.reasons)
        # The phone stays with its first owner.
        owner = s.scalar(select(Identifier.customer_id).where(Identifier.kind == "phone"))
        alicia_id = s.scalar(select(Identifier.customer_id).where(Identifier.value == "alicia@example.com"))
        assert owner == alicia_id


def test_duplicates_inside_one_batch_become_one_client(db):
    records = [
        {"source": "shopify", "id": "1", "emails": ["sam@example.com"]},
        {"source": "pos", "id": "9", "phones": ["+14155550123"]},
        {"source": "loyalty", "id": "L1", "emails": ["sam@example.com"], "phones": ["+14155550123"]},
    ]
    result = ok(ingest(db, "customers", *records))
    ids = {o.id for o in result.outcomes}
    assert len(ids) == 1
    assert active_customers(db) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Identifier)) == 5


def test_replaying_a_record_changes_nothing(db):
    ok(
        ingest(
            db,
            "customers",
            alicia(consent=[{"channel": "email", "granted": True, "recorded_at": "2026-01-01T00:00:00Z"}]),
        )
    )
    again = ok(
        ingest(
            db,
            "customers",
            alicia(consent=[{"channel": "email", "granted": True, "recorded_at": "2026-01-01T00:00:00Z"}]),
        )
    )
    assert again.outcomes[0].status == "unchanged"


def test_consent_keeps_the_newest_decision_per_channel_with_source_and_time(db):
    seed_reference(db)
    ok(
        ingest(
            db,
            "customers",
            alicia(consent=[{"channel": "sms", "granted": True, "recorded_at": "2026-03-01T00:00:00Z"}]),
        )
    )
    ok(
        ingest(
            db,
            "customers",
            {
                "source": "pos",
                "id": "P1",
                "emails": ["alicia@example.com"],
                "consent": [{"channel": "sms", "granted": False, "recorded_at": "2026-04-01T00:00:00Z"}],
            },
        )
    )
    ok(
        ingest(
            db,
            "customers",
            {
                "source": "crm",
                "id": "C1",
                "emails": ["alicia@example.com"],
                "consent": [{"channel": "sms", "granted": True, "recorded_at": "2026-02-01T00:00:00Z"}],
            },
        )
    )  # older: ignored
    with db.read() as s:
        consent = s.scalars(select(Consent)).one()
    assert (consent.granted, consent.source, consent.recorded_at.isoformat()) == (
        False,
        "pos",
        "2026-04-01T00:00:00+00:00",
    )


def test_a_new_verified_email_sharing_a_phone_is_a_new_client_sent_to_review(db):
    first = ok(ingest(db, "customers", alicia())).outcomes[0].id
    partner = {
        "source": "shopify",
        "id": "2002",
        "first_name": "Marc",
        "last_name": "Moreau",
        "emails": [{"address": "marc@example.com", "verified": True}],
        "phones": ["+33612345678"],
    }
    out = ok(ingest(db, "customers", partner)).outcomes[0]
    assert out.status == "created" and out.id != first
    assert any("different verified emails" in w for w in out.warnings)
    with db.read() as s:
        assert s.scalar(select(Identifier.customer_id).where(Identifier.kind == "phone")) == first
        pair = s.scalars(select(MatchCandidate)).one()
    assert {pair.customer_id, pair.other_customer_id} == {first, out.id}
