"""A set-based loader for the 360 read benchmark: 100,000 clients and 1,000,000 orders in minutes.

Going through the ingestion API would take hours at this size, so rows are generated directly —
shaped exactly as ingestion writes them — and written with ``COPY`` (PostgreSQL, through psycopg)
or ``executemany`` in large transactions (SQLite), after the Alembic migrations and before
``ANALYZE``. What "as ingestion writes them" means here:

* identifiers: ``(kind, namespace, value, search_key)`` as :mod:`rapport.identity.resolve` claims
  them — lower-case email (search key = the address), E.164 phone (search key = the reversed
  digits, :func:`rapport.identity.normalize.phone_search_key`), ``(source, id)`` external ids;
* name keys from :func:`rapport.identity.normalize.name_key`;
* timeline entries for orders, cancellations, returns, consent, signals and merges with the kinds,
  external ids, summaries and data that :mod:`rapport.ingest.commerce`, ``customers`` and
  ``signals`` and :mod:`rapport.identity.merge` write;
* a few clients merged away (status ``merged``, ``merged_into_id``, a merge record), so a sample
  of old ids exercises the redirect.

Orders are spread unevenly, as in a real client book: most clients have a handful, one in twenty
has 50 or more, a fifth have none, and 2% of orders are guests'.

The loaded database is kept between runs (PostgreSQL: a database named for the size, with the
generator version, sizes and schema revision in its comment; SQLite: a file under var/bench/
with a marker file beside it) and reloaded only when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import psycopg

from bench import harness, records
from bench.harness import Log
from rapport.db import Database, make_engine
from rapport.identity.normalize import name_key, phone_search_key
from rapport.migrate import alembic_config, upgrade
from rapport.models import Base
from rapport.money import format_money

#: Bump when the rows generated change, so cached databases are rebuilt.
GENERATOR_VERSION = 4
CHUNK = 1_000  # clients generated and written at a time
HEAVY_ORDERS = 50  # a "heavy" client has at least this many orders
#: Shipping charged on online orders, in minor units.
SHIPPING = {c: 10 * records.MINOR[c] * (100 if c == "JPY" else 1) for c in records.MINOR}
#: Rapport learns of an event a few minutes after it happens.
RECORDED_AFTER = timedelta(minutes=3)


@dataclass(frozen=True)
class ScaleSpec:
    customers: int
    orders: int
    products: int = 2_000
    seed: int = 2026

    def marker(self) -> str:
        return (
            f"rapport-bench-360 generator=v{GENERATOR_VERSION} customers={self.customers} orders={self.orders} "
            f"products={self.products} seed={self.seed} schema={schema_head()}"
        )

    @property
    def name(self) -> str:
        return harness.db_name(f"360_{self.customers}_{self.orders}")


@lru_cache(maxsize=1)
def schema_head() -> str:
    """The head revision and a digest of the migration files (a migration edited in place counts too)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    digest = hashlib.sha256()
    for path in sorted(Path(script.versions).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{script.get_current_head()}:{digest.hexdigest()[:12]}"


# -- writing ---------------------------------------------------------------------------------------


class Writer(Protocol):
    def ts(self, value: datetime) -> Any: ...
    def day(self, value: date | None) -> Any: ...
    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None: ...


class PgWriter:
    """``COPY table (columns) FROM STDIN`` through psycopg; values adapted by psycopg itself."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def ts(self, value: datetime) -> Any:
        return value

    def day(self, value: date | None) -> Any:
        return value

    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        with self.conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
            for row in rows:
                cp.write_row(row)


class SqliteWriter:
    """``executemany`` into SQLite; datetimes as SQLAlchemy stores them there (naive UTC text)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def ts(self, value: datetime) -> Any:
        # The generator's datetimes are all UTC already.
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, value: date | None) -> Any:
        return None if value is None else value.isoformat()

    def write(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        self.conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(columns))})', rows)


