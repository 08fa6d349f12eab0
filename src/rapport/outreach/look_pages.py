"""Looks on the web: the client's public page, the tracked-link redirect, and the associate's look builder.

Public (no sign-in; anyone holding the link):

* ``GET /looks/{code}`` — the look: title, the associate's note, the products as tiles, who made it.
* ``GET /looks/product/{sku}`` — one product, where a tracked product link lands (the catalogue has
  no product page of its own); ``?via={link code}`` names the associate who sent it.
* ``GET /r/{code}`` — a tracked link: the visit is recorded (:func:`rapport.outreach.links.visit`),
  then a 302 to where it leads.

These pages carry nothing about the client (the note is the associate's own words), are kept out
of shared caches and browser storage (``Cache-Control: private, no-store``: a note is written to one
person, possibly read on a shared device) and out of search engines (``noindex``). An unknown code
is the same plain 404 page whether it never existed or was mistyped.

Signed in: ``GET /clients/{id}/looks/new`` (the builder: suggestions first, a catalogue search as
you type, a title and a note) and ``POST /clients/{id}/looks`` (save, then on to the conversation to
send it). Any associate may view any client, so any associate may make a look for one; sending it
is the message service's business (and its permission rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.associates import audit
from rapport.associates.permissions import require_view_client
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.http import Caller, client_ip, csrf_checked, database, page_caller, read_session
from rapport.inventory import availability
from rapport.outreach import links, looks
from rapport.outreach.settings import get_outreach_settings
from rapport.outreach.suggestions import Suggestion, suggest_products
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

#: Public pages: personal words, not for shared caches, a shared device's history or search engines.
PUBLIC_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow"}
SUGGESTIONS = 8
SEARCH_RESULTS = 20


def _brand() -> str | None:
    """The retailer's name as client email shows it ("Maison Rapport <clients@...>")."""
    return parseaddr(get_outreach_settings().client_mail_from)[0] or None


def _missing(request: Request) -> Response:
    return render(request, "looks/missing.html", {"brand": _brand()}, status_code=404, headers=PUBLIC_HEADERS)


# -- public ----------------------------------------------------------------------------------------


@router.get("/looks/product/{sku:path}", name="look_product")
def product_view(
    request: Request,
    sku: str = Path(..., max_length=200),
    via: str | None = Query(None, max_length=16),
    session: Session = Depends(read_session),
) -> Response:
    link = links.link_of(session, via) if via else None
    page = looks.product_page(session, sku, sent_by=link.associate_id if link is not None else None)
    if page is None:
        return _missing(request)
    context = {"look": page, "one_product": True, "brand": _brand()}
    return render(request, "looks/look.html", context, headers=PUBLIC_HEADERS)


@router.get("/looks/{code}", name="look_public")
def public_look(
    request: Request, code: str = Path(..., max_length=64), session: Session = Depends(read_session)
) -> Response:
    look = looks.look_of(session, code)
    if look is None:
        return _missing(request)
    context = {"look": look, "one_product": False, "brand": _brand()}
    return render(request, "looks/look.html", context, headers=PUBLIC_HEADERS)


@router.get("/r/{code}", name="short_link")
def follow(request: Request, code: str = Path(..., max_length=64), db: Database = Depends(database)) -> Response:
    with db.write() as session:
        target = links.visit(session, code, user_agent=request.headers.get("user-agent"), ip=client_ip(request))
    if target is None:
        return _missing(request)
    # no-store: a browser that cached the redirect would skip the next visit's count.
    return RedirectResponse(target, status_code=302, headers={**PUBLIC_HEADERS, "Referrer-Policy": "no-referrer"})


# -- the builder (signed in) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A product the builder offers (a suggestion or a search result), ticked or not."""

    id: int
    sku: str
    name: str
    brand: str | None
    colour: str | None
    size: str | None
    price: str
    image_url: str
    checked: bool
    reason: str | None = None
    in_stock_here: bool | None = None

    @classmethod
    def of(cls, p: looks.LookProduct, checked: bool) -> Choice:
        return cls(p.id, p.sku, p.name, p.brand, p.colour, p.size, p.price, p.image_url, checked)

    @classmethod
    def suggested(cls, s: Suggestion, checked: bool) -> Choice:
        return cls(s.product_id, s.sku, s.name, s.brand, s.colour, s.size, s.price, s.image_url, checked, s.reason,
                   s.in_stock_here)  # fmt: skip


