"""Head office's segments: each filter, as one SQL statement, on SQLite and PostgreSQL; bad filters named.

The `store` fixture: Paris (EUR) and New York (USD), Ana at Paris, products COAT-CAMEL-M (coats,
Maison, €1,200), SCARF-SILK (accessories, €45.50), FRAG-50 (fragrance). Today is 23 November 2026.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from rapport import clock
from rapport.associates.models import Associate
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.identity.merge import merge_customers
from rapport.tasks import segments
from tests.factories import ingest, ok, order
from tests.tasks.conftest import add_client


def matching(db: Database, channel: str | None = None, **filters: Any) -> set[int]:
    with db.read() as s:
        resolved = segments.resolve(s, segments.parse_segment(filters))
        found = segments.matching_ids(s, resolved, channel=channel)
        assert segments.count(s, resolved, channel=channel) == len(found)
        return set(found)


def refusal(db: Database, **filters: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRecord) as caught, db.read() as s:
        segments.resolve(s, segments.parse_segment(filters))
    return [(e.field, e.message) for e in caught.value.errors]


def buys(db: Database, oid: str, client: str, *, at: str = "2026-11-01T10:00:00Z", sku: str = "COAT-CAMEL-M",
         price: str = "1200.00", currency: str = "EUR", **extra: Any) -> None:  # fmt: skip
    ok(ingest(db, "orders", order(oid, customer={"source": "pos", "id": client}, placed_at=at, currency=currency,
                                  lines=[{"sku": sku, "quantity": 1, "unit_price": price}], **extra)))  # fmt: skip


def test_an_empty_segment_is_every_active_client_and_never_a_merged_one(store: Database) -> None:
    a, b = add_client(store, "C1"), add_client(store, "C2")
    survivor = add_client(store, "C3")
    with store.write() as s:
        merge_customers(s, survivor, b, reason="same person", actor="test")
    assert matching(store) == {a, survivor}


def test_home_stores_by_code_in_any_case(store: Database) -> None:
    paris = add_client(store, "C1")
    nyc = add_client(store, "C2", home_store="NYC", assigned_associate=None)
    add_client(store, "C3", home_store=None, assigned_associate=None)
    assert matching(store, stores=["par"]) == {paris}
    assert matching(store, stores=["PAR", "NYC"]) == {paris, nyc}


def test_assigned_means_in_an_active_associates_book(store: Database) -> None:
    booked = add_client(store, "C1")
    queued = add_client(store, "C2", assigned_associate=None)
    assert matching(store, assigned=True) == {booked}
    assert matching(store, assigned=False) == {queued}
    with store.write() as s:  # Ana leaves: her clients now go to the team queue
        s.execute(update(Associate).where(Associate.code == "ANA").values(active=False))
    assert matching(store, assigned=False) == {booked, queued}


def test_country_and_city_from_the_clients_address(store: Database) -> None:
    lyon = add_client(store, "C1", addresses=[{"city": "Lyon", "country": "FR", "primary": True}])
    paris = add_client(store, "C2", addresses=[{"city": "Paris", "country": "FR", "primary": True}])
    add_client(store, "C3", addresses=[{"city": "Boston", "country": "US", "primary": True}])
    assert matching(store, countries=["fr"]) == {lyon, paris}
    assert matching(store, cities=["LYON"]) == {lyon}


def test_tier_ignores_case(store: Database) -> None:
    gold = add_client(store, "C1", tier="Gold")
    add_client(store, "C2", tier="Silver")
    add_client(store, "C3")
    assert matching(store, tiers=["gold", "Icon"]) == {gold}


def test_tags_any_all_and_none(store: Database) -> None:
    vip = add_client(store, "C1", tags=["vip"])
    both = add_client(store, "C2", tags=["vip", "bridal"])
    press = add_client(store, "C3", tags=["press", "bridal"])
    untagged = add_client(store, "C4")
    assert matching(store, tags_any=["vip", "press"]) == {vip, both, press}
    assert matching(store, tags_all=["vip", "bridal"]) == {both}
    assert matching(store, tags_any=["bridal"], tags_none=["press"]) == {both}
    assert matching(store, tags_none=["vip"]) == {press, untagged}


def test_preferences_match_any_value_of_each_kind_and_every_kind(store: Database) -> None:
    camel = add_client(store, "C1", preferences={"colours": ["camel", "navy"]})
    camel_tailored = add_client(store, "C2", preferences={"colours": ["camel"], "styles": ["tailored"]})
    black = add_client(store, "C3", preferences={"colours": ["black"], "styles": ["tailored"]})
    add_client(store, "C4")
    assert matching(store, preferences={"colours": ["camel", "ivory"]}) == {camel, camel_tailored}
    assert matching(store, preferences={"Colours": ["camel"], "styles": ["tailored"]}) == {camel_tailored}
    assert matching(store, preferences={"styles": ["tailored"]}) == {camel_tailored, black}


def test_birthday_this_month_follows_the_clock(store: Database, fixed_clock) -> None:
    november = add_client(store, "C1", birth_date="1990-11-28")
    december = add_client(store, "C2", birth_date="1985-12-02")
    add_client(store, "C3")
    assert matching(store, birthday_this_month=True) == {november}
    fixed_clock.advance(timedelta(days=10))  # December
    assert matching(store, birthday_this_month=True) == {december}


def test_consent_on_a_channel_and_the_campaigns_own_channel(store: Database) -> None:
    both = add_client(store, "C1", consent={"email": True, "sms": True})
    email = add_client(store, "C2", consent={"email": True, "sms": False})
    add_client(store, "C3", consent={"email": False})
    assert matching(store, consent=["email"]) == {both, email}
    assert matching(store, consent=["email", "sms"]) == {both}
    assert matching(store, channel="sms") == {both}


def test_spend_is_net_of_refunds_in_one_currency_over_the_period(store: Database) -> None:
    big = add_client(store, "C1")
    buys(store, "O1", "C1", price="2400.00")
    returned = add_client(store, "C2")
    buys(store, "O2", "C2", price="1200.00")
    ok(ingest(store, "returns", {
        "source": "pos", "id": "R1", "order_id": "O2", "channel": "store", "store": "PAR", "currency": "EUR",
        "customer": {"source": "pos", "id": "C2"}, "returned_at": "2026-11-10T10:00:00Z",
        "lines": [{"sku": "COAT-CAMEL-M", "quantity": 1}],
    }))  # fmt: skip
    dollars = add_client(store, "C3")
    buys(store, "O3", "C3", price="5000.00", currency="USD", store="NYC")
    old = add_client(store, "C4")
    buys(store, "O4", "C4", at="2025-06-01T10:00:00Z", price="3000.00")
    never = add_client(store, "C5")
    assert matching(store, currency="EUR", min_spend="1000") == {big}
    assert matching(store, currency="EUR", min_spend="2400", max_spend="2400.00") == {big}
    assert matching(store, currency="EUR", max_spend="100") == {returned, dollars, old, never}
    assert matching(store, currency="USD", min_spend=1000) == {dollars}
    assert matching(store, currency="EUR", min_spend=1000, period_days=730) == {big, old}


def test_order_count_and_average_order_value(store: Database) -> None:
    twice = add_client(store, "C1")
    buys(store, "O1", "C1", price="1200.00")
    buys(store, "O2", "C1", at="2026-10-01T10:00:00Z", sku="SCARF-SILK", price="45.50")
    once = add_client(store, "C2")
    buys(store, "O3", "C2", price="1200.00")
    cancelled = add_client(store, "C3")
    buys(store, "O4", "C3", status="cancelled")
    never = add_client(store, "C4")
    assert matching(store, min_orders=2) == {twice}
    assert matching(store, max_orders=1) == {once, cancelled, never}
    assert matching(store, currency="EUR", min_aov="1000") == {once}
    assert matching(store, currency="EUR", max_aov="700") == {twice}  # (1200 + 45.50) / 2; no orders, no average


def test_last_purchase_after_before_and_no_purchase_for_n_days(store: Database) -> None:
    recent = add_client(store, "C1")
    buys(store, "O1", "C1", at="2026-11-20T10:00:00Z")
    lapsed = add_client(store, "C2")
    buys(store, "O2", "C2", at="2026-03-01T10:00:00Z")
    came_back = add_client(store, "C3")
    buys(store, "O3", "C3", at="2026-02-01T10:00:00Z")
    buys(store, "O4", "C3", at="2026-11-01T10:00:00Z")
    never = add_client(store, "C4")
    assert matching(store, last_purchase_after="2026-11-01") == {recent, came_back}
    assert matching(store, last_purchase_before="2026-06-01") == {lapsed}
    assert matching(store, no_purchase_days=90) == {lapsed, never}
    assert matching(store, last_purchase_after="2026-01-01", last_purchase_before="2026-06-01") == {lapsed}


def test_purchased_category_or_brand_ever_or_recently(store: Database) -> None:
    coat = add_client(store, "C1")
    buys(store, "O1", "C1")
    old_scarf = add_client(store, "C2")
    buys(store, "O2", "C2", at="2025-01-10T10:00:00Z", sku="SCARF-SILK", price="45.50")
    add_client(store, "C3")
    assert matching(store, purchased_categories=["Coats", "accessories"]) == {coat, old_scarf}
    assert matching(store, purchased_categories=["accessories"], purchased_within_days=365) == set()
    assert matching(store, purchased_brands=["maison"]) == {coat, old_scarf}


def test_filters_combine_with_and(store: Database) -> None:
    target = add_client(store, "C1", tags=["vip"], preferences={"colours": ["camel"]})
    buys(store, "O1", "C1", price="2400.00")
    add_client(store, "C2", tags=["vip"], preferences={"colours": ["camel"]})  # spent nothing
    add_client(store, "C3", tags=["vip"], home_store="NYC")
    assert matching(store, stores=["PAR"], tags_any=["vip"], currency="EUR", min_spend=1000,
                    preferences={"colours": ["camel"]}) == {target}  # fmt: skip


# -- bad filters ---------------------------------------------------------------------------------


def test_an_unknown_store_is_named(store: Database) -> None:
    assert refusal(store, stores=["PAR", "XXX"]) == [("segment.stores", "unknown store 'XXX'")]


def test_an_unknown_category_or_brand_is_named(store: Database) -> None:
    assert refusal(store, purchased_categories=["coats", "boats"], purchased_brands=["Acme"]) == [
        ("segment.purchased_categories", "no product has the category 'boats'"),
        ("segment.purchased_brands", "no product has the brand 'Acme'"),
    ]


@pytest.mark.parametrize(
    ("filters", "field", "words"),
    [
        ({"stores": "PAR"}, "segment.stores", "valid list"),
        ({"colour": ["camel"]}, "segment.colour", "unknown filter"),
        ({"min_spend": "1000"}, "segment.min_spend", "say which currency"),
        ({"currency": "EURO", "min_spend": 5}, "segment.currency", "unknown currency"),
        ({"currency": "EUR", "min_spend": "10.555"}, "segment.min_spend", "more than 2 decimals"),
        ({"currency": "EUR", "min_spend": "-1"}, "segment.min_spend", "0 or more"),
        ({"currency": "EUR", "min_spend": 500, "max_spend": 100}, "segment.max_spend", "below min_spend"),
        ({"min_orders": 3, "max_orders": 1}, "segment.max_orders", "below min_orders"),
        ({"countries": ["France"]}, "segment.countries", "two-letter"),
        ({"consent": ["pigeon"]}, "segment.consent", "unknown channel 'pigeon'"),
        ({"preferences": {"": ["camel"]}}, "segment.preferences", "not a preference kind"),
        ({"tags_all": ["vip"], "tags_none": ["vip"]}, "segment.tags_none", "no client could match"),
        ({"last_purchase_after": "2026-06-01", "last_purchase_before": "2026-01-01"}, "segment.last_purchase_before",
         "must be after"),
        ({"purchased_within_days": 30}, "segment.purchased_within_days", "goes with"),
        ({"no_purchase_days": 0}, "segment.no_purchase_days", "greater than or equal to 1"),
        ({"last_purchase_after": "yesterday"}, "segment.last_purchase_after", "date"),
    ],
)  # fmt: skip
def test_a_bad_filter_is_refused_naming_its_field(filters: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        segments.parse_segment(filters)
    fields = {e.field: e.message for e in caught.value.errors}
    assert field in fields, fields
    assert words in fields[field]


def test_a_segment_is_stored_with_only_what_is_set() -> None:
    seg = segments.parse_segment({"stores": [" par "], "tags_any": ["vip", "vip", " "], "currency": "eur",
                                  "min_spend": "1000"})  # fmt: skip
    assert seg.stored() == {"stores": ["PAR"], "tags_any": ["vip"], "currency": "EUR", "min_spend": "1000"}
    assert segments.parse_segment(seg.stored()) == seg


# -- why a client matched -----------------------------------------------------------------------


def test_the_reason_says_what_made_the_client_match(store: Database) -> None:
    cid = add_client(store, "C1", preferences={"colours": ["camel", "navy"]}, tags=["vip"], tier="Gold")
    buys(store, "O1", "C1", price="1200.00")
    buys(store, "O2", "C1", at="2026-09-01T10:00:00Z", price="1200.00")
    seg = segments.parse_segment({"currency": "EUR", "min_spend": 2000, "preferences": {"colours": ["camel"]},
                                  "tags_any": ["vip", "press"], "tiers": ["gold"]})  # fmt: skip
    with store.read() as s:
        facts = segments.client_facts(s, seg, [cid], clock.now())[cid]
    assert segments.why(seg, facts, clock.now()) == "spent €2,400 in 12 months; likes camel; tagged vip; Gold tier"


def test_the_reason_names_the_last_purchase_and_what_was_bought(store: Database) -> None:
    cid = add_client(store, "C1")
    buys(store, "O1", "C1", at="2026-08-25T10:00:00Z", sku="SCARF-SILK", price="45.50")
    seg = segments.parse_segment({"no_purchase_days": 60, "purchased_categories": ["accessories"]})
    with store.read() as s:
        facts = segments.client_facts(s, seg, [cid], clock.now())[cid]
    assert segments.why(seg, facts, clock.now()) == "last bought 25 Aug 2026 (90 days ago); bought accessories"


def test_a_segment_reads_as_words() -> None:
    seg = segments.parse_segment({"stores": ["PAR"], "currency": "EUR", "min_spend": "1000", "tags_all": ["vip"],
                                  "preferences": {"colours": ["camel", "navy"]}, "no_purchase_days": 60})  # fmt: skip
    assert segments.describe(seg) == [
        "Home store PAR",
        "Tagged vip",
        "Preference colours: camel or navy",
        "Spent at least €1,000 in 12 months",
        "No purchase for 60 days",
    ]
