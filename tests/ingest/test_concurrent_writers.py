"""Two writers racing for the same new client (two webhooks about one first purchase) both land."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from rapport.customers.models import Customer
from rapport.identity.models import Identifier
from rapport.ingest.service import ingest_records
from tests.factories import seed_reference


def test_records_racing_for_one_new_identifier_end_on_one_client(db):
    seed_reference(db)
    start = threading.Barrier(2)
    results = {}

    def send(source: str) -> None:
        records = [{"source": source, "id": f"{source}-{n}", "emails": [f"race{n}@example.com"]} for n in range(200)]
        start.wait()
        results[source] = ingest_records(db, "customers", records)

    threads = [threading.Thread(target=send, args=(s,)) for s in ("shopify", "pos")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.rejected == 0 for r in results.values()), [o.errors for r in results.values() for o in r.outcomes][:3]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active")) == 200
        emails = s.scalar(select(func.count(func.distinct(Identifier.customer_id))).where(Identifier.kind == "email"))
        assert emails == 200
