"""Sign-in, sign-out and the home screen. Thin: parse, authorise, call a service, render."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.associates import auth, users
from rapport.db import Database
from rapport.http import Caller, client_ip, csrf_checked, database, page_caller, read_session, session_caller
from rapport.settings import get_settings
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://...`` (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("/login"):
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().secure_cookies


def _login_page(
    request: Request, *, email: str = "", error: str | None = None, next_path: str = "/", status_code: int = 200
) -> Response:
    """The sign-in form with a fresh double-submit token (cookie + hidden field)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "email": email, "error": error, "next": next_path},
        status_code=status_code,
    )
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", name="login")
def login_form(request: Request, next: str | None = None, db: Database = Depends(database)) -> Response:
    if session_caller(request, db) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login", name="login_submit")
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
    db: Database = Depends(database),
) -> Response:
    target = _safe_next(next)
    email = email.strip()[:254]
    if not auth.csrf_matches(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(
            request,
            email=email,
            error="This sign-in form had expired. Please sign in again.",
            next_path=target,
            status_code=403,
        )
    if not email or not password:
        return _login_page(request, email=email, error="Enter your email and password.", next_path=target,
                           status_code=400)  # fmt: skip
    try:
        issued = auth.sign_in(db, email, password, ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    except auth.SignInThrottled as exc:
        response = _login_page(request, email=email, error=exc.message, next_path=target, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except auth.SignInRefused as exc:
        return _login_page(request, email=email, error=exc.message, next_path=target, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        issued.token,
        max_age=get_settings().session_max_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", name="logout")
def logout(request: Request, _caller: Caller = Depends(csrf_checked), db: Database = Depends(database)) -> Response:
    with db.write() as session:
        auth.sign_out(session, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = "/login"
    return response


@router.get("/", name="home")
def home(request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)) -> Response:
    """Today's appointments, open tasks, new assignments and recently viewed clients (one tap to each)."""
    from rapport.associates.home import home_screen
    from rapport.web.tasks import focus_context
    from rapport.web.when import when

    stores = users.stores_by_id(session, caller.store_ids)
    screen = home_screen(session, caller.id)
    context = {"stores": stores, "regions": caller.regions, "screen": screen, "when": when}
    return render(request, "home.html", {**focus_context(session, caller), **context})
