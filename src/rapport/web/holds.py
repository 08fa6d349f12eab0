"""Holds on the phone: put an item aside for a client, see a client's holds on their profile, release.

``/holds/new?sku=...`` is reached from the stock grid (a store cell), a wishlist item or a
profile: it asks for the client when none is given (the usual search), then the store (those
that can promise the SKU, mine first), how many and until when (in the store's time: tonight at
closing, tomorrow evening, in three days, in a week). Placing redirects to the client's profile,
where the holds section lists what is set aside with a Release button.

Thin: parse, call :mod:`rapport.inventory.holds`, render.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.customers.models import Customer
from rapport.customers.search import search_clients
from rapport.db import Database
from rapport.errors import InvalidRecord, RapportError
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.identity.merge import resolve_id
from rapport.inventory import holds, stock
from rapport.inventory.holds_api import authorize_release
from rapport.inventory.models import Location
from rapport.settings import get_settings
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

#: Evening pick-up time offered for "tonight" and "tomorrow evening", in the store's time.
EVENING = time(19, 30)


@dataclass(frozen=True)
class StoreChoice:
    code: str
    name: str
    available: int
    mine: bool


def _home_store_id(session: Session, caller: Caller) -> int | None:
    if caller.kind != "associate":
        return None
    return session.scalar(select(Associate.home_location_id).where(Associate.id == caller.id))


def until_choices(tz: str, now: datetime) -> list[tuple[str, str]]:
    """(ISO instant, label) pairs in the store's time; "tonight" only while there is an evening left."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    out: list[tuple[str, str]] = []
    tonight = datetime.combine(local.date(), EVENING, zone)
    if tonight - local >= timedelta(hours=1):
        out.append((tonight.isoformat(), f"Tonight, {EVENING:%H:%M}"))
    tomorrow = tonight + timedelta(days=1)
    out.append((tomorrow.isoformat(), f"Tomorrow evening ({tomorrow:%a} {EVENING:%H:%M})"))
    for days, label in ((3, "In three days"), (7, "In a week")):
        at = tonight + timedelta(days=days)
        out.append((at.isoformat(), f"{label} ({at:%a %d %b})"))
    return out


def _stores_for(session: Session, product_id: int, home: int | None) -> list[StoreChoice]:
    stores = session.execute(
        select(Location.id, Location.code, Location.name).where(Location.kind == "store").order_by(Location.name)
    ).all()
    atp = stock.available(session, [(product_id, sid) for sid, _, _ in stores])
    choices = [StoreChoice(code, name, max(atp[(product_id, sid)], 0), sid == home) for sid, code, name in stores]
    return sorted(choices, key=lambda c: (not c.mine, c.available == 0, c.name))


def _form_context(
    session: Session, caller: Caller, product: Product, client: Customer | None, location: str | None
) -> dict[str, Any]:
    home = _home_store_id(session, caller)
    stores = _stores_for(session, product.id, home)
    chosen = next((s for s in stores if s.code == location), None) or next((s for s in stores if s.available), None)
    tz = "UTC"
    if chosen is not None:
        tz = session.scalar(select(Location.timezone).where(Location.code == chosen.code)) or "UTC"
    return {
        "product": product,
        "client": client,
        "client_name": " ".join(p for p in (client.first_name, client.last_name) if p) if client else "",
        "stores": stores,
        "chosen": chosen,
        "untils": [
            (value, label)
            for value, label in until_choices(tz, clock.now())
            if datetime.fromisoformat(value) <= clock.now() + timedelta(days=get_settings().hold_max_days)
        ],
        "max_quantity": min(holds.MAX_QUANTITY, chosen.available) if chosen else 1,
        "errors": {},
        "form": {},
        "idem_key": "web-" + secrets.token_urlsafe(16),  # a double tap places one hold
    }


