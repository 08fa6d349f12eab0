"""Raising tasks (routing, consent, contact pressure, duplicates, value) and their life cycle.

Rules and campaigns propose :class:`Candidate` s; :func:`raise_tasks` decides which become tasks,
for whom, on which channel and how much they are worth, in a handful of set-based statements
whatever the number of candidates. Nothing here loops over clients with a query each.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, Table, and_, case, func, or_, select, text, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.commerce.models import Order
from rapport.customers.models import Consent, Customer
from rapport.db import bulk_insert, insert_for, one_of, table_of
from rapport.errors import Conflict, InvalidRecord, NotFound
from rapport.tasks import config
from rapport.tasks.models import LIVE_STATUSES, TASK_OUTCOMES, Task

TASK = table_of(Task)
#: Rows per INSERT statement when raising many tasks at once.
_CHUNK = 1000


@dataclass
class Candidate:
    """A task a rule or a campaign proposes; :func:`raise_tasks` decides whether it is raised."""

    customer_id: int
    type: str
    dedupe_key: str
    title: str
    reason: str
    due_at: datetime
    expires_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)
    #: Reaching out to the client (consent and contact pressure apply) or work in the store.
    outreach: bool = True
    #: The channel this must go out on (a campaign's); otherwise the client's preferred consented one.
    channel: str | None = None
    product_id: int | None = None
    campaign_id: int | None = None
    suggested_message: str | None = None
    priority: int = 2
    #: How strong the signal is, 0..1 (a cart abandoned after a like and a view: 0.9; a birthday: 0.5).
    intent: float = 0.5
    #: Skip the cool-down after a recent contact (time-critical: an item back in stock, an appointment).
    urgent: bool = False


@dataclass
class RaiseOutcome:
    created: list[int] = field(default_factory=list)
    #: why candidates were not raised: "duplicate", "no consent", "opted out of <channel>",
    #: "contact cap", "cool-down", "client merged away", "control group", ...
    skipped: Counter[str] = field(default_factory=Counter)
    #: associate id (None = a store's team queue) -> tasks raised for them
    per_associate: Counter[int | None] = field(default_factory=Counter)
    #: store id (None = no home store) -> tasks raised to that store's team queue
    per_queue: Counter[int | None] = field(default_factory=Counter)
    #: the client of each task raised (in a dry run: that would be), so a preview can show examples
    clients: list[int] = field(default_factory=list)

    def merge(self, other: RaiseOutcome) -> None:
        self.created.extend(other.created)
        self.skipped.update(other.skipped)
        self.per_associate.update(other.per_associate)
        self.per_queue.update(other.per_queue)
        self.clients.extend(other.clients)


@dataclass(frozen=True)
class _Client:
    id: int
    associate_id: int | None
    location_id: int | None
    consented: frozenset[str]
    opted_out: frozenset[str]
    spend_minor: int
    cadence_days: float | None
    open_outreach: int
    last_contact_at: datetime | None


def raise_tasks(session: Session, candidates: Sequence[Candidate], *, dry_run: bool = False) -> RaiseOutcome:
    """Turn candidates into tasks, applying every guard; ``dry_run`` answers "how many?" only.

    Guards, in order: the client must be active (a merged client's candidate moves to the
    survivor); one task per client and occasion (``dedupe_key``); someone must see it (the
    client's associate, or their home store's team queue); outreach needs a channel the
    client consented to and never one they opted out of; at most ``max_open_outreach`` open
    outreach tasks per client; no new outreach within the cool-down after a contact, unless
    urgent. Candidates compete for a client's capacity by value, best first.
    """
    outcome = RaiseOutcome()
    if not candidates:
        return outcome
    now = clock.now()
    pressure = config.settings(session)["pressure"]
    if not dry_run:  # a preview counts from committed data and never waits behind a launch
        _serialise(session)
    survivors = _survivors(session, {c.customer_id for c in candidates})
    live: list[Candidate] = []
    for cand in candidates:
        target = survivors.get(cand.customer_id)
        if target is None:
            outcome.skipped["client not found"] += 1
            continue
        if target != cand.customer_id:
            cand.customer_id = target
        live.append(cand)
    clients = _clients(session, sorted({c.customer_id for c in live}), now)
    existing = _existing_keys(session, live)

    # Best candidates first, so a client's limited capacity goes to what is worth most.
    for cand in live:
        cand.facts.setdefault("intent", round(cand.intent, 2))
    live.sort(key=lambda c: (-_score(c, clients[c.customer_id]), c.due_at, c.dedupe_key))
    admitted_outreach: Counter[int] = Counter()
    seen: set[tuple[int, str]] = set()
    rows: list[dict[str, Any]] = []
    cap = int(pressure["max_open_outreach"])
    for cand in live:
        client = clients[cand.customer_id]
        key = (cand.customer_id, cand.dedupe_key)
        if key in existing or key in seen:
            outcome.skipped["duplicate"] += 1
            continue
        if client.associate_id is None and client.location_id is None:
            # Nobody would see it: assign the client (client book) or give them a home store.
            outcome.skipped["no associate or home store"] += 1
            continue
        channel: str | None = None
        if cand.outreach:
            channel, refusal = _channel_for(cand, client, pressure["channel_order"])
            if refusal:
                outcome.skipped[refusal] += 1
                continue
            if client.open_outreach + admitted_outreach[client.id] >= cap:
                outcome.skipped["contact cap"] += 1
                continue
            if not cand.urgent and _cooling_down(client, pressure, now):
                outcome.skipped["cool-down"] += 1
                continue
            admitted_outreach[client.id] += 1
        seen.add(key)
        rows.append(_row(cand, client, channel, now))
        outcome.per_associate[client.associate_id] += 1
        if client.associate_id is None:
            outcome.per_queue[client.location_id] += 1
        outcome.clients.append(client.id)
    if dry_run:
        outcome.created = [0] * len(rows)
        return outcome
    outcome.created.extend(_insert(session, rows))
    lost = len(rows) - len(outcome.created)
    if lost:  # raised meanwhile by another process (its transaction committed first)
        outcome.skipped["duplicate"] += lost
    return outcome


#: From this many rows, PostgreSQL gets them by COPY into a staging table (see :func:`_insert`).
_STAGE_FROM = 200
_STAGING = Table("task_staging", MetaData(), *(c._copy() for c in TASK.columns if c.name != "id"))


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert task rows, skipping any raised meanwhile by another process; returns the new ids.

    PostgreSQL, many rows: ``COPY`` into a temporary staging table, then one ``INSERT … SELECT …
    ON CONFLICT DO NOTHING`` (binding every value of 100,000 tasks as parameters took ~37 s; this
    takes a few). Otherwise one statement compiled once, each chunk sent as multi-row INSERTs
    (building a 1,000-row VALUES clause per chunk cost a minute of compiling at 100,000 tasks).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= _STAGE_FROM:
        names = ", ".join(f'"{c.name}"' for c in _STAGING.columns)
        # Dropped at commit: nothing outlives the transaction (a pooled connection keeps no table
        # that a later migration of ``task`` would make stale or that would hold its sequence).
        session.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS task_staging ON COMMIT DROP AS SELECT {names} FROM task WITH NO DATA"
            )
        )
        session.execute(text("TRUNCATE task_staging"))
        bulk_insert(session, _STAGING, rows)
        return list(
            session.scalars(
                text(
                    f"INSERT INTO task ({names}) SELECT {names} FROM task_staging "
                    "ON CONFLICT (customer_id, dedupe_key) DO NOTHING RETURNING id"
                )
            )
        )
    stmt = insert_for(session, TASK).on_conflict_do_nothing(index_elements=["customer_id", "dedupe_key"])
    stmt = stmt.returning(TASK.c.id)
    created: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        created.extend(session.scalars(stmt, rows[start : start + _CHUNK]))
    return created


def _serialise(session: Session) -> None:
    """One raiser at a time per database, so two processes cannot both fill a client's last slot.

    SQLite writers are serialised already; on PostgreSQL a transaction-scoped advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('rapport.tasks.raise'))"))


