"""Signing in and out: password check, throttling, browser sessions and their CSRF tokens.

* **Throttling.** Every attempt is a ``login_attempt`` row. An account is refused after
  ``login_max_failures_per_account`` failures (since its last success) within
  ``login_window_minutes``; an address after ``login_max_failures_per_ip`` failures. A refused
  attempt is not recorded, so hammering a locked account does not push the lock further out.
* **Unknown emails** cost one Argon2 verification of a decoy hash, as a known one does, and get
  the same answer: the sign-in page does not say which emails exist.
* **Sessions.** The cookie carries 32 random bytes; the database keeps their SHA-256. A session
  ends at ``expires_at`` (sign-in + ``session_max_hours``), after ``session_idle_minutes``
  unused, when signed out, or when its associate is disabled.
* **CSRF.** Each session has its own random token, sent back in a hidden ``csrf_token`` field
  or an ``X-CSRF-Token`` header on every state-changing request. The sign-in form, which has no
  session yet, uses a double-submit cookie.

``sign_in`` takes the :class:`~rapport.db.Database` rather than a session: the failed attempt
must be committed even though the caller gets an exception, and the slow hash check must not
hold SQLite's write lock.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import passwords
from rapport.associates.models import Associate, LoginAttempt, WebSession
from rapport.associates.permissions import ROLE_LABELS, Actor, work_stores
from rapport.db import Database
from rapport.errors import RapportError
from rapport.settings import Settings, get_settings

SESSION_COOKIE = "rapport_session"
LOGIN_CSRF_COOKIE = "rapport_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: ``last_seen_at`` is written at most this often, so a busy screen does not write on every request.
TOUCH_EVERY = timedelta(minutes=1)
WRONG_CREDENTIALS = "Wrong email or password."


class SignInRefused(RapportError):
    status_code = 401
    code = "sign_in_refused"


class SignInThrottled(RapportError):
    """Too many failures: the message says when to try again (``retry_after`` in seconds)."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))
        minutes = max(1, math.ceil(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} {unit}.")


@dataclass(frozen=True)
class IssuedSession:
    """A new browser session: ``token`` goes into the cookie and exists nowhere else."""

    token: str
    csrf_token: str
    session_id: int
    associate_id: int
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """A live session and the associate behind it, as each request sees them."""

    session_id: int
    associate_id: int
    csrf_token: str
    display_name: str
    email: str
    role: str
    store_ids: frozenset[int]
    regions: tuple[str, ...]
    expires_at: datetime
    last_seen_at: datetime

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def actor(self) -> Actor:
        return Actor.associate(self.associate_id, self.role, self.store_ids, self.regions)

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def normalise_login_email(email: str) -> str:
    """The address as stored for associates (see :func:`rapport.identity.normalize.normalize_email`)."""
    from rapport.identity.normalize import IdentifierError, normalize_email

    try:
        return normalize_email(email)[:254]
    except IdentifierError:
        return email.strip().lower()[:254]


# -- signing in -------------------------------------------------------------------------------------


def sign_in(
    db: Database,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    settings: Settings | None = None,
) -> IssuedSession:
    """Check the password and open a session, or raise :class:`SignInRefused` / :class:`SignInThrottled`."""
    settings = settings or get_settings()
    email = normalise_login_email(email)
    ip = ip[:64] if ip else None
    now = clock.now()
    with db.read() as session:
        wait = throttle_wait(session, email, ip, now, settings)
        if wait is not None:
            raise SignInThrottled(wait)
        row = session.execute(
            select(Associate.id, Associate.password_hash, Associate.active).where(Associate.email == email)
        ).first()
    stored = row.password_hash if row is not None and row.active else None
    if stored is None or len(password) > passwords.MAX_LENGTH:
        passwords.burn_verification_time(password[: passwords.MAX_LENGTH])
        ok = False
    else:
        ok = passwords.verify_password(stored, password)
    with db.write() as session:
        session.add(LoginAttempt(email=email, ip=ip, succeeded=ok, attempted_at=now))
        if not ok or row is None:
            issued = None
        else:
            if stored is not None and passwords.needs_rehash(stored):
                session.execute(
                    update(Associate)
                    .where(Associate.id == row.id)
                    .values(password_hash=passwords.hash_password(password))
                )
            issued = open_session(session, row.id, ip=ip, user_agent=user_agent, settings=settings)
    if issued is None:
        raise SignInRefused(WRONG_CREDENTIALS)
    return issued


def throttle_wait(
    session: Session, email: str, ip: str | None, now: datetime, settings: Settings | None = None
) -> timedelta | None:
    """How long this account or address must wait before trying again, or None if it may try now."""
    settings = settings or get_settings()
    window = timedelta(minutes=settings.login_window_minutes)
    since = now - window
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded.is_(True), LoginAttempt.attempted_at > since
        )
    )
    waits: list[timedelta] = []
    account_since = max(since, last_success) if last_success is not None else since
    limit = settings.login_max_failures_per_account
    failures = list(
        session.scalars(
            select(LoginAttempt.attempted_at)
            .where(
                LoginAttempt.email == email,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at > account_since,
            )
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(limit)
        )
    )
    if len(failures) >= limit:
        waits.append(failures[-1] + window - now)  # the oldest of the last N falls out of the window
    if ip:
        limit = settings.login_max_failures_per_ip
        failures = list(
            session.scalars(
                select(LoginAttempt.attempted_at)
                .where(LoginAttempt.ip == ip, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)
                .order_by(LoginAttempt.attempted_at.desc())
                .limit(limit)
            )
        )
        if len(failures) >= limit:
            waits.append(failures[-1] + window - now)
    return max(waits) if waits else None


