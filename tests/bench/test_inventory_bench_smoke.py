"""The inventory benchmark keeps working: its whole code path at toy size, on PostgreSQL.

PostgreSQL is where the benchmark has most of its own code (the network written with COPY, the
connection slots, the look-up at scale); SQLite runs the same functions on the demo-sized set.
Nothing here asserts a duration.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bench import harness, inventory, inventory_data, plan
from rapport.db import Database, make_engine
from rapport.inventory.availability import size_key
from tests.bench.test_bench_smoke import engine, quiet

__all__ = ["engine"]  # the fixture, shared with the other benchmarks' smoke tests

TOY = plan.TOY


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_inventory_benchmark_sells_exactly_the_last_units_and_gives_everything_back(engine: str) -> None:
    spec = inventory_data.NetworkSpec.of(TOY)
    try:
        exact, attempts, rate, at_scale, demo = inventory.run(engine, TOY, quiet)
        db = Database(make_engine(harness.pg_url(spec.name)))
        try:
            with db.read() as session:
                left = session.execute(
                    text("SELECT (SELECT count(*) FROM stock_reservation), (SELECT sum(reserved) FROM stock_level)")
                ).one()
        finally:
            db.engine.dispose()
    finally:
        harness.drop_database(harness.pg_url(spec.name))
        harness.drop_database(harness.pg_url(inventory_data.demo_name(TOY.inventory_demo_catalogue)))

    d = exact.measure.detail
    assert exact.met and d["oversold"] == 0 and d["min_sold"] == d["max_sold"] == TOY.inventory_hot_units
    assert d["errors"] == 0, exact.notes
    for figure in (attempts, rate, at_scale, demo):
        assert figure.measure.value > 0
        assert [b.name for b in figure.baselines] == ["raw engine"] and figure.baselines[0].measure.value > 0
    assert rate.measure.detail["threads"] == TOY.inventory_threads[0]
    assert at_scale.measure.detail["n"] == demo.measure.detail["n"] == TOY.inventory_lookups
    assert at_scale.measure.detail["stock_rows_per_style"] == TOY.inventory_sizes * TOY.inventory_locations
    assert tuple(left) == (0, 0)  # the cached set is left as built


def test_the_network_has_a_stock_row_for_every_sku_everywhere_and_sizes_in_shelf_order() -> None:
    spec = inventory_data.NetworkSpec(styles=3, sizes=8, locations=25)
    at = datetime(2026, 11, 30, tzinfo=UTC)
    rng = random.Random(1)
    places = inventory_data._locations(spec, rng, at)
    products = inventory_data._products(spec, rng, at)
    rows = [line.split("\t") for chunk in inventory_data._stock_chunks(spec, rng, at) for line in chunk.splitlines()]

    assert [p[3] for p in places].count("warehouse") == spec.warehouses == 1
    assert len(products) == spec.skus and len({p[1] for p in products}) == spec.skus
    assert len(rows) == spec.skus * spec.locations
    assert len({(r[1], r[2]) for r in rows}) == len(rows) and [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    sizes = [p[7] for p in products if p[2] == "ST-00001"]
    assert sizes == sorted(sizes, key=size_key)
