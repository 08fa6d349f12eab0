"""Returns in store: an order bought online (or anywhere) found at the counter and taken back at the store.

Alicia bought a camel coat and two silk scarves on the web shop (order #1001); she brings the coat
back to the Paris store. The return is recorded against the original line (channel "online",
returned at Paris), the coat goes back on the Paris shelf when it can be sold again, and her 360
counts the return.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text

from rapport.associates.models import Associate, AuditEvent
from rapport.associates.permissions import Actor
from rapport.catalog.models import Product
from rapport.commerce import store_returns
from rapport.commerce.models import Order, Return, ReturnLine
from rapport.commerce.store_returns import LineIn, OrderForReturn, ReturnReceipt
from rapport.customers.models import TimelineEntry
from rapport.customers.read import client_360
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.identity.merge import merge_customers
from rapport.inventory.models import Location, StockLevel, StockMovement, StockSignal
from tests.factories import alicia, ingest, ok, order, seed_reference
from tests.statements import statements

WEB = {"source": "shopify", "id": "1001"}


def bought_online(db: Database) -> int:
    """Alicia's web order #1001 (a coat, two scarves), with no coat and three scarves on the Paris shelf."""
    seed_reference(db)
    ok(ingest(db, "customers", alicia()))
    ok(ingest(db, "orders", order(
        "WEB-77", source="shopify", channel="online", store=None, order_number="#1001", customer=WEB,
        lines=[{"id": "1", "sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": "1200.00"},
               {"id": "2", "sku": "SCARF-SILK", "quantity": 2, "unit_price": "45.50"}],
    )))  # fmt: skip
    ok(ingest(db, "stock", {"sku": "COAT-CAMEL-M", "location": "PAR", "on_hand": 0},
              {"sku": "SCARF-SILK", "location": "PAR", "on_hand": 3}))  # fmt: skip
    with db.read() as s:
        return int(s.scalars(select(Order.id).where(Order.external_id == "WEB-77")).one())


@pytest.fixture
def web_order(db: Database) -> int:
    return bought_online(db)


def find(db: Database, q: str, **kw: Any) -> list[OrderForReturn]:
    with db.read() as s:
        return store_returns.find_orders(s, q, **kw)


def ids(db: Database) -> dict[str, int]:
    """Location and order-line ids by name: PAR, NYC, COAT, SCARF."""
    with db.read() as s:
        out = {code: id_ for code, id_ in s.execute(select(Location.code, Location.id))}
        (found,) = store_returns.find_orders(s, "#1001")
    return {**out, **{line.sku.split("-")[0]: line.id for line in found.lines}}


def take_back(db: Database, order_id: int, lines: list[Any], **kw: Any) -> ReturnReceipt:
    store = kw.pop("store", "PAR")
    with db.write() as s:
        store_id = store_returns.store_by_code(s, store).id
        return store_returns.return_in_store(
            s, order_id=order_id, store_id=store_id, lines=lines, reason=kw.pop("reason", "Too small"),
            associate_id=kw.pop("associate_id", None), **kw,
        )  # fmt: skip


def on_hand(db: Database, sku: str, store: str = "PAR") -> int:
    with db.read() as s:
        return int(
            s.scalar(
                select(StockLevel.on_hand)
                .join(Product, Product.id == StockLevel.product_id)
                .join(Location, Location.id == StockLevel.location_id)
                .where(Product.sku == sku, Location.code == store)
            )
            or 0
        )


def count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- finding the order -------------------------------------------------------------------------------


