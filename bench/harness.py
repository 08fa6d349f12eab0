"""What every benchmark shares: databases to run against, a real uvicorn server, tokens, timing.

Benchmarks talk to Rapport the way an integration does — over HTTP to a separate ``uvicorn``
process on 127.0.0.1 — and measure their baselines in the same run, on the same machine, so a
figure always travels with the engine's own rate and the HTTP floor measured minutes apart.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from rapport.db import Database, make_engine
from rapport.migrate import upgrade
from rapport.models import Base

ROOT = Path(__file__).resolve().parents[1]
#: Scratch databases, server logs and the cached SQLite scale database (``var/`` is git-ignored).
VAR = ROOT / "var" / "bench"
RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN_URL = os.environ.get("RAPPORT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")
#: Every database the benchmarks create is named with this prefix (the smoke tests use their own).
PREFIX = os.environ.get("RAPPORT_BENCH_DB_PREFIX", "rapport_bench")

Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- databases -----------------------------------------------------------------------------------


def postgresql_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"
    return None


def pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def libpq_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _pg_admin(sql: str, params: dict[str, Any] | None = None) -> Any:
    eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            result = conn.execute(text(sql), params or {})
            return result.all() if result.returns_rows else None
    finally:
        eng.dispose()


def pg_database_comment(name: str) -> str | None:
    """The comment on database ``name`` (where a cached data set keeps its marker), or None if absent."""
    rows = _pg_admin("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n", {"n": name})
    return None if not rows else (rows[0][0] or "")


def pg_set_comment(name: str, comment: str) -> None:
    escaped = comment.replace("'", "''")
    _pg_admin(f"COMMENT ON DATABASE \"{name}\" IS '{escaped}'")


def db_name(suffix: str) -> str:
    return f"{PREFIX}_{suffix}"


def fresh_database(engine: str, name: str) -> str:
    """An empty database called ``name`` (dropped first if it exists); returns its URL. Not migrated."""
    if engine == "postgresql":
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        return pg_url(name)
    path = VAR / f"{name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = make_url(url).database
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated(url: str) -> Database:
    engine = make_engine(url)
    upgrade(engine)
    return Database(engine)


def table_names() -> list[str]:
    """Every table with an ``id`` key, parents before children (the order rows can be copied in)."""
    return [t.name for t in Base.metadata.sorted_tables if "id" in t.c]


def max_ids(db: Database) -> dict[str, int]:
    """The highest id in every table: a mark to tell the rows a phase inserts from those before it."""
    with db.engine.connect() as conn:
        return {
            name: int(conn.execute(text(f'SELECT coalesce(max(id), 0) FROM "{name}"')).scalar_one())
            for name in table_names()
        }


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()) for name in table_names()}


# -- the raw engine: the same rows, written with COPY or executemany -------------------------------


@dataclass
class RowDump:
    """Rows taken from one database, ready to be written again elsewhere (PostgreSQL: COPY text)."""

    engine: str
    tables: list[tuple[str, Any]]  # (table, COPY bytes | list of tuples)
    rows: int


def dump_rows(url: str, since: dict[str, int], until: dict[str, int] | None = None) -> RowDump:
    """Rows with ``since[t] < id <= until[t]``, table by table in dependency order."""
    tables: list[tuple[str, Any]] = []
    rows = 0
    if url.startswith("sqlite"):
        lite = sqlite3.connect(sqlite_path(url))
        try:
            for name in table_names():
                hi = (until or {}).get(name, 1 << 62)
                data = lite.execute(
                    f'SELECT * FROM "{name}" WHERE id > ? AND id <= ? ORDER BY id', (since.get(name, 0), hi)
                ).fetchall()
                if data:
                    tables.append((name, data))
                    rows += len(data)
        finally:
            lite.close()
        return RowDump("sqlite", tables, rows)
    with psycopg.connect(libpq_dsn(url)) as con, con.cursor() as cur:
        for name in table_names():
            hi = (until or {}).get(name, 1 << 62)
            lo = since.get(name, 0)
            n = cur.execute(f'SELECT count(*) FROM "{name}" WHERE id > %s AND id <= %s', (lo, hi)).fetchone()
            if not n or not n[0]:
                continue
            chunks: list[bytes] = []
            with cur.copy(f'COPY (SELECT * FROM "{name}" WHERE id > {lo} AND id <= {hi} ORDER BY id) TO STDOUT') as cp:
                for chunk in cp:
                    chunks.append(bytes(chunk))
            tables.append((name, b"".join(chunks)))
            rows += int(n[0])
    return RowDump("postgresql", tables, rows)


def write_rows(url: str, dump: RowDump) -> float:
    """Write ``dump`` into the database at ``url`` in one transaction; returns the seconds it took.

    PostgreSQL: one ``COPY ... FROM STDIN`` per table. SQLite: one ``executemany`` per table, with
    the pragmas Rapport itself uses (WAL, synchronous=NORMAL, foreign keys on).
    """
    if dump.engine == "sqlite":
        lite = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA foreign_keys=ON")
            lite.execute("PRAGMA synchronous=NORMAL")
            started = time.perf_counter()
            lite.execute("BEGIN IMMEDIATE")
            for name, data in dump.tables:
                marks = ", ".join("?" * len(data[0]))
                lite.executemany(f'INSERT INTO "{name}" VALUES ({marks})', data)
            lite.execute("COMMIT")
            return time.perf_counter() - started
        finally:
            lite.close()
    with psycopg.connect(libpq_dsn(url)) as con:
        started = time.perf_counter()
        with con.cursor() as cur:
            for name, data in dump.tables:
                with cur.copy(f'COPY "{name}" FROM STDIN') as cp:
                    for i in range(0, len(data), 1 << 20):
                        cp.write(data[i : i + (1 << 20)])
        con.commit()
        return time.perf_counter() - started


def copy_reference(src_url: str, dst_url: str, tables: Sequence[str]) -> None:
    """Copy whole tables (stores, associates, products) so the raw database has what rows refer to."""
    mark = {name: 0 for name in table_names()}
    dump = dump_rows(src_url, mark)
    dump.tables = [(n, d) for n, d in dump.tables if n in tables]
    write_rows(dst_url, dump)


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn process on 127.0.0.1 serving ``app`` (``module:attr``), as a context manager.

    Access logs are off and the log level is ``warning`` for every app alike, so the trivial
    endpoint and Rapport pay the same per-request costs apart from their own work.
    """

    def __init__(self, app: str, *, factory: bool = False, env: dict[str, str] | None = None, name: str = "server"):
        self.app, self.factory, self.env, self.name = app, factory, env or {}, name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = VAR / "logs" / f"{name}-{self.port}.log"

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
        if self.factory:
            cmd.append("--factory")
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up; see {self.log_path}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not answer /healthz within 60 s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size == 0:
                self.log_path.unlink()  # nothing to read: keep only logs that say something

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def client(server: Server, token: str | None = None) -> httpx.Client:
    """A keep-alive client for one-request-at-a-time measurements."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=120)


def rapport_env(url: str) -> dict[str, str]:
    return {"RAPPORT_DATABASE_URL": url}


def create_token(url: str, name: str = "bench") -> str:
    """``rapport tokens create NAME`` against the database at ``url``; returns the printed token."""
    script = Path(sys.executable).with_name("rapport")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rapport.cli"]
    out = subprocess.run(
        [*cmd, "tokens", "create", name], cwd=ROOT, env={**os.environ, **rapport_env(url)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tokens = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("rpt_")]
    if not tokens:
        raise RuntimeError(f"rapport tokens create printed no token:\n{out.stdout}\n{out.stderr}")
    return tokens[-1]


# -- numbers -------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of ``samples``."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan, "mean": sum(ms) / len(ms) if ms else math.nan, "n": float(len(ms)),
    }  # fmt: skip


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)
