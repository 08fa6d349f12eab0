"""The Shopify connector: check that a webhook delivery came from the shop, then map it to a record.

Shopify signs every HTTPS delivery with ``X-Shopify-Hmac-Sha256``: the base64 HMAC-SHA256 of
the raw request body, keyed with the app's client secret. The signature is checked over the
bytes as received, before any JSON parsing, and compared in constant time.

Payloads are Shopify's REST Admin API resources (Customer, Order, Refund). They become
:mod:`rapport.ingest.records` and go through :func:`rapport.ingest.service.ingest_records`
like every other source, so identity resolution and idempotency are the same as for the API.
Amounts are read as decimal text from the ``*_set.shop_money`` fields (the shop's currency) when
present; every JSON number is parsed as ``Decimal`` — never float.

Shopify ids Rapport cannot know by itself follow three naming conventions:

* a line item without a SKU is the product whose SKU is ``shopify-variant-<variant_id>``;
* a Shopify location is the Rapport location whose code is ``shopify-location-<location_id>``;
* a Shopify staff member is the associate whose code is ``shopify-staff-<user_id>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from rapport.db import Database
from rapport.errors import FieldError
from rapport.identity.normalize import IdentifierError, normalize_email, normalize_phone
from rapport.ingest import lookups
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import RECORD_TYPES
from rapport.ingest.service import ingest_records, pydantic_errors
from rapport.inventory.models import Location
from rapport.settings import Settings

#: The webhook topics Rapport handles, and the kind of record each one becomes.
TOPICS: dict[str, str] = {
    "customers/create": "customers",
    "customers/update": "customers",
    "orders/create": "orders",
    "orders/updated": "orders",
    "orders/cancelled": "orders",
    "refunds/create": "returns",
}

VARIANT_SKU = "shopify-variant-{}"
LOCATION_CODE = "shopify-location-{}"
STAFF_CODE = "shopify-staff-{}"

#: Shopify marketing states that say something about consent. "not_subscribed", "pending",
#: "invalid" and "redacted" say nothing: they must not overwrite a yes given in a store.
_CONSENT_STATES = {"subscribed": True, "unsubscribed": False}
_UNKNOWN_PRODUCT = re.compile(r"^lines\.\d+\.sku$")


# -- verification --------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """What Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when ``signature`` is Shopify's signature of exactly these bytes (constant-time)."""
    if not signature or not secret:
        return False
    expected = sign(body, secret).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


class PayloadError(ValueError):
    """A signed body that is not a JSON object: nothing Rapport can map."""


def parse_payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON, with every number that has a fraction read as Decimal."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    return data


# -- what the mapping needs to know from Rapport ------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """Rapport's products, locations and associates a payload may point at, read before mapping."""

    skus: frozenset[str] = frozenset()
    #: location code -> kind ("store" or "warehouse")
    locations: Mapping[str, str] = field(default_factory=dict)
    associates: frozenset[str] = frozenset()


