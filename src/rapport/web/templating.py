"""One Jinja2 environment for every page: autoescaping on, the layout, and what each page is given.

Capability packages keep their templates beside their routes (``customers/templates/...``) and add
the folder with :func:`add_template_dir`; every page extends ``base.html`` from here.

Each page gets, besides its own context: ``caller`` (the signed-in associate, or None),
``csrf_token`` (for forms: ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``;
HTMX requests send it as a header from ``<body hx-headers>``), ``nav`` (the bottom bar: only
screens that exist) and ``static_url(path)`` (a cache-busting URL under ``/static``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.responses import Response
from starlette.routing import NoMatchFound

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

_loaders: list[FileSystemLoader] = [FileSystemLoader(TEMPLATES_DIR)]
env = Environment(
    loader=ChoiceLoader(_loaders),
    autoescape=True,  # every template, whatever its extension: stored text is shown as text
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=env)


def add_template_dir(directory: Path) -> None:
    """Let a capability's own templates folder be found (its names should start with the capability)."""
    if not any(directory in loader.searchpath or str(directory) in loader.searchpath for loader in _loaders):
        _loaders.append(FileSystemLoader(directory))


@lru_cache(maxsize=256)
def _fingerprint(path: str) -> str:
    try:
        return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(path: str) -> str:
    """``/static/app.css?v=<content hash>``: browsers may cache it for long, a new release changes the URL."""
    return f"/static/{path}?v={_fingerprint(path)}"


env.globals["static_url"] = static_url


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    icon: str  # a glyph name from the inline SVG sprite in base.html


#: The bottom bar, in order. An item shows only once a route with that name exists.
NAV: tuple[NavItem, ...] = (
    NavItem("Home", "home", "home"),
    NavItem("Search", "search", "search"),
    NavItem("Clients", "client_book", "book"),
    NavItem("Inbox", "inbox", "chat"),
    NavItem("Calendar", "appointments", "calendar"),
    NavItem("Stock", "stock", "box"),
    NavItem("Alerts", "notifications", "bell"),
)


def route_exists(request: Request, name: str) -> bool:
    """Whether the app has a parameterless route of that name (screens appear as they are built)."""
    return _route_path(request.app, name) is not None


def _route_path(app: Any, name: str) -> str | None:
    cache: dict[str, str | None] | None = getattr(app.state, "route_paths", None)
    if cache is None:
        cache = app.state.route_paths = {}
    if name not in cache:
        try:
            cache[name] = str(app.url_path_for(name))
        except NoMatchFound:
            cache[name] = None
    return cache[name]


def nav_items(request: Request) -> list[dict[str, Any]]:
    current = getattr(request.scope.get("route"), "name", None)
    items = []
    for n in NAV:
        path = _route_path(request.app, n.route)
        if path is not None:
            items.append({"label": n.label, "href": path, "icon": n.icon, "current": n.route == current})
    return items if len(items) > 1 else []  # a bar with only "Home" helps nobody


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A full page or an HTMX fragment, with what every template may use."""
    caller = getattr(request.state, "caller", None)
    page: dict[str, Any] = {
        "caller": caller if getattr(caller, "kind", None) == "associate" else None,
        "csrf_token": getattr(caller, "csrf_token", None) or "",
        "nav": nav_items(request) if caller is not None else [],
        "route_exists": lambda route: route_exists(request, route),
        "is_htmx": request.headers.get("hx-request") == "true",
    }
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code, headers=headers)
