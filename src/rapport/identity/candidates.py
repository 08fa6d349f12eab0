"""Probable duplicates for a human to confirm: never merged silently.

Deterministic matching only joins records that share an identifier. People also arrive twice
with a typo in the name, a phone with one digit off, or no shared identifier at all. For each
new client we look, with indexed queries only, at clients who share a birth date, a postal
code, or the exact name, then score the pair on name similarity and the supporting evidence
(same birth date, same street address, a phone or email one typo apart). Pairs that score
high enough land on the review list with their reasons.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA
from sqlalchemy import BigInteger, bindparam, delete, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from rapport import clock, events
from rapport.customers.models import Address, Customer
from rapport.db import Database, insert_for, table_of
from rapport.identity.models import Identifier, MatchCandidate, ScanPending

log = logging.getLogger(__name__)
CUSTOMER, ADDRESS, IDENT = table_of(Customer), table_of(Address), table_of(Identifier)
#: Pairs scoring at least this go to review.
THRESHOLD = 70
#: Names must be at least this alike (rapidfuzz token-sort ratio, 0-100) to be considered.
NAME_FLOOR = 80
#: At most this many proposals per new client (the best-scoring ones).
PER_CLIENT = 3
#: Blocks larger than this (a very common name, a dense postal code) are skipped: sharing them says
#: little, and the other blocks (birth date above all) still bring those pairs together.
MAX_BLOCK = 100


@dataclass
class _Person:
    id: int
    name: str
    birth_date: date | None
    name_keys: tuple[str, str] | None = None  # (first, last) when both are known
    postal_raw: set[str] = field(default_factory=set)  # postal codes as stored, for look-ups
    addresses: set[tuple[str, str, str]] = field(default_factory=set)  # (country, postal, line1)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _load(session: Session, ids: Iterable[int]) -> dict[int, _Person]:
    wanted = sorted(set(ids))
    people: dict[int, _Person] = {}
    for chunk in _chunks(wanted):
        for cid, first, last, born in session.execute(
            select(CUSTOMER.c.id, CUSTOMER.c.first_name_key, CUSTOMER.c.last_name_key, CUSTOMER.c.birth_date).where(
                CUSTOMER.c.id.in_(chunk), CUSTOMER.c.status == "active"
            )
        ):
            people[cid] = _Person(cid, _name(first, last), born, (first, last) if first and last else None)
        for cid, country, postal, line1 in session.execute(
            select(ADDRESS.c.customer_id, ADDRESS.c.country, ADDRESS.c.postal_code, ADDRESS.c.line1).where(
                ADDRESS.c.customer_id.in_(chunk)
            )
        ):
            if cid in people and postal:
                people[cid].addresses.add((country or "", _postal(postal), (line1 or "").lower()))
                people[cid].postal_raw.add(postal)
        for cid, kind, value in session.execute(
            select(IDENT.c.customer_id, IDENT.c.kind, IDENT.c.value).where(
                IDENT.c.customer_id.in_(chunk), IDENT.c.kind.in_(("phone", "email"))
            )
        ):
            if cid in people:
                (people[cid].phones if kind == "phone" else people[cid].emails).add(value)
    return people


def _blocks(person: _Person) -> set[tuple[Any, ...]]:
    """Keys two records must share before they are compared at all (blocking)."""
    keys: set[tuple[Any, ...]] = set()
    if person.birth_date:
        keys.add(("born", person.birth_date))
    if person.name_keys:
        keys.update(("postal", postal, person.name_keys[1][:1]) for _, postal, _ in person.addresses)
        keys.add(("name", *person.name_keys))
    return keys


def _pool(session: Session, new: dict[int, _Person]) -> dict[tuple[Any, ...], list[tuple[int, str]]]:
    """Existing clients sharing a block with a new one, as (id, name) only: cheap to fetch.

    Block sizes are counted first (GROUP BY) and blocks over ``MAX_BLOCK`` are never fetched, so a
    batch costs the same whether the table holds ten thousand clients or ten million.
    """
    blocks = {key for p in new.values() for key in _blocks(p)}
    groups: dict[tuple[Any, ...], list[tuple[int, str]]] = defaultdict(list)
    first, last = CUSTOMER.c.first_name_key, CUSTOMER.c.last_name_key
    active = CUSTOMER.c.status == "active"
    initial = func.substr(last, 1, 1)

    births = sorted(k[1] for k in blocks if k[0] == "born")
    for chunk in _chunks(births):
        small = [
            born
            for born, n in session.execute(
                select(CUSTOMER.c.birth_date, func.count())
                .where(CUSTOMER.c.birth_date.in_(chunk), active)
                .group_by(CUSTOMER.c.birth_date)
            )
            if n <= MAX_BLOCK
        ]
        if small:
            for cid, f, la, born in session.execute(
                select(CUSTOMER.c.id, first, last, CUSTOMER.c.birth_date).where(
                    CUSTOMER.c.birth_date.in_(small), active
                )
            ):
                groups[("born", born)].append((cid, _name(f, la)))

    # Plain indexed IN lists (row-value IN with an expression defeats SQLite's indexes);
    # the second part of each block key is filtered alongside.
    wanted_postal = {(raw, p.name_keys[1][:1]) for p in new.values() if p.name_keys for raw in p.postal_raw}
    for chunk in _chunks(sorted({raw for raw, _ in wanted_postal})):
        counted = (
            select(ADDRESS.c.postal_code, initial, func.count())
            .join(CUSTOMER, ADDRESS.c.customer_id == CUSTOMER.c.id)
            .where(ADDRESS.c.postal_code.in_(chunk), active)
            .group_by(ADDRESS.c.postal_code, initial)
        )
        small_pairs = {(postal, i) for postal, i, n in session.execute(counted) if n <= MAX_BLOCK} & wanted_postal
        if small_pairs:
            for cid, f, la, postal in session.execute(
                select(CUSTOMER.c.id, first, last, ADDRESS.c.postal_code)
                .join(ADDRESS, ADDRESS.c.customer_id == CUSTOMER.c.id)
                .where(ADDRESS.c.postal_code.in_(sorted({p for p, _ in small_pairs})), active)
            ):
                if (postal, (la or "")[:1]) in small_pairs:
                    groups[("postal", _postal(postal), (la or "")[:1])].append((cid, _name(f, la)))

    wanted_names = {(k[1], k[2]) for k in blocks if k[0] == "name"}
    for chunk in _chunks(sorted({la for _, la in wanted_names})):
        counted_names = select(first, last, func.count()).where(last.in_(chunk), active).group_by(first, last)
        small_names = {(f, la) for f, la, n in session.execute(counted_names) if n <= MAX_BLOCK} & wanted_names
        if small_names:
            rows = session.execute(
                select(CUSTOMER.c.id, first, last).where(
                    last.in_(sorted({la for _, la in small_names})),
                    first.in_(sorted({f for f, _ in small_names})),
                    active,
                )
            )
            for cid, f, la in rows:
                if (f, la) in small_names:
                    groups[("name", f, la)].append((cid, _name(f, la)))
    return groups


def _postal(raw: str) -> str:
    return raw.replace(" ", "").upper()


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def score_pair(a: _Person, b: _Person) -> tuple[int, list[str]]:
    """0-99 and the reasons a reviewer reads. Names alike are necessary, never sufficient.

    Evidence is checked cheapest first; a phone or email "one typo apart" uses the optimal
    string alignment distance (an adjacent swap counts as one edit), with a cutoff.
    """
    if not a.name or not b.name:
        return 0, []
    similarity = fuzz.token_sort_ratio(a.name, b.name)
    if similarity < NAME_FLOOR:
        return 0, []
    reasons = [f"names {a.name!r} and {b.name!r} are {similarity:.0f}% alike"]
    evidence = 0
    if a.birth_date and a.birth_date == b.birth_date:
        evidence += 1
        reasons.append(f"same birth date {a.birth_date.isoformat()}")
    for country, postal, line1 in a.addresses:
        if any(x[0] == country and x[1] == postal and fuzz.ratio(x[2], line1) >= 85 for x in b.addresses):
            evidence += 1
            reasons.append(f"same address {line1}, {postal} {country}".strip())
            break
    for p in a.phones:
        q = next((q for q in b.phones if p != q and OSA.distance(p, q, score_cutoff=1) <= 1), None)
        if q is not None:
            evidence += 1
            reasons.append(f"phones {p} and {q} differ by one digit")
            break
    for e in a.emails:
        f = next((f for f in b.emails if e != f and OSA.distance(e, f, score_cutoff=2) <= 2), None)
        if f is not None and e.rpartition("@")[2] == f.rpartition("@")[2]:
            evidence += 1
            reasons.append(f"emails {e} and {f} one typo apart")
            break
    if evidence == 0:
        return 0, []
    return min(99, round(similarity * 0.6) + 20 * evidence), reasons


def scan(session: Session, customer_ids: Iterable[int]) -> int:
    """Look for probable duplicates of these clients; add new pairs to the review list. Returns how many.

    Only records sharing a blocking key (birth date, postal code, exact name) are compared, so the
    work grows with the size of those groups, not with the square of the batch.
    """
    new = _load(session, customer_ids)
    if not new:
        return 0
    groups = _pool(session, new)
    # Names first: only pairs whose names are alike enough are worth loading in full.
    alike: dict[int, set[int]] = defaultdict(set)
    for person in new.values():
        for key in _blocks(person):
            members = groups.get(key, ())
            if len(members) > MAX_BLOCK:
                continue
            for other_id, other_name in members:
                if other_id != person.id and fuzz.token_sort_ratio(person.name, other_name) >= NAME_FLOOR:
                    alike[person.id].add(other_id)
    if not alike:
        return 0
    everyone = {**_load(session, {o for others in alike.values() for o in others} - set(new)), **new}
    pairs: dict[tuple[int, int], tuple[int, list[str]]] = {}
    for person_id, others in alike.items():
        person = new[person_id]
        found: list[tuple[int, int, list[str]]] = []
        for other_id in sorted(others):
            pair = (min(person_id, other_id), max(person_id, other_id))
            other = everyone.get(other_id)
            if other is None or pair in pairs:
                continue
            score, reasons = score_pair(person, other)
            if score >= THRESHOLD:
                found.append((score, other_id, reasons))
        for score, other_id, reasons in sorted(found, key=lambda f: (-f[0], f[1]))[:PER_CLIENT]:
            pairs[(min(person_id, other_id), max(person_id, other_id))] = (score, reasons)
    if not pairs:
        return 0
    now = clock.now()
    rows = [
        {
            "customer_id": a,
            "other_customer_id": b,
            "score": score,
            "reasons": reasons,
            "status": "pending",
            "created_at": now,
        }
        for (a, b), (score, reasons) in pairs.items()
    ]
    stmt = insert_for(session, table_of(MatchCandidate)).on_conflict_do_nothing(
        index_elements=["customer_id", "other_customer_id"]
    )
    result = session.execute(stmt.returning(table_of(MatchCandidate).c.id), rows).all()
    return len(result)


def queue(session: Session, customer_ids: Sequence[int]) -> None:
    """Ask for a duplicate scan of these clients, in the caller's transaction (see ScanPending)."""
    if not customer_ids:
        return
    now = clock.now()
    pending = table_of(ScanPending)
    if session.get_bind().dialect.name == "postgresql":
        ids = select(func.unnest(bindparam("ids", list(customer_ids), type_=ARRAY(BigInteger()))).label("id"))
    else:
        each = func.json_each(bindparam("ids", json.dumps(list(customer_ids)))).table_valued("value")
        ids = select(each.c.value.label("id"))
    rows = ids.subquery()
    # One statement for the whole batch (a multi-row VALUES list cost ~30 µs a client on PostgreSQL).
    # "WHERE true": SQLite would otherwise read ON CONFLICT as a join's ON.
    source = select(rows.c.id, literal(now, type_=pending.c.queued_at.type)).where(true())
    stmt = insert_for(session, pending).from_select(["customer_id", "queued_at"], source)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id"]))


