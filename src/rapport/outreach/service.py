"""Writing to a client: one message, or a small group email, queued for the dispatcher.

``send_message`` is the one way an associate's message comes into being. In the caller's
transaction it checks who may write to whom (the client-edit rule), what the client allows
(:mod:`rapport.outreach.courtesy`), fills a template's fields, turns [[SKU]] references and a
look into tracked short links, picks the business line it goes from (the associate's, else
their store's, never a personal phone), writes the message, its timeline entry, and the job
that sends it — at once, or when the client's quiet hours end. The send itself happens after
commit, in a worker (:mod:`rapport.outreach.dispatch`), so nothing is sent for a change that
was rolled back and a provider outage never loses a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.models import Associate
from rapport.customers import timeline
from rapport.customers.edits import Editor, editable_client
from rapport.db import allocate_ids, insert_for, table_of
from rapport.errors import FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.inventory.models import Location
from rapport.jobs import service as jobs
from rapport.outreach import courtesy
from rapport.outreach.models import MESSAGE_CHANNELS, Look, Message, MessageTemplate
from rapport.outreach.settings import OutreachSettings, get_outreach_settings

MESSAGE = table_of(Message)
ASSOCIATE = table_of(Associate)
LOCATION = table_of(Location)
LOOK = table_of(Look)
TEMPLATE = table_of(MessageTemplate)

SEND_QUEUE = "outreach.send"
BODY_MAX = {"sms": 1600, "whatsapp": 4096, "email": 20000}
SUBJECT_MAX = 300
KEY_MAX = 100
MESSAGE_SOURCE = "rapport.outreach"


@dataclass(frozen=True)
class Sender:
    """Our side of a message: the business line or address, and how it is presented."""

    address: str
    name: str
    location_id: int | None


@dataclass(frozen=True)
class Queued:
    """A message accepted for sending."""

    id: int
    customer_id: int
    channel: str
    status: str  # queued | held
    send_at: datetime
    #: Said to the associate: "goes out at 09:00 local time" (None when it goes now).
    note: str | None
    created: bool  # False: the same idempotency key was submitted before; this is that message


@dataclass(frozen=True)
class GroupResult:
    group_key: str
    queued: list[Queued]
    #: Clients left out, with why ("Ben has opted out of email").
    refused: list[tuple[int, str]]


def sender_for(
    session: Session,
    associate_id: int | None,
    channel: str,
    settings: OutreachSettings | None = None,
    *,
    location_id: int | None = None,
) -> Sender:
    """The business line or address a message goes from: the associate's own business line, else their
    store's, else the retailer's default — never a personal phone. Refuses when there is none."""
    settings = settings or get_outreach_settings()
    person = None
    if associate_id is not None:
        person = session.execute(
            select(ASSOCIATE.c.display_name, ASSOCIATE.c.business_phone, ASSOCIATE.c.home_location_id).where(
                ASSOCIATE.c.id == associate_id
            )
        ).first()
    store = None
    store_id = person.home_location_id if person is not None else location_id
    if store_id is not None:
        store = session.execute(
            select(
                LOCATION.c.id, LOCATION.c.name, LOCATION.c.sms_number, LOCATION.c.whatsapp_number,
                LOCATION.c.email_address,
            ).where(LOCATION.c.id == store_id)
        ).first()  # fmt: skip
    store_id = store.id if store is not None else None
    brand = settings.client_mail_from.partition("<")[0].strip() or "Rapport"
    who = person.display_name if person is not None else brand
    where = store.name if store is not None else brand
    if channel == "email":
        address = (store.email_address if store is not None else None) or _bare(settings.client_mail_from)
        return Sender(address, f"{who} at {where}" if person is not None else where, store_id)
    if channel == "sms":
        address = (
            (person.business_phone if person is not None else None)
            or (store.sms_number if store is not None else None)
            or settings.twilio_sms_from
        )
    else:
        address = (
            (person.business_phone if person is not None else None)
            or (store.whatsapp_number if store is not None else None)
            or settings.twilio_whatsapp_from
        )
    if not address:
        from rapport.outreach.channels.registry import channel_for

        if channel_for(channel, settings).delivers:
            raise InvalidRecord.one(
                "channel",
                f"no business number for {channel}: give {where} a number (or the associate a business line)",
            )
        address = f"outbox:{where}"
    return Sender(address, who, store_id)


def _bare(address: str) -> str:
    return address.partition("<")[2].rstrip(">").strip() or address.strip()


def _clean(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def send_message(
    session: Session,
    editor: Editor,
    customer_id: int,
    *,
    channel: str,
    body: str | None = None,
    subject: str | None = None,
    template_id: int | None = None,
    look_id: int | None = None,
    product_id: int | None = None,
    idempotency_key: str | None = None,
    group_key: str | None = None,
    settings: OutreachSettings | None = None,
) -> Queued:
    """Queue one personal message to a client (see the module docstring). InvalidRecord names the field."""
    settings = settings or get_outreach_settings()
    key = _clean(idempotency_key) or uuid.uuid4().hex
    if len(key) > KEY_MAX:
        raise InvalidRecord.one("idempotency_key", f"at most {KEY_MAX} characters")
    existing = session.execute(
        select(MESSAGE.c.id, MESSAGE.c.customer_id, MESSAGE.c.channel, MESSAGE.c.status, MESSAGE.c.scheduled_for,
               MESSAGE.c.created_at).where(MESSAGE.c.idempotency_key == key)
    ).first()  # fmt: skip
    if existing is not None:
        return Queued(
            existing.id, existing.customer_id, existing.channel, existing.status,
            existing.scheduled_for or existing.created_at, None, created=False,
        )  # fmt: skip
    cid = editable_client(session, editor, customer_id)
    channel = _clean(channel).lower()
    if channel not in MESSAGE_CHANNELS:
        raise InvalidRecord.one("channel", f"expected one of {', '.join(MESSAGE_CHANNELS)}")
    associate_id = editor.actor.associate_id
    template = _template(session, template_id, channel) if template_id is not None else None
    reach = courtesy.reach_of(session, cid)
    clearance = courtesy.clear(
        reach, channel, settings=settings, template_approved=bool(template and template.whatsapp_approved)
    )
    if not clearance.allowed:
        raise InvalidRecord.one("channel", clearance.reason or "this client cannot be written to on this channel")
    if clearance.template_only and not (template and template.whatsapp_approved):
        raise InvalidRecord.one(
            "template_id",
            f"{reach.first_name} has not written on WhatsApp in the last 24 hours: "
            "only an approved WhatsApp template can be sent",
        )
    return _queue(
        session, editor, cid, reach, clearance, channel=channel, body=body, subject=subject, template=template,
        look_id=look_id, product_id=product_id, key=key, group_key=group_key, settings=settings,
        associate_id=associate_id,
    )  # fmt: skip


def _template(session: Session, template_id: int, channel: str) -> Any:
    row = session.execute(select(TEMPLATE).where(TEMPLATE.c.id == template_id)).first()
    if row is None or not row.active:
        raise InvalidRecord.one("template_id", f"template {template_id} not found or retired")
    if row.channel is not None and row.channel != channel:
        raise InvalidRecord.one("template_id", f"template “{row.name}” is for {row.channel}, not {channel}")
    return row


def _queue(
    session: Session,
    editor: Editor,
    cid: int,
    reach: courtesy.ClientReach,
    clearance: courtesy.Clearance,
    *,
    channel: str,
    body: str | None,
    subject: str | None,
    template: Any,
    look_id: int | None,
    product_id: int | None,
    key: str,
    group_key: str | None,
    settings: OutreachSettings,
    associate_id: int | None,
) -> Queued:
    from rapport.outreach import links, wording

    now = clock.now()
    (message_id,) = allocate_ids(session, MESSAGE, 1)
    text = _clean(body) or (template.body if template is not None else "")
    subject_text = _clean(subject) or (template.subject if template is not None and template.subject else "")
    look_code = None
    extra: dict[str, str] = {}
    if look_id is not None:
        look = session.execute(select(LOOK.c.id, LOOK.c.title).where(LOOK.c.id == look_id)).first()
        if look is None:
            raise InvalidRecord.one("look_id", f"look {look_id} not found")
        look_code = links.shorten(
            session, target_kind="look", look_id=look_id, associate_id=associate_id, customer_id=cid,
        )  # fmt: skip
        extra["look_link"] = links.short_url(look_code)
        if "{look_link}" not in text:
            text = (text + "\n\n" if text else "") + "{look_link}"
    if product_id is not None:
        code = links.shorten(
            session, target_kind="product", product_id=product_id, associate_id=associate_id, customer_id=cid,
        )  # fmt: skip
        extra["product_link"] = links.short_url(code)
    errors: list[FieldError] = []
    if not text:
        errors.append(FieldError("body", "write a message or choose a template"))
    if channel == "email" and not subject_text:
        errors.append(FieldError("subject", "an email needs a subject"))
    if errors:
        raise InvalidRecord(errors)
    values = wording.personal_values(
        session, customer_id=cid, associate_id=associate_id, product_id=product_id, extra=extra
    )
    try:
        text = wording.render(text, values)
    except InvalidRecord as exc:
        raise InvalidRecord([FieldError("body", e.message) for e in exc.errors]) from None
    if subject_text:
        try:
            subject_text = wording.render(subject_text, values)
        except InvalidRecord as exc:
            raise InvalidRecord([FieldError("subject", e.message) for e in exc.errors]) from None
    text, codes = links.linkify(session, text, associate_id=associate_id, customer_id=cid)
    if len(text) > BODY_MAX[channel]:
        raise InvalidRecord.one("body", f"at most {BODY_MAX[channel]} characters on {channel} (this is {len(text)})")
    if len(subject_text) > SUBJECT_MAX:
        raise InvalidRecord.one("subject", f"at most {SUBJECT_MAX} characters")
    sender = sender_for(session, associate_id, channel, settings)
    from rapport.outreach.channels.registry import channel_for

    provider = channel_for(channel, settings).provider
    send_at = clearance.hold_until or now
    status = "held" if clearance.hold_until else "queued"
    data: dict[str, Any] = {"links": codes + ([look_code] if look_code else [])}
    if template is not None:
        data["template"] = template.name
        if channel == "whatsapp" and template.whatsapp_approved:
            data["provider_template_id"] = template.provider_template_id
            data["template_variables"] = {
                str(i + 1): values.get(f, "") for i, f in enumerate(sorted(wording.fields_used(template.body)))
            }
    session.execute(
        insert_for(session, MESSAGE).values(
            id=message_id, customer_id=cid, direction="out", channel=channel, provider=provider, status=status,
            associate_id=associate_id, location_id=sender.location_id, business_address=sender.address,
            client_address=clearance.address or "", subject=subject_text or None, body=text,
            template_id=template.id if template is not None else None, look_id=look_id, group_key=group_key,
            idempotency_key=key, attempts=0, scheduled_for=clearance.hold_until, created_at=now, status_at=now,
            data={**data, "sender_name": sender.name},
        )
    )  # fmt: skip
    # The links were made before the message existed (their codes are in its text): tie them to it.
    links.attach_to_message(session, data["links"], message_id)
    words = courtesy.CHANNEL_WORDS[channel]
    excerpt = text if len(text) <= 140 else text[:139] + "…"
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid, kind="message", channel=channel, summary=f"{words} from {editor.name}: {excerpt}",
                source=MESSAGE_SOURCE, external_id=f"message:{message_id}", occurred_at=now, recorded_at=now,
                location_id=sender.location_id, actor_kind=editor.timeline_actor_kind, actor_id=editor.actor.id,
                ref_type="message", ref_id=message_id,
                data={"direction": "out", "look_id": look_id, "links": data["links"], "group_key": group_key},
            )
        ],
        checked=True,
    )  # fmt: skip
    audit.record_by(
        session, editor.audit_actor, "client.messaged", customer_id=cid,
        detail={"message_id": message_id, "channel": channel},
    )  # fmt: skip
    jobs.enqueue(session, SEND_QUEUE, f"message:{message_id}", {"message_id": message_id}, run_at=send_at,
                 max_attempts=settings.send_attempts)  # fmt: skip
    return Queued(message_id, cid, channel, status, send_at, clearance.note if status == "held" else None, True)


def send_group_email(
    session: Session,
    editor: Editor,
    customer_ids: Sequence[int],
    *,
    subject: str | None,
    body: str | None,
    template_id: int | None = None,
    look_id: int | None = None,
    idempotency_key: str | None = None,
    settings: OutreachSettings | None = None,
) -> GroupResult:
    """One email written once, sent as a personal copy to each of at most 20 clients.

    Each copy is its own message (fields filled per client, its own tracked links, its own
    thread); a client who cannot receive it (no consent, no address, today's cap) is left out and
    named with the reason, and the others still get theirs.
    """
    settings = settings or get_outreach_settings()
    ids = list(dict.fromkeys(int(c) for c in customer_ids))
    if not ids:
        raise InvalidRecord.one("customer_ids", "choose at least one client")
    if len(ids) > settings.group_email_max:
        raise InvalidRecord.one(
            "customer_ids", f"a group email goes to at most {settings.group_email_max} clients ({len(ids)} chosen)"
        )
    group_key = _clean(idempotency_key) or uuid.uuid4().hex
    if len(group_key) > 60:
        raise InvalidRecord.one("idempotency_key", "at most 60 characters")
    template = _template(session, template_id, "email") if template_id is not None else None
    errors: list[FieldError] = []
    if not (_clean(body) or template is not None):
        errors.append(FieldError("body", "write a message or choose a template"))
    if not (_clean(subject) or (template is not None and template.subject)):
        errors.append(FieldError("subject", "an email needs a subject"))
    if errors:
        raise InvalidRecord(errors)
    queued: list[Queued] = []
    refused: list[tuple[int, str]] = []
    for cid in ids:
        try:
            with session.begin_nested():
                queued.append(
                    send_message(
                        session, editor, cid, channel="email", body=body, subject=subject, template_id=template_id,
                        look_id=look_id, idempotency_key=f"{group_key}:{cid}", group_key=group_key, settings=settings,
                    )
                )  # fmt: skip
        except InvalidRecord as exc:
            refused.append((cid, "; ".join(e.message for e in exc.errors)))
        except (NotFound, PermissionDenied) as exc:
            refused.append((cid, str(exc)))
    return GroupResult(group_key, queued, refused)


def send_notice(
    session: Session,
    customer_id: int,
    *,
    subject: str,
    body: str,
    key: str,
    location_id: int | None = None,
    attachments: Sequence[dict[str, str]] = (),
    settings: OutreachSettings | None = None,
) -> Queued | None:
    """A service message the client asked for (a booking confirmation, a reminder), from the store.

    Sent on the first channel the client agreed to and has an address for — email first, since it
    carries an invitation — and held for their quiet hours like any message; no daily cap (the
    client asked for it). None when no channel is open: nothing is sent without consent.
    """
    settings = settings or get_outreach_settings()
    existing = session.scalar(select(MESSAGE.c.id).where(MESSAGE.c.idempotency_key == key))
    if existing is not None:
        return None
    reach = courtesy.reach_of(session, customer_id, fallback_location_id=location_id)
    for channel in MESSAGE_CHANNELS:
        clearance = courtesy.clear(reach, channel, settings=settings, personal=False)
        if not clearance.allowed or clearance.template_only:
            continue
        try:
            sender = sender_for(session, None, channel, settings, location_id=location_id)
        except InvalidRecord:
            continue
        from rapport.outreach.channels.registry import channel_for

        now = clock.now()
        (message_id,) = allocate_ids(session, MESSAGE, 1)
        text = body if channel == "email" else f"{subject}\n{body}"
        send_at = clearance.hold_until or now
        session.execute(
            insert_for(session, MESSAGE).values(
                id=message_id, customer_id=customer_id, direction="out", channel=channel,
                provider=channel_for(channel, settings).provider, status="held" if clearance.hold_until else "queued",
                associate_id=None, location_id=sender.location_id, business_address=sender.address,
                client_address=clearance.address or "", subject=subject if channel == "email" else None,
                body=text[: BODY_MAX[channel]], idempotency_key=key[:KEY_MAX], attempts=0,
                scheduled_for=clearance.hold_until, created_at=now, status_at=now,
                data={"system": True, "sender_name": sender.name,
                      "attachments": list(attachments) if channel == "email" else []},
            )
        )  # fmt: skip
        timeline.append(
            session,
            [
                timeline.entry(
                    customer_id=customer_id, kind="message", channel=channel, summary=f"{subject} (sent by Rapport)",
                    source=MESSAGE_SOURCE, external_id=f"message:{message_id}", occurred_at=now, recorded_at=now,
                    location_id=sender.location_id, actor_kind="system", ref_type="message", ref_id=message_id,
                    data={"direction": "out", "notice": True},
                )
            ],
            checked=True,
        )  # fmt: skip
        jobs.enqueue(session, SEND_QUEUE, f"message:{message_id}", {"message_id": message_id}, run_at=send_at,
                     max_attempts=settings.send_attempts)  # fmt: skip
        return Queued(message_id, customer_id, channel, "held" if clearance.hold_until else "queued", send_at,
                      clearance.note, True)  # fmt: skip
    return None
