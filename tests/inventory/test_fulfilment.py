"""Buy online, pick up in store: the life cycle end to end, stock at every step, what the client and
the store are told, transfers when the store lacks stock, and what happens when nobody has it."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from rapport import clock
from rapport.associates import notifications
from rapport.associates.notifications import EmailSettings
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, NotFound
from rapport.inventory import fulfilment
from rapport.inventory.stock import OutOfStock
from tests.inventory.fulfilment_kit import (
    active_reservations,
    customer_of,
    fulfilment_story,
    level,
    movements,
    online_order,
    put,
    seed,
)
from tests.inventory.fulfilment_kit import notifications as sent_notifications


@dataclass
class Inbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A local SMTP server, and Rapport's email switched on to it."""
    box = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = EmailSettings(notify_email=True, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5,
                             mail_from="Maison <rapport@maison.example>")  # fmt: skip
    notifications.set_email_settings(settings)
    try:
        yield box
    finally:
        controller.stop()
        notifications.set_email_settings(None)


@pytest.fixture
def places(db: Database) -> dict[str, int]:
    return seed(db)


def plan(db: Database, order_id: int, store_id: int) -> int:
    with db.write() as s:
        [pickup] = fulfilment.plan_pickups(s, [(order_id, store_id)])
    return pickup


def view(db: Database, fulfilment_id: int) -> fulfilment.FulfilmentView:
    with db.read() as s:
        return fulfilment.get_fulfilment(s, fulfilment_id)


def test_a_pickup_goes_from_order_to_collected_with_stock_right_at_every_step(db, places, inbox, fixed_clock):
    put(db, ("COAT-CAMEL-M", "PAR", 2))
    order_id = online_order(db, "W1")
    client = customer_of(db, order_id)

    pickup = plan(db, order_id, places["PAR"])
    assert view(db, pickup).status == "allocated"
    assert view(db, pickup).collect_by is None
    assert level(db, "COAT-CAMEL-M", "PAR") == (2, 1)  # promised, still on the shelf

    with db.write() as s:
        fulfilment.mark_picked(s, pickup)
    assert level(db, "COAT-CAMEL-M", "PAR") == (2, 1)

    with db.write() as s:
        ready = fulfilment.mark_ready(s, pickup)
    assert ready.status == "ready"
    assert ready.collect_by == clock.now() + timedelta(days=fulfilment.COLLECT_DAYS)
    [message] = inbox.messages  # sent after the commit, to the client
    assert message["To"].addresses[0].addr_spec == "alicia@example.com"
    assert message["Subject"] == "Your order #W1 is ready for collection"
    assert "Paris Saint-Honoré" in message.get_content()
    assert "Mon 30 Nov" in message.get_content()

    fixed_clock.advance(timedelta(days=2))
    with db.write() as s:
        done = fulfilment.mark_collected(s, pickup)
    assert done.status == "collected" and done.closed_at == clock.now()
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)  # gone with the client
    assert movements(db, "collected") == [(places["PAR"], -1)]

    with pytest.raises(Conflict, match="already collected"), db.write() as s:
        fulfilment.mark_collected(s, pickup)
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)  # a second tap moves nothing
    assert len(movements(db, "collected")) == 1

    assert fulfilment_story(db, client) == [
        "Order #W1: 1 item put aside for collection at Paris Saint-Honoré",
        "Order #W1: 1 item picked at Paris Saint-Honoré",
        "Order #W1 ready for collection at Paris Saint-Honoré until Mon 30 Nov",
        "Told by email that order #W1 is ready (alicia@example.com)",
        "Order #W1 collected at Paris Saint-Honoré",
    ]


def test_the_timeline_says_why_the_client_was_not_told(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 2), ("SCARF-SILK", "PAR", 1))
    with_email = online_order(db, "W2")
    noe = {"source": "shopify", "id": "77", "first_name": "Noé", "phone": "+33612345699"}
    no_email = online_order(db, "W3", ("SCARF-SILK", 1), customer=noe)
    first, second = plan(db, with_email, places["PAR"]), plan(db, no_email, places["PAR"])
    with db.write() as s:  # email switched off (the default)
        fulfilment.mark_ready(s, first)
    notifications.set_email_settings(EmailSettings(notify_email=True, smtp_host="127.0.0.1", smtp_port=1))
    try:
        with db.write() as s:
            fulfilment.mark_ready(s, second)
    finally:
        notifications.set_email_settings(None)
    assert fulfilment_story(db, customer_of(db, with_email))[-1] == (
        "Not told that order #W2 is ready: no email channel configured"
    )
    assert fulfilment_story(db, customer_of(db, no_email))[-1] == "Not told that order #W3 is ready: no email address"


