"""The public booking pages: a client books, moves or cancels an appointment from a phone, without signing in.

* ``GET /book`` — the stores that take appointments.
* ``GET /book/{store}`` — what to book, with whom (or anyone), which day, which time. Plain links and a
  GET form work without JavaScript; HTMX only swaps the day's times in (``GET /book/{store}/slots``).
* ``GET /book/{store}/details`` and ``POST /book/{store}`` — who is coming and why; the booking itself
  goes through :func:`rapport.appointments.booking.book_appointment`, then a 303 to ``/book/done/{token}``.
* ``GET /book/manage/{token}`` with ``POST .../move`` and ``POST .../cancel`` — the signed link of the
  confirmation email (:mod:`rapport.appointments.links`) is the only authority.

Nobody signs in here, so the session's CSRF token does not exist: the forms carry a *form token* instead,
an HMAC (the app's secret key) over a random nonce and the time it was issued, valid two hours and bound to
nothing personal. Another site cannot forge one, and its nonce doubles as the booking's idempotency key, so
a double submit books once.

Pages that hold personal data or a token are ``Cache-Control: private, no-store`` and send no referrer; every
page is ``noindex``. A token page shows that appointment's own fields (what the booker typed) and never the
client record behind it, whose name or contact a stranger could otherwise learn by typing someone's email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import availability, booking, setup
from rapport.appointments.links import InvalidLink, ManageLink, read_manage_token
from rapport.appointments.public import (
    AppointmentView,
    Person,
    StoreView,
    appointment_view,
    bookable_store,
    bookable_stores,
    day_label,
    team_at,
)
from rapport.associates.audit import AuditActor
from rapport.db import Database
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound
from rapport.http import client_ip, database, read_session
from rapport.outreach import looks
from rapport.outreach.settings import get_outreach_settings
from rapport.settings import get_settings
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

#: Every booking page: out of search engines.
NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}
#: The pickers: nothing personal, but free times change by the minute.
FRESH = {**NOINDEX, "Cache-Control": "private, no-cache"}
#: Personal data or a token: not kept by any cache, not passed on as a referrer.
PRIVATE = {**NOINDEX, "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}

#: The list of stores. ``/book`` itself is the associate's client book (:mod:`rapport.web.book`), so the public
#: pages start one level down; this router must be mounted after that one, whose ``/book/rows``,
#: ``/book/export.csv`` and ``/book/reassign`` would otherwise be read as store codes.
STORES_PATH = "/book"
DAYS_SHOWN = 21
FORM_TOKEN_TTL = timedelta(hours=2)
#: A token "issued" this far in the future is refused too (clock skew between app servers is smaller).
FORM_TOKEN_SKEW = timedelta(minutes=5)
SEARCH_RESULTS = 8
SIZE_FIELDS = (("tops", "Tops"), ("bottoms", "Bottoms"), ("shoes", "Shoes"), ("ring", "Ring"))
CONSENT_CHOICES = (("email", "Email"), ("sms", "Text message (SMS)"), ("whatsapp", "WhatsApp"))
#: The booking page acts for the client, who has no account: the audit log's "system" kind, named.
BOOKING_PAGE = "booking page"
#: Service fields shown next to a form field; anything else goes in the summary at the top.
FORM_FIELDS = ("first_name", "last_name", "email", "phone", "reason", "products_of_interest", "sizes")
WHEN_FIELDS = ("starts_at", "associate_id")


# --- the form token --------------------------------------------------------------------------------


def _sign(body: str) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    digest = hmac.new(key, f"booking-form:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def issue_form_token(now: datetime | None = None) -> str:
    """``<nonce>.<issued, unix seconds>.<signature>``: a fresh random nonce, nothing about the person."""
    body = f"{secrets.token_urlsafe(16)}.{int((now or clock.now()).timestamp())}"
    return f"{body}.{_sign(body)}"


def read_form_token(token: str, *, now: datetime | None = None) -> str | None:
    """The nonce of a genuine token issued in the last two hours; None for anything else."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or len(parts[1]) > 12 or not token.isascii():
        return None
    if not hmac.compare_digest(parts[2].encode(), _sign(f"{parts[0]}.{parts[1]}").encode()):
        return None
    issued = datetime.fromtimestamp(int(parts[1]), tz=UTC)
    at = now or clock.now()
    if not at - FORM_TOKEN_TTL <= issued <= at + FORM_TOKEN_SKEW:
        return None
    return parts[0]


