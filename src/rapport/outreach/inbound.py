"""Messages from clients, and what providers tell us about ours.

``receive`` files an inbound SMS, WhatsApp or email in the client's one thread: the client is
found by phone (SMS, WhatsApp) or by the reply address / threading headers / sender (email); an
unknown sender becomes a new client rather than a lost message. It is routed to the client's
associate — or, when that associate is away or has left, to the store's shared inbox — with a
notification, and put on the timeline. STOP and START (and their usual synonyms) change consent
at once and are confirmed to the client.

``record_status`` applies a provider's delivery report (Twilio's status callback). The callback
URL carries our idempotency key, so a report settles a message even when the worker that sent it
died before recording the provider's id — the reconciliation of the one window no system closes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html import unescape
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import notifications
from rapport.associates.models import Associate, AssociateLocation
from rapport.customers import timeline
from rapport.customers.edits import record_client_consent
from rapport.customers.models import Customer
from rapport.db import Database, allocate_ids, insert_for, table_of
from rapport.errors import InvalidRecord
from rapport.identity.merge import resolve_id
from rapport.identity.models import Identifier
from rapport.identity.normalize import normalize_email, normalize_phone
from rapport.inventory.models import Location
from rapport.jobs import service as jobs
from rapport.outreach import courtesy, signing
from rapport.outreach.models import Message

MESSAGE = table_of(Message)
CUSTOMER = table_of(Customer)
IDENTIFIER = table_of(Identifier)
ASSOCIATE = table_of(Associate)
ASSOCIATE_LOCATION = table_of(AssociateLocation)
LOCATION = table_of(Location)

#: Carrier-standard opt-out and opt-in keywords (Twilio's defaults, plus French and Spanish).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET", "ARRÊT", "BAJA"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE"})
BODY_MAX = 20000

#: How far a provider status moves a message: never backwards (a late "sent" after "delivered").
_RANK = {"queued": 0, "held": 0, "sending": 1, "sent": 2, "outbox": 2, "delivered": 3, "read": 4,
         "undelivered": 5, "failed": 5}  # fmt: skip
_TWILIO_STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "read", "undelivered": "undelivered", "failed": "failed",
    "canceled": "failed",
}  # fmt: skip


@dataclass(frozen=True)
class Inbound:
    """One message from a client, as a provider delivered it."""

    channel: str  # sms | whatsapp | email
    provider: str  # twilio | smtp | outbox
    provider_message_id: str
    from_address: str
    to_addresses: Sequence[str]
    body: str
    subject: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    media: Sequence[str] = ()
    received_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    message_id: int
    customer_id: int
    routed_associate_id: int | None
    routed_location_id: int | None
    created: bool  # False: the provider delivered it twice; nothing changed
    keyword: str | None = None  # "stop" | "start" when the message changed consent


def receive(db: Database, inbound: Inbound) -> Received:
    """File one inbound message (see the module docstring). Idempotent on the provider's id."""
    if inbound.channel not in ("sms", "whatsapp", "email"):
        raise InvalidRecord.one("channel", "expected sms, whatsapp or email")
    if not inbound.provider_message_id:
        raise InvalidRecord.one("provider_message_id", "required")
    with db.read() as session:
        done = _already(session, inbound)
        if done is not None:
            return done
        cid = _find_client(session, inbound)
    if cid is None:
        cid = _new_client(db, inbound)
    with db.write() as session:
        done = _already(session, inbound)
        if done is not None:
            return done
        return _file(session, resolve_id(session, cid), inbound)


def _already(session: Session, inbound: Inbound) -> Received | None:
    row = session.execute(
        select(MESSAGE.c.id, MESSAGE.c.customer_id, MESSAGE.c.routed_associate_id, MESSAGE.c.routed_location_id).where(
            MESSAGE.c.provider == inbound.provider,
            MESSAGE.c.provider_message_id == inbound.provider_message_id,
            MESSAGE.c.direction == "in",
        )
    ).first()
    if row is None:
        return None
    return Received(row.id, row.customer_id, row.routed_associate_id, row.routed_location_id, created=False)


def _phone(raw: str) -> str | None:
    raw = raw.removeprefix("whatsapp:").strip()
    try:
        return normalize_phone(raw, None)
    except (ValueError, Exception):
        return None


def _owner(session: Session, kind: str, value: str) -> int | None:
    return session.scalar(
        select(IDENTIFIER.c.customer_id).where(
            IDENTIFIER.c.kind == kind, IDENTIFIER.c.namespace == "", IDENTIFIER.c.value == value
        )
    )


