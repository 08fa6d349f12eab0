"""The demo retailer: deterministic, merged across systems, and consistent as a shop's books.

The demo is loaded twice per database (once through ``rapport demo --if-empty`` on the empty
database, once through :func:`load_demo` after emptying it again); every test then reads the
second load. A small client base and a tenth of the assortment keep it quick.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from rapport import clock
from rapport.associates import tokens
from rapport.cli import app as cli
from rapport.commerce.models import Order, OrderLine, Return, ReturnLine
from rapport.customers.models import Customer
from rapport.db import Database, set_database
from rapport.demo.generator import (
    DemoPlan,
    DemoReport,
    _from_process,
    anchor_of,
    demo_logins,
    load_demo,
    plan_items,
)
from rapport.identity.merge import resolve_id
from rapport.identity.models import Identifier, MatchCandidate, MergeRecord
from rapport.models import Base
from tests.conftest import TEST_NOW

PEOPLE = 200
SEED = 8
CATALOGUE = 0.12


def _empty(engine: Engine) -> None:
    """Back to a fresh database, sequences included, so ids can be compared across loads."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))


def fingerprint(db: Database) -> str:
    """A digest of every row of every table (ids included), except the randomly drawn API token."""
    digest = hashlib.sha256()
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == "api_token":
                continue
            digest.update(table.name.encode())
            for row in session.execute(select(table).order_by(*table.primary_key.columns)).mappings():
                digest.update(json.dumps(dict(row), sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class Loaded:
    db: Database
    plan: DemoPlan
    report: DemoReport
    first: str  # fingerprint of the load through the CLI
    second: str  # fingerprint of the load through load_demo, on a fresh database again
    cli_output: str
    credentials: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    db = Database(engine)
    workdir = tmp_path_factory.mktemp(f"demo-{request.param}")
    with clock.use_clock(clock.FixedClock(TEST_NOW)), pytest.MonkeyPatch.context() as mp:
        mp.chdir(workdir)  # PostgreSQL's demo credentials go to ./var
        _empty(engine)
        set_database(db)
        try:
            result = CliRunner().invoke(
                cli,
                ["demo", "--customers", str(PEOPLE), "--seed", str(SEED), "--catalogue", str(CATALOGUE), "--if-empty"],
            )
        finally:
            set_database(None)
        assert result.exit_code == 0, result.output
        first = fingerprint(db)
        _empty(engine)
        report = load_demo(db, customers=PEOPLE, seed=SEED, catalogue=CATALOGUE, credentials_dir=workdir)
        second = fingerprint(db)
    plan = DemoPlan(PEOPLE, SEED, anchor=TEST_NOW, catalogue=CATALOGUE)
    yield Loaded(db, plan, report, first, second, result.output, workdir)
    _empty(engine)


def _scalar(db: Database, stmt: Any) -> Any:
    with db.read() as session:
        return session.execute(stmt).scalar()


def _client_of(db: Database, source: str, external_id: str) -> int:
    with db.read() as session:
        owner = session.execute(
            select(Identifier.customer_id).where(
                Identifier.kind == "external", Identifier.namespace == source, Identifier.value == external_id
            )
        ).scalar_one()
        return resolve_id(session, owner)


# -- determinism ------------------------------------------------------------------------------------


def test_the_same_seed_loads_the_same_data_with_the_same_ids(demo: Loaded) -> None:
    assert demo.first == demo.second


def test_another_seed_invents_other_people_and_more_people_leave_the_shop_as_it_was() -> None:
    one, two = DemoPlan(30, 1, anchor=TEST_NOW), DemoPlan(30, 2, anchor=TEST_NOW)
    assert [p.name for p in one.people] != [p.name for p in two.people]
    assert one.products() == DemoPlan(5, 1, anchor=TEST_NOW).products()
    assert one.stock() == DemoPlan(5, 1, anchor=TEST_NOW).stock()
    assert [p.name for p in DemoPlan(5, 1, anchor=TEST_NOW).people] == [p.name for p in one.people[:5]]
    assert one.customer_records() == one.customer_records()  # asking twice changes nothing


def test_dates_follow_the_day_the_demo_is_loaded() -> None:
    today = DemoPlan(20, 1, anchor=TEST_NOW)
    later = DemoPlan(20, 1, anchor=TEST_NOW + timedelta(days=30))
    assert today.anchor == anchor_of(TEST_NOW) == TEST_NOW.replace(hour=0)
    # Web orders keep their UTC time; store sales keep their local opening hours, across DST changes.
    shifted = [o["placed_at"] for o in later.history(later.people).orders if not o.get("store")]
    original = [o["placed_at"] for o in today.history(today.people).orders if not o.get("store")]
    assert original and shifted == [t + timedelta(days=30) for t in original]


def test_generating_in_a_second_process_gives_the_same_batches_in_the_same_order() -> None:
    plan = DemoPlan(30, 5, anchor=TEST_NOW, catalogue=0.05)
    assert list(_from_process(plan, 100)) == list(plan_items(plan, 100))


# -- everything goes in -----------------------------------------------------------------------------


def test_every_generated_record_is_accepted_by_ingestion(demo: Loaded) -> None:
    assert demo.report.rejects == []
    history = demo.plan.history(demo.plan.people)
    expected = {
        "locations": len(demo.plan.locations()),
        "associates": len(demo.plan.associates()),
        "products": len(demo.plan.products()),
        "stock": len(demo.plan.stock()) + len(history.stock),  # the counts, then last night's deliveries
        "customers": sum(len(records) for _, records in demo.plan.customer_records()),
        "orders": len(history.orders),
        "returns": len(history.returns),
        "events": len(history.events),
    }
    assert {kind: stats.sent for kind, stats in demo.report.kinds.items()} == expected
    assert all(stats.rejected == 0 for stats in demo.report.kinds.values())


def test_the_shop_has_stores_on_several_continents_and_a_team_with_online_experts(demo: Loaded) -> None:
    stores = demo.plan.locations()
    assert len([s for s in stores if s["kind"] == "store"]) == 10
    assert {s["currency"] for s in stores} >= {"USD", "EUR", "GBP", "JPY", "AED", "AUD", "CAD"}
    roles = [a["role"] for a in demo.plan.associates()]
    assert roles.count("virtual_associate") == 6 and roles.count("store_manager") == 10
    assert 35 <= len(roles) <= 45


# -- identity resolution ----------------------------------------------------------------------------


def test_one_person_known_to_the_web_shop_the_tills_and_the_loyalty_programme_is_one_client(
    demo: Loaded,
) -> None:
    everywhere = [p for p in demo.plan.people if p.shopify_id and p.pos_id and p.loyalty_id]
    assert len(everywhere) >= 10
    for person in everywhere:
        assert person.shopify_id and person.pos_id and person.loyalty_id
        ids = {
            _client_of(demo.db, "shopify", person.shopify_id),
            _client_of(demo.db, "pos", person.pos_id),
            _client_of(demo.db, "loyalty", person.loyalty_id),
        }
        assert len(ids) == 1, person.name


def test_duplicates_across_systems_merge_with_an_audit_trail(demo: Loaded) -> None:
    records = sum(len(r) for _, r in demo.plan.customer_records())
    active = _scalar(demo.db, select(func.count()).select_from(Customer).where(Customer.status == "active"))
    assert active < records
    assert active == demo.report.active_customers
    with demo.db.read() as session:
        merges = session.execute(select(MergeRecord.survivor_id, MergeRecord.loser_id)).all()
        assert len(merges) == demo.report.merges > 0
        losers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([m[1] for m in merges])))}
    for survivor, loser in merges:
        assert losers[loser].status == "merged" and losers[loser].merged_into_id == survivor
    # The web account that only knew the email and the till profile that only knew the phone
    # were two clients until the loyalty enrolment showed they are one.
    joined = [p for p in demo.plan.people if p.segment == "omni" and p.path == "loyalty"]
    assert joined
    survivors = {m[0] for m in merges}
    assert all(p.shopify_id and _client_of(demo.db, "shopify", p.shopify_id) in survivors for p in joined)


