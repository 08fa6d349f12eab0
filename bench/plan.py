"""How big each benchmark runs: the full sizes the targets are stated at, and ``--quick`` (about 1/20)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    mode: str
    #: Batch API: customer records then order records, sent in batches of ``batch``.
    ingest_customers: int = 20_000
    ingest_orders: int = 20_000
    batch: int = 1_000
    #: Clients posting batches at once (an integration's workers, webhooks arriving together).
    ingest_clients: int = 2
    #: Bulk import: rows of a customers CSV, then of an events JSONL file.
    import_customers: int = 50_000
    import_events: int = 100_000
    #: Records per import batch; 0: the importer's default (what `rapport import` does).
    import_batch: int = 0
    #: 360 read: the data set's size, and how many requests are measured.
    read_customers: int = 100_000
    read_orders: int = 1_000_000
    #: SQLite 360 data set, when loading the full size there is not worth it (None: same as PostgreSQL).
    sqlite_read_customers: int | None = None
    sqlite_read_orders: int | None = None
    read_samples: int = 1_000
    search_samples: int = 500
    warmup: int = 100
    #: Next actions: the sweep's data set on PostgreSQL, the demo's size on SQLite, event-to-task samples.
    tasks_customers: int = 1_000_000
    tasks_orders: int = 2_000_000
    tasks_demo_customers: int = 20_000
    tasks_latency_samples: int = 200
    #: Inventory: the large network (PostgreSQL; SKUs as styles of ``inventory_sizes`` sizes, a stock
    #: row at every location) and the demo's catalogue scale (both engines).
    inventory_skus: int = 50_000
    inventory_sizes: int = 8
    inventory_locations: int = 200
    inventory_demo_catalogue: float = 1.0
    #: Hot SKU: clients racing for the last units of one SKU, per round, on a pool of connections.
    inventory_hot_clients: int = 500
    inventory_hot_units: int = 100
    inventory_hot_rounds: int = 20
    inventory_connections: int = 80
    #: Reservations on distinct SKUs: the thread counts tried, seconds each; style look-ups measured.
    inventory_threads: tuple[int, ...] = (4, 8, 16)
    inventory_seconds: float = 5.0
    #: Each thread count is measured this many times (with its baseline) and the best kept.
    inventory_passes: int = 2
    inventory_lookups: int = 500
    #: Outreach: messages queued then sent by two worker processes; inbound webhook samples.
    outreach_messages: int = 4_000
    outreach_clients: int = 500
    outreach_workers: int = 2
    outreach_inbound_samples: int = 200
    #: A phase that runs longer than this stops early and reports the rate over what it did, so a
    #: slow build still finishes `make bench` in bounded time.
    phase_cap_seconds: float = 60.0

    def read_size(self, engine: str) -> tuple[int, int]:
        if engine == "sqlite" and self.sqlite_read_customers and self.sqlite_read_orders:
            return self.sqlite_read_customers, self.sqlite_read_orders
        return self.read_customers, self.read_orders


FULL = Plan(mode="full")
QUICK = Plan(
    mode="quick",
    ingest_customers=1_000,
    ingest_orders=1_000,
    import_customers=2_500,
    import_events=5_000,
    read_customers=5_000,
    read_orders=50_000,
    read_samples=300,
    search_samples=150,
    warmup=30,
    tasks_customers=50_000,
    tasks_orders=100_000,
    tasks_demo_customers=2_000,
    tasks_latency_samples=50,
    inventory_skus=4_000,
    inventory_locations=50,
    inventory_hot_rounds=5,
    inventory_seconds=2.0,
    inventory_passes=1,
    inventory_lookups=200,
    outreach_messages=600,
    outreach_clients=100,
    outreach_inbound_samples=50,
    phase_cap_seconds=30.0,
)
#: For the smoke tests: every code path, at toy size.
TOY = Plan(
    mode="toy",
    ingest_customers=60,
    ingest_orders=40,
    batch=25,
    import_customers=50,
    import_events=60,
    import_batch=25,
    read_customers=60,
    read_orders=300,
    read_samples=20,
    search_samples=10,
    warmup=3,
    tasks_customers=60,
    tasks_orders=300,
    tasks_demo_customers=30,
    tasks_latency_samples=3,
    inventory_skus=80,
    inventory_locations=6,
    inventory_demo_catalogue=0.05,
    inventory_hot_clients=12,
    inventory_hot_units=5,
    inventory_hot_rounds=2,
    inventory_connections=4,
    inventory_threads=(2,),
    inventory_seconds=0.3,
    inventory_passes=1,
    inventory_lookups=5,
    outreach_messages=40,
    outreach_clients=10,
    outreach_inbound_samples=3,
    phase_cap_seconds=60.0,
)
