"""The pre-visit brief: who is coming and why, what was said online, what they bought, and what to pull.

The world (``world``, also used by the calendar and page tests): the staffed team of
``tests.associates.staff`` with Paris (Europe/Paris) and New York (America/New_York) set up for
appointments, Ana and Max working in Paris, Ben in New York, and Alicia of
``tests.customers.clientele`` — gold, in Ana's book, coats in M, who bought a coat (returned), a
scarf and perfume, tried the coat on in Paris and has a tote on her wishlist. The camel coat comes in
S, M and L; Paris has two M, no L and a tote; New York has three L.

The clock stands at Monday 23 Nov 2026, 15:00 UTC (16:00 in Paris).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rapport.appointments import booking, setup
from rapport.appointments.brief import Brief, brief_of, client_glance
from rapport.associates.audit import AuditActor
from rapport.db import Database
from rapport.errors import NotFound
from rapport.inventory import holds
from rapport.outreach.inbound import Inbound, receive
from tests.associates.staff import cheap_hashing
from tests.customers.clientele import Clientele, clientele, ok, order
from tests.statements import statements

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
#: Tuesday 24 Nov 2026, 11:00 in Paris.
TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=PARIS)
#: Mon–Sat 10:00–19:00 and Sun 12:00–18:00, the hours of ``setup.default_setup``.
FULL_WEEK = {**{day: [(time(10), time(19))] for day in range(6)}, 6: [(time(12), time(18))]}


@dataclass(frozen=True)
class World:
    people: Clientele
    paris: int
    new_york: int
    ana: int
    ben: int
    max: int
    alicia: int
    types: dict[str, int]  # Paris's appointment types by code
    ny_types: dict[str, int]


def world(db: Database) -> World:
    """See the module docstring."""
    people = clientele(db)
    staff = people.team
    ok(db, "locations",
       {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "currency": "EUR", "city": "Paris",
        "timezone": "Europe/Paris"},
       {"code": "NYC", "name": "New York Madison", "country": "US", "currency": "USD", "city": "New York",
        "timezone": "America/New_York"})  # fmt: skip
    coat = {"brand": "Maison", "currency": "EUR", "style_code": "COAT", "name": "Camel coat", "category": "coats",
            "price": "200.00"}  # fmt: skip
    ok(db, "products", {**coat, "sku": "COAT-S", "size": "S"}, {**coat, "sku": "COAT-L", "size": "L"})
    counts = (("COAT-M", "PAR", 2), ("COAT-L", "PAR", 0), ("COAT-L", "NYC", 3), ("TOTE", "PAR", 1))
    ok(db, "stock", *({"sku": sku, "location": where, "on_hand": n} for sku, where, n in counts))
    with db.write() as session:
        setup.default_setup(session, staff.paris)
        setup.default_setup(session, staff.new_york)
        setup.set_working_hours(session, staff.ana, staff.paris, FULL_WEEK)
        setup.set_working_hours(session, staff.max, staff.paris, FULL_WEEK)
        setup.set_working_hours(session, staff.ben, staff.new_york, FULL_WEEK)
        types = {t.code: t.id for t in setup.types_at(session, staff.paris)}
        ny_types = {t.code: t.id for t in setup.types_at(session, staff.new_york)}
    return World(people, staff.paris, staff.new_york, staff.ana, staff.ben, staff.max, people.alicia, types, ny_types)


def as_associate(associate_id: int, name: str = "Ana Duval") -> AuditActor:
    return AuditActor("associate", associate_id, f"associate:{name}")


def book(
    db: Database,
    w: World,
    starts_at: datetime,
    *,
    customer_id: int | None = None,
    kind: str = "styling",
    store: str = "paris",
    associate_id: int | None = None,
    **details: Any,
) -> int:
    """Book through the booking service, as Ana would from the app; the appointment's id."""
    location_id = w.paris if store == "paris" else w.new_york
    type_id = (w.types if store == "paris" else w.ny_types)[kind]
    done = booking.book_appointment(
        db,
        booking.BookingRequest(location_id=location_id, type_id=type_id, starts_at=starts_at,
                               associate_id=associate_id, customer_id=customer_id or w.alicia, **details),
        via="associate", actor=as_associate(w.ana), booked_by_id=w.ana,
    )  # fmt: skip
    return done.id


def brief(db: Database, appointment_id: int) -> Brief:
    with db.read() as session:
        return brief_of(session, appointment_id)


def email_from(db: Database, address: str, body: str, message_id: str, subject: str = "The camel coat") -> None:
    """A client writes to the Paris store by email (filed in their thread like any inbound message)."""
    receive(db, Inbound("email", "smtp", message_id, address, ["paris@maison.example"], body, subject=subject))


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def w(db: Database) -> World:
    return world(db)


# -- who, why, what was said ------------------------------------------------------------------------------


