"""The benchmark scripts keep working: every benchmark's code path, end to end, at toy size.

Nothing here asserts a duration — `make bench` reports those. What is asserted is what would make
a benchmark figure meaningless: records the API refuses, rows that do not read back like ingested
ones, a baseline that was not measured.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bench import bulk_import, harness, ingest_api, plan, read_360, records, scale
from rapport.commerce.models import Order
from rapport.customers import read
from rapport.customers.models import Customer
from rapport.customers.search import forget_vocabularies, search_clients
from rapport.db import Database
from rapport.identity.models import Identifier
from rapport.ingest.service import ingest_records
from rapport.money import format_money
from tests.conftest import IN_CI, PG_ADMIN_URL, TEST_NOW

TOY = plan.TOY


def quiet(_message: str) -> None:
    pass


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An engine the benchmark creates its own databases on, named apart from a real run's."""
    monkeypatch.setattr(harness, "VAR", tmp_path / "var")
    monkeypatch.setattr(harness, "PREFIX", f"rapport_benchtest_{os.getpid()}")
    monkeypatch.setattr(harness, "PG_ADMIN_URL", PG_ADMIN_URL)
    if request.param == "postgresql":
        reason = harness.postgresql_unavailable()
        if reason:
            if IN_CI:
                pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
            pytest.skip(reason)
    yield request.param


engines = pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@engines
def test_the_batch_api_benchmark_gets_every_record_accepted_and_measures_both_baselines(engine: str) -> None:
    customers, orders = ingest_api.run(engine, TOY, quiet)

    assert customers.measure.detail["records"] == TOY.ingest_customers
    assert orders.measure.detail["records"] == TOY.ingest_orders
    for figure in (customers, orders):
        assert figure.measure.detail["rejected"] == 0, figure.notes
        assert figure.measure.value > 0
        baselines = {b.name: b.measure for b in figure.baselines}
        assert set(baselines) == {"raw engine", "trivial endpoint"}
        assert all(m.value > 0 for m in baselines.values())
        assert baselines["raw engine"].detail["rows"] > figure.measure.detail["records"]  # children, timeline
    assert customers.measure.detail["merges"] > 0  # records linking two existing clients really merged them


@engines
def test_the_import_benchmark_imports_both_files_without_a_reject(engine: str) -> None:
    customers, events = bulk_import.run(engine, TOY, quiet)

    assert customers.measure.detail["rows"] == TOY.import_customers
    assert events.measure.detail["rows"] == TOY.import_events
    for figure in (customers, events):
        assert figure.measure.detail["rejected_rows"] == 0, figure.notes
        assert figure.baselines[0].name == "raw engine" and figure.baselines[0].measure.value > 0


@engines
def test_the_read_benchmark_reports_percentiles_beside_the_trivial_endpoint(engine: str) -> None:
    try:
        three_sixty, search, page, weight, fragment = read_360.run(engine, TOY, quiet)
    finally:
        customers, orders = TOY.read_size(engine)
        spec = scale.ScaleSpec(customers, orders, products=500)
        harness.drop_database(harness.pg_url(spec.name) if engine == "postgresql" else f"sqlite:///{harness.VAR}/x")

    for figure in (three_sixty, search, page, fragment):
        d = figure.measure.detail
        assert d["n"] > 0 and d["p50"] <= d["p95"] <= d["p99"] == figure.measure.value
        assert figure.baselines[0].name == "trivial endpoint"
    assert three_sixty.measure.detail["n"] == TOY.read_samples
    assert search.measure.detail["found"] > 0
    assert fragment.measure.detail["n"] == search.measure.detail["n"]
    assert weight.measure.unit == "KB" and weight.measure.detail["files"] >= 2  # app.css, htmx, the page's own


def test_a_client_book_has_heavy_clients_clients_without_orders_and_exactly_the_orders_asked_for() -> None:
    counts = scale.order_counts(random.Random(1), 2_000, 20_000)

    assert sum(counts) == 20_000
    assert sum(1 for c in counts if c >= scale.HEAVY_ORDERS) > 50
    assert 0.15 < sum(1 for c in counts if c == 0) / len(counts) < 0.25


