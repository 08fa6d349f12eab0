"""``rapport tasks``: generate, show the rules, change them; clear errors and exit 1 on bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rapport.cli import app
from rapport.db import Database
from rapport.tasks import config
from tests.tasks.conftest import add_client
from tests.tasks.kit import ago, buy, tasks_of

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_generate_prints_what_it_created_per_type_and_a_second_run_creates_none(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    buy(store, "C1", "O1", at=ago(days=8))
    code, out = invoke("tasks", "generate")
    assert code == 0, out
    assert "milestone" in out and "post_purchase" in out and "lapsing" in out
    # A milestone, a post-purchase check-in and a welcome: the client takes two outreach tasks at a time.
    assert "2 task(s) created" in out and "contact cap 1" in out
    assert len(tasks_of(store)) == 2
    code, out = invoke("tasks", "generate")
    assert code == 0 and "0 task(s) created" in out and out.count("duplicate 1") == 2


def test_generate_only_the_given_types(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    code, out = invoke("tasks", "generate", "--type", "milestone", "-t", "lapsing")
    assert code == 0, out
    assert "1 task(s) created" in out and "welcome" not in out
    assert [t.type for t in tasks_of(store)] == ["milestone"]


def test_generate_refuses_an_unknown_type(store: Database) -> None:
    code, out = invoke("tasks", "generate", "--type", "birthdays")
    assert code == 1
    assert "unknown task type birthdays" in out


def test_rules_shows_the_effective_settings(store: Database) -> None:
    with store.write() as s:
        config.update(s, "lapsing", params={"factor": 3.0}, enabled=False, by="test")
    code, out = invoke("tasks", "rules")
    assert code == 0, out
    assert "factor=3.0" in out and "days_ahead=7" in out and "pressure" in out
    lapsing_line = next(line for line in out.splitlines() if "lapsing" in line)
    assert " no " in lapsing_line


def test_rules_set_parses_values_and_switches_rules(store: Database) -> None:
    code, out = invoke(
        "tasks", "rules", "set", "high_intent", "window_hours=48", "sequence=product_view,cart_abandoned"
    )
    assert code == 0, out
    code, out = invoke("tasks", "rules", "set", "milestone", 'kinds=["anniversary"]', "--disable")
    assert code == 0, out
    assert "milestone (off)" in out
    with store.read() as s:
        effective = config.settings(s)
    assert effective["high_intent"]["window_hours"] == 48
    assert effective["high_intent"]["sequence"] == ["product_view", "cart_abandoned"]
    assert effective["milestone"]["kinds"] == ["anniversary"] and not effective["milestone"].enabled
    code, out = invoke("tasks", "rules", "reset", "milestone")
    assert code == 0 and "back to its defaults" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lapsing", "factor=0.5"], "lapsing.factor: must be between 1 and 20"),
        (["lapsing", "colour=red"], "lapsing.colour: unknown parameter"),
        (["lapsing", "factor"], "factor: expected key=value"),
        (["lapsing"], "nothing to change"),
        (["birthdays", "days_ahead=3"], "unknown rule 'birthdays'"),
        (["pressure", "--disable"], "cannot be switched off"),
    ],
)
def test_rules_set_explains_bad_input_and_exits_1(store: Database, args: list[str], message: str) -> None:
    code, out = invoke("tasks", "rules", "set", *args)
    assert code == 1
    assert message in out


@pytest.mark.parametrize(
    "command",
    [["tasks"], ["tasks", "generate"], ["tasks", "rules"], ["tasks", "rules", "set"], ["tasks", "rules", "reset"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    code, out = invoke(*command, "--help")
    assert code == 0 and "Usage:" in out


def test_the_worker_run_once_also_sweeps_the_task_rules(store: Database) -> None:
    add_client(store, "C1", milestones=[{"kind": "anniversary", "label": "", "date": "--11-28"}])
    code, out = invoke("worker", "--once")
    assert code == 0, out
    assert "2 task(s) raised by the sweep" in out  # the anniversary and the welcome
    code, out = invoke("worker", "--once", "--no-tasks")
    assert code == 0 and "raised by the sweep" not in out
