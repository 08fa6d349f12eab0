"""Merging two client records into one — and undoing it exactly.

Every table that hangs off a client registers how its rows move (``register_child_table``).
A merge moves the loser's rows to the survivor in the caller's transaction and writes a
:class:`MergeRecord` holding the moved row ids and the survivor's field values before the
merge. ``unmerge`` puts back exactly those rows and those values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers import timeline
from rapport.customers.models import Customer
from rapport.db import Base, table_of
from rapport.errors import Conflict, NotFound
from rapport.identity.models import MatchCandidate, MergeRecord

CUSTOMER = table_of(Customer)

#: Profile fields the survivor may take from the loser when its own are empty.
SCALAR_FIELDS = (
    "first_name", "last_name", "first_name_key", "last_name_key", "birth_date", "language",
    "city", "country", "home_location_id", "assigned_associate_id", "tier",
)  # fmt: skip
DOCUMENT_FIELDS = ("tags", "preferences", "sizes")


@dataclass
class ChildTable:
    """Rows of ``table`` that belong to a client through ``column``.

    ``unique_with``: the other columns of a unique constraint that includes the client column.
    A loser's row that would collide with one the survivor already has stays with the loser
    (the survivor's own row wins) and comes back untouched on unmerge.
    """

    table_name: str
    column: str = "customer_id"
    unique_with: tuple[str, ...] = ()

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]


@dataclass
class MergeOutcome:
    merge_id: int
    survivor_id: int
    loser_id: int
    moved: dict[str, list[int]] = field(default_factory=dict)


_CHILD_TABLES: dict[str, ChildTable] = {}
#: Called after a merge / unmerge inside the transaction, for capabilities with their own caches.
_AFTER_MERGE: list[Callable[[Session, MergeOutcome], None]] = []


def register_child_table(table_name: str, column: str = "customer_id", unique_with: tuple[str, ...] = ()) -> None:
    _CHILD_TABLES[f"{table_name}.{column}"] = ChildTable(table_name, column, unique_with)


def on_merge(callback: Callable[[Session, MergeOutcome], None]) -> None:
    _AFTER_MERGE.append(callback)


for _name, _unique in (
    ("identifier", ()),
    ("customer_address", ()),
    ("customer_milestone", ("kind", "label")),
    ("customer_relationship", ()),
    ("customer_note", ()),
    ("customer_consent", ("channel",)),
    ("wishlist_item", ("product_id",)),
    ("timeline_entry", ()),
    ("sales_order", ()),
    ("sales_return", ()),
    ("notification", ()),
):
    register_child_table(_name, unique_with=_unique)


def resolve_id(session: Session, customer_id: int) -> int:
    """The surviving id for a client id, following merges (old ids keep resolving)."""
    seen: set[int] = set()
    current = customer_id
    while True:
        row = session.execute(
            select(CUSTOMER.c.status, CUSTOMER.c.merged_into_id).where(CUSTOMER.c.id == current)
        ).first()
        if row is None:
            raise NotFound(f"client {customer_id} not found")
        if row.merged_into_id is None or current in seen:
            return current
        seen.add(current)
        current = row.merged_into_id


def _profile(session: Session, customer_id: int, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(CUSTOMER).where(CUSTOMER.c.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    return dict(row)


def _combined(survivor: dict[str, Any], loser: dict[str, Any]) -> dict[str, Any]:
    """Survivor's values win; its gaps are filled from the loser; lists and maps are united."""
    changes: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        if survivor[name] in (None, "") and loser[name] not in (None, ""):
            changes[name] = loser[name]
    tags = list(dict.fromkeys([*(survivor["tags"] or []), *(loser["tags"] or [])]))
    if tags != (survivor["tags"] or []):
        changes["tags"] = tags
    prefs = {k: list(v) for k, v in (survivor["preferences"] or {}).items()}
    for key, values in (loser["preferences"] or {}).items():
        prefs[key] = list(dict.fromkeys([*prefs.get(key, []), *values]))
    if prefs != (survivor["preferences"] or {}):
        changes["preferences"] = prefs
    sizes = {**(loser["sizes"] or {}), **(survivor["sizes"] or {})}
    if sizes != (survivor["sizes"] or {}):
        changes["sizes"] = sizes
    return changes


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _from_json(name: str, value: Any) -> Any:
    if name == "birth_date" and isinstance(value, str):
        from datetime import date

        return date.fromisoformat(value)
    return value


def merge_customers(
    session: Session, survivor_id: int, loser_id: int, *, reason: str, actor: str = "system"
) -> MergeOutcome:
    """Fold ``loser_id`` into ``survivor_id`` in the caller's transaction."""
    if survivor_id == loser_id:
        raise Conflict("cannot merge a client into itself")
    # Lock both rows in id order so two concurrent merges cannot deadlock or interleave.
    first, second = sorted((survivor_id, loser_id))
    profiles = {first: _profile(session, first, lock=True), second: _profile(session, second, lock=True)}
    survivor, loser = profiles[survivor_id], profiles[loser_id]
    for who, row in (("survivor", survivor), ("loser", loser)):
        if row["status"] != "active":
            raise Conflict(f"{who} client {row['id']} is {row['status']} (merged into {row['merged_into_id']})")

    now = clock.now()
    moved: dict[str, list[int]] = {}
    for key, child in _CHILD_TABLES.items():
        t = child.table
        col = t.c[child.column]
        stmt = update(t).where(col == loser_id)
        if child.unique_with:
            clash = t.alias("clash")
            stmt = stmt.where(
                ~select(clash.c.id)
                .where(clash.c[child.column] == survivor_id)
                .where(and_(*(clash.c[c] == t.c[c] for c in child.unique_with)))
                .exists()
            )
        ids = sorted(session.scalars(stmt.values({child.column: survivor_id}).returning(t.c.id)))
        if ids:
            moved[key] = ids

    # Consent: the newer decision per channel wins, and the survivor's old one is kept for undo.
    consent_choices = _merge_consent(session, survivor_id, loser_id)

    # Clients merged into the loser earlier now point at the survivor directly.
    earlier = list(session.scalars(select(CUSTOMER.c.id).where(CUSTOMER.c.merged_into_id == loser_id)))
    if earlier:
        session.execute(update(CUSTOMER).where(CUSTOMER.c.id.in_(earlier)).values(merged_into_id=survivor_id))

    changes = _combined(survivor, loser)
    if changes:
        session.execute(update(CUSTOMER).where(CUSTOMER.c.id == survivor_id).values(**changes, updated_at=now))
    session.execute(
        update(CUSTOMER)
        .where(CUSTOMER.c.id == loser_id)
        .values(status="merged", merged_into_id=survivor_id, updated_at=now)
    )
    record = MergeRecord(
        survivor_id=survivor_id,
        loser_id=loser_id,
        reason=reason[:500],
        actor=actor[:200],
        moved={**moved, "_earlier_merged": earlier},
        field_choices={
            "survivor_before": {k: _jsonable(survivor[k]) for k in changes},
            "survivor_after": {k: _jsonable(v) for k, v in changes.items()},
            "consent": consent_choices,
        },
        created_at=now,
    )
    session.add(record)
    session.flush()
    # Pending fuzzy candidates between the two are settled by this merge.
    a, b = sorted((survivor_id, loser_id))
    session.execute(
        update(MatchCandidate)
        .where(MatchCandidate.customer_id == a, MatchCandidate.other_customer_id == b)
        .where(MatchCandidate.status == "pending")
        .values(status="merged", decided_at=now, decided_by=actor[:200])
    )
    name = " ".join(p for p in (loser["first_name"], loser["last_name"]) if p) or f"client {loser_id}"
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=survivor_id,
                kind="merge",
                source="rapport",
                external_id=f"merge:{record.id}",
                occurred_at=now,
                summary=f"Merged {name} (#{loser_id}) into this profile: {reason}",
                ref_type="merge",
                ref_id=record.id,
                actor_kind="associate" if actor != "system" else "system",
                data={"loser_id": loser_id, "actor": actor},
            )
        ],
    )
    outcome = MergeOutcome(record.id, survivor_id, loser_id, moved)
    for callback in _AFTER_MERGE:
        callback(session, outcome)
    return outcome


