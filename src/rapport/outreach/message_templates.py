"""Saved message templates: the wording an associate starts from, and previews of it for one client.

Templates are refused when saved with a field Rapport does not know (:mod:`rapport.outreach.wording`).
They are never deleted, only retired: sent messages keep pointing at the one they came from. Store
managers and head office write them; every associate may use and read them. WhatsApp's approved
templates carry the provider's content id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.permissions import ADMIN, ROLE_LABELS, STORE_MANAGER, Actor
from rapport.db import table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.outreach.models import MESSAGE_CHANNELS, MessageTemplate
from rapport.outreach.wording import (
    ASSOCIATE,
    FIELDS,
    _has,
    _is_language,
    _scan,
    fields_used,
    missing_message,
    personal_values,
    render,
    sms_count,
)

TEMPLATE = table_of(MessageTemplate)

NAME_MAX = 100
SUBJECT_MAX = 300
#: Body limits: Twilio refuses SMS and WhatsApp bodies over 1,600 characters.
BODY_MAX = {"email": 20_000, "sms": 1_600, "whatsapp": 1_600}
#: A template for any channel must fit the strictest one.
BODY_MAX_ANY = 1_600
LANGUAGE_MAX = 16
#: Twilio's Content SID for an approved WhatsApp template.
CONTENT_SID = re.compile(r"^HX[0-9a-f]{32}$")
EDITABLE = ("name", "channel", "subject", "body", "language", "whatsapp_approved", "provider_template_id")
CREATED, UPDATED, RETIRED = "template.created", "template.updated", "template.retired"


# -- who may do what -----------------------------------------------------------------------------------


def can_view_templates(actor: Actor) -> bool:
    """Every associate uses templates; a token needs ``read`` or ``write`` (or ``outreach:read``/``:write``)."""
    if actor.is_associate:
        return actor.role in ROLE_LABELS
    return bool({"read", "write", "outreach:read", "outreach:write"} & actor.scopes)


def can_manage_templates(actor: Actor) -> bool:
    """Store managers and head office write the wording the brand speaks in; tokens need ``write``."""
    if actor.is_associate:
        return actor.role in (STORE_MANAGER, ADMIN)
    return bool({"write", "outreach:write"} & actor.scopes)


def require_view_templates(actor: Actor) -> None:
    if not can_view_templates(actor):
        raise PermissionDenied("you may not read message templates")


def require_manage_templates(actor: Actor) -> None:
    if not can_manage_templates(actor):
        raise PermissionDenied("only store managers and head office create, change and retire templates")


# -- templates -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    id: int
    name: str
    channel: str | None
    subject: str | None
    body: str
    language: str
    whatsapp_approved: bool
    provider_template_id: str | None
    active: bool
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    #: The known fields it uses, in :data:`FIELDS` order.
    fields: list[str] = field(default_factory=list)


def _view(row: Any) -> TemplateView:
    used = fields_used(row.subject or "") | fields_used(row.body)
    return TemplateView(
        id=row.id,
        name=row.name,
        channel=row.channel,
        subject=row.subject,
        body=row.body,
        language=row.language,
        whatsapp_approved=bool(row.whatsapp_approved),
        provider_template_id=row.provider_template_id,
        active=bool(row.active),
        created_by_id=row.created_by_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        fields=[f for f in FIELDS if f in used],
    )


def _clean(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Every rule that needs no database, all at once: the cleaned values and what is wrong."""
    errors: list[FieldError] = []
    name = " ".join(str(values.get("name") or "").split())
    if not name:
        errors.append(FieldError("name", "give the template a name"))
    elif len(name) > NAME_MAX:
        errors.append(FieldError("name", f"at most {NAME_MAX} characters"))

    channel = values.get("channel") or None
    if channel is not None and channel not in MESSAGE_CHANNELS:
        errors.append(FieldError("channel", f"one of {', '.join(MESSAGE_CHANNELS)}, or none for any channel"))
        channel = "invalid"

    subject = (str(values.get("subject") or "")).strip() or None
    if subject is not None:
        if channel != "email":
            errors.append(FieldError("subject", "only email templates have a subject"))
        elif len(subject) > SUBJECT_MAX:
            errors.append(FieldError("subject", f"at most {SUBJECT_MAX} characters"))
        elif "\n" in subject or "\r" in subject:
            errors.append(FieldError("subject", "one line only"))
        else:
            errors += [FieldError("subject", p) for p in _scan(subject)[1]]

    body = str(values.get("body") or "").strip()
    limit = BODY_MAX.get(channel or "", BODY_MAX_ANY)
    if not body:
        errors.append(FieldError("body", "write the message"))
    elif len(body) > limit:
        where = f"for {channel}" if channel in BODY_MAX else "for a template usable on SMS and WhatsApp"
        errors.append(FieldError("body", f"at most {limit:,} characters {where} ({len(body):,} now)"))
    else:
        errors += [FieldError("body", p) for p in _scan(body)[1]]

    language = str(values.get("language") or "en").strip()
    if len(language) > LANGUAGE_MAX or not _is_language(language):
        errors.append(FieldError("language", "a language code such as en, fr or fr-CA"))

    approved = bool(values.get("whatsapp_approved"))
    provider_id = (str(values.get("provider_template_id") or "")).strip() or None
    if approved and channel != "whatsapp":
        errors.append(FieldError("whatsapp_approved", "only WhatsApp templates are approved by Meta"))
    elif approved and provider_id is None:
        errors.append(FieldError("provider_template_id", "an approved WhatsApp template needs its Content SID (HX…)"))
    if provider_id is not None:
        if not approved:
            errors.append(FieldError("provider_template_id", "only for WhatsApp-approved templates"))
        elif not CONTENT_SID.match(provider_id):
            errors.append(FieldError("provider_template_id", "a Twilio Content SID: HX and 32 hexadecimal digits"))
    clean = {
        "name": name,
        "channel": channel,
        "subject": subject,
        "body": body,
        "language": language,
        "whatsapp_approved": approved,
        "provider_template_id": provider_id,
    }
    return clean, errors


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> FieldError | None:
    t = TEMPLATE.c
    stmt = select(t.id, t.name, t.active).where(func.lower(t.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(t.id != exclude_id)
    row = session.execute(stmt.limit(1)).first()
    if row is None:
        return None
    state = "" if row.active else " (retired)"
    return FieldError("name", f"a template named “{row.name}” already exists{state}: pick another name")


def _checked(session: Session, values: Mapping[str, Any], exclude_id: int | None = None) -> dict[str, Any]:
    clean, errors = _clean(values)
    if clean["name"] and not any(e.field == "name" for e in errors):
        taken = _name_taken(session, clean["name"], exclude_id)
        if taken is not None:
            errors.insert(0, taken)
    if errors:
        raise InvalidRecord(errors)
    return clean


def _write_unique(session: Session, name: str, apply: Callable[[], None]) -> None:
    """Make the change in a savepoint: another writer committing the same name first (the check above
    cannot see an uncommitted row) becomes a clear error, not a broken transaction."""
    try:
        with session.begin_nested():
            apply()
    except IntegrityError:
        raise InvalidRecord.one("name", f"a template named “{name}” already exists: pick another name") from None


def _audit_actor(session: Session, actor_id: int | None, actor: AuditActor | None) -> AuditActor:
    if actor is not None:
        return actor
    if actor_id is None:
        return audit.SYSTEM
    name = session.scalar(select(ASSOCIATE.c.display_name).where(ASSOCIATE.c.id == actor_id))
    return AuditActor("associate", actor_id, f"associate:{name or actor_id}")


def create_template(
    session: Session,
    actor_id: int | None,
    *,
    name: str,
    channel: str | None,
    subject: str | None,
    body: str,
    language: str = "en",
    whatsapp_approved: bool = False,
    provider_template_id: str | None = None,
    actor: AuditActor | None = None,
) -> TemplateView:
    """A new template, written by ``actor_id`` (an associate; None for a system) and audited.

    ``actor`` carries the audit details (a token, the address a person wrote from); without it the
    row names the associate ``actor_id``.
    """
    clean = _checked(
        session,
        {
            "name": name,
            "channel": channel,
            "subject": subject,
            "body": body,
            "language": language,
            "whatsapp_approved": whatsapp_approved,
            "provider_template_id": provider_template_id,
        },
    )
    now = clock.now()
    row = MessageTemplate(**clean, active=True, created_by_id=actor_id, created_at=now, updated_at=now)
    _write_unique(session, clean["name"], lambda: session.add(row))
    audit.record_by(
        session, _audit_actor(session, actor_id, actor), CREATED, detail={"template_id": row.id, "name": row.name}
    )
    return _view(row)


def _locked(session: Session, template_id: int) -> MessageTemplate:
    row = session.scalars(select(MessageTemplate).where(MessageTemplate.id == template_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"template {template_id} not found")
    return row


def update_template(
    session: Session, actor_id: int | None, template_id: int, *, actor: AuditActor | None = None, **changes: Any
) -> TemplateView:
    """Change the fields given (checked together with the rest); a retired template stays as it was."""
    unknown = [k for k in changes if k not in EDITABLE]
    if unknown:
        raise InvalidRecord([FieldError(k, "cannot be changed") for k in unknown])
    row = _locked(session, template_id)
    if not row.active:
        raise Conflict(f"template {template_id} is retired: write a new one instead")
    current = {k: getattr(row, k) for k in EDITABLE}
    clean = _checked(session, {**current, **changes}, exclude_id=row.id)
    changed = sorted(k for k in EDITABLE if clean[k] != current[k])
    if not changed:
        return _view(row)

    def apply() -> None:
        for key in changed:
            setattr(row, key, clean[key])
        row.updated_at = clock.now()

    _write_unique(session, clean["name"], apply)
    audit.record_by(
        session, _audit_actor(session, actor_id, actor), UPDATED, detail={"template_id": row.id, "fields": changed}
    )
    return _view(row)


def retire_template(
    session: Session, actor_id: int | None, template_id: int, *, actor: AuditActor | None = None
) -> TemplateView:
    """Out of the lists for good (kept: the messages sent from it still refer to it). Twice is once."""
    row = _locked(session, template_id)
    if row.active:
        row.active = False
        row.updated_at = clock.now()
        session.flush()
        audit.record_by(
            session, _audit_actor(session, actor_id, actor), RETIRED, detail={"template_id": row.id, "name": row.name}
        )
    return _view(row)


def get_template(session: Session, template_id: int) -> TemplateView:
    row = session.execute(select(TEMPLATE).where(TEMPLATE.c.id == template_id)).first()
    if row is None:
        raise NotFound(f"template {template_id} not found")
    return _view(row)


def list_templates(
    session: Session, *, channel: str | None = None, include_retired: bool = False
) -> list[TemplateView]:
    """Templates by name; with ``channel``, those usable on it (made for it, or for any channel)."""
    t = TEMPLATE.c
    stmt = select(TEMPLATE).order_by(func.lower(t.name), t.id)
    if channel is not None:
        if channel not in MESSAGE_CHANNELS:
            raise InvalidRecord.one("channel", f"one of {', '.join(MESSAGE_CHANNELS)}")
        stmt = stmt.where((t.channel.is_(None)) | (t.channel == channel))
    if not include_retired:
        stmt = stmt.where(t.active.is_(True))
    return [_view(r) for r in session.execute(stmt)]


def templates_for(session: Session, channel: str | None) -> list[TemplateView]:
    """The active templates an associate may start from on ``channel`` (None: every active one)."""
    return list_templates(session, channel=channel)


# -- preview -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What the client would receive, before it is sent."""

    channel: str | None
    subject: str | None
    body: str
    #: Fields used without a value for this client (shown as ``[field name]`` above) ...
    missing: list[str]
    #: ... and why, in the composer's words ("Alicia has no purchase yet: remove {last_purchase}").
    missing_messages: list[str]
    length: int
    sms_segments: int
    sms_encoding: str
    sms_units: int


def preview(
    session: Session,
    *,
    template_id: int | None,
    body: str | None,
    subject: str | None,
    customer_id: int,
    associate_id: int,
    product_id: int | None = None,
    extra: Mapping[str, str] | None = None,
    channel: str | None = None,
) -> Preview:
    """The template (or ``body``/``subject`` as typed, which win over the template's) filled for the client.

    Unknown fields are refused (InvalidRecord); fields without a value show as ``[field name]`` and
    are listed in ``missing``. ``sms_segments`` counts the body as an SMS carrier would.
    """
    template = get_template(session, template_id) if template_id is not None else None
    text = body if body is not None else (template.body if template is not None else None)
    if text is None or not text.strip():
        raise InvalidRecord.one("body", "choose a template or write the message")
    subject = subject if subject is not None else (template.subject if template is not None else None)
    channel = channel or (template.channel if template is not None else None)
    errors = [FieldError("body", p) for p in _scan(text)[1]]
    if subject:
        errors += [FieldError("subject", p) for p in _scan(subject)[1]]
    if errors:
        raise InvalidRecord(errors)
    values = personal_values(
        session, customer_id=customer_id, associate_id=associate_id, product_id=product_id, extra=extra
    )
    used = fields_used(subject or "") | fields_used(text)
    missing = [f for f in FIELDS if f in used and not _has(values, f)]
    filled = render(text.strip(), values, strict=False)
    count = sms_count(filled)
    return Preview(
        channel=channel,
        subject=render(subject.strip(), values, strict=False, where="subject") if subject else None,
        body=filled,
        missing=missing,
        missing_messages=list(dict.fromkeys(missing_message(f, values) for f in missing)),
        length=len(filled),
        sms_segments=count.segments,
        sms_encoding=count.encoding,
        sms_units=count.units,
    )


# -- starter templates ----------------------------------------------------------------------------------

#: A handful of believable starting points for a fashion-and-beauty house; the demo loads them.
#: The approved WhatsApp template's Content SID is a placeholder: put the one Twilio gave you.
DEFAULT_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "Thank you for your visit",
        "channel": None,
        "subject": None,
        "body": "Hello {first_name}, thank you again for your visit to {store_name}. I hope you are enjoying "
        "your {last_purchase}. If anything needs a small alteration, just reply here. {associate_first_name}",
    },
    {
        "name": "Back in stock",
        "channel": "sms",
        "subject": None,
        "body": "Good news, {first_name}: the {product} you loved is back. {product_link} "
        "Shall I set one aside for you? {associate_first_name}",
    },
    {
        "name": "Private appointment invitation",
        "channel": "email",
        "subject": "A private appointment at {store_name}, {first_name}?",
        "body": "Dear {first_name},\n\n"
        "The new collection has just arrived at {store_name}, and I would love to show it to you before "
        "anyone else. Shall I reserve a private appointment for you? Reply with a day and a time that suit "
        "you, and I will have a fitting room ready with pieces in your sizes.\n\n"
        "With my warmest regards,\n{associate_name}\n{store_name}",
    },
    {
        "name": "New season look",
        "channel": "whatsapp",
        "subject": None,
        "body": "Hi {first_name}, the new season is here and I put together a look with you in mind: {look_link} "
        "Tell me what you think, I can keep your sizes aside. {associate_first_name}",
    },
    {
        "name": "Birthday wishes",
        "channel": None,
        "subject": None,
        "body": "Happy birthday, {first_name}! Everyone at {store_name} wishes you a wonderful day. "
        "Come and celebrate with us this month: a little something is waiting for you. {associate_first_name}",
    },
    {
        "name": "WhatsApp: back in touch (approved)",
        "channel": "whatsapp",
        "subject": None,
        "body": "Hello {first_name}, this is {associate_first_name} from {store_name}. I have news I think you "
        "will like. May I send you a few pictures?",
        "whatsapp_approved": True,
        "provider_template_id": "HX00000000000000000000000000000000",
    },
)


def ensure_default_templates(session: Session) -> int:
    """Insert the starter templates missing by name (a retired one counts as present); how many were added."""
    present = {n.lower() for n in session.scalars(select(TEMPLATE.c.name))}
    added = 0
    now = clock.now()
    for values in DEFAULT_TEMPLATES:
        if values["name"].lower() in present:
            continue
        clean, errors = _clean(values)
        if errors:  # pragma: no cover - the starters are checked by the tests
            raise InvalidRecord(errors)
        session.add(MessageTemplate(**clean, active=True, created_by_id=None, created_at=now, updated_at=now))
        added += 1
    if added:
        session.flush()
        audit.record_by(session, audit.SYSTEM, CREATED, detail={"starter_templates": added})
    return added
