"""Shared fixtures. Every storage test runs twice: on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test session, created through ``RAPPORT_TEST_PG_ADMIN_URL``
(default: the local server's ``test`` database as ``postgres``). Without a reachable server
the PostgreSQL half is skipped with the reason — except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from rapport import clock
from rapport.db import Database, make_engine, set_database
from rapport.migrate import upgrade
from rapport.models import Base

PG_ADMIN_URL = os.environ.get("RAPPORT_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: The instant tests run at unless they move the clock themselves.
TEST_NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _pg_unavailable_reason() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    reason = _pg_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    name = f"rapport_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url, pool_size=20, max_overflow=20)
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "rapport.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


#: Every id sequence back to 1 (PostgreSQL), as a fresh database would start.
_RESTART_SEQUENCES = text(
    "SELECT setval(pg_get_serial_sequence(c.table_name, 'id'), 1, false) FROM information_schema.columns c "
    "WHERE c.table_schema = current_schema() AND c.column_name = 'id' "
    "AND pg_get_serial_sequence(c.table_name, 'id') IS NOT NULL"
)


def _wipe(engine: Engine) -> None:
    """Empty every table, children first. On PostgreSQL ``DELETE`` + resetting the sequences, not
    ``TRUNCATE``: a test leaves a few rows, and TRUNCATE of ~45 tables costs ~240 ms (new files for
    each) against ~13 ms — four of the suite's nine minutes."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            conn.execute(_RESTART_SEQUENCES)
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None


def _has_sqlite_sequence(conn: object) -> bool:
    row = conn.execute(  # type: ignore[attr-defined]
        text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")
    ).first()
    return row is not None


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty, migrated database — run once per engine."""
    yield from _database(request.getfixturevalue(f"{request.param}_engine"))


@pytest.fixture
def pg_db(postgresql_engine: Engine) -> Iterator[Database]:
    """PostgreSQL only: for behaviour SQLite cannot show (concurrent writers)."""
    yield from _database(postgresql_engine)


def _database(engine: Engine) -> Iterator[Database]:
    _wipe(engine)
    database = Database(engine)
    set_database(database)
    try:
        yield database
    finally:
        set_database(None)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[clock.FixedClock]:
    with clock.use_clock(clock.FixedClock(TEST_NOW)) as c:
        yield c  # type: ignore[misc]
