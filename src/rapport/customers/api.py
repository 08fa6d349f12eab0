"""Client routes: search, the 360, timeline pages, purchases, and the changes the associate app makes.

Thin: parse, authorise, call, render. The same routes serve integrations (a bearer token) and the
app's own screens (the session cookie plus ``X-CSRF-Token`` on writes), under the same rules:
anyone who may view clients may find and open any client (each 360 is audited); changing a client
follows :func:`rapport.associates.permissions.can_edit_client` (403 otherwise). Unknown clients
are 404, refused input 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.associates import audit
from rapport.associates.permissions import require_view_client
from rapport.customers import edits, purchases, read, schemas, search
from rapport.db import Database
from rapport.http import Caller, client_ip, database, read_session, session_or_token_caller
from rapport.identity.merge import resolve_id

router = APIRouter(tags=["customers"])


def viewer(caller: Caller = Depends(session_or_token_caller)) -> Caller:
    """Anyone who may view clients: a signed-in associate, or a token with the ``read`` scope."""
    require_view_client(caller.actor)
    return caller


def editor_of(caller: Caller, request: Request) -> edits.Editor:
    return edits.Editor(caller.actor, caller.name, client_ip(request), request.headers.get("user-agent"))


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@router.get("/customers", response_model=schemas.SearchResults, summary="Find clients by name, email or phone")
def search_customers(
    q: str = Query("", description="Name, email or phone fragment; typos are tolerated. At least 2 characters."),
    limit: int = Query(search.DEFAULT_LIMIT, ge=1, le=search.MAX_LIMIT),
    _caller: Caller = Depends(viewer),
    session: Session = Depends(read_session),
) -> schemas.SearchResults:
    hits = search.search_clients(session, q, limit=limit)
    return schemas.SearchResults(q=q, results=[schemas.SearchHit.model_validate(h) for h in hits])


@router.get(
    "/customers/{customer_id}/360",
    response_model=schemas.Client360,
    summary="Everything about one client",
    description="A merged-away id answers with its survivor's 360 and names itself in `resolved_from`.",
)
def customer_360(
    request: Request,
    customer_id: int,
    timeline_limit: int = Query(read.TIMELINE_DEFAULT, ge=1, le=read.TIMELINE_MAX),
    caller: Caller = Depends(viewer),
    session: Session = Depends(read_session),
    db: Database = Depends(database),
) -> schemas.Client360:
    view = read.client_360(session, customer_id, timeline_limit=timeline_limit)
    with db.write() as audit_session:  # every profile view is on the audit log (who, when, whom, from where)
        audit.record_view(
            audit_session,
            actor_kind=caller.kind,
            actor_id=caller.id,
            actor_label=caller.label,
            customer_id=view.customer_id,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    return schemas.Client360.model_validate(view)


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=schemas.TimelinePage,
    summary="A page of the client's cross-channel timeline, newest first",
)
def customer_timeline(
    customer_id: int,
    before: str | None = Query(None, description="`next_cursor` of the previous page"),
    limit: int = Query(read.TIMELINE_DEFAULT, ge=1, le=read.TIMELINE_MAX),
    channel: str | None = Query(None, description="Only these channels, comma-separated (online, store, ...)"),
    kind: str | None = Query(None, description="Only these kinds, comma-separated (order, return, try_on, ...)"),
    _caller: Caller = Depends(viewer),
    session: Session = Depends(read_session),
) -> schemas.TimelinePage:
    page = read.client_timeline(
        session, customer_id, before=before, limit=limit, channels=_list(channel), kinds=_list(kind)
    )
    return schemas.TimelinePage.model_validate(page)


# -- purchases -----------------------------------------------------------------------------------


class PurchaseLineOut(schemas.Schema):
    line_id: int
    quantity: int
    returned_quantity: int = Field(description="Units of this line given back, in any channel")
    total: schemas.Money
    product: schemas.ProductRef


class PurchaseOut(schemas.Schema):
    order_id: int
    order_number: str | None
    channel: str
    status: str = Field(examples=["placed", "cancelled"])
    placed_at: datetime
    location: schemas.LocationRef | None
    total: schemas.Money
    lines: list[PurchaseLineOut]


@router.get(
    "/customers/{customer_id}/purchases",
    response_model=list[PurchaseOut],
    summary="The client's latest orders from every channel, line by line, with returned units",
)
def customer_purchases(
    customer_id: int,
    orders: int = Query(purchases.ORDERS_DEFAULT, ge=1, le=purchases.ORDERS_MAX),
    _caller: Caller = Depends(viewer),
    session: Session = Depends(read_session),
) -> list[PurchaseOut]:
    found = purchases.recent_purchases(session, resolve_id(session, customer_id), orders=orders)
    return [PurchaseOut.model_validate(p) for p in found]


# -- changes (the associate app's edits) ---------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteIn(Body):
    body: str = Field(description=f"The note, 1 to {edits.NOTE_MAX:,} characters", examples=["Prefers Saturdays"])


class ProfileIn(Body):
    sizes: dict[str, str | None] | None = Field(
        None,
        description="Sizes to set by garment or item; `null` or an empty string removes one. Keys not given stay.",
        examples=[{"coats": "M", "shoes": None}],
    )
    preferences: dict[str, list[str] | None] | None = Field(
        None,
        description="Preference lists to replace by kind; `null` or an empty list removes one. Kinds not given stay.",
        examples=[{"colours": ["camel", "navy"]}],
    )


class ProfileOut(schemas.Schema):
    customer_id: int
    sizes: dict[str, str]
    preferences: dict[str, list[str]]
    changed: list[str] = Field(description="What moved, in words; empty when nothing changed")


class ConsentIn(Body):
    granted: Annotated[bool, Field(strict=True)] = Field(description="true: the client agrees to be contacted")


class ConsentOut(schemas.ConsentState):
    changed: bool = Field(description="False when the client had already said the same")


class MilestoneIn(Body):
    kind: str = Field(examples=["anniversary"], description=f"One of {', '.join(edits.MILESTONE_KINDS)}")
    label: str = Field("", examples=["wedding"], description="Tells two of a kind apart (a child's name)")
    date: str = Field(examples=["2015-06-20", "--06-20"], description="YYYY-MM-DD, or --MM-DD without the year")


class MilestoneOut(schemas.Schema):
    id: int
    customer_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    source: str


class RelationshipIn(Body):
    relation: str = Field(examples=["sister"], description=f"1 to {edits.RELATION_MAX} characters")
    name: str | None = Field(None, examples=["Inès"])
    note: str | None = Field(None, examples=["lives in Lyon"])
    related_customer_id: int | None = Field(None, description="When the person is a client too")


class RelationshipOut(schemas.Schema):
    id: int
    customer_id: int
    relation: str
    name: str | None
    note: str | None
    related_customer_id: int | None
    source: str


_WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"description": "The caller may not change this client (another store's client or another book)"},
    404: {"description": "Unknown client"},
    422: {"description": "Refused input; `errors` names each field"},
}


@router.post(
    "/customers/{customer_id}/notes",
    response_model=schemas.Note,
    status_code=201,
    summary="Add a note to the client's record (on the timeline too)",
    responses=_WRITE_ERRORS,
)
def add_note(
    request: Request,
    customer_id: int,
    body: NoteIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> schemas.Note:
    with db.write() as session:
        note = edits.add_note(session, editor_of(caller, request), customer_id, body.body)
    author = None if note.author_associate_id is None else schemas.AssociateRef(id=caller.id, name=caller.name)
    return schemas.Note(id=note.id, body=note.body, author=author, source=note.source, created_at=note.created_at)


@router.patch(
    "/customers/{customer_id}/profile",
    response_model=ProfileOut,
    summary="Set or remove the client's sizes and preferences",
    responses=_WRITE_ERRORS,
)
def update_profile(
    request: Request,
    customer_id: int,
    body: ProfileIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> ProfileOut:
    with db.write() as session:
        changed = edits.update_profile(
            session, editor_of(caller, request), customer_id, sizes=body.sizes, preferences=body.preferences
        )
    return ProfileOut.model_validate(changed)


@router.put(
    "/customers/{customer_id}/consent/{channel}",
    response_model=ConsentOut,
    summary="Record the client's yes or no to being contacted on one channel (email, sms, whatsapp, phone)",
    responses=_WRITE_ERRORS,
)
def set_consent(
    request: Request,
    customer_id: int,
    channel: str,
    body: ConsentIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> ConsentOut:
    with db.write() as session:
        done = edits.set_consent(session, editor_of(caller, request), customer_id, channel, body.granted)
    return ConsentOut(
        channel=done.channel, granted=done.granted, source=done.source, recorded_at=done.recorded_at,
        changed=done.changed,
    )  # fmt: skip


@router.post(
    "/customers/{customer_id}/milestones",
    response_model=MilestoneOut,
    status_code=201,
    summary="Add a date worth remembering (409 if the client has this kind with this label already)",
    responses={**_WRITE_ERRORS, 409: {"description": "The client already has this milestone"}},
)
def add_milestone(
    request: Request,
    customer_id: int,
    body: MilestoneIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> MilestoneOut:
    with db.write() as session:
        editor = editor_of(caller, request)
        edits.editable_client(session, editor, customer_id)  # 403/404 before judging the input
        year, month, day = edits.parse_milestone_date(body.date)
        added = edits.add_milestone(
            session, editor, customer_id, kind=body.kind, label=body.label, month=month, day=day, year=year
        )
    return MilestoneOut.model_validate(added)


@router.delete(
    "/customers/{customer_id}/milestones/{milestone_id}",
    status_code=204,
    summary="Remove one of the client's milestones",
    responses=_WRITE_ERRORS,
)
def remove_milestone(
    request: Request,
    customer_id: int,
    milestone_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> Response:
    with db.write() as session:
        edits.remove_milestone(session, editor_of(caller, request), customer_id, milestone_id)
    return Response(status_code=204)


@router.post(
    "/customers/{customer_id}/relationships",
    response_model=RelationshipOut,
    status_code=201,
    summary="Add someone who matters to the client",
    responses=_WRITE_ERRORS,
)
def add_relationship(
    request: Request,
    customer_id: int,
    body: RelationshipIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> RelationshipOut:
    with db.write() as session:
        added = edits.add_relationship(
            session, editor_of(caller, request), customer_id, relation=body.relation, name=body.name,
            note=body.note, related_customer_id=body.related_customer_id,
        )  # fmt: skip
    return RelationshipOut.model_validate(added)


@router.delete(
    "/customers/{customer_id}/relationships/{relationship_id}",
    status_code=204,
    summary="Remove one of the client's relationships",
    responses=_WRITE_ERRORS,
)
def remove_relationship(
    request: Request,
    customer_id: int,
    relationship_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> Response:
    with db.write() as session:
        edits.remove_relationship(session, editor_of(caller, request), customer_id, relationship_id)
    return Response(status_code=204)
