"""Shopify webhook endpoints: ``POST /api/v1/webhooks/shopify/<resource>/<event>`` (or one URL for all).

Not authenticated with Rapport's bearer tokens: Shopify cannot send them. Each delivery is
verified instead by ``X-Shopify-Hmac-Sha256`` against the app's client secret
(``RAPPORT_SHOPIFY_WEBHOOK_SECRET``) over the raw body, before the body is parsed.
See docs/connectors/shopify.md for the configuration and what maps to what.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from rapport.db import Database
from rapport.errors import RapportError
from rapport.http import database
from rapport.ingest.connectors import shopify
from rapport.settings import Settings, get_settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/shopify", tags=["shopify"])


class WebhooksNotConfigured(RapportError):
    status_code = 503
    code = "not_configured"


class SignatureRefused(RapportError):
    status_code = 401
    code = "unauthorized"


class BadDelivery(RapportError):
    status_code = 400
    code = "bad_request"


@dataclass(frozen=True)
class Delivery:
    """A delivery whose signature checked out: its raw body and Shopify's headers."""

    body: bytes
    topic: str | None
    webhook_id: str | None
    event_id: str | None
    shop: str | None
    api_version: str | None


async def verified_delivery(
    request: Request,
    signature: Annotated[
        str | None,
        Header(
            alias="X-Shopify-Hmac-Sha256",
            description="base64 HMAC-SHA256 of the raw body, keyed with the app's client secret",
        ),
    ] = None,
    topic: Annotated[str | None, Header(alias="X-Shopify-Topic", description="e.g. orders/create")] = None,
    webhook_id: Annotated[
        str | None,
        Header(alias="X-Shopify-Webhook-Id", description="the same on every retry of one delivery"),
    ] = None,
    event_id: Annotated[
        str | None, Header(alias="X-Shopify-Event-Id", description="the same for every delivery of one event")
    ] = None,
    shop: Annotated[str | None, Header(alias="X-Shopify-Shop-Domain")] = None,
    api_version: Annotated[str | None, Header(alias="X-Shopify-API-Version")] = None,
    settings: Settings = Depends(get_settings),
) -> Delivery:
    """Refuse anything Shopify did not sign with the configured secret; nothing is parsed before."""
    secret = settings.shopify_webhook_secret.get_secret_value() if settings.shopify_webhook_secret else ""
    if not secret:
        raise WebhooksNotConfigured(
            "Shopify webhooks are not configured: set RAPPORT_SHOPIFY_WEBHOOK_SECRET to the Shopify "
            "app's client secret (Shopify retries the delivery later)"
        )
    body = await request.body()
    if not shopify.verify_signature(body, signature, secret):
        log.warning(
            "shopify delivery refused: %s X-Shopify-Hmac-Sha256 (topic=%s shop=%s webhook=%s)",
            "bad" if signature else "missing",
            topic,
            shop,
            webhook_id,
        )
        raise SignatureRefused(
            "missing X-Shopify-Hmac-Sha256"
            if not signature
            else "X-Shopify-Hmac-Sha256 does not match the body signed with the configured client secret"
        )
    return Delivery(body, topic.strip() if topic else None, webhook_id, event_id, shop, api_version)


_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "description": "The Shopify REST Admin API resource of the topic (Customer, Order or Refund), as "
        "Shopify sends it.",
    }}},
}  # fmt: skip
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Handled: accepted (with the ingest outcome), ignored, or rejected for good "
        "(`retry: false`, logged; a retry could not succeed)."
    },
    400: {"description": "Not a JSON object, or X-Shopify-Topic disagrees with the URL."},
    401: {"description": "Missing or wrong X-Shopify-Hmac-Sha256. Nothing written."},
    422: {
        "description": "Rejected for now (`retry: true`): a product the order needs is not in the catalog "
        "yet. Shopify retries."
    },
    503: {"description": "RAPPORT_SHOPIFY_WEBHOOK_SECRET is not set."},
}


def _handle(delivery: Delivery, topic: str, db: Database, settings: Settings) -> JSONResponse:
    try:
        payload = shopify.parse_payload(delivery.body)
    except shopify.PayloadError as exc:
        raise BadDelivery(str(exc)) from None
    receipt = shopify.receive(db, topic, payload, settings)
    body: dict[str, Any] = {
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        **receipt.as_dict(),
    }
    where = f"topic={topic} record={receipt.source_id} shop={delivery.shop} webhook={delivery.webhook_id}"
    if receipt.result == "rejected":
        detail = "; ".join(f"{e.field}: {e.message}" for e in receipt.errors)
        if receipt.retry:
            log.info("shopify delivery rejected for now, Shopify will retry (%s): %s", where, detail)
            return JSONResponse({"error": "invalid", "detail": detail, **body}, status_code=422)
        log.warning("shopify delivery rejected for good, acknowledged to stop retries (%s): %s", where, detail)
        return JSONResponse(body)
    if receipt.result == "ignored":
        log.info("shopify delivery ignored (%s): %s", where, receipt.reason)
    else:
        status = receipt.outcome.status if receipt.outcome else "?"
        log.info(
            "shopify delivery %s (%s)%s",
            status,
            where,
            f" warnings: {'; '.join(receipt.warnings)}" if receipt.warnings else "",
        )
    return JSONResponse(body)


@router.post(
    "",
    summary="Receive any Shopify webhook (topic from X-Shopify-Topic)",
    description="One address for every subscription. Topics Rapport does not handle are acknowledged "
    "(200, `result: ignored`) so Shopify does not retry them.",
    openapi_extra={"requestBody": _BODY},
    responses=_RESPONSES,
    operation_id="shopify_webhook",
)
def receive_any(
    delivery: Delivery = Depends(verified_delivery),
    db: Database = Depends(database),
    settings: Settings = Depends(get_settings),
) -> JSONResponse:
    if not delivery.topic:
        raise BadDelivery("missing X-Shopify-Topic: use /webhooks/shopify/<resource>/<event> or send the header")
    return _handle(delivery, delivery.topic, db, settings)


def _topic_route(topic: str) -> None:
    def receive_topic(
        delivery: Delivery = Depends(verified_delivery),
        db: Database = Depends(database),
        settings: Settings = Depends(get_settings),
    ) -> JSONResponse:
        if delivery.topic and delivery.topic != topic:
            raise BadDelivery(
                f"X-Shopify-Topic is {delivery.topic!r} but this address receives {topic!r}: "
                "check the subscription's address"
            )
        return _handle(delivery, topic, db, settings)

    router.add_api_route(
        f"/{topic}",
        receive_topic,
        methods=["POST"],
        summary=f"Receive Shopify {topic}",
        description=f"Becomes {shopify.TOPICS[topic]} records. Verified by X-Shopify-Hmac-Sha256.",
        openapi_extra={"requestBody": _BODY},
        responses=_RESPONSES,
        operation_id=f"shopify_{topic.replace('/', '_')}",
    )


for _topic in shopify.TOPICS:
    _topic_route(_topic)
