"""The JSON shapes of the client routes: the 360, a timeline page and search results.

They mirror the read model's dataclasses (read with ``from_attributes``) so the service layer
never depends on the API.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Money(Schema):
    """An amount as integer minor units (cents) with its ISO 4217 currency and a display string."""

    minor: int = Field(examples=[12990])
    currency: str = Field(examples=["EUR"])
    formatted: str = Field(examples=["€129.90"])


class LocationRef(Schema):
    id: int
    code: str
    name: str


class AssociateRef(Schema):
    id: int
    name: str


class ProductRef(Schema):
    id: int
    sku: str
    name: str
    style_code: str
    brand: str | None
    category: str | None
    colour: str | None
    size: str | None
    price: Money
    image_url: str | None


class Profile(Schema):
    id: int
    first_name: str | None
    last_name: str | None
    full_name: str
    birth_date: date | None
    language: str | None
    city: str | None
    country: str | None
    tier: str | None
    tags: list[str]
    preferences: dict[str, Any]
    sizes: dict[str, str]
    home_store: LocationRef | None
    assigned_associate: AssociateRef | None
    status: str
    created_at: datetime
    updated_at: datetime


class EmailIdentity(Schema):
    address: str
    verified: bool
    source: str
    added_at: datetime


class PhoneIdentity(Schema):
    number: str = Field(description="E.164", examples=["+14155551234"])
    display: str = Field(examples=["+1 415-555-1234"])
    verified: bool
    source: str
    added_at: datetime


class ExternalIdentity(Schema):
    source: str = Field(description="The system that knows the client by this id", examples=["shopify"])
    id: str
    verified: bool
    added_at: datetime


class Identities(Schema):
    emails: list[EmailIdentity]
    phones: list[PhoneIdentity]
    external_ids: list[ExternalIdentity]


class Address(Schema):
    id: int
    kind: str
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    primary: bool
    source: str


class Milestone(Schema):
    id: int | None = Field(description="Null for the birthday taken from the profile's birth date")
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    next_date: date = Field(description="Next occurrence on or after today")
    days_until: int
    years: int | None = Field(description="Age or anniversary number reached on next_date, when the year is known")
    source: str


class Relationship(Schema):
    id: int
    relation: str
    name: str | None
    note: str | None
    related_customer_id: int | None
    related_customer_name: str | None
    source: str


class Note(Schema):
    id: int
    body: str
    author: AssociateRef | None
    source: str
    created_at: datetime


class ConsentState(Schema):
    channel: str
    granted: bool | None = Field(description="Null when the client was never asked on this channel")
    source: str | None
    recorded_at: datetime | None


class Spend(Schema):
    currency: str
    gross: Money = Field(description="Totals of orders not cancelled")
    refunded: Money
    net: Money
    order_count: int
    average_order_value: Money | None


class ChannelFigures(Schema):
    channel: str
    order_count: int
    spend: list[Money] = Field(description="One amount per currency")
    average_order_value: list[Money] = Field(description="One amount per currency")


class Favourite(Schema):
    name: str
    quantity: int


class Kpis(Schema):
    order_count: int
    lifetime_spend: list[Spend] = Field(description="Net of returns, one entry per currency")
    channels: list[ChannelFigures]
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    average_days_between_purchases: float | None
    favourite_categories: list[Favourite]
    favourite_brands: list[Favourite]
    favourite_sizes: list[Favourite]
    return_count: int
    units_bought: int
    units_returned: int
    return_rate: float | None = Field(description="Returned units / bought units, 0-1")


class Actor(Schema):
    kind: str
    id: int | None
    name: str | None


class TimelineEntry(Schema):
    id: int
    kind: str
    channel: str | None
    occurred_at: datetime
    recorded_at: datetime
    summary: str
    location: LocationRef | None
    product: ProductRef | None
    actor: Actor
    ref_type: str | None
    ref_id: int | None
    data: dict[str, Any]
    source: str


class TimelinePage(Schema):
    customer_id: int
    resolved_from: int | None = Field(description="The merged-away id that was asked for, if any")
    entries: list[TimelineEntry]
    next_cursor: str | None = Field(description="Pass as `before` to get the next, older page")


class WishlistItem(Schema):
    product: ProductRef
    added_at: datetime
    source: str


class TryOn(Schema):
    entry_id: int
    occurred_at: datetime
    channel: str | None
    location: LocationRef | None
    product: ProductRef
    bought_after: bool = Field(description="The client bought this style (any size or colour) since")
    bought_at: datetime | None


class Client360(Schema):
    customer_id: int
    resolved_from: int | None = Field(description="The merged-away id that was asked for, if any")
    generated_at: datetime
    profile: Profile
    identities: Identities
    addresses: list[Address]
    milestones: list[Milestone]
    relationships: list[Relationship]
    notes: list[Note] = Field(description="Newest first")
    consent: list[ConsentState]
    kpis: Kpis
    timeline: TimelinePage = Field(description="First page, newest first")
    wishlist: list[WishlistItem]
    tried_on: list[TryOn]


class SearchHit(Schema):
    id: int
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    home_store: LocationRef | None
    last_purchase_at: datetime | None
    tier: str | None
    score: int = Field(description="0-100, higher is closer")
    matched_on: str = Field(examples=["name", "email", "phone"])
    reason: str


class SearchResults(Schema):
    q: str
    results: list[SearchHit]
