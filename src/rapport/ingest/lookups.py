"""Batch look-ups of the references records make by code: stores, associates, SKUs."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.db import one_of
from rapport.inventory.models import Location


def _present(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})


def location_ids(session: Session, codes: Iterable[str | None]) -> dict[str, int]:
    wanted = _present(codes)
    if not wanted:
        return {}
    rows = session.execute(select(Location.code, Location.id).where(Location.code.in_(wanted)))
    return {code: id_ for code, id_ in rows}


def associate_ids(session: Session, refs: Iterable[str | None]) -> dict[str, int]:
    """Associates by code or by email (case-insensitive for emails)."""
    wanted = _present(refs)
    if not wanted:
        return {}
    lowered = [w.lower() for w in wanted]
    rows = session.execute(
        select(Associate.code, Associate.email, Associate.id).where(
            or_(Associate.code.in_(wanted), Associate.email.in_(lowered))
        )
    )
    found: dict[str, int] = {}
    for code, email, id_ in rows:
        found[code] = id_
        found[email] = id_
    return {
        ref: found[ref] if ref in found else found[ref.lower()]
        for ref in wanted
        if ref in found or ref.lower() in found
    }


def products_by_sku(session: Session, skus: Iterable[str | None]) -> dict[str, tuple[int, int, str]]:
    """SKU -> (product id, list price in minor units, currency)."""
    wanted = _present(skus)
    if not wanted:
        return {}
    rows = session.execute(
        select(Product.sku, Product.id, Product.price_minor, Product.currency).where(
            one_of(session, Product.sku, wanted)
        )
    )
    return {sku: (id_, price, currency) for sku, id_, price, currency in rows}