@router.get("/holds/new", name="hold_new")
def new_hold(
    request: Request,
    sku: str = Query("", max_length=64),
    location: str | None = Query(None, max_length=64),
    client: int | None = Query(None),
    q: str = Query("", max_length=100),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    product = session.scalar(select(Product).where(Product.sku == sku)) if sku else None
    if product is None:
        raise InvalidRecord.one("sku", f"unknown product {sku!r}: choose an item from Stock or a wishlist")
    if client is None:
        hits = search_clients(session, q, limit=8) if q.strip() else []
        keep = {"sku": sku, **({"location": location} if location else {})}
        return render(request, "holds/choose_client.html", {
            "product": product, "q": q, "hits": hits, "keep": keep, "keep_query": urlencode(keep),
        })  # fmt: skip
    customer = session.get(Customer, resolve_id(session, client))
    if customer is None:
        raise InvalidRecord.one("client", f"no client {client}")
    return render(request, "holds/new.html", _form_context(session, caller, product, customer, location))


@router.post("/holds", name="hold_place")
def place(
    request: Request,
    sku: str = Form(..., max_length=64),
    client: int = Form(...),
    location: str = Form(..., max_length=64),
    quantity: str = Form("1", max_length=3),
    until: str = Form("", max_length=40),
    note: str = Form("", max_length=500),
    key: str = Form("", max_length=100),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    try:
        if not quantity.isdigit():
            raise InvalidRecord.one("quantity", "a whole number of items")
        try:
            expires = datetime.fromisoformat(until) if until else None
        except ValueError:
            raise InvalidRecord.one("until", "choose when the hold ends") from None
        hold = holds.place_hold_once(
                db, customer_id=client, sku=sku, location_code=location, quantity=int(quantity), until=expires,
                note=note.strip() or None, associate_id=caller.associate_id, actor=audit_actor(caller, request),
                idempotency_key=key or None,
            )  # fmt: skip
    except RapportError as exc:
        with db.read() as session:
            product = session.scalar(select(Product).where(Product.sku == sku))
            customer = session.get(Customer, client)
            if product is None or customer is None:
                raise
            context = _form_context(session, caller, product, customer, location)
        field = exc.errors[0].field if isinstance(exc, InvalidRecord) and exc.errors else "stock"
        context["errors"] = {field: exc.message}
        context["form"] = {"quantity": quantity, "until": until, "note": note}
        context["idem_key"] = key or context["idem_key"]
        return render(request, "holds/new.html", context, status_code=exc.status_code)
    url = str(request.app.url_path_for("client_profile", customer_id=str(hold.customer_id)))
    return RedirectResponse(url + "#holds", status_code=303)


@router.post("/holds/{hold_id}/release", name="hold_release")
def release(
    request: Request,
    hold_id: int,
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    with db.write() as session:
        view = holds.get_hold(session, hold_id)
        authorize_release(caller, view)
        holds.release_hold(session, hold_id, actor=audit_actor(caller, request))
    if request.headers.get("hx-request") == "true" and view.customer_id is not None:
        with db.read() as session:
            return render(
                request, "holds/_client_section.html", client_holds_context(session, caller, view.customer_id)
            )
    url = str(request.app.url_path_for("client_profile", customer_id=str(view.customer_id)))
    return RedirectResponse(url + "#holds", status_code=303)


def client_holds_context(session: Session, caller: Caller, customer_id: int) -> dict[str, Any]:
    """The profile's holds section (``holds/_client_section.html``): what is set aside, soonest to lapse first."""
    views = holds.holds_of_client(session, customer_id)
    mine = caller.store_ids if caller.kind == "associate" else frozenset()
    items = [
        {
            "hold": h,
            "until": h.expires_at.astimezone(ZoneInfo(h.timezone)) if h.expires_at else None,
            "can_release": caller.role == "admin" or h.associate_id == caller.id or h.location_id in mine,
        }
        for h in views
    ]
    return {"client_holds": {"holds": items, "customer_id": customer_id}}
