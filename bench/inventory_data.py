"""The inventory benchmark's data sets: a large synthetic network, and the demo retailer's stock.

* **The network** (PostgreSQL): ``styles`` styles in ``sizes`` sizes (letter sizes or shoe sizes)
  and a stock row for every SKU at every location — 50,000 SKUs x 200 locations is 10,000,000
  rows. Stores are spread around two dozen cities (coordinates, so "nearest stores" means
  something), one location in twenty is a warehouse that ships online, and 15% of stores ship
  from store. A store carries four styles in five; units on hand are what a boutique holds (0-6,
  mostly 1-3), warehouses hold depth (0-60), and a few store rows keep a display piece back
  (safety stock). Rows are generated in Python and written with ``COPY``, the stock table's
  secondary indexes built afterwards, then ``VACUUM ANALYZE``: about a minute and a half.
* **The demo's stock** (both engines): :class:`rapport.demo.generator.DemoPlan`'s locations,
  catalogue and stock counts (no clients), loaded through
  :func:`rapport.ingest.service.ingest_records` as the demo loads them: 2,019 SKUs x 12 locations.

Both are cached between runs like the 360 set (PostgreSQL: a database with a marker in its
comment; SQLite: a file under var/bench/ with a ``.marker`` beside it) and rebuilt when the
generator version, the sizes or the schema change. Neither holds reservations: ``reserved`` is 0
on every row, which :func:`restore` puts back after a benchmark.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import text

from bench import harness, scale
from bench.harness import Log
from bench.plan import Plan
from rapport.db import Database, make_engine
from rapport.demo.generator import DEFAULT_SEED, DemoPlan
from rapport.ingest.service import ingest_records
from rapport.migrate import upgrade
from rapport.models import Base

#: Bump when the generated rows change, so cached data sets are rebuilt.
GENERATOR_VERSION = 1

# -- the large network: synthetic, written with COPY ----------------------------------------------

#: (city, country, timezone, currency, latitude, longitude): stores are spread around these.
CITIES: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("Paris", "FR", "Europe/Paris", "EUR", 48.8566, 2.3522), ("Lyon", "FR", "Europe/Paris", "EUR", 45.764, 4.8357),
    ("London", "GB", "Europe/London", "GBP", 51.5072, -0.1276),
    ("Manchester", "GB", "Europe/London", "GBP", 53.4808, -2.2426),
    ("Milano", "IT", "Europe/Rome", "EUR", 45.4642, 9.19), ("Roma", "IT", "Europe/Rome", "EUR", 41.9028, 12.4964),
    ("Madrid", "ES", "Europe/Madrid", "EUR", 40.4168, -3.7038),
    ("Barcelona", "ES", "Europe/Madrid", "EUR", 41.3874, 2.1686),
    ("Berlin", "DE", "Europe/Berlin", "EUR", 52.52, 13.405), ("München", "DE", "Europe/Berlin", "EUR", 48.1351, 11.582),
    ("Amsterdam", "NL", "Europe/Amsterdam", "EUR", 52.3676, 4.9041),
    ("Zürich", "CH", "Europe/Zurich", "CHF", 47.3769, 8.5417),
    ("New York", "US", "America/New_York", "USD", 40.7128, -74.006),
    ("Los Angeles", "US", "America/Los_Angeles", "USD", 34.0522, -118.2437),
    ("Chicago", "US", "America/Chicago", "USD", 41.8781, -87.6298),
    ("Miami", "US", "America/New_York", "USD", 25.7617, -80.1918),
    ("Toronto", "CA", "America/Toronto", "CAD", 43.6532, -79.3832),
    ("Tokyo", "JP", "Asia/Tokyo", "JPY", 35.6762, 139.6503), ("Osaka", "JP", "Asia/Tokyo", "JPY", 34.6937, 135.5023),
    ("Seoul", "KR", "Asia/Seoul", "KRW", 37.5665, 126.978),
    ("Hong Kong", "HK", "Asia/Hong_Kong", "HKD", 22.3193, 114.1694),
    ("Singapore", "SG", "Asia/Singapore", "SGD", 1.3521, 103.8198),
    ("Dubai", "AE", "Asia/Dubai", "AED", 25.2048, 55.2708),
    ("Sydney", "AU", "Australia/Sydney", "AUD", -33.8688, 151.2093),
)  # fmt: skip
LETTER_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL")
SHOE_SIZES = ("36", "37", "38", "39", "40", "41", "42", "43")
NOUNS = {"letter": ("dress", "coat", "blazer", "shirt", "knit", "trousers", "skirt", "trench"),
         "shoe": ("loafer", "sneaker", "boot", "pump", "sandal", "derby", "mule", "ballerina")}  # fmt: skip
WORDS = ("Alma", "Brera", "Cosima", "Duna", "Elba", "Faro", "Gaia", "Isola", "Luce", "Mira", "Nora", "Orsa")
COLOURS = ("black", "navy", "camel", "ivory", "grey", "burgundy", "olive", "sand")
#: Units on hand at a store that carries the style (weights), and at a warehouse (uniform).
STORE_UNITS, STORE_WEIGHTS = (0, 1, 2, 3, 4, 5, 6), (9, 24, 24, 19, 12, 8, 4)
WAREHOUSE_UNITS = 60
STORE_CARRIES = 0.8

LOCATION_COLUMNS = ("id", "code", "name", "kind", "timezone", "currency", "city", "country", "latitude", "longitude",
                    "fulfils_online", "accepts_pickup", "created_at", "updated_at")  # fmt: skip
PRODUCT_COLUMNS = ("id", "sku", "style_code", "name", "brand", "category", "colour", "size", "price_minor",
                   "currency", "active", "created_at", "updated_at")  # fmt: skip
STOCK_COLUMNS = ("id", "product_id", "location_id", "on_hand", "reserved", "safety_stock", "updated_at")


@dataclass(frozen=True)
class NetworkSpec:
    """A retailer of ``styles`` styles in ``sizes`` sizes, with a stock row for every SKU at every location."""

    styles: int
    sizes: int
    locations: int
    seed: int = 2026

    @classmethod
    def of(cls, plan: Plan) -> NetworkSpec:
        return cls(max(1, plan.inventory_skus // plan.inventory_sizes), plan.inventory_sizes, plan.inventory_locations)

    @property
    def skus(self) -> int:
        return self.styles * self.sizes

    @property
    def warehouses(self) -> int:
        return max(1, self.locations // 20)

    @property
    def name(self) -> str:
        return harness.db_name(f"inventory_{self.skus}_{self.locations}")

    @property
    def size(self) -> str:
        return f"{self.skus:,} SKUs x {self.locations:,} locations ({self.skus * self.locations:,} stock rows)"

    def marker(self) -> str:
        return (
            f"rapport-bench-inventory generator=v{GENERATOR_VERSION} styles={self.styles} sizes={self.sizes} "
            f"locations={self.locations} seed={self.seed} schema={scale.schema_head()}"
        )


def check_columns() -> None:
    """Every column the generator leaves out must be nullable or have a server default."""
    for name, cols in (("location", LOCATION_COLUMNS), ("product", PRODUCT_COLUMNS), ("stock_level", STOCK_COLUMNS)):
        table = Base.metadata.tables[name]
        unknown = set(cols) - set(table.c.keys())
        missing = [c.name for c in table.columns if c.name not in cols and not c.nullable and c.server_default is None]
        if unknown or missing:
            raise RuntimeError(f"bench.inventory is out of date for {name}: unknown {unknown}, required {missing}")


def _locations(spec: NetworkSpec, rng: random.Random, at: datetime) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    stores = spec.locations - spec.warehouses
    for i in range(spec.locations):
        store = i < stores
        city, country, tz, currency, lat, lon = CITIES[(i if store else 3 * i) % len(CITIES)]
        code = f"S{i + 1:03d}" if store else f"WH{i - stores + 1:02d}"
        name = f"{city} {i // len(CITIES) + 1}" if store else f"{city} distribution centre"
        jitter = 0.08 if store else 0.3
        rows.append((
            i + 1, code, name, "store" if store else "warehouse", tz, currency, city, country,
            round(lat + rng.uniform(-jitter, jitter), 6), round(lon + rng.uniform(-jitter, jitter), 6),
            (not store) or rng.random() < 0.15, store, at, at,
        ))  # fmt: skip
    return rows


def _products(spec: NetworkSpec, rng: random.Random, at: datetime) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    pid = 0
    for s in range(spec.styles):
        family = "letter" if s % 2 == 0 else "shoe"
        sizes = (LETTER_SIZES if family == "letter" else SHOE_SIZES) * (1 + spec.sizes // 8)
        style = f"ST-{s + 1:05d}"
        name = f"{rng.choice(WORDS)} {rng.choice(NOUNS[family])}"
        colour = rng.choice(COLOURS)
        price = rng.randrange(90, 2400, 10) * 100
        active = rng.random() > 0.03
        for size in sizes[: spec.sizes]:
            pid += 1
            rows.append((pid, f"{style}-{size}", style, name, "Maison Bench", family, colour, size, price, "EUR",
                         active, at, at))  # fmt: skip
    return rows


def _stock_chunks(spec: NetworkSpec, rng: random.Random, at: datetime, chunk: int = 400) -> Any:
    """COPY text for every (product, location), ``chunk`` products at a time."""
    stores = spec.locations - spec.warehouses
    cum = [sum(STORE_WEIGHTS[: i + 1]) for i in range(len(STORE_WEIGHTS))]
    stamp = at.strftime("%Y-%m-%d %H:%M:%S+00")
    sid = pid = 0
    lines: list[str] = []
    for _ in range(spec.styles):
        carried = [rng.random() < STORE_CARRIES for _ in range(stores)]
        for _ in range(spec.sizes):
            pid += 1
            units = rng.choices(STORE_UNITS, cum_weights=cum, k=stores)
            units = [u if c else 0 for u, c in zip(units, carried, strict=True)]
            units += [rng.randrange(WAREHOUSE_UNITS + 1) for _ in range(spec.warehouses)]
            for lid, on_hand in enumerate(units, start=1):
                sid += 1
                safety = 1 if on_hand >= 2 and lid <= stores and (pid + lid) % 23 == 0 else 0  # a display piece
                lines.append(f"{sid}\t{pid}\t{lid}\t{on_hand}\t0\t{safety}\t{stamp}\n")
            if pid % chunk == 0:
                yield "".join(lines)
                lines = []
    if lines:
        yield "".join(lines)


def _stock_secondary(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(drop, create) for stock_level's unique constraints and indexes other than its key."""
    out: list[tuple[str, str]] = []
    for name, definition in conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'u' "
        "AND conrelid = 'stock_level'::regclass ORDER BY conname"
    ):
        out.append((f'ALTER TABLE stock_level DROP CONSTRAINT "{name}"',
                    f'ALTER TABLE stock_level ADD CONSTRAINT "{name}" {definition}'))  # fmt: skip
    for name, definition in conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'stock_level' AND schemaname = 'public' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY indexname"
    ):
        out.append((f'DROP INDEX "{name}"', definition))
    return out


