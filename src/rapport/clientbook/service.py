"""Client book assignment: placing unassigned clients by the retailer's rules, and a manager's reassignment.

Set-based for volume. One run reads everything the rules need in a handful of statements
(the clients in scope with their store-sales winner, their store and their place, the staff
with the size of their books), plans in memory with :func:`rapport.clientbook.rules.plan`
(no query per client), then writes one ``UPDATE ... WHERE id IN (...) RETURNING id`` per
associate and chunk of ids, one bulk timeline append, one notification per receiving
associate and one audit record. 20,000 clients take a few seconds on either engine.

Every ``UPDATE`` re-checks the client is still where the plan found it (unassigned or with an
inactive associate; in the leaving associate's book), so a client assigned by someone else in
the meantime is left alone and counted only where it really moved.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock, events
from rapport.associates import audit, notifications
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate, AssociateLocation
from rapport.clientbook import rules as R
from rapport.clientbook.book import BookFilters, BookPage, BookRow, client_book
from rapport.commerce.models import Order
from rapport.customers import timeline
from rapport.customers.models import Address, Customer
from rapport.db import table_of
from rapport.errors import Conflict, InvalidRecord, NotFound
from rapport.inventory.models import Location

__all__ = [
    "AssignmentSummary",
    "BookFilters",
    "BookPage",
    "BookRow",
    "ReassignPreview",
    "assign_unassigned",
    "client_book",
    "preview_reassign",
    "reassign",
]

CUSTOMER = table_of(Customer)
ADDRESS = table_of(Address)
ORDER = table_of(Order)
ASSOCIATE = table_of(Associate)
ASSOCIATE_LOCATION = table_of(AssociateLocation)
LOCATION = table_of(Location)

CHUNK = 900
MAX_CUSTOMER_IDS = 10_000
SAMPLE_SIZE = 10
#: Where notifications point in the associate app.
BOOK_LINK = "/clients/book"
CLIENT_LINK = "/clients/{id}"
TIMELINE_SOURCE = "rapport"
#: PostgreSQL advisory lock key held by a run that writes assignments ("CLIENTBK" in ASCII).
ASSIGNMENT_LOCK = 0x434C49454E54424B


@dataclass
class AssociateLine:
    """One associate's share of a run: who, what they cover, how many clients they get."""

    id: int
    name: str
    role: str
    covers: str
    new_clients: int
    book_size: int


@dataclass
class AssignmentSummary:
    dry_run: bool
    total: int
    associates: list[AssociateLine]
    by_rule: dict[str, int]
    unplaced: dict[str, int]
    seconds: float

    @property
    def counts(self) -> dict[int, int]:
        return {a.id: a.new_clients for a in self.associates}


@dataclass
class SampleMove:
    customer_id: int
    name: str
    to_associate_id: int
    to_name: str
    rule: str


@dataclass
class ReassignPreview:
    """What a reassignment moves (``preview_reassign``) or moved (``reassign``)."""

    from_associate_id: int
    from_name: str
    to_associate_id: int | None
    total: int
    associates: list[AssociateLine]
    unplaced: dict[str, int]
    not_in_book: list[int]
    sample: list[SampleMove] = field(default_factory=list)
    applied: bool = False

    @property
    def counts(self) -> dict[int, int]:
        return {a.id: a.new_clients for a in self.associates}


@dataclass
class _Staffing:
    staff: list[R.Staff]
    names: dict[int, str]
    covers: dict[int, str]
    loads_before: dict[int, int]


# -- assignment --------------------------------------------------------------------------------


