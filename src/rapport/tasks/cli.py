"""``rapport tasks``: run the sweep, show and change the rules' settings."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rapport.db import get_database
from rapport.errors import FieldError, InvalidRecord

console = Console()
#: Who the CLI's rule changes are recorded as.
CLI_ACTOR = "cli"


def register(app: typer.Typer) -> None:
    tasks = typer.Typer(
        help="Next actions: raise tasks from the rules, show and change the rules.", no_args_is_help=True
    )
    rules_app = typer.Typer(
        help="Show the rules' effective settings (`rapport tasks rules`), or change one (`set`, `reset`).",
        invoke_without_command=True,
    )
    tasks.add_typer(rules_app, name="rules")
    app.add_typer(tasks, name="tasks")

    @tasks.command("generate")
    def generate(
        types: list[str] = typer.Option(
            None, "--type", "-t", help="Only this task type (repeat for several); default: every enabled rule."
        ),
    ) -> None:
        """Run the rules over every active client now and raise the tasks they call for.

        Wakes snoozed tasks and expires old ones first. Safe to run again: an occasion already
        raised is not raised twice. Schedule it daily (or run `rapport worker`, which does).
        """
        from rapport.tasks.sweep import check_types
        from rapport.tasks.sweep import generate as sweep

        try:
            names = check_types(types or None)
        except InvalidRecord as exc:
            _fail(exc)
        with Progress(
            TextColumn("{task.description:<22}"), BarColumn(), TextColumn("{task.completed}/{task.total} rules"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            job = bar.add_task("Rules", total=len(names))

            def on_rule(name: str, index: int, _count: int) -> None:
                bar.update(job, completed=index, description=name.replace("_", " ") or "done")

            report = sweep(get_database(), types=names, on_rule=on_rule)
        table = Table("task type", "candidates", "created", "not raised (why)", "seconds", title="Tasks raised")
        for line in report.types.values():
            why = ", ".join(f"{reason} {n:,}" for reason, n in line.skipped.most_common())
            if not line.enabled:
                table.add_row(line.type, "[dim]disabled[/]", "", "", "")
                continue
            table.add_row(line.type, f"{line.candidates:,}", f"{line.created:,}", why, f"{line.seconds:.2f}")
        console.print(table)
        kept = report.housekeeping
        if kept.get("woken") or kept.get("expired"):
            console.print(
                f"Housekeeping: {kept.get('woken', 0):,} snoozed task(s) back, {kept.get('expired', 0):,} expired"
            )
        console.print(f"{report.created:,} task(s) created in {report.seconds:.2f} s")

    @rules_app.callback()
    def rules(ctx: typer.Context) -> None:
        """Show every rule's effective settings: the defaults with the retailer's changes."""
        if ctx.invoked_subcommand is not None:
            return
        from rapport.tasks import config
        from rapport.tasks.rules import RULES

        with get_database().read() as session:
            effective = config.settings(session)
        table = Table("rule", "on", "settings", "what it raises", title="Task rules")
        for name, rule in effective.items():
            summary = RULES[name].summary if name in RULES else "(setting)"
            changed = {k for k, v in rule.params.items() if config.DEFAULTS[name].get(k) != v}
            params = ", ".join(
                f"[bold]{k}={json.dumps(v)}[/]" if k in changed else f"{k}={json.dumps(v)}"
                for k, v in rule.params.items()
            )
            table.add_row(name, "yes" if rule.enabled else "[red]no[/]", params, summary)
        console.print(table)
        console.print("Changed values in bold. Change one: rapport tasks rules set NAME key=value ... [--disable]")

    @rules_app.command("set")
    def set_rule(
        name: str = typer.Argument(..., help="The rule (a task type) or setting (pressure, focus)."),
        values: list[str] = typer.Argument(
            None, help='key=value pairs; values are JSON where they parse (7, 2.5, true, ["a","b"]), else text.'
        ),
        enable: bool = typer.Option(None, "--enable/--disable", help="Switch the rule on or off."),
    ) -> None:
        """Change a rule's parameters and/or switch it on or off (merged into earlier changes)."""
        from rapport.tasks import config

        try:
            params = parse_values(values or [], config.DEFAULTS.get(name, {}))
            if not params and enable is None:
                raise InvalidRecord.one("values", "nothing to change: give key=value pairs, --enable or --disable")
            with get_database().write() as session:
                changed = config.update(session, name, params=params, enabled=enable, by=CLI_ACTOR)
        except InvalidRecord as exc:
            _fail(exc)
        state = "on" if changed.enabled else "off"
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in changed.params.items())
        console.print(f"{name} ({state}): {settings}")

    @rules_app.command("reset")
    def reset_rule(name: str = typer.Argument(..., help="The rule or setting to bring back to its defaults.")) -> None:
        """Back to the defaults (and switched on)."""
        from rapport.tasks import config

        try:
            with get_database().write() as session:
                back = config.reset(session, name)
        except InvalidRecord as exc:
            _fail(exc)
        console.print(
            f"{name} back to its defaults: {', '.join(f'{k}={json.dumps(v)}' for k, v in back.params.items())}"
        )


def parse_values(pairs: list[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """``key=value`` pairs: JSON where it parses; a comma list for a list setting; else the text."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(FieldError(pair, "expected key=value"))
            continue
        raw = raw.strip()
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
            if isinstance(defaults.get(key), list):
                value = [v.strip() for v in raw.split(",") if v.strip()]
        if isinstance(defaults.get(key), list) and isinstance(value, str):
            value = [value]
        out[key] = value
    if errors:
        raise InvalidRecord(errors)
    return out


def _fail(exc: InvalidRecord) -> NoReturn:
    for error in exc.errors:
        console.print(f"[red]{error.field}[/]: {error.message}")
    raise typer.Exit(1)
