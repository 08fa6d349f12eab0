"""The shapes Rapport accepts from other systems — one per kind of record.

These are the ingestion contract: the JSON API, the CSV/JSONL importer, the Shopify connector
and the demo all build these records and hand them to :mod:`rapport.ingest.service`.
Unknown fields are refused; every error names its field.
"""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from rapport import clock
from rapport.identity.normalize import normalize_email
from rapport.money import MoneyError, check_currency

Channel = Literal["online", "store", "phone", "app", "social"]
ConsentChannel = Literal["email", "sms", "whatsapp", "phone"]
EventType = Literal[
    "page_view", "product_view", "wishlist_add", "wishlist_remove", "cart_add", "cart_abandoned",
    "social_like", "social_comment", "social_mention", "try_on", "message", "appointment", "note",
]  # fmt: skip
EventChannel = Literal["online", "store", "phone", "app", "social", "email", "sms", "whatsapp"]

_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def _source(value: str) -> str:
    value = value.strip().lower()
    if not _SOURCE.match(value):
        raise ValueError("a source name is 1-64 lower-case letters, digits, '_', '.', ':' or '-'")
    return value


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _email(value: str) -> str:
    return normalize_email(value)


def _country(value: str) -> str:
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("a country is an ISO 3166-1 alpha-2 code such as FR or US")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)") from None
    return value


def _amount(value: Any) -> Any:
    if isinstance(value, float):  # JSON numbers arrive as floats: go through text, never binary
        return Decimal(repr(value))
    return value


def _non_negative_amount(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("not a finite amount")
    if value < 0:
        raise ValueError("must not be negative")
    return value


Source = Annotated[str, AfterValidator(_source)]
Currency = Annotated[str, AfterValidator(_currency)]
Email = Annotated[str, AfterValidator(_email)]
Country = Annotated[str, AfterValidator(_country)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Amount = Annotated[Decimal, BeforeValidator(_amount), AfterValidator(_non_negative_amount)]
Text100 = Annotated[str, Field(max_length=100)]
Text200 = Annotated[str, Field(max_length=200)]
ExternalId = Annotated[str, Field(min_length=1, max_length=100)]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EmailIn(Record):
    address: Email
    verified: bool = False


class PhoneIn(Record):
    number: Annotated[str, Field(min_length=3, max_length=40)]
    verified: bool = False


class ExternalIdIn(Record):
    source: Source
    id: ExternalId


class AddressIn(Record):
    kind: Literal["home", "billing", "shipping", "work", "other"] = "home"
    line1: Text200 | None = None
    line2: Text200 | None = None
    city: Text100 | None = None
    region: Text100 | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: Country | None = None
    primary: bool = False


class MilestoneIn(Record):
    kind: Literal["anniversary", "wedding", "birthday", "child_birthday", "partner_birthday", "other"]
    label: Text100 = ""
    #: ``YYYY-MM-DD``, or ``--MM-DD`` when the year is not known.
    date: str

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: str) -> str:
        parse_milestone_date(value)
        return value


def parse_milestone_date(value: str) -> tuple[int | None, int, int]:
    m = re.fullmatch(r"(\d{4}|-)-(\d{2})-(\d{2})", value.strip())
    if not m:
        raise ValueError("a date is YYYY-MM-DD, or --MM-DD when the year is unknown")
    year = None if m.group(1) == "-" else int(m.group(1))
    month, day = int(m.group(2)), int(m.group(3))
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 29 Feb is a fine anniversary
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None
    return year, month, day


class RelationshipIn(Record):
    relation: Annotated[str, Field(min_length=1, max_length=50)]
    name: Text200 | None = None
    note: Annotated[str, Field(max_length=500)] | None = None


class ConsentIn(Record):
    channel: ConsentChannel
    granted: bool
    #: When the client said so; defaults to when Rapport receives it.
    recorded_at: AwareDatetime | None = None


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, (str, dict)) else value


def _email_item(value: Any) -> Any:
    return {"address": value} if isinstance(value, str) else value


def _phone_item(value: Any) -> Any:
    return {"number": value} if isinstance(value, str) else value


