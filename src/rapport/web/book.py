"""The client book screen: my clients, filtered and sorted, a page at a time; a manager's view of the team.

* ``GET /clients/book`` — my book (``?associate=ID`` for a colleague's, when the rules allow: a manager
  sees the team of their stores, head office everyone). Filters and sorting go in the query
  string, so a filtered book can be bookmarked; HTMX swaps only the results when a filter changes.
* ``GET /clients/book/rows`` — the next page of rows ("Show more"), keyset-paged.
* ``GET /clients/book/export.csv`` — the book as filtered on screen, as a CSV file; every exported client
  is written to the audit log first (:mod:`rapport.clientbook.export`).
* ``GET /clients/book/reassign`` + ``POST`` — a manager moves one client or a whole book, after a preview.

Thin: parse, authorise (:mod:`rapport.clientbook.team`), call the client book service, render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from rapport.clientbook import book, export, service, team
from rapport.db import Database
from rapport.errors import FieldError, InvalidRecord
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.money import MoneyError, precision, to_minor
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
SORTS = (
    ("last_purchase", "Last purchase"),
    ("spend", "Spend"),
    ("name", "Name"),
    ("next_milestone", "Next milestone"),
)
ORDERS = (("", "Usual order"), ("desc", "Descending"), ("asc", "Ascending"))
MILESTONE_WINDOWS = ((7, "Within a week"), (14, "Within 2 weeks"), (30, "Within a month"), (90, "Within 3 months"))
QUIET_WINDOWS = ((30, "30 days"), (60, "60 days"), (90, "90 days"), (180, "6 months"), (365, "a year"))
LABELS = {
    "purchased_after": "Bought on or after",
    "purchased_before": "Bought before",
    "min_spend": "Spent at least",
    "max_spend": "Spent at most",
    "tags": "Tags",
    "milestone_days": "Milestone",
    "quiet_days": "Not contacted for",
    "sort": "Sort",
    "order": "Order",
    "cursor": "Page",
}


@dataclass
class BookQuery:
    """The book screen's query string, as typed (so the form shows it back) and as understood."""

    associate: int | None = None
    purchased_after: str = ""
    purchased_before: str = ""
    min_spend: str = ""
    max_spend: str = ""
    tags: str = ""
    milestone_days: str = ""
    quiet_days: str = ""
    sort: str = "last_purchase"
    order: str = ""
    cursor: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def from_request(cls, request: Request) -> BookQuery:
        p = request.query_params
        q = cls(
            purchased_after=p.get("purchased_after", "").strip()[:40],
            purchased_before=p.get("purchased_before", "").strip()[:40],
            min_spend=p.get("min_spend", "").strip()[:40],
            max_spend=p.get("max_spend", "").strip()[:40],
            tags=p.get("tags", "").strip()[:300],
            milestone_days=p.get("milestone_days", "").strip()[:10],
            quiet_days=p.get("quiet_days", "").strip()[:10],
            sort=p.get("sort", "last_purchase").strip() or "last_purchase",
            order=p.get("order", "").strip(),
            cursor=p.get("cursor", "").strip()[:500],
        )
        raw = p.get("associate", "").strip()
        if raw:
            if raw.isdigit() and len(raw) < 19:
                q.associate = int(raw)
            else:
                q.errors.append(FieldError("associate", "pick an associate from the list"))
        if q.sort not in dict(SORTS):
            q.errors.append(FieldError("sort", "pick a sort from the list"))
            q.sort = "last_purchase"
        if q.order not in dict(ORDERS):
            q.errors.append(FieldError("order", "pick an order from the list"))
            q.order = ""
        return q

    @property
    def active(self) -> int:
        """How many filters are set (for the "Filters (2)" summary)."""
        fields = (self.purchased_after, self.purchased_before, self.min_spend, self.max_spend, self.tags)
        return sum(1 for v in (*fields, self.milestone_days, self.quiet_days) if v)

    def params(self, **overrides: Any) -> dict[str, str]:
        values = {
            "associate": "" if self.associate is None else str(self.associate),
            "purchased_after": self.purchased_after,
            "purchased_before": self.purchased_before,
            "min_spend": self.min_spend,
            "max_spend": self.max_spend,
            "tags": self.tags,
            "milestone_days": self.milestone_days,
            "quiet_days": self.quiet_days,
            "sort": "" if self.sort == "last_purchase" else self.sort,
            "order": self.order,
            "cursor": "",
        }
        values.update({k: "" if v is None else str(v) for k, v in overrides.items()})
        return {k: v for k, v in values.items() if v}

    def qs(self, **overrides: Any) -> str:
        """This query as a query string (without the cursor unless given), for links."""
        return urlencode(self.params(**overrides))

    def filters(self, currency: str) -> book.BookFilters:
        """The service's filters; problems are added to ``errors`` (each naming its field)."""
        f = book.BookFilters(
            purchased_after=self._date("purchased_after", self.purchased_after),
            purchased_before=self._date("purchased_before", self.purchased_before),
            tags=[t.strip() for t in self.tags.split(",") if t.strip()][:10],
            milestone_within_days=self._days("milestone_days", self.milestone_days),
            not_contacted_days=self._days("quiet_days", self.quiet_days),
        )
        f.min_spend_minor = self._amount("min_spend", self.min_spend, currency)
        f.max_spend_minor = self._amount("max_spend", self.max_spend, currency)
        if f.min_spend_minor is not None and f.max_spend_minor is not None and f.max_spend_minor < f.min_spend_minor:
            self.errors.append(FieldError("max_spend", "enter an amount no lower than “Spent at least”"))
            f.max_spend_minor = None
        return f

    def _amount(self, name: str, value: str, currency: str) -> int | None:
        if not value:
            return None
        try:
            amount = Decimal(value.replace(",", "").replace(" ", ""))
            if amount < 0:
                raise MoneyError("negative")
            return to_minor(amount, currency)
        except (InvalidOperation, MoneyError):
            digits = precision(currency)
            example = "250" if digits == 0 else f"250 or 250.{'5' * digits}"
            self.errors.append(FieldError(name, f"enter an amount in {currency}, like {example}"))
            return None

    def _date(self, name: str, value: str) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        except ValueError:
            self.errors.append(FieldError(name, "enter a date, like 2026-11-23"))
            return None

    def _days(self, name: str, value: str) -> int | None:
        if not value:
            return None
        if not value.isdigit() or not 0 <= int(value) <= book.MAX_DAYS:
            self.errors.append(FieldError(name, f"a number of days between 0 and {book.MAX_DAYS}"))
            return None
        return int(value)


