"""Returns at the counter: one search box, the client's orders as cards, pick what comes back, a receipt.

* ``GET /returns`` — the search box (order number, email or phone); with ``q``, the matching orders
  from every channel, each a card with its lines, the units to take back, "can be sold again", the
  store and the reason.
* ``POST /returns`` — record it (CSRF token in the form) and go to the receipt; or the same page
  again, status 422, with each problem next to its line or field and nothing recorded. The form
  carries a fresh idempotency key, so a double tap records one return.
* ``GET /returns/{id}`` — the receipt: refund, what went back on the shelf, a link to the client.

No JavaScript needed: plain GET and POST forms. Thin: parse, call
:mod:`rapport.commerce.store_returns`, render.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.associates.permissions import require_view_client
from rapport.clientbook.team import book_owner
from rapport.commerce import store_returns
from rapport.commerce.store_returns import LineIn, OrderForReturn, StoreChoice
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

#: Why clients bring things back, as the counter offers them (stored as the words shown).
REASONS = (
    "Too small",
    "Too large",
    "Not as pictured",
    "Faulty or damaged",
    "Changed their mind",
    "Arrived too late",
    "Other",
)
CHANNEL_LABELS = {"online": "Online", "store": "In store", "phone": "By phone", "app": "App", "social": "Social"}
#: Bounds on what is read from a form at all; the clear limits are the service's.
_TEXT = 500
_MAX_LINES = 200
_LINE_ERROR = re.compile(r"lines\.(\d+)\.\w+")


@dataclass
class Submitted:
    """What the associate sent, to show it again next to what was wrong."""

    order_id: int | None = None
    quantities: dict[int, int] = field(default_factory=dict)
    sellable: set[int] = field(default_factory=set)
    reason: str = ""
    note: str = ""
    store: str = ""


def _stores(session: Session, caller: Caller) -> tuple[list[StoreChoice], str]:
    """The stores the caller takes returns at, and the one to start with (their home store)."""
    stores = store_returns.stores_for(session, caller.actor)
    home = book_owner(session, caller.id).home_store_code
    codes = [s.code for s in stores]
    return stores, home if home in codes else (codes[0] if codes else "")


def _context(
    session: Session,
    caller: Caller,
    q: str,
    orders: list[OrderForReturn],
    *,
    errors: dict[str, str] | None = None,
    sent: Submitted | None = None,
) -> dict[str, Any]:
    stores, default = _stores(session, caller)
    return {
        "q": q,
        "orders": orders,
        "searched": bool(q),
        "errors": errors or {},
        "sent": sent or Submitted(store=default),
        "stores": stores,
        "keys": {o.id: uuid.uuid4().hex for o in orders},
        "reasons": REASONS,
        "channels": CHANNEL_LABELS,
        "when": when,
        "max_reason": store_returns.REASON_MAX,
    }


@router.get("/returns", name="returns")
def returns_page(
    request: Request,
    q: str = Query("", max_length=store_returns.MAX_QUERY),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    require_view_client(caller.actor)
    q = q.strip()
    orders: list[OrderForReturn] = []
    errors: dict[str, str] = {}
    if q:
        try:
            orders = store_returns.find_orders(session, q, region=store_returns.phone_region(session, caller.store_ids))
        except InvalidRecord as exc:
            errors = {e.field: _sentence(e.message) for e in exc.errors}
    context = _context(session, caller, q, orders, errors=errors)
    return render(request, "returns/search.html", context, status_code=422 if errors else 200)


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value[:_TEXT].strip() if isinstance(value, str) else ""


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None


def _submitted(form: Any) -> tuple[Submitted, list[int]]:
    """The form as values, and the order lines asked for, in the order they were sent."""
    sent = Submitted(
        order_id=_int(_text(form, "order_id")),
        reason=_text(form, "reason"),
        note=_text(form, "note"),
        store=_text(form, "store"),
    )
    asked: list[int] = []
    for name, value in list(form.multi_items())[: _MAX_LINES * 2 + 20]:
        if not isinstance(value, str):
            continue
        if name.startswith("qty_") and (line_id := _int(name[4:])) is not None:
            units = _int(value.strip()) or 0
            sent.quantities[line_id] = units
            if units:
                asked.append(line_id)
        elif name.startswith("sellable_") and (line_id := _int(name[9:])) is not None:
            sent.sellable.add(line_id)
    return sent, asked


def _reason(sent: Submitted) -> str:
    if sent.reason and sent.reason != "Other" and sent.note:
        return f"{sent.reason}: {sent.note}"
    return sent.note if sent.reason in ("", "Other") and sent.note else sent.reason


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _on_page(exc: InvalidRecord, asked: list[int]) -> dict[str, str]:
    """The service's field names (``lines.0.quantity``) as the page's places (``line-123``)."""
    errors: dict[str, str] = {}
    for e in exc.errors:
        found = _LINE_ERROR.fullmatch(e.field)
        if found and int(found.group(1)) < len(asked):
            place = f"line-{asked[int(found.group(1))]}"
        elif e.field in ("lines", "reason", "store"):
            place = e.field
        else:
            place = "form"
        errors.setdefault(place, _sentence(e.message))
    return errors


@router.post("/returns", name="returns_submit")
async def returns_submit(
    request: Request, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    form = await request.form()
    sent, asked = _submitted(form)
    q = _text(form, "q")
    if sent.order_id is None:
        raise InvalidRecord.one("order_id", "choose an order")
    try:
        with db.write() as session:
            store = store_returns.store_by_code(session, sent.store)
            receipt = store_returns.return_in_store(
                session,
                order_id=sent.order_id,
                store_id=store.id,
                lines=[LineIn(line_id, sent.quantities[line_id], line_id in sent.sellable) for line_id in asked],
                reason=_reason(sent),
                associate_id=caller.associate_id,
                idempotency_key=_text(form, "idempotency_key") or None,
                actor=caller.actor,
                who=audit_actor(caller, request),
            )
    except InvalidRecord as exc:
        with db.read() as session:
            order = store_returns.get_order(session, sent.order_id)
            context = _context(session, caller, q, [order], errors=_on_page(exc, asked), sent=sent)
        return render(request, "returns/search.html", context, status_code=422)
    return RedirectResponse(f"/returns/{receipt.id}", status_code=303)


@router.get("/returns/{return_id}", name="return_receipt")
def receipt_page(
    request: Request, return_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    require_view_client(caller.actor)
    receipt = store_returns.get_return(session, return_id)
    context = {"receipt": receipt, "channels": CHANNEL_LABELS, "when": when}
    return render(request, "returns/receipt.html", context)