def _copy(conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
        for row in rows:
            cp.write_row(row)


def load_network(url: str, spec: NetworkSpec, log: Log) -> None:
    """Migrate the empty PostgreSQL database at ``url`` and fill it with ``spec``'s network."""
    check_columns()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    rng = random.Random(f"bench-inventory:{spec.seed}")
    at = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    with psycopg.connect(harness.libpq_dsn(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        try:  # consistent by construction: skip the per-row foreign-key triggers while loading
            conn.execute("SET session_replication_role = replica")
        except psycopg.Error:
            conn.rollback()
        secondary = _stock_secondary(conn)
        for drop, _ in secondary:
            conn.execute(drop)
        _copy(conn, "location", LOCATION_COLUMNS, _locations(spec, rng, at))
        _copy(conn, "product", PRODUCT_COLUMNS, _products(spec, rng, at))
        cols = ", ".join(STOCK_COLUMNS)
        written = 0
        with conn.cursor() as cur, cur.copy(f"COPY stock_level ({cols}) FROM STDIN") as cp:
            for chunk in _stock_chunks(spec, rng, at):
                cp.write(chunk)
                written += chunk.count("\n")
                if written % 2_000_000 < chunk.count("\n"):
                    log(f"  {written:,} stock rows")
        log(f"  building {len(secondary)} indexes on stock_level")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, create in secondary:
            conn.execute(create)
        scale.sync_sequences(conn, {"location": spec.locations, "product": spec.skus, "stock_level": written})
        conn.commit()
    log("  VACUUM ANALYZE")
    with psycopg.connect(harness.libpq_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


@dataclass
class DataSet:
    url: str
    size: str
    cached: bool
    seconds: float

    @property
    def how(self) -> str:
        return "cached data set" if self.cached else f"data set built in {self.seconds:.0f} s"


def network(spec: NetworkSpec, log: Log) -> DataSet:
    """The large network on PostgreSQL: reused when its marker matches, else generated."""
    if harness.pg_database_comment(spec.name) == spec.marker():
        return DataSet(harness.pg_url(spec.name), spec.size, True, 0.0)
    started = time.perf_counter()
    url = harness.fresh_database("postgresql", spec.name)
    log(f"inventory/postgresql: generating {spec.size} into {spec.name}")
    load_network(url, spec, log)
    harness.pg_set_comment(spec.name, spec.marker())
    seconds = time.perf_counter() - started
    log(f"inventory/postgresql: built in {seconds:.0f} s")
    return DataSet(url, spec.size, False, seconds)


def demo_name(catalogue: float) -> str:
    return harness.db_name("inventory_demo" + ("" if catalogue == 1.0 else f"_{round(catalogue * 100)}pct"))


def demo_stock(engine: str, catalogue: float, log: Log) -> DataSet:
    """The demo retailer's locations, catalogue and stock counts (no clients), loaded through ingestion."""
    name = demo_name(catalogue)
    marker = (
        f"rapport-bench-inventory-demo generator=v{GENERATOR_VERSION} catalogue={catalogue} seed={DEFAULT_SEED} "
        f"schema={scale.schema_head()}"
    )
    path = harness.VAR / f"{name}.db"
    marker_file = path.with_suffix(".marker")
    plan = DemoPlan(customers=0, catalogue=catalogue)
    size = f"the demo: {len(plan.products()):,} SKUs x {len(plan.locations())} locations"
    if engine == "postgresql" and harness.pg_database_comment(name) == marker:
        return DataSet(harness.pg_url(name), size, True, 0.0)
    if engine == "sqlite" and path.exists() and marker_file.exists() and marker_file.read_text().strip() == marker:
        return DataSet(f"sqlite:///{path}", size, True, 0.0)
    started = time.perf_counter()
    marker_file.unlink(missing_ok=True)
    url = harness.fresh_database(engine, name)
    log(f"inventory/{engine}: loading {size} through ingestion")
    db = harness.migrated(url)
    try:
        for kind, records in (("locations", plan.locations()), ("products", plan.products()), ("stock", plan.stock())):
            for offset in range(0, len(records), 1_000):
                result = ingest_records(db, kind, records[offset : offset + 1_000])
                refused = [o.errors for o in result.outcomes if o.status == "rejected"]
                if refused:
                    raise RuntimeError(f"demo {kind} refused: {refused[:3]}")
    finally:
        db.engine.dispose()
    if engine == "postgresql":
        harness.pg_set_comment(name, marker)
    else:
        marker_file.write_text(marker)
    seconds = time.perf_counter() - started
    log(f"inventory/{engine}: demo stock loaded in {seconds:.0f} s")
    return DataSet(url, size, False, seconds)


def restore(db: Database) -> None:
    """Put a data set back as built: no reservations, nothing reserved (a run stopped half-way may
    have left some, or a trivial baseline's increments)."""
    with db.write() as session:
        session.execute(text("DELETE FROM stock_reservation"))
        session.execute(text("UPDATE stock_level SET reserved = 0 WHERE reserved <> 0"))
