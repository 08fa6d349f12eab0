"""The JSON shapes of /api/v1/inventory availability: per SKU for the web shop, per style for the stock screen.

They mirror the dataclasses of :mod:`rapport.inventory.availability`; the services never depend on them.
Every ``available`` is available to promise: on hand - reserved - safety stock, never below 0.
"""

from __future__ import annotations

from pydantic import Field

from rapport.customers.schemas import Money, Schema


class LocationStockOut(Schema):
    code: str = Field(examples=["PAR-FSH"])
    name: str
    kind: str = Field(json_schema_extra={"enum": ["store", "warehouse"]})
    fulfils_online: bool = Field(description="Ships online orders: counts towards `online`.")
    on_hand: int
    reserved: int = Field(description="Held for clients and allocated to orders.")
    safety_stock: int = Field(description="Never promised (a display piece, an unreliable count).")
    available: int = Field(description="on_hand - reserved - safety_stock, never below 0.")


class SkuAvailabilityOut(Schema):
    sku: str = Field(examples=["COAT-CAMEL-M"])
    style_code: str
    active: bool
    online: int = Field(description="Available at every location that ships online orders.")
    locations: list[LocationStockOut] = Field(
        description="The locations asked for (zeros where there is no stock row), or every location with a stock "
        "row for the SKU, by code."
    )


class AvailabilityOut(Schema):
    skus: list[SkuAvailabilityOut] = Field(description="In the order asked, each SKU once.")


class PlaceOut(Schema):
    code: str
    name: str
    kind: str = Field(json_schema_extra={"enum": ["store", "warehouse"]})
    city: str | None
    country: str
    fulfils_online: bool
    accepts_pickup: bool
    distance_km: float | None = Field(
        description="Great-circle distance from `near`, when both have coordinates.", examples=[480.3]
    )


class NearbyOut(Schema):
    location: str = Field(description="A code from the response's `nearby`.")
    available: int


class SizeOut(Schema):
    sku: str
    size: str | None = Field(description="As the catalogue has it; empty for one-size products.")
    label: str = Field(examples=["M", "38", "One size"])
    active: bool
    here: int | None = Field(description="Available at `near`; empty without `near`.")
    nearby: list[NearbyOut] = Field(description="Available at each nearby store, nearest first.")
    online: int
    total: int = Field(description="Available at every location.")


class PlaceSizeOut(Schema):
    sku: str
    size: str
    available: int


class PlaceStockOut(Schema):
    location: PlaceOut
    on_hand: int
    available: int
    sizes: list[PlaceSizeOut] = Field(description="The sizes available there.")


class StyleAvailabilityOut(Schema):
    style_code: str
    name: str
    brand: str | None
    colour: str | None = Field(description="The colour shown (a style in several colours shows one at a time).")
    colours: list[str] = Field(description="Every colour of the style; ask for another with `colour=`.")
    category: str | None
    image_url: str | None
    price: Money = Field(description="The lowest price of the style's sizes (in the lead size's currency).")
    price_varies: bool = Field(description="Sizes differ in price: `price` is a 'from' price.")
    here: PlaceOut | None = Field(description="The location `near` names.")
    nearby: list[PlaceOut] = Field(description="The stores nearest `near` (stores without coordinates last).")
    sizes: list[SizeOut] = Field(description="XXS..XXL, then numeric sizes, then one size.")
    online: int
    total: int
    everywhere: list[PlaceStockOut] = Field(
        description="Every location with stock of the style: `near` first, then by distance, then by name."
    )
