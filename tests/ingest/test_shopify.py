"""The Shopify connector: signed webhook deliveries become clients, orders and returns.

Payloads under ``shopify_payloads/`` follow Shopify's documented REST Admin API resources
(Customer, Order, Refund), with a fashion retailer's products.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.app import create_app
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers.models import Address, Consent, Customer, Note
from rapport.db import Database
from rapport.errors import FieldError
from rapport.identity import candidates
from rapport.identity.models import Identifier
from rapport.ingest.connectors import shopify
from rapport.ingest.records import CustomerRecord, OrderRecord, ReturnRecord
from rapport.ingest.service import ingest_records
from rapport.models import Base
from rapport.settings import Settings, get_settings

PAYLOADS = Path(__file__).parent / "shopify_payloads"
SECRET = "shpss_test_client_secret"


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(), parse_float=Decimal)


def raw(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def floats_in(value: Any, path: str = "") -> list[str]:
    if isinstance(value, float):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in floats_in(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in floats_in(v, f"{path}.{i}")]
    return []


# -- verification ------------------------------------------------------------------------------------


def test_signature_is_the_base64_hmac_sha256_of_the_raw_body_keyed_with_the_client_secret() -> None:
    body = b'{"id":207119551,"email":"bob.norman@mail.example.com"}'
    # Computed independently: printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -binary | base64
    assert shopify.sign(body, SECRET) == "qB+5SV0ra7pSYQDXs1KVZNK0DFy0Yk3cGDVmb2Z77OU="
    assert shopify.verify_signature(body, "qB+5SV0ra7pSYQDXs1KVZNK0DFy0Yk3cGDVmb2Z77OU=", SECRET)


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [
        (b'{"id":207119551,"email":"bob.norman@mail.example.com "}', None, SECRET),  # one byte more
        (b'{"id":207119551,"email":"bob.norman@mail.example.com"}', None, "another-apps-secret"),
        (b'{"id":207119551,"email":"bob.norman@mail.example.com"}', "", SECRET),
        (b'{"id":207119551,"email":"bob.norman@mail.example.com"}', "not base64 at all ✗", SECRET),
        # the hex digest is not what Shopify sends
        (b'{"id":207119551,"email":"bob.norman@mail.example.com"}',
         "a81fb9495d2b6bba526100d7b3529564d2b40c5cb4624ddc1835666f667bece5", SECRET),
    ],
)  # fmt: skip
def test_a_signature_that_does_not_match_the_exact_bytes_and_secret_is_refused(
    body: bytes, signature: str | None, secret: str
) -> None:
    good = "qB+5SV0ra7pSYQDXs1KVZNK0DFy0Yk3cGDVmb2Z77OU="
    assert not shopify.verify_signature(body, good if signature is None else signature, secret)


def test_payload_numbers_with_a_fraction_are_read_as_decimal_never_float() -> None:
    parsed = shopify.parse_payload(raw("refunds_create"))
    assert parsed["refund_line_items"][0]["subtotal"] == Decimal("405.0")
    assert floats_in(parsed) == []


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b'{"id": 1', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(shopify.PayloadError):
        shopify.parse_payload(body)


# -- mapping: customers ------------------------------------------------------------------------------


def test_a_shopify_customer_maps_to_a_client_with_identifiers_addresses_tags_consent_and_note() -> None:
    record, warnings = shopify.customer_record(payload("customers_create"), source="shopify")
    assert warnings == []
    assert record["source"] == "shopify" and record["id"] == "207119551"
    assert (record["first_name"], record["last_name"]) == ("Bob", "Norman")
    assert record["emails"] == [{"address": "Bob.Norman@mail.example.com", "verified": True}]
    assert record["phones"] == ["+16136120707"]
    assert record["tags"] == ["Léon", "Noël", "VIP"]
    assert record["notes"] == ["Prefers tailored fits; allergic to wool blends with mohair."]
    # default address first and primary; the other address-book entry once, not primary
    assert [(a["city"], a["country"], a["primary"]) for a in record["addresses"]] == [
        ("Louisville", "US", True), ("Ottawa", "CA", False),
    ]  # fmt: skip
    assert record["addresses"][0] == {
        "kind": "shipping", "line1": "Chestnut Street 92", "city": "Louisville", "region": "Kentucky",
        "postal_code": "40202", "country": "US", "primary": True,
    }  # fmt: skip
    # subscribed -> granted, dated by consent_updated_at; sms "not_subscribed" says nothing
    assert record["consent"] == [{"channel": "email", "granted": True, "recorded_at": "2026-11-02T09:23:53-05:00"}]
    validated = CustomerRecord.model_validate(record)
    assert validated.consent[0].recorded_at == datetime(2026, 11, 2, 14, 23, 53, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "expected"),
    [("subscribed", True), ("unsubscribed", False), ("not_subscribed", None), ("pending", None),
     ("redacted", None), ("invalid", None)],
)  # fmt: skip
def test_only_subscribed_and_unsubscribed_say_anything_about_consent(state: str, expected: bool | None) -> None:
    c = payload("customers_create")
    c["sms_marketing_consent"] = {
        "state": state,
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-11-03T10:00:00Z",
    }
    record, _ = shopify.customer_record(c)
    sms = [x for x in record.get("consent", []) if x["channel"] == "sms"]
    assert [x["granted"] for x in sms] == ([] if expected is None else [expected])


def test_an_unusable_phone_or_email_is_left_out_with_a_warning_and_the_client_kept() -> None:
    c = payload("customers_create")
    c["phone"] = "12"
    c["email"] = "bob.norman@"
    record, warnings = shopify.customer_record(c)
    assert "phones" not in record and "emails" not in record
    assert [w.split(":")[0] for w in warnings] == ["email", "phone"]
    CustomerRecord.model_validate(record)


def test_a_customer_without_an_id_cannot_be_mapped() -> None:
    c = payload("customers_create")
    del c["id"]
    with pytest.raises(shopify.MappingError) as caught:
        shopify.customer_record(c)
    assert caught.value.errors[0].field == "id"


# -- mapping: orders ---------------------------------------------------------------------------------


def test_a_web_order_maps_lines_discounts_tax_shipping_total_and_its_customer() -> None:
    record, warnings = shopify.order_record(payload("orders_create"), source="shopify")
    assert warnings == []
    assert record["id"] == "450789469" and record["order_number"] == "#1001"
    assert record["channel"] == "online" and record["status"] == "placed"
    assert record["currency"] == "USD" and record["placed_at"] == "2026-11-20T11:00:00-05:00"
    assert record["lines"] == [
        {"id": "466157049", "sku": "COAT-CAMEL-38", "quantity": 1, "unit_price": Decimal("450.00"),
         "discount": Decimal("45.00")},
        {"id": "518995019", "sku": "SCARF-SILK-NAVY", "quantity": 2, "unit_price": Decimal("85.00"),
         "discount": Decimal("0")},
    ]  # fmt: skip
    # the 45.00 discount lives on the line it was allocated to, not twice
    assert record["discount"] == Decimal("0")
    assert (record["tax"], record["shipping"], record["total"]) == (
        Decimal("47.44"), Decimal("10.00"), Decimal("632.44"),
    )  # fmt: skip
    assert record["customer"] == {
        "source": "shopify", "id": "207119551", "email": "Bob.Norman@mail.example.com",
        "phone": "+16136120707", "first_name": "Bob", "last_name": "Norman", "country": "US",
    }  # fmt: skip
    assert floats_in(record) == []
    validated = OrderRecord.model_validate(record)
    assert validated.placed_at == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def test_amounts_come_from_shop_money_when_the_presentment_currency_differs() -> None:
    o = payload("orders_create")
    o["presentment_currency"] = "CAD"
    o["total_price_set"]["presentment_money"] = {"amount": "870.11", "currency_code": "CAD"}
    o["line_items"][0]["price_set"]["presentment_money"] = {"amount": "619.00", "currency_code": "CAD"}
    record, _ = shopify.order_record(o)
    assert record["currency"] == "USD"
    assert record["total"] == Decimal("632.44") and record["lines"][0]["unit_price"] == Decimal("450.00")


def test_a_discount_not_allocated_to_any_line_or_shipping_stays_on_the_order() -> None:
    o = payload("orders_create")
    o["total_discounts"] = "50.00"
    o["total_discounts_set"] = {"shop_money": {"amount": "50.00", "currency_code": "USD"}}
    o["shipping_lines"][0]["discounted_price"] = "7.00"
    o["shipping_lines"][0]["discounted_price_set"] = {"shop_money": {"amount": "7.00", "currency_code": "USD"}}
    record, _ = shopify.order_record(o)
    # 50.00 in all: 45.00 on the coat, 3.00 on shipping, 2.00 left for the order itself
    assert (record["shipping"], record["discount"]) == (Decimal("7.00"), Decimal("2.00"))


def test_a_cancelled_order_maps_to_status_cancelled() -> None:
    record, _ = shopify.order_record(payload("orders_cancelled"))
    assert record["status"] == "cancelled"
    # the orders/cancelled topic says so even if a trimmed payload left cancelled_at out
    trimmed = payload("orders_create")
    assert shopify.order_record(trimmed, cancelled=True)[0]["status"] == "cancelled"


def test_a_pos_order_is_a_store_sale_credited_to_the_known_store_and_associate() -> None:
    known = shopify.Known(
        skus=frozenset({"shopify-variant-808950811"}),
        locations={"shopify-location-655441491": "store"},
        associates=frozenset({"shopify-staff-548380009"}),
    )
    record, warnings = shopify.order_record(payload("orders_create_pos"), known=known)
    assert record["channel"] == "store"
    assert record["store"] == "shopify-location-655441491"
    assert record["associate"] == "shopify-staff-548380009"
    # a line without a SKU is the product named after its variant, when the catalog has it
    assert [line["sku"] for line in record["lines"]] == ["EDP-ROSE-50", "shopify-variant-808950811"]
    assert warnings == [
        "lines.1.sku: line item 1071823173 (Gift Box) has no SKU; recorded as product 'shopify-variant-808950811'"
    ]
    # a guest at the till keeps the email and phone they gave, without a Shopify customer id
    assert record["customer"] == {"email": "walk.in@example.com", "phone": "+33612345678"}
    OrderRecord.model_validate(record)


def test_a_pos_order_from_an_unknown_location_or_staff_member_is_kept_without_them() -> None:
    known = shopify.Known(skus=frozenset({"shopify-variant-808950811"}))
    record, warnings = shopify.order_record(payload("orders_create_pos"), known=known)
    assert "store" not in record and "associate" not in record
    assert any(w.startswith("store: no Rapport location 'shopify-location-655441491'") for w in warnings)
    assert any(w.startswith("associate: no Rapport associate 'shopify-staff-548380009'") for w in warnings)


def test_a_line_without_sku_whose_variant_is_not_in_the_catalog_rejects_the_order_for_a_retry() -> None:
    with pytest.raises(shopify.MappingError) as caught:
        shopify.order_record(payload("orders_create_pos"), known=shopify.Known())
    assert [e.field for e in caught.value.errors] == ["lines.1.sku"]
    assert "no product 'shopify-variant-808950811'" in caught.value.errors[0].message
    assert caught.value.retryable


def test_a_custom_line_without_sku_or_variant_rejects_the_order_for_good() -> None:
    o = payload("orders_create")
    o["line_items"][1].update(sku=None, variant_id=None, product_id=None)
    with pytest.raises(shopify.MappingError) as caught:
        shopify.order_record(o)
    assert [e.field for e in caught.value.errors] == ["lines.1.sku"]
    assert not caught.value.retryable


def test_gift_card_lines_are_not_merchandise() -> None:
    o = payload("orders_create")
    o["line_items"].append(copy.deepcopy(o["line_items"][1]) | {
        "id": 703073504, "name": "Gift Card - $100", "sku": None, "variant_id": 457924702, "gift_card": True,
    })  # fmt: skip
    record, warnings = shopify.order_record(o)
    assert [line["sku"] for line in record["lines"]] == ["COAT-CAMEL-38", "SCARF-SILK-NAVY"]
    assert warnings and "gift card" in warnings[0]


def test_a_guest_order_without_email_or_phone_has_no_customer() -> None:
    o = payload("orders_create_pos")
    o.update(email=None, contact_email=None, phone=None)
    record, _ = shopify.order_record(o, known=shopify.Known(skus=frozenset({"shopify-variant-808950811"})))
    assert "customer" not in record


# -- mapping: refunds --------------------------------------------------------------------------------


def test_a_refund_maps_to_a_return_of_the_order_line_with_its_subtotal() -> None:
    record, warnings = shopify.refund_record(payload("refunds_create"), source="shopify")
    assert warnings == []
    assert record == {
        "source": "shopify", "id": "refund-509562969", "order_id": "450789469", "channel": "online",
        "currency": "USD", "returned_at": "2026-11-22T14:05:00-05:00", "reason": "wrong size",
        "lines": [
            {"order_line": "466157049", "sku": "COAT-CAMEL-38", "quantity": 1, "refund": Decimal("405.00")}
        ],
    }  # fmt: skip
    ReturnRecord.model_validate(record)


def test_a_refund_restocked_at_a_known_store_is_a_return_in_that_store() -> None:
    known = shopify.Known(locations={"shopify-location-487838322": "store"})
    record, _ = shopify.refund_record(payload("refunds_create"), known=known)
    assert record is not None
    assert (record["channel"], record["store"]) == ("store", "shopify-location-487838322")
    # a warehouse restock says nothing about where the client was
    known = shopify.Known(locations={"shopify-location-487838322": "warehouse"})
    record, _ = shopify.refund_record(payload("refunds_create"), known=known)
    assert record is not None and record["channel"] == "online" and "store" not in record


def test_a_refund_paid_back_at_a_pos_till_is_a_return_in_that_store() -> None:
    r = payload("refunds_create")
    r["transactions"][0]["location_id"] = 655441491
    r["refund_line_items"][0]["restock_type"] = "no_restock"
    known = shopify.Known(locations={"shopify-location-655441491": "store", "shopify-location-487838322": "store"})
    record, _ = shopify.refund_record(r, known=known)
    assert record is not None and record["store"] == "shopify-location-655441491"


def test_a_refund_of_money_only_is_not_a_return() -> None:
    r = payload("refunds_create")
    r["refund_line_items"] = []
    mapped = shopify.map_payload("refunds/create", r, known=shopify.Known())
    assert mapped.record is None and mapped.ignored


def test_only_unknown_products_and_passing_database_faults_are_worth_a_retry() -> None:
    assert shopify._retryable([FieldError("lines.0.sku", "unknown product 'COAT-CAMEL-38'")])
    assert shopify._retryable([FieldError("(record)", "database error: deadlock detected")])
    assert not shopify._retryable([FieldError("lines.0.quantity", "returning 3 of X but only 1 bought")])
    assert not shopify._retryable([FieldError("customer.phone", "invalid phone")])
    assert not shopify._retryable([])


# -- end to end, through the HTTP API on both databases -----------------------------------------------


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: Settings(shopify_webhook_secret=SECRET)
    with TestClient(app) as c:
        yield c


def deliver(
    client: TestClient, topic: str, body: bytes | dict[str, Any], *, secret: str | None = SECRET,
    webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", path: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:  # fmt: skip
    data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "maison-rapport.myshopify.com",
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": "7b8c9d0a-1234-5678-90ab-cdef12345678",
        "X-Shopify-Triggered-At": "2026-11-23T14:59:58.000000Z",
    }
    if secret is not None:
        sent["X-Shopify-Hmac-Sha256"] = shopify.sign(data, secret)
    sent.update(headers or {})
    url = f"/api/v1/webhooks/shopify/{topic}" if path is None else path
    return client.post(url, content=data, headers=sent)


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table: what 'nothing changed' means."""
    with db.read() as s:
        return {t.name: sorted(repr(tuple(r)) for r in s.execute(select(t))) for t in Base.metadata.sorted_tables}