class CustomerRecord(Record):
    """A client as another system knows them. ``source`` + ``id`` identify the record there."""

    source: Source
    id: ExternalId
    first_name: Text100 | None = None
    last_name: Text100 | None = None
    #: Addresses as strings, or objects ``{"address": ..., "verified": true}``.
    emails: Annotated[list[Annotated[EmailIn, BeforeValidator(_email_item)]], BeforeValidator(_listify)] = Field(
        default_factory=list
    )
    #: Numbers as strings in any format (read in the first address's country), or ``{"number": ...}``.
    phones: Annotated[list[Annotated[PhoneIn, BeforeValidator(_phone_item)]], BeforeValidator(_listify)] = Field(
        default_factory=list
    )
    #: The same client's ids in other systems: loyalty card, POS, social handle.
    external_ids: list[ExternalIdIn] = Field(default_factory=list)
    birth_date: date | None = None
    language: Annotated[str, Field(max_length=16)] | None = None
    addresses: list[AddressIn] = Field(default_factory=list)
    milestones: list[MilestoneIn] = Field(default_factory=list)
    relationships: list[RelationshipIn] = Field(default_factory=list)
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list)
    preferences: dict[str, list[Annotated[str, Field(max_length=100)]]] = Field(default_factory=dict)
    sizes: dict[str, Annotated[str, Field(max_length=20)]] = Field(default_factory=dict)
    consent: list[ConsentIn] = Field(default_factory=list)
    notes: list[Annotated[str, Field(min_length=1, max_length=5000)]] = Field(default_factory=list)
    tier: Annotated[str, Field(max_length=32)] | None = None
    home_store: Code | None = None
    #: The associate (code or email) who looks after this client.
    assigned_associate: Annotated[str, Field(max_length=254)] | None = None

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth(cls, value: date | None) -> date | None:
        if value is not None and not (date(1900, 1, 1) <= value <= clock.now().date()):
            raise ValueError("birth date must be between 1900-01-01 and today")
        return value


class CustomerRef(Record):
    """How an order, return or event points at its client: any identifier will do.

    With none at all (a guest at the till), the order is kept without a client.
    """

    source: Source | None = None
    id: ExternalId | None = None
    email: Email | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    first_name: Text100 | None = None
    last_name: Text100 | None = None
    #: For reading a phone written without a country code.
    country: Country | None = None

    @model_validator(mode="after")
    def _source_with_id(self) -> CustomerRef:
        if (self.source is None) != (self.id is None):
            raise ValueError("source and id go together")
        return self

    @property
    def is_anonymous(self) -> bool:
        return not (self.id or self.email or self.phone)


class ProductRecord(Record):
    sku: Code
    style_code: Code | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    brand: Text100 | None = None
    category: Text100 | None = None
    colour: Annotated[str, Field(max_length=50)] | None = None
    size: Annotated[str, Field(max_length=20)] | None = None
    price: Amount
    currency: Currency
    image_url: Annotated[str, Field(max_length=500)] | None = None
    replenishment_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    active: bool = True


