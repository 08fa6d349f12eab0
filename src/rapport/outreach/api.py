"""Outreach over HTTP: write to a client, read a thread, hand a client over, and the providers' webhooks.

Writing needs the ``write`` scope (an integration writes on behalf of a named associate, whose
client-edit rule applies) or a signed-in associate. The webhooks are verified: Twilio's with its
request validator (``X-Twilio-Signature`` over the public URL and the form), inbound email with
the relay's bearer token (``RAPPORT_INBOUND_EMAIL_TOKEN``).
"""

from __future__ import annotations

import hmac
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate
from rapport.associates.notifications import get_email_settings
from rapport.associates.permissions import load_actor, require_view_client
from rapport.customers.edits import Editor
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, client_ip, database, read_session, require_scope, session_or_token_caller, wake_jobs
from rapport.outreach import conversations, courtesy, handover, inbound, service
from rapport.outreach.settings import get_outreach_settings

router = APIRouter(tags=["outreach"])
webhooks = APIRouter(prefix="/webhooks", tags=["webhooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Annotated[str, Field(pattern="^(email|sms|whatsapp)$")]
    body: Annotated[str, Field(max_length=20000)] | None = Field(
        default=None, description="The text; {first_name}-style fields are filled; [[SKU]] becomes a tracked link."
    )
    subject: Annotated[str, Field(max_length=300)] | None = None
    template_id: int | None = None
    look_id: int | None = Field(default=None, description="A look: its tracked link is added to the message.")
    product_id: int | None = Field(default=None, description="The product {product} and {product_link} refer to.")
    idempotency_key: Annotated[str, Field(min_length=8, max_length=100)] | None = Field(
        default=None, description="Send the same key when retrying: one message is sent."
    )
    associate: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="Integrations: the code of the associate the message is from (required for tokens)."
    )


class GroupEmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_ids: Annotated[list[int], Field(min_length=1, max_length=20)]
    subject: Annotated[str, Field(max_length=300)] | None = None
    body: Annotated[str, Field(max_length=20000)] | None = None
    template_id: int | None = None
    look_id: int | None = None
    idempotency_key: Annotated[str, Field(min_length=8, max_length=60)] | None = None
    associate: Annotated[str, Field(max_length=64)] | None = None


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_location: Annotated[str, Field(min_length=1, max_length=64, description="The receiving store's code.")]
    visit_on: date
    note: Annotated[str, Field(min_length=1, max_length=2000)]
    associate: Annotated[str, Field(max_length=64)] | None = None


class QueuedOut(BaseModel):
    id: int
    client_id: int
    channel: str
    status: str = Field(description="queued, or held until the client's quiet hours end.")
    send_at: datetime
    note: str | None
    created: bool = Field(description="false: this idempotency key was used before; this is that message.")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    channel: str
    provider: str
    status: str
    status_words: str
    body: str
    subject: str | None
    author_name: str | None
    created_at: datetime
    scheduled_for: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    error: str | None


class ThreadOut(BaseModel):
    client_id: int
    messages: list[MessageOut]
    older_before: int | None


class ClearanceOut(BaseModel):
    channel: str
    allowed: bool
    reason: str | None
    hold_until: datetime | None
    template_only: bool


def _editor(session: Session, caller: Caller, request: Request, associate_code: str | None) -> Editor:
    """Who writes: the signed-in associate, or the associate an integration names."""
    ip, agent = client_ip(request), request.headers.get("user-agent")
    if caller.kind == "associate":
        return Editor(caller.actor, caller.name, ip, agent)
    require_scope(caller, "write")
    if not associate_code:
        raise InvalidRecord.one("associate", "an integration writes on behalf of an associate: give their code")
    row = session.execute(select(Associate.id, Associate.display_name).where(Associate.code == associate_code)).first()
    actor = load_actor(session, row.id) if row is not None else None
    if row is None or actor is None:
        raise InvalidRecord.one("associate", f"unknown or inactive associate {associate_code!r}")
    return Editor(actor, row.display_name, ip, agent)


@router.post("/customers/{customer_id}/messages", response_model=QueuedOut, status_code=202,
             summary="Write to a client (queued; sent by the worker)",
             responses={422: {"description": "Refused: the field is named and the reason given (no consent, "
                                             "opted out, daily cap, WhatsApp window, unknown template)."}})  # fmt: skip
def post_message(
    customer_id: int, body: MessageIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> QueuedOut:  # fmt: skip
    with db.write() as session:
        editor = _editor(session, caller, request, body.associate)
        q = service.send_message(
            session, editor, customer_id, channel=body.channel, body=body.body, subject=body.subject,
            template_id=body.template_id, look_id=body.look_id, product_id=body.product_id,
            idempotency_key=body.idempotency_key,
        )  # fmt: skip
    wake_jobs(request)
    return QueuedOut(id=q.id, client_id=q.customer_id, channel=q.channel, status=q.status, send_at=q.send_at,
                     note=q.note, created=q.created)  # fmt: skip


@router.post("/messages/group-email", status_code=202, summary="One email, a personal copy to each of ≤ 20 clients")
def post_group_email(
    body: GroupEmailIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> dict[str, Any]:  # fmt: skip
    with db.write() as session:
        editor = _editor(session, caller, request, body.associate)
        result = service.send_group_email(
            session, editor, body.client_ids, subject=body.subject, body=body.body, template_id=body.template_id,
            look_id=body.look_id, idempotency_key=body.idempotency_key,
        )  # fmt: skip
    wake_jobs(request)
    return {
        "group_key": result.group_key,
        "queued": [{"id": q.id, "client_id": q.customer_id, "status": q.status} for q in result.queued],
        "refused": [{"client_id": cid, "reason": why} for cid, why in result.refused],
    }


@router.get("/customers/{customer_id}/messages", response_model=ThreadOut, summary="A client's thread")
def get_thread(
    customer_id: int,
    before_id: int | None = Query(default=None, description="Older page: the older_before of the previous page."),
    after_id: int | None = Query(default=None, description="Only messages newer than this id (polling)."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> ThreadOut:
    require_scope(caller, "read")
    require_view_client(caller.actor)
    t = conversations.thread_of(session, customer_id, before_id=before_id, after_id=after_id)
    return ThreadOut(client_id=t.customer_id, messages=[MessageOut.model_validate(m) for m in t.messages],
                     older_before=t.older_before)  # fmt: skip


@router.get("/customers/{customer_id}/reach", response_model=list[ClearanceOut],
            summary="Which channels a client may be written to on now, and why not")  # fmt: skip
def get_reach(
    customer_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> list[ClearanceOut]:
    require_scope(caller, "read")
    require_view_client(caller.actor)
    from rapport.identity.merge import resolve_id

    found = courtesy.clearances(session, resolve_id(session, customer_id))
    return [ClearanceOut(channel=c.channel, allowed=c.allowed, reason=c.reason, hold_until=c.hold_until,
                         template_only=c.template_only) for c in found.values()]  # fmt: skip


@router.post("/customers/{customer_id}/handovers", status_code=201, summary="Hand a client to another store")
def post_handover(
    customer_id: int, body: HandoverIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> dict[str, Any]:  # fmt: skip
    from rapport.inventory.models import Location

    with db.write() as session:
        editor = _editor(session, caller, request, body.associate)
        store = session.scalar(select(Location.id).where(Location.code == body.to_location))
        if store is None:
            raise InvalidRecord.one("to_location", f"unknown store {body.to_location!r}")
        h = handover.hand_over(session, editor, customer_id, to_location_id=store, visit_on=body.visit_on,
                               note=body.note)  # fmt: skip
    return {"id": h.id, "client_id": h.customer_id, "to_location": body.to_location, "visit_on": h.visit_on,
            "notified": h.notified}  # fmt: skip


# -- webhooks -----------------------------------------------------------------------------------


async def _twilio_form(request: Request) -> dict[str, str]:
    """The form Twilio posted, after checking X-Twilio-Signature over the public URL it called."""
    from rapport.outreach.channels.twilio import validate_signature

    settings = get_outreach_settings()
    if not settings.twilio_auth_token:
        raise HTTPException(403, "Twilio is not configured here (RAPPORT_TWILIO_AUTH_TOKEN): webhook refused")
    form = {k: str(v) for k, v in (await request.form()).items()}
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        raise HTTPException(403, "missing X-Twilio-Signature")
    base = get_email_settings().public_url.rstrip("/")
    url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not validate_signature(settings, url, form, signature):
        raise HTTPException(403, "X-Twilio-Signature does not match: refused")
    return form


@webhooks.post("/twilio/messages", summary="Twilio: an SMS or WhatsApp message from a client",
               response_class=Response)  # fmt: skip
async def twilio_inbound(request: Request, db: Database = Depends(database)) -> Response:
    form = await _twilio_form(request)
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender = form.get("From", "")
    if not sid:
        raise InvalidRecord.one("MessageSid", "required")
    if not sender:
        raise InvalidRecord.one("From", "required")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    media = [form[f"MediaUrl{i}"] for i in range(int(form.get("NumMedia") or 0) or 0) if f"MediaUrl{i}" in form]
    received = inbound.receive(
        db,
        inbound.Inbound(
            channel=channel, provider="twilio", provider_message_id=sid, from_address=sender,
            to_addresses=[form.get("To", "")], body=form.get("Body", ""), media=media,
            extra={"profile_name": form["ProfileName"]} if form.get("ProfileName") else {},
        ),
    )  # fmt: skip
    if received.created and received.keyword:
        wake_jobs(request)
    return Response(EMPTY_TWIML, media_type="text/xml")


@webhooks.post("/twilio/status", summary="Twilio: a delivery report for one of our messages",
               response_class=Response)  # fmt: skip
async def twilio_status(request: Request, db: Database = Depends(database)) -> Response:
    form = await _twilio_form(request)
    report = inbound.StatusReport(
        provider="twilio", status=form.get("MessageStatus") or form.get("SmsStatus") or "",
        provider_message_id=form.get("MessageSid") or None, idempotency_key=request.query_params.get("key"),
        error_code=form.get("ErrorCode") or None, error_message=form.get("ErrorMessage") or None,
    )  # fmt: skip
    if not report.status:
        raise InvalidRecord.one("MessageStatus", "required")
    with db.write() as session:
        inbound.record_status(session, report)
    return Response(status_code=204)


@webhooks.post("/email", status_code=202, summary="An email reply from a client (raw RFC 5322, from a relay)")
async def email_inbound(request: Request, db: Database = Depends(database)) -> dict[str, Any]:
    token = get_outreach_settings().inbound_email_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token is None or not hmac.compare_digest(given, token.get_secret_value()):
        raise PermissionDenied("inbound email needs the relay's bearer token (RAPPORT_INBOUND_EMAIL_TOKEN)")
    raw = await request.body()
    if not raw.strip():
        raise InvalidRecord.one("message", "empty body: post the raw email (message/rfc822)")
    if len(raw) > 10_000_000:
        raise InvalidRecord.one("message", "larger than 10 MB")
    received = inbound.receive(db, inbound.parse_email(raw))
    return {"message_id": received.message_id, "client_id": received.customer_id, "created": received.created,
            "routed_to": "associate" if received.routed_associate_id else "store inbox"}  # fmt: skip
