"""Benchmark 2 — rows/s of the bulk import: a POS customers CSV, then a JSONL file of web and store signals.

Calls the importer's service function (:func:`rapport.ingest.importer.import_file`, what
``rapport import KIND FILE`` runs under its progress bar) on files written beforehand, against a
fresh database holding the stores, team and catalogue. The customers file has the same share of
records sharing an identifier as the API benchmark; the events refer to those clients by their
POS / web id or email. Baseline: the raw engine writing exactly the rows the import inserted.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import harness, records
from bench.harness import Log
from bench.plan import Plan
from bench.report import Baseline, Figure, Measure, Target
from rapport.db import Database
from rapport.ingest.importer import DEFAULT_BATCH, ImportOptions, ImportStats, import_file
from rapport.ingest.service import ingest_records

TARGET = Target(">= 20,000 rows/s", 20_000, higher_is_better=True)
PRODUCTS = 500
REFERENCE_TABLES = ("location", "associate", "product")
CSV_COLUMNS = (
    "source", "id", "first_name", "last_name", "email", "email_verified", "phone", "address_line1", "city",
    "postal_code", "country", "birth_date", "language", "tags", "size_tops", "size_shoes", "size_trousers",
    "consent_email", "consent_email_at", "consent_sms", "consent_sms_at", "home_store", "tier", "note",
    "external_id_pos",
)  # fmt: skip


def flat_row(rec: dict[str, Any]) -> dict[str, str]:
    """A customer record as one row of a POS export (see docs/importing.md for the column names)."""
    row = {c: "" for c in CSV_COLUMNS}
    row.update(source=rec["source"], id=rec["id"], first_name=rec.get("first_name", ""),
               last_name=rec.get("last_name", ""))  # fmt: skip
    emails = rec.get("emails") or []
    if emails:
        first = emails[0]
        row["email"] = first["address"] if isinstance(first, dict) else first
        if isinstance(first, dict) and first.get("verified"):
            row["email_verified"] = "yes"
    if rec.get("phones"):
        row["phone"] = rec["phones"][0]
    for address in rec.get("addresses", [])[:1]:
        row.update(address_line1=address.get("line1", ""), city=address.get("city", ""),
                   postal_code=address.get("postal_code", ""), country=address.get("country", ""))  # fmt: skip
    row["birth_date"] = rec.get("birth_date", "")
    row["language"] = rec.get("language", "")
    row["tags"] = "|".join(rec.get("tags", []))
    for key, value in rec.get("sizes", {}).items():
        row[f"size_{key}"] = value
    for consent in rec.get("consent", []):
        row[f"consent_{consent['channel']}"] = "yes" if consent["granted"] else "no"
        row[f"consent_{consent['channel']}_at"] = consent.get("recorded_at", "")
    row["home_store"] = rec.get("home_store", "")
    row["tier"] = rec.get("tier", "")
    row["note"] = (rec.get("notes") or [""])[0]
    for ext in rec.get("external_ids", []):
        if ext["source"] == "pos":
            row["external_id_pos"] = ext["id"]
    return row


def write_files(directory: Path, plan: Plan) -> tuple[Path, Path, records.Stream]:
    directory.mkdir(parents=True, exist_ok=True)
    specs = records.products(PRODUCTS)
    stream = records.customer_stream(plan.import_customers, seed=23)
    customers = directory / "customers.csv"
    with customers.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for rec in stream.records:
            writer.writerow(flat_row(rec))
    events = directory / "events.jsonl"
    with events.open("w", encoding="utf-8") as f:
        for rec in records.event_records(plan.import_events, stream, specs, seed=29):
            f.write(json.dumps(rec) + "\n")
    return customers, events, stream


class _TimeCap(Exception):
    pass


@dataclass
class Run:
    kind: str
    path: Path
    rows: int = 0
    seconds: float = 0.0
    stats: ImportStats | None = None
    stopped_early: bool = False
    rejects: list[str] = field(default_factory=list)


def timed_import(db: Database, kind: str, path: Path, cap: float, batch: int) -> Run:
    """Import ``path`` through the importer; stop after the batch that crosses ``cap`` seconds."""
    run = Run(kind, path)
    started = time.perf_counter()

    def progress(stats: ImportStats) -> None:
        run.stats = stats
        if stats.finished is None and time.perf_counter() - started > cap:
            raise _TimeCap

    options = ImportOptions(kind=kind, path=path, rejects=path.with_suffix(".rejects" + path.suffix))
    if batch:
        options = replace(options, batch_size=batch)
    try:
        run.stats = import_file(db, options, progress=progress)
    except _TimeCap:
        run.stopped_early = True
    run.seconds = time.perf_counter() - started
    run.rows = run.stats.rows if run.stats else 0
    run.rejects = first_rejects(options.rejects) if options.rejects else []
    return run


def first_rejects(path: Path, n: int = 3) -> list[str]:
    """The first few lines of the rejects file (line number and errors), for the report."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for _, line in zip(range(n + 1), f, strict=False)]
    return [line[-300:] for line in lines[1:]]