def test_an_email_the_server_refuses_is_not_reported_as_sent(db, places, caplog):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    order_id = online_order(db, "W4")
    pickup = plan(db, order_id, places["PAR"])
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = int(closed.getsockname()[1])  # nobody listens there
    notifications.set_email_settings(EmailSettings(notify_email=True, smtp_host="127.0.0.1", smtp_port=port))
    try:
        with db.write() as s:
            fulfilment.mark_ready(s, pickup)
    finally:
        notifications.set_email_settings(None)
    assert view(db, pickup).status == "ready"  # the email never undoes the change
    assert fulfilment_story(db, customer_of(db, order_id))[-1].startswith(
        "Email that order #W4 is ready not sent to alicia@example.com"
    )


def test_a_pickup_not_collected_in_time_goes_back_to_stock_and_the_store_is_told(db, places, fixed_clock):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    order_id = online_order(db, "W5")
    pickup = plan(db, order_id, places["PAR"])
    with db.write() as s:
        fulfilment.mark_ready(s, pickup, collect_days=3)
    fixed_clock.advance(timedelta(days=3))
    with db.write() as s:
        assert fulfilment.release_uncollected(s) == 0  # collect_by is not past yet
    fixed_clock.advance(timedelta(minutes=1))
    with db.write() as s:
        assert fulfilment.release_uncollected(s) == 1
    with db.write() as s:
        assert fulfilment.release_uncollected(s) == 0
    assert view(db, pickup).status == "not_collected"
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)  # back on sale
    assert active_reservations(db, pickup) == []
    assert fulfilment_story(db, customer_of(db, order_id))[-1] == (
        "Order #W5 not collected at Paris Saint-Honoré by Thu 26 Nov: the items are back on sale"
    )
    assert [title for _, title in sent_notifications(db)] == ["Order #W5 not collected: put the items back"]
    with pytest.raises(Conflict, match="not collected, not ready"), db.write() as s:
        fulfilment.mark_collected(s, pickup)


def test_an_order_cancelled_upstream_gives_its_stock_back(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1), ("SCARF-SILK", "PAR", 3))
    order_id = online_order(db, "W6", ("COAT-CAMEL-M", 1), ("SCARF-SILK", 2))
    pickup = plan(db, order_id, places["PAR"])
    with db.write() as s:
        fulfilment.mark_ready(s, pickup)
    assert level(db, "SCARF-SILK", "PAR") == (3, 2)
    with db.write() as s:
        assert fulfilment.cancel_for_orders(s, [order_id]) == 1
    with db.write() as s:
        assert fulfilment.cancel_for_orders(s, [order_id]) == 0
    assert view(db, pickup).status == "cancelled"
    assert level(db, "SCARF-SILK", "PAR") == (3, 0)
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)
    assert [title for _, title in sent_notifications(db)] == ["Order #W6 cancelled: put the items back"]
    with pytest.raises(Conflict, match="is cancelled, not allocated"), db.write() as s:
        fulfilment.mark_picked(s, pickup)


def test_what_the_store_lacks_comes_by_transfer_and_is_allocated_when_it_arrives(db, places):
    put(db, ("SCARF-SILK", "PAR", 1), ("COAT-CAMEL-M", "WH-FR", 3), ("COAT-CAMEL-M", "LYO", 5))
    order_id = online_order(db, "W7", ("SCARF-SILK", 1), ("COAT-CAMEL-M", 1))
    pickup = plan(db, order_id, places["PAR"])
    with db.read() as s:
        parts = fulfilment.fulfilments_of_order(s, order_id)
    assert [(f.kind, f.status) for f in parts] == [("pickup", "awaiting_transfer"), ("transfer", "allocated")]
    transfer = parts[1]
    assert transfer.from_location is not None and transfer.to_location is not None
    assert (transfer.from_location.code, transfer.to_location.code, transfer.feeds_id) == ("WH-FR", "PAR", pickup)
    assert [line.sku for line in transfer.lines] == ["COAT-CAMEL-M"]
    assert level(db, "SCARF-SILK", "PAR") == (1, 1)  # what the store has is promised now
    assert level(db, "COAT-CAMEL-M", "WH-FR") == (3, 1)  # the nearer warehouse, before the Lyon store

    with pytest.raises(Conflict, match="is awaiting transfer, not allocated or picked"), db.write() as s:
        fulfilment.mark_ready(s, pickup)
    with db.write() as s:
        fulfilment.mark_shipped(s, transfer.id, tracking="COLIS-1")
    assert level(db, "COAT-CAMEL-M", "WH-FR") == (2, 0)
    assert movements(db, "transfer_out") == [(places["WH-FR"], -1)]
    assert view(db, pickup).status == "awaiting_transfer"

    with db.write() as s:
        fulfilment.mark_received(s, transfer.id)
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 1)  # arrived, and promised to the client
    assert view(db, pickup).status == "allocated"
    assert sorted(active_reservations(db, pickup)) == sorted(
        [
            (view(db, pickup).lines[0].product_id, places["PAR"], 1),
            (view(db, pickup).lines[1].product_id, places["PAR"], 1),
        ]
    )
    with pytest.raises(Conflict, match="already received"), db.write() as s:
        fulfilment.mark_received(s, transfer.id)
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 1)
    assert movements(db, "transfer_in") == [(places["PAR"], 1)]
    with db.read() as s:
        picking = fulfilment.pick_list(s, places["PAR"])
    assert sorted((p.sku, p.quantity, p.order_number, p.client_name) for p in picking) == [
        ("COAT-CAMEL-M", 1, "#W7", "Alicia Moreau"), ("SCARF-SILK", 1, "#W7", "Alicia Moreau")
    ]  # fmt: skip


