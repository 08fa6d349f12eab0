"""The associate's two most used screens: Search and the one-screen Client profile, with inline edits.

Thin, like every page: parse, authorise, call one service, render. The profile is the Customer 360
(:func:`rapport.customers.read.client_360`, a fixed number of statements) plus the latest purchases
(one statement); each view is written to the audit log. Edits go through
:mod:`rapport.customers.edits` (permission, validation, timeline entry, audit row) and answer an
HTMX request with the changed section — plus, out of band, the sections that show the same facts
(the timeline always) — or, for a plain form post, with a redirect back to the section.

Errors in an HTMX edit come back as the section with the message beside the field, with the
error status (4xx) and ``X-Rapport-Fragment: 1`` so ``clients.js`` lets HTMX swap it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_time, format_timedelta
from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import calendar as appointments_calendar
from rapport.associates import audit
from rapport.associates.permissions import STORE_MANAGER, ClientFacts, can_edit_client, store_ids_of
from rapport.customers import edits, purchases, read, search
from rapport.customers.models import CONSENT_CHANNELS
from rapport.customers.views import Client360, TimelinePage
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, NotFound, PermissionDenied, RapportError
from rapport.http import Caller, client_ip, csrf_checked, database, page_caller, read_session
from rapport.web.holds import client_holds_context
from rapport.web.tasks import client_tasks_context
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

LOCALE = "en_US"
#: Timeline entries on the profile and per "More" page: enough for a glance, light on a phone.
TIMELINE_PAGE = 20
#: Notes shown before "All notes".
NOTES_SHOWN = 5
#: Wishlist items and try-ons shown (the rest are counted: the page stays light on a phone).
LIST_SHOWN = 10
#: "What to know now" looks this far ahead for milestones.
SOON_DAYS = 30
SEARCH_LIMIT = 12
#: Channels offered as timeline filters, in the order an associate thinks of them.
TIMELINE_FILTERS = ("store", "online", "app", "phone", "social", "email", "sms", "whatsapp")
CHANNEL_LABELS = {"online": "Online", "store": "Store", "phone": "Phone", "app": "App", "social": "Social",
                  "email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}  # fmt: skip
#: Timeline kinds that are not something the client did with the brand (for "last interaction").
NOT_INTERACTIONS = frozenset({"profile", "merge", "unmerge", "consent", "order_cancelled", "page_view", "product_view"})
FRAGMENT_HEADER = "X-Rapport-Fragment"


# -- hooks for "what to know now" ------------------------------------------------------------------


@dataclass(frozen=True)
class NowItem:
    """One line under "What to know now": an open hold, a task due, an appointment today..."""

    kind: str  # "hold" | "task" | "appointment" | ...
    title: str
    detail: str = ""
    href: str | None = None


#: Capabilities that have something to say before the client reaches the counter register a source
#: here (``register_now_source``): a function of (read session, client id) answering a short list in
#: one bounded query. Holds and tasks do not exist yet; their sections appear once a source answers.
NowSource = Callable[[Session, int], Sequence[NowItem]]
_NOW_SOURCES: list[tuple[str, NowSource]] = []


def register_now_source(heading: str, source: NowSource) -> None:
    """Show ``heading`` and the items ``source`` finds under "What to know now" (only when there are some)."""
    _NOW_SOURCES.append((heading, source))


# -- display helpers (given to the templates as ``fmt``) ---------------------------------------------


class Formats:
    """Dates, times, percentages and relative times with Babel, in one locale."""

    def __init__(self, locale: str = LOCALE, today: date | None = None) -> None:
        self.locale = locale
        self.now = clock.now()
        self.today = today or self.now.date()

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        return str(format_date(value, "medium", locale=self.locale))

    def time(self, value: datetime | None) -> str:
        return "" if value is None else str(format_time(value, "short", tzinfo=UTC, locale=self.locale))

    def when(self, value: datetime | None) -> str:
        """``Nov 1, 2026 · 10:00 AM`` (UTC)."""
        return "" if value is None else f"{self.date(value)} · {self.time(value)}"

    def ago(self, value: datetime | None) -> str:
        if value is None:
            return ""
        delta = value - self.now
        if abs(delta.total_seconds()) < 60:
            return "just now"
        return str(format_timedelta(delta, add_direction=True, threshold=1.0, locale=self.locale))

    def percent(self, value: float | None) -> str:
        return "—" if value is None else str(format_percent(value, "#,##0.#%", locale=self.locale))

    def day_month(self, month: int, day: int) -> str:
        return str(format_date(date(2000, month, day), "MMMM d", locale=self.locale))

    def channel(self, value: str | None) -> str:
        return CHANNEL_LABELS.get(value or "", (value or "").replace("_", " ").capitalize())

    def kind(self, value: str) -> str:
        return value.replace("_", " ").capitalize()


def initials(first: str | None, last: str | None, fallback: str = "") -> str:
    letters = [part.strip()[0] for part in (first, last) if part and part.strip()]
    if not letters:
        letters = [w[0] for w in fallback.split()[:2] if w]
    return "".join(letters).upper()[:2] or "?"


def mask_email(address: str | None) -> str:
    """``alicia@example.com`` → ``al•••@example.com``: enough to tell two Alicias apart, not to write to."""
    if not address or "@" not in address:
        return ""
    local, _, domain = address.partition("@")
    keep = 1 if len(local) <= 3 else 2
    return f"{local[:keep]}•••@{domain}"


def mask_phone(number: str | None) -> str:
    """``+33612345678`` → ``+33 ••• 5678``: the country and the last four digits."""
    if not number:
        return ""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return "•••"
    tail = "".join(digits[-4:])
    head = ""
    if number.startswith("+"):
        import phonenumbers

        try:
            head = f"+{phonenumbers.parse(number, None).country_code} "
        except phonenumbers.NumberParseException:
            head = ""
    return f"{head}••• {tail}"


# -- search ----------------------------------------------------------------------------------------


def _search(session: Session, q: str) -> tuple[list[search.SearchHit], str | None]:
    text = " ".join(q.split())
    if not text:
        return [], None
    try:
        return search.search_clients(session, text, limit=SEARCH_LIMIT), None
    except InvalidRecord as exc:
        return [], exc.errors[0].message if exc.errors else exc.message


def _results_context(session: Session, q: str) -> dict[str, Any]:
    hits, hint = _search(session, q)
    rows = [
        {
            "hit": h,
            "initials": initials(h.first_name, h.last_name, h.name),
            "email": mask_email(h.email),
            "phone": mask_phone(h.phone),
        }
        for h in hits
    ]
    return {"q": q, "rows": rows, "hint": hint, "fmt": Formats()}


@router.get("/search", name="search")
def search_page(
    request: Request,
    q: str = Query("", max_length=200),
    _caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    return render(request, "clients/search.html", _results_context(session, q))


@router.get("/search/results", name="search_results")
def search_results(
    request: Request,
    q: str = Query("", max_length=200),
    _caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(_search_url(request, q), status_code=303)
    response = render(request, "clients/_results.html", _results_context(session, q))
    response.headers["HX-Replace-Url"] = _search_url(request, q)  # back from a profile shows these results
    return response


def _search_url(request: Request, q: str) -> str:
    path = str(request.app.url_path_for("search"))
    return f"{path}?{urlencode({'q': q})}" if q.strip() else path


# -- the profile -----------------------------------------------------------------------------------


def _facts(session: Session, actor_role: str | None, view: Client360) -> ClientFacts:
    """The edit rule's facts from the 360 already read (a manager's team needs one more look-up)."""
    p = view.profile
    assigned = p.assigned_associate.id if p.assigned_associate else None
    stores: frozenset[int] = frozenset()
    if assigned is not None and actor_role == STORE_MANAGER:
        stores = store_ids_of(session, [assigned]).get(assigned, frozenset())
    return ClientFacts(view.customer_id, p.home_store.id if p.home_store else None, assigned, stores)


def _now(session: Session, view: Client360, fmt: Formats) -> dict[str, Any]:
    soon = [m for m in view.milestones if m.days_until <= SOON_DAYS]
    last = next((e for e in view.timeline.entries if e.kind not in NOT_INTERACTIONS), None)
    sections = []
    for heading, source in _NOW_SOURCES:
        items = list(source(session, view.customer_id))
        if items:
            sections.append({"heading": heading, "items": items})
    return {"milestones": soon, "last": last, "sections": sections}


def _kpis(view: Client360) -> dict[str, Any]:
    k = view.kpis
    return {
        "net": [s.net.formatted for s in k.lifetime_spend],
        "aov": [s.average_order_value.formatted for s in k.lifetime_spend if s.average_order_value],
        "orders": k.order_count,
        "last": k.last_purchase_at,
        "return_rate": k.return_rate,
        "returns": k.return_count,
        "channels": k.channels,
    }


def _profile_context(
    session: Session,
    caller: Caller,
    view: Client360,
    *,
    timeline: TimelinePage | None = None,
    channel: str | None = None,
    with_purchases: bool = True,
) -> dict[str, Any]:
    fmt = Formats()
    facts = _facts(session, caller.role, view)
    p = view.profile
    consent = {c.channel: c for c in view.consent}
    return {
        "view": view,
        "p": p,
        "cid": view.customer_id,
        "fmt": fmt,
        "initials": initials(p.first_name, p.last_name, p.full_name),
        "can_edit": can_edit_client(caller.actor, facts),
        "now": _now(session, view, fmt),
        "kpis": _kpis(view),
        "consent": [consent[ch] for ch in CONSENT_CHANNELS if ch in consent],
        "consent_channels": CONSENT_CHANNELS,
        "notes_shown": NOTES_SHOWN,
        "list_shown": LIST_SHOWN,
        "purchases": purchases.recent_purchases(session, view.customer_id) if with_purchases else [],
        "timeline": timeline if timeline is not None else view.timeline,
        "channel": channel,
        "filters": [(ch, CHANNEL_LABELS[ch]) for ch in TIMELINE_FILTERS],
        "milestone_kinds": edits.MILESTONE_KINDS,
        "errors": {},
        "form": {},
        "oob": set(),
    }


def _channel(value: str | None) -> str | None:
    return value if value in read.TIMELINE_CHANNELS else None


def _audit_view(db: Database, request: Request, caller: Caller, customer_id: int) -> None:
    with db.write() as session:
        audit.record_view(
            session,
            actor_kind=caller.kind,
            actor_id=caller.id,
            actor_label=caller.label,
            customer_id=customer_id,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )


@router.get("/clients/{customer_id}", name="client_profile")
def client_profile(
    request: Request,
    customer_id: int,
    channel: str | None = Query(None, max_length=16),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
    db: Database = Depends(database),
) -> Response:
    view = read.client_360(session, customer_id, timeline_limit=TIMELINE_PAGE, locale=LOCALE)
    if view.resolved_from is not None:  # an old id after a merge: the survivor's page, under its own id
        return RedirectResponse(_profile_url(request, view.customer_id), status_code=301)
    channel = _channel(channel)
    page = None
    if channel:
        page = read.client_timeline(session, view.customer_id, limit=TIMELINE_PAGE, channels=[channel], locale=LOCALE)
    context = _profile_context(session, caller, view, timeline=page, channel=channel)
    context.update(client_tasks_context(session, caller, view.customer_id, can_add=context["can_edit"]))
    context.update(client_holds_context(session, caller, view.customer_id))
    context["client_appointments"] = appointments_calendar.of_client(session, view.customer_id, limit=3, resolved=True)
    _audit_view(db, request, caller, view.customer_id)
    response = render(request, "clients/profile.html", context)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: never from a shared cache
    return response


@router.get("/clients/{customer_id}/timeline", name="client_timeline")
def client_timeline(
    request: Request,
    customer_id: int,
    channel: str | None = Query(None, max_length=16),
    before: str | None = Query(None, max_length=200),
    _caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    channel = _channel(channel)
    if request.headers.get("hx-request") != "true":
        url = _profile_url(request, customer_id) + (f"?{urlencode({'channel': channel})}" if channel else "")
        return RedirectResponse(url + "#timeline", status_code=303)
    page = read.client_timeline(
        session, customer_id, before=before, limit=TIMELINE_PAGE, channels=[channel] if channel else (),
        locale=LOCALE,
    )  # fmt: skip
    context = {"cid": page.customer_id, "timeline": page, "channel": channel, "fmt": Formats(), "oob": set(),
               "filters": [(ch, CHANNEL_LABELS[ch]) for ch in TIMELINE_FILTERS]}  # fmt: skip
    template = "clients/_timeline_items.html" if before else "clients/_timeline.html"
    return render(request, template, context)


def _profile_url(request: Request, customer_id: int) -> str:
    return str(request.app.url_path_for("client_profile", customer_id=str(customer_id)))


# -- edits -------------------------------------------------------------------------------------------

#: Each edit's section, and the other sections showing the same facts (sent out of band).
SECTIONS: dict[str, tuple[str, ...]] = {
    "notes": ("notes", "timeline"),
    "style": ("style", "timeline"),
    "dates": ("dates", "now", "timeline"),
    "people": ("people", "timeline"),
    "consent": ("consent", "header", "timeline"),
}


def _editor(caller: Caller, request: Request) -> edits.Editor:
    return edits.Editor(caller.actor, caller.name, client_ip(request), request.headers.get("user-agent"))


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _after_edit(
    request: Request,
    db: Database,
    caller: Caller,
    customer_id: int,
    section: str,
    change: Callable[[Session, edits.Editor], Any],
    form: dict[str, Any],
) -> Response:
    """Run ``change`` in one unit of work; answer with the section(s) or a redirect; errors beside the form."""
    editor = _editor(caller, request)
    error: RapportError | None = None
    try:
        with db.write() as session:
            change(session, editor)
    except (InvalidRecord, Conflict, PermissionDenied, NotFound) as exc:
        if not _is_htmx(request):
            raise
        error = exc  # an unknown client is still a 404 page: reading it again below says so
    if not _is_htmx(request):
        return RedirectResponse(f"{_profile_url(request, customer_id)}#{section}", status_code=303)
    with db.read() as session:
        view = read.client_360(session, customer_id, timeline_limit=TIMELINE_PAGE, locale=LOCALE)
        context = _profile_context(session, caller, view, with_purchases=False)
    names = SECTIONS[section]
    context["sections"] = names if error is None else (section,)
    context["oob"] = set(context["sections"][1:])
    if error is not None:
        context["form"] = form
        context["error"] = error.message
        if isinstance(error, InvalidRecord):
            context["errors"] = {e.field: e.message for e in error.errors}
    status = 200 if error is None else error.status_code
    response = render(request, "clients/_sections.html", context, status_code=status)
    if error is not None:
        response.headers[FRAGMENT_HEADER] = "1"
    return response


@router.post("/clients/{customer_id}/notes", name="client_add_note")
def add_note(
    request: Request,
    customer_id: int,
    body: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    return _after_edit(
        request, db, caller, customer_id, "notes",
        lambda session, editor: edits.add_note(session, editor, customer_id, body), {"body": body},
    )  # fmt: skip


@router.post("/clients/{customer_id}/profile", name="client_update_profile")
def update_profile(
    request: Request,
    customer_id: int,
    size_key: list[str] = Form([]),
    size_value: list[str] = Form([]),
    pref_key: list[str] = Form([]),
    pref_values: list[str] = Form([]),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    sizes = {k: v for k, v in zip(size_key, size_value, strict=False) if k.strip() or v.strip()}
    prefs = {k: v for k, v in zip(pref_key, pref_values, strict=False) if k.strip() or v.strip()}
    return _after_edit(
        request, db, caller, customer_id, "style",
        lambda session, editor: edits.update_profile(session, editor, customer_id, sizes=sizes, preferences=prefs),
        {"sizes": list(zip(size_key, size_value, strict=False)),
         "prefs": list(zip(pref_key, pref_values, strict=False))},
    )  # fmt: skip


@router.post("/clients/{customer_id}/milestones", name="client_add_milestone")
def add_milestone(
    request: Request,
    customer_id: int,
    kind: str = Form(""),
    label: str = Form(""),
    date: str = Form(""),
    year_unknown: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    def change(session: Session, editor: edits.Editor) -> Any:
        edits.editable_client(session, editor, customer_id)
        year, month, day = edits.parse_milestone_date(date)
        if year_unknown:
            year = None
        return edits.add_milestone(session, editor, customer_id, kind=kind, label=label, month=month, day=day,
                                   year=year)  # fmt: skip

    form = {"kind": kind, "label": label, "date": date, "year_unknown": bool(year_unknown)}
    return _after_edit(request, db, caller, customer_id, "dates", change, form)


@router.post("/clients/{customer_id}/milestones/{milestone_id}/remove", name="client_remove_milestone")
def remove_milestone(
    request: Request,
    customer_id: int,
    milestone_id: int,
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    return _after_edit(
        request, db, caller, customer_id, "dates",
        lambda session, editor: edits.remove_milestone(session, editor, customer_id, milestone_id), {},
    )  # fmt: skip


@router.post("/clients/{customer_id}/relationships", name="client_add_relationship")
def add_relationship(
    request: Request,
    customer_id: int,
    relation: str = Form(""),
    name: str = Form(""),
    note: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    return _after_edit(
        request, db, caller, customer_id, "people",
        lambda session, editor: edits.add_relationship(session, editor, customer_id, relation=relation, name=name,
                                                       note=note),
        {"relation": relation, "name": name, "note": note},
    )  # fmt: skip


@router.post("/clients/{customer_id}/relationships/{relationship_id}/remove", name="client_remove_relationship")
def remove_relationship(
    request: Request,
    customer_id: int,
    relationship_id: int,
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    return _after_edit(
        request, db, caller, customer_id, "people",
        lambda session, editor: edits.remove_relationship(session, editor, customer_id, relationship_id), {},
    )  # fmt: skip


@router.post("/clients/{customer_id}/consent", name="client_set_consent")
def set_consent(
    request: Request,
    customer_id: int,
    channel: str = Form(""),
    granted: str = Form(""),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    def change(session: Session, editor: edits.Editor) -> Any:
        edits.editable_client(session, editor, customer_id)
        if granted not in ("yes", "no"):
            raise InvalidRecord.one("granted", "choose yes or no")
        return edits.set_consent(session, editor, customer_id, channel, granted == "yes")

    return _after_edit(request, db, caller, customer_id, "consent", change, {"channel": channel})
