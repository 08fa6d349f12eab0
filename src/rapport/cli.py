"""The ``rapport`` command: serve, db, demo, import, tokens. Thin: every command calls a service."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from rapport.db import get_database

app = typer.Typer(help="Rapport — omnichannel clienteling.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tokens_app = typer.Typer(help="Integration API tokens.", no_args_is_help=True)
identity_app = typer.Typer(help="Identity resolution: the probable-duplicate review list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")
app.add_typer(identity_app, name="identity")
console = Console()


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default: RAPPORT_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: RAPPORT_PORT or 8000)."),
    workers: int = typer.Option(1, help="Worker processes; use PostgreSQL for more than one."),
) -> None:
    """Serve the app and the API."""
    import uvicorn

    from rapport.settings import get_settings

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"[bold]Rapport[/] on [link]http://{host}:{port}[/link]  (API docs: http://{host}:{port}/api/v1/docs)"
    )
    _print_logins()
    uvicorn.run("rapport.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


def _print_logins() -> None:
    from rapport.demo.generator import demo_logins

    logins = demo_logins(get_database())
    if logins:
        console.print("[bold]Demo credentials[/] (local demo data only):")
        for what, how, secret in logins:
            console.print(f"  {what}: {how} {secret}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from rapport import migrate

    db = get_database()
    migrate.upgrade(db.engine, revision)
    console.print(f"Database at revision {migrate.current(db.engine)} ({db.engine.url.render_as_string()})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from rapport import migrate

    console.print(migrate.current(get_database().engine) or "(empty)")


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(..., help="Who the token is for, e.g. 'shopify' or 'pos-export'."),
) -> None:
    """Create an integration token and print it — once; only its hash is kept."""
    from rapport.associates import tokens

    with get_database().write() as session:
        issued = tokens.create_token(session, name)
    console.print(f"Token {issued.id} for {issued.name!r} (shown once, keep it safe):")
    typer.echo(issued.token)


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""
    from rapport.associates import tokens

    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    with get_database().read() as session:
        for t in tokens.list_tokens(session):
            table.add_row(
                str(t.id),
                t.name,
                t.prefix + "…",
                t.created_at.isoformat(timespec="seconds"),
                t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-",
                t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-",
            )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int = typer.Argument(..., help="Token id from `rapport tokens list`.")) -> None:
    """Revoke a token; calls with it are refused from now on."""
    from rapport.associates import tokens

    with get_database().write() as session:
        t = tokens.revoke_token(session, token_id)
    console.print(f"Token {t.id} ({t.name}) revoked.")


@identity_app.command("scan")
def identity_scan() -> None:
    """Compare queued clients for probable duplicates now (the app does this in the background)."""
    import time

    from rapport.identity import candidates

    started = time.perf_counter()
    proposed = candidates.drain(get_database())
    console.print(f"{proposed} pair(s) added to the review list in {time.perf_counter() - started:.1f} s")


@app.command("worker")
def worker(
    interval: float = typer.Option(2.0, min=0.1, help="Seconds between looks at the queue when it is empty."),
    once: bool = typer.Option(False, "--once", help="Drain what is queued (and sweep the task rules once), then exit."),
    tasks: bool = typer.Option(
        True, "--tasks/--no-tasks", help="Also raise next-action tasks: new rows within a second, a full sweep daily."
    ),
    sweep_every: float = typer.Option(
        24.0, min=0, help="Hours between full task sweeps, the first at start (0: none)."
    ),
) -> None:
    """Run background work outside the app processes: sending messages, the duplicate scan, tasks, stock housekeeping.

    Start one or more next to `rapport serve --workers N` with RAPPORT_BACKGROUND_SCAN=false on the app
    processes. Several workers share the queue safely on PostgreSQL (FOR UPDATE SKIP LOCKED). Stops
    cleanly on Ctrl-C or SIGTERM, after the batch in hand. Tasks: the worker follows new timeline
    entries, stock signals and clients (the app processes, told to leave background work, do not
    raise tasks on their events) and runs the full sweep every --sweep-every hours (idempotent:
    several workers may sweep). Stock: lapsed holds and pickups not collected in time go back to
    stock every minute. Messages: queued messages are sent through their channel (several workers
    share the queue; a worker killed mid-send loses nothing).
    """
    import signal
    import threading
    import time

    from rapport.identity import candidates
    from rapport.inventory.housekeeping import Housekeeper
    from rapport.inventory.housekeeping import sweep as stock_sweep
    from rapport.runtime import tune_gc
    from rapport.tasks.triggers import TaskTriggers

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    db = get_database()
    tune_gc()
    total = 0
    console.print(f"Rapport worker: duplicate scan, looking every {interval:g} s (Ctrl-C to stop)")
    triggers = None
    if tasks and once:
        from rapport.tasks.sweep import generate

        swept = generate(db)
        console.print(f"{swept.created} task(s) raised by the sweep in {swept.seconds:.1f} s")
    elif tasks:
        triggers = TaskTriggers(get_database, poll_every=0.5, sweep_every=sweep_every * 3600 or None)
        triggers.start()
        console.print(f"Tasks: following new rows every 0.5 s; full sweep every {sweep_every:g} h")
    from rapport.workers import job_runner

    runner = job_runner(get_database)
    if once:
        sent = runner.drain(max_seconds=300)
        console.print(f"Messages: {sent} queued message(s) handled")
    else:
        runner.start()
        console.print("Jobs: sending queued messages and appointment notices as they come")
    housekeeper = None
    if once:
        swept_stock = stock_sweep(db)
        console.print(
            f"Stock: {swept_stock.holds_lapsed} hold(s) lapsed, {swept_stock.pickups_returned} pickup(s) back"
        )
    else:
        housekeeper = Housekeeper(get_database)
        housekeeper.start()
        console.print("Stock: lapsed holds and uncollected pickups released every minute")
    try:
        while not stop.is_set():
            started = time.perf_counter()
            proposed = candidates.drain(db)
            total += proposed
            if proposed:
                console.print(f"{proposed} pair(s) added to the review list in {time.perf_counter() - started:.1f} s")
            if once:
                break
            stop.wait(interval)
    finally:
        if not once:
            runner.stop()
        if housekeeper is not None:
            housekeeper.stop()
        if triggers is not None:
            triggers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"Worker stopped; {total} pair(s) proposed in all.")


def _register_optional_commands() -> None:
    from rapport.associates.cli import register as register_users
    from rapport.clientbook.cli import register as register_clientbook
    from rapport.demo.cli import register as register_demo
    from rapport.ingest.importer_cli import register as register_import
    from rapport.tasks.campaigns_cli import register as register_campaigns
    from rapport.tasks.cli import register as register_tasks

    register_import(app)
    register_demo(app)
    register_users(app)
    register_clientbook(app)
    register_tasks(app)
    register_campaigns(app)


_register_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
