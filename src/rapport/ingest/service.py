"""Ingesting records in batches: validate every record, write the good ones, report each.

A batch is written in one transaction with set-based statements. If the database refuses
that transaction (a unique key taken meanwhile by another process, say), the batch is
replayed one record per transaction, so a bad record never takes good ones down with it and
nothing is ever half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from rapport import events
from rapport.db import Database, defer_wal_flush, plan_each_statement
from rapport.errors import FieldError
from rapport.identity.resolve import BULK_IMPORT
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import RECORD_TYPES, Record

log = logging.getLogger(__name__)

Handler = Callable[[Session, Sequence[tuple[int, Any]]], dict[int, Outcome]]


@dataclass
class BatchResult:
    kind: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for o in self.outcomes if o.status != "rejected")

    @property
    def rejected(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "rejected")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "counts": self.counts(),
            "results": [{"index": i, **o.as_dict()} for i, o in enumerate(self.outcomes)],
        }


#: The tables each kind of record grows *and then looks up in its next batches* — where a stale
#: picture of the table's size misleads the planner (see :func:`rapport.db.refresh_statistics`).
GROWS: dict[str, tuple[str, ...]] = {
    "customers": ("customer", "identifier", "customer_consent"),
    "products": ("product",),
    "locations": ("location",),
    "associates": ("associate",),
    "stock": ("stock_level",),
    "stock_adjustments": ("stock_movement", "stock_level"),
    "orders": ("sales_order", "order_line", "timeline_entry", "identifier"),
    "returns": ("sales_return", "return_line", "timeline_entry"),
    "events": ("timeline_entry", "identifier"),
}


def _handlers() -> dict[str, Handler]:
    from rapport.ingest import commerce, customers, reference, signals

    return {
        "customers": customers.upsert_customers,
        "products": reference.upsert_products,
        "locations": reference.upsert_locations,
        "associates": reference.upsert_associates,
        "stock": reference.set_stock_levels,
        "stock_adjustments": reference.adjust_stock,
        "orders": commerce.upsert_orders,
        "returns": commerce.record_returns,
        "events": signals.record_events,
    }


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        out.append(FieldError(f"{prefix}{loc}", message))
    return out


def validate(kind: str, raw: Mapping[str, Any] | Record) -> Record:
    """One record of ``kind``, validated; raises ValidationError."""
    model = RECORD_TYPES[kind]
    if isinstance(raw, model):
        return raw
    if isinstance(raw, Record):
        raw = raw.model_dump()
    return model.model_validate(raw)


def ingest_records(
    db: Database,
    kind: str,
    records: Sequence[Mapping[str, Any] | Record],
    *,
    actor: str = "integration",
    durable: bool = True,
) -> BatchResult:
    """Validate and store ``records`` of one ``kind``; every record gets an outcome, in order.

    ``durable=False`` is for re-runnable work (a bulk import): on PostgreSQL the commit does not
    wait for the WAL flush (see :func:`rapport.db.defer_wal_flush`).
    """
    if kind not in RECORD_TYPES:
        raise KeyError(f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_TYPES)}")
    handler = _handlers()[kind]
    outcomes: dict[int, Outcome] = {}
    valid: list[tuple[int, Record]] = []
    for index, raw in enumerate(records):
        if not isinstance(raw, (Mapping, Record)):
            outcomes[index] = Outcome.rejected("(record)", "each record must be a JSON object")
            continue
        try:
            valid.append((index, validate(kind, raw)))
        except ValidationError as exc:
            outcomes[index] = Outcome("rejected", errors=pydantic_errors(exc))
    if valid:
        written = _batch(db, kind, handler, valid, durable)
        if written is None:
            for item in valid:
                outcomes.update(_one(db, kind, handler, item))
        else:
            outcomes.update(written)
    return BatchResult(kind, [outcomes[i] for i in range(len(records))])


#: Tries of a unit of work the database refused for a conflict with a concurrent writer.
ATTEMPTS = 2


def _batch(
    db: Database, kind: str, handler: Handler, valid: list[tuple[int, Record]], durable: bool
) -> dict[int, Outcome] | None:
    """The batch in one transaction; None when the database refused it (then each record goes alone).

    A batch racing another writer for the same new identifier or event (two webhooks about one new
    client, say) is refused by a unique key; PostgreSQL lets it fail only once the other has
    committed, so a second try sees that writer's rows and links to them instead.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.write() as session:
                plan_each_statement(session)
                if not durable:
                    defer_wal_flush(session)
                    session.info[BULK_IMPORT] = True
                written = handler(session, valid)
                events.collect(session, kind, valid, written)
            return written
        except (IntegrityError, DBAPIError) as exc:
            log.info("batch of %d %s refused (attempt %d: %s)", len(valid), kind, attempt, exc.__class__.__name__)
    return None


def _one(db: Database, kind: str, handler: Handler, item: tuple[int, Record]) -> dict[int, Outcome]:
    index = item[0]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.write() as session:
                plan_each_statement(session)
                written = handler(session, [item])
                events.collect(session, kind, [item], written)
            return written
        except IntegrityError as exc:
            if attempt == ATTEMPTS:
                return {index: Outcome.rejected("(record)", f"conflicts with stored data: {_first_line(exc)}")}
        except DBAPIError as exc:
            if attempt == ATTEMPTS:
                return {index: Outcome.rejected("(record)", f"database error: {_first_line(exc)}")}
    raise AssertionError("unreachable")


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return text.strip().splitlines()[0][:300]
