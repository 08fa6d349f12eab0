"""Appointments on the associate's phone: my day (or week), the store's calendar, the pre-visit brief,
check-in and outcome, and booking an appointment for a client.

The brief (``/appointments/{id}``) is the screen opened thirty seconds before the client arrives:
who, why, what was said, what to pull — with the live stock of this store and a "Put aside" button
per item — in one read (:func:`rapport.appointments.brief.brief_of`). Opening it is audited like
opening a profile.

Who sees what: an associate sees their own appointments and those of their stores (a store's
calendar is for its team and managers), head office sees every store's. Any associate may view any
client (the profile's rule), so the brief adds the appointment's rule on top: its store's team, the
associate it is with, whoever booked it, and anyone who may edit the client.

Thin: parse, authorise, call one service, render. Refusals come back on the same page with the
reason beside the field.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import availability, booking, calendar, setup
from rapport.appointments.brief import AppointmentFacts, Brief, appointment_facts, brief_of, client_glance, is_link
from rapport.appointments.models import OUTCOMES
from rapport.associates import audit
from rapport.associates.permissions import ADMIN, can_edit_client, client_facts, require_view_client
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, NotFound, PermissionDenied, RapportError
from rapport.http import Caller, audit_actor, client_ip, csrf_checked, database, page_caller, wake_jobs
from rapport.inventory import holds
from rapport.web.clients import Formats, initials
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

FRAGMENT_HEADER = "X-Rapport-Fragment"
LOCALE = "en_US"
STATUS_LABELS = {"booked": "Booked", "checked_in": "Arrived", "completed": "Done", "no_show": "No-show",
                 "cancelled": "Cancelled"}  # fmt: skip
OUTCOME_LABELS = {"purchased": "Bought", "follow_up": "Follow-up to do", "no_purchase": "Came, did not buy",
                  "no_show": "Did not come"}  # fmt: skip
#: Outcomes offered once the client has arrived (a no-show is its own button before).
ARRIVED_OUTCOMES = ("purchased", "follow_up", "no_purchase")
#: Days offered at once in the booking form.
DAYS_OFFERED = 14
#: A "Put aside" from the brief keeps the item until this long after the appointment ends.
HOLD_AFTER = timedelta(hours=2)
#: What the booking service calls a field, and what the form calls it.
FORM_FIELDS = {"starts_at": "starts_at", "associate_id": "associate", "type_id": "type", "location": "store",
               "products_of_interest": "products", "sizes": "sizes", "reason": "reason", "client": "form",
               "first_name": "form", "email": "form", "phone": "form", "idempotency_key": "form"}  # fmt: skip


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- words for the templates ----------------------------------------------------------------------


class Words(Formats):
    """Local times as a calendar shows them, on top of the profile's formats."""

    def clock(self, value: datetime | None) -> str:
        return "" if value is None else f"{value:%H:%M}"

    def span(self, start: datetime, end: datetime) -> str:
        return f"{start:%H:%M}–{end:%H:%M}"

    def day(self, value: date | datetime) -> str:
        """``Tue 24 Nov`` (the year when it is not this year)."""
        return f"{value:%a} {when.day(value)}"

    def long_day(self, value: date | datetime) -> str:
        return f"{value:%A} {when.day(value)}"

    def local(self, value: datetime | None, zone: str) -> datetime | None:
        """An instant in a store's time."""
        return None if value is None else value.astimezone(ZoneInfo(zone or "UTC"))

    def status(self, value: str) -> str:
        return STATUS_LABELS.get(value, value.replace("_", " ").capitalize())

    def outcome(self, value: str | None) -> str:
        return OUTCOME_LABELS.get(value or "", (value or "").replace("_", " ").capitalize())


# -- who may see and act ------------------------------------------------------------------------------


def may_see(session: Session, caller: Caller, facts: AppointmentFacts) -> bool:
    """Its store's team and managers, the associate it is with, who booked it, head office — and whoever
    may edit the client (an online expert's own client booked in a store)."""
    if caller.kind != "associate":
        return False
    if caller.role == ADMIN or facts.location_id in caller.store_ids:
        return True
    if caller.id in (facts.associate_id, facts.booked_by_id):
        return True
    return can_edit_client(caller.actor, client_facts(session, facts.customer_id))


