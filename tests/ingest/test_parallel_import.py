"""A big import on PostgreSQL spreads over worker processes, with the same result as one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rapport.customers.models import Customer, TimelineEntry, WishlistItem
from rapport.db import Database
from rapport.identity.models import Identifier
from rapport.ingest import parallel
from rapport.ingest.importer import ImportOptions, ImportUsageError, import_file
from tests.factories import seed_reference


def events_file(path: Path, n: int, *, bad_every: int = 0) -> Path:
    """``n`` events about ``n // 4`` new clients, named by email, each client's four events a quarter
    of the file apart (so several batches, and lanes, meet them); a cut-short line after every
    ``bad_every`` events."""
    kinds = ("product_view", "wishlist_add", "cart_abandoned", "social_like")
    clients = n // 4
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            event = {
                "source": "web", "id": f"ev-{i}", "type": kinds[i // clients], "occurred_at": "2026-11-20T09:00:00Z",
                "customer": {"email": f"client{i % clients}@example.com"},
                "sku": "COAT-CAMEL-M" if i // clients != 3 else None,
            }  # fmt: skip
            f.write(json.dumps({k: v for k, v in event.items() if v is not None}) + "\n")
            if bad_every and (i + 1) % bad_every == 0:
                f.write('{"source": "web", "type": "page_view", "customer": \n')  # cut short
    return path


def snapshot(db: Database) -> tuple[int, int, int, int]:
    with db.read() as s:
        return (
            s.execute(select(func.count()).select_from(Customer)).scalar_one(),
            s.execute(select(func.count()).select_from(Identifier)).scalar_one(),
            s.execute(select(func.count()).select_from(TimelineEntry)).scalar_one(),
            s.execute(select(func.count()).select_from(WishlistItem)).scalar_one(),
        )


def test_two_workers_import_events_like_one_process_does(pg_db: Database, tmp_path: Path):
    seed_reference(pg_db)
    path = events_file(tmp_path / "events.jsonl", 4000, bad_every=500)

    stats = import_file(pg_db, ImportOptions(kind="events", path=path, batch_size=300, jobs=2))

    assert stats.records == {"created": 4000, "rejected": 8}
    assert stats.rows == 4008
    # One client per email although each client's events were spread over the file.
    assert snapshot(pg_db) == (1000, 1000, 4000, 1000)
    rejects = [json.loads(line) for line in stats.rejects_path.read_text().splitlines()]
    assert sorted(r["_line"] for r in rejects) == [501 * k for k in range(1, 9)]
    assert all("not valid JSON" in r["_errors"][0] for r in rejects)


def test_a_parallel_reimport_changes_nothing(pg_db: Database, tmp_path: Path):
    seed_reference(pg_db)
    path = events_file(tmp_path / "events.jsonl", 2000)
    import_file(pg_db, ImportOptions(kind="events", path=path, batch_size=250, jobs=2))
    before = snapshot(pg_db)

    again = import_file(pg_db, ImportOptions(kind="events", path=path, batch_size=250, jobs=2))

    assert again.records == {"unchanged": 2000}
    assert snapshot(pg_db) == before


def test_big_event_files_go_parallel_on_postgresql_only(db: Database, tmp_path: Path, monkeypatch):
    path = events_file(tmp_path / "events.jsonl", 400)
    monkeypatch.setattr(parallel, "MIN_BYTES", 1000)
    options = ImportOptions(kind="events", path=path)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert parallel.jobs_for(db, options) == (3 if db.dialect == "postgresql" else 1)  # a core waits on the server
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 16)
    assert parallel.jobs_for(db, options) == (4 if db.dialect == "postgresql" else 1)
    assert parallel.jobs_for(db, ImportOptions(kind="returns", path=path)) == 1
    monkeypatch.setattr(parallel, "MIN_BYTES", 10**9)
    assert parallel.jobs_for(db, options) == 1


def test_asking_for_workers_where_they_cannot_help_is_refused_before_any_write(db: Database, tmp_path: Path):
    path = events_file(tmp_path / "events.jsonl", 40)
    if db.dialect == "sqlite":
        with pytest.raises(ImportUsageError, match="SQLite has one writer"):
            import_file(db, ImportOptions(kind="events", path=path, jobs=2))
    with pytest.raises(ImportUsageError, match="returns import in file order"):
        import_file(db, ImportOptions(kind="returns", path=path, jobs=2))
    assert snapshot(db) == (0, 0, 0, 0)