COLUMNS: dict[str, tuple[str, ...]] = {
    "location": ("id", "code", "name", "kind", "timezone", "currency", "city", "country", "created_at", "updated_at"),
    "associate": ("id", "code", "email", "display_name", "role", "home_location_id", "regions", "active",
                  "created_at"),
    "product": ("id", "sku", "style_code", "name", "brand", "category", "colour", "size", "price_minor", "currency",
                "image_url", "replenishment_days", "active", "created_at", "updated_at"),
    "customer": ("id", "first_name", "last_name", "first_name_key", "last_name_key", "birth_date", "language", "city",
                 "country", "home_location_id", "assigned_associate_id", "tier", "tags", "preferences", "sizes",
                 "status", "merged_into_id", "created_at", "updated_at"),
    "identifier": ("id", "customer_id", "kind", "namespace", "value", "search_key", "verified", "source",
                   "created_at"),
    "customer_address": ("id", "customer_id", "kind", "line1", "city", "postal_code", "country", "is_primary",
                         "source", "created_at"),
    "customer_consent": ("id", "customer_id", "channel", "granted", "source", "recorded_at"),
    "customer_milestone": ("id", "customer_id", "kind", "label", "month", "day", "year", "source"),
    "customer_note": ("id", "customer_id", "author_associate_id", "body", "source", "created_at"),
    "merge_record": ("id", "survivor_id", "loser_id", "reason", "actor", "moved", "field_choices", "created_at"),
    "sales_order": ("id", "source", "external_id", "order_number", "customer_id", "channel", "location_id",
                    "associate_id", "currency", "subtotal_minor", "discount_minor", "tax_minor", "shipping_minor",
                    "total_minor", "status", "placed_at", "created_at", "updated_at"),
    "order_line": ("id", "order_id", "line_ref", "product_id", "quantity", "unit_price_minor", "discount_minor",
                   "total_minor"),
    "sales_return": ("id", "source", "external_id", "order_id", "customer_id", "channel", "location_id", "currency",
                     "refund_minor", "reason", "unlinked", "original_order_ref", "returned_at", "created_at"),
    "return_line": ("id", "return_id", "order_line_id", "product_id", "quantity", "refund_minor"),
    "timeline_entry": ("id", "customer_id", "kind", "channel", "occurred_at", "recorded_at", "location_id",
                       "actor_kind", "actor_id", "product_id", "ref_type", "ref_id", "summary", "data", "source",
                       "external_id"),
    "wishlist_item": ("id", "customer_id", "product_id", "added_at", "source"),
}  # fmt: skip
#: The order tables are written in (parents first).
ORDER = tuple(t.name for t in Base.metadata.sorted_tables if t.name in COLUMNS)


def check_columns() -> None:
    """Every column the generator leaves out must be nullable or have a server default — else the
    schema moved on without it."""
    for name, cols in COLUMNS.items():
        table = Base.metadata.tables[name]
        unknown = set(cols) - set(table.c.keys())
        missing = [c.name for c in table.columns if c.name not in cols and not c.nullable and c.server_default is None]
        if unknown or missing:
            raise RuntimeError(f"bench.scale is out of date for {name}: unknown {unknown}, required {missing}")


# -- generating ------------------------------------------------------------------------------------


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _money(minor: int, currency: str) -> str:
    """What :func:`rapport.money.format_money` writes (en_US) for the bench's four currencies, without
    Babel's per-call cost; other currencies go through Babel."""
    symbol = _SYMBOLS.get(currency)
    if symbol is None or minor < 0:
        return format_money(minor, currency)
    if records.MINOR[currency] == 1:
        return f"{symbol}{minor:,}"
    return f"{symbol}{minor // 100:,}.{minor % 100:02d}"