def assign_unassigned(
    session: Session, *, dry_run: bool = False, actor: AuditActor = audit.SYSTEM, rules: R.AssignmentRules | None = None
) -> AssignmentSummary:
    """Give every unassigned client (and every client of an inactive associate) an associate by the rules."""
    started = time.perf_counter()
    rules = rules or R.get_rules()
    if not dry_run:
        _take_turns(session)
    inactive = select(ASSOCIATE.c.id).where(ASSOCIATE.c.active.is_(False))
    c = CUSTOMER.c
    guard = and_(c.status == "active", or_(c.assigned_associate_id.is_(None), c.assigned_associate_id.in_(inactive)))
    facts = _client_facts(session, [guard], rules, exclude=())
    staffing = _staffing(session, exclude=())
    planned = R.plan([f for f, _ in facts], staffing.staff, rules)
    previous = {f.id: current for f, current in facts}
    if dry_run:
        moved = _grouped(planned.placements)
    else:
        moved = _write(session, planned.placements, guard)
        placed = [p for p in planned.placements if p.customer_id in moved.get(p.associate_id, ())]
        _timeline(session, placed, previous, staffing, actor)
        if rules.notify:
            _notify_new_clients(session, moved, staffing, placed, handed_over_by=None)
        audit.record_by(
            session,
            actor,
            audit.ASSIGNED,
            detail={
                "total": sum(len(v) for v in moved.values()),
                "counts": {str(a): len(ids) for a, ids in sorted(moved.items())},
                "unplaced": dict(planned.unplaced),
            },
        )
    return AssignmentSummary(
        dry_run=dry_run,
        total=sum(len(v) for v in moved.values()),
        associates=_lines(moved, staffing),
        by_rule=dict(Counter(p.rule for p in planned.placements if p.customer_id in moved.get(p.associate_id, ()))),
        unplaced=dict(planned.unplaced),
        seconds=round(time.perf_counter() - started, 3),
    )


def preview_reassign(
    session: Session,
    from_associate: int,
    to_associate: int | None = None,
    customer_ids: Sequence[int] | None = None,
    *,
    sample_size: int = SAMPLE_SIZE,
    rules: R.AssignmentRules | None = None,
) -> ReassignPreview:
    """What ``reassign`` with the same arguments would move: counts per receiving associate and a sample."""
    preview, placements, staffing = _reassign_plan(
        session, from_associate, to_associate, customer_ids, rules or R.get_rules()
    )
    preview.sample = _sample(session, placements, staffing, sample_size)
    return preview


def reassign(
    session: Session,
    from_associate: int,
    to_associate: int | None = None,
    customer_ids: Sequence[int] | None = None,
    *,
    actor: AuditActor = audit.SYSTEM,
    rules: R.AssignmentRules | None = None,
) -> ReassignPreview:
    """Move one client, some clients or a whole book (``customer_ids`` None) from an associate.

    To ``to_associate``, or — with None — redistributed by the rules among everyone else (the
    usual step when an associate leaves; clients the rules cannot place stay in the book and
    are counted in ``unplaced``). Writes the timeline, notifies each receiving associate once,
    and audits the move.
    """
    rules = rules or R.get_rules()
    _take_turns(session)
    preview, placements, staffing = _reassign_plan(session, from_associate, to_associate, customer_ids, rules)
    guard = and_(CUSTOMER.c.status == "active", CUSTOMER.c.assigned_associate_id == from_associate)
    moved = _write(session, placements, guard)
    placed = [p for p in placements if p.customer_id in moved.get(p.associate_id, ())]
    _timeline(session, placed, dict.fromkeys((p.customer_id for p in placed), from_associate), staffing, actor)
    if rules.notify:
        _notify_new_clients(session, moved, staffing, placed, handed_over_by=preview.from_name)
    only = placed[0].customer_id if len(placed) == 1 else None
    audit.record_by(
        session,
        actor,
        audit.REASSIGNED,
        customer_id=only,
        detail={
            "from_associate_id": from_associate,
            "to_associate_id": to_associate,
            "total": len(placed),
            "counts": {str(a): len(ids) for a, ids in sorted(moved.items())},
            "customer_ids": sorted(p.customer_id for p in placed)[:100],
        },
    )
    preview.total = len(placed)
    preview.associates = _lines(moved, staffing)
    preview.applied = True
    return preview


