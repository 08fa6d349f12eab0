"""Client books, assignment, the audit log and the notification feed over HTTP. Thin: parse, authorise, call.

Every route takes :func:`~rapport.http.session_or_token_caller` — an integration token, or the
signed-in associate's session (with the ``X-CSRF-Token`` header on writes), as the screens call
them — and calls :func:`authorize` once, before the service: the single place where who may do
what here is decided, with the same rules for a person in the app and for the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.associates import audit, notifications
from rapport.associates.permissions import ADMIN, require_audit_reader
from rapport.clientbook import book, export, service, team
from rapport.customers.schemas import Money, Schema
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, audit_actor, database, read_session, session_or_token_caller

#: What these routes ask ``authorize`` for.
ACTIONS = (
    "clientbook.read", "clientbook.team", "clientbook.assign", "clientbook.reassign",
    "audit.read", "notifications.read", "notifications.mark_read",
)  # fmt: skip


def authorize(
    caller: Caller,
    action: str,
    *,
    session: Session | None = None,
    associate_id: int | None = None,
    to_associate_id: int | None = None,
    customer_ids: Sequence[int] = (),
) -> None:
    """May ``caller`` do ``action`` (on this associate's book or feed)? PermissionDenied if not.

    * ``clientbook.read`` — an associate reads their own book; a store manager also the books of
      their stores' team; head office every book; a token with the ``read`` scope any book.
    * ``clientbook.team`` — the team summary: managers and head office (others see only themselves).
    * ``clientbook.reassign`` — moving clients out of ``associate_id``'s book (to ``to_associate_id``,
      or by the rules when None): a manager within their team, head office anywhere, a token with
      ``ingest`` or ``write``. ``customer_ids`` need no check of their own: only clients in that
      book ever move.
    * ``clientbook.assign`` — running the rules over every unassigned client: managers, head office,
      tokens with ``ingest`` or ``write``.
    * ``audit.read`` — managers and head office, tokens with ``audit``.
    * ``notifications.read`` / ``notifications.mark_read`` — a person's own feed (head office may read
      any); a token reads with ``read`` and marks read with ``ingest`` or ``write``.

    ``session`` is needed for an associate's book rules (the stores of the people involved).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    actor = caller.actor
    if action == "clientbook.read":
        if not actor.is_associate:
            _scope(caller, "read")  # a system reads any book: no facts about people needed
        else:
            team.require_view_book(_session(session), actor, _need(associate_id, "associate_id"))
    elif action == "clientbook.team":
        if not actor.is_associate:
            raise PermissionDenied("a team belongs to a person: an integration reads books by associate id")
    elif action == "clientbook.reassign":
        if not actor.is_associate:
            _scope(caller, "ingest", "write")
        else:
            team.require_reassign(_session(session), actor, _need(associate_id, "from_associate_id"), to_associate_id)
    elif action == "clientbook.assign":
        team.require_assign_all(actor)
    elif action == "audit.read":
        require_audit_reader(actor)
    elif action == "notifications.read":
        if not actor.is_associate:
            _scope(caller, "read")
        elif associate_id != actor.id and actor.role != ADMIN:
            raise PermissionDenied("you may read only your own notifications")
    elif action == "notifications.mark_read":
        if not actor.is_associate:
            _scope(caller, "ingest", "write")
        elif associate_id != actor.id:
            raise PermissionDenied("you may mark only your own notifications read")


def _need(value: int | None, name: str) -> int:
    if value is None:
        raise InvalidRecord.one(name, "is required")
    return value


def _session(session: Session | None) -> Session:
    if session is None:
        raise ValueError("this rule reads the stores of the people involved: pass session=")
    return session


def _scope(caller: Caller, *any_of: str) -> None:
    if not set(any_of) & set(caller.scopes):
        raise PermissionDenied(f"{caller.label} lacks the {' or '.join(repr(s) for s in any_of)} scope")


# -- shapes ------------------------------------------------------------------------------------


class NextMilestoneOut(Schema):
    kind: str
    label: str
    date: date
    days_until: int