def _survivors(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Each client id -> the active client it is now (following merges); missing ids are left out."""
    out: dict[int, int] = {}
    pending = set(ids)
    merged_from: dict[int, list[int]] = defaultdict(list)
    for cid in pending:
        merged_from[cid].append(cid)
    for _ in range(10):  # merge chains are short; ten hops is far more than any real chain
        if not pending:
            break
        rows = session.execute(
            select(Customer.id, Customer.status, Customer.merged_into_id).where(
                one_of(session, Customer.id, sorted(pending))
            )
        ).all()
        pending = set()
        nxt: dict[int, list[int]] = defaultdict(list)
        for cid, status, merged_into in rows:
            if status == "active" or merged_into is None:
                for original in merged_from[cid]:
                    out[original] = cid
            else:
                nxt[merged_into].extend(merged_from[cid])
                pending.add(merged_into)
        merged_from = nxt
    return out


def _clients(session: Session, ids: list[int], now: datetime) -> dict[int, _Client]:
    """What raising needs to know about each client, in five grouped queries."""
    if not ids:
        return {}
    profile = {
        cid: (assoc if assoc_active else None, loc)
        for cid, assoc, assoc_active, loc in session.execute(
            select(Customer.id, Customer.assigned_associate_id, Associate.active, Customer.home_location_id)
            .outerjoin(Associate, Associate.id == Customer.assigned_associate_id)
            .where(one_of(session, Customer.id, ids))
        )
    }
    granted: dict[int, set[str]] = defaultdict(set)
    refused: dict[int, set[str]] = defaultdict(set)
    for cid, channel, yes in session.execute(
        select(Consent.customer_id, Consent.channel, Consent.granted).where(one_of(session, Consent.customer_id, ids))
    ):
        (granted if yes else refused)[cid].add(channel)
    since = now - timedelta(days=365)
    spend: dict[int, int] = {}
    cadence: dict[int, float | None] = {}
    for cid, total, n, first, last in session.execute(
        select(
            Order.customer_id,
            func.coalesce(func.sum(case((Order.placed_at >= since, Order.total_minor), else_=0)), 0),
            func.count(),
            func.min(Order.placed_at),
            func.max(Order.placed_at),
        )
        .where(one_of(session, Order.customer_id, ids), Order.status != "cancelled")
        .group_by(Order.customer_id)
    ):
        spend[cid] = int(total)
        cadence[cid] = _cadence(first, last, int(n))
    open_outreach: Counter[int] = Counter()
    last_contact: dict[int, datetime] = {}
    for cid, status, done_at in session.execute(
        select(Task.customer_id, Task.status, Task.completed_at).where(
            one_of(session, Task.customer_id, ids),
            Task.outreach.is_(True),
            or_(
                Task.status.in_(LIVE_STATUSES),
                and_(Task.status == "done", Task.outcome.in_(("contacted", "sale")), Task.completed_at.is_not(None)),
            ),
        )
    ):
        if status in LIVE_STATUSES:
            open_outreach[cid] += 1
        elif done_at is not None and (cid not in last_contact or done_at > last_contact[cid]):
            last_contact[cid] = done_at
    return {
        cid: _Client(
            id=cid,
            associate_id=profile.get(cid, (None, None))[0],
            location_id=profile.get(cid, (None, None))[1],
            consented=frozenset(granted[cid]),
            opted_out=frozenset(refused[cid]),
            spend_minor=spend.get(cid, 0),
            cadence_days=cadence.get(cid),
            open_outreach=open_outreach[cid],
            last_contact_at=last_contact.get(cid),
        )
        for cid in ids
    }


def _cadence(first: datetime | None, last: datetime | None, orders: int) -> float | None:
    """Average days between purchases, or None with fewer than two."""
    if first is None or last is None or orders < 2:
        return None
    return max((last - first).total_seconds() / 86400 / (orders - 1), 1.0)


def _existing_keys(session: Session, candidates: Sequence[Candidate]) -> set[tuple[int, str]]:
    ids = sorted({c.customer_id for c in candidates})
    keys = sorted({c.dedupe_key for c in candidates})
    if not ids:
        return set()
    rows = session.execute(
        select(Task.customer_id, Task.dedupe_key).where(
            one_of(session, Task.customer_id, ids), one_of(session, Task.dedupe_key, keys)
        )
    )
    return {(cid, key) for cid, key in rows}


def _channel_for(cand: Candidate, client: _Client, order: Sequence[str]) -> tuple[str | None, str | None]:
    """The channel to use and, when there is none, why (said to the campaign manager / in counts)."""
    if cand.channel is not None:
        if cand.channel in client.opted_out:
            return None, f"opted out of {cand.channel}"
        if cand.channel not in client.consented:
            return None, f"no consent for {cand.channel}"
        return cand.channel, None
    for channel in order:
        if channel in client.consented:
            return channel, None
    return None, "no consent"


def _cooling_down(client: _Client, pressure: config.RuleSettings, now: datetime) -> bool:
    if client.last_contact_at is None:
        return False
    days = float(pressure["cooldown_days"])
    if client.cadence_days is not None:
        days = max(days, client.cadence_days * float(pressure["cadence_share"]))
    return now - client.last_contact_at < timedelta(days=days)


def _value_points(spend_minor: int) -> float:
    """0..40 from the client's last-12-months spend: 100 → 20, 1,000 → 30, 10,000 → 40 (major units)."""
    return min(40.0, 10.0 * math.log10(1 + max(spend_minor, 0) / 100))


def _score(cand: Candidate, client: _Client) -> int:
    """Expected value: the client's value, the signal's strength, the task's own priority."""
    return round(_value_points(client.spend_minor) + 40 * max(0.0, min(cand.intent, 1.0)) + 5 * cand.priority)


def _row(cand: Candidate, client: _Client, channel: str | None, now: datetime) -> dict[str, Any]:
    if not 1 <= cand.priority <= 3:
        raise InvalidRecord.one("priority", f"must be 1, 2 or 3 (task {cand.dedupe_key!r})")
    return {
        "customer_id": client.id,
        "associate_id": client.associate_id,
        "location_id": client.location_id,
        "type": cand.type,
        "dedupe_key": cand.dedupe_key[:200],
        "title": cand.title[:200],
        "reason": cand.reason[:1000],
        "facts": {**cand.facts, "client_value_minor": client.spend_minor},
        "outreach": cand.outreach,
        "channel": channel,
        "product_id": cand.product_id,
        "campaign_id": cand.campaign_id,
        "suggested_message": cand.suggested_message,
        "priority": cand.priority,
        "score": _score(cand, client),
        "status": "open",
        "due_at": cand.due_at,
        "expires_at": max(cand.expires_at, cand.due_at),
        "snoozed_until": None,
        "outcome": None,
        "outcome_note": None,
        "completed_at": None,
        "completed_by_id": None,
        "created_at": now,
        "updated_at": now,
    }


# --- life cycle -------------------------------------------------------------------------------


def get(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def _live(task: Task) -> None:
    if task.status not in LIVE_STATUSES:
        raise Conflict(f"task {task.id} is already {task.status}")


def complete(session: Session, task: Task, *, outcome: str, by: int | None, note: str | None = None) -> Task:
    """Done, with what came of it (contacted, sale, no answer, not interested)."""
    if outcome not in TASK_OUTCOMES:
        raise InvalidRecord.one("outcome", f"must be one of {', '.join(TASK_OUTCOMES)} (task {task.id})")
    if note is not None and len(note) > 1000:
        raise InvalidRecord.one("note", f"at most 1000 characters (task {task.id})")
    _live(task)
    now = clock.now()
    task.status, task.outcome, task.outcome_note = "done", outcome, note
    task.completed_at, task.completed_by_id, task.snoozed_until, task.updated_at = now, by, None, now
    session.flush()
    return task


def snooze(session: Session, task: Task, *, until: datetime) -> Task:
    """Out of the list until ``until`` (then open again); never past the task's expiry."""
    _live(task)
    now = clock.now()
    if until <= now:
        raise InvalidRecord.one("until", f"must be in the future (task {task.id})")
    if until >= task.expires_at:
        raise InvalidRecord.one("until", f"must be before the task expires at {task.expires_at:%Y-%m-%d %H:%M} UTC")
    task.status, task.snoozed_until, task.updated_at = "snoozed", until, now
    session.flush()
    return task


def dismiss(session: Session, task: Task, *, by: int | None, note: str | None = None) -> Task:
    """Not worth doing (the associate knows better); the occasion is not raised again."""
    if note is not None and len(note) > 1000:
        raise InvalidRecord.one("note", f"at most 1000 characters (task {task.id})")
    _live(task)
    now = clock.now()
    task.status, task.outcome_note, task.completed_at, task.completed_by_id = "dismissed", note, now, by
    task.snoozed_until, task.updated_at = None, now
    session.flush()
    return task


def housekeeping(session: Session) -> dict[str, int]:
    """Wake snoozed tasks whose time has come, expire the ones past their date, and send live tasks
    to their client's current owner (a client reassigned where no trigger ran). Set-based."""
    now = clock.now()
    woke = _count(
        session,
        update(TASK)
        .where(TASK.c.status == "snoozed", TASK.c.snoozed_until <= now, TASK.c.expires_at > now)
        .values(status="open", snoozed_until=None, updated_at=now),
    )
    expired = _count(
        session,
        update(TASK)
        .where(TASK.c.status.in_(LIVE_STATUSES), TASK.c.expires_at <= now)
        .values(status="expired", snoozed_until=None, updated_at=now),
    )
    rerouted = follow_client(session, None)
    return {"woken": woke, "expired": expired, "rerouted": rerouted}


def _count(session: Session, statement: Any) -> int:
    """Rows an UPDATE touched."""
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


def follow_client(session: Session, customer_ids: Sequence[int] | None) -> int:
    """Live tasks go with their client when the client changes associate or home store (one UPDATE).

    ``None``: every live task (the sweep's housekeeping catches changes made where no trigger runs).
    """
    if customer_ids is not None and not customer_ids:
        return 0
    owner = (
        select(case((Associate.active.is_(True), Customer.assigned_associate_id), else_=None))
        .select_from(Customer)
        .outerjoin(Associate, Associate.id == Customer.assigned_associate_id)
        .where(Customer.id == TASK.c.customer_id)
        .scalar_subquery()
    )
    store = select(Customer.home_location_id).where(Customer.id == TASK.c.customer_id).scalar_subquery()
    scope = [] if customer_ids is None else [one_of(session, TASK.c.customer_id, list(customer_ids))]
    return _count(
        session,
        update(TASK)
        .where(*scope, TASK.c.status.in_(LIVE_STATUSES))
        .where(or_(TASK.c.associate_id.is_distinct_from(owner), TASK.c.location_id.is_distinct_from(store)))
        .values(associate_id=owner, location_id=store, updated_at=clock.now()),
    )


def after_merges(session: Session, merges: Sequence[Any]) -> None:
    """After merges: the survivors' owners get the moved tasks and the losers' duplicates close.

    After an unmerge (the loser is active again): each client's live tasks go to its own owner.
    Set-based for a round of merges, and one indexed look-up when none of them has a live task
    (the common case while clients are being ingested: a statement per merge cost 18% of the
    client API's time).
    """
    ids = sorted({i for m in merges for i in (m.survivor_id, m.loser_id)})
    if not ids:
        return
    live = session.execute(
        select(TASK.c.id).where(one_of(session, TASK.c.customer_id, ids), TASK.c.status.in_(LIVE_STATUSES)).limit(1)
    ).first()
    if live is None:
        return
    losers = {m.loser_id: m.survivor_id for m in merges}
    merged_away = session.scalars(
        select(Customer.id).where(one_of(session, Customer.id, sorted(losers)), Customer.status == "merged")
    ).all()
    now = clock.now()
    for loser in sorted(merged_away):
        _count(
            session,
            update(TASK)
            .where(TASK.c.customer_id == loser, TASK.c.status.in_(LIVE_STATUSES))
            .values(status="dismissed", outcome_note=f"client merged into #{losers[loser]}", updated_at=now),
        )
    follow_client(session, ids)
