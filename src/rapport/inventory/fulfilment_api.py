"""Fulfilment over HTTP: arrange a pickup or a shipment for an order, list a store's queues and pick
list, and move a fulfilment on (picked, ready, collected, shipped, received, cancelled).

Every route takes :func:`~rapport.http.session_or_token_caller` and the rules of
:mod:`rapport.inventory.fulfilment_views`: any associate reads fulfilments and may arrange one for a
client (endless aisle); the team of a store the goods leave or reach moves them on; cancelling is for
the store's managers and head office. Tokens read with ``read`` and change with ``write`` (or
``ingest``). Every change is audited (``fulfilment.<what>``).

Errors: an unknown order or fulfilment is 404, a fulfilment not in the status a step starts from (or
an order that cannot be sourced) 409, an unknown store 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from rapport.associates.audit import AuditActor
from rapport.associates.permissions import Actor
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, audit_actor, database, read_session, session_or_token_caller
from rapport.inventory import fulfilment, sourcing
from rapport.inventory.fulfilment_schemas import (
    CancelIn,
    FulfilmentOut,
    PickLineOut,
    PickupIn,
    ReadyIn,
    ShippedIn,
    SourceIn,
)

router = APIRouter(prefix="/inventory", tags=["inventory"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not one of your stores (or cancelling without being its manager), or a missing scope."},
    404: {"description": "No such order or fulfilment."},
    409: {"description": "Not in the status this step starts from (the detail names it), or no stock anywhere."},
    422: {"description": "Unknown store (the field is named), or a store that takes no pickups."},
}


def _require_read(caller: Caller) -> None:
    if not fulfilment.can_read(caller.actor):
        raise PermissionDenied(f"{caller.label} lacks the 'read' scope")


def _store_id(session: Session, code: str, field: str) -> int:
    found = sourcing.site_by_code(session, code)
    if found is None:
        raise InvalidRecord.one(field, f"unknown {'location' if field == 'location' else 'store'} {code!r}")
    return found.id


# -- arranging ------------------------------------------------------------------------------------


@router.post(
    "/orders/{order_id}/pickup",
    response_model=list[FulfilmentOut],
    status_code=201,
    summary="Have an order collected at a store (click and collect)",
    description="Allocates every line the store can promise; what it lacks comes by transfer from the best other "
    "location (the pickup then waits, `awaiting_transfer`). A pickup at this store that was unfulfillable is planned "
    "again. 409 when the order is already being fulfilled or a line can be promised nowhere (nothing is written).",
    responses=_ERRORS,
)
def arrange_pickup(
    request: Request,
    order_id: int,
    body: PickupIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> list[FulfilmentOut]:
    with db.write() as session:
        views = fulfilment.allocate_pickup(
            session,
            order_id,
            _store_id(session, body.store, "store"),
            actor=caller.actor,
            who=audit_actor(caller, request),
            associate_id=caller.associate_id,
        )
    return [FulfilmentOut.of(v) for v in views]


@router.post(
    "/orders/{order_id}/source",
    response_model=list[FulfilmentOut],
    status_code=201,
    summary="Send an order from wherever it is (endless aisle, ship from store)",
    description="`ship_to: client`: one parcel per sending location among those that ship online orders — one "
    "location for the whole order when any can, then the nearest `taken_at`, then warehouses before stores, then "
    "the most available. `ship_to: <store code>`: collected there, as `/pickup`. 409, nothing written, when a line "
    "can be promised by no location.",
    responses=_ERRORS,
)
def source(
    request: Request,
    order_id: int,
    body: SourceIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> list[FulfilmentOut]:
    with db.write() as session:
        ship_to: str | int = "client" if body.ship_to == "client" else _store_id(session, body.ship_to, "ship_to")
        taken_at = _store_id(session, body.taken_at, "taken_at") if body.taken_at else None
        views = fulfilment.source_order(
            session,
            order_id,
            ship_to=ship_to,
            taken_at=taken_at,
            associate_id=caller.associate_id,
            actor=caller.actor,
            who=audit_actor(caller, request),
        )
    return [FulfilmentOut.of(v) for v in views]


# -- reading --------------------------------------------------------------------------------------


@router.get(
    "/orders/{order_id}/fulfilments",
    response_model=list[FulfilmentOut],
    summary="An order's fulfilments (a pickup before the transfers that feed it)",
    responses={404: _ERRORS[404]},
)
def of_order(
    order_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> list[FulfilmentOut]:
    _require_read(caller)
    return [FulfilmentOut.of(v) for v in fulfilment.fulfilments_of_order(session, order_id)]


@router.get(
    "/fulfilments",
    response_model=list[FulfilmentOut],
    summary="A location's fulfilments: one section of the store's screen, or one status",
    description="`status`: `to_pick` (allocated or picked there), `to_hand_over` (pickups ready, within their time), "
    "`to_receive` (transfers on their way in), `overdue` (ready pickups past their time), `attention` (pickups "
    "nobody could source, or whose transfer was cancelled) — or one status. Oldest first, at most 200.",
    responses={422: {"description": "Unknown location or status."}},
)
def at_location(
    location: str = Query(..., min_length=1, max_length=64, description="A location code, e.g. PAR."),
    status: str = Query("to_pick", max_length=32),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[FulfilmentOut]:
    _require_read(caller)
    views = fulfilment.fulfilments_at(session, _store_id(session, location, "location"), status)
    return [FulfilmentOut.of(v) for v in views]


@router.get(
    "/pick-list",
    response_model=list[PickLineOut],
    summary="What a location must take off its shelves now, one line per SKU, oldest first",
    responses={422: {"description": "Unknown location."}},
)
def pick_list(
    location: str = Query(..., min_length=1, max_length=64),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[PickLineOut]:
    _require_read(caller)
    return [PickLineOut.of(p) for p in fulfilment.pick_list(session, _store_id(session, location, "location"))]


@router.get("/fulfilments/{fulfilment_id}", response_model=FulfilmentOut, summary="One fulfilment", responses=_ERRORS)
def one(
    fulfilment_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> FulfilmentOut:
    _require_read(caller)
    return FulfilmentOut.of(fulfilment.get_fulfilment(session, fulfilment_id))


# -- moving on ------------------------------------------------------------------------------------


Step = Callable[[Session, Actor, AuditActor], fulfilment.FulfilmentView]


def _move(request: Request, caller: Caller, db: Database, step: Step) -> FulfilmentOut:
    with db.write() as session:
        view = step(session, caller.actor, audit_actor(caller, request))
    return FulfilmentOut.of(view)


@router.post("/fulfilments/{fulfilment_id}/picked", response_model=FulfilmentOut, summary="Picked", responses=_ERRORS)
def picked(
    request: Request,
    fulfilment_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    return _move(request, caller, db, lambda s, a, w: fulfilment.mark_picked(s, fulfilment_id, actor=a, who=w))


@router.post(
    "/fulfilments/{fulfilment_id}/ready",
    response_model=FulfilmentOut,
    summary="Ready for collection (the client is told)",
    description="Sets `collect_by`. The client is emailed after the commit when email is configured and they have "
    "an address; their timeline says whether they were told, or why not.",
    responses=_ERRORS,
)
def ready(
    request: Request,
    fulfilment_id: int,
    body: ReadyIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    days = body.collect_days if body else None
    return _move(
        request, caller, db, lambda s, a, w: fulfilment.mark_ready(s, fulfilment_id, collect_days=days, actor=a, who=w)
    )


@router.post(
    "/fulfilments/{fulfilment_id}/collected",
    response_model=FulfilmentOut,
    summary="Collected by the client (the items leave the store's stock)",
    responses=_ERRORS,
)
def collected(
    request: Request,
    fulfilment_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    return _move(request, caller, db, lambda s, a, w: fulfilment.mark_collected(s, fulfilment_id, actor=a, who=w))


@router.post(
    "/fulfilments/{fulfilment_id}/shipped",
    response_model=FulfilmentOut,
    summary="A parcel or a transfer has left (the items leave the sender's stock)",
    responses=_ERRORS,
)
def shipped(
    request: Request,
    fulfilment_id: int,
    body: ShippedIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    tracking = body.tracking if body else None
    return _move(
        request,
        caller,
        db,
        lambda s, a, w: fulfilment.mark_shipped(s, fulfilment_id, tracking=tracking, actor=a, who=w),
    )


@router.post(
    "/fulfilments/{fulfilment_id}/received",
    response_model=FulfilmentOut,
    summary="A transfer arrived (its items join the store's stock and the pickup it feeds)",
    responses=_ERRORS,
)
def received(
    request: Request,
    fulfilment_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    return _move(request, caller, db, lambda s, a, w: fulfilment.mark_received(s, fulfilment_id, actor=a, who=w))


@router.post(
    "/fulfilments/{fulfilment_id}/cancel",
    response_model=FulfilmentOut,
    summary="Cancel (the stock is given back; a pickup's transfers not yet sent stop too)",
    description="For the managers of the stores involved and head office. A transfer already shipped is received "
    "instead (409).",
    responses=_ERRORS,
)
def cancel(
    request: Request,
    fulfilment_id: int,
    body: CancelIn | None = None,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> FulfilmentOut:
    note = body.note if body else None
    return _move(request, caller, db, lambda s, a, w: fulfilment.cancel(s, fulfilment_id, note=note, actor=a, who=w))