def _messages(errors: list[FieldError]) -> list[str]:
    return [f"{LABELS.get(e.field, e.field.replace('_', ' ').capitalize())}: {e.message}" for e in errors]


def _load(session: Session, caller: Caller, q: BookQuery) -> tuple[team.BookOwner, book.BookPage | None, list[str]]:
    """The book asked for (authorised), its page, and the messages to show instead of rows."""
    owner_id = q.associate if q.associate is not None else caller.id
    team.require_view_book(session, caller.actor, owner_id)
    owner = team.book_owner(session, owner_id)
    filters = q.filters(owner.currency)
    if q.errors:
        return owner, None, _messages(q.errors)
    try:
        page = service.client_book(
            session,
            owner.id,
            filters=filters,
            sort=q.sort,
            order=q.order or None,
            limit=PAGE_SIZE,
            cursor=q.cursor or None,
        )
    except InvalidRecord as exc:
        return owner, None, _messages(exc.errors)
    return owner, page, []


def _context(session: Session, caller: Caller, q: BookQuery) -> dict[str, Any]:
    owner, page, problems = _load(session, caller, q)
    actor = caller.actor
    members = team.team_of(session, actor) if team.is_manager(actor) else []
    return {
        "q": q,
        "owner": owner,
        "page": page,
        "problems": problems,
        "own": owner.id == caller.id,
        "members": members,
        "team_total": sum(m.book_size for m in members),
        "may_reassign": team.can_reassign(actor, owner.store_ids, None) and page is not None,
        "sorts": SORTS,
        "orders": ORDERS,
        "milestone_windows": MILESTONE_WINDOWS,
        "quiet_windows": QUIET_WINDOWS,
        "export_max": export.MAX_ROWS,
        "when": when,
    }