def _wanted(topic: str, payload: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The SKUs, location codes and associate codes a payload could refer to by convention."""
    skus: set[str] = set()
    locations: set[str] = set()
    associates: set[str] = set()
    kind = TOPICS.get(topic)
    if kind == "orders":
        for item in _dicts(payload.get("line_items")):
            if not _text(item.get("sku")) and item.get("variant_id") is not None:
                skus.add(VARIANT_SKU.format(item["variant_id"]))
        if payload.get("location_id") is not None:
            locations.add(LOCATION_CODE.format(payload["location_id"]))
        if payload.get("user_id") is not None:
            associates.add(STAFF_CODE.format(payload["user_id"]))
    elif kind == "returns":
        locations.update(LOCATION_CODE.format(loc) for loc in _refund_locations(payload))
    return skus, locations, associates


def look_up(db: Database, topic: str, payload: Mapping[str, Any]) -> Known:
    """What Rapport holds of the things this payload names by convention: at most three queries."""
    skus, codes, staff = _wanted(topic, payload)
    if not (skus or codes or staff):
        return Known()
    with db.read() as session:
        found_skus = frozenset(lookups.products_by_sku(session, skus)) if skus else frozenset()
        locations: dict[str, str] = {}
        if codes:
            rows = session.execute(select(Location.code, Location.kind).where(Location.code.in_(sorted(codes))))
            locations = {code: kind for code, kind in rows}
        associates = frozenset(lookups.associate_ids(session, staff)) if staff else frozenset()
    return Known(found_skus, locations, associates)


# -- mapping -----------------------------------------------------------------------------------------


class MappingError(ValueError):
    """The payload cannot become a record. ``retryable`` when Rapport may know enough later."""

    def __init__(self, errors: list[FieldError], *, retryable: bool = False) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.retryable = retryable


@dataclass
class Mapped:
    """A record ready for ingestion, or the reason the delivery holds nothing to record."""

    kind: str
    record: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    ignored: str | None = None


def map_payload(
    topic: str,
    payload: Mapping[str, Any],
    *,
    known: Known,
    source: str = "shopify",
    default_region: str = "US",
) -> Mapped:
    """The Rapport record a delivery of ``topic`` describes. Raises MappingError naming the field."""
    kind = TOPICS.get(topic)
    if kind == "customers":
        record, warnings = customer_record(payload, source=source, default_region=default_region)
        return Mapped(kind, record, warnings)
    if kind == "orders":
        record, warnings = order_record(
            payload,
            source=source,
            known=known,
            default_region=default_region,
            cancelled=topic == "orders/cancelled",
        )
        return Mapped(kind, record, warnings)
    if kind == "returns":
        returned, warnings = refund_record(payload, source=source, known=known)
        if returned is None:
            return Mapped(kind, None, warnings, ignored="the refund gives back money only, no goods: not a return")
        return Mapped(kind, returned, warnings)
    raise KeyError(f"topic {topic!r} is not handled; expected one of {', '.join(TOPICS)}")


def customer_record(
    c: Mapping[str, Any], *, source: str = "shopify", default_region: str = "US"
) -> tuple[dict[str, Any], list[str]]:
    """A Shopify Customer as a CustomerRecord (as a dict), and what was left out and why."""
    warnings: list[str] = []
    record: dict[str, Any] = {"source": source, "id": _id(c.get("id"), "id")}
    _put(record, "first_name", _text(c.get("first_name")))
    _put(record, "last_name", _text(c.get("last_name")))
    addresses = _customer_addresses(c)
    region = next((a["country"] for a in addresses if a.get("country")), default_region)
    email = _valid_email(_text(c.get("email")), "email", warnings)
    if email:
        record["emails"] = [{"address": email, "verified": c.get("verified_email") is True}]
    phone = _valid_phone(_text(c.get("phone")), region, "phone", warnings)
    if phone:
        record["phones"] = [phone]
    if addresses:
        record["addresses"] = addresses
    tags = _tags(c.get("tags"))
    if tags:
        record["tags"] = tags
    consent = [
        x
        for x in (
            _consent(c.get("email_marketing_consent"), "email"),
            _consent(c.get("sms_marketing_consent"), "sms"),
        )
        if x is not None
    ]
    if "email_marketing_consent" not in c and c.get("accepts_marketing") is True:  # API versions before 2022-04
        consent.append(
            _dropnone(
                {
                    "channel": "email",
                    "granted": True,
                    "recorded_at": _text(c.get("accepts_marketing_updated_at")),
                }
            )
        )
    if consent:
        record["consent"] = consent
    note = _text(c.get("note"))
    if note:
        record["notes"] = [note]
    return record, warnings


def order_record(
    o: Mapping[str, Any],
    *,
    source: str = "shopify",
    known: Known = Known(),
    default_region: str = "US",
    cancelled: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """A Shopify Order as an OrderRecord (as a dict), and what was left out and why."""
    warnings: list[str] = []
    errors: list[FieldError] = []
    retryable = True
    order_id = _id(o.get("id"), "id")
    currency = _text(o.get("currency"))
    if currency is None:
        raise MappingError([FieldError("currency", "the order has no currency")])

    lines: list[dict[str, Any]] = []
    allocated = Decimal(0)
    for pos, item in enumerate(_dicts(o.get("line_items"))):
        title = _text(item.get("name")) or _text(item.get("title")) or "untitled"
        label = f"line item {item.get('id')} ({title})"
        if item.get("gift_card") is True:
            warnings.append(f"line_items.{pos}: {label} is a gift card, not merchandise: not recorded as a line")
            continue
        n = len(lines)
        sku = _text(item.get("sku"))
        if sku is None:
            variant = item.get("variant_id")
            fallback = VARIANT_SKU.format(variant) if variant is not None else None
            if fallback is not None and fallback in known.skus:
                sku = fallback
                warnings.append(f"lines.{n}.sku: {label} has no SKU; recorded as product {fallback!r}")
            elif fallback is not None:
                errors.append(FieldError(
                    f"lines.{n}.sku",
                    f"{label} has no SKU and Rapport has no product {fallback!r} for its variant",
                ))  # fmt: skip
                continue
            else:
                retryable = False
                errors.append(FieldError(f"lines.{n}.sku", f"{label} has no SKU and no variant (a custom item)"))
                continue
        discount = _allocations(item, f"lines.{n}.discount")
        allocated += discount
        line: dict[str, Any] = {
            "sku": sku,
            "quantity": item.get("quantity"),
            "unit_price": _amount(item, "price", f"lines.{n}.unit_price"),
            "discount": discount,
        }
        if item.get("id") is not None:
            line["id"] = str(item["id"])
        lines.append(line)
    if errors:
        raise MappingError(errors, retryable=retryable)
    if not lines:
        raise MappingError([FieldError("lines", "the order has no merchandise line to record")])

    shipping = Decimal(0)
    shipping_discount = Decimal(0)
    for k, ship in enumerate(_dicts(o.get("shipping_lines"))):
        price = _amount(ship, "price", f"shipping_lines.{k}.price", default=Decimal(0))
        if ship.get("discounted_price") is not None or ship.get("discounted_price_set") is not None:
            charged = _amount(ship, "discounted_price", f"shipping_lines.{k}.discounted_price")
        else:
            charged = max(price - _allocations(ship, f"shipping_lines.{k}.discount"), Decimal(0))
        shipping += charged
        shipping_discount += price - charged
    total_discounts = _amount(o, "total_discounts", "discount", default=Decimal(0))

    record: dict[str, Any] = {
        "source": source,
        "id": order_id,
        "channel": "store" if (_text(o.get("source_name")) or "").lower() == "pos" else "online",
        "currency": currency,
        "placed_at": _text(o.get("created_at")) or _text(o.get("processed_at")),
        "status": "cancelled" if cancelled or _text(o.get("cancelled_at")) else "placed",
        "lines": lines,
        # Shopify allocates discounts to lines and shipping lines; only what is left is the order's own.
        "discount": max(total_discounts - allocated - shipping_discount, Decimal(0)),
        "tax": _amount(o, "total_tax", "tax", default=Decimal(0)),
        "shipping": shipping,
        # total_price, not current_total_price: refunds arrive as returns (refunds/create) and
        # would otherwise be taken off twice.
        "total": _amount(o, "total_price", "total"),
    }
    _put(record, "order_number", _text(o.get("name")) or _text(o.get("order_number")))
    if o.get("location_id") is not None:
        code = LOCATION_CODE.format(o["location_id"])
        if code in known.locations:
            record["store"] = code
        elif record["channel"] == "store":
            warnings.append(f"store: no Rapport location {code!r}; the sale is kept without a store")
    if o.get("user_id") is not None:
        code = STAFF_CODE.format(o["user_id"])
        if code in known.associates:
            record["associate"] = code
        else:
            warnings.append(f"associate: no Rapport associate {code!r}; the sale is credited to nobody")
    customer = _customer_ref(o, source=source, default_region=default_region, warnings=warnings)
    if customer is not None:
        record["customer"] = customer
    return record, warnings


def refund_record(
    r: Mapping[str, Any], *, source: str = "shopify", known: Known = Known()
) -> tuple[dict[str, Any] | None, list[str]]:
    """A Shopify Refund as a ReturnRecord (as a dict); None when no goods come back."""
    warnings: list[str] = []
    errors: list[FieldError] = []
    refund_id = _id(r.get("id"), "id")
    lines: list[dict[str, Any]] = []
    currency: str | None = None
    for pos, item in enumerate(_dicts(r.get("refund_line_items"))):
        li = _obj(item.get("line_item"))
        if li.get("gift_card") is True:
            warnings.append(f"refund_line_items.{pos}: a gift card, not merchandise: not recorded as returned")
            continue
        if not item.get("quantity"):
            warnings.append(f"refund_line_items.{pos}: no quantity: nothing returned")
            continue
        n = len(lines)
        sku = _text(li.get("sku"))
        if sku is None and li.get("variant_id") is not None:
            sku = VARIANT_SKU.format(li["variant_id"])  # the same product the order line was recorded as
        if sku is None:
            errors.append(
                FieldError(
                    f"lines.{n}.sku",
                    f"refunded line item {item.get('line_item_id')} has no SKU and no variant",
                )
            )
            continue
        line: dict[str, Any] = {
            "sku": sku,
            "quantity": item.get("quantity"),
            "refund": _amount(item, "subtotal", f"lines.{n}.refund"),
        }
        if item.get("line_item_id") is not None:
            line["order_line"] = str(item["line_item_id"])
        lines.append(line)
        currency = currency or _set_currency(item, "subtotal")
    if errors:
        raise MappingError(errors)
    if not lines:
        return None, warnings
    for t in _dicts(r.get("transactions")):
        currency = currency or _text(t.get("currency"))
    if currency is None:
        raise MappingError([FieldError("currency", "neither the refunded lines nor the transactions give a currency")])

    record: dict[str, Any] = {
        "source": source,
        "id": f"refund-{refund_id}",
        "order_id": _id(r.get("order_id"), "order_id"),
        "channel": "online",
        "currency": currency,
        "returned_at": _text(r.get("created_at")) or _text(r.get("processed_at")),
        "lines": lines,
    }
    for loc in _refund_locations(r):
        code = LOCATION_CODE.format(loc)
        if known.locations.get(code) == "store":
            record["channel"], record["store"] = "store", code
            break
    note = _text(r.get("note"))
    if note:
        record["reason"] = note[:500]
    return record, warnings


def _refund_locations(r: Mapping[str, Any]) -> list[Any]:
    """Where a refund happened, most telling first: the till that paid it back, then where goods came back."""
    out = [t.get("location_id") for t in _dicts(r.get("transactions"))]
    out += [
        i.get("location_id")
        for i in _dicts(r.get("refund_line_items"))
        if i.get("restock_type") in ("return", "legacy_restock")
    ]
    return list(dict.fromkeys(x for x in out if x is not None))


def _customer_ref(
    o: Mapping[str, Any], *, source: str, default_region: str, warnings: list[str]
) -> dict[str, Any] | None:
    """Who bought: the Shopify customer when there is one, else whatever a guest left (email, phone)."""
    c = _obj(o.get("customer"))
    shipping = _obj(o.get("shipping_address"))
    billing = _obj(o.get("billing_address"))
    default_address = _obj(c.get("default_address"))
    country = next((x for x in (_text(a.get("country_code")) for a in (shipping, billing, default_address)) if x), None)
    ref: dict[str, Any] = {}
    if c.get("id") is not None:
        ref["source"], ref["id"] = source, str(c["id"])
    email = _text(c.get("email")) or _text(o.get("email")) or _text(o.get("contact_email"))
    _put(ref, "email", _valid_email(email, "customer.email", warnings))
    phone = _text(c.get("phone")) or _text(o.get("phone"))
    _put(ref, "phone", _valid_phone(phone, country or default_region, "customer.phone", warnings))
    if not ref:
        return None  # a guest who left nothing to be recognised by: the order is kept without a client
    names = c if c.get("first_name") or c.get("last_name") else billing
    _put(ref, "first_name", _text(names.get("first_name")))
    _put(ref, "last_name", _text(names.get("last_name")))
    _put(ref, "country", country)
    return ref


def _customer_addresses(c: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The default address first (primary), then the rest of the address book, each once."""
    default = c.get("default_address") if isinstance(c.get("default_address"), Mapping) else None
    items: list[tuple[Mapping[str, Any], bool]] = []
    if default:
        items.append((default, True))
    for a in _dicts(c.get("addresses")):
        if default is not None and a.get("id") is not None and a.get("id") == default.get("id"):
            continue
        items.append((a, default is None and a.get("default") is True))
    out = []
    for a, primary in items:
        address = _dropnone({
            "kind": "shipping",
            "line1": _text(a.get("address1")),
            "line2": _text(a.get("address2")),
            "city": _text(a.get("city")),
            "region": _text(a.get("province")) or _text(a.get("province_code")),
            "postal_code": _text(a.get("zip")),
            "country": (_text(a.get("country_code")) or "").upper() or None,
            "primary": primary,
        })  # fmt: skip
        if any(address.get(k) for k in ("line1", "city", "postal_code", "country")):
            out.append(address)
    return out


def _consent(value: Any, channel: str) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    state = (_text(value.get("state")) or "").lower()
    if state not in _CONSENT_STATES:
        return None
    return _dropnone(
        {
            "channel": channel,
            "granted": _CONSENT_STATES[state],
            "recorded_at": _text(value.get("consent_updated_at")),
        }
    )


def _tags(value: Any) -> list[str]:
    """Shopify keeps tags as one comma-separated string (``"VIP, Léon"``)."""
    if isinstance(value, str):
        parts: Iterable[Any] = value.split(",")
    elif isinstance(value, list):
        parts = value
    else:
        return []
    tags = (str(p).strip()[:50] for p in parts)
    return list(dict.fromkeys(t for t in tags if t))


def _valid_email(value: str | None, where: str, warnings: list[str]) -> str | None:
    if value is None:
        return None
    try:
        normalize_email(value)
    except IdentifierError as exc:
        warnings.append(f"{where}: {exc}; left out")
        return None
    return value


def _valid_phone(value: str | None, region: str, where: str, warnings: list[str]) -> str | None:
    if value is None:
        return None
    try:
        normalize_phone(value, region)
    except IdentifierError as exc:
        warnings.append(f"{where}: {exc}; left out")
        return None
    return value


def _allocations(obj: Mapping[str, Any], where: str) -> Decimal:
    """The discounts Shopify allocated to a line (or a shipping line)."""
    if "discount_allocations" in obj:
        return sum((_amount(a, "amount", where) for a in _dicts(obj.get("discount_allocations"))), start=Decimal(0))
    return _amount(obj, "total_discount", where, default=Decimal(0))


_MISSING = object()


def _amount(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> Decimal:
    """A shop-currency amount: ``<key>_set.shop_money.amount`` when present, else ``<key>``."""
    raw: Any = None
    money = obj.get(f"{key}_set")
    if isinstance(money, Mapping) and isinstance(money.get("shop_money"), Mapping):
        raw = money["shop_money"].get("amount")
    if raw is None:
        raw = obj.get(key)
    if raw is None or raw == "":
        if default is _MISSING:
            raise MappingError([FieldError(where, f"Shopify sent no {key}")])
        return Decimal(default)
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal, float)):
        raise MappingError([FieldError(where, f"{key} is not an amount: {raw!r}")])
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise MappingError([FieldError(where, f"{key} is not an amount: {raw!r}")]) from None
    if not value.is_finite():
        raise MappingError([FieldError(where, f"{key} is not an amount: {raw!r}")])
    return value


