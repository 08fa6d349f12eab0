"""Counting the SQL a piece of work sends: how the suite proves a screen or a read is bounded (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from rapport.db import Database

#: Transaction control is not a query (SQLite's BEGIN, PostgreSQL's SET LOCAL...).
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET")


@contextmanager
def statements(db: Database, *, reads_only: bool = False) -> Iterator[list[str]]:
    """The statements sent while the block runs, transaction control left out (``reads_only``: SELECTs)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        head = statement.lstrip().upper()
        if reads_only:
            if head.startswith(("SELECT", "WITH")):
                seen.append(statement)
        elif not head.startswith(CONTROL):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
