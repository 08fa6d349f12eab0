"""Product pictures for catalogues that have none: an SVG tile drawn from the product's own facts.

The demo retailer's products point at ``/static/products/{style}.svg`` (a real retailer's
``image_url`` points at its own CDN). Rather than ship two thousand files, this route draws a
small, cacheable tile — the category's silhouette in the product's colour, with its brand — so
the profile's purchases, wishlist and tried-on lists show something recognisable on the floor.
"""

from __future__ import annotations

import hashlib
import re
from html import escape

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.catalog.models import Product
from rapport.errors import NotFound
from rapport.http import read_session

router = APIRouter(include_in_schema=False)

_STYLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

#: Colour names (as the demo and most catalogues write them) to a swatch.
SWATCHES = {
    "black": "#1f1f1f", "white": "#f4f1ea", "ivory": "#efe6d2", "navy": "#1f2d4d", "blue": "#3a64a8",
    "camel": "#c19a6b", "tan": "#b5835a", "brown": "#6b4423", "burgundy": "#6d1f2f", "red": "#b3262e",
    "grey": "#8a8d91", "gray": "#8a8d91", "charcoal": "#3b3e42", "green": "#3e6b48", "olive": "#6b6b3a",
    "pink": "#e3a3b5", "beige": "#d9c7a7", "cream": "#f1e8d0", "gold": "#c9a13b", "silver": "#b9bcc0",
    "ecru": "#e8dfc8", "khaki": "#a39a6b", "sand": "#d6c29c", "indigo": "#2f3a6b", "chocolate": "#4a2c1d",
}  # fmt: skip

#: A simple silhouette per kind of product, drawn in a 100 x 100 box.
SHAPES = {
    "bag": '<path d="M25 40h50l6 45H19z"/><path d="M38 40v-8a12 12 0 0 1 24 0v8" fill="none" stroke-width="5"/>',
    "shoe": '<path d="M12 62c10 0 22-4 30-14l8 6c6 4 20 8 36 10v10H12z"/>',
    "bottle": '<rect x="34" y="38" width="32" height="46" rx="6"/><rect x="43" y="24" width="14" height="14" rx="2"/>',
    "garment": '<path d="M35 18l15 8 15-8 20 14-8 14-7-4v46H30V42l-7 4-8-14z"/>',
    "trousers": '<path d="M32 16h36l6 70H56l-6-44-6 44H26z"/>',
    "scarf": '<path d="M30 18h40v50l-8 18H38l-8-18z"/>',
    "glasses": '<circle cx="33" cy="52" r="13"/><circle cx="67" cy="52" r="13"/><path d="M46 50h8" stroke-width="4"/>',
    "ring": '<circle cx="50" cy="56" r="22" fill="none" stroke-width="8"/><circle cx="50" cy="30" r="8"/>',
    "jar": '<rect x="28" y="36" width="44" height="46" rx="8"/><rect x="32" y="26" width="36" height="12" rx="3"/>',
}
_KIND_BY_WORD = (
    ("bag", ("bag", "tote", "wallet", "holder", "pouch", "leather goods", "belt")),
    ("shoe", ("shoe", "sneaker", "boot", "loafer", "pump", "sandal", "mule")),
    ("bottle", ("fragrance", "parfum", "perfume", "serum", "skincare", "cleanser")),
    ("jar", ("candle", "home", "cream", "balm")),
    ("trousers", ("trouser", "denim", "jean", "skirt")),
    ("scarf", ("scarf", "stole", "carré")),
    ("glasses", ("sunglasses", "glasses")),
    ("ring", ("jewellery", "jewelry", "ring", "necklace", "bracelet", "hoop")),
)


def product_kind(category: str | None, name: str | None) -> str:
    text = f"{category or ''} {name or ''}".lower()
    for kind, words in _KIND_BY_WORD:
        if any(w in text for w in words):
            return kind
    return "garment"


def swatch(colour: str | None, seed: str) -> str:
    if colour and colour.strip().lower() in SWATCHES:
        return SWATCHES[colour.strip().lower()]
    digest = hashlib.sha256(seed.encode()).digest()  # a stable, muted tone for unknown colours
    return f"#{60 + digest[0] % 120:02x}{60 + digest[1] % 120:02x}{60 + digest[2] % 120:02x}"


def tile(*, category: str | None, name: str | None, brand: str | None, colour: str | None, seed: str) -> str:
    fill = swatch(colour, seed)
    light = fill.lower() in ("#f4f1ea", "#efe6d2", "#f1e8d0", "#e8dfc8", "#d9c7a7", "#d6c29c")
    stroke = "#8a8174" if light else fill
    label = escape((brand or category or "")[:22])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="160" height="160" role="img" '
        f'aria-label="{escape(name or category or "product")}">'
        '<rect width="100" height="100" rx="10" fill="#f3f0eb"/>'
        f'<g fill="{fill}" stroke="{stroke}" stroke-linejoin="round">{SHAPES[product_kind(category, name)]}</g>'
        f'<text x="50" y="96" font-family="sans-serif" font-size="7" fill="#5b5348" text-anchor="middle">{label}</text>'
        "</svg>"
    )


@router.get("/static/products/{style_code}.svg", name="product_image")
def product_image(style_code: str, session: Session = Depends(read_session)) -> Response:
    if not _STYLE.fullmatch(style_code):
        raise NotFound(f"no product image {style_code!r}")
    row = session.execute(
        select(Product.category, Product.name, Product.brand, Product.colour)
        .where(Product.style_code == style_code)
        .order_by(Product.id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no product of style {style_code!r}")
    svg = tile(category=row.category, name=row.name, brand=row.brand, colour=row.colour, seed=style_code)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
