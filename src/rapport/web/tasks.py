"""Next actions on the phone: the focus list on the home screen, every task at /tasks, a client's
tasks on their profile, and the team's completion for managers at /tasks/team.

Acting on a task is one small form per action (Done with its outcome, Snooze, Dismiss), posted
with the session's CSRF token. With HTMX the card is swapped in place (and the goal bar out of
band, where the page has one); without JavaScript the same form posts and the browser is sent
back where it came from. A refusal comes back as the card with the reason, marked as a fragment
(``X-Rapport-Fragment``) so ``clients.js`` lets HTMX show it.

Thin: parse, call :mod:`rapport.tasks.focus` / :mod:`rapport.tasks.actions`, render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.permissions import Actor, can_edit_client, client_facts
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, PermissionDenied, RapportError
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.tasks import actions, focus
from rapport.tasks.focus import TaskView, Workday
from rapport.tasks.models import TASK_OUTCOMES
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

FRAGMENT_HEADER = "X-Rapport-Fragment"
#: Where a card is shown, which decides what its answer swaps (the goal bar lives on two of them).
VIEWS = ("focus", "list", "client")
WITH_GOAL = ("focus", "list")
SNOOZES = ((1, "Tomorrow"), (7, "Next week"))
CHANNELS = {"whatsapp": "WhatsApp", "sms": "SMS", "email": "Email", "phone": "Phone"}
GROUP_LABELS = {"overdue": "Overdue", "today": "Today", "week": "This week", "later": "Later"}
PERIODS = (("today", "Today"), ("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))
#: A manual task from the profile: when it is due.
WHEN_CHOICES = (("0", "Today"), ("1", "Tomorrow"), ("7", "Next week"))
MANUAL_EXPIRES_DAYS = 14


# -- what a card shows ---------------------------------------------------------------------------


@dataclass
class Card:
    """A task with what its card needs: may I act, when is it due, how to snooze it."""

    task: TaskView
    view: str
    can_act: bool = True
    due: str = ""
    expiry: str = ""
    expiring: bool = False
    pressing: bool = False
    snoozes: tuple[tuple[int, str], ...] = ()
    #: On the profile: whose it is ("Ana Duval", "Paris team"); elsewhere empty.
    owner: str = ""
    error: str | None = None
    #: Just acted on: shown as one line ("Snoozed until ...") even while still live.
    collapsed: bool = False
    #: The associate's store's timezone: dates and times on the card are the store's.
    timezone: str = "UTC"

    @property
    def channel_label(self) -> str:
        if not self.task.outreach:
            return "In store"
        return CHANNELS.get(self.task.channel or "", (self.task.channel or "").capitalize())

    @property
    def channel_icon(self) -> str:
        return "store" if not self.task.outreach else (self.task.channel or "chat")

    @property
    def next(self) -> str:
        if self.view == "client":
            return f"/clients/{self.task.customer_id}#tasks"
        return "/" if self.view == "focus" else "/tasks"

    @property
    def closed_label(self) -> str:
        t = self.task
        if t.status == "done":
            return f"Done · {t.outcome_label}" if t.outcome_label else "Done"
        if t.status == "snoozed" and t.snoozed_until:
            return f"Snoozed until {_moment(t.snoozed_until, self.timezone)}"
        return {"dismissed": "Dismissed", "expired": "Expired"}.get(t.status, t.status.capitalize())


def _local(at: datetime, timezone: str) -> datetime:
    return at.astimezone(ZoneInfo(timezone))


def _moment(at: datetime, timezone: str) -> str:
    """``Tue 24 Nov, 09:00`` in the associate's store: when a snoozed task comes back there."""
    local = _local(at, timezone)
    return f"{local:%a} {when.day(local)}, {local:%H:%M}"


def _due(task: TaskView, day: Workday) -> str:
    if task.status == "snoozed" and task.snoozed_until is not None:
        return f"Snoozed until {_moment(task.snoozed_until, day.timezone)}"
    if task.due_at < day.start:
        return f"Overdue since {when.day(_local(task.due_at, day.timezone))}"
    if task.due_at < day.end:
        return "Due today"
    days = (task.due_at - day.start).days
    return "Due tomorrow" if days == 1 else f"Due {when.day(_local(task.due_at, day.timezone))}"