def test_an_online_order_is_found_by_its_number_its_source_id_the_email_or_the_phone(db, web_order):
    for q in ("#1001", "1001", " WEB-77 ", "Alicia@Example.com", "+33 6 12 34 56 78"):
        found = find(db, q)
        assert [o.id for o in found] == [web_order], q
    assert [o.id for o in find(db, "06 12 34 56 78", region="FR")] == [web_order]  # local format, read in France

    (o,) = find(db, "#1001")
    assert (o.number, o.channel, o.client_name, o.store_code, o.total) == ("#1001", "online", "Alicia Moreau",
                                                                          None, "€1,291.00")  # fmt: skip
    coat, scarf = o.lines
    assert (coat.sku, coat.name, coat.size, coat.colour, coat.quantity, coat.returned, coat.returnable) == (
        "COAT-CAMEL-M", "Camel wool coat", "M", "camel", 1, 0, 1)  # fmt: skip
    assert (scarf.quantity, scarf.unit_price) == (2, "€45.50") and coat.unit_price == "€1,200.00"
    assert find(db, "nobody@example.com") == [] and find(db, "#9999") == []


def test_newest_orders_first_from_any_channel_and_what_is_left_to_return(db, web_order):
    ok(ingest(db, "orders", order("POS-7", customer=WEB, placed_at="2026-11-20T11:00:00+01:00")))  # in store, Paris
    ids_ = ids(db)
    take_back(db, web_order, [(ids_["SCARF"], 1, True)])
    newest, older = find(db, "alicia@example.com")
    assert (newest.channel, newest.store_name, older.id) == ("store", "Paris Saint-Honoré", web_order)
    scarf = older.lines[1]
    assert (scarf.returned, scarf.returnable) == (1, 1)


def test_a_merged_clients_orders_are_found_by_either_address(db, web_order):
    ok(ingest(db, "customers", {"source": "pos", "id": "C9", "first_name": "Ali", "last_name": "Moreau",
                                "emails": ["ali.moreau@example.com"]}))  # fmt: skip
    ok(ingest(db, "orders", order("POS-9", customer={"source": "pos", "id": "C9"})))
    with db.write() as s:
        survivor = s.scalar(select(Order.customer_id).where(Order.external_id == "WEB-77"))
        loser = s.scalar(select(Order.customer_id).where(Order.external_id == "POS-9"))
        merge_customers(s, survivor, loser, reason="same person")
    for q in ("ali.moreau@example.com", "alicia@example.com"):
        found = find(db, q)
        assert {o.external_id for o in found} == {"WEB-77", "POS-9"}, q
        assert {o.customer_id for o in found} == {survivor} and found[0].client_name == "Alicia Moreau"


def statements_to_find(db: Database, q: str) -> int:
    with statements(db) as seen:
        find(db, q)
    return len(seen)


def test_finding_a_clients_orders_costs_the_same_few_queries_however_many_they_have(db, web_order):
    few = statements_to_find(db, "alicia@example.com")
    ok(ingest(db, "orders", *(order(f"POS-{n}", customer=WEB, placed_at=f"2026-10-{n:02d}T10:00:00+02:00")
                              for n in range(10, 22))))  # fmt: skip
    assert statements_to_find(db, "alicia@example.com") == few <= 8
    assert len(find(db, "alicia@example.com")) == store_returns.DEFAULT_LIMIT
    assert statements_to_find(db, "#1001") <= 8


@pytest.mark.parametrize(
    ("q", "says"),
    [("", "3 characters or more"), ("ab", "3 characters or more"), ("alicia@", "not a complete email"),
     ("999 999 999 999 9", "not a complete phone number")],
)  # fmt: skip
def test_a_query_that_cannot_be_an_order_number_email_or_phone_is_refused_naming_q(db, web_order, q, says):
    with pytest.raises(InvalidRecord) as exc:
        find(db, q)
    assert exc.value.errors[0].field == "q" and says in exc.value.errors[0].message


# -- taking it back ------------------------------------------------------------------------------------


