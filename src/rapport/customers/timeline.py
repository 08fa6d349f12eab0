"""Appending to the client timeline. Entries are never updated; a replayed entry is a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers.models import TimelineEntry
from rapport.db import bulk_insert, one_of, table_of

TIMELINE = table_of(TimelineEntry)


def entry(
    *,
    customer_id: int,
    kind: str,
    summary: str,
    source: str,
    external_id: str,
    occurred_at: datetime,
    channel: str | None = None,
    location_id: int | None = None,
    actor_kind: str = "system",
    actor_id: int | None = None,
    product_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    data: dict[str, Any] | None = None,
    recorded_at: datetime | None = None,
) -> dict[str, Any]:
    """One timeline row as a dict, ready for :func:`append`."""
    return {
        "customer_id": customer_id,
        "kind": kind,
        "summary": summary[:500],
        "source": source,
        "external_id": external_id[:200],
        "occurred_at": occurred_at,
        "recorded_at": recorded_at or clock.now(),
        "channel": channel,
        "location_id": location_id,
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "product_id": product_id,
        "ref_type": ref_type,
        "ref_id": ref_id,
        "data": data or {},
    }


def recorded(session: Session, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (source, external id) pairs are already on a timeline (one indexed look-up per source)."""
    by_source: dict[str, list[str]] = {}
    for source, external_id in dict.fromkeys(keys):
        by_source.setdefault(source, []).append(external_id)
    found: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        found.update(
            (source, external_id)
            for external_id in session.scalars(
                select(TIMELINE.c.external_id).where(
                    TIMELINE.c.source == source, one_of(session, TIMELINE.c.external_id, ids)
                )
            )
        )
    return found


def append(session: Session, entries: Sequence[dict[str, Any]], *, checked: bool = False) -> int:
    """Insert entries; those already recorded (same source and external id) are skipped.

    Returns how many were new. Existing keys are looked up first (unless the caller has just
    done so: ``checked``) and the rest bulk-inserted; should another process record the same
    entry in between, the unique key refuses the transaction and the caller's unit of work is
    retried (see ``ingest.service``).
    """
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        fresh.setdefault((e["source"], e["external_id"]), e)
    if not fresh:
        return 0
    if not checked:
        for key in recorded(session, list(fresh)):
            fresh.pop(key, None)
    bulk_insert(session, TIMELINE, list(fresh.values()))
    return len(fresh)