def _expiry(task: TaskView, now: datetime, timezone: str) -> tuple[str, bool]:
    """``expires in 20 h`` within 48 hours (pressing); the date otherwise; nothing for a past one."""
    left = task.expires_at - now
    if left <= timedelta(0):
        return "", False
    if left <= focus.EXPIRING_WITHIN:
        hours = max(1, int(left.total_seconds() // 3600))
        return ("expires within the hour" if left < timedelta(hours=1) else f"expires in {hours} h"), True
    return f"until {when.day(_local(task.expires_at, timezone))}", False


def card(task: TaskView, view: str, day: Workday, now: datetime, *, can_act: bool = True, owner: str = "") -> Card:
    expiry, expiring = _expiry(task, now, day.timezone)
    snoozes = tuple((d, label) for d, label in SNOOZES if actions.wake_at(day, d) < task.expires_at)
    return Card(
        task=task,
        view=view,
        can_act=can_act and task.live,
        due=_due(task, day),
        expiry=expiry,
        expiring=expiring,
        pressing=expiring or task.due_at < day.start,
        snoozes=snoozes,
        owner=owner,
        timezone=day.timezone,
    )


def _common(day: Workday | None = None) -> dict[str, Any]:
    return {"outcomes": [(o, focus.OUTCOME_LABELS[o]) for o in TASK_OUTCOMES], "when": when, "day": day}


# -- the home screen and the profile (called by their pages) ------------------------------------------


def focus_context(session: Session, caller: Caller) -> dict[str, Any]:
    """What the home screen's focus section needs (``tasks/_focus.html``)."""
    now = clock.now()
    found = focus.focus_list(session, caller.id, now)
    return {
        "focus": found,
        "focus_cards": [card(t, "focus", found.day, now) for t in found.tasks],
        **_common(found.day),
    }


def client_tasks_context(
    session: Session, caller: Caller, customer_id: int, *, can_add: bool | None = None
) -> dict[str, Any]:
    """The profile's tasks section (``tasks/_client_section.html``): live tasks with actions where the
    caller may act, recent ones, and the form for a new task (``can_add``: may edit the client, if known)."""
    now = clock.now()
    if can_add is None:
        can_add = can_edit_client(caller.actor, client_facts(session, customer_id))
    day = focus.workday(session, caller.id, now)
    found = focus.customer_tasks(session, customer_id, now)
    actor = caller.actor
    owners = focus.owner_labels(session, found.live)
    manager_stores = actions.owner_stores_of(session, actor, found.live)
    cards = [
        card(t, "client", day, now, can_act=actions.may_act(actor, t, manager_stores), owner=owners.get(t.id, ""))
        for t in found.live
    ]
    return {
        "client_tasks": {"cards": cards, "recent": found.recent, "customer_id": customer_id, "can_add": can_add},
        "when_choices": WHEN_CHOICES,
        **_common(day),
    }


# -- pages ---------------------------------------------------------------------------------------


@router.get("/tasks", name="tasks")
def task_list(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """Every live task: overdue, today, this week, later; snoozed ones apart."""
    now = clock.now()
    found = focus.task_list(session, caller.id, now)
    groups = [
        (name, GROUP_LABELS[name], [card(t, "list", found.day, now) for t in found.groups[name]])
        for name in focus.GROUPS
    ]
    context = {
        "found": found,
        "groups": groups,
        "snoozed": [card(t, "list", found.day, now) for t in found.snoozed],
        "goal": found.goal,
        **_common(found.day),
    }
    return render(request, "tasks/list.html", context)


@router.get("/tasks/team", name="tasks_team")
def team(
    request: Request,
    period: str = Query("7", max_length=8),
    store: str = Query("", max_length=64),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """The team's completion per associate, for store managers and head office."""
    now = clock.now()
    if period not in dict(PERIODS):
        period = "7"
    day = focus.workday(session, caller.id, now)
    days = 1 if period == "today" else int(period)  # whole days in the manager's store, today included
    report = focus.team_report(
        session, caller.actor, location=store or None, since=day.end - timedelta(days=days), until=day.end
    )
    totals = focus.TeamLine(None, "Everyone")
    for line in report.lines:
        totals.open += line.open
        totals.overdue += line.overdue
        totals.dismissed += line.dismissed
        totals.expired += line.expired
        for outcome, n in line.outcomes.items():
            totals.outcomes[outcome] += n
    context = {
        "report": report,
        "totals": totals,
        "period": period,
        "periods": PERIODS,
        "store": store,
        "breakdown": breakdown,
    }
    return render(request, "tasks/team.html", context)


def breakdown(line: focus.TeamLine) -> str:
    """``sale 2 · contacted 3 · expired 1``: what came of the period's tasks, leaving out the zeros."""
    parts = [(focus.OUTCOME_LABELS[o].lower(), n) for o, n in line.outcomes.items()]
    parts += [("dismissed", line.dismissed), ("expired", line.expired)]
    return " · ".join(f"{label} {n}" for label, n in parts if n)


# -- actions -------------------------------------------------------------------------------------


def _safe_next(target: str, fallback: str) -> str:
    """Only a path on this site (never ``//evil.example``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    return fallback if parts.scheme or parts.netloc else target


def _act(
    request: Request,
    db: Database,
    caller: Caller,
    task_id: int,
    view: str,
    next_path: str,
    change: Any,
) -> Response:
    """Run ``change`` in one unit of work; answer HTMX with the card (and the goal), else a redirect."""
    view = view if view in VIEWS else "list"
    htmx = request.headers.get("hx-request") == "true"
    error: RapportError | None = None
    try:
        with db.write() as session:
            change(session, caller.actor, audit_actor(caller, request))
    except (InvalidRecord, Conflict, PermissionDenied) as exc:
        if not htmx:
            raise
        error = exc
    if not htmx:
        return RedirectResponse(_safe_next(next_path, "/tasks"), status_code=303)
    now = clock.now()
    with db.read() as session:
        day = focus.workday(session, caller.id, now)
        task = actions.visible_task(session, caller.actor, task_id)  # not theirs: the 403 page, no card
        shown = card(task, view, day, now)
        shown.error = error.message if error else None
        shown.collapsed = error is None
        goal = focus.goal_progress(session, day) if view in WITH_GOAL else None
    context = {"card": shown, "goal": goal, "oob": True, **_common(day)}
    response = render(request, "tasks/_swap.html", context, status_code=error.status_code if error else 200)
    if error is not None:
        response.headers[FRAGMENT_HEADER] = "1"
    return response


@router.post("/tasks/{task_id}/complete", name="task_complete")
def complete(
    request: Request,
    task_id: int,
    outcome: str = Form(""),
    note: str = Form(""),
    view: str = Form("list"),
    next: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    def change(session: Session, actor: Actor, who: Any) -> Any:
        return actions.complete_task(session, actor, who, task_id, outcome=outcome, note=note.strip() or None)

    return _act(request, db, caller, task_id, view, next, change)


@router.post("/tasks/{task_id}/snooze", name="task_snooze")
def snooze(
    request: Request,
    task_id: int,
    days: str = Form(""),
    view: str = Form("list"),
    next: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    def change(session: Session, actor: Actor, who: Any) -> Any:
        if not days.isdigit() or len(days) > 3:
            raise InvalidRecord.one("days", f"choose tomorrow or next week (task {task_id})")
        return actions.snooze_task(session, actor, who, task_id, days=int(days))

    return _act(request, db, caller, task_id, view, next, change)


@router.post("/tasks/{task_id}/dismiss", name="task_dismiss")
def dismiss(
    request: Request,
    task_id: int,
    note: str = Form(""),
    view: str = Form("list"),
    next: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    def change(session: Session, actor: Actor, who: Any) -> Any:
        return actions.dismiss_task(session, actor, who, task_id, note=note.strip() or None)

    return _act(request, db, caller, task_id, view, next, change)


@router.post("/clients/{customer_id}/tasks", name="client_add_task")
def add_task(
    request: Request,
    customer_id: int,
    title: str = Form(""),
    reason: str = Form(""),
    due: str = Form("0"),
    in_store: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    """A task of one's own for this client (from the profile); refusals are said beside the form."""
    htmx = request.headers.get("hx-request") == "true"
    error: RapportError | None = None
    try:
        with db.write() as write:
            now = clock.now()
            days = int(due) if due in dict(WHEN_CHOICES) else 0
            due_at = max(now, actions.wake_at(focus.workday(write, caller.id, now), days)) if days else now
            manual = actions.ManualTask(
                customer_id=customer_id,
                title=title[:300],
                reason=reason[:1200],
                due_at=due_at,
                expires_at=due_at + timedelta(days=MANUAL_EXPIRES_DAYS),
                outreach=not in_store,
            )
            actions.create_manual_task(write, caller.actor, audit_actor(caller, request), manual)
    except (InvalidRecord, Conflict, PermissionDenied) as exc:
        if not htmx:
            raise
        error = exc
    if not htmx:
        return RedirectResponse(f"/clients/{customer_id}#tasks", status_code=303)
    with db.read() as read:
        context = client_tasks_context(read, caller, customer_id)
    if error is not None:
        context["task_error"] = _refusal(error)
        context["task_form"] = {"title": title, "reason": reason, "due": due, "in_store": bool(in_store)}
    response = render(request, "tasks/_client_section.html", context, status_code=error.status_code if error else 200)
    if error is not None:
        response.headers[FRAGMENT_HEADER] = "1"
    return response


def _refusal(error: RapportError) -> str:
    """A refusal in the associate's words."""
    if isinstance(error, actions.Refused):
        return {
            "contact cap": "This client already has as many open outreach tasks as the retailer allows.",
            "cool-down": "This client was contacted recently: give them a few days.",
            "duplicate": "This task already exists.",
        }.get(error.reason, error.message)
    if isinstance(error, InvalidRecord) and error.errors:
        first = error.errors[0]
        if first.field in ("outreach", "channel") and "consent" in first.message:
            return "This client has not agreed to be contacted: tick “Work in the store” for a task without outreach."
        if first.field in ("outreach", "channel"):
            return first.message.removeprefix("task not raised: ").capitalize()
        return first.message[:1].upper() + first.message[1:]
    return error.message