def test_near_duplicates_are_not_merged_but_put_up_for_review(demo: Loaded) -> None:
    twins = [p for p in demo.plan.people if p.twin]
    assert twins
    with demo.db.read() as session:
        pending = {
            (c.customer_id, c.other_customer_id)
            for c in session.scalars(select(MatchCandidate).where(MatchCandidate.status == "pending"))
        }
    for person in twins:
        assert person.pos_id and person.twin
        mine, twin = _client_of(demo.db, "pos", person.pos_id), _client_of(demo.db, "pos", person.twin["id"])
        assert mine != twin
        assert (min(mine, twin), max(mine, twin)) in pending, person.name
    assert demo.report.review_candidates == len(pending)


# -- the books --------------------------------------------------------------------------------------


def test_every_order_line_is_a_real_product_and_every_order_adds_up(demo: Loaded) -> None:
    history = demo.plan.history(demo.plan.people)
    skus = {p["sku"] for p in demo.plan.products()}
    assert all(line["sku"] in skus for order in history.orders for line in order["lines"])
    with demo.db.read() as session:
        lines = session.scalar(
            select(func.count())
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.external_id.not_like("demo-cc-%"))  # this morning's click and collect (demo/floor.py)
        )
        assert lines == sum(len(o["lines"]) for o in history.orders)
        orphans = session.execute(
            text("SELECT count(*) FROM order_line l LEFT JOIN product p ON p.id = l.product_id WHERE p.id IS NULL")
        ).scalar()
        assert orphans == 0
        line_sums = dict(
            session.execute(
                select(OrderLine.order_id, func.sum(OrderLine.total_minor)).group_by(OrderLine.order_id)
            ).all()
        )
        for order in session.scalars(select(Order)):
            assert order.subtotal_minor == line_sums[order.id]
            assert order.total_minor == (
                order.subtotal_minor - order.discount_minor + order.tax_minor + order.shipping_minor
            )


