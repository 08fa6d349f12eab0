"""``rapport demo``: load Maison Rapport, the demo retailer, with a progress bar per phase."""

from __future__ import annotations

import statistics
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from rapport.db import get_database
from rapport.demo.generator import DEFAULT_CUSTOMERS, DEFAULT_SEED, DemoReport, has_customers, load_demo
from rapport.settings import get_settings


class RichProgress:
    """One bar per loading phase, with the number of records sent so far."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.records: dict[str, int] = {}

    def start(self, key: str, label: str, total: int) -> None:
        self.records[key] = 0
        self.tasks[key] = self.progress.add_task(label, total=total or 1, records=0, completed=0 if total else 1)

    def advance(self, key: str, steps: int, records: int) -> None:
        self.records[key] += records
        self.progress.update(self.tasks[key], advance=steps, records=self.records[key])


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        customers: int = typer.Option(
            DEFAULT_CUSTOMERS,
            "--customers",
            "-n",
            min=0,
            help="How many people to invent (each known to one to three systems).",
        ),
        seed: int = typer.Option(DEFAULT_SEED, help="Same seed, same data (and the same ids on a fresh database)."),
        if_empty: bool = typer.Option(
            False, "--if-empty", help="Do nothing when the database already has clients (used by `make run`)."
        ),
        catalogue: float = typer.Option(
            1.0, min=0.01, max=1.0, help="Share of the ~2,000-product assortment to load, for quick trials."
        ),
    ) -> None:
        """Load Maison Rapport, a demo fashion-and-beauty retailer, through the ingestion API.

        Ten stores on four continents, two warehouses, about forty associates, about 2,000 products with stock, and clients whose histories span the web shop, the tills and the loyalty programme — with the duplicates identity resolution exists to merge. Dates are relative to today, so the demo always looks current.
        """  # noqa: E501
        console = Console()
        db = get_database()
        if if_empty and has_customers(db):
            console.print("Demo data is already there (the database has clients): nothing to do.")
            return
        console.print(
            f"Loading the demo retailer: {customers:,} people, seed {seed} "
            f"({db.engine.url.render_as_string(hide_password=True)})"
        )
        columns: list[Any] = [
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[records]:>8,} records"),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console) as bars:
            report = load_demo(db, customers=customers, seed=seed, progress=RichProgress(bars), catalogue=catalogue)
        _print_report(console, report)


def _print_report(console: Console, report: DemoReport) -> None:
    table = Table(
        "kind",
        "sent",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "records/s",
        title=f"Ingested in {report.seconds:.0f} s",
    )
    for kind, stats in report.kinds.items():
        c = stats.counts
        table.add_row(
            kind,
            f"{stats.sent:,}",
            f"{c.get('created', 0):,}",
            f"{c.get('updated', 0):,}",
            f"{c.get('unchanged', 0):,}",
            f"[red]{stats.rejected:,}[/]" if stats.rejected else "0",
            f"{stats.per_second:,.0f}",
        )
    console.print(table)
    for kind, index, errors in report.rejects[:10]:
        console.print(f"[red]rejected[/] {kind} #{index}: {errors}")
    sent = report.kinds.get("customers")
    console.print(
        f"Identity resolution: {sent.sent if sent else 0:,} client records from the web shop, tills and loyalty "
        f"programme (plus guest checkouts) now make {report.active_customers:,} clients; {report.merges:,} audited "
        f"merges of two known clients, {report.review_candidates:,} pairs waiting for human review."
    )
    if report.tasks:
        by_type = ", ".join(f"{name} {n:,}" for name, n in report.tasks.items())
        line = f"Next actions from the first sweep: {sum(report.tasks.values()):,} tasks ({by_type})"
        own = sorted(report.tasks_per_associate.values())
        if own:
            line += f"; per associate: median {statistics.median(own):,.0f}, max {own[-1]:,}"
        console.print(line + ".")
    if report.holds or report.pickups:
        console.print(f"On the floor this morning: {report.holds} item(s) set aside for clients, "
                      f"{report.pickups} click-and-collect order(s) to pick, hand over or collected.")  # fmt: skip
    if report.messages:
        console.print(f"Conversations: {report.messages} message(s) in clients' threads, sent through the local "
                      "outbox (nothing leaves this machine until SMTP or Twilio is configured).")  # fmt: skip
    if report.appointments:
        console.print(f"Appointments: every store takes bookings at /book; {report.appointments} visit(s) booked "
                      "for the next days, with their briefs.")  # fmt: skip
    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Demo credentials[/] (for a local trial only; stored in clear in {report.credentials_path}):")
    console.print(f"  integration API token   Authorization: Bearer {report.token}")
    if report.sample_customer_id is not None:
        console.print("A merged client to try (run `rapport serve` first):")
        console.print(
            f'  curl -H "Authorization: Bearer {report.token}" {base}/api/v1/customers/{report.sample_customer_id}/360',
            soft_wrap=True,
        )
