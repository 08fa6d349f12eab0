"""``python -m bench [--quick] [--only NAME] [--engines sqlite,postgresql]`` — what ``make bench`` runs."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console

from bench import harness, report
from bench.plan import FULL, QUICK, Plan
from bench.report import Figure

BENCHMARKS = ("ingest", "import", "read", "tasks", "inventory", "outreach")


def _runner(name: str) -> Callable[[str, Plan, harness.Log], list[Figure]]:
    if name == "ingest":
        from bench import ingest_api

        return ingest_api.run
    if name == "import":
        from bench import bulk_import

        return bulk_import.run
    if name == "tasks":
        from bench import tasks

        return tasks.run
    if name == "inventory":
        from bench import inventory

        return inventory.run
    if name == "outreach":
        from bench import outreach

        return outreach.run
    from bench import read_360

    return read_360.run


def _csv(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return items


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Run everything at about 1/20 of the full size.")
    parser.add_argument(
        "--only", type=lambda v: _csv(v, BENCHMARKS, "benchmark"), default=list(BENCHMARKS), metavar="NAME",
        help=f"Run only these benchmarks, comma-separated: {', '.join(BENCHMARKS)}.",
    )  # fmt: skip
    parser.add_argument(
        "--engines", type=lambda v: _csv(v, harness.ENGINES, "engine"), default=list(harness.ENGINES),
        help="Comma-separated: sqlite, postgresql (default: both).",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    console = Console()
    if not console.is_terminal:
        console = Console(width=180)
    log = harness.log_to_stderr
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    machine = report.machine()
    busy = os.getloadavg()[0]
    if busy > 0.75 * (os.cpu_count() or 1):
        console.print(
            f"[yellow]The machine is busy (load average {busy:.1f} on {os.cpu_count()} CPUs): absolute figures "
            "will be low; compare the ratios to the baselines measured in the same run.[/]"
        )
    engines = list(args.engines)
    skipped: list[str] = []
    if "postgresql" in engines:
        reason = harness.postgresql_unavailable()
        if reason:
            skipped.append(f"postgresql skipped: {reason}")
            engines.remove("postgresql")
            console.print(f"[yellow]{skipped[-1]}[/]")
        else:
            machine["postgresql"] = _pg_version()
    figures: list[Figure] = []
    failures: list[str] = []
    for name in args.only:
        for engine in engines:
            log(f"== {name} on {engine} ({plan.mode})")
            t0 = time.perf_counter()
            try:
                figures.extend(_runner(name)(engine, plan, log))
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                failures.append(f"{name} on {engine}: {exc.__class__.__name__}: {exc}")
                console.print(f"[red]{name} on {engine} failed[/]")
                traceback.print_exc()
            log(f"== {name} on {engine} took {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - started
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    meta = {
        "mode": plan.mode, "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": seconds,
        "benchmarks": args.only, "engines": engines, "skipped": skipped, "failures": failures,
        "machine": machine, "commit": report.commit(), "plan": plan.__dict__,
    }  # fmt: skip
    report.render(figures, console, f"Rapport benchmark ({plan.mode}, {seconds:.0f} s)")
    for line in skipped + failures:
        console.print(f"[yellow]{line}[/]")
    json_path, md_path = report.save(figures, meta)
    console.print(f"Results: {json_path.relative_to(harness.ROOT)} and {md_path.relative_to(harness.ROOT)}")
    return 1 if failures else 0


def _pg_version() -> str:
    from sqlalchemy import create_engine, text

    eng = create_engine(harness.PG_ADMIN_URL)
    try:
        with eng.connect() as conn:
            return "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        eng.dispose()


if __name__ == "__main__":
    sys.exit(main())
