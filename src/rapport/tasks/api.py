"""Next actions over HTTP: list, focus, act on and create tasks; the team view; the rule settings.

Every route takes :func:`~rapport.http.session_or_token_caller` — an integration token, or the
signed-in associate's session (``X-CSRF-Token`` on writes), as the screens call them — and the
same rules as the screens (:mod:`rapport.tasks.actions`): an associate acts on their own tasks and
their stores' team queues, a store manager on their stores' and team's, head office on all; a
token reads with ``read`` and changes with ``write`` or ``ingest``. Every change is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.permissions import can_view_book, store_ids_of
from rapport.db import Database
from rapport.errors import InvalidRecord, NotFound, PermissionDenied
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller
from rapport.tasks import actions, config, focus
from rapport.tasks.models import TASK_STATUSES, TASK_TYPES
from rapport.tasks.schemas import (
    CompleteIn,
    DismissIn,
    FocusOut,
    FocusTaskOut,
    GoalOut,
    RuleOut,
    RulePatch,
    SnoozeIn,
    StoreOut,
    TaskIn,
    TaskOut,
    TaskPageOut,
    TeamLineOut,
    TeamOut,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

#: How long a manual task stays worth doing when the caller does not say.
MANUAL_EXPIRES_DAYS = 14
#: The team view's default period: the last seven days.
TEAM_DAYS = 7
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not yours: another associate's task, or a store that is not yours."},
    404: {"description": "No such task (or client)."},
}


def _instant(name: str, value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO datetime (UTC when it has no offset)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord.one(name, "expected a date (2026-11-23) or an ISO datetime") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _rule_out(rule: config.RuleSettings) -> RuleOut:
    return RuleOut(
        name=rule.name,
        enabled=rule.enabled,
        params=rule.params,
        defaults=config.DEFAULTS[rule.name],
        changed=actions.changed_params(rule),
    )


# -- lists ---------------------------------------------------------------------------------------


@router.get(
    "",
    response_model=TaskPageOut,
    summary="Tasks, soonest due first, filtered and paged",
    description="What the caller may see: an associate their own tasks and their stores' team queues, a store "
    "manager also their stores' and their team's tasks, head office and `read` tokens every task. Statuses are as "
    "of now (a snoozed task whose time has come is open, one past its expiry expired). Only active clients' tasks.",
    responses={403: _ERRORS[403]},
)
def list_tasks(
    associate_id: int | None = Query(None, description="Only this associate's tasks."),
    customer_id: int | None = Query(None, description="Only this client's tasks."),
    status: str | None = Query(None, description="One of " + ", ".join(TASK_STATUSES) + "."),
    type: str | None = Query(None, description="One of " + ", ".join(TASK_TYPES) + "."),
    due_before: str | None = Query(None, description="Due before this date or datetime."),
    limit: int = Query(focus.DEFAULT_PAGE, ge=1, le=focus.MAX_PAGE),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> TaskPageOut:
    require_scope(caller, "read")
    scope = focus.scope_for(session, caller.actor)
    if associate_id is not None and not scope.everything and associate_id not in scope.associate_ids:
        raise PermissionDenied(f"the tasks of associate {associate_id} are not yours to see")
    filters = focus.TaskFilters(associate_id, customer_id, status, type, _instant("due_before", due_before))
    page = focus.list_tasks(session, scope, filters, limit=limit, cursor=cursor)
    return TaskPageOut(tasks=[TaskOut.model_validate(t) for t in page.tasks], next_cursor=page.next_cursor)


@router.get(
    "/focus",
    response_model=FocusOut,
    summary="Today's focus list and goal progress",
    description="The few tasks most worth doing today (the retailer's focus size), best first: the task's score x "
    "its time sensitivity (x2 expiring within 48 h, x1.5 overdue, x1.2 due today; not-yet-due tasks are left out), "
    "the associate's own and their stores' team-queue tasks together. With the daily goal: tasks completed today "
    "(the home store's day) against the retailer's target.",
    responses={403: _ERRORS[403]},
)
def focus_list(
    associate_id: int | None = Query(None, description="Whose (default: the signed-in associate's own)."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> FocusOut:
    owner = associate_id if associate_id is not None else caller.associate_id
    if owner is None:
        raise InvalidRecord.one("associate_id", "an integration names whose focus list it reads")
    if owner != caller.associate_id:
        stores = store_ids_of(session, [owner]).get(owner, frozenset())
        if not can_view_book(caller.actor, owner, stores):
            raise PermissionDenied(f"the focus list of associate {owner} is not yours to see")
    found = focus.focus_list(session, owner)
    return FocusOut(
        associate_id=owner,
        timezone=found.day.timezone,
        day_start=found.day.start,
        day_end=found.day.end,
        goal=GoalOut.model_validate(found.goal),
        live_total=found.live_total,
        tasks=[FocusTaskOut.model_validate(t) for t in found.tasks],
    )


@router.get(
    "/team",
    response_model=TeamOut,
    summary="The team's completion per associate",
    description="Store managers: their stores (or one with `location`); head office and `read` tokens: any store "
    "(all without `location`). Per associate: open and overdue now; done by outcome, dismissed and expired in the "
    "period; the completion rate (done out of done + dismissed + expired). Done and dismissed tasks count for whoever "
    "closed them; the stores' unowned queue has its own line.",
    responses={403: _ERRORS[403]},
)
def team(
    location: str | None = Query(None, description="A store code, e.g. PAR."),
    since: str | None = Query(
        None, description=f"From this date or datetime (default: {TEAM_DAYS} days before until)."
    ),
    until: str | None = Query(None, description="Before this date or datetime (default: the end of today, UTC)."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> TeamOut:
    tomorrow = datetime.combine(clock.now().astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    end = _instant("until", until) or tomorrow
    start = _instant("since", since) or end - timedelta(days=TEAM_DAYS)
    report = focus.team_report(session, caller.actor, location=location, since=start, until=end)
    return TeamOut(
        since=report.since,
        until=report.until,
        stores=[StoreOut.model_validate(s) for s in report.chosen],
        associates=[TeamLineOut.model_validate(line) for line in report.lines],
    )


# -- the retailer's rules ------------------------------------------------------------------------


@router.get("/rules", response_model=list[RuleOut], summary="Every task rule's settings (and pressure, focus)")
def rules(caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)) -> list[RuleOut]:
    require_scope(caller, "read")
    return [_rule_out(r) for r in config.settings(session).values()]


@router.get("/rules/{name}", response_model=RuleOut, summary="One rule's settings", responses={404: _ERRORS[404]})
def rule(
    name: str, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> RuleOut:
    require_scope(caller, "read")
    found = config.settings(session).get(name)
    if found is None:
        raise NotFound(f"no task rule named {name!r}; known: {', '.join(config.DEFAULTS)}")
    return _rule_out(found)


@router.patch(
    "/rules/{name}",
    response_model=RuleOut,
    summary="Change a rule's parameters or switch it on or off (head office)",
    description="Only the parameters given change; each is checked against its default's type and range (422 "
    "naming `rule.parameter`). `pressure` and `focus` cannot be switched off. Audited as `task_rule.updated`.",
    responses={403: {"description": "Only head office changes the rules."}},
)
def change_rule(
    request: Request,
    name: str,
    body: RulePatch,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> RuleOut:
    actions.require_rule_editor(caller.actor)
    with db.write() as session:
        changed = actions.update_rule(
            session, caller.actor, audit_actor(caller, request), name, params=body.params, enabled=body.enabled
        )
    return _rule_out(changed)


# -- one task ------------------------------------------------------------------------------------


@router.post(
    "",
    response_model=TaskOut,
    status_code=201,
    summary="Create a manual task for a client",
    description="For a client the caller may edit. Raised like any task: to the client's associate or their home "
    "store's team queue, on a channel the client consented to (or as work in the store with `outreach: false`). "
    "Refused with 422 (no consent, opted out: the reason names the channel) or 409 (the client's contact cap, the "
    "cool-down after a recent contact, or the same `key` again). Audited as `task.created`.",
    responses={403: _ERRORS[403], 404: _ERRORS[404], 409: {"description": "Not raised: the reason is in detail."}},
)
def create_task(
    request: Request,
    body: TaskIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TaskOut:
    due = body.due_at or clock.now()
    manual = actions.ManualTask(
        customer_id=body.customer_id,
        title=body.title,
        reason=body.reason,
        due_at=due,
        expires_at=body.expires_at or due + timedelta(days=MANUAL_EXPIRES_DAYS),
        outreach=body.outreach,
        channel=body.channel,
        priority=body.priority,
        suggested_message=body.suggested_message,
        key=body.key,
    )
    with db.write() as session:
        created = actions.create_manual_task(session, caller.actor, audit_actor(caller, request), manual)
    return TaskOut.model_validate(created)


@router.get("/{task_id}", response_model=TaskOut, summary="One task", responses=_ERRORS)
def get_task(
    task_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> TaskOut:
    return TaskOut.model_validate(actions.visible_task(session, caller.actor, task_id))


@router.post(
    "/{task_id}/complete",
    response_model=TaskOut,
    summary="Mark a task done, with its outcome",
    description="Outcome: contacted, sale, no_answer or not_interested. 409 when it is already done, dismissed or "
    "expired. Audited as `task.completed`.",
    responses={**_ERRORS, 409: {"description": "Already done, dismissed or expired."}},
)
def complete_task(
    request: Request,
    task_id: int,
    body: CompleteIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TaskOut:
    with db.write() as session:
        done = actions.complete_task(
            session, caller.actor, audit_actor(caller, request), task_id, outcome=body.outcome, note=body.note
        )
    return TaskOut.model_validate(done)


@router.post(
    "/{task_id}/snooze",
    response_model=TaskOut,
    summary="Snooze a task until a time, or for some days",
    description="Either `until` (with an offset) or `days` (back at 09:00 in the home store that many days from "
    "today); never past the task's expiry. Audited as `task.snoozed`.",
    responses={**_ERRORS, 409: {"description": "Already done, dismissed or expired."}},
)
def snooze_task(
    request: Request,
    task_id: int,
    body: SnoozeIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TaskOut:
    with db.write() as session:
        snoozed = actions.snooze_task(
            session, caller.actor, audit_actor(caller, request), task_id, until=body.until, days=body.days
        )
    return TaskOut.model_validate(snoozed)


@router.post(
    "/{task_id}/dismiss",
    response_model=TaskOut,
    summary="Dismiss a task (not worth doing); the occasion is not raised again",
    description="Audited as `task.dismissed`.",
    responses={**_ERRORS, 409: {"description": "Already done, dismissed or expired."}},
)
def dismiss_task(
    request: Request,
    task_id: int,
    body: DismissIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TaskOut:
    with db.write() as session:
        dismissed = actions.dismiss_task(
            session, caller.actor, audit_actor(caller, request), task_id, note=body.note if body else None
        )
    return TaskOut.model_validate(dismissed)
