"""The stock screen on the phone: find a product as you type, then its size grid from the associate's
store (Here, the nearest stores, Online), holds one tap away, and the "everywhere" list."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from rapport.db import Database
from tests.associates.staff import Team
from tests.factories import ingest, ok
from tests.inventory.conftest import STYLE, stock_the_dress
from tests.web.conftest import signed_in

ANA, ADA = "ana@maison.example", "ada@maison.example"


def stocked(db: Database, browser: TestClient, email: str = ANA) -> None:
    stock_the_dress(db)
    signed_in(browser, email)


def grid(html: str) -> str:
    found = re.search(r'<table class="grid">.*?</table>', html, re.S)
    assert found, html[:3000]
    return found.group(0)


def test_the_stock_tab_finds_products_as_you_type_and_without_javascript(db, browser, staffed: Team) -> None:
    stocked(db, browser)
    page = browser.get("/stock")
    assert page.status_code == 200
    assert re.search(r'<a href="/stock" aria-current="page">', page.text)  # the bottom bar's Stock tab
    assert 'hx-get="/stock/results"' in page.text and 'action="/stock"' in page.text

    typed = browser.get("/stock/results", params={"q": "silk"}, headers={"HX-Request": "true"})
    assert typed.status_code == 200 and typed.headers["HX-Replace-Url"] == "/stock?q=silk"
    assert f'href="/stock/{STYLE}"' in typed.text and "5 sizes" in typed.text and "<html" not in typed.text

    plain = browser.get("/stock", params={"q": "DRESS-SILK-M"})
    assert f'href="/stock/{STYLE}"' in plain.text
    assert browser.get("/stock/results", params={"q": "x"}).status_code == 303  # no HTMX: the full page
    assert "No product matches" in browser.get("/stock", params={"q": "zzz"}).text


def test_the_grid_looks_from_the_associates_store_with_holds_one_tap_away(db, browser, staffed: Team) -> None:
    stocked(db, browser)
    page = browser.get(f"/stock/{STYLE}")
    assert page.status_code == 200, page.text
    table = grid(page.text)
    heads = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table, re.S)
    assert [re.sub(r"<[^>]+>", " ", h).split() for h in heads][:3] == [["Size"], ["Here"], ["London", "343", "km"]]
    assert "Online" in heads[-1] and len(heads) == 6  # size, here, three nearest stores, online: fits 375 px
    assert '<meta name="viewport" content="width=device-width, initial-scale=1' in page.text
    assert "stock.css" in page.text and "Silk slip dress" in page.text and "€890.00" in page.text
    # M: 2 to hold here, 1 (low) in London, 4 in Lyon, none in Milan, 11 online (no hold: not a store).
    m_row = re.search(r'<th scope="row" class="size-col">M</th>(.*?)</tr>', table, re.S)
    assert m_row
    cells = re.findall(r'<td class="cell([^"]*)">(.*?)</td>', m_row.group(1), re.S)
    assert [c[0].strip() for c in cells] == ["low", "low", "", "none", ""]  # 2 here and 1 in London: low
    assert 'href="/holds/new?sku=DRESS-SILK-M&amp;location=PAR"' in cells[0][1] and "Hold" in cells[0][1]
    assert 'href="/holds/new?sku=DRESS-SILK-M&amp;location=LON"' in cells[1][1]
    assert "11" in cells[4][1] and "href" not in cells[4][1] and "href" not in cells[3][1]
    # Everywhere: Paris first, then by distance; a warehouse's units are not held from the floor.
    everywhere = page.text[page.text.index('id="h-everywhere"') :]
    assert everywhere.index("Paris Saint-Honoré") < everywhere.index("European distribution centre")
    assert 'href="/holds/new?sku=DRESS-SILK-M&amp;location=WH-EU"' not in page.text


def test_another_store_can_be_looked_from(db, browser, staffed: Team) -> None:
    stocked(db, browser)
    london = browser.get(f"/stock/{STYLE}", params={"store": "LON"})
    assert "From London Marylebone" in london.text and 'href="/stock/DRESS-SILK">my store</a>' in london.text
    heads = re.findall(r'<span class="place"[^>]*>(.*?)</span>', grid(london.text))
    assert heads[:3] == ["Here", "Paris", "Lyon"]
    unknown = browser.get(f"/stock/{STYLE}", params={"store": "ATLANTIS"})
    assert unknown.status_code == 200 and "No store “ATLANTIS”" in unknown.text and "From Paris" in unknown.text


def test_names_are_shown_as_text_never_run(db, browser, staffed: Team) -> None:
    stocked(db, browser)
    ok(ingest(db, "products", {"sku": "EVIL-1", "style_code": "EVIL", "name": "<script>alert(1)</script> bag",
                               "brand": '"><img src=x onerror=alert(2)>', "size": "M", "price": "10",
                               "currency": "EUR"}))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "EVIL-1", "location": "PAR", "on_hand": 1}))
    for page in (browser.get("/stock/EVIL"), browser.get("/stock", params={"q": "<script>"})):
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt; bag" in page.text
        assert "<img src=x" not in page.text


def test_without_a_home_store_the_grid_has_no_here_column_and_unknown_styles_are_404(
    db, browser, staffed: Team
) -> None:
    stocked(db, browser, ADA)  # head office: no store
    page = browser.get(f"/stock/{STYLE}")
    assert page.status_code == 200 and ">Here<" not in grid(page.text) and "No home store" in page.text
    assert browser.get("/stock/NOPE").status_code == 404


def test_signed_out_the_stock_screen_asks_to_sign_in(db, browser) -> None:
    answer = browser.get(f"/stock/{STYLE}")
    assert answer.status_code in (303, 307) and "/login" in answer.headers["location"]
