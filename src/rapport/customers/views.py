"""What the Customer 360 returns: plain dataclasses, read by the API schemas with ``from_attributes``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class Money:
    minor: int
    currency: str
    formatted: str


@dataclass
class LocationRef:
    id: int
    code: str
    name: str


@dataclass
class AssociateRef:
    id: int
    name: str


@dataclass
class ProductRef:
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


@dataclass
class Profile:
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


@dataclass
class EmailIdentity:
    address: str
    verified: bool
    source: str
    added_at: datetime


@dataclass
class PhoneIdentity:
    number: str  # E.164
    display: str  # international format, for reading aloud
    verified: bool
    source: str
    added_at: datetime


@dataclass
class ExternalIdentity:
    source: str  # the system: shopify, pos, loyalty, instagram ...
    id: str
    verified: bool
    added_at: datetime


@dataclass
class Identities:
    emails: list[EmailIdentity] = field(default_factory=list)
    phones: list[PhoneIdentity] = field(default_factory=list)
    external_ids: list[ExternalIdentity] = field(default_factory=list)


@dataclass
class AddressView:
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


@dataclass
class MilestoneView:
    id: int | None  # None for the birthday read from the profile's birth date
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    next_date: date
    days_until: int
    #: Age or anniversary number reached on ``next_date``, when the year is known.
    years: int | None
    source: str


@dataclass
class RelationshipView:
    id: int
    relation: str
    name: str | None
    note: str | None
    related_customer_id: int | None
    related_customer_name: str | None
    source: str


@dataclass
class NoteView:
    id: int
    body: str
    author: AssociateRef | None
    source: str
    created_at: datetime


@dataclass
class ConsentView:
    channel: str
    granted: bool | None  # None: never asked
    source: str | None
    recorded_at: datetime | None


@dataclass
class Spend:
    """Lifetime spend in one currency: placed (non-cancelled) orders minus refunds."""

    currency: str
    gross: Money
    refunded: Money
    net: Money
    order_count: int
    average_order_value: Money | None


@dataclass
class ChannelFigures:
    channel: str
    order_count: int
    #: One entry per currency the client bought in through this channel.
    spend: list[Money]
    average_order_value: list[Money]


@dataclass
class Favourite:
    name: str
    quantity: int


@dataclass
class Kpis:
    order_count: int
    lifetime_spend: list[Spend]
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
    #: Returned units over bought units (returns linked to a known order line only).
    return_rate: float | None


@dataclass
class Actor:
    kind: str
    id: int | None
    name: str | None


@dataclass
class TimelineItem:
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


@dataclass
class TimelinePage:
    customer_id: int
    resolved_from: int | None
    entries: list[TimelineItem]
    #: Pass as ``before`` for the next (older) page; None on the last page.
    next_cursor: str | None


@dataclass
class WishlistView:
    product: ProductRef
    added_at: datetime
    source: str


@dataclass
class TryOnView:
    entry_id: int
    occurred_at: datetime
    channel: str | None
    location: LocationRef | None
    product: ProductRef
    #: Whether the client bought the same style (any size or colour) at or after the try-on.
    bought_after: bool
    bought_at: datetime | None


@dataclass
class Client360:
    customer_id: int
    #: The id that was asked for when it had been merged into ``customer_id``.
    resolved_from: int | None
    generated_at: datetime
    profile: Profile
    identities: Identities
    addresses: list[AddressView]
    milestones: list[MilestoneView]
    relationships: list[RelationshipView]
    notes: list[NoteView]
    consent: list[ConsentView]
    kpis: Kpis
    timeline: TimelinePage
    wishlist: list[WishlistView]
    tried_on: list[TryOnView]


# -- entry points ------------------------------------------------------------------------------
