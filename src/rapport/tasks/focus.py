"""The associate's side of next actions: today's focus list, every live task by when it is due, the
daily goal, a client's tasks and a team's completion. (Acting on a task: :mod:`rapport.tasks.actions`.)

**The focus list** is the few tasks most worth doing today: expected value = the task's ``score``
(client value + intent + priority, set when it was raised) x its time sensitivity, worked out at
read time, so a task gains weight as it nears its expiry without anything being rewritten:

* expiring within 48 hours: x2 (the occasion is about to pass),
* overdue (due before today): x1.5; due today: x1.2,
* not due yet: not on the focus list at all (it waits in "this week" / "later").

The associate's own tasks and their stores' team queue (``associate_id`` empty, ``location_id``
one of their stores) are ranked together. "Today" is the day in the associate's home store's
timezone. Statuses are read as they are *now*: a snoozed task whose time has come counts as open
and a task past its expiry as expired, even before the sweep writes it so.

Every read is a bounded statement on the task indexes (``ix_task_associate_status_due``,
``ix_task_location_status_due``, ``ix_task_customer_status``) joined to the client, whose name and
status come in the same row: no query per task. Only tasks of active clients are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Integer, and_, bindparam, case, false, func, literal, or_, select, true, tuple_, union
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport import clock, pagination
from rapport.associates.home import HomeItem, register_section
from rapport.associates.models import Associate, AssociateLocation
from rapport.associates.permissions import ADMIN, STORE_MANAGER, Actor
from rapport.associates.users import StoreRef
from rapport.customers.models import Customer
from rapport.db import UTCDateTime, one_of
from rapport.errors import InvalidRecord, NotFound, PermissionDenied
from rapport.inventory.models import Location
from rapport.tasks import config
from rapport.tasks.models import LIVE_STATUSES, TASK_OUTCOMES, TASK_STATUSES, TASK_TYPES, Task

#: Time sensitivity (see the module's docstring).
EXPIRING_WITHIN = timedelta(hours=48)
EXPIRING_FACTOR = 2.0
OVERDUE_FACTOR = 1.5
DUE_TODAY_FACTOR = 1.2
#: The full list's groups, in order; snoozed tasks are listed apart.
GROUPS = ("overdue", "today", "week", "later")
#: Live tasks listed at most on the full list (the rest are counted).
LIST_LIMIT = 300
#: A client's finished tasks shown on the profile: this recent, at most this many.
RECENT_DAYS = 90
RECENT_LIMIT = 10
DEFAULT_PAGE = 50
MAX_PAGE = 200
OUTCOME_LABELS = {
    "contacted": "Contacted",
    "sale": "Sale",
    "no_answer": "No answer",
    "not_interested": "Not interested",
}


# -- shapes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workday:
    """Whose tasks, which stores' team queues, and where "today" starts and ends for them."""

    associate_id: int
    store_ids: frozenset[int]
    timezone: str
    start: datetime
    end: datetime

    @property
    def week_end(self) -> datetime:
        return self.end + timedelta(days=6)


@dataclass
class TaskView:
    """A task as the screens and the API show it: its status as of now, its client's name, its weight today."""

    id: int
    customer_id: int
    client_name: str
    client_tier: str | None
    associate_id: int | None
    location_id: int | None
    type: str
    title: str
    reason: str
    facts: dict[str, Any]
    outreach: bool
    channel: str | None
    product_id: int | None
    campaign_id: int | None
    suggested_message: str | None
    priority: int
    score: int
    status: str
    due_at: datetime
    expires_at: datetime
    snoozed_until: datetime | None
    outcome: str | None
    outcome_note: str | None
    completed_at: datetime | None
    completed_by_id: int | None
    created_at: datetime
    updated_at: datetime
    #: Time sensitivity now (1.0 = none) and expected value (score x urgency).
    urgency: float = 1.0
    value: float = 0.0
    #: What makes it pressing: "overdue", "due_today", "expiring" (may be several), or "not_due".
    signals: tuple[str, ...] = ()

    @property
    def team_queue(self) -> bool:
        return self.associate_id is None

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome or "", "")


