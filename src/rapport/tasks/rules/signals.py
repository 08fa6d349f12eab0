"""What the client showed interest in: a wished-for item back in stock, a try-on, a run of strong signals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine
from rapport.customers.models import Customer, TimelineEntry, WishlistItem
from rapport.inventory.models import Location, StockLevel, StockSignal
from rapport.tasks.config import RuleSettings
from rapport.tasks.rules._common import (
    active,
    bought_style_since,
    day,
    lazily,
    not_cancelled,
    plural,
    product_label,
    scope,
)
from rapport.tasks.service import Candidate

# --- back in stock ------------------------------------------------------------------------------

#: The sweep looks at the signals of the last two days (the event path sees each one at once).
SIGNAL_LOOKBACK = timedelta(days=2)


def back_in_stock(
    session: Session,
    params: RuleSettings,
    *,
    now: datetime,
    customer_ids: Sequence[int] | None = None,
    signal_ids: Sequence[int] | None = None,
) -> Iterable[Candidate]:
    """An item on the client's wishlist came back at their home store, or online (a warehouse) if ``online``.

    Read from ``stock_signal`` (written with the count that went from none to some): the item was
    wished for before it came back, is still in stock there, and the client has not bought it
    since wishing for it. One task per client, product and day, however many locations it came
    back at. Urgent: an item back in stock does not wait for the cool-down.
    """
    s, w = StockSignal, WishlistItem
    where_ok = s.location_id == Customer.home_location_id
    if params["online"]:
        where_ok = or_(where_ok, Location.kind == "warehouse")
    bought = (
        select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.customer_id == w.customer_id,
            OrderLine.product_id == w.product_id,
            Order.placed_at >= w.added_at,
            not_cancelled(),
        )
        .exists()
    )
    stmt = (
        select(
            s.id,
            s.product_id,
            s.at,
            w.customer_id,
            Location.name,
            Location.kind,
            StockLevel.on_hand,
            Product.name,
            Product.size,
        )
        .join(w, w.product_id == s.product_id)
        .join(Customer, Customer.id == w.customer_id)
        .join(Location, Location.id == s.location_id)
        .join(Product, Product.id == s.product_id)
        .join(StockLevel, and_(StockLevel.product_id == s.product_id, StockLevel.location_id == s.location_id))
        .where(
            s.kind == "back_in_stock",
            s.at > now - SIGNAL_LOOKBACK,
            s.at <= now,
            w.added_at <= s.at,
            StockLevel.on_hand > 0,
            active(),
            where_ok,
            ~bought,
            *scope(session, w.customer_id, customer_ids),
        )
        .order_by(w.customer_id, s.product_id, s.at, s.id)
    )
    if signal_ids is not None:
        stmt = stmt.where(*scope(session, s.id, signal_ids))
    # One task per client, product and day: where it came back, the store first.
    grouped: dict[tuple[int, int, str], list[Any]] = defaultdict(list)
    for row in session.execute(stmt):
        grouped[(row[3], row[1], row[2].date().isoformat())].append(row)
    expires_after = timedelta(days=int(params["expires_after_days"]))

    def build(item: tuple[tuple[int, int, str], list[Any]]) -> Candidate:
        (cid, pid, on), found = item
        found.sort(key=lambda r: (r[5] != "store", r[0]))
        first = found[0]
        item_name = product_label(first[7], first[8])
        places = []
        for _sid, _pid, _at, _cid, loc_name, kind, on_hand, _n, _s in found:
            places.append(f"{loc_name} ({on_hand} in stock)" if kind == "store" else f"online ({on_hand} in stock)")
        return Candidate(
            customer_id=cid,
            type="back_in_stock",
            dedupe_key=f"back_in_stock:{pid}:{on}",
            title=f"Back in stock: {item_name}",
            reason=f"{item_name}, on their wishlist, is back in stock: {', '.join(dict.fromkeys(places))}",
            due_at=first[2],
            expires_at=first[2] + expires_after,
            facts={
                "product_id": pid,
                "signal_ids": [r[0] for r in found],
                "locations": [r[4] for r in found],
                "back_at": first[2].isoformat(),
            },
            product_id=pid,
            priority=3,
            intent=0.8,
            urgent=True,
        )

    return lazily(sorted(grouped.items()), build)


# --- try-on follow-up ---------------------------------------------------------------------------

#: A purchase rung up just before the try-on was logged (the store app lags the till) still counts.
_TILL_LAG = timedelta(hours=1)


def try_on_follow_up(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """Tried on in the last ``lookback_days`` days and did not buy it (nor anything of the same style) since.

    Due ``within_days`` days after the try-on. One task per client, style and day.
    """
    te = TimelineEntry
    lookback = timedelta(days=int(params["lookback_days"]))
    tried = aliased(Product)
    rows = session.execute(
        select(
            te.id,
            te.customer_id,
            te.occurred_at,
            te.data,
            tried.id,
            tried.name,
            tried.size,
            tried.style_code,
            Location.name,
        )
        .join(Customer, Customer.id == te.customer_id)
        .join(tried, tried.id == te.product_id)
        .outerjoin(Location, Location.id == te.location_id)
        .where(
            te.kind == "try_on",
            te.occurred_at > now - lookback,
            te.occurred_at <= now,
            active(),
            ~bought_style_since(session, te.customer_id, tried.style_code, te.occurred_at, _TILL_LAG),
            *scope(session, te.customer_id, customer_ids),
        )
        .order_by(te.customer_id, te.occurred_at, te.id)
    ).all()
    # The latest try-on of each style and day (two sizes of one coat are one follow-up).
    latest: dict[tuple[int, str, str], Any] = {}
    for row in rows:
        latest[(row[1], row[7], row[2].date().isoformat())] = row
    within = timedelta(days=int(params["within_days"]))

    def build(item: tuple[tuple[int, str, str], Any]) -> Candidate:
        (cid, style, on), row = item
        entry_id, _cid, when, data, pid, name, size, _style, store = row
        item_name = product_label(name, size)
        where = f" at {store}" if store else ""
        why = (data or {}).get("reason")
        reason = f"Tried on {item_name}{where} on {day(when)} and has not bought it"
        if isinstance(why, str) and why:
            reason += f" ({why.rstrip('.')})"
        return Candidate(
            customer_id=cid,
            type="try_on_follow_up",
            dedupe_key=f"try_on:{style}:{on}",
            title=f"Follow up on the {name or 'item'} try-on",
            reason=reason,
            due_at=when + within,
            expires_at=when + lookback,
            facts={"timeline_entry_id": entry_id, "product_id": pid, "style": style, "tried_on": when.isoformat()},
            product_id=pid,
            priority=2,
            intent=0.7,
        )

    return lazily(sorted(latest.items()), build)


# --- high intent --------------------------------------------------------------------------------

_VERBS = {
    "social_like": "liked", "social_comment": "commented on", "social_mention": "mentioned",
    "product_view": "viewed", "page_view": "browsed", "wishlist_add": "wished for", "cart_add": "added to a cart",
    "cart_abandoned": "left in a cart", "try_on": "tried on", "message": "wrote about",
    "appointment": "booked an appointment about",
}  # fmt: skip


@dataclass(frozen=True)
class _Signal:
    id: int
    kind: str
    at: datetime
    product_id: int | None
    style: str | None
    name: str | None


def find_sequence(signals: Sequence[_Signal], sequence: Sequence[str], window: timedelta) -> list[_Signal] | None:
    """The latest run of ``sequence`` (in that order) within ``window``, on one style when products are known.

    ``signals`` are one client's, oldest first. Matched backwards from each final step, latest
    first, taking the latest earlier signal for each step; a signal without a product (a like on
    a post) goes with any style.
    """
    finals = [i for i, s in enumerate(signals) if s.kind == sequence[-1]]
    for end in reversed(finals):
        last = signals[end]
        style = last.style
        chain = [last]
        step = len(sequence) - 2
        for s in reversed(signals[:end]):
            if step < 0:
                break
            if last.at - s.at > window:
                break
            if s.kind != sequence[step] or s.id == last.id:
                continue
            if style is not None and s.style is not None and s.style != style:
                continue
            chain.append(s)
            style = style or s.style
            step -= 1
        if step < 0:
            return list(reversed(chain))
    return None


def _describe(chain: Sequence[_Signal]) -> str:
    """'Liked the Camel wool coat (21 Nov), viewed it (22 Nov) and left it in a cart (22 Nov)'."""
    parts: list[str] = []
    named: str | None = None
    for s in chain:
        verb = _VERBS.get(s.kind, s.kind.replace("_", " "))
        if s.name is None:
            what = "something" if s.kind != "social_like" else "a post"
        elif s.name == named:
            what = "it"
        else:
            what = f"the {s.name}"
            named = s.name
        phrase = f"left {what} in a cart" if s.kind == "cart_abandoned" else f"{verb} {what}"
        if s.kind == "cart_add":
            phrase = f"added {what} to a cart"
        parts.append(f"{phrase} ({day(s.at)} {s.at:%H:%M})")
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return text[0].upper() + text[1:]


def high_intent(
    session: Session, params: RuleSettings, *, now: datetime, customer_ids: Sequence[int] | None = None
) -> Iterable[Candidate]:
    """The configured run of signals (default: a like, a view, an abandoned cart), in order, within ``window_hours``.

    One query for the clients' signals of those kinds over the window (plus the task's life, so a
    run completed while the process was down is still caught), matched per client in memory;
    then one query for purchases of the matched styles since (a client who bought is not a lead).
    """
    sequence = list(params["sequence"])
    window = timedelta(hours=float(params["window_hours"]))
    life = timedelta(days=int(params["expires_after_days"]))
    te = TimelineEntry
    rows = session.execute(
        select(te.id, te.customer_id, te.kind, te.occurred_at, te.product_id, Product.style_code, Product.name)
        .join(Customer, Customer.id == te.customer_id)
        .outerjoin(Product, Product.id == te.product_id)
        .where(
            te.kind.in_(set(sequence)),
            te.occurred_at > now - window - life,
            te.occurred_at <= now,
            active(),
            *scope(session, te.customer_id, customer_ids),
        )
        .order_by(te.customer_id, te.occurred_at, te.id)
    )
    by_client: dict[int, list[_Signal]] = defaultdict(list)
    for sid, cid, kind, when, pid, style, name in rows:
        by_client[cid].append(_Signal(sid, kind, when, pid, style, name))
    matches: list[tuple[int, list[_Signal]]] = []
    for cid, signals in by_client.items():
        chain = find_sequence(signals, sequence, window)
        if chain is not None and chain[-1].at + life > now:
            matches.append((cid, chain))
    if not matches:
        return []
    converted = _bought_styles_since(session, matches)
    hours = window.total_seconds() / 3600

    def build(match: tuple[int, list[_Signal]]) -> Candidate | None:
        cid, chain = match
        style = next((s.style for s in reversed(chain) if s.style), None)
        final = chain[-1]
        if style is not None and any(st == style and at >= chain[0].at for st, at in converted.get(cid, ())):
            return None
        product = next((s for s in reversed(chain) if s.product_id is not None), None)
        span = final.at - chain[0].at
        took = plural(max(round(span.total_seconds() / 3600), 1), "hour")
        title = f"Strong interest in the {product.name}" if product and product.name else "Strong buying signals"
        return Candidate(
            customer_id=cid,
            type="high_intent",
            dedupe_key=f"high_intent:{final.id}",
            title=title,
            reason=f"{_describe(chain)}, within {took}",
            due_at=final.at,
            expires_at=final.at + life,
            facts={
                "timeline_entry_ids": [s.id for s in chain],
                "style": style,
                "window_hours": hours,
            },
            product_id=product.product_id if product else None,
            priority=3,
            intent=0.9,
            urgent=True,
        )

    return lazily(sorted(matches, key=lambda m: m[0]), build)


def _bought_styles_since(session: Session, matches: list[tuple[int, list[_Signal]]]) -> dict[int, list[Any]]:
    since = min(chain[0].at for _, chain in matches)
    out: dict[int, list[Any]] = defaultdict(list)
    for cid, style, placed in session.execute(
        select(Order.customer_id, Product.style_code, func.max(Order.placed_at))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.placed_at >= since,
            not_cancelled(),
            *scope(session, Order.customer_id, [cid for cid, _ in matches]),
        )
        .group_by(Order.customer_id, Product.style_code)
    ):
        if cid is not None:
            out[cid].append((style, placed))
    return out
