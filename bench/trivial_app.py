"""The HTTP floor: a FastAPI app that does as little as an endpoint can, served like Rapport.

``POST /api/v1/ingest/{kind}/batch`` reads the same JSON body Rapport's batch endpoint gets and
answers with the number of records; ``GET /api/v1/customers/{id}/360`` and ``GET /api/v1/customers``
answer a few bytes. Neither touches a database. Measured under the same client as Rapport, the
gap between the two is what Rapport's own work costs.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(title="trivial")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/ingest/{kind}/batch")
async def batch(kind: str, request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    return JSONResponse({"kind": kind, "accepted": len(body["records"])})


@app.get("/api/v1/customers/{customer_id}/360")
def customer_360(customer_id: int) -> dict[str, int]:
    return {"customer_id": customer_id}


@app.get("/api/v1/customers")
def search(q: str = "") -> dict[str, object]:
    return {"q": q, "results": []}
