"""Orders from every channel and returns against the line they give back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers import timeline
from rapport.db import allocate_ids, bulk_insert, table_of
from rapport.identity.resolve import Claim, Resolver
from rapport.ingest import lookups
from rapport.ingest.customers import FieldIdentifierError, claims_for_ref, stub_profile
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import CustomerRef, OrderRecord, ReturnRecord
from rapport.inventory import holds
from rapport.money import MoneyError, format_money, to_minor

ORDER, LINE = table_of(Order), table_of(OrderLine)
RETURN, RETURN_LINE = table_of(Return), table_of(ReturnLine)


def _ref_claims(ref: CustomerRef | None, source: str) -> list[Claim]:
    return [] if ref is None or ref.is_anonymous else claims_for_ref(ref, source)


def _resolve(resolver: Resolver, ref: CustomerRef | None, claims: list[Claim], source: str) -> int | None:
    if ref is None or not claims:
        return None  # a guest nobody can recognise: kept without a client
    res = resolver.resolve(
        claims, source=source, profile=stub_profile(ref), reason=f"{source} order shares an identifier"
    )
    return None if res is None else res.customer_id


@dataclass
class _Priced:
    lines: list[dict[str, Any]]
    subtotal: int
    discount: int
    tax: int
    shipping: int
    total: int


def _price(r: OrderRecord, products: dict[str, tuple[int, int, str]]) -> _Priced:
    """Amounts in minor units; raises FieldIdentifierError naming the field."""
    lines: list[dict[str, Any]] = []
    try:
        for n, line in enumerate(r.lines):
            unit = to_minor(line.unit_price, r.currency)
            disc = to_minor(line.discount, r.currency)
            total = unit * line.quantity - disc
            if total < 0:
                raise FieldIdentifierError(f"lines.{n}.discount", "discount is larger than the line's price")
            lines.append({
                "line_ref": line.id or str(n + 1), "product_id": products[line.sku][0], "quantity": line.quantity,
                "unit_price_minor": unit, "discount_minor": disc, "total_minor": total,
            })  # fmt: skip
        subtotal = sum(int(x["total_minor"]) for x in lines)
        discount = to_minor(r.discount, r.currency)
        tax, shipping = to_minor(r.tax, r.currency), to_minor(r.shipping, r.currency)
        total = to_minor(r.total, r.currency) if r.total is not None else subtotal - discount + tax + shipping
    except MoneyError as exc:
        raise FieldIdentifierError("currency", str(exc)) from None
    if total < 0:
        raise FieldIdentifierError("discount", "order discount is larger than the order")
    return _Priced(lines, subtotal, discount, tax, shipping, total)


def upsert_orders(session: Session, items: Sequence[tuple[int, OrderRecord]]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    products = lookups.products_by_sku(session, (line.sku for _, r in items for line in r.lines))
    stores = lookups.location_ids(session, (s for _, r in items for s in (r.store, r.pickup_store)))
    associates = lookups.associate_ids(session, (r.associate for _, r in items))
    existing = _existing_orders(session, [(r.source, r.id) for _, r in items])

    priced: dict[int, _Priced] = {}
    claims: dict[int, list[Claim]] = {}
    for index, r in items:
        unknown = next((n for n, line in enumerate(r.lines) if line.sku not in products), None)
        if unknown is not None:
            outcomes[index] = Outcome.rejected(f"lines.{unknown}.sku", f"unknown product {r.lines[unknown].sku!r}")
        elif r.store and r.store not in stores:
            outcomes[index] = Outcome.rejected("store", f"unknown location {r.store!r}")
        elif r.pickup_store and r.pickup_store not in stores:
            outcomes[index] = Outcome.rejected("pickup_store", f"unknown location {r.pickup_store!r}")
        elif r.associate and r.associate not in associates:
            outcomes[index] = Outcome.rejected("associate", f"unknown associate {r.associate!r}")
        else:
            try:
                priced[index] = _price(r, products)
                claims[index] = _ref_claims(r.customer, r.source)
            except FieldIdentifierError as exc:
                outcomes[index] = Outcome.rejected(exc.field, exc.message)

    resolver = Resolver(session)
    good = [(i, r) for i, r in items if i not in outcomes]
    keys = [c.key for i, r in good if (r.source, r.id) not in existing for c in claims[i]]
    resolver.prefetch(c.key for i, _ in good for c in claims[i])
    resolver.take_turns_if_new(keys)
    customer: dict[int, int | None] = {}
    for index, r in good:
        known = existing.get((r.source, r.id))
        if known is not None and known["customer_id"] is not None:
            customer[index] = known["customer_id"]
        else:
            customer[index] = _resolve(resolver, r.customer, claims[index], r.source)
    mapping = resolver.flush()

    now = clock.now()
    new: dict[tuple[str, str], tuple[int, OrderRecord, dict[str, Any]]] = {}
    entries: list[dict[str, Any]] = []
    for index, r in good:
        p = priced[index]
        cid = customer[index]
        cid = mapping.get(cid, cid) if cid is not None else None
        row = {
            "source": r.source, "external_id": r.id, "order_number": r.order_number, "customer_id": cid,
            "channel": r.channel, "location_id": stores.get(r.store) if r.store else None,
            "associate_id": associates.get(r.associate) if r.associate else None, "currency": r.currency,
            "subtotal_minor": p.subtotal, "discount_minor": p.discount, "tax_minor": p.tax,
            "shipping_minor": p.shipping, "total_minor": p.total, "status": r.status, "placed_at": r.placed_at,
            "source_updated_at": r.updated_at,
        }  # fmt: skip
        known = existing.get((r.source, r.id))
        if known is None:
            if (r.source, r.id) in new:  # the same order twice in one batch: the later wins
                outcomes[new[(r.source, r.id)][0]] = Outcome("unchanged")
            new[(r.source, r.id)] = (index, r, row)
            continue
        outcomes[index] = _update_order(session, known, row, p, r, now, entries)

    if new:
        ids = allocate_ids(session, ORDER, len(new))
        rows = [
            {**row, "id": id_, "created_at": now, "updated_at": now}
            for (_, _, row), id_ in zip(new.values(), ids, strict=True)
        ]
        bulk_insert(session, ORDER, rows)
        line_rows: list[dict[str, Any]] = []
        for (index, r, row), order_id in zip(new.values(), ids, strict=True):
            outcomes[index] = Outcome("created", order_id)
            p = priced[index]
            line_rows.extend({**line, "order_id": order_id} for line in p.lines)
            if row["customer_id"] is not None:
                entries.append(_order_entry(r, row, order_id, p, products))
                if r.status == "cancelled":
                    entries.append(_cancel_entry(r, row, order_id, now))
        bulk_insert(session, LINE, line_rows)
        _link_waiting_returns(session, {key: order_id for key, order_id in zip(new, ids, strict=True)})
        _after_new_orders(session, list(new.values()), ids, stores)
    for index, _r in good:
        if outcomes.get(index) is None:
            outcomes[index] = Outcome("unchanged")
    timeline.append(session, entries)
    return outcomes


def _after_new_orders(
    session: Session, new: list[tuple[int, OrderRecord, dict[str, Any]]], ids: list[int], stores: dict[str, int]
) -> None:
    """What a new order means for stock: a client buying what was set aside for them at that store
    converts the hold; a click-and-collect order is allocated at its pickup store."""
    at_store = [
        (row["customer_id"], id_)
        for (_, r, row), id_ in zip(new, ids, strict=True)
        if row["location_id"] is not None and row["customer_id"] is not None and r.status == "placed"
    ]
    if at_store and holds.any_active_for(session, [c for c, _ in at_store]):
        holds.convert_for_orders(session, [o for _, o in at_store])
    pickups = [
        (id_, stores[r.pickup_store])
        for (_, r, _row), id_ in zip(new, ids, strict=True)
        if r.pickup_store and r.status == "placed"
    ]
    if pickups:
        from rapport.inventory import fulfilment

        fulfilment.plan_pickups(session, pickups)


def _link_waiting_returns(session: Session, orders: dict[tuple[str, str], int]) -> None:
    """Returns that arrived before their order (a webhook retried late) are linked once it lands."""
    waiting: list[dict[str, Any]] = []
    keys = list(orders)
    for i in range(0, len(keys), 500):
        waiting.extend(
            dict(r)
            for r in session.execute(
                select(RETURN).where(
                    RETURN.c.unlinked.is_(True),
                    tuple_(RETURN.c.original_order_source, RETURN.c.original_order_ref).in_(keys[i : i + 500]),
                )
            ).mappings()
        )
    for ret in waiting:
        order_id = orders[(ret["original_order_source"], ret["original_order_ref"])]
        order_lines = [dict(x) for x in session.execute(select(LINE).where(LINE.c.order_id == order_id)).mappings()]
        ret_lines = [
            dict(x) for x in session.execute(select(RETURN_LINE).where(RETURN_LINE.c.return_id == ret["id"])).mappings()
        ]
        left = {x["id"]: x["quantity"] for x in order_lines}
        links: list[tuple[int, int]] = []
        for rl in ret_lines:
            match = next(
                (x for x in order_lines if x["product_id"] == rl["product_id"] and left[x["id"]] >= rl["quantity"]),
                None,
            )
            if match is None:
                break
            left[match["id"]] -= rl["quantity"]
            links.append((rl["id"], match["id"]))
        if len(links) != len(ret_lines):
            continue  # does not fit the order: stays flagged for a person to look at
        for return_line_id, order_line_id in links:
            session.execute(
                update(RETURN_LINE).where(RETURN_LINE.c.id == return_line_id).values(order_line_id=order_line_id)
            )
        customer_id = session.scalar(select(ORDER.c.customer_id).where(ORDER.c.id == order_id))
        session.execute(
            update(RETURN)
            .where(RETURN.c.id == ret["id"])
            .values(order_id=order_id, unlinked=False, customer_id=ret["customer_id"] or customer_id)
        )


def _existing_orders(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    keys = list(dict.fromkeys(keys))
    for i in range(0, len(keys), 500):
        for row in session.execute(
            select(ORDER).where(tuple_(ORDER.c.source, ORDER.c.external_id).in_(keys[i : i + 500]))
        ).mappings():
            found[(row["source"], row["external_id"])] = dict(row)
    return found


def _update_order(
    session: Session,
    known: dict[str, Any],
    row: dict[str, Any],
    p: _Priced,
    r: OrderRecord,
    now: Any,
    entries: list[dict[str, Any]],
) -> Outcome:
    order_id = known["id"]
    stored_at = known["source_updated_at"]
    if r.updated_at is not None and stored_at is not None and r.updated_at < stored_at:
        return Outcome("unchanged", order_id, warnings=[f"stale: a version from {stored_at.isoformat()} is stored"])
    if r.updated_at is None:
        row = {**row, "source_updated_at": stored_at}
    changes = {k: v for k, v in row.items() if k not in ("source", "external_id") and known[k] != v}
    if known["status"] == "cancelled" and r.status == "placed":
        changes.pop("status", None)  # a late 'placed' replay never revives a cancelled order
    current = {ln.line_ref: ln for ln in session.execute(select(LINE).where(LINE.c.order_id == order_id))}
    line_changes = 0
    for line in p.lines:
        had = current.get(line["line_ref"])
        if had is None:
            session.execute(insert(LINE).values(**line, order_id=order_id))
            line_changes += 1
        elif any(getattr(had, k) != v for k, v in line.items()):
            session.execute(update(LINE).where(LINE.c.id == had.id).values(**line))
            line_changes += 1
    if not changes and not line_changes:
        return Outcome("unchanged", order_id)
    if changes:
        session.execute(update(ORDER).where(ORDER.c.id == order_id).values(**changes, updated_at=now))
    if changes.get("status") == "cancelled":
        from rapport.inventory import fulfilment

        fulfilment.cancel_for_orders(session, [order_id])  # what was allocated for it goes back to stock
    cid = row["customer_id"] or known["customer_id"]
    if changes.get("status") == "cancelled" and cid is not None:
        entries.append(_cancel_entry(r, {**row, "customer_id": cid}, order_id, now))
    return Outcome("updated", order_id)


def _order_entry(
    r: OrderRecord, row: dict[str, Any], order_id: int, p: _Priced, products: dict[str, tuple[int, int, str]]
) -> dict[str, Any]:
    units = sum(line.quantity for line in r.lines)
    where = "online" if r.channel == "online" else f"in {r.channel}" if r.channel != "store" else "in store"
    return timeline.entry(
        customer_id=row["customer_id"], kind="order", channel=r.channel, occurred_at=r.placed_at,
        source=r.source, external_id=f"order:{r.id}", location_id=row["location_id"],
        actor_kind="associate" if row["associate_id"] else "customer", actor_id=row["associate_id"],
        ref_type="order", ref_id=order_id,
        summary=f"Bought {units} item{'s' if units != 1 else ''} {where} — {format_money(p.total, r.currency)}",
        data={"order_number": r.order_number, "skus": [line.sku for line in r.lines], "total_minor": p.total,
              "currency": r.currency},
    )  # fmt: skip


def _cancel_entry(r: OrderRecord, row: dict[str, Any], order_id: int, now: Any) -> dict[str, Any]:
    return timeline.entry(
        customer_id=row["customer_id"], kind="order_cancelled", channel=r.channel, occurred_at=now,
        source=r.source, external_id=f"order-cancelled:{r.id}", ref_type="order", ref_id=order_id,
        summary=f"Order {r.order_number or r.id} cancelled",
    )  # fmt: skip


# -- returns ---------------------------------------------------------------------------------


def record_returns(session: Session, items: Sequence[tuple[int, ReturnRecord]]) -> dict[int, Outcome]:
    """Returns are facts: recorded once, never edited. Linked to the original order line when known."""
    outcomes: dict[int, Outcome] = {}
    stores = lookups.location_ids(session, (r.store for _, r in items))
    products = lookups.products_by_sku(session, (line.sku for _, r in items for line in r.lines))
    associates = lookups.associate_ids(session, (r.associate for _, r in items))
    already = {
        (s, e): id_
        for s, e, id_ in session.execute(
            select(RETURN.c.source, RETURN.c.external_id, RETURN.c.id).where(
                tuple_(RETURN.c.source, RETURN.c.external_id).in_([(r.source, r.id) for _, r in items])
            )
        )
    }
    order_keys = [((r.order_source or r.source), r.order_id) for _, r in items if r.order_id]
    orders = _existing_orders(session, order_keys)
    order_ids = [o["id"] for o in orders.values()]
    lines_by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    returned: dict[int, int] = defaultdict(int)
    if order_ids:
        for line_row in session.execute(
            select(LINE, Product.sku)
            .join(Product, Product.id == LINE.c.product_id)
            .where(LINE.c.order_id.in_(order_ids))
        ).mappings():
            lines_by_order[line_row["order_id"]].append(dict(line_row))
        for line_id, qty in session.execute(
            select(RETURN_LINE.c.order_line_id, func.sum(RETURN_LINE.c.quantity))
            .join(LINE, LINE.c.id == RETURN_LINE.c.order_line_id)
            .where(LINE.c.order_id.in_(order_ids))
            .group_by(RETURN_LINE.c.order_line_id)
        ):
            returned[line_id] = int(qty)

    resolver = Resolver(session)
    plans: list[tuple[int, ReturnRecord, dict[str, Any], list[dict[str, Any]], list[str]]] = []
    for index, r in items:
        if (r.source, r.id) in already:
            outcomes[index] = Outcome("unchanged", already[(r.source, r.id)])
            continue
        if r.store and r.store not in stores:
            outcomes[index] = Outcome.rejected("store", f"unknown location {r.store!r}")
            continue
        if r.associate and r.associate not in associates:
            outcomes[index] = Outcome.rejected("associate", f"unknown associate {r.associate!r}")
            continue
        order = orders.get(((r.order_source or r.source), r.order_id)) if r.order_id else None
        try:
            if order is not None:
                if order["currency"] != r.currency:
                    raise FieldIdentifierError("currency", f"the order was paid in {order['currency']}")
                lines, warnings = _link_lines(r, lines_by_order[order["id"]], returned)
                cid = order["customer_id"]
            else:
                lines, warnings = _unlinked_lines(r, products)
                claims = _ref_claims(r.customer, r.source)
                resolver.prefetch(c.key for c in claims)
                cid = _resolve(resolver, r.customer, claims, r.source)
        except FieldIdentifierError as exc:
            outcomes[index] = Outcome.rejected(exc.field, exc.message)
            continue
        row: dict[str, Any] = {
            "source": r.source, "external_id": r.id, "order_id": order["id"] if order else None,
            "customer_id": cid, "channel": r.channel, "location_id": stores.get(r.store) if r.store else None,
            "currency": r.currency, "refund_minor": sum(x["refund_minor"] for x in lines), "reason": r.reason,
            "unlinked": order is None, "original_order_ref": r.order_id, "returned_at": r.returned_at,
            "original_order_source": (r.order_source or r.source) if r.order_id else None,
        }  # fmt: skip
        plans.append((index, r, row, lines, warnings))
    mapping = resolver.flush()
    if not plans:
        return outcomes
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for _, _, row, _, _ in plans:
        cid = row["customer_id"]
        rows.append({**row, "customer_id": mapping.get(cid, cid) if cid is not None else None, "created_at": now})
    ids = allocate_ids(session, RETURN, len(rows))
    for row, id_ in zip(rows, ids, strict=True):
        row["id"] = id_
    bulk_insert(session, RETURN, rows)
    line_rows: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for (index, r, _, lines, warnings), row, return_id in zip(plans, rows, ids, strict=True):
        outcomes[index] = Outcome("created", return_id, warnings=warnings)
        line_rows.extend({**x, "return_id": return_id} for x in lines)
        if row["customer_id"] is not None:
            entries.append(_return_entry(r, row, return_id, orders, associates.get(r.associate or "")))
    bulk_insert(session, RETURN_LINE, line_rows)
    timeline.append(session, entries)
    return outcomes


def _link_lines(
    r: ReturnRecord, order_lines: list[dict[str, Any]], returned: dict[int, int]
) -> tuple[list[dict[str, Any]], list[str]]:
    out = []
    warnings: list[str] = []
    taken: dict[int, int] = defaultdict(int)  # units this record returns, per order line
    for n, line in enumerate(r.lines):
        if line.order_line:
            match = next((x for x in order_lines if x["line_ref"] == line.order_line), None)
            if match is None:
                raise FieldIdentifierError(
                    f"lines.{n}.order_line", f"order {r.order_id} has no line {line.order_line!r}"
                )
            if match["sku"] != line.sku:  # the line id decides; SKUs get renamed between sale and return
                warnings.append(f"lines.{n}.sku: line {line.order_line} was sold as {match['sku']}, not {line.sku}")
        else:
            candidates = [x for x in order_lines if x["sku"] == line.sku]
            if not candidates:
                raise FieldIdentifierError(f"lines.{n}.sku", f"order {r.order_id} has no {line.sku!r}")
            match = next(
                (x for x in candidates if x["quantity"] - returned[x["id"]] - taken[x["id"]] >= line.quantity),
                candidates[0],
            )
        left = match["quantity"] - returned[match["id"]] - taken[match["id"]]
        if line.quantity > left:
            already = returned[match["id"]] + taken[match["id"]]
            raise FieldIdentifierError(
                f"lines.{n}.quantity",
                f"returning {line.quantity} of {line.sku} but only {match['quantity']} bought"
                + (f" ({already} already returned)" if already else ""),
            )
        paid_per_unit = match["total_minor"] / match["quantity"]
        most = round(paid_per_unit * line.quantity)
        if line.refund is None:
            refund = most
        else:
            try:
                refund = to_minor(line.refund, r.currency)
            except MoneyError as exc:
                raise FieldIdentifierError(f"lines.{n}.refund", str(exc)) from None
            if refund > most + line.quantity:  # a minor unit per unit of rounding is normal
                raise FieldIdentifierError(f"lines.{n}.refund", f"refund is more than the {most} paid for these units")
        taken[match["id"]] += line.quantity
        out.append(
            {
                "order_line_id": match["id"],
                "product_id": match["product_id"],
                "quantity": line.quantity,
                "refund_minor": refund,
            }
        )
    for line_id, qty in taken.items():  # only once the whole record is valid: later records see it
        returned[line_id] += qty
    return out, warnings


def _unlinked_lines(
    r: ReturnRecord, products: dict[str, tuple[int, int, str]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """A return whose original order Rapport never saw: kept and flagged, not dropped."""
    warnings = [
        f"original order {r.order_id!r} not found: kept as an unlinked return"
        if r.order_id
        else "no original order given: kept as an unlinked return"
    ]
    out = []
    for n, line in enumerate(r.lines):
        product = products.get(line.sku)
        if product is None:
            warnings.append(f"lines.{n}.sku: unknown product {line.sku!r}, kept without a product link")
        try:
            refund = to_minor(line.refund, r.currency) if line.refund is not None else 0
        except MoneyError as exc:
            raise FieldIdentifierError(f"lines.{n}.refund", str(exc)) from None
        if line.refund is None:
            warnings.append(f"lines.{n}.refund: no refund amount given, recorded as 0")
        out.append(
            {
                "order_line_id": None,
                "product_id": product[0] if product else None,
                "quantity": line.quantity,
                "refund_minor": refund,
            }
        )
    return out, warnings


def _return_entry(
    r: ReturnRecord,
    row: dict[str, Any],
    return_id: int,
    orders: dict[tuple[str, str], dict[str, Any]],
    associate_id: int | None = None,
) -> dict[str, Any]:
    units = sum(line.quantity for line in r.lines)
    order = orders.get(((r.order_source or r.source), r.order_id)) if r.order_id else None
    bought = f" (bought {order['channel']})" if order else " (original order unknown)"
    return timeline.entry(
        customer_id=row["customer_id"], kind="return", channel=r.channel, occurred_at=r.returned_at,
        source=r.source, external_id=f"return:{r.id}", location_id=row["location_id"], ref_type="return",
        ref_id=return_id, actor_kind="associate" if associate_id else "system", actor_id=associate_id,
        summary=f"Returned {units} item{'s' if units != 1 else ''}{bought} — refund "
        f"{format_money(row['refund_minor'], r.currency)}",
        data={"skus": [line.sku for line in r.lines], "order_channel": order["channel"] if order else None,
              "unlinked": order is None, "reason": r.reason},
    )  # fmt: skip
