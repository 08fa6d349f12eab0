"""The audit log screen: who viewed, exported or changed which client, when and from where.

* ``GET /audit`` — newest first, for store managers and head office (others get the 403 page).
  Filters go in the query string (bookmarkable): a client (``customer_id``), an actor (picked from
  the team, or typed as ``associate:ID``, ``token:ID`` or ``system``), an action, and a date range
  (both ends inclusive, UTC days). HTMX swaps only the results when a filter changes.
* ``GET /audit/rows`` — the next page of events ("Show more"), keyset-paged.

The same events as ``GET /api/v1/audit`` answers the same person (:mod:`rapport.clientbook.api`).
Thin: parse, authorise (:func:`~rapport.associates.permissions.require_audit_reader`), call the
audit service, render. Actor names come in one query, client names in one more, for a whole page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rapport.associates import audit
from rapport.associates.audit_names import actor_names
from rapport.associates.permissions import can_read_audit, require_audit_reader
from rapport.clientbook import team
from rapport.customers.cards import client_cards
from rapport.errors import FieldError, InvalidRecord
from rapport.http import Caller, page_caller, read_session
from rapport.web.templating import env, render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
#: The actions offered in the filter, with how a person reads them.
ACTIONS = (
    (audit.VIEWED, "Viewed a profile"),
    (audit.EXPORTED, "Exported"),
    (audit.EDITED, "Edited a client"),
    (audit.REASSIGNED, "Moved clients between books"),
    (audit.ASSIGNED, "Assigned clients by the rules"),
)
#: What a row says the actor did (``Ana Duval viewed Alicia Moreau``).
VERBS = {
    audit.VIEWED: "viewed",
    audit.EXPORTED: "exported",
    audit.EDITED: "edited",
    audit.REASSIGNED: "moved",
    audit.ASSIGNED: "assigned clients by the rules",
}
LABELS = {
    "customer_id": "Client",
    "actor": "Who",
    "action": "Action",
    "since": "From",
    "until": "To",
    "cursor": "Page",
}
_ACTION = re.compile(r"[a-z][a-z_]*\.[a-z][a-z_]*")


def may_read_audit(caller: Any) -> bool:
    """For templates (the home screen's link): may this signed-in caller open the audit log?"""
    return caller is not None and can_read_audit(caller.actor)


env.globals["may_read_audit"] = may_read_audit


@dataclass
class AuditQuery:
    """The audit screen's query string, as typed (so the form shows it back) and as understood."""

    customer_id: str = ""
    actor: str = ""  # picked from the list
    actor_text: str = ""  # typed: wins over the list when given
    action: str = ""
    since: str = ""
    until: str = ""
    cursor: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def from_request(cls, request: Request) -> AuditQuery:
        p = request.query_params
        return cls(
            customer_id=p.get("customer_id", "").strip()[:30],
            actor=p.get("actor", "").strip()[:40],
            actor_text=p.get("actor_text", "").strip()[:40],
            action=p.get("action", "").strip()[:50],
            since=p.get("since", "").strip()[:20],
            until=p.get("until", "").strip()[:20],
            cursor=p.get("cursor", "").strip()[:200],
        )

    @property
    def who(self) -> str:
        """The actor filter in force: what was typed, else what was picked."""
        return self.actor_text or self.actor

    @property
    def active(self) -> int:
        return sum(1 for v in (self.customer_id, self.who, self.action, self.since, self.until) if v)

    def params(self, **overrides: Any) -> dict[str, str]:
        values = {
            "customer_id": self.customer_id,
            "actor": self.who,
            "action": self.action,
            "since": self.since,
            "until": self.until,
            "cursor": "",
        }
        values.update({k: "" if v is None else str(v) for k, v in overrides.items()})
        return {k: v for k, v in values.items() if v}

    def qs(self, **overrides: Any) -> str:
        """This query as a query string (without the cursor unless given), for links."""
        return urlencode(self.params(**overrides))

    def filters(self) -> dict[str, Any]:
        """``list_events`` keyword arguments; problems are added to ``errors`` (each naming its field)."""
        out: dict[str, Any] = {}
        if self.customer_id:
            raw = self.customer_id.removeprefix("#")
            if raw.isdigit() and len(raw) < 19:
                out["customer_id"] = int(raw)
            else:
                self.errors.append(FieldError("customer_id", "enter a client number, like 1234"))
        if self.who:
            try:
                out["actor"] = audit.parse_actor(self.who)
            except InvalidRecord:
                self.errors.append(FieldError("actor", "pick someone from the list, or type associate:ID or token:ID"))
        if self.action:
            if _ACTION.fullmatch(self.action):
                out["actions"] = [self.action]
            else:
                self.errors.append(FieldError("action", "pick an action from the list"))
        since, until = self._day("since", self.since), self._day("until", self.until)
        if since and until and until < since:
            self.errors.append(FieldError("until", "pick a day on or after “From”"))
        if since:
            out["since"] = datetime.combine(since, time(), UTC)
        if until:
            out["until"] = datetime.combine(until + timedelta(days=1), time(), UTC)  # the whole day
        if self.cursor:
            out["cursor"] = self.cursor
        return out

    def _day(self, name: str, value: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors.append(FieldError(name, "enter a date, like 2026-11-23"))
            return None


@dataclass
class EventRow:
    """One line of the log as a person reads it."""

    id: int
    at: datetime
    action: str
    actor_name: str
    actor_ref: str  # the actor filter that lists only their events: "associate:12", "system"
    verb: str
    customer_id: int | None
    client_name: str | None
    note: str
    ip: str | None
    user_agent: str | None


def _messages(errors: list[FieldError]) -> list[str]:
    return [f"{LABELS.get(e.field, e.field.replace('_', ' ').capitalize())}: {e.message}" for e in errors]


def _ref(kind: str, actor_id: int | None) -> str:
    return kind if actor_id is None else f"{kind}:{actor_id}"


def _fallback_name(event: audit.AuditEventView) -> str:
    """The label the event was recorded with, when the actor is gone (``associate:Ana Duval`` → ``Ana Duval``)."""
    if event.actor_kind == "system":
        return "Rapport (automatic)"
    kind, _, name = event.actor_label.partition(":")
    name = name if kind == event.actor_kind and name else event.actor_label
    return name if event.actor_kind == "associate" else f"Integration “{name}”"


def _note(event: audit.AuditEventView) -> str:
    d = event.detail
    if event.action == audit.EXPORTED and d.get("rows"):
        n = d["rows"]
        return f"CSV export of {n:,} client{'' if n == 1 else 's'}" if isinstance(n, int) else "CSV export"
    if event.action == audit.EDITED and isinstance(d.get("change"), str):
        return str(d["change"]).replace("_", " ")
    if event.action in (audit.ASSIGNED, audit.REASSIGNED) and isinstance(d.get("total"), int):
        n = d["total"]
        return f"{n:,} client{'' if n == 1 else 's'}"
    return ""


def _rows(session: Session, events: list[audit.AuditEventView]) -> list[EventRow]:
    names = actor_names(session, [(e.actor_kind, e.actor_id) for e in events if e.actor_id is not None])
    cards = client_cards(session, [e.customer_id for e in events if e.customer_id is not None])
    out = []
    for e in events:
        name = names.get((e.actor_kind, e.actor_id)) if e.actor_id is not None else None
        if name is not None and e.actor_kind == "token":
            name = f"Integration “{name}”"
        card = cards.get(e.customer_id) if e.customer_id is not None else None
        out.append(
            EventRow(
                id=e.id,
                at=e.at,
                action=e.action,
                actor_name=name or _fallback_name(e),
                actor_ref=_ref(e.actor_kind, e.actor_id),
                verb=VERBS.get(e.action, e.action.replace(".", " ").replace("_", " ")),
                customer_id=e.customer_id,
                client_name=card.name if card else (f"Client #{e.customer_id}" if e.customer_id is not None else None),
                note=_note(e),
                ip=e.ip,
                user_agent=e.user_agent,
            )
        )
    return out


def _context(session: Session, caller: Caller, q: AuditQuery) -> dict[str, Any]:
    require_audit_reader(caller.actor)
    kwargs = q.filters()
    page: audit.AuditPage | None = None
    problems = _messages(q.errors)
    if not problems:
        try:
            page = audit.list_events(session, limit=PAGE_SIZE, **kwargs)
        except InvalidRecord as exc:
            problems = _messages(exc.errors)
    rows = _rows(session, page.events) if page else []
    # Who may be picked: the team (everyone, for head office), plus whoever the filter names.
    people = [(f"associate:{m.id}", m.name) for m in team.team_of(session, caller.actor)]
    picked = kwargs.get("actor")
    if picked is not None and picked[1] is not None and q.who not in dict(people):
        name = actor_names(session, [picked]).get(picked)
        if name is not None and picked[0] == "token":
            name = f"Integration “{name}”"
        people.append((q.who, name or q.who))
    client = None
    if "customer_id" in kwargs:
        client = client_cards(session, [kwargs["customer_id"]]).get(kwargs["customer_id"])
    actions = list(ACTIONS)
    if q.action and q.action not in dict(actions) and not any(e.field == "action" for e in q.errors):
        actions.append((q.action, q.action))
    return {
        "q": q,
        "rows": rows,
        "next_cursor": page.next_cursor if page else None,
        "problems": problems,
        "people": people,
        "actions": actions,
        "client": client,
        "when": when,
    }


@router.get("/audit", name="audit_log")
def audit_log(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    q = AuditQuery.from_request(request)
    context = _context(session, caller, q)
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "audit-results":
        return render(request, "audit/_results.html", context)  # HTMX keeps a 200 to swap the message in
    response = render(request, "audit/log.html", context, status_code=422 if context["problems"] else 200)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/audit/rows", name="audit_log_rows")
def audit_log_rows(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """The next page of events, for "Show more"."""
    q = AuditQuery.from_request(request)
    return render(request, "audit/_rows.html", _context(session, caller, q))