@dataclass(frozen=True)
class Goal:
    done: int
    target: int

    @property
    def reached(self) -> bool:
        return self.done >= self.target


@dataclass
class FocusList:
    day: Workday
    tasks: list[TaskView]
    goal: Goal
    #: Live tasks (open and snoozed, any due date) behind the focus list.
    live_total: int


@dataclass
class TaskList:
    day: Workday
    groups: dict[str, list[TaskView]]
    snoozed: list[TaskView]
    goal: Goal
    total: int
    #: More live tasks than :data:`LIST_LIMIT`: the latest-due ones are not listed.
    truncated: bool


@dataclass
class ClientTasks:
    live: list[TaskView]
    recent: list[TaskView]


@dataclass
class TeamLine:
    """One associate's completion over a period (``associate_id`` None: the stores' team queue)."""

    associate_id: int | None
    name: str
    open: int = 0
    overdue: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TASK_OUTCOMES, 0))
    dismissed: int = 0
    expired: int = 0

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    @property
    def closed(self) -> int:
        return self.done + self.dismissed + self.expired

    @property
    def completion_rate(self) -> float | None:
        """Done out of the tasks that came to an end in the period (done, dismissed or expired)."""
        return None if self.closed == 0 else self.done / self.closed


@dataclass
class TaskPage:
    tasks: list[TaskView]
    next_cursor: str | None


# -- when is today ---------------------------------------------------------------------------------


def workday(session: Session, associate_id: int, now: datetime | None = None) -> Workday:
    """The associate's stores and today's bounds in their home store's timezone (UTC without one)."""
    now = now or clock.now()
    row = session.execute(
        select(Associate.home_location_id, Location.timezone)
        .outerjoin(Location, Location.id == Associate.home_location_id)
        .where(Associate.id == associate_id)
    ).first()
    if row is None:
        raise NotFound(f"associate {associate_id} not found")
    stores: set[int] = set(
        session.scalars(select(AssociateLocation.location_id).where(AssociateLocation.associate_id == associate_id))
    )
    if row.home_location_id is not None:
        stores.add(row.home_location_id)
    name = row.timezone or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name, zone = "UTC", ZoneInfo("UTC")
    local = now.astimezone(zone)
    start_local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Through UTC so a day with a daylight-saving change is 23 or 25 hours long, as it is in the store.
    start = start_local.astimezone(UTC)
    end = (start_local.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone).astimezone(UTC)
    return Workday(associate_id, frozenset(stores), name, start, end)


def _mine(day: Workday) -> ColumnElement[bool]:
    """The associate's own tasks and their stores' team queues (each side on its own index)."""
    own = Task.associate_id == day.associate_id
    if not day.store_ids:
        return own
    queue = and_(Task.associate_id.is_(None), Task.location_id.in_(sorted(day.store_ids)))
    return or_(own, queue)


def _open_now(now: datetime) -> ColumnElement[bool]:
    """Open as of now: open, or snoozed until a moment already past; not yet expired."""
    return and_(
        or_(Task.status == "open", and_(Task.status == "snoozed", Task.snoozed_until <= now)),
        Task.expires_at > now,
    )


def _snoozed_now(now: datetime) -> ColumnElement[bool]:
    return and_(Task.status == "snoozed", Task.snoozed_until > now, Task.expires_at > now)


def _status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """A status as it is now (the sweep may not have written it yet)."""
    if status == "open":
        return _open_now(now)
    if status == "snoozed":
        return _snoozed_now(now)
    if status == "expired":
        return or_(Task.status == "expired", and_(Task.status.in_(LIVE_STATUSES), Task.expires_at <= now))
    return Task.status == status


def current_status(task: Task, now: datetime) -> str:
    if task.status in LIVE_STATUSES:
        if task.expires_at <= now:
            return "expired"
        if task.status == "snoozed" and task.snoozed_until is not None and task.snoozed_until <= now:
            return "open"
    return task.status


