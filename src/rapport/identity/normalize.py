"""Normal forms for the things people are matched on: emails, phone numbers, names."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_SPACES = re.compile(r"\s+")
_NOT_NAME = re.compile(r"[^\w\s'-]")


class IdentifierError(ValueError):
    pass


# Plain ASCII addresses (the vast majority) that email-validator would accept unchanged:
# dot-separated atoms, a dotted domain of LDH labels, an alphabetic TLD that is not special-use.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


@lru_cache(maxsize=65536)
def normalize_email(raw: str) -> str:
    """Syntax-checked, lower-cased address. No DNS look-up: ingestion must not touch the network.

    Plain ASCII addresses take a fast path (email-validator costs ~0.2 ms each, which matters at
    thousands of records a second); anything else goes through email-validator itself.
    """
    candidate = raw.strip().lower()
    if (
        len(candidate) <= 254
        and _PLAIN_EMAIL.fullmatch(candidate)
        and len(candidate.partition("@")[0]) <= 64
        and candidate.rsplit(".", 1)[-1] not in _SPECIAL_USE_TLDS
    ):
        return candidate
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise IdentifierError(f"invalid email {raw!r}: {exc}") from None
    return result.normalized.lower()


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, default_region: str | None = "US") -> str:
    """E.164 (``+33612345678``). Numbers without a country code are read in ``default_region``.

    Cached: phonenumbers' validation costs ~0.1 ms, and the same number comes back from every
    system a client is known to."""
    try:
        number = phonenumbers.parse(raw, (default_region or "US").upper())
    except phonenumbers.NumberParseException as exc:
        raise IdentifierError(f"invalid phone {raw!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise IdentifierError(f"invalid phone {raw!r}: not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_key(e164: str) -> str:
    """Reversed digits, so a suffix typed at the counter (…555 1234) becomes an indexable prefix."""
    return "".join(ch for ch in e164 if ch.isdigit())[::-1]


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@lru_cache(maxsize=65536)
def name_key(name: str | None) -> str | None:
    """``"  Zoë  O'Neil-Smith "`` -> ``"zoe o'neil-smith"``: accents off, case folded, spaces collapsed."""
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = _NOT_NAME.sub(" ", stripped.casefold())
    key = _SPACES.sub(" ", cleaned).strip()
    return key or None
