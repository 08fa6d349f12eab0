"""``rapport clientbook assign [--dry-run]`` with its summary table."""

from __future__ import annotations

from typer.testing import CliRunner

from rapport.cli import app
from tests.clientbook.conftest import book_of, client


def assign(*args: str):
    return CliRunner().invoke(app, ["clientbook", "assign", *args], env={"COLUMNS": "150"})


def test_the_command_assigns_and_prints_who_got_how_many(db, shop, ingest):
    ingest(
        "customers", *[client(f"fr{i}", "Dupont", country="FR") for i in range(3)], client("jp", "Sato", country="JP")
    )
    dry = assign("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would assign 3 clients" in dry.output and "nothing changed" in dry.output
    assert set(book_of(db).values()) == {None}
    done = assign()
    assert done.exit_code == 0, done.output
    assert "Assigned 3 clients" in done.output
    assert "Zoé Marchetti" in done.output and "online expert" in done.output and "FR, IT" in done.output
    assert "left unassigned 1: no online expert covers JP" in done.output
    assert sorted(a for a in book_of(db).values() if a is not None) == [shop["ZOE"]] * 3
    again = assign()
    assert again.exit_code == 0 and "Assigned 0 clients" in again.output  # Sato is still waiting for an expert
