"""Handing a client over to another store before a visit: "my client is in Paris on Friday".

The receiving store's team is notified with a short brief of the client (who they are, sizes,
what they buy, what they have their eye on) and the associate's note, so they can treat the
client the same way. The client stays in the sender's book; the handover is on the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit, notifications
from rapport.associates.models import Associate
from rapport.customers import timeline
from rapport.customers.edits import Editor, editable_client
from rapport.customers.read import client_360
from rapport.db import insert_for, table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.inventory.models import Location
from rapport.outreach.inbound import store_team
from rapport.outreach.models import Handover

HANDOVER = table_of(Handover)
LOCATION = table_of(Location)
ASSOCIATE = table_of(Associate)
NOTE_MAX = 2000
AHEAD_MAX_DAYS = 180


@dataclass(frozen=True)
class HandoverView:
    id: int
    customer_id: int
    from_associate_id: int
    from_name: str
    to_location_id: int
    to_location_name: str
    visit_on: date
    note: str
    created_at: datetime
    accepted_by_name: str | None
    notified: int  # how many people in the receiving store were told


def brief_lines(session: Session, customer_id: int) -> list[str]:
    """A few lines that let a stranger serve the client well (from the 360 read model)."""
    c = client_360(session, customer_id, timeline_limit=1)
    lines = []
    p = c.profile
    who = " ".join(x for x in (p.first_name, p.last_name) if x) or f"Client #{c.customer_id}"
    tier = f" · {p.tier}" if p.tier else ""
    lines.append(f"{who}{tier}")
    if c.kpis.order_count:
        spend = ", ".join(s.net.formatted for s in c.kpis.lifetime_spend) if c.kpis.lifetime_spend else ""
        lines.append(f"{c.kpis.order_count} orders{f' ({spend})' if spend else ''}")
    sizes = p.sizes or {}
    if sizes:
        lines.append("Sizes: " + ", ".join(f"{k} {v}" for k, v in sorted(sizes.items())))
    if c.kpis.favourite_brands:
        lines.append("Buys: " + ", ".join(f.name for f in c.kpis.favourite_brands[:3]))
    if c.wishlist:
        lines.append("Wishlist: " + ", ".join(w.product.name for w in c.wishlist[:3] if w.product))
    return lines


def hand_over(
    session: Session, editor: Editor, customer_id: int, *, to_location_id: int, visit_on: date, note: str | None
) -> HandoverView:
    """Introduce the client to another store's team before a visit (see the module docstring)."""
    cid = editable_client(session, editor, customer_id)
    text = (note or "").replace("\r\n", "\n").strip()
    errors = []
    if not text:
        errors.append(FieldError("note", "say why they are coming and how to look after them"))
    elif len(text) > NOTE_MAX:
        errors.append(FieldError("note", f"at most {NOTE_MAX} characters"))
    today = clock.now().date()
    if visit_on < today:
        errors.append(FieldError("visit_on", "the visit is in the past"))
    elif visit_on > today + timedelta(days=AHEAD_MAX_DAYS):
        errors.append(FieldError("visit_on", f"at most {AHEAD_MAX_DAYS} days ahead"))
    store = session.execute(
        select(LOCATION.c.id, LOCATION.c.name, LOCATION.c.kind).where(LOCATION.c.id == to_location_id)
    ).first()
    if store is None:
        errors.append(FieldError("to_location_id", f"store {to_location_id} not found"))
    elif store.kind != "store":
        errors.append(FieldError("to_location_id", f"{store.name} is not a store"))
    if errors:
        raise InvalidRecord(errors)
    assert store is not None
    sender_id = editor.actor.associate_id
    if sender_id is None:
        raise InvalidRecord.one("associate", "a handover is made by an associate")
    now = clock.now()
    handover_id = session.execute(
        insert_for(session, HANDOVER)
        .values(customer_id=cid, from_associate_id=sender_id, to_location_id=store.id, visit_on=visit_on,
                note=text, created_at=now)
        .returning(HANDOVER.c.id)
    ).scalar_one()  # fmt: skip
    lines = brief_lines(session, cid)
    when = f"{visit_on:%A %d %B}"
    team = [a for a in store_team(session, store.id) if a != sender_id]
    body = f"{editor.name}: “{text}”\n\n" + "\n".join(lines)
    notifications.notify_many(
        session,
        [
            notifications.Outgoing(a, "handover", f"{lines[0]} visits {store.name} on {when}", body[:2000],
                                   f"/clients/{cid}", cid)
            for a in team
        ],
    )  # fmt: skip
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid, kind="handover",
                summary=f"Handed over to {store.name} for a visit on {when} by {editor.name}: {text[:200]}",
                source="rapport.outreach", external_id=f"handover:{uuid.uuid4().hex}",
                occurred_at=now, recorded_at=now, location_id=store.id, actor_kind="associate", actor_id=sender_id,
                ref_type="handover", ref_id=handover_id, data={"visit_on": visit_on.isoformat()},
            )
        ],
    )  # fmt: skip
    audit.record_by(session, editor.audit_actor, "client.handed_over", customer_id=cid,
                    detail={"handover_id": handover_id, "to_location_id": store.id})  # fmt: skip
    return HandoverView(handover_id, cid, sender_id, editor.name, store.id, store.name, visit_on, text, now, None,
                        len(team))  # fmt: skip


def accept_handover(
    session: Session, handover_id: int, associate_id: int, *, store_ids: frozenset[int] | None = None
) -> None:
    """Someone in the receiving store takes the visit on (the others see who). ``store_ids``: the
    taker's stores, when the caller must belong to the receiving store."""
    row = session.execute(select(HANDOVER).where(HANDOVER.c.id == handover_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"handover {handover_id} not found")
    if store_ids is not None and row.to_location_id not in store_ids:
        raise PermissionDenied("only the receiving store's team takes a handed-over visit on")
    if row.accepted_by_id is not None and row.accepted_by_id != associate_id:
        raise Conflict("someone else in the store has already taken this visit on")
    session.execute(
        update(HANDOVER)
        .where(HANDOVER.c.id == handover_id)
        .values(accepted_by_id=associate_id, accepted_at=clock.now())
    )


def handovers_to(session: Session, store_ids: frozenset[int], *, from_day: date | None = None) -> list[HandoverView]:
    """Visits announced to these stores, from today on, soonest first."""
    if not store_ids:
        return []
    day = from_day or clock.now().date()
    sender = ASSOCIATE.alias("sender")
    taker = ASSOCIATE.alias("taker")
    rows = session.execute(
        select(HANDOVER, sender.c.display_name.label("from_name"), LOCATION.c.name.label("to_name"),
               taker.c.display_name.label("taker_name"))
        .join(sender, sender.c.id == HANDOVER.c.from_associate_id)
        .join(LOCATION, LOCATION.c.id == HANDOVER.c.to_location_id)
        .outerjoin(taker, taker.c.id == HANDOVER.c.accepted_by_id)
        .where(HANDOVER.c.to_location_id.in_(store_ids), HANDOVER.c.visit_on >= day)
        .order_by(HANDOVER.c.visit_on, HANDOVER.c.id)
        .limit(100)
    )  # fmt: skip
    return [
        HandoverView(r.id, r.customer_id, r.from_associate_id, r.from_name, r.to_location_id, r.to_name, r.visit_on,
                     r.note, r.created_at, r.taker_name, 0)
        for r in rows
    ]  # fmt: skip
