"""The demo retailer: Maison Rapport's stores, team, catalogue and clients, loaded through ingestion.

Deterministic per seed: the same seed gives the same records, and — on a fresh database — the
same ids. Dates are not fixed, though: every date is placed relative to the *anchor*, the
start of today (``clock.now()`` truncated to midnight UTC), so the demo always looks current:
orders last week, an anniversary next week, a fragrance that runs out in a few days.

Everything goes in through :func:`rapport.ingest.service.ingest_records` in batches, exactly
as an integration would send it, so identity resolution merges the clients that the web shop,
the tills and the loyalty programme each know separately.

The demo's integration token is written, in clear, to ``demo-credentials.json`` next to the
SQLite database (``./var`` for PostgreSQL) so ``rapport serve`` can print it: the database
keeps only its hash. Those are demo credentials for a local trial, nothing more.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from rapport import clock
from rapport.db import Database
from rapport.demo import catalog
from rapport.demo.history import History, HistoryMaker
from rapport.demo.people import PeopleFactory, Person, loyalty_record, pos_record, shopify_record

DEFAULT_SEED = 2026
DEFAULT_CUSTOMERS = 20_000
BATCH = 1_000
CREDENTIALS_FILE = "demo-credentials.json"
TOKEN_NAME = "demo integration (rapport demo)"
#: The demo's sign-in password for one user per role (a local trial only; printed by ``rapport serve``).
DEMO_PASSWORD = "rapport-demo-2026"
DEMO_ROLES = ("associate", "virtual_associate", "store_manager", "admin")


def anchor_of(now: datetime) -> datetime:
    """The start of the day (UTC) that every demo date is placed relative to."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class DemoPlan:
    """Every record of the demo, generated on demand and identical for the same seed and anchor.

    Catalogue, people and each person's history use separate random streams, so a different
    number of clients leaves the catalogue as it was.
    """

    def __init__(
        self,
        customers: int = DEFAULT_CUSTOMERS,
        seed: int = DEFAULT_SEED,
        anchor: datetime | None = None,
        catalogue: float = 1.0,
    ) -> None:
        if customers < 0:
            raise ValueError("the number of customers cannot be negative")
        if not 0 < catalogue <= 1:
            raise ValueError("the catalogue scale is a fraction in (0, 1]")
        self.customers = customers
        self.seed = seed
        self.catalogue = catalogue
        self.anchor = anchor_of(anchor or clock.now())

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"rapport-demo:{self.seed}:{stream}")

    def locations(self) -> list[dict[str, Any]]:
        return [s.record() for s in catalog.STORES]

    @cached_property
    def staff(self) -> list[catalog.Staff]:
        return catalog.team()

    def associates(self) -> list[dict[str, Any]]:
        return [s.record() for s in self.staff]

    @cached_property
    def _catalog(self) -> tuple[list[catalog.Style], list[dict[str, Any]]]:
        return catalog.build_catalog(self._rng("catalog"), self.catalogue)

    def products(self) -> list[dict[str, Any]]:
        return self._catalog[1]

    @cached_property
    def _stock(self) -> list[dict[str, Any]]:
        return catalog.stock_records(self._rng("stock"), self._catalog[0], self.anchor)

    def stock(self) -> list[dict[str, Any]]:
        return self._stock

    @cached_property
    def _factory(self) -> PeopleFactory:
        return PeopleFactory(self._rng("people"), self.anchor, self.staff, self._rng("stories"))

    @cached_property
    def people(self) -> list[Person]:
        return [self._factory.person(i + 1) for i in range(self.customers)]

    def customer_records(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Each system's client records, in the order they are loaded: web shop, tills, loyalty."""
        everyone = self.people
        rng = self._rng("records")
        shopify = [shopify_record(p, rng, self.anchor) for p in everyone if p.shopify_id]
        pos = [pos_record(p, rng) for p in everyone if p.pos_id]
        pos += [p.twin for p in everyone if p.twin]
        loyalty = [loyalty_record(p, rng, self.anchor) for p in everyone if p.loyalty_id]
        return [("shopify", shopify), ("pos", pos), ("loyalty", loyalty)]

    @cached_property
    def _history(self) -> HistoryMaker:
        prices = {r["sku"]: Decimal(r["price"]) for r in self.products()}
        sold_out: dict[str, list[str]] = {}
        for r in self.stock():
            if r["on_hand"] == 0:
                sold_out.setdefault(r["location"], []).append(r["sku"])
        return HistoryMaker(self.seed, self.anchor, self._catalog[0], prices, self.staff, sold_out)

    def history(self, persons: Sequence[Person]) -> History:
        """Orders, returns, signals and restocks of these people (any subset, any order: each has its own stream)."""
        out = History()
        for p in persons:
            h = self._history.for_person(p)
            out.orders += h.orders
            out.returns += h.returns
            out.events += h.events
            out.stock += h.stock
        return out


# -- loading ----------------------------------------------------------------------------------------


class Progress(Protocol):
    """Where the loader reports how far it got (a Rich progress bar in the CLI)."""

    def start(self, key: str, label: str, total: int) -> None: ...

    def advance(self, key: str, steps: int, records: int) -> None: ...


@dataclass
class KindStats:
    sent: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return self.counts.get("rejected", 0)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


@dataclass
class DemoReport:
    seed: int
    customers: int
    anchor: datetime
    kinds: dict[str, KindStats] = field(default_factory=dict)
    rejects: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    active_customers: int = 0
    merged_customers: int = 0
    merges: int = 0
    review_candidates: int = 0
    sample_customer_id: int | None = None
    token: str | None = None
    credentials_path: Path | None = None
    #: One sign-in per role: {"role", "name", "email", "password"}.
    logins: list[dict[str, str]] = field(default_factory=list)
    #: Next-action tasks the first sweep raised, per task type (so associates open on real tasks).
    tasks: dict[str, int] = field(default_factory=dict)
    #: ... and per associate (their own book; team queues are left out).
    tasks_per_associate: dict[int, int] = field(default_factory=dict)
    #: This morning on the floor: items set aside for clients, click-and-collect orders.
    holds: int = 0
    pickups: int = 0
    messages: int = 0
    appointments: int = 0


def has_customers(db: Database) -> bool:
    from rapport.customers.models import Customer

    with db.read() as session:
        return session.execute(select(Customer.id).limit(1)).first() is not None


#: What the generator hands the loader: ("start", key, label, total) opens a progress bar;
#: ("send", kind, key | None, records) is one batch to ingest (advancing bar ``key`` if given);
#: ("advance", key, steps, records) moves a bar on.
Item = tuple[Any, ...]


def plan_items(plan: DemoPlan, batch_size: int = BATCH) -> Generator[Item, None, None]:
    """Every batch of the demo, in loading order: the same sequence for the same plan."""

    def phase(kind: str, label: str, records: Sequence[dict[str, Any]], key: str | None = None) -> Iterator[Item]:
        key = key or kind
        yield ("start", key, label, len(records))
        for offset in range(0, len(records), batch_size):
            yield ("send", kind, key, records[offset : offset + batch_size])

    yield from phase("locations", "Stores, warehouses", plan.locations())
    yield from phase("associates", "Associates", plan.associates())
    yield from phase("products", "Products", plan.products())
    yield from phase("stock", "Stock levels", plan.stock())
    labels = {"shopify": "Clients: web shop", "pos": "Clients: tills", "loyalty": "Clients: loyalty"}
    for system, records in plan.customer_records():
        yield from phase("customers", labels[system], records, key=f"customers:{system}")

    # Histories are generated a few clients at a time and sent in full batches. A return is sent
    # only once the order it gives back is in; signals need only the clients, loaded above. The
    # last night's deliveries (stock counted back from none, for a wish) go last, after the wishes.
    everyone = plan.people
    labels = {
        "orders": "Orders",
        "returns": "Returns",
        "events": "Signals (views, wishes, try-ons, social)",
        "stock": "Last night's deliveries",
    }
    bars = {"orders": "orders", "returns": "returns", "events": "events", "stock": "restocks"}
    buffers: dict[str, list[dict[str, Any]]] = {kind: [] for kind in labels}
    covered = {kind: 0 for kind in labels}  # people whose records of that kind sit in the buffer
    for kind, label in labels.items():
        yield ("start", bars[kind], label, len(everyone))

    def flush(kind: str) -> Iterator[Item]:
        records = buffers[kind]
        for offset in range(0, len(records), batch_size):
            yield ("send", kind, None, records[offset : offset + batch_size])
        yield ("advance", bars[kind], covered[kind], len(records))
        buffers[kind], covered[kind] = [], 0

    for chunk in _chunks(everyone, 50):
        h = plan.history(chunk)
        for kind, records in (("orders", h.orders), ("returns", h.returns), ("events", h.events), ("stock", h.stock)):
            buffers[kind] += records
            covered[kind] += len(chunk)
        if len(buffers["orders"]) >= batch_size:
            yield from flush("orders")
            if len(buffers["returns"]) >= batch_size:
                yield from flush("returns")
        if len(buffers["events"]) >= batch_size:
            yield from flush("events")
    for kind in labels:
        yield from flush(kind)


def _from_process(plan: DemoPlan, batch_size: int) -> Generator[Item, None, None]:
    """The same items, generated by a child Python on the other core while this one ingests.

    The child (``python -m rapport.demo.generator``) pickles each item to its stdout; the pipe's
    small buffer keeps it only a few batches ahead.
    """
    args = [str(plan.customers), str(plan.seed), plan.anchor.isoformat(), repr(plan.catalogue), str(batch_size)]
    child = subprocess.Popen(
        [sys.executable, "-m", "rapport.demo.generator", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    try:
        while True:
            try:
                item = pickle.load(child.stdout)
            except EOFError:
                break
            yield item
        if child.wait(timeout=30) != 0:
            raise RuntimeError(f"the demo generator failed:\n{child.stderr.read().decode(errors='replace')}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def _generate_to_stdout(argv: list[str]) -> None:
    """The child's side of :func:`_from_process`."""
    customers, seed, anchor, catalogue, batch_size = argv
    plan = DemoPlan(int(customers), int(seed), datetime.fromisoformat(anchor), float(catalogue))
    out = sys.stdout.buffer
    for item in plan_items(plan, int(batch_size)):
        pickle.dump(item, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def load_demo(
    db: Database,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    batch_size: int = BATCH,
    credentials_dir: Path | None = None,
    catalogue: float = 1.0,
    parallel: bool | None = None,
) -> DemoReport:
    """Generate the demo and ingest it; returns counts, throughput and a merged client to look at.

    ``catalogue`` below 1 loads a smaller assortment (and so far fewer stock rows): for tests.
    ``parallel`` generates in a second process while this one ingests (default: for 2,000+
    clients); the records, and so the data, are the same either way.
    """
    plan = DemoPlan(customers, seed, catalogue=catalogue)
    report = DemoReport(seed, customers, plan.anchor)
    started = time.perf_counter()
    if parallel is None:
        parallel = customers >= 2000
    items = _from_process(plan, batch_size) if parallel else plan_items(plan, batch_size)
    try:
        _ingest(db, items, report, progress)
    finally:
        items.close()  # stops the generator process if ingestion failed half-way
    report.seconds = time.perf_counter() - started
    from rapport.identity import candidates

    candidates.drain(db)  # the review list, before the summary counts it
    from rapport.tasks.sweep import generate as sweep_tasks

    swept = sweep_tasks(db)  # the day's next actions, as the daily sweep would
    report.tasks = swept.created_by_type()
    report.tasks_per_associate = {aid: n for aid, n in swept.per_associate.items() if aid is not None}
    from rapport.demo.floor import stage_floor

    floor = stage_floor(db, seed, plan.anchor)  # this morning on the floor: holds and click-and-collect orders
    report.holds = floor.holds
    report.pickups = sum(floor.pickups.values())
    from rapport.demo.conversations import stage_conversations

    talk = stage_conversations(db, seed)  # business lines, templates, this morning's threads (local outbox)
    report.messages = talk.messages
    from rapport.demo.appointments import stage_appointments

    report.appointments = stage_appointments(db, seed).booked  # booking set up, shifts, the next days' visits
    _summarise(db, report)
    path = credentials_path(db, credentials_dir)
    report.token = _demo_token(db, path)
    report.credentials_path = path
    report.logins = _demo_users(db, plan)
    write_credentials(db, path, report.token, report.sample_customer_id, logins=report.logins)
    return report


def _demo_users(db: Database, plan: DemoPlan) -> list[dict[str, str]]:
    """Let the first team member of each role sign in with :data:`DEMO_PASSWORD`.

    The salt comes from the seed and the email, so the same seed loads the same hashes (the demo is
    reproducible row for row); the password is public anyway.
    """
    import hashlib

    from rapport.associates import users

    logins = []
    with db.write() as session:
        for role in DEMO_ROLES:
            staff = next((s for s in plan.staff if s.role == role), None)
            if staff is None:
                continue
            salt = hashlib.sha256(f"rapport-demo:{plan.seed}:{staff.email}".encode()).digest()[:16]
            user = users.set_password(session, staff.email, DEMO_PASSWORD, salt=salt)
            logins.append({"role": role, "name": user.display_name, "email": user.email, "password": DEMO_PASSWORD})
    return logins


def _ingest(db: Database, items: Iterator[Item], report: DemoReport, progress: Progress | None) -> None:
    from rapport.ingest.service import ingest_records

    for item in items:
        if item[0] == "start":
            if progress:
                progress.start(*item[1:])
            continue
        if item[0] == "advance":
            if progress:
                progress.advance(*item[1:])
            continue
        _, kind, key, batch = item
        stats = report.kinds.setdefault(kind, KindStats())
        t0 = time.perf_counter()
        result = ingest_records(db, kind, batch, actor="demo")
        stats.seconds += time.perf_counter() - t0
        for i, outcome in enumerate(result.outcomes):
            if outcome.status == "rejected" and len(report.rejects) < 20:
                errors = "; ".join(f"{e.field}: {e.message}" for e in outcome.errors)
                report.rejects.append((kind, stats.sent + i, errors))
        stats.sent += len(batch)
        for status, n in result.counts().items():
            stats.counts[status] = stats.counts.get(status, 0) + n
        if progress and key:
            progress.advance(key, len(batch), len(batch))


def _chunks(items: Sequence[Person], size: int) -> Iterator[Sequence[Person]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _summarise(db: Database, report: DemoReport) -> None:
    from rapport.commerce.models import Order
    from rapport.customers.models import Customer
    from rapport.identity.models import MatchCandidate, MergeRecord

    with db.read() as session:
        by_status = dict(session.execute(select(Customer.status, func.count()).group_by(Customer.status)).all())
        report.active_customers = by_status.get("active", 0)
        report.merged_customers = by_status.get("merged", 0)
        report.merges = (
            session.scalar(select(func.count()).select_from(MergeRecord).where(MergeRecord.undone_at.is_(None))) or 0
        )
        report.review_candidates = (
            session.scalar(select(func.count()).select_from(MatchCandidate).where(MatchCandidate.status == "pending"))
            or 0
        )
        # A merged client with a rich history makes the best first 360 to look at.
        richest = session.execute(
            select(MergeRecord.survivor_id)
            .join(Order, Order.customer_id == MergeRecord.survivor_id)
            .join(Customer, Customer.id == MergeRecord.survivor_id)
            .where(MergeRecord.undone_at.is_(None), Customer.status == "active")
            .group_by(MergeRecord.survivor_id)
            .order_by(func.count(Order.id).desc(), MergeRecord.survivor_id)
            .limit(1)
        ).scalar()
        report.sample_customer_id = richest


# -- demo credentials -------------------------------------------------------------------------------


def credentials_path(db: Database, directory: Path | None = None) -> Path:
    """``demo-credentials.json`` beside the SQLite file, or in ``./var`` for PostgreSQL."""
    if directory is None:
        url = db.engine.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            directory = Path(url.database).parent
        else:
            directory = Path("var")
    return directory / CREDENTIALS_FILE


def _database_label(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=True)


def _read_credentials(db: Database, path: Path) -> dict[str, Any] | None:
    """The file's content if it was written for this database and its token still works here."""
    from rapport.associates import tokens

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("database") != _database_label(db):
        return None
    token = (data.get("api_token") or {}).get("token")
    if not isinstance(token, str):
        return None
    try:
        with db.read() as session:
            if tokens.authenticate(session, token) is None:
                return None
    except SQLAlchemyError:
        return None
    return data


def _demo_token(db: Database, path: Path) -> str:
    """The demo's integration token: the one already on file for this database, else a new one."""
    from rapport.associates import tokens

    existing = _read_credentials(db, path)
    if existing is not None:
        return str(existing["api_token"]["token"])
    with db.write() as session:
        return tokens.create_token(session, TOKEN_NAME).token


def write_credentials(
    db: Database, path: Path, token: str, customer_id: int | None, *, logins: Sequence[dict[str, str]] = ()
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "note": "Demo credentials for a local trial of Rapport — not for production. "
        "Revoke the token with `rapport tokens revoke` before exposing this database.",
        "database": _database_label(db),
        "written_at": clock.now().isoformat(timespec="seconds"),
        "api_token": {"name": TOKEN_NAME, "header": f"Authorization: Bearer {token}", "token": token},
        "try_customer_id": customer_id,
        "sign_in": {"url": "/login", "users": list(logins)},
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
    tmp.replace(path)


def demo_logins(db: Database, directory: Path | None = None) -> list[tuple[str, str, str]]:
    """What ``rapport serve`` prints: (what, how to use it, secret) for each demo credential."""
    data = _read_credentials(db, credentials_path(db, directory))
    if data is None:
        return []
    logins = [("integration API token", "Authorization: Bearer", str(data["api_token"]["token"]))]
    users = (data.get("sign_in") or {}).get("users") or []
    can_sign_in = _active_emails(db, [str(u.get("email")) for u in users if isinstance(u, dict)])
    for u in users:
        if isinstance(u, dict) and u.get("email") in can_sign_in:
            label = _ROLE_NAMES.get(str(u.get("role")), str(u.get("role")))
            logins.append((f"{label} ({u.get('name')}) at /login", f"{u['email']} password", str(u.get("password"))))
    return logins


_ROLE_NAMES = {
    "associate": "associate",
    "virtual_associate": "online expert",
    "store_manager": "store manager",
    "admin": "head office admin",
}


def _active_emails(db: Database, emails: list[str]) -> set[str]:
    """Which of these demo users still exist here, active and with a password."""
    from rapport.associates.models import Associate

    if not emails:
        return set()
    try:
        with db.read() as session:
            return set(
                session.scalars(
                    select(Associate.email).where(
                        Associate.email.in_(emails), Associate.active.is_(True), Associate.password_hash.is_not(None)
                    )
                )
            )
    except SQLAlchemyError:
        return set()


if __name__ == "__main__":
    _generate_to_stdout(sys.argv[1:])
