"""Benchmark 4 — next actions: the daily sweep, and an event's task showing up.

* **Sweep** (``rapport tasks generate``, :func:`rapport.tasks.sweep.generate`): every rule over
  every client. PostgreSQL: the 360 loader's data set at 1,000,000 clients (target < 2 min);
  SQLite: the 20,000-client demo, loaded through the ingestion API like ``make run`` (target
  < 5 s). Tasks are cleared first; the sweep runs twice, and the second run must raise nothing.
* **Event to task visible**: the app serves the same data; for one client at a time a try-on is
  posted to ``/api/v1/ingest/events`` and ``/api/v1/tasks?customer_id=`` polled until its follow-up
  task is listed (target p95 < 1 s). The clients chosen consent to contact and have no live task,
  so the try-on rule raises a task for each (the figure would be meaningless otherwise: every
  sample must see its task).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, or_, select, text

from bench import harness, scale
from bench.harness import Log
from bench.plan import Plan
from bench.report import Figure, Measure, Target
from rapport.customers.models import Consent, Customer
from rapport.db import Database, make_engine
from rapport.identity.models import Identifier
from rapport.inventory.models import Location
from rapport.tasks.models import Task
from rapport.tasks.sweep import SweepReport, generate

SWEEP_TARGET = {
    "postgresql": Target("< 120 s", 120.0, higher_is_better=False),
    "sqlite": Target("< 5 s", 5.0, higher_is_better=False),
}
LATENCY_TARGET = Target("p95 < 1,000 ms", 1000.0, higher_is_better=False)
#: Polls of the task list while waiting for a sample's task.
POLL_EVERY = 0.01
GIVE_UP = 10.0


def demo_database(customers: int, log: Log) -> str:
    """An SQLite file holding the demo retailer at ``customers`` people (loaded once per schema)."""
    path = harness.VAR / f"demo-{customers}.db"
    marker = path.with_suffix(".marker")
    wanted = f"demo customers={customers} schema={scale.schema_head()}"
    url = f"sqlite:///{path}"
    if path.exists() and marker.exists() and marker.read_text().strip() == wanted:
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm"), marker):
        stale.unlink(missing_ok=True)
    log(f"tasks/sqlite: loading the demo ({customers:,} people) into {path}")
    started = time.perf_counter()
    env = {**os.environ, **harness.rapport_env(url)}
    script = [sys.executable, "-m", "rapport.cli"]
    subprocess.run([*script, "db", "upgrade"], cwd=harness.ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*script, "demo", "--customers", str(customers)], cwd=harness.ROOT, env=env, check=True, capture_output=True
    )
    marker.write_text(wanted)
    log(f"tasks/sqlite: demo loaded in {time.perf_counter() - started:.0f} s")
    return url


def clear_tasks(db: Database) -> None:
    with db.write() as session:
        session.execute(text("DELETE FROM task"))


def timed_sweep(db: Database) -> SweepReport:
    return generate(db)


def sweep_figure(engine: str, size: str, first: SweepReport, second: SweepReport) -> Figure:
    per_type = ", ".join(f"{t.type} {t.created:,} ({t.seconds:.1f} s)" for t in first.types.values())
    notes = [
        f"first run raised {first.created:,} tasks from {first.candidates:,} candidates: {per_type}",
        f"second run (nothing new to raise) took {second.seconds:.1f} s and raised {second.created:,}",
    ]
    skipped: Counter[str] = Counter()
    for line in first.types.values():
        skipped.update(line.skipped)
    if skipped:
        notes.append("not raised: " + ", ".join(f"{why} {n:,}" for why, n in skipped.most_common()))
    return Figure(
        bench="tasks", engine=engine, name="daily task sweep", size=size,
        measure=Measure(first.seconds, "s", {"seconds": first.seconds, "tasks": first.created,
                                              "second_run_seconds": second.seconds,
                                              "second_run_tasks": second.created}),
        target=SWEEP_TARGET[engine], notes=notes,
    )  # fmt: skip


def latency_clients(db: Database, n: int, rng: random.Random) -> list[tuple[int, str]]:
    """Up to ``n`` clients (id, an email) who consent to contact, have someone to see their tasks
    (an associate or a home store's team) and have no task yet."""
    with db.read() as session:
        rows = session.execute(
            select(Customer.id, Identifier.value)
            .join(Identifier, (Identifier.customer_id == Customer.id) & (Identifier.kind == "email"))
            .where(
                Customer.status == "active",
                or_(Customer.assigned_associate_id.is_not(None), Customer.home_location_id.is_not(None)),
                exists().where(Consent.customer_id == Customer.id, Consent.granted.is_(True)),
                ~exists().where(Task.customer_id == Customer.id),
            )
            .limit(20 * n)
        ).all()
    chosen: dict[int, str] = {}
    for cid, email in rng.sample(rows, min(len(rows), 4 * n)):
        chosen.setdefault(cid, email)
    return list(chosen.items())[:n]


def event_latency(engine: str, url: str, size: str, samples: int, log: Log) -> Figure:
    db = Database(make_engine(url))
    rng = random.Random("bench-tasks")
    try:
        clients = latency_clients(db, samples, rng)
        with db.read() as session:
            store, currency = session.execute(
                select(Location.code, Location.currency).where(Location.kind == "store").limit(1)
            ).one()
    finally:
        db.engine.dispose()
    if len(clients) < samples:
        raise RuntimeError(f"only {len(clients)} clients without tasks who consent to contact; need {samples}")
    token = harness.create_token(url, "bench-tasks")
    latencies: list[float] = []
    app = harness.Server("rapport.app:create_app", factory=True, env=harness.rapport_env(url), name=f"tasks-{engine}")
    with app as server, harness.client(server, token) as http:
        # A product of a new style: no client has bought it, so every try-on calls for a follow-up.
        sku = f"BENCH-TRYON-{os.getpid()}"
        product = {"sku": sku, "style_code": sku, "name": "Bench trench coat", "category": "coats",
                   "price": "450.00", "currency": currency}  # fmt: skip
        created = http.post("/api/v1/ingest/products", json=product)
        if created.status_code >= 300:
            raise RuntimeError(f"product refused ({created.status_code}): {created.text[:300]}")
        log(f"tasks/{engine}: {samples} try-ons, each until its follow-up task is listed")
        for i, (cid, email) in enumerate(clients):
            event = {
                "source": "pos", "id": f"bench-try-on-{os.getpid()}-{i}", "type": "try_on", "sku": sku,
                "store": store, "customer": {"email": email},
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            }  # fmt: skip
            started = time.perf_counter()
            response = http.post("/api/v1/ingest/events", json=event)
            if response.status_code >= 300:
                raise RuntimeError(f"event refused ({response.status_code}): {response.text[:300]}")
            while True:
                listed = http.get("/api/v1/tasks", params={"customer_id": cid, "type": "try_on_follow_up"})
                if listed.status_code != 200:
                    raise RuntimeError(f"task list answered {listed.status_code}: {listed.text[:300]}")
                if listed.json().get("tasks"):
                    break
                if time.perf_counter() - started > GIVE_UP:
                    raise RuntimeError(f"no task for client {cid} {GIVE_UP:.0f} s after its try-on")
                time.sleep(POLL_EVERY)
            latencies.append(time.perf_counter() - started)
    ms = sorted(x * 1000 for x in latencies)
    detail = {"p50": harness.percentile(ms, 50), "p95": harness.percentile(ms, 95), "p99": harness.percentile(ms, 99),
              "samples": float(len(ms))}  # fmt: skip
    return Figure(
        bench="tasks", engine=engine, name="event to task visible", size=size,
        measure=Measure(detail["p95"], "ms", detail), target=LATENCY_TARGET,
        notes=[f"{len(ms)} try-ons posted one at a time; the task list polled every {POLL_EVERY * 1000:.0f} ms; "
               "includes the POST and the GET"],
    )  # fmt: skip


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    if engine == "postgresql":
        spec = scale.ScaleSpec(plan.tasks_customers, plan.tasks_orders, products=2_000)
        url = scale.ensure(engine, spec, log).url
        size = f"{spec.customers:,} clients, {spec.orders:,} orders"
    else:
        url = demo_database(plan.tasks_demo_customers, log)
        size = f"the demo: {plan.tasks_demo_customers:,} people"
    db = Database(make_engine(url))
    try:
        clear_tasks(db)
        log(f"tasks/{engine}: sweep over {size}")
        first = timed_sweep(db)
        second = timed_sweep(db)
        log(f"tasks/{engine}: sweep {first.seconds:.1f} s, {first.created:,} tasks; again {second.seconds:.1f} s")
    finally:
        db.engine.dispose()
    figures = [sweep_figure(engine, size, first, second)]
    figures.append(event_latency(engine, url, size, plan.tasks_latency_samples, log))
    return figures


__all__ = ["run"]
