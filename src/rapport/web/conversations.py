"""Conversations on the phone: a client's thread like a messenger, the composer, the inbox, group email, handover.

The composer says before anything is written which channels this client can be reached on and,
for the others, why not (no consent, opted out, today's cap, WhatsApp's window); a message
written in the client's quiet hours is accepted and says when it will go. New messages appear in
the open thread within a few seconds (HTMX polls for what is newer than the last one shown).

Thin: parse, call :mod:`rapport.outreach` services, render.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.associates.permissions import require_view_client
from rapport.customers import edits
from rapport.customers.models import Consent, Customer
from rapport.db import Database
from rapport.errors import InvalidRecord, NotFound, RapportError
from rapport.http import Caller, client_ip, csrf_checked, database, page_caller, read_session, wake_jobs
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location
from rapport.outreach import conversations, courtesy, handover, message_templates, service, wording
from rapport.outreach.models import MESSAGE_CHANNELS
from rapport.web.templating import render
from rapport.web.when import ago, day

router = APIRouter(include_in_schema=False)


def _editor(caller: Caller, request: Request) -> edits.Editor:
    return edits.Editor(caller.actor, caller.name, client_ip(request), request.headers.get("user-agent"))


def _client(session: Session, customer_id: int) -> Any:
    try:
        cid = resolve_id(session, customer_id)
    except NotFound:
        raise
    row = session.execute(select(Customer.id, Customer.first_name, Customer.last_name).where(Customer.id == cid)).one()
    return row


def _name(row: Any) -> str:
    return " ".join(p for p in (row.first_name, row.last_name) if p) or f"Client #{row.id}"


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _composer(
    session: Session, caller: Caller, cid: int, form: dict[str, str], last_channel: str | None = None
) -> dict[str, Any]:
    from rapport.outreach import suggestions

    reach = courtesy.reach_of(session, cid)
    clear = {c: courtesy.clear(reach, c) for c in MESSAGE_CHANNELS}
    allowed = [c for c in MESSAGE_CHANNELS if clear[c].allowed]
    # Answer on the channel the client last used, when it is open; else the first open one.
    preferred = last_channel if last_channel in allowed else (allowed[0] if allowed else "sms")
    channel = form.get("channel") or preferred
    home = session.scalar(select(Location.id).join(Customer, Customer.home_location_id == Location.id)
                          .where(Customer.id == cid))  # fmt: skip
    try:
        suggested = suggestions.suggest_products(session, cid, location_id=home, limit=6)
    except Exception:  # suggestions are a help, never a reason the composer fails
        suggested = []
    # The same note on every channel (quiet hours) is said once.
    notes: dict[str, list[str]] = {}
    for c in MESSAGE_CHANNELS:
        if clear[c].reason:
            notes.setdefault(clear[c].reason or "", []).append(c)
    return {
        "clearances": [clear[c] for c in MESSAGE_CHANNELS],
        "reasons": [(channels, reason, all(not clear[c].allowed for c in channels))
                    for reason, channels in notes.items()],
        "channel": channel,
        "client_zone": reach.timezone,
        "templates": message_templates.templates_for(session, channel),
        "suggestions": suggested,
        "form": form,
        "idem_key": form.get("key") or uuid.uuid4().hex,
        "fields": wording.FIELDS,
    }  # fmt: skip


def _reader_zone(session: Session, caller: Caller) -> ZoneInfo:
    """Times in the thread are read in the associate's own store's time."""
    tz = session.scalar(
        select(Location.timezone)
        .join(Associate, Associate.home_location_id == Location.id)
        .where(Associate.id == caller.id)
    )
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _stamps(zone: ZoneInfo, client_zone: ZoneInfo | None = None) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str:
        return "" if value is None else f"{day(value.astimezone(zone))} {value.astimezone(zone):%H:%M}"

    def client_time(value: datetime | None) -> str:
        if value is None:
            return ""
        z = client_zone or zone
        return f"{value.astimezone(z):%H:%M} their time"

    return {"stamp": stamp, "client_time": client_time}


def _thread_context(session: Session, caller: Caller, customer_id: int, form: dict[str, str]) -> dict[str, Any]:
    require_view_client(caller.actor)
    client = _client(session, customer_id)
    thread = conversations.thread_of(session, client.id)
    last = next((m.channel for m in reversed(thread.messages) if not m.outgoing), None)
    last = last or (thread.messages[-1].channel if thread.messages else None)
    composer = _composer(session, caller, client.id, form, last)
    return {
        "client": client,
        "client_name": _name(client),
        "thread": thread,
        "last_id": thread.messages[-1].id if thread.messages else 0,
        **_stamps(_reader_zone(session, caller), composer["client_zone"]),
        **composer,
    }


@router.get("/clients/{customer_id}/conversation", name="conversation")
def conversation(
    request: Request,
    customer_id: int,
    channel: str | None = Query(default=None),
    look: int | None = Query(default=None),
    product: int | None = Query(default=None),
    sent: str | None = Query(default=None),
    caller: Caller = Depends(page_caller),
    db: Database = Depends(database),
) -> Response:
    with db.read() as session:
        form = {"channel": channel or "", "look_id": str(look or ""), "product_id": str(product or "")}
        context = _thread_context(session, caller, customer_id, form)
    if context["client"].id != customer_id:
        return RedirectResponse(f"/clients/{context['client'].id}/conversation", status_code=303)
    with db.write() as session:
        conversations.mark_read(session, customer_id, caller.id)
    context["sent"] = sent
    return render(request, "conversations/thread.html", context)


@router.get("/clients/{customer_id}/conversation/messages", name="conversation_messages")
def conversation_messages(
    request: Request,
    customer_id: int,
    after: int = Query(default=0, ge=0),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """What is newer than ``after`` (the thread polls this), and the poller moved past it."""
    require_view_client(caller.actor)
    thread = conversations.thread_of(session, customer_id, after_id=after)
    last = thread.messages[-1].id if thread.messages else after
    client_zone = courtesy.reach_of(session, thread.customer_id).timezone if thread.messages else None
    context = {"messages": thread.messages, "client_id": thread.customer_id, "last_id": last, "oob_poller": True,
               **_stamps(_reader_zone(session, caller), client_zone)}  # fmt: skip
    return render(request, "conversations/_messages.html", context)


@router.post("/clients/{customer_id}/conversation/preview", name="conversation_preview")
async def conversation_preview(
    request: Request, customer_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    form = await _form(request)
    with db.read() as session:
        require_view_client(caller.actor)
        cid = resolve_id(session, customer_id)
        try:
            preview = message_templates.preview(
                session, template_id=_int(form.get("template_id")), body=form.get("body") or None,
                subject=form.get("subject") or None, customer_id=cid, associate_id=caller.id,
                product_id=_int(form.get("product_id")),
            )  # fmt: skip
            error = None
        except RapportError as exc:
            preview, error = None, exc.message
    return render(request, "conversations/_preview.html", {"preview": preview, "error": error,
                                                           "channel": form.get("channel")})  # fmt: skip


@router.post("/clients/{customer_id}/conversation", name="conversation_send")
async def conversation_send(
    request: Request, customer_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    form = await _form(request)
    try:
        with db.write() as session:
            queued = service.send_message(
                session, _editor(caller, request), customer_id, channel=form.get("channel", ""),
                body=form.get("body"), subject=form.get("subject"), template_id=_int(form.get("template_id")),
                look_id=_int(form.get("look_id")), product_id=_int(form.get("product_id")),
                idempotency_key=form.get("key"),
            )  # fmt: skip
    except InvalidRecord as exc:
        with db.read() as session:
            context = _thread_context(session, caller, customer_id, form)
        context["errors"] = {e.field: e.message for e in exc.errors}
        return render(request, "conversations/thread.html", context, status_code=422)
    wake_jobs(request)
    sent = "held" if queued.status == "held" else "queued"
    return RedirectResponse(f"/clients/{queued.customer_id}/conversation?sent={sent}#composer", status_code=303)


@router.get("/inbox", name="inbox")
def inbox_page(
    request: Request,
    shared: bool = Query(default=False),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    stores = caller.store_ids
    rows = (conversations.shared_inbox(session, stores) if shared
            else conversations.inbox(session, caller.id, store_ids=frozenset()))  # fmt: skip
    waiting = len(conversations.shared_inbox(session, stores, limit=100)) if stores else 0
    visits = handover.handovers_to(session, stores)
    away = session.scalar(select(Associate.away_until).where(Associate.id == caller.id))
    away = away if away is not None and away > clock.now() else None
    zone = _reader_zone(session, caller)
    context = {"rows": rows, "shared": shared, "waiting_shared": waiting, "visits": visits, "ago": ago, "day": day,
               "away": away.astimezone(zone) if away else None,
               "tomorrow": (clock.now().astimezone(zone).date() + timedelta(days=1)).isoformat()}  # fmt: skip
    return render(request, "conversations/inbox.html", context)


@router.post("/handovers/{handover_id}/accept", name="handover_accept")
def handover_accept(
    handover_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    """Someone in the receiving store takes the announced visit on (the team sees who)."""
    with db.write() as session:
        handover.accept_handover(session, handover_id, caller.id, store_ids=caller.store_ids)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/me/away", name="set_away")
async def set_away(
    request: Request, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    """Out of office until the morning of the day I am back (my store's time), or back now."""
    from rapport.associates.users import set_away as record_away

    form = await _form(request)
    with db.write() as session:
        zone = _reader_zone(session, caller)
        until = None
        if form.get("back_on"):
            try:
                back = date.fromisoformat(form["back_on"])
            except ValueError:
                raise InvalidRecord.one("back_on", "choose the day you are back") from None
            until = datetime.combine(back, datetime.min.time(), tzinfo=zone)
        record_away(session, caller.id, until)
    return RedirectResponse("/inbox", status_code=303)


def _group_candidates(session: Session, associate_id: int) -> list[Any]:
    """Clients in my book who agreed to email (the ones a group email can reach)."""
    agreed = select(Consent.customer_id).where(Consent.channel == "email", Consent.granted.is_(True))
    return list(
        session.execute(
            select(Customer.id, Customer.first_name, Customer.last_name, Customer.tier)
            .where(Customer.assigned_associate_id == associate_id, Customer.status == "active",
                   Customer.id.in_(agreed))
            .order_by(Customer.last_name, Customer.first_name)
            .limit(500)
        )
    )  # fmt: skip


@router.get("/messages/group", name="group_email")
def group_email_page(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    context = {
        "candidates": _group_candidates(session, caller.id),
        "templates": message_templates.templates_for(session, "email"),
        "form": {},
        "chosen": set(),
        "key": uuid.uuid4().hex,
        "limit": service.get_outreach_settings().group_email_max,
    }
    return render(request, "conversations/group.html", context)


@router.post("/messages/group", name="group_email_send")
async def group_email_send(
    request: Request, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items() if k != "client"}
    chosen = [int(str(v)) for v in raw.getlist("client") if str(v).isdigit()]
    try:
        with db.write() as session:
            result = service.send_group_email(
                session, _editor(caller, request), chosen, subject=form.get("subject"), body=form.get("body"),
                template_id=_int(form.get("template_id")), idempotency_key=form.get("key"),
            )  # fmt: skip
    except InvalidRecord as exc:
        with db.read() as session:
            context = {"candidates": _group_candidates(session, caller.id),
                       "templates": message_templates.templates_for(session, "email"), "form": form,
                       "chosen": set(chosen),
                       "key": form.get("key") or uuid.uuid4().hex,
                       "limit": service.get_outreach_settings().group_email_max,
                       "errors": {e.field: e.message for e in exc.errors}}  # fmt: skip
        return render(request, "conversations/group.html", context, status_code=422)
    wake_jobs(request)
    with db.read() as session:
        names = {r.id: _name(r) for r in session.execute(
            select(Customer.id, Customer.first_name, Customer.last_name).where(Customer.id.in_(chosen)))}  # fmt: skip
    return render(request, "conversations/group_sent.html", {"result": result, "names": names})


@router.get("/clients/{customer_id}/handover", name="handover_form")
def handover_form(
    request: Request, customer_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    require_view_client(caller.actor)
    return render(request, "conversations/handover.html", _handover_context(session, customer_id, {}))


def _handover_context(session: Session, customer_id: int, form: dict[str, str]) -> dict[str, Any]:
    client = _client(session, customer_id)
    stores = session.execute(
        select(Location.id, Location.name, Location.city).where(Location.kind == "store").order_by(Location.name)
    ).all()
    today = clock.now().date()
    return {
        "client": client,
        "client_name": _name(client),
        "stores": stores,
        "form": form,
        "min_day": today.isoformat(),
        "max_day": (today + timedelta(days=handover.AHEAD_MAX_DAYS)).isoformat(),
    }


@router.post("/clients/{customer_id}/handover", name="handover_send")
async def handover_send(
    request: Request, customer_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    form = await _form(request)
    errors: dict[str, str] = {}
    try:
        visit_on = date.fromisoformat(form.get("visit_on", ""))
    except ValueError:
        errors["visit_on"] = "choose the day of the visit"
    store = _int(form.get("to_location_id"))
    if store is None:
        errors["to_location_id"] = "choose the store"
    if not errors:
        try:
            with db.write() as session:
                done = handover.hand_over(session, _editor(caller, request), customer_id, to_location_id=store or 0,
                                          visit_on=visit_on, note=form.get("note"))  # fmt: skip
            return RedirectResponse(f"/clients/{done.customer_id}?handed_over={done.notified}", status_code=303)
        except InvalidRecord as exc:
            errors = {e.field: e.message for e in exc.errors}
    with db.read() as session:
        context = _handover_context(session, customer_id, form)
    context["errors"] = errors
    return render(request, "conversations/handover.html", context, status_code=422)
