"""Acting on tasks for someone: who may see and change a task, and the changes themselves, each
on the audit log — complete, snooze, dismiss, a manual task for a client, the rule settings.

The rules: an associate sees and acts on their own tasks and on their stores' team queues; a
store manager also on every task of their stores and of their team; head office on all; an
integration token reads with ``read`` and changes with ``write`` or ``ingest``. The routes (JSON
and pages) call these functions, so both apply the same rules and write the same audit rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from secrets import token_hex
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.permissions import ADMIN, STORE_MANAGER, Actor, can_edit_client, client_facts, store_ids_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.tasks import config, service
from rapport.tasks.focus import TaskView, Workday, get_view, workday
from rapport.tasks.models import LIVE_STATUSES, Task

#: Task audit actions (the audit log takes any name of this shape).
COMPLETED, SNOOZED, DISMISSED, CREATED = "task.completed", "task.snoozed", "task.dismissed", "task.created"
RULE_UPDATED = "task_rule.updated"
#: Refusals of :func:`service.raise_tasks` that are the client's current state (409), not bad input.
_REFUSALS_409 = ("duplicate", "contact cap", "cool-down")
#: A snoozed task wakes at this hour of the store's day.
WAKE_HOUR = 9


# -- who may see and act on a task -------------------------------------------------------------------


def _owner_stores(session: Session, actor: Actor, task: Task) -> frozenset[int]:
    """The owner's stores, which only a manager's rule needs (one statement, only then)."""
    if actor.role != STORE_MANAGER or task.associate_id is None:
        return frozenset()
    return store_ids_of(session, [task.associate_id]).get(task.associate_id, frozenset())


def can_see_task(actor: Actor, task: Task, owner_stores: frozenset[int] = frozenset()) -> bool:
    """The owner; the stores' associates for a team-queue task; managers of the stores or of the
    owner; admins; tokens with ``read``."""
    if not actor.is_associate:
        return "read" in actor.scopes
    return _associate_may(actor, task, owner_stores)


def can_act_on_task(actor: Actor, task: Task, owner_stores: frozenset[int] = frozenset()) -> bool:
    """As :func:`can_see_task`, except that a token needs ``write`` or ``ingest`` to change a task."""
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    return _associate_may(actor, task, owner_stores)


def _associate_may(actor: Actor, task: Task | TaskView, owner_stores: frozenset[int]) -> bool:
    if actor.role == ADMIN or task.associate_id == actor.id:
        return True
    at_my_store = task.location_id is not None and task.location_id in actor.store_ids
    if task.associate_id is None and at_my_store:
        return True
    return actor.role == STORE_MANAGER and (at_my_store or bool(owner_stores & actor.store_ids))


def owner_stores_of(session: Session, actor: Actor, tasks: Iterable[TaskView]) -> dict[int, frozenset[int]]:
    """The owners' stores of several tasks at once, which only a manager's rule needs (one statement)."""
    if actor.role != STORE_MANAGER:
        return {}
    return store_ids_of(session, {t.associate_id for t in tasks if t.associate_id is not None})


def may_act(actor: Actor, task: TaskView, owner_stores: dict[int, frozenset[int]]) -> bool:
    """:func:`can_act_on_task` for a task already read, with :func:`owner_stores_of`'s answer."""
    stores = owner_stores.get(task.associate_id, frozenset()) if task.associate_id is not None else frozenset()
    if not actor.is_associate:
        return bool({"write", "ingest"} & actor.scopes)
    return task.live and _associate_may(actor, task, stores)


def visible_task(session: Session, actor: Actor, task_id: int) -> TaskView:
    task = service.get(session, task_id)
    if not can_see_task(actor, task, _owner_stores(session, actor, task)):
        raise PermissionDenied(f"task {task_id} belongs to another associate")
    return get_view(session, task_id)


def _actionable(session: Session, actor: Actor, task_id: int) -> Task:
    task = service.get(session, task_id)
    if not can_act_on_task(actor, task, _owner_stores(session, actor, task)):
        raise PermissionDenied(f"task {task_id} belongs to another associate")
    now = clock.now()
    if task.status in LIVE_STATUSES and task.expires_at <= now:
        raise Conflict(f"task {task_id} expired on {task.expires_at:%Y-%m-%d %H:%M} UTC")
    return task