def _client(session: Session, caller: Caller, customer_id: int) -> looks.ClientRef:
    require_view_client(caller.actor)
    return looks.client_ref(session, customer_id)


def _builder_url(customer_id: int, **query: Any) -> str:
    kept = {k: v for k, v in query.items() if v}
    return f"/clients/{customer_id}/looks/new" + (f"?{urlencode(kept, doseq=True)}" if kept else "")


def _builder_context(
    session: Session,
    caller: Caller,
    client: looks.ClientRef,
    *,
    q: str = "",
    picked: list[int] | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    picked = picked or []
    here = availability.location_for(session, associate_id=caller.associate_id)
    suggested = suggest_products(session, client.id, location_id=here.id if here else None, limit=SUGGESTIONS)
    shown = {s.product_id for s in suggested}
    suggestions = [Choice.suggested(s, s.product_id in picked) for s in suggested]
    return {
        "client": client,
        "here": here,
        "suggestions": suggestions,
        **_hits_context(session, client.id, q, [p for p in picked if p not in shown]),
        "form": form or {},
        "errors": errors or {},
        "max_products": looks.MAX_PRODUCTS,
        "title_max": looks.TITLE_MAX,
        "note_max": looks.NOTE_MAX,
    }


def _hits_context(session: Session, customer_id: int, q: str, picked: list[int]) -> dict[str, Any]:
    """The search results, with the products already ticked there kept (ticked) at the top."""
    kept = looks.products_by_id(session, picked)
    ticked = {p.id for p in kept}
    hits = [p for p in looks.find_products(session, q, limit=SEARCH_RESULTS) if p.id not in ticked] if q else []
    return {
        "cid": customer_id,
        "q": q,
        "hits": [Choice.of(p, True) for p in kept] + [Choice.of(p, False) for p in hits],
        "searched": bool(q.strip()),
    }


@router.get("/clients/{customer_id}/looks/new", name="look_builder")
def builder(
    request: Request,
    customer_id: int,
    q: str = Query("", max_length=100),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
    db: Database = Depends(database),
) -> Response:
    client = _client(session, caller, customer_id)
    if client.id != customer_id:  # an old id after a merge: the survivor's builder
        return RedirectResponse(_builder_url(client.id, q=q), status_code=301)
    context = _builder_context(session, caller, client, q=q.strip())
    with db.write() as writing:  # what the client bought and wished for is on this page: a view, like the profile
        audit.record_view(
            writing, actor_kind=caller.kind, actor_id=caller.id, actor_label=caller.label, customer_id=client.id,
            ip=client_ip(request), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
    response = render(request, "looks/builder.html", context)
    response.headers["Cache-Control"] = "private, no-store"  # a client's name and history
    return response


@router.get("/clients/{customer_id}/looks/products", name="look_builder_search")
def builder_search(
    request: Request,
    customer_id: int,
    q: str = Query("", max_length=100),
    product_id: list[int] = Query([], max_length=looks.MAX_PRODUCTS * 2),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    """The builder's search as the associate types (HTMX); without JavaScript, the builder page itself."""
    client = _client(session, caller, customer_id)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(_builder_url(client.id, q=q.strip()), status_code=303)
    return render(request, "looks/_hits.html", _hits_context(session, client.id, q.strip(), product_id))


@router.post("/clients/{customer_id}/looks", name="look_create")
def create(
    request: Request,
    customer_id: int,
    title: str = Form(""),
    note: str = Form(""),
    product_id: list[int] = Form([]),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    try:
        with db.write() as session:
            client = _client(session, caller, customer_id)
            look = looks.create_look(
                session, associate_id=caller.id, customer_id=client.id, title=title, note=note,
                skus_or_product_ids=product_id,
            )  # fmt: skip
    except InvalidRecord as exc:
        with db.read() as session:
            client = _client(session, caller, customer_id)
            errors: dict[str, str] = {}
            for e in exc.errors:
                errors[e.field] = f"{errors[e.field]}; {e.message}" if e.field in errors else e.message
            context = _builder_context(
                session, caller, client, picked=list(dict.fromkeys(product_id)), form={"title": title, "note": note},
                errors=errors,
            )  # fmt: skip
        return render(request, "looks/builder.html", context, status_code=exc.status_code)
    return RedirectResponse(f"/clients/{look.customer_id}/conversation?look={look.id}", status_code=303)
