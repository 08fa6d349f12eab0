"""Whose client books a person may open and move, and the team summary a manager reads.

The rules (issue 3): an associate or online expert sees their own book; a store manager sees the
books of their team — the associates working in one of the manager's stores — and may move one
client or a whole book between them (or back through the assignment rules, when someone leaves);
head office sees and moves every book. Integration tokens act for a system: ``read`` lets them
read books, ``ingest`` or ``write`` lets them move clients.

Reading a book is decided by :func:`rapport.associates.permissions.can_view_book`; moving clients by
:func:`can_reassign` below. The loaders gather the few facts those rules need (the stores of the
people involved) in one or two indexed queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate
from rapport.associates.permissions import (
    ADMIN,
    ROLE_LABELS,
    STORE_MANAGER,
    VIRTUAL_ASSOCIATE,
    Actor,
    can_view_book,
    store_ids_of,
)
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.errors import NotFound, PermissionDenied
from rapport.inventory.models import Location
from rapport.settings import get_settings

ASSOCIATE = table_of(Associate)
CUSTOMER = table_of(Customer)
LOCATION = table_of(Location)

MANAGER_ROLES = (STORE_MANAGER, ADMIN)


@dataclass(frozen=True)
class BookOwner:
    """The associate a book belongs to, with what the book screen and the rules need."""

    id: int
    name: str
    role: str
    active: bool
    store_ids: frozenset[int]
    home_store_code: str | None
    home_store_name: str | None
    #: The country phone numbers are read in, and the currency the book is read in.
    country: str
    currency: str
    regions: tuple[str, ...]

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(frozen=True)
class Colleague:
    """One line of a manager's team summary."""

    id: int
    name: str
    role: str
    active: bool
    covers: str
    book_size: int
    store_ids: frozenset[int] = frozenset()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


# -- the rules ------------------------------------------------------------------------------------


def is_manager(actor: Actor) -> bool:
    return actor.is_associate and actor.role in MANAGER_ROLES


def can_reassign(actor: Actor, from_store_ids: Iterable[int], to_store_ids: Iterable[int] | None) -> bool:
    """May ``actor`` move clients out of a book (whose owner works in ``from_store_ids``) to someone
    working in ``to_store_ids`` (None: wherever the assignment rules place them)?"""
    if not actor.is_associate:
        return bool({"ingest", "write"} & actor.scopes)
    if actor.role == ADMIN:
        return True
    if actor.role != STORE_MANAGER:
        return False
    mine = actor.store_ids
    if not mine & frozenset(from_store_ids):
        return False
    return to_store_ids is None or bool(mine & frozenset(to_store_ids))


def can_assign_all(actor: Actor) -> bool:
    """Running the assignment rules over every unassigned client: managers, head office, writing tokens."""
    if not actor.is_associate:
        return bool({"ingest", "write"} & actor.scopes)
    return actor.role in MANAGER_ROLES


def require_view_book(session: Session, actor: Actor, owner_id: int) -> None:
    """PermissionDenied unless ``actor`` may read ``owner_id``'s book (NotFound for an unknown associate)."""
    if actor.is_associate and (actor.id == owner_id or actor.role == ADMIN):
        _exists(session, owner_id)
        return
    stores = _stores(session, owner_id)
    if not can_view_book(actor, owner_id, stores):
        raise PermissionDenied("you may see your own client book; managers see their team's books")


def require_reassign(session: Session, actor: Actor, from_id: int, to_id: int | None) -> None:
    """PermissionDenied unless ``actor`` may move clients from ``from_id``'s book to ``to_id`` (None: by the rules)."""
    ids = [from_id] if to_id is None else [from_id, to_id]
    known = set(session.scalars(select(ASSOCIATE.c.id).where(ASSOCIATE.c.id.in_(ids))))
    for associate_id in ids:
        if associate_id not in known:
            raise NotFound(f"associate {associate_id} not found")
    stores = store_ids_of(session, ids)
    if not can_reassign(actor, stores[from_id], None if to_id is None else stores[to_id]):
        if actor.is_associate and actor.role not in MANAGER_ROLES:
            raise PermissionDenied("only store managers and head office move clients between books")
        raise PermissionDenied("you may move clients only between the books of your own team")