def _find_client(session: Session, inbound: Inbound) -> int | None:
    if inbound.channel in ("sms", "whatsapp"):
        phone = _phone(inbound.from_address)
        if phone is None:
            raise InvalidRecord.one("From", f"not a phone number: {inbound.from_address!r}")
        return _owner(session, "phone", phone)
    for address in inbound.to_addresses:
        cid = signing.client_of_reply_address(parseaddr(address)[1] or address)
        if cid is not None:
            return cid
    thread_ids = [i for i in (inbound.in_reply_to, *inbound.references) if i]
    if thread_ids:
        cid = session.scalar(
            select(MESSAGE.c.customer_id).where(MESSAGE.c.provider_message_id.in_(thread_ids)).limit(1)
        )
        if cid is not None:
            return cid
    try:
        email = normalize_email(parseaddr(inbound.from_address)[1])
    except (ValueError, Exception):
        raise InvalidRecord.one("From", f"not an email address: {inbound.from_address!r}") from None
    return _owner(session, "email", email)


def _new_client(db: Database, inbound: Inbound) -> int:
    """Someone we do not know wrote to a store's number or address: keep them, as a new client."""
    from rapport.ingest.service import ingest_records

    if inbound.channel == "email":
        name, address = parseaddr(inbound.from_address)
        first, _, last = name.partition(" ")
        record: dict[str, Any] = {
            "source": "email", "id": normalize_email(address), "emails": [address],
            **({"first_name": first} if first else {}), **({"last_name": last} if last else {}),
        }  # fmt: skip
    else:
        phone = _phone(inbound.from_address) or inbound.from_address
        record = {"source": inbound.channel, "id": phone, "phones": [phone]}
    store = _store_of_address(db, inbound.to_addresses)
    if store is not None:
        record["home_store"] = store
    result = ingest_records(db, "customers", [record], actor=f"{inbound.channel}:inbound")
    outcome = result.outcomes[0]
    if outcome.id is None:
        raise InvalidRecord([*outcome.errors])
    return outcome.id


def _store_of_address(db: Database, addresses: Sequence[str]) -> str | None:
    values = [_phone(a) or parseaddr(a)[1].lower() for a in addresses]
    values = [v for v in values if v]
    if not values:
        return None
    with db.read() as session:
        return session.scalar(
            select(LOCATION.c.code).where(
                or_(
                    LOCATION.c.sms_number.in_(values),
                    LOCATION.c.whatsapp_number.in_(values),
                    func.lower(LOCATION.c.email_address).in_(values),
                )
            )
        )


def route(session: Session, customer_id: int, to_addresses: Sequence[str] = ()) -> tuple[int | None, int | None]:
    """(associate, store) an inbound message goes to: the client's associate when they are here;
    otherwise (away, left, or no associate) the shared inbox of the client's store — else of the
    store whose number or address it arrived at, else of the absent associate's store."""
    now = clock.now()
    client = session.execute(
        select(CUSTOMER.c.assigned_associate_id, CUSTOMER.c.home_location_id).where(CUSTOMER.c.id == customer_id)
    ).one()
    person = None
    if client.assigned_associate_id is not None:
        person = session.execute(
            select(ASSOCIATE.c.id, ASSOCIATE.c.active, ASSOCIATE.c.away_until, ASSOCIATE.c.home_location_id).where(
                ASSOCIATE.c.id == client.assigned_associate_id
            )
        ).first()
        if person is not None and person.active and (person.away_until is None or person.away_until <= now):
            return person.id, None
    store = client.home_location_id
    if store is None:
        values = [v for v in (_phone(a) or parseaddr(a)[1].lower() for a in to_addresses) if v]
        if values:
            store = session.scalar(
                select(LOCATION.c.id).where(
                    or_(
                        LOCATION.c.sms_number.in_(values),
                        LOCATION.c.whatsapp_number.in_(values),
                        func.lower(LOCATION.c.email_address).in_(values),
                    )
                )
            )
    if store is None and person is not None:
        store = person.home_location_id
    return None, store


def store_team(session: Session, location_id: int) -> list[int]:
    """Active associates working at a store (home store or listed there)."""
    listed = select(ASSOCIATE_LOCATION.c.associate_id).where(ASSOCIATE_LOCATION.c.location_id == location_id)
    return list(
        session.scalars(
            select(ASSOCIATE.c.id)
            .where(ASSOCIATE.c.active.is_(True))
            .where(or_(ASSOCIATE.c.home_location_id == location_id, ASSOCIATE.c.id.in_(listed)))
            .order_by(ASSOCIATE.c.id)
        )
    )