def test_an_online_order_returned_in_paris_is_linked_restocked_and_on_the_timeline(db, web_order):
    i = ids(db)
    with db.read() as s:
        ana = s.scalar(select(Associate.id).where(Associate.code == "ANA"))
    receipt = take_back(db, web_order, [(i["COAT"], 1, True)], reason="Too small", associate_id=ana)
    assert receipt.created and (receipt.refund, receipt.store_code, receipt.channel) == ("€1,200.00", "PAR", "online")
    assert receipt.client_name == "Alicia Moreau" and receipt.order_number == "#1001"
    assert [(x.sku, x.quantity, x.restocked, x.condition) for x in receipt.lines] == [
        ("COAT-CAMEL-M", 1, True, "back in stock")]  # fmt: skip
    with db.read() as s:
        ret = s.get(Return, receipt.id)
        line = s.scalars(select(ReturnLine).where(ReturnLine.return_id == receipt.id)).one()
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "return")).one()
        move = s.scalars(select(StockMovement).where(StockMovement.reason == "return")).one()
        signal = s.scalars(select(StockSignal)).one()
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "return.recorded")).one()
    assert (ret.channel, ret.location_id, ret.order_id, ret.unlinked, ret.refund_minor) == (
        "online", i["PAR"], web_order, False, 120000)  # fmt: skip
    assert (ret.source, ret.reason, ret.customer_id) == ("rapport", "Too small", receipt.customer_id)
    assert (line.order_line_id, line.quantity) == (i["COAT"], 1)
    assert (entry.channel, entry.location_id, entry.customer_id) == ("online", i["PAR"], receipt.customer_id)
    assert "bought online" in entry.summary and "€1,200.00" in entry.summary
    assert (entry.actor_kind, entry.actor_id) == ("associate", ana)  # who took it back
    assert (move.location_id, move.delta, move.external_id) == (i["PAR"], 1, f"return:{receipt.id}:{line.id}")
    assert on_hand(db, "COAT-CAMEL-M") == 1
    assert (signal.location_id, signal.kind) == (i["PAR"], "back_in_stock")  # the store had none: next actions follow
    assert audited.customer_id == receipt.customer_id and audited.detail["lines"][0]["sellable"] is True


def test_a_damaged_item_is_recorded_but_not_put_back_on_the_shelf(db, web_order):
    i = ids(db)
    receipt = take_back(db, web_order, [(i["SCARF"], 1, False), (i["SCARF"], 1, True)], reason="Faulty")
    assert [(x.quantity, x.restocked) for x in receipt.lines] == [(1, False), (1, True)]
    assert receipt.lines[0].condition == "damaged — not restocked" and receipt.refund == "€91.00"
    assert on_hand(db, "SCARF-SILK") == 4  # three, plus the good one; the torn one stays out
    assert count(db, StockSignal) == 0  # the shelf was never empty


def test_more_than_was_bought_is_refused_naming_the_line_with_nothing_written(db, web_order):
    i = ids(db)
    with pytest.raises(InvalidRecord) as exc:
        take_back(db, web_order, [(i["COAT"], 2, True)])
    assert [(e.field, e.message) for e in exc.value.errors] == [("lines.0.quantity", "only 1 left to return")]
    assert (count(db, Return), count(db, ReturnLine), count(db, StockMovement), on_hand(db, "COAT-CAMEL-M")) == (
        0, 0, 0, 0)  # fmt: skip

    take_back(db, web_order, [(i["COAT"], 1, True)])
    with pytest.raises(InvalidRecord) as again:
        take_back(db, web_order, [(i["SCARF"], 1, True), (i["COAT"], 1, True)], reason="")
    fields = {e.field: e.message for e in again.value.errors}
    assert fields == {"lines.1.quantity": "nothing left to return: it was returned already",
                      "reason": "say why the client is returning it"}  # fmt: skip
    assert (count(db, Return), on_hand(db, "COAT-CAMEL-M"), on_hand(db, "SCARF-SILK")) == (1, 1, 3)


def test_the_same_request_twice_records_one_return(db, web_order):
    i = ids(db)
    first = take_back(db, web_order, [(i["COAT"], 1, True)], idempotency_key="till-7f3a9c21")
    second = take_back(db, web_order, [(i["COAT"], 1, True)], idempotency_key="till-7f3a9c21")
    assert (first.created, second.created, second.id) == (True, False, first.id)
    assert second.lines[0].restocked is True
    assert (count(db, Return), on_hand(db, "COAT-CAMEL-M")) == (1, 1)
    with db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "return.recorded")) == 1