def urgency(task: Task | TaskView, now: datetime, day: Workday) -> tuple[float, tuple[str, ...]]:
    """Time sensitivity now, and what makes it pressing (the same factors as the focus query's)."""
    signals: list[str] = []
    factor = 1.0
    if task.due_at >= day.end:
        signals.append("not_due")
    elif task.due_at < day.start:
        signals.append("overdue")
        factor *= OVERDUE_FACTOR
    else:
        signals.append("due_today")
        factor *= DUE_TODAY_FACTOR
    if task.expires_at <= now + EXPIRING_WITHIN:
        signals.append("expiring")
        factor *= EXPIRING_FACTOR
    return factor, tuple(signals)


def _urgency_sql(now: datetime, day: Workday) -> Any:
    expiring = case((Task.expires_at <= now + EXPIRING_WITHIN, literal(EXPIRING_FACTOR)), else_=literal(1.0))
    when_due = case((Task.due_at < day.start, literal(OVERDUE_FACTOR)), else_=literal(DUE_TODAY_FACTOR))
    return Task.score * expiring * when_due


_CLIENT = (Customer.first_name, Customer.last_name, Customer.tier)


def _with_client(*conditions: ColumnElement[bool]) -> Any:
    return (
        select(Task, *_CLIENT)
        .join(Customer, Customer.id == Task.customer_id)
        .where(Customer.status == "active", *conditions)
    )


def _view(row: Any, now: datetime, day: Workday | None = None) -> TaskView:
    task: Task = row[0]
    first, last, tier = row[1], row[2], row[3]
    view = TaskView(
        id=task.id,
        customer_id=task.customer_id,
        client_name=" ".join(p for p in (first, last) if p) or f"Client #{task.customer_id}",
        client_tier=tier,
        associate_id=task.associate_id,
        location_id=task.location_id,
        type=task.type,
        title=task.title,
        reason=task.reason,
        facts=dict(task.facts or {}),
        outreach=task.outreach,
        channel=task.channel,
        product_id=task.product_id,
        campaign_id=task.campaign_id,
        suggested_message=task.suggested_message,
        priority=task.priority,
        score=task.score,
        status=current_status(task, now),
        due_at=task.due_at,
        expires_at=task.expires_at,
        snoozed_until=None,
        outcome=task.outcome,
        outcome_note=task.outcome_note,
        completed_at=task.completed_at,
        completed_by_id=task.completed_by_id,
        created_at=task.created_at,
        updated_at=task.updated_at,
    )
    if view.status == "snoozed":
        view.snoozed_until = task.snoozed_until
    if day is not None and view.live:
        view.urgency, view.signals = urgency(task, now, day)
        view.value = round(task.score * view.urgency, 2)
    return view


# -- the associate's lists -----------------------------------------------------------------------


#: The focus list reads this many times its size, best first, to choose a varied few.
_LOOK_AHEAD = 4


