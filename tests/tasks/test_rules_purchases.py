"""Rules from purchase history: replenishment, post-purchase check-ins, lapsing (now: Mon 23 Nov 2026, 15:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from rapport.catalog.models import Product
from rapport.db import Database
from rapport.tasks import config
from tests.factories import ingest, ok
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, buy, sweep, the_task


def _fragrance(db: Database) -> int:
    with db.read() as s:
        return s.scalars(select(Product.id).where(Product.sku == "FRAG-50")).one()


# --- replenishment ------------------------------------------------------------------------------


def test_a_fragrance_bought_once_is_due_when_it_usually_runs_out(store: Database) -> None:
    add_client(store, "C1")
    bought = datetime(2026, 9, 27, 11, tzinfo=UTC)  # + 60 days = 26 Nov, three days from now
    order_id = buy(store, "C1", "O1", at=bought, sku="FRAG-50", price="120")
    sweep(store, "replenishment")
    task = the_task(store, "replenishment")
    assert task.dedupe_key == f"replenishment:{_fragrance(store)}:{order_id}"
    assert task.title == "Replenish Eau de parfum 50 ml"
    assert task.reason == (
        "Bought Eau de parfum 50 ml on 27 Sep; it lasts about 60 days, so probably running low around 26 Nov"
    )
    assert task.due_at == bought + timedelta(days=60 - 5)
    assert task.expires_at == bought + timedelta(days=60 + 5)
    assert task.product_id == _fragrance(store)


def test_a_fragrance_bought_a_month_ago_is_not_due_yet(store: Database) -> None:
    add_client(store, "C1")
    buy(store, "C1", "O1", at=ago(days=30), sku="FRAG-50", price="120")
    buy(store, "C1", "O2", at=ago(days=58), sku="SCARF-SILK", price="45.50")  # not a consumable
    assert sweep(store, "replenishment").created == 0


def _every_30_days(db: Database) -> None:
    for n, when in enumerate(("2026-07-30", "2026-08-29", "2026-09-28", "2026-10-28")):
        buy(db, "C1", f"O{n}", at=datetime.fromisoformat(f"{when}T11:00:00+00:00"), sku="FRAG-50", price="120")


def test_a_regular_buyers_own_rhythm_wins_over_the_products(store: Database) -> None:
    add_client(store, "C1")
    _every_30_days(store)
    sweep(store, "replenishment")  # every 30 days: runs out 27 Nov (the product's 60 days would say 27 Dec)
    task = the_task(store, "replenishment")
    assert task.reason == (
        "Buys Eau de parfum 50 ml about every 30 days (4 purchases since 30 Jul 2026); "
        "last on 28 Oct, so probably running low around 27 Nov"
    )
    assert task.facts["own_interval"] is True and task.facts["interval_days"] == 30.0


def test_below_the_purchases_needed_for_an_own_rhythm_the_products_interval_applies(store: Database) -> None:
    add_client(store, "C1")
    _every_30_days(store)
    with store.write() as s:
        config.update(s, "replenishment", params={"min_purchases_for_own_interval": 5}, by="test")
    assert sweep(store, "replenishment").created == 0  # 28 Oct + 60 days: not due before late December


def test_a_returned_fragrance_does_not_count_as_bought(store: Database) -> None:
    add_client(store, "C1")
    buy(store, "C1", "O1", at=datetime(2026, 9, 27, 11, tzinfo=UTC), sku="FRAG-50", price="120")
    ok(ingest(store, "returns", {
        "source": "pos", "id": "R1", "order_id": "O1", "channel": "store", "store": "PAR", "currency": "EUR",
        "returned_at": "2026-09-28T10:00:00+00:00", "lines": [{"sku": "FRAG-50", "quantity": 1}],
    }))  # fmt: skip
    assert sweep(store, "replenishment").created == 0


# --- post-purchase ------------------------------------------------------------------------------


def test_a_week_after_a_large_purchase_ask_how_it_is_going(store: Database) -> None:
    cid = add_client(store, "C1")
    placed = datetime(2026, 11, 15, 16, tzinfo=UTC)
    order_id = buy(store, "C1", "O1", at=placed, lines=[
        {"sku": "COAT-CAMEL-M", "quantity": 1, "unit_price": "1200.00"},
        {"sku": "SCARF-SILK", "quantity": 2, "unit_price": "45.50"},
    ])  # fmt: skip
    sweep(store, "post_purchase")
    task = the_task(store, "post_purchase")
    assert (task.customer_id, task.dedupe_key) == (cid, f"post_purchase:order:{order_id}")
    assert task.title == "Check in after the €1,291.00 purchase"
    assert task.reason == (
        "Bought Camel wool coat (M) and 2 more items for €1,291.00 at Paris Saint-Honoré on 15 Nov; ask how it is going"
    )
    assert task.due_at == placed + timedelta(days=7) and task.expires_at == placed + timedelta(days=14)


def test_small_recent_cancelled_or_returned_purchases_get_no_check_in(store: Database) -> None:
    add_client(store, "C1")
    buy(store, "C1", "SMALL", at=ago(days=9), sku="SCARF-SILK", price="45.50")
    buy(store, "C1", "RECENT", at=ago(days=3))
    buy(store, "C1", "CANCELLED", at=ago(days=9), status="cancelled")
    buy(store, "C1", "RETURNED", at=ago(days=10))
    ok(ingest(store, "returns", {
        "source": "pos", "id": "R1", "order_id": "RETURNED", "channel": "store", "store": "PAR", "currency": "EUR",
        "returned_at": ago(days=9).isoformat(), "lines": [{"sku": "COAT-CAMEL-M", "quantity": 1}],
    }))  # fmt: skip
    assert sweep(store, "post_purchase").created == 0


def test_one_check_in_per_order_however_often_the_sweep_runs(store: Database, fixed_clock) -> None:
    add_client(store, "C1")
    buy(store, "C1", "O1", at=ago(days=8))
    assert sweep(store, "post_purchase").created == 1
    fixed_clock.advance(timedelta(days=2))
    assert sweep(store, "post_purchase").created == 0


# --- lapsing ------------------------------------------------------------------------------------


def _monthly(db: Database, client: str, last: datetime, orders: int = 4) -> int:
    order_id = 0
    for n in range(orders):
        order_id = buy(db, client, f"{client}-O{n}", at=last - timedelta(days=30 * (orders - 1 - n)))
    return order_id


def test_a_monthly_client_silent_for_half_a_year_is_lapsing(store: Database) -> None:
    cid = add_client(store, "C1")
    last_order = _monthly(store, "C1", datetime(2026, 5, 30, 12, tzinfo=UTC))
    sweep(store, "lapsing")
    task = the_task(store, "lapsing")
    assert (task.customer_id, task.dedupe_key) == (cid, f"lapsing:{last_order}")
    assert task.title == "No purchase for 177 days"
    assert (
        task.reason
        == "Usually buys about every 30 days (4 orders since 1 Mar 2026); nothing since 30 May 2026, 177 days ago"
    )
    assert task.facts["cadence_days"] == 30.0


def test_a_regular_buyer_and_a_client_with_too_few_orders_are_not_lapsing(store: Database) -> None:
    add_client(store, "REGULAR")
    _monthly(store, "REGULAR", ago(days=20))
    add_client(store, "TWICE")
    _monthly(store, "TWICE", datetime(2026, 5, 30, 12, tzinfo=UTC), orders=2)
    add_client(store, "GONE")
    _monthly(store, "GONE", datetime(2025, 6, 1, 12, tzinfo=UTC))  # past max_gap_days: gone, not lapsing
    assert sweep(store, "lapsing").created == 0


def test_lapsing_is_measured_against_the_clients_own_cadence_and_the_factor(store: Database) -> None:
    add_client(store, "C1")
    _monthly(store, "C1", ago(days=70))  # 70 days > 60-day floor, but < 2.5 x 30
    assert sweep(store, "lapsing").created == 0
    with store.write() as s:
        config.update(s, "lapsing", params={"factor": 2.0}, by="test")
    assert sweep(store, "lapsing").created == 1
