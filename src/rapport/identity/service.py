"""What associates and admins do with identities: review probable duplicates, merge, undo."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.errors import Conflict, NotFound
from rapport.identity import merge
from rapport.identity.models import MatchCandidate, MergeRecord


@dataclass
class CandidatePage:
    total: int
    items: list[MatchCandidate]


def list_candidates(
    session: Session, *, status: str = "pending", customer_id: int | None = None, limit: int = 50, offset: int = 0
) -> CandidatePage:
    stmt = select(MatchCandidate).where(MatchCandidate.status == status)
    if customer_id is not None:
        stmt = stmt.where(
            or_(MatchCandidate.customer_id == customer_id, MatchCandidate.other_customer_id == customer_id)
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = session.scalars(
        stmt.order_by(MatchCandidate.score.desc(), MatchCandidate.id).limit(limit).offset(offset)
    ).all()
    return CandidatePage(total, list(items))


def _pending(session: Session, candidate_id: int) -> MatchCandidate:
    candidate = session.get(MatchCandidate, candidate_id, with_for_update=True)
    if candidate is None:
        raise NotFound(f"match candidate {candidate_id} not found")
    if candidate.status != "pending":
        raise Conflict(f"match candidate {candidate_id} is already {candidate.status}")
    return candidate


def accept_candidate(
    session: Session, candidate_id: int, *, actor: str, survivor_id: int | None = None
) -> merge.MergeOutcome:
    """A human says the two are one person: merge them (the older record survives unless told otherwise)."""
    candidate = _pending(session, candidate_id)
    pair = (candidate.customer_id, candidate.other_customer_id)
    survivor = survivor_id if survivor_id is not None else min(pair)
    if survivor not in pair:
        raise Conflict(f"survivor {survivor} is not one of the pair {pair}")
    loser = pair[1] if survivor == pair[0] else pair[0]
    outcome = merge.merge_customers(
        session, survivor, loser, reason=f"review #{candidate.id}: " + "; ".join(candidate.reasons), actor=actor
    )
    candidate.status = "accepted"
    candidate.decided_at = clock.now()
    candidate.decided_by = actor[:200]
    return outcome


def reject_candidate(session: Session, candidate_id: int, *, actor: str) -> MatchCandidate:
    """Two different people: the pair is remembered so it is never proposed again."""
    candidate = _pending(session, candidate_id)
    candidate.status = "rejected"
    candidate.decided_at = clock.now()
    candidate.decided_by = actor[:200]
    return candidate


def merges_for(session: Session, customer_id: int) -> list[MergeRecord]:
    return list(
        session.scalars(
            select(MergeRecord)
            .where(or_(MergeRecord.survivor_id == customer_id, MergeRecord.loser_id == customer_id))
            .order_by(MergeRecord.id.desc())
        )
    )


def get_merge(session: Session, merge_id: int) -> MergeRecord:
    record = session.get(MergeRecord, merge_id)
    if record is None:
        raise NotFound(f"merge {merge_id} not found")
    return record
