"""Benchmark 5 — unified inventory: no overselling under a rush, reservations per second, the stock look-up.

* **Hot SKU** (the target is PostgreSQL's; SQLite is measured too): per round one SKU at one store
  is set to its last ``inventory_hot_units`` (100) units, then ``inventory_hot_clients`` (500)
  client threads, released together on a barrier, each try to reserve one with
  :func:`rapport.inventory.stock.reserve`, each in its own unit of work, sharing a pool of
  ``inventory_connections`` (80: PostgreSQL allows 100). Every round must sell exactly 100,
  oversell none, and leave ``reserved`` equal to the row's active reservations; 20 rounds.
  Baseline, alternated round by round: the same threads and pool each running a trivial
  ``UPDATE stock_level SET reserved = reserved + 1 WHERE id = ?`` on that row.
* **Reservations per second on distinct SKUs**: N threads (4, 8, 16) each reserving one unit at a
  time of stock rows no other thread touches, one unit of work each, for a few seconds; the best N
  is reported (target on PostgreSQL >= 1,000/s). Baseline: the same threads, rows and seconds, one
  trivial ``UPDATE ... SET reserved = reserved + 1 WHERE id = ?`` per transaction. The client
  process's CPU per operation is reported beside both: the threads share one interpreter.
* **Stock look-up for a style** (:func:`rapport.inventory.availability.style_availability`: every
  size at every location, "here" a random store with its five nearest): p50 / p95 / p99 over a few
  hundred random styles in process, a session per call; target p99 < 30 ms, at the demo's size
  (both engines) and at 50,000 SKUs x 200 locations (PostgreSQL). Baseline: a bare indexed
  ``SELECT`` of the same stock rows, alternated with Rapport's call sample by sample.

The reservation benchmarks run on the large network on PostgreSQL and on the demo-sized set on
SQLite (:mod:`bench.inventory_data`); whatever they reserve is given back, so the cached sets stay
as built.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Engine, bindparam, func, select, text

from bench import harness
from bench.harness import Log
from bench.inventory_data import DataSet, NetworkSpec, demo_stock, network, restore
from bench.plan import Plan
from bench.report import Baseline, Figure, Measure, Target
from rapport.catalog.models import Product
from rapport.db import Database, make_engine
from rapport.inventory import stock
from rapport.inventory.availability import style_availability
from rapport.inventory.models import Location, Reservation, StockLevel
from rapport.runtime import gc_tuned

HOLD_FOR = timedelta(hours=2)
LOOKUP_TARGET = Target("p99 < 30 ms", 30.0, higher_is_better=False)
RATE_TARGET = Target(">= 1,000 reservations/s", 1000.0, higher_is_better=True)
WARMUP = 30
#: Connection slots left to everyone else on the PostgreSQL server.
SPARE_CONNECTIONS = 12
TRIVIAL_UPDATE = text("UPDATE stock_level SET reserved = reserved + 1 WHERE id = :id")


# -- shared by the write benchmarks -------------------------------------------------------------------


def free_connections() -> int:
    """Connection slots the PostgreSQL server has left for ordinary clients now."""
    rows = harness._pg_admin(
        "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int "
        "- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    )
    return int(rows[0][0])


@dataclass
class Clients:
    """The clients' database: a pool of ``connections``, all open."""

    db: Database
    connections: int


def clients(url: str, engine: str, wanted: int, notes: list[str]) -> Clients:
    """A pool of ``wanted`` connections (fewer if the server has not the slots), opened before any timing."""
    size = wanted
    if engine == "postgresql":
        size = max(2, min(wanted, free_connections() - SPARE_CONNECTIONS))
        if size < wanted:
            notes.append(f"only {size} connections (of {wanted} planned): the server's other clients hold the rest")
    db = Database(make_engine(url, pool_size=size, max_overflow=0, pool_timeout=600))
    opened = [db.engine.connect() for _ in range(size)]  # connect now, not inside a timed round
    for conn in opened:
        conn.close()
    return Clients(db, size)


def writer(db: Database) -> Engine:
    """The engine a write unit of work runs on (``BEGIN IMMEDIATE`` on SQLite), for the trivial baseline."""
    return db.engine.execution_options(sqlite_begin="IMMEDIATE") if db.dialect == "sqlite" else db.engine


