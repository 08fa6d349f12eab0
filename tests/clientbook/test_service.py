"""Assignment by the rules and a manager's reassignment, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from rapport.associates import audit, notifications
from rapport.associates.models import AuditEvent, Notification
from rapport.clientbook import service
from rapport.clientbook.rules import AssignmentRules
from rapport.customers.models import TimelineEntry
from rapport.errors import Conflict, InvalidRecord, NotFound
from tests.clientbook.conftest import STAFF, book_of, client, client_ids, sale


def assign(db, **kwargs):
    with db.write() as session:
        return service.assign_unassigned(session, **kwargs)


def assignment_entries(db, customer_id):
    with db.read() as session:
        return session.scalars(
            select(TimelineEntry).where(TimelineEntry.customer_id == customer_id, TimelineEntry.source == "rapport")
        ).all()


def count(db, model):
    with db.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_online_only_clients_go_to_the_expert_for_their_state_then_their_country(db, shop, ingest):
    ingest(
        "customers",
        client("cal", "West", country="US", region="CA"),
        client("cal2", "Coast", country="US", region="US-CA"),
        client("tex", "Lone", country="US", region="TX"),
        client("par", "Seine", country="FR", region="Île-de-France"),
        client("tok", "Shibuya", country="JP"),
    )
    ingest("orders", sale("W1", "tex", channel="online", currency="USD"))
    summary = assign(db)
    ids, book = client_ids(db), book_of(db)
    assert book[ids["cal"]] == book[ids["cal2"]] == shop["CAL"]
    assert book[ids["tex"]] in (shop["MIC"], shop["MAX"])
    assert book[ids["par"]] == shop["ZOE"]
    assert book[ids["tok"]] is None
    assert summary.total == 4 and summary.by_rule == {"online_region": 4}
    assert summary.unplaced == {"no online expert covers JP": 1}
    (entry,) = assignment_entries(db, ids["cal"])
    assert entry.summary == "Assigned to Carla Ruiz (online expert, US-CA)"
    assert (
        entry.kind == "profile" and entry.data["rule"] == "online_region" and entry.data["associate_id"] == shop["CAL"]
    )


def test_experts_for_the_same_region_are_balanced_fewest_clients_first(db, shop, ingest):
    # Michelle already looks after two clients; Max after none.
    ingest("customers", *[client(f"old{i}", "Known", country="US", assigned_associate="MIC") for i in range(2)])
    ingest("customers", *[client(f"new{i}", "Fresh", country="US", region="NY") for i in range(4)])
    summary = assign(db)
    ids, book = client_ids(db), book_of(db)
    got = [book[ids[f"new{i}"]] for i in range(4)]
    # Max takes two to catch up; then the tie goes to the lower id (Michelle), then Max again.
    assert got == [shop["MAX"], shop["MAX"], shop["MIC"], shop["MAX"]]
    assert summary.counts == {shop["MAX"]: 3, shop["MIC"]: 1}
    sizes = {line.id: line.book_size for line in summary.associates}
    assert sizes == {shop["MAX"]: 3, shop["MIC"]: 3}


def test_a_store_client_goes_to_the_associate_credited_with_most_of_their_store_sales(db, shop, ingest):
    ingest(
        "customers",
        client("a", "Mostly-Ben", country="FR"),
        client("b", "Cancelled", country="FR"),
        client("c", "Tie", country="FR"),
        client("d", "Uncredited", country="US", home_store="NYC"),
    )
    ingest(
        "orders",
        sale("A1", "a", associate="BEN"), sale("A2", "a", associate="BEN"), sale("A3", "a", associate="ANA"),
        # online orders and cancelled store orders are not store sales
        *[sale(f"A-W{i}", "a", channel="online") for i in range(3)],
        sale("B1", "b", associate="ANA"), sale("B2", "b", associate="BEN", status="cancelled"),
        sale("B3", "b", associate="BEN", status="cancelled"),
        sale("C1", "c", associate="ANA", at="2026-09-01T10:00:00Z"),
        sale("C2", "c", associate="BEN", at="2026-10-01T10:00:00Z"),
        sale("D1", "d", store="NYC", currency="USD"),
    )  # fmt: skip
    summary = assign(db)
    ids, book = client_ids(db), book_of(db)
    assert book[ids["a"]] == shop["BEN"]
    assert book[ids["b"]] == shop["ANA"]
    assert book[ids["c"]] == shop["BEN"]  # a tie goes to the most recent sale
    assert book[ids["d"]] == shop["NINA"]  # nobody credited: the home store's team
    assert summary.by_rule == {"store_sales": 3, "store_team": 1}
    assert assignment_entries(db, ids["a"])[0].summary == "Assigned to Ben Morel (most store sales)"
    assert assignment_entries(db, ids["d"])[0].summary == "Assigned to Nina Park (New York Madison team)"


def test_clients_already_assigned_keep_their_associate(db, shop, ingest):
    ingest("customers", client("kept", "Loyal", country="US", region="CA", assigned_associate="ANA"))
    ingest("orders", sale("K1", "kept", associate="BEN"), sale("K2", "kept", associate="BEN"))
    summary = assign(db)
    assert summary.total == 0 and summary.associates == []
    assert book_of(db)[client_ids(db)["kept"]] == shop["ANA"]
    assert count(db, Notification) == 0


def test_the_clients_of_an_inactive_associate_go_back_through_the_rules(db, shop, ingest):
    ingest("customers", client("s1", "Sunny", country="US", region="CA", assigned_associate="MIC"),
           client("s2", "Rainy", country="US", region="WA", assigned_associate="MIC"))  # fmt: skip
    ingest("associates", {**next(s for s in STAFF if s["code"] == "MIC"), "active": False})
    summary = assign(db)
    ids, book = client_ids(db), book_of(db)
    assert book[ids["s1"]] == shop["CAL"] and book[ids["s2"]] == shop["MAX"]
    assert summary.total == 2
    assert assignment_entries(db, ids["s2"])[0].data["previous_associate_id"] == shop["MIC"]


def test_an_assignment_run_writes_the_timeline_one_notification_per_associate_and_an_audit_record(db, shop, ingest):
    ingest("customers", *[client(f"fr{i}", f"Client{i}", country="FR") for i in range(5)],
           *[client(f"ca{i}", f"Client{i}", country="US", region="CA") for i in range(2)])  # fmt: skip
    summary = assign(db)
    assert summary.counts == {shop["ZOE"]: 5, shop["CAL"]: 2}
    with db.read() as session:
        assert (
            session.execute(
                select(func.count()).where(TimelineEntry.source == "rapport", TimelineEntry.kind == "profile")
            ).scalar_one()
            == 7
        )
        zoe = notifications.list_for(session, shop["ZOE"])
        carla = notifications.list_for(session, shop["CAL"])
        events = audit.list_events(session, actions=[audit.ASSIGNED]).events
    assert count(db, Notification) == 2
    assert zoe[0].title == "5 new clients in your book" and zoe[0].kind == "clients_assigned"
    assert zoe[0].body == "Fr0 Client0, Fr1 Client1, Fr2 Client2 and 2 more were assigned to you (FR)."
    assert zoe[0].link == "/clients/book" and zoe[0].customer_id is None
    assert carla[0].body.endswith("were assigned to you (US-CA).")
    (event,) = events
    assert event.actor_kind == "system" and event.detail["total"] == 7
    assert event.detail["counts"] == {str(shop["CAL"]): 2, str(shop["ZOE"]): 5}


def test_a_dry_run_reports_the_same_counts_and_changes_nothing(db, shop, ingest):
    ingest("customers", *[client(f"c{i}", "Dry", country="US", region="NY") for i in range(3)],
           client("fr", "Dry", country="FR"))  # fmt: skip
    before = book_of(db)
    with db.read() as session:
        dry = service.assign_unassigned(session, dry_run=True)
    assert book_of(db) == before and count(db, Notification) == count(db, AuditEvent) == 0
    real = assign(db)
    assert dry.dry_run and not real.dry_run
    assert dry.counts == real.counts and dry.total == real.total == 4
    again = assign(db)
    assert again.total == 0 and count(db, Notification) == 3


def test_notifications_can_be_switched_off_by_the_rules(db, shop, ingest):
    ingest("customers", client("q", "Quiet", country="FR"))
    assign(db, rules=AssignmentRules(notify=False))
    assert count(db, Notification) == 0 and count(db, AuditEvent) == 1


# -- reassignment ------------------------------------------------------------------------------


@pytest.fixture
def michelles_book(db, shop, ingest):
    """Michelle looks after four Californians and two New Yorkers; Max after one client."""
    ingest("customers", *[client(f"ca{i}", f"Cal{i}", country="US", region="CA", assigned_associate="MIC")
                          for i in range(4)],
           *[client(f"ny{i}", f"Ny{i}", country="US", region="NY", assigned_associate="MIC") for i in range(2)],
           client("mx", "Maxi", country="US", assigned_associate="MAX"))  # fmt: skip
    return client_ids(db)


def test_a_preview_counts_exactly_what_the_reassignment_then_moves(db, shop, michelles_book):
    with db.read() as session:
        preview = service.preview_reassign(session, shop["MIC"], None, sample_size=3)
    assert preview.counts == {shop["CAL"]: 4, shop["MAX"]: 2} and preview.total == 6 and not preview.applied
    assert [(s.name, s.to_name) for s in preview.sample] == [
        ("Ca0 Cal0", "Carla Ruiz"), ("Ca1 Cal1", "Carla Ruiz"), ("Ca2 Cal2", "Carla Ruiz"),
    ]  # fmt: skip
    assert book_of(db)[michelles_book["ca0"]] == shop["MIC"]  # a preview changes nothing
    with db.write() as session:
        done = service.reassign(session, shop["MIC"], None, actor=audit.AuditActor("token", 1, "token:tests"))
    assert done.applied and done.counts == preview.counts and done.total == preview.total
    book = book_of(db)
    assert sum(1 for a in book.values() if a == shop["MIC"]) == 0
    assert {line.id: line.book_size for line in done.associates} == {shop["CAL"]: 4, shop["MAX"]: 3}
    with db.read() as session:
        (notice,) = notifications.list_for(session, shop["MAX"])
        (event,) = audit.list_events(session, actions=[audit.REASSIGNED]).events
    assert notice.body == "Ny0 Ny0, Ny1 Ny1 were assigned to you from Michelle Laurent's book (US)."
    assert event.actor_label == "token:tests" and event.detail["total"] == 6 and event.customer_id is None


def test_a_manager_moves_one_client_to_a_named_associate(db, shop, michelles_book):
    one = michelles_book["ny1"]
    with db.write() as session:
        done = service.reassign(
            session, shop["MIC"], shop["NINA"], [one], actor=audit.AuditActor("token", 1, "token:hq")
        )
    assert done.counts == {shop["NINA"]: 1} and done.not_in_book == []
    assert book_of(db)[one] == shop["NINA"] and book_of(db)[michelles_book["ny0"]] == shop["MIC"]
    (entry,) = assignment_entries(db, one)
    assert entry.summary == "Assigned to Nina Park by token:hq" and entry.data["previous_associate_id"] == shop["MIC"]
    with db.read() as session:
        (notice,) = notifications.list_for(session, shop["NINA"])
        (event,) = audit.list_events(session, customer_id=one).events
    assert notice.title == "New client: Ny1 Ny1" and notice.customer_id == one and notice.link == f"/clients/{one}"
    assert event.action == audit.REASSIGNED


def test_a_reassignment_leaves_clients_outside_the_book_alone_and_names_them(db, shop, michelles_book):
    theirs = michelles_book["mx"]
    with db.read() as session:
        preview = service.preview_reassign(session, shop["MIC"], shop["ANA"], [michelles_book["ca0"], theirs, 99999])
    assert preview.total == 1 and preview.not_in_book == [theirs, 99999]


def test_a_reassignment_refuses_an_unknown_inactive_or_identical_target(db, shop, michelles_book, ingest):
    ingest("associates", {**next(s for s in STAFF if s["code"] == "BEN"), "active": False})
    with db.write() as session:
        with pytest.raises(NotFound):
            service.reassign(session, 424242, None)
        with pytest.raises(NotFound):
            service.reassign(session, shop["MIC"], 424242)
        with pytest.raises(Conflict, match="inactive"):
            service.reassign(session, shop["MIC"], shop["BEN"])
        with pytest.raises(InvalidRecord):
            service.reassign(session, shop["MIC"], shop["MIC"])


def test_a_leaving_store_associates_clients_go_to_the_next_seller_then_to_the_store_team(db, shop, ingest):
    ingest("customers", client("x", "Shared", country="FR", assigned_associate="ANA", home_store="PAR"),
           client("y", "Solo", country="FR", assigned_associate="ANA", home_store="PAR"))  # fmt: skip
    ingest(
        "orders",
        sale("X1", "x", associate="ANA"),
        sale("X2", "x", associate="ANA"),
        sale("X3", "x", store="NYC", associate="NINA", currency="USD"),
        sale("Y1", "y", associate="ANA"),
    )
    with db.write() as session:
        done = service.reassign(session, shop["ANA"], None)
    ids, book = client_ids(db), book_of(db)
    assert book[ids["x"]] == shop["NINA"]  # the next best seller, wherever she works
    assert book[ids["y"]] == shop["BEN"]  # nobody else sold to her: the Paris team
    assert done.total == 2


def test_two_assignment_runs_at_once_assign_each_client_exactly_once(pg_db, ingest_pg):
    from concurrent.futures import ThreadPoolExecutor

    ingest_pg("customers", *[client(f"c{i}", "Busy", country="US", region="NY" if i % 2 else "CA") for i in range(300)])
    ingest_pg("customers", *[client(f"s{i}", "Store", country="FR") for i in range(100)])
    ingest_pg("orders", *[sale(f"S{i}", f"s{i}", associate="ANA" if i % 2 else "BEN") for i in range(100)])

    def run(_: int) -> int:
        with pg_db.write() as session:
            return service.assign_unassigned(session).total

    with ThreadPoolExecutor(max_workers=4) as pool:
        totals = list(pool.map(run, range(4)))
    assert sum(totals) == 400 and sorted(totals)[-1] == 400  # one run did it all; the others found nothing left
    assert None not in book_of(pg_db).values()
    with pg_db.read() as session:
        per_client = session.execute(
            select(TimelineEntry.customer_id, func.count())
            .where(TimelineEntry.source == "rapport")
            .group_by(TimelineEntry.customer_id)
        ).all()
        assert len(per_client) == 400 and {n for _, n in per_client} == {1}
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 4
