"""The client book screen's query: filters, sorts and paging, on both databases.

Ana (Paris, a euro book) looks after four clients; "today" is 2026-11-23:

=======  ==============  ==================================  ==============  ==================================
client   last purchase   spend                               tags            milestones / contact
=======  ==============  ==================================  ==============  ==================================
Adler    2026-11-01      1,200 EUR                           vip             anniversary 11-30; Ana texted 11-10
Brun     2026-06-01      300 EUR - 100 refunded + 500 USD    vip, fragrance  born 1980-12-25
Colin    -               -                                   -               "leap" 02-29; Ana's note 11-20
Dumas    2026-09-15      50 EUR                              -               wrote to us 11-22 (inbound)
=======  ==============  ==================================  ==============  ==================================
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rapport.clientbook import book
from rapport.clientbook.book import BookFilters
from rapport.errors import InvalidRecord, NotFound
from tests.clientbook.conftest import client, client_ids, sale


@pytest.fixture
def anas_book(db, shop, ingest):
    ingest(
        "customers",
        client("adler", "Adler", country="FR", assigned_associate="ANA", tags=["vip"],
               milestones=[{"kind": "anniversary", "label": "wedding", "date": "2010-11-30"}]),
        client("brun", "Brun", country="FR", assigned_associate="ANA", tags=["vip", "fragrance"],
               birth_date="1980-12-25"),
        client("colin", "Colin", country="FR", assigned_associate="ANA",
               milestones=[{"kind": "other", "label": "leap", "date": "--02-29"}]),
        client("dumas", "Dumas", country="FR", assigned_associate="ANA"),
        client("other", "Elsewhere", country="FR", assigned_associate="BEN", tags=["vip"]),
    )  # fmt: skip
    ingest(
        "orders",
        sale("A1", "adler", associate="ANA", at="2026-11-01T10:00:00Z", price="1200.00"),
        sale("B1", "brun", at="2026-03-01T10:00:00Z", price="300.00"),
        sale("B2", "brun", store="NYC", currency="USD", at="2026-06-01T10:00:00Z", price="500.00"),
        sale("B3", "brun", at="2026-05-01T10:00:00Z", price="999.00", status="cancelled"),
        sale("D1", "dumas", at="2026-09-15T10:00:00Z", price="50.00"),
        sale("E1", "other", at="2026-11-20T10:00:00Z", price="5000.00"),
    )
    ingest(
        "returns",
        {"source": "pos", "id": "R1", "order_id": "B1", "channel": "store", "store": "PAR", "currency": "EUR",
         "returned_at": "2026-03-05T10:00:00Z", "lines": [{"sku": "COAT", "quantity": 1, "refund": "100.00"}]},
    )  # fmt: skip
    ingest(
        "events",
        {"source": "sms", "id": "m1", "type": "message", "occurred_at": "2026-11-10T09:00:00Z", "channel": "sms",
         "associate": "ANA", "customer": {"source": "web", "id": "adler"}, "summary": "Your coat is ready"},
        {"source": "floor", "id": "n1", "type": "note", "occurred_at": "2026-11-20T09:00:00Z", "associate": "ANA",
         "customer": {"source": "web", "id": "colin"}, "data": {"text": "Looking for a gift"}},
        {"source": "sms", "id": "m2", "type": "message", "occurred_at": "2026-11-22T09:00:00Z", "channel": "sms",
         "customer": {"source": "web", "id": "dumas"}, "summary": "Do you have it in blue?"},
    )  # fmt: skip
    return client_ids(db)


def names(db, associate_id, **kwargs):
    with db.read() as session:
        return [r.name.split()[-1] for r in book.client_book(session, associate_id, **kwargs).rows]


def test_the_book_holds_the_associates_clients_newest_purchase_first(db, shop, anas_book):
    with db.read() as session:
        page = book.client_book(session, shop["ANA"])
    assert [r.name for r in page.rows] == ["Adler Adler", "Dumas Dumas", "Brun Brun", "Colin Colin"]
    assert page.total == 4 and page.currency == "EUR" and page.next_cursor is None
    adler = page.rows[0]
    assert adler.last_purchase_at == datetime(2026, 11, 1, 10, tzinfo=UTC) and adler.order_count == 1
    assert adler.spend.minor == 120000 and adler.spend.formatted == "€1,200.00"
    assert adler.next_milestone is not None
    assert (adler.next_milestone.kind, adler.next_milestone.date, adler.next_milestone.days_until) == (
        "anniversary", date(2026, 11, 30), 7,
    )  # fmt: skip
    assert adler.last_contact_at == datetime(2026, 11, 10, 9, tzinfo=UTC) and adler.tags == ["vip"]
    brun = page.rows[2]
    assert brun.spend.minor == 20000 and brun.order_count == 2  # euros only: 300 - 100 refunded
    assert brun.next_milestone is not None and brun.next_milestone.kind == "birthday"
    assert page.rows[3].last_purchase_at is None and page.rows[3].spend.minor == 0


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("last_purchase", None, ["Adler", "Dumas", "Brun", "Colin"]),
        ("last_purchase", "asc", ["Colin", "Brun", "Dumas", "Adler"]),
        ("spend", None, ["Adler", "Brun", "Dumas", "Colin"]),
        ("name", None, ["Adler", "Brun", "Colin", "Dumas"]),
        ("name", "desc", ["Dumas", "Colin", "Brun", "Adler"]),
        ("next_milestone", None, ["Adler", "Brun", "Colin", "Dumas"]),
    ],
)
def test_the_book_sorts_and_pages_one_client_at_a_time_in_the_same_order(db, shop, anas_book, sort, order, expected):
    assert names(db, shop["ANA"], sort=sort, order=order) == expected
    seen, cursor = [], None
    with db.read() as session:
        while True:
            page = book.client_book(session, shop["ANA"], sort=sort, order=order, limit=1, cursor=cursor)
            seen += [r.name.split()[-1] for r in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (BookFilters(purchased_before=datetime(2026, 10, 1, tzinfo=UTC)), ["Dumas", "Brun"]),
        (BookFilters(purchased_after=datetime(2026, 10, 1, tzinfo=UTC)), ["Adler"]),
        (BookFilters(min_spend_minor=20000), ["Adler", "Brun"]),
        (BookFilters(min_spend_minor=20000, currency="usd"), ["Brun"]),
        (BookFilters(max_spend_minor=19999), ["Dumas", "Colin"]),  # no purchase yet is a spend of 0
        (BookFilters(min_spend_minor=1, max_spend_minor=10**9), ["Adler", "Dumas", "Brun"]),
        (BookFilters(tags=["vip"]), ["Adler", "Brun"]),
        (BookFilters(tags=["vip", "fragrance"]), ["Brun"]),
        (BookFilters(milestone_within_days=7), ["Adler"]),
        (BookFilters(milestone_within_days=40), ["Adler", "Brun"]),
        (BookFilters(not_contacted_days=30), ["Dumas", "Brun"]),
        (BookFilters(not_contacted_days=5), ["Adler", "Dumas", "Brun"]),
        (BookFilters(tags=["vip"], not_contacted_days=30, min_spend_minor=1), ["Brun"]),
    ],
)
def test_the_book_filters(db, shop, anas_book, filters, expected):
    with db.read() as session:
        page = book.client_book(session, shop["ANA"], filters=filters)
    assert [r.name.split()[-1] for r in page.rows] == expected and page.total == len(expected)


def test_a_29_february_milestone_falls_on_the_28th_in_a_common_year(db, shop, anas_book, fixed_clock):
    fixed_clock.set(datetime(2027, 2, 20, 12, tzinfo=UTC))
    with db.read() as session:
        page = book.client_book(session, shop["ANA"], filters=BookFilters(milestone_within_days=8))
    assert [r.name for r in page.rows] == ["Colin Colin"]
    assert page.rows[0].next_milestone is not None and page.rows[0].next_milestone.date == date(2027, 2, 28)


def test_a_page_of_a_large_book_says_how_many_match_and_where_to_go_on(db, shop, anas_book):
    with db.read() as session:
        page = book.client_book(session, shop["ANA"], sort="name", limit=3)
    assert [r.name for r in page.rows] == ["Adler Adler", "Brun Brun", "Colin Colin"]
    assert page.total == 4 and page.next_cursor


def test_the_book_refuses_what_it_cannot_answer(db, shop, anas_book):
    with db.read() as session:
        name_cursor = book.client_book(session, shop["ANA"], sort="name", limit=1).next_cursor
        with pytest.raises(InvalidRecord, match="cursor"):
            book.client_book(session, shop["ANA"], sort="spend", cursor=name_cursor)
        with pytest.raises(InvalidRecord, match="cursor"):
            book.client_book(session, shop["ANA"], cursor="not-a-cursor")
        with pytest.raises(InvalidRecord, match="sort"):
            book.client_book(session, shop["ANA"], sort="mood")
        with pytest.raises(InvalidRecord, match="currency"):
            book.client_book(session, shop["ANA"], filters=BookFilters(currency="XYZ"))
        with pytest.raises(NotFound):
            book.client_book(session, 424242)
