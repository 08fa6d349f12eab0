"""New clients at the counter over JSON: likely duplicates while typing, and creating the client.

API parity with the "New client" screen: the same checks, the same duplicate rules and the same
permissions, for a signed-in associate (session cookie + ``X-CSRF-Token``) or an integration
token (``read`` to look for duplicates, ``ingest`` or ``write`` to create).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.associates.permissions import ADMIN, require_view_client
from rapport.clientbook.team import book_owner
from rapport.customers import counter
from rapport.customers.schemas import Schema
from rapport.db import Database
from rapport.errors import PermissionDenied
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller

router = APIRouter(tags=["customers"])

#: Generous bounds for what is parsed at all; the clear per-field limits are :func:`counter.check`'s.
_TEXT = 1000


class ClientDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str = Field(default="", max_length=_TEXT)
    last_name: str = Field(default="", max_length=_TEXT)
    email: str = Field(default="", max_length=_TEXT)
    phone: str = Field(default="", max_length=_TEXT, description="Any format; read in the store's country.")
    store: str | None = Field(
        default=None, max_length=64, description="Store code of the counter (default: the associate's home store)."
    )


class NewClientIn(ClientDraftIn):
    consent: list[Literal["email", "sms", "whatsapp", "phone"]] = Field(
        default_factory=list, description="Channels the client agreed to be contacted on."
    )
    assign_to_me: bool = Field(default=True, description="Put the client in the signed-in associate's book.")
    create_anyway: bool = Field(
        default=False, description="Create although clients with a similar name exist (never for the same email/phone)."
    )


class DuplicateOut(Schema):
    id: int = Field(description="Open the profile at /clients/{id}.")
    name: str
    initials: str
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    home_store: str | None
    last_purchase_at: datetime | None
    matched_on: str = Field(description="email, phone or name")
    reason: str
    same_identifier: bool = Field(description="The same email or phone: this is that client.")
    score: int


class DuplicatesOut(BaseModel):
    region: str = Field(description="The country phone numbers were read in.")
    blocking: bool = Field(description="An email or phone already belongs to a client: open it, do not create.")
    duplicates: list[DuplicateOut]


class CreatedOut(BaseModel):
    id: int
    status: str = Field(description="created (or updated, when another till registered the same email a moment before)")
    url: str
    warnings: list[str]


def _counter_store(caller: Caller, session: Session, store: str | None) -> tuple[str | None, str | None]:
    """The store code of the counter and the region to read phones in (the associate's own by default)."""
    if caller.associate_id is None:
        return store, None
    owner = book_owner(session, caller.associate_id)
    return (store or owner.home_store_code), owner.country


def _check_store(caller: Caller, counter_store: counter.Counter) -> None:
    actor = caller.actor
    elsewhere = counter_store.store_id is not None and counter_store.store_id not in actor.store_ids
    if actor.is_associate and actor.role != ADMIN and elsewhere:
        raise PermissionDenied(f"you do not work at {counter_store.store_name}: register clients at your own store")


def _duplicates_out(region: str, found: list[counter.Duplicate]) -> DuplicatesOut:
    return DuplicatesOut(
        region=region,
        blocking=any(d.same_identifier for d in found),
        duplicates=[DuplicateOut.model_validate(d) for d in found],
    )


@router.post(
    "/customers/duplicates",
    response_model=DuplicatesOut,
    summary="Clients a new one may already be (same email or phone, similar name)",
    description="Call it while the associate types: half-typed input is fine. The same email or phone "
    "(read in the store's country) comes first and is `same_identifier`; names are matched with typos tolerated.",
)
def duplicates(
    body: ClientDraftIn,
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> DuplicatesOut:
    require_view_client(caller.actor)
    store, region = _counter_store(caller, session, body.store)
    desk = counter.counter_at(session, store, region)
    found = counter.likely_duplicates(
        session, desk, first_name=body.first_name, last_name=body.last_name, email=body.email, phone=body.phone
    )
    return _duplicates_out(desk.region, found)


@router.post(
    "/customers",
    response_model=CreatedOut,
    status_code=201,
    summary="Register a first-time client at the counter, with consent",
    responses={
        409: {"model": DuplicatesOut, "description": "Likely duplicates: open one, or confirm with create_anyway."},
        422: {"description": "A field is invalid; `errors` names each one."},
    },
)
def create_client(
    request: Request,
    body: NewClientIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> CreatedOut | JSONResponse:
    require_scope(caller, "ingest", "write")
    with db.read() as session:
        store, region = _counter_store(caller, session, body.store)
        desk = counter.counter_at(session, store, region)
    _check_store(caller, desk)
    form = counter.NewClient(body.first_name, body.last_name, body.email, body.phone, body.consent)
    who = audit_actor(caller, request)
    try:
        done = counter.register_client(
            db,
            form,
            store_code=desk.store_code,
            actor=who,
            assign_to=caller.associate_id if body.assign_to_me else None,
            create_anyway=body.create_anyway,
            fallback_region=region,
        )
    except counter.LikelyDuplicates as exc:
        payload = _duplicates_out(desk.region, exc.duplicates).model_dump(mode="json")
        return JSONResponse({"error": "conflict", "detail": exc.message, **payload}, status_code=409)
    url = f"/clients/{done.customer_id}"
    return CreatedOut(id=done.customer_id, status=done.status, url=url, warnings=done.warnings)
