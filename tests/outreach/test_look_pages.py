"""Looks on the web: the client's public page and tracked links (no sign-in), and the associate's builder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import NoMatchFound

from rapport.app import create_app
from rapport.associates.models import AuditEvent
from rapport.catalog.models import Product
from rapport.customers.models import TimelineEntry
from rapport.db import Database
from rapport.outreach import links, look_pages, looks
from rapport.outreach.models import Look
from tests.associates.staff import Team, cheap_hashing, team
from tests.factories import ingest, ok
from tests.web.conftest import signed_in

HTMX = {"HX-Request": "true"}
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"
)
NOTE = "<script>alert('hi')</script>\nThe coat goes with the scarf & the knit."


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@dataclass(frozen=True)
class Shop:
    team: Team
    client: int
    coat: int
    scarf: int


@pytest.fixture
def shop(db: Database) -> Shop:
    staff = team(db)
    ok(ingest(db, "products",
        {"sku": "COAT-CAMEL-M", "style_code": "COAT-CAMEL", "name": "Camel wool coat", "brand": "Maison",
         "category": "coats", "colour": "camel", "size": "M", "price": "1200.00", "currency": "EUR"},
        {"sku": "SCARF-SILK", "name": "Silk scarf", "brand": "Maison", "category": "accessories", "price": "45.50",
         "currency": "EUR"},
    ))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 2},
              {"sku": "SCARF-SILK", "location": "PAR", "on_hand": 3}))  # fmt: skip
    (made,) = ok(ingest(db, "customers", {
        "source": "pos", "id": "A1", "first_name": "Alicia", "last_name": "Moreau", "home_store": "PAR",
        "emails": ["alicia@example.com"], "preferences": {"colours": ["camel"]}, "sizes": {"tops": "M"},
    })).outcomes  # fmt: skip
    assert made.id is not None
    with db.read() as s:
        skus = dict(s.execute(select(Product.sku, Product.id)).all())
    return Shop(staff, made.id, skus["COAT-CAMEL-M"], skus["SCARF-SILK"])


@pytest.fixture
def app(db: Database) -> FastAPI:
    app = create_app()
    try:
        app.url_path_for("look_public")
    except NoMatchFound:  # app.py mounts the pages; a tree where it does not yet still gets them here
        app.include_router(look_pages.router)
    return app


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False, headers={"User-Agent": PHONE})


def a_look(db: Database, shop: Shop, *, note: str = NOTE, title: str = "Opera <b>night</b>") -> looks.LookView:
    with db.write() as s:
        return looks.create_look(s, associate_id=shop.team.ana, customer_id=shop.client, title=title, note=note,
                                 skus_or_product_ids=[shop.coat, shop.scarf])  # fmt: skip


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# -- public ------------------------------------------------------------------------------------------


def test_anyone_with_the_link_sees_the_look_with_the_note_as_text(
    db: Database, browser: TestClient, shop: Shop
) -> None:
    look = a_look(db, shop)
    page = browser.get(f"/looks/{look.code}")
    assert page.status_code == 200, page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt;" in page.text
    assert "Opera &lt;b&gt;night&lt;/b&gt;" in page.text and "<b>night" not in page.text
    words = text_of(page.text)
    assert "Put together for you by Ana Duval, Paris Saint-Honoré" in words
    assert "Camel wool coat" in words and "€1,200.00" in words and "Silk scarf" in words and "€45.50" in words
    assert 'href="/looks/product/COAT-CAMEL-M"' in page.text and 'src="/static/products/COAT-CAMEL.svg"' in page.text
    assert "Alicia" not in page.text and "alicia@example.com" not in page.text  # nothing about the client
    assert '<meta name="viewport" content="width=device-width' in page.text
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert page.headers["cache-control"] == "private, no-store" and page.headers["x-robots-tag"] == "noindex, nofollow"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "tabbar" not in page.text and "/login" not in page.text  # no associate-app chrome


def test_an_unknown_look_or_link_is_a_plain_404_page(browser: TestClient, shop: Shop) -> None:
    for path in ("/looks/AAAAAAAAAAAAAAAAAAAAAAAA", "/looks/product/NOPE", "/r/AAAAAAAAAAAA", "/r/x"):
        page = browser.get(path)
        assert page.status_code == 404, path
        assert "This link is not available" in page.text and page.headers["cache-control"] == "private, no-store"


def test_a_tracked_link_counts_the_visit_then_sends_the_client_to_the_product(
    db: Database, browser: TestClient, shop: Shop
) -> None:
    with db.write() as s:
        code = links.shorten(s, target_kind="product", product_id=shop.coat, associate_id=shop.team.ana,
                             customer_id=shop.client)  # fmt: skip
    hop = browser.get(f"/r/{code}")
    assert hop.status_code == 302 and hop.headers["location"] == f"/looks/product/COAT-CAMEL-M?via={code}"
    assert "no-store" in hop.headers["cache-control"]
    with db.read() as s:
        entries = list(s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "link_opened")))
    assert [(e.customer_id, e.data["associate_id"]) for e in entries] == [(shop.client, shop.team.ana)]
    landing = browser.get(hop.headers["location"])
    assert landing.status_code == 200
    words = text_of(landing.text)
    assert "Chosen for you by Ana Duval, Paris Saint-Honoré" in words and "Camel wool coat" in words
    assert "camel · size M" in words and "€1,200.00" in words


def test_a_look_link_sends_the_client_to_the_look(db: Database, browser: TestClient, shop: Shop) -> None:
    look = a_look(db, shop)
    with db.write() as s:
        code = links.shorten(s, target_kind="look", look_id=look.id, associate_id=shop.team.ana,
                             customer_id=shop.client)  # fmt: skip
    hop = browser.get(f"/r/{code}")
    assert hop.status_code == 302 and hop.headers["location"] == f"/looks/{look.code}"


# -- the builder -------------------------------------------------------------------------------------


def test_the_builder_is_for_signed_in_associates(browser: TestClient, shop: Shop) -> None:
    page = browser.get(f"/clients/{shop.client}/looks/new")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


def test_the_builder_suggests_first_and_searches_as_the_associate_types(
    db: Database, browser: TestClient, shop: Shop
) -> None:
    signed_in(browser, "ben@maison.example")  # New York: any associate may make a look for any client
    page = browser.get(f"/clients/{shop.client}/looks/new")
    assert page.status_code == 200, page.text
    assert "A look for Alicia Moreau" in page.text and page.headers["cache-control"] == "private, no-store"
    with db.read() as s:  # the client's history is on the page: audited as a view, like the profile
        assert s.scalar(select(AuditEvent.customer_id).where(AuditEvent.action == "client.viewed")) == shop.client
    suggested = page.text[page.text.index('id="look-sugg-h"') : page.text.index('id="look-search-h"')]
    assert f'value="{shop.coat}"' in suggested and "in their favourite colour, camel" in suggested
    assert 'form="look-form"' in suggested

    typed = browser.get(f"/clients/{shop.client}/looks/products", params={"q": "silk"}, headers=HTMX)
    assert typed.status_code == 200 and "<html" not in typed.text
    assert f'value="{shop.scarf}"' in typed.text and "checked" not in typed.text
    # What was ticked among earlier results stays, ticked, while the associate searches again.
    again = browser.get(f"/clients/{shop.client}/looks/products", params={"q": "zzz", "product_id": shop.scarf},
                        headers=HTMX)  # fmt: skip
    assert re.search(rf'value="{shop.scarf}" form="look-form" checked', again.text)
    assert "No product matches “zzz”" in again.text
    plain = browser.get(f"/clients/{shop.client}/looks/products", params={"q": "silk"})
    assert plain.status_code == 303 and plain.headers["location"] == f"/clients/{shop.client}/looks/new?q=silk"
    assert "Silk scarf" in browser.get(plain.headers["location"]).text


def test_saving_a_look_goes_on_to_the_conversation_to_send_it(db: Database, browser: TestClient, shop: Shop) -> None:
    token = signed_in(browser, "ana@maison.example")
    saved = browser.post(f"/clients/{shop.client}/looks", data={
        "csrf_token": token, "title": "For Milan", "note": "Warm enough for November.",
        "product_id": [str(shop.scarf), str(shop.coat)],
    })  # fmt: skip
    assert saved.status_code == 303, saved.text
    with db.read() as s:
        look = s.scalars(select(Look)).one()
        view = looks.get_look(s, look.id)
    assert saved.headers["location"] == f"/clients/{shop.client}/conversation?look={look.id}"
    assert view is not None and [p.id for p in view.products] == [shop.scarf, shop.coat]
    assert (view.associate_id, view.customer_id, view.title) == (shop.team.ana, shop.client, "For Milan")


def test_a_look_with_problems_comes_back_with_each_beside_its_field(
    db: Database, browser: TestClient, shop: Shop
) -> None:
    token = signed_in(browser, "ana@maison.example")
    page = browser.post(f"/clients/{shop.client}/looks", data={"csrf_token": token, "title": " ", "note": NOTE})
    assert page.status_code == 422
    assert "give the look a title" in page.text and "choose at least one product" in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text  # the note kept, as text
    with db.read() as s:
        assert s.scalars(select(Look)).first() is None


def test_saving_needs_the_sessions_csrf_token_and_a_real_client(browser: TestClient, shop: Shop) -> None:
    token = signed_in(browser, "ana@maison.example")
    form = {"title": "For Milan", "product_id": [str(shop.coat)]}
    assert browser.post(f"/clients/{shop.client}/looks", data=form).status_code == 403
    assert browser.post("/clients/99999/looks", data={**form, "csrf_token": token}).status_code == 404
    assert browser.get("/clients/99999/looks/new").status_code == 404
