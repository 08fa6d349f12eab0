"""Client search: the right person first from a name, email or phone fragment typed with typos."""

from __future__ import annotations

import pytest

from rapport.customers.search import search_clients
from rapport.db import Database
from rapport.errors import InvalidRecord
from tests.customers.conftest import Ingest

PEOPLE = [
    {"source": "pos", "id": "1", "first_name": "Michael", "last_name": "Johnson", "emails": ["john@example.com"],
     "phones": ["+1 415 555 1234"], "tier": "gold", "addresses": [{"city": "San Francisco", "country": "US"}]},
    {"source": "pos", "id": "2", "first_name": "Michelle", "last_name": "Jones", "emails": ["mjones@example.org"],
     "phones": ["+1 212 555 9876"]},
    {"source": "pos", "id": "3", "first_name": "Michael", "last_name": "Jordan", "emails": ["jane@example.com"]},
    {"source": "pos", "id": "4", "first_name": "Zoë", "last_name": "O'Neil-Smith", "emails": ["zoe@exemple.fr"],
     "phones": ["+33 6 12 34 56 78"]},
    {"source": "pos", "id": "5", "first_name": "John", "last_name": "Smith", "emails": ["jsmith@example.net"]},
]  # fmt: skip


@pytest.fixture
def people(db: Database, ingest: Ingest) -> dict[str, int]:
    result = ingest("customers", *PEOPLE)
    return {p["first_name"] + " " + p["last_name"]: o.id for p, o in zip(PEOPLE, result.outcomes, strict=True)}


def find(db: Database, q: str, **kwargs):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return search_clients(session, q, **kwargs)


def names(db: Database, q: str) -> list[str]:
    return [h.name for h in find(db, q)]


def test_a_name_with_typos_finds_the_client_first(db, people):
    hits = find(db, "Micheal Jonson")
    assert hits[0].name == "Michael Johnson"
    assert hits[0].matched_on == "name" and "close to" in hits[0].reason


def test_names_match_in_either_order_and_without_accents(db, people):
    assert names(db, "johnson michael")[0] == "Michael Johnson"
    assert names(db, "zoe oneil")[0] == "Zoë O'Neil-Smith"
    assert set(names(db, "Smith")) == {"John Smith", "Zoë O'Neil-Smith"}  # a part of a double-barrelled name


def test_a_name_being_typed_matches_by_its_beginning(db, people):
    assert set(names(db, "mich")) == {"Michael Johnson", "Michelle Jones", "Michael Jordan"}
    assert names(db, "Michael Jor")[0] == "Michael Jordan"
    assert names(db, "Micheal Johns")[0] == "Michael Johnson"  # a typo and an unfinished word


def test_an_email_fragment_with_a_typo_finds_the_address(db, people):
    hits = find(db, "jonh@exa")
    assert hits[0].name == "Michael Johnson" and hits[0].matched_on == "email"
    assert "john@example.com" in hits[0].reason
    exact = find(db, "mjones@example.org")
    assert (exact[0].name, exact[0].score) == ("Michelle Jones", 100)
    assert names(db, "JSMITH@")[0] == "John Smith"


def test_a_word_that_begins_an_address_finds_it_too(db, people):
    assert "John Smith" in names(db, "jsmith")


def test_a_phone_is_found_by_its_last_digits(db, people):
    hits = find(db, "555 1234")
    assert [h.name for h in hits] == ["Michael Johnson"]
    assert hits[0].matched_on == "phone" and hits[0].phone == "+14155551234"
    assert names(db, "1234") == ["Michael Johnson"]


def test_a_phone_typed_with_its_country_code_or_in_full_is_found(db, people):
    assert names(db, "+1 415") == ["Michael Johnson"]
    assert names(db, "+1 212 555") == ["Michelle Jones"]
    assert names(db, "(415) 555-1234") == ["Michael Johnson"]
    assert names(db, "06 12 34 56 78") == ["Zoë O'Neil-Smith"]  # national format, trunk zero and all
    assert names(db, "0033 6 12 34") == ["Zoë O'Neil-Smith"]


def test_results_carry_what_it_takes_to_pick_the_right_person(db, people, ingest: Ingest):
    ingest("locations", {"code": "SF", "name": "San Francisco Union Square", "country": "US"})
    ingest("customers", {"source": "pos", "id": "1", "home_store": "SF"})
    ingest("products", {"sku": "BAG", "name": "Bag", "price": "10.00", "currency": "USD"})
    ingest("orders", {"source": "pos", "id": "o1", "channel": "store", "store": "SF", "currency": "USD",
                      "customer": {"source": "pos", "id": "1"}, "placed_at": "2026-10-02T18:00:00Z",
                      "lines": [{"sku": "BAG", "quantity": 1, "unit_price": "10.00"}]})  # fmt: skip
    (hit,) = find(db, "Michael Johnson", limit=1)
    assert (hit.id, hit.email, hit.phone, hit.city, hit.country, hit.tier) == (
        people["Michael Johnson"], "john@example.com", "+14155551234", "San Francisco", "US", "gold",
    )  # fmt: skip
    assert hit.home_store.code == "SF" and hit.last_purchase_at.isoformat() == "2026-10-02T18:00:00+00:00"
    assert hit.score == 100 and hit.reason == "name matches 'Michael Johnson'"


def test_a_client_created_a_moment_ago_is_found_at_once(db, people, ingest: Ingest):
    assert names(db, "Quartermaine") == []  # the vocabulary is loaded now
    ingest("customers", {"source": "web", "id": "new", "first_name": "Zelda", "last_name": "Quartermaine"})
    assert names(db, "Quartermaine") == ["Zelda Quartermaine"]
    assert names(db, "Zelda Quartermane") == ["Zelda Quartermaine"]  # and typo-tolerantly


def test_clients_merged_away_are_not_listed(db, people, ingest: Ingest):
    mike = ingest("customers", {"source": "web", "id": "mike", "first_name": "Mike", "last_name": "Johnson",
                                "emails": ["mike.j@example.com"]}).outcomes[0].id  # fmt: skip
    assert mike in {h.id for h in find(db, "Mike Johnson")}
    # A loyalty card links Mike's email to Michael's phone: one person, Michael's record survives.
    ingest("customers", {"source": "loyalty", "id": "c9", "emails": ["mike.j@example.com"],
                         "phones": ["+14155551234"]})  # fmt: skip
    for q in ("Mike Johnson", "mike.j@example.com", "555 1234"):
        ids = {h.id for h in find(db, q)}
        assert mike not in ids, q
    assert find(db, "mike.j@example.com")[0].id == people["Michael Johnson"]


@pytest.mark.parametrize("q", ["", "   ", "a", "+", "12"])
def test_an_empty_or_too_short_query_is_refused_naming_q(db, q):
    with db.read() as session, pytest.raises(InvalidRecord) as refused:
        search_clients(session, q)
    assert refused.value.errors[0].field == "q"


def test_unrelated_text_finds_nobody(db, people):
    assert find(db, "Xavier Dupont-Aignan") == []
    assert find(db, "nobody@nowhere.test") == []
    assert find(db, "999 0000") == []
