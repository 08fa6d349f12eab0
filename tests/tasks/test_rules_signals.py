"""Rules from signals: wishlist back in stock, try-ons not bought, a run of strong interest.

Now is Monday 23 November 2026, 15:00 UTC.
"""

from __future__ import annotations

from datetime import timedelta

from rapport.db import Database
from rapport.tasks import config
from rapport.tasks.rules import find_sequence
from rapport.tasks.rules.signals import _Signal
from tests.factories import ingest, ok
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, buy, signal, stock, sweep, tasks_of, the_task, warehouse

# --- back in stock ------------------------------------------------------------------------------


def _wishes_scarf_sold_out_everywhere(db: Database) -> int:
    cid = add_client(db, "C1")
    signal(db, "C1", "wishlist_add", at=ago(days=10), sku="SCARF-SILK")
    warehouse(db)
    for place in ("PAR", "NYC", "EU-DC"):
        stock(db, "SCARF-SILK", place, 0, at=ago(days=20))
    return cid


def test_a_wishlist_item_back_at_the_home_store_is_raised_at_once(store: Database) -> None:
    cid = _wishes_scarf_sold_out_everywhere(store)
    stock(store, "SCARF-SILK", "PAR", 3, at=ago(hours=1))
    sweep(store, "back_in_stock")
    task = the_task(store, "back_in_stock")
    assert task.customer_id == cid and task.priority == 3
    assert task.title == "Back in stock: Silk scarf"
    assert task.reason == "Silk scarf, on their wishlist, is back in stock: Paris Saint-Honoré (3 in stock)"
    assert task.dedupe_key == f"back_in_stock:{task.product_id}:2026-11-23"
    assert task.due_at == ago(hours=1) and task.expires_at == ago(hours=1) + timedelta(days=7)


def test_back_at_another_store_is_not_news_for_this_client(store: Database) -> None:
    _wishes_scarf_sold_out_everywhere(store)
    stock(store, "SCARF-SILK", "NYC", 4, at=ago(hours=1))
    assert sweep(store, "back_in_stock").created == 0


def test_back_online_counts_unless_the_retailer_says_only_the_home_store(store: Database) -> None:
    _wishes_scarf_sold_out_everywhere(store)
    stock(store, "SCARF-SILK", "EU-DC", 12, at=ago(hours=1))
    with store.write() as s:
        config.update(s, "back_in_stock", params={"online": False}, by="test")
    assert sweep(store, "back_in_stock").created == 0
    with store.write() as s:
        config.update(s, "back_in_stock", params={"online": True}, by="test")
    sweep(store, "back_in_stock")
    assert the_task(store, "back_in_stock").reason.endswith("back in stock: online (12 in stock)")


def test_back_at_the_store_and_online_the_same_day_is_one_task(store: Database) -> None:
    _wishes_scarf_sold_out_everywhere(store)
    stock(store, "SCARF-SILK", "EU-DC", 12, at=ago(hours=3))
    stock(store, "SCARF-SILK", "PAR", 2, at=ago(hours=1))
    report = sweep(store, "back_in_stock")
    assert report.created == 1
    assert the_task(store, "back_in_stock").reason.endswith("Paris Saint-Honoré (2 in stock), online (12 in stock)")


def test_no_task_when_sold_out_again_bought_meanwhile_or_wished_for_only_after(store: Database) -> None:
    _wishes_scarf_sold_out_everywhere(store)
    stock(store, "SCARF-SILK", "PAR", 3, at=ago(hours=5))
    stock(store, "SCARF-SILK", "PAR", 0, at=ago(hours=4))  # gone again
    assert sweep(store, "back_in_stock").created == 0
    stock(store, "SCARF-SILK", "PAR", 1, at=ago(hours=3))
    buy(store, "C1", "O1", at=ago(hours=2), sku="SCARF-SILK", price="45.50")
    assert sweep(store, "back_in_stock").created == 0
    add_client(store, "C2")
    signal(store, "C2", "wishlist_add", at=ago(hours=1), sku="SCARF-SILK")  # it was back already
    assert sweep(store, "back_in_stock").created == 0


