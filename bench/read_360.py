"""Benchmark 3 — latency of ``GET /api/v1/customers/{id}/360`` and of search, at a stated data size.

The data set comes from :mod:`bench.scale` (cached between runs). A real ``uvicorn`` process
serves it; one client sends one request at a time, after a warm-up, to about a thousand clients
drawn at random — a quarter of them heavy (50+ orders), a few merged-away ids — and the same
client then asks a trivial endpoint for the same paths: the HTTP floor. Search is measured with
names typed with a typo, emails as far as just past the @ and phone endings of real clients in the data.

For "where the time goes", the same sample is also read in-process with
:func:`rapport.customers.read.client_360` alone, and with the response model's validation and
JSON encoding added, without HTTP.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import text

from bench import harness, scale
from bench.harness import Log, latency_summary
from bench.plan import Plan
from bench.report import Baseline, Figure, Measure, Target
from rapport.db import Database, make_engine

TARGET = Target("p99 < 50 ms", 50.0, higher_is_better=False)
PAGE_TARGET = Target("p99 < 100 ms", 100.0, higher_is_better=False)
WEIGHT_TARGET = Target("< 150 KB", 150.0, higher_is_better=False)
BENCH_USER = "bench.admin@rapport.example"
BENCH_PASSWORD = "bench-password-2026"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_ASSETS = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"?]+)')
HEAVY_SHARE = 0.25
MERGED_SHARE = 0.01


@dataclass
class Sample:
    ids: list[int]
    heavy: set[int]
    merged: set[int]


def choose_sample(db: Database, n: int, rng: random.Random) -> Sample:
    """``n`` client ids: a quarter heavy (50+ orders), 1% merged-away ids, the rest any active client."""
    with db.engine.connect() as conn:
        active = [r[0] for r in conn.execute(text("SELECT id FROM customer WHERE status = 'active' ORDER BY id"))]
        merged = [r[0] for r in conn.execute(text("SELECT id FROM customer WHERE status = 'merged' ORDER BY id"))]
        heavy = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT customer_id FROM sales_order WHERE customer_id IS NOT NULL "
                    "GROUP BY customer_id HAVING count(*) >= :n ORDER BY customer_id"
                ),
                {"n": scale.HEAVY_ORDERS},
            )
        ]
    n_heavy = min(len(heavy), round(n * HEAVY_SHARE))
    n_merged = min(len(merged), max(1 if merged else 0, round(n * MERGED_SHARE)))
    ids = rng.sample(heavy, n_heavy) + rng.sample(merged, n_merged)
    ids += [rng.choice(active) for _ in range(n - len(ids))]
    rng.shuffle(ids)
    return Sample(ids, set(heavy), set(merged))


# -- search queries --------------------------------------------------------------------------------


def typo(word: str, rng: random.Random) -> str:
    """One slip of the finger: a swapped pair, a missing, doubled or wrong letter (never the first)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    wrong = "aeiou" if word[i].lower() not in "aeiou" else "rstln"
    return word[:i] + rng.choice(wrong) + word[i + 1 :]


@dataclass
class Query:
    q: str
    kind: str  # name | email | phone
    expected: int


