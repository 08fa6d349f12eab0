"""Probable duplicates go to a review list with a score and reasons — never merged silently."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from rapport.customers.models import Customer
from rapport.identity.models import MatchCandidate, ScanPending
from rapport.ingest.service import ingest_records
from tests.factories import ingest, ok


def person(pid, first, last, **extra):
    return {"source": "pos", "id": pid, "first_name": first, "last_name": last, **extra}


def candidates(db):
    with db.read() as s:
        return s.scalars(select(MatchCandidate).order_by(MatchCandidate.id)).all()


def test_a_typo_in_the_name_with_the_same_birth_date_and_address_is_proposed_not_merged(db):
    home = [{"line1": "12 Rue du Bac", "postal_code": "75007", "country": "FR"}]
    ok(
        ingest(
            db,
            "customers",
            person("1", "Françoise", "Lemaire", birth_date="1971-02-03", addresses=home, emails=["fl@example.com"]),
        )
    )
    ok(
        ingest(
            db,
            "customers",
            person(
                "2",
                "Francoise",
                "Lemaitre",
                birth_date="1971-02-03",
                addresses=home,
                emails=["francoise.lemaitre@example.org"],
            ),
        )
    )
    [c] = candidates(db)
    assert c.status == "pending" and c.score >= 90
    assert any("alike" in r for r in c.reasons)
    assert "same birth date 1971-02-03" in c.reasons
    assert any(r.startswith("same address 12 rue du bac") for r in c.reasons)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active")) == 2


def test_a_phone_one_digit_off_with_the_same_name_is_proposed(db):
    ok(ingest(db, "customers", person("1", "Marco", "Rossi", phones=["+39 333 123 4567"])))
    ok(ingest(db, "customers", person("2", "Marco", "Rossi", phones=["+39 333 123 4568"])))
    [c] = candidates(db)
    assert any("differ by one digit" in r for r in c.reasons)


def test_same_name_alone_or_similar_evidence_with_different_names_is_not_a_candidate(db):
    ok(ingest(db, "customers", person("1", "John", "Smith", birth_date="1980-01-01")))
    ok(ingest(db, "customers", person("2", "John", "Smith", birth_date="1991-07-07")))
    ok(ingest(db, "customers", person("3", "Mary", "Jones", birth_date="1980-01-01")))
    assert candidates(db) == []


def test_a_candidate_found_in_the_same_batch_is_proposed_once(db):
    home = [{"line1": "1 Main St", "postal_code": "10001", "country": "US"}]
    ok(
        ingest(
            db,
            "customers",
            person("1", "Aisha", "Khan", birth_date="1990-09-09", addresses=home),
            person("2", "Aysha", "Khan", birth_date="1990-09-09", addresses=home),
        )
    )
    assert len(candidates(db)) == 1


def test_the_scan_runs_off_the_write_path_from_a_durable_queue(db):
    from rapport.identity import candidates as scanning
    from rapport.identity.models import ScanPending
    from rapport.ingest.service import ingest_records

    home = [{"line1": "3 Via Roma", "postal_code": "20121", "country": "IT"}]
    ingest_records(
        db,
        "customers",
        [
            person("1", "Giulia", "Bianchi", birth_date="1992-12-01", addresses=home),
            person("2", "Giullia", "Bianchi", birth_date="1992-12-01", addresses=home),
        ],
    )
    with db.read() as s:
        assert len(s.scalars(select(ScanPending)).all()) == 2  # queued with the clients, not yet scanned
    assert candidates(db) == []
    assert scanning.drain(db) == 1
    assert len(candidates(db)) == 1
    with db.read() as s:
        assert s.scalars(select(ScanPending)).all() == []
    assert scanning.drain(db) == 0


def test_the_background_drainer_scans_after_a_batch_commits(db):
    import time

    from rapport.identity.candidates import BackgroundDrainer
    from rapport.ingest.service import ingest_records

    drainer = BackgroundDrainer(lambda: db, quiet=0.1)
    drainer.start()
    try:
        ingest_records(
            db,
            "customers",
            [
                person("1", "Sven", "Larsson", birth_date="1980-02-02", phones=["+46 70 123 45 67"]),
                person("2", "Sven", "Larson", birth_date="1980-02-02"),
            ],
        )
        deadline = time.monotonic() + 10
        while not candidates(db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        drainer.stop()
    assert len(candidates(db)) == 1


def test_the_background_drainer_stops_scanning_while_other_batches_arrive(db):
    from rapport import events
    from rapport.identity import candidates as scans
    from rapport.identity.candidates import BackgroundDrainer

    seen: list[int] = []
    original = scans.scan

    def scan_and_see_an_order_batch(session, ids):
        seen.append(len(ids))
        with db.write() as other:  # an order batch commits while this scan batch runs
            events.publish(other, "orders.ingested", ids=[1])
        return original(session, ids)

    people = [person(str(i), "Client", f"Number{i}") for i in range(600)]
    ingest_records(db, "customers", people)  # no drainer yet: 600 clients queued
    drainer = BackgroundDrainer(lambda: db, quiet=60, patience=0.6)
    drainer.BATCH = 250
    scans.scan = scan_and_see_an_order_batch
    try:
        drainer.start()  # no lull of 60 s comes: it scans when its patience runs out...
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert seen == [250]  # ...one batch, then, orders arriving, it waits its patience again
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        drainer.stop()
        scans.scan = original
    assert seen == [250, 250, 100]  # and the queue empties all the same
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ScanPending)) == 0