def test_back_in_stock_skips_the_cool_down_after_a_recent_contact(store: Database) -> None:
    from rapport.tasks.service import complete, raise_tasks
    from tests.tasks.conftest import candidate

    cid = _wishes_scarf_sold_out_everywhere(store)
    with store.write() as s:
        raise_tasks(s, [candidate(cid)])
    with store.write() as s:
        (called,) = tasks_of(store, cid)
        complete(s, s.merge(called), outcome="contacted", by=None)
    stock(store, "SCARF-SILK", "PAR", 3, at=ago(hours=1))
    assert sweep(store, "back_in_stock").created == 1


# --- try-on follow-up ---------------------------------------------------------------------------


def test_a_try_on_without_a_purchase_is_followed_up_within_three_days(store: Database) -> None:
    cid = add_client(store, "C1")
    tried = ago(days=1)
    signal(store, "C1", "try_on", at=tried, sku="COAT-CAMEL-M", store="PAR", data={"reason": "Waiting for payday."})
    sweep(store, "try_on_follow_up")
    task = the_task(store, "try_on_follow_up")
    assert task.customer_id == cid and task.product_id is not None
    assert task.title == "Follow up on the Camel wool coat try-on"
    assert (
        task.reason
        == "Tried on Camel wool coat (M) at Paris Saint-Honoré on 22 Nov and has not bought it (Waiting for payday)"
    )
    assert task.dedupe_key == "try_on:COAT-CAMEL:2026-11-22"
    assert task.due_at == tried + timedelta(days=3) and task.expires_at == tried + timedelta(days=14)


def test_a_try_on_followed_by_a_purchase_of_the_style_is_not_followed_up(store: Database) -> None:
    ok(ingest(store, "products", {"sku": "COAT-CAMEL-L", "style_code": "COAT-CAMEL", "name": "Camel wool coat",
                                  "size": "L", "price": "1200.00", "currency": "EUR"}))  # fmt: skip
    add_client(store, "C1")
    signal(store, "C1", "try_on", at=ago(days=2), sku="COAT-CAMEL-M", store="PAR")
    buy(store, "C1", "O1", at=ago(days=1), sku="COAT-CAMEL-L")  # the other size
    assert sweep(store, "try_on_follow_up").created == 0


def test_an_old_try_on_is_let_go(store: Database) -> None:
    add_client(store, "C1")
    signal(store, "C1", "try_on", at=ago(days=15), sku="COAT-CAMEL-M", store="PAR")
    assert sweep(store, "try_on_follow_up").created == 0


def test_two_sizes_tried_on_the_same_day_are_one_follow_up(store: Database) -> None:
    ok(ingest(store, "products", {"sku": "COAT-CAMEL-L", "style_code": "COAT-CAMEL", "name": "Camel wool coat",
                                  "size": "L", "price": "1200.00", "currency": "EUR"}))  # fmt: skip
    add_client(store, "C1")
    signal(store, "C1", "try_on", at=ago(hours=5), sku="COAT-CAMEL-M", store="PAR")
    signal(store, "C1", "try_on", at=ago(hours=4), sku="COAT-CAMEL-L", store="PAR")
    assert sweep(store, "try_on_follow_up").created == 1
    assert "(L)" in the_task(store, "try_on_follow_up").reason


# --- high intent --------------------------------------------------------------------------------