def seed_reference(db: Database) -> None:
    specs = records.products(PRODUCTS)
    for kind, recs in (
        ("locations", records.location_records()),
        ("associates", records.associate_records()),
        ("products", records.product_records(specs)),
    ):
        result = ingest_records(db, kind, recs, actor="bench")
        if result.rejected:
            raise RuntimeError(f"seeding {kind}: {result.rejected} rejected")


def run(engine: str, plan: Plan, log: Log = harness.log_to_stderr) -> list[Figure]:
    workdir = harness.VAR / f"import-{engine}"
    customers_file, events_file, stream = write_files(workdir, plan)
    log(f"import/{engine}: {plan.import_customers:,} customer rows ({stream.shared:,} sharing an identifier), "
        f"{plan.import_events:,} event rows")  # fmt: skip
    url = harness.fresh_database(engine, harness.db_name("import"))
    raw_url = harness.fresh_database(engine, harness.db_name("import_raw"))
    try:
        db = harness.migrated(url)
        seed_reference(db)
        marks = [harness.max_ids(db)]
        runs = []
        for kind, path in (("customers", customers_file), ("events", events_file)):
            runs.append(timed_import(db, kind, path, plan.phase_cap_seconds, plan.import_batch))
            marks.append(harness.max_ids(db))
            log(f"import/{engine}: {kind} {runs[-1].rows / runs[-1].seconds:,.0f} rows/s")
        db.engine.dispose()
        harness.migrated(raw_url).engine.dispose()
        harness.copy_reference(url, raw_url, REFERENCE_TABLES)
        raw: list[tuple[int, float]] = []
        for lo, hi in ((marks[0], marks[1]), (marks[1], marks[2])):
            dump = harness.dump_rows(url, lo, hi)
            raw.append((dump.rows, harness.write_rows(raw_url, dump)))
    finally:
        harness.drop_database(url)
        harness.drop_database(raw_url)
        shutil.rmtree(workdir, ignore_errors=True)

    how_raw = "COPY" if engine == "postgresql" else "executemany in one transaction"
    figures = []
    for r, (raw_rows, raw_seconds) in zip(runs, raw, strict=True):
        stats = r.stats
        notes = [f"{r.rows:,} rows from {r.path.name} in {r.seconds:.1f} s (importer's own figure "
                 f"{stats.rows_per_second if stats else 0:,.0f} rows/s); records "
                 + ", ".join(f"{k} {v:,}" for k, v in sorted((stats.records if stats else {}).items()))]  # fmt: skip
        if r.stopped_early:
            notes.append(f"stopped after {plan.phase_cap_seconds:.0f} s (time cap); rate is over the rows imported")
        if r.rejects:
            notes.append("first rejects: " + " | ".join(r.rejects))
        if not raw_rows:
            notes.append("the import inserted no rows, so there is no raw-engine rate to compare with")
        figures.append(Figure(
            bench="import", engine=engine, name=f"import {r.kind} ({r.path.suffix[1:].upper()})",
            size=f"{r.rows:,} rows, batches of {plan.import_batch or DEFAULT_BATCH:,}",
            measure=Measure(r.rows / r.seconds, "rows/s", {
                "rows": r.rows, "seconds": r.seconds, "rejected_rows": stats.rejected_rows if stats else 0}),
            baselines=[Baseline("raw engine", f"{how_raw} of the same {raw_rows:,} rows the import inserted "
                                f"({raw_rows / raw_seconds:,.0f} table rows/s)",
                                Measure(r.rows / raw_seconds if raw_rows else math.nan, "rows/s",
                                        {"rows": raw_rows, "seconds": raw_seconds}))],
            target=TARGET, notes=notes,
        ))  # fmt: skip
    return figures
