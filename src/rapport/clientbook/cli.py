"""``rapport clientbook assign [--dry-run]``: place unassigned clients by the rules, with a summary table."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from rapport.db import get_database


def register(app: typer.Typer) -> None:
    clientbook = typer.Typer(help="Client books: assignment by the retailer's rules.", no_args_is_help=True)
    app.add_typer(clientbook, name="clientbook")

    @clientbook.command("assign")
    def assign(
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be assigned; change nothing."),
    ) -> None:
        """Give every unassigned client (and every client of an inactive associate) an associate.

        Online-only clients go to online experts covering their state or country, fewest clients
        first; store clients to the associate with most of their store sales. Each associate gets
        one notification about their new clients.
        """
        from rapport.clientbook import service
        from rapport.clientbook.rules import ROLE_LABELS

        console = Console()
        db = get_database()
        if dry_run:
            with db.read() as session:
                summary = service.assign_unassigned(session, dry_run=True)
        else:
            with db.write() as session:
                summary = service.assign_unassigned(session)
        if summary.total == 0 and not summary.unplaced:
            console.print(f"Nothing to assign: every client has an active associate ({summary.seconds:.2f} s).")
            return
        verb = "Would assign" if dry_run else "Assigned"
        table = Table(
            "associate", "role", "covers", "new clients", "book size", title=f"{verb} {summary.total:,} clients"
        )
        for line in summary.associates:
            role = ROLE_LABELS.get(line.role, line.role)
            table.add_row(line.name, role, line.covers, f"{line.new_clients:,}", f"{line.book_size:,}")
        console.print(table)
        if summary.by_rule:
            rules = ", ".join(f"{rule.replace('_', ' ')}: {n:,}" for rule, n in sorted(summary.by_rule.items()))
            console.print(f"By rule — {rules}")
        for reason, n in sorted(summary.unplaced.items(), key=lambda item: -item[1]):
            console.print(f"[yellow]left unassigned[/] {n:,}: {reason}")
        console.print(f"in {summary.seconds:.2f} s" + (" (dry run: nothing changed)" if dry_run else ""))