def _require_see(session: Session, caller: Caller, facts: AppointmentFacts) -> None:
    require_view_client(caller.actor)
    if not may_see(session, caller, facts):
        raise PermissionDenied(f"this appointment is at {facts.location_name}: its team sees it, not yours")


def _may_see_store(caller: Caller, location_id: int) -> bool:
    return caller.kind == "associate" and (caller.role == ADMIN or location_id in caller.store_ids)


def _may_book(session: Session, caller: Caller, location_id: int, customer_id: int) -> bool:
    """At one of my stores (any client may come in), anywhere for head office, or for a client I may edit."""
    if _may_see_store(caller, location_id):
        return True
    return can_edit_client(caller.actor, client_facts(session, customer_id))


def _audit_view(db: Database, request: Request, caller: Caller, customer_id: int) -> None:
    """Opening a brief shows the client's record: logged like opening their profile."""
    with db.write() as session:
        audit.record_view(
            session, actor_kind=caller.kind, actor_id=caller.id, actor_label=caller.label, customer_id=customer_id,
            ip=client_ip(request), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip


# -- the calendar -----------------------------------------------------------------------------------


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/appointments", name="appointments")
def calendar_page(
    request: Request,
    view: str = Query("day", max_length=8),
    store: int | None = Query(None),
    day: str | None = Query(None, max_length=10),
    caller: Caller = Depends(page_caller),
    db: Database = Depends(database),
) -> Response:
    view = "week" if view == "week" else "day"
    with db.read() as session:
        mine = calendar.stores(session, caller.store_ids)
        choices = calendar.stores(session) if caller.role == ADMIN else mine
        here = None
        if store is not None:
            if not _may_see_store(caller, store):
                raise PermissionDenied("a store's calendar is for its team and managers")
            here = next((s for s in choices if s.id == store), None)
            if here is None:
                raise NotFound(f"store {store} not found")
            zone = here.timezone
        else:
            home = calendar.home_store_id(session, caller.id)
            zone = next((s.timezone for s in mine if s.id == home), None) or (mine[0].timezone if mine else "UTC")
        today = calendar.today_in(zone, clock.now())
        chosen = _parse_day(day) or today
        scope: dict[str, Any] = {"location_id": store} if store is not None else {"associate_id": caller.id}
        if view == "week":
            days = calendar.week_of(session, day=chosen, **scope)
        else:
            days = [calendar.CalendarDay(chosen, calendar.day_of(session, day=chosen, **scope))]
    step = timedelta(days=7 if view == "week" else 1)

    def link(**changes: Any) -> str:
        params: dict[str, Any] = {"view": view, "day": chosen.isoformat()}
        if store is not None:
            params["store"] = store
        params.update(changes)
        return "/appointments?" + urlencode({k: v for k, v in params.items() if v is not None})

    context = {
        "view": view, "days": days, "chosen": chosen, "today": today, "store": here, "choices": choices,
        "fmt": Words(LOCALE, today), "many_stores": len(mine) > 1,
        "prev_url": link(day=(chosen - step).isoformat()), "next_url": link(day=(chosen + step).isoformat()),
        "today_url": link(day=today.isoformat()), "day_url": link(view="day"), "week_url": link(view="week"),
        "mine_url": "/appointments?" + urlencode({"view": view, "day": chosen.isoformat()}),
        "store_url": lambda s: "/appointments?" + urlencode({"view": view, "day": chosen.isoformat(), "store": s.id}),
    }  # fmt: skip
    return render(request, "appointments/calendar.html", context)


# -- the brief --------------------------------------------------------------------------------------------


def _brief_url(appointment_id: int) -> str:
    return f"/appointments/{appointment_id}"


def _brief_context(brief: Brief) -> dict[str, Any]:
    a = brief.appointment
    p = brief.client.profile
    today = calendar.today_in(a.timezone, clock.now())
    return {
        "brief": brief,
        "a": a,
        "p": p,
        "k": brief.client.kpis,
        "cid": brief.customer_id,
        "initials": initials(p.first_name, p.last_name, p.full_name),
        "fmt": Words(LOCALE, today),
        "is_today": a.local_start.date() == today,
        "arrived_outcomes": [(o, OUTCOME_LABELS[o]) for o in ARRIVED_OUTCOMES],
        "notes": brief.client.notes[:3],
        "hold_key": "brief-" + secrets.token_urlsafe(12),
        "can_hold": a.status in ("booked", "checked_in"),
        "is_link": is_link,
        "errors": {},
        "form": {},
        "pull_errors": {},
    }


def _render_brief(
    request: Request, db: Database, appointment_id: int, *, status_code: int = 200,
    errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    with db.read() as session:
        brief = brief_of(session, appointment_id)
        context = _brief_context(brief)
    context["errors"] = errors or {}
    context["form"] = form or {}
    response = render(request, "appointments/brief.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: never from a shared cache
    return response


@router.get("/appointments/{appointment_id}", name="appointment_brief")
def brief_page(
    request: Request,
    appointment_id: int,
    caller: Caller = Depends(page_caller),
    db: Database = Depends(database),
) -> Response:
    with db.read() as session:
        _require_see(session, caller, appointment_facts(session, appointment_id))
        brief = brief_of(session, appointment_id)
        context = _brief_context(brief)
    _audit_view(db, request, caller, brief.customer_id)
    response = render(request, "appointments/brief.html", context)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _seen(db: Database, caller: Caller, appointment_id: int) -> AppointmentFacts:
    with db.read() as session:
        facts = appointment_facts(session, appointment_id)
        _require_see(session, caller, facts)
        return facts


def _refused(exc: RapportError, field: str) -> dict[str, str]:
    if isinstance(exc, InvalidRecord) and exc.errors:
        return {e.field if e.field in ("outcome", "note") else field: e.message for e in exc.errors}
    return {field: exc.message}


@router.post("/appointments/{appointment_id}/check-in", name="appointment_check_in")
def check_in(
    request: Request,
    appointment_id: int,
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    _seen(db, caller, appointment_id)
    try:
        with db.write() as session:
            booking.check_in(session, appointment_id, actor=audit_actor(caller, request))
    except (InvalidRecord, Conflict) as exc:
        return _render_brief(request, db, appointment_id, status_code=exc.status_code,
                             errors=_refused(exc, "status"))  # fmt: skip
    return RedirectResponse(_brief_url(appointment_id) + "#visit", status_code=303)


@router.post("/appointments/{appointment_id}/outcome", name="appointment_outcome")
def outcome(
    request: Request,
    appointment_id: int,
    outcome: str = Form("", max_length=16),
    note: str = Form("", max_length=4000),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    _seen(db, caller, appointment_id)
    try:
        if outcome not in OUTCOMES:
            raise InvalidRecord.one("outcome", "choose how it went")
        with db.write() as session:
            booking.record_outcome(session, appointment_id, outcome, actor=audit_actor(caller, request),
                                   note=note)  # fmt: skip
    except (InvalidRecord, Conflict) as exc:
        return _render_brief(request, db, appointment_id, status_code=exc.status_code,
                             errors=_refused(exc, "outcome"), form={"outcome": outcome, "note": note})  # fmt: skip
    return RedirectResponse(_brief_url(appointment_id) + "#visit", status_code=303)


@router.post("/appointments/{appointment_id}/cancel", name="appointment_cancel")
def cancel(
    request: Request,
    appointment_id: int,
    reason: str = Form("", max_length=1000),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    _seen(db, caller, appointment_id)
    try:
        booking.cancel_appointment(db, appointment_id, actor=audit_actor(caller, request), reason=reason)
    except (InvalidRecord, Conflict) as exc:
        return _render_brief(request, db, appointment_id, status_code=exc.status_code,
                             errors=_refused(exc, "cancel"), form={"cancel_reason": reason})  # fmt: skip
    wake_jobs(request)
    return RedirectResponse(_brief_url(appointment_id) + "#visit", status_code=303)


@router.post("/appointments/{appointment_id}/hold", name="appointment_hold")
def put_aside(
    request: Request,
    appointment_id: int,
    sku: str = Form(..., max_length=64),
    key: str = Form("", max_length=100),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    """Put an item to pull aside for the client at this store until shortly after the appointment."""
    facts = _seen(db, caller, appointment_id)
    local = facts.local_start
    try:
        holds.place_hold_once(
            db, customer_id=facts.customer_id, sku=sku, location_code=facts.location_code, quantity=1,
            until=max(facts.ends_at, clock.now()) + HOLD_AFTER,
            note=f"For the {facts.type_name.lower()} on {local:%a} {when.day(local)} at {local:%H:%M}",
            associate_id=caller.associate_id, actor=audit_actor(caller, request), idempotency_key=key or None,
        )  # fmt: skip
    except RapportError as exc:
        if isinstance(exc, (NotFound, PermissionDenied)):
            raise
        message = exc.errors[0].message if isinstance(exc, InvalidRecord) and exc.errors else exc.message
        if not _is_htmx(request):
            return _render_brief(request, db, appointment_id, status_code=exc.status_code,
                                 errors={f"pull:{sku}": message})  # fmt: skip
        with db.read() as session:
            context = _brief_context(brief_of(session, appointment_id))
        context["errors"] = {f"pull:{sku}": message}
        response = render(request, "appointments/_pull.html", context, status_code=exc.status_code)
        response.headers[FRAGMENT_HEADER] = "1"
        return response
    if not _is_htmx(request):
        return RedirectResponse(_brief_url(appointment_id) + "#pull", status_code=303)
    with db.read() as session:
        context = _brief_context(brief_of(session, appointment_id))
    return render(request, "appointments/_pull.html", context)


# -- booking for a client ----------------------------------------------------------------------------------


@dataclass
class BookingForm:
    """What the associate chose so far (from the query string, or a refused post)."""

    store: int | None = None
    type: int | None = None
    day: str = ""
    associate: str = "auto"  # "auto" (me if I work then) | "any" | an associate's id
    starts_at: str = ""
    reason: str = ""
    products: str = ""
    sizes: list[tuple[str, str]] | None = None
    key: str = ""


def _sizes(keys: list[str], values: list[str]) -> list[tuple[str, str]]:
    return [(k.strip(), v.strip()) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()]


def _booking_context(session: Session, caller: Caller, customer_id: int, form: BookingForm) -> dict[str, Any]:
    client = client_glance(session, customer_id)
    stores = calendar.stores(session)
    mine = caller.store_ids
    stores.sort(key=lambda s: (s.id not in mine, s.name.lower(), s.id))
    home = calendar.home_store_id(session, caller.id) if caller.kind == "associate" else None
    default_store = home if home is not None and any(s.id == home for s in stores) else None
    if default_store is None and stores:
        default_store = stores[0].id if stores[0].id in mine else (client.home_location_id or stores[0].id)
    store_id = form.store if form.store is not None and any(s.id == form.store for s in stores) else default_store
    store = next((s for s in stores if s.id == store_id), None)
    types = setup.types_at(session, store.id) if store is not None else []
    kind = next((t for t in types if t.id == form.type), types[0] if types else None)
    team = calendar.store_team(session, store.id) if store is not None else []
    associate = form.associate
    chosen_associate = int(associate) if associate.isdigit() and any(m.id == int(associate) for m in team) else None
    if not (associate in ("auto", "any") or chosen_associate is not None):
        associate = "auto"
    days: list[tuple[date, int]] = []
    slots: list[availability.Slot] = []
    day = _parse_day(form.day)
    if store is not None and kind is not None:
        today = calendar.today_in(store.timezone, clock.now())
        days = availability.bookable_days(session, location_id=store.id, type_id=kind.id, start=today,
                                          days=DAYS_OFFERED, associate_id=chosen_associate)  # fmt: skip
        if day is None:
            day = next((d for d, n in days if n), today)
        slots = availability.free_slots(session, location_id=store.id, type_id=kind.id, day=day,
                                        associate_id=chosen_associate)  # fmt: skip
    sizes = form.sizes if form.sizes is not None else sorted(client.sizes.items())
    names = {m.id: m.name for m in team}
    return {
        "client": client, "cid": client.id, "stores": stores, "store": store, "types": types, "kind": kind,
        "team": team, "associate": associate, "days": days, "day": day, "slots": slots,
        "slot_names": lambda s: [names.get(a, "") for a in s.associate_ids],
        "with_me": lambda s: caller.id in s.associate_ids, "form": form, "sizes": sizes,
        "key": form.key or "book-" + secrets.token_urlsafe(16), "errors": {}, "fmt": Words(LOCALE),
        "mine": mine,
    }  # fmt: skip


def _booking_page(
    request: Request, session: Session, caller: Caller, customer_id: int, form: BookingForm, *,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context = _booking_context(session, caller, customer_id, form)
    context["errors"] = errors or {}
    template = "appointments/_book_form.html" if _is_htmx(request) else "appointments/new.html"
    return render(request, template, context, status_code=status_code)


@router.get("/clients/{customer_id}/appointments/new", name="appointment_new")
def new_appointment(
    request: Request,
    customer_id: int,
    store: int | None = Query(None),
    type: int | None = Query(None),
    day: str = Query("", max_length=10),
    associate: str = Query("auto", max_length=20),
    starts_at: str = Query("", max_length=40),
    reason: str = Query("", max_length=booking.REASON_MAX),
    products: str = Query("", max_length=booking.PRODUCTS_MAX * (booking.PRODUCT_MAX + 2)),
    size_key: list[str] = Query([]),
    size_value: list[str] = Query([]),
    caller: Caller = Depends(page_caller),
    db: Database = Depends(database),
) -> Response:
    require_view_client(caller.actor)
    carried = bool(size_key or size_value) or _is_htmx(request)
    form = BookingForm(store=store, type=type, day=day, associate=associate, starts_at=starts_at, reason=reason,
                       products=products, sizes=_sizes(size_key, size_value) if carried else None)  # fmt: skip
    with db.read() as session:
        return _booking_page(request, session, caller, customer_id, form)


def _parse_start(value: str) -> datetime:
    try:
        starts = datetime.fromisoformat(value) if value else None
    except ValueError:
        starts = None
    if starts is None or starts.tzinfo is None:
        raise InvalidRecord.one("starts_at", "choose a time")
    return starts


@router.post("/clients/{customer_id}/appointments", name="appointment_book")
def book(
    request: Request,
    customer_id: int,
    store: int = Form(...),
    type: int | None = Form(None),
    day: str = Form("", max_length=10),
    associate: str = Form("auto", max_length=20),
    starts_at: str = Form("", max_length=40),
    reason: str = Form("", max_length=booking.REASON_MAX * 2),
    products: str = Form("", max_length=booking.PRODUCTS_MAX * (booking.PRODUCT_MAX + 2)),
    size_key: list[str] = Form([]),
    size_value: list[str] = Form([]),
    key: str = Form("", max_length=100),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    require_view_client(caller.actor)
    sizes = _sizes(size_key, size_value)
    form = BookingForm(store, type, day, associate, starts_at, reason, products, sizes, key)
    with db.read() as session:
        cid = client_glance(session, customer_id).id
        if not _may_book(session, caller, store, cid):
            raise PermissionDenied("book at one of your stores, or for a client of your own")
    try:
        if type is None:
            raise InvalidRecord.one("type_id", "choose what the appointment is for")
        starts = _parse_start(starts_at)
        with db.read() as session:
            associate_id = _associate_for(session, caller, associate, store, type, starts)
        done = booking.book_appointment(
            db,
            booking.BookingRequest(
                location_id=store, type_id=type, starts_at=starts, associate_id=associate_id, customer_id=cid,
                reason=reason, products_of_interest=[line for line in products.splitlines() if line.strip()],
                sizes=dict(sizes), idempotency_key=key or None,
            ),
            via="associate", actor=audit_actor(caller, request), booked_by_id=caller.associate_id,
        )  # fmt: skip
    except (InvalidRecord, Conflict) as exc:
        if isinstance(exc, InvalidRecord) and exc.errors:
            errors: dict[str, str] = {}
            for e in exc.errors:
                errors.setdefault(FORM_FIELDS.get(e.field, "form"), e.message)
        else:
            errors = {"form": exc.message}
        with db.read() as session:
            return _booking_page(request, session, caller, cid, form, errors=errors, status_code=exc.status_code)
    wake_jobs(request)
    return RedirectResponse(_brief_url(done.id), status_code=303)


def _associate_for(
    session: Session, caller: Caller, choice: str, location_id: int, type_id: int, starts: datetime
) -> int | None:
    """ "auto": me when I am working and free then, else whoever is; "any": whoever is; else the one chosen."""
    if choice.isdigit():
        return int(choice)
    if choice == "auto" and caller.associate_id is not None:
        try:
            return availability.check_slot(session, location_id=location_id, type_id=type_id, starts_at=starts,
                                           associate_id=caller.associate_id)  # fmt: skip
        except InvalidRecord:
            return None
    return None
