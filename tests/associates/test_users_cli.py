"""``rapport users``: add, list, disable, set a password — and the services behind them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rapport.associates import auth, users
from rapport.associates.models import Associate, AssociateLocation
from rapport.cli import app as cli
from rapport.errors import Conflict, InvalidRecord, NotFound
from tests.associates.staff import PASSWORD, cheap_hashing, stores

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def boutiques(db) -> tuple[int, int]:
    return stores(db)


def rapport(*args: str, input: str | None = None):
    return runner.invoke(cli, list(args), input=input)


def test_add_a_user_who_can_then_sign_in(db, boutiques):
    result = rapport("users", "add", "Ana@Maison.example", "--name", "Ana Duval", "--role", "associate",
                     "--store", "PAR", "--store", "nyc", "--password", PASSWORD)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added Ana Duval <ana@maison.example> (Associate, NYC, PAR); code ANA." in result.output
    with db.read() as session:
        ana = session.scalars(select(Associate).where(Associate.email == "ana@maison.example")).one()
        linked = set(
            session.scalars(select(AssociateLocation.location_id).where(AssociateLocation.associate_id == ana.id))
        )
    assert ana.password_hash and ana.password_hash.startswith("$argon2id$") and PASSWORD not in ana.password_hash
    assert ana.home_location_id == boutiques[0] and linked == set(boutiques)
    assert auth.sign_in(db, "ana@maison.example", PASSWORD).associate_id == ana.id


def test_the_password_is_asked_twice_with_a_hidden_prompt(db, boutiques):
    result = rapport("users", "add", "max@maison.example", "--name", "Max", "--role", "store_manager",
                     "--store", "PAR", input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed, never echoed
    assert auth.sign_in(db, "max@maison.example", PASSWORD)


def test_online_experts_cover_regions_and_admins_need_no_store(db, boutiques):
    ok = rapport("users", "add", "mia@maison.example", "--name", "Mia Chen", "--role", "virtual_associate",
                 "--region", "us", "--region", "US-CA", "--password", PASSWORD)  # fmt: skip
    assert ok.exit_code == 0, ok.output and "US, US-CA" in ok.output
    ok = rapport("users", "add", "ada@maison.example", "--name", "Ada", "--role", "admin", "--password", PASSWORD)
    assert ok.exit_code == 0, ok.output
    with db.read() as session:
        listed = {u.email: u for u in users.list_users(session)}
    assert listed["mia@maison.example"].regions == ("US", "US-CA")
    assert listed["ada@maison.example"].stores == () and listed["ada@maison.example"].role_label == "Head office"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "associate", "--store", "XYZ"], "unknown store code XYZ"),
        (["--role", "associate"], "works in at least one store"),
        (["--role", "virtual_associate"], "covers at least one region"),
        (["--role", "virtual_associate", "--region", "California"], "a region is a country (US) or a state"),
        (["--role", "cashier", "--store", "PAR"], "unknown role 'cashier'"),
        (["--role", "associate", "--store", "PAR", "--password", "short"], "at least 10 characters"),
    ],
)
def test_mistakes_are_refused_with_a_clear_message_and_nothing_is_stored(db, boutiques, args, message):
    args = ["users", "add", "zoe@maison.example", "--name", "Zoé", *args]
    if "--password" not in args:
        args += ["--password", PASSWORD]
    result = rapport(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    with db.read() as session:
        assert session.scalar(select(Associate.id).where(Associate.email == "zoe@maison.example")) is None


def test_a_second_user_with_the_same_email_is_refused(db, boutiques):
    assert rapport("users", "add", "ana@maison.example", "--name", "Ana", "--store", "PAR",
                   "--password", PASSWORD).exit_code == 0  # fmt: skip
    again = rapport("users", "add", "ANA@maison.example", "--name", "Ana again", "--store", "PAR",
                    "--password", PASSWORD)  # fmt: skip
    assert again.exit_code == 1 and "already exists" in again.output


def test_over_long_names_and_bad_emails_are_refused_by_the_service(db, boutiques):
    with db.write() as session, pytest.raises(InvalidRecord) as refused:
        users.add_user(session, "not-an-email", "x" * 201, "associate", PASSWORD, stores=["PAR"])
    fields = {e.field: e.message for e in refused.value.errors}
    assert "not a valid email address" in fields["email"]
    assert fields["name"] == "a display name has at most 200 characters (got 201)"


def test_codes_are_derived_from_the_email_and_kept_unique(db, boutiques):
    with db.write() as session:
        first = users.add_user(session, "ana@maison.example", "Ana", "associate", PASSWORD, stores=["PAR"])
        second = users.add_user(session, "ana@atelier.example", "Ana B", "associate", PASSWORD, stores=["PAR"])
        with pytest.raises(Conflict):
            users.add_user(session, "c@maison.example", "C", "admin", PASSWORD, code="ANA")
    assert (first.code, second.code) == ("ANA", "ANA-2")


def test_list_shows_who_can_sign_in(db, boutiques):
    rapport("users", "add", "ana@maison.example", "--name", "Ana Duval", "--store", "PAR", "--password", PASSWORD)
    rapport("users", "add", "ben@maison.example", "--name", "Ben Carter", "--store", "NYC", "--password", PASSWORD)
    rapport("users", "disable", "ben@maison.example")
    listed = rapport("users", "list")
    assert listed.exit_code == 0, listed.output
    assert "ana@maison.example" in listed.output and "ben@maison.example" not in listed.output
    everyone = rapport("users", "list", "--all")
    assert "ben@maison.example" in everyone.output and "disabled" in everyone.output


def test_disable_signs_the_user_out_and_keeps_them_out(db, boutiques):
    rapport("users", "add", "ana@maison.example", "--name", "Ana", "--store", "PAR", "--password", PASSWORD)
    issued = auth.sign_in(db, "ana@maison.example", PASSWORD)
    result = rapport("users", "disable", "ana@maison.example")
    assert result.exit_code == 0 and "Disabled Ana" in result.output
    with db.read() as session:
        assert auth.find_session(session, issued.token) is None
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(db, "ana@maison.example", PASSWORD)
    assert rapport("users", "enable", "ana@maison.example").exit_code == 0
    assert auth.sign_in(db, "ana@maison.example", PASSWORD)


def test_disable_an_unknown_user(db, boutiques):
    result = rapport("users", "disable", "ghost@maison.example")
    assert result.exit_code == 1 and "no user with email 'ghost@maison.example'" in result.output
    with db.write() as session, pytest.raises(NotFound):
        users.set_password(session, "ghost@maison.example", PASSWORD)


def test_staff_from_the_pos_get_a_first_password_with_set_password(db, boutiques):
    from rapport.ingest.service import ingest_records

    ingest_records(db, "associates", [{"code": "NYC-02", "email": "jordan@maison.example",
                                       "display_name": "Jordan Blake", "home_store": "NYC"}])  # fmt: skip
    assert "jordan@maison.example" not in rapport("users", "list").output
    result = rapport("users", "set-password", "jordan@maison.example", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "jordan@maison.example" in rapport("users", "list").output
    assert auth.sign_in(db, "jordan@maison.example", PASSWORD)


@pytest.mark.parametrize("command", [[], ["add"], ["list"], ["disable"], ["enable"], ["set-password"]])
def test_every_command_explains_itself(command):
    result = rapport("users", *command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