# -- sessions ---------------------------------------------------------------------------------------


def open_session(
    session: Session,
    associate_id: int,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    settings: Settings | None = None,
) -> IssuedSession:
    settings = settings or get_settings()
    now = clock.now()
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=digest(token),
        associate_id=associate_id,
        csrf_token=new_csrf_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=ip[:64] if ip else None,
        user_agent=user_agent[:300] if user_agent else None,
    )
    session.add(row)
    session.flush()
    return IssuedSession(token, row.csrf_token, row.id, associate_id, row.expires_at)


def find_session(session: Session, token: str | None, settings: Settings | None = None) -> SignedIn | None:
    """The live session for a cookie value: not revoked, not expired, not idle too long, associate active."""
    if not token or len(token) > 200:
        return None
    settings = settings or get_settings()
    now = clock.now()
    row = session.execute(
        select(
            WebSession.id,
            WebSession.associate_id,
            WebSession.csrf_token,
            WebSession.expires_at,
            WebSession.last_seen_at,
            WebSession.revoked_at,
            Associate.display_name,
            Associate.email,
            Associate.role,
            Associate.regions,
            Associate.active,
            Associate.home_location_id,
        )
        .join(Associate, Associate.id == WebSession.associate_id)
        .where(WebSession.token_hash == digest(token))
    ).first()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= timedelta(minutes=settings.session_idle_minutes):
        return None
    stores = work_stores(session, row.associate_id, row.home_location_id)
    return SignedIn(
        session_id=row.id,
        associate_id=row.associate_id,
        csrf_token=row.csrf_token,
        display_name=row.display_name,
        email=row.email,
        role=row.role,
        store_ids=stores,
        regions=tuple(row.regions or ()),
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
    )


def touch_session(session: Session, session_id: int) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=clock.now()))


def sign_out(session: Session, token: str | None) -> bool:
    """Revoke the session behind this cookie value; True if there was a live one."""
    if not token:
        return False
    result = session.execute(
        update(WebSession)
        .where(WebSession.token_hash == digest(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_sessions(session: Session, associate_id: int) -> int:
    """Sign an associate out everywhere (disabled, or a new password); returns how many sessions ended."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.associate_id == associate_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)