def test_order_summaries_show_amounts_exactly_as_rapport_formats_them() -> None:
    rng = random.Random(3)
    for _ in range(500):
        minor, currency = rng.randrange(0, 10**9), rng.choice(("USD", "EUR", "GBP", "JPY"))
        assert scale._money(minor, currency) == format_money(minor, currency)


def test_generated_rows_read_back_and_resolve_like_ingested_ones(db: Database) -> None:
    spec = scale.ScaleSpec(customers=40, orders=300, products=60)
    rows = scale.fill(db, spec, anchor=TEST_NOW)
    assert rows["sales_order"] == 300

    with db.read() as session:
        busiest = session.execute(
            select(Order.customer_id, func.count())
            .where(Order.customer_id.is_not(None), Order.status != "cancelled")
            .group_by(Order.customer_id)
            .order_by(func.count().desc())
        ).first()
        assert busiest is not None
        cid, placed = busiest
        assert cid is not None
        view = read.client_360(session, cid)
        merged_away = session.scalar(select(Customer.id).where(Customer.status == "merged"))
        person = session.execute(select(Customer.first_name, Customer.last_name).where(Customer.id == cid)).one()
        idents = {
            kind: (namespace, value)
            for kind, namespace, value in session.execute(
                select(Identifier.kind, Identifier.namespace, Identifier.value).where(Identifier.customer_id == cid)
            )
        }
        clients_before = session.scalar(select(func.count()).select_from(Customer)) or 0
    assert view.kpis.order_count == placed
    times = [e.occurred_at for e in view.timeline.entries]
    assert times == sorted(times, reverse=True) and view.timeline.entries

    # Orders naming the client by any identifier the generator wrote land on that client.
    refs: list[dict[str, Any]] = [{"source": idents["external"][0], "id": idents["external"][1]}]
    if "email" in idents:
        refs.append({"email": idents["email"][1].upper()})
    if "phone" in idents:
        refs.append({"phone": records.national_format(idents["phone"][1]), "country": _region(idents["phone"][1])})
    sku = records.products(spec.products, seed=spec.seed)[0].sku
    orders = [
        {"source": "web", "id": f"check-{i}", "channel": "online", "currency": "EUR", "customer": ref,
         "placed_at": TEST_NOW.isoformat(), "lines": [{"sku": sku, "quantity": 1, "unit_price": "10.00"}]}
        for i, ref in enumerate(refs)
    ]  # fmt: skip
    result = ingest_records(db, "orders", orders)
    assert [o.status for o in result.outcomes] == ["created"] * len(refs)
    # A new client after the bulk load gets a fresh id (PostgreSQL sequences were moved past the data).
    newcomer = ingest_records(db, "customers", [{"source": "web", "id": "new-1", "emails": ["new@example.com"]}])
    assert newcomer.outcomes[0].status == "created"
    with db.read() as session:
        owners = set(session.scalars(select(Order.customer_id).where(Order.source == "web")))
        assert owners == {cid}
        assert session.scalar(select(func.count()).select_from(Customer)) == clients_before + 1
        assert merged_away is not None and read.client_360(session, merged_away).resolved_from == merged_away
        forget_vocabularies()
        try:
            hits = search_clients(session, f"{person.first_name} {person.last_name}", limit=50)
        finally:
            forget_vocabularies()
    assert cid in {h.id for h in hits}


def _region(e164: str) -> str:
    import phonenumbers

    return str(phonenumbers.region_code_for_number(phonenumbers.parse(e164)))


@engines
def test_the_tasks_benchmark_sweeps_twice_and_sees_every_event_become_a_task(engine: str) -> None:
    from bench import tasks

    sweep, latency = tasks.run(engine, TOY, quiet)

    assert sweep.measure.detail["second_run_tasks"] == 0  # the sweep is idempotent
    assert sweep.measure.detail["tasks"] > 0
    assert latency.measure.detail["samples"] == TOY.tasks_latency_samples


@engines
def test_the_outreach_benchmark_sends_every_message_once_and_sees_every_reply_in_its_thread(engine: str) -> None:
    from bench import outreach

    throughput, inbound = outreach.run(engine, TOY, quiet)

    assert throughput.measure.detail["messages"] == TOY.outreach_messages  # all sent, each once (checked inside)
    assert throughput.baselines[0].measure.value > 0
    assert inbound.measure.detail["samples"] == TOY.outreach_inbound_samples
