"""Availability over HTTP: per SKU for the web shop (``/inventory/availability``), per style for the app.

Both routes take :func:`~rapport.http.session_or_token_caller`: an integration token with the
``read`` scope, or a signed-in associate (every associate may see stock everywhere). Thin: parse,
call :mod:`rapport.inventory.availability`, shape the answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from rapport.customers.schemas import Money
from rapport.http import Caller, read_session, require_scope, session_or_token_caller
from rapport.inventory import availability
from rapport.inventory.availability import Place, StyleAvailability
from rapport.inventory.schemas import (
    AvailabilityOut,
    NearbyOut,
    PlaceOut,
    PlaceSizeOut,
    PlaceStockOut,
    SizeOut,
    SkuAvailabilityOut,
    StyleAvailabilityOut,
)

router = APIRouter(prefix="/inventory", tags=["inventory"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "A token without the `read` scope."},
    404: {"description": "No product of that style or SKU."},
    422: {"description": "An unknown SKU or location (the error names the field and the value), or too many SKUs."},
}


@router.get(
    "/availability",
    response_model=AvailabilityOut,
    summary="What each SKU can promise, per location and online",
    description="For the web shop's product pages and checkout: per SKU, each location's on hand, reserved, "
    "safety stock and available (on hand - reserved - safety stock, never below 0), and `online`: the sum "
    f"available at the locations that ship online orders. At most {availability.MAX_SKUS} SKUs a call.",
    responses={403: _ERRORS[403], 422: _ERRORS[422]},
)
def sku_availability(
    sku: list[str] = Query(
        ..., description=f"A SKU; repeat for more (`?sku=A&sku=B`), at most {availability.MAX_SKUS}."
    ),
    location: list[str] | None = Query(
        None,
        description="Only these location codes (repeatable); every location with stock of the SKU when absent. "
        "`online` always counts every online location.",
    ),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> AvailabilityOut:
    require_scope(caller, "read")
    found = availability.sku_availability(session, sku, location)
    return AvailabilityOut(skus=[SkuAvailabilityOut.model_validate(s) for s in found])


def _place(place: Place) -> PlaceOut:
    distance = round(place.distance_km, 1) if place.distance_km is not None else None
    return PlaceOut.model_validate(place).model_copy(update={"distance_km": distance})


def _style_out(view: StyleAvailability) -> StyleAvailabilityOut:
    return StyleAvailabilityOut(
        style_code=view.style_code,
        name=view.name,
        brand=view.brand,
        colour=view.colour,
        colours=list(view.colours),
        category=view.category,
        image_url=view.image_url,
        price=Money(minor=view.price_minor, currency=view.currency, formatted=view.price),
        price_varies=view.price_varies,
        here=_place(view.here) if view.here is not None else None,
        nearby=[_place(p) for p in view.nearby],
        sizes=[
            SizeOut(
                sku=s.sku,
                size=s.size,
                label=s.label,
                active=s.active,
                here=s.here,
                nearby=[NearbyOut(location=p.code, available=n) for p, n in zip(view.nearby, s.nearby, strict=True)],
                online=s.online,
                total=s.total,
            )
            for s in view.sizes
        ],
        online=view.online,
        total=view.total,
        everywhere=[
            PlaceStockOut(
                location=_place(e.place),
                on_hand=e.on_hand,
                available=e.available,
                sizes=[PlaceSizeOut(sku=sku, size=label, available=n) for sku, label, n in e.sizes],
            )
            for e in view.everywhere
        ],
    )


@router.get(
    "/styles/{style}/availability",
    response_model=StyleAvailabilityOut,
    summary="A style's sizes: available here, at the nearest stores, online and everywhere",
    description="What the stock screen shows: for each size (XXS..XXL, numeric, one size last) what `near` can "
    "promise, what the `nearby` stores closest to it can (great-circle distance; stores without coordinates "
    "last, by name), online and in all; then every location with stock of the style.",
    responses={403: _ERRORS[403], 404: _ERRORS[404], 422: _ERRORS[422]},
)
def style_availability(
    style: str = Path(..., max_length=64, description="A style code, or the SKU of one of its sizes."),
    near: str | None = Query(None, max_length=64, description="A location code: the `here` column and distances."),
    nearby: int = Query(availability.NEARBY, ge=0, le=availability.MAX_NEARBY, description="How many nearby stores."),
    colour: str | None = Query(
        None,
        max_length=50,
        description="For a style in several colours: which one "
        "(default: the SKU's colour, else the first of `colours`).",
    ),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> StyleAvailabilityOut:
    require_scope(caller, "read")
    here = availability.location_for(session, code=near, field="near") if near else None
    view = availability.style_availability(
        session, style, here_location_id=here.id if here is not None else None, nearby=nearby, colour=colour
    )
    return _style_out(view)
