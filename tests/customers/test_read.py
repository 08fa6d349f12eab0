"""The Customer 360 read model: figures an associate can trust, read in a bounded number of statements."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rapport.customers.read import client_360, client_timeline, decode_cursor, encode_cursor, next_occurrence
from rapport.db import Database
from rapport.errors import InvalidRecord, NotFound
from tests.customers.conftest import Ingest, order
from tests.statements import statements as counting


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def view(db: Database, customer_id: int, **kwargs):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return client_360(session, customer_id, **kwargs)


# -- KPIs ----------------------------------------------------------------------------------------


def test_lifetime_spend_is_net_of_refunds_per_currency_and_leaves_out_cancelled_orders(db, alicia):
    kpis = view(db, alicia).kpis
    eur, usd = kpis.lifetime_spend
    assert (eur.currency, eur.gross.minor, eur.refunded.minor, eur.net.minor) == ("EUR", 58000, 20000, 38000)
    assert (eur.order_count, eur.average_order_value.minor) == (3, 19333)  # 580.00 / 3, rounded
    assert (usd.currency, usd.gross.minor, usd.refunded.minor, usd.net.minor) == ("USD", 9500, 0, 9500)
    assert eur.net.formatted == "€380.00" and usd.net.formatted == "$95.00"
    assert kpis.order_count == 4


def test_order_count_and_average_order_value_per_channel(db, alicia):
    channels = {c.channel: c for c in view(db, alicia).kpis.channels}
    assert set(channels) == {"online", "store"}
    online, store = channels["online"], channels["store"]
    assert online.order_count == 2
    assert [(m.currency, m.minor) for m in online.spend] == [("EUR", 50000)]
    assert [(m.currency, m.minor) for m in online.average_order_value] == [("EUR", 25000)]
    assert store.order_count == 2  # the cancelled store order does not count
    assert [(m.currency, m.minor) for m in store.spend] == [("EUR", 8000), ("USD", 9500)]
    assert [m.formatted for m in store.average_order_value] == ["€80.00", "$95.00"]


def test_purchase_dates_cadence_and_return_rate(db, alicia):
    kpis = view(db, alicia).kpis
    assert kpis.first_purchase_at == at("2026-01-10T10:00:00")
    assert kpis.last_purchase_at == at("2026-09-06T10:00:00")
    assert kpis.average_days_between_purchases == 79.7  # 239 days over 3 gaps
    assert (kpis.units_bought, kpis.units_returned, kpis.return_count) == (6, 1, 1)
    assert kpis.return_rate == pytest.approx(1 / 6, abs=1e-4)


def test_favourites_are_the_top_three_by_units_kept(db, alicia):
    kpis = view(db, alicia).kpis
    # The returned coat M does not make M a favourite size; the cancelled scarf does not count.
    assert [(f.name, f.quantity) for f in kpis.favourite_categories] == [
        ("accessories", 2), ("fragrance", 2), ("coats", 1),
    ]  # fmt: skip
    assert [(f.name, f.quantity) for f in kpis.favourite_brands] == [("Maison", 3), ("Atelier", 2)]
    assert [(f.name, f.quantity) for f in kpis.favourite_sizes] == [("50ml", 2), ("OS", 2), ("L", 1)]


def test_a_client_without_orders_has_empty_figures(db, ingest: Ingest):
    cid = ingest("customers", {"source": "pos", "id": "new", "first_name": "Nina"}).outcomes[0].id
    kpis = view(db, cid).kpis
    assert kpis.order_count == 0 and kpis.lifetime_spend == [] and kpis.channels == []
    assert kpis.first_purchase_at is None and kpis.average_days_between_purchases is None
    assert kpis.return_rate is None and kpis.favourite_categories == []


# -- profile and what hangs off it ---------------------------------------------------------------


def test_profile_names_the_home_store_and_the_assigned_associate(db, alicia):
    p = view(db, alicia).profile
    assert (p.full_name, p.birth_date, p.language, p.tier, p.status) == (
        "Alicia Moreau", date(1990, 11, 30), "fr", "gold", "active",
    )  # fmt: skip
    assert (p.city, p.country, p.tags) == ("Paris", "FR", ["vip"])
    assert p.sizes == {"coats": "M", "shoes": "38"} and p.preferences == {"colours": ["camel"]}
    assert (p.home_store.code, p.home_store.name) == ("PAR", "Paris Saint-Honoré")
    assert p.assigned_associate.name == "Ana Duval"


def test_identities_addresses_relationships_notes_and_consent(db, alicia):
    v = view(db, alicia)
    assert [(e.address, e.verified) for e in v.identities.emails] == [("alicia@example.com", True)]
    assert [(p.number, p.display) for p in v.identities.phones] == [("+33612345678", "+33 6 12 34 56 78")]
    assert {(x.source, x.id, x.verified) for x in v.identities.external_ids} == {
        ("shopify", "1001", True), ("loyalty", "L-42", True),
    }  # fmt: skip
    assert [(a.line1, a.primary) for a in v.addresses] == [("1 rue de Rivoli", True)]
    assert [(r.relation, r.name, r.note) for r in v.relationships] == [("sister", "Inès", "lives in Lyon")]
    assert [n.body for n in v.notes] == ["Prefers appointments on Saturday mornings"]
    consent = {c.channel: c for c in v.consent}
    assert list(consent) == ["email", "sms", "whatsapp", "phone"]
    assert (consent["email"].granted, consent["email"].source) == (True, "shopify")
    assert consent["sms"].granted is False and consent["sms"].recorded_at == at("2026-02-01T09:00:00")
    assert consent["whatsapp"].granted is None and consent["whatsapp"].recorded_at is None


def test_notes_come_newest_first_with_their_author(db, alicia, ingest: Ingest, fixed_clock):
    ingest("events", {"source": "floor", "id": "N-1", "type": "note", "occurred_at": "2026-11-23T15:30:00Z",
                      "customer": {"email": "alicia@example.com"}, "associate": "ANA",
                      "data": {"text": "Looking for a gift for her sister"}})  # fmt: skip
    notes = view(db, alicia).notes
    assert [n.body for n in notes] == ["Looking for a gift for her sister", "Prefers appointments on Saturday mornings"]
    assert notes[0].author.name == "Ana Duval" and notes[1].author is None


def test_milestones_include_the_birthday_and_their_next_occurrence(db, alicia, fixed_clock):
    # The clock stands at 2026-11-23.
    milestones = [(m.kind, m.label, m.next_date, m.days_until, m.years) for m in view(db, alicia).milestones]
    assert milestones == [
        ("child_birthday", "Léo", date(2026, 11, 25), 2, None),
        ("birthday", "", date(2026, 11, 30), 7, 36),
        ("anniversary", "wedding", date(2027, 6, 20), 209, 12),
    ]
    fixed_clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
    birthday = next(m for m in view(db, alicia).milestones if m.kind == "birthday")
    assert (birthday.next_date, birthday.years, birthday.source) == (date(2027, 11, 30), 37, "profile")


def test_a_29_february_milestone_falls_on_the_28th_in_common_years():
    assert next_occurrence(2, 29, date(2026, 11, 23)) == date(2027, 2, 28)
    assert next_occurrence(2, 29, date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_occurrence(11, 23, date(2026, 11, 23)) == date(2026, 11, 23)


def test_wishlist_carries_the_product_and_its_price(db, alicia):
    (item,) = view(db, alicia).wishlist
    assert (item.product.sku, item.product.name, item.product.price.formatted) == ("TOTE", "Leather tote", "€450.00")
    assert item.added_at == at("2026-10-01T20:00:00")


def test_tried_on_items_say_whether_the_style_was_bought_afterwards(db, alicia):
    coat, scarf = view(db, alicia).tried_on
    assert (coat.product.sku, coat.location.code, coat.bought_after) == ("COAT-M", "PAR", True)
    assert coat.bought_at == at("2026-07-08T10:00:00")  # the same style, in L
    # The only scarf order after that try-on was cancelled.
    assert (scarf.product.sku, scarf.bought_after, scarf.bought_at) == ("SCARF", False, None)


# -- the timeline --------------------------------------------------------------------------------


@pytest.fixture
def busy(boutique, ingest: Ingest) -> int:
    """A client with 12 online product views (four share one instant) and 5 try-ons in the store."""
    created = ingest("customers", {"source": "web", "id": "b", "first_name": "Bruno", "emails": ["b@example.com"]})
    ref = {"email": "b@example.com"}
    views = [
        {"source": "web", "id": f"v{n}", "type": "product_view", "sku": "SCARF", "customer": ref,
         "occurred_at": f"2026-10-{1 + min(n, 8):02d}T12:00:00Z"}
        for n in range(12)
    ]  # fmt: skip
    tries = [
        {"source": "floor", "id": f"t{n}", "type": "try_on", "sku": "COAT-M", "store": "PAR", "customer": ref,
         "occurred_at": f"2026-09-{10 + n:02d}T12:00:00Z"}
        for n in range(5)
    ]  # fmt: skip
    ingest("events", *views, *tries)
    return created.outcomes[0].id


def all_pages(db: Database, cid: int, **kwargs) -> list[list[int]]:  # type: ignore[no-untyped-def]
    pages, cursor = [], None
    with db.read() as session:
        while True:
            page = client_timeline(session, cid, before=cursor, **kwargs)
            pages.append([e.id for e in page.entries])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


def test_the_timeline_pages_newest_first_without_gaps_or_repeats(db, busy):
    with db.read() as session:
        everything = client_timeline(session, busy, limit=200).entries
    assert len(everything) == 17
    keys = [(e.occurred_at, e.id) for e in everything]
    assert keys == sorted(keys, reverse=True)
    pages = all_pages(db, busy, limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 2]
    assert [i for p in pages for i in p] == [e.id for e in everything]


def test_the_360_shows_the_first_page_with_a_cursor_to_the_next(db, busy):
    first = view(db, busy, timeline_limit=10).timeline
    assert len(first.entries) == 10 and first.next_cursor is not None
    with db.read() as session:
        rest = client_timeline(session, busy, before=first.next_cursor, limit=50)
    assert len(rest.entries) == 7 and rest.next_cursor is None
    assert rest.entries[0].occurred_at <= first.entries[-1].occurred_at


def test_the_timeline_filters_by_channel_and_kind(db, busy, alicia):
    with db.read() as session:
        store = client_timeline(session, busy, channels=["store"]).entries
        assert len(store) == 5 and {(e.kind, e.channel) for e in store} == {("try_on", "store")}
        assert store[0].product.sku == "COAT-M" and store[0].location.code == "PAR"
        orders = client_timeline(session, alicia, kinds=["order", "return"]).entries
        assert [(e.kind, e.channel) for e in orders] == [
            ("order", "store"), ("order", "online"), ("order", "store"), ("order", "store"), ("return", "store"),
            ("order", "online"),
        ]  # fmt: skip
        cross = client_timeline(session, alicia, kinds=["return"], channels=["store"]).entries
        assert [e.data.get("order_channel") for e in cross] == ["online"]  # bought online, returned in store


def test_paging_a_filtered_timeline_keeps_the_filter(db, busy):
    pages = all_pages(db, busy, limit=2, channels=["online"])
    assert [len(p) for p in pages] == [2, 2, 2, 2, 2, 2]


def test_a_garbled_cursor_or_an_unknown_kind_is_refused_by_name(db, busy):
    with db.read() as session:
        with pytest.raises(InvalidRecord) as bad:
            client_timeline(session, busy, before="not-a-cursor")
        assert bad.value.errors[0].field == "before"
        with pytest.raises(InvalidRecord) as bad:
            client_timeline(session, busy, kinds=["purchase"])
        assert bad.value.errors[0].field == "kind"
        with pytest.raises(InvalidRecord) as bad:
            client_timeline(session, busy, limit=201)
        assert bad.value.errors[0].field == "limit"


def test_a_cursor_round_trips():
    when = datetime(2026, 10, 5, 12, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(when, 42)) == (when, 42)


# -- ids that were merged away, and ids never seen -----------------------------------------------


@pytest.fixture
def merged(boutique, ingest: Ingest) -> tuple[int, int]:
    """Michael (web) and Mike (POS, with an order) turn out to be one person; Michael survives."""
    michael = ingest("customers", {"source": "web", "id": "m1", "first_name": "Michael", "last_name": "Johnson",
                                   "emails": ["mj@example.com"]}).outcomes[0].id  # fmt: skip
    mike = ingest("customers", {"source": "pos", "id": "p1", "first_name": "Mike", "last_name": "Johnson",
                                "phones": ["+1 415 555 0000"]}).outcomes[0].id  # fmt: skip
    ingest("orders", order("S-9", "2026-08-01T10:00:00Z", [("PERF-50", 1, "80.00")], channel="store",
                           store="PAR", customer={"source": "pos", "id": "p1"}))  # fmt: skip
    ingest("customers", {"source": "loyalty", "id": "card-7", "emails": ["mj@example.com"],
                         "phones": ["+14155550000"]})  # fmt: skip
    return michael, mike


def test_a_merged_away_id_answers_with_the_survivors_360(db, merged):
    michael, mike = merged
    v = view(db, mike)
    assert (v.customer_id, v.resolved_from) == (michael, mike)
    assert v.profile.first_name == "Michael" and v.profile.status == "active"
    assert v.kpis.order_count == 1  # Mike's order moved with him
    assert {p.number for p in v.identities.phones} == {"+14155550000"}
    assert view(db, michael).resolved_from is None
    with db.read() as session:
        page = client_timeline(session, mike)
    assert (page.customer_id, page.resolved_from) == (michael, mike)
    assert "merge" in {e.kind for e in page.entries}


def test_an_unknown_client_is_not_found(db):
    with db.read() as session, pytest.raises(NotFound):
        client_360(session, 123456)
    with db.read() as session, pytest.raises(NotFound):
        client_timeline(session, 123456)


# -- a bounded read ------------------------------------------------------------------------------


def test_the_360_runs_the_same_few_statements_whatever_the_length_of_the_history(db, alicia, ingest: Ingest):
    small = ingest("customers", {"source": "pos", "id": "s", "first_name": "Sam", "emails": ["s@example.com"]})
    ref = {"email": "s@example.com"}
    ingest("orders", {**order("SM-1", "2026-01-01T10:00:00Z", [("SCARF", 1, "50.00")]), "customer": ref})
    big = ingest("customers", {"source": "pos", "id": "b", "first_name": "Bea", "emails": ["b@example.com"]})
    ref = {"email": "b@example.com"}
    skus = ["COAT-M", "COAT-L", "SCARF", "PERF-50", "TOTE"]
    ingest("orders", *[
        {**order(f"BG-{n}", f"2026-{1 + n % 11:02d}-{1 + n % 27:02d}T10:00:00Z",
                 [(skus[n % 5], 1 + n % 3, "50.00"), (skus[(n + 1) % 5], 1, "80.00")],
                 channel=("online", "store", "app")[n % 3], store="PAR" if n % 3 == 1 else None), "customer": ref}
        for n in range(60)
    ])  # fmt: skip
    ingest("returns", *[
        {"source": "pos", "id": f"BR-{n}", "order_id": f"BG-{n}", "order_source": "shop", "channel": "store",
         "store": "PAR", "currency": "EUR", "returned_at": "2026-11-01T10:00:00Z",
         "lines": [{"order_line": "2", "sku": skus[(n + 1) % 5], "quantity": 1}]}
        for n in range(0, 60, 4)
    ])  # fmt: skip
    ingest("events", *[
        {"source": "floor", "id": f"BT-{n}", "type": ("try_on", "wishlist_add", "product_view")[n % 3],
         "sku": skus[n % 5], "store": "PAR", "associate": "ANA", "customer": ref,
         "occurred_at": f"2026-10-{1 + n % 28:02d}T12:00:00Z"}
        for n in range(90)
    ])  # fmt: skip

    counts = {}
    for name, result in (("small", small), ("big", big), ("alicia", None)):
        cid = alicia if result is None else result.outcomes[0].id
        with counting(db) as statements:
            v = view(db, cid)
        counts[name] = len(statements)
        if name == "big":
            assert v.kpis.order_count == 60 and len(v.tried_on) == 30 and len(v.wishlist) == 5
            assert len(v.timeline.entries) == 50 and v.timeline.next_cursor
    assert counts["small"] == counts["big"] == counts["alicia"] <= 15, counts
