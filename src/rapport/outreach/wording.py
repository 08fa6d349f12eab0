"""Message templates and personalisation: the wording an associate starts from, filled in per client.

A template is text with fields in braces — ``Hello {first_name}, the {product} you loved is back`` —
and ``{{`` / ``}}`` for a literal brace. Templates are refused when saved with a field Rapport does
not know, so a typo never reaches a client; when a message is written, a field with no value for
that client (``{last_purchase}`` for someone who never bought) is refused in words the composer
shows ("Alicia has no purchase yet: remove {last_purchase}"), while the editor's preview leaves a
visible ``[last purchase]`` instead.

Templates are never deleted, only retired: sent messages keep pointing at the one they came from.
Store managers and head office write them; every associate may use and read them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.associates.permissions import ADMIN, ROLE_LABELS, STORE_MANAGER, Actor
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, ReturnLine
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location
from rapport.outreach.models import MESSAGE_CHANNELS, MessageTemplate

TEMPLATE = table_of(MessageTemplate)
CUSTOMER, ASSOCIATE, LOCATION, PRODUCT = table_of(Customer), table_of(Associate), table_of(Location), table_of(Product)
ORDER, ORDER_LINE, RETURN_LINE = table_of(Order), table_of(OrderLine), table_of(ReturnLine)

#: The personalisation fields, in the order the editor lists them, with what each one becomes.
FIELDS: dict[str, str] = {
    "first_name": "the client's first name",
    "last_name": "the client's last name",
    "full_name": "the client's first and last name",
    "associate_name": "your name, as the client knows you",
    "associate_first_name": "your first name",
    "store_name": "your home store (else the client's home store)",
    "last_purchase": "the product the client bought most recently (returned items left out)",
    "last_purchase_date": "the day of that purchase, written in the client's language",
    "product": "the product you pick for this message",
    "product_link": "a tracked link to that product (made when the message is sent)",
    "look_link": "a tracked link to the look you share (made when the message is sent)",
}
#: Why a field is empty, as the composer says it (``{who}``: the client's first name).
_WHY_MISSING: dict[str, str] = {
    "first_name": "{who} has no first name on record",
    "last_name": "{who} has no last name on record",
    "full_name": "{who} has no name on record",
    "associate_name": "this message has no sender",
    "associate_first_name": "this message has no sender",
    "store_name": "neither you nor {who} has a home store",
    "last_purchase": "{who} has no purchase yet",
    "last_purchase_date": "{who} has no purchase yet",
    "product": "no product is picked for this message",
    "product_link": "no product is picked for this message",
    "look_link": "no look is shared in this message",
}

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

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


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


# -- the text: fields, rendering, SMS segments ------------------------------------------------------------


def _shown(name: str) -> str:
    return "{" + name + "}"


def _known() -> str:
    return ", ".join(_shown(f) for f in FIELDS)


def _scan(text: str) -> tuple[list[str | tuple[str]], list[str]]:
    """The text as literal pieces and ``(field,)`` markers, and what is wrong with it, in words."""
    pieces: list[str | tuple[str]] = []
    problems: list[str] = []
    unknown: list[str] = []
    at = 0
    for match in _TOKEN.finditer(text):
        if match.start() > at:
            pieces.append(text[at : match.start()])
        at = match.end()
        token = match.group(0)
        name = match.group(1)
        if token in ("{{", "}}"):
            pieces.append(token[0])
        elif name is None:
            pieces.append(token)
            problems.append(f"a lone “{token}”: write {token * 2} for a brace, or {{first_name}} for a field")
        elif name in FIELDS:
            pieces.append((name,))
        else:
            pieces.append(token)
            if name not in unknown:
                unknown.append(name)
    if at < len(text):
        pieces.append(text[at:])
    named = []
    for name in unknown:
        guess = difflib.get_close_matches(name.strip().lower(), FIELDS, n=1, cutoff=0.75)
        hint = f" (did you mean {_shown(guess[0])}?)" if guess else ""
        named.append(f"unknown field {_shown(name)}{hint}; known: {_known()}")
    return pieces, named + problems


def fields_used(text: str) -> set[str]:
    """The names between single braces (known or not); ``{{first_name}}`` is literal text, not a field."""
    return {m.group(1) for m in _TOKEN.finditer(text or "") if m.group(1) is not None}


def check_template_text(text: str, *, where: str = "body") -> None:
    """Refuse unknown fields and lone braces (InvalidRecord naming ``where`` and the field)."""
    _pieces, problems = _scan(text)
    if problems:
        raise InvalidRecord([FieldError(where, p) for p in problems])


def placeholder(name: str) -> str:
    """What the lenient preview shows for a field without a value: ``[last purchase]``."""
    return "[" + name.replace("_", " ") + "]"


def missing_message(name: str, values: Mapping[str, str]) -> str:
    """``Alicia has no purchase yet: remove {last_purchase}``."""
    who = (values.get("first_name") or "").strip() or "this client"
    why = _WHY_MISSING.get(name, "{who} has no value for it").format(who=who)
    return f"{why[:1].upper()}{why[1:]}: remove {_shown(name)}"


def _has(values: Mapping[str, str], name: str) -> bool:
    value = values.get(name)
    return bool(value and value.strip())


def render(text: str, values: Mapping[str, str], *, strict: bool = True, where: str = "body") -> str:
    """The text with its fields filled in from ``values``; ``{{`` and ``}}`` become single braces.

    An unknown field or a lone brace raises InvalidRecord naming ``where`` and the field. A known
    field without a value raises too (in the words the composer shows), unless ``strict=False``:
    then it shows as ``[field name]`` — the editor's preview, never what a client receives.
    """
    pieces, problems = _scan(text)
    if problems:
        raise InvalidRecord([FieldError(where, p) for p in problems])
    out: list[str] = []
    missing: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        (name,) = piece
        if _has(values, name):
            out.append(values[name])
        else:
            if name not in missing:
                missing.append(name)
            out.append(placeholder(name))
    if strict and missing:
        raise InvalidRecord([FieldError(where, missing_message(name, values)) for name in missing])
    return "".join(out)


#: GSM 03.38: the basic character set (one septet each; the escape itself is not text) ...
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: ... and the extension table, reached through the escape: two septets each.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_SINGLE, GSM_PART = 160, 153  # a concatenated part gives 7 septets to its header
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsCount:
    """How an SMS carrier counts a text: GSM-7 septets, or UTF-16 units when any character needs it."""

    encoding: str  # "GSM-7" | "UCS-2"
    units: int
    segments: int


def sms_count(text: str) -> SmsCount:
    """Segments an SMS body is billed as. A character is never split between parts (an escaped
    GSM character or an emoji's surrogate pair moves whole to the next part), as phones and
    Twilio split them."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        encoding, single, part = "GSM-7", GSM_SINGLE, GSM_PART
        costs = [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(costs)
    if units == 0:
        return SmsCount(encoding, 0, 0)
    if units <= single:
        return SmsCount(encoding, units, 1)
    segments, filled = 1, 0
    for cost in costs:
        if filled + cost > part:
            segments, filled = segments + 1, 0
        filled += cost
    return SmsCount(encoding, units, segments)


# -- what the fields become for one client --------------------------------------------------------------


def _locale(language: str | None) -> Locale:
    if language:
        try:
            return Locale.parse(language.strip().replace("-", "_"))
        except (ValueError, TypeError, UnknownLocaleError):
            pass
    return Locale("en")


def _is_language(code: str) -> bool:
    try:
        Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return False
    return True


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _client_row(session: Session, customer_id: int) -> Any:
    c, home = CUSTOMER.c, LOCATION.alias("home")
    stmt = (
        select(c.id, c.first_name, c.last_name, c.language, c.merged_into_id, home.c.name.label("store"),
               home.c.timezone)
        .select_from(CUSTOMER.outerjoin(home, home.c.id == c.home_location_id))
    )  # fmt: skip
    row = session.execute(stmt.where(c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    if row.merged_into_id is not None:  # a merged-away id answers for its survivor
        row = session.execute(stmt.where(c.id == resolve_id(session, customer_id))).first()
    return row


def _last_purchase(session: Session, customer_id: int) -> Any:
    """The newest line the client still has: placed orders only, fully returned lines left out."""
    o, ol, rl, p = ORDER.c, ORDER_LINE.c, RETURN_LINE.c, PRODUCT.c
    returned = select(func.coalesce(func.sum(rl.quantity), 0)).where(rl.order_line_id == ol.id).scalar_subquery()
    return session.execute(
        select(p.name, o.placed_at)
        .select_from(ORDER.join(ORDER_LINE, ol.order_id == o.id).join(PRODUCT, p.id == ol.product_id))
        .where(o.customer_id == customer_id, o.status == "placed", ol.quantity > returned)
        .order_by(o.placed_at.desc(), o.id.desc(), ol.id)
        .limit(1)
    ).first()


def personal_values(
    session: Session,
    *,
    customer_id: int,
    associate_id: int | None,
    product_id: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What each field becomes for this client, from this associate; fields without a value are left out.

    At most four statements whatever the client's history (client and home store, associate and
    home store, last purchase, product). ``extra`` gives what only the caller knows — the tracked
    ``product_link`` and ``look_link`` it made for this message — and wins over what is read.
    """
    values: dict[str, str] = {}
    client = _client_row(session, customer_id)
    first, last = (client.first_name or "").strip(), (client.last_name or "").strip()
    if first:
        values["first_name"] = first
    if last:
        values["last_name"] = last
    if first or last:
        values["full_name"] = " ".join(p for p in (first, last) if p)
    store = client.store
    if associate_id is not None:
        home = LOCATION.alias("home")
        row = session.execute(
            select(ASSOCIATE.c.display_name, home.c.name.label("store"))
            .select_from(ASSOCIATE.outerjoin(home, home.c.id == ASSOCIATE.c.home_location_id))
            .where(ASSOCIATE.c.id == associate_id)
        ).first()
        if row is None:
            raise NotFound(f"associate {associate_id} not found")
        name = (row.display_name or "").strip()
        if name:
            values["associate_name"] = name
            values["associate_first_name"] = name.split()[0]
        store = row.store or store
    if store:
        values["store_name"] = store
    bought = _last_purchase(session, client.id)
    if bought is not None:
        values["last_purchase"] = bought.name
        local_day = bought.placed_at.astimezone(_zone(client.timezone)).date()
        values["last_purchase_date"] = str(format_date(local_day, "long", locale=_locale(client.language)))
    if product_id is not None:
        product = session.scalar(select(PRODUCT.c.name).where(PRODUCT.c.id == product_id))
        if product is None:
            raise NotFound(f"product {product_id} not found")
        values["product"] = product
    for name, value in (extra or {}).items():
        if name not in FIELDS:
            raise InvalidRecord.one("extra", f"unknown field {_shown(name)}; known: {_known()}")
        if value and value.strip():
            values[name] = value
    return values


@dataclass(frozen=True)
class SampleClient:
    customer_id: int
    name: str


def sample_clients(session: Session, associate_id: int | None, *, limit: int = 8) -> list[SampleClient]:
    """Clients to preview a template against: the associate's own book first, then the newest clients."""
    c = CUSTOMER.c
    found: list[Any] = []
    if associate_id is not None:
        found = list(
            session.execute(
                select(c.id, c.first_name, c.last_name)
                .where(c.assigned_associate_id == associate_id, c.status == "active")
                .order_by(c.id)
                .limit(limit)
            )
        )
    if len(found) < limit:
        seen = {r.id for r in found}
        more = session.execute(
            select(c.id, c.first_name, c.last_name).where(c.status == "active").order_by(c.id.desc()).limit(limit)
        )
        found += [r for r in more if r.id not in seen][: limit - len(found)]
    return [
        SampleClient(r.id, " ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.id}") for r in found
    ]


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


def describe_fields(names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``[("{first_name}", "the client's first name"), ...]`` for the editor's list of fields."""
    wanted = FIELDS if names is None else [n for n in FIELDS if n in set(names)]
    return [(_shown(n), FIELDS[n]) for n in wanted]
