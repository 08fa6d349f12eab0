"""Who the actors of audit events are, by name: associates and integration tokens, in one query.

An event keeps the label its actor had when it happened (``associate:Ana Duval``); a screen
listing events shows the actor's name as it is now. One ``UNION ALL`` over the associates and the
tokens a page mentions answers for all of them, so a page of fifty events costs one query, not fifty.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from rapport.associates.models import ApiToken, Associate
from rapport.db import table_of

ASSOCIATE = table_of(Associate)
API_TOKEN = table_of(ApiToken)

#: ``(actor kind, actor id)``, as audit events carry them.
ActorRef = tuple[str, int]


def actor_names(session: Session, refs: Iterable[ActorRef]) -> dict[ActorRef, str]:
    """``{(kind, id): name}`` for the associates and tokens that exist; others are left out."""
    wanted = set(refs)
    people = sorted(i for kind, i in wanted if kind == "associate")
    tokens = sorted(i for kind, i in wanted if kind == "token")
    parts = []
    if people:
        a = ASSOCIATE.c
        parts.append(
            select(literal("associate").label("kind"), a.id, a.display_name.label("name")).where(a.id.in_(people))
        )
    if tokens:
        t = API_TOKEN.c
        parts.append(select(literal("token").label("kind"), t.id, t.name.label("name")).where(t.id.in_(tokens)))
    if not parts:
        return {}
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    return {(kind, actor_id): name for kind, actor_id, name in session.execute(stmt)}