class LocationRecord(Record):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["store", "warehouse"] = "store"
    timezone: TimeZone = "UTC"
    currency: Currency = "USD"
    address_line1: Text200 | None = None
    city: Text100 | None = None
    region: Text100 | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: Country
    latitude: Annotated[Decimal, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[Decimal, Field(ge=-180, le=180)] | None = None
    #: Ships online orders (counts towards "online" stock). Default: warehouses yes, stores no.
    fulfils_online: bool | None = None
    #: Takes click-and-collect orders. Default: stores yes, warehouses no.
    accepts_pickup: bool | None = None


class AssociateRecord(Record):
    code: Code
    email: Email
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["associate", "virtual_associate", "store_manager", "admin"] = "associate"
    home_store: Code | None = None
    regions: list[Annotated[str, Field(min_length=2, max_length=10)]] = Field(default_factory=list)
    active: bool = True


class StockRecord(Record):
    """An absolute count of one SKU at one location (idempotent by nature)."""

    sku: Code
    location: Code
    on_hand: NonNegativeInt
    counted_at: AwareDatetime | None = None
    #: Units never promised (a display piece); left as it is when absent.
    safety_stock: NonNegativeInt | None = None


class StockAdjustmentRecord(Record):
    """A change of units on hand (a delivery, damage, a transfer), applied once per ``source`` + ``id``."""

    source: Source
    id: ExternalId
    sku: Code
    location: Code
    delta: int
    reason: Literal["adjustment", "restock", "sale", "return", "damaged", "transfer_out", "transfer_in"] = "adjustment"
    at: AwareDatetime | None = None
    note: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0: a delta changes the count")
        if abs(value) > 1_000_000:
            raise ValueError("must be between -1,000,000 and 1,000,000")
        return value


class OrderLineIn(Record):
    #: The line's id in the source; defaults to its position ("1", "2", ...).
    id: ExternalId | None = None
    sku: Code
    quantity: PositiveInt
    unit_price: Amount
    discount: Amount = Decimal(0)


class OrderRecord(Record):
    source: Source
    id: ExternalId
    order_number: Text100 | None = None
    channel: Channel
    store: Code | None = None
    #: The associate credited with the sale (code or email).
    associate: Annotated[str, Field(max_length=254)] | None = None
    customer: CustomerRef | None = None
    currency: Currency
    placed_at: AwareDatetime
    status: Literal["placed", "cancelled"] = "placed"
    #: Click and collect: the store the client collects from (Rapport allocates the stock there).
    pickup_store: Code | None = None
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]
    discount: Amount = Decimal(0)
    tax: Amount = Decimal(0)
    shipping: Amount = Decimal(0)
    #: As the source computed it; derived from the lines when absent.
    total: Amount | None = None
    #: The source's last-modified time. A version older than the one stored is ignored
    #: (webhook retries deliver stale payloads late).
    updated_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _unique_line_ids(self) -> OrderRecord:
        ids = [line.id for line in self.lines if line.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("line ids must be unique within an order")
        return self


class ReturnLineIn(Record):
    #: The original order line's id (as in the order record); else matched by SKU.
    order_line: ExternalId | None = None
    sku: Code
    quantity: PositiveInt
    refund: Amount | None = None


class ReturnRecord(Record):
    source: Source
    id: ExternalId
    #: The original order: its id in ``order_source`` (default: this record's source).
    order_id: ExternalId | None = None
    order_source: Source | None = None
    channel: Channel
    store: Code | None = None
    customer: CustomerRef | None = None
    currency: Currency
    returned_at: AwareDatetime
    reason: Annotated[str, Field(max_length=500)] | None = None
    #: The associate who took it back (code or email): the actor on the client's timeline.
    associate: Annotated[str, Field(max_length=254)] | None = None
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500)]


class EventRecord(Record):
    """A signal from the web, social, the store floor or a conversation."""

    source: Source
    #: The source's id for the event; when absent, a hash of the content (so replays are no-ops).
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    type: EventType
    occurred_at: AwareDatetime
    customer: CustomerRef
    channel: EventChannel | None = None
    store: Code | None = None
    sku: Code | None = None
    associate: Annotated[str, Field(max_length=254)] | None = None
    summary: Annotated[str, Field(max_length=500)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs(self) -> EventRecord:
        if self.customer.is_anonymous:
            raise ValueError("customer needs at least one identifier (source+id, email or phone)")
        if self.type in ("wishlist_add", "wishlist_remove", "try_on", "product_view", "cart_add") and not self.sku:
            raise ValueError(f"a {self.type} event needs a sku")
        return self

    def effective_id(self) -> str:
        if self.id:
            return self.id
        payload = self.model_dump(mode="json", exclude={"id"})
        return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


RECORD_TYPES: dict[str, type[Record]] = {
    "customers": CustomerRecord,
    "products": ProductRecord,
    "locations": LocationRecord,
    "associates": AssociateRecord,
    "stock": StockRecord,
    "stock_adjustments": StockAdjustmentRecord,
    "orders": OrderRecord,
    "returns": ReturnRecord,
    "events": EventRecord,
}
