"""A bulk import spread over worker processes, on PostgreSQL: this process reads the file; the
workers parse, validate and write, each over its own connection.

Why processes: one importing process keeps about one core busy (its Python side and the
server's side take turns); two keep two busy. Measured on the 2-core bench machine (100,000
events on PostgreSQL, other work running): 12,000-14,500 rows/s in one process, 18,500-24,000
with two; ``make bench`` reports the current figure.

Why only some kinds: events and orders do not depend on each other across batches (an event is
appended, an order is keyed by its own id). Returns must find their orders and stock counts are
compared with the last one, so those import in file order, in one process. SQLite has one
writer at a time: always one process.

Affinity: every record naming its client the same way goes to the same *lane*, and a lane has
at most one batch in flight, so two workers never create the same new client at the same time
(one of them would be refused by the identifier's unique key and redo its batch). A client
named differently in two places can still meet itself in two lanes; the refused batch is
retried and links to the client the other created, as concurrent API batches do.

Rejects are written as batches finish: grouped by batch, each with its line number.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from rapport.db import Database, refresh_statistics
from rapport.errors import FieldError

if TYPE_CHECKING:
    from rapport.ingest.importer import ImportOptions, ImportStats, _Reader, _Rejects, _Unit

#: Kinds whose records are independent across batches (see the module docstring).
PARALLEL_KINDS = frozenset({"events", "orders"})
#: Smaller files are not worth starting processes for.
MIN_BYTES = 4 * 1024 * 1024
#: The client reference of a JSON record, for affinity; a record without one goes anywhere.
_CLIENT_REF = re.compile(rb'"customer"\s*:\s*(\{[^{}]*\}|"[^"]*")')

#: (line, raw line) for JSONL, parsed in the worker; (line, record) for CSV, built here.
Item = tuple[int, Any]
#: per item: (status, [(field, message)], has warnings)
Result = tuple[str, list[tuple[str, str]], bool]


class ParallelUsageError(ValueError):
    pass


def jobs_for(db: Database, options: ImportOptions) -> int:
    """Worker processes for this import: ``--jobs``, or 3-4 on PostgreSQL for big files of independent kinds."""
    asked = options.jobs
    if asked == 1:
        return 1
    if asked > 1:
        if options.kind not in PARALLEL_KINDS:
            raise ParallelUsageError(
                f"--jobs: {options.kind} import in file order, in one process "
                f"(parallel: {', '.join(sorted(PARALLEL_KINDS))})"
            )
        if db.dialect != "postgresql":
            raise ParallelUsageError("--jobs: SQLite has one writer at a time; a parallel import needs PostgreSQL")
        return asked
    if db.dialect != "postgresql" or options.kind not in PARALLEL_KINDS:
        return 1
    if options.path.stat().st_size < MIN_BYTES:
        return 1
    # One more worker than cores, up to 4: while one waits for the server another keeps the core busy.
    # Measured on 2 cores (100,000 events after 50,000 clients): 2 workers 13,500-15,500 rows/s,
    # 3 workers 15,500-17,400, 4 workers 16,800.
    return max(3, min(4, os.cpu_count() or 2))


def _lane_of_line(raw: bytes, lanes: int) -> int:
    found = _CLIENT_REF.search(raw)
    return zlib.crc32(found.group(1) if found else raw) % lanes


def _lane_of_record(record: Any, lanes: int) -> int:
    ref = record.get("customer") if isinstance(record, dict) else getattr(record, "customer", None)
    if isinstance(ref, dict):
        ref = sorted((k, str(v)) for k, v in ref.items() if v)
    return zlib.crc32(repr(ref).encode()) % lanes


def run(
    db: Database,
    options: ImportOptions,
    reader: _Reader,
    stats: ImportStats,
    rejects: _Rejects,
    jobs: int,
    actor: str,
    grows: tuple[str, ...],
    progress: Callable[[ImportStats], None] | None,
    tell: Callable[[], int],
    source: str | None,
) -> None:
    """Import through ``jobs`` worker processes; fills ``stats`` and ``rejects`` like the serial path."""
    from rapport.ingest.importer import _JsonlReader, _Unit

    size = options.batch_size
    jsonl = isinstance(reader, _JsonlReader)
    url = db.engine.url.render_as_string(hide_password=False)
    db.engine.dispose()  # forked workers must not inherit this process's open connections
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    lanes: list[list[tuple[Item, _Unit]]] = [[] for _ in range(jobs)]
    ready: list[deque[list[tuple[Item, _Unit]]]] = [deque() for _ in range(jobs)]
    busy: dict[Future[list[Result]], tuple[int, list[tuple[Item, _Unit]]]] = {}
    lane_busy = [False] * jobs
    analyzed_at = 0
    done_rows = 0

    def items() -> Iterator[tuple[int, Item, _Unit]]:
        if jsonl:
            assert isinstance(reader, _JsonlReader)
            for line, raw in reader.lines():
                yield _lane_of_line(raw, jobs), (line, raw), _Unit(None, [(line, raw)])
            return
        for unit in reader.units():
            if unit.record is None:  # refused while reading: nothing to send
                yield -1, (unit.rows[0][0], None), unit
            else:
                yield _lane_of_record(unit.record, jobs), (unit.rows[0][0], unit.record), unit

    def account(batch: list[tuple[Item, _Unit]], results: list[Result]) -> None:
        nonlocal done_rows
        for (_, unit), (status, errors, warned) in zip(batch, results, strict=True):
            stats.records[status] += 1
            stats.rows_by_status[status] += len(unit.rows)
            stats.warnings += warned
            done_rows += len(unit.rows)
            if status == "rejected":
                rejects.write(unit, [FieldError(f, m) for f, m in errors] or unit.errors)

    def submit(pool: ProcessPoolExecutor) -> None:
        for lane in range(jobs):
            if not lane_busy[lane] and ready[lane]:
                batch = ready[lane].popleft()
                busy[pool.submit(_work, [item for item, _ in batch])] = (lane, batch)
                lane_busy[lane] = True

    def settle(block: bool) -> None:
        nonlocal analyzed_at
        if not busy:
            return
        finished, _ = wait(list(busy), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in finished:
            lane, batch = busy.pop(future)
            lane_busy[lane] = False
            account(batch, future.result())
        written = stats.accepted_rows
        if written >= max(2 * analyzed_at, size):
            with db.write() as session:
                refresh_statistics(session, grows)
            analyzed_at = written
        stats.rows, stats.bytes_read = done_rows, tell()
        if progress is not None and finished:
            progress(stats)

    def waiting() -> int:
        return sum(len(q) for q in ready)

    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start, initargs=(url, options, source, actor, jsonl)
    ) as pool:
        try:
            for lane, item, unit in items():
                if lane < 0:
                    account([(item, unit)], [("rejected", [], False)])
                    continue
                lanes[lane].append((item, unit))
                if len(lanes[lane]) >= size:
                    ready[lane].append(lanes[lane])
                    lanes[lane] = []
                    submit(pool)
                    settle(block=False)
                    while waiting() > jobs:  # read at most a batch per lane ahead
                        settle(block=True)
                        submit(pool)
            for lane in range(jobs):
                if lanes[lane]:
                    ready[lane].append(lanes[lane])
                    lanes[lane] = []
            while busy or waiting():
                submit(pool)
                settle(block=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    stats.rows = done_rows


# --- in the worker processes ---------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start(url: str, options: ImportOptions, source: str | None, actor: str, jsonl: bool) -> None:
    from rapport.db import make_engine
    from rapport.ingest.importer import _JsonlReader
    from rapport.runtime import tune_gc

    tune_gc()
    _worker["db"] = Database(make_engine(url))
    _worker["reader"] = _JsonlReader(None, options, source) if jsonl else None  # type: ignore[arg-type]
    _worker["kind"], _worker["actor"] = options.kind, actor


def _work(items: list[Item]) -> list[Result]:
    """Parse (JSONL), validate and write one batch; one result per item, in order."""
    from rapport.ingest.service import ingest_records

    reader, kind = _worker["reader"], _worker["kind"]
    records: list[Any] = []
    refused: dict[int, list[FieldError]] = {}
    for position, (line, payload) in enumerate(items):
        if isinstance(payload, bytes):
            unit = reader.unit(line, payload)
            if unit.record is None:
                refused[position] = unit.errors
                continue
            records.append(unit.record)
        else:
            records.append(payload)
    outcomes = iter(ingest_records(_worker["db"], kind, records, actor=_worker["actor"], durable=False).outcomes)
    results: list[Result] = []
    for position in range(len(items)):
        if position in refused:
            results.append(("rejected", [(e.field, e.message) for e in refused[position]], False))
        else:
            outcome = next(outcomes)
            results.append((outcome.status, [(e.field, e.message) for e in outcome.errors], bool(outcome.warnings)))
    return results


__all__ = ["PARALLEL_KINDS", "ParallelUsageError", "jobs_for", "run"]
