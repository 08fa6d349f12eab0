"""The record and batch API: ``POST /api/v1/ingest/{kind}`` and ``POST /api/v1/ingest/{kind}/batch``.

Bodies are parsed by hand rather than by FastAPI so that one bad record is reported with
its index and field while the good records of the same batch are kept.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from rapport.db import Database
from rapport.http import Caller, api_caller, database
from rapport.ingest.records import RECORD_TYPES
from rapport.ingest.service import ingest_records
from rapport.settings import get_settings

router = APIRouter(prefix="/ingest", tags=["ingest"])

_STATUS_CODE = {"created": 201, "updated": 200, "unchanged": 200}


def _schema_ref(kind: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{RECORD_TYPES[kind].__name__}"}


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": "invalid" if status == 422 else "bad_request", "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise ValueError("empty body: send a JSON document")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed JSON: {exc}") from None


def _make_routes(kind: str) -> None:
    name = RECORD_TYPES[kind].__name__
    batch_schema = {
        "type": "object",
        "required": ["records"],
        "additionalProperties": False,
        "properties": {"records": {"type": "array", "items": _schema_ref(kind), "minItems": 1}},
    }

    @router.post(
        f"/{kind}",
        summary=f"Upsert one {name}",
        description="Create or update one record; idempotent on its source id. Returns 201 when created, "
        "200 when updated or unchanged, 422 naming the field when the record is refused.",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": _schema_ref(kind)}}}
        },
        operation_id=f"ingest_{kind}",
    )
    async def one(
        request: Request, caller: Caller = Depends(api_caller), db: Database = Depends(database)
    ) -> JSONResponse:
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return _error(400, str(exc))
        if not isinstance(body, dict):
            return _error(
                422,
                "the body must be one JSON object (use /batch for several)",
                [{"field": "(body)", "message": "expected an object"}],
            )
        from starlette.concurrency import run_in_threadpool

        result = await run_in_threadpool(ingest_records, db, kind, [body], actor=caller.label)
        outcome = result.outcomes[0]
        if outcome.status == "rejected":
            errors = [e.as_dict() for e in outcome.errors]
            return _error(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
        return JSONResponse(outcome.as_dict(), status_code=_STATUS_CODE.get(outcome.status, 200))

    @router.post(
        f"/{kind}/batch",
        summary=f"Upsert a batch of {name}",
        description="Up to `RAPPORT_MAX_BATCH_RECORDS` (default 5,000) records. Each record is validated on its own: "
        "the response lists every record's outcome by index; good records are kept even when others are refused. "
        "422 when every record was refused.",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": batch_schema}}}},
        operation_id=f"ingest_{kind}_batch",
    )
    async def batch(
        request: Request, caller: Caller = Depends(api_caller), db: Database = Depends(database)
    ) -> JSONResponse:
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return _error(400, str(exc))
        if not isinstance(body, dict) or set(body) != {"records"} or not isinstance(body["records"], list):
            return _error(
                422,
                'the body must be {"records": [...]}',
                [{"field": "records", "message": "expected an object with one key, records, a list"}],
            )
        records = body["records"]
        limit = get_settings().max_batch_records
        if not records:
            return _error(422, "records: send at least one record", [{"field": "records", "message": "empty"}])
        if len(records) > limit:
            return _error(413, f"records: at most {limit} records per batch, got {len(records)}")
        from starlette.concurrency import run_in_threadpool

        result = await run_in_threadpool(ingest_records, db, kind, records, actor=caller.label)
        payload = result.as_dict()
        return JSONResponse(payload, status_code=422 if result.accepted == 0 else 200)


for _kind in RECORD_TYPES:
    _make_routes(_kind)


def record_schemas() -> dict[str, Any]:
    """JSON Schemas of the record types (and their parts), for the OpenAPI components."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema(
        [(model, "validation") for model in RECORD_TYPES.values()],
        ref_template="#/components/schemas/{model}",
    )
    return dict(top.get("$defs", {}))