def count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def stock_the_catalog(db: Database) -> None:
    products: list[dict[str, Any]] = [
        {"sku": "COAT-CAMEL-38", "style_code": "COAT-CAMEL", "name": "Wool Coat", "colour": "camel",
         "size": "38", "price": "450.00", "currency": "USD", "category": "Outerwear"},
        {"sku": "SCARF-SILK-NAVY", "name": "Silk Scarf", "colour": "navy", "price": "85.00",
         "currency": "USD"},
        {"sku": "EDP-ROSE-50", "name": "Eau de Parfum Rose 50 ml", "price": "120.00", "currency": "USD",
         "replenishment_days": 90},
        {"sku": "shopify-variant-808950811", "name": "Gift Box", "price": "5.00", "currency": "USD"},
    ]  # fmt: skip
    result = ingest_records(db, "products", products)
    assert result.rejected == 0, result.as_dict()


def test_a_signed_customer_delivery_is_stored_with_identifiers_consent_and_addresses(
    db: Database, client: TestClient
) -> None:
    response = deliver(client, "customers/create", raw("customers_create"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["result"], body["status"], body["record"]) == ("accepted", "created", "207119551")
    assert body["webhook_id"] == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    with db.read() as s:
        customer = s.get(Customer, body["id"])
        assert customer is not None and customer.full_name == "Bob Norman"
        assert customer.tags == ["Léon", "Noël", "VIP"] and (customer.city, customer.country) == (
            "Louisville",
            "US",
        )
        identifiers = {(i.kind, i.namespace, i.value, i.verified) for i in s.scalars(select(Identifier))}
        assert identifiers == {
            ("external", "shopify", "207119551", True),
            ("email", "", "bob.norman@mail.example.com", True),
            ("phone", "", "+16136120707", False),
        }
        consents = [(c.channel, c.granted, c.source, c.recorded_at) for c in s.scalars(select(Consent))]
        assert consents == [("email", True, "shopify", datetime(2026, 11, 2, 14, 23, 53, tzinfo=UTC))]
        assert sorted(a.postal_code or "" for a in s.scalars(select(Address))) == ["40202", "K1A 0B1"]
        assert [n.body for n in s.scalars(select(Note))] == [
            "Prefers tailored fits; allergic to wool blends with mohair."
        ]


def test_the_single_address_reads_the_topic_from_the_header(db: Database, client: TestClient) -> None:
    response = deliver(client, "customers/update", raw("customers_create"), path="/api/v1/webhooks/shopify")
    assert response.status_code == 200, response.text
    assert response.json()["topic"] == "customers/update" and response.json()["status"] == "created"


def test_a_signed_order_is_stored_with_its_lines_and_totals_in_minor_units(db: Database, client: TestClient) -> None:
    stock_the_catalog(db)
    response = deliver(client, "orders/create", raw("orders_create"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "created"
    with db.read() as s:
        order = s.scalars(select(Order)).one()
        assert (order.source, order.external_id, order.order_number) == ("shopify", "450789469", "#1001")
        assert (order.channel, order.status, order.currency) == ("online", "placed", "USD")
        assert (order.subtotal_minor, order.discount_minor, order.tax_minor, order.shipping_minor,
                order.total_minor) == (57500, 0, 4744, 1000, 63244)  # fmt: skip
        assert order.placed_at == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
        lines = s.execute(
            select(OrderLine.line_ref, Product.sku, OrderLine.quantity, OrderLine.unit_price_minor,
                   OrderLine.discount_minor, OrderLine.total_minor)
            .join(Product, Product.id == OrderLine.product_id).order_by(OrderLine.line_ref)
        ).all()  # fmt: skip
        assert [tuple(x) for x in lines] == [
            ("466157049", "COAT-CAMEL-38", 1, 45000, 4500, 40500),
            ("518995019", "SCARF-SILK-NAVY", 2, 8500, 0, 17000),
        ]
        # the order's customer is the Shopify customer, found by its Shopify id, email and phone
        owner = s.scalars(
            select(Identifier.customer_id).where(Identifier.namespace == "shopify", Identifier.value == "207119551")
        ).one()
        assert order.customer_id == owner


def test_an_order_and_the_customer_delivered_later_are_one_client(db: Database, client: TestClient) -> None:
    stock_the_catalog(db)
    assert deliver(client, "orders/create", raw("orders_create")).status_code == 200
    assert deliver(client, "customers/create", raw("customers_create"), webhook_id="w2").json()["status"] == "updated"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active")) == 1
        order = s.scalars(select(Order)).one()
        assert s.get(Customer, order.customer_id) is not None


def test_a_refund_is_a_return_linked_to_the_order_line_it_gives_back(db: Database, client: TestClient) -> None:
    stock_the_catalog(db)
    assert deliver(client, "orders/create", raw("orders_create")).status_code == 200
    response = deliver(client, "refunds/create", raw("refunds_create"), webhook_id="w-refund")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["record"]) == ("created", "refund-509562969")
    with db.read() as s:
        order = s.scalars(select(Order)).one()
        ret = s.scalars(select(Return)).one()
        assert (ret.source, ret.external_id, ret.order_id, ret.unlinked) == (
            "shopify", "refund-509562969", order.id, False,
        )  # fmt: skip
        assert (ret.channel, ret.currency, ret.refund_minor, ret.reason) == (
            "online",
            "USD",
            40500,
            "wrong size",
        )
        assert ret.customer_id == order.customer_id
        coat_line = s.scalars(select(OrderLine).where(OrderLine.line_ref == "466157049")).one()
        line = s.scalars(select(ReturnLine)).one()
        assert (line.order_line_id, line.quantity, line.refund_minor) == (coat_line.id, 1, 40500)


def test_a_pos_order_is_credited_to_its_store_and_associate_and_keeps_the_guest(
    db: Database, client: TestClient
) -> None:
    stock_the_catalog(db)
    assert ingest_records(db, "locations", [{
        "code": "shopify-location-655441491", "name": "Maison Rapport Paris Marais", "kind": "store",
        "timezone": "Europe/Paris", "currency": "EUR", "country": "FR",
    }]).rejected == 0  # fmt: skip
    assert ingest_records(db, "associates", [{
        "code": "shopify-staff-548380009", "email": "camille@maison-rapport.example",
        "display_name": "Camille",
    }]).rejected == 0  # fmt: skip
    response = deliver(client, "orders/create", raw("orders_create_pos"))
    assert response.status_code == 200, response.text
    with db.read() as s:
        order = s.scalars(select(Order)).one()
        assert order.channel == "store" and order.location_id is not None and order.associate_id is not None
        assert order.total_minor == 13531
        skus = s.scalars(
            select(Product.sku).join(OrderLine, OrderLine.product_id == Product.id).order_by(Product.sku)
        ).all()
        assert skus == ["EDP-ROSE-50", "shopify-variant-808950811"]
        guest = {
            (i.kind, i.value) for i in s.scalars(select(Identifier).where(Identifier.customer_id == order.customer_id))
        }
        assert guest == {("email", "walk.in@example.com"), ("phone", "+33612345678")}


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        {"X-Shopify-Hmac-Sha256": shopify.sign(b"{}", SECRET)},  # a signature of other bytes
        {"X-Shopify-Hmac-Sha256": shopify.sign(raw("customers_create"), "another-apps-secret")},
    ],
    ids=["unsigned", "signature-of-other-bytes", "signed-with-another-secret"],
)
def test_a_delivery_without_the_shops_signature_is_refused_and_nothing_is_written(
    db: Database, client: TestClient, headers: dict[str, str]
) -> None:
    before = snapshot(db)
    response = deliver(client, "customers/create", raw("customers_create"), secret=None, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert "X-Shopify-Hmac-Sha256" in response.json()["detail"]
    assert snapshot(db) == before
    assert count(db, Customer) == 0


def test_a_tampered_body_is_refused(db: Database, client: TestClient) -> None:
    body = raw("customers_create")
    signature = shopify.sign(body, SECRET)
    tampered = body.replace(b"Bob.Norman@mail.example.com", b"eve@attacker.example")
    response = deliver(client, "customers/create", tampered, secret=None, headers={"X-Shopify-Hmac-Sha256": signature})
    assert response.status_code == 401
    assert count(db, Customer) == 0


def test_without_a_configured_secret_deliveries_get_503_and_nothing_is_written(db: Database) -> None:
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: Settings(shopify_webhook_secret=None)
    with TestClient(app) as unconfigured:
        response = deliver(unconfigured, "customers/create", raw("customers_create"))
    assert response.status_code == 503
    assert "RAPPORT_SHOPIFY_WEBHOOK_SECRET" in response.json()["detail"]
    assert count(db, Customer) == 0


@pytest.mark.parametrize(
    ("topic", "name"),
    [("customers/create", "customers_create"), ("orders/create", "orders_create"),
     ("orders/cancelled", "orders_cancelled"), ("refunds/create", "refunds_create")],
)  # fmt: skip
def test_a_webhook_delivered_twice_changes_nothing_the_second_time(
    db: Database, client: TestClient, fixed_clock: Any, topic: str, name: str
) -> None:
    stock_the_catalog(db)
    if topic == "refunds/create":
        assert deliver(client, "orders/create", raw("orders_create"), webhook_id="w-order").status_code == 200
    first = deliver(client, topic, raw(name))
    assert first.status_code == 200 and first.json()["result"] == "accepted", first.text
    candidates.drain(db)  # the app's background duplicate scan, finished now rather than mid-comparison
    before = snapshot(db)
    fixed_clock.advance(timedelta(minutes=5))  # Shopify's retry comes later
    again = deliver(client, topic, raw(name))  # the same X-Shopify-Webhook-Id: a retry
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "unchanged"
    assert again.json()["id"] == first.json()["id"]
    assert snapshot(db) == before


def test_a_shopify_customer_and_a_pos_customer_with_the_same_email_are_one_client(
    db: Database, client: TestClient
) -> None:
    pos = ingest_records(db, "customers", [{
        "source": "pos", "id": "POS-88412", "first_name": "Bob", "last_name": "Norman",
        "emails": ["bob.norman@mail.example.com"], "consent": [{"channel": "sms", "granted": True}],
    }])  # fmt: skip
    assert pos.outcomes[0].status == "created"
    response = deliver(client, "customers/create", raw("customers_create"))
    assert response.status_code == 200, response.text
    with db.read() as s:
        active = s.scalars(select(Customer).where(Customer.status == "active")).all()
        assert len(active) == 1
        assert response.json()["id"] == active[0].id == pos.outcomes[0].id
        externals = {(i.namespace, i.value) for i in s.scalars(select(Identifier).where(Identifier.kind == "external"))}
        assert externals == {("pos", "POS-88412"), ("shopify", "207119551")}
        # Shopify's "not_subscribed" for SMS did not take away the yes given at the till
        consents = {c.channel: c.granted for c in s.scalars(select(Consent))}
        assert consents == {"sms": True, "email": True}


def test_orders_cancelled_marks_the_order_cancelled(db: Database, client: TestClient) -> None:
    stock_the_catalog(db)
    assert deliver(client, "orders/create", raw("orders_create"), webhook_id="w1").json()["status"] == "created"
    response = deliver(client, "orders/cancelled", raw("orders_cancelled"), webhook_id="w2")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "updated"
    with db.read() as s:
        order = s.scalars(select(Order)).one()
        assert order.status == "cancelled"
        assert order.total_minor == 63244  # what was bought; the refund arrives as its own return
    # a late orders/updated from before the cancellation does not revive it
    late = deliver(client, "orders/updated", raw("orders_create"), webhook_id="w0")
    assert late.status_code == 200
    with db.read() as s:
        assert s.scalars(select(Order.status)).one() == "cancelled"


def test_an_order_for_a_product_not_in_the_catalog_yet_gets_422_so_shopify_retries(
    db: Database, client: TestClient
) -> None:
    response = deliver(client, "orders/create", raw("orders_create"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["retry"] is True and body["result"] == "rejected"
    assert body["errors"][0]["field"] == "lines.0.sku" and "COAT-CAMEL-38" in body["errors"][0]["message"]
    assert count(db, Order) == 0
    stock_the_catalog(db)  # the catalog feed catches up; Shopify's retry now lands
    retry = deliver(client, "orders/create", raw("orders_create"))
    assert retry.status_code == 200 and retry.json()["status"] == "created"


def test_a_payload_that_can_never_be_stored_is_acknowledged_with_its_errors_to_stop_retries(
    db: Database, client: TestClient
) -> None:
    stock_the_catalog(db)
    bad = payload("orders_create")
    bad["currency"] = "ZZZ"
    before = snapshot(db)
    response = deliver(client, "orders/create", bad)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["result"], body["retry"]) == ("rejected", False)
    assert body["errors"][0]["field"] == "currency"
    assert snapshot(db) == before


def test_a_topic_header_that_disagrees_with_the_address_is_a_bad_request(db: Database, client: TestClient) -> None:
    response = deliver(
        client, "orders/create", raw("customers_create"), path="/api/v1/webhooks/shopify/customers/create"
    )
    assert response.status_code == 400
    assert "orders/create" in response.json()["detail"]
    assert count(db, Customer) == 0


def test_a_topic_rapport_does_not_handle_is_acknowledged_and_ignored(db: Database, client: TestClient) -> None:
    response = deliver(
        client, "products/update", {"id": 632910392, "title": "Wool Coat"}, path="/api/v1/webhooks/shopify"
    )
    assert response.status_code == 200
    assert response.json()["result"] == "ignored"


def test_a_signed_body_that_is_not_json_is_a_bad_request(db: Database, client: TestClient) -> None:
    response = deliver(client, "customers/create", b"<customer><id>1</id></customer>")
    assert response.status_code == 400
    assert count(db, Customer) == 0


def test_the_webhook_endpoints_are_in_the_openapi_document(db: Database, client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for topic in shopify.TOPICS:
        assert f"/api/v1/webhooks/shopify/{topic}" in paths
    assert "/api/v1/webhooks/shopify" in paths
