"""create_app(): the FastAPI application with every capability's routes."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from rapport import __version__
from rapport.errors import InvalidRecord, RapportError
from rapport.web.shell import error_page, wants_html
from rapport.web.shell import mount as mount_web

log = logging.getLogger(__name__)


def _warm_search() -> None:
    """Build the search vocabulary in the background so the first search at the counter is fast."""
    from rapport.customers.search import warm_vocabulary
    from rapport.db import get_database

    try:
        with get_database().read() as session:
            warm_vocabulary(session)
    except Exception:  # an unmigrated database must not stop the app from starting
        log.warning("search vocabulary not warmed at start-up", exc_info=True)


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    from rapport.db import get_database
    from rapport.identity.candidates import BackgroundDrainer
    from rapport.inventory.housekeeping import Housekeeper
    from rapport.runtime import tune_gc
    from rapport.settings import get_settings
    from rapport.tasks.triggers import TaskTriggers
    from rapport.workers import job_runner

    threading.Thread(target=_warm_search, name="warm-search", daemon=True).start()
    background = get_settings().background_scan
    drainer = BackgroundDrainer(get_database) if background else None
    if drainer is not None:
        drainer.start()  # the duplicate scan, off the ingest path (or in `rapport worker`)
    triggers = TaskTriggers(get_database) if background else None
    if triggers is not None:
        triggers.start()  # tasks within a second of an ingested event (or `rapport worker` follows the tables)
    housekeeper = Housekeeper(get_database) if background else None
    if housekeeper is not None:
        housekeeper.start()  # lapsed holds and uncollected pickups back to stock (or in `rapport worker`)
    runner = job_runner(get_database) if background else None
    if runner is not None:
        _app.state.job_runner = runner
        runner.start()  # sends queued messages (or `rapport worker` processes do)
    tune_gc()
    yield
    if runner is not None:
        runner.stop()
    if housekeeper is not None:
        housekeeper.stop()
    if triggers is not None:
        triggers.stop()
    if drainer is not None:
        drainer.stop()


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Rapport",
        version=__version__,
        description="Omnichannel clienteling: one client record across channels, in the associate's hand.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )

    @app.exception_handler(RapportError)
    async def _domain_error(request: Request, exc: RapportError) -> Response:
        if wants_html(request):
            return error_page(request, exc.status_code, exc.message)
        body: dict[str, object] = {"error": exc.code, "detail": exc.message}
        if isinstance(exc, InvalidRecord):
            body["errors"] = [e.as_dict() for e in exc.errors]
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            # /clients/abc is a page that does not exist, not a form to correct.
            in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
            return error_page(request, 404 if in_path else 400)
        errors = []
        for err in exc.errors():
            loc = [str(p) for i, p in enumerate(err.get("loc", ())) if not (i == 0 and p == "body")]
            msg = str(err.get("msg", "invalid"))
            errors.append({"field": ".".join(loc) or "(body)", "message": msg.removeprefix("Value error, ")})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"error": "invalid", "detail": detail, "errors": errors}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from rapport.appointments.api import router as appointments_router
    from rapport.appointments.booking_pages import router as public_booking_pages
    from rapport.appointments.setup_api import router as appointment_setup_router
    from rapport.associates.api import router as me_router
    from rapport.clientbook.api import router as clientbook_router
    from rapport.commerce.returns_api import router as returns_router
    from rapport.customers.api import router as customers_router
    from rapport.customers.counter_api import router as counter_router
    from rapport.identity.api import router as identity_router
    from rapport.ingest.api import router as ingest_router
    from rapport.ingest.connectors.shopify_api import router as shopify_router
    from rapport.inventory.availability_api import router as availability_router
    from rapport.inventory.fulfilment_api import router as fulfilment_router
    from rapport.inventory.holds_api import router as holds_router
    from rapport.outreach.api import router as outreach_router
    from rapport.outreach.api import webhooks as outreach_webhooks
    from rapport.outreach.look_pages import router as look_pages
    from rapport.outreach.templates_api import router as templates_router
    from rapport.tasks.api import router as tasks_router
    from rapport.tasks.campaigns_api import router as campaigns_router
    from rapport.web.appointment_setup import router as appointment_setup_pages
    from rapport.web.appointments import router as appointment_pages
    from rapport.web.audit_pages import router as audit_pages
    from rapport.web.book import router as book_pages
    from rapport.web.campaigns import router as campaign_pages
    from rapport.web.clients import router as clients_pages
    from rapport.web.conversations import router as conversation_pages
    from rapport.web.fulfilment import router as fulfilment_pages
    from rapport.web.holds import router as hold_pages
    from rapport.web.message_templates import router as message_template_pages
    from rapport.web.newclient import router as newclient_pages
    from rapport.web.notifications import router as notification_pages
    from rapport.web.returns import router as return_pages
    from rapport.web.stock import router as stock_pages
    from rapport.web.tasks import router as task_pages
    from rapport.web.unsubscribe import router as unsubscribe_pages

    app.include_router(ingest_router, prefix="/api/v1")
    app.include_router(customers_router, prefix="/api/v1")
    app.include_router(identity_router, prefix="/api/v1")
    app.include_router(shopify_router, prefix="/api/v1")
    app.include_router(clientbook_router, prefix="/api/v1")
    app.include_router(me_router, prefix="/api/v1")
    app.include_router(counter_router, prefix="/api/v1")
    app.include_router(tasks_router, prefix="/api/v1")
    app.include_router(campaigns_router, prefix="/api/v1")
    app.include_router(availability_router, prefix="/api/v1")
    app.include_router(holds_router, prefix="/api/v1")
    app.include_router(fulfilment_router, prefix="/api/v1")
    app.include_router(returns_router, prefix="/api/v1")
    app.include_router(outreach_router, prefix="/api/v1")
    app.include_router(appointments_router, prefix="/api/v1")
    app.include_router(appointment_setup_router, prefix="/api/v1")
    app.include_router(outreach_webhooks, prefix="/api/v1")
    app.include_router(templates_router, prefix="/api/v1")
    app.include_router(newclient_pages)  # /clients/new before /clients/{customer_id}
    app.include_router(book_pages)
    app.include_router(public_booking_pages)  # /book/{store}: after the client book's fixed paths
    app.include_router(notification_pages)
    app.include_router(audit_pages)
    app.include_router(campaign_pages)
    app.include_router(task_pages)
    app.include_router(stock_pages)
    app.include_router(hold_pages)
    app.include_router(fulfilment_pages)
    app.include_router(return_pages)
    app.include_router(conversation_pages)
    app.include_router(appointment_setup_pages)  # /appointments/setup before /appointments/{id}
    app.include_router(appointment_pages)
    app.include_router(unsubscribe_pages)
    app.include_router(look_pages)
    app.include_router(message_template_pages)
    app.include_router(clients_pages)
    mount_web(app)
    _publish_record_schemas(app)
    return app


def _publish_record_schemas(app: FastAPI) -> None:
    """Ingest bodies are parsed by hand (per-record errors); their schemas still belong in OpenAPI."""
    from fastapi.openapi.utils import get_openapi

    from rapport.ingest.api import record_schemas

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(record_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
