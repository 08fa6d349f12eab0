"""Signed tokens in links and addresses the client holds: unsubscribe links and reply addresses.

HMAC-SHA256 with the app's secret key (``RAPPORT_SECRET_KEY``), truncated: short enough for an
email address's local part, long enough that guessing one is hopeless. No expiry: an unsubscribe
link in a year-old email must still work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from rapport.settings import get_settings

_REPLY = re.compile(r"^reply\+c(?P<cid>\d+)\.(?P<sig>[a-z0-9]{16})@", re.IGNORECASE)


def _sign(text: str, length: int = 16) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=")[:length]


def unsubscribe_token(customer_id: int, channel: str) -> str:
    """``<client>.<channel>.<signature>``: who opts out of what."""
    body = f"{customer_id}.{channel}"
    return f"{body}.{_sign('unsubscribe:' + body, 24)}"


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(client id, channel) from a genuine token; None for anything tampered with or malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _sign("unsubscribe:" + body, 24)):
        return None
    return int(parts[0]), parts[1]


def reply_address(customer_id: int, domain: str) -> str:
    """Where a client's email replies go: one address per client, so every reply finds the thread."""
    return f"reply+c{customer_id}.{_sign(f'reply:{customer_id}')}@{domain}"


def client_of_reply_address(address: str) -> int | None:
    """The client a reply address belongs to, if it is one of ours and untampered."""
    found = _REPLY.match(address.strip())
    if not found:
        return None
    cid = int(found.group("cid"))
    if not hmac.compare_digest(found.group("sig").lower(), _sign(f"reply:{cid}")):
        return None
    return cid