# --- what the pages read -----------------------------------------------------------------------------
# Public reads of the store, its team and one appointment: each page's few fields in one statement.


@dataclass(frozen=True)
class DayChoice:
    iso: str
    weekday: str  # "Tue"
    number: int  # 24
    month: str  # "Nov"
    label: str  # "Tuesday 24 November"
    free: int
    selected: bool
    page_url: str  # the whole page with this day (no JavaScript; HTMX pushes it to the history)
    slots_url: str  # the times alone (HTMX)


@dataclass(frozen=True)
class TimeChoice:
    iso: str  # UTC, "2026-11-24T09:00:00Z"
    label: str  # store time, "10:00"
    part: str  # "Morning" | "Afternoon" | "Evening"
    href: str | None  # the booking form for this time (booking); None when the time is a button (moving)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _part(local: datetime) -> str:
    return "Morning" if local.hour < 12 else ("Afternoon" if local.hour < 17 else "Evening")


def _url(base: str, **query: Any) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return base + (("&" if "?" in base else "?") + urlencode(kept) if kept else "")


def _times(slots: Iterable[availability.Slot], href: Any = None) -> list[TimeChoice]:
    return [
        TimeChoice(_iso(s.starts_at), f"{s.local_start:%H:%M}", _part(s.local_start), href(s) if href else None)
        for s in slots
    ]


def _by_part(times: Sequence[TimeChoice]) -> list[tuple[str, list[TimeChoice]]]:
    parts: dict[str, list[TimeChoice]] = {}
    for t in times:
        parts.setdefault(t.part, []).append(t)
    return list(parts.items())


def _picker(
    session: Session,
    store: StoreView,
    offer: setup.TypeView,
    *,
    associate_id: int | None,
    day: date | None,
    page_url: str,
    slots_url: str,
    time_href: Any,
) -> dict[str, Any]:
    """The next three weeks as day buttons (those without a free time disabled), and the chosen day's times."""
    today = clock.now().astimezone(ZoneInfo(store.timezone)).date()
    counts = availability.bookable_days(
        session, location_id=store.id, type_id=offer.id, start=today, days=DAYS_SHOWN, associate_id=associate_id
    )
    shown = {d for d, _ in counts}
    if day not in shown:
        day = next((d for d, n in counts if n), None)
    days = [
        DayChoice(d.isoformat(), f"{d:%a}", d.day, f"{d:%b}", day_label(d), n, d == day,
                  _url(page_url, day=d.isoformat()), _url(slots_url, day=d.isoformat()))
        for d, n in counts
    ]  # fmt: skip
    slots = (
        availability.free_slots(session, location_id=store.id, type_id=offer.id, day=day, associate_id=associate_id)
        if day is not None
        else []
    )
    times = _times(slots, time_href)
    action, _, query = page_url.partition("?")
    return {"days": days, "day": day, "day_label": day_label(day) if day else None, "times": _by_part(times),
            "zone_label": store.zone_label, "action": action, "hidden": parse_qsl(query)}  # fmt: skip


# --- small parsers: a bad query parameter is a choice not made, never a crash ----------------------------


def _as_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _as_instant(text: str | None) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        return None
    return at.astimezone(UTC)


