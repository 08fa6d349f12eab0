"""Identity over HTTP: the review list of probable duplicates, manual merges and undo."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.db import Database
from rapport.http import Caller, api_caller, database, read_session
from rapport.identity import merge, service
from rapport.identity.models import MatchCandidate, MergeRecord

router = APIRouter(prefix="/identity", tags=["identity"])


class CandidateOut(BaseModel):
    id: int
    customer_id: int
    other_customer_id: int
    score: int
    reasons: list[str]
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, c: MatchCandidate) -> CandidateOut:
        return cls.model_validate(c, from_attributes=True)


class CandidateList(BaseModel):
    total: int
    items: list[CandidateOut]


class MergeOut(BaseModel):
    id: int
    survivor_id: int
    loser_id: int
    reason: str
    actor: str
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    moved: dict[str, int] = Field(description="Rows moved per table.")
    field_choices: dict[str, Any]

    @classmethod
    def of(cls, m: MergeRecord) -> MergeOut:
        moved = {k: len(v) for k, v in (m.moved or {}).items() if not k.startswith("_")}
        return cls(
            id=m.id, survivor_id=m.survivor_id, loser_id=m.loser_id, reason=m.reason, actor=m.actor,
            created_at=m.created_at, undone_at=m.undone_at, undone_by=m.undone_by, moved=moved,
            field_choices=m.field_choices or {},
        )  # fmt: skip


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    survivor_id: int | None = Field(default=None, description="Which of the pair survives (default: the older).")


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    survivor_id: int
    loser_id: int
    reason: str = Field(min_length=3, max_length=500)


@router.get("/candidates", response_model=CandidateList, summary="Probable duplicates awaiting review")
def list_candidates(
    status: Literal["pending", "accepted", "rejected", "merged"] = "pending",
    customer_id: int | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    _caller: Caller = Depends(api_caller),
    session: Session = Depends(read_session),
) -> CandidateList:
    page = service.list_candidates(session, status=status, customer_id=customer_id, limit=limit, offset=offset)
    return CandidateList(total=page.total, items=[CandidateOut.of(c) for c in page.items])


@router.post("/candidates/{candidate_id}/accept", response_model=MergeOut, summary="Same person: merge the pair")
def accept_candidate(
    candidate_id: int,
    body: AcceptIn | None = None,
    caller: Caller = Depends(api_caller),
    db: Database = Depends(database),
) -> MergeOut:
    with db.write() as session:
        outcome = service.accept_candidate(
            session, candidate_id, actor=caller.label, survivor_id=body.survivor_id if body else None
        )
        return MergeOut.of(service.get_merge(session, outcome.merge_id))


@router.post("/candidates/{candidate_id}/reject", response_model=CandidateOut, summary="Different people")
def reject_candidate(
    candidate_id: int, caller: Caller = Depends(api_caller), db: Database = Depends(database)
) -> CandidateOut:
    with db.write() as session:
        return CandidateOut.of(service.reject_candidate(session, candidate_id, actor=caller.label))


@router.post("/merges", response_model=MergeOut, status_code=201, summary="Merge two clients by hand")
def merge_clients(body: MergeIn, caller: Caller = Depends(api_caller), db: Database = Depends(database)) -> MergeOut:
    with db.write() as session:
        outcome = merge.merge_customers(
            session, body.survivor_id, body.loser_id, reason=body.reason, actor=caller.label
        )
        return MergeOut.of(service.get_merge(session, outcome.merge_id))


@router.get("/merges", response_model=list[MergeOut], summary="Merges a client took part in")
def list_merges(
    customer_id: int, _caller: Caller = Depends(api_caller), session: Session = Depends(read_session)
) -> list[MergeOut]:
    return [MergeOut.of(m) for m in service.merges_for(session, customer_id)]


@router.post("/merges/{merge_id}/undo", response_model=MergeOut, summary="Undo a merge exactly")
def undo_merge(merge_id: int, caller: Caller = Depends(api_caller), db: Database = Depends(database)) -> MergeOut:
    with db.write() as session:
        return MergeOut.of(merge.unmerge(session, merge_id, actor=caller.label))
