"""``rapport import KIND FILE``: the bulk import, with a progress bar and a summary. Thin: the work is
in :mod:`rapport.ingest.importer`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from rapport.ingest.importer import (
    DEFAULT_BATCH,
    FORMATS,
    KINDS,
    ImportOptions,
    ImportStats,
    ImportUsageError,
    import_file,
    parse_map,
)

_STATUSES = ("created", "updated", "unchanged", "rejected")

HELP = "\n\n".join(
    [
        f"Import a CSV or JSONL file of KIND records ({', '.join(KINDS)}).",
        "The file is streamed and sent in batches. Re-running it is safe: records carry their source's ids, "
        "so a second run leaves everything unchanged. Rows that cannot be imported go to a rejects file with "
        "their line number and errors; nothing is written for them.",
        "CSV: columns are record fields (id, first_name, email, email_2, phone, city, country, consent_email, "
        "tags as a|b, size_shoes ...); orders and returns have one row per line. JSONL: one record per line, "
        "shaped like the record. See docs/importing.md.",
        "Exit status: 0 every row imported, 1 some rows rejected, 2 usage error (nothing imported).",
        'Example: rapport import customers clients.csv --source pos --map "Client No=id" --map "E-mail=email"',
    ]
)


def register(app: typer.Typer) -> None:
    app.command("import", help=HELP, no_args_is_help=True)(import_command)


def import_command(
    kind: Annotated[str, typer.Argument(metavar="KIND", help=f"What the file holds: {', '.join(KINDS)}.")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The CSV or JSONL file.")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            metavar="COLUMN=FIELD",
            help='Read a column as a field: --map "Client No=id". Repeatable. "COLUMN=" skips the column.',
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Source system of records that name none, e.g. pos or shopify.", show_default=False),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=50_000, help="Records per batch (one transaction each).")
    ] = DEFAULT_BATCH,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Where rejected rows go (default: FILE.rejects.csv or .jsonl beside FILE).", show_default=False
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the file name).", show_default=False),
    ] = None,
    decimal_comma: Annotated[bool, typer.Option("--decimal-comma", help="Amounts are written 1.234,50 (CSV).")] = False,
    timezone: Annotated[
        str | None,
        typer.Option(help="Time zone of dates written without an offset, e.g. Europe/Paris (CSV).", show_default=False),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding; a UTF-8 BOM is always accepted.")] = "utf-8",
    ignore_unknown_columns: Annotated[
        bool, typer.Option("--skip-unknown", help="Skip CSV columns that are not fields of KIND.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            min=0,
            max=32,
            help="Worker processes (PostgreSQL; events and orders). 0: three or four for big files; 1: one process.",
        ),
    ] = 0,
) -> None:
    from rapport.db import get_database

    out, err = Console(), Console(stderr=True)
    try:
        if format_ is not None and format_ not in FORMATS:
            raise ImportUsageError(f"--format {format_!r}: expected csv or jsonl")
        options = ImportOptions(
            kind=kind, path=file, format=format_, mapping=parse_map(map_ or []), source=source,
            batch_size=batch_size, rejects=rejects, decimal_comma=decimal_comma, encoding=encoding,
            timezone=timezone, ignore_unknown_columns=ignore_unknown_columns, jobs=jobs,
        )  # fmt: skip
        latest: list[ImportStats] = []
        with _progress_bar(err) as progress:
            task = progress.add_task(kind, total=None, rows=0, ok=0, bad=0, rate=0)

            def show(stats: ImportStats) -> None:
                latest[:] = [stats]
                progress.update(
                    task,
                    total=stats.total_bytes,
                    completed=stats.bytes_read,
                    rows=stats.rows,
                    ok=stats.accepted_rows,
                    bad=stats.rejected_rows,
                    rate=stats.rows_per_second,
                )

            stats = import_file(get_database(), options, progress=show)
    except ImportUsageError as exc:
        err.print(f"[red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        done = f"after about {latest[0].rows:,} rows " if latest else ""
        err.print(
            f"Interrupted {done}: batches already sent are stored; running the same import again "
            "is safe and picks up the rest.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    out.print(_summary(stats))
    if stats.kind == "customers":
        import time

        from rapport.identity import candidates

        started = time.perf_counter()
        proposed = candidates.drain(get_database())
        out.print(
            f"Duplicate scan: {proposed:,} pair(s) added to the review list ({time.perf_counter() - started:.1f} s)."
        )
    if stats.rejected_rows:
        out.print(
            f"[yellow]{stats.rejected_rows:,} row(s) rejected[/]: see {stats.rejects_path} "
            "(line number and errors per row; fix them there and import that file again).",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    out.print(f"[green]All {stats.rows:,} rows imported.[/]", highlight=False)


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=12),
        TaskProgressColumn(),
        TextColumn(
            "{task.fields[rows]:,} rows · {task.fields[ok]:,} ok · {task.fields[bad]:,} rejected"
            " · {task.fields[rate]:,.0f} rows/s"
        ),
        console=console,
        disable=not console.is_terminal,  # logs and CI get the summary only
    )


def _summary(stats: ImportStats) -> Table:
    table = Table(title=f"{stats.kind} from {stats.path.name}")
    table.add_column("status")
    table.add_column("records", justify="right")
    table.add_column("rows", justify="right")
    for status in (*_STATUSES, *sorted(set(stats.records) - set(_STATUSES))):
        table.add_row(status, f"{stats.records[status]:,}", f"{stats.rows_by_status[status]:,}")
    table.add_row("total", f"{sum(stats.records.values()):,}", f"{stats.rows:,}", style="bold")
    table.caption = f"{stats.format}" + (f", delimiter {stats.delimiter!r}" if stats.delimiter else "")
    table.caption += f"; {stats.elapsed:.1f} s, {stats.rows_per_second:,.0f} rows/s"
    if stats.warnings:
        table.caption += f"; {stats.warnings:,} record(s) with warnings (e.g. sent to identity review)"
    return table
