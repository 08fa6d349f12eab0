"""The assignment rules as a pure planner: facts about clients and staff in, placements out."""

from __future__ import annotations

import pytest

from rapport.clientbook import rules as R
from rapport.clientbook.rules import AssignmentRules, ClientFacts, Staff, place_code, plan


def expert(id_: int, *regions: str, load: int = 0) -> Staff:
    return Staff(id_, "virtual_associate", load, R.normalise_regions(regions))


def seller(id_: int, *stores: int, load: int = 0, role: str = "associate") -> Staff:
    return Staff(id_, role, load, frozenset(), frozenset(stores))


def online(id_: int, country: str | None, region: str | None = None, any_orders: bool = True) -> ClientFacts:
    return ClientFacts(id_, any_orders=any_orders, country=country, region=region)


DEFAULTS = AssignmentRules()


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("US", "CA", ("US-CA", "US")),
        ("us", " ca ", ("US-CA", "US")),
        ("US", "US-CA", ("US-CA", "US")),
        ("FR", None, (None, "FR")),
        ("FR", "", (None, "FR")),
        (None, "CA", (None, None)),
    ],
)
def test_a_client_is_placed_by_state_and_country_codes(country, region, expected):
    assert place_code(country, region) == expected


def test_an_online_client_goes_to_the_expert_for_their_state_before_the_one_for_their_country():
    staff = [expert(1, "US"), expert(2, "US-CA")]
    result = plan([online(10, "US", "CA"), online(11, "US", "TX"), online(12, "US")], staff, DEFAULTS)
    assert [(p.customer_id, p.associate_id, p.region) for p in result.placements] == [
        (10, 2, "US-CA"), (11, 1, "US"), (12, 1, "US"),
    ]  # fmt: skip
    assert {p.rule for p in result.placements} == {R.ONLINE_REGION}


def test_experts_covering_the_same_region_take_clients_fewest_first_and_ties_by_id():
    staff = [expert(7, "US", load=2), expert(3, "US", load=0)]
    result = plan([online(i, "US") for i in range(100, 106)], staff, DEFAULTS)
    # 3 has the smaller book: it takes two, then they alternate, the lower id first on a tie.
    assert [p.associate_id for p in result.placements] == [3, 3, 3, 7, 3, 7]
    assert {s.id: s.load for s in staff} == {3: 4, 7: 4}


def test_clients_are_placed_in_id_order_so_a_run_is_reproducible():
    staff = [expert(1, "US"), expert(2, "US")]
    shuffled = [online(5, "US"), online(3, "US"), online(4, "US")]
    assert [(p.customer_id, p.associate_id) for p in plan(shuffled, staff, DEFAULTS).placements] == [
        (3, 1), (4, 2), (5, 1),
    ]  # fmt: skip


def test_a_client_no_expert_covers_is_left_unplaced_with_the_reason():
    result = plan([online(1, "JP"), online(2, None)], [expert(9, "US")], DEFAULTS)
    assert result.placements == []
    assert result.unplaced == {"no online expert covers JP": 1, "online client with no country": 1}


def test_a_store_client_goes_to_the_top_seller_and_otherwise_to_the_least_busy_of_their_store_team():
    staff = [seller(1, 100, load=5), seller(2, 100, load=1), seller(3, 200), expert(9, "FR")]
    clients = [
        ClientFacts(10, store_sales=3, top_seller_id=1, any_orders=True, store_id=100, country="FR"),
        ClientFacts(11, store_sales=1, top_seller_id=None, any_orders=True, store_id=100, country="FR"),
        ClientFacts(12, store_sales=1, top_seller_id=None, any_orders=True, store_id=None, country="FR"),
    ]
    result = plan(clients, staff, DEFAULTS)
    assert [(p.customer_id, p.associate_id, p.rule) for p in result.placements] == [
        (10, 1, R.STORE_SALES), (11, 2, R.STORE_TEAM),
    ]  # fmt: skip
    # A store client never falls through to an online expert.
    assert result.unplaced == {"store client with no active credited associate or store team": 1}


def test_a_top_seller_who_is_not_on_the_staff_list_does_not_get_clients():
    result = plan([ClientFacts(10, store_sales=1, top_seller_id=42, any_orders=True, store_id=100)], [seller(1, 100)],
                  DEFAULTS)  # fmt: skip
    assert [(p.associate_id, p.rule) for p in result.placements] == [(1, R.STORE_TEAM)]


def test_each_rule_can_be_switched_off():
    staff = [seller(1, 100), expert(9, "FR")]
    store_client = ClientFacts(10, store_sales=1, top_seller_id=1, any_orders=True, store_id=100)
    never_bought = online(11, "FR", any_orders=False)
    web_client = online(12, "FR")
    off = AssignmentRules(
        store_to_top_seller=False, store_team_fallback=False, online_to_virtual=False, clients_without_orders="skip"
    )
    result = plan([store_client, never_bought, web_client], staff, off)
    assert result.placements == []
    assert result.unplaced == {
        "store client with no active credited associate or store team": 1,
        "no order yet": 1,
        "online-only clients are not assigned": 1,
    }
    assert [p.customer_id for p in plan([never_bought], staff, DEFAULTS).placements] == [11]


def test_the_rules_are_read_from_the_retailers_environment(monkeypatch):
    monkeypatch.setenv("RAPPORT_CLIENTBOOK_STORE_CHANNELS", '["store", "phone"]')
    monkeypatch.setenv("RAPPORT_CLIENTBOOK_CLIENTS_WITHOUT_ORDERS", "skip")
    monkeypatch.setenv("RAPPORT_CLIENTBOOK_NOTIFY", "false")
    configured = AssignmentRules()
    assert configured.store_channels == ("store", "phone")
    assert configured.clients_without_orders == "skip" and configured.notify is False
    assert configured.online_to_virtual and configured.store_to_top_seller