def _as_id(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _offer(offers: Iterable[setup.TypeView], code: str | None) -> setup.TypeView | None:
    return next((t for t in offers if t.code == code), None) if code else None


def _member(team: Sequence[Person], associate: str | None) -> Person | None:
    wanted = _as_id(associate)
    return next((p for p in team if p.id == wanted), None)


def _brand() -> str | None:
    """The retailer's name as its client emails show it ("Maison Rapport <clients@...>")."""
    return parseaddr(get_outreach_settings().client_mail_from)[0] or None


def _actor(request: Request, what: str = BOOKING_PAGE) -> AuditActor:
    """The client acts through a public page: the audit log's ``system`` kind (it has no ``client``), named."""
    return AuditActor("system", None, what, client_ip(request), request.headers.get("user-agent"))


def _message(
    request: Request, status_code: int, title: str, text: str, *, link: tuple[str, str] | None = None
) -> Response:
    context = {"brand": _brand(), "title": title, "text": text, "link": link or (STORES_PATH, "Book an appointment")}
    return render(request, "booking/message.html", context, status_code=status_code, headers=PRIVATE)


def _no_store(request: Request) -> Response:
    return _message(request, 404, "This store is not taking appointments",
                    "It may have been mistyped, or the store no longer books online.")  # fmt: skip


def _expired_form(request: Request, back: str) -> Response:
    return _message(request, 403, "This form has expired",
                    "For your security a booking form lasts two hours, and this one is no longer valid. "
                    "Nothing was booked: please choose your time again.", link=(back, "Start again"))  # fmt: skip


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# --- choosing a store, a visit and a time -------------------------------------------------------------------


@router.get(STORES_PATH, name="book_stores")
def stores_page(request: Request, session: Session = Depends(read_session)) -> Response:
    return render(request, "booking/stores.html", {"brand": _brand(), "stores": bookable_stores(session)},
                  headers=FRESH)  # fmt: skip


@router.get("/book/products", name="book_products")
def product_search(
    request: Request,
    q: str = Query("", max_length=100),
    pick: list[str] = Query([], max_length=booking.PRODUCTS_MAX * 2),
    session: Session = Depends(read_session),
) -> Response:
    """The catalogue search of the booking form (HTMX); the products already ticked stay ticked."""
    return render(request, "booking/_products.html", _products_context(session, q, pick), headers=FRESH)


def _products_context(session: Session, q: str, picked: Sequence[str]) -> dict[str, Any]:
    kept = list(dict.fromkeys(p.strip()[: booking.PRODUCT_MAX] for p in picked if p.strip()))[: booking.PRODUCTS_MAX]
    text = q.strip()
    hits = looks.find_products(session, text, limit=SEARCH_RESULTS) if text else []
    found = [{"value": _pick_value(p), "name": p.name, "brand": p.brand, "detail": _detail(p), "price": p.price,
              "image_url": p.image_url} for p in hits]  # fmt: skip
    found = [h for h in found if h["value"] not in kept]
    return {"q": text, "picked": kept, "found": found, "searched": bool(text)}


def _pick_value(p: looks.LookProduct) -> str:
    return f"{p.name} ({p.sku})"


def _detail(p: looks.LookProduct) -> str:
    return " · ".join(x for x in (p.colour, f"size {p.size}" if p.size else None) if x)


@router.get("/book/done/{token}", name="book_done")
def done_page(request: Request, token: str = Path(..., max_length=200), db: Database = Depends(database)) -> Response:
    """The confirmation (or, after a cancellation, the cancellation): when, where, with whom, what comes next."""
    found = _linked(request, db, token)
    if isinstance(found, Response):
        return found
    _, appointment = found
    context = {"brand": _brand(), "a": appointment, "manage_url": f"/book/manage/{token}",
               "size_labels": dict(SIZE_FIELDS), "book_again": _store_url_or_list(db, appointment.store)}  # fmt: skip
    return render(request, "booking/done.html", context, headers=PRIVATE)


# --- the manage link: move or cancel ---------------------------------------------------------------------


def _linked(request: Request, db: Database, token: str) -> tuple[ManageLink, AppointmentView] | Response:
    """The link's appointment, if the link is genuine, unexpired and of the appointment's current version;
    otherwise the page that says the link is not valid (403), never a trace."""
    try:
        if not token.isascii() or any(len(p) > 20 for p in token.split(".")[:3]):  # hmac and dates refuse these
            raise InvalidLink("this link is not valid")
        link = read_manage_token(token)
    except InvalidLink as exc:
        expired = "expired" in exc.message
        return _message(request, 403, "This link has expired" if expired else "This link is not valid",
                        _sentence(exc.message) + ". To change an appointment that has begun, please call the store."
                        if expired else "It may have been copied incompletely. Use the link in your confirmation "
                        "email, or book again.")  # fmt: skip
    with db.read() as session:
        appointment = appointment_view(session, link.appointment_id)
    if appointment is None:
        return _message(request, 403, "This link is not valid", "This appointment no longer exists.")
    if appointment.version != link.version:
        return _message(request, 403, "This link is no longer valid",
                        "The appointment was moved or cancelled since this link was sent. "
                        "Use the link in your newest email.")  # fmt: skip
    return link, appointment


def _store_url_or_list(db: Database, store: StoreView) -> str:
    with db.read() as session:
        return store.url if bookable_store(session, store.code) is not None else STORES_PATH


def _manage_context(
    session: Session,
    token: str,
    a: AppointmentView,
    *,
    day: date | None = None,
    associate: str | None = None,
    move_error: str | None = None,
) -> dict[str, Any]:
    base = f"/book/manage/{quote(token, safe='')}"
    context: dict[str, Any] = {"brand": _brand(), "a": a, "base": base, "size_labels": dict(SIZE_FIELDS),
                               "form_token": issue_form_token(), "move_error": move_error, "picker": None,
                               "team": [], "person": None, "offer": None}  # fmt: skip
    if a.status != "booked":
        return context
    offer = next((t for t in setup.types_at(session, a.store.id) if t.id == a.type_id), None)
    if offer is None:  # the store stopped offering it online: cancelling still works
        return context
    team = team_at(session, a.store.id)
    person = _member(team, associate)
    who = person.id if person else None
    picker = _picker(session, a.store, offer, associate_id=who, day=day, page_url=_url(base, associate=who),
                     slots_url=_url(f"{base}/slots", associate=who), time_href=None)  # fmt: skip
    context.update(offer=offer, team=team, person=person, associate_urls=_associate_urls(base, team), picker=picker)
    return context


def _associate_urls(base: str, team: Sequence[Person], **query: Any) -> dict[int | None, str]:
    urls: dict[int | None, str] = {None: _url(base, **query)}
    urls.update({p.id: _url(base, **query, associate=p.id) for p in team})
    return urls


@router.get("/book/manage/{token}", name="book_manage")
def manage_page(
    request: Request,
    token: str = Path(..., max_length=200),
    day: str | None = Query(None, max_length=10),
    associate: str | None = Query(None, max_length=20),
    db: Database = Depends(database),
) -> Response:
    found = _linked(request, db, token)
    if isinstance(found, Response):
        return found
    _, appointment = found
    with db.read() as session:
        context = _manage_context(session, token, appointment, day=_as_day(day), associate=associate)
    return render(request, "booking/manage.html", context, headers=PRIVATE)


@router.get("/book/manage/{token}/slots", name="book_manage_slots")
def manage_slots(
    request: Request,
    token: str = Path(..., max_length=200),
    day: str | None = Query(None, max_length=10),
    associate: str | None = Query(None, max_length=20),
    db: Database = Depends(database),
) -> Response:
    """The chosen day's times as buttons of the move form (HTMX); without it, the manage page."""
    found = _linked(request, db, token)
    if isinstance(found, Response):
        return found
    _, a = found
    with db.read() as session:
        team = team_at(session, a.store.id)
        person = _member(team, associate)
        who = person.id if person else None
        if not _is_htmx(request) or a.status != "booked":
            return RedirectResponse(_url(f"/book/manage/{quote(token, safe='')}", associate=who, day=day),
                                    status_code=303, headers=PRIVATE)  # fmt: skip
        offer = next((t for t in setup.types_at(session, a.store.id) if t.id == a.type_id), None)
        times = _day_times(session, a.store, offer, associate_id=who, day=_as_day(day), time_href=None)
    return render(request, "booking/_slots.html", {**times, "mode": "move"}, headers=PRIVATE)


@router.post("/book/manage/{token}/move", name="book_move")
def move(
    request: Request,
    token: str = Path(..., max_length=200),
    form_token: str = Form("", max_length=200),
    start: str = Form("", max_length=40),
    associate: str = Form("", max_length=20),
    db: Database = Depends(database),
) -> Response:
    found = _linked(request, db, token)
    if isinstance(found, Response):
        return found
    link, a = found
    back = f"/book/manage/{quote(token, safe='')}"
    if read_form_token(form_token) is None:
        return _expired_form(request, back)
    with db.read() as session:
        person = _member(team_at(session, a.store.id), associate)
    starts = _as_instant(start)
    problem: str | None = "Choose a time." if starts is None else None
    if starts is not None:
        try:
            moved = booking.reschedule_appointment(
                db, a.id, starts, actor=_actor(request, f"{BOOKING_PAGE}: manage link"),
                associate_id=person.id if person else None, version=link.version,
            )  # fmt: skip
        except InvalidRecord as exc:
            problem = _when_problem(exc.errors)
        except Conflict as exc:
            return _message(request, 409, "This appointment can no longer be changed", _sentence(exc.message) + ".",
                            link=(f"/book/done/{quote(token, safe='')}", "See the appointment"))  # fmt: skip
        except NotFound:
            return _message(request, 403, "This link is not valid", "This appointment no longer exists.")
        else:
            return RedirectResponse(f"/book/done/{moved.manage_token}", status_code=303, headers=PRIVATE)
    day = starts.astimezone(ZoneInfo(a.store.timezone)).date() if starts is not None else None
    with db.read() as session:
        context = _manage_context(session, token, a, day=day, associate=associate, move_error=problem)
    return render(request, "booking/manage.html", context, status_code=422, headers=PRIVATE)


@router.post("/book/manage/{token}/cancel", name="book_cancel")
def cancel(
    request: Request,
    token: str = Path(..., max_length=200),
    form_token: str = Form("", max_length=200),
    reason: str = Form("", max_length=5000),
    db: Database = Depends(database),
) -> Response:
    found = _linked(request, db, token)
    if isinstance(found, Response):
        return found
    link, a = found
    if read_form_token(form_token) is None:
        return _expired_form(request, f"/book/manage/{quote(token, safe='')}")
    try:
        done = booking.cancel_appointment(
            db, a.id, actor=_actor(request, f"{BOOKING_PAGE}: manage link"), reason=reason, version=link.version
        )
    except Conflict as exc:
        return _message(request, 409, "This appointment can no longer be cancelled", _sentence(exc.message) + ".",
                        link=(f"/book/done/{quote(token, safe='')}", "See the appointment"))  # fmt: skip
    except NotFound:
        return _message(request, 403, "This link is not valid", "This appointment no longer exists.")
    return RedirectResponse(f"/book/done/{done.manage_token}", status_code=303, headers=PRIVATE)


# --- a store's page: what, with whom, when ---------------------------------------------------------------


def _choice_urls(store: StoreView, offer: setup.TypeView, person: Person | None) -> tuple[str, str, Any]:
    """The store page, the day's times (HTMX) and a time's form, for this visit and associate."""
    who = person.id if person else None
    page = _url(store.url, type=offer.code, associate=who)
    slots = _url(f"{store.url}/slots", type=offer.code, associate=who)

    def details(slot: availability.Slot) -> str:
        return _url(f"{store.url}/details", type=offer.code, start=_iso(slot.starts_at), associate=who)

    return page, slots, details


def _day_times(
    session: Session,
    store: StoreView,
    offer: setup.TypeView | None,
    *,
    associate_id: int | None,
    day: date | None,
    time_href: Any,
    leave_out: datetime | None = None,
) -> dict[str, Any]:
    """One day's free times (within the days the picker shows), grouped by part of the day."""
    slots: list[availability.Slot] = []
    if offer is not None and day is not None:
        today = clock.now().astimezone(ZoneInfo(store.timezone)).date()
        if today <= day < today + timedelta(days=DAYS_SHOWN):
            slots = availability.free_slots(
                session, location_id=store.id, type_id=offer.id, day=day, associate_id=associate_id
            )
    times = [t for t in _times(slots, time_href) if leave_out is None or t.iso != _iso(leave_out)]
    return {"day": day, "day_label": day_label(day) if day else None, "times": _by_part(times),
            "zone_label": store.zone_label}  # fmt: skip


@router.get("/book/{store_code}", name="book_store")
def store_page(
    request: Request,
    store_code: str = Path(..., max_length=64),
    offer_code: str | None = Query(None, alias="type", max_length=32),
    day: str | None = Query(None, max_length=10),
    associate: str | None = Query(None, max_length=20),
    session: Session = Depends(read_session),
) -> Response:
    store = bookable_store(session, store_code)
    if store is None:
        return _no_store(request)
    offers = setup.types_at(session, store.id)
    offer = _offer(offers, offer_code)
    context: dict[str, Any] = {"brand": _brand(), "store": store, "offers": offers, "offer": offer, "picker": None,
                               "team": [], "person": None}  # fmt: skip
    if offer is not None:
        team = team_at(session, store.id)
        person = _member(team, associate)
        page, slots, details = _choice_urls(store, offer, person)
        context.update(
            team=team, person=person, associate_urls=_associate_urls(store.url, team, type=offer.code),
            picker=_picker(session, store, offer, associate_id=person.id if person else None, day=_as_day(day),
                           page_url=page, slots_url=slots, time_href=details),
        )  # fmt: skip
    return render(request, "booking/store.html", context, headers=FRESH)


@router.get("/book/{store_code}/slots", name="book_slots")
def store_slots(
    request: Request,
    store_code: str = Path(..., max_length=64),
    offer_code: str | None = Query(None, alias="type", max_length=32),
    day: str | None = Query(None, max_length=10),
    associate: str | None = Query(None, max_length=20),
    session: Session = Depends(read_session),
) -> Response:
    """A day's times as links to the form (HTMX swaps them in); without HTMX, the store page for that day."""
    store = bookable_store(session, store_code)
    if store is None:
        return _no_store(request)
    offer = _offer(setup.types_at(session, store.id), offer_code)
    person = _member(team_at(session, store.id), associate)
    if offer is None or not _is_htmx(request):
        target = _url(store.url, type=offer.code if offer else None, associate=person.id if person else None, day=day)
        return RedirectResponse(target, status_code=303, headers=FRESH)
    _, _, details = _choice_urls(store, offer, person)
    times = _day_times(session, store, offer, associate_id=person.id if person else None, day=_as_day(day),
                       time_href=details)  # fmt: skip
    return render(request, "booking/_slots.html", {**times, "mode": "book"}, headers=FRESH)


# --- who is coming, and why ----------------------------------------------------------------------------------


@dataclass
class FormState:
    """What the booking form shows: the chosen visit and time, what was typed, and what is wrong with it."""

    store: StoreView
    offer: setup.TypeView
    person: Person | None
    starts_at: datetime | None
    values: dict[str, Any]
    form_token: str
    errors: dict[str, str]
    when_error: str | None = None
    other_errors: tuple[str, ...] = ()


def _blank_values() -> dict[str, Any]:
    return {"first_name": "", "last_name": "", "email": "", "phone": "", "reason": "", "products": "",
            "pick": [], "sizes": {k: "" for k, _ in SIZE_FIELDS}, "consent": [], "q": ""}  # fmt: skip


def _form_context(session: Session, state: FormState) -> dict[str, Any]:
    store, offer, person = state.store, state.offer, state.person
    who = person.id if person else None
    zone = ZoneInfo(store.timezone)
    local = state.starts_at.astimezone(zone) if state.starts_at else None
    page, _, _ = _choice_urls(store, offer, person)
    alternatives: dict[str, Any] | None = None
    if state.when_error is not None and local is not None:
        alternatives = _day_times(session, store, offer, associate_id=who, day=local.date(), time_href=None,
                                  leave_out=state.starts_at)  # fmt: skip
    summary = [(f"#{name}", _sentence(message)) for name, message in state.errors.items()]
    if state.when_error:
        summary.insert(0, ("#when", state.when_error))
    return {
        "brand": _brand(), "store": store, "offer": offer, "person": person,
        "start_iso": _iso(state.starts_at) if state.starts_at else "",
        "when_label": f"{day_label(local.date())} at {local:%H:%M}" if local else None,
        "zone_label": store.zone_label, "change_url": _url(page, day=local.date().isoformat() if local else None),
        "values": state.values, "errors": {k: _sentence(v) for k, v in state.errors.items()},
        "when_error": state.when_error, "other_errors": state.other_errors, "summary": summary,
        "alternatives": alternatives, "form_token": state.form_token,
        "products": _products_context(session, state.values.get("q", ""), state.values.get("pick", [])),
        "size_fields": SIZE_FIELDS, "consent_choices": CONSENT_CHOICES, "reason_max": booking.REASON_MAX,
        "products_max": booking.PRODUCTS_MAX, "name_max": booking.NAME_MAX,
    }  # fmt: skip


@router.get("/book/{store_code}/details", name="book_details")
def details_page(
    request: Request,
    store_code: str = Path(..., max_length=64),
    offer_code: str | None = Query(None, alias="type", max_length=32),
    start: str | None = Query(None, max_length=40),
    associate: str | None = Query(None, max_length=20),
    session: Session = Depends(read_session),
) -> Response:
    store = bookable_store(session, store_code)
    if store is None:
        return _no_store(request)
    offer = _offer(setup.types_at(session, store.id), offer_code)
    starts = _as_instant(start)
    person = _member(team_at(session, store.id), associate)
    if offer is None or starts is None:
        target = _url(store.url, type=offer.code if offer else None, associate=person.id if person else None)
        return RedirectResponse(target, status_code=303, headers=FRESH)
    when_error = None
    try:  # a time taken since the list was shown: say so before anything is typed
        availability.check_slot(session, location_id=store.id, type_id=offer.id, starts_at=starts,
                                associate_id=person.id if person else None)  # fmt: skip
    except InvalidRecord as exc:
        when_error = _when_problem(exc.errors)
    state = FormState(store, offer, person, starts, _blank_values(), issue_form_token(), {}, when_error)
    return render(request, "booking/details.html", _form_context(session, state), headers=PRIVATE)


@router.post("/book/{store_code}", name="book_submit")
def submit(
    request: Request,
    store_code: str = Path(..., max_length=64),
    form_token: str = Form("", max_length=200),
    offer_code: str = Form("", alias="type", max_length=32),
    start: str = Form("", max_length=40),
    associate: str = Form("", max_length=20),
    first_name: str = Form("", max_length=1000),
    last_name: str = Form("", max_length=1000),
    email: str = Form("", max_length=1000),
    phone: str = Form("", max_length=1000),
    reason: str = Form("", max_length=20_000),
    products: str = Form("", max_length=20_000),
    pick: list[str] = Form([], max_length=booking.PRODUCTS_MAX * 2),
    size_tops: str = Form("", max_length=200),
    size_bottoms: str = Form("", max_length=200),
    size_shoes: str = Form("", max_length=200),
    size_ring: str = Form("", max_length=200),
    consent: list[str] = Form([], max_length=len(CONSENT_CHOICES) * 2),
    find: str = Form("", max_length=10),
    q: str = Form("", max_length=100),
    db: Database = Depends(database),
) -> Response:
    """Book; or, with ``find`` (the catalogue search without JavaScript), show the form again with the results."""
    with db.read() as session:
        store = bookable_store(session, store_code)
        if store is None:
            return _no_store(request)
        offer = _offer(setup.types_at(session, store.id), offer_code)
        person = _member(team_at(session, store.id), associate)
    if offer is None:
        return _message(request, 404, "This visit is not offered any more",
                        "The store has changed what can be booked online. Nothing was booked.",
                        link=(store.url, "Choose again"))  # fmt: skip
    nonce = read_form_token(form_token)
    if nonce is None:
        return _expired_form(request, _url(store.url, type=offer.code))
    sizes = {"tops": size_tops, "bottoms": size_bottoms, "shoes": size_shoes, "ring": size_ring}
    picked = [p for p in dict.fromkeys(p.strip() for p in pick) if p]
    values = {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone, "reason": reason,
              "products": products, "pick": picked, "sizes": sizes, "consent": [c for c in consent
              if c in dict(CONSENT_CHOICES)], "q": q}  # fmt: skip
    starts = _as_instant(start)
    state = FormState(store, offer, person, starts, values, form_token, {})
    if find:
        with db.read() as session:
            return render(request, "booking/details.html", _form_context(session, state), headers=PRIVATE)
    lines = [line.strip() for line in products.splitlines() if line.strip()]
    client = booking.ClientDetails(first_name=first_name, last_name=last_name, email=email or None,
                                   phone=phone or None, consent=tuple(values["consent"]))  # fmt: skip
    problems: list[FieldError] = []
    if starts is not None:
        req = booking.BookingRequest(
            location_id=store.id, type_id=offer.id, starts_at=starts, associate_id=person.id if person else None,
            client=client, reason=reason, products_of_interest=lines + picked,
            sizes={k: v for k, v in sizes.items() if v.strip()}, idempotency_key=f"web:{nonce}",
        )  # fmt: skip
        try:
            booked = booking.book_appointment(db, req, via="web", actor=_actor(request))
        except InvalidRecord as exc:
            problems = list(exc.errors)
        else:
            return RedirectResponse(f"/book/done/{booked.manage_token}", status_code=303, headers=PRIVATE)
    fields, when, other = _sort_errors(problems)
    if starts is None:
        when = "Choose a time for your visit."
    state = FormState(store, offer, person, starts, values, form_token, fields, when, tuple(other))
    with db.read() as session:
        return render(request, "booking/details.html", _form_context(session, state), status_code=422,
                      headers=PRIVATE)  # fmt: skip


# --- words ---------------------------------------------------------------------------------------------------


def _sentence(message: str) -> str:
    text = message.strip()
    return text[:1].upper() + text[1:] if text else text


def _when_problem(errors: Sequence[FieldError]) -> str:
    """Why a time cannot be booked, as one sentence ("This time can no longer be booked: fully booked at 10:00.")."""
    reasons = [e.message for e in errors if e.field in WHEN_FIELDS] or [e.message for e in errors]
    return "This time can no longer be booked: " + "; ".join(reasons) + "."


def _sort_errors(errors: Sequence[FieldError]) -> tuple[dict[str, str], str | None, list[str]]:
    """The service's errors by where the form shows them: next to a field, by the time, or at the top."""
    fields: dict[str, str] = {}
    when: list[FieldError] = []
    other: list[str] = []
    for e in errors:
        name = e.field
        if name.startswith("emails"):
            name = "email"
        elif name.startswith("phones"):
            name = "phone"
        if name in FORM_FIELDS:
            fields[name] = f"{fields[name]}; {e.message}" if name in fields else e.message
        elif name in WHEN_FIELDS:
            when.append(e)
        elif name == "type_id":
            other.append(_sentence(e.message) + ".")
        else:
            other.append(_sentence(f"{e.field}: {e.message}") + ".")
    return fields, (_when_problem(when) if when else None), other