def give_back_everything(db: Database) -> None:
    """Undo every reservation the benchmark made: ``reserved`` drops by each row's active ones, rows deleted.

    The cached data sets hold no reservations of their own, so this restores them exactly.
    """
    with db.write() as session:
        session.execute(
            text(
                "UPDATE stock_level SET reserved = stock_level.reserved - r.q FROM "
                "(SELECT product_id, location_id, sum(quantity) AS q FROM stock_reservation WHERE status = 'active' "
                "GROUP BY product_id, location_id) AS r "
                "WHERE stock_level.product_id = r.product_id AND stock_level.location_id = r.location_id"
            )
        )
        session.execute(text("DELETE FROM stock_reservation"))


def inconsistent_rows(db: Database) -> int:
    """Stock rows holding reservations whose ``reserved`` is not their sum, or that promise more than on hand."""
    with db.read() as session:
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM (SELECT product_id, location_id, sum(quantity) AS q FROM stock_reservation "
                    "WHERE status = 'active' GROUP BY product_id, location_id) AS r JOIN stock_level s "
                    "ON s.product_id = r.product_id AND s.location_id = r.location_id "
                    "WHERE s.reserved <> r.q OR s.on_hand - s.reserved - s.safety_stock < 0"
                )
            ).scalar_one()
        )


def hold_one(db: Database, product_id: int, location_id: int) -> None:
    with db.write() as session:
        stock.reserve(session, [stock.Want(product_id, location_id, 1)], kind="hold",
                      expires_at=datetime.now(UTC) + HOLD_FOR)  # fmt: skip


def bump(db: Database, stock_id: int) -> None:
    with writer(db).begin() as conn:
        conn.execute(TRIVIAL_UPDATE, {"id": stock_id})


# -- hot SKU ------------------------------------------------------------------------------------------


@dataclass
class Round:
    seconds: float
    sold: int = 0
    short: int = 0
    errors: list[str] = field(default_factory=list)


def rush(threads: int, attempt: Callable[[], None]) -> Round:
    """``threads`` threads released together on a barrier, each calling ``attempt`` once."""
    started: list[float] = []
    gate = threading.Barrier(threads + 1, action=lambda: started.append(time.perf_counter()))
    out = Round(0.0)
    lock = threading.Lock()

    def client() -> None:
        gate.wait()
        try:
            attempt()
        except stock.OutOfStock:
            with lock:
                out.short += 1
            return
        except Exception as exc:  # counted and shown: a deadlock or a serialisation failure is a finding
            with lock:
                out.errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}")
            return
        with lock:
            out.sold += 1

    pool = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    gate.wait()
    for t in pool:
        t.join()
    out.seconds = time.perf_counter() - started[0]
    return out


def _stock_row(db: Database, stock_id: int) -> tuple[int, int, int, int, int]:
    """(on hand, reserved, safety stock, sum of active reservations, active reservations) of one row."""
    with db.read() as session:
        s = session.execute(
            select(StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
                   StockLevel.safety_stock).where(StockLevel.id == stock_id)
        ).one()  # fmt: skip
        held, count = session.execute(
            select(func.coalesce(func.sum(Reservation.quantity), 0), func.count()).where(
                Reservation.product_id == s.product_id, Reservation.location_id == s.location_id,
                Reservation.status == "active",
            )
        ).one()  # fmt: skip
    return s.on_hand, s.reserved, s.safety_stock, int(held), int(count)


def _set_row(db: Database, stock_id: int, on_hand: int, reserved: int, safety_stock: int) -> None:
    with db.write() as session:
        row = session.execute(
            select(StockLevel.product_id, StockLevel.location_id).where(StockLevel.id == stock_id)
        ).one()
        session.execute(
            text("DELETE FROM stock_reservation WHERE product_id = :p AND location_id = :l"),
            {"p": row.product_id, "l": row.location_id},
        )
        session.execute(
            text("UPDATE stock_level SET on_hand = :o, reserved = :r, safety_stock = :s WHERE id = :id"),
            {"o": on_hand, "r": reserved, "s": safety_stock, "id": stock_id},
        )