def _merge_consent(session: Session, survivor_id: int, loser_id: int) -> list[dict[str, Any]]:
    from rapport.customers.models import Consent

    t = table_of(Consent)
    rows = session.execute(select(t).where(t.c.customer_id.in_((survivor_id, loser_id)))).mappings().all()
    mine = {r["channel"]: r for r in rows if r["customer_id"] == survivor_id}
    theirs = {r["channel"]: r for r in rows if r["customer_id"] == loser_id}
    choices = []
    for channel, other in theirs.items():
        own = mine.get(channel)
        if own is not None and other["recorded_at"] > own["recorded_at"]:
            choices.append(
                {
                    "id": own["id"],
                    "before": {
                        "granted": own["granted"],
                        "source": own["source"],
                        "recorded_at": own["recorded_at"].isoformat(),
                    },
                }
            )
            session.execute(
                update(t)
                .where(t.c.id == own["id"])
                .values(granted=other["granted"], source=other["source"], recorded_at=other["recorded_at"])
            )
    return choices


def unmerge(session: Session, merge_id: int, *, actor: str = "system") -> MergeRecord:
    """Undo one merge exactly: the moved rows, the field choices and the loser's status come back."""
    from datetime import datetime

    from rapport.customers.models import Consent

    record = session.get(MergeRecord, merge_id, with_for_update=True)
    if record is None:
        raise NotFound(f"merge {merge_id} not found")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone on {record.undone_at.isoformat()}")
    survivor = _profile(session, record.survivor_id, lock=True)
    if survivor["status"] != "active":
        raise Conflict(
            f"client {record.survivor_id} has since been merged into {survivor['merged_into_id']}: "
            "undo that merge first"
        )
    now = clock.now()
    moved = dict(record.moved)
    earlier = moved.pop("_earlier_merged", [])
    for key, ids in moved.items():
        child = _CHILD_TABLES.get(key)
        if child is None:
            continue
        t = child.table
        for chunk in _chunks(ids):
            session.execute(
                update(t)
                .where(t.c.id.in_(chunk), t.c[child.column] == record.survivor_id)
                .values({child.column: record.loser_id})
            )
    if earlier:
        session.execute(
            update(CUSTOMER)
            .where(CUSTOMER.c.id.in_(earlier), CUSTOMER.c.merged_into_id == record.survivor_id)
            .values(merged_into_id=record.loser_id)
        )
    choices = record.field_choices or {}
    before, after = choices.get("survivor_before", {}), choices.get("survivor_after", {})
    restore = {
        name: _from_json(name, value)
        for name, value in before.items()
        if _jsonable(survivor.get(name)) == after.get(name)  # leave fields edited since the merge
    }
    if restore:
        session.execute(update(CUSTOMER).where(CUSTOMER.c.id == record.survivor_id).values(**restore))
    ct = table_of(Consent)
    for choice in choices.get("consent", []):
        b = choice["before"]
        session.execute(
            update(ct)
            .where(ct.c.id == choice["id"])
            .values(granted=b["granted"], source=b["source"], recorded_at=datetime.fromisoformat(b["recorded_at"]))
        )
    session.execute(
        update(CUSTOMER)
        .where(CUSTOMER.c.id == record.loser_id)
        .values(status="active", merged_into_id=None, updated_at=now)
    )
    record.undone_at = now
    record.undone_by = actor[:200]
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid,
                kind="unmerge",
                source="rapport",
                external_id=f"unmerge:{record.id}:{cid}",
                occurred_at=now,
                summary=f"Merge #{record.id} undone: #{record.loser_id} split from #{record.survivor_id}",
                ref_type="merge",
                ref_id=record.id,
                actor_kind="associate" if actor != "system" else "system",
                data={"actor": actor},
            )
            for cid in (record.survivor_id, record.loser_id)
        ],
    )
    session.flush()
    outcome = MergeOutcome(record.id, record.survivor_id, record.loser_id, moved)
    for callback in _AFTER_MERGE:
        callback(session, outcome)
    return record


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