@router.get("/clients/book", name="client_book")
def client_book(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    q = BookQuery.from_request(request)
    context = _context(session, caller, q)
    moved = request.query_params.get("moved", "")
    context["moved"] = int(moved) if moved.isdigit() and len(moved) < 10 else None
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "book-results":
        # HTMX keeps a 200 to swap the message in; the export link follows the filters (out of band).
        return render(request, "book/_results_swap.html", context)
    return render(request, "book/book.html", context, status_code=422 if context["problems"] else 200)


@router.get("/clients/book/rows", name="client_book_rows")
def client_book_rows(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """The next page of rows, for "Show more"."""
    q = BookQuery.from_request(request)
    return render(request, "book/_rows.html", _context(session, caller, q))


@router.get("/clients/book/export.csv", name="client_book_export")
def client_book_export(
    request: Request,
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
    db: Database = Depends(database),
) -> Response:
    """The book as filtered on screen (every page, not just the first), as a CSV file. Audited per client."""
    q = BookQuery.from_request(request)
    owner_id = q.associate if q.associate is not None else caller.id
    team.require_view_book(session, caller.actor, owner_id)
    owner = team.book_owner(session, owner_id)
    filters = q.filters(owner.currency)
    if q.errors:
        raise InvalidRecord(q.errors)
    who = audit_actor(caller, request)
    done = export.export_client_book(db, owner.id, actor=who, filters=filters, sort=q.sort, order=q.order or None)
    return StreamingResponse(
        export.csv_chunks(done),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{done.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/clientbook", name="client_book_legacy")
def client_book_legacy(request: Request) -> Response:
    """Notifications and emails sent before the screen existed point here."""
    query = request.url.query
    return RedirectResponse("/clients/book" + (f"?{query}" if query else ""), status_code=303)


# -- reassignment -----------------------------------------------------------------------------------


def _target(raw: str) -> tuple[int | None, bool]:
    """The "to" field: an associate id, or "rules"; (id, chosen)."""
    raw = raw.strip()
    if raw == "rules":
        return None, True
    if raw.isdigit() and len(raw) < 19:
        return int(raw), True
    return None, False


@router.get("/clients/book/reassign", name="book_reassign")
def reassign_form(
    request: Request,
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """Who gets the clients; with ``to`` chosen, the preview of what would move and a button to confirm."""
    p = request.query_params
    raw_from, raw_client = p.get("from", "").strip(), p.get("client", "").strip()
    if (
        not raw_from.isdigit()
        or len(raw_from) >= 19
        or (raw_client and (not raw_client.isdigit() or len(raw_client) >= 19))
    ):
        raise InvalidRecord.one("from", "open this page from a client book")
    from_id = int(raw_from)
    client_id = int(raw_client) if raw_client else None
    to_id, chosen = _target(p.get("to", ""))
    team.require_reassign(session, caller.actor, from_id, None)
    owner = team.book_owner(session, from_id)
    candidates = [
        m
        for m in team.team_of(session, caller.actor)
        if m.active and m.id != from_id and team.can_reassign(caller.actor, owner.store_ids, m.store_ids)
    ]
    preview = None
    if chosen:
        team.require_reassign(session, caller.actor, from_id, to_id)
        preview = service.preview_reassign(session, from_id, to_id, [client_id] if client_id is not None else None)
    context = {
        "owner": owner,
        "client_id": client_id,
        "client_name": _client_name(preview, client_id),
        "to": "rules" if chosen and to_id is None else (str(to_id) if to_id is not None else ""),
        "candidates": candidates,
        "preview": preview,
    }
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "reassign-preview":
        return render(request, "book/_preview.html", context)
    return render(request, "book/reassign.html", context)


def _client_name(preview: service.ReassignPreview | None, client_id: int | None) -> str | None:
    if preview is None or client_id is None:
        return None
    return next((s.name for s in preview.sample if s.customer_id == client_id), None)


@router.post("/clients/book/reassign", name="book_reassign_submit")
def reassign_submit(
    request: Request,
    from_associate: int = Form(..., alias="from"),
    to: str = Form(""),
    client: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    to_id, chosen = _target(to)
    if not chosen:
        raise InvalidRecord.one("to", "choose who takes the clients")
    client_id = int(client) if client.strip().isdigit() and len(client.strip()) < 19 else None
    who = audit_actor(caller, request)
    with db.write() as session:
        team.require_reassign(session, caller.actor, from_associate, to_id)
        moved = service.reassign(
            session, from_associate, to_id, [client_id] if client_id is not None else None, actor=who
        )
    target = f"/clients/book?{urlencode({'associate': from_associate, 'moved': moved.total})}"
    return RedirectResponse(target, status_code=303)