def hot_sku(engine: str, pool: Clients, plan: Plan, size: str, notes: list[str], log: Log) -> list[Figure]:
    rng, db = random.Random("bench-inventory-hot"), pool.db
    units, threads, rounds = plan.inventory_hot_units, plan.inventory_hot_clients, plan.inventory_hot_rounds
    with db.read() as session:
        rows = session.execute(
            select(StockLevel.id, StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand,
                   StockLevel.safety_stock)
            .join(Location, Location.id == StockLevel.location_id)
            .where(Location.kind == "store", StockLevel.reserved == 0)
            .order_by(StockLevel.id)
            .limit(2_000)
        ).all()  # fmt: skip
    chosen = rng.sample(rows, min(rounds, len(rows)))
    log(f"inventory/{engine}: hot SKU, {rounds} rounds of {threads} clients for the last {units} units")
    ours: list[Round] = []
    theirs: list[Round] = []
    checks: list[str] = []
    oversold = exact = 0
    try:
        for n in range(rounds):
            row = chosen[n % len(chosen)]
            _set_row(db, row.id, units, 0, 0)
            result = rush(threads, partial(hold_one, db, row.product_id, row.location_id))
            on_hand, reserved, safety, held, count = _stock_row(db, row.id)
            over = max(0, reserved + safety - on_hand, result.sold - units)
            oversold += over
            consistent = reserved == held == count == result.sold
            if not consistent:
                checks.append(f"round {n + 1}: reserved {reserved}, active reservations {count} ({held} units), "
                              f"sold {result.sold}")  # fmt: skip
            exact += int(consistent and over == 0 and result.sold == units and not result.errors)
            ours.append(result)
            _set_row(db, row.id, units, 0, 0)
            theirs.append(rush(threads, partial(bump, db, row.id)))
            _set_row(db, row.id, row.on_hand, 0, row.safety_stock)
    finally:
        for row in chosen:
            _set_row(db, row.id, row.on_hand, 0, row.safety_stock)
    sold = [r.sold for r in ours]
    errors = Counter(e for r in ours for e in r.errors)
    ms = [r.seconds * 1000 for r in ours]
    base_ms = [r.seconds * 1000 for r in theirs]
    connections = pool.connections
    label = f"hot SKU: last {units} units, {threads} clients"
    round_notes = [
        f"units sold per round: {', '.join(map(str, sold))} (exactly {units} wanted each round); oversold: {oversold}",
        f"{threads} client threads per round on {connections} pooled connections, released together on a barrier; "
        f"a round takes {harness.percentile(ms, 50):.0f} ms (p50), {max(ms):.0f} ms at most; "
        f"out-of-stock answers {sum(r.short for r in ours):,}",
        *checks,
        *(f"{n}× {e}" for e, n in errors.most_common(5)),
    ]
    correctness = Figure(
        bench="inventory", engine=engine, name=label, size=size,
        measure=Measure(float(exact), f"of {rounds} rounds exact",
                        {"rounds": rounds, "exact_rounds": exact, "oversold": oversold, "min_sold": min(sold),
                         "max_sold": max(sold), "errors": float(sum(errors.values())), "units": units,
                         "clients": threads, "connections": connections}),
        target=Target(f"{rounds}/{rounds} rounds sell exactly {units}, 0 oversold", float(rounds), True),
        notes=round_notes + notes,
    )  # fmt: skip
    attempts = threads * len(ours)
    rate = attempts / sum(r.seconds for r in ours)
    base_rate = threads * len(theirs) / sum(r.seconds for r in theirs)
    speed = Figure(
        bench="inventory", engine=engine, name=f"{label}: attempts/s", size=size,
        measure=Measure(rate, "attempts/s", {"attempts": attempts, "p50_round_ms": harness.percentile(ms, 50),
                                             "max_round_ms": max(ms)}),
        baselines=[Baseline("raw engine", f"the same {threads} threads and pool, each running one trivial "
                            "UPDATE stock_level SET reserved = reserved + 1 WHERE id = ? on the row in its own "
                            f"transaction, alternated with Rapport's rounds; a round takes "
                            f"{harness.percentile(base_ms, 50):.0f} ms (p50)",
                            Measure(base_rate, "attempts/s", {"p50_round_ms": harness.percentile(base_ms, 50)}))],
    )  # fmt: skip
    log(f"inventory/{engine}: hot SKU sold {sorted(set(sold))} per round, oversold {oversold}, {rate:,.0f} attempts/s")
    return [correctness, speed]


# -- reservations per second on distinct SKUs ------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    stock_id: int
    product_id: int
    location_id: int


