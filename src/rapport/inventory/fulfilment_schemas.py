"""The JSON shapes of /api/v1/inventory fulfilment: pickups, parcels, transfers and the pick list.

They mirror :mod:`rapport.inventory.fulfilment_views`; the services never depend on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from rapport.inventory.fulfilment import COLLECT_DAYS
from rapport.inventory.fulfilment_views import FulfilmentView, PickLine, Place
from rapport.inventory.models import FULFILMENT_KINDS, FULFILMENT_STATUSES

Code = Annotated[str, Field(min_length=1, max_length=64)]


class PickupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: Code = Field(description="The code of the store where the client collects.", examples=["PAR"])


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ship_to: Code = Field(
        description="`client` (shipped to the client from the best location that ships online orders), or a store's "
        "code (collected there: a pickup, with transfers for what the store lacks).",
        examples=["client", "PAR"],
    )
    taken_at: Code | None = Field(
        default=None,
        description="The store where the order was taken (endless aisle): the nearest sender is preferred. Default: "
        "the order's own store.",
    )


class ReadyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collect_days: Annotated[int, Field(ge=1, le=60)] | None = Field(
        default=None,
        description="Days the client has to collect before the items go back on sale (default: the retailer's "
        f"RAPPORT_PICKUP_COLLECT_DAYS, {COLLECT_DAYS} unless set).",
    )


class ShippedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking: Annotated[str, Field(max_length=100)] | None = Field(default=None, examples=["1Z999AA10123456784"])


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=500)] | None = None


class FulfilmentPlaceOut(BaseModel):
    code: str
    name: str


def _place(p: Place | None) -> FulfilmentPlaceOut | None:
    return FulfilmentPlaceOut(code=p.code, name=p.name) if p is not None else None


class FulfilmentLineOut(BaseModel):
    order_line_id: int
    sku: str
    name: str
    size: str | None
    colour: str | None
    quantity: int


class FulfilmentOut(BaseModel):
    id: int
    order_id: int
    order_number: str
    kind: str = Field(json_schema_extra={"enum": list(FULFILMENT_KINDS)})
    status: str = Field(json_schema_extra={"enum": list(FULFILMENT_STATUSES)})
    client_id: int | None
    client_name: str
    from_location: FulfilmentPlaceOut | None = Field(
        description="Where the goods are picked; empty while nobody has them."
    )
    to_location: FulfilmentPlaceOut | None = Field(
        description="The store that hands them over (pickup) or receives them (transfer); empty when shipped to the "
        "client."
    )
    feeds_id: int | None = Field(description="A transfer: the pickup it brings goods to.")
    tracking: str | None
    note: str | None
    picked_at: datetime | None
    ready_at: datetime | None
    collect_by: datetime | None = Field(description="A ready pickup not collected by then goes back to stock.")
    shipped_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    lines: list[FulfilmentLineOut]

    @classmethod
    def of(cls, v: FulfilmentView) -> FulfilmentOut:
        return cls(
            id=v.id, order_id=v.order_id, order_number=v.order_number, kind=v.kind, status=v.status,
            client_id=v.customer_id, client_name=v.client_name,
            from_location=_place(v.from_location), to_location=_place(v.to_location),
            feeds_id=v.feeds_id, tracking=v.tracking, note=v.note, picked_at=v.picked_at, ready_at=v.ready_at,
            collect_by=v.collect_by, shipped_at=v.shipped_at, closed_at=v.closed_at, created_at=v.created_at,
            updated_at=v.updated_at,
            lines=[FulfilmentLineOut(order_line_id=line.order_line_id, sku=line.sku, name=line.name, size=line.size,
                                     colour=line.colour, quantity=line.quantity) for line in v.lines],
        )  # fmt: skip


class PickLineOut(BaseModel):
    fulfilment_id: int
    kind: str = Field(json_schema_extra={"enum": list(FULFILMENT_KINDS)})
    order_number: str
    client_name: str
    sku: str
    name: str
    size: str | None
    colour: str | None
    quantity: int
    destination: str = Field(description="The store the goods go to; empty when shipped to the client.")
    since: datetime = Field(description="When it became the store's to pick.")
    age_minutes: int

    @classmethod
    def of(cls, p: PickLine) -> PickLineOut:
        return cls(
            fulfilment_id=p.fulfilment_id, kind=p.kind, order_number=p.order_number, client_name=p.client_name,
            sku=p.sku, name=p.name, size=p.size, colour=p.colour, quantity=p.quantity, destination=p.destination,
            since=p.since, age_minutes=max(0, int(p.age.total_seconds() // 60)),
        )  # fmt: skip