def _reassign_plan(
    session: Session,
    from_id: int,
    to_id: int | None,
    customer_ids: Sequence[int] | None,
    rules: R.AssignmentRules,
) -> tuple[ReassignPreview, list[R.Placement], _Staffing]:
    people = {
        r.id: r
        for r in session.execute(select(ASSOCIATE).where(ASSOCIATE.c.id.in_(sorted({from_id, to_id or from_id}))))
    }
    if from_id not in people:
        raise NotFound(f"associate {from_id} not found")
    if to_id is not None:
        if to_id not in people:
            raise NotFound(f"associate {to_id} not found")
        if to_id == from_id:
            raise InvalidRecord.one("to_associate_id", "is the associate the clients are moving from")
        if not people[to_id].active:
            raise Conflict(f"associate {to_id} ({people[to_id].display_name}) is inactive")
    wanted = sorted(set(customer_ids)) if customer_ids is not None else None
    if wanted is not None and len(wanted) > MAX_CUSTOMER_IDS:
        raise InvalidRecord.one("customer_ids", f"at most {MAX_CUSTOMER_IDS:,} at a time; omit them to move a book")
    c = CUSTOMER.c
    scope: list[ColumnElement[bool]] = [c.status == "active", c.assigned_associate_id == from_id]
    not_in_book: list[int] = []
    if wanted is not None:
        scope.append(c.id.in_(wanted) if wanted else false())
    staffing = _staffing(session, exclude=(from_id,))
    if to_id is None:
        facts = _client_facts(session, scope, rules, exclude=(from_id,))
        found = {f.id for f, _ in facts}
        planned = R.plan([f for f, _ in facts], staffing.staff, rules)
        placements, unplaced = planned.placements, dict(planned.unplaced)
    else:
        found = set(session.scalars(select(c.id).where(*scope)))
        placements = [R.Placement(cid, to_id, R.MANUAL) for cid in sorted(found)]
        unplaced = {}
    if wanted is not None:
        not_in_book = [cid for cid in wanted if cid not in found]
    preview = ReassignPreview(
        from_associate_id=from_id,
        from_name=people[from_id].display_name,
        to_associate_id=to_id,
        total=len(placements),
        associates=_lines(_grouped(placements), staffing),
        unplaced=unplaced,
        not_in_book=not_in_book,
    )
    return preview, placements, staffing


def _take_turns(session: Session) -> None:
    """Assignment runs and reassignments update many clients, associate by associate; two at once on
    PostgreSQL could lock rows in opposite orders and deadlock, so they take turns on a transaction-scoped
    advisory lock (and each plans from what the previous one committed). SQLite's writers already queue.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ASSIGNMENT_LOCK)))


# -- reading what the rules need ---------------------------------------------------------------


def _client_facts(
    session: Session, scope: list[ColumnElement[bool]], rules: R.AssignmentRules, exclude: Sequence[int]
) -> list[tuple[R.ClientFacts, int | None]]:
    """The clients in ``scope`` with what the rules need: ``(facts, current associate)``, in id order.

    Five statements whatever the number of clients, each restricted to the clients in scope by a
    semi-join: the clients; their store sales grouped by associate and by store; their addresses;
    who has any order at all. Picking the winner of each group is a pass over the grouped rows.
    (One statement joining these as derived tables is what SQLite cannot plan: it nests loops
    over unindexed subqueries and takes minutes at 20,000 clients.)
    """
    c, o, a, ad = CUSTOMER, ORDER, ASSOCIATE, ADDRESS
    in_scope = select(c.c.id).where(*scope)
    clients = session.execute(
        select(c.c.id, c.c.country, c.c.home_location_id, c.c.assigned_associate_id).where(*scope).order_by(c.c.id)
    ).all()
    if not clients:
        return []
    store_sale = [
        o.c.customer_id.in_(in_scope),
        o.c.channel.in_(list(rules.store_channels)),
        o.c.status != "cancelled",
    ]
    eligible = select(a.c.id).where(a.c.active.is_(True), a.c.id.not_in(list(exclude)))
    by_seller = session.execute(
        select(o.c.customer_id, o.c.associate_id, func.count(), func.max(o.c.placed_at))
        .where(*store_sale, o.c.associate_id.in_(eligible))
        .group_by(o.c.customer_id, o.c.associate_id)
    ).all()
    by_store = session.execute(
        select(o.c.customer_id, o.c.location_id, func.count(), func.max(o.c.placed_at))
        .where(*store_sale)
        .group_by(o.c.customer_id, o.c.location_id)
    ).all()
    addresses = session.execute(
        select(ad.c.customer_id, ad.c.country, ad.c.region)
        .where(ad.c.customer_id.in_(in_scope))
        .order_by(ad.c.customer_id, ad.c.is_primary.desc(), ad.c.id)
    ).all()
    buyers = set(
        session.scalars(
            select(o.c.customer_id).where(o.c.customer_id.in_(in_scope), o.c.status != "cancelled").distinct()
        )
    )
    top_seller = _winners(by_seller)
    top_store = _winners([r for r in by_store if r[1] is not None])
    store_sales: Counter[int] = Counter()
    for customer_id, _location, n, _last in by_store:
        store_sales[customer_id] += int(n)
    place: dict[int, tuple[str | None, str | None]] = {}
    for customer_id, country, region in addresses:
        place.setdefault(customer_id, (country, region))
    out = []
    for r in clients:
        country, region = place.get(r.id, (None, None))
        facts = R.ClientFacts(
            id=r.id,
            store_sales=store_sales[r.id],
            top_seller_id=top_seller.get(r.id),
            any_orders=r.id in buyers,
            store_id=r.home_location_id if r.home_location_id is not None else top_store.get(r.id),
            country=country or r.country,
            region=region,
        )
        out.append((facts, r.assigned_associate_id))
    return out


def _winners(rows: Sequence[Any]) -> dict[int, int]:
    """``(customer, candidate, count, latest)`` rows → each customer's winner: most, then latest, then lowest id."""
    best: dict[int, tuple[int, Any, int]] = {}
    for customer_id, candidate, n, last in rows:
        current = best.get(customer_id)
        if current is None or (int(n), last, -candidate) > (current[0], current[1], -current[2]):
            best[customer_id] = (int(n), last, candidate)
    return {customer_id: won[2] for customer_id, won in best.items()}


