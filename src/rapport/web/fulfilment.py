"""The store team's fulfilment screen at /fulfilment: what to pick (with a printable pick list), what is
ready for collection, what is on its way in, what is overdue and what needs someone's attention.

Each step is one small form (Picked, Ready for collection, Collected, Shipped, Received; Find stock
again and Cancel where allowed) posted with the session's CSRF token. With HTMX the card is swapped in
place; without JavaScript the same form posts and the browser comes back to the screen. A refusal (a
colleague was quicker, not your store) comes back in the card, marked as a fragment
(``X-Rapport-Fragment``) so ``clients.js`` lets HTMX show it.

Thin: parse, call :mod:`rapport.inventory.fulfilment`, render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.audit import AuditActor
from rapport.associates.permissions import ADMIN, Actor
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, NotFound, PermissionDenied, RapportError
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.inventory import fulfilment, sourcing
from rapport.inventory.fulfilment import FulfilmentView
from rapport.inventory.fulfilment_views import GROUP_LABELS, KIND_LABELS, STATUS_GROUPS
from rapport.inventory.sourcing import Site
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

FRAGMENT_HEADER = "X-Rapport-Fragment"
SECTION_IDS = {group: group.replace("_", "-") for group in STATUS_GROUPS}
#: What each step is called on its button, and what the card says once it is done.
ACTIONS = {
    "picked": ("Picked", "Picked"),
    "ready": ("Ready for collection", "Ready for collection"),
    "collected": ("Collected", "Collected"),
    "shipped": ("Shipped", "Shipped"),
    "received": ("Received", "Received"),
    "retry": ("Find stock again", "Stock found"),
    "cancel": ("Cancel", "Cancelled"),
}


# -- what a card shows ---------------------------------------------------------------------------


def _waited(since: datetime, now: datetime) -> str:
    """``12 min``, ``3 h``, ``2 days``: how long something has waited."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


@dataclass
class Card:
    """A fulfilment with what its card needs: its next step, may I take it, when things happen."""

    f: FulfilmentView
    store: str  # the screen's store code (where the browser goes back to)
    can_act: bool
    can_cancel: bool
    now: datetime
    error: str | None = None
    done: str | None = None

    @property
    def anchor(self) -> str:
        return f"f-{self.f.id}"

    @property
    def timezone(self) -> str:
        place = self.f.to_location or self.f.from_location
        return place.timezone if place else "UTC"

    def local(self, at: datetime | None) -> str:
        if at is None:
            return ""
        local = at.astimezone(ZoneInfo(self.timezone))
        return f"{local:%a} {when.day(local)}, {local:%H:%M}"

    @property
    def next_step(self) -> str | None:
        """The one step the team takes next here, if any."""
        f = self.f
        if f.status == "allocated":
            return "picked"
        if f.status == "picked":
            return "ready" if f.kind == "pickup" else "shipped"
        if f.status == "ready":
            return "collected"
        if f.kind == "transfer" and f.status == "shipped":
            return "received"
        if f.kind == "pickup" and f.status in ("unfulfillable", "awaiting_transfer"):
            return "retry"
        return None

    @property
    def may_step(self) -> bool:
        step = self.next_step
        if step is None or not self.can_act:
            return False
        if step in ("picked", "shipped"):
            return self.at_sender
        if step == "received":
            return self.at_receiver
        return True

    @property
    def at_sender(self) -> bool:
        return self.f.from_location is not None and self.f.from_location.code == self.store

    @property
    def at_receiver(self) -> bool:
        return self.f.to_location is not None and self.f.to_location.code == self.store

    @property
    def button(self) -> str:
        return ACTIONS[self.next_step][0] if self.next_step else ""

    @property
    def headline(self) -> str:
        f = self.f
        if f.kind == "transfer":
            if self.at_receiver:
                return f"From {f.from_location.name}" if f.from_location else "Transfer in"
            return f"Transfer to {f.to_location.name}" if f.to_location else "Transfer"
        return f.kind_label

    @property
    def when_line(self) -> str:
        f, now = self.f, self.now
        if f.status == "ready" and f.collect_by is not None:
            if f.collect_by < now:
                return f"Ready since {when.day(f.ready_at)} · collect by was {self.local(f.collect_by)}"
            return f"Ready since {when.day(f.ready_at)} · collect by {self.local(f.collect_by)}"
        if f.kind == "transfer" and f.status in ("allocated", "picked") and not self.at_sender:
            sender = f.from_location.name if f.from_location else "the sender"
            return f"Being prepared at {sender} · {_waited(f.created_at, now)}"
        if f.status in ("allocated", "picked"):
            return f"{f.status_label} · waiting {_waited(f.updated_at, now)}"
        if f.kind == "transfer" and f.status == "shipped":
            track = f" · tracking {f.tracking}" if f.tracking else ""
            return f"On its way since {self.local(f.shipped_at)}{track}"
        return f"{f.status_label} · {self.local(f.updated_at)}"

    @property
    def cancellable(self) -> bool:
        """Cancel is offered to managers while the goods have not left (a shipped transfer is received)."""
        return self.can_cancel and self.f.status not in ("shipped", "collected", "not_collected", "received",
                                                         "cancelled")  # fmt: skip

    @property
    def late(self) -> bool:
        f = self.f
        return f.overdue(self.now) or f.status == "unfulfillable"

    @property
    def closed(self) -> bool:
        return not self.f.is_open and self.f.status != "unfulfillable"