def drain(db: Database, *, batch: int = 2000, pause: Callable[[], bool] | None = None) -> int:
    """Scan every queued client, a batch per transaction; returns how many pairs were proposed.

    Safe to run in several processes at once: on PostgreSQL each takes its batch with
    ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers anyway. ``pause``: asked after each
    batch; when true, stop (the rest stays queued) — the background drainer yields to ingestion.
    """
    proposed = 0
    pending = table_of(ScanPending)
    while True:
        with db.write() as session:
            stmt = select(pending.c.customer_id).order_by(pending.c.customer_id).limit(batch)
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(session.scalars(stmt))
            if not ids:
                return proposed
            proposed += scan(session, ids)
            session.execute(delete(pending).where(pending.c.customer_id.in_(ids)))
        if pause is not None and pause():
            return proposed


#: Ingestion the background drainer makes way for.
_ACTIVITY = tuple(f"{kind}.ingested" for kind in ("customers", "orders", "returns", "events", "stock", "products"))


class BackgroundDrainer:
    """One thread per process that drains the scan queue shortly after clients are written.

    Woken by the event hub after a batch of clients commits; coalesces wake-ups and yields to
    ingestion of any kind: it waits for a lull of ``quiet`` seconds without ingest batches, but
    never longer than ``patience`` after the first wake-up, so the review list fills even under
    continuous load; and it scans in small batches, going back to waiting as soon as ingestion
    resumes (a 20,000-client scan takes ~10 s of this process's time and of SQLite's write lock,
    which the orders arriving meanwhile need more). Started by the app (``create_app``'s
    lifespan); the CLI and tests call :func:`drain` directly instead.
    """

    #: Clients scanned per transaction by the background drainer (the CLI's drain uses more).
    BATCH = 250

    def __init__(self, db_provider: Callable[[], Database], *, quiet: float = 2.0, patience: float = 30.0) -> None:
        self._db = db_provider
        self._quiet = quiet
        self._patience = patience
        self._wake = threading.Event()
        self._busy = threading.Event()  # an ingest batch committed since we last looked
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="identity-scan", daemon=True)
            self._thread.start()
            events.subscribe("customers.ingested", self.wake)
            for name in _ACTIVITY:
                events.subscribe(name, self.busy)
            self.wake()  # whatever an earlier process left queued

    def busy(self, _event: object = None) -> None:
        self._busy.set()

    def wake(self, _event: object = None) -> None:
        self._wake.set()

    def stop(self) -> None:
        events.unsubscribe("customers.ingested", self.wake)
        for name in _ACTIVITY:
            events.unsubscribe(name, self.busy)
        self._stop.set()
        self._wake.set()
        self._busy.set()  # ends a wait for a lull at once (a stopping app must not wait out `quiet`)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            deadline = time.monotonic() + self._patience
            # More batches arriving? Let them through first (bounded by the deadline).
            while not self._stop.is_set() and time.monotonic() < deadline and self._lull_broken(deadline):
                pass
            if self._stop.is_set():
                return
            self._busy.clear()
            try:
                drain(self._db(), batch=self.BATCH, pause=self._busy.is_set)
            except Exception:  # the queue keeps the work; the next wake-up retries
                log.exception("duplicate scan failed; clients stay queued")
                continue
            if self._busy.is_set():  # stopped to let ingestion through: the rest after the next lull
                self._wake.set()

    def _lull_broken(self, deadline: float) -> bool:
        """Wait up to ``quiet`` seconds (not past ``deadline``); true when an ingest batch of any kind
        committed meanwhile."""
        self._busy.clear()
        self._wake.clear()
        return self._busy.wait(max(0.0, min(self._quiet, deadline - time.monotonic()))) or self._wake.is_set()


def pending_for(session: Session, customer_ids: Sequence[int]) -> dict[int, list[MatchCandidate]]:
    out: dict[int, list[MatchCandidate]] = defaultdict(list)
    if not customer_ids:
        return out
    rows = session.scalars(
        select(MatchCandidate).where(
            MatchCandidate.status == "pending",
            or_(MatchCandidate.customer_id.in_(customer_ids), MatchCandidate.other_customer_id.in_(customer_ids)),
        )
    )
    for c in rows:
        out[c.customer_id].append(c)
        out[c.other_customer_id].append(c)
    return out


__all__ = ["THRESHOLD", "BackgroundDrainer", "drain", "pending_for", "queue", "scan", "score_pair"]
