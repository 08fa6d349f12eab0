"""Signed links a client holds to manage an appointment without signing in: reschedule, cancel.

``<appointment>.<version>.<expiry>.<signature>``: HMAC-SHA256 with the app's secret key over the
rest. The version is bumped when the appointment moves or is cancelled, so an older email's link
stops working; the expiry is the appointment's start (nothing to change once it has begun).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from rapport import clock
from rapport.errors import RapportError
from rapport.settings import get_settings


class InvalidLink(RapportError):
    """A manage link that was tampered with, is malformed, belongs to an older version, or expired."""

    status_code = 403
    code = "invalid_link"


@dataclass(frozen=True)
class ManageLink:
    appointment_id: int
    version: int
    expires_at: datetime


def _sign(text: str) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    digest = hmac.new(key, f"appointment:{text}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def manage_token(appointment_id: int, version: int, expires_at: datetime) -> str:
    body = f"{appointment_id}.{version}.{int(expires_at.timestamp())}"
    return f"{body}.{_sign(body)}"


def read_manage_token(token: str, *, now: datetime | None = None) -> ManageLink:
    """The appointment a genuine, unexpired token names; :class:`InvalidLink` otherwise."""
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        raise InvalidLink("this link is not valid: it may have been copied incompletely")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3].encode("utf-8", "replace"), _sign(body).encode()):
        raise InvalidLink("this link is not valid")
    expires = datetime.fromtimestamp(int(parts[2]), tz=UTC)
    if (now or clock.now()) >= expires:
        raise InvalidLink("this link has expired: the appointment has already started or passed")
    return ManageLink(int(parts[0]), int(parts[1]), expires)