def test_the_clients_360_counts_the_return(db, web_order):
    i = ids(db)
    receipt = take_back(db, web_order, [(i["COAT"], 1, True)])
    with db.read() as s:
        view = client_360(s, receipt.customer_id)
    (spend,) = view.kpis.lifetime_spend
    assert (spend.gross.formatted, spend.refunded.formatted, spend.net.formatted) == ("€1,291.00", "€1,200.00",
                                                                                      "€91.00")  # fmt: skip
    assert (view.kpis.return_count, view.kpis.units_bought, view.kpis.units_returned) == (1, 3, 1)
    assert view.kpis.return_rate == pytest.approx(0.3333, abs=1e-4)
    assert any(e.kind == "return" for e in view.timeline.entries)


def test_associates_take_returns_at_their_own_stores(db, web_order):
    i = ids(db)
    ben = Actor.associate(99, "associate", {i["NYC"]})
    with pytest.raises(PermissionDenied, match="Paris Saint-Honoré is not one of them"):
        take_back(db, web_order, [(i["COAT"], 1, True)], actor=ben)
    ana = Actor.associate(98, "associate", {i["PAR"]})
    assert take_back(db, web_order, [(i["COAT"], 1, True)], actor=ana, refund_override=[100000]).refund == "€1,000.00"
    with pytest.raises(InvalidRecord, match=r"lines.0.refund: between 0 and €91.00"):
        take_back(db, web_order, [(i["SCARF"], 2, True)], actor=ana, refund_override=[9200])
    with pytest.raises(InvalidRecord, match="a warehouse: returns in store are taken at stores"):
        ok(ingest(db, "locations", {"code": "WH", "name": "Warehouse", "kind": "warehouse", "country": "FR"}))
        take_back(db, web_order, [(i["COAT"], 1, True)], store="WH")


def test_lines_from_another_order_or_a_cancelled_order_are_refused(db, web_order):
    ok(ingest(db, "orders", order("POS-7", customer=WEB), order("POS-8", customer=WEB, status="cancelled")))
    other = find(db, "POS-7")[0].lines[0].id
    with pytest.raises(InvalidRecord, match=r"lines.0.order_line_id: order #1001 has no line"):
        take_back(db, web_order, [LineIn(other, 1)])
    cancelled = find(db, "POS-8")[0]
    assert cancelled.returnable == 0
    with pytest.raises(InvalidRecord, match="order POS-8 was cancelled"):
        take_back(db, cancelled.id, [(cancelled.lines[0].id, 1, True)])


WAITING = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")


def test_two_associates_returning_the_last_unit_at_once_record_it_once(pg_db):
    """PostgreSQL: the second waits on the order's lock, then sees the first's return and is refused."""
    order_id = bought_online(pg_db)
    coat = ids(pg_db)["COAT"]
    first_done, let_go = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with pg_db.write() as s:
            store = store_returns.store_by_code(s, "PAR")
            outcome["first"] = store_returns.return_in_store(
                s, order_id=order_id, store_id=store.id, lines=[(coat, 1, True)], reason="Too small", associate_id=None
            )
            first_done.set()
            let_go.wait(10)  # still holding the order's lock

    def second() -> None:
        try:
            take_back(pg_db, order_id, [(coat, 1, True)])
        except InvalidRecord as exc:
            outcome["second"] = exc

    a = threading.Thread(target=first)
    a.start()
    assert first_done.wait(10)
    b = threading.Thread(target=second)
    b.start()
    with pg_db.engine.connect() as watch:  # until the second is waiting on the lock, not a moment later
        deadline = time.monotonic() + 10
        while not watch.execute(WAITING).scalar() and time.monotonic() < deadline:
            watch.rollback()
    let_go.set()
    a.join(10)
    b.join(10)
    assert outcome["first"].created
    assert outcome["second"].errors[0].message == "nothing left to return: it was returned already"
    assert (count(pg_db, Return), on_hand(pg_db, "COAT-CAMEL-M")) == (1, 1)
