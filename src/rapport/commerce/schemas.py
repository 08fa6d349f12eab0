"""The JSON shapes of /api/v1/returns: orders as the counter finds them, a return taken in store, its receipt.

They mirror the dataclasses of :mod:`rapport.commerce.store_returns` (read with ``from_attributes``),
so the service never depends on the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from rapport.commerce.models import CHANNELS
from rapport.commerce.store_returns import MAX_LINES, MAX_UNITS, REASON_MAX


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReturnableLineOut(Schema):
    id: int = Field(description="The order line's id: send it back as `order_line_id`.")
    line_ref: str = Field(description="The line's id in the order's source.")
    sku: str
    name: str
    size: str | None
    colour: str | None
    image_url: str | None
    quantity: int = Field(description="Units bought.")
    returned: int = Field(description="Units already returned, in any channel.")
    returnable: int = Field(description="Units that can be returned now (0 for a cancelled order).")
    unit_price_minor: int = Field(description="Paid per unit after the line's discount, in minor units.")
    unit_price: str = Field(examples=["€1,200.00"])


class OrderForReturnOut(Schema):
    id: int
    number: str = Field(description="The order number, else the order's id in its source.", examples=["#1001"])
    order_number: str | None
    source: str
    external_id: str
    channel: str = Field(json_schema_extra={"enum": list(CHANNELS)})
    status: str = Field(json_schema_extra={"enum": ["placed", "cancelled"]})
    placed_at: datetime
    currency: str
    total: str = Field(examples=["€1,291.00"])
    customer_id: int | None = Field(description="The client (the survivor of any merge); empty for a guest order.")
    client_name: str | None
    store_code: str | None = Field(description="Where it was bought; empty for online, phone and app orders.")
    store_name: str | None
    returnable: int = Field(description="Units of the order that can be returned now.")
    lines: list[ReturnableLineOut]


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_line_id: int = Field(description="A line of the order (`lines[].id` from GET /returns/orders).")
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS)] = 1
    sellable: bool = Field(default=True, description="Can be sold again: back on the store's shelf. False: damaged.")
    refund_minor: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="A refund below what was paid, in minor units (default: what was paid)."
    )


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: int = Field(description="The order's id (`id` from GET /returns/orders).")
    store: Annotated[str, Field(min_length=1, max_length=64, description="The code of the store it comes back to.")]
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=MAX_LINES)]
    reason: Annotated[str, Field(min_length=1, max_length=REASON_MAX)] = Field(examples=["Too small"])
    idempotency_key: Annotated[str, Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")] | None = Field(
        default=None, description="Send the same key when retrying: one return is recorded."
    )


class ReturnedLineOut(Schema):
    id: int
    order_line_id: int | None
    sku: str | None
    name: str
    size: str | None
    colour: str | None
    quantity: int
    refund_minor: int
    refund: str
    restocked: bool | None = Field(
        description="Back on the store's shelf (true) or kept out as damaged (false); empty for returns recorded "
        "elsewhere."
    )


class ReturnOut(Schema):
    id: int
    created: bool = Field(description="False when the same idempotency key came again: nothing new was recorded.")
    order_id: int | None
    order_number: str | None
    channel: str = Field(description="The channel the goods were bought on (the return is counted against it).")
    store_code: str | None = Field(description="The store the goods came back to.")
    store_name: str | None
    customer_id: int | None = Field(description="Open the client's profile at /clients/{customer_id}.")
    client_name: str | None
    currency: str
    refund_minor: int
    refund: str = Field(examples=["€1,200.00"])
    reason: str | None
    returned_at: datetime
    units: int
    lines: list[ReturnedLineOut]