def tickets(db: Database, wanted: int, rng: random.Random) -> list[list[Ticket]]:
    """Stock rows that can promise, each as many times as it can (at most 3), grouped by row, shuffled."""
    with db.read() as session:
        top = int(session.execute(select(func.max(StockLevel.id))).scalar_one() or 0)
    ids = list(range(1, top + 1)) if top <= 4 * wanted else rng.sample(range(1, top + 1), 4 * wanted)
    by_row: list[list[Ticket]] = []
    query = select(StockLevel.id, StockLevel.product_id, StockLevel.location_id,
                   StockLevel.on_hand - StockLevel.reserved - StockLevel.safety_stock).where(
        StockLevel.id.in_(bindparam("ids", expanding=True)))  # fmt: skip
    with db.read() as session:
        for offset in range(0, len(ids), 5_000):
            for sid, pid, lid, atp in session.execute(query, {"ids": ids[offset : offset + 5_000]}):
                if atp > 0:
                    by_row.append([Ticket(sid, pid, lid)] * min(atp, 3))
    rng.shuffle(by_row)
    return by_row


def deal(rows: list[list[Ticket]], threads: int, rng: random.Random) -> list[list[Ticket]]:
    """Each row to one thread only, so no two threads ever touch the same SKU at the same location."""
    hands: list[list[Ticket]] = [[] for _ in range(threads)]
    for i, row in enumerate(rows):
        hands[i % threads].extend(row)
    for hand in hands:
        rng.shuffle(hand)
    return hands


@dataclass
class Phase:
    done: int
    seconds: float
    #: CPU time of the client process (all its threads) over the phase.
    cpu_seconds: float = 0.0
    short: int = 0
    ran_out: int = 0
    errors: list[str] = field(default_factory=list)
    used: list[Ticket] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Client CPU per operation, in milliseconds."""
        return 1000 * self.cpu_seconds / self.done if self.done else 0.0


def sustained(hands: list[list[Ticket]], seconds: float, step: Callable[[Ticket], None]) -> Phase:
    """Each thread runs ``step`` over its own tickets, one after the other, until ``seconds`` have passed."""
    stop = threading.Event()
    started: list[float] = []
    gate = threading.Barrier(len(hands) + 1, action=lambda: started.append(time.perf_counter()))
    out = Phase(0, 0.0)
    lock = threading.Lock()

    def worker(hand: list[Ticket]) -> None:
        done = short = 0
        used: list[Ticket] = []
        errors: list[str] = []
        gate.wait()
        for ticket in hand:
            if stop.is_set():
                break
            try:
                step(ticket)
            except stock.OutOfStock:
                short += 1
                continue
            except Exception as exc:
                errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}")
                continue
            done += 1
            used.append(ticket)
        with lock:
            out.done += done
            out.short += short
            out.errors += errors
            out.used += used
            out.ran_out += 0 if stop.is_set() else 1

    pool = [threading.Thread(target=worker, args=(hand,), daemon=True) for hand in hands]
    for t in pool:
        t.start()
    cpu = time.process_time()
    gate.wait()
    stop.wait(seconds)
    stop.set()
    for t in pool:
        t.join()
    out.seconds = time.perf_counter() - started[0]
    out.cpu_seconds = time.process_time() - cpu
    return out


def take_back(db: Database, used: Sequence[Ticket]) -> None:
    """Undo the trivial baseline's increments."""
    counts = Counter(t.stock_id for t in used)
    if counts:
        with writer(db).begin() as conn:
            conn.execute(text("UPDATE stock_level SET reserved = reserved - :n WHERE id = :id"),
                         [{"id": sid, "n": n} for sid, n in counts.items()])  # fmt: skip