def test_cancelling_a_pickup_stops_its_transfer_and_gives_everything_back(db, places):
    put(db, ("COAT-CAMEL-M", "WH-FR", 1))
    order_id = online_order(db, "W8")
    pickup = plan(db, order_id, places["PAR"])
    with db.write() as s:
        fulfilment.cancel(s, pickup, note="client changed her mind")
    with db.read() as s:
        assert [f.status for f in fulfilment.fulfilments_of_order(s, order_id)] == ["cancelled", "cancelled"]
    assert level(db, "COAT-CAMEL-M", "WH-FR") == (1, 0)
    with pytest.raises(Conflict, match="already cancelled"), db.write() as s:
        fulfilment.cancel(s, pickup)


def test_when_nobody_has_it_the_pickup_is_unfulfillable_and_the_store_is_told(db, places):
    put(db, ("SCARF-SILK", "PAR", 1))
    order_id = online_order(db, "W9", ("SCARF-SILK", 1), ("COAT-CAMEL-M", 1))
    pickup = plan(db, order_id, places["PAR"])
    found = view(db, pickup)
    assert (found.status, found.from_location) == ("unfulfillable", None)
    assert "COAT-CAMEL-M" in (found.note or "")
    assert level(db, "SCARF-SILK", "PAR") == (1, 0)  # nothing promised for an order that cannot be kept
    assert fulfilment_story(db, customer_of(db, order_id)) == [
        "Order #W9: no stock anywhere for collection at Paris Saint-Honoré; the store team was told"
    ]
    ana = [a for a, title in sent_notifications(db) if title == "Order #W9: no stock for collection"]
    assert len(ana) == 1  # Ana works at Paris
    with db.write() as s:
        assert fulfilment.plan_pickups(s, [(order_id, places["PAR"])]) == []  # a replay plans nothing
    with db.read() as s:
        assert [f.id for f in fulfilment.fulfilments_at(s, places["PAR"], "attention")] == [pickup]

    put(db, ("COAT-CAMEL-M", "PAR", 1))  # a delivery: try again by hand
    with db.write() as s:
        parts = fulfilment.allocate_pickup(s, order_id, places["PAR"])
    assert [(f.id, f.status) for f in parts] == [(pickup, "allocated")]
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 1)


def test_arranging_a_pickup_by_hand_refuses_clearly(db, places):
    put(db, ("COAT-CAMEL-M", "PAR", 1))
    order_id = online_order(db, "W10")
    with pytest.raises(NotFound), db.write() as s:
        fulfilment.allocate_pickup(s, 999_999, places["PAR"])
    with pytest.raises(InvalidRecord, match="store: Orléans warehouse does not take"), db.write() as s:
        fulfilment.allocate_pickup(s, order_id, places["WH-FR"])
    nothing = online_order(db, "W11", ("FRAG-50", 2))
    with pytest.raises(OutOfStock, match="FRAG-50 at Paris Saint-Honoré or any one other location"), db.write() as s:
        fulfilment.allocate_pickup(s, nothing, places["PAR"])
    with db.read() as s:
        assert fulfilment.fulfilments_of_order(s, nothing) == []
    with db.write() as s:
        fulfilment.allocate_pickup(s, order_id, places["PAR"])
    with pytest.raises(Conflict, match="already being fulfilled"), db.write() as s:
        fulfilment.allocate_pickup(s, order_id, places["PAR"])


def test_two_taps_on_collected_at_once_collect_once(pg_db):
    """Two associates tap Collected on the same pickup at the same instant: one wins, stock moves once."""
    db = pg_db
    places = seed(db)
    put(db, ("COAT-CAMEL-M", "PAR", 2))
    order_id = online_order(db, "W12")
    pickup = plan(db, order_id, places["PAR"])
    with db.write() as s:
        fulfilment.mark_ready(s, pickup)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def tap() -> None:
        start.wait()
        try:
            with db.write() as s:
                fulfilment.mark_collected(s, pickup)
            outcomes.append("collected")
        except Conflict as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["collected", f"fulfilment {pickup} is already collected"]
    assert level(db, "COAT-CAMEL-M", "PAR") == (1, 0)
    assert len(movements(db, "collected")) == 1
