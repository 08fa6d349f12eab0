"""Keyset-pagination cursors: an opaque token for the (time, id) of the last row already shown."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from rapport import clock
from rapport.errors import InvalidRecord


def encode_cursor(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str, what: str) -> tuple[datetime, int]:
    """``(at, id)``; a garbled cursor is an InvalidRecord naming ``field`` ("not a ``what`` cursor")."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, row_id = raw.partition("|")
        at = datetime.fromisoformat(when)
        if at.tzinfo is None:
            raise ValueError("naive")
        return clock.ensure_aware(at), int(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        message = f"not a {what} cursor (use next_cursor from the previous page)"
        raise InvalidRecord.one(field, message) from None