def distinct_skus(engine: str, pool: Clients, plan: Plan, size: str, notes: list[str], log: Log) -> Figure:
    rng, db = random.Random("bench-inventory-distinct"), pool.db
    top = max(plan.inventory_threads)
    rows = tickets(db, int(3_000 * plan.inventory_seconds) + 1_000, rng)
    ours: dict[int, Phase] = {}
    theirs: dict[int, Phase] = {}
    problems: list[str] = []
    counts = [n for n in plan.inventory_threads if n <= pool.connections]
    try:
        for run in range(plan.inventory_passes):  # the best pass of each: a shared machine's dips, not Rapport's
            for threads in counts:
                hands = deal(rows, threads, rng)
                log(f"inventory/{engine}: {threads} threads reserving distinct SKUs for {plan.inventory_seconds:.0f} s"
                    f" (pass {run + 1} of {plan.inventory_passes})")  # fmt: skip
                mine = sustained(hands, plan.inventory_seconds, lambda t: hold_one(db, t.product_id, t.location_id))
                bad = inconsistent_rows(db)
                if bad:
                    problems.append(f"{threads} threads: {bad} stock rows whose reserved is not their reservations")
                give_back_everything(db)
                base = sustained(hands, plan.inventory_seconds, lambda t: bump(db, t.stock_id))
                take_back(db, base.used)
                if threads not in ours or mine.rate > ours[threads].rate:
                    ours[threads] = mine
                if threads not in theirs or base.rate > theirs[threads].rate:
                    theirs[threads] = base
    finally:
        give_back_everything(db)
    best = max(ours, key=lambda n: ours[n].rate)
    per = ", ".join(f"{n} threads {p.rate:,.0f}/s" for n, p in ours.items())
    base_per = ", ".join(f"{n} threads {p.rate:,.0f}/s" for n, p in theirs.items())
    detail: dict[str, float] = {"threads": best, "reservations": ours[best].done, "seconds": ours[best].seconds,
                                "client_cpu_ms": ours[best].cpu_ms}  # fmt: skip
    for n, p in ours.items():
        detail[f"rate_{n}_threads"] = p.rate
    phase_notes = [
        f"each reservation its own unit of work: one unit of a SKU at one location no other thread touches; {per}; "
        f"the best, {best} threads, is reported (best of {plan.inventory_passes} passes each, alternated with the "
        "baseline's)",
        f"client CPU per operation at {best} threads (the threads share one interpreter): Rapport "
        f"{ours[best].cpu_ms:.2f} ms, the trivial UPDATE {theirs[best].cpu_ms:.2f} ms",
        *problems,
        *(f"{n} threads: {p.short} out of stock, {len(p.errors)} errors {p.errors[:2]}"
          for n, p in ours.items() if p.short or p.errors),
        *(f"{n} threads ran out of SKUs before the time was up" for n, p in ours.items() if p.ran_out),
    ]  # fmt: skip
    if top > pool.connections:
        phase_notes.append(f"thread counts above the pool's {pool.connections} connections skipped")
    trivial = Measure(theirs[best].rate, "updates/s", {"threads": best, "client_cpu_ms": theirs[best].cpu_ms})
    figure = Figure(
        bench="inventory", engine=engine, name="reservations/s, distinct SKUs", size=size,
        measure=Measure(ours[best].rate, "reservations/s", detail),
        baselines=[Baseline("raw engine", f"the same threads, SKUs and seconds, one trivial UPDATE stock_level SET "
                            f"reserved = reserved + 1 WHERE id = ? per transaction ({base_per}); ratio at {best} "
                            "threads", trivial)],
        target=RATE_TARGET if engine == "postgresql" else None,
        notes=phase_notes + notes,
    )  # fmt: skip
    log(f"inventory/{engine}: {per}; trivial UPDATE {base_per}")
    return figure


# -- the stock look-up --------------------------------------------------------------------------------