def _file(session: Session, cid: int, inbound: Inbound) -> Received:
    now = clock.now()
    received_at = inbound.received_at or now
    body = (inbound.body or "").strip()[:BODY_MAX]
    keyword = None
    word = re.sub(r"[^\wÀ-ÿ]", "", body.upper()) if len(body) <= 20 else ""
    if inbound.channel in ("sms", "whatsapp") and word in STOP_WORDS:
        keyword = "stop"
    elif inbound.channel in ("sms", "whatsapp") and word in START_WORDS:
        keyword = "start"
    associate_id, location_id = route(session, cid, inbound.to_addresses)
    (message_id,) = allocate_ids(session, MESSAGE, 1)
    client_address = (
        _phone(inbound.from_address) or inbound.from_address
        if inbound.channel != "email"
        else parseaddr(inbound.from_address)[1]
    )
    business = inbound.to_addresses[0] if inbound.to_addresses else ""
    business = (_phone(business) or business) if inbound.channel != "email" else parseaddr(business)[1]
    session.execute(
        insert_for(session, MESSAGE).values(
            id=message_id, customer_id=cid, direction="in", channel=inbound.channel, provider=inbound.provider,
            status="received", associate_id=None, location_id=location_id, business_address=business[:254],
            client_address=client_address[:254], subject=(inbound.subject or None) and inbound.subject[:300],
            body=body, idempotency_key=f"in:{inbound.provider}:{inbound.provider_message_id}"[:100],
            provider_message_id=inbound.provider_message_id[:255], in_reply_to=inbound.in_reply_to,
            created_at=received_at, status_at=now, routed_associate_id=associate_id, routed_location_id=location_id,
            data={"media": list(inbound.media), **({"keyword": keyword} if keyword else {}), **inbound.extra},
        )
    )  # fmt: skip
    words = courtesy.CHANNEL_WORDS[inbound.channel]
    full = session.execute(select(CUSTOMER.c.first_name, CUSTOMER.c.last_name).where(CUSTOMER.c.id == cid)).one()
    name = full.first_name or "A client"
    who = " ".join(p for p in (full.first_name, full.last_name) if p) or f"Client #{cid}"
    excerpt = body if len(body) <= 140 else body[:139] + "…"
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid, kind="message", channel=inbound.channel, summary=f"{words} from {name}: {excerpt}",
                source="rapport.outreach", external_id=f"message:{message_id}", occurred_at=received_at,
                recorded_at=now, location_id=location_id, actor_kind="client", actor_id=cid, ref_type="message",
                ref_id=message_id, data={"direction": "in"},
            )
        ],
        checked=True,
    )  # fmt: skip
    if keyword is not None:
        granted = keyword == "start"
        record_client_consent(
            session, cid, inbound.channel, granted, source=f"{inbound.channel}:keyword",
            said=f"Replied {word} by {words}",
        )  # fmt: skip
        confirmation = (
            f"You will no longer receive {words} messages from us. Reply START to receive them again."
            if not granted
            else f"You will receive {words} messages from us again. Reply STOP to opt out."
        )
        queue_system_message(session, cid, inbound.channel, to=client_address, sender=business, body=confirmation,
                             reply_to_message_id=message_id)  # fmt: skip
    link = f"/clients/{cid}/conversation"
    title = f"{words} from {who}"
    if keyword == "stop":
        title = f"{who} opted out of {words}"
    if associate_id is not None:
        notifications.notify(session, associate_id, "message", title, body=excerpt, link=link, customer_id=cid)
    elif location_id is not None:
        notifications.notify_many(
            session,
            [
                notifications.Outgoing(a, "message", f"{title} (store inbox)", excerpt, link, cid)
                for a in store_team(session, location_id)
            ],
        )
    return Received(message_id, cid, associate_id, location_id, created=True, keyword=keyword)


def queue_system_message(
    session: Session, customer_id: int, channel: str, *, to: str, sender: str, body: str, reply_to_message_id: int
) -> int:
    """A message from Rapport itself answering the client (a STOP confirmation): no consent, no cap."""
    from rapport.outreach.channels.registry import channel_for
    from rapport.outreach.service import SEND_QUEUE

    now = clock.now()
    (message_id,) = allocate_ids(session, MESSAGE, 1)
    session.execute(
        insert_for(session, MESSAGE).values(
            id=message_id, customer_id=customer_id, direction="out", channel=channel,
            provider=channel_for(channel).provider, status="queued", associate_id=None, location_id=None,
            business_address=sender or "outbox", client_address=to, body=body,
            idempotency_key=f"reply:{reply_to_message_id}", attempts=0, created_at=now, status_at=now,
            data={"system": True},
        )
    )  # fmt: skip
    jobs.enqueue(session, SEND_QUEUE, f"message:{message_id}", {"message_id": message_id})
    return message_id


