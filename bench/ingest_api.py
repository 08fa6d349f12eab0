"""Benchmark 1 — records/s through the batch API with identity resolution, over real HTTP.

A fresh database, a real ``uvicorn`` process, a token made with ``rapport tokens create``, and
``Plan.ingest_clients`` clients (2: integrations and webhooks arrive concurrently) each posting
batches of 1,000 records, the next as soon as the last is answered: customer records first
(about 15% share an identifier with an earlier record, some linking two existing clients so a
real merge happens), then orders that refer to those clients by external id, email or phone.

Baselines from the same run: the raw engine writing exactly the rows Rapport wrote (taken back
out of the database and written again into a fresh one with COPY / executemany), and a trivial
FastAPI endpoint receiving the same request bodies.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import harness, records
from bench.harness import Log
from bench.plan import Plan
from bench.report import Baseline, Figure, Measure, Target

TARGET = Target(">= 2,000 records/s", 2_000, higher_is_better=True)
PRODUCTS = 500
REFERENCE_TABLES = ("location", "associate", "product")


@dataclass
class Phase:
    """One kind of record sent in batches: what was sent, how long it took, what came back."""

    kind: str
    bodies: list[bytes]
    sizes: list[int]
    seconds: float = 0.0
    sent: int = 0  # batches
    responses: list[bytes] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def records(self) -> int:
        return sum(self.sizes[: self.sent])

    def outcomes(self) -> tuple[Counter[str], list[str]]:
        counts: Counter[str] = Counter()
        errors: list[str] = []
        for raw in self.responses:
            body = json.loads(raw)
            counts.update(body.get("counts", {}))
            for r in body.get("results", []):
                if r.get("status") == "rejected" and len(errors) < 3:
                    errors.append(json.dumps(r.get("errors")))
        return counts, errors


def batches(recs: list[dict[str, Any]], size: int) -> tuple[list[bytes], list[int]]:
    chunks = [recs[i : i + size] for i in range(0, len(recs), size)]
    return [json.dumps({"records": c}).encode() for c in chunks], [len(c) for c in chunks]


def post_all(server: Any, token: str, phase: Phase, cap: float, *, clients: int = 1, keep: bool = True) -> None:
    """Send the phase's batches from ``clients`` keep-alive connections at once, each posting its next
    batch as soon as the previous one is answered; stop taking new batches after ``cap`` seconds."""
    started = time.perf_counter()
    url = f"/api/v1/ingest/{phase.kind}/batch"
    headers = {"content-type": "application/json"}
    taken = iter(range(len(phase.bodies)))
    lock = threading.Lock()
    answers: dict[int, bytes] = {}
    failures: list[str] = []

    def sender() -> None:
        with harness.client(server, token) as http:
            while not failures:
                with lock:
                    if time.perf_counter() - started > cap:
                        phase.stopped_early = len(answers) < len(phase.bodies)
                        return
                    i = next(taken, None)
                if i is None:
                    return
                response = http.post(url, content=phase.bodies[i], headers=headers)
                if response.status_code != 200:
                    failures.append(f"POST {url} answered {response.status_code}: {response.text[:500]}")
                    return
                with lock:
                    answers[i] = response.content if keep else b""

    threads = [threading.Thread(target=sender, name=f"bench-client-{n}") for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    phase.sent = len(answers)
    phase.sizes = [phase.sizes[i] for i in sorted(answers)]
    phase.bodies = [phase.bodies[i] for i in sorted(answers)]
    if keep:
        phase.responses = [answers[i] for i in sorted(answers)]


def seed_reference_over_http(http: Any) -> None:
    """Stores, associates and products, through the API: also warms the server's ingest path."""
    specs = records.products(PRODUCTS)
    for kind, recs in (
        ("locations", records.location_records()),
        ("associates", records.associate_records()),
        ("products", records.product_records(specs)),
    ):
        for body in batches(recs, 1000)[0]:
            r = http.post(f"/api/v1/ingest/{kind}/batch", content=body, headers={"content-type": "application/json"})
            if r.status_code != 200 or json.loads(r.content).get("rejected"):
                raise RuntimeError(f"seeding {kind} failed: {r.status_code} {r.text[:500]}")


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    specs = records.products(PRODUCTS)
    stream = records.customer_stream(plan.ingest_customers)
    orders = records.order_records(plan.ingest_orders, stream, specs)
    customers = Phase("customers", *batches(stream.records, plan.batch))
    order_phase = Phase("orders", *batches(orders, plan.batch))
    log(f"ingest/{engine}: {len(stream.records):,} customer records ({stream.shared:,} sharing an identifier, "
        f"{stream.linking:,} linking two clients), {len(orders):,} orders")  # fmt: skip

    url = harness.fresh_database(engine, harness.db_name("ingest"))
    raw_url = harness.fresh_database(engine, harness.db_name("ingest_raw"))
    try:
        db = harness.migrated(url)
        token = harness.create_token(url)
        rapport = harness.Server(
            "rapport.app:create_app", factory=True, env=harness.rapport_env(url), name=f"rapport-ingest-{engine}"
        )
        with rapport as server:
            with harness.client(server, token) as http:
                seed_reference_over_http(http)
            marks = [harness.max_ids(db)]
            post_all(server, token, customers, plan.phase_cap_seconds, clients=plan.ingest_clients)
            marks.append(harness.max_ids(db))
            post_all(server, token, order_phase, plan.phase_cap_seconds, clients=plan.ingest_clients)
            marks.append(harness.max_ids(db))
        counts = harness.row_counts(db)
        db.engine.dispose()
        log(f"ingest/{engine}: customers {customers.records / customers.seconds:,.0f}/s, "
            f"orders {order_phase.records / order_phase.seconds:,.0f}/s; measuring baselines")  # fmt: skip

        # The raw engine: the very rows Rapport inserted, written again into a fresh database.
        harness.migrated(raw_url).engine.dispose()
        harness.copy_reference(url, raw_url, REFERENCE_TABLES)
        raw: list[tuple[int, float]] = []
        for lo, hi in ((marks[0], marks[1]), (marks[1], marks[2])):
            dump = harness.dump_rows(url, lo, hi)
            raw.append((dump.rows, harness.write_rows(raw_url, dump)))

        # The trivial endpoint: the same bodies, the same client.
        trivial: list[float] = []
        with harness.Server("bench.trivial_app:app", name=f"trivial-ingest-{engine}") as server:
            for phase in (customers, order_phase):
                echo = Phase(phase.kind, phase.bodies[: phase.sent], phase.sizes[: phase.sent])
                post_all(server, token, echo, float("inf"), clients=plan.ingest_clients, keep=False)
                trivial.append(echo.seconds)
    finally:
        harness.drop_database(url)
        harness.drop_database(raw_url)

    how_raw = "COPY" if engine == "postgresql" else "executemany in one transaction"
    figures = []
    for phase, (raw_rows, raw_seconds), trivial_seconds in zip((customers, order_phase), raw, trivial, strict=True):
        outcome, errors = phase.outcomes()
        n = phase.records
        notes = [
            f"{n:,} records in {phase.sent} batches, {phase.seconds:.1f} s; outcomes "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.items()))
        ]
        if phase.kind == "customers":
            notes.append(
                f"{stream.shared:,} records shared an identifier with an earlier one, {stream.linking:,} linked two "
                f"clients; {counts['merge_record']:,} merges recorded"
            )
        if phase.stopped_early:
            notes.append(f"stopped after {plan.phase_cap_seconds:.0f} s (time cap); rate is over what was sent")
        if errors:
            notes.append("first rejections: " + "; ".join(errors))
        figures.append(Figure(
            bench="ingest", engine=engine, name=f"{phase.kind} via batch API",
            size=f"{n:,} records, batches of {plan.batch:,}, {plan.ingest_clients} client(s) at once",
            measure=Measure(n / phase.seconds, "records/s", {
                "records": n, "seconds": phase.seconds, "rejected": outcome.get("rejected", 0),
                "merges": counts["merge_record"] if phase.kind == "customers" else 0}),
            baselines=[
                Baseline("raw engine", f"{how_raw} of the same {raw_rows:,} rows Rapport wrote "
                         f"({raw_rows / raw_seconds:,.0f} rows/s)",
                         Measure(n / raw_seconds if raw_rows else math.nan, "records/s",
                                 {"rows": raw_rows, "seconds": raw_seconds})),
                Baseline("trivial endpoint", "FastAPI route parsing the same JSON bodies, same clients",
                         Measure(n / trivial_seconds, "records/s", {"seconds": trivial_seconds})),
            ],
            target=TARGET, notes=notes,
        ))  # fmt: skip
    return figures