def acting_associate(actor: Actor) -> int | None:
    return actor.id if actor.is_associate else None


# -- acting on a task (checked and audited) ----------------------------------------------------------


def complete_task(
    session: Session, actor: Actor, who: AuditActor, task_id: int, *, outcome: str, note: str | None = None
) -> TaskView:
    """Done, with what came of it; on the audit log."""
    task = _actionable(session, actor, task_id)
    service.complete(session, task, outcome=outcome, by=acting_associate(actor), note=note or None)
    audit.record_by(session, who, COMPLETED, customer_id=task.customer_id,
                    detail={"task_id": task.id, "type": task.type, "outcome": outcome})  # fmt: skip
    return get_view(session, task_id)


def snooze_task(
    session: Session,
    actor: Actor,
    who: AuditActor,
    task_id: int,
    *,
    until: datetime | None = None,
    days: int | None = None,
) -> TaskView:
    """Out of the list until ``until`` (or for ``days`` days, waking at the start of the store's day)."""
    if (until is None) == (days is None):
        raise InvalidRecord.one("until", f"give either until or days (task {task_id})")
    if until is not None and (until.tzinfo is None or until.utcoffset() is None):
        raise InvalidRecord.one("until", f"give a timezone offset, e.g. 2026-11-24T09:00:00+01:00 (task {task_id})")
    if days is not None and not 1 <= days <= 90:
        raise InvalidRecord.one("days", f"must be between 1 and 90 (task {task_id})")
    task = _actionable(session, actor, task_id)
    if days is not None:
        until = wake_after(session, actor, days)
    assert until is not None
    if task.status in LIVE_STATUSES and until >= task.expires_at:
        raise InvalidRecord.one(
            "until" if days is None else "days",
            f"task {task_id} expires on {task.expires_at:%Y-%m-%d %H:%M} UTC: snooze it to before then",
        )
    service.snooze(session, task, until=until.astimezone(UTC))
    audit.record_by(session, who, SNOOZED, customer_id=task.customer_id,
                    detail={"task_id": task.id, "until": until.astimezone(UTC).isoformat()})  # fmt: skip
    return get_view(session, task_id)


def wake_after(session: Session, actor: Actor, days: int, now: datetime | None = None) -> datetime:
    """``days`` days from today at the start of the working day (09:00 in the associate's home store)."""
    now = now or clock.now()
    if actor.is_associate:
        return wake_at(workday(session, actor.id, now), days)
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=days, hours=WAKE_HOUR)


def wake_at(day: Workday, days: int) -> datetime:
    """When a task snoozed for ``days`` days comes back: 09:00 in the store, ``days`` days from ``day``."""
    zone = ZoneInfo(day.timezone)
    start_local = day.start.astimezone(zone).replace(tzinfo=None)
    return (start_local + timedelta(days=days)).replace(hour=WAKE_HOUR, tzinfo=zone).astimezone(UTC)


def dismiss_task(session: Session, actor: Actor, who: AuditActor, task_id: int, *, note: str | None = None) -> TaskView:
    """Not worth doing (the associate knows better); on the audit log."""
    task = _actionable(session, actor, task_id)
    service.dismiss(session, task, by=acting_associate(actor), note=note or None)
    audit.record_by(session, who, DISMISSED, customer_id=task.customer_id,
                    detail={"task_id": task.id, "type": task.type})  # fmt: skip
    return get_view(session, task_id)


@dataclass
class ManualTask:
    customer_id: int
    title: str
    reason: str
    due_at: datetime
    expires_at: datetime
    outreach: bool = True
    channel: str | None = None
    priority: int = 2
    suggested_message: str | None = None
    #: The caller's idempotency key: the same key for the same client is the same task.
    key: str | None = None