def require_assign_all(actor: Actor) -> None:
    if not can_assign_all(actor):
        raise PermissionDenied("only store managers and head office run the assignment rules")


# -- the facts ------------------------------------------------------------------------------------


def _known(session: Session, associate_id: int) -> bool:
    return session.scalar(select(ASSOCIATE.c.id).where(ASSOCIATE.c.id == associate_id)) is not None


def _exists(session: Session, associate_id: int) -> None:
    if not _known(session, associate_id):
        raise NotFound(f"associate {associate_id} not found")


def _stores(session: Session, associate_id: int) -> frozenset[int]:
    _exists(session, associate_id)
    return store_ids_of(session, [associate_id]).get(associate_id, frozenset())


def book_owner(session: Session, associate_id: int) -> BookOwner:
    """The associate with their home store, country and book currency (NotFound if unknown)."""
    a, loc = ASSOCIATE, LOCATION
    row = session.execute(
        select(
            a.c.id,
            a.c.display_name,
            a.c.role,
            a.c.active,
            a.c.regions,
            loc.c.code,
            loc.c.name,
            loc.c.country,
            loc.c.currency,
        )
        .select_from(a.outerjoin(loc, loc.c.id == a.c.home_location_id))
        .where(a.c.id == associate_id)
    ).first()
    if row is None:
        raise NotFound(f"associate {associate_id} not found")
    settings = get_settings()
    regions = tuple(row.regions or ())
    country = row.country or (regions[0][:2].upper() if regions else None) or settings.default_region
    return BookOwner(
        id=row.id,
        name=row.display_name,
        role=row.role,
        active=bool(row.active),
        store_ids=store_ids_of(session, [row.id]).get(row.id, frozenset()),
        home_store_code=row.code,
        home_store_name=row.name,
        country=country.upper(),
        currency=row.currency or settings.default_currency,
        regions=regions,
    )


def team_of(session: Session, actor: Actor) -> list[Colleague]:
    """The books ``actor`` may open, with their sizes: everyone for head office, the team of their
    stores for a manager, their own for anyone else. People who left stay listed while their book
    still holds clients (so a manager can hand those clients over). Managers and admins first, then by name.
    """
    a = ASSOCIATE
    stmt = select(a.c.id, a.c.display_name, a.c.role, a.c.active, a.c.regions, a.c.home_location_id)
    if not actor.is_associate:
        raise PermissionDenied("a team belongs to a person; an integration reads books by associate id")
    if actor.role == ADMIN:
        pass
    elif actor.role == STORE_MANAGER:
        from rapport.associates.models import AssociateLocation

        al = table_of(AssociateLocation)
        al_ids = select(al.c.associate_id).where(al.c.location_id.in_(sorted(actor.store_ids)))
        stmt = stmt.where(
            or_(a.c.id == actor.id, a.c.home_location_id.in_(sorted(actor.store_ids)), a.c.id.in_(al_ids))
        )
    else:
        stmt = stmt.where(a.c.id == actor.id)
    people = session.execute(stmt).all()
    ids = [p.id for p in people]
    sizes: dict[int, int] = {}
    if ids:
        c = CUSTOMER.c
        sizes = {
            aid: int(n)
            for aid, n in session.execute(
                select(c.assigned_associate_id, func.count())
                .where(c.status == "active", c.assigned_associate_id.in_(ids))
                .group_by(c.assigned_associate_id)
            )
        }
    stores = store_ids_of(session, ids)
    names = dict(
        session.execute(
            select(LOCATION.c.id, LOCATION.c.name).where(
                LOCATION.c.id.in_(sorted({s for ss in stores.values() for s in ss}))
            )
        ).all()
    )
    out = []
    for p in people:
        size = sizes.get(p.id, 0)
        if not p.active and size == 0 and p.id != actor.id:
            continue
        if p.role == VIRTUAL_ASSOCIATE:
            covers = ", ".join(p.regions or ()) or "no region"
        else:
            covers = ", ".join(sorted(names[s] for s in stores.get(p.id, ()) if s in names))
        out.append(Colleague(p.id, p.display_name, p.role, bool(p.active), covers, size, stores.get(p.id, frozenset())))
    rank = {ADMIN: 0, STORE_MANAGER: 1}
    out.sort(key=lambda m: (m.id != actor.id, rank.get(m.role, 2), m.name.casefold(), m.id))
    return out