def search_queries(db: Database, n: int, rng: random.Random) -> list[Query]:
    """Realistic look-ups of real clients: 60% names with a typo, 20% emails being typed, 20% phone endings."""
    with db.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM customer WHERE status = 'active' ORDER BY id"))]
        picked = sorted(rng.sample(ids, min(len(ids), n * 2)))
        people: dict[int, dict[str, Any]] = {}
        for i in range(0, len(picked), 500):
            chunk = picked[i : i + 500]
            marks = ", ".join(str(c) for c in chunk)
            for cid, first, last in conn.execute(
                text(f"SELECT id, first_name, last_name FROM customer WHERE id IN ({marks})")
            ):
                people[cid] = {"first": first, "last": last}
            for cid, kind, value in conn.execute(
                text(
                    f"SELECT customer_id, kind, value FROM identifier WHERE customer_id IN ({marks}) "
                    "AND kind IN ('email', 'phone') ORDER BY id"
                )
            ):
                people[cid].setdefault(kind, value)
    queries: list[Query] = []
    pool = sorted(people)
    rng.shuffle(pool)
    for cid in pool:
        if len(queries) >= n:
            break
        p = people[cid]
        roll = rng.random()
        if roll < 0.2 and "email" in p:
            # What an associate types while the client spells it out: the address up to a few letters
            # past the @ ("jonh.smith12@exa").
            local, _, domain = p["email"].partition("@")
            queries.append(Query(f"{local}@{domain[: rng.randrange(2, 5)]}", "email", cid))
        elif roll < 0.4 and "phone" in p:
            digits = p["phone"][-7:]
            queries.append(Query(f"{digits[:3]} {digits[3:]}", "phone", cid))
        elif p["first"] and p["last"]:
            first, last = p["first"], p["last"]
            if rng.random() < 0.5:
                first = typo(first, rng)
            else:
                last = typo(last, rng)
            queries.append(Query(f"{first} {last}", "name", cid))
    return queries


# -- measuring ---------------------------------------------------------------------------------------


def search_path(q: str) -> str:
    return f"/api/v1/customers?q={quote(q)}"


def timed_gets(http: Any, paths: list[str], check: Callable[[Any], None] | None = None) -> tuple[list[float], int]:
    """GET each path in turn; returns the latencies (s) and the total bytes received."""
    latencies: list[float] = []
    size = 0
    for path in paths:
        started = time.perf_counter()
        response = http.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        latencies.append(elapsed)
        size += len(response.content)
        if check is not None:
            check(response)
    return latencies, size


def signed_in(server: Any, url: str) -> Any:
    """A browser-like client signed in as a head-office user (who may view every client)."""
    import httpx

    from rapport.associates import users
    from rapport.errors import Conflict, InvalidRecord

    db = Database(make_engine(url))
    try:
        with db.write() as session:
            try:
                users.add_user(session, BENCH_USER, "Bench Admin", "admin", BENCH_PASSWORD)
            except (Conflict, InvalidRecord):  # a cached data set has it from an earlier run
                users.set_password(session, BENCH_USER, BENCH_PASSWORD)
    finally:
        db.engine.dispose()
    http = httpx.Client(base_url=server.base_url, timeout=120, follow_redirects=False)
    form = http.get("/login")
    found = _CSRF_FIELD.search(form.text)
    if not found:
        raise RuntimeError(f"no sign-in form at /login: {form.status_code}")
    data = {"email": BENCH_USER, "password": BENCH_PASSWORD, "csrf_token": found.group(1), "next": "/"}
    answer = http.post("/login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in refused: {answer.status_code} {answer.text[:300]}")
    return http


def page_weight(http: Any, html: str) -> tuple[int, int]:
    """Bytes of the page's own CSS and JS (each file once), and how many files."""
    assets = sorted(set(_ASSETS.findall(html)))
    return sum(len(http.get(a).content) for a in assets), len(assets)