def _staffing(session: Session, exclude: Sequence[int]) -> _Staffing:
    """Active associates (less ``exclude``) with their stores, regions and the size of their books."""
    a, al, loc, c = ASSOCIATE, ASSOCIATE_LOCATION, LOCATION, CUSTOMER
    rows = session.execute(
        select(a.c.id, a.c.display_name, a.c.role, a.c.regions, a.c.home_location_id, loc.c.name.label("store"))
        .select_from(a.outerjoin(loc, loc.c.id == a.c.home_location_id))
        .where(a.c.active.is_(True), a.c.id.not_in(list(exclude)))
        .order_by(a.c.id)
    ).all()
    stores: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        if r.home_location_id is not None:
            stores[r.id].add(r.home_location_id)
    ids = [r.id for r in rows]
    for associate_id, location_id in session.execute(
        select(al.c.associate_id, al.c.location_id).where(al.c.associate_id.in_(ids))
    ):
        stores[associate_id].add(location_id)
    loads: dict[int, int] = {
        aid: int(n)
        for aid, n in session.execute(
            select(c.c.assigned_associate_id, func.count())
            .where(c.c.status == "active", c.c.assigned_associate_id.in_(ids))
            .group_by(c.c.assigned_associate_id)
        )
    }
    staff, names, covers = [], {}, {}
    for r in rows:
        regions = R.normalise_regions(r.regions)
        staff.append(R.Staff(r.id, r.role, int(loads.get(r.id, 0)), regions, frozenset(stores[r.id])))
        names[r.id] = r.display_name
        covers[r.id] = ", ".join(sorted(regions)) if r.role == "virtual_associate" else (r.store or "")
    return _Staffing(staff, names, covers, {s.id: s.load for s in staff})


# -- writing -----------------------------------------------------------------------------------


