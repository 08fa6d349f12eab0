"""A client in one line: what a list needs to show to pick the right person (home, duplicates, feeds).

One statement reads the clients, one more per merge followed, one their last purchases; and
a merged-away id is answered with its survivor, so a link kept from before a merge still opens the
right record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rapport.commerce.models import Order
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.inventory.models import Location

CUSTOMER = table_of(Customer)
ORDER = table_of(Order)
LOCATION = table_of(Location)
#: How many merges a kept id is followed through (a chain is one or two long in practice).
MAX_HOPS = 5


@dataclass(frozen=True)
class ClientCard:
    id: int
    name: str
    initials: str
    city: str | None
    country: str | None
    tier: str | None
    home_store: str | None
    assigned_associate_id: int | None
    last_purchase_at: datetime | None


def initials(first: str | None, last: str | None) -> str:
    letters = [p.strip()[0] for p in (first, last) if p and p.strip()]
    return "".join(letters).upper()[:2] or "?"


def client_cards(session: Session, ids: Iterable[int]) -> dict[int, ClientCard]:
    """``{asked id: card}`` for the clients that exist; a merged-away id maps to its survivor's card."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    survivor = {i: i for i in wanted}
    rows: dict[int, Any] = {}
    pending = set(wanted)
    for _ in range(MAX_HOPS):
        if not pending:
            break
        found = _rows(session, sorted(pending))
        rows.update(found)
        forward = {cid: r.merged_into_id for cid, r in found.items() if r.merged_into_id is not None}
        for asked, current in survivor.items():
            if current in forward:
                survivor[asked] = forward[current]
        pending = {t for t in forward.values() if t not in rows}
    last = _last_purchases(session, sorted({s for s in survivor.values() if s in rows}))
    out = {}
    for asked, cid in survivor.items():
        r = rows.get(cid)
        if r is None or r.merged_into_id is not None or r.status != "active":
            continue
        first, last_name = r.first_name, r.last_name
        out[asked] = ClientCard(
            id=cid,
            name=" ".join(p for p in (first, last_name) if p) or f"Client #{cid}",
            initials=initials(first, last_name),
            city=r.city,
            country=r.country,
            tier=r.tier,
            home_store=r.home_store,
            assigned_associate_id=r.assigned_associate_id,
            last_purchase_at=last.get(cid),
        )
    return out


def _rows(session: Session, ids: list[int]) -> dict[int, Any]:
    c, loc = CUSTOMER, LOCATION
    stmt = (
        select(
            c.c.id,
            c.c.first_name,
            c.c.last_name,
            c.c.city,
            c.c.country,
            c.c.tier,
            c.c.status,
            c.c.merged_into_id,
            c.c.assigned_associate_id,
            loc.c.name.label("home_store"),
        )
        .select_from(c.outerjoin(loc, loc.c.id == c.c.home_location_id))
        .where(c.c.id.in_(ids))
    )
    return {r.id: r for r in session.execute(stmt)}


def _last_purchases(session: Session, ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    o = ORDER.c
    stmt = (
        select(o.customer_id, func.max(o.placed_at))
        .where(o.customer_id.in_(ids), o.status != "cancelled")
        .group_by(o.customer_id)
    )
    return {cid: at for cid, at in session.execute(stmt)}
