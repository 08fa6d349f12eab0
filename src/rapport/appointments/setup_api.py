"""Setting a store up for appointments over HTTP: hours, closures, types, booking rules, the team's
shifts and time off. Store managers for their stores and head office (or a token with ``write``);
reading needs ``read``. Wall times are the store's own (``"10:00"``); time off is instants."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.appointments import setup
from rapport.appointments.models import OpeningHours, StoreClosure
from rapport.associates.models import Associate
from rapport.associates.permissions import ADMIN, STORE_MANAGER
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, database, read_session, require_scope, session_or_token_caller
from rapport.inventory.models import Location

router = APIRouter(prefix="/appointments/stores", tags=["appointments"])

Period = Annotated[list[time], Field(min_length=2, max_length=2, description='["10:00", "19:00"]')]


class HoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: dict[Annotated[int, Field(ge=0, le=6)], list[Period]] = Field(
        description="Weekday (0 = Monday) → opening periods in store time; a day left out is closed."
    )


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_day: date
    last_day: date
    reason: Annotated[str, Field(max_length=200)] = ""


class TypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    name: Annotated[str, Field(min_length=1, max_length=100)]
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    virtual: bool = False
    description: Annotated[str, Field(max_length=500)] = ""
    active: bool = True


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rooms: int | None = None
    slot_minutes: int | None = None
    min_notice_minutes: int | None = None
    max_days_ahead: int | None = None


class ShiftsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    associate: Annotated[str, Field(min_length=1, max_length=64, description="The associate's code.")]
    week: dict[Annotated[int, Field(ge=0, le=6)], list[Period]]


class TimeOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    associate: Annotated[str, Field(min_length=1, max_length=64)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Annotated[str, Field(max_length=200)] = ""


def _store(session: Session, code: str) -> int:
    found = session.scalar(select(Location.id).where(Location.code == code))
    if found is None:
        raise InvalidRecord.one("store", f"unknown store {code!r}")
    return int(found)


def _may_set_up(caller: Caller, location_id: int) -> None:
    require_scope(caller, "write")
    if caller.kind != "associate":
        return
    if caller.role == ADMIN or (caller.role == STORE_MANAGER and location_id in caller.store_ids):
        return
    raise PermissionDenied("only the store's managers and head office set up its appointments")


def _week(raw: dict[int, list[list[time]]]) -> dict[int, list[tuple[time, time]]]:
    return {day: [(p[0], p[1]) for p in periods] for day, periods in raw.items()}


@router.get("/{store}/setup", summary="A store's appointment set-up")
def read_setup(
    store: str, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> dict[str, object]:
    require_scope(caller, "read")
    location_id = _store(session, store)
    hours = session.execute(
        select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
        .where(OpeningHours.location_id == location_id)
        .order_by(OpeningHours.weekday, OpeningHours.opens)
    ).all()
    closures = session.execute(
        select(StoreClosure.first_day, StoreClosure.last_day, StoreClosure.reason)
        .where(StoreClosure.location_id == location_id)
        .order_by(StoreClosure.first_day)
    ).all()
    week: dict[int, list[list[str]]] = {}
    for day, opens, closes in hours:
        week.setdefault(day, []).append([f"{opens:%H:%M}", f"{closes:%H:%M}"])
    return {
        "store": store,
        "hours": week,
        "closures": [{"first_day": a, "last_day": b, "reason": r} for a, b, r in closures],
        "types": [t.__dict__ for t in setup.types_at(session, location_id, include_inactive=True)],
        "settings": setup.booking_settings(session, location_id).__dict__,
    }


@router.put("/{store}/hours", status_code=204, summary="Replace the store's opening hours")
def put_hours(
    store: str, body: HoursIn, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> None:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        setup.set_opening_hours(session, location_id, _week(body.week))


@router.post("/{store}/closures", status_code=201, summary="Close the store on some days")
def post_closure(
    store: str, body: ClosureIn, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> dict[str, int]:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        return {"id": setup.add_closure(session, location_id, body.first_day, body.last_day, body.reason)}


@router.put("/{store}/types/{code}", summary="Add or change an appointment type")
def put_type(
    store: str, code: str, body: TypeIn, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> dict[str, int]:  # fmt: skip
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        return {"id": setup.save_appointment_type(session, location_id, code=code, **body.model_dump())}


@router.put("/{store}/settings", status_code=204, summary="Rooms, slot step, notice, days ahead")
def put_settings(
    store: str, body: SettingsIn, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> None:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        setup.save_settings(session, location_id, **body.model_dump())


def _associate(session: Session, code: str) -> int:
    found = session.scalar(select(Associate.id).where(Associate.code == code))
    if found is None:
        raise InvalidRecord.one("associate", f"unknown associate {code!r}")
    return int(found)


@router.put("/{store}/shifts", status_code=204, summary="An associate's weekly shifts at the store")
def put_shifts(
    store: str, body: ShiftsIn, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> None:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        setup.set_working_hours(session, _associate(session, body.associate), location_id, _week(body.week))


@router.post("/{store}/time-off", status_code=201, summary="An associate away (holiday, training)")
def post_time_off(
    store: str, body: TimeOffIn, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> dict[str, int]:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        who = _associate(session, body.associate)
        return {"id": setup.add_time_off(session, who, body.starts_at, body.ends_at, body.reason)}


@router.delete("/{store}/closures/{closure_id}", status_code=204, summary="Open on those days after all")
def delete_closure(
    store: str, closure_id: int, caller: Caller = Depends(session_or_token_caller), db: Database = Depends(database)
) -> None:
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        setup.remove_closure(session, location_id, closure_id)


@router.delete("/{store}/time-off/{associate}/{time_off_id}", status_code=204, summary="Cancel an absence")
def delete_time_off(
    store: str, associate: str, time_off_id: int, caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> None:  # fmt: skip
    with db.write() as session:
        location_id = _store(session, store)
        _may_set_up(caller, location_id)
        setup.remove_time_off(session, _associate(session, associate), time_off_id)
