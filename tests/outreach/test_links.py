"""Tracked short links: /r/{code} counts each visit, puts it on the client's timeline with the associate who
sent it (the touch attribution counts), and sends the visitor on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rapport import clock
from rapport.associates.models import Associate
from rapport.associates.notifications import EmailSettings, set_email_settings
from rapport.catalog.models import Product
from rapport.customers.models import Customer, TimelineEntry
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.outreach import links, looks
from rapport.outreach.models import Message, ShortLink
from tests.factories import alicia, ingest, ok, seed_reference

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
PUBLIC = "https://clients.maison.example"


@pytest.fixture(autouse=True)
def public_url() -> Iterator[None]:
    set_email_settings(EmailSettings(public_url=PUBLIC + "/"))
    yield
    set_email_settings(None)


@pytest.fixture
def shop(db: Database) -> Database:
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    return db


def ids(db: Database) -> dict[str, int]:
    with db.read() as s:
        found = dict(s.execute(select(Product.sku, Product.id)).all())
        found["ana"] = s.scalar(select(Associate.id).where(Associate.code == "ANA"))
        found["alicia"] = s.scalar(select(Customer.id).where(Customer.first_name == "Alicia"))
    return found


def message(db: Database, customer_id: int, associate_id: int) -> int:
    with db.write() as s:
        row = Message(
            customer_id=customer_id, direction="out", channel="sms", provider="outbox", status="outbox",
            associate_id=associate_id, business_address="+33100000000", client_address="+33612345678",
            body="Hello", idempotency_key="m1", created_at=clock.now(), data={},
        )  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def shorten(db: Database, **given: object) -> str:
    with db.write() as s:
        return links.shorten(s, **given)  # type: ignore[arg-type]


def visit(db: Database, code: str, user_agent: str | None = BROWSER) -> str | None:
    with db.write() as s:
        return links.visit(s, code, user_agent=user_agent, ip="203.0.113.7")


def opened(db: Database) -> list[TimelineEntry]:
    with db.read() as s:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == "link_opened").order_by(TimelineEntry.id)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def the_link(db: Database, code: str) -> ShortLink:
    with db.read() as s:
        link = s.scalar(select(ShortLink).where(ShortLink.code == code))
        assert link is not None
        s.expunge(link)
        return link


def test_a_link_has_an_unguessable_code_under_the_public_address(shop: Database) -> None:
    n = ids(shop)
    code = shorten(shop, target_kind="product", product_id=n["COAT-CAMEL-M"], associate_id=n["ana"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", code)
    assert links.short_url(code) == f"{PUBLIC}/r/{code}"
    assert shorten(shop, target_kind="product", product_id=n["COAT-CAMEL-M"]) != code


def test_a_link_needs_the_target_its_kind_names(shop: Database) -> None:
    n = ids(shop)

    def field(**given: object) -> str:
        with pytest.raises(InvalidRecord) as caught:
            shorten(shop, **given)
        return caught.value.errors[0].field

    assert field(target_kind="product") == "product_id"
    assert field(target_kind="product", product_id=99999) == "product_id"
    assert field(target_kind="product", product_id=n["SCARF-SILK"], url="https://x.example") == "url"
    assert field(target_kind="look", look_id=99999) == "look_id"
    assert field(target_kind="url", url="javascript:alert(1)") == "url"
    assert field(target_kind="url", url="https://x.example/" + "a" * 1000) == "url"
    assert field(target_kind="shop", url="https://x.example") == "target_kind"


def test_each_visit_counts_and_puts_one_link_opened_entry_with_the_associate_on_the_timeline(
    shop: Database, fixed_clock
) -> None:
    n = ids(shop)
    message_id = message(shop, n["alicia"], n["ana"])
    code = shorten(shop, target_kind="product", product_id=n["COAT-CAMEL-M"], associate_id=n["ana"],
                   customer_id=n["alicia"], message_id=message_id)  # fmt: skip
    first = clock.now()
    assert visit(shop, code) == f"/looks/product/COAT-CAMEL-M?via={code}"
    fixed_clock.advance(timedelta(hours=3))
    assert visit(shop, code) == f"/looks/product/COAT-CAMEL-M?via={code}"

    link = the_link(shop, code)
    assert (link.visits, link.first_visit_at, link.last_visit_at) == (2, first, first + timedelta(hours=3))
    entries = opened(shop)
    assert [e.external_id for e in entries] == [f"{code}:1", f"{code}:2"]
    entry = entries[0]
    assert (entry.customer_id, entry.channel, entry.actor_kind, entry.source) == (n["alicia"], "web", "client",
                                                                                  "rapport.links")  # fmt: skip
    assert (entry.ref_type, entry.ref_id, entry.product_id, entry.occurred_at) == ("short_link", link.id,
                                                                                  n["COAT-CAMEL-M"], first)  # fmt: skip
    assert entry.data == {"associate_id": n["ana"], "code": code, "target_kind": "product",
                          "product_id": n["COAT-CAMEL-M"], "message_id": message_id}  # fmt: skip
    assert entry.summary == "Opened Camel wool coat sent by Ana"
    assert "203.0.113.7" not in str(entry.data)  # the visitor's address is not kept


def test_a_link_for_no_client_counts_visits_but_writes_no_timeline_entry(shop: Database) -> None:
    n = ids(shop)
    code = shorten(shop, target_kind="product", product_id=n["SCARF-SILK"], associate_id=n["ana"])
    assert visit(shop, code) == f"/looks/product/SCARF-SILK?via={code}"
    assert the_link(shop, code).visits == 1
    assert opened(shop) == []


def test_a_look_link_leads_to_the_look_page_and_an_address_link_to_its_address(shop: Database) -> None:
    n = ids(shop)
    with shop.write() as s:
        look = looks.create_look(s, associate_id=n["ana"], customer_id=n["alicia"], title="Opera night", note="",
                                 skus_or_product_ids=["SCARF-SILK"])  # fmt: skip
    to_look = shorten(shop, target_kind="look", look_id=look.id, associate_id=n["ana"], customer_id=n["alicia"])
    to_page = shorten(shop, target_kind="url", url="https://maison.example/stores/paris", customer_id=n["alicia"])
    assert visit(shop, to_look) == f"/looks/{look.code}"
    assert visit(shop, to_page) == "https://maison.example/stores/paris"
    look_entry, page_entry = opened(shop)
    assert look_entry.summary == "Opened the look “Opera night” sent by Ana"
    assert look_entry.data["look_id"] == look.id and "product_id" not in look_entry.data
    assert page_entry.summary == "Opened a link" and page_entry.data["associate_id"] is None


def test_an_unknown_code_leads_nowhere_and_counts_nothing(shop: Database) -> None:
    assert visit(shop, "AAAAAAAAAAAA") is None
    assert visit(shop, "../../admin") is None
    assert visit(shop, "") is None
    assert opened(shop) == []


def test_link_preview_robots_are_sent_on_but_not_counted(shop: Database) -> None:
    n = ids(shop)
    code = shorten(shop, target_kind="product", product_id=n["SCARF-SILK"], customer_id=n["alicia"])
    robots = ("WhatsApp/2.23.20.0 A", "facebookexternalhit/1.1 Facebot Twitterbot/1.0", "TelegramBot (like TwitterBot)",
              "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")  # fmt: skip
    for robot in robots:
        assert visit(shop, code, user_agent=robot) == f"/looks/product/SCARF-SILK?via={code}"
    assert the_link(shop, code).visits == 0 and opened(shop) == []
    assert visit(shop, code, user_agent=None) is not None  # no user agent at all: counted, when in doubt
    assert the_link(shop, code).visits == 1 and len(opened(shop)) == 1


def test_linkify_turns_each_sku_reference_into_one_tracked_link(shop: Database) -> None:
    n = ids(shop)
    text = "The [[COAT-CAMEL-M]] with the [[ SCARF-SILK ]]; the coat again: [[COAT-CAMEL-M]]. [not] [[]]"
    with shop.write() as s:
        new, codes = links.linkify(s, text, associate_id=n["ana"], customer_id=n["alicia"])
    coat, scarf = (links.short_url(c) for c in codes)
    assert new == f"The {coat} with the {scarf}; the coat again: {coat}. [not] [[]]"
    with shop.read() as s:
        made = {r.code: r for r in s.scalars(select(ShortLink))}
    assert [made[c].product_id for c in codes] == [n["COAT-CAMEL-M"], n["SCARF-SILK"]]
    made_for = {(r.associate_id, r.customer_id, r.target_kind) for r in made.values()}
    assert made_for == {(n["ana"], n["alicia"], "product")}
    with shop.write() as s:
        assert links.linkify(s, "No references here.", associate_id=n["ana"], customer_id=None) == (
            "No references here.", [])  # fmt: skip


def test_linkify_refuses_an_unknown_sku_naming_it_and_makes_no_link(shop: Database) -> None:
    n = ids(shop)
    with pytest.raises(InvalidRecord) as caught, shop.write() as s:
        links.linkify(s, "See [[SCARF-SILK]] and [[NOPE-42]]", associate_id=n["ana"], customer_id=n["alicia"])
    (error,) = caught.value.errors
    assert error.field == "body" and "NOPE-42" in error.message
    with shop.read() as s:
        assert s.scalar(select(func.count()).select_from(ShortLink)) == 0


def test_the_links_of_a_message_come_with_their_visits(shop: Database) -> None:
    n = ids(shop)
    message_id = message(shop, n["alicia"], n["ana"])
    with shop.write() as s:
        _, codes = links.linkify(s, "[[SCARF-SILK]] [[FRAG-50]]", associate_id=n["ana"], customer_id=n["alicia"],
                                 message_id=message_id)  # fmt: skip
    visit(shop, codes[1])
    with shop.read() as s:
        found = links.links_of_message(s, message_id)
    assert [(v.code, v.visits, v.short_url) for v in found] == [
        (codes[0], 0, f"{PUBLIC}/r/{codes[0]}"), (codes[1], 1, f"{PUBLIC}/r/{codes[1]}")]  # fmt: skip


def test_visits_at_the_same_moment_are_each_counted_once(pg_db: Database) -> None:
    seed_reference(pg_db)
    ok(ingest(pg_db, "customers", alicia()))
    n = ids(pg_db)
    code = shorten(pg_db, target_kind="product", product_id=n["SCARF-SILK"], customer_id=n["alicia"])
    with ThreadPoolExecutor(8) as pool:
        targets = list(pool.map(lambda _: visit(pg_db, code), range(16)))
    assert set(targets) == {f"/looks/product/SCARF-SILK?via={code}"}
    assert the_link(pg_db, code).visits == 16
    assert sorted(int(e.external_id.split(":")[1]) for e in opened(pg_db)) == list(range(1, 17))


def test_links_made_before_their_message_is_written_are_attached_to_it_after(shop: Database) -> None:
    n = ids(shop)
    with shop.write() as s:
        text, codes = links.linkify(s, "[[SCARF-SILK]]", associate_id=n["ana"], customer_id=n["alicia"])
    message_id = message(shop, n["alicia"], n["ana"])  # the body (with the link's URL) is written now
    with shop.write() as s:
        assert links.attach_to_message(s, codes, message_id) == 1
        assert links.attach_to_message(s, codes, message_id + 1) == 0  # a link belongs to one message
    with shop.read() as s:
        assert [v.code for v in links.links_of_message(s, message_id)] == codes
    assert text == links.short_url(codes[0])
