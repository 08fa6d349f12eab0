"""Who may view and edit which client, and read the audit log: the rules, then the facts they use."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from rapport.associates import permissions as P
from rapport.associates.models import Associate, AssociateLocation
from rapport.associates.permissions import Actor, ClientFacts
from rapport.errors import NotFound, PermissionDenied
from rapport.identity.merge import merge_customers
from rapport.ingest.service import ingest_records
from tests.associates.staff import cheap_hashing, team

PARIS, NEW_YORK, LONDON = 1, 2, 3
ANA, BEN, MIA, MAX, ADA, LEA = 10, 11, 12, 13, 14, 15

ACTORS = {
    "associate in Paris": Actor.associate(ANA, "associate", {PARIS}),
    "associate in New York": Actor.associate(BEN, "associate", {NEW_YORK}),
    "online expert": Actor.associate(MIA, "virtual_associate", regions=["US"]),
    "manager in Paris": Actor.associate(MAX, "store_manager", {PARIS}),
    "admin": Actor.associate(ADA, "admin"),
}

CLIENTS = {
    "Paris client": ClientFacts(100, PARIS, None),
    "New York client": ClientFacts(101, NEW_YORK, None),
    "New York client in Ana's book": ClientFacts(102, NEW_YORK, ANA, frozenset({PARIS})),
    "online client in Mia's book": ClientFacts(103, None, MIA),
    "London client in Léa's book (Léa works in Paris and London)": ClientFacts(104, LONDON, LEA,
                                                                              frozenset({PARIS, LONDON})),
    "online client, no book": ClientFacts(105, None, None),
}  # fmt: skip

# Who may edit whom. Rows: actors; columns: the clients above, in order.
EDIT = {
    "associate in Paris":    [True,  False, True,  False, False, False],
    "associate in New York": [False, True,  True,  False, False, False],
    "online expert":         [False, False, False, True,  False, False],
    "manager in Paris":      [True,  False, True,  False, True,  False],
    "admin":                 [True,  True,  True,  True,  True,  True],
}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("client", CLIENTS)
def test_the_edit_matrix(actor, client):
    expected = EDIT[actor][list(CLIENTS).index(client)]
    assert P.can_edit_client(ACTORS[actor], CLIENTS[client]) is expected


@pytest.mark.parametrize("actor", ACTORS)
def test_every_signed_in_role_can_find_and_view_any_client_of_the_brand(actor):
    assert P.can_view_client(ACTORS[actor])
    P.require_view_client(ACTORS[actor])


def test_an_associate_cannot_edit_another_stores_client_and_is_told_why():
    with pytest.raises(PermissionDenied) as refused:
        P.require_edit_client(ACTORS["associate in Paris"], CLIENTS["New York client"])
    assert refused.value.status_code == 403
    assert "client 101" in refused.value.message


def test_an_unknown_role_may_do_nothing():
    stranger = Actor.associate(99, "intern", {PARIS})
    assert not P.can_view_client(stranger)
    assert not P.can_edit_client(stranger, CLIENTS["Paris client"])
    assert not P.can_read_audit(stranger)


@pytest.mark.parametrize(("actor", "allowed"), [("associate in Paris", False), ("online expert", False),
                                                 ("manager in Paris", True), ("admin", True)])  # fmt: skip
def test_managers_and_admins_read_the_audit_log(actor, allowed):
    assert P.can_read_audit(ACTORS[actor]) is allowed
    if not allowed:
        with pytest.raises(PermissionDenied):
            P.require_audit_reader(ACTORS[actor])


def test_a_book_is_seen_by_its_owner_the_managers_of_the_owners_stores_and_admins():
    ana_stores = {PARIS}
    assert P.can_view_book(ACTORS["associate in Paris"], ANA, ana_stores)
    assert not P.can_view_book(ACTORS["associate in New York"], ANA, ana_stores)
    assert P.can_view_book(ACTORS["manager in Paris"], ANA, ana_stores)
    assert not P.can_view_book(ACTORS["manager in Paris"], BEN, {NEW_YORK})
    assert P.can_view_book(ACTORS["admin"], BEN, {NEW_YORK})


def test_tokens_act_by_scope():
    reader = Actor.token(1, ["read"])
    feeder = Actor.token(2, ["ingest", "read"])
    auditor = Actor.token(3, ["audit"])
    assert P.can_view_client(reader) and not P.can_edit_client(reader, CLIENTS["Paris client"])
    assert P.can_edit_client(feeder, CLIENTS["New York client"])
    assert not P.can_view_client(auditor) and P.can_read_audit(auditor)
    assert not P.can_manage_users(feeder) and P.can_manage_users(ACTORS["admin"])


# -- the facts, from the database -----------------------------------------------------------------


@pytest.fixture
def staffed(db):
    with cheap_hashing():
        return team(db)


def _client(db, cid, **extra):
    result = ingest_records(db, "customers", [{"source": "pos", "id": cid, "first_name": f"Client {cid}", **extra}])
    assert result.outcomes[0].status == "created", result.outcomes[0].errors
    return result.outcomes[0].id


def test_an_associates_stores_are_their_home_store_and_every_store_they_work_in(db, staffed):
    with db.write() as session:
        session.add(AssociateLocation(associate_id=staffed.ana, location_id=staffed.new_york))
    with db.read() as session:
        ana = P.load_actor(session, staffed.ana)
    assert ana is not None and ana.role == "associate"
    assert ana.store_ids == {staffed.paris, staffed.new_york}


def test_a_staff_record_from_the_pos_counts_its_home_store(db, staffed):
    result = ingest_records(db, "associates", [{"code": "POS-7", "email": "pos7@maison.example",
                                                "display_name": "Till seven", "home_store": "NYC"}])  # fmt: skip
    with db.read() as session:
        actor = P.load_actor(session, result.outcomes[0].id)
    assert actor is not None and actor.store_ids == {staffed.new_york}


def test_a_disabled_associate_is_no_actor(db, staffed):
    with db.write() as session:
        session.execute(update(Associate).where(Associate.id == staffed.ben).values(active=False))
    with db.read() as session:
        assert P.load_actor(session, staffed.ben) is None
        assert P.load_actor(session, 424242) is None


def test_client_facts_name_the_home_store_the_book_and_the_book_owners_stores(db, staffed):
    cid = _client(db, "1", home_store="NYC")
    with db.write() as session:
        from rapport.customers.models import Customer

        session.execute(update(Customer).where(Customer.id == cid).values(assigned_associate_id=staffed.ana))
    with db.read() as session:
        facts = P.client_facts(session, cid)
        ana = P.load_actor(session, staffed.ana)
        ben = P.load_actor(session, staffed.ben)
        manager = P.load_actor(session, staffed.max)
    assert facts == ClientFacts(cid, staffed.new_york, staffed.ana, frozenset({staffed.paris}))
    assert ana and ben and manager
    assert P.can_edit_client(ana, facts)  # in her book
    assert P.can_edit_client(ben, facts)  # a client of his store
    assert P.can_edit_client(manager, facts)  # in the book of someone on his team


def test_client_facts_follow_a_merge_and_refuse_unknown_clients(db, staffed):
    survivor = _client(db, "1", home_store="PAR")
    loser = _client(db, "2")
    with db.write() as session:
        merge_customers(session, survivor, loser, reason="same person", actor="test")
    with db.read() as session:
        assert P.client_facts(session, loser).customer_id == survivor
        with pytest.raises(NotFound):
            P.client_facts(session, 424242)