def _grouped(placements: Sequence[R.Placement]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for p in placements:
        out[p.associate_id].add(p.customer_id)
    return dict(out)


def _write(session: Session, placements: Sequence[R.Placement], guard: ColumnElement[bool]) -> dict[int, set[int]]:
    """One guarded UPDATE per associate and chunk; the ids that really moved, per associate."""
    now = clock.now()
    moved: dict[int, set[int]] = {}
    for associate_id, ids in sorted(_grouped(placements).items()):
        wanted = sorted(ids)
        got: set[int] = set()
        for i in range(0, len(wanted), CHUNK):
            stmt = (
                update(CUSTOMER)
                .where(CUSTOMER.c.id.in_(wanted[i : i + CHUNK]), guard)
                .values(assigned_associate_id=associate_id, updated_at=now)
                .returning(CUSTOMER.c.id)
            )
            got.update(session.scalars(stmt))
        if got:
            moved[associate_id] = got
    if moved:  # after commit: next actions follow the clients to their new associates and welcome them
        events.publish(session, "clients.assigned", ids=sorted(i for ids in moved.values() for i in ids))
    return moved


def _summary(p: R.Placement, staffing: _Staffing, actor: AuditActor) -> str:
    name = staffing.names.get(p.associate_id, f"associate {p.associate_id}")
    if p.rule == R.ONLINE_REGION:
        return f"Assigned to {name} (online expert, {p.region})"
    if p.rule == R.STORE_SALES:
        return f"Assigned to {name} (most store sales)"
    if p.rule == R.STORE_TEAM:
        store = staffing.covers.get(p.associate_id) or "store"
        return f"Assigned to {name} ({store} team)"
    return f"Assigned to {name} by {actor.label}"


def _timeline(
    session: Session,
    placed: Sequence[R.Placement],
    previous: dict[int, int | None],
    staffing: _Staffing,
    actor: AuditActor,
) -> None:
    now = clock.now()
    run = f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
    actor_kind, actor_id = ("associate", actor.id) if actor.kind == "associate" else ("system", None)
    entries = [
        timeline.entry(
            customer_id=p.customer_id,
            kind="profile",
            summary=_summary(p, staffing, actor),
            source=TIMELINE_SOURCE,
            external_id=f"clientbook:{run}:{p.customer_id}",
            occurred_at=now,
            actor_kind=actor_kind,
            actor_id=actor_id,
            ref_type="associate",
            ref_id=p.associate_id,
            data={
                "change": "assigned_associate",
                "associate_id": p.associate_id,
                "previous_associate_id": previous.get(p.customer_id),
                "rule": p.rule,
                "region": p.region,
                "by": actor.label,
            },
        )
        for p in placed
    ]
    timeline.append(session, entries)


def _notify_new_clients(
    session: Session,
    moved: dict[int, set[int]],
    staffing: _Staffing,
    placed: Sequence[R.Placement],
    *,
    handed_over_by: str | None,
) -> None:
    """One notification per receiving associate, naming a few of their new clients."""
    if not moved:
        return
    firsts = {a: sorted(ids)[:3] for a, ids in moved.items()}
    names = _names(session, [cid for ids in firsts.values() for cid in ids])
    regions = defaultdict(set)
    for p in placed:
        if p.region:
            regions[p.associate_id].add(p.region)
    items = []
    for associate_id, ids in sorted(moved.items()):
        n = len(ids)
        shown = [names.get(cid, f"Client #{cid}") for cid in firsts[associate_id]]
        listed = ", ".join(shown) + (f" and {n - len(shown):,} more" if n > len(shown) else "")
        where = f" ({', '.join(sorted(regions[associate_id]))})" if regions[associate_id] else ""
        origin = f" from {handed_over_by}'s book" if handed_over_by else ""
        title = f"New client: {shown[0]}" if n == 1 else f"{n:,} new clients in your book"
        only = firsts[associate_id][0] if n == 1 else None
        items.append(
            notifications.Outgoing(
                associate_id=associate_id,
                kind="clients_assigned",
                title=title,
                body=f"{listed} {'was' if n == 1 else 'were'} assigned to you{origin}{where}.",
                link=CLIENT_LINK.format(id=only) if only else BOOK_LINK,
                customer_id=only,
            )
        )
    notifications.notify_many(session, items)


def _names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    c = CUSTOMER.c
    rows = session.execute(select(c.id, c.first_name, c.last_name).where(c.id.in_(list(ids))))
    return {r.id: " ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.id}" for r in rows}


def _lines(moved: dict[int, set[int]], staffing: _Staffing) -> list[AssociateLine]:
    roles = {s.id: s.role for s in staffing.staff}
    out = [
        AssociateLine(
            id=a,
            name=staffing.names.get(a, f"associate {a}"),
            role=roles.get(a, ""),
            covers=staffing.covers.get(a, ""),
            new_clients=len(ids),
            book_size=staffing.loads_before.get(a, 0) + len(ids),
        )
        for a, ids in moved.items()
    ]
    out.sort(key=lambda line: (-line.new_clients, line.id))
    return out


def _sample(session: Session, placements: Sequence[R.Placement], staffing: _Staffing, size: int) -> list[SampleMove]:
    """The first ``size`` moves (by client id), named, for the manager to check before confirming."""
    first = sorted(placements, key=lambda p: p.customer_id)[: max(size, 0)]
    names = _names(session, [p.customer_id for p in first])
    return [
        SampleMove(
            customer_id=p.customer_id,
            name=names.get(p.customer_id, f"Client #{p.customer_id}"),
            to_associate_id=p.associate_id,
            to_name=staffing.names.get(p.associate_id, f"associate {p.associate_id}"),
            rule=p.rule,
        )
        for p in first
    ]
