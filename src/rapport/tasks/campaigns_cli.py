"""``rapport campaigns list | preview ID | launch ID``: head office's campaigns from a terminal.

Thin: the work is in :mod:`rapport.tasks.campaigns`. Campaigns are written in the app or the API;
the terminal lists them, shows what a launch would do, and launches (after a confirmation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from rapport.associates.audit import AuditActor
from rapport.db import get_database

if TYPE_CHECKING:
    from rapport.tasks.campaigns import Preview

#: Who the audit log says launched from the terminal.
CLI_ACTOR = AuditActor("system", None, "cli")


def register(app: typer.Typer) -> None:
    campaigns_app = typer.Typer(help="Head office campaigns: list, preview, launch.", no_args_is_help=True)
    app.add_typer(campaigns_app, name="campaigns")

    @campaigns_app.command("list")
    def list_command(
        status: str = typer.Option(None, help="Only drafts, launched or cancelled campaigns."),
    ) -> None:
        """Campaigns, newest first, with their tasks once launched."""
        from rapport.tasks import campaigns, segments

        console = Console()
        with get_database().read() as session:
            found = campaigns.list_campaigns(session, status=status)
            progress = campaigns.progress_of(session, [c.id for c in found if c.status != "draft"])
            table = Table("id", "name", "status", "clients", "tasks", "done", title="Campaigns")
            for c in found:
                p = progress.get(c.id)
                table.add_row(
                    str(c.id),
                    c.name,
                    c.status,
                    " · ".join(segments.describe(campaigns.segment_of(c))),
                    f"{p.tasks:,}" if p else "",
                    f"{p.done:,} ({p.done_share}%)" if p else "",
                )
        console.print(table if found else "No campaigns yet.")

    @campaigns_app.command("preview")
    def preview_command(campaign_id: int = typer.Argument(..., metavar="ID")) -> None:
        """How many clients, tasks and associates a launch would reach now, and who would be left out."""
        from rapport.tasks import campaigns

        with get_database().read() as session:
            campaign = campaigns.get(session, campaign_id)
            seen = campaigns.preview_campaign(session, campaign)
        _print(Console(), campaign.name, seen, verb="would raise")

    @campaigns_app.command("launch")
    def launch_command(
        campaign_id: int = typer.Argument(..., metavar="ID"),
        yes: bool = typer.Option(False, "--yes", "-y", help="Launch without asking."),
    ) -> None:
        """Raise the campaign's tasks in associates' lists (once), after showing the counts."""
        from rapport.errors import RapportError
        from rapport.tasks import campaigns

        console = Console()
        db = get_database()
        try:
            if not yes:
                with db.read() as session:
                    campaign = campaigns.get(session, campaign_id)
                    seen = campaigns.preview_campaign(session, campaign)
                _print(console, campaign.name, seen, verb="would raise")
                typer.confirm(f"Launch {campaign.name!r} and raise {seen.tasks:,} tasks?", abort=True)
            with db.write() as session:
                done = campaigns.launch_campaign(session, campaign_id, actor=CLI_ACTOR)
        except RapportError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from None
        _print(console, done.campaign.name, done.preview, verb="raised")


def _print(console: Console, name: str, seen: Preview, *, verb: str) -> None:
    console.print(
        f"[bold]{name}[/]: {seen.matching:,} clients match; {verb} {seen.tasks:,} tasks for "
        f"{seen.associates:,} associates and {seen.team_queues:,} team queues ({seen.seconds:.2f} s)."
    )
    if seen.without_consent:
        console.print(f"{seen.without_consent:,} more clients match but did not consent to the channel.")
    if seen.refused:
        table = Table("left out because", "clients")
        for reason, n in seen.refused.items():
            table.add_row(reason, f"{n:,}")
        console.print(table)
    if seen.per_associate or seen.per_queue:
        table = Table("who", "tasks", title="Who gets how many")
        for owner in [*seen.per_associate[:15], *seen.per_queue[:15]]:
            table.add_row(owner.name, f"{owner.tasks:,}")
        console.print(table)
