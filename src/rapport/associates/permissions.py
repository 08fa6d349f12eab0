"""Who may do what: pure rules over an :class:`Actor` and the few facts about a client they need.

The rules (issue 3, "people and access"):

* **Viewing** — any signed-in associate, whatever their role, can find and view any client of the
  brand: a Paris client walking into New York must be recognised. (Each view is audited elsewhere.)
* **Editing** — an *associate* edits the clients whose home store is one of their stores, and the
  clients in their own book; a *virtual associate* (online expert) edits their book only; a *store
  manager* edits the clients of their stores and the books of their team (associates working in one
  of their stores); an *admin* edits everyone.
* **Audit log** — read by store managers and admins.
* **Integration tokens** act for a system, not a person: ``read`` lets them view clients, ``ingest``
  or ``write`` lets them change any client (ingestion already can), ``audit`` lets them read the log.

The rule functions take plain values and touch no database, so the whole matrix is testable in
memory. The loaders at the end gather those values in a bounded number of queries; services call
``require_*`` and let :class:`~rapport.errors.PermissionDenied` travel up to the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate, AssociateLocation
from rapport.errors import NotFound, PermissionDenied

ASSOCIATE = "associate"
VIRTUAL_ASSOCIATE = "virtual_associate"
STORE_MANAGER = "store_manager"
ADMIN = "admin"
ROLE_LABELS = {
    ASSOCIATE: "Associate",
    VIRTUAL_ASSOCIATE: "Online expert",
    STORE_MANAGER: "Store manager",
    ADMIN: "Head office",
}


@dataclass(frozen=True)
class Actor:
    """Someone acting: an associate (with a role and stores) or an integration token (with scopes)."""

    kind: str  # "associate" | "token"
    id: int
    role: str | None = None
    store_ids: frozenset[int] = frozenset()
    regions: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()

    @classmethod
    def associate(
        cls, associate_id: int, role: str, store_ids: Iterable[int] = (), regions: Iterable[str] = ()
    ) -> Actor:
        return cls("associate", associate_id, role, frozenset(store_ids), tuple(regions))

    @classmethod
    def token(cls, token_id: int, scopes: Iterable[str]) -> Actor:
        return cls("token", token_id, scopes=frozenset(scopes))

    @property
    def is_associate(self) -> bool:
        return self.kind == "associate"

    @property
    def associate_id(self) -> int | None:
        return self.id if self.is_associate else None


@dataclass(frozen=True)
class ClientFacts:
    """What the edit rule needs to know about a client: where they belong and whose book they are in."""

    customer_id: int
    home_store_id: int | None
    assigned_associate_id: int | None
    #: The stores of the assigned associate (their team is the team of those stores).
    assigned_associate_store_ids: frozenset[int] = frozenset()


# -- the rules --------------------------------------------------------------------------------------


def can_view_client(actor: Actor) -> bool:
    if actor.is_associate:
        return actor.role in ROLE_LABELS
    return "read" in actor.scopes


def can_edit_client(actor: Actor, client: ClientFacts) -> bool:
    if not actor.is_associate:
        return bool({"ingest", "write"} & actor.scopes)
    in_own_book = client.assigned_associate_id is not None and client.assigned_associate_id == actor.id
    if actor.role == ADMIN:
        return True
    if actor.role == VIRTUAL_ASSOCIATE:
        return in_own_book
    at_my_store = client.home_store_id is not None and client.home_store_id in actor.store_ids
    if actor.role == ASSOCIATE:
        return in_own_book or at_my_store
    if actor.role == STORE_MANAGER:
        in_team_book = bool(client.assigned_associate_store_ids & actor.store_ids)
        return in_own_book or at_my_store or in_team_book
    return False


def can_read_audit(actor: Actor) -> bool:
    if actor.is_associate:
        return actor.role in (STORE_MANAGER, ADMIN)
    return "audit" in actor.scopes


def can_view_book(actor: Actor, owner_id: int, owner_store_ids: Iterable[int]) -> bool:
    """A client book is seen by its owner, the managers of the owner's stores, and admins."""
    if not actor.is_associate:
        return "read" in actor.scopes
    if actor.role == ADMIN or actor.id == owner_id:
        return True
    return actor.role == STORE_MANAGER and bool(actor.store_ids & frozenset(owner_store_ids))


def can_manage_users(actor: Actor) -> bool:
    return actor.is_associate and actor.role == ADMIN


def require_view_client(actor: Actor) -> None:
    if not can_view_client(actor):
        raise PermissionDenied("you may not view clients")


def require_edit_client(actor: Actor, client: ClientFacts) -> None:
    if not can_edit_client(actor, client):
        raise PermissionDenied(
            f"client {client.customer_id} belongs to another store's clients or another associate's book"
        )


def require_audit_reader(actor: Actor) -> None:
    if not can_read_audit(actor):
        raise PermissionDenied("only store managers and head office read the audit log")


# -- loading the facts ------------------------------------------------------------------------------


def store_ids_of(session: Session, associate_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """Each associate's stores: those listed in ``associate_location`` plus their home store."""
    ids = sorted(set(associate_ids))
    if not ids:
        return {}
    found: dict[int, set[int]] = {i: set() for i in ids}
    for associate_id, home in session.execute(
        select(Associate.id, Associate.home_location_id).where(Associate.id.in_(ids))
    ):
        if home is not None:
            found[associate_id].add(home)
    for associate_id, location_id in session.execute(
        select(AssociateLocation.associate_id, AssociateLocation.location_id).where(
            AssociateLocation.associate_id.in_(ids)
        )
    ):
        found[associate_id].add(location_id)
    return {i: frozenset(s) for i, s in found.items()}


def work_stores(session: Session, associate_id: int, home_location_id: int | None) -> frozenset[int]:
    """One associate's stores when their home store is already known (one query, not two)."""
    found = set(
        session.scalars(select(AssociateLocation.location_id).where(AssociateLocation.associate_id == associate_id))
    )
    if home_location_id is not None:
        found.add(home_location_id)
    return frozenset(found)


def load_actor(session: Session, associate_id: int) -> Actor | None:
    """The associate as an actor, or None when unknown or disabled."""
    row = session.execute(
        select(Associate.id, Associate.role, Associate.regions, Associate.active, Associate.home_location_id).where(
            Associate.id == associate_id
        )
    ).first()
    if row is None or not row.active:
        return None
    stores = work_stores(session, row.id, row.home_location_id)
    return Actor.associate(row.id, row.role, stores, row.regions or ())


def client_facts(session: Session, customer_id: int) -> ClientFacts:
    """The edit rule's facts for a client (a merged-away id answers for its survivor)."""
    from rapport.customers.models import Customer
    from rapport.identity.merge import resolve_id

    resolved = resolve_id(session, customer_id)
    row = session.execute(
        select(Customer.id, Customer.home_location_id, Customer.assigned_associate_id).where(Customer.id == resolved)
    ).first()
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    stores: frozenset[int] = frozenset()
    if row.assigned_associate_id is not None:
        stores = store_ids_of(session, [row.assigned_associate_id]).get(row.assigned_associate_id, frozenset())
    return ClientFacts(row.id, row.home_location_id, row.assigned_associate_id, stores)
