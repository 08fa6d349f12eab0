"""The app shell: a small, local, installable front end; stored text shown as text; error pages."""

from __future__ import annotations

import json
import re
import struct

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient

from rapport.associates import users
from rapport.errors import NotFound, PermissionDenied
from rapport.http import Caller, page_caller
from rapport.web.templating import STATIC_DIR, env
from tests.associates.staff import PASSWORD
from tests.web.conftest import sign_in, signed_in

# -- a page a phone can afford ----------------------------------------------------------------------


def test_the_layout_is_mobile_first_and_loads_nothing_from_elsewhere(browser, staffed):
    signed_in(browser, "ana@maison.example")
    page = browser.get("/")
    html = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1' in html
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts + styles)
    assert "<script>" not in html  # no inline script: the policy below forbids it
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in scripts + styles:
        response = browser.get(asset)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_htmx_is_vendored_and_the_stylesheet_is_small(browser):
    htmx = browser.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "javascript" in htmx.headers["content-type"]
    assert "htmx" in htmx.text[:200] and len(htmx.content) < 60_000
    assert len((STATIC_DIR / "app.css").read_bytes()) < 20_000


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_app_is_installable_with_a_manifest_and_two_icons(browser):
    response = browser.get("/static/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = set()
    for icon in manifest["icons"]:
        png = browser.get(icon["src"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        width, height = _png_size(png.content)
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert sizes == {192, 512}


# -- stored text is text ----------------------------------------------------------------------------


def test_every_template_is_autoescaped():
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_a_name_with_a_script_tag_is_shown_as_text(db, browser, staffed):
    evil = '<script>alert("boo")</script> Eve'
    with db.write() as session:
        users.add_user(session, "eve@maison.example", evil, "associate", PASSWORD, stores=["PAR"])
    signed_in(browser, "eve@maison.example")
    html = browser.get("/").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;boo&#34;)&lt;/script&gt; Eve" in html


def test_what_was_typed_in_the_sign_in_form_comes_back_escaped(browser, staffed):
    response = sign_in(browser, '"><script>alert(1)</script>@x.example', password="whatever it is")
    assert response.status_code == 401
    assert "<script>alert(1)</script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text


# -- error pages, never a stack trace ---------------------------------------------------------------


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    router = APIRouter()

    @router.get("/test/clients/{customer_id}", name="test_client")
    def client_page(customer_id: int, _caller: Caller = Depends(page_caller)) -> None:
        raise NotFound(f"client {customer_id} not found")

    @router.get("/test/forbidden")
    def forbidden(_caller: Caller = Depends(page_caller)) -> None:
        raise PermissionDenied("client 7 belongs to another store's clients")

    @router.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @router.get("/api/v1/test/boom")
    def api_boom() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    return app


def test_an_unknown_page_is_a_404_page(browser):
    response = browser.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "We could not find that page" in response.text and "Traceback" not in response.text
    assert browser.get("/static/no-such.css").status_code == 404


def test_an_unknown_api_path_stays_json(browser):
    response = browser.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_an_unknown_client_is_a_404_page_and_a_malformed_id_too(failing_app, staffed):
    client = TestClient(failing_app, follow_redirects=False)
    signed_in(client, "ana@maison.example")
    unknown = client.get("/test/clients/424242")
    assert unknown.status_code == 404 and "client 424242 not found" in unknown.text
    assert "Ana Duval" in unknown.text  # the page keeps the signed-in layout
    malformed = client.get("/test/clients/not-a-number")
    assert malformed.status_code == 404 and "We could not find that page" in malformed.text


def test_a_refusal_is_a_403_page_that_says_why(failing_app, staffed):
    client = TestClient(failing_app, follow_redirects=False)
    signed_in(client, "ana@maison.example")
    response = client.get("/test/forbidden")
    assert response.status_code == 403
    assert "belongs to another store" in response.text and "text/html" in response.headers["content-type"]


def test_a_crash_is_a_500_page_without_the_details(failing_app):
    client = TestClient(failing_app, raise_server_exceptions=False)
    page = client.get("/test/boom")
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
    api = client.get("/api/v1/test/boom")
    assert api.status_code == 500 and api.json() == {"error": "internal", "detail": "internal error"}


# -- the bottom bar shows only screens that exist ---------------------------------------------------


def test_the_bottom_bar_lists_the_screens_that_exist(app, staffed):
    client = TestClient(app, follow_redirects=False)
    signed_in(client, "ana@maison.example")
    html = client.get("/").text
    bar = html[html.index('<nav class="tabbar"') : html.index("</nav>")]
    assert re.findall(r'<a href="([^"]+)"', bar) == [
        "/",
        "/search",
        "/clients/book",
        "/inbox",
        "/appointments",
        "/stock",
        "/notifications",
    ]
    assert 'aria-current="page"' in bar.split("</a>")[0]
    assert 'action="/search"' in html  # and the home screen offers the search box


def test_a_bar_with_only_home_is_not_shown():
    from rapport.web.templating import nav_items

    bare = FastAPI()

    @bare.get("/", name="home")
    def home(request: Request) -> list[dict[str, object]]:
        return nav_items(request)

    assert TestClient(bare).get("/").json() == []