def _set_currency(obj: Mapping[str, Any], key: str) -> str | None:
    money = obj.get(f"{key}_set")
    if isinstance(money, Mapping) and isinstance(money.get("shop_money"), Mapping):
        return _text(money["shop_money"].get("currency_code"))
    return None


def _id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise MappingError([FieldError(where, f"Shopify sent no usable {where}: {value!r}")])
    return str(value).strip()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _dropnone(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# -- receiving a delivery ----------------------------------------------------------------------------


@dataclass
class Receipt:
    """What became of one delivery: accepted (with the ingest outcome), ignored, or rejected."""

    topic: str
    result: str  # accepted | ignored | rejected
    kind: str | None = None
    source_id: str | None = None
    outcome: Outcome | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: For a rejection: whether a later delivery of the same payload can succeed (see docs).
    retry: bool = False
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topic": self.topic,
            "result": self.result,
            "kind": self.kind,
            "record": self.source_id,
        }
        if self.outcome is not None:
            out["status"], out["id"] = self.outcome.status, self.outcome.id
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
            out["retry"] = self.retry
        if self.warnings:
            out["warnings"] = self.warnings
        if self.reason:
            out["reason"] = self.reason
        return out


def receive(db: Database, topic: str, payload: Mapping[str, Any], settings: Settings) -> Receipt:
    """Map one verified delivery and ingest it. Replays are harmless: records are idempotent."""
    kind = TOPICS.get(topic)
    if kind is None:
        return Receipt(topic, "ignored", reason=f"topic {topic!r} is not one Rapport handles")
    source_id = _text(payload.get("id"))
    if kind == "returns" and source_id:
        source_id = f"refund-{source_id}"
    known = look_up(db, topic, payload)
    try:
        mapped = map_payload(
            topic,
            payload,
            known=known,
            source=settings.shopify_source,
            default_region=settings.default_region,
        )
    except MappingError as exc:
        return Receipt(topic, "rejected", kind, source_id, errors=exc.errors, retry=exc.retryable)
    if mapped.record is None:
        return Receipt(topic, "ignored", kind, source_id, warnings=mapped.warnings, reason=mapped.ignored)
    try:
        record = RECORD_TYPES[kind].model_validate(mapped.record)
    except ValidationError as exc:
        # The same payload will fail the same way every time: not worth a retry.
        return Receipt(topic, "rejected", kind, source_id, errors=pydantic_errors(exc), warnings=mapped.warnings)
    outcome = ingest_records(db, kind, [record], actor=f"shopify:{topic}").outcomes[0]
    if outcome.status == "rejected":
        return Receipt(
            topic,
            "rejected",
            kind,
            source_id,
            errors=outcome.errors,
            warnings=mapped.warnings,
            retry=_retryable(outcome.errors),
        )
    return Receipt(topic, "accepted", kind, source_id, outcome, warnings=[*mapped.warnings, *outcome.warnings])


def _retryable(errors: list[FieldError]) -> bool:
    """Rejections another feed can cure (a product not in the catalog yet) or a passing database fault."""
    return bool(errors) and all(
        (_UNKNOWN_PRODUCT.match(e.field) and e.message.startswith("unknown product"))
        or (e.field == "(record)" and e.message.startswith(("database error", "conflicts with stored data")))
        for e in errors
    )
