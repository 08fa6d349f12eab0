"""The unsubscribe link in every client email: public, no sign-in, the signed token is the authority.

GET shows what will happen and a button; POST records the opt-out at once (a client's own "no",
on the timeline) and confirms it. Mail clients' one-click unsubscribe (RFC 8058:
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) posts to the same URL. A tampered or
unknown token changes nothing and says the link is not valid.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from rapport.customers.edits import record_client_consent
from rapport.db import Database
from rapport.errors import NotFound
from rapport.http import database
from rapport.outreach.courtesy import CHANNEL_WORDS
from rapport.outreach.signing import read_unsubscribe_token
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)


def _read(token: str) -> tuple[int, str] | None:
    found = read_unsubscribe_token(token)
    if found is None or found[1] not in CHANNEL_WORDS:
        return None
    return found


@router.get("/u/{token}", name="unsubscribe")
def unsubscribe_page(request: Request, token: str) -> Response:
    found = _read(token)
    if found is None:
        return render(request, "conversations/unsubscribe.html", {"valid": False}, status_code=404,
                      headers={"X-Robots-Tag": "noindex"})  # fmt: skip
    return render(request, "conversations/unsubscribe.html", {"valid": True, "done": False, "token": token,
                  "channel": CHANNEL_WORDS[found[1]]}, headers={"X-Robots-Tag": "noindex"})  # fmt: skip


@router.post("/u/{token}", name="unsubscribe_confirm")
def unsubscribe(request: Request, token: str, db: Database = Depends(database)) -> Response:
    found = _read(token)
    if found is None:
        return render(request, "conversations/unsubscribe.html", {"valid": False}, status_code=404)
    customer_id, channel = found
    try:
        with db.write() as session:
            record_client_consent(
                session, customer_id, channel, False, source=f"{channel}:unsubscribe-link",
                said="Unsubscribed with the link in an email",
            )  # fmt: skip
    except NotFound:
        return render(request, "conversations/unsubscribe.html", {"valid": False}, status_code=404)
    return render(request, "conversations/unsubscribe.html", {"valid": True, "done": True,
                  "channel": CHANNEL_WORDS[channel]}, headers={"X-Robots-Tag": "noindex"})  # fmt: skip
