"""Merging two client records into one — and undoing it exactly.

Every table that hangs off a client registers how its rows move (``register_child_table``).
A merge moves the loser's rows to the survivor in the caller's transaction and writes a
:class:`MergeRecord` holding the moved row ids and the survivor's field values before the
merge. ``unmerge`` puts back exactly those rows and those values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, select, text, update
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
#: The same, called once with every merge of a round (or the one unmerge): for set-based work.
_AFTER_MERGES: list[Callable[[Session, list[MergeOutcome]], None]] = []


def register_child_table(table_name: str, column: str = "customer_id", unique_with: tuple[str, ...] = ()) -> None:
    _CHILD_TABLES[f"{table_name}.{column}"] = ChildTable(table_name, column, unique_with)


def on_merge(callback: Callable[[Session, MergeOutcome], None]) -> None:
    _AFTER_MERGE.append(callback)


def on_merges(callback: Callable[[Session, list[MergeOutcome]], None]) -> None:
    """Like :func:`on_merge`, once per round of merges: a batch of 1,000 clients makes hundreds."""
    _AFTER_MERGES.append(callback)


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
    return merge_many(session, [(survivor_id, loser_id, reason)], actor=actor)[0]


def merge_many(session: Session, pairs: Sequence[tuple[int, int, str]], *, actor: str = "system") -> list[MergeOutcome]:
    """Fold each ``(survivor, loser, reason)`` in turn, as if merged one by one; outcomes in order.

    A batch of ingestion can link hundreds of pairs of clients. Pairs are taken in *rounds*:
    runs of consecutive pairs in which no client appears twice (so no round depends on its own
    writes, and a unique row of one loser cannot collide with another's), and each round moves
    every child table's rows with one statement. Chains (C into B, then B into A) fall into
    successive rounds and end exactly as sequential merges would.
    """
    for survivor_id, loser_id, _ in pairs:
        if survivor_id == loser_id:
            raise Conflict("cannot merge a client into itself")
    outcomes: list[MergeOutcome] = []
    for round_ in _rounds(pairs):
        outcomes.extend(_merge_round(session, round_, actor))
    return outcomes


def _rounds(pairs: Sequence[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    rounds: list[list[tuple[int, int, str]]] = []
    seen: set[int] = set()
    for pair in pairs:
        survivor_id, loser_id, _ = pair
        if not rounds or survivor_id in seen or loser_id in seen:
            rounds.append([])
            seen = set()
        rounds[-1].append(pair)
        seen.update((survivor_id, loser_id))
    return rounds


def _move_statement(session: Session, child: ChildTable) -> Any:
    """UPDATE moving a child table's rows from each loser to its survivor, returning (id, survivor)."""
    t, col = child.table.name, child.column
    if session.get_bind().dialect.name == "postgresql":
        pairs = "(SELECT unnest(CAST(:losers AS BIGINT[])) AS l, unnest(CAST(:survivors AS BIGINT[])) AS s)"
        returning = f'RETURNING "{t}".id, "{t}"."{col}"'
    else:
        pairs = "(SELECT json_extract(value, '$[0]') AS l, json_extract(value, '$[1]') AS s FROM json_each(:pairs))"
        returning = f'RETURNING id, "{col}"'  # SQLite's RETURNING sees only the updated table
    clash = ""
    if child.unique_with:
        same = " AND ".join(f'clash."{c}" = "{t}"."{c}"' for c in child.unique_with)
        clash = f' AND NOT EXISTS (SELECT 1 FROM "{t}" AS clash WHERE clash."{col}" = m.s AND {same})'
    return text(f'UPDATE "{t}" SET "{col}" = m.s FROM {pairs} AS m WHERE "{t}"."{col}" = m.l{clash} {returning}')


def _pair_params(session: Session, pairs: Sequence[tuple[int, int, str]]) -> dict[str, Any]:
    if session.get_bind().dialect.name == "postgresql":
        return {"losers": [p[1] for p in pairs], "survivors": [p[0] for p in pairs]}
    return {"pairs": json.dumps([[p[1], p[0]] for p in pairs])}


def _merge_round(session: Session, pairs: list[tuple[int, int, str]], actor: str) -> list[MergeOutcome]:
    # Lock every row of the round in id order so concurrent merges cannot deadlock or interleave.
    ids = sorted({i for p in pairs for i in p[:2]})
    stmt = select(CUSTOMER).where(CUSTOMER.c.id.in_(ids)).order_by(CUSTOMER.c.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    profiles = {row["id"]: dict(row) for row in session.execute(stmt).mappings()}
    for survivor_id, loser_id, _ in pairs:
        for who, cid in (("survivor", survivor_id), ("loser", loser_id)):
            row = profiles.get(cid)
            if row is None:
                raise NotFound(f"client {cid} not found")
            if row["status"] != "active":
                raise Conflict(f"{who} client {cid} is {row['status']} (merged into {row['merged_into_id']})")

    now = clock.now()
    loser_of = {survivor_id: loser_id for survivor_id, loser_id, _ in pairs}
    params = _pair_params(session, pairs)
    moved: dict[int, dict[str, list[int]]] = {loser_id: {} for _, loser_id, _ in pairs}
    for key, child in _CHILD_TABLES.items():
        for row_id, survivor_id in session.execute(_move_statement(session, child), params).all():
            moved[loser_of[survivor_id]].setdefault(key, []).append(row_id)
    for by_table in moved.values():
        for key in by_table:
            by_table[key].sort()

    # Consent: the newer decision per channel wins, and the survivor's old one is kept for undo.
    consent_choices = _merge_consent(session, pairs)

    # Clients merged into a loser earlier now point at its survivor directly.
    earlier: dict[int, list[int]] = {loser_id: [] for _, loser_id, _ in pairs}
    for cid, survivor_id in session.execute(_earlier_statement(session), params).all():
        earlier[loser_of[survivor_id]].append(cid)

    changes = {survivor_id: _combined(profiles[survivor_id], profiles[loser_id]) for survivor_id, loser_id, _ in pairs}
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # survivors changing the same fields: one statement
    for survivor_id, change in changes.items():
        if change:
            by_fields.setdefault(tuple(sorted(change)), []).append({"_survivor": survivor_id, **change})
    for fields, rows in by_fields.items():
        session.connection().execute(
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("_survivor"))
            .values({**{name: bindparam(name) for name in fields}, "updated_at": now}),
            rows,
        )
    session.connection().execute(
        update(CUSTOMER)
        .where(CUSTOMER.c.id == bindparam("_loser"))
        .values(status="merged", merged_into_id=bindparam("_survivor"), updated_at=now),
        [{"_loser": loser_id, "_survivor": survivor_id} for survivor_id, loser_id, _ in pairs],
    )
    records = [
        MergeRecord(
            survivor_id=survivor_id,
            loser_id=loser_id,
            reason=reason[:500],
            actor=actor[:200],
            moved={**moved[loser_id], "_earlier_merged": sorted(earlier[loser_id])},
            field_choices={
                "survivor_before": {k: _jsonable(profiles[survivor_id][k]) for k in changes[survivor_id]},
                "survivor_after": {k: _jsonable(v) for k, v in changes[survivor_id].items()},
                "consent": consent_choices.get(survivor_id, []),
            },
            created_at=now,
        )
        for survivor_id, loser_id, reason in pairs
    ]
    session.add_all(records)
    session.flush()
    # Pending fuzzy candidates between the two are settled by this merge.
    session.connection().execute(
        update(table_of(MatchCandidate))
        .where(
            table_of(MatchCandidate).c.customer_id == bindparam("_a"),
            table_of(MatchCandidate).c.other_customer_id == bindparam("_b"),
            table_of(MatchCandidate).c.status == "pending",
        )
        .values(status="merged", decided_at=now, decided_by=actor[:200]),
        [{"_a": min(p[:2]), "_b": max(p[:2])} for p in pairs],
    )
    entries = []
    for record in records:
        loser = profiles[record.loser_id]
        name = " ".join(p for p in (loser["first_name"], loser["last_name"]) if p) or f"client {record.loser_id}"
        entries.append(
            timeline.entry(
                customer_id=record.survivor_id,
                kind="merge",
                source="rapport",
                external_id=f"merge:{record.id}",
                occurred_at=now,
                summary=f"Merged {name} (#{record.loser_id}) into this profile: {record.reason}",
                ref_type="merge",
                ref_id=record.id,
                actor_kind="associate" if actor != "system" else "system",
                data={"loser_id": record.loser_id, "actor": actor},
            )
        )
    timeline.append(session, entries, checked=True)  # merge ids are new: nothing to look up
    outcomes = [MergeOutcome(r.id, r.survivor_id, r.loser_id, moved[r.loser_id]) for r in records]
    for outcome in outcomes:
        for callback in _AFTER_MERGE:
            callback(session, outcome)
    for batch_callback in _AFTER_MERGES:
        batch_callback(session, outcomes)
    return outcomes


def _earlier_statement(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        pairs = "(SELECT unnest(CAST(:losers AS BIGINT[])) AS l, unnest(CAST(:survivors AS BIGINT[])) AS s)"
        returning = "RETURNING customer.id, customer.merged_into_id"
    else:
        pairs = "(SELECT json_extract(value, '$[0]') AS l, json_extract(value, '$[1]') AS s FROM json_each(:pairs))"
        returning = "RETURNING id, merged_into_id"
    return text(
        f"UPDATE customer SET merged_into_id = m.s FROM {pairs} AS m WHERE customer.merged_into_id = m.l {returning}"
    )


def _merge_consent(session: Session, pairs: Sequence[tuple[int, int, str]]) -> dict[int, list[dict[str, Any]]]:
    """Per survivor: the consent rows it took from its loser, with their values before (for undo)."""
    from rapport.customers.models import Consent

    t = table_of(Consent)
    ids = sorted({i for p in pairs for i in p[:2]})
    rows = session.execute(select(t).where(t.c.customer_id.in_(ids))).mappings().all()
    by_customer: dict[int, dict[str, Any]] = {}
    for r in rows:
        by_customer.setdefault(r["customer_id"], {})[r["channel"]] = r
    choices: dict[int, list[dict[str, Any]]] = {}
    updates = []
    for survivor_id, loser_id, _ in pairs:
        mine = by_customer.get(survivor_id, {})
        for channel, other in by_customer.get(loser_id, {}).items():
            own = mine.get(channel)
            if own is not None and other["recorded_at"] > own["recorded_at"]:
                choices.setdefault(survivor_id, []).append(
                    {
                        "id": own["id"],
                        "before": {
                            "granted": own["granted"],
                            "source": own["source"],
                            "recorded_at": own["recorded_at"].isoformat(),
                        },
                    }
                )
                updates.append(
                    {"_id": own["id"], "granted": other["granted"], "source": other["source"],
                     "recorded_at": other["recorded_at"]}
                )  # fmt: skip
    if updates:
        session.connection().execute(
            update(t)
            .where(t.c.id == bindparam("_id"))
            .values(granted=bindparam("granted"), source=bindparam("source"), recorded_at=bindparam("recorded_at")),
            updates,
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
    for batch_callback in _AFTER_MERGES:
        batch_callback(session, [outcome])
    return record


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
