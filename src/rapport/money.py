"""Money as integer minor units with an ISO 4217 currency; parsed from decimal text, formatted with Babel."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

_CURRENCIES = frozenset(list_currencies())


class MoneyError(ValueError):
    pass


@lru_cache(maxsize=512)
def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code not in _CURRENCIES:
        raise MoneyError(f"unknown currency {code!r} (expected an ISO 4217 code such as EUR or USD)")
    return code


@lru_cache(maxsize=512)
def precision(currency: str) -> int:
    return int(get_currency_precision(check_currency(currency)))


def to_minor(amount: Decimal | str | int | float, currency: str) -> int:
    """``"129.90"`` EUR -> ``12990``. Refuses more decimals than the currency has."""
    try:
        value = Decimal(str(amount)).normalize() if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not an amount: {amount!r}")
    digits = precision(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than {digits} decimals for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-precision(currency))


@lru_cache(maxsize=32768)
def format_money(minor: int, currency: str, locale: str = "en_US") -> str:
    return str(format_currency(from_minor(minor, currency), currency, locale=locale))