class Refused(Conflict):
    """A manual task :func:`service.raise_tasks` would not raise, with its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"task not raised: {reason}")
        self.reason = reason


def create_manual_task(session: Session, actor: Actor, who: AuditActor, task: ManualTask) -> TaskView:
    """An associate's or a manager's own task for a client, raised like any other (consent, caps,
    cool-down, routing to the client's associate or their store's team queue)."""
    _check_manual(task)
    facts = client_facts(session, task.customer_id)  # NotFound for an unknown client
    if not can_edit_client(actor, facts):
        raise PermissionDenied(f"client {task.customer_id} belongs to another store's clients or another book")
    now = clock.now()
    key = f"manual:{task.key}" if task.key else f"manual:{actor.kind}:{actor.id}:{now:%Y%m%d%H%M%S}:{token_hex(4)}"
    candidate = service.Candidate(
        customer_id=facts.customer_id,
        type="manual",
        dedupe_key=key,
        title=task.title.strip(),
        reason=task.reason.strip() or task.title.strip(),
        due_at=task.due_at.astimezone(UTC),
        expires_at=task.expires_at.astimezone(UTC),
        facts={"created_by": who.label},
        outreach=task.outreach,
        channel=task.channel,
        suggested_message=task.suggested_message or None,
        priority=task.priority,
    )
    outcome = service.raise_tasks(session, [candidate])
    if not outcome.created:
        reason = next(iter(outcome.skipped), "not raised")
        if reason == "client not found":
            raise NotFound(f"client {task.customer_id} not found")
        if reason in _REFUSALS_409:
            raise Refused(reason)
        raise InvalidRecord.one("channel" if task.channel else "outreach", f"task not raised: {reason}")
    task_id = outcome.created[0]
    audit.record_by(session, who, CREATED, customer_id=facts.customer_id,
                    detail={"task_id": task_id, "type": "manual", "title": candidate.title})  # fmt: skip
    return get_view(session, task_id)


def _check_manual(task: ManualTask) -> None:
    errors = []
    if not task.title.strip():
        errors.append(("title", "say what to do, e.g. “Call about the camel coat”"))
    elif len(task.title) > 200:
        errors.append(("title", "at most 200 characters"))
    if len(task.reason) > 1000:
        errors.append(("reason", "at most 1000 characters"))
    for name, at in (("due_at", task.due_at), ("expires_at", task.expires_at)):
        if at.tzinfo is None or at.utcoffset() is None:
            errors.append((name, "give a timezone offset"))
    if not errors and task.expires_at <= task.due_at:
        errors.append(("expires_at", "must be after the due date"))
    if not errors and task.expires_at <= clock.now():
        errors.append(("expires_at", "must be in the future"))
    if not 1 <= task.priority <= 3:
        errors.append(("priority", "must be 1, 2 or 3"))
    if task.key is not None and not 1 <= len(task.key) <= 100:
        errors.append(("key", "between 1 and 100 characters"))
    if errors:
        raise InvalidRecord([FieldError(f, m) for f, m in errors])


# -- the retailer's rule settings ----------------------------------------------------------------


def require_rule_editor(actor: Actor) -> None:
    if not (actor.is_associate and actor.role == ADMIN):
        raise PermissionDenied("only head office changes the task rules")


def update_rule(
    session: Session,
    actor: Actor,
    who: AuditActor,
    name: str,
    *,
    params: dict[str, Any] | None = None,
    enabled: bool | None = None,
) -> config.RuleSettings:
    """Change a rule's settings (head office only); on the audit log with what changed."""
    require_rule_editor(actor)
    changed = config.update(session, name, params=params, enabled=enabled, by=who.label)
    detail: dict[str, Any] = {"rule": name, "params": params or {}}
    if enabled is not None:
        detail["enabled"] = enabled
    audit.record_by(session, who, RULE_UPDATED, detail=detail)
    return changed


def changed_params(rule: config.RuleSettings) -> list[str]:
    """The parameters the retailer set differently from the defaults."""
    defaults = config.DEFAULTS[rule.name]
    return sorted(k for k, v in rule.params.items() if defaults.get(k) != v)


__all__ = [
    "ManualTask",
    "Refused",
    "can_act_on_task",
    "can_see_task",
    "complete_task",
    "create_manual_task",
    "dismiss_task",
    "may_act",
    "owner_stores_of",
    "require_rule_editor",
    "snooze_task",
    "update_rule",
    "visible_task",
    "wake_after",
    "wake_at",
]