def _varied(rows: Sequence[Any], size: int) -> list[Any]:
    """The best ``size`` rows, with no more than half of them (rounded up) of one task type while
    others are waiting: five refills in a row make a poorer day than a refill, a birthday and a
    try-on. Rows are ranked best first, each ``(Task, client columns...)``."""
    cap = max(1, -(-size // 2))
    chosen: list[Any] = []
    held: list[Any] = []
    per_type: dict[str, int] = {}
    for row in rows:
        if len(chosen) == size:
            break
        kind = row[0].type
        if per_type.get(kind, 0) >= cap:
            held.append(row)
            continue
        per_type[kind] = per_type.get(kind, 0) + 1
        chosen.append(row)
    chosen.extend(held[: size - len(chosen)])
    order = {id(r): i for i, r in enumerate(rows)}
    return sorted(chosen, key=lambda r: order[id(r)])


def focus_list(session: Session, associate_id: int, now: datetime | None = None) -> FocusList:
    """Today's few tasks most worth doing, best first, with the daily goal (one statement for the tasks)."""
    now = now or clock.now()
    day = workday(session, associate_id, now)
    settings = config.settings(session)["focus"]
    size = int(settings["size"])
    rank = _urgency_sql(now, day)
    rows = session.execute(
        _with_client(_mine(day), _open_now(now), Task.due_at < day.end)
        .order_by(rank.desc(), Task.expires_at, Task.due_at, Task.id)
        .limit(size * _LOOK_AHEAD)
    ).all()
    tasks = [_view(r, now, day) for r in _varied(rows, size)]
    live_total = session.scalar(
        select(func.count())
        .select_from(Task)
        .join(Customer, Customer.id == Task.customer_id)
        .where(Customer.status == "active", _mine(day), Task.status.in_(LIVE_STATUSES), Task.expires_at > now)
    )
    return FocusList(day, tasks, goal_progress(session, day, int(settings["daily_goal"])), int(live_total or 0))


def goal_progress(session: Session, day: Workday, target: int | None = None) -> Goal:
    """Tasks this associate completed today (store day), against the retailer's daily goal.

    Counted among their own tasks and their stores' team queues (the two indexes); a task done for
    someone else's client (a manager stepping in) counts towards that person's day, not this one.
    """
    if target is None:
        target = int(config.settings(session)["focus"]["daily_goal"])
    done = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            _mine(day),
            Task.status == "done",
            Task.completed_by_id == day.associate_id,
            Task.completed_at >= day.start,
            Task.completed_at < day.end,
        )
    )
    return Goal(int(done or 0), target)


def task_list(session: Session, associate_id: int, now: datetime | None = None) -> TaskList:
    """Every live task, grouped by when it is due (overdue, today, this week, later); snoozed apart."""
    now = now or clock.now()
    day = workday(session, associate_id, now)
    rows = session.execute(
        _with_client(_mine(day), Task.status.in_(LIVE_STATUSES), Task.expires_at > now)
        .order_by(Task.due_at, Task.id)
        .limit(LIST_LIMIT + 1)
    ).all()
    truncated = len(rows) > LIST_LIMIT
    groups: dict[str, list[TaskView]] = {g: [] for g in GROUPS}
    snoozed: list[TaskView] = []
    for row in rows[:LIST_LIMIT]:
        view = _view(row, now, day)
        if view.status == "snoozed":
            snoozed.append(view)
        elif view.due_at < day.start:
            groups["overdue"].append(view)
        elif view.due_at < day.end:
            groups["today"].append(view)
        elif view.due_at < day.week_end:
            groups["week"].append(view)
        else:
            groups["later"].append(view)
    for name in ("overdue", "today"):  # what is due now: worth most first, as on the focus list
        groups[name].sort(key=lambda v: (-v.value, v.expires_at, v.id))
    snoozed.sort(key=lambda v: (v.snoozed_until or v.due_at, v.id))
    total = len(rows[:LIST_LIMIT])
    if truncated:
        total = int(
            session.scalar(
                select(func.count())
                .select_from(Task)
                .join(Customer, Customer.id == Task.customer_id)
                .where(Customer.status == "active", _mine(day), Task.status.in_(LIVE_STATUSES), Task.expires_at > now)
            )
            or 0
        )
    return TaskList(day, groups, snoozed, goal_progress(session, day), total, truncated)