def in_process(db: Database, ids: list[int]) -> tuple[list[float], list[float]]:
    """client_360 alone, then with the API's response model validation and JSON encoding."""
    from rapport.customers import read, schemas

    bare, full = [], []
    for cid in ids:
        with db.read() as session:
            started = time.perf_counter()
            result = read.client_360(session, cid)
            bare.append(time.perf_counter() - started)
            schemas.Client360.model_validate(result).model_dump_json()
            full.append(time.perf_counter() - started)
    return bare, full


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    customers, orders = plan.read_size(engine)
    spec = scale.ScaleSpec(customers, orders, products=2_000 if customers >= 50_000 else 500)
    loaded = scale.ensure(engine, spec, log)
    size = f"{customers:,} clients, {orders:,} orders"
    rng = random.Random(f"bench-read:{spec.seed}")
    db = Database(make_engine(loaded.url))
    try:
        sample = choose_sample(db, plan.read_samples, rng)
        warm = choose_sample(db, plan.warmup, random.Random("bench-read-warmup")).ids
        queries = search_queries(db, plan.search_samples, rng)
        warm_queries = search_queries(db, max(3, plan.warmup // 5), random.Random("bench-search-warmup"))
        token = harness.create_token(loaded.url)
        paths = [f"/api/v1/customers/{cid}/360" for cid in sample.ids]
        found = {"hits": 0, "name": 0, "email": 0, "phone": 0}

        def check_hit(query: Query) -> Callable[[Any], None]:
            def check(response: Any) -> None:
                if any(r.get("id") == query.expected for r in response.json().get("results", [])):
                    found["hits"] += 1
                    found[query.kind] += 1

            return check

        rapport = harness.Server(
            "rapport.app:create_app", factory=True, env=harness.rapport_env(loaded.url), name=f"rapport-read-{engine}"
        )
        with rapport as server, harness.client(server, token) as http:
            cold_started = time.perf_counter()
            timed_gets(http, [search_path(warm_queries[0].q)])
            cold_search = time.perf_counter() - cold_started
            timed_gets(http, [f"/api/v1/customers/{cid}/360" for cid in warm])
            timed_gets(http, [search_path(q.q) for q in warm_queries])
            log(f"read/{engine}: {len(paths):,} 360 reads")
            lat, body_bytes = timed_gets(http, paths)
            log(f"read/{engine}: {len(queries):,} searches")
            search_lat: list[float] = []
            for query in queries:
                search_lat += timed_gets(http, [search_path(query.q)], check_hit(query))[0]
            log(f"read/{engine}: the associate app's profile page and search as you type")
            browser = signed_in(server, loaded.url)
            try:
                live = [cid for cid in sample.ids if cid not in sample.merged]
                page_paths = [f"/clients/{cid}" for cid in live]
                timed_gets(browser, [f"/clients/{cid}" for cid in warm if cid not in sample.merged])
                page_lat, page_bytes = timed_gets(browser, page_paths)
                heaviest = max(live, key=lambda cid: cid in sample.heavy)
                html = browser.get(f"/clients/{heaviest}").text
                biggest_html = max(len(browser.get(p).content) for p in page_paths[:200])
                asset_bytes, asset_files = page_weight(browser, html)
                browser.headers["HX-Request"] = "true"  # what the search box's HTMX sends
                fragment_lat, _ = timed_gets(browser, [f"/search/results?q={quote(q.q)}" for q in queries])
            finally:
                browser.close()
        with harness.Server("bench.trivial_app:app", name=f"trivial-read-{engine}") as server, \
                harness.client(server, token) as http:  # fmt: skip
            timed_gets(http, [f"/api/v1/customers/{cid}/360" for cid in warm])
            trivial_lat, _ = timed_gets(http, paths)
            trivial_search, _ = timed_gets(http, [search_path(q.q) for q in queries])
        log(f"read/{engine}: the same sample in-process")
        bare, full = in_process(db, sample.ids)
    finally:
        db.engine.dispose()

    summary = latency_summary(lat)
    heavy_lat = [s for s, cid in zip(lat, sample.ids, strict=True) if cid in sample.heavy]
    heavy = latency_summary(heavy_lat)
    bare_s, full_s = latency_summary(bare), latency_summary(full)
    kinds = {k: sum(1 for q in queries if q.kind == k) for k in ("name", "email", "phone")}
    by_kind = {
        k: latency_summary([s for s, q in zip(search_lat, queries, strict=True) if q.kind == k])["p99"]
        for k in kinds
        if kinds[k]
    }
    load_note = (
        f"data set cached ({loaded.spec.name})"
        if loaded.cached
        else f"data set generated and loaded in {loaded.seconds:.0f} s ({sum(loaded.rows.values()):,} rows)"
    )
    figure_360 = Figure(
        bench="read", engine=engine, name="GET /customers/{id}/360 (p50 / p95 / p99)", size=size,
        measure=Measure(summary["p99"], "ms", summary),
        baselines=[Baseline("trivial endpoint", "FastAPI route answering the same paths with a few bytes, same client",
                            Measure(latency_summary(trivial_lat)["p99"], "ms", latency_summary(trivial_lat)))],
        target=TARGET,
        notes=[
            f"{len(lat):,} sequential requests after {len(warm)} warm-up ones: {len(heavy_lat)} to clients with "
            f"{scale.HEAVY_ORDERS}+ orders (their p99 {heavy['p99']:.1f} ms, max {heavy['max']:.1f} ms), "
            f"{sum(1 for c in sample.ids if c in sample.merged)} merged-away ids; mean response "
            f"{body_bytes / max(1, len(lat)) / 1024:.0f} KiB; overall max {summary['max']:.1f} ms",
            f"in-process, same sample: client_360() p50 {bare_s['p50']:.1f} / p99 {bare_s['p99']:.1f} ms; with "
            f"Client360 validation + JSON p50 {full_s['p50']:.1f} / p99 {full_s['p99']:.1f} ms",
            load_note,
        ],
    )  # fmt: skip
    s_summary = latency_summary(search_lat)
    figure_search = Figure(
        bench="read", engine=engine, name="GET /customers?q= search (p50 / p95 / p99)", size=size,
        measure=Measure(s_summary["p99"], "ms", {**s_summary, "found": found["hits"]}),
        baselines=[Baseline("trivial endpoint", "FastAPI route answering the same queries with an empty list",
                            Measure(latency_summary(trivial_search)["p99"], "ms", latency_summary(trivial_search)))],
        target=TARGET,
        notes=[
            f"{len(queries)} queries: {kinds['name']} names with one typo, {kinds['email']} emails typed to just "
            f"past the @, {kinds['phone']} phone endings; the client sought was among the results for "
            f"{found['hits']}/{len(queries)} (names {found['name']}/{kinds['name']}, emails "
            f"{found['email']}/{kinds['email']}, phones {found['phone']}/{kinds['phone']}, in the default 20 "
            "results; a common name has a few dozen namesakes at this size); p99 by kind "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in by_kind.items())
            + f"; first search (vocabulary build) {cold_search * 1000:.0f} ms, not counted",
        ],
    )  # fmt: skip
    p_summary = latency_summary(page_lat)
    figure_page = Figure(
        bench="read", engine=engine, name="profile page /clients/{id} (p50 / p95 / p99)", size=size,
        measure=Measure(p_summary["p99"], "ms", p_summary),
        baselines=[Baseline("trivial endpoint", "FastAPI route answering the 360 paths with a few bytes, same client",
                            Measure(latency_summary(trivial_lat)["p99"], "ms", latency_summary(trivial_lat)))],
        target=PAGE_TARGET,
        notes=[f"{len(page_lat):,} sequential page loads by a signed-in head-office user (each audited), same "
               f"sample as the 360 minus merged ids; mean page {page_bytes / max(1, len(page_lat)) / 1024:.0f} KiB"],
    )  # fmt: skip
    weight = (biggest_html + asset_bytes) / 1024
    figure_weight = Figure(
        bench="read", engine=engine, name="profile page weight (HTML + CSS + JS)", size=size,
        measure=Measure(weight, "KB", {"html": biggest_html, "assets": asset_bytes, "files": asset_files}),
        baselines=[], target=WEIGHT_TARGET,
        notes=[f"largest HTML of 200 profiles {biggest_html / 1024:.0f} KiB + {asset_files} CSS/JS files "
               f"{asset_bytes / 1024:.0f} KiB, uncompressed (served once, then cached)"],
    )  # fmt: skip
    f_summary = latency_summary(fragment_lat)
    figure_fragment = Figure(
        bench="read", engine=engine, name="search as you type /search/results (p50 / p95 / p99)", size=size,
        measure=Measure(f_summary["p99"], "ms", f_summary),
        baselines=[Baseline("trivial endpoint", "FastAPI route answering the same queries with an empty list",
                            Measure(latency_summary(trivial_search)["p99"], "ms", latency_summary(trivial_search)))],
        target=TARGET,
        notes=[f"the same {len(queries)} queries as the API search, as the HTML fragment the search box swaps in"],
    )  # fmt: skip
    return [figure_360, figure_search, figure_page, figure_weight, figure_fragment]
