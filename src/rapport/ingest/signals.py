"""Signals from the web, social, the store floor and conversations, onto the client's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers import timeline
from rapport.customers.models import Note, TimelineEntry, WishlistItem
from rapport.db import bulk_insert, insert_for, one_of, table_of
from rapport.identity.resolve import Key, Resolver, email_key, external_key
from rapport.ingest import lookups
from rapport.ingest.customers import FieldIdentifierError, claims_for_ref, stub_profile
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import EventRecord

TL = table_of(TimelineEntry)

_VERBS = {
    "page_view": "Viewed a page", "product_view": "Viewed", "wishlist_add": "Added to wishlist",
    "wishlist_remove": "Removed from wishlist", "cart_add": "Added to cart", "cart_abandoned": "Left a cart",
    "social_like": "Liked", "social_comment": "Commented on", "social_mention": "Mentioned the brand",
    "try_on": "Tried on", "message": "Message", "appointment": "Appointment", "note": "Note",
}  # fmt: skip
_DEFAULT_CHANNEL = {"social_like": "social", "social_comment": "social", "social_mention": "social",
                    "try_on": "store", "page_view": "online", "product_view": "online",
                    "wishlist_add": "online", "wishlist_remove": "online", "cart_add": "online",
                    "cart_abandoned": "online"}  # fmt: skip


def _ref_keys(ref: Any, default_source: str) -> list[Key] | None:
    """The identifier keys of a reference that needs no phone parsing (None: take the full path)."""
    if ref.phone:
        return None
    keys = []
    if ref.id:
        keys.append(external_key(ref.source or default_source, ref.id))
    if ref.email:
        keys.append(email_key(ref.email))
    return keys


def record_events(session: Session, items: Sequence[tuple[int, EventRecord]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    products = lookups.products_by_sku(session, (r.sku for _, r in items))
    stores = lookups.location_ids(session, (r.store for _, r in items))
    associates = lookups.associate_ids(session, (r.associate for _, r in items))
    keys = [(r.source, r.effective_id()) for _, r in items]
    seen = timeline.recorded(session, keys)

    resolver = Resolver(session)
    todo: list[tuple[int, EventRecord, str]] = []
    ref_keys: dict[int, list[Key] | None] = {}
    for (index, r), (source, ext) in zip(items, keys, strict=True):
        if (source, ext) in seen:
            outcomes[index] = Outcome("unchanged")
            continue
        if r.sku and r.sku not in products:
            outcomes[index] = Outcome.rejected("sku", f"unknown product {r.sku!r}")
        elif r.store and r.store not in stores:
            outcomes[index] = Outcome.rejected("store", f"unknown location {r.store!r}")
        elif r.associate and r.associate not in associates:
            outcomes[index] = Outcome.rejected("associate", f"unknown associate {r.associate!r}")
        else:
            seen.add((source, ext))
            todo.append((index, r, ext))
            ref_keys[index] = _ref_keys(r.customer, r.source)
    resolver.prefetch((k for found in ref_keys.values() if found for k in found), verified_emails=False)
    resolver.take_turns_if_new(k for found in ref_keys.values() if found for k in found)

    # Most events name a client Rapport already knows, by identifiers that all point at them:
    # that client it is, with no resolution to stage. Anything else (a new client, identifiers
    # of two clients, a phone to parse) goes through the resolver, in file order.
    owner = resolver.owner
    target: dict[int, int] = {}
    for index, r, _ in todo:
        found = ref_keys[index]
        if found:
            first = owner.get(found[0])
            if first is not None and first > 0 and all(owner.get(k) == first for k in found[1:]):
                target[index] = first
                continue
        try:
            claims = claims_for_ref(r.customer, r.source)
        except FieldIdentifierError as exc:
            outcomes[index] = Outcome.rejected(exc.field, exc.message)
            continue
        res = resolver.resolve(
            claims,
            source=r.source,
            profile=stub_profile(r.customer),
            reason=f"{r.source} {r.type} shares an identifier",
        )
        assert res is not None
        target[index] = res.customer_id
    mapping = resolver.flush()

    product_names = _product_names(session, [products[r.sku][0] for _, r, _ in todo if r.sku])
    entries, notes = [], []
    wish_add: list[dict[str, Any]] = []
    wish_remove: list[tuple[int, int, Any]] = []
    now = clock.now()
    for index, r, ext in todo:
        if index not in target:
            continue  # refused above
        cid = target[index]
        if cid < 0 or cid in mapping:
            cid = mapping.get(cid, cid)
        pid = products[r.sku][0] if r.sku else None
        aid = associates.get(r.associate) if r.associate else None
        summary = r.summary
        if not summary:
            what = product_names.get(pid, r.sku) if pid else None
            summary = f"{_VERBS[r.type]} {what}" if what else _VERBS[r.type]
        entries.append({
            "customer_id": cid, "kind": r.type, "summary": summary[:500], "source": r.source,
            "external_id": ext[:200], "occurred_at": r.occurred_at, "recorded_at": now,
            "channel": r.channel or _DEFAULT_CHANNEL.get(r.type),
            "location_id": stores.get(r.store) if r.store else None,
            "actor_kind": "associate" if aid else "customer", "actor_id": aid, "product_id": pid,
            "ref_type": None, "ref_id": None, "data": r.data,
        })  # fmt: skip
        if r.type == "wishlist_add" and pid:
            wish_add.append({"customer_id": cid, "product_id": pid, "added_at": r.occurred_at, "source": r.source})
        elif r.type == "wishlist_remove" and pid:
            wish_remove.append((cid, pid, r.occurred_at))
        elif r.type == "note":
            body = str(r.data.get("text") or r.summary or "").strip()
            if body:
                notes.append(
                    {
                        "customer_id": cid,
                        "author_associate_id": aid,
                        "body": body[:5000],
                        "source": r.source,
                        "created_at": r.occurred_at,
                    }
                )
        outcomes[index] = Outcome("created", cid)
    timeline.append(session, entries, checked=True)  # `seen` above is this batch's check
    _add_to_wishlists(session, wish_add)
    w = table_of(WishlistItem)
    for cid, pid, at in wish_remove:  # only a removal newer than the addition counts
        session.execute(delete(w).where(w.c.customer_id == cid, w.c.product_id == pid, w.c.added_at <= at))
    if notes:
        bulk_insert(session, table_of(Note), notes)
    return outcomes


_WISHLIST_FROM_ARRAYS = text(
    "INSERT INTO wishlist_item (customer_id, product_id, added_at, source) "
    "SELECT * FROM unnest(CAST(:c AS BIGINT[]), CAST(:p AS BIGINT[]), CAST(:a AS TIMESTAMPTZ[]), CAST(:s AS TEXT[])) "
    "ON CONFLICT (customer_id, product_id) DO NOTHING"
)


def _add_to_wishlists(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add items to wishlists; an item already there keeps its first date.

    PostgreSQL: one statement over arrays (an executemany of the upsert cost ~45 µs an item);
    SQLite's in-process executemany is already that cheap.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        columns = {"c": "customer_id", "p": "product_id", "a": "added_at", "s": "source"}
        session.execute(_WISHLIST_FROM_ARRAYS, {k: [r[c] for r in rows] for k, c in columns.items()})
        return
    stmt = insert_for(session, table_of(WishlistItem)).on_conflict_do_nothing(
        index_elements=["customer_id", "product_id"]
    )
    session.execute(stmt, rows)


def _product_names(session: Session, ids: list[int]) -> dict[int, str]:
    from rapport.catalog.models import Product

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(Product.id, Product.name).where(one_of(session, Product.id, wanted)))
    return {pid: name for pid, name in rows}
