"""Booking, moving, cancelling, check-in and outcome: the appointment's life, each a verb with one home.

``book_appointment`` is the one way an appointment comes into being — the public page, an associate
booking for a client, an e-commerce site through the API. It resolves the client through identity
resolution (a new one if nobody matches), takes the store's booking lock (PostgreSQL: the store row,
``FOR UPDATE``; SQLite: the write lock every write holds), checks the slot against everything booked
(:func:`rapport.appointments.availability.check_slot`), and writes the appointment, its timeline
entry, an audit row and the jobs that send the confirmation, the reminder and the associate's brief.
Two people taking the last slot at the same moment: one gets it, the other is told it is taken.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments import availability
from rapport.appointments.links import manage_token
from rapport.appointments.models import OUTCOMES, TIMELINE_SOURCE, Appointment, AppointmentType
from rapport.associates import audit, notifications
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.customers import timeline
from rapport.customers.models import Customer
from rapport.db import Database, table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound
from rapport.identity.merge import resolve_id
from rapport.identity.normalize import normalize_email, normalize_phone
from rapport.inventory.models import Location
from rapport.jobs import service as jobs

APPOINTMENT = table_of(Appointment)
TYPE = table_of(AppointmentType)
LOCATION = table_of(Location)
ASSOCIATE = table_of(Associate)
CUSTOMER = table_of(Customer)

SOURCE = TIMELINE_SOURCE
NOTICE_QUEUE = "appointments.notice"
REASON_MAX = 2000
NAME_MAX = 100
SUMMARY_MAX = 10_000
PRODUCTS_MAX = 10
PRODUCT_MAX = 500
SIZES_MAX = 10
KEY_MAX = 100
CONSENT_CHANNELS = ("email", "sms", "whatsapp")
#: The reminder goes this long before; the associate's brief the day before at this store time.
REMIND_BEFORE = timedelta(hours=24)
BRIEF_AT = time(9, 0)
BOOKED_VIA = ("web", "associate", "api")


@dataclass(frozen=True)
class ClientDetails:
    """Who is booking, as they typed it (the public page) or an integration sent it."""

    first_name: str
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    #: Channels they agree to be contacted on (ticked boxes); nothing unticked is withdrawn.
    consent: Sequence[str] = ()


@dataclass(frozen=True)
class BookingRequest:
    location_id: int
    type_id: int
    starts_at: datetime
    associate_id: int | None = None
    #: A known client (an associate booking for them) — or ``client`` to find or create one.
    customer_id: int | None = None
    client: ClientDetails | None = None
    reason: str = ""
    products_of_interest: Sequence[str] = ()
    sizes: Mapping[str, str] = field(default_factory=dict)
    conversation_summary: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Booked:
    id: int
    customer_id: int
    location_id: int
    associate_id: int | None
    starts_at: datetime
    ends_at: datetime
    status: str
    created: bool  # False: the same idempotency key booked it before
    manage_token: str


def _clean(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def check_request(req: BookingRequest, region: str | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The request's text fields, trimmed and checked (every problem, each naming its field)."""
    errors: list[FieldError] = []
    reason = _clean(req.reason)
    if len(reason) > REASON_MAX:
        errors.append(FieldError("reason", f"at most {REASON_MAX} characters ({len(reason)} given)"))
    products = [_clean(p) for p in req.products_of_interest if _clean(p)]
    if len(products) > PRODUCTS_MAX:
        errors.append(FieldError("products_of_interest", f"at most {PRODUCTS_MAX} products"))
    if any(len(p) > PRODUCT_MAX for p in products):
        errors.append(FieldError("products_of_interest", f"each at most {PRODUCT_MAX} characters"))
    sizes = {_clean(k)[:40]: _clean(v)[:20] for k, v in req.sizes.items() if _clean(k) and _clean(v)}
    if len(sizes) > SIZES_MAX:
        errors.append(FieldError("sizes", f"at most {SIZES_MAX} sizes"))
    summary = _clean(req.conversation_summary) or None
    if summary and len(summary) > SUMMARY_MAX:
        errors.append(FieldError("conversation_summary", f"at most {SUMMARY_MAX} characters"))
    if req.starts_at.tzinfo is None:
        errors.append(FieldError("starts_at", "give the time with its timezone"))
    key = _clean(req.idempotency_key)
    if len(key) > KEY_MAX:
        errors.append(FieldError("idempotency_key", f"at most {KEY_MAX} characters"))
    client: dict[str, Any] = {}
    if req.customer_id is None:
        if req.client is None:
            errors.append(FieldError("client", "say who is coming: a client id, or name with an email or phone"))
        else:
            client, more = check_client(req.client, region)
            errors += more
    return {"reason": reason, "products": products, "sizes": sizes, "summary": summary, "key": key,
            "client": client}, errors  # fmt: skip


