"""Products without pictures get a drawn tile, so purchase and wishlist lists stay recognisable."""

from __future__ import annotations

from xml.etree import ElementTree

from fastapi.testclient import TestClient

from rapport.web.product_images import product_kind, swatch
from tests.factories import ingest, ok, seed_reference


def test_a_style_is_drawn_in_its_colour_with_its_brand(db, app):
    seed_reference(db)
    ok(ingest(db, "products", {"sku": "BAG-1-BLK", "style_code": "BAG-1", "name": "Top-handle bag",
                               "brand": "Maison <b>Rapport</b>", "category": "Handbags", "colour": "Black",
                               "price": "2400.00", "currency": "EUR"}))  # fmt: skip
    response = TestClient(app).get("/static/products/BAG-1.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert "max-age" in response.headers["cache-control"]
    svg = ElementTree.fromstring(response.text)  # well-formed: the brand's markup is escaped text
    assert "Maison <b>Rapport</b>" in "".join(svg.itertext())
    assert 'fill="#1f1f1f"' in response.text


def test_an_unknown_style_is_a_404(db, app):
    client = TestClient(app)
    assert client.get("/static/products/NOPE-1.svg").status_code == 404
    assert client.get("/static/products/..%2Fapp.css.svg").status_code == 404
    assert client.get("/static/app.css").status_code == 200  # the rest of /static is untouched


def test_the_silhouette_follows_the_category_and_unknown_colours_get_a_stable_tone():
    assert product_kind("Sneakers", "Leather sneaker") == "shoe"
    assert product_kind("Fragrance", "Vetiver eau de parfum") == "bottle"
    assert product_kind("Coats", "Wool coat") == "garment"
    assert swatch("Black", "x") == "#1f1f1f"
    assert swatch("Aubergine", "STYLE-1") == swatch("Aubergine", "STYLE-1") != swatch("Aubergine", "STYLE-2")
