"""Signing in and out: the password check, throttling by account and by address, and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from rapport.associates import auth, passwords, users
from rapport.associates.models import Associate, LoginAttempt, WebSession
from rapport.settings import get_settings
from tests.associates.staff import PASSWORD, Team, cheap_hashing, team

IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def staffed(db) -> Team:
    return team(db)


def _attempts(db, **where) -> list[bool]:
    with db.read() as session:
        stmt = select(LoginAttempt.succeeded).order_by(LoginAttempt.id)
        for column, value in where.items():
            stmt = stmt.where(getattr(LoginAttempt, column) == value)
        return list(session.scalars(stmt))


def _fail(db, email: str = "ana@maison.example", ip: str | None = IP) -> None:
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(db, email, "not the password", ip=ip)


# -- the password check -----------------------------------------------------------------------------


def test_the_right_password_opens_a_session_whose_token_is_stored_only_as_a_hash(db, staffed):
    issued = auth.sign_in(db, " Ana@Maison.example ", PASSWORD, ip=IP, user_agent="Safari on iPhone")
    assert issued.associate_id == staffed.ana and len(issued.token) >= 40 and len(issued.csrf_token) >= 40
    with db.read() as session:
        row = session.get(WebSession, issued.session_id)
        assert row is not None and row.token_hash == auth.digest(issued.token) and issued.token not in row.token_hash
        assert (row.ip, row.user_agent) == (IP, "Safari on iPhone")
        signed_in = auth.find_session(session, issued.token)
    assert signed_in is not None
    assert (signed_in.display_name, signed_in.role, signed_in.store_ids) == ("Ana Duval", "associate",
                                                                             {staffed.paris})  # fmt: skip
    assert signed_in.csrf_token == issued.csrf_token
    assert _attempts(db) == [True]


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(db, staffed):
    with pytest.raises(auth.SignInRefused) as wrong:
        auth.sign_in(db, "ana@maison.example", "not the password", ip=IP)
    with pytest.raises(auth.SignInRefused) as unknown:
        auth.sign_in(db, "nobody@maison.example", "not the password", ip=IP)
    assert wrong.value.message == unknown.value.message == "Wrong email or password."
    assert wrong.value.status_code == 401
    assert _attempts(db) == [False, False]


def test_a_disabled_user_or_staff_without_a_password_cannot_sign_in(db, staffed):
    with db.write() as session:
        users.disable_user(session, "ben@maison.example")
    _fail(db, "ben@maison.example")
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(db, "ben@maison.example", PASSWORD)
    with db.write() as session:
        session.execute(update(Associate).where(Associate.id == staffed.mia).values(password_hash=None))
    with pytest.raises(auth.SignInRefused):
        auth.sign_in(db, "mia@maison.example", "")


def test_a_hash_made_with_an_older_cost_is_upgraded_at_sign_in(db, staffed):
    with db.read() as session:
        before = session.scalar(select(Associate.password_hash).where(Associate.id == staffed.ana))
    assert before is not None
    with passwords.hashing_cost(time_cost=2, memory_cost=2048):
        auth.sign_in(db, "ana@maison.example", PASSWORD)
    with db.read() as session:
        after = session.scalar(select(Associate.password_hash).where(Associate.id == staffed.ana))
    assert after != before and after is not None and "m=2048,t=2" in after
    assert passwords.verify_password(after, PASSWORD)


# -- throttling -------------------------------------------------------------------------------------


def test_five_failures_in_a_row_lock_the_account_and_say_for_how_long(db, staffed, fixed_clock):
    for _ in range(5):
        _fail(db)
        fixed_clock.advance(timedelta(minutes=1))
    with pytest.raises(auth.SignInThrottled) as locked:
        auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP)  # even the right password
    assert locked.value.status_code == 429
    assert locked.value.message == "Too many failed sign-ins. Try again in 10 minutes."
    assert locked.value.retry_after == 600
    assert _attempts(db) == [False] * 5  # the refused attempt is not counted: the lock does not grow
    fixed_clock.advance(timedelta(minutes=10))
    assert auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP).associate_id == staffed.ana


def test_the_lock_is_per_account(db, staffed):
    for _ in range(5):
        _fail(db)
    auth.sign_in(db, "ben@maison.example", PASSWORD, ip="198.51.100.1")


def test_a_success_clears_the_accounts_failures(db, staffed, fixed_clock):
    for _ in range(4):
        _fail(db)
    auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP)
    for _ in range(4):
        _fail(db)
    auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP)


def test_failures_older_than_the_window_do_not_count(db, staffed, fixed_clock):
    for _ in range(4):
        _fail(db)
    fixed_clock.advance(timedelta(minutes=get_settings().login_window_minutes, seconds=1))
    for _ in range(4):
        _fail(db)
    auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP)


def test_twenty_failures_from_one_address_lock_that_address_for_every_account(db, staffed, fixed_clock):
    for n in range(20):
        _fail(db, f"guess{n}@maison.example")
    with pytest.raises(auth.SignInThrottled) as locked:
        auth.sign_in(db, "ana@maison.example", PASSWORD, ip=IP)
    assert "Try again in 15 minutes" in locked.value.message
    assert auth.sign_in(db, "ana@maison.example", PASSWORD, ip="198.51.100.1").associate_id == staffed.ana


# -- sessions ---------------------------------------------------------------------------------------


def _live(db, token: str) -> bool:
    with db.read() as session:
        return auth.find_session(session, token) is not None


def test_a_session_ends_after_the_idle_timeout(db, staffed, fixed_clock):
    token = auth.sign_in(db, "ana@maison.example", PASSWORD).token
    fixed_clock.advance(timedelta(minutes=get_settings().session_idle_minutes - 1))
    assert _live(db, token)
    fixed_clock.advance(timedelta(minutes=1))
    assert not _live(db, token)


def test_activity_keeps_a_session_alive_until_its_absolute_expiry(db, staffed, fixed_clock):
    settings = get_settings()
    issued = auth.sign_in(db, "ana@maison.example", PASSWORD)
    step = timedelta(minutes=settings.session_idle_minutes // 2)
    elapsed = timedelta(0)
    while elapsed + step < timedelta(hours=settings.session_max_hours):
        fixed_clock.advance(step)
        elapsed += step
        with db.read() as session:
            signed_in = auth.find_session(session, issued.token)
        assert signed_in is not None and signed_in.needs_touch(fixed_clock.now())
        with db.write() as session:
            auth.touch_session(session, signed_in.session_id)
    fixed_clock.set(issued.expires_at)
    assert not _live(db, issued.token)


def test_signing_out_revokes_the_session(db, staffed):
    first = auth.sign_in(db, "ana@maison.example", PASSWORD)
    second = auth.sign_in(db, "ana@maison.example", PASSWORD)
    with db.write() as session:
        assert auth.sign_out(session, first.token)
        assert not auth.sign_out(session, first.token)  # already out
    assert not _live(db, first.token) and _live(db, second.token)


def test_disabling_a_user_or_setting_a_new_password_signs_them_out_everywhere(db, staffed):
    ana = auth.sign_in(db, "ana@maison.example", PASSWORD)
    ben = auth.sign_in(db, "ben@maison.example", PASSWORD)
    with db.write() as session:
        users.set_password(session, "ana@maison.example", "a brand new passphrase")
        users.disable_user(session, "ben@maison.example")
    assert not _live(db, ana.token) and not _live(db, ben.token)
    assert auth.sign_in(db, "ana@maison.example", "a brand new passphrase").associate_id == staffed.ana


@pytest.mark.parametrize("token", [None, "", "made-up", "x" * 500])
def test_no_session_for_a_missing_or_made_up_cookie(db, staffed, token):
    assert not _live(db, token)


def test_csrf_tokens_match_only_exactly():
    token = auth.new_csrf_token()
    assert auth.csrf_matches(token, token)
    assert not auth.csrf_matches(token, token[:-1])
    assert not auth.csrf_matches(token, None)
    assert not auth.csrf_matches(None, None)
    assert not auth.csrf_matches("", "")


def test_no_session_row_is_written_for_a_refused_sign_in(db, staffed):
    _fail(db)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