class BookRowOut(Schema):
    id: int
    name: str
    first_name: str | None
    last_name: str | None
    city: str | None
    country: str | None
    tier: str | None
    tags: list[str]
    last_purchase_at: datetime | None
    order_count: int
    spend: Money = Field(description="Net spend (orders less refunds) in the book's currency only.")
    next_milestone: NextMilestoneOut | None
    last_contact_at: datetime | None = Field(description="Last message, appointment or note by an associate.")


class BookPageOut(Schema):
    associate_id: int
    currency: str
    sort: str
    order: str
    total: int = Field(description="Clients matching the filters, over all pages.")
    rows: list[BookRowOut]
    next_cursor: str | None


class AssociateLineOut(Schema):
    id: int
    name: str
    role: str
    covers: str = Field(description="Regions of an online expert, or the home store.")
    new_clients: int
    book_size: int = Field(description="Clients in the book after the change.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = Field(default=False, description="Count what would happen; change nothing.")


class AssignmentOut(Schema):
    dry_run: bool
    total: int
    associates: list[AssociateLineOut]
    by_rule: dict[str, int]
    unplaced: dict[str, int] = Field(description="Clients the rules could not place, by reason.")
    seconds: float


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_associate_id: int
    to_associate_id: int | None = Field(default=None, description="None: redistribute by the assignment rules.")
    customer_ids: list[int] | None = Field(
        default=None, max_length=service.MAX_CUSTOMER_IDS, description="None: the whole book."
    )


class SampleMoveOut(Schema):
    customer_id: int
    name: str
    to_associate_id: int
    to_name: str
    rule: str


class ReassignOut(Schema):
    from_associate_id: int
    from_name: str
    to_associate_id: int | None
    total: int
    associates: list[AssociateLineOut]
    unplaced: dict[str, int]
    not_in_book: list[int] = Field(description="Requested clients that are not in the book (left alone).")
    sample: list[SampleMoveOut]
    applied: bool


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_label: str
    action: str
    customer_id: int | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, object]


class AuditPageOut(Schema):
    events: list[AuditEventOut]
    next_cursor: str | None


class NotificationOut(Schema):
    id: int
    associate_id: int
    kind: str
    title: str
    body: str
    link: str | None
    customer_id: int | None
    created_at: datetime
    read_at: datetime | None


class NotificationFeedOut(BaseModel):
    associate_id: int
    unread: int
    items: list[NotificationOut]


# -- client books ------------------------------------------------------------------------------

books = APIRouter(prefix="/clientbook", tags=["client book"])


class ColleagueOut(Schema):
    id: int
    name: str
    role: str
    active: bool
    covers: str = Field(description="The stores of a store associate or manager; the regions of an online expert.")
    book_size: int = Field(description="Active clients in their book.")


class TeamOut(BaseModel):
    associate_id: int = Field(description="Who is asking.")
    total_clients: int
    members: list[ColleagueOut] = Field(description="The caller first, then managers, then everyone by name.")