def _stores(session: Session, caller: Caller) -> list[Site]:
    """The locations whose screen the caller may open: their stores; every location for head office."""
    every = sourcing.sites(session)
    if caller.role == ADMIN or not caller.store_ids:
        return sorted((s for s in every.values() if s.kind == "store" or caller.role == ADMIN), key=lambda s: s.code)
    return sorted((every[i] for i in caller.store_ids if i in every), key=lambda s: s.code)


def _card(f: FulfilmentView, store: str, actor: Actor, now: datetime) -> Card:
    from_id = f.from_location.id if f.from_location else None
    to_id = f.to_location.id if f.to_location else None
    return Card(f, store, fulfilment.can_act(actor, from_id, to_id), fulfilment.can_cancel(actor, from_id, to_id), now)


# -- pages ---------------------------------------------------------------------------------------


def _chosen(session: Session, caller: Caller, code: str) -> tuple[list[Site], Site | None]:
    stores = _stores(session, caller)
    chosen = next((s for s in stores if s.code == code), None) if code else None
    if code and chosen is None:
        raise NotFound(f"no store {code!r} among yours")
    return stores, chosen or (stores[0] if stores else None)


@router.get("/fulfilment", name="fulfilment")
def screen(
    request: Request,
    store: str = Query("", max_length=64),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """The store's fulfilment screen: a section per queue, oldest first."""
    now = clock.now()
    stores, here = _chosen(session, caller, store)
    sections = []
    if here is not None:
        found = fulfilment.screen(session, here.id, now=now)
        for group in STATUS_GROUPS:
            cards = [_card(f, here.code, caller.actor, now) for f in found[group]]
            sections.append((group, SECTION_IDS[group], GROUP_LABELS[group], cards))
    context = {"stores": stores, "here": here, "sections": sections, "picking": bool(sections and sections[0][3])}
    return render(request, "fulfilment/screen.html", context)


@router.get("/fulfilment/pick-list", name="fulfilment_pick_list")
def printable_pick_list(
    request: Request,
    store: str = Query("", max_length=64),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """What to take off the shelves now, as a sheet to print and tick."""
    now = clock.now()
    _, here = _chosen(session, caller, store)
    lines = fulfilment.pick_list(session, here.id, now=now) if here is not None else []
    printed = now.astimezone(ZoneInfo(here.timezone)) if here is not None else now
    context = {"here": here, "lines": lines, "printed_at": f"{printed:%a} {when.day(printed)}, {printed:%H:%M}",
               "waited": lambda p: _waited(p.since, now), "kinds": KIND_LABELS}  # fmt: skip
    return render(request, "fulfilment/pick_list.html", context)


# -- steps ---------------------------------------------------------------------------------------

Change = Callable[[Session, Actor, AuditActor, int], Any]


def _step_of(action: str, tracking: str, note: str) -> Change:
    if action == "picked":
        return lambda s, a, w, fid: fulfilment.mark_picked(s, fid, actor=a, who=w)
    if action == "ready":
        return lambda s, a, w, fid: fulfilment.mark_ready(s, fid, actor=a, who=w)
    if action == "collected":
        return lambda s, a, w, fid: fulfilment.mark_collected(s, fid, actor=a, who=w)
    if action == "shipped":
        return lambda s, a, w, fid: fulfilment.mark_shipped(s, fid, tracking=tracking[:100] or None, actor=a, who=w)
    if action == "received":
        return lambda s, a, w, fid: fulfilment.mark_received(s, fid, actor=a, who=w)
    if action == "cancel":
        return lambda s, a, w, fid: fulfilment.cancel(s, fid, note=note.strip()[:500] or None, actor=a, who=w)

    def retry(s: Session, a: Actor, w: AuditActor, fid: int) -> Any:
        f = fulfilment.get_fulfilment(s, fid)
        if f.kind != "pickup" or f.to_location is None:
            raise Conflict(f"fulfilment {fid} is not a pickup: there is nothing to find again")
        return fulfilment.allocate_pickup(s, f.order_id, f.to_location.id, actor=a, who=w, associate_id=a.associate_id)

    return retry


@router.post("/fulfilment/{fulfilment_id}/{action}", name="fulfilment_step")
def step(
    request: Request,
    fulfilment_id: int,
    action: str,
    store: str = Form("", max_length=64),
    tracking: str = Form("", max_length=100),
    note: str = Form("", max_length=500),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    """One step on one card; HTMX gets the card back, a plain form the screen."""
    if action not in ACTIONS:
        raise NotFound(f"no step {action!r}")
    htmx = request.headers.get("hx-request") == "true"
    error: RapportError | None = None
    try:
        with db.write() as session:
            _step_of(action, tracking, note)(session, caller.actor, audit_actor(caller, request), fulfilment_id)
    except (InvalidRecord, Conflict, PermissionDenied) as exc:
        if not htmx:
            raise
        error = exc
    code = store if store.replace("-", "").replace("_", "").isalnum() else ""
    if not htmx:
        target = f"/fulfilment?store={code}#f-{fulfilment_id}" if code else f"/fulfilment#f-{fulfilment_id}"
        return RedirectResponse(target, status_code=303)
    now = clock.now()
    with db.read() as session:
        shown = _card(fulfilment.get_fulfilment(session, fulfilment_id), code, caller.actor, now)
    shown.error = error.message if error else None
    shown.done = None if error else ACTIONS[action][1]
    response = render(
        request, "fulfilment/_card.html", {"card": shown}, status_code=error.status_code if error else 200
    )
    if error is not None:
        response.headers[FRAGMENT_HEADER] = "1"
    return response
