"""The stock screen: find a product, then see its sizes here, in the nearest stores and online.

``/stock`` searches by SKU, style code or name as the associate types (HTMX swaps the results;
without JavaScript the same form is a plain GET). ``/stock/{style}`` is the size grid, looking
from the associate's home store or from ``?store=CODE``; a store cell with stock links to the
hold form. Thin: parse, call :mod:`rapport.inventory.availability`, render.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.errors import InvalidRecord
from rapport.http import Caller, page_caller, read_session
from rapport.inventory import availability
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

SEARCH_LIMIT = 20
#: Nearby store columns: with the size, "Here" and "Online" they fit a 375 px screen.
NEARBY_COLUMNS = 3
#: Units at or under which a cell is marked "low".
LOW_STOCK = 2


def style_href(style_code: str, store: str | None = None, colour: str | None = None) -> str:
    path = f"/stock/{quote(style_code, safe='')}"
    query = {k: val for k, val in (("store", store), ("colour", colour)) if val}
    return f"{path}?{urlencode(query)}" if query else path


def hold_href(sku: str, location_code: str) -> str:
    return f"/holds/new?{urlencode({'sku': sku, 'location': location_code})}"


def image_src(style_code: str, image_url: str | None) -> str:
    """The product's picture, or the drawn tile of :mod:`rapport.web.product_images`."""
    return image_url or f"/static/products/{quote(style_code, safe='')}.svg"


_HELPERS = {"style_href": style_href, "hold_href": hold_href, "image_src": image_src, "low_stock": LOW_STOCK}


def _search_context(session: Session, q: str) -> dict[str, Any]:
    return {"q": q, "hits": availability.find_products(session, q, limit=SEARCH_LIMIT), **_HELPERS}


def _search_url(q: str) -> str:
    return f"/stock?{urlencode({'q': q})}" if q.strip() else "/stock"


@router.get("/stock", name="stock")
def stock_search(
    request: Request,
    q: str = Query("", max_length=200),
    _caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    return render(request, "stock/search.html", _search_context(session, q))


@router.get("/stock/results", name="stock_results")
def stock_results(
    request: Request,
    q: str = Query("", max_length=200),
    _caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(_search_url(q), status_code=303)
    response = render(request, "stock/_results.html", _search_context(session, q))
    response.headers["HX-Replace-Url"] = _search_url(q)  # back from a product shows these results
    return response


@router.get("/stock/{style_code:path}", name="stock_style")
def stock_style(
    request: Request,
    style_code: str = Path(..., max_length=64),
    store: str = Query("", max_length=64),
    colour: str = Query("", max_length=50),
    caller: Caller = Depends(page_caller),
    session: Session = Depends(read_session),
) -> Response:
    notice = None
    try:
        here = availability.location_for(session, code=store or None, associate_id=caller.associate_id, field="store")
    except InvalidRecord:
        notice, store = f"No store “{store}”: showing your own.", ""
        here = availability.location_for(session, associate_id=caller.associate_id)
    view = availability.style_availability(
        session, style_code, here_location_id=here.id if here is not None else None, nearby=NEARBY_COLUMNS,
        colour=colour or None,
    )  # fmt: skip
    return render(request, "stock/style.html", {"view": view, "store": store, "notice": notice, **_HELPERS})
