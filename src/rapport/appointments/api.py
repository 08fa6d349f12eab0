"""Appointments over HTTP: an e-commerce site books after an online chat (passing what was said),
a calendar integration reads, and the app's screens act (check-in, outcome).

Integration tokens need ``read`` to read and ``write`` to book or change; signed-in associates are
judged by the client-edit rule. Times are ISO 8601 with their offset; slots are listed in UTC and in
the store's time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.appointments import availability, booking, setup
from rapport.appointments.models import OUTCOMES, Appointment
from rapport.associates.models import Associate
from rapport.associates.permissions import client_facts, require_edit_client, require_view_client
from rapport.db import Database
from rapport.errors import InvalidRecord, NotFound
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller, wake_jobs
from rapport.inventory.models import Location

router = APIRouter(prefix="/appointments", tags=["appointments"])


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(max_length=100)] = ""
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    consent: list[Annotated[str, Field(pattern="^(email|sms|whatsapp)$")]] = Field(
        default_factory=list, description="Channels the client agreed to be contacted on (none is withdrawn)."
    )


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: Annotated[str, Field(min_length=1, max_length=64, description="The store's code.")]
    type: Annotated[str, Field(min_length=1, max_length=32, description="The appointment type's code.")]
    starts_at: AwareDatetime
    associate: Annotated[str, Field(max_length=64)] | None = Field(default=None, description="An associate's code.")
    client_id: int | None = Field(default=None, description="A known client; or `client` to find or create one.")
    client: ClientIn | None = None
    reason: Annotated[str, Field(max_length=booking.REASON_MAX)] = ""
    products_of_interest: Annotated[list[Annotated[str, Field(max_length=booking.PRODUCT_MAX)]],
                                    Field(max_length=booking.PRODUCTS_MAX)] = Field(default_factory=list)  # fmt: skip
    sizes: dict[str, Annotated[str, Field(max_length=20)]] = Field(default_factory=dict)
    conversation_summary: Annotated[str, Field(max_length=booking.SUMMARY_MAX)] | None = Field(
        default=None, description="What was said online before booking (shown in the associate's brief)."
    )
    idempotency_key: Annotated[str, Field(min_length=8, max_length=100)] | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    associate: Annotated[str, Field(max_length=64)] | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=500)] | None = None


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[str, Field(pattern="^(" + "|".join(OUTCOMES) + ")$")]
    note: Annotated[str, Field(max_length=2000)] | None = None


class AppointmentOut(BaseModel):
    id: int
    client_id: int
    store: str
    type: str
    associate: str | None
    starts_at: datetime
    ends_at: datetime
    local_start: str
    status: str
    outcome: str | None
    reason: str
    products_of_interest: list[Any]
    sizes: dict[str, str]
    booked_via: str
    manage_url: str | None = Field(default=None, description="For the client: move or cancel without signing in.")


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    local_start: str
    associates: list[str]


def _store(session: Session, code: str, field: str = "store") -> int:
    found = session.scalar(select(Location.id).where(Location.code == code, Location.kind == "store"))
    if found is None:
        raise InvalidRecord.one(field, f"unknown store {code!r}")
    return int(found)


def _type(session: Session, location_id: int, code: str) -> int:
    for t in setup.types_at(session, location_id):
        if t.code == code:
            return t.id
    raise InvalidRecord.one("type", f"the store offers no appointment type {code!r}")


def _associate(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    found = session.scalar(select(Associate.id).where(Associate.code == code, Associate.active.is_(True)))
    if found is None:
        raise InvalidRecord.one("associate", f"unknown or inactive associate {code!r}")
    return int(found)


def _out(session: Session, appointment_id: int, token: str | None = None) -> AppointmentOut:
    from rapport.appointments.models import AppointmentType
    from rapport.appointments.notices import manage_url

    row = session.execute(select(Appointment).where(Appointment.id == appointment_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"appointment {appointment_id} not found")
    store = session.execute(select(Location.code, Location.timezone).where(Location.id == row.location_id)).one()
    kind = session.scalar(select(AppointmentType.code).where(AppointmentType.id == row.type_id)) or ""
    who = session.scalar(select(Associate.code).where(Associate.id == row.associate_id)) if row.associate_id else None
    local = row.starts_at.astimezone(availability.store_zone(session, row.location_id))
    return AppointmentOut(
        id=row.id, client_id=row.customer_id, store=store.code, type=kind, associate=who, starts_at=row.starts_at,
        ends_at=row.ends_at, local_start=local.isoformat(), status=row.status, outcome=row.outcome,
        reason=row.reason, products_of_interest=list(row.products_of_interest or []), sizes=dict(row.sizes or {}),
        booked_via=row.booked_via, manage_url=manage_url(row) if token is not None and row.status == "booked" else None,
    )  # fmt: skip


@router.get("/slots", response_model=list[SlotOut], summary="Free times for a type at a store on a day")
def slots(
    store: str = Query(..., description="The store's code."),
    type: str = Query(..., description="The appointment type's code."),
    day: date = Query(..., description="The day, in the store's calendar."),
    associate: str | None = Query(default=None),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[SlotOut]:
    require_scope(caller, "read")
    location_id = _store(session, store)
    type_id = _type(session, location_id, type)
    wanted = _associate(session, associate)
    found = availability.free_slots(session, location_id=location_id, type_id=type_id, day=day, associate_id=wanted)
    codes = {r.id: r.code for r in session.execute(select(Associate.id, Associate.code))}
    return [SlotOut(starts_at=s.starts_at, ends_at=s.ends_at, local_start=s.local_start.isoformat(),
                    associates=[codes[a] for a in s.associate_ids if a in codes]) for s in found]  # fmt: skip


_BOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "The field is named: a slot taken, outside hours, closed, a bad email..."}
}


@router.post("", response_model=AppointmentOut, status_code=201, summary="Book an appointment", responses=_BOOK_ERRORS)
def book(
    body: BookingIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AppointmentOut:  # fmt: skip
    require_scope(caller, "write")
    with db.read() as session:
        location_id = _store(session, body.store)
        type_id = _type(session, location_id, body.type)
        associate_id = _associate(session, body.associate)
        if body.client_id is not None and caller.kind == "associate":
            require_edit_client(caller.actor, client_facts(session, body.client_id))
    client = None
    if body.client is not None:
        c = body.client
        client = booking.ClientDetails(c.first_name, c.last_name, c.email, c.phone, tuple(c.consent))
    done = booking.book_appointment(
        db,
        booking.BookingRequest(
            location_id=location_id, type_id=type_id, starts_at=body.starts_at, associate_id=associate_id,
            customer_id=body.client_id, client=client, reason=body.reason,
            products_of_interest=body.products_of_interest, sizes=body.sizes,
            conversation_summary=body.conversation_summary, idempotency_key=body.idempotency_key,
        ),
        via="associate" if caller.kind == "associate" else "api", actor=audit_actor(caller, request),
        booked_by_id=caller.associate_id,
    )  # fmt: skip
    wake_jobs(request)
    with db.read() as session:
        return _out(session, done.id, done.manage_token)


@router.get("/{appointment_id}", response_model=AppointmentOut, summary="One appointment")
def get_one(
    appointment_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> AppointmentOut:
    require_scope(caller, "read")
    require_view_client(caller.actor)
    return _out(session, appointment_id)


def _editable(db: Database, caller: Caller, appointment_id: int) -> None:
    require_scope(caller, "write")
    with db.read() as session:
        row = session.execute(
            select(Appointment.customer_id, Appointment.location_id).where(Appointment.id == appointment_id)
        ).first()
        if row is None:
            raise NotFound(f"appointment {appointment_id} not found")
        # The store's team looks after a visit to their store (a Paris client arriving in New York),
        # as does anyone who may edit the client.
        if caller.kind == "associate" and row.location_id not in caller.store_ids:
            require_edit_client(caller.actor, client_facts(session, row.customer_id))


@router.post("/{appointment_id}/reschedule", response_model=AppointmentOut, summary="Move to another free time")
def reschedule(
    appointment_id: int, body: MoveIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AppointmentOut:  # fmt: skip
    _editable(db, caller, appointment_id)
    with db.read() as session:
        associate_id = _associate(session, body.associate)
    done = booking.reschedule_appointment(db, appointment_id, body.starts_at, actor=audit_actor(caller, request),
                                          associate_id=associate_id)  # fmt: skip
    wake_jobs(request)
    with db.read() as session:
        return _out(session, done.id, done.manage_token)


@router.post("/{appointment_id}/cancel", response_model=AppointmentOut, summary="Cancel")
def cancel(
    appointment_id: int, body: CancelIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AppointmentOut:  # fmt: skip
    _editable(db, caller, appointment_id)
    booking.cancel_appointment(db, appointment_id, actor=audit_actor(caller, request), reason=body.reason)
    wake_jobs(request)
    with db.read() as session:
        return _out(session, appointment_id)


@router.post("/{appointment_id}/check-in", response_model=AppointmentOut, summary="The client has arrived")
def check_in(
    appointment_id: int, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AppointmentOut:  # fmt: skip
    _editable(db, caller, appointment_id)
    with db.write() as session:
        booking.check_in(session, appointment_id, actor=audit_actor(caller, request))
    with db.read() as session:
        return _out(session, appointment_id)


@router.post("/{appointment_id}/outcome", response_model=AppointmentOut, summary="How it went")
def outcome(
    appointment_id: int, body: OutcomeIn, request: Request, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> AppointmentOut:  # fmt: skip
    _editable(db, caller, appointment_id)
    with db.write() as session:
        booking.record_outcome(session, appointment_id, body.outcome, actor=audit_actor(caller, request),
                               note=body.note)  # fmt: skip
    with db.read() as session:
        return _out(session, appointment_id)
