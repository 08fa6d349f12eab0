"""Shared by the people-and-access tests: two stores, a user per role, cheap password hashing.

Argon2id at its production cost takes about a quarter of a second per hash here; the tests use
the same algorithm with a small cost (see ``passwords.hashing_cost``) so that a throttling test
with twenty failed sign-ins stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from rapport.associates import passwords, users
from rapport.db import Database
from rapport.ingest.service import ingest_records
from rapport.inventory.models import Location

PASSWORD = "correct horse battery"


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """Argon2id with a small cost; each test module wraps its tests in it (an autouse fixture)."""
    with passwords.hashing_cost(time_cost=1, memory_cost=1024, parallelism=1):
        yield


@dataclass(frozen=True)
class Team:
    paris: int
    new_york: int
    ana: int  # associate, Paris
    ben: int  # associate, New York
    mia: int  # online expert, US
    max: int  # store manager, Paris
    ada: int  # head office admin


def stores(db: Database) -> tuple[int, int]:
    result = ingest_records(
        db,
        "locations",
        [
            {"code": "PAR", "name": "Paris Saint-Honoré", "country": "FR", "currency": "EUR", "city": "Paris"},
            {"code": "NYC", "name": "New York Madison", "country": "US", "currency": "USD", "city": "New York"},
        ],
    )
    assert all(o.status != "rejected" for o in result.outcomes), result.outcomes
    with db.read() as session:
        ids = dict(session.execute(select(Location.code, Location.id)).all())
    return ids["PAR"], ids["NYC"]


def add(
    db: Database, email: str, name: str, role: str, *, stores: tuple[str, ...] = (), regions: tuple[str, ...] = ()
) -> int:
    with db.write() as session:
        return users.add_user(session, email, name, role, PASSWORD, stores=stores, regions=regions).id


def team(db: Database) -> Team:
    paris, new_york = stores(db)
    return Team(
        paris=paris,
        new_york=new_york,
        ana=add(db, "ana@maison.example", "Ana Duval", "associate", stores=("PAR",)),
        ben=add(db, "ben@maison.example", "Ben Carter", "associate", stores=("NYC",)),
        mia=add(db, "mia@maison.example", "Mia Chen", "virtual_associate", regions=("US",)),
        max=add(db, "max@maison.example", "Max Laurent", "store_manager", stores=("PAR",)),
        ada=add(db, "ada@maison.example", "Ada Okoro", "admin"),
    )
