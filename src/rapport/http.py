"""What every route shares: database sessions, and who is calling.

A caller is either an integration (``Authorization: Bearer rpt_...``) or a signed-in associate
(the session cookie set at ``/login``). Three dependencies:

* :func:`api_caller` — integration-only routes (ingestion, merges): bearer token only.
* :func:`session_or_token_caller` — JSON routes the screens use as well (API parity): either,
  and the route applies the same permission rules to both through ``caller.actor``.
* :func:`page_caller` — HTML pages: the session, or a redirect to the sign-in page.

A cookie is sent by the browser on its own, so a state-changing request authenticated by the
cookie must also carry the session's CSRF token (``X-CSRF-Token`` header, or the ``csrf_token``
form field for pages); a bearer token cannot be sent by another site and needs none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import auth, tokens
from rapport.associates.audit import ACTOR_KINDS, AuditActor
from rapport.associates.permissions import ROLE_LABELS, Actor
from rapport.db import Database, get_database
from rapport.errors import PermissionDenied

bearer = HTTPBearer(
    auto_error=False,
    description="An integration token from `rapport tokens create NAME`. (The app's own calls use the session "
    "cookie from /login plus an X-CSRF-Token header on writes.)",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_REFUSED = "missing or wrong CSRF token: reload the page and try again"


def database() -> Database:
    return get_database()


def read_session(db: Database = Depends(database)) -> Iterator[Session]:
    with db.read() as session:
        yield session


@dataclass(frozen=True)
class Caller:
    """Who is calling: an integration token, or a signed-in associate with their role and stores."""

    kind: str  # "token" | "associate"
    id: int
    name: str
    scopes: tuple[str, ...]
    role: str | None = None
    store_ids: frozenset[int] = field(default_factory=frozenset)
    regions: tuple[str, ...] = ()
    email: str | None = None
    session_id: int | None = None
    csrf_token: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def associate_id(self) -> int | None:
        return self.id if self.kind == "associate" else None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role or "", self.role or "integration")

    @property
    def actor(self) -> Actor:
        """The caller as the permission rules see them."""
        if self.kind == "associate":
            return Actor.associate(self.id, self.role or "", self.store_ids, self.regions)
        return Actor.token(self.id, self.scopes)


class SignInRequired(Exception):
    """A page was asked for without a live session; the app answers with the sign-in page."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__("sign in required")
        self.next_path = next_path


def require_scope(caller: Caller, *any_of: str) -> None:
    """An integration token needs one of these scopes; a signed-in associate is judged by the
    permission rules instead (the route applies them)."""
    if caller.kind != "associate" and not set(any_of) & set(caller.scopes):
        raise PermissionDenied(f"{caller.label} lacks the {' or '.join(repr(s) for s in any_of)} scope")


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def audit_actor(caller: Caller, request: Request) -> AuditActor:
    """Who acts and from where, as the audit log records it (an associate's session or a token)."""
    kind = caller.kind if caller.kind in ACTOR_KINDS else "token"
    return AuditActor(kind, caller.id, caller.label, client_ip(request), request.headers.get("user-agent"))


def session_caller(request: Request, db: Database) -> Caller | None:
    """The associate behind the session cookie, or None (no cookie, expired, idle, revoked, disabled)."""
    token = request.cookies.get(auth.SESSION_COOKIE)
    if not token:
        return None
    with db.read() as session:
        signed_in = auth.find_session(session, token)
    if signed_in is None:
        return None
    if signed_in.needs_touch(clock.now()):
        with db.write() as session:
            auth.touch_session(session, signed_in.session_id)
    caller = Caller(
        "associate",
        signed_in.associate_id,
        signed_in.display_name,
        (),
        role=signed_in.role,
        store_ids=signed_in.store_ids,
        regions=signed_in.regions,
        email=signed_in.email,
        session_id=signed_in.session_id,
        csrf_token=signed_in.csrf_token,
    )
    request.state.caller = caller
    return caller


def _token_caller(request: Request, secret: str, db: Database) -> Caller:
    # Read first: most calls need no write at all (``last_used_at`` moves at most once a minute).
    with db.read() as session:
        token = tokens.authenticate(session, secret)
        if token is None:
            raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        caller = Caller("token", token.id, token.name, tuple(token.scopes or ()))
    if token.last_used_at is None or clock.now() - token.last_used_at >= tokens.TOUCH_EVERY:
        with db.write() as session:
            tokens.touch(session, token.id)
    request.state.caller = caller
    return caller


def api_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    db: Database = Depends(database),
) -> Caller:
    """Integration-only routes (ingestion, merges): a bearer token, never a browser session.

    A signed-in associate must not reach these: ingestion can rewrite any record, an associate's
    own role included.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return _token_caller(request, credentials.credentials, db)


def session_or_token_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    db: Database = Depends(database),
) -> Caller:
    """Routes the app's screens call too: a bearer token, or else the session cookie.

    With the cookie, a state-changing request must carry the session's ``X-CSRF-Token``. A route
    that takes this dependency must check the caller's permissions itself (``caller.actor`` with
    :mod:`rapport.associates.permissions`): an associate is not an integration.
    """
    if request.headers.get("authorization"):
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        return _token_caller(request, credentials.credentials, db)
    caller = session_caller(request, db)
    if caller is None:
        raise HTTPException(401, "sign in, or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not auth.csrf_matches(
        caller.csrf_token, request.headers.get(auth.CSRF_HEADER)
    ):
        raise HTTPException(403, CSRF_REFUSED)
    return caller


def page_caller(request: Request, db: Database = Depends(database)) -> Caller:
    """HTML pages: the signed-in associate, or :class:`SignInRequired` (a redirect to /login)."""
    caller = session_caller(request, db)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return caller


async def csrf_checked(request: Request, caller: Caller = Depends(page_caller)) -> Caller:
    """Pages' state-changing requests: the session's CSRF token in the header (HTMX) or the form."""
    given = request.headers.get(auth.CSRF_HEADER)
    if given is None and request.method not in SAFE_METHODS:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # Starlette keeps the parsed form: the route reads it again
            value = form.get(auth.CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not auth.csrf_matches(caller.csrf_token, given):
        raise PermissionDenied(CSRF_REFUSED)
    return caller


def wake_jobs(request: Request) -> None:
    """Something was just queued: tell this process's job runner (the app's background thread) to look
    now rather than at its next poll. No runner here (``rapport worker`` processes do it): nothing to do."""
    runner = getattr(request.app.state, "job_runner", None)
    if runner is not None:
        runner.wake()
