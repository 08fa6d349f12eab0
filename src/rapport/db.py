"""Engine, sessions and the few differences between SQLite and PostgreSQL, kept in one place.

* SQLite runs in WAL mode with foreign keys on; a *write* unit of work opens with
  ``BEGIN IMMEDIATE`` so writers are serialised instead of failing on lock upgrades.
* PostgreSQL runs at READ COMMITTED; code that must not race takes row locks explicitly.
* Datetimes are stored as UTC and always come back timezone-aware.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, DateTime, Engine, Integer, MetaData, String, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from rapport.settings import get_settings

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def SearchKey(length: int) -> String:
    """Text searched by prefix ranges (``key >= p AND key < p || U+10FFFF``).

    On PostgreSQL the column uses the "C" collation so byte order, range scans and the btree
    index agree whatever locale the database was created with.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


#: Free-form documents: JSONB on PostgreSQL.
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: Rapport stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy (not pysqlite) decide when transactions begin, so SAVEPOINT works
    # and a write unit of work can ask for BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Bulk ingestion touches index pages all over a large file: a 64 MB page cache, memory-mapped
    # reads and checkpoints every ~64 MB of WAL (not every 4 MB) keep commits cheap.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """An engine plus two session factories: reads, and serialised-on-SQLite writes."""

    def __init__(self, engine: Engine) -> None:
        # Every capability's tables, mapped before the first unit of work: a flush sorts tables by
        # their foreign keys, and a script importing only some models would fail to resolve them.
        import rapport.models  # noqa: F401

        self.engine = engine
        self.read_sessions = sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(sqlite_begin="IMMEDIATE") if is_sqlite(engine) else engine
        self.write_sessions = sessionmaker(writer, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        with self.write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions() as session:
            yield session


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class, typed as a Table (``__table__`` is typed FromClause)."""
    return cast(Table, model.__table__)


def is_sqlite(bind: Engine | Session | Any) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return bool(engine.dialect.name == "sqlite")


def insert_for(session: Session, table: Any) -> Any:
    """Dialect ``INSERT`` that supports ``on_conflict_do_nothing/_do_update``."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def allocate_ids(session: Session, table: Any, count: int) -> list[int]:
    """Reserve ``count`` primary keys for a multi-row insert with explicit ids.

    PostgreSQL draws them from the table's sequence (safe under concurrency). SQLite takes
    ``max(id)+1 ...``: safe because Rapport's SQLite writers hold the write lock from
    ``BEGIN IMMEDIATE`` on, so no other writer can interleave.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        )
        return [r[0] for r in rows]
    from sqlalchemy import func, select

    start = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + count))


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows fast: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    Rows must carry the same keys; missing scalar column defaults are filled in. Use plain
    ``session.execute(insert(...))`` instead where a conflict clause is needed.
    """
    if not rows:
        return
    columns = list(rows[0])
    defaults = {
        c.name: c.default.arg
        for c in table.columns
        if c.name not in columns and c.default is not None and c.default.is_scalar
    }
    if session.get_bind().dialect.name != "postgresql":
        _sqlite_executemany(session, table, columns, defaults, rows)
        return
    import psycopg

    names = [*columns, *defaults]
    json_cols = {n for n in names if isinstance(table.c[n].type, (JSON, JSONB)) or _is_json_variant(table.c[n].type)}
    tail = tuple(defaults.values())
    dbapi: Any = session.connection().connection.dbapi_connection
    assert dbapi is not None
    quoted = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        _copy_rows(dbapi, statement, names, columns, json_cols, tail, rows)
    except psycopg.Error as exc:  # as SQLAlchemy would raise it: IntegrityError for a taken key
        raise _wrapped(session, statement, exc) from exc


def _copy_rows(
    dbapi: Any, statement: str, names: list[str], columns: list[str], json_cols: set[str], tail: tuple[Any, ...],
    rows: list[dict[str, Any]],
) -> None:  # fmt: skip
    from psycopg.types.json import Jsonb

    with dbapi.cursor() as cur, cur.copy(statement) as copy:
        if json_cols:
            idx = [i for i, n in enumerate(names) if n in json_cols]
            for r in rows:
                values = [r[c] for c in columns] + list(tail)
                for i in idx:
                    value = values[i]
                    if value is not None:
                        # COPY's text format reads the document from its JSON text: an empty one
                        # (most events carry no data) needs no serialising.
                        values[i] = "{}" if isinstance(value, dict) and not value else Jsonb(value)
                copy.write_row(values)
        else:
            for r in rows:
                copy.write_row([r[c] for c in columns] + list(tail) if tail else [r[c] for c in columns])


def _sqlite_executemany(
    session: Session, table: Any, columns: list[str], defaults: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    """``executemany`` straight on the driver, each column's bind processor looked up once per call.

    SQLAlchemy's own executemany path processes every parameter of every row through the
    compiled statement; for the tens of thousands of rows a bulk import writes per second that
    bookkeeping costs more than SQLite's insert itself.
    """
    dialect = session.get_bind().dialect
    names = [*columns, *defaults]
    procs = [_converter(table.c[n].type, dialect) for n in names]
    tail = list(defaults.values())
    if tail:
        tail = [p(v) if p is not None else v for p, v in zip(procs[len(columns) :], tail, strict=True)]
    pairs = [(c, p) for c, p in zip(columns, procs, strict=False) if p is not None]
    plain = [c for c, p in zip(columns, procs, strict=False) if p is None]
    order = [*plain, *(c for c, _ in pairs)]
    params = []
    for r in rows:
        params.append((*[r[c] for c in plain], *[p(r[c]) for c, p in pairs], *tail))
    quoted = ", ".join(f'"{n}"' for n in [*order, *defaults])
    marks = ", ".join("?" * len(names))
    dbapi: Any = session.connection().connection.dbapi_connection
    statement = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})'
    cur = dbapi.cursor()
    try:
        cur.executemany(statement, params)
    except sqlite3.Error as exc:
        raise _wrapped(session, statement, exc) from exc
    finally:
        cur.close()