def customer_tasks(session: Session, customer_id: int, now: datetime | None = None) -> ClientTasks:
    """A client's live tasks (soonest due first) and those finished in the last 90 days (latest first)."""
    now = now or clock.now()
    live_rows = session.execute(
        _with_client(Task.customer_id == customer_id, Task.status.in_(LIVE_STATUSES), Task.expires_at > now)
        .order_by(Task.due_at, Task.id)
        .limit(LIST_LIMIT)
    ).all()
    since = now - timedelta(days=RECENT_DAYS)
    recent_rows = session.execute(
        _with_client(
            Task.customer_id == customer_id,
            Task.status.in_(("done", "dismissed", "expired", *LIVE_STATUSES)),
            or_(
                and_(Task.status.in_(("done", "dismissed")), Task.completed_at >= since),
                and_(Task.status == "expired", Task.expires_at >= since),
                and_(Task.status.in_(LIVE_STATUSES), Task.expires_at <= now, Task.expires_at >= since),
            ),
        )
        .order_by(func.coalesce(Task.completed_at, Task.expires_at).desc(), Task.id.desc())
        .limit(RECENT_LIMIT)
    ).all()
    return ClientTasks([_view(r, now) for r in live_rows], [_view(r, now) for r in recent_rows])


def get_view(session: Session, task_id: int, now: datetime | None = None) -> TaskView:
    now = now or clock.now()
    row = session.execute(
        select(Task, *_CLIENT).join(Customer, Customer.id == Task.customer_id).where(Task.id == task_id)
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    return _view(row, now)


def owner_labels(session: Session, tasks: Iterable[TaskView]) -> dict[int, str]:
    """Whose each task is, for a client's profile: "Ana Duval", or "Paris Saint-Honoré team" (two statements)."""
    tasks = list(tasks)
    people = sorted({t.associate_id for t in tasks if t.associate_id is not None})
    stores = sorted({t.location_id for t in tasks if t.associate_id is None and t.location_id is not None})
    names: dict[int, str] = {}
    if people:
        rows = session.execute(select(Associate.id, Associate.display_name).where(Associate.id.in_(people)))
        names = {aid: name for aid, name in rows}
    store_names: dict[int, str] = {}
    if stores:
        found = session.execute(select(Location.id, Location.name).where(Location.id.in_(stores)))
        store_names = {lid: name for lid, name in found}
    out = {}
    for t in tasks:
        if t.associate_id is not None:
            out[t.id] = names.get(t.associate_id, f"Associate #{t.associate_id}")
        elif t.location_id is not None:
            out[t.id] = f"{store_names.get(t.location_id, 'Store')} team"
        else:
            out[t.id] = "No one yet"
    return out


# -- the API's list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which tasks someone may see: everything, or some owners' tasks plus some stores' tasks."""

    everything: bool = False
    associate_ids: frozenset[int] = frozenset()
    store_ids: frozenset[int] = frozenset()
    #: Only the stores' team queues (an associate), or every task of the stores (a manager).
    queue_only: bool = True

    def condition(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        parts: list[ColumnElement[bool]] = []
        if self.associate_ids:
            parts.append(Task.associate_id.in_(sorted(self.associate_ids)))
        if self.store_ids:
            at_store = Task.location_id.in_(sorted(self.store_ids))
            parts.append(and_(Task.associate_id.is_(None), at_store) if self.queue_only else at_store)
        return or_(*parts) if parts else false()


@dataclass(frozen=True)
class TaskFilters:
    associate_id: int | None = None
    customer_id: int | None = None
    status: str | None = None
    type: str | None = None
    due_before: datetime | None = None


def scope_for(session: Session, actor: Actor) -> Scope:
    """Admins and tokens see every task; a manager their own, their team's and their stores'; anyone
    else their own and their stores' team queues."""
    if not actor.is_associate or actor.role == ADMIN:
        return Scope(everything=True)
    if actor.role == STORE_MANAGER:
        return Scope(
            associate_ids=frozenset({actor.id, *team_of(session, actor.store_ids)}),
            store_ids=actor.store_ids,
            queue_only=False,
        )
    return Scope(associate_ids=frozenset({actor.id}), store_ids=actor.store_ids)


def team_of(session: Session, store_ids: Iterable[int]) -> list[int]:
    """The associates working in these stores (home store or listed), in one statement."""
    stores = sorted(set(store_ids))
    if not stores:
        return []
    home = select(Associate.id).where(Associate.home_location_id.in_(stores))
    listed = select(AssociateLocation.associate_id).where(AssociateLocation.location_id.in_(stores))
    return sorted(session.scalars(union(home, listed)))


def list_tasks(
    session: Session,
    scope: Scope,
    filters: TaskFilters,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    now: datetime | None = None,
) -> TaskPage:
    """A page of the tasks in ``scope`` matching ``filters``, soonest due first (keyset on due, id)."""
    now = now or clock.now()
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRecord.one("limit", f"must be between 1 and {MAX_PAGE}")
    conditions: list[ColumnElement[bool]] = [scope.condition()]
    if filters.associate_id is not None:
        conditions.append(Task.associate_id == filters.associate_id)
    if filters.customer_id is not None:
        conditions.append(Task.customer_id == filters.customer_id)
    if filters.status is not None:
        if filters.status not in TASK_STATUSES:
            raise InvalidRecord.one("status", f"must be one of {', '.join(TASK_STATUSES)}")
        conditions.append(_status_is(filters.status, now))
    if filters.type is not None:
        if filters.type not in TASK_TYPES:
            raise InvalidRecord.one("type", f"must be one of {', '.join(TASK_TYPES)}")
        conditions.append(Task.type == filters.type)
    if filters.due_before is not None:
        conditions.append(Task.due_at < filters.due_before)
    if cursor:
        at, last_id = pagination.decode_cursor(cursor, field="cursor", what="task list")
        conditions.append(
            tuple_(Task.due_at, Task.id)
            > tuple_(bindparam("c_at", at, type_=UTCDateTime()), bindparam("c_id", last_id, type_=Integer()))
        )
    rows = session.execute(_with_client(*conditions).order_by(Task.due_at, Task.id).limit(limit + 1)).all()
    views = [_view(r, now) for r in rows[:limit]]
    more = len(rows) > limit
    return TaskPage(views, pagination.encode_cursor(views[-1].due_at, views[-1].id) if more else None)


# -- a team's completion -------------------------------------------------------------------------


def team_completion(
    session: Session,
    location_ids: Iterable[int],
    since: datetime,
    until: datetime,
    now: datetime | None = None,
) -> list[TeamLine]:
    """Per associate of these stores (and their team queue): open and overdue now; done by outcome,
    dismissed and expired in ``[since, until)``; the completion rate. One grouped statement for the
    counts, one for the names.

    Done and dismissed tasks count for whoever closed them (a team-queue task done by Ana is Ana's);
    open and expired ones for their owner.
    """
    now = now or clock.now()
    stores = sorted(set(location_ids))
    if not stores:
        return []
    members = team_of(session, stores)
    closed = Task.status.in_(("done", "dismissed"))
    who = case((closed, func.coalesce(Task.completed_by_id, Task.associate_id)), else_=Task.associate_id)
    live = and_(Task.status.in_(LIVE_STATUSES), Task.expires_at > now)
    expired = or_(Task.status == "expired", and_(Task.status.in_(LIVE_STATUSES), Task.expires_at <= now))
    in_period = and_(Task.completed_at >= since, Task.completed_at < until)
    expired_in_period = and_(expired, Task.expires_at >= since, Task.expires_at < until)

    def count(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    owners: list[ColumnElement[bool]] = [and_(Task.associate_id.is_(None), Task.location_id.in_(stores))]
    if members:
        owners.append(one_of(session, Task.associate_id, members))
        owners.append(and_(closed, one_of(session, Task.completed_by_id, members)))
    stmt = (
        select(
            who.label("who"),
            count(live),
            count(and_(live, Task.due_at < now)),
            *(count(and_(Task.status == "done", Task.outcome == o, in_period)) for o in TASK_OUTCOMES),
            count(and_(Task.status == "dismissed", in_period)),
            count(expired_in_period),
        )
        .join(Customer, Customer.id == Task.customer_id)
        .where(
            Customer.status == "active",
            or_(*owners),
            or_(live, and_(closed, in_period), expired_in_period),
        )
        .group_by(who)
    )
    lines: dict[int | None, TeamLine] = {}
    for row in session.execute(stmt):
        line = TeamLine(row[0], "")
        line.open, line.overdue = int(row[1] or 0), int(row[2] or 0)
        for i, outcome in enumerate(TASK_OUTCOMES):
            line.outcomes[outcome] = int(row[3 + i] or 0)
        line.dismissed, line.expired = int(row[3 + len(TASK_OUTCOMES)] or 0), int(row[4 + len(TASK_OUTCOMES)] or 0)
        lines[line.associate_id] = line
    ids = sorted({*members, *(k for k in lines if k is not None)})
    names: dict[int, tuple[str, bool]] = {}
    if ids:
        for aid, name, active in session.execute(
            select(Associate.id, Associate.display_name, Associate.active).where(one_of(session, Associate.id, ids))
        ):
            names[aid] = (name, active)
    out: list[TeamLine] = []
    for aid in ids:
        name, active = names.get(aid, (f"Associate #{aid}", False))
        line = lines.get(aid) or TeamLine(aid, name)
        if not active and aid not in lines:
            continue  # someone who left, with nothing in the period
        line.name = name
        out.append(line)
    out.sort(key=lambda line: line.name.lower())
    queue = lines.get(None)
    if queue is not None:
        queue.name = "Team queue"
        out.append(queue)
    return out


@dataclass
class TeamReport:
    """The team view: the stores one may pick, those reported on, the period and a line per associate."""

    stores: list[StoreRef]
    chosen: list[StoreRef]
    since: datetime
    until: datetime
    lines: list[TeamLine]


def team_report(
    session: Session,
    actor: Actor,
    *,
    location: str | None,
    since: datetime,
    until: datetime,
    now: datetime | None = None,
) -> TeamReport:
    """Completion for a manager's stores (one of them with ``location``), any store for head office
    and ``read`` tokens; refused to everyone else."""
    if actor.is_associate and actor.role not in (STORE_MANAGER, ADMIN):
        raise PermissionDenied("the team view is for store managers and head office")
    if not actor.is_associate and "read" not in actor.scopes:
        raise PermissionDenied("reading the team view needs the 'read' scope")
    if until <= since:
        raise InvalidRecord.one("until", "must be after since")
    every = [
        StoreRef(r.id, r.code, r.name, r.city)
        for r in session.execute(
            select(Location.id, Location.code, Location.name, Location.city)
            .where(Location.kind == "store")
            .order_by(Location.name)
        )
    ]
    everything = not actor.is_associate or actor.role == ADMIN
    choices = every if everything else [s for s in every if s.id in actor.store_ids]
    chosen = choices
    if location:
        chosen = [s for s in choices if s.code == location]
        if not chosen:
            if any(s.code == location for s in every):
                raise PermissionDenied(f"store {location} is not one of your stores")
            raise InvalidRecord.one("location", f"no store with code {location!r}")
    lines = team_completion(session, [s.id for s in chosen], since, until, now)
    return TeamReport(choices, chosen, since, until, lines)


__all__ = [
    "GROUPS",
    "ClientTasks",
    "FocusList",
    "Goal",
    "Scope",
    "TaskFilters",
    "TaskList",
    "TaskPage",
    "TaskView",
    "TeamLine",
    "TeamReport",
    "Workday",
    "customer_tasks",
    "focus_list",
    "get_view",
    "goal_progress",
    "list_tasks",
    "owner_labels",
    "scope_for",
    "task_list",
    "team_completion",
    "team_report",
    "workday",
]


def home_items(session: Session, associate_id: int) -> list[HomeItem]:
    """The home screen's "tasks" section (``/api/v1/me/home``): today's focus list as home items."""
    return [
        HomeItem(
            title=f"{t.client_name}: {t.title}",
            at=t.due_at,
            detail=t.reason,
            link=f"/clients/{t.customer_id}",
            customer_id=t.customer_id,
        )
        for t in focus_list(session, associate_id).tasks
    ]


register_section("tasks", home_items)