def test_a_like_a_view_and_an_abandoned_cart_in_order_make_a_hot_lead(store: Database) -> None:
    cid = add_client(store, "C1")
    signal(store, "C1", "social_like", at=ago(hours=30), sku="COAT-CAMEL-M", source="instagram")
    signal(store, "C1", "product_view", at=ago(hours=20), sku="COAT-CAMEL-M")
    signal(store, "C1", "cart_abandoned", at=ago(hours=2), sku="COAT-CAMEL-M")
    report = sweep(store, "high_intent")
    task = the_task(store, "high_intent")
    assert report.created == 1 and task.customer_id == cid
    assert task.title == "Strong interest in the Camel wool coat" and task.priority == 3
    assert task.reason == (
        "Liked the Camel wool coat (22 Nov 09:00), viewed it (22 Nov 19:00) and left it in a cart (23 Nov 13:00), "
        "within 28 hours"
    )
    assert task.facts["intent"] == 0.9 and task.dedupe_key.startswith("high_intent:")
    assert task.expires_at == ago(hours=2) + timedelta(days=3)


def test_the_same_signals_out_of_order_or_spread_over_a_week_are_not_a_lead(store: Database) -> None:
    add_client(store, "C1")
    signal(store, "C1", "cart_abandoned", at=ago(hours=30), sku="COAT-CAMEL-M")
    signal(store, "C1", "product_view", at=ago(hours=20), sku="COAT-CAMEL-M")
    signal(store, "C1", "social_like", at=ago(hours=2), sku="COAT-CAMEL-M")
    add_client(store, "C2")
    signal(store, "C2", "social_like", at=ago(days=5), sku="COAT-CAMEL-M")
    signal(store, "C2", "product_view", at=ago(days=3), sku="COAT-CAMEL-M")
    signal(store, "C2", "cart_abandoned", at=ago(hours=2), sku="COAT-CAMEL-M")
    assert sweep(store, "high_intent").created == 0


def test_signals_about_different_items_are_not_one_lead(store: Database) -> None:
    add_client(store, "C1")
    signal(store, "C1", "social_like", at=ago(hours=30), sku="SCARF-SILK")
    signal(store, "C1", "product_view", at=ago(hours=20), sku="COAT-CAMEL-M")
    signal(store, "C1", "cart_abandoned", at=ago(hours=2), sku="COAT-CAMEL-M")
    assert sweep(store, "high_intent").created == 0


def test_a_client_who_then_bought_it_is_not_a_lead(store: Database) -> None:
    add_client(store, "C1")
    signal(store, "C1", "social_like", at=ago(hours=30), sku="COAT-CAMEL-M")
    signal(store, "C1", "product_view", at=ago(hours=20), sku="COAT-CAMEL-M")
    signal(store, "C1", "cart_abandoned", at=ago(hours=2), sku="COAT-CAMEL-M")
    buy(store, "C1", "O1", at=ago(hours=1))
    assert sweep(store, "high_intent").created == 0


def test_the_sequence_and_window_are_the_retailers() -> None:
    now = ago()

    def s(i: int, kind: str, hours: float, style: str | None = "COAT") -> _Signal:
        return _Signal(i, kind, now - timedelta(hours=hours), 1 if style else None, style, "Coat" if style else None)

    run = [s(1, "product_view", 50), s(2, "social_like", 40, None), s(3, "product_view", 30), s(4, "cart_add", 1)]
    assert [
        x.id for x in find_sequence(run, ["social_like", "product_view", "cart_add"], timedelta(hours=48)) or []
    ] == [2, 3, 4]
    assert find_sequence(run, ["social_like", "product_view", "cart_add"], timedelta(hours=24)) is None
    assert find_sequence(run, ["product_view", "social_like"], timedelta(hours=24)) is not None


def test_a_sale_rung_up_just_before_the_try_on_was_logged_still_counts(store: Database) -> None:
    add_client(store, "C1")
    buy(store, "C1", "O1", at=ago(hours=5, minutes=30))
    signal(store, "C1", "try_on", at=ago(hours=5), sku="COAT-CAMEL-M", store="PAR")
    add_client(store, "C2")
    buy(store, "C2", "O2", at=ago(hours=8))  # the day's earlier visit: not this try-on
    signal(store, "C2", "try_on", at=ago(hours=5), sku="COAT-CAMEL-M", store="PAR")
    assert sweep(store, "try_on_follow_up").created == 1
    assert the_task(store, "try_on_follow_up").reason.startswith("Tried on Camel wool coat (M)")
