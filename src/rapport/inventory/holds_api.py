"""Holds over HTTP: put an item aside for a client at a store, list, release.

Any signed-in associate may put an item aside for a client at any store (a virtual associate
reserves the coat at the Paris store before her client's visit); releasing is for whoever placed
it, the store's team and head office. Integration tokens need ``read`` to list and ``write`` to
change. Every change is audited (``hold.placed``, ``hold.released``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller
from rapport.inventory import holds
from rapport.inventory.models import Location

router = APIRouter(prefix="/inventory", tags=["inventory"])


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: int = Field(description="The client the item is for (a merged id resolves to the survivor).")
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    location: Annotated[str, Field(min_length=1, max_length=64, description="The store's code.")]
    quantity: Annotated[int, Field(ge=1, le=holds.MAX_QUANTITY)] = 1
    until: AwareDatetime | None = Field(
        default=None,
        description="When the hold lapses (default: RAPPORT_HOLD_DEFAULT_HOURS, 48 hours unless set; at most "
        "RAPPORT_HOLD_MAX_DAYS, 14 days).",
    )
    note: Annotated[str, Field(max_length=500)] | None = None
    idempotency_key: Annotated[str, Field(min_length=8, max_length=100)] | None = Field(
        default=None, description="Send the same key when retrying: one hold is placed."
    )


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=200)] | None = None


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(description="active, released, expired or converted (bought).")
    quantity: int
    sku: str
    product_name: str
    size: str | None
    colour: str | None
    location_code: str
    location_name: str
    customer_id: int | None
    client_name: str
    associate_id: int | None
    associate_name: str | None
    note: str | None
    expires_at: datetime | None
    created_at: datetime
    ended_at: datetime | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such hold or client."},
    409: {"description": "Not enough stock at the store (the detail names what is available), or already ended."},
    422: {"description": "Unknown SKU or store, a warehouse, a time in the past or too far; the field is named."},
}


@router.post(
    "/holds", response_model=HoldOut, status_code=201, summary="Put an item aside for a client", responses=_ERRORS
)
def place_hold(
    request: Request,
    body: HoldIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> HoldOut:
    require_scope(caller, "write")
    view = holds.place_hold_once(
        db,
        customer_id=body.client_id,
        sku=body.sku,
        location_code=body.location,
        quantity=body.quantity,
        until=body.until,
        note=body.note,
        associate_id=caller.associate_id,
        actor=audit_actor(caller, request),
        idempotency_key=body.idempotency_key,
    )
    return HoldOut.model_validate(view)


@router.get("/holds", response_model=list[HoldOut], summary="A client's holds, or a store's shelf of holds")
def list_holds(
    client_id: int | None = Query(default=None, description="A client's holds (active first)."),
    location: str | None = Query(default=None, description="A store's active holds, soonest to lapse first."),
    include_ended: bool = Query(default=False, description="With client_id: also released, lapsed and bought ones."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[HoldOut]:
    require_scope(caller, "read")
    if (client_id is None) == (location is None):
        raise InvalidRecord.one("client_id", "give either client_id or location")
    if client_id is not None:
        views = holds.holds_of_client(session, client_id, include_ended=include_ended)
    else:
        location_id = session.scalar(select(Location.id).where(Location.code == location))
        if location_id is None:
            raise InvalidRecord.one("location", f"unknown location {location!r}")
        views = holds.holds_at(session, location_id)
    return [HoldOut.model_validate(v) for v in views]


@router.get("/holds/{hold_id}", response_model=HoldOut, summary="One hold", responses={404: _ERRORS[404]})
def get_hold(
    hold_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> HoldOut:
    require_scope(caller, "read")
    return HoldOut.model_validate(holds.get_hold(session, hold_id))


@router.post(
    "/holds/{hold_id}/release",
    response_model=HoldOut,
    summary="Give a held item back to the shelf",
    responses={**_ERRORS, 403: {"description": "Not your hold, nor your store's."}},
)
def release_hold(
    request: Request,
    hold_id: int,
    body: ReleaseIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> HoldOut:
    require_scope(caller, "write")
    with db.write() as session:
        authorize_release(caller, holds.get_hold(session, hold_id))
        view = holds.release_hold(
            session, hold_id, actor=audit_actor(caller, request), reason=body.reason if body else None
        )
    return HoldOut.model_validate(view)


def authorize_release(caller: Caller, hold: holds.HoldView) -> None:
    """The one who placed it, the store's team, and head office may release a hold."""
    if caller.kind != "associate" or caller.role == "admin":
        return
    if hold.associate_id == caller.id or hold.location_id in caller.store_ids:
        return
    raise PermissionDenied(f"the hold on {hold.label} belongs to {hold.location_name}'s team")
