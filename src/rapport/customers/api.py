"""Client routes: search, the 360 and further timeline pages. Thin: parse, authorise, call, render."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from rapport.associates import audit
from rapport.customers import read, schemas, search
from rapport.db import Database
from rapport.http import Caller, api_caller, database, read_session

router = APIRouter(tags=["customers"])


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@router.get("/customers", response_model=schemas.SearchResults, summary="Find clients by name, email or phone")
def search_customers(
    q: str = Query("", description="Name, email or phone fragment; typos are tolerated. At least 2 characters."),
    limit: int = Query(search.DEFAULT_LIMIT, ge=1, le=search.MAX_LIMIT),
    _caller: Caller = Depends(api_caller),
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
    caller: Caller = Depends(api_caller),
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
    _caller: Caller = Depends(api_caller),
    session: Session = Depends(read_session),
) -> schemas.TimelinePage:
    page = read.client_timeline(
        session, customer_id, before=before, limit=limit, channels=_list(channel), kinds=_list(kind)
    )
    return schemas.TimelinePage.model_validate(page)
