"""Integration API tokens: random, shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import ApiToken
from rapport.errors import NotFound

PREFIX = "rpt_"


@dataclass
class IssuedToken:
    id: int
    name: str
    token: str  # the only time the secret exists outside the client


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, scopes: list[str] | None = None) -> IssuedToken:
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name[:100],
        prefix=secret[:12],
        token_hash=_digest(secret),
        scopes=scopes or ["ingest", "read"],
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return IssuedToken(row.id, row.name, secret)


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token for this secret, or None (unknown or revoked)."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


#: ``last_used_at`` is refreshed at most this often: a committed write (and a WAL flush) on every
#: API call would cost more than the read it authorises.
TOUCH_EVERY = timedelta(minutes=1)


def touch(session: Session, token_id: int) -> None:
    """Record use of a token, at most once per ``TOUCH_EVERY`` (the UPDATE matches no row otherwise)."""
    now = clock.now()
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOUCH_EVERY))
        .values(last_used_at=now)
    )


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
