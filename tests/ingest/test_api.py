"""The record and batch API over HTTP: token auth, per-record results, clear errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rapport.app import create_app
from rapport.associates import tokens
from rapport.customers.models import Customer
from tests.factories import alicia, seed_reference


@pytest.fixture
def api(db):
    with db.write() as s:
        issued = tokens.create_token(s, "test-integration")
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {issued.token}"
    client.token_id = issued.id  # type: ignore[attr-defined]
    return client


def count_customers(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Customer))


def test_calls_without_a_valid_token_are_refused(db, api):
    anonymous = TestClient(create_app())
    assert anonymous.post("/api/v1/ingest/customers", json=alicia()).status_code == 401
    bad = anonymous.post("/api/v1/ingest/customers", json=alicia(), headers={"Authorization": "Bearer rpt_nope"})
    assert bad.status_code == 401 and bad.json()["detail"] == "invalid or revoked token"
    assert count_customers(db) == 0


def test_a_revoked_token_is_refused(db, api):
    with db.write() as s:
        tokens.revoke_token(s, api.token_id)
    assert api.post("/api/v1/ingest/customers", json=alicia()).status_code == 401


def test_one_record_is_created_then_unchanged(db, api):
    first = api.post("/api/v1/ingest/customers", json=alicia())
    assert first.status_code == 201 and first.json()["status"] == "created"
    again = api.post("/api/v1/ingest/customers", json=alicia())
    assert again.status_code == 200 and again.json() == {"status": "unchanged", "id": first.json()["id"]}


def test_a_bad_record_gets_422_naming_the_field_and_nothing_is_written(db, api):
    r = api.post("/api/v1/ingest/customers", json=alicia(phones=["+33 6 12"], nickname="Ali"))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"nickname"}  # schema errors come first; the phone is checked once the shape is right
    r = api.post("/api/v1/ingest/customers", json=alicia(phones=["+33 6 12"]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phones.0"
    assert "invalid phone" in r.json()["detail"]
    assert count_customers(db) == 0


def test_a_batch_reports_each_record_and_keeps_the_good_ones(db, api):
    records = [
        alicia(),
        {"source": "pos", "id": "2", "emails": ["not-an-email"]},
        {"source": "pos", "id": "3", "first_name": "Ben", "birth_date": "2990-01-01"},
        {"source": "pos", "id": "4", "first_name": "Chloé", "emails": ["chloe@example.com"]},
        "not an object",
    ]
    r = api.post("/api/v1/ingest/customers/batch", json={"records": records})
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    assert [x["status"] for x in body["results"]] == [
        "created",
        "rejected",
        "rejected",
        "created",
        "rejected",
    ]
    assert body["results"][1]["errors"][0]["field"] == "emails.0.address"
    assert body["results"][2]["errors"][0]["field"] == "birth_date"
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3, 4]
    assert count_customers(db) == 2


def test_a_batch_of_only_bad_records_is_422(db, api):
    r = api.post("/api/v1/ingest/products/batch", json={"records": [{"sku": "X"}]})
    assert r.status_code == 422 and r.json()["rejected"] == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"", 400, "empty body"),
        (b"[]", 422, '{"records": [...]}'),
        (b'{"records": []}', 422, "at least one record"),
        (b'{"records": [], "extra": 1}', 422, '{"records": [...]}'),
    ],
)
def test_malformed_batches_are_refused_clearly(db, api, body, status, detail):
    r = api.post("/api/v1/ingest/customers/batch", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status and detail in r.json()["detail"]


def test_too_large_a_batch_is_413(db, api, monkeypatch):
    from rapport.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_batch_records", 2)
    r = api.post("/api/v1/ingest/customers/batch", json={"records": [alicia()] * 3})
    assert r.status_code == 413 and count_customers(db) == 0


def test_every_kind_is_in_the_openapi_document_with_its_schema(db, api):
    spec = api.get("/api/v1/openapi.json").json()
    for kind in ("customers", "products", "locations", "associates", "stock", "orders", "returns", "events"):
        assert f"/api/v1/ingest/{kind}" in spec["paths"] and f"/api/v1/ingest/{kind}/batch" in spec["paths"]
    assert "OrderRecord" in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["OrderRecord"]["additionalProperties"] is False


def test_a_whole_retail_day_goes_through_the_api(db, api):
    seed_reference(db)
    api.post("/api/v1/ingest/customers", json=alicia()).raise_for_status()
    r = api.post(
        "/api/v1/ingest/orders/batch",
        json={
            "records": [
                {
                    "source": "pos",
                    "id": "T-1",
                    "channel": "store",
                    "store": "PAR",
                    "associate": "ANA",
                    "currency": "EUR",
                    "placed_at": "2026-11-20T11:00:00+01:00",
                    "customer": {"phone": "+33612345678"},
                    "lines": [{"sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": "1200.00"}],
                },
            ]
        },
    )
    assert r.json()["results"][0]["status"] == "created"
    assert count_customers(db) == 1