def _instant(name: str, value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO datetime (UTC when it has no offset)."""
    if value is None or not value.strip():
        return None
    try:
        if len(value.strip()) == 10:
            return datetime.combine(date.fromisoformat(value.strip()), time(), UTC)
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRecord.one(name, "expected a date (2026-11-23) or an ISO datetime") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@books.get(
    "/team",
    response_model=TeamOut,
    summary="The client books the caller may open, with their sizes",
    description="A manager's team (the associates of their stores), every book for head office, "
    "one's own book for anyone else. People who left are listed while their book still holds clients.",
)
def team_summary(
    caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> TeamOut:
    authorize(caller, "clientbook.team", session=session)
    members = team.team_of(session, caller.actor)
    return TeamOut(
        associate_id=caller.id,
        total_clients=sum(m.book_size for m in members),
        members=[ColleagueOut.model_validate(m) for m in members],
    )


def book_filters(
    purchased_before: str | None = Query(None, description="Last purchase before this date or datetime."),
    purchased_after: str | None = Query(None, description="Last purchase on or after this date or datetime."),
    min_spend: int | None = Query(None, ge=0, description="Net spend at least this, in minor units (cents)."),
    max_spend: int | None = Query(None, ge=0, description="Net spend at most this, in minor units (cents)."),
    currency: str | None = Query(None, description="The book's currency (default: the associate's store's)."),
    tags: str | None = Query(None, description="Comma-separated; clients with every one of them."),
    milestone_within_days: int | None = Query(None, ge=0, le=book.MAX_DAYS),
    not_contacted_days: int | None = Query(None, ge=0, le=book.MAX_DAYS),
) -> book.BookFilters:
    """The client book's filters from the query string (the book and its export share them)."""
    return book.BookFilters(
        purchased_before=_instant("purchased_before", purchased_before),
        purchased_after=_instant("purchased_after", purchased_after),
        min_spend_minor=min_spend,
        max_spend_minor=max_spend,
        currency=currency,
        tags=[t.strip() for t in (tags or "").split(",") if t.strip()],
        milestone_within_days=milestone_within_days,
        not_contacted_days=not_contacted_days,
    )


@books.get("/{associate_id}", response_model=BookPageOut, summary="An associate's client book, filtered and sorted")
def client_book(
    associate_id: int,
    filters: book.BookFilters = Depends(book_filters),
    sort: Literal["last_purchase", "spend", "name", "next_milestone"] = "last_purchase",
    order: Literal["asc", "desc"] | None = Query(None, description="Default: newest, biggest, A-Z, soonest first."),
    limit: int = Query(book.DEFAULT_LIMIT, ge=1, le=book.MAX_LIMIT),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> BookPageOut:
    authorize(caller, "clientbook.read", session=session, associate_id=associate_id)
    page = service.client_book(
        session, associate_id, filters=filters, sort=sort, order=order, limit=limit, cursor=cursor
    )
    return BookPageOut.model_validate(page)


@books.get(
    "/{associate_id}/export.csv",
    response_class=StreamingResponse,
    summary="An associate's client book as a CSV file (every page), each exported client audited",
    description="The same filters, sorting and permissions as the client book (`clientbook.read`). One row per "
    f"client of the filtered book, at most {export.MAX_ROWS:,} (more is refused with 422: narrow the filters). "
    "Columns: " + ", ".join(export.COLUMNS) + ". UTF-8 with a byte order mark; a cell that a spreadsheet would "
    "run as a formula (starting with = + - @) is prefixed with a single quote. Every exported client is written "
    "to the audit log as `client.exported` before the file is sent.",
    responses={200: {"content": {"text/csv": {}}, "description": "The CSV file, as an attachment."}},
)
def client_book_export(
    request: Request,
    associate_id: int,
    filters: book.BookFilters = Depends(book_filters),
    sort: Literal["last_purchase", "spend", "name", "next_milestone"] = "last_purchase",
    order: Literal["asc", "desc"] | None = Query(None, description="Default: newest, biggest, A-Z, soonest first."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
    db: Database = Depends(database),
) -> StreamingResponse:
    authorize(caller, "clientbook.read", session=session, associate_id=associate_id)
    done = export.export_client_book(
        db, associate_id, actor=audit_actor(caller, request), filters=filters, sort=sort, order=order
    )
    return StreamingResponse(
        export.csv_chunks(done),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{done.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@books.post("/assign", response_model=AssignmentOut, summary="Assign every unassigned client by the rules")
def assign(
    request: Request,
    body: AssignIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AssignmentOut:
    authorize(caller, "clientbook.assign")
    dry_run = body.dry_run if body else False
    with db.write() as session:
        summary = service.assign_unassigned(session, dry_run=dry_run, actor=audit_actor(caller, request))
    return AssignmentOut.model_validate(summary)


@books.post("/reassign/preview", response_model=ReassignOut, summary="What a reassignment would move")
def reassign_preview(
    body: ReassignIn, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> ReassignOut:
    authorize(
        caller,
        "clientbook.reassign",
        session=session,
        associate_id=body.from_associate_id,
        to_associate_id=body.to_associate_id,
        customer_ids=body.customer_ids or (),
    )
    preview = service.preview_reassign(session, body.from_associate_id, body.to_associate_id, body.customer_ids)
    return ReassignOut.model_validate(preview)


@books.post("/reassign", response_model=ReassignOut, summary="Move one client, some, or a whole book")
def reassign(
    request: Request,
    body: ReassignIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> ReassignOut:
    with db.write() as session:
        authorize(
            caller,
            "clientbook.reassign",
            session=session,
            associate_id=body.from_associate_id,
            to_associate_id=body.to_associate_id,
            customer_ids=body.customer_ids or (),
        )
        moved = service.reassign(
            session, body.from_associate_id, body.to_associate_id, body.customer_ids, actor=audit_actor(caller, request)
        )
    return ReassignOut.model_validate(moved)


# -- the audit log -----------------------------------------------------------------------------

audit_routes = APIRouter(tags=["audit"])


@audit_routes.get("/audit", response_model=AuditPageOut, summary="Who viewed, exported or changed which client")
def audit_events(
    customer_id: int | None = None,
    actor: str | None = Query(None, description="associate:ID, token:ID or system"),
    action: str | None = Query(None, description="Comma-separated, e.g. client.viewed,client.exported"),
    since: str | None = Query(None, description="From this date or datetime (inclusive)."),
    until: str | None = Query(None, description="Before this date or datetime."),
    limit: int = Query(audit.DEFAULT_LIMIT, ge=1, le=audit.MAX_LIMIT),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> AuditPageOut:
    authorize(caller, "audit.read")
    page = audit.list_events(
        session,
        customer_id=customer_id,
        actor=audit.parse_actor(actor) if actor else None,
        actions=[a.strip() for a in (action or "").split(",") if a.strip()],
        since=_instant("since", since),
        until=_instant("until", until),
        limit=limit,
        cursor=cursor,
    )
    return AuditPageOut.model_validate(page)


# -- notifications -----------------------------------------------------------------------------

feed = APIRouter(tags=["notifications"])


class MarkReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] | None = Field(default=None, max_length=notifications.MAX_LIMIT, description="None: all of them.")
    associate_id: int | None = Field(default=None, description="Whose feed; a signed-in associate's own by default.")


class MarkedOut(BaseModel):
    associate_id: int
    marked: int = Field(description="How many unread notifications this marked read.")
    unread: int


def _feed_owner(caller: Caller, associate_id: int | None) -> int:
    """The feed asked for: the given associate's, else the signed-in associate's own."""
    if associate_id is not None:
        return associate_id
    if caller.associate_id is None:
        raise InvalidRecord.one("associate_id", "an integration names whose feed it reads")
    return caller.associate_id


@feed.get("/notifications", response_model=NotificationFeedOut, summary="An associate's notification feed")
def notification_feed(
    associate_id: int | None = Query(None, description="Whose feed (default: the signed-in associate's own)."),
    unread_only: bool = False,
    limit: int = Query(notifications.DEFAULT_LIMIT, ge=1, le=notifications.MAX_LIMIT),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> NotificationFeedOut:
    owner = _feed_owner(caller, associate_id)
    authorize(caller, "notifications.read", associate_id=owner)
    items = notifications.list_for(session, owner, unread_only=unread_only, limit=limit)
    return NotificationFeedOut(
        associate_id=owner,
        unread=notifications.unread_count(session, owner),
        items=[NotificationOut.model_validate(i) for i in items],
    )


@feed.post("/notifications/read", response_model=MarkedOut, summary="Mark some or all of a feed read")
def mark_feed_read(
    body: MarkReadIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> MarkedOut:
    body = body or MarkReadIn()
    owner = _feed_owner(caller, body.associate_id)
    authorize(caller, "notifications.mark_read", associate_id=owner)
    with db.write() as session:
        marked = notifications.mark_read(session, owner, body.ids)
        unread = notifications.unread_count(session, owner)
    return MarkedOut(associate_id=owner, marked=marked, unread=unread)


@feed.post("/notifications/{notification_id}/read", response_model=NotificationOut, summary="Mark one read")
def mark_read(
    notification_id: int, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> NotificationOut:
    with db.write() as session:
        item = notifications.get(session, notification_id)
        authorize(caller, "notifications.mark_read", associate_id=item.associate_id)
        notifications.mark_read(session, item.associate_id, [notification_id])
        return NotificationOut.model_validate(notifications.get(session, notification_id))


#: What ``create_app`` mounts under /api/v1.
router = APIRouter()
router.include_router(books)
router.include_router(audit_routes)
router.include_router(feed)