def lookups(engine: str, data: DataSet, plan: Plan, log: Log) -> Figure:
    """Rapport's look-up and the bare SELECT, alternated sample by sample (which goes first alternates
    too), on a warm server: a first pass reads every sampled style's rows once, and is reported."""
    rng = random.Random("bench-inventory-lookup")
    db = Database(make_engine(data.url))
    columns = (StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
               StockLevel.safety_stock)  # fmt: skip
    bare = select(*columns).where(StockLevel.product_id.in_(bindparam("ids", expanding=True)))
    try:
        with db.read() as session:
            styles = sorted(session.scalars(select(Product.style_code).distinct()).all())
            stores = list(session.scalars(select(Location.id).where(Location.kind == "store").order_by(Location.id)))
            warmup = min(WARMUP, plan.inventory_lookups)
            chosen = [(rng.choice(styles), rng.choice(stores)) for _ in range(plan.inventory_lookups + warmup)]
            by_colour: dict[str, dict[str | None, list[int]]] = {}
            for style, pid, colour in session.execute(
                select(Product.style_code, Product.id, Product.colour).where(
                    Product.style_code.in_(sorted({s for s, _ in chosen}))
                )
            ):
                by_colour.setdefault(style, {}).setdefault(colour, []).append(pid)
            # A style in several colours shows one at a time (the first, by name): the baseline reads the
            # same rows, those of that colour's SKUs.
            ids: dict[str, list[int]] = {}
            for style, colours in by_colour.items():
                named = sorted((c for c in colours if c), key=str.lower)
                ids[style] = colours[named[0]] if len(named) > 1 else [p for found in colours.values() for p in found]

        def ours(style: str, here: int) -> tuple[float, float]:
            started, cpu = time.perf_counter(), time.thread_time()
            with db.read() as session:
                view = style_availability(session, style, here_location_id=here)
            took, cpu = time.perf_counter() - started, time.thread_time() - cpu
            if len(view.sizes) != len(ids[style]):
                raise RuntimeError(f"{style}: {len(view.sizes)} sizes shown, {len(ids[style])} in the catalogue")
            return took, cpu

        def theirs(style: str) -> tuple[float, int]:
            started = time.perf_counter()
            with db.engine.connect() as conn:
                found = conn.execute(bare, {"ids": ids[style]}).all()
            return time.perf_counter() - started, len(found)

        log(f"inventory/{engine}: {plan.inventory_lookups} style look-ups over {data.size}")
        first = [theirs(style)[0] for style in dict.fromkeys(s for s, _ in chosen)]  # pages into memory
        mine: list[float] = []
        mine_cpu: list[float] = []
        base: list[float] = []
        rows: list[int] = []
        for n, (style, here) in enumerate(chosen):
            if n % 2:
                took, found = theirs(style)
                ours_took, ours_cpu = ours(style, here)
            else:
                ours_took, ours_cpu = ours(style, here)
                took, found = theirs(style)
            if n >= warmup:
                mine.append(ours_took)
                mine_cpu.append(ours_cpu)
                base.append(took)
                rows.append(found)
    finally:
        db.engine.dispose()
    summary, baseline, cold, cpu = (harness.latency_summary(x) for x in (mine, base, first, mine_cpu))
    summary["stock_rows_per_style"] = sum(rows) / len(rows)
    summary["cpu_p50"], summary["cpu_p99"] = cpu["p50"], cpu["p99"]
    return Figure(
        bench="inventory", engine=engine, name="stock look-up: a style, all sizes, all locations", size=data.size,
        measure=Measure(summary["p99"], "ms", summary),
        baselines=[Baseline("raw engine", "a bare indexed SELECT of the same stock rows (product_id IN the style's "
                            "ids), alternated with Rapport's call sample by sample",
                            Measure(baseline["p99"], "ms", baseline))],
        target=LOOKUP_TARGET,
        notes=[f"{len(mine)} random styles after {warmup} warm-up calls, 'here' a random store with its 5 nearest; "
               f"{summary['stock_rows_per_style']:,.0f} stock rows per style; in process, a session per call; "
               f"{data.how}",
               f"client CPU per call (the calling thread's): p50 {cpu['p50']:.1f} ms, p99 {cpu['p99']:.1f} ms; the "
               "wall time above it is the database's and waiting for a core",
               f"on a warm server: a first pass read each sampled style's rows once with the bare SELECT "
               f"(p50 {cold['p50']:.1f} ms, p99 {cold['p99']:.1f} ms: the pages' first read)"],
    )  # fmt: skip


# -- the run --------------------------------------------------------------------------------------------


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    # Measured as the server runs: `rapport serve` freezes its start-up heap and collects less often
    # (rapport.runtime.tune_gc); without it a full collection lands in ~2% of look-ups (80-90 ms).
    with gc_tuned():
        return _run(engine, plan, log)


def _run(engine: str, plan: Plan, log: Log) -> list[Figure]:
    demo = demo_stock(engine, plan.inventory_demo_catalogue, log)
    writes = network(NetworkSpec.of(plan), log) if engine == "postgresql" else demo
    notes = [writes.how]
    figures: list[Figure] = []
    pool = clients(writes.url, engine, plan.inventory_connections, notes)
    try:
        restore(pool.db)
        figures += hot_sku(engine, pool, plan, writes.size, notes, log)
        figures.append(distinct_skus(engine, pool, plan, writes.size, notes, log))
    finally:
        restore(pool.db)
        pool.db.engine.dispose()
    if engine == "postgresql":
        figures.append(lookups(engine, writes, plan, log))
    figures.append(lookups(engine, demo, plan, log))
    return figures


__all__ = ["run"]