# -- provider reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReport:
    provider: str
    status: str  # the provider's word
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    error_code: str | None = None
    error_message: str | None = None


def record_status(session: Session, report: StatusReport) -> int | None:
    """Apply a delivery report; the message id it settled, or None for one we do not know."""
    if report.idempotency_key:
        row = session.execute(
            select(MESSAGE).where(MESSAGE.c.idempotency_key == report.idempotency_key).with_for_update()
        ).first()
    elif report.provider_message_id:
        row = session.execute(
            select(MESSAGE)
            .where(MESSAGE.c.provider == report.provider, MESSAGE.c.provider_message_id == report.provider_message_id)
            .with_for_update()
        ).first()
    else:
        row = None
    if row is None:
        return None
    now = clock.now()
    new = _TWILIO_STATUS.get(report.status.lower()) if report.provider == "twilio" else report.status.lower()
    values: dict[str, Any] = {}
    if row.provider_message_id is None and report.provider_message_id:
        values["provider_message_id"] = report.provider_message_id[:255]
    if new is not None and _RANK.get(new, -1) > _RANK.get(row.status, -1) and row.status != "cancelled":
        values.update(status=new, status_at=now)
        if new in ("sent", "delivered", "read") and row.sent_at is None:
            values["sent_at"] = now
        if new in ("delivered", "read") and row.delivered_at is None:
            values["delivered_at"] = now
        if new in ("failed", "undelivered"):
            values["error"] = (
                f"{report.provider} error {report.error_code}: {report.error_message or 'not delivered'}"
                if report.error_code
                else "the provider could not deliver it"
            )[:500]
    history = [*((row.data or {}).get("statuses") or []), [report.status, now.isoformat()]][-20:]
    values["data"] = {**(row.data or {}), "statuses": history}
    session.execute(update(MESSAGE).where(MESSAGE.c.id == row.id).values(**values))
    if report.error_code == "21610":  # Twilio: the recipient replied STOP to the carrier
        record_client_consent(
            session, row.customer_id, row.channel, False, source=f"{report.provider}:status",
            said="The carrier reports the client unsubscribed",
        )  # fmt: skip
    return int(row.id)


# -- email --------------------------------------------------------------------------------------

_QUOTE_HEADER = re.compile(r"^(On .{5,200} wrote:|Le .{5,200} a écrit\s?:|-----Original Message-----)\s*$", re.M)


def parse_email(raw: bytes) -> Inbound:
    """An inbound email (RFC 5322 bytes, as a relay forwards it) as an :class:`Inbound`."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # pragma: no cover - the parser is lenient
        raise InvalidRecord.one("message", f"not an email: {exc}") from None
    assert isinstance(msg, EmailMessage)
    sender = str(msg.get("From") or "").strip()
    if not parseaddr(sender)[1]:
        raise InvalidRecord.one("From", "missing or not an address")
    message_id = str(msg.get("Message-ID") or "").strip() or f"<no-id-{uuid.uuid4().hex}@rapport>"
    to = [a for _, a in getaddresses([str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])
                                        + (msg.get_all("Delivered-To") or [])]) if a]  # fmt: skip
    part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if part is not None:
        content = part.get_content()
        text = content if isinstance(content, str) else ""
        if part.get_content_type() == "text/html":
            text = unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(script|style).*?</\1>", "", text)))
    references = [r for r in re.findall(r"<[^>]+>", str(msg.get("References") or ""))]
    return Inbound(
        channel="email",
        provider="smtp",
        provider_message_id=message_id,
        from_address=sender,
        to_addresses=to,
        body=strip_quoted(text),
        subject=str(msg.get("Subject") or "") or None,
        in_reply_to=(str(msg.get("In-Reply-To") or "").strip() or None),
        references=references,
    )


def strip_quoted(text: str) -> str:
    """The new part of a reply: what comes before the quoted original ("On ... wrote:", "> ...")."""
    found = _QUOTE_HEADER.search(text)
    if found:
        text = text[: found.start()]
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()