def check_client(details: ClientDetails, region: str | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The person's details, checked; a phone written without a country code is read as the store's
    country's (``region``), else the retailer's default."""
    errors: list[FieldError] = []
    first, last = _clean(details.first_name), _clean(details.last_name)
    if not first:
        errors.append(FieldError("first_name", "required"))
    for name, value in (("first_name", first), ("last_name", last)):
        if len(value) > NAME_MAX:
            errors.append(FieldError(name, f"at most {NAME_MAX} characters"))
    email = phone = None
    if _clean(details.email):
        try:
            email = normalize_email(_clean(details.email))
        except ValueError as exc:
            errors.append(FieldError("email", f"not a valid email address: {exc}"))
    if _clean(details.phone):
        try:
            phone = normalize_phone(_clean(details.phone), region or _default_region())
        except ValueError as exc:
            errors.append(FieldError("phone", f"not a valid phone number: {exc}"))
    if email is None and phone is None and not any(e.field in ("email", "phone") for e in errors):
        errors.append(FieldError("email", "give an email address or a phone number, so we can confirm"))
    consent = [c for c in dict.fromkeys(details.consent) if c in CONSENT_CHANNELS]
    return {"first_name": first, "last_name": last, "email": email, "phone": phone, "consent": consent}, errors


def _default_region() -> str:
    from rapport.settings import get_settings

    return get_settings().default_region


def _find_or_create_client(db: Database, client: Mapping[str, Any], store_code: str) -> int:
    """Identity resolution, as for any record: the same email or phone is the same client."""
    from rapport.ingest.service import ingest_records

    now = clock.now()
    key = client["email"] or client["phone"]
    record: dict[str, Any] = {
        "source": "booking", "id": f"booking:{key}", "first_name": client["first_name"],
        "emails": [client["email"]] if client["email"] else [], "phones": [client["phone"]] if client["phone"] else [],
        "consent": [{"channel": c, "granted": True, "recorded_at": now.isoformat()} for c in client["consent"]],
        "home_store": store_code,
    }  # fmt: skip
    if client["last_name"]:
        record["last_name"] = client["last_name"]
    outcome = ingest_records(db, "customers", [record], actor="booking").outcomes[0]
    if outcome.id is None:
        raise InvalidRecord(list(outcome.errors))
    return outcome.id


def _existing(session: Session, key: str) -> Booked | None:
    row = session.execute(select(APPOINTMENT).where(APPOINTMENT.c.idempotency_key == key)).first()
    return _booked(row, created=False) if row is not None else None


def _booked(row: Any, *, created: bool) -> Booked:
    return Booked(row.id, row.customer_id, row.location_id, row.associate_id, row.starts_at, row.ends_at, row.status,
                  created, manage_token(row.id, row.version, row.starts_at))  # fmt: skip


def lock_store(session: Session, location_id: int) -> Any:
    """The store row, locked on PostgreSQL until commit: bookings at one store take turns."""
    stmt = select(LOCATION.c.id, LOCATION.c.code, LOCATION.c.name, LOCATION.c.kind, LOCATION.c.timezone).where(
        LOCATION.c.id == location_id
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    store = session.execute(stmt).first()
    if store is None or store.kind != "store":
        raise InvalidRecord.one("location", f"store {location_id} not found")
    return store


def book_appointment(
    db: Database, req: BookingRequest, *, via: str, actor: AuditActor, booked_by_id: int | None = None
) -> Booked:
    """Book (see the module docstring). InvalidRecord names the field; nothing is written for a refusal."""
    if via not in BOOKED_VIA:
        raise ValueError(f"via must be one of {BOOKED_VIA}")
    with db.read() as session:
        region = session.scalar(select(LOCATION.c.country).where(LOCATION.c.id == req.location_id))
    clean, errors = check_request(req, region)
    with db.read() as session:
        kind = session.execute(
            select(TYPE.c.id, TYPE.c.location_id, TYPE.c.active).where(TYPE.c.id == req.type_id)
        ).first()
        if kind is None or kind.location_id != req.location_id or not kind.active:
            errors.append(FieldError("type_id", "this appointment type is not offered at this store"))
        store_code = session.scalar(select(LOCATION.c.code).where(LOCATION.c.id == req.location_id))
        if store_code is None:
            errors.append(FieldError("location", f"store {req.location_id} not found"))
        if clean["key"]:
            done = _existing(session, clean["key"])
            if done is not None:
                return done
        if not errors:
            # Refuse a slot that is plainly not bookable before creating anyone.
            try:
                availability.check_slot(session, location_id=req.location_id, type_id=req.type_id,
                                        starts_at=req.starts_at, associate_id=req.associate_id)  # fmt: skip
            except InvalidRecord as exc:
                errors += exc.errors
    if errors:
        raise InvalidRecord(errors)
    assert store_code is not None
    if req.customer_id is not None:
        with db.read() as session:
            cid = resolve_id(session, req.customer_id)
    else:
        cid = _find_or_create_client(db, clean["client"], store_code)
    key = clean["key"] or uuid.uuid4().hex
    with db.write() as session:
        store = lock_store(session, req.location_id)
        done = _existing(session, key)
        if done is not None:
            return done
        associate_id = availability.check_slot(
            session, location_id=req.location_id, type_id=req.type_id, starts_at=req.starts_at,
            associate_id=req.associate_id,
        )  # fmt: skip
        t = session.execute(select(TYPE).where(TYPE.c.id == req.type_id)).one()
        starts = req.starts_at.astimezone(clock.now().tzinfo)
        ends = starts + timedelta(minutes=t.duration_minutes)
        now = clock.now()
        appointment_id = session.execute(
            APPOINTMENT.insert()
            .values(
                location_id=store.id, type_id=t.id, customer_id=cid, associate_id=associate_id, starts_at=starts,
                ends_at=ends, blocked_from=starts - timedelta(minutes=t.buffer_before_minutes),
                blocked_until=ends + timedelta(minutes=t.buffer_after_minutes), status="booked",
                reason=clean["reason"], products_of_interest=clean["products"], sizes=clean["sizes"],
                conversation_summary=clean["summary"], booked_via=via, booked_by_id=booked_by_id,
                idempotency_key=key, version=1, created_at=now, updated_at=now,
            )
            .returning(APPOINTMENT.c.id)
        ).scalar_one()  # fmt: skip
        row = session.execute(select(APPOINTMENT).where(APPOINTMENT.c.id == appointment_id)).one()
        local = starts.astimezone(availability.store_zone(session, store.id))
        with_whom = _name_of(session, associate_id)
        summary = f"Booked {t.name.lower()} at {store.name} on {local:%a %d %b %H:%M}" + (
            f" with {with_whom}" if with_whom else ""
        )
        if clean["reason"]:
            summary += f": {clean['reason'][:200]}"
        _timeline(session, row, "booked", summary, actor, data={"starts_at": starts.isoformat(), "status": "booked",
                                                                   "via": via})  # fmt: skip
        audit.record_by(session, actor, "appointment.booked", customer_id=cid,
                        detail={"appointment_id": appointment_id, "via": via})  # fmt: skip
        _schedule_notices(session, row, store.timezone, confirm=True)
        if associate_id is not None and associate_id != booked_by_id:
            notifications.notify(
                session, associate_id, "appointment", f"New appointment: {local:%a %d %b %H:%M}",
                body=summary[:2000], link=f"/appointments/{appointment_id}", customer_id=cid,
            )  # fmt: skip
        return _booked(row, created=True)


def _name_of(session: Session, associate_id: int | None) -> str | None:
    if associate_id is None:
        return None
    return session.scalar(select(ASSOCIATE.c.display_name).where(ASSOCIATE.c.id == associate_id))


def _timeline(
    session: Session, row: Any, what: str, summary: str, actor: AuditActor, data: dict[str, Any] | None = None
) -> None:
    now = clock.now()
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=row.customer_id, kind="appointment", summary=summary, source=SOURCE,
                external_id=f"appointment:{row.id}:{what}:v{row.version}", occurred_at=now, recorded_at=now,
                location_id=row.location_id, channel="store",
                actor_kind="associate" if actor.kind == "associate" else ("client" if actor.kind == "client" else
                                                                            "system"),
                actor_id=actor.id if actor.kind == "associate" else None, ref_type="appointment", ref_id=row.id,
                data={"appointment_id": row.id, "change": what, **(data or {})},
            )
        ],
    )  # fmt: skip


def _schedule_notices(session: Session, row: Any, tz: str, *, confirm: bool) -> None:
    """Queue the confirmation (now), the client's reminder (a day before) and the associate's brief (the
    day before, 09:00 store time) — keyed by version, so a moved appointment gets fresh ones."""
    from zoneinfo import ZoneInfo

    now = clock.now()
    due: list[tuple[str, datetime]] = []
    if confirm:
        due.append(("confirm", now))
    remind_at = row.starts_at - REMIND_BEFORE
    if remind_at > now:
        due.append(("remind", remind_at))
    if row.associate_id is not None:
        zone = ZoneInfo(tz or "UTC")
        day_before = row.starts_at.astimezone(zone).date() - timedelta(days=1)
        brief_at = max(now, datetime.combine(day_before, BRIEF_AT, tzinfo=zone))
        if brief_at < row.starts_at:
            due.append(("brief", brief_at))
    items = [
        (f"appointment:{row.id}:v{row.version}:{what}", {"id": row.id, "what": what, "version": row.version}, at)
        for what, at in due
    ]
    for key, payload, at in items:
        jobs.enqueue(session, NOTICE_QUEUE, key, payload, run_at=at)


def _locked(session: Session, appointment_id: int) -> Any:
    stmt = select(APPOINTMENT).where(APPOINTMENT.c.id == appointment_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"appointment {appointment_id} not found")
    return row


def reschedule_appointment(
    db: Database, appointment_id: int, starts_at: datetime, *, actor: AuditActor, associate_id: int | None = None,
    version: int | None = None,
) -> Booked:  # fmt: skip
    """Move to another free slot (the same type and store); older manage links stop working."""
    if starts_at.tzinfo is None:
        raise InvalidRecord.one("starts_at", "give the time with its timezone")
    with db.write() as session:
        current = session.execute(select(APPOINTMENT.c.location_id).where(APPOINTMENT.c.id == appointment_id)).first()
        if current is None:
            raise NotFound(f"appointment {appointment_id} not found")
        store = lock_store(session, current.location_id)
        row = _locked(session, appointment_id)
        if version is not None and version != row.version:
            raise Conflict("this appointment has changed since the link was sent: use the newest email")
        if row.status != "booked":
            raise Conflict(f"this appointment is {row.status.replace('_', ' ')}: it can no longer be moved")
        chosen = availability.check_slot(
            session, location_id=row.location_id, type_id=row.type_id, starts_at=starts_at,
            associate_id=associate_id if associate_id is not None else None, exclude_appointment_id=row.id,
        )  # fmt: skip
        t = session.execute(select(TYPE).where(TYPE.c.id == row.type_id)).one()
        starts = starts_at.astimezone(clock.now().tzinfo)
        ends = starts + timedelta(minutes=t.duration_minutes)
        session.execute(
            update(APPOINTMENT)
            .where(APPOINTMENT.c.id == row.id)
            .values(starts_at=starts, ends_at=ends, blocked_from=starts - timedelta(minutes=t.buffer_before_minutes),
                    blocked_until=ends + timedelta(minutes=t.buffer_after_minutes), associate_id=chosen,
                    version=row.version + 1, updated_at=clock.now())
        )  # fmt: skip
        _cancel_notices(session, row)
        moved = session.execute(select(APPOINTMENT).where(APPOINTMENT.c.id == row.id)).one()
        local = starts.astimezone(availability.store_zone(session, store.id))
        _timeline(session, moved, "rescheduled", f"Moved to {local:%a %d %b %H:%M} at {store.name}", actor,
                  data={"starts_at": starts.isoformat(), "status": "booked"})  # fmt: skip
        audit.record_by(session, actor, "appointment.rescheduled", customer_id=row.customer_id,
                        detail={"appointment_id": row.id, "from": row.starts_at.isoformat()})  # fmt: skip
        _schedule_notices(session, moved, store.timezone, confirm=True)
        return _booked(moved, created=False)


def _cancel_notices(session: Session, row: Any) -> None:
    for what in ("confirm", "remind", "brief"):
        jobs.cancel(session, f"appointment:{row.id}:v{row.version}:{what}")


def cancel_appointment(
    db: Database, appointment_id: int, *, actor: AuditActor, reason: str | None = None, version: int | None = None
) -> Booked:
    """Cancel; the slot is free again, the client is told (with the calendar's cancellation)."""
    with db.write() as session:
        row = _locked(session, appointment_id)
        if version is not None and version != row.version:
            raise Conflict("this appointment has changed since the link was sent: use the newest email")
        if row.status == "cancelled":
            return _booked(row, created=False)
        if row.status != "booked":
            raise Conflict(f"this appointment is {row.status.replace('_', ' ')}: it can no longer be cancelled")
        now = clock.now()
        text = _clean(reason)[:500] or None
        session.execute(
            update(APPOINTMENT)
            .where(APPOINTMENT.c.id == row.id)
            .values(status="cancelled", cancelled_at=now, cancel_reason=text, version=row.version + 1, updated_at=now)
        )
        _cancel_notices(session, row)
        done = session.execute(select(APPOINTMENT).where(APPOINTMENT.c.id == row.id)).one()
        _timeline(session, done, "cancelled", "Appointment cancelled" + (f": {text}" if text else ""), actor,
                  data={"status": "cancelled"})  # fmt: skip
        audit.record_by(session, actor, "appointment.cancelled", customer_id=row.customer_id,
                        detail={"appointment_id": row.id})  # fmt: skip
        jobs.enqueue(session, NOTICE_QUEUE, f"appointment:{row.id}:v{done.version}:cancelled",
                     {"id": row.id, "what": "cancelled", "version": done.version})  # fmt: skip
        if row.associate_id is not None:
            local = row.starts_at.astimezone(availability.store_zone(session, row.location_id))
            notifications.notify(session, row.associate_id, "appointment", "Appointment cancelled",
                                 body=f"{local:%a %d %b %H:%M}" + (f" — {text}" if text else ""),
                                 link=f"/appointments/{row.id}", customer_id=row.customer_id)  # fmt: skip
        return _booked(done, created=False)


def check_in(session: Session, appointment_id: int, *, actor: AuditActor) -> None:
    """The client has arrived: their associate is told at once."""
    row = _locked(session, appointment_id)
    if row.status == "checked_in":
        return
    if row.status != "booked":
        raise Conflict(f"this appointment is {row.status.replace('_', ' ')}")
    now = clock.now()
    session.execute(
        update(APPOINTMENT)
        .where(APPOINTMENT.c.id == row.id)
        .values(status="checked_in", checked_in_at=now, updated_at=now)
    )
    name = session.scalar(select(CUSTOMER.c.first_name).where(CUSTOMER.c.id == row.customer_id)) or "Your client"
    _timeline(session, row, "checked_in", "Arrived for the appointment", actor, data={"status": "checked_in"})
    if row.associate_id is not None and row.associate_id != actor.id:
        notifications.notify(session, row.associate_id, "appointment", f"{name} has arrived",
                             link=f"/appointments/{row.id}", customer_id=row.customer_id)  # fmt: skip


def record_outcome(
    session: Session, appointment_id: int, outcome: str, *, actor: AuditActor, note: str | None = None,
    follow_up_in_days: int = 3,
) -> None:  # fmt: skip
    """How it went: purchased, a follow-up to do (a task for the associate), no purchase, or a no-show."""
    if outcome not in OUTCOMES:
        raise InvalidRecord.one("outcome", f"expected one of {', '.join(OUTCOMES)}")
    text = _clean(note)[:2000] or None
    row = _locked(session, appointment_id)
    if row.status in ("cancelled",):
        raise Conflict("this appointment was cancelled")
    if outcome != "no_show" and row.status not in ("checked_in", "completed"):
        raise Conflict("check the client in first (or record a no-show)")
    status = "no_show" if outcome == "no_show" else "completed"
    now = clock.now()
    session.execute(
        update(APPOINTMENT)
        .where(APPOINTMENT.c.id == row.id)
        .values(status=status, outcome=outcome, outcome_note=text, updated_at=now)
    )
    words = {"purchased": "Bought at the appointment", "follow_up": "Follow-up to do after the appointment",
             "no_purchase": "Came, did not buy", "no_show": "Did not come to the appointment"}[outcome]  # fmt: skip
    _timeline(session, row, outcome, words + (f": {text}" if text else ""), actor,
              data={"status": status, "outcome": outcome})  # fmt: skip
    audit.record_by(session, actor, "appointment.outcome", customer_id=row.customer_id,
                    detail={"appointment_id": row.id, "outcome": outcome})  # fmt: skip
    if outcome == "follow_up":
        _follow_up_task(session, row, text, follow_up_in_days)


def _follow_up_task(session: Session, row: Any, note: str | None, days: int) -> None:
    from rapport.tasks import service as tasks

    now = clock.now()
    candidate = tasks.Candidate(
        customer_id=row.customer_id, type="manual", dedupe_key=f"appointment_follow_up:{row.id}",
        title="Follow up after the appointment", reason=note or "Agreed at the appointment to follow up",
        due_at=now + timedelta(days=days), expires_at=now + timedelta(days=days + 14),
        facts={"appointment_id": row.id}, outreach=True, channel=None, priority=3,
    )  # fmt: skip
    tasks.raise_tasks(session, [candidate])
