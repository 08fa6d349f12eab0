"""Reference data from other systems: products, locations, associates and stock counts.

Each is an upsert on its natural key (SKU, location code, associate code, SKU x location):
new rows are inserted, changed rows updated, identical ones reported unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.db import insert_for, table_of
from rapport.ingest import lookups
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import (
    AssociateRecord,
    LocationRecord,
    ProductRecord,
    StockAdjustmentRecord,
    StockRecord,
)
from rapport.inventory import stock
from rapport.inventory.models import Location, StockLevel
from rapport.money import to_minor


def _upsert_by_key(
    session: Session,
    table: Table,
    key: str,
    rows: list[tuple[int, dict[str, Any]]],
    outcomes: dict[int, Outcome],
) -> None:
    """Insert or update ``rows`` (index, values) on the unique column ``key``; fill in outcomes."""
    if not rows:
        return
    compare = [c for c in rows[0][1] if c != key]
    keys = list(dict.fromkeys(values[key] for _, values in rows))
    existing: dict[Any, dict[str, Any]] = {}
    for i in range(0, len(keys), 900):
        for row in session.execute(select(table).where(table.c[key].in_(keys[i : i + 900]))).mappings():
            existing[row[key]] = dict(row)
    now = clock.now()
    latest: dict[Any, dict[str, Any]] = {}
    for index, values in rows:  # a key repeated in one batch: the last record wins
        before = latest.get(values[key]) or existing.get(values[key])
        if before is None:
            outcomes[index] = Outcome("created")
        elif any(before.get(c) != values[c] for c in compare):
            outcomes[index] = Outcome("updated")
        else:
            outcomes[index] = Outcome("unchanged")
        latest[values[key]] = {**(before or {}), **values}
    # Only the record's own columns are written: rows built on stored ones carry more keys (the id...),
    # and one executemany needs the same keys in every row.
    to_write = [
        {
            **{c: values[c] for c in rows[0][1]},
            "updated_at": now,
            "created_at": (existing.get(k) or {}).get("created_at", now),
        }
        for k, values in latest.items()
        if existing.get(k) is None or any(existing[k].get(c) != values[c] for c in compare)
    ]
    if "updated_at" not in table.c:
        to_write = [{k: v for k, v in r.items() if k in table.c} for r in to_write]
    if to_write:
        stmt = insert_for(session, table)
        update_cols = [c for c in to_write[0] if c not in (key, "created_at", "id")]
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_={c: stmt.excluded[c] for c in update_cols})
        session.execute(stmt, to_write)
    ids = (
        dict(session.execute(select(table.c[key], table.c.id).where(table.c[key].in_(keys))).all())
        if len(keys) <= 900
        else _ids_chunked(session, table, key, keys)
    )
    for index, values in rows:
        outcomes[index].id = ids[values[key]]


def _ids_chunked(session: Session, table: Table, key: str, keys: list[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for i in range(0, len(keys), 900):
        out.update(session.execute(select(table.c[key], table.c.id).where(table.c[key].in_(keys[i : i + 900]))).all())
    return out


def upsert_products(session: Session, items: Sequence[tuple[int, ProductRecord]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    rows = []
    for index, r in items:
        try:
            price = to_minor(r.price, r.currency)
        except ValueError as exc:
            outcomes[index] = Outcome.rejected("price", str(exc))
            continue
        rows.append((index, {
            "sku": r.sku, "style_code": r.style_code or r.sku, "name": r.name, "brand": r.brand,
            "category": r.category, "colour": r.colour, "size": r.size, "price_minor": price,
            "currency": r.currency, "image_url": r.image_url, "replenishment_days": r.replenishment_days,
            "active": r.active,
        }))  # fmt: skip
    _upsert_by_key(session, table_of(Product), "sku", rows, outcomes)
    return outcomes


def upsert_locations(session: Session, items: Sequence[tuple[int, LocationRecord]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    rows = []
    for index, r in items:
        values = r.model_dump()
        if values["fulfils_online"] is None:
            values["fulfils_online"] = r.kind == "warehouse"
        if values["accepts_pickup"] is None:
            values["accepts_pickup"] = r.kind == "store"
        rows.append((index, values))
    _upsert_by_key(session, table_of(Location), "code", rows, outcomes)
    return outcomes


def upsert_associates(session: Session, items: Sequence[tuple[int, AssociateRecord]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    stores = lookups.location_ids(session, (r.home_store for _, r in items))
    emails = [r.email for _, r in items]
    taken = dict(session.execute(select(Associate.email, Associate.code).where(Associate.email.in_(emails))).all())
    seen_email: dict[str, str] = {}
    rows = []
    for index, r in items:
        if r.home_store and r.home_store not in stores:
            outcomes[index] = Outcome.rejected("home_store", f"unknown location {r.home_store!r}")
            continue
        owner = seen_email.get(r.email) or taken.get(r.email)
        if owner is not None and owner != r.code:
            outcomes[index] = Outcome.rejected("email", f"{r.email} already belongs to associate {owner}")
            continue
        seen_email[r.email] = r.code
        rows.append((index, {
            "code": r.code, "email": r.email, "display_name": r.display_name, "role": r.role,
            "home_location_id": stores.get(r.home_store) if r.home_store else None,
            "regions": r.regions, "active": r.active,
        }))  # fmt: skip
    _upsert_by_key(session, table_of(Associate), "code", rows, outcomes)
    return outcomes


def set_stock_levels(session: Session, items: Sequence[tuple[int, StockRecord]]) -> dict[int, Outcome]:
    """Absolute counts. A count older than the one already stored is ignored (reported unchanged).

    Reservations stand: a recount changes what is on hand, not what is promised. A count that
    makes the row able to promise again (none to some) is a back-in-stock signal.
    """
    outcomes: dict[int, Outcome] = {}
    products = lookups.products_by_sku(session, (r.sku for _, r in items))
    locations = lookups.location_ids(session, (r.location for _, r in items))
    t = table_of(StockLevel)
    wanted: list[tuple[int, StockRecord, int, int]] = []
    for index, r in items:
        if r.sku not in products:
            outcomes[index] = Outcome.rejected("sku", f"unknown product {r.sku!r}")
        elif r.location not in locations:
            outcomes[index] = Outcome.rejected("location", f"unknown location {r.location!r}")
        else:
            wanted.append((index, r, products[r.sku][0], locations[r.location]))
    current = {key: (row.id, row.on_hand, row.updated_at, row.reserved, row.safety_stock)
               for key, row in stock.counted_rows(session, [w[2] for w in wanted]).items()}  # fmt: skip
    now = clock.now()
    writes: dict[tuple[int, int], dict[str, Any]] = {}
    first: dict[tuple[int, int], int] = {}  # what the row could promise before this batch (a first count: none)
    for index, r, pid, lid in wanted:
        at = r.counted_at or now
        key = (pid, lid)
        before = current.get(key)
        safety = r.safety_stock if r.safety_stock is not None else (before[4] if before else 0)
        if before is not None and (before[2] > at or (before[1] == r.on_hand and before[4] == safety)):
            outcomes[index] = Outcome("unchanged", before[0])
            continue
        outcomes[index] = Outcome("created" if before is None else "updated")
        reserved = before[3] if before else 0
        if key not in first and key not in writes:
            # a first count is a baseline, not a comeback: it never signals
            first[key] = (before[1] - before[3] - before[4]) if before else 1 << 30
        writes[key] = {"product_id": pid, "location_id": lid, "on_hand": r.on_hand, "safety_stock": safety,
                       "reserved": reserved, "updated_at": at}  # fmt: skip
        current[key] = (before[0] if before else 0, r.on_hand, at, reserved, safety)
    if writes:
        stmt = insert_for(session, t)
        stmt = stmt.on_conflict_do_update(
            index_elements=["product_id", "location_id"],
            set_={"on_hand": stmt.excluded.on_hand, "safety_stock": stmt.excluded.safety_stock,
                  "updated_at": stmt.excluded.updated_at},
            # decided again on the row as it is now: an older count racing a newer one never overwrites it
            where=t.c.updated_at <= stmt.excluded.updated_at,
        )  # fmt: skip
        session.execute(stmt, list(writes.values()))
        ids = {key: row.id for key, row in stock.counted_rows(session, [k[0] for k in writes]).items()}
        for index, _r, pid, lid in wanted:
            if outcomes[index].id is None:
                outcomes[index].id = ids[(pid, lid)]
    stock.signal_back_in_stock(
        session,
        [
            (key, first[key], w["on_hand"] - w["reserved"] - w["safety_stock"], w["on_hand"])
            for key, w in writes.items()
        ],
        at={key: w["updated_at"] for key, w in writes.items()},
    )
    return outcomes


def adjust_stock(session: Session, items: Sequence[tuple[int, StockAdjustmentRecord]]) -> dict[int, Outcome]:
    """Deltas to units on hand, each applied once per (source, id): a replay is reported unchanged."""
    outcomes: dict[int, Outcome] = {}
    products = lookups.products_by_sku(session, (r.sku for _, r in items))
    locations = lookups.location_ids(session, (r.location for _, r in items))
    now = clock.now()
    accepted: list[tuple[int, stock.Delta]] = []
    for index, r in items:
        if r.sku not in products:
            outcomes[index] = Outcome.rejected("sku", f"unknown product {r.sku!r}")
        elif r.location not in locations:
            outcomes[index] = Outcome.rejected("location", f"unknown location {r.location!r}")
        else:
            accepted.append((index, stock.Delta(
                products[r.sku][0], locations[r.location], r.delta, r.reason, r.source, r.id, r.at or now, r.note,
            )))  # fmt: skip
    applied = stock.adjust(session, [d for _, d in accepted])
    for (index, _d), done in zip(accepted, applied, strict=True):
        outcomes[index] = Outcome("created" if done else "unchanged")
    return outcomes
