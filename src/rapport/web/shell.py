"""The app shell around every page: static files, error pages, the sign-in redirect, security headers.

Error answers depend on who asked: ``/api/...`` (and anything asking only for JSON) keeps its
JSON errors; a person in a browser gets a page — 404, 403 or 500 — never a stack trace.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rapport.http import SignInRequired
from rapport.web.templating import STATIC_DIR, render

log = logging.getLogger(__name__)

mimetypes.add_type("application/manifest+json", ".webmanifest")

#: Scripts only from this site (htmx is served from /static, never a CDN); no framing; forms post here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def wants_html(request: Request) -> bool:
    """A browser page rather than an API client: not under /api/ and not asking for JSON only."""
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    return not (accept.startswith("application/json") and "text/html" not in accept)


def error_page(request: Request, status_code: int, message: str | None = None) -> Response:
    """The 404, 403 or 500 page (others use the 500 layout with their own status)."""
    template = {404: "errors/404.html", 401: "errors/403.html", 403: "errors/403.html"}.get(
        status_code, "errors/500.html"
    )
    try:
        title = HTTPStatus(status_code).phrase
    except ValueError:
        title = "Error"
    context = {"status_code": status_code, "title": title, "message": message}
    try:
        return render(request, template, context, status_code=status_code)
    except Exception:  # the error page itself must never fail into a stack trace
        log.exception("error page %s failed to render", template)
        return Response(f"{status_code} {title}", status_code=status_code, media_type="text/plain")


class CachedStaticFiles(StaticFiles):
    """Static files with a cache lifetime: long for fingerprinted URLs (``?v=``), short otherwise."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200) -> Any:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
        )
        return response


def mount(app: FastAPI) -> None:
    """Add the pages, /static and the HTML error handling to ``app``."""
    from rapport.web.pages import router
    from rapport.web.product_images import router as product_images

    app.include_router(router)
    app.include_router(product_images)  # /static/products/*.svg, drawn; before the /static mount
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            # Come back to the page the person was on, not to the fragment HTMX asked for.
            return Response(status_code=401, headers={"HX-Redirect": _login_url(_htmx_page(request))})
        target = _login_url(exc.next_path)
        if not wants_html(request):
            return JSONResponse({"error": "unauthorized", "detail": "sign in first"}, status_code=401)
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        response = error_page(request, exc.status_code, _public_detail(exc))
        for key, value in (exc.headers or {}).items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # Starlette logs the exception and re-raises it after this answer; the person sees no trace.
        if not wants_html(request):
            return JSONResponse({"error": "internal", "detail": "internal error"}, status_code=500)
        return error_page(request, 500)

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Plain ASGI (no BaseHTTPMiddleware overhead): nosniff and a referrer policy on every answer,
    a content security policy and no framing on pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"


def _htmx_page(request: Request) -> str:
    """The path of the page an HTMX request came from (``HX-Current-URL``), if it is on this site."""
    current = urlsplit(request.headers.get("hx-current-url", ""))
    if current.netloc and current.netloc != request.url.netloc:
        return "/"
    return current.path + (f"?{current.query}" if current.query else "") if current.path else "/"


def _public_detail(exc: StarletteHTTPException) -> str | None:
    """Starlette's own details ("Not Found") add nothing to the page; a route's own message does."""
    detail = exc.detail if isinstance(exc.detail, str) else None
    try:
        default = HTTPStatus(exc.status_code).phrase
    except ValueError:
        default = None
    return None if detail == default else detail