def _converter(type_: Any, dialect: Dialect) -> Any:
    """The bind processor for a column, minding the values a batch repeats: a batch's rows share their
    ``recorded_at`` (one datetime object) and most event documents are empty."""
    if isinstance(type_, UTCDateTime):
        seen: dict[datetime, str | None] = {}

        def utc(value: datetime | None) -> str | None:
            if value is None:
                return None
            text = seen.get(value)
            if text is None:
                text = seen[value] = _sqlite_utc(value)
            return text

        return utc
    process = type_._cached_bind_processor(dialect)
    if process is not None and _is_json_variant(type_):
        empty = process({})

        def document(value: Any) -> Any:
            return empty if isinstance(value, dict) and not value else process(value)

        return document
    return process


def _wrapped(session: Session, statement: str, exc: Exception) -> Exception:
    """A driver error from a raw cursor, as the SQLAlchemy exception callers catch (IntegrityError ...)."""
    from sqlalchemy.exc import DBAPIError

    dialect = session.get_bind().dialect
    return DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect)


def _sqlite_utc(value: datetime | None) -> str | None:
    """What ``UTCDateTime`` then SQLAlchemy's SQLite ``DateTime`` store, in one C call:
    ``2026-07-02 14:22:03.000000`` (naive UTC, microseconds always written so text order is time order)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: Rapport stores timezone-aware UTC only")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def one_of(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` as one bound array, whatever its length.

    An expanding ``IN (?, ?, ...)`` is compiled afresh for every list length and caps at the
    driver's parameter limit; ``= ANY(%s)`` on PostgreSQL (see :func:`plan_each_statement`) and
    ``IN (SELECT value FROM json_each(?))`` on SQLite are one cached statement with one
    parameter. Values are str or int.
    """
    from sqlalchemy import any_, bindparam, func, select

    items = list(values)
    if session.get_bind().dialect.name == "postgresql":
        element = BigInteger() if items and isinstance(items[0], int) else String()
        return column == any_(bindparam(None, items, type_=postgresql.ARRAY(element)))
    each = func.json_each(bindparam(None, json.dumps(items), type_=String())).table_valued("value")
    return column.in_(select(each.c.value))


def plan_each_statement(session: Session) -> None:
    """Plan this transaction's statements for their actual values (PostgreSQL; no-op on SQLite).

    psycopg prepares a statement run five times, and PostgreSQL may then switch to a generic
    plan. For a batch look-up ``key = ANY($1)`` a generic plan cannot see the array, so it
    cannot hash it: on a table still being loaded (few statistics) it filters every row of the
    leading index column against all of it. Ingestion batches are few and large, so planning
    each one costs nothing next to that.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def defer_wal_flush(session: Session) -> None:
    """Commit this transaction without waiting for its WAL to reach disk (PostgreSQL; no-op on SQLite).

    For work that is safe to re-run, such as a bulk import (records carry their source's ids):
    a crash loses at most the last few hundred milliseconds of commits, never consistency.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SET LOCAL synchronous_commit = off"))


def refresh_statistics(session: Session, tables: Sequence[str]) -> None:
    """Let the query planner see how big these tables have become (``ANALYZE``; both engines).

    A bulk load into a young database outgrows the planner's picture within seconds: PostgreSQL
    would go on planning its batch look-ups for a table of a dozen rows (scanning every row of a
    source instead of probing the index) until autovacuum catches up, and each batch would cost
    more than the last. Bulk writers call this as their tables double.
    """
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        # A small sample is enough to tell a table of a dozen rows from one of a hundred thousand,
        # at a tenth of the cost; autovacuum refines the statistics later with the full target.
        session.execute(text("SET LOCAL default_statistics_target = 10"))
    else:
        session.execute(text("PRAGMA analysis_limit = 1000"))  # SQLite: sample, do not read whole indexes
    for table in tables:
        session.execute(text(f'ANALYZE "{table}"'))


def _is_json_variant(type_: Any) -> bool:
    return isinstance(getattr(type_, "impl", None), JSON) or isinstance(type_, JSON)


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        _database = Database(make_engine())
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database