def test_the_brief_says_who_comes_when_in_the_store_s_time_and_who_booked_it(db, w):
    appointment = book(db, w, TUESDAY_11, associate_id=w.ana, reason="A coat for her trip to Milan")
    b = brief(db, appointment)
    a = b.appointment
    assert (a.type_name, a.location_name, a.associate_name, a.status) == (
        "Styling session", "Paris Saint-Honoré", "Ana Duval", "booked")  # fmt: skip
    assert a.starts_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert (a.local_start.strftime("%a %d %b %H:%M"), a.local_end.strftime("%H:%M")) == ("Tue 24 Nov 11:00", "12:00")
    assert (a.booked_via, a.booked_via_words, a.booked_by_name) == ("associate", "an associate", "Ana Duval")
    assert b.reason == "A coat for her trip to Milan"
    p, k = b.client.profile, b.client.kpis
    assert (p.full_name, p.tier, p.home_store and p.home_store.name) == ("Alicia Moreau", "gold", "Paris Saint-Honoré")
    assert p.assigned_associate is not None and p.assigned_associate.name == "Ana Duval"
    assert k.order_count == 2 and [s.net.formatted for s in k.lifetime_spend] == ["€180.00"]
    assert k.last_purchase_at == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert k.return_rate is not None and k.return_rate > 0
    assert p.preferences == {"colours": ["camel"]} and [n.body for n in b.client.notes] == [
        "Prefers appointments on Saturday mornings"]  # fmt: skip


def test_products_of_interest_resolve_to_the_catalogue_in_their_size_and_keep_free_text_and_links(db, w):
    appointment = book(
        db, w, TUESDAY_11, reason="Trip to Milan",
        products_of_interest=["COAT", "tote", "the green dress in the window", "https://shop.example/p/42?c=green"],
        sizes={"coats": "L"},
    )  # fmt: skip
    b = brief(db, appointment)
    coat, tote, words, link = b.interests
    assert (coat.text, coat.product and coat.product.sku) == ("COAT", "COAT-L")  # the style, in the size she gave
    assert (tote.text, tote.product and tote.product.sku) == ("tote", "TOTE")
    assert (words.text, words.product, words.link) == ("the green dress in the window", None, None)
    assert (link.product, link.link) == (None, "https://shop.example/p/42?c=green")
    assert b.sizes == {"coats": "L"}


def test_a_javascript_address_is_kept_as_words_never_as_a_link(db, w):
    appointment = book(db, w, TUESDAY_11, products_of_interest=["javascript:alert(1)"])
    [said] = brief(db, appointment).interests
    assert (said.text, said.link, said.product) == ("javascript:alert(1)", None, None)


def test_what_was_said_online_is_the_summary_passed_at_booking_and_the_last_messages_of_the_thread(db, w):
    for n in range(10):
        email_from(db, "alicia@example.com", f"Message {n}: is the camel coat back in L?", f"<m{n}@example.com>")
    appointment = book(db, w, TUESDAY_11, conversation_summary="Chat on the website: wants the camel coat in L")
    b = brief(db, appointment)
    assert b.conversation_summary == "Chat on the website: wants the camel coat in L"
    assert [m.body for m in b.messages] == [f"Message {n}: is the camel coat back in L?" for n in range(2, 10)]
    assert b.more_messages and all(m.direction == "in" and m.channel == "email" for m in b.messages)


def test_purchases_come_with_sizes_and_the_returned_coat_is_marked(db, w):
    b = brief(db, book(db, w, TUESDAY_11))
    lines = [(line.product.sku, line.product.size, line.quantity, line.returned_quantity) for line in b.purchases]
    assert lines == [("PERF-50", "50ml", 1, 0), ("COAT-M", "M", 1, 1), ("SCARF", None, 2, 0)]
    assert [line.channel for line in b.purchases] == ["store", "online", "online"]


# -- what to pull ------------------------------------------------------------------------------------------


def test_items_to_pull_are_what_she_asked_for_her_wishlist_and_try_ons_with_this_store_s_stock(db, w):
    appointment = book(db, w, TUESDAY_11, products_of_interest=["COAT", "a green dress"])
    pull = {item.product.sku: item for item in brief(db, appointment).pull}
    assert list(pull) == ["COAT-M", "TOTE"]  # the coat once: asked for and tried on; free text is not pulled
    coat, tote = pull["COAT-M"], pull["TOTE"]
    assert coat.reasons == ("Asked to see", "Tried on Jun 1 in Paris Saint-Honoré")
    assert (coat.wanted_size, coat.in_their_size, coat.here) == ("M", True, 2)  # her profile's coat size, 2 in Paris
    assert (tote.reasons, tote.wanted_size, tote.in_their_size, tote.here) == (("On the wishlist",), None, None, 1)
    assert coat.held is None and not coat.held_here


def test_the_size_given_at_booking_wins_over_the_profile_and_stock_is_that_size_s(db, w):
    appointment = book(db, w, TUESDAY_11, sizes={"coat": "L"})
    [coat] = [item for item in brief(db, appointment).pull if item.product.style_code == "COAT"]
    assert (coat.product.sku, coat.wanted_size, coat.in_their_size) == ("COAT-L", "L", True)
    assert coat.here == 0  # none in Paris (New York's three are not here)