def test_returns_never_exceed_what_was_bought(demo: Loaded) -> None:
    with demo.db.read() as session:
        rows = session.execute(
            select(
                OrderLine.quantity,
                OrderLine.total_minor,
                func.sum(ReturnLine.quantity),
                func.sum(ReturnLine.refund_minor),
            )
            .join(ReturnLine, ReturnLine.order_line_id == OrderLine.id)
            .group_by(OrderLine.id, OrderLine.quantity, OrderLine.total_minor)
        ).all()
        linked = session.scalar(select(func.count()).select_from(Return).where(Return.unlinked.is_(False)))
    assert rows and linked
    for bought, paid, returned, refunded in rows:
        assert returned <= bought
        assert refunded <= paid


def test_online_orders_come_back_in_stores(demo: Loaded) -> None:
    with demo.db.read() as session:
        cross = session.scalar(
            select(func.count())
            .select_from(Return)
            .join(Order, Order.id == Return.order_id)
            .where(Order.channel == "online", Return.channel == "store")
        )
        channels = set(session.scalars(select(Order.channel).distinct()))
    assert cross > 0
    assert {"online", "store", "app"} <= channels


def test_guest_sales_are_kept_without_a_client(demo: Loaded) -> None:
    guests = [o for o in demo.plan.history(demo.plan.people).orders if o.get("customer") is None]
    assert guests
    stored = _scalar(demo.db, select(func.count()).select_from(Order).where(Order.customer_id.is_(None)))
    assert stored == len(guests)


def test_all_money_is_integer_minor_units(demo: Loaded) -> None:
    with demo.db.read() as session:
        for table in Base.metadata.sorted_tables:
            money = [c for c in table.columns if c.name.endswith("_minor")]
            for column in money:
                values = session.scalars(select(column).where(column.is_not(None))).all()
                assert all(type(v) is int for v in values), f"{table.name}.{column.name}"
        yen = session.scalars(select(OrderLine.unit_price_minor).join(Order).where(Order.currency == "JPY")).all()
    assert yen and all(v % 100 == 0 for v in yen)  # shelf prices in yen are rounded, never ¥12,345.67


def test_nothing_in_the_demo_happens_after_the_day_it_was_loaded(demo: Loaded) -> None:
    anchor = anchor_of(TEST_NOW)
    with demo.db.read() as session:
        latest: list[datetime | None] = [
            session.scalar(select(func.max(Order.placed_at))),
            session.scalar(select(func.max(Return.returned_at))),
            session.scalar(text("SELECT max(occurred_at) FROM timeline_entry WHERE kind <> 'merge'")),
        ]
        early = session.scalar(
            select(func.count())
            .select_from(Return)
            .join(Order, Order.id == Return.order_id)
            .where(Return.returned_at <= Order.placed_at)
        )
    assert all(t is not None for t in latest)
    assert max(t for t in latest[:2] if t is not None) < anchor
    assert early == 0


# -- the command and its credentials ----------------------------------------------------------------


def test_the_command_prints_counts_merges_and_a_client_to_try(demo: Loaded) -> None:
    out = demo.cli_output
    assert "audited merges" in out and "pairs waiting for human review" in out
    assert "Demo credentials" in out and "/api/v1/customers/" in out and "Authorization: Bearer rpt_" in out
    assert "Next actions from the first sweep" in out and "welcome" in out and "per associate: median" in out


def test_if_empty_leaves_a_loaded_database_alone(demo: Loaded) -> None:
    set_database(demo.db)
    try:
        result = CliRunner().invoke(cli, ["demo", "--customers", "5", "--if-empty"])
    finally:
        set_database(None)
    assert result.exit_code == 0, result.output
    assert "already there" in result.output
    assert fingerprint(demo.db) == demo.second


def test_the_demo_token_is_on_file_for_serve_and_opens_a_merged_clients_360(demo: Loaded) -> None:
    path = demo.credentials / "demo-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "not for production" in json.loads(path.read_text())["note"]
    logins = demo_logins(demo.db, demo.credentials)
    assert logins[0][:2] == ("integration API token", "Authorization: Bearer")
    assert len(logins) == 5  # the token, then one sign-in per role
    token = logins[0][2]
    assert token == demo.report.token
    with demo.db.read() as session:
        assert tokens.authenticate(session, token) is not None

    from rapport.app import create_app

    set_database(demo.db)
    try:
        response = TestClient(create_app()).get(
            f"/api/v1/customers/{demo.report.sample_customer_id}/360", headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        set_database(None)
    assert response.status_code == 200, response.text


def test_no_credentials_are_shown_for_another_database(demo: Loaded, tmp_path: Path) -> None:
    assert demo_logins(demo.db, tmp_path) == []
    other = json.loads((demo.credentials / "demo-credentials.json").read_text())
    other["database"] = "sqlite:///somewhere/else.db"
    (tmp_path / "demo-credentials.json").write_text(json.dumps(other))
    assert demo_logins(demo.db, tmp_path) == []