def order_counts(rng: random.Random, customers: int, orders: int) -> list[int]:
    """Orders per client, summing to ``orders``: 5% heavy (50-150), 20% none, the rest exponential."""
    counts = [0] * customers
    heavy_share, none_share = 0.05, 0.20
    budget = orders
    kinds = [rng.random() for _ in range(customers)]
    heavy = [i for i, k in enumerate(kinds) if k < heavy_share]
    mean_heavy = 90
    # At small sizes heavy clients must not eat the whole budget.
    per_heavy = min(mean_heavy, max(HEAVY_ORDERS, budget // 3 // max(1, len(heavy))))
    for i in heavy:
        counts[i] = rng.randint(HEAVY_ORDERS, max(HEAVY_ORDERS, 2 * per_heavy - HEAVY_ORDERS))
    budget -= sum(counts)
    normal = [i for i, k in enumerate(kinds) if k >= heavy_share + none_share]
    if budget > 0 and normal:
        weights = [rng.expovariate(1.0) for _ in normal]
        scale = budget / sum(weights)
        for i, w in zip(normal, weights, strict=True):
            counts[i] = min(HEAVY_ORDERS - 1, int(w * scale))
        short = budget - sum(counts[i] for i in normal)
        j = 0
        while short > 0:  # hand out the rounding remainder one by one, round robin
            i = normal[j % len(normal)]
            if counts[i] < HEAVY_ORDERS - 1:
                counts[i] += 1
                short -= 1
            j += 1
            if j > 100 * len(normal):
                break
        if short > 0:  # the normal clients are full: give the rest to the heavy ones
            for j in range(short):
                counts[heavy[j % len(heavy)] if heavy else normal[j % len(normal)]] += 1
    elif budget < 0:  # tiny sizes: trim heavy clients, keeping them at the heavy floor where possible
        for i in sorted(heavy, key=lambda i: -counts[i]):
            take = min(-budget, counts[i] - 1)
            counts[i] -= take
            budget += take
            if budget == 0:
                break
    return counts


class Generator:
    """Rows for ``spec``, deterministic per seed, written through ``writer`` a chunk of clients at a time."""

    def __init__(self, spec: ScaleSpec, writer: Writer, *, anchor: datetime | None = None) -> None:
        self.spec = spec
        self.w = writer
        self.rng = random.Random(f"bench-scale:{spec.seed}")
        self.anchor = (anchor or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
        self.ids: dict[str, int] = {name: 0 for name in COLUMNS}
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        self.written: dict[str, int] = {name: 0 for name in COLUMNS}
        self.prices: dict[tuple[int, str], int] = {}

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def flush(self) -> None:
        for table in ORDER:
            rows = self.rows[table]
            if rows:
                self.w.write(table, COLUMNS[table], rows)
                self.written[table] += len(rows)
                rows.clear()

    # -- reference data ------------------------------------------------------------------------

    def reference(self) -> None:
        ts = self.w.ts
        created = ts(self.anchor - timedelta(days=4 * 365))
        self.location_ids: dict[str, int] = {}
        for s in records.STORES:
            lid = self.next_id("location")
            self.location_ids[s.code] = lid
            kind = "warehouse" if s.code.startswith("WH-") else "store"
            self.add("location", (lid, s.code, f"Maison Rapport {s.name}", kind, s.timezone, s.currency, s.city,
                                  s.country, created, created))  # fmt: skip
        self.associates_by_store: dict[int, list[int]] = {}
        for code, store in records.associate_codes():
            aid = self.next_id("associate")
            home = self.location_ids[store]
            self.associates_by_store.setdefault(home, []).append(aid)
            self.add("associate", (aid, code, f"{code.lower()}@maison-rapport.example", f"Associate {code}",
                                   "associate", home, "[]", True, created))  # fmt: skip
        self.products = records.products(self.spec.products, seed=self.spec.seed)
        self.product_ids: list[int] = []
        self.by_category: dict[str, list[int]] = {}
        self.product_by_id: dict[int, records.ProductSpec] = {}
        self.sku: dict[int, str] = {}
        for p in self.products:
            pid = self.next_id("product")
            self.product_ids.append(pid)
            self.product_by_id[pid] = p
            self.sku[pid] = p.sku
            self.by_category.setdefault(p.category, []).append(pid)
            self.add("product", (pid, p.sku, p.style_code, p.name, p.brand, p.category, p.colour, p.size,
                                 p.price_minor, "EUR", f"https://img.example/{p.sku}.jpg", p.replenishment_days,
                                 True, created, created))  # fmt: skip
        self.flush()

    # -- clients and their histories -----------------------------------------------------------

    def load(self, log: Log | None = None) -> dict[str, int]:
        check_columns()
        self.reference()
        spec = self.spec
        counts = order_counts(self.rng, spec.customers, spec.orders - round(spec.orders * 0.02))
        guests = spec.orders - sum(counts)
        started = time.perf_counter()
        chunks = math.ceil(spec.customers / CHUNK)
        for c in range(chunks):
            lo, hi = c * CHUNK, min(spec.customers, (c + 1) * CHUNK)
            share = guests // chunks + (1 if c < guests % chunks else 0)
            self.clients(lo, hi, counts[lo:hi], share)
            self.flush()
            if log and (c + 1) % max(1, chunks // 10) == 0:
                done = sum(self.written.values())
                log(f"  {hi:,}/{spec.customers:,} clients, {done:,} rows, {time.perf_counter() - started:.0f} s")
        return dict(self.written)

    def clients(self, lo: int, hi: int, counts: Sequence[int], guests: int) -> None:
        rng, ts = self.rng, self.w.ts
        anchor = self.anchor
        survivors: list[int] = []
        carried = 0  # orders of clients merged away, placed by the next client instead
        for offset, n_orders in enumerate(counts):
            n = lo + offset
            person = records.make_person(rng, n)
            cid = self.next_id("customer")
            since = anchor - timedelta(days=rng.randrange(30, 5 * 365))
            store = person.store
            home = self.location_ids[store.code]
            # One client in 200 is a duplicate a merge folded into an earlier client of the chunk (and
            # the eighth client always is, so even a toy data set has an old id to follow).
            if survivors and (rng.random() < 0.005 or n == 7):
                self.merged_away(cid, person, rng.choice(survivors), since)
                carried += n_orders
                continue
            n_orders, carried = n_orders + carried, 0
            survivors.append(cid)
            online_first = rng.random() < 0.55
            source = records.SOURCES_ONLINE if online_first else records.SOURCE_POS
            associate = rng.choice(self.associates_by_store[home]) if rng.random() < 0.3 else None
            favourites = rng.sample(sorted(self.by_category), 2)
            preferences = json.dumps({"categories": favourites}) if rng.random() < 0.5 else "{}"
            self.add("customer", (
                cid, person.first_name, person.last_name, name_key(person.first_name), name_key(person.last_name),
                self.w.day(person.birth_date), person.country.culture, person.city, person.country.code, home,
                associate, "gold" if rng.random() < 0.08 else None, json.dumps(person.tags), preferences,
                json.dumps(person.sizes), "active", None, ts(since), ts(since),
            ))  # fmt: skip
            created = ts(since)
            ext = self.identifiers(cid, person, source, created)
            self.add("customer_address", (self.next_id("customer_address"), cid, "home", person.street, person.city,
                                          person.postal_code, person.country.code, True, source, created))  # fmt: skip
            for channel, granted in (("email", person.consent_email), ("sms", person.consent_sms)):
                if channel == "sms" and rng.random() < 0.4:
                    continue
                at = since + timedelta(minutes=rng.randrange(0, 600))
                self.add("customer_consent", (self.next_id("customer_consent"), cid, channel, granted, source, ts(at)))
                verb = "granted" if granted else "withdrawn"
                self.timeline(cid, "consent", channel, at, None, "customer", None, None, None, None,
                              f"Consent to be contacted by {channel} {verb} ({source})",
                              json.dumps({"granted": granted}), source,
                              f"consent:{ext}:{channel}:{at.isoformat()}")  # fmt: skip
            if rng.random() < 0.15:
                month, day = rng.randint(1, 12), rng.randint(1, 28)
                self.add("customer_milestone", (self.next_id("customer_milestone"), cid, "anniversary", "", month, day,
                                                None, records.SOURCE_POS))  # fmt: skip
            if rng.random() < 0.05:
                self.add("customer_note", (self.next_id("customer_note"), cid, associate,
                                           "Prefers a call before visiting; likes to see new arrivals first.",
                                           records.SOURCE_POS, created))  # fmt: skip
            self.history(cid, person, n_orders, since, favourites)
        for _ in range(guests + carried):  # (a chunk's last client merged away: its orders become guests')
            self.order(None, None, self.anchor - timedelta(days=rng.randrange(1, 900)), [])

    def identifiers(self, cid: int, person: records.Person, source: str, created: Any) -> str:
        """Email, phone and the external ids of the systems that know the client; returns the first id."""
        rng = self.rng
        add, nid = self.add, self.next_id
        ext = f"{'shp' if source == records.SOURCES_ONLINE else 'pos'}-{person.n:07d}"
        add("identifier", (nid("identifier"), cid, "external", source, ext, ext, True, source, created))
        if rng.random() < 0.95:
            email = person.email
            add("identifier", (nid("identifier"), cid, "email", "", email, email, source == records.SOURCES_ONLINE,
                               source, created))  # fmt: skip
        if rng.random() < 0.7:
            add("identifier", (nid("identifier"), cid, "phone", "", person.phone, phone_search_key(person.phone),
                               False, source, created))  # fmt: skip
        if source == records.SOURCES_ONLINE and rng.random() < 0.4:
            other = f"pos-{person.n:07d}"
            add("identifier", (nid("identifier"), cid, "external", records.SOURCE_POS, other, other, True,
                               records.SOURCE_POS, created))  # fmt: skip
        if rng.random() < 0.1:
            loyalty = f"loy-{person.n:07d}"
            add("identifier", (nid("identifier"), cid, "external", records.SOURCE_LOYALTY, loyalty, loyalty, True,
                               records.SOURCE_LOYALTY, created))  # fmt: skip
        return ext

    def merged_away(self, cid: int, person: records.Person, survivor: int, since: datetime) -> None:
        """A till record folded into an earlier client: the loser row stays, pointing at the survivor."""
        ts = self.w.ts
        at = since + timedelta(days=1)
        self.add("customer", (
            cid, person.first_name, person.last_name, name_key(person.first_name), name_key(person.last_name),
            None, None, person.city, person.country.code, None, None, None, "[]", "{}", "{}", "merged", survivor,
            ts(since), ts(at),
        ))  # fmt: skip
        ext = f"pos-dup-{person.n:07d}"
        ident = self.next_id("identifier")
        self.add("identifier", (ident, survivor, "external", records.SOURCE_POS, ext, ext, True, records.SOURCE_POS,
                                ts(since)))  # fmt: skip
        merge_id = self.next_id("merge_record")
        reason = f"pos record shares email {person.email}"
        moved = json.dumps({"identifier.customer_id": [ident], "_earlier_merged": []})
        choices = json.dumps({"survivor_before": {}, "survivor_after": {}, "consent": []})
        self.add("merge_record", (merge_id, survivor, cid, reason, "system", moved, choices, ts(at)))
        name = f"{person.first_name} {person.last_name}"
        self.timeline(survivor, "merge", None, at, None, "system", None, None, "merge", merge_id,
                      f"Merged {name} (#{cid}) into this profile: {reason}",
                      json.dumps({"loser_id": cid, "actor": "system"}), "rapport", f"merge:{merge_id}")  # fmt: skip

    def history(self, cid: int, person: records.Person, n_orders: int, since: datetime, favourites: list[str]) -> None:
        rand = self.rng.random
        span = max(1, int((self.anchor - since).total_seconds() // 60))
        wished: set[int] = set()
        products = self.product_ids
        for _ in range(n_orders):
            placed = since + timedelta(minutes=int(rand() * span))
            channel, lines = self.order(cid, person, placed, favourites)
            roll = rand()
            if roll < 0.10:
                at = placed - timedelta(hours=1 + int(rand() * 71))
                self.signal(cid, "product_view", "online", at, None, lines[0][1], "web")
            elif roll < 0.15 and channel == "store":
                at = placed - timedelta(days=1 + int(rand() * 19))
                self.signal(cid, "try_on", "store", at, self.location_ids[person.store.code], lines[0][1], "pos")
            elif roll < 0.18:
                pid = products[int(rand() * len(products))]
                at = placed - timedelta(days=1 + int(rand() * 29))
                self.signal(cid, "wishlist_add", "online", at, None, pid, "web")
                if pid not in wished:
                    wished.add(pid)
                    self.add("wishlist_item", (self.next_id("wishlist_item"), cid, pid, self.w.ts(at), "web"))
            elif roll < 0.20:
                at = placed - timedelta(days=1 + int(rand() * 29))
                self.signal(cid, "social_like", "social", at, None, None, "instagram")

    def _price(self, pid: int, currency: str) -> int:
        key = (pid, currency)
        price = self.prices.get(key)
        if price is None:
            price = self.prices[key] = records.price_in(self.product_by_id[pid].price_minor, currency)
        return price

    def order(
        self, cid: int | None, person: records.Person | None, placed: datetime, favourites: list[str]
    ) -> tuple[str, list[tuple[int, int, int, int]]]:
        """One order with its lines, its timeline entries and, sometimes, a return."""
        rand, ts, ids = self.rng.random, self.w.ts, self.ids
        roll = rand()
        channel = "online" if roll < 0.45 else "store" if roll < 0.93 else "app" if roll < 0.98 else "phone"
        store = person.store if person else records.STORES[int(rand() * (len(records.STORES) - 1))]
        in_store = channel in ("store", "phone")
        location = self.location_ids[store.code] if in_store else None
        currency = store.currency if in_store or person is None else person.country.currency
        associate = None
        if location and rand() < 0.6:
            team = self.associates_by_store[location]
            associate = team[int(rand() * len(team))]
        source = records.SOURCE_POS if in_store else records.SOURCES_ONLINE
        ids["sales_order"] += 1
        order_id = ids["sales_order"]
        ext = f"{'S' if in_store else 'W'}{order_id:08d}"
        lines: list[tuple[int, int, int, int]] = []  # (line id, product id, quantity, total)
        skus = []
        line_rows = self.rows["order_line"]
        n_lines = 1 if rand() < 0.6 else 2 if rand() < 0.75 else 3
        for n_line in range(n_lines):
            if favourites and rand() < 0.6:
                pool = self.by_category[favourites[int(rand() * len(favourites))]]
            else:
                pool = self.product_ids
            pid = pool[int(rand() * len(pool))]
            qty = 1 if rand() < 0.8 else 2
            unit = self._price(pid, currency)
            discount = unit * qty // 10 if rand() < 0.1 else 0
            total = unit * qty - discount
            ids["order_line"] += 1
            line_id = ids["order_line"]
            line_rows.append((line_id, order_id, str(n_line + 1), pid, qty, unit, discount, total))
            lines.append((line_id, pid, qty, total))
            skus.append(self.sku[pid])
        subtotal = sum(x[3] for x in lines)
        shipping = SHIPPING[currency] if channel == "online" else 0
        total = subtotal + shipping
        cancelled = rand() < 0.02
        at = ts(placed)
        number = f"#{100000 + order_id}"
        self.rows["sales_order"].append((order_id, source, ext, number, cid, channel, location, associate, currency,
                                         subtotal, 0, 0, shipping, total, "cancelled" if cancelled else "placed", at,
                                         at, at))  # fmt: skip
        if cid is None:
            return channel, lines
        units = sum(x[2] for x in lines)
        where = "online" if channel == "online" else "in store" if channel == "store" else f"in {channel}"
        sku_list = '", "'.join(skus)  # SKUs are plain [A-Z0-9-]: no JSON escaping needed
        self.timeline(
            cid, "order", channel, placed, location, "associate" if associate else "customer", associate, None,
            "order", order_id, f"Bought {units} item{'s' if units != 1 else ''} {where} — {_money(total, currency)}",
            f'{{"order_number": "{number}", "skus": ["{sku_list}"], "total_minor": {total}, "currency": "{currency}"}}',
            source, f"order:{ext}",
        )  # fmt: skip
        if cancelled:
            self.timeline(cid, "order_cancelled", channel, placed + timedelta(hours=2), None, "system", None, None,
                          "order", order_id, f"Order {number} cancelled", "{}", source,
                          f"order-cancelled:{ext}")  # fmt: skip
        elif person is not None and rand() < 0.05:
            self.give_back(cid, person, order_id, ext, channel, currency, placed, lines[0], skus[0])
        return channel, lines

    def give_back(self, cid: int, person: records.Person, order_id: int, order_ext: str, bought: str, currency: str,
                  placed: datetime, line: tuple[int, int, int, int], sku: str) -> None:  # fmt: skip
        """A return of the order's first line, in a store or by post (often not where it was bought)."""
        rng, ts = self.rng, self.w.ts
        line_id, pid, qty, refund = line
        channel = "store" if rng.random() < 0.6 else "online"
        location = self.location_ids[person.store.code] if channel == "store" else None
        source = records.SOURCE_POS if channel == "store" else records.SOURCES_ONLINE
        returned = min(self.anchor, placed + timedelta(days=rng.randrange(3, 40)))
        rid = self.next_id("sales_return")
        ext = f"R{rid:08d}"
        reason = rng.choice(("too small", "too large", "changed mind", "colour not as pictured", None))
        self.add("sales_return", (rid, source, ext, order_id, cid, channel, location, currency, refund, reason, False,
                                  order_ext, ts(returned), ts(returned)))  # fmt: skip
        self.add("return_line", (self.next_id("return_line"), rid, line_id, pid, qty, refund))
        self.timeline(
            cid, "return", channel, returned, location, "system", None, None, "return", rid,
            f"Returned {qty} item{'s' if qty != 1 else ''} (bought {bought}) — refund {_money(refund, currency)}",
            json.dumps({"skus": [sku], "order_channel": bought, "unlinked": False, "reason": reason}), source,
            f"return:{ext}",
        )  # fmt: skip

    _VERBS = {"product_view": "Viewed", "try_on": "Tried on", "wishlist_add": "Added to wishlist",
              "social_like": "Liked"}  # fmt: skip

    def signal(self, cid: int, kind: str, channel: str, at: datetime, location: int | None, pid: int | None,
               source: str) -> None:  # fmt: skip
        what = self.product_by_id[pid].name if pid else "a post about the new collection"
        entry = self.ids["timeline_entry"] + 1
        self.timeline(cid, kind, channel, at, location, "customer", None, pid, None, None,
                      f"{self._VERBS[kind]} {what}", "{}", source, f"ev-{entry:09d}")  # fmt: skip

    def timeline(
        self, cid: int, kind: str, channel: str | None, at: datetime, location: int | None, actor_kind: str,
        actor_id: int | None, product_id: int | None, ref_type: str | None, ref_id: int | None, summary: str,
        data: str, source: str, external_id: str,
    ) -> None:  # fmt: skip
        ts = self.w.ts
        self.ids["timeline_entry"] += 1
        self.rows["timeline_entry"].append((self.ids["timeline_entry"], cid, kind, channel, ts(at),
                                            ts(at + RECORDED_AFTER), location, actor_kind, actor_id, product_id,
                                            ref_type, ref_id, summary[:500], data, source, external_id))  # fmt: skip


# -- loading and caching ---------------------------------------------------------------------------


@dataclass
class Loaded:
    url: str
    spec: ScaleSpec
    cached: bool
    seconds: float
    rows: dict[str, int]


def _sqlite_paths(spec: ScaleSpec) -> tuple[Path, Path]:
    path = harness.VAR / f"{spec.name}.db"
    return path, path.with_suffix(".marker")


def cached(engine: str, spec: ScaleSpec) -> str | None:
    """The URL of an already loaded data set for ``spec``, or None."""
    if engine == "postgresql":
        comment = harness.pg_database_comment(spec.name)
        return harness.pg_url(spec.name) if comment == spec.marker() else None
    path, marker = _sqlite_paths(spec)
    if path.exists() and marker.exists() and marker.read_text().strip() == spec.marker():
        return f"sqlite:///{path}"
    return None


def ensure(engine: str, spec: ScaleSpec, log: Log = harness.log_to_stderr, *, cache: bool = True) -> Loaded:
    """The data set for ``spec`` on ``engine``: reused when cached, else generated, loaded and analysed."""
    if cache:
        url = cached(engine, spec)
        if url is not None:
            return Loaded(url, spec, True, 0.0, {})
    started = time.perf_counter()
    if engine == "postgresql":
        url = harness.fresh_database("postgresql", spec.name)
    else:
        _sqlite_paths(spec)[1].unlink(missing_ok=True)
        url = harness.fresh_database("sqlite", spec.name)
    log(f"loading {spec.customers:,} clients and {spec.orders:,} orders into {engine} ({spec.name})")
    rows = load(url, spec, log)
    if engine == "postgresql":
        harness.pg_set_comment(spec.name, spec.marker())
    else:
        _sqlite_paths(spec)[1].write_text(spec.marker())
    seconds = time.perf_counter() - started
    log(f"loaded {sum(rows.values()):,} rows in {seconds:.0f} s")
    return Loaded(url, spec, False, seconds, rows)


def load(url: str, spec: ScaleSpec, log: Log | None = None, *, anchor: datetime | None = None) -> dict[str, int]:
    """Migrate the empty database at ``url`` and fill it for ``spec``; returns rows written per table."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    if url.startswith("sqlite"):
        return _load_sqlite(harness.sqlite_path(url), spec, log, anchor)
    return _load_postgresql(url, spec, log, anchor)


def _load_postgresql(url: str, spec: ScaleSpec, log: Log | None, anchor: datetime | None) -> dict[str, int]:
    with psycopg.connect(harness.libpq_dsn(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        try:  # rows are consistent by construction: skip the per-row foreign-key triggers while loading
            conn.execute("SET session_replication_role = replica")
        except psycopg.Error:
            conn.rollback()
        # Secondary indexes and unique constraints are built once at the end, far faster than row by row.
        secondary = _pg_secondary(conn)
        for drop, _ in secondary:
            conn.execute(drop)
        rows = Generator(spec, PgWriter(conn), anchor=anchor).load(log)
        if log:
            log(f"  building {len(secondary)} indexes")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, create in secondary:
            conn.execute(create)
        sync_sequences(conn, rows)
        conn.commit()
    if log:
        log("  VACUUM ANALYZE")
    with psycopg.connect(harness.libpq_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return rows


def sync_sequences(conn: Any, rows: dict[str, int]) -> None:
    """PostgreSQL: move each id sequence past the explicit ids written, so ingestion can follow on."""
    for table, n in rows.items():
        if n:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")


def fill(db: Database, spec: ScaleSpec, *, anchor: datetime | None = None) -> dict[str, int]:
    """Generate ``spec`` into an already migrated database through its own connection, with every
    constraint and index in place (slower than :func:`load`; for tests and small data sets)."""
    with db.engine.connect() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        writer: Writer = PgWriter(dbapi) if db.dialect == "postgresql" else SqliteWriter(dbapi)
        rows = Generator(spec, writer, anchor=anchor).load()
        if db.dialect == "postgresql":
            sync_sequences(dbapi, rows)
            dbapi.commit()
    return rows


def _pg_secondary(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(drop, create) statements for the unique constraints and non-key indexes of the generated tables."""
    out: list[tuple[str, str]] = []
    for table, name, definition in conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'u' AND connamespace = 'public'::regnamespace ORDER BY conname"
    ):
        if table in COLUMNS:
            out.append((f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"',
                        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))  # fmt: skip
    for table, name, definition in conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = 'public'::regnamespace) "
        "ORDER BY indexname"
    ):
        if table in COLUMNS:
            out.append((f'DROP INDEX "{name}"', definition))
    return out


def _load_sqlite(path: Path, spec: ScaleSpec, log: Log | None, anchor: datetime | None) -> dict[str, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-1000000",
                       "temp_store=MEMORY"):  # fmt: skip
            conn.execute(f"PRAGMA {pragma}")
        # Named indexes are built once at the end (unique constraints inside CREATE TABLE stay).
        marks = ", ".join("?" * len(COLUMNS))
        indexes = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            tuple(COLUMNS),
        ).fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        rows = Generator(spec, SqliteWriter(conn), anchor=anchor).load(log)
        if log:
            log(f"  building {len(indexes)} indexes")
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        if log:
            log("  ANALYZE")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return rows