def test_a_size_the_style_is_not_made_in_keeps_the_item_they_looked_at_and_says_so(db, w):
    appointment = book(db, w, TUESDAY_11, sizes={"coats": "XXL"})
    [coat] = [item for item in brief(db, appointment).pull if item.product.style_code == "COAT"]
    assert (coat.product.sku, coat.wanted_size, coat.in_their_size) == ("COAT-M", "XXL", False)


def test_an_item_already_set_aside_for_her_here_is_marked_and_the_stock_shows_what_is_left(db, w):
    appointment = book(db, w, TUESDAY_11)
    with db.write() as session:
        holds.place_hold(session, customer_id=w.alicia, sku="COAT-M", location_code="PAR", associate_id=w.ana)
    b = brief(db, appointment)
    [coat] = [item for item in b.pull if item.product.sku == "COAT-M"]
    assert coat.held is not None and coat.held_here and coat.here == 1
    assert [h.sku for h in b.holds] == ["COAT-M"]


# -- a merged client ------------------------------------------------------------------------------------------


def test_the_brief_of_a_merged_client_has_the_conversation_and_purchases_of_both_records(db, w):
    """She chatted and bought online as a guest; the booking was for that record; her loyalty card then
    linked both emails, merging the guest into Alicia. The brief shows one person with both histories."""
    [guest] = ok(db, "customers", {"source": "web", "id": "guest-77", "first_name": "Alicia",
                                   "emails": ["alicia.m@shop.example"]})  # fmt: skip
    assert guest is not None and guest != w.alicia
    ok(db, "products", {"sku": "DRESS-S", "style_code": "DRESS", "name": "Silk dress", "brand": "Maison",
                        "category": "dresses", "size": "S", "price": "300.00", "currency": "EUR"})  # fmt: skip
    ok(
        db,
        "orders",
        order("G-9", "2026-11-01T10:00:00Z", [("DRESS-S", 1, "300.00")], {"source": "web", "id": "guest-77"}),
    )
    email_from(db, "alicia.m@shop.example", "Could I try the camel coat in L on Tuesday?", "<guest-1@shop.example>")
    appointment = book(db, w, TUESDAY_11, customer_id=guest, reason="Try the coat",
                       conversation_summary="Web chat: asked for the camel coat in L")  # fmt: skip

    [merged] = ok(db, "customers", {"source": "loyalty", "id": "L-1",
                                    "emails": ["alicia@example.com", "alicia.m@shop.example"]})  # fmt: skip
    assert merged == w.alicia

    b = brief(db, appointment)
    assert b.customer_id == w.alicia and b.client.profile.full_name == "Alicia Moreau"
    assert b.conversation_summary == "Web chat: asked for the camel coat in L"
    assert [m.body for m in b.messages] == ["Could I try the camel coat in L on Tuesday?"]
    assert {line.product.sku for line in b.purchases} == {"DRESS-S", "PERF-50", "COAT-M", "SCARF"}
    assert b.client.kpis.order_count == 3


def test_a_booking_kept_under_a_merged_away_id_is_read_as_the_survivor(db, w):
    """Merges move appointments with the client; an id kept from before still resolves."""
    [guest] = ok(db, "customers", {"source": "web", "id": "guest-78", "emails": ["guest78@shop.example"]})
    assert guest is not None
    ok(db, "customers", {"source": "loyalty", "id": "L-2", "emails": ["alicia@example.com", "guest78@shop.example"]})
    appointment = book(db, w, TUESDAY_11, customer_id=guest)  # booked with the old id: resolved at booking
    b = brief(db, appointment)
    assert b.customer_id == w.alicia and b.appointment.customer_id == w.alicia
    with db.read() as session:
        assert client_glance(session, guest).id == w.alicia


def test_an_unknown_appointment_is_not_found(db, w):
    with pytest.raises(NotFound), db.read() as session:
        brief_of(session, 999)


# -- bounded -----------------------------------------------------------------------------------------------------


def test_the_brief_costs_the_same_statements_whatever_the_history(db, w):
    appointment = book(db, w, TUESDAY_11, products_of_interest=["COAT", "TOTE"], sizes={"coats": "M"})
    email_from(db, "alicia@example.com", "See you Tuesday", "<first@example.com>")
    with statements(db) as first, db.read() as session:
        brief_of(session, appointment)
    ref = {"source": "shopify", "id": "1001"}
    basket = [("SCARF", 1, "50.00"), ("TOTE", 1, "450.00")]
    ok(db, "orders", *(order(f"X-{n}", f"2026-0{1 + n % 9}-15T10:00:00Z", basket, ref) for n in range(15)))
    wished = {"source": "web", "type": "wishlist_add", "occurred_at": "2026-10-02T20:00:00Z", "customer": ref}
    ok(db, "events", *({**wished, "id": f"V-{n}", "sku": sku} for n, sku in enumerate(["COAT-S", "COAT-L", "PERF-50"])))
    for n in range(12):
        email_from(db, "alicia@example.com", f"More {n}", f"<more{n}@example.com>")
    with statements(db) as second, db.read() as session:
        bigger = brief_of(session, appointment)
    assert len(bigger.purchases) == 10 and len(bigger.messages) == 8
    assert len(second) == len(first), "\n\n".join(second)
    assert len(first) <= 30
