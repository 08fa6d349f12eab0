"""What every JSON route shares: database sessions and integration-token authentication."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from rapport.associates import tokens
from rapport.db import Database, get_database

bearer = HTTPBearer(auto_error=False, description="An integration token from `rapport tokens create NAME`.")


def database() -> Database:
    return get_database()


def read_session(db: Database = Depends(database)) -> Iterator[Session]:
    with db.read() as session:
        yield session


@dataclass(frozen=True)
class Caller:
    """Who is calling: an integration token (associates' sessions arrive with the associate app)."""

    kind: str
    id: int
    name: str
    scopes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


def api_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    db: Database = Depends(database),
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    with db.write() as session:
        token = tokens.authenticate(session, credentials.credentials)
        if token is None:
            raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        tokens.touch(session, token.id)
        caller = Caller("token", token.id, token.name, tuple(token.scopes or ()))
    request.state.caller = caller
    return caller
